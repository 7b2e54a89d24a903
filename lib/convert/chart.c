/* chart.c — DrawingML charts (ECMA-376 Part 1 §21.2) as Markdown: the
 * chart's title, then a table of the values the file caches for it
 * (c:cat categories down, one column per c:ser series). The values are the
 * chart's own cache: nothing is read from the workbook it came from.
 * Shared by DOCX, XLSX and PPTX; see office.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "office.h"

#define MAX_POINTS 2000
#define MAX_SERIES 64

struct series {
	char *name;
	char **cat, **val;
	size_t ncat, nval;
};

static int add_pt(char ***v, size_t *n, const char *s)
{
	if (*n >= MAX_POINTS)
		return 0;
	if ((*n & (*n - 1)) == 0) {
		char **p = realloc(*v, (*n ? *n * 2 : 4) * sizeof(**v));
		if (!p)
			return -ENOMEM;
		*v = p;
	}
	(*v)[*n] = strdup(s);
	if (!(*v)[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

int hp_chart_md(hp_zip *z, const char *part, const hp_convert_limits *lim, hp_md *out,
                hp_meta *meta, char *err, size_t errlen)
{
	hp_xr *x;
	int r = hp_xr_open(z, part, lim, 0, &x, err, errlen);
	if (r == -ENOENT)
		return hp_meta_warn(meta, "chart %s skipped: part missing", part);
	if (r < 0)
		return r;
	struct series s[MAX_SERIES];
	size_t ns = 0;
	memset(s, 0, sizeof(s));
	int where = 0;   /* 1 tx, 2 cat, 3 val */
	int in_v = 0;
	hp_buf b;
	hp_buf_init(&b, 4096);
	char title[256] = "";
	int in_title = 0;
	while ((r = hp_xr_next(x)) > 0) {
		const char *ln = hp_xr_local(x);
		int t = hp_xr_type(x);
		if (t == HP_XR_TEXT) {
			if (in_v || (in_title && ns == 0))
				hp_buf_addstr(&b, hp_xr_text(x));
			continue;
		}
		if (t == HP_XR_START) {
			if (strcmp(ln, "title") == 0 && ns == 0 && !in_title) {
				in_title = 1;
				hp_buf_reset(&b);
			} else if (strcmp(ln, "ser") == 0 && ns < MAX_SERIES) {
				ns++;
				where = 0;
			} else if (ns && strcmp(ln, "tx") == 0 && !where) {
				where = 1;
			} else if (ns && strcmp(ln, "cat") == 0) {
				where = 2;
			} else if (ns && strcmp(ln, "val") == 0) {
				where = 3;
			} else if (ns && where && strcmp(ln, "v") == 0) {
				in_v = 1;
				hp_buf_reset(&b);
			}
			if (!hp_xr_empty(x))
				continue;
		}
		if (strcmp(ln, "title") == 0 && in_title) {
			in_title = 0;
			snprintf(title, sizeof(title), "%s", b.data ? b.data : "");
		} else if (strcmp(ln, "v") == 0 && in_v) {
			in_v = 0;
			struct series *c = &s[ns - 1];
			const char *v = b.data ? b.data : "";
			if (where == 1 && !c->name)
				c->name = strdup(v);
			else if (where == 2)
				r = add_pt(&c->cat, &c->ncat, v);
			else if (where == 3)
				r = add_pt(&c->val, &c->nval, v);
			if (r < 0)
				break;
		} else if (strcmp(ln, "tx") == 0 || strcmp(ln, "cat") == 0 || strcmp(ln, "val") == 0) {
			where = 0;
		}
	}
	hp_xr_close(x);
	hp_buf_free(&b);
	if (r == 0 && ns) {
		char head[300];
		snprintf(head, sizeof(head), "Chart%s%s", title[0] ? ": " : "", title);
		r = hp_md_block(out, "", head, strlen(head), 0);
		hp_tbl t;
		hp_tbl_init(&t, lim->max_output);
		hp_il il;
		hp_il_init(&il, lim->max_output);
		il.in_table = 1;
		size_t rows = 0;
		for (size_t i = 0; i < ns; i++)
			rows = s[i].nval > rows ? s[i].nval : rows;
		for (size_t i = 0; r == 0 && i <= rows; i++) {
			r = hp_tbl_row(&t);
			for (size_t c = 0; r == 0 && c <= ns; c++) {
				const char *v;
				if (i == 0)
					v = c == 0 ? "" : s[c - 1].name ? s[c - 1].name : "";
				else if (c == 0)
					v = i - 1 < s[0].ncat ? s[0].cat[i - 1] : "";
				else
					v = i - 1 < s[c - 1].nval ? s[c - 1].val[i - 1] : "";
				hp_il_reset(&il);
				size_t n;
				r = hp_il_text(&il, v, strlen(v), 0);
				const char *cs = hp_il_finish(&il, &n);
				if (r == 0)
					r = hp_tbl_cell(&t, cs, n);
			}
		}
		if (r == 0)
			r = hp_tbl_emit(&t, out);
		hp_tbl_free(&t);
		hp_il_free(&il);
	}
	for (size_t i = 0; i < ns; i++) {
		free(s[i].name);
		for (size_t k = 0; k < s[i].ncat; k++)
			free(s[i].cat[k]);
		for (size_t k = 0; k < s[i].nval; k++)
			free(s[i].val[k]);
		free(s[i].cat);
		free(s[i].val);
	}
	return r;
}

