/* pdf-layout.c — from positioned text segments to Markdown, see pdf-int.h.
 *
 * Steps, per document:
 *   1. running headers, footers and page numbers: segments in the top or
 *      bottom margin whose text (digits folded) repeats on many pages are
 *      dropped after their first page; bare page numbers on every page;
 *   2. the body size: the font size most characters have;
 *   3. per page: a column gutter (an empty vertical strip with prose on
 *      both sides) splits the page into bands; full-width bands are read
 *      as they come, two-column bands left column then right column;
 *   4. per flow: segments on one baseline become a row of cells; runs of
 *      rows with two or more aligned cells become pipe tables; other rows
 *      are lines, joined into paragraphs (gaps, indents, short last lines
 *      and font changes end a paragraph; a hyphen at a line end joins the
 *      word), list items (bullets, "1." markers) and headings;
 *   5. heading levels: larger sizes rank higher (# for the largest), a
 *      bold line at body size that stands alone is the level below them.
 * Nothing here knows MuPDF; pdf.c fills the model. Step 1 is
 * pdf-running.c, tables are pdf-table.c, step 5 and the Markdown text are
 * pdf-markdown.c; this file holds the flow: columns, lines, paragraphs.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "pdf-layout.h"

/* ---- the page model --------------------------------------------------------- */

