/* fuzz_cloudtrail_record.c — one CloudTrail record (JSON text) through
 * ct_record_normalise and back out through ct_event_to_json
 * (libcommon/src/domain/cloudtrail_record.c). */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/error.h"
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
	cJSON *rec = cJSON_ParseWithLength((const char *)data, size);
	if (rec == NULL) {
		return 0;
	}
	ct_record_ctx ctx = { .path = "fuzz.json", .index = 0, .line = 1, .received_at_ns = 1 };
	Tfdrift__V1__CloudEvent *ev = NULL;
	const char *skip = NULL;
	td_error err = { 0 };
	if (ct_record_normalise(rec, &ctx, &ev, &skip, &err) == 0 && ev != NULL) {
		char *line = NULL;
		if (ct_event_to_json(ev, &line) == 0) {
			/* what --print writes must itself be JSON */
			cJSON *back = cJSON_Parse(line);
			if (back == NULL) {
				abort();
			}
			cJSON_Delete(back);
		}
		free(line);
		ct_event_free(ev);
	}
	cJSON_Delete(rec);
	return 0;
}
