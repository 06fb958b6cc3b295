/*
 * fuzz_pkcs7sig.c — pkcs7sig_authenticode_verify() and
 * pkcs7sig_kmod_verify() (common/pkcs7sig.h) on hostile DER.
 *
 * Once, three leaf certificates are loaded from the unit-test fixtures
 * (tests/data/format/, named by SIGNET_TEST_DATA): leaf-ec.pem (EC P-256),
 * leaf-rsa.pem (RSA-2048) and kmod-rsa.pem (RSA-3072, the key of the
 * kernel's sign-file fixture).  Per input, the bytes are checked as an
 * Authenticode and as a kmod SignedData against each leaf:
 *   - Authenticode with the image digest that the input itself names (the
 *     first SHA-256 DigestInfo in it: that of its SpcIndirectDataContent),
 *     or a fixed one when there is none, so that a genuine signature gets
 *     through every check; also against each of the first certificates
 *     that the input carries, so that signatures by other tools (whose
 *     leaf is only in the input) get as deep;
 *   - kmod with a fixed module digest: SHA-256 of
 *     tests/data/format/kmod-module.ko, which every kmod seed signs.
 * Invariants: the answer is 0 or SG_ERR_VERIFY; a refusal says why, an
 * acceptance does not; what one verifier accepts the other refuses; an
 * accepted signature is refused for any other digest (one bit flipped)
 * and with more than the allowed padding after it.
 *
 * The seeds (fuzz/corpus/pkcs7sig) were made once: auth-ec*, auth-rsa-*
 * and kmod-rsa2048* by pkcs7sig_*_sign() with the unit tests' soft signer
 * and fixture keys (auth-ec-timestamped with a token of
 * fuzz/corpus/tsa_reply/good attached by tsa_attach_pkcs7()), then
 * truncated, padded or with a bit flipped where the name says so;
 * auth-osslsigncode and auth-sbsign extracted with `osslsigncode
 * extract-signature` from tests/data/pe/; kmod-sign-file-* are the
 * fixtures tests/data/format/kmod-module*.ko.p7s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "pkcs7sig.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How many of the input's own certificates are tried as the leaf. */
#define FUZZ_OWN_CERTS_MAX 2
/* Bytes of a why buffer: room for every reason. */
#define FUZZ_WHY_MAX       256

enum kind { KIND_AUTHENTICODE, KIND_KMOD };

/* The Authenticode digest of tests/data/pe/tiny32.exe. */
static const uint8_t fixed_image_digest[SHA256_LEN] = { 0xa6, 0xa7, 0x45, 0x8d, 0x71, 0xa6, 0x5a,
	0x27, 0x0a, 0xc2, 0xd5, 0x40, 0xf6, 0xe3, 0xd3, 0x1c, 0xbb, 0x88, 0x1a, 0x21, 0x49, 0xcf,
	0xfd, 0x8b, 0x8a, 0xdb, 0xaf, 0x07, 0xac, 0xa2, 0x17, 0x06 };
/* SHA-256 of tests/data/format/kmod-module.ko. */
static const uint8_t fixed_module_digest[SHA256_LEN] = { 0x87, 0xa7, 0x84, 0x8b, 0x9f, 0x9f, 0x71,
	0xe2, 0xe1, 0x4f, 0x3e, 0xd3, 0x8e, 0x4d, 0xb3, 0xa0, 0xb5, 0x61, 0xe3, 0x9c, 0x08, 0xa4,
	0x36, 0x6a, 0x28, 0xbd, 0x88, 0x33, 0xa1, 0x5a, 0xdc, 0xed };

/* The DER of the sha256 OID, and of a 32-byte OCTET STRING's header. */
static const uint8_t sha256_oid[] = { 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	0x01 };
static const uint8_t asn1_null[] = { 0x05, 0x00 };
static const uint8_t octets32[] = { 0x04, 0x20 };

static const char *const leaf_files[] = { "leaf-ec.pem", "leaf-rsa.pem", "kmod-rsa.pem" };
static X509 *leaves[nitems(leaf_files)];

static void
setup(void)
{
	STACK_OF(X509) *certs = NULL;
	char path[512];
	size_t i;

	for (i = 0; i < nitems(leaf_files); i++) {
		snprintf(path, sizeof(path), "%s/format/%s", SIGNET_TEST_DATA, leaf_files[i]);
		if (crypto_load_certs(path, &certs) != 0) {
			fprintf(stderr, "fuzz_pkcs7sig: cannot load %s\n", path);
			abort();
		}
		leaves[i] = sk_X509_shift(certs);
		sk_X509_pop_free(certs, X509_free);
		certs = NULL;
	}
}

