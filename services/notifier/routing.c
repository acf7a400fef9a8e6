/* routing.c — the routing file (contract in routing.h). */
#include "routing.h"

#include <errno.h>
#include <stdarg.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "tfdrift/severity.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_SECRET 8192

static const char *const field_names[RT_NFIELDS] = { "severity", "kind", "workspace", "service",
	"resource_type", "resource_address", "event_name", "principal" };

static const struct {
	const char *name;
	rt_type type;
} type_names[] = {
	{ "webhook", RT_WEBHOOK },
	{ "slack_webhook", RT_SLACK_WEBHOOK },
	{ "slack_api", RT_SLACK_API },
	{ "pagerduty", RT_PAGERDUTY },
	{ "email", RT_EMAIL },
	{ "teams", RT_TEAMS },
	{ "log", RT_LOG },
};

struct rt_matcher {
	char **globs[RT_NFIELDS]; /* NULL-terminated lists */
	size_t n[RT_NFIELDS];
	int min_rank;
};

typedef struct rnode {
	rt_matcher *match;
	size_t *receivers;
	size_t nreceivers;
	bool cont;
	char **group_by; /* NULL-terminated; owned unless inherited */
	bool own_group_by;
	int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
	struct rnode *children;
	size_t nchildren;
} rnode;

struct rt_config {
	rt_receiver *receivers;
	size_t nreceivers;
	rnode root;
};

/* ---- matchers ----------------------------------------------------------- */

int
rt_field_index(const char *name)
{
	for (int i = 0; i < RT_NFIELDS; i++) {
		if (strcmp(field_names[i], name) == 0) {
			return i;
		}
	}
	return -1;
}

const char *
rt_field_name(int i)
{
	return i >= 0 && i < RT_NFIELDS ? field_names[i] : "";
}

int
rt_rank(const char *severity)
{
	/* libcommon's table, but any case: "High" in a routing file is high */
	for (size_t i = 0; severity != NULL && i < td_severity_count; i++) {
		if (strcasecmp(severity, td_severity_names[i]) == 0) {
			return (int)i + 1;
		}
	}
	return 0;
}

int
rt_matcher_new(rt_matcher **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? TD_ENOMEM : 0;
}

void
rt_matcher_free(rt_matcher *m)
{
	if (m == NULL) {
		return;
	}
	for (int f = 0; f < RT_NFIELDS; f++) {
		for (size_t i = 0; i < m->n[f]; i++) {
			free(m->globs[f][i]);
		}
		free(m->globs[f]);
	}
	free(m);
}

int
rt_matcher_add(rt_matcher *m, int field, const char *glob)
{
	char **g;

	if (field < 0 || field >= RT_NFIELDS) {
		return TD_EINVAL;
	}
	if ((g = realloc(m->globs[field], (m->n[field] + 2) * sizeof(*g))) == NULL) {
		return TD_ENOMEM;
	}
	m->globs[field] = g;
	if ((g[m->n[field]] = strdup(glob)) == NULL) {
		return TD_ENOMEM;
	}
	g[++m->n[field]] = NULL;
	return 0;
}

void
rt_matcher_min_rank(rt_matcher *m, int rank)
{
	m->min_rank = rank;
}

bool
rt_matcher_matches(const rt_matcher *m, const rt_alert *a)
{
	if (m == NULL) {
		return true;
	}
	/* an alert of unknown severity passes min_severity: a defect upstream
	 * must not make alerts disappear silently */
	if (m->min_rank > 0 && a->rank > 0 && a->rank < m->min_rank) {
		return false;
	}
	for (int f = 0; f < RT_NFIELDS; f++) {
		const char *v = a->f[f] != NULL ? a->f[f] : "";
		bool any = m->n[f] == 0;
		for (size_t i = 0; !any && i < m->n[f]; i++) {
			any = fnmatch(m->globs[f][i], v, 0) == 0;
		}
		if (!any) {
			return false;
		}
	}
	return true;
}

/* ---- freeing ------------------------------------------------------------- */

static void
strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		free(v[i]);
	}
	free(v);
}

