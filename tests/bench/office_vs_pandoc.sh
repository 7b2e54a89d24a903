#!/usr/bin/env bash
# make bench: DOCX and EPUB, hopper against pandoc on the same files in the
# same run. Both as one process per file (`hopper convert FILE` with its
# sandboxed worker, `pandoc -t gfm FILE`), ROUNDS times each; prints
# files/s, MB/s and the ratio per file. Skips when pandoc is missing.
# The last column is the in-process ratio by CPU time (user + system:
# bench_convert ROUNDS*20+1 rounds minus 1 round, so its start-up is
# excluded, against pandoc's processes), steadier than the wall clock on a
# shared machine.
set -u
B=${B:-build}
ROUNDS=${ROUNDS:-5}
command -v pandoc >/dev/null || { echo "  pandoc not installed: DOCX/EPUB comparison skipped"; exit 0; }
now() { date +%s%N; }
cpu_ns() { # cmd... -> user + system ns of one run
	local TIMEFORMAT='%3U %3S' t
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
	awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.0f\n", (a[1] + a[2]) * 1e9 }'
}
run() { # cmd... -> ns for ROUNDS runs
	local t0 t1 i
	t0=$(now)
	for ((i = 0; i < ROUNDS; i++)); do "$@" >/dev/null 2>&1; done
	t1=$(now)
	echo $((t1 - t0))
}
printf '  %-28s %9s %13s %13s %13s %8s %8s %8s\n' file bytes "in-process" "hopper cmd" pandoc "in-proc" "cmd" "CPU"
th=0 tp=0
for f in "$@"; do
	[ -f "$f" ] || continue
	h=$(run "$B/hopper" convert "$f")
	p=$(run pandoc -t gfm "$f")
	th=$((th + h)) tp=$((tp + p))
	sz=$(stat -c %s "$f")
	# the converter alone (what a warm worker spends per file)
	mibs=$("$B/tests/bench/bench_convert" $((ROUNDS * 20)) "$f" | sed -n 's/.*: *\([0-9.]*\) MiB\/s/\1/p')
	c1=$(cpu_ns "$B/tests/bench/bench_convert" 1 "$f")
	cn=$(cpu_ns "$B/tests/bench/bench_convert" $((ROUNDS * 20 + 1)) "$f")
	cp=0
	for ((i = 0; i < ROUNDS; i++)); do cp=$((cp + $(cpu_ns pandoc -t gfm "$f"))); done
	awk -v n="$(basename "$f")" -v sz="$sz" -v r="$ROUNDS" -v h="$h" -v p="$p" -v m="$mibs" \
	    -v c1="$c1" -v cn="$cn" -v cp="$cp" 'BEGIN {
		inp = m * 1048576 / sz
		ch = (cn - c1) / (r * 20); if (ch <= 0) ch = 1
		printf "  %-28s %9d %9.1f f/s %9.1f f/s %9.1f f/s %7.0fx %7.1fx %7.0fx\n", n, sz, inp, r / (h / 1e9), r / (p / 1e9), inp / (r / (p / 1e9)), p / h, (cp / r) / ch }'
done
awk -v h="$th" -v p="$tp" 'BEGIN { if (h > 0) printf "  ratio = hopper / pandoc files/s; all files, hopper convert command: %.1fx pandoc\n", p / h }'
