/* chunk.c — Markdown into retrieval-ready chunks, see include/hopper/chunk.h.
 *
 * Three steps.
 * 1. Sections: one pass over the lines (tracking fenced code, CommonMark
 *    §4.5, so that "# x" inside code is no heading) records each ATX heading:
 *    its span, level and the heading texts of its path (byte spans into the
 *    input, not strings: a document with 100,000 headings stays linear).
 * 2. Units: each section is walked at the coarsest level that fits. A unit
 *    is a byte span with a token count; a unit over the limit is walked
 *    again one level finer:
 *        block:  heading line | paragraph | fenced code | table | page mark
 *        paragraph -> sentences -> words -> characters (UTF-8 sequences)
 *        fenced code -> blank-line groups -> lines -> words -> characters
 *        table -> rows (never finer)
 *    While inside an oversize code block or table a context says how to
 *    make a piece stand alone: the opening fence line (prefix) and closing
 *    fence (suffix), or the header and delimiter rows (prefix).
 * 3. Packing: units go into the open chunk while it stays within its
 *    capacity, else the chunk is closed and a new one opened. The capacity
 *    of a section's chunks is the balanced share ceil(T / ceil(T / max)),
 *    never more than max. A section boundary closes the chunk unless one of
 *    the two sides is below min_tokens and the new section lies under the
 *    first section's parent (its level >= the first section's level).
 *
 * Units are found by walking the input, never stored, so a 10 MB paragraph
 * costs the same small memory as a short one; the work is linear except
 * that the words of an oversize unit are counted once per level (a few
 * passes over the text).
 *
 * Token counts are hp_count_tokens() (lib/tokens.c). The packing adds up
 * units and the joins between them (join_gap counts each join's
 * whitespace with its context, so the sum is the count of the text) and
 * relies on the count being sub-additive where it cuts, as that file
 * states.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/chunk.h"
#include "hopper/common.h"

#define HEADING_MAX 1024     /* bytes of a heading path */
#define LEVEL_TEXT_MAX 200   /* bytes of one heading's text in the path */

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---- lines and Markdown blocks -------------------------------------------- */

/* Line [a, e) with e at '\n' or the end; next line starts at e + 1. */
static size_t line_end(const char *s, size_t a, size_t z)
{
	const char *nl = memchr(s + a, '\n', z - a);
	return nl ? (size_t)(nl - s) : z;
}

static size_t next_line(size_t e, size_t z)
{
	return e < z ? e + 1 : z;
}

static int blank(const char *s, size_t a, size_t e)
{
	for (size_t i = a; i < e; i++)
		if (!is_ws(s[i]))
			return 0;
	return 1;
}

/* Fence line (CommonMark §4.5): 0-3 spaces, then >= 3 '`' or '~'. Returns
 * the run length, *c the character. */
static size_t fence_len(const char *s, size_t a, size_t e, char *c)
{
	size_t i = a;
	while (i < e && i - a < 3 && s[i] == ' ')
		i++;
	if (i >= e || (s[i] != '`' && s[i] != '~'))
		return 0;
	char f = s[i];
	size_t k = 0;
	while (i < e && s[i] == f)
		i++, k++;
	if (k < 3)
		return 0;
	if (f == '`' && memchr(s + i, '`', e - i))
		return 0;      /* a backtick fence's info string has no backticks */
	*c = f;
	return k;
}

static int is_closing(const char *s, size_t a, size_t e, char fc, size_t flen)
{
	char c;
	size_t k = fence_len(s, a, e, &c);
	if (!k || c != fc || k < flen)
		return 0;
	size_t i = a;
	while (i < e && (s[i] == ' ' || s[i] == fc))
		i++;
	return blank(s, i, e);
}

/* ATX heading level of [a, e) (1-6), 0 when not a heading; the text goes
 * into [*ta, *tz). */
static int atx(const char *s, size_t a, size_t e, size_t *ta, size_t *tz)
{
	size_t i = a, k = 0;
	while (i < e && i - a < 3 && s[i] == ' ')
		i++;
	while (i < e && s[i] == '#')
		i++, k++;
	if (k < 1 || k > 6 || (i < e && s[i] != ' ' && s[i] != '\t'))
		return 0;
	while (e > i && is_ws(s[e - 1]))
		e--;
	size_t h = e;
	while (h > i && s[h - 1] == '#')
		h--;
	if (h < e && (h == i || s[h - 1] == ' ' || s[h - 1] == '\t'))
		e = h;
	while (i < e && is_ws(s[i]))
		i++;
	while (e > i && is_ws(s[e - 1]))
		e--;
	*ta = i;
	*tz = e;
	return (int)k;
}

