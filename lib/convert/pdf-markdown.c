/* pdf-markdown.c — heading levels and the Markdown text of the blocks,
 * see pdf-layout.h.
 *
 * Headings: a short paragraph whose size is well above the body size is a
 * heading; distinct heading sizes rank (# for the largest). A single bold
 * line at body size that does not end like a sentence is the level below
 * the size-ranked ones.
 * Escaping: what CommonMark would read as syntax in running text ('*',
 * '`', '\\', '<tag', '_' outside words, "[..](" ) gets a backslash; at a
 * block start also '#', '>', "- ", "1. " and the like.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hopper/common.h"
#include "pdf-layout.h"

/* ---- headings -------------------------------------------------------------------- */

static int cmp_float_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x < y) - (x > y);
}

static int is_heading_size(const block *b, float body)
{
	return b->type == B_PARA && b->size >= body * 1.15f && b->size >= body + 1.0f && b->len <= 200 &&
	       b->n_lines <= 3;
}

static int is_bold_heading(const layout *L, const block *b, float body)
{
	if (b->type != B_PARA || !(b->flags & HP_PDF_BOLD) || b->n_lines != 1 || b->len > 80 ||
	    b->size < body * 0.95f || b->size == 0)
		return 0;
	const char *s = arena_at(L, b->text);
	char last = s[b->len - 1];
	if (last == '.' || last == ',' || last == ';')
		return 0;
	int letters = 0;
	for (uint32_t i = 0; i < b->len; i++)
		letters += isalpha((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80;
	return letters >= 2;
}

void hp_pdf_assign_levels(layout *L, float body)
{
	float sizes[64];
	size_t ns = 0;
	/* "1. Introduction" in a large or bold font is a numbered heading,
	 * not a one-item list: it becomes a paragraph that keeps its marker */
	for (size_t i = 0; i < L->n_blocks; i++) {
		block *b = &L->blocks[i];
		if (b->type != B_ITEM || !isdigit((unsigned char)b->marker[0]) || b->depth)
			continue;
		b->type = B_PARA;
		if (!is_heading_size(b, body) && !is_bold_heading(L, b, body))
			b->type = B_ITEM;
	}
	for (size_t i = 0; i < L->n_blocks; i++) {
		block *b = &L->blocks[i];
		if (!is_heading_size(b, body))
			continue;
		float r = roundf(b->size * 2) / 2;
		size_t k = 0;
		while (k < ns && sizes[k] != r)
			k++;
		if (k == ns && ns < HP_ARRAY_SIZE(sizes))
			sizes[ns++] = r;
	}
	qsort(sizes, ns, sizeof(float), cmp_float_desc);
	if (ns > 5)
		ns = 5;
	int bold_level = (int)ns + 1 < 2 ? 2 : (int)ns + 1;
	for (size_t i = 0; i < L->n_blocks; i++) {
		block *b = &L->blocks[i];
		if (is_heading_size(b, body)) {
			float r = roundf(b->size * 2) / 2;
			size_t k = 0;
			while (k < ns && sizes[k] > r)
				k++;
			b->level = (int)k + 1;
			if (b->level > 6)
				b->level = 6;
		} else if (is_bold_heading(L, b, body)) {
			b->level = bold_level > 6 ? 6 : bold_level;
		}
		if (b->level)
			L->info->headings++;
	}
}

/* ---- Markdown out ------------------------------------------------------------------ */

/* Escape what Markdown would read as syntax in running text. */
int hp_pdf_add_escaped(hp_buf *b, const char *s, size_t n, int in_table)
{
	int r = 0;
	size_t run = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		int esc = 0;
		switch (c) {
		case '\\': case '*': case '`':
			esc = 1;
			break;
		case '_':
			esc = !(i > 0 && isalnum((unsigned char)s[i - 1]) && i + 1 < n &&
			        isalnum((unsigned char)s[i + 1]));
			break;
		case '<':
			esc = i + 1 < n && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/' ||
			                    s[i + 1] == '!' || s[i + 1] == '?');
			break;
		case '|':
			esc = in_table;
			break;
		case '[':
			esc = memchr(s + i, ']', n - i) != NULL && memmem(s + i, n - i, "](", 2) != NULL;
			break;
		}
		if (esc) {
			r = hp_buf_add(b, s + run, i - run);
			if (r == 0)
				r = hp_buf_addc(b, '\\');
			run = i;
		}
	}
	if (r == 0)
		r = hp_buf_add(b, s + run, n - run);
	return r;
}

