/* docx.c — Word documents (ECMA-376 WordprocessingML) to Markdown.
 *
 * Parts read, each streamed once with hp_xr: styles.xml (which paragraph
 * styles are headings: "heading N", "Title", or an outline level, through
 * basedOn), numbering.xml (bullet or number per list level), footnotes,
 * endnotes and comments (rendered at the end as [^id] notes), then the
 * document body. Headings, paragraphs, bold/italic/strikethrough runs,
 * nested lists with their numbers, tables as pipe tables (gridSpan and
 * vMerge cells repeated; tables inside tables flattened into the cell),
 * hyperlinks, images as ![description](name), equations as $...$ (a small
 * OMML-to-LaTeX mapping: fractions, scripts, radicals, delimiters).
 * Deleted revisions (w:del) and field codes are left out; hidden text
 * (w:vanish) too.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert-int.h"
#include "office.h"

#define MAX_LEVELS 9
#define MAX_STYLE_CHAIN 16

struct style {
	char *id, *based_on;
	int heading;     /* 1..6, 0 none; -1 unknown yet */
	int flags;       /* character style: HP_IL_* */
	int title;
};

struct numdef {
	char *id;            /* abstractNumId or numId */
	char *abstract;      /* for w:num: its abstractNumId */
	int ordered[MAX_LEVELS];
	int start[MAX_LEVELS];
	int count[MAX_LEVELS];
	int start_set[MAX_LEVELS];   /* w:num: a w:startOverride for the level */
	int used;
};

struct note {
	char kind;           /* 'f' footnote, 'e' endnote, 'c' comment */
	char *id;
	char *text;
};

struct docx {
	hp_zip *z;
	const hp_convert_limits *lim;
	char *err;
	size_t errlen;
	char main[512];
	hp_rels rels;
	struct style *styles;
	size_t nstyles;
	struct numdef *abstracts, *nums;
	size_t nabstracts, nnums;
	struct note *notes;
	size_t nnotes;
	hp_md md;
	hp_meta meta;
	char *first_heading, *title_par;
	char *default_lang;  /* styles.xml docDefaults: the language text is in */
	int images;
};

/* ---- small helpers ---------------------------------------------------------- */

static int onoff(const char *v)
{
	/* ST_OnOff: absent val means on */
	return !v || !(strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 || strcasecmp(v, "off") == 0 ||
	               strcmp(v, "none") == 0);
}

static int push(void **v, size_t *n, size_t size)
{
	if ((*n & (*n - 1)) == 0) {
		size_t nc = *n ? *n * 2 : 8;
		void *p = realloc(*v, nc * size);
		if (!p)
			return -ENOMEM;
		*v = p;
	}
	memset((char *)*v + *n * size, 0, size);
	(*n)++;
	return 0;
}

/* ---- styles.xml ------------------------------------------------------------------ */

static int heading_of_name(const char *name, int *title)
{
	*title = 0;
	if (strncasecmp(name, "heading ", 8) == 0 && isdigit((unsigned char)name[8]))
		return atoi(name + 8);
	if (strcasecmp(name, "title") == 0) {
		*title = 1;
		return 1;
	}
	return 0;
}

static int style_cmp(const void *a, const void *b)
{
	return strcmp(((const struct style *)a)->id, ((const struct style *)b)->id);
}

static int load_styles(struct docx *d, const char *part)
{
	hp_xr *x;
	int r = hp_xr_open(d->z, part, d->lim, 0, &x, d->err, d->errlen);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	struct style *cur = NULL;
	int in_rpr = 0, in_defaults = 0;
	while ((r = hp_xr_next(x)) > 0) {
		int t = hp_xr_type(x);
		if (hp_xr_ns(x) != HP_NS_W)
			continue;
		const char *ln = hp_xr_local(x);
		if (strcmp(ln, "docDefaults") == 0) {
			in_defaults = t == HP_XR_START && !hp_xr_empty(x);
			continue;
		}
		if (in_defaults && t == HP_XR_START && strcmp(ln, "lang") == 0 && !d->default_lang) {
			const char *v = hp_xr_attr(x, HP_NS_W, "val");
			if (v && *v && strlen(v) < 64 && !(d->default_lang = strdup(v))) {
				r = -ENOMEM;
				break;
			}
			continue;
		}
		if (t == HP_XR_END) {
			if (strcmp(ln, "style") == 0)
				cur = NULL;
			else if (strcmp(ln, "rPr") == 0)
				in_rpr = 0;
			continue;
		}
		if (t != HP_XR_START)
			continue;
		if (strcmp(ln, "style") == 0) {
			const char *id = hp_xr_attr(x, HP_NS_W, "styleId");
			if (!id)
				continue;
			if ((r = push((void **)&d->styles, &d->nstyles, sizeof(*d->styles))) < 0)
				break;
			cur = &d->styles[d->nstyles - 1];
			cur->heading = -1;
			if (!(cur->id = strdup(id))) {
				r = -ENOMEM;
				break;
			}
			if (hp_xr_empty(x))
				cur = NULL;
			continue;
		}
		if (!cur)
			continue;
		if (strcmp(ln, "name") == 0) {
			const char *v = hp_xr_attr(x, HP_NS_W, "val");
			int title;
			int h = v ? heading_of_name(v, &title) : 0;
			if (h > 0) {
				cur->heading = h > 6 ? 6 : h;
				cur->title = title;
			}
		} else if (strcmp(ln, "basedOn") == 0) {
			const char *v = hp_xr_attr(x, HP_NS_W, "val");
			if (v && !cur->based_on && !(cur->based_on = strdup(v))) {
				r = -ENOMEM;
				break;
			}
		} else if (strcmp(ln, "outlineLvl") == 0 && cur->heading < 0) {
			const char *v = hp_xr_attr(x, HP_NS_W, "val");
			int l = v ? atoi(v) : 9;
			if (l >= 0 && l < 9)
				cur->heading = l + 1 > 6 ? 6 : l + 1;
		} else if (strcmp(ln, "rPr") == 0) {
			in_rpr = !hp_xr_empty(x);
		} else if (in_rpr) {
			const char *v = hp_xr_attr(x, HP_NS_W, "val");
			if (strcmp(ln, "b") == 0)
				cur->flags = onoff(v) ? cur->flags | HP_IL_B : cur->flags & ~HP_IL_B;
			else if (strcmp(ln, "i") == 0)
				cur->flags = onoff(v) ? cur->flags | HP_IL_I : cur->flags & ~HP_IL_I;
			else if (strcmp(ln, "strike") == 0 || strcmp(ln, "dstrike") == 0)
				cur->flags = onoff(v) ? cur->flags | HP_IL_S : cur->flags & ~HP_IL_S;
		}
	}
	hp_xr_close(x);
	if (d->nstyles > 1)
		qsort(d->styles, d->nstyles, sizeof(*d->styles), style_cmp);
	return r;
}

