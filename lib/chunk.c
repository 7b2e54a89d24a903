/* chunk.c — Markdown into retrieval-ready chunks, see include/hopper/chunk.h.
 *
 * A section runs from an ATX heading (outside fenced code) to the next.
 * A section that fits max_tokens is one chunk. A longer one is packed
 * greedily from units: first blocks (runs of non-blank lines, with each
 * fenced code block one unit of its own so that it is never cut while it
 * fits), then lines, then words. A chunk's content is the original text
 * from its first unit to its last, so separators and indentation survive
 * and the chunk's token count is the sum of its units' counts (only
 * whitespace lies between units).
 * Heading paths are cut to HEADING_MAX bytes so that many small chunks under
 * one huge heading stay linear in memory.
 */
#include <errno.h>
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

int hp_count_tokens(const char *s, size_t len)
{
	int n = 0, in = 0;
	for (size_t i = 0; i < len; i++) {
		if (is_ws(s[i]))
			in = 0;
		else if (!in) {
			in = 1;
			if (n < INT32_MAX)
				n++;
		}
	}
	return n;
}

struct out {
	hp_chunk *v;
	size_t n, alloc;
	int max;
	const char *heading;   /* current path, borrowed */
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

/* Add s[a..z) trimmed of blank lines before and whitespace after; nothing
 * when only whitespace. */
static int emit(struct out *o, const char *s, size_t a, size_t z)
{
	while (z > a && is_ws(s[z - 1]))
		z--;
	/* drop whole blank lines at the start, keep indentation of the first */
	size_t line = a;
	for (size_t i = a; i < z && is_ws(s[i]); i++)
		if (s[i] == '\n')
			line = i + 1;
	a = line;
	if (z <= a)
		return 0;
	if (o->n == o->alloc) {
		size_t na = o->alloc ? o->alloc * 2 : 16;
		hp_chunk *p = realloc(o->v, na * sizeof(*p));
		if (!p)
			return -ENOMEM;
		o->v = p;
		o->alloc = na;
	}
	hp_chunk *c = &o->v[o->n];
	c->heading = strdup(o->heading);
	c->content = strndup(s + a, z - a);
	if (!c->heading || !c->content) {
		free(c->heading);
		free(c->content);
		return -ENOMEM;
	}
	c->tokens = hp_count_tokens(c->content, z - a);
	o->n++;
	return 0;
}

/* Line [a, e) with e at '\n' or the end; next line starts at e + 1. */
static size_t line_end(const char *s, size_t a, size_t z)
{
	const char *nl = memchr(s + a, '\n', z - a);
	return nl ? (size_t)(nl - s) : z;
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

/* Units at three levels within [a, z). next_unit() returns 0 when there
 * are no more, else sets [*ua, *uz) and the position to continue from. */
enum { LVL_BLOCK, LVL_LINE, LVL_WORD };

static int next_unit(const char *s, size_t *pos, size_t z, int lvl, size_t *ua, size_t *uz)
{
	size_t p = *pos;
	if (lvl == LVL_WORD) {
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
	/* skip blank lines */
	for (;;) {
		if (p >= z)
			return 0;
		size_t e = line_end(s, p, z);
		if (!blank(s, p, e))
			break;
		p = e < z ? e + 1 : z;
	}
	*ua = p;
	size_t e = line_end(s, p, z);
	if (lvl == LVL_LINE) {
		*uz = e;
		*pos = e < z ? e + 1 : z;
		return 1;
	}
	char fc;
	size_t flen = fence_len(s, p, e, &fc);
	if (flen) {
		/* the whole fenced block, up to its closing line or the end */
		size_t q = e < z ? e + 1 : z;
		while (q < z) {
			size_t qe = line_end(s, q, z);
			e = qe;
			if (is_closing(s, q, qe, fc, flen))
				break;
			q = qe < z ? qe + 1 : z;
		}
		*uz = e;
		*pos = e < z ? e + 1 : z;
		return 1;
	}
	/* a paragraph: non-blank lines up to a blank line or a fence */
	for (;;) {
		size_t q = e < z ? e + 1 : z;
		if (q >= z)
			break;
		size_t qe = line_end(s, q, z);
		if (blank(s, q, qe) || fence_len(s, q, qe, &fc))
			break;
		e = qe;
	}
	*uz = e;
	*pos = e < z ? e + 1 : z;
	return 1;
}

/* Pack [a, z) into chunks of at most o->max tokens, at level lvl. */
static int pack(struct out *o, const char *s, size_t a, size_t z, int lvl)
{
	size_t pos = a, ua, uz, ca = 0, cz = 0;
	int have = 0, toks = 0, r = 0;
	while (r == 0 && next_unit(s, &pos, z, lvl, &ua, &uz)) {
		int t = hp_count_tokens(s + ua, uz - ua);
		if (t == 0)
			continue;
		if (have && toks + t <= o->max) {
			cz = uz;
			toks += t;
			continue;
		}
		if (have)
			r = emit(o, s, ca, cz);
		have = 0;
		if (r < 0)
			break;
		if (t > o->max && lvl < LVL_WORD) {
			r = pack(o, s, ua, uz, lvl + 1);
			continue;
		}
		ca = ua;
		cz = uz;
		toks = t;
		have = 1;
	}
	if (r == 0 && have)
		r = emit(o, s, ca, cz);
	return r;
}

static int section(struct out *o, const char *s, size_t a, size_t z)
{
	if (blank(s, a, z))
		return 0;
	if (hp_count_tokens(s + a, z - a) <= o->max)
		return emit(o, s, a, z);
	return pack(o, s, a, z, LVL_BLOCK);
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

/* Cut n bytes of s so that no UTF-8 sequence is split. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

static void build_path(char *path, const char *s, const size_t lv[7][2])
{
	size_t len = 0;
	path[0] = '\0';
	for (int l = 1; l <= 6; l++) {
		if (lv[l][1] <= lv[l][0])
			continue;
		size_t n = utf8_cut(s + lv[l][0], lv[l][1] - lv[l][0], LEVEL_TEXT_MAX);
		size_t sep = len ? 3 : 0;
		if (len + sep + n > HEADING_MAX)
			n = len + sep < HEADING_MAX ? utf8_cut(s + lv[l][0], n, HEADING_MAX - len - sep) : 0;
		if (!n)
			break;
		if (sep)
			memcpy(path + len, " > ", 3);
		memcpy(path + len + sep, s + lv[l][0], n);
		len += sep + n;
		path[len] = '\0';
	}
}

int hp_chunk_markdown(const char *md, size_t len, int max_tokens,
                      hp_chunk **ret_chunks, size_t *ret_n)
{
	if (max_tokens < 1)
		return -EINVAL;
	char *path = malloc(HEADING_MAX + 1);
	if (!path)
		return -ENOMEM;
	path[0] = '\0';
	struct out o = { .max = max_tokens, .heading = path };
	size_t lv[7][2] = { { 0 } };   /* heading text span per level */
	size_t sec = 0, p = 0, flen = 0;
	char fc = 0;
	int r = 0;

	while (p < len && r == 0) {
		size_t e = line_end(md, p, len);
		size_t next = e < len ? e + 1 : len;
		char c = 0;
		size_t k;
		if (flen) {
			if (is_closing(md, p, e, fc, flen))
				flen = 0;
		} else if ((k = fence_len(md, p, e, &c)) > 0) {
			flen = k;
			fc = c;
		} else {
			size_t ta, tz;
			int level = atx(md, p, e, &ta, &tz);
			if (level) {
				r = section(&o, md, sec, p);
				if (r < 0)
					break;
				lv[level][0] = ta;
				lv[level][1] = tz;
				for (int l = level + 1; l <= 6; l++)
					lv[l][0] = lv[l][1] = 0;
				build_path(path, md, (const size_t (*)[2])lv);
				sec = p;
			}
		}
		p = next;
	}
	if (r == 0)
		r = section(&o, md, sec, len);
	free(path);
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
