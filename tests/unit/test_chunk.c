/* test_chunk.c — the Markdown chunker: heading paths, splitting along
 * blocks / sentences / words / characters, code fences, tables, pages,
 * byte offsets, overlap, merging of small sections, token counts. */
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
static const char *input;
static size_t input_len;

static void chunk_opts(const char *md, size_t len, int max, int overlap, int min)
{
	hp_chunks_free(chunks, nchunks);
	chunks = NULL;
	nchunks = 0;
	input = md;
	input_len = len;
	hp_chunk_opts o = { .max_tokens = max, .overlap = overlap, .min_tokens = min };
	assert_int_equal(hp_chunk_markdown_opts(md, len, &o, &chunks, &nchunks), 0);
}

static void chunk(const char *md, int max)
{
	chunk_opts(md, strlen(md), max, 0, 0);
}

/* Valid UTF-8 (no sequence cut). */
static int utf8_ok(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	while (*u) {
		int k = *u < 0x80 ? 1 : (*u & 0xE0) == 0xC0 ? 2 : (*u & 0xF0) == 0xE0 ? 3 : (*u & 0xF8) == 0xF0 ? 4 : 0;
		if (!k)
			return 0;
		for (int j = 1; j < k; j++)
			if ((u[j] & 0xC0) != 0x80)
				return 0;
		u += k;
	}
	return 1;
}

/* Properties every result must have, for any input. */
static void check_invariants(int max)
{
	size_t prev_end = 0;
	for (size_t i = 0; i < nchunks; i++) {
		const hp_chunk *c = &chunks[i];
		assert_non_null(c->heading);
		assert_non_null(c->content);
		size_t cl = strlen(c->content);
		assert_true(cl > 0);
		assert_int_equal(c->tokens, hp_count_tokens(c->content, cl));
		assert_true(c->tokens > 0);
		assert_true(c->tokens <= max);
		/* offsets: inside the input, in order, not overlapping without overlap */
		assert_true(c->start < c->end);
		assert_true(c->end <= input_len);
		assert_true(c->start >= prev_end);
		prev_end = c->end;
		assert_true(utf8_ok(c->content));
	}
}

/* Without overlap or wrappers, content is exactly the input slice. */
static void check_slices(void)
{
	for (size_t i = 0; i < nchunks; i++) {
		assert_int_equal(strlen(chunks[i].content), chunks[i].end - chunks[i].start);
		assert_memory_equal(chunks[i].content, input + chunks[i].start, chunks[i].end - chunks[i].start);
	}
}

/* Every non-blank byte of the input is in exactly one chunk's span. */
static void check_coverage(void)
{
	size_t k = 0;
	for (size_t i = 0; i < input_len; i++) {
		char c = input[i];
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
			continue;
		while (k < nchunks && chunks[k].end <= i)
			k++;
		assert_true(k < nchunks);
		assert_true(chunks[k].start <= i);
	}
}

/* Is [a, ...) at a line that is an ATX heading? */
static int at_heading(size_t a)
{
	size_t i = a;
	while (i < input_len && i - a < 3 && input[i] == ' ')
		i++;
	size_t k = 0;
	while (i < input_len && input[i] == '#')
		i++, k++;
	return k >= 1 && k <= 6 && (i == input_len || input[i] == ' ');
}

/* No chunk below min unless its section is that small: a chunk under min
 * is never a piece of a split section, so it starts at a heading (or the
 * document's start) and ends where the next heading (or the end) begins. */
static void check_min(int min)
{
	for (size_t i = 0; i < nchunks; i++) {
		const hp_chunk *c = &chunks[i];
		if (c->tokens >= min)
			continue;
		size_t a = c->start;
		if (i > 0 && !at_heading(a))
			fail_msg("chunk %zu (%d tokens < %d) starts inside a section: %s", i, c->tokens, min, c->content);
		size_t z = c->end;
		while (z < input_len && (input[z] == ' ' || input[z] == '\n'))
			z++;
		if (z < input_len && !at_heading(z))
			fail_msg("chunk %zu (%d tokens < %d) ends inside a section: %s", i, c->tokens, min, c->content);
	}
}

