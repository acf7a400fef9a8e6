/* lifecycle.h — what every tfdrift process does at start and stop.
 *
 * td_app_init parses the common options
 *     -c, --config FILE   (default: $TFDRIFT_CONFIG, else none: defaults + env)
 *     -d, --debug         log level debug, whatever the config says
 *     -h, --help          usage and exit 0
 *     -V, --version       version and exit 0
 * loads the configuration (a config error prints "FILE:LINE: section.key: ..."
 * to stderr and makes the process exit with status 2), sets up logging, blocks
 * SIGTERM/SIGINT/SIGPIPE in every thread and starts a signal thread.  The first
 * SIGTERM or SIGINT requests a graceful stop: td_app_stopping() turns true, the
 * registered stop hooks run (on the signal thread; they must only wake things
 * up) and td_app_wait() returns.  A second signal exits at once with status 1.
 *
 * Arguments after the options (subcommands such as `replay FILE`) are left in
 * td_app_argc()/td_app_argv(). */
#ifndef TFDRIFT_LIFECYCLE_H
#define TFDRIFT_LIFECYCLE_H

#include <stdbool.h>

#include "tfdrift/admin.h"
#include "tfdrift/config.h"

typedef struct td_app_info {
	const char *name;    /* "tfdrift-ingest" */
	const char *section; /* the config section this process reads: "ingest" */
	const char *summary; /* one line for --help */
	const char *usage;   /* extra usage text for subcommands; may be NULL */
} td_app_info;

typedef struct td_app td_app;

/* Returns 0 to go on.  Otherwise the process should exit with *exit_code
 * (0 after --help/--version, 2 for a usage or config error) and *out is NULL. */
int td_app_init(td_app **out, const td_app_info *info, int argc, char **argv, int *exit_code);

const td_config *td_app_config(const td_app *app);
const td_app_info *td_app_info_get(const td_app *app);
int td_app_argc(const td_app *app);
char **td_app_argv(const td_app *app);

/* Starts the admin server on the section's admin_bind:admin_port (the section
 * must have those directives).  The app owns it; td_app_free stops it. */
int td_app_start_admin(td_app *app, td_error *err);
td_admin *td_app_admin(td_app *app);

bool td_app_stopping(const td_app *app);
void td_app_request_stop(td_app *app);
/* Adds a hook called once when a stop is requested (signal thread or the
 * thread calling td_app_request_stop). */
int td_app_on_stop(td_app *app, void (*fn)(void *arg), void *arg);
/* Blocks until a stop is requested, or timeout_ms passes (<0: no timeout).
 * Returns 0 on stop, TD_ETIMEDOUT on timeout. */
int td_app_wait(td_app *app, int timeout_ms);

/* Stops the admin server, the signal thread, and frees everything. */
void td_app_free(td_app *app);

#endif
