/* test_dispose.c — hp_dispose_file against real files: move keeps the
 * relative path and never overwrites, delete, across filesystems (copy,
 * link, unlink), a file written again since its job is left alone, a file
 * already gone, paths outside the watch and folders swapped for links are
 * refused. (The database side and the crash between commit and move are
 * in watch-daemon.sh.)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hopper/common.h"
#include "hopper/dispose.h"

typedef struct fixture {
	char dir[64];
	char inbox[128], done[128], failed[128];
	hp_watch_config w;
} fixture;

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static hp_file_version version_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return (hp_file_version){ .size = st.st_size, .ino = st.st_ino,
	                          .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec };
}

static int setup_in(void **state, const char *base)
{
	fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "%s/hopper-dispose.XXXXXX", base);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->inbox, sizeof f->inbox, "%s/inbox", f->dir);
	snprintf(f->done, sizeof f->done, "%s/done", f->dir);
	snprintf(f->failed, sizeof f->failed, "%s/failed", f->dir);
	mkdir(f->inbox, 0755);
	char sub[160];
	snprintf(sub, sizeof sub, "%s/sub", f->inbox);
	mkdir(sub, 0755);
	f->w = (hp_watch_config){ .name = "inbox", .path = f->inbox, .recursive = true,
	                          .on_success = HP_ON_MOVE, .on_success_dir = f->done,
	                          .on_failure = HP_ON_MOVE, .on_failure_dir = f->failed };
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_in(state, "/tmp");
}

static int teardown(void **state)
{
	fixture *f = *state;
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static void test_move_keeps_relative_path(void **state)
{
	fixture *f = *state;
	char src[256], dst[256];
	snprintf(src, sizeof src, "%s/sub/report.txt", f->inbox);
	put(src, "one");
	hp_file_version v = version_of(src);
	char *dest = NULL;
	assert_int_equal(hp_dispose_file(&f->w, src, HP_DISPOSE_SUCCESS, &v, &dest), 1);
	snprintf(dst, sizeof dst, "%s/sub/report.txt", f->done);
	assert_string_equal(dest, dst);
	free(dest);
	assert_int_equal(access(src, F_OK), -1);
	assert_string_equal(slurp(dst), "one");
	/* Once more: the file is gone, nothing to do. */
	assert_int_equal(hp_dispose_file(&f->w, src, HP_DISPOSE_SUCCESS, &v, NULL), -ENOENT);
}

static void test_never_overwrites(void **state)
{
	fixture *f = *state;
	char src[256], p[256];
	for (int i = 0; i < 3; i++) {
		snprintf(src, sizeof src, "%s/sub/same.name.txt", f->inbox);
		char text[16];
		snprintf(text, sizeof text, "v%d", i);
		put(src, text);
		hp_file_version v = version_of(src);
		assert_int_equal(hp_dispose_file(&f->w, src, HP_DISPOSE_SUCCESS, &v, NULL), 1);
	}
	snprintf(p, sizeof p, "%s/sub/same.name.txt", f->done);
	assert_string_equal(slurp(p), "v0");
	snprintf(p, sizeof p, "%s/sub/same.name (1).txt", f->done);
	assert_string_equal(slurp(p), "v1");
	snprintf(p, sizeof p, "%s/sub/same.name (2).txt", f->done);
	assert_string_equal(slurp(p), "v2");
	/* No extension, and a dot file. */
	snprintf(src, sizeof src, "%s/README", f->inbox);
	put(src, "a");
	hp_file_version v = version_of(src);
	assert_int_equal(hp_dispose_file(&f->w, src, HP_DISPOSE_FAILURE, &v, NULL), 1);
	put(src, "b");
	v = version_of(src);
	assert_int_equal(hp_dispose_file(&f->w, src, HP_DISPOSE_FAILURE, &v, NULL), 1);
	snprintf(p, sizeof p, "%s/README (1)", f->failed);
	assert_string_equal(slurp(p), "b");
}

