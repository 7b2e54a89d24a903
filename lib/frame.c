/* frame.c — the supervisor <-> worker wire format, see include/hopper/frame.h
 *
 * Every decoder here reads untrusted bytes (a worker may be exploited; the
 * supervisor's job frames carry file bytes). So every length is compared
 * with what is left before anything is touched, integers are read with
 * memcpy (no unaligned loads), strings must carry exactly one NUL, at the
 * end, and repeated fields are refused rather than silently overwritten.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/frame.h"

/* ---- low level -------------------------------------------------------- */

long hp_frame_begin(hp_buf *b, uint32_t type)
{
	uint32_t hdr[2] = { type, 0 };
	size_t start = b->len;
	if (start > LONG_MAX)
		return -EOVERFLOW;
	int r = hp_buf_add(b, hdr, sizeof hdr);
	if (r < 0)
		return r;
	return (long)start;
}

int hp_frame_end(hp_buf *b, long start)
{
	if (start < 0 || (size_t)start > b->len || b->len - (size_t)start < HP_FRAME_HDR_LEN)
		return -EINVAL;
	size_t len = b->len - (size_t)start - HP_FRAME_HDR_LEN;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	uint32_t l = (uint32_t)len;
	memcpy(b->data + start + 4, &l, sizeof l);
	return 0;
}

int hp_frame_put(hp_buf *b, uint16_t tag, const void *p, size_t n)
{
	if (n > UINT32_MAX)
		return -EMSGSIZE;
	/* Reserve header and value together so a failure leaves b unchanged. */
	if (n > SIZE_MAX - HP_FIELD_HDR_LEN)
		return -EFBIG;
	int r = hp_buf_reserve(b, HP_FIELD_HDR_LEN + n);
	if (r < 0)
		return r;
	uint8_t hdr[HP_FIELD_HDR_LEN];
	uint16_t zero = 0;
	uint32_t len = (uint32_t)n;
	memcpy(hdr, &tag, 2);
	memcpy(hdr + 2, &zero, 2);
	memcpy(hdr + 4, &len, 4);
	r = hp_buf_add(b, hdr, sizeof hdr);
	if (r == 0 && n)
		r = hp_buf_add(b, p, n);
	return r;
}

int hp_frame_put_str(hp_buf *b, uint16_t tag, const char *s)
{
	if (!s)
		return 0;
	return hp_frame_put(b, tag, s, strlen(s) + 1);
}

int hp_frame_put_u64(hp_buf *b, uint16_t tag, uint64_t v)
{
	return hp_frame_put(b, tag, &v, sizeof v);
}

int hp_frame_header(const void *p, size_t n, size_t max_len, uint32_t *ret_type, uint32_t *ret_len)
{
	if (n < HP_FRAME_HDR_LEN)
		return -EAGAIN;
	uint32_t type, len;
	memcpy(&type, p, 4);
	memcpy(&len, (const uint8_t *)p + 4, 4);
	if (type != HP_FRAME_JOB && type != HP_FRAME_RESULT)
		return -EBADMSG;
	if (len > max_len)
		return -EMSGSIZE;
	*ret_type = type;
	*ret_len = len;
	return 0;
}

void hp_field_iter_init(hp_field_iter *it, const void *payload, size_t n)
{
	it->p = payload;
	it->n = payload ? n : 0;
}

int hp_field_next(hp_field_iter *it, uint16_t *ret_tag, const void **ret_val, uint32_t *ret_len)
{
	if (it->n == 0)
		return 0;
	if (it->n < HP_FIELD_HDR_LEN)
		return -EBADMSG;
	uint16_t tag, zero;
	uint32_t len;
	memcpy(&tag, it->p, 2);
	memcpy(&zero, it->p + 2, 2);
	memcpy(&len, it->p + 4, 4);
	/* The reserved half-word must be zero: a frame with it set was not
	 * written by this binary. */
	if (zero != 0 || len > it->n - HP_FIELD_HDR_LEN)
		return -EBADMSG;
	*ret_tag = tag;
	*ret_val = it->p + HP_FIELD_HDR_LEN;
	*ret_len = len;
	it->p += HP_FIELD_HDR_LEN + len;
	it->n -= HP_FIELD_HDR_LEN + len;
	return 1;
}

/* ---- value decoders ---------------------------------------------------- */

static int get_u64(const void *val, uint32_t len, uint64_t *ret)
{
	if (len != sizeof(uint64_t))
		return -EBADMSG;
	memcpy(ret, val, sizeof *ret);
	return 0;
}

