#!/usr/bin/env bash
# Hostile input through the real daemon: build/hopperd (with ASan/UBSan when
# built with SANITIZE=address,undefined) on its embedded PostgreSQL, fed
# truncated files of every format at many offsets, a ZIP bomb named .docx,
# billion laughs in a .docx and as .xml, HTML nested 100,000 deep, zero-byte
# files of every extension, random bytes named .pdf, invalid UTF-8 and mixed
# encodings, a 50 MB single-line text, NUL bytes in text, a symlink out of
# the watch, a name that is not UTF-8 and a name with a newline; 100 good
# files are dropped alongside. Checks: every regular file ends `done` or
# `failed` with a message a person can read, the 100 good ones `done`,
# nothing read through the symlink, no sanitizer report, the daemon alive
# and still converting afterwards. Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
hopperd=$bdir/hopperd
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/postgres" ] || { echo "skip: no PostgreSQL server binaries (apt-get install postgresql)"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 is needed to make the hostile files"; exit 77; }
[ -x "$hopperd" ] || { echo "fail: $hopperd not built"; exit 1; }

tmp=$(mktemp -d /tmp/hopper-hostile.XXXXXX)
chmod 755 "$tmp"
pid=''
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -f "$tmp/state/pg/postmaster.pid" ] && kill -KILL "$(head -n 1 "$tmp/state/pg/postmaster.pid")" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh"
t0=$SECONDS

# 1. The files, made in a staging folder first.
mkdir -p "$tmp/inbox" "$tmp/stage" "$tmp/outside"
python3 - "$tmp/stage" "$top/tests/data/convert" "$top/tests/data/office" <<'PY' || { echo "FAIL: cannot make the hostile files"; exit 1; }
import os, random, sys, zipfile, zlib
out, datas = sys.argv[1], sys.argv[2:]
rnd = random.Random(19)
def put(name, b):
    with open(os.path.join(out.encode(), name if isinstance(name, bytes) else name.encode()), "wb") as f:
        f.write(b)

# Truncated at many offsets, for every format in the test data and a few more.
samples = {}
for data in datas:
    for n in sorted(os.listdir(data)):
        if n.endswith(".py") or not os.path.isfile(os.path.join(data, n)):
            continue
        with open(os.path.join(data, n), "rb") as f:
            samples[n] = f.read()
