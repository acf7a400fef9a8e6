/* correlate.c — CloudEventBatch -> rule -> AlertBatch -> persistence -> Ack. */
#include "correlate.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"
#include "tfdrift/clock.h"
#include "tfdrift/id.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

static const struct {
	Tfdrift__V1__DriftKind kind;
	const char *labels;
} kind_labels[] = {
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNSPECIFIED, "kind=\"unspecified\"" },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT, "kind=\"drift\"" },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED, "kind=\"unmanaged\"" },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED, "kind=\"deleted\"" },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED, "kind=\"modified\"" },
};
#define N_KINDS (sizeof(kind_labels) / sizeof(kind_labels[0]))
#define MAX_SKIP_REASONS 16
#define HANDBACK_LOG_MS 10000

struct corr {
	ridx *index;
	td_bus_req *persist;
	const rule_env *env;
	char owner[64]; /* this replica's claim value */
	int wait_ms;
	int done_ttl_s; /* correlator.dedupe_window */
	atomic_bool stopping;
	atomic_llong handback_logged_ms;

	td_counter *events;
	td_counter *skipped[MAX_SKIP_REASONS];
	td_counter *alerts[N_KINDS];
	td_counter *rejected;
	td_counter *claims_held; /* batches handed back: another replica's claim */
	td_histogram *latency;
};

int
corr_new(corr **out, ridx *index, td_bus_req *persist, const rule_env *env, int request_timeout_ms,
    td_error *err)
{
	corr *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	c->index = index;
	c->persist = persist;
	c->env = env;
	/* random: replicas in containers may share a pid and a start time */
	char rnd[33];
	snprintf(c->owner, sizeof(c->owner), "claim:%s", td_id_random_hex(rnd, 16));
	c->wait_ms = CORR_PERSIST_WAIT_MS;
	c->done_ttl_s = CORR_DONE_TTL_S;
	if (request_timeout_ms > 0 && request_timeout_ms < c->wait_ms)
		c->wait_ms = request_timeout_ms;
	atomic_init(&c->stopping, false);
	atomic_init(&c->handback_logged_ms, 0);
	c->events = td_counter_get("tfdrift_correlator_events_total",
	    "CloudEvents correlated (alerts stored, or the event skipped).", NULL);
	for (size_t i = 0; i < rule_n_skip_reasons && i < MAX_SKIP_REASONS; i++) {
		char labels[64];
		snprintf(labels, sizeof(labels), "reason=\"%s\"", rule_skip_reasons[i]);
		c->skipped[i] = td_counter_get("tfdrift_correlator_events_skipped_total",
		    "CloudEvents that raised no alert, by reason (read_only, failed, terraform, not_mapped, ignored, not_managed, no_change, no_identifier, duplicate).",
		    labels);
	}
	for (size_t i = 0; i < N_KINDS; i++)
		c->alerts[i] = td_counter_get("tfdrift_correlator_alerts_total",
		    "Alerts produced and acknowledged by persistence, by kind.",
		    kind_labels[i].labels);
	c->claims_held = td_counter_get("tfdrift_correlator_batches_claimed_elsewhere_total",
	    "Batches handed back because another replica had claimed some of their events.", NULL);
	c->rejected = td_counter_get("tfdrift_correlator_batches_rejected_total",
	    "Requests refused because they did not decode, or persistence refused their alerts.",
	    NULL);
	c->latency = td_histogram_get("tfdrift_correlator_request_seconds",
	    "Time from taking a batch to answering it, persistence included.", NULL);
	*out = c;
	return 0;
}

void
corr_set_dedupe_window(corr *c, int seconds)
{
	c->done_ttl_s = seconds > 0 ? seconds : CORR_DONE_TTL_S;
}

void
corr_free(corr *c)
{
	free(c);
}

void
corr_request_stop(corr *c)
{
	atomic_store(&c->stopping, true);
}

/* True at most once per HANDBACK_LOG_MS: an outage hands back every batch,
 * again each time ingest asks, and one line says as much as a thousand. */
static bool
log_due(atomic_llong *last_ms)
{
	long long now = (long long)td_clock_mono_ms();
	long long last = atomic_load(last_ms);

	if (last != 0 && now - last < HANDBACK_LOG_MS)
		return false;
	return atomic_compare_exchange_strong(last_ms, &last, now);
}

