/* pdf-table.c — rows of aligned cells as pipe tables, see pdf-layout.h.
 *
 * Columns are a projection: the x ranges the cells of the table's rows
 * cover, merged where they overlap (the header row, and notes much wider
 * than the usual cell, are placed but do not shape them). A cell belongs
 * to the column it overlaps most. Rows: a line that starts a row has a
 * cell in the first column; a line tight under another continues its row
 * (a wrapped cell). In a ruled table, a rule before nearly every row,
 * rules alone make rows, so cells wrapped at normal spacing stay whole.
 * Two columns whose first cells all end in ':' are label/value lines, not
 * a table.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hopper/common.h"
#include "pdf-layout.h"

/* ---- tables ---------------------------------------------------------------------- */

typedef struct col { float x0, x1; } col;

static int cmp_col(const void *a, const void *b)
{
	const col *x = a, *y = b;
	return (x->x0 > y->x0) - (x->x0 < y->x0);
}


/* Is there a horizontal rule between heights ya and yb (y grows down)
 * across at least half of [x0, x1]? */
int hp_pdf_rule_between(const hp_pdf_page *pg, float x0, float x1, float ya, float yb)
{
	for (size_t i = 0; i < pg->n_rules; i++) {
		const hp_pdf_rule *r = &pg->rules[i];
		if (r->y1 - r->y0 > 2.5f)
			continue;   /* vertical */
		float y = (r->y0 + r->y1) / 2;
		if (y < ya - 1 || y > yb + 1)
			continue;
		float ov = (r->x1 < x1 ? r->x1 : x1) - (r->x0 > x0 ? r->x0 : x0);
		if (ov >= 0.5f * (x1 - x0))
			return 1;
	}
	return 0;
}

/* The column a cell belongs to: the one it overlaps most, else the
 * nearest. */
static size_t col_of(const cell *ce, const col *cols, size_t m)
{
	size_t best = 0;
	float best_ov = 0, best_d = 1e9f;
	for (size_t k = 0; k < m; k++) {
		float ov = (ce->x1 < cols[k].x1 ? ce->x1 : cols[k].x1) - (ce->x0 > cols[k].x0 ? ce->x0 : cols[k].x0);
		if (ov > best_ov) {
			best_ov = ov;
			best = k;
		}
	}
	if (best_ov > 0)
		return best;
	for (size_t k = 0; k < m; k++) {
		float d = fabsf((ce->x0 + ce->x1) / 2 - (cols[k].x0 + cols[k].x1) / 2);
		if (d < best_d) {
			best_d = d;
			best = k;
		}
	}
	return best;
}

/* Try lines[a..b) as a table: columns are the x ranges the cells cover
 * (a projection), each cell goes to the column it lies in. Returns 1 when
 * a table block was written, 0 when these lines are not a table. */
static int cmp_width(const void *a, const void *b)
{
	const col *x = a, *y = b;
	float wx = x->x1 - x->x0, wy = y->x1 - y->x0;
	return (wx > wy) - (wx < wy);
}

/* Is line i a continuation of the table row above it: no cell in the
 * first column and tight under the previous line (a wrapped cell)? */
static int continues_row(const layout *L, size_t i, const col *cols, size_t m, int ruled)
{
	const line *ln = &L->lines[i], *pl = &L->lines[i - 1];
	float x0 = cols[0].x0, x1 = cols[m - 1].x1;
	if (ruled)
		return !hp_pdf_rule_between(L->pg, x0, x1, pl->y1, ln->y0);
	for (uint32_t c = 0; c < ln->n_cells; c++)
		if (col_of(&L->cells[ln->cell + c], cols, m) == 0)
			return 0;
	return ln->y0 - pl->y1 < 0.35f * ln->size;
}

/* A ruled table: a rule in (nearly) every gap before a line that starts
 * a row (has a first-column cell). Then rules, not spacing, make rows. */
static int table_ruled(const layout *L, size_t a, size_t b, const col *cols, size_t m)
{
	size_t gaps = 0, rules = 0;
	for (size_t i = a + 1; i < b; i++) {
		const line *ln = &L->lines[i];
		int first = 0;
		for (uint32_t c = 0; c < ln->n_cells; c++)
			first |= col_of(&L->cells[ln->cell + c], cols, m) == 0;
		if (!first)
			continue;
		gaps++;
		rules += hp_pdf_rule_between(L->pg, cols[0].x0, cols[m - 1].x1, L->lines[i - 1].y1, ln->y0);
	}
	return gaps > 0 && rules * 5 >= gaps * 4;
}

