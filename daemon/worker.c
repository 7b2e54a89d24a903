/* worker.c — `hopperd --worker`: the untrusted-input side, see
 * include/hopper/pool.h (hp_worker_main).
 *
 * One job at a time, blocking, on fd 3: read a JOB frame, convert, chunk,
 * answer with one RESULT frame. Everything that needs a file (libmagic's
 * database, iconv modules) is loaded before the sandbox closes; after that
 * the process can only read and write the fds it holds.
 * A frame from the supervisor that breaks the protocol ends the process with
 * a non-zero status: the supervisor then reports and restarts it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "hopper/chunk.h"
#include "hopper/codechunk.h"
#include "hopper/convert.h"
#include "hopper/frame.h"
#include "hopper/pool.h"
#include "hopper/sandbox.h"
#include "hopper/testhook.h"

/* The largest JOB payload: a file of 1 GiB plus its metadata fields. */
#define HP_WORKER_MAX_JOB (((size_t)1 << 30) + ((size_t)1 << 20))
#define HP_WORKER_DEFAULT_OUTPUT ((size_t)64 << 20)
#define HP_WORKER_MAX_DEPTH 256
/* Defaults of [workers] pdf_max_pages and pdf_page_timeout (lib/config.c),
 * for jobs that do not carry them (hopper convert). */
#define HP_WORKER_PDF_MAX_PAGES 2000
#define HP_WORKER_PDF_PAGE_MS 10000

/* Read exactly n bytes. n bytes: 0; EOF before any byte: -ENODATA (clean
 * end); EOF in the middle: -EPIPE; else -errno. */
static int read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return got == 0 ? -ENODATA : -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

/* Read a frame header; an fd passed with it (SCM_RIGHTS, unix(7)) goes to
 * *ret_fd (else -1). 0, -ENODATA at a clean EOF, -EPIPE mid-header,
 * -EBADMSG for more than one fd or truncated control data, else -errno. */
static int read_header(int fd, uint8_t *hdr, int *ret_fd)
{
	size_t got = 0;
	int passed = -1;
	while (got < HP_FRAME_HDR_LEN) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} cb;
		struct iovec iov = { .iov_base = hdr + got, .iov_len = HP_FRAME_HDR_LEN - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
		                     .msg_controllen = sizeof cb.buf };
		ssize_t r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		int bad = 0;
		for (struct cmsghdr *c = r >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < n; i++) {
				int x;
				memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof x);
				if (passed < 0 && i == 0 && !bad)
					passed = x;
				else {
					close(x);
					bad = 1;
				}
			}
		}
		if (r >= 0 && (mh.msg_flags & MSG_CTRUNC))
			bad = 1;
		if (bad || r <= 0) {
			if (passed >= 0)
				close(passed);
			if (bad)
				return -EBADMSG;
			if (r < 0)
				return -errno;
			return got == 0 ? -ENODATA : -EPIPE;
		}
		got += (size_t)r;
	}
	*ret_fd = passed;
	return 0;
}

/* Map the memfd that carries a job's bytes: it must be sealed against
 * writes and resizing (so what is checked here stays true), hold len
 * bytes and a NUL. The mapping (len + 1 bytes) goes to *ret. */
