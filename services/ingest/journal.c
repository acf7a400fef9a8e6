/* journal.c — segmented, checksummed, bounded on-disk journal (see journal.h). */
#include "journal.h"

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
#include <sys/uio.h>
#include <unistd.h>

#include <zlib.h>

#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

#define JRN_MAGIC 0x314a4454u /* "TDJ1" little-endian */
#define SEG_PREFIX "seg-"
#define SEG_SUFFIX ".jrn"

typedef struct segment {
	uint64_t id;
	int fd;
	uint64_t bytes; /* size on disk */
	size_t live;    /* pending entries in it */
} segment;

typedef struct entry {
	uint64_t seq;
	segment *seg;
	uint64_t off; /* of the payload */
	uint32_t len;
	bool released;
} entry;

struct jrn {
	pthread_mutex_t mu;
	char *dir;
	jrn_opts o;
	segment **segs; /* oldest first; the last is the active one */
	size_t nsegs, capsegs;
	entry *ents; /* ascending seq; [head, nents) may still be pending */
	size_t head, nents, capents;
	size_t pending;
	uint64_t total_bytes;
	uint64_t next_seq;
	int64_t last_sync_ms;
	uint64_t *recovered;
	size_t nrecovered;
	td_gauge *g_bytes, *g_entries;
	td_counter *c_full, *c_corrupt;
	int write_errno; /* errno of the last failed append, 0 after one succeeds */
};

int
jrn_fsync_parse(const char *s, jrn_fsync *out)
{
	static const struct {
		const char *name;
		jrn_fsync v;
	} names[] = { { "always", JRN_FSYNC_ALWAYS }, { "interval", JRN_FSYNC_INTERVAL },
		{ "off", JRN_FSYNC_OFF } };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (s != NULL && strcmp(s, names[i].name) == 0) {
			*out = names[i].v;
			return 0;
		}
	return TD_EINVAL;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t
record_crc(uint64_t seq, const uint8_t *data, size_t len)
{
	uint8_t s[8];
	uLong c;

	put64(s, seq);
	c = crc32(0L, s, sizeof(s));
	/* zlib takes uInt lengths; payloads are bounded well below 4 GiB */
	c = crc32(c, data, (uInt)len);
	return (uint32_t)c;
}

/* record_crc from the payload's own CRC (computed before the sequence number
 * is known, outside the lock): CRC(seq || data) = combine(CRC(seq), CRC(data)). */
static uint32_t
record_crc_combine(uint64_t seq, uLong data_crc, size_t len)
{
	uint8_t s[8];

	put64(s, seq);
	return (uint32_t)crc32_combine(crc32(0L, s, sizeof(s)), data_crc, (z_off_t)len);
}

static void
seg_path(const jrn *j, uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" SEG_PREFIX "%020" PRIu64 SEG_SUFFIX, j->dir, id);
}

static void
update_gauges(jrn *j)
{
	td_gauge_set(j->g_bytes, (double)j->total_bytes);
	td_gauge_set(j->g_entries, (double)j->pending);
}

static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return TD_EIO;
	(void)fsync(fd);
	close(fd);
	return 0;
}

/* Appends a segment pointer to j->segs; takes ownership of s. */
static int
segs_push(jrn *j, segment *s)
{
	if (j->nsegs == j->capsegs) {
		size_t cap = j->capsegs ? j->capsegs * 2 : 8;
		segment **n = realloc(j->segs, cap * sizeof(*n));
		if (n == NULL)
			return TD_ENOMEM;
		j->segs = n;
		j->capsegs = cap;
	}
	j->segs[j->nsegs++] = s;
	return 0;
}

static int
ents_push(jrn *j, const entry *e)
{
	if (j->nents == j->capents) {
		/* drop the released prefix before growing */
		if (j->head > 0) {
			memmove(j->ents, j->ents + j->head,
			    (j->nents - j->head) * sizeof(*j->ents));
			j->nents -= j->head;
			j->head = 0;
		}
		if (j->nents == j->capents) {
			size_t cap = j->capents ? j->capents * 2 : 1024;
			entry *n = realloc(j->ents, cap * sizeof(*n));
			if (n == NULL)
				return TD_ENOMEM;
			j->ents = n;
			j->capents = cap;
		}
	}
	j->ents[j->nents++] = *e;
	return 0;
}

