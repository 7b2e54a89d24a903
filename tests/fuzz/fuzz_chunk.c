/* fuzz_chunk.c — the Markdown chunker (include/hopper/chunk.h).
 *
 * The first byte sets the token budget (1..256), the rest is the Markdown,
 * cut at its first NUL: converters hand over C strings (convert.h: "All
 * strings NUL-terminated", markdown_len == strlen). Every chunk must
 * have a heading and non-empty content (the contract in chunk.h).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hopper/chunk.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int tokens = data[0] + 1;
	size_t n = size - 1;
	char *md = malloc(n + 1);
	if (!md)
		return 0;
	memcpy(md, data + 1, n);
	md[n] = '\0';
	n = strlen(md);
	hp_chunk *chunks = NULL;
	size_t nc = 0;
	if (hp_chunk_markdown(md, n, tokens, &chunks, &nc) == 0) {
		for (size_t i = 0; i < nc; i++)
			assert(chunks[i].heading && chunks[i].content && chunks[i].content[0]);
		hp_chunks_free(chunks, nc);
	}
	free(md);
	return 0;
}
