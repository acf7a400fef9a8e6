/* loader.c — sources, change detection, generations, notices. */
#include "loader.h"

#include <errno.h>
#ifdef __GLIBC__
#endif
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "contain.h"
#include "fetch_pool.h"
#include "fetcher.h"
#include "names.h"
#include "filewatch.h"
#include "tfdrift/identifiers.h"
#include "source.h"
#include "store.h"
#include "tfdrift/clock.h"
#include "tfdrift/id.h"
#include "tfdrift/log.h"
#include "tfdrift/str.h"
#include "tfdrift/metrics.h"
#include "tfdrift/v1/state.pb-c.h"
#include "tfdrift/procmem.h"
#include "tfdrift/scope.h"
#include "tfdrift/tfstate.h"

#define SECTION "state_loader"
/* Longest sleep between rounds: how quickly Redis coming back (or losing
 * the index) is noticed. */
#define TICK_MS 1000
/* A failure that repeats with the same text is logged again after this long. */
#define RELOG_MS 60000

typedef struct source {
	char *name, *path; /* path: the file, or the remote source as shown (no secrets) */
	src_kind kind;
	src_spec spec;    /* remote sources: where and how to fetch */
	char etag[256];   /* remote: ETag of the last 200 (HCP: the state version id) */
	int wd;           /* local: inotify watch of the file's directory; -1 none */
	const char *base; /* local: the file name within that directory (in path) */
	bool due;         /* local: inotify saw the file change; check it now */
	/* A parse not written to Redis yet (freed once written: the states of
	 * unchanged workspaces are not kept in memory), and its accounts and
	 * regions (NULL with state, or out of memory). */
	tfs_state *state;
	td_scope *scope;
	/* What was last loaded (written, or waiting in state): the status and
	 * the unchanged-state check need only this. */
	bool loaded;
	uint64_t serial;
	char *lineage, *tf_version;
	size_t resources_n;
	cJSON *scope_json;    /* accounts, regions, account_known, unscoped_resources */
	int64_t loaded_at_ns; /* when it was parsed */
	uint64_t gen;         /* its generation in Redis (written by this process); 0 none */
	bool status_dirty;    /* its record must be written (its contents need not) */
	bool reload;          /* read it again even if unchanged (Redis lost it, new writer) */
	char *last_error;     /* NULL when the last attempt succeeded */
	/* what the file looked like at the last attempt */
	bool checked;
	int stat_errno;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	td_gauge *resources;
	td_counter *errors;
	td_counter *unchanged; /* reads that found the loaded serial and lineage */
	fetcher *f;            /* remote: its checks (on the fetch pool); NULL for a local file */
	bool answered;         /* remote: a check has finished since start */
	int64_t next_check;    /* remote: monotonic ms of its next check (jittered poll) */
} source;

struct ldr {
	const td_config *cfg;
	td_bus_pub *pub;
	store *st;
	source *src;
	size_t nsrc;
	size_t max_size;
	int64_t poll_ms;
	int64_t fetch_timeout_ms;
	int64_t next_poll;  /* monotonic ms */
	int64_t started_ms; /* monotonic ms */
	int64_t redis_at;   /* monotonic ms of the last Redis check */
	size_t unanswered;  /* remote sources whose first check has not finished */
	int ino_fd;         /* inotify, non-blocking; -1 when unavailable (polling only) */
	/* workspaces discovered by S3 sources with workspace=*, not yet sources */
	struct discovered {
		size_t parent;
		char *workspace;
	} * found;
	size_t nfound;
	names *by_name; /* every source's name -> its index in src (first of a name) */
	names *queued;  /* the names of found, so each is queued once */

	bool writer;            /* holds the write lease (always, when there is no lease) */
	char *holder;           /* this process's name for the lease */
	bool dirty;             /* workspaces to write (or records, or removals) */
	const char *reason;     /* why, for the notice */
	uint64_t gen;           /* generation switched to last (P gen); 0 none */
	bool reconcile;         /* remove workspaces Redis holds that are no sources */
	bool dropped;           /* states were dropped while standing by */
	bool standby_logged;    /* "standing by" was logged (once per spell) */
	bool gen_published;     /* P gen says the index is whole (store_hold_generation) */
	bool (*cancel)(void *); /* the round's cancel poll, for writes between parse batches */
	void *cancel_arg;
	bool full;            /* every workspace is written again: the next notice says full */
	contain_boxes *boxes; /* every workspace's VPCs and subnets (graph parents) */

	atomic_bool redis_ok;
	atomic_bool indexed;
	pthread_mutex_t mu; /* guards redis_why and sources_why */
	char redis_why[sizeof(((td_error *)0)->msg)];
	char sources_why[512]; /* "" when every source loaded last time */
	char last_logged[sizeof(
	    ((td_error *)0)->msg)]; /* main thread: the last Redis failure logged */
	int64_t last_logged_at;

	fetch_pool *pool; /* remote checks; NULL: run inline (no thread could start) */
	uint64_t rng;     /* xorshift state for the poll jitter */

	td_gauge *g_generation, *g_switch_ts, *g_writer;
	td_gauge *g_fetch_queued, *g_fetch_running;
	td_counter *c_conflicts, *c_redis_errors, *c_write_errors;
	td_histogram *h_write;
};

/* ---- sources ---------------------------------------------------------------- */

int
ldr_parse_source(const char *spec, char **name, char **path, td_error *err)
{
	const char *eq = strchr(spec, '='), *base;
	int rv = 0;

	*name = NULL;
	*path = NULL;
	if (eq != NULL) {
		*name = strndup(spec, (size_t)(eq - spec));
		*path = strdup(eq + 1);
	} else {
		base = strrchr(spec, '/');
		*name = strdup(base != NULL ? base + 1 : spec);
		*path = strdup(spec);
	}
	if (*name == NULL || *path == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
	} else if ((*path)[0] == '\0') {
		rv = td_error_set(err, TD_EINVAL, "state_loader.local_files: \"%s\": no path",
		    spec);
	} else if ((*name)[0] == '\0') {
		rv = td_error_set(err, TD_EINVAL,
		    "state_loader.local_files: \"%s\": no workspace name (write NAME=PATH)", spec);
	} else if (strpbrk(*name, "\t\n\r") != NULL) {
		rv = td_error_set(err, TD_EINVAL,
		    "state_loader.local_files: \"%s\": the workspace name may not hold a tab or newline",
		    spec);
	}
	if (rv != 0) {
		free(*name);
		free(*path);
		*name = NULL;
		*path = NULL;
	}
	return rv;
}

/* Prometheus label text workspace="..." with \ " and newline escaped. */
static void
workspace_label(const char *name, char *buf, size_t len)
{
	size_t j = 0;
	const char *p;

	j += (size_t)snprintf(buf, len, "workspace=\"");
	for (p = name; *p != '\0' && j + 4 < len; p++) {
		if (*p == '\\' || *p == '"') {
			buf[j++] = '\\';
			buf[j++] = *p;
		} else if (*p == '\n') {
			buf[j++] = '\\';
			buf[j++] = 'n';
		} else {
			buf[j++] = *p;
		}
	}
	buf[j++] = '"';
	buf[j] = '\0';
}

static void
source_failed(source *s, const char *msg)
{
	char *copy = strdup(msg);

	free(s->last_error);
	s->last_error = copy;
	td_counter_inc(s->errors);
	s->status_dirty = true;
	TD_ERROR(s->loaded ? "state not loaded; keeping the previous contents"
			   : "state not loaded; the workspace stays empty",
	    TD_KV_STR("workspace", s->name), TD_KV_STR("path", s->path), TD_KV_STR("error", msg));
}

