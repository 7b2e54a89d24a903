#!/usr/bin/env bash
# Disk full under the embedded PostgreSQL (issue 14): state_dir on a small
# tmpfs, filled up with a file while files are dropped into the watched
# folder, then freed; twice, the second time with room left for data but
# not for a new WAL segment (the server PANICs). hopperd must say once per
# episode that it is out of space, naming state_dir and the space needed,
# stay up, keep what it finds, and once there is space again finish every
# file: nothing lost.
# Needs root (mount); exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon
[ "$(id -u)" = 0 ] || { echo "skip: mounting a small tmpfs for state_dir needs root"; exit 77; }

tmp=$(mktemp -d /tmp/hopper-df.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$tmp/state" "$tmp/inbox"
if ! mount -t tmpfs -o size=400m,mode=755 tmpfs "$tmp/state" 2>/dev/null; then
	rmdir "$tmp/state" "$tmp/inbox" "$tmp"
	echo "skip: cannot mount a tmpfs here (no CAP_SYS_ADMIN in this container?)"; exit 77
fi
pid=
fails=0
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	umount "$tmp/state" 2>/dev/null || umount -l "$tmp/state"
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }

cat > "$tmp/a.conf" <<EOF
[daemon]
state_dir = state
[workers]
min = 2
[watch inbox]
path = inbox
EOF
cd "$tmp" || exit 1
"$hopperd" -c "$tmp/a.conf" 2>> "$tmp/a.log" &
pid=$!
up() { grep -q "ready:" "$tmp/a.log"; }
wait_for 120 up || { fail "hopperd did not start"; tail -n 20 "$tmp/a.log"; exit 1; }

# Some files go in while there is room.
for i in $(seq 1 20); do printf 'Before %d\n\nwritten while there is room\n' "$i" > "$tmp/inbox/a$i.txt"; done
first() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state = 'done'")" = 20 ]; }
wait_for 60 first && ok "20 files done before the disk filled" || fail "before: $(sql "SELECT state, count(*) FROM hopper.jobs GROUP BY 1")"

# Fill state_dir's filesystem to the last 256 KB, then drop 200 files.
avail=$(df --output=avail -k "$tmp/state" | tail -n 1)
fallocate -l $(( (avail - 256) * 1024 )) "$tmp/state/filler" ||
	dd if=/dev/zero of="$tmp/state/filler" bs=1k count=$((avail - 256)) 2>/dev/null
for i in $(seq 1 200); do
	printf 'Full %d\n\n%s\n' "$i" "$(head -c 3000 /dev/urandom | base64 -w 0)" > "$tmp/inbox/f$i.txt"
done
said() { grep -q "out of disk space" "$tmp/a.log"; }
wait_for 60 said && ok "out of disk space reported" || fail "no disk-full message: $(grep -v '^<7>' "$tmp/a.log" | tail -n 5)"
# Some turns of the retry backoff while the disk stays full.
sleep 5
kill -0 "$pid" 2>/dev/null && ok "hopperd stays up on a full disk" || fail "hopperd exited on a full disk"
n=$(grep -c "out of disk space" "$tmp/a.log")
[ "$n" = 1 ] && ok "said once" || fail "disk-full message $n times"
line=$(grep "out of disk space" "$tmp/a.log")
case $line in *"state_dir $tmp/state has "*" MB free"*"needs at least "*" MB"*) ok "message names state_dir and the space needed" ;;
	*) fail "message: $line" ;; esac
spam=$(grep -c "cannot queue\|cannot claim\|could not be stored" "$tmp/a.log")
[ "$spam" = 0 ] && ok "no warning per turn while full" || fail "$spam per-turn warnings while full"

# Space again: everything goes through, nothing lost.
rm -f "$tmp/state/filler"
all() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE path ~ '/f[0-9]+\.txt$' AND state = 'done'")" = 200 ]; }
if wait_for 120 all; then ok "200 files done once there was space"; else fail "after freeing: $(sql "SELECT state, count(*) FROM hopper.jobs GROUP BY 1")"; fi
one=$(sql "SELECT count(*) || '|' || count(DISTINCT path) FROM hopper.jobs")
[ "$one" = "220|220" ] && ok "one job per file" || fail "jobs|paths: $one"
grep -q "disk space is back" "$tmp/a.log" && ok "resumption logged" || fail "resumption not logged"
kill -0 "$pid" 2>/dev/null && ok "same hopperd throughout" || fail "hopperd exited"

# Again, with 8 MB left and bigger files: WAL needs a new segment (16 MB)
# it cannot write, and the embedded server PANICs and cannot finish its
# crash recovery. hopperd must wait for space, not restart it in a loop,
# then start it and lose nothing.
avail=$(df --output=avail -k "$tmp/state" | tail -n 1)
fallocate -l $(( (avail - 8192) * 1024 )) "$tmp/state/filler" ||
	dd if=/dev/zero of="$tmp/state/filler" bs=1k count=$((avail - 8192)) 2>/dev/null
for i in $(seq 1 300); do
	printf 'Again %d\n\n%s\n' "$i" "$(head -c 30000 /dev/urandom | base64 -w 0)" > "$tmp/inbox/g$i.txt"
done
said2() { [ "$(grep -c "out of disk space" "$tmp/a.log")" -ge 2 ]; }
wait_for 60 said2 && ok "out of disk space reported again" || fail "no second disk-full message"
sleep 5
starts=$(grep -c "embedded PostgreSQL (pid" "$tmp/a.log")
echo "   the embedded server $(grep -q "PANIC" "$tmp/state/postgres.log" && echo "PANICked" || echo "did not PANIC") this time; started $starts time(s) so far"
kill -0 "$pid" 2>/dev/null && ok "hopperd stays up" || fail "hopperd exited on a full disk (2)"
[ "$(grep -c "out of disk space" "$tmp/a.log")" = 2 ] && ok "said once for this episode" || fail "disk-full messages: $(grep -c "out of disk space" "$tmp/a.log")"
sleep 3
[ "$(grep -c "embedded PostgreSQL (pid" "$tmp/a.log")" = "$starts" ] && ok "no restart of the server while the disk is full" ||
	fail "server restarted while full: $(grep -c "embedded PostgreSQL (pid" "$tmp/a.log") starts"
rm -f "$tmp/state/filler"
all2() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE path ~ '/g[0-9]+\.txt$' AND state = 'done'")" = 300 ] 2>/dev/null; }
if wait_for 120 all2; then ok "300 more files done once there was space"; else fail "after freeing (2): $(sql "SELECT state, count(*) FROM hopper.jobs GROUP BY 1")"; fi
one=$(sql "SELECT count(*) || '|' || count(DISTINCT path) FROM hopper.jobs")
[ "$one" = "520|520" ] && ok "one job per file (2)" || fail "jobs|paths (2): $one"
kill -0 "$pid" 2>/dev/null && ok "same hopperd throughout (2)" || fail "hopperd exited (2)"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc = 0 ] && ok "exit 0" || fail "exit $rc"

if [ $fails -gt 0 ]; then
	echo "--- hopperd log (tail) ---"; grep -v '^<7>' "$tmp/a.log" | tail -n 30
	echo "$fails check(s) failed"; exit 1
fi
echo "all checks passed"
