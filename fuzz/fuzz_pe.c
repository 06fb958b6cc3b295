/*
 * fuzz_pe.c — pe_parse() and what follows it in submit-job on hostile
 * bytes.
 *
 * Invariants: a refused image comes with a reason and leaves the output
 * alone; a parsed image's offsets lie inside the file; its digest can be
 * computed; pe_signature() of a signed image points inside its first
 * WIN_CERTIFICATE, and of an unsigned one finds nothing; pe_embed() of a
 * dummy signature gives an image that parses, is signed once, carries that
 * signature, has a right checksum and the same digest as the input (the
 * Authenticode property); embedding again into that output gives the same
 * bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A DER SEQUENCE holding the INTEGER 42: a stand-in for a PKCS#7. */
static const uint8_t dummy_p7[] = { 0x30, 0x03, 0x02, 0x01, 0x2a };

static void
check_image(const struct pe_image *img, size_t size)
{
	if (img->len != size || img->pe32plus < 0 || img->pe32plus > 1 || img->nsections == 0 ||
	    img->nsections > PE_SECTIONS_MAX || img->headers_len > size ||
	    img->sections_end > size || img->sections_end < img->headers_len ||
	    img->checksum_off + 4 > img->certdir_off || img->certdir_off + 8 > img->headers_len ||
	    img->hashed_end > size)
		abort();
	if (img->is_signed) {
		if (img->cert_off < img->sections_end || img->cert_off % 8 != 0 ||
		    img->cert_len < PE_WIN_CERT_HDR || img->cert_off + img->cert_len != size ||
		    img->hashed_end != img->cert_off || img->ncerts == 0)
			abort();
	} else if (img->cert_off != 0 || img->cert_len != 0 || img->ncerts != 0 ||
	    img->hashed_end != size) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pe_image img, out_img, again_img;
	uint8_t d_in[SHA256_LEN], d_out[SHA256_LEN];
	uint8_t *out = NULL, *again = NULL;
	size_t out_len = 0, again_len = 0, sig_len = 0;
	const uint8_t *sig = NULL;
	char why[PE_WHY_MAX];
	int r;

	memset(&img, 0xa5, sizeof(img));
	out_img = img;
	why[0] = 0;
	r = pe_parse(data, size, &img, why, sizeof(why));
	if (r != 0) {
		if (r != SG_ERR_PARSE || why[0] == 0 || memcmp(&img, &out_img, sizeof(img)) != 0)
			abort();
		return 0;
	}
	check_image(&img, size);
	if (pe_authenticode_digest(data, &img, d_in) != 0)
		abort();
	r = pe_signature(data, &img, &sig, &sig_len);
	if (!img.is_signed && r != SG_ERR_NOT_FOUND)
		abort();
	if (img.is_signed && r != 0 && r != SG_ERR_PARSE)
		abort();
	if (r == 0 &&
	    (sig != data + img.cert_off + PE_WIN_CERT_HDR ||
		sig_len > img.cert_len - PE_WIN_CERT_HDR))
		abort();

	if (pe_embed(data, &img, dummy_p7, sizeof(dummy_p7), &out, &out_len) != 0)
		abort();
	if (pe_parse(out, out_len, &out_img, why, sizeof(why)) != 0)
		abort();
	check_image(&out_img, out_len);
	if (!out_img.is_signed || out_img.ncerts != 1 ||
	    out_img.checksum != pe_checksum(out, out_len, out_img.checksum_off))
		abort();
	if (pe_signature(out, &out_img, &sig, &sig_len) != 0 || sig_len != sizeof(dummy_p7) ||
	    memcmp(sig, dummy_p7, sig_len) != 0)
		abort();
	if (pe_authenticode_digest(out, &out_img, d_out) != 0 ||
	    memcmp(d_in, d_out, SHA256_LEN) != 0)
		abort();
	if (pe_embed(out, &out_img, dummy_p7, sizeof(dummy_p7), &again, &again_len) != 0 ||
	    again_len != out_len || memcmp(again, out, out_len) != 0)
		abort();
	if (pe_parse(again, again_len, &again_img, why, sizeof(why)) != 0)
		abort();
	free(again);
	free(out);
	return 0;
}
