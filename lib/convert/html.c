/* html.c — HTML to Markdown: the walk over libxml2's tree. The page's
 * charset, parse and entry point are html_page.c, the Markdown writer
 * html_out.c, tables html_table.c, link targets html_url.c.
 *
 * What is kept: the page's content, not its chrome. With a <main> only
 * that is converted, else with <article>s only those; otherwise <nav>,
 * role=navigation/banner/contentinfo/complementary, and <header>,
 * <footer>, <aside> outside an article or section are left out. <nav> is
 * left out everywhere.
 *
 * Output conventions (close to markitdown's, which the peer tests use):
 * "#" headings, "*" bullets, "1." numbered items indented by the marker
 * width, "**strong**", "*em*", "~~strike~~" (nested emphasis of one kind
 * collapses to one), <sub>/<sup> kept as HTML tags, `code`, fenced <pre>
 * (links inside it listed after the fence), GFM pipe tables on a real grid
 * (html_table.c), lists in table cells as "* a<br>* b", definition lists
 * as "- **term**" with the definition indented below, "---" for <hr>,
 * [text](href) and ![alt](src) without titles (a click-tracking redirect
 * links to its target, html_url.c); images with data: URIs are left out.
 * Block elements (p, div, section, figure, dt, dd, ...) are separated by a
 * blank line. Dropped: <head> (but <title> is the document
 * title, else the first <h1>), script, style, noscript, template, svg,
 * math, iframe, object, form controls (a checkbox is a task list "[x]"),
 * comments, and elements marked hidden.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "hopper/common.h"
#include "hopper/convert.h"
#include "convert-int.h"

#include "html-int.h"


static void walk(struct hp_html_md *m, xmlNode *n, int depth);
static void walk_children(struct hp_html_md *m, xmlNode *n, int depth);

static int is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->name &&
	       strcasecmp((const char *)n->name, name) == 0;
}

static const char *attr(const xmlNode *n, const char *name)
{
	for (const xmlAttr *a = n->properties; a; a = a->next)
		if (a->name && strcasecmp((const char *)a->name, name) == 0)
			return a->children && a->children->content ?
			       (const char *)a->children->content : "";
	return NULL;
}

/* ---- helpers on text content ----------------------------------------------- */

/* Collapse whitespace runs to one space and trim, in place. No-break
 * spaces (U+00A0) stay inside the text but are trimmed at its ends. */
static void collapse(char *s)
{
	char *w = s;
	int sp = 0;
	for (char *r = s; *r; r++) {
		if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r' || *r == '\f' ||
		    (w == s && r[0] == '\xC2' && r[1] == '\xA0' && r++)) {
			sp = w != s;
			continue;
		}
		if (sp)
			*w++ = ' ';
		sp = 0;
		*w++ = *r;
	}
	for (;;) {
		if (w > s && w[-1] == ' ')
			w--;
		else if (w - s >= 2 && w[-2] == '\xC2' && w[-1] == '\xA0')
			w -= 2;
		else
			break;
	}
	*w = '\0';
}

/* Plain text of a subtree, whitespace collapsed; "" on allocation failure. */
static char *plain_text(struct hp_html_md *m, xmlNode *n)
{
	xmlChar *c = xmlNodeGetContent(n);
	char *s = strdup(c ? (const char *)c : "");
	xmlFree(c);
	if (!s) {
		m->err = -ENOMEM;
		return NULL;
	}
	collapse(s);
	return s;
}

