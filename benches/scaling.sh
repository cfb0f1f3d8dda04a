#!/usr/bin/env bash
# Thread scaling of batch conversion, next to OpenCC 1.4.2's command line over the same files.
#
# usage: bash benches/scaling.sh [CONFIG]      (default s2t)
# env:   FILES (default 2000), BIG_MB (default 200), THREADS (default: nproc), OPENCC=0 to leave
#        out OpenCC's command line (about five minutes here)
#
# Builds a tree under target/scaling/: FILES files of log-uniform sizes from 1 KB to 5 MB and one
# BIG_MB file, cut from OpenCC's benchmark text (tests/data/zuozhuan.txt); then converts it with
# fanjian --output-dir at -j1 and -jTHREADS (medians of three rounds, with the inputs in the file
# cache), and with a loop of OpenCC's native `opencc` command (from the oracle virtual environment
# .ci/run creates); the big file also to standard output (/dev/null). Every output is a new file
# (a file that replaces another is flushed to the disk first, which no number of threads makes
# faster; a new one is left to the system to write back).
# For the machine's own limit, THREADS single-threaded runs on the big file at once.
# Prints MB/s, the speedup and the speedup per core, and the big file's threaded speedup as a
# share of the machine's limit in the same run (this machine's speed drifts within minutes);
# checks that fanjian's outputs at both thread counts are identical.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-s2t}
files=${FILES:-2000}
big_mb=${BIG_MB:-200}
threads=${THREADS:-$(nproc)}
dir=target/scaling
cargo build --quiet --release
fj=target/release/fanjian

python3 - "$dir/in" "$files" "$big_mb" <<'PY'
import math, os, random, sys
out, files, big_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
marker = os.path.join(out, f".made-v2-{files}-{big_mb}")
if os.path.exists(marker):
    sys.exit(0)
