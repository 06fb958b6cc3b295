/*
 * p11.h — internal: the PKCS#11 key holder behind hsm.h (p11.c).
 *
 * The same contract as hsm.h's hsm_open/hsm_sign/hsm_public_key/hsm_close
 * (see there for every error code), without the process boundary: hsm.c
 * calls it in-process when hsm_config.signer is NULL, and signet-signer
 * (signer.c) calls it on the other side of the socketpair otherwise.
 * p11_open() ignores cfg->signer.  Nothing outside hsm/ includes this,
 * except signet-admin (admin/admin.c), the operator's tool, which runs the
 * module in its own process by design and uses the p11_admin_* calls below.
 */
#ifndef SG_P11_H
#define SG_P11_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "err.h"
#include "hsm.h"

struct p11;

/* Name of a CK_RV ("CKR_PIN_INCORRECT"); "CKR_0x..." for unknown values.
 * Returns a static string or one in buf (32 bytes). */
const char *hsm_rv_name(unsigned long rv, char buf[32]);

/* The signet error for a CK_RV from a signing call: 0 for CKR_OK,
 * SG_ERR_HSM_UNAVAILABLE when the device, token, session or login is gone
 * (CKR_DEVICE_REMOVED, CKR_DEVICE_ERROR, CKR_TOKEN_NOT_PRESENT,
 * CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN,
 * CKR_CRYPTOKI_NOT_INITIALIZED), SG_ERR_HSM_SIGN_FAILED otherwise. */
int hsm_rv_error(unsigned long rv);