/* Reads the file again if it changed.  Returns true when the workspace's
 * contents or status changed. */
/* Takes a freshly parsed state for s: dropped when serial and lineage are
 * the ones loaded (Terraform bumps the serial on every write: it is the same
 * state), else it replaces the loaded one.  Returns true when the workspace
 * changed (contents or status). */
static bool add_scope(cJSON *o, const td_scope *sc);

/* Forgets the pending parse (written, or not this process's to write). */
static void
drop_state(source *s)
{
	tfs_free(s->state);
	s->state = NULL;
	td_scope_free(s->scope);
	s->scope = NULL;
}

static bool
take_state(source *s, tfs_state *st)
{
	bool recovered = s->last_error != NULL;
	char *lineage, *tfver;
	cJSON *sj;

	free(s->last_error);
	s->last_error = NULL;
	if (recovered) {
		s->status_dirty = true;
	}
	if (s->loaded && !s->reload && tfs_serial(st) == s->serial &&
	    strcmp(tfs_lineage(st), s->lineage) == 0) {
		tfs_free(st);
		td_counter_inc(s->unchanged);
		TD_DEBUG("state unchanged (same serial and lineage)",
		    TD_KV_STR("workspace", s->name), TD_KV_UINT("serial", s->serial));
		return recovered;
	}
	lineage = strdup(tfs_lineage(st));
	tfver = strdup(tfs_terraform_version(st));
	sj = cJSON_CreateObject();
	drop_state(s);
	if (td_scope_build(&s->scope, st, s->spec.scope_account, s->spec.scope_region) != 0) {
		TD_ERROR("out of memory: the workspace's identifiers are indexed unscoped",
		    TD_KV_STR("workspace", s->name));
	} else if (!td_scope_account_known(s->scope)) {
		/* today's behaviour for this state, not a fault: shown in its status */
		TD_INFO("the account of some resources is unknown (no ARN, no account= option); "
			"they match events of every account",
		    TD_KV_STR("workspace", s->name),
		    TD_KV_UINT("unscoped_resources", td_scope_unscoped(s->scope)));
	}
	if (lineage == NULL || tfver == NULL || sj == NULL || !add_scope(sj, s->scope)) {
		free(lineage);
		free(tfver);
		cJSON_Delete(sj);
		td_scope_free(s->scope);
		s->scope = NULL;
		tfs_free(st);
		source_failed(s, "out of memory");
		return true;
	}
	s->state = st;
	s->reload = false;
	s->loaded = true;
	s->serial = tfs_serial(st);
	free(s->lineage);
	s->lineage = lineage;
	free(s->tf_version);
	s->tf_version = tfver;
	s->resources_n = tfs_indexed_count(st);
	cJSON_Delete(s->scope_json);
	s->scope_json = sj;
	s->loaded_at_ns = td_clock_now_ns();
	s->status_dirty = true;
	td_gauge_set(s->resources, (double)s->resources_n);
	TD_INFO("state loaded", TD_KV_STR("workspace", s->name), TD_KV_STR("source", s->path),
	    TD_KV_UINT("serial", s->serial), TD_KV_STR("lineage", s->lineage),
	    TD_KV_STR("terraform_version", s->tf_version), TD_KV_UINT("resources", s->resources_n));
	return true;
}

/* A remote source's status after a failed attempt; true when it changed. */
static bool
remote_failed(source *s, const char *msg)
{
	if (s->last_error != NULL && strcmp(s->last_error, msg) == 0) {
		td_counter_inc(s->errors);
		return false;
	}
	source_failed(s, msg);
	return true;
}

typedef struct discover_ctx {
	ldr *l;
	size_t parent;
} discover_ctx;

static void
on_workspace(void *arg, const char *ws)
{
	discover_ctx *d = arg;
	ldr *l = d->l;
	char name[1024];
	struct discovered *nf;

	snprintf(name, sizeof(name), "%s/%s", l->src[d->parent].name, ws);
	if (names_get(l->by_name, name, NULL) || names_get(l->queued, name, NULL)) {
		return;
	}
	/* out of memory: not queued now, found again at the next listing */
	if ((nf = realloc(l->found, (l->nfound + 1) * sizeof(*nf))) == NULL) {
		return;
	}
	l->found = nf;
	if ((nf[l->nfound].workspace = strdup(ws)) == NULL) {
		return;
	}
	if (names_add(l->queued, name, l->nfound) != 1) {
		free(nf[l->nfound].workspace);
		return;
	}
	nf[l->nfound++].parent = d->parent;
}

/* ---- remote sources: checks on the fetch pool (fetcher.h, fetch_pool.h) ------
 *
 * A remote check (credentials, listing, conditional GET, parse) runs on a
 * worker of the fetch pool (state_loader.fetch_workers threads, at most
 * fetch_per_host checks of one host at a time), so a slow or hanging server
 * holds up neither the local files nor other hosts' sources, and 5,000
 * sources cost a few threads.  Each remote source has its own poll clock:
 * checked at start, then every poll_interval ± 10 % (jitter), so thousands
 * of sources spread over the interval instead of firing at once (the second
 * check of each anywhere in the first interval).  The main
 * thread asks for due checks at every round (remote_kick; skipped while the
 * previous one is still queued or running) and applies finished ones
 * (remote_collect): the source's status, the index and the notices stay on
 * the main thread. */

/* Gives remote source s its fetcher.  TD_ENOMEM. */
static int
start_fetcher(ldr *l, source *s)
{
	s->next_check = td_clock_mono_ms(); /* at once */
	return fetcher_start(&s->f, l->pool, &s->spec, s->name, s->path, l->max_size,
	    (long)l->fetch_timeout_ms);
}

/* xorshift64: the poll jitter's random numbers (no need for more). */
static uint64_t
next_rand(ldr *l)
{
	uint64_t x = l->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	l->rng = x;
	return x;
}

/* When a source's next check comes, counted from a check just asked for: its
 * second check anywhere in the first poll interval (sources that started
 * together spread over it), later ones poll_interval ± 10 % apart (they stay
 * spread, and no source waits longer than a poll interval and a tenth). */
static int64_t
next_poll_in(ldr *l, const source *s)
{
	int64_t spread = l->poll_ms / 5;

	if (!s->answered) {
		return 1 + (int64_t)(next_rand(l) % (uint64_t)l->poll_ms);
	}
	return l->poll_ms - spread / 2 + (int64_t)(next_rand(l) % (uint64_t)(spread + 1));
}

/* Asks for a check of remote source s, unless one is still running; its
 * next check is then scheduled (next_poll_in). */
static void
remote_kick(ldr *l, source *s, int64_t now)
{
	if (s->f != NULL && fetcher_kick(s->f, s->etag, s->last_error != NULL)) {
		s->next_check = now + next_poll_in(l, s);
	}
}

/* Applies a finished check of remote source s (main thread); true when the
 * workspace changed.  Discovered workspaces are queued in l->found. */
