/* reader.c — read whole files in batches with io_uring, see
 * include/hopper/reader.h
 *
 * A batch runs in three submissions:
 *  1. one STATX per path (AT_SYMLINK_NOFOLLOW): only regular files within
 *     max_size go on, so FIFOs, devices and directories are never opened;
 *  2. one OPENAT2 per remaining file (RESOLVE_NO_SYMLINKS);
 *  3. per opened fd a chain STATX of the fd itself (AT_EMPTY_PATH: fstat) ->
 *     READ of size+1 bytes (the extra byte shows a file that grew) -> CLOSE.
 *     The links are hard links (IOSQE_IO_HARDLINK) so the close runs even
 *     when the read is short or fails, and no fd leaks.
 * The identity reported (dev, ino, mtime) is the opened fd's, so a path
 * that was replaced between the first statx and the open is reported as
 * what was read, never as what was stat'ed; the caller compares it with
 * the job's. A file whose fd does not match its path's statx, or whose read
 * does not return exactly the size, is read again with plain syscalls,
 * which loop until EOF and re-check the size (io_uring_prep_read(3): a
 * short read is not an error, and breaks a link).
 * io_uring_submit(3) may submit fewer entries than were queued; the rest is
 * submitted again, and only what was submitted is waited for. When the ring
 * fails, it is torn down and every later file takes the plain path.
 * When io_uring cannot be set up, every file takes the plain path.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <liburing.h>

#include "hopper/common.h"
#include "hopper/reader.h"

#define HP_READER_MAX_ENTRIES 1024u
#define HP_OPEN_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

/* openat2(2): no symbolic link anywhere in the path, not only at its end
 * (O_NOFOLLOW). Watch roots are canonical (watch.c), so a link in a queued
 * path means a folder was swapped for a link to somewhere else: refused
 * with ELOOP instead of reading outside the watched folder. */
static const struct open_how hp_open_how = {
	.flags = HP_OPEN_FLAGS,
	.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
};

static int open_beneath(const char *path)
{
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &hp_open_how, sizeof hp_open_how);
	if (fd < 0 && errno == ENOSYS) /* kernel before 5.6 */
		fd = open(path, HP_OPEN_FLAGS);
	return fd;
}

struct hp_reader {
	struct io_uring ring;
	bool uring;
	unsigned entries;    /* files per slice of a batch (= file table slots) */
	size_t max_size;
	struct statx *stx;   /* entries of scratch space: the paths */
	struct statx *fstx;  /* entries: the opened fds */
	int *res;            /* entries: read results */
	int *open_res;       /* entries: openat results (fds) */
	int *fstat_res;      /* entries: statx-of-fd results */
	void (*hook)(void *);  /* tests: between the statx and the open */
	void *hook_data;
};

/* ---- plain path ---------------------------------------------------------- */

static int check_mode(mode_t m)
{
	if (S_ISREG(m))
		return 0;
	if (S_ISLNK(m))
		return -ELOOP;
	if (S_ISDIR(m))
		return -EISDIR;
	return -EINVAL;
}

/* A regular file within the size limit: 0, else -ELOOP/-EISDIR/-EINVAL/-EFBIG. */
static int check_stat(const hp_reader *rd, const struct stat *st)
{
	int r = check_mode(st->st_mode);
	if (r == 0 && (uint64_t)st->st_size > rd->max_size)
		r = -EFBIG;
	return r;
}

static void clear_out(hp_read_req *q)
{
	q->err = 0;
	q->data = NULL;
	q->len = 0;
	q->dev = q->ino = 0;
	q->mtime_ns = 0;
}

static int64_t ts_ns(int64_t sec, int64_t nsec)
{
	return sec * 1000000000LL + nsec;
}

/* Read one file with open/fstat/read/close. Reads until EOF (never more
 * than max_size + 1 bytes), then checks the file did not change size under
 * us; a file that is still being written is -EIO (the caller sees it again
 * when it settles). */