static int teardown(void **state)
{
	(void)state;
	hp_chunks_free(chunks, nchunks);
	chunks = NULL;
	nchunks = 0;
	return 0;
}

static void test_count_tokens(void **state)
{
	(void)state;
	static const struct { const char *s; int n; } cases[] = {
		{ "", 0 },
		{ "  \n\t ", 1 },            /* whitespace with a newline: one token */
		{ "one", 1 },
		{ "a b c d", 4 },            /* a single blank joins the next word */
		{ "a  b", 3 },               /* two blanks: a token of their own */
		{ "don't", 2 },              /* don + 't */
		{ "internationalization", 3 },
		{ "1234567", 3 },            /* digits in groups of three */
		{ "```", 1 },
		{ "日本語", 3 },               /* one per CJK character */
		{ "#", 1 },
		{ "fooBar", 2 },             /* a case change starts a piece */
		{ "JmltdHM", 3 },            /* URL noise: case change, 4 consonants in a row */
		{ "strengths", 2 },          /* "ngths": 5 consonants */
		{ "end.\n\n", 2 },            /* line breaks after punctuation: free */
		{ "a\n\n", 2 },
		{ "| 12 |", 4 },             /* a blank before a number is a token */
		{ "------------------", 2 },  /* the same mark repeated: 16 a token */
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(cases); i++)
		assert_int_equal(hp_count_tokens(cases[i].s, strlen(cases[i].s)), cases[i].n);
	/* len is honoured, not the NUL */
	assert_int_equal(hp_count_tokens("a b c", 3), 2);
	/* sub-additive: cutting anywhere but inside a run of blanks or between
	 * a blank and a number (the chunker counts those joins whole) never
	 * lowers the sum of the parts */
	const char *t = "Hello, world! 12345 naïve 日本語テキスト ```code``` --- don't  stop.\n\n  end\n";
	size_t n = strlen(t);
	for (size_t cut = 0; cut <= n; cut++)
		if (!(cut > 0 && t[cut - 1] == ' ' && (t[cut] == ' ' || (t[cut] >= '0' && t[cut] <= '9'))))
			assert_true(hp_count_tokens(t, n) <= hp_count_tokens(t, cut) + hp_count_tokens(t + cut, n - cut));
	/* a word cut into characters (the chunker's last resort) never counts
	 * more than one token per character, however noisy */
	const char *w = "bBbBbBbBxQzWvKaHR0cHM6Ly9lbi53aWtpcGVkaWEub3Jn";
	for (size_t a = 0; a < strlen(w); a++)
		for (size_t z = a + 1; z <= strlen(w); z++)
			assert_true(hp_count_tokens(w + a, z - a) <= (int)(z - a));
}

static void test_heading_paths(void **state)
{
	(void)state;
	const char *md = "intro text\n\n# Guide\n\nabout\n\n## Install\n\nsteps\n\n### Debian  ##\n\napt\n\n"
	                 "## Use\n\nrun it\n\n# Other\n\nend\n";
	chunk(md, 100);
	check_invariants(100);
	check_slices();
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
	assert_int_equal(chunks[1].start, strstr(md, "# Guide") - md);

	/* a skipped level: the path has only the levels present */
	chunk("### Deep\n\nx\n\n# Top\n\n### Again\n\ny\n", 100);
	assert_int_equal(nchunks, 3);
	assert_string_equal(chunks[0].heading, "Deep");
	assert_string_equal(chunks[2].heading, "Top > Again");

	/* not headings: no space after #, 7 #s */
	chunk("#hashtag\n\n####### seven\n", 100);
	assert_int_equal(nchunks, 1);
	assert_string_equal(chunks[0].heading, "");
}

