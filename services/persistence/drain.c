/* drain.c — the drain thread: spooled requests into the database
 * (writer_impl.h). */
#include "writer_impl.h"

#include <stdlib.h>

#include "tfdrift/clock.h"
#include "tfdrift/log.h"

/* The drain thread looks at the spool this often while it is empty or the
 * database is down. */
#define DRAIN_TICK_MS 250
#define DRAIN_RETRY_MS 1000

/* Stores one spool segment.  0: stored (and removed); TD_EAGAIN: not now. */
static int
drain_one(ps_writer *w, uint64_t seq)
{
	ps_spool_rec *recs = NULL;
	size_t nrec = 0;
	int corrupt = 0;
	td_error err = { 0 };
	td_envelope **envs = NULL;
	job *jobs = NULL;
	job **ptrs = NULL;
	size_t nj = 0;
	int rv = ps_spool_read(w->spool, seq, &recs, &nrec, &corrupt, &err);
	if (rv != 0) {
		TD_ERROR("cannot read a spool segment", TD_KV_UINT("seq", seq),
		    TD_KV_STR("error", err.msg));
		return TD_EAGAIN;
	}
	if (corrupt) {
		td_counter_inc(w->spool_corrupt);
		TD_ERROR("spool segment damaged; storing the records before the damage",
		    TD_KV_UINT("seq", seq), TD_KV_UINT("records", nrec));
	}
	envs = calloc(nrec ? nrec : 1, sizeof(*envs));
	jobs = calloc(nrec ? nrec : 1, sizeof(*jobs));
	ptrs = calloc(nrec ? nrec : 1, sizeof(*ptrs));
	if (envs == NULL || jobs == NULL || ptrs == NULL) {
		rv = TD_EAGAIN;
		goto out;
	}
	for (size_t i = 0; i < nrec; i++) {
		td_error derr = { 0 };
		Tfdrift__V1__AlertBatch *b = NULL;
		if (td_bus_envelope_decode(recs[i].data, recs[i].len, &envs[i], &derr) != 0 ||
		    (b = tfdrift__v1__alert_batch__unpack(NULL, envs[i]->payload.len,
			 envs[i]->payload.data)) == NULL) {
			/* Only requests that decoded were spooled: the bytes changed on disk. */
			td_counter_inc(w->spool_corrupt);
			TD_ERROR("spooled request does not decode; skipped", TD_KV_UINT("seq", seq),
			    TD_KV_UINT("record", i));
			continue;
		}
		job *j = &jobs[nj];
		ptrs[nj++] = j;
		if (wr_job_prepare(j, b, envs[i]) != 0) {
			rv = TD_EAGAIN;
			goto out;
		}
	}
	wr_store(w, ptrs, nj);
	for (size_t k = 0; k < nj; k++) {
		if (ptrs[k]->outcome != STORED) {
			rv = TD_EAGAIN;
			goto out;
		}
	}
	for (size_t k = 0; k < nj; k++) {
		wr_account(w, ptrs[k]);
		wr_publish(w, ptrs[k]);
	}
	ps_spool_remove(w->spool, seq);
	TD_INFO("spool segment stored", TD_KV_UINT("seq", seq), TD_KV_UINT("requests", nj));
	rv = 0;

out:
	for (size_t k = 0; jobs != NULL && k < nrec; k++) {
		wr_job_release(&jobs[k]);
		tfdrift__v1__alert_batch__free_unpacked(jobs[k].b, NULL);
	}
	for (size_t i = 0; envs != NULL && i < nrec; i++) {
		td_bus_envelope_free(envs[i]);
	}
	free(ptrs);
	free(jobs);
	free(envs);
	free(recs);
	return rv;
}

void *
wr_drain_main(void *arg)
{
	ps_writer *w = arg;
	bool was_empty = true;
	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		pthread_mutex_unlock(&w->mu);
		uint64_t seq = 0;
		int wait_ms = DRAIN_TICK_MS;
		ps_writer_spool_gauges(w);
		if (ps_spool_oldest(w->spool, &seq) == 0) {
			if (was_empty) {
				TD_INFO("spool holds alerts; draining when the database answers");
				was_empty = false;
			}
			/* Not while the pool is backing off: the check thread says
			 * when the database is back. */
			bool usable = td_pgpool_up(w->pool) && atomic_load(&w->schema_ready) &&
			    !wr_refused_backing_off(w);
			if (usable && drain_one(w, seq) == 0) {
				wait_ms = 0;
			} else if (usable) {
				wait_ms = DRAIN_RETRY_MS;
			}
		} else if (!was_empty) {
			TD_INFO("spool drained");
			was_empty = true;
		}
		pthread_mutex_lock(&w->mu);
		if (wait_ms > 0 && !w->stopping) {
			struct timespec ts;
			td_clock_mono_timespec(td_clock_mono_ms() + wait_ms, &ts);
			pthread_cond_timedwait(&w->drain_wake, &w->mu, &ts);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}
