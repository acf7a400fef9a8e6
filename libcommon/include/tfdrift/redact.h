/* redact.h — removes secrets from a resource instance's attributes.
 *
 * Two rules, applied in place to a cJSON tree before anything leaves
 * state-loader (Redis, the bus, logs):
 *   1. every path listed in the instance's `sensitive_attributes` (Terraform
 *      marks these from the provider schema and from `sensitive()` values):
 *      whatever is there (scalar, list, block) becomes REDACT_TEXT;
 *   2. every value held by an object member whose name looks like a secret
 *      (a table of name fragments: password, secret, private_key, token,
 *      access_key, primary_key, connection_string, ...; with exceptions for
 *      names that only refer to a secret or describe it, such as *_arn, *_id,
 *      *_length, *_required, *_policy): a non-empty string, a number, a
 *      boolean, or a whole map.  A list held by such a member has its
 *      scalars redacted, and its blocks are checked by their own member
 *      names.  Members of nested blocks and map keys are checked the same way,
 *      so tags and environment variables are covered.  Nulls and "" are kept;
 *   3. (redact_resource) attributes secret by their resource type although
 *      their names say nothing: random_password.result, kubernetes_secret.data,
 *      aws_ssm_parameter.value, ...
 *
 * Not covered: secrets embedded inside a string value (a policy document or
 * user_data that contains a password). */
#ifndef TFDRIFT_REDACT_H
#define TFDRIFT_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"

/* The text that replaces every redacted value. */
#define REDACT_TEXT "(sensitive)"

/* Applies both rules to attrs (an object).  sensitive_paths is the instance's
 * `sensitive_attributes` (an array of paths, each an array of
 * {"type":"get_attr"|"index","value":...}) or NULL.  A malformed path is an
 * error: err reads "<where>[i][j].type: ..." (where = e.g.
 * "state.tfstate: resources[2].instances[0].sensitive_attributes") and attrs
 * is left partly redacted, so the caller must drop it.  A well-formed path
 * that leads nowhere (an attribute that is null or absent) is ignored.
 * *replaced (may be NULL) receives the number of values replaced. */
int redact_attributes(cJSON *attrs, const cJSON *sensitive_paths, const char *where,
    size_t *replaced, td_error *err);

/* Rules 1 to 3 for an instance of resource type `type` (NULL: rules 1 and 2
 * only).  Errors and *replaced as redact_attributes. */
int redact_resource(cJSON *attrs, const char *type, const cJSON *sensitive_paths, const char *where,
    size_t *replaced, td_error *err);

/* True when an attribute (or map key) of this name holds a secret by rule 2. */
bool redact_name_is_secret(const char *name);

#endif
