/* pptx.c — PowerPoint decks (ECMA-376 PresentationML) to Markdown.
 *
 * Slides in presentation order (p:sldIdLst), each:
 *     <!-- slide N -->
 *     ## Title               (the title or centred-title placeholder)
 *     body text in the order of the shape tree: text boxes as paragraphs,
 *     body placeholders and explicit bullets as lists (a:pPr lvl nests),
 *     tables (a:tbl) as pipe tables with spans repeated, pictures as
 *     ![description](ShapeName.ext), charts as a table of their cached
 *     series values
 *     ### Notes              (the speaker notes' body placeholder)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert-int.h"
#include "office.h"


struct deck {
	hp_zip *z;
	const hp_convert_limits *lim;
	char *err;
	size_t errlen;
	char main[512];
	hp_md md;
	hp_meta meta;
	char *first_title;
};

struct sw {                 /* one pass over a slide (or its notes) */
	struct deck *d;
	hp_xr *x;
	const char *part;
	hp_rels rels;
	hp_md body;             /* blocks of this slide, in order */
	hp_il title, para, cell;
	int notes;              /* notes: only the body placeholder counts */
	/* shape */
	int ph_title, ph_body, ph_skip, in_shape;
	/* paragraph */
	int lvl, bullet, in_t, run_flags, in_run;
	char *link;
	/* table */
	int in_tbl;
	hp_tbl tbl;
	int span, hmerge, vmerge;
	size_t col;
	int cell_paras;
	/* picture */
	char *pic_name, *pic_alt, *pic_rid;
	int in_pic;
	char *chart_rid;
};

static int set_dup(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? strdup(v) : NULL;
	return !v || *dst ? 0 : -ENOMEM;
}

/* ---- shapes ------------------------------------------------------------------------ */

static hp_il *cur_il(struct sw *w)
{
	if (w->in_tbl)
		return &w->cell;
	return w->ph_title ? &w->title : &w->para;
}

static int emit_pic(struct sw *w)
{
	const hp_rel *rel = hp_rels_id(&w->rels, w->pic_rid);
	char name[256] = "";
	const char *ext = "";
	if (rel) {
		const char *dot = strrchr(rel->target, '.');
		const char *slash = strrchr(rel->target, '/');
		if (dot && (!slash || dot > slash))
			ext = dot;
	}
	size_t o = 0;
	for (const char *p = w->pic_name ? w->pic_name : "image"; *p && o + 1 + strlen(ext) < sizeof(name); p++)
		if (*p != ' ')
			name[o++] = *p;
	snprintf(name + o, sizeof(name) - o, "%s", ext);
	hp_il *il = &w->para;
	hp_il_reset(il);
	int r = hp_il_image(il, w->pic_alt ? w->pic_alt : "", name);
	size_t n;
	const char *s = hp_il_finish(il, &n);
	if (r == 0)
		r = hp_md_block(&w->body, "", s, n, 0);
	hp_il_reset(il);
	return r;
}

static int para_end(struct sw *w)
{
	if (w->ph_title) {
		/* title paragraphs join with a space */
		return hp_il_text(&w->title, " ", 1, 0);
	}
	if (w->in_tbl)
		return 0;
	size_t n;
	const char *s = hp_il_finish(&w->para, &n);
	int r = 0;
	if (n && !(w->notes && !w->ph_body)) {
		char prefix[64] = "";
		int list = w->bullet > 0;
		if (list)
			snprintf(prefix, sizeof(prefix), "%*s- ", w->lvl * 4, "");
		r = hp_md_block(&w->body, prefix, s, n, list);
	}
	hp_il_reset(&w->para);
	return r;
}