/* Closes and deletes s, removing it from j->segs. */
static void
seg_drop(jrn *j, segment *s)
{
	char path[4096];

	seg_path(j, s->id, path, sizeof(path));
	if (unlink(path) != 0)
		TD_WARN("journal: cannot delete a released segment", TD_KV_STR("file", path),
		    TD_KV_STR("error", strerror(errno)));
	close(s->fd);
	j->total_bytes -= s->bytes;
	for (size_t i = 0; i < j->nsegs; i++)
		if (j->segs[i] == s) {
			memmove(j->segs + i, j->segs + i + 1,
			    (j->nsegs - i - 1) * sizeof(*j->segs));
			j->nsegs--;
			break;
		}
	free(s);
}

static int
seg_create(jrn *j, uint64_t id)
{
	char path[4096];
	segment *s;
	int rv;

	seg_path(j, id, path, sizeof(path));
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TD_ENOMEM;
	s->id = id;
	s->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		TD_ERROR("journal: cannot create a segment", TD_KV_STR("file", path),
		    TD_KV_STR("error", strerror(errno)));
		free(s);
		return TD_EIO;
	}
	if ((rv = segs_push(j, s)) != 0) {
		close(s->fd);
		free(s);
		return rv;
	}
	if (j->o.fsync != JRN_FSYNC_OFF)
		(void)sync_dir(j->dir);
	return 0;
}

/* Reads segment s (already open) record by record, indexing sound records.
 * A record that is not sound ends the segment: logged, counted, truncated. */
static int
seg_recover(jrn *j, segment *s, const char *path)
{
	struct stat st;
	uint64_t off = 0;
	uint8_t hdr[JRN_HEADER_BYTES];
	uint8_t *buf = NULL;
	size_t bufcap = 0;
	const char *why = NULL;
	int rv = 0;

	if (fstat(s->fd, &st) != 0)
		return TD_EIO;
	while (off < (uint64_t)st.st_size) {
		uint32_t len, crc;
		uint64_t seq;
		entry e;

		if ((uint64_t)st.st_size - off < JRN_HEADER_BYTES) {
			why = "a record header is cut short";
			break;
		}
		if (pread(s->fd, hdr, sizeof(hdr), (off_t)off) != (ssize_t)sizeof(hdr)) {
			why = "a record header cannot be read";
			break;
		}
		len = get32(hdr + 4);
		seq = get64(hdr + 8);
		crc = get32(hdr + 16);
		if (get32(hdr) != JRN_MAGIC) {
			why = "a record header has the wrong magic number";
			break;
		}
		if ((uint64_t)len > (uint64_t)st.st_size - off - JRN_HEADER_BYTES) {
			why = "a record's payload is cut short";
			break;
		}
		if (len > bufcap) {
			uint8_t *n = realloc(buf, len);
			if (n == NULL) {
				rv = TD_ENOMEM;
				goto out;
			}
			buf = n;
			bufcap = len;
		}
		if (len > 0 &&
		    pread(s->fd, buf, len, (off_t)(off + JRN_HEADER_BYTES)) != (ssize_t)len) {
			why = "a record's payload cannot be read";
			break;
		}
		if (record_crc(seq, buf, len) != crc) {
			why = "a record's checksum does not match";
			break;
		}
		if (seq < j->next_seq) {
			why = "a record's sequence number goes backwards";
			break;
		}
		e = (entry){ .seq = seq, .seg = s, .off = off + JRN_HEADER_BYTES, .len = len };
		if ((rv = ents_push(j, &e)) != 0)
			goto out;
		j->next_seq = seq + 1;
		s->live++;
		j->pending++;
		off += JRN_HEADER_BYTES + len;
	}
	if (why != NULL) {
		td_counter_inc(j->c_corrupt);
		TD_WARN("journal: corrupt record skipped; the rest of the segment is dropped",
		    TD_KV_STR("file", path), TD_KV_UINT("offset", off), TD_KV_STR("reason", why),
		    TD_KV_UINT("bytes_dropped", (uint64_t)st.st_size - off));
		if (ftruncate(s->fd, (off_t)off) != 0)
			TD_WARN("journal: cannot truncate the corrupt segment",
			    TD_KV_STR("file", path), TD_KV_STR("error", strerror(errno)));
	}
	s->bytes = off;
	j->total_bytes += off;
out:
	free(buf);
	return rv;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Finds the segment ids in j->dir, ascending.  *ids malloc'd, owned by caller. */
static int
list_segments(jrn *j, uint64_t **ids, size_t *n, td_error *err)
{
	DIR *d;
	struct dirent *de;
	uint64_t *v = NULL;
	size_t cnt = 0, cap = 0;

	*ids = NULL;
	*n = 0;
	d = opendir(j->dir);
	if (d == NULL)
		return td_error_set(err, TD_EIO, "%s: %s", j->dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		unsigned long long id;
		char *end;
		const char *name = de->d_name;

		if (strncmp(name, SEG_PREFIX, strlen(SEG_PREFIX)) != 0)
			continue;
		name += strlen(SEG_PREFIX);
		if (*name < '0' || *name > '9')
			continue;
		id = strtoull(name, &end, 10);
		if (strcmp(end, SEG_SUFFIX) != 0)
			continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			uint64_t *nv = realloc(v, nc * sizeof(*nv));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return td_error_set(err, TD_ENOMEM, "out of memory");
			}
			v = nv;
			cap = nc;
		}
		v[cnt++] = id;
	}
	closedir(d);
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), cmp_u64);
	*ids = v;
	*n = cnt;
	return 0;
}

