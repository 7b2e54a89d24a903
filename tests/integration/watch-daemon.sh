#!/usr/bin/env bash
# Watch folders as people use them, against the real hopperd, its embedded
# PostgreSQL, real inotify and real workers:
#   - a slow writer that keeps its file open: one job, full content;
#   - a hard link (IN_CREATE only), a rename within the folder;
#   - 100 files made in a new nested folder in one go: all done;
#   - mode = poll on a folder: found and converted without inotify;
#   - the inotify watch limit reached (HOPPER_TEST_MAX_WATCHES): said once,
#     with the sysctl, and the folder is polled instead;
#   - on_success = move:DIR (relative path kept, never overwriting),
#     on_success = delete, on_failure = move:DIR;
#   - kill -9 between commit and move (HOPPER_FAULT_KILL_BEFORE_DISPOSE):
#     the next start moves the file, and it is not converted again.
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon

tmp=$(mktemp -d /tmp/hopper-watchd.XXXXXX)
chmod 755 "$tmp"   # the PostgreSQL user must reach the state dir when we run as root
pid= wpid=
fails=0
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi; }

mkdir -p "$tmp/in" "$tmp/del" "$tmp/keep/deep" "$tmp/done/sub" "$tmp/failed"
chmod 777 "$tmp/in" "$tmp/del" "$tmp/keep" "$tmp/keep/deep" "$tmp/done" "$tmp/failed"
printf 'old b\n' > "$tmp/done/sub/b.txt"
cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
log_level = debug
[workers]
min = 2
[watch in]
path = in
settle = 1s
on_success = move:$tmp/done
on_failure = move:$tmp/failed
[watch del]
path = del
mode = poll
poll_interval = 300ms
settle = 300ms
on_success = delete
[watch keep]
path = keep
poll_interval = 300ms
EOF

start() { # start [ENV=VALUE...]: hopperd in the background, wait until ready
	env HOPPER_TEST_MAX_WATCHES=2 HOPPER_FAULT_CRASH=crash-me ASAN_OPTIONS=handle_segv=0 "$@" \
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
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }
state_of() { sql "SELECT string_agg(state, ',') FROM hopper.jobs WHERE path = '$1'"; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }

starts=1
start HOPPER_FAULT_KILL_BEFORE_DISPOSE=kill-me

# A slow writer: a line every 200 ms for 4 s, then it waits 6 s before it
# closes the file (settle is 2 s). It must be queued before it is closed,
# complete.
python3 - "$tmp/keep/slow.txt" <<'PY' &
import sys, time
with open(sys.argv[1], "w") as f:
    for i in range(20):
        f.write("slow line %d of the copy that takes its time\n" % i)
        f.flush()
        time.sleep(0.2)
    time.sleep(6)
PY
wpid=$!

mkdir -p "$tmp/in/sub"
printf 'first\n' > "$tmp/in/sub/a.txt"
printf 'new b\n' > "$tmp/in/sub/b.txt"
printf 'boom\n' > "$tmp/in/crash-me.txt"
printf 'gone after\n' > "$tmp/del/x.txt"
printf 'linked in\n' > "$tmp/outside.txt"
ln "$tmp/outside.txt" "$tmp/keep/linked.txt"
printf 'draft\n' > "$tmp/keep/.draft.txt"
mv "$tmp/keep/.draft.txt" "$tmp/keep/final.txt"
printf 'polled at the watch limit\n' > "$tmp/keep/deep/polled.txt"
mkdir -p "$tmp/keep/burst/inner"
for i in $(seq 100); do printf 'burst %d\n' "$i" > "$tmp/keep/burst/inner/f$i.txt"; done

slow_seen() { [ -n "$(state_of "$tmp/keep/slow.txt")" ] || ! kill -0 "$wpid" 2>/dev/null; }
wait_for 60 slow_seen
if kill -0 "$wpid" 2>/dev/null; then ok "slow writer queued while its file is still open"; else
	fail "slow writer not queued before it closed the file"; fi
all_done() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done','failed')")" -ge 108 ]; }
wait_for 120 all_done || fail "not all finished: $(sql "SELECT state, count(*) FROM hopper.jobs GROUP BY 1")"
wait "$wpid"; wpid=
check "slow writer: one job, done" "done" "$(state_of "$tmp/keep/slow.txt")"
check "slow writer: full content" "20|$(stat -c %s "$tmp/keep/slow.txt")" \
	"$(sql "SELECT (SELECT count(*) FROM regexp_matches(d.markdown, 'slow line', 'g')) || '|' || j.size FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path = '$tmp/keep/slow.txt'")"
