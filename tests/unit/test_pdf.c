/* test_pdf.c — the PDF converter on documents made by
 * tests/data/pdf/make-pdfs.py (mutool create): reading order of a
 * two-column paper, headings, lists, a table, hyphenation, running headers
 * and page numbers, title and page count; encrypted and image-only files;
 * the page, time and output limits; truncated files.
 * Run from the repository root, or set HOPPER_TESTDATA_PDF to tests/data/pdf. */
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
#include "hopper/ocr.h"

static const hp_convert_limits lim = { .max_output = 1u << 20, .max_depth = 64 };
static char datadir[4096];
static int ocr_ok;   /* Tesseract and its English data are here */

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

static int convert_with(const char *name, const hp_convert_limits *l, hp_doc **doc, char *err,
                        size_t errlen)
{
	size_t n;
	char *d = fixture(name, &n);
	*doc = NULL;
	err[0] = '\0';
	int r = hp_convert(name, d, n, l, doc, err, errlen);
	free(d);
	return r;
}

/* Offset of needle in the Markdown; fails when absent. */
static size_t at(const hp_doc *d, const char *needle)
{
	const char *p = strstr(d->markdown, needle);
	if (!p)
		fail_msg("\"%s\" not in the Markdown:\n%s", needle, d->markdown);
	return (size_t)(p - d->markdown);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_paper(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_with("paper.pdf", &lim, &d, err, sizeof err), 0);
	assert_int_equal(d->format, HP_FMT_PDF);
	assert_int_equal(d->pages, 2);
	/* no metadata title: the largest text on page 1 */
	assert_string_equal(d->title, "Reading Order in Two Column Documents");
	assert_non_null(d->meta_json);
	assert_non_null(strstr(d->meta_json, "\"pages\": 2"));

	/* page markers, in order */
	size_t p1 = at(d, "<!-- page 1 -->\n"), p2 = at(d, "\n<!-- page 2 -->\n");
	assert_true(p1 < p2);
	/* headings: the title is the largest (#), section titles below it */
	size_t h1 = at(d, "\n# Reading Order in Two Column Documents\n");
	size_t intro = at(d, "\n## 1 Introduction\n");
	size_t method = at(d, "\n## 2 Method\n");
	size_t results = at(d, "\n## 3 Results\n");
	size_t concl = at(d, "\n## 4 Conclusion\n");
	/* two columns: all of the left column before the right column */
	size_t left_last = at(d, "Left column closing paragraph ends the column.");
	size_t right_first = at(d, "Right column first paragraph,");
	assert_true(h1 < intro && intro < left_last && left_last < method && method < right_first);
	assert_true(p2 < results && results < concl);
	/* hyphenation across a line end joined */
	at(d, "The reconstruction of reading order");
	assert_null(strstr(d->markdown, "recon-"));
	/* ... but a word the document writes with a hyphen elsewhere keeps it */
	at(d, "Right column first paragraph, a well-known fact: it must come");
	/* the full-width abstract keeps its short last line (it does not reach
	 * the gutter, yet is not the left column's first line) */
	at(d, "depending on its font and its position.\n\n## 1 Introduction\n");
	/* paragraphs: the gap between the two left paragraphs is kept */
	at(d, "its position.\n\nLeft column second paragraph");
	/* lists */
	at(d, "\n- first bullet item\n- second bullet item\n");
	at(d, "\n1. Load the pages.\n2. Order the blocks.\n3. Write Markdown.\n");
	/* the table: 3 columns, header and these cells */
	at(d, "\n| Model | Params | Score |\n| --- | --- | --- |\n");
	at(d, "\n| Beta | 48M | 78.25 |\n");
	/* a note wrapped tight under a cell stays in that cell */
	at(d, "\n| Gamma | 110M | 80.0 (best) |\n");
	/* running header said once, page numbers gone */
	assert_int_equal(count(d->markdown, "Hopper Test Paper - Preprint"), 1);
	assert_null(strstr(d->markdown, "\n1\n"));
	assert_null(strstr(d->markdown, "\n2\n"));
	hp_doc_free(d);
}

/* Rules between rows: cell text that wraps at normal line spacing stays
 * in its row; the paragraph after the table is not part of it. */
