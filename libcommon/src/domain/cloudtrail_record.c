/* cloudtrail_record.c — CloudTrail record (cJSON) <-> CloudEvent.
 *
 * Reference for the record layout: AWS CloudTrail User Guide, "CloudTrail
 * record contents" and "userIdentity element". */
#include "tfdrift/cloudtrail_record.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tfdrift/clock.h"

/* Longest dotted path in the tables below, plus room. */
#define PATH_MAX_LEN 128

/* A CloudTrail string at a dotted path, copied to a char * field of a message.
 * Rows naming the same field are alternatives: the first non-empty one wins. */
typedef struct str_field {
	const char *path;
	size_t offset;
	bool required;
} str_field;

#define EV(f) offsetof(Tfdrift__V1__CloudEvent, f)
#define UI(f) offsetof(Tfdrift__V1__UserIdentity, f)

static const str_field event_strings[] = {
	{ "eventID", EV(event_id), true },
	{ "eventSource", EV(event_source), true },
	{ "eventName", EV(event_name), true },
	{ "awsRegion", EV(aws_region), false },
	{ "recipientAccountId", EV(recipient_account_id), false },
	{ "sourceIPAddress", EV(source_ip), false },
	{ "userAgent", EV(user_agent), false },
	{ "errorCode", EV(error_code), false },
	{ "errorMessage", EV(error_message), false },
	{ "eventType", EV(event_type), false },
	{ "eventVersion", EV(event_version), false },
	{ "requestID", EV(request_id), false },
	{ "eventCategory", EV(event_category), false },
	{ "sharedEventID", EV(shared_event_id), false },
	{ "vpcEndpointId", EV(vpc_endpoint_id), false },
};

static const str_field identity_strings[] = {
	{ "type", UI(type), false },
	{ "principalId", UI(principal_id), false },
	{ "arn", UI(arn), false },
	{ "accountId", UI(account_id), false },
	{ "userName", UI(user_name), false },
	{ "accessKeyId", UI(access_key_id), false },
	{ "invokedBy", UI(invoked_by), false },
	{ "sessionContext.sessionIssuer.type", UI(session_issuer_type), false },
	{ "sessionContext.sessionIssuer.arn", UI(session_issuer_arn), false },
	{ "sessionContext.sessionIssuer.userName", UI(session_issuer_user_name), false },
	{ "sessionContext.sessionIssuer.principalId", UI(session_issuer_principal_id), false },
	{ "sessionContext.attributes.creationDate", UI(session_creation_date), false },
	{ "identityProvider", UI(identity_provider), false },
	/* web identity federation names its provider here instead */
	{ "sessionContext.webIdFederationData.federatedProvider", UI(identity_provider), false },
	{ "sessionContext.sourceIdentity", UI(source_identity), false },
	{ "onBehalfOf.userId", UI(on_behalf_of_user_id), false },
	{ "credentialId", UI(credential_id), false },
};

/* Free-form JSON members kept as unformatted JSON text ("" when absent or null). */
static const str_field event_json_text[] = {
	{ "requestParameters", EV(request_parameters_json), false },
	{ "responseElements", EV(response_elements_json), false },
	{ "additionalEventData", EV(additional_event_data_json), false },
};

typedef struct origin_name {
	Tfdrift__V1__EventOrigin origin;
	const char *name;
} origin_name;

static const origin_name origin_names[] = {
	{ TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FILE, "file" },
	{ TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_GRPC, "falco_grpc" },
	{ TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_HTTP, "falco_http" },
};

/* eventType values that are not API activity; such records are skipped. */
static const char *const skipped_event_types[] = {
	"AwsCloudTrailInsight",
};

#define FIELD(msg, off) ((char **)((char *)(msg) + (off)))

/* ---- helpers -------------------------------------------------------------- */

char *
ct_json_describe(const cJSON *v, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (v == NULL || cJSON_IsNull(v)) {
		snprintf(buf, len, "null");
	} else if (cJSON_IsBool(v)) {
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsNumber(v)) {
		snprintf(buf, len, "%.17g", v->valuedouble);
	} else if (cJSON_IsString(v)) {
		/* quote and cut long strings: the message names the problem, not the data */
		const char *s = v->valuestring;
		size_t n = strlen(s);
		if (n > 40)
			snprintf(buf, len, "\"%.40s...\"", s);
		else
			snprintf(buf, len, "\"%s\"", s);
	} else if (cJSON_IsArray(v)) {
		snprintf(buf, len, "an array");
	} else if (cJSON_IsObject(v)) {
		snprintf(buf, len, "an object");
	} else {
		snprintf(buf, len, "invalid JSON");
	}
	return buf;
}

