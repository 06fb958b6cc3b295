/*
 * Unit tests for common/openpgp.c: the open SHA-256 state against EVP,
 * the three canonical forms, keys, document signatures and certificates
 * made through a signing callback (software keys in tests/data/openpgp
 * standing in for the HSM), checked by our own verifier and by the
 * verifiers users run: gpgv and gpg (Debian package gnupg, gpgv) and sqv
 * (package sqv).  A missing tool fails the test.
 *
 * OPENPGP_WRITE_SEEDS=DIR makes /openpgp/fuzz-seeds write the fuzz seeds
 * that hold signatures into DIR (fuzz/corpus/openpgp); without it, that
 * test checks that the committed seeds still verify with the fixture keys.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "crypto.h"
#include "openpgp.h"
#include "testlib.h"
#include "util.h"

#define KEY_CREATED 1600000000 /* 2020-09-13 */
#define SIG_CREATED 1700000000 /* 2023-11-14 */
#define UID         "Signet Test <signet-test@example.com>"

/* What fuzz/fuzz_openpgp.c signs and checks; keep the two in step. */
#define SEED_TEXT "signet fuzz seed\n"

struct soft_signer {
	EVP_PKEY *key;
	enum sg_mech mech;
	int calls;
	int corrupt; /* flip a bit of the signature */
	int fail;    /* return this error */
	int garbage; /* return bytes that are no signature */
	int shorten; /* drop the last byte */
};

/* A fixture key with its OpenPGP identity and signer. */
struct fixture {
	struct soft_signer soft;
	struct openpgp_key key;
};

static uint8_t sentinel[1];

static int
soft_sign(void *arg, const uint8_t digest[SHA256_LEN], uint8_t *sig, size_t *ret_len)
{
	struct soft_signer *s = arg;
	EVP_PKEY_CTX *ctx;
	size_t len = PKCS7SIG_SIG_MAX;

	s->calls++;
	if (s->fail)
		return s->fail;
	if (s->garbage) {
		memset(sig, 0x30, 16);
		*ret_len = 16;
		return 0;
	}
	ctx = EVP_PKEY_CTX_new(s->key, NULL);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	if (s->mech == SG_MECH_RSA_PKCS1_SHA256)
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_sign(ctx, sig, &len, digest, SHA256_LEN), 1);
	EVP_PKEY_CTX_free(ctx);
	if (s->corrupt)
		sig[len - 3] ^= 0x01;
	if (s->shorten)
		len--;
	*ret_len = len;
	return 0;
}

static void
fixture_init(struct fixture *f, const char *name, enum sg_mech mech)
{
	char path[512];

	memset(f, 0, sizeof(*f));
	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/openpgp/%s.key", TEST_DATA_DIR, name),
	    (int)sizeof(path));
	ck_assert_int_eq(crypto_load_privkey(path, &f->soft.key), 0);
	f->soft.mech = mech;
	ck_assert_int_eq(openpgp_key_init(f->soft.key, mech, KEY_CREATED, &f->key), 0);
}

static void
fixture_free(struct fixture *f)
{
	openpgp_key_cleanup(&f->key);
	EVP_PKEY_free(f->soft.key);
}

/* The job state of data in canon, fed in pieces of `step` bytes (0: all
 * at once); sha gets the file's SHA-256 when not NULL. */
static void
hash_data(enum openpgp_canon canon, const void *data, size_t len, size_t step,
    struct sg_openpgp *st, uint8_t sha[SHA256_LEN])
{
	struct openpgp_hasher *h = openpgp_hasher_new(canon);
	const uint8_t *p = data;
	uint8_t dummy[SHA256_LEN];
	size_t n;

	ck_assert_ptr_nonnull(h);
	if (step == 0)
		step = len > 0 ? len : 1;
	for (size_t i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		ck_assert_int_eq(openpgp_hasher_update(h, p + i, n), 0);
	}
	ck_assert_int_eq(openpgp_hasher_final(h, st, sha != NULL ? sha : dummy), 0);
	openpgp_hasher_free(h);
}

static void
assert_same_state(const struct sg_openpgp *a, const struct sg_openpgp *b)
{
	ck_assert_int_eq(a->mode, b->mode);
	ck_assert_mem_eq(a->state, b->state, sizeof(a->state));
	ck_assert_uint_eq(a->blocks, b->blocks);
	ck_assert_uint_eq(a->tail_len, b->tail_len);
	ck_assert_mem_eq(a->tail, b->tail, a->tail_len);
}

/* Runs cmd (sh) with stdout and stderr into out; its exit status. */
static int __attribute__((format(printf, 3, 4))) run(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[4096], drain[256];
	va_list ap;
	FILE *p;
	size_t n;
	int st;

	va_start(ap, fmt);
	n = (size_t)vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
	va_end(ap);
	ck_assert_uint_lt(n, sizeof(cmd) - 8);
	strcat(cmd, " 2>&1");
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, outlen - 1, p);
	out[n] = 0;
	while (fread(drain, 1, sizeof(drain), p) > 0)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A temporary directory with a GNUPGHOME in it and the certificate of f
 * as dir/cert.gpg (binary: gpgv and sqv take it as a keyring). */