static size_t longest_run(const char *s, char c)
{
	size_t best = 0, run = 0;
	for (; *s; s++) {
		run = *s == c ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

/* Render n's children as one line of inline Markdown (headings, cells).
 * Returns a malloc'd string or NULL with m->err set. */
static char *render_inline(struct hp_html_md *m, xmlNode *n, int depth, int escape_pipe)
{
	struct hp_html_md sub;
	memset(&sub, 0, sizeof(sub));
	hp_buf_init(&sub.out, m->max_output);
	hp_buf_init(&sub.pend, m->max_output);
	sub.max_depth = m->max_depth;
	sub.max_output = m->max_output;
	sub.doc = m->doc;
	sub.drop_chrome = m->drop_chrome;
	sub.in_heading = m->in_heading;
	memcpy(sub.mark, m->mark, sizeof(sub.mark));
	sub.inline_only = 1;
	sub.escape_pipe = escape_pipe;
	walk_children(&sub, n, depth);
	char *s = NULL;
	if (!sub.err) {
		s = hp_buf_steal(&sub.out);
		if (!s)
			sub.err = -ENOMEM;
	}
	if (sub.err && !m->err)
		m->err = sub.err;
	hp_buf_free(&sub.out);
	hp_buf_free(&sub.pend);
	free(sub.h1);
	free(sub.title);
	if (s) {
		for (char *p = s; *p; p++)
			if (*p == '\n')
				*p = ' ';
		collapse(s);
	}
	return m->err ? (free(s), NULL) : s;
}

/* ---- elements --------------------------------------------------------------- */

static void heading(struct hp_html_md *m, xmlNode *n, int level, int depth)
{
	if (level == 1 && !m->h1 && !m->inline_only) {
		m->h1 = plain_text(m, n);
		if (m->h1 && !*m->h1) {
			free(m->h1);
			m->h1 = NULL;
		}
	}
	m->in_heading++;
	char *t = render_inline(m, n, depth, m->escape_pipe);
	m->in_heading--;
	if (!t)
		return;
	if (*t) {
		if (m->inline_only || m->wrap) {
			/* a heading inside a cell, or inside a link (a card): its text */
			hp_html_want_break(m, 1);
			hp_html_out_atom(m, t, strlen(t));
			hp_html_want_break(m, 1);
		} else {
			hp_html_want_break(m, 2);
			char hashes[8] = "######";
			hashes[level] = '\0';
			hp_html_begin_text(m);
			hp_html_out_str(m, hashes);
			hp_html_out_str(m, " ");
			hp_html_out_str(m, t);
			hp_html_want_break(m, 2);
		}
	}
	free(t);
}

static void out_run(struct hp_html_md *m, char c, size_t n)
{
	for (size_t i = 0; i < n && !m->err; i++)
		hp_html_out_add(m, &c, 1);
}

/* <pre> inside a cell or heading: one code span. */
static void pre_inline(struct hp_html_md *m, const char *s, size_t len)
{
	char *t = strndup(s, len);
	if (!t) {
		m->err = -ENOMEM;
		return;
	}
	collapse(t);
	size_t f = longest_run(t, '`') + 1;
	hp_html_begin_text(m);
	out_run(m, '`', f);
	for (const char *p = t; *p && !m->err; p++) {
		/* GFM §4.10: a pipe in a cell ends it even inside code */
		if (*p == '|' && m->escape_pipe)
			hp_html_out_str(m, "\\");
		hp_html_out_add(m, p, 1);
	}
	out_run(m, '`', f);
	free(t);
}

/* The language from class="language-x" / "lang-x" on <pre> or its <code>. */
static void pre_lang(xmlNode *n, char *lang, size_t size)
{
	lang[0] = '\0';
	for (xmlNode *k = n; k && !lang[0]; k = k->children) {
		const char *cls = k->type == XML_ELEMENT_NODE ? attr(k, "class") : NULL;
		const char *p = cls ? strstr(cls, "language-") : NULL;
		size_t skip = 9;
		if (!p && cls && (p = strstr(cls, "lang-")))
			skip = 5;
		if (p) {
			p += skip;
			size_t l = strcspn(p, " \t\n\"'`");
			if (l >= size)
				l = size - 1;
			memcpy(lang, p, l);
			lang[l] = '\0';
		}
		if (k != n && !is(k, "code"))
			break;
	}
}

/* A fenced code block; the fence is longer than any backtick run inside
 * (CommonMark §4.5), so no content can end it early. */
static void pre_block(struct hp_html_md *m, xmlNode *n)
{
	xmlChar *c = xmlNodeGetContent(n);
	const char *s = c ? (const char *)c : "";
	/* HTML drops a newline right after <pre> (HTML §13.2.6.4.7). */
	if (*s == '\n')
		s++;
	size_t len = strlen(s);
	while (len && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		len--;
	if (len == 0)
		goto out;
	if (m->inline_only) {
		pre_inline(m, s, len);
		goto out;
	}
	char lang[32];
	pre_lang(n, lang, sizeof(lang));
	size_t f = longest_run(s, '`') + 1;
	if (f < 3)
		f = 3;
	hp_html_want_break(m, 2);
	hp_html_begin_text(m);
	out_run(m, '`', f);
	hp_html_out_str(m, lang);
	size_t i = 0;
	while (i <= len && !m->err) {
		size_t e = i;
		while (e < len && s[e] != '\n')
			e++;
		hp_html_out_str(m, "\n");
		size_t l = e - i;
		if (l && s[e - 1] == '\r')
			l--;
		if (l)
			hp_html_out_prefix(m);
		else
			hp_html_out_prefix_blank(m);
		hp_html_out_add(m, s + i, l);
		i = e + 1;
	}
	hp_html_out_str(m, "\n");
	hp_html_out_prefix(m);
	out_run(m, '`', f);
	hp_html_want_break(m, 2);
out:
	xmlFree(c);
}

static void code_span(struct hp_html_md *m, xmlNode *n)
{
	char *t = plain_text(m, n);
	if (!t)
		return;
	if (*t) {
		size_t f = longest_run(t, '`') + 1;
		int pad = t[0] == '`' || t[strlen(t) - 1] == '`';
		hp_html_begin_text(m);
		for (size_t i = 0; i < f; i++)
			hp_html_out_str(m, "`");
		if (pad)
			hp_html_out_str(m, " ");
		for (const char *p = t; *p && !m->err; p++) {
			/* GFM §4.10: a pipe in a cell ends it even inside code */
			if (*p == '|' && m->escape_pipe)
				hp_html_out_str(m, "\\");
			hp_html_out_add(m, p, 1);
		}
		if (pad)
			hp_html_out_str(m, " ");
		for (size_t i = 0; i < f; i++)
			hp_html_out_str(m, "`");
	}
	free(t);
}

/* href/src as a Markdown link destination: spaces encoded, the rest kept. */
static void out_dest(struct hp_html_md *m, const char *u)
{
	for (; *u && !m->err; u++) {
		if (*u == ' ')
			hp_html_out_str(m, "%20");
		else if (*u == '\n' || *u == '\r' || *u == '\t')
			continue;
		else if (*u == '(' || *u == ')' || *u == '<' || *u == '>' || (*u == '|' && m->escape_pipe)) {
			char e[4];
			snprintf(e, sizeof(e), "%%%02X", (unsigned char)*u);
			hp_html_out_str(m, e);
		} else
			hp_html_out_add(m, u, 1);
	}
}

static int skip_href(const char *h)
{
	while (*h == ' ' || *h == '\t' || *h == '\n')
		h++;
	return strncasecmp(h, "javascript:", 11) == 0 || strncasecmp(h, "vbscript:", 9) == 0;
}

/* [text](href): the title attribute is left out (it repeats the text or
 * adds tooltip noise, and a quoted title inside the parentheses is one
 * more thing a Markdown reader must parse). */
static void link(struct hp_html_md *m, xmlNode *n, int depth)
{
	const char *href = attr(n, "href");
	char target[2048];
	int redirect = href ? hp_html_unwrap_redirect(href, target, sizeof(target)) : 0;
	/* A heading that links to itself (a permalink anchor) is its text. */
	if (!href || !*href || skip_href(href) || redirect < 0 || (m->in_heading && href[0] == '#')) {
		walk_children(m, n, depth);
		return;
	}
	size_t saved = m->pend.len;
	if (hp_buf_addc(&m->pend, '[') < 0)
		m->err = -ENOMEM;
	m->wrap++;
	walk_children(m, n, depth);
	m->wrap--;
	if (m->pend.len > saved) {     /* no text inside: drop the link */
		m->pend.len = saved;
		if (m->pend.data)
			m->pend.data[saved] = '\0';
		return;
	}
	hp_html_out_str(m, "](");
	out_dest(m, redirect > 0 ? target : href);
	hp_html_out_str(m, ")");
}

/* ![alt](src). An image whose bytes are inline (data: URI) is left out:
 * the payload is not text, and a truncated URI is not a link anywhere. */
static void image(struct hp_html_md *m, xmlNode *n)
{
	const char *src = attr(n, "src");
	const char *alt = attr(n, "alt");
	while (src && (*src == ' ' || *src == '\t' || *src == '\n'))
		src++;
	if (!src || !*src || strncasecmp(src, "data:", 5) == 0)
		return;
	hp_buf b;
	hp_buf_init(&b, m->max_output);
	int r = hp_buf_addstr(&b, "![");
	char *a = strdup(alt ? alt : "");
	if (!a)
		r = -ENOMEM;
	else
		collapse(a);
	for (const char *p = a; r == 0 && p && *p; p++) {
		if (*p == '[' || *p == ']' || *p == '\\' || (*p == '|' && m->escape_pipe))
			r = hp_buf_addc(&b, '\\');
		if (r == 0)
			r = hp_buf_addc(&b, *p);
	}
	free(a);
	if (r == 0)
		r = hp_buf_addstr(&b, "](");
	if (r < 0) {
		m->err = r;
		hp_buf_free(&b);
		return;
	}
	hp_html_out_atom(m, b.data, b.len);
	hp_buf_free(&b);
	out_dest(m, src);
	hp_html_out_str(m, ")");
}

/* open ... close around n's content, or nothing when it has no text. */
static void wrap_inline(struct hp_html_md *m, xmlNode *n, int depth, const char *open,
                        const char *close)
{
	size_t saved = m->pend.len;
	if (hp_buf_addstr(&m->pend, open) < 0)
		m->err = -ENOMEM;
	m->wrap++;
	walk_children(m, n, depth);
	m->wrap--;
	if (m->pend.len > saved) {
		m->pend.len = saved;
		if (m->pend.data)
			m->pend.data[saved] = '\0';
		return;
	}
	hp_html_out_str(m, close);
}

/* **strong**, *em*, ~~strike~~. Inside one of the same kind the markers
 * would close and reopen ("*a *b* c*" is not emphasis of "b"), so a
 * nested one adds none. */
static void emphasis(struct hp_html_md *m, xmlNode *n, int depth, int kind)
{
	static const char *const marks[HP_HTML_NMARK] = { "**", "*", "~~" };
	if (m->mark[kind]) {
		walk_children(m, n, depth);
		return;
	}
	m->mark[kind]++;
	wrap_inline(m, n, depth, marks[kind], marks[kind]);
	m->mark[kind]--;
}

static int in_list_item(const xmlNode *n)
{
	for (const xmlNode *p = n->parent; p; p = p->parent)
		if (is(p, "li") || is(p, "dd"))
			return 1;
	return 0;
}

static void list_item(struct hp_html_md *m, xmlNode *li, int depth, const char *marker)
{
	if (m->inline_only) {
		m->space = 1;
		walk_children(m, li, depth);
		m->space = 1;
		return;
	}
	char pad[16];
	size_t w = strlen(marker);
	memset(pad, ' ', w);
	pad[w] = '\0';
	hp_html_want_break(m, 1);
	hp_html_push_pfx(m, pad, marker);
	m->item_start = 1;
	walk_children(m, li, depth);
	/* An empty item prints nothing, and its marker must not leak. */
	m->item_start = 0;
	hp_html_pop_pfx(m);
	hp_html_want_break(m, 1);
}

static long list_start(const xmlNode *n, int ordered)
{
	const char *start = ordered ? attr(n, "start") : NULL;
	long num = start ? strtol(start, NULL, 10) : 1;
	return num < 0 || num > 999999999 ? 1 : num;
}

/* A list inside a table cell (or heading): one line, items separated by
 * <br> and keeping their markers, "* a<br>* b" / "1. a<br>2. b". */
static void inline_list(struct hp_html_md *m, xmlNode *n, int depth, int ordered)
{
	long num = list_start(n, ordered);
	int first = 1;
	for (xmlNode *c = n->children; c && !m->err; c = c->next) {
		if (!is(c, "li")) {
			walk(m, c, depth + 1);
			continue;
		}
		char marker[24];
		if (ordered)
			snprintf(marker, sizeof(marker), "%ld.", num++ % 1000000000);
		else
			snprintf(marker, sizeof(marker), "*");
		if (!first) {
			m->space = 0;
			hp_html_out_atom(m, "<br>", 4);
		}
		hp_html_out_atom(m, marker, strlen(marker));
		m->space = 1;
		walk_children(m, c, depth + 1);
		first = 0;
	}
	m->space = 1;
}

/* The first <a> under n (not deeper than a few levels), or NULL. */
static const xmlNode *first_link(const xmlNode *n, int levels)
{
	for (const xmlNode *c = n->children; c && levels > 0; c = c->next) {
		if (is(c, "a"))
			return c;
		const xmlNode *a = c->type == XML_ELEMENT_NODE ? first_link(c, levels - 1) : NULL;
		if (a)
			return a;
	}
	return NULL;
}

/* A language switcher: a list whose every item links to the page in
 * another language (hreflang, HTML §4.6.2). Chrome, however it is marked. */
static int lang_switcher(const xmlNode *n)
{
	int items = 0;
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (!is(c, "li"))
			continue;
		const xmlNode *a = first_link(c, 3);
		if (!a || !attr(a, "hreflang"))
			return 0;
		items++;
	}
	return items >= 3;
}

static void list(struct hp_html_md *m, xmlNode *n, int depth, int ordered)
{
	if (lang_switcher(n))
		return;
	if (m->inline_only) {
		inline_list(m, n, depth, ordered);
		return;
	}
	int nested = in_list_item(n);
	hp_html_want_break(m, nested ? 1 : 2);
	long num = list_start(n, ordered);
	for (xmlNode *c = n->children; c && !m->err; c = c->next) {
		if (is(c, "li")) {
			if (depth + 1 > m->max_depth) {
				m->err = -ELOOP;
				return;
			}
			char marker[16];
			if (ordered)
				snprintf(marker, sizeof(marker), "%d. ", (int)(num++ % 1000000000));
			else
				snprintf(marker, sizeof(marker), "* ");
			list_item(m, c, depth + 1, marker);
		} else
			walk(m, c, depth + 1);
	}
	hp_html_want_break(m, nested ? 1 : 2);
}

/* <dl>: each term a "- **term**" item, each definition an indented
 * paragraph under it. */
static void def_list(struct hp_html_md *m, xmlNode *n, int depth)
{
	if (m->inline_only) {
		walk_children(m, n, depth);
		return;
	}
	hp_html_want_break(m, 2);
	for (xmlNode *c = n->children; c && !m->err; c = c->next) {
		if (depth + 1 > m->max_depth) {
			m->err = -ELOOP;
			return;
		}
		if (is(c, "dt")) {
			hp_html_want_break(m, 1);
			hp_html_push_pfx(m, "  ", "- ");
			m->item_start = 1;
			emphasis(m, c, depth + 1, HP_HTML_STRONG);
			m->item_start = 0;
			hp_html_pop_pfx(m);
		} else if (is(c, "dd")) {
			hp_html_want_break(m, 2);
			hp_html_push_pfx(m, "  ", NULL);
			walk_children(m, c, depth + 1);
			hp_html_pop_pfx(m);
			hp_html_want_break(m, 2);
		} else if (is(c, "div")) {
			def_list(m, c, depth + 1);   /* <div> groups inside <dl> (HTML §4.4.9) */
		} else
			walk(m, c, depth + 1);
	}
	hp_html_want_break(m, 2);
}

/* Links inside <pre>: a fenced block cannot hold them, so they follow the
 * block as a line of links. */
static void pre_links(struct hp_html_md *m, xmlNode *n, int depth, int *count)
{
	for (xmlNode *c = n->children; c && !m->err; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (depth + 1 > m->max_depth) {
			m->err = -ELOOP;
			return;
		}
		const char *href = is(c, "a") ? attr(c, "href") : NULL;
		if (href && *href && !skip_href(href)) {
			if (*count == 0) {
				hp_html_want_break(m, 2);
				hp_html_out_atom(m, "Links:", 6);
			}
			m->space = 1;
			link(m, c, depth + 1);
			++*count;
		} else
			pre_links(m, c, depth + 1, count);
	}
}

/* ---- the walk ------------------------------------------------------------------ */

static int has_role(const xmlNode *n, const char *const *roles)
{
	const char *r = attr(n, "role");
	if (!r)
		return 0;
	for (const char *const *p = roles; *p; p++)
		if (strcasecmp(r, *p) == 0)
			return 1;
	return 0;
}

/* Navigation is chrome wherever it is. */
static int nav_role(const xmlNode *n)
{
	static const char *const roles[] = { "navigation", "menubar", NULL };
	return has_role(n, roles);
}

/* Without <main>/<article>: header, footer, aside and their landmark roles
 * are chrome unless an article or section owns them (HTML §4.3.8: then
 * they are its own). Inside <main> they are kept: pages put the roles on
 * content too (a search page marks each result "contentinfo"). */
static int is_chrome(const xmlNode *n)
{
	static const char *const roles[] = { "banner", "contentinfo", "complementary", NULL };
	if (!is(n, "header") && !is(n, "footer") && !is(n, "aside") && !has_role(n, roles))
		return 0;
	for (const xmlNode *p = n->parent; p; p = p->parent)
		if (is(p, "article") || is(p, "section") || is(p, "main"))
			return 0;
	return 1;
}

static void head(struct hp_html_md *m, xmlNode *n)
{
	for (xmlNode *c = n->children; c; c = c->next)
		if (is(c, "title") && !m->title) {
			m->title = plain_text(m, c);
			if (m->title && !*m->title) {
				free(m->title);
				m->title = NULL;
			}
		}
}

static void walk_children(struct hp_html_md *m, xmlNode *n, int depth)
{
	for (xmlNode *c = n->children; c && !m->err; c = c->next)
		walk(m, c, depth + 1);
}

static void el_head(struct hp_html_md *m, xmlNode *n, int depth)
{
	head(m, n);
}

static void el_title(struct hp_html_md *m, xmlNode *n, int depth)
{
	if (!m->title)
		m->title = plain_text(m, n);
}

static void el_br(struct hp_html_md *m, xmlNode *n, int depth)
{
	if (m->inline_only)
		m->space = 1;
	else {
		if (m->need_nl < 1)
			m->need_nl = 1;
		m->hard_br = 1;
		m->space = 0;
	}
}

static void el_hr(struct hp_html_md *m, xmlNode *n, int depth)
{
	if (!m->inline_only) {
		hp_html_want_break(m, 2);
		hp_html_begin_text(m);
		hp_html_out_str(m, "---");
		hp_html_want_break(m, 2);
	}
}

static void el_pre(struct hp_html_md *m, xmlNode *n, int depth)
{
	pre_block(m, n);
	int links = 0;
	if (!m->inline_only)
		pre_links(m, n, depth, &links);
	if (links)
		hp_html_want_break(m, 2);
}

/* Form fields are left out, but a checkbox is a task list's state
 * (GFM "- [x] done"). */
static void el_input(struct hp_html_md *m, xmlNode *n, int depth)
{
	const char *type = attr(n, "type");
	if (!type || strcasecmp(type, "checkbox") != 0)
		return;
	hp_html_out_atom(m, attr(n, "checked") ? "[x]" : "[ ]", 3);
	m->space = 1;
}

static void el_code(struct hp_html_md *m, xmlNode *n, int depth)
{
	code_span(m, n);
}

static void el_a(struct hp_html_md *m, xmlNode *n, int depth)
{
	link(m, n, depth);
}

static void el_img(struct hp_html_md *m, xmlNode *n, int depth)
{
	image(m, n);
}

static void el_strong(struct hp_html_md *m, xmlNode *n, int depth)
{
	emphasis(m, n, depth, HP_HTML_STRONG);
}

static void el_em(struct hp_html_md *m, xmlNode *n, int depth)
{
	emphasis(m, n, depth, HP_HTML_EM);
}

static void el_strike(struct hp_html_md *m, xmlNode *n, int depth)
{
	emphasis(m, n, depth, HP_HTML_STRIKE);
}

static void el_sub(struct hp_html_md *m, xmlNode *n, int depth)
{
	wrap_inline(m, n, depth, "<sub>", "</sub>");
}

static void el_sup(struct hp_html_md *m, xmlNode *n, int depth)
{
	wrap_inline(m, n, depth, "<sup>", "</sup>");
}

static void el_ul(struct hp_html_md *m, xmlNode *n, int depth)
{
	list(m, n, depth, 0);
}

static void el_ol(struct hp_html_md *m, xmlNode *n, int depth)
{
	list(m, n, depth, 1);
}

static void el_li(struct hp_html_md *m, xmlNode *n, int depth)
{
	list_item(m, n, depth, "* ");
}

static void el_dl(struct hp_html_md *m, xmlNode *n, int depth)
{
	def_list(m, n, depth);
}

/* Write the pending line breaks now, with the prefix of the container
 * they belong to: a blank line before a quote is blank, not ">". */
static void flush_breaks(struct hp_html_md *m)
{
	if (!m->any || m->inline_only)
		return;
	if (m->hard_br && m->nls == 0 && m->need_nl == 1)
		return;     /* begin_text writes the "  " of the <br> first */
	while (m->nls < m->need_nl) {
		if (m->nls > 0)
			hp_html_out_prefix_blank(m);
		hp_html_out_str(m, "\n");
		m->nls++;
	}
}

static void el_blockquote(struct hp_html_md *m, xmlNode *n, int depth)
{
	hp_html_want_break(m, 2);
	flush_breaks(m);
	if (!m->inline_only)
		hp_html_push_pfx(m, "> ", NULL);
	walk_children(m, n, depth);
	if (!m->inline_only)
		hp_html_pop_pfx(m);
	hp_html_want_break(m, 2);
}

static void el_table(struct hp_html_md *m, xmlNode *n, int depth)
{
	hp_html_table(m, n, depth);
}

static void el_cell(struct hp_html_md *m, xmlNode *n, int depth)
{
	/* a cell outside a table row: separate it like a cell */
	m->space = 1;
	walk_children(m, n, depth);
	m->space = 1;
}

/* Every element with its own treatment, sorted by name for bsearch()
 * (libxml2's HTML parser gives element names in lower case). Elements not
 * here (span, font, abbr, unknown) are walked through. */
enum el_kind { EL_HANDLER, EL_DROPPED, EL_BLOCK, EL_ROW };

static const struct element {
	const char *name;
	enum el_kind kind;
	void (*fn)(struct hp_html_md *m, xmlNode *n, int depth);
} elements[] = {
	{ "a", EL_HANDLER, el_a },
	{ "address", EL_BLOCK, NULL },
	{ "article", EL_BLOCK, NULL },
	{ "aside", EL_BLOCK, NULL },
	{ "audio", EL_DROPPED, NULL },
	{ "b", EL_HANDLER, el_strong },
	{ "base", EL_DROPPED, NULL },
	{ "blockquote", EL_HANDLER, el_blockquote },
	{ "body", EL_BLOCK, NULL },
	{ "br", EL_HANDLER, el_br },
	{ "button", EL_DROPPED, NULL },
	{ "canvas", EL_DROPPED, NULL },
	{ "caption", EL_BLOCK, NULL },
	{ "center", EL_BLOCK, NULL },
	{ "cite", EL_HANDLER, el_em },
	{ "code", EL_HANDLER, el_code },
	{ "datalist", EL_DROPPED, NULL },
	{ "dd", EL_BLOCK, NULL },
	{ "del", EL_HANDLER, el_strike },
	{ "details", EL_BLOCK, NULL },
	{ "dfn", EL_HANDLER, el_em },
	{ "dir", EL_HANDLER, el_ul },
	{ "div", EL_BLOCK, NULL },
	{ "dl", EL_HANDLER, el_dl },
	{ "dt", EL_BLOCK, NULL },
	{ "em", EL_HANDLER, el_em },
	{ "embed", EL_DROPPED, NULL },
	{ "fieldset", EL_BLOCK, NULL },
	{ "figcaption", EL_BLOCK, NULL },
	{ "figure", EL_BLOCK, NULL },
	{ "footer", EL_BLOCK, NULL },
	{ "form", EL_BLOCK, NULL },
	{ "frame", EL_DROPPED, NULL },
	{ "frameset", EL_DROPPED, NULL },
	{ "head", EL_HANDLER, el_head },
	{ "header", EL_BLOCK, NULL },
	{ "hgroup", EL_BLOCK, NULL },
	{ "hr", EL_HANDLER, el_hr },
	{ "html", EL_BLOCK, NULL },
	{ "i", EL_HANDLER, el_em },
	{ "iframe", EL_DROPPED, NULL },
	{ "img", EL_HANDLER, el_img },
	{ "input", EL_HANDLER, el_input },
	{ "kbd", EL_HANDLER, el_code },
	{ "legend", EL_BLOCK, NULL },
	{ "li", EL_HANDLER, el_li },
	{ "link", EL_DROPPED, NULL },
	{ "listing", EL_HANDLER, el_pre },
	{ "main", EL_BLOCK, NULL },
	{ "map", EL_DROPPED, NULL },
	{ "math", EL_DROPPED, NULL },
	{ "menu", EL_HANDLER, el_ul },
	{ "meta", EL_DROPPED, NULL },
	{ "nav", EL_DROPPED, NULL },
	{ "noscript", EL_DROPPED, NULL },
	{ "object", EL_DROPPED, NULL },
	{ "ol", EL_HANDLER, el_ol },
	{ "option", EL_DROPPED, NULL },
	{ "p", EL_BLOCK, NULL },
	{ "plaintext", EL_HANDLER, el_pre },
	{ "pre", EL_HANDLER, el_pre },
	{ "s", EL_HANDLER, el_strike },
	{ "samp", EL_HANDLER, el_code },
	{ "script", EL_DROPPED, NULL },
	{ "search", EL_BLOCK, NULL },
	{ "section", EL_BLOCK, NULL },
	{ "select", EL_DROPPED, NULL },
	{ "source", EL_DROPPED, NULL },
	{ "strike", EL_HANDLER, el_strike },
	{ "strong", EL_HANDLER, el_strong },
	{ "style", EL_DROPPED, NULL },
	{ "sub", EL_HANDLER, el_sub },
	{ "summary", EL_BLOCK, NULL },
	{ "sup", EL_HANDLER, el_sup },
	{ "svg", EL_DROPPED, NULL },
	{ "table", EL_HANDLER, el_table },
	{ "td", EL_HANDLER, el_cell },
	{ "template", EL_DROPPED, NULL },
	{ "textarea", EL_DROPPED, NULL },
	{ "th", EL_HANDLER, el_cell },
	{ "title", EL_HANDLER, el_title },
	{ "tr", EL_ROW, NULL },
	{ "track", EL_DROPPED, NULL },
	{ "tt", EL_HANDLER, el_code },
	{ "ul", EL_HANDLER, el_ul },
	{ "var", EL_HANDLER, el_em },
	{ "video", EL_DROPPED, NULL },
	{ "xmp", EL_HANDLER, el_pre },
};

static int element_cmp(const void *key, const void *e)
{
	return strcmp(key, ((const struct element *)e)->name);
}

static const struct element *element_of(const xmlNode *n)
{
	char low[16];
	size_t i = 0;
	if (n->type != XML_ELEMENT_NODE || !n->name)
		return NULL;
	for (const xmlChar *p = n->name; *p; p++) {
		if (i + 1 >= sizeof(low))
			return NULL;
		low[i++] = (char)tolower(*p);
	}
	low[i] = '\0';
	return bsearch(low, elements, HP_ARRAY_SIZE(elements), sizeof(elements[0]), element_cmp);
}

static int is_dropped(const xmlNode *n)
{
	const struct element *e = element_of(n);
	return e && e->kind == EL_DROPPED;
}

/* Is n left out altogether? */
static int skipped(const struct hp_html_md *m, const xmlNode *n)
{
	if (is_dropped(n) || attr(n, "hidden") || nav_role(n))
		return 1;
	const char *ah = attr(n, "aria-hidden");
	if (ah && strcasecmp(ah, "true") == 0)
		return 1;
	return m->drop_chrome && is_chrome(n);
}

static void walk(struct hp_html_md *m, xmlNode *n, int depth)
{
	if (m->err)
		return;
	if (depth > m->max_depth) {
		m->err = -ELOOP;
		return;
	}
	if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
		if (n->content)
			hp_html_text_node(m, (const char *)n->content);
		return;
	}
	if (n->type != XML_ELEMENT_NODE || !n->name)
		return;      /* comments, processing instructions, DTD */
	if (skipped(m, n))
		return;
	const char *name = (const char *)n->name;
	if (tolower((unsigned char)name[0]) == 'h' && name[1] >= '1' && name[1] <= '6' && !name[2]) {
		heading(m, n, name[1] - '0', depth);
		return;
	}
	const struct element *e = element_of(n);
	if (e && e->kind == EL_HANDLER) {
		e->fn(m, n, depth);
	} else if (e && e->kind == EL_BLOCK) {
		/* separated from what is around them by a blank line */
		hp_html_want_break(m, 2);
		walk_children(m, n, depth);
		hp_html_want_break(m, 2);
	} else if (e && e->kind == EL_ROW) {
		hp_html_want_break(m, 1);
		walk_children(m, n, depth);
		hp_html_want_break(m, 1);
	} else {
		walk_children(m, n, depth);     /* span, font, abbr, unknown */
	}
}

/* ---- the page's content --------------------------------------------------------- */

/* The first element named `name` under n in document order that is not
 * skipped, or NULL. */
static xmlNode *find_first(struct hp_html_md *m, xmlNode *n, const char *name, int depth)
{
	if (depth > m->max_depth)
		return NULL;
	for (xmlNode *c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || skipped(m, c))
			continue;
		if (is(c, name))
			return c;
		xmlNode *f = find_first(m, c, name, depth + 1);
		if (f)
			return f;
	}
	return NULL;
}

