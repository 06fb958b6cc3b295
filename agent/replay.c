/*
 * replay.c — the table of signed job ids (see replay.h).
 *
 * Open addressing with linear probing over a power-of-two array, grown at
 * 3/4 load.  Ids are 32 hex characters from the network, so the table is
 * keyed by a keyed hash (SipHash would be nicer; SHA-256 of a random salt
 * and the id keeps this short and is collision-resistant enough that an
 * attacker cannot aim ids at one bucket).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "crypto.h"
#include "replay.h"
#include "sgtime.h"

#define REPLAY_INITIAL_SLOTS 1024

/* SLOT_FREE: an id whose claim ended without a signature; it stays in the
 * table so that probe chains stay intact, and can be claimed again. */
enum slot_state { SLOT_EMPTY = 0, SLOT_BUSY, SLOT_SIGNED, SLOT_FREE, SLOT_INTERRUPTED };

/* 64 bytes: ids and hashes binary, the key name interned. */
struct slot {
	uint8_t id[JOB_ID_LEN / 2];
	uint8_t job_sha256[SHA256_LEN]; /* zero while BUSY */
	int64_t expires;                /* the job's expiry, 0 when unknown */
	uint16_t key;                   /* 1 + index into replay.keys, 0 = none */
	uint8_t state;                  /* enum slot_state */
};

#define REPLAY_KEYS_MAX 65535   /* distinct key names remembered */

struct replay {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct slot *slots;
	size_t nslots;  /* power of two */
	size_t used;
	uint8_t salt[16];
	char **keys;    /* interned key names */
	size_t nkeys;
};

static size_t
slot_hash(const struct replay *rp, const uint8_t id[JOB_ID_LEN / 2])
{
	uint8_t buf[16 + JOB_ID_LEN / 2], h[SHA256_LEN];
	size_t v;

	memcpy(buf, rp->salt, 16);
	memcpy(buf + 16, id, JOB_ID_LEN / 2);
	crypto_sha256(buf, sizeof(buf), h);
	memcpy(&v, h, sizeof(v));
	return v;
}

/* The slot holding id, or the empty slot where it would go. */
static struct slot *
slot_find(const struct replay *rp, const uint8_t id[JOB_ID_LEN / 2])
{
	size_t mask = rp->nslots - 1, i = slot_hash(rp, id) & mask;

	while (rp->slots[i].state != SLOT_EMPTY && memcmp(rp->slots[i].id, id, JOB_ID_LEN / 2) != 0)
		i = (i + 1) & mask;
	return &rp->slots[i];
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

/* Rehashes into a table of nslots slots, leaving out forgettable ones. */
static int
rebuild(struct replay *rp, size_t nslots)
{
	struct slot *old = rp->slots, *s;
	size_t i, n = rp->nslots;
	int64_t now = sgtime_now();

	if ((rp->slots = calloc(nslots, sizeof(*rp->slots))) == NULL) {
		rp->slots = old;
		return SG_ERR_ALLOC;
	}
	rp->nslots = nslots;
	rp->used = 0;
	for (i = 0; i < n; i++) {
		if (old[i].state == SLOT_EMPTY || forgettable(&old[i], now))
			continue;
		s = slot_find(rp, old[i].id);
		*s = old[i];
		rp->used++;
	}
	free(old);
	return 0;
}

/* Makes room for one more: first forget what has expired, then grow. */
static int
make_room(struct replay *rp)
{
	int r;

	if ((rp->used + 1) * 4 <= rp->nslots * 3)
		return 0;
	if ((r = rebuild(rp, rp->nslots)) != 0)
		return r;
	if ((rp->used + 1) * 2 > rp->nslots)
		return rebuild(rp, rp->nslots * 2);
	return 0;
}

int
replay_new(struct replay **ret)
{
	struct replay *rp = calloc(1, sizeof(*rp));

	if (rp == NULL || (rp->slots = calloc(REPLAY_INITIAL_SLOTS, sizeof(*rp->slots))) == NULL) {
		free(rp);
		return SG_ERR_ALLOC;
	}
	rp->nslots = REPLAY_INITIAL_SLOTS;
	if (RAND_bytes(rp->salt, sizeof(rp->salt)) != 1) {
		free(rp->slots);
		free(rp);
		return SG_ERR_CRYPTO;
	}
	pthread_mutex_init(&rp->lock, NULL);
	pthread_cond_init(&rp->changed, NULL);
	*ret = rp;
	return 0;
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
	free(rp->slots);
	free(rp);
}

/* A valid id (32 lowercase hex) into its 16 bytes. */
static int
id_bin(const char *id, uint8_t out[JOB_ID_LEN / 2])
{
	return id != NULL && strlen(id) == JOB_ID_LEN && is_lower_hex(id, JOB_ID_LEN) &&
	    hex_decode(id, JOB_ID_LEN, out, JOB_ID_LEN / 2) == 0;
}

/* Inserts or overwrites id with state; lock held. */
static int
put_locked(struct replay *rp, const uint8_t id[JOB_ID_LEN / 2], enum slot_state state,
    const char *job_sha256, const char *key, int64_t expires)
{
	struct slot *s;
	uint16_t k;
	int r;

	if ((r = key_intern(rp, key, &k)) != 0 || (r = make_room(rp)) != 0)
		return r;
	s = slot_find(rp, id);
	if (s->state == SLOT_EMPTY) {
		rp->used++;
		memcpy(s->id, id, JOB_ID_LEN / 2);
	}
	s->state = (uint8_t)state;
	sha_bin(job_sha256, s->job_sha256);
	s->key = k;
	s->expires = expires;
	return 0;
}

int
replay_mark_signed(struct replay *rp, const char *id, const char *job_sha256, const char *key,
    int64_t expires)
{
	uint8_t bid[JOB_ID_LEN / 2];
	int r;

	if (!id_bin(id, bid))
		return SG_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&rp->lock);
	r = put_locked(rp, bid, SLOT_SIGNED, job_sha256, key, expires);
	pthread_cond_broadcast(&rp->changed);
	pthread_mutex_unlock(&rp->lock);
	return r;
}