static char *
tool_dir(struct fixture *f)
{
	char *dir = test_tmpdir(), path[512];
	uint8_t *cert = NULL;
	size_t cert_len = 0;

	snprintf(path, sizeof(path), "%s/gnupg", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(setenv("GNUPGHOME", path, 1), 0);
	ck_assert_int_eq(
	    openpgp_cert(&f->key, UID, KEY_CREATED, soft_sign, &f->soft, &cert, &cert_len), 0);
	free(test_write_file(dir, "cert.gpg", cert, cert_len, 0600));
	free(cert);
	return dir;
}

static int
gpgv(const char *dir, const char *sig, const char *data, char *out, size_t outlen)
{
	if (data == NULL)
		return run(out, outlen, "gpgv --keyring %s/cert.gpg %s/%s", dir, dir, sig);
	return run(out, outlen, "gpgv --keyring %s/cert.gpg %s/%s %s/%s", dir, dir, sig, dir, data);
}

static int
sqv(const char *dir, const char *sig, const char *data, char *out, size_t outlen)
{
	return run(out, outlen, "sqv --keyring %s/cert.gpg %s/%s %s/%s", dir, dir, sig, dir, data);
}

/* Signs data (canon) with f and checks it with our verifier; *ret the
 * packet. */
static void
sign_data(struct fixture *f, enum openpgp_canon canon, const void *data, size_t len, uint8_t **ret,
    size_t *ret_len)
{
	struct sg_openpgp st;
	char why[OPENPGP_WHY_MAX];

	hash_data(canon, data, len, 0, &st, NULL);
	ck_assert_int_eq(
	    openpgp_sign_document(&f->key, &st, SIG_CREATED, soft_sign, &f->soft, ret, ret_len), 0);
	ck_assert_int_eq(openpgp_verify_document(*ret, *ret_len, f->key.pub, &st,
			     st.mode == SG_OPENPGP_TEXT ? OPENPGP_SIG_TEXT : OPENPGP_SIG_BINARY,
			     SIG_CREATED, why, sizeof(why)),
	    0);
}

static void
expect_good(int status, const char *out, const char *tool)
{
	ck_assert_msg(status == 0, "%s refused: %s", tool, out);
}

static void
expect_bad(int status, const char *out, const char *tool)
{
	ck_assert_msg(status != 0 && status != 127, "%s: status %d: %s", tool, status, out);
}

/* --- SHA-256 ----------------------------------------------------------- */

START_TEST(test_sha256_resume)
{
	uint8_t data[700], want[SHA256_LEN], got[SHA256_LEN], sha[SHA256_LEN];
	static const uint8_t more[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef!";
	struct sg_openpgp st;
	size_t len, extra, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	for (len = 0; len <= 200; len++) {
		for (extra = 0; extra <= 65; extra += 13) {
			uint8_t buf[300];

			hash_data(OPENPGP_CANON_BINARY, data, len, 17, &st, sha);
			ck_assert_uint_eq(st.blocks, len / 64);
			ck_assert_uint_eq(st.tail_len, len % 64);
			ck_assert_int_eq(st.mode, SG_OPENPGP_BINARY);
			crypto_sha256(data, len, want);
			ck_assert_mem_eq(sha, want, SHA256_LEN);
			memcpy(buf, data, len);
			memcpy(buf + len, more, extra);
			crypto_sha256(buf, len + extra, want);
			ck_assert_int_eq(openpgp_sha256_resume(&st, more, extra, got), 0);
			ck_assert_mem_eq(got, want, SHA256_LEN);
		}
	}
	/* A long input in odd pieces, and a long continuation. */
	hash_data(OPENPGP_CANON_BINARY, data, sizeof(data), 61, &st, sha);
	crypto_sha256(data, sizeof(data), want);
	ck_assert_mem_eq(sha, want, SHA256_LEN);
	ck_assert_int_eq(openpgp_sha256_resume(&st, NULL, 0, got), 0);
	ck_assert_mem_eq(got, want, SHA256_LEN);
	hash_data(OPENPGP_CANON_BINARY, data, 5, 0, &st, NULL);
	ck_assert_int_eq(openpgp_sha256_resume(&st, data + 5, sizeof(data) - 5, got), 0);
	ck_assert_mem_eq(got, want, SHA256_LEN);
}
END_TEST

START_TEST(test_sha256_resume_bounds)
{
	struct sg_openpgp st;
	uint8_t d[SHA256_LEN];

	hash_data(OPENPGP_CANON_BINARY, "abc", 3, 0, &st, NULL);
	st.blocks = ARTIFACT_SIZE_LIMIT / 64 - 1;
	ck_assert_int_eq(openpgp_sha256_resume(&st, NULL, 0, d), 0);
	st.blocks++;
	ck_assert_int_eq(openpgp_sha256_resume(&st, NULL, 0, d), SG_ERR_INVALID_ARGUMENT);
	st.blocks = 0;
	st.tail_len = OPENPGP_TAIL_MAX;
	ck_assert_int_eq(openpgp_sha256_resume(&st, NULL, 0, d), 0);
	st.tail_len = OPENPGP_TAIL_MAX + 1;
	ck_assert_int_eq(openpgp_sha256_resume(&st, NULL, 0, d), SG_ERR_INVALID_ARGUMENT);
	st.tail_len = 0;
	st.mode = (enum sg_openpgp_mode)2;
	ck_assert_int_eq(openpgp_sha256_resume(&st, NULL, 0, d), SG_ERR_INVALID_ARGUMENT);
	st.mode = SG_OPENPGP_BINARY;
	ck_assert_int_eq(openpgp_sha256_resume(NULL, NULL, 0, d), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_sha256_resume(&st, NULL, 1, d), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_sha256_resume(&st, NULL, 0, NULL), SG_ERR_INVALID_ARGUMENT);
}
END_TEST

/* --- canonical forms --------------------------------------------------- */

/* Input and what canon must hash for it. */
struct canon_case {
	const char *in, *want;
};

static void
check_canon(enum openpgp_canon canon, const struct canon_case *c, size_t n)
{
	struct sg_openpgp got, want, one;
	uint8_t sha[SHA256_LEN], file_sha[SHA256_LEN];

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(c[i].in);

		hash_data(OPENPGP_CANON_BINARY, c[i].want, strlen(c[i].want), 0, &want, NULL);
		want.mode = SG_OPENPGP_TEXT;
		hash_data(canon, c[i].in, len, 0, &got, sha);
		ck_assert_msg(got.tail_len == want.tail_len &&
			memcmp(got.tail, want.tail, got.tail_len) == 0 &&
			memcmp(got.state, want.state, sizeof(got.state)) == 0 &&
			got.blocks == want.blocks,
		    "case %zu: %s", i, c[i].in);
		assert_same_state(&got, &want);
		/* Fed one byte at a time: the same. */
		hash_data(canon, c[i].in, len, 1, &one, NULL);
		assert_same_state(&one, &want);
		/* The SHA-256 is the file's as given. */
		crypto_sha256(c[i].in, len, file_sha);
		ck_assert_mem_eq(sha, file_sha, SHA256_LEN);
	}
}

START_TEST(test_canon_text)
{
	static const struct canon_case c[] = {
		{ "", "" },
		{ "a", "a" },
		{ "a\n", "a\r\n" },
		{ "a\r\n", "a\r\n" },
		{ "a\nb\r\nc", "a\r\nb\r\nc" },
		{ "\n\n", "\r\n\r\n" },
		{ "a \t\n", "a \t\r\n" }, /* nothing is stripped */
		{ "a \t\r\n", "a \t\r\n" },
		{ "-- dash\n", "-- dash\r\n" },
	};
	struct sg_openpgp lf, crlf;
	char big_lf[3000], big_crlf[4000];
	size_t a = 0, b = 0;

	check_canon(OPENPGP_CANON_TEXT, c, nitems(c));
	/* Many lines across block boundaries: LF and CR LF files agree. */
	for (int i = 0; i < 300; i++) {
		a += (size_t)snprintf(big_lf + a, sizeof(big_lf) - a, "line %d\n", i % 97);
		b += (size_t)snprintf(big_crlf + b, sizeof(big_crlf) - b, "line %d\r\n", i % 97);
	}
	for (size_t step = 1; step < 70; step += 23) {
		hash_data(OPENPGP_CANON_TEXT, big_lf, a, step, &lf, NULL);
		hash_data(OPENPGP_CANON_TEXT, big_crlf, b, step + 5, &crlf, NULL);
		assert_same_state(&lf, &crlf);
	}
}
END_TEST

START_TEST(test_canon_clearsign)
{
	static const struct canon_case c[] = {
		{ "", "" },
		{ "\n", "" },
		{ "a", "a" },
		{ "a\n", "a" },
		{ "a\r\n", "a" },
		{ "a\nb\n", "a\r\nb" },
		{ "a\nb", "a\r\nb" },
		{ "a\n\n", "a\r\n" },
		{ "a  \t\nb \n", "a\r\nb" },
		{ "a \r\n b", "a\r\n b" },
		{ "a\tb \t\r\n", "a\tb" },
		{ "  \n  ", "\r\n" },
		{ "-x\n- y\n", "-x\r\n- y" },
		{ "Origin: Debian\nLabel: Debian\nSuite: stable\n",
		    "Origin: Debian\r\nLabel: Debian\r\nSuite: stable" },
	};
	struct sg_openpgp st, ref;
	char buf[2000];
	size_t n;

	check_canon(OPENPGP_CANON_CLEARSIGN, c, nitems(c));
	/* A run of white space much longer than a block, then text. */
	memset(buf, ' ', 1000);
	memcpy(buf + 1000, "x\n", 2);
	hash_data(OPENPGP_CANON_CLEARSIGN, buf, 1002, 7, &st, NULL);
	hash_data(OPENPGP_CANON_BINARY, buf, 1001, 0, &ref, NULL);
	ref.mode = SG_OPENPGP_TEXT;
	assert_same_state(&st, &ref);
	/* ... and white space up to the end, dropped. */
	n = 0;
	memcpy(buf, "a\nb", 3);
	memset(buf + 3, '\t', 1000);
	n = 1003;
	hash_data(OPENPGP_CANON_CLEARSIGN, buf, n, 64, &st, NULL);
	hash_data(OPENPGP_CANON_BINARY, "a\r\nb", 4, 0, &ref, NULL);
	ref.mode = SG_OPENPGP_TEXT;
	assert_same_state(&st, &ref);
}
END_TEST

/* A CR without LF: gpg and sqv read it differently, so both text forms
 * refuse it, wherever the pieces split; binary takes anything. */
START_TEST(test_canon_lone_cr)
{
	static const char *const bad[] = { "\r", "a\r", "a\rb\n", "a\r\r\n", "a\r \n", "\r\n\r" };
	static const enum openpgp_canon canons[] = { OPENPGP_CANON_TEXT, OPENPGP_CANON_CLEARSIGN };
	struct openpgp_hasher *h;
	struct sg_openpgp st;
	uint8_t sha[SHA256_LEN];

	for (size_t c = 0; c < nitems(canons); c++) {
		for (size_t i = 0; i < nitems(bad); i++) {
			size_t len = strlen(bad[i]);
			int r = 0;

			for (size_t split = 0; split <= len; split++) {
				h = openpgp_hasher_new(canons[c]);
				ck_assert_ptr_nonnull(h);
				r = openpgp_hasher_update(h, bad[i], split);
				if (r == 0)
					r = openpgp_hasher_update(h, bad[i] + split, len - split);
				if (r == 0)
					r = openpgp_hasher_final(h, &st, sha);
				ck_assert_msg(r == SG_ERR_PARSE, "canon %zu, case %zu, split %zu",
				    c, i, split);
				/* Sticky. */
				ck_assert_int_eq(openpgp_hasher_final(h, &st, sha), SG_ERR_PARSE);
				openpgp_hasher_free(h);
			}
		}
	}
	for (size_t i = 0; i < nitems(bad); i++)
		hash_data(OPENPGP_CANON_BINARY, bad[i], strlen(bad[i]), 1, &st, NULL);
}
END_TEST

START_TEST(test_hasher_misuse)
{
	struct openpgp_hasher *h = openpgp_hasher_new(OPENPGP_CANON_BINARY);
	struct sg_openpgp st;
	uint8_t sha[SHA256_LEN];

	ck_assert_ptr_null(openpgp_hasher_new((enum openpgp_canon)3));
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(openpgp_hasher_update(h, NULL, 1), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_hasher_update(h, NULL, 0), 0);
	ck_assert_int_eq(openpgp_hasher_update(NULL, "a", 1), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_hasher_final(h, NULL, sha), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_hasher_final(h, &st, sha), 0);
	ck_assert_int_eq(openpgp_hasher_final(h, &st, sha), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_hasher_update(h, "a", 1), SG_ERR_INVALID_ARGUMENT);
	openpgp_hasher_free(h);
	openpgp_hasher_free(NULL);
}
END_TEST

/* --- keys -------------------------------------------------------------- */

START_TEST(test_key_ec)
{
	struct fixture f;
	static const uint8_t head[] = { 4, 0x5f, 0x5e, 0x10, 0x00, 19, 8, 0x2a, 0x86, 0x48, 0xce,
		0x3d, 0x03, 0x01, 0x07, 0x02, 0x03, 0x04 };
	uint8_t md[EVP_MAX_MD_SIZE], framed[3 + OPENPGP_KEY_BODY_MAX];
	unsigned md_len = 0;

	fixture_init(&f, "ec", SG_MECH_ECDSA_SHA256);
	ck_assert_uint_eq(f.key.body_len, sizeof(head) + 64);
	ck_assert_mem_eq(f.key.body, head, sizeof(head));
	ck_assert_uint_eq(f.key.created, KEY_CREATED);
	framed[0] = 0x99;
	framed[1] = 0;
	framed[2] = (uint8_t)f.key.body_len;
	memcpy(framed + 3, f.key.body, f.key.body_len);
	ck_assert_int_eq(EVP_Digest(framed, 3 + f.key.body_len, md, &md_len, EVP_sha1(), NULL), 1);
	ck_assert_mem_eq(f.key.fpr, md, OPENPGP_FPR_LEN);
	ck_assert_mem_eq(f.key.keyid, md + 12, OPENPGP_KEYID_LEN);
	fixture_free(&f);
}
END_TEST

START_TEST(test_key_rsa)
{
	struct fixture f;
	static const uint8_t head[] = { 4, 0x5f, 0x5e, 0x10, 0x00, 1, 0x08, 0x00 };

	fixture_init(&f, "rsa", SG_MECH_RSA_PKCS1_SHA256);
	/* n (2048 bits: 0x0800) and e = 65537 (17 bits: 0x0011 01 00 01). */
	ck_assert_uint_eq(f.key.body_len, 8 + 256 + 5);
	ck_assert_mem_eq(f.key.body, head, sizeof(head));
	ck_assert_mem_eq(f.key.body + 8 + 256, "\x00\x11\x01\x00\x01", 5);
	fixture_free(&f);
}
END_TEST

START_TEST(test_key_refused)
{
	struct fixture f;
	struct openpgp_key k;
	EVP_PKEY *p384 = EVP_EC_gen("P-384"), *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *pss = NULL;
	FILE *fp = fopen(TEST_DATA_DIR "/crypto-rsapss.pub", "r");

	ck_assert_ptr_nonnull(fp);
	pss = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);

	fixture_init(&f, "rsa", SG_MECH_RSA_PKCS1_SHA256);
	ck_assert_ptr_nonnull(p384);
	ck_assert_ptr_nonnull(ed);
	ck_assert_ptr_nonnull(rsa1024);
	ck_assert_ptr_nonnull(pss);
	memset(&k, 0x55, sizeof(k));
	ck_assert_int_eq(
	    openpgp_key_init(p384, SG_MECH_ECDSA_SHA256, KEY_CREATED, &k), SG_ERR_KEY_UNSUPPORTED);
	ck_assert_ptr_null(k.pub);
	ck_assert_uint_eq(k.body_len, 0);
	ck_assert_int_eq(
	    openpgp_key_init(ed, SG_MECH_ECDSA_SHA256, KEY_CREATED, &k), SG_ERR_KEY_UNSUPPORTED);
	ck_assert_int_eq(openpgp_key_init(rsa1024, SG_MECH_RSA_PKCS1_SHA256, KEY_CREATED, &k),
	    SG_ERR_KEY_UNSUPPORTED);
	ck_assert_int_eq(
	    openpgp_key_init(pss, SG_MECH_RSA_PSS_SHA256, KEY_CREATED, &k), SG_ERR_KEY_UNSUPPORTED);
	ck_assert_int_eq(openpgp_key_init(pss, SG_MECH_RSA_PKCS1_SHA256, KEY_CREATED, &k),
	    SG_ERR_KEY_UNSUPPORTED);
	/* OpenPGP has no RSA-PSS; and the mechanism must fit the key. */
	ck_assert_int_eq(openpgp_key_init(f.soft.key, SG_MECH_RSA_PSS_SHA256, KEY_CREATED, &k),
	    SG_ERR_KEY_UNSUPPORTED);
	ck_assert_int_eq(openpgp_key_init(f.soft.key, SG_MECH_ECDSA_SHA256, KEY_CREATED, &k),
	    SG_ERR_KEY_UNSUPPORTED);
	ck_assert_int_eq(openpgp_key_init(f.soft.key, SG_MECH_RSA_PKCS1_SHA256, -1, &k),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    openpgp_key_init(f.soft.key, SG_MECH_RSA_PKCS1_SHA256, OPENPGP_TIME_MAX + 1, &k),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    openpgp_key_init(f.soft.key, SG_MECH_RSA_PKCS1_SHA256, OPENPGP_TIME_MAX, &k), 0);
	openpgp_key_cleanup(&k);
	ck_assert_int_eq(
	    openpgp_key_init(NULL, SG_MECH_RSA_PKCS1_SHA256, 0, &k), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_key_init(f.soft.key, SG_MECH_RSA_PKCS1_SHA256, 0, NULL),
	    SG_ERR_INVALID_ARGUMENT);
	openpgp_key_cleanup(NULL);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(pss);
	fixture_free(&f);
}
END_TEST