static bool
remote_collect(ldr *l, source *s)
{
	fetcher *f = s->f;
	fetch_result r;
	discover_ctx d = { .l = l, .parent = (size_t)(s - l->src) };
	bool changed = false;
	size_t i;

	if (f == NULL || !fetcher_take(f, &r)) {
		return false;
	}
	if (!s->answered) {
		s->answered = true;
		l->unanswered--;
	}
	for (i = 0; i < r.nfound; i++) {
		on_workspace(&d, r.found[i]);
	}
	switch (r.kind) {
	case RES_SAME:
		if (s->last_error != NULL) {
			free(s->last_error);
			s->last_error = NULL;
			s->status_dirty = true;
			changed = true;
		}
		break;
	case RES_STATE:
		snprintf(s->etag, sizeof(s->etag), "%s", r.etag);
		changed = take_state(s, r.st);
		r.st = NULL;
		break;
	default: changed = remote_failed(s, r.error != NULL ? r.error : "out of memory"); break;
	}
	fetch_result_free(&r);
	return changed;
}

/* True while a check of some remote source is running. */
static bool
remote_busy(ldr *l)
{
	bool busy = false;
	size_t i;

	for (i = 0; i < l->nsrc && !busy; i++) {
		busy = l->src[i].f != NULL && fetcher_busy(l->src[i].f);
	}
	return busy;
}

static void source_metrics(source *s);

/* Turns queued discovered workspaces into sources (checked at once: their
 * poll clocks start now). */
static void
add_discovered(ldr *l)
{
	source *ns;
	td_error err = { 0 };
	size_t i;

	if (l->nfound == 0) {
		return;
	}
	if ((ns = realloc(l->src, (l->nsrc + l->nfound + 1) * sizeof(*ns))) == NULL) {
		return;
	}
	l->src = ns;
	for (i = 0; i < l->nfound; i++) {
		source *c = &l->src[l->nsrc];
		memset(c, 0, sizeof(*c));
		c->wd = -1;
		if (src_s3_child(&l->src[l->found[i].parent].spec, l->found[i].workspace, &c->spec,
			&err) != 0) {
			continue;
		}
		c->kind = SRC_S3;
		c->name = strdup(c->spec.name);
		c->path = strdup(c->spec.shown);
		if (c->name == NULL || c->path == NULL) {
			free(c->name);
			free(c->path);
			src_spec_free(&c->spec);
			continue;
		}
		source_metrics(c);
		l->unanswered++;
		if (start_fetcher(l, c) != 0 || names_add(l->by_name, c->name, l->nsrc) < 0) {
			l->unanswered--;
			fetcher_free(c->f); /* never kicked */
			free(c->name);
			free(c->path);
			src_spec_free(&c->spec);
			continue;
		}
		/* its checks read the parent's listing (out of memory: they GET) */
		(void)fetcher_follow(c->f, l->src[l->found[i].parent].f, l->found[i].workspace,
		    l->poll_ms + l->poll_ms / 2);
		TD_INFO("workspace discovered", TD_KV_STR("workspace", c->name),
		    TD_KV_STR("source", c->path));
		l->nsrc++;
	}
	for (i = 0; i < l->nfound; i++) {
		free(l->found[i].workspace);
	}
	l->nfound = 0;
	names_clear(l->queued);
}

/* What file_changed found. */
enum {
	FILE_SAME,
	FILE_FAILED,
	FILE_PARSE
};

/* Stats a local file: FILE_SAME when it looks as at the last attempt,
 * FILE_FAILED when it cannot be read (reported here), FILE_PARSE when it must
 * be parsed again. */
static int
file_changed(source *s)
{
	struct stat sb;
	char msg[sizeof(((td_error *)0)->msg) + 64];
	int e;

	if (stat(s->path, &sb) != 0) {
		e = errno;
		if (s->checked && s->stat_errno == e) {
			return FILE_SAME;
		}
		s->checked = true;
		s->stat_errno = e;
		snprintf(msg, sizeof(msg), "%s: cannot read: %s", s->path, strerror(e));
		source_failed(s, msg);
		return FILE_FAILED;
	}
	if (s->checked && s->stat_errno == 0 && s->dev == sb.st_dev && s->ino == sb.st_ino &&
	    s->size == sb.st_size && s->mtime.tv_sec == sb.st_mtim.tv_sec &&
	    s->mtime.tv_nsec == sb.st_mtim.tv_nsec) {
		return FILE_SAME;
	}
	s->checked = true;
	s->stat_errno = 0;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->size = sb.st_size;
	s->mtime = sb.st_mtim;
	return FILE_PARSE;
}

static bool
check_source(ldr *l, source *s)
{
	td_error err = { 0 };
	tfs_state *st = NULL;

	if (s->kind != SRC_FILE) {
		return false; /* on its own clock (ldr_tick), answered through remote_collect */
	}
	switch (file_changed(s)) {
	case FILE_SAME: return false;
	case FILE_FAILED: return true;
	default: break;
	}
	if (tfs_parse_file(&st, s->path, l->max_size, &err) != 0) {
		source_failed(s, err.msg);
		return true;
	}
	return take_state(s, st);
}

/* ---- parsing local files in parallel ----------------------------------------- */

/* Parsing is CPU-bound and the files are independent, so a round with many
 * changed files (startup with dozens of states) parses them on PARSE_THREADS
 * threads.  Only tfs_parse_file runs on the workers (it touches nothing
 * shared but the read-only identifier table); the results are taken in
 * source order on the main thread, so logs and status look as before. */
#define PARSE_THREADS 2

typedef struct parse_job {
	source *s;
	tfs_state *st; /* the result, or NULL with err set */
	td_error err;
} parse_job;

typedef struct parse_pool {
	parse_job *jobs;
	size_t n;
	size_t max_size;
	atomic_size_t next;
} parse_pool;

static void *
parse_worker(void *arg)
{
	parse_pool *pp = arg;
	size_t i;

	while ((i = atomic_fetch_add(&pp->next, 1)) < pp->n) {
		parse_job *j = &pp->jobs[i];
		if (tfs_parse_file(&j->st, j->s->path, pp->max_size, &j->err) != 0) {
			j->st = NULL;
		}
	}
	return NULL;
}

static void flush_pending(ldr *l);
static int check_lease(ldr *l);

/* Files parsed between two writes: what a round holds in memory at most
 * (the states of 5,000 workspaces are never all in memory at once). */
#define PARSE_BATCH 64

/* Checks every local file source (remote ones keep their own poll clock) and
 * parses the changed files in parallel, PARSE_BATCH at a time, writing (or,
 * standing by, dropping) each batch before the next; true when any
 * workspace changed.  Falls back to one thread when no thread can be
 * started. */
static bool
check_all_sources(ldr *l, size_t from)
{
	parse_pool pp = { .max_size = l->max_size };
	pthread_t tid[PARSE_THREADS - 1];
	size_t i, nt = 0;
	bool changed = false;

	if ((pp.jobs = calloc(l->nsrc - from + 1, sizeof(*pp.jobs))) == NULL) {
		for (i = from; i < l->nsrc; i++) {
			l->src[i].due = false;
			changed = check_source(l, &l->src[i]) || changed;
		}
		return changed;
	}
	for (i = from; i < l->nsrc; i++) {
		source *s = &l->src[i];
		s->due = false;
		if (s->kind != SRC_FILE) {
			continue;
		}
		switch (file_changed(s)) {
		case FILE_FAILED: changed = true; break;
		case FILE_PARSE: pp.jobs[pp.n++].s = s; break;
		default: break;
		}
	}
	{
		parse_job *all = pp.jobs;
		size_t total = pp.n, off;
		for (off = 0; off < total; off += PARSE_BATCH) {
			pp.jobs = all + off;
			pp.n = total - off < PARSE_BATCH ? total - off : PARSE_BATCH;
			atomic_init(&pp.next, 0);
			nt = 0;
			while (pp.n > 1 && nt < PARSE_THREADS - 1 &&
			    pthread_create(&tid[nt], NULL, parse_worker, &pp) == 0) {
				nt++;
			}
			parse_worker(&pp);
			for (i = 0; i < nt; i++) {
				pthread_join(tid[i], NULL);
			}
			for (i = 0; i < pp.n; i++) {
				if (pp.jobs[i].st == NULL) {
					source_failed(pp.jobs[i].s, pp.jobs[i].err.msg);
					changed = true;
				} else {
					changed = take_state(pp.jobs[i].s, pp.jobs[i].st) ||
					    changed;
				}
			}
			if (changed && off + pp.n < total) {
				flush_pending(l);
			}
		}
		pp.jobs = all;
	}
	free(pp.jobs);
	return changed;
}

