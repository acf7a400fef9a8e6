/* handoff.c — journal, queue and forwarding workers (see handoff.h). */
#include "handoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

/* Pause before an entry answered RETRY (or timed out) is tried again, so a
 * struggling correlator is not hammered. */
#define RETRY_PAUSE_MS 200

typedef struct qitem {
	uint64_t seq;
	char trace_id[64];
	hand_waiter *w; /* borrowed from the submitter; NULL when nobody waits */
	struct qitem *next;
} qitem;

struct hand {
	jrn *j;
	fwd *f;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;  /* queue not empty, or stopping */
	pthread_cond_t done_cv;  /* a waiter was answered */
	pthread_cond_t space_cv; /* an entry was released */
	qitem *qhead, *qtail;
	size_t qlen;
	bool stopping;
	pthread_t *threads;
	int nthreads;
	int batch_max; /* entries per request when nobody waits for them */
	td_gauge *g_queued;
	td_counter *c_rejected, *c_retries;
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Caller holds mu.  Takes ownership of it. */
static void
enqueue(hand *h, qitem *it)
{
	it->next = NULL;
	if (h->qtail != NULL)
		h->qtail->next = it;
	else
		h->qhead = it;
	h->qtail = it;
	h->qlen++;
	td_gauge_set(h->g_queued, (double)h->qlen);
	pthread_cond_signal(&h->work_cv);
}

/* Caller holds mu. */
static void
answer(hand *h, hand_waiter *w, int rv, const Tfdrift__V1__Ack *ack)
{
	if (w == NULL)
		return;
	w->rv = rv;
	if (ack != NULL) {
		w->status = (int)ack->status;
		w->accepted = ack->accepted;
		w->duplicates = ack->duplicates;
		w->produced = ack->produced;
		snprintf(w->error, sizeof(w->error), "%s", ack->error ? ack->error : "");
	}
	w->done = true;
	pthread_cond_broadcast(&h->done_cv);
}

/* Forwards one entry.  Returns true when the item is finished (freed), false
 * when it must be queued again. */
static bool
forward_one(hand *h, qitem *it, bool *stop)
{
	bscan_summary sum = { 0 };
	Tfdrift__V1__Ack *ack = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	bool finished = true;
	int rv;

	*stop = false;
	rv = jrn_read(h->j, it->seq, &data, &len);
	if (rv == 0 && bscan_add(&sum, data, len) != 0)
		rv = TD_EPROTO;
	if (rv != 0) {
		/* unreadable or undecodable: it can never be forwarded */
		td_counter_inc(h->c_rejected);
		TD_ERROR("handoff: a journal entry cannot be read back; dropped",
		    TD_KV_UINT("seq", it->seq),
		    TD_KV_STR("error",
			rv != TD_EPROTO ? td_strerror(rv) : "not a CloudEventBatch"));
		(void)jrn_release(h->j, it->seq);
		pthread_mutex_lock(&h->mu);
		answer(h, it->w, TD_EPROTO, NULL);
		pthread_cond_broadcast(&h->space_cv);
		pthread_mutex_unlock(&h->mu);
		goto out;
	}
	rv = fwd_forward(h->f, &sum, data, len, it->trace_id[0] ? it->trace_id : NULL, &ack);
	if (rv == TD_ECLOSED) {
		/* stays journaled; the next run sends it */
		*stop = true;
		pthread_mutex_lock(&h->mu);
		answer(h, it->w, TD_ECLOSED, NULL);
		pthread_mutex_unlock(&h->mu);
		goto out;
	}
	if (rv == 0 && ack->status == TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED) {
		td_counter_inc(h->c_rejected);
		TD_WARN("handoff: a correlator rejected a batch; released",
		    TD_KV_UINT("seq", it->seq), TD_KV_STR("trace_id", it->trace_id),
		    TD_KV_STR("error", ack->error ? ack->error : ""));
	}
	if (rv == 0 && ack->status != TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY) {
		(void)jrn_release(h->j, it->seq);
		pthread_mutex_lock(&h->mu);
		answer(h, it->w, 0, ack);
		pthread_cond_broadcast(&h->space_cv);
		pthread_mutex_unlock(&h->mu);
		goto out;
	}
	/* RETRY, a timeout or a protocol error: again, later */
	td_counter_inc(h->c_retries);
	TD_DEBUG("handoff: batch not acknowledged; trying again", TD_KV_UINT("seq", it->seq),
	    TD_KV_STR("error", rv ? td_strerror(rv) : "Ack RETRY"));
	finished = false;
out:
	if (ack != NULL)
		tfdrift__v1__ack__free_unpacked(ack, NULL);
	free(data);
	return finished;
}

/* Makes *buf (*cap bytes) hold at least need bytes.  *buf owned by the caller. */
static int
grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *nb;

