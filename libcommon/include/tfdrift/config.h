/* config.h — one YAML file for every service, driven by a table of directives.
 *
 * The file has one mapping per section: `shared`, `postgres`, `redis`, `bus`
 * and one per service (`ingest`, `state_loader`, `correlator`, `persistence`,
 * `api_gateway`, `notifier`).  Every key a section may hold is a row of
 * td_config_directives[] (config_directives.c): its type, default, bounds and
 * help.  That table drives parsing, defaults, validation, the environment
 * overrides and the generated reference (docs/configuration.md) and example
 * (config.example.yaml).
 *
 * Precedence: default < file < environment (TFDRIFT_<SECTION>_<KEY>, upper case,
 * e.g. TFDRIFT_POSTGRES_DSN, TFDRIFT_API_GATEWAY_PORT).
 *
 * Errors name the place: "config.yaml:12: ingest.http_port: 70000 is above the
 * maximum 65535".  Unknown sections and keys are errors too.
 *
 * A loaded td_config is immutable and may be read from any thread. */
#ifndef TFDRIFT_CONFIG_H
#define TFDRIFT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tfdrift/error.h"

typedef enum {
	TD_CFG_STRING = 1,
	TD_CFG_INT,      /* 64-bit signed integer; min/max apply */
	TD_CFG_BOOL,     /* true/false, yes/no, on/off */
	TD_CFG_DOUBLE,   /* min/max apply */
	TD_CFG_DURATION, /* "250ms", "5s", "2m", "1h", "7d" or a number of ms; read as ms */
	TD_CFG_SIZE,     /* "512", "64KiB", "1MiB", "2GiB" (also kB/MB/GB); read as bytes */
	TD_CFG_ENUM,     /* one of enum_values ("a|b|c") */
	TD_CFG_STRLIST,  /* YAML sequence of scalars, or a comma-separated string */
} td_config_type;

enum {
	TD_CFG_F_SECRET = 1 << 0, /* never logged or printed; shown as <redacted> */
};

typedef struct td_config_directive {
	const char *section;
	const char *key;
	td_config_type type;
	const char *def; /* default as text; NULL = empty/unset */
	double min, max; /* bounds for INT, DOUBLE, DURATION (ms), SIZE (bytes); min > max = none */
	const char *enum_values; /* for ENUM: "debug|info|warn|error" */
	unsigned flags;
	const char *help; /* one or two sentences */
} td_config_directive;

/* The table, terminated by a row whose section is NULL. */
extern const td_config_directive td_config_directives[];

typedef struct td_config td_config;

/* Loads path (NULL: defaults and environment only), validates it against the
 * table and applies environment overrides.  On success *out is owned by the
 * caller (td_config_free).  On failure returns TD_EINVAL / TD_EIO and err says
 * where (file:line: section.key: problem). */
int td_config_load(td_config **out, const char *path, td_error *err);

/* Same, from a string; `name` is used in messages in place of a file name. */
int td_config_load_string(td_config **out, const char *yaml, const char *name, td_error *err);

/* Same, from len bytes that need not be NUL-terminated (and may hold NULs):
 * exactly what td_config_load does with a file's contents. */
int td_config_load_buffer(td_config **out, const char *buf, size_t len, const char *name,
    td_error *err);

void td_config_free(td_config *cfg);

/* Typed reads.  Asking for a section/key that is not in the table, or with the
 * wrong type, is a programming error: it logs and aborts. */
const char *td_config_str(const td_config *cfg, const char *section, const char *key);
int64_t td_config_int(const td_config *cfg, const char *section,
    const char *key); /* INT, DURATION (ms), SIZE (bytes) */
bool td_config_bool(const td_config *cfg, const char *section, const char *key);
double td_config_double(const td_config *cfg, const char *section, const char *key);
size_t td_config_list_len(const td_config *cfg, const char *section, const char *key);
const char *td_config_list_item(const td_config *cfg, const char *section, const char *key,
    size_t i);

/* Where the value came from: "default", "file:LINE", or "env:TFDRIFT_...". Borrowed. */
const char *td_config_origin(const td_config *cfg, const char *section, const char *key);

/* Writes the Markdown reference (docs/configuration.md) or the commented
 * example file (config.example.yaml) generated from the table. */
int td_config_write_reference(FILE *out);
int td_config_write_example(FILE *out);

#endif
