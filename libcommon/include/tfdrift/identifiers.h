/* identifiers.h — the identifiers CloudTrail can name a managed instance by.
 *
 * identifiers.tsv (embedded at build time as idx_table_text) gives, per
 * Terraform resource type, the identifiers to index, in order:
 *   attr     the attribute's string value (aws_s3_bucket: bucket -> "logs")
 *   =attr    scoped "<type>:<value>" for sub-resources named by their parent
 *            (aws_s3_bucket_policy: =bucket -> "aws_s3_bucket_policy:logs")
 *   a+b      composite, the values joined with "/" (aws_route53_record:
 *            zone_id+name -> "Z123/www.example.com"); =a+b is scoped too
 * Types not in the table fall back to id, arn, name.  docs/redis-keys.md
 * tells readers of the index the same. */
#ifndef TFDRIFT_IDENTIFIERS_H
#define TFDRIFT_IDENTIFIERS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"

/* Most identifiers one instance yields, and attributes in one composite. */
#define IDX_MAX 8
#define IDX_PARTS 3
/* Scratch room callers give idx_identifiers for scoped/composite values. */
#define IDX_SCRATCH 4096

/* identifiers.tsv as text (generated from the file by libcommon/build.mk). */
extern const char idx_table_text[];

/* Parses the embedded table once (later calls return the first result).  A
 * bad row is TD_EINVAL: "identifiers.tsv:12: ...".  Thread-safe.  The other
 * functions call it themselves; a failed table leaves only the fallback. */
int idx_init(td_error *err);

/* Parses a table in the identifiers.tsv format without keeping it: for
 * tests and for checking a file.  name is used in messages. */
int idx_check_table(const char *text, const char *name, size_t *types, td_error *err);

/* Types in the embedded table. */
size_t idx_type_count(void);

/* The identifier specs for type as written in the table ("key_id",
 * "=bucket", "zone_id+name"), or the fallback.  NULL-terminated; static. */
const char *const *idx_attribute_names(const char *type);

/* Writes into out[] (room for max) the distinct identifiers of an instance of
 * type with these attributes, in table order.  A spec whose attributes are
 * missing, empty, not strings or redacted gives nothing.  Plain values are
 * borrowed from attrs; scoped and composite ones are written into scratch
 * (scratch_len bytes; IDX_SCRATCH is plenty) and skipped when it is full.
 * Returns how many. */
size_t idx_identifiers(const char *type, const cJSON *attrs, const char **out, size_t max,
    char *scratch, size_t scratch_len);

/* True for resource types whose names are unique per account, not per
 * region (IAM, S3, CloudFront, Route53 zones and records, Organizations,
 * WAF classic, Global Accelerator, ...): their identifiers are indexed by
 * account alone (scope.h), and an event from any region finds them (global
 * services' calls are recorded in us-east-1). */
bool idx_type_global(const char *type);

#endif
