/* tfdrift-gen-cloudtrail — writes realistic CloudTrail log files for tests,
 * demos and benchmarks.
 *
 *   tfdrift-gen-cloudtrail --count N [--seed S] [--start TIME] [--account ID]
 *                          [--gzip] --out FILE|-
 *
 * The file is what CloudTrail delivers to S3: {"Records":[...]} with N
 * management write events (readOnly false, no errorCode, no Terraform user
 * agent), so every record is a candidate for drift.  The events are spread
 * over the services a platform team changes by hand (EC2, VPC, S3, Lambda,
 * IAM, RDS, DynamoDB, SQS, KMS), made by a small cast of IAM users and SSO
 * users behind assumed roles, against a pool of resources so several events
 * touch the same resource.  eventTime increases; eventIDs are unique and
 * UUID-shaped.  The output is a pure function of the options: the same seed
 * gives the same bytes.
 *
 * Records are written one at a time, so the file size is not bounded by
 * memory.  Exit status: 0 written, 1 I/O error, 2 usage error. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

/* ---- deterministic randomness (splitmix64) -------------------------------- */

typedef struct rng {
	uint64_t s;
} rng;

static uint64_t
rng_next(rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [0, n). */
static uint32_t
rng_below(rng *r, uint32_t n)
{
	return (uint32_t)(rng_next(r) % n);
}

#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))])

/* Writes n lowercase hex digits and a NUL into buf (n+1 chars). */
static void
rand_hex(rng *r, char *buf, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		buf[i] = hex[rng_below(r, 16)];
	}
	buf[n] = '\0';
}

/* Writes n characters of AWS-style upper-case id alphabet into buf (n+1). */
static void
rand_upper(rng *r, char *buf, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	for (size_t i = 0; i < n; i++) {
		buf[i] = abc[rng_below(r, 32)];
	}
	buf[n] = '\0';
}

/* A version-4 UUID in buf (37 chars). */
static void
rand_uuid(rng *r, char *buf)
{
	char h[33];
	rand_hex(r, h, 32);
	h[12] = '4';
	h[16] = "89ab"[rng_below(r, 4)];
	snprintf(buf, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

/* ---- the cast and the estate ------------------------------------------------ */

typedef struct actor {
	bool assumed;          /* AssumedRole (SSO or a role session) or IAMUser */
	const char *name;      /* user name, or the session name */
	const char *role;      /* role name for assumed roles */
	const char *principal; /* AIDA... / AROA... */
	const char *source_ip;
} actor;

static const actor actors[] = {
	{ true, "alice@example.com", "AWSReservedSSO_AdministratorAccess_3f9a2b7c5d1e4a60",
	    "AROA3XFRBF535PLBIFPI4", "203.0.113.24" },
	{ true, "bob@example.com", "AWSReservedSSO_PowerUserAccess_8c1d0e2f4b6a7d95",
	    "AROA3XFRBF53WSPGAZU7Q", "198.51.100.77" },
	{ true, "oncall-2931", "platform-breakglass", "AROA3XFRBF53QK6JNDO2T", "192.0.2.15" },
	{ false, "carol", NULL, "AIDA3XFRBF53ZQ2QE4E7B", "203.0.113.101" },
	{ false, "deploy-bot", NULL, "AIDA3XFRBF53H2KSOQ3YC", "10.20.4.17" },
	{ true, "dave@example.com", "AWSReservedSSO_NetworkAdmin_0b5e6c9d2a714f38",
	    "AROA3XFRBF53M4QN5ZCWX", "198.51.100.140" },
};

static const char *const regions[] = { "us-east-1", "us-east-1", "us-west-2", "eu-west-1" };

static const char *const user_agents[] = {
	"AWS Internal",
	"aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-amd64 exe/x86_64.debian.12 prompt/off",
	"aws-cli/2.13.4 Python/3.11.4 Darwin/23.4.0 exe/x86_64 prompt/off",
	("Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.2 "
	 "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69"),
	"aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
	"console.amazonaws.com",
};

#define POOL 64 /* resources of each kind; events reuse them */

typedef struct ctx {
	rng r;
	const char *account;
	const actor *who;
	const char *region;
	char request_id[37];
} ctx;

/* The pool's i-th name of a kind, deterministic and independent of the seed so
 * a state fixture can name the same resources. */
static void
pool_name(char *buf, size_t len, const char *fmt, uint32_t i)
{
	snprintf(buf, len, fmt, i);
}

static void
ec2_instance_id(ctx *c, char *buf, size_t len)
{
	pool_name(buf, len, "i-0a1b2c3d4e5f6%04x", rng_below(&c->r, POOL));
}

static void
sg_id(ctx *c, char *buf, size_t len)
{
	pool_name(buf, len, "sg-0f1e2d3c4b5a6%04x", rng_below(&c->r, POOL));
}

static void
vpc_id(ctx *c, char *buf, size_t len)
{
	pool_name(buf, len, "vpc-07c3a9e1d5b2f%04x", rng_below(&c->r, 8));
}

static const char *const apps[] = { "payments", "checkout", "search", "auth", "reports", "ingest",
	"billing", "catalog" };
static const char *const envs[] = { "prod", "staging", "dev" };

/* "<app>-<env>-<suffix>" style names shared by buckets, functions, roles ... */
static void
app_name(ctx *c, char *buf, size_t len, const char *suffix)
{
	/* two statements: argument evaluation order is unspecified, and the
	 * output must not depend on the compiler */
	const char *app = PICK(&c->r, apps);
	const char *env = PICK(&c->r, envs);
	snprintf(buf, len, "%s-%s-%s", app, env, suffix);
}

static cJSON *
ec2_response(ctx *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "requestId", c->request_id);
	cJSON_AddBoolToObject(o, "_return", true);
	return o;
}

/* ---- one function per event: fills requestParameters, responseElements and
 *      resources; each returns the objects it creates to the caller ---------- */

typedef struct shaped {
	cJSON *request;    /* owned by caller; NULL writes JSON null */
	cJSON *response;   /* owned by caller; NULL writes JSON null */
	cJSON *resources;  /* owned by caller; NULL omits the key */
	cJSON *additional; /* additionalEventData; owned by caller; NULL omits */
} shaped;

static cJSON *
resource(const char *arn, const char *account, const char *type)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "accountId", account);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "ARN", arn);
	return o;
}

