#!/bin/sh
# Makes the OCR test images from text (mutool, Debian's mupdf-tools):
# invoice.png, a 300 dpi grey picture of three lines of text, and
# scan.pdf, a PDF page that is only that picture (no text layer).
# The outputs are committed; run this only to change them.
set -e
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/page.txt" <<'PAGE'
%%MediaBox 0 0 400 200
%%Font F1 Helvetica
BT
/F1 18 Tf
30 150 Td
(Invoice 4711 from Hopper Supplies) Tj
0 -30 Td
(Total due: 1234 euros by Friday) Tj
0 -30 Td
(Scanned pages become searchable text) Tj
ET
PAGE
mutool create -o "$tmp/text.pdf" "$tmp/page.txt"
mutool draw -q -r 300 -c gray -o invoice.png "$tmp/text.pdf"
cat > "$tmp/scan.txt" <<'PAGE'
%%MediaBox 0 0 400 200
%%Image Im0 invoice.png
q 400 0 0 200 0 0 cm /Im0 Do Q
PAGE
cp invoice.png "$tmp/"
(cd "$tmp" && mutool create -o scan.pdf scan.txt)
cp "$tmp/scan.pdf" scan.pdf
