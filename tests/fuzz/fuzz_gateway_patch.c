/* fuzz_gateway_patch.c — the body of PATCH /api/v1/drifts/{id}
 * (services/api-gateway/patch.c): accepted bodies name a schema status and a
 * note of at most GW_PATCH_NOTE_MAX bytes; refused ones say why and, for a
 * member, which. */
#include "../../services/api-gateway/patch.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gw_patch *p = malloc(sizeof(*p));
	if (p == NULL) {
		return 0;
	}
	switch (gw_patch_parse((const char *)data, size, p)) {
	case GW_PATCH_OK:
		if (p->to == NULL || strlen(p->note) > GW_PATCH_NOTE_MAX ||
		    (strcmp(p->to, "acknowledged") != 0 && strcmp(p->to, "resolved") != 0 &&
			strcmp(p->to, "ignored") != 0 && strcmp(p->to, "open") != 0)) {
			abort();
		}
		break;
	case GW_PATCH_BAD_BODY:
	case GW_PATCH_INVALID:
		if (p->msg[0] == '\0') {
			abort();
		}
		break;
	default: abort();
	}
	free(p);
	return 0;
}