/* "record 17" or "record 17 (line 18)". */
static void
where_text(const ct_record_ctx *ctx, char *buf, size_t len)
{
	if (ctx->line > 0)
		snprintf(buf, len, "record %zu (line %zu)", ctx->index, ctx->line);
	else
		snprintf(buf, len, "record %zu", ctx->index);
}

static int reject(td_error *err, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
reject(td_error *err, const char *where, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return td_error_set(err, TD_EINVAL, "%s: %s", where, msg);
}

/* Finds the value at a dotted path under obj.  Returns 0 with *out NULL when a
 * part is absent or null; TD_EINVAL when a part on the way is not an object,
 * with that part's path in bad. */
static int
lookup(const cJSON *obj, const char *path, const cJSON **out, char *bad, size_t badlen)
{
	const cJSON *cur = obj;
	const char *p = path;

	*out = NULL;
	for (;;) {
		char part[PATH_MAX_LEN];
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (n >= sizeof(part))
			return TD_EINVAL;
		memcpy(part, p, n);
		part[n] = '\0';
		cur = cJSON_GetObjectItemCaseSensitive(cur, part);
		if (cur == NULL || cJSON_IsNull(cur))
			return 0;
		if (dot == NULL)
			break;
		if (!cJSON_IsObject(cur)) {
			snprintf(bad, badlen, "%.*s", (int)(dot - path), path);
			*out = cur;
			return TD_EINVAL;
		}
		p = dot + 1;
	}
	*out = cur;
	return 0;
}

/* Sets a message string field to a malloc'd copy of s; "" keeps the default. */
static int
set_str(char **field, const char *s)
{
	char *copy;

	if (s == NULL || s[0] == '\0')
		return 0;
	copy = strdup(s);
	if (copy == NULL)
		return TD_ENOMEM;
	*field = copy;
	return 0;
}

static bool
field_empty(char *const *field)
{
	return *field == NULL || (*field)[0] == '\0';
}

/* Copies the rows of tbl from obj into msg.  prefix is the path of obj inside
 * the record, for messages ("userIdentity."). */
static int
copy_strings(const cJSON *obj, const str_field *tbl, size_t n, void *msg, const char *prefix,
    const char *where, td_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const cJSON *v;
		char bad[PATH_MAX_LEN], got[64];
		char **field = FIELD(msg, tbl[i].offset);
		int rv = lookup(obj, tbl[i].path, &v, bad, sizeof(bad));

		if (rv != 0)
			return reject(err, where, "%s%s: expected an object, got %s", prefix, bad,
			    ct_json_describe(v, got, sizeof(got)));
		if (v == NULL) {
			if (tbl[i].required)
				return reject(err, where, "%s%s: missing", prefix, tbl[i].path);
			continue;
		}
		if (!cJSON_IsString(v))
			return reject(err, where, "%s%s: expected a string, got %s", prefix,
			    tbl[i].path, ct_json_describe(v, got, sizeof(got)));
		if (tbl[i].required && v->valuestring[0] == '\0')
			return reject(err, where, "%s%s: empty", prefix, tbl[i].path);
		if (!field_empty(field))
			continue; /* an earlier alternative won */
		if ((rv = set_str(field, v->valuestring)) != 0)
			return td_error_set(err, rv, "out of memory");
	}
	return 0;
}

/* Reads a CloudTrail boolean.  AWS writes JSON booleans for readOnly and
 * managementEvent but the string "true"/"false" for mfaAuthenticated; both
 * forms are accepted everywhere.  *state: -1 absent, 0 false, 1 true. */
static int
get_bool(const cJSON *obj, const char *path, const char *prefix, const char *where, int *state,
    td_error *err)
{
	const cJSON *v;
	char bad[PATH_MAX_LEN], got[64];

	*state = -1;
	if (lookup(obj, path, &v, bad, sizeof(bad)) != 0)
		return reject(err, where, "%s%s: expected an object, got %s", prefix, bad,
		    ct_json_describe(v, got, sizeof(got)));
	if (v == NULL)
		return 0;
	if (cJSON_IsBool(v)) {
		*state = cJSON_IsTrue(v) ? 1 : 0;
		return 0;
	}
	if (cJSON_IsString(v) && strcasecmp(v->valuestring, "true") == 0) {
		*state = 1;
		return 0;
	}
	if (cJSON_IsString(v) && strcasecmp(v->valuestring, "false") == 0) {
		*state = 0;
		return 0;
	}
	return reject(err, where, "%s%s: expected a boolean, got %s", prefix, path,
	    ct_json_describe(v, got, sizeof(got)));
}

