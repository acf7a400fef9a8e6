/* test_correlator_rules.c — who (each userIdentity type) and the decision
 * rules: equal values, multi-resource events, Terraform principals from the
 * rules file, policies compared parsed, rule sets as sets, tags as maps. */
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
#include "../../services/correlator/rcfg.h"
#include "../../services/correlator/rule.h"
#include "tfdrift/error.h"
#include "tfdrift/metrics.h"

static cat_catalog *cat;

typedef struct event {
	Tfdrift__V1__CloudEvent ev;
	Tfdrift__V1__UserIdentity id;
} event;

static void
make(event *e, const char *source, const char *name, const char *req)
{
	memset(e, 0, sizeof(*e));
	tfdrift__v1__cloud_event__init(&e->ev);
	tfdrift__v1__user_identity__init(&e->id);
	e->ev.user_identity = &e->id;
	e->ev.event_id = (char *)"11111111-2222-4333-8444-555555555555";
	e->ev.event_source = (char *)source;
	e->ev.event_name = (char *)name;
	e->ev.request_parameters_json = (char *)req;
	e->ev.read_only = TFDRIFT__V1__READ_ONLY__READ_ONLY_FALSE;
	e->ev.user_agent = (char *)"aws-cli/2.15.30";
	e->id.type = (char *)"IAMUser";
	e->id.user_name = (char *)"bob";
	e->id.arn = (char *)"arn:aws:iam::123456789012:user/bob";
}

/* ---- who ----------------------------------------------------------------------- */

static void
test_who(void **st)
{
	event e;
	rule_who w;

	(void)st;
	make(&e, "ec2.amazonaws.com", "X", "{}");
	rule_resolve_who(&e.ev, &w);
	assert_string_equal(w.name, "bob");
	assert_false(w.root);

	/* an assumed role: role + session */
	e.id.type = (char *)"AssumedRole";
	e.id.user_name = (char *)"";
	e.id.arn = (char *)"arn:aws:sts::123456789012:assumed-role/platform-breakglass/oncall-2931";
	e.id.session_name = (char *)"oncall-2931";
	e.id.session_issuer_user_name = (char *)"platform-breakglass";
	rule_resolve_who(&e.ev, &w);
	assert_string_equal(w.name, "oncall-2931");
	assert_string_equal(w.role, "platform-breakglass");
	assert_string_equal(w.permission_set, "");

	/* IAM Identity Center: the person and the permission set (role from the ARN) */
	e.id.arn = (char *)"arn:aws:sts::123456789012:assumed-role/"
			   "AWSReservedSSO_NetworkAdmin_0b5e6c9d2a714f38/dave@example.com";
	e.id.session_name = (char *)"dave@example.com";
	e.id.session_issuer_user_name = (char *)"";
	rule_resolve_who(&e.ev, &w);
	assert_string_equal(w.name, "dave@example.com");
	assert_string_equal(w.role, "AWSReservedSSO_NetworkAdmin_0b5e6c9d2a714f38");
	assert_string_equal(w.permission_set, "NetworkAdmin");

	/* sourceIdentity wins over the session name */
	e.id.source_identity = (char *)"dave";
	rule_resolve_who(&e.ev, &w);
	assert_string_equal(w.name, "dave");
	e.id.source_identity = (char *)"";

	/* federated user: the name after ':' of the principalId */
	make(&e, "ec2.amazonaws.com", "X", "{}");
	e.id.type = (char *)"FederatedUser";
	e.id.user_name = (char *)"";
	e.id.principal_id = (char *)"123456789012:carol-federated";
	rule_resolve_who(&e.ev, &w);
	assert_string_equal(w.name, "carol-federated");

	/* web identity */
	e.id.type = (char *)"WebIdentityUser";
	e.id.user_name = (char *)"accounts.google.com:1234567890";
	e.id.identity_provider = (char *)"accounts.google.com";
	rule_resolve_who(&e.ev, &w);
	assert_string_equal(w.name, "accounts.google.com:1234567890");

	/* root, flagged */
	make(&e, "ec2.amazonaws.com", "X", "{}");
	e.id.type = (char *)"Root";
	e.id.user_name = (char *)"";
	e.id.arn = (char *)"arn:aws:iam::123456789012:root";
	rule_resolve_who(&e.ev, &w);
	assert_string_equal(w.name, "root");
	assert_true(w.root);

	/* an AWS service acting */
	make(&e, "ec2.amazonaws.com", "X", "{}");
	e.id.type = (char *)"AWSService";
	e.id.user_name = (char *)"";
	e.id.arn = (char *)"";
	e.id.invoked_by = (char *)"autoscaling.amazonaws.com";
	rule_resolve_who(&e.ev, &w);
	assert_string_equal(w.name, "autoscaling.amazonaws.com");
	assert_true(w.service);
}

