/*
 * openpgp.h — OpenPGP v4 signatures and certificates for the `openpgp`
 * format (docs/protocol.md §4), after RFC 4880 and RFC 9580 where the two
 * agree.  Pure code: bytes in, bytes out, no I/O and no HSM; signing goes
 * through a pkcs7sig_sign_fn, as for the PKCS#7 builders.
 *
 * The submitter hashes its file once (struct openpgp_hasher) and sends the
 * SHA-256 state after the whole 64-byte blocks of the data, and the tail
 * (struct sg_openpgp).  The agent continues that hash with the tail and
 * with the signature's hashed fields, which only it chooses
 * (openpgp_sign_document()), so a submitter can obtain a document
 * signature (type 0x00 or 0x01) and nothing else.  The submitter checks
 * what comes back with openpgp_verify_document() and writes it out binary,
 * armored (openpgp_armor()) or as a cleartext-signed copy
 * (openpgp_clearsign()).  openpgp_cert() makes the key's certificate.
 *
 * What is made (the verifiers' view):
 *
 *   public key   v4; ECDSA (19) over NIST P-256 with the uncompressed
 *                point, or RSA (1) with n and e; fingerprint SHA-1 over
 *                0x99 || 2-byte length || body, key ID its low 64 bits
 *   signature    v4, SHA-256 (8); hashed subpackets: signature creation
 *                time (2), issuer fingerprint (33, version 4); unhashed:
 *                issuer key ID (16).  The MPIs: RSA's signature, ECDSA's
 *                r and s
 *   certificate  public key, user ID (13), positive certification (0x13)
 *                with creation time, key flags (27: 0x02, sign data only:
 *                the key claims no right to certify, though gpg lets any
 *                primary key certify), preferred hash algorithms (21:
 *                SHA-256), features (30: 0x01) and issuer fingerprint
 *                hashed, issuer key ID unhashed
 *
 * Packets are written in the "new" (OpenPGP) packet format, as RFC 9580
 * §4.2 asks of new implementations; gpg itself still writes the legacy
 * format for v4, and gpgv, gpg and sqv read both (tests/unit/
 * test_openpgp.c runs them).  The verifier accepts either header.
 *
 * Times are seconds since the epoch in 4 bytes: 0 to OPENPGP_TIME_MAX.
 * Only ecdsa-sha256 (P-256) and rsa-pkcs1-sha256 keys fit (OpenPGP v4 has
 * no RSA-PSS).
 */
#ifndef SG_OPENPGP_H
#define SG_OPENPGP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "err.h"
#include "job.h"
#include "pkcs7sig.h"
#include "util.h"

#define OPENPGP_FPR_LEN            20                    /* bytes of a v4 fingerprint */
#define OPENPGP_FPR_HEX_LEN        40                    /* characters of its hex form */
#define OPENPGP_KEYID_LEN          8                     /* bytes of a key ID */
#define OPENPGP_TIME_MAX           ((int64_t)UINT32_MAX) /* seconds since the epoch */
#define OPENPGP_RSA_BITS_MAX       8192 /* an RSA signature fits PKCS7SIG_SIG_MAX */
/* Bytes of a public-key packet body: version, time, algorithm and two
 * MPIs of at most OPENPGP_RSA_BITS_MAX bits (RSA is the larger). */
#define OPENPGP_KEY_BODY_MAX       (6 + 2 * (2 + OPENPGP_RSA_BITS_MAX / 8))
#define OPENPGP_UID_MAX            1024 /* bytes of a user ID */
/* Bytes of a signature packet, header included, that the verifier reads;
 * what the signer makes is at most about 1.1 KiB (RSA-8192). */
#define OPENPGP_SIG_MAX            4096
#define OPENPGP_WHY_MAX            128 /* bytes: enough for the verifier's reasons */
/* Bytes that openpgp_armor() takes: a certificate or a signature. */
#define OPENPGP_ARMOR_MAX          ((size_t)1 << 20)
/* Bytes of a text that openpgp_clearsign() takes. */
#define OPENPGP_CLEARSIGN_TEXT_MAX ((size_t)1 << 30)