/* "<!-- page N -->" on a line of its own: N (>= 1), else 0. */
static int page_mark(const char *s, size_t a, size_t e)
{
	static const char open[] = "<!--";
	while (a < e && is_ws(s[a]))
		a++;
	while (e > a && is_ws(s[e - 1]))
		e--;
	if (e - a < 12 || memcmp(s + a, open, 4) || memcmp(s + e - 3, "-->", 3))
		return 0;
	size_t i = a + 4;
	while (i < e && s[i] == ' ')
		i++;
	if (e - i < 4 || memcmp(s + i, "page", 4))
		return 0;
	i += 4;
	if (i >= e || s[i] != ' ')
		return 0;
	while (i < e && s[i] == ' ')
		i++;
	long n = 0;
	size_t d = i;
	while (i < e && is_digit(s[i]) && n < 10000000)
		n = n * 10 + (s[i++] - '0');
	if (i == d)
		return 0;
	while (i < e && s[i] == ' ')
		i++;
	return i == e - 3 && n >= 1 ? (int)n : 0;
}

/* A GFM table delimiter row: cells of "-" with optional ":" ends, "|"s. */
static int table_delim(const char *s, size_t a, size_t e)
{
	int dashes = 0, pipes = 0;
	for (size_t i = a; i < e; i++) {
		char c = s[i];
		if (c == '-')
			dashes++;
		else if (c == '|')
			pipes++;
		else if (c != ':' && c != ' ' && c != '\t' && c != '\r')
			return 0;
	}
	return dashes > 0 && pipes > 0;
}

static int has_pipe(const char *s, size_t a, size_t e)
{
	return memchr(s + a, '|', e - a) != NULL;
}

/* Does a table start at line [a, e): a line with '|' followed by a
 * delimiter row? */
static int table_start(const char *s, size_t a, size_t e, size_t z)
{
	if (!has_pipe(s, a, e) || e >= z)
		return 0;
	size_t b = e + 1, be = line_end(s, b, z);
	return table_delim(s, b, be);
}

/* ---- output and packing ------------------------------------------------ */

typedef struct section {
	size_t a, z;          /* bytes, heading line included */
	int level;            /* 0: text before the first heading */
	int tokens;
	size_t lv[7][2];      /* heading text span per level of the path */
} section;

enum ctx_kind { CTX_NONE, CTX_FENCE, CTX_TABLE };

typedef struct ctx {
	enum ctx_kind kind;
	size_t ba, bz;        /* the whole block */
	size_t pa, pz;        /* prefix: opening fence line, or header + delimiter rows */
	int pre_toks;         /* tokens of the prefix with its newline */
	char fc;              /* fence character and length (suffix) */
	size_t flen;
	int suf_toks;
} ctx;

struct out {
	const char *s;
	size_t len;
	hp_chunk *v;
	size_t n, alloc;
	int max, cap, overlap, min;
	const section *secs;
	size_t sec;           /* the section being walked */
	int page;             /* page at the walk position */
	const ctx *cx;        /* context of the units being added; NULL = plain */

	/* the open chunk */
	bool open;
	size_t a, z;
	int toks;             /* without a suffix */
	size_t first_sec;
	int keep;             /* heading levels kept of the first section's path */
	int page0;
	ctx pre;              /* context that needs a prefix (kind NONE: none) */
	ctx suf;              /* context that needs a suffix (kind NONE: none) */
	bool exact;           /* toks is the content's count (splits at blanks only) */
	bool unit_inexact;    /* the unit being added was cut inside a word */
	size_t last_a;        /* last unit: start, section, plain */
	size_t last_sec;
	bool last_plain;
	bool prev_plain;      /* the last chunk flushed had no prefix or suffix */
};

void hp_chunks_free(hp_chunk *chunks, size_t n)
{
	if (!chunks)
		return;
	for (size_t i = 0; i < n; i++) {
		free(chunks[i].heading);
		free(chunks[i].content);
	}
	free(chunks);
}