/* Styles are sorted by id once loaded (a hostile styles.xml may hold
 * a hundred thousand, looked up for every paragraph). */
static struct style *style_find(struct docx *d, const char *id)
{
	if (!id || !d->nstyles)
		return NULL;
	struct style key = { .id = (char *)id };
	return bsearch(&key, d->styles, d->nstyles, sizeof(*d->styles), style_cmp);
}

/* Heading level of a paragraph style, through basedOn (bounded). */
static int style_heading(struct docx *d, const char *id, int *title)
{
	*title = 0;
	struct style *s = style_find(d, id);
	for (int k = 0; s && k < MAX_STYLE_CHAIN; k++) {
		if (s->heading >= 0) {
			*title = s->title;
			return s->heading;
		}
		s = style_find(d, s->based_on);
	}
	return 0;
}

/* ---- numbering.xml -------------------------------------------------------------- */

static int num_cmp(const void *a, const void *b)
{
	return strcmp(((const struct numdef *)a)->id, ((const struct numdef *)b)->id);
}

static int load_numbering(struct docx *d, const char *part)
{
	hp_xr *x;
	int r = hp_xr_open(d->z, part, d->lim, 0, &x, d->err, d->errlen);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	struct numdef *cur = NULL;
	int lvl = -1, is_num = 0;
	while ((r = hp_xr_next(x)) > 0) {
		if (hp_xr_ns(x) != HP_NS_W)
			continue;
		const char *ln = hp_xr_local(x);
		if (hp_xr_type(x) == HP_XR_END) {
			if (strcmp(ln, "abstractNum") == 0 || strcmp(ln, "num") == 0)
				cur = NULL;
			else if (strcmp(ln, "lvl") == 0 || strcmp(ln, "lvlOverride") == 0)
				lvl = -1;
			continue;
		}
		if (hp_xr_type(x) != HP_XR_START)
			continue;
		if (strcmp(ln, "abstractNum") == 0 || strcmp(ln, "num") == 0) {
			is_num = ln[0] == 'n';
			const char *id = hp_xr_attr(x, HP_NS_W, is_num ? "numId" : "abstractNumId");
			if (!id || hp_xr_empty(x))
				continue;
			struct numdef **v = is_num ? &d->nums : &d->abstracts;
			size_t *n = is_num ? &d->nnums : &d->nabstracts;
			if ((r = push((void **)v, n, sizeof(**v))) < 0)
				break;
			cur = &(*v)[*n - 1];
			for (int i = 0; i < MAX_LEVELS; i++)
				cur->start[i] = 1;
			if (!(cur->id = strdup(id))) {
				r = -ENOMEM;
				break;
			}
			continue;
		}
		if (!cur)
			continue;
		if (is_num && strcmp(ln, "lvlOverride") == 0) {
			const char *v = hp_xr_attr(x, HP_NS_W, "ilvl");
			lvl = v ? atoi(v) : -1;
			if (lvl >= MAX_LEVELS)
				lvl = -1;
		} else if (is_num && lvl >= 0 && strcmp(ln, "startOverride") == 0) {
			const char *v = hp_xr_attr(x, HP_NS_W, "val");
			cur->start[lvl] = v ? atoi(v) : 1;
			cur->start_set[lvl] = 1;
		} else if (is_num && strcmp(ln, "abstractNumId") == 0) {
			const char *v = hp_xr_attr(x, HP_NS_W, "val");
			if (v && !cur->abstract && !(cur->abstract = strdup(v))) {
				r = -ENOMEM;
				break;
			}
		} else if (!is_num && strcmp(ln, "lvl") == 0) {
			const char *v = hp_xr_attr(x, HP_NS_W, "ilvl");
			lvl = v ? atoi(v) : -1;
			if (lvl >= MAX_LEVELS)
				lvl = -1;
		} else if (!is_num && lvl >= 0 && strcmp(ln, "numFmt") == 0) {
			const char *v = hp_xr_attr(x, HP_NS_W, "val");
			cur->ordered[lvl] = v && strcmp(v, "bullet") != 0 && strcmp(v, "none") != 0 ? 1
			                  : v && strcmp(v, "none") == 0                         ? -1
			                                                                        : 0;
		} else if (!is_num && lvl >= 0 && strcmp(ln, "start") == 0) {
			const char *v = hp_xr_attr(x, HP_NS_W, "val");
			cur->start[lvl] = v ? atoi(v) : 1;
		}
	}
	hp_xr_close(x);
	if (d->nnums > 1)
		qsort(d->nums, d->nnums, sizeof(*d->nums), num_cmp);
	if (d->nabstracts > 1)
		qsort(d->abstracts, d->nabstracts, sizeof(*d->abstracts), num_cmp);
	return r;
}

