/* convert.h — format detection and conversion of document bytes to Markdown.
 *
 * What it does: detects the format (signatures, then text by its
 * extension or first bytes, libmagic only for what is still open) and runs
 * the converter for it. Each converter is one file
 * lib/convert/<format>.c exporting one hp_converter; the table in
 * lib/convert/convert.c lists them. Adding a format touches that file and
 * the table.
 * What it never does: open files, touch the database, or keep state
 * between calls (except what hp_convert_init loads once).
 * Process rules: runs in worker processes (untrusted input) and in
 * `hopper convert`. Never in the supervisor.
 */
#ifndef HOPPER_CONVERT_H
#define HOPPER_CONVERT_H

#include <stddef.h>
#include <stdint.h>

/* Spellings are shared with SQL (hopper.documents.format). */
typedef enum hp_format {
	HP_FMT_UNKNOWN = 0,
	HP_FMT_PDF,
	HP_FMT_DOCX,
	HP_FMT_XLSX,
	HP_FMT_PPTX,
	HP_FMT_ODT,
	HP_FMT_ODS,
	HP_FMT_ODP,
	HP_FMT_EPUB,
	HP_FMT_HTML,
	HP_FMT_MARKDOWN,
	HP_FMT_TEXT,
	HP_FMT_CSV,
	HP_FMT_JSON,
	HP_FMT_XML,
	HP_FMT_CODE,
	HP_FMT_IMAGE,       /* PNG, JPEG, TIFF, WebP, GIF, BMP: text by OCR */
	HP_FMT__MAX
} hp_format;

/* "pdf", "docx", ... "code"; "unknown" for HP_FMT_UNKNOWN. Never NULL. */
const char *hp_format_name(hp_format f);
/* Inverse; HP_FMT_UNKNOWN when not a known name. */
hp_format hp_format_from_name(const char *name);

/* The result of one conversion. All strings NUL-terminated UTF-8, owned by
 * the hp_doc; free the whole thing with hp_doc_free(). */
typedef struct hp_doc {
	hp_format format;
	char *title;        /* NULL when the document has none */
	char *markdown;     /* never NULL after success */
	size_t markdown_len;
	int pages;          /* 0 when the format has no pages */
	char *meta_json;    /* a JSON object as text, or NULL */
	/* Sentences about what was cut or left out (converters add them with
	 * hp_doc_warn, lib/convert/convert-int.h); hp_convert() adds them to
	 * meta_json as "warnings": [...]. Nothing is cut silently. */
	char **warnings;
	size_t nwarnings;
	size_t nwarnings_over;  /* warnings past HP_WARN_MAX, only counted */
} hp_doc;

typedef struct hp_convert_limits {
	size_t max_output;  /* max Markdown bytes; over it -> -EFBIG */
	int max_depth;      /* max nesting depth of the input tree (HTML/XML) */
	int max_pages;      /* PDF: more pages fail the job; 0 = no cap */
	uint64_t page_time_ms; /* PDF: time one page may take; 0 = no budget */
	const char *ocr_languages; /* Tesseract languages, "eng deu"; NULL = eng */
	/* OCR of one document (PDF pages without text, an image): pages read
	 * at most, and time for all of them; past either, the remaining pages
	 * are skipped with a note. 0 = HP_OCR_DEFAULT_MAX_PAGES / _TIME_MS. */
	int ocr_max_pages;
	uint64_t ocr_time_ms;
	int ocr_dpi;       /* PDF pages rendered for OCR at this; 0 = 300 */
	/* ZIP containers (DOCX, XLSX, PPTX, ODF, EPUB); 0 = the default.
	 * Hitting one fails the job, naming the limit and the entry. */
	uint64_t zip_max_total;    /* bytes inflated in total, default 512 MiB */
	uint32_t zip_max_ratio;    /* inflated:compressed per entry, default 200 */
	uint32_t zip_max_entries;  /* entries in the archive, default 10000 */
	uint32_t max_sheet_rows;   /* rows kept per sheet (XLSX/ODS), default 10000; a note marks the cut */
} hp_convert_limits;

typedef struct hp_converter {
	hp_format format;
	/* Convert `len` bytes. `name` is the file's base name (hint only, may be
	 * NULL). On success fill doc->markdown/markdown_len/title/pages/meta_json
	 * (doc->format is set by the caller) and return 0. On failure return
	 * -errno and write a human sentence into err (no file name, no errno
	 * number: "not valid UTF-8 after charset detection"). */
	int (*convert)(const char *name, const char *data, size_t len,
	               const hp_convert_limits *lim, hp_doc *doc,
	               char *err, size_t errlen);
} hp_converter;

/* 1 when the converter table has an entry for f (this build converts it),
 * else 0: hp_convert() fails with "... documents are not supported yet". */
int hp_format_supported(hp_format f);

/* Load what must be loaded before the sandbox closes (libmagic database,
 * iconv converters for common charsets). Call once per process; idempotent.
 * 0 or -errno. */
int hp_convert_init(void);

/* Detect the format from content and name. Never fails: HP_FMT_UNKNOWN when
 * nothing fits. Binary content with no known signature is UNKNOWN. */
hp_format hp_detect(const char *name, const void *data, size_t len);

/* Detect and convert. Returns 0 and *ret_doc (caller frees with
 * hp_doc_free), or:
 *   -ENOTSUP  format not supported (err says which format / "unrecognised")
 *   -EINVAL   the input is malformed (err says how)
 *   -EFBIG    output over lim->max_output ("output over N MiB")
 *   -ENOMEM
 * Every failure except -ENOMEM is permanent: retrying gives the same. */
int hp_convert(const char *name, const void *data, size_t len,
               const hp_convert_limits *lim, hp_doc **ret_doc,
               char *err, size_t errlen);

void hp_doc_free(hp_doc *doc);

/* Charset helper shared by the text-like converters: returns a freshly
 * malloc'd NUL-terminated valid UTF-8 copy of data (BOM removed), detecting
 * the charset with uchardet when data is not valid UTF-8. -EINVAL with
 * "not valid UTF-8 after charset detection" when that fails. */
int hp_to_utf8(const char *data, size_t len, char **ret, size_t *ret_len,
               char *err, size_t errlen);

#endif
