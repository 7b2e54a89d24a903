#!/usr/bin/env bash
# search.sh — chunks as stored by hopperd, `hopper search`, search_config.
# The real build/hopperd on its embedded PostgreSQL with default chunking:
#   - chunks have byte offsets that cut documents.markdown into their content;
#   - the daemon stores the same chunks as `hopper convert --chunks` prints
#     (Markdown, and a 3-page PDF with its page numbers);
#   - `hopper search` ranks, highlights, names path, heading and page,
#     --limit, --watch NAME (one watch's documents), ranking by ts_rank (a
#     chunk with the word three times before one with it once), --refresh
#     (repeats until interrupted, showing a document that arrives meanwhile);
#   - search_config = english (after a restart) rebuilds the search column,
#     so "installing" finds "install"; an unknown one stops start-up.
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon
hopper=$bdir/hopper

tmp=$(mktemp -d /tmp/hopper-search.XXXXXX)
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

mkdir -p "$tmp/inbox" "$tmp/other"
write_conf() {
	printf '[daemon]\nstate_dir = state\nsearch_config = %s\n[watch inbox]\npath = inbox\n[watch other]\npath = other\n' "$1" > "$tmp/hopper.conf"
}
write_conf simple
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -F $'\t' -c "$1" 2>&1; }
wait_for() { wait_alive "$pid" "$@"; } # stops early when hopperd ($pid) died
started=0
is_ready() { [ "$(grep -c 'ready:' "$tmp/hopperd.log")" -ge "$started" ]; }
start() {
	"$hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
	pid=$!
	started=$((started + 1))
	wait_for 120 is_ready ||
		{ fail "hopperd did not start"; cat "$tmp/hopperd.log"; exit 1; }
}
stop() {
	kill -TERM "$pid"; wait "$pid"; pid=
}

# A real document bigger than one chunk, and a small one.
cp "$top/README.md" "$tmp/inbox/readme.md"
cp "$top/tests/data/pdf/guide.pdf" "$tmp/inbox/guide.pdf"
printf '# Elsewhere\n\nThe okapis graze in another folder.\n' > "$tmp/other/other.md"
printf '# Many\n\nOkapis here, okapis there, okapis everywhere.\n' > "$tmp/other/many.md"
printf '# Guide\n\n## Install\n\n### Debian\n\nRun apt-get install hopper, then start the service with systemctl enable --now hopperd.\n\n## Use\n\nDrop files into the inbox folder and ask with hopper status. The zebras graze.\n' > "$tmp/inbox/guide.md"
start
ndone() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state = 'done'")" = "$1" ]; }
wait_for 120 ndone 5 && ok "5 documents done" || fail "not done: $(sql 'SELECT path, state, error FROM hopper.jobs')"

# Offsets cut the stored Markdown into the chunk's content (all of it, or
# what follows a repeated table header / fence line).
check "offsets give the content" "0" "$(sql "SELECT count(*) FROM hopper.chunks c JOIN hopper.documents d ON d.id = c.document_id
	WHERE c.start_byte IS NULL OR c.end_byte <= c.start_byte OR
	      right(c.content, length(convert_from(substring(convert_to(d.markdown, 'UTF8') from c.start_byte::int + 1
	      for (c.end_byte - c.start_byte)::int), 'UTF8'))) <> convert_from(substring(convert_to(d.markdown, 'UTF8')
	      from c.start_byte::int + 1 for (c.end_byte - c.start_byte)::int), 'UTF8')")"
check "some chunk repeats a table header" "t" "$(sql "SELECT bool_or(length(c.content) > c.end_byte - c.start_byte) FROM hopper.chunks c")"
n=$(sql "SELECT count(*) FROM hopper.chunks c JOIN hopper.jobs j ON j.document_id = c.document_id WHERE j.path LIKE '%/readme.md'")
[ "$n" -gt 3 ] && ok "readme.md has $n chunks" || fail "readme.md chunks: $n"

