/*
 * attempts.c — the agent's own count of attempts per stream entry (see
 * attempts.h).
 *
 * An open-addressing table of ATTEMPTS_SLOTS slots (twice the entries it
 * may hold, so probes stay short), keyed by the two numbers of the entry
 * id, with linear probing and backward-shift deletion (no tombstones).
 * Entry ids may be chosen by whoever writes to Redis (XADD with an
 * explicit id), so the slot is picked by a mix of the id with a random
 * salt; a probe never passes ATTEMPTS_SLOTS slots whatever the ids.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "attempts.h"
#include "queue.h"
#include "util.h"

#define ATTEMPTS_SLOTS (2 * ATTEMPTS_ENTRIES_MAX)

struct slot {
	uint64_t ms, seq; /* the entry id */
	uint32_t stamp;   /* when its last attempt began (a wrapping counter) */
	uint32_t count;   /* attempts; 0: the slot is empty */
};
_Static_assert(sizeof(struct slot) == 24, "a slot is 24 bytes");

struct attempts {
	pthread_mutex_t lock;
	uint64_t salt;
	uint32_t clock; /* stamps handed out, modulo 2^32 */
	size_t used;
	struct slot slots[ATTEMPTS_SLOTS];
};

/* "<ms>-<seq>", both decimal without leading zeros, into two numbers. */
static int
parse_entry(const char *entry, uint64_t *ret_ms, uint64_t *ret_seq)
{
	char buf[QUEUE_ENTRY_ID_MAX + 1];
	const char *dash;
	size_t n;
	uint64_t ms, seq;

	if (entry == NULL || (n = strnlen(entry, sizeof(buf))) == sizeof(buf) ||
	    (dash = strchr(entry, '-')) == NULL)
		return -1;
	memcpy(buf, entry, n + 1);
	buf[dash - entry] = '\0';
	if (parse_u64(buf, UINT64_MAX, &ms) != 0 || parse_u64(dash + 1, UINT64_MAX, &seq) != 0)
		return -1;
	*ret_ms = ms;
	*ret_seq = seq;
	return 0;
}

static size_t
home(const struct attempts *a, uint64_t ms, uint64_t seq)
{
	uint64_t h = (ms ^ a->salt) * 0x9e3779b97f4a7c15ULL;

	h ^= (seq + (h >> 29)) * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 32;
	return (size_t)(h % ATTEMPTS_SLOTS);
}

/* The slot of the entry, or the empty slot where it would go; lock held. */
static size_t
find(const struct attempts *a, uint64_t ms, uint64_t seq)
{
	size_t i = home(a, ms, seq), n;

	for (n = 0; n < ATTEMPTS_SLOTS; n++, i = (i + 1) % ATTEMPTS_SLOTS) {
		const struct slot *s = &a->slots[i];

		if (s->count == 0 || (s->ms == ms && s->seq == seq))
			return i;
	}
	return ATTEMPTS_SLOTS; /* full: never, used stays at most half */
}

/* Empties slot i and moves later slots of its probe run back into the
 * hole, so that every entry stays reachable from its home; lock held. */
static void
remove_at(struct attempts *a, size_t i)
{
	size_t j = i, h;

	a->slots[i].count = 0;
	a->used--;
	for (;;) {
		j = (j + 1) % ATTEMPTS_SLOTS;
		if (a->slots[j].count == 0)
			return;
		h = home(a, a->slots[j].ms, a->slots[j].seq);
		/* Slot j may move to the hole i unless its home lies in (i, j]. */
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			a->slots[i] = a->slots[j];
			a->slots[j].count = 0;
			i = j;
		}
	}
}

/* Forgets the entry begun longest ago (the largest age, clock - stamp,
 * which wraps correctly); lock held. */
static void
evict_oldest(struct attempts *a)
{
	size_t i, oldest = ATTEMPTS_SLOTS;
	uint32_t age, oldest_age = 0;

	for (i = 0; i < ATTEMPTS_SLOTS; i++) {
		if (a->slots[i].count == 0)
			continue;
		age = a->clock - a->slots[i].stamp;
		if (oldest == ATTEMPTS_SLOTS || age > oldest_age) {
			oldest = i;
			oldest_age = age;
		}
	}
	if (oldest != ATTEMPTS_SLOTS)
		remove_at(a, oldest);
}

struct attempts *
attempts_new(void)
{
	struct attempts *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	/* The salt only spreads ids; a weak one costs longer probes, nothing more. */
	if (getrandom(&a->salt, sizeof(a->salt), 0) != (ssize_t)sizeof(a->salt))
		a->salt = (uint64_t)(uintptr_t)a;
	pthread_mutex_init(&a->lock, NULL);
	return a;
}

void
attempts_free(struct attempts *a)
{
	if (a == NULL)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a);
}

unsigned
attempts_begin(struct attempts *a, const char *entry)
{
	uint64_t ms, seq;
	unsigned n = 0;
	size_t i;

	if (parse_entry(entry, &ms, &seq) != 0)
		return 0;
	pthread_mutex_lock(&a->lock);
	i = find(a, ms, seq);
	if (i < ATTEMPTS_SLOTS && a->slots[i].count == 0 && a->used == ATTEMPTS_ENTRIES_MAX) {
		evict_oldest(a);
		i = find(a, ms, seq);
	}
	if (i < ATTEMPTS_SLOTS) {
		struct slot *s = &a->slots[i];

		if (s->count == 0) {
			s->ms = ms;
			s->seq = seq;
			a->used++;
		}
		if (s->count < UINT32_MAX)
			s->count++;
		s->stamp = ++a->clock;
		n = s->count;
	}
	pthread_mutex_unlock(&a->lock);
	return n;
}

unsigned
attempts_get(struct attempts *a, const char *entry)
{
	uint64_t ms, seq;
	unsigned n = 0;
	size_t i;

	if (parse_entry(entry, &ms, &seq) != 0)
		return 0;
	pthread_mutex_lock(&a->lock);
	if ((i = find(a, ms, seq)) < ATTEMPTS_SLOTS)
		n = a->slots[i].count;
	pthread_mutex_unlock(&a->lock);
	return n;
}

void
attempts_end(struct attempts *a, const char *entry)
{
	uint64_t ms, seq;
	size_t i;

	if (parse_entry(entry, &ms, &seq) != 0)
		return;
	pthread_mutex_lock(&a->lock);
	if ((i = find(a, ms, seq)) < ATTEMPTS_SLOTS && a->slots[i].count != 0)
		remove_at(a, i);
	pthread_mutex_unlock(&a->lock);
}
