/* clock.h — time helpers. */
#ifndef TFDRIFT_CLOCK_H
#define TFDRIFT_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, Unix nanoseconds. */
int64_t td_clock_now_ns(void);
/* Monotonic clock, milliseconds. */
int64_t td_clock_mono_ms(void);
/* Formats Unix ns as RFC 3339 UTC with the given number of fraction digits
 * (0, 3, 6 or 9) into buf: "2026-11-26T15:04:05.123Z".  Returns buf. */
char *td_clock_format(int64_t unix_ns, int digits, char *buf, size_t len);
/* Parses RFC 3339 / ISO 8601 ("2026-11-26T15:04:05Z", fraction and offset
 * optional) into Unix ns.  0 on success, TD_EINVAL if malformed. */
int td_clock_parse(const char *s, int64_t *unix_ns);

#endif
