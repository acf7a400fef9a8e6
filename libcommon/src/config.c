/* config.c — loads config.yaml against td_config_directives[], applies the
 * TFDRIFT_<SECTION>_<KEY> environment overrides, and renders the reference
 * and example files from the same table.
 *
 * Choices the header leaves open:
 * - Sizes: every unit is a power of 1024 (k = kB = KiB = 1024, M = MB = MiB,
 *   G, T), as in PostgreSQL and nginx; units are case-insensitive.
 * - Durations: a non-negative integer with ms, s, m, h or d; a bare integer is ms.
 * - A YAML null (empty, ~, null) is the empty string for STRING and the empty
 *   list for STRLIST, and an error for every other type.  A section written
 *   with no keys (`redis:`) is allowed.
 * - An environment variable that is set, even to "", overrides the file.
 * - ENUM values match case-insensitively and are stored as the table spells them.
 * - td_config_load with an empty path ("") behaves like NULL (no file), so an
 *   empty $TFDRIFT_CONFIG means "defaults and environment".
 * - Only the first error is reported. */
#include "tfdrift/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "tfdrift/file.h"
#include "tfdrift/log.h"

#define MAX_FILE_BYTES (16 * 1024 * 1024)

typedef struct cfg_value {
	char *str;    /* STRING, ENUM; never NULL once loaded */
	int64_t i;    /* INT, DURATION (ms), SIZE (bytes) */
	bool b;       /* BOOL */
	double d;     /* DOUBLE */
	char **items; /* STRLIST */
	size_t nitems;
	char *origin;  /* NULL = "default" */
	int file_line; /* line in the file, 0 when not set by the file */
} cfg_value;

struct td_config {
	size_t n;     /* rows of td_config_directives[] */
	cfg_value *v; /* v[i] belongs to td_config_directives[i] */
};

/* One paragraph per section for the generated docs; sections without a row
 * here are documented by their keys alone. */
static const struct {
	const char *section;
	const char *about;
} section_docs[] = {
	{ "shared", "Read by every process." },
	{ "postgres",
	    "The PostgreSQL database that holds the drift history; used by persistence and api-gateway." },
	{ "redis",
	    "The Redis server that holds the resource index and the eventID dedupe keys; used by state-loader, correlator and api-gateway." },
	{ "bus", "Request/reply settings of every NNG work socket." },
	{ "ingest",
	    "`tfdrift-ingest`: Falco alerts and CloudTrail files in, `CloudEvent`s out to the correlators." },
	{ "state_loader",
	    "`tfdrift-state-loader`: Terraform states in, resource index and graph in Redis out." },
	{ "correlator",
	    "`tfdrift-correlator`: events in, drift alerts out. Run as many replicas as needed." },
	{ "persistence",
	    "`tfdrift-persistence`: writes alerts to PostgreSQL and publishes each committed one." },
	{ "api_gateway", "`tfdrift-api-gateway`: REST API, live feed and web UI." },
	{ "notifier", "`tfdrift-notifier`: Slack and webhook notifications of committed alerts." },
};

static const struct {
	const char *text;
	bool value;
} bool_words[] = {
	{ "true", true },
	{ "false", false },
	{ "yes", true },
	{ "no", false },
	{ "on", true },
	{ "off", false },
	{ "1", true },
	{ "0", false },
};

typedef struct unit {
	const char *suffix;
	int64_t mult;
} unit;

/* Longest suffixes first is not needed: suffixes are matched whole. */
static const unit duration_units[] = {
	{ "", 1 },
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60000 },
	{ "h", 3600000 },
	{ "d", 86400000 },
};

static const unit size_units[] = {
	{ "", 1 },
	{ "b", 1 },
	{ "k", 1LL << 10 },
	{ "kb", 1LL << 10 },
	{ "kib", 1LL << 10 },
	{ "m", 1LL << 20 },
	{ "mb", 1LL << 20 },
	{ "mib", 1LL << 20 },
	{ "g", 1LL << 30 },
	{ "gb", 1LL << 30 },
	{ "gib", 1LL << 30 },
	{ "t", 1LL << 40 },
	{ "tb", 1LL << 40 },
	{ "tib", 1LL << 40 },
};

/* Units used when printing bounds and defaults: largest that divides evenly. */
static const unit duration_print[] = {
	{ "d", 86400000 },
	{ "h", 3600000 },
	{ "m", 60000 },
	{ "s", 1000 },
	{ "ms", 1 },
};
static const unit size_print[] = {
	{ "TiB", 1LL << 40 },
	{ "GiB", 1LL << 30 },
	{ "MiB", 1LL << 20 },
	{ "KiB", 1LL << 10 },
	{ "B", 1 },
};

static const char *const type_names[] = {
	[TD_CFG_STRING] = "string",
	[TD_CFG_INT] = "integer",
	[TD_CFG_BOOL] = "boolean",
	[TD_CFG_DOUBLE] = "number",
	[TD_CFG_DURATION] = "duration",
	[TD_CFG_SIZE] = "size",
	[TD_CFG_ENUM] = "enum",
	[TD_CFG_STRLIST] = "list",
};

/* ---- table helpers ------------------------------------------------------- */

static size_t
directive_count(void)
{
	size_t n = 0;

	while (td_config_directives[n].section != NULL) {
		n++;
	}
	return n;
}

/* Index of the first row of section, or -1. */
static long
find_section(const char *section)
{
	for (size_t i = 0; td_config_directives[i].section != NULL; i++) {
		if (strcmp(td_config_directives[i].section, section) == 0) {
			return (long)i;
		}
	}
	return -1;
}

