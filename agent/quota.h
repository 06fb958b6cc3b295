/*
 * quota.h — signed jobs per submitter identity and key over sliding windows
 * of one hour and one day, counted on the HSM host (docs/policy.md).
 *
 * Only jobs that were signed count.  The state is in memory and rebuilt at
 * start-up from the audit log ("signed" records: time, submitter, key), so
 * it survives restarts without trusting Redis.  Jobs are kept as counts
 * per second (the windows are exact to the second) for QUOTA_DAY_S
 * seconds, so memory grows with the seconds that saw jobs, not with the
 * jobs: at most QUOTA_EVENTS_MAX (identity, key, second) counts are held,
 * and when that many are held quota_take() refuses (fails closed) for keys
 * that have a quota.  All functions are thread-safe.
 */
#ifndef SG_QUOTA_H
#define SG_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define QUOTA_HOUR_S     3600
#define QUOTA_DAY_S      86400
#define QUOTA_EVENTS_MAX (1u << 20)

struct quota;

/* NULL only when out of memory. */
struct quota *quota_new(void);
void quota_free(struct quota *q);

/* Records a signed job at time t.  SG_ERR_ALLOC, SG_ERR_LIMIT (full). */
int quota_add(struct quota *q, const char *identity, const char *key, int64_t t) SG_MUST_CHECK;

/* Jobs recorded for (identity, key) in (now - 1 h, now] and (now - 1 d, now]. */
void quota_count(struct quota *q, const char *identity, const char *key, int64_t now,
    uint32_t *ret_hour, uint32_t *ret_day);

/*
 * Atomically: SG_ERR_POLICY_QUOTA_EXCEEDED when recording one more job at
 * now would pass per_hour or per_day (0 = no limit), else records it and
 * returns 0 (give it back with quota_give_back() if the job is not signed
 * after all).  When QUOTA_EVENTS_MAX events are held, a key with a limit is
 * refused and a key without one is let through unrecorded.  SG_ERR_ALLOC.
 */
int quota_take(struct quota *q, const char *identity, const char *key, int64_t now,
    uint32_t per_hour, uint32_t per_day) SG_MUST_CHECK;

/* Forgets one job recorded for (identity, key) at time t (it was not signed
 * after all).  No-op when there is none. */
void quota_give_back(struct quota *q, const char *identity, const char *key, int64_t t);

#endif