static void
node_clear(rnode *n)
{
	rt_matcher_free(n->match);
	free(n->receivers);
	if (n->own_group_by) {
		strv_free(n->group_by);
	}
	for (size_t i = 0; i < n->nchildren; i++) {
		node_clear(&n->children[i]);
	}
	free(n->children);
}

void
rt_free(rt_config *c)
{
	if (c == NULL) {
		return;
	}
	for (size_t i = 0; i < c->nreceivers; i++) {
		rt_receiver *r = &c->receivers[i];
		free(r->name);
		free(r->url);
		if (r->secret != NULL) {
			explicit_bzero(r->secret, strlen(r->secret));
		}
		free(r->secret);
		free(r->channel);
		free(r->from);
		for (size_t k = 0; k < r->nto; k++) {
			free(r->to[k]);
		}
		free(r->to);
		free(r->username);
		free(r->ca_file);
	}
	free(c->receivers);
	node_clear(&c->root);
	free(c);
}

/* ---- parsing ------------------------------------------------------------- */

typedef struct parser {
	yaml_document_t doc;
	const char *name;
	td_error *err;
	rt_config *c;
} parser;

static int
line_of(const yaml_node_t *n)
{
	return n != NULL ? (int)n->start_mark.line + 1 : 0;
}

static const char *
scalar(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int perr(parser *p, const yaml_node_t *n, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
perr(parser *p, const yaml_node_t *n, const char *where, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return td_error_set(p->err, TD_EINVAL, "%s:%d: %s: %s", p->name, line_of(n), where, msg);
}

static yaml_node_t *
node(parser *p, int idx)
{
	return yaml_document_get_node(&p->doc, idx);
}

/* Copies a scalar into *dst (owned by the config). */
static int
take_str(parser *p, const yaml_node_t *v, const char *where, char **dst)
{
	const char *s = scalar(v);

	if (s == NULL) {
		return perr(p, v, where, "expected a string");
	}
	free(*dst);
	if ((*dst = strdup(s)) == NULL) {
		return td_error_set(p->err, TD_ENOMEM, "out of memory");
	}
	return 0;
}

/* "250ms", "5s", "2m", "1h", "1d" or a number of ms. */
static int
take_duration(parser *p, const yaml_node_t *v, const char *where, int64_t *ms)
{
	static const struct {
		const char *suffix;
		int64_t ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 } };
	const char *s = scalar(v);
	char *end;
	double x;

	if (s == NULL || *s == '\0') {
		return perr(p, v, where, "expected a duration such as 30s, 5m, 4h");
	}
	errno = 0;
	x = strtod(s, &end);
	if (errno != 0 || end == s || x < 0 || x > 1e12) {
		return perr(p, v, where, "'%s' is not a duration such as 30s, 5m, 4h", s);
	}
	if (*end == '\0') {
		*ms = (int64_t)x;
		return 0;
	}
	for (size_t i = 0; i < NELEM(units); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			*ms = (int64_t)(x * (double)units[i].ms);
			return 0;
		}
	}
	return perr(p, v, where, "'%s' is not a duration such as 30s, 5m, 4h", s);
}

static int
take_bool(parser *p, const yaml_node_t *v, const char *where, bool *b)
{
	const char *s = scalar(v);

	if (s != NULL &&
	    (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)) {
		*b = true;
		return 0;
	}
	if (s != NULL &&
	    (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)) {
		*b = false;
		return 0;
	}
	return perr(p, v, where, "expected true or false");
}

/* A scalar or a sequence of scalars into a NULL-terminated list. */
static int
take_list(parser *p, const yaml_node_t *v, const char *where, char ***out)
{
	size_t n = 0, i = 0;
	char **l;

	if (v->type == YAML_SCALAR_NODE) {
		n = 1;
	} else if (v->type == YAML_SEQUENCE_NODE) {
		n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	} else {
		return perr(p, v, where, "expected a string or a list of strings");
	}
	if ((l = calloc(n + 1, sizeof(*l))) == NULL) {
		return td_error_set(p->err, TD_ENOMEM, "out of memory");
	}
	if (v->type == YAML_SCALAR_NODE) {
		l[i++] = strdup(scalar(v));
	} else {
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++) {
			const char *s = scalar(node(p, *it));
			if (s == NULL) {
				strv_free(l);
				return perr(p, node(p, *it), where, "list items are strings");
			}
			l[i++] = strdup(s);
		}
	}
	for (size_t k = 0; k < i; k++) {
		if (l[k] == NULL) {
			strv_free(l);
			return td_error_set(p->err, TD_ENOMEM, "out of memory");
		}
	}
	strv_free(*out);
	*out = l;
	return 0;
}

