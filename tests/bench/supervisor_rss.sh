#!/usr/bin/env bash
# make bench: the supervisor's memory while a big backlog waits. Starts the
# real hopperd (embedded PostgreSQL) twice: once on an empty folder (the
# baseline of this run) and once on a folder of N small files (found by the
# start-up scan, so all of them are queued at once), and prints hopperd's
# peak RSS (VmHWM) in both, sampled while the backlog is above N/2.
#   tests/bench/supervisor_rss.sh BUILD_DIR [N]
set -u
bdir=$(cd "${1:-build}" && pwd)
n=${2:-10000}
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || { echo "  skipped: no PostgreSQL server binaries"; exit 0; }
tmp=$(mktemp -d /tmp/hopper-bench-rss.XXXXXX)
chmod 755 "$tmp"
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# run FOLDER: start hopperd on FOLDER, print "peak_kib backlog_seen"
run() {
	local inbox=$1 peak=0 seen=0
	cat > "$tmp/hopper.conf" <<CONF
[daemon]
state_dir = state
[workers]
min = 1
max = 2
[watch inbox]
path = $inbox
CONF
	"$bdir/hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
	pid=$!
	local end=$((SECONDS + 120))
	until grep -q 'ready:' "$tmp/hopperd.log"; do
		[ $SECONDS -ge $end ] || ! kill -0 "$pid" 2>/dev/null && { echo "0 0"; return; }
		sleep 0.2
	done
	# Sample for a while: the backlog drains slowly next to N files.
	for _ in $(seq 20); do
		local hwm
		hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$pid/status 2>/dev/null)
		[ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
		local bl
		bl=$("$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At \
			-c "SELECT count(*) FROM hopper.jobs WHERE state IN ('queued', 'running')" 2>/dev/null)
		[ -n "$bl" ] && [ "$bl" -gt "$seen" ] && seen=$bl
		sleep 0.5
	done
	kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=
	echo "$peak $seen"
}

mkdir -p "$tmp/empty" "$tmp/many"
for i in $(seq "$n"); do printf 'file %d\nsome words to convert\n' "$i" > "$tmp/many/f$i.txt"; done
read -r base _ < <(run "$tmp/empty")
rm -rf "$tmp/state"
read -r peak seen < <(run "$tmp/many")
if [ "$base" -gt 0 ] && [ "$peak" -gt 0 ]; then
	awk -v b="$base" -v p="$peak" -v s="$seen" -v n="$n" 'BEGIN {
		printf "  hopperd peak RSS: %.1f MiB idle, %.1f MiB with %d files found at start (backlog up to %d): %.2fx\n",
		       b / 1024, p / 1024, n, s, p / b }'
else
	echo "  hopperd did not start (see $tmp/hopperd.log)"; cat "$tmp/hopperd.log" | tail -5
fi
