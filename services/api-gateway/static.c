/* static.c — see static.h.
 *
 * Containment is checked twice: the path is refused outright if any segment
 * could climb ("." / ".."), and the opened file's real path (the kernel's
 * /proc/self/fd link, so it is the file actually opened, not a name that can
 * be swapped afterwards) must lie under the root's real path, which catches
 * a symlink pointing out of the root. */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INDEX "index.html"
#define CC_INDEX "no-cache"
#define CC_HASHED "public, max-age=31536000, immutable"
#define CC_OTHER "public, max-age=300"

struct gw_static {
	int dirfd;           /* O_PATH|O_DIRECTORY on the root */
	char real[PATH_MAX]; /* the root's realpath */
	size_t real_len;
};

static const struct {
	const char *ext; /* without the dot, lower case */
	const char *ctype;
} ctypes[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "json", "application/json; charset=utf-8" },
	{ "map", "application/json; charset=utf-8" },
	{ "webmanifest", "application/manifest+json" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "avif", "image/avif" },
	{ "ico", "image/x-icon" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "otf", "font/otf" },
	{ "wasm", "application/wasm" },
	{ "xml", "application/xml" },
	{ "pdf", "application/pdf" },
};

const char *
gw_static_ctype(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash != NULL ? slash + 1 : name;
	const char *dot = strrchr(base, '.');
	if (dot != NULL && dot != base) {
		for (size_t i = 0; i < sizeof(ctypes) / sizeof(ctypes[0]); i++) {
			if (strcasecmp(dot + 1, ctypes[i].ext) == 0) {
				return ctypes[i].ctype;
			}
		}
	}
	return "application/octet-stream";
}

int
gw_static_new(gw_static **out, const char *root, td_error *err)
{
	*out = NULL;
	gw_static *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	if (realpath(root, st->real) == NULL) {
		int e = errno;
		free(st);
		return td_error_set(err, TD_EINVAL, "api_gateway.static_dir: '%s': %s", root,
		    strerror(e));
	}
	st->real_len = strlen(st->real);
	st->dirfd = open(st->real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		int e = errno;
		free(st);
		return td_error_set(err, TD_EINVAL, "api_gateway.static_dir: '%s': %s", root,
		    e == ENOTDIR ? "not a directory" : strerror(e));
	}
	*out = st;
	return 0;
}

void
gw_static_free(gw_static *st)
{
	if (st == NULL) {
		return;
	}
	close(st->dirfd);
	free(st);
}

/* True when every segment of rel (no leading '/') is a plain name. */
static bool
path_ok(const char *rel)
{
	const char *seg = rel;
	for (const char *p = rel;; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '/' || c == '\0') {
			size_t n = (size_t)(p - seg);
			if ((n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.')) {
				return false;
			}
			if (c == '\0') {
				return true;
			}
			seg = p + 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c == '\\' || c == '%') {
			return false;
		}
	}
}

/* True when a segment of rel starts with '.': dotfiles (.env, .git/, .htpasswd)
 * are never served. */
static bool
has_dotfile(const char *rel)
{
	return rel[0] == '.' || strstr(rel, "/.") != NULL;
}

/* A client-side route rather than a missing file: outside assets/, and the
 * last segment has no '.' after its first character, or an extension no
 * file type has (a Terraform address: /resources/aws_instance.web[0]). */
static bool
looks_like_route(const char *rel)
{
	const char *slash = strrchr(rel, '/');
	const char *base = slash != NULL ? slash + 1 : rel;
	if (strncmp(rel, "assets/", 7) == 0) {
		return false;
	}
	return strchr(base[0] == '.' ? base + 1 : base, '.') == NULL ||
	    strcmp(gw_static_ctype(base), "application/octet-stream") == 0;
}

/* Opens rel under the root as a regular file, only if its real path stays
 * under the root.  Returns the fd or -1.  O_NONBLOCK: opening a FIFO (or a
 * device) for reading must not wait for a writer; fstat then refuses
 * anything but a regular file. */
static int
open_beneath(const gw_static *st, const char *rel, struct stat *sb)
{
	int fd = openat(st->dirfd, rel[0] != '\0' ? rel : ".",
	    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		return -1;
	}
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
		goto refuse;
	}
	char link[64];
	char real[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, real, sizeof(real) - 1);
	if (n < 0) {
		goto refuse;
	}
	real[n] = '\0';
	if (strncmp(real, st->real, st->real_len) != 0 ||
	    (real[st->real_len] != '/' && !(st->real_len == 1 && st->real[0] == '/'))) {
		goto refuse;
	}
	/* a regular file never blocks; reads go back to plain blocking mode */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		goto refuse;
	}
	return fd;
refuse:
	close(fd);
	return -1;
}

/* Does the If-None-Match list hold etag (or "*")?  Weak tags compare by
 * their opaque part (RFC 9110 13.1.2: weak comparison for GET). */
static bool
etag_matches(const char *list, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = list;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',') {
			p++;
		}
		if (*p == '*') {
			return true;
		}
		if (p[0] == 'W' && p[1] == '/') {
			p += 2;
		}
		if (strncmp(p, etag, elen) == 0 &&
		    (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' || p[elen] == '\t')) {
			return true;
		}
		while (*p != '\0' && *p != ',') {
			p++;
		}
	}
	return false;
}

static bool
not_modified_since(const char *ims, time_t mtime)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0') {
		return false; /* unparseable: ignore the header (RFC 9110 13.1.3) */
	}
	return mtime <= timegm(&tm);
}

static const char *
cache_control(const char *rel)
{
	if (strcmp(rel, INDEX) == 0) {
		return CC_INDEX;
	}
	if (strncmp(rel, "assets/", 7) == 0) {
		return CC_HASHED;
	}
	return CC_OTHER;
}

void
gw_static_resolve(const gw_static *st, const char *path, const char *if_none_match,
    const char *if_modified_since, gw_static_file *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	while (*path == '/') {
		path++;
	}
	if (!path_ok(path)) {
		f->status = 400;
		f->why = "the path is not a plain file name under the web root";
		return;
	}
	if (has_dotfile(path)) {
		f->status = 404;
		f->why = "no such file";
		return;
	}
	const char *rel = path;
	bool is_index = rel[0] == '\0' || rel[strlen(rel) - 1] == '/';
	if (is_index) {
		rel = INDEX;
	}
	struct stat sb;
	int fd = open_beneath(st, rel, &sb);
	if (fd < 0 && !is_index && looks_like_route(rel)) {
		rel = INDEX; /* a client-side route: the UI's router takes it */
		fd = open_beneath(st, rel, &sb);
	}
	if (fd < 0) {
		f->status = 404;
		f->why = "no such file";
		return;
	}
	f->ctype = gw_static_ctype(rel);
	f->cache_control = cache_control(rel);
	snprintf(f->etag, sizeof(f->etag), "\"%" PRIx64 "-%" PRIx64 "-%lx\"", (uint64_t)sb.st_size,
	    (uint64_t)sb.st_mtim.tv_sec, (unsigned long)sb.st_mtim.tv_nsec);
	struct tm tm;
	gmtime_r(&sb.st_mtim.tv_sec, &tm);
	strftime(f->last_modified, sizeof(f->last_modified), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	bool fresh = if_none_match != NULL
	    ? etag_matches(if_none_match, f->etag)
	    : (if_modified_since != NULL &&
		  not_modified_since(if_modified_since, sb.st_mtim.tv_sec));
	if (fresh) {
		close(fd);
		f->status = 304;
		return;
	}
	f->status = 200;
	f->fd = fd;
	f->size = (uint64_t)sb.st_size;
}
