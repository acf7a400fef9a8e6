/* aws_credentials.h — AWS credentials from the standard chain, as the AWS
 * CLI and SDKs find them, for anything that signs AWS requests (the S3 state
 * source today; a CloudTrail reader of S3 could share it: it depends only on
 * fetch.h for its HTTP calls).
 *
 * Threads: see aws_credentials(). */
#ifndef TFDRIFT_STATE_LOADER_AWS_CREDENTIALS_H
#define TFDRIFT_STATE_LOADER_AWS_CREDENTIALS_H

#include "tfdrift/error.h"

typedef struct aws_creds {
	char key_id[128];
	char secret[128];
	char token[4096]; /* "" when none */
	char from[64];    /* where they came from, for messages */
} aws_creds;

/* AWS credentials from the standard chain: AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN; the profile AWS_PROFILE
 * (default "default") in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials)
 * and AWS_CONFIG_FILE (~/.aws/config, section "profile NAME"): role_arn +
 * source_profile (STS AssumeRole signed with the source profile's
 * credentials, at AWS_ENDPOINT_URL_STS when set; external_id,
 * role_session_name, region honoured), else IAM Identity Center (SSO:
 * sso_session or sso_start_url, sso_account_id, sso_role_name, sso_region;
 * the token `aws sso login` cached in ~/.aws/sso/cache is exchanged at the
 * portal, AWS_ENDPOINT_URL_SSO when set; an expired token is an error, it is
 * not refreshed), else credential_process (its JSON
 * Version 1 output; Expiration honoured, none: never expires), else static
 * keys; a profile that is configured but fails is an error naming it; web
 * identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE -> STS
 * AssumeRoleWithWebIdentity at AWS_ENDPOINT_URL_STS or sts.<AWS_REGION>);
 * ECS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 * _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]); EC2 instance
 * metadata with IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT, off with
 * AWS_EC2_METADATA_DISABLED=true).  Temporary credentials are cached and
 * fetched again 5 minutes before they expire.  TD_ENOTFOUND when none.
 * Thread-safe (the cache has a lock); fetches block (short timeouts). */
int aws_credentials(aws_creds *out, td_error *err);

#endif