/* accounts, regions, account_known, unscoped_resources (scope.h) into o. */
static bool
add_scope(cJSON *o, const td_scope *sc)
{
	const char *const *v;
	size_t n;
	bool ok;

	v = td_scope_accounts(sc, &n);
	ok = cJSON_AddItemToObject(o, "accounts", cJSON_CreateStringArray(v, (int)n));
	v = td_scope_regions(sc, &n);
	ok = ok && cJSON_AddItemToObject(o, "regions", cJSON_CreateStringArray(v, (int)n));
	/* no scope (out of memory): everything was indexed unscoped */
	ok = ok &&
	    cJSON_AddBoolToObject(o, "account_known", sc != NULL && td_scope_account_known(sc)) !=
		NULL;
	ok = ok &&
	    cJSON_AddNumberToObject(o, "unscoped_resources", (double)td_scope_unscoped(sc)) != NULL;
	return ok;
}

/* The workspace status as JSON; malloc'd, owned by the caller. */
static char *
status_json(const source *s)
{
	cJSON *o = cJSON_CreateObject();
	char ts[40];
	char *out = NULL;
	bool ok = o != NULL;

	ok = ok &&
	    cJSON_AddStringToObject(o, "source",
		s->kind == SRC_FILE ? "local" : src_kind_name(s->kind)) != NULL;
	ok = ok && cJSON_AddStringToObject(o, "path", s->path) != NULL;
	if (s->loaded) {
		const cJSON *item;
		ok = ok && cJSON_AddNumberToObject(o, "serial", (double)s->serial) != NULL;
		ok = ok && cJSON_AddStringToObject(o, "lineage", s->lineage) != NULL;
		ok = ok && cJSON_AddStringToObject(o, "terraform_version", s->tf_version) != NULL;
		ok = ok && cJSON_AddNumberToObject(o, "resources", (double)s->resources_n) != NULL;
		td_clock_format(s->loaded_at_ns, 3, ts, sizeof(ts));
		ok = ok && cJSON_AddStringToObject(o, "loaded_at", ts) != NULL;
		cJSON_ArrayForEach(item, s->scope_json)
		{
			ok = ok &&
			    cJSON_AddItemToObject(o, item->string, cJSON_Duplicate(item, true));
		}
	} else {
		ok = ok && cJSON_AddNullToObject(o, "serial") != NULL;
		ok = ok && cJSON_AddNullToObject(o, "lineage") != NULL;
		ok = ok && cJSON_AddNullToObject(o, "terraform_version") != NULL;
		ok = ok && cJSON_AddNumberToObject(o, "resources", 0) != NULL;
		ok = ok && cJSON_AddNullToObject(o, "loaded_at") != NULL;
		ok = ok && cJSON_AddItemToObject(o, "accounts", cJSON_CreateArray());
		ok = ok && cJSON_AddItemToObject(o, "regions", cJSON_CreateArray());
		ok = ok && cJSON_AddNullToObject(o, "account_known") != NULL;
		ok = ok && cJSON_AddNumberToObject(o, "unscoped_resources", 0) != NULL;
	}
	ok = ok &&
	    (s->last_error != NULL ? cJSON_AddStringToObject(o, "last_error", s->last_error) != NULL
				   : cJSON_AddNullToObject(o, "last_error") != NULL);
	if (ok) {
		out = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(o);
	return out;
}

/* ---- Redis health ---------------------------------------------------------- */

/* The index cannot be written: counts it in c, records why for /readyz
 * (prefix + the error) and marks Redis not ok.  True when the caller should
 * log it: a new error, or the same one RELOG_MS after it was last logged. */
static bool
index_blocked(ldr *l, td_counter *c, const char *prefix, const td_error *err)
{
	int64_t now = td_clock_mono_ms();

	td_counter_inc(c);
	pthread_mutex_lock(&l->mu);
	snprintf(l->redis_why, sizeof(l->redis_why), "%s%.480s", prefix, err->msg);
	pthread_mutex_unlock(&l->mu);
	atomic_store(&l->redis_ok, false);
	if (strcmp(l->last_logged, err->msg) == 0 && now - l->last_logged_at < RELOG_MS) {
		return false;
	}
	snprintf(l->last_logged, sizeof(l->last_logged), "%s", err->msg);
	l->last_logged_at = now;
	return true;
}

static void
redis_down(ldr *l, const td_error *err)
{
	if (index_blocked(l, l->c_redis_errors, "", err)) {
		TD_ERROR("redis unavailable; the index will be written when it is back",
		    TD_KV_STR("error", err->msg));
	}
}

/* The write failed with Redis reachable (a refused command, a reply of the
 * wrong shape, memory): not "redis unavailable", and the message says what.
 * The index stays not ready with that reason; the write is retried each tick
 * (the state stays dirty). */
static void
write_failed(ldr *l, int rv, const td_error *err)
{
	if (index_blocked(l, l->c_write_errors, "index not written: ", err)) {
		TD_ERROR("index generation not written", TD_KV_STR("error", err->msg),
		    TD_KV_STR("code", td_strerror(rv)));
	}
}

static void
redis_up(ldr *l)
{
	if (l->last_logged[0] != '\0') {
		TD_INFO("redis reachable again");
		l->last_logged[0] = '\0';
	}
	atomic_store(&l->redis_ok, true);
}

int
ldr_ready_redis(void *arg, char *why, size_t whylen)
{
	ldr *l = arg;

	if (atomic_load(&l->redis_ok)) {
		return 0;
	}
	pthread_mutex_lock(&l->mu);
	snprintf(why, whylen, "%s", l->redis_why[0] != '\0' ? l->redis_why : "not connected yet");
	pthread_mutex_unlock(&l->mu);
	return TD_EDEPEND;
}

int
ldr_ready_sources(void *arg, char *why, size_t whylen)
{
	ldr *l = arg;
	int rv = 0;

	pthread_mutex_lock(&l->mu);
	if (l->sources_why[0] != '\0') {
		snprintf(why, whylen, "%s", l->sources_why);
		rv = TD_EIO;
	}
	pthread_mutex_unlock(&l->mu);
	return rv;
}

/* Rewrites sources_why from the sources' last errors. */
static void
update_sources_why(ldr *l)
{
	char buf[sizeof(l->sources_why)];
	size_t i, failed = 0, j = 0;
	const source *first = NULL;

	for (i = 0; i < l->nsrc; i++) {
		if (l->src[i].last_error != NULL) {
			if (first == NULL) {
				first = &l->src[i];
			}
			failed++;
		}
	}
	buf[0] = '\0';
	if (first != NULL) {
		j = (size_t)snprintf(buf, sizeof(buf), "%s: %s", first->name, first->last_error);
		if (failed > 1 && j < sizeof(buf)) {
			snprintf(buf + j, sizeof(buf) - j, " (and %zu more failing sources)",
			    failed - 1);
		}
	}
	pthread_mutex_lock(&l->mu);
	memcpy(l->sources_why, buf, sizeof(buf));
	pthread_mutex_unlock(&l->mu);
}

int
ldr_ready_index(void *arg, char *why, size_t whylen)
{
	ldr *l = arg;

	if (atomic_load(&l->indexed)) {
		return 0;
	}
	snprintf(why, whylen, "the first index generation has not been written yet");
	return TD_EAGAIN;
}

/* ---- generations ----------------------------------------------------------- */

/* The notice of a round: the workspaces it switched or removed (changed,
 * nchanged) and those whose status alone changed (statused, nstatused):
 * the statuses of both travel with it; whether readers must drop
 * everything (full); the resources indexed in all. */
static void
publish_notice(ldr *l, char *const *changed, size_t nchanged, char *const *statused,
    size_t nstatused, bool full, int64_t switched_at)
{
	Tfdrift__V1__StateNotice notice = TFDRIFT__V1__STATE_NOTICE__INIT;
	size_t nall = nchanged + nstatused;
	Tfdrift__V1__WorkspaceStatus *ws = calloc(nall + 1, sizeof(*ws));
	Tfdrift__V1__WorkspaceStatus **wp = calloc(nall + 1, sizeof(*wp));
	uint8_t *buf = NULL;
	size_t i, k, nws = 0, total = 0, len;
	int rv;

	if (ws == NULL || wp == NULL) {
		TD_WARN("state notice not published: out of memory");
		goto out;
	}
	for (i = 0; i < l->nsrc; i++) {
		total += l->src[i].loaded ? l->src[i].resources_n : 0;
	}
	for (k = 0; k < nall; k++) {
		char *name = k < nchanged ? changed[k] : statused[k - nchanged];
		const source *s = names_get(l->by_name, name, &i) ? &l->src[i] : NULL;
		tfdrift__v1__workspace_status__init(&ws[nws]);
		ws[nws].name = name;
		if (s != NULL) {
			ws[nws].source = s->kind == SRC_FILE ? "local"
							     : (char *)src_kind_name(s->kind);
			if (s->loaded) {
				ws[nws].serial = s->serial;
				ws[nws].lineage = s->lineage;
				ws[nws].resource_count = (uint32_t)s->resources_n;
				ws[nws].loaded_at_ns = s->loaded_at_ns;
			}
			ws[nws].last_error = s->last_error != NULL ? s->last_error : "";
		}
		wp[nws] = &ws[nws];
		nws++;
	}
	notice.generation = l->gen;
	notice.switched_at_ns = switched_at;
	notice.n_workspaces = nws;
	notice.workspaces = wp;
	notice.resource_count = (uint32_t)total;
	notice.reason = (char *)l->reason;
	notice.n_changed = nchanged;
	notice.changed = (char **)changed;
	notice.full = full;
	len = tfdrift__v1__state_notice__get_packed_size(&notice);
	if ((buf = malloc(len + 1)) == NULL) {
		TD_WARN("state notice not published: out of memory");
		goto out;
	}
	tfdrift__v1__state_notice__pack(&notice, buf);
	if ((rv = td_bus_publish(l->pub, TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_STATE_NOTICE, buf,
		 len, NULL)) != 0) {
		TD_WARN("state notice not published", TD_KV_STR("error", td_strerror(rv)));
	}
out:
	free(buf);
	free(wp);
	free(ws);
}

/* A failed switch or record write: handled by kind (the round stops; what
 * is left is written at the next one). */
static void
switch_failed(ldr *l, int rv, const td_error *err)
{
	if (rv == TD_ECLOSED) {
		return;
	}
	if (rv == TD_EDEPEND) {
		redis_down(l, err);
	} else if (rv == TD_EBUSY) {
		/* another state-loader took the lease while this one wrote */
		TD_WARN("lost the write lease; standing by", TD_KV_STR("error", err->msg));
		l->writer = false;
		td_gauge_set(l->g_writer, 0);
	} else {
		write_failed(l, rv, err);
	}
}

/* Appends name (copied) to the changed list. */
static int
add_changed(char ***v, size_t *n, const char *name)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (nv == NULL) {
		return TD_ENOMEM;
	}
	*v = nv;
	if ((nv[*n] = strdup(name)) == NULL) {
		return TD_ENOMEM;
	}
	(*n)++;
	return 0;
}