/* ---- decisions -------------------------------------------------------------------- */

static memstate *
state(void)
{
	memstate *m;
	const char *i0[] = { "i-0aaa", NULL }, *i1[] = { "i-0bbb", NULL };
	const char *sg[] = { "sg-0aaa", NULL }, *pol[] = { "r:p", NULL };

	assert_int_equal(memstate_new(&m), 0);
	assert_int_equal(memstate_add(m, "prod", "aws_instance.a", "aws_instance", i0,
			     "{\"instance_type\":\"t3.medium\",\"tags\":{\"Owner\":\"bob\"},"
			     "\"metadata_options\":[{\"http_tokens\":\"required\"}]}"),
	    0);
	assert_int_equal(memstate_add(m, "prod", "aws_instance.b", "aws_instance", i1,
			     "{\"instance_type\":\"t3.medium\"}"),
	    0);
	assert_int_equal(
	    memstate_add(m, "prod", "aws_security_group.web", "aws_security_group", sg,
		"{\"ingress\":[{\"protocol\":\"tcp\",\"from_port\":443,\"to_port\":443,"
		"\"cidr_blocks\":[\"0.0.0.0/0\"]}]}"),
	    0);
	assert_int_equal(memstate_add(m, "prod", "aws_iam_role_policy.p", "aws_iam_role_policy",
			     pol,
			     "{\"policy\":\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":"
			     "[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":\\\"s3:GetObject\\\","
			     "\\\"Resource\\\":\\\"*\\\"}]}\"}"),
	    0);
	return m;
}

static rule_result res; /* the last run's */

static const char *
run(const rcfg *cfg, event *e, size_t *n, rule_alerts *al)
{
	memstate *m = state();
	rule_state st = { .lookup = memstate_lookup, .attrs = memstate_attrs, .arg = m };
	rule_env env = { .catalog = cat, .cfg = cfg };

	assert_int_equal(rule_evaluate(&env, &e->ev, &st, 1, al, &res), 0);
	memstate_free(m);
	*n = al->n;
	return res.skip ? res.skip : "alerts";
}