/* --- against gpgv, gpg and sqv ----------------------------------------- */

/* Binary detached signatures over data of several lengths (0, whole
 * blocks, partial blocks), as .sig and as armored .asc; tampered data is
 * refused. */
static void
check_binary(const char *keyname, enum sg_mech mech)
{
	static const size_t lens[] = { 0, 1, 63, 64, 65, 128, 1000 };
	struct fixture f;
	char *dir, out[4096], *asc = NULL;
	uint8_t data[1001], *sig = NULL;
	size_t sig_len = 0;

	fixture_init(&f, keyname, mech);
	dir = tool_dir(&f);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
	for (size_t i = 0; i < nitems(lens); i++) {
		size_t len = lens[i];

		sign_data(&f, OPENPGP_CANON_BINARY, data, len, &sig, &sig_len);
		free(test_write_file(dir, "data", data, len, 0600));
		free(test_write_file(dir, "data.sig", sig, sig_len, 0600));
		ck_assert_int_eq(openpgp_armor("SIGNATURE", sig, sig_len, &asc), 0);
		free(test_write_file(dir, "data.asc", asc, strlen(asc), 0600));
		expect_good(gpgv(dir, "data.sig", "data", out, sizeof(out)), out, "gpgv");
		ck_assert_msg(strstr(out, "Good signature from \"" UID "\"") != NULL, "%s", out);
		expect_good(gpgv(dir, "data.asc", "data", out, sizeof(out)), out, "gpgv (armored)");
		expect_good(sqv(dir, "data.sig", "data", out, sizeof(out)), out, "sqv");
		expect_good(sqv(dir, "data.asc", "data", out, sizeof(out)), out, "sqv (armored)");
		/* One more byte, or one byte changed: refused. */
		free(test_write_file(dir, "data", data, len + 1, 0600));
		expect_bad(gpgv(dir, "data.sig", "data", out, sizeof(out)), out, "gpgv");
		expect_bad(sqv(dir, "data.sig", "data", out, sizeof(out)), out, "sqv");
		if (len > 0) {
			data[len / 2] ^= 0x20;
			free(test_write_file(dir, "data", data, len, 0600));
			data[len / 2] ^= 0x20;
			expect_bad(gpgv(dir, "data.sig", "data", out, sizeof(out)), out, "gpgv");
			expect_bad(sqv(dir, "data.sig", "data", out, sizeof(out)), out, "sqv");
		}
		free(sig);
		free(asc);
		asc = NULL;
	}
	test_tmpdir_free(dir);
	fixture_free(&f);
}

