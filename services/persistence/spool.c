/* spool.c — see spool.h. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "tfdrift/clock.h"
#include "tfdrift/log.h"

/* A record longer than this is taken as corruption (requests are far smaller). */
#define REC_MAX (256u * 1024u * 1024u)

typedef struct segment {
	uint64_t seq;
	int64_t created_ms;
	uint64_t alerts;
	uint64_t bytes;
} segment;

struct ps_spool {
	char *dir;
	int dirfd;
	pthread_mutex_t mu;
	segment *segs; /* ascending seq */
	size_t nsegs, cap;
	uint64_t next_seq;
	uint64_t bytes;     /* of every segment in segs */
	uint64_t reserved;  /* of appends being written */
	uint64_t max_bytes; /* 0 = no limit */
	bool full;          /* the last append was refused for room */
};

static void
seg_path(const ps_spool *s, uint64_t seq, int64_t created_ms, uint64_t alerts, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s/%020" PRIu64 "-%" PRId64 "-%" PRIu64 ".spool", s->dir, seq,
	    created_ms, alerts);
}

static int
mkdirs(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
				return -1;
			}
			*p = '/';
		}
	}
	if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
		return -1;
	}
	return 0;
}

static int
cmp_seg(const void *a, const void *b)
{
	const segment *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Adds a segment to the index (under mu, or before sharing). */
static int
add_seg(ps_spool *s, const segment *g)
{
	if (s->nsegs == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		segment *n = realloc(s->segs, cap * sizeof(*n));
		if (n == NULL) {
			return TD_ENOMEM;
		}
		s->segs = n;
		s->cap = cap;
	}
	s->segs[s->nsegs++] = *g;
	s->bytes += g->bytes;
	return 0;
}

/* "<seq>-<created_ms>-<alerts>.spool" -> g; -1 for any other name. */
static int
parse_name(const char *name, segment *g)
{
	char *end = NULL;
	errno = 0;
	g->seq = strtoull(name, &end, 10);
	if (errno != 0 || end == name || *end != '-') {
		return -1;
	}
	const char *p = end + 1;
	g->created_ms = strtoll(p, &end, 10);
	if (errno != 0 || end == p || *end != '-') {
		return -1;
	}
	p = end + 1;
	g->alerts = strtoull(p, &end, 10);
	if (errno != 0 || end == p || strcmp(end, ".spool") != 0) {
		return -1;
	}
	return 0;
}

/* *out owned by caller. */
int
ps_spool_open(ps_spool **out, const char *dir, td_error *err)
{
	int rv = TD_ENOMEM;
	DIR *d = NULL;
	*out = NULL;
	ps_spool *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->dir = strdup(dir)) == NULL) {
		free(s);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	s->dirfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	if (mkdirs(dir) != 0) {
		rv = td_error_set(err, TD_EIO, "spool %s: cannot create: %s", dir, strerror(errno));
		goto fail;
	}
	if ((s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rv = td_error_set(err, TD_EIO, "spool %s: cannot open: %s", dir, strerror(errno));
		goto fail;
	}
	if ((d = opendir(dir)) == NULL) {
		rv = td_error_set(err, TD_EIO, "spool %s: cannot list: %s", dir, strerror(errno));
		goto fail;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		if (strncmp(name, "tmp-", 4) == 0) {
			/* A crash mid-write: never acknowledged, so never promised. */
			unlinkat(s->dirfd, name, 0);
			TD_WARN("spool: removed a half-written segment", TD_KV_STR("file", name));
			continue;
		}
		segment g = { 0 };
		if (parse_name(name, &g) != 0) {
			continue;
		}
		struct stat st;
		if (fstatat(s->dirfd, name, &st, 0) == 0) {
			g.bytes = (uint64_t)st.st_size;
		}
		if (add_seg(s, &g) != 0) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto fail;
		}
		if (g.seq >= s->next_seq) {
			s->next_seq = g.seq + 1;
		}
	}
	closedir(d);
	d = NULL;
	if (s->nsegs > 1) {
		qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_seg);
	}
	if (s->next_seq == 0) {
		s->next_seq = 1;
	}
	*out = s;
	return 0;

fail:
	if (d != NULL) {
		closedir(d);
	}
	ps_spool_close(s);
	return rv;
}

