/* pdf-int.h — private to lib/convert/pdf*.c: the page model that the MuPDF
 * side (pdf.c) fills and the layout side (pdf-layout.c) reads.
 *
 * Split so that the layout heuristics (reading order, columns, tables,
 * headings, lists, running headers) are plain C over numbers and strings:
 * they know nothing of MuPDF and can be tested with hand-made pages.
 *
 * Coordinates are PDF points with y growing downwards (MuPDF's device
 * space for an unscaled page): (0,0) is the top-left corner.
 */
#ifndef HOPPER_PDF_INT_H
#define HOPPER_PDF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "hopper/common.h"

enum {
	HP_PDF_BOLD = 1 << 0,    /* most characters in a bold font */
	HP_PDF_ITALIC = 1 << 1,
	HP_PDF_MONO = 1 << 2,
	HP_PDF_ROTATED = 1 << 3, /* baseline not left-to-right horizontal */
	HP_PDF_DROPPED = 1 << 4, /* running header/footer or page number */
};

/* One run of text on one baseline, as MuPDF's structured text gives a
 * "line": MuPDF starts a new one at a large horizontal gap, so table cells
 * and the two sides of a column gutter arrive as separate segments. */
typedef struct hp_pdf_seg {
	float x0, y0, x1, y1;  /* bounding box */
	float base;            /* baseline y of its first character */
	float size;            /* font size of most of its characters */
	unsigned flags;        /* HP_PDF_* */
	uint32_t text, len;    /* UTF-8 bytes in the page's text buffer, no NUL */
} hp_pdf_seg;

/* A thin filled rectangle or stroked line: a table ruling, underline,
 * or frame. Either horizontal (y0 ~ y1) or vertical (x0 ~ x1). */
typedef struct hp_pdf_rule {
	float x0, y0, x1, y1;
} hp_pdf_rule;

typedef struct hp_pdf_page {
	float w, h;
	hp_pdf_seg *segs;
	size_t n_segs, cap_segs;
	hp_pdf_rule *rules;
	size_t n_rules, cap_rules;
	char *text;            /* all segments' bytes */
	size_t text_len, text_cap;
	int has_images;        /* an image was drawn on it */
	int n_paths;           /* vector paths drawn (outlined text, drawings) */
	/* A page with no text layer read by OCR (pdf.c): its text, malloc'd,
	 * paragraphs separated by blank lines; NULL when it was not read. */
	char *ocr_text;
	int ocr_confidence;    /* 0..100 */
	const char *ocr_lang;  /* static */
	int ocr_timed_out;
	int ocr_dpi;           /* the resolution it was rendered at */
	/* A page without text that OCR did not read (the document's OCR budget
	 * was spent, the page was too large, did not render): why, malloc'd,
	 * said in the Markdown where the page's text would be. */
	char *ocr_note;
} hp_pdf_page;

/* Append a segment whose text is s[0..n) (already clean UTF-8, single
 * spaces, trimmed). 0 or -ENOMEM. */
int hp_pdf_page_add_seg(hp_pdf_page *p, const hp_pdf_seg *seg, const char *s, size_t n);
/* Append a ruling. 0 or -ENOMEM. */
int hp_pdf_page_add_rule(hp_pdf_page *p, const hp_pdf_rule *rule);
void hp_pdf_page_free(hp_pdf_page *p);

/* What the layout found, besides the Markdown. */
typedef struct hp_pdf_layout_info {
	char *title;           /* malloc'd: the largest text on page 1, or NULL */
	size_t chars;          /* non-space characters kept (OCR text included) */
	int pages_without_text;
	int headings, tables, lists, dropped_lines;
	float body_size;
} hp_pdf_layout_info;

/* Lay out pages[0..n) into Markdown appended to out (whose limit is the
 * output cap: -EFBIG when over it), with a "<!-- page N -->" line before
 * each page. Marks the segments it drops (HP_PDF_DROPPED) in the pages.
 * 0 or -ENOMEM / -EFBIG. info->title is the caller's to free (also on
 * failure). */
int hp_pdf_layout(hp_pdf_page *pages, size_t n, hp_buf *out, hp_pdf_layout_info *info);

#endif
