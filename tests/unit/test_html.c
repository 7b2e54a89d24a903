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

	/* no-break spaces at the ends of a heading are trimmed, inside kept */
	d = html("<h1>&nbsp;Macro is&nbsp;it&nbsp;<button>Copy</button></h1>");
	expect_in(d, "# Macro is\xC2\xA0it\n");
	hp_doc_free(d);

	/* A heading's permalink anchor is not a link; other links stay. */
	d = html("<h2 id=usage><a href=\"#usage\">Usage</a></h2><h3>See <a href=\"/x\">x</a></h3>"
	         "<p><a href=\"#usage\">back</a></p>");
	expect_in(d, "## Usage\n\n### See [x](/x)\n\n[back](#usage)\n");
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
	/* the link title is left out */
	expect_in(d, "a **bold** and *it* , `x*y` line  \nnext [link](https://e.org/a%20b) js");
	expect_not_in(d, "\"T\"");
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
	/* inline image bytes are not text: the image is left out */
	expect_not_in(d, "dot");
	expect_not_in(d, "data:");
	hp_doc_free(d);
	d = html("<p><img src=\"b.png\" alt=\"B\" title=\"tip\"> <img src=\" DATA:image/gif;base64,R0lG\"></p>");
	expect_in(d, "![B](b.png)\n");
	expect_not_in(d, "tip");
	expect_not_in(d, "R0lG");
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

static void test_task_list(void **state)
{
	hp_doc *d = html("<ul><li><input type=checkbox checked disabled> done</li>"
	                 "<li><input type=\"checkbox\" disabled>todo</li></ul><p><input value=X></p>");
	expect_in(d, "* [x] done\n* [ ] todo\n");
	expect_not_in(d, "X");
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

	/* the blank line before a quote belongs to what is outside it */
	d = html("<p>a</p><blockquote><p>b</p><blockquote>c</blockquote></blockquote>");
	expect_in(d, "a\n\n> b\n>\n> > c\n");
	expect_not_in(d, "a\n>");
	hp_doc_free(d);
}

static void test_tables(void **state)
{
	hp_doc *d = html("<table><caption>Cap</caption><thead><tr><th>Name</th><th>Op</th></tr></thead>"
	                 "<tbody><tr><td>pipe</td><td>a | b</td></tr>"
	                 "<tr><td colspan=2>wide\n  cell</td></tr><tr><td>short</td></tr></tbody></table>");
	expect_in(d, "Cap\n\n| Name | Op |\n| --- | --- |\n| pipe | a \\| b |\n| wide cell | wide cell |\n| short |  |\n");
	hp_doc_free(d);

	/* Pipes in code and links inside cells do not end the cell. */
	d = html("<table><tr><th>c</th></tr><tr><td><code>a|b</code> <a href=\"/q?x|y\">l</a></td></tr></table>");
	expect_in(d, "| `a\\|b` [l](/q?x%7Cy) |");
	hp_doc_free(d);
	d = html("<table><tr><th>c</th><th>d</th></tr><tr><td><pre>p|q</pre></td><td>x</td></tr></table>");
	expect_in(d, "| `p\\|q` | x |");
	hp_doc_free(d);

	/* No th: the first row is still the header. */
	d = html("<table><tr><td><b>x</b></td><td>y</td></tr><tr><td>1</td><td>2</td></tr></table>");
	expect_in(d, "| **x** | y |\n| --- | --- |\n| 1 | 2 |");
	hp_doc_free(d);
}

/* rowspan and colspan place every cell in its column; a spanned cell is
 * repeated in every slot it covers. */
