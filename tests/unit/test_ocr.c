/* test_ocr.c — images through OCR (lib/ocr.c, lib/convert/image.c): the
 * words of a picture of text come back, with the confidence in meta; a
 * truncated image, a forged header of a giant image and a language that is
 * not installed fail with a sentence; a picture is detected as an image;
 * a page too large for the memory the process has left is refused with a
 * sentence, not an abort inside Tesseract; the same picture as JPEG, TIFF,
 * WebP, GIF and BMP is read too.
 * Skips (77) when Tesseract's English data is not installed. Fixtures are
 * in tests/data/ocr/ (made by its make.sh). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <leptonica/allheaders.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hopper/common.h"
#include "hopper/convert.h"
#include "hopper/ocr.h"

static const hp_convert_limits lim = { .max_output = 1u << 20, .max_depth = 64 };
static char *png;
static size_t png_len;

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	hp_buf b;
	hp_buf_init(&b, 0);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		hp_buf_add(&b, tmp, n);
	fclose(f);
	*ret_len = b.len;
	return hp_buf_steal(&b);
}

static void test_words_come_back(void **state)
{
	hp_doc *doc = NULL;
	char err[256] = "";
	int r = hp_convert("invoice.png", png, png_len, &lim, &doc, err, sizeof err);
	if (r < 0)
		fail_msg("convert: %s", err);
	assert_int_equal(doc->format, HP_FMT_IMAGE);
	assert_string_equal(hp_format_name(doc->format), "image");
	assert_non_null(strstr(doc->markdown, "Invoice 4711 from Hopper Supplies"));
	assert_non_null(strstr(doc->markdown, "Total due: 1234 euros by Friday"));
	assert_non_null(strstr(doc->markdown, "<!-- page 1: text by OCR (eng), mean confidence"));
	assert_int_equal(doc->pages, 1);
	assert_string_equal(doc->title, "Invoice 4711 from Hopper Supplies");
	int conf = -1;
	const char *c = strstr(doc->meta_json, "\"mean_confidence\": ");
	assert_non_null(c);
	conf = atoi(c + strlen("\"mean_confidence\": "));
	assert_true(conf >= 80 && conf <= 100);
	hp_doc_free(doc);
}

static void test_truncated(void **state)
{
	/* Cut inside the image data, and inside the header. */
	size_t cuts[] = { png_len / 2, png_len - 100, 40, 12 };
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		hp_ocr_result o = { 0 };
		char err[256] = "";
		int r = hp_ocr_encoded(png, cuts[i], NULL, 0, &o, err, sizeof err);
		if (r == 0) {
			/* Leptonica may decode what arrived of a PNG: then whatever
			 * was read is text, never garbage memory. */
			assert_non_null(o.text);
			free(o.text);
			continue;
		}
		assert_int_equal(r, -EINVAL);
		assert_true(strstr(err, "damaged") || strstr(err, "does not decode"));
	}
}

static void test_giant_header(void **state)
{
	/* A PNG whose header claims 100000 x 100000 pixels: refused before any
	 * pixel is decoded (that would be 10 GB). */
	char *forged = malloc(png_len);
	assert_non_null(forged);
	memcpy(forged, png, png_len);
	const uint8_t big[8] = { 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0 };
	memcpy(forged + 16, big, sizeof big); /* IHDR width, height */
	hp_ocr_result o = { 0 };
	char err[256] = "";
	int r = hp_ocr_encoded(forged, png_len, NULL, 0, &o, err, sizeof err);
	assert_int_equal(r, -EFBIG);
	assert_non_null(strstr(err, "100000x100000 pixels is over the OCR limit"));
	free(forged);
}

static void test_language_missing(void **state)
{
	hp_ocr_result o = { 0 };
	char err[256] = "";
	int r = hp_ocr_encoded(png, png_len, "eng xyz", 0, &o, err, sizeof err);
	assert_int_equal(r, -ENOTSUP);
	assert_string_equal(err, "OCR language xyz is not installed (apt-get install tesseract-ocr-xyz)");
}

