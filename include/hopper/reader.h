/* reader.h — read whole files, many at a time, with io_uring.
 *
 * What it does: for a batch of paths, statx + openat + fstat + read + close
 * through io_uring (liburing), keeping the batch in flight together; the
 * identity reported is the opened file's (dev, ino, mtime), so the caller
 * can compare it with the job's; falls back to
 * plain open/fstat/read/close when io_uring_queue_init fails (ENOSYS,
 * EPERM: disabled by sysctl or seccomp). Files are opened O_RDONLY |
 * O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, must be regular files, and may not
 * exceed max_size.
 * What it never does: parse the bytes.
 * Process rules: supervisor only. Blocking: hp_reader_read waits for the
 * whole batch (a later issue makes it asynchronous in the event loop).
 */
#ifndef HOPPER_READER_H
#define HOPPER_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hp_reader hp_reader;

typedef struct hp_read_req {
	const char *path;    /* in: absolute path, borrowed */
	/* out: */
	int err;             /* 0, or -errno: -ENOENT vanished, -EFBIG over
	                        max_size, -EISDIR/-EINVAL not a regular file,
	                        -ELOOP symlink, -EIO short read */
	char *data;          /* malloc'd, NUL-terminated (NUL not counted); caller frees */
	size_t len;
	uint64_t dev, ino;
	int64_t mtime_ns;
} hp_read_req;

/* flags: HP_READER_NO_URING forces the fallback (tests, benchmarks). */
enum { HP_READER_NO_URING = 1 << 0 };

/* entries: queue depth (batch size), e.g. 64. */
int hp_reader_new(unsigned entries, size_t max_size, unsigned flags, hp_reader **ret);
/* true when io_uring is in use. */
bool hp_reader_uring(const hp_reader *r);
/* Read n files; per-file results in reqs[i]. Returns 0 when the batch ran
 * (individual files may have failed), -errno when the reader itself broke. */
int hp_reader_read(hp_reader *r, hp_read_req *reqs, size_t n);
void hp_reader_free(hp_reader *r);
/* Tests only: call fn(data) in each io_uring slice between the statx of
 * the paths and their open (to replace a file in that window). */
void hp_reader_set_test_hook(hp_reader *r, void (*fn)(void *), void *data);

#endif
