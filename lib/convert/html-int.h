/* html-int.h — private to the HTML converter (html.c, html_out.c, html_page.c, html_table.c, html_url.c): the
 * Markdown writer's state and the primitives the table code shares with
 * the tree walk. Not a contract beyond these files.
 */
#ifndef HOPPER_HTML_INT_H
#define HOPPER_HTML_INT_H

#include <stddef.h>

#include <libxml/tree.h>

#include "hopper/common.h"
#include "hopper/convert.h"

#define HP_HTML_MAX_PFX 64

struct hp_html_pfx {
	char s[16];        /* printed on every following line ("> ", "   ") */
	char marker[16];   /* printed instead of s on the item's first line */
	int marker_pending;
};

enum { HP_HTML_STRONG, HP_HTML_EM, HP_HTML_STRIKE, HP_HTML_NMARK };

struct hp_html_md {
	hp_buf out;
	hp_buf pend;       /* inline openers ("**", "[") not yet written */
	int err;           /* first error: -EFBIG, -ENOMEM, -ELOOP (depth) */
	int max_depth;
	size_t max_output;
	hp_doc *doc;       /* for warnings (hp_doc_warn); borrowed */
	int any;           /* text written to out yet */
	int nls;           /* newlines written since the last text */
	int need_nl;       /* newlines wanted before the next text (1 or 2) */
	int hard_br;       /* a <br> wants "  " at the end of this line */
	int space;         /* collapsed whitespace waiting for the next word */
	int item_start;    /* inside a fresh <li>: no text yet */
	int inline_only;   /* heading/cell/title: breaks become spaces */
	int escape_pipe;
	int wrap;          /* inside a link or emphasis: no blank lines, no headings */
	int in_heading;    /* rendering a heading: links to "#..." are its text */
	int drop_chrome;   /* no <main>/<article>: page chrome is left out */
	int mark[HP_HTML_NMARK]; /* open emphasis of each kind: nested ones collapse */
	struct hp_html_pfx pfx[HP_HTML_MAX_PFX];
	int npfx, pfx_over;
	int pfx_cut;       /* some prefix did not fit: a warning */
	char *h1;          /* first <h1> text, plain */
	char *title;       /* <title> text, plain */
};

/* The tree walk (html.c). */
void hp_html_walk(struct hp_html_md *m, xmlNode *n, int depth);

/* The whole page from its root element: <title>, then <main>, else the
 * <article>s, else the body without chrome (html.c). */
void hp_html_walk_page(struct hp_html_md *m, xmlNode *root);

/* n's children as one line of inline Markdown (cells, headings); a
 * malloc'd string, or NULL with m->err set. */
char *hp_html_render_inline(struct hp_html_md *m, xmlNode *n, int depth, int escape_pipe);

/* The Markdown writer (html_out.c). Errors go to m->err; after the first
 * one every call does nothing. */
void hp_html_out_add(struct hp_html_md *m, const char *s, size_t n);
void hp_html_out_str(struct hp_html_md *m, const char *s);
/* n (1 or 2) newlines before the next text, at most 1 inside an item's
 * first line, a link or emphasis. */
void hp_html_want_break(struct hp_html_md *m, int n);
/* Pending breaks, the container prefix at a line start, a pending space,
 * pending inline openers; 1 when the text now starts a line. */
int hp_html_begin_text(struct hp_html_md *m);
/* The container prefixes at a line start (a pending list marker once);
 * for a blank line without trailing blanks ("> >"). */
void hp_html_out_prefix(struct hp_html_md *m);
void hp_html_out_prefix_blank(struct hp_html_md *m);
/* One word of prose, escaped so that it stays prose. */
void hp_html_out_word(struct hp_html_md *m, const char *w, size_t n);
/* Text that must not be escaped: code spans, images, raw markers. */
void hp_html_out_atom(struct hp_html_md *m, const char *s, size_t n);
/* A text node: whitespace runs collapse to one pending space. */
void hp_html_text_node(struct hp_html_md *m, const char *s);
/* A container prefix for every following line (marker: printed instead
 * on the first line, NULL for none); past HP_HTML_MAX_PFX flattened. */
void hp_html_push_pfx(struct hp_html_md *m, const char *s, const char *marker);
void hp_html_pop_pfx(struct hp_html_md *m);

/* Element tests (html.c). */
int hp_html_is(const xmlNode *n, const char *name);
const char *hp_html_attr(const xmlNode *n, const char *name);

/* A cut that leaves a "> Note: ..." paragraph (outside inline context)
 * and a warning in meta. */
void hp_html_note(struct hp_html_md *m, const char *fmt, ...) HP_PRINTF(2, 3);

/* A click-tracking redirect (Bing's /ck/a) that names its target: that
 * target into out (NUL-terminated) and 1; -1 when the target is a script
 * (javascript:, no link at all); else 0: href as it is (html_url.c). */
int hp_html_unwrap_redirect(const char *href, char *out, size_t outlen);

/* <table> as a GFM pipe table on a grid (html_table.c). */
void hp_html_table(struct hp_html_md *m, xmlNode *n, int depth);

#endif