/* Cut n bytes of s so that no UTF-8 sequence is split. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

/* The heading path of levels 1..keep of sec into path (HEADING_MAX + 1). */
static void build_path(char *path, const char *s, const section *sec, int keep)
{
	size_t len = 0;
	path[0] = '\0';
	for (int l = 1; l <= keep && l <= 6; l++) {
		if (sec->lv[l][1] <= sec->lv[l][0])
			continue;
		size_t n = utf8_cut(s + sec->lv[l][0], sec->lv[l][1] - sec->lv[l][0], LEVEL_TEXT_MAX);
		size_t sep = len ? 3 : 0;
		if (len + sep + n > HEADING_MAX)
			n = len + sep < HEADING_MAX ? utf8_cut(s + sec->lv[l][0], n, HEADING_MAX - len - sep) : 0;
		if (!n)
			break;
		if (sep)
			memcpy(path + len, " > ", 3);
		memcpy(path + len + sep, s + sec->lv[l][0], n);
		len += sep + n;
		path[len] = '\0';
	}
}

/* Close the open chunk: trimmed of blank space, prefix and suffix added. */
static int flush(struct out *o)
{
	if (!o->open)
		return 0;
	o->open = false;
	const char *s = o->s;
	size_t a = o->a, z = o->z;
	while (z > a && is_ws(s[z - 1]))
		z--;
	size_t line = a;   /* drop whole blank lines at the start, keep indentation */
	for (size_t i = a; i < z && is_ws(s[i]); i++)
		if (s[i] == '\n')
			line = i + 1;
	a = line;
	if (z <= a)
		return 0;
	/* The sum of the units and joins is the count of the text when every
	 * cut was between words and nothing was added or trimmed; else count
	 * again. */
	bool exact = o->exact && a == o->a && z == o->z && o->pre.kind == CTX_NONE &&
	             o->suf.kind == CTX_NONE;
	if (o->n == o->alloc) {
		size_t na = o->alloc ? o->alloc * 2 : 16;
		hp_chunk *p = realloc(o->v, na * sizeof(*p));
		if (!p)
			return -ENOMEM;
		o->v = p;
		o->alloc = na;
	}
	hp_buf b;
	hp_buf_init(&b, 0);
	int r = 0;
	if (o->pre.kind != CTX_NONE) {
		r = hp_buf_add(&b, s + o->pre.pa, o->pre.pz - o->pre.pa);
		if (r == 0)
			r = hp_buf_addc(&b, '\n');
	}
	if (r == 0)
		r = hp_buf_add(&b, s + a, z - a);
	if (r == 0 && o->suf.kind == CTX_FENCE) {
		r = hp_buf_addc(&b, '\n');
		for (size_t i = 0; r == 0 && i < o->suf.flen; i++)
			r = hp_buf_addc(&b, o->suf.fc);
	}
	hp_chunk *c = &o->v[o->n];
	c->heading = malloc(HEADING_MAX + 1);
	c->content = r == 0 ? hp_buf_steal(&b) : NULL;
	hp_buf_free(&b);
	if (!c->heading || !c->content) {
		free(c->heading);
		free(c->content);
		return -ENOMEM;
	}
	build_path(c->heading, s, &o->secs[o->first_sec], o->keep);
	c->tokens = exact ? o->toks : hp_count_tokens(c->content, strlen(c->content));
	o->prev_plain = o->pre.kind == CTX_NONE && o->suf.kind == CTX_NONE;
	c->page = o->page0;
	c->start = a;
	c->end = z;
	o->n++;
	return 0;
}

/* Where the overlap starts: whole words at the end of [la, z) worth at most
 * budget tokens; z when none fit. *ret_toks: their count. */
static size_t overlap_start(const char *s, size_t la, size_t z, int budget, int *ret_toks)
{
	size_t best = z, p = z;
	int t = 0;
	*ret_toks = 0;
	while (p > la) {
		while (p > la && is_ws(s[p - 1]))
			p--;
		size_t w = p;
		while (w > la && !is_ws(s[w - 1]))
			w--;
		if (w == p)
			break;
		int n = hp_count_tokens(s + w, z - w);
		if (n > budget)
			break;
		best = w;
		t = n;
		p = w;
	}
	*ret_toks = t;
	return best;
}

/* Bytes of the whitespace character at s[i] (i < z) as hp_count_tokens
 * sees it (ASCII blanks, U+00A0 and U+3000), else 0; space_before: of the
 * one that ends at s[i] (i > lo). */
static size_t space_at(const char *s, size_t i, size_t z)
{
	const unsigned char *u = (const unsigned char *)s + i;
	if (is_ws(s[i]))
		return 1;
	if (u[0] == 0xC2 && i + 1 < z && u[1] == 0xA0)
		return 2;
	if (u[0] == 0xE3 && i + 2 < z && u[1] == 0x80 && u[2] == 0x80)
		return 3;
	return 0;
}

