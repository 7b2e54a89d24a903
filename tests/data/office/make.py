#!/usr/bin/env python3
"""Writes the small office test documents in this folder from the XML below.

    python3 tests/data/office/make.py      (or: make testdata)

The outputs are committed, so the tests need neither this script nor an
office suite. Each document holds what tests/unit/test_office.c asserts:
headings from styles, runs with emphasis, nested numbered lists, merged
table cells, footnotes, links, images; sheets with shared strings, number
formats and dates; slides with titles, tables and notes; an EPUB spine; and
the OpenDocument equivalents. Timestamps are fixed so the bytes repeat.
"""
import os
import shutil
import struct
import sys
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
DATE = (2024, 1, 2, 3, 4, 6)


def write_zip(name, parts, stored_first=None):
    path = os.path.join(HERE, name)
    with zipfile.ZipFile(path, "w") as z:
        if stored_first:
            zi = zipfile.ZipInfo(stored_first[0], DATE)
            zi.compress_type = zipfile.ZIP_STORED
            z.writestr(zi, stored_first[1])
        for pname, data in parts:
            zi = zipfile.ZipInfo(pname, DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    print("wrote", path)


XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
P = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
RELS = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def rels(items):
    out = XML + f"<Relationships {RELS}>"
    for rid, typ, target, *ext in items:
        mode = ' TargetMode="External"' if ext else ""
        out += f'<Relationship Id="{rid}" Type="{RT}/{typ}" Target="{target}"{mode}/>'
    return out + "</Relationships>"


def core(title, creator):
    return (XML + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{title}</dc:title><dc:creator>{creator}</dc:creator>"
            '<dcterms:created xsi:type="dcterms:W3CDTF">2024-01-02T03:04:05Z</dcterms:created>'
            "</cp:coreProperties>")


def content_types(overrides):
    out = XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    out += '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    out += '<Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/>'
    for part, ct in overrides:
        out += f'<Override PartName="/{part}" ContentType="{ct}"/>'
    return out + "</Types>"


def png_1x1():
    """A valid 1x1 red PNG (PNG spec: signature, IHDR, IDAT, IEND with CRCs)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00", 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


PNG = png_1x1()


C = 'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart"'


def chart_xml(title, cats, series):
    """A bar chart part with its cached values (what Office writes)."""
    out = (XML + f"<c:chartSpace {C} {A} {R}><c:chart><c:title><c:tx><c:rich><a:bodyPr/><a:p><a:r><a:t>{title}</a:t>"
           "</a:r></a:p></c:rich></c:tx></c:title><c:plotArea><c:barChart>")
    for i, (name, vals) in enumerate(series):
        out += (f'<c:ser><c:idx val="{i}"/><c:tx><c:strRef><c:f>Sheet1!$B$1</c:f><c:strCache><c:ptCount val="1"/>'
                f'<c:pt idx="0"><c:v>{name}</c:v></c:pt></c:strCache></c:strRef></c:tx><c:cat><c:strRef><c:strCache>'
                + "".join(f'<c:pt idx="{k}"><c:v>{c}</c:v></c:pt>' for k, c in enumerate(cats)) +
                "</c:strCache></c:strRef></c:cat><c:val><c:numRef><c:numCache><c:formatCode>General</c:formatCode>"
                + "".join(f'<c:pt idx="{k}"><c:v>{v}</c:v></c:pt>' for k, v in enumerate(vals)) +
                "</c:numCache></c:numRef></c:val></c:ser>")
    return out + '</c:barChart><c:valAx><c:title><c:tx><c:rich><a:p><a:r><a:t>axis</a:t></a:r></a:p></c:rich></c:tx></c:title></c:valAx></c:plotArea></c:chart></c:chartSpace>'


# ---- DOCX -------------------------------------------------------------------

def run(text, props=""):
    rpr = f"<w:rPr>{props}</w:rPr>" if props else ""
    return f'<w:r>{rpr}<w:t xml:space="preserve">{text}</w:t></w:r>'


def para(inner, style=None, num=None):
    ppr = ""
    if style or num:
        ppr = "<w:pPr>"
        if style:
            ppr += f'<w:pStyle w:val="{style}"/>'
        if num:
            ppr += f'<w:numPr><w:ilvl w:val="{num[1]}"/><w:numId w:val="{num[0]}"/></w:numPr>'
        ppr += "</w:pPr>"
    return f"<w:p>{ppr}{inner}</w:p>"


def cell(text, extra=""):
    tcpr = f"<w:tcPr>{extra}</w:tcPr>" if extra else ""
    return f"<w:tc>{tcpr}{para(run(text) if text else '')}</w:tc>"


DOCX_STYLES = (XML + f"<w:styles {W}>"
               '<w:docDefaults><w:rPrDefault><w:rPr><w:lang w:val="en-GB"/></w:rPr></w:rPrDefault></w:docDefaults>'
               '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>'
               '<w:style w:type="paragraph" w:styleId="T1"><w:name w:val="Title"/></w:style>'
               '<w:style w:type="paragraph" w:styleId="H1x"><w:name w:val="heading 1"/></w:style>'
               '<w:style w:type="paragraph" w:styleId="H2x"><w:name w:val="heading 2"/><w:basedOn w:val="H1x"/></w:style>'
               '<w:style w:type="paragraph" w:styleId="Mine"><w:name w:val="My Section"/><w:basedOn w:val="Normal"/>'
               '<w:pPr><w:outlineLvl w:val="2"/></w:pPr></w:style>'
               '<w:style w:type="character" w:styleId="Strong"><w:name w:val="Strong"/><w:rPr><w:b/></w:rPr></w:style>'
               "</w:styles>")

DOCX_NUMBERING = (XML + f"<w:numbering {W}>"
                  '<w:abstractNum w:abstractNumId="10">'
                  '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/></w:lvl>'
                  '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="bullet"/></w:lvl>'
                  "</w:abstractNum>"
                  '<w:abstractNum w:abstractNumId="11"><w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/></w:lvl></w:abstractNum>'
                  '<w:num w:numId="1"><w:abstractNumId w:val="10"/></w:num>'
                  '<w:num w:numId="2"><w:abstractNumId w:val="11"/></w:num>'
                  '<w:num w:numId="3"><w:abstractNumId w:val="10"/><w:lvlOverride w:ilvl="0">'
                  '<w:startOverride w:val="5"/></w:lvlOverride></w:num>'
                  "</w:numbering>")

DOCX_FOOTNOTES = (XML + f"<w:footnotes {W}>"
                  '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
                  '<w:footnote w:id="1"><w:p>' + run("A footnote about ") + run("sources", "<w:i/>") +
                  "</w:p></w:footnote></w:footnotes>")

DRAWING = ('<w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
           '<wp:docPr id="1" name="Picture 1" descr="A tiny red square"/>'
           f'<a:graphic {A}><a:graphicData><pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">'
           '<pic:blipFill><a:blip r:embed="rId9"/></pic:blipFill></pic:pic></a:graphicData></a:graphic>'
           "</wp:inline></w:drawing></w:r>")

DOCX_BODY = "".join([
    para(run("Quarterly Notes"), "T1"),
    para(run("Install", "<w:b/>"), "H1x"),
    para(run("Plain text with ") + run("bold", "<w:b/>") + run(" and ") + run("italic", "<w:i/>") +
         run(" and ") + run("gone", "<w:strike/>") + run(" and ") +
         '<w:r><w:rPr><w:rStyle w:val="Strong"/></w:rPr><w:t>styled</w:t></w:r>' + run(" words.") +
         '<w:r><w:footnoteReference w:id="1"/></w:r>'),
    para(run("Not bold", '<w:b w:val="0"/>') + run(" see ") +
         f'<w:hyperlink r:id="rId8"><w:r><w:t>the site</w:t></w:r></w:hyperlink>' + run(".")),
    para(run("Debian"), "H2x"),
    para(run("Outline level heading"), "Mine"),
    para(run("first step"), num=("1", 0)),
    para(run("a detail"), num=("1", 1)),
    para(run("another detail"), num=("1", 1)),
    para(run("second step"), num=("1", 0)),
    para(run("loose bullet"), num=("2", 0)),
    para(run("Between lists.")),
    para(run("fifth"), num=("3", 0)),
    para(run("sixth"), num=("3", 0)),
    "<w:tbl><w:tr>" + cell("Name") + cell("Q1") + cell("Q2") + "</w:tr>"
    "<w:tr>" + cell("Span", '<w:gridSpan w:val="2"/>') + cell("x") + "</w:tr>"
    "<w:tr>" + cell("Tall", '<w:vMerge w:val="restart"/>') + cell("1") + cell("a|b") + "</w:tr>"
    "<w:tr>" + cell("", "<w:vMerge/>") + cell("2") + cell("3") + "</w:tr></w:tbl>",
    para(DRAWING),
    para(run("Sales by quarter:") + '<w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
         '<wp:docPr id="3" name="Chart 3"/>' + f'<a:graphic {A}><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
         f'<c:chart {C} r:id="rId10"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>'),
    para(run("Field links: ") +
         '<w:fldSimple w:instr=" HYPERLINK &quot;https://example.org/simple&quot; "><w:r><w:t>simple</w:t></w:r></w:fldSimple>' +
         run(" and ") +
         '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> HYPERLINK "https://example.org/</w:instrText></w:r>'
         '<w:r><w:instrText>complex" \\o "tip"</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>' +
         run("complex", "<w:b/>") + '<w:r><w:fldChar w:fldCharType="end"/></w:r>' + run(" and page ") +
         '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> PAGE </w:instrText></w:r>'
         '<w:r><w:fldChar w:fldCharType="separate"/></w:r>' + run("7") + '<w:r><w:fldChar w:fldCharType="end"/></w:r>' + run(".")),
    "<w:tbl><w:tr>" + cell("Steps") + "</w:tr><w:tr><w:tc>" + para(run("boil"), num=("2", 0)) +
    para(run("steep"), num=("2", 0)) + "</w:tc></w:tr></w:tbl>",
    para('<w:del w:id="5"><w:r><w:delText>deleted words</w:delText></w:r></w:del>' + run("Kept words.")),
])

DOCX_DOC = (XML + f'<w:document {W} {R} xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math">'
            f"<w:body>{DOCX_BODY}<w:sectPr/></w:body></w:document>")


def make_docx():
    write_zip("sample.docx", [
        ("[Content_Types].xml", content_types([
            ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")])),
        ("_rels/.rels", rels([("rId1", "officeDocument", "word/document.xml"),
                              ("rId2", "metadata/core-properties", "docProps/core.xml")])),
        ("docProps/core.xml", core("Quarterly Notes", "Ada Lovelace")),
        ("word/_rels/document.xml.rels", rels([
            ("rId1", "styles", "styles.xml"), ("rId2", "numbering", "numbering.xml"),
            ("rId3", "footnotes", "footnotes.xml"),
            ("rId8", "hyperlink", "https://example.org/a b", True),
            ("rId9", "image", "media/image1.png"), ("rId10", "chart", "charts/chart1.xml")])),
        ("word/charts/chart1.xml", chart_xml("Quarterly sales", ["Q1", "Q2"], [("North", [10, 12]), ("South", [7, 9])])),
        ("word/document.xml", DOCX_DOC),
        ("word/styles.xml", DOCX_STYLES),
        ("word/numbering.xml", DOCX_NUMBERING),
        ("word/footnotes.xml", DOCX_FOOTNOTES),
        ("word/media/image1.png", PNG),
    ])


# ---- XLSX -------------------------------------------------------------------

S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def xcell(ref, v, t=None, s=None):
    ta = f' t="{t}"' if t else ""
    sa = f' s="{s}"' if s is not None else ""
    if t == "inlineStr":
        return f'<c r="{ref}"{ta}{sa}><is><t>{v}</t></is></c>'
    return f'<c r="{ref}"{ta}{sa}><v>{v}</v></c>'


def sheet(rows, merges=()):
    out = XML + f"<worksheet {S} {R}><sheetData>"
    for num, cells in rows:
        out += f'<row r="{num}">' + "".join(cells) + "</row>"
    out += "</sheetData>"
    if merges:
        out += f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>"
    return out + "</worksheet>"


XLSX_STYLES = (XML + f"<styleSheet {S}>"
               '<numFmts count="3"><numFmt numFmtId="164" formatCode="&quot;$&quot;#,##0.00"/>'
               '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/>'
               '<numFmt numFmtId="166" formatCode="d mmmm yyyy h:mm"/></numFmts>'
               '<cellXfs count="7"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="10"/>'
               '<xf numFmtId="165"/><xf numFmtId="3"/><xf numFmtId="166"/><xf numFmtId="37"/></cellXfs></styleSheet>')

XLSX_SST = (XML + f'<sst {S} count="5" uniqueCount="5">'
            "<si><t>Item</t></si><si><t>Price</t></si><si><r><t>Rich </t></r><r><t>text</t></r></si>"
            "<si><t>Share</t></si><si><t>Merged title</t></si></sst>")

SHEET1 = sheet([
    (1, [xcell("A1", 4, "s"), xcell("B1", "", None)]),
    (2, [xcell("A2", 0, "s"), xcell("B2", 1, "s"), xcell("C2", 3, "s"), xcell("D2", "When", "inlineStr")]),
    (3, [xcell("A3", 2, "s"), xcell("B3", "1234.5", None, 1), xcell("C3", "0.1234", None, 2),
         xcell("D3", "45292", None, 3)]),
    (5, [xcell("A5", "Big", "inlineStr"), xcell("B5", "1234567", None, 4), xcell("C5", "1", "b"),
         xcell("D5", "45292.75", None, 5)]),
    (6, [xcell("A6", "Plain", "inlineStr"), xcell("B6", "0.30000000000000004"), xcell("C6", "#DIV/0!", "e"),
         xcell("D6", "-1234", None, 6)]),
], merges=("A1:D1",))

SHEET2 = sheet([(i, [xcell(f"A{i}", i), xcell(f"B{i}", f"row {i}", "inlineStr")]) for i in range(1, 31)])


def make_xlsx():
    write_zip("sample.xlsx", [
        ("[Content_Types].xml", content_types([
            ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")])),
        ("_rels/.rels", rels([("rId1", "officeDocument", "xl/workbook.xml"),
                              ("rId2", "metadata/core-properties", "docProps/core.xml")])),
        ("docProps/core.xml", core("Budget 2024", "Grace Hopper")),
        ("xl/workbook.xml", XML + f'<workbook {S} {R}><workbookPr/><sheets>'
         '<sheet name="Prices &amp; Dates" sheetId="1" r:id="rId1"/>'
         '<sheet name="Long" sheetId="2" r:id="rId2"/></sheets></workbook>'),
        ("xl/_rels/workbook.xml.rels", rels([
            ("rId1", "worksheet", "worksheets/sheet1.xml"), ("rId2", "worksheet", "/xl/worksheets/sheet2.xml"),
            ("rId3", "styles", "styles.xml"), ("rId4", "sharedStrings", "sharedStrings.xml")])),
        ("xl/worksheets/sheet1.xml", SHEET1.replace("</worksheet>", '<drawing r:id="rId1"/></worksheet>')),
        ("xl/worksheets/_rels/sheet1.xml.rels", rels([("rId1", "drawing", "../drawings/drawing1.xml")])),
        ("xl/drawings/drawing1.xml", XML + '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"/>'),
        ("xl/drawings/_rels/drawing1.xml.rels", rels([("rId1", "chart", "../charts/chart1.xml")])),
        ("xl/charts/chart1.xml", chart_xml("Price trend", ["Jan", "Feb"], [("Tea", [1.5, 1.75])])),
        ("xl/worksheets/sheet2.xml", SHEET2),
        ("xl/styles.xml", XLSX_STYLES),
        ("xl/sharedStrings.xml", XLSX_SST),
    ])


# ---- PPTX -------------------------------------------------------------------

def sp(ph, paras):
    phx = f'<p:ph type="{ph}"/>' if ph else ""
    body = ""
    for lvl, text, props in paras:
        ppr = f'<a:pPr lvl="{lvl}"/>' if lvl else ""
        rpr = f'<a:rPr lang="en-US" {props}' + ("" if props.startswith(">") else "/>")
        body += f'<a:p>{ppr}<a:r>{rpr}<a:t>{text}</a:t></a:r></a:p>'
    return (f'<p:sp><p:nvSpPr><p:cNvPr id="2" name="Shape"/><p:cNvSpPr/><p:nvPr>{phx}</p:nvPr></p:nvSpPr>'
            f"<p:spPr/><p:txBody><a:bodyPr/>{body}</p:txBody></p:sp>")


def slide(shapes):
    return (XML + f"<p:sld {A} {R} {P}><p:cSld><p:spTree>" + "".join(shapes) +
            "</p:spTree></p:cSld></p:sld>")


def tc(text, attrs=""):
    return f"<a:tc{attrs}><a:txBody><a:bodyPr/><a:p><a:r><a:t>{text}</a:t></a:r></a:p></a:txBody></a:tc>"


PPTX_TABLE = ('<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table 3"/><p:cNvGraphicFramePr/><p:nvPr/>'
              '</p:nvGraphicFramePr><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table">'
              '<a:tbl><a:tblGrid><a:gridCol w="1000000"/><a:gridCol w="1000000"/></a:tblGrid><a:tr h="300000">' + tc("Plan") + tc("Cost") + "</a:tr><a:tr h=\"300000\">" + tc("Basic") + tc("10") + "</a:tr>"
              "<a:tr h=\"300000\">" + tc("Both", ' gridSpan="2"') + tc("", ' hMerge="1"') + "</a:tr></a:tbl></a:graphicData></a:graphic></p:graphicFrame>")

PPTX_PIC = ('<p:pic><p:nvPicPr><p:cNvPr id="5" name="Picture 7" descr="Sales chart"/><p:cNvPicPr/><p:nvPr/></p:nvPicPr>'
            '<p:blipFill><a:blip r:embed="rId2"/></p:blipFill><p:spPr/></p:pic>')


def make_pptx():
    s1 = slide([sp("ctrTitle", [(0, "Roadmap 2025", "")]), sp("subTitle", [(0, "Team offsite", "")])])
    s2 = slide([sp("body", [(0, "Ship the importer", 'b="1"'), (1, "PDF first", ""), (1, "then Office", 'i="1"'),
                          (0, "Measure", "")]),
                sp(None, [(0, "Docs", '><a:hlinkClick r:id="rId3"/></a:rPr>')]),
                sp("title", [(0, "Goals", "")]), PPTX_TABLE, PPTX_PIC,
                sp("sldNum", [(0, "99", "")])])
    notes = (XML + f"<p:notes {A} {R} {P}><p:cSld><p:spTree>" + sp("sldImg", []) +
             sp("body", [(0, "Remember the budget.", "")]) + "</p:spTree></p:cSld></p:notes>")
    write_zip("sample.pptx", [
        ("[Content_Types].xml", content_types([
            ("ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml")])),
        ("_rels/.rels", rels([("rId1", "officeDocument", "ppt/presentation.xml"),
                              ("rId2", "metadata/core-properties", "docProps/core.xml")])),
        ("docProps/core.xml", core("", "Alan Turing")),
        ("ppt/presentation.xml", XML + f"<p:presentation {A} {R} {P}><p:sldIdLst>"
         '<p:sldId id="257" r:id="rId3"/><p:sldId id="256" r:id="rId2"/></p:sldIdLst></p:presentation>'),
        ("ppt/_rels/presentation.xml.rels", rels([("rId2", "slide", "slides/slide2.xml"),
                                                  ("rId3", "slide", "slides/slide1.xml")])),
        ("ppt/slides/slide1.xml", s1),
        ("ppt/slides/slide2.xml", s2),
        ("ppt/slides/_rels/slide2.xml.rels", rels([("rId1", "notesSlide", "../notesSlides/notesSlide1.xml"),
                                                   ("rId2", "image", "../media/image1.png"),
                                                   ("rId3", "hyperlink", "https://example.org/docs", True)])),
        ("ppt/notesSlides/notesSlide1.xml", notes),
        ("ppt/media/image1.png", PNG),
    ])


# ---- EPUB -------------------------------------------------------------------

def xhtml(title, body):
    return (XML + '<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><head>'
            f"<title>{title}</title></head><body>{body}</body></html>")


def make_epub():
    opf = (XML + '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
           '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x</dc:identifier>'
           "<dc:title>The Small Book</dc:title><dc:creator>Mary Shelley</dc:creator><dc:creator>Percy Shelley</dc:creator>"
           "<dc:language>en</dc:language></metadata><manifest>"
           '<item id="c2" href="text/ch%202.xhtml" media-type="application/xhtml+xml"/>'
           '<item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>'
           '<item id="img" href="images/a.png" media-type="image/png"/>'
           '</manifest><spine><itemref idref="c1"/><itemref idref="c2"/><itemref idref="gone"/></spine></package>')
    write_zip("sample.epub", [
        ("META-INF/container.xml", XML + '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
         '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>'),
        ("OEBPS/content.opf", opf),
        ("OEBPS/text/ch1.xhtml", xhtml("One", "<h1>Chapter One</h1><p>It was a <b>dark</b> night.</p>"
                                              "<ul><li>first</li><li>second</li></ul>")),
        ("OEBPS/text/ch 2.xhtml", xhtml("Two", "<h1>Chapter Two</h1><table><tr><th>A</th><th>B</th></tr>"
                                               "<tr><td>1</td><td>2</td></tr></table>")),
        ("OEBPS/images/a.png", PNG),
    ], stored_first=("mimetype", "application/epub+zip"))


# ---- OpenDocument -------------------------------------------------------------

ODF_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
          'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
          'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:dc="http://purl.org/dc/elements/1.1/" '
          'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
          'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
          'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
          'office:version="1.3"')

ODF_AUTO = ('<office:automatic-styles>'
            '<style:style style:name="T1" style:family="text"><style:text-properties fo:font-weight="bold"/></style:style>'
            '<style:style style:name="T2" style:family="text"><style:text-properties fo:font-style="italic"/></style:style>'
            '<style:style style:name="T3" style:family="text"><style:text-properties style:text-line-through-style="solid"/></style:style>'
            '<style:style style:name="T4" style:family="text" style:parent-style-name="Strong"/>'
            '<text:list-style style:name="L1"><text:list-level-style-number text:level="1" style:num-format="1"/>'
            '<text:list-level-style-bullet text:level="2" text:bullet-char="*"/></text:list-style>'
            "</office:automatic-styles>")

ODF_STYLES = (XML + f"<office:document-styles {ODF_NS}><office:styles>"
              '<style:style style:name="Heading" style:family="paragraph"/>'
              '<style:style style:name="Chapter" style:display-name="Chapter" style:family="paragraph" '
              'style:parent-style-name="Heading" style:default-outline-level="2"/>'
              '<style:style style:name="Strong" style:family="text"><style:text-properties fo:font-weight="bold"/></style:style>'
              "</office:styles></office:document-styles>")


def odf_meta(title, creator):
    return (XML + f"<office:document-meta {ODF_NS}><office:meta><dc:title>{title}</dc:title>"
            f"<meta:initial-creator>{creator}</meta:initial-creator>"
            "<meta:creation-date>2024-01-02T03:04:05</meta:creation-date>"
            '<meta:document-statistic meta:page-count="2"/></office:meta></office:document-meta>')


def odf_manifest(mime, names):
    out = (XML + '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
           f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}" manifest:version="1.3"/>')
    for n in names:
        t = "image/png" if n.endswith(".png") else "text/xml" if n.endswith(".xml") else "application/octet-stream"
        out += f'<manifest:file-entry manifest:full-path="{n}" manifest:media-type="{t}"/>'
        if n.endswith("/content.xml"):
            d = n[:-len("content.xml")]
            out += f'<manifest:file-entry manifest:full-path="{d}" manifest:media-type="application/vnd.oasis.opendocument.chart"/>'
    return out + "</manifest:manifest>"


CHART = (XML + f'<office:document-content {ODF_NS} xmlns:chart="urn:oasis:names:tc:opendocument:xmlns:chart:1.0">'
         "<office:body><office:chart><chart:chart><chart:title><text:p>Units sold</text:p></chart:title>"
         '<table:table table:name="local-table"><table:table-header-rows><table:table-row>'
         "<table:table-cell/>" + "".join(f"<table:table-cell><text:p>{h}</text:p></table:table-cell>" for h in ("2023", "2024")) +
         "</table:table-row></table:table-header-rows><table:table-rows>"
         "<table:table-row><table:table-cell><text:p>North</text:p></table:table-cell>"
         '<table:table-cell office:value-type="float" office:value="12"><text:p>12</text:p></table:table-cell>'
         '<table:table-cell office:value-type="float" office:value="15"><text:p>15</text:p></table:table-cell></table:table-row>'
         "</table:table-rows></table:table></chart:chart></office:chart></office:body></office:document-content>")


def write_odf(name, kind, body, meta=None, extra=()):
    mime = f"application/vnd.oasis.opendocument.{kind}"
    content = (XML + f"<office:document-content {ODF_NS}>{ODF_AUTO}<office:body>{body}</office:body>"
               "</office:document-content>")
    parts = [("content.xml", content), ("styles.xml", ODF_STYLES)]
    if meta:
        parts.append(("meta.xml", meta))
    parts.append(("Pictures/img1.png", PNG))
    parts.extend(extra)
    parts.append(("META-INF/manifest.xml", odf_manifest(mime, [n for n, _ in parts])))
    write_zip(name, parts, stored_first=("mimetype", mime))


def ocell(text, attrs=""):
    return f"<table:table-cell{attrs}><text:p>{text}</text:p></table:table-cell>" if text else f"<table:table-cell{attrs}/>"


def make_odt():
    body = ("<office:text><text:sequence-decls/>"
            '<text:h text:outline-level="1"><text:span text:style-name="T1">Install</text:span></text:h>'
            '<text:p>Plain <text:span text:style-name="T1">bold</text:span> and '
            '<text:span text:style-name="T2">italic</text:span> and <text:span text:style-name="T3">gone</text:span> and '
            '<text:span text:style-name="T4">strong</text:span>.<text:note text:note-class="footnote">'
            "<text:note-citation>1</text:note-citation><text:note-body><text:p>A note.</text:p></text:note-body></text:note></text:p>"
            '<text:p>See <text:a xlink:href="https://example.org/odf">the site</text:a>.</text:p>'
            '<text:p text:style-name="Chapter">Debian</text:p>'
            '<text:list text:style-name="L1"><text:list-item><text:p>first step</text:p>'
            "<text:list><text:list-item><text:p>a detail</text:p></text:list-item></text:list></text:list-item>"
            "<text:list-item><text:p>second step</text:p></text:list-item></text:list>"
            '<table:table table:name="Table1"><table:table-column table:number-columns-repeated="3"/>'
            "<table:table-row>" + ocell("Name") + ocell("Q1") + ocell("Q2") + "</table:table-row>"
            "<table:table-row>" + ocell("Span", ' table:number-columns-spanned="2"') +
            "<table:covered-table-cell/>" + ocell("x") + "</table:table-row>"
            "<table:table-row>" + ocell("Tall", ' table:number-rows-spanned="2"') + ocell("1") + ocell("2") + "</table:table-row>"
            "<table:table-row><table:covered-table-cell/>" + ocell("3") + ocell("4") + "</table:table-row>"
            "</table:table>"
            '<table:table table:name="Table2"><table:table-row>' + ocell("Steps") + "</table:table-row>"
            '<table:table-row><table:table-cell><text:list text:style-name="L1"><text:list-item><text:p>boil</text:p>'
            "</text:list-item><text:list-item><text:p>steep</text:p></text:list-item></text:list></table:table-cell>"
            "</table:table-row></table:table>"
            '<text:p><draw:frame draw:name="Image 1"><draw:image xlink:href="Pictures/img1.png"/>'
            "<svg:title>A tiny red square</svg:title></draw:frame></text:p>"
            '<text:tracked-changes><text:changed-region><text:deletion><text:p>deleted words</text:p></text:deletion>'
            "</text:changed-region></text:tracked-changes>"
            "</office:text>")
    write_odf("sample.odt", "text", body, odf_meta("Field Notes", "Ada Lovelace"))


def make_ods():
    body = ('<office:spreadsheet><table:table table:name="Prices">'
            '<table:table-column table:number-columns-repeated="1024"/>'
            '<table:table-row>' + ocell("Merged title", ' table:number-columns-spanned="2"') +
            '<table:covered-table-cell/><table:table-cell table:number-columns-repeated="1021"/></table:table-row>'
            "<table:table-row>" + ocell("Item") + ocell("Price") + "</table:table-row>"
            '<table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
            '<table:table-row>' + ocell("Tea", ' office:value-type="string"') +
            ocell("$1,234.50", ' office:value-type="currency" office:value="1234.5"') + "</table:table-row>"
            '<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
            '</table:table><table:table table:name="Long">' +
            "".join(f"<table:table-row>{ocell(str(i))}{ocell(f'row {i}')}</table:table-row>" for i in range(1, 31)) +
            '<table:table-row table:number-rows-repeated="5">' + ocell("same") + "</table:table-row>"
            "</table:table></office:spreadsheet>")
    write_odf("sample.ods", "spreadsheet", body, odf_meta("", "Grace Hopper"))


def dframe(cls, inner, name="Frame"):
    c = f' presentation:class="{cls}"' if cls else ""
    return f'<draw:frame draw:name="{name}"{c}><draw:text-box>{inner}</draw:text-box></draw:frame>'


def make_odp():
    body = ("<office:presentation>"
            '<draw:page draw:name="page1">' + dframe("title", "<text:p>Roadmap 2025</text:p>") +
            dframe("subtitle", "<text:p>Team offsite</text:p>") + "</draw:page>"
            '<draw:page draw:name="page2">' + dframe("title", "<text:p>Goals</text:p>") +
            dframe("outline", '<text:list text:style-name="L1"><text:list-item><text:p>'
                              '<text:span text:style-name="T1">Ship</text:span> it</text:p></text:list-item></text:list>') +
            dframe("outline", "<text:p>Plain outline line</text:p>") +
            '<draw:frame draw:name="Table 1"><table:table>'
            "<table:table-row>" + ocell("Plan") + ocell("Cost") + "</table:table-row>"
            "<table:table-row>" + ocell("Basic") + ocell("10") + "</table:table-row></table:table></draw:frame>"
            '<draw:frame draw:name="Picture 7"><draw:image xlink:href="Pictures/img1.png"/><svg:desc>Sales chart</svg:desc></draw:frame>' +
            '<draw:frame draw:name="Chart 2"><draw:object xlink:href="./Object 1"/>'
            '<draw:image xlink:href="./ObjectReplacements/Object 1"/></draw:frame>' +
            dframe("page-number", "<text:p>99</text:p>") +
            '<presentation:notes><draw:page-thumbnail presentation:class="page"/>' +
            dframe("notes", "<text:p>Remember the budget.</text:p>") + "</presentation:notes>"
            "</draw:page></office:presentation>")
    write_odf("sample.odp", "presentation", body, odf_meta("", "Alan Turing"),
              extra=[("Object 1/content.xml", CHART), ("ObjectReplacements/Object 1", b"stand-in picture")])


MAKERS = {"docx": make_docx, "xlsx": make_xlsx, "pptx": make_pptx, "epub": make_epub,
          "odt": make_odt, "ods": make_ods, "odp": make_odp}

GOLDEN = {"docx": "word", "xlsx": "excel", "pptx": "powerpoint", "epub": "book",
          "odt": "writer", "ods": "calc", "odp": "impress"}

if __name__ == "__main__":
    which = sys.argv[1:] or list(MAKERS)
    for k in which:
        MAKERS[k]()
        # the same document is a golden one too (tests/data/golden/README):
        # hopper convert must give its twin office.EXT.md byte for byte, the
        # daemon must store the same, and every cut of it must fail cleanly
        shutil.copyfile(os.path.join(HERE, "sample." + k), os.path.join(HERE, "..", "golden", GOLDEN[k] + "." + k))