static void
ev_modify_instance_attribute(ctx *c, shaped *s)
{
	static const char *const types[] = { "t3.large", "m5.xlarge", "c6i.2xlarge", "r6g.large" };
	char id[32];
	ec2_instance_id(c, id, sizeof(id));
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "instanceId", id);
	cJSON *v = cJSON_AddObjectToObject(s->request, "instanceType");
	cJSON_AddStringToObject(v, "value", PICK(&c->r, types));
	s->response = ec2_response(c);
}

static cJSON *
ip_permissions(ctx *c, bool response_rule, const char *group)
{
	static const int ports[] = { 22, 443, 3389, 5432, 6379, 8080 };
	static const char *const cidrs[] = { "0.0.0.0/0", "10.0.0.0/8", "203.0.113.0/24",
		"198.51.100.7/32" };
	int port = PICK(&c->r, ports);
	const char *cidr = PICK(&c->r, cidrs);
	cJSON *items = cJSON_CreateArray();
	cJSON *p = cJSON_CreateObject();
	cJSON_AddItemToArray(items, p);
	if (response_rule) {
		char rule[32], hex[18];
		rand_hex(&c->r, hex, 17);
		snprintf(rule, sizeof(rule), "sgr-%s", hex);
		cJSON_AddStringToObject(p, "groupOwnerId", c->account);
		cJSON_AddStringToObject(p, "groupId", group);
		cJSON_AddStringToObject(p, "securityGroupRuleId", rule);
		cJSON_AddBoolToObject(p, "isEgress", false);
		cJSON_AddStringToObject(p, "ipProtocol", "tcp");
		cJSON_AddNumberToObject(p, "fromPort", port);
		cJSON_AddNumberToObject(p, "toPort", port);
		cJSON_AddStringToObject(p, "cidrIpv4", cidr);
		return items;
	}
	cJSON_AddStringToObject(p, "ipProtocol", "tcp");
	cJSON_AddNumberToObject(p, "fromPort", port);
	cJSON_AddNumberToObject(p, "toPort", port);
	cJSON_AddObjectToObject(p, "groups");
	cJSON *ranges = cJSON_AddArrayToObject(cJSON_AddObjectToObject(p, "ipRanges"), "items");
	cJSON *range = cJSON_CreateObject();
	cJSON_AddStringToObject(range, "cidrIp", cidr);
	cJSON_AddItemToArray(ranges, range);
	cJSON_AddObjectToObject(p, "ipv6Ranges");
	cJSON_AddObjectToObject(p, "prefixListIds");
	return items;
}

static void
ev_authorize_sg_ingress(ctx *c, shaped *s)
{
	char id[32];
	sg_id(c, id, sizeof(id));
	/* the request and the response describe the same rule: draw it twice from
	 * the same generator state */
	rng saved = c->r;
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "groupId", id);
	cJSON_AddItemToObject(cJSON_AddObjectToObject(s->request, "ipPermissions"), "items",
	    ip_permissions(c, false, id));
	c->r = saved;
	s->response = ec2_response(c);
	cJSON_AddItemToObject(cJSON_AddObjectToObject(s->response, "securityGroupRuleSet"), "items",
	    ip_permissions(c, true, id));
}

