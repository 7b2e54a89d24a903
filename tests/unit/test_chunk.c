/* test_chunk.c — the Markdown chunker: heading paths, splitting at
 * paragraphs/lines/words, fenced code, limits and edge cases. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hopper/chunk.h"
#include "hopper/common.h"

static hp_chunk *chunks;
static size_t nchunks;

static void chunk(const char *md, int max)
{
	hp_chunks_free(chunks, nchunks);
	chunks = NULL;
	nchunks = 0;
	assert_int_equal(hp_chunk_markdown(md, strlen(md), max, &chunks, &nchunks), 0);
}

/* Properties every result must have. */
static void check_invariants(int max)
{
	for (size_t i = 0; i < nchunks; i++) {
		assert_non_null(chunks[i].heading);
		assert_non_null(chunks[i].content);
		assert_true(hp_count_tokens(chunks[i].content, strlen(chunks[i].content)) > 0);
		assert_int_equal(chunks[i].tokens,
		                 hp_count_tokens(chunks[i].content, strlen(chunks[i].content)));
		assert_true(chunks[i].tokens <= max);
	}
}

static int total_tokens(void)
{
	int t = 0;
	for (size_t i = 0; i < nchunks; i++)
		t += chunks[i].tokens;
	return t;
}

static int teardown(void **state)
{
	hp_chunks_free(chunks, nchunks);
	chunks = NULL;
	nchunks = 0;
	return 0;
}

static void test_count_tokens(void **state)
{
	assert_int_equal(hp_count_tokens("", 0), 0);
	assert_int_equal(hp_count_tokens("  \n\t ", 5), 0);
	assert_int_equal(hp_count_tokens("one", 3), 1);
	assert_int_equal(hp_count_tokens(" a  b\nc\td ", 10), 4);
	/* len is honoured, not the NUL */
	assert_int_equal(hp_count_tokens("a b c", 3), 2);
}

static void test_heading_paths(void **state)
{
	const char *md = "intro text\n\n# Guide\n\nabout\n\n## Install\n\nsteps\n\n### Debian  ##\n\napt\n\n"
	                 "## Use\n\nrun it\n\n# Other\n\nend\n";
	chunk(md, 100);
	check_invariants(100);
	assert_int_equal(nchunks, 6);
	assert_string_equal(chunks[0].heading, "");
	assert_string_equal(chunks[0].content, "intro text");
	assert_string_equal(chunks[1].heading, "Guide");
	assert_string_equal(chunks[1].content, "# Guide\n\nabout");
	assert_string_equal(chunks[2].heading, "Guide > Install");
	assert_string_equal(chunks[3].heading, "Guide > Install > Debian");
	assert_string_equal(chunks[3].content, "### Debian  ##\n\napt");
	assert_string_equal(chunks[4].heading, "Guide > Use");
	assert_string_equal(chunks[5].heading, "Other");
	assert_int_equal(chunks[5].tokens, 3);

	/* a skipped level: the path has only the levels present */
	chunk("### Deep\n\nx\n\n# Top\n\n### Again\n\ny\n", 100);
	assert_int_equal(nchunks, 3);
	assert_string_equal(chunks[0].heading, "Deep");
	assert_string_equal(chunks[2].heading, "Top > Again");

	/* not headings: no space after #, 7 #s, indented 4 spaces */
	chunk("#hashtag\n\n####### seven\n\n    # code\n", 100);
	assert_int_equal(nchunks, 1);
	assert_string_equal(chunks[0].heading, "");
}

static void test_code_fences(void **state)
{
	const char *md = "# A\n\n```sh\n# not a heading\n\nstill code\n```\n\n~~~\n## nor this\n~~~\n\n## B\n\nb\n";
	chunk(md, 100);
	check_invariants(100);
	assert_int_equal(nchunks, 2);
	assert_string_equal(chunks[0].heading, "A");
	assert_non_null(strstr(chunks[0].content, "# not a heading\n\nstill code"));
	assert_string_equal(chunks[1].heading, "A > B");

	/* A section over the limit: the code block (7 tokens with its fences,
	 * has a blank line) stays whole though paragraphs are split around it. */
	md = "para one has five words\n\n```\ncode a b\n\ncode c\n```\n\npara two has five words";
	chunk(md, 7);
	check_invariants(7);
	assert_int_equal(nchunks, 3);
	assert_string_equal(chunks[1].content, "```\ncode a b\n\ncode c\n```");

	/* A block bigger than the limit alone is split (lines first). */
	md = "```\nl1 a b\nl2 c d\nl3 e f\n```\n";
	chunk(md, 4);
	check_invariants(4);
	assert_int_equal(total_tokens(), 11);
	assert_true(nchunks >= 3);
	assert_string_equal(chunks[1].content, "l2 c d");
}

