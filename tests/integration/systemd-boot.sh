#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions called through wait_for and trap
# hopperd under a REAL systemd (opt-in): boots a cached Debian 12 rootfs with
# systemd-nspawn, installs this build into it (make install PREFIX=/usr) and
# checks what the unit promises: sysusers/tmpfiles, Type=notify start with a
# STATUS= line, three files (.txt .md .html) converted to `done`, reload
# (RELOADING=1 ... READY=1), `systemd-analyze security` at or below 2.0, a
# clean stop with no PostgreSQL left, and sane journal priorities.
#
# Needs (else exit 77): root, systemd-nspawn and nsenter, and the rootfs
# tarball $HOPPER_NSPAWN_ROOTFS (default /var/cache/hopper-nspawn/rootfs.tar):
#   apt-get install systemd-container debootstrap
#   debootstrap --variant=minbase --include=systemd,dbus,systemd-sysv,procps,\
#     libpq5,liburing2,libsystemd0,libinih1,libxml2,libmagic1,libmagic-mgc,\
#     libuchardet0,libssl3,libseccomp2,postgresql bookworm ROOT DEBIAN-MIRROR
#   chroot ROOT pg_dropcluster 15 main; chroot ROOT systemctl disable postgresql
#   tar -C ROOT --numeric-owner -cpf /var/cache/hopper-nspawn/rootfs.tar .
# B = build dir (default build), relative to the repo top or absolute.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
rootfs_tar=${HOPPER_NSPAWN_ROOTFS:-/var/cache/hopper-nspawn/rootfs.tar}

skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn not installed (apt-get install systemd-container)"
command -v nsenter >/dev/null || skip "nsenter not installed (util-linux)"
[ -f "$rootfs_tar" ] || skip "no cached rootfs at $rootfs_tar (set HOPPER_NSPAWN_ROOTFS; see the header of $0 to build one)"

t0=$SECONDS
name=hopper-boot-$$
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/hopper-boot.XXXXXX") || exit 1
root=$tmp/root
nspawn_pid='' leader=''

log() { echo "[$((SECONDS - t0))s] $*"; }

cleanup() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		[ -n "$leader" ] && timeout 5 nsenter -t "$leader" -a systemctl poweroff --no-block >/dev/null 2>&1
		for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
		# systemd-nspawn turns SIGTERM into an orderly shutdown of the container.
		kill -TERM "$nspawn_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$nspawn_pid" 2>/dev/null; then
			kill -KILL "$nspawn_pid" 2>/dev/null
			[ -n "$leader" ] && kill -KILL "$leader" 2>/dev/null
			sleep 0.5
		fi
	fi
	rm -rf "/run/systemd/nspawn/propagate/$name" "/run/systemd/nspawn/unix-export/$name" 2>/dev/null
	# Only remove the tree when nothing is mounted below it any more.
	if ! grep -q " $tmp/" /proc/self/mounts; then rm -rf "$tmp"; else echo "warning: mounts left under $tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*"
	if [ -n "$leader" ]; then
		echo "--- journal of hopperd ---"
		timeout 10 nsenter -t "$leader" -a journalctl -u hopperd --no-pager -o short-monotonic -n 40 2>&1
	fi
	exit 1
}

# Run a command inside the container with a time limit (seconds).
in_ct() { local t=$1; shift; timeout "$t" nsenter -t "$leader" -a "$@"; }

