/* falco_alert.c — Falco JSON alert -> CloudTrail record -> CloudEvent. */
#include "falco_alert.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cloudtrail_record.h"
#include "tfdrift/clock.h"

typedef enum kind {
	K_STR,       /* string (numbers and booleans are written as text) */
	K_JSON,      /* JSON text inside the JSON */
	K_BOOL,      /* "true"/"false" or a JSON boolean */
	K_RESOURCES, /* resources[] objects joined with "," */
} kind;

/* ct.* output field -> where it goes in a CloudTrail record (reference §4.1).
 * ct.user is not here: where it goes depends on the identity type (below). */
static const struct {
	const char *field;
	const char *path;
	kind k;
} ct_map[] = {
	{ "ct.id", "eventID", K_STR },
	{ "ct.time", "eventTime", K_STR },
	{ "ct.src", "eventSource", K_STR },
	{ "ct.name", "eventName", K_STR },
	{ "ct.region", "awsRegion", K_STR },
	{ "ct.error", "errorCode", K_STR },
	{ "ct.errormessage", "errorMessage", K_STR },
	{ "ct.srcip", "sourceIPAddress", K_STR },
	{ "ct.useragent", "userAgent", K_STR },
	{ "ct.user.identitytype", "userIdentity.type", K_STR },
	{ "ct.user.principalid", "userIdentity.principalId", K_STR },
	{ "ct.user.arn", "userIdentity.arn", K_STR },
	{ "ct.user.accountid", "userIdentity.accountId", K_STR },
	{ "ct.request", "requestParameters", K_JSON },
	{ "ct.response", "responseElements", K_JSON },
	{ "ct.additionaleventdata", "additionalEventData", K_JSON },
	{ "ct.readonly", "readOnly", K_BOOL },
	{ "ct.managementevent", "managementEvent", K_BOOL },
	{ "ct.requestid", "requestID", K_STR },
	{ "ct.eventtype", "eventType", K_STR },
	{ "ct.recipientaccountid", "recipientAccountId", K_STR },
	{ "ct.sharedeventid", "sharedEventID", K_STR },
	{ "ct.vpcendpointid", "vpcEndpointId", K_STR },
	{ "ct.eventcategory", "eventCategory", K_STR },
	{ "ct.resources", "resources", K_RESOURCES },
};
#define N_CT_MAP (sizeof(ct_map) / sizeof(ct_map[0]))

const char *const falco_needed_fields[] = {
	"ct.id",
	"ct.time",
	"ct.src",
	"ct.name",
	"ct.region",
	"ct.user.identitytype",
	"ct.user.arn",
	"ct.user.accountid",
	"ct.request",
	"ct.response",
	"ct.srcip",
	"ct.error",
	NULL,
};

static int
bad(td_error *err, const char *field, const char *fmt, const cJSON *v)
{
	char got[64];
	return td_error_set(err, TD_EINVAL, "%s: %s%s", field, fmt,
	    v != NULL ? ct_json_describe(v, got, sizeof(got)) : "");
}

/* The value of an output field as text, or NULL when it has none (null,
 * "", "<NA>").  *text may point into v or into num. */
static int
field_text(const cJSON *v, const char *name, char *num, size_t numlen, const char **text,
    td_error *err)
{
	char where[128];

	*text = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v)) {
		if (v->valuestring[0] != '\0' && strcmp(v->valuestring, "<NA>") != 0)
			*text = v->valuestring;
		return 0;
	}
	if (cJSON_IsBool(v)) {
		*text = cJSON_IsTrue(v) ? "true" : "false";
		return 0;
	}
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == (double)(int64_t)d)
			snprintf(num, numlen, "%lld", (long long)(int64_t)d);
		else
			snprintf(num, numlen, "%.17g", d);
		*text = num;
		return 0;
	}
	snprintf(where, sizeof(where), "output_fields.%s", name);
	return bad(err, where, "expected a string, number, boolean or null, got ", v);
}