static void
ev_revoke_sg_ingress(ctx *c, shaped *s)
{
	char id[32];
	sg_id(c, id, sizeof(id));
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "groupId", id);
	cJSON_AddItemToObject(cJSON_AddObjectToObject(s->request, "ipPermissions"), "items",
	    ip_permissions(c, false, id));
	s->response = ec2_response(c);
}

static void
ev_create_security_group(ctx *c, shaped *s)
{
	char name[96], vpc[32], hex[18], id[32];
	app_name(c, name, sizeof(name), "sg");
	vpc_id(c, vpc, sizeof(vpc));
	rand_hex(&c->r, hex, 17);
	snprintf(id, sizeof(id), "sg-%s", hex);
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "groupName", name);
	cJSON_AddStringToObject(s->request, "groupDescription", "created by hand");
	cJSON_AddStringToObject(s->request, "vpcId", vpc);
	s->response = ec2_response(c);
	cJSON_AddStringToObject(s->response, "groupId", id);
}

static void
ev_terminate_instances(ctx *c, shaped *s)
{
	char id[32];
	ec2_instance_id(c, id, sizeof(id));
	s->request = cJSON_CreateObject();
	cJSON *items = cJSON_AddArrayToObject(cJSON_AddObjectToObject(s->request, "instancesSet"),
	    "items");
	cJSON *it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "instanceId", id);
	cJSON_AddItemToArray(items, it);

	s->response = cJSON_CreateObject();
	cJSON_AddStringToObject(s->response, "requestId", c->request_id);
	items = cJSON_AddArrayToObject(cJSON_AddObjectToObject(s->response, "instancesSet"),
	    "items");
	it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "instanceId", id);
	cJSON *cur = cJSON_AddObjectToObject(it, "currentState");
	cJSON_AddNumberToObject(cur, "code", 32);
	cJSON_AddStringToObject(cur, "name", "shutting-down");
	cJSON *prev = cJSON_AddObjectToObject(it, "previousState");
	cJSON_AddNumberToObject(prev, "code", 16);
	cJSON_AddStringToObject(prev, "name", "running");
	cJSON_AddItemToArray(items, it);
}

static void
ev_modify_vpc_attribute(ctx *c, shaped *s)
{
	char id[32];
	vpc_id(c, id, sizeof(id));
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "vpcId", id);
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(s->request, "enableDnsHostnames"), "value",
	    rng_below(&c->r, 2) == 1);
	s->response = ec2_response(c);
}

static void
s3_common(ctx *c, shaped *s, const char *bucket)
{
	char host[160], arn[160];
	snprintf(host, sizeof(host), "%s.s3.%s.amazonaws.com", bucket, c->region);
	snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", bucket);
	cJSON_AddStringToObject(s->request, "bucketName", bucket);
	cJSON_AddStringToObject(s->request, "Host", host);
	s->resources = cJSON_CreateArray();
	cJSON_AddItemToArray(s->resources, resource(arn, c->account, "AWS::S3::Bucket"));
	s->additional = cJSON_CreateObject();
	cJSON_AddStringToObject(s->additional, "SignatureVersion", "SigV4");
	cJSON_AddStringToObject(s->additional, "CipherSuite", "ECDHE-RSA-AES128-GCM-SHA256");
	cJSON_AddNumberToObject(s->additional, "bytesTransferredIn", 0);
	cJSON_AddStringToObject(s->additional, "AuthenticationMethod", "AuthHeader");
	cJSON_AddStringToObject(s->additional, "x-amz-id-2",
	    "Q2bQ8bOKJXw+f8HqgJ2Pq0h6u3ZxWnX0H6h0j1fQ0tQ3kqT0c1s9Dk2W3uYf0b5o8Pp8tSxU0Ek=");
	cJSON_AddNumberToObject(s->additional, "bytesTransferredOut", 0);
}

static void
ev_put_bucket_policy(ctx *c, shaped *s)
{
	char bucket[96], res[160];
	app_name(c, bucket, sizeof(bucket), "assets");
	snprintf(res, sizeof(res), "arn:aws:s3:::%s/*", bucket);
	s->request = cJSON_CreateObject();
	cJSON *pol = cJSON_AddObjectToObject(s->request, "bucketPolicy");
	cJSON_AddStringToObject(pol, "Version", "2012-10-17");
	cJSON *st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "Sid", "PublicRead");
	cJSON_AddStringToObject(st, "Effect", "Allow");
	cJSON_AddStringToObject(st, "Principal", "*");
	cJSON_AddStringToObject(st, "Action", "s3:GetObject");
	cJSON_AddStringToObject(st, "Resource", res);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(pol, "Statement"), st);
	cJSON_AddStringToObject(s->request, "policy", "");
	s3_common(c, s, bucket);
}

