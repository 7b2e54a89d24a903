#!/usr/bin/env bash
# `hopper bench DIR --json`: real workers convert a small folder in the
# three modes (no database); the JSON says how many files each mode
# converted, gives a worker sweep, the spawn cost and a recommendation.
# Checks shape and counts, never speed. Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
command -v python3 >/dev/null || { echo "skip: python3 is needed to read the JSON"; exit 77; }
tmp=$(mktemp -d /tmp/hopper-bench-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/docs/sub"
printf '# Title\n\nSome words.\n' > "$tmp/docs/a.md"
printf '<html><head><title>T</title></head><body><h1>H</h1><p>para</p></body></html>\n' > "$tmp/docs/sub/b.html"
printf 'plain text\n' > "$tmp/docs/c.txt"
for i in $(seq 75); do printf '\000\001\376\377'; done > "$tmp/docs/d.bin"
out=$("$bdir/hopper" bench "$tmp/docs" --json --max-workers 2 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] || { echo "FAIL: hopper bench exited $rc: $(cat "$tmp/err")"; exit 1; }
python3 - "$out" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
fails = []
def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)
check(d["files"] == 4, "4 files found (subfolders included)")
names = [m["name"] for m in d["modes"]]
check(names == ["sequential", "parallel", "parallel+io_uring"], "three modes: %s" % names)
for m in d["modes"]:
    check(m["ok"] == 3 and m["failed"] == 1, "%s: 3 converted, the binary one failed" % m["name"])
    check(m["rss_median"] > 0, "%s: worker RSS measured" % m["name"])
check(d["modes"][0]["workers"] == 1, "sequential has one worker")
check(d["modes"][0]["reader"] == "read", "sequential reads with read()")
check(1 <= len(d["sweep"]) <= 2 and d["sweep"][0]["workers"] == 1, "sweep starts at one worker")
check(d["spawn_ms"] > 0 and d["job_ms_median"] > 0, "spawn cost and median conversion measured")
check(d["recommendation"]["max"] in (1, 2) and d["recommendation"]["why"], "a recommendation with its reason")
check(set(d["per_format"]) >= {"markdown", "html", "text"}, "time per format: %s" % sorted(d["per_format"]))
sys.exit(1 if fails else 0)
PY
