/*
 * result.h — the result payload (docs/protocol.md §5, application/vnd.signet.result+json v1).
 */
#ifndef SG_RESULT_H
#define SG_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "job.h"
#include "merkle.h"

#define RESULT_CERTS_MAX        16
#define RESULT_MESSAGE_MAX      512
#define RESULT_SIGNATURE_MAX    (48 * 1024) /* bytes of a signature file */
#define RESULT_CODE_MAX         64          /* bytes of error.code */
#define RESULT_FIELD_MAX        4096        /* bytes of agent, submitter, store locations */
#define RESULT_AUDIT_RECORD_MAX (16 * 1024) /* bytes of audit.record */
#define RESULT_APPROVALS_MAX    16          /* approvals listed (= approvers a key may have) */
#define RESULT_REFUSED_MAX      8           /* refused approvals a pending result keeps */
#define RESULT_NOTIFIED_MAX     16          /* webhooks named as notified */
#define RESULT_KEYID_MAX        71          /* "sha256:" and 64 hex digits */

struct sg_blob {
	uint8_t *data;
	size_t len;
};

/* One counted approval (docs/approvals.md). */
struct sg_result_approval {
	char *approver;                   /* the approver's identity, 1..RESULT_FIELD_MAX bytes */
	char keyid[RESULT_KEYID_MAX + 1]; /* the key that signed the approval, or "" */
	int64_t at;                       /* when the agent counted it */
	char *comment;                    /* the approver's comment, or NULL */
};

/* An approval that was signed by a known identity and not counted. */
struct sg_result_refusal {
	char keyid[RESULT_KEYID_MAX + 1]; /* its signer's keyid */
	char *approver;                   /* its signer's identity */
	char *why;                        /* 1..RESULT_MESSAGE_MAX bytes */
	int64_t at;
};

struct sg_result {
	char id[JOB_ID_LEN + 1];
	enum sg_status status;
	int error;        /* sg_err code; 0 when signed */
	char *error_code; /* docs/errors.md string as carried; NULL when signed */
	char *error_message;
	char job_sha256[SHA256_HEX_LEN + 1];
	char *agent;
	/* Present when the agent got far enough (NULL / has_artifact = 0 otherwise). */
	char *submitter;
	char *key;
	char *format;
	int has_artifact;
	struct sg_artifact artifact;
	/* Present only when signed. */
	struct sg_blob signature;
	struct sg_blob certs[RESULT_CERTS_MAX]; /* DER, leaf first */
	size_t ncerts;
	int64_t signed_at;
	uint64_t audit_seq;                  /* the record's number, from 1 */
	char audit_hash[SHA256_HEX_LEN + 1]; /* its Merkle leaf hash */
	/* The inclusion proof (docs/audit.md): all of these or none. */
	int audit_has_proof;
	uint64_t audit_tree_size; /* the tree the proof is against */
	uint8_t audit_root[SHA256_LEN];
	uint8_t audit_proof[MERKLE_PROOF_MAX][SHA256_LEN];
	size_t audit_nproof;
	char *audit_record; /* the record's bytes (a JSON text) */
	size_t audit_record_len;
	char *audit_checkpoints; /* where checkpoints are published, or NULL */
	char *store_signature;
	char *store_result;
	/* Present only when signed with a timestamp (docs/protocol.md §4):
	 * "timestamp": {"time": "<RFC 3339>", "tsa": "<TSA subject>"}. */
	int has_timestamp;
	int64_t timestamp_time;
	char *timestamp_tsa; /* 1..RESULT_FIELD_MAX bytes */
	/* The job's own facts, for whoever judges it (any status, optional;
	 * "expires" is required when pending): "ci", "note", "expires". */
	struct sg_ci ci;
	char *note;
	int64_t expires; /* 0: absent */
	/* Approvals (docs/approvals.md).  Pending: "approvals": {"required",
	 * "received": [...], "refused": [...], "notified": [...]} and "entry"
	 * (the job's stream entry), all required but refused and notified.
	 * Signed or rejected: "approvals": [...] (the received ones), present
	 * only for a key that requires approvals (has_approvals). */
	int has_approvals;
	unsigned approvals_required; /* 1..RESULT_APPROVALS_MAX, pending only */
	struct sg_result_approval approvals[RESULT_APPROVALS_MAX];
	size_t napprovals;
	struct sg_result_refusal refused[RESULT_REFUSED_MAX];
	size_t nrefused;
	char *notified[RESULT_NOTIFIED_MAX];
	size_t nnotified;
	char *entry; /* 1..64 bytes "<ms>-<seq>" */
};

/*
 * Serializes r per docs/protocol.md §5, including exactly the members that go with its
 * status (error only when not signed; signature, certificates, signed_at,
 * audit, store only when signed).  error.code is sg_err_code(r->error)
 * (r->error_code is not read); error.message is r->error_message, or
 * sg_strerror(r->error) when NULL, cut to RESULT_MESSAGE_MAX bytes on a
 * character boundary with control characters and invalid UTF-8 replaced by
 * '?'.  artifact.sha256 is written from the digest bytes.  The output is
 * checked with result_parse(): SG_ERR_INVALID_ARGUMENT for a result that
 * it would refuse (e.g. a signed result without submitter, key, format and
 * artifact, or with no signature).  Caller frees *ret.
 */
int result_serialize(const struct sg_result *r, char **ret, size_t *ret_len) SG_MUST_CHECK;

/*
 * Strict parse of a result payload (the submitter's side).  SG_ERR_PARSE for
 * anything that is not a well-formed v1 result: unknown members (at any
 * level), duplicates, wrong types, control characters in strings, a status
 * without its required members or with members that do not go with it.
 * Always: v (1), id, status, job_sha256, agent.  Not signed: error
 * {code, message} required; signature, certificates, signed_at, audit,
 * store refused.  Signed: error refused; submitter, key, format, artifact,
 * signature (1..RESULT_SIGNATURE_MAX bytes), certificates (1..
 * RESULT_CERTS_MAX non-empty entries, leaf first), signed_at, audit
 * {seq, hash} and store {signature, result} required.  audit may also
 * carry the inclusion proof — index (= seq - 1), tree_size (> index),
 * root, proof (0..MERKLE_PROOF_MAX hex hashes), record (1..
 * RESULT_AUDIT_RECORD_MAX bytes) all together or none of them — and
 * checkpoints (a location); only their syntax is checked here.  Pending
 * (docs/approvals.md): error and the signed members refused; submitter, key,
 * format, artifact, expires, approvals {required, received, ...} and entry
 * required.  ci, note and expires are allowed with any status, ci and note
 * as in a job; approvals as a list with signed and rejected.  Otherwise submitter,
 * key, format and artifact are optional.  format must be a known format
 * name, key at most JOB_KEY_MAX bytes, artifact as in a job.  An error code
 * that is not in docs/errors.md is kept in error_code with error =
 * SG_ERR_INTERNAL.  Caller frees with result_free().
 */
int result_parse(const uint8_t *buf, size_t len, struct sg_result **ret) SG_MUST_CHECK;

/* Frees all members and r itself; NULL is a no-op. */
void result_free(struct sg_result *r);

#endif
