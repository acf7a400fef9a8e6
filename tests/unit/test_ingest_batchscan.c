/* test_ingest_batchscan.c — batch summaries read off the wire bytes agree with
 * protobuf-c's own decoding; concatenated batches are one batch; malformed
 * bytes are refused at every truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/ingest/batchscan.h"
#include "tfdrift/v1/event.pb-c.h"

/* A packed batch of n events with the given origins and times; owned by the
 * caller (free). */
static uint8_t *
pack(size_t n, const int *origins, const int64_t *times, size_t *len)
{
	Tfdrift__V1__CloudEvent ev[8];
	Tfdrift__V1__CloudEvent *evp[8];
	Tfdrift__V1__CloudEventBatch b = TFDRIFT__V1__CLOUD_EVENT_BATCH__INIT;
	uint8_t *buf;

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		tfdrift__v1__cloud_event__init(&ev[i]);
		ev[i].event_id = (char *)"3f1c2d4e-0000-4000-8000-000000000001";
		ev[i].event_name = (char *)"ModifyInstanceAttribute";
		ev[i].raw_json = (char *)"{\"eventVersion\":\"1.08\"}";
		ev[i].origin = (Tfdrift__V1__EventOrigin)origins[i];
		ev[i].event_time_ns = times[i];
		ev[i].origin_detail = (char *)"127.0.0.1:2801";
		evp[i] = &ev[i];
	}
	b.n_events = n;
	b.events = evp;
	*len = tfdrift__v1__cloud_event_batch__get_packed_size(&b);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	tfdrift__v1__cloud_event_batch__pack(&b, buf);
	return buf;
}

static void
summary_matches_events(void **state)
{
	const int origins[] = { 1, 2, 3, 1, 0 };
	const int64_t times[] = { 1700000000000000000, 1800000000123456789, 5, 0,
		1750000000000000000 };
	bscan_summary s = { 0 };
	size_t len;
	uint8_t *buf = pack(5, origins, times, &len);

	(void)state;
	assert_int_equal(bscan_add(&s, buf, len), 0);
	assert_int_equal(s.n_events, 5);
	assert_int_equal(s.by_origin[0], 1);
	assert_int_equal(s.by_origin[1], 2);
	assert_int_equal(s.by_origin[2], 1);
	assert_int_equal(s.by_origin[3], 1);
	assert_true(s.newest_ns == 1800000000123456789);
	free(buf);
}

static void
empty_batch_is_zero_events(void **state)
{
	bscan_summary s = { 0 };

	(void)state;
	assert_int_equal(bscan_add(&s, (const uint8_t *)"", 0), 0);
	assert_int_equal(s.n_events, 0);
	assert_true(s.newest_ns == 0);
	/* what protobuf-c hands over for an empty bytes field (found by
	 * fuzz_bus_envelope: NULL + 0 under UBSan) */
	assert_int_equal(bscan_add(&s, NULL, 0), 0);
	assert_int_equal(s.n_events, 0);
}

/* The hand-off merges journal entries by appending their bytes: protobuf-c
 * must decode the concatenation as one batch of every event, in order. */
static void
concatenation_is_one_batch(void **state)
{
	const int o1[] = { 1, 1 }, o2[] = { 2, 3, 3 };
	const int64_t t1[] = { 10, 20 }, t2[] = { 30, 5, 40 };
	size_t l1, l2;
	uint8_t *b1 = pack(2, o1, t1, &l1), *b2 = pack(3, o2, t2, &l2);
	uint8_t *all = malloc(l1 + l2);
	bscan_summary s = { 0 };
	Tfdrift__V1__CloudEventBatch *dec;

	(void)state;
	assert_non_null(all);
	memcpy(all, b1, l1);
	memcpy(all + l1, b2, l2);
	assert_int_equal(bscan_add(&s, b1, l1), 0);
	assert_int_equal(bscan_add(&s, b2, l2), 0);
	assert_int_equal(s.n_events, 5);
	assert_int_equal(s.by_origin[3], 2);
	assert_true(s.newest_ns == 40);
	dec = tfdrift__v1__cloud_event_batch__unpack(NULL, l1 + l2, all);
	assert_non_null(dec);
	assert_int_equal(dec->n_events, 5);
	assert_true(dec->events[0]->event_time_ns == 10);
	assert_true(dec->events[4]->event_time_ns == 40);
	assert_int_equal(dec->events[2]->origin, 2);
	tfdrift__v1__cloud_event_batch__free_unpacked(dec, NULL);
	free(all);
	free(b1);
	free(b2);
}

/* Every proper prefix of a batch ends inside an event or a length: refused,
 * and the summary is left as it was. */
static void
truncated_is_refused(void **state)
{
	const int origins[] = { 1, 2 };
	const int64_t times[] = { 1700000000000000000, 1700000000000000001 };
	size_t len, first;
	uint8_t *buf = pack(2, origins, times, &len);

	(void)state;
	/* the first event's bytes end where the second's tag begins */
	first = 2 + buf[1];
	for (size_t cut = 1; cut < len; cut++) {
		bscan_summary s = { .n_events = 7 };
		int rv = bscan_add(&s, buf, cut);
		if (cut == first)
			continue; /* a whole first event: a valid batch of one */
		assert_int_equal(rv, TD_EPROTO);
		assert_int_equal(s.n_events, 7);
	}
	free(buf);
}

static void
garbage_is_refused(void **state)
{
	static const uint8_t wrong_field[] = { 0x12, 0x00 };          /* field 2 */
	static const uint8_t wrong_type[] = { 0x08, 0x01 };           /* field 1 as varint */
	static const uint8_t long_len[] = { 0x0a, 0x05, 0x10, 0x01 }; /* length past end */
	static const uint8_t group[] = { 0x0a, 0x02, 0x1b, 0x00 };    /* start group */
	static const uint8_t zero_tag[] = { 0x0a, 0x02, 0x00, 0x00 }; /* field 0 */
	static const uint8_t runaway[] = { 0x0a, 0x0b, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff };
	const struct {
		const uint8_t *b;
		size_t n;
	} cases[] = {
		{ wrong_field, sizeof(wrong_field) },
		{ wrong_type, sizeof(wrong_type) },
		{ long_len, sizeof(long_len) },
		{ group, sizeof(group) },
		{ zero_tag, sizeof(zero_tag) },
		{ runaway, sizeof(runaway) },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bscan_summary s = { 0 };
		assert_int_equal(bscan_add(&s, cases[i].b, cases[i].n), TD_EPROTO);
		assert_int_equal(s.n_events, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(summary_matches_events),
		cmocka_unit_test(empty_batch_is_zero_events),
		cmocka_unit_test(concatenation_is_one_batch),
		cmocka_unit_test(truncated_is_refused),
		cmocka_unit_test(garbage_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
