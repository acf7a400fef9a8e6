/* feed.c — see feed.h. */
#include "feed.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "tfdrift/bus.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"
#include "tfdrift/v1/state.pb-c.h"

struct gw_feed {
	td_bus_sub *sub;
	void (*on_batch)(void *arg, const Tfdrift__V1__AlertBatch *batch);
	void (*on_state_cb)(void *arg, const Tfdrift__V1__StateNotice *notice);
	void *arg;
	td_counter *received;
	td_counter *bad;
	td_bus_sub *state_sub;
	td_counter *notices;
	_Atomic uint64_t generation;
};

/* Runs on the state SUB thread. */
static void
on_state(void *arg, const td_envelope *env)
{
	gw_feed *f = arg;
	if (env->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_STATE_NOTICE) {
		td_counter_inc(f->bad);
		TD_WARN("unexpected message on the state feed", TD_KV_INT("type", env->type));
		return;
	}
	Tfdrift__V1__StateNotice *n = tfdrift__v1__state_notice__unpack(NULL, env->payload.len,
	    env->payload.data);
	if (n == NULL) {
		td_counter_inc(f->bad);
		TD_WARN("state feed: payload is not a tfdrift.v1.StateNotice",
		    TD_KV_STR("trace_id", env->trace_id));
		return;
	}
	td_counter_inc(f->notices);
	atomic_store(&f->generation, n->generation);
	if (f->on_state_cb != NULL) {
		f->on_state_cb(f->arg, n);
	}
	TD_INFO("state changed", TD_KV_UINT("generation", n->generation),
	    TD_KV_UINT("resources", n->resource_count), TD_KV_STR("reason", n->reason));
	tfdrift__v1__state_notice__free_unpacked(n, NULL);
}

/* Runs on the SUB thread. */
static void
on_message(void *arg, const td_envelope *env)
{
	gw_feed *f = arg;
	if (env->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED) {
		td_counter_inc(f->bad);
		TD_WARN("unexpected message on the alerts feed", TD_KV_INT("type", env->type));
		return;
	}
	Tfdrift__V1__AlertBatch *b = tfdrift__v1__alert_batch__unpack(NULL, env->payload.len,
	    env->payload.data);
	if (b == NULL) {
		td_counter_inc(f->bad);
		TD_WARN("alerts feed: payload is not a tfdrift.v1.AlertBatch",
		    TD_KV_STR("trace_id", env->trace_id));
		return;
	}
	td_counter_add(f->received, b->n_alerts);
	if (f->on_batch != NULL) {
		f->on_batch(f->arg, b);
	}
	tfdrift__v1__alert_batch__free_unpacked(b, NULL);
}

/* *out owned by caller. */
int
gw_feed_open(gw_feed **out, const gw_feed_opts *o, td_error *err)
{
	*out = NULL;
	gw_feed *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	f->on_batch = o->on_batch;
	f->on_state_cb = o->on_state;
	f->arg = o->arg;
	f->received = td_counter_get("tfdrift_gateway_alerts_received_total",
	    "Committed alerts received from persistence's PUB socket.", NULL);
	f->bad = td_counter_get("tfdrift_gateway_feed_errors_total",
	    "Messages on the alerts or state feed that were not of the expected type.", NULL);
	f->notices = td_counter_get("tfdrift_gateway_state_notices_total",
	    "State-changed notices received from state-loader's PUB socket.", NULL);
	int rv = td_bus_sub_open(&f->sub, "api_gateway.alerts", o->url, on_message, f, err);
	if (rv != 0) {
		free(f);
		return rv;
	}
	if (o->state_url != NULL &&
	    (rv = td_bus_sub_open(&f->state_sub, "api_gateway.state", o->state_url, on_state, f,
		 err)) != 0) {
		td_bus_sub_close(f->sub);
		free(f);
		return rv;
	}
	*out = f;
	return 0;
}

bool
gw_feed_connected(const gw_feed *f)
{
	return f != NULL && td_bus_sub_peers(f->sub) > 0;
}

bool
gw_feed_state_connected(const gw_feed *f)
{
	return f != NULL && f->state_sub != NULL && td_bus_sub_peers(f->state_sub) > 0;
}

uint64_t
gw_feed_state_generation(const gw_feed *f)
{
	return f == NULL ? 0 : atomic_load(&((gw_feed *)f)->generation);
}

void
gw_feed_close(gw_feed *f)
{
	if (f == NULL) {
		return;
	}
	td_bus_sub_close(f->state_sub);
	td_bus_sub_close(f->sub);
	free(f);
}
