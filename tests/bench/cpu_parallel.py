#!/usr/bin/env python3
"""The machine's own 2-vs-1 ratio right now: the same CPU-bound loop in one
process, then in two at once, timed by the wall clock. On 2 idle CPUs it is
about 2.0x; on a shared machine it is what anyone's second process gets, so
the pool's 2-worker speedup (hopper bench, run next to it) is read against
it rather than against 2.0.

usage: cpu_parallel.py [ROUNDS]   (prints each round and the range)
"""
import subprocess
import sys
import time

LOOP = "s = 0\nfor i in range(4000000):\n    s += i\n"


def burn(n):
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", LOOP]) for _ in range(n)]
    for p in procs:
        p.wait()
    return time.perf_counter() - t0


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    ratios = []
    for _ in range(rounds):
        one = burn(1)
        two = burn(2)
        ratios.append(2 * one / two)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print("  the machine now: 2 CPU-bound processes vs 1 = %s (range %.2f-%.2fx, load %s)"
          % (" ".join("%.2fx" % r for r in ratios), min(ratios), max(ratios), load))


if __name__ == "__main__":
    main()
