/* test_cloudtrail_record.c — CloudTrail records (as AWS writes them) -> CloudEvent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/error.h"

/* 2024-05-01T12:00:00Z */
#define T_NOON_NS (1714564800LL * 1000000000LL)

static const char assumed_role[] =
    "{\"eventVersion\":\"1.08\","
    "\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":\"AROAEXAMPLEID:alice\","
    "\"arn\":\"arn:aws:sts::123456789012:assumed-role/PlatformAdmin/alice\","
    "\"accountId\":\"123456789012\",\"accessKeyId\":\"ASIAEXAMPLEKEY\","
    "\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROAEXAMPLEID\","
    "\"arn\":\"arn:aws:iam::123456789012:role/PlatformAdmin\",\"accountId\":\"123456789012\","
    "\"userName\":\"PlatformAdmin\"},\"webIdFederationData\":{},"
    "\"attributes\":{\"creationDate\":\"2024-05-01T11:58:02Z\",\"mfaAuthenticated\":\"true\"},"
    "\"sourceIdentity\":\"alice@example.com\"}},"
    "\"eventTime\":\"2024-05-01T12:00:00Z\",\"eventSource\":\"ec2.amazonaws.com\","
    "\"eventName\":\"ModifyInstanceAttribute\",\"awsRegion\":\"eu-west-1\","
    "\"sourceIPAddress\":\"203.0.113.7\",\"userAgent\":\"aws-cli/2.15.30 Python/3.11.8\","
    "\"requestParameters\":{\"instanceId\":\"i-0abc123\",\"instanceType\":{\"value\":\"t3.large\"}},"
    "\"responseElements\":{\"requestId\":\"11111111-2222\",\"_return\":true},"
    "\"additionalEventData\":{\"SignatureVersion\":\"SigV4\"},"
    "\"requestID\":\"11111111-2222\",\"eventID\":\"5d7c3f1a-0000-4000-8000-000000000001\","
    "\"readOnly\":false,"
    "\"resources\":[{\"accountId\":\"123456789012\",\"type\":\"AWS::EC2::Instance\","
    "\"ARN\":\"arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123\"}],"
    "\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"123456789012\","
    "\"sharedEventID\":\"shared-1\",\"vpcEndpointId\":\"vpce-0123\","
    "\"eventCategory\":\"Management\",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\"}}";

static const char iam_user[] =
    "{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"IAMUser\",\"principalId\":\"AIDAEXAMPLE\","
    "\"arn\":\"arn:aws:iam::123456789012:user/bob\",\"accountId\":\"123456789012\","
    "\"accessKeyId\":\"AKIAEXAMPLE\",\"userName\":\"bob\"},"
    "\"eventTime\":\"2024-05-01T12:00:00.250Z\",\"eventSource\":\"s3.amazonaws.com\","
    "\"eventName\":\"PutBucketVersioning\",\"awsRegion\":\"us-east-1\","
    "\"sourceIPAddress\":\"198.51.100.2\",\"userAgent\":\"[Boto3/1.34.0]\","
    "\"requestParameters\":{\"bucketName\":\"acme-logs\",\"VersioningConfiguration\":{\"Status\":\"Enabled\"}},"
    "\"responseElements\":null,\"eventID\":\"e-iam\",\"readOnly\":false,\"eventType\":\"AwsApiCall\","
    "\"managementEvent\":true,\"recipientAccountId\":\"123456789012\",\"eventCategory\":\"Management\"}";

