/* aws_credentials.c — see aws_credentials.h. */
#include "aws_credentials.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "fetch.h"
#include "tfdrift/hex.h"

/* ---- AWS credentials ------------------------------------------------------ */

/* What a profile of ~/.aws/credentials and ~/.aws/config may say. */
typedef struct aws_profile {
	char key_id[128];
	char secret[128];
	char token[4096];
	char role_arn[512];
	char source_profile[128];
	char credential_process[2048];
	char external_id[512];
	char session_name[128];
	char region[64];
	char sso_session[128];
	char sso_account_id[32];
	char sso_role_name[128];
	char sso_start_url[512];
	char sso_region[64];
	bool found; /* the section exists in one of the files */
} aws_profile;

/* The keys read, and where they go. */
static const struct {
	const char *key;
	size_t off, len;
} profile_keys[] = {
#define PK(k, f)                                                           \
	{                                                                  \
		k, offsetof(aws_profile, f), sizeof(((aws_profile *)0)->f) \
	}
	PK("aws_access_key_id", key_id),
	PK("aws_secret_access_key", secret),
	PK("aws_session_token", token),
	PK("role_arn", role_arn),
	PK("source_profile", source_profile),
	PK("credential_process", credential_process),
	PK("external_id", external_id),
	PK("role_session_name", session_name),
	PK("region", region),
	PK("sso_session", sso_session),
	PK("sso_account_id", sso_account_id),
	PK("sso_role_name", sso_role_name),
	PK("sso_start_url", sso_start_url),
	PK("sso_region", sso_region),
#undef PK
};

/* Reads the keys of [section] of an INI file into p (keys already set are
 * overwritten: the config file is read after the credentials file, as the
 * AWS CLI does).  Missing file or section: p unchanged. */
static void
ini_section(const char *path, const char *section, aws_profile *p)
{
	FILE *f = fopen(path, "r");
	char line[4352], *k, *e, *v;
	bool in = false;
	size_t i;

	if (f == NULL) {
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		for (k = line; *k == ' ' || *k == '\t'; k++) {
		}
		e = k + strlen(k);
		while (e > k && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
			*--e = '\0';
		}
		if (*k == '[') {
			if (e > k && e[-1] == ']') {
				e[-1] = '\0';
			}
			in = strcmp(k + 1, section) == 0;
			p->found = p->found || in;
			continue;
		}
		if (!in || (v = strchr(k, '=')) == NULL) {
			continue;
		}
		for (e = v; e > k && (e[-1] == ' ' || e[-1] == '\t'); e--) {
		}
		*e = '\0';
		for (v++; *v == ' ' || *v == '\t'; v++) {
		}
		for (i = 0; i < sizeof(profile_keys) / sizeof(profile_keys[0]); i++) {
			if (strcmp(k, profile_keys[i].key) == 0) {
				snprintf((char *)p + profile_keys[i].off, profile_keys[i].len, "%s",
				    v);
			}
		}
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
}

/* Profile `name` from AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials,
 * section [name]) and AWS_CONFIG_FILE (~/.aws/config, [profile name] or
 * [default]). */
static void
read_profile(const char *name, aws_profile *p)
{
	const char *home = getenv("HOME"), *file;
	char path[1024], section[192];

	memset(p, 0, sizeof(*p));
	file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	if (file == NULL) {
		snprintf(path, sizeof(path), "%s/.aws/credentials", home != NULL ? home : "");
		file = path;
	}
	ini_section(file, name, p);
	file = getenv("AWS_CONFIG_FILE");
	if (file == NULL) {
		snprintf(path, sizeof(path), "%s/.aws/config", home != NULL ? home : "");
		file = path;
	}
	snprintf(section, sizeof(section), strcmp(name, "default") == 0 ? "%s" : "profile %s",
	    name);
	ini_section(file, section, p);
	if (p->sso_session[0] != '\0') {
		/* sso_start_url and sso_region live in [sso-session NAME] */
		bool found = p->found;
		snprintf(section, sizeof(section), "sso-session %s", p->sso_session);
		ini_section(file, section, p);
		p->found = found;
	}
}

/* ---- temporary credentials (web identity, ECS, IMDSv2), cached ------------ */

/* Refreshed this long before they expire. */
#define REFRESH_BEFORE_S 300

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static aws_creds cache;
static time_t cache_expires; /* 0: nothing cached */

/* "2024-01-02T03:04:05Z" -> time_t; 0 when unreadable. */
static time_t
parse_expiration(const char *s)
{
	struct tm tm = { 0 };

	if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL) {
		return 0;
	}
	return timegm(&tm);
}

