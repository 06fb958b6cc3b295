/*
 * test_hsm.c — hsm.h against a real SoftHSMv2 token.
 *
 * main() builds everything the tests need before any test runs: a SoftHSM
 * token in a temp directory (softhsm.h), keys generated with pkcs11-tool
 * (good ones, and every kind hsm_open() must refuse) and three PIN files.
 * Check then runs each test in its own child process; the children inherit
 * the environment, so each loads SoftHSM afresh.  A missing tool is a
 * failure, never a skip.  The directory is removed on every exit of main().
 * The test PIN is passed to the tools on their command line (it protects
 * nothing) and never printed.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "hsm.h"
#include "p11.h"
#include "softhsm.h"
#include "testlib.h"

int main(void);

#ifndef SIGNER_PATH
#error "SIGNER_PATH: the signet-signer in the build tree (tests/unit/meson.build)"
#endif
#define TOKEN            "signet-test"
#define TEST_PIN         "1234"
#define WRONG_PIN        "9999"
#define TEST_TIMEOUT_S   120
#define THREADS          6
#define SIGNS_PER_THREAD 20

static struct softhsm token;          /* its pin_file: "1234", 0600 */
static char wrong_pin_path[PATH_MAX]; /* "9999", 0600 */
static char open_pin_path[PATH_MAX];  /* "1234", 0644 */
static char missing_pin_path[PATH_MAX];
static char crlf_pin_path[PATH_MAX];  /* "1234\r" (and the newline) */
static char blank_pin_path[PATH_MAX]; /* "1234 " */
/* Always NULL here: in-process (see main()). */
static const char *signer_path;

/* ---- setup, in the parent ---- */

static int
keygen(const char *type, const char *id, const char *label, int extractable)
{
	return softhsm_keygen(&token, type, id, label, extractable);
}

static int
delete_pubkey(const char *id)
{
	const char *args[] = { "--delete-object", "--type", "pubkey", "--id", id, NULL };

	return softhsm_tool(&token, args);
}

/* Replaces the public key object of key `id` by the public key of `from`. */
static int
mispair(const char *id, const char *label, const char *from)
{
	char der[PATH_MAX];
	const char *read_pub[] = { "--read-object", "--type", "pubkey", "--id", from, "-o", der,
		NULL };
	const char *write_pub[] = { "--write-object", der, "--type", "pubkey", "--id", id,
		"--label", label, NULL };

	snprintf(der, sizeof(der), "%s/pub-%s.der", token.dir, from);
	if (softhsm_tool(&token, read_pub) != 0 || delete_pubkey(id) != 0)
		return -1;
	return softhsm_tool(&token, write_pub);
}

static int
setup(void)
{
	if (softhsm_init(&token, "signet-test-hsm", TOKEN, TEST_PIN) != 0 ||
	    softhsm_pin_file(&token, "wrong-pin", WRONG_PIN, 0600, wrong_pin_path) != 0 ||
	    softhsm_pin_file(&token, "open-pin", TEST_PIN, 0644, open_pin_path) != 0 ||
	    softhsm_pin_file(&token, "crlf-pin", TEST_PIN "\r", 0600, crlf_pin_path) != 0 ||
	    softhsm_pin_file(&token, "blank-pin", TEST_PIN " ", 0600, blank_pin_path) != 0)
		return -1;
	snprintf(missing_pin_path, sizeof(missing_pin_path), "%s/no-such-pin", token.dir);
	/* Good keys. */
	if (keygen("EC:prime256v1", "01", "ec-key", 0) != 0 ||
	    keygen("rsa:3072", "02", "rsa-key", 0) != 0)
		return -1;
	/* Keys hsm_open() must refuse, or handle specially. */
	if (keygen("EC:prime256v1", "03", "ext-key", 1) != 0 ||
	    keygen("rsa:1024", "04", "rsa-small", 0) != 0 ||
	    keygen("EC:prime256v1", "05", "dup", 0) != 0 ||
	    keygen("EC:prime256v1", "06", "dup", 0) != 0 ||
	    keygen("rsa:2048", "07", "rsa-nopub", 0) != 0 || delete_pubkey("07") != 0 ||
	    keygen("EC:prime256v1", "08", "ec-nopub", 0) != 0 || delete_pubkey("08") != 0 ||
	    keygen("EC:prime256v1", "09", "ec-mix", 0) != 0 || mispair("09", "ec-mix", "01") != 0 ||
	    keygen("rsa:2048", "0a", "rsa-mix", 0) != 0 || mispair("0a", "rsa-mix", "02") != 0)
		return -1;
	return 0;
}

