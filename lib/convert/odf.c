/* odf.c — OpenDocument text, spreadsheets and presentations (ODF 1.2/1.3:
 * ODT, ODS, ODP) to Markdown.
 *
 * One walker over content.xml serves all three; they differ only in what
 * the top of the body is: office:text is a flow of paragraphs, headings
 * (text:h with its outline level), lists, tables, frames; office:spreadsheet
 * is table:table elements, one "## Sheet" section each; office:presentation
 * is draw:page elements, one "<!-- slide N -->" + "## Title" section each,
 * with presentation:notes as "### Notes".
 * Styles (automatic ones in content.xml, named ones in styles.xml) say which
 * spans are bold, italic or struck through and which list levels are
 * numbered. Spreadsheet cells are taken as their text:p, which ODF stores
 * as displayed (number formats already applied). Repeated rows and columns
 * (table:number-*-repeated, which spreadsheets use for millions of empty
 * cells) are counted, never expanded when empty. Spanned cells repeat
 * their value into the cells they cover.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert-int.h"
#include "office.h"

#define MAX_COLS 1000
#define MAX_ROW_REPEAT 1000
#define MAX_LIST 10
#define MAX_DEPTH_FLAGS 512

/* ---- styles -------------------------------------------------------------- */

struct ostyle {
	char *name, *parent;
	int flags;
	int has_flags;
	int heading;     /* paragraph styles: outline level, 0 none, -1 not said */
	size_t seq;      /* definition order: a later one of the same name wins */
};

struct olist {
	char *name;
	int ordered[MAX_LIST];
};

/* ---- a table (sparse rows) ------------------------------------------------ */

struct ocell {
	uint32_t col;
	char *s;
};

struct orow {
	struct ocell *c;
	size_t n, cap;
};

struct otable {
	struct orow *rows;
	size_t nrows, cap;
	size_t total_rows;   /* non-empty rows seen (ODS cap) */
	int cols_cut;
	size_t bytes, limit;
	/* spans: value to repeat into covered cells */
	struct { uint32_t rows_left; char *s; } vspan[MAX_COLS];
	uint32_t hspan_until;
	char *hspan_s;
};

static void otable_free(struct otable *t)
{
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t k = 0; k < t->rows[i].n; k++)
			free(t->rows[i].c[k].s);
		free(t->rows[i].c);
	}
	free(t->rows);
	for (size_t c = 0; c < MAX_COLS; c++)
		free(t->vspan[c].s);
	free(t->hspan_s);
	size_t limit = t->limit;
	memset(t, 0, sizeof(*t));
	t->limit = limit;
}

static int orow_add(struct otable *t, struct orow *r, uint32_t col, const char *s)
{
	size_t l = strlen(s);
	if (l + 16 > t->limit - t->bytes)
		return -EFBIG;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 8;
		struct ocell *c = realloc(r->c, nc * sizeof(*c));
		if (!c)
			return -ENOMEM;
		r->c = c;
		r->cap = nc;
	}
	if (!(r->c[r->n].s = strdup(s)))
		return -ENOMEM;
	r->c[r->n].col = col;
	r->n++;
	t->bytes += l + 16;
	return 0;
}

/* Cells are appended with ascending columns (the column only grows
 * within a row), so a binary search finds them. */
static const char *orow_get(const struct orow *r, uint32_t col)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->c[mid].col < col)
			lo = mid + 1;
		else if (r->c[mid].col > col)
			hi = mid;
		else
			return r->c[mid].s;
	}
	return NULL;
}

/* ---- the converter state ---------------------------------------------------- */

enum kind { ODT, ODS, ODP };

struct odf {
	enum kind kind;
	hp_zip *z;
	const hp_convert_limits *lim;
	char *err;
	size_t errlen;
	hp_xr *x;
	struct ostyle *styles;
	size_t nstyles, scap;
	int styles_sorted;
	size_t list_hit;     /* the list style found last time (list_ordered) */
	struct olist *lists;
	size_t nlists, lcap;
	hp_md md;            /* the document */
	hp_md slide, notes;  /* ODP: the current slide's body and notes */
	hp_md *out;          /* where blocks go now */
	hp_meta meta;
	char *first_heading, *first_title;
	/* inline */
	int flags_at[MAX_DEPTH_FLAGS];
	hp_il para, cell, title, note;
	int para_depth;      /* depth of the open text:p/text:h, 0 = none */
	int heading;         /* level of the open text:h */
	int in_note_body, in_citation, note_depth;
	int notes_n;
	hp_buf notes_text;   /* "[^n]: ..." lines, emitted at the end */
	char *link;
	/* lists */
	int list_level;      /* 0 = not in a list */
	char list_style[128];
	int counters[MAX_LIST];
	int item_fresh;
	/* tables */
	int tbl_depth;
	struct otable tbl;
	struct orow row;
	int row_repeat;
	uint32_t col;
	int cell_repeat, cell_colspan, cell_rowspan, cell_paras, covered;
	char *sheet_name;
	/* frames */
	int frame_depth;
	char *frame_name, *img_href;
	hp_buf img_alt;
	int in_alt, frame_title, frame_skip, frame_outline;
	char *obj_href;      /* draw:object in the current frame */
	int frame_has_table;
	int nested;          /* converting an embedded object */
	const char *content_part;
	/* presentation */
	int in_notes;
	int slide_no;
	size_t max_rows;
};