static void
test_equal_values_are_not_drift(void **st)
{
	static const struct {
		const char *source, *name, *req, *want;
	} cases[] = {
		{ "ec2.amazonaws.com", "ModifyInstanceAttribute",
		    "{\"instanceId\":\"i-0aaa\",\"instanceType\":{\"value\":\"t3.medium\"}}",
		    "no_change" },
		{ "ec2.amazonaws.com", "ModifyInstanceAttribute",
		    "{\"instanceId\":\"i-0aaa\",\"instanceType\":{\"value\":\"t3.large\"}}",
		    "alerts" },
		{ "ec2.amazonaws.com", "CreateTags",
		    "{\"resourcesSet\":{\"items\":[{\"resourceId\":\"i-0aaa\"}]},\"tagSet\":{\"items\":"
		    "[{\"key\":\"Owner\",\"value\":\"bob\"}]}}",
		    "no_change" },
		{ "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
		    "{\"groupId\":\"sg-0aaa\",\"ipPermissions\":{\"items\":[{\"ipProtocol\":\"tcp\","
		    "\"fromPort\":443,\"toPort\":443,\"ipRanges\":{\"items\":[{\"cidrIp\":"
		    "\"0.0.0.0/0\"}]}}]}}",
		    "no_change" },
		{ "ec2.amazonaws.com", "RevokeSecurityGroupIngress",
		    "{\"groupId\":\"sg-0aaa\",\"ipPermissions\":{\"items\":[{\"ipProtocol\":\"tcp\","
		    "\"fromPort\":22,\"toPort\":22,\"ipRanges\":{\"items\":[{\"cidrIp\":"
		    "\"0.0.0.0/0\"}]}}]}}",
		    "no_change" },
		/* the same policy, URL-encoded and laid out differently */
		{ "iam.amazonaws.com", "PutRolePolicy",
		    "{\"roleName\":\"r\",\"policyName\":\"p\",\"policyDocument\":\"%7B%22Version%22%3A%20"
		    "%222012-10-17%22%2C%20%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22"
		    "Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22*%22%7D%5D%7D\"}",
		    "no_change" },
		{ "iam.amazonaws.com", "PutRolePolicy",
		    "{\"roleName\":\"r\",\"policyName\":\"p\",\"policyDocument\":\"{\\\"Version\\\":"
		    "\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":"
		    "\\\"s3:*\\\",\\\"Resource\\\":\\\"*\\\"}]}\"}",
		    "alerts" },
		/* nested blocks by Terraform path: metadata_options.0.http_tokens */
		{ "ec2.amazonaws.com", "ModifyInstanceMetadataOptions",
		    "{\"instanceId\":\"i-0aaa\",\"httpTokens\":\"required\"}", "no_change" },
		{ "ec2.amazonaws.com", "ModifyInstanceMetadataOptions",
		    "{\"instanceId\":\"i-0aaa\",\"httpTokens\":\"optional\"}", "alerts" },
		/* a change to something no state holds, not a creation: nothing */
		{ "ec2.amazonaws.com", "ModifyInstanceAttribute",
		    "{\"instanceId\":\"i-0zzz\",\"instanceType\":{\"value\":\"t3.large\"}}",
		    "not_managed" },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		event e;
		rule_alerts al = { 0 };
		size_t n;
		const char *got;
		make(&e, cases[i].source, cases[i].name, cases[i].req);
		got = run(NULL, &e, &n, &al);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu (%s): got %s, want %s", i, cases[i].name, got,
			    cases[i].want);
		rule_alerts_free(&al);
	}
}

/* A catalog match on a managed resource whose request the extractors cannot
 * read is a coarse MODIFIED alert and an extractor miss, never silence. */
static void
test_never_silent(void **st)
{
	static const char *const reqs[] = {
		/* ModifyInstanceAttribute of something the entry has no extractor for */
		"{\"instanceId\":\"i-0aaa\",\"kernel\":{\"value\":\"aki-1\"}}",
		/* the legacy form by source group name: nothing the sgadd extractor reads */
		"{\"groupId\":\"sg-0aaa\",\"ipPermissions\":{},\"sourceSecurityGroupName\":\"x\","
		"\"sourceSecurityGroupOwnerId\":\"123456789012\"}",
	};
	static const char *const names[] = { "ModifyInstanceAttribute",
		"AuthorizeSecurityGroupIngress" };

	(void)st;
	for (size_t i = 0; i < 2; i++) {
		event e;
		rule_alerts al = { 0 };
		size_t n;
		make(&e, "ec2.amazonaws.com", names[i], reqs[i]);
		assert_string_equal(run(NULL, &e, &n, &al), "alerts");
		assert_int_equal(n, 1);
		assert_int_equal(al.items[0]->kind, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED);
		assert_int_equal(res.coarse, 1);
		assert_int_equal(res.precise, 0);
		assert_true(res.miss);
		assert_non_null(res.entry);
		rule_alerts_free(&al);
	}
}

/* The extractors of issue 17, one row per request form: the decision, the
 * number of alerts and the first one's kind, address and attribute. */
