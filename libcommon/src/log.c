/* log.c — JSON-lines logging.
 *
 * A record is built in memory and written with one write(2) under a mutex,
 * so lines from different threads never interleave.
 *
 * String escaping (keys, msg and string values): '"' and '\\' are escaped,
 * control characters become \n, \r, \t, \b, \f or \u00XX, DEL becomes \u007f.
 * Valid UTF-8 is copied as is.  Each byte that is not part of a well-formed
 * UTF-8 sequence (stray continuation bytes, truncated or overlong sequences,
 * surrogates, code points above U+10FFFF) is replaced by U+FFFD written as
 * \ufffd, so every line is valid UTF-8 and valid JSON whatever the input.
 * Doubles that are NaN or infinite are written as null. */
#include "tfdrift/log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tfdrift/clock.h"
#include "tfdrift/error.h"

static _Atomic int log_level = TD_LOG_INFO;
static _Atomic int log_fd = -1; /* -1: stdout */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_service[64] = "tfdrift";

static const struct {
	const char *name;
	td_log_level level;
} level_names[] = {
	{ "debug", TD_LOG_DEBUG },
	{ "info", TD_LOG_INFO },
	{ "warn", TD_LOG_WARN },
	{ "warning", TD_LOG_WARN },
	{ "error", TD_LOG_ERROR },
	{ "off", TD_LOG_OFF },
};

/* A growable output buffer that starts on the caller's stack. */
typedef struct outbuf {
	char *p;
	size_t len, cap;
	bool heap;
	bool failed; /* allocation failed; the record is truncated */
} outbuf;

static void
ob_reserve(outbuf *b, size_t more)
{
	size_t ncap;
	char *np;

	if (b->failed || b->len + more <= b->cap) {
		return;
	}
	ncap = b->cap * 2;
	while (ncap < b->len + more) {
		ncap *= 2;
	}
	np = b->heap ? realloc(b->p, ncap) : malloc(ncap);
	if (np == NULL) {
		b->failed = true;
		return;
	}
	if (!b->heap) {
		memcpy(np, b->p, b->len);
	}
	b->p = np;
	b->cap = ncap;
	b->heap = true;
}

static void
ob_put(outbuf *b, const char *s, size_t n)
{
	ob_reserve(b, n);
	if (b->failed) {
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
ob_puts(outbuf *b, const char *s)
{
	ob_put(b, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if malformed. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned cp;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	return len;
}

static void
ob_json_string(outbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0;

	ob_put(b, "\"", 1);
	while (i < n) {
		size_t run = i;
		/* copy plain ASCII in runs */
		while (
		    run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\') {
			run++;
		}
		ob_put(b, str + i, run - i);
		i = run;
		if (i >= n) {
			break;
		}
		unsigned char c = s[i];
		char esc[8];
		switch (c) {
		case '"':
			ob_put(b, "\\\"", 2);
			i++;
			continue;
		case '\\':
			ob_put(b, "\\\\", 2);
			i++;
			continue;
		case '\n':
			ob_put(b, "\\n", 2);
			i++;
			continue;
		case '\r':
			ob_put(b, "\\r", 2);
			i++;
			continue;
		case '\t':
			ob_put(b, "\\t", 2);
			i++;
			continue;
		case '\b':
			ob_put(b, "\\b", 2);
			i++;
			continue;
		case '\f':
			ob_put(b, "\\f", 2);
			i++;
			continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			ob_put(b, esc, 6);
			i++;
			continue;
		}
		size_t len = utf8_seq_len(s + i, n - i);
		if (len == 0) {
			ob_put(b, "\\ufffd", 6);
			i++;
		} else {
			ob_put(b, str + i, len);
			i += len;
		}
	}
	ob_put(b, "\"", 1);
}

static void
ob_double(outbuf *b, double d)
{
	char tmp[40];

	if (!isfinite(d)) {
		ob_puts(b, "null");
		return;
	}
	/* shortest of %.15g / %.17g that reads back as the same double */
	snprintf(tmp, sizeof(tmp), "%.15g", d);
	if (strtod(tmp, NULL) != d) {
		snprintf(tmp, sizeof(tmp), "%.17g", d);
	}
	ob_puts(b, tmp);
}

static void
ob_field(outbuf *b, const td_kv *kv)
{
	char tmp[32];

	ob_put(b, ",", 1);
	ob_json_string(b, kv->key);
	ob_put(b, ":", 1);
	switch (kv->type) {
	case TD_KV_STR_T:
		if (kv->v.s == NULL) {
			ob_puts(b, "null");
		} else {
			ob_json_string(b, kv->v.s);
		}
		break;
	case TD_KV_INT_T:
		snprintf(tmp, sizeof(tmp), "%lld", kv->v.i);
		ob_puts(b, tmp);
		break;
	case TD_KV_UINT_T:
		snprintf(tmp, sizeof(tmp), "%llu", kv->v.u);
		ob_puts(b, tmp);
		break;
	case TD_KV_DBL_T: ob_double(b, kv->v.d); break;
	case TD_KV_BOOL_T: ob_puts(b, kv->v.b ? "true" : "false"); break;
	case TD_KV_RAW_T:
		ob_puts(b, kv->v.s != NULL && kv->v.s[0] != '\0' ? kv->v.s : "null");
		break;
	case TD_KV_NONE_T:
	default: ob_puts(b, "null"); break;
	}
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return; /* nowhere to report a failing log sink */
		}
		p += w;
		n -= (size_t)w;
	}
}

void
td_log_init(const char *service, td_log_level level)
{
	pthread_mutex_lock(&log_mu);
	snprintf(log_service, sizeof(log_service), "%s", service != NULL ? service : "tfdrift");
	pthread_mutex_unlock(&log_mu);
	td_log_set_level(level);
}

void
td_log_set_level(td_log_level level)
{
	if ((int)level < TD_LOG_DEBUG || level > TD_LOG_OFF) {
		level = TD_LOG_INFO;
	}
	atomic_store(&log_level, (int)level);
}

td_log_level
td_log_get_level(void)
{
	return (td_log_level)atomic_load(&log_level);
}

void
td_log_set_fd(int fd)
{
	pthread_mutex_lock(&log_mu);
	atomic_store(&log_fd, fd);
	pthread_mutex_unlock(&log_mu);
}

int
td_log_level_parse(const char *s, td_log_level *out)
{
	if (s == NULL) {
		return TD_EINVAL;
	}
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i].name) == 0) {
			if (out != NULL) {
				*out = level_names[i].level;
			}
			return 0;
		}
	}
	return TD_EINVAL;
}