static void plain_read(const hp_reader *rd, hp_read_req *q)
{
	struct stat st, st2;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, r;

	/* lstat before open: never open a FIFO or device (a FIFO open can block,
	 * a device open can have side effects). */
	if (fstatat(AT_FDCWD, q->path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		goto fail;
	}
	r = check_stat(rd, &st);
	if (r < 0)
		goto fail;
	fd = open_beneath(q->path);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	r = check_stat(rd, &st);
	if (r < 0)
		goto fail;
	size_t cap = (size_t)st.st_size + 1; /* + 1: see growth */
	if (cap < 4096)
		cap = 4096 > rd->max_size + 1 ? rd->max_size + 1 : 4096;
	buf = malloc(cap + 1);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			if (cap > rd->max_size) {
				r = -EFBIG;
				goto fail;
			}
			size_t ncap = cap * 2 > rd->max_size + 1 ? rd->max_size + 1 : cap * 2;
			char *nb = realloc(buf, ncap + 1);
			if (!nb) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = errno == EAGAIN ? -EIO : -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > rd->max_size) {
		r = -EFBIG;
		goto fail;
	}
	if (fstat(fd, &st2) < 0) {
		r = -errno;
		goto fail;
	}
	if ((uint64_t)st2.st_size != len) {
		r = -EIO; /* changed while we read it */
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	q->err = 0;
	q->data = buf;
	q->len = len;
	q->dev = st2.st_dev;
	q->ino = st2.st_ino;
	q->mtime_ns = ts_ns(st2.st_mtim.tv_sec, st2.st_mtim.tv_nsec);
	return;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	q->err = r;
}

/* ---- io_uring path ------------------------------------------------------- */

static struct io_uring_sqe *get_sqe(hp_reader *rd)
{
	/* The ring holds 4 x entries and a slice queues at most 3 per file
	 * before it submits: a NULL here is a bug, reported as -EBUSY. */
	return io_uring_get_sqe(&rd->ring);
}

/* user_data encodes (index << 2 | kind). */
enum { K_STATX = 0, K_OPEN = 1, K_READ = 2, K_FSTAT = 3 };

static void take_cqe(hp_reader *rd, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned i = (unsigned)(ud >> 2);
	if (ud == UINT64_MAX)
		return; /* a close: nothing to learn */
	switch (ud & 3) {
	case K_STATX:
	case K_READ:
		rd->res[i] = cqe->res;
		break;
	case K_OPEN:
		rd->open_res[i] = cqe->res;
		break;
	case K_FSTAT:
		rd->fstat_res[i] = cqe->res;
		break;
	}
}

/* Submit all that is queued (io_uring_submit may take fewer than queued:
 * submit the rest again) and collect one completion per submitted entry. A
 * ring that takes nothing while nothing is in flight is broken: -EIO after
 * collecting what was submitted, so no completion is left to a later batch. */
static int submit_collect(hp_reader *rd)
{
	unsigned inflight = 0;
	int err = 0;
	for (;;) {
		unsigned ready = io_uring_sq_ready(&rd->ring);
		if (ready && !err) {
			int r = io_uring_submit(&rd->ring);
			if (r > 0)
				inflight += (unsigned)r;
			else if (r == -EINTR)
				continue;
			else if ((r == 0 || r == -EAGAIN || r == -EBUSY) && inflight)
				; /* completions first, then try again */
			else
				err = r < 0 ? r : -EIO;
		}
		if (!inflight)
			break;
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&rd->ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		take_cqe(rd, cqe);
		io_uring_cqe_seen(&rd->ring, cqe);
		inflight--;
	}
	return err;
}

static bool same_file(const struct statx *a, const struct statx *b)
{
	return a->stx_ino == b->stx_ino && a->stx_dev_major == b->stx_dev_major &&
	       a->stx_dev_minor == b->stx_dev_minor && a->stx_size == b->stx_size &&
	       a->stx_mtime.tv_sec == b->stx_mtime.tv_sec && a->stx_mtime.tv_nsec == b->stx_mtime.tv_nsec &&
	       (a->stx_mode & S_IFMT) == (b->stx_mode & S_IFMT);
}

/* One slice of at most rd->entries files. */
static int uring_slice(hp_reader *rd, hp_read_req *reqs, size_t n)
{
	int r;
	unsigned mask = STATX_TYPE | STATX_SIZE | STATX_INO | STATX_MTIME;

	for (size_t i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = get_sqe(rd);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_statx(sqe, AT_FDCWD, reqs[i].path, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
		                    mask, &rd->stx[i]);
		io_uring_sqe_set_data64(sqe, (uint64_t)i << 2 | K_STATX);
		rd->res[i] = -EIO;
		rd->open_res[i] = -EIO;
	}
	r = submit_collect(rd);
	if (r < 0)
		return r;
	if (rd->hook)
		rd->hook(rd->hook_data);

	bool any = false;
	for (size_t i = 0; i < n; i++) {
		hp_read_req *q = &reqs[i];
		const struct statx *sx = &rd->stx[i];
		if (rd->res[i] < 0) {
			q->err = rd->res[i];
			continue;
		}
		q->err = check_mode(sx->stx_mode);
		if (q->err == 0 && sx->stx_size > rd->max_size)
			q->err = -EFBIG;
		if (q->err)
			continue;
		struct io_uring_sqe *o = get_sqe(rd);
		if (!o)
			return -EBUSY;
		io_uring_prep_openat2(o, AT_FDCWD, q->path, (struct open_how *)&hp_open_how);
		io_uring_sqe_set_data64(o, (uint64_t)i << 2 | K_OPEN);
		any = true;
	}
	if (!any)
		return 0;
	r = submit_collect(rd);
	if (r < 0)
		goto close_fds;

	any = false;
	for (size_t i = 0; i < n; i++) {
		hp_read_req *q = &reqs[i];
		if (q->err)
			continue;
		if (rd->open_res[i] < 0) {
			/* Gone or replaced (e.g. by a symlink) since the statx. */
			q->err = rd->open_res[i];
			continue;
		}
		size_t size = (size_t)rd->stx[i].stx_size;
		q->data = malloc(size + 2); /* + 1 to see growth, + 1 for the NUL */
		struct io_uring_sqe *f = get_sqe(rd), *rdq = f ? get_sqe(rd) : NULL, *c = rdq ? get_sqe(rd) : NULL;
		if (!c) {
			r = -EBUSY;
			goto close_fds;
		}
		int fd = rd->open_res[i];
		io_uring_prep_statx(f, fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, mask, &rd->fstx[i]);
		io_uring_sqe_set_data64(f, (uint64_t)i << 2 | K_FSTAT);
		f->flags |= IOSQE_IO_HARDLINK;
		if (q->data)
			io_uring_prep_read(rdq, fd, q->data, (unsigned)(size + 1), 0);
		else
			io_uring_prep_nop(rdq); /* no memory: the close still runs */
		io_uring_sqe_set_data64(rdq, (uint64_t)i << 2 | K_READ);
		rdq->flags |= IOSQE_IO_HARDLINK;
		io_uring_prep_close(c, fd);
		io_uring_sqe_set_data64(c, UINT64_MAX);
		rd->fstat_res[i] = -EIO;
		rd->res[i] = -EIO;
		rd->open_res[i] = -1; /* the ring closes it */
		any = true;
	}
	if (any) {
		r = submit_collect(rd);
		if (r < 0)
			goto close_fds;
	}

	for (size_t i = 0; i < n; i++) {
		hp_read_req *q = &reqs[i];
		if (q->err)
			continue;
		if (!q->data) {
			q->err = -ENOMEM;
			continue;
		}
		const struct statx *fx = &rd->fstx[i];
		size_t size = (size_t)rd->stx[i].stx_size;
		if (rd->fstat_res[i] == 0 && same_file(&rd->stx[i], fx) && rd->res[i] >= 0 &&
		    (size_t)rd->res[i] == size) {
			q->data[size] = '\0';
			q->len = size;
			q->dev = makedev(fx->stx_dev_major, fx->stx_dev_minor);
			q->ino = fx->stx_ino;
			q->mtime_ns = ts_ns(fx->stx_mtime.tv_sec, fx->stx_mtime.tv_nsec);
			continue;
		}
		/* Replaced between statx and open, short, grown or failed: read it
		 * again, carefully (fstat of the fd it reads). */
		free(q->data);
		clear_out(q);
		plain_read(rd, q);
	}
	return 0;

close_fds:
	/* Fds the ring did not take over. */
	for (size_t i = 0; i < n; i++)
		if (rd->open_res[i] >= 0)
			close(rd->open_res[i]);
	return r;
}

/* ---- public -------------------------------------------------------------- */

int hp_reader_new(unsigned entries, size_t max_size, unsigned flags, hp_reader **ret)
{
	if (entries == 0)
		entries = 64;
	if (entries > HP_READER_MAX_ENTRIES)
		entries = HP_READER_MAX_ENTRIES;
	/* Reads are sized as one io_uring READ (unsigned) of size + 1. */
	if (max_size == 0 || max_size >= UINT32_MAX)
		max_size = UINT32_MAX - 1;
	hp_reader *rd = calloc(1, sizeof *rd);
	if (!rd)
		return -ENOMEM;
	rd->entries = entries;
	rd->max_size = max_size;
	rd->stx = calloc(entries, sizeof *rd->stx);
	rd->fstx = calloc(entries, sizeof *rd->fstx);
	rd->res = calloc(entries, sizeof *rd->res);
	rd->open_res = calloc(entries, sizeof *rd->open_res);
	rd->fstat_res = calloc(entries, sizeof *rd->fstat_res);
	if (!rd->stx || !rd->fstx || !rd->res || !rd->open_res || !rd->fstat_res) {
		hp_reader_free(rd);
		return -ENOMEM;
	}
	if (!(flags & HP_READER_NO_URING)) {
		int r = io_uring_queue_init(entries * 4, &rd->ring, 0);
		if (r == 0)
			rd->uring = true;
		if (!rd->uring)
			hp_info("io_uring is not available (%s); reading files with read()", strerror(-r));
	}
	*ret = rd;
	return 0;
}

bool hp_reader_uring(const hp_reader *r)
{
	return r->uring;
}

int hp_reader_read(hp_reader *rd, hp_read_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		clear_out(&reqs[i]);
	if (!rd->uring) {
		for (size_t i = 0; i < n; i++)
			plain_read(rd, &reqs[i]);
		return 0;
	}
	for (size_t off = 0; off < n; off += rd->entries) {
		size_t m = n - off < rd->entries ? n - off : rd->entries;
		int r = uring_slice(rd, reqs + off, m);
		if (r < 0) {
			/* The ring itself failed: nothing of this batch is trusted,
			 * and the ring is not used again. */
			for (size_t i = 0; i < n; i++) {
				free(reqs[i].data);
				clear_out(&reqs[i]);
			}
			hp_err("io_uring failed (%s); reading files with read() from now on", strerror(-r));
			io_uring_queue_exit(&rd->ring);
			rd->uring = false;
			return r;
		}
	}
	return 0;
}

void hp_reader_set_test_hook(hp_reader *rd, void (*fn)(void *), void *data)
{
	rd->hook = fn;
	rd->hook_data = data;
}

void hp_reader_free(hp_reader *rd)
{
	if (!rd)
		return;
	if (rd->uring)
		io_uring_queue_exit(&rd->ring);
	free(rd->stx);
	free(rd->fstx);
	free(rd->res);
	free(rd->open_res);
	free(rd->fstat_res);
	free(rd);
}

/* ---- asynchronous reader ------------------------------------------------------
 * Each request lives in a slot and walks: STATX(path) -> [budget] ->
 * OPENAT2 -> STATX(fd) + READ + CLOSE (hard-linked) -> DONE; the caller's
 * event loop learns of completions through an eventfd registered with the
 * ring, and takes DONE slots with hp_areader_take. A request whose size
 * does not fit in the byte budget waits (parked) until the caller releases
 * bytes, unless nothing is reserved (a file larger than the budget goes
 * alone). user_data = slot << 3 | kind. */

enum { A_STATX = 0, A_OPEN = 1, A_FSTAT = 2, A_READ = 3, A_CLOSE = 4 };
enum { S_FREE = 0, S_BUSY, S_PARKED, S_DONE };

typedef struct aslot {
	hp_read_req *req;
	int state;
	int pending;          /* completions still expected for this step */
	int fd;
	int res_fstat, res_read;
	size_t reserved;
	struct statx stx, fstx;
} aslot;

struct hp_areader {
	hp_reader *plain;     /* the read() path: fallback and re-reads */
	struct io_uring ring;
	bool uring;
	int efd;
	unsigned entries;
	size_t max_size, budget, reserved;
	aslot *slots;
	unsigned busy;        /* slots not FREE */
	bool closing;         /* hp_areader_free: finish what the kernel holds, start nothing */
};

static void a_finish(hp_areader *a, aslot *s, int err)
{
	if (err) {
		free(s->req->data);
		clear_out(s->req);
		s->req->err = err;
		a->reserved -= s->reserved;
		s->reserved = 0;
	}
	s->state = S_DONE;
}

/* Submit what is queued; a short count leaves the rest for the next call
 * (io_uring_submit(3)). A hard error gives up io_uring for good. */
static void a_submit(hp_areader *a);

static void a_step(hp_areader *a, aslot *s, unsigned kind, int res);

/* The kernel may still write into our buffers: wait for the operations in
 * flight (a second without a completion ends the wait: what was never
 * submitted never completes), then tear the ring down. Slots that were
 * busy are left PARKED, with nothing in the kernel. */
static void a_drain(hp_areader *a)
{
	a->closing = true;
	io_uring_submit(&a->ring);
	for (;;) {
		bool any = false;
		for (unsigned i = 0; i < a->entries && !any; i++)
			any = a->slots[i].state == S_BUSY;
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_sec = 1 };
		if (!any || io_uring_wait_cqe_timeout(&a->ring, &cqe, &ts) < 0)
			break;
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&a->ring, cqe);
		unsigned idx = (unsigned)(ud >> 3);
		if (idx < a->entries && a->slots[idx].state == S_BUSY)
			a_step(a, &a->slots[idx], (unsigned)(ud & 7), res);
	}
	io_uring_queue_exit(&a->ring);
	a->uring = false;
	a->closing = false;
}

