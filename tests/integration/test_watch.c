/* test_watch.c — the watcher against real inotify and real files.
 *
 * Drives hp_watcher through its own epoll set, as hopperd does, and checks
 * which files it reports: start-up scan, close-after-write, rename into
 * place, new subfolders (and files made in them before they were armed),
 * excluded names, symlinks, non-recursive watches, and overflow rescans;
 * files that are complete only once quiet (a slow writer that keeps the
 * file open, hard links, O_TMPFILE + linkat), odd file types, folders
 * renamed away, polling mode and the inotify watch limit.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hopper/watch.h"

typedef struct seen {
	char *paths[256];
	const char *watch[256];
	off_t size[256];
	size_t n;
} seen;

static void on_file(void *userdata, const hp_watch_config *w, const char *path, const struct stat *st)
{
	seen *s = userdata;
	assert_true(S_ISREG(st->st_mode));
	if (s->n < HP_ARRAY_SIZE(s->paths)) {
		s->paths[s->n] = strdup(path);
		s->watch[s->n] = w->name;
		s->size[s->n] = st->st_size;
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

/* Run the event loop for ms milliseconds. */
static void pump_ms(int epfd, int ms)
{
	uint64_t end = hp_now_ms() + (uint64_t)ms;
	for (uint64_t now; (now = hp_now_ms()) < end;) {
		struct epoll_event evs[8];
		int n = epoll_wait(epfd, evs, 8, (int)(end - now));
		for (int i = 0; i < n; i++) {
			hp_evsrc *src = evs[i].data.ptr;
			src->handler(src, evs[i].events);
		}
	}
}

/* Run the event loop until `suffix` was reported `want` times, or 10 s. */
static void pump_until(int epfd, const seen *s, const char *suffix, size_t want)
{
	uint64_t end = hp_now_ms() + 10000;
	while (count(s, suffix) < want && hp_now_ms() < end)
		pump_ms(epfd, 20);
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


/* ---- complete files only ------------------------------------------------- */

/* A copy that writes 1 KiB every 50 ms for 1 s and then keeps the file open
 * (a writer that never closes, or a share): reported once it is quiet for
 * `settle`, with its full size, and never while it still grows. */
static void test_slow_writer(void **state)
{
	fixture *f = *state;
	f->w[0].settle_ms = 1000; /* well above the 50 ms between writes, even on a busy machine */
	start(f);
	hp_watcher_scan(f->watcher);
	char path[256];
	snprintf(path, sizeof path, "%s/slow.bin", f->inbox);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	char kib[1024];
	memset(kib, 'x', sizeof kib);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(write(fd, kib, sizeof kib), (ssize_t)sizeof kib);
		pump_ms(f->epfd, 50);
		assert_int_equal(count(&f->s, "/slow.bin"), 0); /* still growing */
	}
	pump_until(f->epfd, &f->s, "/slow.bin", 1);
	assert_int_equal(count(&f->s, "/slow.bin"), 1);
	assert_int_equal(f->s.size[0], 20 * 1024);
	/* Nothing more while it stays open and unchanged. */
	pump_ms(f->epfd, 1200);
	assert_int_equal(count(&f->s, "/slow.bin"), 1);
	assert_int_equal(hp_watcher_settling(f->watcher), 0);
	close(fd);
}

/* `ln` raises only IN_CREATE in the folder; the file never closes there. */
static void test_hard_link(void **state)
{
	fixture *f = *state;
	f->w[0].settle_ms = 200;
	write_file(f->dir, "original.txt", "linked in");
	start(f);
	hp_watcher_scan(f->watcher);
	char from[256], to[256];
	snprintf(from, sizeof from, "%s/original.txt", f->dir);
	snprintf(to, sizeof to, "%s/linked.txt", f->inbox);
	assert_int_equal(link(from, to), 0);
	pump_until(f->epfd, &f->s, "/inbox/linked.txt", 1);
	assert_int_equal(count(&f->s, "/inbox/linked.txt"), 1);
	assert_int_equal(f->s.size[0], 9);
}

/* A file made with O_TMPFILE, written, and linked into place (atomic
 * creation), while its writer still holds it open. */
static void test_tmpfile_linkat(void **state)
{
	fixture *f = *state;
	f->w[0].settle_ms = 200;
	start(f);
	hp_watcher_scan(f->watcher);
	int fd = open(f->inbox, O_TMPFILE | O_WRONLY, 0644);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		skip();
		return;
	}
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "tmpfile", 7), 7);
	char proc[64], to[256];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	snprintf(to, sizeof to, "%s/atomic.txt", f->inbox);
	assert_int_equal(linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW), 0);
	pump_until(f->epfd, &f->s, "/inbox/atomic.txt", 1);
	assert_int_equal(count(&f->s, "/inbox/atomic.txt"), 1);
	close(fd);
}

