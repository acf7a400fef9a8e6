/* bench_correlator.c — the correlation path per core with a warm cache,
 * against cJSON_Parse of the same full records alone.
 *
 *   bench_correlator [EVENTS] [ROUNDS] [scoped|unscoped]
 *
 * A realistic mix of CloudTrail records (shaped as AWS writes them, ~1.5 KB):
 * 60% read-only calls, 15% writes the catalog does not map (sign-ins, data
 * calls), 10% Terraform's own applies, 5% changes to resources no state holds,
 * 10% changes to managed resources (instance attributes, stop, a security
 * group opened in the legacy form, a policy attached to a role, tags, a
 * reboot, deletes).  The
 * records are normalised to CloudEvents first (ingest's work, not timed); the
 * resource index is in memory (memstate: the same lcache the service keeps
 * Redis answers in).  One thread.  Prints events/s for rule_evaluate, for
 * cJSON_Parse+Delete of the raw records, and the ratio; then how precise the
 * mix's alerts on managed resources are (DRIFT naming an attribute with old
 * and new values vs coarse MODIFIED, by catalog entry), and the catalog's
 * coverage: entries on existing resources with and without extractors.
 * The instances are indexed scoped by account and region, as the state-loader
 * indexes a state with ARNs (tfdrift/scope.h: most lookups hit the first field
 * asked for); a second figure has them unscoped (a state of unknown account:
 * every lookup tries the event's scoped fields first, the worst case).  A
 * third argument runs one of the two passes only (to profile it alone). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/catalog.h"
#include "../services/correlator/memstate.h"
#include "../services/correlator/rule.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/clock.h"
#include "tfdrift/identifiers.h"

#define NINST 1000
#define NSG 100

static const char ident_sso[] =
    "{\"type\":\"AssumedRole\",\"principalId\":\"AROA3XFRBF535PLBIFPI4:alice@example.com\","
    "\"arn\":\"arn:aws:sts::123456789012:assumed-role/"
    "AWSReservedSSO_AdministratorAccess_4b1c2d3e4f5a6b7c/alice@example.com\","
    "\"accountId\":\"123456789012\",\"accessKeyId\":\"ASIA3XFRBF53EXAMPLE1\","
    "\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":"
    "\"AROA3XFRBF535PLBIFPI4\",\"arn\":\"arn:aws:iam::123456789012:role/aws-reserved/"
    "sso.amazonaws.com/eu-west-1/AWSReservedSSO_AdministratorAccess_4b1c2d3e4f5a6b7c\","
    "\"accountId\":\"123456789012\",\"userName\":"
    "\"AWSReservedSSO_AdministratorAccess_4b1c2d3e4f5a6b7c\"},\"webIdFederationData\":{},"
    "\"attributes\":{\"creationDate\":\"2026-11-25T08:55:12Z\",\"mfaAuthenticated\":\"false\"}}}";

static char *
record(size_t i, const char *source, const char *name, bool ro, const char *agent, const char *req,
    const char *resp)
{
	char *s = NULL;

	if (asprintf(&s,
		"{\"eventVersion\":\"1.09\",\"userIdentity\":%s,\"eventTime\":\"2026-11-25T09:%02zu:%02zuZ\","
		"\"eventSource\":\"%s\",\"eventName\":\"%s\",\"awsRegion\":\"eu-west-1\","
		"\"sourceIPAddress\":\"203.0.113.24\",\"userAgent\":\"%s\",\"requestParameters\":%s,"
		"\"responseElements\":%s,\"requestID\":\"5d3c1f0e-1111-4a2b-9c3d-%012zu\","
		"\"eventID\":\"9f1c2d3e-0000-4a2b-9c3d-%012zu\",\"readOnly\":%s,"
		"\"eventType\":\"AwsApiCall\",\"managementEvent\":true,"
		"\"recipientAccountId\":\"123456789012\",\"eventCategory\":\"Management\","
		"\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\","
		"\"clientProvidedHostHeader\":\"ec2.eu-west-1.amazonaws.com\"},"
		"\"sessionCredentialFromConsole\":\"true\"}",
		ident_sso, (i / 60) % 60, i % 60, source, name, agent, req, resp, i, i,
		ro ? "true" : "false") < 0)
		return NULL;
	return s;
}

static const char CLI[] =
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-amd64 exe/x86_64.debian.12 prompt/off";
static const char TF[] =
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) "
    "terraform-provider-aws/5.70.0 (+https://registry.terraform.io/providers/hashicorp/aws)";

static char *
make_one(size_t i)
{
	char req[1024], resp[512] = "null";
	unsigned k = (unsigned)(i * 2654435761u) % 100, inst = (unsigned)(i % NINST);

	if (k < 60) {
		snprintf(req, sizeof(req),
		    "{\"instancesSet\":{},\"filterSet\":{\"items\":[{\"name\":\"tag:Environment\","
		    "\"valueSet\":{\"items\":[{\"value\":\"prod\"}]}},{\"name\":\"instance-state-name\","
		    "\"valueSet\":{\"items\":[{\"value\":\"running\"}]}}]},\"maxResults\":%u}",
		    100 + k);
		return record(i, "ec2.amazonaws.com", "DescribeInstances", true, CLI, req, "null");
	}
	if (k < 75) {
		snprintf(req, sizeof(req),
		    "{\"bucketName\":\"acme-logs-%u\",\"Host\":\"acme-logs.s3.eu-west-1.amazonaws.com\","
		    "\"key\":\"app/2026/11/25/part-%u.gz\"}",
		    k, inst);
		return record(i, "s3.amazonaws.com", "PutObject", false, CLI, req, "null");
	}
	if (k < 85) {
		snprintf(req, sizeof(req),
		    "{\"instanceId\":\"i-0a1b2c3d4e5f6%04x\",\"disableApiTermination\":{\"value\":true}}",
		    inst);
		return record(i, "ec2.amazonaws.com", "ModifyInstanceAttribute", false, TF, req,
		    "{\"requestId\":\"2e7abed5-658e-430d-8569-80bb0977e471\",\"_return\":true}");
	}
	if (k < 90) {
		snprintf(req, sizeof(req),
		    "{\"instanceId\":\"i-0ffff%012zx\",\"instanceType\":{\"value\":\"t3.xlarge\"}}",
		    i);
		return record(i, "ec2.amazonaws.com", "ModifyInstanceAttribute", false, CLI, req,
		    "{\"requestId\":\"2e7abed5-658e-430d-8569-80bb0977e471\",\"_return\":true}");
	}
	if (k < 92) {
		snprintf(req, sizeof(req),
		    "{\"instanceId\":\"i-0a1b2c3d4e5f6%04x\",\"instanceType\":{\"value\":\"t3.xlarge\"}}",
		    inst);
		snprintf(resp, sizeof(resp), "{\"requestId\":\"2e7abed5-658e\",\"_return\":true}");
		return record(i, "ec2.amazonaws.com", "ModifyInstanceAttribute", false, CLI, req,
		    resp);
	}
	if (k < 93) {
		snprintf(req, sizeof(req),
		    "{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-0a1b2c3d4e5f6%04x\"}]},"
		    "\"force\":false}",
		    inst);
		return record(i, "ec2.amazonaws.com", "StopInstances", false, CLI, req, "null");
	}
	if (k < 94) {
		/* boto3 authorize_security_group_ingress(CidrIp=...): the legacy form */
		snprintf(req, sizeof(req),
		    "{\"groupId\":\"sg-0a1b2c3d4e5f6%04x\",\"ipPermissions\":{},\"ipProtocol\":\"tcp\","
		    "\"fromPort\":22,\"toPort\":22,\"cidrIp\":\"0.0.0.0/0\"}",
		    inst % NSG);
		return record(i, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", false,
		    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1.0 lang/python#3.11.8", req,
		    "{\"_return\":true}");
	}
	if (k < 95) {
		snprintf(req, sizeof(req),
		    "{\"roleName\":\"app-role-%u\",\"policyArn\":\"arn:aws:iam::aws:policy/"
		    "AdministratorAccess\"}",
		    inst % NSG);
		return record(i, "iam.amazonaws.com", "AttachRolePolicy", false, CLI, req, "null");
	}
	if (k < 97) {
		snprintf(req, sizeof(req),
		    "{\"resourcesSet\":{\"items\":[{\"resourceId\":\"i-0a1b2c3d4e5f6%04x\"}]},"
		    "\"tagSet\":{\"items\":[{\"key\":\"Owner\",\"value\":\"bob\"}]}}",
		    inst);
		return record(i, "ec2.amazonaws.com", "CreateTags", false, CLI, req, "null");
	}
	if (k < 98) {
		/* carries no value a state attribute holds: coarse by nature */
		snprintf(req, sizeof(req),
		    "{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-0a1b2c3d4e5f6%04x\"}]}}",
		    inst);
		return record(i, "ec2.amazonaws.com", "RebootInstances", false, CLI, req, "null");
	}
	snprintf(req, sizeof(req),
	    "{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-0a1b2c3d4e5f6%04x\"}]}}", inst);
	return record(i, "ec2.amazonaws.com", "TerminateInstances", false, CLI, req, "null");
}

