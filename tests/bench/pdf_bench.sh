#!/usr/bin/env bash
# PDF throughput against peers, same files, same run (make bench).
#   tests/bench/pdf_bench.sh BUILD_DIR ROUNDS FILE...
# Each tool runs once per file per round, as a process (start-up included
# for all three): pdftotext (poppler), mutool draw -F txt (MuPDF's plain
# text) and hopper convert (sandboxed worker, structure kept). Prints
# files/s, MB/s and hopper's ratio to each peer; then hopper's converter
# in process (bench_convert: no process start, no sandbox).
set -u
B=$1; rounds=$2; shift 2
files=("$@")
bytes=0
for f in "${files[@]}"; do bytes=$((bytes + $(stat -c %s "$f"))); done
n=$(( ${#files[@]} * rounds ))

run() {  # name cmd...: prints elapsed ns
	local start end
	start=$(date +%s%N)
	for ((r = 0; r < rounds; r++)); do
		for f in "${files[@]}"; do "$@" "$f" >/dev/null 2>&1; done
	done
	end=$(date +%s%N)
	echo $((end - start))
}

true_cmd() { /bin/true "$1"; }
pdftotext_cmd() { pdftotext -q "$1" -; }
mutool_cmd() { mutool draw -q -F txt -o - "$1"; }
hopper_cmd() { "$B/hopper" convert "$1"; }

declare -A ns
ns[true]=$(run true_cmd)
for tool in pdftotext mutool hopper; do
	command -v "${tool%%_*}" >/dev/null 2>&1 || [ "$tool" = hopper ] || { echo "  $tool: not installed, skipped"; continue; }
	ns[$tool]=$(run ${tool}_cmd)
done
printf '  %d PDFs x %d rounds, %.1f MB per round\n' ${#files[@]} "$rounds" "$(echo "$bytes / 1000000" | bc -l)"
for tool in pdftotext mutool hopper; do
	[ -n "${ns[$tool]:-}" ] || continue
	t=${ns[$tool]}
	printf '  %-32s %8.1f files/s %8.2f MB/s\n' "$tool" \
		"$(echo "$n * 1000000000 / $t" | bc -l)" "$(echo "$bytes * $rounds * 1000 / $t" | bc -l)"
done
printf '  %-32s %8.1f files/s (the cost of a process alone, for scale)\n' "/bin/true" \
	"$(echo "$n * 1000000000 / ${ns[true]}" | bc -l)"
for peer in pdftotext mutool; do
	[ -n "${ns[$peer]:-}" ] && printf '  hopper convert vs %-14s %6.2fx (files/s; > 1 is faster)\n' "$peer" \
		"$(echo "${ns[$peer]} / ${ns[hopper]}" | bc -l)"
done
# in process: total seconds over all files from bench_convert's own timing
start=$(date +%s%N)
"$B/tests/bench/bench_convert" "$rounds" "${files[@]}" >/dev/null
end=$(date +%s%N)
t=$((end - start))
printf '  %-32s %8.1f files/s %8.2f MB/s (one process, as a hopperd worker runs)\n' \
	"hopper converter in process" \
	"$(echo "$n * 1000000000 / $t" | bc -l)" "$(echo "$bytes * $rounds * 1000 / $t" | bc -l)"
# pdftotext without its process start, estimated: its time minus /bin/true's
net=$(( ${ns[pdftotext]:-0} - ${ns[true]} ))
[ "$net" -gt 0 ] && printf '  in process vs pdftotext minus process start: %.2fx\n' "$(echo "$net / $t" | bc -l)"
