/* test_frame.c — the worker wire format: round trips, and that hostile or
 * truncated bytes give errors, never out-of-bounds reads (run it under
 * SANITIZE=address: every decode below reads from an exactly-sized copy).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hopper/frame.h"

/* An exactly-sized heap copy, so ASan sees a read one byte too far. */
static void *dup_exact(const void *p, size_t n)
{
	void *c = malloc(n ? n : 1);
	assert_non_null(c);
	if (n)
		memcpy(c, p, n);
	return c;
}

/* Take the single frame in b apart: check the header, return the payload. */
static const uint8_t *frame_payload(const hp_buf *b, uint32_t want_type, uint32_t *ret_len)
{
	uint32_t type, len;
	assert_int_equal(hp_frame_header(b->data, b->len, 1u << 30, &type, &len), 0);
	assert_int_equal(type, want_type);
	assert_int_equal((size_t)len + HP_FRAME_HDR_LEN, b->len);
	*ret_len = len;
	return (const uint8_t *)b->data + HP_FRAME_HDR_LEN;
}

static void test_job_round_trip(void **state)
{
	static const char data[] = "# Title\n\nsome \0binary\xff bytes";
	hp_job_msg m = {
		.job_id = 0x1122334455667788ULL,
		.name = "report.md",
		.data = data,
		.len = sizeof data - 1,
		.chunk_tokens = 300,
		.chunk_overlap = 40,
		.chunk_min = 0,
		.have_chunk_min = true,
		.max_output = 5u << 20,
		.pdf_max_pages = 77,
		.pdf_page_ms = 2500,
		.ocr_languages = "eng deu",
		.zip_max_total = 3u << 30,
		.zip_max_ratio = 150,
		.zip_max_entries = 777,
		.max_sheet_rows = 12345,
		.ocr_max_pages = 20,
		.ocr_time_ms = 9000,
		.ocr_dpi = 150,
	};
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_job_msg_encode(&b, &m), 0);
	uint32_t len;
	const uint8_t *pl = frame_payload(&b, HP_FRAME_JOB, &len);
	void *copy = dup_exact(pl, len);
	hp_job_msg d;
	assert_int_equal(hp_job_msg_decode(copy, len, &d), 0);
	assert_true(d.job_id == m.job_id);
	assert_string_equal(d.name, "report.md");
	assert_int_equal(d.len, m.len);
	assert_memory_equal(d.data, data, m.len);
	assert_int_equal(d.chunk_tokens, 300);
	assert_int_equal(d.chunk_overlap, 40);
	assert_true(d.have_chunk_min);    /* 0 sent is 0, not "absent" */
	assert_int_equal(d.chunk_min, 0);
	assert_true(d.max_output == m.max_output);
	assert_int_equal(d.pdf_max_pages, 77);
	assert_true(d.pdf_page_ms == 2500);
	assert_string_equal(d.ocr_languages, "eng deu");
	assert_true(d.zip_max_total == 3ull << 30);
	assert_true(d.zip_max_ratio == 150 && d.zip_max_entries == 777 && d.max_sheet_rows == 12345);
	assert_true(d.ocr_max_pages == 20 && d.ocr_time_ms == 9000 && d.ocr_dpi == 150);
	free(copy);

	/* Without overlap and min: absent, decoded as 0 / not present. */
	hp_buf_reset(&b);
	m.chunk_overlap = 0;
	m.have_chunk_min = false;
	assert_int_equal(hp_job_msg_encode(&b, &m), 0);
	pl = frame_payload(&b, HP_FRAME_JOB, &len);
	assert_int_equal(hp_job_msg_decode(pl, len, &d), 0);
	assert_int_equal(d.chunk_overlap, 0);
	assert_false(d.have_chunk_min);

	/* No name: the field is omitted and decodes as NULL. */
	hp_buf_reset(&b);
	m.name = NULL;
	m.ocr_languages = NULL;
	m.len = 0;
	assert_int_equal(hp_job_msg_encode(&b, &m), 0);
	pl = frame_payload(&b, HP_FRAME_JOB, &len);
	assert_int_equal(hp_job_msg_decode(pl, len, &d), 0);
	assert_null(d.name);
	assert_null(d.ocr_languages);
	assert_int_equal(d.len, 0);
	hp_buf_free(&b);
}

