/* explain.c — offline decisions (contract in explain.h). */
#include "explain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/alert_json.h"
#include "tfdrift/cloudtrail_file.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/falco_alert.h"
#include "lcache.h"
#include "memstate.h"
#include "tfdrift/clock.h"

const char explain_usage[] =
    "  explain --state [NAME=]FILE[#account=ID&region=R] [--state ...] EVENTS...\n"
    "      offline: one JSON line per CloudTrail record (decision, reason, alerts);\n"
    "      a state matches events of its own accounts and regions (from its ARNs,\n"
    "      else #account=/#region=, as state_loader.sources options)\n";

#define MAX_COARSE_ENTRIES 64

typedef struct run {
	const rule_env *env;
	memstate *ms;
	lcache *seen;
	size_t events, alerts, precise, coarse, misses;
	struct {
		const cat_entry *e;
		size_t n;
	} by_entry[MAX_COARSE_ENTRIES]; /* the entries that produced coarse alerts */
	size_t nby;
} run;

static void
count_coarse(run *r, const rule_result *res)
{
	size_t i;

	r->precise += res->precise;
	r->coarse += res->coarse;
	r->misses += res->miss;
	if (res->coarse == 0 || res->entry == NULL)
		return;
	for (i = 0; i < r->nby && r->by_entry[i].e != res->entry; i++)
		;
	if (i == MAX_COARSE_ENTRIES)
		return;
	if (i == r->nby)
		r->by_entry[r->nby++].e = res->entry;
	r->by_entry[i].n += res->coarse;
}

static int
on_record(void *arg, const ct_file_record *rec)
{
	run *r = arg;
	Tfdrift__V1__CloudEvent *ev = NULL;
	const char *why = NULL;
	ct_record_ctx ctx = { .path = rec->path, .index = rec->index, .line = rec->line };
	rule_state st = { .lookup = memstate_lookup, .attrs = memstate_attrs, .arg = r->ms };
	rule_alerts alerts = { 0 };
	rule_result res;
	td_error err;
	cJSON *o = cJSON_CreateObject(), *arr;
	char *line, *dup;
	int rv;

	td_error_clear(&err);
	if (rec->json != NULL &&
	    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rec->json, "output_fields"))) {
		/* a Falco JSON alert (one per line): rebuilt as ingest does */
		char *text = cJSON_PrintUnformatted(rec->json), src[64] = "";
		int frv = text == NULL ? TD_ENOMEM
				       : falco_alert_parse(text, strlen(text),
					     TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FILE,
					     rec->path, &ev, src, sizeof(src), &err);
		cJSON_free(text);
		if (frv == FALCO_ALERT_OTHER_SOURCE) {
			why = "a Falco alert of another source";
			ev = NULL;
		} else if (frv != 0) {
			ev = NULL;
			if (err.msg[0] == '\0')
				why = td_strerror(frv);
		}
	} else if (rec->json != NULL &&
	    ct_record_normalise(rec->json, &ctx, &ev, &why, &err) != 0) {
		ev = NULL;
	}
	if (rec->json == NULL || ev == NULL) {
		cJSON_AddNumberToObject(o, "record", (double)rec->index);
		cJSON_AddStringToObject(o, "decision", "rejected");
		cJSON_AddStringToObject(o, "reason",
		    rec->json == NULL ? rec->reason
			: why != NULL ? why
				      : err.msg);
		goto print;
	}
	r->events++;
	cJSON_AddStringToObject(o, "event_id", ev->event_id);
	cJSON_AddStringToObject(o, "event_name", ev->event_name);
	cJSON_AddStringToObject(o, "event_source", ev->event_source);
	if (lcache_get(r->seen, ev->event_id, &dup)) {
		free(dup);
		cJSON_AddStringToObject(o, "decision", "skipped");
		cJSON_AddStringToObject(o, "skip", "duplicate");
		cJSON_AddStringToObject(o, "reason", "this eventID was seen before");
		goto print;
	}
	lcache_put(r->seen, ev->event_id, "1");
	rv = rule_evaluate(r->env, ev, &st, td_clock_now_ns(), &alerts, &res);
	if (rv != 0) {
		cJSON_AddStringToObject(o, "decision", "error");
		cJSON_AddStringToObject(o, "reason", td_strerror(rv));
		goto print;
	}
	cJSON_AddStringToObject(o, "decision", res.skip ? "skipped" : "alerts");
	if (res.skip)
		cJSON_AddStringToObject(o, "skip", res.skip);
	cJSON_AddStringToObject(o, "reason", res.reason);
	if (res.entry != NULL) {
		char where[300];
		snprintf(where, sizeof(where), "%s:%d", res.entry->file, res.entry->line);
		cJSON_AddStringToObject(o, "catalog", where);
	}
	cJSON_AddNumberToObject(o, "precise", (double)res.precise);
	cJSON_AddNumberToObject(o, "coarse", (double)res.coarse);
	if (res.miss)
		cJSON_AddBoolToObject(o, "extractor_miss", true);
	count_coarse(r, &res);
	if (res.ndec > 0) {
		/* one decision per resource the event names */
		cJSON *ds = cJSON_AddArrayToObject(o, "resources");
		for (size_t k = 0; k < res.ndec; k++) {
			cJSON *d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "id", res.dec[k].id);
			if (res.dec[k].address[0] != '\0') {
				cJSON_AddStringToObject(d, "workspace", res.dec[k].workspace);
				cJSON_AddStringToObject(d, "address", res.dec[k].address);
			}
			cJSON_AddStringToObject(d, "decision", res.dec[k].outcome);
			cJSON_AddNumberToObject(d, "alerts", (double)res.dec[k].alerts);
			cJSON_AddItemToArray(ds, d);
		}
	}
	arr = cJSON_AddArrayToObject(o, "alerts");
	for (size_t i = 0; i < alerts.n; i++)
		cJSON_AddItemToArray(arr, td_alert_json_explain(alerts.items[i]));
	r->alerts += alerts.n;
