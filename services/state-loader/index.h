/* index.h — the identifiers CloudTrail can name a managed instance by.
 *
 * A table gives, per Terraform resource type, the attributes whose values
 * identify the object in AWS API calls (aws_s3_bucket: id, bucket, arn;
 * aws_iam_role: name, arn, unique_id, id; ...).  Types not in the table fall
 * back to id, arn, name.  The table is data: growing it means adding a row. */
#ifndef TFDRIFT_STATE_LOADER_INDEX_H
#define TFDRIFT_STATE_LOADER_INDEX_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Most identifiers one instance yields. */
#define IDX_MAX 8

/* The attribute names used for type: its table row, or the fallback.
 * NULL-terminated; static. */
const char *const *idx_attribute_names(const char *type);

/* Writes into out[] (room for max) the distinct, non-empty string values of
 * those attributes of attrs, in table order; values that were redacted are
 * skipped.  The strings are borrowed from attrs.  Returns how many. */
size_t idx_identifiers(const char *type, const cJSON *attrs, const char **out, size_t max);

#endif