static long
find_directive(const char *section, const char *key)
{
	for (size_t i = 0; td_config_directives[i].section != NULL; i++) {
		const td_config_directive *d = &td_config_directives[i];
		if (strcmp(d->section, section) == 0 && strcmp(d->key, key) == 0) {
			return (long)i;
		}
	}
	return -1;
}

static bool
is_first_of_section(size_t i)
{
	return find_section(td_config_directives[i].section) == (long)i;
}

static const char *
type_name(td_config_type t)
{
	if ((size_t)t < sizeof(type_names) / sizeof(type_names[0]) && type_names[t] != NULL) {
		return type_names[t];
	}
	return "unknown";
}

static bool
has_bounds(const td_config_directive *d)
{
	return d->min <= d->max;
}

/* Writes TFDRIFT_<SECTION>_<KEY> into buf. */
static void
env_name(const td_config_directive *d, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "TFDRIFT_%s_%s", d->section, d->key);
	n = strlen(buf);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		buf[i] = isalnum(c) ? (char)toupper(c) : '_';
	}
}

/* Formats v (ms or bytes) with the largest unit that divides it evenly. */
static void
format_scaled(int64_t v, const unit *units, size_t nunits, char *buf, size_t len)
{
	if (v == 0) {
		snprintf(buf, len, "0");
		return;
	}
	for (size_t i = 0; i < nunits; i++) {
		if (v % units[i].mult == 0) {
			snprintf(buf, len, "%" PRId64 "%s", v / units[i].mult, units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%" PRId64 "%s", v, units[nunits - 1].suffix);
}

/* A bound (min or max) as a person would write it for this directive's type. */
static void
format_bound(const td_config_directive *d, double bound, char *buf, size_t len)
{
	switch (d->type) {
	case TD_CFG_DURATION:
		format_scaled((int64_t)bound, duration_print,
		    sizeof(duration_print) / sizeof(duration_print[0]), buf, len);
		break;
	case TD_CFG_SIZE:
		format_scaled((int64_t)bound, size_print,
		    sizeof(size_print) / sizeof(size_print[0]), buf, len);
		break;
	case TD_CFG_INT: snprintf(buf, len, "%.0f", bound); break;
	default: snprintf(buf, len, "%g", bound); break;
	}
}

/* ---- values -------------------------------------------------------------- */

static void
value_clear(cfg_value *v)
{
	free(v->str);
	for (size_t i = 0; i < v->nitems; i++) {
		free(v->items[i]);
	}
	free(v->items);
	free(v->origin);
	memset(v, 0, sizeof(*v));
}

/* Moves the parsed parts of src (not origin/file_line) into dst. */
static void
value_take(cfg_value *dst, cfg_value *src)
{
	char *origin = dst->origin;
	int line = dst->file_line;

	dst->origin = NULL;
	value_clear(dst);
	*dst = *src;
	dst->origin = origin;
	dst->file_line = line;
	memset(src, 0, sizeof(*src));
}

/* Appends a copy of s[0..n) to v's list.  TD_ENOMEM on failure. */
static int
list_append(cfg_value *v, const char *s, size_t n)
{
	char **items = realloc(v->items, (v->nitems + 1) * sizeof(*items));
	char *copy;

	if (items == NULL) {
		return TD_ENOMEM;
	}
	v->items = items;
	if ((copy = strndup(s, n)) == NULL) {
		return TD_ENOMEM;
	}
	v->items[v->nitems++] = copy;
	return 0;
}

/* Text of a value as it may appear in a message: secrets hidden, long values cut. */
static void
quote_value(const td_config_directive *d, const char *text, char *buf, size_t len)
{
	if (d->flags & TD_CFG_F_SECRET) {
		snprintf(buf, len, "<redacted>");
	} else if (text[0] == '\0') {
		snprintf(buf, len, "an empty value");
	} else if (strlen(text) > 64) {
		snprintf(buf, len, "'%.64s...'", text);
	} else {
		snprintf(buf, len, "'%s'", text);
	}
}

/* Strict base-10 integer with optional sign, no surrounding junk. */
static int
parse_int64(const char *text, int64_t *out, bool *overflow)
{
	char *end;
	long long v;

	*overflow = false;
	if (text[0] == '\0' || isspace((unsigned char)text[0])) {
		return TD_EINVAL;
	}
	errno = 0;
	v = strtoll(text, &end, 10);
	if (end == text || *end != '\0') {
		return TD_EINVAL;
	}
	if (errno == ERANGE) {
		*overflow = true;
		return TD_ERANGE;
	}
	*out = v;
	return 0;
}

/* "<digits>[ ]<unit>" with the unit looked up in units (case-insensitive when
 * fold is set).  TD_EINVAL when malformed, TD_ERANGE when it overflows. */
static int
parse_scaled(const char *text, const unit *units, size_t nunits, bool fold, int64_t *out)
{
	const char *p = text;
	int64_t v = 0, r;

	if (!isdigit((unsigned char)*p)) {
		return TD_EINVAL;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v)) {
			return TD_ERANGE;
		}
	}
	while (*p == ' ') {
		p++;
	}
	for (size_t i = 0; i < nunits; i++) {
		if ((fold ? strcasecmp(p, units[i].suffix) : strcmp(p, units[i].suffix)) == 0) {
			if (__builtin_mul_overflow(v, units[i].mult, &r)) {
				return TD_ERANGE;
			}
			*out = r;
			return 0;
		}
	}
	return TD_EINVAL;
}

/* Expected-form wording per type, used after "expected ". */
static void
expected_text(const td_config_directive *d, char *buf, size_t len)
{
	switch (d->type) {
	case TD_CFG_INT: snprintf(buf, len, "an integer"); break;
	case TD_CFG_DOUBLE: snprintf(buf, len, "a number"); break;
	case TD_CFG_BOOL: snprintf(buf, len, "a boolean (true/false, yes/no, on/off, 1/0)"); break;
	case TD_CFG_DURATION:
		snprintf(buf, len, "a duration (250ms, 5s, 2m, 1h, 7d, or a number of ms)");
		break;
	case TD_CFG_SIZE:
		snprintf(buf, len, "a size (64KiB, 1MiB, 2GiB, or a number of bytes)");
		break;
	case TD_CFG_ENUM: snprintf(buf, len, "one of %s", d->enum_values); break;
	case TD_CFG_STRLIST:
		snprintf(buf, len, "a list of strings or a comma-separated string");
		break;
	default: snprintf(buf, len, "a string"); break;
	}
}

/* Parses text for directive d into *v (fresh, zeroed).  On failure writes the
 * problem ("expected an integer, got 'abc'") into problem and returns TD_EINVAL
 * (or TD_ENOMEM).  v owns what it allocates; the caller frees it on failure. */
static int
parse_value(const td_config_directive *d, const char *text, cfg_value *v, char *problem,
    size_t plen)
{
	char shown[96], want[96], bound[48];
	const char *plain = (d->flags & TD_CFG_F_SECRET) ? "the value" : text;
	double num = 0;
	int rv = 0;
	bool overflow = false;

	quote_value(d, text, shown, sizeof(shown));
	switch (d->type) {
	case TD_CFG_STRING: return (v->str = strdup(text)) == NULL ? TD_ENOMEM : 0;

	case TD_CFG_ENUM: {
		const char *p = d->enum_values != NULL ? d->enum_values : "";
		size_t tl = strlen(text);
		while (*p != '\0') {
			size_t wl = strcspn(p, "|");
			if (wl == tl && tl > 0 && strncasecmp(p, text, tl) == 0) {
				return (v->str = strndup(p, wl)) == NULL ? TD_ENOMEM : 0;
			}
			p += wl;
			p += *p == '|';
		}
		rv = TD_EINVAL;
		break;
	}

	case TD_CFG_BOOL:
		for (size_t i = 0; i < sizeof(bool_words) / sizeof(bool_words[0]); i++) {
			if (strcasecmp(text, bool_words[i].text) == 0) {
				v->b = bool_words[i].value;
				return 0;
			}
		}
		rv = TD_EINVAL;
		break;

	case TD_CFG_INT:
		rv = parse_int64(text, &v->i, &overflow);
		num = (double)v->i;
		break;

	case TD_CFG_DURATION:
		rv = parse_scaled(text, duration_units,
		    sizeof(duration_units) / sizeof(duration_units[0]), false, &v->i);
		overflow = rv == TD_ERANGE;
		num = (double)v->i;
		break;

	case TD_CFG_SIZE:
		rv = parse_scaled(text, size_units, sizeof(size_units) / sizeof(size_units[0]),
		    true, &v->i);
		overflow = rv == TD_ERANGE;
		num = (double)v->i;
		break;

	case TD_CFG_DOUBLE: {
		char *end;
		if (text[0] != '\0' && !isspace((unsigned char)text[0])) {
			errno = 0;
			v->d = strtod(text, &end);
			if (end == text || *end != '\0' || !isfinite(v->d)) {
				rv = TD_EINVAL;
			} else if (errno == ERANGE) {
				rv = TD_ERANGE;
				overflow = true;
			}
		} else {
			rv = TD_EINVAL;
		}
		num = v->d;
		break;
	}

	case TD_CFG_STRLIST: {
		/* comma-separated form; the sequence form is handled by the YAML walker */
		const char *p = text;
		while (*p != '\0') {
			size_t n = strcspn(p, ",");
			const char *s = p, *e = p + n;
			while (s < e && isspace((unsigned char)*s)) {
				s++;
			}
			while (e > s && isspace((unsigned char)e[-1])) {
				e--;
			}
			if (e > s && (rv = list_append(v, s, (size_t)(e - s))) != 0) {
				return rv;
			}
			p += n;
			p += *p == ',';
		}
		return 0;
	}
	}

	if (overflow) {
		snprintf(problem, plen, "%s is out of range", shown);
		return TD_EINVAL;
	}
	if (rv != 0) {
		expected_text(d, want, sizeof(want));
		snprintf(problem, plen, "expected %s, got %s", want, shown);
		return TD_EINVAL;
	}
	if (has_bounds(d) && num < d->min) {
		format_bound(d, d->min, bound, sizeof(bound));
		snprintf(problem, plen, "%s is below the minimum %s", plain, bound);
		return TD_EINVAL;
	}
	if (has_bounds(d) && num > d->max) {
		format_bound(d, d->max, bound, sizeof(bound));
		snprintf(problem, plen, "%s is above the maximum %s", plain, bound);
		return TD_EINVAL;
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------- */

typedef struct loader {
	td_config *cfg;
	const char *name; /* file name used in messages */
	td_error *err;
	yaml_document_t *doc;
	int *section_line; /* by first-row index: line where the section was seen */
} loader;

static int
node_line(const yaml_node_t *node)
{
	return (int)node->start_mark.line + 1;
}

static const char *
node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE: return "scalar";
	case YAML_SEQUENCE_NODE: return "sequence";
	case YAML_MAPPING_NODE: return "mapping";
	default: return "empty node";
	}
}

static const char *
scalar_text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

/* A plain scalar spelled as YAML's null. */
static bool
is_null(const yaml_node_t *node)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		return false;
	}
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		if (strcmp(scalar_text(node), nulls[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* Comma-separated names of the sections, or of one section's keys when
 * section is not NULL, into buf. */
static void
list_names(const char *section, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; td_config_directives[i].section != NULL; i++) {
		const td_config_directive *d = &td_config_directives[i];
		const char *name;
		int w;

		if (section == NULL ? !is_first_of_section(i) : strcmp(d->section, section) != 0) {
			continue;
		}
		name = section == NULL ? d->section : d->key;
		w = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "", name);
		if (w < 0 || (size_t)w >= len - used) {
			break;
		}
		used += (size_t)w;
	}
}

static int set_origin(cfg_value *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replaces v->origin with a formatted, owned string. */
static int
set_origin(cfg_value *v, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return TD_ENOMEM;
	}
	free(v->origin);
	v->origin = s;
	return 0;
}

/* Applies the value node of directive idx found in the file. */
static int
load_key(loader *ld, size_t idx, const yaml_node_t *val, int key_line)
{
	const td_config_directive *d = &td_config_directives[idx];
	cfg_value *slot = &ld->cfg->v[idx];
	cfg_value nv = { 0 };
	char problem[384];
	int rv = 0;

	if (slot->file_line != 0) {
		rv = td_error_set(ld->err, TD_EINVAL,
		    "%s:%d: %s.%s: duplicate key (first at line %d)", ld->name, key_line,
		    d->section, d->key, slot->file_line);
		goto out;
	}
	if (d->type == TD_CFG_STRLIST && val->type == YAML_SEQUENCE_NODE) {
		size_t n = 0;
		for (yaml_node_item_t *it = val->data.sequence.items.start;
		     it < val->data.sequence.items.top; it++, n++) {
			yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
			if (item == NULL || item->type != YAML_SCALAR_NODE) {
				rv = td_error_set(ld->err, TD_EINVAL,
				    "%s:%d: %s.%s: list item %zu is a %s, expected a string",
				    ld->name, item != NULL ? node_line(item) : node_line(val),
				    d->section, d->key, n + 1,
				    item != NULL ? node_kind(item) : "empty node");
				goto out;
			}
			if ((rv = list_append(&nv, scalar_text(item), item->data.scalar.length)) !=
			    0) {
				goto out;
			}
		}
	} else if (val->type != YAML_SCALAR_NODE) {
		char want[96];
		expected_text(d, want, sizeof(want));
		rv = td_error_set(ld->err, TD_EINVAL, "%s:%d: %s.%s: expected %s, got a %s",
		    ld->name, node_line(val), d->section, d->key, want, node_kind(val));
		goto out;
	} else {
		const char *text = scalar_text(val);
		bool null = is_null(val);
		if (null && d->type != TD_CFG_STRING && d->type != TD_CFG_STRLIST) {
			char want[96];
			expected_text(d, want, sizeof(want));
			rv = td_error_set(ld->err, TD_EINVAL,
			    "%s:%d: %s.%s: expected %s, got an empty value", ld->name,
			    node_line(val), d->section, d->key, want);
			goto out;
		}
		if ((rv = parse_value(d, null ? "" : text, &nv, problem, sizeof(problem))) != 0) {
			if (rv == TD_EINVAL) {
				td_error_set(ld->err, rv, "%s:%d: %s.%s: %s", ld->name,
				    node_line(val), d->section, d->key, problem);
			}
			goto out;
		}
	}
	value_take(slot, &nv);
	slot->file_line = key_line;
	rv = set_origin(slot, "file:%d", key_line);
out:
	value_clear(&nv);
	return rv;
}

static int
load_section(loader *ld, long first, const yaml_node_t *map)
{
	const char *section = td_config_directives[first].section;
	char names[384];

	if (is_null(map)) {
		return 0; /* "redis:" with nothing under it */
	}
	if (map->type != YAML_MAPPING_NODE) {
		return td_error_set(ld->err, TD_EINVAL,
		    "%s:%d: %s: expected a mapping of keys, got a %s", ld->name, node_line(map),
		    section, node_kind(map));
	}
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(ld->doc, pr->value);
		long idx;
		int rv;

		if (k == NULL || v == NULL) {
			continue;
		}
		if (k->type != YAML_SCALAR_NODE) {
			return td_error_set(ld->err, TD_EINVAL,
			    "%s:%d: %s: expected a key name, got a %s", ld->name, node_line(k),
			    section, node_kind(k));
		}
		idx = find_directive(section, scalar_text(k));
		if (idx < 0) {
			list_names(section, names, sizeof(names));
			return td_error_set(ld->err, TD_EINVAL,
			    "%s:%d: %s.%s: unknown key (%s has: %s)", ld->name, node_line(k),
			    section, scalar_text(k), section, names);
		}
		if ((rv = load_key(ld, (size_t)idx, v, node_line(k))) != 0) {
			return rv;
		}
	}
	return 0;
}

