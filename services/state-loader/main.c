/* tfdrift-state-loader — Terraform states in, resource index in Redis out.
 *
 * Loads every configured state, writes the index as a new Redis generation,
 * switches to it, and publishes a StateNotice; then watches the sources and
 * repeats on every change (loader.h). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fetch.h"
#include "loader.h"
#include "tfdrift/bus.h"
#include "tfdrift/config.h"
#include "tfdrift/lifecycle.h"
#include "tfdrift/log.h"

static const td_app_info app_info = {
	.name = "tfdrift-state-loader",
	.section = "state_loader",
	.summary = "Terraform state files in, the resource index in Redis out",
	.usage =
	    "  tfdrift-state-loader [OPTIONS] check PATH [--json] [--account ID] [--region R]\n"
	    "      parse one state file and print what the index would hold (instances,\n"
	    "      resources by type, identifiers, redactions, edges); no Redis.\n"
	    "      Exit status 0 loaded, 1 the file is bad, 2 usage.\n",
};

static bool
stopping(void *arg)
{
	return td_app_stopping(arg);
}

static int
run(td_app *app)
{
	const td_config *cfg = td_app_config(app);
	const char *pub_url = td_config_str(cfg, "state_loader", "state_pub_listen");
	td_bus_pub *pub = NULL;
	ldr *loader = NULL;
	td_error err;
	int status = 1, wait_ms;

	td_error_clear(&err);
	if (ldr_new(&loader, cfg, &err) != 0) {
		/* a bad source list is a configuration error */
		fprintf(stderr, "tfdrift-state-loader: %s\n", err.msg);
		return 2;
	}
	if (td_app_start_admin(app, &err) != 0 ||
	    td_bus_pub_open(&pub, "state_loader.state", pub_url, &err) != 0) {
		goto fail;
	}
	ldr_set_publisher(loader, pub);
	td_admin_add_check(td_app_admin(app), "redis", ldr_ready_redis, loader);
	td_admin_add_check(td_app_admin(app), "index", ldr_ready_index, loader);
	td_admin_add_check(td_app_admin(app), "sources", ldr_ready_sources, loader);
	td_admin_checks_done(td_app_admin(app)); /* /readyz answers 503 until here */
	TD_INFO("state-loader running", TD_KV_STR("state_pub_listen", pub_url),
	    TD_KV_INT("sources",
		(long long)(td_config_list_len(cfg, "state_loader", "local_files") +
		    td_config_list_len(cfg, "state_loader", "sources"))));

	while (!td_app_stopping(app)) {
		wait_ms = ldr_tick(loader, stopping, app);
		if (!ldr_wait(loader, wait_ms, stopping, app)) {
			td_app_wait(app, wait_ms);
		}
	}
	TD_INFO("stopping");
	status = 0;
	goto out;
fail:
	TD_ERROR("cannot start", TD_KV_STR("error", err.msg));
out:
	ldr_free(loader);
	td_bus_pub_close(pub);
	return status;
}

int
main(int argc, char **argv)
{
	td_app *app = NULL;
	int status;

	/* libcurl's global state, before any thread starts */
	fetch_global_init();
	if (td_app_init(&app, &app_info, argc, argv, &status) != 0) {
		return status;
	}
	if (td_app_argc(app) > 0 && strcmp(td_app_argv(app)[0], "check") == 0) {
		status = chk_main(td_app_argc(app) - 1, td_app_argv(app) + 1,
		    (size_t)td_config_int(td_app_config(app), "state_loader", "max_state_size"),
		    stdout, stderr);
	} else if (td_app_argc(app) > 0) {
		fprintf(stderr, "tfdrift-state-loader: unknown command \"%s\" (see --help)\n",
		    td_app_argv(app)[0]);
		status = 2;
	} else {
		status = run(app);
	}
	td_app_free(app);
	return status;
}
