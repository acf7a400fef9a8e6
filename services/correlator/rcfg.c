/* rcfg.c — the rules file (contract in rcfg.h). */
#include "rcfg.h"

#include <fnmatch.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "tfdrift/file.h"
#include "tfdrift/metrics.h"
#include "tfdrift/severity.h"

enum {
	K_ADDRESS,
	K_TYPE,
	K_ATTRIBUTE,
	K_EVENT,
	K_PRINCIPAL,
	K_WORKSPACE,
	K_TAG,
	NKEYS
};

static const char *const key_names[NKEYS] = { "address", "type", "attribute", "event", "principal",
	"workspace", "tag" };

typedef struct rrule {
	char *name;
	char *keys[NKEYS];
	int level;
	atomic_ulong hits;
	td_counter *counter; /* tfdrift_correlator_ignored_total{rule="name"} */
} rrule;

struct rcfg {
	char **principals;
	size_t nprincipals;
	rrule *ignore;
	size_t nignore;
	rrule *sev;
	size_t nsev;
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A rules file larger than this is refused (it is a few hundred lines). */
#define RULES_MAX_BYTES (16u << 20)

void
rcfg_free(rcfg *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nprincipals; i++)
		free(c->principals[i]);
	free(c->principals);
	for (size_t i = 0; i < c->nignore; i++) {
		free(c->ignore[i].name);
		for (int k = 0; k < NKEYS; k++)
			free(c->ignore[i].keys[k]);
	}
	free(c->ignore);
	for (size_t i = 0; i < c->nsev; i++) {
		free(c->sev[i].name);
		for (int k = 0; k < NKEYS; k++)
			free(c->sev[i].keys[k]);
	}
	free(c->sev);
	free(c);
}

