/* rule.h — the correlation engine: CloudEvent + catalog + state -> DriftAlerts.
 *
 * The same code runs in the service (state in Redis through a cache) and in
 * `tfdrift-correlator explain` (state files in memory).  Per event:
 *
 *   1. Skip read-only calls, failed calls (errorCode), Terraform's own calls
 *      (user agent names Terraform or its AWS provider, or the principal /
 *      role session matches a configured pattern: rcfg).
 *   2. Find the catalog entry by (eventSource, eventName); none: skipped
 *      "not_mapped" (sign-ins, reads the catalog does not know, ...).
 *   3. Ignore rules on event and principal (rcfg) -> skipped "ignored".
 *   4. Parse requestParameters (and responseElements only when a locator
 *      needs it); collect the identifiers the entry's locators name, one
 *      locator at a time: the first whose identifiers name a managed
 *      resource (or raise an unmanaged alert) decides (PutRolePolicy: the
 *      aws_iam_role_policy, else the role).  route53:changes: each change of
 *      the batch is its own identifier with its own kind.
 *   5. Look each up; a match whose type is not one of the entry's types is
 *      re-pointed at the sibling resource of the preferred type with the same
 *      name (aws_s3_bucket.assets -> aws_s3_bucket_policy.assets) when the
 *      state has it.
 *   6. No managed match: a create -> one UNMANAGED alert per identifier;
 *      anything else -> nothing ("not_managed").
 *   7. Managed: a type the entry marks TYPE:present -> no change (an
 *      attachment resource already holds the policy); delete or
 *      TYPE:delete -> DELETED; tag/untag -> DRIFT on tags.K where the value
 *      differs from state (none: "no_change"); modify with extractors -> one
 *      DRIFT alert per attribute whose new value differs from state (all
 *      equal: "no_change"); no extractor applies, or one applies but takes
 *      no value from the request (a form it does not know) -> a coarse
 *      MODIFIED naming the event, never silence (res->miss).
 *   8. Ignore rules on address, type, attribute, tags, workspace; severity by
 *      data (catalog), then override rules; who; a recommended fix.
 *
 * Pure apart from the state callbacks; safe on any number of threads. */
#ifndef TFDRIFT_CORRELATOR_RULE_H
#define TFDRIFT_CORRELATOR_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfdrift/catalog.h"
#include "rcfg.h"
#include "tfdrift/v1/alert.pb-c.h"
#include "tfdrift/v1/event.pb-c.h"

/* A resource index entry: the first claim of a P idx value
 * ("workspace\taddress\ttype\tgen\torder", tfdrift/redis_keys.h) split up.
 * gen is the claiming workspace's generation: its attributes are read from
 * that generation (rule_attrs_fn), whatever the workspace switched to since. */
typedef struct rule_match {
	char workspace[256];
	char address[512];
	char type[128];
	uint64_t gen;
} rule_match;

/* Where an event happened (rule_event_scope): the index answers only with
 * resources of this account and region, the account's account-global ones
 * (IAM, S3 …: any region) and those of states whose account is unknown
 * (scope.h).  Strings borrowed from the event; "" when it does not say.  An
 * identifier that is an ARN is looked up in the account and region it names
 * instead (where they are in it). */
typedef struct rule_scope {
	const char *account;
	const char *region;
} rule_scope;

/* Looks the identifier id up within scope.  0 with *m filled when found,
 * TD_ENOTFOUND when not, any other negative code when the index cannot be read
 * (the event must be retried). */
typedef int (*rule_lookup_fn)(void *arg, const rule_scope *scope, const char *id, rule_match *m);
/* The attributes of address in workspace as of its generation gen (a
 * rule_match's) as JSON text: 0 with *json malloc'd (caller frees),
 * TD_ENOTFOUND, or an error as above. */
typedef int (*rule_attrs_fn)(void *arg, const char *workspace, uint64_t gen, const char *address,
    char **json);

typedef struct rule_state {
	rule_lookup_fn lookup;
	rule_attrs_fn attrs;
	void *arg;
} rule_state;

typedef struct rule_env {
	const cat_catalog *catalog;
	const rcfg *cfg; /* NULL: no ignore/severity rules, no extra principals */
} rule_env;

/* Alerts produced for one batch; each item is a heap message freed by
 * rule_alerts_free (protobuf_c_message_free_unpacked). */
typedef struct rule_alerts {
	Tfdrift__V1__DriftAlert **items;
	size_t n, cap;
} rule_alerts;

/* What one identifier the event names came to (`explain` shows each:
 * TerminateInstances of three, a ChangeResourceRecordSets batch). */
#define RULE_MAX_DECISIONS 32
typedef struct rule_decision {
	char id[160];
	char workspace[96];
	char address[256];   /* "" when no state holds it */
	const char *outcome; /* drift deleted modified unmanaged no_change not_managed ignored */
	size_t alerts;
} rule_decision;

/* What happened to one event (for metrics and `explain`). */
typedef struct rule_result {
	const char *skip;       /* one of rule_skip_reasons, or NULL when alerts were raised */
	const cat_entry *entry; /* the catalog entry, NULL when none */
	char reason[256];       /* a sentence: which rule skipped it / what matched */
	size_t alerts;          /* appended to out */
	size_t precise;         /* of them DRIFT alerts naming an attribute with old and new */
	size_t coarse;          /* of them MODIFIED alerts on a managed resource (no attribute) */
	bool miss;              /* the entry names attributes, the event gave none it knows */
	rule_decision dec[RULE_MAX_DECISIONS]; /* per identifier, of the deciding locator; */
	size_t ndec;                           /* only dec[0..ndec) is set */
} rule_result;

/* Skip reasons, also the label values of tfdrift_correlator_events_skipped_total. */
extern const char *const rule_skip_reasons[];
extern const size_t rule_n_skip_reasons;
#define RULE_SKIP_DUPLICATE (rule_skip_reasons[8])

/* The reason ev is not looked at before the catalog (read-only, failed,
 * Terraform), or NULL. */
const char *rule_skip_reason(const rule_env *env, const Tfdrift__V1__CloudEvent *ev);

/* The reason ev needs no look at the state at all (read-only, failed,
 * Terraform's, not in the catalog), or NULL: a candidate.  Cheap (no JSON
 * parsing); the service dedupes only candidates in Redis. */
const char *rule_prefilter(const rule_env *env, const Tfdrift__V1__CloudEvent *ev);

/* Appends ev's alerts to out.  Returns 0 (res says why nothing or what was
 * appended), the state callbacks' error code, or TD_ENOMEM; on error nothing
 * is appended. */
int rule_evaluate(const rule_env *env, const Tfdrift__V1__CloudEvent *ev, const rule_state *st,
    int64_t now_ns, rule_alerts *out, rule_result *res);

void rule_alerts_free(rule_alerts *a);

/* The account of ev (recipientAccountId, else the principal's account from
 * userIdentity) and its region (awsRegion). */
void rule_event_scope(const Tfdrift__V1__CloudEvent *ev, rule_scope *scope);

/* Who, resolved: the human behind roles and SSO.  Strings borrowed from ev or
 * written into the buffers. */
typedef struct rule_who {
	char name[256];           /* "alice@example.com", "bob", "root", "ec2.amazonaws.com" */
	char role[256];           /* assumed role name */
	char permission_set[128]; /* IAM Identity Center permission set */
	bool root;
	bool service;
} rule_who;
void rule_resolve_who(const Tfdrift__V1__CloudEvent *ev, rule_who *w);

#endif
