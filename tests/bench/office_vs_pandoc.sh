#!/usr/bin/env bash
# make bench: DOCX and EPUB, hopper against pandoc on the same files in the
# same run. Both as one process per file (`hopper convert FILE` with its
# sandboxed worker, `pandoc -t gfm FILE`), ROUNDS times each; prints
# files/s, MB/s and the ratio per file. Skips when pandoc is missing.
set -u
B=${B:-build}
ROUNDS=${ROUNDS:-5}
command -v pandoc >/dev/null || { echo "  pandoc not installed: DOCX/EPUB comparison skipped"; exit 0; }
now() { date +%s%N; }
run() { # cmd... -> ns for ROUNDS runs
	local t0 t1 i
	t0=$(now)
	for ((i = 0; i < ROUNDS; i++)); do "$@" >/dev/null 2>&1; done
	t1=$(now)
	echo $((t1 - t0))
}
printf '  %-28s %9s %13s %13s %13s %8s %8s\n' file bytes "in-process" "hopper cmd" pandoc "in-proc" "cmd"
th=0 tp=0
for f in "$@"; do
	[ -f "$f" ] || continue
	h=$(run "$B/hopper" convert "$f")
	p=$(run pandoc -t gfm "$f")
	th=$((th + h)) tp=$((tp + p))
	sz=$(stat -c %s "$f")
	# the converter alone (what a warm worker spends per file)
	mibs=$("$B/tests/bench/bench_convert" $((ROUNDS * 20)) "$f" | sed -n 's/.*: *\([0-9.]*\) MiB\/s/\1/p')
	awk -v n="$(basename "$f")" -v sz="$sz" -v r="$ROUNDS" -v h="$h" -v p="$p" -v m="$mibs" 'BEGIN {
		inp = m * 1048576 / sz
		printf "  %-28s %9d %9.1f f/s %9.1f f/s %9.1f f/s %7.0fx %7.1fx\n", n, sz, inp, r / (h / 1e9), r / (p / 1e9), inp / (r / (p / 1e9)), p / h }'
done
awk -v h="$th" -v p="$tp" 'BEGIN { if (h > 0) printf "  ratio = hopper / pandoc files/s; all files, hopper convert command: %.1fx pandoc\n", p / h }'
