/* tfdrift-notifier — committed alerts to people.
 *
 * Subscribes to persistence's committed alerts and hands every alert at or
 * above notifier.min_severity to the sinks (dispatch.h, sink.h). */
#include <stdio.h>

#include "dispatch.h"
#include "severity.h"
#include "sink.h"
#include "tfdrift/bus.h"
#include "tfdrift/lifecycle.h"
#include "tfdrift/log.h"

static const td_app_info app_info = {
	.name = "tfdrift-notifier",
	.section = "notifier",
	.summary = "Committed drift alerts to Slack, webhooks and the log",
	.usage = NULL,
};

/* The sinks this build sends to, in order. */
static const sink_ops *const sink_table[] = {
	&sink_log_ops,
};
#define NSINKS (sizeof(sink_table) / sizeof(sink_table[0]))

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
run(td_app *app)
{
	const td_config *cfg = td_app_config(app);
	const char *url = td_config_str(cfg, "notifier", "alerts_url");
	sink sinks[NSINKS] = { { 0 } };
	size_t nopen = 0, i;
	td_bus_sub *sub = NULL;
	dsp *d = NULL;
	td_error err;
	int status = 1, min = 0, rv;

	td_error_clear(&err);
	/* the table's enum check makes this succeed */
	sev_parse(td_config_str(cfg, "notifier", "min_severity"), &min);
	if (td_app_start_admin(app, &err) != 0) {
		goto fail;
	}
	for (i = 0; i < NSINKS; i++) {
		if (sink_table[i]->open(&sinks[i].self, cfg, &err) != 0) {
			goto fail;
		}
		sinks[i].ops = sink_table[i];
		nopen++;
	}
	if ((rv = dsp_new(&d, min, sinks, nopen)) != 0) {
		td_error_set(&err, rv, "out of memory");
		goto fail;
	}
	if (td_bus_sub_open(&sub, "notifier.alerts", url, dsp_on_envelope, d, &err) != 0) {
		goto fail;
	}
	td_admin_add_check(td_app_admin(app), "alerts_publisher", publisher_ready, sub);
	TD_INFO("notifier running", TD_KV_STR("alerts_url", url),
	    TD_KV_STR("min_severity", sev_name(min)));
	td_app_wait(app, -1);
	TD_INFO("stopping");
	status = 0;
	goto out;
fail:
	TD_ERROR("cannot start", TD_KV_STR("error", err.msg));
out:
	/* the subscriber first: no callback runs once it is closed */
	td_bus_sub_close(sub);
	dsp_free(d);
	for (i = nopen; i-- > 0;) {
		sinks[i].ops->close(sinks[i].self);
	}
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
	status = run(app);
	td_app_free(app);
	return status;
}
