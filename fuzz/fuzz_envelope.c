/*
 * fuzz_envelope.c — envelope_parse() and envelope_salvage_payload() on
 * hostile bytes.  Invariants: an envelope that parses serializes, and the
 * serialization parses back to the same envelope; whatever parses can also
 * be salvaged, with the same payload; dsse_pae() works on what parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_same(const struct dsse_envelope *a, const struct dsse_envelope *b)
{
	size_t i;

	if (strcmp(a->payload_type, b->payload_type) != 0 || a->payload_len != b->payload_len ||
	    memcmp(a->payload, b->payload, a->payload_len) != 0 || a->nsigs != b->nsigs)
		abort();
	for (i = 0; i < a->nsigs; i++) {
		const struct dsse_sig *x = &a->sigs[i], *y = &b->sigs[i];
		if (strcmp(x->keyid, y->keyid) != 0 || x->sig_len != y->sig_len ||
		    memcmp(x->sig, y->sig, x->sig_len) != 0 || x->cert_len != y->cert_len ||
		    (x->cert_len > 0 && memcmp(x->cert, y->cert, x->cert_len) != 0))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsse_envelope *env = NULL, *back = NULL;
	uint8_t *payload = NULL, *pae = NULL;
	size_t payload_len = 0, pae_len = 0, len = 0;
	char *s = NULL;
	int r, rs;

	r = envelope_parse(data, size, &env);
	rs = envelope_salvage_payload(data, size, &payload, &payload_len);
	if (r == SG_ERR_ENVELOPE_TOO_LARGE && rs != SG_ERR_ENVELOPE_TOO_LARGE)
		abort();
	if (r != 0) {
		if (env != NULL)
			abort();
		goto out;
	}
	if (rs != 0 || payload_len != env->payload_len ||
	    memcmp(payload, env->payload, payload_len) != 0)
		abort();
	if (dsse_pae(env->payload_type, env->payload, env->payload_len, &pae, &pae_len) != 0 ||
	    pae_len < env->payload_len + strlen(env->payload_type))
		abort();
	if (envelope_serialize(env, &s, &len) != 0)
		abort();
	if (envelope_parse(s, len, &back) != 0)
		abort();
	check_same(env, back);
out:
	envelope_free(back);
	envelope_free(env);
	free(payload);
	free(pae);
	free(s);
	return 0;
}
