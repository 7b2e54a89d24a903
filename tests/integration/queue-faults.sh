#!/usr/bin/env bash
# The queue against what is in it and what happens to the database (issue
# 14): the real build/hopperd on its embedded PostgreSQL, real files.
#   - a name that is not UTF-8 among good files: all done, bytes kept exactly
#   - job rows hopperd did not write: refused, never read
#   - a result the database rejects: failed with the database's words, the
#     rest done, nothing left running
#   - a file that crashes its worker every time: failed after max_attempts,
#     naming the signal, while the good files go through
#   - the embedded server killed mid-ingest: restarted, nothing lost, same
#     hopperd
#   - kill -9 of hopperd three times during an ingest: each file one done
#     job and one document, no duplicate chunks, nothing running
#   - two hopperd on one database, each with its own watch and both with
#     the same shared folder: every file once, both did work
#   - a table lock held by someone else: SIGTERM still stops hopperd while
#     the lock is held
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon

tmp=$(mktemp -d /tmp/hopper-qf.XXXXXX)
chmod 755 "$tmp"
pid= pid2= lockpid=
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$pid2" ] && kill -KILL "$pid2" 2>/dev/null
	[ -n "$lockpid" ] && kill -KILL "$lockpid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }

mkdir -p "$tmp/inbox" "$tmp/shared" "$tmp/inbox2"
cat > "$tmp/a.conf" <<EOF
[daemon]
state_dir = state
node = nodeA
log_level = debug
[workers]
min = 2
max_attempts = 3
retry_delay = 100ms
[watch inbox]
path = inbox
[watch shared]
path = shared
EOF

start_a() {
	local before
	before=$(grep -c "ready:" "$tmp/a.log" 2>/dev/null)
	HOPPER_FAULT_CRASH=poison ASAN_OPTIONS=handle_segv=0 "$hopperd" -c "$tmp/a.conf" 2>> "$tmp/a.log" &
	pid=$!
	up() { [ -S "$tmp/state/run/.s.PGSQL.5432" ] && [ "$(grep -c "ready:" "$tmp/a.log")" -gt "${before:-0}" ]; }
	wait_for 120 up || { fail "hopperd did not start"; tail -n 30 "$tmp/a.log"; exit 1; }
}
start_a

# A trigger standing for whatever the database may refuse (invalid JSON,
# a value over 1 GB): a document whose Markdown says REJECT-ME.
sql "CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN IF NEW.markdown LIKE '%REJECT-ME%' THEN RAISE EXCEPTION 'refused by test trigger'; END IF;
RETURN NEW; END \$\$;
CREATE TRIGGER refuse BEFORE INSERT ON hopper.documents FOR EACH ROW EXECUTE FUNCTION public.refuse();" >/dev/null

# 40 good files, a name that is not UTF-8, a rejected result, a poison file.
for i in $(seq 1 40); do printf 'File %d\n\nbody of file number %d\n' "$i" "$i" > "$tmp/inbox/good$i.txt"; done
printf 'Not UTF-8\n\nthe name has byte FF\n' > "$tmp/inbox/bad"$'\xff'"name.txt"
printf 'Rejected\n\nREJECT-ME please\n' > "$tmp/inbox/rejected.txt"
printf 'Poison\n\ncrashes its worker\n' > "$tmp/inbox/poison.txt"
all_settled() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE watch = 'inbox' AND state IN ('done','failed')")" = 43 ]; }
if wait_for 120 all_settled; then ok "43 files settled"; else fail "not settled: $(sql "SELECT path, state, error FROM hopper.jobs WHERE state NOT IN ('done')")"; fi
good=$(sql "SELECT count(*) FROM hopper.jobs WHERE path LIKE '%/good%' AND state = 'done'")
[ "$good" = 40 ] && ok "40 good files done" || fail "good files done: $good"
bad=$(sql "SELECT state || '|' || encode(rel_path, 'hex') || '|' || path FROM hopper.jobs WHERE path LIKE '%/bad%name.txt'")
[ "$bad" = "done|626164ff6e616d652e747874|$tmp/inbox/bad\\xFFname.txt" ] && ok "non-UTF-8 name done, bytes kept, path escaped" || fail "non-UTF-8 name: $bad"
rej=$(sql "SELECT state || '|' || error FROM hopper.jobs WHERE path LIKE '%/rejected.txt'")
case $rej in "failed|the database rejected the result: refused by test trigger (permanent)") ok "rejected result failed with the database's words" ;;
	*) fail "rejected result: $rej" ;; esac
