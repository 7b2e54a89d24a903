/* tokens.h — token counts for chunks (issue 18).
 *
 * What it does: hp_count_tokens() approximates the number of tokens OpenAI's
 * cl100k_base BPE gives a text, without its vocabulary: it follows the
 * pieces cl100k's pre-tokenizer cuts text into and prices each piece by
 * rules fitted on English text (lib/tokens.c lists them). It is an
 * approximation: tests/bench/tokens.sh measures it against the real
 * tokenizer (npm gpt-tokenizer), in total within a few per cent on English
 * prose and on the converted test corpus (README, "Chunks and search").
 * Properties the chunkers rely on: a whitespace run's cost depends only
 * on the run before it, a number's on the character before it (lib/tokens.c
 * says where a cut is additive); sub-additive for any cut outside a run of
 * letters other than between a blank and a number; at most one token per
 * character.
 * What it never does: allocate, or read past len (NULs are characters).
 * Process rules: pure, thread-safe (its tables are built before main).
 */
#ifndef HOPPER_TOKENS_H
#define HOPPER_TOKENS_H

#include <stddef.h>

/* Approximate cl100k_base token count of s[0..len). */
int hp_count_tokens(const char *s, size_t len);

/* Bytes of the UTF-8 sequence at s[i] (i < len): 1 to 4, and 1 for a byte
 * that does not start a valid sequence, so that a walk by this never
 * splits a valid sequence and never stalls on an invalid one. */
size_t hp_utf8_len(const char *s, size_t i, size_t len);

#endif