static int on_start(struct sw *w)
{
	hp_xr *x = w->x;
	enum hp_ns ns = hp_xr_ns(x);
	const char *ln = hp_xr_local(x);
	int r = 0;
	if (ns == HP_NS_P) {
		if (strcmp(ln, "sp") == 0) {
			w->ph_title = w->ph_body = w->ph_skip = 0;
			w->in_shape = 1;
		} else if (strcmp(ln, "ph") == 0 && w->in_shape) {
			const char *type = hp_xr_attr(x, HP_NS_NONE, "type");
			if (type && (strcmp(type, "title") == 0 || strcmp(type, "ctrTitle") == 0))
				w->ph_title = !w->notes;
			else if (!type || strcmp(type, "body") == 0 || strcmp(type, "obj") == 0)
				w->ph_body = 1;
			else if (strcmp(type, "sldNum") == 0 || strcmp(type, "dt") == 0 ||
			         strcmp(type, "ftr") == 0 || strcmp(type, "hdr") == 0 ||
			         strcmp(type, "sldImg") == 0)
				w->ph_skip = 1;
		} else if (strcmp(ln, "pic") == 0) {
			w->in_pic = 1;
			free(w->pic_name);
			free(w->pic_alt);
			free(w->pic_rid);
			w->pic_name = w->pic_alt = w->pic_rid = NULL;
		} else if (strcmp(ln, "cNvPr") == 0 && w->in_pic) {
			const char *alt = hp_xr_attr(x, HP_NS_NONE, "descr");
			if (!alt || !*alt)
				alt = hp_xr_attr(x, HP_NS_NONE, "title");
			if ((r = set_dup(&w->pic_alt, alt)) == 0)
				r = set_dup(&w->pic_name, hp_xr_attr(x, HP_NS_NONE, "name"));
		} else if (strcmp(ln, "txBody") == 0 && w->ph_skip) {
			return hp_xr_skip(x);
		}
		return r;
	}
	if (ns == HP_NS_OTHER && strcmp(ln, "chart") == 0) {
		return set_dup(&w->chart_rid, hp_xr_attr(x, HP_NS_R, "id"));
	}
	if (ns != HP_NS_A)
		return 0;
	if (strcmp(ln, "blip") == 0 && w->in_pic)
		return set_dup(&w->pic_rid, hp_xr_attr(x, HP_NS_R, "embed"));
	if (strcmp(ln, "p") == 0) {
		w->lvl = 0;
		w->bullet = w->ph_body && !w->notes ? 1 : 0;
		if (w->in_tbl && w->cell_paras++ && w->cell.b.len)
			r = hp_il_break(&w->cell);
		return r;
	}
	if (strcmp(ln, "pPr") == 0) {
		const char *l = hp_xr_attr(x, HP_NS_NONE, "lvl");
		w->lvl = l ? atoi(l) : 0;
		if (w->lvl < 0 || w->lvl > 8)
			w->lvl = 0;
		return 0;
	}
	if (strcmp(ln, "buNone") == 0) {
		w->bullet = 0;
		return 0;
	}
	if (strcmp(ln, "buChar") == 0 || strcmp(ln, "buAutoNum") == 0) {
		w->bullet = !w->ph_title && !w->in_tbl;
		return 0;
	}
	if (strcmp(ln, "r") == 0 || strcmp(ln, "fld") == 0) {
		w->run_flags = 0;
		w->in_run = 1;
		if (ln[0] == 'f') {
			const char *type = hp_xr_attr(x, HP_NS_NONE, "type");
			if (type && strncmp(type, "slidenum", 8) == 0)
				return hp_xr_skip(x);
		}
		return 0;
	}
	if (strcmp(ln, "hlinkClick") == 0 && w->in_run && !w->link && !w->ph_title) {
		const hp_rel *rel = hp_rels_id(&w->rels, hp_xr_attr(x, HP_NS_R, "id"));
		if (rel && rel->external) {
			if (!(w->link = strdup(rel->target)))
				return -ENOMEM;
			return hp_il_link_open(cur_il(w));
		}
		return 0;
	}
	if (strcmp(ln, "rPr") == 0) {
		const char *b = hp_xr_attr(x, HP_NS_NONE, "b");
		const char *i = hp_xr_attr(x, HP_NS_NONE, "i");
		const char *s = hp_xr_attr(x, HP_NS_NONE, "strike");
		if (b && (strcmp(b, "1") == 0 || strcmp(b, "true") == 0))
			w->run_flags |= HP_IL_B;
		if (i && (strcmp(i, "1") == 0 || strcmp(i, "true") == 0))
			w->run_flags |= HP_IL_I;
		if (s && strcmp(s, "noStrike") != 0)
			w->run_flags |= HP_IL_S;
		return 0;
	}
	if (strcmp(ln, "t") == 0) {
		w->in_t = !hp_xr_empty(x);
		return 0;
	}
	if (strcmp(ln, "br") == 0)
		return hp_il_break(cur_il(w));
	if (strcmp(ln, "tbl") == 0) {
		w->in_tbl = 1;
		hp_tbl_free(&w->tbl);
		hp_tbl_init(&w->tbl, w->d->lim->max_output);
		return 0;
	}
	if (w->in_tbl && strcmp(ln, "tr") == 0) {
		w->col = 0;
		return hp_tbl_row(&w->tbl);
	}
	if (w->in_tbl && strcmp(ln, "tc") == 0) {
		const char *gs = hp_xr_attr(x, HP_NS_NONE, "gridSpan");
		const char *hm = hp_xr_attr(x, HP_NS_NONE, "hMerge");
		const char *vm = hp_xr_attr(x, HP_NS_NONE, "vMerge");
		w->span = gs ? atoi(gs) : 1;
		w->hmerge = hm && (strcmp(hm, "1") == 0 || strcmp(hm, "true") == 0);
		w->vmerge = vm && (strcmp(vm, "1") == 0 || strcmp(vm, "true") == 0);
		w->cell_paras = 0;
		hp_il_reset(&w->cell);
		return 0;
	}
	return 0;
}

