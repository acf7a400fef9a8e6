/* gapwatch.c — see gapwatch.h. */
#include "gapwatch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tfdrift/clock.h"
#include "tfdrift/log.h"

/* How long a check waits for a pooled connection before it skips a turn. */
#define ACQUIRE_WAIT_MS 1000

struct gw_gapwatch {
	gw_gapwatch_opts o;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping; /* mu */
	pthread_t thread;
	bool had_link;      /* the link to persistence was up at some check */
	bool lost_link;     /* ... and was down at a later one */
	uint64_t committed; /* the newest committed id at the last check */
};

/* The newest id in the alerts table into *id.  False when the database did
 * not answer (the check is skipped; the pool's own check reports it). */
static bool
newest_committed(td_pgpool *pool, uint64_t *id)
{
	PGconn *conn = NULL;
	if (td_pgpool_acquire(pool, ACQUIRE_WAIT_MS, &conn) != 0) {
		return false;
	}
	PGresult *res = PQexec(conn, "SELECT coalesce(max(id), 0) FROM alerts");
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (ok) {
		*id = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	td_pgpool_release(pool, conn, !ok);
	return ok;
}

static void
check(gw_gapwatch *w)
{
	bool up = gw_feed_connected(w->o.feed);
	if (up && w->lost_link) {
		/* what was committed meanwhile never invalidated the cache */
		if (w->o.cache != NULL) {
			gw_cache_invalidate(w->o.cache);
		}
		gw_live_relinked(w->o.live);
	}
	if (!up && w->had_link && !w->lost_link) {
		TD_INFO("live feed lost its link to persistence; clients catch up when it is back");
	}
	w->lost_link = !up && w->had_link;
	w->had_link = w->had_link || up;
	uint64_t newest = 0;
	if (newest_committed(w->o.pool, &newest)) {
		/* a commit whose publication was lost did not invalidate it either;
		 * at most once a check, on top of the feed's once a batch */
		if (newest != w->committed && w->o.cache != NULL) {
			gw_cache_invalidate(w->o.cache);
		}
		w->committed = newest;
		gw_live_committed(w->o.live, newest);
	}
}

static void *
watch_main(void *arg)
{
	gw_gapwatch *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		pthread_mutex_unlock(&w->mu);
		check(w);
		pthread_mutex_lock(&w->mu);
		struct timespec at;
		td_clock_mono_timespec(td_clock_mono_ms() + w->o.interval_ms, &at);
		while (!w->stopping && pthread_cond_timedwait(&w->cv, &w->mu, &at) == 0) {
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* *out owned by caller. */
int
gw_gapwatch_start(gw_gapwatch **out, const gw_gapwatch_opts *o, td_error *err)
{
	*out = NULL;
	gw_gapwatch *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	w->o = *o;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return td_error_set(err, TD_ENOMEM, "gap watch: cannot create a mutex");
	}
	if (td_clock_cond_init(&w->cv) != 0) {
		goto fail_mu;
	}
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		goto fail_mu;
	}
	*out = w;
	return 0;
fail_mu:
	pthread_mutex_destroy(&w->mu);
	free(w);
	return td_error_set(err, TD_ENOMEM, "gap watch: cannot start its thread");
}

void
gw_gapwatch_stop(gw_gapwatch *w)
{
	if (w == NULL) {
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
