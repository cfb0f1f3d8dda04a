#!/usr/bin/env bash
# fanjian against OpenCC 1.4.2 on one file, measured in the same run, single thread.
# usage: bash benches/compare.sh [FILE] [--update-readme]
# Needs the oracle virtual environment that .ci/run creates (target/oracle-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
file=tests/data/zuozhuan.txt
update=no
for arg in "$@"; do
  case "$arg" in
    --update-readme) update=yes ;;
    *) file=$arg ;;
  esac
done
python=${FANJIAN_ORACLE_PYTHON:-target/oracle-venv/bin/python}
[ -x "$python" ] || { echo "compare.sh: run bash .ci/run once to install the OpenCC oracle" >&2; exit 2; }

fj=$(cargo bench --quiet --bench throughput -- "$file")
oc=$("$python" benches/opencc_speed.py "$file")

table=$(
  echo "| config | fanjian MB/s | OpenCC 1.4.2 MB/s | ratio | fanjian load (µs) | OpenCC load (ms) |"
  echo "|---|---:|---:|---:|---:|---:|"
  awk -v fj="$fj" -v oc="$oc" 'BEGIN {
    n = split(fj, lines, "\n"); section = 0
    for (i = 1; i <= n; i++) {
      split(lines[i], f, " ")
      if (f[1] == "config") { section++; continue }
      if (section == 1 && f[2] != "") { speed[f[1]] = f[2]; order[++k] = f[1] }
      if (section == 2 && f[2] != "") load[f[1]] = f[2]
    }
    n = split(oc, lines, "\n")
    for (i = 2; i <= n; i++) { split(lines[i], f, " "); ospeed[f[1]] = f[2]; oload[f[1]] = f[3] }
    for (j = 1; j <= k; j++) {
      c = order[j]
      printf "| %s | %s | %s | %.1f× | %s | %s |\n", c, speed[c], ospeed[c], speed[c] / ospeed[c], load[c], oload[c]
    }
  }'
)
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "$(basename "$file"), $(date -u +%Y-%m-%d), $machine"
echo
echo "$table"

if [ "$update" = yes ]; then
  python3 - "$machine" "$(basename "$file")" "$table" <<'PY'
import sys, re, datetime
machine, name, table = sys.argv[1:]
readme = open("README.md", encoding="utf-8").read()
block = (f"<!-- perf-table -->\n{name}, measured {datetime.date.today()} on {machine}:\n\n{table}\n"
         "<!-- /perf-table -->")
readme = re.sub(r"<!-- perf-table -->.*?(<!-- /perf-table -->|$)", block, readme, count=1, flags=re.S)
open("README.md", "w", encoding="utf-8").write(readme)
PY
  echo "README.md updated"
fi
