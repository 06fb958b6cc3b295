/*
 * hsm.c — hsm.h: in-process (p11.h) when hsm_config.signer is NULL,
 * otherwise through the signet-signer process (hsm_client.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "hsm.h"
#include "hsm_client.h"
#include "hsm_internal.h"
#include "p11.h"

struct hsm {
	struct p11 *p11;           /* in-process, or NULL */
	struct hsm_client *client; /* through the signer, or NULL */
};

int
hsm_open(const struct hsm_config *cfg, struct hsm **ret, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	struct hsm *h = NULL;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (cfg == NULL || ret == NULL) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "incomplete HSM configuration");
		return SG_ERR_INVALID_ARGUMENT;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return SG_ERR_ALLOC;
	if (cfg->signer == NULL)
		r = p11_open(cfg, &h->p11, errbuf, errlen);
	else
		r = hsm_client_open(cfg, &h->client, errbuf, errlen);
	if (r < 0)
		goto out;
	*ret = h;
	h = NULL;
	r = 0;
out:
	free(h);
	return r;
}

int
hsm_sign(struct hsm *h, size_t key_index, const uint8_t *digest, size_t digest_len, uint8_t *sig,
    size_t *ret_sig_len)
{
	return hsm_sign_for(h, key_index, NULL, digest, digest_len, sig, ret_sig_len, NULL);
}

int
hsm_sign_for(struct hsm *h, size_t key_index, const uint8_t *job, const uint8_t *digest,
    size_t digest_len, uint8_t *sig, size_t *ret_sig_len, uint64_t *ret_seq)
{
	if (h == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (h->client != NULL)
		return hsm_client_sign(
		    h->client, key_index, job, digest, digest_len, sig, ret_sig_len, ret_seq);
	if (ret_seq != NULL)
		*ret_seq = 0;
	return p11_sign(h->p11, key_index, digest, digest_len, sig, ret_sig_len);
}

void
hsm_no_restart(struct hsm *h)
{
	if (h != NULL)
		hsm_client_no_restart(h->client);
}

int
hsm_lost(struct hsm *h)
{
	return h != NULL ? hsm_client_lost(h->client) : 0;
}

int
hsm_public_key(struct hsm *h, size_t key_index, EVP_PKEY **ret)
{
	if (h == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (h->client != NULL)
		return hsm_client_public_key(h->client, key_index, ret);
	return p11_public_key(h->p11, key_index, ret);
}

pid_t
hsm_signer_pid(struct hsm *h)
{
	return h != NULL && h->client != NULL ? hsm_client_pid(h->client) : 0;
}

void
hsm_close(struct hsm *h)
{
	if (h == NULL)
		return;
	hsm_client_close(h->client);
	p11_close(h->p11);
	free(h);
}
