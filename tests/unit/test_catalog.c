/* test_catalog.c — every catalog entry against its CloudTrail record
 * (tests/fixtures/catalog/<service>.tsv), through the real normaliser and the
 * real decision code:
 *   - the entry is found by (eventSource, eventName);
 *   - with no state: a create raises UNMANAGED alerts naming exactly the
 *     expected identifiers; anything else raises nothing (not_managed);
 *   - with the resources in a state: a delete raises DELETED for each, an
 *     entry with extractors raises DRIFT on exactly the expected attributes
 *     (old value from the state, new from the request), the rest MODIFIED;
 *   - the same record by Terraform, read-only or failed raises nothing.
 * Plus: every entry has a record, the coverage the issue asks for, names
 * shared across services told apart, and catalog syntax errors by file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/catalog.h"
#include "../../services/correlator/memstate.h"
#include "../../services/correlator/rule.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/error.h"

#define FIXTURES "tests/fixtures/catalog/"

typedef struct fixture {
	char source[600], event[600];
	char *req, *resp, *arns, *ids, *attrs, *state;
	char where[600];
} fixture;

static cat_catalog *cat;
static fixture *fx;
static size_t nfx;

static char *
field(char **s)
{
	char *f = *s, *tab = strchr(f, '\t');

	if (tab != NULL) {
		*tab = '\0';
		*s = tab + 1;
	} else {
		*s = f + strlen(f);
	}
	return f;
}

static void
load_fixtures(void)
{
	const cat_entry *e;
	char seen[256][128];
	size_t nseen = 0;

	for (size_t i = 0; (e = cat_at(cat, i)) != NULL; i++) {
		const char *base = strrchr(e->file, '/') + 1;
		char path[512], line[65536], source[600] = "";
		FILE *f;
		int ln = 0;
		size_t k;

		for (k = 0; k < nseen && strcmp(seen[k], base) != 0; k++)
			;
		if (k < nseen)
			continue;
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", base);
		snprintf(path, sizeof(path), FIXTURES "%s", base);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f) != NULL) {
			char *s = line;
			fixture *x;
			ln++;
			line[strcspn(line, "\n")] = '\0';
			if (line[0] == '#' || line[0] == '\0')
				continue;
			if (strncmp(line, "@source ", 8) == 0) {
				snprintf(source, sizeof(source), "%.500s", line + 8);
				continue;
			}
			{
				fixture *nf = realloc(fx, (nfx + 1) * sizeof(*fx));
				assert_non_null(nf);
				fx = nf;
			}
			x = &fx[nfx++];
			memset(x, 0, sizeof(*x));
			snprintf(x->where, sizeof(x->where), "%.500s:%d", path, ln);
			snprintf(x->source, sizeof(x->source), "%s", source);
			snprintf(x->event, sizeof(x->event), "%.500s", field(&s));
			x->req = strdup(field(&s));
			x->resp = strdup(field(&s));
			x->arns = strdup(field(&s));
			x->ids = strdup(field(&s));
			x->attrs = strdup(field(&s));
			x->state = strdup(field(&s));
		}
		fclose(f);
	}
}

static int
setup(void **st)
{
	td_error err;

	(void)st;
	td_error_clear(&err);
	if (cat_load_embedded(&cat, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	load_fixtures();
	return 0;
}

static int
teardown(void **st)
{
	(void)st;
	for (size_t i = 0; i < nfx; i++) {
		free(fx[i].req);
		free(fx[i].resp);
		free(fx[i].arns);
		free(fx[i].ids);
		free(fx[i].attrs);
		free(fx[i].state);
	}
	free(fx);
	cat_free(cat);
	return 0;
}

/* The record as AWS writes it around the fixture's parameters. */
static Tfdrift__V1__CloudEvent *
record(const fixture *x, const char *agent, bool read_only, const char *error)
{
	char *text = NULL, res[4096] = "", *arns = strdup(x->arns), *save = NULL;
	cJSON *j;
	Tfdrift__V1__CloudEvent *ev = NULL;
	const char *why = NULL;
	ct_record_ctx ctx = { .path = x->where };
	td_error err;
	size_t o = 0;