static int map_memfd(int mfd, size_t len, const char **ret)
{
	int seals = fcntl(mfd, F_GET_SEALS);
	int need = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
	struct stat st;
	if (seals < 0 || (seals & need) != need || fstat(mfd, &st) < 0 || (uint64_t)st.st_size != (uint64_t)len + 1)
		return -EBADMSG;
	char *p = mmap(NULL, len + 1, PROT_READ, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	if (p[len] != '\0') {
		munmap(p, len + 1);
		return -EBADMSG;
	}
	*ret = p;
	return 0;
}

/* Fault injection (STYLE.md): with `--fault-crash TEXT` (or
 * HOPPER_FAULT_CRASH=TEXT for `hopper convert`'s in-process worker), a
 * worker converting a file whose name contains TEXT dies of a real SIGSEGV
 * (a write to a page mapped without access), as a converter bug would.
 * With `--fault-stderr TEXT`, such a job first writes raw bytes to stderr
 * (control characters, a forged "<0>" line): what a compromised worker
 * could write. With `--fault-spin TEXT`, such a job burns CPU for ever (a
 * parser in an endless loop). Tests use them; unset, they cost a strstr
 * per job. */
static const char *fault_crash;
static const char *fault_stderr;
static const char *fault_spin;
static uint64_t worker_memory_limit;
static volatile char *fault_page;
/* Per-job CPU-time backstop in seconds (0 none): ITIMER_PROF raises SIGPROF,
 * whose default action ends the process; the pool names it. */
static unsigned cpu_limit_s;

static void fault_setup(void)
{
	if (!fault_crash)
		fault_crash = getenv("HOPPER_FAULT_CRASH");
	if (!fault_crash || !*fault_crash)
		return;
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fault_page = p == MAP_FAILED ? NULL : p;
}

/* The job being converted (0 between jobs), for the sandbox's SIGSYS
 * handler: a worker killed by its filter still answers for that job, with
 * a RESULT frame built by hand (no malloc in a signal handler). Outside a
 * conversion a partial frame may be on the socket, so nothing is sent and
 * the pool names the cause from the exit status. */
static volatile uint64_t converting_job;
static int job_fd = -1;

static void put_field(uint8_t *b, size_t *n, uint16_t tag, const void *v, uint32_t len)
{
	uint16_t zero = 0;
	memcpy(b + *n, &tag, 2);
	memcpy(b + *n + 2, &zero, 2);
	memcpy(b + *n + 4, &len, 4);
	memcpy(b + *n + HP_FIELD_HDR_LEN, v, len);
	*n += HP_FIELD_HDR_LEN + len;
}

static void report_violation(const char *reason)
{
	uint64_t id = converting_job;
	if (!id || job_fd < 0)
		return;
	uint8_t b[256];
	size_t n = HP_FRAME_HDR_LEN;
	uint64_t status = EPERM;
	uint32_t rlen = 0;
	while (reason[rlen] && rlen < 160)
		rlen++;
	char msg[161];
	memcpy(msg, reason, rlen);
	msg[rlen] = '\0';
	put_field(b, &n, HP_TAG_JOB_ID, &id, 8);
	put_field(b, &n, HP_TAG_STATUS, &status, 8);
	put_field(b, &n, HP_TAG_ERROR, msg, rlen + 1);
	uint32_t type = HP_FRAME_RESULT, len = (uint32_t)(n - HP_FRAME_HDR_LEN);
	memcpy(b, &type, 4);
	memcpy(b + 4, &len, 4);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(job_fd, b + off, n - off);
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void cpu_timer(unsigned seconds)
{
	struct itimerval it = { .it_value = { .tv_sec = seconds } };
	if (cpu_limit_s)
		setitimer(ITIMER_PROF, &it, NULL);
}

static hp_doc *run_job(const hp_job_msg *m, hp_result *res)
{
	if (fault_stderr && *fault_stderr && m->name && strstr(m->name, fault_stderr)) {
		static const char raw[] = "raw \033[31mred\033[0m\n<0>forged emergency\nnul\0byte\n";
		hp_write_all(STDERR_FILENO, raw, sizeof raw - 1);
	}
	if (fault_page && m->name && strstr(m->name, fault_crash))
		fault_page[0] = 1;
	if (fault_spin && *fault_spin && m->name && strstr(m->name, fault_spin)) {
		cpu_timer(cpu_limit_s);
		for (volatile unsigned long spin = 0;; spin++)
			;
	}
	char err[512] = "";
	hp_doc *doc = NULL;
	hp_convert_limits lim = {
		.max_output = m->max_output ? (size_t)m->max_output : HP_WORKER_DEFAULT_OUTPUT,
		.ocr_languages = m->ocr_languages,
		.max_depth = HP_WORKER_MAX_DEPTH,
		.max_pages = m->pdf_max_pages ? (int)m->pdf_max_pages : HP_WORKER_PDF_MAX_PAGES,
		.page_time_ms = m->pdf_page_ms ? m->pdf_page_ms : HP_WORKER_PDF_PAGE_MS,
		.zip_max_total = m->zip_max_total,
		.zip_max_ratio = (uint32_t)m->zip_max_ratio,
		.zip_max_entries = (uint32_t)m->zip_max_entries,
		.max_sheet_rows = (uint32_t)m->max_sheet_rows,
		.ocr_max_pages = (int)m->ocr_max_pages,
		.ocr_time_ms = m->ocr_time_ms,
		.ocr_dpi = (int)m->ocr_dpi,
	};
	cpu_timer(cpu_limit_s);
	converting_job = m->job_id;
	int r = hp_test_convert ? hp_test_convert(m->name, m->data, m->len, &lim, &doc, err, sizeof err) : 1;
	if (r == 1)
		r = hp_convert(m->name, m->data, m->len, &lim, &doc, err, sizeof err);
	if (r < 0) {
		converting_job = 0;
		res->status = -r;
		if (r == -ENOMEM && worker_memory_limit)
			snprintf(err, sizeof err,
			         "out of memory: converting this file needs more than memory_limit = %llu MiB "
			         "(permanent; raise [workers] memory_limit)",
			         (unsigned long long)(worker_memory_limit >> 20));
		res->error = strdup(err[0] ? err : strerror(-r));
		/* Say what it was, so the pool can recycle after a high-risk format. */
		res->doc.format = hp_detect(m->name, m->data, m->len);
		cpu_timer(0);
		return NULL;
	}
	hp_chunk_opts co = {
		.max_tokens = m->chunk_tokens && m->chunk_tokens <= INT32_MAX ? (int)m->chunk_tokens
		                                                              : HP_CHUNK_DEFAULT_TOKENS,
		.overlap = m->chunk_overlap <= INT32_MAX ? (int)m->chunk_overlap : 0,
		.min_tokens = m->have_chunk_min && m->chunk_min <= INT32_MAX ? (int)m->chunk_min : 0,
	};
	if (doc->format == HP_FMT_CODE) /* at symbol boundaries, see codechunk.h */
		r = hp_code_chunk(m->name, doc->markdown, doc->markdown_len, &co, &res->chunks, &res->n_chunks);
	else
		r = hp_chunk_markdown_opts(doc->markdown, doc->markdown_len, &co, &res->chunks,
		                           &res->n_chunks);
	converting_job = 0;
	if (r < 0) {
		res->status = -r;
		res->error = strdup(r == -ENOMEM ? "out of memory while splitting the Markdown into chunks"
		                                 : "cannot split the Markdown into chunks");
		res->doc.format = doc->format;
		cpu_timer(0);
		hp_doc_free(doc);
		return NULL;
	}
	cpu_timer(0);
	res->status = 0;
	res->doc = *doc;
	return doc;
}

/* Answer with a bare error when even the normal result could not be built
 * (out of memory): the job still gets an outcome. */
static int send_error(int fd, uint64_t job_id, int status, const char *msg)
{
	hp_result res = { .job_id = job_id, .status = status, .error = (char *)msg };
	hp_buf out;
	hp_buf_init(&out, 0);
	int r = hp_result_encode(&out, &res);
	if (r == 0)
		r = hp_write_all(fd, out.data, out.len);
	hp_buf_free(&out);
	return r;
}

static int handle_job(int fd, const void *payload, size_t len, int mfd)
{
	hp_job_msg m;
	int r = hp_job_msg_decode(payload, len, &m);
	if (r < 0 || m.in_memfd != (mfd >= 0)) {
		hp_err("worker: malformed job frame from the supervisor");
		return -EBADMSG;
	}
	const char *map = NULL;
	if (m.in_memfd) {
		r = map_memfd(mfd, m.len, &map);
		if (r == -ENOMEM) {
			char msg[200];
			snprintf(msg, sizeof msg,
			         "the file does not fit in a worker's memory (memory_limit = %llu MiB); "
			         "raise [workers] memory_limit (permanent)",
			         (unsigned long long)(worker_memory_limit >> 20));
			return send_error(fd, m.job_id, ENOMEM, msg);
		}
		if (r < 0) {
			hp_err("worker: the job's memfd is not sealed or not its size");
			return -EBADMSG;
		}
		m.data = map;
	}
	hp_result res = { .job_id = m.job_id };
	hp_doc *doc = run_job(&m, &res);
	hp_buf out;
	hp_buf_init(&out, 0);
	r = res.status != 0 && !res.error ? -ENOMEM : hp_result_encode(&out, &res);
	if (r == 0) {
		r = hp_write_all(fd, out.data, out.len);
	} else if (r == -ENOMEM || r == -EFBIG || r == -EMSGSIZE) {
		hp_buf_free(&out);
		r = send_error(fd, m.job_id, r == -ENOMEM ? ENOMEM : EFBIG,
		               r == -ENOMEM ? "out of memory while sending the result"
		                            : "the result is too large to send");
	}
	hp_buf_free(&out);
	if (doc) {
		/* res.doc is a shallow copy of *doc. */
		hp_doc_free(doc);
	} else {
		free(res.error);
	}
	hp_chunks_free(res.chunks, res.n_chunks);
	if (map)
		munmap((void *)map, m.len + 1);
	return r;
}

/* Read and drop a JOB payload of len bytes that could not be allocated,
 * keeping its job id (the first field, as hp_job_msg_encode writes it). */
static int discard_job(int fd, uint32_t len, uint64_t *ret_job_id)
{
	static char sink[65536];
	uint8_t head[HP_FIELD_HDR_LEN + 8];
	size_t n = len < sizeof head ? len : sizeof head;
	int r = read_full(fd, head, n);
	if (r < 0)
		return r;
	uint16_t tag;
	uint32_t flen;
	memcpy(&tag, head, 2);
	memcpy(&flen, head + 4, 4);
	if (n == sizeof head && tag == HP_TAG_JOB_ID && flen == 8)
		memcpy(ret_job_id, head + HP_FIELD_HDR_LEN, 8);
	for (size_t left = len - n; left > 0;) {
		size_t k = left < sizeof sink ? left : sizeof sink;
		r = read_full(fd, sink, k);
		if (r < 0)
			return r;
		left -= k;
	}
	return 0;
}

int hp_worker_exec_main(int argc, char **argv)
{
	uint64_t limit = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--memory-limit") == 0 && v) {
			limit = strtoull(v, NULL, 10);
			i++;
		} else if (strcmp(a, "--cpu-limit") == 0 && v) {
			cpu_limit_s = (unsigned)strtoul(v, NULL, 10);
			i++;
		} else if (strcmp(a, "--fault-crash") == 0 && v) {
			fault_crash = v;
			i++;
		} else if (strcmp(a, "--fault-stderr") == 0 && v) {
			fault_stderr = v;
			i++;
		} else if (strcmp(a, "--fault-spin") == 0 && v) {
			fault_spin = v;
			i++;
		} else if (strcmp(a, "--debug") == 0) {
			hp_log_level = HP_LOG_DEBUG;
		} else if (strcmp(a, "--sandbox-debug") == 0) {
			/* read by hp_sandbox_enter; set in this process only */
			setenv("HOPPER_SANDBOX_DEBUG", "1", 1);
		} else {
			hp_err("worker: unknown argument '%s'", a);
			return 2;
		}
	}
	return hp_worker_main(3, limit);
}

