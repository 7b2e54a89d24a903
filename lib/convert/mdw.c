/* mdw.c — the Markdown writer and the documents.meta builder shared by the
 * ZIP-based converters. See office.h.
 *
 * Inline text is written as it arrives, one run at a time. Emphasis markers
 * are opened just before the first visible character of a run and closed
 * before the whitespace that follows it, so the output never has
 * "** bold**" (which CommonMark does not read as emphasis, §6.2 "left-
 * flanking delimiter run"). Markers nest as a stack: a flag that ends
 * closes the markers opened after it, too.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert-int.h"
#include "office.h"

/* ---- inline ---------------------------------------------------------------- */

void hp_il_init(hp_il *il, size_t limit)
{
	memset(il, 0, sizeof(*il));
	hp_buf_init(&il->b, limit);
}

void hp_il_free(hp_il *il)
{
	hp_buf_free(&il->b);
}

void hp_il_reset(hp_il *il)
{
	hp_buf_reset(&il->b);
	il->nopen = 0;
	il->ws = 0;
}

static const char *marker(char f)
{
	return f == 'B' ? "**" : f == 'I' ? "*" : "~~";
}

static int flag_of(char f)
{
	return f == 'B' ? HP_IL_B : f == 'I' ? HP_IL_I : HP_IL_S;
}

/* Close markers until every open one is in `keep`. */
static int close_to(hp_il *il, int keep)
{
	int r = 0;
	for (;;) {
		int bad = 0;
		for (int i = 0; i < il->nopen; i++)
			if (!(flag_of(il->open[i]) & keep))
				bad = 1;
		if (!bad || il->nopen == 0)
			break;
		r = hp_buf_addstr(&il->b, marker(il->open[--il->nopen]));
		if (r < 0)
			return r;
	}
	return r;
}

/* Before a visible character with `flags`: close, space, open. */
static int before_visible(hp_il *il, int flags)
{
	int r = close_to(il, flags);
	if (r == 0 && il->ws) {
		il->ws = 0;
		if (il->b.len)
			r = hp_buf_addc(&il->b, ' ');
	}
	static const char order[] = { 'B', 'I', 'S' };
	for (size_t k = 0; r == 0 && k < sizeof(order); k++) {
		if (!(flags & flag_of(order[k])))
			continue;
		int is_open = 0;
		for (int i = 0; i < il->nopen; i++)
			if (il->open[i] == order[k])
				is_open = 1;
		if (is_open)
			continue;
		r = hp_buf_addstr(&il->b, marker(order[k]));
		il->open[il->nopen++] = order[k];
	}
	return r;
}

static int last_alnum(const hp_il *il)
{
	return il->b.len && isalnum((unsigned char)il->b.data[il->b.len - 1]);
}

int hp_il_text(hp_il *il, const char *s, size_t n, int flags)
{
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			il->ws = 1;
			continue;
		}
		/* U+00A0 no-break space stays as it is: it is visible spacing. */
		int line_start = il->b.len == 0;
		if ((r = before_visible(il, flags)) < 0)
			break;
		int esc = 0;
		switch (c) {
		case '\\': case '*': case '`': case '[': case ']': case '<':
			esc = 1;
			break;
		case '_':
			esc = !last_alnum(il) || i + 1 >= n || !isalnum((unsigned char)s[i + 1]);
			break;
		case '|':
			esc = il->in_table;
			break;
		case '#': case '>': case '-': case '+': case '=':
			esc = line_start && !il->in_table;
			break;
		default:
			break;
		}
		if (esc && (r = hp_buf_addc(&il->b, '\\')) < 0)
			break;
		r = hp_buf_addc(&il->b, (char)c);
	}
	return r;
}

int hp_il_raw(hp_il *il, const char *s)
{
	int r = close_to(il, 0);
	if (r == 0 && il->ws) {
		il->ws = 0;
		if (il->b.len)
			r = hp_buf_addc(&il->b, ' ');
	}
	return r < 0 ? r : hp_buf_addstr(&il->b, s);
}

int hp_il_break(hp_il *il)
{
	if (!il->b.len)
		return 0;
	int r = close_to(il, 0);
	il->ws = 0;
	if (r == 0)
		r = hp_buf_addstr(&il->b, il->in_table ? "<br>" : "\\\n");
	return r;
}

int hp_il_link_open(hp_il *il)
{
	return hp_il_raw(il, "[");
}

