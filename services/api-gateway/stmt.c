/* stmt.c — see stmt.h. */
#include "stmt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/hash.h"
#include "tfdrift/log.h"

/* Connections remembered at once: more than a pool may hold (128), so a
 * slot is reused only for a connection that is gone. */
#define MAX_CONNS 256

typedef struct entry {
	uint64_t hash;
	char *sql; /* owned; NULL: free */
	char name[24];
	uint64_t used; /* the slot's clock at the last use */
} entry;

typedef struct slot {
	PGconn *conn; /* NULL: free */
	int pid;      /* the backend the statements live in */
	bool busy;    /* a thread is using it (not to be reused) */
	uint64_t clock;
	uint64_t last_use; /* the table's clock */
	entry e[GW_STMT_PER_CONN];
} slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static slot *table;
static uint64_t table_clock;
static atomic_bool enabled = true;
static atomic_ulong n_prepared, n_reused, n_names;

void
gw_stmt_enable(bool on)
{
	atomic_store(&enabled, on);
}

void
gw_stmt_counts(unsigned long *prepared, unsigned long *reused)
{
	*prepared = atomic_load(&n_prepared);
	*reused = atomic_load(&n_reused);
}

static void
slot_clear(slot *s)
{
	for (size_t i = 0; i < GW_STMT_PER_CONN; i++) {
		free(s->e[i].sql);
		s->e[i].sql = NULL;
	}
}

/* The slot for conn, marked busy; NULL when out of memory or every slot
 * is busy.  A slot whose backend pid differs belongs to an older
 * connection that had the same address: its statements are forgotten. */
static slot *
slot_take(PGconn *conn)
{
	int pid = PQbackendPID(conn);
	slot *found = NULL, *lru = NULL;
	pthread_mutex_lock(&mu);
	if (table == NULL && (table = calloc(MAX_CONNS, sizeof(*table))) == NULL) {
		goto out;
	}
	for (size_t i = 0; i < MAX_CONNS; i++) {
		slot *s = &table[i];
		if (s->conn == conn) {
			found = s;
			break;
		}
		if (!s->busy &&
		    (lru == NULL || s->conn == NULL ||
			(lru->conn != NULL && s->last_use < lru->last_use))) {
			lru = s;
		}
	}
	if (found == NULL && lru != NULL) {
		found = lru;
		slot_clear(found);
		found->conn = conn;
		found->pid = pid;
	}
	if (found != NULL) {
		if (found->busy) {
			found = NULL; /* cannot happen: a connection has one holder */
			goto out;
		}
		if (found->pid != pid) {
			slot_clear(found);
			found->pid = pid;
		}
		found->busy = true;
		found->last_use = ++table_clock;
	}
out:
	pthread_mutex_unlock(&mu);
	return found;
}

static void
slot_give(slot *s)
{
	pthread_mutex_lock(&mu);
	s->busy = false;
	pthread_mutex_unlock(&mu);
}

static bool
is_sqlstate(const PGresult *res, const char *state)
{
	const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return s != NULL && strcmp(s, state) == 0;
}

/* Prepares sql into a free or the least recently used entry of s.  NULL
 * with *res set (the failure) when it cannot. */
static entry *
prepare(slot *s, PGconn *conn, const char *sql, uint64_t hash, PGresult **res)
{
	entry *e = NULL;
	for (size_t i = 0; i < GW_STMT_PER_CONN; i++) {
		if (s->e[i].sql == NULL) {
			e = &s->e[i];
			break;
		}
		if (e == NULL || s->e[i].used < e->used) {
			e = &s->e[i];
		}
	}
	if (e->sql != NULL) {
		char dealloc[48];
		snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", e->name);
		PQclear(PQexec(conn, dealloc)); /* a failure shows in the next command */
		free(e->sql);
		e->sql = NULL;
	}
	char *copy = strdup(sql);
	if (copy == NULL) {
		*res = NULL;
		return NULL;
	}
	snprintf(e->name, sizeof(e->name), "gw_%lu", atomic_fetch_add(&n_names, 1) + 1);
	PGresult *p = PQprepare(conn, e->name, sql, 0, NULL);
	if (PQresultStatus(p) != PGRES_COMMAND_OK) {
		free(copy);
		*res = p;
		return NULL;
	}
	PQclear(p);
	e->sql = copy;
	e->hash = hash;
	atomic_fetch_add(&n_prepared, 1);
	return e;
}

PGresult *
gw_stmt_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
    int result_format)
{
	if (!atomic_load(&enabled)) {
		return PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, result_format);
	}
	slot *s = slot_take(conn);
	if (s == NULL) {
		return PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, result_format);
	}
	uint64_t hash = td_hash_str(TD_HASH_INIT, sql);
	PGresult *res = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		entry *e = NULL;
		for (size_t i = 0; i < GW_STMT_PER_CONN; i++) {
			if (s->e[i].sql != NULL && s->e[i].hash == hash &&
			    strcmp(s->e[i].sql, sql) == 0) {
				e = &s->e[i];
				atomic_fetch_add(&n_reused, 1);
				break;
			}
		}
		if (e == NULL && (e = prepare(s, conn, sql, hash, &res)) == NULL) {
			break; /* res: the failed PREPARE (or NULL) */
		}
		e->used = ++s->clock;
		res = PQexecPrepared(conn, e->name, nparams, values, NULL, NULL, result_format);
		if (attempt == 0 && is_sqlstate(res, "26000")) {
			/* The server lost our statements (DISCARD ALL, a pooler
			 * in between): forget them all and prepare again. */
			TD_INFO("prepared statement missing on the server; preparing again");
			PQclear(res);
			res = NULL;
			slot_clear(s);
			continue;
		}
		break;
	}
	slot_give(s);
	return res;
}