/* Signature types (RFC 4880 §5.2.1). */
#define OPENPGP_SIG_BINARY 0x00 /* a binary document: job mode "binary" */
#define OPENPGP_SIG_TEXT   0x01 /* a canonical text document: mode "text" */

/*
 * SHA-256 continued from a job's state: st->state after st->blocks whole
 * 64-byte blocks, then st->tail, then more[0..len).  Writes the digest of
 * the whole to ret.  SG_ERR_INVALID_ARGUMENT: NULL st or ret, NULL more
 * with len > 0, st->tail_len above OPENPGP_TAIL_MAX, or st->blocks not
 * below ARTIFACT_SIZE_LIMIT / 64 (the job's own bounds).
 */
int openpgp_sha256_resume(const struct sg_openpgp *st, const uint8_t *more, size_t len,
    uint8_t ret[SHA256_LEN]) SG_MUST_CHECK;

/*
 * What a submitter hashes a file into, feeding it once.
 *
 *   OPENPGP_CANON_BINARY     the bytes as they are (mode "binary",
 *                            signature type 0x00; `submit-job` plain and
 *                            --armor)
 *   OPENPGP_CANON_TEXT       canonical text for a detached text signature
 *                            (mode "text", type 0x01; --text; RFC 4880
 *                            §5.2.1): LF and CR LF line endings both hash
 *                            as CR LF; nothing is stripped
 *   OPENPGP_CANON_CLEARSIGN  what a cleartext signature covers (mode
 *                            "text", type 0x01; --clearsign; RFC 4880
 *                            §7.1): spaces and tabs at the end of each
 *                            line are removed, lines are joined with CR LF,
 *                            and the last line's line break, if there is
 *                            one, is not covered.  So "a\nb\n" and "a\nb"
 *                            both hash as "a\r\nb", which is what
 *                            openpgp_clearsign() shows: "a\nb\n" either
 *                            way.
 *
 * In both text forms a CR must be followed by LF: gpg keeps any other CR
 * in its line (and drops all CRs before a line's LF), Sequoia's sqv takes
 * it for a line ending, so no signature of such a file verifies with
 * both; the hasher refuses it (SG_ERR_PARSE), and such a file is signed
 * in binary mode instead.
 */
enum openpgp_canon {
	OPENPGP_CANON_BINARY = 0,
	OPENPGP_CANON_TEXT = 1,
	OPENPGP_CANON_CLEARSIGN = 2,
};

struct openpgp_hasher;

/* A new hasher; NULL only when out of memory (or for a canon outside the
 * enum).  Free with openpgp_hasher_free(). */
struct openpgp_hasher *openpgp_hasher_new(enum openpgp_canon canon);

/*
 * Feeds len bytes of the file, in order; any split of the file gives the
 * same result.  SG_ERR_LIMIT once the file reaches ARTIFACT_SIZE_LIMIT
 * bytes or its canonical form as many (the job's bounds); SG_ERR_PARSE for
 * a CR without LF in a text form (above).  These errors are sticky and
 * final() returns them too.  SG_ERR_INVALID_ARGUMENT: NULL h, NULL data
 * with len > 0, or a hasher that final() has finished.
 */
int openpgp_hasher_update(struct openpgp_hasher *h, const void *data, size_t len) SG_MUST_CHECK;

/*
 * Finishes: ret_state gets the job's "openpgp" member (the mode of the
 * canon, the state after the canonical data's whole blocks, their count,
 * the rest as the tail), ret_sha256 the SHA-256 of the file as it was fed
 * (the job's artifact.sha256, whatever the canon).  Once only; then
 * update() and final() are SG_ERR_INVALID_ARGUMENT.  Otherwise update()'s
 * sticky error, or SG_ERR_PARSE for a text that ends in a CR.  Outputs
 * set only on success.
 */
int openpgp_hasher_final(struct openpgp_hasher *h, struct sg_openpgp *ret_state,
    uint8_t ret_sha256[SHA256_LEN]) SG_MUST_CHECK;