/* The alerts of one pass over the mix, by kind; coarse ones by entry. */
typedef struct precision {
	size_t precise, coarse, deleted, unmanaged, misses;
	const cat_entry *entry[32];
	size_t n_entry[32], nent;
} precision;

static void
tally(precision *p, const rule_result *res, const rule_alerts *al)
{
	size_t k;

	p->precise += res->precise;
	p->coarse += res->coarse;
	p->misses += res->miss;
	for (size_t i = 0; i < al->n; i++) {
		p->deleted += al->items[i]->kind == TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED;
		p->unmanaged += al->items[i]->kind == TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED;
	}
	if (res->coarse == 0 || res->entry == NULL)
		return;
	for (k = 0; k < p->nent && p->entry[k] != res->entry; k++)
		;
	if (k == 32)
		return;
	if (k == p->nent)
		p->entry[p->nent++] = res->entry;
	p->n_entry[k] += res->coarse;
}

static void
print_precision(const precision *p)
{
	size_t nattr = 0;

	printf("  alerts on managed resources, one pass: %zu precise (attribute, old -> new), "
	       "%zu coarse (MODIFIED): %.1f%% precise; %zu deleted, %zu unmanaged; "
	       "%zu extractor misses\n",
	    p->precise, p->coarse,
	    p->precise + p->coarse ? 100.0 * (double)p->precise / (double)(p->precise + p->coarse)
				   : 0.0,
	    p->deleted, p->unmanaged, p->misses);
	for (size_t k = 0; k < p->nent; k++) {
		printf("    coarse %zu from %s:%d %s (%s)\n", p->n_entry[k], p->entry[k]->file,
		    p->entry[k]->line, p->entry[k]->event,
		    p->entry[k]->nattrs ? "extractor miss"
					: "no extractor: the event carries no value");
		if (p->entry[k]->nattrs == 0)
			nattr += p->n_entry[k];
	}
	if (p->precise + p->coarse > nattr)
		printf("  where the event carries values: %.1f%% precise\n",
		    100.0 * (double)p->precise / (double)(p->precise + p->coarse - nattr));
}

