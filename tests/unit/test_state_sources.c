/* test_state_sources.c — state_loader.local_files entries
 * (services/state-loader/loader.c: ldr_parse_source). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../services/state-loader/aws_credentials.h"
#include "../../services/state-loader/loader.h"
#include "../../services/state-loader/s3_listing.h"
#include "../../services/state-loader/source.h"

static void
expect_ok(const char *spec, const char *want_name, const char *want_path)
{
	char *name = NULL, *path = NULL;
	td_error err = { 0 };

	assert_int_equal(ldr_parse_source(spec, &name, &path, &err), 0);
	assert_string_equal(name, want_name);
	assert_string_equal(path, want_path);
	free(name);
	free(path);
}

static void
expect_bad(const char *spec, const char *msg)
{
	char *name = (char *)"x", *path = (char *)"y";
	td_error err = { 0 };

	assert_int_equal(ldr_parse_source(spec, &name, &path, &err), TD_EINVAL);
	assert_null(name);
	assert_null(path);
	assert_string_equal(err.msg, msg);
}

static void
test_named(void **state)
{
	(void)state;
	expect_ok("prod/network=/states/network.tfstate", "prod/network",
	    "/states/network.tfstate");
	/* the first '=' splits: a path may hold '=' */
	expect_ok("x=/data/a=b.tfstate", "x", "/data/a=b.tfstate");
	expect_ok("rel=states/dev.tfstate", "rel", "states/dev.tfstate");
}

static void
test_bare_path(void **state)
{
	(void)state;
	expect_ok("/states/prod.tfstate", "prod.tfstate", "/states/prod.tfstate");
	expect_ok("terraform.tfstate", "terraform.tfstate", "terraform.tfstate");
}

static void
test_bad(void **state)
{
	(void)state;
	expect_bad("=/x", "state_loader.local_files: \"=/x\": no workspace name (write NAME=PATH)");
	expect_bad("name=", "state_loader.local_files: \"name=\": no path");
	expect_bad("/states/",
	    "state_loader.local_files: \"/states/\": no workspace name (write NAME=PATH)");
	expect_bad("", "state_loader.local_files: \"\": no path");
	expect_bad("a\tb=/x",
	    "state_loader.local_files: \"a\tb=/x\": the workspace name may not hold a tab or newline");
}

