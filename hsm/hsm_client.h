/*
 * hsm_client.h — internal: hsm.h over a signet-signer process (the agent's
 * side of signer_proto.h).  Same contract as hsm_open/hsm_sign/
 * hsm_public_key/hsm_close (see hsm.h); hsm.c dispatches here when
 * hsm_config.signer is set.  This file never reads the PIN file: the
 * signer reads the configuration file and the PIN file itself.
 */
#ifndef SG_HSM_CLIENT_H
#define SG_HSM_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "hsm.h"

struct hsm_client;

int hsm_client_open(const struct hsm_config *cfg, struct hsm_client **ret, char *errbuf,
    size_t errlen) SG_MUST_CHECK;
int hsm_client_sign(struct hsm_client *c, size_t key_index, const uint8_t *job,
    const uint8_t *digest, size_t digest_len, uint8_t *sig, size_t *ret_sig_len,
    uint64_t *ret_seq) SG_MUST_CHECK;
void hsm_client_no_restart(struct hsm_client *c);
int hsm_client_lost(struct hsm_client *c);
int hsm_client_public_key(struct hsm_client *c, size_t key_index, EVP_PKEY **ret) SG_MUST_CHECK;
/* The running signer's pid, or 0 while none runs. */
pid_t hsm_client_pid(struct hsm_client *c);
void hsm_client_close(struct hsm_client *c);

#endif
