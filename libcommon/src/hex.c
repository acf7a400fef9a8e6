/* hex.c — hexadecimal digits. */
#include "tfdrift/hex.h"

#include "tfdrift/error.h"

int
td_hex_digit(int c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int
td_hex_decode(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = td_hex_digit((unsigned char)s[2 * i]);
		int lo = hi < 0 ? -1 : td_hex_digit((unsigned char)s[2 * i + 1]);
		if (lo < 0) {
			return TD_EINVAL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
td_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}
