/*
 * crypto.c — every OpenSSL call of the commands, behind crypto.h.
 *
 * OpenSSL 3 EVP interfaces only (no deprecated low-level calls).  Key types
 * are checked before use, so an attacker-independent but mistaken key
 * (P-384, RSA-1024, an RSA-PSS-restricted key) is refused up front rather
 * than producing signatures nobody else accepts.  Every failure path clears
 * the OpenSSL error queue through crypto_err(), so stale errors never leak
 * into the next, unrelated, operation's diagnosis.
 */
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>

#include "log.h"

#define RSA_BITS_MIN        2048
#define PSS_SALT_LEN        32
/* Read size of crypto_sha256_fd: large enough that syscalls cost nothing
 * next to hashing, small enough for any stack of threads (it is heap). */
#define SHA256_FD_BUF_BYTES (64 * 1024)
#define EC_GROUP_NAME_MAX   64

const uint8_t sha256_digestinfo_prefix[SHA256_DIGESTINFO_PREFIX_LEN] = {
	0x30,
	0x31,
	0x30,
	0x0d,
	0x06,
	0x09,
	0x60,
	0x86,
	0x48,
	0x01,
	0x65,
	0x03,
	0x04,
	0x02,
	0x01,
	0x05,
	0x00,
	0x04,
	0x20,
};

static const char *const mech_names[] = {
	[SG_MECH_ECDSA_SHA256] = "ecdsa-sha256",
	[SG_MECH_RSA_PKCS1_SHA256] = "rsa-pkcs1-sha256",
	[SG_MECH_RSA_PSS_SHA256] = "rsa-pss-sha256",
};

const char *
sg_mech_name(enum sg_mech m)
{
	if ((unsigned)m >= nitems(mech_names))
		return "unknown";
	return mech_names[m];
}

int
sg_mech_parse(const char *name, enum sg_mech *ret)
{
	size_t i;

	if (name == NULL)
		return SG_ERR_PARSE;
	for (i = 0; i < nitems(mech_names); i++) {
		if (strcmp(name, mech_names[i]) == 0) {
			*ret = (enum sg_mech)i;
			return 0;
		}
	}
	return SG_ERR_PARSE;
}

int
crypto_err(int r)
{
	unsigned long e;
	const char *file, *func, *data;
	int line, flags;
	char buf[256];

	while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_debug("openssl: %s (%s:%d %s)%s%s", buf, file, line, func != NULL ? func : "",
		    (flags & ERR_TXT_STRING) ? ": " : "", (flags & ERR_TXT_STRING) ? data : "");
	}
	return r;
}

/* Key kinds we distinguish; everything else is unsupported. */
enum key_kind { KEY_OTHER = 0, KEY_EC_P256, KEY_ED25519, KEY_RSA };

static enum key_kind
key_kind(EVP_PKEY *pk)
{
	char group[EC_GROUP_NAME_MAX];
	size_t glen = 0;

	if (pk == NULL)
		return KEY_OTHER;
	/* "RSA" only: an RSA-PSS-restricted key carries its own parameters,
	 * which could contradict the salt length docs/protocol.md §2 fixes. */
	if (EVP_PKEY_is_a(pk, "RSA"))
		return EVP_PKEY_get_bits(pk) >= RSA_BITS_MIN ? KEY_RSA : KEY_OTHER;
	if (EVP_PKEY_is_a(pk, "ED25519"))
		return KEY_ED25519;
	if (EVP_PKEY_is_a(pk, "EC")) {
		/* A named curve only; explicit parameters have no group name. */
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1)
			return KEY_OTHER;
		if (OBJ_sn2nid(group) == NID_X9_62_prime256v1 ||
		    EC_curve_nist2nid(group) == NID_X9_62_prime256v1)
			return KEY_EC_P256;
		return KEY_OTHER;
	}
	return KEY_OTHER;
}

int
crypto_check_key_type(EVP_PKEY *pk)
{
	int r = key_kind(pk) == KEY_OTHER ? SG_ERR_KEY_UNSUPPORTED : 0;

	return crypto_err(r);
}

/*
 * Passphrase callback for private keys: there is none.  Without it (cb
 * NULL, u NULL) OpenSSL would prompt on the terminal for an encrypted key,
 * and an agent must never block on a prompt; this way it simply fails.
 */
static int
no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * The key types we accept, by the OID of a PKCS#8 PrivateKeyInfo: the
 * name that tells OpenSSL's decoder which one to build.  NULL: unknown.
 */
static const char *
pkcs8_key_type(const PKCS8_PRIV_KEY_INFO *p8)
{
	const ASN1_OBJECT *obj = NULL;

	if (PKCS8_pkey_get0(&obj, NULL, NULL, NULL, p8) != 1)
		return NULL;
	switch (OBJ_obj2nid(obj)) {
	case NID_X9_62_id_ecPublicKey:
		return "EC";
	case NID_ED25519:
		return "ED25519";
	case NID_rsaEncryption:
		return "RSA";
	default:
		return NULL;
	}
}

