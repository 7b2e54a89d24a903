#!/usr/bin/env bash
# A job stopped under severe memory pressure goes back to the queue and is
# done once (issue 15), with the whole daemon and its PostgreSQL. The
# pressure is made through the policy's inputs, not by using up memory:
# HOPPER_FAULT_RESOURCES points hopperd's pool at a fake /proc whose PSI
# file the test rewrites. Both workers are held with SIGSTOP, so two jobs
# are in flight for as long as the test wants (no timing), and the
# youngest one is stopped. Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon

tmp=$(mktemp -d /tmp/hopper-preempt.XXXXXX)
chmod 755 "$tmp"
pid=
workers=
fails=0
cleanup() {
	[ -n "$workers" ] && kill -CONT $workers 2>/dev/null
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }

# The fake /proc: plenty of memory; PSI calm, then severe (full 50%).
res=$tmp/res
mkdir -p "$res/proc/pressure" "$tmp/inbox"
printf 'MemTotal: 16000000 kB\nMemAvailable: 8000000 kB\n' > "$res/proc/meminfo"
psi() { # write the whole file at once: the pool may read it at any moment
	printf 'some avg10=%s avg60=0.00 avg300=0.00 total=1\nfull avg10=%s avg60=0.00 avg300=0.00 total=1\n' \
		"$1" "$2" > "$res/proc/pressure/memory.new"
	mv "$res/proc/pressure/memory.new" "$res/proc/pressure/memory"
}
psi 0.00 0.00
cat > "$tmp/a.conf" <<EOF
[daemon]
state_dir = state
[workers]
min = 2
max = 2
[watch inbox]
path = inbox
EOF
cd "$tmp" || exit 1
HOPPER_FAULT_RESOURCES=$res "$hopperd" -c "$tmp/a.conf" 2> "$tmp/a.log" &
pid=$!
up() { grep -q "ready:" "$tmp/a.log"; }
wait_for 120 up || { fail "hopperd did not start"; tail -n 30 "$tmp/a.log"; exit 1; }
two() { workers=$(pgrep -P "$pid" -x hopper-worker | tr '\n' ' '); [ "$(echo $workers | wc -w)" = 2 ]; }
wait_for 30 two || { fail "want 2 workers, have: $workers"; exit 1; }
kill -STOP $workers

printf 'first file\n' > inbox/a.txt
printf 'second file\n' > inbox/b.txt
busy() { [ "$(sql "SELECT count(*) FROM hopper.workers WHERE job_id IS NOT NULL")" = 2 ]; }
wait_for 60 busy || { fail "two jobs never reached the (stopped) workers"; sql "TABLE hopper.workers"; exit 1; }

psi 60.00 50.00
stopped() { grep -q "stopped under severe memory pressure; the job goes back to the queue" "$tmp/a.log"; }
if wait_for 60 stopped; then ok "severe pressure: a job is stopped and goes back to the queue"
else fail "no job was stopped under severe pressure"; grep -v '^<7>' "$tmp/a.log" | tail -n 20; exit 1; fi
line=$(grep "stopped under severe memory pressure; the job goes back to the queue" "$tmp/a.log")
# "<6>/tmp/.../inbox/b.txt: stopped under ..."
victim=$(echo "$line" | sed -n 's/^<[0-9]>\(.*\): stopped under severe memory pressure;.*/\1/p')
victim=${victim##*/}
case $victim in a.txt|b.txt) ;; *) fail "cannot tell the stopped job from: $line"; exit 1 ;; esac
[ "$victim" = a.txt ] && other=b.txt || other=a.txt
grep -q "before the job reached it" "$tmp/a.log" && fail "a preempted job logged as one that never reached its worker"
# The other job is still with its (stopped) worker; the stopped one waits.
state() { sql "SELECT state FROM hopper.jobs WHERE path LIKE '%/$1'"; }
back() { [ "$(state "$victim")" = queued ]; }
wait_for 30 back && ok "$victim is queued again" || fail "$victim is $(state "$victim"), want queued"
[ "$(state "$other")" = running ] && ok "$other still runs" || fail "$other is $(state "$other"), want running"

# Pressure gone, the held worker let go: both done, each once.
psi 0.00 0.00
kill -CONT $workers 2>/dev/null
both() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state = 'done'")" = 2 ]; }
if wait_for 60 both; then ok "both jobs done"
else fail "after the pressure: $(sql "SELECT path, state, attempts, error FROM hopper.jobs")"; fi
n=$(sql "SELECT count(*) || '|' || count(DISTINCT document_id) FROM hopper.jobs")
[ "$n" = "2|2" ] && ok "one job and one document per file" || fail "jobs|documents: $n (want 2|2)"
# The claim's attempt stands (bounded by max_attempts): 2 for the stopped one.
att=$(sql "SELECT attempts FROM hopper.jobs WHERE path LIKE '%/$victim'")
att_other=$(sql "SELECT attempts FROM hopper.jobs WHERE path LIKE '%/$other'")
[ "$att" = 2 ] && [ "$att_other" = 1 ] && ok "attempts: $victim 2, $other 1" ||
	fail "attempts: $victim $att (want 2), $other $att_other (want 1)"
stops=$(grep -c "stopped under severe memory pressure; the job goes back to the queue" "$tmp/a.log")
[ "$stops" = 1 ] && ok "stopped once" || fail "jobs sent back $stops times (want 1)"
[ $fails -eq 0 ] || exit 1