static const char root_user[] =
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"Root\",\"principalId\":\"123456789012\","
    "\"arn\":\"arn:aws:iam::123456789012:root\",\"accountId\":\"123456789012\","
    "\"accessKeyId\":\"ASIAROOT\",\"sessionContext\":{\"sessionIssuer\":{},\"webIdFederationData\":{},"
    "\"attributes\":{\"creationDate\":\"2024-05-01T10:00:00Z\",\"mfaAuthenticated\":\"false\"}}},"
    "\"eventTime\":\"2024-05-01T12:00:00Z\",\"eventSource\":\"iam.amazonaws.com\","
    "\"eventName\":\"DeleteAccessKey\",\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"192.0.2.1\","
    "\"userAgent\":\"AWS Internal\",\"requestParameters\":{\"accessKeyId\":\"AKIAOLD\"},"
    "\"responseElements\":null,\"eventID\":\"e-root\",\"readOnly\":false,\"eventType\":\"AwsApiCall\","
    "\"managementEvent\":true,\"recipientAccountId\":\"123456789012\",\"eventCategory\":\"Management\"}";

static const char aws_service[] =
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AWSService\","
    "\"invokedBy\":\"autoscaling.amazonaws.com\"},"
    "\"eventTime\":\"2024-05-01T12:00:00Z\",\"eventSource\":\"ec2.amazonaws.com\","
    "\"eventName\":\"TerminateInstances\",\"awsRegion\":\"eu-west-1\","
    "\"sourceIPAddress\":\"autoscaling.amazonaws.com\",\"userAgent\":\"autoscaling.amazonaws.com\","
    "\"requestParameters\":{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-1\"}]}},"
    "\"responseElements\":null,\"eventID\":\"e-svc\",\"readOnly\":false,"
    "\"eventType\":\"AwsServiceEvent\",\"managementEvent\":true,"
    "\"recipientAccountId\":\"210987654321\",\"sharedEventID\":\"shared-svc\","
    "\"eventCategory\":\"Management\"}";

static const char error_record[] =
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"carol\","
    "\"accountId\":\"123456789012\"},"
    "\"eventTime\":\"2024-05-01T12:00:00Z\",\"eventSource\":\"ec2.amazonaws.com\","
    "\"eventName\":\"RunInstances\",\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"203.0.113.9\","
    "\"userAgent\":\"console.amazonaws.com\",\"errorCode\":\"Client.UnauthorizedOperation\","
    "\"errorMessage\":\"You are not authorized to perform this operation.\","
    "\"requestParameters\":{\"instanceType\":\"t3.micro\"},\"responseElements\":null,"
    "\"eventID\":\"e-err\",\"readOnly\":false,\"eventType\":\"AwsApiCall\","
    "\"managementEvent\":true,\"recipientAccountId\":\"123456789012\"}";

static const char read_only_record[] =
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"dave\"},"
    "\"eventTime\":\"2024-05-01T12:00:00Z\",\"eventSource\":\"ec2.amazonaws.com\","
    "\"eventName\":\"DescribeInstances\",\"awsRegion\":\"eu-west-1\","
    "\"requestParameters\":null,\"eventID\":\"e-ro\",\"readOnly\":true,\"eventType\":\"AwsApiCall\","
    "\"recipientAccountId\":\"123456789012\"}";

static const char sso_record[] =
    "{\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":\"AROASSO:erin@example.com\","
    "\"arn\":\"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_abc/erin@example.com\","
    "\"accountId\":\"123456789012\",\"credentialId\":\"cred-1\","
    "\"onBehalfOf\":{\"userId\":\"u-1234\",\"identityStoreArn\":\"arn:aws:identitystore::1:identitystore/d-1\"},"
    "\"sessionContext\":{\"webIdFederationData\":{\"federatedProvider\":\"arn:aws:iam::123456789012:oidc-provider/idp\"},"
    "\"attributes\":{\"mfaAuthenticated\":true}}},"
    "\"eventTime\":\"2024-05-01T12:00:00+02:00\",\"eventSource\":\"lambda.amazonaws.com\","
    "\"eventName\":\"UpdateFunctionConfiguration20150331v2\",\"eventID\":\"e-sso\"}";