static void
test_uri_sources(void **state)
{
	src_spec sp;
	td_error err = { 0 };

	(void)state;
	assert_int_equal(src_parse("a=file:///srv/x%20y.tfstate", &sp, &err), 0);
	assert_int_equal(sp.kind, SRC_FILE);
	assert_string_equal(sp.path, "/srv/x y.tfstate");
	src_spec_free(&sp);

	/* userinfo leaves the URL; options after # are never sent */
	assert_int_equal(
	    src_parse("prod/net=https://ci:p%40ss@h.example:8443/s/net#ca=/ca.pem&insecure=1", &sp,
		&err),
	    0);
	assert_int_equal(sp.kind, SRC_HTTP);
	assert_string_equal(sp.name, "prod/net");
	assert_string_equal(sp.url, "https://h.example:8443/s/net");
	assert_string_equal(sp.shown, "https://h.example:8443/s/net");
	assert_string_equal(sp.user, "ci");
	assert_string_equal(sp.password, "p@ss");
	assert_string_equal(sp.ca_file, "/ca.pem");
	assert_true(sp.insecure);
	src_spec_free(&sp);

	/* s3: workspace under the prefix; endpoint path style; AWS host otherwise */
	assert_int_equal(src_parse("w=s3://b/dir/k.tfstate?region=eu-west-1&workspace=stg"
				   "&endpoint=http://127.0.0.1:4568/",
			     &sp, &err),
	    0);
	assert_string_equal(sp.url, "http://127.0.0.1:4568/b/env:/stg/dir/k.tfstate");
	assert_string_equal(sp.shown, "s3://b/env:/stg/dir/k.tfstate");
	assert_string_equal(sp.region, "eu-west-1");
	src_spec_free(&sp);
	assert_int_equal(src_parse("w=s3://b/k?region=us-west-2&workspace=default", &sp, &err), 0);
	assert_string_equal(sp.url, "https://b.s3.us-west-2.amazonaws.com/k");
	src_spec_free(&sp);
	assert_int_equal(src_parse("w=s3://b/k?region=r&workspace=x&workspace_prefix=states", &sp,
			     &err),
	    0);
	assert_string_equal(sp.shown, "s3://b/states/x/k");
	src_spec_free(&sp);

	/* hcp: the token comes from the environment only */
	setenv("TD_TEST_TOKEN", "tok", 1);
	assert_int_equal(src_parse("h=hcp://acme/prod?token_env=TD_TEST_TOKEN", &sp, &err), 0);
	assert_int_equal(sp.kind, SRC_HCP);
	assert_string_equal(sp.url, "https://app.terraform.io");
	assert_string_equal(sp.org, "acme");
	assert_string_equal(sp.workspace, "prod");
	assert_string_equal(sp.token, "tok");
	src_spec_free(&sp);

	/* errors name the entry */
	assert_int_equal(src_parse("w=ftp://x/y", &sp, &err), TD_EINVAL);
	assert_string_equal(err.msg,
	    "state_loader.sources: \"w=ftp://x/y\": unknown scheme "
	    "(file://, http(s)://, s3://, hcp://)");
	assert_int_equal(src_parse("s3://b/k", &sp, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "expected NAME=URI"));
	assert_int_equal(src_parse("w=s3://b", &sp, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "expected s3://BUCKET/KEY"));
	assert_int_equal(src_parse("w=s3://b/k?regoin=x", &sp, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "unknown option \"regoin=x\""));
	assert_int_equal(src_parse("h=hcp://acme/prod?token_env=TD_NO_SUCH_VAR_X", &sp, &err),
	    TD_EINVAL);
	assert_non_null(strstr(err.msg, "TD_NO_SUCH_VAR_X is not set"));

	/* ... with credentials replaced by *** */
	assert_int_equal(src_parse("w=https://ci:hunter2@h.example/s#colour=red", &sp, &err),
	    TD_EINVAL);
	assert_string_equal(err.msg,
	    "state_loader.sources: \"w=https://ci:***@h.example/s#colour=red\": unknown option "
	    "\"colour=red\"");
	assert_int_equal(src_parse("w=https://tok3n@h.example/s#password_env=TD_NO_SUCH_VAR_X", &sp,
			     &err),
	    TD_EINVAL);
	assert_null(strstr(err.msg, "tok3n"));
	assert_non_null(strstr(err.msg, "https://***@h.example/s#password_env=TD_NO_SUCH_VAR_X"));
	assert_int_equal(src_parse("w=s3://b/k?regoin=x&endpoint=http://u:s3cr3t@127.0.0.1:1/", &sp,
			     &err),
	    TD_EINVAL);
	assert_null(strstr(err.msg, "s3cr3t"));
	assert_int_equal(src_parse("w=ftp://u:pw1@x/y?token=abc&password=def&a=1", &sp, &err),
	    TD_EINVAL);
	assert_null(strstr(err.msg, "pw1"));
	assert_null(strstr(err.msg, "abc"));
	assert_null(strstr(err.msg, "def"));
	assert_non_null(strstr(err.msg, "ftp://u:***@x/y?token=***&password=***&a=1"));

	char *r = src_redact("a=http://x/y?X-Amz-Signature=f00&X-Amz-Credential=AKIA&token_env=T");
	assert_non_null(r);
	assert_string_equal(r, "a=http://x/y?X-Amz-Signature=***&X-Amz-Credential=***&token_env=T");
	free(r);
	r = src_redact("file:///srv/a@b.tfstate");
	assert_string_equal(r, "file:///srv/a@b.tfstate");
	free(r);
}

/* #account= and #region= on every kind of source (issue 17): the state's
 * resources' account and region, cut from what is fetched */
