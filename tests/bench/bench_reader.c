/* bench_reader.c — the reader with io_uring against plain read(), same run.
 *
 * Makes N files of mixed sizes in a temporary folder, then reads them all in
 * batches of 64, alternating the two methods for several rounds, with the
 * page cache cold (posix_fadvise DONTNEED on every file: writing
 * drop_caches has no effect on these machines) and warm. Prints the median
 * time of each and the ratio read()/io_uring (above 1: io_uring is faster).
 * Times are for comparison within one run only; no threshold is asserted.
 *   bench_reader [FILES] [ROUNDS]     (default 2000 files, 5 rounds)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hopper/common.h"
#include "hopper/reader.h"

#define BATCH 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void evict(char **paths, int n)
{
	for (int i = 0; i < n; i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			fdatasync(fd);
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			close(fd);
		}
	}
}

/* Read every file once; returns seconds, or -1 on error. */
static double read_all(hp_reader *r, char **paths, int n, size_t *bytes)
{
	hp_read_req reqs[BATCH];
	double t0 = now_s();
	*bytes = 0;
	for (int i = 0; i < n; i += BATCH) {
		int k = n - i < BATCH ? n - i : BATCH;
		memset(reqs, 0, sizeof reqs);
		for (int j = 0; j < k; j++)
			reqs[j].path = paths[i + j];
		if (hp_reader_read(r, reqs, (size_t)k) < 0)
			return -1;
		for (int j = 0; j < k; j++) {
			if (reqs[j].err) {
				fprintf(stderr, "%s: %s\n", paths[i + j], strerror(-reqs[j].err));
				return -1;
			}
			*bytes += reqs[j].len;
			free(reqs[j].data);
		}
	}
	return now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	int nfiles = argc > 1 ? atoi(argv[1]) : 2000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	if (nfiles < 1 || rounds < 1 || rounds > 50) {
		fprintf(stderr, "usage: bench_reader [FILES] [ROUNDS<=50]\n");
		return 2;
	}
	char dir[] = "/var/tmp/hopper-bench.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char **paths = calloc((size_t)nfiles, sizeof *paths);
	char *buf = malloc(256 * 1024);
	if (!paths || !buf)
		return 1;
	srand(42);
	for (int i = 0; i < 256 * 1024; i++)
		buf[i] = (char)('a' + rand() % 26);
	for (int i = 0; i < nfiles; i++) {
		/* mostly small documents, some larger: 1 KiB .. 256 KiB */
		size_t size = (size_t)1024 << (rand() % 9);
		if (asprintf(&paths[i], "%s/f%05d.txt", dir, i) < 0)
			return 1;
		int fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || hp_write_all(fd, buf, size) < 0) {
			perror(paths[i]);
			return 1;
		}
		close(fd);
	}

	hp_reader *ru = NULL, *rp = NULL;
	if (hp_reader_new(BATCH, 64u << 20, 0, &ru) < 0 || hp_reader_new(BATCH, 64u << 20, HP_READER_NO_URING, &rp) < 0) {
		fprintf(stderr, "cannot create readers\n");
		return 1;
	}
	if (!hp_reader_uring(ru))
		printf("note: io_uring is not available here; both columns use read()\n");
	double cu[50], cp[50], wu[50], wp[50];
	size_t bytes = 0;
	for (int k = 0; k < rounds; k++) {
		evict(paths, nfiles);
		cu[k] = read_all(ru, paths, nfiles, &bytes);
		evict(paths, nfiles);
		cp[k] = read_all(rp, paths, nfiles, &bytes);
		wu[k] = read_all(ru, paths, nfiles, &bytes);
		wp[k] = read_all(rp, paths, nfiles, &bytes);
		if (cu[k] < 0 || cp[k] < 0 || wu[k] < 0 || wp[k] < 0)
			return 1;
	}
	double mcu = median(cu, rounds), mcp = median(cp, rounds);
	double mwu = median(wu, rounds), mwp = median(wp, rounds);
	printf("reader: %d files, %.1f MiB, batches of %d, median of %d rounds\n", nfiles,
	       (double)bytes / 1048576.0, BATCH, rounds);
	printf("  cold cache: read() %.3f s (%.0f files/s)  io_uring %.3f s (%.0f files/s)  ratio read()/io_uring %.2f\n",
	       mcp, nfiles / mcp, mcu, nfiles / mcu, mcp / mcu);
	printf("  warm cache: read() %.3f s (%.0f files/s)  io_uring %.3f s (%.0f files/s)  ratio read()/io_uring %.2f\n",
	       mwp, nfiles / mwp, mwu, nfiles / mwu, mwp / mwu);
	hp_reader_free(ru);
	hp_reader_free(rp);
	for (int i = 0; i < nfiles; i++) {
		unlink(paths[i]);
		free(paths[i]);
	}
	rmdir(dir);
	free(paths);
	free(buf);
	return 0;
}
