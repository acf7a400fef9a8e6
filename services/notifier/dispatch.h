/* dispatch.h — committed alerts from the bus to the sinks.
 *
 * For each ALERT_COMMITTED envelope the AlertBatch is decoded; each alert at
 * or above the minimum severity goes to every sink and is counted in
 * tfdrift_notifier_alerts_total{severity=...}; the others are counted in
 * tfdrift_notifier_alerts_filtered_total.  A payload that does not decode is
 * logged and counted in tfdrift_notifier_payload_errors_total; other message
 * types are ignored.
 *
 * Threads: dsp_on_envelope runs on the subscriber's thread. */
#ifndef TFDRIFT_NOTIFIER_DISPATCH_H
#define TFDRIFT_NOTIFIER_DISPATCH_H

#include <stddef.h>

#include "sink.h"
#include "tfdrift/bus.h"

typedef struct dsp dsp;

/* sinks[0..n) are borrowed and must outlive the dispatcher.
 * *out owned by the caller (dsp_free). */
int dsp_new(dsp **out, int min_severity, const sink *sinks, size_t n);
void dsp_free(dsp *d);

/* A td_bus_sub_fn; arg is the dispatcher. */
void dsp_on_envelope(void *arg, const td_envelope *env);

#endif