static int cell_end(struct sw *w)
{
	size_t n;
	const char *s = hp_il_finish(&w->cell, &n);
	int r = 0;
	const char *v = s;
	size_t vn = n;
	if (w->vmerge && w->tbl.nrows >= 2) {
		v = hp_tbl_get(&w->tbl, w->tbl.nrows - 2, w->col);
		vn = v ? strlen(v) : 0;
	} else if (w->hmerge && w->col > 0) {
		v = hp_tbl_get(&w->tbl, w->tbl.nrows - 1, w->col - 1);
		vn = v ? strlen(v) : 0;
	}
	/* gridSpan cells are followed by hMerge cells of their own in the
	 * file, which repeat the value above; so a span adds nothing here */
	char *copy = v ? strndup(v, vn) : NULL;
	if (v && !copy)
		return -ENOMEM;
	r = hp_tbl_cell(&w->tbl, copy ? copy : "", copy ? vn : 0);
	free(copy);
	w->col++;
	hp_il_reset(&w->cell);
	return r;
}

static int on_end(struct sw *w)
{
	hp_xr *x = w->x;
	enum hp_ns ns = hp_xr_ns(x);
	const char *ln = hp_xr_local(x);
	int r = 0;
	if (ns == HP_NS_P) {
		if (strcmp(ln, "sp") == 0) {
			w->in_shape = 0;
			w->ph_title = w->ph_body = w->ph_skip = 0;
		} else if (strcmp(ln, "pic") == 0 && w->in_pic) {
			w->in_pic = 0;
			r = emit_pic(w);
		} else if (strcmp(ln, "graphicFrame") == 0 && w->chart_rid) {
			const hp_rel *rel = hp_rels_id(&w->rels, w->chart_rid);
			if (rel && !rel->external)
				r = hp_chart_md(w->d->z, rel->target, w->d->lim, &w->body, &w->d->meta,
				                w->d->err, w->d->errlen);
			free(w->chart_rid);
			w->chart_rid = NULL;
		}
		return r;
	}
	if (ns != HP_NS_A)
		return 0;
	if (strcmp(ln, "t") == 0)
		w->in_t = 0;
	else if ((strcmp(ln, "r") == 0 || strcmp(ln, "fld") == 0) && w->in_run) {
		w->in_run = 0;
		if (w->link) {
			r = hp_il_link_close(cur_il(w), w->link);
			free(w->link);
			w->link = NULL;
		}
	} else if (strcmp(ln, "p") == 0)
		r = para_end(w);
	else if (strcmp(ln, "tc") == 0 && w->in_tbl)
		r = cell_end(w);
	else if (strcmp(ln, "tbl") == 0 && w->in_tbl) {
		w->in_tbl = 0;
		r = hp_tbl_emit(&w->tbl, &w->body);
		hp_tbl_free(&w->tbl);
	}
	return r;
}

static int walk(struct sw *w, const char *part)
{
	struct deck *d = w->d;
	int r = hp_rels_load(d->z, part, d->lim, &w->rels, d->err, d->errlen);
	if (r < 0)
		return r;
	r = hp_xr_open(d->z, part, d->lim, 0, &w->x, d->err, d->errlen);
	if (r == -ENOENT)
		return hp_meta_warn(&d->meta, "%s skipped: part missing", part);
	if (r < 0)
		return r;
	while ((r = hp_xr_next(w->x)) > 0) {
		switch (hp_xr_type(w->x)) {
		case HP_XR_START:
			r = on_start(w);
			if (r == 0 && hp_xr_empty(w->x))
				r = on_end(w);
			break;
		case HP_XR_END:
			r = on_end(w);
			break;
		case HP_XR_TEXT:
			if (w->in_t) {
				const char *t = hp_xr_text(w->x);
				r = hp_il_text(cur_il(w), t, strlen(t), w->ph_title ? 0 : w->run_flags);
			}
			break;
		}
		if (r < 0)
			break;
	}
	hp_xr_close(w->x);
	w->x = NULL;
	return r;
}

static void sw_init(struct sw *w, struct deck *d)
{
	memset(w, 0, sizeof(*w));
	w->d = d;
	size_t lim = d->lim->max_output;
	hp_md_init(&w->body, lim);
	hp_il_init(&w->title, lim);
	hp_il_init(&w->para, lim);
	hp_il_init(&w->cell, lim);
	w->cell.in_table = 1;
	hp_tbl_init(&w->tbl, lim);
}