static size_t space_before(const char *s, size_t lo, size_t i)
{
	const unsigned char *u = (const unsigned char *)s;
	if (is_ws(s[i - 1]))
		return 1;
	if (i - lo >= 2 && u[i - 2] == 0xC2 && u[i - 1] == 0xA0)
		return 2;
	if (i - lo >= 3 && u[i - 3] == 0xE3 && u[i - 2] == 0x80 && u[i - 1] == 0x80)
		return 3;
	return 0;
}

/* The tokens that joining [la, lz) and the unit [a, z) adds besides their
 * own counts: the gap [lz, a), less what a whitespace run costs less whole
 * than cut (a blank line between two blocks and the second's indentation
 * are one run; line breaks right after punctuation cost nothing), so that
 * the sum stays the count of the joined text. The word before the run is
 * counted with it; the count of a whitespace run depends only on what
 * precedes it, so cuts at the start of a word are additive. */
static int join_gap(const char *s, size_t la, size_t lz, size_t a, size_t z)
{
	size_t g0 = lz, g1 = a, k;
	while (g0 > la && (k = space_before(s, la, g0)))
		g0 -= k;
	while (g1 < z && (k = space_at(s, g1, z)))
		g1 += k;
	/* a run that starts with whitespace: with the word before it (line
	 * breaks right after punctuation are free), and with the number after
	 * it (a blank before a number costs one) */
	if (g0 < g1 && space_at(s, g0, g1)) {
		for (;;) {
			while (g0 > la && !space_before(s, la, g0))
				g0--;
			/* that word a number right after a blank: one more back */
			if (!(g0 > la && is_digit(s[g0]) && (s[g0 - 1] == ' ' || s[g0 - 1] == '\t')))
				break;
			while (g0 > la && (k = space_before(s, la, g0)))
				g0 -= k;
		}
		while (g1 < z && is_digit(s[g1]))
			g1++;
	}
	if (g0 == lz && g1 == a)
		return hp_count_tokens(s + lz, a - lz);
	return hp_count_tokens(s + g0, g1 - g0) - hp_count_tokens(s + g0, lz - g0) -
	       hp_count_tokens(s + a, g1 - a);
}

/* Add the unit [a, z) of toks tokens to the open chunk, or open a new one. */
static int add(struct out *o, size_t a, size_t z, int toks)
{
	const ctx *cx = o->cx;
	bool cont = cx && a > cx->ba;                       /* needs the prefix if first */
	bool suffix = cx && cx->kind == CTX_FENCE && z < cx->bz;
	int suf = suffix ? cx->suf_toks : 0;
	if (o->open) {
		int gap = join_gap(o->s, o->a, o->z, a, z);
		if ((int64_t)o->toks + gap + toks + suf <= o->cap) {
			o->toks += gap + toks;
			o->exact &= !o->unit_inexact;
			o->z = z;
			o->suf = suffix ? *cx : (ctx){ .kind = CTX_NONE };
			o->last_a = a;
			o->last_sec = o->sec;
			o->last_plain = !cx;
			return 0;
		}
		int r = flush(o);
		if (r < 0)
			return r;
		/* overlap: the end of the previous chunk, same section, plain text */
		if (o->overlap > 0 && !cx && o->last_plain && o->last_sec == o->sec) {
			/* the gap counts too: it may hold a page mark */
			int gap2 = join_gap(o->s, o->last_a, o->z, a, z);
			int budget = o->overlap < o->max - toks - gap2 ? o->overlap : o->max - toks - gap2;
			int ot;
			size_t b = budget > 0 ? overlap_start(o->s, o->last_a, o->z, budget, &ot) : o->z;
			if (b < o->z)     /* joined from b (a word may be U+00A0, a blank to the count) */
				gap2 = join_gap(o->s, b, o->z, a, z);
			if (b < o->z && (int64_t)ot + gap2 + toks <= o->max) {
				o->open = true;
				o->a = b;
				o->z = z;
				o->toks = ot + gap2 + toks;
				o->exact = !o->unit_inexact;
				o->first_sec = o->sec;
				o->keep = o->secs[o->sec].level;
				o->page0 = o->page;
				o->pre = o->suf = (ctx){ .kind = CTX_NONE };
				o->last_a = a;
				o->last_sec = o->sec;
				o->last_plain = true;
				return 0;
			}
		}
	}
	o->open = true;
	o->a = a;
	o->z = z;
	o->toks = toks + (cont ? cx->pre_toks : 0);
	o->exact = !o->unit_inexact;
	o->first_sec = o->sec;
	o->keep = o->secs[o->sec].level;
	o->page0 = o->page;
	o->pre = cont ? *cx : (ctx){ .kind = CTX_NONE };
	o->suf = suffix ? *cx : (ctx){ .kind = CTX_NONE };
	o->last_a = a;
	o->last_sec = o->sec;
	o->last_plain = !cx;
	return 0;
}

