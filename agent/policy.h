/*
 * policy.h — who may sign what: the per-key rules of the configuration
 * (docs/policy.md) and the certificate checks of corporate identities.
 *
 * Both halves do no I/O: the configuration holds everything already loaded
 * (CA stores, CRLs, patterns), the quota counts come from memory.  So they
 * can be unit-tested and fuzzed without files, sockets or an HSM.
 *
 * Patterns are globs: '*' matches any run of bytes, '/' included (so
 * "refs/tags/v*" matches "refs/tags/v1.2/rc1"), '?' matches one byte, every
 * other byte matches itself (no classes, no escapes, case-sensitive).
 * Matching takes at most O(len(pattern) * len(string)) steps.
 */
#ifndef SG_POLICY_H
#define SG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "config.h"
#include "err.h"
#include "job.h"
#include "jwt.h"
#include "quota.h"

#define POLICY_IDENTITY_MAX   256         /* bytes of a certificate identity */
#define POLICY_CERT_MAX_BYTES (16 * 1024) /* DER bytes of a submitter certificate */
#define POLICY_WHY_MAX        384         /* bytes of a refusal's detail, NUL included */

/* 1 when s matches pattern, else 0 (see above). */
int policy_glob(const char *pattern, const char *s);

/* The verified signer of a job. */
struct policy_subject {
	const char *name;                     /* pinned: submitter name; cert: identity */
	const char *keyid;                    /* the signer's keyid */
	const char *serial;                   /* cert: normalized hex serial, else NULL */
	const struct agent_submitter *pinned; /* pinned-key entry, or NULL for a cert */
	long ca;                              /* cert: index of the CA that verified it */
};

/*
 * What policy_decide() established about a job's CI identity, and the
 * detail of a refusal.  The caller zeroes it before the call and releases
 * it with policy_ci_clear().
 */
struct policy_ci {
	struct jwt_claims *verified; /* the job's ci_token verified: its claims
	                                 (owned), else NULL */
	char why[POLICY_WHY_MAX];    /* on a CI refusal: what is at fault, with
	                                 the value ("ci_token: expired at ...");
	                                 else "" */
};

/* Frees ci->verified and empties why; NULL is a no-op. */
void policy_ci_clear(struct policy_ci *ci);

/*
 * Decides whether subject s may have job signed now.  Checks, in order:
 *   revoked keyid or serial            SG_ERR_POLICY_SUBMITTER_REVOKED
 *   job key not configured             SG_ERR_POLICY_UNKNOWN_KEY
 *   key disabled                       SG_ERR_POLICY_KEY_NOT_ALLOWED
 *   subject may not use the key (its submitter entry, or for a cert no
 *     matching identity entry, does not list it; or the key's
 *     "submitters" names neither it nor its identity)
 *                                      SG_ERR_POLICY_KEY_NOT_ALLOWED
 *   format                             SG_ERR_POLICY_FORMAT_NOT_ALLOWED
 *   expires - created > the key's max_job_lifetime
 *                                      SG_ERR_JOB_LIFETIME_TOO_LONG
 *   artifact.name                      SG_ERR_POLICY_ARTIFACT_NAME
 *   ci_token: the key requires one and the job has none; the job's token
 *     does not verify (jwt_verify() against c->jwt_issuers at now: any
 *     token a job carries must verify, required or not); or its issuer is
 *     not in the key's ci_token_issuers
 *                                      SG_ERR_POLICY_CI_TOKEN
 *   CI project (absent = no match)     SG_ERR_POLICY_CI_PROJECT
 *   CI ref (absent = no match); with ci_protected_ref, a verified ref that
 *     the token does not call protected
 *                                      SG_ERR_POLICY_CI_REF
 *   quota (q may be NULL: no jobs counted)
 *                                      SG_ERR_POLICY_QUOTA_EXCEEDED
 * The CI project and ref are the verified token's claims when the job
 * carries a token (it verified, or the job was refused), and the job's
 * self-asserted ci.project and ci.ref otherwise (only possible for a key
 * without "ci_token": "required").
 * Returns 0 and *ret_key_index (the key's index in c->keys) when allowed;
 * *ret_key_index is also set on a refusal once the key is known, else -1.
 * ci (may be NULL) receives the verified claims whenever the token
 * verified (allowed or not), and the detail of a CI refusal.  Also
 * SG_ERR_ALLOC.
 */
int policy_decide(const struct agent_config *c, const struct policy_subject *s,
    const struct sg_job *job, int64_t now, struct quota *q, long *ret_key_index,
    struct policy_ci *ci) SG_MUST_CHECK;

/* What a verified certificate says about its holder. */
struct policy_cert_identity {
	char identity[POLICY_IDENTITY_MAX + 1];
	char serial[CONFIG_SERIAL_HEX_MAX + 1];
	long ca; /* index into c->cas */
};

/*
 * Parses a DER certificate of at most POLICY_CERT_MAX_BYTES with nothing
 * after it.  SG_ERR_POLICY_CERT_INVALID otherwise.  Caller frees *ret with
 * X509_free().
 */
/* Whether a signer is revoked: its keyid, or (when not NULL) its
 * certificate serial, is in the configuration's revoked lists. */
int policy_revoked(const struct agent_config *c, const char *keyid, const char *serial);

int policy_cert_parse(const uint8_t *der, size_t len, X509 **ret) SG_MUST_CHECK;

/*
 * Verifies a submitter certificate against the configured submitter CAs,
 * in configuration order, the first that accepts it wins: the chain to the
 * CA bundle, validity at every one of the ntimes times (the job's creation
 * and its arrival), the CRL when configured (at the last time only, the
 * arrival: a CRL is newer than the jobs it judges), keyUsage with
 * digitalSignature, the CA's extended key usage, and an identity of the
 * CA's kind (SAN email, SAN URI or subject CN; the first one; no NUL or
 * control bytes; at most POLICY_IDENTITY_MAX bytes).
 *   SG_ERR_POLICY_SUBMITTER_REVOKED  a configured CRL lists it
 *   SG_ERR_POLICY_CERT_INVALID       anything else (also: no CA configured)
 * ret is written only on success.
 */
int policy_verify_cert(const struct agent_config *c, X509 *cert, const int64_t *times,
    size_t ntimes, struct policy_cert_identity *ret) SG_MUST_CHECK;

#endif
