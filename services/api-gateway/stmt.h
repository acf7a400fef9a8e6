/* stmt.h — server-side prepared statements per pooled connection, keyed by
 * the SQL text.
 *
 * The gateway's reads are few distinct SQL texts run many times with other
 * parameters (the /drifts query varies only by which filters are given).
 * PostgreSQL spends far longer parsing and planning such a query than
 * running it (about 1 ms against 0.1 ms for a list page), so each text is
 * prepared once per connection (PQprepare) and run with PQexecPrepared
 * after that; PostgreSQL's plan cache then keeps a generic plan when it is
 * as good as a custom one.  Values stay separate parameters as before.
 *
 * Each connection keeps up to GW_STMT_PER_CONN statements; the least
 * recently used one is deallocated to make room.  A connection is told
 * apart from one that replaced it at the same address by its backend pid;
 * a statement the server no longer knows (SQLSTATE 26000) is prepared
 * again once.
 *
 * Threads: any thread, but a connection only by the thread holding it
 * (the pool's rule); the table of connections has its own mutex. */
#ifndef TFDRIFT_GW_STMT_H
#define TFDRIFT_GW_STMT_H

#include <stdbool.h>

#include <libpq-fe.h>

#define GW_STMT_PER_CONN 64

/* Off: every call is a plain PQexecParams (for comparisons). */
void gw_stmt_enable(bool on);

/* Runs sql with nparams text values on conn, prepared, results in
 * result_format (0 text, 1 binary).  Returns what PQexecParams would (NULL
 * only when out of memory); caller PQclears. */
PGresult *gw_stmt_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
    int result_format);

/* Prepared statements made and reused since start (for tests and metrics). */
void gw_stmt_counts(unsigned long *prepared, unsigned long *reused);

#endif
