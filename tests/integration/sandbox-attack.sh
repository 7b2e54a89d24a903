#!/usr/bin/env bash
# The worker sandbox, tested from the attacker's side: build/tests/attack/hopperd
# (a copy of hopperd) starts build/tests/attack/hopper-worker beside it (the
# worker plus tests/attack/attack.c, a converter that attacks its own sandbox
# from inside a real worker); on its embedded PostgreSQL. Each attack
# is one file; each must be refused (the job fails saying so) or end the
# worker (the job fails with "worker violated its sandbox (syscall NAME)"),
# never succeed, and the pool must go on converting good files.
# Also: WATCHDOG=1 is sent from the event loop while it turns, and stops
# when the loop hangs (HOPPER_TEST_HANG).
# Sanitizer builds run workers without the seccomp filter: the test checks
# that hopperd says so at start, then skips. Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
hopperd=$bdir/tests/attack/hopperd
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/postgres" ] || { echo "skip: no PostgreSQL server binaries (apt-get install postgresql)"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 is needed to receive sd_notify messages"; exit 77; }
[ -x "$hopperd" ] || { echo "fail: $hopperd not built (make tests)"; exit 1; }

tmp=$(mktemp -d /tmp/hopper-attack.XXXXXX)
chmod 755 "$tmp"
pid='' npid=''
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$npid" ] && kill "$npid" 2>/dev/null
	[ -f "$tmp/state/pg/postmaster.pid" ] && kill -KILL "$(head -n 1 "$tmp/state/pg/postmaster.pid")" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh"

mkdir -p "$tmp/inbox"
cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
[workers]
min = 2
[watch inbox]
path = inbox
EOF

python3 - "$tmp/notify.sock" "$tmp/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        msg = s.recv(4096)
        log.write("%.3f %s\n" % (time.monotonic(), msg.decode().replace("\n", " ")))
PY
npid=$!
for _ in $(seq 50); do [ -S "$tmp/notify.sock" ] && break; sleep 0.1; done

# A secret in the supervisor's environment that no worker may see.
NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=2000000 HOPPER_TEST_HANG=$tmp/hang \
	HOPPER_ATTACK_CANARY=s3cret "$hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
pid=$!

wait_for() { wait_alive "$pid" "$@"; } # stops early when hopperd ($pid) died
ready() { grep -q ' READY=1' "$tmp/notify.log" 2>/dev/null; }
wait_for 120 ready || { cat "$tmp/hopperd.log"; echo "FAIL: hopperd did not become ready"; exit 1; }
ok "ready"

nofilter=''
if grep -q 'HP_SANITIZE' "$bdir/.flags" 2>/dev/null; then
	nofilter=1
	grep -q 'sanitizer build: workers run without their seccomp filter' "$tmp/hopperd.log" &&
		ok "sanitizer build: hopperd says at start that the filter is off" ||
		fail "a sanitizer build does not say at start that the filter is off"
elif grep -q 'sanitizer build' "$tmp/hopperd.log"; then
	fail "a normal build claims to be a sanitizer build"
fi

# Attacks the pool does not stop yet (issue 19: workers get an empty
# environment and their stderr through a pipe; the pool helper adds both).
# Listed here they are reported as KNOWN GAP instead of failing; remove a
# name once the pool stops it, and the test then holds it.
known_gaps=" "
gap() { # gap ATTACK MESSAGE: fail, unless the attack is a known gap
	if [[ $known_gaps == *" $1 "* ]]; then echo "KNOWN GAP: $2"; else fail "$2"; fi
}

sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }

# The watchdog: pings while the loop turns (WATCHDOG_USEC=2 s: every second).
pings() { [ "$(grep -c ' WATCHDOG=1' "$tmp/notify.log")" -ge 3 ]; }
wait_for 10 pings && ok "WATCHDOG=1 sent while the loop turns" || fail "no WATCHDOG=1 pings: $(cat "$tmp/notify.log")"

