/* fuzz_falco_response.c — Falco's gRPC alert (falco.outputs.response wire
 * bytes) through ingest's direct decoder, falco_response_decode
 * (libcommon/src/domain/falco_response.c), then falco_alert_from_fields into
 * a CloudEvent from the same arena, as ingest's gRPC reader does. */
#include "arena.h"
#include "fuzz.h"
#include "tfdrift/error.h"
#include "tfdrift/falco_alert.h"
#include "tfdrift/falco_response.h"
#include "tfdrift/log.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	td_log_set_level(TD_LOG_OFF);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_arena arena = { 0 };
	ProtobufCAllocator al = fuzz_arena_allocator(&arena);
	falco_alert_fields a;
	memset(&a, 0, sizeof(a));
	if (falco_response_decode(data, size, &al, &a) == 0) {
		/* every decoded string is there and terminated */
		if (a.rule == NULL || a.priority == NULL || a.source == NULL ||
		    a.hostname == NULL) {
			abort();
		}
		for (size_t i = 0; i < a.n_fields; i++) {
			if (a.keys[i] == NULL || a.values[i] == NULL) {
				abort();
			}
			(void)strlen(a.keys[i]);
			(void)strlen(a.values[i]);
		}
		Tfdrift__V1__CloudEvent *ev = NULL;
		td_error err = { 0 };
		(void)falco_alert_from_fields(&a,
		    TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_GRPC, "127.0.0.1:5060", &al, &ev,
		    &err);
	}
	fuzz_arena_clear(&arena);
	return 0;
}
