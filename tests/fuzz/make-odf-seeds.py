#!/usr/bin/env python3
# Makes small, feature-rich ODF seeds for the odt/odp fuzz targets (run from
# tests/fuzz/: writes seeds/convert_odt/rich.odt, seeds/convert_odp/*.odp).
# The outputs are committed; run this only to change them.
import zipfile, sys
NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
      'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
      'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
      'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
      'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
      'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
      'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
      'xmlns:xlink="http://www.w3.org/1999/xlink" '
      'xmlns:dc="http://purl.org/dc/elements/1.1/" '
      'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
      'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
      'office:version="1.3"')
STY = ('<office:automatic-styles>'
 '<style:style style:name="B" style:family="text"><style:text-properties fo:font-weight="bold"/></style:style>'
 '<style:style style:name="I" style:family="text" style:parent-style-name="B"><style:text-properties fo:font-style="italic" style:text-line-through-style="solid"/></style:style>'
 '<text:list-style style:name="L1"><text:list-level-style-number text:level="1" style:num-format="1"/><text:list-level-style-bullet text:level="2"/></text:list-style>'
 '<style:style style:name="H" style:family="paragraph" style:default-outline-level="2"/>'
 '</office:automatic-styles>')
META = ('<?xml version="1.0" encoding="UTF-8"?><office:document-meta %s><office:meta><dc:title>Seed title</dc:title>'
 '<meta:initial-creator>A</meta:initial-creator><dc:creator>B</dc:creator><dc:language>en</dc:language>'
 '<meta:document-statistic meta:page-count="2"/></office:meta></office:document-meta>' % NS)
def make(path, mime, body):
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr(zipfile.ZipInfo('mimetype'), mime)
        z.writestr('content.xml', '<?xml version="1.0" encoding="UTF-8"?><office:document-content %s>%s<office:body>%s</office:body></office:document-content>' % (NS, STY, body), zipfile.ZIP_DEFLATED)
        z.writestr('meta.xml', META, zipfile.ZIP_DEFLATED)
        z.writestr('styles.xml', '<?xml version="1.0"?><office:document-styles %s><office:styles><style:style style:name="Heading" style:family="paragraph" style:default-outline-level="1"/></office:styles></office:document-styles>' % NS, zipfile.ZIP_DEFLATED)
        z.writestr('META-INF/manifest.xml', '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="%s"/></manifest:manifest>' % mime, zipfile.ZIP_DEFLATED)
TEXT = ('<text:sequence-decls/><text:tracked-changes/>'
 '<text:h text:outline-level="1">Title <text:span text:style-name="B">bold</text:span></text:h>'
 '<text:p text:style-name="H">Styled heading</text:p>'
 '<text:p>Para with <text:a xlink:href="https://example.org/x?a=1&amp;b=2">a link</text:a>,<text:s text:c="3"/>spaces<text:tab/>tab<text:line-break/>'
 'a note<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>Note body</text:p></text:note-body></text:note>'
 ' <text:span text:style-name="I">italic strike</text:span> <office:annotation><dc:creator>C</dc:creator><text:p>comment</text:p></office:annotation>'
 '<text:page-number>3</text:page-number></text:p>'
 '<text:list text:style-name="L1"><text:list-header><text:p>header</text:p></text:list-header><text:list-item><text:p>one</text:p>'
 '<text:list><text:list-item><text:p>nested</text:p></text:list-item></text:list></text:list-item><text:list-item><text:p>two</text:p></text:list-item></text:list>'
 '<table:table table:name="T1"><table:table-columns><table:table-column table:number-columns-repeated="3"/></table:table-columns>'
 '<table:table-row><table:table-cell table:number-columns-spanned="2"><text:p>A|B</text:p></table:table-cell><table:covered-table-cell/><table:table-cell><text:p>C</text:p></table:table-cell></table:table-row>'
 '<table:table-row table:number-rows-repeated="2"><table:table-cell table:number-rows-spanned="1"><text:p>1</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2"><text:p>x</text:p></table:table-cell></table:table-row></table:table>'
 '<text:table-of-content><text:table-of-content-source><text:index-title-template>Contents</text:index-title-template></text:table-of-content-source></text:table-of-content>'
 '<text:p><draw:frame draw:name="f"><draw:image xlink:href="Pictures/a.png"/><svg:title>pic</svg:title><svg:desc>a picture</svg:desc></draw:frame></text:p>')
make('seeds/convert_odt/rich.odt', 'application/vnd.oasis.opendocument.text', '<office:text>%s</office:text>' % TEXT)
PRES = ('<office:presentation>'
 '<draw:page draw:name="S1"><draw:frame presentation:class="title"><draw:text-box><text:p>Slide one</text:p></draw:text-box></draw:frame>'
 '<draw:frame presentation:class="outline"><draw:text-box><text:list><text:list-item><text:p>point <text:span text:style-name="B">b</text:span></text:p></text:list-item></text:list></draw:text-box></draw:frame>'
 '<draw:frame><draw:image xlink:href="Pictures/p.png"><text:p/></draw:image><svg:desc>chart</svg:desc></draw:frame>'
 '<draw:frame><table:table><table:table-row><table:table-cell><text:p>c1</text:p></table:table-cell><table:table-cell><text:p>c2</text:p></table:table-cell></table:table-row></table:table></draw:frame>'
 '<presentation:notes><draw:frame><draw:text-box><text:p>speaker notes</text:p></draw:text-box></draw:frame></presentation:notes></draw:page>'
 '<draw:page draw:name="S2"><draw:custom-shape><text:p>shape text</text:p></draw:custom-shape><draw:g><draw:frame><draw:object xlink:href="./Object 1"/></draw:frame></draw:g></draw:page>'
 '</office:presentation>')
make('seeds/convert_odp/rich.odp', 'application/vnd.oasis.opendocument.presentation', PRES)
make('seeds/convert_odp/text-in.odp', 'application/vnd.oasis.opendocument.presentation', '<office:presentation><draw:page>%s</draw:page></office:presentation>' % TEXT)
