#!/usr/bin/env python3
"""Worker start-up cost: time from spawning `WORKER --worker` (hopper-worker,
or hopperd of a release before the worker had its own binary) until it
waits for its first job (blocked in read(2) on fd 3, seen in
/proc/PID/syscall), and its resident memory (VmRSS) then.

usage: worker_startup.py WORKER [ROUNDS]   (prints the median of ROUNDS)
Linux only; needs /proc/PID/syscall (readable for our own children).
"""
import os
import socket
import statistics
import subprocess
import sys
import time


def one(hopperd):
    parent, child = socket.socketpair()
    cfd = child.fileno()

    def setup():
        os.dup2(cfd, 3)

    t0 = time.perf_counter()
    p = subprocess.Popen([hopperd, "--worker", "--memory-limit", str(512 << 20)],
                         preexec_fn=setup, pass_fds=(cfd, 3), stdin=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env={"OMP_THREAD_LIMIT": "1"})
    child.close()
    rss = None
    try:
        while True:
            try:
                with open("/proc/%d/syscall" % p.pid) as f:
                    fields = f.read().split()
            except OSError:
                fields = []
            # read(3, ...) or recvmsg(3, ...) (x86-64 numbers 0 and 47):
            # waiting for the first JOB frame
            if len(fields) >= 2 and fields[0] in ("0", "47") and int(fields[1], 16) == 3:
                break
            if time.perf_counter() - t0 > 10:
                raise SystemExit("the worker did not reach its first read in 10 s")
            if p.poll() is not None:
                raise SystemExit("worker exited with %d" % p.returncode)
            time.sleep(0.0002)
        t = time.perf_counter() - t0
        with open("/proc/%d/status" % p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    finally:
        parent.close()   # EOF: the worker exits cleanly
        p.wait()
    return t, rss


def main():
    hopperd = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    ts, rs = [], []
    for _ in range(rounds):
        t, r = one(hopperd)
        ts.append(t)
        rs.append(r)
    print("  %-40s start-up %6.2f ms (median of %d)  RSS %6d KiB" %
          (hopperd, statistics.median(ts) * 1000, rounds, statistics.median(rs)))


if __name__ == "__main__":
    main()
