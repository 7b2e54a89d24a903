/* test_watch.c — the watcher against real inotify and real files.
 *
 * Drives hp_watcher through its own epoll set, as hopperd does, and checks
 * which files it reports: start-up scan, close-after-write, rename into
 * place, new subfolders (and files made in them before they were armed),
 * excluded names, symlinks, non-recursive watches, and overflow rescans.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hopper/watch.h"

typedef struct seen {
	char *paths[256];
	const char *watch[256];
	size_t n;
} seen;

static void on_file(void *userdata, const hp_watch_config *w, const char *path, const struct stat *st)
{
	seen *s = userdata;
	assert_true(S_ISREG(st->st_mode));
	if (s->n < HP_ARRAY_SIZE(s->paths)) {
		s->paths[s->n] = strdup(path);
		s->watch[s->n] = w->name;
		s->n++;
	}
}

static size_t count(const seen *s, const char *suffix)
{
	size_t c = 0, ls = strlen(suffix);
	for (size_t i = 0; i < s->n; i++) {
		size_t lp = strlen(s->paths[i]);
		if (lp >= ls && strcmp(s->paths[i] + lp - ls, suffix) == 0)
			c++;
	}
	return c;
}

static void seen_clear(seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->paths[i]);
	s->n = 0;
}

/* Run the event loop until nothing arrives for 200 ms. */
static void pump(int epfd)
{
	struct epoll_event evs[8];
	int n;
	while ((n = epoll_wait(epfd, evs, 8, 200)) > 0)
		for (int i = 0; i < n; i++) {
			hp_evsrc *src = evs[i].data.ptr;
			src->handler(src, evs[i].events);
		}
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

typedef struct fixture {
	char dir[64];
	char inbox[128];
	char flat[128];
	char *excl[3];
	hp_watch_config w[2];
	hp_config cfg;
	int epfd;
	seen s;
	hp_watcher *watcher;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/hopper-watch.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->inbox, sizeof f->inbox, "%s/inbox", f->dir);
	snprintf(f->flat, sizeof f->flat, "%s/flat", f->dir);
	mkdir(f->inbox, 0755);
	mkdir(f->flat, 0755);
	f->excl[0] = ".*";
	f->excl[1] = "*.part";
	f->excl[2] = NULL;
	f->w[0] = (hp_watch_config){ .name = "inbox", .path = f->inbox, .recursive = true,
	                             .exclude = f->excl, .n_exclude = 2 };
	f->w[1] = (hp_watch_config){ .name = "flat", .path = f->flat, .recursive = false,
	                             .exclude = f->excl, .n_exclude = 2 };
	f->cfg.watches = f->w;
	f->cfg.n_watches = 2;
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	hp_watcher_free(f->watcher);
	seen_clear(&f->s);
	close(f->epfd);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static void start(fixture *f)
{
	assert_int_equal(hp_watcher_new(&f->cfg, f->epfd, on_file, &f->s, &f->watcher), 0);
}

static void test_startup_scan(void **state)
{
	fixture *f = *state;
	write_file(f->inbox, "a.txt", "a");
	write_file(f->inbox, ".hidden", "h");
	write_file(f->inbox, "big.part", "p");
	char sub[256];
	snprintf(sub, sizeof sub, "%s/sub", f->inbox);
	mkdir(sub, 0755);
	write_file(sub, "b.md", "# b");
	char hid[256];
	snprintf(hid, sizeof hid, "%s/.git", f->inbox);
	mkdir(hid, 0755);
	write_file(hid, "config", "x");
	char fsub[256];
	snprintf(fsub, sizeof fsub, "%s/nested", f->flat);
	mkdir(fsub, 0755);
	write_file(fsub, "skip.txt", "no: flat is not recursive");
	write_file(f->flat, "c.txt", "c");
	char link[256];
	snprintf(link, sizeof link, "%s/link.txt", f->inbox);
	assert_int_equal(symlink("/etc/passwd", link), 0);

	start(f);
	int n = hp_watcher_scan(f->watcher);
	assert_int_equal(n, 3);
	assert_int_equal(f->s.n, 3);
	assert_int_equal(count(&f->s, "/inbox/a.txt"), 1);
	assert_int_equal(count(&f->s, "/inbox/sub/b.md"), 1);
	assert_int_equal(count(&f->s, "/flat/c.txt"), 1);
	assert_int_equal(count(&f->s, "skip.txt"), 0);
	assert_int_equal(count(&f->s, "link.txt"), 0);
	/* inbox, inbox/sub, flat: the hidden folder is excluded */
	assert_int_equal(hp_watcher_count(f->watcher), 3);
}

static void test_events(void **state)
{
	fixture *f = *state;
	start(f);
	hp_watcher_scan(f->watcher);
	assert_int_equal(f->s.n, 0);

	/* closed after writing */
	write_file(f->inbox, "new.txt", "hello");
	/* written elsewhere, renamed into place */
	write_file(f->dir, "staged.html", "<p>x</p>");
	char from[256], to[256];
	snprintf(from, sizeof from, "%s/staged.html", f->dir);
	snprintf(to, sizeof to, "%s/moved.html", f->inbox);
	assert_int_equal(rename(from, to), 0);
	/* partial download renamed to its final name: only the final name counts */
	write_file(f->inbox, "doc.pdf.part", "%PDF");
	snprintf(from, sizeof from, "%s/doc.pdf.part", f->inbox);
	snprintf(to, sizeof to, "%s/doc.pdf", f->inbox);
	assert_int_equal(rename(from, to), 0);
	/* a file still open for writing is not reported yet */
	char open_path[256];
	snprintf(open_path, sizeof open_path, "%s/open.txt", f->inbox);
	int fd = open(open_path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	pump(f->epfd);
	assert_int_equal(count(&f->s, "/inbox/new.txt"), 1);
	assert_int_equal(count(&f->s, "/inbox/moved.html"), 1);
	assert_int_equal(count(&f->s, "/inbox/doc.pdf"), 1);
	assert_int_equal(count(&f->s, ".part"), 0);
	assert_int_equal(count(&f->s, "open.txt"), 0);
	close(fd);
	pump(f->epfd);
	assert_int_equal(count(&f->s, "open.txt"), 1);
	assert_int_equal(f->s.n, 4);
	for (size_t i = 0; i < f->s.n; i++)
		assert_string_equal(f->s.watch[i], "inbox");
}

static void test_new_subfolders(void **state)
{
	fixture *f = *state;
	start(f);
	hp_watcher_scan(f->watcher);
	/* A folder tree created in one go, with files, before the watcher sees
	 * the first mkdir event: the scan of the new folder finds them. */
	char a[256], b[256];
	snprintf(a, sizeof a, "%s/x", f->inbox);
	snprintf(b, sizeof b, "%s/x/y", f->inbox);
	mkdir(a, 0755);
	mkdir(b, 0755);
	write_file(b, "deep.txt", "deep");
	pump(f->epfd);
	assert_int_equal(count(&f->s, "/inbox/x/y/deep.txt"), 1);
	/* ... and later files in it come through inotify */
	write_file(b, "later.txt", "later");
	pump(f->epfd);
	assert_int_equal(count(&f->s, "/inbox/x/y/later.txt"), 1);
	assert_int_equal(hp_watcher_count(f->watcher), 4);
	/* A folder moved in from outside is watched and scanned too. */
	char outside[256], inside[256];
	snprintf(outside, sizeof outside, "%s/outside", f->dir);
	mkdir(outside, 0755);
	write_file(outside, "carried.txt", "c");
	snprintf(inside, sizeof inside, "%s/carried", f->inbox);
	assert_int_equal(rename(outside, inside), 0);
	pump(f->epfd);
	assert_int_equal(count(&f->s, "/inbox/carried/carried.txt"), 1);
	/* Removed folders drop out of the table. */
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", a);
	assert_int_equal(system(cmd), 0);
	pump(f->epfd);
	assert_int_equal(hp_watcher_count(f->watcher), 3); /* inbox, flat, carried */
}

/* A watch whose path goes through a link reports canonical paths. */
static void test_canonical_root(void **state)
{
	fixture *f = *state;
	char link[128];
	snprintf(link, sizeof link, "%s/via-link", f->dir);
	assert_int_equal(symlink(f->inbox, link), 0);
	f->w[0].path = link;
	write_file(f->inbox, "c.txt", "c");
	start(f);
	hp_watcher_scan(f->watcher);
	f->w[0].path = f->inbox;
	assert_int_equal(count(&f->s, "/inbox/c.txt"), 1);
	assert_int_equal(count(&f->s, "via-link/c.txt"), 0);
}

static void test_excluded(void **state)
{
	fixture *f = *state;
	assert_true(hp_watch_excluded(&f->w[0], ".hidden"));
	assert_true(hp_watch_excluded(&f->w[0], "x.part"));
	assert_false(hp_watch_excluded(&f->w[0], "x.pdf"));
	assert_false(hp_watch_excluded(&f->w[0], "a.hidden"));
}

static void test_missing_folder(void **state)
{
	fixture *f = *state;
	char gone[256];
	snprintf(gone, sizeof gone, "%s/does-not-exist", f->dir);
	f->w[1].path = gone;
	hp_watcher *w = NULL;
	assert_int_equal(hp_watcher_new(&f->cfg, f->epfd, on_file, &f->s, &w), -ENOENT);
	assert_null(w);
	f->w[1].path = f->flat;
}

int main(void)
{
	hp_log_level = HP_LOG_ERR;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_startup_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_subfolders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_canonical_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_excluded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_folder, setup, teardown),
	};
	return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
