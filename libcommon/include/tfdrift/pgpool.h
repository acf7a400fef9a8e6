/* pgpool.h — a fixed set of libpq connections shared by worker threads.
 *
 * Used by persistence (one connection per bus worker) and api-gateway (a few
 * connections for many HTTP threads).  Connections open lazily on acquire and
 * are reopened after they break, with a backoff shared by the whole pool
 * (100 ms doubling to 5 s) so an outage costs one failed dial per backoff
 * step, not one per request.  A background thread checks an idle connection
 * every check_interval so readiness follows the database even when no work
 * arrives.
 *
 * Threads: any thread may acquire/release; a connection belongs to the thread
 * that acquired it until it releases it.  td_pgpool_up/td_pgpool_last_error read
 * state kept under the pool's mutex. */
#ifndef TFDRIFT_PGPOOL_H
#define TFDRIFT_PGPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "tfdrift/error.h"

typedef struct td_pgpool td_pgpool;

typedef struct td_pgpool_opts {
	const char *name;           /* logs, and libpq fallback_application_name */
	const char *dsn;            /* libpq conninfo or URI; "" = PG* environment */
	int64_t connect_timeout_ms; /* rounded up to whole seconds (libpq's unit), at least 2 */
	int size;                   /* connections; >= 1 */
	const char *options; /* libpq "options" (e.g. "-c statement_timeout=10000"); NULL = none */
	int64_t check_interval_ms; /* idle health check; 0 = none */
	/* Called after every dial, check and release with whether the database
	 * worked (e.g. to set a gauge); any thread, no pool lock held.  May be NULL. */
	void (*on_state)(void *arg, bool up);
	void *state_arg;
} td_pgpool_opts;

/* Creates the pool without dialing.  *out owned by caller (td_pgpool_close). */
int td_pgpool_open(td_pgpool **out, const td_pgpool_opts *opts, td_error *err);

/* Takes a connected connection, waiting up to wait_ms (<0: forever) for a free
 * one.  0: *conn is connected and idle (no transaction open) and belongs to
 * the caller until td_pgpool_release.  TD_EAGAIN: the database is unreachable
 * now (dial failed, or still backing off from the last failure).
 * TD_ETIMEDOUT: all busy.  TD_ECLOSED: the pool is closing. */
int td_pgpool_acquire(td_pgpool *p, int wait_ms, PGconn **conn);

/* Gives conn back.  discard: the caller saw it misbehave; it is closed and
 * reopened on a later acquire.  A connection that is broken or left inside a
 * transaction is discarded as well.  Records success or failure for
 * td_pgpool_up. */
void td_pgpool_release(td_pgpool *p, PGconn *conn, bool discard);

/* True when the last dial/check/release saw the database working. */
bool td_pgpool_up(td_pgpool *p);
/* Copies the last failure ("" when up) into buf. */
void td_pgpool_last_error(td_pgpool *p, char *buf, size_t len);
/* Connections currently open (connected), for health output. */
int td_pgpool_open_count(td_pgpool *p);

/* Starts a stop: from grace_ms on, commands still running on acquired
 * connections are cancelled (PQcancel) so that whoever waits for them (a
 * bus worker, an HTTP thread) returns and the process can exit in time; a
 * cancelled transaction rolls back.  Needs the check thread
 * (check_interval_ms > 0); otherwise nothing is cancelled. */
void td_pgpool_drain(td_pgpool *p, int64_t grace_ms);

/* Stops the check thread, closes every connection and frees p.  Callers must
 * have released everything.  NULL is ignored. */
void td_pgpool_close(td_pgpool *p);

/* Whom a failed command blames, from its SQLSTATE class. */
typedef enum td_pg_fault {
	/* The data of the row(s) written: 22 data exception (bad timestamp,
	 * invalid JSON, bad encoding), 23 integrity constraint violation, 44
	 * WITH CHECK OPTION, 54 program limit (a value too large to index).  The
	 * same row fails again; other rows may pass. */
	TD_PG_FAULT_ROW,
	/* The database's setup, alike for every row until someone changes it:
	 * 42 privileges / missing or changed table / syntax, 25 read-only
	 * transaction, 28 authorization, 3D/3F missing database or schema, 0A
	 * feature not supported. */
	TD_PG_FAULT_SETUP,
	/* Anything else, and no result or no SQLSTATE at all: 08 connection,
	 * 40 serialization or deadlock, 53 disk full / out of memory, 57
	 * shutdown or cancel, 58, XX ...: worth trying again later. */
	TD_PG_FAULT_TRANSIENT,
} td_pg_fault;

/* Classifies a failed command's result (res may be NULL). */
td_pg_fault td_pgpool_fault(const PGresult *res);

/* Copies res's SQLSTATE (5 characters; "" when there is none) into buf,
 * which has room for 6 bytes. */
void td_pgpool_sqlstate(const PGresult *res, char buf[6]);

/* Folds a libpq message ("...failed: Connection refused\n\tIs the server
 * running...") onto one line in place, for logs, readiness reasons and Acks.
 * Returns the new length. */
size_t td_pgpool_one_line(char *s);

#endif
