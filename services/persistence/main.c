/* tfdrift-persistence — writes alerts to PostgreSQL, then publishes them.
 *
 * Start: config -> admin server -> connection pool -> spool
 * (<shared.data_dir>/persistence/spool) -> PUB + REP and the batch/drain
 * threads (writer.h; until the schema is known current every request is
 * spooled, so work is taken even while the database is down at start) ->
 * migrations (retried until the database answers; a schema newer than this
 * binary is fatal) -> retention (retention.h).
 * Stop (SIGTERM): the REP stops taking requests and lets those in progress
 * commit or spool, publish and reply (a batch still inside PostgreSQL after
 * shared.shutdown_timeout is cancelled and goes to the spool); then the pool
 * closes.
 *
 * /readyz means "can take alerts": persistence stays ready while it can spool.
 * "postgres" never fails: while the database is unreachable, its schema not yet
 * migrated, or it refuses writes for a reason that is not one row's, the check
 * carries a note (the SQLSTATE and PostgreSQL's message, how many alerts wait
 * in the spool and for how long): requests are accepted and spooled.
 * "spool" fails when the spool directory is unusable, and while the spool is
 * full (persistence.spool_max_bytes, or the disk) and the database does not
 * take writes either: requests are then answered RETRY and stay with their
 * senders.  (Not ready must not cut correlators off from the spool built for
 * a database outage.) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "migrate.h"
#include "tfdrift/pgpool.h"
#include "retention.h"
#include "spool.h"
#include "tfdrift/admin.h"
#include "tfdrift/clock.h"
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
	td_pgpool *pool;
	ps_spool *spool;
	td_gauge *db_up;
	atomic_bool migrated;
	/* writes refused (ps_writer_opts.on_write_state), under refused_mu */
	pthread_mutex_t refused_mu;
	char refused_state[6]; /* "" while writes work */
	char refused_msg[256];
	int64_t refused_since_ms;
} state;

static void
on_write_state(void *arg, const char *sqlstate, const char *msg)
{
	state *s = arg;
	pthread_mutex_lock(&s->refused_mu);
	if (sqlstate == NULL) {
		s->refused_state[0] = '\0';
	} else {
		if (s->refused_state[0] == '\0') {
			s->refused_since_ms = td_clock_mono_ms();
		}
		snprintf(s->refused_state, sizeof(s->refused_state), "%s", sqlstate);
		snprintf(s->refused_msg, sizeof(s->refused_msg), "%s", msg);
	}
	pthread_mutex_unlock(&s->refused_mu);
}

/* "; spool: N alerts, oldest Ns" */
static void
spool_summary(state *s, char *buf, size_t len)
{
	ps_spool_stats st = { 0 };
	if (s->spool != NULL) {
		ps_spool_get_stats(s->spool, &st);
	}
	int64_t age = st.oldest_ms ? (td_clock_now_ns() / 1000000 - st.oldest_ms) / 1000 : 0;
	snprintf(buf, len, "spool: %llu alerts, oldest %llds", (unsigned long long)st.alerts,
	    (long long)age);
}

static void
on_db_state(void *arg, bool up)
{
	state *s = arg;
	td_gauge_set(s->db_up, up ? 1.0 : 0.0);
}

/* 0 when the database takes writes now; else TD_EAGAIN with why. */
static int
db_state(state *s, char *why, size_t whylen)
{
	char spool[96];
	if (!td_pgpool_up(s->pool)) {
		char last[256];
		td_pgpool_last_error(s->pool, last, sizeof(last));
		spool_summary(s, spool, sizeof(spool));
		snprintf(why, whylen, "database down (%s); %s", last, spool);
		return TD_EAGAIN;
	}
	if (!atomic_load(&s->migrated)) {
		snprintf(why, whylen, "schema migrations not applied yet; alerts are spooled");
		return TD_EAGAIN;
	}
	pthread_mutex_lock(&s->refused_mu);
	int rv = 0;
	if (s->refused_state[0] != '\0') {
		spool_summary(s, spool, sizeof(spool));
		snprintf(why, whylen, "database refuses writes for %llds (SQLSTATE %s: %s); %s",
		    (long long)((td_clock_mono_ms() - s->refused_since_ms) / 1000),
		    s->refused_state, s->refused_msg, spool);
		rv = TD_EAGAIN;
	}
	pthread_mutex_unlock(&s->refused_mu);
	return rv;
}

/* The database's state as a note: persistence spools meanwhile. */
static int
ready(void *arg, char *why, size_t whylen)
{
	return db_state(arg, why, whylen) == 0 ? 0 : TD_READY_NOTE;
}

