/*
 * err.h — the one error enum of signet.
 *
 * Every function that can fail returns 0 (SG_OK) or a negative sg_err.
 * Each code knows the docs/errors.md string it stands for ("job.expired") and
 * whether the agent reports it as "rejected" (the request is unacceptable)
 * or "failed" (the agent could not finish; a resubmission may succeed).
 * Codes that are not part of docs/errors.md (configuration, queue, I/O...) report
 * as "internal" when they ever reach a result.
 */
#ifndef SG_ERR_H
#define SG_ERR_H

#define SG_MUST_CHECK __attribute__((warn_unused_result))

/* X(enum name, docs/errors.md code or NULL, status, human text) */
#define SG_ERR_LIST(X)                                                                             \
	X(SG_ERR_INTERNAL, "internal", SG_STATUS_FAILED, "internal error")                         \
	X(SG_ERR_ALLOC, "internal", SG_STATUS_FAILED, "out of memory")                             \
	X(SG_ERR_SYSTEM, "internal", SG_STATUS_FAILED, "system call failed")                       \
	X(SG_ERR_INVALID_ARGUMENT, "internal", SG_STATUS_FAILED, "invalid argument")               \
	X(SG_ERR_CONFIG, "internal", SG_STATUS_FAILED, "configuration error")                      \
	X(SG_ERR_PARSE, "internal", SG_STATUS_FAILED, "unparseable input")                         \
	X(SG_ERR_LIMIT, "internal", SG_STATUS_FAILED, "size limit exceeded")                       \
	X(SG_ERR_NOT_FOUND, "internal", SG_STATUS_FAILED, "not found")                             \
	X(SG_ERR_EXISTS, "internal", SG_STATUS_FAILED, "already exists")                           \
	X(SG_ERR_TIMEOUT, "internal", SG_STATUS_FAILED, "timed out")                               \
	X(SG_ERR_CRYPTO, "internal", SG_STATUS_FAILED, "cryptographic operation failed")           \
	X(SG_ERR_VERIFY, "internal", SG_STATUS_FAILED, "signature verification failed")            \
	X(SG_ERR_KEY_UNSUPPORTED, "internal", SG_STATUS_FAILED, "unsupported key type")            \
	X(SG_ERR_SECRET_FILE, "internal", SG_STATUS_FAILED,                                        \
	    "secret file is readable by group or others")                                          \
	X(SG_ERR_QUEUE_UNAVAILABLE, "internal", SG_STATUS_FAILED, "queue unreachable")             \
	X(SG_ERR_QUEUE_AUTH, "internal", SG_STATUS_FAILED, "queue refused authentication")         \
	X(SG_ERR_QUEUE_PROTOCOL, "internal", SG_STATUS_FAILED, "unexpected reply from the queue")  \
	X(SG_ERR_ENVELOPE_MALFORMED, "envelope.malformed", SG_STATUS_REJECTED,                     \
	    "malformed envelope")                                                                  \
	X(SG_ERR_ENVELOPE_TOO_LARGE, "envelope.too_large", SG_STATUS_REJECTED,                     \
	    "envelope too large")                                                                  \
	X(SG_ERR_ENVELOPE_BAD_SIGNATURE, "envelope.bad_signature", SG_STATUS_REJECTED,             \
	    "envelope signature does not verify")                                                  \
	X(SG_ERR_ENVELOPE_UNKNOWN_SIGNER, "envelope.unknown_signer", SG_STATUS_REJECTED,           \
	    "unknown signer")                                                                      \
	X(SG_ERR_JOB_MALFORMED, "job.malformed", SG_STATUS_REJECTED, "malformed job")              \
	X(SG_ERR_JOB_UNKNOWN_FIELD, "job.unknown_field", SG_STATUS_REJECTED,                       \
	    "unknown member in job")                                                               \
	X(SG_ERR_JOB_BAD_VERSION, "job.bad_version", SG_STATUS_REJECTED,                           \
	    "unsupported job version")                                                             \
	X(SG_ERR_JOB_EXPIRED, "job.expired", SG_STATUS_REJECTED, "job expired")                    \
	X(SG_ERR_JOB_NOT_YET_VALID, "job.not_yet_valid", SG_STATUS_REJECTED,                       \
	    "job created in the future")                                                           \
	X(SG_ERR_JOB_LIFETIME_TOO_LONG, "job.lifetime_too_long", SG_STATUS_REJECTED,               \
	    "job lifetime too long")                                                               \
	X(SG_ERR_JOB_REPLAYED, "job.replayed", SG_STATUS_REJECTED, "job id already used")          \
	X(SG_ERR_POLICY_UNKNOWN_KEY, "policy.unknown_key", SG_STATUS_REJECTED,                     \
	    "unknown signing key")                                                                 \
	X(SG_ERR_POLICY_KEY_NOT_ALLOWED, "policy.key_not_allowed", SG_STATUS_REJECTED,             \
	    "submitter may not use this key")                                                      \
	X(SG_ERR_POLICY_FORMAT_NOT_ALLOWED, "policy.format_not_allowed", SG_STATUS_REJECTED,       \
	    "format not allowed for this key")                                                     \
	X(SG_ERR_POLICY_ARTIFACT_NAME, "policy.artifact_name", SG_STATUS_REJECTED,                 \
	    "artifact name not allowed for this key")                                              \
	X(SG_ERR_POLICY_CI_PROJECT, "policy.ci_project", SG_STATUS_REJECTED,                       \
	    "CI project not allowed for this key")                                                 \
	X(SG_ERR_POLICY_CI_REF, "policy.ci_ref", SG_STATUS_REJECTED,                               \
	    "CI ref not allowed for this key")                                                     \
	X(SG_ERR_POLICY_QUOTA_EXCEEDED, "policy.quota_exceeded", SG_STATUS_REJECTED,               \
	    "quota exceeded")                                                                      \
	X(SG_ERR_POLICY_SUBMITTER_REVOKED, "policy.submitter_revoked", SG_STATUS_REJECTED,         \
	    "submitter revoked")                                                                   \
	X(SG_ERR_POLICY_CERT_INVALID, "policy.cert_invalid", SG_STATUS_REJECTED,                   \
	    "submitter certificate invalid")                                                       \
	X(SG_ERR_POLICY_CI_TOKEN, "policy.ci_token", SG_STATUS_REJECTED,                           \
	    "CI identity token missing or not valid")                                              \
	X(SG_ERR_KEY_CERT_EXPIRED, "key.cert_expired", SG_STATUS_REJECTED,                         \
	    "the signing key's certificate is not valid now")                                      \
	X(SG_ERR_APPROVAL_DENIED, "approval.denied", SG_STATUS_REJECTED,                           \
	    "an approver denied the job")                                                          \
	X(SG_ERR_APPROVAL_EXPIRED, "approval.expired", SG_STATUS_REJECTED,                         \
	    "the job expired before it had its approvals")                                         \
	X(SG_ERR_HSM_UNAVAILABLE, "hsm.unavailable", SG_STATUS_FAILED, "HSM unavailable")          \
	X(SG_ERR_HSM_SIGN_FAILED, "hsm.sign_failed", SG_STATUS_FAILED, "HSM signing failed")       \
	X(SG_ERR_STORE_FAILED, "store.failed", SG_STATUS_FAILED, "artifact store failed")          \
	X(SG_ERR_TIMESTAMP_FAILED, "timestamp.failed", SG_STATUS_FAILED, "time-stamping failed")

