/* test_truncated.c — every converter on input cut short: a download that
 * stopped, a file still being written. Each golden document (and the
 * charset fixtures) is cut at every offset (small files) or at 97 spread
 * offsets plus the first and last 16 bytes, and converted under its own
 * name; the peer test pages (../shared) at 23 spread offsets. Each cut must give valid UTF-8 Markdown or fail with a sentence,
 * never crash (run it under SANITIZE=address,undefined too). Fixtures are
 * in tests/data/ (run from the repository root, or set HOPPER_TESTDATA to
 * tests/data). */
#include <dirent.h>
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

static const hp_convert_limits lim = { .max_output = 4u << 20, .max_depth = 256 };
static char datadir[4096];

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
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

/* Is s valid UTF-8? (own check: the test must not trust the library's) */
static int utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 :
		           (c & 0xF8) == 0xF0 ? 3 : 9;
		if (k == 9 || (k == 1 && c < 0xC2) || i + k >= n + (k == 0))
			return k == 0;
		for (size_t j = 1; j <= k; j++)
			if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

/* Convert data[0..cut) as `name`; returns 1 when it converted. */
static int convert_cut(const char *name, const char *data, size_t cut, hp_format whole)
{
	hp_doc *doc = NULL;
	char err[256] = "";
	/* a copy of exactly `cut` bytes, so ASan sees any read past the end */
	char *p = malloc(cut ? cut : 1);
	assert_non_null(p);
	memcpy(p, data, cut);
	int r = hp_convert(name, p, cut, &lim, &doc, err, sizeof(err));
	free(p);
	if (r == 0) {
		assert_non_null(doc);
		assert_non_null(doc->markdown);
		assert_int_equal(strlen(doc->markdown), doc->markdown_len);
		if (!utf8_ok((const unsigned char *)doc->markdown, doc->markdown_len))
			fail_msg("%s cut at %zu: output is not valid UTF-8", name, cut);
		hp_doc_free(doc);
		return 1;
	}
	assert_null(doc);
	if (r != -EINVAL && r != -ENOTSUP && r != -EFBIG)
		fail_msg("%s cut at %zu: unexpected error %d (%s)", name, cut, r, err);
	if (!err[0])
		fail_msg("%s cut at %zu: failed without a message", name, cut);
	/* a text format cut short is still text, not "unrecognised" (UTF-16
	 * without a byte order mark needs two characters to be recognised) */
	if (r == -ENOTSUP && whole != HP_FMT_UNKNOWN && cut >= 4)
		fail_msg("%s (%s) cut at %zu: %s", name, hp_format_name(whole), cut, err);
	return 0;
}

static void cut_file(const char *dir, const char *name, size_t *ok, size_t *failed)
{
	char path[8300];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	size_t len;
	char *data = slurp(path, &len);
	hp_format whole = hp_detect(name, data, len);
	if (len > 65536) {
		/* a real page: fewer, spread cuts keep the test fast */
		for (size_t i = 1; i < 24; i++)
			convert_cut(name, data, len * i / 24 + i, whole) ? ++*ok : ++*failed;
	} else if (len <= 4096) {
		for (size_t cut = 0; cut <= len; cut++)
			convert_cut(name, data, cut, whole) ? ++*ok : ++*failed;
	} else {
		for (size_t i = 0; i <= 96; i++)
			convert_cut(name, data, len * i / 96, whole) ? ++*ok : ++*failed;
		for (size_t i = 1; i <= 16; i++) {
			convert_cut(name, data, i, whole) ? ++*ok : ++*failed;
			convert_cut(name, data, len - i, whole) ? ++*ok : ++*failed;
		}
	}
	free(data);
}

static void cut_dir(const char *sub, const char *const *only)
{
	char dir[4200];
	if (sub[0] == '/' || sub[0] == '.')
		snprintf(dir, sizeof(dir), "%s", sub);     /* a path, not under datadir */
	else
		snprintf(dir, sizeof(dir), "%s/%s", datadir, sub);
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("cannot open %s", dir);
	struct dirent *e;
	size_t files = 0, ok = 0, failed = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "README") == 0)
			continue;
		int take = !only;
		for (const char *const *o = only; o && *o && !take; o++)
			take = strcmp(*o, e->d_name) == 0;
		if (!take)
			continue;
		cut_file(dir, e->d_name, &ok, &failed);
		files++;
	}
	closedir(d);
	printf("%s: %zu files, %zu cuts converted, %zu failed with a message\n", sub, files, ok, failed);
	assert_true(files > 0);
	assert_true(ok > 0);
}

/* Every golden document: HTML, CSV, JSON, XML, text, Markdown. */
static void test_golden_cut(void **state)
{
	cut_dir("golden", NULL);
}

/* Charset paths: a multi-byte sequence cut in half, UTF-16 with an odd
 * byte, Shift_JIS; and source code (the code converter). */
static void test_charsets_cut(void **state)
{
	static const char *const files[] = {
		"latin1.txt", "sjis.txt", "sjis.csv", "utf16.txt", "utf16-nobom.md", "front.md",
		"setext.md", "data.json", "notes.txt", "pdfsniff.go", NULL,
	};
	cut_dir("convert", files);
}

/* The peer test pages (real HTML from the web), when the shared folder is
 * beside the clone. */
static void test_peer_pages_cut(void **state)
{
	static const char *const files[] = {
		"test_blog.html", "test_wikipedia.html", "test_serp.html", "test_mskanji.csv",
		"test.json", NULL,
	};
	const char *dir = "../shared/peer-tests/markitdown/files";
	DIR *d = opendir(dir);
	if (!d)
		skip();
	closedir(d);
	cut_dir(dir, files);
}

int main(void)
{
	const char *env = getenv("HOPPER_TESTDATA");
	snprintf(datadir, sizeof(datadir), "%s", env ? env : "tests/data");
	char probe[4200];
	snprintf(probe, sizeof(probe), "%s/golden", datadir);
	DIR *d = opendir(probe);
	if (!d) {
		printf("fixtures not found in %s (run from the repository root or set HOPPER_TESTDATA)\n", datadir);
		return 77;
	}
	closedir(d);
	if (hp_convert_init() < 0) {
		printf("libmagic database not available\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_cut),
		cmocka_unit_test(test_charsets_cut),
		cmocka_unit_test(test_peer_pages_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
