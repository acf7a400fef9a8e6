/* fetcher.c — see fetcher.h. */
#include "fetcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws_credentials.h"
#include "fetch.h"
#include "fetch_pool.h"
#include "s3_listing.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

/* HCP Terraform answers 429 when the organisation's rate limit is reached:
 * the request is repeated after Retry-After seconds (or a doubling backoff
 * from 1 s when there is none), at most HCP_TRIES times a check. */
#define HCP_TRIES 6
#define HCP_BACKOFF_MAX_MS 60000
#define HCP_WAIT_MAX_MS 600000

struct fetcher {
	/* shallow copies: the strings belong to the source, which is freed only
	 * after fetcher_free */
	src_spec spec;
	const char *name, *path;
	size_t max_size;
	long timeout_ms;
	fetch_pool *pool; /* NULL: checks run inline, on the caller's thread */
	char host[256];   /* the pool's queue: spec.url's authority */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* inflight or stop changed (CLOCK_MONOTONIC) */
	/* under mu */
	bool inflight;  /* queued in the pool or running on a worker */
	bool busy;      /* asked for and not yet collected */
	bool done;      /* res holds a finished check */
	bool stop;      /* cancelled: the check in flight gives up */
	char etag[256]; /* the check's inputs: the ETag / version loaded */
	bool had_error; /* the source is failing (HCP: fetch the same version again) */
	fetch_result res;
	atomic_bool cancel; /* abandons a transfer in flight (stop) */
	/* S3 discovery (s3_listing.h), set before the first check: a discovering
	 * source's own listing, which its checks publish; or a discovered
	 * workspace's parent's, which answers its checks while it shows the
	 * ETag loaded */
	s3_listing *listing;
	char *workspace;      /* discovered: its name in the listing; NULL otherwise */
	int64_t max_age_ms;   /* discovered: how old a listing may be to count */
	uint64_t seen_round;  /* fetcher_due (loader thread): the listing looked at last */
	td_counter *c_listed; /* discovered: checks the listing answered */
};

void
fetch_result_free(fetch_result *r)
{
	size_t i;

	tfs_free(r->st);
	free(r->error);
	for (i = 0; i < r->nfound; i++) {
		free(r->found[i]);
	}
	free(r->found);
	*r = (fetch_result){ 0 };
}

__attribute__((format(printf, 2, 3))) static void
result_failed(fetch_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&r->error, fmt, ap) < 0) {
		r->error = NULL;
	}
	va_end(ap);
	r->kind = RES_FAILED;
}

/* Waits ms on the worker running f's check; false when a stop came first. */
static bool
fetcher_sleep(fetcher *f, long ms)
{
	struct timespec ts;
	bool stop;

	td_clock_mono_timespec(td_clock_mono_ms() + ms, &ts);
	pthread_mutex_lock(&f->mu);
	while (!f->stop && pthread_cond_timedwait(&f->cv, &f->mu, &ts) != ETIMEDOUT) {
	}
	stop = f->stop;
	pthread_mutex_unlock(&f->mu);
	return !stop;
}

/* One HCP Terraform request.  A 429 is repeated after Retry-After (or the
 * backoff), logged at debug level only: rate limiting is routine, and the
 * source fails only when it lasts HCP_TRIES tries. */
static int
hcp_get(fetcher *f, const fetch_req *rq, fetch_resp *rp, td_error *err)
{
	long backoff = 1000, wait;
	int rv, tries;

	for (tries = 1;; tries++) {
		if ((rv = fetch_get(rq, rp, err)) != 0 || rp->status != 429) {
			return rv;
		}
		free(rp->body);
		rp->body = NULL;
		if (tries >= HCP_TRIES) {
			return td_error_set(err, TD_EIO,
			    "%s: HTTP 429 Too Many Requests (still rate limited after %d tries)",
			    f->path, tries);
		}
		wait = rp->retry_after >= 0 ? rp->retry_after * 1000 : backoff;
		wait = wait < 100 ? 100 : wait > HCP_WAIT_MAX_MS ? HCP_WAIT_MAX_MS : wait;
		backoff = backoff * 2 > HCP_BACKOFF_MAX_MS ? HCP_BACKOFF_MAX_MS : backoff * 2;
		TD_DEBUG("hcp terraform rate limit; waiting before the next try",
		    TD_KV_STR("workspace", f->name), TD_KV_INT("retry_after", rp->retry_after),
		    TD_KV_INT("wait_ms", wait), TD_KV_INT("try", tries));
		if (!fetcher_sleep(f, wait)) {
			return td_error_set(err, TD_ECLOSED, "%s: cancelled", f->path);
		}
	}
}

