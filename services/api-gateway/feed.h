/* feed.h — committed alerts from persistence's PUB socket, state notices from
 * state-loader's.
 *
 * A SUB socket dials api_gateway.alerts_url and counts every committed alert
 * (tfdrift_gateway_alerts_received_total); another dials api_gateway.state_url
 * and keeps the latest state generation (tfdrift_gateway_state_notices_total).
 * The live feed (live.h) hooks in through gw_feed_opts.on_batch and
 * on_state, which see each decoded message on the subscriber's thread.  Nothing here is the only copy of an
 * alert: a client that missed some reads them from PostgreSQL. */
#ifndef TFDRIFT_GW_FEED_H
#define TFDRIFT_GW_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "tfdrift/error.h"
#include "tfdrift/v1/alert.pb-c.h"
#include "tfdrift/v1/state.pb-c.h"

typedef struct gw_feed gw_feed;

typedef struct gw_feed_opts {
	const char *url;
	const char *state_url; /* NULL: no state feed */
	/* Called for each ALERT_COMMITTED batch on the SUB thread; the batch is
	 * borrowed for the call.  NULL: count only. */
	void (*on_batch)(void *arg, const Tfdrift__V1__AlertBatch *batch);
	/* Called for each StateNotice on the state SUB thread; borrowed.  May be NULL. */
	void (*on_state)(void *arg, const Tfdrift__V1__StateNotice *notice);
	void *arg;
} gw_feed_opts;

/* Dials (NNG keeps redialing while persistence is away).  *out owned by caller. */
int gw_feed_open(gw_feed **out, const gw_feed_opts *opts, td_error *err);
/* True while connected to a publisher. */
bool gw_feed_connected(const gw_feed *f);
/* True while connected to state-loader's publisher. */
bool gw_feed_state_connected(const gw_feed *f);
/* The generation of the latest StateNotice received; 0 before the first. */
uint64_t gw_feed_state_generation(const gw_feed *f);
/* Closes and frees; NULL is ignored. */
void gw_feed_close(gw_feed *f);

#endif