static void
ev_put_bucket_versioning(ctx *c, shaped *s)
{
	char bucket[96];
	app_name(c, bucket, sizeof(bucket), "logs");
	s->request = cJSON_CreateObject();
	cJSON *v = cJSON_AddObjectToObject(s->request, "VersioningConfiguration");
	cJSON_AddStringToObject(v, "Status", rng_below(&c->r, 2) ? "Suspended" : "Enabled");
	cJSON_AddStringToObject(v, "xmlns", "http://s3.amazonaws.com/doc/2006-03-01/");
	cJSON_AddStringToObject(s->request, "versioning", "");
	s3_common(c, s, bucket);
}

static void
ev_update_function_configuration(ctx *c, shaped *s)
{
	static const int memory[] = { 128, 256, 512, 1024, 2048 };
	static const int timeouts[] = { 3, 15, 30, 60, 300 };
	char fn[96], arn[200], role[200], sha[45], rev[37];
	int mem = PICK(&c->r, memory), to = PICK(&c->r, timeouts);
	app_name(c, fn, sizeof(fn), "handler");
	snprintf(arn, sizeof(arn), "arn:aws:lambda:%s:%s:function:%s", c->region, c->account, fn);
	snprintf(role, sizeof(role), "arn:aws:iam::%s:role/%s-exec", c->account, fn);
	rand_hex(&c->r, sha, 44);
	rand_uuid(&c->r, rev);

	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "functionName", fn);
	cJSON_AddNumberToObject(s->request, "timeout", to);
	cJSON_AddNumberToObject(s->request, "memorySize", mem);

	s->response = cJSON_CreateObject();
	cJSON_AddStringToObject(s->response, "functionName", fn);
	cJSON_AddStringToObject(s->response, "functionArn", arn);
	cJSON_AddStringToObject(s->response, "runtime", "python3.12");
	cJSON_AddStringToObject(s->response, "role", role);
	cJSON_AddStringToObject(s->response, "handler", "app.handler");
	cJSON_AddNumberToObject(s->response, "codeSize", 48213);
	cJSON_AddStringToObject(s->response, "description", "");
	cJSON_AddNumberToObject(s->response, "timeout", to);
	cJSON_AddNumberToObject(s->response, "memorySize", mem);
	cJSON_AddStringToObject(s->response, "lastModified", "2024-05-01T08:00:00.000+0000");
	cJSON_AddStringToObject(s->response, "codeSha256", sha);
	cJSON_AddStringToObject(s->response, "version", "$LATEST");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(s->response, "tracingConfig"), "mode",
	    "PassThrough");
	cJSON_AddStringToObject(s->response, "revisionId", rev);
	cJSON_AddStringToObject(s->response, "state", "Active");
	cJSON_AddStringToObject(s->response, "lastUpdateStatus", "InProgress");
	cJSON_AddStringToObject(s->response, "lastUpdateStatusReason",
	    "The function is being created.");
	cJSON_AddStringToObject(s->response, "lastUpdateStatusReasonCode", "Creating");
	cJSON_AddStringToObject(s->response, "packageType", "Zip");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(s->response, "architectures"),
	    cJSON_CreateString("x86_64"));
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(s->response, "ephemeralStorage"), "size",
	    512);
}

static void
ev_put_role_policy(ctx *c, shaped *s)
{
	static const char *const actions[] = { "s3:*", "ec2:*", "iam:PassRole", "kms:Decrypt",
		"dynamodb:*" };
	char roleName[96], doc[256];
	app_name(c, roleName, sizeof(roleName), "role");
	snprintf(doc, sizeof(doc),
	    "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n"
	    "      \"Action\": \"%s\",\n      \"Resource\": \"*\"\n    }\n  ]\n}",
	    PICK(&c->r, actions));
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "roleName", roleName);
	cJSON_AddStringToObject(s->request, "policyName", "inline-hotfix");
	cJSON_AddStringToObject(s->request, "policyDocument", doc);
}

static void
ev_attach_role_policy(ctx *c, shaped *s)
{
	static const char *const policies[] = { "arn:aws:iam::aws:policy/AdministratorAccess",
		"arn:aws:iam::aws:policy/AmazonS3FullAccess",
		"arn:aws:iam::aws:policy/ReadOnlyAccess" };
	char roleName[96];
	app_name(c, roleName, sizeof(roleName), "role");
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "roleName", roleName);
	cJSON_AddStringToObject(s->request, "policyArn", PICK(&c->r, policies));
}

