/* cloudtrail_record.h — one CloudTrail record (a JSON object as AWS writes it
 * in a log file) to a tfdrift.v1.CloudEvent, and a CloudEvent to one JSON line.
 *
 * The mapping is written as tables in cloudtrail_record.c (CloudTrail key ->
 * CloudEvent field), so adding a field is adding a row.
 *
 * Rules:
 *   - eventID, eventTime (RFC 3339), eventSource and eventName are required;
 *   - every mapped key must have the JSON type AWS writes (string, boolean,
 *     object, array); null counts as absent;
 *   - a record that breaks either rule is rejected with a message naming the
 *     record and the field: "record 17: eventTime: expected an RFC 3339 string, got 42";
 *   - records with eventType "AwsCloudTrailInsight" are not management events
 *     and are skipped (not an error).
 *
 * Built CloudEvents are heap messages whose strings are malloc'd (or point to
 * protobuf_c_empty_string), so protobuf_c_message_free_unpacked(&ev->base, NULL)
 * — ct_event_free — releases them. */
#ifndef TFDRIFT_CLOUDTRAIL_RECORD_H
#define TFDRIFT_CLOUDTRAIL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"
#include "tfdrift/v1/event.pb-c.h"

/* Where a record came from; used for origin_detail and in messages. */
typedef struct ct_record_ctx {
	const char *path;       /* file the record was read from */
	size_t index;           /* 0-based position among the file's records */
	size_t line;            /* 1-based line for JSON Lines files; 0 when unknown */
	int64_t received_at_ns; /* 0: now */
} ct_record_ctx;

/* Normalises rec.  Returns 0 with *out set (owned by the caller, ct_event_free),
 * or 0 with *out NULL when the record is skipped (Insight event; *skip_reason,
 * if not NULL, gets a static reason), or TD_EINVAL with err naming the record
 * and field, or TD_ENOMEM. */
int ct_record_normalise(const cJSON *rec, const ct_record_ctx *ctx, Tfdrift__V1__CloudEvent **out,
    const char **skip_reason, td_error *err);

/* Renders ev as one JSON line (no trailing newline) for `replay --print`.
 * *out is malloc'd and owned by the caller. */
int ct_event_to_json(const Tfdrift__V1__CloudEvent *ev, char **out);

/* Frees an event built by ct_record_normalise; NULL is ignored. */
void ct_event_free(Tfdrift__V1__CloudEvent *ev);

/* The session name of an assumed-role ARN
 * (arn:aws:sts::123456789012:assumed-role/RoleName/SessionName -> SessionName),
 * borrowed from arn; NULL for any other ARN. */
const char *ct_assumed_role_session(const char *arn);

/* Writes a short description of a JSON value for messages ("42", "null",
 * "\"abc\"", "an object") into buf.  Returns buf. */
char *ct_json_describe(const cJSON *v, char *buf, size_t len);

#endif