/* HCP Terraform: the workspace id, then its current state version; sets
 * *download (malloc'd) and the version id (into vid).  0, TD_ENOTFOUND (no
 * state yet) or an error naming the source. */
static int
hcp_resolve(fetcher *f, char **download, char *vid, size_t vidlen, td_error *err)
{
	fetch_req rq = { .shown = f->path,
		.bearer = f->spec.token,
		.ca_file = f->spec.ca_file,
		.insecure = f->spec.insecure,
		.max_size = 1u << 20,
		.timeout_ms = f->timeout_ms,
		.cancel = &f->cancel };
	fetch_resp rp = { 0 };
	cJSON *doc = NULL;
	const cJSON *v;
	char *url = NULL, *wsid = NULL;
	int rv = 0;

	*download = NULL;
	if (asprintf(&url, "%s/api/v2/organizations/%s/workspaces/%s", f->spec.url, f->spec.org,
		f->spec.workspace) < 0) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	rq.url = url;
	if ((rv = hcp_get(f, &rq, &rp, err)) != 0) {
		goto out;
	}
	if (rp.status != 200 || (doc = cJSON_ParseWithLength(rp.body, rp.len)) == NULL ||
	    !cJSON_IsString(v = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "data"), "id"))) {
		rv = td_error_set(err, TD_EIO, "%s: workspace lookup: HTTP %ld", f->path,
		    rp.status);
		goto out;
	}
	wsid = strdup(v->valuestring);
	cJSON_Delete(doc);
	doc = NULL;
	free(rp.body);
	rp.body = NULL;
	free(url);
	url = NULL;
	if (wsid == NULL ||
	    asprintf(&url, "%s/api/v2/workspaces/%s/current-state-version", f->spec.url, wsid) <
		0) {
		url = NULL;
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	rq.url = url;
	if ((rv = hcp_get(f, &rq, &rp, err)) != 0) {
		goto out;
	}
	if (rp.status == 404) {
		rv = TD_ENOTFOUND; /* no state yet */
		goto out;
	}
	if (rp.status != 200 || (doc = cJSON_ParseWithLength(rp.body, rp.len)) == NULL) {
		rv = td_error_set(err, TD_EIO, "%s: current state version: HTTP %ld", f->path,
		    rp.status);
		goto out;
	}
	v = cJSON_GetObjectItem(doc, "data");
	snprintf(vid, vidlen, "%s",
	    cJSON_IsString(cJSON_GetObjectItem(v, "id")) ? cJSON_GetObjectItem(v, "id")->valuestring
							 : "");
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(v, "attributes"), "hosted-state-download-url");
	if (!cJSON_IsString(v) || (*download = strdup(v->valuestring)) == NULL) {
		rv = td_error_set(err, TD_EIO,
		    "%s: current state version: no hosted-state-download-url", f->path);
		goto out;
	}
out:
	cJSON_Delete(doc);
	free(rp.body);
	free(url);
	free(wsid);
	return rv;
}

/* Adds ws to r->found.  A listing names each workspace once (object keys are
 * unique), and the loader queues each once whatever the server sends
 * (loader.c, on_workspace), so there is no dedupe here. */
static void
collect_workspace(fetch_result *r, const char *ws)
{
	char **nf;

	if ((nf = realloc(r->found, (r->nfound + 1) * sizeof(*nf))) == NULL) {
		return;
	}
	r->found = nf;
	if ((nf[r->nfound] = strdup(ws)) != NULL) {
		r->nfound++;
	}
}

/* What a listing in progress collects: the workspaces for the loader, and
 * their ETags for the listing the discovered workspaces read. */