if [ -z "$nofilter" ]; then
	attacks="open socket execve ptrace clone mprotect stderr environ"
	for a in $attacks; do printf 'attack %s\n' "$a" > "$tmp/inbox/attack-$a.txt"; done
	finished() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done','failed')")" = 8 ]; }
	wait_for 120 finished || fail "attack jobs did not finish: $(sql 'SELECT path, state, error FROM hopper.jobs')"

	state_of() { sql "SELECT state || '|' || coalesce(error, '') FROM hopper.jobs WHERE path LIKE '%/attack-$1.txt'"; }
	md_of() { sql "SELECT d.markdown FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%/attack-$1.txt'"; }
	expect() { # expect ATTACK EXPECTED-STATE|ERROR
		local got
		got=$(state_of "$1")
		if [ "$got" = "$2" ]; then ok "$1: $got"; else fail "$1: expected [$2], got [$got] $(md_of "$1")"; fi
	}
	expect open "failed|attack open /etc/passwd refused: Permission denied"
	for a in socket execve ptrace clone mprotect; do
		# glibc's fork() is the clone syscall.
		expect "$a" "failed|worker violated its sandbox (syscall $a)"
		grep -q "worker violated its sandbox (syscall $a)" "$tmp/hopperd.log" || fail "$a: no log line names the syscall"
	done

	# stderr: a worker's line must not reach the journal at a priority it chose.
	[ "$(state_of stderr)" = "done|" ] || fail "stderr attack did not run: $(state_of stderr)"
	if grep -q '^<0>' "$tmp/hopperd.log"; then
		gap stderr "a worker wrote a line at a forged priority <0> straight into the daemon's stderr"
	else ok "stderr: the forged priority did not reach the log as a priority"; fi

	# environ: the worker's environment holds nothing of the supervisor's.
	env_md=$(md_of environ)
	grep -q '^environment:' <<<"$env_md" || fail "environ attack did not run: $(state_of environ)"
	if grep -q 'HOPPER_ATTACK_CANARY' <<<"$env_md"; then
		gap environ "a worker can read the supervisor's environment: $(tr '\n' ' ' <<<"$env_md" | cut -c1-120)..."
	else ok "environ: the supervisor's environment is not visible to workers"; fi

	# The pool goes on: good files after the attacks end done, two workers alive.
	for i in 1 2 3 4 5; do printf 'good file %s\n\nafter the attacks\n' "$i" > "$tmp/inbox/good-$i.txt"; done
	good() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE path LIKE '%/good-%' AND state = 'done'")" = 5 ]; }
	wait_for 60 good && ok "the pool goes on: 5 good files done" ||
		fail "good files: $(sql "SELECT path, state, error FROM hopper.jobs WHERE path LIKE '%/good-%'")"
	two() { [ "$(pgrep -P "$pid" -f -- '--worker' | wc -l)" = 2 ]; }
	wait_for 30 two && ok "two workers alive" || fail "workers alive: $(pgrep -P "$pid" -f -- '--worker' | wc -l)"
fi

# The watchdog stops pinging when the loop hangs.
touch "$tmp/hang"
gone() { [ ! -e "$tmp/hang" ]; }
wait_for 10 gone || fail "the hang trigger was not taken"
sleep 0.5
before=$(grep -c ' WATCHDOG=1' "$tmp/notify.log")
sleep 3
after=$(grep -c ' WATCHDOG=1' "$tmp/notify.log")
[ "$before" = "$after" ] && ok "no WATCHDOG=1 while the loop hangs" || fail "WATCHDOG=1 sent during a hang ($before -> $after)"
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=''

if [ $fails -gt 0 ]; then echo "--- hopperd.log"; tail -n 40 "$tmp/hopperd.log"; exit 1; fi
[ -n "$nofilter" ] && { echo "skip: sanitizer build: workers have no seccomp filter to attack (watchdog checked)"; exit 77; }
echo "all sandbox attacks refused or fatal to the worker"