static const char *
scalar(yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

#define ERR(node, key, ...)                                               \
	do {                                                              \
		char m_[256];                                             \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                    \
		rv = td_error_set(err, TD_EINVAL, "%s:%zu: %s: %s", name, \
		    (node)->start_mark.line + 1, key, m_);                \
		goto out;                                                 \
	} while (0)

static int
parse_rules(yaml_document_t *doc, yaml_node_t *seq, const char *section, bool sev, rrule **out,
    size_t *nout, const char *name, td_error *err)
{
	int rv = 0;
	size_t n;

	if (seq->type != YAML_SEQUENCE_NODE)
		ERR(seq, section, "want a list of rules");
	n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	*out = calloc(n + 1, sizeof(**out));
	if (*out == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *r = yaml_document_get_node(doc, *it);
		rrule *rr = &(*out)[(*nout)++];
		bool any = false;

		atomic_init(&rr->hits, 0);
		if (r->type != YAML_MAPPING_NODE)
			ERR(r, section, "a rule is a mapping of match keys");
		for (yaml_node_pair_t *p = r->data.mapping.pairs.start;
		     p < r->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = yaml_document_get_node(doc, p->key);
			yaml_node_t *vn = yaml_document_get_node(doc, p->value);
			const char *k = scalar(kn), *v = scalar(vn);
			int ki;
			if (k == NULL || v == NULL)
				ERR(kn, section, "keys and values are plain strings");
			if (strcmp(k, "name") == 0) {
				free(rr->name);
				if ((rr->name = strdup(v)) == NULL)
					return td_error_set(err, TD_ENOMEM, "out of memory");
				continue;
			}
			if (sev && strcmp(k, "level") == 0) {
				if ((rr->level = td_severity_parse(v, strlen(v))) == 0)
					ERR(vn, "level",
					    "'%s' is not one of info, low, medium, high, critical",
					    v);
				continue;
			}
			for (ki = 0; ki < NKEYS && strcmp(key_names[ki], k) != 0; ki++)
				;
			if (ki == NKEYS)
				ERR(kn, k,
				    "unknown key (want name, address, type, attribute, event, "
				    "principal, workspace, tag%s)",
				    sev ? ", level" : "");
			free(rr->keys[ki]);
			if ((rr->keys[ki] = strdup(v)) == NULL)
				return td_error_set(err, TD_ENOMEM, "out of memory");
			any = true;
		}
		if (!any)
			ERR(r, section, "a rule needs at least one match key");
		if (sev && rr->level == 0)
			ERR(r, "level", "a severity rule needs a level");
		if (rr->name == NULL) {
			char def[64];
			snprintf(def, sizeof(def), "%s-%zu", section, *nout);
			if ((rr->name = strdup(def)) == NULL)
				return td_error_set(err, TD_ENOMEM, "out of memory");
		}
		if (!sev) {
			char labels[320];
			snprintf(labels, sizeof(labels), "rule=\"%.250s\"", rr->name);
			/* a quote or backslash in a name would end the label early */
			for (char *q = labels + 6; q[1] != '\0'; q++)
				if (*q == '"' || *q == '\\' || *q == '\n')
					*q = '_';
			rr->counter = td_counter_get("tfdrift_correlator_ignored_total",
			    "Events or alerts dropped by an ignore rule of correlator.rules_file, by rule.",
			    labels);
		}
	}
out:
	return rv;
}

int
rcfg_parse(rcfg **out, const char *text, size_t len, const char *name, td_error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	rcfg *c = calloc(1, sizeof(*c));
	int rv = 0;

	*out = NULL;
	if (c == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rv = td_error_set(err, TD_EINVAL, "%s:%zu: YAML: %s", name,
		    parser.problem_mark.line + 1, parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		rcfg_free(c);
		return rv;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL)
		goto out; /* empty file: no rules */
	if (root->type != YAML_MAPPING_NODE)
		ERR(root, "(top)", "want a mapping with terraform_principals, ignore, severity");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
		const char *k = scalar(kn);

		if (k == NULL)
			ERR(kn, "(top)", "keys are plain strings");
		if (strcmp(k, "terraform_principals") == 0) {
			size_t n;
			if (vn->type != YAML_SEQUENCE_NODE)
				ERR(vn, k, "want a list of globs");
			n = (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start);
			free(c->principals);
			c->nprincipals = 0;
			if ((c->principals = calloc(n + 1, sizeof(char *))) == NULL) {
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
			for (yaml_node_item_t *it = vn->data.sequence.items.start;
			     it < vn->data.sequence.items.top; it++) {
				yaml_node_t *e = yaml_document_get_node(&doc, *it);
				const char *v = scalar(e);
				if (v == NULL || v[0] == '\0')
					ERR(e, k, "each entry is a non-empty string");
				if ((c->principals[c->nprincipals++] = strdup(v)) == NULL) {
					rv = td_error_set(err, TD_ENOMEM, "out of memory");
					goto out;
				}
			}
		} else if (strcmp(k, "ignore") == 0) {
			if (c->ignore != NULL)
				ERR(kn, k, "given twice");
			if ((rv = parse_rules(&doc, vn, k, false, &c->ignore, &c->nignore, name,
				 err)) != 0)
				goto out;
		} else if (strcmp(k, "severity") == 0) {
			if (c->sev != NULL)
				ERR(kn, k, "given twice");
			if ((rv = parse_rules(&doc, vn, k, true, &c->sev, &c->nsev, name, err)) !=
			    0)
				goto out;
		} else {
			ERR(kn, k, "unknown key (want terraform_principals, ignore, severity)");
		}
	}
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rv != 0) {
		rcfg_free(c);
		return rv;
	}
	*out = c;
	return 0;
}

int
rcfg_load_file(rcfg **out, const char *path, td_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rv;

	*out = NULL;
	if ((rv = td_file_read(path, RULES_MAX_BYTES, &buf, &len, err)) != 0)
		return rv;
	rv = rcfg_parse(out, buf, len, path, err);
	free(buf);
	return rv;
}

const char *
rcfg_terraform_principal(const rcfg *c, const char *const *names)
{
	for (size_t i = 0; c != NULL && i < c->nprincipals; i++)
		for (size_t k = 0; names[k] != NULL; k++)
			if (names[k][0] != '\0' && fnmatch(c->principals[i], names[k], 0) == 0)
				return c->principals[i];
	return NULL;
}

static bool
tag_match(const char *spec, const cJSON *tags)
{
	const char *eq = strchr(spec, '=');
	char key[256];
	const cJSON *v;

	snprintf(key, sizeof(key), "%.*s", (int)(eq ? (size_t)(eq - spec) : strlen(spec)), spec);
	v = cJSON_GetObjectItemCaseSensitive(tags, key);
	if (!cJSON_IsString(v))
		return false;
	return eq == NULL || fnmatch(eq + 1, v->valuestring, 0) == 0;
}

static bool
rule_matches(const rrule *r, const rcfg_subject *s, bool event_only)
{
	const char *vals[NKEYS] = { s->address, s->type, s->attribute, s->event, s->principal,
		s->workspace, NULL };

	for (int k = 0; k < NKEYS; k++) {
		if (r->keys[k] == NULL)
			continue;
		if (event_only && k != K_EVENT && k != K_PRINCIPAL)
			return false;
		if (k == K_TAG) {
			if (s->tags == NULL || !tag_match(r->keys[k], s->tags))
				return false;
			continue;
		}
		if (vals[k] == NULL || fnmatch(r->keys[k], vals[k], 0) != 0)
			return false;
	}
	return true;
}

const char *
rcfg_ignored(const rcfg *c, const rcfg_subject *s, bool event_only)
{
	for (size_t i = 0; c != NULL && i < c->nignore; i++) {
		if (rule_matches(&c->ignore[i], s, event_only)) {
			atomic_fetch_add(&c->ignore[i].hits, 1);
			if (c->ignore[i].counter != NULL)
				td_counter_inc(c->ignore[i].counter);
			return c->ignore[i].name;
		}
	}
	return NULL;
}

int
rcfg_severity(const rcfg *c, const rcfg_subject *s, int level)
{
	for (size_t i = 0; c != NULL && i < c->nsev; i++)
		if (rule_matches(&c->sev[i], s, false))
			level = c->sev[i].level;
	return level;
}

size_t
rcfg_rule_count(const rcfg *c)
{
	return c == NULL ? 0 : c->nignore + c->nsev;
}

bool
rcfg_ignore_stats(const rcfg *c, size_t i, const char **name, unsigned long *hits)
{
	if (c == NULL || i >= c->nignore)
		return false;
	*name = c->ignore[i].name;
	*hits = atomic_load(&c->ignore[i].hits);
	return true;
}
