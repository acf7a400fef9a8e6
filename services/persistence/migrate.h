/* migrate.h — versioned schema migrations, embedded in the binary.
 *
 * services/persistence/migrations/NNN_name.sql become ps_migrations[] at build
 * time (scripts/embed-sql.sh, services/persistence/build.mk).  ps_migrate
 * applies the ones the database lacks, each in its own transaction, while
 * holding a session advisory lock so two processes starting together take
 * turns; each is recorded in schema_migrations(version, name, applied_at,
 * checksum) where checksum is the hex SHA-256 of the SQL text. */
#ifndef TFDRIFT_PS_MIGRATE_H
#define TFDRIFT_PS_MIGRATE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "tfdrift/error.h"

typedef struct ps_migration {
	int version; /* NNN */
	const char *name;
	const char *sql; /* the file's text, byte for byte */
} ps_migration;

/* Generated from the .sql files; ascending version. */
extern const ps_migration ps_migrations[];
extern const size_t ps_migrations_count;

/* The advisory lock key every tfdrift-persistence takes while migrating
 * ("tfdrift" in ASCII, so it is recognisable in pg_locks). */
#define PS_MIGRATE_LOCK_KEY 0x7466647269667400LL

/* Brings the database at conn up to the last of list[0..n) (ascending).
 * Returns 0 when the schema is current (*applied: how many were applied now;
 * may be NULL).  Failures, with err saying what:
 *   TD_EUNSUPPORTED  the database has a version newer than list knows: this
 *                    binary is older than the schema; refuse to run
 *   TD_EAGAIN        the connection failed; try again later
 *   TD_EDEPEND       a migration's SQL failed (rolled back; a bug to fix)
 * Checksum mismatches of already-applied versions are logged, not fatal. */
int ps_migrate(PGconn *conn, const ps_migration *list, size_t n, int *applied, td_error *err);

#endif