/* Workspaces Redis holds that are no source (any more): removed. */
static int
remove_strays(ldr *l, char ***changed, size_t *nchanged, bool (*cancel)(void *), void *cancel_arg)
{
	td_error err = { 0 };
	store_result res;
	char **held = NULL;
	size_t n = 0, i;
	int rv;

	if ((rv = store_workspaces(l->st, &held, &n, &err)) != 0) {
		switch_failed(l, rv, &err);
		return rv;
	}
	for (i = 0; i < n && rv == 0; i++) {
		if (names_get(l->by_name, held[i], NULL)) {
			continue;
		}
		store_workspace w = { .name = held[i], .order = (unsigned)l->nsrc };
		if ((rv = store_switch_workspace(l->st, &w, cancel, cancel_arg, &res, &err)) != 0) {
			switch_failed(l, rv, &err);
			break;
		}
		l->gen = res.generation;
		TD_INFO("workspace removed from the index (no longer a source)",
		    TD_KV_STR("workspace", held[i]));
		if (add_changed(changed, nchanged, held[i]) != 0) {
			rv = TD_ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		free(held[i]);
	}
	free(held);
	return rv;
}

/* Writes what changed: every workspace with a new state (its own keys
 * only), the records of the others whose status changed, and (after a
 * start, a new lease or a lost index) the removal of workspaces that are no
 * sources.  One notice for the round.  What fails stays for the next round. */
static void
write_changes(ldr *l, bool (*cancel)(void *), void *cancel_arg)
{
	store_workspace w;
	store_result res, tot = { 0 };
	td_error err = { 0 };
	int64_t t0 = td_clock_mono_ms(), now_ns;
	char **changed = NULL, **statused = NULL, *status = NULL;
	size_t nchanged = 0, nstatused = 0, i, written = 0;
	contain *cn = NULL;
	int rv;

	if ((rv = store_sweep(l->st, cancel, cancel_arg, &err)) != 0 && rv != TD_ECLOSED) {
		TD_WARN("old generations not retired; will scan again after the next write",
		    TD_KV_STR("error", err.msg));
	}
	rv = 0; /* housekeeping: a failed sweep holds up no write */
	if (l->reconcile) {
		if (remove_strays(l, &changed, &nchanged, cancel, cancel_arg) != 0) {
			goto out;
		}
		l->reconcile = false;
	}
	/* containers first, so each workspace is placed among all the others' */
	for (i = 0; i < l->nsrc; i++) {
		if (l->src[i].state != NULL &&
		    contain_boxes_set(l->boxes, l->src[i].name, l->src[i].state) != 0) {
			TD_WARN("out of memory: graph containers of a workspace are missing",
			    TD_KV_STR("workspace", l->src[i].name));
		}
	}
	for (i = 0; i < l->nsrc; i++) {
		source *s = &l->src[i];
		if (s->state == NULL && !s->status_dirty) {
			continue;
		}
		if ((status = status_json(s)) == NULL) {
			TD_ERROR("index not written: out of memory");
			goto out;
		}
		if (s->state == NULL) {
			rv = store_set_status(l->st, s->name, status, &err);
		} else {
			const char *name = s->name;
			const tfs_state *st = s->state;
			if (contain_place(&cn, l->boxes, &name, &st, 1) != 0) {
				cn = NULL; /* out of memory: no parents */
			}
			w = (store_workspace){ .name = s->name,
				.state = s->state,
				.scope = s->scope,
				.parents = cn,
				.status_json = status,
				.order = (unsigned)i };
			rv = store_switch_workspace(l->st, &w, cancel, cancel_arg, &res, &err);
			contain_free(cn);
			cn = NULL;
		}
		free(status);
		status = NULL;
		if (rv != 0) {
			switch_failed(l, rv, &err);
			break;
		}
		s->status_dirty = false;
		if (s->state == NULL) {
			(void)add_changed(&statused, &nstatused, s->name); /* a cue only */
			continue;
		}
		drop_state(s);
		s->gen = res.generation;
		l->gen = res.generation;
		written++;
		tot.resources += res.resources;
		tot.identifiers += res.identifiers;
		tot.conflicts += res.conflicts;
		tot.moved += res.moved;
		tot.nodes += res.nodes;
		tot.edges += res.edges;
		if (add_changed(&changed, &nchanged, s->name) != 0) {
			l->full = true; /* a name the notice cannot carry: readers drop all */
		}
	}
	if (rv != 0) {
		goto out;
	}
	redis_up(l);
	l->dirty = false;
	now_ns = td_clock_now_ns();
	td_counter_add(l->c_conflicts, tot.conflicts);
	if (nchanged + nstatused > 0 && nchanged == 0 && l->pub != NULL) {
		/* statuses only (a failed load): no reader's cache is wrong */
		publish_notice(l, NULL, 0, statused, nstatused, false, now_ns);
	}
	if (nchanged > 0) {
		bool full = l->full || tot.moved > 0;
		td_gauge_set(l->g_generation, (double)l->gen);
		td_gauge_set(l->g_switch_ts, (double)now_ns / 1e9);
		td_histogram_observe(l->h_write, (double)(td_clock_mono_ms() - t0) / 1000.0);
		TD_INFO("index workspaces switched", TD_KV_UINT("generation", l->gen),
		    TD_KV_STR("reason", l->reason), TD_KV_UINT("workspaces", written),
		    TD_KV_UINT("removed", nchanged - written),
		    TD_KV_UINT("resources", tot.resources),
		    TD_KV_UINT("identifiers", tot.identifiers),
		    TD_KV_UINT("identifier_conflicts", tot.conflicts),
		    TD_KV_UINT("claims_moved", tot.moved), TD_KV_UINT("graph_nodes", tot.nodes),
		    TD_KV_UINT("graph_edges", tot.edges), TD_KV_BOOL("full", full),
		    TD_KV_INT("ms", td_clock_mono_ms() - t0));
		if (l->pub != NULL) {
			publish_notice(l, changed, nchanged, statused, nstatused, full, now_ns);
		}
		l->full = false;
	}
	if (written > 0) {
		/* give the freed states' pages back now, not at the next 30 s trim */
		td_procmem_trim();
	}
out:
	for (i = 0; i < nchanged; i++) {
		free(changed[i]);
	}
	free(changed);
	for (i = 0; i < nstatused; i++) {
		free(statused[i]);
	}
	free(statused);
}

/* Every source is read again and written whole (Redis lost the index, or
 * this process just became the writer and its view of Redis is unknown). */
static void
reload_all(ldr *l)
{
	int64_t now = td_clock_mono_ms();

	for (size_t i = 0; i < l->nsrc; i++) {
		source *s = &l->src[i];
		s->reload = true;
		s->status_dirty = true;
		s->checked = false; /* a local file is parsed again */
		s->etag[0] = '\0';  /* a remote one fetched whole */
		if (s->f != NULL) {
			s->next_check = now;
		}
	}
	l->next_poll = now;
	l->reconcile = true;
	l->full = true;
}

/* A state-loader that does not write keeps no states: it reads them again
 * when it takes over. */
static void
drop_pending(ldr *l)
{
	for (size_t i = 0; i < l->nsrc; i++) {
		if (l->src[i].state != NULL) {
			drop_state(&l->src[i]);
			l->dropped = true;
		}
	}
}

static void
mark_dirty(ldr *l, const char *reason)
{
	if (!l->dirty) {
		l->dirty = true;
		l->reason = reason;
	}
}

/* Watches the directories of the local files (filewatch.h), so a change is
 * seen within a tick instead of a poll interval.  Any failure leaves that
 * source to polling. */
static void
watch_files(ldr *l)
{
	char dir[4096];
	size_t i;

	l->ino_fd = filewatch_open();
	for (i = 0; i < l->nsrc; i++) {
		source *s = &l->src[i];
		s->wd = -1;
		if (l->ino_fd < 0 || s->kind != SRC_FILE) {
			continue;
		}
		s->wd = filewatch_add(l->ino_fd, s->path, &s->base, dir, sizeof(dir));
		if (s->wd < 0) {
			TD_WARN("cannot watch the state file's directory; polling it",
			    TD_KV_STR("workspace", s->name), TD_KV_STR("dir", dir),
			    TD_KV_STR("error", strerror(errno)));
		}
	}
}

/* A file event: the sources it names are due; after an overflow (name
 * NULL) every local file is. */
static void
on_file_event(void *arg, int wd, const char *name)
{
	ldr *l = arg;

	for (size_t i = 0; i < l->nsrc; i++) {
		source *s = &l->src[i];
		if (name == NULL ? s->kind == SRC_FILE
				 : s->wd == wd && strcmp(name, s->base) == 0) {
			s->due = true;
		}
	}
}

/* Reads pending file events and marks the sources they name due. */
static void
drain_events(ldr *l)
{
	filewatch_drain(l->ino_fd, on_file_event, l);
}

/* The first generation waits this long at most for every remote source's
 * first answer, so a fresh start does not briefly show their resources as
 * unmanaged; a source that hangs longer joins a later generation. */
/* Takes or renews the write lease: 1 when this process writes, 0 when
 * another does, -1 when Redis cannot be reached.  A state-
 * loader that takes over writes a generation of its own at once (its states
 * are loaded and current). */
static int
check_lease(ldr *l)
{
	td_error err = { 0 };
	char *other = NULL;
	bool held = false;

	if (store_lease(l->st, &held, &other, &err) != 0) {
		redis_down(l, &err);
		return -1;
	}
	redis_up(l);
	if (held && !l->writer) {
		TD_INFO("holding the write lease: this state-loader writes the index",
		    TD_KV_STR("holder", l->holder));
		mark_dirty(l, "took the write lease");
		l->reconcile = true;
		if (l->dropped) {
			/* its states were not kept while standing by */
			reload_all(l);
			l->dropped = false;
		}
	} else if (!held && (l->writer || !l->standby_logged)) {
		TD_INFO("standing by: another state-loader holds the write lease",
		    TD_KV_STR("holder", other != NULL ? other : "?"));
	}
	l->standby_logged = !held;
	if (!held) {
		/* ready all the same once the writer has written an index: it can
		 * take over at any moment */
		uint64_t cur = 0;
		redis_up(l);
		if (!atomic_load(&l->indexed) && store_current_generation(l->st, &cur, &err) == 0 &&
		    cur > 0) {
			atomic_store(&l->indexed, true);
		}
	}
	l->writer = held;
	td_gauge_set(l->g_writer, held ? 1 : 0);
	free(other);
	return held ? 1 : 0;
}

#define STARTUP_WAIT_MS 10000
/* Rounds are this close while a remote check is running, so its result is
 * applied soon after it arrives. */
#define BUSY_TICK_MS 100

/* Between parse batches: the writer writes what it has (so a round holds a
 * batch of states, not all of them); a standby drops it. */
static void
flush_pending(ldr *l)
{
	/* a first load of thousands of states outlasts the lease: renewed here */
	if (l->writer && store_connected(l->st) && check_lease(l) == 0) {
		l->writer = false;
	}
	if (!l->writer) {
		drop_pending(l);
		return;
	}
	if (atomic_load(&l->redis_ok) && store_connected(l->st)) {
		mark_dirty(l, l->gen == 0 ? "startup" : "state changed");
		write_changes(l, l->cancel, l->cancel_arg);
	}
}

/* Nothing waits to be written. */
static bool
all_written(const ldr *l)
{
	if (l->dirty || l->reconcile) {
		return false;
	}
	for (size_t i = 0; i < l->nsrc; i++) {
		if (l->src[i].state != NULL || l->src[i].status_dirty) {
			return false;
		}
	}
	return true;
}

/* The first load (or the rewrite after Redis lost the index) is whole:
 * every source has been read once (remote ones answered, or the startup
 * wait is over) and written.  Then P gen is set, and readers use the index. */
static void
maybe_publish(ldr *l, int64_t now)
{
	td_error err = { 0 };
	uint64_t gen = l->gen;
	int rv;

	if (l->gen_published || !l->writer || !atomic_load(&l->redis_ok) ||
	    (l->unanswered > 0 && now - l->started_ms < STARTUP_WAIT_MS) || !all_written(l)) {
		return;
	}
	if ((rv = store_publish_generation(l->st, &gen, &err)) != 0) {
		switch_failed(l, rv, &err);
		return;
	}
	l->gen = gen;
	l->gen_published = true;
	store_hold_generation(l->st, false);
	td_gauge_set(l->g_generation, (double)gen);
	TD_INFO("index whole: readers may use it", TD_KV_UINT("generation", gen),
	    TD_KV_INT("ms_since_start", now - l->started_ms));
	atomic_store(&l->indexed, true);
}

int
ldr_tick(ldr *l, bool (*cancel)(void *), void *cancel_arg)
{
	td_error err = { 0 };
	int64_t now = td_clock_mono_ms(), wait;
	uint64_t cur;
	size_t i;
	bool changed = false;
	int lease;

	l->cancel = cancel;
	l->cancel_arg = cancel_arg;
	drain_events(l);
	/* Redis and the lease first, so a round's states are written (or, standing
	 * by, dropped) batch by batch.  Checked once a TICK_MS, or at once when
	 * there is something to write and it was fine last time. */
	if ((l->dirty && atomic_load(&l->redis_ok)) || now - l->redis_at >= TICK_MS) {
		l->redis_at = now;
		if (!store_connected(l->st) && store_connect(l->st, &err) != 0) {
			redis_down(l, &err);
		} else if ((lease = check_lease(l)) == 0) {
			drop_pending(l); /* standing by: another state-loader writes */
		} else if (lease > 0 && l->gen_published && !l->dirty) {
			/* Redis restarted empty or was flushed: write the index again */
			int grv = store_current_generation(l->st, &cur, &err);
			if (grv != 0) {
				redis_down(l, &err);
			} else {
				redis_up(l);
			}
			if (grv == 0 && cur != l->gen) {
				TD_WARN("redis no longer holds the current index generation; "
					"writing it again",
				    TD_KV_UINT("expected", l->gen), TD_KV_UINT("found", cur));
				mark_dirty(l, "redis lost the index");
				reload_all(l);
				l->gen_published = false;
				store_hold_generation(l->st, true);
			}
		}
	}
	/* remote checks that finished since the last round */
	for (i = 0; i < l->nsrc; i++) {
		if (l->src[i].f != NULL && remote_collect(l, &l->src[i])) {
			changed = true;
		}
	}
	/* workspaces found by discovery are checked at once */
	add_discovered(l);
	/* remote sources whose poll is due (discovered ones at once, and when
	 * their source's listing shows their object changed) */
	for (i = 0; i < l->nsrc; i++) {
		if (l->src[i].f != NULL &&
		    (now >= l->src[i].next_check || fetcher_due(l->src[i].f, l->src[i].etag))) {
			remote_kick(l, &l->src[i], now);
		}
	}
	if (l->pool != NULL) {
		size_t queued, running;
		fetch_pool_counts(l->pool, &queued, &running);
		td_gauge_set(l->g_fetch_queued, (double)queued);
		td_gauge_set(l->g_fetch_running, (double)running);
	}
	if (now >= l->next_poll) {
		/* local files are checked here */
		changed = check_all_sources(l, 0) || changed;
		l->next_poll = now + l->poll_ms;
	} else {
		for (i = 0; i < l->nsrc; i++) {
			if (l->src[i].due) {
				l->src[i].due = false;
				changed = check_source(l, &l->src[i]) || changed;
			}
		}
	}
	if (changed) {
		mark_dirty(l, l->gen == 0 ? "startup" : "state changed");
		update_sources_why(l);
	}
	if (!l->writer) {
		drop_pending(l);
	} else if (l->dirty && atomic_load(&l->redis_ok) && store_connected(l->st)) {
		write_changes(l, cancel, cancel_arg);
	}
	maybe_publish(l, td_clock_mono_ms());
	now = td_clock_mono_ms();
	wait = l->next_poll - now;
	if (wait > TICK_MS) {
		wait = TICK_MS;
	}
	for (i = 0; i < l->nsrc; i++) {
		if (l->src[i].f != NULL && l->src[i].next_check - now < wait) {
			wait = l->src[i].next_check - now;
		}
	}
	if (wait > BUSY_TICK_MS && remote_busy(l)) {
		wait = BUSY_TICK_MS;
	}
	return wait < 0 ? 0 : (int)wait;
}

/* Slices of a wait on the file watch, so a stop is seen this soon. */
#define WAIT_SLICE_MS 200

bool
ldr_wait(ldr *l, int ms, bool (*stopping)(void *), void *arg)
{
	int64_t end = td_clock_mono_ms() + ms, left;

	if (l->ino_fd < 0) {
		return false;
	}
	while (!stopping(arg) && (left = end - td_clock_mono_ms()) > 0) {
		struct pollfd p = { .fd = l->ino_fd, .events = POLLIN };
		if (poll(&p, 1, (int)(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS)) > 0) {
			break; /* a watched directory changed: the next round reads it */
		}
	}
	return true;
}

/* ---- lifecycle --------------------------------------------------------------- */

/* This process's name for the write lease: host, pid and random bits, unique
 * even for two processes of one pid namespace in a row.  Owned by the caller;
 * NULL when out of memory. */
static char *
lease_holder_name(void)
{
	char host[128] = "state-loader", rnd[9];

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	return td_str_printf("%s:%d:%s", host, (int)getpid(), td_id_random_hex(rnd, 4));
}

static void
source_metrics(source *s)
{
	char labels[512];

	workspace_label(s->name, labels, sizeof(labels));
	s->resources = td_gauge_get("tfdrift_state_resources",
	    "Managed resource instances in the index, per workspace.", labels);
	s->errors = td_counter_get("tfdrift_state_load_errors_total",
	    "State files that could not be read or parsed, per workspace.", labels);
	s->unchanged = td_counter_get("tfdrift_state_unchanged_total",
	    "States read again whose serial and lineage were the ones loaded (no new generation), "
	    "per workspace.",
	    labels);
}

void
ldr_set_publisher(ldr *l, td_bus_pub *pub)
{
	l->pub = pub;
}

int
ldr_new(ldr **out, const td_config *cfg, td_error *err)
{
	store_opts so = { 0 };
	ldr *l;
	size_t i, n, nr;
	int rv = 0;

	*out = NULL;
	/* the embedded identifier table is checked once, before anything runs */
	if ((rv = idx_init(err)) != 0) {
		return rv;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&l->mu, NULL);
	l->ino_fd = -1;
	l->cfg = cfg;
	l->poll_ms = td_config_int(cfg, SECTION, "poll_interval");
	l->fetch_timeout_ms = td_config_int(cfg, SECTION, "fetch_timeout");
	l->started_ms = td_clock_mono_ms();
	/* the first write removes workspaces that are no sources any more, and
	 * readers drop whatever they cached of an index of another process */
	l->reconcile = true;
	l->full = true;
	l->redis_at = l->started_ms - TICK_MS;
	l->max_size = (size_t)td_config_int(cfg, SECTION, "max_state_size");
	l->rng = (uint64_t)td_clock_mono_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^ 1;
	l->next_poll = td_clock_mono_ms();
	/* the first generation is written even when there is no source */
	l->dirty = true;
	l->reason = "startup";
	n = td_config_list_len(cfg, SECTION, "local_files");
	nr = td_config_list_len(cfg, SECTION, "sources");
	if ((l->src = calloc(n + nr + 1, sizeof(*l->src))) == NULL || names_new(&l->by_name) != 0 ||
	    names_new(&l->queued) != 0) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n + nr; i++) {
		source *s = &l->src[i];
		l->nsrc++; /* from here ldr_free frees whatever s holds */
		if (i < n) {
			rv = ldr_parse_source(td_config_list_item(cfg, SECTION, "local_files", i),
			    &s->name, &s->path, err);
		} else if ((rv = src_parse(td_config_list_item(cfg, SECTION, "sources", i - n),
				&s->spec, err)) == 0) {
			s->kind = s->spec.kind;
			s->name = strdup(s->spec.name);
			s->path = strdup(s->kind == SRC_FILE ? s->spec.path : s->spec.shown);
		}
		if (rv != 0) {
			goto out;
		}
		if (s->name == NULL || s->path == NULL) {
			td_error_set(err, TD_ENOMEM, "out of memory");
			rv = TD_ENOMEM;
			goto out;
		}
		if ((rv = names_add(l->by_name, s->name, i)) != 1) {
			rv = rv < 0
			    ? td_error_set(err, TD_ENOMEM, "out of memory")
			    : td_error_set(err, TD_EINVAL,
				  "state_loader: workspace \"%s\" is listed twice", s->name);
			goto out;
		}
		source_metrics(s);
	}
	l->g_generation = td_gauge_get("tfdrift_state_generation",
	    "The index generation Redis points at.", NULL);
	l->g_writer = td_gauge_get("tfdrift_state_writer",
	    "1 while this state-loader holds the write lease and writes the index; 0 while it "
	    "stands by (another replica writes).",
	    NULL);
	l->g_fetch_queued = td_gauge_get("tfdrift_state_fetch_queued",
	    "Remote source checks waiting for a fetch worker.", NULL);
	l->g_fetch_running = td_gauge_get("tfdrift_state_fetch_running",
	    "Remote source checks running on the fetch workers.", NULL);
	l->g_switch_ts = td_gauge_get("tfdrift_state_last_switch_timestamp_seconds",
	    "Unix time of the last switch to a new index generation.", NULL);
	l->c_conflicts = td_counter_get("tfdrift_state_identifier_conflicts_total",
	    "Identifiers claimed by more than one instance (the first one keeps it).", NULL);
	l->c_redis_errors = td_counter_get("tfdrift_state_redis_errors_total",
	    "Failed attempts to reach Redis (connection refused, broken or timed out).", NULL);
	l->c_write_errors = td_counter_get("tfdrift_state_index_write_errors_total",
	    "Index writes that failed with Redis reachable (a refused command, a reply of the "
	    "wrong shape, out of memory).",
	    NULL);
	l->h_write = td_histogram_get("tfdrift_state_generation_write_seconds",
	    "Time to write and switch one index generation.", NULL);
	so.host = td_config_str(cfg, "redis", "host");
	so.port = (int)td_config_int(cfg, "redis", "port");
	so.password = td_config_str(cfg, "redis", "password");
	so.db = (int)td_config_int(cfg, "redis", "db");
	so.prefix = td_config_str(cfg, "redis", "key_prefix");
	so.timeout_ms = (int)td_config_int(cfg, "redis", "timeout");
	so.grace_ms = td_config_int(cfg, SECTION, "generation_grace");
	so.lease_ms = td_config_int(cfg, SECTION, "write_lease");
	if ((l->holder = lease_holder_name()) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	so.holder = l->holder;
	if ((rv = store_new(&l->st, &so)) != 0 || (rv = contain_boxes_new(&l->boxes)) != 0) {
		td_error_set(err, rv, "out of memory");
		goto out;
	}
	store_hold_generation(l->st, true); /* until the first load is whole */
	watch_files(l);
	if (n < l->nsrc) {
		size_t workers = (size_t)td_config_int(cfg, SECTION, "fetch_workers");
		if (fetch_pool_start(&l->pool, workers,
			(size_t)td_config_int(cfg, SECTION, "fetch_per_host")) != 0) {
			TD_WARN("cannot start the fetch workers; remote sources are fetched inline",
			    TD_KV_UINT("fetch_workers", workers));
		}
	}
	for (i = 0; i < l->nsrc; i++) {
		if (l->src[i].kind != SRC_FILE) {
			l->unanswered++;
			if (start_fetcher(l, &l->src[i]) != 0) {
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	if (n + nr == 0) {
		TD_WARN("no state sources configured (state_loader.local_files, "
			"state_loader.sources); the index will be empty");
	}
	*out = l;
	l = NULL;
out:
	ldr_free(l);
	return rv;
}

void
ldr_free(ldr *l)
{
	size_t i;

	if (l == NULL) {
		return;
	}
	/* every fetcher is told to stop before any is waited for, so hanging
	 * transfers are abandoned together */
	for (i = 0; l->src != NULL && i < l->nsrc; i++) {
		fetcher_cancel(l->src[i].f);
	}
	for (i = 0; l->src != NULL && i < l->nsrc; i++) {
		fetcher_free(l->src[i].f);
	}
	fetch_pool_free(l->pool); /* idle: every fetcher's check is done or dropped */
	if (l->writer && l->st != NULL) {
		td_error err = { 0 };
		if (store_release_lease(l->st, &err) != 0) {
			TD_WARN("write lease not released; a standby takes over when it expires",
			    TD_KV_STR("error", err.msg));
		}
	}
	for (i = 0; l->src != NULL && i < l->nsrc; i++) {
		free(l->src[i].name);
		free(l->src[i].path);
		free(l->src[i].last_error);
		drop_state(&l->src[i]);
		free(l->src[i].lineage);
		free(l->src[i].tf_version);
		cJSON_Delete(l->src[i].scope_json);
		src_spec_free(&l->src[i].spec);
	}
	contain_boxes_free(l->boxes);
	names_free(l->by_name);
	names_free(l->queued);
	free(l->src);
	for (i = 0; i < l->nfound; i++) {
		free(l->found[i].workspace);
	}
	free(l->found);
	if (l->ino_fd >= 0) {
		close(l->ino_fd);
	}
	store_free(l->st);
	free(l->holder);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
