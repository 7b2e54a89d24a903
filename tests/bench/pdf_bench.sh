#!/usr/bin/env bash
# PDF throughput against peers, same files, same run (make bench).
#   tests/bench/pdf_bench.sh BUILD_DIR ROUNDS FILE...
# Each tool runs once per file per round, as a process (start-up included
# for all three): pdftotext (poppler), mutool draw -F txt (MuPDF's plain
# text) and hopper convert (sandboxed worker, structure kept). Prints
# files/s, MB/s and hopper's ratio to each peer, by the wall clock and by
# CPU time (user + system of the processes: steadier on a shared machine);
# then hopper's converter in process (bench_convert: no process start, no
# sandbox); then all files merged into one document (mutool merge), where
# per-page work counts more than process start-up.
set -u
B=$1; rounds=$2; shift 2
files=("$@")
bytes=0
for f in "${files[@]}"; do bytes=$((bytes + $(stat -c %s "$f"))); done
n=$(( ${#files[@]} * rounds ))

run() {  # name cmd...: prints "wall_ns cpu_ns" (CPU: user + system of the children)
	local TIMEFORMAT='%3R %3U %3S' t
	t=$( { time for ((r = 0; r < rounds; r++)); do
		for f in "${files[@]}"; do "$@" "$f" >/dev/null 2>&1; done
	done; } 2>&1 )
	awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.0f %.0f\n", a[1] * 1e9, (a[2] + a[3]) * 1e9 }'
}

true_cmd() { /bin/true "$1"; }
pdftotext_cmd() { pdftotext -q "$1" -; }
mutool_cmd() { mutool draw -q -F txt -o - "$1"; }
hopper_cmd() { "$B/hopper" convert "$1"; }

declare -A ns cpu
read -r ns[true] cpu[true] < <(run true_cmd)
for tool in pdftotext mutool hopper; do
	command -v "${tool%%_*}" >/dev/null 2>&1 || [ "$tool" = hopper ] || { echo "  $tool: not installed, skipped"; continue; }
	read -r ns[$tool] cpu[$tool] < <(run ${tool}_cmd)
done
printf '  %d PDFs x %d rounds, %.1f MB per round\n' ${#files[@]} "$rounds" "$(echo "$bytes / 1000000" | bc -l)"
for tool in pdftotext mutool hopper; do
	[ -n "${ns[$tool]:-}" ] || continue
	t=${ns[$tool]} c=$(( ${cpu[$tool]} > 0 ? ${cpu[$tool]} : 1 ))
	printf '  %-32s %8.1f files/s %8.2f MB/s   %8.1f files/s by CPU time\n' "$tool" \
		"$(echo "$n * 1000000000 / $t" | bc -l)" "$(echo "$bytes * $rounds * 1000 / $t" | bc -l)" \
		"$(echo "$n * 1000000000 / $c" | bc -l)"
done
printf '  %-32s %8.1f files/s (the cost of a process alone, for scale)\n' "/bin/true" \
	"$(echo "$n * 1000000000 / ${ns[true]}" | bc -l)"
for peer in pdftotext mutool; do
	[ -n "${ns[$peer]:-}" ] && printf '  hopper convert vs %-14s %6.2fx wall, %.2fx CPU (files/s; > 1 is faster)\n' "$peer" \
		"$(echo "${ns[$peer]} / ${ns[hopper]}" | bc -l)" "$(echo "${cpu[$peer]} / (${cpu[hopper]} + 1)" | bc -l)"
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
# One large document (all the files above merged): per-page work rather
# than process start-up, which dominates small files for every tool.
if command -v mutool >/dev/null && command -v pdftotext >/dev/null; then
	big=$(mktemp --suffix=.pdf)
	if mutool merge -o "$big" "${files[@]}" >/dev/null 2>&1; then
		files=("$big")
		pages=$(mutool info "$big" 2>/dev/null | sed -n 's/^Pages: *//p')
		read -r _ c_pt < <(run pdftotext_cmd)
		read -r _ c_mu < <(run mutool_cmd)
		read -r _ c_h < <(run hopper_cmd)
		printf '  one document of all %d files merged (%s pages, %.1f MB), CPU per conversion: pdftotext %.0f ms, mutool %.0f ms, hopper convert %.0f ms\n' \
			"$(( n / rounds ))" "${pages:-?}" "$(echo "$(stat -c %s "$big") / 1000000" | bc -l)" \
			"$(echo "$c_pt / $rounds / 1000000" | bc -l)" "$(echo "$c_mu / $rounds / 1000000" | bc -l)" \
			"$(echo "$c_h / $rounds / 1000000" | bc -l)"
		printf '  hopper convert vs pdftotext on it: %.2fx, vs mutool: %.2fx (CPU; > 1 is faster)\n' \
			"$(echo "$c_pt / $c_h" | bc -l)" "$(echo "$c_mu / $c_h" | bc -l)"
	fi
	rm -f "$big"
fi
