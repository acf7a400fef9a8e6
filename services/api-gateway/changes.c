/* changes.c — see changes.h. */
#include "changes.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"
#include "tfdrift/pgpool.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct gw_changes {
	char *dsn;
	char timeout_s[24];
	void (*on_change)(void *arg);
	void *arg;
	int wake[2]; /* a byte on wake[1] stops the thread */
	pthread_t thread;
	bool started;
	_Atomic bool listening;
	td_gauge *up;
	td_counter *notifications;
	td_counter *reconnects;
};

/* Waits up to ms (-1: forever) for fd to be readable or a stop.  True when
 * stopping. */
static bool
wait_fd(gw_changes *c, int fd, int ms)
{
	struct pollfd p[2] = { { .fd = c->wake[0], .events = POLLIN },
		{ .fd = fd, .events = POLLIN } };
	int r = poll(p, fd >= 0 ? 2 : 1, ms);
	return r > 0 && (p[0].revents & POLLIN) != 0;
}

/* Server notices ("terminating connection due to administrator command")
 * go to the debug log, not libpq's default of stderr. */
static void
notice(void *arg, const char *message)
{
	(void)arg;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", message);
	td_pgpool_one_line(buf);
	TD_DEBUG("postgres notice", TD_KV_STR("connection", "changes"), TD_KV_STR("notice", buf));
}

/* A connection with LISTEN in place, or NULL (why in msg). */
static PGconn *
dial(gw_changes *c, char *msg, size_t msglen)
{
	/* Keepalives: a server that vanished without a word (a host gone) is
	 * noticed in about a minute rather than never, as nothing is sent here. */
	const char *keys[] = { "dbname", "connect_timeout", "fallback_application_name",
		"keepalives_idle", "keepalives_interval", "keepalives_count", NULL };
	const char *vals[] = { c->dsn, c->timeout_s, "tfdrift-api-gateway-changes", "30", "10", "3",
		NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(msg, msglen, "connect failed: %s", PQerrorMessage(conn));
		goto fail;
	}
	PQsetNoticeProcessor(conn, notice, NULL);
	PGresult *res = PQexec(conn, "LISTEN " GW_CHANGES_CHANNEL);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok) {
		snprintf(msg, msglen, "LISTEN failed: %s", PQresultErrorMessage(res));
	}
	PQclear(res);
	if (ok && PQsocket(conn) >= 0 && PQsetnonblocking(conn, 1) == 0) {
		return conn;
	}
fail:
	td_pgpool_one_line(msg);
	PQfinish(conn);
	return NULL;
}

/* Reads what arrived on conn and calls on_change once for any number of
 * notifications.  False when the connection broke. */
static bool
drain(gw_changes *c, PGconn *conn)
{
	if (PQconsumeInput(conn) == 0) {
		return false;
	}
	uint64_t n = 0;
	PGnotify *nf;
	while ((nf = PQnotifies(conn)) != NULL) {
		n++;
		PQfreemem(nf);
	}
	if (n > 0) {
		td_counter_add(c->notifications, n);
		c->on_change(c->arg);
	}
	return PQstatus(conn) == CONNECTION_OK;
}

static void
set_listening(gw_changes *c, bool on)
{
	atomic_store(&c->listening, on);
	td_gauge_set(c->up, on ? 1.0 : 0.0);
}

static void *
run(void *arg)
{
	gw_changes *c = arg;
	int64_t backoff = 0;
	bool was_down = false; /* the current outage is logged (a break logs itself) */
	for (;;) {
		char msg[512] = "";
		PGconn *conn = dial(c, msg, sizeof(msg));
		if (conn == NULL) {
			if (!was_down) {
				TD_WARN(
				    "cannot listen for changes; the response cache may lag until "
				    "it can",
				    TD_KV_STR("error", msg));
				was_down = true;
			}
			backoff = backoff == 0 ? BACKOFF_MIN_MS : backoff * 2;
			backoff = backoff > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff;
			if (wait_fd(c, -1, (int)backoff)) {
				return NULL;
			}
			continue;
		}
		backoff = 0;
		set_listening(c, true);
		/* Anything kept may predate a change announced while away. */
		c->on_change(c->arg);
		TD_INFO("listening for changes", TD_KV_STR("channel", GW_CHANGES_CHANNEL));
		bool stop = false;
		while (!(stop = wait_fd(c, PQsocket(conn), -1)) && drain(c, conn)) {
		}
		set_listening(c, false);
		PQfinish(conn);
		if (stop) {
			return NULL;
		}
		TD_WARN("the change listener's connection broke; redialing");
		td_counter_inc(c->reconnects);
		was_down = true;
	}
}

int
gw_changes_start(gw_changes **out, const gw_changes_opts *o, td_error *err)
{
	*out = NULL;
	gw_changes *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->dsn = strdup(o->dsn != NULL ? o->dsn : "")) == NULL) {
		free(c);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	int64_t s = (o->connect_timeout_ms + 999) / 1000;
	snprintf(c->timeout_s, sizeof(c->timeout_s), "%lld", (long long)(s < 2 ? 2 : s));
	c->on_change = o->on_change;
	c->arg = o->arg;
	c->up = td_gauge_get("tfdrift_gateway_changes_listening",
	    "1 while the gateway LISTENs for changes to alerts (tfdrift_changes), else 0.", NULL);
	c->notifications = td_counter_get("tfdrift_gateway_changes_notifications_total",
	    "Change notifications received from PostgreSQL (NOTIFY tfdrift_changes).", NULL);
	c->reconnects = td_counter_get("tfdrift_gateway_changes_reconnects_total",
	    "Times the change listener's connection broke and was redialed.", NULL);
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		int e = errno;
		free(c->dsn);
		free(c);
		return td_error_set(err, TD_EIO, "pipe: %s", strerror(e));
	}
	set_listening(c, false);
	if (pthread_create(&c->thread, NULL, run, c) != 0) {
		gw_changes_stop(c);
		return td_error_set(err, TD_EIO, "cannot start the change listener thread");
	}
	c->started = true;
	*out = c;
	return 0;
}

bool
gw_changes_listening(const gw_changes *c)
{
	return c != NULL && atomic_load(&((gw_changes *)c)->listening);
}

void
gw_changes_stop(gw_changes *c)
{
	if (c == NULL) {
		return;
	}
	if (c->started) {
		ssize_t w = write(c->wake[1], "x", 1);
		(void)w; /* the pipe is empty: the byte fits */
		pthread_join(c->thread, NULL);
	}
	close(c->wake[0]);
	close(c->wake[1]);
	free(c->dsn);
	free(c);
}
