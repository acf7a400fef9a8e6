/* rcfg.h — the correlator's rules file (correlator.rules_file): who counts as
 * Terraform, what to ignore, and severity overrides.  YAML:
 *
 *   terraform_principals:          # globs over the principal ARN, the
 *     - "arn:aws:sts::*:assumed-role/terraform-ci/?*"   # session name and
 *     - "github-actions-*"                             # the resolved name
 *   ignore:
 *     - name: asg-tags             # the label of tfdrift_correlator_ignored_total
 *       address: "aws_autoscaling_group.?*"
 *       attribute: "tags.*"
 *     - name: breakglass
 *       principal: "oncall-*"
 *   severity:
 *     - name: prod-iam
 *       workspace: "prod/?*"
 *       type: "aws_iam_*"
 *       level: critical            # critical|high|medium|low|info
 *
 * Match keys (globs, fnmatch): address, type, attribute, event, principal,
 * workspace, tag ("Key" or "Key=Value", against the resource's state tags).
 * A rule matches when all of its keys match.  Rules with only event and
 * principal are applied before any lookup.  Errors name file:line:key.
 *
 * Threads: read-only after loading; hit counters are atomic. */
#ifndef TFDRIFT_CORRELATOR_RCFG_H
#define TFDRIFT_CORRELATOR_RCFG_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"

typedef struct rcfg rcfg;

/* What a rule is matched against; NULL fields match only rules without that key. */
typedef struct rcfg_subject {
	const char *event, *principal, *workspace, *address, *type, *attribute;
	const cJSON *tags; /* the resource's state tags (object) or NULL */
} rcfg_subject;

int rcfg_load_file(rcfg **out, const char *path, td_error *err);
int rcfg_parse(rcfg **out, const char *text, size_t len, const char *name, td_error *err);
void rcfg_free(rcfg *c);

/* The pattern one of names matches, or NULL (names: NULL-terminated). */
const char *rcfg_terraform_principal(const rcfg *c, const char *const *names);
/* The name of the first ignore rule s matches, or NULL; event_only: consider
 * only rules without resource keys.  Counts the hit. */
const char *rcfg_ignored(const rcfg *c, const rcfg_subject *s, bool event_only);
/* The last matching severity rule's level (alert.proto numbers), or level. */
int rcfg_severity(const rcfg *c, const rcfg_subject *s, int level);

size_t rcfg_rule_count(const rcfg *c);
/* Ignore rule i: name and hits so far; false past the end. */
bool rcfg_ignore_stats(const rcfg *c, size_t i, const char **name, unsigned long *hits);

#endif
