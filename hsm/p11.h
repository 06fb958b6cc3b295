/*
 * p11.h — internal: the PKCS#11 key holder behind hsm.h (hsm_pkcs11.c).
 *
 * The same contract as hsm.h's hsm_open/hsm_sign/hsm_public_key/hsm_close
 * (see there for every error code), without the process boundary: hsm.c
 * calls it in-process when hsm_config.signer is NULL, and signet-signer
 * (signer.c) calls it on the other side of the socketpair otherwise.
 * p11_open() ignores cfg->signer.  Nothing outside hsm/ includes this.
 */
#ifndef SG_P11_H
#define SG_P11_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "err.h"
#include "hsm.h"

struct p11;

/* As hsm_open(), in this process (reads the PIN file). */
int p11_open(const struct hsm_config *cfg, struct p11 **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/* As hsm_sign(); thread-safe, blocks while all sessions are busy. */
int p11_sign(struct p11 *h, size_t key_index, const uint8_t *digest, size_t digest_len, uint8_t *sig,
    size_t *ret_sig_len) SG_MUST_CHECK;

/* As hsm_public_key(). */
int p11_public_key(struct p11 *h, size_t key_index, EVP_PKEY **ret) SG_MUST_CHECK;

/* Number of resolved keys (cfg->nkeys after a successful open); 0 for NULL. */
size_t p11_nkeys(const struct p11 *h);

/* The resolved mechanism of key i (mech_from_key applied).
 * SG_ERR_INVALID_ARGUMENT. */
int p11_mech(const struct p11 *h, size_t key_index, enum sg_mech *ret) SG_MUST_CHECK;

/* As hsm_close(): C_Logout, sessions, C_Finalize, dlclose.  NULL is a no-op. */
void p11_close(struct p11 *h);

#endif