/*
 * An unencrypted PKCS#8 private key ("PRIVATE KEY" PEM, as openssl genpkey
 * writes them) decoded for its one key type.  OpenSSL 3.0's generic PEM
 * reader tries every decoder it has (PEM, DER, every structure and key
 * type), about 1 ms per key; naming the input, the structure and the key
 * type cuts that to a third.  NULL when der is not such a key; the
 * caller then falls back to the generic reader.
 */
static EVP_PKEY *
decode_pkcs8(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	size_t left = (size_t)len;
	PKCS8_PRIV_KEY_INFO *p8;
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pk = NULL;
	const char *type;

	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len)) == NULL || p != der + len ||
	    (type = pkcs8_key_type(p8)) == NULL)
		goto out;
	p = der;
	dctx = OSSL_DECODER_CTX_new_for_pkey(
	    &pk, "DER", "PrivateKeyInfo", type, EVP_PKEY_KEYPAIR, NULL, NULL);
	if (dctx == NULL || OSSL_DECODER_from_data(dctx, &p, &left) != 1 || left != 0) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	OSSL_DECODER_CTX_free(dctx);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return pk;
}

/*
 * The first PEM block of pem: a "PRIVATE KEY" (PKCS#8) or "PUBLIC KEY"
 * (SubjectPublicKeyInfo) decoded directly; anything else (traditional
 * "EC PRIVATE KEY" or "RSA PRIVATE KEY" files, ...) through OpenSSL's
 * generic reader.  Never prompts for a passphrase.
 */
static EVP_PKEY *
decode_pem_key(const char *pem, size_t len, int is_private)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	long der_len = 0;
	EVP_PKEY *pk = NULL;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	if (PEM_read_bio(bio, &name, &header, &der, &der_len) == 1 && der_len > 0 &&
	    header != NULL && header[0] == '\0') {
		p = der;
		if (is_private && strcmp(name, PEM_STRING_PKCS8INF) == 0)
			pk = decode_pkcs8(der, der_len);
		else if (!is_private && strcmp(name, PEM_STRING_PUBLIC) == 0 &&
		    (pk = d2i_PUBKEY(NULL, &p, der_len)) != NULL && p != der + der_len) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	if (pk == NULL) {
		(void)BIO_reset(bio);
		ERR_clear_error();
		if (is_private)
			pk = PEM_read_bio_PrivateKey_ex(
			    bio, NULL, no_passphrase_cb, NULL, NULL, NULL);
		else
			pk = PEM_read_bio_PUBKEY_ex(bio, NULL, NULL, NULL, NULL, NULL);
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	/* A private key's DER is key material. */
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)der_len);
	BIO_free(bio);
	return pk;
}

/* Loads one PEM key from path, then checks its type. */
static int
load_key(const char *path, size_t max, int is_private, EVP_PKEY **ret)
{
	int r = SG_ERR_INTERNAL;
	char *pem = NULL;
	size_t len = 0;
	EVP_PKEY *pk = NULL;

	if ((r = read_file(path, max, &pem, &len)) != 0)
		goto out;
	if (len > INT_MAX || (pk = decode_pem_key(pem, len, is_private)) == NULL) {
		r = SG_ERR_PARSE;
		goto out;
	}
	if ((r = crypto_check_key_type(pk)) != 0)
		goto out;
	*ret = pk;
	pk = NULL;
	r = 0;
out:
	EVP_PKEY_free(pk);
	/* The private key's PEM is key material: wipe it. */
	if (pem != NULL)
		freezero(pem, len);
	return crypto_err(r);
}

int
crypto_load_pubkey(const char *path, EVP_PKEY **ret)
{
	return load_key(path, PUBKEY_FILE_MAX, 0, ret);
}

int
crypto_load_privkey(const char *path, EVP_PKEY **ret)
{
	return load_key(path, PRIVKEY_FILE_MAX, 1, ret);
}

int
crypto_load_certs(const char *path, STACK_OF(X509) * *ret)
{
	int r = SG_ERR_INTERNAL;
	char *pem = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	STACK_OF(X509) *certs = NULL;
	X509 *x = NULL;
	unsigned long e;

	if ((r = read_file(path, CERT_FILE_MAX, &pem, &len)) != 0)
		goto out;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (certs = sk_X509_new_null()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	ERR_clear_error();
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(certs, x) <= 0) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		x = NULL;
	}
	/* The loop ends at end of input ("no start line") or at a bad block;
	 * only the former is acceptable. */
	e = ERR_peek_last_error();
	if (sk_X509_num(certs) == 0 ||
	    (e != 0 &&
		!(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))) {
		r = SG_ERR_PARSE;
		goto out;
	}
	ERR_clear_error();
	*ret = certs;
	certs = NULL;
	r = 0;