# The daemon and hopper convert give the same chunks.
for f in readme.md guide.md guide.pdf; do
	want=$("$hopper" convert --chunks "$tmp/inbox/$f" 2>&1)
	got=$(sql "SELECT c.ordinal, c.tokens, coalesce(c.page, 0), c.start_byte, c.end_byte, c.heading
		FROM hopper.chunks c JOIN hopper.jobs j ON j.document_id = c.document_id
		WHERE j.path = '$tmp/inbox/$f' ORDER BY c.ordinal")
	check "same chunks in hopperd and hopper convert ($f)" "$want" "$got"
done

# hopper search: path, heading path, highlighted snippet.
out=$("$hopper" -c "$tmp/hopper.conf" search apt-get install 2>&1)
grep -qF "$tmp/inbox/guide.md" <<<"$out" && ok "search names the path" || fail "search path: $out"
grep -qF "Guide" <<<"$out" && ok "search shows the heading path" || fail "search heading: $out"
grep -qF "**install**" <<<"$out" && ok "search highlights the match" || fail "search highlight: $out"
out=$("$hopper" -c "$tmp/hopper.conf" search --limit 1 hopper 2>&1)
check "--limit 1" "1" "$(grep -c '(rank ' <<<"$out")"
check "stored pages of the PDF" "1 2 3" "$(sql "SELECT string_agg(DISTINCT c.page::text, ' ') FROM hopper.chunks c
	JOIN hopper.jobs j ON j.document_id = c.document_id WHERE j.path LIKE '%/guide.pdf'")"
out=$("$hopper" -c "$tmp/hopper.conf" search '"Body text of section 2"' 2>&1)
grep -qF "$tmp/inbox/guide.pdf, page 2" <<<"$out" && ok "search names the page" || fail "search page: $out"
# --watch NAME: only that watch's documents
out=$("$hopper" -c "$tmp/hopper.conf" search graze 2>&1)
grep -qF "$tmp/inbox/guide.md" <<<"$out" && grep -qF "$tmp/other/other.md" <<<"$out" \
	&& ok "search covers every watch" || fail "search all watches: $out"
out=$("$hopper" -c "$tmp/hopper.conf" search --watch other graze 2>&1)
grep -qF "$tmp/other/other.md" <<<"$out" && ! grep -qF "$tmp/inbox/" <<<"$out" \
	&& ok "--watch other: that watch only" || fail "--watch other: $out"
# ranked by ts_rank: three occurrences before one
out=$("$hopper" -c "$tmp/hopper.conf" search okapis 2>&1)
check "ranked by ts_rank" "$tmp/other/many.md
$tmp/other/other.md" "$(grep -o "^$tmp/[^ ]*" <<<"$out")"
# --refresh: repeats until interrupted, and shows what arrives meanwhile
"$hopper" -c "$tmp/hopper.conf" search --refresh okapis > "$tmp/refresh.out" 2>&1 & rpid=$!
printf '# Late\n\nAn okapis latecomer.\n' > "$tmp/other/late.md"
refreshed() { grep -qF "$tmp/other/late.md" "$tmp/refresh.out"; }
wait_for 60 refreshed && ok "--refresh shows a document that arrived after it started" \
	|| fail "--refresh: $(cat "$tmp/refresh.out")"
kill -INT "$rpid"; wait "$rpid"; rc=$?
check "--refresh stops on SIGINT with 0" "0" "$rc"
out=$("$hopper" -c "$tmp/hopper.conf" search '"no such phrase anywhere"' 2>&1)
grep -q "no chunk matches" <<<"$out" && ok "no hit said so" || fail "no hit: $out"
# with simple, words are not stemmed
out=$("$hopper" -c "$tmp/hopper.conf" search zebra 2>&1)
grep -q "no chunk matches" <<<"$out" && ok "simple: no stemming" || fail "simple stemmed: $out"

# search_config = english: rebuilt at start, stems match.
stop
write_conf english
start
check "stored config" "english" "$(sql "SELECT value FROM hopper.settings WHERE key = 'search_config'")"
grep -q "search column of every chunk was rebuilt" "$tmp/hopperd.log" && ok "rebuild logged" || fail "no rebuild log"
out=$("$hopper" -c "$tmp/hopper.conf" search zebra 2>&1)
grep -qF "$tmp/inbox/guide.md" <<<"$out" && ok "english: zebra finds zebras" || fail "english search: $out"
stop
# an unknown configuration stops start-up with a clear message
write_conf klingon
"$hopperd" -c "$tmp/hopper.conf" > "$tmp/bad.log" 2>&1 & pid=$!
wait "$pid"; rc=$?; pid=
[ $rc -ne 0 ] && grep -q "search_config = klingon: no such text-search configuration" "$tmp/bad.log" \
	&& ok "unknown search_config refused" || fail "klingon: rc=$rc $(cat "$tmp/bad.log")"

echo "$fails failure(s)"
[ $fails -eq 0 ]