/* Reads a secret's value from the environment or a file (trailing newlines
 * cut).  what is the key as written ("secret_env"). */
static int
read_secret(parser *p, const yaml_node_t *v, const char *where, bool from_file, char **dst)
{
	const char *ref = scalar(v);
	char buf[MAX_SECRET];
	size_t n;
	FILE *f;

	if (ref == NULL || *ref == '\0') {
		return perr(p, v, where, "expected %s",
		    from_file ? "a file name" : "an environment variable name");
	}
	if (!from_file) {
		const char *val = getenv(ref);
		if (val == NULL || *val == '\0') {
			return perr(p, v, where, "environment variable %s is not set", ref);
		}
		snprintf(buf, sizeof(buf), "%s", val);
	} else {
		if ((f = fopen(ref, "r")) == NULL) {
			return perr(p, v, where, "cannot read %s: %s", ref, strerror(errno));
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) {
			buf[--n] = '\0';
		}
		if (n == 0) {
			return perr(p, v, where, "%s is empty", ref);
		}
	}
	free(*dst);
	*dst = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *dst == NULL ? td_error_set(p->err, TD_ENOMEM, "out of memory") : 0;
}

/* Which keys each receiver type takes; "url" and "secret" stand for their
 * _env/_file forms too. */
typedef struct rkeys {
	rt_type type;
	const char *keys;   /* space-separated, with spaces at both ends */
	bool url_secret;    /* the URL itself is a secret (env/file only) */
	const char *secret; /* what the secret is called, NULL = none */
	bool secret_needed;
} rkeys;

static const rkeys receiver_keys[] = {
	{ RT_WEBHOOK, " url secret ca_file rate ", false, "secret", true },
	{ RT_SLACK_WEBHOOK, " url rate ", true, NULL, false },
	{ RT_SLACK_API, " url token channel thread_window rate ca_file ", false, "token", true },
	{ RT_PAGERDUTY, " url routing_key dedup rate ca_file ", false, "routing_key", true },
	{ RT_EMAIL, " url from to username password starttls ca_file rate ", false, "password",
	    false },
	{ RT_TEAMS, " url rate ", true, NULL, false },
	{ RT_LOG, " ", false, NULL, false },
};

static const rkeys *
keys_of(rt_type t)
{
	for (size_t i = 0; i < NELEM(receiver_keys); i++) {
		if (receiver_keys[i].type == t) {
			return &receiver_keys[i];
		}
	}
	return NULL;
}

/* Whether base (key without _env/_file) is one of ks's keys. */
static bool
has_key(const rkeys *ks, const char *base)
{
	char pat[80];

	snprintf(pat, sizeof(pat), " %s ", base);
	return strstr(ks->keys, pat) != NULL;
}

static const char *
default_url(rt_type t)
{
	switch (t) {
	case RT_SLACK_API: return "https://slack.com/api";
	case RT_PAGERDUTY: return "https://events.pagerduty.com/v2/enqueue";
	default: return NULL;
	}
}