/* Text between <tag> and </tag> in xml, into out. */
static bool
xml_value(const char *xml, const char *tag, char *out, size_t outlen)
{
	char open[64], close[64];
	const char *a, *b;

	if (xml == NULL) {
		return false;
	}
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if ((a = strstr(xml, open)) == NULL || (b = strstr(a, close)) == NULL) {
		return false;
	}
	a += strlen(open);
	snprintf(out, outlen, "%.*s", (int)(b - a), a);
	return true;
}

/* ECS and IMDS answer {"AccessKeyId","SecretAccessKey","Token","Expiration"}. */
static int
creds_from_json(const char *body, size_t len, aws_creds *c, time_t *expires, const char *from,
    td_error *err)
{
	cJSON *o = cJSON_ParseWithLength(body, len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "AccessKeyId");
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(o, "SecretAccessKey");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(o, "Token");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(o, "Expiration");
	int rv = 0;

	if (!cJSON_IsString(id) || !cJSON_IsString(sec)) {
		rv = td_error_set(err, TD_EPROTO,
		    "%s: no AccessKeyId/SecretAccessKey in the answer", from);
	} else {
		snprintf(c->key_id, sizeof(c->key_id), "%s", id->valuestring);
		snprintf(c->secret, sizeof(c->secret), "%s", sec->valuestring);
		snprintf(c->token, sizeof(c->token), "%s",
		    cJSON_IsString(tok) ? tok->valuestring : "");
		snprintf(c->from, sizeof(c->from), "%s", from);
		*expires = parse_expiration(cJSON_IsString(exp) ? exp->valuestring : NULL);
	}
	cJSON_Delete(o);
	return rv;
}

static int
get(const char *method, const char *url, const char *const *headers, long timeout_ms,
    fetch_resp *rp, const char *from, td_error *err)
{
	fetch_req rq = { .method = method,
		.headers = headers,
		.url = url,
		.shown = from,
		.max_size = 1u << 20,
		.timeout_ms = timeout_ms };
	int rv = fetch_get(&rq, rp, err);

	if (rv == 0 && rp->status != 200) {
		rv = td_error_set(err, TD_EIO, "%s: HTTP %ld", from, rp->status);
	} else if (rv == 0 && rp->body == NULL) {
		rv = td_error_set(err, TD_EPROTO, "%s: empty answer", from);
	}
	if (rv != 0) {
		free(rp->body);
		rp->body = NULL;
	}
	return rv;
}

/* EKS IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE -> STS. */
static int
web_identity(aws_creds *c, time_t *expires, td_error *err)
{
	const char *role = getenv("AWS_ROLE_ARN"), *file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *ep = getenv("AWS_ENDPOINT_URL_STS"), *region = getenv("AWS_REGION");
	const char *session = getenv("AWS_ROLE_SESSION_NAME");
	char token[8192], url[16384], buf[4096], *er = NULL, *et = NULL;
	fetch_resp rp = { 0 };
	FILE *f;
	size_t n;
	int rv;

	if (role == NULL || role[0] == '\0' || file == NULL || file[0] == '\0') {
		return TD_ENOTFOUND;
	}
	if ((f = fopen(file, "r")) == NULL) {
		return td_error_set(err, TD_EIO, "AWS_WEB_IDENTITY_TOKEN_FILE %s: cannot open",
		    file);
	}
	n = fread(token, 1, sizeof(token) - 1, f);
	fclose(f);
	while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' ')) {
		n--;
	}
	token[n] = '\0';
	if (ep == NULL || ep[0] == '\0') {
		ep = getenv("AWS_ENDPOINT_URL");
	}
	if (ep == NULL || ep[0] == '\0') {
		snprintf(buf, sizeof(buf), "https://sts.%s.amazonaws.com",
		    region != NULL && region[0] != '\0' ? region : "us-east-1");
	} else {
		snprintf(buf, sizeof(buf), "%s", ep);
	}
	{
		CURL *h = curl_easy_init();
		if (h == NULL) {
			return td_error_set(err, TD_ENOMEM, "out of memory");
		}
		er = curl_easy_escape(h, role, 0);
		et = curl_easy_escape(h, token, 0);
		curl_easy_cleanup(h);
	}
	snprintf(url, sizeof(url),
	    "%s/?Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleSessionName=%s"
	    "&RoleArn=%s&WebIdentityToken=%s",
	    buf, session != NULL && session[0] != '\0' ? session : "tfdrift-state-loader",
	    er != NULL ? er : "", et != NULL ? et : "");
	curl_free(er);
	curl_free(et);
	explicit_bzero(token, sizeof(token));
	rv = get(NULL, url, NULL, 10000, &rp, "sts AssumeRoleWithWebIdentity", err);
	explicit_bzero(url, sizeof(url));
	if (rv != 0) {
		return rv;
	}
	if (!xml_value(rp.body, "AccessKeyId", c->key_id, sizeof(c->key_id)) ||
	    !xml_value(rp.body, "SecretAccessKey", c->secret, sizeof(c->secret))) {
		rv = td_error_set(err, TD_EPROTO, "sts AssumeRoleWithWebIdentity: no credentials");
	} else {
		xml_value(rp.body, "SessionToken", c->token, sizeof(c->token));
		xml_value(rp.body, "Expiration", buf, sizeof(buf));
		*expires = parse_expiration(buf);
		snprintf(c->from, sizeof(c->from), "web identity");
	}
	if (rp.body != NULL) {
		explicit_bzero(rp.body, rp.len);
		free(rp.body);
	}
	return rv;
}