int hp_pdf_page_add_seg(hp_pdf_page *p, const hp_pdf_seg *seg, const char *s, size_t n)
{
	if (p->n_segs == p->cap_segs) {
		size_t c = p->cap_segs ? p->cap_segs * 2 : 64;
		hp_pdf_seg *ns = realloc(p->segs, c * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		p->segs = ns;
		p->cap_segs = c;
	}
	if (p->text_cap - p->text_len < n + 1) {
		size_t c = p->text_cap ? p->text_cap : 1024;
		while (c - p->text_len < n + 1)
			c *= 2;
		char *nt = realloc(p->text, c);
		if (!nt)
			return -ENOMEM;
		p->text = nt;
		p->text_cap = c;
	}
	hp_pdf_seg *d = &p->segs[p->n_segs++];
	*d = *seg;
	d->text = (uint32_t)p->text_len;
	d->len = (uint32_t)n;
	memcpy(p->text + p->text_len, s, n);
	p->text_len += n;
	p->text[p->text_len] = '\0';
	return 0;
}

int hp_pdf_page_add_rule(hp_pdf_page *p, const hp_pdf_rule *rule)
{
	if (p->n_rules == p->cap_rules) {
		size_t c = p->cap_rules ? p->cap_rules * 2 : 32;
		hp_pdf_rule *nr = realloc(p->rules, c * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		p->rules = nr;
		p->cap_rules = c;
	}
	p->rules[p->n_rules++] = *rule;
	return 0;
}

void hp_pdf_page_free(hp_pdf_page *p)
{
	free(p->ocr_text);
	free(p->ocr_note);
	free(p->segs);
	free(p->rules);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

/* ---- small text helpers ------------------------------------------------------ */

const char *hp_pdf_seg_text(const hp_pdf_page *p, const hp_pdf_seg *s)
{
	return p->text + s->text;
}

/* Is s[0..n) a bare page number: "7", "- 7 -", "Page 7", "7 of 12",
 * "Page 7 of 12", "7/12", "iv"? */
int hp_pdf_is_page_number(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '-'))
		i++;
	if (n - i >= 4 && strncasecmp(s + i, "page", 4) == 0) {
		i += 4;
		while (i < n && (s[i] == ' ' || s[i] == '.'))
			i++;
	}
	size_t d = i;
	while (i < n && isdigit((unsigned char)s[i]))
		i++;
	if (i == d) {
		/* roman numerals, lower case only (front matter) */
		while (i < n && strchr("ivxlc", s[i]))
			i++;
		if (i == d || i - d > 6)
			return 0;
	} else if (i - d > 4)
		return 0;
	while (i < n && s[i] == ' ')
		i++;
	if (i < n && (s[i] == '/' || (n - i >= 2 && strncasecmp(s + i, "of", 2) == 0))) {
		i += s[i] == '/' ? 1 : 2;
		while (i < n && s[i] == ' ')
			i++;
		size_t e = i;
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
		if (i == e)
			return 0;
	}
	while (i < n && (s[i] == ' ' || s[i] == '-'))
		i++;
	return i == n;
}

/* UTF-8 bullets and dashes that start list items. */
static size_t bullet_len(const char *s, size_t n)
{
	static const char *const bullets[] = {
		"\xe2\x80\xa2", /* • */ "\xe2\x97\x8f", /* ● */ "\xe2\x97\x8b", /* ○ */
		"\xe2\x97\xa6", /* ◦ */ "\xe2\x96\xaa", /* ▪ */ "\xe2\x96\xa0", /* ■ */
		"\xe2\x96\xa1", /* □ */ "\xe2\x80\xa3", /* ‣ */ "\xe2\x81\x83", /* ⁃ */
		"\xe2\x80\x93", /* – */ "\xc2\xb7",     /* · */ "\xef\x82\xb7", /*  (Symbol) */
		"\xef\x82\xa7", /*  */ "\xef\x83\x98", /*  */ "\xe2\x9e\xa2", /* ➢ */
		"\xe2\x9c\x93", /* ✓ */ "-", "*",
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(bullets); i++) {
		size_t l = strlen(bullets[i]);
		if (l <= n && memcmp(s, bullets[i], l) == 0)
			return l;
	}
	return 0;
}

/* A list marker at the start of s: returns its length (without the space
 * after it) and whether it is ordered; 0 when there is none. A marker
 * alone (n == length) counts too: the text may be in the next cell. */
static size_t list_marker(const char *s, size_t n, int *ordered)
{
	size_t b = bullet_len(s, n);
	if (b && (b == n || s[b] == ' ')) {
		/* "-5" or "- 5" alone is a number, not an item */
		if (b == 1 && n > 2 && isdigit((unsigned char)s[2]) && s[0] == '-')
			return 0;
		*ordered = 0;
		return b;
	}
	size_t i = 0;
	size_t d = i;
	while (i < n && i - d < 3 && isdigit((unsigned char)s[i]))
		i++;
	if (i == d) {
		/* a single lower-case letter: "a)" "b." ("A." is an initial) */
		if (i < n && islower((unsigned char)s[i]) && i + 1 < n && (s[i + 1] == ')' || s[i + 1] == '.') &&
		    (i + 2 == n || s[i + 2] == ' ')) {
			*ordered = 0;
			return i + 2;
		}
		return 0;
	}
	if (i < n && (s[i] == '.' || s[i] == ')') && (i + 1 == n || s[i + 1] == ' ')) {
		*ordered = 1;  /* "1." and "1)"; "(1)" is running text */
		return i + 1;
	}
	return 0;
}

/* A section number on its own: "1.2", ".1", "3." (a cell before a title). */
static int is_section_number(const char *s, size_t n)
{
	int digits = 0, dots = 0;
	for (size_t i = 0; i < n; i++) {
		if (isdigit((unsigned char)s[i]))
			digits++;
		else if (s[i] == '.')
			dots++;
		else
			return 0;
	}
	return digits && dots;
}

/* ---- body size --------------------------------------------------------------- */

static float body_size(const hp_pdf_page *pages, size_t n)
{
	/* histogram in half points up to 200 pt */
	enum { NB = 400 };
	size_t hist[NB] = { 0 };
	for (size_t p = 0; p < n; p++)
		for (size_t i = 0; i < pages[p].n_segs; i++) {
			const hp_pdf_seg *s = &pages[p].segs[i];
			if (s->flags & (HP_PDF_DROPPED | HP_PDF_ROTATED))
				continue;
			int b = (int)lroundf(s->size * 2);
			if (b >= 0 && b < NB)
				hist[b] += s->len;
		}
	size_t best = 0;
	int bi = 20;  /* 10 pt when there is nothing */
	for (int b = 1; b < NB; b++)
		if (hist[b] > best) {
			best = hist[b];
			bi = b;
		}
	return (float)bi / 2;
}

/* ---- per-page work area ------------------------------------------------------ */

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	void *np = realloc(*p, c * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = c;
	return 0;
}

/* ---- hyphenated words of the document ---------------------------------------- */

static int word_byte(unsigned char c)
{
	return isalpha(c) || c >= 0x80;
}

static uint64_t word_hash(const char *a, size_t na, const char *b, size_t nb)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < na + 1 + nb; i++) {
		unsigned char c = i < na ? (unsigned char)a[i] : i == na ? '-' : (unsigned char)b[i - na - 1];
		h = (h ^ (unsigned char)tolower(c)) * 1099511628211ull;
	}
	return h ? h : 1;
}

static int hyph_has(const layout *L, uint64_t h)
{
	if (!L->hyph_cap)
		return 0;
	for (size_t i = h & (L->hyph_cap - 1);; i = (i + 1) & (L->hyph_cap - 1)) {
		if (L->hyph[i] == h)
			return 1;
		if (L->hyph[i] == 0)
			return 0;
	}
}

