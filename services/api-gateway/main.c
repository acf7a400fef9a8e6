/* tfdrift-api-gateway — REST API and live feed over PostgreSQL and Redis,
 * fed live by persistence and state-loader.
 *
 * Start: config -> tokens -> admin server -> connection pool -> Redis
 * reader -> live feed -> response cache and its change listener -> alerts
 * and state SUBs -> HTTP server.  Stop (SIGTERM): the live feed drains (each
 * client gets what is queued, then a close), the HTTP server stops accepting
 * and finishes the requests in progress, then the SUBs, the listener and the
 * pool close. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "tfdrift/pgpool.h"
#include "api.h"
#include "auth.h"
#include "changes.h"
#include "feed.h"
#include "gapwatch.h"
#include "graph.h"
#include "live.h"
#include "server.h"
#include "static.h"
#include "stmt.h"
#include "tfdrift/config.h"
#include "tfdrift/lifecycle.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

/* An idle pool checks the database this often, so readiness follows it. */
#define DB_CHECK_INTERVAL_MS 2000
/* How long a request waits for a free connection before a 503. */
#define DB_WAIT_MS 5000
/* How often the newest committed alert id is compared with the newest the
 * live feed pushed (gapwatch.h): a missed alert reaches open UIs within
 * about two of these. */
#define GAP_CHECK_MS 2000
/* Live-feed keepalive. */
#define PING_MS 20000
/* A WebSocket's kernel send buffer: small, so a client that stops reading
 * is noticed by its queue, not hidden in megabytes of socket buffer. */
#define WS_SNDBUF 65536

static void
on_db_state(void *arg, bool up)
{
	td_gauge_set(arg, up ? 1.0 : 0.0);
}

static int
ready(void *arg, char *why, size_t whylen)
{
	td_pgpool *pool = arg;
	if (!td_pgpool_up(pool)) {
		td_pgpool_last_error(pool, why, whylen);
		return TD_EAGAIN;
	}
	return 0;
}

/* Who hears of commits and state changes. */
typedef struct listeners {
	gw_live *live;
	gw_cache *cache; /* NULL: no response cache */
} listeners;

static void
on_batch(void *arg, const Tfdrift__V1__AlertBatch *b)
{
	listeners *l = arg;
	if (l->cache != NULL) {
		gw_cache_invalidate(l->cache); /* before the feed: a client told of an
						* alert then finds it in /drifts */
	}
	gw_live_publish_batch(l->live, b);
}

/* A change to alerts committed by anyone (changes.h). */
static void
on_change(void *arg)
{
	gw_cache_invalidate(arg);
}

static void
on_state(void *arg, const Tfdrift__V1__StateNotice *n)
{
	listeners *l = arg;
	gw_live_publish_state(l->live, n);
}

/* The config's tokens.  *out (the array only) owned by caller. */
static int
load_auth(const td_config *cfg, gw_auth **out, td_error *err)
{
	size_t n = td_config_list_len(cfg, "api_gateway", "tokens");
	const char **v = calloc(n + 1, sizeof(*v));
	if (v == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = td_config_list_item(cfg, "api_gateway", "tokens", i);
	}
	int rv = gw_auth_new(out, td_config_bool(cfg, "api_gateway", "auth"), v, n,
	    td_config_str(cfg, "api_gateway", "tokens_file"), err);
	free(v);
	return rv;
}

/* Longer than the house's ~120 lines on purpose: main is the gateway's
 * wiring, read top to bottom as CONTRIBUTING asks of main.c — tokens, admin,
 * the PostgreSQL pool, the Redis reader, the live feed, the cache, the bus
 * subscription, the API, the web UI, the HTTP server, then the stop in
 * reverse.  Each step is one call and its error; split into helpers, the
 * start and stop order would no longer be visible in one place. */
