/*
 * hsm.h — the only door to the HSM.
 *
 * The module is loaded from the configured path only, the token is found by
 * label, the user PIN is read from a file that only its owner may read and
 * wiped right after C_Login.  Callers name keys by index into the key list
 * given to hsm_open(); the one request is "sign this SHA-256 digest with
 * configured key i", and it is re-validated here (index in range, digest of
 * exactly SHA256_LEN bytes).  Nothing of the PIN or of the PKCS#11 session
 * leaves this module.  Every private key must be CKA_SENSITIVE and not
 * CKA_EXTRACTABLE, or hsm_open() refuses it.
 *
 * Thread safety: hsm_sign() may be called from several threads at once; it
 * takes a session from a pool of `sessions` sessions and blocks while all
 * are busy.  hsm_open()/hsm_close() are not concurrent with anything.
 *
 * Privilege separation (hsm_config.signer set): the PIN and the PKCS#11
 * sessions then live in a separate process, signet-signer, that hsm_open()
 * starts with posix_spawn (fork+exec, never fork alone) as `signet-signer
 * -c CONFIG` and talks to over `sessions` SOCK_SEQPACKET socketpairs, one
 * per HSM session (protocol: hsm/signer_proto.h).  The signer reads the
 * module, token, PIN file and keys from CONFIG itself; this process never
 * opens the PIN file nor loads the module, and names keys only by index.
 * The agent starts it while it still has the rights it was started with,
 * then drops them (docs/security.md) and calls hsm_no_restart().  If the
 * signer dies or breaks the protocol, the hsm_sign() that notices returns
 * SG_ERR_HSM_UNAVAILABLE and restarts it (once; later calls retry with
 * backoff while it keeps failing) — unless hsm_no_restart() was called:
 * then hsm_lost() turns true and stays so.  A token that goes away is the
 * signer's to recover: it opens PKCS#11 again by itself.  The signer is
 * reaped here, so SIGCHLD must not be set to SIG_IGN.  Starts and restarts
 * run in one thread that the handle owns until hsm_close() (the signer's
 * PR_SET_PDEATHSIG is tied to the thread that started it).
 */
#ifndef SG_HSM_H
#define SG_HSM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "err.h"

#define HSM_SIG_MAX      1024 /* bytes of any signature we produce (RSA-8192 fits) */
#define HSM_URI_MAX      1024 /* bytes of a PKCS#11 URI */
#define HSM_SESSIONS_MAX 64

struct hsm;

struct hsm_key_spec {
	const char *name;  /* for messages only */
	const char *uri;   /* RFC 7512: pkcs11:object=...;id=%01;token=... */
	enum sg_mech mech; /* for the attestation key: the mechanism that follows
	                      its type (ECDSA for EC, RSA-PSS for RSA) */
	int mech_from_key; /* nonzero: ignore mech and take it from the key's
	                      type, as above (hsm_open() resolves it) */
};

struct hsm_config {
	const char *module;   /* absolute path of the PKCS#11 module */
	const char *token;    /* token label */
	const char *pin_file; /* user PIN, owner-only file */
	unsigned sessions;    /* 1..HSM_SESSIONS_MAX */
	const struct hsm_key_spec *keys;
	size_t nkeys;
	const char *signer;        /* absolute path of signet-signer, or NULL: the
	                         PKCS#11 module runs in this process (tests,
	                         tools).  Set, it is SG_ERR_CONFIG if relative;
	                         signer_config must then be set, and the key
	                         names (which the signer's own list must match,
	                         in order) must each fit HSM_SIGNER_STR_MAX
	                         bytes (else SG_ERR_CONFIG); module, token,
	                         PIN file and URIs are then the signer's
	                         business and not used here. */
	const char *signer_config; /* absolute path of the configuration file
	                              the signer reads (the agent's) */
};
#define HSM_SIGNER_STR_MAX 1024 /* bytes of each string sent to the signer */

