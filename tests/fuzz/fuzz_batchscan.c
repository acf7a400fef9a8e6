/* fuzz_batchscan.c — ingest's scan of a packed CloudEventBatch
 * (services/ingest/batchscan.c: the journal's entries and what the hand-off
 * sends) against protobuf-c's full decode of the same bytes: when both
 * accept a batch they count the same events, origins and newest time.  (The
 * scanner may refuse what protobuf-c takes, such as unknown top-level fields:
 * ingest only scans batches it packed itself.) */
#include "../../services/ingest/batchscan.h"
#include "fuzz.h"
#include "tfdrift/v1/event.pb-c.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bscan_summary sum = { 0 };
	int rv = bscan_add(&sum, data, size);
	if (rv != 0 && sum.n_events != 0) {
		abort(); /* a refused batch leaves the summary as it was */
	}
	Tfdrift__V1__CloudEventBatch *b = tfdrift__v1__cloud_event_batch__unpack(NULL, size, data);
	if (b != NULL && rv == 0) {
		if (sum.n_events != b->n_events) {
			abort();
		}
		size_t by = 0;
		int64_t newest = 0;
		for (size_t i = 0; i < b->n_events; i++) {
			if (b->events[i]->event_time_ns > newest) {
				newest = b->events[i]->event_time_ns;
			}
		}
		for (size_t i = 0; i < BSCAN_ORIGINS; i++) {
			by += sum.by_origin[i];
		}
		if (by != sum.n_events || newest != sum.newest_ns) {
			abort();
		}
	}
	tfdrift__v1__cloud_event_batch__free_unpacked(b, NULL);
	return 0;
}