static void
ev_modify_db_instance(ctx *c, shaped *s)
{
	static const char *const classes[] = { "db.t3.large", "db.r6g.xlarge", "db.m6i.large" };
	char db[96], arn[200], res[32];
	const char *cls = PICK(&c->r, classes);
	app_name(c, db, sizeof(db), "db");
	snprintf(arn, sizeof(arn), "arn:aws:rds:%s:%s:db:%s", c->region, c->account, db);
	rand_upper(&c->r, res, 26);

	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "dBInstanceIdentifier", db);
	cJSON_AddStringToObject(s->request, "dBInstanceClass", cls);
	cJSON_AddBoolToObject(s->request, "applyImmediately", rng_below(&c->r, 2) == 1);

	s->response = cJSON_CreateObject();
	cJSON_AddStringToObject(s->response, "dBInstanceIdentifier", db);
	cJSON_AddStringToObject(s->response, "dBInstanceClass", "db.t3.medium");
	cJSON_AddStringToObject(s->response, "engine", "postgres");
	cJSON_AddStringToObject(s->response, "dBInstanceStatus", "available");
	cJSON_AddStringToObject(s->response, "masterUsername", "app");
	cJSON_AddNumberToObject(s->response, "allocatedStorage", 100);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(s->response, "pendingModifiedValues"),
	    "dBInstanceClass", cls);
	cJSON_AddBoolToObject(s->response, "multiAZ", true);
	cJSON_AddStringToObject(s->response, "engineVersion", "15.5");
	cJSON_AddStringToObject(s->response, "dbiResourceId", res);
	cJSON_AddStringToObject(s->response, "dBInstanceArn", arn);
	cJSON_AddBoolToObject(s->response, "deletionProtection", true);
}

static void
ev_update_table(ctx *c, shaped *s)
{
	char table[96], arn[200];
	long rcu = 5L * (1 + rng_below(&c->r, 20)), wcu = 5L * (1 + rng_below(&c->r, 10));
	app_name(c, table, sizeof(table), "table");
	snprintf(arn, sizeof(arn), "arn:aws:dynamodb:%s:%s:table/%s", c->region, c->account, table);
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "tableName", table);
	cJSON *pt = cJSON_AddObjectToObject(s->request, "provisionedThroughput");
	cJSON_AddNumberToObject(pt, "readCapacityUnits", (double)rcu);
	cJSON_AddNumberToObject(pt, "writeCapacityUnits", (double)wcu);
	s->response = cJSON_CreateObject();
	cJSON *td = cJSON_AddObjectToObject(s->response, "tableDescription");
	cJSON_AddStringToObject(td, "tableName", table);
	cJSON_AddStringToObject(td, "tableStatus", "UPDATING");
	cJSON_AddStringToObject(td, "tableArn", arn);
	s->resources = cJSON_CreateArray();
	cJSON_AddItemToArray(s->resources, resource(arn, c->account, "AWS::DynamoDB::Table"));
}

static void
ev_set_queue_attributes(ctx *c, shaped *s)
{
	char q[96], url[200];
	app_name(c, q, sizeof(q), "queue");
	snprintf(url, sizeof(url), "https://sqs.%s.amazonaws.com/%s/%s", c->region, c->account, q);
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "queueUrl", url);
	cJSON *a = cJSON_AddObjectToObject(s->request, "attributes");
	char v[16];
	snprintf(v, sizeof(v), "%u", 30u * (1 + rng_below(&c->r, 40)));
	cJSON_AddStringToObject(a, "VisibilityTimeout", v);
}

static void
ev_schedule_key_deletion(ctx *c, shaped *s)
{
	char key[37], arn[200];
	rng k = { 0x6b6d73u + rng_below(&c->r, POOL) }; /* pool of keys, seed-independent */
	rand_uuid(&k, key);
	snprintf(arn, sizeof(arn), "arn:aws:kms:%s:%s:key/%s", c->region, c->account, key);
	s->request = cJSON_CreateObject();
	cJSON_AddStringToObject(s->request, "keyId", key);
	cJSON_AddNumberToObject(s->request, "pendingWindowInDays", 7);
	s->response = cJSON_CreateObject();
	cJSON_AddStringToObject(s->response, "keyId", arn);
	cJSON_AddStringToObject(s->response, "deletionDate", "May 8, 2024, 12:00:00 AM");
	cJSON_AddStringToObject(s->response, "keyState", "PendingDeletion");
	cJSON_AddNumberToObject(s->response, "pendingWindowInDays", 7);
	s->resources = cJSON_CreateArray();
	cJSON_AddItemToArray(s->resources, resource(arn, c->account, "AWS::KMS::Key"));
}

typedef struct event_kind {
	const char *source;
	const char *name;
	const char *api_version; /* NULL: omitted, as most services do */
	bool global;             /* IAM: always us-east-1 */
	unsigned weight;         /* relative frequency */
	void (*shape)(ctx *c, shaped *s);
} event_kind;