/* Headings seven deep: level 7 is text; paths are full down to level 6. */
static void test_headings_seven_deep(void **state)
{
	(void)state;
	const char *md = "# L1\n\na\n\n## L2\n\nb\n\n### L3\n\nc\n\n#### L4\n\nd\n\n##### L5\n\ne\n\n"
	                 "###### L6\n\nf\n\n####### L7\n\ng\n";
	chunk(md, 50);
	check_invariants(50);
	check_slices();
	assert_int_equal(nchunks, 6);
	assert_string_equal(chunks[5].heading, "L1 > L2 > L3 > L4 > L5 > L6");
	assert_non_null(strstr(chunks[5].content, "####### L7\n\ng"));
	/* with merging, the small sections join their parent's chunk */
	chunk_opts(md, strlen(md), 64, 0, 32);
	check_invariants(64);
	check_slices();
	assert_int_equal(nchunks, 1);
	assert_string_equal(chunks[0].heading, "L1");
}

static void test_heading_without_body(void **state)
{
	(void)state;
	/* a heading with nothing under it is still a chunk: never empty */
	chunk("# Only\n\n\n", 10);
	assert_int_equal(nchunks, 1);
	assert_string_equal(chunks[0].content, "# Only");
	assert_string_equal(chunks[0].heading, "Only");
	/* with a minimum it merges with the child below, heading = the parent */
	const char *md = "# Guide\n\n## Install\n\n### Debian\n\napt install hopper\n\n# Next\n\nmore\n";
	chunk_opts(md, strlen(md), 100, 0, 16);
	check_invariants(100);
	assert_int_equal(nchunks, 1);
	/* "# Next" is a sibling of "# Guide" (same parent: the document) */
	assert_string_equal(chunks[0].heading, "");
	chunk_opts(md, strlen(md), 16, 0, 8);
	check_invariants(16);
	check_coverage();
	assert_int_equal(nchunks, 2);
	assert_string_equal(chunks[0].heading, "Guide");
	assert_string_equal(chunks[1].heading, "Next");
	assert_non_null(strstr(chunks[0].content, "# Guide\n\n## Install\n\n### Debian"));
	/* a small section never merges into a deeper one's chunk across a
	 * shallower heading */
	md = "## A\n\nlong text here with many words to pass the minimum of eight\n\n# B\n\nb\n";
	chunk_opts(md, strlen(md), 100, 0, 8);
	assert_int_equal(nchunks, 2);
	assert_string_equal(chunks[1].heading, "B");
}

static void test_code_fences(void **state)
{
	(void)state;
	const char *md = "# A\n\n```sh\n# not a heading\n\nstill code\n```\n\n~~~\n## nor this\n~~~\n\n## B\n\nb\n";
	chunk(md, 100);
	check_invariants(100);
	assert_int_equal(nchunks, 2);
	assert_string_equal(chunks[0].heading, "A");
	assert_non_null(strstr(chunks[0].content, "# not a heading\n\nstill code"));
	assert_string_equal(chunks[1].heading, "A > B");

	/* a block that fits stays whole, though paragraphs are split around it */
	md = "para one has five words\n\n```\ncode a b\n\ncode c\n```\n\npara two has five words";
	chunk(md, 14);
	check_invariants(14);
	check_slices();
	assert_int_equal(nchunks, 3);
	assert_string_equal(chunks[1].content, "```\ncode a b\n\ncode c\n```");

	/* an oversize block: cut at blank lines, each piece fenced again with
	 * the opening line (language kept) */
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_buf_addstr(&b, "# Code\n\n```python\n"), 0);
	for (int f = 0; f < 40; f++)
		assert_int_equal(hp_buf_addf(&b, "def f%d(x):\n    return x + %d\n\n", f, f), 0);
	assert_int_equal(hp_buf_addstr(&b, "```\n\nafter\n"), 0);
	chunk(b.data, 40);
	check_invariants(40);
	check_coverage();
	assert_true(nchunks > 3);
	for (size_t i = 0; i + 1 < nchunks; i++) {
		const char *c = chunks[i].content;
		const char *open = strstr(c, "```python\n");
		assert_non_null(open);
		/* balanced: every piece opens and closes its fence */
		size_t cl = strlen(c);
		assert_true(cl >= 4 && !strcmp(c + cl - 4, "\n```"));
		/* pieces are cut at blank lines: no function is cut in half */
		assert_null(strstr(c, "):\n```"));
	}
	/* one huge line in a block: cut at words, still fenced */
	hp_buf_reset(&b);
	assert_int_equal(hp_buf_addstr(&b, "~~~~ c\n"), 0);
	for (int w = 0; w < 300; w++)
		assert_int_equal(hp_buf_addf(&b, "x%d ", w), 0);
	assert_int_equal(hp_buf_addstr(&b, "\n~~~~\n"), 0);
	chunk(b.data, 50);
	check_invariants(50);
	check_coverage();
	assert_true(nchunks > 5);
	assert_int_equal(strncmp(chunks[1].content, "~~~~ c\n", 7), 0);
	assert_non_null(strstr(chunks[1].content, "\n~~~~"));
	hp_buf_free(&b);
}

