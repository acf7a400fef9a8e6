/* index.c — identifier attributes per resource type. */
#include "index.h"

#include <string.h>

#include "redact.h"

typedef struct type_rule {
	const char *type;
	const char *attrs[IDX_MAX + 1]; /* NULL-terminated */
} type_rule;

/* Which attributes hold the names CloudTrail uses for each type.  Notes:
 * aws_db_instance's id is the resource id (db-XXXX) since provider v5 and the
 * API names the instance by `identifier`; aws_sqs_queue's id is its URL, which
 * is what SQS calls carry; aws_lambda_function's id equals function_name.
 * aws_security_group's name is left out on purpose: it is only unique per
 * VPC, and the API names groups by id. */
static const type_rule type_rules[] = {
	{ "aws_instance", { "id", "arn", NULL } },
	{ "aws_s3_bucket", { "id", "bucket", "arn", NULL } },
	{ "aws_iam_role", { "name", "arn", "unique_id", "id", NULL } },
	{ "aws_lambda_function", { "function_name", "arn", "id", NULL } },
	{ "aws_security_group", { "id", "arn", NULL } },
	{ "aws_db_instance", { "identifier", "id", "arn", "resource_id", NULL } },
	{ "aws_kms_key", { "key_id", "arn", "id", NULL } },
	{ "aws_sqs_queue", { "url", "id", "arn", NULL } },
	{ "aws_sns_topic", { "arn", "id", NULL } },
	{ "aws_vpc", { "id", "arn", NULL } },
	{ "aws_subnet", { "id", "arn", NULL } },
	{ "aws_dynamodb_table", { "name", "arn", "id", NULL } },
	{ "aws_iam_user", { "name", "arn", "unique_id", "id", NULL } },
	{ "aws_iam_policy", { "arn", "id", "name", NULL } },
	{ "aws_lb", { "arn", "id", "name", NULL } },
};

static const char *const fallback_attrs[] = { "id", "arn", "name", NULL };

const char *const *
idx_attribute_names(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(type_rules) / sizeof(type_rules[0]); i++) {
		if (strcmp(type_rules[i].type, type) == 0) {
			return type_rules[i].attrs;
		}
	}
	return fallback_attrs;
}

size_t
idx_identifiers(const char *type, const cJSON *attrs, const char **out, size_t max)
{
	const char *const *names = idx_attribute_names(type);
	const cJSON *v;
	size_t n = 0, i, k;

	for (i = 0; names[i] != NULL && n < max; i++) {
		v = cJSON_GetObjectItemCaseSensitive(attrs, names[i]);
		if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
		    strcmp(v->valuestring, REDACT_TEXT) == 0) {
			continue;
		}
		for (k = 0; k < n && strcmp(out[k], v->valuestring) != 0; k++) {
		}
		if (k == n) {
			out[n++] = v->valuestring;
		}
	}
	return n;
}