/* The open chunk is the last piece of its section and below min (a split
 * section's remainder): move whole words from the end of the previous
 * chunk into it until it reaches min, so that no chunk is below min unless
 * its section is. Only within one line of plain text (no fence, table row,
 * heading or page mark is crossed), between two chunks of the open chunk's
 * section without prefix, suffix or overlap; otherwise nothing changes. */
static int rebalance_tail(struct out *o)
{
	if (!o->open || o->min <= 0 || o->toks >= o->min || o->n == 0 || o->overlap > 0 ||
	    !o->prev_plain || o->pre.kind != CTX_NONE || o->suf.kind != CTX_NONE)
		return 0;
	const char *s = o->s;
	hp_chunk *prev = &o->v[o->n - 1];
	size_t ls = prev->end;                    /* the line the words come from */
	while (ls > prev->start && s[ls - 1] != '\n')
		ls--;
	size_t sec_a = o->secs[o->first_sec].a;
	if (ls < sec_a || ls <= prev->start || o->a <= prev->end ||
	    memmem(s + prev->end, o->a - prev->end, "<!--", 4))
		return 0;
	char fc;
	size_t le = line_end(s, ls, o->len), ta, tz;
	if (fence_len(s, ls, le, &fc) || atx(s, ls, le, &ta, &tz) || has_pipe(s, ls, le) || page_mark(s, ls, le))
		return 0;
	size_t p = prev->end;
	int tail = o->toks;
	while (tail < o->min) {
		size_t w = p;
		while (w > ls && is_ws(s[w - 1]))
			w--;
		while (w > ls && !is_ws(s[w - 1]))
			w--;
		if (w <= ls)
			return 0;                         /* the line's first word stays */
		p = w;
		tail = hp_count_tokens(s + p, o->z - p);
	}
	size_t e = p;
	while (e > prev->start && is_ws(s[e - 1]))
		e--;
	int head = hp_count_tokens(s + prev->start, e - prev->start);
	if (tail > o->max || head < o->min)
		return 0;
	char *c = malloc(e - prev->start + 1);
	if (!c)
		return -ENOMEM;
	memcpy(c, s + prev->start, e - prev->start);
	c[e - prev->start] = '\0';
	free(prev->content);
	prev->content = c;
	prev->end = e;
	prev->tokens = head;
	o->a = p;
	o->toks = tail;
	o->exact = true;
	return 0;
}

/* ---- units at each level ------------------------------------------------ */

enum level { L_SENT, L_WORD, L_CHAR, L_FPARA, L_FLINE, L_TROW };

/* Skip blank lines from p; returns the first non-blank line's start or z. */
static size_t skip_blank_lines(const char *s, size_t p, size_t z)
{
	while (p < z) {
		size_t e = line_end(s, p, z);
		if (!blank(s, p, e))
			return p;
		p = next_line(e, z);
	}
	return z;
}

/* Is [a, e) the start of a list item or quote ("- ", "* ", "+ ", "1. ",
 * "1) ", "> ") after indentation? */
static int item_start(const char *s, size_t a, size_t e)
{
	while (a < e && (s[a] == ' ' || s[a] == '\t'))
		a++;
	if (a >= e)
		return 0;
	if ((s[a] == '-' || s[a] == '*' || s[a] == '+') && a + 1 < e && s[a + 1] == ' ')
		return 1;
	if (s[a] == '>' || s[a] == '|')
		return 1;
	size_t d = a;
	while (d < e && is_digit(s[d]))
		d++;
	return d > a && d < e && (s[d] == '.' || s[d] == ')');
}

/* The sentence starting at p (after blanks) within [p, z): ends after
 * [.!?] plus closing quotes/brackets before a blank, after 。！？, or
 * before a line that starts a list item. */