static void make_result(hp_result *r, size_t n_chunks)
{
	memset(r, 0, sizeof *r);
	r->job_id = 42;
	r->status = 0;
	r->doc.format = HP_FMT_HTML;
	r->doc.title = (char *)"A title";
	r->doc.markdown = (char *)"# A title\n\nBody text.\n";
	r->doc.markdown_len = strlen(r->doc.markdown);
	r->doc.pages = 3;
	r->doc.meta_json = (char *)"{\"lang\":\"en\"}";
	r->chunks = calloc(n_chunks ? n_chunks : 1, sizeof *r->chunks);
	assert_non_null(r->chunks);
	r->n_chunks = n_chunks;
	for (size_t i = 0; i < n_chunks; i++) {
		r->chunks[i].heading = i ? (char *)"A title > Part" : (char *)"";
		r->chunks[i].content = (char *)"Body text.";
		r->chunks[i].tokens = (int)(i + 2);
		r->chunks[i].page = (int)i;          /* 0: not paged, field omitted */
		r->chunks[i].start = i % 5;          /* inside the 22 bytes of Markdown */
		r->chunks[i].end = i % 5 + 10;
	}
}

static void test_result_round_trip(void **state)
{
	hp_result r;
	make_result(&r, 3);
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_result_encode(&b, &r), 0);
	uint32_t len;
	const uint8_t *pl = frame_payload(&b, HP_FRAME_RESULT, &len);
	void *copy = dup_exact(pl, len);
	hp_result d;
	assert_int_equal(hp_result_decode(copy, len, 100, &d), 0);
	/* Everything is copied: the payload can go. */
	memset(copy, 0xAA, len);
	free(copy);
	hp_buf_free(&b);

	assert_true(d.job_id == 42);
	assert_int_equal(d.status, 0);
	assert_null(d.error);
	assert_int_equal(d.doc.format, HP_FMT_HTML);
	assert_string_equal(d.doc.title, "A title");
	assert_string_equal(d.doc.markdown, r.doc.markdown);
	assert_int_equal(d.doc.markdown_len, r.doc.markdown_len);
	assert_int_equal(d.doc.pages, 3);
	assert_string_equal(d.doc.meta_json, "{\"lang\":\"en\"}");
	assert_int_equal(d.n_chunks, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(d.chunks[i].heading, r.chunks[i].heading);
		assert_string_equal(d.chunks[i].content, "Body text.");
		assert_int_equal(d.chunks[i].tokens, (int)(i + 2));
		assert_int_equal(d.chunks[i].page, (int)i);
		assert_int_equal(d.chunks[i].start, i % 5);
		assert_int_equal(d.chunks[i].end, i % 5 + 10);
	}
	hp_result_clear(&d);
	assert_null(d.chunks);
	free(r.chunks);
}

static void test_result_no_title_no_chunks(void **state)
{
	hp_result r;
	make_result(&r, 0);
	r.doc.title = NULL;
	r.doc.meta_json = NULL;
	r.doc.format = HP_FMT_TEXT;
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_result_encode(&b, &r), 0);
	uint32_t len;
	const uint8_t *pl = frame_payload(&b, HP_FRAME_RESULT, &len);
	hp_result d;
	assert_int_equal(hp_result_decode(pl, len, 10, &d), 0);
	assert_null(d.doc.title);
	assert_null(d.doc.meta_json);
	assert_int_equal(d.doc.format, HP_FMT_TEXT);
	assert_int_equal(d.n_chunks, 0);
	hp_result_clear(&d);
	hp_buf_free(&b);
	free(r.chunks);
}