/* A name changed within the folder is the new name's file. */
static void test_rename_within(void **state)
{
	fixture *f = *state;
	start(f);
	hp_watcher_scan(f->watcher);
	write_file(f->inbox, "draft.txt", "d");
	pump(f->epfd);
	char from[256], to[256];
	snprintf(from, sizeof from, "%s/draft.txt", f->inbox);
	snprintf(to, sizeof to, "%s/final.txt", f->inbox);
	assert_int_equal(rename(from, to), 0);
	pump(f->epfd);
	assert_int_equal(count(&f->s, "/inbox/draft.txt"), 1);
	assert_int_equal(count(&f->s, "/inbox/final.txt"), 1);
}

/* A start-up scan takes a file modified less than `settle` ago only once
 * it is quiet: a copy under way while the daemon starts. */
static void test_scan_recent_file_settles(void **state)
{
	fixture *f = *state;
	f->w[0].settle_ms = 300;
	char path[256];
	snprintf(path, sizeof path, "%s/copying.bin", f->inbox);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "part", 4), 4);
	start(f);
	assert_int_equal(hp_watcher_scan(f->watcher), 0);
	assert_int_equal(hp_watcher_settling(f->watcher), 1);
	assert_int_equal(write(fd, "rest", 4), 4);
	pump_until(f->epfd, &f->s, "/copying.bin", 1);
	assert_int_equal(count(&f->s, "/copying.bin"), 1);
	assert_int_equal(f->s.size[0], 8);
	close(fd);
}

/* ---- odd file types are skipped, each with one info line ------------------- */

/* Run fn with stderr going to a file; return what was written (caller frees). */
static char *capture_stderr(void (*fn)(fixture *), fixture *f)
{
	char tmpl[] = "/tmp/hopper-watch-log.XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	unlink(tmpl);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	int level = hp_log_level;
	hp_log_level = HP_LOG_DEBUG;
	fn(f);
	hp_log_level = level;
	dup2(saved, STDERR_FILENO);
	close(saved);
	off_t len = lseek(fd, 0, SEEK_END);
	char *out = calloc(1, (size_t)len + 1);
	assert_int_equal(pread(fd, out, (size_t)len, 0), len);
	close(fd);
	return out;
}

static size_t occurrences(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void make_socket(const char *path)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	assert_true(strlen(path) < sizeof a.sun_path);
	memcpy(a.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	close(s);
}

static void odd_types(fixture *f)
{
	char p[256];
	snprintf(p, sizeof p, "%s/pipe-old", f->inbox);
	assert_int_equal(mkfifo(p, 0644), 0);
	start(f);
	hp_watcher_scan(f->watcher);
	snprintf(p, sizeof p, "%s/pipe-new", f->inbox);
	assert_int_equal(mkfifo(p, 0644), 0);
	snprintf(p, sizeof p, "%s/link-new", f->inbox);
	assert_int_equal(symlink("/etc/hostname", p), 0);
	snprintf(p, sizeof p, "%s/sock-new", f->inbox);
	make_socket(p);
	pump(f->epfd);
}

static void test_odd_types_logged(void **state)
{
	fixture *f = *state;
	char *log = capture_stderr(odd_types, f);
	assert_int_equal(f->s.n, 0);
	assert_int_equal(occurrences(log, "/inbox/pipe-old: a FIFO, skipped"), 1);
	assert_int_equal(occurrences(log, "/inbox/pipe-new: a FIFO, skipped"), 1);
	assert_int_equal(occurrences(log, "/inbox/link-new: a symbolic link, skipped"), 1);
	assert_int_equal(occurrences(log, "/inbox/sock-new: a socket, skipped"), 1);
	free(log);
}

/* ---- folders ---------------------------------------------------------------- */

/* A folder renamed out of the watch drops its watches: files written in it
 * later are not reported under the name it used to have. */
static void test_dir_renamed_away(void **state)
{
	fixture *f = *state;
	char in[256], deeper[256], out[200];
	snprintf(in, sizeof in, "%s/project", f->inbox);
	snprintf(deeper, sizeof deeper, "%s/project/sub", f->inbox);
	snprintf(out, sizeof out, "%s/project-elsewhere", f->dir);
	mkdir(in, 0755);
	mkdir(deeper, 0755);
	start(f);
	hp_watcher_scan(f->watcher);
	assert_int_equal(hp_watcher_count(f->watcher), 4);
	assert_int_equal(rename(in, out), 0);
	pump(f->epfd);
	assert_int_equal(hp_watcher_count(f->watcher), 2); /* inbox, flat */
	char outsub[256];
	snprintf(outsub, sizeof outsub, "%s/sub", out);
	write_file(out, "after.txt", "a");
	write_file(outsub, "after2.txt", "b");
	pump(f->epfd);
	assert_int_equal(f->s.n, 0);
	/* Moved back in: watched and scanned again. */
	assert_int_equal(rename(out, in), 0);
	pump(f->epfd);
	assert_int_equal(hp_watcher_count(f->watcher), 4);
	assert_int_equal(count(&f->s, "/inbox/project/after.txt"), 1);
	assert_int_equal(count(&f->s, "/inbox/project/sub/after2.txt"), 1);
}

/* 100 files created in a new nested folder in one go: every one is found. */
static void test_nested_burst(void **state)
{
	fixture *f = *state;
	start(f);
	hp_watcher_scan(f->watcher);
	char a[256], b[256];
	snprintf(a, sizeof a, "%s/batch", f->inbox);
	snprintf(b, sizeof b, "%s/batch/inner", f->inbox);
	mkdir(a, 0755);
	mkdir(b, 0755);
	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof name, "f%03d.txt", i);
		write_file(b, name, "x");
	}
	pump(f->epfd);
	assert_int_equal(count(&f->s, ".txt"), 100);
	/* each once or twice (scan and event may both see it), none missing */
	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof name, "/batch/inner/f%03d.txt", i);
		assert_true(count(&f->s, name) >= 1);
	}
}