static void a_fail_ring(hp_areader *a, int r)
{
	hp_err("io_uring failed (%s); reading files with read() from now on", strerror(-r));
	a_drain(a);
	for (unsigned i = 0; i < a->entries; i++) {
		aslot *s = &a->slots[i];
		if (s->state != S_BUSY && s->state != S_PARKED)
			continue;
		free(s->req->data);
		clear_out(s->req);
		a->reserved -= s->reserved;
		s->reserved = 0;
		plain_read(a->plain, s->req);
		s->state = S_DONE;
	}
	uint64_t one = 1;
	if (write(a->efd, &one, sizeof one) < 0)
		hp_debug("reader: eventfd: %s", strerror(errno));
}

static void a_submit(hp_areader *a)
{
	while (a->uring && io_uring_sq_ready(&a->ring)) {
		int r = io_uring_submit(&a->ring);
		if (r > 0 || r == -EINTR)
			continue;
		if (r == 0 || r == -EAGAIN || r == -EBUSY)
			return; /* again at the next take */
		a_fail_ring(a, r);
	}
}

static struct io_uring_sqe *a_sqe(hp_areader *a)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);
	if (!sqe) {
		a_submit(a);
		sqe = a->uring ? io_uring_get_sqe(&a->ring) : NULL;
	}
	return sqe;
}

