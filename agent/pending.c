/*
 * pending.c — the pending entries this process keeps alive (pending.h).
 * A small array under a mutex: pending jobs wait for people, so there are
 * few of them and they change rarely.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pending.h"

struct pending_item {
	char id[QUEUE_ENTRY_ID_MAX + 1];
	int64_t expires;
};

struct pending {
	pthread_mutex_t mu;
	struct pending_item *items;
	size_t n, cap;
};

struct pending *
pending_new(void)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

void
pending_free(struct pending *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p->items);
	free(p);
}

static size_t
find(const struct pending *p, const char *entry)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->items[i].id, entry) == 0)
			return i;
	return p->n;
}

int
pending_add(struct pending *p, const char *entry, int64_t expires)
{
	struct pending_item *grown;
	size_t i;
	int r = 0;

	if (p == NULL || entry == NULL || strlen(entry) > QUEUE_ENTRY_ID_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&p->mu);
	if ((i = find(p, entry)) < p->n) {
		p->items[i].expires = expires;
		goto out;
	}
	if (p->n == PENDING_MAX) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;

		if ((grown = realloc(p->items, cap * sizeof(*grown))) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		p->items = grown;
		p->cap = cap;
	}
	memcpy(p->items[p->n].id, entry, strlen(entry) + 1);
	p->items[p->n].expires = expires;
	p->n++;
out:
	pthread_mutex_unlock(&p->mu);
	return r;
}

void
pending_remove(struct pending *p, const char *entry)
{
	size_t i;

	if (p == NULL || entry == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	if ((i = find(p, entry)) < p->n)
		p->items[i] = p->items[--p->n];
	pthread_mutex_unlock(&p->mu);
}

size_t
pending_list(struct pending *p, char (*ids)[QUEUE_ENTRY_ID_MAX + 1], int64_t *expires, size_t max)
{
	size_t i;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->n && i < max; i++) {
		memcpy(ids[i], p->items[i].id, sizeof(ids[i]));
		if (expires != NULL)
			expires[i] = p->items[i].expires;
	}
	pthread_mutex_unlock(&p->mu);
	return i;
}

size_t
pending_count(struct pending *p)
{
	size_t n;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	n = p->n;
	pthread_mutex_unlock(&p->mu);
	return n;
}