out:
	X509_free(x);
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	free(pem);
	return crypto_err(r);
}

int
crypto_keyid(EVP_PKEY *pk, char ret[KEYID_LEN + 1])
{
	int r = SG_ERR_INTERNAL;
	unsigned char *der = NULL;
	uint8_t md[SHA256_LEN];
	int der_len;

	if (pk == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((der_len = i2d_PUBKEY(pk, &der)) <= 0) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	crypto_sha256(der, (size_t)der_len, md);
	memcpy(ret, KEYID_PREFIX, sizeof(KEYID_PREFIX) - 1);
	hex_encode(md, sizeof(md), ret + sizeof(KEYID_PREFIX) - 1);
	r = 0;
out:
	OPENSSL_free(der);
	return crypto_err(r);
}

/*
 * Sets up ctx for docs/protocol.md §2 signing or verifying with pk: SHA-256 for ECDSA
 * and RSA-PSS (MGF1-SHA-256, salt 32), no digest for Ed25519 (pure).
 */
static int
dsse_ctx_init(EVP_MD_CTX *ctx, EVP_PKEY *pk, int sign)
{
	enum key_kind kind = key_kind(pk);
	const char *md = kind == KEY_ED25519 ? NULL : "SHA256";
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	if (kind == KEY_OTHER)
		return SG_ERR_KEY_UNSUPPORTED;
	if (sign)
		ok = EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, pk, NULL);
	else
		ok = EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pk, NULL);
	if (ok != 1)
		return SG_ERR_CRYPTO;
	if (kind == KEY_RSA &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, PSS_SALT_LEN) != 1 ||
		EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1))
		return SG_ERR_CRYPTO;
	return 0;
}

/* OpenSSL wants a non-NULL pointer even for an empty message. */
static const uint8_t empty_msg[1];

int
crypto_sign(EVP_PKEY *priv, const uint8_t *msg, size_t len, uint8_t **ret_sig, size_t *ret_sig_len)
{
	int r = SG_ERR_INTERNAL;
	EVP_MD_CTX *ctx = NULL;
	uint8_t *sig = NULL;
	size_t sig_len = 0;

	if (msg == NULL && len > 0) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (msg == NULL)
		msg = empty_msg;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((r = dsse_ctx_init(ctx, priv, 1)) != 0)
		goto out;
	/* One-shot: Ed25519 supports nothing else.  First call sizes. */
	if (EVP_DigestSign(ctx, NULL, &sig_len, msg, len) != 1) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	if ((sig = malloc(sig_len)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (EVP_DigestSign(ctx, sig, &sig_len, msg, len) != 1) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	*ret_sig = sig;
	*ret_sig_len = sig_len;
	sig = NULL;
	r = 0;
out:
	free(sig);
	EVP_MD_CTX_free(ctx);
	return crypto_err(r);
}

int
crypto_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len)
{
	int r = SG_ERR_VERIFY;
	EVP_MD_CTX *ctx = NULL;

	if ((msg == NULL && len > 0) || sig == NULL || sig_len == 0)
		goto out;
	if (msg == NULL)
		msg = empty_msg;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	/* Anything short of a valid signature, errors included, is VERIFY. */
	if (dsse_ctx_init(ctx, pub, 0) != 0)
		goto out;
	if (EVP_DigestVerify(ctx, sig, sig_len, msg, len) != 1)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return crypto_err(r);
}

int
crypto_dsse_sign(EVP_PKEY *priv, const char *type, const uint8_t *payload, size_t payload_len,
    uint8_t **ret_sig, size_t *ret_sig_len)
{
	int r = SG_ERR_INTERNAL;
	uint8_t *pae = NULL;
	size_t pae_len = 0;

	if ((r = dsse_pae(type, payload, payload_len, &pae, &pae_len)) != 0)
		goto out;
	if ((r = crypto_sign(priv, pae, pae_len, ret_sig, ret_sig_len)) != 0)
		goto out;
	r = 0;
out:
	free(pae);
	return r;
}

int
crypto_dsse_verify(EVP_PKEY *pub, const char *type, const uint8_t *payload, size_t payload_len,
    const uint8_t *sig, size_t sig_len)
{
	int r = SG_ERR_INTERNAL;
	uint8_t *pae = NULL;
	size_t pae_len = 0;

	if ((r = dsse_pae(type, payload, payload_len, &pae, &pae_len)) != 0) {
		/* A PAE we cannot build is not a valid signature either. */
		r = r == SG_ERR_ALLOC ? r : SG_ERR_VERIFY;
		goto out;
	}
	if ((r = crypto_verify(pub, pae, pae_len, sig, sig_len)) != 0)
		goto out;
	r = 0;
out:
	free(pae);
	return r;
}

/* Sets the padding, digest and PSS parameters of a raw-digest check. */
static int
digest_ctx_setup(EVP_PKEY_CTX *pctx, enum sg_mech mech)
{
	switch (mech) {
	case SG_MECH_ECDSA_SHA256:
		/* With a signature md set, OpenSSL insists on a 32-byte input. */
		return EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 ? 0 : SG_ERR_CRYPTO;
	case SG_MECH_RSA_PKCS1_SHA256:
		/* The md makes OpenSSL build and compare the DigestInfo. */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1)
			return SG_ERR_CRYPTO;
		return 0;
	case SG_MECH_RSA_PSS_SHA256:
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, PSS_SALT_LEN) != 1)
			return SG_ERR_CRYPTO;
		return 0;
	}
	return SG_ERR_INVALID_ARGUMENT;
}

