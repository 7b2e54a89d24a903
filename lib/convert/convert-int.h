/* convert-int.h — private to lib/convert/: the converter entries and the
 * helpers they share. Not a public contract; include/hopper/convert.h is.
 */
#ifndef HOPPER_CONVERT_INT_H
#define HOPPER_CONVERT_INT_H

#include <stddef.h>

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

/* Like hp_to_utf8(), but decode from `charset` (a name or alias from the
 * table opened by hp_convert_init) instead of detecting it. -ENOTSUP when
 * the charset is not in the table, -EINVAL when the bytes do not decode. */
int hp_to_utf8_from(const char *charset, const char *data, size_t len,
                    char **ret, size_t *ret_len, char *err, size_t errlen);

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

/* The body of a converter whose Markdown is the input text itself (text,
 * Markdown): decode to UTF-8, CRLF to LF, enforce lim->max_output, take the
 * title with title_fn (which sets *ret, NULL for none; 0 or -errno), and
 * fill doc->markdown, markdown_len and title. 0 or -errno with err set. */
int hp_conv_as_is(const char *data, size_t len, const hp_convert_limits *lim,
                  int (*title_fn)(const char *s, size_t n, char **ret), hp_doc *doc,
                  char *err, size_t errlen);

#endif
