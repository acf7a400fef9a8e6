/* test_gateway_jsonw.c — the api-gateway's JSON writer
 * (services/api-gateway/jsonw.c): escaping per RFC 8259, checked both as
 * exact text and by parsing the output back with cJSON, and growth from a
 * tiny buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "../../services/api-gateway/jsonw.h"

/* gw_jw_str(s) as text; the caller frees it. */
static char *
quoted(const char *s)
{
	gw_jw w;
	gw_jw_init(&w, 1);
	gw_jw_str(&w, s);
	return gw_jw_finish(&w);
}

static void
expect(const char *in, const char *want)
{
	char *got = quoted(in);
	assert_non_null(got);
	assert_string_equal(got, want);
	/* A JSON parser reads back exactly the input. */
	cJSON *j = cJSON_Parse(got);
	assert_non_null(j);
	assert_true(cJSON_IsString(j));
	assert_string_equal(j->valuestring, in);
	cJSON_Delete(j);
	free(got);
}

static void
test_escapes(void **state)
{
	(void)state;
	expect("", "\"\"");
	expect("plain", "\"plain\"");
	expect("a\"b", "\"a\\\"b\"");
	expect("back\\slash", "\"back\\\\slash\"");
	expect("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	expect("\x01\x1f", "\"\\u0001\\u001f\"");
	expect("nul-free \x7f del", "\"nul-free \x7f del\"");
	expect("/slash", "\"/slash\""); /* '/' needs no escape */
	expect("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80",
	    "\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"");
	expect("</script>", "\"</script>\"");
	expect("\"\\\"\\", "\"\\\"\\\\\\\"\\\\\"");
}

static void
test_every_control_byte(void **state)
{
	(void)state;
	char in[32];
	for (int c = 1; c < 32; c++) {
		in[c - 1] = (char)c;
	}
	in[31] = '\0';
	char *got = quoted(in);
	assert_non_null(got);
	for (const char *p = got; *p; p++) {
		assert_true((unsigned char)*p >= 0x20);
	}
	cJSON *j = cJSON_Parse(got);
	assert_non_null(j);
	assert_string_equal(j->valuestring, in);
	cJSON_Delete(j);
	free(got);
}

static void
test_growth_and_structure(void **state)
{
	(void)state;
	gw_jw w;
	gw_jw_init(&w, 1);
	gw_jw_lit(&w, "{\"items\":[");
	for (int i = 0; i < 1000; i++) {
		if (i > 0) {
			gw_jw_raw(&w, ",", 1);
		}
		gw_jw_str(&w, "line\nwith \"quotes\" and \\ a long enough tail to grow the buffer");
	}
	gw_jw_lit(&w, "]}");
	size_t len = w.len;
	char *out = gw_jw_finish(&w);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	assert_null(w.buf);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
	assert_int_equal(cJSON_GetArraySize(items), 1000);
	assert_string_equal(cJSON_GetArrayItem(items, 999)->valuestring,
	    "line\nwith \"quotes\" and \\ a long enough tail to grow the buffer");
	cJSON_Delete(j);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_every_control_byte),
		cmocka_unit_test(test_growth_and_structure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