poison=$(sql "SELECT state || '|' || attempts || '|' || error FROM hopper.jobs WHERE path LIKE '%/poison.txt'")
[ "$poison" = "failed|3|worker killed by SIGSEGV" ] && ok "poison file failed after 3 attempts" || fail "poison: $poison"
grep -q "poison.txt: worker killed by SIGSEGV; tried again later" "$tmp/a.log" && ok "crash counted as an attempt, retried" || fail "no retry of the crash logged"
# hopper retry puts a failed job back with its attempts reset.
pj=$(sql "SELECT id FROM hopper.jobs WHERE path LIKE '%/poison.txt'")
out=$("$bdir/hopper" -c "$tmp/a.conf" retry "$pj" 2>&1)
[ "$out" = "1 failed job(s) put back in the queue" ] && ok "hopper retry JOB_ID" || fail "hopper retry: $out"
refailed() { [ "$(grep -c "poison.txt: worker killed by SIGSEGV; tried again later" "$tmp/a.log")" = 4 ] &&
	[ "$(sql "SELECT state || '|' || attempts FROM hopper.jobs WHERE id = $pj")" = "failed|3" ]; }
if wait_for 60 refailed; then ok "retried job ran its attempts again"; else fail "after retry: $(sql "SELECT state, attempts FROM hopper.jobs WHERE id = $pj")"; fi
out=$("$bdir/hopper" -c "$tmp/a.conf" retry 12x 2>&1); rc=$?
[ $rc = 2 ] && ok "hopper retry refuses a bad id" || fail "hopper retry 12x: rc=$rc $out"
running=$(sql "SELECT count(*) FROM hopper.jobs WHERE state = 'running'")
[ "$running" = 0 ] && ok "nothing left running" || fail "running: $running"

# Rows hopperd did not write are data, never an instruction to read a file.
sql "INSERT INTO hopper.jobs (watch, path, rel_path, ino, size, mtime_ns) VALUES
 ('inbox', '/etc/passwd', convert_to('../../../../../../etc/passwd', 'UTF8'), 1, 1, 1),
 ('inbox', '/etc/passwd', NULL, 2, 1, 1),
 ('elsewhere', '/etc/passwd', convert_to('passwd', 'UTF8'), 3, 1, 1);
 SELECT pg_notify('hopper_jobs', '')" >/dev/null
refused() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE path = '/etc/passwd' AND state = 'failed' AND error LIKE 'refused:%'")" = 2 ]; }
if wait_for 30 refused; then ok "foreign rows refused"; else fail "foreign rows: $(sql "SELECT watch, state, error FROM hopper.jobs WHERE path = '/etc/passwd'")"; fi
sleep 1
other=$(sql "SELECT state FROM hopper.jobs WHERE watch = 'elsewhere'")
[ "$other" = queued ] && ok "a job of a watch this node does not have is left alone" || fail "foreign watch job: $other"
leak=$(sql "SELECT count(*) FROM hopper.documents WHERE markdown LIKE '%root:%'")
[ "$leak" = 0 ] && ok "/etc/passwd never stored" || fail "/etc/passwd stored"
sql "DELETE FROM hopper.jobs WHERE watch = 'elsewhere'" >/dev/null

# The embedded server dies mid-ingest, while files are still being found and
# queued: hopperd starts it again and loses nothing. (A queued file must
# survive: nothing queues it again before the next scan.)
( for i in $(seq 1 200); do printf 'Batch %d\n\nrestart test\n' "$i" > "$tmp/inbox/r$i.txt"
	[ $((i % 10)) = 0 ] && sleep 0.05; done ) &
writer=$!
some_queued() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE path ~ '/r[0-9]+\.txt$'")" -gt 40 ]; }
wait_for 60 some_queued
pm=$(head -n 1 "$tmp/state/pg/postmaster.pid" 2>/dev/null)
[ -n "$pm" ] && kill -KILL "$pm"
wait "$writer"
r_done() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE path ~ '/r[0-9]+\.txt$' AND state = 'done'")" = 200 ]; }
if wait_for 180 r_done; then ok "200 files done across a server crash"; else fail "after server crash: $(sql "SELECT state, count(*) FROM hopper.jobs WHERE path ~ '/r[0-9]+\.txt$' GROUP BY 1")"; fi
kill -0 "$pid" 2>/dev/null && ok "same hopperd after the server crash" || fail "hopperd exited with its server"
grep -q "starting it again" "$tmp/a.log" && ok "server restart logged" || fail "server restart not logged"
dups=$(sql "SELECT count(*) FROM (SELECT document_id FROM hopper.chunks GROUP BY document_id, ordinal HAVING count(*) > 1) x")
[ "$dups" = 0 ] && ok "no duplicate chunks" || fail "duplicate chunks: $dups"

# kill -9 of hopperd, again and again, during an ingest: every file ends
# as exactly one done job, every content as one document, no chunk twice.
for i in $(seq 1 300); do printf 'Kill %d\n\nkilled while working on it\n' "$i" > "$tmp/inbox/k$i.txt"; done
for round in 1 2 3; do
	sleep 1.5
	kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
	pg_gone() { ! pgrep -f "$tmp/state/pg" >/dev/null; }
	wait_for 30 pg_gone
	start_a
