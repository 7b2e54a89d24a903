/* test_reader.c — whole-file batch reads, on real files in a temporary
 * directory, once through io_uring and once through plain read(); both
 * must give the same bytes and the same errors. When io_uring is not
 * available here, the io_uring half says so and is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "hopper/reader.h"

#define MAX_SIZE 4096u

static char dir[64];

static char *path_of(const char *name)
{
	static char p[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

static void write_file(const char *name, const void *data, size_t n)
{
	int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/* Deterministic filler: byte i of file `seed`. */
static char fill(unsigned seed, size_t i)
{
	return (char)((i * 31 + seed * 7 + (i >> 8)) & 0xFF);
}

static char *make_data(unsigned seed, size_t n)
{
	char *d = malloc(n + 1);
	assert_non_null(d);
	for (size_t i = 0; i < n; i++)
		d[i] = fill(seed, i);
	return d;
}

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/hopper-test-reader-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	write_file("small.txt", "hello, world\n", 13);
	write_file("empty", "", 0);
	char *d = make_data(1, MAX_SIZE + 1);
	write_file("exact", d, MAX_SIZE);
	write_file("over", d, MAX_SIZE + 1);
	free(d);
	if (mkdir(path_of("adir"), 0755) < 0 || symlink("small.txt", path_of("link")) < 0 ||
	    mkfifo(path_of("fifo"), 0644) < 0)
		return -1;
	/* A folder that is a link to somewhere else (the watched tree holds no
	 * links: a folder swapped for one must not lead outside it). */
	if (mkdir(path_of("elsewhere"), 0755) < 0 || symlink("elsewhere", path_of("dirlink")) < 0)
		return -1;
	write_file("elsewhere/secret.txt", "outside\n", 8);
	for (unsigned i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof name, "batch-%03u", i);
		size_t n = (i * 397) % (MAX_SIZE + 1);
		d = make_data(i, n);
		/* every 10th is left missing */
		if (i % 10 != 7)
			write_file(name, d, n);
		free(d);
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Both readers, or just the plain one when io_uring cannot be set up. */
static size_t readers(hp_reader *out[2], unsigned entries)
{
	size_t n = 0;
	hp_reader *r;
	assert_int_equal(hp_reader_new(entries, MAX_SIZE, 0, &r), 0);
	if (hp_reader_uring(r)) {
		out[n++] = r;
	} else {
		print_message("io_uring is not available here; only the read() half runs\n");
		hp_reader_free(r);
	}
	assert_int_equal(hp_reader_new(entries, MAX_SIZE, HP_READER_NO_URING, &r), 0);
	assert_false(hp_reader_uring(r));
	out[n++] = r;
	return n;
}

static void read_one(hp_reader *r, const char *name, hp_read_req *q)
{
	memset(q, 0, sizeof *q);
	q->path = path_of(name);
	assert_int_equal(hp_reader_read(r, q, 1), 0);
}

