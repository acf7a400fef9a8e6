/* batchscan.h — what the hand-off needs to know of an encoded CloudEventBatch
 * (how many events, from which inputs, the newest event time), read off the
 * protobuf wire bytes without decoding the batch.
 *
 * The journal holds each entry as a packed CloudEventBatch and the hand-off
 * sends those bytes unchanged; decoding every event only to count it was a
 * fifth of ingest's CPU.  CloudEventBatch has one field (repeated CloudEvent
 * events = 1), so packed batches concatenated are the packed batch of all
 * their events: the hand-off merges entries by appending bytes.
 *
 * The scan checks the structure it walks (tags, wire types, lengths inside
 * their message); a batch that fails it is not a CloudEventBatch.
 * Threads: no state. */
#ifndef TFDRIFT_INGEST_BATCHSCAN_H
#define TFDRIFT_INGEST_BATCHSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "tfdrift/error.h"

/* EventOrigin values counted one by one; larger ones count as unspecified. */
#define BSCAN_ORIGINS 4

typedef struct bscan_summary {
	size_t n_events;
	size_t by_origin[BSCAN_ORIGINS]; /* indexed by Tfdrift__V1__EventOrigin */
	int64_t newest_ns;               /* largest event_time_ns, 0 if none */
} bscan_summary;

/* Adds the events of the packed CloudEventBatch buf/len to *sum (zero it
 * first for one batch).  TD_EPROTO when buf is not a well-formed batch; *sum
 * is then unchanged. */
int bscan_add(bscan_summary *sum, const uint8_t *buf, size_t len);

#endif
