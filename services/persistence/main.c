/* tfdrift-persistence — writes alerts to PostgreSQL, then publishes them.
 *
 * Start: config -> admin server -> connection pool -> migrations (retried
 * until the database answers; a schema newer than this binary is fatal) ->
 * PUB + REP (writer.h).  Stop (SIGTERM): the REP stops taking requests and
 * lets those in progress commit, publish and reply (a batch still inside
 * PostgreSQL after shared.shutdown_timeout is cancelled and left unanswered,
 * so the correlator resends it); then the pool closes. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "migrate.h"
#include "pgpool.h"
#include "tfdrift/config.h"
#include "tfdrift/lifecycle.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"
#include "writer.h"

/* An idle pool checks the database this often, so readiness follows it. */
#define DB_CHECK_INTERVAL_MS 2000
#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 5000

typedef struct state {
	pgpool *pool;
	td_gauge *db_up;
	atomic_bool migrated;
} state;

static void
on_db_state(void *arg, bool up)
{
	state *s = arg;
	td_gauge_set(s->db_up, up ? 1.0 : 0.0);
}

static int
ready(void *arg, char *why, size_t whylen)
{
	state *s = arg;
	if (!pgpool_up(s->pool)) {
		pgpool_last_error(s->pool, why, whylen);
		return TD_EAGAIN;
	}
	if (!atomic_load(&s->migrated)) {
		snprintf(why, whylen, "schema migrations not applied yet");
		return TD_EAGAIN;
	}
	return 0;
}

/* Applies the migrations, waiting for the database as long as it takes.
 * 0: done.  1: stop requested meanwhile.  -1: fatal (logged). */
static int
migrate(td_app *app, state *s)
{
	int delay = RETRY_MIN_MS;
	for (;;) {
		td_error err = { 0 };
		PGconn *c = NULL;
		int applied = 0;
		int rv = pgpool_acquire(s->pool, -1, &c);
		if (rv == 0) {
			rv = ps_migrate(c, ps_migrations, ps_migrations_count, &applied, &err);
			pgpool_release(s->pool, c, rv != 0);
		} else {
			char last[256];
			pgpool_last_error(s->pool, last, sizeof(last));
			td_error_set(&err, rv, "database unreachable: %s", last);
		}
		if (rv == 0) {
			TD_INFO("schema current",
			    TD_KV_INT("version", ps_migrations[ps_migrations_count - 1].version),
			    TD_KV_INT("applied_now", applied));
			return 0;
		}
		if (rv != TD_EAGAIN) {
			TD_ERROR("cannot migrate the database schema", TD_KV_STR("error", err.msg));
			return -1;
		}
		TD_WARN("waiting for the database to apply migrations", TD_KV_STR("error", err.msg),
		    TD_KV_INT("retry_ms", delay));
		if (td_app_wait(app, delay) == 0) {
			return 1;
		}
		delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
	}
}

int
main(int argc, char **argv)
{
	static const td_app_info info = {
		.name = "tfdrift-persistence",
		.section = "persistence",
		.summary = "Writes drift alerts to PostgreSQL and publishes each once committed.",
		.usage = NULL,
	};
	td_app *app = NULL;
	ps_writer *writer = NULL;
	state s = { 0 };
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

	int workers = (int)td_config_int(cfg, "persistence", "workers");
	s.db_up = td_gauge_get("tfdrift_persistence_db_up",
	    "1 when PostgreSQL answered the last command or check, else 0.", NULL);
	pgpool_opts po = {
		.name = "tfdrift-persistence",
		.dsn = td_config_str(cfg, "postgres", "dsn"),
		.connect_timeout_ms = td_config_int(cfg, "postgres", "connect_timeout"),
		/* One per worker, plus one so the health check never makes a
		 * worker wait. */
		.size = workers + 1,
		.check_interval_ms = DB_CHECK_INTERVAL_MS,
		.on_state = on_db_state,
		.state_arg = &s,
	};
	if (pgpool_open(&s.pool, &po, &err) != 0) {
		TD_ERROR("cannot create the connection pool", TD_KV_STR("error", err.msg));
		goto out;
	}
	td_admin_add_check(td_app_admin(app), "postgres", ready, &s);

	int m = migrate(app, &s);
	if (m != 0) {
		code = m > 0 ? 0 : 1;
		goto out;
	}
	atomic_store(&s.migrated, true);

	ps_writer_opts wo = {
		.work_url = td_config_str(cfg, "persistence", "work_listen"),
		.pub_url = td_config_str(cfg, "persistence", "alerts_pub_listen"),
		.workers = workers,
		.pool = s.pool,
	};
	if (ps_writer_start(&writer, &wo, &err) != 0) {
		TD_ERROR("cannot open the bus sockets", TD_KV_STR("error", err.msg));
		goto out;
	}
	TD_INFO("persistence ready", TD_KV_STR("work_listen", wo.work_url),
	    TD_KV_STR("alerts_pub_listen", wo.pub_url), TD_KV_INT("workers", workers));

	td_app_wait(app, -1);
	TD_INFO("stopping");
	/* Batches still in PostgreSQL after the grace are cancelled, rolled
	 * back and left unanswered, so the correlator resends them. */
	pgpool_drain(s.pool, td_config_int(cfg, "shared", "shutdown_timeout"));
	code = 0;

out:
	ps_writer_stop(writer);
	pgpool_close(s.pool);
	td_app_free(app);
	return code;
}