/* Catalog coverage: entries about existing resources (not create/delete)
 * that can name an attribute, and those that can only alert coarsely. */
static void
print_coverage(const cat_catalog *cat)
{
	const cat_entry *e;
	size_t with = 0, without = 0;

	for (size_t i = 0; (e = cat_at(cat, i)) != NULL; i++) {
		if (e->kind == CAT_CREATE || e->kind == CAT_DELETE)
			continue;
		if (e->nattrs > 0)
			with++;
		else
			without++;
	}
	printf("  catalog: %zu entries change existing resources; %zu with extractors (precise "
	       "when the request carries the values), %zu coarse only (%.1f%% with extractors)\n",
	    with + without, with, without, 100.0 * (double)with / (double)(with + without));
}

/* rule_evaluate over every event, rounds times; the alerts counted into
 * *alerts, the first round's precision into prec (may be NULL). */
static int
pass(const rule_env *env, Tfdrift__V1__CloudEvent **evs, size_t n, int rounds, const rule_state *st,
    size_t *alerts, precision *prec)
{
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n; i++) {
			rule_alerts al = { 0 };
			rule_result res;
			if (rule_evaluate(env, evs[i], st, 1, &al, &res) != 0)
				return 1;
			*alerts += al.n;
			if (r == 0 && prec != NULL)
				tally(prec, &res, &al);
			rule_alerts_free(&al);
		}
	}
	return 0;
}

/* One resource into the scoped index (in account A and, for regional types,
 * eu-west-1) and into the unscoped one. */
