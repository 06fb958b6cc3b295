/*
 * idset.c — the set of job ids bound for good (see idset.h).
 *
 * Buckets are 4 KiB: a 32-byte header (the record count) and 84 records.
 * Bucket of an id = the top `bits` bits of h(id), h being the first 8
 * bytes of SHA-256(salt || id), big-endian.  Because the bucket is a
 * prefix of h, doubling the file splits bucket b into 2b (next bit of h is
 * 0) and 2b + 1 (it is 1), and the split of a bucket never holds more
 * records than the bucket did: the file is doubled by reading it once in
 * order and writing the new one once in order.  Nothing is ever removed,
 * so a bucket never needs to look at its neighbours.  An insert into a
 * full bucket (at 5/8 average load, about one bucket in 10^8) doubles the
 * file first.  The file is only a cache of the audit log; it is made
 * again at every start.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "crypto.h"
#include "idset.h"
#include "job.h"
#include "util.h"

#define IDSET_ID_LEN             (JOB_ID_LEN / 2) /* bytes of a binary id */
#define IDSET_JOB_LEN            16               /* bytes of the job hash kept */
#define IDSET_SUB_LEN            15               /* bytes of the submitter hash kept */
#define IDSET_BUCKET_BYTES       4096
#define IDSET_BUCKET_RECORDS     84
#define IDSET_INITIAL_BITS       4  /* 16 buckets, 64 KiB */
#define IDSET_BITS_MAX           36 /* 2^36 buckets: 256 TiB */
#define IDSET_BUCKETS_MAX        ((uint64_t)1 << IDSET_BITS_MAX)
#define IDSET_GROW_CHUNK_BUCKETS 64 /* buckets read per pread when doubling */
#define IDSET_GROW_TRIES_MAX     4  /* doublings for one full bucket */

struct idset_record {
	uint8_t id[IDSET_ID_LEN];
	uint8_t job[IDSET_JOB_LEN]; /* the first bytes of the job's SHA-256 */
	uint8_t sub[IDSET_SUB_LEN]; /* the first bytes of the submitter's SHA-256 */
	uint8_t kind;               /* enum idset_kind */
};

struct idset_bucket {
	uint32_t count;
	uint8_t reserved[28];
	struct idset_record rec[IDSET_BUCKET_RECORDS];
	uint8_t tail[32];
};
_Static_assert(sizeof(struct idset_record) == 48, "a record is 48 bytes");
_Static_assert(sizeof(struct idset_bucket) == IDSET_BUCKET_BYTES, "a bucket is 4 KiB");

struct idset {
	pthread_mutex_t lock;
	int fd;        /* the buckets: an unlinked file */
	char *dir;     /* where its files are made */
	unsigned bits; /* 2^bits buckets */
	size_t count;  /* records in the file */
	int broken;    /* a read or write failed: no more binds */
	uint8_t salt[16];
	struct idset_bucket *buf; /* the bucket being looked at; lock held */
};

/* An unlinked file of nbuckets empty buckets in dir, its blocks allocated. */
static int
bucket_file(const char *dir, uint64_t nbuckets, int *ret_fd)
{
	char path[PATH_MAX];
	int fd = -1, n;

	if (nbuckets > IDSET_BUCKETS_MAX)
		return SG_ERR_LIMIT;
#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
	if (fd == -1) {
		n = snprintf(path, sizeof(path), "%s/.signet-idset.XXXXXX", dir);
		if (n < 0 || (size_t)n >= sizeof(path))
			return SG_ERR_INVALID_ARGUMENT;
		if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
			return SG_ERR_SYSTEM;
		(void)unlink(path);
	}
	/* Zero bytes are empty buckets. */
	if ((errno = posix_fallocate(fd, 0, (off_t)(nbuckets * IDSET_BUCKET_BYTES))) != 0) {
		close(fd);
		return SG_ERR_SYSTEM;
	}
	*ret_fd = fd;
	return 0;
}

static int
full_pread(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t got;

	do
		got = pread(fd, buf, len, (off_t)off);
	while (got == -1 && errno == EINTR);
	return got == (ssize_t)len ? 0 : SG_ERR_SYSTEM;
}

static int
full_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t got;

	do
		got = pwrite(fd, buf, len, (off_t)off);
	while (got == -1 && errno == EINTR);
	return got == (ssize_t)len ? 0 : SG_ERR_SYSTEM;
}