static const char insight_record[] =
    "{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-05-01T12:00:00Z\","
    "\"awsRegion\":\"us-east-1\",\"eventID\":\"e-insight\",\"eventType\":\"AwsCloudTrailInsight\","
    "\"recipientAccountId\":\"123456789012\",\"sharedEventID\":\"x\",\"insightDetails\":{\"state\":\"Start\","
    "\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"RunInstances\"},\"eventCategory\":\"Insight\"}";

/* ---- helpers ----------------------------------------------------------------- */

typedef struct parsed {
	cJSON *json;
	Tfdrift__V1__CloudEvent *ev;
	const char *skip;
	td_error err;
	int rv;
} parsed;

static void
normalise_at(parsed *p, const char *text, size_t index, size_t line)
{
	ct_record_ctx ctx = { .path = "logs/x.json.gz",
		.index = index,
		.line = line,
		.received_at_ns = 42 };

	memset(p, 0, sizeof(*p));
	p->json = cJSON_Parse(text);
	assert_non_null(p->json);
	td_error_clear(&p->err);
	p->rv = ct_record_normalise(p->json, &ctx, &p->ev, &p->skip, &p->err);
}

static void
normalise(parsed *p, const char *text)
{
	normalise_at(p, text, 0, 0);
}

static void
done(parsed *p)
{
	ct_event_free(p->ev);
	cJSON_Delete(p->json);
}

/* Text with one key replaced: {"eventTime":"..."} -> {"eventTime":42}. */
static char *
with(const char *base, const char *key, const char *json_value)
{
	cJSON *o = cJSON_Parse(base);
	char *out;

	assert_non_null(o);
	if (json_value == NULL)
		cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	else if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_Parse(json_value));
	else
		cJSON_AddItemToObject(o, key, cJSON_Parse(json_value));
	out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

static void
expect_reject(const char *text, size_t index, size_t line, const char *message)
{
	parsed p;

	normalise_at(&p, text, index, line);
	if (p.rv != TD_EINVAL)
		print_error("accepted: %s\n", text);
	assert_int_equal(p.rv, TD_EINVAL);
	assert_null(p.ev);
	assert_string_equal(p.err.msg, message);
	done(&p);
}

/* ---- tests -------------------------------------------------------------------- */