static int
load_root(loader *ld, const yaml_node_t *root)
{
	char names[384];

	if (is_null(root)) {
		return 0;
	}
	if (root->type != YAML_MAPPING_NODE) {
		return td_error_set(ld->err, TD_EINVAL,
		    "%s:%d: expected a mapping of sections at the top level, got a %s", ld->name,
		    node_line(root), node_kind(root));
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(ld->doc, pr->value);
		long first;
		int rv;

		if (k == NULL || v == NULL) {
			continue;
		}
		if (k->type != YAML_SCALAR_NODE) {
			return td_error_set(ld->err, TD_EINVAL,
			    "%s:%d: expected a section name, got a %s", ld->name, node_line(k),
			    node_kind(k));
		}
		first = find_section(scalar_text(k));
		if (first < 0) {
			list_names(NULL, names, sizeof(names));
			return td_error_set(ld->err, TD_EINVAL,
			    "%s:%d: unknown section '%s' (sections: %s)", ld->name, node_line(k),
			    scalar_text(k), names);
		}
		if (ld->section_line[first] != 0) {
			return td_error_set(ld->err, TD_EINVAL,
			    "%s:%d: duplicate section '%s' (first at line %d)", ld->name,
			    node_line(k), scalar_text(k), ld->section_line[first]);
		}
		ld->section_line[first] = node_line(k);
		if ((rv = load_section(ld, first, v)) != 0) {
			return rv;
		}
	}
	return 0;
}

