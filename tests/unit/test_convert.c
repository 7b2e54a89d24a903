/* test_convert.c — detection, text/Markdown/CSV/JSON conversion, charsets,
 * and the failures a person sees (empty, binary, formats not supported
 * yet). Fixtures are in tests/data/convert/ (run from the repository root,
 * or set HOPPER_TESTDATA to that folder). */
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

static const hp_convert_limits lim = { .max_output = 1u << 20, .max_depth = 64 };
static char datadir[4096];

/* Read a fixture; the caller frees. */
static char *fixture(const char *name, size_t *ret_len)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", datadir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s", path);
	hp_buf b;
	hp_buf_init(&b, 0);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		assert_int_equal(hp_buf_add(&b, tmp, n), 0);
	fclose(f);
	*ret_len = b.len;
	return hp_buf_steal(&b);
}

static hp_format detect_file(const char *fixture_name, const char *as_name)
{
	size_t n;
	char *d = fixture(fixture_name, &n);
	hp_format f = hp_detect(as_name, d, n);
	free(d);
	return f;
}

/* Convert a fixture; returns r, fills *doc or err. */
static int convert_file(const char *fixture_name, hp_doc **doc, char *err, size_t errlen)
{
	size_t n;
	char *d = fixture(fixture_name, &n);
	*doc = NULL;
	err[0] = '\0';
	int r = hp_convert(fixture_name, d, n, &lim, doc, err, errlen);
	free(d);
	return r;
}

static void test_format_names(void **state)
{
	for (int f = 0; f < HP_FMT__MAX; f++) {
		const char *n = hp_format_name((hp_format)f);
		assert_non_null(n);
		assert_int_equal(hp_format_from_name(n), f);
	}
	assert_string_equal(hp_format_name(HP_FMT_MARKDOWN), "markdown");
	assert_string_equal(hp_format_name(HP_FMT__MAX), "unknown");
	assert_int_equal(hp_format_from_name("nonsense"), HP_FMT_UNKNOWN);
	assert_int_equal(hp_format_from_name(NULL), HP_FMT_UNKNOWN);
}

static void test_detect_by_content(void **state)
{
	/* the name says nothing, or lies: content decides */
	assert_int_equal(detect_file("tiny.pdf", "noext"), HP_FMT_PDF);
	assert_int_equal(detect_file("tiny.pdf", "file.txt"), HP_FMT_PDF);
	assert_int_equal(detect_file("renamed.bin", "renamed.bin"), HP_FMT_DOCX);
	assert_int_equal(detect_file("sheet.xlsx", "x"), HP_FMT_XLSX);
	assert_int_equal(detect_file("doc.odt", "x.zip"), HP_FMT_ODT);
	assert_int_equal(detect_file("binary.bin", "binary.txt"), HP_FMT_UNKNOWN);
	assert_int_equal(detect_file("data.json", "data"), HP_FMT_JSON);
	const char *h = "<!DOCTYPE html><html><body><p>x</p></body></html>";
	assert_int_equal(hp_detect(NULL, h, strlen(h)), HP_FMT_HTML);
	const char *t = "just some words\n";
	assert_int_equal(hp_detect(NULL, t, strlen(t)), HP_FMT_TEXT);
	/* a Shift_JIS file that is not UTF-8 is still text */
	assert_int_equal(detect_file("sjis.txt", "sjis"), HP_FMT_TEXT);
}

static void test_detect_by_name(void **state)
{
	const char *t = "# Title\n\nSome *text* here.\n";
	assert_int_equal(hp_detect("a.md", t, strlen(t)), HP_FMT_MARKDOWN);
	assert_int_equal(hp_detect("a.MARKDOWN", t, strlen(t)), HP_FMT_MARKDOWN);
	assert_int_equal(hp_detect("a.txt", t, strlen(t)), HP_FMT_TEXT);
	assert_int_equal(hp_detect("dir.d/a", t, strlen(t)), HP_FMT_TEXT);
	assert_int_equal(hp_detect("a.htm", t, strlen(t)), HP_FMT_HTML);
	assert_int_equal(hp_detect("a.csv", "a,b\n1,2\n", 8), HP_FMT_CSV);
	assert_int_equal(hp_detect("main.c", "int main(void) { return 0; }\n", 29), HP_FMT_CODE);
	assert_int_equal(hp_detect("x.xml", "<a><b/></a>\n", 12), HP_FMT_XML);
	/* markdown with inline HTML stays Markdown by its name */
	const char *mh = "<html><body><p>hi</p></body></html>\n";
	assert_int_equal(hp_detect("page.md", mh, strlen(mh)), HP_FMT_MARKDOWN);
	/* the extension of an office format does not override content */
	assert_int_equal(hp_detect("fake.docx", t, strlen(t)), HP_FMT_TEXT);
	/* libmagic calls text starting "SP"/"PA"/"BP" HP-GL; a .txt is text. */
	const char *hpgl = "SPAAbbbbCCCC\nMoreBase64Text\n";
	assert_int_equal(hp_detect("w209.txt", hpgl, strlen(hpgl)), HP_FMT_TEXT);
}