/* Whether data[off..] starts with the n bytes of what. */
static int
at(const uint8_t *data, size_t size, size_t off, const uint8_t *what, size_t n)
{
	return off <= size && size - off >= n && memcmp(data + off, what, n) == 0;
}

/* The 32 bytes of the first DigestInfo { sha256 [NULL], OCTET STRING (32) }
 * in the input, which in an Authenticode signature is the image digest. */
static int
find_image_digest(const uint8_t *data, size_t size, uint8_t ret[SHA256_LEN])
{
	size_t i, off;

	for (i = 0; i + sizeof(sha256_oid) <= size; i++) {
		if (!at(data, size, i, sha256_oid, sizeof(sha256_oid)))
			continue;
		off = i + sizeof(sha256_oid);
		if (at(data, size, off, asn1_null, sizeof(asn1_null)))
			off += sizeof(asn1_null);
		if (at(data, size, off, octets32, sizeof(octets32)) &&
		    size - off - sizeof(octets32) >= SHA256_LEN) {
			memcpy(ret, data + off + sizeof(octets32), SHA256_LEN);
			return 1;
		}
	}
	return 0;
}

static int
verify(enum kind k, const uint8_t *der, size_t len, const uint8_t digest[SHA256_LEN], X509 *leaf,
    char *why, size_t whylen)
{
	if (k == KIND_AUTHENTICODE)
		return pkcs7sig_authenticode_verify(der, len, digest, leaf, why, whylen);
	return pkcs7sig_kmod_verify(der, len, digest, leaf, why, whylen);
}

/* What an accepted signature must also satisfy. */
static void
check_accepted(
    enum kind k, const uint8_t *data, size_t size, const uint8_t digest[SHA256_LEN], X509 *leaf)
{
	const size_t extra = k == KIND_AUTHENTICODE ? PKCS7SIG_PADDING_MAX + 1 : 1;
	uint8_t other[SHA256_LEN], *longer;

	/* Without a why buffer, the same answer. */
	if (verify(k, data, size, digest, leaf, NULL, 0) != 0)
		abort();
	/* Never both formats. */
	if (verify(k == KIND_AUTHENTICODE ? KIND_KMOD : KIND_AUTHENTICODE, data, size, digest, leaf,
		NULL, 0) != SG_ERR_VERIFY)
		abort();
	/* Bound to its digest. */
	memcpy(other, digest, SHA256_LEN);
	other[data[size / 2] % SHA256_LEN] ^= 0x01;
	if (verify(k, data, size, other, leaf, NULL, 0) != SG_ERR_VERIFY)
		abort();
	/* Nothing but a little padding may follow. */
	if ((longer = calloc(1, size + extra)) == NULL)
		abort();
	memcpy(longer, data, size);
	if (verify(k, longer, size + extra, digest, leaf, NULL, 0) != SG_ERR_VERIFY)
		abort();
	free(longer);
}

static void
check(enum kind k, const uint8_t *data, size_t size, const uint8_t digest[SHA256_LEN], X509 *leaf)
{
	char why[FUZZ_WHY_MAX];
	int r;

	memset(why, 'x', sizeof(why));
	r = verify(k, data, size, digest, leaf, why, sizeof(why));
	if (memchr(why, '\0', sizeof(why)) == NULL)
		abort();
	if (r == 0) {
		if (why[0] != '\0')
			abort();
		check_accepted(k, data, size, digest, leaf);
	} else if (r != SG_ERR_VERIFY || why[0] == '\0') {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t empty[1];
	const unsigned char *p;
	uint8_t image_digest[SHA256_LEN];
	PKCS7 *p7 = NULL;
	size_t i;
	int n;

	if (leaves[0] == NULL)
		setup();
	if (data == NULL)
		data = empty; /* libFuzzer may pass NULL with size 0 */

	if (!find_image_digest(data, size, image_digest))
		memcpy(image_digest, fixed_image_digest, SHA256_LEN);
	for (i = 0; i < nitems(leaves); i++) {
		check(KIND_AUTHENTICODE, data, size, image_digest, leaves[i]);
		check(KIND_KMOD, data, size, fixed_module_digest, leaves[i]);
	}

	/* The input's own certificates as the leaf. */
	p = data;
	if (size > 0 && (p7 = d2i_PKCS7(NULL, &p, (long)size)) != NULL &&
	    PKCS7_type_is_signed(p7) && p7->d.sign != NULL) {
		n = sk_X509_num(p7->d.sign->cert);
		for (i = 0; (int)i < n && i < FUZZ_OWN_CERTS_MAX; i++)
			check(KIND_AUTHENTICODE, data, size, image_digest,
			    sk_X509_value(p7->d.sign->cert, (int)i));
	}
	PKCS7_free(p7);
	return 0;
}
