/* pgpool.c — see pgpool.h. */
#include "tfdrift/pgpool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tfdrift/clock.h"
#include "tfdrift/log.h"

enum {
	BACKOFF_MIN_MS = 100,
	BACKOFF_MAX_MS = 5000,
};

/* conn and cancel change only under mu (the checker reads them for busy
 * slots); the thread that took a slot may read its own without the lock. */
typedef struct slot {
	PGconn *conn;
	PGcancel *cancel; /* for conn: lets another thread cancel its command */
	bool busy;
} slot;

struct td_pgpool {
	char *name;
	char *dsn;
	char *options;
	char timeout_s[24];
	int64_t check_interval_ms;
	void (*on_state)(void *arg, bool up);
	void *state_arg;

	pthread_mutex_t mu;
	pthread_cond_t freed; /* a slot became free, or closing */
	pthread_cond_t wake;  /* the check thread: closing */
	slot *slots;
	int size;
	bool closing;
	bool up;
	char last_error[256];
	int64_t next_dial_ms; /* no dial before this (monotonic) */
	int64_t drain_at_ms; /* td_pgpool_drain: cancel busy commands from then; 0 = not draining */
	int64_t backoff_ms;

	bool have_thread;
	pthread_t checker;
};

size_t
td_pgpool_one_line(char *s)
{
	size_t w = 0;
	bool space = false;
	for (size_t r = 0; s[r] != '\0'; r++) {
		char ch = s[r];
		if (ch == '\n' || ch == '\t' || ch == '\r' || ch == ' ') {
			space = w > 0;
			continue;
		}
		if (space) {
			s[w++] = ' ';
			space = false;
		}
		s[w++] = ch;
	}
	s[w] = '\0';
	return w;
}

static void
set_error(td_pgpool *p, const char *what, const char *detail)
{
	char buf[sizeof(p->last_error)];
	snprintf(buf, sizeof(buf), "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
	size_t n = td_pgpool_one_line(buf);
	pthread_mutex_lock(&p->mu);
	bool was_up = p->up;
	p->up = false;
	memcpy(p->last_error, buf, n + 1);
	pthread_mutex_unlock(&p->mu);
	if (was_up) {
		TD_WARN("database unavailable", TD_KV_STR("pool", p->name),
		    TD_KV_STR("error", buf));
	}
	if (p->on_state != NULL) {
		p->on_state(p->state_arg, false);
	}
}

static void
set_up(td_pgpool *p)
{
	pthread_mutex_lock(&p->mu);
	bool was_up = p->up;
	p->up = true;
	p->last_error[0] = '\0';
	p->backoff_ms = 0;
	p->next_dial_ms = 0;
	pthread_mutex_unlock(&p->mu);
	if (!was_up) {
		TD_INFO("database reachable", TD_KV_STR("pool", p->name));
	}
	if (p->on_state != NULL) {
		p->on_state(p->state_arg, true);
	}
}

/* Server notices ("relation already exists, skipping") go to the debug log,
 * not libpq's default of stderr. */
static void
notice(void *arg, const char *message)
{
	const td_pgpool *p = arg;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", message);
	td_pgpool_one_line(buf);
	TD_DEBUG("postgres notice", TD_KV_STR("pool", p->name), TD_KV_STR("notice", buf));
}

/* Dials one connection; NULL on failure (recorded, backoff advanced). */
static PGconn *
dial(td_pgpool *p)
{
	const char *keys[6];
	const char *vals[6];
	int n = 0;
	/* dbname first with expand_dbname so the DSN is parsed; the keywords after
	 * it override what the DSN says, fallback_application_name only fills in. */
	keys[n] = "dbname";
	vals[n++] = p->dsn;
	keys[n] = "connect_timeout";
	vals[n++] = p->timeout_s;
	keys[n] = "fallback_application_name";
	vals[n++] = p->name;
	if (p->options != NULL) {
		keys[n] = "options";
		vals[n++] = p->options;
	}
	keys[n] = NULL;
	vals[n] = NULL;

	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (c != NULL && PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, notice, p);
		set_up(p);
		return c;
	}
	set_error(p, "connect failed", c != NULL ? PQerrorMessage(c) : "out of memory");
	PQfinish(c);
	pthread_mutex_lock(&p->mu);
	p->backoff_ms = p->backoff_ms == 0 ? BACKOFF_MIN_MS : p->backoff_ms * 2;
	if (p->backoff_ms > BACKOFF_MAX_MS) {
		p->backoff_ms = BACKOFF_MAX_MS;
	}
	p->next_dial_ms = td_clock_mono_ms() + p->backoff_ms;
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Takes a free slot index under the lock, or -1 (timeout / closing in *rv). */
static int
take_slot(td_pgpool *p, int wait_ms, int *rv)
{
	struct timespec deadline;
	if (wait_ms >= 0) {
		td_clock_mono_timespec(td_clock_mono_ms() + wait_ms, &deadline);
	}
	int idx = -1;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->closing) {
			*rv = TD_ECLOSED;
			break;
		}
		/* Prefer a slot that is already connected. */
		for (int i = 0; i < p->size; i++) {
			if (!p->slots[i].busy && (idx < 0 || p->slots[i].conn != NULL)) {
				idx = i;
				if (p->slots[i].conn != NULL) {
					break;
				}
			}
		}
		if (idx >= 0) {
			p->slots[idx].busy = true;
			*rv = 0;
			break;
		}
		if (wait_ms < 0) {
			pthread_cond_wait(&p->freed, &p->mu);
		} else if (pthread_cond_timedwait(&p->freed, &p->mu, &deadline) == ETIMEDOUT) {
			*rv = TD_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return idx;
}

/* Closes the connection of slot idx (taken by us). */
static void
drop_conn(td_pgpool *p, int idx)
{
	pthread_mutex_lock(&p->mu);
	PGconn *c = p->slots[idx].conn;
	PGcancel *k = p->slots[idx].cancel;
	p->slots[idx].conn = NULL;
	p->slots[idx].cancel = NULL;
	pthread_mutex_unlock(&p->mu);
	PQfreeCancel(k);
	PQfinish(c);
}

/* Frees slot idx, first closing its connection if drop. */
static void
give_slot(td_pgpool *p, int idx, bool drop)
{
	if (drop) {
		drop_conn(p, idx);
	}
	pthread_mutex_lock(&p->mu);
	p->slots[idx].busy = false;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->mu);
}

