/*
 * workq.h — the agent's work queue: the reader thread pushes stream
 * entries, the workers pop them.  Bounded (WORK_QUEUE_MAX queued entries:
 * the reader blocks when it is full) and aware of what is in flight: an
 * entry queued or with a worker is in the in-flight table until the worker
 * is done with it, so that the reader can keep those entries from looking
 * idle to other agents (queue_touch) and never queues one twice (a
 * reclaimed entry of our own).  All calls are thread-safe.
 */
#ifndef SG_WORKQ_H
#define SG_WORKQ_H

#include <stddef.h>

#include "hsm.h"
#include "queue.h"

#define WORK_QUEUE_MAX      256
/* Workers spend most of a job waiting for a sync (the audit log's intent
 * and decision, the store's two) that they share with every worker waiting
 * at the same time: more of them, more jobs per sync.  8 per session: ECDSA
 * 600 -> 780 jobs/s against 4; 16 did no better on a CPU-bound host and
 * kept ~5 MiB more resident (docs/performance.md). */
#define WORKERS_PER_SESSION 8

#define INFLIGHT_MAX (WORK_QUEUE_MAX + HSM_SESSIONS_MAX * WORKERS_PER_SESSION)

/* An entry on its way to a worker. */
struct work_item {
	struct queue_entry e;
	int dead;    /* delivered too often: to the dead letters */
	size_t slot; /* its place in the in-flight table */
};

struct work_queue;

/* A new, empty queue; NULL when out of memory.  workq_free() (NULL: no-op)
 * frees it and what is still queued. */
struct work_queue *workq_new(void);
void workq_free(struct work_queue *wq);

/* Takes ownership of e's contents (or frees them when the entry is in
 * flight already); blocks while the queue is full. */
void workq_push(struct work_queue *wq, struct queue_entry *e, int dead);
/* The next item, blocking while none is queued: 0, or -1 once the queue
 * is closed and empty.  The caller owns ret->e.env and calls
 * workq_done(ret->slot) when finished with the entry. */
int workq_pop(struct work_queue *wq, struct work_item *ret);
void workq_done(struct work_queue *wq, size_t slot);
/* No more pushes: workq_pop() returns -1 once the queue is empty. */
void workq_close(struct work_queue *wq);
/* Copies the ids in flight into ids (INFLIGHT_MAX entries); returns how many. */
size_t workq_inflight(struct work_queue *wq, char ids[][QUEUE_ENTRY_ID_MAX + 1]);
/* Room left in the queue. */
size_t workq_free_slots(struct work_queue *wq);

#endif
