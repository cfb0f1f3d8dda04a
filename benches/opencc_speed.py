"""Times OpenCC 1.4.2 (its official Python package, which wraps the C++ library) on one file.

usage: python opencc_speed.py FILE
       python opencc_speed.py --serve

Prints, per config: MB/s (median of 7 conversions of the whole file in one call) and the time to
load the config (the first OpenCC() of the process for that config). Tofu-risk dictionaries are
excluded, as in OpenCC's command line and fanjian's default.

With --serve, reads requests "CONFIG PATH" from standard input, one per line, converts the file
(read once) with the config (loaded once) and answers each with the seconds the conversion
took: benches/peers times OpenCC so, in the same rounds as the Rust converters.
"""
import statistics
import sys
import time

import opencc

CONFIGS = ["s2t", "t2s", "s2tw", "tw2s", "s2twp", "tw2sp", "s2hk", "hk2s", "s2hkp", "hk2sp",
           "t2tw", "tw2t", "t2hk", "hk2t", "t2jp", "jp2t"]


def serve():
    converters, texts = {}, {}
    for request in sys.stdin:
        config, path = request.rstrip("\n").split(" ", 1)
        if path not in texts:
            with open(path, encoding="utf-8", newline="") as f:
                texts[path] = f.read()
        if config not in converters:
            converters[config] = opencc.OpenCC(config, include_tofu_risk_dictionaries=False)
        t = time.perf_counter()
        converters[config].convert(texts[path])
        print(time.perf_counter() - t, flush=True)


def main():
    if sys.argv[1] == "--serve":
        return serve()
    with open(sys.argv[1], encoding="utf-8", newline="") as f:
        text = f.read()
    mb = len(text.encode("utf-8")) / 1e6
    print("config MB/s load_ms")
    for config in CONFIGS:
        t = time.perf_counter()
        converter = opencc.OpenCC(config, include_tofu_risk_dictionaries=False)
        load = time.perf_counter() - t
        converter.convert(text)  # warm up
        times = []
        for _ in range(7):
            t = time.perf_counter()
            converter.convert(text)
            times.append(time.perf_counter() - t)
        print(f"{config} {mb / statistics.median(times):.1f} {load * 1e3:.1f}")


if __name__ == "__main__":
    main()
