/* test_notifier_filter.c — severity table, filter, and the dispatcher's
 * fan-out of a committed AlertBatch to the sinks (services/notifier/). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../services/notifier/dispatch.h"
#include "../../services/notifier/severity.h"
#include "../../services/notifier/sink.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

#define SEV(x) TFDRIFT__V1__SEVERITY__SEVERITY_##x

/* ---- a recording sink (a real implementation of the sink table) ---------- */

typedef struct recorder {
	char addresses[16][64];
	size_t n;
	int fail_with; /* deliver returns this */
} recorder;

static int
rec_open(void **self, const td_config *cfg, td_error *err)
{
	(void)cfg;
	(void)err;
	*self = calloc(1, sizeof(recorder));
	return *self != NULL ? 0 : TD_ENOMEM;
}

static int
rec_deliver(void *self, const Tfdrift__V1__DriftAlert *a)
{
	recorder *r = self;

	if (r->n < 16) {
		snprintf(r->addresses[r->n++], sizeof(r->addresses[0]), "%s", a->resource_address);
	}
	return r->fail_with;
}

static void
rec_close(void *self)
{
	free(self);
}

static const sink_ops rec_ops = {
	.name = "recorder",
	.open = rec_open,
	.deliver = rec_deliver,
	.close = rec_close,
};

/* ---- helpers ---------------------------------------------------------------- */

/* The value of one series in the default registry; -1 when absent. */
static double
metric(const char *series)
{
	char *text = NULL, *p;
	size_t len, n = strlen(series);
	double v = -1;

	assert_int_equal(td_metrics_render(td_metrics_default(), &text, &len), 0);
	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	}
	free(text);
	return v;
}

/* An envelope of `type` around an AlertBatch of the given severities; alert i
 * has address "addr<i>".  Owned by the caller (td_bus_envelope_free). */