static void
assumed_role_maps_every_field(void **state)
{
	parsed p;
	const Tfdrift__V1__UserIdentity *id;
	(void)state;

	normalise_at(&p, assumed_role, 3, 0);
	assert_int_equal(p.rv, 0);
	assert_non_null(p.ev);
	assert_string_equal(p.ev->event_id, "5d7c3f1a-0000-4000-8000-000000000001");
	assert_true(p.ev->event_time_ns == T_NOON_NS);
	assert_string_equal(p.ev->event_source, "ec2.amazonaws.com");
	assert_string_equal(p.ev->event_name, "ModifyInstanceAttribute");
	assert_string_equal(p.ev->aws_region, "eu-west-1");
	assert_string_equal(p.ev->account_id, "123456789012");
	assert_string_equal(p.ev->recipient_account_id, "123456789012");
	assert_string_equal(p.ev->source_ip, "203.0.113.7");
	assert_string_equal(p.ev->user_agent, "aws-cli/2.15.30 Python/3.11.8");
	assert_string_equal(p.ev->error_code, "");
	assert_string_equal(p.ev->error_message, "");
	assert_int_equal(p.ev->read_only, TFDRIFT__V1__READ_ONLY__READ_ONLY_FALSE);
	assert_string_equal(p.ev->event_type, "AwsApiCall");
	assert_string_equal(p.ev->event_version, "1.08");
	assert_string_equal(p.ev->request_id, "11111111-2222");
	assert_string_equal(p.ev->request_parameters_json,
	    "{\"instanceId\":\"i-0abc123\",\"instanceType\":{\"value\":\"t3.large\"}}");
	assert_string_equal(p.ev->response_elements_json,
	    "{\"requestId\":\"11111111-2222\",\"_return\":true}");
	assert_string_equal(p.ev->additional_event_data_json, "{\"SignatureVersion\":\"SigV4\"}");
	assert_int_equal(p.ev->n_resources, 1);
	assert_string_equal(p.ev->resources[0]->arn,
	    "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123");
	assert_string_equal(p.ev->resources[0]->account_id, "123456789012");
	assert_string_equal(p.ev->resources[0]->type, "AWS::EC2::Instance");
	assert_true(p.ev->management_event);
	assert_string_equal(p.ev->event_category, "Management");
	assert_string_equal(p.ev->shared_event_id, "shared-1");
	assert_string_equal(p.ev->vpc_endpoint_id, "vpce-0123");
	assert_int_equal(p.ev->origin, TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FILE);
	assert_string_equal(p.ev->origin_detail, "logs/x.json.gz#3");
	assert_true(p.ev->received_at_ns == 42);
	assert_non_null(strstr(p.ev->raw_json, "\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\"}"));
	assert_non_null(strstr(p.ev->raw_json, "\"eventName\":\"ModifyInstanceAttribute\""));
	assert_null(strchr(p.ev->raw_json, '\n'));

	id = p.ev->user_identity;
	assert_non_null(id);
	assert_string_equal(id->type, "AssumedRole");
	assert_string_equal(id->principal_id, "AROAEXAMPLEID:alice");
	assert_string_equal(id->arn, "arn:aws:sts::123456789012:assumed-role/PlatformAdmin/alice");
	assert_string_equal(id->account_id, "123456789012");
	assert_string_equal(id->user_name, "");
	assert_string_equal(id->access_key_id, "ASIAEXAMPLEKEY");
	assert_string_equal(id->invoked_by, "");
	assert_string_equal(id->session_issuer_type, "Role");
	assert_string_equal(id->session_issuer_arn, "arn:aws:iam::123456789012:role/PlatformAdmin");
	assert_string_equal(id->session_issuer_user_name, "PlatformAdmin");
	assert_string_equal(id->session_issuer_principal_id, "AROAEXAMPLEID");
	assert_string_equal(id->session_name, "alice");
	assert_true(id->mfa_authenticated);
	assert_string_equal(id->session_creation_date, "2024-05-01T11:58:02Z");
	assert_string_equal(id->identity_provider, "");
	assert_string_equal(id->source_identity, "alice@example.com");
	assert_string_equal(id->on_behalf_of_user_id, "");
	assert_string_equal(id->credential_id, "");
	assert_null(p.skip);
	done(&p);
}

static void
iam_user_maps_user_fields(void **state)
{
	parsed p;
	(void)state;

	normalise(&p, iam_user);
	assert_int_equal(p.rv, 0);
	assert_true(p.ev->event_time_ns == T_NOON_NS + 250000000LL);
	assert_string_equal(p.ev->user_identity->type, "IAMUser");
	assert_string_equal(p.ev->user_identity->user_name, "bob");
	assert_string_equal(p.ev->user_identity->access_key_id, "AKIAEXAMPLE");
	assert_string_equal(p.ev->user_identity->arn, "arn:aws:iam::123456789012:user/bob");
	assert_string_equal(p.ev->user_identity->session_name, "");
	assert_false(p.ev->user_identity->mfa_authenticated);
	/* null responseElements is "" like an absent one */
	assert_string_equal(p.ev->response_elements_json, "");
	assert_string_equal(p.ev->additional_event_data_json, "");
	assert_int_equal(p.ev->n_resources, 0);
	done(&p);
}

static void
root_user_with_mfa_false(void **state)
{
	parsed p;
	(void)state;

	normalise(&p, root_user);
	assert_int_equal(p.rv, 0);
	assert_string_equal(p.ev->user_identity->type, "Root");
	assert_string_equal(p.ev->user_identity->principal_id, "123456789012");
	assert_string_equal(p.ev->user_identity->arn, "arn:aws:iam::123456789012:root");
	assert_false(p.ev->user_identity->mfa_authenticated);
	assert_string_equal(p.ev->user_identity->session_creation_date, "2024-05-01T10:00:00Z");
	/* an empty sessionIssuer leaves the issuer fields empty */
	assert_string_equal(p.ev->user_identity->session_issuer_arn, "");
	assert_string_equal(p.ev->user_identity->session_name, "");
	done(&p);
}

