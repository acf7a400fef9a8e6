/* fuzz_config.c — a configuration file (YAML) through td_config_load_buffer
 * (libcommon/src/config.c: libyaml, the directive table, every value type's
 * parser, bounds), then every directive read back with its typed reader.
 * The environment is not consulted for TFDRIFT_* names the fuzzer could set:
 * a harness process has none. */
#include "fuzz.h"
#include "tfdrift/config.h"
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

static void
read_all(const td_config *cfg)
{
	for (const td_config_directive *d = td_config_directives; d->section != NULL; d++) {
		switch (d->type) {
		case TD_CFG_STRING:
		case TD_CFG_ENUM: {
			const char *s = td_config_str(cfg, d->section, d->key);
			if (s != NULL) {
				(void)strlen(s);
			}
			break;
		}
		case TD_CFG_INT:
		case TD_CFG_DURATION:
		case TD_CFG_SIZE: {
			int64_t v = td_config_int(cfg, d->section, d->key);
			/* a value outside the directive's bounds must have been refused */
			if (d->min <= d->max && ((double)v < d->min || (double)v > d->max)) {
				abort();
			}
			break;
		}
		case TD_CFG_BOOL: (void)td_config_bool(cfg, d->section, d->key); break;
		case TD_CFG_DOUBLE: {
			double v = td_config_double(cfg, d->section, d->key);
			if (d->min <= d->max && (v < d->min || v > d->max)) {
				abort();
			}
			break;
		}
		case TD_CFG_STRLIST: {
			size_t n = td_config_list_len(cfg, d->section, d->key);
			for (size_t i = 0; i < n; i++) {
				(void)strlen(td_config_list_item(cfg, d->section, d->key, i));
			}
			break;
		}
		default: abort();
		}
		(void)strlen(td_config_origin(cfg, d->section, d->key));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	td_config *cfg = NULL;
	td_error err = { 0 };
	if (td_config_load_buffer(&cfg, (const char *)data, size, "fuzz.yaml", &err) != 0) {
		if (cfg != NULL || err.msg[0] == '\0') {
			abort();
		}
		return 0;
	}
	read_all(cfg);
	td_config_free(cfg);
	return 0;
}
