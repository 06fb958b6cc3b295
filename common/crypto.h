/*
 * crypto.h — the OpenSSL operations that both commands need: key loading,
 * keyids, DSSE signatures (docs/protocol.md §2) and raw signature checks (docs/protocol.md §4).
 * OpenSSL errors are translated here and the error queue is cleared.
 */
#ifndef SG_CRYPTO_H
#define SG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "envelope.h"
#include "err.h"
#include "util.h"

/* Signature mechanisms of signing keys (docs/configuration.md "mechanism"). */
enum sg_mech {
	SG_MECH_ECDSA_SHA256 = 0, /* "ecdsa-sha256": DER ECDSA-Sig-Value, P-256 */
	SG_MECH_RSA_PKCS1_SHA256, /* "rsa-pkcs1-sha256": PKCS#1 v1.5 over DigestInfo */
	SG_MECH_RSA_PSS_SHA256,   /* "rsa-pss-sha256": MGF1-SHA-256, salt 32 */
};
/* "ecdsa-sha256"...; "unknown" for a value outside the enum. */
const char *sg_mech_name(enum sg_mech m);
/* Exact, case-sensitive name.  0 or SG_ERR_PARSE (*ret untouched). */
int sg_mech_parse(const char *name, enum sg_mech *ret) SG_MUST_CHECK;

#define PUBKEY_FILE_MAX  (64 * 1024)
#define PRIVKEY_FILE_MAX (64 * 1024)
#define CERT_FILE_MAX    (1024 * 1024)

/* PEM public key (SubjectPublicKeyInfo).  SG_ERR_NOT_FOUND, SG_ERR_PARSE,
 * SG_ERR_KEY_UNSUPPORTED (not EC P-256, Ed25519 or RSA >= 2048), and
 * read_file()'s SG_ERR_LIMIT / SG_ERR_SYSTEM.  Caller frees with
 * EVP_PKEY_free(). */
int crypto_load_pubkey(const char *path, EVP_PKEY **ret) SG_MUST_CHECK;
/* PEM private key (PKCS#8 or traditional), unencrypted (an encrypted key
 * is SG_ERR_PARSE; there is never a passphrase prompt).  Same errors.
 * The file's bytes are wiped after parsing. */
int crypto_load_privkey(const char *path, EVP_PKEY **ret) SG_MUST_CHECK;
/* PEM certificates, in file order.  SG_ERR_PARSE when none or when any
 * CERTIFICATE block is corrupt.  Caller frees with
 * sk_X509_pop_free(certs, X509_free). */
int crypto_load_certs(const char *path, STACK_OF(X509) * *ret) SG_MUST_CHECK;

/* A certificate's notBefore and notAfter in seconds since the epoch.
 * SG_ERR_CRYPTO (unreadable times); the outputs are set only on success. */
int crypto_cert_validity(
    const X509 *cert, int64_t *ret_not_before, int64_t *ret_not_after) SG_MUST_CHECK;

/* Checks that pk is one of the key types DSSE signers may use (EC P-256
 * named curve, Ed25519, RSA >= 2048; not RSA-PSS-restricted keys);
 * 0 or SG_ERR_KEY_UNSUPPORTED (also for NULL). */
int crypto_check_key_type(EVP_PKEY *pk) SG_MUST_CHECK;

/* keyid per docs/protocol.md §2: "sha256:" + lowercase hex SHA-256 of the DER
 * SubjectPublicKeyInfo (public or private pk).  ret holds KEYID_LEN+1
 * bytes.  SG_ERR_INVALID_ARGUMENT (NULL), SG_ERR_CRYPTO. */
int crypto_keyid(EVP_PKEY *pk, char ret[KEYID_LEN + 1]) SG_MUST_CHECK;

/* Signs msg per docs/protocol.md §2 with the algorithm that follows the key: ECDSA
 * P-256/SHA-256 (DER), Ed25519 (pure), RSA-PSS SHA-256/MGF1-SHA-256/salt 32.
 * Caller frees *ret_sig.  SG_ERR_KEY_UNSUPPORTED, SG_ERR_CRYPTO,
 * SG_ERR_ALLOC, SG_ERR_INVALID_ARGUMENT (NULL msg with len > 0). */
int crypto_sign(EVP_PKEY *priv, const uint8_t *msg, size_t len, uint8_t **ret_sig,
    size_t *ret_sig_len) SG_MUST_CHECK;
/* The matching check: 0 or SG_ERR_VERIFY (bad or truncated signature,
 * unsupported key, NULL arguments), SG_ERR_ALLOC only when out of memory. */
int crypto_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t *sig,
    size_t sig_len) SG_MUST_CHECK;

/* Builds the PAE of (type, payload) and signs / verifies it (DSSE). */
int crypto_dsse_sign(EVP_PKEY *priv, const char *type, const uint8_t *payload, size_t payload_len,
    uint8_t **ret_sig, size_t *ret_sig_len) SG_MUST_CHECK;
int crypto_dsse_verify(EVP_PKEY *pub, const char *type, const uint8_t *payload, size_t payload_len,
    const uint8_t *sig, size_t sig_len) SG_MUST_CHECK;

/* Verifies a raw-format signature (docs/protocol.md §4) over a SHA-256 digest with the
 * given mechanism, which must fit the key (ECDSA: EC P-256; RSA mechs: RSA
 * >= 2048).  0 or SG_ERR_VERIFY; SG_ERR_ALLOC only when out of memory. */
int crypto_verify_digest(EVP_PKEY *pub, enum sg_mech mech, const uint8_t digest[SHA256_LEN],
    const uint8_t *sig, size_t sig_len) SG_MUST_CHECK;

/* The DER DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1). */
#define SHA256_DIGESTINFO_PREFIX_LEN 19
extern const uint8_t sha256_digestinfo_prefix[SHA256_DIGESTINFO_PREFIX_LEN];

/* Streaming SHA-256 of an open file descriptor until EOF; *ret_size (may
 * be NULL) gets the byte count.  SG_ERR_SYSTEM (read error), SG_ERR_ALLOC,
 * SG_ERR_CRYPTO; outputs untouched on error. */
int crypto_sha256_fd(int fd, uint8_t ret[SHA256_LEN], uint64_t *ret_size) SG_MUST_CHECK;
/* One-shot SHA-256.  (Cannot fail short of OOM; then ret is all zeros.) */
void crypto_sha256(const void *buf, size_t len, uint8_t ret[SHA256_LEN]);

/* SHA-256 fetched from OpenSSL's default provider once per process (the
 * implicit fetch of EVP_sha256() looks it up again on every use: a lock
 * and a search per hash); EVP_sha256() if that fetch failed.  For the
 * hashes made per record and per job (docs/performance.md). */
const EVP_MD *crypto_md_sha256(void);

/* Logs (at debug) and clears the OpenSSL error queue; returns r. */
int crypto_err(int r);

#endif
