/*
 * pending.h — the stream entries of jobs waiting for approvals that this
 * agent process keeps alive (docs/approvals.md, docs/reliability.md).
 *
 * The state of a pending job lives in Redis, not here: its entry stays in
 * the jobs stream, unacknowledged, and its attested pending result holds
 * the approvals counted so far.  This list only says which of those
 * entries this process refreshes (so that no other agent takes them over
 * while it lives) and when each job expires (so that it is rejected with
 * approval.expired on time).  A process that dies loses the list and
 * nothing else: its entries look abandoned after reclaim_after and another
 * agent, or the restarted one, takes them over and reads their state from
 * Redis again.
 */
#ifndef SG_PENDING_H
#define SG_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#define PENDING_MAX 4096 /* entries one process keeps; more are left to reclaim */

struct pending;

struct pending *pending_new(void);
void pending_free(struct pending *p);

/* Adds (or updates) an entry and its job's expiry.  0, or SG_ERR_LIMIT
 * when full (the entry is then only refreshed by reclaim).  Thread-safe. */
int pending_add(struct pending *p, const char *entry, int64_t expires);

/* Forgets an entry (decided, or gone from the stream).  Thread-safe. */
void pending_remove(struct pending *p, const char *entry);

/* Copies up to max entry ids into ids, and their expiries into expires
 * (may be NULL).  Returns how many.  Thread-safe. */
size_t pending_list(
    struct pending *p, char (*ids)[QUEUE_ENTRY_ID_MAX + 1], int64_t *expires, size_t max);

/* How many entries are kept (signet_approvals_pending).  Thread-safe;
 * NULL gives 0. */
size_t pending_count(struct pending *p);

#endif