static memstate *
state2(void)
{
	memstate *m;
	const char *sgr[] = { "sgr-0aaa", NULL }, *sg[] = { "sg-0bbb", NULL };
	const char *role[] = { "r", NULL },
		   *att[] = { "aws_iam_role_policy_attachment:r/arn:p", NULL };
	const char *acl[] = { "aws_s3_bucket_acl:b", NULL }, *bkt[] = { "b", NULL };
	const char *rec[] = { "Z1_www.example.com_A", NULL },
		   *rec2[] = { "Z1_old.example.com_CNAME", NULL };
	const char *obj[] = { "b/k1", NULL };

	assert_int_equal(memstate_new(&m), 0);
	assert_int_equal(memstate_add(m, "w", "aws_vpc_security_group_ingress_rule.ssh",
			     "aws_vpc_security_group_ingress_rule", sgr,
			     "{\"ip_protocol\":\"tcp\",\"from_port\":22,\"to_port\":22,"
			     "\"cidr_ipv4\":\"10.0.0.0/8\",\"description\":\"\"}"),
	    0);
	assert_int_equal(memstate_add(m, "w", "aws_security_group.b", "aws_security_group", sg,
			     "{\"ingress\":[{\"protocol\":\"tcp\",\"from_port\":22,\"to_port\":22,"
			     "\"cidr_blocks\":[\"10.0.0.0/8\"]}],\"egress\":[]}"),
	    0);
	assert_int_equal(
	    memstate_add(m, "w", "aws_iam_role.r", "aws_iam_role", role,
		"{\"managed_policy_arns\":[\"arn:p\"],\"inline_policy\":[{\"name\":\"keep\","
		"\"policy\":\"{}\"},{\"name\":\"gone\",\"policy\":\"{}\"}],"
		"\"permissions_boundary\":\"\"}"),
	    0);
	assert_int_equal(memstate_add(m, "w", "aws_iam_role_policy_attachment.p",
			     "aws_iam_role_policy_attachment", att,
			     "{\"role\":\"r\",\"policy_arn\":\"arn:p\"}"),
	    0);
	assert_int_equal(memstate_add(m, "w", "aws_s3_bucket.b", "aws_s3_bucket", bkt,
			     "{\"tags\":{\"Owner\":\"alice\",\"Team\":\"x\"}}"),
	    0);
	assert_int_equal(
	    memstate_add(m, "w", "aws_s3_bucket_acl.b", "aws_s3_bucket_acl", acl,
		"{\"acl\":null,\"access_control_policy\":[{\"grant\":[{\"grantee\":[{\"type\":"
		"\"CanonicalUser\",\"id\":\"own\"}],\"permission\":\"FULL_CONTROL\"}]}]}"),
	    0);
	assert_int_equal(memstate_add(m, "w", "aws_route53_record.www", "aws_route53_record", rec,
			     "{\"ttl\":300,\"records\":[\"192.0.2.1\"]}"),
	    0);
	assert_int_equal(memstate_add(m, "w", "aws_route53_record.old", "aws_route53_record", rec2,
			     "{\"ttl\":300,\"records\":[\"x.example.com\"]}"),
	    0);
	assert_int_equal(memstate_add(m, "w", "aws_s3_object.k1", "aws_s3_object", obj, "{}"), 0);
	return m;
}

