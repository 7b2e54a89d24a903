/* table.h — how the hopper CLI prints query results.
 *
 * What it does: prints one PGresult in the format a person or a script
 * asked for: an aligned table (psql's default look), unaligned rows with a
 * separator (psql -A, -F), CSV (RFC 4180), or JSON (an array of objects,
 * one per row; SQL NULL is null, every other value a string, as libpq
 * returns it). Tuples-only (-t) drops the header and the row count.
 * What it never does: run queries, or change a value beyond quoting it for
 * the format (the aligned table shows control characters as spaces, so a
 * row stays one line; the other formats keep them, quoted).
 */
#ifndef HOPPER_DAEMON_TABLE_H
#define HOPPER_DAEMON_TABLE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

typedef enum hp_table_format {
	HP_TABLE_ALIGNED = 0,
	HP_TABLE_UNALIGNED,
	HP_TABLE_CSV,
	HP_TABLE_JSON,
} hp_table_format;

typedef struct hp_table_opts {
	hp_table_format format;
	bool tuples_only;     /* no header, no "(N rows)" footer */
	const char *sep;      /* field separator for HP_TABLE_UNALIGNED; NULL = "|" */
} hp_table_opts;

/* Print res (borrowed) to out. */
void hp_table_print(const PGresult *res, const hp_table_opts *o, FILE *out);
/* Print s as a JSON string literal (quotes included). */
void hp_json_string(FILE *out, const char *s);

#endif
