/* search.c — full-text search over hopper.chunks, see include/hopper/search.h.
 * The SQL lives in lib/sql/005_chunks_search.sql (hopper.search and
 * hopper.set_search_config), so psql users get exactly what the CLI shows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/search.h"

int hp_search_set_config(PGconn *conn, const char *cfg)
{
	const char *params[] = { cfg };
	PGresult *res = PQexecParams(conn, "SELECT hopper.set_search_config($1::regconfig)", 1, NULL,
	                             params, NULL, NULL, 0);
	int r = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];
		hp_db_message(conn, res, msg, sizeof msg);
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		/* 42704: undefined_object, the configuration does not exist */
		if (state && strcmp(state, "42704") == 0) {
			hp_err("search_config = %s: no such text-search configuration on the server (%s); "
			       "psql -c '\\dF' lists them", cfg, msg);
			r = -EINVAL;
		} else {
			hp_err("applying search_config = %s: %s", cfg, msg);
			r = -EIO;
		}
	} else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		hp_notice("search_config = %s: the search column of every chunk was rebuilt", cfg);
	}
	PQclear(res);
	return r;
}

/* Snippets on one line: newlines and tabs become spaces. */
static void put_flat(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc(*s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s, out);
}

int hp_search_print(PGconn *conn, const char *words, const hp_search_opts *o, FILE *out, char *err,
                    size_t errlen)
{
	char lim[16];
	snprintf(lim, sizeof lim, "%d", o->max_rows);
	const char *on = o->color ? "\033[1m" : "**", *off = o->color ? "\033[0m" : "**";
	PGresult *res;
	if (o->qvec) {
		const char *params[] = { words, o->qvec, o->model, lim, on, off, o->watch };
		res = PQexecParams(conn,
		                   "SELECT path, heading, page, snippet, score, similarity"
		                   " FROM hopper.semantic_search($1, $2::real[], $3, $4::int, $5, $6, $7)",
		                   7, NULL, params, NULL, NULL, 0);
	} else {
		const char *params[] = { words, lim, on, off, o->watch };
		res = PQexecParams(conn,
		                   "SELECT path, heading, page, snippet, rank"
		                   " FROM hopper.search($1, $2::int, $3, $4, $5)",
		                   5, NULL, params, NULL, NULL, 0);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		hp_db_message(conn, res, err, errlen);
		PQclear(res);
		return -EIO;
	}
	int n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		const char *path = PQgetisnull(res, i, 0) ? "(no current file)" : PQgetvalue(res, i, 0);
		fprintf(out, "%s%s%s", o->color ? "\033[36m" : "", path, o->color ? "\033[0m" : "");
		if (!PQgetisnull(res, i, 2))
			fprintf(out, ", page %s", PQgetvalue(res, i, 2));
		if (o->qvec && !PQgetisnull(res, i, 5))
			fprintf(out, "  (score %.4f, similarity %.3f)\n", atof(PQgetvalue(res, i, 4)),
			        atof(PQgetvalue(res, i, 5)));
		else
			fprintf(out, "  (%s %.3f)\n", o->qvec ? "score" : "rank", atof(PQgetvalue(res, i, 4)));
		if (*PQgetvalue(res, i, 1))
			fprintf(out, "  %s\n", PQgetvalue(res, i, 1));
		fputs("  ", out);
		put_flat(out, PQgetvalue(res, i, 3));
		fputs("\n\n", out);
	}
	PQclear(res);
	return n;
}
