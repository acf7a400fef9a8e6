/* log.h — JSON-lines logging to stdout.
 *
 * One line per record: {"time":"...Z","level":"info","service":"tfdrift-ingest",
 * "msg":"...", <fields>}.  The level check happens in the macro, before any
 * argument is formatted, so disabled debug logging costs one comparison.
 *
 *   TD_INFO("state loaded", TD_KV_STR("workspace", ws), TD_KV_INT("resources", n));
 *   TD_ERROR("config rejected");
 *
 * Thread-safe: each record is written with one write(2) under a mutex. */
#ifndef TFDRIFT_LOG_H
#define TFDRIFT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	TD_LOG_DEBUG = 0,
	TD_LOG_INFO = 1,
	TD_LOG_WARN = 2,
	TD_LOG_ERROR = 3,
	TD_LOG_OFF = 4,
} td_log_level;

typedef enum {
	TD_KV_NONE_T = 0,
	TD_KV_STR_T,
	TD_KV_INT_T,
	TD_KV_UINT_T,
	TD_KV_DBL_T,
	TD_KV_BOOL_T,
	TD_KV_RAW_T, /* value is already valid JSON text */
} td_kv_type;

typedef struct td_kv {
	const char *key;
	td_kv_type type;
	union {
		const char *s;
		long long i;
		unsigned long long u;
		double d;
		bool b;
	} v;
} td_kv;

#define TD_KV_NONE ((td_kv){ .key = NULL, .type = TD_KV_NONE_T, .v = { .i = 0 } })
#define TD_KV_STR(k, x) ((td_kv){ .key = (k), .type = TD_KV_STR_T, .v = { .s = (x) } })
#define TD_KV_INT(k, x) ((td_kv){ .key = (k), .type = TD_KV_INT_T, .v = { .i = (long long)(x) } })
#define TD_KV_UINT(k, x) \
	((td_kv){ .key = (k), .type = TD_KV_UINT_T, .v = { .u = (unsigned long long)(x) } })
#define TD_KV_DBL(k, x) ((td_kv){ .key = (k), .type = TD_KV_DBL_T, .v = { .d = (double)(x) } })
#define TD_KV_BOOL(k, x) ((td_kv){ .key = (k), .type = TD_KV_BOOL_T, .v = { .b = (x) } })
#define TD_KV_RAW(k, x) ((td_kv){ .key = (k), .type = TD_KV_RAW_T, .v = { .s = (x) } })

/* Sets the service name and the minimum level; call once before threads start. */
void td_log_init(const char *service, td_log_level level);
void td_log_set_level(td_log_level level);
td_log_level td_log_get_level(void);
/* Redirects output to fd (tests); -1 restores stdout. */
void td_log_set_fd(int fd);
/* Parses "debug", "info", "warn"/"warning", "error", "off"; returns TD_EINVAL otherwise. */
int td_log_level_parse(const char *s, td_log_level *out);
const char *td_log_level_name(td_log_level level);

/* Cheap check used by the macros. */
bool td_log_enabled(td_log_level level);
/* Writes one record; fields may be NULL when nfields is 0.  NULL string values
 * are written as JSON null. */
void td_log_emit(td_log_level level, const char *msg, const td_kv *fields, size_t nfields);
/* printf-style message, no fields. */
void td_logf(td_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define TD_LOG_AT(lvl, msg, ...)                                                 \
	do {                                                                     \
		if (td_log_enabled(lvl)) {                                       \
			const td_kv td_kv_list_[] = { TD_KV_NONE, __VA_ARGS__ }; \
			td_log_emit((lvl), (msg), td_kv_list_ + 1,               \
			    sizeof(td_kv_list_) / sizeof(td_kv_list_[0]) - 1);   \
		}                                                                \
	} while (0)

#define TD_DEBUG(msg, ...) TD_LOG_AT(TD_LOG_DEBUG, msg, __VA_ARGS__)
#define TD_INFO(msg, ...) TD_LOG_AT(TD_LOG_INFO, msg, __VA_ARGS__)
#define TD_WARN(msg, ...) TD_LOG_AT(TD_LOG_WARN, msg, __VA_ARGS__)
#define TD_ERROR(msg, ...) TD_LOG_AT(TD_LOG_ERROR, msg, __VA_ARGS__)

#endif
