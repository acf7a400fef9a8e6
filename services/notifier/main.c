/* tfdrift-notifier — committed alerts to Slack, webhooks, PagerDuty, e-mail
 * and Teams: routed, grouped, silenced, delivered at least once and
 * recognisably the same when repeated.
 *
 *   tfdrift-notifier [-c FILE]              run
 *   tfdrift-notifier [-c FILE] test NAME    send a sample drift to receiver
 *                                           NAME, print the answer, exit
 *
 * PostgreSQL holds everything: the planner (planner.h) turns committed
 * alerts and status changes into notifications rows, the delivery engine
 * (delivery.h) claims and sends them on worker threads.  The bus subscriber
 * only wakes the planner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "delivery.h"
#include "http.h"
#include "planner.h"
#include "recv.h"
#include "routing.h"
#include "tfdrift/bus.h"
#include "tfdrift/lifecycle.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

#define PLAN_BATCH 1000
#define DB_CHECK_INTERVAL_MS 2000

static const td_app_info app_info = {
	.name = "tfdrift-notifier",
	.section = "notifier",
	.summary = "Committed drift alerts to Slack, webhooks, PagerDuty, e-mail and Teams",
	.usage =
	    "Subcommands:\n"
	    "  test RECEIVER   send a sample drift to RECEIVER (notifier.routing_file), print\n"
	    "                  the answer and exit 0 when it was accepted\n",
};

typedef struct state {
	td_bus_sub *sub;
	planner *pl;
	delivery *dl;
	td_pgpool *pool;
	td_counter *wakeups;
} state;

static int
load_routing(const td_config *cfg, rt_config **rt, td_error *err)
{
	const char *path = td_config_str(cfg, "notifier", "routing_file");

	if (path != NULL && *path != '\0') {
		return rt_load_file(rt, path, err);
	}
	int rv = rt_default(rt, rt_rank(td_config_str(cfg, "notifier", "min_severity")));
	return rv != 0 ? td_error_set(err, rv, "cannot build the default routing") : 0;
}

static int
publisher_ready(void *arg, char *why, size_t len)
{
	if (td_bus_sub_peers(arg) > 0) {
		return 0;
	}
	snprintf(why, len, "not connected to the committed-alerts publisher");
	return TD_EAGAIN;
}

static int
db_ready(void *arg, char *why, size_t len)
{
	if (td_pgpool_up(arg)) {
		return 0;
	}
	td_pgpool_last_error(arg, why, len);
	return TD_EAGAIN;
}

static int
receivers_ready(void *arg, char *why, size_t len)
{
	char names[400];

	if (delivery_failing(arg, names, sizeof(names)) == 0) {
		return 0;
	}
	snprintf(why, len, "failing: %s", names);
	return TD_EAGAIN;
}

static int
caught_up_ready(void *arg, char *why, size_t len)
{
	if (planner_caught_up(arg)) {
		return 0;
	}
	snprintf(why, len, "still reading the alerts committed while it was away");
	return TD_EAGAIN;
}

/* Any committed-alerts message (or anything else) means: look now. */
static void
on_envelope(void *arg, const td_envelope *env)
{
	state *s = arg;

	(void)env;
	td_counter_inc(s->wakeups);
	planner_wake(s->pl);
}

static void
on_planned(void *arg)
{
	state *s = arg;

	if (s->dl != NULL) {
		delivery_wake(s->dl);
	}
}