/* Turns libyaml's error into "NAME:LINE:COL: YAML syntax error: ...".  buf is
 * the text being parsed, used to find the line of a reader error and to
 * explain the most common mistake, a tab in the indentation. */
static int
yaml_error(const yaml_parser_t *p, const char *buf, size_t len, const char *name, td_error *err)
{
	const char *problem = p->problem != NULL ? p->problem : "malformed YAML";
	const char *hint = "";
	char context[128] = "";

	if (p->error == YAML_MEMORY_ERROR) {
		return td_error_set(err, TD_ENOMEM, "%s: out of memory while parsing YAML", name);
	}
	if (p->error == YAML_READER_ERROR) {
		size_t line = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			line += buf[i] == '\n';
		}
		return td_error_set(err, TD_EINVAL, "%s:%zu: YAML reader error at byte %zu: %s",
		    name, line, p->problem_offset, problem);
	}
	if (p->problem_mark.index < len && buf[p->problem_mark.index] == '\t') {
		hint = " (YAML does not allow tabs for indentation)";
	}
	if (p->context != NULL) {
		snprintf(context, sizeof(context), " (%s at line %zu)", p->context,
		    p->context_mark.line + 1);
	}
	return td_error_set(err, TD_EINVAL, "%s:%zu:%zu: YAML syntax error: %s%s%s", name,
	    p->problem_mark.line + 1, p->problem_mark.column + 1, problem, context, hint);
}