static void test_split_paragraphs_lines_words(void **state)
{
	/* paragraphs packed greedily */
	chunk("# T\n\na b c\n\nd e\n\nf g h i\n", 6);
	check_invariants(6);
	assert_int_equal(nchunks, 2);
	assert_string_equal(chunks[0].content, "# T\n\na b c");   /* 5 tokens; + "d e" = 7 */
	assert_string_equal(chunks[0].heading, "T");
	assert_string_equal(chunks[1].content, "d e\n\nf g h i");
	assert_string_equal(chunks[1].heading, "T");

	/* a paragraph over the limit: split at lines, a line over it at words */
	chunk("l1 a\nl2\nl3 b c d\n", 3);
	check_invariants(3);
	assert_int_equal(nchunks, 3);
	assert_string_equal(chunks[0].content, "l1 a\nl2");
	assert_string_equal(chunks[1].content, "l3 b c");
	assert_string_equal(chunks[2].content, "d");

	/* a line over the limit: split at words, original spacing kept */
	chunk("w1 w2  w3 w4 w5\n", 2);
	check_invariants(2);
	assert_int_equal(nchunks, 3);
	assert_string_equal(chunks[0].content, "w1 w2");
	assert_string_equal(chunks[1].content, "w3 w4");
	assert_string_equal(chunks[2].content, "w5");
	assert_int_equal(total_tokens(), 5);
}

static void test_max_tokens_one(void **state)
{
	const char *md = "# H\n\nalpha beta\n\n## Sub heading\n\ngamma\n";
	chunk(md, 1);
	check_invariants(1);
	assert_int_equal(total_tokens(), hp_count_tokens(md, strlen(md)));
	assert_int_equal(nchunks, 8);
	assert_string_equal(chunks[2].content, "alpha");
	assert_string_equal(chunks[2].heading, "H");
	assert_string_equal(chunks[7].content, "gamma");
	assert_string_equal(chunks[7].heading, "H > Sub heading");

	/* one very long word is never split */
	char word[3000];
	memset(word, 'x', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	chunk(word, 1);
	assert_int_equal(nchunks, 1);
	assert_int_equal(strlen(chunks[0].content), sizeof(word) - 1);
}

static void test_empty_and_invalid(void **state)
{
	hp_chunk *c = (hp_chunk *)1;
	size_t n = 7;
	assert_int_equal(hp_chunk_markdown("", 0, 10, &c, &n), 0);
	assert_null(c);
	assert_int_equal(n, 0);
	assert_int_equal(hp_chunk_markdown(" \n\n\t \n", 6, 10, &c, &n), 0);
	assert_null(c);
	assert_int_equal(n, 0);
	/* -EINVAL, out-params untouched */
	c = (hp_chunk *)1;
	n = 7;
	assert_int_equal(hp_chunk_markdown("a", 1, 0, &c, &n), -EINVAL);
	assert_int_equal(hp_chunk_markdown("a", 1, -5, &c, &n), -EINVAL);
	assert_ptr_equal(c, (hp_chunk *)1);
	assert_int_equal(n, 7);

	/* a heading with nothing under it is still a chunk: never empty */
	chunk("# Only\n\n\n", 10);
	assert_int_equal(nchunks, 1);
	assert_string_equal(chunks[0].content, "# Only");
	/* whitespace-only pre-heading text makes no chunk */
	chunk("\n   \n# A\nx\n", 10);
	assert_int_equal(nchunks, 1);
	assert_string_equal(chunks[0].heading, "A");
}

static void test_long_document(void **state)
{
	/* a generated document: every word is kept exactly once, in order */
	hp_buf b;
	hp_buf_init(&b, 0);
	for (int s = 0; s < 20; s++) {
		assert_int_equal(hp_buf_addf(&b, "%s Section %d\n\n", s % 3 ? "##" : "#", s), 0);
		for (int p = 0; p < 7; p++) {
			for (int w = 0; w < 13 + p * 3; w++)
				assert_int_equal(hp_buf_addf(&b, "w%d_%d_%d%s", s, p, w, w % 9 == 8 ? "\n" : " "), 0);
			assert_int_equal(hp_buf_addstr(&b, "\n\n"), 0);
		}
	}
	for (int max = 1; max <= 64; max = max * 2 + 1) {
		chunk(b.data, max);
		check_invariants(max);
		assert_int_equal(total_tokens(), hp_count_tokens(b.data, b.len));
		/* concatenating the chunks' words gives back the document's words */
		const char *p = b.data;
		for (size_t i = 0; i < nchunks; i++) {
			const char *c = chunks[i].content;
			while (*c) {
				while (*c == ' ' || *c == '\n')
					c++;
				while (*p == ' ' || *p == '\n')
					p++;
				while (*c && *c != ' ' && *c != '\n') {
					assert_int_equal(*c, *p);
					c++;
					p++;
				}
			}
		}
	}
	hp_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_count_tokens, teardown),
		cmocka_unit_test_teardown(test_heading_paths, teardown),
		cmocka_unit_test_teardown(test_code_fences, teardown),
		cmocka_unit_test_teardown(test_split_paragraphs_lines_words, teardown),
		cmocka_unit_test_teardown(test_max_tokens_one, teardown),
		cmocka_unit_test_teardown(test_empty_and_invalid, teardown),
		cmocka_unit_test_teardown(test_long_document, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
