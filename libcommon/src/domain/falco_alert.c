/* falco_alert.c — Falco alert (JSON, or the gRPC response's fields) -> CloudEvent.
 *
 * The output fields are mapped straight into the CloudEvent through the table
 * below; the CloudTrail record kept in raw_json is written as text from the
 * same values.  ct.request / ct.response / ct.additionaleventdata are JSON
 * text: they are checked and stripped of insignificant whitespace in one pass
 * (json_minify) and carried as text, never parsed into a tree. */
#include "tfdrift/falco_alert.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/clock.h"
#include "tfdrift/hash.h"
#include "tfdrift/json_check.h"

typedef enum kind {
	K_STR,       /* string (numbers and booleans are written as text) */
	K_JSON,      /* JSON text inside the JSON */
	K_BOOL,      /* "true"/"false" or a JSON boolean */
	K_RESOURCES, /* resources[] objects joined with "," */
} kind;

/* Where a K_STR value goes in the CloudEvent. */
typedef enum target {
	T_NONE, /* handled by name below (time, user, shortsrc, booleans, resources) */
	T_EV,   /* a string of the CloudEvent */
	T_UI,   /* a string of its UserIdentity */
} target;

/* The output fields ingest reads, by position in the table. */
typedef enum fid {
	F_ID,
	F_TIME,
	F_SRC,
	F_NAME,
	F_REGION,
	F_ERROR,
	F_ERRMSG,
	F_SRCIP,
	F_UA,
	F_UTYPE,
	F_UPRINC,
	F_UARN,
	F_UACCT,
	F_REQ,
	F_RESP,
	F_AED,
	F_RO,
	F_MGMT,
	F_REQID,
	F_ETYPE,
	F_RECIP,
	F_SHARED,
	F_VPCE,
	F_CAT,
	F_RES,
	F_USER,
	F_SHORTSRC,
	F_COUNT
} fid;

#define EV(f) offsetof(Tfdrift__V1__CloudEvent, f)
#define UI(f) offsetof(Tfdrift__V1__UserIdentity, f)

/* ct.* output field -> CloudEvent field and key in the CloudTrail record
 * (reference §4.1).  key is the record key (inside userIdentity for T_UI);
 * NULL for fields that are not a record key of their own. */
static const struct {
	const char *field;
	const char *key;
	kind k;
	target t;
	size_t off;
} rows[F_COUNT] = {
	[F_ID] = { "ct.id", "eventID", K_STR, T_EV, EV(event_id) },
	[F_TIME] = { "ct.time", "eventTime", K_STR, T_NONE, 0 },
	[F_SRC] = { "ct.src", "eventSource", K_STR, T_EV, EV(event_source) },
	[F_NAME] = { "ct.name", "eventName", K_STR, T_EV, EV(event_name) },
	[F_REGION] = { "ct.region", "awsRegion", K_STR, T_EV, EV(aws_region) },
	[F_ERROR] = { "ct.error", "errorCode", K_STR, T_EV, EV(error_code) },
	[F_ERRMSG] = { "ct.errormessage", "errorMessage", K_STR, T_EV, EV(error_message) },
	[F_SRCIP] = { "ct.srcip", "sourceIPAddress", K_STR, T_EV, EV(source_ip) },
	[F_UA] = { "ct.useragent", "userAgent", K_STR, T_EV, EV(user_agent) },
	[F_UTYPE] = { "ct.user.identitytype", "type", K_STR, T_UI, UI(type) },
	[F_UPRINC] = { "ct.user.principalid", "principalId", K_STR, T_UI, UI(principal_id) },
	[F_UARN] = { "ct.user.arn", "arn", K_STR, T_UI, UI(arn) },
	[F_UACCT] = { "ct.user.accountid", "accountId", K_STR, T_UI, UI(account_id) },
	[F_REQ] = { "ct.request", "requestParameters", K_JSON, T_EV, EV(request_parameters_json) },
	[F_RESP] = { "ct.response", "responseElements", K_JSON, T_EV, EV(response_elements_json) },
	[F_AED] = { "ct.additionaleventdata", "additionalEventData", K_JSON, T_EV,
	    EV(additional_event_data_json) },
	[F_RO] = { "ct.readonly", "readOnly", K_BOOL, T_NONE, 0 },
	[F_MGMT] = { "ct.managementevent", "managementEvent", K_BOOL, T_NONE, 0 },
	[F_REQID] = { "ct.requestid", "requestID", K_STR, T_EV, EV(request_id) },
	[F_ETYPE] = { "ct.eventtype", "eventType", K_STR, T_EV, EV(event_type) },
	[F_RECIP] = { "ct.recipientaccountid", "recipientAccountId", K_STR, T_EV,
	    EV(recipient_account_id) },
	[F_SHARED] = { "ct.sharedeventid", "sharedEventID", K_STR, T_EV, EV(shared_event_id) },
	[F_VPCE] = { "ct.vpcendpointid", "vpcEndpointId", K_STR, T_EV, EV(vpc_endpoint_id) },
	[F_CAT] = { "ct.eventcategory", "eventCategory", K_STR, T_EV, EV(event_category) },
	[F_RES] = { "ct.resources", "resources", K_RESOURCES, T_NONE, 0 },
	/* ct.user names a different key per identity type (user_field) */
	[F_USER] = { "ct.user", NULL, K_STR, T_NONE, 0 },
	/* only used to make eventSource when ct.src is absent */
	[F_SHORTSRC] = { "ct.shortsrc", NULL, K_STR, T_NONE, 0 },
};

/* Top-level CloudEvent strings written into the raw record, in CloudTrail's order. */
static const fid raw_order[] = { F_ID, F_TIME, F_SRC, F_NAME, F_REGION, F_SRCIP, F_UA, F_ERROR,
	F_ERRMSG, F_REQ, F_RESP, F_AED, F_RO, F_MGMT, F_REQID, F_ETYPE, F_RECIP, F_SHARED, F_VPCE,
	F_CAT, F_RES };