static int
parse_receiver(parser *p, const yaml_node_t *m, size_t idx, rt_receiver *r)
{
	const yaml_node_t *type_node = NULL;
	const rkeys *ks;
	char where[192], base[64];
	int rv;

	snprintf(where, sizeof(where), "receivers[%zu]", idx);
	if (m->type != YAML_MAPPING_NODE) {
		return perr(p, m, where, "a receiver is a mapping with name and type");
	}
	r->line = line_of(m);
	r->starttls = true;
	/* name and type first: the other keys depend on the type */
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		const char *k = scalar(node(p, pr->key));
		if (k != NULL && strcmp(k, "name") == 0) {
			snprintf(where, sizeof(where), "receivers[%zu].name", idx);
			if ((rv = take_str(p, node(p, pr->value), where, &r->name)) != 0) {
				return rv;
			}
		} else if (k != NULL && strcmp(k, "type") == 0) {
			type_node = node(p, pr->value);
		}
	}
	if (r->name == NULL || r->name[0] == '\0') {
		snprintf(where, sizeof(where), "receivers[%zu].name", idx);
		return perr(p, m, where, "required");
	}
	for (size_t i = 0; i < idx; i++) {
		if (strcmp(p->c->receivers[i].name, r->name) == 0) {
			snprintf(where, sizeof(where), "receivers[%zu].name", idx);
			return perr(p, m, where,
			    "'%s' is already the name of receivers[%zu] (line %d)", r->name, i,
			    p->c->receivers[i].line);
		}
	}
	snprintf(where, sizeof(where), "receivers[%zu] (%s).type", idx, r->name);
	if (type_node == NULL) {
		return perr(p, m, where,
		    "required: webhook, slack_webhook, slack_api, pagerduty, email, teams or log");
	}
	for (size_t i = 0; i < NELEM(type_names); i++) {
		if (scalar(type_node) != NULL &&
		    strcmp(scalar(type_node), type_names[i].name) == 0) {
			r->type = type_names[i].type;
		}
	}
	if (r->type == 0) {
		return perr(p, type_node, where,
		    "'%s' is not one of webhook, slack_webhook, slack_api, pagerduty, email, teams, "
		    "log",
		    scalar(type_node) != NULL ? scalar(type_node) : "");
	}
	ks = keys_of(r->type);
	if (r->type == RT_SLACK_API) {
		r->rate = 1;
		r->thread_window_ms = 86400000;
	}
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *kn = node(p, pr->key), *v = node(p, pr->value);
		const char *k = scalar(kn);
		size_t kl;
		bool env = false, file = false;

		if (k == NULL) {
			snprintf(where, sizeof(where), "receivers[%zu] (%s)", idx, r->name);
			return perr(p, kn, where, "expected a key name");
		}
		if (strcmp(k, "name") == 0 || strcmp(k, "type") == 0) {
			continue;
		}
		snprintf(where, sizeof(where), "receivers[%zu] (%s).%s", idx, r->name, k);
		kl = strlen(k);
		snprintf(base, sizeof(base), "%s", k);
		if (kl > 4 && strcmp(k + kl - 4, "_env") == 0) {
			env = true;
			base[kl - 4] = '\0';
		} else if (kl > 5 && strcmp(k + kl - 5, "_file") == 0 &&
		    strcmp(k, "ca_file") != 0) {
			file = true;
			base[kl - 5] = '\0';
		}
		if (!has_key(ks, base)) {
			return perr(p, kn, where, "unknown key for a %s receiver (it takes:%s)",
			    scalar(type_node), ks->keys);
		}
		bool is_secret = (ks->secret != NULL && strcmp(base, ks->secret) == 0) ||
		    (ks->url_secret && strcmp(base, "url") == 0);
		if (is_secret && !env && !file) {
			return perr(p, kn, where,
			    "a secret is read from the environment or a file: write %s_env: VAR or "
			    "%s_file: /path",
			    base, base);
		}
		if (!is_secret && (env || file) && strcmp(base, "url") != 0) {
			return perr(p, kn, where, "only secrets and url take _env or _file");
		}
		char **dst = NULL;
		if (strcmp(base, "url") == 0) {
			dst = &r->url;
		} else if (is_secret) {
			dst = &r->secret;
		} else if (strcmp(base, "channel") == 0) {
			dst = &r->channel;
		} else if (strcmp(base, "from") == 0) {
			dst = &r->from;
		} else if (strcmp(base, "username") == 0) {
			dst = &r->username;
		} else if (strcmp(base, "ca_file") == 0) {
			dst = &r->ca_file;
		}
		if (dst != NULL) {
			rv = env || file ? read_secret(p, v, where, file, dst)
					 : take_str(p, v, where, dst);
		} else if (strcmp(base, "to") == 0) {
			char **l = NULL;
			if ((rv = take_list(p, v, where, &l)) == 0 && l != NULL) {
				for (r->nto = 0; l[r->nto] != NULL; r->nto++)
					;
				r->to = l;
			}
		} else if (strcmp(base, "thread_window") == 0) {
			rv = take_duration(p, v, where, &r->thread_window_ms);
		} else if (strcmp(base, "starttls") == 0) {
			rv = take_bool(p, v, where, &r->starttls);
		} else if (strcmp(base, "rate") == 0) {
			char *e = NULL;
			const char *s = scalar(v);
			r->rate = s != NULL ? strtod(s, &e) : -1;
			rv = s == NULL || *e != '\0' || r->rate < 0
			    ? perr(p, v, where, "expected messages per second (0 = no limit)")
			    : 0;
		} else { /* dedup */
			const char *s = scalar(v);
			if (s != NULL && strcmp(s, "alert") == 0) {
				r->dedup_per_alert = true;
				rv = 0;
			} else if (s != NULL && strcmp(s, "resource") == 0) {
				rv = 0;
			} else {
				rv = perr(p, v, where, "expected resource or alert");
			}
		}
		if (rv != 0) {
			return rv;
		}
	}
	if (r->url == NULL && default_url(r->type) != NULL &&
	    (r->url = strdup(default_url(r->type))) == NULL) {
		return td_error_set(p->err, TD_ENOMEM, "out of memory");
	}
	snprintf(where, sizeof(where), "receivers[%zu] (%s)", idx, r->name);
	if (r->type != RT_LOG && r->url == NULL) {
		return perr(p, m, where, "url%s is required",
		    ks->url_secret ? "_env or url_file" : "");
	}
	if (ks->secret_needed && r->secret == NULL) {
		return perr(p, m, where, "%s_env or %s_file is required", ks->secret, ks->secret);
	}
	if (r->type == RT_SLACK_API && r->channel == NULL) {
		return perr(p, m, where, "channel is required");
	}
	if (r->type == RT_EMAIL && (r->from == NULL || r->nto == 0)) {
		return perr(p, m, where, "from and to are required");
	}
	if (r->type == RT_WEBHOOK && strncmp(r->secret, "whsec_", 6) != 0) {
		snprintf(where, sizeof(where), "receivers[%zu] (%s).secret", idx, r->name);
		return perr(p, m, where,
		    "a Standard Webhooks secret starts with whsec_ followed by base64");
	}
	return 0;
}

