/*
 * replay.h — "the agent signs at most once per id, ever" (docs/protocol.md §3).
 *
 * An in-memory table of job ids the agent has signed or is signing, rebuilt
 * from the audit log at start-up (the audit log is the durable record).
 * A worker claims an id before it asks the HSM for a signature; a second
 * worker that meets the same id waits for the first to finish, then sees it
 * as signed (a replay) or free again (the first one failed before signing).
 * Thread-safe.
 *
 * Bounded by the jobs' lifetimes: an id is forgotten once its job has
 * expired (plus the clock-skew allowance), because from then on any
 * envelope of that job is refused as job.expired anyway (another job under
 * the same id is refused by the set of bound ids, idset.h, which does not
 * forget).  Ids whose expiry is unknown (0) are kept.  An id costs a 64-byte slot (binary id and job
 * hash, the key name interned), at most 3/4 of the slots used: ~170 bytes
 * per id remembered, i.e. jobs per second × max_job_lifetime × 170 bytes —
 * of disk, not of memory: the slots live in an unlinked file in `dir` (the
 * audit log's directory), read and written with pread/pwrite, so the
 * agent's resident memory stays flat however many ids it must remember.
 * If that file cannot be read or written, every later claim fails.
 */
#ifndef SG_REPLAY_H
#define SG_REPLAY_H

#include "err.h"
#include "job.h"
#include "util.h"

struct replay;

enum replay_state {
	REPLAY_CLAIMED = 0,     /* the caller now owns the id: sign, then replay_done() */
	REPLAY_SIGNED = 1,      /* signed before: see ret_job_sha256 / ret_key */
	REPLAY_INTERRUPTED = 2, /* an earlier run recorded the intent to sign and
	                           stopped before it recorded the outcome: the HSM
	                           may have signed, but nothing was released; the
	                           job is signed again with a "retry" record
	                           (replay_retry) */
};

/* The slot file is made in dir (unlinked at once); SG_ERR_SYSTEM when it
 * cannot be made there with its blocks allocated. */
int replay_new(const char *dir, struct replay **ret) SG_MUST_CHECK;
void replay_free(struct replay *rp);

/* Records an id as signed (from the audit log, or after signing). */
int replay_mark_signed(struct replay *rp, const char *id, const char *job_sha256, const char *key,
    int64_t expires) SG_MUST_CHECK;

/* From the audit log at start-up: an "intent" record marks the id
 * interrupted until a record of its outcome for the same job follows
 * (replay_mark_signed, or replay_mark_free for a failure). */
int replay_mark_intent(struct replay *rp, const char *id, const char *job_sha256, const char *key,
    int64_t expires) SG_MUST_CHECK;
void replay_mark_free(struct replay *rp, const char *id, const char *job_sha256);

/*
 * Claims id, or reports that it was signed already, copying the job_sha256
 * and key of that signature into ret_job_sha256 (SHA256_HEX_LEN+1 bytes)
 * and ret_key (JOB_KEY_MAX+1 bytes).  Blocks while another worker holds it.
 */
int replay_claim(struct replay *rp, const char *id, enum replay_state *ret_state,
    char *ret_job_sha256, char *ret_key) SG_MUST_CHECK;

/* Ends a claim: signed (with its job hash and key) or released (nothing
 * was signed). */
void replay_done(struct replay *rp, const char *id, int signed_ok, const char *job_sha256,
    const char *key, int64_t expires);

/*
 * Takes over an interrupted intent (REPLAY_INTERRUPTED) of this very job to
 * sign it again: the id becomes the caller's as with REPLAY_CLAIMED, to be
 * ended with replay_done(), or with replay_retry_end() when nothing was
 * asked of the HSM (it is interrupted again then, for the next delivery).
 * SG_ERR_EXISTS when the id is no longer interrupted for this job (another
 * worker took it: claim it again).
 */
int replay_retry(struct replay *rp, const char *id, const char *job_sha256) SG_MUST_CHECK;
void replay_retry_end(struct replay *rp, const char *id);

/* How many ids are remembered (for tests and metrics). */
size_t replay_count(struct replay *rp);

#endif