START_TEST(test_tools_binary_ec)
{
	check_binary("ec", SG_MECH_ECDSA_SHA256);
}
END_TEST

START_TEST(test_tools_binary_rsa)
{
	check_binary("rsa", SG_MECH_RSA_PKCS1_SHA256);
}
END_TEST

/* Text signatures (--text): the same signature verifies against the file
 * with LF and with CR LF line endings, and not against other text. */
static void
check_text(const char *keyname, enum sg_mech mech)
{
	static const char lf[] = "Package: signet\nVersion: 1.0\n\nDescription: x\n no eol";
	static const char crlf[] =
	    "Package: signet\r\nVersion: 1.0\r\n\r\nDescription: x\r\n no eol";
	struct fixture f;
	char *dir, out[4096];
	uint8_t *sig = NULL, *sig2 = NULL;
	size_t sig_len = 0, sig2_len = 0;

	fixture_init(&f, keyname, mech);
	dir = tool_dir(&f);
	sign_data(&f, OPENPGP_CANON_TEXT, lf, strlen(lf), &sig, &sig_len);
	free(test_write_file(dir, "lf.sig", sig, sig_len, 0600));
	sign_data(&f, OPENPGP_CANON_TEXT, crlf, strlen(crlf), &sig2, &sig2_len);
	free(test_write_file(dir, "crlf.sig", sig2, sig2_len, 0600));
	free(test_write_file(dir, "lf", lf, strlen(lf), 0600));
	free(test_write_file(dir, "crlf", crlf, strlen(crlf), 0600));
	free(test_write_file(dir, "other", "Package: signet\n", 16, 0600));
	expect_good(gpgv(dir, "lf.sig", "lf", out, sizeof(out)), out, "gpgv");
	expect_good(gpgv(dir, "lf.sig", "crlf", out, sizeof(out)), out, "gpgv");
	expect_good(gpgv(dir, "crlf.sig", "lf", out, sizeof(out)), out, "gpgv");
	expect_good(sqv(dir, "lf.sig", "lf", out, sizeof(out)), out, "sqv");
	expect_good(sqv(dir, "lf.sig", "crlf", out, sizeof(out)), out, "sqv");
	expect_good(sqv(dir, "crlf.sig", "crlf", out, sizeof(out)), out, "sqv");
	expect_bad(gpgv(dir, "lf.sig", "other", out, sizeof(out)), out, "gpgv");
	expect_bad(sqv(dir, "lf.sig", "other", out, sizeof(out)), out, "sqv");
	free(sig);
	free(sig2);
	test_tmpdir_free(dir);
	fixture_free(&f);
}

START_TEST(test_tools_text_ec)
{
	check_text("ec", SG_MECH_ECDSA_SHA256);
}
END_TEST

START_TEST(test_tools_text_rsa)
{
	check_text("rsa", SG_MECH_RSA_PKCS1_SHA256);
}
END_TEST

/* Cleartext-signed documents, InRelease-like ones first: gpgv verifies
 * them, and gpg gives back exactly the text (with its final line break,
 * as APT reads it). */