/* A string field: at least one byte, the only NUL is the last byte. The
 * value stays borrowed; *ret_len excludes the NUL. */
static int get_str(const void *val, uint32_t len, const char **ret, size_t *ret_len)
{
	if (len == 0)
		return -EBADMSG;
	const char *s = val;
	if (memchr(s, '\0', len) != s + len - 1)
		return -EBADMSG;
	*ret = s;
	if (ret_len)
		*ret_len = len - 1;
	return 0;
}

/* Copy a string field into *dst, which must still be NULL (a repeated
 * field is malformed). */
static int dup_str(const void *val, uint32_t len, char **dst, size_t *ret_len)
{
	const char *s;
	size_t n;
	if (*dst)
		return -EBADMSG;
	int r = get_str(val, len, &s, &n);
	if (r < 0)
		return r;
	char *c = malloc(n + 1);
	if (!c)
		return -ENOMEM;
	memcpy(c, s, n + 1);
	*dst = c;
	if (ret_len)
		*ret_len = n;
	return 0;
}

/* ---- job ----------------------------------------------------------------- */

/* Close a frame begun at `start` when every field went in (r == 0); else
 * (or when closing fails) cut b back to its `old` length, so a failed encode
 * leaves the buffer as it was. Returns r or hp_frame_end's error. */
static int frame_finish(hp_buf *b, size_t old, long start, int r)
{
	if (r == 0)
		r = hp_frame_end(b, start);
	if (r < 0 && b->len > old) {
		b->len = old;
		b->data[old] = '\0';
	}
	return r;
}

int hp_job_msg_encode(hp_buf *b, const hp_job_msg *m)
{
	size_t old = b->len;
	long start = hp_frame_begin(b, HP_FRAME_JOB);
	int r = start < 0 ? (int)start : 0;
	if (r == 0)
		r = hp_frame_put_u64(b, HP_TAG_JOB_ID, m->job_id);
	if (r == 0)
		r = hp_frame_put_str(b, HP_TAG_NAME, m->name);
	if (r == 0)
		r = hp_frame_put_u64(b, HP_TAG_CHUNK_TOKENS, m->chunk_tokens);
	if (r == 0)
		r = hp_frame_put_u64(b, HP_TAG_MAX_OUTPUT, m->max_output);
	if (r == 0 && m->pdf_max_pages)
		r = hp_frame_put_u64(b, HP_TAG_PDF_MAX_PAGES, m->pdf_max_pages);
	if (r == 0 && m->pdf_page_ms)
		r = hp_frame_put_u64(b, HP_TAG_PDF_PAGE_MS, m->pdf_page_ms);
	if (r == 0 && m->chunk_overlap)
		r = hp_frame_put_u64(b, HP_TAG_CHUNK_OVERLAP, m->chunk_overlap);
	if (r == 0 && m->have_chunk_min)
		r = hp_frame_put_u64(b, HP_TAG_CHUNK_MIN, m->chunk_min);
	if (r == 0)
		r = hp_frame_put_str(b, HP_TAG_OCR_LANGUAGES, m->ocr_languages);
	const struct { uint16_t tag; uint64_t v; } lims[] = {
		{ HP_TAG_ZIP_MAX_TOTAL, m->zip_max_total }, { HP_TAG_ZIP_MAX_RATIO, m->zip_max_ratio },
		{ HP_TAG_ZIP_MAX_ENTRIES, m->zip_max_entries }, { HP_TAG_MAX_SHEET_ROWS, m->max_sheet_rows },
		{ HP_TAG_OCR_MAX_PAGES, m->ocr_max_pages }, { HP_TAG_OCR_TIME_MS, m->ocr_time_ms },
		{ HP_TAG_OCR_DPI, m->ocr_dpi },
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(lims) && r == 0; i++)
		if (lims[i].v)
			r = hp_frame_put_u64(b, lims[i].tag, lims[i].v);
	/* Data last: the worker reads the payload into a buffer with a NUL
	 * after it, so the file bytes end up NUL-terminated for free. */
	if (r == 0 && m->in_memfd)
		r = hp_frame_put_u64(b, HP_TAG_DATA_MEMFD, m->len);
	else if (r == 0)
		r = hp_frame_put(b, HP_TAG_DATA, m->data, m->len);
	return frame_finish(b, old, start, r);
}