static int add_dest(hp_buf *b, const char *u)
{
	int r = 0;
	for (; *u && r == 0; u++) {
		unsigned char c = (unsigned char)*u;
		if (c <= ' ' || c == '(' || c == ')' || c == '<' || c == '>' || c == '|' || c == 0x7f)
			r = hp_buf_addf(b, "%%%02X", c);
		else
			r = hp_buf_addc(b, (char)c);
	}
	return r;
}

int hp_il_link_close(hp_il *il, const char *url)
{
	int r = close_to(il, 0);
	if (r == 0 && il->b.len && il->b.data[il->b.len - 1] == '[') {
		/* nothing inside: no link at all */
		il->b.len--;
		il->b.data[il->b.len] = '\0';
		return 0;
	}
	if (r == 0)
		r = hp_buf_addstr(&il->b, "](");
	if (r == 0)
		r = add_dest(&il->b, url);
	if (r == 0)
		r = hp_buf_addc(&il->b, ')');
	return r;
}

int hp_il_image(hp_il *il, const char *alt, const char *name)
{
	int r = hp_il_raw(il, "![");
	for (const char *p = alt ? alt : ""; *p && r == 0; p++) {
		char c = *p;
		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		if (c == '[' || c == ']' || c == '\\' || (c == '|' && il->in_table))
			r = hp_buf_addc(&il->b, '\\');
		if (r == 0)
			r = hp_buf_addc(&il->b, c);
	}
	if (r == 0)
		r = hp_buf_addstr(&il->b, "](");
	if (r == 0)
		r = add_dest(&il->b, name ? name : "");
	if (r == 0)
		r = hp_buf_addc(&il->b, ')');
	return r;
}

const char *hp_il_finish(hp_il *il, size_t *ret_len)
{
	close_to(il, 0);   /* -EFBIG here shows again at the next append */
	il->ws = 0;
	/* no hard break at the end */
	while (il->b.len >= 2 && il->b.data[il->b.len - 1] == '\n' && il->b.data[il->b.len - 2] == '\\') {
		il->b.len -= 2;
		il->b.data[il->b.len] = '\0';
	}
	while (il->b.len >= 4 && memcmp(il->b.data + il->b.len - 4, "<br>", 4) == 0) {
		il->b.len -= 4;
		il->b.data[il->b.len] = '\0';
	}
	if (ret_len)
		*ret_len = il->b.len;
	return il->b.data ? il->b.data : "";
}

/* ---- blocks ---------------------------------------------------------------- */

void hp_md_init(hp_md *m, size_t limit)
{
	memset(m, 0, sizeof(*m));
	hp_buf_init(&m->out, limit);
}

void hp_md_free(hp_md *m)
{
	hp_buf_free(&m->out);
}

static int md_sep(hp_md *m, int list_item)
{
	if (!m->out.len)
		return 0;
	return hp_buf_addstr(&m->out, list_item && m->last_list ? "\n" : "\n\n");
}

int hp_md_block(hp_md *m, const char *prefix, const char *text, size_t n, int list_item)
{
	int r = md_sep(m, list_item);
	if (r == 0)
		r = hp_buf_addstr(&m->out, prefix);
	int heading = prefix[0] == '#';
	size_t indent = list_item ? strlen(prefix) : 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (text[i] == '\n') {
			if (heading) {
				/* a heading is one line: "\\\n" becomes a space */
				if (m->out.len && m->out.data[m->out.len - 1] == '\\')
					m->out.data[--m->out.len] = '\0';
				r = hp_buf_addc(&m->out, ' ');
				continue;
			}
			r = hp_buf_addc(&m->out, '\n');
			for (size_t k = 0; k < indent && r == 0; k++)
				r = hp_buf_addc(&m->out, ' ');
			continue;
		}
		r = hp_buf_addc(&m->out, text[i]);
	}
	m->last_list = list_item;
	return r;
}

int hp_md_raw(hp_md *m, const char *s)
{
	int r = md_sep(m, 0);
	m->last_list = 0;
	return r < 0 ? r : hp_buf_addstr(&m->out, s);
}

int hp_md_finish(hp_md *m, hp_doc *doc, const hp_convert_limits *lim, char *err, size_t errlen)
{
	while (m->out.len && isspace((unsigned char)m->out.data[m->out.len - 1]))
		m->out.len--;
	if (m->out.data)
		m->out.data[m->out.len] = '\0';
	int r = m->out.len ? hp_buf_addc(&m->out, '\n') : 0;
	if (r == -EFBIG)
		return hp_conv_efbig(lim->max_output, err, errlen);
	if (r < 0)
		return r;
	size_t len = m->out.len;
	char *s = hp_buf_steal(&m->out);
	if (!s)
		return -ENOMEM;
	doc->markdown = s;
	doc->markdown_len = len;
	return 0;
}