static int next_sentence(const char *s, size_t *pos, size_t z, size_t *ua, size_t *uz)
{
	size_t p = *pos;
	while (p < z && is_ws(s[p]))
		p++;
	if (p >= z)
		return 0;
	*ua = p;
	size_t i = p;
	while (i < z) {
		char c = s[i];
		if (c == '.' || c == '!' || c == '?') {
			size_t j = i + 1;
			while (j < z && (s[j] == ')' || s[j] == ']' || s[j] == '"' || s[j] == '\'' ||
			                 s[j] == '*' || s[j] == '_'))
				j++;
			if (j >= z || is_ws(s[j])) {
				i = j;
				break;
			}
			i = j;
			continue;
		}
		if ((unsigned char)c == 0xE3 && i + 2 < z && (unsigned char)s[i + 1] == 0x80 &&
		    (unsigned char)s[i + 2] == 0x82) {
			i += 3;   /* 。 */
			break;
		}
		if ((unsigned char)c == 0xEF && i + 2 < z && (unsigned char)s[i + 1] == 0xBC &&
		    ((unsigned char)s[i + 2] == 0x81 || (unsigned char)s[i + 2] == 0x9F)) {
			i += 3;   /* ！ ？ */
			break;
		}
		if (c == '\n' && i > p) {
			size_t e = line_end(s, i + 1 < z ? i + 1 : z, z);
			if (i + 1 < z && item_start(s, i + 1, e))
				break;
		}
		i++;
	}
	*uz = i;
	*pos = i;
	return 1;
}

static int next_word(const char *s, size_t *pos, size_t z, size_t *ua, size_t *uz)
{
	size_t p = *pos;
	while (p < z && is_ws(s[p]))
		p++;
	if (p >= z)
		return 0;
	*ua = p;
	while (p < z && !is_ws(s[p]))
		p++;
	*uz = *pos = p;
	return 1;
}

static int next_char(const char *s, size_t *pos, size_t z, size_t *ua, size_t *uz)
{
	size_t p = *pos, n;
	while (p < z && is_ws(s[p]))
		p++;
	if (p >= z)
		return 0;
	*ua = p;
	n = hp_utf8_len(s, p, z);
	*uz = *pos = p + n;
	return 1;
}

/* Lines (L_FLINE) or blank-line groups (L_FPARA) of a code block [pos, z)
 * inside context cx: the opening fence line joins the line after it, and
 * the closing fence line the one before, so no piece is a bare fence. */
static int next_code(const char *s, size_t *pos, size_t z, int groups, const ctx *cx,
                     size_t *ua, size_t *uz)
{
	size_t p = skip_blank_lines(s, *pos, z);
	if (p >= z)
		return 0;
	size_t open_end = line_end(s, cx->ba, cx->bz);
	size_t e = line_end(s, p, z);
	if (p == cx->ba && next_line(e, z) < z)       /* opening fence: take the next line too */
		e = line_end(s, next_line(e, z), z);
	for (;;) {
		size_t q = next_line(e, z);
		if (q >= z)
			break;
		size_t qe = line_end(s, q, z);
		if (qe == cx->bz && q > open_end && is_closing(s, q, qe, cx->fc, cx->flen)) {
			e = qe;                                 /* the closing fence joins */
			break;
		}
		if (!groups || blank(s, q, qe))
			break;
		e = qe;
	}
	/* blank lines and then only the closing fence: take them too */
	size_t q = skip_blank_lines(s, next_line(e, z), z);
	if (q < z && line_end(s, q, z) == cx->bz && is_closing(s, q, cx->bz, cx->fc, cx->flen))
		e = cx->bz;
	*ua = p;
	*uz = e;
	*pos = next_line(e, z);
	return 1;
}

/* Rows of a table: the first unit is header + delimiter + first row. */
static int next_row(const char *s, size_t *pos, size_t z, const ctx *cx, size_t *ua, size_t *uz)
{
	size_t p = skip_blank_lines(s, *pos, z);
	if (p >= z)
		return 0;
	size_t e = line_end(s, p, z);
	if (p == cx->ba) {
		e = cx->pz;                                  /* end of the delimiter row */
		if (next_line(e, z) < z)
			e = line_end(s, next_line(e, z), z);
	}
	*ua = p;
	*uz = e;
	*pos = next_line(e, z);
	return 1;
}

static int pack(struct out *o, size_t a, size_t z, enum level lvl);

/* A unit found at level lvl: add it, or walk it one level finer. */
static int unit(struct out *o, size_t ua, size_t uz, enum level lvl)
{
	int t = hp_count_tokens(o->s + ua, uz - ua);
	if (t == 0)
		return 0;
	int limit = o->max;
	if (o->cx)
		limit -= o->cx->pre_toks + o->cx->suf_toks;
	if (limit < 1)
		limit = 1;
	if (t > limit) {
		switch (lvl) {
		case L_SENT:  return pack(o, ua, uz, L_WORD);
		case L_WORD:  return pack(o, ua, uz, L_CHAR);
		case L_FPARA: return pack(o, ua, uz, L_FLINE);
		case L_FLINE: return pack(o, ua, uz, L_WORD);
		case L_CHAR:
		case L_TROW:  break;  /* never cut: the one exception to the limit */
		}
	}
	o->unit_inexact = lvl == L_CHAR;
	int r = add(o, ua, uz, t);
	o->unit_inexact = false;
	return r;
}

