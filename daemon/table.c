/* table.c — see table.h */
#include <stdlib.h>
#include <string.h>

#include "table.h"

/* Display width of a UTF-8 string: one column per code point. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

static const char *value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col);
}

/* Aligned cells are shown on one line: control characters become spaces. */
static void put_cell(FILE *out, const char *s, size_t pad)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 ? ' ' : *s, out);
	fprintf(out, "%*s", (int)pad, "");
}

static void print_aligned(const PGresult *res, const hp_table_opts *o, FILE *out)
{
	int nf = PQnfields(res), nt = PQntuples(res);
	size_t *w = calloc((size_t)nf + 1, sizeof *w);
	if (!w)
		return;
	for (int c = 0; c < nf; c++)
		w[c] = o->tuples_only ? 0 : width(PQfname(res, c));
	for (int r = 0; r < nt; r++)
		for (int c = 0; c < nf; c++)
			if (width(value(res, r, c)) > w[c])
				w[c] = width(value(res, r, c));
	if (!o->tuples_only) {
		for (int c = 0; c < nf; c++) {
			fputs(c ? " | " : " ", out);
			put_cell(out, PQfname(res, c), w[c] - width(PQfname(res, c)));
		}
		fputc('\n', out);
		for (int c = 0; c < nf; c++) {
			fputs(c ? "-+-" : "-", out);
			for (size_t i = 0; i < w[c]; i++)
				fputc('-', out);
		}
		fputs("-\n", out);
	}
	for (int r = 0; r < nt; r++) {
		for (int c = 0; c < nf; c++) {
			fputs(c ? " | " : " ", out);
			put_cell(out, value(res, r, c), w[c] - width(value(res, r, c)));
		}
		fputc('\n', out);
	}
	if (!o->tuples_only)
		fprintf(out, "(%d row%s)\n", nt, nt == 1 ? "" : "s");
	free(w);
}

static void print_unaligned(const PGresult *res, const hp_table_opts *o, FILE *out)
{
	const char *sep = o->sep ? o->sep : "|";
	int nf = PQnfields(res), nt = PQntuples(res);
	if (!o->tuples_only) {
		for (int c = 0; c < nf; c++)
			fprintf(out, "%s%s", c ? sep : "", PQfname(res, c));
		fputc('\n', out);
	}
	for (int r = 0; r < nt; r++) {
		for (int c = 0; c < nf; c++)
			fprintf(out, "%s%s", c ? sep : "", value(res, r, c));
		fputc('\n', out);
	}
	if (!o->tuples_only)
		fprintf(out, "(%d row%s)\n", nt, nt == 1 ? "" : "s");
}

/* RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled. */
static void csv_field(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void print_csv(const PGresult *res, const hp_table_opts *o, FILE *out)
{
	int nf = PQnfields(res), nt = PQntuples(res);
	if (!o->tuples_only) {
		for (int c = 0; c < nf; c++) {
			if (c)
				fputc(',', out);
			csv_field(out, PQfname(res, c));
		}
		fputs("\r\n", out);
	}
	for (int r = 0; r < nt; r++) {
		for (int c = 0; c < nf; c++) {
			if (c)
				fputc(',', out);
			csv_field(out, value(res, r, c));
		}
		fputs("\r\n", out);
	}
}

void hp_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void print_json(const PGresult *res, FILE *out)
{
	int nf = PQnfields(res), nt = PQntuples(res);
	fputc('[', out);
	for (int r = 0; r < nt; r++) {
		fputs(r ? ",\n{" : "\n{", out);
		for (int c = 0; c < nf; c++) {
			if (c)
				fputc(',', out);
			hp_json_string(out, PQfname(res, c));
			fputc(':', out);
			if (PQgetisnull(res, r, c))
				fputs("null", out);
			else
				hp_json_string(out, PQgetvalue(res, r, c));
		}
		fputc('}', out);
	}
	fputs(nt ? "\n]\n" : "]\n", out);
}

void hp_table_print(const PGresult *res, const hp_table_opts *o, FILE *out)
{
	switch (o->format) {
	case HP_TABLE_ALIGNED: print_aligned(res, o, out); break;
	case HP_TABLE_UNALIGNED: print_unaligned(res, o, out); break;
	case HP_TABLE_CSV: print_csv(res, o, out); break;
	case HP_TABLE_JSON: print_json(res, out); break;
	}
}
