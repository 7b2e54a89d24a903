#!/usr/bin/env bash
# Run libFuzzer targets one after the other (make fuzz).
#   tests/fuzz/run.sh FUZZ_BUILD_DIR SECONDS TARGET...
# Each target runs SECONDS seconds (niced) on a corpus kept in
# FUZZ_BUILD_DIR/corpus/TARGET, seeded on first use from the test data, the
# peer documents (../shared/peer-tests, when present) and
# tests/data/regress/TARGET. A crash leaves its input in
# FUZZ_BUILD_DIR/crashes/ and fails the run: copy it to
# tests/data/regress/TARGET/ (make check then runs it for ever) and fix it.
# Prints one line per target: executions, corpus size, findings.
set -u
fb=$1 secs=$2; shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$fb/crashes"
failed=()

seed() { # seed TARGET DIR: copy the files a target starts from into DIR
	local t=$1 dir=$2 exts
	case $t in
	frame) exts="frame" ;;
	config) exts="conf conf.in" ;;
	chunk) exts="md" ;;
	detect) exts="*" ;;
	convert_text) exts="txt" ;;
	convert_markdown) exts="md" ;;
	convert_html) exts="html htm" ;;
	convert_csv) exts="csv" ;;
	convert_json) exts="json" ;;
	convert_xml) exts="xml svg" ;;
	convert_code) exts="c h py sh js go rs" ;;
	convert_image) exts="png jpg jpeg tif tiff webp gif bmp" ;;
	convert_docx | convert_xlsx | convert_pptx | convert_epub | convert_odt | convert_ods | convert_odp | convert_pdf)
		exts=${t#convert_} ;;
	*) exts="*" ;;
	esac
	local src
	for src in "$top/tests/data/convert" "$top/tests/data/office" "$top/tests/data/golden" \
		"$top/tests/data/ocr" "$top/tests/fuzz/seeds/$t" "$top/etc" \
		"$top/../shared/peer-tests"; do
		[ -d "$src" ] || continue
		for e in $exts; do
			if [ "$e" = "*" ]; then
				find "$src" -type f -size -1024k ! -name '*.sh'
			else
				find "$src" -type f -size -1024k -name "*.$e"
			fi
		done
	done | head -n 300 | while read -r f; do cp -- "$f" "$dir/$(sha1sum <"$f" | cut -c1-16)"; done
	[ -d "$top/tests/data/regress/$t" ] && cp "$top/tests/data/regress/$t"/* "$dir/" 2>/dev/null
	return 0
}

for t in "$@"; do
	bin=$fb/fuzz/fuzz_$t
	[ -x "$bin" ] || { echo "$t: $bin not built"; failed+=("$t"); continue; }
	corpus=$fb/corpus/$t
	if [ ! -d "$corpus" ]; then mkdir -p "$corpus"; seed "$t" "$corpus"; fi
	log=$fb/fuzz-$t.log
	nice -n 10 "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 -max_len=65536 \
		-artifact_prefix="$fb/crashes/$t-" -print_final_stats=1 "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	units=$(find "$corpus" -type f | wc -l)
	if [ $rc -eq 0 ]; then
		echo "$t: ${execs:-?} executions in ${secs} s, corpus $units, no findings"
	else
		echo "$t: FINDING after ${execs:-?} executions (exit $rc): $(grep -m1 -E 'ERROR|runtime error|Assertion|SUMMARY' "$log")"
		ls -1 "$fb/crashes/$t-"* 2>/dev/null | sed 's/^/    /'
		failed+=("$t")
	fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz findings or failures: ${failed[*]} (logs in $fb/fuzz-*.log)"; exit 1; }