static td_envelope *
batch_envelope(int type, const int *sevs, size_t n)
{
	Tfdrift__V1__AlertBatch batch = TFDRIFT__V1__ALERT_BATCH__INIT;
	Tfdrift__V1__DriftAlert alerts[16], *ptrs[16];
	Tfdrift__V1__Principal who = TFDRIFT__V1__PRINCIPAL__INIT;
	char addr[16][32];
	uint8_t *payload, *buf = NULL;
	size_t len, blen, i;
	td_envelope *env = NULL;
	td_error err;

	who.name = "alice";
	who.arn = "arn:aws:sts::123456789012:assumed-role/Admin/alice";
	for (i = 0; i < n; i++) {
		tfdrift__v1__drift_alert__init(&alerts[i]);
		snprintf(addr[i], sizeof(addr[i]), "addr%zu", i);
		alerts[i].id = (int64_t)(100 + i);
		alerts[i].severity = sevs[i];
		alerts[i].kind = TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT;
		alerts[i].workspace = "prod/app";
		alerts[i].resource_address = addr[i];
		alerts[i].event_name = "ModifyInstanceAttribute";
		alerts[i].summary = "instance_type changed from t3.micro to t3.large";
		alerts[i].principal = &who;
		ptrs[i] = &alerts[i];
	}
	batch.n_alerts = n;
	batch.alerts = ptrs;
	len = tfdrift__v1__alert_batch__get_packed_size(&batch);
	payload = malloc(len + 1);
	assert_non_null(payload);
	tfdrift__v1__alert_batch__pack(&batch, payload);
	assert_int_equal(td_bus_envelope_encode(type, payload, len, NULL, &buf, &blen), 0);
	assert_int_equal(td_bus_envelope_decode(buf, blen, &env, &err), 0);
	free(payload);
	free(buf);
	return env;
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_severity_names(void **state)
{
	int s = -1;

	(void)state;
	assert_int_equal(sev_parse("info", &s), 0);
	assert_int_equal(s, SEV(INFO));
	assert_int_equal(sev_parse("LOW", &s), 0);
	assert_int_equal(s, SEV(LOW));
	assert_int_equal(sev_parse("Medium", &s), 0);
	assert_int_equal(s, SEV(MEDIUM));
	assert_int_equal(sev_parse("high", &s), 0);
	assert_int_equal(s, SEV(HIGH));
	assert_int_equal(sev_parse("critical", &s), 0);
	assert_int_equal(s, SEV(CRITICAL));
	assert_int_equal(sev_parse("severe", &s), TD_EINVAL);
	assert_int_equal(sev_parse(NULL, &s), TD_EINVAL);
	assert_string_equal(sev_name(SEV(HIGH)), "high");
	assert_string_equal(sev_name(SEV(UNSPECIFIED)), "unspecified");
	assert_string_equal(sev_name(42), "unspecified");
}

static void
test_filter(void **state)
{
	(void)state;
	assert_true(sev_passes(SEV(MEDIUM), SEV(MEDIUM)));
	assert_true(sev_passes(SEV(CRITICAL), SEV(MEDIUM)));
	assert_false(sev_passes(SEV(LOW), SEV(MEDIUM)));
	assert_false(sev_passes(SEV(INFO), SEV(LOW)));
	assert_true(sev_passes(SEV(INFO), SEV(INFO)));
	assert_false(sev_passes(SEV(HIGH), SEV(CRITICAL)));
	/* unknown severities are never dropped silently */
	assert_true(sev_passes(SEV(UNSPECIFIED), SEV(CRITICAL)));
	assert_true(sev_passes(9, SEV(CRITICAL)));
}

static void
test_dispatch_filters_and_fans_out(void **state)
{
	static const int sevs[] = { SEV(INFO), SEV(MEDIUM), SEV(HIGH), SEV(LOW), SEV(CRITICAL),
		SEV(UNSPECIFIED) };
	sink sinks[2] = { { .ops = &rec_ops }, { .ops = &sink_log_ops } };
	double high0, filt0, uns0;
	char logbuf[8192];
	td_envelope *env;
	recorder *rec;
	dsp *d = NULL;
	int fds[2];
	ssize_t got;

	(void)state;
	assert_int_equal(rec_ops.open(&sinks[0].self, NULL, NULL), 0);
	assert_int_equal(sink_log_ops.open(&sinks[1].self, NULL, NULL), 0);
	rec = sinks[0].self;
	assert_int_equal(dsp_new(&d, SEV(MEDIUM), sinks, 2), 0);
	/* every series exists from the start */
	high0 = metric("tfdrift_notifier_alerts_total{severity=\"high\"}");
	filt0 = metric("tfdrift_notifier_alerts_filtered_total");
	uns0 = metric("tfdrift_notifier_alerts_total{severity=\"unspecified\"}");
	assert_true(high0 >= 0 && filt0 >= 0 && uns0 >= 0);
	assert_true(metric("tfdrift_notifier_alerts_total{severity=\"critical\"}") >= 0);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	td_log_set_fd(fds[1]);
	env = batch_envelope(TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED, sevs, 6);
	dsp_on_envelope(d, env);
	td_bus_envelope_free(env);
	td_log_set_fd(-1);
	got = read(fds[0], logbuf, sizeof(logbuf) - 1);
	assert_true(got > 0);
	logbuf[got] = '\0';
	close(fds[0]);
	close(fds[1]);

	/* medium, high, critical and the unspecified one pass, in order */
	assert_int_equal(rec->n, 4);
	assert_string_equal(rec->addresses[0], "addr1");
	assert_string_equal(rec->addresses[1], "addr2");
	assert_string_equal(rec->addresses[2], "addr4");
	assert_string_equal(rec->addresses[3], "addr5");
	assert_true(metric("tfdrift_notifier_alerts_total{severity=\"high\"}") == high0 + 1);
	assert_true(metric("tfdrift_notifier_alerts_total{severity=\"unspecified\"}") == uns0 + 1);
	assert_true(metric("tfdrift_notifier_alerts_filtered_total") == filt0 + 2);

	/* the log sink: one INFO line per delivered alert, with every field */
	assert_non_null(strstr(logbuf,
	    "\"msg\":\"drift alert\",\"id\":102,\"severity\":\"high\",\"kind\":\"drift\","
	    "\"workspace\":\"prod/app\",\"address\":\"addr2\",\"event\":\"ModifyInstanceAttribute\","
	    "\"principal\":\"alice\",\"summary\":\"instance_type changed from t3.micro to t3.large\""));
	assert_null(strstr(logbuf, "\"address\":\"addr0\""));
	assert_null(strstr(logbuf, "\"address\":\"addr3\""));
	assert_non_null(strstr(logbuf, "\"id\":104,\"severity\":\"critical\""));

	dsp_free(d);
	sink_log_ops.close(sinks[1].self);
	rec_ops.close(sinks[0].self);
}

static void
test_dispatch_errors(void **state)
{
	static const int sevs[] = { SEV(CRITICAL) };
	sink sinks[1] = { { .ops = &rec_ops } };
	double serr0, perr0;
	uint8_t *buf = NULL;
	size_t blen;
	td_envelope *env;
	td_error err;
	recorder *rec;
	dsp *d = NULL;

	(void)state;
	assert_int_equal(rec_ops.open(&sinks[0].self, NULL, NULL), 0);
	rec = sinks[0].self;
	rec->fail_with = TD_EIO;
	assert_int_equal(dsp_new(&d, SEV(INFO), sinks, 1), 0);
	serr0 = metric("tfdrift_notifier_sink_errors_total{sink=\"recorder\"}");
	perr0 = metric("tfdrift_notifier_payload_errors_total");
	assert_true(serr0 >= 0 && perr0 >= 0);

	/* a failing sink is counted */
	env = batch_envelope(TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED, sevs, 1);
	dsp_on_envelope(d, env);
	td_bus_envelope_free(env);
	assert_int_equal(rec->n, 1);
	assert_true(metric("tfdrift_notifier_sink_errors_total{sink=\"recorder\"}") == serr0 + 1);

	/* other message types are ignored */
	env = batch_envelope(TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_STATE_NOTICE, sevs, 1);
	dsp_on_envelope(d, env);
	td_bus_envelope_free(env);
	assert_int_equal(rec->n, 1);

	/* a payload that is not an AlertBatch is counted, nothing delivered */
	assert_int_equal(
	    td_bus_envelope_encode(TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED,
		(const uint8_t *)"\xff\xff\xff", 3, NULL, &buf, &blen),
	    0);
	assert_int_equal(td_bus_envelope_decode(buf, blen, &env, &err), 0);
	dsp_on_envelope(d, env);
	td_bus_envelope_free(env);
	free(buf);
	assert_int_equal(rec->n, 1);
	assert_true(metric("tfdrift_notifier_payload_errors_total") == perr0 + 1);

	dsp_free(d);
	rec_ops.close(sinks[0].self);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_severity_names),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_dispatch_filters_and_fans_out),
		cmocka_unit_test(test_dispatch_errors),
	};

	td_log_init("test_notifier_filter", TD_LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
