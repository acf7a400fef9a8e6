/* forwarder.c — ingest's REQ socket towards the correlators. */
#include "forwarder.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tfdrift/bus.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

/* One received-events series per origin, so a dashboard can tell inputs apart. */
static const struct {
	Tfdrift__V1__EventOrigin origin;
	const char *labels;
} origin_labels[] = {
	{ TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_UNSPECIFIED, "origin=\"unspecified\"" },
	{ TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_GRPC, "origin=\"falco_grpc\"" },
	{ TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_HTTP, "origin=\"falco_http\"" },
	{ TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FILE, "origin=\"file\"" },
};
#define N_ORIGINS (sizeof(origin_labels) / sizeof(origin_labels[0]))

struct fwd {
	td_bus_req *req;
	int timeout_ms;
	atomic_bool stopping;
	td_counter *received[N_ORIGINS];
	td_counter *forwarded;
	td_gauge *in_flight;
	td_gauge *last_event;
};

int
fwd_open(fwd **out, const fwd_opts *opts, td_error *err)
{
	fwd *f;
	int rv;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	atomic_init(&f->stopping, false);
	f->timeout_ms = opts->timeout_ms;
	for (size_t i = 0; i < N_ORIGINS; i++)
		f->received[i] = td_counter_get("tfdrift_ingest_events_received_total",
		    "CloudEvents received by ingest, by input.", origin_labels[i].labels);
	f->forwarded = td_counter_get("tfdrift_ingest_events_forwarded_total",
	    "CloudEvents a correlator acknowledged (its alerts are stored).", NULL);
	f->in_flight = td_gauge_get("tfdrift_ingest_batches_in_flight",
	    "Batches handed to a correlator and not yet acknowledged.", NULL);
	f->last_event = td_gauge_get("tfdrift_ingest_last_event_timestamp_seconds",
	    "eventTime of the newest event in the last batch received, Unix seconds.", NULL);
	rv = td_bus_req_open(&f->req, "ingest.work", opts->work_url, true, opts->resend_ms, err);
	if (rv != 0) {
		free(f);
		return rv;
	}
	*out = f;
	return 0;
}

int
fwd_correlators(const fwd *f)
{
	return td_bus_req_peers(f->req);
}

void
fwd_request_stop(fwd *f)
{
	atomic_store(&f->stopping, true);
}

void
fwd_close(fwd *f)
{
	if (f == NULL)
		return;
	td_bus_req_close(f->req);
	free(f);
}

static void
count_received(fwd *f, const bscan_summary *sum)
{
	for (size_t k = 0; k < N_ORIGINS; k++)
		if ((size_t)origin_labels[k].origin < BSCAN_ORIGINS)
			td_counter_add(f->received[k], sum->by_origin[origin_labels[k].origin]);
	if (sum->newest_ns > 0)
		td_gauge_set(f->last_event, (double)sum->newest_ns / 1e9);
}

/* On success *ack is owned by the caller. */
static int
ack_from(const td_envelope *reply, Tfdrift__V1__Ack **ack)
{
	if (reply->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK)
		return TD_EPROTO;
	*ack = tfdrift__v1__ack__unpack(NULL, reply->payload.len, reply->payload.data);
	return *ack != NULL ? 0 : TD_EPROTO;
}

int
fwd_forward(fwd *f, const bscan_summary *sum, const uint8_t *payload, size_t len,
    const char *trace_id, Tfdrift__V1__Ack **ack)
{
	int64_t start = td_clock_mono_ms();
	td_envelope *reply = NULL;
	int rv, rounds = 0;

	*ack = NULL;
	count_received(f, sum);
	td_gauge_add(f->in_flight, 1);
	for (;;) {
		int round = FWD_ROUND_MS;

		if (atomic_load(&f->stopping)) {
			rv = TD_ECLOSED;
			break;
		}
		if (f->timeout_ms > 0) {
			int64_t left = f->timeout_ms - (td_clock_mono_ms() - start);
			if (left <= 0) {
				rv = TD_ETIMEDOUT;
				break;
			}
			if (left < round)
				round = (int)left;
		}
		rv = td_bus_request(f->req,
		    TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH, payload, len,
		    trace_id, round, &reply);
		if (rv != TD_ETIMEDOUT)
			break;
		if (++rounds == 1 || rounds % 20 == 0)
			TD_INFO("no correlator has answered yet; still waiting",
			    TD_KV_STR("trace_id", trace_id),
			    TD_KV_INT("correlators", fwd_correlators(f)),
			    TD_KV_INT("waited_ms", td_clock_mono_ms() - start));
	}
	if (rv == 0) {
		rv = ack_from(reply, ack);
		if (rv != 0)
			TD_WARN("a correlator answered with something that is not an Ack",
			    TD_KV_STR("trace_id", trace_id), TD_KV_INT("type", reply->type));
		else if ((*ack)->status == TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK)
			td_counter_add(f->forwarded, sum->n_events);
	}
	td_bus_envelope_free(reply);
	td_gauge_add(f->in_flight, -1);
	return rv;
}
