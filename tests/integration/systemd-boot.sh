#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions called through wait_for and trap
# hopperd under a REAL systemd (`make check-systemd`): boots a Debian 12 root
# with systemd-nspawn, installs this build into it (make install PREFIX=/usr,
# the installed default configuration unchanged) and checks what an operator
# relies on, each an assertion with its own message:
#   sysusers/tmpfiles make the user, /etc/hopper and the group-writable inbox;
#   `systemctl enable --now` returns after READY=1, the Status line shows workers and
#   backlog, hopperd and its PostgreSQL run as hopper, never root; files a
#   member of the group hopper copies into the default inbox end `done`;
#   reload after adding a [watch] keeps the MainPID and watches it;
#   `systemd-analyze security` <= 2.0; journal priorities kept (nothing at
#   err in a good run, ready at notice, files at info, no raw <N>); the
#   watchdog: a hung event loop (HOPPER_TEST_HANG) is killed and restarted
#   and every file ends done exactly once; `systemctl stop` drains (Result
#   success, no postgres left, no job left running).
# The root comes from tests/lib/systemd-root.sh (cached tarball, built with
# debootstrap when missing). Runs only when HOPPER_CHECK_SYSTEMD=1 (make
# check-systemd sets it), so `make check` does not boot a container too.
# Needs (else exit 77): root, systemd-nspawn, nsenter, debootstrap or a cached root.
# B = build dir (default build), relative to the repo top or absolute.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$top/$B ;; esac

skip() { echo "skip: $*"; exit 77; }
[ "${HOPPER_CHECK_SYSTEMD:-}" = 1 ] || skip "boots a container: run it with make check-systemd"
[ "$(id -u)" -eq 0 ] || skip "needs root (systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn not installed (apt-get install systemd-container)"
command -v nsenter >/dev/null || skip "nsenter not installed (util-linux)"
rootfs_tar=$("$top/tests/lib/systemd-root.sh" "$B/hopperd" "$B/hopper" "$B/hopper-worker"); rc=$?
[ $rc -eq 77 ] && skip "no root file system for the container (see the message above)"
[ $rc -eq 0 ] && [ -f "$rootfs_tar" ] || { echo "FAIL: cannot build a root file system for the container"; exit 1; }

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
missing=$(for b in /usr/bin/hopperd /usr/bin/hopper /usr/lib/hopper/hopper-worker; do chroot "$root" ldd $b; done 2>&1 | grep "not found")
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

q() { in_ct 20 hopper sql "$1" 2>&1; }
# A count from SQL, or "?" when the query fails.
count() { local v; v=$(q "$1" | tr -d ' ' | grep -E '^[0-9]+$' | head -n 1); echo "${v:-?}"; }

# 3. User, folders, configuration: as installed, nothing edited.
in_ct 20 systemd-sysusers || fail "systemd-sysusers failed"
in_ct 20 systemd-tmpfiles --create >/dev/null 2>&1   # other entries may complain; ours are checked below
in_ct 5 id hopper >/dev/null || fail "sysusers did not create the user hopper"
[ -d "$root/etc/hopper" ] || fail "tmpfiles did not create /etc/hopper"
inbox_mode=$(in_ct 5 stat -c '%a %U %G' /var/lib/hopper/inbox)
[ "$inbox_mode" = "2770 hopper hopper" ] || fail "default inbox: '$inbox_mode' (wanted 2770 hopper hopper)"
in_ct 10 useradd -m -G hopper ann || fail "cannot add a member of the group hopper"
in_ct 20 systemctl daemon-reload || fail "daemon-reload failed"
log "sysusers, tmpfiles: user hopper, inbox $inbox_mode"

