/* tokens.c — approximate cl100k_base token counts, see include/hopper/tokens.h.
 *
 * The count follows the pieces cl100k_base's pre-tokenizer cuts text into,
 * and a cost per piece fitted on English text
 * (tests/bench/tokens.sh measures it against the real tokenizer):
 *   - a run of letters (ASCII, or non-CJK letters beyond ASCII, with an
 *     apostrophe between letters kept inside: "don't") of L bytes costs
 *     1 + (L - 1) / WORD_BYTES (integer division): common words are one
 *     token, long and rare ones more; plus one for each case change that
 *     starts a new piece ("fooBar", the "P" of "HTMLParser") and one for
 *     each run of CONSONANT_RUN ASCII consonants (y counts as a vowel), the
 *     marks of identifiers and of URL and base64 noise, which BPE cuts into
 *     short pieces; at most one token per character;
 *   - digits: one token per 3 (cl100k splits numbers into groups of 3),
 *     and one more when a blank or tab is right before them (numbers take
 *     no leading space in cl100k: "| 12 |" is "|", " ", "12", " |");
 *   - each CJK character (ideographs, kana, hangul, full-width forms): 1;
 *   - a run of punctuation: 1 + (n - 1) / PUNCT_RUN ("```", "**", "--" are
 *     single tokens); the same character repeated 4 times or more ("----",
 *     "****" rules): 1 + (n - 1) / PUNCT_SAME_RUN;
 *   - whitespace: a run with a newline costs 1, a run of 2 or more blanks 1,
 *     a single blank 0 (it joins the next word's token); right after
 *     punctuation the line breaks that start the run are free (".\n\n",
 *     "-->\n" are one token) and the rest of the run counts alone.
 * Context: a whitespace run's cost depends on the run before it, and a
 * number's on the character before it; nothing depends on what follows.
 * So the count is additive at a cut where the text after it starts with
 * something other than whitespace or a number after a blank, and
 * sub-additive (the parts count at least the whole) at any cut outside a
 * letter run, other than between a blank and a number. The chunker cuts
 * between units at whitespace and counts each join's whitespace together
 * with the word before it and the number after it (lib/chunk.c,
 * join_gap), so a chunk's count is the sum of its units and joins. Inside
 * a letter run it only ever cuts characters (its last resort), and every
 * rule costs at most one token per character, which covers that case.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "hopper/tokens.h"

#ifndef WORD_BYTES
#define WORD_BYTES 9         /* letters per extra token of a long word */
#endif
#ifndef CONSONANT_RUN
#define CONSONANT_RUN 4      /* consonants in a row that cost one more token */
#endif
#ifndef PUNCT_SAME_RUN
#define PUNCT_SAME_RUN 16    /* the same character repeated, per token */
#endif
#ifndef PUNCT_RUN
#define PUNCT_RUN 3          /* punctuation characters per token in a run */
#endif

/* Decode one UTF-8 sequence at s[i] (i < len): its code point, *n its
 * length. Malformed bytes count as one code point U+FFFD of length 1. */
static uint32_t utf8_at(const char *s, size_t i, size_t len, size_t *n)
{
	const unsigned char *u = (const unsigned char *)s + i;
	size_t left = len - i;
	uint32_t cp;
	size_t k;
	if (u[0] < 0x80) {
		*n = 1;
		return u[0];
	} else if ((u[0] & 0xE0) == 0xC0) {
		cp = u[0] & 0x1F, k = 2;
	} else if ((u[0] & 0xF0) == 0xE0) {
		cp = u[0] & 0x0F, k = 3;
	} else if ((u[0] & 0xF8) == 0xF0) {
		cp = u[0] & 0x07, k = 4;
	} else {
		*n = 1;
		return 0xFFFD;
	}
	if (k > left) {
		*n = 1;
		return 0xFFFD;
	}
	for (size_t j = 1; j < k; j++) {
		if ((u[j] & 0xC0) != 0x80) {
			*n = 1;
			return 0xFFFD;
		}
		cp = cp << 6 | (u[j] & 0x3F);
	}
	*n = k;
	return cp;
}

