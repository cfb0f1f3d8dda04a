#!/usr/bin/env bash
# Thread scaling of batch conversion, next to OpenCC 1.4.2's command line over the same files.
#
# usage: bash benches/scaling.sh [CONFIG]      (default s2t)
# env:   FILES (default 2000), BIG_MB (default 200), THREADS (default: nproc; a list such as
#        "2 4 8 16" gives a row for each count), OPENCC=0 to leave out OpenCC's command line (about
#        five minutes here), FANJIAN=path to time a binary already built (no cargo there)
#
# Builds a tree under target/scaling/: FILES files of log-uniform sizes from 1 KB to 5 MB and one
# BIG_MB file, cut from OpenCC's benchmark text (tests/data/zuozhuan.txt); then converts it with
# fanjian --output-dir at -j1 and -jTHREADS (medians of three rounds, with the inputs in the file
# cache; the outputs compared in the first), and with a loop of OpenCC's native `opencc` command (from the oracle virtual environment
# .ci/run creates); the big file also to standard output (/dev/null). Every output is a new file
# (a file that replaces another is flushed to the disk first, which no number of threads makes
# faster; a new one is left to the system to write back).
# For the machine's own limit at N threads, N single-threaded runs on the big file at once.
# Prints MB/s, the speedup and the speedup per core, and the big file's threaded speedup as a
# share of the machine's limit in the same run (this machine's speed drifts within minutes);
# checks that fanjian's outputs at every thread count are identical.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-s2t}
files=${FILES:-2000}
big_mb=${BIG_MB:-200}
read -r -a counts <<<"${THREADS:-$(nproc)}"
dir=target/scaling
if [ -n "${FANJIAN:-}" ]; then
  fj=$FANJIAN
else
  cargo build --quiet --release
  fj=target/release/fanjian
fi

python3 - "$dir/in" "$files" "$big_mb" <<'PY'
import math, os, random, shutil, sys
out, files, big_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
marker = os.path.join(out, f".made-v2-{files}-{big_mb}")
if os.path.exists(marker):
    sys.exit(0)
# Made for other sizes, or not to the end: made again.
shutil.rmtree(out, ignore_errors=True)
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
  awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", e - s}'
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
# The inputs in the file cache first, then three rounds of all runs, one after the other (this
# machine's speed drifts): the medians. Times are kept in files named after the run.
find "$dir/in" -type f -name '*.txt' -exec cat {} + >/dev/null
rm -rf "$dir/times"
mkdir -p "$dir/times"
# Runs the command after the name and adds its seconds to the name's list.
timed() { local name=$1 t; shift; t=$(run "$@") || exit 1; echo "$t" >>"$dir/times/$name"; }
# The machine's own limit: N single-threaded conversions of the big file at once, each with a
# core to itself if the cores share nothing.
concurrent() { local k; for ((k = 0; k < $1; k++)); do "$fj" -q -j1 -c "$config" "$dir/in/big.txt" >/dev/null & done; wait; }
for round in 1 2 3; do
  rm -rf "$dir/out1" "$dir/big1.txt"
  timed tree1 "$fj" -q -j1 -c "$config" --output-dir "$dir/out1" "$dir/in"
  timed big1 "$fj" -q -j1 -c "$config" -i "$dir/in/big.txt" -o "$dir/big1.txt"
  timed out1 "$fj" -q -j1 -c "$config" "$dir/in/big.txt"
  for n in "${counts[@]}"; do
    rm -rf "$dir/outN" "$dir/bigN.txt"
    timed "tree$n" "$fj" -q -j"$n" -c "$config" --output-dir "$dir/outN" "$dir/in"
    if [ "$round" = 1 ]; then
      diff -r -q "$dir/out1" "$dir/outN" >/dev/null || { echo "outputs at -j1 and -j$n differ" >&2; exit 1; }
    fi
    timed "big$n" "$fj" -q -j"$n" -c "$config" -i "$dir/in/big.txt" -o "$dir/bigN.txt"
    cmp -s "$dir/big1.txt" "$dir/bigN.txt" || { echo "the big file differs at -j$n" >&2; exit 1; }
    timed "out$n" "$fj" -q -j"$n" -c "$config" "$dir/in/big.txt"
    timed "all$n" concurrent "$n"
  done
done
rm -rf "$dir/out1" "$dir/outN" "$dir/big1.txt" "$dir/bigN.txt"
# The median of a run's times.
m() { local -a ts; mapfile -t ts <"$dir/times/$1"; median "${ts[@]}"; }

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
printf '| run | seconds | MB/s | speedup | per core |\n|---|---:|---:|---:|---:|\n'
row() { # label, seconds, MB, seconds at -j1 (empty: none), threads
  awk -v l="$1" -v t="$2" -v mb="$3" -v t1="$4" -v n="$5" 'BEGIN {
    if (t1 == "") printf "| %s | %.3f | %.1f | | |\n", l, t, mb / t
    else printf "| %s | %.3f | %.1f | %.2f | %.2f |\n", l, t, mb / t, t1 / t, t1 / t / n }'
}
for n in 1 "${counts[@]}"; do row "fanjian -j$n, tree" "$(m "tree$n")" "$mb" "$(m tree1)" "$n"; done
for n in 1 "${counts[@]}"; do row "fanjian -j$n, the $big_mb MB file" "$(m "big$n")" "$big_mb" "$(m big1)" "$n"; done
for n in 1 "${counts[@]}"; do row "fanjian -j$n, the $big_mb MB file to standard output" "$(m "out$n")" "$big_mb" "$(m out1)" "$n"; done
for n in "${counts[@]}"; do
  all=$(m "all$n")
  # n runs of big_mb each: the speedup is n times the one run's time over the time of all.
  awk -v l="$n runs of fanjian -j1 at once, the $big_mb MB file each (the machine's limit)" -v t="$all" \
    -v mb="$big_mb" -v o1="$(m out1)" -v n="$n" 'BEGIN {
    printf "| %s | %.3f | %.1f | %.2f | %.2f |\n", l, t, n * mb / t, n * o1 / t, o1 / t }'
done
if [ -n "$toc" ]; then row "opencc 1.4.2 CLI, one call per file" "$toc" "$mb" "" 1; fi
echo
for n in "${counts[@]}"; do
  awk -v n="$n" -v big="$big_mb" -v o1="$(m out1)" -v on="$(m "out$n")" -v all="$(m "all$n")" 'BEGIN {
    printf "The %d MB file to standard output at -j%d: %.2f of the machine'"'"'s limit measured in the same run.\n", big, n, (o1 / on) / (n * o1 / all) }'
done