print:
	line = cJSON_PrintUnformatted(o);
	if (line != NULL)
		printf("%s\n", line);
	cJSON_free(line);
	cJSON_Delete(o);
	rule_alerts_free(&alerts);
	ct_event_free(ev);
	return 0;
}

int
explain_run(const rule_env *env, int argc, char **argv)
{
	run r = { .env = env };
	td_error err;
	int status = 0, i;

	if (memstate_new(&r.ms) != 0 || (r.seen = lcache_new(0)) == NULL) {
		fprintf(stderr, "tfdrift-correlator explain: out of memory\n");
		memstate_free(r.ms);
		return 1;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			td_error_clear(&err);
			if (memstate_add_file(r.ms, argv[++i], &err) != 0) {
				fprintf(stderr, "tfdrift-correlator explain: %s\n", err.msg);
				status = 1;
				goto out;
			}
		} else if (strncmp(argv[i], "--", 2) == 0) {
			fprintf(stderr, "tfdrift-correlator explain: unknown option %s\n%s",
			    argv[i], explain_usage);
			status = 2;
			goto out;
		} else {
			break;
		}
	}
	if (i == argc) {
		fprintf(stderr, "tfdrift-correlator explain: no EVENTS file\n%s", explain_usage);
		status = 2;
		goto out;
	}
	for (; i < argc; i++) {
		td_error_clear(&err);
		if (ct_file_read(argv[i], CT_FILE_MAX_BYTES, on_record, &r, &err) != 0) {
			fprintf(stderr, "tfdrift-correlator explain: %s\n", err.msg);
			status = 1;
		}
	}
	fflush(stdout);
	fprintf(stderr,
	    "explain: %zu events, %zu alerts (%zu precise, %zu coarse; %zu extractor misses)\n",
	    r.events, r.alerts, r.precise, r.coarse, r.misses);
	for (size_t k = 0; k < r.nby; k++)
		fprintf(stderr, "explain: coarse %zu from %s:%d %s\n", r.by_entry[k].n,
		    r.by_entry[k].e->file, r.by_entry[k].e->line, r.by_entry[k].e->event);
out:
	lcache_free(r.seen);
	memstate_free(r.ms);
	return status;
}