/* A table of 2,000 rows: cut between rows, header and delimiter repeated. */
static void test_big_table(void **state)
{
	(void)state;
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_buf_addstr(&b, "# Data\n\nBefore.\n\n| id | name | value |\n|---:|:-----|------|\n"), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(hp_buf_addf(&b, "| %d | item %d | %d.5 |\n", i, i, i * 7), 0);
	assert_int_equal(hp_buf_addstr(&b, "\nAfter.\n"), 0);
	chunk(b.data, 256);
	check_invariants(256);
	check_coverage();
	assert_true(nchunks > 20);
	int rows = 0;
	for (size_t i = 0; i < nchunks; i++) {
		const char *c = chunks[i].content;
		assert_string_equal(chunks[i].heading, "Data");
		if (strstr(c, "After.") == c)
			continue;
		/* every piece of the table starts with its header */
		const char *h = strstr(c, "| id | name | value |\n|---:|:-----|------|\n");
		assert_non_null(h);
		/* and holds whole rows only */
		for (const char *l = h; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
			if (!strncmp(l, "| ", 2) && strncmp(l, "| id", 4)) {
				const char *e = strchr(l, '\n');
				size_t n = e ? (size_t)(e - l) : strlen(l);
				assert_true(n >= 4 && !strncmp(l + n - 2, " |", 2));
				rows++;
			}
		}
	}
	assert_int_equal(rows, 2000);
	hp_buf_free(&b);
}

/* CJK text with no spaces: cut between characters, at 。 where possible. */
static void test_cjk(void **state)
{
	(void)state;
	hp_buf b;
	hp_buf_init(&b, 0);
	for (int i = 0; i < 500; i++)
		assert_int_equal(hp_buf_addstr(&b, "日本語の文章には空白がありません。"), 0);
	chunk(b.data, 64);
	check_invariants(64);
	check_slices();
	check_coverage();
	assert_true(nchunks > 100);
	/* cut at the sentence ends */
	for (size_t i = 0; i + 1 < nchunks; i++) {
		size_t cl = strlen(chunks[i].content);
		assert_string_equal(chunks[i].content + cl - 3, "。");
	}
	/* no sentence ends at all: cut between characters */
	hp_buf_reset(&b);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(hp_buf_addstr(&b, "語"), 0);
	chunk(b.data, 100);
	check_invariants(100);
	check_slices();
	check_coverage();
	assert_int_equal(nchunks, 30);
	hp_buf_free(&b);
}