/* ct.user goes to userIdentity.<key> (and this UserIdentity field) by type. */
static const struct {
	const char *type; /* NULL: any other type */
	const char *key;  /* dotted inside userIdentity */
	size_t off;
} user_field[] = {
	{ "AssumedRole", "sessionContext.sessionIssuer.userName", UI(session_issuer_user_name) },
	{ "AWSService", "invokedBy", UI(invoked_by) },
	{ NULL, "userName", UI(user_name) },
};

/* eventType values that are not API activity (as cloudtrail_record.c). */
static const char *const skipped_event_types[] = {
	"AwsCloudTrailInsight",
};

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

#define N_NEEDED (sizeof(falco_needed_fields) / sizeof(falco_needed_fields[0]) - 1)

/* Deepest nesting json_minify accepts (cJSON's own limit). */
#define JSON_DEPTH_MAX 1000

#define FIELD(msg, off) ((char **)((char *)(msg) + (off)))

/* Where an event's memory comes from: malloc (a NULL; the event is freed with
 * ct_event_free), or the caller's allocator (an arena that frees everything at
 * once; then the event may also point at the alert's own strings, borrow). */
typedef struct mem {
	ProtobufCAllocator *a;
	bool borrow; /* the alert's strings live as long as a's memory */
} mem;

static void *
m_alloc(const mem *m, size_t n)
{
	return m->a != NULL ? m->a->alloc(m->a->allocator_data, n) : malloc(n);
}

static void
m_free(const mem *m, void *p)
{
	if (p == NULL)
		return;
	if (m->a != NULL)
		m->a->free(m->a->allocator_data, p);
	else
		free(p);
}

/* p (n bytes used) moved to a block of want bytes; NULL when out of memory
 * (p is then untouched). */
static void *
m_grow(const mem *m, void *p, size_t n, size_t want)
{
	void *np;

	if (m->a == NULL)
		return realloc(p, want);
	np = m_alloc(m, want);
	if (np != NULL && n > 0)
		memcpy(np, p, n);
	if (np != NULL)
		m_free(m, p);
	return np;
}

static char *
m_strdup(const mem *m, const char *s)
{
	size_t n = strlen(s) + 1;
	char *c = m_alloc(m, n);

	if (c != NULL)
		memcpy(c, s, n);
	return c;
}

/* One output field's value as found in the alert. */
typedef struct fval {
	bool present;      /* the key was in output_fields (even as null / "<NA>") */
	const char *text;  /* its text; NULL: no value (null, "", "<NA>") */
	const cJSON *json; /* an object or array a relay decoded already (K_JSON) */
	const cJSON *src;  /* the JSON value, for messages; NULL from gRPC */
	char *own;         /* K_JSON / K_RESOURCES: the minified text (malloc'd) */
	char num[40];      /* room for a number's text */
} fval;

/* The alert's own members. */
typedef struct top {
	const char *time, *rule, *priority, *hostname; /* NULL when absent */
} top;

/* ---- field names ----------------------------------------------------------- */

/* Field names by hash: an open-addressing table (power of two, at most a
 * quarter full), so a name costs one hash and usually one strcmp. */
#define NAME_SLOTS 128
static int8_t by_hash[NAME_SLOTS]; /* fid + 1; 0 empty */
static fid needed[N_NEEDED];       /* falco_needed_fields[] as ids */
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static unsigned
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h & (NAME_SLOTS - 1);
}

/* The row of an output field name; F_COUNT when ingest does not read it. */
static fid
lookup_field(const char *name)
{
	if (name[0] != 'c' || name[1] != 't' || name[2] != '.')
		return F_COUNT;
	for (unsigned h = name_hash(name);; h = (h + 1) & (NAME_SLOTS - 1)) {
		int8_t slot = by_hash[h];
		if (slot == 0)
			return F_COUNT;
		if (strcmp(rows[slot - 1].field, name) == 0)
			return (fid)(slot - 1);
	}
}

static void
names_init(void)
{
	for (int i = 0; i < F_COUNT; i++) {
		unsigned h = name_hash(rows[i].field);
		while (by_hash[h] != 0)
			h = (h + 1) & (NAME_SLOTS - 1);
		by_hash[h] = (int8_t)(i + 1);
	}
	for (size_t i = 0; i < N_NEEDED; i++)
		needed[i] = lookup_field(falco_needed_fields[i]);
}

/* ---- JSON text -------------------------------------------------------------- */

/* Bytes that end a run of plain string text: NUL, controls, '"' and '\\'. */
static const bool str_stop[256] = {
	[0] = true,
	[1] = true,
	[2] = true,
	[3] = true,
	[4] = true,
	[5] = true,
	[6] = true,
	[7] = true,
	[8] = true,
	[9] = true,
	[10] = true,
	[11] = true,
	[12] = true,
	[13] = true,
	[14] = true,
	[15] = true,
	[16] = true,
	[17] = true,
	[18] = true,
	[19] = true,
	[20] = true,
	[21] = true,
	[22] = true,
	[23] = true,
	[24] = true,
	[25] = true,
	[26] = true,
	[27] = true,
	[28] = true,
	[29] = true,
	[30] = true,
	[31] = true,
	['"'] = true,
	['\\'] = true,
};

typedef enum jstate {
	J_VALUE,        /* a value must come */
	J_VALUE_OR_END, /* after '[' */
	J_KEY,          /* after ',' in an object */
	J_KEY_OR_END,   /* after '{' */
	J_COLON,        /* after a key */
	J_AFTER,        /* after a value */
} jstate;

/* Copies the string starting at s[*i] ('"') to out; false if it is not a
 * valid JSON string. */