static int
parse_receivers(parser *p, const yaml_node_t *seq)
{
	size_t n;
	int rv;

	if (seq->type != YAML_SEQUENCE_NODE) {
		return perr(p, seq, "receivers", "expected a list of receivers");
	}
	n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if ((p->c->receivers = calloc(n + 1, sizeof(*p->c->receivers))) == NULL) {
		return td_error_set(p->err, TD_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		p->c->nreceivers = i + 1;
		rv = parse_receiver(p, node(p, seq->data.sequence.items.start[i]), i,
		    &p->c->receivers[i]);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

static int
parse_match(parser *p, const yaml_node_t *m, const char *path, rt_matcher **out)
{
	char where[256];
	int rv;

	if (m->type != YAML_MAPPING_NODE) {
		snprintf(where, sizeof(where), "%s.match", path);
		return perr(p, m, where, "expected a mapping of field: glob");
	}
	if ((rv = rt_matcher_new(out)) != 0) {
		return td_error_set(p->err, rv, "out of memory");
	}
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *kn = node(p, pr->key), *v = node(p, pr->value);
		const char *k = scalar(kn);
		char **l = NULL;
		int f;

		snprintf(where, sizeof(where), "%s.match.%s", path, k != NULL ? k : "?");
		if (k != NULL && strcmp(k, "min_severity") == 0) {
			int rank = rt_rank(scalar(v));
			if (rank == 0) {
				return perr(p, v, where,
				    "expected info, low, medium, high or critical");
			}
			rt_matcher_min_rank(*out, rank);
			continue;
		}
		if (k == NULL || (f = rt_field_index(k)) < 0) {
			return perr(p, kn, where,
			    "unknown field (fields: min_severity, severity, kind, workspace, service, "
			    "resource_type, resource_address, event_name, principal)");
		}
		if ((rv = take_list(p, v, where, &l)) != 0 || l == NULL) {
			return rv != 0 ? rv : TD_ENOMEM;
		}
		for (size_t i = 0; rv == 0 && l[i] != NULL; i++) {
			rv = rt_matcher_add(*out, f, l[i]);
		}
		strv_free(l);
		if (rv != 0) {
			return td_error_set(p->err, rv, "out of memory");
		}
	}
	return 0;
}

static void
list_receivers(const rt_config *c, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->nreceivers && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i > 0 ? ", " : "",
		    c->receivers[i].name);
		off += n > 0 ? (size_t)n : 0;
	}
}

