/* db.c — finding the database a config points at, see include/hopper/db.h */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/pgembed.h"

#define DEFAULT_STATE_DIR "/var/lib/hopper"

char *hp_db_conninfo(const hp_config *cfg)
{
	const char *db = cfg && cfg->database && cfg->database[0] ? cfg->database : "local";
	if (strcmp(db, "local") != 0)
		return strdup(db);
	return hp_pgembed_conninfo(cfg && cfg->state_dir ? cfg->state_dir : DEFAULT_STATE_DIR);
}

/* libpq's messages end in newlines and may span lines; make one line. */
static void one_line(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/* For a Unix-socket conninfo whose socket file is absent, say so plainly:
 * the usual cause is that no server runs there. Returns true if it wrote. */
static bool explain_missing_socket(const char *conninfo, char *err, size_t errlen)
{
	bool wrote = false;
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	if (!opts)
		return false;
	const char *host = NULL, *port = NULL, *dbname = NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			dbname = o->val;
	}
	/* One socket directory only; lists of hosts are left to libpq. */
	if (host && host[0] == '/' && !strchr(host, ',')) {
		char sock[4200];
		struct stat st;
		snprintf(sock, sizeof sock, "%s/.s.PGSQL.%s", host, port && port[0] ? port : "5432");
		if (stat(sock, &st) < 0 && errno == ENOENT) {
			size_t hl = strlen(host);
			bool embedded = dbname && strcmp(dbname, "hopper") == 0 && hl >= 4 &&
			                strcmp(host + hl - 4, "/run") == 0;
			if (embedded)
				snprintf(err, errlen, "hopperd is not running (no database server at %s)", host);
			else
				snprintf(err, errlen, "no PostgreSQL server is running at %s (no socket %s)",
				         host, sock);
			wrote = true;
		}
	}
	PQconninfoFree(opts);
	return wrote;
}

/* Server notices go to our log with a level, not raw to stderr. NOTICEs
 * ("relation already exists, skipping") are chatter: debug. */
static void notice_to_log(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	bool warn = sev && strcmp(sev, "WARNING") == 0;
	hp_log(warn ? HP_LOG_WARNING : HP_LOG_DEBUG, "database %s: %s", warn ? "warning" : "notice",
	       msg ? msg : "");
}

static const char *const conn_keys[] = { "connect_timeout", "keepalives", "keepalives_idle",
	                                 "keepalives_interval", "keepalives_count",
	                                 "tcp_user_timeout", "application_name", "dbname", NULL };

static const char **conn_vals(const char *conninfo, const char **vals)
{
	static const char *const defaults[] = { "10", "1", "30", "10", "3", "60000", "hopper" };
	for (size_t i = 0; i < HP_ARRAY_SIZE(defaults); i++)
		vals[i] = defaults[i];
	vals[HP_ARRAY_SIZE(defaults)] = conninfo;
	vals[HP_ARRAY_SIZE(defaults) + 1] = NULL;
	return vals;
}

PGconn *hp_db_connect_start(const char *conninfo)
{
	const char *vals[HP_ARRAY_SIZE(conn_keys)];
	PGconn *c = PQconnectStartParams(conn_keys, conn_vals(conninfo, vals), 1);
	if (c && PQstatus(c) != CONNECTION_BAD)
		PQsetNoticeReceiver(c, notice_to_log, NULL);
	return c;
}

PGconn *hp_db_connect(const char *conninfo, char *err, size_t errlen)
{
	/* Defaults first, then the user's conninfo (expand_dbname), whose own
	 * settings win. Without them a server that stops answering (network
	 * partition) blocks the supervisor's loop for as long as TCP retries:
	 * ~15 minutes. Unix sockets ignore the TCP ones. */
	const char *vals[HP_ARRAY_SIZE(conn_keys)];
	PGconn *c = PQconnectdbParams(conn_keys, conn_vals(conninfo, vals), 1);
	if (c && PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeReceiver(c, notice_to_log, NULL);
		return c;
	}
	if (!explain_missing_socket(conninfo, err, errlen)) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
		one_line(msg);
		/* Name the target by its parts, never by the conninfo: it may hold
		 * a password. */
		const char *host = c ? PQhost(c) : NULL, *db = c ? PQdb(c) : NULL;
		snprintf(err, errlen, "cannot connect to database %s%s%s: %s", db && db[0] ? db : "?",
		         host && host[0] ? " on " : "", host && host[0] ? host : "", msg);
	}
	PQfinish(c);
	return NULL;
}

void hp_db_message(PGconn *conn, const PGresult *res, char *out, size_t outlen)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	if (primary)
		snprintf(out, outlen, "%s%s%s%s", primary, detail ? " (" : "", detail ? detail : "",
		         detail ? ")" : "");
	else
		snprintf(out, outlen, "%s", PQerrorMessage(conn));
	size_t w = 0;
	for (size_t i = 0; out[i]; i++) {
		char ch = out[i] == '\n' || out[i] == '\t' ? ' ' : out[i];
		if (ch == ' ' && (w == 0 || out[w - 1] == ' '))
			continue;
		out[w++] = ch;
	}
	while (w > 0 && out[w - 1] == ' ')
		w--;
	out[w] = '\0';
}