static int
load_yaml(td_config *cfg, const char *buf, size_t len, const char *name, td_error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	bool have_doc = false;
	loader ld = { .cfg = cfg, .name = name, .err = err, .doc = &doc };
	yaml_node_t *root;
	int rv = 0;

	if (!yaml_parser_initialize(&parser)) {
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", name);
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rv = yaml_error(&parser, buf, len, name, err);
		goto out;
	}
	have_doc = true;
	if ((root = yaml_document_get_root_node(&doc)) == NULL) {
		goto out; /* empty file or comments only */
	}
	if ((ld.section_line = calloc(cfg->n + 1, sizeof(int))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	if ((rv = load_root(&ld, root)) != 0) {
		goto out;
	}
	/* a second document would be ignored silently otherwise */
	if (!yaml_parser_load(&parser, &extra)) {
		rv = yaml_error(&parser, buf, len, name, err);
		goto out;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		rv = td_error_set(err, TD_EINVAL, "%s:%zu: only one YAML document is allowed", name,
		    extra.start_mark.line + 1);
	}
	yaml_document_delete(&extra);
out:
	if (have_doc) {
		yaml_document_delete(&doc);
	}
	free(ld.section_line);
	yaml_parser_delete(&parser);
	return rv;
}

static int
apply_env(td_config *cfg, td_error *err)
{
	char name[160], problem[384];

	for (size_t i = 0; i < cfg->n; i++) {
		const td_config_directive *d = &td_config_directives[i];
		cfg_value nv = { 0 };
		const char *text;
		int rv;

		env_name(d, name, sizeof(name));
		if ((text = getenv(name)) == NULL) {
			continue;
		}
		if ((rv = parse_value(d, text, &nv, problem, sizeof(problem))) != 0) {
			value_clear(&nv);
			if (rv == TD_EINVAL) {
				td_error_set(err, rv, "env %s: %s.%s: %s", name, d->section, d->key,
				    problem);
			}
			return rv;
		}
		value_take(&cfg->v[i], &nv);
		if ((rv = set_origin(&cfg->v[i], "env:%s", name)) != 0) {
			return rv;
		}
	}
	return 0;
}

/* Fills every value with its default.  A default that does not parse is a
 * bug in the table: it aborts so the bug cannot ship. */
static int
apply_defaults(td_config *cfg)
{
	char problem[384];

	for (size_t i = 0; i < cfg->n; i++) {
		const td_config_directive *d = &td_config_directives[i];
		int rv = parse_value(d, d->def != NULL ? d->def : "", &cfg->v[i], problem,
		    sizeof(problem));
		if (rv == TD_ENOMEM) {
			return rv;
		}
		if (rv != 0) {
			TD_ERROR("invalid default in config_directives.c",
			    TD_KV_STR("section", d->section), TD_KV_STR("key", d->key),
			    TD_KV_STR("problem", problem));
			abort();
		}
	}
	return 0;
}

/* buf may be NULL (no file); on success *out is the caller's. */
static int
load_buffer(td_config **out, const char *buf, size_t len, const char *name, td_error *err)
{
	td_config *cfg = NULL;
	int rv;

	*out = NULL;
	td_error_clear(err);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	cfg->n = directive_count();
	if ((cfg->v = calloc(cfg->n + 1, sizeof(*cfg->v))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	if ((rv = apply_defaults(cfg)) != 0) {
		td_error_set(err, rv, "out of memory");
		goto out;
	}
	if (buf != NULL && len > 0 && (rv = load_yaml(cfg, buf, len, name, err)) != 0) {
		goto out;
	}
	if ((rv = apply_env(cfg, err)) != 0) {
		if (rv == TD_ENOMEM) {
			td_error_set(err, rv, "out of memory");
		}
		goto out;
	}
	*out = cfg;
	cfg = NULL;
out:
	td_config_free(cfg);
	return rv;
}

int
td_config_load_string(td_config **out, const char *yaml, const char *name, td_error *err)
{
	return load_buffer(out, yaml, yaml != NULL ? strlen(yaml) : 0,
	    name != NULL ? name : "<string>", err);
}

int
td_config_load_buffer(td_config **out, const char *buf, size_t len, const char *name, td_error *err)
{
	return load_buffer(out, buf, len, name != NULL ? name : "<buffer>", err);
}

int
td_config_load(td_config **out, const char *path, td_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rv;

	if (path == NULL || path[0] == '\0') {
		return load_buffer(out, NULL, 0, "<defaults>", err);
	}
	*out = NULL;
	if ((rv = td_file_read(path, MAX_FILE_BYTES, &buf, &len, err)) == 0) {
		rv = load_buffer(out, buf, len, path, err);
	}
	free(buf);
	return rv;
}

void
td_config_free(td_config *cfg)
{
	if (cfg == NULL) {
		return;
	}
	for (size_t i = 0; cfg->v != NULL && i < cfg->n; i++) {
		value_clear(&cfg->v[i]);
	}
	free(cfg->v);
	free(cfg);
}

/* ---- typed reads ----------------------------------------------------------- */

#define TYPE_BIT(t) (1u << (t))

/* The value of section.key; aborts when the key is unknown or its type is not
 * in the allowed mask, because that is a bug in the caller, not in the file. */
static const cfg_value *
lookup(const td_config *cfg, const char *section, const char *key, unsigned allowed, const char *fn)
{
	long idx = -1;

	if (cfg != NULL && section != NULL && key != NULL) {
		idx = find_directive(section, key);
	}
	if (idx < 0) {
		TD_ERROR("config read of a key that is not in config_directives.c",
		    TD_KV_STR("function", fn), TD_KV_STR("section", section), TD_KV_STR("key", key),
		    TD_KV_BOOL("config_null", cfg == NULL));
		abort();
	}
	if ((allowed & TYPE_BIT(td_config_directives[idx].type)) == 0) {
		TD_ERROR("config read with the wrong type", TD_KV_STR("function", fn),
		    TD_KV_STR("section", section), TD_KV_STR("key", key),
		    TD_KV_STR("type", type_name(td_config_directives[idx].type)));
		abort();
	}
	return &cfg->v[idx];
}

const char *
td_config_str(const td_config *cfg, const char *section, const char *key)
{
	return lookup(cfg, section, key, TYPE_BIT(TD_CFG_STRING) | TYPE_BIT(TD_CFG_ENUM), __func__)
	    ->str;
}

int64_t
td_config_int(const td_config *cfg, const char *section, const char *key)
{
	return lookup(cfg, section, key,
	    TYPE_BIT(TD_CFG_INT) | TYPE_BIT(TD_CFG_DURATION) | TYPE_BIT(TD_CFG_SIZE), __func__)
	    ->i;
}

bool
td_config_bool(const td_config *cfg, const char *section, const char *key)
{
	return lookup(cfg, section, key, TYPE_BIT(TD_CFG_BOOL), __func__)->b;
}

double
td_config_double(const td_config *cfg, const char *section, const char *key)
{
	return lookup(cfg, section, key, TYPE_BIT(TD_CFG_DOUBLE), __func__)->d;
}

size_t
td_config_list_len(const td_config *cfg, const char *section, const char *key)
{
	return lookup(cfg, section, key, TYPE_BIT(TD_CFG_STRLIST), __func__)->nitems;
}

const char *
td_config_list_item(const td_config *cfg, const char *section, const char *key, size_t i)
{
	const cfg_value *v = lookup(cfg, section, key, TYPE_BIT(TD_CFG_STRLIST), __func__);

	if (i >= v->nitems) {
		TD_ERROR("config list index out of range", TD_KV_STR("section", section),
		    TD_KV_STR("key", key), TD_KV_UINT("index", i), TD_KV_UINT("length", v->nitems));
		abort();
	}
	return v->items[i];
}

const char *
td_config_origin(const td_config *cfg, const char *section, const char *key)
{
	const cfg_value *v = lookup(cfg, section, key, ~0u, __func__);

	return v->origin != NULL ? v->origin : "default";
}

/* ---- generated documents --------------------------------------------------- */

static const char *
section_about(const char *section)
{
	for (size_t i = 0; i < sizeof(section_docs) / sizeof(section_docs[0]); i++) {
		if (strcmp(section_docs[i].section, section) == 0) {
			return section_docs[i].about;
		}
	}
	return NULL;
}

/* Writes s with '|' escaped so it stays inside one Markdown table cell. */
static void
md_cell(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|') {
			fputs("\\|", out);
		} else if (*s == '\n') {
			fputc(' ', out);
		} else {
			fputc(*s, out);
		}
	}
}

/* The "allowed" column: enum words, bounds, or a dash. */
static void
md_allowed(FILE *out, const td_config_directive *d)
{
	char lo[48], hi[48];

	if (d->type == TD_CFG_ENUM) {
		const char *p = d->enum_values != NULL ? d->enum_values : "";
		bool first = true;
		while (*p != '\0') {
			size_t n = strcspn(p, "|");
			fprintf(out, "%s`%.*s`", first ? "" : ", ", (int)n, p);
			first = false;
			p += n;
			p += *p == '|';
		}
		return;
	}
	if (has_bounds(d) &&
	    (d->type == TD_CFG_INT || d->type == TD_CFG_DOUBLE || d->type == TD_CFG_DURATION ||
		d->type == TD_CFG_SIZE)) {
		format_bound(d, d->min, lo, sizeof(lo));
		format_bound(d, d->max, hi, sizeof(hi));
		fprintf(out, "%s to %s", lo, hi);
		return;
	}
	fputs("—", out);
}

int
td_config_write_reference(FILE *out)
{
	char env[160];

	fputs(
	    "# Configuration reference\n"
	    "\n"
	    "<!-- Generated by `make docs` (tfdrift-config-doc reference) from\n"
	    "     libcommon/src/config_directives.c. Do not edit by hand. -->\n"
	    "\n"
	    "Every tfdrift process reads one YAML file, named by `-c FILE` / `--config FILE` or by the\n"
	    "`TFDRIFT_CONFIG` environment variable. The file holds one mapping per section; a process\n"
	    "reads `shared`, `postgres`, `redis`, `bus` and its own section, and checks them all.\n"
	    "Without a file every key has its default. [`config.example.yaml`](../config.example.yaml)\n"
	    "lists every key with its default and loads as is.\n"
	    "\n"
	    "```yaml\n"
	    "shared:\n"
	    "  log_level: debug\n"
	    "redis:\n"
	    "  host: redis.internal\n"
	    "  timeout: 500ms\n"
	    "```\n"
	    "\n"
	    "## Precedence and environment overrides\n"
	    "\n"
	    "Each key takes its value from the last of these that sets it:\n"
	    "\n"
	    "1. the default listed below;\n"
	    "2. the configuration file;\n"
	    "3. the environment variable `TFDRIFT_<SECTION>_<KEY>` (section and key in upper case),\n"
	    "   e.g. `TFDRIFT_POSTGRES_DSN` or `TFDRIFT_API_GATEWAY_PORT`. A variable that is set\n"
	    "   overrides the file even when it is empty.\n"
	    "\n"
	    "Values from the environment are checked exactly like values from the file.\n"
	    "\n"
	    "## Errors\n"
	    "\n"
	    "An unknown section or key, a duplicate key, a value of the wrong type or out of bounds,\n"
	    "and a YAML syntax error all stop the process at start (exit status 2) with the place and\n"
	    "the problem:\n"
	    "\n"
	    "```\n"
	    "config.yaml:7: ingest.admin_port: 70000 is above the maximum 65535\n"
	    "config.yaml:3: ingest.colour: unknown key (ingest has: admin_bind, admin_port, ...)\n"
	    "env TFDRIFT_REDIS_PORT: redis.port: expected an integer, got 'abc'\n"
	    "```\n"
	    "\n"
	    "## Value types\n"
	    "\n"
	    "| type | written as |\n"
	    "|---|---|\n"
	    "| string | any YAML scalar. Quote values YAML would read otherwise, such as `\"tfdrift:\"`. An empty value or `~` is the empty string. |\n"
	    "| integer | decimal, optionally signed: `42`, `-1`. |\n"
	    "| number | decimal or with an exponent: `0.5`, `1e3`. |\n"
	    "| boolean | `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`, in any case. |\n"
	    "| duration | a whole number with a unit `ms`, `s`, `m`, `h` or `d`: `250ms`, `5s`, `2m`, `1h`, `7d`. A bare number is milliseconds. |\n"
	    "| size | a whole number with an optional unit, in any case. Every unit is a power of 1024: `k` = `KB` = `KiB` = 1024 bytes, `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB`. A bare number is bytes. |\n"
	    "| enum | one of the listed words. |\n"
	    "| list | a YAML sequence of strings (`[a, b]`, or one `- item` per line) or one comma-separated string (`\"a, b\"`; blanks around items are dropped). The environment takes the comma-separated form. |\n"
	    "\n"
	    "Keys marked **secret** are never logged or printed. Set them through their environment\n"
	    "variable (for example from a Kubernetes Secret) rather than in the file.\n",
	    out);

	for (size_t i = 0; td_config_directives[i].section != NULL; i++) {
		const char *section = td_config_directives[i].section;
		const char *about;

		if (!is_first_of_section(i)) {
			continue;
		}
		fprintf(out, "\n## `%s`\n\n", section);
		if ((about = section_about(section)) != NULL) {
			fprintf(out, "%s\n\n", about);
		}
		fputs("| key | type | default | allowed | environment | description |\n"
		      "|---|---|---|---|---|---|\n",
		    out);
		for (size_t j = i; td_config_directives[j].section != NULL; j++) {
			const td_config_directive *d = &td_config_directives[j];

			if (strcmp(d->section, section) != 0) {
				continue;
			}
			env_name(d, env, sizeof(env));
			fprintf(out, "| `%s` | %s | ", d->key, type_name(d->type));
			if (d->def == NULL || d->def[0] == '\0') {
				fputs("*(empty)*", out);
			} else if (d->flags & TD_CFG_F_SECRET) {
				fputs("*(secret)*", out);
			} else {
				fputc('`', out);
				md_cell(out, d->def);
				fputc('`', out);
			}
			fputs(" | ", out);
			md_allowed(out, d);
			fprintf(out, " | `%s` | ", env);
			if (d->flags & TD_CFG_F_SECRET) {
				fputs("**Secret.** ", out);
			}
			md_cell(out, d->help != NULL ? d->help : "");
			fputs(" |\n", out);
		}
	}
	return ferror(out) ? TD_EIO : 0;
}

/* Writes text as "# " comment lines indented by indent, wrapped at 80 columns. */
static void
yaml_comment(FILE *out, const char *indent, const char *text)
{
	const size_t width = 80 - strlen(indent) - 2;
	const char *p = text;

	while (*p != '\0') {
		size_t len = strlen(p), cut = len;

		if (len > width) {
			cut = width;
			while (cut > 0 && p[cut] != ' ') {
				cut--;
			}
			if (cut == 0) { /* one long word: break after it */
				cut = strcspn(p, " ");
			}
		}
		fprintf(out, "%s# %.*s\n", indent, (int)cut, p);
		p += cut;
		while (*p == ' ') {
			p++;
		}
	}
}

/* A double-quoted YAML scalar. */
static void
yaml_quoted(FILE *out, const char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			fprintf(out, "\\%c", c);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\x%02x", c);
		} else {
			fputc(c, out);
		}
	}
	fputc('"', out);
}

