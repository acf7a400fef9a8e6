/* clock.h — time helpers. */
#ifndef TFDRIFT_CLOCK_H
#define TFDRIFT_CLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Wall clock, Unix nanoseconds. */
int64_t td_clock_now_ns(void);
/* Monotonic clock, milliseconds. */
int64_t td_clock_mono_ms(void);
/* Initialises c so that pthread_cond_timedwait measures its deadline on the
 * monotonic clock (a wall-clock step neither cuts nor stretches a wait).
 * 0 or an errno value. */
int td_clock_cond_init(pthread_cond_t *c);
/* The deadline for pthread_cond_timedwait on such a condition variable at
 * monotonic time mono_ms (td_clock_mono_ms's scale), e.g.
 * td_clock_mono_ms() + 500 for half a second from now. */
void td_clock_mono_timespec(int64_t mono_ms, struct timespec *ts);
/* Formats Unix ns as RFC 3339 UTC with the given number of fraction digits
 * (0, 3, 6 or 9) into buf: "2026-11-26T15:04:05.123Z".  Returns buf. */
char *td_clock_format(int64_t unix_ns, int digits, char *buf, size_t len);
/* Parses RFC 3339 / ISO 8601 ("2026-11-26T15:04:05Z", fraction and offset
 * optional) into Unix ns.  0 on success, TD_EINVAL if malformed. */
int td_clock_parse(const char *s, int64_t *unix_ns);

#endif
