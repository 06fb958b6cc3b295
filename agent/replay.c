/*
 * replay.c — the table of signed job ids (see replay.h).
 *
 * Open addressing with linear probing over a power-of-two array of 64-byte
 * slots, grown at 3/4 load.  The array is not in the agent's memory: it is
 * an unlinked file in the audit log's directory, read and written with
 * pread/pwrite (a probe reads up to 64 slots at once), so the agent's
 * resident memory does not grow with the ids it must remember; the kernel
 * keeps what it can of the file in its page cache and writes the rest to
 * disk.  Its blocks are allocated when it is made, so a write into it does
 * not run out of space.  The file is only a cache: the audit log is the
 * record, and the table is rebuilt from it at every start.  A failed read
 * or write leaves the table broken: every claim from then on fails (the
 * agent signs nothing more until it is restarted), never a second signature.  Ids are 32 hex characters from the network, so the table is
 * keyed by a keyed hash (SipHash would be nicer; SHA-256 of a random salt
 * and the id keeps this short and is collision-resistant enough that an
 * attacker cannot aim ids at one bucket).
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
#include "log.h"
#include "replay.h"
#include "sgtime.h"

#define REPLAY_INITIAL_SLOTS 1024
#define PROBE_SLOTS          64    /* slots read per pread: 4 KiB */
#define REBUILD_CHUNK_SLOTS  4096  /* slots read per pread when rehashing */
#define REBUILD_WINDOW_SLOTS 65536 /* the new table is built 4 MiB at a time */

/* SLOT_FREE: an id whose claim ended without a signature; it stays in the
 * table so that probe chains stay intact, and can be claimed again. */
enum slot_state { SLOT_EMPTY = 0, SLOT_BUSY, SLOT_SIGNED, SLOT_FREE, SLOT_INTERRUPTED };

/* 64 bytes: ids and hashes binary, the key name interned. */
struct slot {
	uint8_t id[JOB_ID_LEN / 2];
	uint8_t job_sha256[SHA256_LEN]; /* zero while BUSY */
	int64_t expires;                /* the job's expiry, 0 when unknown */
	uint32_t hash;                  /* slot_hash(id): rehashing needs no SHA-256 */
	uint16_t key;                   /* 1 + index into replay.keys, 0 = none */
	uint8_t state;                  /* enum slot_state */
};
_Static_assert(sizeof(struct slot) == 64, "a slot is 64 bytes: 64 per 4 KiB probe read");

#define REPLAY_KEYS_MAX 65535 /* distinct key names remembered */

struct replay {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int fd;        /* the slot array: an unlinked file */
	char *dir;     /* where its files are made */
	size_t nslots; /* power of two */
	size_t used;
	int broken;        /* a read or write failed: no more claims */
	uint64_t rebuilds; /* rehashes so far: a slot index found before one is stale */
	uint8_t salt[16];
	char **keys; /* interned key names */
	size_t nkeys;
	struct slot probe[PROBE_SLOTS]; /* slot_find's window; lock held */
};

/* An unlinked file of nslots empty slots in dir, its blocks allocated. */
static int
table_file(const char *dir, size_t nslots, int *ret_fd)
{
	char path[PATH_MAX];
	int fd = -1, n;

	if (nslots > (size_t)INT64_MAX / sizeof(struct slot))
		return SG_ERR_LIMIT;
#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
	if (fd == -1) {
		n = snprintf(path, sizeof(path), "%s/.signet-replay.XXXXXX", dir);
		if (n < 0 || (size_t)n >= sizeof(path))
			return SG_ERR_INVALID_ARGUMENT;
		if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
			return SG_ERR_SYSTEM;
		(void)unlink(path);
	}
	/* Zero bytes are SLOT_EMPTY slots. */
	if ((errno = posix_fallocate(fd, 0, (off_t)(nslots * sizeof(struct slot)))) != 0) {
		close(fd);
		return SG_ERR_SYSTEM;
	}
	*ret_fd = fd;
	return 0;
}

static int
slot_read(int fd, size_t i, struct slot *out, size_t n)
{
	size_t want = n * sizeof(*out);
	ssize_t got;

	do
		got = pread(fd, out, want, (off_t)(i * sizeof(*out)));
	while (got == -1 && errno == EINTR);
	return got == (ssize_t)want ? 0 : SG_ERR_SYSTEM;
}

