/* tfdrift-ingest — takes CloudTrail events in and hands them to the correlators.
 *
 *   tfdrift-ingest [OPTIONS]                          the daemon
 *   tfdrift-ingest [OPTIONS] replay [--print] PATH... CloudTrail files into the daemon */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "falco_grpc.h"
#include "falco_http.h"
#include "forwarder.h"
#include "handoff.h"
#include "journal.h"
#include "replay.h"
#include "submit.h"
#include "watch.h"
#include "tfdrift/admin.h"
#include "tfdrift/config.h"
#include "tfdrift/lifecycle.h"
#include "tfdrift/log.h"

static const td_app_info app_info = {
	.name = "tfdrift-ingest",
	.section = "ingest",
	.summary = "CloudTrail events (Falco, log files) in, handed to the correlators",
	.usage = replay_usage,
};

/* Ready means "can take events": the journal is writable.  No correlator is
 * not unreadiness (correlators reach ingest through a Service, which routes
 * only to ready pods): it is a note here, the metric
 * tfdrift_bus_peers{socket="ingest.work"} and the log line of a forward that
 * waits. */
static int
journal_ready(void *arg, char *why, size_t len)
{
	return jrn_check(arg, why, len);
}

/* Whether the last probe saw a correlator: a change is logged once. */
static atomic_int had_correlators = -1;

static int
correlators_note(void *arg, char *why, size_t len)
{
	int n = fwd_correlators(arg);
	int was = atomic_exchange(&had_correlators, n > 0);

	if (was != (n > 0) && n == 0)
		TD_WARN("no correlator connected; events wait in the journal (ingest stays ready)");
	else if (was == 0 && n > 0)
		TD_INFO("a correlator is connected again", TD_KV_INT("correlators", n));
	if (n > 0)
		return 0;
	snprintf(why, len, "no correlator connected; events wait in the journal");
	return TD_READY_NOTE;
}

static void
on_stop(void *arg)
{
	hand_request_stop(arg);
}

/* The journal lives in shared.data_dir/ingest/journal. */
static int
open_journal(const td_config *cfg, jrn **out, td_error *err)
{
	char dir[4200], sub[4096];
	jrn_opts o = {
		.max_bytes = (uint64_t)td_config_int(cfg, "ingest", "journal_max_bytes"),
		.segment_bytes = (uint64_t)td_config_int(cfg, "ingest", "journal_segment_bytes"),
		.fsync_interval_ms = (int)td_config_int(cfg, "ingest", "journal_fsync_interval"),
	};

	if (jrn_fsync_parse(td_config_str(cfg, "ingest", "journal_fsync"), &o.fsync) != 0)
		return td_error_set(err, TD_EINVAL, "ingest.journal_fsync: unknown policy");
	/* data_dir itself too: a fresh machine may not have it yet */
	if (mkdir(td_config_str(cfg, "shared", "data_dir"), 0700) != 0 && errno != EEXIST)
		return td_error_set(err, TD_EIO, "shared.data_dir %s: %s",
		    td_config_str(cfg, "shared", "data_dir"), strerror(errno));
	snprintf(sub, sizeof(sub), "%s/ingest", td_config_str(cfg, "shared", "data_dir"));
	if (mkdir(sub, 0700) != 0 && errno != EEXIST)
		return td_error_set(err, TD_EIO, "%s: %s", sub, strerror(errno));
	snprintf(dir, sizeof(dir), "%s/journal", sub);
	o.dir = dir;
	return jrn_open(out, &o, err);
}