int hp_job_msg_decode(const void *payload, size_t n, hp_job_msg *ret)
{
	hp_job_msg m = { 0 };
	bool have_id = false, have_data = false, have_name = false, have_ct = false, have_mo = false;
	bool have_ov = false;
	bool have_ocr = false;
	hp_field_iter it;
	uint16_t tag;
	const void *val;
	uint32_t len;
	int r;

	hp_field_iter_init(&it, payload, n);
	while ((r = hp_field_next(&it, &tag, &val, &len)) > 0) {
		uint64_t v;
		switch (tag) {
		case HP_TAG_JOB_ID:
			if (have_id || get_u64(val, len, &m.job_id) < 0)
				return -EBADMSG;
			have_id = true;
			break;
		case HP_TAG_NAME:
			if (have_name || get_str(val, len, &m.name, NULL) < 0)
				return -EBADMSG;
			have_name = true;
			break;
		case HP_TAG_DATA:
			if (have_data)
				return -EBADMSG;
			m.data = val;
			m.len = len;
			have_data = true;
			break;
		case HP_TAG_DATA_MEMFD:
			if (have_data || get_u64(val, len, &v) < 0 || v > SIZE_MAX - 1)
				return -EBADMSG;
			m.data = NULL;
			m.len = (size_t)v;
			m.in_memfd = true;
			have_data = true;
			break;
		case HP_TAG_CHUNK_TOKENS:
			if (have_ct || get_u64(val, len, &v) < 0 || v > UINT32_MAX)
				return -EBADMSG;
			m.chunk_tokens = (uint32_t)v;
			have_ct = true;
			break;
		case HP_TAG_MAX_OUTPUT:
			if (have_mo || get_u64(val, len, &m.max_output) < 0)
				return -EBADMSG;
			have_mo = true;
			break;
		case HP_TAG_PDF_MAX_PAGES:
			if (get_u64(val, len, &v) < 0 || v > UINT32_MAX)
				return -EBADMSG;
			m.pdf_max_pages = (uint32_t)v;
			break;
		case HP_TAG_PDF_PAGE_MS:
			if (get_u64(val, len, &m.pdf_page_ms) < 0)
				return -EBADMSG;
			break;
		case HP_TAG_CHUNK_OVERLAP:
			if (have_ov || get_u64(val, len, &v) < 0 || v > UINT32_MAX)
				return -EBADMSG;
			m.chunk_overlap = (uint32_t)v;
			have_ov = true;
			break;
		case HP_TAG_CHUNK_MIN:
			if (m.have_chunk_min || get_u64(val, len, &v) < 0 || v > UINT32_MAX)
				return -EBADMSG;
			m.chunk_min = (uint32_t)v;
			m.have_chunk_min = true;
			break;
		case HP_TAG_OCR_LANGUAGES:
			if (have_ocr || get_str(val, len, &m.ocr_languages, NULL) < 0)
				return -EBADMSG;
			have_ocr = true;
			break;
		case HP_TAG_ZIP_MAX_TOTAL:
			if (get_u64(val, len, &m.zip_max_total) < 0)
				return -EBADMSG;
			break;
		case HP_TAG_ZIP_MAX_RATIO:
			if (get_u64(val, len, &m.zip_max_ratio) < 0 || m.zip_max_ratio > UINT32_MAX)
				return -EBADMSG;
			break;
		case HP_TAG_ZIP_MAX_ENTRIES:
			if (get_u64(val, len, &m.zip_max_entries) < 0 || m.zip_max_entries > UINT32_MAX)
				return -EBADMSG;
			break;
		case HP_TAG_MAX_SHEET_ROWS:
			if (get_u64(val, len, &m.max_sheet_rows) < 0 || m.max_sheet_rows > UINT32_MAX)
				return -EBADMSG;
			break;
		case HP_TAG_OCR_MAX_PAGES:
			if (get_u64(val, len, &m.ocr_max_pages) < 0 || m.ocr_max_pages > INT32_MAX)
				return -EBADMSG;
			break;
		case HP_TAG_OCR_TIME_MS:
			if (get_u64(val, len, &m.ocr_time_ms) < 0)
				return -EBADMSG;
			break;
		case HP_TAG_OCR_DPI:
			if (get_u64(val, len, &m.ocr_dpi) < 0 || m.ocr_dpi > 2400)
				return -EBADMSG;
			break;
		default:
			break; /* a later stage's field: not ours to judge */
		}
	}
	if (r < 0)
		return r;
	if (!have_id || !have_data)
		return -EBADMSG;
	*ret = m;
	return 0;
}

/* ---- result -------------------------------------------------------------- */