static int
slot_write(int fd, size_t i, const struct slot *s)
{
	ssize_t got;

	do
		got = pwrite(fd, s, sizeof(*s), (off_t)(i * sizeof(*s)));
	while (got == -1 && errno == EINTR);
	return got == (ssize_t)sizeof(*s) ? 0 : SG_ERR_SYSTEM;
}

static uint32_t
slot_hash(const struct replay *rp, const uint8_t id[JOB_ID_LEN / 2])
{
	uint8_t buf[16 + JOB_ID_LEN / 2], h[SHA256_LEN];
	uint32_t v;

	memcpy(buf, rp->salt, 16);
	memcpy(buf + 16, id, JOB_ID_LEN / 2);
	crypto_sha256(buf, sizeof(buf), h);
	memcpy(&v, h, sizeof(v));
	return v;
}

/*
 * The slot holding id, or the empty slot where it would go, in the table
 * of nslots slots in fd: its index in *ret_i, a copy in *ret.  Reads up to
 * PROBE_SLOTS slots per call into rp->probe.  Lock held.
 */
static int
slot_find_in(struct replay *rp, int fd, size_t nslots, const uint8_t id[JOB_ID_LEN / 2],
    uint32_t hash, size_t *ret_i, struct slot *ret)
{
	size_t mask = nslots - 1, i = hash & mask, n, k, seen = 0;

	while (seen < nslots) {
		n = nslots - i < PROBE_SLOTS ? nslots - i : PROBE_SLOTS;
		if (slot_read(fd, i, rp->probe, n) != 0)
			return SG_ERR_SYSTEM;
		for (k = 0; k < n; k++) {
			if (rp->probe[k].state == SLOT_EMPTY ||
			    memcmp(rp->probe[k].id, id, JOB_ID_LEN / 2) == 0) {
				*ret_i = i + k;
				*ret = rp->probe[k];
				return 0;
			}
		}
		seen += n;
		i = (i + n) & mask;
	}
	return SG_ERR_INTERNAL; /* full: make_room() keeps a quarter empty */
}

static void
table_broken(struct replay *rp, const char *how)
{
	rp->broken = 1;
	log_error("the replay table's file in %s cannot be %s: no job is signed until the "
		  "agent is restarted (it rebuilds the table from the audit log)",
	    rp->dir, how);
}

static int
slot_find(struct replay *rp, const uint8_t id[JOB_ID_LEN / 2], size_t *ret_i, struct slot *ret)
{
	int r;

	if (rp->broken)
		return SG_ERR_INTERNAL;
	if ((r = slot_find_in(rp, rp->fd, rp->nslots, id, slot_hash(rp, id), ret_i, ret)) != 0)
		table_broken(rp, "read");
	return r;
}

/* Writes slot i back; a failure breaks the table.  Lock held. */
static int
slot_store(struct replay *rp, size_t i, const struct slot *s)
{
	if (rp->broken)
		return SG_ERR_INTERNAL;
	if (slot_write(rp->fd, i, s) != 0) {
		table_broken(rp, "written");
		return SG_ERR_SYSTEM;
	}
	return 0;
}

/* The interned number of key (1-based), 0 for none.  Lock held. */
static int
key_intern(struct replay *rp, const char *key, uint16_t *ret)
{
	char **grown;
	size_t i;

	*ret = 0;
	if (key == NULL || *key == '\0')
		return 0;
	for (i = 0; i < rp->nkeys; i++) {
		if (strcmp(rp->keys[i], key) == 0) {
			*ret = (uint16_t)(i + 1);
			return 0;
		}
	}
	if (rp->nkeys == REPLAY_KEYS_MAX || strlen(key) > JOB_KEY_MAX)
		return SG_ERR_LIMIT;
	if ((grown = realloc(rp->keys, (rp->nkeys + 1) * sizeof(*grown))) == NULL)
		return SG_ERR_ALLOC;
	rp->keys = grown;
	if ((rp->keys[rp->nkeys] = strdup(key)) == NULL)
		return SG_ERR_ALLOC;
	*ret = (uint16_t)++rp->nkeys;
	return 0;
}

