#!/usr/bin/env bash
# PDFs through the real daemon: build/hopperd on its embedded PostgreSQL,
# real workers under their sandbox. Checks what hopper.documents holds for a
# two-column paper (format, pages, title, meta), that the stored Markdown is
# byte for byte what `hopper convert` prints, that an encrypted PDF fails
# permanently with "encrypted PDF" and that a scan is done with
# meta.ocr_needed (or is read by OCR where Tesseract is installed).
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
need_daemon
hopper=$bdir/hopper
data=$top/tests/data/pdf

tmp=$(mktemp -d /tmp/hopper-pdf.XXXXXX)
chmod 755 "$tmp"   # the PostgreSQL user must reach the state dir when we run as root
pid=
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi; }

mkdir -p "$tmp/inbox"
cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
[workers]
min = 1
[watch inbox]
path = inbox
EOF
cp "$data/paper.pdf" "$data/encrypted.pdf" "$data/scan-text.pdf" "$tmp/inbox/"

"$hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
pid=$!
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }
wait_for() { wait_alive "$pid" "$@"; } # stops early when hopperd ($pid) died
finished() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done','failed')")" = 3 ]; }
if ! wait_for 120 finished; then
	fail "jobs did not finish: $(sql 'SELECT path, state, error FROM hopper.jobs')"
	tail -n 30 "$tmp/hopperd.log"
	exit 1
fi

doc() { sql "SELECT $1 FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%/$2'"; }
check "paper stored as pdf with 2 pages" "pdf|2" "$(doc "d.format || '|' || d.pages" paper.pdf)"
check "paper title" "Reading Order in Two Column Documents" "$(doc d.title paper.pdf)"
check "paper meta pages" "2" "$(doc "d.meta->>'pages'" paper.pdf)"
# byte for byte: the stored Markdown and hopper convert's output
"$hopper" convert "$tmp/inbox/paper.pdf" > "$tmp/cli.md" 2>"$tmp/cli.err"
check "stored Markdown = hopper convert output (md5)" "$(md5sum < "$tmp/cli.md" | cut -d' ' -f1)" \
	"$(doc "md5(d.markdown)" paper.pdf)"
check "a heading became a chunk heading" "t" \
	"$(sql "SELECT bool_or(c.heading LIKE '%2 Method%') FROM hopper.chunks c JOIN hopper.documents d ON d.id = c.document_id WHERE d.format = 'pdf'")"

enc=$(sql "SELECT state || '|' || attempts || '|' || error FROM hopper.jobs WHERE path LIKE '%/encrypted.pdf'")
case $enc in
failed\|1\|*"encrypted PDF"*) ok "encrypted PDF failed at once: $enc" ;;
*) fail "encrypted PDF: $enc" ;;
esac
# a scan of text: read by OCR in the worker's sandbox when Tesseract's
# English data is installed, else done and marked for OCR
if [ -f /usr/share/tesseract-ocr/5/tessdata/eng.traineddata ] || [ -n "${TESSDATA_PREFIX:-}" ]; then
	check "scan read by OCR" "done|1|true" \
		"$(sql "SELECT j.state || '|' || (d.meta->'ocr'->'pages'->>0) || '|' || (d.markdown LIKE '%Scanned Invoice 4711%') FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%/scan-text.pdf'")"
else
	check "scan done, OCR needed" "done|true" \
		"$(sql "SELECT j.state || '|' || (d.meta->>'ocr_needed') FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%/scan-text.pdf'")"
fi

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "exit status after SIGTERM" 0 "$rc"
[ $fails -eq 0 ] || { tail -n 20 "$tmp/hopperd.log"; exit 1; }
echo "pdf-daemon: all checks passed"