static void test_table_grid(void **state)
{
	hp_doc *d = html("<table><tr><th rowspan=2>Region</th><th colspan=2>Sales</th><th>Note</th></tr>"
	                 "<tr><th>Q1</th><th>Q2</th><th>n</th></tr>"
	                 "<tr><td rowspan=3>North</td><td>1</td><td>2</td><td>a</td></tr>"
	                 "<tr><td colspan=2 rowspan=2>merged</td><td>b</td></tr>"
	                 "<tr><td>c</td></tr>"
	                 "<tr><td>South</td><td>5</td><td>6</td><td>d</td></tr></table>");
	expect_in(d, "| Region | Sales | Sales | Note |\n"
	             "| --- | --- | --- | --- |\n"
	             "| Region | Q1 | Q2 | n |\n"
	             "| North | 1 | 2 | a |\n"
	             "| North | merged | merged | b |\n"
	             "| North | merged | merged | c |\n"
	             "| South | 5 | 6 | d |\n");
	hp_doc_free(d);

	/* a grouped header in <thead> becomes one header row */
	d = html("<table><thead><tr><th rowspan=2>Region</th><th colspan=2>Sales</th></tr>"
	         "<tr><th>Q1</th><th>Q2</th></tr></thead>"
	         "<tbody><tr><td>North</td><td>1</td><td>2</td></tr></tbody></table>");
	expect_in(d, "| Region | Sales Q1 | Sales Q2 |\n| --- | --- | --- |\n| North | 1 | 2 |\n");
	hp_doc_free(d);

	/* a <thead> with nothing after it stays rows */
	d = html("<table><thead><tr><th>a</th></tr><tr><th>b</th></tr></thead></table>");
	expect_in(d, "| a |\n| --- |\n| b |\n");
	hp_doc_free(d);

	/* a one-cell table is a layout box: a code listing stays a code block */
	d = html("<p>Synopsis:</p><table><tr><td><pre>fc-list --all\n  more</pre><p>note</p></td></tr></table>");
	expect_in(d, "Synopsis:\n\n```\nfc-list --all\n  more\n```\n\nnote\n");
	expect_not_in(d, "|");
	hp_doc_free(d);

	/* rowspan=0 covers the rest of the table; a span past the last row stops there */
	d = html("<table><tr><td rowspan=0>L</td><td>1</td></tr><tr><td>2</td></tr>"
	         "<tr><td>3</td><td rowspan=9>x</td></tr></table>");
	expect_in(d, "| L | 1 |  |\n| --- | --- | --- |\n| L | 2 |  |\n| L | 3 | x |\n");
	hp_doc_free(d);
}

/* A table wider than 1000 columns is cut, with a note and a warning. */
static void test_table_cap_noted(void **state)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_buf_addstr(&b, "<table><tr><td>first</td><td colspan=1000>wide</td>"
	                                   "<td>LASTCELL</td></tr></table><p>after</p>"), 0);
	hp_doc *d = NULL;
	char err[256] = "";
	assert_int_equal(hp_convert("wide.html", b.data, b.len, &lim, &d, err, sizeof(err)), 0);
	expect_not_in(d, "LASTCELL");
	expect_in(d, "\n\n> Note: table cut to the first 1000 of 1002 columns\n\nafter\n");
	assert_non_null(d->meta_json);
	assert_non_null(strstr(d->meta_json, "\"warnings\": [\"table cut to the first 1000 of 1002 columns\"]"));
	hp_doc_free(d);
	hp_buf_free(&b);

	/* with other meta; past 50 warnings the rest are counted */
	hp_buf_init(&b, 0);
	assert_int_equal(hp_buf_addstr(&b, "<html lang=en><body>"), 0);
	for (int i = 0; i < 53; i++)
		assert_int_equal(hp_buf_addf(&b, "<table><tr><td>t%d</td><td colspan=1000>x</td></tr></table>", i), 0);
	assert_int_equal(hp_convert("many.html", b.data, b.len, &lim, &d, err, sizeof(err)), 0);
	assert_non_null(d->meta_json);
	if (strncmp(d->meta_json, "{\"lang\": \"en\", \"warnings\": [\"table cut", 36) != 0)
		fail_msg("meta: %s", d->meta_json);
	const char *end = ", \"table cut to the first 1000 of 1001 columns\", \"and 3 more\"]}";
	assert_non_null(strstr(d->meta_json, end));
	assert_int_equal(strlen(strstr(d->meta_json, end)), strlen(end));
	hp_doc_free(d);
	hp_buf_free(&b);
}

/* With <main> only that is kept; without it, <article>s; else chrome
 * (header, nav, footer, aside, navigation roles) is left out. */
