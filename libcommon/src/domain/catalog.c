/* catalog.c — the mapping catalog (format and contract in catalog.h). */
#include "tfdrift/catalog.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/hash.h"
#include "tfdrift/severity.h"

struct cat_catalog {
	char **bufs; /* one writable copy per text; entries point into them */
	size_t nbufs;
	cat_entry *entries;
	size_t n, cap;
	size_t *slots; /* open addressing: index+1, 0 = empty */
	size_t nslots;
};

static const char *const kind_names[] = { "create", "modify", "delete", "tag", "untag", "attach",
	"detach", "start", "stop" };

static const struct {
	const char *name;
	cat_xform xf;
} xform_names[] = {
	{ "plain", XF_PLAIN },
	{ "policy", XF_POLICY },
	{ "tags", XF_TAGS },
	{ "sgadd", XF_SGADD },
	{ "sgdel", XF_SGDEL },
	{ "secret", XF_SECRET },
	{ "set", XF_SET },
	{ "setadd", XF_SETADD },
	{ "setdel", XF_SETDEL },
	{ "is", XF_IS },
	{ "clear", XF_CLEAR },
	{ "tagset", XF_TAGSET },
	{ "inline", XF_INLINE },
	{ "inlinedel", XF_INLINEDEL },
	{ "acl", XF_ACL },
	{ "grants", XF_GRANTS },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const char *
cat_kind_name(cat_kind k)
{
	return (size_t)k < N(kind_names) ? kind_names[k] : "?";
}

/* source and event hashed with a byte between them no name contains. */
static uint64_t
hash2(const char *a, const char *b)
{
	return td_hash_str(td_hash_bytes(td_hash_str(TD_HASH_INIT, a), "\xff", 1), b);
}

void
cat_free(cat_catalog *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nbufs; i++)
		free(c->bufs[i]);
	free(c->bufs);
	free(c->entries);
	free(c->slots);
	free(c);
}

/* Splits s at sep in place into out[] (at most max); returns the count, or
 * max+1 when there are more. */
static size_t
split(char *s, char sep, char **out, size_t max)
{
	size_t n = 0;

	if (s[0] == '\0')
		return 0;
	for (;;) {
		char *e = strchr(s, sep);
		if (n == max)
			return max + 1;
		out[n++] = s;
		if (e == NULL)
			return n;
		*e = '\0';
		s = e + 1;
	}
}

static int
parse_path(char *s, cat_path *p, bool allow_res)
{
	char *steps[CAT_MAX_STEPS + 1];
	size_t n;

	memset(p, 0, sizeof(*p));
	/* the steps are split in place: keep the text whole for messages */
	if ((p->text = strdup(s)) == NULL)
		return -1;
	p->where = CAT_REQ;
	if (strncmp(s, "resp:", 5) == 0) {
		p->where = CAT_RESP;
		s += 5;
	}
	if (allow_res && strcmp(s, "arn") == 0) {
		p->where = CAT_RESOURCES;
		return 0;
	}
	if (allow_res && strcmp(s, "route53:changes") == 0) {
		p->where = CAT_R53_CHANGES;
		return 0;
	}
	if (s[0] == '{') {
		if (p->where != CAT_REQ || strchr(s, '}') == NULL)
			return -1;
		p->tmpl = s;
		return 0;
	}
	n = split(s, '.', steps, CAT_MAX_STEPS);
	if (n == 0 || n > CAT_MAX_STEPS)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(steps[i]);
		if (l > 2 && strcmp(steps[i] + l - 2, "[]") == 0) {
			steps[i][l - 2] = '\0';
			p->arr[i] = true;
		}
		if (steps[i][0] == '\0')
			return -1;
		p->keys[i] = steps[i];
	}
	p->n = n;
	return 0;
}

static int
add_entry(cat_catalog *c, const cat_entry *e)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;
		cat_entry *ne = realloc(c->entries, ncap * sizeof(*ne));
		if (ne == NULL)
			return TD_ENOMEM;
		c->entries = ne;
		c->cap = ncap;
	}
	c->entries[c->n++] = *e;
	return 0;
}

/* Owned strdup'd path texts live in a side list so cat_free releases them. */
static int
keep(cat_catalog *c, const char *s)
{
	char **nb = realloc(c->bufs, (c->nbufs + 1) * sizeof(*nb));

	if (nb == NULL)
		return TD_ENOMEM;
	c->bufs = nb;
	c->bufs[c->nbufs++] = (char *)s;
	return 0;
}

