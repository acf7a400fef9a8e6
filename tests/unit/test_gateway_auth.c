/* test_gateway_auth.c — API tokens, roles and their configuration errors
 * (services/api-gateway/auth.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../services/api-gateway/auth.h"
#include "tfdrift/error.h"

/* Two well-formed hashes (64 hex digits) that no test token has. */
#define H_S3CRET "b0ad2d7b3fd8e0ebb2e3e2a2b3c7a6e3b2d0d6e1f5c4a3b2c1d0e9f8a7b6c5d4"
#define H_OTHER "d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa"

/* The real hash of a string, as hex, computed the way an operator would. */
static void
sha256_hex(const char *s, char out[65])
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | sha256sum", s);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, 65, p));
	pclose(p);
	out[64] = '\0';
}

static void
test_roles(void **state)
{
	(void)state;
	char hv[65], ho[65], ha[65], entry[3][128];
	sha256_hex("view-tok", hv);
	sha256_hex("op-tok", ho);
	sha256_hex("admin-tok", ha);
	snprintf(entry[0], sizeof(entry[0]), "grafana:viewer:%s", hv);
	snprintf(entry[1], sizeof(entry[1]), "oncall:operator:%s", ho);
	snprintf(entry[2], sizeof(entry[2]), "ops.admin@corp:admin:%s", ha);
	const char *const entries[] = { entry[0], entry[1], entry[2] };
	gw_auth *a = NULL;
	td_error err = { 0 };
	assert_int_equal(gw_auth_new(&a, true, entries, 3, NULL, &err), 0);
	assert_int_equal(gw_auth_count(a), 3);
	gw_identity id;
	assert_int_equal(gw_auth_check(a, "view-tok", &id), 0);
	assert_string_equal(id.name, "grafana");
	assert_int_equal(id.role, GW_ROLE_VIEWER);
	assert_int_equal(gw_auth_check(a, "op-tok", &id), 0);
	assert_int_equal(id.role, GW_ROLE_OPERATOR);
	assert_int_equal(gw_auth_check(a, "admin-tok", &id), 0);
	assert_string_equal(id.name, "ops.admin@corp");
	assert_int_equal(id.role, GW_ROLE_ADMIN);
	assert_int_equal(gw_auth_check(a, "view-to", &id), TD_EINVAL);
	assert_int_equal(id.role, GW_ROLE_NONE);
	assert_int_equal(gw_auth_check(a, hv, &id), TD_EINVAL); /* the hash is not the token */
	assert_int_equal(gw_auth_check(a, NULL, &id), TD_ENOTFOUND);
	assert_int_equal(gw_auth_check(a, "", &id), TD_ENOTFOUND);
	gw_auth_free(a);
}

static void
test_disabled(void **state)
{
	(void)state;
	gw_auth *a = NULL;
	td_error err = { 0 };
	assert_int_equal(gw_auth_new(&a, false, NULL, 0, "", &err), 0);
	assert_false(gw_auth_enabled(a));
	gw_identity id;
	assert_int_equal(gw_auth_check(a, NULL, &id), 0);
	assert_int_equal(id.role, GW_ROLE_ADMIN);
	gw_auth_free(a);
}

static void
expect_bad(const char *entry, const char *msg)
{
	const char *const entries[] = { "ok:viewer:" H_OTHER, entry };
	gw_auth *a = NULL;
	td_error err = { 0 };
	assert_int_equal(gw_auth_new(&a, true, entries, 2, NULL, &err), TD_EINVAL);
	assert_null(a);
	if (strcmp(err.msg, msg) != 0) {
		fail_msg("%s: got \"%s\", want \"%s\"", entry, err.msg, msg);
	}
}

static void
test_bad_entries(void **state)
{
	(void)state;
	expect_bad("nocolons", "api_gateway.tokens[1]: expected name:role:sha256hex");
	expect_bad("ci:root:" H_S3CRET,
	    "api_gateway.tokens[1]: role 'root' is not viewer, operator or admin");
	expect_bad("ci:viewer:abc",
	    "api_gateway.tokens[1]: the hash must be 64 hex digits (sha256sum of the token)");
	expect_bad("ci:viewer:" H_OTHER "00",
	    "api_gateway.tokens[1]: the hash must be 64 hex digits (sha256sum of the token)");
	expect_bad(":viewer:" H_OTHER, "api_gateway.tokens[1]: the name must be 1 to 63 bytes");
	expect_bad("a b:viewer:" H_OTHER,
	    "api_gateway.tokens[1]: the name may hold letters, digits and - _ . @ only");
	expect_bad("ci:viewer:zz298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa",
	    "api_gateway.tokens[1]: the hash must be 64 hex digits (sha256sum of the token)");
}

static void
test_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test_gateway_auth.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char hv[65];
	sha256_hex("file-tok", hv);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "# tokens for CI\n\n  ci-bot:operator:%s  \n", hv);
	fclose(f);
	gw_auth *a = NULL;
	td_error err = { 0 };
	assert_int_equal(gw_auth_new(&a, true, NULL, 0, path, &err), 0);
	gw_identity id;
	assert_int_equal(gw_auth_check(a, "file-tok", &id), 0);
	assert_string_equal(id.name, "ci-bot");
	assert_int_equal(id.role, GW_ROLE_OPERATOR);
	gw_auth_free(a);

	f = fopen(path, "w");
	fprintf(f, "# ok\nci-bot:operator:%s\nbroken line\n", hv);
	fclose(f);
	assert_int_equal(gw_auth_new(&a, true, NULL, 0, path, &err), TD_EINVAL);
	char want[256];
	snprintf(want, sizeof(want), "%s:3: expected name:role:sha256hex", path);
	assert_string_equal(err.msg, want);
	unlink(path);
	assert_int_equal(gw_auth_new(&a, true, NULL, 0, path, &err), TD_EIO);
	assert_non_null(strstr(err.msg, "api_gateway.tokens_file: cannot open"));
}

static void
test_role_name(void **state)
{
	(void)state;
	assert_string_equal(gw_role_name(GW_ROLE_OPERATOR), "operator");
	assert_string_equal(gw_role_name(GW_ROLE_NONE), "none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_role_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
