/*
 * approvals.h — what the agent reads and tells about jobs of keys that
 * require approvals (docs/approvals.md).  The flow itself is in
 * pipeline.c; these are its parts that do not decide anything.
 */
#ifndef SG_APPROVALS_H
#define SG_APPROVALS_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "config.h"
#include "queue.h"
#include "result.h"

/* The result Redis holds for a job id, as read. */
struct held {
	char *env; /* the bytes as read, NULL when there is none */
	size_t env_len;
	struct sg_result *res; /* attested by this agent's key and bound to the
	                          id; NULL when absent or not genuine */
};

/* Reads <prefix>result:<id> and checks it (attestation, id).  0 (look at
 * h->env and h->res), or the queue's error.  held_clear() in every case. */
int held_read(struct agent *ag, struct queue *q, const char *id, struct held *h) SG_MUST_CHECK;
void held_clear(struct held *h);

/* Whether h holds a genuine pending result of the job whose payload hash
 * is job_sha256. */
int held_is_pending_for(const struct held *h, const char *job_sha256);

/* How many of res's received approvals count under key k now: by its
 * approvers, not by the submitter. */
size_t approvals_counted(const struct agent_key *k, const struct sg_result *res);

/* "1 of 2 (ci-ed, ci-jo)" into buf. */
void approvals_describe(const struct sg_result *res, size_t counted, char *buf, size_t len);

/* Tells the webhooks named in k's approvals.notify that job res (a pending
 * result payload, or the decided one's) is waiting for approvals
 * ("approval.requested") or was decided ("approval.decided"). */
void approvals_notify(struct agent *ag, const struct agent_key *k, const char *event,
    const struct sg_result *res, const char *payload, size_t payload_len);

#endif