/* True when s can be written as a plain scalar without changing its text. */
static bool
plain_safe(const char *s)
{
	if (s[0] == '\0' || !isalnum((unsigned char)s[0])) {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("._+-", *s) == NULL) {
			return false;
		}
	}
	return true;
}

/* A secret can be written as "" (or []) only when that is its default. */
static bool
secret_shown_empty(const td_config_directive *d)
{
	return (d->type == TD_CFG_STRING || d->type == TD_CFG_STRLIST) &&
	    (d->def == NULL || d->def[0] == '\0');
}

static void
yaml_value(FILE *out, const td_config_directive *d)
{
	const char *def = d->def != NULL ? d->def : "";

	if (d->flags & TD_CFG_F_SECRET) {
		fputs(d->type == TD_CFG_STRLIST ? "[]" : "\"\"",
		    out); /* caller checked: default empty */
	} else if (d->type == TD_CFG_STRLIST) {
		/* the default's comma form, written as a flow sequence */
		const char *p = def;
		bool first = true;
		fputc('[', out);
		while (*p != '\0') {
			size_t n = strcspn(p, ",");
			const char *s = p, *e = p + n;
			while (s < e && isspace((unsigned char)*s)) {
				s++;
			}
			while (e > s && isspace((unsigned char)e[-1])) {
				e--;
			}
			if (e > s) {
				fputs(first ? "" : ", ", out);
				yaml_quoted(out, s, (size_t)(e - s));
				first = false;
			}
			p += n;
			p += *p == ',';
		}
		fputc(']', out);
	} else if (d->type == TD_CFG_STRING || !plain_safe(def)) {
		yaml_quoted(out, def, strlen(def));
	} else {
		fputs(def, out);
	}
}

