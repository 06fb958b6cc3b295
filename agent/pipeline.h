/*
 * pipeline.h — what the agent does with one stream entry.
 *
 * size limit → DSSE parse → signer by keyid → envelope signature → strict
 * job parse → time window → policy → replay check → HSM signature → format
 * (raw/CMS, verified) → store → audit (durable) → result signed by the
 * attestation key → result in Redis (SET/LPUSH) → XACK/XDEL → webhooks.
 * The audit log gets "received", "intent" (or "retry" of an interrupted
 * one), "signature", the decision and "published" records, or "withheld"
 * for a signature whose claim another process took (docs/audit.md).
 *
 * Every rejection that is owed a result (docs/errors.md) gets one, written with NX
 * so that it can never replace a genuine signed result; every decision is
 * in the audit log before anything about it leaves the agent.
 */
#ifndef SG_PIPELINE_H
#define SG_PIPELINE_H

#include "attempts.h"
#include "audit.h"
#include "config.h"
#include "agent.h"
#include "config_live.h"
#include "hsm.h"
#include "idset.h"
#include "metrics.h"
#include "queue.h"
#include "quota.h"
#include "replay.h"
#include "store.h"
#include "webhook.h"

/*
 * Processes one entry to the end, acknowledging it.  Returns 0, or
 * SG_ERR_QUEUE_* when Redis failed (reconnect and call again with the same
 * entry: a second pass is idempotent, a signature already made is published
 * again rather than made twice), or SG_ERR_HSM_UNAVAILABLE when not even a
 * rejection could be attested (retry later; the entry stays pending).
 * *received is 0 on the first call for a delivery of the entry; it is set
 * once the entry's "received" record is written, which is one attempt at
 * it (attempts.h): the calls that retry the same delivery neither write
 * nor count it again.
 */
int pipeline_process(
    struct agent *ag, struct queue *q, const struct queue_entry *e, int *received) SG_MUST_CHECK;

/*
 * An entry that this agent took up max_deliveries times without deciding
 * it (it may be what stops the agent: attempts.h counts them, not Redis's
 * delivery counter, which anyone can raise): a failed/internal result when
 * one is owed (written with NX), an audit record, then XADD to
 * <prefix>dead and XACK/XDEL.  Same return values as pipeline_process().
 */
int pipeline_dead_letter(
    struct agent *ag, struct queue *q, const struct queue_entry *e) SG_MUST_CHECK;

/* Signs a SHA-256 digest with the attestation key (HSM retries included);
 * sig has room for HSM_SIG_MAX bytes.  For checkpoints. */
int pipeline_attest_digest(struct agent *ag, const uint8_t digest[SHA256_LEN], uint8_t *sig,
    size_t *ret_len) SG_MUST_CHECK;

/* The audit replay callback that rebuilds ag->replay from the log. */
void pipeline_audit_replay(void *arg, const struct audit_seen *rec);

#endif
