#!/usr/bin/env bash
# `hopper convert`: real files through the sandboxed converter child, to
# stdout and to -o DIR; bad input is a message and exit 1, and the files
# after it still convert.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
hopper=$bdir/hopper
[ -x "$hopper" ] || { echo "fail: $hopper not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
. "$top/tests/lib/check.sh"

printf '<html><head><title>T</title></head><body><h2>Part</h2><ul><li>a</li><li>b</li></ul></body></html>' > "$tmp/p.html"
printf '# Notes\n\nbody\n' > "$tmp/n.md"
{ head -c 2000 /dev/urandom; printf '\000'; } > "$tmp/r.bin"
: > "$tmp/empty.txt"

out=$("$hopper" convert "$tmp/p.html" 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q '^## Part' <<<"$out" && grep -qE '^[*-] a' <<<"$out" && ok "html to stdout" || fail "html: rc=$rc [$out]"

out=$("$hopper" convert "$tmp/r.bin" "$tmp/empty.txt" "$tmp/n.md" 2>"$tmp/err"); rc=$?
[ $rc -eq 1 ] && ok "exit 1 when a file fails" || fail "rc=$rc"
grep -q "r.bin: unrecognised format" "$tmp/err" && ok "binary: message" || fail "binary: $(cat "$tmp/err")"
grep -q "empty.txt: empty file" "$tmp/err" && ok "empty: message" || fail "empty: $(cat "$tmp/err")"
grep -q '^# Notes' <<<"$out" && ok "files after a failure still convert" || fail "n.md missing: [$out]"

"$hopper" convert -o "$tmp/out" "$tmp/p.html" "$tmp/n.md" 2>/dev/null; rc=$?
[ $rc -eq 0 ] && [ -s "$tmp/out/p.html.md" ] && grep -q '^# Notes' "$tmp/out/n.md.md" && ok "-o DIR" || fail "-o DIR: rc=$rc $(ls "$tmp/out" 2>&1)"

"$hopper" convert "$tmp/nope.txt" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nope.txt: No such file" "$tmp/err" && ok "missing file" || fail "missing: rc=$rc $(cat "$tmp/err")"
"$hopper" convert "$tmp" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "not a regular file" "$tmp/err" && ok "directory" || fail "dir: rc=$rc $(cat "$tmp/err")"

# Code: chunks at symbol boundaries, parsed inside the sandboxed worker.
python3 - "$tmp/cart.py" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("import os\n\n\nclass Cart:\n")
    for m in ("add", "total"):
        f.write("    def %s(self, item):\n" % m)
        for i in range(24):
            f.write("        value_%d = self.lookup(item, %d) + len(os.environ)  # %s\n" % (i, i, m))
        f.write("        return value_0\n\n")
PY
out=$("$hopper" convert --chunks "$tmp/cart.py" 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$(cut -f6 <<<"$out" | uniq | tr '\n' '|')" = "cart.py|cart.py > Cart|cart.py > Cart > add|cart.py > Cart > total|" ] \
	&& ok "code chunks by symbol (sandboxed parser)" || fail "code chunks: rc=$rc [$out]"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
