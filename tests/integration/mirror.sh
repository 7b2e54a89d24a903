#!/usr/bin/env bash
# mirror.sh — [watch] output_dir: the mirror folder of Markdown.
# The real build/hopperd on its embedded PostgreSQL:
#   - every done document is OUT/<relative path>.md with front matter
#     (source, format, sha256, title; pages for a PDF), subfolders mirrored,
#     no temporary files left;
#   - index.md lists every document by folder with title, format and a link
#     that resolves;
#   - a crash between commit and write: a document committed whose mirror
#     file could not be written (its place taken by a folder), then hopperd
#     killed with SIGKILL, and a mirror file missing and one out of date;
#     the next start writes all three;
#   - output_prune = yes (reload): the mirror of a deleted source goes; by
#     default it stays;
#   - index.md is rewritten in batches: 60 files dropped one every 0.1 s
#     cause at most one rewrite per HP_MIRROR_INDEX_INTERVAL_MS (2 s) of
#     the time they took, not one per file.
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon

tmp=$(mktemp -d /tmp/hopper-mirror.XXXXXX)
chmod 755 "$tmp"
pid=
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi; }

in=$tmp/inbox out=$tmp/md
: > "$tmp/hopperd.log"
mkdir -p "$in/reports/2024"
write_conf() {
	printf '[daemon]\nstate_dir = state\nlog_level = debug\n[watch inbox]\npath = inbox\noutput_dir = md\noutput_prune = %s\n' "$1" > "$tmp/hopper.conf"
}
write_conf no
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }
wait_for() { # wait_for SECONDS COMMAND...
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.3
	done
}
started=0
is_ready() { [ "$(grep -c 'ready:' "$tmp/hopperd.log")" -ge "$started" ]; }
start() {
	"$hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
	pid=$!
	started=$((started + 1))
	wait_for 120 is_ready || { fail "hopperd did not start"; cat "$tmp/hopperd.log"; exit 1; }
}

printf '# Quarterly report\n\nRevenue went up.\n' > "$in/reports/2024/q3.md"
printf 'Meeting notes\n\nShip on Friday.\n' > "$in/notes.txt"
printf '<html><head><title>Release [beta]</title></head><body><p>Hello</p></body></html>\n' > "$in/reports/page one.html"
cp "$top/tests/data/pdf/guide.pdf" "$in/guide.pdf"
start
ndone() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state = 'done'")" = "$1" ]; }
wait_for 120 ndone 4 && ok "4 documents done" || fail "not done: $(sql 'SELECT path, state, error FROM hopper.jobs')"
indexed() { [ -f "$out/index.md" ] && [ "$(grep -c '^- \[' "$out/index.md")" = "$1" ]; }
wait_for 30 indexed 4 && ok "index.md lists 4 documents" || fail "index.md: $(cat "$out/index.md" 2>&1)"

# The tree, the front matter.
check "mirror tree" "$out/guide.pdf.md
$out/index.md
$out/notes.txt.md
$out/reports/2024/q3.md.md
$out/reports/page one.html.md" "$(find "$out" -type f | sort)"
f=$out/reports/2024/q3.md.md
sha=$(sha256sum "$in/reports/2024/q3.md" | cut -d' ' -f1)
check "front matter" "---
source: \"$in/reports/2024/q3.md\"
format: \"markdown\"
sha256: $sha
title: \"Quarterly report\"
---" "$(sed -n '1,/^---$/p;' "$f" | sed -n '1,6p')"
grep -q "^Revenue went up.$" "$f" && ok "Markdown after the front matter" || fail "body: $(cat "$f")"
check "pages of a PDF in its front matter" "pages: 3" "$(grep '^pages:' "$out/guide.pdf.md")"
# index.md: grouped by folder, links resolve.
grep -q '^## reports/2024$' "$out/index.md" && grep -q '^## (top folder)$' "$out/index.md" \
	&& ok "index grouped by folder" || fail "index groups: $(cat "$out/index.md")"
