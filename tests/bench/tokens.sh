#!/bin/bash
# tokens.sh — how close hp_count_tokens() is to OpenAI's cl100k_base.
#
# Counts every file with the real tokenizer (the npm package gpt-tokenizer,
# MIT licence, installed into build/npm on first use; only this measurement
# uses it, nothing is shipped) and with hopper's approximation, and prints
# the error per file and in total. English prose is the target (within 10%).
# Usage: tests/bench/tokens.sh BUILD_DIR [FILE...]  (default: licence texts
# from /usr/share/common-licenses and this project's Markdown)
#        tests/bench/tokens.sh BUILD_DIR --corpus  the converted test corpus:
#        every document of tests/data/golden, office and pdf (text layer)
#        and ../shared/peer-tests, through `hopper convert`, as stored
set -u
B=${1:-build}; shift || true
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "tokens: skipped (node/npm not installed)"; exit 0
fi
if [ ! -d "$B/npm/node_modules/gpt-tokenizer" ]; then
	npm install --silent --no-audit --no-fund --prefix "$B/npm" gpt-tokenizer@4 >/dev/null 2>&1 ||
		{ echo "tokens: skipped (cannot install gpt-tokenizer from npm)"; exit 0; }
fi
files=("$@")
if [ "${1:-}" = --corpus ]; then
	conv=$(mktemp -d /tmp/hopper-tokens.XXXXXX)
	trap 'rm -rf "$conv"' EXIT
	files=()
	for f in "$root"/tests/data/golden/* "$root"/tests/data/office/sample.* "$root"/tests/data/pdf/*.pdf \
	         "$root"/../shared/peer-tests/markitdown/files/*; do
		case $f in *.md|*/README|*.py|*scan*|*encrypted*|*slow.pdf) continue ;; esac
		[ -f "$f" ] || continue
		o=$conv/$(basename "$f").md
		"$B/hopper" convert "$f" > "$o" 2>/dev/null && [ -s "$o" ] && files+=("$o")
	done
	echo "tokens: the converted test corpus, ${#files[@]} documents"
elif [ ${#files[@]} -eq 0 ]; then
	for f in GPL-3 Apache-2.0 MPL-2.0 GFDL-1.3 Artistic BSD; do
		[ -f "/usr/share/common-licenses/$f" ] && files+=("/usr/share/common-licenses/$f")
	done
	files+=("$root/README.md" "$root/etc/hopper.conf")
	for f in "$root"/../shared/*.md; do [ -f "$f" ] && files+=("$f"); done
fi
real=$(NODE_PATH="$B/npm/node_modules" node "$here/cl100k.cjs" "${files[@]}") || exit 1
approx=$("$B/tests/bench/bench_chunk" --count "${files[@]}") || exit 1
paste <(echo "$real") <(echo "$approx") | awk -F'\t' '
	$1 > 0 { e = ($3 - $1) / $1; printf "tokens: %7d cl100k %7d hopper %+6.1f%%  %s\n", $1, $3, e * 100, $2;
	         R += $1; A += $3; if (e < 0) e = -e; S += e; n++ }
	END { if (n) printf "tokens: total %d cl100k, %d hopper: %+.1f%% (mean |error| per file %.1f%%)\n", R, A, (A - R) * 100 / R, S * 100 / n }'