/* Unformatted JSON text of each row's member; absent or null stays "". */
static int
copy_json_text(const cJSON *rec, Tfdrift__V1__CloudEvent *ev, td_error *err)
{
	for (size_t i = 0; i < sizeof(event_json_text) / sizeof(event_json_text[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, event_json_text[i].path);
		char *text;

		if (v == NULL || cJSON_IsNull(v))
			continue;
		/* cJSON allocates with malloc (no hooks are installed), which is what
		 * protobuf-c's default allocator frees */
		text = cJSON_PrintUnformatted(v);
		if (text == NULL)
			return td_error_set(err, TD_ENOMEM, "out of memory");
		*FIELD(ev, event_json_text[i].offset) = text;
	}
	return 0;
}

static int
copy_event_time(const cJSON *rec, Tfdrift__V1__CloudEvent *ev, const char *where, td_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "eventTime");
	char got[64];

	if (v == NULL || cJSON_IsNull(v))
		return reject(err, where, "eventTime: missing");
	if (!cJSON_IsString(v) || td_clock_parse(v->valuestring, &ev->event_time_ns) != 0)
		return reject(err, where, "eventTime: expected an RFC 3339 string, got %s",
		    ct_json_describe(v, got, sizeof(got)));
	return 0;
}

const char *
ct_assumed_role_session(const char *arn)
{
	const char *p = strstr(arn, ":assumed-role/");
	const char *slash;

	if (p == NULL)
		return NULL;
	p += strlen(":assumed-role/");
	slash = strchr(p, '/');
	if (slash == NULL || slash[1] == '\0')
		return NULL;
	return slash + 1;
}

static int
copy_identity(const cJSON *rec, Tfdrift__V1__CloudEvent *ev, const char *where, td_error *err)
{
	const cJSON *ui = cJSON_GetObjectItemCaseSensitive(rec, "userIdentity");
	Tfdrift__V1__UserIdentity *id = ev->user_identity;
	const char *session;
	char got[64];
	int mfa, rv;

	if (ui == NULL || cJSON_IsNull(ui))
		return 0;
	if (!cJSON_IsObject(ui))
		return reject(err, where, "userIdentity: expected an object, got %s",
		    ct_json_describe(ui, got, sizeof(got)));
	rv = copy_strings(ui, identity_strings,
	    sizeof(identity_strings) / sizeof(identity_strings[0]), id, "userIdentity.", where,
	    err);
	if (rv != 0)
		return rv;
	rv = get_bool(ui, "sessionContext.attributes.mfaAuthenticated", "userIdentity.", where,
	    &mfa, err);
	if (rv != 0)
		return rv;
	id->mfa_authenticated = mfa == 1;
	session = field_empty(&id->arn) ? NULL : ct_assumed_role_session(id->arn);
	if (session != NULL && set_str(&id->session_name, session) != 0)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	return 0;
}

static int
copy_resources(const cJSON *rec, Tfdrift__V1__CloudEvent *ev, const char *where, td_error *err)
{
	static const str_field resource_strings[] = {
		{ "ARN", offsetof(Tfdrift__V1__EventResource, arn), false },
		{ "accountId", offsetof(Tfdrift__V1__EventResource, account_id), false },
		{ "type", offsetof(Tfdrift__V1__EventResource, type), false },
	};
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(rec, "resources");
	const cJSON *item;
	char got[64];
	int n, rv;

	if (arr == NULL || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return reject(err, where, "resources: expected an array, got %s",
		    ct_json_describe(arr, got, sizeof(got)));
	n = cJSON_GetArraySize(arr);
	if (n == 0)
		return 0;
	ev->resources = calloc((size_t)n, sizeof(*ev->resources));
	if (ev->resources == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	cJSON_ArrayForEach(item, arr)
	{
		Tfdrift__V1__EventResource *r;
		char prefix[48];

		snprintf(prefix, sizeof(prefix), "resources[%zu].", ev->n_resources);
		if (!cJSON_IsObject(item))
			return reject(err, where, "resources[%zu]: expected an object, got %s",
			    ev->n_resources, ct_json_describe(item, got, sizeof(got)));
		r = malloc(sizeof(*r));
		if (r == NULL)
			return td_error_set(err, TD_ENOMEM, "out of memory");
		tfdrift__v1__event_resource__init(r);
		ev->resources[ev->n_resources++] = r;
		rv = copy_strings(item, resource_strings,
		    sizeof(resource_strings) / sizeof(resource_strings[0]), r, prefix, where, err);
		if (rv != 0)
			return rv;
	}
	return 0;
}

static bool
skipped_type(const cJSON *rec, const char **reason)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "eventType");

	if (!cJSON_IsString(t))
		return false;
	for (size_t i = 0; i < sizeof(skipped_event_types) / sizeof(skipped_event_types[0]); i++) {
		if (strcmp(t->valuestring, skipped_event_types[i]) == 0) {
			*reason = skipped_event_types[i];
			return true;
		}
	}
	return false;
}