/* Walk every outermost <article> under n; how many there were. */
static int walk_articles(struct hp_html_md *m, xmlNode *n, int depth)
{
	int k = 0;
	if (depth > m->max_depth)
		return 0;
	for (xmlNode *c = n->children; c && !m->err; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || skipped(m, c))
			continue;
		if (is(c, "article")) {
			walk(m, c, depth + 1);
			k++;
		} else
			k += walk_articles(m, c, depth + 1);
	}
	return k;
}

static int has_text(xmlNode *n)
{
	xmlChar *c = xmlNodeGetContent(n);
	int any = 0;
	for (const xmlChar *p = c; p && *p && !any; p++)
		any = !isspace(*p);
	xmlFree(c);
	return any;
}

/* The page: its <title>, then <main>, else its <article>s, else the body
 * without chrome. A <main> or <article> with no text does not count. */
void hp_html_walk_page(struct hp_html_md *m, xmlNode *root)
{
	for (xmlNode *c = root->children; c; c = c->next)
		if (is(c, "head"))
			head(m, c);
	xmlNode *main_el = find_first(m, root, "main", 1);
	if (!main_el && is(root, "main"))
		main_el = root;
	if (main_el && has_text(main_el)) {
		walk(m, main_el, 1);
		return;
	}
	xmlNode *art = find_first(m, root, "article", 1);
	if (art && has_text(art)) {
		walk_articles(m, root, 1);
		return;
	}
	m->drop_chrome = 1;
	walk(m, root, 1);
}

/* ---- shared with html_table.c ---------------------------------------------------- */

void hp_html_walk(struct hp_html_md *m, xmlNode *n, int depth)
{
	walk(m, n, depth);
}

char *hp_html_render_inline(struct hp_html_md *m, xmlNode *n, int depth, int escape_pipe)
{
	return render_inline(m, n, depth, escape_pipe);
}

int hp_html_is(const xmlNode *n, const char *name)
{
	return is(n, name);
}

const char *hp_html_attr(const xmlNode *n, const char *name)
{
	return attr(n, name);
}