int
td_config_write_example(FILE *out)
{
	char env[160], lo[48], hi[48], line[512];

	fputs("# tfdrift-falco configuration: every section and key with its default value.\n"
	      "#\n"
	      "# Generated by `make docs` (tfdrift-config-doc example) from\n"
	      "# libcommon/src/config_directives.c; docs/configuration.md explains each key.\n"
	      "# This file loads as is and changes nothing: keep the keys you want to change\n"
	      "# and delete the rest.\n"
	      "#\n"
	      "# Precedence: default < this file < environment variable TFDRIFT_<SECTION>_<KEY>\n"
	      "# (e.g. TFDRIFT_POSTGRES_DSN). Durations: 250ms, 5s, 2m, 1h, 7d (bare number =\n"
	      "# ms). Sizes: 512, 64KiB, 1MiB, 2GiB (every unit is a power of 1024).\n",
	    out);

	for (size_t i = 0; td_config_directives[i].section != NULL; i++) {
		const char *section = td_config_directives[i].section;
		const char *about;

		if (!is_first_of_section(i)) {
			continue;
		}
		fputs("\n", out);
		if ((about = section_about(section)) != NULL) {
			/* Markdown backticks read as noise in a YAML comment */
			size_t k = 0;
			for (const char *s = about; *s != '\0' && k + 1 < sizeof(line); s++) {
				if (*s != '`') {
					line[k++] = *s;
				}
			}
			line[k] = '\0';
			yaml_comment(out, "", line);
		}
		fprintf(out, "%s:\n", section);
		for (size_t j = i; td_config_directives[j].section != NULL; j++) {
			const td_config_directive *d = &td_config_directives[j];

			if (strcmp(d->section, section) != 0) {
				continue;
			}
			if (j != i) {
				fputs("\n", out);
			}
			yaml_comment(out, "  ", d->help != NULL ? d->help : "");
			env_name(d, env, sizeof(env));
			if (d->type == TD_CFG_ENUM) {
				snprintf(line, sizeof(line), "%s, one of %s; env %s",
				    type_name(d->type),
				    d->enum_values != NULL ? d->enum_values : "", env);
			} else if (has_bounds(d) && d->type != TD_CFG_STRING &&
			    d->type != TD_CFG_BOOL && d->type != TD_CFG_STRLIST) {
				format_bound(d, d->min, lo, sizeof(lo));
				format_bound(d, d->max, hi, sizeof(hi));
				snprintf(line, sizeof(line), "%s, %s to %s; env %s",
				    type_name(d->type), lo, hi, env);
			} else {
				snprintf(line, sizeof(line), "%s; env %s", type_name(d->type), env);
			}
			yaml_comment(out, "  ", line);
			if (d->flags & TD_CFG_F_SECRET) {
				snprintf(line, sizeof(line),
				    "Secret: never logged or printed. Leave it empty here and set %s instead.",
				    env);
				yaml_comment(out, "  ", line);
			}
			if ((d->flags & TD_CFG_F_SECRET) && !secret_shown_empty(d)) {
				/* the default itself must not be printed, and "" would change it */
				fprintf(out, "  # %s:\n", d->key);
				continue;
			}
			fprintf(out, "  %s: ", d->key);
			yaml_value(out, d);
			fputs("\n", out);
		}
	}
	return ferror(out) ? TD_EIO : 0;
}
