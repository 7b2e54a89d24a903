#!/usr/bin/env bash
# kill -9 of hopperd again and again during an ingest (issue 14): 2,000
# files, hopperd killed 20 times (its embedded PostgreSQL dies with it and
# recovers at the next start). At the end every file is exactly one done job
# and one document, no chunk is stored twice, nothing is left running.
# HOPPER_KILL9_FILES / HOPPER_KILL9_ROUNDS scale it (defaults 2000 / 20).
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon
N=${HOPPER_KILL9_FILES:-2000}
ROUNDS=${HOPPER_KILL9_ROUNDS:-20}

tmp=$(mktemp -d /tmp/hopper-k9.XXXXXX)
chmod 755 "$tmp"
pid=
fails=0
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }

mkdir -p "$tmp/inbox"
cat > "$tmp/a.conf" <<EOF
[daemon]
state_dir = state
[workers]
min = 2
[watch inbox]
path = inbox
EOF
start() {
	local before
	before=$(grep -c "ready:" "$tmp/a.log" 2>/dev/null)
	"$hopperd" -c "$tmp/a.conf" 2>> "$tmp/a.log" &
	pid=$!
	up() { [ "$(grep -c "ready:" "$tmp/a.log")" -gt "${before:-0}" ]; }
	wait_for 120 up || { fail "hopperd did not start"; grep -v '^<7>' "$tmp/a.log" | tail -n 30; exit 1; }
}
cd "$tmp" || exit 1
start
# The files are there before the first kill (each about 6 KB, a few
# chunks); every round hopperd starts (crash recovery of its server,
# start-up scan meeting the files already queued), works for 50 to 350 ms
# and is killed: the kills land in the middle of claims, conversions and
# result batches.
body=$(for w in $(seq 1 600); do printf 'word%d ' "$w"; done)
for i in $(seq 1 "$N"); do
	printf '# Kill %d\n\n%s\n\n## More %d\n\n%s\n' "$i" "$body" "$i" "$body" > "$tmp/inbox/k$i.txt"
done
t0=$SECONDS
at_kill=
mid=0
for round in $(seq 1 "$ROUNDS"); do
	ms=$(( 50 + (round * 7) % 11 * 30 ))
	sleep "0.$(printf '%03d' "$ms")"
	d=$(sql "SELECT count(*) FROM hopper.jobs WHERE state = 'done'")
	at_kill="$at_kill $d"
	case $d in *[!0-9]*|'') ;; *) [ "$d" -lt "$N" ] && mid=$((mid + 1)) ;; esac
	kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
	pg_gone() { ! pgrep -f "$tmp/state/pg" >/dev/null; }
	wait_for 30 pg_gone || fail "round $round: the embedded server outlived hopperd"
	start
done
echo "   done just before each kill:$at_kill (of $N); $mid kill(s) with work left"
echo "   $ROUNDS kill -9 in $((SECONDS - t0)) s"
k_done() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state = 'done'")" = "$N" ]; }
if wait_for 300 k_done; then ok "$N files done across $ROUNDS kill -9"; else fail "after the kills: $(sql "SELECT state, count(*) FROM hopper.jobs GROUP BY 1")"; fi
kjobs=$(sql "SELECT count(*) || '|' || count(DISTINCT path) || '|' || count(DISTINCT document_id) FROM hopper.jobs")
[ "$kjobs" = "$N|$N|$N" ] && ok "one job and one document per file" || fail "jobs|paths|documents: $kjobs (want $N each)"
docs=$(sql "SELECT count(*) FROM hopper.documents")
[ "$docs" = "$N" ] && ok "$N documents" || fail "documents: $docs"
dups=$(sql "SELECT count(*) FROM (SELECT document_id FROM hopper.chunks GROUP BY document_id, ordinal HAVING count(*) > 1) x")
[ "$dups" = 0 ] && ok "no chunk stored twice" || fail "duplicate chunks: $dups"
orphans=$(sql "SELECT count(*) FROM hopper.documents d WHERE NOT EXISTS (SELECT 1 FROM hopper.chunks c WHERE c.document_id = d.id)")
[ "$orphans" = 0 ] && ok "every document has its chunks" || fail "documents without chunks: $orphans"
still=$(sql "SELECT count(*) FROM hopper.jobs WHERE state <> 'done'")
[ "$still" = 0 ] && ok "nothing running, retrying or failed" || fail "not done: $(sql "SELECT state, error, count(*) FROM hopper.jobs WHERE state <> 'done' GROUP BY 1, 2")"

if [ $fails -gt 0 ]; then
	echo "--- hopperd log (tail) ---"; grep -v '^<7>' "$tmp/a.log" | tail -n 40
	echo "$fails check(s) failed"; exit 1
fi
echo "all checks passed"
