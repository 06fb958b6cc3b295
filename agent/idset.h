/*
 * idset.h — every job id the agent has bound to a job, for good (docs/protocol.md §3:
 * "the agent signs at most once per id, ever").
 *
 * The replay table (replay.h) is the fast path, and it forgets a job once
 * the job has expired: from then on that envelope is job.expired anyway.
 * But another job under the same id, made later by the same submitter,
 * has not expired.  This set never forgets, for as long as the audit log
 * holds the record that made a binding (it is rebuilt from the log at
 * every start, like the replay table):
 *
 *   - an intent to sign binds the id to that job payload for everyone:
 *     a job with another payload under it is refused (job.replayed);
 *   - a rejection after the job was authenticated and parsed binds the
 *     id to that payload for its submitter only: another payload from the
 *     same submitter is refused, one from another submitter is not (else
 *     anyone whose key the agent knows but whose job it refuses — a
 *     submitter not allowed the key, a revoked one — could copy waiting
 *     jobs' ids from Redis and so spend them).  An intent to sign such a
 *     job then binds the id for everyone.
 *
 * Kept on disk, not in memory: an unlinked file in `dir` (the audit log's
 * directory) of 4 KiB buckets, each holding up to 84 records of 48 bytes
 * (the binary id, the first 16 bytes of the SHA-256 of the job payload,
 * the first 15 of the SHA-256 of the submitter's identity, and the kind
 * of binding).  An id's bucket is given by the top bits of a salted
 * SHA-256 of the id, so that nobody can aim ids at one bucket.  The file
 * doubles when it is 5/8 full, in one sequential pass that splits bucket
 * b into buckets 2b and 2b+1: 49 to 98 bytes of disk per id, a 4 KiB
 * read and write per new id, and a resident set that does not grow with
 * the ids (one bucket, plus windows of a few hundred KiB mapped only
 * while the file doubles).  A failed read or write breaks the set: every
 * later bind fails (no job is signed until a restart), never a second
 * signature.  Thread-safe.
 */
#ifndef SG_IDSET_H
#define SG_IDSET_H

#include <stddef.h>

#include "err.h"

struct idset;

enum idset_bound {
	IDSET_NEW = 0,   /* the id was free (for this job): it is now bound to it */
	IDSET_SAME = 1,  /* bound to this job before */
	IDSET_OTHER = 2, /* bound to another job: refuse this one */
};

enum idset_kind {
	IDSET_INTENT = 1,   /* the agent is about to ask the HSM: binds for everyone */
	IDSET_REJECTED = 2, /* rejected after parsing: binds for its submitter */
};

/* Makes the set's file in dir (unlinked at once).  SG_ERR_SYSTEM when it
 * cannot be made there with its blocks allocated, SG_ERR_ALLOC, SG_ERR_CRYPTO. */
int idset_new(const char *dir, struct idset **ret) SG_MUST_CHECK;
void idset_free(struct idset *s);

/*
 * Binds id (32 lowercase hex) to the job whose payload has the SHA-256
 * job_sha256 (64 lowercase hex), sent by `submitter` (its name or
 * certificate identity), as `kind` says, and tells in *ret_bound how the
 * id stood for this job:
 *
 *   nothing bound              NEW: bound now, as kind
 *   bound at an intent         SAME for this payload, else OTHER (unchanged)
 *   bound at a rejection       OTHER for another payload of the same
 *                              submitter (unchanged); else SAME for the
 *                              same payload, NEW for another submitter's,
 *                              and an intent rebinds the id to this job
 *                              for everyone
 *
 * SG_ERR_INVALID_ARGUMENT for a malformed id or hash, a NULL submitter or
 * an unknown kind, SG_ERR_SYSTEM (the file failed: the set is broken from
 * now on), SG_ERR_INTERNAL (broken before), SG_ERR_LIMIT (the file would
 * pass IDSET_BUCKETS_MAX buckets).  *ret_bound is set only on success.
 */
int idset_bind(struct idset *s, const char *id, const char *job_sha256, const char *submitter,
    enum idset_kind kind, enum idset_bound *ret_bound) SG_MUST_CHECK;

/* How many ids are bound (for tests and metrics). */
size_t idset_count(struct idset *s);

#endif