int
main(int argc, char **argv)
{
	static const td_app_info info = {
		.name = "tfdrift-api-gateway",
		.section = "api_gateway",
		.summary = "REST API and live feed over the drift history and the resource graph.",
		.usage = NULL,
	};
	td_app *app = NULL;
	td_pgpool *pool = NULL;
	gw_feed *feed = NULL;
	gw_gapwatch *gapwatch = NULL;
	gw_api *api = NULL;
	gw_auth *auth = NULL;
	gw_graph *graph = NULL;
	gw_live *live = NULL;
	gw_cache *cache = NULL;
	gw_changes *changes = NULL;
	listeners lis = { 0 };
	gw_server *server = NULL;
	gw_static *web = NULL;
	const char **cors = NULL;
	td_error err = { 0 };
	int code = 0;

	if (td_app_init(&app, &info, argc, argv, &code) != 0) {
		return code;
	}
	const td_config *cfg = td_app_config(app);
	code = 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (load_auth(cfg, &auth, &err) != 0) {
		TD_ERROR("cannot load the API tokens", TD_KV_STR("error", err.msg));
		code = 2;
		goto out;
	}
	if (!gw_auth_enabled(auth)) {
		TD_WARN("api_gateway.auth is false: every caller has full access without a token");
	} else if (gw_auth_count(auth) == 0) {
		TD_WARN("no API tokens configured (api_gateway.tokens, api_gateway.tokens_file): "
			"every /api/v1 request will be refused");
	} else {
		TD_INFO("api tokens loaded", TD_KV_UINT("tokens", gw_auth_count(auth)));
	}
	if (td_app_start_admin(app, &err) != 0) {
		TD_ERROR("cannot start the admin server", TD_KV_STR("error", err.msg));
		goto out;
	}

	/* random_page_cost 1.1: the rows the API reads (recent pages) are in
	 * memory, and at the default 4 the planner walks the primary key over a
	 * whole table rather than a workspace's index (003_gateway_indexes). */
	char options[96];
	snprintf(options, sizeof(options), "-c statement_timeout=%lld -c random_page_cost=1.1",
	    (long long)td_config_int(cfg, "api_gateway", "statement_timeout"));
	gw_stmt_enable(td_config_bool(cfg, "api_gateway", "prepared_statements"));
	td_pgpool_opts po = {
		.name = "tfdrift-api-gateway",
		.dsn = td_config_str(cfg, "postgres", "dsn"),
		.connect_timeout_ms = td_config_int(cfg, "postgres", "connect_timeout"),
		.size = (int)td_config_int(cfg, "api_gateway", "db_connections"),
		.options = options,
		.check_interval_ms = DB_CHECK_INTERVAL_MS,
		.on_state = on_db_state,
		.state_arg = td_gauge_get("tfdrift_gateway_db_up",
		    "1 when PostgreSQL answered the last query or check, else 0.", NULL),
	};
	if (td_pgpool_open(&pool, &po, &err) != 0) {
		TD_ERROR("cannot create the connection pool", TD_KV_STR("error", err.msg));
		goto out;
	}
	td_admin_add_check(td_app_admin(app), "postgres", ready, pool);
	td_admin_checks_done(td_app_admin(app)); /* /readyz answers 503 until here */

	gw_graph_opts go = {
		.host = td_config_str(cfg, "redis", "host"),
		.port = (int)td_config_int(cfg, "redis", "port"),
		.password = td_config_str(cfg, "redis", "password"),
		.db = (int)td_config_int(cfg, "redis", "db"),
		.prefix = td_config_str(cfg, "redis", "key_prefix"),
		.timeout_ms = (int)td_config_int(cfg, "redis", "timeout"),
	};
	if (gw_graph_new(&graph, &go, &err) != 0) {
		TD_ERROR("cannot set up the Redis reader", TD_KV_STR("error", err.msg));
		goto out;
	}
	gw_live_opts lo = {
		.queue_max = (size_t)td_config_int(cfg, "api_gateway", "feed_queue"),
		.ping_ms = PING_MS,
		.sndbuf = WS_SNDBUF,
	};
	if (gw_live_new(&live, &lo, &err) != 0) {
		TD_ERROR("cannot start the live feed", TD_KV_STR("error", err.msg));
		goto out;
	}

	int64_t cache_ttl = td_config_int(cfg, "api_gateway", "cache_ttl");
	if (cache_ttl > 0) {
		if (gw_cache_new(&cache, cache_ttl,
			(size_t)td_config_int(cfg, "api_gateway", "cache_entries"), &err) != 0) {
			TD_ERROR("cannot create the response cache", TD_KV_STR("error", err.msg));
			goto out;
		}
		TD_INFO("response cache on", TD_KV_INT("ttl_ms", cache_ttl));
		/* Changes made through another gateway or persistence replica, or
		 * announced while this one was not subscribed, empty it too. */
		gw_changes_opts co = {
			.dsn = td_config_str(cfg, "postgres", "dsn"),
			.connect_timeout_ms = td_config_int(cfg, "postgres", "connect_timeout"),
			.on_change = on_change,
			.arg = cache,
		};
		if (gw_changes_start(&changes, &co, &err) != 0) {
			TD_ERROR("cannot listen for changes", TD_KV_STR("error", err.msg));
			goto out;
		}
	}
	lis.live = live;
	lis.cache = cache;
	gw_feed_opts fo = {
		.url = td_config_str(cfg, "api_gateway", "alerts_url"),
		.state_url = td_config_str(cfg, "api_gateway", "state_url"),
		.on_batch = on_batch,
		.on_state = on_state,
		.arg = &lis,
	};
	if (gw_feed_open(&feed, &fo, &err) != 0) {
		TD_ERROR("cannot open the alerts feed", TD_KV_STR("error", err.msg));
		goto out;
	}
	gw_gapwatch_opts wo = { .pool = pool,
		.feed = feed,
		.live = live,
		.cache = cache,
		.interval_ms = GAP_CHECK_MS };
	if (gw_gapwatch_start(&gapwatch, &wo, &err) != 0) {
		TD_ERROR("cannot start the gap watch", TD_KV_STR("error", err.msg));
		goto out;
	}
	gw_api_opts ao = {
		.pool = pool,
		.feed = feed,
		.auth = auth,
		.graph = graph,
		.db_wait_ms = DB_WAIT_MS,
		.ingest_metrics_url = td_config_str(cfg, "api_gateway", "ingest_metrics_url"),
		.cache = cache,
	};
	if (gw_api_new(&api, &ao) != 0) {
		TD_ERROR("out of memory");
		goto out;
	}
	const char *static_dir = td_config_str(cfg, "api_gateway", "static_dir");
	if (static_dir[0] != '\0' && gw_static_new(&web, static_dir, &err) != 0) {
		TD_ERROR("cannot serve the web UI", TD_KV_STR("error", err.msg));
		code = 2;
		goto out;
	}
	size_t ncors = td_config_list_len(cfg, "api_gateway", "cors_origins");
	if ((cors = calloc(ncors + 1, sizeof(*cors))) == NULL) {
		TD_ERROR("out of memory");
		goto out;
	}
	for (size_t i = 0; i < ncors; i++) {
		cors[i] = td_config_list_item(cfg, "api_gateway", "cors_origins", i);
	}
	gw_server_opts so = {
		.bind = td_config_str(cfg, "api_gateway", "bind"),
		.port = (int)td_config_int(cfg, "api_gateway", "port"),
		.threads = (int)td_config_int(cfg, "api_gateway", "threads"),
		.max_body = (size_t)td_config_int(cfg, "api_gateway", "max_body"),
		.timeout_s = (int)((td_config_int(cfg, "api_gateway", "request_timeout") + 999) /
		    1000),
		.max_connections = (int)td_config_int(cfg, "api_gateway", "max_connections"),
		.max_connections_per_ip = (int)td_config_int(cfg, "api_gateway",
		    "max_connections_per_ip"),
		.cors_origins = cors,
		.ncors = ncors,
		.api = api,
		.live = live,
		.web = web,
	};
	if (gw_server_start(&server, &so, &err) != 0) {
		TD_ERROR("cannot start the REST API", TD_KV_STR("error", err.msg));
		goto out;
	}
	TD_INFO("api listening", TD_KV_STR("bind", so.bind),
	    TD_KV_INT("port", gw_server_port(server)), TD_KV_STR("alerts_url", fo.url),
	    TD_KV_BOOL("auth", gw_auth_enabled(auth)), TD_KV_STR("static_dir", static_dir));

	td_app_wait(app, -1);
	TD_INFO("stopping");
	/* No more alerts come in; the live clients get what is queued. */
	gw_gapwatch_stop(gapwatch);
	gapwatch = NULL;
	gw_feed_close(feed);
	feed = NULL;
	gw_live_drain(live, td_config_int(cfg, "shared", "shutdown_timeout") / 2);
	/* Queries still running after the grace are cancelled (a 500 for them)
	 * so the HTTP threads return and the process exits in time. */
	td_pgpool_drain(pool, td_config_int(cfg, "shared", "shutdown_timeout") / 2);
	code = 0;

out:
	gw_gapwatch_stop(gapwatch); /* first: it reads the feed, live feed and pool */
	gw_server_stop(server);
	gw_static_free(web);
	gw_live_free(live);
	gw_api_free(api);
	gw_feed_close(feed);
	gw_changes_stop(changes);
	/* after the feed, the gap watch and the listener: their threads invalidate */
	gw_cache_free(cache);
	gw_graph_free(graph);
	td_pgpool_close(pool);
	gw_auth_free(auth);
	free(cors);
	curl_global_cleanup();
	td_app_free(app);
	return code;
}
