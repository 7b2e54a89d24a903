/* frame.h — the supervisor <-> worker wire format.
 *
 * What it does: length-prefixed frames over a socketpair. A frame is an
 * 8-byte header {uint32 type; uint32 len} (host byte order: both ends are
 * the same binary on the same machine) followed by `len` bytes of payload.
 * The payload is a sequence of fields {uint16 tag; uint16 zero; uint32 len;
 * bytes}. Unknown tags are skipped, so later stages (OCR, embeddings) add
 * tags without breaking older readers. Strings are sent with their NUL and
 * the decoder checks that the last byte is NUL.
 * Every length is checked against a limit before anything is read or
 * allocated (OpenBSD imsg habit).
 * What it never does: I/O. Callers move bytes; this module encodes/decodes.
 */
#ifndef HOPPER_FRAME_H
#define HOPPER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hopper/chunk.h"
#include "hopper/common.h"
#include "hopper/convert.h"

#define HP_FRAME_HDR_LEN 8u
#define HP_FIELD_HDR_LEN 8u

enum hp_frame_type {
	HP_FRAME_JOB = 1,    /* supervisor -> worker: convert this */
	HP_FRAME_RESULT = 2, /* worker -> supervisor: the outcome */
};

enum hp_tag {
	/* job */
	HP_TAG_JOB_ID = 1,       /* u64 */
	HP_TAG_NAME = 2,         /* string: base name of the file */
	HP_TAG_DATA = 3,         /* bytes: the whole file */
	HP_TAG_CHUNK_TOKENS = 4, /* u64 */
	HP_TAG_MAX_OUTPUT = 5,   /* u64 */
	HP_TAG_OCR_LANGUAGES = 6, /* string: Tesseract languages, "eng deu" */
	HP_TAG_CHUNK_OVERLAP = 7, /* u64: chunk_overlap (absent: 0) */
	HP_TAG_CHUNK_MIN = 8,    /* u64: chunk_min_tokens (absent: 0, no merging) */
	HP_TAG_DATA_MEMFD = 9,   /* u64: the file's length; its bytes (and a NUL
	                            after them) are in a sealed memfd passed with
	                            SCM_RIGHTS on the frame's first byte */
	HP_TAG_ZIP_MAX_TOTAL = 10,  /* u64, 0 = default */
	HP_TAG_ZIP_MAX_RATIO = 11,  /* u64 */
	HP_TAG_ZIP_MAX_ENTRIES = 12, /* u64 */
	HP_TAG_MAX_SHEET_ROWS = 13,  /* u64 */
	HP_TAG_PDF_MAX_PAGES = 14, /* u64: 0 = the worker's default */
	HP_TAG_PDF_PAGE_MS = 15, /* u64: 0 = the worker's default */
	/* result */
	HP_TAG_STATUS = 16,      /* u64: 0 ok, else errno (positive) */
	HP_TAG_ERROR = 17,       /* string */
	HP_TAG_FORMAT = 18,      /* string: hp_format_name() */
	HP_TAG_TITLE = 19,       /* string */
	HP_TAG_MARKDOWN = 20,    /* string */
	HP_TAG_PAGES = 21,       /* u64 */
	HP_TAG_META = 22,        /* string: JSON object */
	HP_TAG_CHUNK = 23,       /* nested fields: HEADING, CONTENT, TOKENS */
	HP_TAG_CHUNK_HEADING = 24, /* string */
	HP_TAG_CHUNK_CONTENT = 25, /* string */
	HP_TAG_CHUNK_TOKENS_N = 26, /* u64 */
	HP_TAG_CHUNK_PAGE = 27,  /* u64: page the chunk starts on; absent = 0 (not paged) */
	HP_TAG_CHUNK_START = 28, /* u64: byte offsets into the Markdown; START <= END <= */
	HP_TAG_CHUNK_END = 29,   /* u64:   the Markdown's length (checked by the decoder) */
	HP_TAG_OCR_MAX_PAGES = 30, /* u64: 0 = the worker's default */
	HP_TAG_OCR_TIME_MS = 31,   /* u64: 0 = the worker's default */
	HP_TAG_OCR_DPI = 32,       /* u64: 0 = the worker's default (300) */
};

