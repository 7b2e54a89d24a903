#!/bin/sh
# Makes the image fuzz target's seeds: one small picture of the words
# "Hopper 4711" (mutool, 100 dpi grey), written by Leptonica in every
# format the image converter decodes, so that mutations start from inputs
# that reach Tesseract. Writes seeds/convert_image/text*.*; the outputs are
# committed: run this only to change them (needs cc, libleptonica-dev, mutool).
set -e
cd "$(dirname "$0")"
out=$PWD/seeds/convert_image
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/page.txt" <<'PAGE'
%%MediaBox 0 0 150 40
%%Font F1 Helvetica
BT
/F1 16 Tf
6 14 Td
(Hopper 4711) Tj
ET
PAGE
mutool create -o "$tmp/t.pdf" "$tmp/page.txt"
mutool draw -q -r 100 -c gray -o "$out/text.png" "$tmp/t.pdf"
cat > "$tmp/enc.c" <<'C'
#include <leptonica/allheaders.h>
int main(int argc, char **argv)
{
	PIX *g = argc > 1 ? pixRead(argv[1]) : NULL;
	if (!g)
		return 1;
	PIX *b = pixThresholdToBinary(g, 128), *c = pixConvertGrayToColormap(g), *rgb = pixConvertTo32(g);
	struct { const char *name; PIX *p; int fmt; } o[] = {
		{ "text-gray.jpg", g, IFF_JFIF_JPEG }, { "text-rgb.jpg", rgb, IFF_JFIF_JPEG },
		{ "text-gray-lzw.tif", g, IFF_TIFF_LZW }, { "text-gray-zip.tif", g, IFF_TIFF_ZIP },
		{ "text-bw-g4.tif", b, IFF_TIFF_G4 }, { "text-cmap.gif", c, IFF_GIF },
		{ "text-gray.webp", g, IFF_WEBP }, { "text-gray.jp2", g, IFF_JP2 },
		{ "text-bw.png", b, IFF_PNG }, { "text-cmap.png", c, IFF_PNG }, { "text-bw.pbm", b, IFF_PNM },
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
		bad |= pixWrite(o[i].name, o[i].p, o[i].fmt) != 0;
	return bad;
}
C
cc -o "$tmp/enc" "$tmp/enc.c" -lleptonica
cd "$out" && "$tmp/enc" text.png