done
k_done() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE path ~ '/k[0-9]+\.txt$' AND state = 'done'")" = 300 ]; }
if wait_for 180 k_done; then ok "300 files done across 3 kill -9"; else fail "after kill -9: $(sql "SELECT state, count(*) FROM hopper.jobs WHERE path ~ '/k[0-9]+\.txt$' GROUP BY 1")"; fi
kjobs=$(sql "SELECT count(*) || '|' || count(DISTINCT path) || '|' || count(DISTINCT document_id) FROM hopper.jobs WHERE path ~ '/k[0-9]+\.txt$'")
[ "$kjobs" = "300|300|300" ] && ok "one job and one document per file" || fail "jobs|paths|documents: $kjobs"
dups=$(sql "SELECT count(*) FROM (SELECT document_id FROM hopper.chunks GROUP BY document_id, ordinal HAVING count(*) > 1) x")
[ "$dups" = 0 ] && ok "no duplicate chunks after kill -9" || fail "duplicate chunks: $dups"
still=$(sql "SELECT count(*) FROM hopper.jobs WHERE state = 'running'")
[ "$still" = 0 ] && ok "nothing running after the kills" || fail "running after the kills: $still"

# A second hopperd on the same database: its own watch, and the shared one.
cat > "$tmp/b.conf" <<EOF
[daemon]
database = host=$tmp/state/run dbname=hopper user=hopper
state_dir = stateB
node = nodeB
log_level = debug
[workers]
min = 2
[watch inbox2]
path = inbox2
[watch shared]
path = shared
EOF
"$hopperd" -c "$tmp/b.conf" 2>> "$tmp/b.log" &
pid2=$!
upb() { grep -q "ready:" "$tmp/b.log"; }
wait_for 60 upb || fail "second hopperd did not start: $(tail -n 5 "$tmp/b.log")"
for i in $(seq 1 60); do printf 'Shared %d\n\nseen by both\n' "$i" > "$tmp/shared/s$i.txt"; done
for i in $(seq 1 10); do printf 'B %d\n\nonly B\n' "$i" > "$tmp/inbox2/b$i.txt"; done
shared_done() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE watch IN ('shared', 'inbox2') AND state = 'done'")" = 70 ]; }
if wait_for 120 shared_done; then ok "70 files done by two daemons"; else fail "two daemons: $(sql "SELECT watch, state, count(*) FROM hopper.jobs WHERE watch IN ('shared','inbox2') GROUP BY 1, 2")"; fi
once=$(sql "SELECT count(*) FROM hopper.jobs WHERE watch = 'shared'")
[ "$once" = 60 ] && ok "each shared file queued once" || fail "shared jobs: $once"
na=$(grep -c "/shared/s[0-9]*.txt: done" "$tmp/a.log"); nb=$(grep -c "/shared/s[0-9]*.txt: done" "$tmp/b.log")
echo "   shared files converted by A: $na, by B: $nb"
[ "$na" -gt 0 ] && [ "$nb" -gt 0 ] && ok "both daemons did work" || fail "work split A=$na B=$nb"
workers=$(sql "SELECT count(DISTINCT node) FROM hopper.workers")
[ "$workers" = 2 ] && ok "hopper.workers shows both nodes" || fail "hopper.workers nodes: $workers"
kill -TERM "$pid2"; wait "$pid2"; rc=$?; pid2=
[ $rc = 0 ] && ok "second hopperd stopped" || fail "second hopperd exit $rc"

# Someone holds a lock on the job table: SIGTERM still acts.
"$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -c "BEGIN; LOCK TABLE hopper.jobs; SELECT pg_sleep(60);" >/dev/null 2>&1 &
lockpid=$!
locked() { [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'jobs' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]; }
wait_for 30 locked || fail "lock not taken"
printf 'During the lock\n' > "$tmp/inbox/locked.txt"
sleep 2
t0=$SECONDS
kill -TERM "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
# The lock is held for 60 s: gone within 20 s means hopperd did not wait for it.
wait_for 20 gone
t1=$SECONDS
echo "   hopperd stopped $((t1 - t0)) s after SIGTERM with the table locked"
if gone; then ok "SIGTERM acted while the lock was held"; else fail "hopperd did not stop while the table was locked"; fi
wait "$pid"; rc=$?; pid=
[ $rc = 0 ] && ok "exit 0 under the lock" || fail "exit $rc under the lock"
kill "$lockpid" 2>/dev/null; wait "$lockpid" 2>/dev/null; lockpid=

if [ $fails -gt 0 ]; then
	echo "--- hopperd A log (tail) ---"; grep -v '^<7>' "$tmp/a.log" | tail -n 40
	echo "$fails check(s) failed"; exit 1
fi
echo "all checks passed"
