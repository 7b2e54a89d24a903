#!/usr/bin/env bash
# make bench: the watch folder end to end, on the real hopperd with its
# embedded PostgreSQL (numbers from one run; compare within the run).
#   catch-up: 100,000 files already `done` in hopper.jobs: time from start
#     to READY, against the same start with an empty folder (baseline);
#     the difference is the start-up scan plus the check against the
#     versions known. Also hopperd's own catch-up time (its log line:
#     listing the known versions, the scan, queueing what is new) against
#     the time `find` takes to just stat the same files (baseline).
#   latency: on an idle daemon, 200 files dropped 50 ms apart; drop ->
#     queued is hopper.jobs.queued_at minus the file's mtime (the kernel's
#     coarse clock: up to one jiffy early), p50 and p99.
#   burst: 10,000 small files written by one process as fast as it can:
#     files/s queued (last queued_at - first mtime), against the writer's
#     own files/s (baseline).
# Usage: watch-daemon.sh [N_CATCHUP [N_BURST [N_LATENCY]]]
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
hopperd=$bdir/hopperd
n_catchup=${1:-100000} n_burst=${2:-10000} n_lat=${3:-200}
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/postgres" ] || { echo "watch-daemon bench: skipped (no PostgreSQL server binaries)"; exit 0; }
command -v python3 >/dev/null || { echo "watch-daemon bench: skipped (no python3)"; exit 0; }
tmp=$(mktemp -d /tmp/hopper-bench-watchd.XXXXXX)
chmod 755 "$tmp"
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/inbox" "$tmp/empty"
touch "$tmp/hopperd.log"
chmod 777 "$tmp/inbox" "$tmp/empty"
conf() { # conf FOLDER [LOG_LEVEL]
	printf '[daemon]\nstate_dir = state\nlog_level = %s\n[workers]\nmin = 2\n[watch inbox]\npath = %s\n' \
		"${2:-notice}" "$1" > "$tmp/hopper.conf"
}
start() { # start: hopperd in the background; $took = seconds to READY
	local t0 n
	n=$(grep -c ' ready: ' "$tmp/hopperd.log" 2>/dev/null)
	t0=$(date +%s.%N)
	"$hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
	pid=$!
	until [ "$(grep -c ' ready: ' "$tmp/hopperd.log")" -gt "${n:-0}" ]; do
		kill -0 "$pid" 2>/dev/null || { echo "hopperd died:"; tail "$tmp/hopperd.log"; exit 1; }
		sleep 0.02
	done
	took=$(echo "$(date +%s.%N) - $t0" | bc)
}
stop() { kill -TERM "$pid"; wait "$pid"; pid=; }
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1"; }

# Files for the catch-up, with old mtimes (nothing waits to settle).
python3 - "$tmp/inbox/tree" "$n_catchup" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = max(n // 100, 1)
for i in range(n):
    d = "%s/d%03d" % (root, i // per)
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    p = "%s/file-%06d.txt" % (d, i)
    with open(p, "w") as f:
        f.write("x\n")
    os.utime(p, (1000000000, 1000000000))
PY

# First start on an empty folder: creates the cluster and the schema.
conf "$tmp/empty"
start
# Their versions as done jobs, as after an earlier run converted them all.
find "$tmp/inbox/tree" -type f -printf '%p\t%P\t%D\t%i\t%s\t%T@\n' > "$tmp/versions.tsv"
sql "CREATE TABLE hopper.bench_v (path text, rel text, dev numeric, ino numeric, size bigint, mtime numeric)"
sql "\\copy hopper.bench_v FROM '$tmp/versions.tsv'"
sql "INSERT INTO hopper.jobs (watch, path, rel_path, dev, ino, size, mtime_ns, state, finished_at, disposed_at)
     SELECT 'inbox', path, convert_to('tree/' || rel, 'UTF8'), dev, ino, size, (mtime * 1000000000)::bigint,
            'done', now(), now() FROM hopper.bench_v;
     DROP TABLE hopper.bench_v"
stop
start; base=$took   # the empty folder again: the baseline
stop
conf "$tmp/inbox" info
start; catchup=$took
conf "$tmp/inbox"
queued=$(sql "SELECT count(*) FROM hopper.jobs WHERE state <> 'done'")
line=$(grep "catch-up: $n_catchup file(s) found" "$tmp/hopperd.log" | tail -n 1)
own=$(sed -n 's/.* in \([0-9]*\) ms (.*/\1/p' <<<"$line")
t0=$(date +%s.%N)
find "$tmp/inbox/tree" -type f -printf '%i %s %T@\n' > /dev/null
stat_s=$(echo "$(date +%s.%N) - $t0" | bc)
printf 'hopperd start to READY (embedded PostgreSQL):\n'
printf '  empty folder (baseline)             %7.3f s\n' "$base"
printf '  %6d files already done           %7.3f s  (+%.3f s for the catch-up; %s queued again)\n' \
	"$n_catchup" "$catchup" "$(echo "$catchup - $base" | bc)" "$queued"
if [ -n "$own" ]; then
	printf 'catch-up of %d known files (hopperd'"'"'s log): %.3f s; find stats them in %.3f s (baseline): %.1fx\n' \
		"$n_catchup" "$(echo "$own / 1000" | bc -l)" "$stat_s" "$(echo "$own / 1000 / $stat_s" | bc -l)"
	printf '  %s\n' "${line#*catch-up: }"
else
	echo "catch-up: no catch-up line in the log"
fi

# Drop -> queued on the idle daemon.
python3 - "$tmp/inbox/lat" "$n_lat" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
time.sleep(0.5)
for i in range(n):
    with open("%s/drop-%04d.txt" % (d, i), "w") as f:
        f.write("drop %d\n" % i)
    time.sleep(0.05)
PY
until [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE path LIKE '$tmp/inbox/lat/%'")" -ge "$n_lat" ]; do sleep 0.2; done
sql "SELECT format('drop -> queued on an idle daemon (%s drops): p50 %s ms, p99 %s ms', count(*),
            round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 1),
            round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 1))
     FROM (SELECT extract(epoch FROM queued_at) * 1000 - mtime_ns / 1e6 AS l
           FROM hopper.jobs WHERE path LIKE '$tmp/inbox/lat/%') s"

# Burst.
writer=$(python3 - "$tmp/inbox/burst" "$n_burst" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
time.sleep(0.5)
t0 = time.monotonic()
for i in range(n):
    with open("%s/b-%05d.txt" % (d, i), "w") as f:
        f.write("burst %d\n" % i)
print(time.monotonic() - t0)
PY
)
until [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE path LIKE '$tmp/inbox/burst/%'")" -ge "$n_burst" ]; do sleep 0.2; done
took=$(sql "SELECT extract(epoch FROM max(queued_at)) - min(mtime_ns) / 1e9 FROM hopper.jobs WHERE path LIKE '$tmp/inbox/burst/%'")
printf 'burst of %d files: writer %.0f files/s (baseline), queued %.0f files/s (%.2fx)\n' "$n_burst" \
	"$(echo "$n_burst / $writer" | bc -l)" "$(echo "$n_burst / $took" | bc -l)" "$(echo "$writer / $took" | bc -l)"
stop
