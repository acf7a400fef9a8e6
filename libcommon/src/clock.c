/* clock.c — wall and monotonic clocks, RFC 3339 formatting and parsing.
 *
 * Conversion between civil dates and day numbers uses Howard Hinnant's
 * days_from_civil / civil_from_days algorithms, so neither direction depends
 * on the process time zone (TZ) or on timegm(). */
#include "tfdrift/clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "tfdrift/error.h"

#define NS_PER_SEC 1000000000LL

int64_t
td_clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int64_t
td_clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
td_clock_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rv = pthread_condattr_init(&a);

	if (rv != 0)
		return rv;
	rv = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (rv == 0)
		rv = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return rv;
}

void
td_clock_mono_timespec(int64_t mono_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(mono_ms / 1000);
	ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

char *
td_clock_format(int64_t unix_ns, int digits, char *buf, size_t len)
{
	int64_t secs, nsec, days, sod, year;
	int mon, day;
	char frac[16] = "";

	if (buf == NULL || len == 0) {
		return buf;
	}
	/* floor division so times before 1970 keep a positive fraction */
	secs = unix_ns / NS_PER_SEC;
	nsec = unix_ns % NS_PER_SEC;
	if (nsec < 0) {
		nsec += NS_PER_SEC;
		secs -= 1;
	}
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days -= 1;
	}
	civil_from_days(days, &year, &mon, &day);

	/* only 0, 3, 6 and 9 are meaningful; anything else rounds up to the next */
	if (digits > 6) {
		snprintf(frac, sizeof(frac), ".%09lld", (long long)nsec);
	} else if (digits > 3) {
		snprintf(frac, sizeof(frac), ".%06lld", (long long)(nsec / 1000));
	} else if (digits > 0) {
		snprintf(frac, sizeof(frac), ".%03lld", (long long)(nsec / 1000000));
	}
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d%sZ", (long long)year, mon, day,
	    (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac);
	return buf;
}

/* Reads exactly n decimal digits at *p; advances *p.  false if any is not a digit. */
static bool
read_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9') {
			return false;
		}
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Grammar: YYYY-MM-DD [ (T|t|' ') hh:mm:ss [.f{1,}] [Z|z|(+|-)hh[:]mm] ].
 * A missing offset means UTC; a date alone means its midnight UTC.  Fraction
 * digits past the ninth are accepted and truncated.  Seconds may be 60 (leap
 * second), which lands on the next minute's first second. */
int
td_clock_parse(const char *s, int64_t *unix_ns)
{
	const char *p = s;
	int year, mon, day, hour = 0, min = 0, sec = 0, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, days, secs, ns;

	if (s == NULL || unix_ns == NULL) {
		return TD_EINVAL;
	}
	if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &mon) || *p++ != '-' ||
	    !read_digits(&p, 2, &day)) {
		return TD_EINVAL;
	}
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon)) {
		return TD_EINVAL;
	}
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!read_digits(&p, 2, &hour) || *p++ != ':' || !read_digits(&p, 2, &min) ||
		    *p++ != ':' || !read_digits(&p, 2, &sec)) {
			return TD_EINVAL;
		}
		if (hour > 23 || min > 59 || sec > 60) {
			return TD_EINVAL;
		}
		if (*p == '.' || *p == ',') {
			int n = 0;

			p++;
			for (; *p >= '0' && *p <= '9'; p++, n++) {
				if (n < 9) {
					frac = frac * 10 + (*p - '0');
				}
			}
			if (n == 0) {
				return TD_EINVAL;
			}
			for (; n < 9; n++) {
				frac *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '+' ? 1 : -1;
			if (!read_digits(&p, 2, &oh)) {
				return TD_EINVAL;
			}
			if (*p == ':') {
				p++;
			}
			if (!read_digits(&p, 2, &om) || oh > 23 || om > 59) {
				return TD_EINVAL;
			}
		}
	}
	if (*p != '\0') {
		return TD_EINVAL;
	}

	days = days_from_civil(year, mon, day);
	secs = days * 86400 + hour * 3600 + min * 60 + sec - sign * (oh * 3600 + om * 60);
	/* int64 nanoseconds cover the years 1677 to 2262 */
	if (__builtin_mul_overflow(secs, NS_PER_SEC, &ns) ||
	    __builtin_add_overflow(ns, frac, &ns)) {
		return TD_EINVAL;
	}
	*unix_ns = ns;
	return 0;
}
