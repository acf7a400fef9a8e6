/* fuzz_falco_alert.c — one Falco JSON alert as ingest's HTTP receiver gets
 * it (http_output, Falcosidekick) through falco_alert_parse
 * (libcommon/src/domain/falco_alert.c), and the event it builds through
 * ct_event_to_json. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/error.h"
#include "tfdrift/falco_alert.h"
#include "tfdrift/log.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	td_log_set_level(TD_LOG_OFF);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Tfdrift__V1__CloudEvent *ev = NULL;
	char source[64] = "";
	td_error err = { 0 };
	int rv = falco_alert_parse((const char *)data, size,
	    TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_HTTP, "127.0.0.1", &ev, source,
	    sizeof(source), &err);
	if (rv == 0) {
		char *line = NULL;
		if (ev == NULL) {
			abort();
		}
		if (ct_event_to_json(ev, &line) == 0) {
			cJSON *back = cJSON_Parse(line);
			if (back == NULL) {
				abort(); /* the event as JSON must be JSON */
			}
			cJSON_Delete(back);
		}
		free(line);
		ct_event_free(ev);
	} else if (rv != FALCO_ALERT_OTHER_SOURCE && err.msg[0] == '\0') {
		abort(); /* a refusal always says why */
	}
	return 0;
}
