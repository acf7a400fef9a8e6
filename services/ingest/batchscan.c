/* batchscan.c — CloudEventBatch summaries from the wire bytes (batchscan.h). */
#include "batchscan.h"

#include <stdbool.h>
#include <string.h>

/* CloudEventBatch.events and the CloudEvent fields the summary reads
 * (proto/tfdrift/v1/event.proto). */
enum {
	F_EVENTS = 1,
	F_EVENT_TIME_NS = 2,
	F_ORIGIN = 30
};
enum {
	WT_VARINT = 0,
	WT_I64 = 1,
	WT_LEN = 2,
	WT_I32 = 5
};

/* Reads a varint at *p (< end); false when truncated or longer than 10 bytes. */
static bool
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Skips the value of a field of wire type wt; false when it runs past end. */
static bool
skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t n;

	switch (wt) {
	case WT_VARINT: return varint(p, end, &n);
	case WT_I64: n = 8; break;
	case WT_I32: n = 4; break;
	case WT_LEN:
		if (!varint(p, end, &n))
			return false;
		break;
	default: return false; /* groups are not used by proto3 */
	}
	if (n > (uint64_t)(end - *p))
		return false;
	*p += n;
	return true;
}

/* One CloudEvent's origin and time; false when malformed. */
static bool
scan_event(const uint8_t *p, const uint8_t *end, uint64_t *origin, int64_t *time_ns)
{
	*origin = 0;
	*time_ns = 0;
	while (p < end) {
		uint64_t tag, v;

		if (!varint(&p, end, &tag) || (tag >> 3) == 0)
			return false;
		if ((tag >> 3) == F_ORIGIN && (tag & 7) == WT_VARINT) {
			if (!varint(&p, end, origin))
				return false;
		} else if ((tag >> 3) == F_EVENT_TIME_NS && (tag & 7) == WT_VARINT) {
			if (!varint(&p, end, &v))
				return false;
			*time_ns = (int64_t)v;
		} else if (!skip(&p, end, (unsigned)(tag & 7))) {
			return false;
		}
	}
	return true;
}

int
bscan_add(bscan_summary *sum, const uint8_t *buf, size_t len)
{
	const uint8_t *p, *end;
	bscan_summary s = *sum;

	/* an empty batch (possibly NULL, 0: a journal entry with no bytes) has no
	 * events; NULL + 0 would be undefined */
	if (len == 0)
		return 0;
	p = buf;
	end = buf + len;

	while (p < end) {
		uint64_t tag, n, origin;
		int64_t t;

		if (!varint(&p, end, &tag) || (tag >> 3) != F_EVENTS || (tag & 7) != WT_LEN ||
		    !varint(&p, end, &n) || n > (uint64_t)(end - p) ||
		    !scan_event(p, p + n, &origin, &t))
			return TD_EPROTO;
		p += n;
		s.n_events++;
		s.by_origin[origin < BSCAN_ORIGINS ? origin : 0]++;
		if (t > s.newest_ns)
			s.newest_ns = t;
	}
	*sum = s;
	return 0;
}
