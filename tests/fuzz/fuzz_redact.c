/* fuzz_redact.c — redaction (libcommon/src/domain/redact.c) on a JSON
 * document {"attributes": {...}, "sensitive_attributes": [...]}, the shape of
 * a state's resource instance.  After a successful redaction no member whose
 * name looks like a secret may hold a non-empty string any more. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "redacted.h"
#include "tfdrift/error.h"
#include "tfdrift/log.h"
#include "tfdrift/redact.h"

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
	cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
	if (doc == NULL) {
		return 0;
	}
	cJSON *attrs = cJSON_GetObjectItemCaseSensitive(doc, "attributes");
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(doc, "sensitive_attributes");
	if (cJSON_IsObject(attrs)) {
		size_t replaced = 0;
		td_error err = { 0 };
		if (redact_attributes(attrs, cJSON_IsNull(paths) ? NULL : paths,
			"fuzz.tfstate: resources[0].instances[0].sensitive_attributes", &replaced,
			&err) == 0) {
			fuzz_check_redacted(attrs);
			char *text = cJSON_PrintUnformatted(attrs);
			free(text);
		}
	}
	/* the name rule on every member name of the document */
	const cJSON *it;
	cJSON_ArrayForEach(it, doc)
	{
		if (it->string != NULL) {
			(void)redact_name_is_secret(it->string);
		}
	}
	cJSON_Delete(doc);
	return 0;
}