/* A 10 MB single paragraph: linear, bounded chunks, nothing lost. */
static void test_huge_paragraph(void **state)
{
	(void)state;
	hp_buf b;
	hp_buf_init(&b, 0);
	int s = 0;
	while (b.len < 10u << 20) {
		assert_int_equal(hp_buf_addf(&b, "word%d and some more text%s", s, s % 13 ? " " : ". "), 0);
		s++;
	}
	chunk(b.data, 512);
	check_invariants(512);
	check_slices();
	check_coverage();
	assert_true(nchunks > 1000);
	/* a long run with no sentence end at all: cut at words */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '.')
			b.data[i] = ',';
	chunk(b.data, 512);
	check_invariants(512);
	check_slices();
	hp_buf_free(&b);
}

static void test_sentences(void **state)
{
	(void)state;
	const char *md = "First sentence is here. Second one follows! Is this the third? "
	                 "Yes, and (a fourth.) Fifth.";
	chunk(md, 12);
	check_invariants(12);
	check_slices();
	assert_true(nchunks >= 2);
	for (size_t i = 0; i + 1 < nchunks; i++) {
		char last = chunks[i].content[strlen(chunks[i].content) - 1];
		assert_true(last == '.' || last == '!' || last == '?' || last == ')');
	}
	/* a list without sentence ends: cut between items */
	chunk("- one two three four\n- five six seven eight\n- nine ten eleven twelve\n", 12);
	check_invariants(12);
	check_slices();
	for (size_t i = 0; i < nchunks; i++)
		assert_int_equal(chunks[i].content[0], '-');
}

/* Blocks indented under list items: the blank line before a block and its
 * indentation are one whitespace run, so the stored count is the count of
 * the content, not the blocks' counts added up. */
static void test_indented_blocks(void **state)
{
	(void)state;
	const char *md = "## Terms\n\n- **Flow**\n\n  Volume of water passing a point per second.\n\n"
	                 "- **Gauge**\n\n  The staff at each station; see [the manual](https://example.org/gauge).\n";
	chunk(md, 64);
	check_invariants(64);
	check_slices();
	assert_int_equal(nchunks, 1);
}

static void test_pages_and_offsets(void **state)
{
	(void)state;
	const char *md = "<!-- page 1 -->\n# Report\n\nIntro on page one.\n\n<!-- page 2 -->\n\n"
	                 "## Results\n\nNumbers on page two.\n\n<!-- page 3 -->\nMore on three.\n";
	chunk(md, 10);
	check_invariants(10);
	check_slices();
	assert_true(nchunks >= 3);
	assert_int_equal(chunks[0].page, 1);
	assert_string_equal(chunks[nchunks - 1].content, "More on three.");
	assert_int_equal(chunks[nchunks - 1].page, 3);
	for (size_t i = 0; i < nchunks; i++)
		if (strstr(chunks[i].content, "Numbers"))
			assert_int_equal(chunks[i].page, 2);
	/* not paged: page 0 */
	chunk("plain\n", 10);
	assert_int_equal(chunks[0].page, 0);
	/* a marker inside code is code */
	chunk("```\n<!-- page 9 -->\n```\nx\n", 100);
	assert_int_equal(chunks[0].page, 0);
}