/* Frees h; NULL is a no-op. */
void openpgp_hasher_free(struct openpgp_hasher *h);

/*
 * A key's OpenPGP identity.  Filled in by openpgp_key_init(), read-only
 * afterwards; the caller releases it with openpgp_key_cleanup().
 */
struct openpgp_key {
	enum sg_mech mech;                  /* ECDSA P-256 or RSA PKCS#1 v1.5 */
	uint32_t created;                   /* key creation time, seconds */
	uint8_t body[OPENPGP_KEY_BODY_MAX]; /* the public-key packet body */
	size_t body_len;                    /* bytes of body */
	uint8_t fpr[OPENPGP_FPR_LEN];       /* v4 fingerprint */
	uint8_t keyid[OPENPGP_KEYID_LEN];   /* its low 64 bits */
	EVP_PKEY *pub;                      /* a reference of its own */
};

/*
 * Builds the v4 public key of pub (a public key, or a private one of which
 * only the public half is read) created at `created`, for mechanism mech.
 * ret is cleared on entry and filled on success; it then holds a reference
 * to pub.  SG_ERR_KEY_UNSUPPORTED: mech is not ecdsa-sha256 or
 * rsa-pkcs1-sha256, or pub does not fit it (EC on P-256; RSA of 2048 to
 * OPENPGP_RSA_BITS_MAX bits, not RSA-PSS-restricted).
 * SG_ERR_INVALID_ARGUMENT: NULL pub or ret, created outside 0 ..
 * OPENPGP_TIME_MAX.  SG_ERR_CRYPTO, SG_ERR_ALLOC.
 */
int openpgp_key_init(
    EVP_PKEY *pub, enum sg_mech mech, int64_t created, struct openpgp_key *ret) SG_MUST_CHECK;

/* Drops the key's reference and clears it; NULL is a no-op. */
void openpgp_key_cleanup(struct openpgp_key *k);

/* The fingerprint in uppercase hex, as gpg prints it without spaces
 * (OPENPGP_FPR_HEX_LEN characters and a NUL). */
void openpgp_fpr_hex(const uint8_t fpr[OPENPGP_FPR_LEN], char ret[OPENPGP_FPR_HEX_LEN + 1]);

/*
 * Signs a document: a signature packet of type 0x00 (st->mode binary) or
 * 0x01 (text), created at `created`, issued by k, over the data that st
 * stands for.  The digest is SHA-256 resumed from st over its tail, the
 * hashed portion (version 4, type, k's algorithm, SHA-256, the hashed
 * subpacket area with its 2-byte length) and the trailer (0x04 0xFF and
 * the hashed portion's length in 4 bytes), signed through sign(arg, ...)
 * once.  The packet is verified with openpgp_verify_document() and k
 * before it is returned.
 *
 * *ret and *ret_len are cleared on entry and set on success (caller frees
 * *ret with free()).  Errors: SG_ERR_INVALID_ARGUMENT (NULL arguments, st
 * outside its bounds as for openpgp_sha256_resume(), an unknown mode,
 * created before k->created or after OPENPGP_TIME_MAX), the callback's
 * error as it returned it, SG_ERR_HSM_SIGN_FAILED (what it returned is
 * not a signature of the key's kind, or does not verify), SG_ERR_CRYPTO,
 * SG_ERR_ALLOC.
 */