# 4. Start as an operator does (enable --now): Type=notify, so it returns
# once READY=1 came.
in_ct 5 systemd-analyze log-level debug
in_ct 60 systemctl enable --now hopperd || fail "systemctl enable --now hopperd failed"
[ "$(in_ct 5 systemctl is-enabled hopperd)" = enabled ] || fail "hopperd is not enabled after systemctl enable --now"
state="$(prop ActiveState) $(prop SubState)"
[ "$state" = "active running" ] || fail "right after systemctl start: '$state', not active running"
in_ct 10 journalctl --no-pager -o cat -b >"$tmp/journal.txt"
main_pid=$(prop MainPID)
grep -q "Got notification message from PID $main_pid (READY=1" "$tmp/journal.txt" ||
	fail "systemctl enable --now returned before hopperd sent READY=1"
in_ct 10 systemctl status hopperd --no-pager >"$tmp/status.txt" 2>&1
grep -q 'Status: ".*workers.*backlog' "$tmp/status.txt" || { cat "$tmp/status.txt"; fail "systemctl status shows no Status line with workers and backlog"; }
log "started after READY=1: $(grep 'Status:' "$tmp/status.txt" | sed 's/^ *//')"
users=$(in_ct 5 ps -o user= -p "$main_pid"; in_ct 5 ps -o user= -C postgres,hopper-worker | sort -u)
[ -n "$(in_ct 5 ps -o pid= -C hopper-worker)" ] || fail "no hopper-worker running"
[ -n "$(in_ct 5 ps -o pid= -C postgres)" ] || fail "no embedded postgres running"
[ "$(sort -u <<<"$users" | tr -d ' ')" = hopper ] || fail "hopperd/postgres/workers run as: $(sort -u <<<"$users" | tr '\n' ' ') (wanted only hopper)"
log "hopperd, its workers and postgres run as hopper"

# 5. Files a member of the group hopper copies into the default inbox.
in_ct 10 runuser -u ann -- sh -c '
	printf "hello plain text\nsecond line\n" > /tmp/a.txt
	printf "# Title\n\nSome *markdown* text.\n" > /tmp/b.md
	printf "<html><head><title>T</title></head><body><h1>Head</h1><p>Para <b>bold</b></p></body></html>\n" > /tmp/c.html
	cp /tmp/a.txt /tmp/b.md /tmp/c.html /var/lib/hopper/inbox/' || fail "a member of the group hopper cannot write into /var/lib/hopper/inbox"
all_done() { [ "$(count "SELECT count(*) FROM hopper.jobs WHERE state = 'done'")" = 3 ]; }
wait_for 60 all_done || { q "SELECT path, state, error FROM hopper.jobs"; fail "the 3 files did not all end done"; }
[ "$(in_ct 10 runuser -u hopper -- hopper sql "SELECT count(*) FROM hopper.jobs" | tr -d ' ' | grep -E '^[0-9]+$')" = 3 ] ||
	fail "hopper sql as user hopper does not work"
log "3 files in the default inbox done"
# `hopper status` with no arguments: for root and for a member of the group
# hopper (the CLI finds the system service's configuration by itself).
for who in root ann; do
	st=$(in_ct 20 runuser -u $who -- env -u HOPPER_CONFIG hopper status 2>&1); rc=$?
	[ $rc -eq 0 ] && grep -q 'inbox' <<<"$st" && grep -q 'done' <<<"$st" ||
		fail "hopper status (no arguments) as $who: rc=$rc: $st"
done
log "hopper status with no arguments works for root and for ann (group hopper)"

# 6. Reload after adding a [watch]: RELOADING=1 then READY=1, same MainPID, new folder watched.
in_ct 10 sh -c 'mkdir -p /srv/second && chown hopper:hopper /srv/second &&
	printf "\n[watch second]\npath = /srv/second\n" >> /etc/hopper/hopper.conf' || fail "cannot add a [watch]"
