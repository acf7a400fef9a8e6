/* lifecycle.c — options, configuration, logging and signals for every process.
 *
 * Threads: td_app_init blocks SIGTERM, SIGINT, SIGPIPE and SIGUSR1 in the
 * calling thread before it starts any thread, so every thread created later
 * inherits the mask and only the signal thread ever sees these signals (via
 * sigwait).  SIGUSR1 is how td_app_free wakes that thread to end it; a
 * SIGUSR1 from outside is ignored.  SIGPIPE stays blocked and unhandled, so a
 * write to a closed socket fails with EPIPE instead of killing the process.
 *
 * The signal thread also trims the allocator every TD_PROCMEM_TRIM_MS, and
 * td_app_init caps its arenas before any thread starts (procmem.h).
 *
 * One td_app per process: two would race for the same signals. */
#include "tfdrift/version.h"
#include "tfdrift/lifecycle.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tfdrift/bus_net.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/procmem.h"

typedef struct stop_hook {
	void (*fn)(void *arg);
	void *arg;
} stop_hook;

struct td_app {
	const td_app_info *info;
	td_config *cfg;
	int argc;
	char **argv; /* borrowed: the tail of main's argv */
	td_admin *admin;

	pthread_t sig_thread;
	bool sig_started;
	atomic_bool closing;  /* td_app_free is ending the signal thread */
	atomic_bool stopping; /* a stop was requested (td_app_stopping) */
	int signals_seen;     /* signal thread only */

	pthread_mutex_t mu; /* guards hooks, hooks_ran, stopped */
	pthread_cond_t cv;  /* signalled when stopped turns true */
	stop_hook *hooks;
	size_t nhooks, caphooks;
	bool hooks_ran; /* the list is frozen; late hooks run at once */
	bool stopped;   /* hooks have run; td_app_wait may return */
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "debug", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};
/* "+": stop at the first non-option so a subcommand keeps its own options;
 * ":": report a missing argument as ':' so we can word the message. */
static const char short_options[] = "+:c:dhV";

/* The common options, as shown by --help and after a usage error. */
static const char options_text[] =
    "Options:\n"
    "  -c, --config FILE  configuration file (default: $TFDRIFT_CONFIG; if unset,\n"
    "                     built-in defaults and TFDRIFT_* environment variables only)\n"
    "  -d, --debug        log at debug level, whatever the configuration says\n"
    "  -h, --help         show this help and exit\n"
    "  -V, --version      show the version and exit\n";

static const struct {
	int sig;
	const char *name;
} signal_names[] = {
	{ SIGTERM, "SIGTERM" },
	{ SIGINT, "SIGINT" },
	{ SIGUSR1, "SIGUSR1" },
};

static const char *
signal_name(int sig)
{
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (signal_names[i].sig == sig)
			return signal_names[i].name;
	return "signal";
}

static void
write_usage_line(FILE *f, const td_app_info *info)
{
	fprintf(f, "Usage: %s [OPTIONS]%s\n", info->name,
	    info->usage != NULL ? " [COMMAND [ARGS...]]" : "");
}

/* Upper-cases s into buf ("api_gateway" -> "API_GATEWAY"). */
static void
upper(const char *s, char *buf, size_t len)
{
	size_t i = 0;
	for (; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)toupper((unsigned char)s[i]);
	buf[i] = '\0';
}

static void
write_help(FILE *f, const td_app_info *info)
{
	char sec[64], key[64];
	const char *example = NULL;

	fprintf(f, "%s - %s\n\n", info->name, info->summary != NULL ? info->summary : "");
	write_usage_line(f, info);
	fprintf(f, "\n%s\n", options_text);
	fprintf(f,
	    "Configuration:\n"
	    "  This process reads the `%s` section of the configuration file, plus the\n"
	    "  shared sections (`shared`, `bus`, `postgres`, `redis`).\n"
	    "  Every key can be overridden from the environment as TFDRIFT_<SECTION>_<KEY>\n"
	    "  (upper case)",
	    info->section);
	/* An example drawn from the directive table, so it names a real key. */
	for (const td_config_directive *d = td_config_directives; d->section != NULL; d++) {
		if (strcmp(d->section, info->section) == 0) {
			example = d->key;
			break;
		}
	}
	if (example != NULL) {
		upper(info->section, sec, sizeof(sec));
		upper(example, key, sizeof(key));
		fprintf(f, ", e.g. TFDRIFT_%s_%s for %s.%s", sec, key, info->section, example);
	}
	fprintf(f, ".\n  The environment wins over the file, the file over the defaults.\n");
	if (info->usage != NULL)
		fprintf(f, "\n%s%s", info->usage,
		    info->usage[0] != '\0' && info->usage[strlen(info->usage) - 1] == '\n' ? ""
											   : "\n");
}

