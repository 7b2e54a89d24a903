/* html_page.c — the HTML converter's entry point: the page's bytes to
 * UTF-8, libxml2's HTML parser, the walk (html.c), then the title and
 * meta.
 *
 * Charset: we decide it before libxml2 sees the bytes and hand it UTF-8
 * with HTML_PARSE_IGNORE_ENC, so libxml2 never needs iconv (which could
 * not load its modules inside the worker sandbox). Order: a byte order
 * mark; valid UTF-8 as it is; a <meta charset> / http-equiv charset in the
 * first 4 KiB when it names a charset we have open; else uchardet
 * (hp_to_utf8). A page whose meta charset is wrong falls back to uchardet.
 *
 * Safety: HTML_PARSE_NONET, and the HTML parser never loads external
 * entities or DTDs. The tree is walked with an explicit depth count and a
 * page nested deeper than lim->max_depth fails ("nested deeper than N
 * levels") rather than being cut silently. Output goes into an hp_buf
 * capped at lim->max_output.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
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

/* ---- charset ------------------------------------------------------------------- */

/* The charset a <meta> in the first 4 KiB declares, into out ("" if none). */
static void meta_charset(const char *d, size_t len, char *out, size_t outlen)
{
	size_t n = len < 4096 ? len : 4096;
	out[0] = '\0';
	for (size_t i = 0; i + 8 < n; i++) {
		if (strncasecmp(d + i, "charset", 7) != 0)
			continue;
		size_t k = i + 7;
		while (k < n && (d[k] == ' ' || d[k] == '\t'))
			k++;
		if (k >= n || d[k] != '=')
			continue;
		k++;
		while (k < n && (d[k] == ' ' || d[k] == '"' || d[k] == '\''))
			k++;
		size_t l = 0;
		while (k + l < n && l + 1 < outlen &&
		       (isalnum((unsigned char)d[k + l]) || d[k + l] == '-' || d[k + l] == '_' ||
		        d[k + l] == '.' || d[k + l] == ':'))
			l++;
		memcpy(out, d + k, l);
		out[l] = '\0';
		return;
	}
}

static int page_utf8(const char *data, size_t len, char **ret, size_t *ret_len,
                     char *err, size_t errlen)
{
	const unsigned char *u = (const unsigned char *)data;
	int bom = (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) ||
	          (len >= 3 && memcmp(u, "\xEF\xBB\xBF", 3) == 0);
	if (!bom && !hp_utf8_valid(data, len)) {
		char cs[48];
		meta_charset(data, len, cs, sizeof(cs));
		if (cs[0] && hp_charset_known(cs)) {
			int r = hp_to_utf8_from(cs, data, len, ret, ret_len, err, errlen);
			if (r == 0 || r == -ENOMEM)
				return r;
			/* the declaration was wrong: detect instead */
		}
	}
	return hp_to_utf8(data, len, ret, ret_len, err, errlen);
}

/* End with exactly one newline (none for an empty page). 0 or -errno. */
static int finish_output(struct hp_html_md *m)
{
	while (m->out.len && isspace((unsigned char)m->out.data[m->out.len - 1]))
		m->out.len--;
	if (m->out.data)
		m->out.data[m->out.len] = '\0';
	return m->out.len ? hp_buf_addc(&m->out, '\n') : 0;
}

/* The walk's first error as the converter's result, with its sentence. */
static int walk_error(const struct hp_html_md *m, const hp_convert_limits *lim,
                      char *err, size_t errlen)
{
	if (m->err == -ELOOP) {
		snprintf(err, errlen, "HTML nested deeper than %d levels", lim->max_depth);
		return -EINVAL;
	}
	if (m->err == -EFBIG)
		return hp_conv_efbig(lim->max_output, err, errlen);
	return m->err;
}

/* doc->meta_json from the page: its language (<html lang>). 0 or -errno. */
static int page_meta(const xmlNode *root, hp_doc *doc)
{
	const char *lang = hp_html_attr(root, "lang");
	if (!lang || !*lang || strlen(lang) >= 64)
		return 0;
	hp_buf meta;
	hp_buf_init(&meta, 0);
	int r;
	if ((r = hp_buf_addstr(&meta, "{\"lang\": ")) < 0 || (r = hp_json_str(&meta, lang)) < 0 ||
	    (r = hp_buf_addc(&meta, '}')) < 0) {
		hp_buf_free(&meta);
		return r;
	}
	doc->meta_json = hp_buf_steal(&meta);
	return doc->meta_json ? 0 : -ENOMEM;
}

/* ---- entry point ------------------------------------------------------------------ */

static int convert_html(const char *name, const char *data, size_t len,
                        const hp_convert_limits *lim, hp_doc *doc,
                        char *err, size_t errlen)
{
	char *s = NULL;
	size_t n = 0;
	htmlDocPtr x = NULL;
	struct hp_html_md m;
	memset(&m, 0, sizeof(m));
	hp_buf_init(&m.out, lim->max_output);
	hp_buf_init(&m.pend, lim->max_output);
	m.max_depth = lim->max_depth;
	m.max_output = lim->max_output;
	m.doc = doc;

	int r = page_utf8(data, len, &s, &n, err, errlen);
	if (r < 0)
		goto out;
	if (n > INT32_MAX) {
		snprintf(err, errlen, "HTML page too large to parse");
		r = -EFBIG;
		goto out;
	}
	x = htmlReadMemory(s, (int)n, NULL, "UTF-8",
	                   HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
	                   HTML_PARSE_RECOVER | HTML_PARSE_IGNORE_ENC | HTML_PARSE_COMPACT);
	if (!x) {
		snprintf(err, errlen, "HTML could not be parsed");
		r = -EINVAL;
		goto out;
	}
	xmlNode *root = xmlDocGetRootElement(x);
	if (root)
		hp_html_walk_page(&m, root);
	if (m.pfx_cut && !m.err)
		m.err = hp_doc_warn(doc, "lists and quotes nested deeper than %d levels were flattened",
		                    HP_HTML_MAX_PFX);
	if (!m.err)
		m.err = finish_output(&m);
	if ((r = walk_error(&m, lim, err, errlen)) < 0)
		goto out;
	const char *title = m.title ? m.title : m.h1;
	if (title && (r = hp_title_from_line(title, strlen(title), HP_TITLE_MAX, &doc->title)) < 0)
		goto out;
	if (root && (r = page_meta(root, doc)) < 0)
		goto out;
	doc->markdown_len = m.out.len;
	doc->markdown = hp_buf_steal(&m.out);
	if (!doc->markdown)
		r = -ENOMEM;
out:
	if (r < 0) {
		free(doc->title);
		free(doc->meta_json);
		doc->title = doc->meta_json = NULL;
	}
	if (x)
		xmlFreeDoc(x);
	free(s);
	free(m.title);
	free(m.h1);
	hp_buf_free(&m.out);
	hp_buf_free(&m.pend);
	return r;
}

const hp_converter hp_conv_html = { HP_FMT_HTML, convert_html };