static bool
copy_string(const char *s, size_t n, size_t *i, char *out, size_t *o)
{
	size_t p = *i + 1;

	out[(*o)++] = '"';
	for (;;) {
		size_t run = p;
		unsigned char c;

		while (run < n && !str_stop[(unsigned char)s[run]])
			run++;
		memcpy(out + *o, s + p, run - p);
		*o += run - p;
		p = run;
		if (p >= n)
			return false;
		c = (unsigned char)s[p];
		if (c == '"') {
			out[(*o)++] = '"';
			*i = p + 1;
			return true;
		}
		if (c < 0x20)
			return false;
		/* a backslash */
		if (p + 1 >= n)
			return false;
		c = (unsigned char)s[p + 1];
		if (c == 'u') {
			if (p + 6 > n)
				return false;
			for (size_t k = p + 2; k < p + 6; k++) {
				unsigned char h = (unsigned char)s[k];
				if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
					(h >= 'A' && h <= 'F')))
					return false;
			}
			memcpy(out + *o, s + p, 6);
			*o += 6;
			p += 6;
		} else if (strchr("\"\\/bfnrt", c) != NULL && c != '\0') {
			out[(*o)++] = '\\';
			out[(*o)++] = (char)c;
			p += 2;
		} else {
			return false;
		}
	}
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Copies the number at s[*i]; false if it is not a JSON number. */
static bool
copy_number(const char *s, size_t n, size_t *i, char *out, size_t *o)
{
	size_t p = *i;

	if (p < n && s[p] == '-')
		p++;
	if (p < n && s[p] == '0')
		p++;
	else if (p < n && is_digit(s[p]))
		while (p < n && is_digit(s[p]))
			p++;
	else
		return false;
	if (p < n && s[p] == '.') {
		if (++p >= n || !is_digit(s[p]))
			return false;
		while (p < n && is_digit(s[p]))
			p++;
	}
	if (p < n && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < n && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= n || !is_digit(s[p]))
			return false;
		while (p < n && is_digit(s[p]))
			p++;
	}
	memcpy(out + *o, s + *i, p - *i);
	*o += p - *i;
	*i = p;
	return true;
}

/* Checks that s[0..n) is exactly one JSON value (whitespace around and inside
 * allowed) and writes it without insignificant whitespace to out, which has
 * room for n + 1 bytes (the result is never longer); NUL-terminated.  Returns
 * false if s is not JSON.  One pass, no allocation: the text stays text. */
static bool
json_minify(const char *s, size_t n, char *out)
{
	char stack[JSON_DEPTH_MAX];
	int depth = 0;
	jstate st = J_VALUE;
	size_t i = 0, o = 0;

	for (;;) {
		char c;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
		if (i >= n)
			break;
		c = s[i];
		switch (st) {
		case J_AFTER:
			if (depth == 0)
				return false; /* something after the value */
			if (c == ',') {
				out[o++] = c;
				i++;
				st = stack[depth - 1] == '{' ? J_KEY : J_VALUE;
				continue;
			}
			if ((c == '}' && stack[depth - 1] == '{') ||
			    (c == ']' && stack[depth - 1] == '[')) {
				out[o++] = c;
				i++;
				depth--;
				continue;
			}
			return false;
		case J_KEY_OR_END:
			if (c == '}') {
				out[o++] = c;
				i++;
				depth--;
				st = J_AFTER;
				continue;
			}
			/* fall through */
		case J_KEY:
			if (c != '"' || !copy_string(s, n, &i, out, &o))
				return false;
			st = J_COLON;
			continue;
		case J_COLON:
			if (c != ':')
				return false;
			out[o++] = c;
			i++;
			st = J_VALUE;
			continue;
		case J_VALUE_OR_END:
			if (c == ']') {
				out[o++] = c;
				i++;
				depth--;
				st = J_AFTER;
				continue;
			}
			/* fall through */
		case J_VALUE: break;
		}
		/* a value */
		if (c == '{' || c == '[') {
			if (depth == JSON_DEPTH_MAX)
				return false;
			stack[depth++] = c;
			out[o++] = c;
			i++;
			st = c == '{' ? J_KEY_OR_END : J_VALUE_OR_END;
			continue;
		}
		if (c == '"') {
			if (!copy_string(s, n, &i, out, &o))
				return false;
		} else if (c == '-' || is_digit(c)) {
			if (!copy_number(s, n, &i, out, &o))
				return false;
		} else {
			static const char *const lits[] = { "true", "false", "null" };
			bool ok = false;
			for (size_t k = 0; k < sizeof(lits) / sizeof(lits[0]) && !ok; k++) {
				size_t len = strlen(lits[k]);
				if (n - i >= len && memcmp(s + i, lits[k], len) == 0) {
					memcpy(out + o, lits[k], len);
					o += len;
					i += len;
					ok = true;
				}
			}
			if (!ok)
				return false;
		}
		st = J_AFTER;
	}
	out[o] = '\0';
	return st == J_AFTER && depth == 0;
}

/* A growing text buffer for the raw record; oom is sticky. */
typedef struct jw {
	const mem *m;
	char *p;
	size_t len, cap;
	bool oom;
	bool first; /* no member yet in the innermost object */
} jw;

/* Room for n more bytes and a NUL; false (and oom) when there is none. */
static bool
jw_grow(jw *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 256;
	char *np;

	if (w->oom)
		return false;
	while (cap < w->len + n + 1)
		cap *= 2;
	np = m_grow(w->m, w->p, w->len, cap);
	if (np == NULL) {
		w->oom = true;
		return false;
	}
	w->p = np;
	w->cap = cap;
	return true;
}