static void
usage_error(const td_app_info *info, const char *fmt, const char *what)
{
	fprintf(stderr, "%s: ", info->name);
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\n");
	write_usage_line(stderr, info);
	fprintf(stderr, "%sRun '%s --help' for more.\n", options_text, info->name);
}

/* ---- stopping ----------------------------------------------------------- */

/* Runs once, whoever asks first: flag, hooks in registration order, wake. */
static void
do_stop(td_app *app)
{
	size_t n;

	if (atomic_exchange(&app->stopping, true))
		return;
	pthread_mutex_lock(&app->mu);
	app->hooks_ran = true; /* freezes the list: td_app_on_stop no longer appends */
	n = app->nhooks;
	pthread_mutex_unlock(&app->mu);
	/* Unlocked so a hook may call any td_app_* function without deadlock. */
	for (size_t i = 0; i < n; i++)
		app->hooks[i].fn(app->hooks[i].arg);
	pthread_mutex_lock(&app->mu);
	app->stopped = true;
	pthread_cond_broadcast(&app->cv);
	pthread_mutex_unlock(&app->mu);
}

static void
signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
}

static void *
signal_main(void *arg)
{
	td_app *app = arg;
	sigset_t set;
	int sig;

	const struct timespec trim_every = { .tv_sec = TD_PROCMEM_TRIM_MS / 1000,
		.tv_nsec = (TD_PROCMEM_TRIM_MS % 1000) * 1000000L };

	signal_set(&set);
	for (;;) {
		/* between signals, hand the allocator's free pages back */
		if ((sig = sigtimedwait(&set, NULL, &trim_every)) < 0) {
			if (errno == EAGAIN && !atomic_load(&app->closing))
				td_procmem_trim();
			continue;
		}
		if (sig == SIGUSR1) {
			if (atomic_load(&app->closing))
				break;
			continue;
		}
		if (++app->signals_seen > 1) {
			TD_WARN("second signal, exiting at once",
			    TD_KV_STR("signal", signal_name(sig)));
			_exit(1);
		}
		TD_INFO("stop requested", TD_KV_STR("signal", signal_name(sig)));
		do_stop(app);
	}
	return NULL;
}

bool
td_app_stopping(const td_app *app)
{
	return atomic_load(&((td_app *)app)->stopping);
}

void
td_app_request_stop(td_app *app)
{
	do_stop(app);
}

int
td_app_on_stop(td_app *app, void (*fn)(void *arg), void *arg)
{
	int rv = 0;
	bool now = false;

	if (app == NULL || fn == NULL)
		return TD_EINVAL;
	pthread_mutex_lock(&app->mu);
	if (app->hooks_ran) {
		/* Too late to wait for the stop: it happened.  Run it now so the
		 * caller's loop still gets woken. */
		now = true;
	} else {
		if (app->nhooks == app->caphooks) {
			size_t cap = app->caphooks != 0 ? app->caphooks * 2 : 8;
			stop_hook *h = realloc(app->hooks, cap * sizeof(*h));
			if (h == NULL) {
				rv = TD_ENOMEM;
				goto out;
			}
			app->hooks = h;
			app->caphooks = cap;
		}
		app->hooks[app->nhooks++] = (stop_hook){ .fn = fn, .arg = arg };
	}
out:
	pthread_mutex_unlock(&app->mu);
	if (now)
		fn(arg);
	return rv;
}

