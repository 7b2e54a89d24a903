#!/usr/bin/env bash
# Every input that ever crashed a fuzz target stays a test: each fuzz target
# (tests/fuzz/fuzz_*.c), built without libFuzzer (tests/fuzz/standalone.c)
# in this build's mode (SANITIZE=... included), runs over
# tests/data/regress/TARGET/ and over the converter test data. Any crash,
# sanitizer report or failed assertion fails the test.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
ran=0 fails=0
for bin in "$bdir"/tests/fuzz/fuzz_*; do
	case $bin in *.o|*.d) continue ;; esac
	[ -x "$bin" ] || continue
	t=${bin##*/fuzz_}
	dirs=("$top/tests/data/regress/$t")
	case $t in detect|convert_*|chunk) dirs+=("$top/tests/data/convert" "$top/tests/data/office" "$top/tests/data/golden") ;; esac
	[ -d "$top/tests/fuzz/seeds/$t" ] && dirs+=("$top/tests/fuzz/seeds/$t")
	out=$("$bin" "${dirs[@]}" 2>&1); rc=$?
	case $rc in
	0) n=$(tail -n 1 <<<"$out" | cut -d' ' -f1); echo "ok: $t: $n input(s)"; ran=$((ran + 1)) ;;
	77) echo "ok: $t: no regression inputs yet" ;;
	*) echo "FAIL: $t (exit $rc)"; tail -n 30 <<<"$out"; fails=$((fails + 1)) ;;
	esac
done
[ $ran -gt 0 ] || { echo "fail: no fuzz target built in $bdir/tests/fuzz (make tests)"; exit 1; }
[ $fails -eq 0 ]
