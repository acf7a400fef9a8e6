/* submit.c — REP server for `replay`: CloudEventBatch in, correlator's Ack out. */
#include "submit.h"

#include <stdlib.h>

#include "tfdrift/bus.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

struct submit_server {
	td_bus_rep *rep;
	hand *hand;
	td_counter *rejected;
};

/* reply->payload is malloc'd here and freed by the bus. */
static int
reply_ack(td_bus_reply *reply, const char *message_id, const hand_waiter *a, int status,
    const char *error)
{
	int rv;

	reply->type = TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK;
	if (a != NULL)
		rv = td_bus_ack_encode(message_id, a->status, a->accepted, a->duplicates,
		    a->produced, a->error, &reply->payload, &reply->len);
	else
		rv = td_bus_ack_encode(message_id, status, 0, 0, 0, error, &reply->payload,
		    &reply->len);
	return rv;
}

static int
handle(void *arg, const td_envelope *req, td_bus_reply *reply)
{
	submit_server *s = arg;
	Tfdrift__V1__CloudEventBatch *batch = NULL;
	hand_waiter w;
	int rv;

	if (req->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH) {
		td_counter_inc(s->rejected);
		TD_WARN("submit: unexpected message type", TD_KV_INT("type", req->type),
		    TD_KV_STR("trace_id", req->trace_id));
		return reply_ack(reply, req->message_id, NULL,
		    TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED, "expected a CLOUD_EVENT_BATCH");
	}
	batch = tfdrift__v1__cloud_event_batch__unpack(NULL, req->payload.len, req->payload.data);
	if (batch == NULL) {
		td_counter_inc(s->rejected);
		TD_WARN("submit: payload is not a CloudEventBatch",
		    TD_KV_STR("trace_id", req->trace_id), TD_KV_UINT("bytes", req->payload.len));
		return reply_ack(reply, req->message_id, NULL,
		    TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED,
		    "payload is not a CloudEventBatch");
	}
	/* journaled first; a full journal holds the sender back (REQ/REP is
	 * back-pressure by itself) until a release frees room */
	while ((rv = hand_submit(s->hand, req->payload.data, req->payload.len, req->trace_id,
		    &w)) == TD_EBUSY) {
		if (hand_wait_space(s->hand, 1000) == TD_ECLOSED) {
			rv = TD_ECLOSED;
			break;
		}
	}
	if (rv == 0) {
		hand_wait(s->hand, &w);
		rv = w.rv;
	}
	if (rv == 0) {
		rv = reply_ack(reply, req->message_id, &w, 0, NULL);
	} else if (rv == TD_ETOOBIG || rv == TD_EIO || rv == TD_EPROTO) {
		rv = reply_ack(reply, req->message_id, NULL,
		    TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED,
		    rv == TD_ETOOBIG ? "batch larger than the journal"
				     : "the journal cannot take it");
	} else {
		TD_DEBUG("submit: batch handed back to the sender",
		    TD_KV_STR("trace_id", req->trace_id), TD_KV_STR("error", td_strerror(rv)));
		/* no reply: the sender's REQ resends it (to us after a restart) */
		rv = rv == TD_ECLOSED ? TD_ECLOSED : TD_EAGAIN;
	}
	tfdrift__v1__cloud_event_batch__free_unpacked(batch, NULL);
	return rv;
}

int
submit_start(submit_server **out, const char *url, int workers, hand *h, td_error *err)
{
	submit_server *s;
	td_bus_rep_opts o;
	int rv;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	s->hand = h;
	s->rejected = td_counter_get("tfdrift_ingest_batches_rejected_total",
	    "Submitted batches refused because they did not decode.", NULL);
	o = (td_bus_rep_opts){
		.name = "ingest.submit",
		.url = url,
		.listen = true,
		.workers = workers,
		.handler = handle,
		.arg = s,
	};
	if ((rv = td_bus_rep_start(&s->rep, &o, err)) != 0) {
		free(s);
		return rv;
	}
	*out = s;
	return 0;
}

void
submit_stop(submit_server *s)
{
	if (s == NULL)
		return;
	td_bus_rep_stop(s->rep);
	free(s);
}