typedef struct listing_draft {
	fetch_result *r;
	s3_entries *e; /* NULL when there is no listing to publish (out of memory) */
} listing_draft;

static void
on_listed(void *arg, const char *ws, const char *etag)
{
	listing_draft *d = arg;

	collect_workspace(d->r, ws);
	if (d->e != NULL && s3_entries_add(d->e, ws, etag) != 0) {
		s3_entries_free(d->e);
		d->e = NULL; /* incomplete: not published */
	}
}

/* Pages of a workspace listing followed at most (a store answering the same
 * token forever must not hold the loop). */
#define LIST_MAX_PAGES 10000

/* Lists the workspace prefix of a discovering S3 source (signed like the
 * GET in rq), page after page (ListObjectsV2 continuation tokens) until the
 * listing is complete; the workspaces go to r->found, and a complete listing
 * (each workspace's ETag) to f->listing for the discovered workspaces. */
static void
discover(fetcher *f, const fetch_req *rq, fetch_result *r)
{
	fetch_req lr = *rq;
	fetch_resp rp = { 0 };
	td_error err = { 0 };
	listing_draft d = { .r = r, .e = f->listing != NULL ? s3_entries_new() : NULL };
	char token[2048] = "", *url = NULL;
	bool more = true, complete = false;
	int page;

	lr.etag = NULL;
	lr.max_size = 16u << 20;
	for (page = 0; more && page < LIST_MAX_PAGES; page++) {
		if ((url = src_s3_list_url(&f->spec, page == 0 ? NULL : token)) == NULL) {
			break;
		}
		lr.url = url;
		if (fetch_get(&lr, &rp, &err) != 0 || rp.status != 200 || rp.body == NULL) {
			TD_WARN("workspace discovery failed", TD_KV_STR("workspace", f->name),
			    TD_KV_STR("source", f->path),
			    TD_KV_STR("error",
				err.msg[0] != '\0' ? err.msg : "unexpected HTTP status"),
			    TD_KV_INT("status", rp.status), TD_KV_INT("page", page + 1));
			more = false;
		} else {
			src_s3_workspaces(&f->spec, rp.body, on_listed, &d);
			more = src_s3_next_token(rp.body, token, sizeof(token));
			complete = !more;
		}
		free(rp.body);
		rp.body = NULL;
		free(url);
	}
	if (more) {
		TD_WARN("workspace discovery stopped: too many listing pages",
		    TD_KV_STR("workspace", f->name), TD_KV_INT("pages", page));
	}
	if (complete && d.e != NULL) {
		s3_listing_publish(f->listing, d.e, td_clock_mono_ms());
	} else {
		s3_entries_free(d.e);
	}
}

/* A discovered workspace whose parent's listing (recent enough) shows the
 * ETag of its last 200: unchanged, no GET.  Not while it is failing (the GET
 * says whether it still fails). */
static bool
listed_unchanged(fetcher *f, const char *etag, bool had_error)
{
	return f->workspace != NULL && !had_error && etag[0] != '\0' &&
	    s3_listing_check(f->listing, f->workspace, etag, td_clock_mono_ms(), f->max_age_ms) ==
	    S3L_SAME;
}

/* One check of a remote source, on its fetcher thread: one conditional
 * GET (after the HCP lookups, or the S3 credentials and listing); a new
 * body is parsed here.  Touches nothing but f and r. */