/* reply->payload is malloc'd here and freed by the bus. */
static int
reply_ack(td_bus_reply *reply, const char *message_id, int status, uint32_t accepted,
    uint32_t duplicates, uint32_t produced, const char *error)
{
	reply->type = TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK;
	return td_bus_ack_encode(message_id, status, accepted, duplicates, produced, error,
	    &reply->payload, &reply->len);
}

static void
count_skip(corr *c, const char *reason)
{
	for (size_t i = 0; i < rule_n_skip_reasons && i < MAX_SKIP_REASONS; i++)
		if (rule_skip_reasons[i] == reason)
			td_counter_inc(c->skipped[i]);
}

/* How precise the event's alerts were, and extractor misses, by catalog
 * entry (series registered lazily: one per entry that ever produced one). */
static void
count_precision(const Tfdrift__V1__CloudEvent *ev, const rule_result *res)
{
	char labels[320];

	if (res->entry == NULL)
		return;
	if (res->precise > 0)
		td_counter_add(
		    td_counter_get("tfdrift_correlator_alerts_precise_total",
			"Alerts on managed resources naming an attribute with old and new values.",
			NULL),
		    res->precise);
	if (res->coarse > 0) {
		snprintf(labels, sizeof(labels), "entry=\"%s:%d\",event=\"%s\"", res->entry->file,
		    res->entry->line, res->entry->event);
		td_counter_add(
		    td_counter_get("tfdrift_correlator_alerts_coarse_total",
			"Coarse alerts (MODIFIED, no attribute) on managed resources, by the catalog entry that produced them.",
			labels),
		    res->coarse);
	}
	if (res->miss) {
		snprintf(labels, sizeof(labels), "event=\"%s\"", ev->event_name);
		td_counter_inc(td_counter_get("tfdrift_correlator_extractor_misses_total",
		    "Events whose catalog entry names attributes but took no value from the request, by event name.",
		    labels));
	}
}

static void
count_alerts(corr *c, const rule_alerts *alerts)
{
	for (size_t i = 0; i < alerts->n; i++)
		for (size_t k = 0; k < N_KINDS; k++)
			if (kind_labels[k].kind == alerts->items[i]->kind)
				td_counter_inc(c->alerts[k]);
}

/* Claims the n fresh events (ids, at cand[] in the batch) for this replica.
 * One another replica finished meanwhile becomes a duplicate (dropped from
 * ids, *n shrinks); one another replica is working on leaves the whole batch
 * to it: this replica's claims are released and TD_EBUSY returned, so the
 * batch is handed back (no reply) and comes again once the other replica
 * marked it done, or its claim expired. */
static int
claim_fresh(corr *c, ridx_conn *conn, char **ids, size_t *cand, size_t *n, const char **skips)
{
	ridx_claim *claim = calloc(*n + 1, sizeof(*claim));
	size_t kept = 0;
	bool held = false;
	int rv;

	if (claim == NULL)
		return TD_ENOMEM;
	rv = ridx_dedupe_claim(conn, ids, *n, c->owner, CORR_CLAIM_TTL_MS, claim);
	for (size_t i = 0; rv == 0 && i < *n; i++)
		held = held || claim[i] == RIDX_CLAIM_OTHER;
	if (rv == 0 && held) {
		ridx_dedupe_release(conn, ids, *n, c->owner);
		rv = TD_EBUSY;
	}
	for (size_t i = 0; rv == 0 && i < *n; i++) {
		if (claim[i] == RIDX_CLAIM_DONE) {
			skips[cand[i]] = RULE_SKIP_DUPLICATE;
		} else {
			cand[kept] = cand[i];
			ids[kept++] = ids[i];
		}
	}
	if (rv == 0)
		*n = kept;
	free(claim);
	return rv;
}

/* Lets go of this replica's claims on a batch handed back undone. */
static void
release_claims(corr *c, char **ids, size_t n)
{
	ridx_conn *conn = ridx_acquire(c->index);
	int rv = ridx_dedupe_release(conn, ids, n, c->owner);

	ridx_release(c->index, conn);
	if (rv != 0)
		TD_DEBUG("cannot release eventID claims", TD_KV_STR("error", td_strerror(rv)));
}

/* Runs the rules on every event not stored before.  On success *skips holds
 * each event's skip reason (NULL if it raised alerts) and *fresh the events
 * to mark done once stored; both malloc'd and owned by the caller. */