/* Text that decodes, with a clear text extension, is what its name says,
 * whatever libmagic guesses from its first bytes. Each of these failed
 * before: "message/rfc822", "PDF documents are not supported yet",
 * "image/x-tga". */
static void test_text_extension_wins(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_file("mailish.txt", &d, err, sizeof(err)), 0);
	assert_int_equal(d->format, HP_FMT_TEXT);
	assert_string_equal(d->title, "From: the maintainers <team@example.org>");
	hp_doc_free(d);

	assert_int_equal(convert_file("pdfsniff.go", &d, err, sizeof(err)), 0);
	assert_int_equal(d->format, HP_FMT_CODE);
	assert_non_null(strstr(d->markdown, "```go\n// Package pdfsniff"));
	assert_non_null(strstr(d->markdown, "[]byte(\"%PDF-\")"));
	hp_doc_free(d);

	/* UTF-16 without a byte order mark: decoded, not refused for NULs */
	assert_int_equal(convert_file("utf16-nobom.md", &d, err, sizeof(err)), 0);
	assert_int_equal(d->format, HP_FMT_MARKDOWN);
	assert_non_null(strstr(d->markdown, "#\tHopper manual\n\nDrop files into the inbox;"));
	assert_string_equal(d->title, "Hopper manual");
	hp_doc_free(d);

	/* and without a name, content still decides */
	assert_int_equal(detect_file("utf16-nobom.md", "notes"), HP_FMT_TEXT);
	assert_int_equal(detect_file("pdfsniff.go", "pdfsniff"), HP_FMT_TEXT);
	const char *j = "[\n  {\"a\": 1}\n]\n", *ini = "[core]\nbare = false\n";
	assert_int_equal(hp_detect("noext", j, strlen(j)), HP_FMT_JSON);
	assert_int_equal(hp_detect("noext", ini, strlen(ini)), HP_FMT_TEXT);
	const char *sh = "#!/bin/sh\necho hi\n";
	assert_int_equal(hp_detect("run", sh, strlen(sh)), HP_FMT_CODE);
	const char *x = "<?xml version=\"1.0\"?>\n<feed/>\n";
	assert_int_equal(hp_detect(NULL, x, strlen(x)), HP_FMT_XML);
	/* a signature at offset 0 still beats the name */
	assert_int_equal(hp_detect("a.txt", "\x89PNG\r\n\x1A\n\0\0", 10), HP_FMT_IMAGE);
	const char *bm = "BMW and Audi are cars, not bitmaps.\n";
	assert_int_equal(hp_detect("cars", bm, strlen(bm)), HP_FMT_TEXT);
}

static void test_text_title(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_file("notes.txt", &d, err, sizeof(err)), 0);
	assert_int_equal(d->format, HP_FMT_TEXT);
	assert_string_equal(d->title, "First line of notes");
	assert_non_null(strstr(d->markdown, "second line"));
	hp_doc_free(d);

	/* no non-blank line: no title, but a document */
	assert_int_equal(hp_convert("blank.txt", " \n\t\n", 4, &lim, &d, err, sizeof(err)), 0);
	assert_null(d->title);
	hp_doc_free(d);
}

