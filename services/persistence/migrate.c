/* migrate.c — see migrate.h. */
#include "migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/pgpool.h"
#include "tfdrift/id.h"
#include "tfdrift/log.h"

static const char create_table_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
				       " version integer PRIMARY KEY,"
				       " name text NOT NULL,"
				       " applied_at timestamptz NOT NULL DEFAULT now(),"
				       " checksum text NOT NULL)";

/* Records why a command failed; TD_EAGAIN when the connection is gone (worth
 * retrying), else `code`. */
static int
fail(PGconn *conn, const PGresult *res, int code, const char *what, td_error *err)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
	if (msg == NULL || *msg == '\0') {
		msg = PQerrorMessage(conn);
	}
	char clean[400];
	snprintf(clean, sizeof(clean), "%s", msg);
	td_pgpool_one_line(clean);
	if (PQstatus(conn) != CONNECTION_OK) {
		code = TD_EAGAIN;
	}
	return td_error_set(err, code, "%s: %s", what, clean);
}

/* Runs one command with text parameters, expecting `want`.  0 or fail(). */
static int
run(PGconn *conn, const char *sql, int nparams, const char *const *params, ExecStatusType want,
    PGresult **keep, const char *what, td_error *err)
{
	PGresult *res = nparams > 0 ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
				    : PQexec(conn, sql);
	int rv = 0;
	if (PQresultStatus(res) != want) {
		rv = fail(conn, res, TD_EDEPEND, what, err);
	}
	if (rv == 0 && keep != NULL) {
		*keep = res;
	} else {
		PQclear(res);
	}
	return rv;
}

/* Applies one migration in its own transaction. */
static int
apply(PGconn *conn, const ps_migration *m, const char *checksum, td_error *err)
{
	char what[160];
	char version[16];
	snprintf(version, sizeof(version), "%d", m->version);
	snprintf(what, sizeof(what), "migration %03d_%s", m->version, m->name);

	int rv = run(conn, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, what, err);
	if (rv != 0) {
		return rv;
	}
	/* PQexec runs a multi-statement script; the result is the last one's, or
	 * the first error's. */
	if ((rv = run(conn, m->sql, 0, NULL, PGRES_COMMAND_OK, NULL, what, err)) != 0) {
		goto rollback;
	}
	const char *params[] = { version, m->name, checksum };
	if ((rv = run(conn,
		 "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::integer, $2, $3)",
		 3, params, PGRES_COMMAND_OK, NULL, what, err)) != 0) {
		goto rollback;
	}
	if ((rv = run(conn, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, what, err)) != 0) {
		return rv;
	}
	TD_INFO("migration applied", TD_KV_INT("version", m->version), TD_KV_STR("name", m->name));
	return 0;

rollback:
	PQclear(PQexec(conn, "ROLLBACK"));
	return rv;
}

/* A schema_migrations.version cell (an integer column, so always digits). */
static int
version_at(const PGresult *res, int r)
{
	return (int)strtol(PQgetvalue(res, r, 0), NULL, 10);
}

/* Finds the row for version in the result of the schema_migrations query. */
static int
find_row(const PGresult *res, int version)
{
	for (int r = 0; r < PQntuples(res); r++) {
		if (version_at(res, r) == version) {
			return r;
		}
	}
	return -1;
}

int
ps_migrate(PGconn *conn, const ps_migration *list, size_t n, int *applied, td_error *err)
{
	PGresult *have = NULL;
	bool locked = false;
	int count = 0;
	int rv;
	char key[32];
	snprintf(key, sizeof(key), "%lld", (long long)PS_MIGRATE_LOCK_KEY);
	const char *kp[] = { key };

	if (applied != NULL) {
		*applied = 0;
	}
	/* Session lock: held across the per-migration transactions, and dropped
	 * by the server if this process dies. */
	if ((rv = run(conn, "SELECT pg_advisory_lock($1::bigint)", 1, kp, PGRES_TUPLES_OK, NULL,
		 "taking the migration lock", err)) != 0) {
		goto out;
	}
	locked = true;
	if ((rv = run(conn, create_table_sql, 0, NULL, PGRES_COMMAND_OK, NULL,
		 "creating schema_migrations", err)) != 0) {
		goto out;
	}
	if ((rv = run(conn, "SELECT version, checksum FROM schema_migrations ORDER BY version", 0,
		 NULL, PGRES_TUPLES_OK, &have, "reading schema_migrations", err)) != 0) {
		goto out;
	}

	int known = n > 0 ? list[n - 1].version : 0;
	int rows = PQntuples(have);
	int newest = rows > 0 ? version_at(have, rows - 1) : 0;
	if (newest > known) {
		rv = td_error_set(err, TD_EUNSUPPORTED,
		    "database schema is at version %d but this tfdrift-persistence knows only up to %d; "
		    "run a newer tfdrift-persistence (refusing to write to a schema it does not know)",
		    newest, known);
		goto out;
	}

	for (size_t i = 0; i < n; i++) {
		const ps_migration *m = &list[i];
		char sum[65];
		const char *parts[] = { m->sql };
		td_id_sha256_hex(sum, parts, 1);
		int r = find_row(have, m->version);
		if (r >= 0) {
			if (strcmp(PQgetvalue(have, r, 1), sum) != 0) {
				TD_WARN(
				    "applied migration differs from the embedded one (edited after release?)",
				    TD_KV_INT("version", m->version), TD_KV_STR("name", m->name),
				    TD_KV_STR("db_checksum", PQgetvalue(have, r, 1)),
				    TD_KV_STR("checksum", sum));
			}
			continue;
		}
		if ((rv = apply(conn, m, sum, err)) != 0) {
			goto out;
		}
		count++;
	}
	if (applied != NULL) {
		*applied = count;
	}
	rv = 0;

out:
	PQclear(have);
	if (locked && PQstatus(conn) == CONNECTION_OK) {
		PQclear(PQexecParams(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL, kp,
		    NULL, NULL, 0));
	}
	return rv;
}