static void
remote_fetch(fetcher *f, const char *etag, bool had_error, fetch_result *r)
{
	fetch_req rq = { .url = f->spec.url,
		.shown = f->path,
		.ca_file = f->spec.ca_file,
		.client_cert = f->spec.client_cert,
		.client_key = f->spec.client_key,
		.insecure = f->spec.insecure,
		.max_size = f->max_size,
		.timeout_ms = f->timeout_ms,
		.cancel = &f->cancel,
		.etag = etag };
	fetch_resp rp = { 0 };
	aws_creds cr;
	td_error err = { 0 };
	char sig[96], vid[256] = "", *download = NULL;
	int rv;

	memset(&cr, 0, sizeof(cr));
	switch (f->spec.kind) {
	case SRC_HTTP:
		rq.user = f->spec.user;
		rq.password = f->spec.password;
		break;
	case SRC_S3:
		if (listed_unchanged(f, etag, had_error)) {
			td_counter_inc(f->c_listed);
			r->kind = RES_SAME; /* as a 304 would say, without asking */
			return;
		}
		if (aws_credentials(&cr, &err) != 0) {
			result_failed(r, "%s: %s", f->path, err.msg);
			return;
		}
		snprintf(sig, sizeof(sig), "aws:amz:%s:s3", f->spec.region);
		rq.sigv4 = sig;
		rq.user = cr.key_id;
		rq.password = cr.secret;
		rq.session_token = cr.token[0] != '\0' ? cr.token : NULL;
		if (f->spec.discover) {
			discover(f, &rq, r);
		}
		break;
	case SRC_HCP:
		rv = hcp_resolve(f, &download, vid, sizeof(vid), &err);
		if (rv == TD_ENOTFOUND) {
			rp.status = 404;
			goto answered;
		}
		if (rv != 0) {
			result_failed(r, "%s", err.msg);
			return;
		}
		if (vid[0] != '\0' && strcmp(vid, etag) == 0 && !had_error) {
			free(download);
			r->kind = RES_SAME; /* the same state version */
			return;
		}
		rq.url = download;
		rq.etag = NULL;
		rq.bearer = f->spec.token;
		break;
	case SRC_FILE: r->kind = RES_SAME; return;
	}
	rv = f->spec.kind == SRC_HCP ? hcp_get(f, &rq, &rp, &err) : fetch_get(&rq, &rp, &err);
	explicit_bzero(&cr, sizeof(cr));
	if (rv != 0) {
		result_failed(r, "%s", err.msg);
		goto out;
	}
answered:
	if (rp.status == 304) {
		r->kind = RES_SAME; /* unchanged: one small request */
		goto out;
	}
	if (rp.status == 204 || rp.status == 404) {
		/* no state (yet): an empty workspace, as Terraform sees it */
		static const char empty[] = "{\"version\":4,\"serial\":0,\"lineage\":\"\"}";
		if (tfs_parse_buffer(&r->st, empty, sizeof(empty) - 1, f->path, &err) != 0) {
			r->st = NULL;
			result_failed(r, "%s", err.msg);
			goto out;
		}
		r->kind = RES_STATE;
		goto out;
	}
	if (rp.status != 200) {
		result_failed(r, "%s: HTTP %ld", f->path, rp.status);
		goto out;
	}
	if (tfs_parse_buffer(&r->st, rp.body != NULL ? rp.body : "", rp.len, f->path, &err) != 0) {
		r->st = NULL;
		result_failed(r, "%s", err.msg);
		goto out;
	}
	snprintf(r->etag, sizeof(r->etag), "%s", f->spec.kind == SRC_HCP ? vid : rp.etag);
	r->kind = RES_STATE;
out:
	if (rp.body != NULL) {
		explicit_bzero(rp.body, rp.len);
		free(rp.body);
	}
	free(download);
}

/* One check of f, on a pool worker: its inputs were set by fetcher_kick,
 * and nothing else touches them until the check is done. */
static void
fetcher_run(void *arg)
{
	fetcher *f = arg;
	char etag[sizeof(f->etag)];
	fetch_result r = { 0 };
	bool had_error;

	pthread_mutex_lock(&f->mu);
	memcpy(etag, f->etag, sizeof(etag));
	had_error = f->had_error;
	pthread_mutex_unlock(&f->mu);
	remote_fetch(f, etag, had_error, &r);
	pthread_mutex_lock(&f->mu);
	f->res = r;
	f->done = true;
	f->inflight = false;
	pthread_cond_broadcast(&f->cv); /* fetcher_free may be waiting */
	pthread_mutex_unlock(&f->mu);
}

