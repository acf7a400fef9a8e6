/* fuzz_bus_envelope.c — bytes from another process on the bus: the envelope
 * (td_bus_envelope_decode, libcommon/src/bus.c) and then its payload as the
 * receiver reads it: a CloudEventBatch through ingest's batch scanner
 * (services/ingest/batchscan.c) and protobuf-c, an AlertBatch, an Ack or a
 * StateNotice through protobuf-c.  A batch both accept must count the same
 * events. */
#include "../../services/ingest/batchscan.h"
#include "fuzz.h"
#include "tfdrift/bus.h"
#include "tfdrift/error.h"
#include "tfdrift/log.h"
#include "tfdrift/v1/alert.pb-c.h"
#include "tfdrift/v1/bus.pb-c.h"
#include "tfdrift/v1/event.pb-c.h"
#include "tfdrift/v1/state.pb-c.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	td_log_set_level(TD_LOG_OFF);
	return 0;
}

static void
payload(int type, const uint8_t *p, size_t len)
{
	switch (type) {
	case TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH: {
		bscan_summary sum = { 0 };
		int scanned = bscan_add(&sum, p, len);
		Tfdrift__V1__CloudEventBatch *b = tfdrift__v1__cloud_event_batch__unpack(NULL, len,
		    p);
		if (b != NULL && scanned == 0 && sum.n_events != b->n_events) {
			abort();
		}
		tfdrift__v1__cloud_event_batch__free_unpacked(b, NULL);
		break;
	}
	case TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_BATCH:
	case TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED:
		tfdrift__v1__alert_batch__free_unpacked(tfdrift__v1__alert_batch__unpack(NULL, len,
							    p),
		    NULL);
		break;
	case TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK:
		tfdrift__v1__ack__free_unpacked(tfdrift__v1__ack__unpack(NULL, len, p), NULL);
		break;
	case TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_STATE_NOTICE:
		tfdrift__v1__state_notice__free_unpacked(tfdrift__v1__state_notice__unpack(NULL,
							     len, p),
		    NULL);
		break;
	default: abort(); /* decode lets no other type through */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	td_envelope *env = NULL;
	td_error err = { 0 };
	if (td_bus_envelope_decode(data, size, &env, &err) != 0) {
		if (env != NULL || err.msg[0] == '\0') {
			abort();
		}
		return 0;
	}
	if (env->message_id == NULL || env->message_id[0] == '\0') {
		abort();
	}
	payload((int)env->type, env->payload.data, env->payload.len);
	td_bus_envelope_free(env);
	return 0;
}