/*
 * Loads the module, C_Initialize (OS locking), finds the token, logs in,
 * opens the session pool and resolves every key (private key handle by URI,
 * its public key from the matching public key object or certificate-free
 * attributes; key type must fit the mechanism).  On failure returns
 * SG_ERR_HSM_UNAVAILABLE (module, token, login), SG_ERR_CONFIG (a key not
 * found, ambiguous, of the wrong type or extractable), SG_ERR_SECRET_FILE,
 * and writes a one-line reason to errbuf (never the PIN).
 * Details: a relative module path, sessions outside 1..HSM_SESSIONS_MAX, a
 * token label over 32 bytes or on several tokens, and a key URI that does
 * not parse, names neither object= nor id=, names another token= or a
 * type= other than private are SG_ERR_CONFIG; so is a key that is not
 * CKA_SENSITIVE, is CKA_EXTRACTABLE, lacks CKA_SIGN, has
 * CKA_ALWAYS_AUTHENTICATE, is EC but not P-256, or RSA under 2048 bits, and
 * one whose test signature (each key signs a fixed digest at open) does not
 * verify with the public key found.  Errors of read_secret_file() on the
 * PIN file (SG_ERR_SECRET_FILE, SG_ERR_NOT_FOUND, ...) pass through (from
 * the signer too, with its reason).  With a signer: a signer that cannot
 * be started, dies or breaks the protocol is SG_ERR_HSM_UNAVAILABLE.  NULL
 * cfg, ret or required members: SG_ERR_INVALID_ARGUMENT.  *ret is set only
 * on success; errbuf may be NULL.
 */
int hsm_open(
    const struct hsm_config *cfg, struct hsm **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/*
 * Signs a SHA-256 digest with key `key_index`.  The result is the encoding
 * of docs/protocol.md §4: DER ECDSA-Sig-Value for ECDSA (converted from PKCS#11's r||s),
 * the RSA signature bytes for PKCS#1 v1.5 (CKM_RSA_PKCS over the DigestInfo)
 * and PSS (CKM_RSA_PKCS_PSS, SHA-256, MGF1-SHA-256, salt 32).
 * sig must hold HSM_SIG_MAX bytes.  SG_ERR_INVALID_ARGUMENT (bad index or
 * digest length), SG_ERR_HSM_UNAVAILABLE (device/session/login lost),
 * SG_ERR_HSM_SIGN_FAILED.
 */
int hsm_sign(struct hsm *h, size_t key_index, const uint8_t *digest, size_t digest_len,
    uint8_t *sig, size_t *ret_sig_len) SG_MUST_CHECK;

/*
 * hsm_sign() for job `job` (HSM_JOB_LEN bytes: its id, or NULL for a
 * signature that is for no job).  Through the signer, the signature is in
 * the signer's journal under that job before it is returned, and
 * *ret_seq (may be NULL) is its record's number there; in-process there
 * is no journal and *ret_seq is 0.  Errors as hsm_sign().
 */
#define HSM_JOB_LEN 16
int hsm_sign_for(struct hsm *h, size_t key_index, const uint8_t *job, const uint8_t *digest,
    size_t digest_len, uint8_t *sig, size_t *ret_sig_len, uint64_t *ret_seq) SG_MUST_CHECK;

/* After this a dead signer is not started again (see above).  NULL and the
 * in-process mode: no-op. */
void hsm_no_restart(struct hsm *h);

/* Whether the signer died after hsm_no_restart(): every signature fails
 * from then on.  0 in-process. */
int hsm_lost(struct hsm *h);

/* The public key of configured key i (from the token), as an EVP_PKEY that
 * the caller frees (a new reference to the cached key: do not modify it; it
 * outlives hsm_close()).  SG_ERR_INVALID_ARGUMENT, SG_ERR_ALLOC. */
int hsm_public_key(struct hsm *h, size_t key_index, EVP_PKEY **ret) SG_MUST_CHECK;

/* Closes sessions, C_Finalize, dlclose.  NULL is a no-op. */
void hsm_close(struct hsm *h);

/*
 * RFC 7512 PKCS#11 URI, the subset signet uses: path attributes object=
 * (label), id= (percent-encoded bytes), token= and type= (private, public,
 * cert); any other path attribute or a query part is SG_ERR_PARSE.
 * Percent-encoding is decoded; values must be valid and free of NUL.
 * SG_ERR_PARSE (also: unknown or repeated attribute, empty value, type other
 * than private/public/cert), SG_ERR_LIMIT (URI longer than HSM_URI_MAX or id
 * longer than HSM_ID_MAX bytes), SG_ERR_ALLOC.  Caller frees with
 * hsm_uri_free().
 */
#define HSM_ID_MAX 64
struct hsm_uri {
	char *object; /* NULL when absent */
	char *token;  /* NULL when absent */
	char *type;   /* NULL when absent */
	uint8_t id[HSM_ID_MAX];
	size_t id_len;
	int has_id;
};
int hsm_uri_parse(const char *uri, struct hsm_uri **ret) SG_MUST_CHECK;
void hsm_uri_free(struct hsm_uri *u);

#endif
