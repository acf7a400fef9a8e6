/* identifiers.c — identifier rules per resource type, from identifiers.tsv. */
#include "tfdrift/identifiers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/redact.h"

#define TABLE_NAME "identifiers.tsv"

typedef struct spec {
	bool scoped;
	size_t nparts;
	const char *parts[IDX_PARTS];
} spec;

typedef struct type_rule {
	const char *type;
	size_t nspecs;
	spec specs[IDX_MAX];
	const char *text[IDX_MAX + 1]; /* the specs as written; NULL-terminated */
} type_rule;

typedef struct table {
	char *buf; /* owns every string below */
	type_rule *rules;
	size_t n;
} table;

static table the_table;
static int the_rv;
static td_error the_err;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *const fallback_text[] = { "id", "arn", "name", NULL };
static const type_rule fallback = {
	.type = "",
	.nspecs = 3,
	.specs = { { false, 1, { "id" } }, { false, 1, { "arn" } }, { false, 1, { "name" } } },
};

static bool
valid_name(const char *s)
{
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) {
			return false;
		}
	}
	return true;
}

static int
cmp_rule(const void *a, const void *b)
{
	return strcmp(((const type_rule *)a)->type, ((const type_rule *)b)->type);
}

/* Splits token (modified in place) into r->specs[r->nspecs]. */
static int
parse_spec(type_rule *r, char *token, const char *name, int line, td_error *err)
{
	spec *sp = &r->specs[r->nspecs];
	char *p = token, *plus;

	if (r->nspecs == IDX_MAX) {
		return td_error_set(err, TD_EINVAL, "%s:%d: %s: more than %d identifiers", name,
		    line, r->type, IDX_MAX);
	}
	r->text[r->nspecs] = token;
	*sp = (spec){ 0 };
	if (*p == '=') {
		sp->scoped = true;
		p++;
	}
	for (;;) {
		plus = strchr(p, '+');
		if (plus != NULL) {
			*plus = '\0';
		}
		if (sp->nparts == IDX_PARTS || !valid_name(p)) {
			return td_error_set(err, TD_EINVAL,
			    "%s:%d: %s: bad identifier \"%s\" (attr, =attr or a+b, at most %d parts)",
			    name, line, r->type, p, IDX_PARTS);
		}
		sp->parts[sp->nparts++] = p;
		if (plus == NULL) {
			break;
		}
		p = plus + 1;
	}
	r->nspecs++;
	return 0;
}

/* Parses text into t (t->buf is a copy of text that the rules point into).
 * The spec texts keep their original form because parse_spec only cuts
 * copies: each token is duplicated into buf twice (text, then parts). */