/* Puts item at a dotted path inside rec, creating objects; takes item. */
static int
put_path(cJSON *rec, const char *path, cJSON *item)
{
	char buf[128], *p, *dot;
	cJSON *obj = rec;

	snprintf(buf, sizeof(buf), "%s", path);
	p = buf;
	while ((dot = strchr(p, '.')) != NULL) {
		cJSON *next;
		*dot = '\0';
		next = cJSON_GetObjectItemCaseSensitive(obj, p);
		if (next == NULL) {
			next = cJSON_AddObjectToObject(obj, p);
			if (next == NULL) {
				cJSON_Delete(item);
				return TD_ENOMEM;
			}
		}
		obj = next;
		p = dot + 1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, p);
	if (!cJSON_AddItemToObject(obj, p, item)) {
		cJSON_Delete(item);
		return TD_ENOMEM;
	}
	return 0;
}

/* Converts one mapped output field into a record item; *item NULL = no value. */
static int
convert(const cJSON *v, size_t row, cJSON **item, td_error *err)
{
	char num[64], where[128];
	const char *text;
	int rv;

	*item = NULL;
	snprintf(where, sizeof(where), "output_fields.%s", ct_map[row].field);
	if (ct_map[row].k == K_JSON && (cJSON_IsObject(v) || cJSON_IsArray(v))) {
		/* a relay that decoded it already */
		*item = cJSON_Duplicate(v, true);
		return *item ? 0 : TD_ENOMEM;
	}
	if ((rv = field_text(v, ct_map[row].field, num, sizeof(num), &text, err)) != 0)
		return rv;
	if (text == NULL)
		return 0;
	switch (ct_map[row].k) {
	case K_STR: *item = cJSON_CreateString(text); break;
	case K_JSON:
		*item = cJSON_Parse(text);
		if (*item == NULL)
			return td_error_set(err, TD_EINVAL, "%s: not JSON text", where);
		break;
	case K_BOOL:
		if (strcmp(text, "true") == 0)
			*item = cJSON_CreateTrue();
		else if (strcmp(text, "false") == 0)
			*item = cJSON_CreateFalse();
		else
			return bad(err, where, "expected \"true\" or \"false\", got ", v);
		break;
	case K_RESOURCES: {
		size_t n = strlen(text);
		char *arr = malloc(n + 3);
		if (arr == NULL)
			return TD_ENOMEM;
		arr[0] = '[';
		memcpy(arr + 1, text, n);
		arr[n + 1] = ']';
		arr[n + 2] = '\0';
		*item = cJSON_Parse(arr);
		free(arr);
		if (*item == NULL)
			return td_error_set(err, TD_EINVAL, "%s: not JSON objects joined with ','",
			    where);
		break;
	}
	}
	return *item ? 0 : TD_ENOMEM;
}

/* FNV-1a over text: a stable id for an alert that carries no ct.id. */
static uint64_t
fnv1a(uint64_t h, const char *s)
{
	for (; s != NULL && *s; s++) {
		h ^= (uint8_t)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Adds s (copied) to a repeated string field. */
static int
push_str(char ***arr, size_t *n, const char *s)
{
	char **na = realloc(*arr, (*n + 1) * sizeof(*na));
	if (na == NULL)
		return TD_ENOMEM;
	*arr = na;
	na[*n] = strdup(s);
	if (na[*n] == NULL)
		return TD_ENOMEM;
	(*n)++;
	return 0;
}

/* A top-level string member: NULL if absent or null; an error if another type. */
static int
top_str(const cJSON *alert, const char *name, bool required, const char **out, td_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(alert, name);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v)) {
		if (required)
			return td_error_set(err, TD_EINVAL, "%s: missing", name);
		return 0;
	}
	if (!cJSON_IsString(v))
		return bad(err, name, "expected a string, got ", v);
	*out = v->valuestring;
	return 0;
}