static int
keep_path(cat_catalog *c, const cat_path *p)
{
	if (p->text != NULL && keep(c, p->text) != 0) {
		free((char *)p->text);
		return TD_ENOMEM;
	}
	return 0;
}

#define BAD(col, ...)                                                                      \
	do {                                                                               \
		char m_[256];                                                              \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                                     \
		return td_error_set(err, TD_EINVAL, "%s:%d: %s: %s", name, line, col, m_); \
	} while (0)

static int
parse_line(cat_catalog *c, const char *name, int line, char *s, const char *source, td_error *err)
{
	char *f[7], *list[40];
	size_t nf = split(s, '\t', f, 6), n;
	cat_entry e;

	memset(&e, 0, sizeof(e));
	if (nf != 6)
		BAD("line",
		    "want 6 tab-separated columns (event kind types ids attrs severity), got %zu",
		    nf > 6 ? (size_t)7 : nf);
	if (source == NULL)
		BAD("line", "no @source line before the first entry");
	e.source = source;
	e.file = name;
	e.line = line;
	e.event = f[0];
	e.service = NULL;
	for (n = 0; n < N(kind_names) && strcmp(kind_names[n], f[1]) != 0; n++)
		;
	if (n == N(kind_names))
		BAD("kind", "unknown kind '%s'", f[1]);
	e.kind = (cat_kind)n;
	n = split(f[2], ',', list, N(e.types));
	if (n == 0 || n > N(e.types))
		BAD("types", "want 1 to %zu Terraform types", N(e.types));
	for (size_t i = 0; i < n; i++) {
		char *colon = strchr(list[i], ':');
		if (colon != NULL) {
			*colon = '\0';
			if (strcmp(colon + 1, "delete") == 0)
				e.as[i] = CAT_AS_DELETE;
			else if (strcmp(colon + 1, "present") == 0)
				e.as[i] = CAT_AS_PRESENT;
			else
				BAD("types", "'%s': want TYPE, TYPE:delete or TYPE:present",
				    list[i]);
		}
		if (strncmp(list[i], "aws_", 4) != 0)
			BAD("types", "'%s' is not a Terraform AWS type", list[i]);
		e.types[i] = list[i];
	}
	e.ntypes = n;
	n = split(f[3], ',', list, N(e.ids));
	if (n == 0 || n > N(e.ids))
		BAD("ids", "want 1 to %zu identifier locators", N(e.ids));
	for (size_t i = 0; i < n; i++) {
		int bad = parse_path(list[i], &e.ids[i], true);
		if (keep_path(c, &e.ids[i]) != 0)
			return td_error_set(err, TD_ENOMEM, "out of memory");
		if (bad != 0)
			BAD("ids", "bad locator '%s'", e.ids[i].text ? e.ids[i].text : list[i]);
	}
	e.nids = n;
	if (strcmp(f[4], "-") != 0) {
		n = split(f[4], ';', list, N(e.attrs));
		if (n > N(e.attrs))
			BAD("attrs", "more than %zu extractors", N(e.attrs));
		for (size_t i = 0; i < n; i++) {
			char *eq = strchr(list[i], '='), *sl, *at, *arg;
			cat_attr *a = &e.attrs[i];
			if (eq == NULL || eq == list[i] || eq[1] == '\0')
				BAD("attrs", "'%s' is not PATH=ATTR[/XFORM][@TYPE]", list[i]);
			*eq = '\0';
			a->attr = eq + 1;
			a->xf = XF_PLAIN;
			if ((at = strchr(a->attr, '@')) != NULL) {
				*at = '\0';
				a->type = at + 1;
				if (strncmp(a->type, "aws_", 4) != 0)
					BAD("attrs", "'@%s' is not a Terraform AWS type", a->type);
			}
			if ((sl = strchr(a->attr, '/')) != NULL) {
				size_t k;
				*sl = '\0';
				if ((arg = strchr(sl + 1, ':')) != NULL) {
					*arg = '\0';
					a->arg = arg + 1;
				}
				for (k = 0; k < N(xform_names); k++)
					if (strcmp(xform_names[k].name, sl + 1) == 0)
						break;
				if (k == N(xform_names))
					BAD("attrs", "unknown transform '%s'", sl + 1);
				a->xf = xform_names[k].xf;
				if ((a->xf == XF_IS) != (a->arg != NULL))
					BAD("attrs",
					    "'%s': is:VALUE takes a value, other transforms none",
					    sl + 1);
			}
			int bad = parse_path(list[i], &a->path, false);
			if (keep_path(c, &a->path) != 0)
				return td_error_set(err, TD_ENOMEM, "out of memory");
			if (bad != 0 || a->path.tmpl != NULL)
				BAD("attrs", "bad path '%s'",
				    a->path.text ? a->path.text : list[i]);
		}
		e.nattrs = n;
	}
	if (strcmp(f[5], "-") != 0) {
		char *lvl = f[5], *colon = strchr(f[5], ':');
		if (colon != NULL) {
			*colon = '\0';
			if (strcmp(f[5], "open") == 0)
				e.sev_cond = SEVC_OPEN;
			else if (strcmp(f[5], "public") == 0)
				e.sev_cond = SEVC_PUBLIC;
			else
				BAD("severity", "unknown condition '%s'", f[5]);
			lvl = colon + 1;
		}
		/* info is for ignore-rule overrides, not a catalog default */
		if ((e.severity = td_severity_parse(lvl, strlen(lvl))) < TD_SEVERITY_LOW)
			BAD("severity", "unknown level '%s'", lvl);
	}
	if (add_entry(c, &e) != 0)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	return 0;
}

