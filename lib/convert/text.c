/* text.c — plain text, source code and XML.
 *
 * Plain text becomes its own Markdown, unchanged except for the charset
 * (UTF-8 via hp_to_utf8) and line ends (CRLF -> LF): escaping Markdown
 * syntax in prose would make the stored text less faithful than it is
 * useful. The title is the first non-empty line.
 * Source code, JSON and XML are stored verbatim in one fenced code block whose
 * fence is longer than any backtick run inside (CommonMark §4.5), so no
 * content can end it early; the worker chunks code at its symbols
 * (lib/codechunk.c). XML is never parsed here, so entity bombs cost nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hopper/common.h"
#include "hopper/convert.h"
#include "convert-int.h"

/* The first non-empty line, trimmed, is the title of a text file. */
static int text_title(const char *s, size_t n, char **ret)
{
	return hp_title_from_line(s, n, HP_TITLE_MAX, ret);
}

static int convert_text(const char *name, const char *data, size_t len,
                        const hp_convert_limits *lim, hp_doc *doc,
                        char *err, size_t errlen)
{
	return hp_conv_as_is(data, len, lim, text_title, doc, err, errlen);
}

const hp_converter hp_conv_text = { HP_FMT_TEXT, convert_text };

/* The info string of the fence: a language name from the extension. */
static const char *fence_lang(const char *name, hp_format fmt)
{
	static const struct { const char *ext, *lang; } langs[] = {
		{ "py", "python" }, { "pyi", "python" }, { "js", "javascript" },
		{ "mjs", "javascript" }, { "cjs", "javascript" }, { "ts", "typescript" },
		{ "rb", "ruby" }, { "pl", "perl" }, { "pm", "perl" }, { "sh", "sh" },
		{ "bash", "bash" }, { "rs", "rust" }, { "kt", "kotlin" }, { "cs", "csharp" },
		{ "h", "c" }, { "hpp", "cpp" }, { "cc", "cpp" }, { "cxx", "cpp" },
		{ "yml", "yaml" }, { "md", "markdown" }, { "hs", "haskell" },
		{ "ex", "elixir" }, { "exs", "elixir" }, { "jl", "julia" },
	};
	if (fmt == HP_FMT_XML)
		return "xml";
	if (fmt == HP_FMT_JSON)
		return "json";
	const char *base = name ? strrchr(name, '/') : NULL;
	base = base ? base + 1 : name;
	const char *dot = base ? strrchr(base, '.') : NULL;
	if (!dot || dot == base)
		return "";
	dot++;
	for (size_t i = 0; i < HP_ARRAY_SIZE(langs); i++)
		if (strcasecmp(langs[i].ext, dot) == 0)
			return langs[i].lang;
	/* Anything else: the extension itself, if it is a plain word. */
	for (const char *p = dot; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return "";
	return dot;
}

static int convert_fenced(hp_format fmt, const char *name, const char *data, size_t len,
                          const hp_convert_limits *lim, hp_doc *doc, char *err, size_t errlen)
{
	char *s = NULL;
	size_t n;
	hp_buf b;
	hp_buf_init(&b, lim->max_output);
	int r = hp_to_utf8(data, len, &s, &n, err, errlen);
	if (r < 0)
		goto fail;
	n = hp_crlf_to_lf(s, n);

	size_t longest = 0, run = 0;
	for (size_t i = 0; i < n; i++) {
		run = s[i] == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	size_t fence = longest >= 3 ? longest + 1 : 3;
	const char *lang = fence_lang(name, fmt);
	for (size_t i = 0; i < fence && r == 0; i++)
		r = hp_buf_addc(&b, '`');
	if (r == 0)
		r = hp_buf_addf(&b, "%s\n", lang);
	if (r == 0)
		r = hp_buf_add(&b, s, n);
	if (r == 0 && n > 0 && s[n - 1] != '\n')
		r = hp_buf_addc(&b, '\n');
	for (size_t i = 0; i < fence && r == 0; i++)
		r = hp_buf_addc(&b, '`');
	if (r == 0)
		r = hp_buf_addc(&b, '\n');
	if (r == -EFBIG) {
		r = hp_conv_efbig(lim->max_output, err, errlen);
		goto fail;
	}
	if (r < 0)
		goto fail;
	if (fmt == HP_FMT_CODE && name) {
		const char *base = strrchr(name, '/');
		doc->title = strdup(base ? base + 1 : name);
		if (!doc->title) {
			r = -ENOMEM;
			goto fail;
		}
	}
	doc->markdown_len = b.len;
	doc->markdown = hp_buf_steal(&b);
	if (!doc->markdown) {
		free(doc->title);
		doc->title = NULL;
		r = -ENOMEM;
		goto fail;
	}
	free(s);
	return 0;
fail:
	free(s);
	hp_buf_free(&b);
	return r;
}

static int convert_code(const char *name, const char *data, size_t len,
                        const hp_convert_limits *lim, hp_doc *doc, char *err, size_t errlen)
{
	return convert_fenced(HP_FMT_CODE, name, data, len, lim, doc, err, errlen);
}

static int convert_xml(const char *name, const char *data, size_t len,
                       const hp_convert_limits *lim, hp_doc *doc, char *err, size_t errlen)
{
	return convert_fenced(HP_FMT_XML, name, data, len, lim, doc, err, errlen);
}

const hp_converter hp_conv_code = { HP_FMT_CODE, convert_code };
const hp_converter hp_conv_xml = { HP_FMT_XML, convert_xml };

static int convert_json(const char *name, const char *data, size_t len,
                        const hp_convert_limits *lim, hp_doc *doc, char *err, size_t errlen)
{
	return convert_fenced(HP_FMT_JSON, name, data, len, lim, doc, err, errlen);
}

const hp_converter hp_conv_json = { HP_FMT_JSON, convert_json };
