/* migrate.h — numbered schema migrations, compiled into the binary.
 *
 * What it does: applies lib/sql/NNN_name.sql in order, each inside one
 * transaction, under pg_advisory_lock (so several daemons may start at
 * once), recording each in hopper.schema_version(version, name, applied_at).
 * The SQL text is embedded by the build (build/sql_migrations.c).
 * What it never does: downgrade. A database newer than the binary is an
 * error ("schema version 7 is newer than this hopperd (5)").
 */
#ifndef HOPPER_MIGRATE_H
#define HOPPER_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct hp_migration {
	int version;
	const char *name;
	const char *sql;
} hp_migration;

extern const hp_migration hp_migrations[];
extern const size_t hp_n_migrations;

/* Apply what is missing: every version of hp_migrations[] not recorded in
 * hopper.schema_version, in ascending order, also one below the highest
 * applied (a migration merged late). Returns the number applied (>= 0) or
 * -errno; the error is logged with the server's message. */
int hp_migrate(PGconn *conn);
/* The same with another list (ascending versions): for tests. */
int hp_migrate_list(PGconn *conn, const hp_migration *list, size_t n);

#endif