static void test_result_error(void **state)
{
	hp_result r = { .job_id = 7, .status = ENOTSUP, .error = (char *)"unrecognised format" };
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_result_encode(&b, &r), 0);
	uint32_t len;
	const uint8_t *pl = frame_payload(&b, HP_FRAME_RESULT, &len);
	hp_result d;
	assert_int_equal(hp_result_decode(pl, len, 10, &d), 0);
	assert_true(d.job_id == 7);
	assert_int_equal(d.status, ENOTSUP);
	assert_string_equal(d.error, "unrecognised format");
	assert_null(d.doc.markdown);
	assert_int_equal(d.n_chunks, 0);
	hp_result_clear(&d);
	hp_buf_free(&b);
}

static void test_unknown_tags_skipped(void **state)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	long start = hp_frame_begin(&b, HP_FRAME_RESULT);
	assert_true(start >= 0);
	assert_int_equal(hp_frame_put(&b, 999, "future stage", 12), 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 5), 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_STATUS, 0), 0);
	assert_int_equal(hp_frame_put_str(&b, HP_TAG_FORMAT, "markdown"), 0);
	assert_int_equal(hp_frame_put(&b, 1000, NULL, 0), 0);
	assert_int_equal(hp_frame_put_str(&b, HP_TAG_MARKDOWN, "hi"), 0);
	/* A chunk with an unknown nested field, built by hand. */
	hp_buf inner;
	hp_buf_init(&inner, 0);
	assert_int_equal(hp_frame_put(&inner, 4242, "x", 1), 0);
	assert_int_equal(hp_frame_put_str(&inner, HP_TAG_CHUNK_CONTENT, "hi"), 0);
	assert_int_equal(hp_frame_put(&b, HP_TAG_CHUNK, inner.data, inner.len), 0);
	hp_buf_free(&inner);
	assert_int_equal(hp_frame_end(&b, start), 0);

	uint32_t len;
	const uint8_t *pl = frame_payload(&b, HP_FRAME_RESULT, &len);
	void *copy = dup_exact(pl, len);
	hp_result d;
	assert_int_equal(hp_result_decode(copy, len, 10, &d), 0);
	assert_int_equal(d.doc.format, HP_FMT_MARKDOWN);
	assert_string_equal(d.doc.markdown, "hi");
	assert_int_equal(d.n_chunks, 1);
	assert_string_equal(d.chunks[0].heading, ""); /* absent -> "" (never NULL) */
	assert_string_equal(d.chunks[0].content, "hi");
	hp_result_clear(&d);
	free(copy);
	hp_buf_free(&b);
}

/* Truncating a payload anywhere must give -EBADMSG, except exactly at a
 * top-level field boundary, where a shorter but well-formed message may
 * remain (then it must decode to a prefix of the original). */