static struct numdef *num_find(struct numdef *v, size_t n, const char *id)
{
	if (!id || !n)
		return NULL;
	struct numdef key = { .id = (char *)id };
	return bsearch(&key, v, n, sizeof(*v), num_cmp);
}

/* The marker for a list paragraph into out ("- ", "3. "), its level in
 * *lvl; 0 when numId says "no list". */
static int list_marker(struct docx *d, const char *num_id, int ilvl, char *out, size_t outlen)
{
	struct numdef *num = num_find(d->nums, d->nnums, num_id);
	if (!num || strcmp(num_id, "0") == 0)
		return 0;
	struct numdef *abs = num_find(d->abstracts, d->nabstracts, num->abstract);
	if (ilvl < 0 || ilvl >= MAX_LEVELS)
		ilvl = 0;
	int ordered = abs ? abs->ordered[ilvl] : 0;
	if (ordered < 0)
		return 0;
	/* counters live on the w:num instance (each restarts numbering) */
	for (int k = ilvl + 1; k < MAX_LEVELS; k++)
		num->count[k] = 0;
	if (ordered) {
		int start = num->start_set[ilvl] ? num->start[ilvl] : abs ? abs->start[ilvl] : 1;
		int n = num->count[ilvl]++ + start;
		snprintf(out, outlen, "%*s%d. ", ilvl * 4, "", n);
	} else {
		snprintf(out, outlen, "%*s- ", ilvl * 4, "");
	}
	return 1;
}

/* ---- the walker ------------------------------------------------------------------ */

/* State of one pass over a part (the body, or the notes). */
struct walk {
	struct docx *d;
	hp_xr *x;
	hp_il para;          /* the current paragraph */
	hp_il cell;          /* the current table cell */
	hp_il math;          /* the current equation (LaTeX-ish) */
	hp_tbl tbl;
	int tbl_depth;       /* 1 = a table of ours; deeper ones flatten */
	size_t col;          /* grid column of the next cell */
	int span, vmerge_cont;
	int cell_paras;
	/* paragraph */
	char pstyle[128];
	int outline;         /* from pPr/outlineLvl, -1 none */
	int plain;           /* a heading: its runs' emphasis is the style's, not shown */
	char num_id[32];
	int ilvl;
	int in_ppr, in_rpr, in_t, in_mt, math_depth, math_para;
	int run_flags, run_style_flags, hidden;
	char *link_url;
	int link_open;
	int txbx;            /* inside a text box: its paragraphs join the outer one */
	/* image */
	char *img_alt, *img_name, *img_rid;
	int in_drawing;
	/* fields (ECMA-376 Part 1 §17.16): HYPERLINK fields become links */
	struct { int instr; int link; } fld[8];
	int nfld;
	hp_buf instr;
	int simple_link;
	/* charts in the current paragraph or table, shown after it */
	char *charts[8];
	int ncharts;
	/* notes */
	int notes_mode;
	char note_kind;
	char *note_id;
	hp_il note;
};

static hp_il *cur_il(struct walk *w)
{
	if (w->in_mt || w->math_depth)
		return &w->math;
	if (w->notes_mode)
		return &w->note;
	return w->tbl_depth ? &w->cell : &w->para;
}

static int emit_image(struct walk *w)
{
	struct docx *d = w->d;
	const hp_rel *rel = hp_rels_id(&d->rels, w->img_rid);
	char name[256] = "";
	const char *ext = "";
	if (rel) {
		const char *dot = strrchr(rel->target, '.');
		const char *slash = strrchr(rel->target, '/');
		if (dot && (!slash || dot > slash))
			ext = dot;
	}
	/* the shape's name without spaces, as Word shows it ("Picture 4") */
	if (w->img_name && *w->img_name) {
		size_t o = 0;
		for (const char *p = w->img_name; *p && o + 1 < sizeof(name) - strlen(ext); p++)
			if (*p != ' ')
				name[o++] = *p;
		name[o] = '\0';
		snprintf(name + o, sizeof(name) - o, "%s", ext);
	} else if (rel) {
		const char *slash = strrchr(rel->target, '/');
		snprintf(name, sizeof(name), "%s", slash ? slash + 1 : rel->target);
	} else {
		snprintf(name, sizeof(name), "image%d", d->images + 1);
	}
	d->images++;
	int r = hp_il_image(cur_il(w), w->img_alt ? w->img_alt : "", name);
	free(w->img_alt);
	free(w->img_name);
	free(w->img_rid);
	w->img_alt = w->img_name = w->img_rid = NULL;
	return r;
}