static int put_chunk(hp_buf *b, const hp_chunk *c)
{
	/* The nested fields are built in place: a CHUNK field header whose
	 * length is patched once the sub-fields are written. */
	size_t at = b->len;
	int r = hp_frame_put(b, HP_TAG_CHUNK, NULL, 0);
	if (r == 0)
		r = hp_frame_put_str(b, HP_TAG_CHUNK_HEADING, c->heading ? c->heading : "");
	if (r == 0)
		r = hp_frame_put_str(b, HP_TAG_CHUNK_CONTENT, c->content ? c->content : "");
	if (r == 0)
		r = hp_frame_put_u64(b, HP_TAG_CHUNK_TOKENS_N, c->tokens < 0 ? 0 : (uint64_t)c->tokens);
	if (r == 0 && c->page > 0)
		r = hp_frame_put_u64(b, HP_TAG_CHUNK_PAGE, (uint64_t)c->page);
	if (r == 0)
		r = hp_frame_put_u64(b, HP_TAG_CHUNK_START, c->start);
	if (r == 0)
		r = hp_frame_put_u64(b, HP_TAG_CHUNK_END, c->end);
	if (r < 0)
		return r;
	size_t inner = b->len - at - HP_FIELD_HDR_LEN;
	if (inner > UINT32_MAX)
		return -EMSGSIZE;
	uint32_t l = (uint32_t)inner;
	memcpy(b->data + at + 4, &l, 4);
	return 0;
}

int hp_result_encode(hp_buf *b, const hp_result *r)
{
	size_t old = b->len;
	long start = hp_frame_begin(b, HP_FRAME_RESULT);
	int e = start < 0 ? (int)start : 0;
	if (e == 0)
		e = hp_frame_put_u64(b, HP_TAG_JOB_ID, r->job_id);
	if (e == 0)
		e = hp_frame_put_u64(b, HP_TAG_STATUS, r->status < 0 ? (uint64_t)-r->status : (uint64_t)r->status);
	if (r->status != 0) {
		if (e == 0)
			e = hp_frame_put_str(b, HP_TAG_ERROR, r->error);
		/* The format, when detected, also for a failure: the pool recycles
		 * a worker after a job of a high-risk format either way. */
		if (e == 0 && r->doc.format != HP_FMT_UNKNOWN)
			e = hp_frame_put_str(b, HP_TAG_FORMAT, hp_format_name(r->doc.format));
	} else {
		if (e == 0)
			e = hp_frame_put_str(b, HP_TAG_FORMAT, hp_format_name(r->doc.format));
		if (e == 0)
			e = hp_frame_put_str(b, HP_TAG_TITLE, r->doc.title);
		if (e == 0)
			e = hp_frame_put_str(b, HP_TAG_MARKDOWN, r->doc.markdown ? r->doc.markdown : "");
		if (e == 0)
			e = hp_frame_put_u64(b, HP_TAG_PAGES, r->doc.pages < 0 ? 0 : (uint64_t)r->doc.pages);
		if (e == 0)
			e = hp_frame_put_str(b, HP_TAG_META, r->doc.meta_json);
		for (size_t i = 0; e == 0 && i < r->n_chunks; i++)
			e = put_chunk(b, &r->chunks[i]);
	}
	return frame_finish(b, old, start, e);
}

static void chunk_clear(hp_chunk *c)
{
	free(c->heading);
	free(c->content);
	c->heading = c->content = NULL;
}

static int decode_chunk(const void *payload, uint32_t n, hp_chunk *ret)
{
	hp_chunk c = { 0 };
	bool have_tokens = false, have_page = false, have_start = false, have_end = false;
	hp_field_iter it;
	uint16_t tag;
	const void *val;
	uint32_t len;
	int r;

	hp_field_iter_init(&it, payload, n);
	while ((r = hp_field_next(&it, &tag, &val, &len)) > 0) {
		uint64_t v;
		switch (tag) {
		case HP_TAG_CHUNK_HEADING:
			r = dup_str(val, len, &c.heading, NULL);
			break;
		case HP_TAG_CHUNK_CONTENT:
			r = dup_str(val, len, &c.content, NULL);
			break;
		case HP_TAG_CHUNK_TOKENS_N:
			if (have_tokens || get_u64(val, len, &v) < 0 || v > INT_MAX)
				r = -EBADMSG;
			else
				c.tokens = (int)v;
			have_tokens = true;
			break;
		case HP_TAG_CHUNK_PAGE:
			if (have_page || get_u64(val, len, &v) < 0 || v > INT_MAX)
				r = -EBADMSG;
			else
				c.page = (int)v;
			have_page = true;
			break;
		case HP_TAG_CHUNK_START:
		case HP_TAG_CHUNK_END: {
			bool *have = tag == HP_TAG_CHUNK_START ? &have_start : &have_end;
			if (*have || get_u64(val, len, &v) < 0 || v > SIZE_MAX)
				r = -EBADMSG;
			else if (tag == HP_TAG_CHUNK_START)
				c.start = (size_t)v;
			else
				c.end = (size_t)v;
			*have = true;
			break;
		}
		default:
			break;
		}
		if (r < 0)
			goto fail;
	}
	if (c.start > c.end) {
		r = -EBADMSG;
		goto fail;
	}
	if (r < 0)
		goto fail;
	if (!c.content) {
		r = -EBADMSG;
		goto fail;
	}
	if (!c.heading && !(c.heading = strdup(""))) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	chunk_clear(&c);
	return r;
}

