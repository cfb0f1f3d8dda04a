"""Peak memory and throughput of `fanjian -c CONFIG` streaming a large input with no newline.

usage: python3 benches/memory.py [GIB] [CONFIG]   (default: 1 GiB, s2t)

The input is OpenCC's benchmark text (tests/data/zuozhuan.txt) with its newlines removed,
repeated until it reaches the size, generated on the fly into fanjian's standard input; the
output goes to /dev/null. Prints fanjian's peak resident memory (from the kernel's rusage of
the child) and throughput. Builds the release binary first.
"""
import os
import subprocess
import sys
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
size = int(float(sys.argv[1] if len(sys.argv) > 1 else 1) * (1 << 30))
config = sys.argv[2] if len(sys.argv) > 2 else "s2t"

subprocess.run(["cargo", "build", "--quiet", "--release"], cwd=root, check=True)
exe = os.path.join(root, "target", "release", "fanjian")
with open(os.path.join(root, "tests", "data", "zuozhuan.txt"), encoding="utf-8") as f:
    block = f.read().replace("\n", "").encode("utf-8")
assert b"\n" not in block

start = time.perf_counter()
child = subprocess.Popen([exe, "-c", config], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
written = 0
while written < size:
    n = min(len(block), size - written)
    # Never cut a UTF-8 character: end the last piece on a character boundary.
    while n < len(block) and (block[n] & 0xC0) == 0x80:
        n -= 1
    if n == 0:
        break
    child.stdin.write(block[:n])
    written += n
child.stdin.close()
# The rusage of this child alone (not of cargo, run before).
_, status, usage = os.wait4(child.pid, 0)
code = os.waitstatus_to_exitcode(status)
elapsed = time.perf_counter() - start
peak_kib = usage.ru_maxrss
if code != 0:
    sys.exit(f"fanjian exited with {code}")
print(f"fanjian -c {config}: {written / (1 << 30):.2f} GiB without a newline in {elapsed:.1f} s "
      f"({written / elapsed / 1e6:.0f} MB/s), peak RSS {peak_kib / 1024:.1f} MiB")
