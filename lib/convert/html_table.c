/* html_table.c — HTML <table> to a GFM pipe table on a real grid.
 *
 * Cells are placed the way the HTML table model does (HTML §4.9.12 "forming
 * a table"): each cell takes the first column of its row not already
 * covered by a rowspan from above, and covers `colspan` columns and
 * `rowspan` rows. A pipe table has no spans, so a spanned cell's text is
 * repeated in every slot it covers: a reader of any row or column sees
 * what the page shows there. rowspan=0 covers the rest of the table.
 *
 * A table of a single cell is a layout box: its content is converted as
 * blocks. Several header rows in a <thead> become one header row (GFM has one):
 * each column's header is its texts from top to bottom ("Flow AM").
 *
 * Limits: colspan at most 1000 and rowspan at most 65534 (the HTML
 * clamps), at most MAX_COLS columns (a wider table is cut, with a note and
 * a warning), and the text of all slots together at most lim->max_output
 * (repeating a big cell must not multiply memory past the output cap).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "html-int.h"

#define MAX_COLS 1000
#define MAX_COLSPAN 1000
#define MAX_ROWSPAN 65534

struct src_cell {
	char *text;
	long colspan, rowspan;
};

struct src_row {
	struct src_cell *cells;
	size_t n, alloc;
	int in_thead;
};

struct src_table {
	struct src_row *rows;
	size_t n, alloc;
};

static void src_free(struct src_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		for (size_t k = 0; k < t->rows[i].n; k++)
			free(t->rows[i].cells[k].text);
		free(t->rows[i].cells);
	}
	free(t->rows);
}

static long span_attr(const xmlNode *c, const char *name, long dflt, long max)
{
	const char *v = hp_html_attr(c, name);
	if (!v || !*v)
		return dflt;
	char *end;
	long x = strtol(v, &end, 10);
	if (end == v || x < 0)
		return dflt;
	if (x == 0)
		return strcmp(name, "rowspan") == 0 ? max : 1;
	return x > max ? max : x;
}

/* Read one <tr>'s cells (rendered inline) into t. */
static void read_row(struct hp_html_md *m, struct src_table *t, xmlNode *tr, int depth,
                     int in_thead)
{
	if (depth > m->max_depth) {
		m->err = -ELOOP;
		return;
	}
	if (t->n == t->alloc) {
		size_t a = t->alloc ? t->alloc * 2 : 8;
		struct src_row *p = realloc(t->rows, a * sizeof(*p));
		if (!p) {
			m->err = -ENOMEM;
			return;
		}
		t->rows = p;
		t->alloc = a;
	}
	struct src_row *r = &t->rows[t->n++];
	memset(r, 0, sizeof(*r));
	r->in_thead = in_thead;
	for (xmlNode *c = tr->children; c && !m->err; c = c->next) {
		if (!hp_html_is(c, "td") && !hp_html_is(c, "th"))
			continue;
		if (r->n == r->alloc) {
			size_t a = r->alloc ? r->alloc * 2 : 8;
			struct src_cell *p = realloc(r->cells, a * sizeof(*p));
			if (!p) {
				m->err = -ENOMEM;
				return;
			}
			r->cells = p;
			r->alloc = a;
		}
		char *text = hp_html_render_inline(m, c, depth + 1, 1);
		if (!text)
			return;
		r->cells[r->n++] = (struct src_cell){
			.text = text,
			.colspan = span_attr(c, "colspan", 1, MAX_COLSPAN),
			.rowspan = span_attr(c, "rowspan", 1, MAX_ROWSPAN),
		};
	}
}

static void read_rows(struct hp_html_md *m, struct src_table *t, xmlNode *n, int depth,
                      int in_thead)
{
	for (xmlNode *c = n->children; c && !m->err; c = c->next) {
		if (hp_html_is(c, "tr"))
			read_row(m, t, c, depth + 1, in_thead);
		else if (hp_html_is(c, "thead") || hp_html_is(c, "tbody") || hp_html_is(c, "tfoot")) {
			if (depth + 1 > m->max_depth) {
				m->err = -ELOOP;
				return;
			}
			read_rows(m, t, c, depth + 1, hp_html_is(c, "thead"));
		}
	}
}

