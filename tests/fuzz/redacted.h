/* redacted.h — the property fuzz_redact and fuzz_tfstate both check: after
 * redaction no member whose name looks like a secret holds a non-empty
 * string in clear text, nor a list holding one.  For harnesses. */
#ifndef TFDRIFT_TESTS_FUZZ_REDACTED_H
#define TFDRIFT_TESTS_FUZZ_REDACTED_H

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tfdrift/redact.h"

/* Whether v is a string still in clear text (not empty, not the marker). */
static int
fuzz_clear_string(const cJSON *v)
{
	return cJSON_IsString(v) && v->valuestring[0] != '\0' &&
	    strcmp(v->valuestring, REDACT_TEXT) != 0;
}

/* Aborts if a secret-looking member anywhere under v keeps a string in
 * clear text, or a list with one (a list held by such a member has its
 * strings redacted too). */
static void
fuzz_check_redacted(const cJSON *v)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, v)
	{
		if (cJSON_IsObject(v) && it->string != NULL && redact_name_is_secret(it->string)) {
			const cJSON *e;
			const cJSON *list = cJSON_IsArray(it) ? it : NULL;
			if (fuzz_clear_string(it)) {
				abort();
			}
			cJSON_ArrayForEach(e, list)
			{
				if (fuzz_clear_string(e)) {
					abort();
				}
			}
		}
		fuzz_check_redacted(it);
	}
}

#endif