static void test_chrome_dropped(void **state)
{
	hp_doc *d = html("<body><header>SITEHEAD</header><nav>NAVLINKS</nav>"
	                 "<div role=navigation>ROLENAV</div><main><h1>Doc</h1>"
	                 "<article><header><h2>Post</h2></header><p>body</p>"
	                 "<footer>by me</footer></article></main><aside>SIDEBAR</aside>"
	                 "<footer>SITEFOOT</footer></body>");
	const char *gone[] = { "SITEHEAD", "NAVLINKS", "ROLENAV", "SIDEBAR", "SITEFOOT" };
	for (size_t i = 0; i < HP_ARRAY_SIZE(gone); i++)
		expect_not_in(d, gone[i]);
	expect_in(d, "# Doc\n\n## Post\n\nbody\n\nby me\n");
	hp_doc_free(d);

	d = html("<body><div class=top>TOPBAR</div><article><p>one</p></article>"
	         "<div>BETWEEN</div><article><p>two</p></article></body>");
	expect_in(d, "one\n\ntwo\n");
	expect_not_in(d, "TOPBAR");
	expect_not_in(d, "BETWEEN");
	hp_doc_free(d);

	d = html("<body><header>SITEHEAD</header><nav>NAV</nav><div role=banner>BANNER</div>"
	         "<section><header>Section head</header><p>text</p></section>"
	         "<aside>SIDE</aside><div role=contentinfo>INFO</div><footer>FOOT</footer></body>");
	expect_in(d, "Section head\n\ntext\n");
	const char *gone2[] = { "SITEHEAD", "NAV", "BANNER", "SIDE", "INFO", "FOOT" };
	for (size_t i = 0; i < HP_ARRAY_SIZE(gone2); i++)
		expect_not_in(d, gone2[i]);
	hp_doc_free(d);

	/* a language switcher is chrome wherever it is */
	d = html("<main><h1>T</h1><ul><li><a href=\"//de.x/T\" hreflang=de>Deutsch</a></li>"
	         "<li><a href=\"//fr.x/T\" hreflang=fr>Fran\xC3\xA7" "ais</a></li>"
	         "<li><span><a href=\"//ja.x/T\" hreflang=ja>JA</a></span></li></ul><p>text</p></main>");
	expect_not_in(d, "Deutsch");
	expect_not_in(d, "JA");
	expect_in(d, "# T\n\ntext\n");
	hp_doc_free(d);

	/* an empty <main> does not hide the page */
	d = html("<body><main></main><p>real text</p></body>");
	expect_in(d, "real text");
	hp_doc_free(d);
}

static void test_blocks_separated(void **state)
{
	hp_doc *d = html("<div>one</div><div>two</div><section>three</section>"
	                 "<figure><img src=f.png alt=F><figcaption>cap</figcaption></figure><div>four</div>");
	expect_in(d, "one\n\ntwo\n\nthree\n\n![F](f.png)\n\ncap\n\nfour\n");
	hp_doc_free(d);
}

static void test_definition_list(void **state)
{
	hp_doc *d = html("<p>x</p><dl><dt>Term</dt><dd>The definition.</dd>"
	                 "<dt><b>Bold</b> term</dt><dd><p>First.</p><p>Second.</p></dd></dl><p>y</p>");
	expect_in(d, "x\n\n- **Term**\n\n  The definition.\n\n- **Bold term**\n\n  First.\n\n  Second.\n\ny\n");
	expect_not_in(d, "****");
	hp_doc_free(d);
}

static void test_lists_in_cells(void **state)
{
	hp_doc *d = html("<table><tr><th>k</th><th>v</th></tr><tr><td>a</td>"
	                 "<td><ul><li>one</li><li>two</li></ul></td></tr>"
	                 "<tr><td>b</td><td><ol start=3><li>three</li><li>four</li></ol></td></tr></table>");
	expect_in(d, "| a | * one<br>* two |\n| b | 3. three<br>4. four |\n");
	hp_doc_free(d);
}

static void test_inline_marks(void **state)
{
	hp_doc *d = html("<p><s>old</s> <del>gone</del> <strike>x</strike> "
	                 "x<sup>2</sup> H<sub>2</sub>O <sup></sup></p>");
	expect_in(d, "~~old~~ ~~gone~~ ~~x~~ x<sup>2</sup> H<sub>2</sub>O\n");
	hp_doc_free(d);

	/* nested emphasis of one kind collapses; different kinds nest */
	d = html("<p><em>a <em>b</em> c</em> <b>x <strong>y</strong></b> "
	         "<strong><em>both</em></strong> <s>s <del>t</del></s></p>");
	expect_in(d, "*a b c* **x y** ***both*** ~~s t~~\n");
	hp_doc_free(d);
}