static int
recover(jrn *j, td_error *err)
{
	uint64_t *ids = NULL, next_id = 1;
	size_t n = 0;
	int rv;

	if ((rv = list_segments(j, &ids, &n, err)) != 0)
		return rv;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		segment *s;

		seg_path(j, ids[i], path, sizeof(path));
		next_id = ids[i] + 1;
		s = calloc(1, sizeof(*s));
		if (s == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		s->id = ids[i];
		s->fd = open(path, O_RDWR | O_CLOEXEC);
		if (s->fd < 0) {
			rv = td_error_set(err, TD_EIO, "%s: %s", path, strerror(errno));
			free(s);
			goto out;
		}
		if ((rv = segs_push(j, s)) != 0) {
			close(s->fd);
			free(s);
			td_error_set(err, rv, "out of memory");
			goto out;
		}
		if ((rv = seg_recover(j, s, path)) != 0) {
			td_error_set(err, rv, "%s: cannot recover", path);
			goto out;
		}
		if (s->live == 0)
			seg_drop(j, s);
	}
	j->nrecovered = j->pending;
	if (j->pending > 0) {
		j->recovered = malloc(j->pending * sizeof(*j->recovered));
		if (j->recovered == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < j->pending; i++)
			j->recovered[i] = j->ents[i].seq;
	}
	if (j->next_seq == 0)
		j->next_seq = 1;
	/* appends always go to a fresh segment, never after a recovered tail */
	if ((rv = seg_create(j, next_id)) != 0)
		td_error_set(err, rv, "%s: cannot create a journal segment", j->dir);
out:
	free(ids);
	return rv;
}