static void
test_scope_options(void **state)
{
	src_spec sp, child;
	td_error err = { 0 };

	(void)state;
	assert_int_equal(src_parse("a=file:///srv/a.tfstate#account=111111111111&region=eu-west-1",
			     &sp, &err),
	    0);
	assert_string_equal(sp.path, "/srv/a.tfstate");
	assert_string_equal(sp.scope_account, "111111111111");
	assert_string_equal(sp.scope_region, "eu-west-1");
	src_spec_free(&sp);
	assert_int_equal(src_parse("a=file:///srv/a.tfstate", &sp, &err), 0);
	assert_null(sp.scope_account);
	assert_null(sp.scope_region);
	src_spec_free(&sp);

	/* http: among the other fragment options, never sent */
	assert_int_equal(src_parse("n=https://h.example/s/net#insecure=1&account=222222222222", &sp,
			     &err),
	    0);
	assert_string_equal(sp.url, "https://h.example/s/net");
	assert_string_equal(sp.scope_account, "222222222222");
	assert_true(sp.insecure);
	src_spec_free(&sp);

	/* s3: the query's region is the bucket's, the fragment's the resources' */
	assert_int_equal(src_parse("p=s3://b/k?region=eu-west-1&workspace=*&endpoint=http://e:1"
				   "#account=333333333333&region=ap-south-1",
			     &sp, &err),
	    0);
	assert_string_equal(sp.region, "eu-west-1");
	assert_string_equal(sp.scope_region, "ap-south-1");
	assert_string_equal(sp.url, "http://e:1/b/k");
	/* discovered workspaces keep the options */
	assert_int_equal(src_s3_child(&sp, "stg", &child, &err), 0);
	assert_string_equal(child.scope_account, "333333333333");
	assert_string_equal(child.scope_region, "ap-south-1");
	src_spec_free(&child);
	src_spec_free(&sp);

	setenv("TD_TEST_TOKEN", "tok", 1);
	assert_int_equal(src_parse("h=hcp://acme/prod?token_env=TD_TEST_TOKEN#account=444444444444",
			     &sp, &err),
	    0);
	assert_string_equal(sp.workspace, "prod");
	assert_string_equal(sp.scope_account, "444444444444");
	src_spec_free(&sp);

	/* errors name the entry and the value */
	assert_int_equal(src_parse("a=file:///a#account=12", &sp, &err), TD_EINVAL);
	assert_string_equal(err.msg,
	    "state_loader.sources: \"a=file:///a#account=12\": account \"12\": expected a "
	    "12-digit AWS account id");
	assert_int_equal(src_parse("a=file:///a#region=Europe", &sp, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "region \"Europe\": expected an AWS region"));
	assert_int_equal(src_parse("a=s3://b/k#acount=111111111111", &sp, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "unknown option \"acount=111111111111\""));
}

static void
collect(void *arg, const char *ws, const char *etag)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s=%s,", ws, etag);
}

