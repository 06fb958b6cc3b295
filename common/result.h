/*
 * result.h — the result payload (SPEC §6, application/vnd.signet.result+json v1).
 */
#ifndef SG_RESULT_H
#define SG_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "job.h"

#define RESULT_CERTS_MAX 16
#define RESULT_MESSAGE_MAX 512
#define RESULT_SIGNATURE_MAX (48 * 1024) /* bytes of a signature file */

struct sg_blob {
	uint8_t *data;
	size_t len;
};

struct sg_result {
	char id[JOB_ID_LEN + 1];
	enum sg_status status;
	int error;                    /* sg_err code; 0 when signed */
	char *error_code;             /* SPEC §7 string as carried; NULL when signed */
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
	uint64_t audit_seq;
	char audit_hash[SHA256_HEX_LEN + 1];
	char *store_signature;
	char *store_result;
};

/*
 * Serializes r per SPEC §6, including exactly the members that go with its
 * status (error only when not signed; signature, certificates, signed_at,
 * audit, store only when signed).  error.code is sg_err_code(r->error).
 * Caller frees *ret.
 */
int result_serialize(const struct sg_result *r, char **ret, size_t *ret_len) SG_MUST_CHECK;

/*
 * Strict parse of a result payload (the submitter's side).  SG_ERR_PARSE for
 * anything that is not a well-formed v1 result: unknown members, wrong
 * types, a status without its required members or with members that do not
 * go with it.  An error code that is not in SPEC §7 is kept in error_code
 * with error = SG_ERR_INTERNAL.  Caller frees with result_free().
 */
int result_parse(const uint8_t *buf, size_t len, struct sg_result **ret) SG_MUST_CHECK;

/* Frees all members and r itself; NULL is a no-op. */
void result_free(struct sg_result *r);

#endif
