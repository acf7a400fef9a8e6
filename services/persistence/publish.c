/* publish.c — committed alerts out on the bus (writer_impl.h). */
#include "writer_impl.h"

#include <stdlib.h>

#include "tfdrift/log.h"

/* Publishes j's newly stored alerts, in request order. */
void
wr_publish(ps_writer *w, const job *j)
{
	static char status_open[] = "open";
	Tfdrift__V1__DriftAlert *copies = NULL;
	Tfdrift__V1__DriftAlert **ptrs = NULL;
	uint8_t *buf = NULL;
	int rv = TD_ENOMEM;

	if (j->inserted == 0) {
		return;
	}
	copies = calloc(j->inserted, sizeof(*copies));
	ptrs = calloc(j->inserted, sizeof(*ptrs));
	if (copies == NULL || ptrs == NULL) {
		goto out;
	}
	size_t k = 0;
	for (size_t i = 0; i < j->n && k < j->inserted; i++) {
		if (!j->st[i].set) {
			continue;
		}
		/* Shallow copies: packing only reads, and the strings stay owned by
		 * the decoded request. */
		copies[k] = *j->b->alerts[i];
		copies[k].id = j->st[i].id;
		copies[k].committed_at_ns = j->st[i].committed_us * 1000;
		copies[k].status = status_open;
		ptrs[k] = &copies[k];
		k++;
	}
	Tfdrift__V1__AlertBatch out = TFDRIFT__V1__ALERT_BATCH__INIT;
	out.n_alerts = k;
	out.alerts = ptrs;
	size_t len = tfdrift__v1__alert_batch__get_packed_size(&out);
	if ((buf = malloc(len ? len : 1)) == NULL) {
		goto out;
	}
	tfdrift__v1__alert_batch__pack(&out, buf);
	rv = td_bus_publish(w->pub, TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED, buf,
	    len, j->env->trace_id);

out:
	if (rv != 0) {
		/* Subscribers re-read PostgreSQL; the alert is stored either way. */
		td_counter_inc(w->publish_errors);
		TD_WARN("committed alerts not published", TD_KV_STR("trace_id", j->env->trace_id),
		    TD_KV_UINT("alerts", j->inserted), TD_KV_STR("error", td_strerror(rv)));
	}
	free(buf);
	free(ptrs);
	free(copies);
}

/* Counts and logs a stored job (both paths). */
void
wr_account(ps_writer *w, const job *j)
{
	td_counter_add(w->inserted, j->inserted);
	td_counter_add(w->duplicates, j->n - j->inserted - j->dead);
	if (j->dead > 0) {
		td_counter_add(w->dead_letters, j->dead);
		TD_WARN("alerts quarantined in alerts_dead_letter",
		    TD_KV_STR("message_id", j->env->message_id), TD_KV_UINT("alerts", j->dead),
		    TD_KV_STR("first_reason", j->first_dead));
	}
}