static void test_truncated_everywhere(void **state)
{
	hp_result r;
	make_result(&r, 4);
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_result_encode(&b, &r), 0);
	uint32_t len;
	const uint8_t *pl = frame_payload(&b, HP_FRAME_RESULT, &len);

	bool *boundary = calloc(len + 1, sizeof *boundary);
	assert_non_null(boundary);
	hp_field_iter it;
	hp_field_iter_init(&it, pl, len);
	uint16_t tag;
	const void *val;
	uint32_t vlen;
	boundary[0] = true;
	while (hp_field_next(&it, &tag, &val, &vlen) == 1)
		boundary[len - it.n] = true;
	assert_true(boundary[len]);

	size_t ok = 0;
	for (size_t k = 0; k < len; k++) {
		void *copy = dup_exact(pl, k);
		hp_result d;
		int e = hp_result_decode(copy, k, 100, &d);
		if (!boundary[k]) {
			assert_int_equal(e, -EBADMSG);
		} else if (e == 0) {
			ok++;
			assert_true(d.n_chunks < 4);
			assert_string_equal(d.doc.markdown, r.doc.markdown);
			hp_result_clear(&d);
		} else {
			assert_int_equal(e, -EBADMSG); /* a required field is missing */
		}
		free(copy);
	}
	assert_true(ok >= 1); /* cut just before each chunk: fewer chunks, still valid */

	/* Headers: fewer than 8 bytes is "need more", never a guess. */
	for (size_t k = 0; k < HP_FRAME_HDR_LEN; k++) {
		uint32_t t, l;
		void *copy = dup_exact(b.data, k);
		assert_int_equal(hp_frame_header(copy, k, 1u << 30, &t, &l), -EAGAIN);
		free(copy);
	}

	/* The same for a job: truncated anywhere but a boundary fails. */
	hp_job_msg m = { .job_id = 1, .name = "a.txt", .data = "hello", .len = 5, .chunk_tokens = 10 };
	hp_buf jb;
	hp_buf_init(&jb, 0);
	assert_int_equal(hp_job_msg_encode(&jb, &m), 0);
	uint32_t jlen;
	const uint8_t *jp = frame_payload(&jb, HP_FRAME_JOB, &jlen);
	for (size_t k = 0; k < jlen; k++) {
		void *copy = dup_exact(jp, k);
		hp_job_msg d;
		/* DATA is the last field, so every proper prefix lacks it. */
		assert_int_equal(hp_job_msg_decode(copy, k, &d), -EBADMSG);
		free(copy);
	}
	hp_buf_free(&jb);
	free(boundary);
	hp_buf_free(&b);
	free(r.chunks);
}

static void test_header_limits(void **state)
{
	uint32_t hdr[2] = { HP_FRAME_RESULT, 1000 };
	uint32_t t = 0, l = 0;
	assert_int_equal(hp_frame_header(hdr, sizeof hdr, 999, &t, &l), -EMSGSIZE);
	assert_int_equal(t, 0); /* out-params untouched on failure */
	assert_int_equal(hp_frame_header(hdr, sizeof hdr, 1000, &t, &l), 0);
	assert_int_equal(t, HP_FRAME_RESULT);
	assert_int_equal(l, 1000);
	hdr[1] = UINT32_MAX;
	assert_int_equal(hp_frame_header(hdr, sizeof hdr, 1u << 30, &t, &l), -EMSGSIZE);
	hdr[0] = 77;
	hdr[1] = 4;
	assert_int_equal(hp_frame_header(hdr, sizeof hdr, 1u << 30, &t, &l), -EBADMSG);
}

/* A payload of one hand-made field followed by the fields a RESULT needs. */
static int decode_with(uint16_t tag, const void *v, size_t n, hp_result *d)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 1), 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_STATUS, 0), 0);
	assert_int_equal(hp_frame_put_str(&b, HP_TAG_FORMAT, "text"), 0);
	assert_int_equal(hp_frame_put_str(&b, HP_TAG_MARKDOWN, "x"), 0);
	assert_int_equal(hp_frame_put(&b, tag, v, n), 0);
	void *copy = dup_exact(b.data, b.len);
	int e = hp_result_decode(copy, b.len, 10, d);
	free(copy);
	hp_buf_free(&b);
	return e;
}

