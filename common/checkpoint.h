/*
 * checkpoint.h — signed tree heads of the audit log, in the C2SP
 * tlog-checkpoint text format wrapped in a C2SP signed note:
 *
 *     <origin>\n
 *     <tree size, decimal>\n
 *     <root hash, standard base64 of 32 bytes>\n
 *     \n
 *     — <key name> <base64(key ID (4 bytes) || signature)>\n
 *
 * ("—" is U+2014, bytes E2 80 94.)  The key name is the origin.  The
 * signature is the agent's attestation key over the note text (the three
 * body lines, final newline included), with the algorithm that follows the
 * key as in crypto_verify(): ECDSA P-256/SHA-256 (DER), Ed25519,
 * RSA-PSS/SHA-256.  Those are not signature types C2SP lists, so the key ID
 * uses the "other types" form:
 *
 *     key ID = SHA-256(key name || 0x0A || 0xFF || "signet-checkpoint-v1"
 *                      || DER SubjectPublicKeyInfo)[:4]
 *
 * Parsing is strict: valid UTF-8, no control characters but newline, no
 * extension lines, a size without leading zeros, a root of exactly 32
 * bytes, at most CHECKPOINT_SIGS_MAX signature lines.  Lines of other keys
 * are ignored; a line with our name and key ID whose signature does not
 * verify makes the whole note invalid.
 */
#ifndef SG_CHECKPOINT_H
#define SG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"
#include "util.h"

#define CHECKPOINT_MAX        8192 /* bytes of a whole signed note */
#define CHECKPOINT_ORIGIN_MAX 255  /* bytes of the origin line */
#define CHECKPOINT_SIGS_MAX   16   /* signature lines */
#define CHECKPOINT_KEYID_LEN  4

struct checkpoint {
	char origin[CHECKPOINT_ORIGIN_MAX + 1];
	uint64_t size;
	uint8_t root[SHA256_LEN];
};

/* True when origin is a valid origin / key name: 1..CHECKPOINT_ORIGIN_MAX
 * bytes of printable ASCII other than space and '+'. */
int checkpoint_origin_ok(const char *origin);

/*
 * The note text (the part that is signed): "<origin>\n<size>\n<b64 root>\n".
 * SG_ERR_INVALID_ARGUMENT for a bad origin.  Caller frees *ret.
 */
int checkpoint_body(const struct checkpoint *cp, char **ret, size_t *ret_len) SG_MUST_CHECK;

/* The key ID of pub under the key name (see above).  SG_ERR_CRYPTO;
 * SG_ERR_INVALID_ARGUMENT for NULL pub or a name that is not
 * checkpoint_origin_ok(). */
int checkpoint_key_id(
    EVP_PKEY *pub, const char *name, uint8_t ret[CHECKPOINT_KEYID_LEN]) SG_MUST_CHECK;

/*
 * The whole signed note: body, blank line, one signature line for
 * (name, keyid, sig).  The caller made sig over body.  Caller frees *ret.
 * SG_ERR_INVALID_ARGUMENT (bad name, body not ending in a newline),
 * SG_ERR_LIMIT (longer than CHECKPOINT_MAX).
 */
int checkpoint_assemble(const char *body, size_t body_len, const char *name,
    const uint8_t keyid[CHECKPOINT_KEYID_LEN], const uint8_t *sig, size_t sig_len, char **ret,
    size_t *ret_len) SG_MUST_CHECK;

/*
 * Parses a signed checkpoint and verifies it with pub under key name
 * `name` (NULL: the origin).  When origin is not NULL the checkpoint's
 * origin must equal it.  SG_ERR_PARSE (malformed, too long, wrong origin),
 * SG_ERR_VERIFY (no signature line of this key, or one that does not
 * verify), SG_ERR_INVALID_ARGUMENT (NULL pub or ret, NULL buf with len > 0,
 * a name or origin argument that is not checkpoint_origin_ok()).  *ret is
 * written only on success.
 */
int checkpoint_open(const char *buf, size_t len, EVP_PKEY *pub, const char *name,
    const char *origin, struct checkpoint *ret) SG_MUST_CHECK;

#endif