static const event_kind kinds[] = {
	{ "ec2.amazonaws.com", "ModifyInstanceAttribute", NULL, false, 10,
	    ev_modify_instance_attribute },
	{ "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", NULL, false, 10,
	    ev_authorize_sg_ingress },
	{ "ec2.amazonaws.com", "RevokeSecurityGroupIngress", NULL, false, 4, ev_revoke_sg_ingress },
	{ "ec2.amazonaws.com", "CreateSecurityGroup", NULL, false, 5, ev_create_security_group },
	{ "ec2.amazonaws.com", "TerminateInstances", NULL, false, 3, ev_terminate_instances },
	{ "ec2.amazonaws.com", "ModifyVpcAttribute", NULL, false, 3, ev_modify_vpc_attribute },
	{ "s3.amazonaws.com", "PutBucketPolicy", NULL, false, 8, ev_put_bucket_policy },
	{ "s3.amazonaws.com", "PutBucketVersioning", NULL, false, 4, ev_put_bucket_versioning },
	{ "lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", NULL, false, 8,
	    ev_update_function_configuration },
	{ "iam.amazonaws.com", "PutRolePolicy", NULL, true, 7, ev_put_role_policy },
	{ "iam.amazonaws.com", "AttachRolePolicy", NULL, true, 5, ev_attach_role_policy },
	{ "rds.amazonaws.com", "ModifyDBInstance", "2014-10-31", false, 6, ev_modify_db_instance },
	{ "dynamodb.amazonaws.com", "UpdateTable", "2012-08-10", false, 4, ev_update_table },
	{ "sqs.amazonaws.com", "SetQueueAttributes", NULL, false, 3, ev_set_queue_attributes },
	{ "kms.amazonaws.com", "ScheduleKeyDeletion", NULL, false, 2, ev_schedule_key_deletion },
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static const event_kind *
pick_kind(rng *r)
{
	unsigned total = 0;
	for (size_t i = 0; i < NKINDS; i++) {
		total += kinds[i].weight;
	}
	unsigned x = rng_below(r, total);
	for (size_t i = 0; i < NKINDS; i++) {
		if (x < kinds[i].weight) {
			return &kinds[i];
		}
		x -= kinds[i].weight;
	}
	return &kinds[0];
}

/* ---- the record ------------------------------------------------------------ */

static void
iso_time(char *buf, size_t len, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* userIdentity of the actor, as CloudTrail writes it; owned by caller. */
static cJSON *
user_identity(ctx *c, time_t when)
{
	const actor *a = c->who;
	char arn[256], pid[160], key[24], up[17], created[32];
	cJSON *u = cJSON_CreateObject();
	rand_upper(&c->r, up, 16);

	if (!a->assumed) {
		snprintf(arn, sizeof(arn), "arn:aws:iam::%s:user/%s", c->account, a->name);
		snprintf(key, sizeof(key), "AKIA%s", up);
		cJSON_AddStringToObject(u, "type", "IAMUser");
		cJSON_AddStringToObject(u, "principalId", a->principal);
		cJSON_AddStringToObject(u, "arn", arn);
		cJSON_AddStringToObject(u, "accountId", c->account);
		cJSON_AddStringToObject(u, "accessKeyId", key);
		cJSON_AddStringToObject(u, "userName", a->name);
		return u;
	}

	bool sso = strncmp(a->role, "AWSReservedSSO_", 15) == 0;
	char role_arn[256];
	snprintf(arn, sizeof(arn), "arn:aws:sts::%s:assumed-role/%s/%s", c->account, a->role,
	    a->name);
	snprintf(pid, sizeof(pid), "%s:%s", a->principal, a->name);
	snprintf(key, sizeof(key), "ASIA%s", up);
	if (sso) {
		snprintf(role_arn, sizeof(role_arn),
		    "arn:aws:iam::%s:role/aws-reserved/sso.amazonaws.com/%s", c->account, a->role);
	} else {
		snprintf(role_arn, sizeof(role_arn), "arn:aws:iam::%s:role/%s", c->account,
		    a->role);
	}
	/* sessions start up to an hour before the call */
	iso_time(created, sizeof(created), when - (time_t)rng_below(&c->r, 3600));

	cJSON_AddStringToObject(u, "type", "AssumedRole");
	cJSON_AddStringToObject(u, "principalId", pid);
	cJSON_AddStringToObject(u, "arn", arn);
	cJSON_AddStringToObject(u, "accountId", c->account);
	cJSON_AddStringToObject(u, "accessKeyId", key);
	cJSON *sc = cJSON_AddObjectToObject(u, "sessionContext");
	cJSON *si = cJSON_AddObjectToObject(sc, "sessionIssuer");
	cJSON_AddStringToObject(si, "type", "Role");
	cJSON_AddStringToObject(si, "principalId", a->principal);
	cJSON_AddStringToObject(si, "arn", role_arn);
	cJSON_AddStringToObject(si, "accountId", c->account);
	cJSON_AddStringToObject(si, "userName", a->role);
	cJSON_AddObjectToObject(sc, "webIdFederationData");
	cJSON *at = cJSON_AddObjectToObject(sc, "attributes");
	cJSON_AddStringToObject(at, "creationDate", created);
	cJSON_AddStringToObject(at, "mfaAuthenticated", sso ? "false" : "true");
	return u;
}

/* Builds one record; owned by caller. */
static cJSON *
make_record(ctx *c, time_t when)
{
	char t[32], event_id[37], host[128], ua_buf[320];
	const event_kind *k = pick_kind(&c->r);
	shaped s = { NULL, NULL, NULL, NULL };
	cJSON *rec = cJSON_CreateObject();

	c->who = &PICK(&c->r, actors);
	c->region = k->global ? "us-east-1" : PICK(&c->r, regions);
	rand_uuid(&c->r, c->request_id);
	rand_uuid(&c->r, event_id);
	iso_time(t, sizeof(t), when);

	const char *ua = PICK(&c->r, user_agents);
	if (strcmp(ua, "console.amazonaws.com") == 0) {
		/* the console names the service it was used from */
		snprintf(ua_buf, sizeof(ua_buf), "console.%s", k->source);
		ua = ua_buf;
	}
	bool console = strncmp(ua, "console.", 8) == 0 || strcmp(ua, "AWS Internal") == 0;

	cJSON_AddStringToObject(rec, "eventVersion", "1.09");
	cJSON_AddItemToObject(rec, "userIdentity", user_identity(c, when));
	cJSON_AddStringToObject(rec, "eventTime", t);
	cJSON_AddStringToObject(rec, "eventSource", k->source);
	cJSON_AddStringToObject(rec, "eventName", k->name);
	cJSON_AddStringToObject(rec, "awsRegion", c->region);
	cJSON_AddStringToObject(rec, "sourceIPAddress", c->who->source_ip);
	cJSON_AddStringToObject(rec, "userAgent", ua);

	k->shape(c, &s);
	cJSON_AddItemToObject(rec, "requestParameters", s.request ? s.request : cJSON_CreateNull());
	cJSON_AddItemToObject(rec, "responseElements",
	    s.response ? s.response : cJSON_CreateNull());
	if (s.additional) {
		cJSON_AddItemToObject(rec, "additionalEventData", s.additional);
	}
	cJSON_AddStringToObject(rec, "requestID", c->request_id);
	cJSON_AddStringToObject(rec, "eventID", event_id);
	cJSON_AddBoolToObject(rec, "readOnly", false);
	if (s.resources) {
		cJSON_AddItemToObject(rec, "resources", s.resources);
	}
	cJSON_AddStringToObject(rec, "eventType", "AwsApiCall");
	if (k->api_version) {
		cJSON_AddStringToObject(rec, "apiVersion", k->api_version);
	}
	cJSON_AddBoolToObject(rec, "managementEvent", true);
	cJSON_AddStringToObject(rec, "recipientAccountId", c->account);
	cJSON_AddStringToObject(rec, "eventCategory", "Management");
	cJSON *tls = cJSON_AddObjectToObject(rec, "tlsDetails");
	cJSON_AddStringToObject(tls, "tlsVersion", "TLSv1.3");
	cJSON_AddStringToObject(tls, "cipherSuite", "TLS_AES_128_GCM_SHA256");
	if (k->global) {
		snprintf(host, sizeof(host), "%.*s.amazonaws.com",
		    (int)(strchr(k->source, '.') - k->source), k->source);
	} else {
		snprintf(host, sizeof(host), "%.*s.%s.amazonaws.com",
		    (int)(strchr(k->source, '.') - k->source), k->source, c->region);
	}
	cJSON_AddStringToObject(tls, "clientProvidedHostHeader", host);
	if (console && c->who->assumed) {
		cJSON_AddStringToObject(rec, "sessionCredentialFromConsole", "true");
	}
	return rec;
}

/* ---- output: plain file or gzip, behind one small interface ---------------- */

typedef struct sink {
	FILE *f;
	gzFile gz;
} sink;

static int
sink_write(sink *s, const char *buf, size_t len)
{
	if (s->gz) {
		return gzwrite(s->gz, buf, (unsigned)len) == (int)len ? 0 : -1;
	}
	return fwrite(buf, 1, len, s->f) == len ? 0 : -1;
}

static int
sink_close(sink *s)
{
	int rv = 0;
	if (s->gz) {
		rv = gzclose(s->gz) == Z_OK ? 0 : -1;
	} else if (s->f && s->f != stdout) {
		rv = fclose(s->f) == 0 ? 0 : -1;
	} else if (s->f) {
		rv = fflush(s->f) == 0 ? 0 : -1;
	}
	s->f = NULL;
	s->gz = NULL;
	return rv;
}

/* "2024-05-01T08:00:00Z" -> Unix seconds; -1 if malformed. */
static time_t
parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0') {
		return (time_t)-1;
	}
	return timegm(&tm);
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tfdrift-gen-cloudtrail --count N [--seed S] [--start TIME] [--account ID]\n"
	    "                              [--gzip] --out FILE|-\n"
	    "Writes a CloudTrail log file {\"Records\":[...]} with N write events.\n"
	    "  --count N      number of records (0 .. 100000000)\n"
	    "  --seed S       generator seed (default 1); the same seed gives the same file\n"
	    "  --start TIME   eventTime of the first record, e.g. 2024-05-01T08:00:00Z\n"
	    "  --account ID   12-digit AWS account id (default 123456789012)\n"
	    "  --gzip         gzip the output (as CloudTrail delivers it)\n"
	    "  --out FILE     output file; - writes to stdout\n");
}

