/* msg.h — what a receiver is asked to send, and what it answered.
 *
 * An nt_msg is one message: one alert, several alerts of a group, or a status
 * change of an alert already sent.  The delivery engine (delivery.h) fills it
 * from PostgreSQL; a receiver (recv.h) turns it into its wire format.
 * Everything in it is borrowed for the length of one send. */
#ifndef TFDRIFT_NOTIFIER_MSG_H
#define TFDRIFT_NOTIFIER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "routing.h"

/* One stored alert (alerts row); strings owned by the struct (msg_alert_clear). */
typedef struct nt_alert {
	int64_t id;
	char *severity, *kind, *workspace, *address, *rtype, *attribute, *changes, *principal,
	    *principal_arn, *event_name, *service, *event_time, *detected_at, *fix, *summary,
	    *status, *status_by, *region, *account;
	double committed_s; /* committed_at as Unix seconds */
} nt_alert;

/* The alerts columns msg_alert_from_row reads, in order (SQL text). */
extern const char msg_alert_columns[];
#define MSG_ALERT_NCOLS 21

/* Fills a from row `row` of res, starting at column col. */
int msg_alert_from_row(nt_alert *a, const PGresult *res, int row, int col);
void msg_alert_clear(nt_alert *a);
/* The routing view of a (borrows a's strings). */
void msg_alert_route_view(const nt_alert *a, rt_alert *out);

/* A status change (alert_status_history row). */
typedef struct nt_status {
	const char *from, *to, *by, *note, *at;
} nt_status;

typedef struct nt_msg {
	const rt_receiver *rcv;
	bool is_status;
	bool is_repeat;         /* a reminder: the alerts are still open */
	const nt_alert *alerts; /* n >= 1; the first is the one a thread or status is about */
	size_t n;
	nt_status st;                /* when is_status */
	const char *prev_message_id; /* status: what the receiver called the first message */
	const char *thread_id;       /* slack_api: reply in this thread ("channel/ts") */
	const char *idem;            /* stable across retries: webhook-id, email Message-ID */
	const char *ui_url;          /* links: ui_url/drifts/ID */
	const char *dedup_key;       /* pagerduty */
} nt_msg;

/* What happened. */
typedef enum nt_outcome {
	NT_SENT = 0,
	NT_RETRY,     /* transient: network, 408, 429, 5xx */
	NT_PERMANENT, /* other 4xx, a refused address: retrying will not help */
	NT_SKIP,      /* nothing to send (e.g. a status change this receiver ignores) */
} nt_outcome;

typedef struct nt_result {
	nt_outcome outcome;
	int http_status;
	int64_t retry_after_ms; /* from Retry-After; 0 = none */
	char message_id[160];   /* what the receiver calls the message */
	char error[256];        /* one line; never holds a secret or a full URL */
	char answer[512];       /* the start of the answer's body, for `test` */
} nt_result;

/* The severity's colour as "#rrggbb". Static. */
const char *msg_colour(const char *severity);
/* "ui_url/drifts/ID" into buf. */
void msg_link(const nt_msg *m, const nt_alert *a, char *buf, size_t len);
/* "old → new" of the first change of a, or "" into buf. */
void msg_change_text(const nt_alert *a, char *buf, size_t len);
/* A one-line title: "[HIGH] drift: aws_instance.web (prod)". */
void msg_title(const nt_alert *a, char *buf, size_t len);
/* The alert as the generic webhook's JSON object (documented in openapi.json
 * components.schemas.NotificationAlert). Owned by the caller. */
cJSON *msg_alert_json(const nt_msg *m, const nt_alert *a);
/* The sample alert `tfdrift-notifier test` sends. Static strings. */
void msg_sample_alert(nt_alert *a);

#endif
