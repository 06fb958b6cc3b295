/*
 * audit.h — the agent's audit log: a Merkle tree log (common/auditlog.h,
 * docs/audit.md).  Every record is one JSON line and one leaf of an RFC
 * 6962 tree; each record names the root of the tree before it ("prev").
 * Appends use group commit: one fdatasync per batch of concurrent
 * appenders, and an append that asks for durability returns only once its
 * record is on disk.  The writer is single (audit_append, under a lock).
 */
#ifndef SG_AUDIT_H
#define SG_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "auditlog.h"
#include "checkpoint.h"
#include "err.h"
#include "job.h"
#include "jwt.h"
#include "merkle.h"
#include "util.h"

#define AUDIT_LINE_MAX AUDITLOG_LINE_MAX

struct audit;

/* One decision.  Every string is optional (NULL = left out); strings come
 * from verified or syntax-checked input and are JSON-escaped on output. */
struct audit_record {
	const char *event; /* "received", "intent", "retry", "signature", the
	                                 decision ("signed", "rejected",
	                                 "failed"), "withheld", "published";
	                                 "certification" (signet-admin) */
	const char *id;    /* job id (valid syntax) or NULL */
	const char *entry; /* stream entry id */
	const char *submitter;
	const char *keyid;
	const char *key;
	const char *format;
	const char *artifact;
	const char *artifact_sha256;
	const char *job_sha256;
	const char *code;                     /* docs/errors.md code when not signed */
	const char *signature_sha256;         /* hex SHA-256 of the signature file */
	const char *expires;                  /* the job's expiry (RFC 3339), once parsed */
	const char *envelope_sha256;          /* "received": hex SHA-256 of the entry's bytes */
	const char *location;                 /* "published": where the result is stored */
	int defer_sync;                       /* written but not waited for: the next
	                                 durable record makes it durable too */
	uint64_t signer_seq;                  /* "signature": the record's number in the
	                                 signer's journal (0: none, in-process) */
	uint64_t retry_of;                    /* "retry": the seq of the record of the
	                                 interrupted attempt it repeats (an "intent",
	                                 or an earlier "retry"); 0: none */
	const char *signature;                /* "signed": the signature file in base64, so
	                                 that a result lost in a crash can be
	                                 rebuilt without a second HSM signature */
	const char *timestamp;                /* "signature": the RFC 3161 token's time
	                                 (RFC 3339), when the key has a TSA */
	const char *tsa;                      /* and the TSA certificate's subject */
	const struct jwt_claims *ci_verified; /* the claims of the job's verified
	                                 ci_token, written as the object
	                                 "ci_verified" (docs/audit.md); NULL: none */
	/* "certification": the self-signature of a key's OpenPGP certificate,
	 * made by `signet-admin openpgp export` (docs/admin.md).  With key,
	 * format, signature_sha256 and signature (the signature packet). */
	const char *fingerprint;        /* the v4 fingerprint, 40 uppercase hex */
	const char *uid;                /* the user ID certified */
	const char *certified;          /* the certification's creation time (RFC 3339) */
	const char *certificate_sha256; /* hex SHA-256 of the binary certificate */
	/* "pending", "approval" (docs/approvals.md): an approver's decision
	 * ("approve" or "deny"), who made it, their comment, and for one that
	 * had no effect, why ("ignored"). */
	const struct sg_ci *ci; /* the job's "ci" (what the submitter says), or NULL */
	const char *decision;
	const char *approver;
	const char *comment;
	const char *ignored;
	int approvals_required; /* "pending": M, and how many are in */
	int approvals_received;
};

/* A record found when opening an existing log; a string member the record
 * lacks is NULL, time is 0 when it is absent or bad.  Borrowed for the
 * duration of the callback. */
struct audit_seen {
	const char *event;
	const char *id;
	const char *job_sha256;
	const char *key;
	const char *submitter;
	const char *code;
	const char *entry; /* the stream entry id */
	int64_t time;
	int64_t expires; /* the job's expiry; 0 when the record has none */
};
typedef void (*audit_replay_fn)(void *arg, const struct audit_seen *rec);

/*
 * Opens (creating with mode 0600) the log and checks it whole
 * (auditlog_scan): a record missing, altered or out of order is
 * SG_ERR_CONFIG with the record in errbuf.  The log is this process's
 * alone while it is open: open file description locks on "<path>.lock"
 * (which names the holder: "pid N NAME since TIME") and on the log; a log
 * that another process holds is SG_ERR_CONFIG, errbuf naming the holder.  A torn tail (an append cut
 * short by a crash; its result was never released) is appended to
 * "<path>.torn", cut off and logged, never taken as records.  When cp is
 * not NULL (the last checkpoint this agent signed), the log must reach
 * cp->size records and their root must be cp->root: otherwise records were
 * removed or altered since, SG_ERR_CONFIG.  fn (optional) sees every
 * record, so the caller can rebuild its state.
 */
int audit_open(const char *path, const struct checkpoint *cp, audit_replay_fn fn, void *arg,
    struct audit **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/* What an append tells about its record. */
struct audit_receipt {
	uint64_t seq; /* from 1; leaf index seq - 1 */
	uint8_t leaf[SHA256_LEN];
	uint8_t root[SHA256_LEN];                    /* of the tree of records 1..seq */
	uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN]; /* leaf seq - 1 in that tree */
	size_t nproof;
	char *record;      /* with want_record: the line, */
	size_t record_len; /* no newline (caller frees) */
};

/* Appends one record and, unless rec->defer_sync, makes it durable.
 * Thread-safe.  ret (optional) receives the receipt; its record only when
 * want_record.  SG_ERR_SYSTEM on a write or sync failure (sticky: after a
 * failed sync nothing more is accepted), SG_ERR_LIMIT for a record over
 * AUDIT_LINE_MAX. */
int audit_append(struct audit *a, const struct audit_record *rec, int want_record,
    struct audit_receipt *ret) SG_MUST_CHECK;

/* The tree head of every record written so far, made durable first: the
 * size, root and the file offset just after the last record.  For signing
 * checkpoints.  SG_ERR_SYSTEM when the sync fails. */
int audit_head(struct audit *a, uint64_t *ret_size, uint8_t ret_root[SHA256_LEN],
    uint64_t *ret_offset) SG_MUST_CHECK;

/* The file offset just after record `size` as found by audit_open() for
 * its checkpoint (0 without one). */
uint64_t audit_checkpoint_offset(struct audit *a);

/* The log's path (for the publisher, which reads records back). */
const char *audit_path(struct audit *a);

/*
 * The last record with this event and job id, as its JSON line (without
 * the newline; caller frees).  Reads the log from disk: meant for the rare
 * path of rebuilding a lost result, not for every job.  SG_ERR_NOT_FOUND,
 * SG_ERR_SYSTEM.
 */
int audit_find(struct audit *a, const char *event, const char *id, char **ret_line,
    size_t *ret_len) SG_MUST_CHECK;

/* Records in the log (the last sequence number). */
uint64_t audit_count(struct audit *a);

/* Records 1..seq were made durable by a sync of the whole filesystem that
 * started after record seq was written (the file store's, when the log is
 * on its filesystem: store_syncs_path()); appends waiting for them return.
 * Ignored after a failed sync. */
void audit_made_durable(struct audit *a, uint64_t seq);

void audit_close(struct audit *a);

#endif
