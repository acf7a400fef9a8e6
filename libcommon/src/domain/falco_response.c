/* falco_response.c — falco.outputs.response wire format -> falco_alert_fields. */
#include "tfdrift/falco_response.h"

#include <stdbool.h>
#include <string.h>

#include "tfdrift/error.h"

/* falco.outputs.response field numbers (proto/falco/outputs.proto). */
enum {
	RESP_TIME = 1,     /* google.protobuf.Timestamp */
	RESP_PRIORITY = 2, /* falco.schema.priority */
	RESP_RULE = 4,
	RESP_OUTPUT_FIELDS = 6, /* map<string, string>: entries with key = 1, value = 2 */
	RESP_HOSTNAME = 7,
	RESP_TAGS = 8,
	RESP_SOURCE = 9,
};

enum {
	TS_SECONDS = 1,
	TS_NANOS = 2
};
enum {
	ENTRY_KEY = 1,
	ENTRY_VALUE = 2
};
enum {
	WT_VARINT = 0,
	WT_FIXED64 = 1,
	WT_LEN = 2,
	WT_FIXED32 = 5
};

/* falco.schema.priority, by value. */
static const char *const priority_names[] = { "Emergency", "Alert", "Critical", "Error", "Warning",
	"Notice", "Informational", "Debug" };

/* A cursor over one message's bytes. */
typedef struct rd {
	const uint8_t *p, *end;
} rd;

static bool
varint(rd *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64 && r->p < r->end; shift += 7) {
		uint8_t b = *r->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* One field: its number, wire type and either its varint value or (WT_LEN)
 * its bytes in *sub.  Fixed-size fields are stepped over.  false when the
 * bytes run out or the wire type is not one protobuf has. */
typedef struct field {
	uint32_t num;
	int wt;
	uint64_t v;
	rd sub;
} field;

static bool
next_field(rd *r, field *f)
{
	uint64_t key;

	*f = (field){ 0 };
	if (!varint(r, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
		return false;
	f->num = (uint32_t)(key >> 3);
	f->wt = (int)(key & 7);
	switch (f->wt) {
	case WT_VARINT: return varint(r, &f->v);
	case WT_FIXED64:
		if (r->end - r->p < 8)
			return false;
		r->p += 8;
		return true;
	case WT_FIXED32:
		if (r->end - r->p < 4)
			return false;
		r->p += 4;
		return true;
	case WT_LEN:
		if (!varint(r, &f->v) || f->v > (uint64_t)(r->end - r->p))
			return false;
		f->sub = (rd){ .p = r->p, .end = r->p + f->v };
		r->p += f->v;
		return true;
	default: return false;
	}
}

/* A NUL-terminated copy of a length-delimited field, from alloc. */
static char *
copy_str(ProtobufCAllocator *alloc, const rd *s)
{
	size_t n = (size_t)(s->end - s->p);
	char *c = alloc->alloc(alloc->allocator_data, n + 1);

	if (c != NULL) {
		if (n > 0)
			memcpy(c, s->p, n);
		c[n] = '\0';
	}
	return c;
}

static int
decode_time(rd r, int64_t *ns)
{
	int64_t sec = 0, nanos = 0;
	field f;

	while (r.p < r.end) {
		if (!next_field(&r, &f))
			return TD_EINVAL;
		if (f.num == TS_SECONDS || f.num == TS_NANOS) {
			if (f.wt != WT_VARINT)
				return TD_EINVAL;
			if (f.num == TS_SECONDS)
				sec = (int64_t)f.v;
			else
				nanos = (int32_t)(uint32_t)f.v;
		}
	}
	/* a time past what int64 nanoseconds hold (years before 1678 or after
	 * 2262) is not one Falco sends: refused, not wrapped (signed overflow) */
	if (__builtin_mul_overflow(sec, (int64_t)1000000000, ns) ||
	    __builtin_add_overflow(*ns, nanos, ns))
		return TD_EINVAL;
	return 0;
}

static int
decode_entry(rd r, ProtobufCAllocator *alloc, const char **key, const char **value)
{
	field f;

	*key = "";
	*value = "";
	while (r.p < r.end) {
		if (!next_field(&r, &f))
			return TD_EINVAL;
		if (f.num != ENTRY_KEY && f.num != ENTRY_VALUE)
			continue;
		if (f.wt != WT_LEN)
			return TD_EINVAL;
		if ((*(f.num == ENTRY_KEY ? key : value) = copy_str(alloc, &f.sub)) == NULL)
			return TD_ENOMEM;
	}
	return 0;
}

int
falco_response_decode(const uint8_t *buf, size_t len, ProtobufCAllocator *alloc,
    falco_alert_fields *a)
{
	rd r = { .p = buf, .end = buf + len };
	size_t nfields = 0, ntags = 0;
	const char **keys, **values, **tags;
	field f;
	int rv;

	/* proto3: an absent field has its zero value (priority 0 is EMERGENCY) */
	*a = (falco_alert_fields){ .rule = "",
		.priority = priority_names[0],
		.source = "",
		.hostname = "" };
	/* first pass: how many map entries and tags (and that the framing holds) */
	while (r.p < r.end) {
		if (!next_field(&r, &f))
			return TD_EINVAL;
		nfields += f.num == RESP_OUTPUT_FIELDS;
		ntags += f.num == RESP_TAGS;
	}
	keys = alloc->alloc(alloc->allocator_data, (2 * nfields + ntags + 1) * sizeof(*keys));
	if (keys == NULL)
		return TD_ENOMEM;
	values = keys + nfields;
	tags = values + nfields;
	r = (rd){ .p = buf, .end = buf + len };
	while (r.p < r.end) {
		const char **str = NULL;

		(void)next_field(&r, &f); /* checked by the first pass */
		switch (f.num) {
		case RESP_TIME:
			if (f.wt != WT_LEN || decode_time(f.sub, &a->time_ns) != 0)
				return TD_EINVAL;
			break;
		case RESP_PRIORITY:
			if (f.wt != WT_VARINT)
				return TD_EINVAL;
			a->priority = f.v < sizeof(priority_names) / sizeof(priority_names[0])
			    ? priority_names[f.v]
			    : "";
			break;
		case RESP_OUTPUT_FIELDS:
			if (f.wt != WT_LEN)
				return TD_EINVAL;
			if ((rv = decode_entry(f.sub, alloc, &keys[a->n_fields],
				 &values[a->n_fields])) != 0)
				return rv;
			a->n_fields++;
			break;
		case RESP_RULE: str = &a->rule; break;
		case RESP_HOSTNAME: str = &a->hostname; break;
		case RESP_SOURCE: str = &a->source; break;
		case RESP_TAGS: str = &tags[a->n_tags++]; break;
		default: break; /* output, source_deprecated, fields added later */
		}
		if (str != NULL) {
			if (f.wt != WT_LEN)
				return TD_EINVAL;
			if ((*str = copy_str(alloc, &f.sub)) == NULL)
				return TD_ENOMEM;
		}
	}
	a->keys = keys;
	a->values = values;
	a->tags = tags;
	return 0;
}
