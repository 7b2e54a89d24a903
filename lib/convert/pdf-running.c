/* pdf-running.c — running headers, footers and page numbers, see
 * pdf-layout.h.
 *
 * Candidates are the segments in the top or bottom HP_PDF_MARGIN_FRAC of a
 * page. A bare page number there is dropped on every page; other text
 * whose digits-folded form ("Page #") repeats on at least 40% of the pages
 * (and two) is said once: the first occurrence stays, the rest are
 * dropped. A one-page file loses only a lone page number that is its
 * first or last line.
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

/* ---- running headers and footers ----------------------------------------- */

typedef struct margin_key {
	uint64_t hash;
	uint32_t page, seg;
} margin_key;

static uint64_t fold_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a, digits folded to '#' */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isdigit(c))
			c = '#';
		h = (h ^ c) * 1099511628211ull;
	}
	return h;
}

static int cmp_key(const void *a, const void *b)
{
	const margin_key *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return (x->seg > y->seg) - (x->seg < y->seg);
}

/* One page: only a page number that is the page's last (or first) line. */
static void drop_single_number(hp_pdf_page *pg, hp_pdf_layout_info *info)
{
	size_t lo = SIZE_MAX, hi = SIZE_MAX;
	for (size_t i = 0; i < pg->n_segs; i++) {
		const hp_pdf_seg *s = &pg->segs[i];
		if (s->flags & HP_PDF_ROTATED)
			continue;
		if (lo == SIZE_MAX || s->y0 < pg->segs[lo].y0)
			lo = i;
		if (hi == SIZE_MAX || s->y1 > pg->segs[hi].y1)
			hi = i;
	}
	size_t cand[2] = { lo, hi };
	for (int k = 0; k < 2; k++) {
		if (cand[k] == SIZE_MAX || (k == 1 && hi == lo))
			continue;
		hp_pdf_seg *s = &pg->segs[cand[k]];
		int alone = 1;  /* "1" before "Introduction" is a section number */
		for (size_t i = 0; i < pg->n_segs && alone; i++)
			if (i != cand[k] && pg->segs[i].y0 < s->y1 && pg->segs[i].y1 > s->y0)
				alone = 0;
		if (alone && (s->y1 <= pg->h * HP_PDF_MARGIN_FRAC || s->y0 >= pg->h * (1 - HP_PDF_MARGIN_FRAC)) &&
		    hp_pdf_is_page_number(hp_pdf_seg_text(pg, s), s->len)) {
			s->flags |= HP_PDF_DROPPED;
			info->dropped_lines++;
		}
	}
}

/* Does a segment outside the margins have text with this folded hash? */
static int said_elsewhere(const hp_pdf_page *pages, size_t n, uint64_t hash)
{
	for (size_t p = 0; p < n; p++) {
		const hp_pdf_page *pg = &pages[p];
		for (size_t i = 0; i < pg->n_segs; i++) {
			const hp_pdf_seg *s = &pg->segs[i];
			if (s->y1 <= pg->h * HP_PDF_MARGIN_FRAC || s->y0 >= pg->h * (1 - HP_PDF_MARGIN_FRAC))
				continue;
			if (fold_hash(hp_pdf_seg_text(pg, s), s->len) == hash)
				return 1;
		}
	}
	return 0;
}

int hp_pdf_drop_running(hp_pdf_page *pages, size_t n, hp_pdf_layout_info *info)
{
	if (n == 1)
		drop_single_number(&pages[0], info);
	if (n < 2)
		return 0;
	size_t cap = 0, nk = 0;
	margin_key *keys = NULL;
	for (size_t p = 0; p < n; p++) {
		hp_pdf_page *pg = &pages[p];
		for (size_t i = 0; i < pg->n_segs; i++) {
			hp_pdf_seg *s = &pg->segs[i];
			if (s->flags & HP_PDF_ROTATED)
				continue;
			if (!(s->y1 <= pg->h * HP_PDF_MARGIN_FRAC || s->y0 >= pg->h * (1 - HP_PDF_MARGIN_FRAC)))
				continue;
			if (hp_pdf_is_page_number(hp_pdf_seg_text(pg, s), s->len)) {
				s->flags |= HP_PDF_DROPPED;
				info->dropped_lines++;
				continue;
			}
			if (nk == cap) {
				cap = cap ? cap * 2 : 64;
				margin_key *nkeys = realloc(keys, cap * sizeof(*keys));
				if (!nkeys) {
					free(keys);
					return -ENOMEM;
				}
				keys = nkeys;
			}
			keys[nk++] = (margin_key){ fold_hash(hp_pdf_seg_text(pg, s), s->len), (uint32_t)p, (uint32_t)i };
		}
	}
	if (nk)
		qsort(keys, nk, sizeof(*keys), cmp_key);
	size_t need = n * 2 / 5;
	if (need < 2)
		need = 2;
	for (size_t a = 0; a < nk;) {
		size_t b = a, pages_with = 0;
		uint32_t last = UINT32_MAX;
		while (b < nk && keys[b].hash == keys[a].hash) {
			if (keys[b].page != last)
				pages_with++;
			last = keys[b].page;
			b++;
		}
		if (pages_with >= need) {
			/* keep the first occurrence: the text is said once;
			 * unless the body says it too (a title repeated as the
			 * running header) */
			size_t from = said_elsewhere(pages, n, keys[a].hash) ? a : a + 1;
			for (size_t k = from; k < b; k++) {
				hp_pdf_seg *s = &pages[keys[k].page].segs[keys[k].seg];
				s->flags |= HP_PDF_DROPPED;
				info->dropped_lines++;
			}
		}
		a = b;
	}
	free(keys);
	return 0;
}
