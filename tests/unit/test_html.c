/* test_html.c — the HTML converter through hp_convert(): elements, nesting,
 * tables, dropped content, entities, limits, charsets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hopper/common.h"
#include "hopper/convert.h"

static const hp_convert_limits lim = { .max_output = 1u << 20, .max_depth = 256 };

/* Convert an HTML string; returns the doc (caller frees). */
static hp_doc *html(const char *s)
{
	hp_doc *doc = NULL;
	char err[256] = "";
	int r = hp_convert("page.html", s, strlen(s), &lim, &doc, err, sizeof(err));
	if (r != 0)
		fail_msg("hp_convert: %d %s", r, err);
	assert_int_equal(doc->format, HP_FMT_HTML);
	assert_non_null(doc->markdown);
	assert_int_equal(strlen(doc->markdown), doc->markdown_len);
	return doc;
}

static void expect_in(const hp_doc *doc, const char *needle)
{
	if (!strstr(doc->markdown, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, doc->markdown);
}

static void expect_not_in(const hp_doc *doc, const char *needle)
{
	if (strstr(doc->markdown, needle))
		fail_msg("did not expect \"%s\" in:\n%s", needle, doc->markdown);
}

static void test_headings_and_paragraphs(void **state)
{
	hp_doc *d = html("<html><head><title> The  Title </title></head><body>"
	                 "<h1>Top</h1><p>First   para\n graph.</p><h2>Sub <em>x</em></h2>"
	                 "<h6>Six</h6><p>Two</p></body></html>");
	assert_string_equal(d->title, "The Title");
	expect_in(d, "# Top\n\nFirst para graph.\n\n## Sub *x*\n\n###### Six\n\nTwo\n");
	assert_int_equal(d->markdown[0], '#');
	hp_doc_free(d);

	/* No <title>: the first h1 is the title. */
	d = html("<body><p>intro</p><h1>Real <b>name</b></h1></body>");
	assert_string_equal(d->title, "Real name");
	hp_doc_free(d);
}

static void test_inline(void **state)
{
	hp_doc *d = html("<p>a <strong>bold</strong> and <em> it </em>, <code>x*y</code>"
	                 " <b></b>line<br>next <a href=\"https://e.org/a b\" title=\"T\">link</a>"
	                 " <a href=\"javascript:alert(1)\">js</a> <a href=\"/x\"></a></p>");
	expect_in(d, "a **bold** and *it* , `x*y` line  \nnext [link](https://e.org/a%20b \"T\") js");
	expect_not_in(d, "javascript");
	expect_not_in(d, "****");
	expect_not_in(d, "[](/x)");
	hp_doc_free(d);

	/* Prose that looks like Markdown is escaped. */
	d = html("<p>2 * 3 = snake_case [x]</p><p># not a heading</p>");
	expect_in(d, "2 \\* 3 = snake\\_case \\[x\\]");
	expect_in(d, "\\# not a heading");
	hp_doc_free(d);
}

static void test_images(void **state)
{
	hp_doc *d = html("<p><img src=\"a.png\" alt=\"An [a]\"> "
	                 "<img alt=\"dot\" src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==\"></p>");
	expect_in(d, "![An \\[a\\]](a.png)");
	expect_in(d, "![dot](data:image/png;base64...)");
	expect_not_in(d, "iVBOR");
	hp_doc_free(d);
}

static void test_lists_nested(void **state)
{
	hp_doc *d = html("<p>before</p><ul><li>one</li><li>two<ul><li>inner</li>"
	                 "<li><ol start=\"9\"><li>nine</li><li>ten</li></ol></li></ul></li></ul><p>after</p>");
	expect_in(d, "before\n\n* one\n* two\n  * inner\n  * 9. nine\n    10. ten\n\nafter\n");
	hp_doc_free(d);

	/* <p> inside items makes a loose list; the paragraph shares the
	 * marker's line and continuation lines are indented. */
	d = html("<ol><li><p>para item</p><p>more</p></li><li>second</li></ol>");
	expect_in(d, "1. para item\n\n   more\n\n2. second");
	hp_doc_free(d);
}

static void test_blockquote_pre_hr(void **state)
{
	hp_doc *d = html("<blockquote><p>quoted</p><p>more</p></blockquote><hr>"
	                 "<pre class=\"language-c\">\nint x;\n\n  y = \"`\";\n</pre>"
	                 "<pre><code>a ``` b</code></pre>");
	expect_in(d, "> quoted\n>\n> more\n\n---\n\n```c\nint x;\n\n  y = \"`\";\n```\n");
	/* a fence longer than any backtick run inside */
	expect_in(d, "````\na ``` b\n````");
	hp_doc_free(d);
}

static void test_tables(void **state)
{
	hp_doc *d = html("<table><caption>Cap</caption><thead><tr><th>Name</th><th>Op</th></tr></thead>"
	                 "<tbody><tr><td>pipe</td><td>a | b</td></tr>"
	                 "<tr><td colspan=2>wide\n  cell</td></tr><tr><td>short</td></tr></tbody></table>");
	expect_in(d, "Cap\n\n| Name | Op |\n| --- | --- |\n| pipe | a \\| b |\n| wide cell |  |\n| short |  |\n");
	hp_doc_free(d);

	/* Pipes in code and links inside cells do not end the cell. */
	d = html("<table><tr><th>c</th></tr><tr><td><code>a|b</code> <a href=\"/q?x|y\">l</a></td></tr></table>");
	expect_in(d, "| `a\\|b` [l](/q?x%7Cy) |");
	hp_doc_free(d);

	/* No th: the first row is still the header. */
	d = html("<table><tr><td><b>x</b></td><td>y</td></tr><tr><td>1</td><td>2</td></tr></table>");
	expect_in(d, "| **x** | y |\n| --- | --- |\n| 1 | 2 |");
	hp_doc_free(d);
}

static void test_dropped(void **state)
{
	hp_doc *d = html("<html><head><style>p{color:red}</style><script>var HEADJS=1;</script></head>"
	                 "<body><!-- COMMENT --><script>alert('BODYJS')</script><noscript>NOSCRIPT</noscript>"
	                 "<template>TEMPLATE</template><svg><text>SVGTEXT</text></svg>"
	                 "<iframe src=\"x\">IFRAME</iframe><form>Label <input value=\"INPUT\">"
	                 "<select><option>OPTION</option></select><button>BUTTON</button></form>"
	                 "<div hidden>HIDDEN</div><p>kept</p></body></html>");
	const char *gone[] = { "color", "HEADJS", "COMMENT", "BODYJS", "NOSCRIPT", "TEMPLATE", "SVGTEXT",
	                       "IFRAME", "INPUT", "OPTION", "BUTTON", "HIDDEN" };
	for (size_t i = 0; i < HP_ARRAY_SIZE(gone); i++)
		expect_not_in(d, gone[i]);
	expect_in(d, "Label");
	expect_in(d, "kept");
	hp_doc_free(d);
}

static void test_entities(void **state)
{
	hp_doc *d = html("<html lang=\"de\"><p>caf&eacute; &amp; &lt;tag&gt; &#8364; &#x1F600; &nbsp;x</p></html>");
	expect_in(d, "caf\xC3\xA9 & \\<tag> \xE2\x82\xAC \xF0\x9F\x98\x80");
	assert_non_null(d->meta_json);
	assert_string_equal(d->meta_json, "{\"lang\": \"de\"}");
	hp_doc_free(d);
}

static void test_depth_limit(void **state)
{
	hp_convert_limits l = { .max_output = 1u << 20, .max_depth = 50 };
	hp_buf b;
	hp_buf_init(&b, 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(hp_buf_addstr(&b, "<div>"), 0);
	assert_int_equal(hp_buf_addstr(&b, "deep"), 0);
	hp_doc *doc = NULL;
	char err[256] = "";
	int r = hp_convert("deep.html", b.data, b.len, &l, &doc, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_null(doc);
	assert_non_null(strstr(err, "nested deeper than 50 levels"));

	/* The same page within the limit converts. */
	l.max_depth = 200;
	r = hp_convert("deep.html", b.data, b.len, &l, &doc, err, sizeof(err));
	assert_int_equal(r, 0);
	assert_non_null(strstr(doc->markdown, "deep"));
	hp_doc_free(doc);
	hp_buf_free(&b);
}

static void test_output_limit(void **state)
{
	hp_convert_limits l = { .max_output = 1u << 20, .max_depth = 64 };
	hp_buf b;
	hp_buf_init(&b, 0);
	for (int i = 0; i < 40000; i++)
		assert_int_equal(hp_buf_addstr(&b, "<p>some words here</p>"), 0);
	hp_doc *doc = NULL;
	char err[256] = "";
	int r = hp_convert("big.html", b.data, b.len, &l, &doc, err, sizeof(err));
	assert_int_equal(r, 0);      /* ~760 KB of Markdown: fits 1 MiB */
	hp_doc_free(doc);
	for (int i = 0; i < 40000; i++)
		assert_int_equal(hp_buf_addstr(&b, "<p>some words here</p>"), 0);
	doc = NULL;
	r = hp_convert("big.html", b.data, b.len, &l, &doc, err, sizeof(err));
	assert_int_equal(r, -EFBIG);
	assert_null(doc);
	assert_string_equal(err, "output over 1 MiB");
	hp_buf_free(&b);
}

static void test_latin1_page(void **state)
{
	/* windows-1252 bytes, declared */
	hp_doc *d = html("<html><head><meta charset=\"windows-1252\"><title>Caf\xE9</title></head>"
	                 "<body><p>Gr\xFC\xDF" "e \x80 5</p></body></html>");
	assert_string_equal(d->title, "Caf\xC3\xA9");
	expect_in(d, "Gr\xC3\xBC\xC3\x9F" "e \xE2\x82\xAC 5");
	hp_doc_free(d);

	/* undeclared Latin-1 (invalid UTF-8): charset detection */
	d = html("<html><body><p>Der B\xE4r l\xE4uft \xFC" "ber die Stra\xDF" "e und tr\xE4gt "
	         "gro\xDF" "e K\xE4se nach M\xFCnchen.</p></body></html>");
	expect_in(d, "B\xC3\xA4r l\xC3\xA4uft");
	hp_doc_free(d);

	/* invalid UTF-8 in a page that claims UTF-8 still converts to valid text */
	d = html("<meta charset=utf-8><p>na\xEFve caf\xE9 r\xE9sum\xE9 d\xE9j\xE0 vu</p>");
	expect_in(d, "na\xC3\xAFve");
	hp_doc_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headings_and_paragraphs),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_lists_nested),
		cmocka_unit_test(test_blockquote_pre_hr),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_entities),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_output_limit),
		cmocka_unit_test(test_latin1_page),
	};
	if (hp_convert_init() < 0) {
		printf("libmagic database not available\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
