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
#include <sys/mman.h>
#include <unistd.h>

#include "hopper/chunk.h"
#include "hopper/convert.h"
#include "hopper/frame.h"
#include "hopper/pool.h"
#include "hopper/sandbox.h"

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

/* Convert and chunk one job into *res (status and error, or doc and
 * chunks). Returns the hp_doc to free after encoding (or NULL). */
/* Fault injection (STYLE.md): with HOPPER_FAULT_CRASH=TEXT in the
 * environment, a worker converting a file whose name contains TEXT dies of
 * a real SIGSEGV (a write to a page mapped without access), as a converter
 * bug would. Tests use it; unset, it costs one getenv at start. */
static const char *fault_crash;
static volatile char *fault_page;

static void fault_setup(void)
{
	fault_crash = getenv("HOPPER_FAULT_CRASH");
	if (!fault_crash || !*fault_crash)
		return;
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fault_page = p == MAP_FAILED ? NULL : p;
}

static hp_doc *run_job(const hp_job_msg *m, hp_result *res)
{
	if (fault_page && m->name && strstr(m->name, fault_crash))
		fault_page[0] = 1;
	char err[512] = "";
	hp_doc *doc = NULL;
	hp_convert_limits lim = {
		.max_output = m->max_output ? (size_t)m->max_output : HP_WORKER_DEFAULT_OUTPUT,
		.ocr_languages = m->ocr_languages,
		.max_depth = HP_WORKER_MAX_DEPTH,
		.max_pages = m->pdf_max_pages ? (int)m->pdf_max_pages : HP_WORKER_PDF_MAX_PAGES,
		.page_time_ms = m->pdf_page_ms ? m->pdf_page_ms : HP_WORKER_PDF_PAGE_MS,
	};
	int r = hp_convert(m->name, m->data, m->len, &lim, &doc, err, sizeof err);
	if (r < 0) {
		res->status = -r;
		res->error = strdup(err[0] ? err : strerror(-r));
		return NULL;
	}
	hp_chunk_opts co = {
		.max_tokens = m->chunk_tokens && m->chunk_tokens <= INT32_MAX ? (int)m->chunk_tokens
		                                                              : HP_CHUNK_DEFAULT_TOKENS,
		.overlap = m->chunk_overlap <= INT32_MAX ? (int)m->chunk_overlap : 0,
		.min_tokens = m->have_chunk_min && m->chunk_min <= INT32_MAX ? (int)m->chunk_min : 0,
	};
	r = hp_chunk_markdown_opts(doc->markdown, doc->markdown_len, &co, &res->chunks, &res->n_chunks);
	if (r < 0) {
		res->status = -r;
		res->error = strdup(r == -ENOMEM ? "out of memory while splitting the Markdown into chunks"
		                                 : "cannot split the Markdown into chunks");
		hp_doc_free(doc);
		return NULL;
	}
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

static int handle_job(int fd, const void *payload, size_t len)
{
	hp_job_msg m;
	int r = hp_job_msg_decode(payload, len, &m);
	if (r < 0) {
		hp_err("worker: malformed job frame from the supervisor");
		return r;
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

int hp_worker_main(int fd, uint64_t memory_limit)
{
	if (getenv("HOPPER_DEBUG"))
		hp_log_level = HP_LOG_DEBUG;
	int r = hp_convert_init();
	if (r < 0) {
		hp_err("worker: cannot load the converters: %s", strerror(-r));
		return 1;
	}
	fault_setup();
	r = hp_sandbox_enter(memory_limit);
	if (r < 0)
		return 1; /* hp_sandbox_enter said why */

	for (;;) {
		uint8_t hdr[HP_FRAME_HDR_LEN];
		uint32_t type, len;
		r = read_full(fd, hdr, sizeof hdr);
		if (r == -ENODATA)
			return 0; /* the supervisor closed the socket: stop */
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
		r = handle_job(fd, payload, len);
		free(payload);
		if (r == -EBADMSG)
			return 2;
		if (r < 0) {
			hp_err("worker: cannot send the result: %s", strerror(-r));
			return 1;
		}
	}
}