/* Parses a whole decimal number into *out; -1 on junk or overflow. */
static int
parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	if (*s == '-' || *s == '\0') {
		return -1;
	}
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		return -1;
	}
	*out = v;
	return 0;
}

/* Longer than ~120 lines on purpose: a test tool's main, option parsing (each
 * option with its own message) and then one loop writing the records; there
 * is no second caller a split would serve. */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "start", required_argument, NULL, 't' },
		{ "account", required_argument, NULL, 'a' },
		{ "gzip", no_argument, NULL, 'z' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t count = 0, seed = 1;
	bool have_count = false, gzip = false;
	const char *out = NULL, *account = "123456789012";
	time_t when = parse_time("2024-05-01T08:00:00Z");
	int ch, rv = 1;
	sink snk = { NULL, NULL };
	char *text = NULL;
	ctx c;

	while ((ch = getopt_long(argc, argv, "n:s:t:a:zo:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (parse_u64(optarg, &count) != 0 || count > 100000000u) {
				fprintf(stderr,
				    "tfdrift-gen-cloudtrail: --count: '%s' is not a number in 0..100000000\n",
				    optarg);
				return 2;
			}
			have_count = true;
			break;
		case 's':
			if (parse_u64(optarg, &seed) != 0) {
				fprintf(stderr,
				    "tfdrift-gen-cloudtrail: --seed: '%s' is not a number\n",
				    optarg);
				return 2;
			}
			break;
		case 't':
			if ((when = parse_time(optarg)) == (time_t)-1) {
				fprintf(stderr,
				    "tfdrift-gen-cloudtrail: --start: '%s' is not YYYY-MM-DDTHH:MM:SSZ\n",
				    optarg);
				return 2;
			}
			break;
		case 'a':
			if (strlen(optarg) != 12 || strspn(optarg, "0123456789") != 12) {
				fprintf(stderr,
				    "tfdrift-gen-cloudtrail: --account: '%s' is not a 12-digit account id\n",
				    optarg);
				return 2;
			}
			account = optarg;
			break;
		case 'z': gzip = true; break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!have_count || out == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}

	if (strcmp(out, "-") == 0) {
		if (gzip) {
			snk.gz = gzdopen(fileno(stdout), "wb");
		} else {
			snk.f = stdout;
		}
	} else if (gzip) {
		snk.gz = gzopen(out, "wb6");
	} else {
		snk.f = fopen(out, "wb");
	}
	if (snk.f == NULL && snk.gz == NULL) {
		fprintf(stderr, "tfdrift-gen-cloudtrail: %s: cannot open: %s\n", out,
		    strerror(errno));
		goto out;
	}

	memset(&c, 0, sizeof(c));
	c.r.s = seed * 0x2545f4914f6cdd1dULL + 0x1234567u;
	c.account = account;
	if (sink_write(&snk, "{\"Records\":[", 12) != 0) {
		goto io_error;
	}
	for (uint64_t i = 0; i < count; i++) {
		cJSON *rec = make_record(&c, when);
		text = cJSON_PrintUnformatted(rec);
		cJSON_Delete(rec);
		if (text == NULL) {
			fprintf(stderr, "tfdrift-gen-cloudtrail: out of memory\n");
			goto out;
		}
		if ((i > 0 && sink_write(&snk, ",\n", 2) != 0) ||
		    sink_write(&snk, text, strlen(text)) != 0) {
			goto io_error;
		}
		cJSON_free(text);
		text = NULL;
		/* a few seconds between calls, sometimes the same second */
		when += (time_t)rng_below(&c.r, 8);
	}
	if (sink_write(&snk, "]}\n", 3) != 0) {
		goto io_error;
	}
	if (sink_close(&snk) != 0) {
		goto io_error;
	}
	rv = 0;
	goto out;

io_error:
	fprintf(stderr, "tfdrift-gen-cloudtrail: %s: write failed: %s\n", out, strerror(errno));
out:
	cJSON_free(text);
	sink_close(&snk);
	return rv;
}
