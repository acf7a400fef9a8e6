/* mhd_log.c — see mhd_log.h. */
#include "tfdrift/mhd_log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tfdrift/clock.h"
#include "tfdrift/log.h"

#define INTERVAL_MS 1000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms = -INTERVAL_MS;
static uint64_t suppressed;

void
td_mhd_log(void *cls, const char *fmt, va_list ap)
{
	const char *name = cls != NULL ? cls : "http server";
	char buf[512];
	int64_t now = td_clock_mono_ms();
	uint64_t quiet = 0;
	bool say = false;

	pthread_mutex_lock(&mu);
	if (now - last_ms >= INTERVAL_MS) {
		say = true;
		quiet = suppressed;
		suppressed = 0;
		last_ms = now;
	} else {
		suppressed++;
	}
	pthread_mutex_unlock(&mu);
	if (!say) {
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* MHD's messages end with a newline; a log line should not */
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
		buf[--n] = '\0';
	}
	TD_WARN(name, TD_KV_STR("detail", buf), TD_KV_UINT("suppressed", quiet));
}