/* ECS task role: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI. */
static int
ecs(aws_creds *c, time_t *expires, td_error *err)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *tokfile = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char url[2048], auth[4200] = "", t[4096];
	const char *hdrs[2] = { NULL, NULL };
	fetch_resp rp = { 0 };
	FILE *f;
	size_t n;
	int rv;

	if (rel != NULL && rel[0] != '\0') {
		snprintf(url, sizeof(url), "http://169.254.170.2%s", rel);
	} else if (full != NULL && full[0] != '\0') {
		snprintf(url, sizeof(url), "%s", full);
	} else {
		return TD_ENOTFOUND;
	}
	if (tokfile != NULL && tokfile[0] != '\0' && (f = fopen(tokfile, "r")) != NULL) {
		n = fread(t, 1, sizeof(t) - 1, f);
		fclose(f);
		while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r')) {
			n--;
		}
		t[n] = '\0';
		snprintf(auth, sizeof(auth), "Authorization: %s", t);
	} else if (tok != NULL && tok[0] != '\0') {
		snprintf(auth, sizeof(auth), "Authorization: %s", tok);
	}
	hdrs[0] = auth[0] != '\0' ? auth : NULL;
	rv = get(NULL, url, hdrs, 5000, &rp, "ecs container credentials", err);
	explicit_bzero(auth, sizeof(auth));
	if (rv != 0) {
		return rv;
	}
	rv = creds_from_json(rp.body, rp.len, c, expires, "ecs container credentials", err);
	if (rp.body != NULL) {
		explicit_bzero(rp.body, rp.len);
		free(rp.body);
	}
	return rv;
}

/* EC2 instance profile through IMDSv2 (a session token first). */
static int
imds(aws_creds *c, time_t *expires, td_error *err)
{
	const char *off = getenv("AWS_EC2_METADATA_DISABLED");
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *ttl[] = { "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL };
	char base[512], url[1024], hdr[256], role[256];
	const char *hdrs[2] = { hdr, NULL };
	fetch_resp rp = { 0 };
	int rv;

	if (off != NULL && strcasecmp(off, "true") == 0) {
		return TD_ENOTFOUND;
	}
	snprintf(base, sizeof(base), "%s",
	    ep != NULL && ep[0] != '\0' ? ep : "http://169.254.169.254");
	while (base[0] != '\0' && base[strlen(base) - 1] == '/') {
		base[strlen(base) - 1] = '\0';
	}
	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	if ((rv = get("PUT", url, ttl, 1000, &rp, "imds token", err)) != 0) {
		return rv;
	}
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %.200s", rp.body);
	free(rp.body);
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
	if ((rv = get(NULL, url, hdrs, 1000, &rp, "imds role", err)) != 0 || rp.body == NULL) {
		return rv != 0 ? rv : TD_EPROTO;
	}
	snprintf(role, sizeof(role), "%.*s", (int)strcspn(rp.body, "\r\n"), rp.body);
	free(rp.body);
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base, role);
	if ((rv = get(NULL, url, hdrs, 1000, &rp, "imds credentials", err)) != 0) {
		return rv;
	}
	rv = creds_from_json(rp.body, rp.len, c, expires, "instance metadata", err);
	if (rp.body != NULL) {
		explicit_bzero(rp.body, rp.len);
		free(rp.body);
	}
	return rv;
}

/* ---- profiles: static keys, credential_process, role_arn + source_profile -- */

/* Longest chain of source_profile hops followed. */
#define PROFILE_DEPTH 5
/* credential_process output read at most. */
#define PROCESS_MAX 65536
/* Credentials without an expiry (credential_process without Expiration). */
#define NEVER ((time_t)1 << 62)

