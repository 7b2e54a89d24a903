#!/usr/bin/env bash
# Dispositions and the catch-up, against the real hopperd, its embedded
# PostgreSQL and real workers:
#   - a file whose name is not UTF-8 with on_success = move:DIR is moved
#     (found by its exact bytes, jobs.rel_path, not by the escaped text);
#   - a move that fails (its destination folder is blocked by a file) is
#     done at the next reload (SIGHUP) once the way is clear, without a
#     restart, and the file is not converted again;
#   - the start-up catch-up skips the versions already known (in memory)
#     and queues what changed or appeared while hopperd was stopped.
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon

tmp=$(mktemp -d /tmp/hopper-watchdisp.XXXXXX)
chmod 755 "$tmp"   # the PostgreSQL user must reach the state dir when we run as root
pid=
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi; }

mkdir -p "$tmp/in" "$tmp/keep" "$tmp/done"
chmod 777 "$tmp/in" "$tmp/keep" "$tmp/done"
cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
log_level = debug
[workers]
min = 2
[watch in]
path = in
settle = 300ms
on_success = move:$tmp/done
[watch keep]
path = keep
settle = 300ms
EOF

starts=0
start() { # hopperd in the background, wait until ready
	starts=$((starts + 1))
	"$hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
	pid=$!
	local end=$((SECONDS + 120))
	until [ "$(grep -c ' ready: ' "$tmp/hopperd.log")" -ge "$starts" ]; do
		if [ $SECONDS -ge $end ] || ! kill -0 "$pid" 2>/dev/null; then
			fail "hopperd did not become ready"; tail -n 40 "$tmp/hopperd.log"; exit 1
		fi
		sleep 0.2
	done
}
stop() { kill -TERM "$pid"; wait "$pid"; pid=; }
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }
# state_rel WATCH REL_HEX: the states of the jobs of that exact name
state_rel() { sql "SELECT string_agg(state, ',' ORDER BY id) FROM hopper.jobs WHERE watch = '$1' AND rel_path = '\\x$2'::bytea"; }
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

start

# A name that is not UTF-8 (Latin-1 "café" and a lone 0xff byte).
bad=$(printf 'caf\xe9-\xff.txt')
printf 'latin one\n' > "$tmp/in/$bad"
# A move that cannot happen now: its destination folder is a file.
mkdir -p "$tmp/in/blocked"
printf 'held\n' > "$tmp/done/blocked"
printf 'wait for the reload\n' > "$tmp/in/blocked/w.txt"
# For the catch-up.
printf 'one\n' > "$tmp/keep/same.txt"
printf 'two\n' > "$tmp/keep/changed.txt"

finished() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done', 'failed')")" -ge 4 ]; }
wait_for 60 finished || fail "not all finished: $(sql "SELECT path, state FROM hopper.jobs")"
check "non-UTF-8 name: done" "done" "$(state_rel in "$(hex "$bad")")"
moved_bad() { [ -f "$tmp/done/$bad" ] && [ ! -e "$tmp/in/$bad" ]; }
wait_for 20 moved_bad && ok "non-UTF-8 name moved by on_success = move" \
	|| fail "non-UTF-8 name not moved: in=[$(ls "$tmp/in" | od -c | head -3)] done=[$(ls "$tmp/done")]"
[ "$(cat "$tmp/done/$bad" 2>/dev/null)" = "latin one" ] && ok "moved with its content" || fail "moved content differs"

check "blocked move: job done" "done" "$(state_rel in "$(hex blocked/w.txt)")"
[ -f "$tmp/in/blocked/w.txt" ] && ok "blocked move: file left in place" || fail "w.txt moved although blocked"
rm "$tmp/done/blocked"
kill -HUP "$pid"
moved_w() { [ -f "$tmp/done/blocked/w.txt" ] && [ ! -e "$tmp/in/blocked/w.txt" ]; }
wait_for 30 moved_w && ok "pending move done at the reload" \
	|| fail "w.txt not moved after SIGHUP: $(ls -R "$tmp/in" "$tmp/done")"
check "blocked move: converted once" "1" "$(grep -c 'blocked/w.txt: done' "$tmp/hopperd.log")"

# Catch-up: stopped, one file changed, one added, one left alone.
stop
printf 'two, changed while stopped\n' > "$tmp/keep/changed.txt"
printf 'three\n' > "$tmp/keep/new.txt"
# Old enough to need no settling: the scan reports all three at once.
touch -d '1 hour ago' "$tmp/keep/changed.txt" "$tmp/keep/new.txt"
start
grep -q 'catch-up: 3 file(s) found, 2 new' "$tmp/hopperd.log" && ok "catch-up: known version skipped in memory" \
	|| fail "catch-up line: $(grep 'catch-up:' "$tmp/hopperd.log" | tail -n 1)"
caught() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE watch = 'keep' AND state = 'done'")" -ge 4 ]; }
wait_for 60 caught || fail "catch-up jobs not done: $(sql "SELECT path, state FROM hopper.jobs WHERE watch = 'keep'")"
check "catch-up: unchanged file not queued again" "done" "$(state_rel keep "$(hex same.txt)")"
check "catch-up: changed file queued again" "done,done" "$(state_rel keep "$(hex changed.txt)")"
check "catch-up: new file queued" "done" "$(state_rel keep "$(hex new.txt)")"
stop

if [ $fails -gt 0 ]; then
	echo "--- hopperd log (tail) ---"; tail -n 80 "$tmp/hopperd.log"
	echo "$fails check(s) failed"; exit 1
fi
echo "all checks passed"
