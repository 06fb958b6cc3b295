/*
 * checkpointer.h — signed checkpoints of the audit log (docs/audit.md).
 *
 * Every checkpoint_interval seconds (when the log grew) and at shutdown, a
 * background thread makes the log durable, signs its tree head with the
 * attestation key as a C2SP checkpoint (common/checkpoint.h), and
 * publishes to the artifact store, in this order:
 *
 *     <base>/audit/records/<first>-<end>.jsonl  the new records, in pieces
 *                                               of at most 1 MiB (leaf
 *                                               indexes first..end-1)
 *     <base>/audit/checkpoints/<size>           the checkpoint
 *     <base>/audit/checkpoints/latest           the same, overwritten
 *
 * and only then keeps it in "<audit_log>.checkpoint", which audit_open()
 * checks the log against at the next start (a log cut back or edited below
 * it is refused).  A failed publication is logged and tried again at the
 * next interval with all records since the last published checkpoint.
 */
#ifndef SG_CHECKPOINTER_H
#define SG_CHECKPOINTER_H

#include "checkpoint.h"
#include "pipeline.h"

#define CHECKPOINT_STATE_SUFFIX ".checkpoint"
#define CHECKPOINT_PIECE_MAX    (1024 * 1024)

struct checkpointer;

/*
 * Reads the last checkpoint this agent kept for its log (path + suffix) and
 * verifies it with pub and origin.  SG_ERR_NOT_FOUND when there is none
 * (a new log); SG_ERR_CONFIG with the reason in errbuf when it is there but
 * unreadable, forged or of another origin.
 */
int checkpointer_load_state(const char *audit_log, EVP_PKEY *pub, const char *origin,
    struct checkpoint *ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/*
 * Starts the thread.  last is the checkpoint audit_open() was checked
 * against (NULL: none yet), ag must stay valid until checkpointer_stop().
 */
int checkpointer_start(
    struct agent *ag, const struct checkpoint *last, struct checkpointer **ret) SG_MUST_CHECK;

/* Signs and publishes one checkpoint now if the log grew (the thread does
 * this every interval).  0, or the first error. */
int checkpointer_run_once(struct checkpointer *c) SG_MUST_CHECK;

/* Stops the thread after a last checkpoint (call after the workers have
 * finished).  NULL is a no-op. */
void checkpointer_stop(struct checkpointer *c);

#endif