/* Fills the Falco-side fields of ev. */
static int
set_falco_fields(Tfdrift__V1__CloudEvent *ev, const cJSON *alert, const char *rule,
    const char *priority, const char *hostname, Tfdrift__V1__EventOrigin origin,
    const char *origin_detail)
{
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(alert, "tags"), *t;
	int rv;

	ev->origin = origin;
	if (ev->origin_detail != NULL && ev->origin_detail != protobuf_c_empty_string)
		free(ev->origin_detail);
	ev->origin_detail = strdup(origin_detail ? origin_detail : "");
	ev->falco_rule = strdup(rule ? rule : "");
	ev->falco_priority = strdup(priority ? priority : "");
	ev->falco_hostname = strdup(hostname ? hostname : "");
	if (!ev->origin_detail || !ev->falco_rule || !ev->falco_priority || !ev->falco_hostname)
		return TD_ENOMEM;
	cJSON_ArrayForEach(t, tags)
	{
		if (cJSON_IsString(t) &&
		    (rv = push_str(&ev->falco_tags, &ev->n_falco_tags, t->valuestring)) != 0)
			return rv;
	}
	return 0;
}

int
falco_alert_parse(const char *body, size_t len, Tfdrift__V1__EventOrigin origin,
    const char *origin_detail, Tfdrift__V1__CloudEvent **out, char *source, size_t source_len,
    td_error *err)
{
	cJSON *alert = NULL, *rec = NULL;
	const cJSON *fields, *tags;
	const char *rule, *priority, *hostname, *src, *time_s;
	const char *missing[32];
	size_t nmissing = 0;
	Tfdrift__V1__CloudEvent *ev = NULL;
	ct_record_ctx ctx = { 0 };
	const char *skip = NULL;
	int rv;

	*out = NULL;
	if (source != NULL && source_len > 0)
		source[0] = '\0';
	alert = cJSON_ParseWithLength(body, len);
	if (alert == NULL || !cJSON_IsObject(alert)) {
		rv = td_error_set(err, TD_EINVAL, "body: not a JSON object");
		goto out;
	}
	if ((rv = top_str(alert, "source", true, &src, err)) != 0 ||
	    (rv = top_str(alert, "rule", true, &rule, err)) != 0 ||
	    (rv = top_str(alert, "priority", false, &priority, err)) != 0 ||
	    (rv = top_str(alert, "hostname", false, &hostname, err)) != 0 ||
	    (rv = top_str(alert, "time", false, &time_s, err)) != 0)
		goto out;
	tags = cJSON_GetObjectItemCaseSensitive(alert, "tags");
	if (tags != NULL && !cJSON_IsNull(tags) && !cJSON_IsArray(tags)) {
		rv = bad(err, "tags", "expected an array of strings, got ", tags);
		goto out;
	}
	if (src == NULL) { /* top_str made it required; this tells the analyzer */
		rv = td_error_set(err, TD_EINVAL, "source: missing");
		goto out;
	}
	if (source != NULL)
		snprintf(source, source_len, "%s", src);
	if (strcmp(src, "aws_cloudtrail") != 0) {
		rv = FALCO_ALERT_OTHER_SOURCE;
		goto out;
	}
	fields = cJSON_GetObjectItemCaseSensitive(alert, "output_fields");
	if (fields == NULL || cJSON_IsNull(fields)) {
		rv = td_error_set(err, TD_EINVAL, "output_fields: missing");
		goto out;
	}
	if (!cJSON_IsObject(fields)) {
		rv = bad(err, "output_fields", "expected an object, got ", fields);
		goto out;
	}

	/* rebuild the CloudTrail record */
	rec = cJSON_CreateObject();
	if (rec == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < N_CT_MAP; i++) {
		cJSON *item;
		if ((rv = convert(cJSON_GetObjectItemCaseSensitive(fields, ct_map[i].field), i,
			 &item, err)) != 0)
			goto out;
		if (item != NULL && (rv = put_path(rec, ct_map[i].path, item)) != 0)
			goto out;
	}
	{
		/* ct.user names a different key per identity type (reference §4.1) */
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(rec, "userIdentity"), "type");
		const char *t = cJSON_IsString(type) ? type->valuestring : "";
		char num[64];
		const char *user;

		if ((rv = field_text(cJSON_GetObjectItemCaseSensitive(fields, "ct.user"), "ct.user",
			 num, sizeof(num), &user, err)) != 0)
			goto out;
		if (user != NULL && strcmp(user, t) != 0) {
			const char *path = strcmp(t, "AssumedRole") == 0
			    ? "userIdentity.sessionContext.sessionIssuer.userName"
			    : strcmp(t, "AWSService") == 0 ? "userIdentity.invokedBy"
							   : "userIdentity.userName";
			cJSON *item = cJSON_CreateString(user);
			if (item == NULL || put_path(rec, path, item) != 0) {
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	/* fill what the rule did not output, and remember it */
	for (size_t i = 0; falco_needed_fields[i] != NULL; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, falco_needed_fields[i]);
		const char *text;
		char num[64];

		if (field_text(v, falco_needed_fields[i], num, sizeof(num), &text, err) == 0 &&
		    text == NULL && v == NULL && nmissing < 32)
			missing[nmissing++] = falco_needed_fields[i];
	}
	if (cJSON_GetObjectItemCaseSensitive(rec, "eventID") == NULL) {
		char id[40];
		char *printed = cJSON_PrintUnformatted(fields);
		uint64_t h = fnv1a(fnv1a(fnv1a(1469598103934665603ULL, rule), time_s), printed);
		free(printed);
		snprintf(id, sizeof(id), "falco-%016llx", (unsigned long long)h);
		cJSON_AddStringToObject(rec, "eventID", id);
	}
	if (cJSON_GetObjectItemCaseSensitive(rec, "eventTime") == NULL) {
		if (time_s == NULL) {
			rv = td_error_set(err, TD_EINVAL,
			    "time: missing (and no output_fields.ct.time)");
			goto out;
		}
		cJSON_AddStringToObject(rec, "eventTime", time_s);
	}
	if (cJSON_GetObjectItemCaseSensitive(rec, "eventSource") == NULL) {
		const cJSON *shortsrc = cJSON_GetObjectItemCaseSensitive(fields, "ct.shortsrc");
		char buf[160];
		if (cJSON_IsString(shortsrc) && shortsrc->valuestring[0] != '\0' &&
		    strcmp(shortsrc->valuestring, "<NA>") != 0)
			snprintf(buf, sizeof(buf), "%s.amazonaws.com", shortsrc->valuestring);
		else
			snprintf(buf, sizeof(buf), "unknown");
		cJSON_AddStringToObject(rec, "eventSource", buf);
	}
	if (cJSON_GetObjectItemCaseSensitive(rec, "eventName") == NULL)
		cJSON_AddStringToObject(rec, "eventName", "unknown");

	ctx.path = "falco";
	if ((rv = ct_record_normalise(rec, &ctx, &ev, &skip, err)) != 0)
		goto out;
	if (ev == NULL) {
		rv = td_error_set(err, TD_EINVAL, "output_fields.ct.eventtype: %s",
		    skip ? skip : "not a management event");
		goto out;
	}
	if ((rv = set_falco_fields(ev, alert, rule, priority, hostname, origin, origin_detail)) !=
	    0) {
		td_error_set(err, rv, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nmissing; i++)
		if ((rv = push_str(&ev->missing_fields, &ev->n_missing_fields, missing[i])) != 0) {
			td_error_set(err, rv, "out of memory");
			goto out;
		}
	*out = ev;
	ev = NULL;
out:
	ct_event_free(ev);
	cJSON_Delete(rec);
	cJSON_Delete(alert);
	return rv;
}
