#!/usr/bin/env bash
# Fetches the benchmark corpora into target/corpora/ (reproducibly, from the package registry):
# - simplified.txt: OpenCC's benchmark text, zuozhuan.txt (Classical Chinese in Simplified
#   characters, 1.87 MB; Apache-2.0; in tests/data/ from the opencc==1.4.2 sdist).
# - traditional.txt: the Cantonese sentences of the Cantonese-Traditional Chinese Parallel
#   Corpus (CTCPC; Hong Kong written Cantonese in Traditional characters, about 4.6 MB;
#   CC0 1.0), as the PyPI package pycantonese==5.0.0 ships them (pycantonese/data/ctcpc/
#   sents.json), one sentence a line.
# - code.txt: mostly ASCII with some Chinese: the Python source and Markdown files of the same
#   wheel (pycantonese 5.0.0, MIT; 150 KB, 1.5% of the bytes non-ASCII, in docstrings,
#   comments and examples), concatenated in name order.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/corpora
mkdir -p "$out"
cp tests/data/zuozhuan.txt "$out/simplified.txt"
if [ ! -s "$out/traditional.txt" ] || [ ! -s "$out/code.txt" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps pycantonese==5.0.0 -d "$tmp"
  python3 - "$tmp"/pycantonese-5.0.0-*.whl "$out/traditional.txt" "$out/code.txt" <<'PY'
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    sents = json.loads(z.read("pycantonese/data/ctcpc/sents.json"))
    code = [z.read(n).decode("utf-8") for n in sorted(z.namelist()) if n.endswith((".py", ".md"))]
lines = [s.replace("\n", " ").strip() for s in sents]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write("\n".join(l for l in lines if l) + "\n")
with open(sys.argv[3], "w", encoding="utf-8") as f:
    f.write("\n".join(code))
PY
fi
wc -c "$out"/*.txt