/* ---- public --------------------------------------------------------------- */

void
ct_event_free(Tfdrift__V1__CloudEvent *ev)
{
	if (ev != NULL)
		protobuf_c_message_free_unpacked(&ev->base, NULL);
}

int
ct_record_normalise(const cJSON *rec, const ct_record_ctx *ctx, Tfdrift__V1__CloudEvent **out,
    const char **skip_reason, td_error *err)
{
	Tfdrift__V1__CloudEvent *ev = NULL;
	char where[64], got[64];
	const char *reason = NULL;
	int rv, ro, mgmt;

	*out = NULL;
	where_text(ctx, where, sizeof(where));
	if (!cJSON_IsObject(rec))
		return reject(err, where, "expected a JSON object, got %s",
		    ct_json_describe(rec, got, sizeof(got)));
	if (skipped_type(rec, &reason)) {
		if (skip_reason != NULL)
			*skip_reason = reason;
		return 0;
	}

	ev = malloc(sizeof(*ev));
	if (ev == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	tfdrift__v1__cloud_event__init(ev);
	ev->user_identity = malloc(sizeof(*ev->user_identity));
	if (ev->user_identity == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	tfdrift__v1__user_identity__init(ev->user_identity);

	rv = copy_strings(rec, event_strings, sizeof(event_strings) / sizeof(event_strings[0]), ev,
	    "", where, err);
	if (rv != 0)
		goto out;
	if ((rv = copy_event_time(rec, ev, where, err)) != 0)
		goto out;
	if ((rv = copy_identity(rec, ev, where, err)) != 0)
		goto out;
	if ((rv = copy_resources(rec, ev, where, err)) != 0)
		goto out;
	if ((rv = copy_json_text(rec, ev, err)) != 0)
		goto out;
	if ((rv = get_bool(rec, "readOnly", "", where, &ro, err)) != 0)
		goto out;
	ev->read_only = ro == 1 ? TFDRIFT__V1__READ_ONLY__READ_ONLY_TRUE
	    : ro == 0           ? TFDRIFT__V1__READ_ONLY__READ_ONLY_FALSE
				: TFDRIFT__V1__READ_ONLY__READ_ONLY_UNKNOWN;
	if ((rv = get_bool(rec, "managementEvent", "", where, &mgmt, err)) != 0)
		goto out;
	ev->management_event = mgmt == 1;

	/* whose account the change happened in: the caller's, else the recipient's */
	rv = set_str(&ev->account_id,
	    field_empty(&ev->user_identity->account_id) ? ev->recipient_account_id
							: ev->user_identity->account_id);
	if (rv != 0)
		goto nomem;

	ev->origin = TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FILE;
	if (asprintf(&ev->origin_detail, "%s#%zu", ctx->path ? ctx->path : "", ctx->index) < 0) {
		ev->origin_detail = (char *)protobuf_c_empty_string;
		goto nomem;
	}
	ev->received_at_ns = ctx->received_at_ns != 0 ? ctx->received_at_ns : td_clock_now_ns();
	ev->raw_json = cJSON_PrintUnformatted(rec);
	if (ev->raw_json == NULL)
		goto nomem;

	*out = ev;
	ev = NULL;
	rv = 0;
	goto out;
nomem:
	rv = td_error_set(err, TD_ENOMEM, "out of memory");
out:
	ct_event_free(ev);
	return rv;
}

/* ---- rendering ------------------------------------------------------------ */

static const char *
origin_text(Tfdrift__V1__EventOrigin o)
{
	for (size_t i = 0; i < sizeof(origin_names) / sizeof(origin_names[0]); i++)
		if (origin_names[i].origin == o)
			return origin_names[i].name;
	return "unspecified";
}

/* Parsed JSON of text, or null when text is empty or does not parse. */
static cJSON *
json_or_null(const char *text)
{
	cJSON *v = NULL;

	if (text != NULL && text[0] != '\0')
		v = cJSON_Parse(text);
	return v != NULL ? v : cJSON_CreateNull();
}

/* The non-empty fields of a UserIdentity under their proto names; walks the
 * descriptor so a new proto field shows up without a change here. */
static cJSON *
identity_json(const Tfdrift__V1__UserIdentity *id)
{
	const ProtobufCMessageDescriptor *d = &tfdrift__v1__user_identity__descriptor;
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || id == NULL)
		return o;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)id + f->offset;

		if (f->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = *(char *const *)base;
			if (s != NULL && s[0] != '\0')
				cJSON_AddStringToObject(o, f->name, s);
		} else if (f->type == PROTOBUF_C_TYPE_BOOL) {
			if (*(const protobuf_c_boolean *)base)
				cJSON_AddTrueToObject(o, f->name);
		}
	}
	return o;
}

