/* chunk.h — split Markdown into retrieval-ready chunks.
 *
 * What it does: splits along the Markdown structure. Sections run from one
 * ATX heading ("#".."######", not inside fenced code) to the next; a section
 * that does not fit is split at blocks (paragraphs, fenced code blocks,
 * tables), then a paragraph at sentences, then words, then characters. It
 * never cuts inside a UTF-8 sequence or a table row; a fenced code block is
 * cut only when it alone exceeds the limit, and then at blank lines, else at
 * lines, each piece fenced again with the block's own opening line (so the
 * language stays); a table over the limit is cut between rows and every
 * piece after the first starts with the table's header and delimiter rows.
 * Pieces of one section are balanced (a 520-token section gives two chunks
 * of ~260, not 512 + 8). Sections below min_tokens merge with their
 * neighbour under the same parent heading; a chunk's heading is then the
 * common parent path. The last piece of a split section that is still
 * below min_tokens takes whole words from the end of the piece before it
 * (same line of plain text only). A chunk below min_tokens inside a larger
 * section remains only where a heading cannot join its first block (a
 * paragraph or table row that fits max_tokens alone, but not with it).
 * Each chunk records its heading path ("Guide > Install > Debian"), the page
 * it starts on (from "<!-- page N -->" lines that paged converters emit),
 * and [start, end): the bytes of the input it covers. content is that slice,
 * except for overlap (the end of the previous chunk of the same section,
 * whole words, repeated at the start: start moves back accordingly) and the
 * re-fencing / repeated table header above (added text, not in the input).
 *
 * Tokens: hp_count_tokens() of include/hopper/tokens.h, an approximation
 * of OpenAI's cl100k_base BPE without a vocabulary.
 *
 * What it never does: allocate more than a small multiple of its input.
 * Process rules: pure; runs in workers, `hopper convert`, tests.
 */
#ifndef HOPPER_CHUNK_H
#define HOPPER_CHUNK_H

#include <stddef.h>

#include "hopper/tokens.h"

#define HP_CHUNK_DEFAULT_TOKENS 512
#define HP_CHUNK_DEFAULT_OVERLAP 0
#define HP_CHUNK_DEFAULT_MIN 32

typedef struct hp_chunk {
	char *heading;  /* heading path, "" when before the first heading; never NULL */
	char *content;  /* the chunk's Markdown (heading line included for the
	                   first chunk of a section); never NULL, never empty */
	int tokens;     /* hp_count_tokens(content) */
	int page;       /* page the chunk starts on, 1-based; 0 = not paged */
	size_t start;   /* byte offsets into the input Markdown: [start, end) */
	size_t end;
} hp_chunk;

typedef struct hp_chunk_opts {
	int max_tokens; /* >= 1 */
	int overlap;    /* tokens of the previous chunk repeated, whole words;
	                   0.. (larger values are cut to max_tokens / 2) */
	int min_tokens; /* sections below this merge with a neighbour; 0 = never */
} hp_chunk_opts;

/* Returns 0 and an array of *ret_n chunks (caller frees with
 * hp_chunks_free), empty (NULL, 0) for whitespace-only input; -EINVAL when
 * max_tokens < 1 or overlap/min_tokens < 0; -ENOMEM. Every chunk has
 * tokens <= max_tokens, except a chunk holding a single table row or a
 * single character that is larger on its own. */
int hp_chunk_markdown_opts(const char *md, size_t len, const hp_chunk_opts *opts,
                           hp_chunk **ret_chunks, size_t *ret_n);
/* The same with overlap 0 and no merging of small sections. */
int hp_chunk_markdown(const char *md, size_t len, int max_tokens,
                      hp_chunk **ret_chunks, size_t *ret_n);
void hp_chunks_free(hp_chunk *chunks, size_t n);

#endif