/* Size known and within the budget: allocate and open. */
static void a_open(hp_areader *a, aslot *s)
{
	size_t size = (size_t)s->stx.stx_size;
	s->req->data = malloc(size + 2);
	if (!s->req->data) {
		a_finish(a, s, -ENOMEM);
		return;
	}
	s->reserved = size;
	a->reserved += size;
	struct io_uring_sqe *o = a_sqe(a);
	if (!o) {
		if (a->uring) /* else the ring failed and the slot was read with read() */
			a_finish(a, s, -EBUSY);
		return;
	}
	io_uring_prep_openat2(o, AT_FDCWD, s->req->path, (struct open_how *)&hp_open_how);
	io_uring_sqe_set_data64(o, (uint64_t)(s - a->slots) << 3 | A_OPEN);
	s->state = S_BUSY;
	s->pending = 1;
}

static bool a_fits(const hp_areader *a, size_t size)
{
	return a->reserved == 0 || a->reserved + size <= a->budget;
}

static void a_unpark(hp_areader *a)
{
	for (unsigned i = 0; i < a->entries; i++) {
		aslot *s = &a->slots[i];
		if (s->state == S_PARKED && a_fits(a, (size_t)s->stx.stx_size))
			a_open(a, s);
	}
	a_submit(a);
}

