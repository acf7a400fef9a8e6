/* attrs_codec.c — see attrs_codec.h. */
#include "tfdrift/attrs_codec.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "tfdrift/error.h"

/* Level 1: the state-loader packs every instance of a changed workspace;
 * level 6 saves a few percent more for several times the CPU. */
#define PACK_LEVEL 1

int
td_attrs_pack(const char *json, size_t len, char **out, size_t *outlen)
{
	uLongf clen;
	char *buf;

	*out = NULL;
	*outlen = 0;
	if (len >= TD_ATTRS_MIN_PACK) {
		clen = compressBound((uLong)len);
		if ((buf = malloc(clen)) == NULL) {
			return TD_ENOMEM;
		}
		if (compress2((Bytef *)buf, &clen, (const Bytef *)json, (uLong)len, PACK_LEVEL) ==
			Z_OK &&
		    clen < len) {
			*out = buf;
			*outlen = clen;
			return 0;
		}
		free(buf);
	}
	if ((buf = malloc(len + 1)) == NULL) {
		return TD_ENOMEM;
	}
	memcpy(buf, json, len);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

int
td_attrs_unpack(const char *val, size_t len, char **json, size_t *jsonlen)
{
	z_stream zs = { 0 };
	size_t cap, used = 0;
	char *buf = NULL, *nb;
	int zr, rv = TD_EPROTO;

	*json = NULL;
	if (jsonlen != NULL) {
		*jsonlen = 0;
	}
	if (len > 0 && val[0] == '{') {
		if ((buf = malloc(len + 1)) == NULL) {
			return TD_ENOMEM;
		}
		memcpy(buf, val, len);
		buf[len] = '\0';
		*json = buf;
		if (jsonlen != NULL) {
			*jsonlen = len;
		}
		return 0;
	}
	if (len < 2 || (unsigned char)val[0] != 0x78 || inflateInit(&zs) != Z_OK) {
		return TD_EPROTO;
	}
	cap = len * 4 + 64;
	if ((buf = malloc(cap + 1)) == NULL) {
		rv = TD_ENOMEM;
		goto out;
	}
	zs.next_in = (Bytef *)val;
	zs.avail_in = (uInt)len;
	for (;;) {
		zs.next_out = (Bytef *)buf + used;
		zs.avail_out = (uInt)(cap - used);
		zr = inflate(&zs, Z_NO_FLUSH);
		used = cap - zs.avail_out;
		if (zr == Z_STREAM_END) {
			break;
		}
		if ((zr != Z_OK && zr != Z_BUF_ERROR) || (zr == Z_BUF_ERROR && zs.avail_in == 0)) {
			goto out; /* corrupt, or truncated */
		}
		if (zs.avail_out == 0) {
			if (cap >= TD_ATTRS_MAX_JSON) {
				goto out;
			}
			cap = cap * 2 > TD_ATTRS_MAX_JSON ? TD_ATTRS_MAX_JSON : cap * 2;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				rv = TD_ENOMEM;
				goto out;
			}
			buf = nb;
		}
	}
	if (zs.avail_in != 0) {
		goto out; /* bytes after the stream */
	}
	buf[used] = '\0';
	*json = buf;
	buf = NULL;
	if (jsonlen != NULL) {
		*jsonlen = used;
	}
	rv = 0;
out:
	inflateEnd(&zs);
	free(buf);
	return rv;
}