/* ---- helpers for the tests ---- */

static struct hsm_config
config(const struct hsm_key_spec *keys, size_t nkeys)
{
	struct hsm_config cfg = {
		.module = SOFTHSM_MODULE,
		.token = TOKEN,
		.pin_file = token.pin_file,
		.sessions = 2,
		.keys = keys,
		.nkeys = nkeys,
		.signer = signer_path,
	};
	return cfg;
}

static struct hsm *
open_ok(const struct hsm_config *cfg)
{
	struct hsm *h = NULL;
	char err[256] = "";
	int r = hsm_open(cfg, &h, err, sizeof(err));

	ck_assert_msg(r == 0, "hsm_open: %d: %s", r, err);
	ck_assert_ptr_nonnull(h);
	return h;
}

/* hsm_open() must fail with `want`, leave *ret alone and give a reason
 * containing `needle` (if not NULL) and never a PIN. */
static void
open_refused(const struct hsm_config *cfg, int want, const char *needle)
{
	struct hsm *sentinel = (struct hsm *)(uintptr_t)0x1;
	struct hsm *h = sentinel;
	char err[512];
	int r;

	memset(err, 'x', sizeof(err));
	r = hsm_open(cfg, &h, err, sizeof(err));
	ck_assert_msg(r == want, "hsm_open: got %d, want %d: %s", r, want, r < 0 ? err : "");
	ck_assert_ptr_eq(h, sentinel);
	ck_assert_msg(memchr(err, '\0', sizeof(err)) != NULL, "reason not terminated");
	ck_assert_msg(err[0] != '\0', "no reason given");
	if (needle != NULL)
		ck_assert_msg(
		    strstr(err, needle) != NULL, "reason \"%s\" lacks \"%s\"", err, needle);
	ck_assert_msg(strstr(err, TEST_PIN) == NULL && strstr(err, WRONG_PIN) == NULL,
	    "reason has a PIN: %s", err);
}

static void
open_key_refused(const char *uri, enum sg_mech mech, int want, const char *needle)
{
	struct hsm_key_spec spec = { "the-key", uri, mech, 0 };
	struct hsm_config cfg = config(&spec, 1);

	open_refused(&cfg, want, needle);
}

/* Verifies sig over digest with pub per SPEC §4; 1 if valid. */
static int
verify(EVP_PKEY *pub, enum sg_mech mech, const uint8_t *digest, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	int ok;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	if (mech == SG_MECH_RSA_PKCS1_SHA256) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	} else if (mech == SG_MECH_RSA_PSS_SHA256) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32), 1);
	}
	ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, SHA256_LEN);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1;
}

static void
random_digest(uint8_t digest[SHA256_LEN])
{
	ck_assert_int_eq(RAND_bytes(digest, SHA256_LEN), 1);
}

/* Signs a random digest with key i and checks the result fully. */
static void
sign_and_verify(struct hsm *h, size_t i, enum sg_mech mech, EVP_PKEY *pub)
{
	uint8_t digest[SHA256_LEN], sig[HSM_SIG_MAX];
	size_t sig_len = 0;
	int r;

	random_digest(digest);
	r = hsm_sign(h, i, digest, sizeof(digest), sig, &sig_len);
	ck_assert_msg(r == 0, "hsm_sign(key %zu): %d", i, r);
	ck_assert_uint_gt(sig_len, 0);
	ck_assert_uint_le(sig_len, HSM_SIG_MAX);
	ck_assert_msg(
	    verify(pub, mech, digest, sig, sig_len), "key %zu: signature does not verify", i);
	/* The check could fail: another digest, or a flipped bit. */
	digest[0] ^= 1;
	ck_assert(!verify(pub, mech, digest, sig, sig_len));
	digest[0] ^= 1;
	sig[sig_len / 2] ^= 0x10;
	ck_assert(!verify(pub, mech, digest, sig, sig_len));
}

/* ---- tests ---- */

static const struct hsm_key_spec good_keys[] = {
	{ "ec", "pkcs11:object=ec-key", SG_MECH_ECDSA_SHA256, 0 },
	{ "rsa-pkcs1", "pkcs11:object=rsa-key", SG_MECH_RSA_PKCS1_SHA256, 0 },
	{ "rsa-pss", "pkcs11:id=%02", SG_MECH_RSA_PSS_SHA256, 0 },
	{ "attest", "pkcs11:token=signet-test;object=ec-key;id=%01;type=private",
	    SG_MECH_ECDSA_SHA256, 0 },
};

