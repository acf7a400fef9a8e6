/* falco_missing.c — counting and logging Falco alerts that lack fields. */
#include "falco_missing.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/falco_alert.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

/* One missing-fields log line per this many ms at most (the rest are counted). */
#define MISSING_LOG_EVERY_MS 10000
/* Rules are told apart by a hash into this many slots. */
#define MISSING_LOG_SLOTS 64

struct falco_missing {
	const char *input;
	td_counter **counters; /* one per falco_needed_fields[] */
	size_t n;
	pthread_mutex_t mu;
	int64_t last_log_ms[MISSING_LOG_SLOTS];
	uint64_t suppressed[MISSING_LOG_SLOTS];
};

int
falco_missing_open(falco_missing **out, const char *input)
{
	falco_missing *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return TD_ENOMEM;
	m->input = input;
	while (falco_needed_fields[m->n] != NULL)
		m->n++;
	m->counters = calloc(m->n + 1, sizeof(*m->counters));
	if (m->counters == NULL) {
		free(m);
		return TD_ENOMEM;
	}
	for (size_t i = 0; i < m->n; i++) {
		char labels[96];
		snprintf(labels, sizeof(labels), "field=\"%s\"", falco_needed_fields[i]);
		/* the registry hands both inputs the same counter */
		m->counters[i] = td_counter_get("tfdrift_ingest_falco_missing_fields_total",
		    "Falco alerts accepted without a field the correlator needs (the rule's output lacks it).",
		    labels);
	}
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

void
falco_missing_note(falco_missing *m, const Tfdrift__V1__CloudEvent *ev)
{
	int64_t now;
	char list[512] = "";
	size_t off = 0, slot = 0;

	if (ev->n_missing_fields == 0)
		return;
	for (size_t i = 0; i < ev->n_missing_fields; i++) {
		for (size_t k = 0; k < m->n; k++)
			if (strcmp(falco_needed_fields[k], ev->missing_fields[i]) == 0)
				td_counter_inc(m->counters[k]);
		if (off < sizeof(list))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
			    i ? "," : "", ev->missing_fields[i]);
	}
	now = td_clock_mono_ms();
	for (const char *p = ev->falco_rule; p != NULL && *p; p++)
		slot = slot * 31 + (uint8_t)*p;
	slot %= MISSING_LOG_SLOTS;
	pthread_mutex_lock(&m->mu);
	if (m->last_log_ms[slot] == 0 || now - m->last_log_ms[slot] >= MISSING_LOG_EVERY_MS) {
		TD_WARN(
		    "falco alert lacks fields the correlator needs; add them to the rule's output",
		    TD_KV_STR("input", m->input), TD_KV_STR("rule", ev->falco_rule),
		    TD_KV_STR("missing", list),
		    TD_KV_UINT("similar_lines_suppressed", m->suppressed[slot]));
		m->last_log_ms[slot] = now;
		m->suppressed[slot] = 0;
	} else {
		m->suppressed[slot]++;
	}
	pthread_mutex_unlock(&m->mu);
}

void
falco_missing_close(falco_missing *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->counters);
	free(m);
}
