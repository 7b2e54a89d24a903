/* markdown.c — Markdown documents are stored as they are.
 *
 * Only the charset (UTF-8 via hp_to_utf8) and line ends (CRLF -> LF) are
 * normalised. YAML front matter ("---" ... "---" or "...") stays in the
 * text; its `title:` is the document title when present, otherwise the
 * first ATX ("# T") or setext ("T\n===") heading outside fenced code is.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/convert.h"
#include "convert-int.h"

struct line {
	const char *s;
	size_t n;     /* without the '\n' */
};

static int next_line(const char *s, size_t len, size_t *pos, struct line *l)
{
	if (*pos >= len)
		return 0;
	const char *nl = memchr(s + *pos, '\n', len - *pos);
	size_t e = nl ? (size_t)(nl - s) : len;
	l->s = s + *pos;
	l->n = e - *pos;
	*pos = nl ? e + 1 : len;
	return 1;
}

static int is_blank(const struct line *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (!isspace((unsigned char)l->s[i]))
			return 0;
	return 1;
}

/* Line consisting of `c` repeated (>= min), optional trailing spaces. */
static int is_rule_of(const struct line *l, char c, size_t min)
{
	size_t i = 0, k = 0;
	while (i < l->n && i < 3 && l->s[i] == ' ')
		i++;
	while (i < l->n && l->s[i] == c)
		i++, k++;
	while (i < l->n && isspace((unsigned char)l->s[i]))
		i++;
	return i == l->n && k >= min;
}

/* Fence opener/closer: 0-3 spaces then >= 3 '`' or '~'. Returns the run
 * length and its char, 0 when not a fence (CommonMark §4.5). */
static size_t fence_of(const struct line *l, char *ret_c)
{
	size_t i = 0;
	while (i < l->n && i < 3 && l->s[i] == ' ')
		i++;
	if (i >= l->n || (l->s[i] != '`' && l->s[i] != '~'))
		return 0;
	char c = l->s[i];
	size_t k = 0;
	while (i < l->n && l->s[i] == c)
		i++, k++;
	if (k < 3)
		return 0;
	*ret_c = c;
	return k;
}

/* ATX heading text into [*a, *z), or 0 when l is not one. */
static int atx_heading(const struct line *l, size_t *a, size_t *z)
{
	size_t i = 0, k = 0;
	while (i < l->n && i < 3 && l->s[i] == ' ')
		i++;
	while (i < l->n && l->s[i] == '#')
		i++, k++;
	if (k < 1 || k > 6 || (i < l->n && l->s[i] != ' ' && l->s[i] != '\t'))
		return 0;
	size_t e = l->n;
	while (e > i && isspace((unsigned char)l->s[e - 1]))
		e--;
	/* optional closing sequence: spaces then #s */
	size_t h = e;
	while (h > i && l->s[h - 1] == '#')
		h--;
	if (h < e && (h == i || l->s[h - 1] == ' ' || l->s[h - 1] == '\t'))
		e = h;
	while (i < e && isspace((unsigned char)l->s[i]))
		i++;
	while (e > i && isspace((unsigned char)l->s[e - 1]))
		e--;
	*a = i;
	*z = e;
	return 1;
}

static int title_dup(const char *s, size_t n, char **ret)
{
	return hp_title_from_line(s, n, HP_TITLE_MAX, ret);
}

/* `title:` from YAML front matter, if any; *pos is set past the block. */
static int front_matter(const char *s, size_t len, size_t *pos, char **ret_title)
{
	struct line l;
	size_t p = 0;
	*ret_title = NULL;
	if (!next_line(s, len, &p, &l) || l.n < 3 || memcmp(l.s, "---", 3) != 0 || !is_rule_of(&l, '-', 3) || l.n > 3 + 8)
		return 0;
	const char *title = NULL;
	size_t tn = 0;
	while (next_line(s, len, &p, &l)) {
		if ((l.n >= 3 && (memcmp(l.s, "---", 3) == 0 || memcmp(l.s, "...", 3) == 0)) &&
		    (is_rule_of(&l, '-', 3) || is_rule_of(&l, '.', 3))) {
			*pos = p;
			if (!title)
				return 0;
			/* strip matching quotes */
			if (tn >= 2 && (title[0] == '"' || title[0] == '\'') && title[tn - 1] == title[0]) {
				title++;
				tn -= 2;
			}
			return title_dup(title, tn, ret_title);
		}
		if (!title && l.n > 6 && strncmp(l.s, "title:", 6) == 0) {
			title = l.s + 6;
			tn = l.n - 6;
			while (tn && isspace((unsigned char)*title))
				title++, tn--;
			while (tn && isspace((unsigned char)title[tn - 1]))
				tn--;
		}
	}
	return 0;    /* never closed: not front matter */
}

static int md_title(const char *s, size_t len, char **ret)
{
	size_t pos = 0;
	int r = front_matter(s, len, &pos, ret);
	if (r < 0 || *ret)
		return r;
	struct line l, prev = { NULL, 0 };
	int prev_para = 0;
	char fc = 0;
	size_t fence = 0;
	while (next_line(s, len, &pos, &l)) {
		char c;
		size_t k = fence_of(&l, &c);
		if (fence) {
			if (k >= fence && c == fc)
				fence = 0;
			prev_para = 0;
			continue;
		}
		if (k) {
			fence = k;
			fc = c;
			prev_para = 0;
			continue;
		}
		size_t a, z;
		if (atx_heading(&l, &a, &z))
			return title_dup(l.s + a, z - a, ret);
		if (prev_para && (is_rule_of(&l, '=', 1) || is_rule_of(&l, '-', 1)))
			return title_dup(prev.s, prev.n, ret);
		prev_para = !is_blank(&l) && !(l.n && (l.s[0] == '>' || l.s[0] == '<')) &&
		            !(l.n >= 4 && memcmp(l.s, "    ", 4) == 0);
		prev = l;
	}
	*ret = NULL;
	return 0;
}

static int convert_markdown(const char *name, const char *data, size_t len,
                            const hp_convert_limits *lim, hp_doc *doc,
                            char *err, size_t errlen)
{
	return hp_conv_as_is(data, len, lim, md_title, doc, err, errlen);
}

const hp_converter hp_conv_markdown = { HP_FMT_MARKDOWN, convert_markdown };
