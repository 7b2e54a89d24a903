/* csv.c — CSV/TSV to a GFM pipe table.
 *
 * Parsing follows RFC 4180 (quoted fields, "" for a quote, line breaks
 * inside quotes) and is lenient about what real exports do: a stray quote
 * inside an unquoted field is kept, CRLF or LF ends a record, rows may
 * have different lengths (short rows are padded). The delimiter is a tab
 * for .tsv, else whichever of , ; \t occurs most on the first line. The
 * first row is the header (as markitdown does). Cells have whitespace
 * collapsed and '|' escaped, so each record stays one table row. Every
 * row has the width of the widest record, up to CSV_MAX_COLS; a wider
 * file leaves a note after the table and a warning in meta.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hopper/common.h"
#include "hopper/convert.h"
#include "convert-int.h"

#define CSV_MAX_COLS 1000

static char pick_delim(const char *name, const char *s, size_t n)
{
	const char *dot = name ? strrchr(name, '.') : NULL;
	if (dot && strcasecmp(dot, ".tsv") == 0)
		return '\t';
	size_t c = 0, sc = 0, t = 0;
	int q = 0;
	for (size_t i = 0; i < n && (q || s[i] != '\n'); i++) {
		if (s[i] == '"')
			q = !q;
		else if (!q && s[i] == ',')
			c++;
		else if (!q && s[i] == ';')
			sc++;
		else if (!q && s[i] == '\t')
			t++;
	}
	if (t > c && t > sc)
		return '\t';
	if (sc > c)
		return ';';
	return ',';
}

/* Parse one field starting at *pos into cell (collapsed, '|' escaped).
 * Returns 1 when the record ends after this field, 0 when more follow. */
static int csv_field(const char *s, size_t n, size_t *pos, char delim, hp_buf *cell, int *err)
{
	size_t i = *pos;
	int quoted = 0, space = 0, r = 0, end = 1;
	hp_buf_reset(cell);
	if (i < n && s[i] == '"') {
		quoted = 1;
		i++;
	}
	for (; i < n && r == 0; i++) {
		char c = s[i];
		if (quoted) {
			if (c == '"') {
				if (i + 1 < n && s[i + 1] == '"') {
					i++;
				} else {
					quoted = 0;
					continue;
				}
			}
		} else if (c == delim) {
			end = 0;
			i++;
			break;
		} else if (c == '\n') {
			i++;
			break;
		} else if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			i += 2;
			break;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = cell->len > 0;
			continue;
		}
		if (space)
			r = hp_buf_addc(cell, ' ');
		space = 0;
		if (r == 0 && (c == '|' || c == '\\'))
			r = hp_buf_addc(cell, '\\');
		if (r == 0)
			r = hp_buf_addc(cell, c);
	}
	*pos = i;
	if (r < 0)
		*err = r;
	return end;
}

/* At a blank line between records: step over it. */
static int skip_blank_line(const char *s, size_t n, size_t *pos)
{
	if (s[*pos] == '\n' || (s[*pos] == '\r' && *pos + 1 < n && s[*pos + 1] == '\n')) {
		*pos += s[*pos] == '\r' ? 2 : 1;
		return 1;
	}
	return 0;
}

/* Pass 1: the widest record, so that every row gets the header's width
 * (GFM drops cells past it without a word). */
static size_t csv_widest(const char *s, size_t n, char delim, hp_buf *cell, int *r)
{
	size_t widest = 0;
	for (size_t pos = 0; pos < n && *r == 0;) {
		if (skip_blank_line(s, n, &pos))
			continue;
		size_t k = 0;
		for (int end = 0; !end && *r == 0; k++)
			end = csv_field(s, n, &pos, delim, cell, r) || pos >= n;
		if (k > widest)
			widest = k;
	}
	return widest;
}

/* Pass 2: every record as a row of `cols` cells, the delimiter row after
 * the first. Sets *ret_rows. 0 or -errno. */
static int csv_write(const char *s, size_t n, char delim, size_t cols, hp_buf *cell,
                     hp_buf *out, size_t *ret_rows)
{
	size_t row = 0;
	int r = 0;
	for (size_t pos = 0; pos < n && r == 0;) {
		if (skip_blank_line(s, n, &pos))
			continue;
		size_t k = 0;
		r = hp_buf_addc(out, '|');
		for (int end = 0; !end && r == 0;) {
			end = csv_field(s, n, &pos, delim, cell, &r);
			if (r == 0 && k < cols)
				r = hp_buf_addf(out, " %s |", cell->data ? cell->data : "");
			k++;
			if (pos >= n)
				end = 1;
		}
		for (size_t j = k; j < cols && r == 0; j++)
			r = hp_buf_addstr(out, "  |");
		if (r == 0)
			r = hp_buf_addc(out, '\n');
		if (row == 0) {
			r = r ? r : hp_buf_addc(out, '|');
			for (size_t j = 0; j < cols && r == 0; j++)
				r = hp_buf_addstr(out, " --- |");
			if (r == 0)
				r = hp_buf_addc(out, '\n');
		}
		row++;
	}
	*ret_rows = row;
	return r;
}

static int convert_csv(const char *name, const char *data, size_t len,
                       const hp_convert_limits *lim, hp_doc *doc, char *err, size_t errlen)
{
	char *s = NULL;
	size_t n, rows = 0;
	hp_buf out, cell;
	hp_buf_init(&out, lim->max_output);
	hp_buf_init(&cell, lim->max_output);
	int r = hp_to_utf8(data, len, &s, &n, err, errlen);
	if (r < 0)
		goto fail;
	char delim = pick_delim(name, s, n);
	size_t widest = csv_widest(s, n, delim, &cell, &r);
	size_t cols = widest < CSV_MAX_COLS ? widest : CSV_MAX_COLS;
	if (r == 0)
		r = csv_write(s, n, delim, cols, &cell, &out, &rows);
	if (r == 0 && widest > cols)
		r = hp_conv_note(doc, &out, "table cut to the first %zu of %zu columns", cols, widest);
	if (r == -EFBIG) {
		r = hp_conv_efbig(lim->max_output, err, errlen);
		goto fail;
	}
	if (r < 0)
		goto fail;
	if (rows == 0) {
		snprintf(err, errlen, "CSV file has no rows");
		r = -EINVAL;
		goto fail;
	}
	doc->markdown_len = out.len;
	doc->markdown = hp_buf_steal(&out);
	if (!doc->markdown) {
		r = -ENOMEM;
		goto fail;
	}
	free(s);
	hp_buf_free(&cell);
	return 0;
fail:
	free(s);
	hp_buf_free(&out);
	hp_buf_free(&cell);
	return r;
}

const hp_converter hp_conv_csv = { HP_FMT_CSV, convert_csv };
