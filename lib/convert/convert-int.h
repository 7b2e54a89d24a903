/* convert-int.h — private to lib/convert/: the converter entries and the
 * helpers they share. Not a public contract; include/hopper/convert.h is.
 */
#ifndef HOPPER_CONVERT_INT_H
#define HOPPER_CONVERT_INT_H

#include <stddef.h>

#include "hopper/common.h"
#include "hopper/convert.h"

extern const hp_converter hp_conv_text;
extern const hp_converter hp_conv_markdown;
extern const hp_converter hp_conv_html;
extern const hp_converter hp_conv_csv;
extern const hp_converter hp_conv_json;
extern const hp_converter hp_conv_code;
extern const hp_converter hp_conv_xml;
extern const hp_converter hp_conv_image;
extern const hp_converter hp_conv_pdf;

/* MuPDF's context (pdf.c), made once before the sandbox closes. 0 or -ENOMEM. */
int hp_pdf_init(void);
extern const hp_converter hp_conv_docx;
extern const hp_converter hp_conv_xlsx;
extern const hp_converter hp_conv_pptx;
extern const hp_converter hp_conv_epub;
extern const hp_converter hp_conv_odt;
extern const hp_converter hp_conv_ods;
extern const hp_converter hp_conv_odp;

/* Like hp_to_utf8(), but decode from `charset` (a name or alias from the
 * table opened by hp_convert_init) instead of detecting it. -ENOTSUP when
 * the charset is not in the table, -EINVAL when the bytes do not decode. */
int hp_to_utf8_from(const char *charset, const char *data, size_t len,
                    char **ret, size_t *ret_len, char *err, size_t errlen);

/* "UTF-16LE" or "UTF-16BE" when data looks like UTF-16 text without a byte
 * order mark (Latin-script text: a NUL in every other byte, and the first
 * 4 KiB decode to non-control characters); NULL otherwise. */
const char *hp_utf16_bomless(const char *data, size_t len);

/* Is charset one that hp_to_utf8_from() can decode? */
int hp_charset_known(const char *charset);

/* Are these bytes valid UTF-8 (RFC 3629: no overlongs, no surrogates)? */
int hp_utf8_valid(const char *s, size_t len);

/* Write "output over N MiB" for limit into err and return -EFBIG. */
int hp_conv_efbig(size_t limit, char *err, size_t errlen);

/* Append s as a JSON string literal (with quotes) to b. 0 or -errno. */
struct hp_buf;
int hp_json_str(struct hp_buf *b, const char *s);

/* A malloc'd copy of the first non-empty line of s[0..len), trimmed and cut
 * to at most max bytes at a UTF-8 boundary; *ret = NULL when there is none.
 * 0 or -ENOMEM. */
int hp_title_from_line(const char *s, size_t len, size_t max, char **ret);

/* Remove every '\r' that precedes '\n' in s[0..n), in place, and NUL-
 * terminate; returns the new length. */
size_t hp_crlf_to_lf(char *s, size_t n);

#define HP_TITLE_MAX 200

/* Nothing is cut silently. hp_doc_warn records one sentence ("table cut to
 * the first 1000 of 4000 columns") for documents.meta "warnings";
 * hp_convert() merges them into doc->meta_json after the converter
 * returns (at most HP_WARN_MAX; further ones are counted in the last).
 * hp_conv_note does the same and also appends the sentence to md as its
 * own paragraph "> Note: SENTENCE\n", where the cut is (the caller
 * separates what follows by a blank line). 0 or -errno
 * (-ENOMEM; -EFBIG from md). */
#define HP_WARN_MAX 50
int hp_doc_warn(hp_doc *doc, const char *fmt, ...) HP_PRINTF(2, 3);
int hp_conv_note(hp_doc *doc, struct hp_buf *md, const char *fmt, ...) HP_PRINTF(3, 4);

/* Which office/EPUB format is this ZIP archive (zip.c)? From the
 * "mimetype" entry (ODF, EPUB), else the main part's content type in
 * [Content_Types].xml (OOXML, macro-enabled and template variants too).
 * HP_FMT_UNKNOWN when the bytes are no readable ZIP or neither says. */
hp_format hp_office_sniff(const void *data, size_t len);

/* The body of a converter whose Markdown is the input text itself (text,
 * Markdown): decode to UTF-8, CRLF to LF, enforce lim->max_output, take the
 * title with title_fn (which sets *ret, NULL for none; 0 or -errno), and
 * fill doc->markdown, markdown_len and title. 0 or -errno with err set. */
int hp_conv_as_is(const char *data, size_t len, const hp_convert_limits *lim,
                  int (*title_fn)(const char *s, size_t n, char **ret), hp_doc *doc,
                  char *err, size_t errlen);

#endif
