/* db.h — finding the database a config points at.
 *
 * What it does: turns [daemon] database into a libpq conninfo ("local" ->
 * the embedded cluster's socket) and connects with a clear error.
 * What it never does: start servers or change the schema.
 */
#ifndef HOPPER_DB_H
#define HOPPER_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "hopper/config.h"

/* Caller frees. NULL on ENOMEM. */
char *hp_db_conninfo(const hp_config *cfg);
/* Connect; on failure write a sentence into err (for the embedded default:
 * "hopperd is not running (no server at /var/lib/hopper/run)") and return
 * NULL. */
PGconn *hp_db_connect(const char *conninfo, char *err, size_t errlen);
/* The same connection defaults, without waiting: PQconnectStartParams.
 * The caller drives PQconnectPoll on PQsocket. NULL only on ENOMEM; a
 * CONNECTION_BAD result says why with PQerrorMessage. */
PGconn *hp_db_connect_start(const char *conninfo);

/* The server's message for a failed result on one line: primary text plus
 * detail, or libpq's own message (which may span lines) when there is no
 * server error (res may be NULL). Always NUL-terminates out. */
void hp_db_message(PGconn *conn, const PGresult *res, char *out, size_t outlen);

#endif
