/* falco_alert.h — one Falco JSON alert (http_output, Falcosidekick webhook)
 * to a tfdrift.v1.CloudEvent.
 *
 * The alert's output_fields carry the CloudTrail plugin's ct.* fields
 * (reference §4.1).  Each mapped ct.* field is a row in falco_alert.c's table
 * (ct.* name -> CloudEvent field and CloudTrail record key) and goes straight
 * into the CloudEvent, with the rules cloudtrail_record.c applies to a
 * CloudTrail file (the same CloudEvent for the same event).  raw_json gets the
 * CloudTrail record the fields stand for, written as text (requestParameters
 * etc. as the JSON text the alert carried, minus insignificant whitespace).
 *
 * Values in output_fields may be strings, numbers, booleans or null.  null,
 * "" and Falco's "<NA>" mean "no value".  ct.request, ct.response and
 * ct.additionaleventdata are JSON text inside the JSON and are decoded (an
 * object already decoded is taken as is).  An object or array where a string
 * is expected is an error naming the field.
 *
 * Fields the correlator needs but the rule's output did not reference are not
 * an error: the alert is accepted, the names go to CloudEvent.missing_fields
 * and the caller counts them.  Without ct.id an id is derived from the alert
 * (so a resent alert keeps its id); without ct.src / ct.name they are "unknown";
 * without ct.time the alert's time is used (Falco sets it to eventTime). */
#ifndef TFDRIFT_FALCO_ALERT_H
#define TFDRIFT_FALCO_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "tfdrift/error.h"
#include "tfdrift/v1/event.pb-c.h"

/* falco_alert_parse's positive result: a well-formed alert whose source is not
 * aws_cloudtrail (counted and dropped by the caller). */
#define FALCO_ALERT_OTHER_SOURCE 1

/* Parses body (len bytes, not necessarily NUL-terminated).  Returns 0 with
 * *out set (owned by the caller, ct_event_free); FALCO_ALERT_OTHER_SOURCE with
 * source (if not NULL) set to the alert's source; or TD_EINVAL with err
 * naming the field that is wrong ("output_fields.ct.request: not JSON text").
 * origin and origin_detail (e.g. the peer address; may be NULL) are stored in
 * the event. */
int falco_alert_parse(const char *body, size_t len, Tfdrift__V1__EventOrigin origin,
    const char *origin_detail, Tfdrift__V1__CloudEvent **out, char *source, size_t source_len,
    td_error *err);

/* One alert as Falco's gRPC output sends it (falco.outputs.response), its
 * output_fields map given as parallel arrays.  Borrowed for the call. */
typedef struct falco_alert_fields {
	const char *time; /* RFC 3339; "" or NULL: time_ns is used */
	int64_t time_ns;  /* Unix ns when time is not given (formatted only if needed); 0: none */
	const char *rule, *priority, *source, *hostname;
	const char *const *tags;
	size_t n_tags;
	const char *const *keys; /* n_fields output field names and their values */
	const char *const *values;
	size_t n_fields;
} falco_alert_fields;

/* The same mapping for a gRPC alert, without JSON in between.  Returns 0 with
 * *out set; FALCO_ALERT_OTHER_SOURCE; or TD_EINVAL with err naming the field.
 * alloc NULL: the event is malloc'd and owned by the caller (ct_event_free).
 * Otherwise every allocation comes from alloc (an arena whose free does
 * nothing) and the event may point at a's strings: it is valid while they and
 * alloc's memory are, and is not freed on its own (no ct_event_free). */
int falco_alert_from_fields(const falco_alert_fields *a, Tfdrift__V1__EventOrigin origin,
    const char *origin_detail, ProtobufCAllocator *alloc, Tfdrift__V1__CloudEvent **out,
    td_error *err);

/* The ct.* fields the correlator needs, NULL-terminated; an alert lacking one
 * lists it in missing_fields. */
extern const char *const falco_needed_fields[];

#endif
