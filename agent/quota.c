/*
 * quota.c — sliding-window job counts (see quota.h).
 *
 * One entry per (identity, key) holding the seconds of the last day in
 * which it had jobs signed, each with its number of jobs, in ascending
 * order: memory grows with the seconds that saw jobs, not with the jobs
 * (a busy pair holds at most 86 400 of them), and the windows stay exact.  Entries are found by linear search: there
 * are as many as pairs that signed in the last day, and a sweep drops the
 * empty ones whenever the table grows past QUOTA_SWEEP_AT entries.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"
#include "util.h"

#define QUOTA_SWEEP_AT 1024

struct quota_tick {
	int64_t t;     /* a second */
	uint32_t jobs; /* signed in it, > 0 */
};

struct quota_entry {
	char *identity;
	char *key;
	struct quota_tick *times; /* ascending, each second once */
	size_t n, cap;
};

struct quota {
	pthread_mutex_t lock;
	struct quota_entry *e;
	size_t n, cap, sweep_at;
	size_t events; /* sum of every entry's n (seconds held) */
};

struct quota *
quota_new(void)
{
	struct quota *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	q->sweep_at = QUOTA_SWEEP_AT;
	return q;
}

static void
entry_clear(struct quota_entry *e)
{
	free(e->identity);
	free(e->key);
	free(e->times);
	memset(e, 0, sizeof(*e));
}

void
quota_free(struct quota *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->n; i++)
		entry_clear(&q->e[i]);
	free(q->e);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Drops the events of e that are a day old at now. */
static void
entry_expire(struct quota *q, struct quota_entry *e, int64_t now)
{
	size_t k = 0;

	while (k < e->n && e->times[k].t <= now - QUOTA_DAY_S)
		k++;
	if (k > 0) {
		memmove(e->times, e->times + k, (e->n - k) * sizeof(*e->times));
		e->n -= k;
		q->events -= k;
	}
}

static void
sweep(struct quota *q, int64_t now)
{
	size_t i, j = 0;

	for (i = 0; i < q->n; i++) {
		entry_expire(q, &q->e[i], now);
		if (q->e[i].n == 0)
			entry_clear(&q->e[i]);
		else
			q->e[j++] = q->e[i];
	}
	q->n = j;
	q->sweep_at = q->n * 2 > QUOTA_SWEEP_AT ? q->n * 2 : QUOTA_SWEEP_AT;
}

static struct quota_entry *
find(struct quota *q, const char *identity, const char *key)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->e[i].identity, identity) == 0 && strcmp(q->e[i].key, key) == 0)
			return &q->e[i];
	return NULL;
}

static int
add_locked(struct quota *q, const char *identity, const char *key, int64_t t)
{
	struct quota_entry *e;
	size_t pos;

	if ((e = find(q, identity, key)) == NULL) {
		if (q->events >= QUOTA_EVENTS_MAX)
			return SG_ERR_LIMIT;
		if (q->n >= q->sweep_at)
			sweep(q, t);
		if (q->n == q->cap) {
			size_t ncap = q->cap ? q->cap * 2 : 16;
			struct quota_entry *ne = realloc(q->e, ncap * sizeof(*ne));
			if (ne == NULL)
				return SG_ERR_ALLOC;
			q->e = ne;
			q->cap = ncap;
		}
		e = &q->e[q->n];
		memset(e, 0, sizeof(*e));
		if ((e->identity = xstrdup(identity)) == NULL || (e->key = xstrdup(key)) == NULL) {
			entry_clear(e);
			return SG_ERR_ALLOC;
		}
		q->n++;
	}
	/* Usually the last second or a new one at the end; the audit log may
	 * hold a slightly older time last. */
	pos = e->n;
	while (pos > 0 && e->times[pos - 1].t > t)
		pos--;
	if (pos > 0 && e->times[pos - 1].t == t) {
		if (e->times[pos - 1].jobs == UINT32_MAX)
			return SG_ERR_LIMIT;
		e->times[pos - 1].jobs++;
		return 0;
	}
	if (q->events >= QUOTA_EVENTS_MAX)
		return SG_ERR_LIMIT;
	if (e->n == e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : 8;
		struct quota_tick *nt = realloc(e->times, ncap * sizeof(*nt));
		if (nt == NULL)
			return SG_ERR_ALLOC;
		e->times = nt;
		e->cap = ncap;
	}
	memmove(e->times + pos + 1, e->times + pos, (e->n - pos) * sizeof(*e->times));
	e->times[pos].t = t;
	e->times[pos].jobs = 1;
	e->n++;
	q->events++;
	return 0;
}

int
quota_add(struct quota *q, const char *identity, const char *key, int64_t t)
{
	int r;

	pthread_mutex_lock(&q->lock);
	r = add_locked(q, identity, key, t);
	pthread_mutex_unlock(&q->lock);
	return r;
}

static void
count_locked(struct quota *q, const char *identity, const char *key, int64_t now,
    uint32_t *ret_hour, uint32_t *ret_day)
{
	struct quota_entry *e = find(q, identity, key);
	uint32_t h = 0, d = 0;
	size_t i;

	for (i = 0; e != NULL && i < e->n; i++) {
		if (e->times[i].t > now)
			continue;
		if (e->times[i].t > now - QUOTA_DAY_S)
			d += e->times[i].jobs;
		if (e->times[i].t > now - QUOTA_HOUR_S)
			h += e->times[i].jobs;
	}
	*ret_hour = h;
	*ret_day = d;
}

void
quota_count(struct quota *q, const char *identity, const char *key, int64_t now, uint32_t *ret_hour,
    uint32_t *ret_day)
{
	pthread_mutex_lock(&q->lock);
	count_locked(q, identity, key, now, ret_hour, ret_day);
	pthread_mutex_unlock(&q->lock);
}

int
quota_take(struct quota *q, const char *identity, const char *key, int64_t now, uint32_t per_hour,
    uint32_t per_day)
{
	struct quota_entry *e;
	uint32_t h, d;
	int r;

	pthread_mutex_lock(&q->lock);
	if ((e = find(q, identity, key)) != NULL)
		entry_expire(q, e, now);
	count_locked(q, identity, key, now, &h, &d);
	if ((per_hour != 0 && h >= per_hour) || (per_day != 0 && d >= per_day)) {
		r = SG_ERR_POLICY_QUOTA_EXCEEDED;
	} else {
		r = add_locked(q, identity, key, now);
		if (r == SG_ERR_LIMIT)
			r = per_hour != 0 || per_day != 0 ? SG_ERR_POLICY_QUOTA_EXCEEDED : 0;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

void
quota_give_back(struct quota *q, const char *identity, const char *key, int64_t t)
{
	struct quota_entry *e;
	size_t i;

	pthread_mutex_lock(&q->lock);
	if ((e = find(q, identity, key)) != NULL) {
		for (i = e->n; i > 0; i--) {
			if (e->times[i - 1].t != t)
				continue;
			if (--e->times[i - 1].jobs == 0) {
				memmove(
				    e->times + i - 1, e->times + i, (e->n - i) * sizeof(*e->times));
				e->n--;
				q->events--;
			}
			break;
		}
	}
	pthread_mutex_unlock(&q->lock);
}