static int
spool_ready(void *arg, char *why, size_t whylen)
{
	state *s = arg;
	if (s->spool == NULL) {
		snprintf(why, whylen, "spool not open");
		return TD_EAGAIN;
	}
	ps_spool_stats st;
	char db[256];
	ps_spool_get_stats(s->spool, &st);
	if (st.full && db_state(s, db, sizeof(db)) == 0) {
		snprintf(why, whylen, "spool full (%llu of %llu bytes); the database takes writes",
		    (unsigned long long)st.bytes, (unsigned long long)st.max_bytes);
		return TD_READY_NOTE;
	}
	if (st.full) {
		snprintf(why, whylen,
		    "spool full (%llu of %llu bytes, %llu alerts): requests PostgreSQL cannot "
		    "take are answered RETRY",
		    (unsigned long long)st.bytes, (unsigned long long)st.max_bytes,
		    (unsigned long long)st.alerts);
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
		int rv = td_pgpool_acquire(s->pool, -1, &c);
		if (rv == 0) {
			rv = ps_migrate(c, ps_migrations, ps_migrations_count, &applied, &err);
			td_pgpool_release(s->pool, c, rv != 0);
		} else {
			char last[256];
			td_pgpool_last_error(s->pool, last, sizeof(last));
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
	ps_retention *retention = NULL;
	state s = { 0 };
	td_error err = { 0 };
	int code = 0;

	pthread_mutex_init(&s.refused_mu, NULL);
	if (td_app_init(&app, &info, argc, argv, &code) != 0) {
		pthread_mutex_destroy(&s.refused_mu);
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
	td_pgpool_opts po = {
		.name = "tfdrift-persistence",
		.dsn = td_config_str(cfg, "postgres", "dsn"),
		.connect_timeout_ms = td_config_int(cfg, "postgres", "connect_timeout"),
		/* One per batch thread, plus the health check, the spool
		 * drain and retention, so none of them makes a batch wait. */
		.size = workers + 3,
		.check_interval_ms = DB_CHECK_INTERVAL_MS,
		.on_state = on_db_state,
		.state_arg = &s,
	};
	if (td_pgpool_open(&s.pool, &po, &err) != 0) {
		TD_ERROR("cannot create the connection pool", TD_KV_STR("error", err.msg));
		goto out;
	}

	char spool_dir[4096];
	snprintf(spool_dir, sizeof(spool_dir), "%s/persistence/spool",
	    td_config_str(cfg, "shared", "data_dir"));
	char dl_file[4096];
	snprintf(dl_file, sizeof(dl_file), "%s/persistence/dead-letter.jsonl",
	    td_config_str(cfg, "shared", "data_dir"));
	if (ps_spool_open(&s.spool, spool_dir, &err) != 0) {
		TD_ERROR("cannot open the spool", TD_KV_STR("error", err.msg));
		goto out;
	}
	ps_spool_set_max(s.spool, (uint64_t)td_config_int(cfg, "persistence", "spool_max_bytes"));
	{
		ps_spool_stats st;
		ps_spool_get_stats(s.spool, &st);
		TD_INFO("spool open", TD_KV_STR("dir", spool_dir), TD_KV_UINT("alerts", st.alerts),
		    TD_KV_UINT("segments", st.segments), TD_KV_UINT("bytes", st.bytes),
		    TD_KV_UINT("max_bytes", st.max_bytes));
	}
	td_admin_add_check(td_app_admin(app), "postgres", ready, &s);
	td_admin_add_check(td_app_admin(app), "spool", spool_ready, &s);
	td_admin_checks_done(td_app_admin(app)); /* /readyz answers 503 until here */

	ps_writer_opts wo = {
		.work_url = td_config_str(cfg, "persistence", "work_listen"),
		.pub_url = td_config_str(cfg, "persistence", "alerts_pub_listen"),
		.workers = workers,
		.in_flight = (int)td_config_int(cfg, "persistence", "in_flight"),
		.batch_max = (int)td_config_int(cfg, "persistence", "batch_max"),
		.batch_wait_ms = (int)td_config_int(cfg, "persistence", "batch_wait"),
		.pool = s.pool,
		.spool = s.spool,
		.dead_letter_file = dl_file,
		.on_write_state = on_write_state,
		.state_arg = &s,
	};
	if (ps_writer_start(&writer, &wo, &err) != 0) {
		TD_ERROR("cannot open the bus sockets", TD_KV_STR("error", err.msg));
		goto out;
	}
	/* Requests are taken (and spooled) while this waits for the database. */
	int m = migrate(app, &s);
	if (m != 0) {
		code = m > 0 ? 0 : 1;
		goto out;
	}
	atomic_store(&s.migrated, true);
	ps_writer_schema_ready(writer);
	if (ps_retention_start(&retention, s.pool, td_config_int(cfg, "persistence", "retention"),
		(int)td_config_int(cfg, "persistence", "retention_batch"),
		td_config_int(cfg, "persistence", "retention_interval"), &err) != 0) {
		TD_ERROR("cannot start retention", TD_KV_STR("error", err.msg));
		goto out;
	}
	TD_INFO("persistence ready", TD_KV_STR("work_listen", wo.work_url),
	    TD_KV_STR("alerts_pub_listen", wo.pub_url), TD_KV_INT("workers", workers));

	td_app_wait(app, -1);
	TD_INFO("stopping");
	/* Batches still in PostgreSQL after the grace are cancelled, rolled
	 * back and spooled. */
	td_pgpool_drain(s.pool, td_config_int(cfg, "shared", "shutdown_timeout"));
	code = 0;

out:
	ps_retention_stop(retention);
	ps_writer_stop(writer);
	td_pgpool_close(s.pool);
	ps_spool_close(s.spool);
	td_app_free(app);
	pthread_mutex_destroy(&s.refused_mu);
	return code;
}