static void a_step(hp_areader *a, aslot *s, unsigned kind, int res)
{
	hp_read_req *q = s->req;
	if (a->closing) {
		if (kind == A_OPEN && res >= 0)
			close(res);
		if (--s->pending <= 0)
			s->state = S_PARKED; /* nothing in the kernel any more */
		return;
	}
	switch (kind) {
	case A_STATX: {
		int err = res < 0 ? res : check_mode(s->stx.stx_mode);
		if (!err && s->stx.stx_size > a->max_size)
			err = -EFBIG;
		if (err) {
			a_finish(a, s, err);
			return;
		}
		if (a_fits(a, (size_t)s->stx.stx_size))
			a_open(a, s);
		else
			s->state = S_PARKED;
		return;
	}
	case A_OPEN: {
		if (res < 0) {
			a_finish(a, s, res); /* gone or replaced (a link) since the statx */
			return;
		}
		s->fd = res;
		struct io_uring_sqe *f = a_sqe(a), *rdq = f ? a_sqe(a) : NULL, *c = rdq ? a_sqe(a) : NULL;
		if (!c) {
			/* Entries taken but not prepared would run whatever they held. */
			struct io_uring_sqe *taken[2] = { f, rdq };
			for (int i = 0; a->uring && i < 2; i++) {
				if (taken[i]) {
					io_uring_prep_nop(taken[i]);
					io_uring_sqe_set_data64(taken[i], UINT64_MAX);
				}
			}
			close(s->fd);
			if (a->uring) /* else the ring failed and the slot was read with read() */
				a_finish(a, s, -EBUSY);
			return;
		}
		unsigned mask = STATX_TYPE | STATX_SIZE | STATX_INO | STATX_MTIME;
		uint64_t ud = (uint64_t)(s - a->slots) << 3;
		io_uring_prep_statx(f, s->fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, mask, &s->fstx);
		io_uring_sqe_set_data64(f, ud | A_FSTAT);
		f->flags |= IOSQE_IO_HARDLINK;
		io_uring_prep_read(rdq, s->fd, q->data, (unsigned)(s->stx.stx_size + 1), 0);
		io_uring_sqe_set_data64(rdq, ud | A_READ);
		rdq->flags |= IOSQE_IO_HARDLINK;
		io_uring_prep_close(c, s->fd);
		io_uring_sqe_set_data64(c, ud | A_CLOSE);
		s->res_fstat = s->res_read = -EIO;
		s->pending = 3;
		return;
	}
	case A_FSTAT:
		s->res_fstat = res;
		break;
	case A_READ:
		s->res_read = res;
		break;
	default:
		break;
	}
	if (--s->pending > 0)
		return;
	size_t size = (size_t)s->stx.stx_size;
	const struct statx *fx = &s->fstx;
	if (s->res_fstat == 0 && same_file(&s->stx, fx) && s->res_read >= 0 && (size_t)s->res_read == size) {
		q->data[size] = '\0';
		q->len = size;
		q->dev = makedev(fx->stx_dev_major, fx->stx_dev_minor);
		q->ino = fx->stx_ino;
		q->mtime_ns = ts_ns(fx->stx_mtime.tv_sec, fx->stx_mtime.tv_nsec);
		a_finish(a, s, 0);
		return;
	}
	/* Replaced, short, grown or failed: once more, carefully. */
	free(q->data);
	clear_out(q);
	a->reserved -= s->reserved;
	s->reserved = 0;
	plain_read(a->plain, q);
	if (!q->err) {
		s->reserved = q->len;
		a->reserved += q->len;
	}
	s->state = S_DONE;
}