static int
parse_table(table *t, const char *text, const char *name, td_error *err)
{
	size_t len = strlen(text), cap = 64, i;
	char *line, *next, *tab, *tok, *save = NULL, *copy;
	int lineno = 0, rv = 0;

	*t = (table){ 0 };
	/* twice the text: one copy tokenised for the parts, one kept for the texts */
	if ((t->buf = malloc(2 * len + 2)) == NULL ||
	    (t->rules = calloc(cap, sizeof(*t->rules))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(t->buf, text, len + 1);
	copy = t->buf + len + 1;
	memcpy(copy, text, len + 1);
	for (line = t->buf; line != NULL && *line != '\0'; line = next) {
		type_rule *r;
		lineno++;
		next = strchr(line, '\n');
		if (next != NULL) {
			*next++ = '\0';
		}
		if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0') {
			continue;
		}
		if ((tab = strchr(line, '\t')) == NULL) {
			rv = td_error_set(err, TD_EINVAL, "%s:%d: expected TYPE<TAB>IDENTIFIERS",
			    name, lineno);
			goto out;
		}
		*tab = '\0';
		if (!valid_name(line)) {
			rv = td_error_set(err, TD_EINVAL, "%s:%d: bad type name \"%s\"", name,
			    lineno, line);
			goto out;
		}
		if (t->n == cap) {
			type_rule *nr = realloc(t->rules, 2 * cap * sizeof(*nr));
			if (nr == NULL) {
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
			t->rules = nr;
			cap *= 2;
		}
		r = &t->rules[t->n];
		*r = (type_rule){ .type = line };
		for (tok = strtok_r(tab + 1, " \t\r", &save); tok != NULL;
		     tok = strtok_r(NULL, " \t\r", &save)) {
			/* the same token in the untouched copy, for idx_attribute_names */
			char *orig = copy + (tok - t->buf);
			orig[strlen(tok)] = '\0';
			if ((rv = parse_spec(r, tok, name, lineno, err)) != 0) {
				goto out;
			}
			r->text[r->nspecs - 1] = orig;
		}
		if (r->nspecs == 0) {
			rv = td_error_set(err, TD_EINVAL, "%s:%d: %s: no identifiers", name, lineno,
			    line);
			goto out;
		}
		t->n++;
	}
	qsort(t->rules, t->n, sizeof(*t->rules), cmp_rule);
	for (i = 1; i < t->n; i++) {
		if (strcmp(t->rules[i - 1].type, t->rules[i].type) == 0) {
			rv = td_error_set(err, TD_EINVAL, "%s: %s is listed twice", name,
			    t->rules[i].type);
			goto out;
		}
	}
out:
	if (rv != 0) {
		free(t->buf);
		free(t->rules);
		*t = (table){ 0 };
	}
	return rv;
}

static void
load_once(void)
{
	the_rv = parse_table(&the_table, idx_table_text, TABLE_NAME, &the_err);
}

int
idx_init(td_error *err)
{
	pthread_once(&once, load_once);
	if (the_rv != 0 && err != NULL) {
		*err = the_err;
	}
	return the_rv;
}

int
idx_check_table(const char *text, const char *name, size_t *types, td_error *err)
{
	table t;
	int rv = parse_table(&t, text, name, err);

	if (types != NULL) {
		*types = t.n;
	}
	free(t.buf);
	free(t.rules);
	return rv;
}

size_t
idx_type_count(void)
{
	idx_init(NULL);
	return the_table.n;
}

static const type_rule *
rule_for(const char *type)
{
	type_rule key = { .type = type };
	const type_rule *r;

	idx_init(NULL);
	r = the_table.n > 0 ? bsearch(&key, the_table.rules, the_table.n, sizeof(key), cmp_rule)
			    : NULL;
	return r != NULL ? r : &fallback;
}

const char *const *
idx_attribute_names(const char *type)
{
	const type_rule *r = rule_for(type);

	return r == &fallback ? fallback_text : r->text;
}

/* The usable string value of attrs[name], or NULL. */
static const char *
attr_value(const cJSON *attrs, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(attrs, name);

	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
	    strcmp(v->valuestring, REDACT_TEXT) == 0) {
		return NULL;
	}
	return v->valuestring;
}

/* Builds a scoped or composite value in scratch; NULL when a part is missing
 * or there is no room. */
static const char *
build_value(const char *type, const spec *sp, const cJSON *attrs, char *scratch, size_t room)
{
	size_t used = 0, k, n;
	const char *v;

	if (sp->scoped) {
		n = strlen(type);
		if (n + 2 > room) {
			return NULL;
		}
		memcpy(scratch, type, n);
		scratch[n] = ':';
		used = n + 1;
	}
	for (k = 0; k < sp->nparts; k++) {
		if ((v = attr_value(attrs, sp->parts[k])) == NULL) {
			return NULL;
		}
		n = strlen(v);
		if (used + n + 2 > room) {
			return NULL;
		}
		if (k > 0) {
			scratch[used++] = '/';
		}
		memcpy(scratch + used, v, n);
		used += n;
	}
	scratch[used] = '\0';
	return scratch;
}

size_t
idx_identifiers(const char *type, const cJSON *attrs, const char **out, size_t max, char *scratch,
    size_t scratch_len)
{
	const type_rule *r = rule_for(type);
	const spec *sp;
	const char *v;
	size_t n = 0, i, k, used = 0;
	bool built;

	for (i = 0; i < r->nspecs && n < max; i++) {
		sp = &r->specs[i];
		built = sp->scoped || sp->nparts > 1;
		if (!built) {
			v = attr_value(attrs, sp->parts[0]);
		} else {
			v = scratch != NULL && used < scratch_len
			    ? build_value(type, sp, attrs, scratch + used, scratch_len - used)
			    : NULL;
		}
		if (v == NULL) {
			continue;
		}
		for (k = 0; k < n && strcmp(out[k], v) != 0; k++) {
		}
		if (k < n) {
			continue;
		}
		if (built) {
			used += strlen(v) + 1;
		}
		out[n++] = v;
	}
	return n;
}

/* Prefixes of the account-global types, and exceptions (regional types that
 * share a global prefix). */
static const char *const global_prefixes[] = { "aws_iam_", "aws_s3_", "aws_cloudfront_",
	"aws_route53_", "aws_organizations_", "aws_budgets_", "aws_ce_", "aws_shield_",
	"aws_globalaccelerator_", "aws_waf_", "aws_account_", NULL };
static const char *const regional_prefixes[] = { "aws_route53_resolver_", "aws_s3_access_point",
	"aws_s3_directory_bucket", NULL };

static bool
has_prefix(const char *type, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++) {
		if (strncmp(type, list[i], strlen(list[i])) == 0) {
			return true;
		}
	}
	return false;
}

bool
idx_type_global(const char *type)
{
	return has_prefix(type, global_prefixes) && !has_prefix(type, regional_prefixes);
}