static void
test_extractors(void **st)
{
	static const struct {
		const char *source, *name, *req, *want;
		size_t n;
		const char *first; /* kind:address:attribute of the first alert */
	} cases[] = {
		/* a rule resource modified by its id: its own attributes */
		{ "ec2.amazonaws.com", "ModifySecurityGroupRules",
		    "{\"ModifySecurityGroupRulesRequest\":{\"GroupId\":\"sg-0bbb\",\"SecurityGroupRule\":"
		    "{\"SecurityGroupRuleId\":\"sgr-0aaa\",\"SecurityGroupRule\":{\"IpProtocol\":\"tcp\","
		    "\"FromPort\":22,\"ToPort\":22,\"CidrIpv4\":\"0.0.0.0/0\"}}}}",
		    "alerts", 1, "drift:aws_vpc_security_group_ingress_rule.ssh:cidr_ipv4" },
		/* a rule id no state holds: the group, coarsely (no values to compare) */
		{ "ec2.amazonaws.com", "ModifySecurityGroupRules",
		    "{\"ModifySecurityGroupRulesRequest\":{\"GroupId\":\"sg-0bbb\",\"SecurityGroupRule\":"
		    "{\"SecurityGroupRuleId\":\"sgr-0zzz\",\"SecurityGroupRule\":{\"IpProtocol\":\"tcp\"}}}}",
		    "alerts", 1, "modified:aws_security_group.b:" },
		/* revoked by rule id: the rule resource is deleted */
		{ "ec2.amazonaws.com", "RevokeSecurityGroupIngress",
		    "{\"groupId\":\"sg-0bbb\",\"securityGroupRuleIds\":{\"items\":[{\"securityGroupRuleId\":"
		    "\"sgr-0aaa\"}]}}",
		    "alerts", 1, "deleted:aws_vpc_security_group_ingress_rule.ssh:" },
		/* the legacy form, the same rule as the state: silence */
		{ "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
		    "{\"groupId\":\"sg-0bbb\",\"ipPermissions\":{},\"ipProtocol\":\"tcp\",\"fromPort\":22,"
		    "\"toPort\":22,\"cidrIp\":\"10.0.0.0/8\"}",
		    "no_change", 0, NULL },
		/* the legacy form without ipPermissions at all */
		{ "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
		    "{\"groupId\":\"sg-0bbb\",\"ipProtocol\":\"tcp\",\"fromPort\":22,\"toPort\":22,"
		    "\"cidrIp\":\"0.0.0.0/0\"}",
		    "alerts", 1, "drift:aws_security_group.b:ingress" },
		/* detaching a policy an attachment resource holds: that resource is deleted */
		{ "iam.amazonaws.com", "DetachRolePolicy",
		    "{\"roleName\":\"r\",\"policyArn\":\"arn:p\"}", "alerts", 1,
		    "deleted:aws_iam_role_policy_attachment.p:" },
		/* attaching one an attachment resource holds: silence */
		{ "iam.amazonaws.com", "AttachRolePolicy",
		    "{\"roleName\":\"r\",\"policyArn\":\"arn:p\"}", "no_change", 0, NULL },
		/* to a role no state holds: nothing */
		{ "iam.amazonaws.com", "AttachRolePolicy",
		    "{\"roleName\":\"x\",\"policyArn\":\"arn:p\"}", "not_managed", 0, NULL },
		{ "iam.amazonaws.com", "DeleteRolePolicy",
		    "{\"roleName\":\"r\",\"policyName\":\"gone\"}", "alerts", 1,
		    "drift:aws_iam_role.r:inline_policy" },
		{ "iam.amazonaws.com", "DeleteRolePolicy",
		    "{\"roleName\":\"r\",\"policyName\":\"never\"}", "no_change", 0, NULL },
		/* PutRolePolicy of the document the state has: silence */
		{ "iam.amazonaws.com", "PutRolePolicy",
		    "{\"roleName\":\"r\",\"policyName\":\"keep\",\"policyDocument\":\"{}\"}",
		    "no_change", 0, NULL },
		/* a canned ACL vs the grants AWS expands it to: private == owner only */
		{ "s3.amazonaws.com", "PutBucketAcl",
		    "{\"bucketName\":\"b\",\"x-amz-acl\":[\"private\"]}", "no_change", 0, NULL },
		{ "s3.amazonaws.com", "PutBucketAcl",
		    "{\"bucketName\":\"b\",\"x-amz-acl\":[\"public-read\"]}", "alerts", 1,
		    "drift:aws_s3_bucket_acl.b:access_control_policy.0.grant" },
		/* PutBucketTagging replaces the set: a changed key and a removed one */
		{ "s3.amazonaws.com", "PutBucketTagging",
		    "{\"bucketName\":\"b\",\"Tagging\":{\"TagSet\":{\"Tag\":{\"Key\":\"Owner\","
		    "\"Value\":\"bob\"}}}}",
		    "alerts", 2, "drift:aws_s3_bucket.b:tags.Owner" },
		/* a batch: UPSERT of a managed record, DELETE of another, CREATE of a new one */
		{ "route53.amazonaws.com", "ChangeResourceRecordSets",
		    "{\"hostedZoneId\":\"/hostedzone/Z1\",\"changeBatch\":{\"changes\":[{\"action\":\"UPSERT\","
		    "\"resourceRecordSet\":{\"name\":\"WWW.example.com.\",\"type\":\"A\",\"tTL\":300,"
		    "\"resourceRecords\":[{\"value\":\"192.0.2.9\"}]}},{\"action\":\"DELETE\","
		    "\"resourceRecordSet\":{\"name\":\"old.example.com.\",\"type\":\"CNAME\"}},"
		    "{\"action\":\"CREATE\",\"resourceRecordSet\":{\"name\":\"new.example.com.\","
		    "\"type\":\"A\"}}]}}",
		    "alerts", 3, "drift:aws_route53_record.www:records" },
		/* DeleteObjects listing its keys: one decision per object */
		{ "s3.amazonaws.com", "DeleteObjects",
		    "{\"bucketName\":\"b\",\"Delete\":{\"Object\":[{\"Key\":\"k1\"},{\"Key\":\"k2\"}]}}",
		    "alerts", 1, "deleted:aws_s3_object.k1:" },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		event e;
		rule_alerts al = { 0 };
		memstate *m = state2();
		rule_state rs = { .lookup = memstate_lookup, .attrs = memstate_attrs, .arg = m };
		rule_env env = { .catalog = cat };
		const char *got;
		char first[300] = "";
		make(&e, cases[i].source, cases[i].name, cases[i].req);
		assert_int_equal(rule_evaluate(&env, &e.ev, &rs, 1, &al, &res), 0);
		got = res.skip ? res.skip : "alerts";
		if (al.n > 0) {
			static const char *const kinds[] = { "?", "drift", "unmanaged", "deleted",
				"modified" };
			int k = (int)al.items[0]->kind;
			snprintf(first, sizeof(first), "%s:%s:%s", k >= 0 && k < 5 ? kinds[k] : "?",
			    al.items[0]->resource_address ? al.items[0]->resource_address : "",
			    al.items[0]->attribute ? al.items[0]->attribute : "");
		}
		if (strcmp(got, cases[i].want) != 0 || al.n != cases[i].n ||
		    (cases[i].first != NULL && strcmp(first, cases[i].first) != 0))
			fail_msg(
			    "case %zu (%s): got %s, %zu alerts, first %s; want %s, %zu, %s (%s)", i,
			    cases[i].name, got, al.n, first, cases[i].want, cases[i].n,
			    cases[i].first ? cases[i].first : "-", res.reason);
		rule_alerts_free(&al);
		memstate_free(m);
	}
}