static void sw_free(struct sw *w)
{
	hp_rels_free(&w->rels);
	hp_md_free(&w->body);
	hp_il_free(&w->title);
	hp_il_free(&w->para);
	hp_il_free(&w->cell);
	hp_tbl_free(&w->tbl);
	free(w->link);
	free(w->pic_name);
	free(w->pic_alt);
	free(w->pic_rid);
	free(w->chart_rid);
}

static int do_slide(struct deck *d, int num, const char *part)
{
	struct sw w;
	sw_init(&w, d);
	char mark[64];
	snprintf(mark, sizeof(mark), "<!-- slide %d -->", num);
	int r = walk(&w, part);
	if (r < 0)
		goto out;
	if ((r = hp_md_raw(&d->md, mark)) < 0)
		goto out;
	size_t n;
	const char *t = hp_il_finish(&w.title, &n);
	if (n) {
		if (!d->first_title && !(d->first_title = strndup(t, n))) {
			r = -ENOMEM;
			goto out;
		}
		if ((r = hp_md_block(&d->md, "## ", t, n, 0)) < 0)
			goto out;
	}
	if (w.body.out.len && (r = hp_md_raw(&d->md, w.body.out.data)) < 0)
		goto out;
	/* speaker notes */
	const hp_rel *nr = hp_rels_type(&w.rels, "notesSlide");
	if (nr && !nr->external) {
		struct sw nw;
		sw_init(&nw, d);
		nw.notes = 1;
		r = walk(&nw, nr->target);
		if (r == 0 && nw.body.out.len) {
			r = hp_md_block(&d->md, "### ", "Notes", 5, 0);
			if (r == 0)
				r = hp_md_raw(&d->md, nw.body.out.data);
		}
		sw_free(&nw);
	}
out:
	sw_free(&w);
	return r;
}

static int convert_pptx(const char *name, const char *data, size_t len,
                        const hp_convert_limits *lim, hp_doc *doc, char *err, size_t errlen)
{
	(void)name;
	struct deck d;
	memset(&d, 0, sizeof(d));
	d.lim = lim;
	d.err = err;
	d.errlen = errlen;
	hp_md_init(&d.md, lim->max_output);
	hp_meta_init(&d.meta);
	hp_rels rels = { 0 };
	hp_xr *x = NULL;
	int r = hp_zip_open(data, len, lim, &d.z, err, errlen);
	if (r < 0)
		goto out;
	if ((r = hp_opc_main(d.z, lim, "ppt/presentation.xml", d.main, sizeof(d.main), err, errlen)) < 0 ||
	    (r = hp_rels_load(d.z, d.main, lim, &rels, err, errlen)) < 0)
		goto out;
	r = hp_xr_open(d.z, d.main, lim, 0, &x, err, errlen);
	if (r == -ENOENT)
		r = hp_office_err(-EINVAL, err, errlen, "PPTX has no presentation part %s", d.main);
	if (r < 0)
		goto out;
	int num = 0;
	while ((r = hp_xr_next(x)) > 0) {
		if (hp_xr_type(x) != HP_XR_START || !hp_xr_is(x, HP_NS_P, "sldId"))
			continue;
		const hp_rel *rel = hp_rels_id(&rels, hp_xr_attr(x, HP_NS_R, "id"));
		num++;
		if (!rel || rel->external) {
			if ((r = hp_meta_warn(&d.meta, "slide %d skipped: no such part", num)) < 0)
				break;
			continue;
		}
		if ((r = do_slide(&d, num, rel->target)) < 0)
			break;
		d.meta.slides++;
	}
	if (r < 0)
		goto out;
	if ((r = hp_meta_ooxml(&d.meta, d.z, lim, err, errlen)) < 0)
		goto out;
	d.meta.pages = 0;
	const char *title = d.meta.title ? d.meta.title : d.first_title;
	if (title && (r = hp_title_from_line(title, strlen(title), HP_TITLE_MAX, &doc->title)) < 0)
		goto out;
	if ((r = hp_md_finish(&d.md, doc, lim, err, errlen)) < 0)
		goto out;
	r = hp_meta_finish(&d.meta, doc);
out:
	if (r == -EFBIG && !err[0])
		r = hp_conv_efbig(lim->max_output, err, errlen);
	hp_xr_close(x);
	hp_rels_free(&rels);
	hp_md_free(&d.md);
	hp_meta_free(&d.meta);
	free(d.first_title);
	hp_zip_close(d.z);
	return r;
}

const hp_converter hp_conv_pptx = { HP_FMT_PPTX, convert_pptx };
