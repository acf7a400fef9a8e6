/* tfdrift-api-gateway — REST API over PostgreSQL, fed live by persistence.
 *
 * Start: config -> admin server -> connection pool -> alerts SUB -> HTTP
 * server.  Stop (SIGTERM): the HTTP server stops accepting and finishes the
 * requests in progress, then the SUB and the pool close. */
#include <stdbool.h>
#include <stdio.h>

#include "../persistence/pgpool.h"
#include "api.h"
#include "feed.h"
#include "server.h"
#include "tfdrift/config.h"
#include "tfdrift/lifecycle.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

/* An idle pool checks the database this often, so readiness follows it. */
#define DB_CHECK_INTERVAL_MS 2000
/* How long a request waits for a free connection before a 503. */
#define DB_WAIT_MS 5000

static void
on_db_state(void *arg, bool up)
{
	td_gauge_set(arg, up ? 1.0 : 0.0);
}

static int
ready(void *arg, char *why, size_t whylen)
{
	pgpool *pool = arg;
	if (!pgpool_up(pool)) {
		pgpool_last_error(pool, why, whylen);
		return TD_EAGAIN;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const td_app_info info = {
		.name = "tfdrift-api-gateway",
		.section = "api_gateway",
		.summary = "REST API over the drift history in PostgreSQL.",
		.usage = NULL,
	};
	td_app *app = NULL;
	pgpool *pool = NULL;
	gw_feed *feed = NULL;
	gw_api *api = NULL;
	gw_server *server = NULL;
	td_error err = { 0 };
	int code = 0;

	if (td_app_init(&app, &info, argc, argv, &code) != 0) {
		return code;
	}
	const td_config *cfg = td_app_config(app);
	code = 1;
	if (td_app_start_admin(app, &err) != 0) {
		TD_ERROR("cannot start the admin server", TD_KV_STR("error", err.msg));
		goto out;
	}

	char options[64];
	snprintf(options, sizeof(options), "-c statement_timeout=%lld",
	    (long long)td_config_int(cfg, "api_gateway", "statement_timeout"));
	pgpool_opts po = {
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
	if (pgpool_open(&pool, &po, &err) != 0) {
		TD_ERROR("cannot create the connection pool", TD_KV_STR("error", err.msg));
		goto out;
	}
	td_admin_add_check(td_app_admin(app), "postgres", ready, pool);

	gw_feed_opts fo = {
		.url = td_config_str(cfg, "api_gateway", "alerts_url"),
		.state_url = td_config_str(cfg, "api_gateway", "state_url"),
	};
	if (gw_feed_open(&feed, &fo, &err) != 0) {
		TD_ERROR("cannot open the alerts feed", TD_KV_STR("error", err.msg));
		goto out;
	}
	if (gw_api_new(&api, pool, feed, DB_WAIT_MS) != 0) {
		TD_ERROR("out of memory");
		goto out;
	}
	const char *bind = td_config_str(cfg, "api_gateway", "bind");
	if (gw_server_start(&server, bind, (int)td_config_int(cfg, "api_gateway", "port"),
		(int)td_config_int(cfg, "api_gateway", "threads"), api, &err) != 0) {
		TD_ERROR("cannot start the REST API", TD_KV_STR("error", err.msg));
		goto out;
	}
	TD_INFO("api listening", TD_KV_STR("bind", bind), TD_KV_INT("port", gw_server_port(server)),
	    TD_KV_STR("alerts_url", fo.url));

	td_app_wait(app, -1);
	TD_INFO("stopping");
	/* Queries still running after the grace are cancelled (a 500 for them)
	 * so the HTTP threads return and the process exits in time. */
	pgpool_drain(pool, td_config_int(cfg, "shared", "shutdown_timeout"));
	code = 0;

out:
	gw_server_stop(server);
	gw_api_free(api);
	gw_feed_close(feed);
	pgpool_close(pool);
	td_app_free(app);
	return code;
}