/* As hsm_open(), in this process (reads the PIN file). */
int p11_open(
    const struct hsm_config *cfg, struct p11 **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/* As hsm_sign(); thread-safe, blocks while all sessions are busy. */
int p11_sign(struct p11 *h, size_t key_index, const uint8_t *digest, size_t digest_len,
    uint8_t *sig, size_t *ret_sig_len) SG_MUST_CHECK;

/* As hsm_public_key(). */
int p11_public_key(struct p11 *h, size_t key_index, EVP_PKEY **ret) SG_MUST_CHECK;

/* Number of resolved keys (cfg->nkeys after a successful open); 0 for NULL. */
size_t p11_nkeys(const struct p11 *h);

/* The resolved mechanism of key i (mech_from_key applied).
 * SG_ERR_INVALID_ARGUMENT. */
int p11_mech(const struct p11 *h, size_t key_index, enum sg_mech *ret) SG_MUST_CHECK;

/* As hsm_close(): C_Logout, sessions, C_Finalize, dlclose.  NULL is a no-op. */
void p11_close(struct p11 *h);

/*
 * ---- p11_admin.c: key provisioning for signet-admin ----
 *
 * An admin handle is a p11 handle (p11_open(): module, token, login, and
 * cfg's keys resolved and self-tested, so p11_sign/p11_public_key work on
 * them) plus one read-write session on the same token for the operations
 * below.  Not thread-safe.  Every reason written to errbuf is one line and
 * never holds the PIN.
 */
struct p11_admin;

enum p11_key_kind {
	P11_KEY_EC_P256 = 1, /* CKK_EC on prime256v1 */
	P11_KEY_RSA_3072,    /* CKK_RSA, 3072 bits, e = 65537 */
};

#define P11_LABEL_MAX 64   /* bytes of a label p11_admin_generate() creates */
#define P11_LIST_MAX  1024 /* private keys p11_admin_list() reports */
#define P11_SHOWN_MAX 128  /* bytes of a label as reported (longer ones are cut) */

/* What p11_admin_list() and p11_admin_find() report about a private key. */
struct p11_key_info {
	unsigned long handle;          /* object handle, valid while the handle is open */
	char label[P11_SHOWN_MAX + 1]; /* CKA_LABEL, NUL-terminated; bytes outside
	                                    printable ASCII are shown as '?'; "" if none */
	int has_label;
	uint8_t id[HSM_ID_MAX]; /* CKA_ID */
	size_t id_len;          /* 0 when absent or longer than HSM_ID_MAX */
	unsigned long key_type; /* CKK_* */
	int is_ec, is_rsa;      /* CKK_EC, CKK_RSA */
	int bits;               /* RSA modulus bits, 256 for P-256, 0 unknown */
	int is_p256;            /* CKK_EC on prime256v1 */
	int is_sensitive, is_extractable, is_always_sensitive, is_never_extractable;
	int can_sign, is_always_authenticate;
};

/* p11_open(cfg) plus a read-write session.  The errors of p11_open(), and
 * SG_ERR_HSM_UNAVAILABLE when the session cannot be opened. */
int p11_admin_open(const struct hsm_config *cfg, struct p11_admin **ret, char *errbuf,
    size_t errlen) SG_MUST_CHECK;

/* The p11 handle inside a (borrowed until p11_admin_close()). */
struct p11 *p11_admin_p11(struct p11_admin *a);

/*
 * Generates a key pair inside the token: the private key CKA_TOKEN,
 * CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_SIGN only (no
 * decrypt, unwrap or derive); the public key CKA_TOKEN, CKA_VERIFY only; both
 * with CKA_LABEL label and CKA_ID id.  The new private key's attributes are
 * read back (sensitive, always sensitive, not extractable, never
 * extractable); a key that fails is destroyed and the call fails.
 * label: 1..P11_LABEL_MAX bytes of [A-Za-z0-9._-]; id: 1..HSM_ID_MAX bytes.
 * SG_ERR_INVALID_ARGUMENT (bad label, id or kind), SG_ERR_EXISTS (a key
 * pair or certificate object already has this label or this id),
 * SG_ERR_HSM_UNAVAILABLE, SG_ERR_CRYPTO (the token refused the generation,
 * or the key it made is not as asked).
 */
int p11_admin_generate(struct p11_admin *a, enum p11_key_kind kind, const char *label,
    const uint8_t *id, size_t id_len, char *errbuf, size_t errlen) SG_MUST_CHECK;

/*
 * Every private key on the token (at most P11_LIST_MAX; *ret_truncated
 * set when there were more), in the token's order.  Caller frees *ret with
 * free().  *ret is NULL when there is none.  SG_ERR_HSM_UNAVAILABLE,
 * SG_ERR_ALLOC.
 */
int p11_admin_list(struct p11_admin *a, struct p11_key_info **ret, size_t *ret_n,
    int *ret_truncated, char *errbuf, size_t errlen) SG_MUST_CHECK;

/*
 * The one private key that a PKCS#11 URI names (hsm_uri_parse(); object=
 * and/or id= required, token= if present must be the handle's token,
 * type= if present must be "private").  SG_ERR_CONFIG (bad URI, no match or
 * several), SG_ERR_HSM_UNAVAILABLE.
 */
int p11_admin_find(struct p11_admin *a, const char *uri, struct p11_key_info *ret, char *errbuf,
    size_t errlen) SG_MUST_CHECK;

/*
 * Stores cert (DER) in the token as a CKO_CERTIFICATE (CKC_X_509,
 * CKA_TOKEN, not CKA_PRIVATE, CKA_VALUE, CKA_SUBJECT, CKA_ISSUER,
 * CKA_SERIAL_NUMBER) with the private key's CKA_LABEL and CKA_ID; then
 * destroys the certificate objects that had that CKA_ID before (the old
 * leaf; at most 16, else SG_ERR_LIMIT before anything is created).
 * key must come from p11_admin_find() or p11_admin_list() on a; the caller
 * checks that cert belongs to it.
 * SG_ERR_INVALID_ARGUMENT (key without CKA_ID), SG_ERR_HSM_UNAVAILABLE,
 * SG_ERR_CRYPTO (the token refused the object), SG_ERR_ALLOC.
 */
int p11_admin_store_cert(struct p11_admin *a, const struct p11_key_info *key, X509 *cert,
    char *errbuf, size_t errlen) SG_MUST_CHECK;

/* Closes the read-write session, then p11_close().  NULL is a no-op. */
void p11_admin_close(struct p11_admin *a);

#endif