int hp_areader_new(unsigned entries, size_t max_size, size_t budget, unsigned flags, hp_areader **ret)
{
	if (entries == 0)
		entries = 64;
	if (entries > HP_READER_MAX_ENTRIES)
		entries = HP_READER_MAX_ENTRIES;
	hp_areader *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->efd = -1;
	int r = hp_reader_new(1, max_size, HP_READER_NO_URING, &a->plain);
	if (r < 0)
		goto fail;
	a->entries = entries;
	a->max_size = a->plain->max_size;
	a->budget = budget ? budget : SIZE_MAX;
	a->slots = calloc(entries, sizeof *a->slots);
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!a->slots || a->efd < 0) {
		r = a->slots ? -errno : -ENOMEM;
		goto fail;
	}
	if (!(flags & HP_READER_NO_URING)) {
		/* Up to 3 entries per file at once (fstat, read, close). */
		r = io_uring_queue_init(entries * 4, &a->ring, 0);
		if (r == 0) {
			a->uring = true;
			r = io_uring_register_eventfd(&a->ring, a->efd);
			if (r < 0) {
				io_uring_queue_exit(&a->ring);
				a->uring = false;
			}
		}
		if (!a->uring)
			hp_info("io_uring is not available (%s); reading files with read()", strerror(-r));
	}
	*ret = a;
	return 0;