	assert_non_null(arns);
	if (strcmp(arns, "-") != 0)
		for (char *a = strtok_r(arns, ",", &save); a != NULL;
		     a = strtok_r(NULL, ",", &save))
			o += (size_t)snprintf(res + o, sizeof(res) - o,
			    "%s{\"accountId\":\"123456789012\",\"type\":\"AWS::Fixture\",\"ARN\":\"%s\"}",
			    o ? "," : "", a);
	free(arns);
	assert_true(
	    asprintf(&text,
		"{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"AssumedRole\","
		"\"principalId\":\"AROA3XFRBF535PLBIFPI4:alice@example.com\","
		"\"arn\":\"arn:aws:sts::123456789012:assumed-role/"
		"AWSReservedSSO_AdministratorAccess_4b1c2d3e4f5a6b7c/alice@example.com\","
		"\"accountId\":\"123456789012\",\"accessKeyId\":\"ASIAFIXTUREKEY000001\","
		"\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\","
		"\"principalId\":\"AROA3XFRBF535PLBIFPI4\",\"arn\":\"arn:aws:iam::123456789012:"
		"role/aws-reserved/sso.amazonaws.com/eu-west-1/"
		"AWSReservedSSO_AdministratorAccess_4b1c2d3e4f5a6b7c\",\"accountId\":"
		"\"123456789012\",\"userName\":\"AWSReservedSSO_AdministratorAccess_"
		"4b1c2d3e4f5a6b7c\"},\"attributes\":{\"creationDate\":\"2026-11-25T09:00:00Z\","
		"\"mfaAuthenticated\":\"false\"}}},"
		"\"eventTime\":\"2026-11-25T09:14:03Z\",\"eventSource\":\"%s\",\"eventName\":\"%s\","
		"\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"203.0.113.24\","
		"\"userAgent\":\"%s\",%s%s%s\"requestParameters\":%s,\"responseElements\":%s,"
		"\"requestID\":\"5d3c1f0e-1111-4a2b-9c3d-000000000001\","
		"\"eventID\":\"9f1c2d3e-0000-4a2b-9c3d-%012zu\",\"readOnly\":%s,%s%s%s"
		"\"eventType\":\"AwsApiCall\",\"managementEvent\":true,"
		"\"recipientAccountId\":\"123456789012\",\"eventCategory\":\"Management\"}",
		x->source, x->event, agent, error ? "\"errorCode\":\"" : "", error ? error : "",
		error ? "\"," : "", x->req, x->resp, (size_t)(x - fx), read_only ? "true" : "false",
		res[0] ? "\"resources\":[" : "", res, res[0] ? "]," : "") > 0);
	j = cJSON_Parse(text);
	if (j == NULL)
		fail_msg("%s: the record is not JSON: %.200s", x->where, text);
	td_error_clear(&err);
	if (ct_record_normalise(j, &ctx, &ev, &why, &err) != 0 || ev == NULL)
		fail_msg("%s: the normaliser refused the record: %s", x->where, err.msg);
	cJSON_Delete(j);
	free(text);
	return ev;
}

static bool
in_list(const char *list, const char *s)
{
	size_t l = strlen(s);

	for (const char *p = list; (p = strstr(p, s)) != NULL; p++)
		if ((p == list || p[-1] == ',') && (p[l] == ',' || p[l] == '\0'))
			return true;
	return false;
}

static size_t
count_list(const char *list)
{
	size_t n = 1;

	if (strcmp(list, "-") == 0)
		return 0;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	return n;
}

static const char *const AGENT =
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-amd64 exe/x86_64.debian.12";

