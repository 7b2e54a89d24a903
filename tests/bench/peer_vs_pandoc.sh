#!/usr/bin/env bash
# make bench: hopper against pandoc (-t gfm) on the same peer documents in
# the same run. Three ways, each as files/s by the wall clock and by CPU
# time (user + system of every process; steadier than the wall clock on a
# machine shared with other work):
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
batch=()
for ((i = 0; i < rounds; i++)); do batch+=("${files[@]}"); done

# measure NAME N CMD...: runs CMD, prints the rates, sets WALL and CPU
# (files/s)
measure() {
	local name=$1 n=$2 t
	shift 2
	TIMEFORMAT='%R %U %S'
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
	read -r WALL CPU < <(awk -v n="$n" -v t="$t" 'BEGIN { split(t, a, " ");
		w = a[1] > 0 ? a[1] : 0.001; c = a[2] + a[3] > 0 ? a[2] + a[3] : 0.001;
		printf "%.4f %.4f\n", n / w, n / c }')
	awk -v e="$ext" -v name="$name" -v w="$WALL" -v c="$CPU" -v b="$bytes" -v f=${#files[@]} 'BEGIN {
		printf "  %-5s %-16s %8.1f files/s %8.2f MB/s (wall)  %8.1f files/s (CPU)\n",
		       e, name, w, w * b / f / 1e6, c }'
}
hopper_each() { local f; for f in "$@"; do "$hopper" convert "$f"; done; }
pandoc_each() { local f; for f in "$@"; do pandoc -t gfm "$f"; done; }

measure "hopper batch" ${#batch[@]} "$hopper" convert "${batch[@]}"; hbw=$WALL hbc=$CPU
measure "hopper per file" ${#batch[@]} hopper_each "${batch[@]}"; hpw=$WALL hpc=$CPU
measure "pandoc" ${#files[@]} pandoc_each "${files[@]}"; pw=$WALL pc=$CPU
awk -v e="$ext" -v hbw="$hbw" -v hbc="$hbc" -v hpw="$hpw" -v hpc="$hpc" -v pw="$pw" -v pc="$pc" 'BEGIN {
	printf "  %-5s hopper/pandoc per file: %.1fx wall, %.1fx CPU; batch: %.1fx wall, %.1fx CPU (target >= 20x)\n",
	       e, hpw / pw, hpc / pc, hbw / pw, hbc / pc }'