int hp_worker_main(int fd, uint64_t memory_limit)
{
	worker_memory_limit = memory_limit;
	if (getenv("HOPPER_DEBUG"))
		hp_log_level = HP_LOG_DEBUG;
	int r = hp_convert_init();
	if (r < 0) {
		hp_err("worker: cannot load the converters: %s", strerror(-r));
		return 1;
	}
	fault_setup();
	job_fd = fd;
	hp_sandbox_on_violation(report_violation);
	r = hp_sandbox_enter(memory_limit);
	if (r < 0)
		return 1; /* hp_sandbox_enter said why */

	for (;;) {
		uint8_t hdr[HP_FRAME_HDR_LEN];
		uint32_t type, len;
		int mfd = -1;
		r = read_header(fd, hdr, &mfd);
		if (r == -ENODATA)
			return 0; /* the supervisor closed the socket: stop */
		if (r == -EBADMSG) {
			hp_err("worker: malformed file passing from the supervisor");
			return 2;
		}
		if (r < 0) {
			hp_err("worker: cannot read from the supervisor: %s", strerror(-r));
			return 1;
		}
		r = hp_frame_header(hdr, sizeof hdr, HP_WORKER_MAX_JOB, &type, &len);
		if (r < 0 || type != HP_FRAME_JOB) {
			hp_err("worker: malformed frame header from the supervisor (%s)",
			       r == -EMSGSIZE ? "too large" : "unknown type");
			return 2;
		}
		/* One byte more, so the payload (and the file bytes, which are
		 * its last field) end in a NUL. */
		char *payload = malloc((size_t)len + 1);
		if (!payload) {
			/* Too big for this worker's memory: the answer is a permanent
			 * error for that file, not a dead worker (which would look like
			 * a crash and be tried again and again). */
			uint64_t job_id = 0;
			if (mfd >= 0)
				close(mfd);
			if (discard_job(fd, len, &job_id) < 0)
				return 1;
			char msg[200];
			snprintf(msg, sizeof msg,
			         "the file does not fit in a worker's memory (memory_limit = %llu MiB); "
			         "raise [workers] memory_limit (permanent)",
			         (unsigned long long)(memory_limit >> 20));
			if (send_error(fd, job_id, ENOMEM, msg) < 0)
				return 1;
			continue;
		}
		r = read_full(fd, payload, len);
		if (r < 0) {
			hp_err("worker: the supervisor closed the socket in the middle of a job");
			free(payload);
			return 1;
		}
		payload[len] = '\0';
		r = handle_job(fd, payload, len, mfd);
		free(payload);
		if (mfd >= 0)
			close(mfd);
		if (r == -EBADMSG)
			return 2;
		if (r < 0) {
			hp_err("worker: cannot send the result: %s", strerror(-r));
			return 1;
		}
	}
}