/* Collect "word-word" as written inside lines (not at their ends). */
static int collect_hyphenated(layout *L, const hp_pdf_page *pages, size_t n)
{
	size_t count = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if (count == 0)
				return 0;
			size_t cap = 16;
			while (cap < count * 2)
				cap *= 2;
			L->hyph = calloc(cap, sizeof(uint64_t));
			if (!L->hyph)
				return -ENOMEM;
			L->hyph_cap = cap;
		}
		for (size_t p = 0; p < n; p++)
			for (size_t i = 0; i < pages[p].n_segs; i++) {
				const hp_pdf_seg *sg = &pages[p].segs[i];
				const char *t = hp_pdf_seg_text(&pages[p], sg);
				for (size_t k = 1; k + 1 < sg->len; k++) {
					if (t[k] != '-' || !word_byte((unsigned char)t[k - 1]) ||
					    !word_byte((unsigned char)t[k + 1]))
						continue;
					if (pass == 0) {
						count++;
						continue;
					}
					size_t a = k, b = k + 1;
					while (a > 0 && word_byte((unsigned char)t[a - 1]))
						a--;
					while (b < sg->len && word_byte((unsigned char)t[b]))
						b++;
					uint64_t h = word_hash(t + a, k - a, t + k + 1, b - k - 1);
					size_t j = h & (L->hyph_cap - 1);
					while (L->hyph[j] && L->hyph[j] != h)
						j = (j + 1) & (L->hyph_cap - 1);
					L->hyph[j] = h;
				}
			}
	}
	return 0;
}

/* ---- blocks ---------------------------------------------------------- */

block *hp_pdf_new_block(layout *L, int type)
{
	if (grow((void **)&L->blocks, &L->cap_blocks, L->n_blocks, sizeof(block)) < 0)
		return NULL;
	block *b = &L->blocks[L->n_blocks++];
	memset(b, 0, sizeof(*b));
	b->type = type;
	b->page = L->page_no;
	b->text = (uint32_t)L->arena.len;
	return b;
}

/* ---- columns ------------------------------------------------------------------- */

static const hp_pdf_page *sort_page;

static int cmp_seg_y(const void *a, const void *b)
{
	const hp_pdf_seg *x = &sort_page->segs[*(const uint32_t *)a];
	const hp_pdf_seg *y = &sort_page->segs[*(const uint32_t *)b];
	float cx = (x->y0 + x->y1) / 2, cy = (y->y0 + y->y1) / 2;
	if (cx != cy)
		return cx < cy ? -1 : 1;
	return (x->x0 > y->x0) - (x->x0 < y->x0);
}

/* Find a column gutter: an x range no text of the middle of the page
 * covers, with prose lines on both sides. 0 and the gutter (g0, g1) when found. */
static int find_gutter(const hp_pdf_page *pg, const uint32_t *idx, size_t n, float *g0, float *g1)
{
	if (n < 10)
		return -1;
	float L = 1e9f, R = -1e9f;
	for (size_t i = 0; i < n; i++) {
		const hp_pdf_seg *s = &pg->segs[idx[i]];
		if (s->x0 < L)
			L = s->x0;
		if (s->x1 > R)
			R = s->x1;
	}
	float W = R - L;
	if (W < 150)
		return -1;
	enum { NB = 1000 };
	uint16_t cover[NB] = { 0 };
	float scale = NB / W;
	for (size_t i = 0; i < n; i++) {
		const hp_pdf_seg *s = &pg->segs[idx[i]];
		if (s->x1 - s->x0 > 0.6f * W)
			continue;
		int a = (int)((s->x0 - L) * scale), b = (int)((s->x1 - L) * scale);
		for (int k = a < 0 ? 0 : a; k <= b && k < NB; k++)
			if (cover[k] < UINT16_MAX)
				cover[k]++;
	}
	unsigned thresh = (unsigned)(n / 40) + 1;
	int best_a = -1, best_len = 0;
	for (int k = NB * 3 / 10; k < NB * 7 / 10;) {
		if (cover[k] > thresh) {
			k++;
			continue;
		}
		int a = k;
		while (k < NB * 7 / 10 && cover[k] <= thresh)
			k++;
		if (k - a > best_len) {
			best_len = k - a;
			best_a = a;
		}
	}
	if (best_a < 0 || best_len / scale < 6.0f)
		return -1;
	float a = L + best_a / scale, b = L + (best_a + best_len) / scale;
	/* prose on both sides: lines wider than a fifth of the text width */
	int left = 0, right = 0;
	for (size_t i = 0; i < n; i++) {
		const hp_pdf_seg *s = &pg->segs[idx[i]];
		if (s->x1 - s->x0 < 0.2f * W)
			continue;
		if (s->x1 <= a + 1)
			left++;
		else if (s->x0 >= b - 1)
			right++;
	}
	if (left < 5 || right < 5)
		return -1;
	*g0 = a;
	*g1 = b;
	return 0;
}