int hp_result_decode(const void *payload, size_t n, size_t max_chunks, hp_result *ret)
{
	hp_result res = { 0 };
	size_t alloc = 0;
	bool have_id = false, have_status = false, have_pages = false;
	char *format = NULL;
	hp_field_iter it;
	uint16_t tag;
	const void *val;
	uint32_t len;
	int r;

	hp_field_iter_init(&it, payload, n);
	while ((r = hp_field_next(&it, &tag, &val, &len)) > 0) {
		uint64_t v;
		switch (tag) {
		case HP_TAG_JOB_ID:
			if (have_id || get_u64(val, len, &res.job_id) < 0)
				r = -EBADMSG;
			have_id = true;
			break;
		case HP_TAG_STATUS:
			if (have_status || get_u64(val, len, &v) < 0 || v > INT_MAX)
				r = -EBADMSG;
			else
				res.status = (int)v;
			have_status = true;
			break;
		case HP_TAG_ERROR:
			r = dup_str(val, len, &res.error, NULL);
			break;
		case HP_TAG_FORMAT:
			r = dup_str(val, len, &format, NULL);
			break;
		case HP_TAG_TITLE:
			r = dup_str(val, len, &res.doc.title, NULL);
			break;
		case HP_TAG_MARKDOWN:
			r = dup_str(val, len, &res.doc.markdown, &res.doc.markdown_len);
			break;
		case HP_TAG_PAGES:
			if (have_pages || get_u64(val, len, &v) < 0 || v > INT_MAX)
				r = -EBADMSG;
			else
				res.doc.pages = (int)v;
			have_pages = true;
			break;
		case HP_TAG_META:
			r = dup_str(val, len, &res.doc.meta_json, NULL);
			break;
		case HP_TAG_CHUNK:
			if (res.n_chunks >= max_chunks) {
				r = -EBADMSG;
				break;
			}
			if (res.n_chunks == alloc) {
				/* Grow with what actually arrives, never with a count
				 * the sender claims. */
				size_t na = alloc ? alloc * 2 : 16;
				if (na > max_chunks)
					na = max_chunks;
				hp_chunk *nc = realloc(res.chunks, na * sizeof *nc);
				if (!nc) {
					r = -ENOMEM;
					break;
				}
				res.chunks = nc;
				alloc = na;
			}
			r = decode_chunk(val, len, &res.chunks[res.n_chunks]);
			if (r == 0)
				res.n_chunks++;
			break;
		default:
			break;
		}
		if (r < 0)
			goto fail;
	}
	if (r < 0)
		goto fail;
	if (!have_id || !have_status) {
		r = -EBADMSG;
		goto fail;
	}
	res.doc.format = format ? hp_format_from_name(format) : HP_FMT_UNKNOWN;
	if (res.status == 0) {
		/* A success must carry the document: a known format and Markdown. */
		if (res.doc.format == HP_FMT_UNKNOWN || !res.doc.markdown) {
			r = -EBADMSG;
			goto fail;
		}
		/* Offsets are used to cut the Markdown: they must lie inside it. */
		for (size_t i = 0; i < res.n_chunks; i++) {
			if (res.chunks[i].end > res.doc.markdown_len) {
				r = -EBADMSG;
				goto fail;
			}
		}
	}
	free(format);
	*ret = res;
	return 0;
fail:
	free(format);
	hp_result_clear(&res);
	return r;
}

void hp_result_clear(hp_result *r)
{
	if (!r)
		return;
	free(r->error);
	free(r->doc.title);
	free(r->doc.markdown);
	free(r->doc.meta_json);
	/* The pool's callback may have stolen the chunks array (and NULLed it). */
	for (size_t i = 0; r->chunks && i < r->n_chunks; i++)
		chunk_clear(&r->chunks[i]);
	free(r->chunks);
	memset(r, 0, sizeof *r);
}