static void
add_both(memstate *ms, memstate *flat, const char *ws, const char *addr, const char *type,
    const char *const *ids, const char *attrs)
{
	memstate_add_in(ms, "123456789012", idx_type_global(type) ? "" : "eu-west-1", ws, addr,
	    type, ids, attrs);
	memstate_add(flat, ws, addr, type, ids, attrs);
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
	const char *only = argc > 3 ? argv[3] : "";
	char **raw = calloc(n, sizeof(*raw));
	Tfdrift__V1__CloudEvent **evs = calloc(n, sizeof(*evs));
	cat_catalog *cat;
	memstate *ms, *flat;
	td_error err;
	size_t bytes = 0, alerts = 0, flat_alerts = 0;
	precision prec = { 0 }, flat_prec = { 0 };
	int64_t t0;
	double corr_s, flat_s, parse_s;

	td_error_clear(&err);
	if (raw == NULL || evs == NULL || cat_load_embedded(&cat, &err) != 0 ||
	    memstate_new(&ms) != 0 || memstate_new(&flat) != 0) {
		fprintf(stderr, "bench_correlator: setup failed %s\n", err.msg);
		free(raw);
		free(evs);
		return 1;
	}
	for (unsigned i = 0; i < NINST; i++) {
		char id[64], arn[128];
		const char *ids[3] = { id, arn, NULL };
		snprintf(id, sizeof(id), "i-0a1b2c3d4e5f6%04x", i);
		snprintf(arn, sizeof(arn), "arn:aws:ec2:eu-west-1:123456789012:instance/%s", id);
		char addr[64];
		snprintf(addr, sizeof(addr), "aws_instance.web[%u]", i);
		add_both(ms, flat, "prod/app", addr, "aws_instance", ids,
		    "{\"id\":\"i-0\",\"instance_type\":\"t3.medium\",\"instance_state\":\"running\","
		    "\"disable_api_termination\":false,"
		    "\"ebs_optimized\":true,\"tags\":{\"Name\":\"web\",\"Environment\":\"prod\"}}");
	}
	for (unsigned i = 0; i < NSG; i++) {
		char sg[64], role[64], addr[64];
		const char *sids[2] = { sg, NULL }, *rids[2] = { role, NULL };
		snprintf(sg, sizeof(sg), "sg-0a1b2c3d4e5f6%04x", i);
		snprintf(role, sizeof(role), "app-role-%u", i);
		snprintf(addr, sizeof(addr), "aws_security_group.app[%u]", i);
		add_both(ms, flat, "prod/net", addr, "aws_security_group", sids,
		    "{\"ingress\":[{\"protocol\":\"tcp\",\"from_port\":443,\"to_port\":443,"
		    "\"cidr_blocks\":[\"0.0.0.0/0\"],\"ipv6_cidr_blocks\":[],\"security_groups\":[],"
		    "\"prefix_list_ids\":[]}]}");
		snprintf(addr, sizeof(addr), "aws_iam_role.app[%u]", i);
		add_both(ms, flat, "prod/iam", addr, "aws_iam_role", rids,
		    "{\"managed_policy_arns\":[\"arn:aws:iam::aws:policy/ReadOnlyAccess\"],"
		    "\"inline_policy\":[]}");
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *j;
		ct_record_ctx ctx = { .path = "bench", .index = i };
		raw[i] = make_one(i);
		if (raw[i] == NULL || (j = cJSON_Parse(raw[i])) == NULL ||
		    ct_record_normalise(j, &ctx, &evs[i], NULL, NULL) != 0 || evs[i] == NULL) {
			fprintf(stderr, "bench_correlator: record %zu does not normalise\n", i);
			return 1;
		}
		cJSON_Delete(j);
		bytes += strlen(raw[i]);
	}
	rule_env env = { .catalog = cat };
	rule_state st = { .lookup = memstate_lookup, .attrs = memstate_attrs, .arg = ms };

	t0 = td_clock_mono_ms();
	if (strcmp(only, "unscoped") != 0 && pass(&env, evs, n, rounds, &st, &alerts, &prec) != 0)
		return 1;
	corr_s = (double)(td_clock_mono_ms() - t0) / 1e3;

	st.arg = flat;
	t0 = td_clock_mono_ms();
	if (strcmp(only, "scoped") != 0 &&
	    pass(&env, evs, n, rounds, &st, &flat_alerts, only[0] ? &prec : &flat_prec) != 0)
		return 1;
	flat_s = (double)(td_clock_mono_ms() - t0) / 1e3;

	t0 = td_clock_mono_ms();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++)
			cJSON_Delete(cJSON_Parse(raw[i]));
	parse_s = (double)(td_clock_mono_ms() - t0) / 1e3;

	printf("correlator: %zu events x %d rounds, avg record %zu bytes, %zu alerts per round\n",
	    n, rounds, bytes / n, (alerts + flat_alerts) / (size_t)rounds / (only[0] ? 1 : 2));
	if (strcmp(only, "unscoped") != 0)
		printf("  correlate (rule_evaluate, warm cache): %10.0f events/s per core (scoped "
		       "index)\n",
		    (double)n * rounds / corr_s);
	if (strcmp(only, "scoped") != 0)
		printf("  ... the state indexed unscoped:        %10.0f events/s per core%s\n",
		    (double)n * rounds / flat_s,
		    only[0] || flat_alerts == alerts ? "" : " (DIFFERENT alerts: a bug)");
	printf("  cJSON_Parse of the full records alone: %10.0f events/s per core\n",
	    (double)n * rounds / parse_s);
	printf("  ratio correlate / parse-only:          %10.2f\n", parse_s / corr_s);
	print_precision(&prec);
	print_coverage(cat);
	for (size_t i = 0; i < n; i++) {
		free(raw[i]);
		ct_event_free(evs[i]);
	}
	free(raw);
	free(evs);
	memstate_free(ms);
	memstate_free(flat);
	cat_free(cat);
	return 0;
}