START_TEST(test_sign_every_mechanism)
{
	struct hsm_config cfg = config(good_keys, nitems(good_keys));
	struct hsm *h = open_ok(&cfg);
	size_t i;
	int n;

	for (i = 0; i < nitems(good_keys); i++) {
		EVP_PKEY *pub = NULL;

		ck_assert_int_eq(hsm_public_key(h, i, &pub), 0);
		ck_assert_ptr_nonnull(pub);
		for (n = 0; n < 3; n++)
			sign_and_verify(h, i, good_keys[i].mech, pub);
		EVP_PKEY_free(pub);
	}
	hsm_close(h);
}
END_TEST

START_TEST(test_public_keys)
{
	struct hsm_config cfg = config(good_keys, nitems(good_keys));
	struct hsm *h = open_ok(&cfg);
	EVP_PKEY *ec = NULL, *rsa = NULL, *attest = NULL;
	char group[64] = "";
	size_t group_len = 0;

	ck_assert_int_eq(hsm_public_key(h, 0, &ec), 0);
	ck_assert_int_eq(hsm_public_key(h, 1, &rsa), 0);
	ck_assert_int_eq(hsm_public_key(h, 3, &attest), 0);
	ck_assert(EVP_PKEY_is_a(ec, "EC"));
	ck_assert_int_eq(EVP_PKEY_get_utf8_string_param(
			     ec, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &group_len),
	    1);
	ck_assert_str_eq(group, "prime256v1");
	ck_assert(EVP_PKEY_is_a(rsa, "RSA"));
	ck_assert_int_eq(EVP_PKEY_get_bits(rsa), 3072);
	/* The same token key through two URIs is the same public key. */
	ck_assert_int_eq(EVP_PKEY_eq(ec, attest), 1);
	ck_assert_int_ne(EVP_PKEY_eq(ec, rsa), 1);
	hsm_close(h);
	/* The caller's reference outlives the HSM. */
	ck_assert_int_eq(EVP_PKEY_get_bits(ec), 256);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(attest);
}
END_TEST

START_TEST(test_ecdsa_der)
{
	struct hsm_config cfg = config(good_keys, 1);
	struct hsm *h = open_ok(&cfg);
	uint8_t digest[SHA256_LEN], sig[HSM_SIG_MAX], again[HSM_SIG_MAX];
	const unsigned char *p;
	unsigned char *q = again;
	ECDSA_SIG *es;
	size_t sig_len = 0;
	int n;

	for (n = 0; n < 20; n++) {
		random_digest(digest);
		ck_assert_int_eq(hsm_sign(h, 0, digest, sizeof(digest), sig, &sig_len), 0);
		ck_assert_uint_le(sig_len, 72);
		ck_assert_uint_eq(sig[0], 0x30);
		p = sig;
		es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
		ck_assert_ptr_nonnull(es);
		ck_assert_ptr_eq(p, sig + sig_len);
		/* Canonical DER: re-encoding gives the same bytes. */
		q = again;
		ck_assert_int_eq(i2d_ECDSA_SIG(es, &q), (int)sig_len);
		ck_assert(memcmp(sig, again, sig_len) == 0);
		ECDSA_SIG_free(es);
	}
	hsm_close(h);
}
END_TEST

START_TEST(test_rsa_shapes)
{
	struct hsm_config cfg = config(good_keys, 3);
	struct hsm *h = open_ok(&cfg);
	uint8_t digest[SHA256_LEN], s1[HSM_SIG_MAX], s2[HSM_SIG_MAX];
	size_t l1 = 0, l2 = 0;

	random_digest(digest);
	/* PKCS#1 v1.5 is deterministic; PSS is salted. */
	ck_assert_int_eq(hsm_sign(h, 1, digest, sizeof(digest), s1, &l1), 0);
	ck_assert_int_eq(hsm_sign(h, 1, digest, sizeof(digest), s2, &l2), 0);
	ck_assert_uint_eq(l1, 384);
	ck_assert_uint_eq(l2, 384);
	ck_assert(memcmp(s1, s2, l1) == 0);
	ck_assert_int_eq(hsm_sign(h, 2, digest, sizeof(digest), s1, &l1), 0);
	ck_assert_int_eq(hsm_sign(h, 2, digest, sizeof(digest), s2, &l2), 0);
	ck_assert_uint_eq(l1, 384);
	ck_assert_uint_eq(l2, 384);
	ck_assert(memcmp(s1, s2, l1) != 0);
	hsm_close(h);
}
END_TEST