in_ct 30 systemctl reload hopperd || fail "systemctl reload hopperd failed"
state="$(prop ActiveState) $(prop SubState) $(prop MainPID)"
[ "$state" = "active running $main_pid" ] || fail "after reload: '$state' (wanted active running $main_pid)"
in_ct 10 journalctl --no-pager -o cat -b >"$tmp/journal.txt"
awk -v p="Got notification message from PID $main_pid (" '
	index($0, p "RELOADING=1") { r = 1 }
	r && index($0, p "READY=1") { ok = 1 }
	END { exit !ok }' "$tmp/journal.txt" || fail "no RELOADING=1 then READY=1 from hopperd"
in_ct 5 sh -c 'printf "second folder\n" > /srv/second/s.txt'
second() { [ "$(count "SELECT count(*) FROM hopper.jobs WHERE watch = 'second' AND state = 'done'")" = 1 ]; }
wait_for 30 second || fail "the [watch] added by reload is not converted: $(q "SELECT path, state, watch FROM hopper.jobs")"
in_ct 5 systemd-analyze log-level info
log "reload: same MainPID $main_pid, new watch converted"

# 7. Exposure, and `hopper doctor` on the running service (all well: exit 0,
# the database reachable, the installed unit rated).
sec=$(in_ct 30 systemd-analyze security hopperd --no-pager 2>&1)
score=$(sed -n 's/.*Overall exposure level for hopperd.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[ -n "$score" ] || fail "no exposure score from systemd-analyze security"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure $score is above 2.0"
log "systemd-analyze security: exposure $score"
doc=$(in_ct 60 env -u HOPPER_CONFIG hopper doctor 2>&1); rc=$?
[ $rc -eq 0 ] || fail "hopper doctor on the running service: exit $rc: $doc"
grep -q '^ok    database: reachable' <<<"$doc" || fail "hopper doctor: database not reachable: $doc"
grep -q '^ok    systemd: .*hopperd.service exposure [0-9.]*$' <<<"$doc" || fail "hopper doctor does not rate the unit: $doc"
log "hopper doctor: exit 0; $(grep -c '^ok' <<<"$doc") checks ok, $(grep -c '^warn' <<<"$doc") warnings"

# 8. Journal priorities of a good run: nothing at err or worse from hopperd,
# the ready line at notice, per-file lines at info, no raw <N> prefixes.
errs=$(in_ct 10 journalctl -u hopperd -b --no-pager -o cat -p err)
[ -z "$errs" ] || fail "hopperd logged at err or worse in a good run: $errs"
in_ct 10 journalctl -u hopperd -b --no-pager -o cat -p notice | grep -q 'ready:' ||
	fail "the ready line is not at notice"
in_ct 10 journalctl -u hopperd -b --no-pager -o cat -p info | grep -q 'a.txt: done' ||
	fail "no per-file line at info"
raw=$(in_ct 10 journalctl -u hopperd -b --no-pager -o cat | grep -E '^<[0-7]>')
[ -z "$raw" ] || fail "raw syslog prefixes in the journal: $raw"
log "journal priorities kept"

# 9. Watchdog: the event loop hangs (test-only trigger, set in a drop-in the
# installed unit never has); systemd kills and restarts hopperd; every file
# dropped around the hang ends done, once.
in_ct 10 sh -c 'mkdir -p /etc/systemd/system/hopperd.service.d && printf "[Service]\nWatchdogSec=4s\nEnvironment=HOPPER_TEST_HANG=/var/lib/hopper/hang\n" > /etc/systemd/system/hopperd.service.d/test-hang.conf' ||
	fail "cannot write the test drop-in"
in_ct 20 systemctl daemon-reload || fail "daemon-reload failed"
in_ct 60 systemctl restart hopperd || fail "restart with the test drop-in failed"
pid1=$(prop MainPID) restarts0=$(prop NRestarts)
in_ct 30 sh -c 'i=0; while [ $i -lt 300 ]; do yes "file $i: the quick brown fox jumps over the lazy dog" | head -c 20000 > /tmp/w$i.txt; i=$((i+1)); done;
	mkdir -p /var/lib/hopper/inbox/wd && chown hopper:hopper /var/lib/hopper/inbox/wd &&
	mv /tmp/w*.txt /var/lib/hopper/inbox/wd/ && touch /var/lib/hopper/hang' ||
	fail "cannot drop the watchdog files"
taken() { [ ! -e "$root/var/lib/hopper/hang" ]; }
wait_for 20 taken || fail "hopperd did not take the hang trigger"
held=$(count "SELECT count(*) FROM hopper.jobs WHERE state = 'running'")
restarted() { [ "$(prop NRestarts)" -gt "$restarts0" ] && [ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" != "$pid1" ]; }
wait_for 60 restarted || fail "hopperd was not restarted after the hang: $(prop ActiveState) $(prop SubState) NRestarts=$(prop NRestarts)"
in_ct 10 journalctl -u hopperd -b --no-pager -o cat | grep -q 'Watchdog timeout' || fail "no 'Watchdog timeout' in the journal"
wd_done() { [ "$(count "SELECT count(*) FROM hopper.jobs WHERE path LIKE '/var/lib/hopper/inbox/wd/%' AND state = 'done'")" = 300 ]; }
wait_for 120 wd_done || fail "after the restart not all 300 files are done: $(q "SELECT state, count(*) FROM hopper.jobs WHERE path LIKE '%/wd/%' GROUP BY 1") $(q "SELECT path, attempts, error FROM hopper.jobs WHERE path LIKE '%/wd/%' AND state <> 'done'")"
dups=$(count "SELECT count(*) FROM (SELECT path FROM hopper.jobs WHERE path LIKE '%/wd/%' GROUP BY path HAVING count(*) > 1) x")
[ "$dups" = 0 ] || fail "$dups files have more than one job after the restart"
log "watchdog: hung loop killed and restarted (MainPID $pid1 -> $(prop MainPID)); $held job(s) were running at the hang; 300 files done once each"
in_ct 10 rm -f /etc/systemd/system/hopperd.service.d/test-hang.conf
in_ct 20 systemctl daemon-reload

# 10. Stop drains: files in flight, then stop; nothing left running.
in_ct 30 sh -c 'i=0; while [ $i -lt 200 ]; do yes "stop file $i: the quick brown fox jumps over the lazy dog" | head -c 20000 > /tmp/s$i.txt; i=$((i+1)); done;
	mkdir -p /var/lib/hopper/inbox/st && mv /tmp/s*.txt /var/lib/hopper/inbox/st/' || fail "cannot drop files before stop"
sleep 1
in_ct 60 systemctl stop hopperd || fail "systemctl stop hopperd failed"
res="$(prop ActiveState) $(prop Result)"
[ "$res" = "inactive success" ] || fail "after stop: '$res' (wanted inactive success)"
left=$(in_ct 5 pgrep -a -u hopper)
[ -z "$left" ] || fail "processes of user hopper left after stop: $left"
[ ! -e "$root/var/lib/hopper/pg/postmaster.pid" ] || fail "postmaster.pid left after stop"
running=$(in_ct 30 runuser -u hopper -- sh -c 'echo "SELECT count(*) AS n FROM hopper.jobs WHERE state = '"'running'"';" |
	$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)/postgres --single -D /var/lib/hopper/pg hopper 2>&1' | sed -n 's/.*n = "\([0-9]*\)".*/\1/p')
[ "$running" = 0 ] || fail "jobs left running after stop: '${running}'"
log "stopped: Result=success, no postgres, no job running"

# 11. Power off.
in_ct 10 systemctl poweroff --no-block >/dev/null 2>&1
for _ in $(seq 150); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$nspawn_pid" 2>/dev/null && fail "container did not power off within 15 s"
wait "$nspawn_pid" 2>/dev/null
nspawn_pid=
log "powered off; all checks passed"
exit 0
