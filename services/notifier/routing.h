/* routing.h — the notifier's routing file: receivers and the routing tree.
 *
 *   receivers:
 *     - name: ops-hook            # unique; used in routes, metrics, logs
 *       type: webhook             # webhook|slack_webhook|slack_api|pagerduty|email|teams|log
 *       url: https://...          # or url_env: VAR / url_file: /path
 *       secret_env: HOOK_SECRET   # secrets only from the environment or a file
 *   route:                        # the root matches everything
 *     receivers: [ops-hook]
 *     group_by: [workspace, resource_address]
 *     group_wait: 0s
 *     routes:
 *       - match: {min_severity: high, workspace: "prod-*"}
 *         receivers: [pager]
 *         continue: true
 *
 * A node that matches an alert tries its children in order; the first child
 * that matches (and every later one while the matched ones say continue)
 * decides; if no child matches, the node's own receivers get the alert.
 * Children inherit group_by, group_wait, group_interval and repeat_interval.
 * Each receiver gets an alert once, with the group settings of the first
 * route that named it.  Grouping is on for a route whose group_wait or
 * group_interval is above 0: alerts of one group (same group_by values) that
 * are due together go out as one message; otherwise every alert is sent on
 * its own at once.  repeat_interval above 0: while the alert stays open, a
 * reminder follows repeat_interval after its last message.
 *
 * Secrets (a Slack webhook URL, a bot token, a signing secret, a PagerDuty
 * routing key, an SMTP password) are read from <key>_env or <key>_file only;
 * a missing variable or unreadable file is a start-up error naming the key.
 *
 * Errors name the place: "routing.yaml:14: route.routes[1].receivers:
 * unknown receiver 'pagr' (receivers: ops-hook, pager)".
 *
 * A loaded rt_config is immutable; any thread may read it. */
#ifndef TFDRIFT_NOTIFIER_ROUTING_H
#define TFDRIFT_NOTIFIER_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfdrift/error.h"

typedef enum rt_type {
	RT_WEBHOOK = 1,
	RT_SLACK_WEBHOOK,
	RT_SLACK_API,
	RT_PAGERDUTY,
	RT_EMAIL,
	RT_TEAMS,
	RT_LOG,
} rt_type;

/* The fields an alert is matched on (routes and silences). */
enum {
	RT_F_SEVERITY,
	RT_F_KIND,
	RT_F_WORKSPACE,
	RT_F_SERVICE,
	RT_F_RESOURCE_TYPE,
	RT_F_RESOURCE_ADDRESS,
	RT_F_EVENT_NAME,
	RT_F_PRINCIPAL,
	RT_NFIELDS
};

/* An alert as routing sees it: field values (borrowed) and its severity rank
 * (1 info .. 5 critical; 0 unknown). */
typedef struct rt_alert {
	const char *f[RT_NFIELDS];
	int rank;
} rt_alert;

/* A receiver's settings; strings owned by the rt_config. */
typedef struct rt_receiver {
	char *name;
	rt_type type;
	int line;
	char *
	    url; /* webhook, slack_webhook, teams, pagerduty events URL, Slack API base, SMTP URL */
	char *secret;  /* webhook signing secret, Slack bot token, PD routing key, SMTP password */
	char *channel; /* slack_api */
	int64_t thread_window_ms; /* slack_api: later drifts of a resource reply in its thread */
	double rate;              /* messages per second at most (slack: 1); 0 = no limit */
	bool dedup_per_alert;     /* pagerduty: dedup_key per alert instead of per resource */
	char *from;               /* email */
	char **to;
	size_t nto;
	char *username; /* email */
	char *ca_file;  /* email, https: extra CA bundle */
	bool starttls;  /* email: require STARTTLS (default true) */
} rt_receiver;

typedef struct rt_config rt_config;

/* A receiver the routing tree sends an alert to, with its group settings. */
typedef struct rt_target {
	size_t receiver;             /* index into rt_receivers */
	const char *const *group_by; /* field names; NULL-terminated; borrowed */
	int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
} rt_target;

/* Loads path.  *out owned by the caller (rt_free).  TD_EINVAL / TD_EIO with
 * err naming file:line: key. */
int rt_load_file(rt_config **out, const char *path, td_error *err);
/* Same from text; name stands for the file in messages. */
int rt_parse(rt_config **out, const char *text, size_t len, const char *name, td_error *err);
/* A configuration with one "log" receiver for alerts at or above min_rank. */
int rt_default(rt_config **out, int min_rank);
void rt_free(rt_config *c);

size_t rt_receiver_count(const rt_config *c);
const rt_receiver *rt_receiver_at(const rt_config *c, size_t i);
/* The index of the receiver called name, or -1. */
long rt_receiver_find(const rt_config *c, const char *name);

/* Fills out[0..max) with the receivers a gets (each once); returns how many. */
size_t rt_route(const rt_config *c, const rt_alert *a, rt_target *out, size_t max);

/* Whether any route has a repeat_interval. */
bool rt_any_repeat(const rt_config *c);

/* The group key of a for group_by (values joined by '\x1f'); "" when group_by
 * is empty (not grouped).  Writes at most len bytes. */
void rt_group_key(const rt_alert *a, const char *const *group_by, char *buf, size_t len);

/* ---- matchers (routes and silences) ------------------------------------- */

typedef struct rt_matcher rt_matcher;

/* Field names as written in files and the silences API ("severity", "kind",
 * "workspace", "service", "resource_type", "resource_address", "event_name",
 * "principal"); index RT_F_* or -1. */
int rt_field_index(const char *name);
const char *rt_field_name(int i);

/* An empty matcher (matches everything); *out owned by the caller. */
int rt_matcher_new(rt_matcher **out);
void rt_matcher_free(rt_matcher *m);
/* Adds a glob for field (any of a field's globs matching is enough; every
 * field given must match).  value copied. */
int rt_matcher_add(rt_matcher *m, int field, const char *glob);
/* min_severity: rank 1..5. */
void rt_matcher_min_rank(rt_matcher *m, int rank);
bool rt_matcher_matches(const rt_matcher *m, const rt_alert *a);

/* "info".."critical" to 1..5; 0 for anything else. */
int rt_rank(const char *severity);

#endif