START_TEST(test_sign_refuses_digest_length)
{
	static const size_t lens[] = { 0, 1, SHA256_LEN - 1, SHA256_LEN + 1, 48, 64 };
	struct hsm_config cfg = config(good_keys, nitems(good_keys));
	struct hsm *h = open_ok(&cfg);
	uint8_t digest[128], sig[HSM_SIG_MAX];
	size_t i, k, sig_len;

	memset(digest, 0x42, sizeof(digest));
	for (k = 0; k < nitems(good_keys); k++) {
		for (i = 0; i < nitems(lens); i++) {
			memset(sig, 0xaa, sizeof(sig));
			sig_len = 777;
			ck_assert_int_eq(hsm_sign(h, k, digest, lens[i], sig, &sig_len),
			    SG_ERR_INVALID_ARGUMENT);
			ck_assert_uint_eq(sig_len, 777);
			ck_assert_uint_eq(sig[0], 0xaa);
		}
	}
	hsm_close(h);
}
END_TEST

START_TEST(test_sign_refuses_bad_index)
{
	static const size_t idx[] = { nitems(good_keys), nitems(good_keys) + 1, SIZE_MAX };
	struct hsm_config cfg = config(good_keys, nitems(good_keys));
	struct hsm *h = open_ok(&cfg);
	uint8_t digest[SHA256_LEN] = { 1 }, sig[HSM_SIG_MAX];
	EVP_PKEY *sentinel = (EVP_PKEY *)(uintptr_t)0x1, *pub;
	size_t i, sig_len;

	for (i = 0; i < nitems(idx); i++) {
		sig_len = 777;
		ck_assert_int_eq(hsm_sign(h, idx[i], digest, sizeof(digest), sig, &sig_len),
		    SG_ERR_INVALID_ARGUMENT);
		ck_assert_uint_eq(sig_len, 777);
		pub = sentinel;
		ck_assert_int_eq(hsm_public_key(h, idx[i], &pub), SG_ERR_INVALID_ARGUMENT);
		ck_assert_ptr_eq(pub, sentinel);
	}
	/* The last valid index works. */
	ck_assert_int_eq(
	    hsm_sign(h, nitems(good_keys) - 1, digest, sizeof(digest), sig, &sig_len), 0);
	hsm_close(h);
}
END_TEST