static int
parse_text(cat_catalog *c, const cat_text *t, td_error *err)
{
	char *buf = strdup(t->text), *s, *nl;
	const char *source = NULL, *name = t->name;
	int line = 0, rv;

	if (buf == NULL || keep(c, buf) != 0) {
		free(buf);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	for (s = buf; s != NULL && *s != '\0'; s = nl) {
		line++;
		if ((nl = strchr(s, '\n')) != NULL)
			*nl++ = '\0';
		if (s[0] == '#' || s[0] == '\0')
			continue;
		if (strncmp(s, "@source ", 8) == 0) {
			source = s + 8;
			if (strchr(source, '.') == NULL)
				BAD("@source", "'%s' is not an eventSource", source);
			continue;
		}
		if ((rv = parse_line(c, name, line, s, source, err)) != 0)
			return rv;
	}
	return 0;
}

static int
build_index(cat_catalog *c, td_error *err)
{
	c->nslots = 16;
	while (c->nslots < c->n * 2)
		c->nslots *= 2;
	c->slots = calloc(c->nslots, sizeof(*c->slots));
	if (c->slots == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n; i++) {
		cat_entry *e = &c->entries[i];
		size_t s = (size_t)hash2(e->source, e->event) & (c->nslots - 1);
		while (c->slots[s] != 0) {
			const cat_entry *o = &c->entries[c->slots[s] - 1];
			if (strcmp(o->source, e->source) == 0 && strcmp(o->event, e->event) == 0)
				return td_error_set(err, TD_EINVAL,
				    "%s:%d: event: %s %s is already in the catalog (%s:%d)",
				    e->file, e->line, e->source, e->event, o->file, o->line);
			s = (s + 1) & (c->nslots - 1);
		}
		c->slots[s] = i + 1;
	}
	return 0;
}

int
cat_load(cat_catalog **out, const cat_text *texts, size_t n, td_error *err)
{
	cat_catalog *c = calloc(1, sizeof(*c));
	int rv = 0;

	*out = NULL;
	if (c == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	for (size_t i = 0; rv == 0 && i < n; i++)
		rv = parse_text(c, &texts[i], err);
	if (rv == 0)
		rv = build_index(c, err);
	/* "ec2.amazonaws.com" -> "ec2": kept next to the source text */
	for (size_t i = 0; rv == 0 && i < c->n; i++) {
		cat_entry *e = &c->entries[i];
		char *svc = strndup(e->source, strcspn(e->source, "."));
		if (svc == NULL || keep(c, svc) != 0) {
			free(svc);
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			break;
		}
		e->service = svc;
	}
	if (rv != 0) {
		cat_free(c);
		return rv;
	}
	*out = c;
	return 0;
}

int
cat_load_embedded(cat_catalog **out, td_error *err)
{
	return cat_load(out, cat_embedded, cat_embedded_count, err);
}

const cat_entry *
cat_find(const cat_catalog *c, const char *source, const char *event)
{
	size_t s;

	if (c == NULL || c->nslots == 0 || source == NULL || event == NULL)
		return NULL;
	s = (size_t)hash2(source, event) & (c->nslots - 1);
	while (c->slots[s] != 0) {
		const cat_entry *e = &c->entries[c->slots[s] - 1];
		if (strcmp(e->event, event) == 0 && strcmp(e->source, source) == 0)
			return e;
		s = (s + 1) & (c->nslots - 1);
	}
	return NULL;
}

size_t
cat_count(const cat_catalog *c)
{
	return c->n;
}

const cat_entry *
cat_at(const cat_catalog *c, size_t i)
{
	return i < c->n ? &c->entries[i] : NULL;
}

/* ---- paths -------------------------------------------------------------------- */

static int
emit(const cJSON *v, cat_value_fn fn, void *arg)
{
	char num[64];

	if (cJSON_IsString(v) && v->valuestring[0] != '\0')
		return fn(arg, v->valuestring);
	if (cJSON_IsNumber(v)) {
		snprintf(num, sizeof(num), "%.17g", v->valuedouble);
		return fn(arg, num);
	}
	return 0;
}

static int
walk(const cat_path *p, size_t i, const cJSON *node, cat_value_fn fn, void *arg)
{
	const cJSON *v, *el;
	int rv;

	if (i == p->n)
		return emit(node, fn, arg);
	if (!cJSON_IsObject(node))
		return 0;
	v = cJSON_GetObjectItemCaseSensitive(node, p->keys[i]);
	if (v == NULL)
		return 0;
	if (!p->arr[i])
		return walk(p, i + 1, v, fn, arg);
	if (!cJSON_IsArray(v))
		return walk(p, i + 1, v, fn, arg); /* a single object where a list may be */
	cJSON_ArrayForEach(el, v)
	{
		if ((rv = walk(p, i + 1, el, fn, arg)) != 0)
			return rv;
	}
	return 0;
}

typedef struct nth_str {
	size_t want, seen;
	char buf[512];
	bool found;
} nth_str;

static int
take_nth(void *arg, const char *value)
{
	nth_str *f = arg;

	if (f->seen++ < f->want)
		return 0;
	snprintf(f->buf, sizeof(f->buf), "%s", value);
	f->found = true;
	return 1;
}

/* The template with its placeholders filled: the first value of each, or
 * the k-th of one that expands a list ([] in its path).  0 with *multi when
 * some placeholder expands a list; -1 when a value is missing. */
static int
fill_template(const char *tmpl, const cJSON *root, size_t k, char *out, size_t len, bool *multi)
{
	size_t o = 0;

	for (const char *s = tmpl; *s != '\0' && o < len - 1;) {
		if (*s == '{') {
			const char *e = strchr(s, '}');
			char spec[128];
			cat_path sub;
			nth_str f = { .found = false };
			bool list = false;

			if (e == NULL || (size_t)(e - s - 1) >= sizeof(spec))
				return -1;
			snprintf(spec, sizeof(spec), "%.*s", (int)(e - s - 1), s + 1);
			if (parse_path(spec, &sub, false) != 0) {
				free((char *)sub.text);
				return -1;
			}
			for (size_t i = 0; i < sub.n; i++)
				list = list || sub.arr[i];
			*multi = *multi || list;
			f.want = list ? k : 0;
			walk(&sub, 0, root, take_nth, &f);
			free((char *)sub.text);
			if (!f.found)
				return -1;
			o += (size_t)snprintf(out + o, len - o, "%s", f.buf);
			if (o >= len)
				return -1;
			s = e + 1;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	return 0;
}

/* One string per element when a placeholder expands a list
 * ({bucketName}/{Delete.Object[].Key}: one per object), else one. */
static int
expand_template(const cat_path *p, const cJSON *root, cat_value_fn fn, void *arg)
{
	char out[1024];
	int rv;

	for (size_t k = 0; k < 1000; k++) {
		bool multi = false;
		if (fill_template(p->tmpl, root, k, out, sizeof(out), &multi) != 0)
			return 0;
		if ((rv = fn(arg, out)) != 0 || !multi)
			return rv;
	}
	return 0;
}

int
cat_path_strings(const cat_path *p, const cJSON *root, cat_value_fn fn, void *arg)
{
	if (p->tmpl != NULL)
		return expand_template(p, root, fn, arg);
	return walk(p, 0, root, fn, arg);
}

const cJSON *
cat_path_node(const cat_path *p, const cJSON *root)
{
	const cJSON *node = root;

	for (size_t i = 0; i < p->n; i++) {
		if (!cJSON_IsObject(node))
			return NULL;
		node = cJSON_GetObjectItemCaseSensitive(node, p->keys[i]);
		if (node == NULL)
			return NULL;
		if (p->arr[i] && cJSON_IsArray(node))
			node = cJSON_GetArrayItem(node, 0);
	}
	return node;
}