int
fetcher_start(fetcher **out, fetch_pool *pool, const src_spec *spec, const char *name,
    const char *path, size_t max_size, long timeout_ms)
{
	fetcher *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (f == NULL) {
		return TD_ENOMEM;
	}
	f->spec = *spec;
	f->name = name;
	f->path = path;
	f->max_size = max_size;
	f->timeout_ms = timeout_ms;
	f->pool = pool;
	fetch_pool_host_of(spec->url != NULL ? spec->url : "", f->host, sizeof(f->host));
	/* out of memory: the discovered workspaces ask the store, as before */
	f->listing = spec->kind == SRC_S3 && spec->discover ? s3_listing_new() : NULL;
	atomic_init(&f->cancel, false);
	pthread_mutex_init(&f->mu, NULL);
	td_clock_cond_init(&f->cv);
	*out = f;
	return 0;
}

void
fetcher_cancel(fetcher *f)
{
	if (f == NULL) {
		return;
	}
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	atomic_store(&f->cancel, true);
	pthread_cond_broadcast(&f->cv);
	/* a check still queued never runs */
	if (f->inflight && f->pool != NULL && fetch_pool_withdraw(f->pool, f)) {
		f->inflight = false;
	}
	pthread_mutex_unlock(&f->mu);
}

void
fetcher_free(fetcher *f)
{
	if (f == NULL) {
		return;
	}
	/* a check running on a worker finishes (cancelled) before f goes */
	pthread_mutex_lock(&f->mu);
	while (f->inflight) {
		pthread_cond_wait(&f->cv, &f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	fetch_result_free(&f->res);
	s3_listing_unref(f->listing);
	free(f->workspace);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

bool
fetcher_kick(fetcher *f, const char *etag, bool had_error)
{
	pthread_mutex_lock(&f->mu);
	if (f->busy) {
		pthread_mutex_unlock(&f->mu);
		return false; /* the previous check is still at it */
	}
	f->busy = true;
	snprintf(f->etag, sizeof(f->etag), "%s", etag);
	f->had_error = had_error;
	if (f->pool != NULL) {
		f->inflight = true;
		if (fetch_pool_submit(f->pool, f->host, fetcher_run, f) == 0) {
			pthread_mutex_unlock(&f->mu);
			return true;
		}
		f->inflight = false; /* out of memory: this check runs inline */
	}
	pthread_mutex_unlock(&f->mu);
	remote_fetch(f, etag, had_error, &f->res);
	f->done = true;
	return true;
}

bool
fetcher_take(fetcher *f, fetch_result *out)
{
	pthread_mutex_lock(&f->mu);
	if (!f->done) {
		pthread_mutex_unlock(&f->mu);
		return false;
	}
	*out = f->res;
	f->res = (fetch_result){ 0 };
	f->done = false;
	f->busy = false;
	pthread_mutex_unlock(&f->mu);
	return true;
}

bool
fetcher_busy(fetcher *f)
{
	bool busy;

	pthread_mutex_lock(&f->mu);
	busy = f->busy;
	pthread_mutex_unlock(&f->mu);
	return busy;
}

int
fetcher_follow(fetcher *f, fetcher *parent, const char *workspace, int64_t max_age_ms)
{
	char *ws;

	if (parent == NULL || parent->listing == NULL || f->listing != NULL) {
		return 0;
	}
	if ((ws = strdup(workspace)) == NULL) {
		return TD_ENOMEM;
	}
	pthread_mutex_lock(&f->mu);
	f->listing = s3_listing_ref(parent->listing);
	f->workspace = ws;
	f->max_age_ms = max_age_ms;
	f->c_listed = td_counter_get("tfdrift_state_listing_unchanged_total",
	    "Checks of workspaces discovered in S3 that their source's ListObjectsV2 listing "
	    "answered (it showed the ETag loaded): unchanged, no GET.",
	    NULL);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

bool
fetcher_due(fetcher *f, const char *etag)
{
	uint64_t round;

	if (f->workspace == NULL) {
		return false;
	}
	round = s3_listing_round(f->listing);
	if (round == f->seen_round || fetcher_busy(f)) {
		return false; /* looked at already; or a check is running, see it first */
	}
	f->seen_round = round;
	return s3_listing_check(f->listing, f->workspace, etag, td_clock_mono_ms(),
		   f->max_age_ms) == S3L_CHANGED;
}