START_TEST(test_sign_refuses_null)
{
	struct hsm_config cfg = config(good_keys, 1);
	struct hsm *h = open_ok(&cfg);
	uint8_t digest[SHA256_LEN] = { 1 }, sig[HSM_SIG_MAX];
	size_t sig_len = 777;

	ck_assert_int_eq(
	    hsm_sign(NULL, 0, digest, sizeof(digest), sig, &sig_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    hsm_sign(h, 0, NULL, sizeof(digest), sig, &sig_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    hsm_sign(h, 0, digest, sizeof(digest), NULL, &sig_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    hsm_sign(h, 0, digest, sizeof(digest), sig, NULL), SG_ERR_INVALID_ARGUMENT);
	ck_assert_uint_eq(sig_len, 777);
	ck_assert_int_eq(hsm_public_key(NULL, 0, NULL), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(hsm_public_key(h, 0, NULL), SG_ERR_INVALID_ARGUMENT);
	hsm_close(h);
}
END_TEST

START_TEST(test_no_keys)
{
	struct hsm_config cfg = config(NULL, 0);
	struct hsm *h = open_ok(&cfg);
	uint8_t digest[SHA256_LEN] = { 1 }, sig[HSM_SIG_MAX];
	size_t sig_len = 777;

	ck_assert_int_eq(
	    hsm_sign(h, 0, digest, sizeof(digest), sig, &sig_len), SG_ERR_INVALID_ARGUMENT);
	hsm_close(h);
}
END_TEST

START_TEST(test_open_wrong_pin)
{
	struct hsm_config cfg = config(good_keys, 1);

	cfg.pin_file = wrong_pin_path;
	open_refused(&cfg, SG_ERR_HSM_UNAVAILABLE, "CKR_PIN_INCORRECT");
}
END_TEST

START_TEST(test_open_pin_crlf_blank)
{
	struct hsm_config cfg = config(good_keys, 1);

	/* Refused before C_Login: the reason says so. */
	cfg.pin_file = crlf_pin_path;
	open_refused(&cfg, SG_ERR_CONFIG, "carriage return");
	cfg.pin_file = blank_pin_path;
	open_refused(&cfg, SG_ERR_CONFIG, "not tried");
}
END_TEST

START_TEST(test_open_pin_file_open_to_others)
{
	struct hsm_config cfg = config(good_keys, 1);

	cfg.pin_file = open_pin_path;
	open_refused(&cfg, SG_ERR_SECRET_FILE, open_pin_path);
}
END_TEST

START_TEST(test_open_pin_file_missing)
{
	struct hsm_config cfg = config(good_keys, 1);

	cfg.pin_file = missing_pin_path;
	open_refused(&cfg, SG_ERR_NOT_FOUND, missing_pin_path);
}
END_TEST

START_TEST(test_open_missing_key)
{
	open_key_refused("pkcs11:object=no-such-key", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG,
	    "the-key: no private key matches pkcs11:object=no-such-key");
	open_key_refused(
	    "pkcs11:object=ec-key;id=%02", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG, "no private key");
}
END_TEST

START_TEST(test_open_ambiguous_key)
{
	open_key_refused(
	    "pkcs11:object=dup", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG, "more than one private key");
}
END_TEST

START_TEST(test_open_ambiguous_key_resolved_by_id)
{
	static const struct hsm_key_spec spec[] = { { "dup6", "pkcs11:object=dup;id=%06",
	    SG_MECH_ECDSA_SHA256, 0 } };
	struct hsm_config cfg = config(spec, 1);
	struct hsm *h = open_ok(&cfg);
	EVP_PKEY *pub = NULL;

	ck_assert_int_eq(hsm_public_key(h, 0, &pub), 0);
	sign_and_verify(h, 0, SG_MECH_ECDSA_SHA256, pub);
	EVP_PKEY_free(pub);
	hsm_close(h);
}
END_TEST

/* The attestation key: the mechanism follows the key's type. */
START_TEST(test_mech_from_key)
{
	static const struct hsm_key_spec spec[] = {
		{ "attest-ec", "pkcs11:object=ec-key", (enum sg_mech)42, 1 },
		{ "attest-rsa", "pkcs11:object=rsa-key", SG_MECH_RSA_PKCS1_SHA256, 1 },
	};
	struct hsm_config cfg = config(spec, nitems(spec));
	struct hsm *h = open_ok(&cfg);
	EVP_PKEY *ec = NULL, *rsa = NULL;
	uint8_t digest[SHA256_LEN], sig[HSM_SIG_MAX];
	size_t sig_len = 0;

	ck_assert_int_eq(hsm_public_key(h, 0, &ec), 0);
	ck_assert_int_eq(hsm_public_key(h, 1, &rsa), 0);
	sign_and_verify(h, 0, SG_MECH_ECDSA_SHA256, ec);
	sign_and_verify(h, 1, SG_MECH_RSA_PSS_SHA256, rsa);
	/* RSA-PSS, not the PKCS#1 v1.5 that mech said. */
	random_digest(digest);
	ck_assert_int_eq(hsm_sign(h, 1, digest, sizeof(digest), sig, &sig_len), 0);
	ck_assert(!verify(rsa, SG_MECH_RSA_PKCS1_SHA256, digest, sig, sig_len));
	ck_assert(verify(rsa, SG_MECH_RSA_PSS_SHA256, digest, sig, sig_len));
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	hsm_close(h);
}
END_TEST

START_TEST(test_open_extractable_key)
{
	open_key_refused(
	    "pkcs11:object=ext-key", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG, "extractable");
}
END_TEST

START_TEST(test_open_wrong_key_type)
{
	open_key_refused(
	    "pkcs11:object=ec-key", SG_MECH_RSA_PKCS1_SHA256, SG_ERR_CONFIG, "not an RSA key");
	open_key_refused(
	    "pkcs11:object=ec-key", SG_MECH_RSA_PSS_SHA256, SG_ERR_CONFIG, "not an RSA key");
	open_key_refused(
	    "pkcs11:object=rsa-key", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG, "not an EC key");
	open_key_refused(
	    "pkcs11:object=ec-key", (enum sg_mech)42, SG_ERR_CONFIG, "unknown mechanism");
}
END_TEST

START_TEST(test_open_rsa_too_small)
{
	open_key_refused(
	    "pkcs11:object=rsa-small", SG_MECH_RSA_PSS_SHA256, SG_ERR_CONFIG, "1024 bits");
}
END_TEST

START_TEST(test_open_uri_rules)
{
	open_key_refused("pkcs11:token=other;object=ec-key", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG,
	    "token \"other\"");
	open_key_refused("pkcs11:object=ec-key;type=public", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG,
	    "not a private key");
	open_key_refused("pkcs11:token=signet-test", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG,
	    "neither object= nor id=");
	open_key_refused("pkcs11:object=ec-key?pin-value=1", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG,
	    "invalid PKCS#11 URI");
	open_key_refused(
	    "object=ec-key", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG, "invalid PKCS#11 URI");
	open_key_refused(NULL, SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG, "no PKCS#11 URI");
}
END_TEST

START_TEST(test_open_rsa_without_public_object)
{
	static const struct hsm_key_spec spec[] = { { "nopub", "pkcs11:object=rsa-nopub",
	    SG_MECH_RSA_PSS_SHA256, 0 } };
	struct hsm_config cfg = config(spec, 1);
	struct hsm *h = open_ok(&cfg);
	EVP_PKEY *pub = NULL;

	ck_assert_int_eq(hsm_public_key(h, 0, &pub), 0);
	ck_assert_int_eq(EVP_PKEY_get_bits(pub), 2048);
	sign_and_verify(h, 0, SG_MECH_RSA_PSS_SHA256, pub);
	EVP_PKEY_free(pub);
	hsm_close(h);
}
END_TEST

START_TEST(test_open_ec_without_public_object)
{
	open_key_refused(
	    "pkcs11:object=ec-nopub", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG, "no public key object");
}
END_TEST

START_TEST(test_open_mispaired_public_object)
{
	open_key_refused(
	    "pkcs11:object=ec-mix", SG_MECH_ECDSA_SHA256, SG_ERR_CONFIG, "does not verify");
	open_key_refused(
	    "pkcs11:object=rsa-mix", SG_MECH_RSA_PKCS1_SHA256, SG_ERR_CONFIG, "another modulus");
}
END_TEST

START_TEST(test_open_refuses_one_bad_key_among_good)
{
	struct hsm_key_spec spec[nitems(good_keys) + 1];
	struct hsm_config cfg;

	memcpy(spec, good_keys, sizeof(good_keys));
	spec[nitems(good_keys)] =
	    (struct hsm_key_spec){ "bad", "pkcs11:object=ext-key", SG_MECH_ECDSA_SHA256, 0 };
	cfg = config(spec, nitems(spec));
	open_refused(&cfg, SG_ERR_CONFIG, "key bad (pkcs11:object=ext-key) is extractable");
}
END_TEST

START_TEST(test_open_module_and_token)
{
	struct hsm_config cfg = config(good_keys, 1);
	Dl_info info;

	cfg.token = "no-such-token";
	open_refused(&cfg, SG_ERR_HSM_UNAVAILABLE, "no token labelled \"no-such-token\"");
	cfg.token = "a-token-label-longer-than-32-bytes";
	open_refused(&cfg, SG_ERR_CONFIG, "not 1 to 32 bytes");
	cfg.token = TOKEN;

	cfg.module = "libsofthsm2.so";
	open_refused(&cfg, SG_ERR_CONFIG, "not absolute");
	cfg.module = "softhsm/../libsofthsm2.so";
	open_refused(&cfg, SG_ERR_CONFIG, "not absolute");
	cfg.module = "/nonexistent/libpkcs11.so";
	open_refused(&cfg, SG_ERR_HSM_UNAVAILABLE, "cannot load");
	/* A shared object that is not a PKCS#11 module: the C library. */
	ck_assert(dladdr((void *)(uintptr_t)&strlen, &info) != 0 && info.dli_fname != NULL);
	ck_assert(info.dli_fname[0] == '/');
	cfg.module = info.dli_fname;
	open_refused(&cfg, SG_ERR_HSM_UNAVAILABLE, "C_GetFunctionList");
}
END_TEST

START_TEST(test_open_sessions_range)
{
	struct hsm_config cfg = config(good_keys, 1);
	struct hsm *h;

	cfg.sessions = 0;
	open_refused(&cfg, SG_ERR_CONFIG, "sessions");
	cfg.sessions = HSM_SESSIONS_MAX + 1;
	open_refused(&cfg, SG_ERR_CONFIG, "sessions");
	cfg.sessions = HSM_SESSIONS_MAX;
	h = open_ok(&cfg);
	hsm_close(h);
	cfg.sessions = 1;
	h = open_ok(&cfg);
	hsm_close(h);
}
END_TEST

START_TEST(test_open_refuses_null)
{
	struct hsm_config cfg = config(good_keys, 1);
	struct hsm *h = NULL;

	ck_assert_int_eq(hsm_open(NULL, &h, NULL, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(hsm_open(&cfg, NULL, NULL, 0), SG_ERR_INVALID_ARGUMENT);
	cfg.keys = NULL;
	open_refused(&cfg, SG_ERR_INVALID_ARGUMENT, NULL);
	cfg = config(good_keys, 1);
	cfg.pin_file = NULL;
	open_refused(&cfg, SG_ERR_INVALID_ARGUMENT, NULL);
	ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_open_without_errbuf)
{
	struct hsm_config cfg = config(good_keys, 1);
	struct hsm *h = NULL;

	cfg.pin_file = wrong_pin_path;
	ck_assert_int_eq(hsm_open(&cfg, &h, NULL, 0), SG_ERR_HSM_UNAVAILABLE);
	ck_assert_ptr_null(h);
}
END_TEST

/* A second handle in the same process finds the module initialized and the
 * user logged in; closing it must not finalize or log out the first. */
START_TEST(test_two_handles)
{
	struct hsm_config cfg = config(good_keys, nitems(good_keys));
	struct hsm *h1 = open_ok(&cfg), *h2 = open_ok(&cfg);
	EVP_PKEY *pub = NULL;

	ck_assert_int_eq(hsm_public_key(h1, 1, &pub), 0);
	sign_and_verify(h2, 1, SG_MECH_RSA_PKCS1_SHA256, pub);
	hsm_close(h2);
	sign_and_verify(h1, 1, SG_MECH_RSA_PKCS1_SHA256, pub);
	hsm_close(h1);
	EVP_PKEY_free(pub);
	/* And a fresh open after both are gone works. */
	h1 = open_ok(&cfg);
	hsm_close(h1);
}
END_TEST

struct worker {
	struct hsm *h;
	EVP_PKEY *pubs[nitems(good_keys)];
	unsigned seed;
	int ok;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t digest[SHA256_LEN], sig[HSM_SIG_MAX];
	size_t sig_len, k;
	int n;

	w->ok = 0;
	for (n = 0; n < SIGNS_PER_THREAD; n++) {
		k = (w->seed + (unsigned)n) % nitems(good_keys);
		if (RAND_bytes(digest, sizeof(digest)) != 1)
			return NULL;
		if (hsm_sign(w->h, k, digest, sizeof(digest), sig, &sig_len) != 0)
			return NULL;
		if (!verify(w->pubs[k], good_keys[k].mech, digest, sig, sig_len))
			return NULL;
	}
	w->ok = 1;
	return NULL;
}

START_TEST(test_concurrent_signing)
{
	struct hsm_config cfg = config(good_keys, nitems(good_keys));
	struct hsm *h = open_ok(&cfg);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	size_t i, k;

	ck_assert_uint_eq(cfg.sessions, 2);
	for (i = 0; i < THREADS; i++) {
		w[i].h = h;
		w[i].seed = (unsigned)i;
		w[i].ok = 0;
		for (k = 0; k < nitems(good_keys); k++)
			ck_assert_int_eq(hsm_public_key(h, k, &w[i].pubs[k]), 0);
	}
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (i = 0; i < THREADS; i++) {
		ck_assert_msg(w[i].ok, "worker %zu failed", i);
		for (k = 0; k < nitems(good_keys); k++)
			EVP_PKEY_free(w[i].pubs[k]);
	}
	hsm_close(h);
}
END_TEST

START_TEST(test_close_null)
{
	hsm_close(NULL);
}
END_TEST

START_TEST(test_rv_names)
{
	char buf[32];

	ck_assert_str_eq(hsm_rv_name(0x0, buf), "CKR_OK");
	ck_assert_str_eq(hsm_rv_name(0xa0, buf), "CKR_PIN_INCORRECT");
	ck_assert_str_eq(hsm_rv_name(0x32, buf), "CKR_DEVICE_REMOVED");
	ck_assert_str_eq(hsm_rv_name(0x1b, buf), "CKR_ACTION_PROHIBITED");
	ck_assert_str_eq(hsm_rv_name(0x200, buf), "CKR_FUNCTION_REJECTED");
	ck_assert_str_eq(hsm_rv_name(0x80000000UL, buf), "CKR_VENDOR_DEFINED");
	ck_assert_ptr_eq(hsm_rv_name(0x12345, buf), buf);
	ck_assert_str_eq(buf, "CKR_0x12345");
	ck_assert_str_eq(hsm_rv_name(0x80000001UL, buf), "CKR_0x80000001");
	ck_assert_str_eq(hsm_rv_name(ULONG_MAX, buf),
	    ULONG_MAX == 0xffffffffffffffffUL ? "CKR_0xffffffffffffffff" : "CKR_0xffffffff");
}
END_TEST

START_TEST(test_rv_errors)
{
	static const unsigned long unavailable[] = { 0x30, 0x32, 0xe0, 0xb3, 0xb0, 0x101, 0x190 };
	static const unsigned long failed[] = { 0x05, 0x06, 0x21, 0x60, 0x68, 0x70, 0x71, 0x90,
		0xa0, 0x150 };
	size_t i;

	ck_assert_int_eq(hsm_rv_error(0), 0);
	for (i = 0; i < nitems(unavailable); i++)
		ck_assert_int_eq(hsm_rv_error(unavailable[i]), SG_ERR_HSM_UNAVAILABLE);
	for (i = 0; i < nitems(failed); i++)
		ck_assert_int_eq(hsm_rv_error(failed[i]), SG_ERR_HSM_SIGN_FAILED);
}
END_TEST

/*
 * Each test runs in-process (p11.h).  Through signet-signer the same
 * p11_open() runs on the signer's side with the keys of its own
 * configuration file; tests/unit/test_hsm_signer.c covers that path (key
 * list, refusals with their reasons, journal, restarts).
 */
int
main(void)
{
	Suite *s = suite_create("hsm");
	int status;

	if (setup() != 0) {
		fprintf(stderr,
		    "test_hsm: cannot set up the SoftHSM token (softhsm2-util and pkcs11-tool "
		    "needed)\n");
		softhsm_cleanup(&token);
		return EXIT_FAILURE;
	}

	test_add(s, "/hsm/sign/every-mechanism", test_sign_every_mechanism, TEST_TIMEOUT_S);
	test_add(s, "/hsm/sign/ecdsa-canonical-der", test_ecdsa_der, TEST_TIMEOUT_S);
	test_add(s, "/hsm/sign/rsa-shapes", test_rsa_shapes, TEST_TIMEOUT_S);
	test_add(
	    s, "/hsm/sign/rejects-digest-length", test_sign_refuses_digest_length, TEST_TIMEOUT_S);
	test_add(s, "/hsm/sign/rejects-bad-index", test_sign_refuses_bad_index, TEST_TIMEOUT_S);
	test_add(s, "/hsm/sign/rejects-null", test_sign_refuses_null, TEST_TIMEOUT_S);
	test_add(s, "/hsm/sign/concurrent", test_concurrent_signing, TEST_TIMEOUT_S);
	test_add(s, "/hsm/public-key/types", test_public_keys, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/no-keys", test_no_keys, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/wrong-pin", test_open_wrong_pin, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/pin-crlf-blank", test_open_pin_crlf_blank, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/pin-file-open-to-others", test_open_pin_file_open_to_others,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/pin-file-missing", test_open_pin_file_missing, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/missing-key", test_open_missing_key, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/ambiguous-key", test_open_ambiguous_key, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/ambiguous-label-resolved-by-id",
	    test_open_ambiguous_key_resolved_by_id, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/mech-from-key", test_mech_from_key, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/extractable-key", test_open_extractable_key, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/wrong-key-type", test_open_wrong_key_type, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/rsa-too-small", test_open_rsa_too_small, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/uri-rules", test_open_uri_rules, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/rsa-without-public-object", test_open_rsa_without_public_object,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/ec-without-public-object", test_open_ec_without_public_object,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/mispaired-public-object", test_open_mispaired_public_object,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/one-bad-key-among-good", test_open_refuses_one_bad_key_among_good,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/module-and-token", test_open_module_and_token, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/sessions-range", test_open_sessions_range, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/rejects-null", test_open_refuses_null, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/without-errbuf", test_open_without_errbuf, TEST_TIMEOUT_S);
	test_add(s, "/hsm/open/two-handles", test_two_handles, TEST_TIMEOUT_S);
	test_add(s, "/hsm/close/null", test_close_null, TEST_TIMEOUT_S);
	test_add(s, "/hsm/rv/names", test_rv_names, TEST_TIMEOUT_S);
	test_add(s, "/hsm/rv/errors", test_rv_errors, TEST_TIMEOUT_S);

	status = test_run(s);
	softhsm_cleanup(&token);
	return status;
}