/* The grid: rows x cols slots, each a borrowed pointer into src (NULL for
 * an empty slot), so repeating a spanned cell costs no copy. */
struct grid {
	const char **slot;
	size_t rows, cols;
	size_t wanted_cols;   /* before the MAX_COLS cut */
};

/* Place src's cells on the grid. 0 or -errno. */
static int place(struct hp_html_md *m, const struct src_table *t, struct grid *g)
{
	/* Pass 0 finds the width, pass 1 the same placement storing slots. */
	long *cover = NULL;  /* per column: rows still covered from above */
	size_t ncover = 0, width = 0;
	int r = 0;
	for (int pass = 0; pass < 2 && r == 0; pass++) {
		if (cover)
			memset(cover, 0, ncover * sizeof(*cover));
		size_t bytes = 0;
		for (size_t i = 0; i < t->n && r == 0; i++) {
			size_t col = 0;
			const struct src_row *row = &t->rows[i];
			for (size_t k = 0; k < row->n && r == 0; k++) {
				while (col < ncover && cover[col] > 0)
					col++;
				const struct src_cell *c = &row->cells[k];
				for (long s = 0; s < c->colspan; s++, col++) {
					if (col >= ncover) {
						size_t a = ncover ? ncover * 2 : 16;
						while (a <= col)
							a *= 2;
						long *p = realloc(cover, a * sizeof(*p));
						if (!p) {
							r = -ENOMEM;
							break;
						}
						memset(p + ncover, 0, (a - ncover) * sizeof(*p));
						cover = p;
						ncover = a;
					}
					if (col + 1 > width)
						width = col + 1;
					if (pass == 1 && col < g->cols) {
						/* this row and the rows below it that the span reaches */
						for (long d = 0; d < c->rowspan && i + (size_t)d < t->n; d++) {
							g->slot[(i + (size_t)d) * g->cols + col] = c->text;
							bytes += strlen(c->text) + 3;
						}
						if (bytes > m->max_output) {
							r = -EFBIG;
							break;
						}
					}
					cover[col] = c->rowspan;
				}
			}
			/* one row done: every cover shrinks */
			for (size_t k = 0; k < ncover; k++)
				if (cover[k] > 0)
					cover[k]--;
		}
		if (pass == 0 && r == 0) {
			g->wanted_cols = width;
			g->cols = width < MAX_COLS ? width : MAX_COLS;
			g->rows = t->n;
			if (g->cols == 0)
				break;
			if (g->rows > SIZE_MAX / g->cols / sizeof(*g->slot)) {
				r = -EFBIG;
				break;
			}
			g->slot = calloc(g->rows * g->cols, sizeof(*g->slot));
			if (!g->slot)
				r = -ENOMEM;
		}
	}
	free(cover);
	return r;
}

static void out_row(struct hp_html_md *m, const struct grid *g, size_t i)
{
	hp_html_begin_text(m);
	hp_html_out_str(m, "|");
	for (size_t k = 0; k < g->cols; k++) {
		const char *c = g->slot[i * g->cols + k];
		hp_html_out_str(m, " ");
		hp_html_out_str(m, c ? c : "");
		hp_html_out_str(m, " |");
	}
	hp_html_want_break(m, 1);
}

/* How many leading rows form the header: the rows of a <thead> when it has
 * several and rows follow it (a grouped header: "Flow" over "AM" "PM"),
 * else the first row. */
static size_t header_rows(const struct src_table *t)
{
	size_t h = 0;
	while (h < t->n && t->rows[h].in_thead)
		h++;
	return h > 1 && h < t->n ? h : 1;
}

/* The header rows 0..h-1 as one row: per column, the distinct texts from
 * top to bottom ("Flow AM"), a text spanning down or across said once. */
