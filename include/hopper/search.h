/* search.h — full-text search over hopper.chunks (issue 18).
 *
 * What it does: applies [daemon] search_config to the database (the
 * generated chunks.tsv column, via hopper.set_search_config() of migration
 * 005) and runs hopper.search() for `hopper search`, printing path, heading
 * path, page and a highlighted snippet per hit.
 * What it never does: change chunks or documents other than rebuilding tsv.
 * Process rules: supervisor (start-up) and CLI; calls block on the database.
 */
#ifndef HOPPER_SEARCH_H
#define HOPPER_SEARCH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

/* Make chunks.tsv use text-search configuration cfg ("simple", "english",
 * ...). Rebuilds the column once when it changed (logged). Errors are
 * logged once here (an unknown configuration says so); returns 0, or
 * -EINVAL for a configuration the server does not know, -EIO otherwise. */
int hp_search_set_config(PGconn *conn, const char *cfg);

typedef struct hp_search_opts {
	int max_rows;        /* at most this many hits */
	bool color;          /* highlight with ANSI bold, else with ** */
	const char *watch;   /* only documents of this watch; NULL = all */
	/* Semantic: the query's vector (an array literal "{...}") and the
	 * model it came from; ranks by cosine similarity over
	 * hopper.embeddings fused with full-text rank (hopper.semantic_search).
	 * NULL = full text only (hopper.search). */
	const char *qvec, *model;
} hp_search_opts;

/* Print the best chunks for words (websearch_to_tsquery syntax: words,
 * "a phrase", -not, or) to out. Returns the number of hits, or -EIO with
 * the server's message in err. */
int hp_search_print(PGconn *conn, const char *words, const hp_search_opts *o, FILE *out, char *err,
                    size_t errlen);

#endif