/* Appends n bytes (the text is NUL-terminated by write_raw at the end). */
static inline void
jw_raw(jw *w, const char *s, size_t n)
{
	if ((w->len + n + 1 > w->cap && !jw_grow(w, n)) || w->p == NULL)
		return;
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

/* s as a JSON string. */
static void
jw_str(jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	jw_raw(w, "\"", 1);
	while (*s != '\0') {
		const char *run = s;
		unsigned char c;

		while (!str_stop[(unsigned char)*run])
			run++;
		jw_raw(w, s, (size_t)(run - s));
		s = run;
		if (*s == '\0')
			break;
		c = (unsigned char)*s++;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			jw_raw(w, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			jw_raw(w, e, 6);
		}
	}
	jw_raw(w, "\"", 1);
}

/* ,"key": (the comma unless first in its object) */
static void
jw_key(jw *w, const char *key)
{
	if (!w->first)
		jw_raw(w, ",", 1);
	w->first = false;
	jw_str(w, key);
	jw_raw(w, ":", 1);
}

static void
jw_open(jw *w, const char *key)
{
	jw_key(w, key);
	jw_raw(w, "{", 1);
	w->first = true;
}

static void
jw_close(jw *w)
{
	jw_raw(w, "}", 1);
	w->first = false;
}

/* ---- values ------------------------------------------------------------------ */

/* "\"abc\"", "42", "an object": what a value was, for messages. */
static const char *
describe(const fval *v, char *buf, size_t len)
{
	if (v->src != NULL)
		return ct_json_describe(v->src, buf, len);
	if (v->text == NULL)
		snprintf(buf, len, "null");
	else if (strlen(v->text) > 40)
		snprintf(buf, len, "\"%.40s...\"", v->text);
	else
		snprintf(buf, len, "\"%s\"", v->text);
	return buf;
}

/* Text is a value: not "", not Falco's "<NA>". */
static const char *
value_text(const char *s)
{
	return s[0] != '\0' && strcmp(s, "<NA>") != 0 ? s : NULL;
}

/* Takes a JSON output field's value into v. */
static int
take_json_value(fval *v, fid f, const cJSON *j, td_error *err)
{
	char got[64];

	v->present = true;
	v->src = j;
	if (cJSON_IsNull(j))
		return 0;
	if (cJSON_IsString(j)) {
		v->text = value_text(j->valuestring);
		return 0;
	}
	if (cJSON_IsBool(j)) {
		v->text = cJSON_IsTrue(j) ? "true" : "false";
		return 0;
	}
	if (cJSON_IsNumber(j)) {
		double d = j->valuedouble;
		/* integral and within int64 (the cast is undefined outside it:
		 * 1e300, or inf from 1e999) -> digits; anything else as %.17g */
		if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
		    d == (double)(int64_t)d)
			snprintf(v->num, sizeof(v->num), "%lld", (long long)(int64_t)d);
		else
			snprintf(v->num, sizeof(v->num), "%.17g", d);
		v->text = v->num;
		return 0;
	}
	if (rows[f].k == K_JSON && (cJSON_IsObject(j) || cJSON_IsArray(j))) {
		v->json = j; /* a relay that decoded it already */
		return 0;
	}
	if (f == F_SHORTSRC) /* only a hint; anything else is no value */
		return 0;
	return td_error_set(err, TD_EINVAL,
	    "output_fields.%s: expected a string, number, boolean or null, got %s", rows[f].field,
	    ct_json_describe(j, got, sizeof(got)));
}

/* Sets a message string field to a copy of s; "" keeps the default. */
static int
set_str(const mem *m, char **field, const char *s)
{
	char *copy;

	if (s == NULL || s[0] == '\0')
		return 0;
	copy = m_strdup(m, s);
	if (copy == NULL)
		return TD_ENOMEM;
	*field = copy;
	return 0;
}

/* set_str for a string of the alert (or a static one): pointed at, not
 * copied, when the memory allows it. */
static int
set_ref(const mem *m, char **field, const char *s)
{
	if (!m->borrow)
		return set_str(m, field, s);
	if (s != NULL && s[0] != '\0')
		*field = (char *)s; /* the arena's or static; never freed one by one */
	return 0;
}

static bool
field_empty(char *const *field)
{
	return *field == NULL || (*field)[0] == '\0';
}

/* Adds s (copied, or borrowed as set_ref does) to a repeated string field. */
static int
push_str(const mem *m, char ***arr, size_t *n, const char *s)
{
	char **na = m_grow(m, *arr, *n * sizeof(*na), (*n + 1) * sizeof(*na));

	if (na == NULL)
		return TD_ENOMEM;
	*arr = na;
	na[*n] = m->borrow ? (char *)s : m_strdup(m, s);
	if (na[*n] == NULL)
		return TD_ENOMEM;
	(*n)++;
	return 0;
}