/* job_sha256 (hex, or NULL) into out; all zero when absent or not hex. */
static void
sha_bin(const char *job_sha256, uint8_t out[SHA256_LEN])
{
	if (job_sha256 == NULL || strlen(job_sha256) != SHA256_HEX_LEN ||
	    hex_decode(job_sha256, SHA256_HEX_LEN, out, SHA256_LEN) != 0)
		memset(out, 0, SHA256_LEN);
}

/* A slot that no longer needs remembering: its job has expired (refused
 * as job.expired from now on), or nothing was signed under it. */
static int
forgettable(const struct slot *s, int64_t now)
{
	if (s->state == SLOT_FREE)
		return 1;
	if (s->state == SLOT_BUSY || s->expires == 0)
		return 0;
	return s->expires + JOB_CLOCK_SKEW_S < now;
}

static struct slot *
map_slots(size_t n)
{
	void *p = mmap(NULL, n * sizeof(struct slot), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void
unmap_slots(struct slot *p, size_t n)
{
	if (p != NULL)
		(void)munmap(p, n * sizeof(*p));
}

/*
 * Places s in the window win of w slots that starts at slot `base` of the
 * new table (mask: its size - 1), probing linearly from its home (or from
 * the window's first slot when from_start); an entry that runs past the
 * window's end is appended to *carry, to be placed from the next window's
 * first slot (its probe passed only full slots to get there).
 */
static int
place(struct slot *win, size_t w, size_t base, size_t mask, const struct slot *s, int from_start,
    struct slot **carry, size_t *ncarry, size_t *capcarry)
{
	size_t i = from_start ? 0 : (s->hash & mask) - base;
	struct slot *grown;

	while (i < w && win[i].state != SLOT_EMPTY)
		i++;
	if (i < w) {
		win[i] = *s;
		return 0;
	}
	if (*ncarry == *capcarry) {
		size_t cap = *capcarry == 0 ? 64 : *capcarry * 2;

		if ((grown = realloc(*carry, cap * sizeof(*grown))) == NULL)
			return SG_ERR_ALLOC;
		*carry = grown;
		*capcarry = cap;
	}
	(*carry)[(*ncarry)++] = *s;
	return 0;
}

/*
 * Rehashes into a new file of nslots slots, leaving out forgettable ones.
 * The new table is built one window of REBUILD_WINDOW_SLOTS at a time in
 * memory (4 MiB, returned after), each window from one sequential pass over
 * the old file (the stored hashes say where each entry goes), then written
 * with one pwrite: a bounded amount of memory and few system calls however
 * large the table.  Entries that run off the end of the last window wrap to
 * the start of the table and are inserted there one by one.  Lock held.
 */
static int
rebuild(struct replay *rp, size_t nslots)
{
	struct slot *chunk = NULL, *win = NULL, *carry = NULL, *next = NULL, found;
	size_t w = nslots < REBUILD_WINDOW_SLOTS ? nslots : REBUILD_WINDOW_SLOTS;
	size_t mask = nslots - 1, base, i, k, n, at, used = 0;
	size_t ncarry = 0, nnext = 0, capnext = 0, h;
	int64_t now = sgtime_now();
	int fd = -1, r;

	if ((r = table_file(rp->dir, nslots, &fd)) != 0)
		return r;
	/* Mapped, not malloc'ed: their pages go back to the system when the
	 * rebuild ends, whatever malloc's thresholds are. */
	if ((chunk = map_slots(REBUILD_CHUNK_SLOTS)) == NULL || (win = map_slots(w)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	for (base = 0; base < nslots; base += w) {
		/* Zero pages again, and none resident until touched. */
		if (base > 0 && madvise(win, w * sizeof(*win), MADV_DONTNEED) != 0) {
			r = SG_ERR_SYSTEM;
			goto out;
		}
		for (k = 0; k < ncarry; k++)
			if ((r = place(
				 win, w, base, mask, &carry[k], 1, &next, &nnext, &capnext)) != 0)
				goto out;
		for (i = 0; i < rp->nslots; i += n) {
			n = rp->nslots - i < REBUILD_CHUNK_SLOTS ? rp->nslots - i
								 : REBUILD_CHUNK_SLOTS;
			if ((r = slot_read(rp->fd, i, chunk, n)) != 0)
				goto out;
			for (k = 0; k < n; k++) {
				if (chunk[k].state == SLOT_EMPTY || forgettable(&chunk[k], now))
					continue;
				h = chunk[k].hash & mask;
				if (h < base || h >= base + w)
					continue;
				if ((r = place(win, w, base, mask, &chunk[k], 0, &next, &nnext,
					 &capnext)) != 0)
					goto out;
				used++;
			}
		}
		if (pwrite(fd, win, w * sizeof(*win), (off_t)(base * sizeof(*win))) !=
		    (ssize_t)(w * sizeof(*win))) {
			r = SG_ERR_SYSTEM;
			goto out;
		}
		/* This window's overflow is the next one's carry. */
		free(carry);
		carry = next;
		ncarry = nnext;
		next = NULL;
		nnext = capnext = 0;
	}
	/* Off the end of the table: probe on from its first slot (hash 0). */
	for (k = 0; k < ncarry; k++) {
		if ((r = slot_find_in(rp, fd, nslots, carry[k].id, 0, &at, &found)) != 0 ||
		    (r = slot_write(fd, at, &carry[k])) != 0)
			goto out;
	}
	close(rp->fd);
	rp->fd = fd;
	fd = -1;
	rp->nslots = nslots;
	rp->used = used;
	rp->rebuilds++;
	r = 0;
out:
	unmap_slots(chunk, REBUILD_CHUNK_SLOTS);
	unmap_slots(win, w);
	free(carry);
	free(next);
	if (fd != -1)
		close(fd);
	return r;
}

/* How many slots hold an id that must be kept; lock held. */
static int
count_kept(struct replay *rp, size_t *ret)
{
	struct slot *chunk;
	size_t i, k, n, kept = 0;
	int64_t now = sgtime_now();
	int r = 0;

	if ((chunk = map_slots(REBUILD_CHUNK_SLOTS)) == NULL)
		return SG_ERR_ALLOC;
	for (i = 0; i < rp->nslots && r == 0; i += n) {
		n = rp->nslots - i < REBUILD_CHUNK_SLOTS ? rp->nslots - i : REBUILD_CHUNK_SLOTS;
		if ((r = slot_read(rp->fd, i, chunk, n)) != 0)
			break;
		for (k = 0; k < n; k++)
			kept += chunk[k].state != SLOT_EMPTY && !forgettable(&chunk[k], now);
	}
	unmap_slots(chunk, REBUILD_CHUNK_SLOTS);
	*ret = kept;
	return r;
}

/* Makes room for one more at 3/4 load: forgets what has expired, and
 * doubles the table when what is left would fill more than half of it. */
static int
make_room(struct replay *rp)
{
	size_t kept = 0;
	int r;

	if (rp->broken)
		return SG_ERR_INTERNAL;
	if ((rp->used + 1) * 4 <= rp->nslots * 3)
		return 0;
	if ((r = count_kept(rp, &kept)) != 0)
		return r;
	return rebuild(rp, (kept + 1) * 2 > rp->nslots ? rp->nslots * 2 : rp->nslots);
}

int
replay_new(const char *dir, struct replay **ret)
{
	struct replay *rp = calloc(1, sizeof(*rp));
	int r;

	if (rp == NULL || (rp->dir = strdup(dir)) == NULL) {
		free(rp);
		return SG_ERR_ALLOC;
	}
	rp->fd = -1;
	if (RAND_bytes(rp->salt, sizeof(rp->salt)) != 1) {
		r = SG_ERR_CRYPTO;
		goto fail;
	}
	if ((r = table_file(dir, REPLAY_INITIAL_SLOTS, &rp->fd)) != 0)
		goto fail;
	rp->nslots = REPLAY_INITIAL_SLOTS;
	pthread_mutex_init(&rp->lock, NULL);
	pthread_cond_init(&rp->changed, NULL);
	*ret = rp;
	return 0;
fail:
	free(rp->dir);
	free(rp);
	return r;
}

void
replay_free(struct replay *rp)
{
	if (rp == NULL)
		return;
	pthread_mutex_destroy(&rp->lock);
	pthread_cond_destroy(&rp->changed);
	for (size_t i = 0; i < rp->nkeys; i++)
		free(rp->keys[i]);
	free(rp->keys);
	if (rp->fd != -1)
		close(rp->fd);
	free(rp->dir);
	free(rp);
}

/* A valid id (32 lowercase hex) into its 16 bytes. */
static int
id_bin(const char *id, uint8_t out[JOB_ID_LEN / 2])
{
	return id != NULL && strlen(id) == JOB_ID_LEN && is_lower_hex(id, JOB_ID_LEN) &&
	    hex_decode(id, JOB_ID_LEN, out, JOB_ID_LEN / 2) == 0;
}

/*
 * Inserts or overwrites id with state; lock held.  found/found_i: what
 * slot_find() just gave for id (NULL: look it up), used unless making
 * room rehashed the table.
 */
static int
put_locked(struct replay *rp, const uint8_t id[JOB_ID_LEN / 2], enum slot_state state,
    const char *job_sha256, const char *key, int64_t expires, const struct slot *found,
    size_t found_i)
{
	struct slot s;
	size_t i = found_i;
	uint64_t rebuilds = rp->rebuilds;
	uint16_t k;
	int r, was_empty;

	if ((r = key_intern(rp, key, &k)) != 0 || (r = make_room(rp)) != 0)
		return r;
	if (found != NULL && rp->rebuilds == rebuilds)
		s = *found;
	else if ((r = slot_find(rp, id, &i, &s)) != 0)
		return r;
	if ((was_empty = s.state == SLOT_EMPTY)) {
		memcpy(s.id, id, JOB_ID_LEN / 2);
		s.hash = slot_hash(rp, id);
	}
	s.state = (uint8_t)state;
	sha_bin(job_sha256, s.job_sha256);
	s.key = k;
	s.expires = expires;
	if ((r = slot_store(rp, i, &s)) != 0)
		return r;
	if (was_empty)
		rp->used++;
	return 0;
}

int
replay_mark_signed(
    struct replay *rp, const char *id, const char *job_sha256, const char *key, int64_t expires)
{
	uint8_t bid[JOB_ID_LEN / 2];
	int r;

	if (!id_bin(id, bid))
		return SG_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&rp->lock);
	r = put_locked(rp, bid, SLOT_SIGNED, job_sha256, key, expires, NULL, 0);
	pthread_cond_broadcast(&rp->changed);
	pthread_mutex_unlock(&rp->lock);
	return r;
}

int
replay_claim(struct replay *rp, const char *id, enum replay_state *ret_state, char *ret_job_sha256,
    char *ret_key)
{
	uint8_t bid[JOB_ID_LEN / 2];
	struct slot s;
	size_t i;
	int r = 0;

	if (!id_bin(id, bid))
		return SG_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&rp->lock);
	for (;;) {
		if ((r = slot_find(rp, bid, &i, &s)) != 0)
			goto out;
		if (s.state != SLOT_BUSY)
			break;
		pthread_cond_wait(&rp->changed, &rp->lock);
	}
	if (s.state == SLOT_SIGNED || s.state == SLOT_INTERRUPTED) {
		hex_encode(s.job_sha256, SHA256_LEN, ret_job_sha256);
		snprintf(ret_key, JOB_KEY_MAX + 1, "%s",
		    s.key != 0 && s.key <= rp->nkeys ? rp->keys[s.key - 1] : "");
		*ret_state = s.state == SLOT_SIGNED ? REPLAY_SIGNED : REPLAY_INTERRUPTED;
	} else if ((r = put_locked(rp, bid, SLOT_BUSY, NULL, NULL, 0, &s, i)) == 0) {
		*ret_state = REPLAY_CLAIMED;
	}
out:
	pthread_mutex_unlock(&rp->lock);
	return r;
}

void
replay_done(struct replay *rp, const char *id, int signed_ok, const char *job_sha256,
    const char *key, int64_t expires)
{
	uint8_t bid[JOB_ID_LEN / 2];
	struct slot s;
	size_t i;
	uint16_t k = 0;

	if (!id_bin(id, bid))
		return;
	pthread_mutex_lock(&rp->lock);
	/* A failed read or write here breaks the table (slot_find and
	 * slot_store): the id may be left BUSY on disk, so from now on
	 * every claim fails rather than risk signing it twice. */
	if (slot_find(rp, bid, &i, &s) == 0 && s.state == SLOT_BUSY) {
		/* A key that cannot be interned (out of memory) is remembered
		 * as none: the id stays spent, only a republish cannot find
		 * the stored result and rebuilds it from the audit log. */
		if (signed_ok && key_intern(rp, key, &k) != 0)
			k = 0;
		if (signed_ok) {
			s.state = SLOT_SIGNED;
			sha_bin(job_sha256, s.job_sha256);
			s.key = k;
			s.expires = expires;
		} else {
			s.state = SLOT_FREE;
		}
		(void)slot_store(rp, i, &s);
	}
	pthread_cond_broadcast(&rp->changed);
	pthread_mutex_unlock(&rp->lock);
}

int
replay_mark_intent(
    struct replay *rp, const char *id, const char *job_sha256, const char *key, int64_t expires)
{
	uint8_t bid[JOB_ID_LEN / 2];
	int r;

	if (!id_bin(id, bid))
		return SG_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&rp->lock);
	r = put_locked(rp, bid, SLOT_INTERRUPTED, job_sha256, key, expires, NULL, 0);
	pthread_mutex_unlock(&rp->lock);
	return r;
}

void
replay_mark_free(struct replay *rp, const char *id, const char *job_sha256)
{
	uint8_t bid[JOB_ID_LEN / 2], sha[SHA256_LEN];
	struct slot s;
	size_t i;

	if (!id_bin(id, bid) || job_sha256 == NULL || strlen(job_sha256) != SHA256_HEX_LEN ||
	    hex_decode(job_sha256, SHA256_HEX_LEN, sha, SHA256_LEN) != 0)
		return;
	pthread_mutex_lock(&rp->lock);
	/* Only the outcome of the same job ends an interrupted intent: a
	 * rejection of some other envelope under the id says nothing. */
	if (slot_find(rp, bid, &i, &s) == 0 && s.state == SLOT_INTERRUPTED &&
	    memcmp(s.job_sha256, sha, SHA256_LEN) == 0) {
		s.state = SLOT_FREE;
		(void)slot_store(rp, i, &s);
	}
	pthread_mutex_unlock(&rp->lock);
}

int
replay_retry(struct replay *rp, const char *id, const char *job_sha256)
{
	uint8_t bid[JOB_ID_LEN / 2], sha[SHA256_LEN];
	struct slot s;
	size_t i;
	int r = SG_ERR_EXISTS;

	if (!id_bin(id, bid) || job_sha256 == NULL || strlen(job_sha256) != SHA256_HEX_LEN ||
	    hex_decode(job_sha256, SHA256_HEX_LEN, sha, SHA256_LEN) != 0)
		return SG_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&rp->lock);
	if (slot_find(rp, bid, &i, &s) == 0 && s.state == SLOT_INTERRUPTED &&
	    memcmp(s.job_sha256, sha, SHA256_LEN) == 0) {
		/* BUSY with its hash kept: replay_retry_end() puts it back. */
		s.state = SLOT_BUSY;
		r = slot_store(rp, i, &s) == 0 ? 0 : SG_ERR_INTERNAL;
	}
	pthread_mutex_unlock(&rp->lock);
	return r;
}

void
replay_retry_end(struct replay *rp, const char *id)
{
	uint8_t bid[JOB_ID_LEN / 2];
	struct slot s;
	size_t i;

	if (!id_bin(id, bid))
		return;
	pthread_mutex_lock(&rp->lock);
	if (slot_find(rp, bid, &i, &s) == 0 && s.state == SLOT_BUSY) {
		s.state = SLOT_INTERRUPTED;
		(void)slot_store(rp, i, &s);
	}
	pthread_cond_broadcast(&rp->changed);
	pthread_mutex_unlock(&rp->lock);
}

size_t
replay_count(struct replay *rp)
{
	size_t n;

	pthread_mutex_lock(&rp->lock);
	n = rp->used;
	pthread_mutex_unlock(&rp->lock);
	return n;
}