static void
aws_service_takes_recipient_account(void **state)
{
	parsed p;
	(void)state;

	normalise(&p, aws_service);
	assert_int_equal(p.rv, 0);
	assert_string_equal(p.ev->user_identity->type, "AWSService");
	assert_string_equal(p.ev->user_identity->invoked_by, "autoscaling.amazonaws.com");
	assert_string_equal(p.ev->user_identity->account_id, "");
	assert_string_equal(p.ev->account_id, "210987654321");
	assert_string_equal(p.ev->recipient_account_id, "210987654321");
	assert_string_equal(p.ev->event_type, "AwsServiceEvent");
	assert_string_equal(p.ev->shared_event_id, "shared-svc");
	assert_string_equal(p.ev->request_parameters_json,
	    "{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-1\"}]}}");
	done(&p);
}

static void
error_record_keeps_error(void **state)
{
	parsed p;
	(void)state;

	normalise(&p, error_record);
	assert_int_equal(p.rv, 0);
	assert_string_equal(p.ev->error_code, "Client.UnauthorizedOperation");
	assert_string_equal(p.ev->error_message,
	    "You are not authorized to perform this operation.");
	assert_string_equal(p.ev->user_identity->user_name, "carol");
	assert_string_equal(p.ev->response_elements_json, "");
	done(&p);
}

static void
read_only_states(void **state)
{
	parsed p;
	char *absent;
	char *as_string;
	(void)state;

	normalise(&p, read_only_record);
	assert_int_equal(p.rv, 0);
	assert_int_equal(p.ev->read_only, TFDRIFT__V1__READ_ONLY__READ_ONLY_TRUE);
	assert_string_equal(p.ev->request_parameters_json, "");
	assert_false(p.ev->management_event);
	/* no userIdentity.accountId: the recipient's */
	assert_string_equal(p.ev->account_id, "123456789012");
	done(&p);

	absent = with(read_only_record, "readOnly", NULL);
	normalise(&p, absent);
	assert_int_equal(p.rv, 0);
	assert_int_equal(p.ev->read_only, TFDRIFT__V1__READ_ONLY__READ_ONLY_UNKNOWN);
	done(&p);
	free(absent);

	as_string = with(read_only_record, "readOnly", "\"false\"");
	normalise(&p, as_string);
	assert_int_equal(p.rv, 0);
	assert_int_equal(p.ev->read_only, TFDRIFT__V1__READ_ONLY__READ_ONLY_FALSE);
	done(&p);
	free(as_string);
}

static void
sso_identity_fields(void **state)
{
	parsed p;
	const Tfdrift__V1__UserIdentity *id;
	(void)state;

	normalise(&p, sso_record);
	assert_int_equal(p.rv, 0);
	id = p.ev->user_identity;
	assert_string_equal(id->session_name, "erin@example.com");
	assert_string_equal(id->on_behalf_of_user_id, "u-1234");
	assert_string_equal(id->credential_id, "cred-1");
	assert_string_equal(id->identity_provider, "arn:aws:iam::123456789012:oidc-provider/idp");
	assert_true(id->mfa_authenticated); /* a JSON boolean is taken too */
	/* 12:00+02:00 is 10:00Z */
	assert_true(p.ev->event_time_ns == T_NOON_NS - 2 * 3600 * 1000000000LL);
	done(&p);
}