check "hard link found" "done" "$(state_of "$tmp/keep/linked.txt")"
check "rename within the folder" "done" "$(state_of "$tmp/keep/final.txt")"
check "100 files in a new nested folder" "100" \
	"$(sql "SELECT count(*) FROM hopper.jobs WHERE path LIKE '$tmp/keep/burst/inner/%' AND state = 'done'")"
check "polled at the watch limit" "done" "$(state_of "$tmp/keep/deep/polled.txt")"
check "watch limit said once" "1" "$(grep -c 'inotify watch limit is reached' "$tmp/hopperd.log")"
grep -q 'sysctl -w fs.inotify.max_user_watches=' "$tmp/hopperd.log" && ok "the sysctl to raise is named" \
	|| fail "no sysctl in the log"
grep -q "\[watch del\] .*polled every 0.3 s (mode = poll)" "$tmp/hopperd.log" && ok "poll mode logged" \
	|| fail "poll mode not logged"

# Dispositions.
check "polled + delete: converted" "done" "$(state_of "$tmp/del/x.txt")"
[ ! -e "$tmp/del/x.txt" ] && ok "on_success = delete" || fail "del/x.txt still there"
check "move: a.txt done" "done" "$(state_of "$tmp/in/sub/a.txt")"
[ ! -e "$tmp/in/sub/a.txt" ] && [ "$(cat "$tmp/done/sub/a.txt" 2>/dev/null)" = first ] \
	&& ok "on_success = move keeps the relative path" || fail "a.txt not moved: $(ls -R "$tmp/in" "$tmp/done")"
[ "$(cat "$tmp/done/sub/b.txt")" = "old b" ] && [ "$(cat "$tmp/done/sub/b (1).txt" 2>/dev/null)" = "new b" ] \
	&& ok "move never overwrites (suffix added)" || fail "b.txt: $(ls "$tmp/done/sub")"
check "on_failure: failed" "failed" "$(state_of "$tmp/in/crash-me.txt")"
[ ! -e "$tmp/in/crash-me.txt" ] && [ -f "$tmp/failed/crash-me.txt" ] && ok "on_failure = move" \
	|| fail "crash-me.txt not moved: $(ls "$tmp/failed")"
check "moved files are not queued again" "0" \
	"$(sql "SELECT count(*) FROM hopper.jobs WHERE path LIKE '$tmp/done/%' OR path LIKE '$tmp/failed/%' OR state NOT IN ('done', 'failed')")"

# kill -9 between commit and move: the job is done, the file still there.
printf 'killed before the move\n' > "$tmp/in/kill-me.txt"
died() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 60 died && grep -q 'kill-me.txt: done' "$tmp/hopperd.log" && ok "hopperd killed itself after the commit" \
	|| fail "hopperd did not die after the commit"
wait "$pid" 2>/dev/null; pid=
[ -f "$tmp/in/kill-me.txt" ] && ok "file still in the watch after the kill" || fail "kill-me.txt moved before the kill"
pg_gone() { ! pgrep -f "$tmp/state/pg" >/dev/null; }
wait_for 30 pg_gone
starts=2
start
moved() { [ -f "$tmp/done/kill-me.txt" ] && [ ! -e "$tmp/in/kill-me.txt" ]; }
wait_for 30 moved && ok "moved at the next start" || fail "kill-me.txt not moved after restart: $(ls "$tmp/in" "$tmp/done")"
check "job committed before the kill, not run again" "done" "$(state_of "$tmp/in/kill-me.txt")"
check "converted once" "1|1" "$(sql "SELECT count(*) || '|' || count(DISTINCT document_id) FROM hopper.jobs WHERE path LIKE '%/kill-me.txt'")"
check "not converted again" "1" "$(grep -c 'kill-me.txt: done' "$tmp/hopperd.log")"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "exit status after SIGTERM" 0 "$rc"

if [ $fails -gt 0 ]; then
	echo "--- hopperd log (tail) ---"; tail -n 80 "$tmp/hopperd.log"
	echo "$fails check(s) failed"; exit 1
fi
echo "all checks passed"