samples["page.html"] = b"<html><head><title>T</title></head><body>" + b"<div><p>para <b>bold</b> <a href='x'>l</a></p><table><tr><td>1</td></tr></table></div>" * 40 + b"</body></html>"
samples["data.xml"] = b"<?xml version='1.0'?><root>" + b"<item a='1'>text &amp; more</item>" * 50 + b"</root>"
samples["rows.csv"] = b"a,b,c\n" + b"1,\"two, quoted\",3\n" * 100
samples["deep.json"] = b'{"a": [1, 2, {"b": "c"}, "' + b"x" * 200 + b'"]}' * 1
samples["code.py"] = b"def f(x):\n    return x * 2\n" * 30
for n, b in samples.items():
    base, dot, ext = n.rpartition(".")
    if not dot:
        base, ext = n, "bin"
    offs = sorted({1, 2, 3, 7, 16, 100, len(b) // 3, len(b) // 2, len(b) - 1} - {0})
    for o in offs:
        if 0 < o < len(b):
            put("trunc-%s-%d.%s" % (base, o, ext), b[:o])

# A ZIP bomb named .docx: 1 GiB of zeros as word/document.xml, about 1 MiB zipped.
with zipfile.ZipFile(os.path.join(out, "bomb.docx"), "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("[Content_Types].xml", "w") as f:
        f.write(b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
    with z.open("word/document.xml", "w", force_zip64=True) as f:
        zero = bytes(1 << 20)
        for _ in range(1024):
            f.write(zero)

# Billion laughs, as .xml and inside a .docx.
lol = b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
prev = "lol"
for i in range(1, 10):
    cur = "lol%d" % i
    lol += ('<!ENTITY %s "%s">\n' % (cur, ("&%s;" % prev) * 10)).encode()
    prev = cur
lol += ("]>\n<lolz>&%s;</lolz>\n" % prev).encode()
put("laughs.xml", lol)
with zipfile.ZipFile(os.path.join(out, "laughs.docx"), "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
    z.writestr("word/document.xml", lol)

# HTML nested 100,000 deep; and the same with unclosed tags.
put("deep.html", b"<html><body>" + b"<div>" * 100000 + b"deep" + b"</div>" * 100000 + b"</body></html>")
put("deep-open.html", b"<html><body>" + b"<b><i>" * 50000 + b"x")
put("deep.json", b"[" * 100000 + b"]" * 100000)
put("deep.xml", b"<a>" * 100000 + b"</a>" * 100000)

# Zero bytes, for every extension.
for ext in ["txt", "md", "html", "htm", "csv", "json", "xml", "pdf", "docx", "xlsx", "pptx",
            "odt", "ods", "odp", "epub", "py", "c", "bin", "rtf", ""]:
    put("empty." + ext if ext else "empty", b"")

# Random bytes named like documents.
for i in range(5):
    put("random-%d.pdf" % i, bytes(rnd.getrandbits(8) for _ in range(4096 + i * 1000)))
put("random.docx", bytes(rnd.getrandbits(8) for _ in range(8192)))
put("fake.pdf", b"%PDF-1.7\n" + bytes(rnd.getrandbits(8) for _ in range(2000)))
put("fake.docx", b"PK\x03\x04" + bytes(rnd.getrandbits(8) for _ in range(2000)))

# Image bombs for the OCR path: a PNG header claiming 60000x60000 pixels
# (3.6 GB decoded) over a few KiB of data, truncated PNGs, random bytes as images.
import struct
def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
def png(w, h, rows):
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b""))
put("bomb.png", png(60000, 60000, b"\x00" * 60001 * 50))
small = png(64, 16, b"".join(b"\x00" + bytes((x * 4) & 255 for x in range(64)) for _ in range(16)))
for o in (8, 20, 33, len(small) // 2, len(small) - 5):
    put("trunc-small-%d.png" % o, small[:o])
put("random.png", b"\x89PNG\r\n\x1a\n" + bytes(rnd.getrandbits(8) for _ in range(3000)))
put("random.jpg", b"\xff\xd8\xff\xe0" + bytes(rnd.getrandbits(8) for _ in range(3000)))

# Invalid UTF-8 and mixed encodings.
put("invalid-utf8.txt", b"valid start \xc3\x28 \xa0\xa1 \xf0\x28\x8c\xbc \xed\xa0\x80 overlong \xc0\xaf end\n" * 20)
put("mixed.txt", "caf\u00e9 UTF-8 line\n".encode() + "caf\u00e9 Latin-1 line\n".encode("latin-1") + "\u65e5\u672c\u8a9e".encode("shift_jis") + b"\n")
put("mixed.html", b"<html><head><meta charset='utf-8'></head><body><p>" + "\u00e9".encode("latin-1") * 50 + b"</p></body></html>")
put("utf16-odd.txt", b"\xff\xfeh\x00i\x00\x00")

# NUL bytes in text.
put("nul.txt", b"text with \x00 a NUL\n" * 50)
put("nul.md", b"# Title\x00\n\nbody\x00\x00\n")
put("nul.csv", b"a,b\n1,\x00\n")

# A name that is not UTF-8, and one with a newline.
put(b"latin1-name-\xe9\xff.txt", b"a file whose name is not UTF-8\n")
put("new\nline.txt", b"a file whose name has a newline\n")

# 100 good files.
for i in range(100):
    put("good-%03d.md" % i, ("# Good %d\n\nA good file, number %d, with *some* text.\n" % (i, i)).encode())
PY
# A 50 MB single line (no newline at all).
head -c 37500000 /dev/urandom | base64 -w 0 > "$tmp/stage/one-line.txt"
# A symlink out of the watch, to a file only it leads to.
echo "SECRET-OUTSIDE-THE-WATCH" > "$tmp/outside/secret.txt"
ln -s "$tmp/outside/secret.txt" "$tmp/stage/link-out.txt"
ln -s "$tmp/outside" "$tmp/stage/link-dir"
# Every regular file gets a job (maybe but the one whose name is not UTF-8).
n_files=$(($(find "$tmp/stage" -type f -printf x | wc -c) - 1))
echo "made $n_files hostile and good files in $((SECONDS - t0)) s"

cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
[workers]
min = 2
job_timeout = 30s
[watch inbox]
path = inbox
EOF

"$hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
pid=$!
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }
wait_for() { wait_alive "$pid" "$@"; } # stops early when hopperd ($pid) died
ready() { grep -q 'ready:' "$tmp/hopperd.log" 2>/dev/null; }
wait_for 120 ready || { cat "$tmp/hopperd.log"; echo "FAIL: hopperd did not become ready"; exit 1; }

# 2. Drop everything at once (renamed into place: same file system).
for f in "$tmp"/stage/* "$tmp"/stage/.[!.]*; do [ -e "$f" ] || [ -L "$f" ] && mv -- "$f" "$tmp/inbox/"; done
finals() { sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done', 'failed')"; }
settled() {
	[ "$(finals)" -ge "$n_files" ] && [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state NOT IN ('done', 'failed')")" = 0 ]
}
if wait_for 100 settled; then ok "every file ended done or failed ($(finals) jobs for $n_files files) in $((SECONDS - t0)) s"
else fail "not settled after 100 s: $(sql "SELECT state, count(*) FROM hopper.jobs GROUP BY 1" | tr '\n' ' '), $n_files files"; fi
kill -0 "$pid" 2>/dev/null && ok "hopperd is alive" || fail "hopperd died"

# 3. What each ended as.
check() { # check DESCRIPTION EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
check "100 good files done" 100 "$(sql "SELECT count(*) FROM hopper.jobs WHERE path ~ '/good-[0-9]{3}\.md$' AND state = 'done'")"
# Every failure has a sentence: not empty, not a bare number, not '(null)'.
bad=$(sql "SELECT path || ': [' || coalesce(error, '') || ']' FROM hopper.jobs WHERE state = 'failed'
	AND (coalesce(error, '') !~ '[A-Za-z]{3}' OR error ~ '^-?[0-9]+$' OR error LIKE '%(null)%')")
[ -z "$bad" ] && ok "every failure says why" || fail "failures without a readable reason: $bad"
for n in bomb.png random.png random.jpg bomb.docx laughs.docx laughs.xml deep.html deep-open.html deep.json deep.xml one-line.txt \
	invalid-utf8.txt nul.txt empty.txt empty.pdf random-0.pdf; do
	st=$(sql "SELECT state || ': ' || coalesce(error, '') FROM hopper.jobs WHERE path = '$tmp/inbox/$n'")
	[ -n "$st" ] && ok "$n -> $st" || fail "$n has no job"
done
# The billion laughs are never expanded: a done document holds no 'lollol'.
check "entities not expanded" 0 "$(sql "SELECT count(*) FROM hopper.documents WHERE markdown LIKE '%lollollol%'")"
check "newline name done" done "$(sql "SELECT state FROM hopper.jobs WHERE path = '$tmp/inbox/new' || chr(10) || 'line.txt'")"
# A name that is not UTF-8: stored with its bad bytes escaped (\xE9) and
# converted, or named in the log and left out; never a batch failing with it.
st=$(sql "SELECT state FROM hopper.jobs WHERE path LIKE '$tmp/inbox/latin1-name-%'")
if [ "$st" = done ] || [ "$st" = failed ]; then ok "non-UTF-8 name -> $st"
elif LC_ALL=C grep -aq 'latin1-name-.*not valid UTF-8' "$tmp/hopperd.log"; then ok "non-UTF-8 name named in the log, not queued"
else fail "non-UTF-8 name: no job and no log line"; fi
# Nothing was read through the links.
check "nothing read through a symlink" 0 "$(sql "SELECT count(*) FROM hopper.documents WHERE markdown LIKE '%SECRET-OUTSIDE%'")"
check "no job for a file outside the watch" 0 "$(sql "SELECT count(*) FROM hopper.jobs WHERE path LIKE '$tmp/outside/%' OR path LIKE '%/link-dir/%' OR (path LIKE '%/link-out.txt' AND state = 'done')")"

# 4. The daemon goes on: one more good file, then a clean stop.
printf '# After\n\nstill converting\n' > "$tmp/inbox/after.md"
after() { [ "$(sql "SELECT state FROM hopper.jobs WHERE path = '$tmp/inbox/after.md'")" = done ]; }
wait_for 60 after && ok "still converting after the hostile files" || fail "after.md not done"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=''
check "clean stop" 0 "$rc"
if grep -qE 'ERROR: (Address|Leak|Memory)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$tmp/hopperd.log"; then
	fail "sanitizer report:"; grep -m 5 -E 'Sanitizer|runtime error' "$tmp/hopperd.log"
else ok "no sanitizer report"; fi
echo "note: $n_files hostile and good files through hopperd in $((SECONDS - t0)) s"
if [ $fails -gt 0 ]; then echo "--- hopperd.log (last 40 lines)"; tail -n 40 "$tmp/hopperd.log"; exit 1; fi
exit 0
