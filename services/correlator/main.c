/* tfdrift-correlator — CloudEventBatch from ingest -> DriftAlerts -> persistence.
 *
 * Dials ingest (REP, correlator.workers at once), persistence (REQ) and
 * state-loader (SUB); reads the resource index from Redis. */
#include <stdio.h>
#include <string.h>

#include "tfdrift/catalog.h"
#include "correlate.h"
#include "explain.h"
#include "rcfg.h"
#include "redis_index.h"
#include "tfdrift/bus.h"
#include "tfdrift/config.h"
#include "tfdrift/lifecycle.h"
#include "tfdrift/log.h"
#include "tfdrift/v1/state.pb-c.h"

static const td_app_info app_info = {
	.name = "tfdrift-correlator",
	.section = "correlator",
	.summary = "turns CloudTrail events into drift alerts and hands them to persistence",
	.usage = explain_usage,
};

typedef struct correlator {
	ridx *index;
	td_bus_req *persist;
	td_bus_rep *work;
	td_bus_sub *state;
	corr *corr;
	cat_catalog *catalog;
	rcfg *rules;
	rule_env env;
} correlator;

static int
ingest_ready(void *arg, char *why, size_t len)
{
	const correlator *c = arg;

	if (c->work != NULL && td_bus_rep_peers(c->work) > 0)
		return 0;
	snprintf(why, len, "not connected to ingest");
	return -1;
}

static int
persistence_ready(void *arg, char *why, size_t len)
{
	const correlator *c = arg;

	if (td_bus_req_peers(c->persist) > 0)
		return 0;
	snprintf(why, len, "not connected to persistence");
	return -1;
}

static int
redis_ready(void *arg, char *why, size_t len)
{
	const correlator *c = arg;

	if (ridx_healthy(c->index))
		return 0;
	snprintf(why, len, "redis unreachable");
	return -1;
}

static void
on_state_notice(void *arg, const td_envelope *env)
{
	correlator *c = arg;
	Tfdrift__V1__StateNotice *n;

	if (env->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_STATE_NOTICE)
		return;
	n = tfdrift__v1__state_notice__unpack(NULL, env->payload.len, env->payload.data);
	if (n == NULL) {
		TD_WARN("state notice does not decode; dropping the whole local cache",
		    TD_KV_STR("trace_id", env->trace_id));
		ridx_invalidate(c->index, 0, NULL, 0, true);
		return;
	}
	TD_INFO("state changed", TD_KV_UINT("generation", n->generation),
	    TD_KV_UINT("resources", n->resource_count), TD_KV_UINT("workspaces", n->n_workspaces),
	    TD_KV_UINT("changed", n->n_changed), TD_KV_BOOL("full", n->full),
	    TD_KV_STR("reason", n->reason));
	ridx_invalidate(c->index, n->generation, (const char *const *)n->changed, n->n_changed,
	    n->full);
	tfdrift__v1__state_notice__free_unpacked(n, NULL);
}

static void
on_stop(void *arg)
{
	corr_request_stop(arg);
}