static void out_header(struct hp_html_md *m, const struct grid *g, size_t h)
{
	hp_html_begin_text(m);
	hp_html_out_str(m, "|");
	for (size_t k = 0; k < g->cols; k++) {
		hp_html_out_str(m, " ");
		const char *prev = NULL;
		for (size_t i = 0; i < h; i++) {
			const char *c = g->slot[i * g->cols + k];
			if (!c || !*c || (prev && strcmp(prev, c) == 0))
				continue;
			if (prev)
				hp_html_out_str(m, " ");
			hp_html_out_str(m, c);
			prev = c;
		}
		hp_html_out_str(m, " |");
	}
	hp_html_want_break(m, 1);
}

/* Count rows and cells under n (through thead/tbody/tfoot); the last cell
 * seen into *cell. Stops counting past 2 of either. */
static void count_cells(xmlNode *n, int *rows, int *cells, xmlNode **cell, int depth)
{
	for (xmlNode *c = n->children; c && *rows < 2 && *cells < 2 && depth < 4; c = c->next) {
		if (hp_html_is(c, "tr")) {
			++*rows;
			for (xmlNode *d = c->children; d; d = d->next)
				if (hp_html_is(d, "td") || hp_html_is(d, "th")) {
					++*cells;
					*cell = d;
				}
		} else if (hp_html_is(c, "thead") || hp_html_is(c, "tbody") || hp_html_is(c, "tfoot"))
			count_cells(c, rows, cells, cell, depth + 1);
	}
}

/* A table of one cell is a box for layout (a code listing in a frame):
 * its content as blocks, not a one-cell pipe table. */
static xmlNode *layout_cell(xmlNode *n)
{
	int rows = 0, cells = 0;
	xmlNode *cell = NULL;
	count_cells(n, &rows, &cells, &cell, 0);
	return rows == 1 && cells == 1 ? cell : NULL;
}

void hp_html_table(struct hp_html_md *m, xmlNode *n, int depth)
{
	struct src_table t = { 0 };
	struct grid g = { 0 };
	xmlNode *box = m->inline_only ? NULL : layout_cell(n);
	if (box) {
		hp_html_want_break(m, 2);
		for (xmlNode *c = n->children; c && !m->err; c = c->next)
			if (hp_html_is(c, "caption"))
				hp_html_walk(m, c, depth + 1);
		hp_html_want_break(m, 2);
		for (xmlNode *c = box->children; c && !m->err; c = c->next)
			hp_html_walk(m, c, depth + 2);
		hp_html_want_break(m, 2);
		return;
	}
	for (xmlNode *c = n->children; c && !m->err; c = c->next)
		if (hp_html_is(c, "caption")) {
			hp_html_want_break(m, 2);
			hp_html_walk(m, c, depth + 1);
		}
	read_rows(m, &t, n, depth, 0);
	if (m->err)
		goto out;
	int r = place(m, &t, &g);
	if (r < 0) {
		m->err = r;
		goto out;
	}
	if (g.cols == 0)
		goto out;
	if (m->inline_only) {
		/* a table inside a cell or heading: its cells as words */
		for (size_t i = 0; i < t.n; i++)
			for (size_t k = 0; k < t.rows[i].n; k++)
				if (*t.rows[i].cells[k].text) {
					m->space = 1;
					hp_html_out_atom(m, t.rows[i].cells[k].text,
					                 strlen(t.rows[i].cells[k].text));
				}
		m->space = 1;
		goto out;
	}
	hp_html_want_break(m, 2);
	size_t h = header_rows(&t);
	out_header(m, &g, h);
	hp_html_begin_text(m);
	hp_html_out_str(m, "|");
	for (size_t i = 0; i < g.cols; i++)
		hp_html_out_str(m, " --- |");
	hp_html_want_break(m, 1);
	for (size_t i = h; i < g.rows; i++)
		out_row(m, &g, i);
	hp_html_want_break(m, 2);
	if (g.wanted_cols > g.cols)
		hp_html_note(m, "table cut to the first %zu of %zu columns", g.cols, g.wanted_cols);
out:
	free(g.slot);
	src_free(&t);
}
