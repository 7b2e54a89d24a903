#!/usr/bin/env bash
# OCR in the real sandboxed converters: `hopper convert` of a picture of
# text, and the same picture dropped into a running hopperd, come back with
# the words (format "image", meta.ocr.mean_confidence set), so Tesseract
# runs single-threaded under the seccomp filter in both. Then a 200-page
# image-only PDF made here (mutool, as tests/data/ocr/make.sh) ends `done`
# under each of the document's OCR budgets, [workers] ocr_max_pages and
# ocr_time_budget: the first pages recognised, the rest skipped with a note
# in the Markdown and meta.ocr.skipped (the first under ocr_dpi = 150,
# which meta.ocr.dpi shows; 300 by default). A PDF with a text page and a
# picture page: only the picture page is read by OCR (Markdown mark,
# meta.ocr.pages = [2]). Exit 0/1/77.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/postgres" ] || { echo "skip: no PostgreSQL server binaries (apt-get install postgresql)"; exit 77; }
ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 || [ -n "${TESSDATA_PREFIX:-}" ] ||
	{ echo "skip: no Tesseract English data (apt-get install tesseract-ocr-eng)"; exit 77; }
tmp=$(mktemp -d /tmp/hopper-ocr.XXXXXX)
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
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }

out=$(env -u OMP_THREAD_LIMIT "$bdir/hopper" convert "$top/tests/data/ocr/invoice.png" 2>&1)
grep -q "Invoice 4711 from Hopper Supplies" <<<"$out" && ok "hopper convert reads the picture" \
	|| fail "hopper convert: $out"

# A PDF whose page 1 has text and page 2 is only a picture of text: page 2
# is read by OCR and marked, page 1 is not (its text layer is used).
if command -v mutool >/dev/null; then
	mkdir -p "$tmp/mixed"
	cp "$top/tests/data/ocr/invoice.png" "$tmp/mixed/"
	printf '%%%%MediaBox 0 0 400 200\n%%%%Font F1 Helvetica\nBT /F1 18 Tf 30 150 Td (Typed memo about the harbour) Tj ET\n' \
		> "$tmp/mixed/p1.txt"
	printf '%%%%MediaBox 0 0 400 200\n%%%%Image Im0 invoice.png\nq 400 0 0 200 0 0 cm /Im0 Do Q\n' > "$tmp/mixed/p2.txt"
	(cd "$tmp/mixed" && mutool create -o mixed.pdf p1.txt p2.txt)
	md=$(env -u OMP_THREAD_LIMIT "$bdir/hopper" convert "$tmp/mixed/mixed.pdf" 2>&1)
	p1=$(sed -n '/^<!-- page 1 -->$/,/^<!-- page 2 -->$/p' <<<"$md")
	p2=$(sed -n '/^<!-- page 2 -->$/,$p' <<<"$md")
	grep -q "Typed memo about the harbour" <<<"$p1" && ! grep -q "OCR" <<<"$p1" \
		&& ok "mixed PDF: the page with text is not read by OCR" || fail "mixed PDF page 1: [$p1]"
	grep -q "^<!-- text by OCR (eng), mean confidence" <<<"$p2" && grep -q "Invoice 4711 from Hopper Supplies" <<<"$p2" \
		&& ok "mixed PDF: the picture page is read by OCR and marked" || fail "mixed PDF page 2: [$p2]"
	[ "$(grep -c "text by OCR" <<<"$md")" = 1 ] && ok "mixed PDF: one OCR mark" || fail "OCR marks: $(grep -c "text by OCR" <<<"$md")"
fi