static void
test_s3_discovery(void **state)
{
	src_spec sp, child;
	td_error err = { 0 };
	char found[256] = "", *url;

	(void)state;
	assert_int_equal(
	    src_parse("p=s3://b/dir/k.tfstate?region=r&workspace=*&endpoint=http://e:1", &sp, &err),
	    0);
	assert_true(sp.discover);
	assert_string_equal(sp.url, "http://e:1/b/dir/k.tfstate");
	url = src_s3_list_url(&sp, NULL);
	assert_string_equal(url, "http://e:1/b?list-type=2&prefix=env%3A%2F");
	free(url);
	/* later pages: the token percent-encoded, parameters in canonical order */
	url = src_s3_list_url(&sp, "a+b/c=");
	assert_string_equal(url,
	    "http://e:1/b?continuation-token=a%2Bb%2Fc%3D&list-type=2&prefix=env%3A%2F");
	free(url);
	assert_true(src_s3_next_token("<ListBucketResult><IsTruncated>true</IsTruncated>"
				      "<NextContinuationToken>x&amp;y=</NextContinuationToken>",
	    found, sizeof(found)));
	assert_string_equal(found, "x&y=");
	assert_false(src_s3_next_token("<IsTruncated>false</IsTruncated>", found, sizeof(found)));
	assert_false(src_s3_next_token("<IsTruncated>true</IsTruncated>", found, sizeof(found)));
	found[0] = '\0';
	/* each workspace with its object's ETag (entities decoded), wherever the
	 * ETag stands in its <Contents>; none given: "" */
	src_s3_workspaces(&sp,
	    "<ListBucketResult><Contents><Key>dir/k.tfstate</Key><ETag>&quot;0&quot;</ETag>"
	    "</Contents><Contents><Key>env:/dev/dir/k.tfstate</Key><LastModified>2026-01-01T00:00:"
	    "00.000Z</LastModified><ETag>&quot;9b2c&quot;</ETag><Size>12</Size></Contents>"
	    "<Contents><Key>env:/dev/other.tfstate</Key><ETag>&quot;1&quot;</ETag></Contents>"
	    "<Contents><ETag>\"ab-2\"</ETag><Key>env:/qa-1/dir/k.tfstate</Key></Contents>"
	    "<Contents><Key>env:/minio/dir/k.tfstate</Key><ETag>&#34;m1&#x22;&#1;</ETag></Contents>"
	    "<Contents><Key>env:/qa/dir/k.tfstate</Key></Contents>"
	    "<Contents><Key>env:/a/b/dir/k.tfstate</Key><ETag>&quot;2&quot;</ETag></Contents>"
	    "</ListBucketResult>",
	    collect, found);
	assert_string_equal(found, "dev=\"9b2c\",qa-1=\"ab-2\",minio=\"m1\"&#1;,qa=,");
	assert_int_equal(src_s3_child(&sp, "qa", &child, &err), 0);
	assert_string_equal(child.name, "p/qa");
	assert_string_equal(child.url, "http://e:1/b/env:/qa/dir/k.tfstate");
	assert_string_equal(child.shown, "s3://b/env:/qa/dir/k.tfstate");
	assert_false(child.discover);
	src_spec_free(&child);
	src_spec_free(&sp);
	assert_int_equal(src_parse("p=s3://b/k?workspace=*&max_keys=2&endpoint=http://e:1", &sp,
			     &err),
	    0);
	url = src_s3_list_url(&sp, NULL);
	assert_string_equal(url, "http://e:1/b?list-type=2&max-keys=2&prefix=env%3A%2F");
	free(url);
	assert_int_equal(src_s3_child(&sp, "qa", &child, &err), 0);
	assert_int_equal(child.max_keys, 2);
	src_spec_free(&child);
	src_spec_free(&sp);
	assert_int_equal(src_parse("p=s3://b/k?max_keys=0", &sp, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "max_keys"));
}

/* A discovering source's last listing, as its workspaces' fetchers read it. */
static void
test_s3_listing(void **state)
{
	s3_listing *l = s3_listing_new(), *r;
	s3_entries *e = s3_entries_new();

	(void)state;
	assert_non_null(l);
	assert_non_null(e);
	assert_int_equal(s3_listing_round(l), 0);
	/* no listing yet: ask the store */
	assert_int_equal(s3_listing_check(l, "dev", "\"a\"", 1000, 500), S3L_UNKNOWN);
	/* the store's order ('-' before '/') is not the names' */
	assert_int_equal(s3_entries_add(e, "qa-1", "\"b\""), 0);
	assert_int_equal(s3_entries_add(e, "qa", "\"c\""), 0);
	assert_int_equal(s3_entries_add(e, "dev", "\"a\""), 0);
	s3_listing_publish(l, e, 1000);
	assert_int_equal(s3_listing_round(l), 1);
	assert_int_equal(s3_listing_check(l, "dev", "\"a\"", 1200, 500), S3L_SAME);
	assert_int_equal(s3_listing_check(l, "qa", "\"c\"", 1200, 500), S3L_SAME);
	assert_int_equal(s3_listing_check(l, "qa-1", "\"b\"", 1500, 500), S3L_SAME);
	assert_int_equal(s3_listing_check(l, "qa", "\"b\"", 1200, 500), S3L_CHANGED);
	assert_int_equal(s3_listing_check(l, "gone", "\"a\"", 1200, 500), S3L_CHANGED);
	/* nothing loaded yet (no 200): not the same */
	assert_int_equal(s3_listing_check(l, "dev", "", 1200, 500), S3L_CHANGED);
	/* too old: ask the store */
	assert_int_equal(s3_listing_check(l, "dev", "\"a\"", 1501, 500), S3L_UNKNOWN);
	/* a reference outlives the first; a new listing replaces the old */
	r = s3_listing_ref(l);
	s3_listing_unref(l);
	e = s3_entries_new();
	assert_int_equal(s3_entries_add(e, "dev", "\"a2\""), 0);
	s3_listing_publish(r, e, 2000);
	assert_int_equal(s3_listing_round(r), 2);
	assert_int_equal(s3_listing_check(r, "dev", "\"a\"", 2000, 500), S3L_CHANGED);
	assert_int_equal(s3_listing_check(r, "qa", "\"c\"", 2000, 500), S3L_CHANGED);
	/* an empty listing: every workspace is gone */
	s3_listing_publish(r, s3_entries_new(), 3000);
	assert_int_equal(s3_listing_check(r, "dev", "\"a2\"", 3000, 500), S3L_CHANGED);
	s3_listing_unref(r);
	s3_listing_unref(NULL);
}