static void
missing_required_fields(void **state)
{
	static const struct {
		const char *key;
		const char *message;
	} cases[] = {
		{ "eventTime", "record 3: eventTime: missing" },
		{ "eventID", "record 3: eventID: missing" },
		{ "eventName", "record 3: eventName: missing" },
		{ "eventSource", "record 3: eventSource: missing" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = with(iam_user, cases[i].key, NULL);
		expect_reject(text, 3, 0, cases[i].message);
		free(text);
	}
}

static void
wrong_types_name_the_field(void **state)
{
	static const struct {
		const char *key, *value, *message;
	} cases[] = {
		{ "eventTime", "42", "record 17: eventTime: expected an RFC 3339 string, got 42" },
		{ "eventTime", "\"yesterday\"",
		    "record 17: eventTime: expected an RFC 3339 string, got \"yesterday\"" },
		{ "eventName", "5", "record 17: eventName: expected a string, got 5" },
		{ "eventID", "\"\"", "record 17: eventID: empty" },
		{ "awsRegion", "[\"eu\"]",
		    "record 17: awsRegion: expected a string, got an array" },
		{ "readOnly", "3", "record 17: readOnly: expected a boolean, got 3" },
		{ "managementEvent", "\"maybe\"",
		    "record 17: managementEvent: expected a boolean, got \"maybe\"" },
		{ "userIdentity", "\"alice\"",
		    "record 17: userIdentity: expected an object, got \"alice\"" },
		{ "userIdentity", "{\"type\":\"IAMUser\",\"userName\":7}",
		    "record 17: userIdentity.userName: expected a string, got 7" },
		{ "userIdentity", "{\"sessionContext\":\"x\"}",
		    "record 17: userIdentity.sessionContext: expected an object, got \"x\"" },
		{ "userIdentity",
		    "{\"sessionContext\":{\"attributes\":{\"mfaAuthenticated\":\"yes\"}}}",
		    "record 17: userIdentity.sessionContext.attributes.mfaAuthenticated: expected a boolean, got \"yes\"" },
		{ "resources", "{}", "record 17: resources: expected an array, got an object" },
		{ "resources", "[{\"ARN\":\"a\"},3]",
		    "record 17: resources[1]: expected an object, got 3" },
		{ "resources", "[{\"ARN\":true}]",
		    "record 17: resources[0].ARN: expected a string, got true" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = with(iam_user, cases[i].key, cases[i].value);
		expect_reject(text, 17, 0, cases[i].message);
		free(text);
	}
}

static void
json_lines_names_the_line(void **state)
{
	char *text = with(iam_user, "eventTime", "null");
	(void)state;

	expect_reject(text, 4, 5, "record 4 (line 5): eventTime: missing");
	free(text);
}

static void
not_an_object_is_rejected(void **state)
{
	(void)state;
	expect_reject("[1,2]", 0, 0, "record 0: expected a JSON object, got an array");
}

static void
insight_is_skipped(void **state)
{
	parsed p;
	(void)state;

	normalise(&p, insight_record);
	assert_int_equal(p.rv, 0);
	assert_null(p.ev);
	assert_non_null(p.skip);
	assert_string_equal(p.skip, "AwsCloudTrailInsight");
	done(&p);
}

static void
renders_one_json_line(void **state)
{
	parsed p;
	char *line = NULL;
	cJSON *o;
	const cJSON *ui, *rp, *res;
	(void)state;

	normalise_at(&p, assumed_role, 3, 0);
	assert_int_equal(p.rv, 0);
	assert_int_equal(ct_event_to_json(p.ev, &line), 0);
	assert_null(strchr(line, '\n'));
	o = cJSON_Parse(line);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "event_id")->valuestring,
	    "5d7c3f1a-0000-4000-8000-000000000001");
	assert_string_equal(cJSON_GetObjectItem(o, "event_time")->valuestring,
	    "2024-05-01T12:00:00Z");
	assert_string_equal(cJSON_GetObjectItem(o, "event_source")->valuestring,
	    "ec2.amazonaws.com");
	assert_string_equal(cJSON_GetObjectItem(o, "event_name")->valuestring,
	    "ModifyInstanceAttribute");
	assert_string_equal(cJSON_GetObjectItem(o, "aws_region")->valuestring, "eu-west-1");
	assert_string_equal(cJSON_GetObjectItem(o, "account_id")->valuestring, "123456789012");
	assert_string_equal(cJSON_GetObjectItem(o, "recipient_account_id")->valuestring,
	    "123456789012");
	assert_string_equal(cJSON_GetObjectItem(o, "source_ip")->valuestring, "203.0.113.7");
	assert_string_equal(cJSON_GetObjectItem(o, "error_code")->valuestring, "");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "read_only")));
	assert_string_equal(cJSON_GetObjectItem(o, "event_type")->valuestring, "AwsApiCall");
	assert_string_equal(cJSON_GetObjectItem(o, "origin")->valuestring, "file");
	assert_string_equal(cJSON_GetObjectItem(o, "origin_detail")->valuestring,
	    "logs/x.json.gz#3");
	ui = cJSON_GetObjectItem(o, "user_identity");
	assert_string_equal(cJSON_GetObjectItem(ui, "session_name")->valuestring, "alice");
	assert_string_equal(cJSON_GetObjectItem(ui, "session_issuer_arn")->valuestring,
	    "arn:aws:iam::123456789012:role/PlatformAdmin");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ui, "mfa_authenticated")));
	assert_null(cJSON_GetObjectItem(ui, "user_name")); /* empty fields are left out */
	rp = cJSON_GetObjectItem(o, "request_parameters");
	assert_string_equal(cJSON_GetObjectItem(rp, "instanceId")->valuestring, "i-0abc123");
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "response_elements")));
	res = cJSON_GetObjectItem(o, "resources");
	assert_int_equal(cJSON_GetArraySize(res), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(res, 0), "type")->valuestring,
	    "AWS::EC2::Instance");
	cJSON_Delete(o);
	free(line);
	done(&p);

	/* unknown readOnly is null; absent parameters are null */
	{
		char *text = with(read_only_record, "readOnly", NULL);
		normalise(&p, text);
		assert_int_equal(ct_event_to_json(p.ev, &line), 0);
		o = cJSON_Parse(line);
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "read_only")));
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "request_parameters")));
		cJSON_Delete(o);
		free(line);
		done(&p);
		free(text);
	}
}