static void test_ruled_table(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_with("ruled.pdf", &lim, &d, err, sizeof err), 0);
	at(d, "\n| Part | Description | Price |\n| --- | --- | --- |\n");
	at(d, "\n| A-100 | Steel bracket for the upper frame, painted | 12.50 |\n");
	at(d, "\n| B-220 | Rubber seal | 3.10 |\n");
	at(d, "\n| C-310 | Hinge set with screws, two per door, left and right hand | 8.75 |\n\n");
	at(d, "\nPrices are per unit and include tax.\n");
	assert_int_equal(count(d->markdown, "\n|"), 5);
	hp_doc_free(d);
}

/* A title repeated as the running header of later pages is said once (as
 * the title); "Page N of 3" footers go; "1. Section A" in a heading font
 * is a numbered heading, not a list. */
static void test_running_and_numbered(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_with("guide.pdf", &lim, &d, err, sizeof err), 0);
	assert_int_equal(d->pages, 3);
	assert_string_equal(d->title, "Field Guide");
	assert_int_equal(count(d->markdown, "Field Guide"), 1);
	at(d, "<!-- page 1 -->\n\n# Field Guide\n\n## 1. Section A\n\nBody text of section 1.");
	at(d, "<!-- page 2 -->\n\n## 2. Section B\n");
	at(d, "<!-- page 3 -->\n\n## 3. Section C\n");
	assert_null(strstr(d->markdown, "of 3"));
	hp_doc_free(d);
}

static void test_encrypted(void **state)
{
	hp_doc *d;
	char err[256];
	int r = convert_with("encrypted.pdf", &lim, &d, err, sizeof err);
	assert_int_equal(r, -EACCES);
	assert_null(d);
	assert_non_null(strstr(err, "encrypted PDF"));
}

static void test_scan_needs_ocr(void **state)
{
	hp_doc *d;
	char err[256];
	/* a picture without text: read by OCR when it is here, which finds
	 * nothing; else marked for OCR later */
	assert_int_equal(convert_with("scan.pdf", &lim, &d, err, sizeof err), 0);
	assert_int_equal(d->pages, 1);
	if (ocr_ok) {
		assert_non_null(strstr(d->meta_json, "\"ocr\": {\"pages\": [1]"));
		assert_null(strstr(d->meta_json, "ocr_needed"));
	} else {
		assert_non_null(strstr(d->meta_json, "\"ocr_needed\": true"));
		assert_non_null(strstr(d->meta_json, "pages without text were not read"));
	}
	assert_null(d->title);
	hp_doc_free(d);

	/* a scan of text */
	assert_int_equal(convert_with("scan-text.pdf", &lim, &d, err, sizeof err), 0);
	if (ocr_ok) {
		at(d, "<!-- page 1 -->\n\n<!-- text by OCR (eng), mean confidence ");
		at(d, "\nScanned Invoice 4711\n");
		at(d, "\nTotal due: 128 EUR\n");
		assert_string_equal(d->title, "Scanned Invoice 4711");
		assert_non_null(strstr(d->meta_json, "\"ocr\": {\"pages\": [1], \"mean_confidence\": "));
	} else
		assert_non_null(strstr(d->meta_json, "\"ocr_needed\": true"));
	hp_doc_free(d);

	/* a page with text does not ask for OCR */
	assert_int_equal(convert_with("memo.pdf", &lim, &d, err, sizeof err), 0);
	assert_null(strstr(d->meta_json, "ocr_needed"));
	assert_string_equal(d->title, "Memo");
	/* label/value pairs are lines, and the text before them is said once */
	at(d, "\nDate: 2024-11-15\n");
	at(d, "\nAuthor: A. Writer\n");
	assert_int_equal(count(d->markdown, "A one page note"), 1);
	/* a big bullet glyph does not pull the item's wrapped line into the
	 * next item's row */
	at(d, "\n- The first item of the list is long enough that it wraps onto a second line "
	      "under its own text.\n- The second item.\n");
	assert_null(strstr(d->markdown, "|"));
	hp_doc_free(d);
}

/* The document information dictionary's title beats the largest text on
 * page 1, and its author reaches meta. */
