/* test_mirror.c — the mirror's pure parts: front matter, atomic writes into
 * a real temporary folder, the sha256 read back for repairs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "hopper/mirror.h"

static const char SHA[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_render(void **state)
{
	(void)state;
	char *out;
	size_t len;
	const char *md = "# Report\n\nBody.";
	assert_int_equal(hp_mirror_render("/srv/in/a \"b\".pdf", "pdf", SHA, "Report: Q3\\", 12, md, strlen(md),
	                                  &out, &len), 0);
	assert_int_equal(strlen(out), len);
	assert_string_equal(out, "---\nsource: \"/srv/in/a \\\"b\\\".pdf\"\nformat: \"pdf\"\n"
	                         "sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	                         "title: \"Report: Q3\\\\\"\npages: 12\n---\n\n# Report\n\nBody.\n");
	free(out);
	/* no title, no pages; a name that is not UTF-8 and has a newline */
	assert_int_equal(hp_mirror_render("/in/\xff\nx", "text", SHA, NULL, 0, "x\n", 2, &out, &len), 0);
	assert_non_null(strstr(out, "source: \"/in/\\xFF\\x0Ax\"\n"));
	assert_null(strstr(out, "title:"));
	assert_null(strstr(out, "pages:"));
	assert_string_equal(out + len - 3, "\nx\n");
	free(out);
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/hopper-mirror-test.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static void rm_rf(const char *p)
{
	struct stat st;
	if (lstat(p, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(p);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[512];
			snprintf(sub, sizeof sub, "%s/%s", p, e->d_name);
			rm_rf(sub);
		}
		if (d)
			closedir(d);
		rmdir(p);
	} else {
		unlink(p);
	}
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(dir);
	return 0;
}

static int count_entries(const char *p)
{
	DIR *d = opendir(p);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static void test_write_and_read_back(void **state)
{
	(void)state;
	char out[128], path[512], sha[65];
	snprintf(out, sizeof out, "%s/out", dir);   /* created on demand */
	char *doc;
	size_t len;
	assert_int_equal(hp_mirror_render("/in/sub/deep/r.txt", "text", SHA, "T", 0, "hello", 5, &doc, &len), 0);
	assert_int_equal(hp_mirror_write_file(out, "sub/deep/r.txt.md", doc, len), 0);
	snprintf(path, sizeof path, "%s/sub/deep/r.txt.md", out);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char buf[1024];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_int_equal(n, len);
	assert_memory_equal(buf, doc, len);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* nothing else left behind: no temporary file */
	snprintf(path, sizeof path, "%s/sub/deep", out);
	assert_int_equal(count_entries(path), 1);
	/* read back the sha256; replace: still one file, new content */
	snprintf(path, sizeof path, "%s/sub/deep/r.txt.md", out);
	assert_int_equal(hp_mirror_read_sha(path, sha), 0);
	assert_string_equal(sha, SHA);
	assert_int_equal(hp_mirror_write_file(out, "sub/deep/r.txt.md", "plain\n", 6), 0);
	assert_int_equal(hp_mirror_read_sha(path, sha), -ENOENT);   /* no front matter */
	snprintf(path, sizeof path, "%s/sub/deep", out);
	assert_int_equal(count_entries(path), 1);
	snprintf(path, sizeof path, "%s/missing.md", out);
	assert_int_equal(hp_mirror_read_sha(path, sha), -ENOENT);
	free(doc);
}

static void test_refuses_escapes(void **state)
{
	(void)state;
	static const char *bad[] = { "../x.md", "a/../../x.md", "/etc/x.md", "", "a//b.md", "./x.md", "a/.." };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(hp_mirror_write_file(dir, bad[i], "x", 1), -EINVAL);
	assert_int_equal(count_entries(dir), 0);
	/* dots inside names are fine */
	assert_int_equal(hp_mirror_write_file(dir, "..hidden/a..b.md", "x", 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test_setup_teardown(test_write_and_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_escapes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
