/*
 * workq.c — the agent's work queue (workq.h): a ring of WORK_QUEUE_MAX
 * items under one lock, and the in-flight table beside it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "workq.h"

struct work_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	struct work_item items[WORK_QUEUE_MAX];
	size_t head, count;
	int closed;
	/* Entries read and not yet finished (queued or with a worker): the
	 * reader keeps them from looking idle to other agents (queue_touch). */
	char inflight[INFLIGHT_MAX][QUEUE_ENTRY_ID_MAX + 1];
	unsigned char inflight_used[INFLIGHT_MAX];
};

struct work_queue *
workq_new(void)
{
	struct work_queue *wq = calloc(1, sizeof(*wq));

	if (wq == NULL)
		return NULL;
	if (pthread_mutex_init(&wq->lock, NULL) != 0) {
		free(wq);
		return NULL;
	}
	if (pthread_cond_init(&wq->not_empty, NULL) != 0) {
		pthread_mutex_destroy(&wq->lock);
		free(wq);
		return NULL;
	}
	if (pthread_cond_init(&wq->not_full, NULL) != 0) {
		pthread_cond_destroy(&wq->not_empty);
		pthread_mutex_destroy(&wq->lock);
		free(wq);
		return NULL;
	}
	return wq;
}

void
workq_free(struct work_queue *wq)
{
	size_t i;

	if (wq == NULL)
		return;
	for (i = 0; i < wq->count; i++)
		free(wq->items[(wq->head + i) % WORK_QUEUE_MAX].e.env);
	pthread_mutex_destroy(&wq->lock);
	pthread_cond_destroy(&wq->not_empty);
	pthread_cond_destroy(&wq->not_full);
	free(wq);
}

void
workq_close(struct work_queue *wq)
{
	pthread_mutex_lock(&wq->lock);
	wq->closed = 1;
	pthread_cond_broadcast(&wq->not_empty);
	pthread_mutex_unlock(&wq->lock);
}

int
workq_pop(struct work_queue *wq, struct work_item *ret)
{
	pthread_mutex_lock(&wq->lock);
	while (wq->count == 0 && !wq->closed)
		pthread_cond_wait(&wq->not_empty, &wq->lock);
	if (wq->count == 0) {
		pthread_mutex_unlock(&wq->lock);
		return -1;
	}
	*ret = wq->items[wq->head];
	wq->head = (wq->head + 1) % WORK_QUEUE_MAX;
	wq->count--;
	pthread_cond_signal(&wq->not_full);
	pthread_mutex_unlock(&wq->lock);
	return 0;
}

/* Whether entry id is in flight already; lock held. */
static int
inflight_has(const struct work_queue *wq, const char *id)
{
	size_t i;

	for (i = 0; i < INFLIGHT_MAX; i++) {
		if (wq->inflight_used[i] && strcmp(wq->inflight[i], id) == 0)
			return 1;
	}
	return 0;
}

/* Takes ownership of e's contents (or frees them when the entry is in
 * flight already, as a reclaimed entry of our own may be). */
void
workq_push(struct work_queue *wq, struct queue_entry *e, int dead)
{
	struct work_item *it;
	size_t slot;

	pthread_mutex_lock(&wq->lock);
	if (inflight_has(wq, e->id)) {
		pthread_mutex_unlock(&wq->lock);
		free(e->env);
		e->env = NULL;
		return;
	}
	while (wq->count == WORK_QUEUE_MAX)
		pthread_cond_wait(&wq->not_full, &wq->lock);
	/* At most WORK_QUEUE_MAX queued plus one per worker: a slot is free. */
	for (slot = 0; slot < INFLIGHT_MAX && wq->inflight_used[slot]; slot++)
		;
	if (slot < INFLIGHT_MAX) {
		wq->inflight_used[slot] = 1;
		memcpy(wq->inflight[slot], e->id, sizeof(wq->inflight[slot]));
	}
	it = &wq->items[(wq->head + wq->count) % WORK_QUEUE_MAX];
	it->e = *e;
	it->dead = dead;
	it->slot = slot;
	wq->count++;
	e->env = NULL;
	pthread_cond_signal(&wq->not_empty);
	pthread_mutex_unlock(&wq->lock);
}

void
workq_done(struct work_queue *wq, size_t slot)
{
	pthread_mutex_lock(&wq->lock);
	if (slot < INFLIGHT_MAX)
		wq->inflight_used[slot] = 0;
	pthread_mutex_unlock(&wq->lock);
}

/* Copies the ids in flight into ids (INFLIGHT_MAX entries); returns how many. */
size_t
workq_inflight(struct work_queue *wq, char ids[][QUEUE_ENTRY_ID_MAX + 1])
{
	size_t i, n = 0;

	pthread_mutex_lock(&wq->lock);
	for (i = 0; i < INFLIGHT_MAX; i++) {
		if (wq->inflight_used[i])
			memcpy(ids[n++], wq->inflight[i], QUEUE_ENTRY_ID_MAX + 1);
	}
	pthread_mutex_unlock(&wq->lock);
	return n;
}

size_t
workq_free_slots(struct work_queue *wq)
{
	size_t n;

	pthread_mutex_lock(&wq->lock);
	n = WORK_QUEUE_MAX - wq->count;
	pthread_mutex_unlock(&wq->lock);
	return n;
}