# Poll until "$@" succeeds or SECS pass.
wait_for() {
	local secs=$1; shift
	local end=$((SECONDS + secs))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

# 1. Root file system and the build.
mkdir "$root" || fail "cannot create $root"
tar -C "$root" -xpf "$rootfs_tar" || fail "cannot unpack $rootfs_tar"
[ -x "$root/lib/systemd/systemd" ] || [ -x "$root/usr/lib/systemd/systemd" ] || fail "$rootfs_tar has no systemd"
make -s -C "$top" install B="$B" SANITIZE="${SANITIZE:-}" PREFIX=/usr DESTDIR="$root" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install into the rootfs failed"; }
missing=$(chroot "$root" ldd /usr/bin/hopperd 2>&1 | grep 'not found')
[ -z "$missing" ] || skip "the build needs libraries the rootfs lacks (sanitizer build?): $missing"
log "rootfs unpacked and build installed"

# 2. Boot.
setsid systemd-nspawn -q -D "$root" --boot --register=no --keep-unit -M "$name" \
	--console=passive >"$tmp/console.log" 2>&1 </dev/null &
nspawn_pid=$!
find_leader() {
	local c
	c=$(pgrep -P "$nspawn_pid" | head -n 1)
	[ -n "$c" ] && [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && leader=$c
}
wait_for 10 find_leader || { cat "$tmp/console.log"; fail "the container's systemd did not come up"; }
booted() {
	local s
	s=$(in_ct 5 systemctl is-system-running 2>/dev/null)
	[ "$s" = running ] || [ "$s" = degraded ]
}
wait_for 30 booted || fail "container did not finish booting: $(in_ct 5 systemctl is-system-running 2>&1)"
log "booted (leader pid $leader)"

# systemctl show prints properties in its own order: ask for one at a time.
prop() { in_ct 5 systemctl show hopperd -p "$1" --value; }

# 3. User, folders, configuration.
in_ct 20 systemd-sysusers || fail "systemd-sysusers failed"
in_ct 20 systemd-tmpfiles --create >/dev/null 2>&1   # other entries may complain; ours is checked below
in_ct 5 id hopper >/dev/null || fail "sysusers did not create the user hopper"
[ -d "$root/etc/hopper" ] || fail "tmpfiles did not create /etc/hopper"
in_ct 10 sh -c 'mkdir -p /srv/inbox && chown hopper:hopper /srv/inbox && chmod 0750 /srv/inbox &&
	printf "\n[watch inbox]\npath = /srv/inbox\n" >> /etc/hopper/hopper.conf' || fail "cannot set up /srv/inbox"
in_ct 20 systemctl daemon-reload || fail "daemon-reload failed"

# 4. Start: Type=notify means `systemctl start` returns once READY=1 came.
in_ct 40 systemctl start hopperd || fail "systemctl start hopperd failed"
state="$(prop ActiveState) $(prop SubState)"
[ "$state" = "active running" ] || fail "hopperd is '$state', not active running"
main_pid=$(prop MainPID)
in_ct 10 systemctl status hopperd --no-pager >"$tmp/status.txt" 2>&1
grep -q 'Status: "' "$tmp/status.txt" || { cat "$tmp/status.txt"; fail "systemctl status shows no STATUS= line"; }
log "started: $(grep 'Status:' "$tmp/status.txt" | sed 's/^ *//')"

# 5. Three files to convert.
in_ct 10 sh -c '
	printf "hello plain text\nsecond line\n" > /srv/inbox/a.txt
	printf "# Title\n\nSome *markdown* text.\n" > /srv/inbox/b.md
	printf "<html><head><title>T</title></head><body><h1>Head</h1><p>Para <b>bold</b></p></body></html>\n" > /srv/inbox/c.html' ||
	fail "cannot write into /srv/inbox"
q="SELECT 'done=' || count(*) FILTER (WHERE state = 'done') || ' all=' || count(*) FROM hopper.jobs"
all_done() { in_ct 10 hopper sql "$q" | grep -q 'done=3 all=3'; }
wait_for 30 all_done || { in_ct 10 hopper sql "SELECT path, state, error FROM hopper.jobs"; fail "the 3 files did not all end done"; }
in_ct 10 runuser -u hopper -- hopper sql "$q" | grep -q 'done=3 all=3' || fail "hopper sql as user hopper does not work"
in_ct 10 hopper sql "SELECT path, state, error FROM hopper.jobs ORDER BY path"
log "3 files done"

# 6. Reload: hopperd must send RELOADING=1 and then READY=1 (seen in systemd's debug log).
in_ct 5 systemd-analyze log-level debug
in_ct 30 systemctl reload hopperd; rc=$?
in_ct 5 systemd-analyze log-level info
[ $rc -eq 0 ] || fail "systemctl reload hopperd failed"
state="$(prop ActiveState) $(prop SubState) $(prop MainPID)"
[ "$state" = "active running $main_pid" ] || fail "after reload: '$state' (wanted active running $main_pid)"
in_ct 10 journalctl --no-pager -o cat -b >"$tmp/journal.txt"
grep -q "Got notification message from PID $main_pid (RELOADING=1" "$tmp/journal.txt" || fail "no RELOADING=1 from hopperd"
awk -v p="Got notification message from PID $main_pid (" '
	index($0, p "RELOADING=1") { r = 1 }
	r && index($0, p "READY=1") { ok = 1 }
	END { exit !ok }' "$tmp/journal.txt" || fail "no READY=1 after RELOADING=1"
log "reload: RELOADING=1 then READY=1"

# 7. Exposure.
sec=$(in_ct 30 systemd-analyze security hopperd --no-pager 2>&1)
score=$(sed -n 's/.*Overall exposure level for hopperd.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[ -n "$score" ] || fail "no exposure score from systemd-analyze security"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure $score is above 2.0"
log "systemd-analyze security: exposure $score"

# 8. Stop: clean, and no PostgreSQL left behind.
in_ct 50 systemctl stop hopperd || fail "systemctl stop hopperd failed"
res="$(prop ActiveState) $(prop Result)"
[ "$res" = "inactive success" ] || fail "after stop: '$res' (wanted inactive success)"
left=$(in_ct 5 pgrep -a -u hopper)
[ -z "$left" ] || fail "processes of user hopper left after stop: $left"
[ ! -e "$root/var/lib/hopper/pg/postmaster.pid" ] || fail "postmaster.pid left after stop"
log "stopped cleanly"

# 9. Journal priorities: nothing at err or worse from hopperd in a good run, the
# ready line at notice, per-file lines at info, no raw <N> prefixes.
errs=$(in_ct 10 journalctl -u hopperd -b --no-pager -o cat -p err)
[ -z "$errs" ] || fail "hopperd logged at err or worse: $errs"
in_ct 10 journalctl -u hopperd -b --no-pager -o cat -p notice | grep -q 'ready:' ||
	fail "the ready line is not at notice"
in_ct 10 journalctl -u hopperd -b --no-pager -o cat -p info | grep -q 'a.txt: done' ||
	fail "no per-file info line"
raw=$(in_ct 10 journalctl -u hopperd -b --no-pager -o cat | grep -E '^<[0-7]>')
[ -z "$raw" ] || fail "raw syslog prefixes in the journal: $raw"
log "journal priorities sane"

# 10. Power off.
in_ct 10 systemctl poweroff --no-block >/dev/null 2>&1
for _ in $(seq 150); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$nspawn_pid" 2>/dev/null && fail "container did not power off within 15 s"
wait "$nspawn_pid" 2>/dev/null
nspawn_pid=
log "powered off; all checks passed"
exit 0
