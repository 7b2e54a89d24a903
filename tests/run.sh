#!/usr/bin/env bash
# Runs hopper's tests. Each test is a program: exit 0 pass, 77 skip (it
# says why), anything else fail (liburing's test/ convention).
#   tests/run.sh [unit|integration]    (B=build dir, default build)
# Unit tests are cmocka programs (build/tests/unit/test_*); integration
# tests are C programs (build/tests/integration/test_*) and shell scripts
# (tests/integration/*.sh) that drive the real daemon and PostgreSQL.
set -u
B=${B:-build}
what=${1:-all}
pass=0 fail=0 skip=0 failed=()

run_one() {
	local name=$1; shift
	local log
	log=$(mktemp)
	local start=$SECONDS
	"$@" >"$log" 2>&1
	local rc=$?
	local took=$((SECONDS - start))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $name (${took}s)"
	   grep -E '^\[  (PASSED|FAILED|SKIPPED)  \]|^note: ' "$log" | sed 's/^/     /' ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (exit $rc, ${took}s)"
	   tail -n 60 "$log" | sed 's/^/     | /' ;;
	esac
	rm -f "$log"
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$B"/tests/unit/test_*; do
		[ -x "$t" ] || continue
		case $t in *.o|*.d) continue ;; esac
		run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$what" = all ] || [ "$what" = integration ]; then
	for t in "$B"/tests/integration/test_*; do
		[ -x "$t" ] || continue
		case $t in *.o|*.d) continue ;; esac
		run_one "integration/$(basename "$t")" "$t"
	done
	for t in tests/integration/*.sh; do
		[ -f "$t" ] || continue
		run_one "integration/$(basename "$t" .sh)" bash "$t"
	done
fi

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