/* Profile credentials that expire (assumed roles, credential_process),
 * cached per profile name; under cache_mu.  A few profiles at most are in
 * use: AWS_PROFILE and the source profiles it names. */
#define PCACHE_N 8
static struct pcache_ent {
	char profile[128];
	aws_creds c;
	time_t expires; /* 0: free slot */
} pcache[PCACHE_N];
static size_t pcache_next;

/* Serialises profile resolution, so concurrent fetchers run a
 * credential_process or an AssumeRole once, not once each. */
static pthread_mutex_t profile_mu = PTHREAD_MUTEX_INITIALIZER;

static bool
pcache_get(const char *profile, aws_creds *c)
{
	time_t now = time(NULL);
	bool hit = false;
	size_t i;

	pthread_mutex_lock(&cache_mu);
	for (i = 0; i < PCACHE_N && !hit; i++) {
		if (pcache[i].expires != 0 && strcmp(pcache[i].profile, profile) == 0 &&
		    now < pcache[i].expires - REFRESH_BEFORE_S) {
			*c = pcache[i].c;
			hit = true;
		}
	}
	pthread_mutex_unlock(&cache_mu);
	return hit;
}

static void
pcache_put(const char *profile, const aws_creds *c, time_t expires)
{
	size_t i, slot = PCACHE_N;

	pthread_mutex_lock(&cache_mu);
	for (i = 0; i < PCACHE_N && slot == PCACHE_N; i++) {
		if (strcmp(pcache[i].profile, profile) == 0) {
			slot = i;
		}
	}
	if (slot == PCACHE_N) {
		slot = pcache_next++ % PCACHE_N;
	}
	snprintf(pcache[slot].profile, sizeof(pcache[slot].profile), "%s", profile);
	pcache[slot].c = *c;
	pcache[slot].expires = expires;
	pthread_mutex_unlock(&cache_mu);
}

/* Runs a profile's credential_process (with /bin/sh -c) and reads its JSON:
 * {"Version":1,"AccessKeyId","SecretAccessKey","SessionToken","Expiration"}.
 * No Expiration: the credentials never expire. */
static int
run_credential_process(const char *name, const char *cmd, aws_creds *c, time_t *expires,
    td_error *err)
{
	char *buf = malloc(PROCESS_MAX + 1);
	FILE *f;
	cJSON *o = NULL;
	const cJSON *ver, *id, *sec, *tok, *exp;
	size_t n = 0, r;
	int st, rv = 0;

	if (buf == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	if ((f = popen(cmd, "re")) == NULL) {
		rv = td_error_set(err, TD_EIO, "profile %s: credential_process: cannot run: %s",
		    name, strerror(errno));
		goto out;
	}
	while (n < PROCESS_MAX && (r = fread(buf + n, 1, PROCESS_MAX - n, f)) > 0) {
		n += r;
	}
	buf[n] = '\0';
	st = pclose(f);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		rv = td_error_set(err, TD_EIO,
		    "profile %s: credential_process exited with status %d", name,
		    st == -1            ? -1
			: WIFEXITED(st) ? WEXITSTATUS(st)
					: 128 + WTERMSIG(st));
		goto out;
	}
	if ((o = cJSON_ParseWithLength(buf, n)) == NULL) {
		rv = td_error_set(err, TD_EPROTO,
		    "profile %s: credential_process: the output is not JSON", name);
		goto out;
	}
	ver = cJSON_GetObjectItemCaseSensitive(o, "Version");
	id = cJSON_GetObjectItemCaseSensitive(o, "AccessKeyId");
	sec = cJSON_GetObjectItemCaseSensitive(o, "SecretAccessKey");
	tok = cJSON_GetObjectItemCaseSensitive(o, "SessionToken");
	exp = cJSON_GetObjectItemCaseSensitive(o, "Expiration");
	if (!cJSON_IsNumber(ver) || ver->valuedouble != 1) {
		rv = td_error_set(err, TD_EPROTO,
		    "profile %s: credential_process: \"Version\" must be 1", name);
	} else if (!cJSON_IsString(id) || !cJSON_IsString(sec) || id->valuestring[0] == '\0' ||
	    sec->valuestring[0] == '\0') {
		rv = td_error_set(err, TD_EPROTO,
		    "profile %s: credential_process: no AccessKeyId/SecretAccessKey", name);
	} else if (exp != NULL &&
	    (!cJSON_IsString(exp) || (*expires = parse_expiration(exp->valuestring)) == 0)) {
		rv = td_error_set(err, TD_EPROTO,
		    "profile %s: credential_process: \"Expiration\" is not an ISO 8601 time", name);
	} else {
		snprintf(c->key_id, sizeof(c->key_id), "%s", id->valuestring);
		snprintf(c->secret, sizeof(c->secret), "%s", sec->valuestring);
		snprintf(c->token, sizeof(c->token), "%s",
		    cJSON_IsString(tok) ? tok->valuestring : "");
		snprintf(c->from, sizeof(c->from), "credential_process (profile %.30s)", name);
		if (exp == NULL) {
			*expires = NEVER;
		}
	}
out:
	cJSON_Delete(o);
	explicit_bzero(buf, n);
	free(buf);
	return rv;
}