mkdir -p "$tmp/inbox"
printf '[daemon]\nstate_dir = state\n[watch inbox]\npath = inbox\n' > "$tmp/hopper.conf"
env -u OMP_THREAD_LIMIT "$bdir/hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
pid=$!
cp "$top/tests/data/ocr/invoice.png" "$tmp/inbox/scan.png"
nfiles=1
[ -e "$tmp/mixed/mixed.pdf" ] && cp "$tmp/mixed/mixed.pdf" "$tmp/inbox/" && nfiles=2
finished() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done', 'failed')")" = $nfiles ]; }
for _ in $(seq 300); do finished && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
row=$(sql "SELECT j.state, d.format, (d.meta->'ocr'->>'mean_confidence')::int >= 80, d.markdown LIKE '%Total due: 1234 euros by Friday%'
           FROM hopper.jobs j LEFT JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%scan.png'")
if [ $nfiles = 2 ]; then
	mixed=$(sql "SELECT j.state, d.meta->'ocr'->'pages', (d.meta->'ocr'->>'mean_confidence')::int >= 80, d.meta->'ocr'->'dpi'
	             FROM hopper.jobs j LEFT JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%mixed.pdf'")
	[ "$mixed" = "done|[2]|t|300" ] && ok "mixed PDF in hopperd: meta.ocr.pages is [2] with its confidence, at 300 dpi" \
		|| fail "mixed PDF meta: [$mixed]"
fi
[ "$row" = "done|image|t|t" ] && ok "hopperd stored the picture's words" \
	|| { fail "daemon: [$row] $(sql "SELECT error FROM hopper.jobs")"; tail -20 "$tmp/hopperd.log"; }
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] && ok "hopperd exit 0" || fail "hopperd exit $rc"

# A 200-page scan: small pages, each a picture of one line of text.
command -v mutool >/dev/null || { echo "skip: no mutool (apt-get install mupdf-tools) for the 200-page scan"; exit $((fails ? 1 : 0)); }
scan200() { # OUT WORD: 200 pages, page N reads "WORD page N"
	local d=$tmp/gen-$2 i
	mkdir -p "$d"
	printf '%%%%MediaBox 0 0 260 40\n%%%%Font F1 Helvetica\nBT /F1 16 Tf 10 14 Td (%s page one) Tj ET\n' "$2" > "$d/text.txt"
	mutool create -o "$d/text.pdf" "$d/text.txt" &&
	mutool draw -q -r 150 -c gray -o "$d/line.png" "$d/text.pdf" 1 || return 1
	for i in $(seq 200); do
		printf '%%%%MediaBox 0 0 260 40\n%%%%Image Im0 line.png\nq 260 0 0 40 0 0 cm /Im0 Do Q\n' > "$d/p$i.txt"
	done
	(cd "$d" && mutool create -o "$1" $(for i in $(seq 200); do echo "p$i.txt"; done))
}
budget_run() { # NAME WORD KEY=VALUE: convert a 200-page scan under that budget
	printf '[daemon]\nstate_dir = state\n[workers]\n%s\n[watch inbox]\npath = inbox\n' "$3" > "$tmp/hopper.conf"
	scan200 "$tmp/$1" "$2" || { fail "mutool could not make the 200-page scan"; return; }
	env -u OMP_THREAD_LIMIT "$bdir/hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
	pid=$!
	cp "$tmp/$1" "$tmp/inbox/$1"
	local q="SELECT count(*) FROM hopper.jobs WHERE path LIKE '%$1' AND state IN ('done', 'failed')"
	for _ in $(seq 900); do [ "$(sql "$q")" = 1 ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
}
stop() { kill -TERM "$pid"; wait "$pid"; pid=; }
doc() { sql "SELECT $1 FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%$2'"; }

budget_run pages.pdf Hopper "ocr_max_pages = 3
ocr_dpi = 150"
st=$(sql "SELECT state || ' ' || coalesce(error, '') FROM hopper.jobs WHERE path LIKE '%pages.pdf'")
[ "$st" = "done " ] && ok "200-page scan under ocr_max_pages = 3: done" || fail "pages.pdf: [$st]"
row=$(doc "d.pages, d.meta->'ocr'->'pages', jsonb_array_length(d.meta->'ocr'->'skipped'),
           d.meta->'ocr'->'skipped'->>0, d.meta->'ocr'->>'stopped_by', d.meta->>'ocr_needed'" pages.pdf)
[ "$row" = "200|[1, 2, 3]|197|4|ocr_max_pages|true" ] && ok "meta: pages 1-3 read, 4-200 skipped, by ocr_max_pages" \
	|| fail "pages.pdf meta: [$row]"
n=$(doc "(SELECT count(*) FROM regexp_matches(d.markdown, 'Hopper page one', 'g'))" pages.pdf)
[ "$n" = 3 ] && ok "the three pages read have their words" || fail "words found $n times, want 3"
check_dpi=$(doc "d.meta->'ocr'->'dpi'" pages.pdf)
[ "$check_dpi" = 150 ] && ok "ocr_dpi = 150: pages rendered at 150 dpi" || fail "meta.ocr.dpi [$check_dpi], want 150"
md=$(doc "d.markdown" pages.pdf)
grep -q "^<!-- page 200 not read by OCR: the document's OCR budget (ocr_max_pages) was spent -->$" <<<"$md" \
	&& grep -q "^<!-- page 4 not read by OCR" <<<"$md" && ! grep -q "^<!-- page 3 not read" <<<"$md" \
	&& ok "the Markdown notes the skipped pages" || fail "notes: $(grep -c 'not read by OCR' <<<"$md") $(head -c 600 <<<"$md")"
w=$(doc "d.meta->'warnings'->>0" pages.pdf)
grep -q "OCR stopped at page 4: the document's OCR budget of 3 pages" <<<"$w" && ok "warning names the budget" \
	|| fail "warning: [$w]"
stop

# The time budget: the first page is always tried; no 200 pages of OCR fit
# in 100 ms, so some are skipped, whatever this machine's speed.
budget_run time.pdf Scan "ocr_time_budget = 100ms"
st=$(sql "SELECT state || ' ' || coalesce(error, '') FROM hopper.jobs WHERE path LIKE '%time.pdf'")
[ "$st" = "done " ] && ok "200-page scan under ocr_time_budget = 100ms: done" || fail "time.pdf: [$st]"
row=$(doc "d.meta->'ocr'->>'stopped_by', jsonb_array_length(d.meta->'ocr'->'pages') +
           jsonb_array_length(d.meta->'ocr'->'skipped'), jsonb_array_length(d.meta->'ocr'->'skipped') > 0,
           d.markdown LIKE '%not read by OCR: the document''s OCR budget (ocr_time_budget) was spent%'" time.pdf)
[ "$row" = "ocr_time_budget|200|t|t" ] && ok "meta: pages read + skipped = 200, stopped by ocr_time_budget" \
	|| fail "time.pdf meta: [$row] $(doc "d.meta" time.pdf | head -c 400)"
stop
[ $fails -eq 0 ] && echo "all checks passed" || { tail -20 "$tmp/hopperd.log"; exit 1; }