static int
evaluate(corr *c, const Tfdrift__V1__CloudEventBatch *batch, rule_alerts *alerts,
    const char ***skips, char ***fresh, size_t *nfresh)
{
	ridx_conn *conn;
	int64_t now = td_clock_now_ns();
	rule_state st = { .lookup = ridx_lookup, .attrs = ridx_attrs };
	char **ids = calloc(batch->n_events + 1, sizeof(*ids));
	bool *done = calloc(batch->n_events + 1, sizeof(*done));
	size_t *cand = calloc(batch->n_events + 1, sizeof(*cand)), ncand = 0;
	bool claimed = false;
	int rv = 0;

	*nfresh = 0;
	*fresh = NULL;
	*skips = calloc(batch->n_events + 1, sizeof(**skips));
	if (*skips == NULL || ids == NULL || done == NULL || cand == NULL) {
		rv = TD_ENOMEM;
		goto out;
	}
	/* only candidates (not read-only, failed, Terraform's or unmapped: most
	 * of CloudTrail) cost Redis keys and round trips */
	for (size_t i = 0; i < batch->n_events; i++) {
		(*skips)[i] = rule_prefilter(c->env, batch->events[i]);
		if ((*skips)[i] == NULL) {
			cand[ncand] = i;
			ids[ncand++] = batch->events[i]->event_id;
		}
	}
	conn = ridx_acquire(c->index);
	st.arg = conn;
	rv = ridx_dedupe_check(conn, ids, ncand, done);
	/* repeats inside the batch: the first copy does the work */
	for (size_t i = 0; rv == 0 && i < ncand; i++)
		for (size_t k = 0; !done[i] && k < i; k++)
			if (strcmp(ids[k], ids[i]) == 0)
				done[i] = true;
	for (size_t i = 0; rv == 0 && i < ncand; i++) {
		if (done[i]) {
			(*skips)[cand[i]] = RULE_SKIP_DUPLICATE;
		} else {
			cand[*nfresh] = cand[i];
			ids[(*nfresh)++] = ids[i];
		}
	}
	if (rv == 0)
		rv = claim_fresh(c, conn, ids, cand, nfresh, *skips);
	claimed = rv == 0;
	for (size_t i = 0; rv == 0 && i < batch->n_events; i++) {
		rule_result res;
		if ((*skips)[i] != NULL)
			continue;
		rv = rule_evaluate(c->env, batch->events[i], &st, now, alerts, &res);
		(*skips)[i] = res.skip;
		if (rv == 0)
			count_precision(batch->events[i], &res);
	}
	if (rv != 0 && claimed)
		ridx_dedupe_release(conn, ids, *nfresh, c->owner); /* handed back undone */
	ridx_release(c->index, conn);
out:
	free(cand);
	free(done);
	if (rv != 0) {
		free(*skips);
		*skips = NULL;
		free(ids);
		*nfresh = 0;
		rule_alerts_free(alerts);
		return rv;
	}
	*fresh = ids;
	return 0;
}

/* Marks the batch's fresh eventIDs done; a failure only costs a later
 * duplicate's work (persistence stores each alert once). */
static void
mark_done(corr *c, char **ids, size_t n)
{
	ridx_conn *conn = ridx_acquire(c->index);
	int rv = ridx_dedupe_done(conn, ids, n, c->done_ttl_s);

	ridx_release(c->index, conn);
	if (rv != 0)
		TD_DEBUG("cannot mark eventIDs done", TD_KV_STR("error", td_strerror(rv)));
}

/* Sends the alerts to persistence; 0 with *ack (caller owns) when it answered. */
static int
store(corr *c, const td_envelope *req, size_t events, const rule_alerts *alerts,
    Tfdrift__V1__Ack **ack)
{
	Tfdrift__V1__AlertBatch ab = TFDRIFT__V1__ALERT_BATCH__INIT;
	td_envelope *rep = NULL;
	uint8_t *buf;
	size_t len;
	int rv;

	*ack = NULL;
	ab.alerts = alerts->items;
	ab.n_alerts = alerts->n;
	ab.events = (uint32_t)events;
	len = tfdrift__v1__alert_batch__get_packed_size(&ab);
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		return TD_ENOMEM;
	tfdrift__v1__alert_batch__pack(&ab, buf);
	rv = td_bus_request(c->persist, TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_BATCH, buf,
	    len, req->trace_id, c->wait_ms, &rep);
	free(buf);
	if (rv != 0)
		return rv;
	if (rep->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK ||
	    (*ack = tfdrift__v1__ack__unpack(NULL, rep->payload.len, rep->payload.data)) == NULL)
		rv = TD_EPROTO;
	td_bus_envelope_free(rep);
	return rv;
}