static int set_dup(char **dst, const char *v)
{
	if (!v || *dst)
		return 0;
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

/* Charts waiting for the end of their paragraph or table. */
static int flush_charts(struct walk *w)
{
	int r = 0;
	for (int i = 0; i < w->ncharts; i++) {
		const hp_rel *rel = hp_rels_id(&w->d->rels, w->charts[i]);
		if (r == 0 && rel && !rel->external)
			r = hp_chart_md(w->d->z, rel->target, w->d->lim, &w->d->md, &w->d->meta,
			                w->d->err, w->d->errlen);
		free(w->charts[i]);
	}
	w->ncharts = 0;
	return r;
}

/* End of a paragraph outside tables: one Markdown block. */
static int para_end(struct walk *w)
{
	struct docx *d = w->d;
	size_t n;
	const char *text = hp_il_finish(&w->para, &n);
	int r = 0;
	if (n == 0)
		goto out;
	int title = 0;
	int h = style_heading(d, w->pstyle[0] ? w->pstyle : NULL, &title);
	if (!h && w->outline >= 0 && w->outline < 9)
		h = w->outline + 1 > 6 ? 6 : w->outline + 1;
	char prefix[64];
	int list = 0;
	if (h) {
		snprintf(prefix, sizeof(prefix), "%.*s ", h, "######");
		if (title && !d->title_par)
			d->title_par = strndup(text, n);
		if (!d->first_heading)
			d->first_heading = strndup(text, n);
	} else if (w->num_id[0] && list_marker(d, w->num_id, w->ilvl, prefix, sizeof(prefix))) {
		list = 1;
	} else {
		prefix[0] = '\0';
	}
	r = hp_md_block(&d->md, prefix, text, n, list);
out:
	hp_il_reset(&w->para);
	if (r == 0 && w->ncharts)
		r = flush_charts(w);
	return r;
}

static int cell_end(struct walk *w)
{
	size_t n;
	const char *text = hp_il_finish(&w->cell, &n);
	int r = 0;
	int span = w->span > 0 && w->span < 1000 ? w->span : 1;
	for (int k = 0; k < span && r == 0; k++) {
		if (w->vmerge_cont && w->tbl.nrows >= 2) {
			const char *above = hp_tbl_get(&w->tbl, w->tbl.nrows - 2, w->col);
			r = hp_tbl_cell(&w->tbl, above ? above : "", above ? strlen(above) : 0);
		} else {
			r = hp_tbl_cell(&w->tbl, text, n);
		}
		w->col++;
	}
	hp_il_reset(&w->cell);
	return r;
}

static int math_open(struct walk *w, const char *ln)
{
	hp_il *m = &w->math;
	/* LaTeX for the structures that carry meaning; text runs come as is */
	if (strcmp(ln, "num") == 0)
		return hp_buf_addstr(&m->b, "\\frac{");
	if (strcmp(ln, "den") == 0 || strcmp(ln, "sup") == 0 || strcmp(ln, "sub") == 0)
		return hp_buf_addstr(&m->b, ln[0] == 'd' ? "{" : ln[1] == 'u' && ln[2] == 'p' ? "^{" : "_{");
	if (strcmp(ln, "rad") == 0)
		return hp_buf_addstr(&m->b, "\\sqrt{");
	if (strcmp(ln, "d") == 0)
		return hp_buf_addstr(&m->b, "\\left(");
	if (strcmp(ln, "deg") == 0 || strcmp(ln, "ctrlPr") == 0 || strcmp(ln, "rPr") == 0)
		return hp_xr_skip(w->x);
	return 0;
}

static int math_close(struct walk *w, const char *ln)
{
	hp_il *m = &w->math;
	if (strcmp(ln, "num") == 0 || strcmp(ln, "den") == 0 || strcmp(ln, "sup") == 0 ||
	    strcmp(ln, "sub") == 0 || strcmp(ln, "rad") == 0)
		return hp_buf_addc(&m->b, '}');
	if (strcmp(ln, "d") == 0)
		return hp_buf_addstr(&m->b, "\\right)");
	return 0;
}

static int math_end(struct walk *w)
{
	/* leave math mode first so the text lands in the paragraph */
	w->math_depth = 0;
	w->in_mt = 0;
	hp_il *m = &w->math;
	char *tex = strndup(m->b.data ? m->b.data : "", m->b.len);
	hp_il_reset(m);
	if (!tex)
		return -ENOMEM;
	/* trim */
	char *s = tex;
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	int r = 0;
	if (n) {
		hp_il *il = cur_il(w);
		const char *fence = w->math_para ? "$$" : "$";
		if (w->math_para && il->b.len)
			r = hp_il_break(il);
		if (r == 0)
			r = hp_il_raw(il, fence);
		if (r == 0)
			r = hp_buf_addstr(&il->b, s);
		if (r == 0)
			r = hp_buf_addstr(&il->b, fence);
	}
	free(tex);
	return r;
}

static int note_end(struct walk *w)
{
	struct docx *d = w->d;
	size_t n;
	const char *text = hp_il_finish(&w->note, &n);
	int r = 0;
	if (n && w->note_id) {
		if ((r = push((void **)&d->notes, &d->nnotes, sizeof(*d->notes))) == 0) {
			struct note *nt = &d->notes[d->nnotes - 1];
			nt->kind = w->note_kind;
			nt->id = w->note_id;
			w->note_id = NULL;
			nt->text = strndup(text, n);
			if (!nt->text)
				r = -ENOMEM;
		}
	}
	free(w->note_id);
	w->note_id = NULL;
	hp_il_reset(&w->note);
	return r;
}

/* "HYPERLINK \"https://x\" \o \"tip\"" -> a malloc'd URL; NULL when the
 * field is no external hyperlink (\\l: a bookmark in this document). */
static char *field_url(const char *instr)
{
	while (*instr == ' ')
		instr++;
	if (strncmp(instr, "HYPERLINK", 9) != 0)
		return NULL;
	const char *p = instr + 9;
	while (*p == ' ')
		p++;
	if (p[0] == '\\' && p[1] == 'l')
		return NULL;
	const char *q = p[0] == '"' ? p + 1 : p;
	const char *e = p[0] == '"' ? strchr(q, '"') : q + strcspn(q, " ");
	if (!e || e == q)
		return NULL;
	return strndup(q, (size_t)(e - q));
}

static int link_start(struct walk *w, char *url)
{
	free(w->link_url);
	w->link_url = url;
	w->link_open = 1;
	return hp_il_link_open(cur_il(w));
}

/* Elements of other namespaces: equations, pictures, charts, VML. */
static int start_foreign(struct walk *w, enum hp_ns ns, const char *ln)
{
	hp_xr *x = w->x;
	int r = 0;
	if (ns == HP_NS_M) {
		if (strcmp(ln, "oMathPara") == 0) {
			w->math_para = 1;
			return 0;
		}
		if (strcmp(ln, "oMath") == 0) {
			w->math_depth++;
			return 0;
		}
		if (!w->math_depth)
			return 0;
		if (strcmp(ln, "t") == 0) {
			w->in_mt = !hp_xr_empty(x);
			return 0;
		}
		return math_open(w, ln);
	}
	if (ns == HP_NS_WP && strcmp(ln, "docPr") == 0) {
		const char *alt = hp_xr_attr(x, HP_NS_NONE, "descr");
		if (!alt || !*alt)
			alt = hp_xr_attr(x, HP_NS_NONE, "title");
		if ((r = set_dup(&w->img_alt, alt)) == 0)
			r = set_dup(&w->img_name, hp_xr_attr(x, HP_NS_NONE, "name"));
		return r;
	}
	if (ns == HP_NS_A && strcmp(ln, "blip") == 0)
		return set_dup(&w->img_rid, hp_xr_attr(x, HP_NS_R, "embed"));
	if (ns == HP_NS_OTHER && strcmp(ln, "chart") == 0 && !w->notes_mode) {
		const char *rid = hp_xr_attr(x, HP_NS_R, "id");
		if (rid && w->ncharts < (int)HP_ARRAY_SIZE(w->charts) &&
		    !(w->charts[w->ncharts++] = strdup(rid)))
			return -ENOMEM;
		return 0;
	}
	if (ns == HP_NS_OTHER && strcmp(ln, "imagedata") == 0) {
		/* VML (w:pict) images */
		if ((r = set_dup(&w->img_rid, hp_xr_attr(x, HP_NS_R, "id"))) == 0)
			r = set_dup(&w->img_alt, hp_xr_attr(x, HP_NS_OTHER, "title"));
		if (r == 0 && !w->in_drawing)
			r = emit_image(w);
		return r;
	}
	return 0;
}

/* w:p: a new block, or a line inside a text box, cell or note. */
static int start_para(struct walk *w)
{
	int r = 0;
	if (w->txbx) {
		hp_il *il = cur_il(w);
		if (il->b.len)
			r = w->tbl_depth ? hp_il_break(il) : hp_il_text(il, " ", 1, 0);
		return r;
	}
	if (w->tbl_depth) {
		w->pstyle[0] = '\0';
		w->num_id[0] = '\0';
		w->ilvl = 0;
		if (w->cell_paras++ && w->cell.b.len)
			r = hp_il_break(&w->cell);
		return r;
	}
	if (w->notes_mode) {
		if (w->note.b.len)
			r = hp_il_text(&w->note, " ", 1, 0);
		return r;
	}
	w->pstyle[0] = '\0';
	w->num_id[0] = '\0';
	w->ilvl = 0;
	w->outline = -1;
	w->plain = 0;
	hp_il_reset(&w->para);
	return 0;
}

/* w:pPr, w:rPr, w:r and the properties inside them. */
static int start_props(struct walk *w, const char *ln)
{
	hp_xr *x = w->x;
	if (strcmp(ln, "pPr") == 0) {
		w->in_ppr = !hp_xr_empty(x);
		return 0;
	}
	if (strcmp(ln, "rPr") == 0) {
		w->in_rpr = !hp_xr_empty(x);
		return 0;
	}
	if (w->in_ppr && !w->in_rpr) {
		const char *v = hp_xr_attr(x, HP_NS_W, "val");
		if (strcmp(ln, "pStyle") == 0 && v)
			snprintf(w->pstyle, sizeof(w->pstyle), "%s", v);
		else if (strcmp(ln, "outlineLvl") == 0 && v)
			w->outline = atoi(v);
		else if (strcmp(ln, "numId") == 0 && v)
			snprintf(w->num_id, sizeof(w->num_id), "%s", v);
		else if (strcmp(ln, "ilvl") == 0 && v)
			w->ilvl = atoi(v);
		return 0;
	}
	if (strcmp(ln, "r") == 0) {
		w->run_flags = 0;
		w->run_style_flags = 0;
		w->hidden = 0;
		return 0;
	}
	if (w->in_rpr) {
		const char *v = hp_xr_attr(x, HP_NS_W, "val");
		if (strcmp(ln, "b") == 0)
			w->run_flags = onoff(v) ? w->run_flags | HP_IL_B : w->run_flags & ~HP_IL_B;
		else if (strcmp(ln, "i") == 0)
			w->run_flags = onoff(v) ? w->run_flags | HP_IL_I : w->run_flags & ~HP_IL_I;
		else if (strcmp(ln, "strike") == 0 || strcmp(ln, "dstrike") == 0)
			w->run_flags = onoff(v) ? w->run_flags | HP_IL_S : w->run_flags & ~HP_IL_S;
		else if (strcmp(ln, "vanish") == 0)
			w->hidden = onoff(v);
		else if (strcmp(ln, "rStyle") == 0) {
			struct style *s = style_find(w->d, v);
			w->run_style_flags = s ? s->flags : 0;
		}
		return 0;
	}
	return 0;
}

/* Fields (ECMA-376 Part 1 §17.16): HYPERLINK instructions become links. */
static int start_field(struct walk *w, const char *ln)
{
	hp_xr *x = w->x;
	int r = 0;
	if (strcmp(ln, "instrText") == 0) {
		if (w->nfld && w->fld[w->nfld - 1].instr) {
			r = hp_xr_collect_text(x, &w->instr);
			return r == -EFBIG ? 0 : r;
		}
		return hp_xr_skip(x);
	}
	if (strcmp(ln, "fldChar") == 0) {
		const char *type = hp_xr_attr(x, HP_NS_W, "fldCharType");
		if (!type)
			return 0;
		if (strcmp(type, "begin") == 0) {
			if (w->nfld < (int)HP_ARRAY_SIZE(w->fld)) {
				w->fld[w->nfld].instr = 1;
				w->fld[w->nfld].link = 0;
			}
			w->nfld++;
			hp_buf_reset(&w->instr);
		} else if (strcmp(type, "separate") == 0 && w->nfld && w->nfld <= (int)HP_ARRAY_SIZE(w->fld)) {
			w->fld[w->nfld - 1].instr = 0;
			char *url = field_url(w->instr.data ? w->instr.data : "");
			if (url && !w->link_open) {
				w->fld[w->nfld - 1].link = 1;
				return link_start(w, url);
			}
			free(url);
		} else if (strcmp(type, "end") == 0 && w->nfld) {
			int link = w->nfld <= (int)HP_ARRAY_SIZE(w->fld) && w->fld[w->nfld - 1].link;
			w->nfld--;
			if (link && w->link_open) {
				w->link_open = 0;
				return hp_il_link_close(cur_il(w), w->link_url);
			}
		}
		return 0;
	}
	if (strcmp(ln, "fldSimple") == 0) {
		char *url = field_url(hp_xr_attr(x, HP_NS_W, "instr") ? hp_xr_attr(x, HP_NS_W, "instr") : "");
		if (url && !w->link_open && !hp_xr_empty(x)) {
			w->simple_link = 1;
			return link_start(w, url);
		}
		free(url);
		return 0;
	}
	return 0;
}

/* Tables: only the outermost is a table; inner ones flatten into its cell. */
static int start_table(struct walk *w, const char *ln)
{
	hp_xr *x = w->x;
	if (strcmp(ln, "tbl") == 0) {
		if (w->notes_mode)
			return 0;
		if (++w->tbl_depth == 1) {
			hp_tbl_free(&w->tbl);
			hp_tbl_init(&w->tbl, w->d->lim->max_output);
		}
		return 0;
	}
	if (w->tbl_depth == 1 && strcmp(ln, "tr") == 0) {
		w->col = 0;
		return hp_tbl_row(&w->tbl);
	}
	if (w->tbl_depth == 1 && strcmp(ln, "tc") == 0) {
		w->span = 1;
		w->vmerge_cont = 0;
		w->cell_paras = 0;
		hp_il_reset(&w->cell);
		return 0;
	}
	if (w->tbl_depth == 1 && strcmp(ln, "gridSpan") == 0) {
		const char *v = hp_xr_attr(x, HP_NS_W, "val");
		w->span = v ? atoi(v) : 1;
		return 0;
	}
	if (w->tbl_depth == 1 && strcmp(ln, "vMerge") == 0) {
		const char *v = hp_xr_attr(x, HP_NS_W, "val");
		w->vmerge_cont = !v || strcmp(v, "continue") == 0;
		return 0;
	}
	return 0;
}

/* Runs' content, links, drawings, note references, notes. */
static int start_inline(struct walk *w, const char *ln)
{
	hp_xr *x = w->x;
	if (strcmp(ln, "t") == 0) {
		w->in_t = !hp_xr_empty(x);
		return 0;
	}
	if (strcmp(ln, "tab") == 0 || strcmp(ln, "ptab") == 0)
		return hp_il_text(cur_il(w), " ", 1, 0);
	if (strcmp(ln, "br") == 0 || strcmp(ln, "cr") == 0) {
		const char *type = hp_xr_attr(x, HP_NS_W, "type");
		if (type && strcmp(type, "page") == 0)
			return hp_il_text(cur_il(w), " ", 1, 0);
		return hp_il_break(cur_il(w));
	}
	if (strcmp(ln, "noBreakHyphen") == 0)
		return hp_il_text(cur_il(w), "-", 1, w->run_flags);
	if (strcmp(ln, "del") == 0 || strcmp(ln, "moveFrom") == 0 || strcmp(ln, "sdtPr") == 0 ||
	    strcmp(ln, "delText") == 0)
		return hp_xr_skip(x);
	if (strcmp(ln, "hyperlink") == 0) {
		const hp_rel *rel = hp_rels_id(&w->d->rels, hp_xr_attr(x, HP_NS_R, "id"));
		if (rel && rel->external && !hp_xr_empty(x) && !w->link_open) {
			free(w->link_url);
			if (!(w->link_url = strdup(rel->target)))
				return -ENOMEM;
			w->link_open = 1;
			return hp_il_link_open(cur_il(w));
		}
		return 0;
	}
	if (strcmp(ln, "drawing") == 0) {
		w->in_drawing = !hp_xr_empty(x);
		return 0;
	}
	if (strcmp(ln, "txbxContent") == 0) {
		w->txbx++;
		return 0;
	}
	if (strcmp(ln, "footnoteReference") == 0 || strcmp(ln, "endnoteReference") == 0 ||
	    strcmp(ln, "commentReference") == 0) {
		const char *id = hp_xr_attr(x, HP_NS_W, "id");
		if (!id || strlen(id) > 20)
			return 0;
		char ref[40];
		snprintf(ref, sizeof(ref), "[^%s%s]", ln[0] == 'f' ? "" : ln[0] == 'e' ? "e" : "c", id);
		return hp_il_raw(cur_il(w), ref);
	}
	/* notes */
	if (w->notes_mode && (strcmp(ln, "footnote") == 0 || strcmp(ln, "endnote") == 0 ||
	                      strcmp(ln, "comment") == 0)) {
		const char *type = hp_xr_attr(x, HP_NS_W, "type");
		if (type && strcmp(type, "normal") != 0)
			return hp_xr_skip(x);    /* separators */
		free(w->note_id);
		w->note_id = hp_strdup0(hp_xr_attr(x, HP_NS_W, "id"));
		hp_il_reset(&w->note);
		return 0;
	}
	return 0;
}

static int on_start(struct walk *w)
{
	enum hp_ns ns = hp_xr_ns(w->x);
	const char *ln = hp_xr_local(w->x);
	if (ns != HP_NS_W)
		return start_foreign(w, ns, ln);
	if (strcmp(ln, "p") == 0)
		return start_para(w);
	if (w->in_ppr || w->in_rpr || strcmp(ln, "pPr") == 0 || strcmp(ln, "rPr") == 0 ||
	    strcmp(ln, "r") == 0)
		return start_props(w, ln);
	if (strcmp(ln, "instrText") == 0 || strcmp(ln, "fldChar") == 0 || strcmp(ln, "fldSimple") == 0)
		return start_field(w, ln);
	if (strcmp(ln, "tbl") == 0 ||
	    (w->tbl_depth == 1 && (strcmp(ln, "tr") == 0 || strcmp(ln, "tc") == 0 ||
	                           strcmp(ln, "gridSpan") == 0 || strcmp(ln, "vMerge") == 0)))
		return start_table(w, ln);
	return start_inline(w, ln);
}

static int on_end(struct walk *w)
{
	hp_xr *x = w->x;
	enum hp_ns ns = hp_xr_ns(x);
	const char *ln = hp_xr_local(x);
	int r = 0;
	if (ns == HP_NS_M) {
		if (strcmp(ln, "oMathPara") == 0) {
			w->math_para = 0;
			return 0;
		}
		if (strcmp(ln, "oMath") == 0 && w->math_depth) {
			if (--w->math_depth == 0)
				return math_end(w);
			return 0;
		}
		if (!w->math_depth)
			return 0;
		if (strcmp(ln, "t") == 0) {
			w->in_mt = 0;
			return 0;
		}
		return math_close(w, ln);
	}
	if (ns != HP_NS_W)
		return 0;
	if (strcmp(ln, "pPr") == 0) {
		w->in_ppr = 0;
		int title;
		w->plain = !w->tbl_depth && !w->notes_mode &&
		           (style_heading(w->d, w->pstyle[0] ? w->pstyle : NULL, &title) ||
		            (w->outline >= 0 && w->outline < 9));
		/* a list paragraph inside a table cell keeps its marker inline */
		char marker[64];
		if (w->tbl_depth && !w->txbx && w->num_id[0] &&
		    list_marker(w->d, w->num_id, w->ilvl, marker, sizeof(marker)))
			r = hp_il_raw(&w->cell, marker + strspn(marker, " "));
	}
	else if (strcmp(ln, "rPr") == 0)
		w->in_rpr = 0;
	else if (strcmp(ln, "t") == 0)
		w->in_t = 0;
	else if (strcmp(ln, "drawing") == 0) {
		w->in_drawing = 0;
		/* a picture has a blip; charts, shapes and SmartArt have none */
		if (w->img_rid) {
			r = emit_image(w);
		} else {
			free(w->img_alt);
			free(w->img_name);
			w->img_alt = w->img_name = NULL;
		}
	} else if (strcmp(ln, "txbxContent") == 0 && w->txbx) {
		w->txbx--;
	} else if (strcmp(ln, "fldSimple") == 0 && w->simple_link) {
		w->simple_link = 0;
		if (w->link_open) {
			w->link_open = 0;
			r = hp_il_link_close(cur_il(w), w->link_url);
		}
	} else if (strcmp(ln, "hyperlink") == 0 && w->link_open) {
		w->link_open = 0;
		r = hp_il_link_close(cur_il(w), w->link_url);
	} else if (strcmp(ln, "p") == 0 && !w->tbl_depth && !w->txbx && !w->notes_mode) {
		r = para_end(w);
	} else if (strcmp(ln, "tc") == 0 && w->tbl_depth == 1) {
		r = cell_end(w);
	} else if (strcmp(ln, "tbl") == 0 && w->tbl_depth) {
		if (--w->tbl_depth == 0) {
			r = hp_tbl_emit(&w->tbl, &w->d->md);
			hp_tbl_free(&w->tbl);
			if (r == 0 && w->ncharts)
				r = flush_charts(w);
		}
	} else if (w->notes_mode && (strcmp(ln, "footnote") == 0 || strcmp(ln, "endnote") == 0 ||
	                             strcmp(ln, "comment") == 0)) {
		r = note_end(w);
	}
	return r;
}

static int walk_part(struct docx *d, const char *part, int notes_mode, char kind)
{
	struct walk w;
	memset(&w, 0, sizeof(w));
	w.d = d;
	w.notes_mode = notes_mode;
	w.note_kind = kind;
	w.outline = -1;
	size_t lim = d->lim->max_output;
	hp_il_init(&w.para, lim);
	hp_il_init(&w.cell, lim);
	hp_il_init(&w.math, lim);
	hp_il_init(&w.note, lim);
	w.cell.in_table = 1;
	hp_tbl_init(&w.tbl, lim);
	hp_buf_init(&w.instr, 4096);
	int r = hp_xr_open(d->z, part, d->lim, 0, &w.x, d->err, d->errlen);
	if (r == -ENOENT && notes_mode) {
		r = 0;
		goto out;
	}
	if (r == -ENOENT) {
		r = hp_office_err(-EINVAL, d->err, d->errlen, "DOCX has no %s part", part);
		goto out;
	}
	if (r < 0)
		goto out;
	while ((r = hp_xr_next(w.x)) > 0) {
		switch (hp_xr_type(w.x)) {
		case HP_XR_START:
			r = on_start(&w);
			if (r == 0 && hp_xr_empty(w.x))
				r = on_end(&w);
			break;
		case HP_XR_END:
			r = on_end(&w);
			break;
		case HP_XR_TEXT:
			if (w.in_mt)
				r = hp_buf_addstr(&w.math.b, hp_xr_text(w.x));
			else if (w.in_t && !w.hidden && !w.math_depth) {
				const char *t = hp_xr_text(w.x);
				r = hp_il_text(cur_il(&w), t, strlen(t),
				               w.plain && !w.txbx ? 0 : w.run_flags | w.run_style_flags);
			}
			break;
		}
		if (r < 0)
			break;
	}
out:
	if (w.x)
		hp_xr_close(w.x);
	hp_il_free(&w.para);
	hp_il_free(&w.cell);
	hp_il_free(&w.math);
	hp_il_free(&w.note);
	hp_tbl_free(&w.tbl);
	hp_buf_free(&w.instr);
	for (int i = 0; i < w.ncharts; i++)
		free(w.charts[i]);
	free(w.link_url);
	free(w.img_alt);
	free(w.img_name);
	free(w.img_rid);
	free(w.note_id);
	return r;
}

static int emit_notes(struct docx *d)
{
	int r = 0;
	for (size_t i = 0; i < d->nnotes && r == 0; i++) {
		struct note *n = &d->notes[i];
		char prefix[64];
		snprintf(prefix, sizeof(prefix), "[^%s%s]: ",
		         n->kind == 'f' ? "" : n->kind == 'e' ? "e" : "c", n->id);
		r = hp_md_block(&d->md, prefix, n->text, strlen(n->text), 1);
	}
	return r;
}

static void docx_free(struct docx *d)
{
	hp_rels_free(&d->rels);
	for (size_t i = 0; i < d->nstyles; i++) {
		free(d->styles[i].id);
		free(d->styles[i].based_on);
	}
	free(d->styles);
	for (size_t i = 0; i < d->nabstracts; i++)
		free(d->abstracts[i].id);
	free(d->abstracts);
	for (size_t i = 0; i < d->nnums; i++) {
		free(d->nums[i].id);
		free(d->nums[i].abstract);
	}
	free(d->nums);
	for (size_t i = 0; i < d->nnotes; i++) {
		free(d->notes[i].id);
		free(d->notes[i].text);
	}
	free(d->notes);
	hp_md_free(&d->md);
	hp_meta_free(&d->meta);
	free(d->first_heading);
	free(d->title_par);
	free(d->default_lang);
	hp_zip_close(d->z);
}

static int convert_docx(const char *name, const char *data, size_t len,
                        const hp_convert_limits *lim, hp_doc *doc, char *err, size_t errlen)
{
	struct docx d;
	memset(&d, 0, sizeof(d));
	d.lim = lim;
	d.err = err;
	d.errlen = errlen;
	hp_md_init(&d.md, lim->max_output);
	hp_meta_init(&d.meta);
	int r = hp_zip_open(data, len, lim, &d.z, err, errlen);
	if (r < 0)
		goto out;
	if ((r = hp_opc_main(d.z, lim, "word/document.xml", d.main, sizeof(d.main), err, errlen)) < 0 ||
	    (r = hp_rels_load(d.z, d.main, lim, &d.rels, err, errlen)) < 0)
		goto out;
	static const struct { const char *type; char kind; } parts[] = {
		{ "styles", 0 }, { "numbering", 0 },
		{ "footnotes", 'f' }, { "endnotes", 'e' }, { "comments", 'c' },
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(parts); i++) {
		const hp_rel *rel = hp_rels_type(&d.rels, parts[i].type);
		if (!rel || rel->external)
			continue;
		if (i == 0)
			r = load_styles(&d, rel->target);
		else if (i == 1)
			r = load_numbering(&d, rel->target);
		else
			r = walk_part(&d, rel->target, 1, parts[i].kind);
		if (r < 0)
			goto out;
	}
	if ((r = walk_part(&d, d.main, 0, 0)) < 0 || (r = emit_notes(&d)) < 0)
		goto out;
	if ((r = hp_meta_ooxml(&d.meta, d.z, lim, err, errlen)) < 0)
		goto out;
	if (!d.meta.lang && d.default_lang) {
		d.meta.lang = d.default_lang;
		d.default_lang = NULL;
	}
	const char *title = d.meta.title ? d.meta.title : d.title_par ? d.title_par : d.first_heading;
	if (title && (r = hp_title_from_line(title, strlen(title), HP_TITLE_MAX, &doc->title)) < 0)
		goto out;
	if ((r = hp_md_finish(&d.md, doc, lim, err, errlen)) < 0)
		goto out;
	r = hp_meta_finish(&d.meta, doc);
out:
	if (r == -EFBIG && !err[0])
		r = hp_conv_efbig(lim->max_output, err, errlen);
	docx_free(&d);
	(void)name;
	return r;
}

const hp_converter hp_conv_docx = { HP_FMT_DOCX, convert_docx };