/* ---- rows and cells ------------------------------------------------------------ */

static int add_cell(layout *L, const hp_pdf_seg *s)
{
	if (grow((void **)&L->cells, &L->cap_cells, L->n_cells, sizeof(cell)) < 0)
		return -ENOMEM;
	cell *c = &L->cells[L->n_cells++];
	c->x0 = s->x0, c->y0 = s->y0, c->x1 = s->x1, c->y1 = s->y1;
	c->size = s->size;
	c->base = s->base;
	c->flags = s->flags;
	c->text = (uint32_t)L->arena.len;
	c->len = s->len;
	return hp_buf_add(&L->arena, hp_pdf_seg_text(L->pg, s), s->len);
}

/* Append cell b to cell a (a is the last cell in the arena). */
static int merge_cell(layout *L, cell *a, const hp_pdf_seg *s)
{
	int r = hp_buf_addc(&L->arena, ' ');
	if (r == 0)
		r = hp_buf_add(&L->arena, hp_pdf_seg_text(L->pg, s), s->len);
	if (r < 0)
		return r;
	a->len += 1 + s->len;
	if (s->x1 > a->x1)
		a->x1 = s->x1;
	if (s->y0 < a->y0)
		a->y0 = s->y0;
	if (s->y1 > a->y1)
		a->y1 = s->y1;
	if (s->len > a->len / 2 && s->size > a->size)
		a->size = s->size;
	if (!(s->flags & HP_PDF_BOLD))
		a->flags &= ~HP_PDF_BOLD;
	return 0;
}

static int cmp_seg_x(const void *a, const void *b)
{
	const hp_pdf_seg *x = &sort_page->segs[*(const uint32_t *)a];
	const hp_pdf_seg *y = &sort_page->segs[*(const uint32_t *)b];
	return (x->x0 > y->x0) - (x->x0 < y->x0);
}

/* Group the flow's segments (sorted by vertical centre) into lines of
 * cells. */
static int build_lines(layout *L, uint32_t *idx, size_t n)
{
	L->n_lines = 0;
	L->n_cells = 0;
	for (size_t i = 0; i < n;) {
		const hp_pdf_seg *first = &L->pg->segs[idx[i]];
		float h0 = first->y1 - first->y0;
		size_t j = i + 1;
		while (j < n) {
			const hp_pdf_seg *s = &L->pg->segs[idx[j]];
			float h = s->y1 - s->y0, hx = h > h0 ? h : h0;
			float ov = (s->y1 < first->y1 ? s->y1 : first->y1) - (s->y0 > first->y0 ? s->y0 : first->y0);
			float sx = s->size > first->size ? s->size : first->size;
			/* one row: about the same baseline (a superscript is
			 * within 0.4 em of its line's), or boxes that mostly
			 * overlap each other; a tall glyph such as a big bullet
			 * must not pull in the line above or below it */
			if (!(fabsf(s->base - first->base) <= 0.4f * sx || ov >= 0.7f * hx))
				break;
			j++;
		}
		sort_page = L->pg;
		qsort(idx + i, j - i, sizeof(*idx), cmp_seg_x);
		if (grow((void **)&L->lines, &L->cap_lines, L->n_lines, sizeof(line)) < 0)
			return -ENOMEM;
		line *ln = &L->lines[L->n_lines++];
		memset(ln, 0, sizeof(*ln));
		ln->cell = (uint32_t)L->n_cells;
		for (size_t k = i; k < j; k++) {
			const hp_pdf_seg *s = &L->pg->segs[idx[k]];
			cell *prev = ln->n_cells ? &L->cells[L->n_cells - 1] : NULL;
			int ord, r;
			float sz = prev && prev->size > s->size ? prev->size : s->size;
			const char *pt = prev ? arena_at(L, prev->text) : NULL;
			int marker = prev && ln->n_cells == 1 && prev->len <= 6 &&
			             ((list_marker(pt, prev->len, &ord) == prev->len &&
			               (bullet_len(pt, prev->len) || j - i == 2)) ||
			              (j - i == 2 && is_section_number(pt, prev->len)));
			if (prev && (s->x0 - prev->x1 < 0.4f * sz || marker))
				r = merge_cell(L, prev, s);
			else {
				r = add_cell(L, s);
				ln->n_cells++;
			}
			if (r < 0)
				return r;
		}
		/* the line's box, size (of its longest cell) and style */
		ln->flags = HP_PDF_BOLD;
		uint32_t longest = 0;
		for (uint32_t c = 0; c < ln->n_cells; c++) {
			cell *ce = &L->cells[ln->cell + c];
			if (c == 0 || ce->x0 < ln->x0)
				ln->x0 = ce->x0;
			if (c == 0 || ce->x1 > ln->x1)
				ln->x1 = ce->x1;
			if (c == 0 || ce->y0 < ln->y0)
				ln->y0 = ce->y0;
			if (c == 0 || ce->y1 > ln->y1)
				ln->y1 = ce->y1;
			if (ce->len > longest) {
				longest = ce->len;
				ln->size = ce->size;
				ln->base = ce->base;
			}
			if (!(ce->flags & HP_PDF_BOLD))
				ln->flags &= ~HP_PDF_BOLD;
			ln->flags |= ce->flags & HP_PDF_MONO;
		}
		i = j;
	}
	return 0;
}