static int
start(td_app *app, correlator *c, td_error *err)
{
	const td_config *cfg = td_app_config(app);
	ridx_opts ro = {
		.host = td_config_str(cfg, "redis", "host"),
		.port = (int)td_config_int(cfg, "redis", "port"),
		.password = td_config_str(cfg, "redis", "password"),
		.db = (int)td_config_int(cfg, "redis", "db"),
		.timeout_ms = (int)td_config_int(cfg, "redis", "timeout"),
		.prefix = td_config_str(cfg, "redis", "key_prefix"),
		.conns = (int)td_config_int(cfg, "correlator", "workers"),
	};
	td_bus_rep_opts wo = {
		.name = "correlator.work",
		.url = td_config_str(cfg, "correlator", "ingest_url"),
		.listen = false,
		.workers = (int)td_config_int(cfg, "correlator", "workers"),
		.handler = corr_handle,
	};
	td_admin *admin;
	int rv;

	if ((rv = td_app_start_admin(app, err)) != 0 || (rv = ridx_open(&c->index, &ro, err)) != 0)
		return rv;
	TD_INFO("catalog loaded", TD_KV_UINT("entries", cat_count(c->catalog)),
	    TD_KV_UINT("rules", rcfg_rule_count(c->rules)));
	rv = td_bus_req_open(&c->persist, "correlator.persistence",
	    td_config_str(cfg, "correlator", "persistence_url"), false,
	    (int)td_config_int(cfg, "bus", "resend_interval"), err);
	if (rv != 0)
		return rv;
	rv = corr_new(&c->corr, c->index, c->persist, &c->env,
	    (int)td_config_int(cfg, "bus", "request_timeout"), err);
	if (rv != 0)
		return rv;
	corr_set_dedupe_window(c->corr,
	    (int)(td_config_int(cfg, "correlator", "dedupe_window") / 1000));
	td_app_on_stop(app, on_stop, c->corr);
	rv = td_bus_sub_open(&c->state, "correlator.state",
	    td_config_str(cfg, "correlator", "state_url"), on_state_notice, c, err);
	if (rv != 0)
		return rv;
	wo.arg = c->corr;
	if ((rv = td_bus_rep_start(&c->work, &wo, err)) != 0)
		return rv;
	admin = td_app_admin(app);
	td_admin_add_check(admin, "ingest", ingest_ready, c);
	td_admin_add_check(admin, "persistence", persistence_ready, c);
	td_admin_add_check(admin, "redis", redis_ready, c);
	td_admin_checks_done(admin); /* /readyz answers 503 until here */
	TD_INFO("correlator running", TD_KV_STR("ingest_url", wo.url),
	    TD_KV_STR("persistence_url", td_config_str(cfg, "correlator", "persistence_url")),
	    TD_KV_STR("state_url", td_config_str(cfg, "correlator", "state_url")),
	    TD_KV_INT("workers", wo.workers));
	return 0;
}

int
main(int argc, char **argv)
{
	correlator c = { 0 };
	td_app *app = NULL;
	td_error err;
	int status;

	if (td_app_init(&app, &app_info, argc, argv, &status) != 0)
		return status;
	td_error_clear(&err);
	if (cat_load_embedded(&c.catalog, &err) != 0 ||
	    (td_config_str(td_app_config(app), "correlator", "rules_file")[0] != '\0' &&
		rcfg_load_file(&c.rules,
		    td_config_str(td_app_config(app), "correlator", "rules_file"), &err) != 0)) {
		fprintf(stderr, "tfdrift-correlator: %s\n", err.msg);
		cat_free(c.catalog);
		td_app_free(app);
		return 2;
	}
	c.env.catalog = c.catalog;
	c.env.cfg = c.rules;
	if (td_app_argc(app) > 0 && strcmp(td_app_argv(app)[0], "explain") == 0) {
		status = explain_run(&c.env, td_app_argc(app), td_app_argv(app));
		rcfg_free(c.rules);
		cat_free(c.catalog);
		td_app_free(app);
		return status;
	}
	if (td_app_argc(app) > 0) {
		fprintf(stderr, "tfdrift-correlator: unexpected argument '%s' (see --help)\n",
		    td_app_argv(app)[0]);
		td_app_free(app);
		return 2;
	}
	td_error_clear(&err);
	if (start(app, &c, &err) != 0) {
		TD_ERROR("cannot start", TD_KV_STR("error", err.msg));
		status = 1;
	} else {
		td_app_wait(app, -1);
		TD_INFO("stopping");
		status = 0;
	}
	/* reverse order; the work server first so requests in progress finish */
	if (c.corr != NULL)
		corr_request_stop(c.corr);
	td_bus_rep_stop(c.work);
	td_bus_sub_close(c.state);
	td_bus_req_close(c.persist);
	corr_free(c.corr);
	ridx_close(c.index);
	rcfg_free(c.rules);
	cat_free(c.catalog);
	td_app_free(app);
	return status;
}
