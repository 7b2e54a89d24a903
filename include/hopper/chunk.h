/* chunk.h — split Markdown into retrieval-ready chunks.
 *
 * What it does: splits at ATX headings ("#".."######", not inside fenced
 * code blocks), keeps the heading path ("Guide > Install > Debian") per
 * chunk, and splits sections longer than max_tokens at paragraph (then
 * line, then word) boundaries. Tokens are approximated as whitespace-
 * separated words (a later issue refines this).
 * What it never does: allocate more than a small multiple of its input.
 * Process rules: pure; runs in workers and tests.
 */
#ifndef HOPPER_CHUNK_H
#define HOPPER_CHUNK_H

#include <stddef.h>

typedef struct hp_chunk {
	char *heading;  /* heading path, "" when before the first heading; never NULL */
	char *content;  /* the chunk's Markdown (heading line included for the
	                   first chunk of a section); never NULL, never empty */
	int tokens;     /* approximate token count of content */
} hp_chunk;

/* Returns 0 and an array of *ret_n chunks (caller frees with
 * hp_chunks_free), empty (NULL, 0) for whitespace-only input; -EINVAL when
 * max_tokens < 1; -ENOMEM. Every chunk has tokens <= max_tokens, except that
 * a single word is never split. */
int hp_chunk_markdown(const char *md, size_t len, int max_tokens,
                      hp_chunk **ret_chunks, size_t *ret_n);
void hp_chunks_free(hp_chunk *chunks, size_t n);

/* Count tokens as the chunker does. */
int hp_count_tokens(const char *s, size_t len);

#endif