static void test_pre_links(void **state)
{
	hp_doc *d = html("<pre>see <a href=\"https://e.org/doc\">the doc</a> and\n"
	                 "<a href=\"/x\">x</a> here</pre><p>after</p>");
	expect_in(d, "```\nsee the doc and\nx here\n```\n\nLinks: [the doc](https://e.org/doc) [x](/x)\n\nafter\n");
	hp_doc_free(d);
}

/* A click-tracking redirect that carries its target (Bing's /ck/a with
 * u=a1 + base64url) links to the target, a path on the redirector's own
 * site included; one to a script is no link; anything else stays as written. */
static void test_redirect_links(void **state)
{
	hp_doc *d = html("<p><a href=\"https://www.bing.com/ck/a?!&amp;&amp;p=ab12&amp;ptn=3"
	                 "&amp;u=a1aHR0cHM6Ly9lLm9yZy9hP2I9MQ&amp;ntb=1\">one</a> "
	                 "<a href=\"//bing.com/ck/a?u=a1aHR0cHM6Ly9lLm9yZy9-eD4_\">two</a> "
	                 "<a href=\"https://www.bing.com/ck/a?u=a1amF2YXNjcmlwdDphbGVydCgxKS8v\">three</a> "
	                 "<a href=\"https://www.bing.com/ck/a?u=a1aHR0cHM6Ly9lLm9y*\">four</a> "
	                 "<a href=\"https://notbing.com/ck/a?u=a1aHR0cHM6Ly9lLm9yZy9hP2I9MQ\">five</a> "
	                 "<a href=\"https://www.bing.com/search?u=a1aHR0cHM6Ly9lLm9yZy9hP2I9MQ\">six</a> "
	                 "<a href=\"https://www.bing.com/ck/a?u=a1L3NlYXJjaD9xPXg\">seven</a> "
	                 "<a href=\"https://www.bing.com/ck/a?u=a1Ly9ldmlsLm9yZy8\">eight</a></p>");
	expect_in(d, "[one](https://e.org/a?b=1) [two](https://e.org/~x%3E?) "
	             "three "
	             "[four](https://www.bing.com/ck/a?u=a1aHR0cHM6Ly9lLm9y*) "
	             "[five](https://notbing.com/ck/a?u=a1aHR0cHM6Ly9lLm9yZy9hP2I9MQ) "
	             "[six](https://www.bing.com/search?u=a1aHR0cHM6Ly9lLm9yZy9hP2I9MQ) "
	             "[seven](https://www.bing.com/search?q=x) "
	             "[eight](https://www.bing.com/ck/a?u=a1Ly9ldmlsLm9yZy8)");
	hp_doc_free(d);
}

/* Blocks inside a link or emphasis (a card) must not end it: line breaks
 * at most, and a heading there is its text. */
static void test_blocks_in_inline(void **state)
{
	hp_doc *d = html("<p>x</p><a href=\"/c\"><h3>Card title</h3><div>desc</div><div>more</div></a>"
	                 "<b><div>one</div><div>two</div></b><p>y</p>");
	expect_in(d, "x\n\n[Card title\ndesc\nmore](/c)");
	expect_in(d, "**one\ntwo**");
	expect_not_in(d, "###");
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
		cmocka_unit_test(test_task_list),
		cmocka_unit_test(test_blockquote_pre_hr),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_table_grid),
		cmocka_unit_test(test_table_cap_noted),
		cmocka_unit_test(test_chrome_dropped),
		cmocka_unit_test(test_blocks_separated),
		cmocka_unit_test(test_definition_list),
		cmocka_unit_test(test_lists_in_cells),
		cmocka_unit_test(test_inline_marks),
		cmocka_unit_test(test_pre_links),
		cmocka_unit_test(test_redirect_links),
		cmocka_unit_test(test_blocks_in_inline),
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