int
td_app_wait(td_app *app, int timeout_ms)
{
	int rv = 0;
	struct timespec until;

	if (timeout_ms >= 0) {
		td_clock_mono_timespec(td_clock_mono_ms() + timeout_ms, &until);
	}
	pthread_mutex_lock(&app->mu);
	while (!app->stopped) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&app->cv, &app->mu);
		} else if (pthread_cond_timedwait(&app->cv, &app->mu, &until) != 0 &&
		    !app->stopped) {
			rv = TD_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&app->mu);
	return rv;
}

/* ---- start -------------------------------------------------------------- */

/* Parses the common options.  Returns 0 to go on, 1 when the process should
 * exit with *exit_code.  *config_path is borrowed from argv or the environment. */
static int
parse_options(const td_app_info *info, int argc, char **argv, const char **config_path, bool *debug,
    int *exit_code)
{
	bool help = false, version = false;
	int c;
	char shortopt[3] = "-?";

	*config_path = getenv("TFDRIFT_CONFIG");
	if (*config_path != NULL && (*config_path)[0] == '\0')
		*config_path = NULL;
	*debug = false;
	optind = 0; /* full re-initialisation, so a second parse (tests) starts clean */
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		switch (c) {
		case 'c': *config_path = optarg; break;
		case 'd': *debug = true; break;
		case 'h': help = true; break;
		case 'V': version = true; break;
		case ':':
			shortopt[1] = (char)optopt;
			usage_error(info, "option '%s' needs an argument",
			    optopt == 'c' ? "--config" : shortopt);
			*exit_code = 2;
			return 1;
		default:
			/* optopt is the character of an unknown short option, 0 for a long one. */
			shortopt[1] = (char)optopt;
			usage_error(info, "unknown option '%s'",
			    optopt != 0 ? shortopt : argv[optind - 1]);
			*exit_code = 2;
			return 1;
		}
	}
	if (help) {
		write_help(stdout, info);
		fflush(stdout);
		*exit_code = 0;
		return 1;
	}
	if (version) {
		printf("%s %s (%s)\n", info->name, TD_VERSION, TD_GITREV);
		fflush(stdout);
		*exit_code = 0;
		return 1;
	}
	return 0;
}

int
td_app_init(td_app **out, const td_app_info *info, int argc, char **argv, int *exit_code)
{
	int rv = TD_EINVAL, ec = 2;
	const char *config_path = NULL;
	bool debug = false, mu_init = false, cv_init = false;
	td_app *app = NULL;
	td_error err;
	td_log_level level = TD_LOG_INFO;
	sigset_t set;

	td_error_clear(&err);
	if (out != NULL)
		*out = NULL;
	if (out == NULL || info == NULL || info->name == NULL || info->section == NULL ||
	    argc < 1) {
		fprintf(stderr, "td_app_init: invalid arguments\n");
		goto out;
	}
	if (parse_options(info, argc, argv, &config_path, &debug, &ec) != 0) {
		rv = ec == 0 ? TD_ECLOSED : TD_EINVAL;
		goto out;
	}

	td_procmem_setup(); /* before the first thread */
	rv = TD_ENOMEM;
	ec = 1;
	if ((app = calloc(1, sizeof(*app))) == NULL) {
		fprintf(stderr, "%s: out of memory\n", info->name);
		goto out;
	}
	app->info = info;
	app->argc = argc - optind;
	app->argv = argv + optind;
	atomic_init(&app->closing, false);
	atomic_init(&app->stopping, false);

	if ((rv = td_config_load(&app->cfg, config_path, &err)) != 0) {
		fprintf(stderr, "%s: %s\n", info->name,
		    err.msg[0] != '\0' ? err.msg : td_strerror(rv));
		ec = 2;
		goto out;
	}
	if (td_log_level_parse(td_config_str(app->cfg, "shared", "log_level"), &level) != 0)
		level = TD_LOG_INFO;
	td_log_init(info->name, debug ? TD_LOG_DEBUG : level);
	{
		td_bus_net_opts no = {
			.resolve_interval_ms = (int)td_config_int(app->cfg, "bus",
			    "resolve_interval"),
			.tls_ca = td_config_str(app->cfg, "bus", "tls_ca"),
			.tls_cert = td_config_str(app->cfg, "bus", "tls_cert"),
			.tls_key = td_config_str(app->cfg, "bus", "tls_key"),
			.tls_server_name = td_config_str(app->cfg, "bus", "tls_server_name"),
		};
		if ((rv = td_bus_net_configure(&no, &err)) != 0) {
			fprintf(stderr, "%s: %s\n", info->name, err.msg);
			ec = 2;
			goto out;
		}
	}

	rv = TD_EIO;
	if (pthread_mutex_init(&app->mu, NULL) != 0)
		goto out;
	mu_init = true;
	/* Monotonic, so td_app_wait's timeout ignores wall-clock jumps. */
	cv_init = td_clock_cond_init(&app->cv) == 0;
	if (!cv_init)
		goto out;

	/* Before any thread exists, so all inherit the mask. */
	signal_set(&set);
	sigaddset(&set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		TD_ERROR("cannot block signals");
		goto out;
	}
	if (pthread_create(&app->sig_thread, NULL, signal_main, app) != 0) {
		TD_ERROR("cannot start the signal thread");
		goto out;
	}
	app->sig_started = true;
	TD_DEBUG("started", TD_KV_STR("version", TD_VERSION), TD_KV_STR("revision", TD_GITREV),
	    TD_KV_STR("config", config_path));
	*out = app;
	app = NULL;
	ec = 0;
	rv = 0;
out:
	if (app != NULL) {
		if (cv_init)
			pthread_cond_destroy(&app->cv);
		if (mu_init)
			pthread_mutex_destroy(&app->mu);
		td_config_free(app->cfg);
		free(app);
	}
	if (exit_code != NULL)
		*exit_code = ec;
	return rv;
}