static void
survives_protobuf_round_trip(void **state)
{
	parsed p;
	uint8_t *buf;
	size_t len;
	Tfdrift__V1__CloudEvent *back;
	(void)state;

	normalise(&p, assumed_role);
	assert_int_equal(p.rv, 0);
	len = tfdrift__v1__cloud_event__get_packed_size(p.ev);
	buf = malloc(len);
	assert_non_null(buf);
	tfdrift__v1__cloud_event__pack(p.ev, buf);
	back = tfdrift__v1__cloud_event__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_string_equal(back->event_id, p.ev->event_id);
	assert_string_equal(back->user_identity->session_issuer_arn,
	    p.ev->user_identity->session_issuer_arn);
	assert_string_equal(back->resources[0]->arn, p.ev->resources[0]->arn);
	assert_true(back->event_time_ns == p.ev->event_time_ns);
	tfdrift__v1__cloud_event__free_unpacked(back, NULL);
	free(buf);
	done(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(assumed_role_maps_every_field),
		cmocka_unit_test(iam_user_maps_user_fields),
		cmocka_unit_test(root_user_with_mfa_false),
		cmocka_unit_test(aws_service_takes_recipient_account),
		cmocka_unit_test(error_record_keeps_error),
		cmocka_unit_test(read_only_states),
		cmocka_unit_test(sso_identity_fields),
		cmocka_unit_test(missing_required_fields),
		cmocka_unit_test(wrong_types_name_the_field),
		cmocka_unit_test(json_lines_names_the_line),
		cmocka_unit_test(not_an_object_is_rejected),
		cmocka_unit_test(insight_is_skipped),
		cmocka_unit_test(renders_one_json_line),
		cmocka_unit_test(survives_protobuf_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