int openpgp_sign_document(const struct openpgp_key *k, const struct sg_openpgp *st, int64_t created,
    pkcs7sig_sign_fn sign, void *arg, uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

/*
 * Checks a document signature strictly: pkt[0..len) is exactly one
 * signature packet (either header format, a definite length, at most
 * OPENPGP_SIG_MAX bytes in all) of version 4, type want_type, hash
 * SHA-256, public-key algorithm that of pub (ECDSA for an EC P-256 key,
 * RSA for an RSA key of 2048 to OPENPGP_RSA_BITS_MAX bits); its hashed
 * area holds exactly a creation time equal to want_created and an issuer
 * fingerprint (v4), its unhashed area nothing or an issuer key ID equal
 * to the fingerprint's low 64 bits; every subpacket and MPI is encoded
 * canonically and fills its space exactly; the digest, resumed from st
 * over the packet's hashed portion and trailer, begins with the packet's
 * 16-bit prefix and the MPIs verify with pub over it.  want_type must be
 * the type of st->mode.  Whose fingerprint it names is the caller's to
 * compare (openpgp_packet_issuer()).
 *
 * Returns 0, SG_ERR_VERIFY with a sentence in why (when why is not NULL
 * and whylen > 0), SG_ERR_INVALID_ARGUMENT (NULL pkt, pub or st; st out of
 * bounds; want_type not st->mode's) or SG_ERR_ALLOC.
 */
int openpgp_verify_document(const uint8_t *pkt, size_t len, EVP_PKEY *pub,
    const struct sg_openpgp *st, int want_type, int64_t want_created, char *why,
    size_t whylen) SG_MUST_CHECK;

/*
 * The issuer fingerprint of a document signature packet, parsed as
 * strictly as openpgp_verify_document() does (no key, no digest).  0 with
 * ret_fpr set, SG_ERR_PARSE, SG_ERR_INVALID_ARGUMENT (NULL arguments).
 */
int openpgp_packet_issuer(
    const uint8_t *pkt, size_t len, uint8_t ret_fpr[OPENPGP_FPR_LEN]) SG_MUST_CHECK;

/*
 * The transferable public key of k (RFC 4880 §11.1): the public-key
 * packet, a user ID packet with uid, and a positive certification (0x13)
 * of the two made through sign(arg, ...) at `created`, as described at
 * the top.  uid: 1 to OPENPGP_UID_MAX bytes of UTF-8 without control
 * characters ("Release Signing <release@example.com>").  The
 * certification is verified before the certificate is returned.
 * Outputs and errors as openpgp_sign_document() (uid out of its rules is
 * SG_ERR_INVALID_ARGUMENT).
 */
int openpgp_cert(const struct openpgp_key *k, const char *uid, int64_t created,
    pkcs7sig_sign_fn sign, void *arg, uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

/*
 * ASCII armor (RFC 4880 §6.2): "-----BEGIN PGP <type>-----", an empty
 * line, the base64 of in[0..len) in lines of 64 characters, "=" and the
 * base64 of its CRC-24, "-----END PGP <type>-----"; every line ends in
 * "\n".  type: "SIGNATURE" or "PUBLIC KEY BLOCK".  *ret is a NUL-
 * terminated string, cleared on entry, set on success (caller frees).
 * SG_ERR_INVALID_ARGUMENT (NULL arguments, another type, len 0),
 * SG_ERR_LIMIT (len above OPENPGP_ARMOR_MAX), SG_ERR_ALLOC.
 */
int openpgp_armor(const char *type, const uint8_t *in, size_t len, char **ret) SG_MUST_CHECK;

/*
 * A cleartext-signed document (RFC 4880 §7): "-----BEGIN PGP SIGNED
 * MESSAGE-----", "Hash: SHA256", an empty line, the text with every line
 * that begins with "-" dash-escaped ("- " put before it) and otherwise as
 * given (its line endings, trailing white space included), a "\n" added
 * when the text does not end in one, then the armored signature.  The
 * signature must be one that OPENPGP_CANON_CLEARSIGN fits: a packet that
 * openpgp_packet_issuer() accepts, of type 0x01 (checked; it is not
 * verified here).  This is what gpg --clearsign writes, and APT's
 * InRelease is such a document.  *ret (ret_len bytes and a NUL after
 * them) and *ret_len are cleared on entry and set on success (caller
 * frees *ret).  SG_ERR_INVALID_ARGUMENT (NULL arguments, a signature that
 * is not as above), SG_ERR_LIMIT (text above OPENPGP_CLEARSIGN_TEXT_MAX
 * bytes), SG_ERR_ALLOC.
 */
int openpgp_clearsign(const uint8_t *text, size_t len, const uint8_t *sigpkt, size_t siglen,
    char **ret, size_t *ret_len) SG_MUST_CHECK;

#endif