int
jrn_open(jrn **out, const jrn_opts *opts, td_error *err)
{
	jrn *j;
	int rv;

	*out = NULL;
	if (opts->max_bytes < JRN_HEADER_BYTES || opts->segment_bytes == 0)
		return td_error_set(err, TD_EINVAL,
		    "journal: max_bytes and segment_bytes must be positive");
	if (mkdir(opts->dir, 0700) != 0 && errno != EEXIST)
		return td_error_set(err, TD_EIO, "%s: cannot create the journal directory: %s",
		    opts->dir, strerror(errno));
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	pthread_mutex_init(&j->mu, NULL);
	j->o = *opts;
	j->dir = strdup(opts->dir);
	j->o.dir = j->dir;
	j->g_bytes = td_gauge_get("tfdrift_ingest_journal_bytes",
	    "Bytes of journal segments on disk.", NULL);
	j->g_entries = td_gauge_get("tfdrift_ingest_journal_entries",
	    "Journal entries not yet acknowledged by a correlator.", NULL);
	j->c_full = td_counter_get("tfdrift_ingest_journal_full_total",
	    "Appends refused because the journal was full (inputs pushed back).", NULL);
	j->c_corrupt = td_counter_get("tfdrift_ingest_journal_corrupt_records_total",
	    "Corrupt journal records found (and skipped) when opening the journal.", NULL);
	if (j->dir == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rv = recover(j, err)) != 0)
		goto fail;
	j->last_sync_ms = td_clock_mono_ms();
	update_gauges(j);
	if (j->pending > 0)
		TD_INFO("journal: unacknowledged entries found; they are sent again",
		    TD_KV_STR("dir", j->dir), TD_KV_UINT("entries", j->pending),
		    TD_KV_UINT("bytes", j->total_bytes));
	*out = j;
	return 0;
fail:
	jrn_close(j);
	return rv;
}

int
jrn_recovered(jrn *j, uint64_t **seqs, size_t *n)
{
	pthread_mutex_lock(&j->mu);
	*seqs = j->recovered;
	*n = j->nrecovered;
	j->recovered = NULL;
	j->nrecovered = 0;
	pthread_mutex_unlock(&j->mu);
	return 0;
}

/* Writes all of buf at off; 0 or TD_EIO. */
static int
write_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, buf, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return TD_EIO;
		buf += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Writes a record's header and payload at off with one system call (the
 * payload is not copied); 0 or TD_EIO. */
static int
write_record(int fd, const uint8_t *hdr, const uint8_t *data, size_t len, uint64_t off)
{
	struct iovec iov[2] = { { .iov_base = (void *)hdr, .iov_len = JRN_HEADER_BYTES },
		{ .iov_base = (void *)data, .iov_len = len } };
	ssize_t w;
	size_t done;
	int rv;

	do
		w = pwritev(fd, iov, len > 0 ? 2 : 1, (off_t)off);
	while (w < 0 && errno == EINTR);
	if (w <= 0)
		return TD_EIO;
	/* a short write: the rest one piece at a time */
	done = (size_t)w;
	if (done < JRN_HEADER_BYTES) {
		if ((rv = write_all(fd, hdr + done, JRN_HEADER_BYTES - done, off + done)) != 0)
			return rv;
		done = JRN_HEADER_BYTES;
	}
	return write_all(fd, data + (done - JRN_HEADER_BYTES), len - (done - JRN_HEADER_BYTES),
	    off + done);
}