static void test_delete_and_keep(void **state)
{
	fixture *f = *state;
	char src[256];
	snprintf(src, sizeof src, "%s/sub/x.txt", f->inbox);
	put(src, "x");
	hp_file_version v = version_of(src);
	f->w.on_success = HP_ON_KEEP;
	assert_int_equal(hp_dispose_file(&f->w, src, HP_DISPOSE_SUCCESS, &v, NULL), 0);
	assert_int_equal(access(src, F_OK), 0);
	f->w.on_success = HP_ON_DELETE;
	assert_int_equal(hp_dispose_file(&f->w, src, HP_DISPOSE_SUCCESS, &v, NULL), 1);
	assert_int_equal(access(src, F_OK), -1);
}

/* Written again after its job was queued: that is another version, left
 * for its own job. */
static void test_other_version_left_alone(void **state)
{
	fixture *f = *state;
	char src[256];
	snprintf(src, sizeof src, "%s/changing.txt", f->inbox);
	put(src, "old");
	hp_file_version v = version_of(src);
	put(src, "newer and longer");
	f->w.on_success = HP_ON_DELETE;
	assert_int_equal(hp_dispose_file(&f->w, src, HP_DISPOSE_SUCCESS, &v, NULL), -ESTALE);
	assert_string_equal(slurp(src), "newer and longer");
}

/* A path from the table is data: outside the watch, or through a folder
 * swapped for a link, nothing is touched. */
static void test_refuses_outside_and_links(void **state)
{
	fixture *f = *state;
	char outside[256], link[256], via[256];
	snprintf(outside, sizeof outside, "%s/victim.txt", f->dir);
	put(outside, "keep me");
	hp_file_version v = version_of(outside);
	f->w.on_success = HP_ON_DELETE;
	hp_log_level = 0;
	assert_int_equal(hp_dispose_file(&f->w, outside, HP_DISPOSE_SUCCESS, &v, NULL), -EPERM);
	snprintf(link, sizeof link, "%s/swapped", f->inbox);
	assert_int_equal(symlink(f->dir, link), 0);
	snprintf(via, sizeof via, "%s/swapped/victim.txt", f->inbox);
	assert_true(hp_dispose_file(&f->w, via, HP_DISPOSE_SUCCESS, &v, NULL) < 0);
	snprintf(via, sizeof via, "%s/../victim.txt", f->inbox);
	assert_true(hp_dispose_file(&f->w, via, HP_DISPOSE_SUCCESS, &v, NULL) < 0);
	hp_log_level = HP_LOG_ERR;
	assert_string_equal(slurp(outside), "keep me");
}

/* Across filesystems (the watch on /tmp, the target on /dev/shm): copied,
 * made durable, linked without overwriting, then removed. */
static void test_move_across_filesystems(void **state)
{
	fixture *f = *state;
	struct stat a, b;
	char shm[] = "/dev/shm/hopper-dispose-dst.XXXXXX";
	if (stat("/dev/shm", &b) < 0 || stat(f->dir, &a) < 0 || a.st_dev == b.st_dev || !mkdtemp(shm)) {
		skip();
		return;
	}
	f->w.on_success_dir = shm;
	char src[256], p[256];
	snprintf(p, sizeof p, "%s/sub", shm);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/sub/far.txt", shm);
	put(p, "already there");
	snprintf(src, sizeof src, "%s/sub/far.txt", f->inbox);
	put(src, "far away");
	chmod(src, 0640);
	hp_file_version v = version_of(src);
	assert_int_equal(hp_dispose_file(&f->w, src, HP_DISPOSE_SUCCESS, &v, NULL), 1);
	assert_int_equal(access(src, F_OK), -1);
	assert_string_equal(slurp(p), "already there");
	snprintf(p, sizeof p, "%s/sub/far (1).txt", shm);
	assert_string_equal(slurp(p), "far away");
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec, v.mtime_ns);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", shm);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	hp_log_level = HP_LOG_ERR;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_move_keeps_relative_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_overwrites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_version_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_outside_and_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_across_filesystems, setup, teardown),
	};
	return cmocka_run_group_tests_name("dispose", tests, NULL, NULL);
}
