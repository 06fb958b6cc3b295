/*
 * envelope.h — DSSE envelopes (docs/protocol.md §2).
 *
 *   {"payloadType": "<type>", "payload": "<base64>",
 *    "signatures": [{"keyid": "...", "sig": "<base64>", "cert": "<base64 DER>"}]}
 *
 * The signature covers the pre-authentication encoding
 *   "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
 * not the JSON.  Parsing does no I/O and no cryptography.
 */
#ifndef SG_ENVELOPE_H
#define SG_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ENVELOPE_MAX_BYTES (64 * 1024)
#define ENVELOPE_SIGS_MAX  8
#define ENVELOPE_KEYID_MAX 128 /* bytes of a keyid string */
#define ENVELOPE_TYPE_MAX  128 /* bytes of a payloadType */

#define PAYLOAD_TYPE_JOB      "application/vnd.signet.job+json"
#define PAYLOAD_TYPE_RESULT   "application/vnd.signet.result+json"
#define PAYLOAD_TYPE_APPROVAL "application/vnd.signet.approval+json"

#define KEYID_PREFIX "sha256:"
#define KEYID_LEN    (7 + 64) /* "sha256:" + 64 lowercase hex, without NUL */

struct dsse_sig {
	char *keyid;  /* NUL-terminated, no embedded NUL */
	uint8_t *sig; /* decoded signature bytes */
	size_t sig_len;
	uint8_t *cert; /* decoded DER certificate, or NULL */
	size_t cert_len;
};

struct dsse_envelope {
	char *payload_type; /* NUL-terminated */
	uint8_t *payload;   /* decoded payload bytes (not NUL-terminated) */
	size_t payload_len;
	struct dsse_sig sigs[ENVELOPE_SIGS_MAX];
	size_t nsigs; /* 0..ENVELOPE_SIGS_MAX */
};

/*
 * Parses an envelope of len bytes.
 *   SG_ERR_ENVELOPE_TOO_LARGE  len > ENVELOPE_MAX_BYTES (nothing parsed)
 *   SG_ERR_ENVELOPE_MALFORMED  not strict JSON (json.h), not an object,
 *       members other than payloadType/payload/signatures (or a duplicate),
 *       wrong types, invalid base64, more than ENVELOPE_SIGS_MAX entries,
 *       a signature entry without keyid or sig or with other members,
 *       an empty or over-long keyid/payloadType, an empty sig or cert,
 *       escaped NUL or control characters anywhere (json.h JSON_F_*).
 * The checks run in this order: size (before any parsing), strict JSON and
 * object, signature count (before any base64 is decoded), the rest.
 * Any number of signatures from 0 to ENVELOPE_SIGS_MAX is accepted here;
 * the caller enforces "exactly one" for jobs.  Caller frees *ret with
 * envelope_free().
 */
int envelope_parse(const void *buf, size_t len, struct dsse_envelope **ret) SG_MUST_CHECK;

/*
 * For an envelope that envelope_parse() refused as malformed: if it is a
 * JSON object of at most ENVELOPE_MAX_BYTES with at most ENVELOPE_SIGS_MAX
 * entries in "signatures" (when that is an array) and a "payload" string
 * that is valid base64, returns 0 and the decoded payload (caller frees).
 * Else SG_ERR_ENVELOPE_TOO_LARGE or SG_ERR_ENVELOPE_MALFORMED.  Used only
 * to find the job id that a rejection result is owed to (docs/errors.md).  Also
 * refused (malformed): a "payload" member that appears twice (ambiguous),
 * and any escaped \u0000 in the text (cJSON cuts strings there, so a
 * payload holding one could be misread as a valid prefix).
 */
int envelope_salvage_payload(
    const void *buf, size_t len, uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

/* Builds the PAE bytes for (type, payload).  Caller frees *ret. */
int dsse_pae(const char *type, const uint8_t *payload, size_t payload_len, uint8_t **ret,
    size_t *ret_len) SG_MUST_CHECK;

/* Serializes env as compact JSON (NUL-terminated, *ret_len without NUL).
 * Caller frees. */
int envelope_serialize(const struct dsse_envelope *env, char **ret, size_t *ret_len) SG_MUST_CHECK;

/* Allocates an envelope holding copies of type and payload, no signatures. */
int envelope_new(const char *type, const uint8_t *payload, size_t payload_len,
    struct dsse_envelope **ret) SG_MUST_CHECK;

/* Appends a signature (copies keyid, sig and the optional cert). */
int envelope_add_sig(struct dsse_envelope *env, const char *keyid, const uint8_t *sig,
    size_t sig_len, const uint8_t *cert, size_t cert_len) SG_MUST_CHECK;

void envelope_free(struct dsse_envelope *env);

#endif