/* K_JSON: v->own gets the minified text ("" for null). */
static int
json_text(const mem *m, fval *v, fid f, td_error *err)
{
	size_t n;

	if (v->json != NULL) {
		char *printed = cJSON_PrintUnformatted(v->json);
		v->own = printed != NULL ? m_strdup(m, printed) : NULL;
		free(printed);
		return v->own != NULL ? 0 : td_error_set(err, TD_ENOMEM, "out of memory");
	}
	n = strlen(v->text);
	v->own = m_alloc(m, n + 1);
	if (v->own == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	if (!json_minify(v->text, n, v->own))
		return td_error_set(err, TD_EINVAL, "output_fields.%s: not JSON text",
		    rows[f].field);
	/* its strings go to PostgreSQL's jsonb: no \u0000, no bad escapes */
	char name[96];
	snprintf(name, sizeof(name), "output_fields.%s", rows[f].field);
	return td_json_check(v->text, n, name, name, err);
}

/* *state: -1 no value, 0 false, 1 true. */
static int
bool_value(const fval *v, fid f, int *state, td_error *err)
{
	char got[64];

	*state = -1;
	if (v->text == NULL)
		return 0;
	if (strcmp(v->text, "true") == 0)
		*state = 1;
	else if (strcmp(v->text, "false") == 0)
		*state = 0;
	else
		return td_error_set(err, TD_EINVAL,
		    "output_fields.%s: expected \"true\" or \"false\", got %s", rows[f].field,
		    describe(v, got, sizeof(got)));
	return 0;
}

/* ct.resources: {"ARN":...,"type":...} objects joined with ","; v->own gets
 * them as a JSON array. */
static int
resources(const mem *m, fval *v, Tfdrift__V1__CloudEvent *ev, td_error *err)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "ARN", offsetof(Tfdrift__V1__EventResource, arn) },
		{ "accountId", offsetof(Tfdrift__V1__EventResource, account_id) },
		{ "type", offsetof(Tfdrift__V1__EventResource, type) },
	};
	const char *where = "output_fields.ct.resources";
	size_t n;
	cJSON *arr = NULL;
	const cJSON *item;
	char got[64];
	int rv = 0, count;

	if (v->text == NULL)
		return 0;
	n = strlen(v->text);
	v->own = m_alloc(m, n + 3);
	if (v->own == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	v->own[0] = '[';
	memcpy(v->own + 1, v->text, n);
	v->own[n + 1] = ']';
	v->own[n + 2] = '\0';
	arr = cJSON_Parse(v->own);
	if (!cJSON_IsArray(arr)) {
		rv = td_error_set(err, TD_EINVAL, "%s: not JSON objects joined with ','", where);
		goto out;
	}
	count = cJSON_GetArraySize(arr);
	if (count == 0)
		goto out;
	ev->resources = m_alloc(m, (size_t)count * sizeof(*ev->resources));
	if (ev->resources == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	memset(ev->resources, 0, (size_t)count * sizeof(*ev->resources));
	cJSON_ArrayForEach(item, arr)
	{
		Tfdrift__V1__EventResource *r;

		if (!cJSON_IsObject(item)) {
			rv = td_error_set(err, TD_EINVAL, "%s[%zu]: expected an object, got %s",
			    where, ev->n_resources, ct_json_describe(item, got, sizeof(got)));
			goto out;
		}
		r = m_alloc(m, sizeof(*r));
		if (r == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		tfdrift__v1__event_resource__init(r);
		ev->resources[ev->n_resources++] = r;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(item, keys[k].key);
			if (s == NULL || cJSON_IsNull(s))
				continue;
			if (!cJSON_IsString(s)) {
				rv = td_error_set(err, TD_EINVAL,
				    "%s[%zu].%s: expected a string, got %s", where,
				    ev->n_resources - 1, keys[k].key,
				    ct_json_describe(s, got, sizeof(got)));
				goto out;
			}
			if (set_str(m, FIELD(r, keys[k].off), s->valuestring) != 0) {
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
out:
	cJSON_Delete(arr);
	return rv;
}

/* FNV-1a over s and its NUL (nothing for NULL), for the stable id of an
 * alert that carries no ct.id. */
static uint64_t
fnv1a_str(uint64_t h, const char *s)
{
	return s != NULL ? td_hash_bytes(h, s, strlen(s) + 1) : h;
}

/* Writes the CloudTrail record the alert stands for as JSON text. */
static int
write_raw(const mem *m, Tfdrift__V1__CloudEvent *ev, const fval *v, const char *time_text,
    size_t user_row, const int bools[2], td_error *err)
{
	const Tfdrift__V1__UserIdentity *ui = ev->user_identity;
	jw w = { .m = m, .first = true };
	bool any_ui = false;

	/* room for a usual record at once (they are a few hundred bytes) */
	w.cap = 2048;
	w.p = m_alloc(m, w.cap);
	if (w.p == NULL) {
		w.cap = 0;
		w.oom = true;
	}
	jw_raw(&w, "{", 1);
	for (size_t i = 0; i < sizeof(raw_order) / sizeof(raw_order[0]); i++) {
		fid f = raw_order[i];
		const char *s = NULL;

		if (f == F_TIME) {
			s = time_text;
		} else if (rows[f].k == K_STR) {
			s = *FIELD(ev, rows[f].off);
		} else if (rows[f].k == K_BOOL) {
			int b = bools[f == F_MGMT];
			if (b >= 0) {
				jw_key(&w, rows[f].key);
				jw_raw(&w, b ? "true" : "false", b ? 4 : 5);
			}
			continue;
		} else if (rows[f].k == K_JSON && !field_empty(FIELD(ev, rows[f].off))) {
			jw_key(&w, rows[f].key);
			jw_raw(&w, *FIELD(ev, rows[f].off), strlen(*FIELD(ev, rows[f].off)));
			continue;
		} else if (v[f].own != NULL) { /* K_JSON "null", K_RESOURCES */
			jw_key(&w, rows[f].key);
			jw_raw(&w, v[f].own, strlen(v[f].own));
			continue;
		}
		if (s != NULL && s[0] != '\0') {
			jw_key(&w, rows[f].key);
			jw_str(&w, s);
		}
		if (f == F_UA) {
			/* userIdentity after userAgent, as CloudTrail writes it */
			for (size_t k = 0; k < F_COUNT && !any_ui; k++)
				any_ui = rows[k].t == T_UI && !field_empty(FIELD(ui, rows[k].off));
			any_ui = any_ui || user_row < sizeof(user_field) / sizeof(user_field[0]);
			if (!any_ui)
				continue;
			jw_open(&w, "userIdentity");
			for (size_t k = 0; k < F_COUNT; k++)
				if (rows[k].t == T_UI && !field_empty(FIELD(ui, rows[k].off))) {
					jw_key(&w, rows[k].key);
					jw_str(&w, *FIELD(ui, rows[k].off));
				}
			if (user_row == 0) {
				jw_open(&w, "sessionContext");
				jw_open(&w, "sessionIssuer");
				jw_key(&w, "userName");
				jw_str(&w, ui->session_issuer_user_name);
				jw_close(&w);
				jw_close(&w);
			} else if (user_row < sizeof(user_field) / sizeof(user_field[0])) {
				jw_key(&w, user_field[user_row].key);
				jw_str(&w, *FIELD(ui, user_field[user_row].off));
			}
			jw_close(&w);
		}
	}
	jw_raw(&w, "}", 1);
	if (!w.oom)
		w.p[w.len] = '\0'; /* jw_raw keeps room for it */
	if (w.oom) {
		m_free(m, w.p);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	/* m's memory: freed with the event (ct_event_free) or with the arena */
	ev->raw_json = w.p;
	return 0;
}

/* TD_ENOMEM, with the message in err */
#define NOMEM(err) (td_error_set(err, TD_ENOMEM, "out of memory"), TD_ENOMEM)

/* What can be wrong with an alert, checked before anything is allocated:
 * ct.readonly and ct.managementevent (into bools), ct.eventtype, the time
 * (into *time_text: ct.time, else the alert's own). */
static int
check_alert(fval *v, const top *t, int bools[2], const char **time_text, td_error *err)
{
	int rv;

	if ((rv = bool_value(&v[F_RO], F_RO, &bools[0], err)) != 0 ||
	    (rv = bool_value(&v[F_MGMT], F_MGMT, &bools[1], err)) != 0)
		return rv;
	if (v[F_ETYPE].text != NULL)
		for (size_t i = 0; i < sizeof(skipped_event_types) / sizeof(skipped_event_types[0]);
		     i++)
			if (strcmp(v[F_ETYPE].text, skipped_event_types[i]) == 0)
				return td_error_set(err, TD_EINVAL,
				    "output_fields.ct.eventtype: %s", skipped_event_types[i]);
	*time_text = v[F_TIME].text;
	if (*time_text == NULL && t->time == NULL)
		return td_error_set(err, TD_EINVAL, "time: missing (and no output_fields.ct.time)");
	if (*time_text == NULL)
		*time_text = t->time;
	return 0;
}

/* ev's time from time_text; the message names where the text came from. */
static int
event_time(Tfdrift__V1__CloudEvent *ev, fval *v, const char *time_text, td_error *err)
{
	char got[64];

	if (td_clock_parse(time_text, &ev->event_time_ns) == 0)
		return 0;
	if (v[F_TIME].text != NULL)
		return td_error_set(err, TD_EINVAL,
		    "output_fields.ct.time: expected an RFC 3339 string, got %s",
		    describe(&v[F_TIME], got, sizeof(got)));
	return td_error_set(err, TD_EINVAL, "time: expected an RFC 3339 string, got %s",
	    describe(&(fval){ .text = time_text }, got, sizeof(got)));
}

/* Every ct.* value into its field of ev (the rows table). */
static int
copy_fields(const mem *m, fval *v, Tfdrift__V1__CloudEvent *ev, td_error *err)
{
	int rv;

	for (int f = 0; f < F_COUNT; f++) {
		void *msg = rows[f].t == T_UI ? (void *)ev->user_identity : (void *)ev;

		if (v[f].text == NULL && v[f].json == NULL)
			continue;
		switch (rows[f].k) {
		case K_STR:
			if (rows[f].t != T_NONE &&
			    set_ref(m, FIELD(msg, rows[f].off), v[f].text) != 0)
				return NOMEM(err);
			break;
		case K_JSON:
			if ((rv = json_text(m, &v[f], (fid)f, err)) != 0)
				return rv;
			/* "null" is no value (the raw record keeps it); else the event
			 * takes the text */
			if (v[f].own != NULL && strcmp(v[f].own, "null") != 0) {
				*FIELD(msg, rows[f].off) = v[f].own;
				v[f].own = NULL;
			}
			break;
		case K_RESOURCES:
			if ((rv = resources(m, &v[f], ev, err)) != 0)
				return rv;
			break;
		case K_BOOL: break;
		}
	}
	return 0;
}

/* ct.user: where it goes depends on the identity type (reference §4.1);
 * *user_row is the user_field row used (the end of the table: none). */
static int
place_user(const mem *m, fval *v, Tfdrift__V1__CloudEvent *ev, size_t *user_row, td_error *err)
{
	const char *type = v[F_UTYPE].text != NULL ? v[F_UTYPE].text : "";

	if (v[F_USER].text == NULL || strcmp(v[F_USER].text, type) == 0)
		return 0;
	for (*user_row = 0;
	     user_field[*user_row].type != NULL && strcmp(user_field[*user_row].type, type) != 0;
	     (*user_row)++)
		;
	if (set_ref(m, FIELD(ev->user_identity, user_field[*user_row].off), v[F_USER].text) != 0)
		return NOMEM(err);
	return 0;
}

/* What the rule did not output: a made-up event id (over the rule, the time
 * and hash), the event source from ct.shortsrc, "unknown", and the list of
 * needed fields that are missing. */
static int
fill_missing(const mem *m, fval *v, const top *t, uint64_t hash, Tfdrift__V1__CloudEvent *ev,
    td_error *err)
{
	char buf[160];

	if (field_empty(&ev->event_id)) {
		uint64_t h = fnv1a_str(fnv1a_str(TD_HASH_INIT, t->rule), t->time);
		h = (h ^ hash) * TD_HASH_PRIME;
		snprintf(buf, sizeof(buf), "falco-%016llx", (unsigned long long)h);
		if (set_str(m, &ev->event_id, buf) != 0)
			return NOMEM(err);
	}
	if (field_empty(&ev->event_source)) {
		if (v[F_SHORTSRC].text != NULL)
			snprintf(buf, sizeof(buf), "%s.amazonaws.com", v[F_SHORTSRC].text);
		else
			snprintf(buf, sizeof(buf), "unknown");
		if (set_str(m, &ev->event_source, buf) != 0)
			return NOMEM(err);
	}
	if (field_empty(&ev->event_name) && set_ref(m, &ev->event_name, "unknown") != 0)
		return NOMEM(err);
	for (size_t i = 0; i < N_NEEDED; i++)
		if (!v[needed[i]].present &&
		    push_str(m, &ev->missing_fields, &ev->n_missing_fields,
			falco_needed_fields[i]) != 0)
			return NOMEM(err);
	return 0;
}

/* The derived fields (read-only, management, the account, the session) and
 * where the event came from (origin, Falco's rule, priority, host). */
static int
set_context(const mem *m, const top *t, const int bools[2], Tfdrift__V1__EventOrigin origin,
    const char *origin_detail, Tfdrift__V1__CloudEvent *ev, td_error *err)
{
	ev->read_only = bools[0] == 1 ? TFDRIFT__V1__READ_ONLY__READ_ONLY_TRUE
	    : bools[0] == 0           ? TFDRIFT__V1__READ_ONLY__READ_ONLY_FALSE
				      : TFDRIFT__V1__READ_ONLY__READ_ONLY_UNKNOWN;
	ev->management_event = bools[1] == 1;
	/* whose account the change happened in: the caller's, else the recipient's */
	if (set_ref(m, &ev->account_id,
		field_empty(&ev->user_identity->account_id) ? ev->recipient_account_id
							    : ev->user_identity->account_id) != 0)
		return NOMEM(err);
	if (!field_empty(&ev->user_identity->arn)) {
		const char *session = ct_assumed_role_session(ev->user_identity->arn);
		if (session != NULL && set_ref(m, &ev->user_identity->session_name, session) != 0)
			return NOMEM(err);
	}
	ev->origin = origin;
	ev->received_at_ns = td_clock_now_ns();
	if (set_str(m, &ev->origin_detail, origin_detail) != 0 ||
	    set_ref(m, &ev->falco_rule, t->rule) != 0 ||
	    set_ref(m, &ev->falco_priority, t->priority) != 0 ||
	    set_ref(m, &ev->falco_hostname, t->hostname) != 0)
		return NOMEM(err);
	return 0;
}

/* The ct.* values in v (F_COUNT of them) and the alert's own members -> *out
 * (owned by the caller, ct_event_free).  hash is over every output field, for
 * an id when ct.id is absent.  Frees nothing of v: the caller does. */
static int
to_event(const mem *m, fval *v, const top *t, uint64_t hash, Tfdrift__V1__EventOrigin origin,
    const char *origin_detail, Tfdrift__V1__CloudEvent **out, td_error *err)
{
	Tfdrift__V1__CloudEvent *ev = NULL;
	const char *time_text = NULL;
	size_t user_row = sizeof(user_field) / sizeof(user_field[0]);
	int bools[2], rv;

	*out = NULL;
	/* values that can be wrong first: nothing allocated for a bad alert */
	if ((rv = check_alert(v, t, bools, &time_text, err)) != 0)
		return rv;
	ev = m_alloc(m, sizeof(*ev));
	if (ev == NULL)
		return NOMEM(err);
	tfdrift__v1__cloud_event__init(ev);
	ev->user_identity = m_alloc(m, sizeof(*ev->user_identity));
	if (ev->user_identity == NULL) {
		rv = NOMEM(err);
		goto out;
	}
	tfdrift__v1__user_identity__init(ev->user_identity);
	if ((rv = event_time(ev, v, time_text, err)) != 0 ||
	    (rv = copy_fields(m, v, ev, err)) != 0 ||
	    (rv = place_user(m, v, ev, &user_row, err)) != 0 ||
	    (rv = fill_missing(m, v, t, hash, ev, err)) != 0 ||
	    (rv = set_context(m, t, bools, origin, origin_detail, ev, err)) != 0 ||
	    (rv = write_raw(m, ev, v, time_text, user_row, bools, err)) != 0)
		goto out;
	*out = ev;
	ev = NULL;
out:
	if (m->a == NULL)
		ct_event_free(ev);
	return rv;
}

static void
free_vals(const mem *m, fval *v)
{
	for (int f = 0; f < F_COUNT; f++)
		m_free(m, v[f].own);
}

/* ---- JSON alerts ------------------------------------------------------------- */

/* A top-level string member: NULL if absent or null; an error if another type. */
static int
top_str(const cJSON *alert, const char *name, bool required, const char **out, td_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(alert, name);
	char got[64];

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v)) {
		if (required)
			return td_error_set(err, TD_EINVAL, "%s: missing", name);
		return 0;
	}
	if (!cJSON_IsString(v))
		return td_error_set(err, TD_EINVAL, "%s: expected a string, got %s", name,
		    ct_json_describe(v, got, sizeof(got)));
	*out = v->valuestring;
	return 0;
}

int
falco_alert_parse(const char *body, size_t len, Tfdrift__V1__EventOrigin origin,
    const char *origin_detail, Tfdrift__V1__CloudEvent **out, char *source, size_t source_len,
    td_error *err)
{
	cJSON *alert = NULL;
	const cJSON *fields, *tags, *member;
	const char *src;
	const mem m = { .a = NULL, .borrow = false }; /* the alert's strings die with it */
	fval v[F_COUNT];
	top t;
	uint64_t hash = 0;
	char got[64];
	int rv;

	*out = NULL;
	memset(v, 0, sizeof(v));
	pthread_once(&names_once, names_init);
	if (source != NULL && source_len > 0)
		source[0] = '\0';
	/* strict: one value and nothing after it, text that PostgreSQL will
	 * take (cJSON itself lets trailing bytes, bad UTF-8 and NULs through) */
	if ((rv = td_json_check(body, len, NULL, "body", err)) != 0)
		goto out;
	alert = cJSON_ParseWithLength(body, len);
	if (alert == NULL || !cJSON_IsObject(alert)) {
		rv = td_error_set(err, TD_EINVAL, "body: not a JSON object");
		goto out;
	}
	if ((rv = top_str(alert, "source", true, &src, err)) != 0 ||
	    (rv = top_str(alert, "rule", true, &t.rule, err)) != 0 ||
	    (rv = top_str(alert, "priority", false, &t.priority, err)) != 0 ||
	    (rv = top_str(alert, "hostname", false, &t.hostname, err)) != 0 ||
	    (rv = top_str(alert, "time", false, &t.time, err)) != 0)
		goto out;
	tags = cJSON_GetObjectItemCaseSensitive(alert, "tags");
	if (tags != NULL && !cJSON_IsNull(tags) && !cJSON_IsArray(tags)) {
		rv = td_error_set(err, TD_EINVAL, "tags: expected an array of strings, got %s",
		    ct_json_describe(tags, got, sizeof(got)));
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
		rv = td_error_set(err, TD_EINVAL, "output_fields: expected an object, got %s",
		    ct_json_describe(fields, got, sizeof(got)));
		goto out;
	}
	cJSON_ArrayForEach(member, fields)
	{
		fid f = member->string != NULL ? lookup_field(member->string) : F_COUNT;

		if (f != F_COUNT && !v[f].present &&
		    (rv = take_json_value(&v[f], f, member, err)) != 0)
			goto out;
	}
	if (v[F_ID].text == NULL) {
		/* an id from the whole alert: the bytes the gRPC path hashes for it */
		cJSON_ArrayForEach(member, fields)
		{
			fid f = member->string != NULL ? lookup_field(member->string) : F_COUNT;

			hash = fnv1a_str(hash, member->string);
			if (cJSON_IsString(member))
				hash = fnv1a_str(hash, member->valuestring);
			else if (f != F_COUNT && v[f].text != NULL)
				hash = fnv1a_str(hash, v[f].text);
		}
	}
	if ((rv = to_event(&m, v, &t, hash, origin, origin_detail, out, err)) != 0)
		goto out;
	cJSON_ArrayForEach(member, tags)
	{
		if (cJSON_IsString(member) &&
		    push_str(&m, &(*out)->falco_tags, &(*out)->n_falco_tags, member->valuestring) !=
			0) {
			ct_event_free(*out);
			*out = NULL;
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
	}
out:
	free_vals(&m, v);
	cJSON_Delete(alert);
	return rv;
}

/* ---- gRPC alerts ------------------------------------------------------------- */

static bool
text_ok(const char *s)
{
	return s == NULL || td_utf8_text_ok(s, strlen(s));
}

/* Every string the event takes from a is UTF-8 (PostgreSQL refuses other
 * text, and the alert would reach only alerts_dead_letter). */
static int
fields_text_ok(const falco_alert_fields *a, td_error *err)
{
	static const char *const names[] = { "time", "rule", "priority", "hostname" };
	const char *const vals[] = { a->time, a->rule, a->priority, a->hostname };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!text_ok(vals[i]))
			return td_error_set(err, TD_EINVAL, "%s: not valid UTF-8", names[i]);
	for (size_t i = 0; i < a->n_tags; i++)
		if (!text_ok(a->tags[i]))
			return td_error_set(err, TD_EINVAL, "tags[%zu]: not valid UTF-8", i);
	for (size_t i = 0; i < a->n_fields; i++) {
		if (!text_ok(a->keys[i]))
			return td_error_set(err, TD_EINVAL,
			    "output_fields: a field name is not valid UTF-8");
		if (lookup_field(a->keys[i]) != F_COUNT && !text_ok(a->values[i]))
			return td_error_set(err, TD_EINVAL, "output_fields.%s: not valid UTF-8",
			    a->keys[i]);
	}
	return 0;
}

int
falco_alert_from_fields(const falco_alert_fields *a, Tfdrift__V1__EventOrigin origin,
    const char *origin_detail, ProtobufCAllocator *alloc, Tfdrift__V1__CloudEvent **out,
    td_error *err)
{
	const mem m = { .a = alloc, .borrow = alloc != NULL };
	fval v[F_COUNT];
	top t = { .time = a->time != NULL && a->time[0] != '\0' ? a->time : NULL,
		.rule = a->rule,
		.priority = a->priority,
		.hostname = a->hostname };
	uint64_t hash = 0;
	char tbuf[64];
	int rv;

	*out = NULL;
	memset(v, 0, sizeof(v));
	pthread_once(&names_once, names_init);
	if (a->source == NULL || strcmp(a->source, "aws_cloudtrail") != 0)
		return FALCO_ALERT_OTHER_SOURCE;
	if ((rv = fields_text_ok(a, err)) != 0)
		return rv;
	for (size_t i = 0; i < a->n_fields; i++) {
		const char *key = a->keys[i], *val = a->values[i] != NULL ? a->values[i] : "";
		fid f = lookup_field(key);

		if (f != F_COUNT && !v[f].present) {
			v[f].present = true;
			v[f].text = value_text(val);
		}
	}
	/* the alert's own time is needed without ct.time, and for a derived id */
	if (t.time == NULL && a->time_ns != 0 && (v[F_TIME].text == NULL || v[F_ID].text == NULL))
		t.time = td_clock_format(a->time_ns, 9, tbuf, sizeof(tbuf));
	for (size_t i = 0; v[F_ID].text == NULL && i < a->n_fields; i++)
		hash = fnv1a_str(fnv1a_str(hash, a->keys[i]), a->values[i] ? a->values[i] : "");
	if ((rv = to_event(&m, v, &t, hash, origin, origin_detail, out, err)) != 0)
		goto out;
	for (size_t i = 0; i < a->n_tags; i++)
		if (push_str(&m, &(*out)->falco_tags, &(*out)->n_falco_tags, a->tags[i]) != 0) {
			if (alloc == NULL)
				ct_event_free(*out);
			*out = NULL;
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
out:
	free_vals(&m, v);
	return rv;
}