/* ---- paragraphs, list items ---------------------------------------------------- */

/* Append line ln's text (its cells joined by spaces) to the block being
 * built, which ends the arena. Joins a word hyphenated across lines. */
static int append_line(layout *L, const line *ln, size_t skip)
{
	hp_buf *o = &L->arena;
	block *bl = &L->blocks[L->n_blocks - 1];
	int r = 0;
	for (uint32_t c = 0; c < ln->n_cells && r == 0; c++) {
		const cell *ce = &L->cells[ln->cell + c];
		size_t off = ce->text, n = ce->len;
		if (c == 0) {
			off += skip;
			n -= skip;
			while (n && o->data[off] == ' ')
				off++, n--;
		}
		if (n == 0)
			continue;
		/* room first, so the pointers below stay valid */
		if ((r = hp_buf_reserve(o, n + 1)) < 0)
			break;
		const char *s = o->data + off;
		size_t have = o->len - bl->text;
		if (have) {
			const char *e = o->data + o->len;
			int hyph = have >= 2 && e[-1] == '-' && isalpha((unsigned char)e[-2]) &&
			           islower((unsigned char)s[0]);
			if (hyph) {
				/* "recon-" + "struction" loses its hyphen; it stays in
				 * "state-of-the-" + "art" and in words the document
				 * writes with a hyphen elsewhere ("chat-optimized") */
				const char *w = e - 2;
				while (w > o->data + bl->text && w[-1] != ' ')
					w--;
				const char *h0 = e - 1;   /* the word part before the hyphen */
				while (h0 > w && word_byte((unsigned char)h0[-1]))
					h0--;
				size_t tl = 0;
				while (tl < n && word_byte((unsigned char)s[tl]))
					tl++;
				int known = hyph_has(L, word_hash(h0, (size_t)(e - 1 - h0), s, tl));
				if (!known && !memchr(w, '-', (size_t)(e - 1 - w)))
					o->len--;
			} else if (have >= 2 && (unsigned char)e[-2] == 0xC2 && (unsigned char)e[-1] == 0xAD) {
				o->len -= 2;  /* soft hyphen */
			} else
				o->data[o->len++] = ' ';
		}
		memmove(o->data + o->len, s, n);
		o->len += n;
		o->data[o->len] = '\0';
	}
	bl->len = (uint32_t)(o->len - bl->text);
	return r;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* The usual distance between baselines in lines[a..b) (the median of
 * neighbours of about the same size), or 0 when there are too few. */
static float typical_pitch(const layout *L, size_t a, size_t b)
{
	float v[256];
	size_t n = 0;
	for (size_t i = a + 1; i < b && n < HP_ARRAY_SIZE(v); i++) {
		const line *p = &L->lines[i - 1], *l = &L->lines[i];
		float d = l->base - p->base;
		if (d > 0.5f * l->size && d < 3 * l->size && fabsf(l->size - p->size) < 0.5f)
			v[n++] = d;
	}
	if (n < 3)
		return 0;
	qsort(v, n, sizeof(float), cmp_float);
	return v[n / 2];
}

/* Lines of one flow (no tables among them) to paragraphs and items. */
static int flow_text(layout *L, size_t a, size_t b, float fx0, float fx1)
{
	float fw = fx1 - fx0;
	block *cur = NULL;
	const line *prev = NULL;
	float item_x = 0;
	float typical = typical_pitch(L, a, b);
	for (size_t i = a; i < b; i++) {
		const line *ln = &L->lines[i];
		const cell *c0 = &L->cells[ln->cell];
		const char *s = arena_at(L, c0->text);
		int ordered = 0;
		size_t mk = list_marker(s, c0->len, &ordered);
		/* a lone dash or star with nothing after it is no item */
		if (mk && mk == c0->len && ln->n_cells == 1)
			mk = 0;
		int brk = !cur || !prev;
		if (!brk) {
			float pitch = ln->base - prev->base;
			float sz = prev->size;
			float ratio = ln->size > sz ? ln->size / sz : sz / ln->size;
			float usual = typical > 0 ? typical : 1.2f * sz;
			char end = L->arena.data[L->blocks[L->n_blocks - 1].text + L->blocks[L->n_blocks - 1].len - 1];
			int sentence = end == '.' || end == ':' || end == '!' || end == '?' || end == ')';
			int short_prev = prev->x1 < fx1 - 0.15f * fw || (sentence && prev->x1 < fx1 - 2.5f * sz);
			if (ratio > 1.1f)
				brk = 1;
			else if ((ln->flags & HP_PDF_BOLD) != (prev->flags & HP_PDF_BOLD))
				brk = 1;
			else if (pitch > 1.3f * usual + 0.5f || pitch > 2.2f * sz || pitch < 0.3f * sz)
				brk = 1;   /* a gap (or a line above the previous one) */
			else if (mk)
				brk = 1;
			else if (cur->type == B_ITEM)
				brk = short_prev || ln->x0 < item_x - 0.5f * sz;
			else if (short_prev)
				brk = 1;   /* the previous line ended short */
			else if (ln->x0 > prev->x0 + 0.8f * sz && cur->n_lines > 1)
				brk = 1;   /* first-line indent (on a paragraph's 2nd line it is a hanging indent) */
		}
		if (brk) {
			cur = hp_pdf_new_block(L, mk ? B_ITEM : B_PARA);
			if (!cur)
				return -ENOMEM;
			cur->size = ln->size;
			cur->flags = ln->flags;
			if (mk) {
				/* nesting from the marker's x */
				int d = 0;
				while (d < L->list_depth && c0->x0 > L->list_x[d] + 0.5f * ln->size)
					d++;
				if (d < (int)HP_ARRAY_SIZE(L->list_x)) {
					L->list_x[d] = c0->x0;
					L->list_depth = d + 1;
				}
				cur->depth = d;
				if (ordered) {
					/* digits, then "." (CommonMark keeps the number) */
					size_t m = mk - 1 < sizeof(cur->marker) - 2 ? mk - 1 : sizeof(cur->marker) - 2;
					memcpy(cur->marker, s, m);
					cur->marker[m] = '.';
					cur->marker[m + 1] = '\0';
				} else if (mk <= 3 && bullet_len(s, c0->len) == mk) {
					strcpy(cur->marker, "-");
				} else {
					strcpy(cur->marker, "-");
					mk = 0;  /* "a)" stays in the text */
				}
				item_x = c0->x0;
			} else
				L->list_depth = 0;
		} else {
			cur->n_lines++;
			if (!(ln->flags & HP_PDF_BOLD))
				cur->flags &= ~HP_PDF_BOLD;
		}
		int r = append_line(L, ln, brk && mk ? mk : 0);
		if (r < 0)
			return r;
		cur = &L->blocks[L->n_blocks - 1];
		if (brk)
			cur->n_lines = 1;
		prev = ln;
	}
	return 0;
}

/* One flow: its lines, with table runs cut out. */
static int do_flow(layout *L, uint32_t *idx, size_t n)
{
	if (n == 0)
		return 0;
	sort_page = L->pg;
	qsort(idx, n, sizeof(*idx), cmp_seg_y);
	int r = build_lines(L, idx, n);   /* resets cells and lines */
	if (r < 0)
		return r;
	float fx0 = 1e9f, fx1 = -1e9f;
	for (size_t i = 0; i < L->n_lines; i++) {
		if (L->lines[i].x0 < fx0)
			fx0 = L->lines[i].x0;
		if (L->lines[i].x1 > fx1)
			fx1 = L->lines[i].x1;
	}
	size_t start = 0;
	for (size_t i = 0; i < L->n_lines;) {
		if (L->lines[i].n_cells < 2) {
			i++;
			continue;
		}
		size_t j = i + 1, row = i;  /* row: the last line of 2+ cells */
		for (;;) {
			if (j >= L->n_lines || L->lines[j].y0 - L->lines[j - 1].y1 >= 2.5f * L->lines[j].size)
				break;
			if (L->lines[j].n_cells >= 2) {
				row = j++;
				continue;
			}
			/* a wrapped cell: one cell right of the row's first cell,
			 * tight under the line above, or in a ruled table with no
			 * rule between them */
			const line *w = &L->lines[j], *rl = &L->lines[row];
			int tight = w->y0 - L->lines[j - 1].y1 < 0.35f * w->size;
			int ruled = hp_pdf_rule_between(L->pg, rl->x0, rl->x1, rl->y0 - 1.5f * rl->size, rl->y0) &&
			            !hp_pdf_rule_between(L->pg, rl->x0, rl->x1, L->lines[j - 1].y1, w->y0);
			if ((tight || ruled) && w->x0 > L->cells[rl->cell].x1)
				j++;
			else
				break;
		}
		if (j - i >= 2) {
			/* the text before goes out first; lines i.. then come
			 * as a table or, when they are none, as text */
			r = flow_text(L, start, i, fx0, fx1);
			if (r < 0)
				return r;
			start = i;
			r = hp_pdf_try_table(L, i, j, fx0, fx1);
			if (r < 0)
				return r;
			if (r == 1) {
				start = j;
				i = j;
				continue;
			}
		}
		i = j;
	}
	return flow_text(L, start, L->n_lines, fx0, fx1);
}

/* A page read by OCR: one block with Tesseract's text. */
static int ocr_block(layout *L)
{
	const hp_pdf_page *pg = L->pg;
	block *bl = hp_pdf_new_block(L, B_OCR);
	if (!bl)
		return -ENOMEM;
	bl->level = pg->ocr_confidence;
	snprintf(bl->marker, sizeof bl->marker, "%s", pg->ocr_lang ? pg->ocr_lang : "?");
	bl->depth = pg->ocr_timed_out;
	size_t tl = strlen(pg->ocr_text);
	int r = hp_buf_add(&L->arena, pg->ocr_text, tl);
	if (r == 0)
		L->blocks[L->n_blocks - 1].len = (uint32_t)tl;
	return r;
}

/* A page without text that OCR skipped: the reason, where its text would be. */
static int ocr_note_block(layout *L)
{
	if (!hp_pdf_new_block(L, B_NOTE))
		return -ENOMEM;
	size_t tl = strlen(L->pg->ocr_note);
	int r = hp_buf_add(&L->arena, L->pg->ocr_note, tl);
	if (r == 0)
		L->blocks[L->n_blocks - 1].len = (uint32_t)tl;
	return r;
}

static int crosses(const hp_pdf_seg *s, float g0, float g1)
{
	return s->x0 < g0 - 1 && s->x1 > g1 + 1;
}

/* Is idx[j] the short last line of the full-width paragraph that ends at
 * idx[j - 1] (it does not reach the gutter, so it would be read as the
 * left column's first line)? Yes when it is the next line at the same
 * size and left edge and nothing else is on its baseline. */
static int span_last_line(const hp_pdf_page *pg, const uint32_t *idx, size_t j, size_t n, float g0)
{
	const hp_pdf_seg *s = &pg->segs[idx[j]], *prev = &pg->segs[idx[j - 1]];
	float step = s->base - prev->base;
	if (s->x1 > g0 + 1 || fabsf(s->x0 - prev->x0) > 1 || fabsf(s->size - prev->size) > 0.5f ||
	    step < 0.5f * s->size || step > 1.6f * s->size)
		return 0;
	return j + 1 >= n || fabsf(pg->segs[idx[j + 1]].base - s->base) > s->size / 2;
}

/* A page with a column gutter [g0, g1]: bands of segments that do not
 * cross it are read left column then right column; segments across it
 * (a title, a full-width figure caption, a paragraph with its short last
 * line) are a band of their own. */
static int column_bands(layout *L, uint32_t *idx, size_t n, float g0, float g1)
{
	const hp_pdf_page *pg = L->pg;
	sort_page = pg;
	qsort(idx, n, sizeof(*idx), cmp_seg_y);
	uint32_t *tmp = malloc((n + 1) * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	int r = 0;
	float mid = (g0 + g1) / 2;
	for (size_t i = 0, j; i < n && r == 0; i = j) {
		int span = crosses(&pg->segs[idx[i]], g0, g1);
		size_t nt = 0;
		for (j = i; j < n && crosses(&pg->segs[idx[j]], g0, g1) == span; j++)
			if (span || pg->segs[idx[j]].x1 <= mid)
				tmp[nt++] = idx[j];
		if (span && j < n && span_last_line(pg, idx, j, n, g0))
			tmp[nt++] = idx[j++];
		r = do_flow(L, tmp, nt);
		if (span || r < 0)
			continue;
		nt = 0;
		for (size_t k = i; k < j; k++)
			if (pg->segs[idx[k]].x1 > mid)
				tmp[nt++] = idx[k];
		r = do_flow(L, tmp, nt);
	}
	free(tmp);
	return r;
}

/* Rotated text (margin stamps, vertical labels): a paragraph each, after
 * the page's text, never a heading. */
static int rotated(layout *L)
{
	const hp_pdf_page *pg = L->pg;
	int r = 0;
	for (size_t i = 0; i < pg->n_segs && r == 0; i++) {
		const hp_pdf_seg *s = &pg->segs[i];
		if (!(s->flags & HP_PDF_ROTATED) || !s->len || (s->flags & HP_PDF_DROPPED))
			continue;
		block *bl = hp_pdf_new_block(L, B_PARA);
		if (!bl)
			return -ENOMEM;
		bl->size = 0;
		bl->n_lines = 1;
		r = hp_buf_add(&L->arena, hp_pdf_seg_text(pg, s), s->len);
		if (r == 0)
			L->blocks[L->n_blocks - 1].len = s->len;
	}
	return r;
}

static int layout_page(layout *L)
{
	hp_pdf_page *pg = L->pg;
	if (!hp_pdf_new_block(L, B_PAGE))
		return -ENOMEM;
	L->list_depth = 0;
	if (pg->ocr_text)
		return ocr_block(L);
	if (pg->ocr_note && pg->n_segs == 0) {
		L->info->pages_without_text++;
		return ocr_note_block(L);
	}
	uint32_t *idx = realloc(L->idx, (pg->n_segs + 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	L->idx = idx;
	size_t n = 0, n_rot = 0, chars = 0;
	for (size_t i = 0; i < pg->n_segs; i++) {
		const hp_pdf_seg *s = &pg->segs[i];
		chars += s->len;
		if (s->len == 0 || (s->flags & HP_PDF_DROPPED))
			continue;
		if (s->flags & HP_PDF_ROTATED)
			n_rot++;
		else
			idx[n++] = (uint32_t)i;
	}
	if (chars == 0)
		L->info->pages_without_text++;
	float g0, g1;
	int r = find_gutter(pg, idx, n, &g0, &g1) == 0 ? column_bands(L, idx, n, g0, g1) : do_flow(L, idx, n);
	if (r == 0 && n_rot)
		r = rotated(L);
	return r;
}

static int pick_title(layout *L, float body)
{
	const block *best = NULL;
	for (size_t i = 0; i < L->n_blocks; i++) {
		const block *b = &L->blocks[i];
		if (b->page > 1)
			break;
		if (b->type != B_PARA || b->len == 0 || b->len > 300)
			continue;   /* (OCR pages have no sizes: no title from them) */
		if (!best || b->size > best->size + 0.1f)
			best = b;
	}
	if (!best || best->size < body * 1.1f)
		return 0;
	char *t = strndup(arena_at(L, best->text), best->len);
	if (!t)
		return -ENOMEM;
	L->info->title = t;
	return 0;
}

int hp_pdf_layout(hp_pdf_page *pages, size_t n, hp_buf *out, hp_pdf_layout_info *info)
{
	layout L = { .info = info };
	hp_buf_init(&L.arena, 0);
	int r = hp_pdf_drop_running(pages, n, info);
	if (r == 0)
		r = collect_hyphenated(&L, pages, n);
	if (r < 0)
		goto out;
	L.body = info->body_size = body_size(pages, n);
	/* blocks keep their text in the arena; the per-flow cell texts are
	 * written there too and stay (a little waste, one buffer) */
	for (size_t p = 0; p < n && r == 0; p++) {
		L.pg = &pages[p];
		L.page_no = (int)p + 1;
		r = layout_page(&L);
	}
	if (r < 0)
		goto out;
	hp_pdf_assign_levels(&L, L.body);
	for (size_t i = 0; i < L.n_blocks; i++) {
		const block *b = &L.blocks[i];
		if (b->type == B_ITEM && (i == 0 || L.blocks[i - 1].type != B_ITEM))
			info->lists++;
		if (b->type == B_PARA || b->type == B_ITEM || b->type == B_OCR)
			for (uint32_t k = 0; k < b->len; k++)
				info->chars += L.arena.data[b->text + k] != ' ';
	}
	r = pick_title(&L, L.body);
	if (r == 0)
		r = hp_pdf_emit(&L, out);
out:
	hp_buf_free(&L.arena);
	free(L.cells);
	free(L.lines);
	free(L.blocks);
	free(L.idx);
	free(L.hyph);
	return r;
}
