/* filewatch.c — see filewatch.h. */
#include "filewatch.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

int
filewatch_open(void)
{
	return inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
}

int
filewatch_add(int fd, const char *path, const char **base, char *dir, size_t dirlen)
{
	const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
	    IN_ATTRIB;
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(dir, dirlen, ".");
		*base = path;
	} else {
		snprintf(dir, dirlen, "%.*s", slash == path ? 1 : (int)(slash - path), path);
		*base = slash + 1;
	}
	return inotify_add_watch(fd, dir, mask);
}

void
filewatch_drain(int fd, void (*fn)(void *arg, int wd, const char *name), void *arg)
{
	union {
		struct inotify_event align; /* events are read aligned */
		char buf[8192];
	} u;
	const char *buf = u.buf;
	const struct inotify_event *ev;
	ssize_t n;
	const char *p;

	if (fd < 0) {
		return;
	}
	while ((n = read(fd, u.buf, sizeof(u.buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if ((ev->mask & IN_Q_OVERFLOW) != 0) {
				fn(arg, ev->wd, NULL);
			} else if (ev->len > 0) {
				fn(arg, ev->wd, ev->name);
			}
		}
	}
}
