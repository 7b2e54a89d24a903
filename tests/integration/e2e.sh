#!/usr/bin/env bash
# End to end: the real build/hopperd on its embedded PostgreSQL, real
# inotify, real workers. Drops files, waits (polling SQL, with a time-out)
# until they are finished, checks what was stored, then stops the daemon
# with SIGTERM and checks that it exited 0 and left no PostgreSQL behind.
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon
hopper=$bdir/hopper
command -v python3 >/dev/null || { echo "skip: python3 is needed to receive sd_notify messages"; exit 77; }

tmp=$(mktemp -d /tmp/hopper-e2e.XXXXXX)
chmod 755 "$tmp"   # the PostgreSQL user must reach the state dir when we run as root
pid= npid=
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$npid" ] && kill "$npid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/inbox"
cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
log_level = debug
[workers]
min = 2
retry_delay = 200ms
chunk_min_tokens = 0
[watch inbox]
path = inbox
chunk_tokens = 40
EOF

# A config error stops start-up with the line number.
printf '[workers]\nmin = 2\nmemory_limit = 12Q\n' > "$tmp/bad.conf"
out=$("$hopperd" -c "$tmp/bad.conf" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "bad.conf:3" <<<"$out" && ok "config error reported with its line" \
	|| fail "bad config: rc=$rc out=$out"

# Files that are there before the daemon starts are found by the start-up scan.
printf 'Meeting notes\n\nWe agreed to ship hopper on Friday.\n' > "$tmp/inbox/notes.txt"

# sd_notify receiver: every datagram is appended to notify.log.
# The sender's pid of each datagram (SO_PASSCRED) goes to notify.pids.
python3 - "$tmp/notify.sock" "$tmp/notify.log" "$tmp/notify.pids" <<'PY' &
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log, open(sys.argv[3], "a", buffering=1) as pids:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pids.write("%d\n" % struct.unpack("iii", data[:12])[0])
        log.write(msg.decode() + "\n")
PY
npid=$!
for _ in $(seq 50); do [ -S "$tmp/notify.sock" ] && break; sleep 0.1; done

NOTIFY_SOCKET=$tmp/notify.sock HOPPER_FAULT_CRASH=crash-me ASAN_OPTIONS=handle_segv=0 "$hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
pid=$!
daemons=" $pid "

wait_for() { wait_alive "$pid" "$@"; } # stops early when hopperd ($pid) died
ready() { grep -q '^READY=1' "$tmp/notify.log" 2>/dev/null; }
if wait_for 120 ready; then ok "READY=1 received"; else
	fail "hopperd did not become ready"; cat "$tmp/hopperd.log"; exit 1; fi

sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }

# Dropped while running: closed after writing, and renamed into place.
cat > "$tmp/inbox/guide.md" <<'EOF'
# Guide

Intro text for the guide.

## Install

### Debian

Run apt-get install hopper and start the service with systemctl.

## Use

Drop files into the inbox folder.
EOF
cat > "$tmp/page.tmp" <<'EOF'
<html><head><title>Release page</title><script>alert("no")</script></head>
<body><h1>Release</h1><p>Hopper converts <b>HTML</b> with <a href="https://example.org/x">links</a>.</p>
<ul><li>one</li><li>two</li></ul>
<table><tr><th>Name</th><th>Size</th></tr><tr><td>a.pdf</td><td>3</td></tr></table>
</body></html>
EOF
mv "$tmp/page.tmp" "$tmp/inbox/page.html"
# Bad input: costs one job, with a reason a person understands.
{ head -c 4096 /dev/urandom; printf '\x00\x01\x02binary'; } > "$tmp/inbox/blob.bin"
# Same content under another name: converted once, linked.
cp "$tmp/inbox/notes.txt" "$tmp/inbox/notes-copy.txt"
# A subdirectory made after start is watched.
mkdir -p "$tmp/inbox/sub/deeper"
printf 'Deep file\n\nfound in a new folder\n' > "$tmp/inbox/sub/deeper/deep.txt"