/* Address space mapped now (/proc/self/statm, first field). */
static uint64_t mapped_now(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long pages = 0;
	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void test_page_over_memory(void **state)
{
#ifdef HP_SANITIZE
	skip();  /* the sanitizers' shadow memory rules out an RLIMIT_AS */
#endif
	/* A 36-megapixel page of text (the invoice, tiled), read in a child
	 * process whose address space leaves 48 MiB on top of that page:
	 * enough for Tesseract's picture of it, not to read it. */
	PIX *tile = pixReadMem((const l_uint8 *)png, png_len);
	assert_non_null(tile);
	PIX *g = pixConvertTo8(tile, 0);
	assert_non_null(g);
	int tw = pixGetWidth(g), th = pixGetHeight(g);
	hp_ocr_image img = { .width = 6000, .height = 6000, .stride = 6000, .dpi = 300 };
	uint8_t *gray = malloc((size_t)img.width * (size_t)img.height);
	assert_non_null(gray);
	for (int y = 0; y < img.height; y++)
		for (int x = 0; x < img.width; x++) {
			l_uint32 v = 255;
			pixGetPixel(g, x % tw, y % th, &v);
			gray[(size_t)y * (size_t)img.width + (size_t)x] = (uint8_t)v;
		}
	img.gray = gray;
	pixDestroy(&g);
	pixDestroy(&tile);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t as = mapped_now() + ((uint64_t)48 << 20);
		struct rlimit rl = { .rlim_cur = as, .rlim_max = as };
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			_exit(3);
		hp_ocr_result o = { 0 };
		char err[256] = "";
		int r = hp_ocr_gray(&img, NULL, 0, &o, err, sizeof err);
		_exit(r == -EFBIG && strstr(err, "6000x6000 pixels needs about") &&
		      strstr(err, "more than the worker has left") ? 0 : 4);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	free(gray);
	if (!WIFEXITED(st))
		fail_msg("the OCR child died of signal %d instead of refusing the page", WTERMSIG(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* The same picture as JPEG, TIFF, WebP, GIF and BMP (written here by
 * Leptonica from the PNG) is read too. A format this Leptonica cannot
 * write is said and left out; PNG, JPEG and TIFF must all be there. */
static void test_other_formats(void **state)
{
	static const struct { int iff; const char *name; bool required; } fmts[] = {
		{ IFF_JFIF_JPEG, "invoice.jpg", true }, { IFF_TIFF_ZIP, "invoice.tif", true },
		{ IFF_WEBP, "invoice.webp", false }, { IFF_GIF, "invoice.gif", false },
		{ IFF_BMP, "invoice.bmp", false },
	};
	PIX *pix = pixReadMem((const l_uint8 *)png, png_len);
	assert_non_null(pix);
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		l_uint8 *data = NULL;
		size_t size = 0;
		if (pixWriteMem(&data, &size, pix, fmts[i].iff) != 0 || !data) {
			if (fmts[i].required)
				fail_msg("Leptonica cannot write %s", fmts[i].name);
			printf("(Leptonica here cannot write %s: not checked)\n", fmts[i].name);
			continue;
		}
		hp_doc *doc = NULL;
		char err[256] = "";
		int r = hp_convert(fmts[i].name, (const char *)data, size, &lim, &doc, err, sizeof err);
		lept_free(data);
		if (r < 0)
			fail_msg("convert %s: %s", fmts[i].name, err);
		assert_int_equal(doc->format, HP_FMT_IMAGE);
		if (!strstr(doc->markdown, "Invoice 4711 from Hopper Supplies"))
			fail_msg("%s: words not found in [%s]", fmts[i].name, doc->markdown);
		assert_non_null(strstr(doc->markdown, "<!-- page 1: text by OCR (eng), mean confidence"));
		assert_non_null(strstr(doc->meta_json, "\"mean_confidence\": "));
		hp_doc_free(doc);
	}
	pixDestroy(&pix);
}

static void test_detected_by_content(void **state)
{
	assert_int_equal(hp_detect("scan", png, png_len), HP_FMT_IMAGE);
	assert_int_equal(hp_detect("scan.jpg", png, png_len), HP_FMT_IMAGE);
}

int main(int argc, char **argv)
{
	hp_ocr_single_thread(argv);
	const char *dir = getenv("HOPPER_TESTDATA_OCR");
	char path[4096];
	snprintf(path, sizeof path, "%s/invoice.png", dir ? dir : "tests/data/ocr");
	png = slurp(path, &png_len);
	if (!png) {
		printf("FAIL: cannot read %s (run from the repository root)\n", path);
		return 1;
	}
	if (hp_convert_init() < 0 || hp_ocr_preload() < 0) {
		printf("skip: no Tesseract language data (apt-get install tesseract-ocr-eng)\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words_come_back),
		cmocka_unit_test(test_other_formats),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_giant_header),
		cmocka_unit_test(test_language_missing),
		cmocka_unit_test(test_detected_by_content),
		cmocka_unit_test(test_page_over_memory),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	free(png);
	return r;
}