int
corr_handle(void *arg, const td_envelope *req, td_bus_reply *reply)
{
	corr *c = arg;
	Tfdrift__V1__CloudEventBatch *batch = NULL;
	Tfdrift__V1__Ack *ack = NULL;
	rule_alerts alerts = { 0 };
	const char **skips = NULL;
	char **fresh = NULL;
	size_t nfresh = 0;
	int64_t start = td_clock_mono_ms();
	int rv;

	if (atomic_load(&c->stopping))
		return TD_ECLOSED;
	if (req->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH ||
	    (batch = tfdrift__v1__cloud_event_batch__unpack(NULL, req->payload.len,
		 req->payload.data)) == NULL) {
		td_counter_inc(c->rejected);
		TD_WARN("request is not a CloudEventBatch; rejected", TD_KV_INT("type", req->type),
		    TD_KV_STR("trace_id", req->trace_id));
		return reply_ack(reply, req->message_id,
		    TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED, 0, 0, 0,
		    "payload is not a CloudEventBatch");
	}

	rv = evaluate(c, batch, &alerts, &skips, &fresh, &nfresh);
	if (rv == TD_EBUSY) {
		td_counter_inc(c->claims_held);
		if (log_due(&c->handback_logged_ms))
			TD_INFO(
			    "another replica is correlating events of this batch; batch handed back",
			    TD_KV_STR("trace_id", req->trace_id));
		rv = TD_EAGAIN;
		goto out;
	}
	if (rv != 0) {
		if (log_due(&c->handback_logged_ms))
			TD_INFO("cannot read the resource index now; batch handed back",
			    TD_KV_STR("trace_id", req->trace_id),
			    TD_KV_STR("error", td_strerror(rv)));
		rv = TD_EAGAIN;
		goto out;
	}
	if (alerts.n > 0) {
		rv = store(c, req, batch->n_events, &alerts, &ack);
		if (rv != 0 || ack->status == TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY) {
			if (log_due(&c->handback_logged_ms))
				TD_INFO(
				    "persistence did not store the alerts yet; batch handed back",
				    TD_KV_STR("trace_id", req->trace_id),
				    TD_KV_STR("error", rv != 0 ? td_strerror(rv) : ack->error),
				    TD_KV_INT("persistence_peers", td_bus_req_peers(c->persist)));
			release_claims(c, fresh, nfresh);
			rv = TD_EAGAIN;
			goto out;
		}
		if (ack->status != TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK) {
			char why[300];
			td_counter_inc(c->rejected);
			snprintf(why, sizeof(why), "persistence rejected the alerts: %s",
			    ack->error);
			TD_ERROR("persistence rejected the alerts",
			    TD_KV_STR("trace_id", req->trace_id), TD_KV_STR("error", ack->error),
			    TD_KV_UINT("alerts", alerts.n));
			rv = reply_ack(reply, req->message_id,
			    TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED, 0, 0, 0, why);
			goto out;
		}
	}
	/* stored (or nothing to store): only now are the events done */
	mark_done(c, fresh, nfresh);
	td_counter_add(c->events, batch->n_events);
	for (size_t i = 0; i < batch->n_events; i++)
		if (skips[i] != NULL)
			count_skip(c, skips[i]);
	count_alerts(c, &alerts);
	TD_DEBUG("batch correlated", TD_KV_STR("trace_id", req->trace_id),
	    TD_KV_UINT("events", batch->n_events), TD_KV_UINT("alerts", alerts.n));
	rv = reply_ack(reply, req->message_id, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK,
	    (uint32_t)batch->n_events, ack != NULL ? ack->duplicates : 0, (uint32_t)alerts.n, NULL);
	td_histogram_observe(c->latency, (double)(td_clock_mono_ms() - start) / 1e3);
out:
	if (ack != NULL)
		tfdrift__v1__ack__free_unpacked(ack, NULL);
	free(skips);
	free(fresh);
	rule_alerts_free(&alerts);
	tfdrift__v1__cloud_event_batch__free_unpacked(batch, NULL);
	return rv;
}