static void test_markdown_title(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_file("front.md", &d, err, sizeof(err)), 0);
	assert_int_equal(d->format, HP_FMT_MARKDOWN);
	assert_string_equal(d->title, "From Front Matter");
	/* front matter is kept in the text */
	assert_non_null(strstr(d->markdown, "author: x"));
	hp_doc_free(d);

	assert_int_equal(convert_file("setext.md", &d, err, sizeof(err)), 0);
	assert_string_equal(d->title, "Real Title");      /* not the one in the fence */
	hp_doc_free(d);

	const char *atx = "intro\n\n## Second-level #\n\n# Later\n";
	assert_int_equal(hp_convert("a.md", atx, strlen(atx), &lim, &d, err, sizeof(err)), 0);
	assert_string_equal(d->title, "Second-level");
	assert_string_equal(d->markdown, atx);
	hp_doc_free(d);

	const char *none = "no heading\nat all\n";
	assert_int_equal(hp_convert("b.md", none, strlen(none), &lim, &d, err, sizeof(err)), 0);
	assert_null(d->title);
	hp_doc_free(d);
}

static void test_charset_latin1(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_file("latin1.txt", &d, err, sizeof(err)), 0);
	assert_string_equal(d->title, "\xC3\x9C" "berschrift f\xC3\xBCr B\xC3\xBC" "cher");
	assert_non_null(strstr(d->markdown, "Stra\xC3\x9F" "e f\xC3\xBChrt"));
	hp_doc_free(d);
}

static void test_charset_sjis(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_file("sjis.txt", &d, err, sizeof(err)), 0);
	assert_string_equal(d->title, "日本語のテキスト");
	/* 髙 exists only in CP932, the superset Shift_JIS files really use */
	assert_non_null(strstr(d->markdown, "髙橋さんは名古屋に住んでいます。"));
	hp_doc_free(d);

	assert_int_equal(convert_file("sjis.csv", &d, err, sizeof(err)), 0);
	assert_int_equal(d->format, HP_FMT_CSV);
	assert_non_null(strstr(d->markdown, "| 名前 | 年齢 | 住所 |\n| --- | --- | --- |\n"));
	assert_non_null(strstr(d->markdown, "| 髙橋淳 | 35 | 名古屋, 愛知 |"));
	hp_doc_free(d);
}

