/* bench.h — `hopper bench DIR [--json]`: how fast this machine converts a
 * folder, and how many workers it should run.
 *
 * What it does: converts every regular file under DIR with real sandboxed
 * workers (pool.h) fed by the asynchronous reader (reader.h: files read
 * ahead within a byte budget, each handed to a worker as soon as it is
 * read and one is idle), without a database, in
 * three modes: sequential (1 worker, read()), parallel (the auto pool,
 * read()) and parallel + io_uring; then adds workers one at a time until
 * one more gains less than 5%, and recommends [workers] max. Prints files/s,
 * MB/s, each mode's speedup over sequential, the time per format, worker
 * peak RSS (median and max), and a worker's spawn cost against the median
 * conversion time. Caches are warmed first (one read of every file), so the
 * modes compare conversion and reading, not the disk.
 * What it never does: write anywhere, touch the database.
 * Process rules: CLI only; it reaps its own children (waitpid(-1)), so the
 * calling process must have no other children meanwhile.
 */
#ifndef HOPPER_BENCH_H
#define HOPPER_BENCH_H

#include <stdbool.h>
#include <stdio.h>

typedef struct hp_bench_opts {
	const char *dir;
	const char *worker_exe;   /* a binary that runs `--worker` (hopper or hopperd) */
	bool json;
	int max_workers;          /* sweep bound; 0 = auto ceiling + 1 */
} hp_bench_opts;

/* 0 when the benchmark ran; -errno (and a sentence on stderr) otherwise. */
int hp_bench_run(const hp_bench_opts *o, FILE *out);

#endif