static void test_bad_strings_and_numbers(void **state)
{
	hp_result d;
	/* Control: a good title decodes. */
	assert_int_equal(decode_with(HP_TAG_TITLE, "ok", 3, &d), 0);
	assert_string_equal(d.doc.title, "ok");
	hp_result_clear(&d);
	/* No NUL at the end. */
	assert_int_equal(decode_with(HP_TAG_TITLE, "abc", 3, &d), -EBADMSG);
	/* NUL inside. */
	assert_int_equal(decode_with(HP_TAG_TITLE, "a\0c", 4, &d), -EBADMSG);
	/* Empty value: not even the NUL. */
	assert_int_equal(decode_with(HP_TAG_TITLE, "", 0, &d), -EBADMSG);
	/* Repeated string field (MARKDOWN is already there). */
	assert_int_equal(decode_with(HP_TAG_MARKDOWN, "y", 2, &d), -EBADMSG);
	/* Integers are exactly 8 bytes. */
	assert_int_equal(decode_with(HP_TAG_PAGES, "\1\0\0\0", 4, &d), -EBADMSG);
	uint64_t big = (uint64_t)1 << 40;
	assert_int_equal(decode_with(HP_TAG_PAGES, &big, 8, &d), -EBADMSG);
	/* A chunk without content. */
	hp_buf in;
	hp_buf_init(&in, 0);
	assert_int_equal(hp_frame_put_str(&in, HP_TAG_CHUNK_HEADING, "h"), 0);
	assert_int_equal(decode_with(HP_TAG_CHUNK, in.data, in.len, &d), -EBADMSG);
	/* A chunk whose nested field runs past the chunk. */
	hp_buf_reset(&in);
	assert_int_equal(hp_frame_put_str(&in, HP_TAG_CHUNK_CONTENT, "hello"), 0);
	assert_int_equal(decode_with(HP_TAG_CHUNK, in.data, in.len - 1, &d), -EBADMSG);
	/* Offsets: start after end, end past the Markdown, a page over INT_MAX. */
	uint64_t v;
	hp_buf_reset(&in);
	assert_int_equal(hp_frame_put_str(&in, HP_TAG_CHUNK_CONTENT, "x"), 0);
	assert_int_equal(hp_frame_put_u64(&in, HP_TAG_CHUNK_START, 5), 0);
	assert_int_equal(hp_frame_put_u64(&in, HP_TAG_CHUNK_END, 4), 0);
	assert_int_equal(decode_with(HP_TAG_CHUNK, in.data, in.len, &d), -EBADMSG);
	hp_buf_reset(&in);
	assert_int_equal(hp_frame_put_str(&in, HP_TAG_CHUNK_CONTENT, "x"), 0);
	assert_int_equal(hp_frame_put_u64(&in, HP_TAG_CHUNK_END, 1000), 0);
	assert_int_equal(decode_with(HP_TAG_CHUNK, in.data, in.len, &d), -EBADMSG);
	hp_buf_reset(&in);
	assert_int_equal(hp_frame_put_str(&in, HP_TAG_CHUNK_CONTENT, "x"), 0);
	v = (uint64_t)1 << 40;
	assert_int_equal(hp_frame_put(&in, HP_TAG_CHUNK_PAGE, &v, 8), 0);
	assert_int_equal(decode_with(HP_TAG_CHUNK, in.data, in.len, &d), -EBADMSG);
	/* within the Markdown: fine */
	hp_buf_reset(&in);
	assert_int_equal(hp_frame_put_str(&in, HP_TAG_CHUNK_CONTENT, "x"), 0);
	assert_int_equal(hp_frame_put_u64(&in, HP_TAG_CHUNK_END, 1), 0);
	assert_int_equal(decode_with(HP_TAG_CHUNK, in.data, in.len, &d), 0);
	hp_result_clear(&d);
	hp_buf_free(&in);
	/* Unknown format name on success. */
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 1), 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_STATUS, 0), 0);
	assert_int_equal(hp_frame_put_str(&b, HP_TAG_FORMAT, "exe"), 0);
	assert_int_equal(hp_frame_put_str(&b, HP_TAG_MARKDOWN, "x"), 0);
	assert_int_equal(hp_result_decode(b.data, b.len, 10, &d), -EBADMSG);
	/* Success without Markdown. */
	hp_buf_reset(&b);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 1), 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_STATUS, 0), 0);
	assert_int_equal(hp_frame_put_str(&b, HP_TAG_FORMAT, "text"), 0);
	assert_int_equal(hp_result_decode(b.data, b.len, 10, &d), -EBADMSG);
	/* A field header claiming more bytes than are left. */
	hp_buf_reset(&b);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 1), 0);
	uint32_t huge = 0xFFFFFFF0u;
	memcpy(b.data + 4, &huge, 4);
	assert_int_equal(hp_result_decode(b.data, b.len, 10, &d), -EBADMSG);
	/* The reserved half-word must be zero. */
	hp_buf_reset(&b);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 1), 0);
	b.data[2] = 1;
	hp_job_msg jm;
	assert_int_equal(hp_job_msg_decode(b.data, b.len, &jm), -EBADMSG);
	hp_buf_free(&b);
}