static bool is_cjk(uint32_t cp)
{
	return (cp >= 0x2E80 && cp <= 0x9FFF) ||   /* radicals, kana, CJK punctuation, ideographs */
	       (cp >= 0xAC00 && cp <= 0xD7AF) ||   /* hangul syllables */
	       (cp >= 0xF900 && cp <= 0xFAFF) ||   /* compatibility ideographs */
	       (cp >= 0xFF00 && cp <= 0xFFEF) ||   /* full-width forms */
	       (cp >= 0x20000 && cp <= 0x3FFFF);   /* ideographs, planes 2-3 */
}

/* General punctuation (dashes, quotes, ellipsis) and symbols: punctuation. */
static bool is_uni_punct(uint32_t cp)
{
	return (cp >= 0x2000 && cp <= 0x2BFF) || cp == 0xFFFD || (cp >= 0x80 && cp <= 0xBF) ||
	       cp == 0xD7 || cp == 0xF7;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

enum cls { C_WS, C_NL, C_WORD, C_DIGIT, C_CJK, C_PUNCT };

/* Classes of the ASCII bytes (the count runs over every byte of every
 * document a few times: a table lookup instead of a chain of tests). */
static const unsigned char ascii_cls[128] = {
	[0 ... 8] = C_PUNCT, ['\t'] = C_WS, ['\n'] = C_NL, ['\v'] = C_WS, ['\f'] = C_WS,
	['\r'] = C_NL, [14 ... 31] = C_PUNCT, [' '] = C_WS, ['!' ... '/'] = C_PUNCT,
	['0' ... '9'] = C_DIGIT, [':' ... '@'] = C_PUNCT, ['A' ... 'Z'] = C_WORD,
	['[' ... '`'] = C_PUNCT, ['a' ... 'z'] = C_WORD, ['{' ... 127] = C_PUNCT,
};

static inline enum cls classify(const char *s, size_t i, size_t len, size_t *n)
{
	unsigned char c = (unsigned char)s[i];
	if (c < 0x80) {
		*n = 1;
		return (enum cls)ascii_cls[c];
	}
	uint32_t cp = utf8_at(s, i, len, n);
	if (cp == 0xA0 || cp == 0x3000)
		return C_WS;
	if (is_cjk(cp))
		return C_CJK;
	if (is_uni_punct(cp))
		return C_PUNCT;
	return C_WORD;
}

/* ASCII letters: bit 0 letter, bit 1 upper case, bit 2 vowel (y counts). */
enum { LF_LETTER = 1, LF_UPPER = 2, LF_VOWEL = 4 };
#define LF_C LF_LETTER
#define LF_V (LF_LETTER | LF_VOWEL)
#define LF_UC (LF_LETTER | LF_UPPER)
#define LF_UV (LF_LETTER | LF_UPPER | LF_VOWEL)
static const unsigned char letter_feat[128] = {
	['a'] = LF_V, ['b' ... 'd'] = LF_C, ['e'] = LF_V, ['f' ... 'h'] = LF_C, ['i'] = LF_V,
	['j' ... 'n'] = LF_C, ['o'] = LF_V, ['p' ... 't'] = LF_C, ['u'] = LF_V, ['v' ... 'x'] = LF_C,
	['y'] = LF_V, ['z'] = LF_C,
	['A'] = LF_UV, ['B' ... 'D'] = LF_UC, ['E'] = LF_UV, ['F' ... 'H'] = LF_UC, ['I'] = LF_UV,
	['J' ... 'N'] = LF_UC, ['O'] = LF_UV, ['P' ... 'T'] = LF_UC, ['U'] = LF_UV, ['V' ... 'X'] = LF_UC,
	['Y'] = LF_UV, ['Z'] = LF_UC,
};

/* The letter rules as a state machine over ASCII bytes, one lookup per
 * letter (the count runs over every byte a few times). A state is
 * consonants in a row (0-4, 4 = counted already) + 5 * the previous
 * letter (0 none, 1 lower, 2 upper) + 15 * whether the one before was
 * upper case. word_step[state][byte] is the next state | extra tokens << 5,
 * or WS_STOP for a byte that is no ASCII letter. */
#define WS_STATES 30
_Static_assert(CONSONANT_RUN >= 1 && CONSONANT_RUN <= 4, "word_step counts consonants up to 4");
#define WS_STOP 0x80
static unsigned char word_step[WS_STATES][256];

__attribute__((constructor)) static void word_step_init(void)
{
	for (int st = 0; st < WS_STATES; st++) {
		int cons = st % 5, pc = st / 5 % 3, ppu = st / 15;
		for (int c = 0; c < 256; c++) {
			unsigned f = c < 0x80 ? letter_feat[c] : 0;
			if (!(f & LF_LETTER)) {
				word_step[st][c] = WS_STOP;
				continue;
			}
			bool upper = f & LF_UPPER, vowel = f & LF_VOWEL;
			int extra = 0, ncons = vowel ? 0 : cons < 4 ? cons + 1 : 4;
			if (!vowel && cons + 1 == CONSONANT_RUN)
				extra++;
			/* a new piece at a case change: the "B" of "fooBar"; in
			 * "HTMLParser" the "P", counted at the "a" after two capitals */
			if (upper ? pc == 1 : pc == 2 && ppu)
				extra++;
			int next = ncons + 5 * (upper ? 2 : 1) + 15 * (pc == 2);
			word_step[st][c] = (unsigned char)(next | extra << 5);
		}
	}
}

/* The cost of a letter run of len bytes: see the rules at the top. Capped
 * at one token per character, so that a word cut into characters (the
 * chunker's last resort) never counts more than its pieces. */
static int64_t word_cost(int64_t extra, int64_t chars, size_t len, int64_t apos)
{
	int64_t cost = 1 + (int64_t)(len - 1) / WORD_BYTES + extra + apos;
	return cost < chars ? cost : chars;
}

int hp_count_tokens(const char *s, size_t len)
{
	int64_t t = 0;
	enum cls prev = C_WS;   /* class of the run before */
	size_t i = 0, n;
	while (i < len) {
		enum cls c = classify(s, i, len, &n);
		size_t j = i + n, k = 1;
		switch (c) {
		case C_NL:
		case C_WS: {
			/* after punctuation, the line breaks that follow it are part
			 * of its token (".\n\n", "-->\n"); the rest counts alone */
			bool lead = prev == C_PUNCT && c == C_NL;
			bool nl = !lead && c == C_NL;
			k = !lead;
			while (j < len) {
				enum cls d = classify(s, j, len, &n);
				if (d != C_WS && d != C_NL)
					break;
				lead &= d == C_NL && (s[j] == '\n' || s[j] == '\r');
				if (!lead) {
					nl |= d == C_NL;
					k++;
				}
				j += n;
			}
			t += k > 0 && (nl || k >= 2);
			break;
		}
		case C_WORD: {
			int64_t apos = 0, extra = 0, chars = 0;
			unsigned st = 0, x;
			for (j = i;;) {
				/* ASCII letters: the common case, without the decoder */
				size_t j0 = j;
				while (j < len && (x = word_step[st][(unsigned char)s[j]]) != WS_STOP) {
					extra += x >> 5;
					st = x & 31;
					j++;
				}
				chars += (int64_t)(j - j0);
				if (j >= len)
					break;
				enum cls d = classify(s, j, len, &n);
				if (d == C_WORD) {
					j += n;             /* a letter beyond ASCII */
				} else if (s[j] == '\'' && j + 1 < len && classify(s, j + 1, len, &n) == C_WORD) {
					j += 1;             /* "don't": don + 't */
					apos++;
				} else {
					break;
				}
				chars++;
				st = 0;
			}
			t += word_cost(extra, chars, j - i, apos);
			break;
		}
		case C_DIGIT:
			while (j < len && is_digit(s[j]))
				j++;
			/* a blank right before a number is a token of its own */
			t += (int64_t)(j - i + 2) / 3 + (i > 0 && prev == C_WS && (s[i - 1] == ' ' || s[i - 1] == '\t'));
			break;
		case C_CJK:
			t += 1;
			break;
		case C_PUNCT: {
			bool same = true;   /* "-----", "*****": long merges in the vocabulary */
			while (j < len && classify(s, j, len, &n) == C_PUNCT) {
				same &= s[j] == s[i];
				j += n;
				k++;
			}
			t += 1 + (int64_t)(k - 1) / (same && k >= 4 ? PUNCT_SAME_RUN : PUNCT_RUN);
			break;
		}
		}
		prev = c;
		i = j;
	}
	return t > INT32_MAX ? INT32_MAX : (int)t;
}

size_t hp_utf8_len(const char *s, size_t i, size_t len)
{
	size_t n;
	utf8_at(s, i, len, &n);
	return n;
}
