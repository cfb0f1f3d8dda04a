"""Converts files with the official OpenCC 1.4.2 Python package, the reference fanjian matches.

usage: python oracle.py OUTDIR INPUT...

Writes OUTDIR/<input name>.<config>.<tofu|notofu> for all 16 configs, with the tofu-risk
dictionaries included and excluded. Files are read and written as UTF-8 with their line endings
untouched, and each is converted in one call, as OpenCC's C++ Converter::Convert does.
"""
import os
import sys

import opencc

CONFIGS = ["s2t", "t2s", "s2tw", "tw2s", "s2twp", "tw2sp", "s2hk", "hk2s", "s2hkp", "hk2sp",
           "t2tw", "tw2t", "t2hk", "hk2t", "t2jp", "jp2t"]


def main():
    version = getattr(opencc, "__version__", None)
    if version != "1.4.2":
        sys.exit(f"oracle.py: expected opencc 1.4.2, found {version}")
    outdir, inputs = sys.argv[1], sys.argv[2:]
    texts = {}
    for path in inputs:
        with open(path, encoding="utf-8", newline="") as f:
            texts[os.path.basename(path)] = f.read()
    for config in CONFIGS:
        for tofu in (False, True):
            converter = opencc.OpenCC(config, include_tofu_risk_dictionaries=tofu)
            for name, text in texts.items():
                out = os.path.join(outdir, f"{name}.{config}.{'tofu' if tofu else 'notofu'}")
                with open(out, "w", encoding="utf-8", newline="") as f:
                    f.write(converter.convert(text))


if __name__ == "__main__":
    main()
