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
 * Nothing here knows MuPDF; pdf.c fills the model.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "pdf-int.h"

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
	free(p->segs);
	free(p->rules);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

/* ---- small text helpers ------------------------------------------------------ */

static const char *seg_text(const hp_pdf_page *p, const hp_pdf_seg *s)
{
	return p->text + s->text;
}

/* Is s[0..n) a bare page number: "7", "- 7 -", "Page 7", "7 of 12",
 * "Page 7 of 12", "7/12", "iv"? */
static int is_page_number(const char *s, size_t n)
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

/* ---- running headers and footers ----------------------------------------- */

typedef struct margin_key {
	uint64_t hash;
	uint32_t page, seg;
} margin_key;

static uint64_t fold_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a, digits folded to '#' */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isdigit(c))
			c = '#';
		h = (h ^ c) * 1099511628211ull;
	}
	return h;
}

static int cmp_key(const void *a, const void *b)
{
	const margin_key *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return (x->seg > y->seg) - (x->seg < y->seg);
}

#define MARGIN_FRAC 0.12f

/* One page: only a page number that is the page's last (or first) line. */
static void drop_single_number(hp_pdf_page *pg, hp_pdf_layout_info *info)
{
	size_t lo = SIZE_MAX, hi = SIZE_MAX;
	for (size_t i = 0; i < pg->n_segs; i++) {
		const hp_pdf_seg *s = &pg->segs[i];
		if (s->flags & HP_PDF_ROTATED)
			continue;
		if (lo == SIZE_MAX || s->y0 < pg->segs[lo].y0)
			lo = i;
		if (hi == SIZE_MAX || s->y1 > pg->segs[hi].y1)
			hi = i;
	}
	size_t cand[2] = { lo, hi };
	for (int k = 0; k < 2; k++) {
		if (cand[k] == SIZE_MAX || (k == 1 && hi == lo))
			continue;
		hp_pdf_seg *s = &pg->segs[cand[k]];
		int alone = 1;  /* "1" before "Introduction" is a section number */
		for (size_t i = 0; i < pg->n_segs && alone; i++)
			if (i != cand[k] && pg->segs[i].y0 < s->y1 && pg->segs[i].y1 > s->y0)
				alone = 0;
		if (alone && (s->y1 <= pg->h * MARGIN_FRAC || s->y0 >= pg->h * (1 - MARGIN_FRAC)) &&
		    is_page_number(seg_text(pg, s), s->len)) {
			s->flags |= HP_PDF_DROPPED;
			info->dropped_lines++;
		}
	}
}

static int drop_running(hp_pdf_page *pages, size_t n, hp_pdf_layout_info *info)
{
	if (n == 1)
		drop_single_number(&pages[0], info);
	if (n < 2)
		return 0;
	size_t cap = 0, nk = 0;
	margin_key *keys = NULL;
	for (size_t p = 0; p < n; p++) {
		hp_pdf_page *pg = &pages[p];
		for (size_t i = 0; i < pg->n_segs; i++) {
			hp_pdf_seg *s = &pg->segs[i];
			if (s->flags & HP_PDF_ROTATED)
				continue;
			if (!(s->y1 <= pg->h * MARGIN_FRAC || s->y0 >= pg->h * (1 - MARGIN_FRAC)))
				continue;
			if (is_page_number(seg_text(pg, s), s->len)) {
				s->flags |= HP_PDF_DROPPED;
				info->dropped_lines++;
				continue;
			}
			if (nk == cap) {
				cap = cap ? cap * 2 : 64;
				margin_key *nkeys = realloc(keys, cap * sizeof(*keys));
				if (!nkeys) {
					free(keys);
					return -ENOMEM;
				}
				keys = nkeys;
			}
			keys[nk++] = (margin_key){ fold_hash(seg_text(pg, s), s->len), (uint32_t)p, (uint32_t)i };
		}
	}
	if (nk)
		qsort(keys, nk, sizeof(*keys), cmp_key);
	size_t need = n * 2 / 5;
	if (need < 2)
		need = 2;
	for (size_t a = 0; a < nk;) {
		size_t b = a, pages_with = 0;
		uint32_t last = UINT32_MAX;
		while (b < nk && keys[b].hash == keys[a].hash) {
			if (keys[b].page != last)
				pages_with++;
			last = keys[b].page;
			b++;
		}
		if (pages_with >= need) {
			/* keep the first occurrence: the text is said once */
			for (size_t k = a + 1; k < b; k++) {
				hp_pdf_seg *s = &pages[keys[k].page].segs[keys[k].seg];
				s->flags |= HP_PDF_DROPPED;
				info->dropped_lines++;
			}
		}
		a = b;
	}
	free(keys);
	return 0;
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

enum { B_PAGE, B_PARA, B_ITEM, B_TABLE };

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
				const char *t = seg_text(&pages[p], sg);
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

static block *new_block(layout *L, int type)
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
	return hp_buf_add(&L->arena, seg_text(L->pg, s), s->len);
}

