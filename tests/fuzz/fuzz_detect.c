/* fuzz_detect.c — format detection and the whole conversion path.
 *
 * The bytes up to the first NUL (at most 64) are the file name, the rest is
 * the file: hp_detect() on both, then hp_convert() as a worker runs it
 * (detection by content and name, the converter, the output limit), with a
 * small output limit so the EFBIG paths run too. Covers every converter in
 * the table, including ones added later.
 */
#include <string.h>

#include "fuzz.h"
#include "hopper/chunk.h"
#include "hopper/convert.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return hp_convert_init() < 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size < 64 ? size : 64);
	char name[65] = "";
	size_t skip = 0;
	if (nul) {
		memcpy(name, data, (size_t)(nul - data));
		name[nul - data] = '\0';
		skip = (size_t)(nul - data) + 1;
	}
	const char *body = (const char *)data + skip;
	size_t len = size - skip;
	(void)hp_detect(nul ? name : NULL, body, len);
	hp_convert_limits lim = { .max_output = 1u << 20, .max_depth = 64 };
	hp_doc *doc = NULL;
	char err[512];
	if (hp_convert(nul ? name : NULL, body, len, &lim, &doc, err, sizeof err) == 0) {
		hp_chunk *chunks = NULL;
		size_t n = 0;
		if (hp_chunk_markdown(doc->markdown, doc->markdown_len, 64, &chunks, &n) == 0)
			hp_chunks_free(chunks, n);
		hp_doc_free(doc);
	}
	return 0;
}
