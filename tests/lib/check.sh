# check.sh — what the shell tests share: sourced by tests/integration/*.sh
#   fail MESSAGE     print "FAIL: MESSAGE" and count it in $fails
#   ok MESSAGE       print "ok: MESSAGE"
#   wait_for SECONDS COMMAND...
#                    run COMMAND every 0.2 s until it succeeds (0) or
#                    SECONDS have passed (1)
#   wait_alive PID SECONDS COMMAND...
#                    the same, but gives up (1) as soon as PID has exited:
#                    a test waiting on hopperd stops when hopperd died
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
