/* pdf-layout.h — private to lib/convert/pdf-layout.c, pdf-table.c,
 * pdf-running.c and pdf-markdown.c: the layout pass's work area and the
 * steps each file does. See pdf-int.h for the page model and the one
 * entry point, hp_pdf_layout().
 */
#ifndef HOPPER_PDF_LAYOUT_H
#define HOPPER_PDF_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "hopper/common.h"
#include "pdf-int.h"

/* A cell: one segment, or neighbours on a baseline merged (a small gap,
 * a list marker before its text). */
typedef struct cell {
	float x0, y0, x1, y1, size, base;
	unsigned flags;
	uint32_t text, len;     /* in L->arena */
} cell;

typedef struct line {
	float x0, y0, x1, y1, size, base;
	unsigned flags;         /* bold only if every cell is */
	uint32_t cell, n_cells; /* into L->cells */
} line;

/* B_OCR: a page's OCR text; level = confidence, marker = language,
 * depth = 1 when OCR stopped at its budget. B_NOTE: why a page without
 * text was not read by OCR (a comment line, not text). */
enum { B_PAGE, B_PARA, B_ITEM, B_TABLE, B_OCR, B_NOTE };

typedef struct block {
	int type, page, level, n_lines;
	float size;
	unsigned flags;
	uint32_t text, len;     /* in L->arena; tables: rendered rows */
	char marker[12];        /* list items */
	int depth;
} block;

typedef struct layout {
	hp_pdf_page *pg;
	int page_no;
	float body;
	hp_buf arena;           /* cell and block texts */
	cell *cells;
	size_t n_cells, cap_cells;
	line *lines;
	size_t n_lines, cap_lines;
	block *blocks;
	size_t n_blocks, cap_blocks;
	uint32_t *idx;          /* segment indices, per flow */
	hp_pdf_layout_info *info;
	/* hashes of the hyphenated words written whole somewhere in the
	 * document ("chat-optimized"), so a line-end hyphen in one of them is
	 * kept; open addressing, 0 = empty */
	uint64_t *hyph;
	size_t hyph_cap;
	/* list nesting: x of the markers of the open list */
	float list_x[8];
	int list_depth;
} layout;

/* The text at offset off of the arena; "" while the arena is still empty
 * (its data pointer is NULL until the first append). */
static inline const char *arena_at(const layout *L, size_t off)
{
	return L->arena.data ? L->arena.data + off : "";
}

/* The margin share of the page height where running headers and footers
 * are looked for. */
#define HP_PDF_MARGIN_FRAC 0.12f

/* pdf-layout.c */
block *hp_pdf_new_block(layout *L, int type);
const char *hp_pdf_seg_text(const hp_pdf_page *p, const hp_pdf_seg *s);
/* Is s[0..n) a bare page number ("7", "Page 7 of 12", "- 7 -", "iv")? */
int hp_pdf_is_page_number(const char *s, size_t n);

/* pdf-running.c: mark running headers, footers and page numbers
 * HP_PDF_DROPPED (the first occurrence of a repeated line stays). 0 or
 * -ENOMEM. */
int hp_pdf_drop_running(hp_pdf_page *pages, size_t n, hp_pdf_layout_info *info);

/* pdf-table.c */
/* Try lines[a..b) of the current flow as a table; 1 when a B_TABLE block
 * was added, 0 when they are not a table, -ENOMEM. */
int hp_pdf_try_table(layout *L, size_t a, size_t b, float fx0, float fx1);
/* A horizontal rule between heights ya and yb across half of [x0, x1]? */
int hp_pdf_rule_between(const hp_pdf_page *pg, float x0, float x1, float ya, float yb);

/* pdf-markdown.c */
/* Heading levels from sizes and weight, relative to body (the body size). */
void hp_pdf_assign_levels(layout *L, float body);
/* Append s[0..n) with Markdown syntax escaped ('|' too when in_table). */
int hp_pdf_add_escaped(hp_buf *b, const char *s, size_t n, int in_table);
/* Write the blocks as Markdown to out. 0, -ENOMEM or -EFBIG. */
int hp_pdf_emit(layout *L, hp_buf *out);

#endif
