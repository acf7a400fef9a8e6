/* retention.c — see retention.h. */
#include "retention.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

#define ACQUIRE_WAIT_MS 5000

struct ps_retention {
	td_pgpool *pool;
	int64_t retention_ms;
	int batch;
	int64_t interval_ms;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	bool stopping;
	bool have_thread;
	pthread_t thread;
};

/* Each statement deletes at most $2 rows older than $1 milliseconds. */
static const char *const purges[] = {
	"DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE detected_at < "
	"now() - $1::bigint * interval '1 millisecond' ORDER BY detected_at LIMIT $2)",
	"DELETE FROM alerts_dead_letter WHERE id IN (SELECT id FROM alerts_dead_letter WHERE "
	"received_at < now() - $1::bigint * interval '1 millisecond' ORDER BY received_at LIMIT $2)",
};

int
ps_retention_run(td_pgpool *pool, int64_t retention_ms, int batch, uint64_t *deleted)
{
	char age[32], lim[32];
	const char *params[2] = { age, lim };
	snprintf(age, sizeof(age), "%lld", (long long)retention_ms);
	snprintf(lim, sizeof(lim), "%d", batch);
	*deleted = 0;
	for (size_t q = 0; q < sizeof(purges) / sizeof(purges[0]); q++) {
		for (;;) {
			PGconn *c = NULL;
			if (td_pgpool_acquire(pool, ACQUIRE_WAIT_MS, &c) != 0) {
				return TD_EAGAIN;
			}
			PGresult *res = PQexecParams(c, purges[q], 2, NULL, params, NULL, NULL, 0);
			bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
			long n = ok ? strtol(PQcmdTuples(res), NULL, 10) : 0;
			if (!ok) {
				char msg[300];
				snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
				td_pgpool_one_line(msg);
				TD_WARN("retention: delete failed", TD_KV_STR("error", msg));
			}
			PQclear(res);
			td_pgpool_release(pool, c, !ok);
			if (!ok) {
				return TD_EAGAIN;
			}
			if (q == 0) {
				*deleted += (uint64_t)n;
			}
			if (n < batch) {
				break;
			}
		}
	}
	return 0;
}

static void *
retention_main(void *arg)
{
	ps_retention *r = arg;
	td_counter *deleted_total = td_counter_get("tfdrift_persistence_retention_deleted_total",
	    "Alerts deleted because they were older than persistence.retention.", NULL);
	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		pthread_mutex_unlock(&r->mu);
		uint64_t n = 0;
		if (ps_retention_run(r->pool, r->retention_ms, r->batch, &n) == 0 && n > 0) {
			td_counter_add(deleted_total, n);
			TD_INFO("retention: old alerts deleted", TD_KV_UINT("alerts", n));
		}
		pthread_mutex_lock(&r->mu);
		if (r->stopping) {
			break;
		}
		struct timespec ts;
		td_clock_mono_timespec(td_clock_mono_ms() + r->interval_ms, &ts);
		pthread_cond_timedwait(&r->wake, &r->mu, &ts);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* *out owned by caller. */
int
ps_retention_start(ps_retention **out, td_pgpool *pool, int64_t retention_ms, int batch,
    int64_t interval_ms, td_error *err)
{
	*out = NULL;
	ps_retention *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	r->pool = pool;
	r->retention_ms = retention_ms;
	r->batch = batch > 0 ? batch : 1;
	r->interval_ms = interval_ms > 0 ? interval_ms : 3600000;
	pthread_mutex_init(&r->mu, NULL);
	td_clock_cond_init(&r->wake);
	if (retention_ms > 0) {
		if (pthread_create(&r->thread, NULL, retention_main, r) != 0) {
			ps_retention_stop(r);
			return td_error_set(err, TD_EIO, "cannot start the retention thread");
		}
		r->have_thread = true;
	}
	*out = r;
	return 0;
}

void
ps_retention_stop(ps_retention *r)
{
	if (r == NULL) {
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->mu);
	if (r->have_thread) {
		pthread_join(r->thread, NULL);
	}
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
