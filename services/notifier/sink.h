/* sink.h — where committed alerts are sent.
 *
 * A sink is a table of functions (like an NNG transport): the dispatcher
 * hands every alert that passes the severity filter to each sink's deliver.
 * Today there is the log sink (one INFO line per alert); Slack and webhooks
 * plug in here as further tables, with their own retry queues.
 *
 * Threads: open/close on the main thread; deliver on the subscriber's thread,
 * one alert at a time. */
#ifndef TFDRIFT_NOTIFIER_SINK_H
#define TFDRIFT_NOTIFIER_SINK_H

#include "tfdrift/config.h"
#include "tfdrift/error.h"
#include "tfdrift/v1/alert.pb-c.h"

typedef struct sink_ops {
	const char *name; /* for logs and the metric label: "log", "slack" */
	/* Creates the sink's state in *self (owned by the sink; freed by close).
	 * An error stops the notifier from starting. */
	int (*open)(void **self, const td_config *cfg, td_error *err);
	/* Sends one alert (borrowed for the call).  0 when delivered; a negative
	 * TD_E* is counted in tfdrift_notifier_sink_errors_total{sink=...}. */
	int (*deliver)(void *self, const Tfdrift__V1__DriftAlert *alert);
	void (*close)(void *self);
} sink_ops;

/* An opened sink: its table and state. */
typedef struct sink {
	const sink_ops *ops;
	void *self;
} sink;

/* Logs each alert as one INFO line: id, severity, kind, workspace, address,
 * event, principal, summary. */
extern const sink_ops sink_log_ops;

#endif
