/* writer_impl.h — what the parts of the persistence writer share; not for
 * other modules (they use writer.h).
 *
 *   writer.c       requests in (the REP handler), batching on the batch
 *                  threads, the database transaction, the spool when the
 *                  database cannot take a batch, start and stop
 *   dead_letter.c  alerts the database refuses one by one: the
 *                  alerts_dead_letter table, else the dead-letter file
 *   publish.c      committed alerts out on the bus, and their counters
 *   drain.c        the drain thread: spooled requests into the database
 *
 * Threads and locks: see struct ps_writer. */
#ifndef TFDRIFT_PS_WRITER_IMPL_H
#define TFDRIFT_PS_WRITER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "rows.h"
#include "spool.h"
#include "tfdrift/bus.h"
#include "tfdrift/metrics.h"
#include "tfdrift/pgpool.h"
#include "tfdrift/v1/alert.pb-c.h"
#include "writer.h"

/* What became of a request. */
enum outcome {
	PENDING = 0,
	STORED,   /* committed (some alerts may be in the dead letter) */
	SPOOLED,  /* durable on disk, stored later */
	FULL,     /* neither, the spool has no room: Ack RETRY */
	HANDBACK, /* neither (the spool failed): no reply, the sender resends */
};

/* One stored row as RETURNING gave it. */
typedef struct stored {
	bool set;
	int64_t id;
	int64_t committed_us;
} stored;

/* One request on its way through a batch. */
typedef struct job {
	const td_envelope *env;     /* borrowed (bus or drain) */
	Tfdrift__V1__AlertBatch *b; /* owned */
	size_t n;
	ps_row *rows;      /* n; converted on the receiving thread */
	char **bad;        /* n; reason an alert is refused (malloc'd), else NULL */
	stored *st;        /* n */
	uint32_t inserted; /* newly stored */
	uint32_t dead;     /* quarantined */
	char first_dead[600];
	int64_t enq_ms;
	enum outcome outcome; /* written by the batch thread */
	td_bus_call *call;    /* a request from the bus: answered when stored */
	double t0;            /* when the request came (mono seconds) */
	struct job *next;
} job;

struct ps_writer {
	td_pgpool *pool;
	ps_spool *spool;
	td_bus_pub *pub;
	td_bus_rep *rep;
	int batch_max;
	int batch_wait_ms;
	atomic_bool schema_ready; /* migrations applied: the database may be written */
	char *dl_path;            /* the dead-letter file */
	pthread_mutex_t dl_mu;

	pthread_mutex_t mu;
	pthread_cond_t work;       /* queued, or stopping */
	pthread_cond_t drain_wake; /* the drain thread: stopping */
	job *head, *tail;
	bool collecting; /* one batch thread is filling a batch */
	bool stopping;
	int nthreads;
	pthread_t *threads;
	bool have_drain;
	pthread_t drain;

	td_counter *inserted;
	td_counter *duplicates;
	td_counter *dead_letters;
	td_counter *spooled;
	td_counter *rejected;
	td_counter *deferred;
	td_counter *publish_errors;
	td_counter *spool_corrupt;
	td_histogram *batch_seconds;
	td_histogram *batch_alerts;
	td_histogram *request_seconds;
	td_gauge *spool_alerts;
	td_gauge *spool_segments;
	td_gauge *spool_age;
	td_gauge *spool_bytes;
	td_gauge *spool_max;
	td_gauge *spool_full;
	td_counter *refused_full;
	atomic_bool full_logged; /* "spool full" logged, "room again" not yet */

	/* PostgreSQL refusing writes (see REFUSED_BACKOFF_*). */
	pthread_mutex_t fault_mu;
	char fault_state[6]; /* SQLSTATE of the refusal; "" while writes work */
	int64_t fault_since_ms;
	int64_t retry_at_ms; /* monotonic; no attempt before this while refused */
	int64_t backoff_ms;
	td_gauge *writable;    /* 1 while writes work */
	td_gauge *write_error; /* {sqlstate="..."} of fault_state, 1 while it lasts */
	void (*on_write_state)(void *arg, const char *sqlstate, const char *msg);
	void *state_arg;
};

/* writer.c */
/* Converts b's alerts for j (b owned by j from here); TD_ENOMEM. */
int wr_job_prepare(job *j, Tfdrift__V1__AlertBatch *b, const td_envelope *env);
void wr_job_release(job *j);
/* Stores the jobs in one transaction (each job's outcome set). */
void wr_store(ps_writer *w, job **jobs, size_t n);
/* True while PostgreSQL refused the last write and its backoff has not passed. */
bool wr_refused_backing_off(ps_writer *w);

/* dead_letter.c */
/* Quarantines alert idx of j (why; the database's sqlstate when it refused
 * it) in alerts_dead_letter, else the dead-letter file. */
int wr_dead_letter(ps_writer *w, PGconn *c, job *j, size_t idx, const char *why,
    const char *sqlstate, PGresult **res);
/* Quarantines every alert the receiving thread found invalid. */
int wr_dead_letter_invalid(ps_writer *w, PGconn *c, job **jobs, size_t n, PGresult **res);

/* publish.c */
/* Publishes j's newly stored alerts, in request order. */
void wr_publish(ps_writer *w, const job *j);
/* Counts and logs a stored job (both paths). */
void wr_account(ps_writer *w, const job *j);

/* drain.c */
/* The drain thread (arg: the writer). */
void *wr_drain_main(void *arg);

#endif
