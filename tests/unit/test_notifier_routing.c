/* test_notifier_routing.c — the notifier's routing file (routing.h): the
 * tree with continue and fallbacks, group keys, matchers, the errors that
 * name the key; the Standard Webhooks signature against the convention's
 * published example; Retry-After and URL redaction (http.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/notifier/http.h"
#include "../../services/notifier/recv.h"
#include "../../services/notifier/routing.h"

static const char tree[] =
    "receivers:\n"
    "  - {name: hook, type: webhook, url: 'http://h/', secret_env: T_SECRET}\n"
    "  - {name: pager, type: pagerduty, routing_key_env: T_SECRET}\n"
    "  - {name: chat, type: slack_webhook, url_env: T_SECRET}\n"
    "route:\n"
    "  receivers: [hook]\n"
    "  group_wait: 30s\n"
    "  routes:\n"
    "    - match: {severity: critical}\n"
    "      receivers: [pager]\n"
    "      continue: true\n"
    "    - match: {severity: [high, critical], workspace: 'prod-*'}\n"
    "      receivers: [chat]\n"
    "      group_by: [resource_type]\n"
    "    - match: {min_severity: low}\n"
    "      receivers: [hook]\n"
    "      group_wait: 0s\n";

static rt_alert
alert(const char *sev, const char *ws)
{
	rt_alert a = { 0 };
	a.f[RT_F_SEVERITY] = sev;
	a.f[RT_F_WORKSPACE] = ws;
	a.f[RT_F_RESOURCE_TYPE] = "aws_instance";
	a.f[RT_F_RESOURCE_ADDRESS] = "aws_instance.web";
	a.rank = rt_rank(sev);
	return a;
}

/* The receivers' names a gets, joined by ",". */
static void
routed(const rt_config *c, const rt_alert *a, char *buf, size_t len)
{
	rt_target t[8];
	size_t n = rt_route(c, a, t, 8);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strncat(buf, i > 0 ? "," : "", len - strlen(buf) - 1);
		strncat(buf, rt_receiver_at(c, t[i].receiver)->name, len - strlen(buf) - 1);
	}
}