const td_config *
td_app_config(const td_app *app)
{
	return app->cfg;
}

const td_app_info *
td_app_info_get(const td_app *app)
{
	return app->info;
}

int
td_app_argc(const td_app *app)
{
	return app->argc;
}

char **
td_app_argv(const td_app *app)
{
	return app->argv;
}

static bool
has_directive(const char *section, const char *key)
{
	for (const td_config_directive *d = td_config_directives; d->section != NULL; d++)
		if (strcmp(d->section, section) == 0 && strcmp(d->key, key) == 0)
			return true;
	return false;
}

int
td_app_start_admin(td_app *app, td_error *err)
{
	int rv;
	const char *section = app->info->section;

	if (app->admin != NULL)
		return td_error_set(err, TD_EEXIST, "admin server already started");
	/* td_config_* aborts on an unknown key; a section without an admin
	 * server is a caller error worth a message instead. */
	if (!has_directive(section, "admin_bind") || !has_directive(section, "admin_port"))
		return td_error_set(err, TD_EINVAL,
		    "section %s has no admin_bind/admin_port directives", section);
	const char *bind_addr = td_config_str(app->cfg, section, "admin_bind");
	int64_t port = td_config_int(app->cfg, section, "admin_port");
	if ((rv = td_admin_start(&app->admin, bind_addr, (int)port, NULL, err)) != 0)
		return rv;
	TD_INFO("admin server listening", TD_KV_STR("bind", bind_addr),
	    TD_KV_INT("port", td_admin_port(app->admin)));
	return 0;
}

td_admin *
td_app_admin(td_app *app)
{
	return app->admin;
}

void
td_app_free(td_app *app)
{
	if (app == NULL)
		return;
	td_admin_stop(app->admin);
	app->admin = NULL;
	td_bus_net_shutdown(); /* every bus socket is closed by now */
	if (app->sig_started) {
		atomic_store(&app->closing, true);
		/* Directed at the signal thread, which alone waits for SIGUSR1. */
		pthread_kill(app->sig_thread, SIGUSR1);
		pthread_join(app->sig_thread, NULL);
	}
	pthread_cond_destroy(&app->cv);
	pthread_mutex_destroy(&app->mu);
	free(app->hooks);
	td_config_free(app->cfg);
	free(app);
}