/* ---- tables ------------------------------------------------------------------ */

void hp_tbl_init(hp_tbl *t, size_t limit)
{
	memset(t, 0, sizeof(*t));
	t->limit = limit ? limit : SIZE_MAX / 2;
}

void hp_tbl_free(hp_tbl *t)
{
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t c = 0; c < t->ncells[i]; c++)
			free(t->rows[i][c]);
		free(t->rows[i]);
	}
	free(t->rows);
	free(t->ncells);
	memset(t, 0, sizeof(*t));
}

int hp_tbl_row(hp_tbl *t)
{
	if (t->nrows == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		char ***rows = realloc(t->rows, nc * sizeof(*rows));
		if (!rows)
			return -ENOMEM;
		t->rows = rows;
		size_t *ncells = realloc(t->ncells, nc * sizeof(*ncells));
		if (!ncells)
			return -ENOMEM;
		t->ncells = ncells;
		t->cap = nc;
	}
	t->rows[t->nrows] = NULL;
	t->ncells[t->nrows] = 0;
	t->nrows++;
	return 0;
}

int hp_tbl_cell(hp_tbl *t, const char *s, size_t n)
{
	if (!t->nrows) {
		int r = hp_tbl_row(t);
		if (r < 0)
			return r;
	}
	size_t i = t->nrows - 1, c = t->ncells[i];
	if (n + 8 > t->limit - t->bytes)
		return -EFBIG;
	/* grow by powers of two */
	if ((c & (c - 1)) == 0) {
		size_t nc = c ? c * 2 : 4;
		char **cells = realloc(t->rows[i], nc * sizeof(*cells));
		if (!cells)
			return -ENOMEM;
		t->rows[i] = cells;
	}
	char *d = malloc(n + 1);
	if (!d)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++)
		d[k] = s[k] == '\n' || s[k] == '\r' ? ' ' : s[k];
	d[n] = '\0';
	t->rows[i][c] = d;
	t->ncells[i] = c + 1;
	t->bytes += n + 8;
	return 0;
}

const char *hp_tbl_get(const hp_tbl *t, size_t r, size_t c)
{
	if (r >= t->nrows || c >= t->ncells[r])
		return NULL;
	return t->rows[r][c];
}

int hp_tbl_emit(hp_tbl *t, hp_md *m)
{
	size_t cols = 0;
	for (size_t i = 0; i < t->nrows; i++)
		if (t->ncells[i] > cols)
			cols = t->ncells[i];
	if (!t->nrows || !cols)
		return 0;
	int r = md_sep(m, 0);
	m->last_list = 0;
	for (size_t i = 0; i < t->nrows && r == 0; i++) {
		r = hp_buf_addc(&m->out, '|');
		for (size_t c = 0; c < cols && r == 0; c++) {
			const char *s = hp_tbl_get(t, i, c);
			r = hp_buf_addf(&m->out, " %s |", s ? s : "");
		}
		if (r == 0)
			r = hp_buf_addc(&m->out, '\n');
		if (i == 0) {
			if (r == 0)
				r = hp_buf_addc(&m->out, '|');
			for (size_t c = 0; c < cols && r == 0; c++)
				r = hp_buf_addstr(&m->out, " --- |");
			if (r == 0)
				r = hp_buf_addc(&m->out, '\n');
		}
	}
	/* the block separator adds the blank line */
	if (r == 0 && m->out.len && m->out.data[m->out.len - 1] == '\n')
		m->out.data[--m->out.len] = '\0';
	return r;
}

/* ---- documents.meta ------------------------------------------------------- */

void hp_meta_init(hp_meta *mt)
{
	memset(mt, 0, sizeof(*mt));
}

void hp_meta_free(hp_meta *mt)
{
	free(mt->title);
	free(mt->author);
	free(mt->created);
	free(mt->lang);
	for (int i = 0; i < mt->nwarn; i++)
		free(mt->warn[i]);
	free(mt->warn);
}