static void test_metadata(void **state)
{
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_with("titled.pdf", &lim, &d, err, sizeof err), 0);
	assert_string_equal(d->title, "Memo on Reading Order");
	assert_non_null(strstr(d->meta_json, "\"author\": \"Ada Writer\""));
	at(d, "\n# Memo\n");     /* the page's own heading stays */
	hp_doc_free(d);
}

static void test_page_cap(void **state)
{
	hp_convert_limits l = lim;
	l.max_pages = 1;
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_with("paper.pdf", &l, &d, err, sizeof err), -EFBIG);
	assert_null(d);
	assert_non_null(strstr(err, "2 pages"));
	assert_non_null(strstr(err, "pdf_max_pages"));
	l.max_pages = 2;
	assert_int_equal(convert_with("paper.pdf", &l, &d, err, sizeof err), 0);
	hp_doc_free(d);
}

static void test_page_time_budget(void **state)
{
	hp_convert_limits l = lim;
	l.page_time_ms = 1;
	hp_doc *d;
	char err[256];
	/* 60,000 paths on one page take far longer than 1 ms */
	assert_int_equal(convert_with("slow.pdf", &l, &d, err, sizeof err), -ETIMEDOUT);
	assert_null(d);
	assert_non_null(strstr(err, "page 1 took longer than the per-page budget"));
	/* without a budget the same page converts */
	l.page_time_ms = 0;
	assert_int_equal(convert_with("slow.pdf", &l, &d, err, sizeof err), 0);
	at(d, "A page with a great many paths.");
	hp_doc_free(d);
}

static void test_output_cap(void **state)
{
	hp_convert_limits l = lim;
	l.max_output = 500;
	hp_doc *d;
	char err[256];
	assert_int_equal(convert_with("paper.pdf", &l, &d, err, sizeof err), -EFBIG);
	assert_null(d);
	assert_non_null(strstr(err, "output over"));
}

/* Every prefix of the test PDFs ends as a result or a sentence, never a
 * crash or a hang (MuPDF repairs what it can: a cut file often still
 * gives text). */
static void test_truncated(void **state)
{
	static const char *const files[] = { "paper.pdf", "memo.pdf", "scan.pdf", "encrypted.pdf" };
	for (size_t f = 0; f < HP_ARRAY_SIZE(files); f++) {
		size_t n;
		char *data = fixture(files[f], &n);
		size_t cuts[] = { 1, 5, 9, 16, 64, n / 4, n / 3, n / 2, n * 2 / 3, n - 200, n - 30, n - 5, n - 1 };
		for (size_t c = 0; c < HP_ARRAY_SIZE(cuts); c++) {
			size_t k = cuts[c];
			if (k == 0 || k >= n)
				continue;
			hp_doc *d = NULL;
			char err[256] = "";
			int r = hp_convert(files[f], data, k, &lim, &d, err, sizeof err);
			if (r == 0) {
				assert_non_null(d->markdown);
				hp_doc_free(d);
			} else {
				assert_null(d);
				if (strlen(err) == 0)
					fail_msg("%s cut at %zu: error %d without a message", files[f], k, r);
				/* no library error codes or internal names leak */
				assert_null(strstr(err, "fz_"));
			}
		}
		free(data);
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	hp_ocr_single_thread(argv);   /* as hopperd and hopper do, so OCR can run */
	const char *env = getenv("HOPPER_TESTDATA_PDF");
	snprintf(datadir, sizeof(datadir), "%s", env ? env : "tests/data/pdf");
	char probe[4200];
	snprintf(probe, sizeof(probe), "%s/paper.pdf", datadir);
	FILE *f = fopen(probe, "rb");
	if (!f) {
		printf("fixtures not found in %s (run from the repository root or set HOPPER_TESTDATA_PDF)\n", datadir);
		return 77;
	}
	fclose(f);
	if (hp_convert_init() < 0) {
		printf("converters could not be initialised\n");
		return 77;
	}
	ocr_ok = hp_ocr_preload() == 0;
	if (!ocr_ok)
		printf("OCR not available here: scans are checked for ocr_needed only\n");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paper),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_ruled_table),
		cmocka_unit_test(test_running_and_numbered),
		cmocka_unit_test(test_encrypted),
		cmocka_unit_test(test_scan_needs_ocr),
		cmocka_unit_test(test_page_cap),
		cmocka_unit_test(test_page_time_budget),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