int
replay_claim(struct replay *rp, const char *id, enum replay_state *ret_state,
    char *ret_job_sha256, char *ret_key)
{
	uint8_t bid[JOB_ID_LEN / 2];
	struct slot *s;
	int r = 0;

	if (!id_bin(id, bid))
		return SG_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&rp->lock);
	for (;;) {
		s = slot_find(rp, bid);
		if (s->state != SLOT_BUSY)
			break;
		pthread_cond_wait(&rp->changed, &rp->lock);
	}
	if (s->state == SLOT_SIGNED || s->state == SLOT_INTERRUPTED) {
		hex_encode(s->job_sha256, SHA256_LEN, ret_job_sha256);
		snprintf(ret_key, JOB_KEY_MAX + 1, "%s", s->key != 0 ? rp->keys[s->key - 1] : "");
		*ret_state = s->state == SLOT_SIGNED ? REPLAY_SIGNED : REPLAY_INTERRUPTED;
	} else if ((r = put_locked(rp, bid, SLOT_BUSY, NULL, NULL, 0)) == 0) {
		*ret_state = REPLAY_CLAIMED;
	}
	pthread_mutex_unlock(&rp->lock);
	return r;
}

void
replay_done(struct replay *rp, const char *id, int signed_ok, const char *job_sha256,
    const char *key, int64_t expires)
{
	uint8_t bid[JOB_ID_LEN / 2];
	struct slot *s;
	uint16_t k = 0;

	if (!id_bin(id, bid))
		return;
	pthread_mutex_lock(&rp->lock);
	s = slot_find(rp, bid);
	if (s->state == SLOT_BUSY) {
		/* A key that cannot be interned (out of memory) is remembered
		 * as none: the id stays spent, only a republish cannot find
		 * the stored result and rebuilds it from the audit log. */
		if (signed_ok && key_intern(rp, key, &k) != 0)
			k = 0;
		if (signed_ok) {
			s->state = SLOT_SIGNED;
			sha_bin(job_sha256, s->job_sha256);
			s->key = k;
			s->expires = expires;
		} else {
			s->state = SLOT_FREE;
		}
	}
	pthread_cond_broadcast(&rp->changed);
	pthread_mutex_unlock(&rp->lock);
}

int
replay_mark_intent(struct replay *rp, const char *id, const char *job_sha256, const char *key,
    int64_t expires)
{
	uint8_t bid[JOB_ID_LEN / 2];
	int r;

	if (!id_bin(id, bid))
		return SG_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&rp->lock);
	r = put_locked(rp, bid, SLOT_INTERRUPTED, job_sha256, key, expires);
	pthread_mutex_unlock(&rp->lock);
	return r;
}

void
replay_mark_free(struct replay *rp, const char *id, const char *job_sha256)
{
	uint8_t bid[JOB_ID_LEN / 2], sha[SHA256_LEN];
	struct slot *s;

	if (!id_bin(id, bid) || job_sha256 == NULL || strlen(job_sha256) != SHA256_HEX_LEN ||
	    hex_decode(job_sha256, SHA256_HEX_LEN, sha, SHA256_LEN) != 0)
		return;
	pthread_mutex_lock(&rp->lock);
	s = slot_find(rp, bid);
	/* Only the outcome of the same job ends an interrupted intent: a
	 * rejection of some other envelope under the id says nothing. */
	if (s->state == SLOT_INTERRUPTED && memcmp(s->job_sha256, sha, SHA256_LEN) == 0)
		s->state = SLOT_FREE;
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