static int pack(struct out *o, size_t a, size_t z, enum level lvl)
{
	size_t pos = a, ua, uz;
	int r = 0;
	for (;;) {
		int got;
		switch (lvl) {
		case L_SENT:  got = next_sentence(o->s, &pos, z, &ua, &uz); break;
		case L_WORD:  got = next_word(o->s, &pos, z, &ua, &uz); break;
		case L_CHAR:  got = next_char(o->s, &pos, z, &ua, &uz); break;
		case L_FPARA: got = next_code(o->s, &pos, z, 1, o->cx, &ua, &uz); break;
		case L_FLINE: got = next_code(o->s, &pos, z, 0, o->cx, &ua, &uz); break;
		default:      got = next_row(o->s, &pos, z, o->cx, &ua, &uz); break;
		}
		if (!got)
			return 0;
		if ((r = unit(o, ua, uz, lvl)) < 0)
			return r;
	}
}

/* A block too big for one chunk: walk it with the context its pieces need. */
static int big_code(struct out *o, size_t a, size_t z, char fc, size_t flen)
{
	const char *s = o->s;
	size_t oe = line_end(s, a, z);
	char close[4] = { '\n', fc, fc, fc };
	ctx cx = { .kind = CTX_FENCE, .ba = a, .bz = z, .pa = a, .pz = oe, .fc = fc, .flen = flen };
	cx.pre_toks = hp_count_tokens(s + a, oe - a) + 1;
	cx.suf_toks = hp_count_tokens(close, sizeof close) + (int)(flen > 3);
	o->cx = &cx;
	int r = pack(o, a, z, L_FPARA);
	o->cx = NULL;
	return r;
}

static int big_table(struct out *o, size_t a, size_t z)
{
	const char *s = o->s;
	size_t he = line_end(s, a, z);
	size_t de = line_end(s, next_line(he, z), z);
	ctx cx = { .kind = CTX_TABLE, .ba = a, .bz = z, .pa = a, .pz = de };
	cx.pre_toks = hp_count_tokens(s + a, de - a) + 1;
	o->cx = &cx;
	int r = pack(o, a, z, L_TROW);
	o->cx = NULL;
	return r;
}

/* Walk the blocks of section [a, z). */
static int blocks(struct out *o, size_t a, size_t z)
{
	const char *s = o->s;
	size_t p = a;
	int r = 0;
	while (r == 0 && (p = skip_blank_lines(s, p, z)) < z) {
		size_t e = line_end(s, p, z), ta, tz;
		char fc;
		size_t flen = fence_len(s, p, e, &fc);
		size_t bz = e;
		int kind = 0;   /* 0 paragraph, 1 code, 2 table, 3 heading */
		int pg;
		if (flen) {
			kind = 1;
			size_t q = next_line(e, z);
			while (q < z) {
				size_t qe = line_end(s, q, z);
				bz = qe;
				if (is_closing(s, q, qe, fc, flen))
					break;
				q = next_line(qe, z);
			}
		} else if ((pg = page_mark(s, p, e)) > 0) {
			o->page = pg;
			p = next_line(e, z);
			continue;
		} else if (atx(s, p, e, &ta, &tz)) {
			kind = 3;
		} else if (table_start(s, p, e, z)) {
			kind = 2;
			bz = line_end(s, e + 1, z);
			for (size_t q = next_line(bz, z); q < z;) {
				size_t qe = line_end(s, q, z);
				if (blank(s, q, qe) || !has_pipe(s, q, qe))
					break;
				bz = qe;
				q = next_line(qe, z);
			}
		} else {
			/* a paragraph: up to a blank line, fence, heading, page mark or table */
			for (size_t q = next_line(e, z); q < z;) {
				size_t qe = line_end(s, q, z);
				if (blank(s, q, qe) || fence_len(s, q, qe, &fc) || atx(s, q, qe, &ta, &tz) ||
				    page_mark(s, q, qe) || table_start(s, q, qe, z))
					break;
				bz = qe;
				q = next_line(qe, z);
			}
		}
		int t = hp_count_tokens(s + p, bz - p);
		if (t <= o->max)
			r = t ? add(o, p, bz, t) : 0;
		else if (kind == 1)
			r = big_code(o, p, bz, fc, flen);
		else if (kind == 2)
			r = big_table(o, p, bz);
		else if (kind == 3)
			r = pack(o, p, bz, L_WORD);
		else
			r = pack(o, p, bz, L_SENT);
		p = next_line(bz, z);
	}
	return r;
}