/* Running text at the start of a block: what would start a heading, quote,
 * list, rule or fence is escaped. */
static int add_block_text(hp_buf *b, const char *s, size_t n)
{
	int r = 0;
	size_t d = 0;
	while (d < n && isdigit((unsigned char)s[d]))
		d++;
	if (n && (s[0] == '#' || s[0] == '>' || s[0] == '=' || s[0] == '~' ||
	          ((s[0] == '-' || s[0] == '+') && (n == 1 || s[1] == ' ' || s[1] == '-'))))
		r = hp_buf_addc(b, '\\');
	else if (d && d <= 9 && d + 1 < n && (s[d] == '.' || s[d] == ')') && s[d + 1] == ' ') {
		r = hp_buf_add(b, s, d);
		if (r == 0)
			r = hp_buf_addc(b, '\\');
		s += d;
		n -= d;
	}
	if (r == 0)
		r = hp_pdf_add_escaped(b, s, n, 0);
	return r;
}

/* A page read by OCR: a note saying so, then Tesseract's paragraphs (its
 * line breaks inside a paragraph become spaces). */
static int emit_ocr(hp_buf *out, const block *b, const char *s)
{
	int r = hp_buf_addf(out, "<!-- text by OCR (%s), mean confidence %d%% -->\n\n", b->marker, b->level);
	const char *e = s + b->len;
	while (r == 0 && s < e) {
		while (s < e && (*s == '\n' || *s == ' '))
			s++;
		const char *p = s;
		while (p < e && !(p[0] == '\n' && p + 1 < e && p[1] == '\n'))
			p++;
		if (p > s) {
			char *para = strndup(s, (size_t)(p - s));
			if (!para)
				return -ENOMEM;
			for (char *q = para; *q; q++)
				if (*q == '\n')
					*q = ' ';
			r = add_block_text(out, para, strlen(para));
			free(para);
			if (r == 0)
				r = hp_buf_addstr(out, "\n\n");
		}
		s = p;
	}
	if (r == 0 && b->depth)
		r = hp_buf_addstr(out, "<!-- OCR stopped at the page's time budget: the rest was not read -->\n\n");
	return r;
}

int hp_pdf_emit(layout *L, hp_buf *out)
{
	int r = 0;
	for (size_t i = 0; i < L->n_blocks && r == 0; i++) {
		const block *b = &L->blocks[i];
		/* The arena has no data until something was added to it. */
		const char *s = arena_at(L, b->text);
		int next_item = i + 1 < L->n_blocks && L->blocks[i + 1].type == B_ITEM;
		switch (b->type) {
		case B_PAGE:
			r = hp_buf_addf(out, "<!-- page %d -->\n\n", b->page);
			break;
		case B_OCR:
			r = emit_ocr(out, b, s);
			break;
		case B_NOTE:
			r = hp_buf_addf(out, "<!-- %.*s -->\n\n", (int)b->len, s);
			break;
		case B_TABLE:
			r = hp_buf_add(out, s, b->len);
			if (r == 0)
				r = hp_buf_addc(out, '\n');
			break;
		case B_ITEM:
			for (int d = 0; d < b->depth && r == 0; d++)
				r = hp_buf_addstr(out, "  ");
			if (r == 0)
				r = hp_buf_addf(out, "%s ", b->marker);
			if (r == 0)
				r = hp_pdf_add_escaped(out, s, b->len, 0);
			if (r == 0)
				r = hp_buf_addstr(out, next_item ? "\n" : "\n\n");
			break;
		default:
			if (b->len == 0)
				break;
			if (b->level) {
				for (int k = 0; k < b->level && r == 0; k++)
					r = hp_buf_addc(out, '#');
				if (r == 0)
					r = hp_buf_addc(out, ' ');
				if (r == 0 && b->marker[0])
					r = hp_buf_addf(out, "%s ", b->marker);
				if (r == 0)
					r = hp_pdf_add_escaped(out, s, b->len, 0);
			} else
				r = add_block_text(out, s, b->len);
			if (r == 0)
				r = hp_buf_addstr(out, "\n\n");
		}
	}
	/* one newline at the end */
	while (r == 0 && out->len >= 2 && out->data[out->len - 1] == '\n' && out->data[out->len - 2] == '\n')
		out->data[--out->len] = '\0';
	return r;
}

