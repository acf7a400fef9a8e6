/* file.c — td_file_read. */
#include "tfdrift/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
td_file_read(const char *path, size_t max_bytes, char **out, size_t *len, td_error *err)
{
	struct stat sb;
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0;
	int fd, rv = 0;

	*out = NULL;
	if (len != NULL) {
		*len = 0;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return td_error_set(err, TD_EIO, "%s: cannot open: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0) {
		rv = td_error_set(err, TD_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	/* st_size is a hint (0 for special files); one more byte sees the end */
	cap = S_ISREG(sb.st_mode) && sb.st_size > 0 ? (size_t)sb.st_size + 1 : 4096;
	if (max_bytes != 0 && cap > max_bytes + 1) {
		cap = max_bytes + 1;
	}
	if ((buf = malloc(cap + 1)) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if ((nb = realloc(buf, 2 * cap + 1)) == NULL) {
				rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			rv = td_error_set(err, TD_EIO, "%s: cannot read: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
		if (max_bytes != 0 && n > max_bytes) {
			rv = td_error_set(err, TD_ETOOBIG, "%s: larger than %zu bytes", path,
			    max_bytes);
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	if (len != NULL) {
		*len = n;
	}
out:
	close(fd);
	free(buf);
	return rv;
}
