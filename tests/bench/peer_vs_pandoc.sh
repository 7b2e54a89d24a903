#!/usr/bin/env bash
# make bench: hopper against pandoc (-t gfm) on the same peer documents in
# the same run. Three rates, files/s and MB/s:
#   hopper batch     one `hopper convert F1 F2 ...` for all files: one
#                    sandboxed converter child for all, as a worker works
#   hopper per file  one `hopper convert F` per file (process start-up,
#                    dynamic linking and sandbox set-up every time)
#   pandoc           one `pandoc -t gfm F` per file
#   tests/bench/peer_vs_pandoc.sh BUILD_DIR EXT [ROUNDS]
# EXT selects ../shared/peer-tests/markitdown/files/*.EXT (html, docx, epub).
set -u
B=${1:-build} ext=${2:-html} rounds=${3:-5}
top=$(cd "$(dirname "$0")/../.." && pwd)
hopper=$B/hopper
case $hopper in /*) ;; *) hopper=$top/$hopper ;; esac
files=("$top"/../shared/peer-tests/markitdown/files/*."$ext")
[ -f "${files[0]}" ] || { echo "  $ext: no peer documents"; exit 0; }
command -v pandoc >/dev/null || { echo "  $ext: pandoc not installed (apt-get install pandoc), no baseline"; exit 0; }
bytes=$(cat "${files[@]}" | wc -c)
now() { date +%s%N; }

# report NAME FILES NS: prints the line, sets RATE (files/s)
report() {
	local ns=$3
	[ "$ns" -gt 0 ] || ns=1
	RATE=$(awk -v n="$2" -v ns="$ns" 'BEGIN { printf "%.3f", n / (ns / 1e9) }')
	awk -v n="$2" -v ns="$ns" -v b="$bytes" -v f=${#files[@]} -v name="$1" -v e="$ext" 'BEGIN {
		printf "  %-5s %-16s %8.1f files/s %8.2f MB/s\n", e, name, n / (ns / 1e9), b * n / f / 1e6 / (ns / 1e9) }'
}

batch=()
for ((i = 0; i < rounds; i++)); do batch+=("${files[@]}"); done
t0=$(now)
"$hopper" convert "${batch[@]}" >/dev/null 2>&1 || echo "  (hopper convert failed on some $ext file)"
t1=$(now)
report "hopper batch" ${#batch[@]} $((t1 - t0)); hb=$RATE

t0=$(now)
for f in "${batch[@]}"; do "$hopper" convert "$f" >/dev/null 2>&1; done
t1=$(now)
report "hopper per file" ${#batch[@]} $((t1 - t0)); hp=$RATE

t0=$(now)
for f in "${files[@]}"; do pandoc -t gfm "$f" >/dev/null 2>&1; done
t1=$(now)
report "pandoc" ${#files[@]} $((t1 - t0)); p=$RATE

awk -v hb="$hb" -v hp="$hp" -v p="$p" -v e="$ext" 'BEGIN {
	printf "  %-5s hopper/pandoc: %.1fx batch, %.1fx per file (target >= 20x)\n", e, hb / p, hp / p }'