int
ct_event_to_json(const Tfdrift__V1__CloudEvent *ev, char **out)
{
	static const struct {
		const char *key;
		size_t offset;
	} strings[] = {
		{ "event_source", EV(event_source) },
		{ "event_name", EV(event_name) },
		{ "aws_region", EV(aws_region) },
		{ "account_id", EV(account_id) },
		{ "recipient_account_id", EV(recipient_account_id) },
	};
	static const struct {
		const char *key;
		size_t offset;
	} strings2[] = {
		{ "source_ip", EV(source_ip) },
		{ "user_agent", EV(user_agent) },
		{ "error_code", EV(error_code) },
		{ "error_message", EV(error_message) },
	};
	cJSON *o = cJSON_CreateObject(), *res;
	char tbuf[64];
	int digits, rv = TD_ENOMEM;

	*out = NULL;
	if (o == NULL)
		goto out;
	cJSON_AddStringToObject(o, "event_id", ev->event_id);
	/* CloudTrail writes whole seconds; keep a fraction only when there is one */
	digits = ev->event_time_ns % 1000000000 == 0 ? 0 : ev->event_time_ns % 1000000 == 0 ? 3 : 9;
	cJSON_AddStringToObject(o, "event_time",
	    td_clock_format(ev->event_time_ns, digits, tbuf, sizeof(tbuf)));
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		cJSON_AddStringToObject(o, strings[i].key, *FIELD(ev, strings[i].offset));
	cJSON_AddItemToObject(o, "user_identity", identity_json(ev->user_identity));
	for (size_t i = 0; i < sizeof(strings2) / sizeof(strings2[0]); i++)
		cJSON_AddStringToObject(o, strings2[i].key, *FIELD(ev, strings2[i].offset));
	if (ev->read_only == TFDRIFT__V1__READ_ONLY__READ_ONLY_UNKNOWN)
		cJSON_AddNullToObject(o, "read_only");
	else
		cJSON_AddBoolToObject(o, "read_only",
		    ev->read_only == TFDRIFT__V1__READ_ONLY__READ_ONLY_TRUE);
	cJSON_AddStringToObject(o, "event_type", ev->event_type);
	cJSON_AddItemToObject(o, "request_parameters", json_or_null(ev->request_parameters_json));
	cJSON_AddItemToObject(o, "response_elements", json_or_null(ev->response_elements_json));
	res = cJSON_AddArrayToObject(o, "resources");
	for (size_t i = 0; res != NULL && i < ev->n_resources; i++) {
		cJSON *r = cJSON_CreateObject();
		if (r == NULL)
			goto out;
		cJSON_AddStringToObject(r, "arn", ev->resources[i]->arn);
		cJSON_AddStringToObject(r, "account_id", ev->resources[i]->account_id);
		cJSON_AddStringToObject(r, "type", ev->resources[i]->type);
		cJSON_AddItemToArray(res, r);
	}
	cJSON_AddStringToObject(o, "origin", origin_text(ev->origin));
	cJSON_AddStringToObject(o, "origin_detail", ev->origin_detail);
	*out = cJSON_PrintUnformatted(o);
	rv = *out != NULL ? 0 : TD_ENOMEM;
out:
	cJSON_Delete(o);
	return rv;
}