static int
run_daemon(td_app *app)
{
	const td_config *cfg = td_app_config(app);
	fwd *f = NULL;
	jrn *j = NULL;
	hand *h = NULL;
	submit_server *submit = NULL;
	falco_http *http = NULL;
	falco_grpc *grpc = NULL;
	watch *wd = NULL;
	fwd_opts fo = {
		.work_url = td_config_str(cfg, "ingest", "work_listen"),
		.resend_ms = (int)td_config_int(cfg, "bus", "resend_interval"),
		.timeout_ms = (int)td_config_int(cfg, "bus", "request_timeout"),
	};
	td_error err;
	int status = 1;

	td_error_clear(&err);
	if (td_app_start_admin(app, &err) != 0)
		goto fail;
	if (open_journal(cfg, &j, &err) != 0)
		goto fail;
	if (fwd_open(&f, &fo, &err) != 0)
		goto fail;
	if (hand_open(&h, j, f, (int)td_config_int(cfg, "ingest", "in_flight"),
		(int)td_config_int(cfg, "ingest", "batch_max"), &err) != 0)
		goto fail;
	td_app_on_stop(app, on_stop, h);
	if (submit_start(&submit, td_config_str(cfg, "ingest", "submit_listen"),
		(int)td_config_int(cfg, "ingest", "in_flight"), h, &err) != 0)
		goto fail;
	if (td_config_int(cfg, "ingest", "http_port") > 0) {
		falco_http_opts ho = {
			.bind = td_config_str(cfg, "ingest", "http_bind"),
			.port = (int)td_config_int(cfg, "ingest", "http_port"),
			.token = td_config_str(cfg, "ingest", "http_token"),
			.tls_cert = td_config_str(cfg, "ingest", "http_tls_cert"),
			.tls_key = td_config_str(cfg, "ingest", "http_tls_key"),
			.tls_ca = td_config_str(cfg, "ingest", "http_tls_ca"),
			.max_body = (size_t)td_config_int(cfg, "ingest", "http_max_body"),
			.threads = 2,
			.max_connections = (int)td_config_int(cfg, "ingest",
			    "http_max_connections"),
			.max_connections_per_ip = (int)td_config_int(cfg, "ingest",
			    "http_max_connections_per_ip"),
			.timeout_s = (int)((td_config_int(cfg, "ingest", "http_timeout") + 999) /
			    1000),
		};
		if (falco_http_start(&http, &ho, h, &err) != 0)
			goto fail;
		TD_INFO("falco http receiver listening", TD_KV_STR("bind", ho.bind),
		    TD_KV_INT("port", falco_http_port(http)),
		    TD_KV_BOOL("tls", ho.tls_cert != NULL && ho.tls_cert[0] != '\0'));
	}
	if (td_config_str(cfg, "ingest", "grpc_target")[0] != '\0') {
		falco_grpc_opts go = {
			.target = td_config_str(cfg, "ingest", "grpc_target"),
			.tls_ca = td_config_str(cfg, "ingest", "grpc_tls_ca"),
			.tls_cert = td_config_str(cfg, "ingest", "grpc_tls_cert"),
			.tls_key = td_config_str(cfg, "ingest", "grpc_tls_key"),
			.poll_interval_ms = (int)td_config_int(cfg, "ingest", "grpc_poll_interval"),
			.backoff_initial_ms = (int)td_config_int(cfg, "ingest",
			    "grpc_backoff_initial"),
			.backoff_max_ms = (int)td_config_int(cfg, "ingest", "grpc_backoff_max"),
			.keepalive_ms = (int)td_config_int(cfg, "ingest", "grpc_keepalive"),
			.insecure = td_config_bool(cfg, "ingest", "grpc_insecure"),
			.max_message = (int)td_config_int(cfg, "ingest", "grpc_max_message"),
		};
		if (falco_grpc_start(&grpc, &go, h, &err) != 0)
			goto fail;
		TD_INFO("falco grpc client started", TD_KV_STR("target", go.target));
	}
	if (td_config_str(cfg, "ingest", "watch_dir")[0] != '\0') {
		char state[4200];
		watch_opts wo = {
			.dir = td_config_str(cfg, "ingest", "watch_dir"),
			.state_file = state,
			.interval_ms = (int)td_config_int(cfg, "ingest", "watch_interval"),
			.batch_max = (size_t)td_config_int(cfg, "ingest", "batch_max"),
		};
		snprintf(state, sizeof(state), "%s/ingest/watch.done",
		    td_config_str(cfg, "shared", "data_dir"));
		if (watch_start(&wd, &wo, h, &err) != 0)
			goto fail;
		TD_INFO("watching a directory for CloudTrail files", TD_KV_STR("dir", wo.dir));
	}
	td_admin_add_check(td_app_admin(app), "journal", journal_ready, j);
	td_admin_add_check(td_app_admin(app), "correlators", correlators_note, f);
	td_admin_checks_done(td_app_admin(app)); /* /readyz answers 503 until here */
	TD_INFO("ingest running", TD_KV_STR("work_listen", fo.work_url),
	    TD_KV_STR("submit_listen", td_config_str(cfg, "ingest", "submit_listen")));

	td_app_wait(app, -1);
	TD_INFO("stopping");
	status = 0;
	goto out;
fail:
	TD_ERROR("cannot start", TD_KV_STR("error", err.msg));
out:
	/* inputs first, so every batch in flight is answered or handed back;
	 * whatever is not acknowledged stays in the journal for the next run */
	if (h != NULL)
		hand_request_stop(h);
	else if (f != NULL)
		fwd_request_stop(f);
	watch_stop(wd);
	falco_grpc_stop(grpc);
	falco_http_stop(http);
	submit_stop(submit);
	hand_close(h);
	fwd_close(f);
	jrn_close(j);
	return status;
}

int
main(int argc, char **argv)
{
	td_app *app = NULL;
	int status;

	if (td_app_init(&app, &app_info, argc, argv, &status) != 0)
		return status;
	if (td_app_argc(app) == 0) {
		status = run_daemon(app);
	} else if (strcmp(td_app_argv(app)[0], "replay") == 0) {
		status = replay_run(app, td_app_argc(app), td_app_argv(app));
	} else {
		fprintf(stderr, "tfdrift-ingest: unknown command '%s' (see --help)\n",
		    td_app_argv(app)[0]);
		status = 2;
	}
	td_app_free(app);
	return status;
}