static void
test_multi_resource(void **st)
{
	event e;
	rule_alerts al = { 0 };
	size_t n;

	(void)st;
	/* two managed instances and one unknown terminated at once */
	make(&e, "ec2.amazonaws.com", "TerminateInstances",
	    "{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-0aaa\"},{\"instanceId\":\"i-0zzz\"},"
	    "{\"instanceId\":\"i-0bbb\"}]}}");
	assert_string_equal(run(NULL, &e, &n, &al), "alerts");
	assert_int_equal(n, 2);
	assert_string_equal(al.items[0]->resource_address, "aws_instance.a");
	assert_string_equal(al.items[1]->resource_address, "aws_instance.b");
	assert_int_equal(al.items[0]->kind, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED);
	assert_int_equal(al.items[0]->severity, TFDRIFT__V1__SEVERITY__SEVERITY_HIGH);
	assert_string_not_equal(al.items[0]->alert_key, al.items[1]->alert_key);
	rule_alerts_free(&al);

	/* RunInstances of two: two unmanaged alerts with import blocks */
	make(&e, "ec2.amazonaws.com", "RunInstances", "{}");
	e.ev.response_elements_json = (char *)"{\"instancesSet\":{\"items\":[{\"instanceId\":"
					      "\"i-0new1\"},{\"instanceId\":\"i-0new2\"}]}}";
	assert_string_equal(run(NULL, &e, &n, &al), "alerts");
	assert_int_equal(n, 2);
	assert_int_equal(al.items[1]->kind, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED);
	assert_non_null(strstr(al.items[1]->recommended_fix, "to = aws_instance.i_0new2"));
	rule_alerts_free(&al);
}