static int
parse_route(parser *p, const yaml_node_t *m, const char *path, const rnode *parent, rnode *n)
{
	char where[256];
	int rv;

	if (parent != NULL) {
		n->group_by = parent->group_by;
		n->group_wait_ms = parent->group_wait_ms;
		n->group_interval_ms = parent->group_interval_ms;
		n->repeat_interval_ms = parent->repeat_interval_ms;
	} else {
		static const char *const def[] = { "workspace", "resource_address", NULL };
		if ((n->group_by = calloc(3, sizeof(char *))) == NULL ||
		    (n->group_by[0] = strdup(def[0])) == NULL ||
		    (n->group_by[1] = strdup(def[1])) == NULL) {
			return td_error_set(p->err, TD_ENOMEM, "out of memory");
		}
		n->own_group_by = true;
	}
	if (m->type != YAML_MAPPING_NODE) {
		return perr(p, m, path, "a route is a mapping (match, receivers, routes, ...)");
	}
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *kn = node(p, pr->key), *v = node(p, pr->value);
		const char *k = scalar(kn);

		snprintf(where, sizeof(where), "%s.%s", path, k != NULL ? k : "?");
		if (k == NULL) {
			return perr(p, kn, path, "expected a key name");
		} else if (strcmp(k, "match") == 0) {
			rv = parse_match(p, v, path, &n->match);
		} else if (strcmp(k, "receivers") == 0 || strcmp(k, "receiver") == 0) {
			char **l = NULL;
			if ((rv = take_list(p, v, where, &l)) != 0 || l == NULL) {
				return rv != 0 ? rv : TD_ENOMEM;
			}
			size_t cnt = 0;
			while (l[cnt] != NULL) {
				cnt++;
			}
			free(n->receivers);
			n->receivers = calloc(cnt + 1, sizeof(*n->receivers));
			n->nreceivers = 0;
			for (size_t i = 0; rv == 0 && n->receivers != NULL && i < cnt; i++) {
				long ri = rt_receiver_find(p->c, l[i]);
				if (ri < 0) {
					char names[256];
					list_receivers(p->c, names, sizeof(names));
					rv = perr(p, v, where,
					    "unknown receiver '%s' (receivers: %s)", l[i],
					    names[0] != '\0' ? names : "none defined");
				} else {
					n->receivers[n->nreceivers++] = (size_t)ri;
				}
			}
			strv_free(l);
			if (rv == 0 && n->receivers == NULL) {
				rv = td_error_set(p->err, TD_ENOMEM, "out of memory");
			}
		} else if (strcmp(k, "continue") == 0) {
			rv = take_bool(p, v, where, &n->cont);
		} else if (strcmp(k, "group_by") == 0) {
			char **l = NULL;
			if ((rv = take_list(p, v, where, &l)) != 0 || l == NULL) {
				return rv != 0 ? rv : TD_ENOMEM;
			}
			for (size_t i = 0; rv == 0 && l[i] != NULL; i++) {
				if (rt_field_index(l[i]) < 0) {
					rv = perr(p, v, where,
					    "unknown field '%s' (fields: severity, kind, workspace, "
					    "service, resource_type, resource_address, event_name, "
					    "principal)",
					    l[i]);
				}
			}
			if (rv != 0) {
				strv_free(l);
				return rv;
			}
			if (n->own_group_by) {
				strv_free(n->group_by);
			}
			n->group_by = l;
			n->own_group_by = true;
		} else if (strcmp(k, "group_wait") == 0) {
			rv = take_duration(p, v, where, &n->group_wait_ms);
		} else if (strcmp(k, "group_interval") == 0) {
			rv = take_duration(p, v, where, &n->group_interval_ms);
		} else if (strcmp(k, "repeat_interval") == 0) {
			rv = take_duration(p, v, where, &n->repeat_interval_ms);
		} else if (strcmp(k, "routes") == 0) {
			size_t cnt;
			if (v->type != YAML_SEQUENCE_NODE) {
				return perr(p, v, where, "expected a list of routes");
			}
			cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
			if ((n->children = calloc(cnt + 1, sizeof(*n->children))) == NULL) {
				return td_error_set(p->err, TD_ENOMEM, "out of memory");
			}
			rv = 0;
			for (size_t i = 0; rv == 0 && i < cnt; i++) {
				char sub[256];
				snprintf(sub, sizeof(sub), "%s.routes[%zu]", path, i);
				n->nchildren = i + 1;
				rv = parse_route(p, node(p, v->data.sequence.items.start[i]), sub,
				    n, &n->children[i]);
			}
		} else {
			return perr(p, kn, where,
			    "unknown key (a route has match, receivers, continue, group_by, "
			    "group_wait, group_interval, repeat_interval, routes)");
		}
		if (rv != 0) {
			return rv;
		}
	}
	if (parent != NULL && n->match == NULL) {
		return perr(p, m, path, "a route below the root needs match");
	}
	if (parent == NULL && n->match != NULL) {
		return perr(p, m, path, "the root route matches every alert: it takes no match");
	}
	if (n->nreceivers == 0 && n->nchildren == 0) {
		return perr(p, m, path, "a route needs receivers or routes");
	}
	return 0;
}