/* ---- low level -------------------------------------------------------- */
/* Start a frame at the end of b (reserves the header); returns the offset
 * to pass to hp_frame_end, or -errno. */
long hp_frame_begin(hp_buf *b, uint32_t type);
int hp_frame_end(hp_buf *b, long start);  /* fills in the length */
int hp_frame_put(hp_buf *b, uint16_t tag, const void *p, size_t n);
int hp_frame_put_str(hp_buf *b, uint16_t tag, const char *s); /* s may be NULL: field omitted */
int hp_frame_put_u64(hp_buf *b, uint16_t tag, uint64_t v);

/* Parse a header from the first n bytes at p.
 * 0: *ret_type and *ret_len set (len <= max_len, type known).
 * -EAGAIN: fewer than 8 bytes; -EMSGSIZE: len > max_len; -EBADMSG: unknown type. */
int hp_frame_header(const void *p, size_t n, size_t max_len,
                    uint32_t *ret_type, uint32_t *ret_len);

typedef struct hp_field_iter {
	const uint8_t *p;
	size_t n;
} hp_field_iter;
void hp_field_iter_init(hp_field_iter *it, const void *payload, size_t n);
/* 1: next field returned (value borrowed from the payload); 0: end;
 * -EBADMSG: a field header or value runs past the end. */
int hp_field_next(hp_field_iter *it, uint16_t *ret_tag, const void **ret_val, uint32_t *ret_len);

/* ---- messages ---------------------------------------------------------- */
typedef struct hp_job_msg {
	uint64_t job_id;
	const char *name;    /* borrowed */
	const void *data;    /* borrowed; NULL when in_memfd (decoded) */
	size_t len;
	bool in_memfd;       /* the bytes travel in a memfd (HP_TAG_DATA_MEMFD);
	                        encode writes only the length */
	uint32_t chunk_tokens;
	uint32_t chunk_overlap;
	uint32_t chunk_min;     /* sent as is; see HP_TAG_CHUNK_MIN for absent */
	bool have_chunk_min;    /* decode: the field was present */
	uint64_t max_output;
	uint32_t pdf_max_pages;  /* 0 = default */
	uint64_t pdf_page_ms;    /* 0 = default */
	const char *ocr_languages; /* borrowed; NULL: the worker's default */
	/* converter limits (hp_convert_limits); 0 = the converter's default */
	uint64_t zip_max_total, zip_max_ratio, zip_max_entries, max_sheet_rows;
	uint64_t ocr_max_pages, ocr_time_ms;
	uint64_t ocr_dpi;
} hp_job_msg;

/* Append one whole JOB frame to b. */
int hp_job_msg_encode(hp_buf *b, const hp_job_msg *m);
/* Decode a JOB payload; pointers in *ret borrow from payload. -EBADMSG when
 * a required field (job id, data) is missing or malformed. */
int hp_job_msg_decode(const void *payload, size_t n, hp_job_msg *ret);

typedef struct hp_result {
	uint64_t job_id;
	int status;         /* 0 ok, else a positive errno from hp_convert */
	char *error;        /* human sentence when status != 0 */
	hp_doc doc;         /* valid when status == 0 */
	hp_chunk *chunks;
	size_t n_chunks;
} hp_result;

/* Append one whole RESULT frame to b. */
int hp_result_encode(hp_buf *b, const hp_result *r);
/* Decode a RESULT payload into *ret (all strings copied; free with
 * hp_result_clear). At most max_chunks chunks. -EBADMSG on malformed input. */
int hp_result_decode(const void *payload, size_t n, size_t max_chunks, hp_result *ret);
void hp_result_clear(hp_result *r);

#endif