fail:
	hp_areader_free(a);
	return r;
}

bool hp_areader_uring(const hp_areader *a)
{
	return a->uring;
}

int hp_areader_fd(const hp_areader *a)
{
	return a->efd;
}

unsigned hp_areader_inflight(const hp_areader *a)
{
	return a->busy;
}

int hp_areader_submit(hp_areader *a, hp_read_req *req)
{
	aslot *s = NULL;
	for (unsigned i = 0; i < a->entries && !s; i++)
		if (a->slots[i].state == S_FREE)
			s = &a->slots[i];
	if (!s)
		return -EAGAIN;
	clear_out(req);
	memset(s, 0, sizeof *s);
	s->req = req;
	s->fd = -1;
	a->busy++;
	if (!a->uring) {
		plain_read(a->plain, req);
		s->state = S_DONE;
		uint64_t one = 1;
		if (write(a->efd, &one, sizeof one) < 0)
			hp_debug("reader: eventfd: %s", strerror(errno));
		return 0;
	}
	struct io_uring_sqe *sqe = a_sqe(a);
	if (!sqe) {
		a->busy--;
		s->state = S_FREE;
		return -EAGAIN;
	}
	io_uring_prep_statx(sqe, AT_FDCWD, req->path, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
	                    STATX_TYPE | STATX_SIZE | STATX_INO | STATX_MTIME, &s->stx);
	io_uring_sqe_set_data64(sqe, (uint64_t)(s - a->slots) << 3 | A_STATX);
	s->state = S_BUSY;
	s->pending = 1;
	a_submit(a);
	return 0;
}

size_t hp_areader_take(hp_areader *a, hp_read_req **ret, size_t max)
{
	uint64_t v;
	while (read(a->efd, &v, sizeof v) > 0)
		;
	if (a->uring) {
		a_submit(a);
		struct io_uring_cqe *cqe;
		while (a->uring && io_uring_peek_cqe(&a->ring, &cqe) == 0) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);
			int res = cqe->res;
			io_uring_cqe_seen(&a->ring, cqe);
			unsigned idx = (unsigned)(ud >> 3);
			if (idx < a->entries && a->slots[idx].state == S_BUSY)
				a_step(a, &a->slots[idx], (unsigned)(ud & 7), res);
		}
		a_submit(a);
	}
	size_t n = 0;
	for (unsigned i = 0; i < a->entries && n < max; i++) {
		aslot *s = &a->slots[i];
		if (s->state != S_DONE)
			continue;
		ret[n++] = s->req;
		s->state = S_FREE;
		s->req = NULL;
		a->busy--;
	}
	return n;
}

void hp_areader_release(hp_areader *a, size_t bytes)
{
	a->reserved = bytes < a->reserved ? a->reserved - bytes : 0;
	if (a->uring)
		a_unpark(a);
}

void hp_areader_free(hp_areader *a)
{
	if (!a)
		return;
	if (a->uring)
		a_drain(a);
	for (unsigned i = 0; a->slots && i < a->entries; i++) {
		aslot *s = &a->slots[i];
		if (s->state != S_FREE) {
			free(s->req->data);
			clear_out(s->req);
			s->req->err = -ECANCELED;
		}
	}
	if (a->efd >= 0)
		close(a->efd);
	free(a->slots);
	hp_reader_free(a->plain);
	free(a);
}
