#!/usr/bin/env bash
# Polling on a FUSE mount, the local stand-in for an NFS/SMB share (there is
# no NFS server here): bindfs mounts a folder; files written to that folder
# directly (behind the mount, as another machine writes to a share) raise
# no inotify event on the mount. With mode = auto, hopperd must see the
# FUSE type (statfs), say it polls, and find such files by polling:
#   - the log names FUSE and mode = auto;
#   - a file written behind the mount is converted, read through the mount;
#   - a file in a new folder made behind the mount too;
#   - a file changed behind the mount is queued again (new version).
# Skips (77) without bindfs (make deps installs it) or where FUSE cannot be
# mounted (no /dev/fuse, no permission in this container).
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon
command -v bindfs >/dev/null || { echo "skip: no bindfs (apt-get install bindfs) to make a FUSE mount"; exit 77; }
[ -c /dev/fuse ] || { echo "skip: no /dev/fuse in this environment"; exit 77; }

tmp=$(mktemp -d /tmp/hopper-watchfuse.XXXXXX)
chmod 755 "$tmp"   # the PostgreSQL user must reach the state dir when we run as root
pid= mounted=
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "$mounted" ] && { fusermount -u "$tmp/share" 2>/dev/null || umount -l "$tmp/share"; }
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi; }

mkdir -p "$tmp/server" "$tmp/share"
chmod 777 "$tmp/server"
if ! err=$(bindfs "$tmp/server" "$tmp/share" 2>&1); then
	echo "skip: cannot mount FUSE here (bindfs: $err)"; exit 77
fi
mounted=1
[ "$(stat -f -c %t "$tmp/share")" = 65735546 ] || { echo "fail: the bindfs mount is not FUSE: $(stat -f "$tmp/share")"; exit 1; }

cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
log_level = debug
[workers]
min = 2
[watch share]
path = share
poll_interval = 300ms
settle = 300ms
EOF
"$hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
pid=$!
ready() { grep -q ' ready: ' "$tmp/hopperd.log" || ! kill -0 "$pid" 2>/dev/null; }
wait_for 120 ready
kill -0 "$pid" 2>/dev/null || { fail "hopperd did not start"; tail -n 40 "$tmp/hopperd.log"; exit 1; }
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }
state_of() { sql "SELECT string_agg(state, ',' ORDER BY id) FROM hopper.jobs WHERE path = '$1'"; }

grep -q "\[watch share\] .* is on FUSE, .*polled every 0.3 s instead (mode = auto" "$tmp/hopperd.log" \
	&& ok "mode = auto polls the FUSE mount and says so" || fail "no auto poll line for FUSE"

# Behind the mount: no inotify event reaches the watch on the mount.
printf 'written on the server\n' > "$tmp/server/behind.txt"
mkdir -p "$tmp/server/new/deeper"
printf 'in a new folder\n' > "$tmp/server/new/deeper/inner.txt"
done_both() { [ "$(state_of "$tmp/share/behind.txt")" = done ] && [ "$(state_of "$tmp/share/new/deeper/inner.txt")" = done ]; }
wait_for 60 done_both
check "file written behind the mount: found by polling, done" "done" "$(state_of "$tmp/share/behind.txt")"
check "file in a new folder behind the mount: done" "done" "$(state_of "$tmp/share/new/deeper/inner.txt")"
check "content read through the mount" "1" \
	"$(sql "SELECT count(*) FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path = '$tmp/share/behind.txt' AND d.markdown LIKE '%written on the server%'")"

printf 'written on the server, then changed\n' > "$tmp/server/behind.txt"
changed() { [ "$(state_of "$tmp/share/behind.txt")" = done,done ]; }
wait_for 60 changed
check "file changed behind the mount: its new version queued" "done,done" "$(state_of "$tmp/share/behind.txt")"

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "exit status after SIGTERM" 0 "$rc"
if [ $fails -gt 0 ]; then
	echo "--- hopperd log (tail) ---"; tail -n 60 "$tmp/hopperd.log"
	echo "$fails check(s) failed"; exit 1
fi
echo "all checks passed"
