#!/usr/bin/env bash
# fanjian against OpenCC 1.4.2 and the Rust converters zhconv, ferrous-opencc and opencc-fmmseg,
# single thread, on the same corpora, in one run; prints a table (MB/s, fanjian/peer ratio, and
# how many lines each peer gets different from OpenCC).
#
# usage: bash benches/compare.sh [--update-readme]
# env:   RUNS (default 3): the whole measurement is repeated, and each figure is the median of
#        its runs. This machine's speed drifts by a third within a minute, so every converter,
#        OpenCC too (its Python package, in a process of its own that converts on request and
#        reports its own time: benches/opencc_speed.py --serve), is timed in the same rounds,
#        one after the other: the ratios are taken side by side.
#
# Needs the oracle virtual environment that .ci/run creates (target/oracle-venv). Corpora:
# benches/corpora.sh (s2* configs run on Simplified text, the others on Traditional text).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${FANJIAN_ORACLE_PYTHON:-target/oracle-venv/bin/python}
[ -x "$python" ] || { echo "compare.sh: run bash .ci/run once to install the OpenCC oracle" >&2; exit 2; }
bash benches/corpora.sh >/dev/null
simplified=target/corpora/simplified.txt
traditional=target/corpora/traditional.txt

(cd benches/peers && cargo build --quiet --release)
runs=${RUNS:-3}
peers=""
for ((run = 1; run <= runs; run++)); do
  peers+=$(OPENCC_PYTHON=$python benches/peers/target/release/fanjian-peers "$simplified" "$traditional")$'\n'
done
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

python3 - "$machine" "${1:-}" "$runs" <<PY
import datetime, re, statistics, sys
machine, update, runs = sys.argv[1], sys.argv[2] == "--update-readme", int(sys.argv[3])
median = statistics.median
# Per config and corpus, in the order of the first run: each run's fields.
peers = {}
for line in """$peers""".strip().splitlines():
    f = line.split()
    peers.setdefault((f[0], f[1]), []).append(f)
rows = ["| config | text | fanjian MB/s | OpenCC 1.4.2 | zhconv | ferrous-opencc | opencc-fmmseg |",
        "|---|---|---:|---:|---:|---:|---:|"]
for (config, corpus), fields in peers.items():
    fj = median(float(f[2]) for f in fields)
    cells = []
    oc = median(float(f[3]) for f in fields)
    cells.append(f"{oc:.1f} ({fj / oc:.1f}×)")
    for i in (4, 6, 8):
        if fields[0][i] == "-":
            cells.append("n/a")
        else:
            mbps, diff = median(float(f[i]) for f in fields), float(fields[0][i + 1])
            cells.append(f"{mbps:.1f} ({fj / mbps:.2f}×, {diff:.1f}% lines differ)")
    rows.append(f"| {config} | {corpus} | {fj:.1f} | " + " | ".join(cells) + " |")
table = "\n".join(rows)
of_runs = f"medians of {runs} runs" if runs > 1 else "one run"
head = (f"Measured {datetime.date.today()} on {machine}, single thread, in memory ({of_runs}, "
        "each the medians of seven rounds, each round timing every converter once, one after "
        "the other: fanjian, the Rust peers, then OpenCC through its Python package); in "
        "parentheses fanjian's speed as a multiple of the peer's, and the share of lines where "
        "the peer's output differs from OpenCC 1.4.2 (fanjian's differs in none).")
print(head + "\n\n" + table)
if update:
    readme = open("README.md", encoding="utf-8").read()
    block = f"<!-- perf-table -->\n{head}\n\n{table}\n<!-- /perf-table -->"
    readme = re.sub(r"<!-- perf-table -->.*?<!-- /perf-table -->", lambda m: block, readme, count=1, flags=re.S)
    open("README.md", "w", encoding="utf-8").write(readme)
    print("README.md updated")
PY
