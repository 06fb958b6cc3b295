/*
 * fuzz_modsig.c — modsig_split() on hostile bytes.
 *
 * Invariants: a refusal comes with a reason and leaves the outputs alone;
 * a signed module is exactly its unsigned part, its signature and the
 * trailer modsig_append() writes for them; an unsigned module signed with
 * a dummy signature splits back into itself and that signature.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A DER SEQUENCE holding the INTEGER 42: a stand-in for a PKCS#7. */
static const uint8_t dummy_p7[] = { 0x30, 0x03, 0x02, 0x01, 0x2a };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sig = (const uint8_t *)data, *sig2 = NULL;
	size_t ulen = 7, slen = 7, ulen2 = 0, slen2 = 0, out_len = 0;
	int is_signed = 7, is_signed2 = 0, r;
	uint8_t *out = NULL;
	char why[MODSIG_WHY_MAX];

	why[0] = 0;
	r = modsig_split(data, size, &ulen, &is_signed, &sig, &slen, why, sizeof(why));
	if (r != 0) {
		if (r != SG_ERR_PARSE || why[0] == 0 || ulen != 7 || slen != 7 || is_signed != 7 ||
		    sig != data)
			abort();
		return 0;
	}
	if (is_signed) {
		if (ulen > size || sig != data + ulen || slen == 0 || slen > size - ulen)
			abort();
		if (modsig_append(data, ulen, sig, slen, &out, &out_len) != 0 || out_len != size ||
		    memcmp(out, data, size) != 0)
			abort();
	} else {
		if (ulen != size || sig != NULL || slen != 0)
			abort();
		if (modsig_append(data, size, dummy_p7, sizeof(dummy_p7), &out, &out_len) != 0)
			abort();
		if (modsig_split(
			out, out_len, &ulen2, &is_signed2, &sig2, &slen2, why, sizeof(why)) != 0 ||
		    !is_signed2 || ulen2 != size || slen2 != sizeof(dummy_p7) ||
		    memcmp(sig2, dummy_p7, slen2) != 0)
			abort();
	}
	free(out);
	return 0;
}
