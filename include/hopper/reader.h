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
/* ---- asynchronous: files in flight in the caller's event loop -------------
 * An hp_areader keeps up to `entries` files in flight at once (statx,
 * openat2, fstat + read + close of each, as above, with the same checks)
 * and allocates file buffers only while their bytes fit in `budget` (0: no
 * bound; a file larger than the budget is read when nothing else is held).
 * The caller polls hp_areader_fd() for EPOLLIN, takes finished requests
 * with hp_areader_take() as they complete (not a whole batch), and gives
 * their bytes back to the budget with hp_areader_release() once it has
 * handed them on (freeing req->data is still the caller's). Without
 * io_uring (or HP_READER_NO_URING) each submit reads at once with read()
 * and the fd signals it. */
typedef struct hp_areader hp_areader;
int hp_areader_new(unsigned entries, size_t max_size, size_t budget, unsigned flags, hp_areader **ret);
bool hp_areader_uring(const hp_areader *a);
int hp_areader_fd(const hp_areader *a);
/* Start reading req->path; req (borrowed) must stay valid until taken.
 * -EAGAIN when every slot is in use. */
int hp_areader_submit(hp_areader *a, hp_read_req *req);
/* Finished requests (results as hp_reader_read gives them), at most max,
 * without blocking; returns how many went to ret. */
size_t hp_areader_take(hp_areader *a, hp_read_req **ret, size_t max);
/* Bytes of taken requests the caller no longer holds for the reader's budget. */
void hp_areader_release(hp_areader *a, size_t bytes);
/* Requests submitted and not yet taken. */
unsigned hp_areader_inflight(const hp_areader *a);
/* Cancels what is in flight or not taken (those requests get -ECANCELED
 * and no data), after waiting for what the kernel still holds. */
void hp_areader_free(hp_areader *a);

/* Tests only: call fn(data) in each io_uring slice between the statx of
 * the paths and their open (to replace a file in that window). */
void hp_reader_set_test_hook(hp_reader *r, void (*fn)(void *), void *data);

#endif
