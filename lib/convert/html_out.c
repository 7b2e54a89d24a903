/* html_out.c — the HTML converter's Markdown writer: pending line
 * breaks, container prefixes ("> ", list indents and markers), spaces
 * between words, escaping of prose, and the "> Note:" of a cut. The tree
 * walk (html.c) and the tables (html_table.c) write only through these.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/convert.h"
#include "convert-int.h"

#include "html-int.h"

/* ---- output primitives ----------------------------------------------------- */

void hp_html_out_add(struct hp_html_md *m, const char *s, size_t n)
{
	if (m->err)
		return;
	int r = hp_buf_add(&m->out, s, n);
	if (r < 0)
		m->err = r;
}

void hp_html_out_str(struct hp_html_md *m, const char *s)
{
	hp_html_out_add(m, s, strlen(s));
}

void hp_html_want_break(struct hp_html_md *m, int n)
{
	/* The first block inside a list item shares the marker's line; inside
	 * a link or emphasis a blank line would end it: a line break at most. */
	if (m->item_start || m->wrap)
		n = n > 1 ? 1 : n;
	if (n > m->need_nl)
		m->need_nl = n;
	m->space = 0;
}

/* The container prefix for a blank line: "> > " without trailing blanks. */
void hp_html_out_prefix_blank(struct hp_html_md *m)
{
	char buf[HP_HTML_MAX_PFX * 16 + 1];
	size_t len = 0;
	for (int i = 0; i < m->npfx; i++) {
		size_t l = strlen(m->pfx[i].s);
		memcpy(buf + len, m->pfx[i].s, l);
		len += l;
	}
	while (len && buf[len - 1] == ' ')
		len--;
	hp_html_out_add(m, buf, len);
}

void hp_html_out_prefix(struct hp_html_md *m)
{
	for (int i = 0; i < m->npfx; i++) {
		struct hp_html_pfx *p = &m->pfx[i];
		if (p->marker_pending) {
			hp_html_out_str(m, p->marker);
			p->marker_pending = 0;
		} else
			hp_html_out_str(m, p->s);
	}
}

/* Make the output ready for the next piece of text: pending line breaks,
 * the container prefix at a line start, a pending space. Returns 1 when
 * the text now starts a line. */
int hp_html_begin_text(struct hp_html_md *m)
{
	int line_start = 0;
	if (m->inline_only) {
		if (m->need_nl && m->any)
			m->space = 1;
		m->need_nl = 0;
	}
	if (!m->any) {
		m->need_nl = 0;
		m->space = 0;
		hp_html_out_prefix(m);
		line_start = 1;
	} else if (m->need_nl) {
		if (m->hard_br && m->nls == 0 && m->need_nl == 1)
			hp_html_out_str(m, "  ");
		while (m->nls < m->need_nl) {
			if (m->nls > 0)
				hp_html_out_prefix_blank(m);
			hp_html_out_str(m, "\n");
			m->nls++;
		}
		hp_html_out_prefix(m);
		line_start = 1;
		m->space = 0;
	} else if (m->space) {
		hp_html_out_str(m, " ");
	}
	m->need_nl = 0;
	m->hard_br = 0;
	m->space = 0;
	m->nls = 0;
	m->any = 1;
	m->item_start = 0;
	if (m->pend.len) {
		hp_html_out_add(m, m->pend.data, m->pend.len);
		hp_buf_reset(&m->pend);
		line_start = 0;
	}
	return line_start;
}

/* One word of prose, escaped so that it stays prose in Markdown. */
void hp_html_out_word(struct hp_html_md *m, const char *w, size_t n)
{
	int ls = hp_html_begin_text(m);
	if (m->err)
		return;
	if (ls) {
		/* Line-start syntax: "# x", "> x", "- x", "1. x", "---". */
		int esc = 0;
		if (w[0] == '#' || w[0] == '>' || w[0] == '=')
			esc = 1;
		else if ((w[0] == '-' || w[0] == '+') && (n == 1 || strspn(w, "-") == n))
			esc = 1;
		if (esc)
			hp_html_out_str(m, "\\");
		else {
			size_t d = 0;
			while (d < n && d < 10 && isdigit((unsigned char)w[d]))
				d++;
			if (d > 0 && d + 1 == n && (w[d] == '.' || w[d] == ')')) {
				hp_html_out_add(m, w, d);
				hp_html_out_str(m, "\\");
				w += d;
				n -= d;
			}
		}
	}
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		char c = w[i];
		if (c == '\\' || c == '*' || c == '_' || c == '`' || c == '[' || c == ']' ||
		    c == '<' || (c == '|' && m->escape_pipe)) {
			hp_html_out_add(m, w + run, i - run);
			hp_html_out_str(m, "\\");
			run = i;
		}
	}
	hp_html_out_add(m, w + run, n - run);
}

/* Text that must not be escaped: code spans, images, raw markers. */
void hp_html_out_atom(struct hp_html_md *m, const char *s, size_t n)
{
	hp_html_begin_text(m);
	hp_html_out_add(m, s, n);
}

void hp_html_text_node(struct hp_html_md *m, const char *s)
{
	while (*s && !m->err) {
		size_t ws = strspn(s, " \t\n\r\f");
		if (ws) {
			m->space = 1;
			s += ws;
			continue;
		}
		size_t w = strcspn(s, " \t\n\r\f");
		hp_html_out_word(m, s, w);
		s += w;
	}
}

void hp_html_push_pfx(struct hp_html_md *m, const char *s, const char *marker)
{
	if (m->npfx >= HP_HTML_MAX_PFX) {
		m->pfx_over++;
		m->pfx_cut = 1;
		return;
	}
	struct hp_html_pfx *p = &m->pfx[m->npfx++];
	snprintf(p->s, sizeof(p->s), "%s", s);
	snprintf(p->marker, sizeof(p->marker), "%s", marker ? marker : "");
	p->marker_pending = marker != NULL;
}

void hp_html_pop_pfx(struct hp_html_md *m)
{
	if (m->pfx_over)
		m->pfx_over--;
	else if (m->npfx > 0)
		m->npfx--;
}

void hp_html_note(struct hp_html_md *m, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		m->err = -ENOMEM;
		return;
	}
	if (m->doc && (r = hp_doc_warn(m->doc, "%s", s)) < 0)
		m->err = r;
	if (!m->inline_only) {
		hp_html_want_break(m, 2);
		hp_html_begin_text(m);
		hp_html_out_str(m, "> Note: ");
		hp_html_out_str(m, s);
		hp_html_want_break(m, 2);
	}
	free(s);
}