static void
check_clearsign(const char *keyname, enum sg_mech mech)
{
	static const char *const texts[] = {
		"Origin: Signet\nLabel: Signet\nSuite: stable\nCodename: bookworm\n"
		"SHA256:\n 0123 100 main/binary-amd64/Packages\n",
		"no final line break",
		"trailing white space \t\nand CR LF\r\n\r\n- a dash\n-----BEGIN PGP "
		"SIGNATURE-----\n",
		"",
		"\n",
		"a tab\tinside\n",
	};
	struct fixture f;
	char *dir, out[4096], *doc = NULL, path[512];
	uint8_t *sig = NULL;
	size_t sig_len = 0, doc_len = 0, len;
	char *got = NULL;
	size_t got_len = 0;

	fixture_init(&f, keyname, mech);
	dir = tool_dir(&f);
	for (size_t i = 0; i < nitems(texts); i++) {
		len = strlen(texts[i]);
		sign_data(&f, OPENPGP_CANON_CLEARSIGN, texts[i], len, &sig, &sig_len);
		ck_assert_int_eq(
		    openpgp_clearsign((const uint8_t *)texts[i], len, sig, sig_len, &doc, &doc_len),
		    0);
		ck_assert_uint_eq(strlen(doc), doc_len);
		free(test_write_file(dir, "InRelease", doc, doc_len, 0600));
		expect_good(gpgv(dir, "InRelease", NULL, out, sizeof(out)), out, "gpgv");
		ck_assert_msg(strstr(out, "Good signature") != NULL, "%s", out);
		/* What gpg extracts: the text, with a line break at its end. */
		ck_assert_msg(run(out, sizeof(out),
				  "gpg --batch --yes --no-autostart --keyring %s/cert.gpg "
				  "--no-default-keyring -o %s/out --decrypt %s/InRelease",
				  dir, dir, dir) == 0,
		    "gpg --decrypt: %s", out);
		snprintf(path, sizeof(path), "%s/out", dir);
		ck_assert_int_eq(read_file(path, 1 << 20, &got, &got_len), 0);
		/* gpg writes out the lines without their trailing white space
		 * (which the signature does not cover); compare the others. */
		if (len > 0 && texts[i][len - 1] == '\n' && strstr(texts[i], " \t\n") == NULL) {
			ck_assert_uint_eq(got_len, len);
			ck_assert_mem_eq(got, texts[i], len);
		}
		free(got);
		/* A changed word in the text: refused. */
		if (len > 4) {
			char *p = strstr(doc, "\n\n") + 2;
			p[1] ^= 0x01;
			free(test_write_file(dir, "InRelease", doc, doc_len, 0600));
			expect_bad(gpgv(dir, "InRelease", NULL, out, sizeof(out)), out, "gpgv");
		}
		free(doc);
		free(sig);
	}
	test_tmpdir_free(dir);
	fixture_free(&f);
}

START_TEST(test_tools_clearsign_ec)
{
	check_clearsign("ec", SG_MECH_ECDSA_SHA256);
}
END_TEST

START_TEST(test_tools_clearsign_rsa)
{
	check_clearsign("rsa", SG_MECH_RSA_PKCS1_SHA256);
}
END_TEST

/* gpg reads the certificate, binary and armored: the user ID, the key's
 * fingerprint and its capabilities (sign only). */
static void
check_cert(const char *keyname, enum sg_mech mech, const char *algo_field)
{
	struct fixture f;
	char *dir, out[4096], fpr[OPENPGP_FPR_HEX_LEN + 1], want[128], *asc = NULL;
	uint8_t *cert = NULL;
	size_t cert_len = 0;

	fixture_init(&f, keyname, mech);
	dir = tool_dir(&f);
	openpgp_fpr_hex(f.key.fpr, fpr);
	expect_good(run(out, sizeof(out), "gpg --batch --with-colons --show-keys %s/cert.gpg", dir),
	    out, "gpg --show-keys");
	snprintf(want, sizeof(want), "fpr:::::::::%s:", fpr);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	snprintf(want, sizeof(want), ":%s:", algo_field);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	ck_assert_msg(strstr(out, UID) != NULL, "%s", out);
	ck_assert_msg(strstr(out, ":1600000000:") != NULL, "%s", out);
	/* gpg lets every primary key certify whatever its key flags say
	 * (scSC); the flags (sign only) are for verifiers that heed them. */
	ck_assert_msg(strstr(out, ":scSC:") != NULL, "capabilities: %s", out);
	ck_assert_int_eq(
	    openpgp_cert(&f.key, UID, KEY_CREATED + 5, soft_sign, &f.soft, &cert, &cert_len), 0);
	ck_assert_int_eq(openpgp_armor("PUBLIC KEY BLOCK", cert, cert_len, &asc), 0);
	free(test_write_file(dir, "cert.asc", asc, strlen(asc), 0600));
	expect_good(run(out, sizeof(out), "gpg --batch --with-colons --show-keys %s/cert.asc", dir),
	    out, "gpg --show-keys (armored)");
	ck_assert_msg(strstr(out, UID) != NULL, "%s", out);
	/* Armor round trip through gpg, which checks the CRC. */
	expect_good(
	    run(out, sizeof(out), "gpg --batch --dearmor -o %s/cert.bin %s/cert.asc", dir, dir),
	    out, "gpg --dearmor");
	{
		char path[512], *bin = NULL;
		size_t bin_len = 0;

		snprintf(path, sizeof(path), "%s/cert.bin", dir);
		ck_assert_int_eq(read_file(path, 1 << 20, &bin, &bin_len), 0);
		ck_assert_uint_eq(bin_len, cert_len);
		ck_assert_mem_eq(bin, cert, cert_len);
		free(bin);
	}
	free(asc);
	free(cert);
	test_tmpdir_free(dir);
	fixture_free(&f);
}

START_TEST(test_tools_cert_ec)
{
	check_cert("ec", SG_MECH_ECDSA_SHA256, "19");
}
END_TEST

START_TEST(test_tools_cert_rsa)
{
	check_cert("rsa", SG_MECH_RSA_PKCS1_SHA256, "1");
}
END_TEST

/* --- our verifier ------------------------------------------------------ */

