/* dispatch.c — severity filter and fan-out to the sinks. */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>

#include "severity.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

/* Ranks 0..5 of tfdrift.v1.Severity; anything else is counted as 0. */
#define NRANK 6

struct dsp {
	int min;
	const sink *sinks;
	size_t nsinks;
	td_counter *sent[NRANK];
	td_counter *filtered;
	td_counter *payload_errors;
	td_counter **sink_errors; /* one per sink */
};

int
dsp_new(dsp **out, int min_severity, const sink *sinks, size_t n)
{
	char labels[96];
	dsp *d;
	size_t i;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->sink_errors = calloc(n + 1, sizeof(*d->sink_errors))) == NULL) {
		free(d);
		return TD_ENOMEM;
	}
	d->min = min_severity;
	d->sinks = sinks;
	d->nsinks = n;
	/* registered up front so every series shows, at 0, from the start */
	for (i = 0; i < NRANK; i++) {
		snprintf(labels, sizeof(labels), "severity=\"%s\"", sev_name((int)i));
		d->sent[i] = td_counter_get("tfdrift_notifier_alerts_total",
		    "Committed alerts at or above notifier.min_severity, handed to the sinks.",
		    labels);
	}
	d->filtered = td_counter_get("tfdrift_notifier_alerts_filtered_total",
	    "Committed alerts below notifier.min_severity, not sent.", NULL);
	d->payload_errors = td_counter_get("tfdrift_notifier_payload_errors_total",
	    "ALERT_COMMITTED messages whose AlertBatch did not decode.", NULL);
	for (i = 0; i < n; i++) {
		snprintf(labels, sizeof(labels), "sink=\"%s\"", sinks[i].ops->name);
		d->sink_errors[i] = td_counter_get("tfdrift_notifier_sink_errors_total",
		    "Alerts a sink failed to deliver.", labels);
	}
	*out = d;
	return 0;
}

void
dsp_free(dsp *d)
{
	if (d == NULL) {
		return;
	}
	free(d->sink_errors);
	free(d);
}

static void
deliver(dsp *d, const Tfdrift__V1__DriftAlert *a)
{
	size_t i;
	int rv;

	for (i = 0; i < d->nsinks; i++) {
		if ((rv = d->sinks[i].ops->deliver(d->sinks[i].self, a)) != 0) {
			td_counter_inc(d->sink_errors[i]);
			TD_WARN("alert not delivered", TD_KV_STR("sink", d->sinks[i].ops->name),
			    TD_KV_INT("id", a->id), TD_KV_STR("error", td_strerror(rv)));
		}
	}
}

void
dsp_on_envelope(void *arg, const td_envelope *env)
{
	dsp *d = arg;
	Tfdrift__V1__AlertBatch *batch;
	const Tfdrift__V1__DriftAlert *a;
	size_t i;
	int rank;

	if (env->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED) {
		TD_DEBUG("message ignored", TD_KV_INT("type", env->type));
		return;
	}
	batch = tfdrift__v1__alert_batch__unpack(NULL, env->payload.len, env->payload.data);
	if (batch == NULL) {
		td_counter_inc(d->payload_errors);
		TD_WARN("committed alerts message does not decode as an AlertBatch",
		    TD_KV_STR("message_id", env->message_id),
		    TD_KV_UINT("bytes", env->payload.len));
		return;
	}
	for (i = 0; i < batch->n_alerts; i++) {
		a = batch->alerts[i];
		if (!sev_passes(a->severity, d->min)) {
			td_counter_inc(d->filtered);
			continue;
		}
		rank = a->severity >= 0 && a->severity < NRANK ? (int)a->severity : 0;
		td_counter_inc(d->sent[rank]);
		deliver(d, a);
	}
	tfdrift__v1__alert_batch__free_unpacked(batch, NULL);
}