static uint64_t
id_hash(const struct idset *s, const uint8_t id[IDSET_ID_LEN])
{
	uint8_t in[sizeof(s->salt) + IDSET_ID_LEN], h[SHA256_LEN];
	uint64_t v = 0;
	size_t i;

	memcpy(in, s->salt, sizeof(s->salt));
	memcpy(in + sizeof(s->salt), id, IDSET_ID_LEN);
	crypto_sha256(in, sizeof(in), h);
	for (i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return v;
}

static uint64_t
bucket_of(uint64_t hash, unsigned bits)
{
	return hash >> (64 - bits);
}

static void *
map_buckets(size_t n)
{
	void *p = mmap(NULL, n * IDSET_BUCKET_BYTES, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void
unmap_buckets(void *p, size_t n)
{
	if (p != NULL)
		(void)munmap(p, n * IDSET_BUCKET_BYTES);
}

/*
 * Doubles the file: each old bucket b, read in order, becomes new buckets
 * 2b and 2b + 1, written in order.  The windows are mapped, not malloc'ed,
 * so that their pages go back to the system when it is done.  Lock held.
 */
static int
grow(struct idset *s)
{
	struct idset_bucket *in = NULL, *out = NULL;
	uint64_t nold = (uint64_t)1 << s->bits, b, k, n;
	unsigned bits = s->bits + 1;
	size_t i;
	int fd = -1, r;

	if (bits > IDSET_BITS_MAX)
		return SG_ERR_LIMIT;
	if ((r = bucket_file(s->dir, (uint64_t)1 << bits, &fd)) != 0)
		return r;
	if ((in = map_buckets(IDSET_GROW_CHUNK_BUCKETS)) == NULL ||
	    (out = map_buckets(2 * IDSET_GROW_CHUNK_BUCKETS)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	for (b = 0; b < nold; b += n) {
		n = nold - b < IDSET_GROW_CHUNK_BUCKETS ? nold - b : IDSET_GROW_CHUNK_BUCKETS;
		if ((r = full_pread(s->fd, in, n * IDSET_BUCKET_BYTES, b * IDSET_BUCKET_BYTES)) !=
		    0)
			goto out;
		memset(out, 0, 2 * n * IDSET_BUCKET_BYTES);
		for (k = 0; k < n; k++) {
			/* A count from our own file, but checked: a bad one would
			 * read past the bucket. */
			if (in[k].count > IDSET_BUCKET_RECORDS) {
				r = SG_ERR_SYSTEM;
				goto out;
			}
			for (i = 0; i < in[k].count; i++) {
				uint64_t nb = bucket_of(id_hash(s, in[k].rec[i].id), bits);
				struct idset_bucket *o;

				if (nb >> 1 != b + k) {
					r = SG_ERR_SYSTEM; /* a record in the wrong bucket */
					goto out;
				}
				o = &out[2 * k + (nb & 1)];
				o->rec[o->count++] = in[k].rec[i];
			}
		}
		if ((r = full_pwrite(
			 fd, out, 2 * n * IDSET_BUCKET_BYTES, 2 * b * IDSET_BUCKET_BYTES)) != 0)
			goto out;
	}
	close(s->fd);
	s->fd = fd;
	fd = -1;
	s->bits = bits;
	r = 0;
out:
	unmap_buckets(in, IDSET_GROW_CHUNK_BUCKETS);
	unmap_buckets(out, 2 * IDSET_GROW_CHUNK_BUCKETS);
	if (fd != -1)
		close(fd);
	return r;
}

int
idset_new(const char *dir, struct idset **ret)
{
	struct idset *s;
	int r;

	if (dir == NULL || ret == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SG_ERR_ALLOC;
	s->fd = -1;
	if ((s->dir = strdup(dir)) == NULL || (s->buf = malloc(sizeof(*s->buf))) == NULL) {
		r = SG_ERR_ALLOC;
		goto fail;
	}
	if (RAND_bytes(s->salt, sizeof(s->salt)) != 1) {
		r = SG_ERR_CRYPTO;
		goto fail;
	}
	s->bits = IDSET_INITIAL_BITS;
	if ((r = bucket_file(dir, (uint64_t)1 << s->bits, &s->fd)) != 0)
		goto fail;
	pthread_mutex_init(&s->lock, NULL);
	*ret = s;
	return 0;
fail:
	free(s->buf);
	free(s->dir);
	free(s);
	return r;
}

void
idset_free(struct idset *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->lock);
	if (s->fd != -1)
		close(s->fd);
	free(s->buf);
	free(s->dir);
	free(s);
}

/* Reads the bucket of id into s->buf; lock held. */
static int
read_bucket(struct idset *s, uint64_t hash, uint64_t *ret_b)
{
	uint64_t b = bucket_of(hash, s->bits);

	if (full_pread(s->fd, s->buf, sizeof(*s->buf), b * IDSET_BUCKET_BYTES) != 0 ||
	    s->buf->count > IDSET_BUCKET_RECORDS)
		return SG_ERR_SYSTEM;
	*ret_b = b;
	return 0;
}

/* Lock held; a system error breaks the set. */
static int
bind_locked(struct idset *s, const struct idset_record *want, enum idset_bound *ret_bound)
{
	uint64_t hash = id_hash(s, want->id), b;
	struct idset_record *have;
	size_t i;
	int r, tries = 0, same_job;

	if ((r = read_bucket(s, hash, &b)) != 0)
		return r;
	for (i = 0; i < s->buf->count; i++) {
		have = &s->buf->rec[i];
		if (memcmp(have->id, want->id, IDSET_ID_LEN) != 0)
			continue;
		same_job = memcmp(have->job, want->job, IDSET_JOB_LEN) == 0;
		if (have->kind != IDSET_REJECTED) {
			*ret_bound = same_job ? IDSET_SAME : IDSET_OTHER;
			return 0;
		}
		/* Bound by a rejection: for its own submitter only. */
		if (!same_job && memcmp(have->sub, want->sub, IDSET_SUB_LEN) == 0) {
			*ret_bound = IDSET_OTHER;
			return 0;
		}
		if (want->kind == IDSET_INTENT) {
			*have = *want; /* about to be signed: bound for everyone now */
			if ((r = full_pwrite(
				 s->fd, s->buf, sizeof(*s->buf), b * IDSET_BUCKET_BYTES)) != 0)
				return r;
		}
		*ret_bound = same_job ? IDSET_SAME : IDSET_NEW;
		return 0;
	}
	/* A new id: room first (5/8 average load, and its own bucket). */
	while (((uint64_t)s->count + 1) * 8 > ((uint64_t)IDSET_BUCKET_RECORDS << s->bits) * 5 ||
	    s->buf->count == IDSET_BUCKET_RECORDS) {
		if (tries++ == IDSET_GROW_TRIES_MAX)
			return SG_ERR_LIMIT;
		if ((r = grow(s)) != 0 || (r = read_bucket(s, hash, &b)) != 0)
			return r;
	}
	s->buf->rec[s->buf->count] = *want;
	s->buf->count++;
	if ((r = full_pwrite(s->fd, s->buf, sizeof(*s->buf), b * IDSET_BUCKET_BYTES)) != 0)
		return r;
	s->count++;
	*ret_bound = IDSET_NEW;
	return 0;
}

int
idset_bind(struct idset *s, const char *id, const char *job_sha256, const char *submitter,
    enum idset_kind kind, enum idset_bound *ret_bound)
{
	struct idset_record want;
	uint8_t sha[SHA256_LEN];
	enum idset_bound bound = IDSET_NEW;
	int r;

	memset(&want, 0, sizeof(want));
	if (id == NULL || job_sha256 == NULL || submitter == NULL ||
	    (kind != IDSET_INTENT && kind != IDSET_REJECTED) || !is_lower_hex(id, JOB_ID_LEN) ||
	    !is_lower_hex(job_sha256, SHA256_HEX_LEN) ||
	    hex_decode(id, JOB_ID_LEN, want.id, sizeof(want.id)) != 0 ||
	    hex_decode(job_sha256, SHA256_HEX_LEN, sha, sizeof(sha)) != 0)
		return SG_ERR_INVALID_ARGUMENT;
	memcpy(want.job, sha, IDSET_JOB_LEN);
	crypto_sha256(submitter, strlen(submitter), sha);
	memcpy(want.sub, sha, IDSET_SUB_LEN);
	want.kind = (uint8_t)kind;
	pthread_mutex_lock(&s->lock);
	if (s->broken) {
		r = SG_ERR_INTERNAL;
	} else if ((r = bind_locked(s, &want, &bound)) == SG_ERR_SYSTEM) {
		/* Whether the file still holds what it held is unknown. */
		s->broken = 1;
	}
	pthread_mutex_unlock(&s->lock);
	if (r == 0)
		*ret_bound = bound;
	return r;
}

size_t
idset_count(struct idset *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->count;
	pthread_mutex_unlock(&s->lock);
	return n;
}