static void
test_tree(void **state)
{
	rt_config *c = NULL;
	td_error err;
	char got[128];
	rt_alert a;
	rt_target t[8];

	(void)state;
	setenv("T_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
	assert_int_equal(rt_parse(&c, tree, strlen(tree), "r.yaml", &err), 0);
	assert_int_equal(rt_receiver_count(c), 3);

	a = alert("critical", "prod-eu"); /* continue: pager, then chat stops */
	routed(c, &a, got, sizeof(got));
	assert_string_equal(got, "pager,chat");
	a = alert("critical", "dev"); /* continue: pager, then the min_severity route */
	routed(c, &a, got, sizeof(got));
	assert_string_equal(got, "pager,hook");
	a = alert("high", "prod-us");
	routed(c, &a, got, sizeof(got));
	assert_string_equal(got, "chat");
	a = alert("info", "prod-us"); /* no child: the root's own receiver */
	routed(c, &a, got, sizeof(got));
	assert_string_equal(got, "hook");
	a = alert("", "x"); /* unknown severity passes min_severity */
	routed(c, &a, got, sizeof(got));
	assert_string_equal(got, "hook");

	/* settings are inherited and overridden */
	a = alert("high", "prod-us");
	assert_int_equal(rt_route(c, &a, t, 8), 1);
	assert_int_equal(t[0].group_wait_ms, 30000);
	rt_group_key(&a, t[0].group_by, got, sizeof(got));
	assert_string_equal(got, "aws_instance");
	a = alert("medium", "dev");
	assert_int_equal(rt_route(c, &a, t, 8), 1);
	assert_int_equal(t[0].group_wait_ms, 0);
	rt_group_key(&a, t[0].group_by, got, sizeof(got));
	assert_string_equal(got,
	    "dev\x1f"
	    "aws_instance.web"); /* default group_by */
	assert_string_equal(rt_receiver_at(c, 1)->url, "https://events.pagerduty.com/v2/enqueue");
	rt_free(c);
}

static void
expect_error(const char *text, const char *want)
{
	rt_config *c = NULL;
	td_error err;

	td_error_clear(&err);
	assert_int_not_equal(rt_parse(&c, text, strlen(text), "r.yaml", &err), 0);
	assert_null(c);
	if (strstr(err.msg, want) == NULL) {
		fail_msg("error '%s' does not contain '%s'", err.msg, want);
	}
}

static void
test_errors(void **state)
{
	(void)state;
	setenv("T_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
	unsetenv("T_UNSET");
	expect_error("receivers: [{name: a, type: log}]\nroute:\n  receivers: [b]\n",
	    "r.yaml:3: route.receivers: unknown receiver 'b' (receivers: a)");
	expect_error(
	    "receivers:\n  - {name: a, type: webhook, url: 'http://x', secret_env: T_UNSET}\n"
	    "route: {receivers: [a]}\n",
	    "r.yaml:2: receivers[0] (a).secret_env: environment variable T_UNSET is not set");
	expect_error("receivers:\n  - {name: a, type: webhook, url: 'http://x', secret: s}\n"
		     "route: {receivers: [a]}\n",
	    "receivers[0] (a).secret: a secret is read from the environment or a file");
	expect_error(
	    "receivers: [{name: a, type: log}, {name: a, type: log}]\nroute: {receivers: [a]}\n",
	    "receivers[1].name: 'a' is already the name of receivers[0]");
	expect_error("receivers: [{name: a, type: carrier_pigeon}]\nroute: {receivers: [a]}\n",
	    "receivers[0] (a).type: 'carrier_pigeon' is not one of");
	expect_error(
	    "receivers: [{name: a, type: log}]\nroute:\n  receivers: [a]\n  routes: [{receivers: [a]}]\n",
	    "route.routes[0]: a route below the root needs match");
	expect_error(
	    "receivers: [{name: a, type: log}]\nroute: {receivers: [a], match: {kind: drift}}\n",
	    "the root route matches every alert");
	expect_error(
	    "receivers: [{name: a, type: log}]\nroute: {receivers: [a], group_by: [colour]}\n",
	    "route.group_by: unknown field 'colour'");
	expect_error("receivers:\n  - {name: a, type: webhook, url: 'http://x', secret_env: PATH}\n"
		     "route: {receivers: [a]}\n",
	    "receivers[0] (a).secret: a Standard Webhooks secret starts with whsec_");
	expect_error(
	    "receivers: [{name: a, type: log}]\nroute: {receivers: [a], group_wait: 5 parsecs}\n",
	    "route.group_wait: '5 parsecs' is not a duration");
	expect_error("receivers: [{name: a, type: log}\n", "r.yaml:2: YAML syntax error");
}

static void
test_matcher(void **state)
{
	rt_matcher *m = NULL;
	rt_alert a = alert("high", "prod-eu");

	(void)state;
	assert_int_equal(rt_matcher_new(&m), 0);
	assert_true(rt_matcher_matches(m, &a)); /* empty: everything */
	assert_int_equal(rt_matcher_add(m, RT_F_WORKSPACE, "dev"), 0);
	assert_false(rt_matcher_matches(m, &a));
	assert_int_equal(rt_matcher_add(m, RT_F_WORKSPACE, "prod-*"), 0);
	assert_true(rt_matcher_matches(m, &a));
	rt_matcher_min_rank(m, rt_rank("critical"));
	assert_false(rt_matcher_matches(m, &a));
	assert_int_equal(rt_matcher_add(m, -1, "x"), TD_EINVAL);
	rt_matcher_free(m);
	assert_int_equal(rt_field_index("resource_address"), RT_F_RESOURCE_ADDRESS);
	assert_int_equal(rt_field_index("colour"), -1);
}

static void
test_signature(void **state)
{
	char sig[128];
	const char body[] = "{\"test\": 2432232314}";

	(void)state;
	/* the example of the Standard Webhooks specification, also what the npm
	 * standardwebhooks package computes for it */
	assert_int_equal(recv_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig,
			     sizeof(sig)),
	    0);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	assert_int_equal(recv_webhook_sign("whsec_not*base64", "id", 1, "", 0, sig, sizeof(sig)),
	    TD_EINVAL);
}

static void
test_http_helpers(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(http_retry_after_ms("3"), 3000);
	assert_int_equal(http_retry_after_ms(" 120 "), 120000);
	assert_int_equal(http_retry_after_ms(""), 0);
	assert_int_equal(http_retry_after_ms("soon"), 0);
	assert_int_equal(http_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), 0); /* past */
	http_redact("https://hooks.slack.com/services/T0/B0/secret", buf, sizeof(buf));
	assert_string_equal(buf, "https://hooks.slack.com/...");
	http_redact("smtp://user:pw@mail:587", buf, sizeof(buf));
	assert_string_equal(buf, "smtp://mail:587");
	http_redact("not a url", buf, sizeof(buf));
	assert_string_equal(buf, "(url)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_matcher),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_http_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
