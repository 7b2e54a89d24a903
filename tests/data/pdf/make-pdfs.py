#!/usr/bin/env python3
"""Generate the PDF test documents in this folder with `mutool create`
(Debian's mupdf-tools) and `mutool clean` (encryption).

Run from anywhere: python3 tests/data/pdf/make-pdfs.py
The outputs are committed, so tests and CI need no generator; run it again
only when changing a document. Layout is computed here (Courier body text
has exact widths, so justified lines are exact) and written as PDF content
streams with y measured from the top of the page, converted below.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = {"paper.pdf": "paper.pdf", "ruled.pdf": "ruled.pdf", "memo.pdf": "memo.pdf"}
W, H = 612, 792   # US Letter

FONTS = {"F1": "Courier", "F2": "Helvetica-Bold", "F3": "Helvetica", "F4": "Times-Roman",
         "F5": "Symbol"}


def esc(s):
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


class Page:
    def __init__(self):
        self.ops = []

    def text(self, x, y, font, size, s, tw=0.0):
        """s at x, baseline y (from the top), word spacing tw."""
        self.ops.append("BT /%s %g Tf %g Tw %g %g Td (%s) Tj ET" % (font, size, tw, x, H - y, esc(s)))

    def centered(self, y, font, size, s, width_per_char):
        w = len(s) * width_per_char * size
        self.text((W - w) / 2, y, font, size, s)

    def hline(self, x0, x1, y, w=0.5):
        self.ops.append("%g w %g %g m %g %g l S" % (w, x0, H - y, x1, H - y))

    def source(self, extra=""):
        head = "%%%%MediaBox 0 0 %d %d\n" % (W, H)
        for k, v in FONTS.items():
            head += "%%%%Font %s %s\n" % (k, v)
        return head + extra + "\n".join(self.ops) + "\n"


def wrap(words, width_chars):
    lines, cur = [], []
    for w in words:
        if cur and len(" ".join(cur + [w])) > width_chars:
            lines.append(cur)
            cur = []
        cur.append(w)
    if cur:
        lines.append(cur)
    return lines


def paragraph(pg, x, y, width, size, text, pitch, hyphen=None):
    """Justified Courier paragraph; returns the y after it. hyphen=(word,
    head, tail) splits that word across a line end as head-/tail."""
    cw = 0.6 * size
    nch = int(width / cw)
    words = text.split()
    lines = wrap(words, nch)
    if hyphen:
        word, head, tail = hyphen
        # end the first line with "head-" and start the second with "tail"
        words = [w for w in words if w != word]
        first = []
        while words and len(" ".join(first + [words[0], head + "-"])) <= nch:
            first.append(words.pop(0))
        first.append(head + "-")
        lines = [first] + wrap([tail] + words, nch)
    for i, ln in enumerate(lines):
        s = " ".join(ln)
        tw = 0.0
        if i < len(lines) - 1 and len(ln) > 1:
            tw = (width - len(s) * cw) / (len(ln) - 1)
        pg.text(x, y, "F1", size, s, tw)
        y += pitch
    return y


LOREM = ("The worker reads the document once and keeps every page in memory while the layout "
         "pass decides the reading order of the text blocks on the page. Each block becomes "
         "a paragraph, a heading or a table row depending on its font and its position.")


def paper():
    pages = []
    # ---- page 1 ----------------------------------------------------------
    p = Page()
    p.text(72, 40, "F3", 8, "Hopper Test Paper - Preprint")
    p.centered(90, "F2", 18, "Reading Order in Two Column Documents", 0.55)
    p.centered(112, "F3", 11, "A. Writer and B. Reader", 0.5)
    p.text(72, 140, "F2", 11, "Abstract")
    y = paragraph(p, 72, 158, 468, 9, "We describe how a converter can recover the reading order of "
                  "a page set in two columns, find its headings from the font size, and keep "
                  "simple tables as tables, a well-known problem. " + LOREM, 11)
    # two columns: left x 72..294, right x 318..540
    lx, rx, cw = 72, 318, 222
    y0 = y + 16
    p.text(lx, y0, "F2", 12, "1 Introduction")
    y = paragraph(p, lx, y0 + 18, cw, 9, "Left column first paragraph. The reconstruction of "
                  "reading order starts from the structured text of each page. " + LOREM, 11,
                  hyphen=("reconstruction", "recon", "struction"))
    y = paragraph(p, lx, y + 6, cw, 9, "Left column second paragraph follows after a gap. " + LOREM, 11)
    p.text(lx, y + 6, "F1", 9, "- first bullet item")
    p.text(lx, y + 17, "F1", 9, "- second bullet item")
    y += 34
    y = paragraph(p, lx, y, cw, 9, "Left column closing paragraph ends the column.", 11)
    # right column
    p.text(rx, y0, "F2", 12, "2 Method")
    y = paragraph(p, rx, y0 + 18, cw, 9, "Right column first paragraph, a well-known fact: it "
                  "must come after all of the left column. " + LOREM, 11,
                  hyphen=("well-known", "well", "known"))
    # a simple table with a rule under its header
    ty = y + 10
    cols = [rx, rx + 90, rx + 160]
    for c, s in zip(cols, ["Model", "Params", "Score"]):
        p.text(c, ty, "F2", 9, s)
    p.hline(rx, rx + cw, ty + 4)
    rows = [["Alpha", "12M", "71.5"], ["Beta", "48M", "78.25"], ["Gamma", "110M", "80.0"]]
    for i, r in enumerate(rows):
        for c, s in zip(cols, r):
            p.text(c, ty + 16 + 12 * i, "F1", 9, s)
    # a wrapped cell: a note tight under the last row's score
    p.text(cols[2], ty + 16 + 12 * (len(rows) - 1) + 7, "F1", 7, "(best)")
    y = ty + 16 + 12 * len(rows) + 10
    p.text(rx, y, "F1", 9, "1. Load the pages.")
    p.text(rx, y + 11, "F1", 9, "2. Order the blocks.")
    p.text(rx, y + 22, "F1", 9, "3. Write Markdown.")
    p.centered(760, "F3", 9, "1", 0.5)
    pages.append(p)
    # ---- page 2 ----------------------------------------------------------
    p = Page()
    p.text(72, 40, "F3", 8, "Hopper Test Paper - Preprint")
    p.text(lx, 80, "F2", 12, "3 Results")
    y = paragraph(p, lx, 98, cw, 9, "Results left column text on the second page. " + LOREM + " " + LOREM, 11)
    p.text(rx, 80, "F2", 12, "4 Conclusion")
    y = paragraph(p, rx, 98, cw, 9, "Conclusion right column text closes the paper. " + LOREM + " " + LOREM, 11)
    p.centered(760, "F3", 9, "2", 0.5)
    pages.append(p)
    return pages


def ruled():
    """A table with rules between rows and cells that wrap at normal line
    spacing, then a paragraph."""
    p = Page()
    p.text(72, 60, "F2", 14, "Parts list")
    x = [72, 160, 400]
    right = 540
    rows = [["Part", "Description", "Price"],
            ["A-100", ["Steel bracket for the", "upper frame, painted"], "12.50"],
            ["B-220", ["Rubber seal"], "3.10"],
            ["C-310", ["Hinge set with screws,", "two per door, left and", "right hand"], "8.75"]]
    y = 90
    p.hline(x[0], right, y - 10)
    for r in rows:
        nlines = max(len(c) if isinstance(c, list) else 1 for c in r)
        for cx, c in zip(x, r):
            for k, t in enumerate(c if isinstance(c, list) else [c]):
                p.text(cx, y + 17 * k, "F2" if r is rows[0] else "F3", 9, t)
        y += 17 * nlines
        p.hline(x[0], right, y - 7)
        y += 6
    for cx in x[1:] + [right]:
        p.ops.append("0.5 w %g %g m %g %g l S" % (cx - 4, H - 80, cx - 4, H - (y - 13)))
    p.text(72, y + 20, "F4", 10, "Prices are per unit and include tax.")
    return p


def guide():
    """Three pages: the title on page 1 in the body, the same words as the
    running header of pages 2 and 3; numbered section headings ("1.");
    "Page N of 3" footers."""
    pages = []
    for n in range(1, 4):
        p = Page()
        if n == 1:
            p.text(72, 150, "F2", 20, "Field Guide")
            y = 190
        else:
            p.text(72, 40, "F3", 8, "Field Guide")
            y = 90
        p.text(72, y, "F2", 13, "%d. Section %s" % (n, "ABC"[n - 1]))
        paragraph(p, 72, y + 20, 468, 10, "Body text of section %d. " % n + LOREM, 13)
        p.text(280, 760, "F3", 8, "Page %d of 3" % n)
        pages.append(p)
    return pages


def simple(lines):
    p = Page()
    y = 72
    for font, size, s in lines:
        p.text(72, y, font, size, s)
        y += size * 1.6
    return p


def write(name, pages, extra="", opts="compress"):
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i, p in enumerate(pages):
            f = os.path.join(d, "p%d.txt" % i)
            # content streams are bytes: one byte per character (Latin-1)
            with open(f, "w", encoding="latin-1") as fh:
                fh.write(p.source(extra))
            files.append(f)
        out = os.path.join(HERE, name)
        subprocess.run(["mutool", "create", "-O", opts, "-o", out] + files, check=True)
    return out


def ppm(path, w, h):
    with open(path, "wb") as f:
        f.write(b"P6 %d %d 255\n" % (w, h))
        for y in range(h):
            for x in range(w):
                v = 255 if (x // 8 + y // 8) % 2 else 40
                f.write(bytes([v, v, v]))


def main():
    write("paper.pdf", paper())
    write("ruled.pdf", [ruled()])
    write("guide.pdf", guide())
    memo = simple([("F2", 16, "Memo"), ("F1", 10, "A one page note with plain text."),
                   ("F1", 10, "It has two lines.")])
    # label/value pairs in two aligned columns: lines, not a table
    for i, (k, v) in enumerate([("Date:", "2024-11-15"), ("Author:", "A. Writer")]):
        memo.text(72, 130 + 14 * i, "F1", 10, k)
        memo.text(160, 130 + 14 * i, "F1", 10, v)
    # a list item wrapped over two lines, its bullet from the Symbol font
    # (a glyph box taller than the text's, as TeX's bullets have)
    memo.text(72, 180, "F5", 20, "\xb7")
    paragraph(memo, 84, 180, 300, 10, "The first item of the list is long enough that it wraps "
              "onto a second line under its own text.", 12)
    memo.text(72, 204, "F5", 20, "\xb7")
    memo.text(84, 204, "F1", 10, "The second item.")
    write("memo.pdf", [memo])
    # encrypted: a user password is needed to open it
    plain = os.path.join(HERE, "memo.pdf")
    subprocess.run(["mutool", "clean", "-E", "aes-128", "-U", "secret", "-O", "owner", plain,
                    os.path.join(HERE, "encrypted.pdf")], check=True)
    # a scan: one image, no text layer
    with tempfile.TemporaryDirectory() as d:
        img = os.path.join(d, "scan.ppm")
        ppm(img, 64, 64)
        p = Page()
        p.ops.append("q 400 0 0 400 100 300 cm /Im1 Do Q")
        src = "%%%%MediaBox 0 0 %d %d\n%%%%Image Im1 %s\n" % (W, H, img) + "\n".join(p.ops) + "\n"
        f = os.path.join(d, "scan.txt")
        with open(f, "w") as fh:
            fh.write(src)
        subprocess.run(["mutool", "create", "-O", "compress", "-o", os.path.join(HERE, "scan.pdf"), f],
                       check=True)
    # a scan of text: a small page of text rendered to a grey PNG by
    # mutool draw, then that picture alone on a page (no text layer)
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src.txt")
        with open(src, "w", encoding="latin-1") as fh:
            fh.write("%%MediaBox 0 0 360 160\n%%Font F1 Helvetica-Bold\n%%Font F2 Helvetica\n"
                     "BT /F1 22 Tf 20 110 Td (Scanned Invoice 4711) Tj ET\n"
                     "BT /F2 16 Tf 20 60 Td (Total due: 128 EUR) Tj ET\n")
        pdf = os.path.join(d, "src.pdf")
        png = os.path.join(d, "scan.png")
        subprocess.run(["mutool", "create", "-o", pdf, src], check=True)
        subprocess.run(["mutool", "draw", "-q", "-r", "200", "-c", "gray", "-o", png, pdf, "1"], check=True)
        page = os.path.join(d, "page.txt")
        with open(page, "w") as fh:
            fh.write("%%%%MediaBox 0 0 360 160\n%%%%Image Im1 %s\nq 360 0 0 160 0 0 cm /Im1 Do Q\n" % png)
        subprocess.run(["mutool", "create", "-O", "compress", "-o", os.path.join(HERE, "scan-text.pdf"), page],
                       check=True)
    # a slow page: many tiny filled paths and one line of text
    p = Page()
    p.text(72, 72, "F3", 12, "A page with a great many paths.")
    p.ops.append("0.5 g")
    for i in range(60000):
        p.ops.append("%d %d 1 1 re f" % (50 + (i % 500), 100 + (i // 500) % 500))
    write("slow.pdf", [p])
    # a title and an author in the document information dictionary
    add_info("memo.pdf", "titled.pdf", "Memo on Reading Order", "Ada Writer")
    # golden documents too (tests/data/golden/README): hopper convert must
    # give their twins byte for byte, the daemon must store the same, and
    # every cut of them must convert or fail cleanly
    for name, golden in GOLDEN.items():
        shutil.copyfile(os.path.join(HERE, name), os.path.join(HERE, "..", "golden", golden))
    return 0


def add_info(src, dst, title, author):
    """Copy src to dst with a document information dictionary (Title,
    Author), appended as an incremental update (PDF 1.7 §7.5.6): mutool
    create writes none."""
    with open(os.path.join(HERE, src), "rb") as fh:
        b = fh.read()
    if not b.endswith(b"\n"):
        b += b"\n"
    tail = b[b.rfind(b"trailer"):]
    size = int(re.search(rb"/Size (\d+)", tail).group(1))
    root = re.search(rb"/Root (\d+ \d+ R)", tail).group(1)
    prev = int(b[b.rfind(b"startxref") + 9:].split()[0])
    obj = b"%d 0 obj\n<</Title (%s)/Author (%s)>>\nendobj\n" % (size, title.encode(), author.encode())
    xref = len(b) + len(obj)
    b += obj + b"xref\n%d 1\n%010d 00000 n \n" % (size, len(b))
    b += b"trailer\n<</Size %d/Root %s/Info %d 0 R/Prev %d>>\nstartxref\n%d\n%%%%EOF\n" % (
        size + 1, root, size, prev, xref)
    with open(os.path.join(HERE, dst), "wb") as fh:
        fh.write(b)


if __name__ == "__main__":
    sys.exit(main())