	if (need <= *cap)
		return 0;
	if ((nb = realloc(*buf, need * 2)) == NULL)
		return TD_ENOMEM;
	*buf = nb;
	*cap = need * 2;
	return 0;
}

/* Forwards entries nobody waits for (HTTP and gRPC alerts, watched files) as
 * one request of all their events, so single-alert entries do not cost one
 * correlator round trip each: the entries' bytes appended are the packed
 * batch of all their events (batchscan.h).  Owns its[]: frees finished items
 * and queues the rest again.  *stop on a stop (they stay journaled). */
static void
forward_group(hand *h, qitem **its, size_t n, bool *stop)
{
	bscan_summary sum = { 0 };
	Tfdrift__V1__Ack *ack = NULL;
	uint8_t *buf = NULL;
	size_t used = 0, len = 0, cap = 0;
	bool requeue = false;
	int rv = 0;

	*stop = false;
	for (size_t i = 0; i < n && rv == 0; i++) {
		uint8_t *data = NULL;
		size_t dlen = 0;
		int r = jrn_read(h->j, its[i]->seq, &data, &dlen);

		if (r == 0 && bscan_add(&sum, data, dlen) != 0)
			r = TD_EPROTO;
		if (r != 0) {
			td_counter_inc(h->c_rejected);
			TD_ERROR("handoff: a journal entry cannot be read back; dropped",
			    TD_KV_UINT("seq", its[i]->seq),
			    TD_KV_STR("error",
				r != TD_EPROTO ? td_strerror(r) : "not a CloudEventBatch"));
			(void)jrn_release(h->j, its[i]->seq);
			free(its[i]);
			its[i] = NULL;
		} else if (grow(&buf, &cap, len + dlen) != 0) {
			rv = TD_ENOMEM; /* this entry and the rest are queued again */
		} else {
			if (dlen > 0) /* an entry of no events adds no bytes */
				memcpy(buf + len, data, dlen);
			len += dlen;
			used++;
		}
		free(data);
	}
	if (rv == 0 && used > 0)
		rv = fwd_forward(h->f, &sum, buf ? buf : (const uint8_t *)"", len, NULL, &ack);
	if (rv == TD_ECLOSED) {
		*stop = true;
	} else if (rv == 0 && ack != NULL &&
	    ack->status != TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY) {
		if (ack->status == TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED) {
			td_counter_inc(h->c_rejected);
			TD_WARN("handoff: a correlator rejected a batch; released",
			    TD_KV_UINT("entries", used),
			    TD_KV_STR("error", ack->error ? ack->error : ""));
		}
		for (size_t i = 0; i < n; i++)
			if (its[i] != NULL)
				(void)jrn_release(h->j, its[i]->seq);
	} else if (rv != 0 || ack != NULL) {
		td_counter_inc(h->c_retries);
		requeue = true;
	}
	if (requeue)
		sleep_ms(RETRY_PAUSE_MS);
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < n; i++) {
		if (its[i] == NULL)
			continue;
		if (requeue && !h->stopping)
			enqueue(h, its[i]);
		else
			free(its[i]);
	}
	pthread_cond_broadcast(&h->space_cv);
	pthread_mutex_unlock(&h->mu);
	if (ack != NULL)
		tfdrift__v1__ack__free_unpacked(ack, NULL);
	free(buf);
}

static void *
worker(void *arg)
{
	hand *h = arg;

	for (;;) {
		qitem *it;
		bool stop;

		pthread_mutex_lock(&h->mu);
		while (h->qhead == NULL && !h->stopping)
			pthread_cond_wait(&h->work_cv, &h->mu);
		if (h->stopping) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		it = h->qhead;
		if (it->w == NULL && it->next != NULL && it->next->w == NULL && h->batch_max > 1) {
			/* several entries nobody waits for: one request */
			qitem **group = malloc((size_t)h->batch_max * sizeof(*group));
			size_t n = 0;

			while (group != NULL && h->qhead != NULL && h->qhead->w == NULL &&
			    n < (size_t)h->batch_max) {
				group[n++] = h->qhead;
				h->qhead = h->qhead->next;
				h->qlen--;
			}
			if (group != NULL) {
				if (h->qhead == NULL)
					h->qtail = NULL;
				td_gauge_set(h->g_queued, (double)h->qlen);
				pthread_mutex_unlock(&h->mu);
				forward_group(h, group, n, &stop);
				free(group);
				if (stop)
					break;
				continue;
			}
		}
		h->qhead = it->next;
		if (h->qhead == NULL)
			h->qtail = NULL;
		h->qlen--;
		td_gauge_set(h->g_queued, (double)h->qlen);
		pthread_mutex_unlock(&h->mu);

		if (forward_one(h, it, &stop)) {
			free(it);
		} else {
			sleep_ms(RETRY_PAUSE_MS);
			pthread_mutex_lock(&h->mu);
			if (h->stopping) {
				answer(h, it->w, TD_ECLOSED, NULL);
				free(it);
			} else {
				enqueue(h, it);
			}
			pthread_mutex_unlock(&h->mu);
		}
		if (stop)
			break;
	}
	return NULL;
}