static void
test_aws_credentials(void **state)
{
	char path[] = "/tmp/test_state_credsXXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	aws_creds c;
	td_error err = { 0 };

	(void)state;
	assert_non_null(f);
	fprintf(f,
	    "[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = s1\n\n"
	    "[ci]\naws_access_key_id=AKIDCI\naws_secret_access_key=s2\naws_session_token = t2\n");
	fclose(f);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "senv", 1);
	assert_int_equal(aws_credentials(&c, &err), 0);
	assert_string_equal(c.key_id, "AKIDENV");
	assert_string_equal(c.from, "environment");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	assert_int_equal(aws_credentials(&c, &err), 0);
	assert_string_equal(c.key_id, "AKIDDEF");
	assert_string_equal(c.token, "");
	setenv("AWS_PROFILE", "ci", 1);
	assert_int_equal(aws_credentials(&c, &err), 0);
	assert_string_equal(c.key_id, "AKIDCI");
	assert_string_equal(c.secret, "s2");
	assert_string_equal(c.token, "t2");
	setenv("AWS_PROFILE", "none", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1); /* no instance metadata here */
	assert_int_equal(aws_credentials(&c, &err), TD_ENOTFOUND);
	assert_non_null(strstr(err.msg, "profile none"));
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");
	unlink(path);
}

/* credential_process: JSON Version 1, Expiration honoured (cached until
 * shortly before it); role_arn without a usable source profile. */
