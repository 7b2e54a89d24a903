/* fuzz_chunk.c — the Markdown chunker (include/hopper/chunk.h).
 *
 * The first byte sets the token budget (1..256), the rest is the Markdown,
 * cut at its first NUL: converters hand over C strings (convert.h: "All
 * strings NUL-terminated", markdown_len == strlen). Every chunk must
 * have a heading and non-empty content (the contract in chunk.h), a
 * token count that is its content's, and [start, end) inside the input,
 * in order. Each input runs three ways: plain; with the daemon's
 * minimum (small sections merge, a split section's last piece is topped
 * up); with minimum and overlap.
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
	const hp_chunk_opts runs[] = {
		{ .max_tokens = tokens },
		{ .max_tokens = tokens, .min_tokens = tokens / 4 },
		{ .max_tokens = tokens, .overlap = tokens / 4, .min_tokens = tokens / 4 },
	};
	for (size_t k = 0; k < sizeof runs / sizeof *runs; k++) {
		hp_chunk *chunks = NULL;
		size_t nc = 0;
		if (hp_chunk_markdown_opts(md, n, &runs[k], &chunks, &nc) < 0)
			continue;
		size_t prev_start = 0, prev_end = 0;
		for (size_t i = 0; i < nc; i++) {
			const hp_chunk *c = &chunks[i];
			assert(c->heading && c->content && c->content[0]);
			assert(c->tokens == hp_count_tokens(c->content, strlen(c->content)));
			assert(c->start < c->end && c->end <= n);
			assert(c->start >= prev_start && c->end > prev_end);
			if (!runs[k].overlap)
				assert(c->start >= prev_end);
			prev_start = c->start;
			prev_end = c->end;
		}
		hp_chunks_free(chunks, nc);
	}
	free(md);
	return 0;
}