static void
test_rules_file(void **st)
{
	static const char text[] = "terraform_principals:\n"
				   "  - \"arn:aws:sts::*:assumed-role/terraform-ci/*\"\n"
				   "ignore:\n"
				   "  - name: owner-tags\n"
				   "    attribute: \"tags.Owner\"\n"
				   "severity:\n"
				   "  - name: prod-critical\n"
				   "    workspace: prod\n"
				   "    type: aws_instance\n"
				   "    level: critical\n";
	rcfg *cfg;
	td_error err;
	event e;
	rule_alerts al = { 0 };
	size_t n;
	const char *name;
	unsigned long hits;

	(void)st;
	td_error_clear(&err);
	assert_int_equal(rcfg_parse(&cfg, text, strlen(text), "rules.yaml", &err), 0);

	make(&e, "ec2.amazonaws.com", "ModifyInstanceAttribute",
	    "{\"instanceId\":\"i-0aaa\",\"instanceType\":{\"value\":\"t3.large\"}}");
	e.id.type = (char *)"AssumedRole";
	e.id.arn = (char *)"arn:aws:sts::123456789012:assumed-role/terraform-ci/github-actions-1";
	assert_string_equal(run(cfg, &e, &n, &al), "terraform");

	e.id.arn = (char *)"arn:aws:sts::123456789012:assumed-role/admin/alice";
	assert_string_equal(run(cfg, &e, &n, &al), "alerts");
	assert_int_equal(al.items[0]->severity, TFDRIFT__V1__SEVERITY__SEVERITY_CRITICAL);
	rule_alerts_free(&al);

	make(&e, "ec2.amazonaws.com", "CreateTags",
	    "{\"resourcesSet\":{\"items\":[{\"resourceId\":\"i-0aaa\"}]},\"tagSet\":{\"items\":"
	    "[{\"key\":\"Owner\",\"value\":\"carol\"}]}}");
	assert_string_equal(run(cfg, &e, &n, &al), "ignored");
	assert_true(rcfg_ignore_stats(cfg, 0, &name, &hits));
	assert_string_equal(name, "owner-tags");
	assert_int_equal(hits, 1);
	/* and counted by rule in the metrics the admin server serves */
	assert_int_equal(td_counter_value(td_counter_get("tfdrift_correlator_ignored_total", "x",
			     "rule=\"owner-tags\"")),
	    1);
	rcfg_free(cfg);

	/* errors name file:line:key */
	assert_int_equal(rcfg_parse(&cfg, "severity:\n  - type: x\n    level: severe\n", 39,
			     "r.yaml", &err),
	    TD_EINVAL);
	assert_non_null(strstr(err.msg, "r.yaml:3: level:"));
	assert_int_equal(rcfg_parse(&cfg, "ignore: [1, 2\n", 14, "r.yaml", &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "r.yaml:"));
}

static int
setup(void **st)
{
	td_error err;

	(void)st;
	td_error_clear(&err);
	return cat_load_embedded(&cat, &err) == 0 ? 0 : -1;
}

static int
teardown(void **st)
{
	(void)st;
	cat_free(cat);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_who),
		cmocka_unit_test(test_equal_values_are_not_drift),
		cmocka_unit_test(test_never_silent),
		cmocka_unit_test(test_extractors),
		cmocka_unit_test(test_multi_resource),
		cmocka_unit_test(test_rules_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