int
crypto_verify_digest(EVP_PKEY *pub, enum sg_mech mech, const uint8_t digest[SHA256_LEN],
    const uint8_t *sig, size_t sig_len)
{
	int r = SG_ERR_VERIFY;
	EVP_PKEY_CTX *pctx = NULL;
	enum key_kind kind = key_kind(pub);

	if (digest == NULL || sig == NULL || sig_len == 0)
		goto out;
	/* The mechanism must fit the key: no ECDSA mech on an RSA key, etc. */
	if (!(mech == SG_MECH_ECDSA_SHA256 && kind == KEY_EC_P256) &&
	    !((mech == SG_MECH_RSA_PKCS1_SHA256 || mech == SG_MECH_RSA_PSS_SHA256) &&
		kind == KEY_RSA))
		goto out;
	if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (EVP_PKEY_verify_init(pctx) != 1 || digest_ctx_setup(pctx, mech) != 0)
		goto out;
	if (EVP_PKEY_verify(pctx, sig, sig_len, digest, SHA256_LEN) != 1)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(pctx);
	return crypto_err(r);
}

int
crypto_sha256_fd(int fd, uint8_t ret[SHA256_LEN], uint64_t *ret_size)
{
	int r = SG_ERR_INTERNAL;
	EVP_MD_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	uint64_t size = 0;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	ssize_t n;

	if ((buf = malloc(SHA256_FD_BUF_BYTES)) == NULL || (ctx = EVP_MD_CTX_new()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (EVP_DigestInit_ex2(ctx, crypto_md_sha256(), NULL) != 1) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	/* A hint only; failure (a pipe, say) changes nothing. */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		n = read(fd, buf, SHA256_FD_BUF_BYTES);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = SG_ERR_SYSTEM;
			goto out;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			r = SG_ERR_CRYPTO;
			goto out;
		}
		size += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != SHA256_LEN) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	memcpy(ret, md, SHA256_LEN);
	if (ret_size != NULL)
		*ret_size = size;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return crypto_err(r);
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *
crypto_md_sha256(void)
{
	(void)pthread_once(&sha256_once, sha256_fetch);
	return sha256_md != NULL ? sha256_md : EVP_sha256();
}

void
crypto_sha256(const void *buf, size_t len, uint8_t ret[SHA256_LEN])
{
	/*
	 * EVP_Digest fails only when out of memory.  The void signature leaves
	 * no way to say so: the output is then all zeros (never left holding
	 * stale bytes) and the failure is logged at debug.
	 */
	if (EVP_Digest(buf != NULL ? buf : (const void *)empty_msg, len, ret, NULL,
		crypto_md_sha256(), NULL) != 1) {
		memset(ret, 0, SHA256_LEN);
		crypto_err(SG_ERR_CRYPTO);
		log_debug("SHA-256 failed");
	}
}

/* Seconds from the epoch to t. */
static int
asn1_time_epoch(const ASN1_TIME *t, int64_t *ret)
{
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days = 0, secs = 0, ok;

	if (epoch == NULL)
		return SG_ERR_ALLOC;
	ok = t != NULL && ASN1_TIME_diff(&days, &secs, epoch, t) == 1;
	ASN1_TIME_free(epoch);
	if (!ok)
		return SG_ERR_CRYPTO;
	*ret = (int64_t)days * 86400 + secs;
	return 0;
}

int
crypto_cert_validity(const X509 *cert, int64_t *ret_not_before, int64_t *ret_not_after)
{
	int64_t nb = 0, na = 0;

	if (cert == NULL || asn1_time_epoch(X509_get0_notBefore(cert), &nb) != 0 ||
	    asn1_time_epoch(X509_get0_notAfter(cert), &na) != 0) {
		ERR_clear_error();
		return SG_ERR_CRYPTO;
	}
	*ret_not_before = nb;
	*ret_not_after = na;
	return 0;
}
