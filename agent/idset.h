/*
 * idset.h — every job id the agent has bound to a job, for good (SPEC §3:
 * "the agent signs at most once per id, ever").
 *
 * The replay table (replay.h) is the fast path, and it forgets a job once
 * the job has expired: from then on that envelope is job.expired anyway.
 * But another job under the same id, made later by the same submitter,
 * has not expired.  This set never forgets: an id is bound to the job
 * payload under which the agent first recorded an intent to sign it, or
 * first rejected it after authenticating and parsing it, and a later job
 * with another payload under that id is refused (job.replayed) for as
 * long as the audit log holds the record that bound it.  Like the replay
 * table it is rebuilt from the audit log at every start.
 *
 * Kept on disk, not in memory: an unlinked file in `dir` (the audit log's
 * directory) of 4 KiB buckets, each holding up to 127 records of 32 bytes
 * (the binary id, and the first 16 bytes of the SHA-256 of the job payload
 * bound to it).  An id's bucket is given by the top bits of a salted
 * SHA-256 of the id, so that nobody can aim ids at one bucket.  The file
 * doubles when it is 5/8 full, in one sequential pass that splits bucket
 * b into buckets 2b and 2b+1: 32 to 64 bytes of disk per id, a 4 KiB
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
	IDSET_NEW = 0,   /* the id was free: it is now bound to this job */
	IDSET_SAME = 1,  /* bound to this job before */
	IDSET_OTHER = 2, /* bound to another job: refuse this one */
};

/* Makes the set's file in dir (unlinked at once).  SG_ERR_SYSTEM when it
 * cannot be made there with its blocks allocated, SG_ERR_ALLOC, SG_ERR_CRYPTO. */
int idset_new(const char *dir, struct idset **ret) SG_MUST_CHECK;
void idset_free(struct idset *s);

/*
 * Binds id (32 lowercase hex) to the job whose payload has the SHA-256
 * job_sha256 (64 lowercase hex) unless the id is bound already, and says
 * which it was in *ret_bound.  The first binding stays: binding an id to
 * another job changes nothing.  SG_ERR_INVALID_ARGUMENT for a malformed
 * id or hash, SG_ERR_SYSTEM (the file failed: the set is broken from now
 * on), SG_ERR_INTERNAL (broken before), SG_ERR_LIMIT (the file would pass
 * IDSET_BUCKETS_MAX buckets).  *ret_bound is set only on success.
 */
int idset_bind(struct idset *s, const char *id, const char *job_sha256,
    enum idset_bound *ret_bound) SG_MUST_CHECK;

/* How many ids are bound (for tests and metrics). */
size_t idset_count(struct idset *s);

#endif