/* Makes sure slot idx (taken by us) holds a usable connection. */
static int
ensure_connected(td_pgpool *p, int idx)
{
	PGconn *c = p->slots[idx].conn;
	if (c != NULL && PQstatus(c) == CONNECTION_OK) {
		/* An idle connection has nothing to read (we never LISTEN).  If it
		 * has, the server most likely said goodbye (restart, idle timeout)
		 * and the EOF may not have arrived yet: dial afresh rather than fail
		 * the caller's first command. */
		struct pollfd pfd = { .fd = PQsocket(c), .events = POLLIN };
		if (poll(&pfd, 1, 0) == 0) {
			return 0;
		}
	}
	if (c != NULL) {
		drop_conn(p, idx);
	}

	pthread_mutex_lock(&p->mu);
	bool wait = td_clock_mono_ms() < p->next_dial_ms;
	pthread_mutex_unlock(&p->mu);
	if (wait) {
		return TD_EAGAIN;
	}
	if ((c = dial(p)) == NULL) {
		return TD_EAGAIN;
	}
	PGcancel *k = PQgetCancel(c);
	pthread_mutex_lock(&p->mu);
	p->slots[idx].conn = c;
	p->slots[idx].cancel = k;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int
td_pgpool_acquire(td_pgpool *p, int wait_ms, PGconn **conn)
{
	int rv = 0;
	*conn = NULL;
	int idx = take_slot(p, wait_ms, &rv);
	if (idx < 0) {
		return rv;
	}
	if ((rv = ensure_connected(p, idx)) != 0) {
		give_slot(p, idx, false);
		return rv;
	}
	*conn = p->slots[idx].conn;
	return 0;
}

void
td_pgpool_release(td_pgpool *p, PGconn *conn, bool discard)
{
	if (conn == NULL) {
		return;
	}
	int idx = -1;
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->size; i++) {
		if (p->slots[i].busy && p->slots[i].conn == conn) {
			idx = i;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
	if (idx < 0) {
		TD_ERROR("td_pgpool_release: connection not from this pool",
		    TD_KV_STR("pool", p->name));
		return;
	}

	bool broken = PQstatus(conn) != CONNECTION_OK;
	if (broken) {
		set_error(p, "connection lost", PQerrorMessage(conn));
	} else if (!discard && PQtransactionStatus(conn) != PQTRANS_IDLE) {
		/* A caller that bailed out mid-transaction; never hand that on. */
		discard = true;
	}
	if (!broken && !discard) {
		set_up(p);
	}
	give_slot(p, idx, broken || discard);
}

bool
td_pgpool_up(td_pgpool *p)
{
	pthread_mutex_lock(&p->mu);
	bool up = p->up;
	pthread_mutex_unlock(&p->mu);
	return up;
}

void
td_pgpool_last_error(td_pgpool *p, char *buf, size_t len)
{
	if (len == 0) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	snprintf(buf, len, "%s", p->last_error);
	pthread_mutex_unlock(&p->mu);
}

int
td_pgpool_open_count(td_pgpool *p)
{
	int n = 0;
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->size; i++) {
		n += p->slots[i].conn != NULL;
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* One check: run a trivial query on an idle connection (dialing if needed). */
static void
check_once(td_pgpool *p)
{
	int rv = 0;
	int idx = take_slot(p, 0, &rv);
	if (idx < 0) {
		return; /* all busy: their results keep `up` current */
	}
	if (ensure_connected(p, idx) != 0) {
		give_slot(p, idx, false);
		return;
	}
	PGconn *c = p->slots[idx].conn;
	PGresult *res = PQexec(c, "SELECT 1");
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok) {
		set_error(p, "health check failed", PQerrorMessage(c));
	}
	PQclear(res);
	td_pgpool_release(p, c, !ok);
}

/* Asks the server to cancel the command of every busy connection.  Called
 * with mu held; PQcancel is thread-safe and needs no PGconn. */
static void
cancel_busy(td_pgpool *p)
{
	for (int i = 0; i < p->size; i++) {
		if (p->slots[i].busy && p->slots[i].cancel != NULL) {
			char buf[256];
			if (!PQcancel(p->slots[i].cancel, buf, sizeof(buf))) {
				TD_WARN("cannot cancel a running command",
				    TD_KV_STR("pool", p->name), TD_KV_STR("error", buf));
			}
		}
	}
}

static void *
checker_main(void *arg)
{
	td_pgpool *p = arg;
	bool warned = false;
	/* Once at start, so readiness does not wait a whole interval. */
	check_once(p);
	pthread_mutex_lock(&p->mu);
	while (!p->closing) {
		int64_t wait = p->check_interval_ms;
		if (p->drain_at_ms != 0) {
			int64_t left = p->drain_at_ms - td_clock_mono_ms();
			wait = left > 0 ? left : 500; /* keep cancelling while draining */
		}
		struct timespec deadline;
		td_clock_mono_timespec(td_clock_mono_ms() + wait, &deadline);
		pthread_cond_timedwait(&p->wake, &p->mu, &deadline);
		if (p->closing) {
			break;
		}
		if (p->drain_at_ms != 0) {
			if (td_clock_mono_ms() >= p->drain_at_ms) {
				if (!warned) {
					TD_WARN(
					    "cancelling commands still running after the shutdown grace",
					    TD_KV_STR("pool", p->name));
					warned = true;
				}
				cancel_busy(p);
			}
			continue; /* no health checks while stopping */
		}
		pthread_mutex_unlock(&p->mu);
		check_once(p);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void
td_pgpool_drain(td_pgpool *p, int64_t grace_ms)
{
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	int64_t at = td_clock_mono_ms() + (grace_ms > 0 ? grace_ms : 0);
	p->drain_at_ms = at != 0 ? at : 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
}

/* *out owned by caller. */
int
td_pgpool_open(td_pgpool **out, const td_pgpool_opts *o, td_error *err)
{
	int rv = TD_ENOMEM;
	*out = NULL;
	if (o->size < 1) {
		return td_error_set(err, TD_EINVAL, "%s: pool size must be at least 1", o->name);
	}
	td_pgpool *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	p->size = o->size;
	p->check_interval_ms = o->check_interval_ms;
	p->on_state = o->on_state;
	p->state_arg = o->state_arg;
	p->name = strdup(o->name != NULL ? o->name : "tfdrift");
	p->dsn = strdup(o->dsn != NULL ? o->dsn : "");
	p->options = o->options != NULL ? strdup(o->options) : NULL;
	p->slots = calloc((size_t)o->size, sizeof(*p->slots));
	if (p->name == NULL || p->dsn == NULL || (o->options != NULL && p->options == NULL) ||
	    p->slots == NULL) {
		goto out;
	}
	/* libpq counts whole seconds and treats 1 as 2. */
	int64_t secs = (o->connect_timeout_ms + 999) / 1000;
	snprintf(p->timeout_s, sizeof(p->timeout_s), "%lld", (long long)(secs < 2 ? 2 : secs));
	snprintf(p->last_error, sizeof(p->last_error), "not connected yet");
	rv = TD_EIO;
	pthread_mutex_init(&p->mu, NULL);
	if (td_clock_cond_init(&p->freed) != 0) {
		td_error_set(err, rv, "%s: cannot create a condition variable", p->name);
		goto out_mu;
	}
	if (td_clock_cond_init(&p->wake) != 0) {
		td_error_set(err, rv, "%s: cannot create a condition variable", p->name);
		goto out_freed;
	}
	if (p->check_interval_ms > 0) {
		if (pthread_create(&p->checker, NULL, checker_main, p) != 0) {
			td_error_set(err, rv, "%s: cannot start the health thread", p->name);
			goto out_wake;
		}
		p->have_thread = true;
	}
	*out = p;
	return 0;

out_wake:
	pthread_cond_destroy(&p->wake);
out_freed:
	pthread_cond_destroy(&p->freed);
out_mu:
	pthread_mutex_destroy(&p->mu);
out:
	free(p->slots);
	free(p->options);
	free(p->dsn);
	free(p->name);
	free(p);
	if (rv == TD_ENOMEM) {
		td_error_set(err, rv, "out of memory");
	}
	return rv;
}

void
td_pgpool_close(td_pgpool *p)
{
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->closing = true;
	pthread_cond_broadcast(&p->wake);
	pthread_cond_broadcast(&p->freed);
	pthread_mutex_unlock(&p->mu);
	if (p->have_thread) {
		pthread_join(p->checker, NULL);
	}
	for (int i = 0; i < p->size; i++) {
		PQfreeCancel(p->slots[i].cancel);
		PQfinish(p->slots[i].conn);
	}
	pthread_cond_destroy(&p->freed);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p->options);
	free(p->dsn);
	free(p->name);
	free(p);
}

/* SQLSTATE classes (first two characters) and whom they blame; the rest are
 * transient. */
static const struct {
	char cls[3];
	td_pg_fault fault;
} fault_classes[] = {
	{ "22", TD_PG_FAULT_ROW },   /* data exception */
	{ "23", TD_PG_FAULT_ROW },   /* integrity constraint violation */
	{ "44", TD_PG_FAULT_ROW },   /* WITH CHECK OPTION violation */
	{ "54", TD_PG_FAULT_ROW },   /* program limit exceeded */
	{ "0A", TD_PG_FAULT_SETUP }, /* feature not supported */
	{ "25", TD_PG_FAULT_SETUP }, /* invalid transaction state: read-only */
	{ "28", TD_PG_FAULT_SETUP }, /* invalid authorization */
	{ "3D", TD_PG_FAULT_SETUP }, /* invalid catalog (database) name */
	{ "3F", TD_PG_FAULT_SETUP }, /* invalid schema name */
	{ "42", TD_PG_FAULT_SETUP }, /* syntax error or access rule violation */
};

void
td_pgpool_sqlstate(const PGresult *res, char buf[6])
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(buf, 6, "%s", state != NULL ? state : "");
}

td_pg_fault
td_pgpool_fault(const PGresult *res)
{
	char state[6];
	td_pgpool_sqlstate(res, state);
	if (strlen(state) < 2) {
		return TD_PG_FAULT_TRANSIENT;
	}
	for (size_t i = 0; i < sizeof(fault_classes) / sizeof(fault_classes[0]); i++) {
		if (strncmp(state, fault_classes[i].cls, 2) == 0) {
			return fault_classes[i].fault;
		}
	}
	return TD_PG_FAULT_TRANSIENT;
}
