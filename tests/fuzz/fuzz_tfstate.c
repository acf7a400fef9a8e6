/* fuzz_tfstate.c — a Terraform state file through tfs_parse_buffer
 * (libcommon/src/domain/tfstate.c: its streaming scanner, the per-instance
 * checks, redaction and identifiers), then every instance read back. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "redacted.h"
#include "tfdrift/error.h"
#include "tfdrift/log.h"
#include "tfdrift/redact.h"
#include "tfdrift/tfstate.h"

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
	tfs_state *st = NULL;
	td_error err = { 0 };
	if (tfs_parse_buffer(&st, (const char *)data, size, "fuzz.tfstate", &err) != 0) {
		if (st != NULL || err.msg[0] == '\0') {
			abort(); /* a failure leaves nothing and says why */
		}
		return 0;
	}
	(void)tfs_serial(st);
	(void)strlen(tfs_lineage(st));
	(void)strlen(tfs_terraform_version(st));
	size_t n = tfs_instance_count(st);
	for (size_t i = 0; i < n; i++) {
		const tfs_instance *in = tfs_instance_at(st, i);
		if (in == NULL) {
			abort();
		}
		(void)tfs_instance_indexed(in);
		/* the kept attributes are a JSON object */
		cJSON *attrs = tfs_instance_attributes(in);
		if (attrs == NULL || !cJSON_IsObject(attrs)) {
			abort();
		}
		fuzz_check_redacted(attrs);
		cJSON_Delete(attrs);
		for (size_t j = 0; j < in->n_dependencies; j++) {
			(void)strlen(in->dependencies[j]);
		}
		for (size_t j = 0; j < in->n_identifiers; j++) {
			(void)strlen(in->identifiers[j]);
		}
	}
	if (tfs_instance_at(st, n) != NULL) {
		abort();
	}
	(void)tfs_indexed_count(st);
	(void)tfs_redaction_count(st);
	tfs_free(st);
	return 0;
}