enum sg_status {
	SG_STATUS_SIGNED = 0,
	SG_STATUS_REJECTED = 1,
	SG_STATUS_FAILED = 2,
	SG_STATUS_PENDING = 3, /* waiting for approvals (docs/approvals.md) */
};

/* Indices into the table (positive); use the negative enum sg_err below. */
#define SG_ERR_INDEX_(name, code, status, text) name##_I,
enum sg_err_index { SG_ERR_NONE_I = 0, SG_ERR_LIST(SG_ERR_INDEX_) SG_ERR_COUNT_I };
#undef SG_ERR_INDEX_

/* The error codes: SG_OK is 0, SG_ERR_INTERNAL is -1 and so on. */
#define SG_ERR_VALUE_(name, code, status, text) name = -(int)name##_I,
enum sg_err { SG_OK = 0, SG_ERR_LIST(SG_ERR_VALUE_) };
#undef SG_ERR_VALUE_

/* docs/errors.md code string ("job.expired"); "internal" for codes outside §7 and
 * for unknown values; NULL for SG_OK. Never fails. */
const char *sg_err_code(int r);

/* Human-readable text for r; never NULL. */
const char *sg_strerror(int r);

/* SG_STATUS_REJECTED or SG_STATUS_FAILED for an error, SG_STATUS_SIGNED for 0. */
enum sg_status sg_err_status(int r);

/* "signed", "rejected", "failed" or "pending". */
const char *sg_status_name(enum sg_status s);

/* The negative code whose docs/errors.md string is `code`, or 0 if there is none
 * ("internal" maps to SG_ERR(INTERNAL)). */
int sg_err_from_code(const char *code);

#endif