static void test_to_utf8(void **state)
{
	char *s;
	size_t n;
	char err[256];
	/* valid UTF-8 with a BOM: BOM removed */
	assert_int_equal(hp_to_utf8("\xEF\xBB\xBFok", 5, &s, &n, err, sizeof(err)), 0);
	assert_string_equal(s, "ok");
	assert_int_equal(n, 2);
	free(s);
	/* UTF-16LE with a BOM */
	size_t len;
	char *d = fixture("utf16.txt", &len);
	assert_int_equal(hp_to_utf8(d, len, &s, &n, err, sizeof(err)), 0);
	assert_string_equal(s, "UTF-16 text: Gr\xC3\xBC\xC3\x9F" "e\n");
	free(s);
	free(d);
	/* cut short inside a character: the text before it */
	assert_int_equal(hp_to_utf8("d\xC3\xA9j\xC3\xA0 caf\xC3", 11, &s, &n, err, sizeof(err)), 0);
	assert_string_equal(s, "d\xC3\xA9j\xC3\xA0 caf");
	free(s);
	/* but one high byte at the end of ASCII is a legacy charset, not a cut */
	assert_int_equal(hp_to_utf8("Un caf\xE9", 7, &s, &n, err, sizeof(err)), 0);
	assert_non_null(strstr(s, "caf\xC3\xA9"));
	free(s);
	assert_int_equal(hp_to_utf8("\xEF\xBB\xBF\xE2\x82\xAC 5\xE2\x82", 10, &s, &n, err, sizeof(err)), 0);
	assert_string_equal(s, "\xE2\x82\xAC 5");
	free(s);
	d = fixture("sjis.txt", &len);
	assert_true(len > 10);
	size_t cut = len - 1;
	while (cut > 0 && (unsigned char)d[cut - 1] < 0x80)
		cut--;     /* end on the first byte of a two-byte character */
	assert_int_equal(hp_to_utf8(d, cut, &s, &n, err, sizeof(err)), 0);
	free(s);
	free(d);
	/* NUL bytes: binary, not text */
	assert_int_equal(hp_to_utf8("a\0b\xFF", 4, &s, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	/* Bytes no charset explains */
	s = NULL;
	int r = hp_to_utf8("\x81", 1, &s, &n, err, sizeof(err));
	if (r == 0)
		free(s);
	else {
		assert_int_equal(r, -EINVAL);
		assert_string_equal(err, "not valid UTF-8 after charset detection");
	}
}

static void test_empty_and_binary(void **state)
{
	hp_doc *d = NULL;
	char err[256];
	assert_int_equal(hp_convert("empty.txt", "", 0, &lim, &d, err, sizeof(err)), -EINVAL);
	assert_null(d);
	assert_string_equal(err, "empty file (0 bytes)");
	assert_int_equal(hp_detect("empty.md", "", 0), HP_FMT_MARKDOWN);

	assert_int_equal(convert_file("binary.bin", &d, err, sizeof(err)), -ENOTSUP);
	assert_null(d);
	assert_string_equal(err, "unrecognised format (application/octet-stream)");

	/* a legacy Office file says what it is and what to do */
	char ole[512] = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
	assert_int_equal(hp_convert("old.doc", ole, sizeof(ole), &lim, &d, err, sizeof(err)), -ENOTSUP);
	assert_null(d);
	assert_non_null(strstr(err, "legacy Office file"));

	/* text with NUL bytes but a text name: refused with a sentence */
	const char nul[] = "hello\0world\0 this is a text file\n";
	int r = hp_convert("nul.txt", nul, sizeof(nul) - 1, &lim, &d, err, sizeof(err));
	assert_true(r == -EINVAL || r == -ENOTSUP);
	assert_null(d);
	assert_true(strlen(err) > 0);
}

/* A recognised format with no converter in the table fails with a sentence
 * naming it. Formats whose converter has landed are checked by their own
 * tests; which ones those are comes from the table itself. */
static void test_not_supported_yet(void **state)
{
	static const struct { const char *file; hp_format fmt; const char *msg; } cases[] = {
		{ "tiny.pdf", HP_FMT_PDF, "PDF documents are not supported yet" },
		{ "renamed.bin", HP_FMT_DOCX, "DOCX documents are not supported yet" },
		{ "sheet.xlsx", HP_FMT_XLSX, "XLSX documents are not supported yet" },
		{ "doc.odt", HP_FMT_ODT, "ODT documents are not supported yet" },
	};
	assert_true(hp_format_supported(HP_FMT_HTML));
	assert_true(hp_format_supported(HP_FMT_TEXT));
	assert_false(hp_format_supported(HP_FMT_UNKNOWN));
	for (size_t i = 0; i < HP_ARRAY_SIZE(cases); i++) {
		if (hp_format_supported(cases[i].fmt))
			continue;
		hp_doc *d;
		char err[256];
		assert_int_equal(convert_file(cases[i].file, &d, err, sizeof(err)), -ENOTSUP);
		assert_null(d);
		assert_string_equal(err, cases[i].msg);
	}
}

/* Office stubs are recognised by their ZIP contents and fail with what is
 * wrong with them (the converters are tested in test_office.c). */
static void test_office_stubs(void **state)
{
	static const struct { const char *file, *msg; } cases[] = {
		{ "renamed.bin", "XML part word/document.xml is malformed (line 1: Namespace prefix w on document is not defined)" },
		{ "sheet.xlsx", "XLSX workbook xl/workbook.xml lists no sheets" },
		{ "doc.odt", "XML part content.xml is malformed (line 1: Namespace prefix office on document-content is not defined)" },
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(cases); i++) {
		hp_doc *d;
		char err[256];
		assert_int_equal(convert_file(cases[i].file, &d, err, sizeof(err)), -EINVAL);
		assert_null(d);
		assert_string_equal(err, cases[i].msg);
	}
}

static void test_json_and_code(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_file("data.json", &d, err, sizeof(err)), 0);
	assert_int_equal(d->format, HP_FMT_JSON);
	assert_string_equal(d->markdown, "```json\n{\"id\": \"5b64c88c\", \"list\": [1, 2, 3]}\n```\n");
	hp_doc_free(d);

	const char *src = "x = '```'\nprint(x)\n";
	assert_int_equal(hp_convert("dir/t.py", src, strlen(src), &lim, &d, err, sizeof(err)), 0);
	assert_int_equal(d->format, HP_FMT_CODE);
	assert_string_equal(d->title, "t.py");
	assert_string_equal(d->markdown, "````python\nx = '```'\nprint(x)\n````\n");
	hp_doc_free(d);
}

/* A CSV wider than the column cap is cut with a note in the Markdown and a
 * warning in meta; a row longer than the header widens the table rather
 * than losing cells. */
static void test_csv_cap_noted(void **state)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	for (int row = 0; row < 2; row++) {
		for (int c = 0; c < 1500; c++)
			assert_int_equal(hp_buf_addf(&b, "%sr%dc%d", c ? "," : "", row, c), 0);
		assert_int_equal(hp_buf_addc(&b, '\n'), 0);
	}
	hp_doc *d = NULL;
	char err[256];
	assert_int_equal(hp_convert("wide.csv", b.data, b.len, &lim, &d, err, sizeof(err)), 0);
	assert_non_null(strstr(d->markdown, "| r1c999 |\n\n> Note: table cut to the first 1000 of 1500 columns\n"));
	assert_null(strstr(d->markdown, "r1c1000"));
	assert_non_null(d->meta_json);
	assert_string_equal(d->meta_json, "{\"warnings\": [\"table cut to the first 1000 of 1500 columns\"]}");
	hp_doc_free(d);
	hp_buf_free(&b);

	const char *ragged = "a,b\n1,2,3\n";
	assert_int_equal(hp_convert("r.csv", ragged, strlen(ragged), &lim, &d, err, sizeof(err)), 0);
	assert_string_equal(d->markdown, "| a | b |  |\n| --- | --- | --- |\n| 1 | 2 | 3 |\n");
	assert_null(d->meta_json);
	hp_doc_free(d);
}