static void
check_verify(const char *keyname, enum sg_mech mech, const char *other, enum sg_mech other_mech)
{
	struct fixture f, g;
	struct sg_openpgp st, as_text;
	uint8_t *sig = NULL, *tsig = NULL, *osig = NULL, *late = NULL, fpr[OPENPGP_FPR_LEN];
	size_t sig_len = 0, tsig_len = 0, osig_len = 0, late_len = 0;
	char why[OPENPGP_WHY_MAX];
	static const char data[] = "some data to sign, more than one block long ........"
				   "...............................................";

	fixture_init(&f, keyname, mech);
	fixture_init(&g, other, other_mech);
	hash_data(OPENPGP_CANON_BINARY, data, strlen(data), 0, &st, NULL);
	as_text = st;
	as_text.mode = SG_OPENPGP_TEXT;
	ck_assert_int_eq(
	    openpgp_sign_document(&f.key, &st, SIG_CREATED, soft_sign, &f.soft, &sig, &sig_len), 0);
	ck_assert_int_eq(openpgp_sign_document(
			     &f.key, &as_text, SIG_CREATED, soft_sign, &f.soft, &tsig, &tsig_len),
	    0);
	ck_assert_int_eq(
	    openpgp_sign_document(&g.key, &st, SIG_CREATED, soft_sign, &g.soft, &osig, &osig_len),
	    0);
	ck_assert_int_eq(openpgp_sign_document(
			     &f.key, &st, SIG_CREATED + 1, soft_sign, &f.soft, &late, &late_len),
	    0);
	/* The good one, and who made it. */
	ck_assert_int_eq(openpgp_verify_document(sig, sig_len, f.key.pub, &st, OPENPGP_SIG_BINARY,
			     SIG_CREATED, why, sizeof(why)),
	    0);
	ck_assert_str_eq(why, "");
	ck_assert_int_eq(openpgp_packet_issuer(sig, sig_len, fpr), 0);
	ck_assert_mem_eq(fpr, f.key.fpr, OPENPGP_FPR_LEN);
	ck_assert_int_eq(openpgp_packet_issuer(osig, osig_len, fpr), 0);
	ck_assert_mem_eq(fpr, g.key.fpr, OPENPGP_FPR_LEN);
	/* Type: a text signature where a binary one is expected, and back. */
	ck_assert_int_eq(openpgp_verify_document(tsig, tsig_len, f.key.pub, &st, OPENPGP_SIG_BINARY,
			     SIG_CREATED, why, sizeof(why)),
	    SG_ERR_VERIFY);
	ck_assert_str_eq(why, "signature type 0x01, expected 0x00");
	ck_assert_int_eq(openpgp_verify_document(sig, sig_len, f.key.pub, &as_text,
			     OPENPGP_SIG_TEXT, SIG_CREATED, why, sizeof(why)),
	    SG_ERR_VERIFY);
	ck_assert_int_eq(openpgp_verify_document(tsig, tsig_len, f.key.pub, &as_text,
			     OPENPGP_SIG_TEXT, SIG_CREATED, why, sizeof(why)),
	    0);
	/* want_type must be st's. */
	ck_assert_int_eq(openpgp_verify_document(sig, sig_len, f.key.pub, &st, OPENPGP_SIG_TEXT,
			     SIG_CREATED, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	/* Time. */
	ck_assert_int_eq(openpgp_verify_document(late, late_len, f.key.pub, &st, OPENPGP_SIG_BINARY,
			     SIG_CREATED, why, sizeof(why)),
	    SG_ERR_VERIFY);
	ck_assert_str_eq(why, "signature created at 1700000001, expected 1700000000");
	/* Another key: refused with our key, and names the other. */
	ck_assert_int_eq(openpgp_verify_document(osig, osig_len, f.key.pub, &st, OPENPGP_SIG_BINARY,
			     SIG_CREATED, why, sizeof(why)),
	    SG_ERR_VERIFY);
	ck_assert_int_ne(why[0], 0);
	/* Other data. */
	st.tail[0] ^= 1;
	ck_assert_int_eq(openpgp_verify_document(sig, sig_len, f.key.pub, &st, OPENPGP_SIG_BINARY,
			     SIG_CREATED, why, sizeof(why)),
	    SG_ERR_VERIFY);
	st.tail[0] ^= 1;
	/* Every bit flipped, every truncation and an extra byte: refused. */
	for (size_t i = 0; i < sig_len * 8; i++) {
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
		why[0] = 0;
		ck_assert_msg(
		    openpgp_verify_document(sig, sig_len, f.key.pub, &st, OPENPGP_SIG_BINARY,
			SIG_CREATED, why, sizeof(why)) == SG_ERR_VERIFY,
		    "bit %zu", i);
		ck_assert_int_ne(why[0], 0);
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	for (size_t n = 0; n < sig_len; n++)
		ck_assert_int_eq(openpgp_verify_document(sig, n, f.key.pub, &st, OPENPGP_SIG_BINARY,
				     SIG_CREATED, NULL, 0),
		    SG_ERR_VERIFY);
	{
		uint8_t *longer = malloc(sig_len + 1);

		ck_assert_ptr_nonnull(longer);
		memcpy(longer, sig, sig_len);
		longer[sig_len] = 0;
		ck_assert_int_eq(openpgp_verify_document(longer, sig_len + 1, f.key.pub, &st,
				     OPENPGP_SIG_BINARY, SIG_CREATED, why, sizeof(why)),
		    SG_ERR_VERIFY);
		free(longer);
	}
	ck_assert_int_eq(openpgp_verify_document(NULL, 0, f.key.pub, &st, OPENPGP_SIG_BINARY,
			     SIG_CREATED, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_verify_document(sig, sig_len, NULL, &st, OPENPGP_SIG_BINARY,
			     SIG_CREATED, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_verify_document(sig, sig_len, f.key.pub, NULL, OPENPGP_SIG_BINARY,
			     SIG_CREATED, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_packet_issuer(sig, sig_len - 1, fpr), SG_ERR_PARSE);
	ck_assert_int_eq(openpgp_packet_issuer(NULL, 0, fpr), SG_ERR_INVALID_ARGUMENT);
	free(sig);
	free(tsig);
	free(osig);
	free(late);
	fixture_free(&f);
	fixture_free(&g);
}

START_TEST(test_verify_ec)
{
	check_verify("ec", SG_MECH_ECDSA_SHA256, "rsa", SG_MECH_RSA_PKCS1_SHA256);
}
END_TEST

START_TEST(test_verify_rsa)
{
	check_verify("rsa", SG_MECH_RSA_PKCS1_SHA256, "ec", SG_MECH_ECDSA_SHA256);
}
END_TEST

/* The packet as built: new-format header, the hashed area exactly, the
 * unhashed issuer key ID; and the same packet with a legacy header (as
 * gpg writes) is accepted too. */
START_TEST(test_packet_layout)
{
	struct fixture f;
	struct sg_openpgp st;
	uint8_t *sig = NULL, legacy[OPENPGP_SIG_MAX];
	size_t sig_len = 0, body;
	const uint8_t *b;

	fixture_init(&f, "ec", SG_MECH_ECDSA_SHA256);
	hash_data(OPENPGP_CANON_BINARY, "x", 1, 0, &st, NULL);
	ck_assert_int_eq(
	    openpgp_sign_document(&f.key, &st, SIG_CREATED, soft_sign, &f.soft, &sig, &sig_len), 0);
	ck_assert_int_eq(f.soft.calls, 1);
	ck_assert_uint_eq(sig[0], 0xc2);
	ck_assert_uint_lt(sig[1], 192);
	body = sig[1];
	ck_assert_uint_eq(sig_len, body + 2);
	b = sig + 2;
	ck_assert_mem_eq(b, "\x04\x00\x13\x08\x00\x1d\x05\x02\x65\x53\xf1\x00\x16\x21\x04", 15);
	ck_assert_mem_eq(b + 15, f.key.fpr, OPENPGP_FPR_LEN);
	ck_assert_mem_eq(b + 35, "\x00\x0a\x09\x10", 4);
	ck_assert_mem_eq(b + 39, f.key.keyid, OPENPGP_KEYID_LEN);
	/* Legacy format, 1-byte length: 0x88 = tag 2 << 2 | 0x80. */
	legacy[0] = 0x88;
	legacy[1] = (uint8_t)body;
	memcpy(legacy + 2, b, body);
	ck_assert_int_eq(openpgp_verify_document(legacy, body + 2, f.key.pub, &st,
			     OPENPGP_SIG_BINARY, SIG_CREATED, NULL, 0),
	    0);
	/* Legacy, 2-byte length; new format, 5-byte length. */
	legacy[0] = 0x89;
	legacy[1] = 0;
	legacy[2] = (uint8_t)body;
	memcpy(legacy + 3, b, body);
	ck_assert_int_eq(openpgp_verify_document(legacy, body + 3, f.key.pub, &st,
			     OPENPGP_SIG_BINARY, SIG_CREATED, NULL, 0),
	    0);
	legacy[0] = 0xc2;
	legacy[1] = 0xff;
	memcpy(legacy + 2, "\x00\x00\x00", 3);
	legacy[5] = (uint8_t)body;
	memcpy(legacy + 6, b, body);
	ck_assert_int_eq(openpgp_verify_document(legacy, body + 6, f.key.pub, &st,
			     OPENPGP_SIG_BINARY, SIG_CREATED, NULL, 0),
	    0);
	/* Indeterminate and partial lengths: refused. */
	legacy[0] = 0x8b;
	memcpy(legacy + 1, b, body);
	ck_assert_int_eq(openpgp_verify_document(legacy, body + 1, f.key.pub, &st,
			     OPENPGP_SIG_BINARY, SIG_CREATED, NULL, 0),
	    SG_ERR_VERIFY);
	free(sig);
	fixture_free(&f);
}
END_TEST

START_TEST(test_sign_failures)
{
	struct fixture f, r;
	struct sg_openpgp st;
	uint8_t *sig = sentinel;
	size_t sig_len = 7;

	fixture_init(&f, "ec", SG_MECH_ECDSA_SHA256);
	fixture_init(&r, "rsa", SG_MECH_RSA_PKCS1_SHA256);
	hash_data(OPENPGP_CANON_BINARY, "x", 1, 0, &st, NULL);
	f.soft.fail = SG_ERR_HSM_UNAVAILABLE;
	ck_assert_int_eq(
	    openpgp_sign_document(&f.key, &st, SIG_CREATED, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_HSM_UNAVAILABLE);
	ck_assert_ptr_null(sig);
	ck_assert_uint_eq(sig_len, 0);
	f.soft.fail = 0;
	f.soft.corrupt = 1;
	ck_assert_int_eq(
	    openpgp_sign_document(&f.key, &st, SIG_CREATED, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_HSM_SIGN_FAILED);
	ck_assert_ptr_null(sig);
	f.soft.corrupt = 0;
	f.soft.garbage = 1;
	ck_assert_int_eq(
	    openpgp_sign_document(&f.key, &st, SIG_CREATED, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_HSM_SIGN_FAILED);
	ck_assert_int_eq(openpgp_cert(&f.key, UID, KEY_CREATED, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_HSM_SIGN_FAILED);
	ck_assert_ptr_null(sig);
	/* RSA: a corrupt signature, one of the wrong length. */
	r.soft.corrupt = 1;
	ck_assert_int_eq(
	    openpgp_sign_document(&r.key, &st, SIG_CREATED, soft_sign, &r.soft, &sig, &sig_len),
	    SG_ERR_HSM_SIGN_FAILED);
	ck_assert_int_eq(openpgp_cert(&r.key, UID, KEY_CREATED, soft_sign, &r.soft, &sig, &sig_len),
	    SG_ERR_HSM_SIGN_FAILED);
	r.soft.corrupt = 0;
	r.soft.shorten = 1;
	ck_assert_int_eq(
	    openpgp_sign_document(&r.key, &st, SIG_CREATED, soft_sign, &r.soft, &sig, &sig_len),
	    SG_ERR_HSM_SIGN_FAILED);
	ck_assert_ptr_null(sig);
	ck_assert_uint_eq(sig_len, 0);
	fixture_free(&f);
	fixture_free(&r);
}
END_TEST

START_TEST(test_sign_arguments)
{
	struct fixture f;
	struct sg_openpgp st;
	uint8_t *sig = sentinel;
	size_t sig_len = 7;
	char uid[OPENPGP_UID_MAX + 2];

	fixture_init(&f, "ec", SG_MECH_ECDSA_SHA256);
	hash_data(OPENPGP_CANON_BINARY, "x", 1, 0, &st, NULL);
	/* Before the key existed, or past 2106. */
	ck_assert_int_eq(
	    openpgp_sign_document(&f.key, &st, KEY_CREATED - 1, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(sig);
	ck_assert_uint_eq(sig_len, 0);
	ck_assert_int_eq(openpgp_sign_document(
			     &f.key, &st, OPENPGP_TIME_MAX + 1, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    openpgp_sign_document(&f.key, &st, KEY_CREATED, soft_sign, &f.soft, &sig, &sig_len), 0);
	free(sig);
	st.tail_len = OPENPGP_TAIL_MAX + 1;
	ck_assert_int_eq(
	    openpgp_sign_document(&f.key, &st, SIG_CREATED, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_INVALID_ARGUMENT);
	st.tail_len = 1;
	ck_assert_int_eq(
	    openpgp_sign_document(&f.key, &st, SIG_CREATED, NULL, &f.soft, &sig, &sig_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(f.soft.calls, 1); /* the one signature made */
	/* User IDs: empty, a control character, the limit and one past it. */
	ck_assert_int_eq(openpgp_cert(&f.key, "", KEY_CREATED, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    openpgp_cert(&f.key, "a\nb", KEY_CREATED, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    openpgp_cert(&f.key, "\xff", KEY_CREATED, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_INVALID_ARGUMENT);
	memset(uid, 'u', sizeof(uid));
	uid[OPENPGP_UID_MAX + 1] = 0;
	ck_assert_int_eq(openpgp_cert(&f.key, uid, KEY_CREATED, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_INVALID_ARGUMENT);
	uid[OPENPGP_UID_MAX] = 0;
	ck_assert_int_eq(
	    openpgp_cert(&f.key, uid, KEY_CREATED, soft_sign, &f.soft, &sig, &sig_len), 0);
	free(sig);
	ck_assert_int_eq(
	    openpgp_cert(&f.key, UID, KEY_CREATED - 1, soft_sign, &f.soft, &sig, &sig_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(sig);
	fixture_free(&f);
}
END_TEST

/* Every other value of created gives the key another fingerprint. */
START_TEST(test_fingerprint_hex)
{
	static const uint8_t fpr[OPENPGP_FPR_LEN] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
		0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x0f };
	char hex[OPENPGP_FPR_HEX_LEN + 1];

	openpgp_fpr_hex(fpr, hex);
	ck_assert_str_eq(hex, "0123456789ABCDEF00000000000000000000FE0F");
}
END_TEST

/* --- armor ------------------------------------------------------------- */

START_TEST(test_armor)
{
	static const uint8_t data[] = { 0x01, 0x02, 0x03 };
	const char *l1;
	char *a = NULL;
	uint8_t big[96];

	/* CRC-24 (RFC 4880 §6.1) of 01 02 03 is 0x676193, "Z2GT". */
	ck_assert_int_eq(openpgp_armor("SIGNATURE", data, sizeof(data), &a), 0);
	ck_assert_str_eq(
	    a, "-----BEGIN PGP SIGNATURE-----\n\nAQID\n=Z2GT\n-----END PGP SIGNATURE-----\n");
	free(a);
	/* 96 bytes: 128 characters, two full lines of 64. */
	memset(big, 0xaa, sizeof(big));
	ck_assert_int_eq(openpgp_armor("PUBLIC KEY BLOCK", big, sizeof(big), &a), 0);
	ck_assert_int_eq(strncmp(a, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n", 38), 0);
	l1 = a + 38;
	ck_assert_ptr_eq(strchr(l1, '\n'), l1 + 64);
	ck_assert_ptr_eq(strchr(l1 + 65, '\n'), l1 + 129);
	ck_assert_int_eq(l1[130], '=');
	ck_assert_str_eq(l1 + 136, "-----END PGP PUBLIC KEY BLOCK-----\n");
	free(a);
	a = (char *)sentinel;
	ck_assert_int_eq(openpgp_armor("MESSAGE", data, sizeof(data), &a), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(openpgp_armor("SIGNATURE", data, 0, &a), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_armor(NULL, data, 1, &a), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(openpgp_armor("SIGNATURE", NULL, 1, &a), SG_ERR_INVALID_ARGUMENT);
}
END_TEST

/* Through gpg: an armored signature dearmors to the same bytes (gpg
 * checks the CRC-24 and says so when it is wrong). */
START_TEST(test_armor_crc)
{
	struct fixture f;
	char *dir, out[4096], *asc = NULL, path[512], *bin = NULL, *eq;
	uint8_t *sig = NULL;
	size_t sig_len = 0, bin_len = 0;

	fixture_init(&f, "rsa", SG_MECH_RSA_PKCS1_SHA256);
	dir = tool_dir(&f);
	sign_data(&f, OPENPGP_CANON_BINARY, "abc", 3, &sig, &sig_len);
	ck_assert_int_eq(openpgp_armor("SIGNATURE", sig, sig_len, &asc), 0);
	free(test_write_file(dir, "s.asc", asc, strlen(asc), 0600));
	expect_good(run(out, sizeof(out), "gpg --batch --dearmor -o %s/s.bin %s/s.asc", dir, dir),
	    out, "gpg --dearmor");
	snprintf(path, sizeof(path), "%s/s.bin", dir);
	ck_assert_int_eq(read_file(path, 1 << 20, &bin, &bin_len), 0);
	ck_assert_uint_eq(bin_len, sig_len);
	ck_assert_mem_eq(bin, sig, sig_len);
	free(bin);
	/* A wrong CRC: gpg refuses. */
	eq = strstr(asc, "\n=") + 2;
	eq[0] = eq[0] == 'A' ? 'B' : 'A';
	free(test_write_file(dir, "s.asc", asc, strlen(asc), 0600));
	ck_assert_int_ne(
	    run(out, sizeof(out), "gpg --batch --dearmor -o %s/s2.bin %s/s.asc", dir, dir), 0);
	ck_assert_msg(strstr(out, "CRC") != NULL, "%s", out);
	free(asc);
	free(sig);
	test_tmpdir_free(dir);
	fixture_free(&f);
}
END_TEST

START_TEST(test_clearsign_arguments)
{
	struct fixture f;
	uint8_t *sig = NULL;
	size_t sig_len = 0, len = 7;
	char *doc = (char *)sentinel;

	fixture_init(&f, "ec", SG_MECH_ECDSA_SHA256);
	/* A binary signature does not fit a cleartext document. */
	sign_data(&f, OPENPGP_CANON_BINARY, "abc", 3, &sig, &sig_len);
	ck_assert_int_eq(openpgp_clearsign((const uint8_t *)"abc", 3, sig, sig_len, &doc, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(doc);
	ck_assert_uint_eq(len, 0);
	free(sig);
	sign_data(&f, OPENPGP_CANON_CLEARSIGN, "abc", 3, &sig, &sig_len);
	ck_assert_int_eq(openpgp_clearsign((const uint8_t *)"abc", 3, sig, sig_len - 1, &doc, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    openpgp_clearsign((const uint8_t *)"-a\n-b", 5, sig, sig_len, &doc, &len), 0);
	ck_assert_int_eq(strncmp(doc,
			     "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n- -a\n- -b\n"
			     "-----BEGIN PGP SIGNATURE-----\n\n",
			     88),
	    0);
	ck_assert_str_eq(doc + len - 28, "-----END PGP SIGNATURE-----\n");
	free(doc);
	free(sig);
	fixture_free(&f);
}
END_TEST

/* The fuzz seeds that carry signatures: written with OPENPGP_WRITE_SEEDS,
 * otherwise checked against the fixture keys. */
START_TEST(test_fuzz_seeds)
{
	static const struct {
		const char *name, *key;
		enum sg_mech mech;
		enum openpgp_canon canon;
	} seeds[] = {
		{ "good-ec-binary", "ec", SG_MECH_ECDSA_SHA256, OPENPGP_CANON_BINARY },
		{ "good-rsa-binary", "rsa", SG_MECH_RSA_PKCS1_SHA256, OPENPGP_CANON_BINARY },
		{ "good-ec-text", "ec", SG_MECH_ECDSA_SHA256, OPENPGP_CANON_TEXT },
		{ "good-rsa-clearsign", "rsa", SG_MECH_RSA_PKCS1_SHA256, OPENPGP_CANON_CLEARSIGN },
	};
	const char *out_dir = getenv("OPENPGP_WRITE_SEEDS");
	char path[512], *buf = NULL;
	size_t len = 0;

	for (size_t i = 0; i < nitems(seeds); i++) {
		struct fixture f;
		struct sg_openpgp st;
		uint8_t *sig = NULL;
		size_t sig_len = 0;

		fixture_init(&f, seeds[i].key, seeds[i].mech);
		hash_data(seeds[i].canon, SEED_TEXT, strlen(SEED_TEXT), 0, &st, NULL);
		if (out_dir != NULL) {
			ck_assert_int_eq(openpgp_sign_document(&f.key, &st, SIG_CREATED, soft_sign,
					     &f.soft, &sig, &sig_len),
			    0);
			free(test_write_file(out_dir, seeds[i].name, sig, sig_len, 0644));
			free(sig);
		} else {
			snprintf(path, sizeof(path), "%s/../../fuzz/corpus/openpgp/%s",
			    TEST_DATA_DIR, seeds[i].name);
			ck_assert_int_eq(read_file(path, OPENPGP_SIG_MAX, &buf, &len), 0);
			ck_assert_msg(
			    openpgp_verify_document((const uint8_t *)buf, len, f.key.pub, &st,
				st.mode == SG_OPENPGP_TEXT ? OPENPGP_SIG_TEXT : OPENPGP_SIG_BINARY,
				SIG_CREATED, NULL, 0) == 0,
			    "%s no longer verifies: regenerate the seeds", seeds[i].name);
			free(buf);
		}
		fixture_free(&f);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("openpgp");

	test_add(s, "/openpgp/sha256/resume", test_sha256_resume, 30);
	test_add(s, "/openpgp/sha256/resume-bounds", test_sha256_resume_bounds, 30);
	test_add(s, "/openpgp/canon/text", test_canon_text, 30);
	test_add(s, "/openpgp/canon/clearsign", test_canon_clearsign, 30);
	test_add(s, "/openpgp/canon/lone-cr", test_canon_lone_cr, 30);
	test_add(s, "/openpgp/hasher/misuse", test_hasher_misuse, 30);
	test_add(s, "/openpgp/key/ec", test_key_ec, 30);
	test_add(s, "/openpgp/key/rsa", test_key_rsa, 30);
	test_add(s, "/openpgp/key/refused", test_key_refused, 60);
	test_add(s, "/openpgp/key/fingerprint-hex", test_fingerprint_hex, 30);
	test_add(s, "/openpgp/tools/binary-ec", test_tools_binary_ec, 120);
	test_add(s, "/openpgp/tools/binary-rsa", test_tools_binary_rsa, 120);
	test_add(s, "/openpgp/tools/text-ec", test_tools_text_ec, 60);
	test_add(s, "/openpgp/tools/text-rsa", test_tools_text_rsa, 60);
	test_add(s, "/openpgp/tools/clearsign-ec", test_tools_clearsign_ec, 120);
	test_add(s, "/openpgp/tools/clearsign-rsa", test_tools_clearsign_rsa, 120);
	test_add(s, "/openpgp/tools/cert-ec", test_tools_cert_ec, 60);
	test_add(s, "/openpgp/tools/cert-rsa", test_tools_cert_rsa, 60);
	test_add(s, "/openpgp/tools/armor-crc", test_armor_crc, 60);
	test_add(s, "/openpgp/verify/ec", test_verify_ec, 120);
	test_add(s, "/openpgp/verify/rsa", test_verify_rsa, 120);
	test_add(s, "/openpgp/verify/packet-layout", test_packet_layout, 30);
	test_add(s, "/openpgp/sign/failures", test_sign_failures, 30);
	test_add(s, "/openpgp/sign/arguments", test_sign_arguments, 30);
	test_add(s, "/openpgp/armor/shape", test_armor, 30);
	test_add(s, "/openpgp/clearsign/arguments", test_clearsign_arguments, 30);
	test_add(s, "/openpgp/fuzz-seeds", test_fuzz_seeds, 30);
	return test_run(s);
}
