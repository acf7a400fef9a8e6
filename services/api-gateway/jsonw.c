/* jsonw.c — see jsonw.h. */
#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>

void
gw_jw_init(gw_jw *w, size_t cap)
{
	w->cap = cap < 64 ? 64 : cap;
	w->len = 0;
	w->buf = malloc(w->cap);
	w->oom = w->buf == NULL;
}

bool
gw_jw_grow(gw_jw *w, size_t n)
{
	if (w->oom) {
		return false;
	}
	if (w->len + n + 1 <= w->cap) {
		return true;
	}
	size_t cap = w->cap;
	while (cap < w->len + n + 1) {
		cap *= 2;
	}
	char *p = realloc(w->buf, cap);
	if (p == NULL) {
		w->oom = true;
		return false;
	}
	w->buf = p;
	w->cap = cap;
	return true;
}

void
gw_jw_lit(gw_jw *w, const char *s)
{
	gw_jw_raw(w, s, strlen(s));
}

/* Does the 8-byte word hold a byte below 0x20, '"' or '\\'?  (The
 * bit tricks of "Bit Twiddling Hacks": haszero and hasless.) */
static inline bool
word_needs_escape(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
	uint64_t lt = (x - ones * 0x20) & ~x;
	uint64_t zq = (q - ones) & ~q;
	uint64_t zb = (b - ones) & ~b;
	return ((lt | zq | zb) & highs) != 0;
}

void
gw_jw_str(gw_jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s);
	/* Room for the worst case (every byte \u00XX) up front, so the loop
	 * writes straight into the buffer. */
	if (!gw_jw_reserve(w, 6 * n + 2)) {
		return;
	}
	char *o = w->buf + w->len;
	*o++ = '"';
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		/* eight plain bytes at a time, the common case */
		uint64_t x;
		if (end - p >= 8) {
			memcpy(&x, p, 8);
			if (!word_needs_escape(x)) {
				memcpy(o, &x, 8);
				o += 8;
				p += 8;
				continue;
			}
		}
		unsigned char c = *p++;
		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0xf];
			break;
		}
	}
	*o++ = '"';
	w->len = (size_t)(o - w->buf);
}

/* Writes v as exactly n decimal digits at o (v < 10^n). */
static void
digits(char *o, int64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		o[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
gw_jw_int(gw_jw *w, int64_t v)
{
	char buf[24];
	char *o = buf + sizeof(buf);
	/* through the unsigned magnitude, so INT64_MIN works too */
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		*--o = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0) {
		*--o = '-';
	}
	gw_jw_raw(w, o, (size_t)(buf + sizeof(buf) - o));
}

void
gw_jw_time_us(gw_jw *w, int64_t us)
{
	/* floor division, as td_clock_format does for times before 1970 */
	int64_t secs = us / 1000000, frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs -= 1;
	}
	int64_t days = secs / 86400, sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days -= 1;
	}
	/* civil_from_days (H. Hinnant), as libcommon's clock.c */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t day = doy - (153 * mp + 2) / 5 + 1;
	int64_t mon = mp < 10 ? mp + 3 : mp - 9;
	int64_t year = yoe + era * 400 + (mon <= 2);
	if (year < 0 || year > 9999) {
		/* outside RFC 3339's four digits: what td_clock_format would print */
		char ts[80];
		int n = snprintf(ts, sizeof(ts), "\"%04lld-%02d-%02dT%02d:%02d:%02d.%06dZ\"",
		    (long long)year, (int)mon, (int)day, (int)(sod / 3600), (int)(sod / 60 % 60),
		    (int)(sod % 60), (int)frac);
		gw_jw_raw(w, ts, (size_t)n);
		return;
	}
	/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" in quotes: 29 bytes */
	if (!gw_jw_reserve(w, 29)) {
		return;
	}
	char *o = w->buf + w->len;
	o[0] = '"';
	digits(o + 1, year, 4);
	o[5] = '-';
	digits(o + 6, mon, 2);
	o[8] = '-';
	digits(o + 9, day, 2);
	o[11] = 'T';
	digits(o + 12, sod / 3600, 2);
	o[14] = ':';
	digits(o + 15, sod / 60 % 60, 2);
	o[17] = ':';
	digits(o + 18, sod % 60, 2);
	o[20] = '.';
	digits(o + 21, frac, 6);
	o[27] = 'Z';
	o[28] = '"';
	w->len += 29;
}

char *
gw_jw_finish(gw_jw *w)
{
	char *out = NULL;
	if (!w->oom && gw_jw_reserve(w, 0)) {
		w->buf[w->len] = '\0';
		out = w->buf;
		w->buf = NULL;
	}
	gw_jw_free(w);
	return out;
}

void
gw_jw_free(gw_jw *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}
