# check.sh — what the shell tests share: sourced by tests/integration/*.sh
#   fail MESSAGE     print "FAIL: MESSAGE" and count it in $fails
#   ok MESSAGE       print "ok: MESSAGE"
#   wait_for SECONDS COMMAND...
#                    run COMMAND every 0.2 s until it succeeds (0) or
#                    SECONDS have passed (1)
#   wait_alive PID SECONDS COMMAND...
#                    the same, but gives up (1) as soon as PID has exited:
#                    a test waiting on hopperd stops when hopperd died
#   need_daemon      for a test of the whole daemon: sets bdir (the build
#                    folder, absolute, from $B and $top), hopperd and pgbin
#                    (PostgreSQL's server programs); exits 77 when those are
#                    not installed, 1 when hopperd is not built
# The test sets fails=0 itself and exits 1 when it is not 0.
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
wait_alive() {
	local p=$1 end=$((SECONDS + $2)); shift 2
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		kill -0 "$p" 2>/dev/null || return 1
		sleep 0.2
	done
}
need_daemon() {
	case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
	hopperd=$bdir/hopperd
	pgbin=$(pg_config --bindir 2>/dev/null)
	[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ ! -x "$pgbin/postgres" ]; then
		echo "skip: no PostgreSQL server binaries (apt-get install postgresql)"
		exit 77
	fi
	[ -x "$hopperd" ] || { echo "fail: $hopperd not built"; exit 1; }
}