/* ---- polling ---------------------------------------------------------------- */

static void test_poll_mode(void **state)
{
	fixture *f = *state;
	f->w[0].mode = HP_MODE_POLL;
	f->w[0].poll_interval_ms = 100;
	f->w[0].settle_ms = 100;
	write_file(f->inbox, "before.txt", "b");
	struct timespec old[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
	char p[256];
	snprintf(p, sizeof p, "%s/before.txt", f->inbox);
	utimensat(AT_FDCWD, p, old, 0);
	start(f);
	assert_true(hp_watcher_is_polled(f->watcher, 0));
	assert_false(hp_watcher_is_polled(f->watcher, 1));
	assert_int_equal(hp_watcher_scan(f->watcher), 1);
	assert_int_equal(hp_watcher_count(f->watcher), 1); /* flat only: inbox is not watched */
	assert_int_equal(hp_watcher_polled(f->watcher), 1);

	char sub[256];
	snprintf(sub, sizeof sub, "%s/sub", f->inbox);
	mkdir(sub, 0755);
	write_file(sub, "polled.txt", "p");
	pump_until(f->epfd, &f->s, "/inbox/sub/polled.txt", 1);
	assert_int_equal(count(&f->s, "/inbox/sub/polled.txt"), 1);
	/* Unchanged: not reported again; changed: reported again. */
	pump_ms(f->epfd, 400);
	assert_int_equal(count(&f->s, "/inbox/sub/polled.txt"), 1);
	write_file(sub, "polled.txt", "changed");
	pump_until(f->epfd, &f->s, "/inbox/sub/polled.txt", 2);
	assert_int_equal(count(&f->s, "/inbox/sub/polled.txt"), 2);
	assert_int_equal(count(&f->s, "/inbox/before.txt"), 1);
	assert_int_equal(hp_watcher_count(f->watcher), 1);
}

static void limit_reached(fixture *f)
{
	char a[256], b[256];
	snprintf(a, sizeof a, "%s/a", f->inbox);
	snprintf(b, sizeof b, "%s/b", f->inbox);
	mkdir(a, 0755);
	mkdir(b, 0755);
	write_file(a, "old-a.txt", "a");
	/* inbox and flat take the two watches the limit allows. */
	setenv("HOPPER_TEST_MAX_WATCHES", "2", 1);
	start(f);
	unsetenv("HOPPER_TEST_MAX_WATCHES");
	hp_watcher_scan(f->watcher);
	write_file(b, "new-b.txt", "b");
	pump_until(f->epfd, &f->s, "/inbox/b/new-b.txt", 1);
}

/* The inotify watch limit reached: said once, with the sysctl to raise,
 * and the folders that could not be watched are polled instead. */
static void test_watch_limit(void **state)
{
	fixture *f = *state;
	f->w[0].poll_interval_ms = 100;
	f->w[0].settle_ms = 100;
	char *log = capture_stderr(limit_reached, f);
	assert_int_equal(count(&f->s, "/inbox/a/old-a.txt"), 1);
	assert_int_equal(count(&f->s, "/inbox/b/new-b.txt"), 1);
	assert_int_equal(hp_watcher_count(f->watcher), 2);
	assert_int_equal(hp_watcher_polled(f->watcher), 2);
	assert_int_equal(occurrences(log, "inotify watch limit is reached"), 1);
	assert_int_equal(occurrences(log, "sysctl -w fs.inotify.max_user_watches="), 1);
	free(log);
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
		cmocka_unit_test_setup_teardown(test_slow_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmpfile_linkat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_within, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_recent_file_settles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_types_logged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_renamed_away, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_limit, setup, teardown),
	};
	return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