static void test_overlap(void **state)
{
	(void)state;
	hp_buf b;
	hp_buf_init(&b, 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(hp_buf_addf(&b, "w%d ", i), 0);
	chunk_opts(b.data, b.len, 30, 6, 0);
	assert_true(nchunks > 5);
	for (size_t i = 0; i < nchunks; i++) {
		assert_true(chunks[i].tokens <= 30);
		assert_memory_equal(chunks[i].content, b.data + chunks[i].start, chunks[i].end - chunks[i].start);
		if (i == 0)
			continue;
		/* starts inside the previous chunk, a few words back */
		assert_true(chunks[i].start < chunks[i - 1].end);
		int back = hp_count_tokens(b.data + chunks[i].start, chunks[i - 1].end - chunks[i].start);
		assert_true(back > 0 && back <= 6);
	}
	/* page marks between the blocks: the overlap, the marks in the gap and
	 * the next unit together stay within the limit */
	hp_buf_reset(&b);
	for (int p = 0; p < 30; p++) {
		for (int w = 0; w < 3 + p % 7; w++)
			assert_int_equal(hp_buf_addf(&b, "w%d_%d ", p, w), 0);
		assert_int_equal(hp_buf_addf(&b, "\n\n<!-- page %d -->\n\n", p + 2), 0);
	}
	for (int max = 8; max <= 40; max++) {
		chunk_opts(b.data, b.len, max, max / 2, 0);
		for (size_t i = 0; i < nchunks; i++) {
			assert_true(chunks[i].tokens <= max);
			assert_int_equal(chunks[i].tokens, hp_count_tokens(chunks[i].content, strlen(chunks[i].content)));
		}
	}
	/* no overlap across a section boundary */
	chunk_opts("# A\n\none two three\n\n# B\n\nfour five six\n", 40, 10, 5, 0);
	assert_int_equal(nchunks, 2);
	assert_true(chunks[1].start >= chunks[0].end);
	hp_buf_free(&b);
}

static void test_merge_balance(void **state)
{
	(void)state;
	/* a section just over the limit gives two balanced chunks, not max + tail */
	hp_buf b;
	hp_buf_init(&b, 0);
	for (int p = 0; p < 11; p++)
		assert_int_equal(hp_buf_addf(&b, "p%d aa bb cc dd ee ff gg hh ii.\n\n", p), 0);
	chunk(b.data, 100);
	check_invariants(100);
	assert_int_equal(nchunks, 2);
	int d = chunks[0].tokens - chunks[1].tokens;
	assert_true(d < 20 && d > -20);
	hp_buf_free(&b);
}

static void test_empty_and_invalid(void **state)
{
	(void)state;
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
	hp_chunk_opts o = { .max_tokens = 10, .overlap = -1 };
	assert_int_equal(hp_chunk_markdown_opts("a", 1, &o, &c, &n), -EINVAL);
	assert_ptr_equal(c, (hp_chunk *)1);
	assert_int_equal(n, 7);
	/* whitespace-only pre-heading text makes no chunk */
	chunk("\n   \n# A\nx\n", 10);
	assert_int_equal(nchunks, 1);
	assert_string_equal(chunks[0].heading, "A");
	/* invalid UTF-8 and NULs go through, bytes kept */
	static const char bad[] = "ab\xff\xfe cd \xe6\x97 ef";
	chunk_opts(bad, sizeof bad - 1, 1, 0, 0);
	assert_true(nchunks >= 3);
}

static void test_long_document(void **state)
{
	(void)state;
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
	for (int max = 1; max <= 256; max = max * 2 + 1) {
		for (int min = 0; min <= 64; min += 32) {
			chunk_opts(b.data, b.len, max, 0, min);
			check_invariants(max);
			check_slices();
			check_coverage();
			if (min <= max / 2)
				check_min(min);
		}
	}
	hp_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_count_tokens, teardown),
		cmocka_unit_test_teardown(test_heading_paths, teardown),
		cmocka_unit_test_teardown(test_headings_seven_deep, teardown),
		cmocka_unit_test_teardown(test_heading_without_body, teardown),
		cmocka_unit_test_teardown(test_code_fences, teardown),
		cmocka_unit_test_teardown(test_big_table, teardown),
		cmocka_unit_test_teardown(test_cjk, teardown),
		cmocka_unit_test_teardown(test_huge_paragraph, teardown),
		cmocka_unit_test_teardown(test_sentences, teardown),
		cmocka_unit_test_teardown(test_indented_blocks, teardown),
		cmocka_unit_test_teardown(test_pages_and_offsets, teardown),
		cmocka_unit_test_teardown(test_overlap, teardown),
		cmocka_unit_test_teardown(test_merge_balance, teardown),
		cmocka_unit_test_teardown(test_empty_and_invalid, teardown),
		cmocka_unit_test_teardown(test_long_document, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
