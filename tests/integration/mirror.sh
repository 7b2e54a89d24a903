#!/usr/bin/env bash
# mirror.sh — [watch] output_dir: the mirror folder of Markdown.
# The real build/hopperd on its embedded PostgreSQL:
#   - every done document is OUT/<relative path>.md with front matter
#     (source, format, sha256, title), subfolders mirrored, no temporary
#     files left;
#   - index.md lists every document by folder with title, format and a link
#     that resolves;
#   - a crash between commit and write: hopperd killed with SIGKILL, a mirror
#     file missing and one out of date; the next start writes both;
#   - output_prune = yes (reload): the mirror of a deleted source goes; by
#     default it stays.
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
hopperd=$bdir/hopperd
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ ! -x "$pgbin/postgres" ]; then echo "skip: no PostgreSQL server binaries (apt-get install postgresql)"; exit 77; fi
[ -x "$hopperd" ] || { echo "fail: $hopperd not built"; exit 1; }

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
. "$top/tests/lib/check.sh"
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi; }

in=$tmp/inbox out=$tmp/md
mkdir -p "$in/reports/2024"
write_conf() {
	printf '[daemon]\nstate_dir = state\n[watch inbox]\npath = inbox\noutput_dir = md\noutput_prune = %s\n' "$1" > "$tmp/hopper.conf"
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
start
done3() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state = 'done'")" = 3 ]; }
wait_for 120 done3 && ok "3 documents done" || fail "not done: $(sql 'SELECT path, state, error FROM hopper.jobs')"
indexed() { [ -f "$out/index.md" ] && [ "$(grep -c '^- \[' "$out/index.md")" = 3 ]; }
wait_for 30 indexed && ok "index.md lists 3 documents" || fail "index.md: $(cat "$out/index.md" 2>&1)"

# The tree, the front matter.
check "mirror tree" "$out/index.md
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
# index.md: grouped by folder, links resolve.
grep -q '^## reports/2024$' "$out/index.md" && grep -q '^## (top folder)$' "$out/index.md" \
	&& ok "index grouped by folder" || fail "index groups: $(cat "$out/index.md")"
grep -qF -- '- [Release \[beta\]](reports/page%20one.html.md) — html' "$out/index.md" \
	&& ok "index entry: title, link, format" || fail "index entry: $(cat "$out/index.md")"
links=$(sed -n 's/^- \[.*\](\(.*\)) — .*/\1/p' "$out/index.md" | python3 -c 'import sys, urllib.parse; [print(urllib.parse.unquote(l.strip())) for l in sys.stdin]')
bad=0; while read -r l; do [ -f "$out/$l" ] || bad=$((bad + 1)); done <<<"$links"
check "every index link resolves" "0" "$bad"

# Crash between commit and write: killed, one mirror file lost, one stale.
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
pg_gone() { ! pgrep -f "$tmp/state/pg" >/dev/null && [ ! -e "$tmp/state/pg/postmaster.pid" ]; }
wait_for 30 pg_gone || fail "postgres outlived kill -9 of hopperd"
rm "$out/notes.txt.md"
sed -i 's/^sha256: .*/sha256: 0000000000000000000000000000000000000000000000000000000000000000/' "$f"
start
repaired() { [ -f "$out/notes.txt.md" ] && grep -q "^sha256: $sha$" "$f"; }
wait_for 30 repaired && ok "missing and stale mirror files rewritten at start" || fail "not repaired"
grep -q "mirror: inbox: wrote 2 file(s)" "$tmp/hopperd.log" && ok "repair logged" || fail "repair log: $(grep mirror "$tmp/hopperd.log")"

# A deleted source: kept by default, removed with output_prune after a reload.
rm "$in/notes.txt"
sleep 3
[ -f "$out/notes.txt.md" ] && ok "default: the mirror of a deleted source stays" || fail "removed without output_prune"
write_conf yes
kill -HUP "$pid"
pruned() { [ ! -f "$out/notes.txt.md" ] && [ "$(grep -c '^- \[' "$out/index.md")" = 2 ]; }
wait_for 30 pruned && ok "output_prune: removed, and gone from index.md" || fail "not pruned: $(ls -R "$out")"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "clean stop" "0" "$rc"
check "no temporary files" "" "$(find "$out" -name '*.tmp.*')"

echo "$fails failure(s)"
[ $fails -eq 0 ]