int hp_meta_warn(hp_meta *mt, const char *fmt, ...)
{
	char s[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	if (mt->nwarn >= HP_WARN_MAX)
		return 0;    /* hp_doc_warn keeps no more either */
	char **v = realloc(mt->warn, (size_t)(mt->nwarn + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	mt->warn = v;
	if (!(v[mt->nwarn] = strdup(s)))
		return -ENOMEM;
	mt->nwarn++;
	return 0;
}

static int set_str(char **dst, hp_buf *b)
{
	/* trim */
	size_t a = 0, z = b->len;
	while (a < z && isspace((unsigned char)b->data[a]))
		a++;
	while (z > a && isspace((unsigned char)b->data[z - 1]))
		z--;
	if (z == a || *dst)
		return 0;
	*dst = strndup(b->data + a, z - a);
	return *dst ? 0 : -ENOMEM;
}

int hp_meta_ooxml(hp_meta *mt, hp_zip *z, const hp_convert_limits *lim, char *err, size_t errlen)
{
	static const char *const parts[] = { "docProps/core.xml", "docProps/app.xml" };
	hp_buf b;
	hp_buf_init(&b, 64 * 1024);
	int r = 0;
	for (size_t p = 0; p < HP_ARRAY_SIZE(parts); p++) {
		hp_xr *x;
		char e2[300] = "";
		r = hp_xr_open(z, parts[p], lim, 0, &x, e2, sizeof(e2));
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0)
			goto bad;
		while ((r = hp_xr_next(x)) > 0) {
			if (hp_xr_type(x) != HP_XR_START || hp_xr_depth(x) != 1)
				continue;
			enum hp_ns ns = hp_xr_ns(x);
			const char *ln = hp_xr_local(x);
			char **dst = NULL;
			int *num = NULL;
			if (ns == HP_NS_DC && strcmp(ln, "title") == 0)
				dst = &mt->title;
			else if (ns == HP_NS_DC && strcmp(ln, "creator") == 0)
				dst = &mt->author;
			else if (ns == HP_NS_DC && strcmp(ln, "language") == 0)
				dst = &mt->lang;
			else if (ns == HP_NS_DCTERMS && strcmp(ln, "created") == 0)
				dst = &mt->created;
			else if (ns == HP_NS_EP && strcmp(ln, "Pages") == 0)
				num = &mt->pages;
			if (!dst && !num)
				continue;
			hp_buf_reset(&b);
			if ((r = hp_xr_collect_text(x, &b)) < 0)
				break;
			if (dst && (r = set_str(dst, &b)) < 0)
				break;
			if (num && b.len)
				*num = atoi(b.data);
		}
		hp_xr_close(x);
	bad:
		if (r == -ENOMEM || r == -EFBIG) {
			/* a job limit: fail the job */
			hp_office_err(r, err, errlen, "%s", e2);
			break;
		}
		if (r < 0) {
			r = hp_meta_warn(mt, "metadata %s skipped: %s", parts[p], e2);
			if (r < 0)
				break;
		}
		r = 0;
	}
	hp_buf_free(&b);
	return r;
}

int hp_meta_finish(hp_meta *mt, hp_doc *doc)
{
	hp_buf j;
	hp_buf_init(&j, 0);
	int r = hp_buf_addc(&j, '{');
	const char *sep = "";
	const struct { const char *k; const char *v; } strs[] = {
		{ "author", mt->author }, { "created", mt->created }, { "lang", mt->lang },
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(strs) && r == 0; i++) {
		if (!strs[i].v)
			continue;
		r = hp_buf_addf(&j, "%s\"%s\": ", sep, strs[i].k);
		if (r == 0)
			r = hp_json_str(&j, strs[i].v);
		sep = ", ";
	}
	const struct { const char *k; int v; } nums[] = {
		{ "pages", mt->pages }, { "sheets", mt->sheets }, { "slides", mt->slides },
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(nums) && r == 0; i++) {
		if (nums[i].v <= 0)
			continue;
		r = hp_buf_addf(&j, "%s\"%s\": %d", sep, nums[i].k, nums[i].v);
		sep = ", ";
	}
	/* warnings: hp_convert() adds them to the object (hp_doc_warn) */
	for (int i = 0; r == 0 && i < mt->nwarn; i++)
		r = hp_doc_warn(doc, "%s", mt->warn[i]);
	if (r == 0)
		r = hp_buf_addc(&j, '}');
	if (r == 0 && !doc->title && mt->title)
		r = hp_title_from_line(mt->title, strlen(mt->title), HP_TITLE_MAX, &doc->title);
	if (r == 0 && mt->pages > 0)
		doc->pages = mt->pages;
	if (r == 0) {
		free(doc->meta_json);
		doc->meta_json = hp_buf_steal(&j);
		if (!doc->meta_json)
			r = -ENOMEM;
	}
	hp_buf_free(&j);
	return r;
}