static void check_stat(const hp_read_req *q)
{
	struct stat st;
	assert_int_equal(lstat(q->path, &st), 0);
	assert_true(q->dev == (uint64_t)st.st_dev);
	assert_true(q->ino == (uint64_t)st.st_ino);
	assert_true(q->mtime_ns == (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
	assert_int_equal(q->len, (size_t)st.st_size);
}

static void test_regular_files(void **state)
{
	hp_reader *rs[2];
	size_t nr = readers(rs, 8);
	for (size_t k = 0; k < nr; k++) {
		hp_read_req q;
		read_one(rs[k], "small.txt", &q);
		assert_int_equal(q.err, 0);
		assert_int_equal(q.len, 13);
		assert_string_equal(q.data, "hello, world\n");
		check_stat(&q);
		free(q.data);

		read_one(rs[k], "empty", &q);
		assert_int_equal(q.err, 0);
		assert_int_equal(q.len, 0);
		assert_non_null(q.data);
		assert_int_equal(q.data[0], '\0');
		check_stat(&q);
		free(q.data);

		read_one(rs[k], "exact", &q);
		assert_int_equal(q.err, 0);
		assert_int_equal(q.len, MAX_SIZE);
		char *want = make_data(1, MAX_SIZE);
		assert_memory_equal(q.data, want, MAX_SIZE);
		assert_int_equal(q.data[MAX_SIZE], '\0');
		free(want);
		check_stat(&q);
		free(q.data);
		hp_reader_free(rs[k]);
	}
}

static void test_refused(void **state)
{
	static const struct {
		const char *name;
		int err;
	} cases[] = {
		{ "over", -EFBIG },
		{ "missing", -ENOENT },
		{ "adir", -EISDIR },
		{ "link", -ELOOP },
		{ "fifo", -EINVAL }, /* not opened, so never blocks */
		{ "small.txt/x", -ENOTDIR },
		{ "dirlink/secret.txt", -ELOOP },
	};
	hp_reader *rs[2];
	size_t nr = readers(rs, 8);
	for (size_t k = 0; k < nr; k++) {
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			hp_read_req q;
			read_one(rs[k], cases[i].name, &q);
			if (q.err != cases[i].err)
				fail_msg("%s (%s): got %d, want %d", cases[i].name,
				         hp_reader_uring(rs[k]) ? "io_uring" : "read()", q.err, cases[i].err);
			assert_null(q.data);
			assert_int_equal(q.len, 0);
		}
		hp_reader_free(rs[k]);
	}
}

/* 100 files plus the odd cases in one batch, through a queue of 16: several
 * slices; results must match the files and each other. */
static void test_batch(void **state)
{
	enum { N = 100 + 4 };
	hp_read_req q[2][N];
	hp_reader *rs[2];
	size_t nr = readers(rs, 16);
	for (size_t k = 0; k < nr; k++) {
		memset(q[k], 0, sizeof q[k]);
		for (unsigned i = 0; i < 100; i++) {
			char name[32];
			snprintf(name, sizeof name, "batch-%03u", i);
			q[k][i].path = strdup(path_of(name));
		}
		q[k][100].path = strdup(path_of("fifo"));
		q[k][101].path = strdup(path_of("link"));
		q[k][102].path = strdup(path_of("over"));
		q[k][103].path = strdup(path_of("small.txt"));
		assert_int_equal(hp_reader_read(rs[k], q[k], N), 0);
		for (unsigned i = 0; i < 100; i++) {
			if (i % 10 == 7) {
				assert_int_equal(q[k][i].err, -ENOENT);
				continue;
			}
			size_t n = (i * 397) % (MAX_SIZE + 1);
			assert_int_equal(q[k][i].err, 0);
			assert_int_equal(q[k][i].len, n);
			char *want = make_data(i, n);
			assert_memory_equal(q[k][i].data, want, n);
			free(want);
			check_stat(&q[k][i]);
		}
		assert_int_equal(q[k][100].err, -EINVAL);
		assert_int_equal(q[k][101].err, -ELOOP);
		assert_int_equal(q[k][102].err, -EFBIG);
		assert_int_equal(q[k][103].err, 0);
		assert_string_equal(q[k][103].data, "hello, world\n");
	}
	if (nr == 2) {
		for (size_t i = 0; i < N; i++) {
			assert_int_equal(q[0][i].err, q[1][i].err);
			assert_int_equal(q[0][i].len, q[1][i].len);
			assert_true(q[0][i].dev == q[1][i].dev && q[0][i].ino == q[1][i].ino &&
			            q[0][i].mtime_ns == q[1][i].mtime_ns);
			if (q[0][i].err == 0)
				assert_memory_equal(q[0][i].data, q[1][i].data, q[0][i].len);
		}
	}
	for (size_t k = 0; k < nr; k++) {
		for (size_t i = 0; i < N; i++) {
			free((char *)q[k][i].path);
			free(q[k][i].data);
		}
		hp_reader_free(rs[k]);
	}
}

/* The same reader used again and again: slots are freed (closed) after each
 * batch, so a long-lived reader does not run out of them. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_reuse(void **state)
{
	int before = count_fds();
	hp_reader *rs[2];
	size_t nr = readers(rs, 4);
	for (size_t k = 0; k < nr; k++) {
		for (int round = 0; round < 50; round++) {
			hp_read_req q[4];
			memset(q, 0, sizeof q);
			q[0].path = path_of("small.txt");
			q[1].path = path_of("missing");
			q[2].path = path_of("exact");
			q[3].path = path_of("empty");
			assert_int_equal(hp_reader_read(rs[k], q, 4), 0);
			assert_int_equal(q[0].err, 0);
			assert_int_equal(q[1].err, -ENOENT);
			assert_int_equal(q[2].err, 0);
			assert_int_equal(q[2].len, MAX_SIZE);
			assert_int_equal(q[3].err, 0);
			for (int i = 0; i < 4; i++)
				free(q[i].data);
		}
		hp_reader_free(rs[k]);
	}
	/* And no fd leaked (ring fds included). */
	assert_int_equal(count_fds(), before);
}

/* The file at a path is replaced (rename over it, same size, new content)
 * between the reader's statx and its open: what is reported is the file
 * that was read, bytes and identity together, so the caller's comparison
 * with the job's identity sees the change. */
static void swap_file(void *data)
{
	(void)data;
	write_file("swap.new", "BBBBBBBB\n", 9);
	assert_int_equal(rename(path_of("swap.new"), path_of("swap.txt")), 0);
}