static void test_job_required_fields(void **state)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	hp_job_msg d;
	/* Data without a job id. */
	assert_int_equal(hp_frame_put(&b, HP_TAG_DATA, "abc", 3), 0);
	assert_int_equal(hp_job_msg_decode(b.data, b.len, &d), -EBADMSG);
	/* With the id it decodes... */
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 9), 0);
	assert_int_equal(hp_job_msg_decode(b.data, b.len, &d), 0);
	assert_true(d.job_id == 9);
	assert_int_equal(d.chunk_tokens, 0);
	/* ...but not with the id twice, nor a token count over 32 bits. */
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 10), 0);
	assert_int_equal(hp_job_msg_decode(b.data, b.len, &d), -EBADMSG);
	hp_buf_reset(&b);
	assert_int_equal(hp_frame_put(&b, HP_TAG_DATA, "abc", 3), 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 9), 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_CHUNK_TOKENS, (uint64_t)1 << 33), 0);
	assert_int_equal(hp_job_msg_decode(b.data, b.len, &d), -EBADMSG);
	/* A name without its NUL. */
	hp_buf_reset(&b);
	assert_int_equal(hp_frame_put(&b, HP_TAG_DATA, "abc", 3), 0);
	assert_int_equal(hp_frame_put_u64(&b, HP_TAG_JOB_ID, 9), 0);
	assert_int_equal(hp_frame_put(&b, HP_TAG_NAME, "a.txt", 5), 0);
	assert_int_equal(hp_job_msg_decode(b.data, b.len, &d), -EBADMSG);
	hp_buf_free(&b);
}

static void test_too_many_chunks(void **state)
{
	hp_result r;
	make_result(&r, 50);
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_result_encode(&b, &r), 0);
	uint32_t len;
	const uint8_t *pl = frame_payload(&b, HP_FRAME_RESULT, &len);
	hp_result d;
	assert_int_equal(hp_result_decode(pl, len, 49, &d), -EBADMSG);
	assert_int_equal(hp_result_decode(pl, len, 0, &d), -EBADMSG);
	assert_int_equal(hp_result_decode(pl, len, 50, &d), 0);
	assert_int_equal(d.n_chunks, 50);
	hp_result_clear(&d);
	hp_buf_free(&b);
	free(r.chunks);
}

static void test_encode_over_limit_leaves_buffer(void **state)
{
	hp_buf b;
	hp_buf_init(&b, 64);
	assert_int_equal(hp_buf_addstr(&b, "prefix"), 0);
	char big[100];
	memset(big, 'x', sizeof big);
	hp_job_msg m = { .job_id = 1, .data = big, .len = sizeof big };
	assert_int_equal(hp_job_msg_encode(&b, &m), -EFBIG);
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "prefix");
	hp_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_round_trip),
		cmocka_unit_test(test_result_round_trip),
		cmocka_unit_test(test_result_no_title_no_chunks),
		cmocka_unit_test(test_result_error),
		cmocka_unit_test(test_unknown_tags_skipped),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_header_limits),
		cmocka_unit_test(test_bad_strings_and_numbers),
		cmocka_unit_test(test_job_required_fields),
		cmocka_unit_test(test_too_many_chunks),
		cmocka_unit_test(test_encode_over_limit_leaves_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