/* Append cell b to cell a (a is the last cell in the arena). */
static int merge_cell(layout *L, cell *a, const hp_pdf_seg *s)
{
	int r = hp_buf_addc(&L->arena, ' ');
	if (r == 0)
		r = hp_buf_add(&L->arena, seg_text(L->pg, s), s->len);
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
			float h = s->y1 - s->y0, hm = h < h0 ? h : h0;
			float ov = (s->y1 < first->y1 ? s->y1 : first->y1) - (s->y0 > first->y0 ? s->y0 : first->y0);
			if (ov < 0.5f * hm)
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
			const char *pt = prev ? L->arena.data + prev->text : NULL;
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

/* ---- tables ---------------------------------------------------------------------- */

typedef struct col { float x0, x1; } col;

static int cmp_col(const void *a, const void *b)
{
	const col *x = a, *y = b;
	return (x->x0 > y->x0) - (x->x0 < y->x0);
}

static int add_escaped(hp_buf *b, const char *s, size_t n, int in_table);

/* Is there a horizontal rule between heights ya and yb (y grows down)
 * across at least half of [x0, x1]? */
static int rule_between(const hp_pdf_page *pg, float x0, float x1, float ya, float yb)
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
		return !rule_between(L->pg, x0, x1, pl->y1, ln->y0);
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
		rules += rule_between(L->pg, cols[0].x0, cols[m - 1].x1, L->lines[i - 1].y1, ln->y0);
	}
	return gaps > 0 && rules * 5 >= gaps * 4;
}