static void
one(const fixture *x)
{
	const cat_entry *e = cat_find(cat, x->source, x->event);
	memstate *ms;
	rule_state st = { .lookup = memstate_lookup, .attrs = memstate_attrs };
	rule_env env = { .catalog = cat };
	rule_alerts al = { 0 };
	rule_result res;
	Tfdrift__V1__CloudEvent *ev;
	size_t nids = count_list(x->ids), k = 0;
	char *ids, *save = NULL;

	if (e == NULL) {
		fail_msg("%s: %s %s is not in the catalog", x->where, x->source, x->event);
		return;
	}
	ev = record(x, AGENT, false, NULL);
	ids = strdup(x->ids);
	assert_non_null(ids);

	/* no state */
	assert_true(memstate_new(&ms) == 0);
	st.arg = ms;
	assert_int_equal(rule_evaluate(&env, ev, &st, 1, &al, &res), 0);
	if (e->kind == CAT_CREATE) {
		if (al.n != nids)
			fail_msg("%s: %zu unmanaged alerts, want %zu (%s)", x->where, al.n, nids,
			    res.reason);
		for (size_t i = 0; i < al.n; i++) {
			assert_int_equal(al.items[i]->kind,
			    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED);
			if (!in_list(x->ids, al.items[i]->identifiers[0]->value))
				fail_msg("%s: unexpected identifier %s", x->where,
				    al.items[i]->identifiers[0]->value);
			assert_string_equal(al.items[i]->resource_type, e->types[0]);
		}
	} else if (e->ids[0].where == CAT_R53_CHANGES) {
		/* a batch's CREATE/UPSERT of a record no state holds is unmanaged:
		 * test_correlator_rules covers each action */
	} else if (al.n != 0 || strcmp(res.skip, "not_managed") != 0) {
		fail_msg("%s: with no state: %zu alerts, skip %s (%s)", x->where, al.n,
		    res.skip ? res.skip : "-", res.reason);
	}
	rule_alerts_free(&al);
	memstate_free(ms);

	/* the resources managed */
	assert_true(memstate_new(&ms) == 0);
	st.arg = ms;
	for (char *id = strtok_r(ids, ",", &save); id != NULL; id = strtok_r(NULL, ",", &save)) {
		char addr[256];
		const char *one_id[] = { id, NULL };
		snprintf(addr, sizeof(addr), "%s.fx%zu", e->types[0], k++);
		assert_int_equal(memstate_add(ms, "fx/ws", addr, e->types[0], one_id, x->state), 0);
	}
	free(ids);
	assert_int_equal(rule_evaluate(&env, ev, &st, 1, &al, &res), 0);
	if (e->as[0] == CAT_AS_PRESENT) {
		/* the state already has what the event does */
		if (al.n != 0 || strcmp(res.skip, "no_change") != 0)
			fail_msg("%s: %zu alerts, want none (%s)", x->where, al.n, res.reason);
	} else if (e->kind == CAT_DELETE || e->as[0] == CAT_AS_DELETE) {
		if (al.n != nids)
			fail_msg("%s: %zu alerts for a delete of %zu", x->where, al.n, nids);
		for (size_t i = 0; i < al.n; i++)
			assert_int_equal(al.items[i]->kind,
			    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED);
	} else if (strcmp(x->attrs, "-") != 0) {
		if (al.n != nids * count_list(x->attrs))
			fail_msg("%s: %zu drift alerts, want %zu (%s) (%s)", x->where, al.n,
			    nids * count_list(x->attrs), x->attrs, res.reason);
		for (size_t i = 0; i < al.n; i++) {
			const Tfdrift__V1__DriftAlert *a = al.items[i];
			assert_int_equal(a->kind, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT);
			if (!in_list(x->attrs, a->attribute))
				fail_msg("%s: drift on %s, want one of %s", x->where, a->attribute,
				    x->attrs);
			assert_int_equal(a->n_changes, 1);
			if (a->changes[0]->sensitive)
				assert_string_equal(a->changes[0]->new_json, "\"(sensitive)\"");
			else
				assert_string_not_equal(a->changes[0]->old_json,
				    a->changes[0]->new_json);
			assert_non_null(strstr(a->recommended_fix, "-target="));
		}
	} else {
		if (al.n != nids)
			fail_msg("%s: %zu alerts, want %zu MODIFIED (%s)", x->where, al.n, nids,
			    res.reason);
		for (size_t i = 0; i < al.n; i++)
			assert_int_equal(al.items[i]->kind,
			    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED);
	}
	for (size_t i = 0; i < al.n; i++) {
		assert_string_equal(al.items[i]->principal->name, "alice@example.com");
		assert_string_equal(al.items[i]->principal->permission_set, "AdministratorAccess");
	}
	rule_alerts_free(&al);
	ct_event_free(ev);

	/* the same call by Terraform, read-only, failed: nothing */
	ev = record(x,
	    "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) "
	    "terraform-provider-aws/5.70.0",
	    false, NULL);
	assert_int_equal(rule_evaluate(&env, ev, &st, 1, &al, &res), 0);
	assert_int_equal(al.n, 0);
	assert_string_equal(res.skip, "terraform");
	ct_event_free(ev);
	ev = record(x, AGENT, true, NULL);
	assert_int_equal(rule_evaluate(&env, ev, &st, 1, &al, &res), 0);
	assert_string_equal(res.skip, "read_only");
	ct_event_free(ev);
	ev = record(x, AGENT, false, "AccessDenied");
	assert_int_equal(rule_evaluate(&env, ev, &st, 1, &al, &res), 0);
	assert_string_equal(res.skip, "failed");
	ct_event_free(ev);
	memstate_free(ms);
}

static void
test_every_entry_has_a_record(void **st)
{
	const cat_entry *e;

	(void)st;
	for (size_t i = 0; (e = cat_at(cat, i)) != NULL; i++) {
		size_t k;
		for (k = 0; k < nfx; k++)
			if (strcmp(fx[k].source, e->source) == 0 &&
			    strcmp(fx[k].event, e->event) == 0)
				break;
		if (k == nfx)
			fail_msg("%s:%d: %s %s has no test record in " FIXTURES, e->file, e->line,
			    e->source, e->event);
	}
}