static void test_replaced_between_stat_and_open(void **state)
{
	hp_reader *r;
	assert_int_equal(hp_reader_new(4, MAX_SIZE, 0, &r), 0);
	if (!hp_reader_uring(r)) {
		hp_reader_free(r);
		skip();
	}
	write_file("swap.txt", "AAAAAAAA\n", 9);
	struct stat before;
	assert_int_equal(stat(path_of("swap.txt"), &before), 0);
	hp_reader_set_test_hook(r, swap_file, NULL);
	hp_read_req q;
	read_one(r, "swap.txt", &q);
	assert_int_equal(q.err, 0);
	assert_string_equal(q.data, "BBBBBBBB\n");
	check_stat(&q); /* the identity of what is there now, and was read */
	assert_true(q.ino != (uint64_t)before.st_ino);
	free(q.data);
	hp_reader_free(r);
}

/* The asynchronous reader: 104 files through 8 slots and a byte budget
 * smaller than the files together, taken as they complete (poll on its
 * fd), with the same results as the batch reader; bytes given back let
 * parked files go on; nothing leaks. Once with io_uring, once with read(). */
static void check_batch_result(const hp_read_req *q, unsigned i)
{
	if (i < 100) {
		if (i % 10 == 7) {
			assert_int_equal(q->err, -ENOENT);
			return;
		}
		size_t n = (i * 397) % (MAX_SIZE + 1);
		assert_int_equal(q->err, 0);
		assert_int_equal(q->len, n);
		char *want = make_data(i, n);
		assert_memory_equal(q->data, want, n);
		assert_int_equal(q->data[n], '\0');
		free(want);
		check_stat(q);
		return;
	}
	static const int errs[] = { -EINVAL, -ELOOP, -EFBIG, 0 };
	assert_int_equal(q->err, errs[i - 100]);
	if (i == 103)
		assert_string_equal(q->data, "hello, world\n");
}

static void test_async(void **state)
{
	enum { N = 104 };
	int before = count_fds();
	for (int mode = 0; mode < 2; mode++) {
		hp_areader *a;
		assert_int_equal(hp_areader_new(8, MAX_SIZE, 3 * MAX_SIZE, mode ? HP_READER_NO_URING : 0, &a), 0);
		if (mode == 0 && !hp_areader_uring(a)) {
			print_message("io_uring is not available here; only the read() half runs\n");
			hp_areader_free(a);
			continue;
		}
		hp_read_req q[N];
		memset(q, 0, sizeof q);
		for (unsigned i = 0; i < N; i++) {
			char name[32];
			if (i < 100)
				snprintf(name, sizeof name, "batch-%03u", i);
			else
				snprintf(name, sizeof name, "%s", (const char *[]){ "fifo", "link", "over", "small.txt" }[i - 100]);
			q[i].path = strdup(path_of(name));
		}
		unsigned next = 0, done = 0, max_inflight = 0;
		bool seen[N] = { false };
		for (int guard = 0; done < N && guard < 100000; guard++) {
			while (next < N && hp_areader_submit(a, &q[next]) == 0)
				next++;
			if (hp_areader_inflight(a) > max_inflight)
				max_inflight = hp_areader_inflight(a);
			struct pollfd pfd = { .fd = hp_areader_fd(a), .events = POLLIN };
			poll(&pfd, 1, 100);
			hp_read_req *got[8];
			size_t k = hp_areader_take(a, got, 8);
			for (size_t j = 0; j < k; j++) {
				unsigned i = (unsigned)(got[j] - q);
				assert_true(i < N && !seen[i]);
				seen[i] = true;
				check_batch_result(got[j], i);
				hp_areader_release(a, got[j]->len);
				free(got[j]->data);
				got[j]->data = NULL;
				done++;
			}
		}
		assert_int_equal(done, N);
		assert_true(max_inflight <= 8);
		assert_int_equal(hp_areader_inflight(a), 0);
		hp_areader_free(a);
		for (unsigned i = 0; i < N; i++)
			free((char *)q[i].path);
	}
	assert_int_equal(count_fds(), before);
}

/* Freed with files in flight: they are cancelled, the kernel is waited for. */
static void test_async_free_in_flight(void **state)
{
	hp_areader *a;
	assert_int_equal(hp_areader_new(8, MAX_SIZE, 0, 0, &a), 0);
	hp_read_req q[8];
	memset(q, 0, sizeof q);
	for (unsigned i = 0; i < 8; i++) {
		q[i].path = path_of("exact");
		assert_int_equal(hp_areader_submit(a, &q[i]), 0);
	}
	assert_int_equal(hp_areader_submit(a, &q[0]), -EAGAIN); /* all slots busy */
	hp_areader_free(a);
	for (unsigned i = 0; i < 8; i++) {
		/* Either finished before the free (and then not taken: data kept
		 * by nobody would leak, so the reader cancels those too) or cancelled. */
		assert_null(q[i].data);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regular_files),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_replaced_between_stat_and_open),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_async_free_in_flight),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