/* ---- sections ------------------------------------------------------------ */

static int find_sections(const char *md, size_t len, section **ret, size_t *ret_n)
{
	size_t n = 1, alloc = 16;
	section *v = calloc(alloc, sizeof *v);
	if (!v)
		return -ENOMEM;
	size_t p = 0, flen = 0;
	char fc = 0;
	while (p < len) {
		size_t e = line_end(md, p, len), ta, tz, k;
		char c = 0;
		int level;
		if (flen) {
			if (is_closing(md, p, e, fc, flen))
				flen = 0;
		} else if ((k = fence_len(md, p, e, &c)) > 0) {
			flen = k;
			fc = c;
		} else if ((level = atx(md, p, e, &ta, &tz)) > 0) {
			if (n == alloc) {
				section *nv = realloc(v, 2 * alloc * sizeof *nv);
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
				alloc *= 2;
			}
			section *prev = &v[n - 1], *sec = &v[n];
			prev->z = p;
			*sec = (section){ .a = p, .level = level };
			memcpy(sec->lv, prev->lv, sizeof sec->lv);
			sec->lv[level][0] = ta;
			sec->lv[level][1] = tz;
			for (int l = level + 1; l <= 6; l++)
				sec->lv[l][0] = sec->lv[l][1] = 0;
			n++;
		}
		p = next_line(e, len);
	}
	v[n - 1].z = len;
	for (size_t i = 0; i < n; i++)
		v[i].tokens = hp_count_tokens(md + v[i].a, v[i].z - v[i].a);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* The share of each chunk when t tokens are cut into pieces of <= max. */
static int balanced(int64_t t, int max)
{
	if (t <= max)
		return max;
	int64_t k = (t + max - 1) / max;
	int64_t cap = (t + k - 1) / k;
	/* some slack: units do not cut evenly, and a too-tight share adds a piece */
	cap += cap / 8;
	return cap > max ? max : (int)cap;
}

int hp_chunk_markdown_opts(const char *md, size_t len, const hp_chunk_opts *opts,
                           hp_chunk **ret_chunks, size_t *ret_n)
{
	if (!opts || opts->max_tokens < 1 || opts->overlap < 0 || opts->min_tokens < 0)
		return -EINVAL;
	section *secs;
	size_t nsec;
	int r = find_sections(md, len, &secs, &nsec);
	if (r < 0)
		return r;
	struct out o = {
		.s = md, .len = len, .max = opts->max_tokens, .cap = opts->max_tokens,
		.overlap = opts->overlap > opts->max_tokens / 2 ? opts->max_tokens / 2 : opts->overlap,
		.min = opts->min_tokens, .secs = secs,
	};
	for (size_t i = 0; i < nsec && r == 0; i++) {
		const section *sec = &secs[i];
		if (sec->tokens == 0)
			continue;
		bool join = false;
		if (o.open) {
			int first = secs[o.first_sec].level;
			bool under = first == 0 || sec->level >= first;
			join = under && (o.toks < o.min ||
			                 (sec->tokens < o.min && (int64_t)o.toks + sec->tokens + 1 <= o.max));
			if (!join && ((r = rebalance_tail(&o)) < 0 || (r = flush(&o)) < 0))
				break;
		}
		o.sec = i;
		o.last_plain = false;   /* no overlap across a section boundary */
		if (join) {
			if (sec->level - 1 < o.keep)
				o.keep = sec->level - 1;
			o.cap = balanced((int64_t)o.toks + sec->tokens, o.max);
		} else {
			o.cap = balanced(sec->tokens, o.max);
		}
		r = blocks(&o, sec->a, sec->z);
	}
	if (r == 0)
		r = rebalance_tail(&o);
	if (r == 0)
		r = flush(&o);
	free(secs);
	if (r < 0) {
		hp_chunks_free(o.v, o.n);
		return r;
	}
	if (o.n == 0) {
		free(o.v);
		o.v = NULL;
	}
	*ret_chunks = o.v;
	*ret_n = o.n;
	return 0;
}

int hp_chunk_markdown(const char *md, size_t len, int max_tokens,
                      hp_chunk **ret_chunks, size_t *ret_n)
{
	hp_chunk_opts opts = { .max_tokens = max_tokens };
	return hp_chunk_markdown_opts(md, len, &opts, ret_chunks, ret_n);
}
