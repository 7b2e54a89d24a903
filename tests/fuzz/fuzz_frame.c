/* fuzz_frame.c — the frame decoders, both directions (include/hopper/frame.h).
 *
 * The first byte picks the direction: even, the bytes are a RESULT payload
 * (what the supervisor reads from a possibly exploited worker); odd, a JOB
 * payload (what a worker reads). A header check runs on the same bytes.
 * A RESULT that decodes is encoded again and decoded again: the second
 * decode must succeed and give the same fields (the document and chunks
 * for a success, the error sentence for a failure: the encoder writes
 * only those).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hopper/frame.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void result_roundtrip(const uint8_t *p, size_t n)
{
	hp_result r;
	if (hp_result_decode(p, n, 64, &r) < 0)
		return;
	hp_buf b;
	hp_buf_init(&b, 0);
	if (hp_result_encode(&b, &r) == 0) {
		uint32_t type, len;
		assert(hp_frame_header(b.data, b.len, b.len, &type, &len) == 0);
		assert(type == HP_FRAME_RESULT && len == b.len - HP_FRAME_HDR_LEN);
		hp_result r2;
		assert(hp_result_decode(b.data + HP_FRAME_HDR_LEN, len, 64, &r2) == 0);
		assert(r2.job_id == r.job_id && r2.status == r.status);
		if (r.status == 0) {
			assert(r2.n_chunks == r.n_chunks);
			assert(same_str(r2.doc.markdown, r.doc.markdown) && same_str(r2.doc.title, r.doc.title));
			for (size_t i = 0; i < r.n_chunks; i++)
				assert(same_str(r2.chunks[i].content, r.chunks[i].content) &&
				       same_str(r2.chunks[i].heading, r.chunks[i].heading));
		} else {
			assert(same_str(r2.error, r.error));
		}
		hp_result_clear(&r2);
	}
	hp_buf_free(&b);
	hp_result_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t type, len;
	(void)hp_frame_header(data + 1, size - 1, 1u << 20, &type, &len);
	/* An exact-size copy of the payload, so any over-read is caught. */
	size_t n = size - 1;
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		return 0;
	memcpy(p, data + 1, n);
	if (data[0] & 1) {
		hp_job_msg m;
		if (hp_job_msg_decode(p, n, &m) == 0) {
			/* Every borrowed pointer lies inside the payload. */
			assert(!m.data || ((const uint8_t *)m.data >= p && (const uint8_t *)m.data + m.len <= p + n));
			if (m.name)
				assert(strlen(m.name) < n);
		}
	} else {
		result_roundtrip(p, n);
	}
	free(p);
	return 0;
}