static int
test_receiver(const td_config *cfg, const char *name)
{
	rt_config *rt = NULL;
	nt_http *h = NULL;
	nt_alert a;
	nt_result res = { 0 };
	char idem[48], dkey[64], red[200];
	td_error err;
	int status = 1;
	long ri;

	td_error_clear(&err);
	if (load_routing(cfg, &rt, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	if ((ri = rt_receiver_find(rt, name)) < 0) {
		fprintf(stderr, "no receiver named '%s' in %s\n", name,
		    td_config_str(cfg, "notifier", "routing_file"));
		status = 2;
		goto out;
	}
	const rt_receiver *r = rt_receiver_at(rt, (size_t)ri);
	if (http_new(&h, td_config_int(cfg, "notifier", "http_timeout"), NULL) != 0) {
		goto out;
	}
	msg_sample_alert(&a);
	snprintf(idem, sizeof(idem), "test-%lld-%d", (long long)time(NULL), (int)getpid());
	snprintf(dkey, sizeof(dkey), "tfdrift/test/%s", idem);
	nt_msg m = { .rcv = r,
		.alerts = &a,
		.n = 1,
		.idem = idem,
		.ui_url = td_config_str(cfg, "notifier", "ui_url"),
		.dedup_key = dkey };
	recv_for(r->type)->send(&m, h, &res);
	http_redact(r->url, red, sizeof(red));
	static const char *const outcomes[] = { "sent", "retry", "permanent", "skipped" };
	printf("receiver: %s (%s, %s)\noutcome: %s\nstatus: %d\n", r->name, recv_for(r->type)->name,
	    r->url != NULL ? red : "-", outcomes[res.outcome], res.http_status);
	if (res.message_id[0] != '\0') {
		printf("message_id: %s\n", res.message_id);
	}
	if (res.error[0] != '\0') {
		printf("error: %s\n", res.error);
	}
	printf("answer: %s\n", res.answer);
	status = res.outcome == NT_SENT ? 0 : 1;
out:
	http_free(h);
	rt_free(rt);
	return status;
}

static int
run(td_app *app)
{
	const td_config *cfg = td_app_config(app);
	const char *url = td_config_str(cfg, "notifier", "alerts_url");
	state s = { 0 };
	rt_config *rt = NULL;
	td_error err;
	char instance[128];
	int status = 1;
	int workers = (int)td_config_int(cfg, "notifier", "workers");

	td_error_clear(&err);
	if (load_routing(cfg, &rt, &err) != 0) {
		/* the message names file:line: key; exit 2 like any config error */
		TD_ERROR("routing file rejected", TD_KV_STR("error", err.msg));
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	snprintf(instance, sizeof(instance), "%s", td_config_str(cfg, "notifier", "instance"));
	if (instance[0] == '\0') {
		char host[64] = "";
		gethostname(host, sizeof(host) - 1);
		snprintf(instance, sizeof(instance), "%s:%d", host, (int)getpid());
	}
	s.wakeups = td_counter_get("tfdrift_notifier_wakeups_total",
	    "Committed-alerts messages that woke the planner.", NULL);
	if (td_app_start_admin(app, &err) != 0) {
		goto fail;
	}
	td_pgpool_opts po = {
		.name = "tfdrift-notifier",
		.dsn = td_config_str(cfg, "postgres", "dsn"),
		.connect_timeout_ms = td_config_int(cfg, "postgres", "connect_timeout"),
		.size = (int)td_config_int(cfg, "notifier", "db_connections"),
		.options = "-c statement_timeout=30000",
		.check_interval_ms = DB_CHECK_INTERVAL_MS,
	};
	if (td_pgpool_open(&s.pool, &po, &err) != 0) {
		goto fail;
	}
	delivery_opts dopts = {
		.pool = s.pool,
		.rt = rt,
		.workers = workers,
		.poll_ms = td_config_int(cfg, "notifier", "poll_interval"),
		.lease_ms = td_config_int(cfg, "notifier", "lease"),
		.http_timeout_ms = td_config_int(cfg, "notifier", "http_timeout"),
		.retry_initial_ms = td_config_int(cfg, "notifier", "retry_initial"),
		.retry_max_ms = td_config_int(cfg, "notifier", "retry_max"),
		.max_attempts = (int)td_config_int(cfg, "notifier", "max_attempts"),
		.failing_after = (int)td_config_int(cfg, "notifier", "failing_after"),
		.ui_url = td_config_str(cfg, "notifier", "ui_url"),
		.instance = instance,
	};
	if (delivery_start(&s.dl, &dopts, &err) != 0) {
		goto fail;
	}
	planner_opts popts = {
		.pool = s.pool,
		.rt = rt,
		.poll_ms = dopts.poll_ms,
		.batch = PLAN_BATCH,
		.planned = on_planned,
		.arg = &s,
	};
	if (planner_start(&s.pl, &popts, &err) != 0) {
		goto fail;
	}
	if (td_bus_sub_open(&s.sub, "notifier.alerts", url, on_envelope, &s, &err) != 0) {
		goto fail;
	}
	td_admin_add_check(td_app_admin(app), "postgres", db_ready, s.pool);
	td_admin_add_check(td_app_admin(app), "alerts_publisher", publisher_ready, s.sub);
	td_admin_add_check(td_app_admin(app), "caught_up", caught_up_ready, s.pl);
	td_admin_add_check(td_app_admin(app), "receivers", receivers_ready, s.dl);
	td_admin_checks_done(td_app_admin(app)); /* /readyz answers 503 until here */
	TD_INFO("notifier running", TD_KV_STR("alerts_url", url),
	    TD_KV_UINT("receivers", rt_receiver_count(rt)), TD_KV_INT("workers", workers),
	    TD_KV_STR("instance", instance));
	td_app_wait(app, -1);
	TD_INFO("stopping");
	status = 0;
	goto out;
fail:
	TD_ERROR("cannot start", TD_KV_STR("error", err.msg));
out:
	/* the subscriber first: no wake-up arrives once it is closed */
	td_bus_sub_close(s.sub);
	planner_stop(s.pl);
	/* database commands still running after the whole timeout are cancelled */
	if (s.pool != NULL) {
		td_pgpool_drain(s.pool, td_config_int(cfg, "shared", "shutdown_timeout"));
	}
	delivery_stop(s.dl, td_config_int(cfg, "shared", "shutdown_timeout") / 2);
	td_pgpool_close(s.pool);
	rt_free(rt);
	return status;
}

int
main(int argc, char **argv)
{
	td_app *app = NULL;
	int status;

	if (td_app_init(&app, &app_info, argc, argv, &status) != 0) {
		return status;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (td_app_argc(app) == 0) {
		status = run(app);
	} else if (td_app_argc(app) == 2 && strcmp(td_app_argv(app)[0], "test") == 0) {
		status = test_receiver(td_app_config(app), td_app_argv(app)[1]);
	} else {
		fprintf(stderr, "tfdrift-notifier: unknown arguments (try: test RECEIVER)\n");
		status = 2;
	}
	curl_global_cleanup();
	td_app_free(app);
	return status;
}