int
jrn_append(jrn *j, const uint8_t *data, size_t len, uint64_t *seq)
{
	uint64_t rec = JRN_HEADER_BYTES + (uint64_t)len;
	uint8_t hdr[JRN_HEADER_BYTES];
	uLong data_crc;
	segment *s;
	entry e;
	int rv = 0, sync_fd = -1;

	if (rec > j->o.max_bytes || len > UINT32_MAX)
		return TD_ETOOBIG;
	/* the payload's CRC before taking the lock: appends from many inputs
	 * overlap in it */
	data_crc = crc32(0L, data, (uInt)len);
	pthread_mutex_lock(&j->mu);
	if (j->total_bytes + rec > j->o.max_bytes) {
		td_counter_inc(j->c_full);
		rv = TD_EBUSY;
		goto out;
	}
	s = j->segs[j->nsegs - 1];
	if (s->bytes > 0 && s->bytes + rec > j->o.segment_bytes) {
		segment *old = s;
		if ((rv = seg_create(j, old->id + 1)) != 0) {
			if (rv == TD_EIO)
				j->write_errno = errno != 0 ? errno : EIO;
			goto out;
		}
		if (j->o.fsync != JRN_FSYNC_OFF)
			(void)fdatasync(old->fd);
		if (old->live == 0)
			seg_drop(j, old);
		s = j->segs[j->nsegs - 1];
	}
	e = (entry){ .seq = j->next_seq,
		.seg = s,
		.off = s->bytes + JRN_HEADER_BYTES,
		.len = (uint32_t)len };
	put32(hdr, JRN_MAGIC);
	put32(hdr + 4, (uint32_t)len);
	put64(hdr + 8, e.seq);
	put32(hdr + 16, record_crc_combine(e.seq, data_crc, len));
	put32(hdr + 20, 0);
	if ((rv = write_record(s->fd, hdr, data, len, s->bytes)) != 0) {
		j->write_errno = errno != 0 ? errno : EIO;
		TD_ERROR("journal: write failed", TD_KV_STR("dir", j->dir),
		    TD_KV_STR("error", strerror(errno)));
		/* cut back anything half-written so the segment stays sound */
		(void)ftruncate(s->fd, (off_t)s->bytes);
		goto out;
	}
	if (j->o.fsync == JRN_FSYNC_INTERVAL &&
	    td_clock_mono_ms() - j->last_sync_ms >= j->o.fsync_interval_ms) {
		/* this append syncs, after the lock is released: the appends of
		 * other inputs do not wait for the disk meanwhile */
		sync_fd = dup(s->fd);
		j->last_sync_ms = td_clock_mono_ms();
	}
	if (j->o.fsync == JRN_FSYNC_ALWAYS) {
		if (fdatasync(s->fd) != 0) {
			j->write_errno = errno != 0 ? errno : EIO;
			TD_ERROR("journal: fdatasync failed", TD_KV_STR("dir", j->dir),
			    TD_KV_STR("error", strerror(errno)));
			(void)ftruncate(s->fd, (off_t)s->bytes);
			rv = TD_EIO;
			goto out;
		}
		j->last_sync_ms = td_clock_mono_ms();
	}
	if ((rv = ents_push(j, &e)) != 0) {
		(void)ftruncate(s->fd, (off_t)s->bytes);
		goto out;
	}
	s->bytes += rec;
	s->live++;
	j->total_bytes += rec;
	j->pending++;
	j->next_seq++;
	j->write_errno = 0;
	*seq = e.seq;
	update_gauges(j);
out:
	pthread_mutex_unlock(&j->mu);
	if (sync_fd >= 0) {
		/* interval mode bounds what a machine crash loses, so a failed sync
		 * is logged and the next interval tries again; the entry stands */
		if (rv == 0 && fdatasync(sync_fd) != 0)
			TD_ERROR("journal: fdatasync failed", TD_KV_STR("dir", j->dir),
			    TD_KV_STR("error", strerror(errno)));
		close(sync_fd);
	}
	return rv;
}

