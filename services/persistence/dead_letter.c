/* dead_letter.c — alerts the database refuses, kept (writer_impl.h). */
#include "writer_impl.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tfdrift/clock.h"
#include "tfdrift/log.h"

/* Copies s into buf as valid UTF-8 (other bytes become '?'), for text columns
 * of the dead letter that must not be refused themselves. */
static void
clean_utf8(const char *s, char *buf, size_t len)
{
	size_t w = 0;
	for (size_t r = 0; s != NULL && s[r] != '\0' && w + 5 < len;) {
		unsigned char c = (unsigned char)s[r];
		size_t n = c < 0x80  ? 1
		    : (c >> 5) == 6  ? 2
		    : (c >> 4) == 14 ? 3
		    : (c >> 3) == 30 ? 4
				     : 0;
		bool ok = n > 0;
		for (size_t k = 1; ok && k < n; k++) {
			ok = ((unsigned char)s[r + k] >> 6) == 2;
		}
		if (!ok) {
			buf[w++] = '?';
			r++;
			continue;
		}
		memcpy(buf + w, s + r, n);
		w += n;
		r += n;
	}
	buf[w] = '\0';
}

static void
base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t w = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n) {
			v |= (uint32_t)in[i + 1] << 8;
		}
		if (i + 2 < n) {
			v |= in[i + 2];
		}
		out[w++] = tab[(v >> 18) & 63];
		out[w++] = tab[(v >> 12) & 63];
		out[w++] = tab[(v >> 6) & 63];
		out[w++] = tab[v & 63];
		/* padding for a short last group */
		if (i + 1 >= n) {
			out[w - 2] = '=';
		}
		if (i + 2 >= n) {
			out[w - 1] = '=';
		}
	}
	out[w] = '\0';
}

/* The last resort when alerts_dead_letter itself refuses a row (e.g. the
 * table is missing): one JSON line appended to the dead-letter file and
 * fsynced.  0 or TD_EIO/TD_ENOMEM. */
static int
dead_letter_file(ps_writer *w, const job *j, const char *key, const char *reason,
    const char *sqlstate, const char *db_error, const uint8_t *packed, size_t plen)
{
	int rv = TD_ENOMEM;
	char *b64 = malloc(4 * (plen / 3 + 1) + 1);
	cJSON *o = cJSON_CreateObject();
	char *line = NULL;
	char at[64];
	if (b64 == NULL || o == NULL) {
		goto out;
	}
	base64(packed, plen, b64);
	td_clock_format(td_clock_now_ns(), 6, at, sizeof(at));
	if (cJSON_AddStringToObject(o, "at", at) == NULL ||
	    cJSON_AddStringToObject(o, "alert_key", key) == NULL ||
	    cJSON_AddStringToObject(o, "trace_id", j->env->trace_id) == NULL ||
	    cJSON_AddStringToObject(o, "message_id", j->env->message_id) == NULL ||
	    cJSON_AddStringToObject(o, "reason", reason) == NULL ||
	    cJSON_AddStringToObject(o, "sqlstate", sqlstate) == NULL ||
	    cJSON_AddStringToObject(o, "dead_letter_error", db_error) == NULL ||
	    cJSON_AddStringToObject(o, "alert_protobuf_base64", b64) == NULL ||
	    (line = cJSON_PrintUnformatted(o)) == NULL) {
		goto out;
	}
	rv = TD_EIO;
	pthread_mutex_lock(&w->dl_mu);
	int fd = open(w->dl_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd >= 0) {
		size_t len = strlen(line);
		line[len] = '\n'; /* replaces the NUL; written with its length */
		if (write(fd, line, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0) {
			rv = 0;
		}
		line[len] = '\0';
		close(fd);
	}
	pthread_mutex_unlock(&w->dl_mu);
	if (rv == 0) {
		TD_ERROR("alerts_dead_letter refused a row; quarantined in the dead-letter file",
		    TD_KV_STR("file", w->dl_path), TD_KV_STR("alert_key", key),
		    TD_KV_STR("error", db_error));
	}
out:
	free(line);
	cJSON_Delete(o);
	free(b64);
	return rv;
}

/* Quarantines alerts[idx] of j with why: a row in alerts_dead_letter (under
 * a savepoint, inside the caller's transaction), or, if PostgreSQL refuses
 * that row too, a line in the dead-letter file.  0; otherwise the database
 * failed transiently and *res_out holds its result (may be NULL; caller
 * clears). */
int
wr_dead_letter(ps_writer *w, PGconn *c, job *j, size_t idx, const char *why, const char *sqlstate,
    PGresult **res_out)
{
	static const char sql[] =
	    "INSERT INTO alerts_dead_letter (alert_key, event_id, trace_id, message_id, reason, "
	    "sqlstate, alert) VALUES ($1, $2, $3, $4, $5, $6, $7::bytea)";
	const Tfdrift__V1__DriftAlert *a = j->b->alerts[idx];
	char key[300], eid[300], reason[600];
	int rv = 0;
	*res_out = NULL;
	clean_utf8(a->alert_key, key, sizeof(key));
	clean_utf8(a->event_id, eid, sizeof(eid));
	clean_utf8(why, reason, sizeof(reason));
	size_t plen = tfdrift__v1__drift_alert__get_packed_size(a);
	uint8_t *packed = malloc(plen ? plen : 1);
	if (packed == NULL) {
		return TD_ENOMEM;
	}
	tfdrift__v1__drift_alert__pack(a, packed);
	const char *vals[7] = { key, eid, j->env->trace_id, j->env->message_id, reason, sqlstate,
		(const char *)packed };
	int lens[7] = { 0, 0, 0, 0, 0, 0, (int)plen };
	int fmts[7] = { 0, 0, 0, 0, 0, 0, 1 };
	PQclear(PQexec(c, "SAVEPOINT dead_letter"));
	PGresult *res = PQexecParams(c, sql, 7, NULL, vals, lens, fmts, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		PQclear(PQexec(c, "RELEASE SAVEPOINT dead_letter"));
	} else if (td_pgpool_fault(res) != TD_PG_FAULT_TRANSIENT && PQstatus(c) == CONNECTION_OK) {
		/* The row was refused already; whatever alerts_dead_letter has
		 * against it (its data, or the table's setup), the file keeps it. */
		char dberr[400];
		snprintf(dberr, sizeof(dberr), "%s", PQresultErrorMessage(res));
		td_pgpool_one_line(dberr);
		PQclear(res);
		PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT dead_letter"));
		rv = dead_letter_file(w, j, key, reason, sqlstate, dberr, packed, plen);
	} else {
		*res_out = res;
		rv = TD_EIO;
	}
	free(packed);
	if (rv == 0) {
		j->dead++;
		if (j->first_dead[0] == '\0') {
			snprintf(j->first_dead, sizeof(j->first_dead), "%s", reason);
		}
	}
	return rv;
}

/* Quarantines every alert of jobs[] that failed validation. */
int
wr_dead_letter_invalid(ps_writer *w, PGconn *c, job **jobs, size_t n, PGresult **res)
{
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < jobs[k]->n; i++) {
			if (jobs[k]->bad[i] == NULL) {
				continue;
			}
			int rv = wr_dead_letter(w, c, jobs[k], i, jobs[k]->bad[i], "", res);
			if (rv != 0) {
				return rv;
			}
		}
	}
	return 0;
}