text = open("tests/data/zuozhuan.txt", encoding="utf-8").read().encode()
rng = random.Random(7)
os.makedirs(out, exist_ok=True)
def piece(size):
    # Whole lines from a random place, repeated as needed.
    start = text.find(b"\n", rng.randrange(len(text))) + 1
    data = (text[start:] + text[:start]) * (size // len(text) + 1)
    end = data.rfind(b"\n", 0, size) + 1
    if end == 0:
        # No whole line fits: cut between two characters.
        end = size
        while data[end] & 0xC0 == 0x80:
            end -= 1
    return data[:end]
for i in range(files):
    size = int(math.exp(rng.uniform(math.log(1_000), math.log(5_000_000))))
    sub = os.path.join(out, f"d{i % 40:02d}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"f{i:04d}.txt"), "wb") as f:
        f.write(piece(size))
with open(os.path.join(out, "big.txt"), "wb") as f:
    f.write(piece(big_mb * 1_000_000))
open(marker, "w").close()
PY
bytes=$(find "$dir/in" -type f -name '*.txt' -printf '%s\n' | awk '{s += $1} END {print s}')
mb=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e6}')

run() { # seconds for one command, which must succeed
  local start end
  # Nothing left for the disk to write back from the run before (a new output file is not
  # flushed: the system writes it back after the command is done, while the next one runs).
  sync
  start=$(date +%s.%N)
  "$@" >/dev/null 2>"$dir/run.err" || { echo "failed: $*" >&2; head -5 "$dir/run.err" >&2; return 1; }
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", e - s}'
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
# The inputs in the file cache first, then three rounds of the four runs, one after the other
# (this machine's speed drifts): the medians.
find "$dir/in" -type f -name '*.txt' -exec cat {} + >/dev/null
t1s=() tns=() big1s=() bigns=() out1s=() outns=() alls=()
# The machine's own limit: THREADS single-threaded conversions of the big file at once, each
# with a core to itself if the cores share nothing.
concurrent() { local k; for ((k = 0; k < threads; k++)); do "$fj" -q -j1 -c "$config" "$dir/in/big.txt" >/dev/null & done; wait; }
for round in 1 2 3; do
  rm -rf "$dir/out1" "$dir/outN" "$dir/big1.txt" "$dir/bigN.txt"
  t=$(run "$fj" -q -j1 -c "$config" --output-dir "$dir/out1" "$dir/in") || exit 1
  t1s+=("$t")
  t=$(run "$fj" -q -j"$threads" -c "$config" --output-dir "$dir/outN" "$dir/in") || exit 1
  tns+=("$t")
  diff -r -q "$dir/out1" "$dir/outN" >/dev/null || { echo "outputs at -j1 and -j$threads differ" >&2; exit 1; }
  t=$(run "$fj" -q -j1 -c "$config" -i "$dir/in/big.txt" -o "$dir/big1.txt") || exit 1
  big1s+=("$t")
  t=$(run "$fj" -q -j"$threads" -c "$config" -i "$dir/in/big.txt" -o "$dir/bigN.txt") || exit 1
  bigns+=("$t")
  cmp -s "$dir/big1.txt" "$dir/bigN.txt" || { echo "the big file differs at -j$threads" >&2; exit 1; }
  t=$(run "$fj" -q -j1 -c "$config" "$dir/in/big.txt") || exit 1
  out1s+=("$t")
  t=$(run "$fj" -q -j"$threads" -c "$config" "$dir/in/big.txt") || exit 1
  outns+=("$t")
  t=$(run concurrent) || exit 1
  alls+=("$t")
done
t1=$(median "${t1s[@]}") tn=$(median "${tns[@]}")
big1=$(median "${big1s[@]}") bign=$(median "${bigns[@]}")
out1=$(median "${out1s[@]}") outn=$(median "${outns[@]}") all=$(median "${alls[@]}")

opencc=$(ls target/oracle-venv/lib/python3*/site-packages/opencc/clib/bin/opencc 2>/dev/null | head -1 || true)
if [ -n "$opencc" ] && [ "${OPENCC:-1}" != 0 ]; then
  share=$(dirname "$opencc")/../share/opencc
  cfg=$config.json; [ -f "$share/$cfg" ] && cfg=$share/$cfg
  loop() { find "$dir/in" -type f -name '*.txt' | while read -r f; do "$opencc" -c "$cfg" -i "$f" -o /dev/null; done; }
  toc=$(run loop)
else
  toc=""
fi

echo "$config on $(nproc) cores: $(find "$dir/in" -type f -name '*.txt' | wc -l) files, $mb MB (one of ${big_mb} MB)"
awk -v mb="$mb" -v t1="$t1" -v tn="$tn" -v n="$threads" -v b1="$big1" -v bn="$bign" -v o1="$out1" -v on="$outn" \
  -v all="$all" -v big="$big_mb" -v toc="$toc" 'BEGIN {
  printf "| run | seconds | MB/s | speedup | per core |\n|---|---:|---:|---:|---:|\n"
  printf "| fanjian -j1, tree | %.2f | %.1f | 1.00 | |\n", t1, mb / t1
  printf "| fanjian -j%d, tree | %.2f | %.1f | %.2f | %.2f |\n", n, tn, mb / tn, t1 / tn, t1 / tn / n
  printf "| fanjian -j1, the %d MB file | %.2f | %.1f | 1.00 | |\n", big, b1, big / b1
  printf "| fanjian -j%d, the %d MB file | %.2f | %.1f | %.2f | %.2f |\n", n, big, bn, big / bn, b1 / bn, b1 / bn / n
  printf "| fanjian -j1, the %d MB file to standard output | %.2f | %.1f | 1.00 | |\n", big, o1, big / o1
  printf "| fanjian -j%d, the %d MB file to standard output | %.2f | %.1f | %.2f | %.2f |\n", n, big, on, big / on, o1 / on, o1 / on / n
  printf "| %d runs of fanjian -j1 at once, the %d MB file each (the machine'"'"'s limit) | %.2f | %.1f | %.2f | %.2f |\n", n, big, all, n * big / all, n * o1 / all, o1 / all
  if (toc != "") printf "| opencc 1.4.2 CLI, one call per file | %.2f | %.1f | | |\n", toc, mb / toc
  printf "\nThe %d MB file to standard output at -j%d: %.2f of the machine'"'"'s limit measured in the same run.\n", big, n, (o1 / on) / (n * o1 / all)
}'
