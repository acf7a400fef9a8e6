/* test_ingest_falco_response.c — falco.outputs.response decoded by hand
 * (falco_response.c) against what protobuf-c packs for the same message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/falco_response.h"
#include "falco/outputs.pb-c.h"
#include "tfdrift/error.h"

/* Every block is kept and freed by clear; free does nothing (an arena). */
typedef struct blocks {
	void *b[256];
	size_t n;
} blocks;

static void *
b_alloc(void *data, size_t n)
{
	blocks *a = data;
	void *p = a->n < sizeof(a->b) / sizeof(a->b[0]) ? malloc(n) : NULL;

	if (p != NULL)
		a->b[a->n++] = p;
	return p;
}

static void
b_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

static void
b_clear(blocks *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->b[i]);
	a->n = 0;
}

static blocks arena;

static ProtobufCAllocator
allocator(void)
{
	ProtobufCAllocator al;

	al.alloc = b_alloc;
	al.free = b_free;
	al.allocator_data = &arena;
	return al;
}

/* r packed by protobuf-c; *len its size; malloc'd. */
static uint8_t *
pack(const Falco__Outputs__Response *r, size_t *len)
{
	uint8_t *buf;

	*len = falco__outputs__response__get_packed_size(r);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	falco__outputs__response__pack(r, buf);
	return buf;
}

static void
decodes_what_protobuf_c_packs(void **state)
{
	Falco__Outputs__Response r;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Falco__Outputs__Response__OutputFieldsEntry e[3] = {
		FALCO__OUTPUTS__RESPONSE__OUTPUT_FIELDS_ENTRY__INIT,
		FALCO__OUTPUTS__RESPONSE__OUTPUT_FIELDS_ENTRY__INIT,
		FALCO__OUTPUTS__RESPONSE__OUTPUT_FIELDS_ENTRY__INIT,
	};
	Falco__Outputs__Response__OutputFieldsEntry *ep[3] = { &e[0], &e[1], &e[2] };
	char *tags[] = { "drift", "", "iac" };
	ProtobufCAllocator al = allocator();
	falco_alert_fields a;
	uint8_t *buf;
	size_t len;

	(void)state;
	/* the function, not the INIT macro: that names the deprecated field */
	falco__outputs__response__init(&r);
	ts.seconds = 1784799655;
	ts.nanos = 123456789;
	r.time = &ts;
	r.priority = FALCO__SCHEMA__PRIORITY__WARNING;
	r.rule = "Terraform Managed Resource Modified";
	r.output = "Warning drift (ct.name=RunInstances)";
	e[0].key = "ct.id";
	e[0].value = "e-1";
	e[1].key = "ct.request";
	e[1].value = "{\"a\":\"\\u00e9\"}";
	e[2].key = "ct.error";
	e[2].value = "";
	r.n_output_fields = 3;
	r.output_fields = ep;
	r.hostname = "falco-0";
	r.n_tags = 3;
	r.tags = tags;
	r.source = "aws_cloudtrail";
	buf = pack(&r, &len);
	assert_int_equal(falco_response_decode(buf, len, &al, &a), 0);
	assert_int_equal(a.time_ns, 1784799655123456789LL);
	assert_string_equal(a.priority, "Warning");
	assert_string_equal(a.rule, r.rule);
	assert_string_equal(a.hostname, "falco-0");
	assert_string_equal(a.source, "aws_cloudtrail");
	assert_int_equal(a.n_fields, 3);
	assert_string_equal(a.keys[0], "ct.id");
	assert_string_equal(a.values[0], "e-1");
	assert_string_equal(a.keys[1], "ct.request");
	assert_string_equal(a.values[1], e[1].value);
	assert_string_equal(a.values[2], "");
	assert_int_equal(a.n_tags, 3);
	assert_string_equal(a.tags[0], "drift");
	assert_string_equal(a.tags[1], "");
	assert_string_equal(a.tags[2], "iac");
	assert_null(a.time);

	/* every strict prefix is cut inside some field: invalid, never a crash */
	for (size_t cut = 1; cut < len; cut++) {
		falco_alert_fields b;
		int rv = falco_response_decode(buf, cut, &al, &b);
		/* a cut between two top-level fields is a shorter valid message */
		assert_true(rv == 0 || rv == TD_EINVAL);
	}
	free(buf);
	b_clear(&arena);
}

static void
empty_and_unknown_fields(void **state)
{
	Falco__Outputs__Response r;
	ProtobufCAllocator al = allocator();
	falco_alert_fields a;
	/* field 15 varint, field 16 fixed64, field 17 bytes, field 18 fixed32: skipped */
	static const uint8_t unknown[] = { 0x78, 0x05, 0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x8a,
		0x01, 0x02, 'h', 'i', 0x95, 0x01, 1, 2, 3, 4, 0x4a, 0x03, 's', 'y', 's' };
	uint8_t *buf;
	size_t len;

	(void)state;
	falco__outputs__response__init(&r);
	r.priority = FALCO__SCHEMA__PRIORITY__EMERGENCY;
	buf = pack(&r, &len);
	assert_int_equal(falco_response_decode(buf, len, &al, &a), 0);
	assert_string_equal(a.rule, "");
	assert_string_equal(a.priority, "Emergency"); /* 0, not on the wire */
	assert_string_equal(a.source, "");
	assert_int_equal(a.n_fields, 0);
	assert_int_equal(a.time_ns, 0);
	free(buf);
	assert_int_equal(falco_response_decode(unknown, sizeof(unknown), &al, &a), 0);
	assert_string_equal(a.source, "sys");
	b_clear(&arena);
}

static void
malformed_is_invalid(void **state)
{
	static const struct {
		const char *what;
		uint8_t b[16];
		size_t n;
	} bad[] = {
		{ "rule as a varint", { 0x20, 0x01 }, 2 },
		{ "priority as bytes", { 0x12, 0x01, 'x' }, 3 },
		{ "length past the end", { 0x22, 0x09, 'a' }, 3 },
		{ "wire type 3", { 0x23, 0x00 }, 2 },
		{ "field number 0", { 0x02, 0x00 }, 2 },
		{ "varint never ends", { 0x10, 0xff, 0xff }, 3 },
		{ "map entry key as varint", { 0x32, 0x02, 0x08, 0x01 }, 4 },
		{ "time seconds as bytes", { 0x0a, 0x03, 0x0a, 0x01, 'x' }, 5 },
		/* found by fuzz_falco_response: seconds * 1e9 overflowed int64 */
		{ "time seconds 2^34", { 0x0a, 0x06, 0x08, 0x80, 0x80, 0x80, 0x80, 0x40 }, 8 },
		{ "time seconds fit, plus nanos do not",
		    { 0x0a, 0x0c, 0x08, 0x84, 0xfa, 0x85, 0xae, 0x22, 0x10, 0xff, 0x93, 0xeb, 0xdc,
			0x03 },
		    14 },
	};
	ProtobufCAllocator al = allocator();

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		falco_alert_fields a;
		if (falco_response_decode(bad[i].b, bad[i].n, &al, &a) != TD_EINVAL)
			fail_msg("%s: not refused", bad[i].what);
	}
	b_clear(&arena);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_what_protobuf_c_packs),
		cmocka_unit_test(empty_and_unknown_fields),
		cmocka_unit_test(malformed_is_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