static int render_table(layout *L, size_t a, size_t b, const col *cols, size_t m)
{
	block *bl = new_block(L, B_TABLE);
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
						r = add_escaped(o, o->data + ce->text, ce->len, 1);
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
static int try_table(layout *L, size_t a, size_t b, float fx0, float fx1)
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
		const char *s = L->arena.data + c0->text;
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
			cur = new_block(L, mk ? B_ITEM : B_PARA);
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
			int ruled = rule_between(L->pg, rl->x0, rl->x1, rl->y0 - 1.5f * rl->size, rl->y0) &&
			            !rule_between(L->pg, rl->x0, rl->x1, L->lines[j - 1].y1, w->y0);
			if ((tight || ruled) && w->x0 > L->cells[rl->cell].x1)
				j++;
			else
				break;
		}
		if (j - i >= 2) {
			r = flow_text(L, start, i, fx0, fx1);
			if (r < 0)
				return r;
			r = try_table(L, i, j, fx0, fx1);
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

static int layout_page(layout *L)
{
	hp_pdf_page *pg = L->pg;
	if (!new_block(L, B_PAGE))
		return -ENOMEM;
	L->list_depth = 0;
	uint32_t *idx = realloc(L->idx, (pg->n_segs + 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	L->idx = idx;
	size_t n = 0, n_rot = 0;
	for (size_t i = 0; i < pg->n_segs; i++) {
		const hp_pdf_seg *s = &pg->segs[i];
		if (s->len == 0 || (s->flags & HP_PDF_DROPPED))
			continue;
		if (s->flags & HP_PDF_ROTATED) {
			n_rot++;
			continue;
		}
		idx[n++] = (uint32_t)i;
	}
	if (n == 0 && n_rot == 0) {
		int any = 0;
		for (size_t i = 0; i < pg->n_segs; i++)
			any |= pg->segs[i].len > 0;
		if (!any)
			L->info->pages_without_text++;
	}
	int r = 0;
	float g0, g1;
	if (find_gutter(pg, idx, n, &g0, &g1) == 0) {
		/* bands: runs of segments that do not cross the gutter are read
		 * left then right; a segment across it is a band of its own */
		sort_page = pg;
		qsort(idx, n, sizeof(*idx), cmp_seg_y);
		uint32_t *tmp = malloc((n + 1) * sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		size_t i = 0;
		while (i < n && r == 0) {
			const hp_pdf_seg *s = &pg->segs[idx[i]];
			int span = s->x0 < g0 - 1 && s->x1 > g1 + 1;
			size_t j = i;
			size_t nt = 0;
			if (span) {
				while (j < n) {
					const hp_pdf_seg *t = &pg->segs[idx[j]];
					if (!(t->x0 < g0 - 1 && t->x1 > g1 + 1))
						break;
					tmp[nt++] = idx[j++];
				}
				r = do_flow(L, tmp, nt);
			} else {
				while (j < n) {
					const hp_pdf_seg *t = &pg->segs[idx[j]];
					if (t->x0 < g0 - 1 && t->x1 > g1 + 1)
						break;
					j++;
				}
				for (size_t k = i; k < j; k++)
					if (pg->segs[idx[k]].x1 <= (g0 + g1) / 2)
						tmp[nt++] = idx[k];
				r = do_flow(L, tmp, nt);
				size_t nr = 0;
				for (size_t k = i; k < j; k++)
					if (pg->segs[idx[k]].x1 > (g0 + g1) / 2)
						tmp[nr++] = idx[k];
				if (r == 0)
					r = do_flow(L, tmp, nr);
			}
			i = j;
		}
		free(tmp);
	} else {
		r = do_flow(L, idx, n);
	}
	/* rotated text (margin stamps, vertical labels): after the page */
	if (r == 0 && n_rot) {
		size_t k = 0;
		for (size_t i = 0; i < pg->n_segs; i++) {
			const hp_pdf_seg *s = &pg->segs[i];
			if ((s->flags & HP_PDF_ROTATED) && s->len && !(s->flags & HP_PDF_DROPPED))
				idx[k++] = (uint32_t)i;
		}
		for (size_t i = 0; i < k && r == 0; i++) {
			L->n_lines = L->n_cells = 0;
			const hp_pdf_seg *s = &pg->segs[idx[i]];
			block *bl = new_block(L, B_PARA);
			if (!bl)
				return -ENOMEM;
			bl->size = 0;  /* never a heading */
			bl->n_lines = 1;
			r = hp_buf_add(&L->arena, seg_text(pg, s), s->len);
			bl = &L->blocks[L->n_blocks - 1];
			bl->len = s->len;
		}
	}
	return r;
}

/* ---- headings -------------------------------------------------------------------- */

static int cmp_float_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x < y) - (x > y);
}

static int is_heading_size(const block *b, float body)
{
	return b->type == B_PARA && b->size >= body * 1.15f && b->size >= body + 1.0f && b->len <= 200 &&
	       b->n_lines <= 3;
}

static int is_bold_heading(const layout *L, const block *b, float body)
{
	if (b->type != B_PARA || !(b->flags & HP_PDF_BOLD) || b->n_lines != 1 || b->len > 80 ||
	    b->size < body * 0.95f || b->size == 0)
		return 0;
	const char *s = L->arena.data + b->text;
	char last = s[b->len - 1];
	if (last == '.' || last == ',' || last == ';')
		return 0;
	int letters = 0;
	for (uint32_t i = 0; i < b->len; i++)
		letters += isalpha((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80;
	return letters >= 2;
}

static void assign_levels(layout *L, float body)
{
	float sizes[64];
	size_t ns = 0;
	for (size_t i = 0; i < L->n_blocks; i++) {
		block *b = &L->blocks[i];
		if (!is_heading_size(b, body))
			continue;
		float r = roundf(b->size * 2) / 2;
		size_t k = 0;
		while (k < ns && sizes[k] != r)
			k++;
		if (k == ns && ns < HP_ARRAY_SIZE(sizes))
			sizes[ns++] = r;
	}
	qsort(sizes, ns, sizeof(float), cmp_float_desc);
	if (ns > 5)
		ns = 5;
	int bold_level = (int)ns + 1 < 2 ? 2 : (int)ns + 1;
	for (size_t i = 0; i < L->n_blocks; i++) {
		block *b = &L->blocks[i];
		if (is_heading_size(b, body)) {
			float r = roundf(b->size * 2) / 2;
			size_t k = 0;
			while (k < ns && sizes[k] > r)
				k++;
			b->level = (int)k + 1;
			if (b->level > 6)
				b->level = 6;
		} else if (is_bold_heading(L, b, body)) {
			b->level = bold_level > 6 ? 6 : bold_level;
		}
		if (b->level)
			L->info->headings++;
	}
}

/* ---- Markdown out ------------------------------------------------------------------ */

/* Escape what Markdown would read as syntax in running text. */
static int add_escaped(hp_buf *b, const char *s, size_t n, int in_table)
{
	int r = 0;
	size_t run = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		int esc = 0;
		switch (c) {
		case '\\': case '*': case '`':
			esc = 1;
			break;
		case '_':
			esc = !(i > 0 && isalnum((unsigned char)s[i - 1]) && i + 1 < n &&
			        isalnum((unsigned char)s[i + 1]));
			break;
		case '<':
			esc = i + 1 < n && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/' ||
			                    s[i + 1] == '!' || s[i + 1] == '?');
			break;
		case '|':
			esc = in_table;
			break;
		case '[':
			esc = memchr(s + i, ']', n - i) != NULL && memmem(s + i, n - i, "](", 2) != NULL;
			break;
		}
		if (esc) {
			r = hp_buf_add(b, s + run, i - run);
			if (r == 0)
				r = hp_buf_addc(b, '\\');
			run = i;
		}
	}
	if (r == 0)
		r = hp_buf_add(b, s + run, n - run);
	return r;
}

/* Running text at the start of a block: what would start a heading, quote,
 * list, rule or fence is escaped. */
static int add_block_text(hp_buf *b, const char *s, size_t n)
{
	int r = 0;
	size_t d = 0;
	while (d < n && isdigit((unsigned char)s[d]))
		d++;
	if (n && (s[0] == '#' || s[0] == '>' || s[0] == '=' || s[0] == '~' ||
	          ((s[0] == '-' || s[0] == '+') && (n == 1 || s[1] == ' ' || s[1] == '-'))))
		r = hp_buf_addc(b, '\\');
	else if (d && d <= 9 && d + 1 < n && (s[d] == '.' || s[d] == ')') && s[d + 1] == ' ') {
		r = hp_buf_add(b, s, d);
		if (r == 0)
			r = hp_buf_addc(b, '\\');
		s += d;
		n -= d;
	}
	if (r == 0)
		r = add_escaped(b, s, n, 0);
	return r;
}

static int emit(layout *L, hp_buf *out)
{
	int r = 0;
	for (size_t i = 0; i < L->n_blocks && r == 0; i++) {
		const block *b = &L->blocks[i];
		const char *s = L->arena.data + b->text;
		int next_item = i + 1 < L->n_blocks && L->blocks[i + 1].type == B_ITEM;
		switch (b->type) {
		case B_PAGE:
			r = hp_buf_addf(out, "<!-- page %d -->\n\n", b->page);
			break;
		case B_TABLE:
			r = hp_buf_add(out, s, b->len);
			if (r == 0)
				r = hp_buf_addc(out, '\n');
			break;
		case B_ITEM:
			for (int d = 0; d < b->depth && r == 0; d++)
				r = hp_buf_addstr(out, "  ");
			if (r == 0)
				r = hp_buf_addf(out, "%s ", b->marker);
			if (r == 0)
				r = add_escaped(out, s, b->len, 0);
			if (r == 0)
				r = hp_buf_addstr(out, next_item ? "\n" : "\n\n");
			break;
		default:
			if (b->len == 0)
				break;
			if (b->level) {
				for (int k = 0; k < b->level && r == 0; k++)
					r = hp_buf_addc(out, '#');
				if (r == 0)
					r = hp_buf_addc(out, ' ');
				if (r == 0)
					r = add_escaped(out, s, b->len, 0);
			} else
				r = add_block_text(out, s, b->len);
			if (r == 0)
				r = hp_buf_addstr(out, "\n\n");
		}
	}
	/* one newline at the end */
	while (r == 0 && out->len >= 2 && out->data[out->len - 1] == '\n' && out->data[out->len - 2] == '\n')
		out->data[--out->len] = '\0';
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
			continue;
		if (!best || b->size > best->size + 0.1f)
			best = b;
	}
	if (!best || best->size < body * 1.1f)
		return 0;
	char *t = strndup(L->arena.data + best->text, best->len);
	if (!t)
		return -ENOMEM;
	L->info->title = t;
	return 0;
}

int hp_pdf_layout(hp_pdf_page *pages, size_t n, hp_buf *out, hp_pdf_layout_info *info)
{
	layout L = { .info = info };
	hp_buf_init(&L.arena, 0);
	int r = drop_running(pages, n, info);
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
	assign_levels(&L, L.body);
	for (size_t i = 0; i < L.n_blocks; i++) {
		const block *b = &L.blocks[i];
		if (b->type == B_ITEM && (i == 0 || L.blocks[i - 1].type != B_ITEM))
			info->lists++;
		if (b->type == B_PARA || b->type == B_ITEM)
			for (uint32_t k = 0; k < b->len; k++)
				info->chars += L.arena.data[b->text + k] != ' ';
	}
	r = pick_title(&L, L.body);
	if (r == 0)
		r = emit(&L, out);
out:
	hp_buf_free(&L.arena);
	free(L.cells);
	free(L.lines);
	free(L.blocks);
	free(L.idx);
	free(L.hyph);
	return r;
}