static int push_style(struct odf *o, const char *name, const char *parent, int flags, int has,
                      int heading)
{
	if (o->nstyles == o->scap) {
		size_t nc = o->scap ? o->scap * 2 : 32;
		struct ostyle *v = realloc(o->styles, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		o->styles = v;
		o->scap = nc;
	}
	struct ostyle *s = &o->styles[o->nstyles];
	s->name = strdup(name);
	s->parent = parent ? strdup(parent) : NULL;
	s->flags = flags;
	s->has_flags = has;
	s->heading = heading;
	s->seq = o->nstyles;
	if (!s->name || (parent && !s->parent)) {
		free(s->name);
		free(s->parent);
		return -ENOMEM;
	}
	o->nstyles++;
	return 0;
}

static int ostyle_cmp(const void *a, const void *b)
{
	const struct ostyle *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorted by (name, definition order) once the styles are read; a lookup
 * takes the last definition of a name (content.xml's automatic styles
 * come after styles.xml's). Unsorted (while reading): a linear scan. */
static const struct ostyle *ostyle_find(struct odf *o, const char *name)
{
	if (!o->styles_sorted) {
		for (size_t i = o->nstyles; i-- > 0;)
			if (strcmp(o->styles[i].name, name) == 0)
				return &o->styles[i];
		return NULL;
	}
	size_t lo = 0, hi = o->nstyles;
	while (lo < hi) {    /* first index with name > key */
		size_t mid = (lo + hi) / 2;
		if (strcmp(o->styles[mid].name, name) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && strcmp(o->styles[lo - 1].name, name) == 0 ? &o->styles[lo - 1] : NULL;
}

static void styles_sort(struct odf *o)
{
	if (o->nstyles > 1)
		qsort(o->styles, o->nstyles, sizeof(*o->styles), ostyle_cmp);
	o->styles_sorted = 1;
}

static int style_flags(struct odf *o, const char *name)
{
	for (int hop = 0; name && hop < 16; hop++) {
		const struct ostyle *found = ostyle_find(o, name);
		if (!found)
			return 0;
		if (found->has_flags)
			return found->flags;
		name = found->parent;
	}
	return 0;
}

/* Outline level of a paragraph style, through its parents; 0 for none. */
static int style_heading(struct odf *o, const char *name)
{
	for (int hop = 0; name && hop < 16; hop++) {
		const struct ostyle *found = ostyle_find(o, name);
		if (!found)
			return 0;
		if (found->heading >= 0)
			return found->heading;
		name = found->parent;
	}
	return 0;
}

/* A paragraph style's own say on headings: style:default-outline-level
 * (ODF 1.2 §19.510), else its name ("Heading 3", "Heading_20_3",
 * "Title"); -1 when it says nothing and its parent decides. */
static int heading_of_style(const char *name, const char *display, const char *level)
{
	if (level && *level)
		return atoi(level) > 0 ? (atoi(level) > 6 ? 6 : atoi(level)) : 0;
	const char *n = display ? display : name;
	if (!n)
		return -1;
	if (strncmp(n, "Heading ", 8) == 0 && n[8] >= '1' && n[8] <= '9' && !n[9])
		return n[8] - '0' > 6 ? 6 : n[8] - '0';
	if (strncmp(n, "Heading_20_", 11) == 0 && n[11] >= '1' && n[11] <= '9' && !n[12])
		return n[11] - '0' > 6 ? 6 : n[11] - '0';
	if (strcmp(n, "Title") == 0)
		return 1;
	return -1;
}

static int list_ordered(struct odf *o, int level)
{
	if (level < 1 || level > MAX_LIST)
		return 0;
	if (o->list_hit < o->nlists && strcmp(o->lists[o->list_hit].name, o->list_style) == 0)
		return o->lists[o->list_hit].ordered[level - 1];
	for (size_t i = o->nlists; i-- > 0;)
		if (strcmp(o->lists[i].name, o->list_style) == 0) {
			o->list_hit = i;
			return o->lists[i].ordered[level - 1];
		}
	return 0;
}

/* Read style definitions from one part (styles.xml, or the automatic
 * styles at the top of content.xml when `stop_at_body`). */
static int read_styles(struct odf *o, hp_xr *x, int stop_at_body)
{
	int r;
	char cur[256] = "", parent[256] = "";
	int flags = 0, has = 0, in_style = 0, heading = -1;
	struct olist *ls = NULL;
	while ((r = hp_xr_next(x)) > 0) {
		enum hp_ns ns = hp_xr_ns(x);
		const char *ln = hp_xr_local(x);
		int t = hp_xr_type(x);
		if (stop_at_body && t == HP_XR_START && ns == HP_NS_OFFICE && strcmp(ln, "body") == 0)
			return 1;
		if (t == HP_XR_START && ns == HP_NS_STYLE && strcmp(ln, "style") == 0) {
			const char *n = hp_xr_attr(x, HP_NS_STYLE, "name");
			const char *p = hp_xr_attr(x, HP_NS_STYLE, "parent-style-name");
			const char *fam = hp_xr_attr(x, HP_NS_STYLE, "family");
			const char *disp = hp_xr_attr(x, HP_NS_STYLE, "display-name");
			const char *lvl = hp_xr_attr(x, HP_NS_STYLE, "default-outline-level");
			heading = fam && strcmp(fam, "paragraph") == 0 ? heading_of_style(n, disp, lvl) : -1;
			snprintf(cur, sizeof(cur), "%s", n ? n : "");
			snprintf(parent, sizeof(parent), "%s", p ? p : "");
			flags = has = 0;
			in_style = 1;
			if (hp_xr_empty(x)) {
				in_style = 0;
				if (cur[0] && (r = push_style(o, cur, parent[0] ? parent : NULL, 0, 0, heading)) < 0)
					return r;
			}
		} else if (t == HP_XR_START && in_style && ns == HP_NS_STYLE && strcmp(ln, "text-properties") == 0) {
			const char *w = hp_xr_attr(x, HP_NS_FO, "font-weight");
			const char *i = hp_xr_attr(x, HP_NS_FO, "font-style");
			const char *s = hp_xr_attr(x, HP_NS_STYLE, "text-line-through-style");
			if (w) {
				has = 1;
				if (strcmp(w, "bold") == 0 || atoi(w) >= 600)
					flags |= HP_IL_B;
			}
			if (i) {
				has = 1;
				if (strcmp(i, "italic") == 0 || strcmp(i, "oblique") == 0)
					flags |= HP_IL_I;
			}
			if (s) {
				has = 1;
				if (strcmp(s, "none") != 0)
					flags |= HP_IL_S;
			}
		} else if (t == HP_XR_END && in_style && ns == HP_NS_STYLE && strcmp(ln, "style") == 0) {
			in_style = 0;
			if (cur[0] && (r = push_style(o, cur, parent[0] ? parent : NULL, flags, has, heading)) < 0)
				return r;
		} else if (t == HP_XR_START && ns == HP_NS_TEXT && strcmp(ln, "list-style") == 0) {
			const char *n = hp_xr_attr(x, HP_NS_STYLE, "name");
			if (!n)
				continue;
			if (o->nlists == o->lcap) {
				size_t nc = o->lcap ? o->lcap * 2 : 16;
				struct olist *v = realloc(o->lists, nc * sizeof(*v));
				if (!v)
					return -ENOMEM;
				o->lists = v;
				o->lcap = nc;
			}
			ls = &o->lists[o->nlists];
			memset(ls, 0, sizeof(*ls));
			if (!(ls->name = strdup(n)))
				return -ENOMEM;
			o->nlists++;
		} else if (t == HP_XR_START && ls && ns == HP_NS_TEXT &&
		           strncmp(ln, "list-level-style-", 17) == 0) {
			const char *lv = hp_xr_attr(x, HP_NS_TEXT, "level");
			int l = lv ? atoi(lv) : 0;
			if (l >= 1 && l <= MAX_LIST) {
				int ord = strcmp(ln + 17, "number") == 0;
				/* a number style with no num-format ("") shows no number */
				const char *f = hp_xr_attr(x, HP_NS_STYLE, "num-format");
				if (ord && f && !*f)
					ord = 0;
				ls->ordered[l - 1] = ord;
			}
		} else if (t == HP_XR_END && ns == HP_NS_TEXT && strcmp(ln, "list-style") == 0) {
			ls = NULL;
		}
	}
	return r;
}

static int load_styles_part(struct odf *o)
{
	hp_xr *x;
	int r = hp_xr_open(o->z, "styles.xml", o->lim, 0, &x, o->err, o->errlen);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = read_styles(o, x, 0);
	hp_xr_close(x);
	return r;
}

/* ---- blocks ------------------------------------------------------------------- */

static hp_il *cur_il(struct odf *o)
{
	if (o->in_note_body)
		return &o->note;
	if (o->frame_title)
		return &o->title;
	if (o->tbl_depth)
		return &o->cell;
	return &o->para;
}

static int para_begin(struct odf *o, int heading)
{
	hp_il *il = cur_il(o);
	int r = 0;
	if (o->para_depth || o->in_note_body) {
		/* a paragraph inside a paragraph (text box, note): join */
		if (il->b.len)
			r = il == &o->cell ? hp_il_break(il) : hp_il_text(il, " ", 1, 0);
		return r == 0 ? 1 : r;
	}
	if (il == &o->cell) {
		if (o->cell_paras++ && il->b.len)
			r = hp_il_break(il);
		/* a list inside a cell keeps its markers, inline */
		if (r == 0 && o->list_level && o->item_fresh) {
			char m[32];
			if (list_ordered(o, o->list_level))
				snprintf(m, sizeof(m), "%d. ", ++o->counters[o->list_level - 1]);
			else
				snprintf(m, sizeof(m), "- ");
			o->item_fresh = 0;
			r = hp_il_raw(il, m);
		}
		return r;
	}
	if (il == &o->title) {
		if (il->b.len)
			r = hp_il_text(il, " ", 1, 0);
		return r;
	}
	o->heading = heading;
	hp_il_reset(&o->para);
	return 0;
}

static int para_end(struct odf *o)
{
	if (o->tbl_depth || o->frame_title || o->frame_skip)
		return 0;
	size_t n;
	const char *s = hp_il_finish(&o->para, &n);
	int r = 0;
	if (!n)
		goto out;
	char prefix[80] = "";
	int list = 0;
	if (o->heading) {
		int h = o->heading > 6 ? 6 : o->heading;
		snprintf(prefix, sizeof(prefix), "%.*s ", h, "######");
		if (!o->first_heading && !(o->first_heading = strndup(s, n))) {
			r = -ENOMEM;
			goto out;
		}
	} else if (o->frame_outline && !o->list_level) {
		list = 1;
		snprintf(prefix, sizeof(prefix), "- ");
	} else if (o->list_level) {
		int lv = o->list_level - 1;
		list = 1;
		if (o->item_fresh) {
			if (list_ordered(o, o->list_level))
				snprintf(prefix, sizeof(prefix), "%*s%d. ", lv * 4, "", ++o->counters[lv]);
			else
				snprintf(prefix, sizeof(prefix), "%*s- ", lv * 4, "");
			o->item_fresh = 0;
		} else {
			snprintf(prefix, sizeof(prefix), "%*s", lv * 4 + 2, "");
		}
	}
	r = hp_md_block(o->out, prefix, s, n, list);
out:
	hp_il_reset(&o->para);
	o->heading = 0;
	return r;
}

/* ---- tables ---------------------------------------------------------------------- */

static int row_end(struct odf *o)
{
	struct otable *t = &o->tbl;
	int r = 0;
	/* vertical spans: one row of theirs is used up */
	for (size_t c = 0; c < MAX_COLS; c++)
		if (t->vspan[c].rows_left)
			t->vspan[c].rows_left--;
	free(t->hspan_s);
	t->hspan_s = NULL;
	t->hspan_until = 0;
	if (o->row.n == 0) {
		free(o->row.c);
		memset(&o->row, 0, sizeof(o->row));
		if (o->kind != ODS && o->tbl.nrows) {
			/* an empty row inside a text table stays, once */
			if (t->nrows == t->cap) {
				size_t nc = t->cap ? t->cap * 2 : 16;
				struct orow *v = realloc(t->rows, nc * sizeof(*v));
				if (!v)
					return -ENOMEM;
				t->rows = v;
				t->cap = nc;
			}
			t->rows[t->nrows++] = (struct orow){ 0 };
		}
		return r;
	}
	int rep = o->row_repeat < 1 ? 1 : o->row_repeat;
	if (rep > MAX_ROW_REPEAT) {
		r = hp_meta_warn(&o->meta, "table %s: a row repeated %d times kept %d times",
		                 o->sheet_name ? o->sheet_name : "", rep, MAX_ROW_REPEAT);
		rep = MAX_ROW_REPEAT;
	}
	for (int k = 0; k < rep && r == 0; k++) {
		if (o->kind == ODS && t->nrows >= o->max_rows) {
			t->total_rows += (size_t)(rep - k);   /* counted, not kept */
			break;
		}
		t->total_rows++;
		if (t->nrows == t->cap) {
			size_t nc = t->cap ? t->cap * 2 : 16;
			struct orow *v = realloc(t->rows, nc * sizeof(*v));
			if (!v)
				return -ENOMEM;
			t->rows = v;
			t->cap = nc;
		}
		struct orow copy = { 0 };
		for (size_t i = 0; i < o->row.n && r == 0; i++)
			r = orow_add(t, &copy, o->row.c[i].col, o->row.c[i].s);
		t->rows[t->nrows++] = copy;
	}
	for (size_t i = 0; i < o->row.n; i++)
		free(o->row.c[i].s);
	free(o->row.c);
	memset(&o->row, 0, sizeof(o->row));
	return r;
}

static int cell_end(struct odf *o)
{
	struct otable *t = &o->tbl;
	size_t n;
	const char *s = hp_il_finish(&o->cell, &n);
	char *v = NULL;
	if (o->covered) {
		if (o->col < MAX_COLS && t->vspan[o->col].rows_left && t->vspan[o->col].s)
			v = strdup(t->vspan[o->col].s);
		else if (t->hspan_s && o->col < t->hspan_until)
			v = strdup(t->hspan_s);
		else
			v = strdup(s);
	} else {
		v = strdup(s);
	}
	if (!v)
		return -ENOMEM;
	int r = 0;
	int rep = o->cell_repeat < 1 ? 1 : o->cell_repeat;
	if (!*v) {
		o->col += (uint32_t)(rep > MAX_COLS ? MAX_COLS + 1 : rep);
		goto out;
	}
	if (!o->covered) {
		uint32_t cs = o->cell_colspan > 1 ? (uint32_t)o->cell_colspan : 1;
		if (cs > 1) {
			free(t->hspan_s);
			t->hspan_s = strdup(v);
			t->hspan_until = o->col + cs;
		}
		if (o->cell_rowspan > 1)
			for (uint32_t c = o->col; c < o->col + cs && c < MAX_COLS; c++) {
				free(t->vspan[c].s);
				t->vspan[c].s = strdup(v);
				t->vspan[c].rows_left = (uint32_t)o->cell_rowspan;
			}
	}
	for (int k = 0; k < rep && r == 0; k++, o->col++) {
		if (o->col >= MAX_COLS) {
			t->cols_cut = 1;
			break;
		}
		r = orow_add(t, &o->row, o->col, v);
	}
out:
	free(v);
	hp_il_reset(&o->cell);
	return r;
}

static int table_emit(struct odf *o, const char *name)
{
	struct otable *t = &o->tbl;
	int r = 0;
	if (o->kind == ODS) {
		hp_il il;
		hp_il_init(&il, o->lim->max_output);
		size_t n;
		r = hp_il_text(&il, name ? name : "Sheet", strlen(name ? name : "Sheet"), 0);
		const char *h = hp_il_finish(&il, &n);
		if (r == 0)
			r = hp_md_block(o->out, "## ", h, n, 0);
		hp_il_free(&il);
		o->meta.sheets++;
	}
	/* drop trailing empty rows; columns from the first used (ODS) or 0 */
	while (t->nrows && t->rows[t->nrows - 1].n == 0)
		t->nrows--;
	long minc = -1, maxc = -1;
	for (size_t i = 0; i < t->nrows; i++)
		for (size_t k = 0; k < t->rows[i].n; k++) {
			long c = t->rows[i].c[k].col;
			if (minc < 0 || c < minc)
				minc = c;
			if (c > maxc)
				maxc = c;
		}
	if (o->kind != ODS && minc > 0)
		minc = 0;
	hp_tbl tb;
	hp_tbl_init(&tb, o->lim->max_output);
	hp_il il;
	hp_il_init(&il, o->lim->max_output);
	il.in_table = 1;
	for (size_t i = 0; r == 0 && minc >= 0 && i < t->nrows; i++) {
		if (o->kind == ODS && t->rows[i].n == 0)
			continue;
		if ((r = hp_tbl_row(&tb)) < 0)
			break;
		for (long c = minc; c <= maxc && r == 0; c++) {
			const char *v = orow_get(&t->rows[i], (uint32_t)c);
			/* cells are already Markdown-escaped inline text */
			r = hp_tbl_cell(&tb, v ? v : "", v ? strlen(v) : 0);
		}
	}
	if (r == 0)
		r = hp_tbl_emit(&tb, o->out);
	hp_tbl_free(&tb);
	hp_il_free(&il);
	if (r == 0 && o->kind == ODS && t->total_rows > t->nrows) {
		char note[300];
		snprintf(note, sizeof(note), "> Note: sheet %s cut to the first %zu of %zu rows (max_sheet_rows = %zu)",
		         name, t->nrows, t->total_rows, o->max_rows);
		if ((r = hp_md_raw(o->out, note)) == 0)
			r = hp_meta_warn(&o->meta, "sheet %s: %zu of %zu rows kept (max_sheet_rows)", name,
			                 t->nrows, t->total_rows);
	}
	if (r == 0 && t->cols_cut) {
		char note[300];
		snprintf(note, sizeof(note), "> Note: table %s cut to the first %d columns", name ? name : "", MAX_COLS);
		if ((r = hp_md_raw(o->out, note)) == 0)
			r = hp_meta_warn(&o->meta, "table %s: columns after %d cut", name ? name : "", MAX_COLS);
	}
	otable_free(t);
	return r;
}

/* ---- frames and images ---------------------------------------------------------------- */

static int embed_object(struct odf *o, const char *href);

static int frame_end(struct odf *o)
{
	int r = 0;
	/* a picture next to an object or table is its stand-in rendering */
	if (o->obj_href || o->frame_has_table) {
		free(o->img_href);
		o->img_href = NULL;
	}
	if (o->obj_href && !o->frame_skip)
		r = embed_object(o, o->obj_href);
	free(o->obj_href);
	o->obj_href = NULL;
	o->frame_has_table = 0;
	if (r == 0 && o->img_href && !o->frame_skip) {
		char name[256] = "";
		const char *ext = "";
		const char *dot = strrchr(o->img_href, '.');
		const char *slash = strrchr(o->img_href, '/');
		if (dot && (!slash || dot > slash) && strlen(dot) < 8)
			ext = dot;
		size_t k = 0;
		for (const char *p = o->frame_name && *o->frame_name ? o->frame_name : "image";
		     *p && k + 1 + strlen(ext) < sizeof(name); p++)
			if (*p != ' ')
				name[k++] = *p;
		snprintf(name + k, sizeof(name) - k, "%s", ext);
		const char *alt = o->img_alt.data ? o->img_alt.data : "";
		if (o->para_depth) {
			r = hp_il_image(cur_il(o), alt, name);
		} else {
			hp_il il;
			hp_il_init(&il, o->lim->max_output);
			size_t n;
			r = hp_il_image(&il, alt, name);
			const char *s = hp_il_finish(&il, &n);
			if (r == 0)
				r = hp_md_block(o->out, "", s, n, 0);
			hp_il_free(&il);
		}
	}
	free(o->frame_name);
	free(o->img_href);
	o->frame_name = o->img_href = NULL;
	hp_buf_reset(&o->img_alt);
	return r;
}

static int slide_end(struct odf *o)
{
	char mark[64];
	snprintf(mark, sizeof(mark), "<!-- slide %d -->", o->slide_no);
	int r = hp_md_raw(&o->md, mark);
	size_t n;
	const char *t = hp_il_finish(&o->title, &n);
	if (r == 0 && n) {
		if (!o->first_title && !(o->first_title = strndup(t, n)))
			r = -ENOMEM;
		if (r == 0)
			r = hp_md_block(&o->md, "## ", t, n, 0);
	}
	if (r == 0 && o->slide.out.len)
		r = hp_md_raw(&o->md, o->slide.out.data);
	if (r == 0 && o->notes.out.len) {
		r = hp_md_block(&o->md, "### ", "Notes", 5, 0);
		if (r == 0)
			r = hp_md_raw(&o->md, o->notes.out.data);
	}
	hp_il_reset(&o->title);
	hp_buf_reset(&o->slide.out);
	hp_buf_reset(&o->notes.out);
	o->slide.last_list = o->notes.last_list = 0;
	o->meta.slides++;
	return r;
}

/* ---- the walker ------------------------------------------------------------------- */

/* text: paragraphs, headings, spans, links, lists, notes. */
static int start_text(struct odf *o, const char *ln, int depth)
{
	hp_xr *x = o->x;
	int r = 0;
	if (strcmp(ln, "p") == 0 || strcmp(ln, "h") == 0) {
		int h = 0;
		if (ln[0] == 'h') {
			const char *lv = hp_xr_attr(x, HP_NS_TEXT, "outline-level");
			h = lv ? atoi(lv) : 1;
			if (h < 1)
				h = 1;
		}
		const char *st = hp_xr_attr(x, HP_NS_TEXT, "style-name");
		if (!h && o->kind == ODT && !o->tbl_depth && !o->list_level)
			h = style_heading(o, st);
		if (depth < MAX_DEPTH_FLAGS)
			o->flags_at[depth] |= h ? 0 : style_flags(o, st);
		r = para_begin(o, h);
		if (r == 0 && !o->para_depth)
			o->para_depth = depth;
		return r < 0 ? r : 0;
	}
	if (strcmp(ln, "span") == 0) {
		const char *st = hp_xr_attr(x, HP_NS_TEXT, "style-name");
		if (depth < MAX_DEPTH_FLAGS)
			o->flags_at[depth] |= style_flags(o, st);
		return 0;
	}
	if (strcmp(ln, "s") == 0) {
		return hp_il_text(cur_il(o), " ", 1, 0);
	}
	if (strcmp(ln, "tab") == 0)
		return hp_il_text(cur_il(o), " ", 1, 0);
	if (strcmp(ln, "line-break") == 0)
		return hp_il_break(cur_il(o));
	if (strcmp(ln, "a") == 0) {
		const char *href = hp_xr_attr(x, HP_NS_XLINK, "href");
		if (href && *href != '#' && !o->link && !hp_xr_empty(x)) {
			if (!(o->link = strdup(href)))
				return -ENOMEM;
			return hp_il_link_open(cur_il(o));
		}
		return 0;
	}
	if (strcmp(ln, "list") == 0) {
		const char *st = hp_xr_attr(x, HP_NS_TEXT, "style-name");
		if (st && o->list_level == 0)
			snprintf(o->list_style, sizeof(o->list_style), "%s", st);
		if (o->list_level < MAX_LIST) {
			o->list_level++;
			o->counters[o->list_level - 1] = 0;
		}
		return 0;
	}
	if (strcmp(ln, "list-item") == 0) {
		o->item_fresh = 1;
		return 0;
	}
	if (strcmp(ln, "list-header") == 0) {
		o->item_fresh = 0;
		return 0;
	}
	if (strcmp(ln, "note") == 0) {
		o->notes_n++;
		char ref[32];
		snprintf(ref, sizeof(ref), "[^%d]", o->notes_n);
		r = hp_il_raw(cur_il(o), ref);
		hp_il_reset(&o->note);
		o->note_depth = depth;
		return r;
	}
	if (strcmp(ln, "note-citation") == 0)
		return hp_xr_skip(x);
	if (strcmp(ln, "note-body") == 0) {
		o->in_note_body = 1;
		return 0;
	}
	if (strcmp(ln, "tracked-changes") == 0 || strcmp(ln, "table-of-content-source") == 0 ||
	    strcmp(ln, "index-title-template") == 0 || strcmp(ln, "sequence-decls") == 0)
		return hp_xr_skip(x);
	return 0;
}

/* table: tables, rows, cells (covered ones too). */
static int start_table(struct odf *o, const char *ln)
{
	hp_xr *x = o->x;
	if (strcmp(ln, "table") == 0) {
		if (o->frame_depth)
			o->frame_has_table = 1;
		if (++o->tbl_depth == 1) {
			otable_free(&o->tbl);
			free(o->sheet_name);
			o->sheet_name = hp_strdup0(hp_xr_attr(x, HP_NS_TABLE, "name"));
		}
		return 0;
	}
	if (o->tbl_depth != 1)
		return 0;
	if (strcmp(ln, "table-row") == 0) {
		const char *rep = hp_xr_attr(x, HP_NS_TABLE, "number-rows-repeated");
		o->row_repeat = rep ? atoi(rep) : 1;
		o->col = 0;
		return 0;
	}
	if (strcmp(ln, "table-cell") == 0 || strcmp(ln, "covered-table-cell") == 0) {
		const char *rep = hp_xr_attr(x, HP_NS_TABLE, "number-columns-repeated");
		const char *cs = hp_xr_attr(x, HP_NS_TABLE, "number-columns-spanned");
		const char *rs = hp_xr_attr(x, HP_NS_TABLE, "number-rows-spanned");
		o->cell_repeat = rep ? atoi(rep) : 1;
		o->cell_colspan = cs ? atoi(cs) : 1;
		o->cell_rowspan = rs ? atoi(rs) : 1;
		o->covered = ln[0] == 'c';
		o->cell_paras = 0;
		hp_il_reset(&o->cell);
		return 0;
	}
	if (strcmp(ln, "table-columns") == 0 || strcmp(ln, "table-column") == 0 ||
	    strcmp(ln, "shapes") == 0)
		return 0;
	return 0;
}

/* draw: frames, images, embedded objects, slides. */
static int start_draw(struct odf *o, const char *ln)
{
	hp_xr *x = o->x;
	if (strcmp(ln, "frame") == 0) {
		if (++o->frame_depth > 1)
			return 0;
		const char *cls = hp_xr_attr(x, HP_NS_PRES, "class");
		free(o->frame_name);
		o->frame_name = hp_strdup0(hp_xr_attr(x, HP_NS_DRAW, "name"));
		o->frame_title = o->kind == ODP && !o->in_notes && cls &&
		                 (strcmp(cls, "title") == 0);
		/* an outline frame shows its paragraphs as bullets, list or not */
		o->frame_outline = o->kind == ODP && cls && strcmp(cls, "outline") == 0;
		o->frame_skip = cls && (strcmp(cls, "page-number") == 0 || strcmp(cls, "footer") == 0 ||
		                        strcmp(cls, "date-time") == 0 || strcmp(cls, "header") == 0 ||
		                        strcmp(cls, "page") == 0);
		if (o->frame_skip) {
			/* the END is consumed by the skip */
			o->frame_depth--;
			o->frame_skip = 0;
			o->frame_title = 0;
			return hp_xr_skip(x);
		}
		return 0;
	}
	if (strcmp(ln, "object") == 0 && o->frame_depth && !o->obj_href) {
		const char *h = hp_xr_attr(x, HP_NS_XLINK, "href");
		if (h && !(o->obj_href = strdup(h)))
			return -ENOMEM;
		return 0;
	}
	if (strcmp(ln, "image") == 0 && o->frame_depth && !o->img_href) {
		const char *h = hp_xr_attr(x, HP_NS_XLINK, "href");
		if (h && !(o->img_href = strdup(h)))
			return -ENOMEM;
		return 0;
	}
	if (strcmp(ln, "page") == 0 && o->kind == ODP) {
		o->slide_no++;
		o->out = &o->slide;
		return 0;
	}
	return 0;
}

static int on_start(struct odf *o)
{
	hp_xr *x = o->x;
	enum hp_ns ns = hp_xr_ns(x);
	const char *ln = hp_xr_local(x);
	int depth = hp_xr_depth(x);
	int r = 0;
	if (depth < MAX_DEPTH_FLAGS)
		o->flags_at[depth] = depth > 0 ? o->flags_at[depth - 1] : 0;

	if (ns == HP_NS_TEXT)
		return start_text(o, ln, depth);
	if (ns == HP_NS_DC && o->in_note_body)
		return hp_xr_skip(x);    /* a comment's author and date */
	if (ns == HP_NS_OFFICE) {
		if (strcmp(ln, "annotation") == 0) {
			/* a comment: like a note */
			o->notes_n++;
			char ref[32];
			snprintf(ref, sizeof(ref), "[^%d]", o->notes_n);
			r = hp_il_raw(cur_il(o), ref);
			hp_il_reset(&o->note);
			o->note_depth = depth;
			o->in_note_body = 1;
			return r;
		}
		return 0;
	}
	if (ns == HP_NS_TABLE)
		return start_table(o, ln);
	if (ns == HP_NS_DRAW)
		return start_draw(o, ln);
	if (ns == HP_NS_SVG && (strcmp(ln, "title") == 0 || strcmp(ln, "desc") == 0) && o->frame_depth) {
		if (o->img_alt.len)
			return hp_xr_skip(x);   /* the title wins over the description */
		o->in_alt = depth;
		return 0;
	}
	if (ns == HP_NS_PRES && strcmp(ln, "notes") == 0 && o->kind == ODP) {
		o->in_notes = 1;
		o->out = &o->notes;
		return 0;
	}
	return 0;
}

static int on_end(struct odf *o)
{
	hp_xr *x = o->x;
	enum hp_ns ns = hp_xr_ns(x);
	const char *ln = hp_xr_local(x);
	int depth = hp_xr_depth(x);
	int r = 0;
	if (o->in_alt && depth == o->in_alt) {
		o->in_alt = 0;
		return 0;
	}
	if (ns == HP_NS_TEXT) {
		if ((strcmp(ln, "p") == 0 || strcmp(ln, "h") == 0) && o->para_depth == depth) {
			o->para_depth = 0;
			if (!o->in_note_body)
				return para_end(o);
			return 0;
		}
		if (strcmp(ln, "a") == 0 && o->link) {
			r = hp_il_link_close(cur_il(o), o->link);
			free(o->link);
			o->link = NULL;
			return r;
		}
		if (strcmp(ln, "list") == 0 && o->list_level) {
			o->list_level--;
			o->item_fresh = 0;
			return 0;
		}
		if (strcmp(ln, "note-body") == 0)
			o->in_note_body = 0;
		if (strcmp(ln, "note") == 0 && depth == o->note_depth) {
			size_t n;
			const char *s = hp_il_finish(&o->note, &n);
			if (n)
				r = hp_buf_addf(&o->notes_text, "%s[^%d]: %.*s", o->notes_text.len ? "\n" : "",
				                o->notes_n, (int)n, s);
			hp_il_reset(&o->note);
			o->in_note_body = 0;
			return r;
		}
		return 0;
	}
	if (ns == HP_NS_OFFICE && strcmp(ln, "annotation") == 0 && depth == o->note_depth) {
		size_t n;
		const char *s = hp_il_finish(&o->note, &n);
		if (n)
			r = hp_buf_addf(&o->notes_text, "%s[^%d]: %.*s", o->notes_text.len ? "\n" : "",
			                o->notes_n, (int)n, s);
		hp_il_reset(&o->note);
		o->in_note_body = 0;
		return r;
	}
	if (ns == HP_NS_TABLE) {
		if (strcmp(ln, "table") == 0 && o->tbl_depth) {
			if (--o->tbl_depth == 0)
				return table_emit(o, o->sheet_name);
			return 0;
		}
		if (o->tbl_depth != 1)
			return 0;
		if (strcmp(ln, "table-row") == 0)
			return row_end(o);
		if (strcmp(ln, "table-cell") == 0 || strcmp(ln, "covered-table-cell") == 0)
			return cell_end(o);
		return 0;
	}
	if (ns == HP_NS_DRAW) {
		if (strcmp(ln, "frame") == 0 && o->frame_depth) {
			if (--o->frame_depth == 0) {
				r = frame_end(o);
				o->frame_title = 0;
				o->frame_skip = 0;
				o->frame_outline = 0;
			}
			return r;
		}
		if (strcmp(ln, "page") == 0 && o->kind == ODP) {
			o->out = &o->md;
			return slide_end(o);
		}
		return 0;
	}
	if (ns == HP_NS_PRES && strcmp(ln, "notes") == 0 && o->kind == ODP) {
		o->in_notes = 0;
		o->out = &o->slide;
	}
	return 0;
}

static int walk_content(struct odf *o)
{
	const char *part = o->content_part ? o->content_part : "content.xml";
	int r = hp_xr_open(o->z, part, o->lim, 0, &o->x, o->err, o->errlen);
	if (r == -ENOENT)
		return hp_office_err(-EINVAL, o->err, o->errlen, "%s has no content.xml",
		                     o->kind == ODT ? "ODT" : o->kind == ODS ? "ODS" : "ODP");
	if (r < 0)
		return r;
	/* automatic styles come before the body */
	r = read_styles(o, o->x, 1);
	styles_sort(o);
	if (r == 0) {
		/* no body at all */
		r = hp_office_err(-EINVAL, o->err, o->errlen, "%s has no office:body", part);
		goto out;
	}
	if (r < 0)
		goto out;
	while ((r = hp_xr_next(o->x)) > 0) {
		switch (hp_xr_type(o->x)) {
		case HP_XR_START:
			r = on_start(o);
			if (r == 0 && hp_xr_type(o->x) == HP_XR_START && hp_xr_empty(o->x))
				r = on_end(o);
			break;
		case HP_XR_END:
			r = on_end(o);
			break;
		case HP_XR_TEXT: {
			const char *t = hp_xr_text(o->x);
			if (o->in_alt) {
				r = hp_buf_addstr(&o->img_alt, t);
				if (r == -EFBIG)
					r = 0;
				break;
			}
			if (!o->para_depth && !o->in_note_body)
				break;    /* text outside paragraphs is layout whitespace */
			int d = hp_xr_depth(o->x) - 1;
			int fl = d >= 0 && d < MAX_DEPTH_FLAGS ? o->flags_at[d] : 0;
			if (o->frame_title || (o->heading && !o->in_note_body))
				fl = 0;    /* a heading's look is its style's, not emphasis */
			r = hp_il_text(cur_il(o), t, strlen(t), fl);
			break;
		}
		}
		if (r < 0)
			break;
	}
out:
	hp_xr_close(o->x);
	o->x = NULL;
	return r;
}

/* ---- meta.xml ------------------------------------------------------------------------ */

static int read_meta(struct odf *o)
{
	hp_xr *x;
	char e2[300] = "";
	int r = hp_xr_open(o->z, "meta.xml", o->lim, 0, &x, e2, sizeof(e2));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		goto bad;
	hp_buf b;
	hp_buf_init(&b, 64 * 1024);
	while ((r = hp_xr_next(x)) > 0) {
		if (hp_xr_type(x) != HP_XR_START)
			continue;
		enum hp_ns ns = hp_xr_ns(x);
		const char *ln = hp_xr_local(x);
		if (ns == HP_NS_META && strcmp(ln, "document-statistic") == 0) {
			const char *pc = hp_xr_attr(x, HP_NS_META, "page-count");
			if (pc && o->kind == ODT)
				o->meta.pages = atoi(pc);
			continue;
		}
		char **dst = NULL;
		if (ns == HP_NS_DC && strcmp(ln, "title") == 0)
			dst = &o->meta.title;
		else if ((ns == HP_NS_META && strcmp(ln, "initial-creator") == 0) ||
		         (ns == HP_NS_DC && strcmp(ln, "creator") == 0))
			dst = &o->meta.author;
		else if (ns == HP_NS_META && strcmp(ln, "creation-date") == 0)
			dst = &o->meta.created;
		else if (ns == HP_NS_DC && strcmp(ln, "language") == 0)
			dst = &o->meta.lang;
		if (!dst || *dst)
			continue;
		hp_buf_reset(&b);
		if ((r = hp_xr_collect_text(x, &b)) < 0)
			break;
		if (b.len && !(*dst = strdup(b.data))) {
			r = -ENOMEM;
			break;
		}
	}
	hp_buf_free(&b);
	hp_xr_close(x);
bad:
	if (r == -ENOMEM || r == -EFBIG)
		return hp_office_err(r, o->err, o->errlen, "%s", e2);
	if (r < 0)
		return hp_meta_warn(&o->meta, "metadata meta.xml skipped: %s", e2);
	return 0;
}

/* Password-protected ODF: content.xml is encrypted (ODF 1.2 part 3 §4.8),
 * which the manifest says with manifest:encryption-data. */
static int check_encrypted(struct odf *o)
{
	char *m = NULL;
	size_t n = 0;
	char e2[300] = "";
	int r = hp_zip_read(o->z, "META-INF/manifest.xml", 4u << 20, &m, &n, e2, sizeof(e2));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return hp_office_err(r, o->err, o->errlen, "%s", e2);
	int enc = strstr(m, "encryption-data") != NULL;
	free(m);
	if (enc)
		return hp_office_err(-EINVAL, o->err, o->errlen,
		                     "encrypted (password-protected) document, cannot read its text");
	return 0;
}

static struct odf *odf_new(enum kind kind, const hp_convert_limits *lim, char *err, size_t errlen)
{
	struct odf *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->kind = kind;
	o->lim = lim;
	o->err = err;
	o->errlen = errlen;
	o->max_rows = lim->max_sheet_rows ? lim->max_sheet_rows : HP_SHEET_DEFAULT_MAX_ROWS;
	size_t cap = lim->max_output;
	hp_md_init(&o->md, cap);
	hp_md_init(&o->slide, cap);
	hp_md_init(&o->notes, cap);
	o->out = &o->md;
	hp_meta_init(&o->meta);
	hp_il_init(&o->para, cap);
	hp_il_init(&o->cell, cap);
	hp_il_init(&o->title, cap);
	hp_il_init(&o->note, cap);
	o->cell.in_table = 1;
	hp_buf_init(&o->notes_text, cap);
	hp_buf_init(&o->img_alt, 4096);
	o->tbl.limit = cap;
	return o;
}

/* Frees everything but o->z (the caller's). */
static void odf_free(struct odf *o)
{
	for (size_t i = 0; i < o->nstyles; i++) {
		free(o->styles[i].name);
		free(o->styles[i].parent);
	}
	free(o->styles);
	for (size_t i = 0; i < o->nlists; i++)
		free(o->lists[i].name);
	free(o->lists);
	hp_md_free(&o->md);
	hp_md_free(&o->slide);
	hp_md_free(&o->notes);
	hp_meta_free(&o->meta);
	hp_il_free(&o->para);
	hp_il_free(&o->cell);
	hp_il_free(&o->title);
	hp_il_free(&o->note);
	hp_buf_free(&o->notes_text);
	hp_buf_free(&o->img_alt);
	otable_free(&o->tbl);
	for (size_t i = 0; i < o->row.n; i++)
		free(o->row.c[i].s);
	free(o->row.c);
	free(o->first_heading);
	free(o->first_title);
	free(o->link);
	free(o->sheet_name);
	free(o->frame_name);
	free(o->img_href);
	free(o->obj_href);
	free(o);
}

/* An embedded object (a chart, a formula, a spreadsheet): its own
 * content.xml in a folder of the package, converted as a text document
 * (a chart's data is a table:table there) into the current output. One
 * level only: objects inside objects are left out. */
static int embed_object(struct odf *o, const char *href)
{
	if (o->nested)
		return 0;
	char dir[512], part[600];
	if (hp_zip_resolve("", href, dir, sizeof(dir)) < 0 ||
	    snprintf(part, sizeof(part), "%s/content.xml", dir) >= (int)sizeof(part))
		return hp_meta_warn(&o->meta, "embedded object %.100s skipped: name too long", href);
	if (hp_zip_find(o->z, part) < 0)
		return 0;    /* an object without XML content (an OLE blob) */
	struct odf *sub = odf_new(ODT, o->lim, o->err, o->errlen);
	if (!sub)
		return -ENOMEM;
	sub->z = o->z;
	sub->nested = 1;
	sub->content_part = part;
	int r = walk_content(sub);
	if (r == 0 && sub->md.out.len)
		r = hp_md_raw(o->out, sub->md.out.data);
	odf_free(sub);
	return r;
}

static int convert_odf(enum kind kind, const char *data, size_t len, const hp_convert_limits *lim,
                       hp_doc *doc, char *err, size_t errlen)
{
	struct odf *o = odf_new(kind, lim, err, errlen);
	if (!o)
		return -ENOMEM;
	int r = hp_zip_open(data, len, lim, &o->z, err, errlen);
	if (r < 0)
		goto out;
	if ((r = check_encrypted(o)) < 0 || (r = load_styles_part(o)) < 0 || (r = walk_content(o)) < 0 ||
	    (r = read_meta(o)) < 0)
		goto out;
	if (o->notes_text.len && (r = hp_md_raw(&o->md, o->notes_text.data)) < 0)
		goto out;
	const char *title = o->meta.title ? o->meta.title
	                  : o->first_title ? o->first_title
	                  : o->first_heading;
	if (!title && kind == ODS && o->sheet_name)
		title = o->sheet_name;
	if (title && (r = hp_title_from_line(title, strlen(title), HP_TITLE_MAX, &doc->title)) < 0)
		goto out;
	if ((r = hp_md_finish(&o->md, doc, lim, err, errlen)) < 0)
		goto out;
	r = hp_meta_finish(&o->meta, doc);
out:
	if (r == -EFBIG && !err[0])
		r = hp_conv_efbig(lim->max_output, err, errlen);
	hp_zip_close(o->z);
	odf_free(o);
	return r;
}

static int convert_odt(const char *name, const char *data, size_t len, const hp_convert_limits *lim,
                       hp_doc *doc, char *err, size_t errlen)
{
	(void)name;
	return convert_odf(ODT, data, len, lim, doc, err, errlen);
}

static int convert_ods(const char *name, const char *data, size_t len, const hp_convert_limits *lim,
                       hp_doc *doc, char *err, size_t errlen)
{
	(void)name;
	return convert_odf(ODS, data, len, lim, doc, err, errlen);
}

static int convert_odp(const char *name, const char *data, size_t len, const hp_convert_limits *lim,
                       hp_doc *doc, char *err, size_t errlen)
{
	(void)name;
	return convert_odf(ODP, data, len, lim, doc, err, errlen);
}

const hp_converter hp_conv_odt = { HP_FMT_ODT, convert_odt };
const hp_converter hp_conv_ods = { HP_FMT_ODS, convert_ods };
const hp_converter hp_conv_odp = { HP_FMT_ODP, convert_odp };
