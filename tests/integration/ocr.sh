#!/usr/bin/env bash
# OCR in the real sandboxed converters: `hopper convert` of a picture of
# text, and the same picture dropped into a running hopperd, come back with
# the words (format "image", meta.ocr.mean_confidence set), so Tesseract
# runs single-threaded under the seccomp filter in both. Exit 0/1/77.
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
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }

out=$(env -u OMP_THREAD_LIMIT "$bdir/hopper" convert "$top/tests/data/ocr/invoice.png" 2>&1)
grep -q "Invoice 4711 from Hopper Supplies" <<<"$out" && ok "hopper convert reads the picture" \
	|| fail "hopper convert: $out"

mkdir -p "$tmp/inbox"
printf '[daemon]\nstate_dir = state\n[watch inbox]\npath = inbox\n' > "$tmp/hopper.conf"
env -u OMP_THREAD_LIMIT "$bdir/hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
pid=$!
cp "$top/tests/data/ocr/invoice.png" "$tmp/inbox/scan.png"
finished() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done', 'failed')")" = 1 ]; }
for _ in $(seq 300); do finished && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
row=$(sql "SELECT j.state, d.format, (d.meta->'ocr'->>'mean_confidence')::int >= 80, d.markdown LIKE '%Total due: 1234 euros by Friday%'
           FROM hopper.jobs j LEFT JOIN hopper.documents d ON d.id = j.document_id")
[ "$row" = "done|image|t|t" ] && ok "hopperd stored the picture's words" \
	|| { fail "daemon: [$row] $(sql "SELECT error FROM hopper.jobs")"; tail -20 "$tmp/hopperd.log"; }
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] && ok "hopperd exit 0" || fail "hopperd exit $rc"
[ $fails -eq 0 ] && echo "all checks passed" || exit 1