grep -qF -- '- [Release \[beta\]](reports/page%20one.html.md) — html' "$out/index.md" \
	&& ok "index entry: title, link, format" || fail "index entry: $(cat "$out/index.md")"
links=$(sed -n 's/^- \[.*\](\(.*\)) — .*/\1/p' "$out/index.md" | python3 -c 'import sys, urllib.parse; [print(urllib.parse.unquote(l.strip())) for l in sys.stdin]')
bad=0; while read -r l; do [ -f "$out/$l" ] || bad=$((bad + 1)); done <<<"$links"
check "every index link resolves" "0" "$bad"

# Crash between commit and write. A document is committed but its mirror
# file cannot be written (a folder holds its place); then hopperd is
# killed, one mirror file is lost and one made stale.
mkdir "$out/late.txt.md"
printf 'Written late.\n' > "$in/late.txt"
wait_for 120 ndone 5 && ok "late.txt done" || fail "late.txt: $(sql 'SELECT path, state, error FROM hopper.jobs')"
blocked() { grep -q "mirror: cannot write $out/late.txt.md" "$tmp/hopperd.log"; }
wait_for 30 blocked && ok "committed, mirror file not written" || fail "late.txt.md: $(grep mirror: "$tmp/hopperd.log")"
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
pg_gone() { ! pgrep -f "$tmp/state/pg" >/dev/null && [ ! -e "$tmp/state/pg/postmaster.pid" ]; }
wait_for 30 pg_gone || fail "postgres outlived kill -9 of hopperd"
rmdir "$out/late.txt.md"
rm "$out/notes.txt.md"
sed -i 's/^sha256: .*/sha256: 0000000000000000000000000000000000000000000000000000000000000000/' "$f"
start
repaired() { [ -f "$out/notes.txt.md" ] && grep -q "^sha256: $sha$" "$f" && grep -q "^Written late.$" "$out/late.txt.md"; }
wait_for 30 repaired && ok "unwritten, missing and stale mirror files written at start" || fail "not repaired"
grep -q "mirror: inbox: wrote 3 file(s)" "$tmp/hopperd.log" && ok "repair logged" || fail "repair log: $(grep mirror "$tmp/hopperd.log")"

# A deleted source: kept by default, removed with output_prune after a reload.
rm "$in/notes.txt"
sleep 3
[ -f "$out/notes.txt.md" ] && ok "default: the mirror of a deleted source stays" || fail "removed without output_prune"
write_conf yes
kill -HUP "$pid"
pruned() { [ ! -f "$out/notes.txt.md" ] && [ "$(grep -c '^- \[' "$out/index.md")" = 4 ]; }
wait_for 30 pruned && ok "output_prune: removed, and gone from index.md" || fail "not pruned: $(ls -R "$out")"

# A stream: index.md is rewritten at most every 2 s while files arrive
# (one every 0.1 s here), not once per file.
n=60
mkdir "$tmp/burst" "$in/burst"
for i in $(seq 1 $n); do printf '# Burst %d\n\nText %d.\n' "$i" "$i" > "$tmp/burst/b$i.md"; done
before=$(grep -c "index.md rewritten" "$tmp/hopperd.log")
t0=$SECONDS
for i in $(seq 1 $n); do mv "$tmp/burst/b$i.md" "$in/burst/"; sleep 0.1; done
wait_for 180 indexed $((4 + n)) && ok "index.md lists the $n new documents" || fail "burst: $(grep -c '^- \[' "$out/index.md")"
secs=$((SECONDS - t0 + 1))
rewrites=$(( $(grep -c "index.md rewritten" "$tmp/hopperd.log") - before ))
[ "$rewrites" -ge 1 ] && [ "$rewrites" -le $((secs / 2 + 2)) ] && [ "$rewrites" -lt $n ] \
	&& ok "index.md rewritten $rewrites time(s) for $n files in ${secs}s" \
	|| fail "index.md rewritten $rewrites times for $n files in ${secs}s (at most one per 2 s)"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "clean stop" "0" "$rc"
check "no temporary files" "" "$(find "$out" -name '*.tmp.*')"

echo "$fails failure(s)"
[ $fails -eq 0 ]