int
hand_open(hand **out, jrn *j, fwd *f, int workers, int batch_max, td_error *err)
{
	uint64_t *seqs = NULL;
	size_t n = 0;
	hand *h;
	int rv = 0;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	h->j = j;
	h->f = f;
	h->batch_max = batch_max > 0 ? batch_max : 1;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->work_cv, NULL);
	pthread_cond_init(&h->done_cv, NULL);
	pthread_cond_init(&h->space_cv, NULL);
	h->g_queued = td_gauge_get("tfdrift_ingest_handoff_queued",
	    "Journaled batches waiting for a free forwarding worker.", NULL);
	h->c_rejected = td_counter_get("tfdrift_ingest_handoff_rejected_total",
	    "Journaled batches dropped because a correlator rejected them or they could not be read back.",
	    NULL);
	h->c_retries = td_counter_get("tfdrift_ingest_handoff_retries_total",
	    "Forwards tried again after Ack RETRY, a timeout or a protocol error.", NULL);

	/* what the last run left unacknowledged goes first */
	jrn_recovered(j, &seqs, &n);
	for (size_t i = 0; i < n; i++) {
		qitem *it = calloc(1, sizeof(*it));
		if (it == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto fail;
		}
		it->seq = seqs[i];
		snprintf(it->trace_id, sizeof(it->trace_id), "journal-%llu",
		    (unsigned long long)seqs[i]);
		enqueue(h, it);
	}
	free(seqs);
	seqs = NULL;

	h->threads = calloc((size_t)workers, sizeof(*h->threads));
	if (h->threads == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < workers; i++) {
		if (pthread_create(&h->threads[i], NULL, worker, h) != 0) {
			rv = td_error_set(err, TD_EIO, "cannot start a forwarding thread");
			goto fail;
		}
		h->nthreads++;
	}
	*out = h;
	return 0;
fail:
	free(seqs);
	hand_close(h);
	return rv;
}

int
hand_submit(hand *h, const uint8_t *payload, size_t len, const char *trace_id, hand_waiter *w)
{
	qitem *it;
	int rv;

	if (w != NULL)
		*w = (hand_waiter){ 0 };
	it = calloc(1, sizeof(*it));
	if (it == NULL)
		return TD_ENOMEM;
	pthread_mutex_lock(&h->mu);
	if (h->stopping) {
		pthread_mutex_unlock(&h->mu);
		free(it);
		return TD_ECLOSED;
	}
	pthread_mutex_unlock(&h->mu);
	if ((rv = jrn_append(h->j, payload, len, &it->seq)) != 0) {
		free(it);
		return rv;
	}
	snprintf(it->trace_id, sizeof(it->trace_id), "%s", trace_id ? trace_id : "");
	it->w = w;
	pthread_mutex_lock(&h->mu);
	if (h->stopping) {
		/* journaled: the next run sends it */
		answer(h, w, TD_ECLOSED, NULL);
		free(it);
	} else {
		enqueue(h, it);
	}
	pthread_mutex_unlock(&h->mu);
	return 0;
}

void
hand_wait(hand *h, hand_waiter *w)
{
	pthread_mutex_lock(&h->mu);
	while (!w->done)
		pthread_cond_wait(&h->done_cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

int
hand_wait_space(hand *h, int timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->mu);
	if (h->stopping)
		rv = TD_ECLOSED;
	else if (pthread_cond_timedwait(&h->space_cv, &h->mu, &ts) != 0)
		rv = TD_ETIMEDOUT;
	if (rv == 0 && h->stopping)
		rv = TD_ECLOSED;
	pthread_mutex_unlock(&h->mu);
	return rv;
}

void
hand_request_stop(hand *h)
{
	qitem *it;

	fwd_request_stop(h->f);
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	/* queued entries stay journaled; whoever waits for them is told */
	for (it = h->qhead; it != NULL; it = it->next) {
		answer(h, it->w, TD_ECLOSED, NULL);
		it->w = NULL;
	}
	pthread_cond_broadcast(&h->work_cv);
	pthread_cond_broadcast(&h->space_cv);
	pthread_cond_broadcast(&h->done_cv);
	pthread_mutex_unlock(&h->mu);
}

void
hand_close(hand *h)
{
	qitem *it;

	if (h == NULL)
		return;
	hand_request_stop(h);
	for (int i = 0; i < h->nthreads; i++)
		pthread_join(h->threads[i], NULL);
	free(h->threads);
	while ((it = h->qhead) != NULL) {
		h->qhead = it->next;
		free(it);
	}
	pthread_cond_destroy(&h->work_cv);
	pthread_cond_destroy(&h->done_cv);
	pthread_cond_destroy(&h->space_cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