static void
test_aws_profiles(void **state)
{
	char dir[] = "/tmp/test_state_profXXXXXX", cfg[256], creds[256], script[256], count[256];
	char line[64];
	aws_creds c;
	td_error err = { 0 };
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/config", dir);
	snprintf(creds, sizeof(creds), "%s/credentials", dir);
	snprintf(script, sizeof(script), "%s/proc.sh", dir);
	snprintf(count, sizeof(count), "%s/count", dir);
	f = fopen(script, "w");
	assert_non_null(f);
	/* $1: the Expiration to print; every run leaves a line in count */
	fprintf(f,
	    "echo run >>%s\n"
	    "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": "
	    "\"sp\", \"SessionToken\": \"tp\", \"Expiration\": \"%%s\"}' \"$1\"\n",
	    count);
	fclose(f);
	f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f,
	    "[profile later]\ncredential_process = sh %s 2999-01-01T00:00:00Z\n"
	    "[profile soon]\ncredential_process = sh %s 2000-01-01T00:00:00Z\n"
	    "[profile v2]\ncredential_process = printf '{\"Version\":2}'\n"
	    "[profile fails]\ncredential_process = sh -c 'exit 3'\n"
	    "[profile norole]\nrole_arn = arn:aws:iam::1:role/x\n"
	    "[profile nosource]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = missing\n"
	    "[profile selfnokeys]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = "
	    "selfnokeys\n"
	    "[profile ssonone]\nsso_start_url = https://x/start\nsso_region = r\n"
	    "sso_account_id = 1\nsso_role_name = R\n"
	    "[profile ssoold]\nsso_session = old\nsso_account_id = 1\nsso_role_name = R\n"
	    "[sso-session old]\nsso_start_url = https://x/start\nsso_region = r\n",
	    script, script);
	fclose(f);
	setenv("AWS_CONFIG_FILE", cfg, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);

	setenv("AWS_PROFILE", "later", 1);
	assert_int_equal(aws_credentials(&c, &err), 0);
	assert_string_equal(c.key_id, "AKIDPROC");
	assert_string_equal(c.secret, "sp");
	assert_string_equal(c.token, "tp");
	assert_non_null(strstr(c.from, "credential_process"));
	assert_int_equal(aws_credentials(&c, &err), 0); /* cached: not run again */
	setenv("AWS_PROFILE", "soon", 1);               /* expired: run every time */
	assert_int_equal(aws_credentials(&c, &err), 0);
	assert_int_equal(aws_credentials(&c, &err), 0);
	assert_string_equal(c.key_id, "AKIDPROC");
	f = fopen(count, "r");
	assert_non_null(f);
	int runs = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		runs++;
	}
	fclose(f);
	assert_int_equal(runs, 3);

	setenv("AWS_PROFILE", "v2", 1);
	assert_int_equal(aws_credentials(&c, &err), TD_EPROTO);
	assert_non_null(strstr(err.msg, "profile v2: credential_process: \"Version\" must be 1"));
	setenv("AWS_PROFILE", "fails", 1);
	assert_int_equal(aws_credentials(&c, &err), TD_EIO);
	assert_non_null(strstr(err.msg, "profile fails: credential_process exited with status 3"));
	assert_string_equal(c.key_id, "");
	setenv("AWS_PROFILE", "norole", 1);
	assert_int_equal(aws_credentials(&c, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "profile norole: role_arn without source_profile"));
	setenv("AWS_PROFILE", "nosource", 1);
	assert_int_equal(aws_credentials(&c, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "profile nosource: source_profile missing has no"));
	setenv("AWS_PROFILE", "selfnokeys", 1);
	assert_int_equal(aws_credentials(&c, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "names itself"));

	/* SSO: the token cache is ~/.aws/sso/cache/<sha1("old")>.json */
	char home[300], cache[400];
	const char *oldhome = getenv("HOME");
	char *saved = oldhome != NULL ? strdup(oldhome) : NULL;
	snprintf(home, sizeof(home), "%s/.aws", dir);
	assert_int_equal(mkdir(home, 0700), 0);
	snprintf(home, sizeof(home), "%s/.aws/sso", dir);
	assert_int_equal(mkdir(home, 0700), 0);
	snprintf(home, sizeof(home), "%s/.aws/sso/cache", dir);
	assert_int_equal(mkdir(home, 0700), 0);
	snprintf(cache, sizeof(cache), "%s/c00dbbc9dadfbe1e232e93a729dd4752fade0abf.json", home);
	setenv("HOME", dir, 1);
	setenv("AWS_PROFILE", "ssonone", 1);
	assert_int_equal(aws_credentials(&c, &err), TD_EIO);
	assert_non_null(strstr(err.msg, "profile ssonone: no SSO token cached"));
	f = fopen(cache, "w");
	assert_non_null(f);
	fprintf(f, "{\"accessToken\":\"t\",\"expiresAt\":\"2001-01-01T00:00:00Z\"}");
	fclose(f);
	setenv("AWS_PROFILE", "ssoold", 1);
	assert_int_equal(aws_credentials(&c, &err), TD_EIO);
	assert_non_null(strstr(err.msg, "profile ssoold: the SSO token expired at 2001-01-01"));
	if (saved != NULL) {
		setenv("HOME", saved, 1);
		free(saved);
	}
	unlink(cache);
	rmdir(home);
	snprintf(home, sizeof(home), "%s/.aws/sso", dir);
	rmdir(home);
	snprintf(home, sizeof(home), "%s/.aws", dir);
	rmdir(home);

	unsetenv("AWS_PROFILE");
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unlink(cfg);
	unlink(script);
	unlink(count);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named),
		cmocka_unit_test(test_bare_path),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_uri_sources),
		cmocka_unit_test(test_scope_options),
		cmocka_unit_test(test_s3_discovery),
		cmocka_unit_test(test_s3_listing),
		cmocka_unit_test(test_aws_credentials),
		cmocka_unit_test(test_aws_profiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
