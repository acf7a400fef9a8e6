/* rule.h — the starter correlation rule: CloudEvent -> DriftAlerts.
 *
 * (The mapping catalog replaces it later; the shape — skip, extract
 * identifiers, look them up, decide kind and severity, describe — stays.)
 *
 *   1. Skip read-only calls, failed calls (errorCode set) and Terraform's own
 *      calls (user agent names Terraform or its AWS provider).
 *   2. Candidate identifiers: top-level strings of requestParameters and
 *      responseElements under a table of keys (instanceId, bucketName, ...),
 *      the instanceId of every instancesSet.items[] element, and every
 *      resources[].ARN.
 *   3. Each candidate is looked up in the resource index through a lookup
 *      function (Redis in the service; a table in tests).
 *   4. One alert per matched resource: DELETED when the event name starts with
 *      Delete/Terminate/Remove, else MODIFIED.  No match: one alert with an
 *      empty address, UNMANAGED when the name starts with Create/Run/Put, else
 *      MODIFIED.
 *   5. Severity by kind (DELETED high, others medium), one level higher for IAM
 *      and KMS; summary, principal and a recommended fix filled in.
 *
 * Pure: no I/O of its own, safe on any number of threads at once. */
#ifndef TFDRIFT_CORRELATOR_RULE_H
#define TFDRIFT_CORRELATOR_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfdrift/v1/alert.pb-c.h"
#include "tfdrift/v1/event.pb-c.h"

/* A resource index entry: the value "workspace\taddress\ttype" split up. */
typedef struct rule_match {
	char workspace[256];
	char address[512];
	char type[128];
} rule_match;

/* Looks identifier up.  0 with *m filled when found, TD_ENOTFOUND when not, any
 * other negative code when the index cannot be read (the event must be retried). */
typedef int (*rule_lookup_fn)(void *arg, const char *identifier, rule_match *m);

/* One candidate identifier. */
typedef struct rule_ident {
	char key[64]; /* where it was found: "instanceId", "arn"; "instanceId.2" for a second one */
	char *value;  /* malloc'd */
} rule_ident;

typedef struct rule_idents {
	rule_ident *items;
	size_t n, cap;
} rule_idents;

/* Alerts produced for one batch; each item is a heap message freed by
 * rule_alerts_free (protobuf_c_message_free_unpacked). */
typedef struct rule_alerts {
	Tfdrift__V1__DriftAlert **items;
	size_t n, cap;
} rule_alerts;

/* Skip reasons, also the label values of tfdrift_correlator_events_skipped_total. */
extern const char *const rule_skip_reasons[];
extern const size_t rule_n_skip_reasons;

/* The reason ev is not looked at (one of rule_skip_reasons), or NULL. */
const char *rule_skip_reason(const Tfdrift__V1__CloudEvent *ev);

/* Fills ids (zeroed by the caller) with ev's candidate identifiers, values
 * unique, in the order found.  Free with rule_idents_free.  TD_ENOMEM. */
int rule_extract_identifiers(const Tfdrift__V1__CloudEvent *ev, rule_idents *ids);
void rule_idents_free(rule_idents *ids);

Tfdrift__V1__DriftKind rule_kind(const char *event_name, bool matched);
Tfdrift__V1__Severity rule_severity(Tfdrift__V1__DriftKind kind, const char *event_source);

/* Appends ev's alerts to out.  Returns 0 (with *skip_reason set and nothing
 * appended when ev is skipped), the lookup's error code, or TD_ENOMEM; on
 * error nothing is appended. */
int rule_evaluate(const Tfdrift__V1__CloudEvent *ev, rule_lookup_fn lookup, void *arg,
    int64_t now_ns, rule_alerts *out, const char **skip_reason);

void rule_alerts_free(rule_alerts *a);

/* Principal's display name: userName, else the session name of an assumed
 * role, else principalId.  Borrowed from ev. */
const char *rule_principal_name(const Tfdrift__V1__CloudEvent *ev);

#endif