/* STS AssumeRole of profile p's role_arn, signed (SigV4, through the same
 * libcurl code as S3) with the source profile's credentials `base`; at
 * AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL) when set. */
static int
assume_role(const char *name, const aws_profile *p, const aws_creds *base, aws_creds *c,
    time_t *expires, td_error *err)
{
	const char *ep = getenv("AWS_ENDPOINT_URL_STS"), *region = p->region;
	char host[512], sig[96], buf[512], code[128] = "", *url = NULL;
	char *role = fetch_query_escape(p->role_arn), *ext = NULL, *session = NULL;
	fetch_req rq = { .shown = "sts AssumeRole",
		.user = base->key_id,
		.password = base->secret,
		.session_token = base->token[0] != '\0' ? base->token : NULL,
		.sigv4 = sig,
		.max_size = 1u << 20,
		.timeout_ms = 10000 };
	fetch_resp rp = { 0 };
	td_error ferr = { 0 };
	int rv;

	if (region[0] == '\0') {
		region = getenv("AWS_REGION");
	}
	if (region == NULL || region[0] == '\0') {
		region = getenv("AWS_DEFAULT_REGION");
	}
	if (region == NULL || region[0] == '\0') {
		region = "us-east-1";
	}
	if (ep == NULL || ep[0] == '\0') {
		ep = getenv("AWS_ENDPOINT_URL");
	}
	if (ep == NULL || ep[0] == '\0') {
		snprintf(host, sizeof(host), "https://sts.%s.amazonaws.com", region);
	} else {
		snprintf(host, sizeof(host), "%s", ep);
	}
	while (host[0] != '\0' && host[strlen(host) - 1] == '/') {
		host[strlen(host) - 1] = '\0';
	}
	snprintf(sig, sizeof(sig), "aws:amz:%s:sts", region);
	ext = p->external_id[0] != '\0' ? fetch_query_escape(p->external_id) : NULL;
	session = fetch_query_escape(
	    p->session_name[0] != '\0' ? p->session_name : "tfdrift-state-loader");
	/* the parameters in sorted order: the signed query is canonical as sent */
	if (role == NULL || session == NULL || (p->external_id[0] != '\0' && ext == NULL) ||
	    asprintf(&url,
		"%s/?Action=AssumeRole&DurationSeconds=3600%s%s&RoleArn=%s&RoleSessionName=%s"
		"&Version=2011-06-15",
		host, ext != NULL ? "&ExternalId=" : "", ext != NULL ? ext : "", role,
		session) < 0) {
		url = NULL;
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	rq.url = url;
	if ((rv = fetch_get(&rq, &rp, &ferr)) != 0) {
		rv = td_error_set(err, rv, "profile %s: sts AssumeRole %s: %s", name, p->role_arn,
		    ferr.msg);
		goto out;
	}
	if (rp.status != 200) {
		xml_value(rp.body, "Code", code, sizeof(code));
		rv = td_error_set(err, TD_EIO, "profile %s: sts AssumeRole %s: HTTP %ld%s%s", name,
		    p->role_arn, rp.status, code[0] != '\0' ? " " : "", code);
		goto out;
	}
	if (!xml_value(rp.body, "AccessKeyId", c->key_id, sizeof(c->key_id)) ||
	    !xml_value(rp.body, "SecretAccessKey", c->secret, sizeof(c->secret))) {
		rv = td_error_set(err, TD_EPROTO, "profile %s: sts AssumeRole %s: no credentials",
		    name, p->role_arn);
		goto out;
	}
	xml_value(rp.body, "SessionToken", c->token, sizeof(c->token));
	buf[0] = '\0';
	xml_value(rp.body, "Expiration", buf, sizeof(buf));
	*expires = parse_expiration(buf);
	snprintf(c->from, sizeof(c->from), "assumed role (profile %.40s)", name);
out:
	if (rp.body != NULL) {
		explicit_bzero(rp.body, rp.len);
		free(rp.body);
	}
	free(url);
	free(role);
	free(ext);
	free(session);
	return rv;
}

/* AWS IAM Identity Center (SSO): the access token `aws sso login` cached in
 * ~/.aws/sso/cache/<sha1 of the session name, or of the start URL>.json is
 * exchanged for role credentials at the portal (AWS_ENDPOINT_URL_SSO when
 * set).  The token itself is not refreshed here: an expired one is an error
 * that says to log in again. */
/* The access token `aws sso login` cached for p into tok (toklen bytes);
 * an expired one is an error that says to log in again. */
static int
sso_cached_token(const char *name, const aws_profile *p, char *tok, size_t toklen, td_error *err)
{
	const char *key = p->sso_session[0] != '\0' ? p->sso_session : p->sso_start_url;
	const char *home = getenv("HOME");
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char path[1200], hex[2 * EVP_MAX_MD_SIZE + 1], *buf = NULL;
	cJSON *o = NULL;
	const cJSON *t, *exp;
	FILE *f;
	size_t n;
	int rv = 0;

	if (EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha1(), NULL) != 1) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	td_hex_encode(md, mdlen, hex);
	snprintf(path, sizeof(path), "%s/.aws/sso/cache/%s.json", home != NULL ? home : "", hex);
	if ((f = fopen(path, "r")) == NULL) {
		return td_error_set(err, TD_EIO,
		    "profile %s: no SSO token cached (%s); run aws sso login --profile %s", name,
		    path, name);
	}
	if ((buf = malloc(PROCESS_MAX + 1)) == NULL) {
		fclose(f);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	n = fread(buf, 1, PROCESS_MAX, f);
	fclose(f);
	o = cJSON_ParseWithLength(buf, n);
	explicit_bzero(buf, n);
	t = cJSON_GetObjectItemCaseSensitive(o, "accessToken");
	exp = cJSON_GetObjectItemCaseSensitive(o, "expiresAt");
	if (!cJSON_IsString(t) || !cJSON_IsString(exp)) {
		rv = td_error_set(err, TD_EPROTO,
		    "profile %s: %s: no accessToken/expiresAt in the SSO token cache", name, path);
		goto out;
	}
	if (parse_expiration(exp->valuestring) <= time(NULL)) {
		rv = td_error_set(err, TD_EIO,
		    "profile %s: the SSO token expired at %s; run aws sso login --profile %s", name,
		    exp->valuestring, name);
		goto out;
	}
	snprintf(tok, toklen, "%s", t->valuestring);
out:
	if (o != NULL) {
		cJSON_Delete(o);
	}
	free(buf);
	return rv;
}

/* GetRoleCredentials at the portal (AWS_ENDPOINT_URL_SSO when set) with the
 * access token tok. */
static int
sso_role_credentials(const char *name, const aws_profile *p, const char *tok, aws_creds *c,
    time_t *expires, td_error *err)
{
	const char *ep = getenv("AWS_ENDPOINT_URL_SSO");
	char host[512], hdr[8300], *url = NULL, *acct = NULL, *role = NULL;
	const char *hdrs[2] = { hdr, NULL };
	cJSON *o = NULL;
	const cJSON *rc, *id, *sec, *st, *ex;
	fetch_req rq = { .headers = hdrs,
		.shown = "sso GetRoleCredentials",
		.max_size = 1u << 20,
		.timeout_ms = 10000 };
	fetch_resp rp = { 0 };
	td_error ferr = { 0 };
	int rv = 0;

	snprintf(hdr, sizeof(hdr), "x-amz-sso_bearer_token: %s", tok);
	if (ep != NULL && ep[0] != '\0') {
		snprintf(host, sizeof(host), "%s", ep);
	} else {
		snprintf(host, sizeof(host), "https://portal.sso.%s.amazonaws.com", p->sso_region);
	}
	while (host[0] != '\0' && host[strlen(host) - 1] == '/') {
		host[strlen(host) - 1] = '\0';
	}
	acct = fetch_query_escape(p->sso_account_id);
	role = fetch_query_escape(p->sso_role_name);
	if (acct == NULL || role == NULL ||
	    asprintf(&url, "%s/federation/credentials?account_id=%s&role_name=%s", host, acct,
		role) < 0) {
		url = NULL;
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	rq.url = url;
	if ((rv = fetch_get(&rq, &rp, &ferr)) != 0) {
		rv = td_error_set(err, rv, "profile %s: sso GetRoleCredentials: %s", name,
		    ferr.msg);
		goto out;
	}
	if (rp.status != 200) {
		rv = td_error_set(err, TD_EIO,
		    "profile %s: sso GetRoleCredentials (account %s, role %s): HTTP %ld%s", name,
		    p->sso_account_id, p->sso_role_name, rp.status,
		    rp.status == 401 ? "; run aws sso login" : "");
		goto out;
	}
	o = cJSON_ParseWithLength(rp.body, rp.len);
	rc = cJSON_GetObjectItemCaseSensitive(o, "roleCredentials");
	id = cJSON_GetObjectItemCaseSensitive(rc, "accessKeyId");
	sec = cJSON_GetObjectItemCaseSensitive(rc, "secretAccessKey");
	st = cJSON_GetObjectItemCaseSensitive(rc, "sessionToken");
	ex = cJSON_GetObjectItemCaseSensitive(rc, "expiration");
	if (!cJSON_IsString(id) || !cJSON_IsString(sec)) {
		rv = td_error_set(err, TD_EPROTO,
		    "profile %s: sso GetRoleCredentials: no credentials", name);
		goto out;
	}
	snprintf(c->key_id, sizeof(c->key_id), "%s", id->valuestring);
	snprintf(c->secret, sizeof(c->secret), "%s", sec->valuestring);
	snprintf(c->token, sizeof(c->token), "%s", cJSON_IsString(st) ? st->valuestring : "");
	snprintf(c->from, sizeof(c->from), "sso (profile %.45s)", name);
	/* milliseconds since the epoch */
	*expires = cJSON_IsNumber(ex) ? (time_t)(ex->valuedouble / 1000.0) : 0;
out:
	if (o != NULL) {
		cJSON_Delete(o);
	}
	if (rp.body != NULL) {
		explicit_bzero(rp.body, rp.len);
		free(rp.body);
	}
	explicit_bzero(hdr, sizeof(hdr));
	free(url);
	free(acct);
	free(role);
	return rv;
}

static int
sso_credentials(const char *name, const aws_profile *p, aws_creds *c, time_t *expires,
    td_error *err)
{
	const char *key = p->sso_session[0] != '\0' ? p->sso_session : p->sso_start_url;
	char tok[8192];
	int rv;

	if (key[0] == '\0' || p->sso_account_id[0] == '\0' || p->sso_role_name[0] == '\0' ||
	    p->sso_region[0] == '\0') {
		return td_error_set(err, TD_EINVAL,
		    "profile %s: SSO needs sso_account_id, sso_role_name, sso_region and "
		    "sso_session or sso_start_url",
		    name);
	}
	if ((rv = sso_cached_token(name, p, tok, sizeof(tok), err)) == 0) {
		rv = sso_role_credentials(name, p, tok, c, expires, err);
	}
	explicit_bzero(tok, sizeof(tok));
	return rv;
}

/* Credentials of profile `name`: role_arn + source_profile (AssumeRole with
 * the source profile's credentials; a profile may name itself to use its own
 * keys), else SSO, else credential_process, else its static keys.  TD_ENOTFOUND when
 * the profile does not exist or holds none of these; any other error names
 * the profile and the cause. */
static int
resolve_profile(const char *name, int depth, aws_creds *c, td_error *err)
{
	aws_profile p;
	aws_creds base;
	time_t expires = 0;
	int rv = TD_ENOTFOUND;

	memset(&base, 0, sizeof(base));
	read_profile(name, &p);
	if (!p.found) {
		goto out;
	}
	if (p.role_arn[0] != '\0') {
		if (p.source_profile[0] == '\0') {
			rv = td_error_set(err, TD_EINVAL,
			    "profile %s: role_arn without source_profile (credential_source and "
			    "web_identity_token_file in profiles are not supported)",
			    name);
			goto out;
		}
		if (pcache_get(name, c)) {
			rv = 0;
			goto out;
		}
		if (strcmp(p.source_profile, name) == 0) {
			if (p.key_id[0] == '\0' || p.secret[0] == '\0') {
				rv = td_error_set(err, TD_EINVAL,
				    "profile %s: source_profile names itself, but it has no "
				    "aws_access_key_id/aws_secret_access_key",
				    name);
				goto out;
			}
			snprintf(base.key_id, sizeof(base.key_id), "%s", p.key_id);
			snprintf(base.secret, sizeof(base.secret), "%s", p.secret);
			snprintf(base.token, sizeof(base.token), "%s", p.token);
		} else if (depth >= PROFILE_DEPTH) {
			rv = td_error_set(err, TD_EINVAL,
			    "profile %s: source_profile chain longer than %d", name, PROFILE_DEPTH);
			goto out;
		} else if ((rv = resolve_profile(p.source_profile, depth + 1, &base, err)) != 0) {
			if (rv == TD_ENOTFOUND) {
				rv = td_error_set(err, TD_EINVAL,
				    "profile %s: source_profile %s has no credentials", name,
				    p.source_profile);
			}
			goto out;
		}
		if ((rv = assume_role(name, &p, &base, c, &expires, err)) == 0) {
			pcache_put(name, c, expires != 0 ? expires : time(NULL) + 3600);
		}
		goto out;
	}
	if (p.sso_account_id[0] != '\0' || p.sso_session[0] != '\0' || p.sso_start_url[0] != '\0') {
		if (pcache_get(name, c)) {
			rv = 0;
			goto out;
		}
		if ((rv = sso_credentials(name, &p, c, &expires, err)) == 0) {
			pcache_put(name, c, expires != 0 ? expires : time(NULL) + 3600);
		}
		goto out;
	}
	if (p.credential_process[0] != '\0') {
		if (pcache_get(name, c)) {
			rv = 0;
			goto out;
		}
		if ((rv = run_credential_process(name, p.credential_process, c, &expires, err)) ==
		    0) {
			pcache_put(name, c, expires);
		}
		goto out;
	}
	if (p.key_id[0] != '\0' && p.secret[0] != '\0') {
		snprintf(c->key_id, sizeof(c->key_id), "%s", p.key_id);
		snprintf(c->secret, sizeof(c->secret), "%s", p.secret);
		snprintf(c->token, sizeof(c->token), "%s", p.token);
		snprintf(c->from, sizeof(c->from), "profile %.50s", name);
		rv = 0;
	}
out:
	explicit_bzero(&p, sizeof(p));
	explicit_bzero(&base, sizeof(base));
	return rv;
}

int
aws_credentials(aws_creds *c, td_error *err)
{
	static int (*const temporary[])(aws_creds *, time_t *, td_error *) = { web_identity, ecs,
		imds };
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	const char *profile = getenv("AWS_PROFILE");
	time_t expires = 0, now = time(NULL);
	td_error terr = { 0 };
	size_t i;
	int rv;

	memset(c, 0, sizeof(*c));
	if (id != NULL && id[0] != '\0' && secret != NULL && secret[0] != '\0') {
		snprintf(c->key_id, sizeof(c->key_id), "%s", id);
		snprintf(c->secret, sizeof(c->secret), "%s", secret);
		snprintf(c->token, sizeof(c->token), "%s", token != NULL ? token : "");
		snprintf(c->from, sizeof(c->from), "environment");
		return 0;
	}
	if (profile == NULL || profile[0] == '\0') {
		profile = "default";
	}
	pthread_mutex_lock(&profile_mu);
	rv = resolve_profile(profile, 0, c, &terr);
	pthread_mutex_unlock(&profile_mu);
	if (rv == 0) {
		return 0;
	}
	memset(c, 0, sizeof(*c));
	if (rv != TD_ENOTFOUND) {
		/* configured but failing: say so rather than fall through */
		return td_error_set(err, rv, "%s", terr.msg);
	}
	td_error_clear(&terr);
	/* temporary credentials: reused until shortly before they expire */
	pthread_mutex_lock(&cache_mu);
	if (cache_expires != 0 && now < cache_expires - REFRESH_BEFORE_S) {
		*c = cache;
		pthread_mutex_unlock(&cache_mu);
		return 0;
	}
	pthread_mutex_unlock(&cache_mu);
	for (i = 0; i < sizeof(temporary) / sizeof(temporary[0]); i++) {
		memset(c, 0, sizeof(*c));
		rv = temporary[i](c, &expires, &terr);
		if (rv == 0) {
			pthread_mutex_lock(&cache_mu);
			cache = *c;
			/* no expiry given: ask again in an hour */
			cache_expires = expires != 0 ? expires : now + 3600;
			pthread_mutex_unlock(&cache_mu);
			return 0;
		}
		if (rv != TD_ENOTFOUND && i < 2) {
			/* configured but failing: say so rather than fall through silently */
			memset(c, 0, sizeof(*c));
			return td_error_set(err, rv, "%s", terr.msg);
		}
	}
	memset(c, 0, sizeof(*c));
	return td_error_set(err, TD_ENOTFOUND,
	    "no AWS credentials (environment, profile %s in the shared credentials or config "
	    "file, web identity, ECS container credentials, instance metadata: %s)",
	    profile, terr.msg[0] != '\0' ? terr.msg : "none found");
}