/* The index of seq among the entries, or -1.  Caller holds mu. */
static ptrdiff_t
find(const jrn *j, uint64_t seq)
{
	size_t lo = j->head, hi = j->nents;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (j->ents[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < j->nents && j->ents[lo].seq == seq && !j->ents[lo].released)
		return (ptrdiff_t)lo;
	return -1;
}

int
jrn_read(jrn *j, uint64_t seq, uint8_t **data, size_t *len)
{
	uint8_t hdr[JRN_HEADER_BYTES];
	uint8_t *buf = NULL;
	entry e;
	ptrdiff_t i;
	int rv = 0;

	*data = NULL;
	*len = 0;
	pthread_mutex_lock(&j->mu);
	i = find(j, seq);
	if (i >= 0)
		e = j->ents[i];
	pthread_mutex_unlock(&j->mu);
	if (i < 0)
		return TD_ENOTFOUND;
	buf = malloc(e.len > 0 ? e.len : 1);
	if (buf == NULL)
		return TD_ENOMEM;
	if (pread(e.seg->fd, hdr, sizeof(hdr), (off_t)(e.off - JRN_HEADER_BYTES)) !=
		(ssize_t)sizeof(hdr) ||
	    (e.len > 0 && pread(e.seg->fd, buf, e.len, (off_t)e.off) != (ssize_t)e.len) ||
	    get32(hdr + 16) != record_crc(seq, buf, e.len)) {
		TD_ERROR("journal: an entry no longer matches its checksum",
		    TD_KV_STR("dir", j->dir), TD_KV_UINT("seq", seq));
		rv = TD_EIO;
		goto out;
	}
	*data = buf;
	*len = e.len;
	buf = NULL;
out:
	free(buf);
	return rv;
}

int
jrn_check(jrn *j, char *why, size_t whylen)
{
	struct stat st;
	int write_errno;

	/* the directory, not the open segment: a directory removed or remounted
	 * read-only under a running ingest would otherwise take appends into
	 * files no restart can find */
	if (stat(j->dir, &st) != 0) {
		snprintf(why, whylen, "journal directory %s: %s", j->dir, strerror(errno));
		return TD_EIO;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "journal directory %s is not a directory", j->dir);
		return TD_EIO;
	}
	if (access(j->dir, W_OK) != 0) {
		snprintf(why, whylen, "journal directory %s is not writable: %s", j->dir,
		    strerror(errno));
		return TD_EIO;
	}
	pthread_mutex_lock(&j->mu);
	write_errno = j->write_errno;
	/* a segment deleted under us takes appends no restart would find */
	bool unlinked = j->nsegs > 0 && fstat(j->segs[j->nsegs - 1]->fd, &st) == 0 &&
	    st.st_nlink == 0;
	pthread_mutex_unlock(&j->mu);
	if (unlinked) {
		snprintf(why, whylen,
		    "the journal's active segment in %s was deleted; restart ingest", j->dir);
		return TD_EIO;
	}
	if (write_errno != 0) {
		snprintf(why, whylen, "the last journal write in %s failed: %s", j->dir,
		    strerror(write_errno));
		return TD_EIO;
	}
	return 0;
}

int
jrn_release(jrn *j, uint64_t seq)
{
	ptrdiff_t i;
	segment *s;

	pthread_mutex_lock(&j->mu);
	i = find(j, seq);
	if (i < 0) {
		pthread_mutex_unlock(&j->mu);
		return TD_ENOTFOUND;
	}
	j->ents[i].released = true;
	s = j->ents[i].seg;
	s->live--;
	j->pending--;
	while (j->head < j->nents && j->ents[j->head].released)
		j->head++;
	if (j->head == j->nents)
		j->head = j->nents = 0;
	if (s->live == 0 && s != j->segs[j->nsegs - 1])
		seg_drop(j, s);
	update_gauges(j);
	pthread_mutex_unlock(&j->mu);
	return 0;
}

size_t
jrn_pending(jrn *j)
{
	size_t n;

	pthread_mutex_lock(&j->mu);
	n = j->pending;
	pthread_mutex_unlock(&j->mu);
	return n;
}

uint64_t
jrn_bytes(jrn *j)
{
	uint64_t n;

	pthread_mutex_lock(&j->mu);
	n = j->total_bytes;
	pthread_mutex_unlock(&j->mu);
	return n;
}

void
jrn_close(jrn *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->nsegs; i++) {
		segment *s = j->segs[i];
		char path[4096];

		if (s->live == 0) {
			/* all acknowledged: nothing of it needs sending after a restart */
			seg_path(j, s->id, path, sizeof(path));
			(void)unlink(path);
		} else if (j->o.fsync != JRN_FSYNC_OFF) {
			(void)fdatasync(s->fd);
		}
		close(s->fd);
		free(s);
	}
	free(j->segs);
	free(j->ents);
	free(j->recovered);
	free(j->dir);
	pthread_mutex_destroy(&j->mu);
	free(j);
}