static void
test_every_record(void **st)
{
	(void)st;
	assert_true(nfx > 0);
	for (size_t i = 0; i < nfx; i++)
		one(&fx[i]);
}

static void
test_coverage(void **st)
{
	const cat_entry *e;
	char sources[128][64];
	size_t nsrc = 0, with_attrs = 0;

	(void)st;
	for (size_t i = 0; (e = cat_at(cat, i)) != NULL; i++) {
		size_t k;
		with_attrs += e->nattrs > 0;
		for (k = 0; k < nsrc && strcmp(sources[k], e->source) != 0; k++)
			;
		if (k == nsrc && nsrc < 128)
			snprintf(sources[nsrc++], sizeof(sources[0]), "%s", e->source);
	}
	print_message("catalog: %zu events, %zu services, %zu with attribute extractors\n",
	    cat_count(cat), nsrc, with_attrs);
	assert_true(cat_count(cat) >= 300);
	assert_true(nsrc >= 35);
	assert_true(with_attrs >= 80);
}

static void
test_shared_names(void **st)
{
	static const struct {
		const char *event, *a, *ta, *b, *tb;
	} pairs[] = {
		{ "DeleteRule", "events.amazonaws.com", "aws_cloudwatch_event_rule",
		    "elasticloadbalancing.amazonaws.com", "aws_lb_listener_rule" },
		{ "UpdateTable", "dynamodb.amazonaws.com", "aws_dynamodb_table",
		    "glue.amazonaws.com", "aws_glue_catalog_table" },
		{ "CreateAlias", "kms.amazonaws.com", "aws_kms_alias", "lambda.amazonaws.com",
		    NULL },
		{ "CreateCluster", "ecs.amazonaws.com", "aws_ecs_cluster", "eks.amazonaws.com",
		    "aws_eks_cluster" },
		{ "PutResourcePolicy", "secretsmanager.amazonaws.com",
		    "aws_secretsmanager_secret_policy", "logs.amazonaws.com",
		    "aws_cloudwatch_log_resource_policy" },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const cat_entry *a = cat_find(cat, pairs[i].a, pairs[i].event);
		const cat_entry *b = cat_find(cat, pairs[i].b, pairs[i].event);
		assert_non_null(a);
		assert_string_equal(a->types[0], pairs[i].ta);
		if (pairs[i].tb != NULL) {
			assert_non_null(b);
			assert_string_equal(b->types[0], pairs[i].tb);
		} else {
			/* Lambda's is versioned: CreateAlias20150331 */
			assert_null(b);
			assert_non_null(cat_find(cat, pairs[i].b, "CreateAlias20150331"));
		}
	}
}

static void
test_syntax_errors(void **st)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "X\tmodify\taws_x\tid\t-\t-\n", "t.tsv:1: line: no @source" },
		{ "@source ec2.amazonaws.com\nX\tmodfy\taws_x\tid\t-\t-\n",
		    "t.tsv:2: kind: unknown kind 'modfy'" },
		{ "@source ec2.amazonaws.com\nX\tmodify\tx\tid\t-\t-\n", "t.tsv:2: types:" },
		{ "@source ec2.amazonaws.com\nX\tmodify\taws_x\tid\ta=b/zz\t-\n",
		    "t.tsv:2: attrs: unknown transform 'zz'" },
		{ "@source ec2.amazonaws.com\nX\tmodify\taws_x\tid\t-\tsevere\n",
		    "t.tsv:2: severity: unknown level" },
		{ "@source ec2.amazonaws.com\nX\tmodify\taws_x\tid\t-\n", "t.tsv:2: line: want 6" },
		{ "@source ec2.amazonaws.com\nX\tmodify\taws_x\tid\t-\t-\n# c\nX\tdelete\taws_x\tid\t-\t-\n",
		    "t.tsv:4: event: ec2.amazonaws.com X is already in the catalog (t.tsv:2)" },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cat_text t = { "t.tsv", bad[i].text };
		cat_catalog *c = NULL;
		td_error err;
		td_error_clear(&err);
		assert_int_equal(cat_load(&c, &t, 1, &err), TD_EINVAL);
		assert_null(c);
		if (strstr(err.msg, bad[i].want) == NULL)
			fail_msg("got '%s', want '%s'", err.msg, bad[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coverage),
		cmocka_unit_test(test_every_entry_has_a_record),
		cmocka_unit_test(test_every_record),
		cmocka_unit_test(test_shared_names),
		cmocka_unit_test(test_syntax_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
