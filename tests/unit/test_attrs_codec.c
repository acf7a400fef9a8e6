/* test_attrs_codec.c — attributes as stored in Redis (attrs_codec.h): small
 * values as they are, large ones packed when that is smaller, both read back
 * byte for byte; anything else is refused, not misread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "tfdrift/attrs_codec.h"
#include "tfdrift/error.h"

static void
roundtrip(const char *json, size_t len, size_t *packed_len)
{
	char *packed = NULL, *back = NULL;
	size_t plen = 0, blen = 0;

	assert_int_equal(td_attrs_pack(json, len, &packed, &plen), 0);
	assert_int_equal(td_attrs_unpack(packed, plen, &back, &blen), 0);
	assert_int_equal(blen, len);
	assert_memory_equal(back, json, len);
	assert_int_equal(back[blen], '\0');
	*packed_len = plen;
	free(packed);
	free(back);
}

static void
test_small_values_stay_plain(void **state)
{
	(void)state;
	const char *j = "{\"id\":\"i-0abc\",\"instance_type\":\"t3.micro\"}";
	char *packed = NULL;
	size_t plen = 0;

	assert_int_equal(td_attrs_pack(j, strlen(j), &packed, &plen), 0);
	assert_int_equal(plen, strlen(j));
	assert_memory_equal(packed, j, plen);
	free(packed);
	roundtrip(j, strlen(j), &plen);
}

static void
test_large_values_are_packed(void **state)
{
	(void)state;
	char *j = malloc(200000);
	size_t n = 0, plen = 0;

	assert_non_null(j);
	n += (size_t)sprintf(j, "{\"policy\":\"");
	while (n < 190000) {
		n += (size_t)sprintf(j + n,
		    "{\\\"Effect\\\":\\\"Allow\\\",\\\"Resource\\\":\\\"arn:aws:s3:::b-%zu/*\\\"},",
		    n);
	}
	n += (size_t)sprintf(j + n, "\"}");
	roundtrip(j, n, &plen);
	assert_true(plen < n / 4);
	free(j);
}

static void
test_incompressible_stays_plain(void **state)
{
	(void)state;
	char j[600];
	size_t plen = 0;
	uint32_t x = 2463534242u;

	j[0] = '{';
	for (size_t i = 1; i < sizeof(j) - 1; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		j[i] = (char)(1 + x % 255); /* random bytes: deflate cannot shrink them */
	}
	j[sizeof(j) - 1] = '}';
	roundtrip(j, sizeof(j), &plen);
	assert_int_equal(plen, sizeof(j));
}

static void
test_garbage_is_refused(void **state)
{
	(void)state;
	char *out = (char *)1;
	unsigned char zbuf[256];
	uLongf zlen = sizeof(zbuf);
	const char *text =
	    "{\"a\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}";

	assert_int_equal(td_attrs_unpack("", 0, &out, NULL), TD_EPROTO);
	assert_null(out);
	assert_int_equal(td_attrs_unpack("[1,2]", 5, &out, NULL), TD_EPROTO);
	assert_int_equal(td_attrs_unpack("\x78", 1, &out, NULL), TD_EPROTO);
	assert_int_equal(td_attrs_unpack("\x78\x01garbage", 9, &out, NULL), TD_EPROTO);
	assert_int_equal(compress2(zbuf, &zlen, (const Bytef *)text, strlen(text), 1), Z_OK);
	/* truncated */
	assert_int_equal(td_attrs_unpack((char *)zbuf, zlen - 3, &out, NULL), TD_EPROTO);
	assert_null(out);
	/* trailing bytes after a whole stream */
	zbuf[zlen] = 'x';
	assert_int_equal(td_attrs_unpack((char *)zbuf, zlen + 1, &out, NULL), TD_EPROTO);
	/* the whole stream reads back */
	assert_int_equal(td_attrs_unpack((char *)zbuf, zlen, &out, NULL), 0);
	assert_string_equal(out, text);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_values_stay_plain),
		cmocka_unit_test(test_large_values_are_packed),
		cmocka_unit_test(test_incompressible_stays_plain),
		cmocka_unit_test(test_garbage_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