static void test_output_limit(void **state)
{
	hp_convert_limits small = { .max_output = 1000, .max_depth = 64 };
	char text[2000];
	memset(text, 'a', sizeof(text));
	for (size_t i = 50; i < sizeof(text); i += 50)
		text[i] = '\n';
	hp_doc *d = NULL;
	char err[256];
	assert_int_equal(hp_convert("big.txt", text, sizeof(text), &small, &d, err, sizeof(err)), -EFBIG);
	assert_null(d);
	assert_non_null(strstr(err, "output over"));

	/* every text converter stops at the cap with the same message */
	static const char *const fixtures[] = { "notes.txt", "setext.md", "data.json", "pdfsniff.go",
	                                         "sjis.csv", "latin1.txt" };
	hp_convert_limits tiny = { .max_output = 16, .max_depth = 64 };
	for (size_t i = 0; i < HP_ARRAY_SIZE(fixtures); i++) {
		size_t n;
		char *data = fixture(fixtures[i], &n);
		d = NULL;
		int r = hp_convert(fixtures[i], data, n, &tiny, &d, err, sizeof(err));
		free(data);
		if (r != -EFBIG || d || !strstr(err, "output over"))
			fail_msg("%s with max_output 16: %d %s", fixtures[i], r, err);
	}
	static const char *const inline_docs[][2] = {
		{ "page.html", "<p>aaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbb cccccccccccccccccccccc</p>" },
		{ "feed.xml", "<?xml version=\"1.0\"?><feed><entry>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</entry></feed>" },
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(inline_docs); i++) {
		d = NULL;
		int r = hp_convert(inline_docs[i][0], inline_docs[i][1], strlen(inline_docs[i][1]), &tiny, &d, err,
		                   sizeof(err));
		if (r != -EFBIG || d || !strstr(err, "output over"))
			fail_msg("%s with max_output 16: %d %s", inline_docs[i][0], r, err);
	}
}

int main(void)
{
	const char *env = getenv("HOPPER_TESTDATA");
	snprintf(datadir, sizeof(datadir), "%s", env ? env : "tests/data/convert");
	char probe[4200];
	snprintf(probe, sizeof(probe), "%s/latin1.txt", datadir);
	FILE *f = fopen(probe, "rb");
	if (!f) {
		printf("fixtures not found in %s (run from the repository root or set HOPPER_TESTDATA)\n", datadir);
		return 77;
	}
	fclose(f);
	if (hp_convert_init() < 0) {
		printf("libmagic database not available\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_detect_by_content),
		cmocka_unit_test(test_detect_by_name),
		cmocka_unit_test(test_text_extension_wins),
		cmocka_unit_test(test_text_title),
		cmocka_unit_test(test_markdown_title),
		cmocka_unit_test(test_charset_latin1),
		cmocka_unit_test(test_charset_sjis),
		cmocka_unit_test(test_to_utf8),
		cmocka_unit_test(test_empty_and_binary),
		cmocka_unit_test(test_not_supported_yet),
		cmocka_unit_test(test_office_stubs),
		cmocka_unit_test(test_json_and_code),
		cmocka_unit_test(test_csv_cap_noted),
		cmocka_unit_test(test_output_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