void
ps_spool_close(ps_spool *s)
{
	if (s == NULL) {
		return;
	}
	if (s->dirfd >= 0) {
		close(s->dirfd);
	}
	pthread_mutex_destroy(&s->mu);
	free(s->segs);
	free(s->dir);
	free(s);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
ps_spool_append(ps_spool *s, const ps_spool_rec *recs, size_t n, uint64_t alerts, td_error *err)
{
	char tmp[64], final[4096];
	int fd = -1, rv = TD_EIO;
	uint64_t bytes = 0, need = 0;

	for (size_t i = 0; i < n; i++) {
		need += 8 + recs[i].len;
	}
	pthread_mutex_lock(&s->mu);
	if (s->max_bytes != 0 && s->bytes + s->reserved + need > s->max_bytes) {
		uint64_t used = s->bytes + s->reserved;
		s->full = true;
		pthread_mutex_unlock(&s->mu);
		return td_error_set(err, TD_EBUSY,
		    "spool full: %llu of %llu bytes used, %llu more needed",
		    (unsigned long long)used, (unsigned long long)s->max_bytes,
		    (unsigned long long)need);
	}
	s->reserved += need;
	uint64_t seq = s->next_seq++;
	pthread_mutex_unlock(&s->mu);
	int64_t created = td_clock_now_ns() / 1000000;
	snprintf(tmp, sizeof(tmp), "tmp-%020" PRIu64, seq);
	seg_path(s, seq, created, alerts, final, sizeof(final));

	if ((fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0) {
		td_error_set(err, TD_EIO, "spool %s: create %s: %s", s->dir, tmp, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t hdr[8];
		put_u32(hdr, (uint32_t)recs[i].len);
		put_u32(hdr + 4, (uint32_t)crc32(0L, recs[i].data, (uInt)recs[i].len));
		if (write_all(fd, hdr, sizeof(hdr)) != 0 ||
		    write_all(fd, recs[i].data, recs[i].len) != 0) {
			/* A full disk is a full spool: same answer to the sender. */
			bool nospace = errno == ENOSPC || errno == EDQUOT;
			td_error_set(err, nospace ? TD_EBUSY : TD_EIO, "spool %s: write: %s",
			    s->dir, strerror(errno));
			rv = nospace ? TD_EBUSY : TD_EIO;
			goto out;
		}
		bytes += sizeof(hdr) + recs[i].len;
	}
	if (fsync(fd) != 0) {
		bool nospace = errno == ENOSPC || errno == EDQUOT;
		td_error_set(err, nospace ? TD_EBUSY : TD_EIO, "spool %s: fsync: %s", s->dir,
		    strerror(errno));
		rv = nospace ? TD_EBUSY : TD_EIO;
		goto out;
	}
	close(fd);
	fd = -1;
	if (renameat(s->dirfd, tmp, AT_FDCWD, final) != 0) {
		td_error_set(err, TD_EIO, "spool %s: rename: %s", s->dir, strerror(errno));
		goto out;
	}
	if (fsync(s->dirfd) != 0) {
		/* The rename may not survive a power loss; the data file is
		 * intact, so report failure and let the sender resend. */
		td_error_set(err, TD_EIO, "spool %s: fsync directory: %s", s->dir, strerror(errno));
		unlink(final);
		goto out;
	}
	segment g = { .seq = seq, .created_ms = created, .alerts = alerts, .bytes = bytes };
	pthread_mutex_lock(&s->mu);
	s->reserved -= need;
	need = 0;
	rv = add_seg(s, &g);
	if (rv == 0) {
		s->full = false;
	}
	/* Appends may finish out of order; keep the index ascending. */
	if (rv == 0 && s->nsegs > 1 && s->segs[s->nsegs - 2].seq > seq) {
		qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_seg);
	}
	pthread_mutex_unlock(&s->mu);
	if (rv != 0) {
		td_error_set(err, rv, "out of memory");
		unlink(final);
	}

out:
	if (fd >= 0) {
		close(fd);
	}
	if (rv != 0) {
		unlinkat(s->dirfd, tmp, 0);
	}
	if (need != 0) {
		pthread_mutex_lock(&s->mu);
		s->reserved -= need;
		if (rv == TD_EBUSY) {
			s->full = true;
		}
		pthread_mutex_unlock(&s->mu);
	}
	return rv;
}

void
ps_spool_set_max(ps_spool *s, uint64_t max_bytes)
{
	pthread_mutex_lock(&s->mu);
	s->max_bytes = max_bytes;
	pthread_mutex_unlock(&s->mu);
}

int
ps_spool_oldest(ps_spool *s, uint64_t *seq)
{
	int rv = TD_ENOTFOUND;
	pthread_mutex_lock(&s->mu);
	if (s->nsegs > 0) {
		*seq = s->segs[0].seq;
		rv = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rv;
}

/* Finds seq; copies the entry.  Under mu. */
static int
find_seg(const ps_spool *s, uint64_t seq, segment *out)
{
	for (size_t i = 0; i < s->nsegs; i++) {
		if (s->segs[i].seq == seq) {
			*out = s->segs[i];
			return (int)i;
		}
	}
	return -1;
}

/* *recs owned by caller (one block). */
int
ps_spool_read(ps_spool *s, uint64_t seq, ps_spool_rec **recs, size_t *n, int *corrupt,
    td_error *err)
{
	segment g;
	char path[4096];
	uint8_t *data = NULL;
	FILE *f = NULL;
	int rv = TD_EIO;
	*recs = NULL;
	*n = 0;
	*corrupt = 0;

	pthread_mutex_lock(&s->mu);
	int at = find_seg(s, seq, &g);
	pthread_mutex_unlock(&s->mu);
	if (at < 0) {
		return TD_ENOTFOUND;
	}
	seg_path(s, g.seq, g.created_ms, g.alerts, path, sizeof(path));
	if ((f = fopen(path, "rb")) == NULL) {
		return td_error_set(err, TD_EIO, "spool: open %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0) {
		td_error_set(err, TD_EIO, "spool: stat %s: %s", path, strerror(errno));
		goto out;
	}
	size_t size = (size_t)st.st_size;
	/* Records point into the bytes that follow the record array. */
	size_t maxrecs = size / 8 + 1;
	uint8_t *block = malloc(maxrecs * sizeof(ps_spool_rec) + size + 1);
	if (block == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	ps_spool_rec *r = (ps_spool_rec *)(void *)block;
	data = block + maxrecs * sizeof(ps_spool_rec);
	if (size > 0 && fread(data, 1, size, f) != size) {
		free(block);
		td_error_set(err, TD_EIO, "spool: read %s: short read", path);
		goto out;
	}
	size_t off = 0, k = 0;
	while (off + 8 <= size) {
		uint32_t len = get_u32(data + off);
		uint32_t crc = get_u32(data + off + 4);
		if (len > REC_MAX || off + 8 + len > size ||
		    (uint32_t)crc32(0L, data + off + 8, len) != crc) {
			*corrupt = 1;
			break;
		}
		r[k].data = data + off + 8;
		r[k].len = len;
		k++;
		off += 8 + (size_t)len;
	}
	if (off != size) {
		*corrupt = 1;
	}
	*recs = r;
	*n = k;
	rv = 0;

out:
	fclose(f);
	return rv;
}

int
ps_spool_remove(ps_spool *s, uint64_t seq)
{
	segment g;
	char path[4096];
	pthread_mutex_lock(&s->mu);
	int at = find_seg(s, seq, &g);
	if (at >= 0) {
		memmove(&s->segs[at], &s->segs[at + 1],
		    (s->nsegs - (size_t)at - 1) * sizeof(segment));
		s->nsegs--;
		s->bytes -= g.bytes;
		s->full = false; /* room again, probably: the next append tells */
	}
	pthread_mutex_unlock(&s->mu);
	if (at < 0) {
		return TD_ENOTFOUND;
	}
	seg_path(s, g.seq, g.created_ms, g.alerts, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT) {
		return TD_EIO;
	}
	/* Not fatal if lost: the segment would be stored again as duplicates. */
	fsync(s->dirfd);
	return 0;
}

void
ps_spool_get_stats(ps_spool *s, ps_spool_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->mu);
	st->segments = s->nsegs;
	st->bytes = s->bytes;
	st->max_bytes = s->max_bytes;
	st->full = s->full;
	for (size_t i = 0; i < s->nsegs; i++) {
		st->alerts += s->segs[i].alerts;
		if (st->oldest_ms == 0 || s->segs[i].created_ms < st->oldest_ms) {
			st->oldest_ms = s->segs[i].created_ms;
		}
	}
	pthread_mutex_unlock(&s->mu);
}