int
rt_parse(rt_config **out, const char *text, size_t len, const char *name, td_error *err)
{
	yaml_parser_t yp;
	parser p = { .name = name, .err = err };
	yaml_node_t *root, *route = NULL;
	int rv = 0;

	*out = NULL;
	if ((p.c = calloc(1, sizeof(*p.c))) == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	yaml_parser_initialize(&yp);
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	if (!yaml_parser_load(&yp, &p.doc)) {
		rv = td_error_set(err, TD_EINVAL, "%s:%zu: YAML syntax error: %s", name,
		    yp.problem_mark.line + 1, yp.problem != NULL ? yp.problem : "malformed");
		yaml_parser_delete(&yp);
		rt_free(p.c);
		return rv;
	}
	root = yaml_document_get_root_node(&p.doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		rv = td_error_set(err, TD_EINVAL,
		    "%s:%d: expected a mapping with receivers and route", name, line_of(root));
		goto out;
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		const char *k = scalar(node(&p, pr->key));
		if (k != NULL && strcmp(k, "receivers") == 0) {
			if ((rv = parse_receivers(&p, node(&p, pr->value))) != 0) {
				goto out;
			}
		} else if (k != NULL && strcmp(k, "route") == 0) {
			route = node(&p, pr->value);
		} else {
			rv = perr(&p, node(&p, pr->key), k != NULL ? k : "?",
			    "unknown key (the routing file has receivers and route)");
			goto out;
		}
	}
	if (route == NULL) {
		rv = td_error_set(err, TD_EINVAL, "%s:%d: route: required", name, line_of(root));
		goto out;
	}
	rv = parse_route(&p, route, "route", NULL, &p.c->root);
out:
	yaml_document_delete(&p.doc);
	yaml_parser_delete(&yp);
	if (rv != 0) {
		rt_free(p.c);
	} else {
		*out = p.c;
	}
	return rv;
}

int
rt_load_file(rt_config **out, const char *path, td_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;
	int rv;

	*out = NULL;
	if (f == NULL) {
		return td_error_set(err, TD_EIO, "%s: cannot open: %s", path, strerror(errno));
	}
	do {
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap + 65536);
			if (nb == NULL) {
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		rv = td_error_set(err, TD_EIO, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	rv = rt_parse(out, buf, len, path, err);
out:
	free(buf);
	fclose(f);
	return rv;
}

int
rt_default(rt_config **out, int min_rank)
{
	char text[256];
	td_error err;

	snprintf(text, sizeof(text),
	    "receivers: [{name: log, type: log}]\n"
	    "route:\n  receivers: [log]\n  group_by: []\n"
	    "  routes: [{match: {min_severity: %s}, receivers: [log]}]\n",
	    td_severity_name(min_rank) != NULL ? td_severity_name(min_rank) : "info");
	if (rt_parse(out, text, strlen(text), "(default routing)", &err) != 0 || *out == NULL) {
		return TD_ENOMEM;
	}
	/* below min_severity nothing: the root keeps no receivers of its own */
	(*out)->root.nreceivers = 0;
	return 0;
}

size_t
rt_receiver_count(const rt_config *c)
{
	return c->nreceivers;
}

const rt_receiver *
rt_receiver_at(const rt_config *c, size_t i)
{
	return i < c->nreceivers ? &c->receivers[i] : NULL;
}

long
rt_receiver_find(const rt_config *c, const char *name)
{
	for (size_t i = 0; i < c->nreceivers; i++) {
		if (c->receivers[i].name != NULL && strcmp(c->receivers[i].name, name) == 0) {
			return (long)i;
		}
	}
	return -1;
}

static void
add_targets(const rnode *n, rt_target *out, size_t max, size_t *cnt)
{
	for (size_t i = 0; i < n->nreceivers; i++) {
		bool seen = false;
		for (size_t k = 0; k < *cnt; k++) {
			seen = seen || out[k].receiver == n->receivers[i];
		}
		if (seen || *cnt >= max) {
			continue;
		}
		out[*cnt] = (rt_target){
			.receiver = n->receivers[i],
			.group_by = (const char *const *)n->group_by,
			.group_wait_ms = n->group_wait_ms,
			.group_interval_ms = n->group_interval_ms,
			.repeat_interval_ms = n->repeat_interval_ms,
		};
		(*cnt)++;
	}
}

/* Whether n matched; its receivers (or its children's) go to out. */
static bool
walk(const rnode *n, const rt_alert *a, rt_target *out, size_t max, size_t *cnt)
{
	bool child = false;

	if (!rt_matcher_matches(n->match, a)) {
		return false;
	}
	for (size_t i = 0; i < n->nchildren; i++) {
		if (walk(&n->children[i], a, out, max, cnt)) {
			child = true;
			if (!n->children[i].cont) {
				break;
			}
		}
	}
	if (!child) {
		add_targets(n, out, max, cnt);
	}
	return true;
}

size_t
rt_route(const rt_config *c, const rt_alert *a, rt_target *out, size_t max)
{
	size_t cnt = 0;

	walk(&c->root, a, out, max, &cnt);
	return cnt;
}

static bool
node_repeats(const rnode *n)
{
	if (n->repeat_interval_ms > 0) {
		return true;
	}
	for (size_t i = 0; i < n->nchildren; i++) {
		if (node_repeats(&n->children[i])) {
			return true;
		}
	}
	return false;
}

bool
rt_any_repeat(const rt_config *c)
{
	return node_repeats(&c->root);
}

void
rt_group_key(const rt_alert *a, const char *const *group_by, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; group_by != NULL && group_by[i] != NULL && off + 1 < len; i++) {
		int f = rt_field_index(group_by[i]);
		const char *v = f >= 0 && a->f[f] != NULL ? a->f[f] : "";
		int n = snprintf(buf + off, len - off, "%s%s", i > 0 ? "\x1f" : "", v);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off >= len) {
		buf[len - 1] = '\0';
	}
}
