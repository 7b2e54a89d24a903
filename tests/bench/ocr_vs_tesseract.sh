#!/usr/bin/env bash
# OCR pages/s on one core: `hopper convert` of a picture of text (the real
# sandboxed worker, Tesseract in process, one thread) against the
# `tesseract` command on the same image, both single-threaded
# (OMP_THREAD_LIMIT=1), N runs each in the same run. Prints both rates and
# the ratio; process start-up is in both.
#   tests/bench/ocr_vs_tesseract.sh BUILD_DIR N IMAGE...
set -u
b=$1 n=$2
shift 2
command -v tesseract >/dev/null || { echo "  (tesseract command not installed: apt-get install tesseract-ocr)"; exit 0; }
rate() { # rate N COMMAND... : pages per second over N runs of COMMAND on every image
	local t0 t1 runs=$1
	shift
	t0=$(date +%s.%N)
	for _ in $(seq "$runs"); do
		for img in "${images[@]}"; do "$@" "$img" >/dev/null 2>&1; done
	done
	t1=$(date +%s.%N)
	awk -v n="$runs" -v k="${#images[@]}" -v a="$t0" -v b="$t1" 'BEGIN { print n * k / (b - a) }'
}
images=("$@")
export OMP_THREAD_LIMIT=1
hop=$(rate "$n" "$b/hopper" convert)
tess_one() { tesseract "$1" - ; }
tes=$(rate "$n" tess_one)
printf '  hopper convert  %7.2f pages/s\n  tesseract       %7.2f pages/s\n  ratio           %7.2f\n' "$hop" "$tes" \
	"$(awk -v a="$hop" -v b="$tes" 'BEGIN { print a / b }')"