const char *
td_log_level_name(td_log_level level)
{
	switch (level) {
	case TD_LOG_DEBUG: return "debug";
	case TD_LOG_INFO: return "info";
	case TD_LOG_WARN: return "warn";
	case TD_LOG_ERROR: return "error";
	case TD_LOG_OFF: return "off";
	}
	return "unknown";
}

bool
td_log_enabled(td_log_level level)
{
	return (int)level >= atomic_load(&log_level) && level < TD_LOG_OFF;
}

/* msg and fields are borrowed for the duration of the call. */
void
td_log_emit(td_log_level level, const char *msg, const td_kv *fields, size_t nfields)
{
	char stack[2048];
	char when[40];
	outbuf b = { .p = stack, .len = 0, .cap = sizeof(stack), .heap = false, .failed = false };
	int fd;

	if (!td_log_enabled(level)) {
		return;
	}
	td_clock_format(td_clock_now_ns(), 3, when, sizeof(when));
	ob_puts(&b, "{\"time\":\"");
	ob_puts(&b, when);
	ob_puts(&b, "\",\"level\":\"");
	ob_puts(&b, td_log_level_name(level));
	ob_puts(&b, "\",\"service\":");

	pthread_mutex_lock(&log_mu);
	ob_json_string(&b, log_service);
	ob_puts(&b, ",\"msg\":");
	ob_json_string(&b, msg != NULL ? msg : "");
	for (size_t i = 0; i < nfields && fields != NULL; i++) {
		if (fields[i].key != NULL) {
			ob_field(&b, &fields[i]);
		}
	}
	ob_puts(&b, "}\n");
	if (b.failed) {
		static const char oom[] =
		    "{\"level\":\"error\",\"msg\":\"log record dropped: out of memory\"}\n";
		if (b.heap) {
			free(b.p);
		}
		b.p = (char *)oom;
		b.len = sizeof(oom) - 1;
		b.heap = false;
	}
	fd = atomic_load(&log_fd);
	write_all(fd >= 0 ? fd : STDOUT_FILENO, b.p, b.len);
	pthread_mutex_unlock(&log_mu);
	if (b.heap) {
		free(b.p);
	}
}

void
td_logf(td_log_level level, const char *fmt, ...)
{
	char stack[1024];
	char *msg = stack;
	va_list ap;
	int n;

	if (!td_log_enabled(level)) {
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(stack)) {
		msg = malloc((size_t)n + 1);
		if (msg != NULL) {
			va_start(ap, fmt);
			vsnprintf(msg, (size_t)n + 1, fmt, ap);
			va_end(ap);
		} else {
			msg = stack; /* truncated beats lost */
		}
	}
	td_log_emit(level, n < 0 ? fmt : msg, NULL, 0);
	if (msg != stack) {
		free(msg);
	}
}
