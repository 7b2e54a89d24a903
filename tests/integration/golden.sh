#!/usr/bin/env bash
# Golden tests: every file in tests/data/golden/ that has a twin with the
# same stem and the extension .md (page.html + page.md, sheet.csv +
# sheet.md; a Markdown input is named *.markdown) is converted with
# `hopper convert` (the same sandboxed code as the workers) and must give
# exactly the twin. Adding a format's samples needs no change here.
#   GOLDEN_UPDATE=1 bash tests/integration/golden.sh   rewrites the twins
#   (review the diff before committing it).
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
hopper=$bdir/hopper
dir=$top/tests/data/golden
[ -x "$hopper" ] || { echo "fail: $hopper not built"; exit 1; }
[ -d "$dir" ] || { echo "skip: $dir not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fails=0
for f in "$dir"/*; do
	case $f in *.md) continue ;; esac
	[ -f "$f" ] || continue
	base=$(basename "$f")
	want=$dir/${base%.*}.md
	[ -f "$want" ] || continue
	n=$((n + 1))
	if ! "$hopper" convert "$f" >"$tmp/got" 2>"$tmp/err"; then
		echo "FAIL $base: hopper convert failed: $(cat "$tmp/err")"
		fails=$((fails + 1))
		continue
	fi
	if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
		cp "$tmp/got" "$want"
		echo "updated ${want#$top/}"
	elif cmp -s "$tmp/got" "$want"; then
		echo "ok $base"
	else
		echo "FAIL $base: output differs from ${want#$top/}:"
		diff -u "$want" "$tmp/got" | head -n 40
		fails=$((fails + 1))
	fi
done
[ $n -gt 0 ] || { echo "fail: no golden pairs in $dir"; exit 1; }
echo "$((n - fails)) of $n golden documents match"
[ $fails -eq 0 ]