static int render_table(layout *L, size_t a, size_t b, const col *cols, size_t m)
{
	block *bl = hp_pdf_new_block(L, B_TABLE);
	if (!bl)
		return -ENOMEM;
	hp_buf *o = &L->arena;
	int r = 0, first_row = 1;
	int ruled = table_ruled(L, a, b, cols, m);
	bl->n_lines = (int)(b - a);
	for (size_t i = a; i < b && r == 0;) {
		/* one row: line i and the lines that continue it */
		size_t e = i + 1;
		while (e < b && continues_row(L, e, cols, m, ruled))
			e++;
		r = hp_buf_addc(o, '|');
		for (size_t k = 0; k < m && r == 0; k++) {
			r = hp_buf_addc(o, ' ');
			int any = 0;
			for (size_t l = i; l < e && r == 0; l++) {
				const line *ln = &L->lines[l];
				for (uint32_t c = 0; c < ln->n_cells && r == 0; c++) {
					const cell *ce = &L->cells[ln->cell + c];
					if (col_of(ce, cols, m) != k)
						continue;
					if (any)
						r = hp_buf_addc(o, ' ');
					/* room first: escaping at most doubles the text */
					if (r == 0)
						r = hp_buf_reserve(o, 2 * (size_t)ce->len + 1);
					if (r == 0)
						r = hp_pdf_add_escaped(o, o->data + ce->text, ce->len, 1);
					any = 1;
				}
			}
			if (r == 0)
				r = hp_buf_addstr(o, " |");
		}
		if (r == 0)
			r = hp_buf_addc(o, '\n');
		if (r == 0 && first_row) {
			first_row = 0;
			r = hp_buf_addc(o, '|');
			for (size_t k = 0; k < m && r == 0; k++)
				r = hp_buf_addstr(o, " --- |");
			if (r == 0)
				r = hp_buf_addc(o, '\n');
		}
		i = e;
	}
	if (r < 0)
		return r;
	bl = &L->blocks[L->n_blocks - 1];
	bl->len = (uint32_t)(o->len - bl->text);
	L->info->tables++;
	L->list_depth = 0;
	return 1;
}

/* Try lines[a..b) as a table: columns are the x ranges the cells cover
 * (a projection), each cell goes to the column it overlaps most. Returns
 * 1 when a table block was written, 0 when these lines are not a table. */
int hp_pdf_try_table(layout *L, size_t a, size_t b, float fx0, float fx1)
{
	enum { MAXC = 32 };
	if (b - a < 2)
		return 0;
	float fw = fx1 - fx0;
	size_t total = 0, nc = 0, wide = 0, multi = 0;
	for (size_t i = a; i < b; i++)
		total += L->lines[i].n_cells;
	col *cols = malloc((total + 1) * sizeof(*cols));
	if (!cols)
		return -ENOMEM;
	int r = 0;
	/* the first row is left out of the projection when there are more:
	 * a header such as "Customer Information" spans the columns below */
	size_t from = b - a >= 3 ? a + 1 : a;
	for (size_t i = a; i < b; i++) {
		line *ln = &L->lines[i];
		for (uint32_t c = 0; c < ln->n_cells; c++) {
			cell *ce = &L->cells[ln->cell + c];
			if (ce->x1 - ce->x0 > 0.45f * fw)
				wide++;
			/* lines of one cell (wrapped cells) do not shape columns */
			if (i >= from && ln->n_cells >= 2)
				cols[nc++] = (col){ ce->x0, ce->x1 };
		}
	}
	if (wide * 2 > b - a || nc == 0)
		goto out;   /* prose, not cells */
	/* a cell much wider than the usual one (a note across the columns)
	 * would merge columns: it is placed, but does not shape them */
	qsort(cols, nc, sizeof(col), cmp_width);
	float med = cols[nc / 2].x1 - cols[nc / 2].x0;
	while (nc > 2 && cols[nc - 1].x1 - cols[nc - 1].x0 > 3 * med + 10 &&
	       cols[nc - 1].x1 - cols[nc - 1].x0 > 0.25f * fw)
		nc--;
	qsort(cols, nc, sizeof(col), cmp_col);
	size_t m = 0;
	for (size_t i = 0; i < nc; i++) {
		if (m && cols[i].x0 <= cols[m - 1].x1 + 1.0f) {
			if (cols[i].x1 > cols[m - 1].x1)
				cols[m - 1].x1 = cols[i].x1;
		} else
			cols[m++] = cols[i];
	}
	if (m < 2 || m > MAXC)
		goto out;
	for (size_t i = a; i < b; i++) {
		line *ln = &L->lines[i];
		size_t used = 0;
		int seen[MAXC] = { 0 };
		for (uint32_t c = 0; c < ln->n_cells; c++) {
			size_t k = col_of(&L->cells[ln->cell + c], cols, m);
			used += !seen[k];
			seen[k] = 1;
		}
		if (used >= 2)
			multi++;
	}
	if (multi < 2)
		goto out;
	/* Label/value pairs ("Date: 2024-11-15") are lines, not a table. */
	if (m == 2) {
		int labels = 1;
		for (size_t i = a; i < b && labels; i++) {
			line *ln = &L->lines[i];
			cell *c0 = &L->cells[ln->cell];
			if (col_of(c0, cols, m) != 0 || c0->len == 0 || L->arena.data[c0->text + c0->len - 1] != ':')
				labels = 0;
		}
		if (labels)
			goto out;
	}
	r = render_table(L, a, b, cols, m);
out:
	free(cols);
	return r;
}