finished() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done','failed')")" = 6 ]; }
if wait_for 120 finished; then ok "6 jobs finished"; else
	fail "jobs did not finish: $(sql 'SELECT path, state, error FROM hopper.jobs')"; fi

check() { # check DESCRIPTION EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
contains() { # contains DESCRIPTION NEEDLE HAYSTACK
	if grep -qF -- "$2" <<<"$3"; then ok "$1"; else fail "$1: [$2] not in [$3]"; fi
}
check "states" "done|5
failed|1" "$(sql "SELECT state, jobs FROM hopper.status ORDER BY state")"
check "text title" "Meeting notes" "$(sql "SELECT title FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path = '$tmp/inbox/notes.txt'")"
check "markdown title" "Guide" "$(sql "SELECT title FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%/guide.md'")"
check "html title" "Release page" "$(sql "SELECT title FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%/page.html'")"
check "formats" "html
markdown
text" "$(sql "SELECT DISTINCT format FROM hopper.documents ORDER BY 1")"
md=$(sql "SELECT markdown FROM hopper.documents WHERE format = 'html'")
contains "html heading" "# Release" "$md"
contains "html link" "[links](https://example.org/x)" "$md"
contains "html table" "| a.pdf | 3 |" "$(sed 's/  */ /g' <<<"$md")"
if grep -q alert <<<"$md"; then fail "script text leaked into markdown"; else ok "script dropped"; fi
check "chunk heading path" "1" "$(sql "SELECT count(*) FROM hopper.chunks c JOIN hopper.documents d ON d.id = c.document_id WHERE d.format = 'markdown' AND c.heading = 'Guide > Install > Debian' AND c.content LIKE '%apt-get install hopper%'")"
check "chunk ordinals" "t" "$(sql "SELECT bool_and(tokens > 0 AND tokens <= 40) AND count(*) >= 3 FROM hopper.chunks c JOIN hopper.documents d ON d.id = c.document_id WHERE d.format = 'markdown'")"
check "duplicate content converted once" "1|2" "$(sql "SELECT count(DISTINCT document_id), count(*) FROM hopper.jobs WHERE path LIKE '%/notes%.txt'")"
check "new subfolder watched" "done" "$(sql "SELECT state FROM hopper.jobs WHERE path = '$tmp/inbox/sub/deeper/deep.txt'")"
err=$(sql "SELECT error FROM hopper.jobs WHERE path LIKE '%/blob.bin'")
if [ -n "$err" ] && ! grep -qE '^-?[0-9]+$' <<<"$err"; then ok "failure has a reason: $err"; else fail "blob.bin error: [$err]"; fi
check "failures view" "1" "$(sql "SELECT count(*) FROM hopper.failures WHERE path LIKE '%/blob.bin'")"

# The CLI reads the same config and runs the same SQL.
st=$("$hopper" -c "$tmp/hopper.conf" status 2>&1)
contains "hopper status" "done" "$st"
contains "hopper status per watch" "inbox" "$st"
# Without -c the CLI finds the running hopperd's configuration.
contains "hopper status finds the running daemon" "inbox" "$(env -u HOPPER_CONFIG "$hopper" status 2>&1)"
contains "hopper sql" "Release page" "$("$hopper" -c "$tmp/hopper.conf" sql "SELECT title FROM hopper.documents" 2>&1)"
contains "STATUS= line" "STATUS=running: workers 2" "$(cat "$tmp/notify.log")"

# Reload (SIGHUP): a second watch is added; RELOADING=1 then READY=1.
mkdir -p "$tmp/second"
printf '[watch second]\npath = second\npriority = 5\n' >> "$tmp/hopper.conf"
: > "$tmp/notify.log"
kill -HUP "$pid"
reloaded() { grep -q '^READY=1' "$tmp/notify.log" 2>/dev/null; }
if wait_for 30 reloaded; then ok "reload answered READY=1"; else fail "no READY=1 after SIGHUP"; fi
contains "RELOADING=1 sent" "RELOADING=1" "$(cat "$tmp/notify.log")"
printf 'Second folder\n\nwatched after a reload\n' > "$tmp/second/s.txt"
second() { [ "$(sql "SELECT state || '|' || watch || '|' || priority FROM hopper.jobs WHERE path LIKE '%/second/s.txt'")" = "done|second|5" ]; }
if wait_for 60 second; then ok "new watch works after reload"; else fail "second/s.txt: $(sql "SELECT state, watch, error FROM hopper.jobs WHERE path LIKE '%/second/%'")"; fi
# Code is chunked at symbol boundaries: a class over 512 tokens gives one
# chunk per method, headed by its symbol path.
python3 - "$tmp/second/shop.py" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("import os\n\n\nclass Cart:\n")
    for m in ("add", "remove", "total", "render"):
        f.write("    def %s(self, item):\n" % m)
        for i in range(12):
            f.write("        value_%d = self.lookup(item, %d) + len(os.environ)  # %s step\n" % (i, i, m))
        f.write("        return value_0\n\n")
PY
code() { [ "$(sql "SELECT state FROM hopper.jobs WHERE path LIKE '%/second/shop.py'")" = done ]; }
if wait_for 60 code; then check "code chunk headings" "shop.py > Cart > add|shop.py > Cart > remove|shop.py > Cart > render|shop.py > Cart > total" \
	"$(sql "SELECT string_agg(DISTINCT c.heading, '|' ORDER BY c.heading) FROM hopper.chunks c JOIN hopper.jobs j ON j.document_id = c.document_id WHERE j.path LIKE '%/second/shop.py' AND c.content LIKE '%def %(self, item)%'")"
else fail "second/shop.py: $(sql "SELECT state, error FROM hopper.jobs WHERE path LIKE '%/second/shop.py'")"; fi
# A broken config on reload is refused; the daemon keeps running.
cp "$tmp/hopper.conf" "$tmp/good.conf"
printf '[workers]\nbogus = 1\n' >> "$tmp/hopper.conf"
: > "$tmp/notify.log"
kill -HUP "$pid"
if wait_for 30 reloaded && kill -0 "$pid"; then ok "bad reload refused, still running"; else fail "bad reload"; fi
grep -q "keeping the running one" "$tmp/hopperd.log" && ok "bad reload logged" || fail "bad reload not logged"
cp "$tmp/good.conf" "$tmp/hopper.conf"

# A worker killed mid-way is replaced; the daemon goes on.
wpid=$(pgrep -P "$pid" -f -- '--worker' | head -n 1)
if [ -n "$wpid" ]; then
	kill -KILL "$wpid"
	printf 'After the crash\n\nstill working\n' > "$tmp/inbox/after.txt"
	after() { [ "$(sql "SELECT state FROM hopper.jobs WHERE path LIKE '%/after.txt'")" = done ]; }
	if wait_for 60 after; then ok "daemon goes on after a worker was killed"; else fail "after.txt not done after a worker kill"; fi
	two_workers() { [ "$(pgrep -P "$pid" -f -- '--worker' | wc -l)" = 2 ]; }
	if wait_for 30 two_workers; then ok "two workers alive"; else fail "workers: $(pgrep -P "$pid" -f -- '--worker' | wc -l)"; fi
else
	fail "no worker process found"
fi

# A file that crashes its worker (HOPPER_FAULT_CRASH, below) costs one job,
# failed with the signal's name; a file name with a newline is stored as it
# is and logged on one line.
printf 'boom\n' > "$tmp/inbox/crash-me.txt"
printf 'Newline name\n\nstill fine\n' > "$tmp/inbox/line"$'\n'"break.txt"
crashed() { [ "$(sql "SELECT state || '|' || error FROM hopper.jobs WHERE path LIKE '%/crash-me.txt'")" = "failed|worker killed by SIGSEGV" ]; }
if wait_for 60 crashed; then ok "crashing file failed with the signal's name"; else fail "crash-me.txt: $(sql "SELECT state, error FROM hopper.jobs WHERE path LIKE '%/crash-me.txt'")"; fi
nl_done() { [ "$(sql "SELECT state FROM hopper.jobs WHERE path = '$tmp/inbox/line' || chr(10) || 'break.txt'")" = done ]; }
if wait_for 60 nl_done; then ok "newline in a file name"; else fail "newline file: $(sql "SELECT path, state FROM hopper.jobs WHERE path LIKE '%break.txt'")"; fi
grep -qF 'inbox/line\nbreak.txt' "$tmp/hopperd.log" && ok "newline escaped in the log" || fail "newline not escaped in the log"
if wait_for 30 two_workers; then ok "crashed worker replaced"; else fail "crashed worker not replaced"; fi

# kill -9 of the daemon with a job in flight: the restarted daemon takes the
# job back at once (its lease, 150 s, has not expired) and finishes it.
workers=$(pgrep -P "$pid" -f -- '--worker')
kill -STOP $workers
printf 'Crash test\n\nin flight when the daemon died\n' > "$tmp/inbox/crash.txt"
inflight() { [ "$(sql "SELECT state FROM hopper.jobs WHERE path LIKE '%/crash.txt'")" = running ]; }
if wait_for 30 inflight; then ok "job in flight"; else fail "crash.txt never ran"; fi
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
kill -KILL $workers
pg_gone() { ! pgrep -f "$tmp/state/pg" >/dev/null; }
end=$((SECONDS + 30)); until pg_gone || [ $SECONDS -ge $end ]; do sleep 0.2; done
if pg_gone; then ok "PostgreSQL stopped with its killed parent"; else fail "postgres outlived kill -9 of hopperd"; fi
: > "$tmp/notify.log"
NOTIFY_SOCKET=$tmp/notify.sock HOPPER_FAULT_CRASH=crash-me ASAN_OPTIONS=handle_segv=0 "$hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
pid=$!
daemons="$daemons $pid "
if wait_for 120 ready; then ok "restarted after kill -9"; else fail "no restart after kill -9"; fi
crash_done() { [ "$(sql "SELECT state FROM hopper.jobs WHERE path LIKE '%/crash.txt'")" = done ]; }
if wait_for 60 crash_done; then ok "in-flight job recovered after kill -9"; else fail "crash.txt: $(sql "SELECT state, lease_owner FROM hopper.jobs WHERE path LIKE '%/crash.txt'")"; fi
grep -q "took back 1 job" "$tmp/hopperd.log" && ok "recovery logged" || fail "recovery not logged"

# SIGTERM: exit 0, STOPPING=1, no PostgreSQL of this state dir left.
kill -TERM "$pid"
wait "$pid"; rc=$?
pid=
check "exit status after SIGTERM" 0 "$rc"
contains "STOPPING=1 sent" "STOPPING=1" "$(cat "$tmp/notify.log")"
sleep 0.5
left=$(pgrep -f "$tmp/state/pg" || true)
check "no postgres left" "" "$left"

# Restart on the same state: the start-up scan finds every file again, but
# enqueue is idempotent, so nothing is queued twice and nothing is running.
: > "$tmp/notify.log"
NOTIFY_SOCKET=$tmp/notify.sock HOPPER_FAULT_CRASH=crash-me ASAN_OPTIONS=handle_segv=0 "$hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
pid=$!
daemons="$daemons $pid "
if wait_for 120 ready; then ok "restarted"; else fail "restart did not become ready"; fi
check "no job queued twice after restart" "12|0" "$(sql "SELECT count(*), count(*) FILTER (WHERE state NOT IN ('done','failed')) FROM hopper.jobs")"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "second exit status" 0 "$rc"

# Only hopperd itself speaks to systemd: not its workers, not postgres.
others=$(sort -u "$tmp/notify.pids" | while read -r p; do [[ "$daemons" == *" $p "* ]] || echo "$p"; done)
check "sd_notify only from hopperd" "" "$others"

if [ $fails -gt 0 ]; then
	echo "--- hopperd log (tail) ---"; tail -n 60 "$tmp/hopperd.log"
	echo "$fails check(s) failed"; exit 1
fi
echo "all checks passed"
