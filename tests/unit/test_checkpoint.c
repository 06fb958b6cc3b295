/*
 * test_checkpoint.c — C2SP checkpoints in signed notes: the exact text we
 * write, genuine notes of each key type, and every way a note can be
 * malformed, forged or oversized.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "b64.h"
#include "checkpoint.h"
#include "crypto.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S 120

#define ORIGIN  "log.example.com/signet"
#define EM_DASH "\xe2\x80\x94"

/* Keys made once in main(), before Check forks. */
static EVP_PKEY *ec_priv, *ec_pub, *ed_priv, *ed_pub, *rsa_priv, *rsa_pub;
static EVP_PKEY *other_priv, *other_pub; /* another EC key */

static EVP_PKEY *
public_only(EVP_PKEY *priv)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int len = i2d_PUBKEY(priv, &der);

	if (len <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	return pub;
}

static void
fill_root(uint8_t root[SHA256_LEN], uint8_t seed)
{
	for (size_t i = 0; i < SHA256_LEN; i++)
		root[i] = (uint8_t)(seed + i * 13);
}

/* Concatenates NUL-terminated strings up to a NULL. */
static char *
cat(const char *s, ...)
{
	va_list ap;
	size_t len = 0, o = 0;
	const char *p;
	char *out;

	va_start(ap, s);
	for (p = s; p != NULL; p = va_arg(ap, const char *))
		len += strlen(p);
	va_end(ap);
	out = malloc(len + 1);
	ck_assert_ptr_nonnull(out);
	va_start(ap, s);
	for (p = s; p != NULL; p = va_arg(ap, const char *)) {
		memcpy(out + o, p, strlen(p));
		o += strlen(p);
	}
	va_end(ap);
	out[o] = '\0';
	return out;
}

/* "— <name> <base64(blob)>\n" */
static char *
raw_line(const char *name, const uint8_t *blob, size_t len)
{
	char *b64 = NULL, *line;

	ck_assert_int_eq(b64_encode(blob, len, &b64), 0);
	line = cat(EM_DASH " ", name, " ", b64, "\n", (const char *)NULL);
	free(b64);
	return line;
}

/* A genuine signature line of priv under name over text. */
static char *
sig_line(EVP_PKEY *priv, const char *name, const char *text)
{
	uint8_t keyid[CHECKPOINT_KEYID_LEN], *sig = NULL, *blob;
	size_t sig_len = 0;
	char *line;

	ck_assert_int_eq(checkpoint_key_id(priv, name, keyid), 0);
	ck_assert_int_eq(crypto_sign(priv, (const uint8_t *)text, strlen(text), &sig, &sig_len), 0);
	blob = malloc(CHECKPOINT_KEYID_LEN + sig_len);
	ck_assert_ptr_nonnull(blob);
	memcpy(blob, keyid, CHECKPOINT_KEYID_LEN);
	memcpy(blob + CHECKPOINT_KEYID_LEN, sig, sig_len);
	line = raw_line(name, blob, CHECKPOINT_KEYID_LEN + sig_len);
	free(blob);
	free(sig);
	return line;
}

static char *
body_of(const char *origin, uint64_t size, const uint8_t root[SHA256_LEN])
{
	struct checkpoint cp;
	char *body = NULL;
	size_t len = 0;

	memset(&cp, 0, sizeof(cp));
	ck_assert_uint_lt(strlen(origin), sizeof(cp.origin));
	strcpy(cp.origin, origin);
	cp.size = size;
	memcpy(cp.root, root, SHA256_LEN);
	ck_assert_int_eq(checkpoint_body(&cp, &body, &len), 0);
	ck_assert_uint_eq(len, strlen(body));
	return body;
}

/* A genuine note made the way the agent makes it. */
static char *
genuine(EVP_PKEY *priv, const char *origin, uint64_t size, const uint8_t root[SHA256_LEN])
{
	uint8_t keyid[CHECKPOINT_KEYID_LEN], *sig = NULL;
	size_t sig_len = 0, len = 0;
	char *body = body_of(origin, size, root), *note = NULL;

	ck_assert_int_eq(checkpoint_key_id(priv, origin, keyid), 0);
	ck_assert_int_eq(crypto_sign(priv, (const uint8_t *)body, strlen(body), &sig, &sig_len), 0);
	ck_assert_int_eq(
	    checkpoint_assemble(body, strlen(body), origin, keyid, sig, sig_len, &note, &len), 0);
	ck_assert_uint_eq(len, strlen(note));
	free(sig);
	free(body);
	return note;
}

/* Opens len bytes and expects want; on failure the output is untouched. */
static void
expect_len(
    const char *note, size_t len, EVP_PKEY *pub, const char *name, const char *origin, int want)
{
	struct checkpoint cp, sentinel;
	int r;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	cp = sentinel;
	r = checkpoint_open(note, len, pub, name, origin, &cp);
	ck_assert_msg(r == want, "checkpoint_open gave %d, want %d, for \"%.*s\"", r, want,
	    (int)(len < 400 ? len : 400), note);
	if (want != 0)
		ck_assert(memcmp(&cp, &sentinel, sizeof(cp)) == 0);
}

static void
expect(const char *note, EVP_PKEY *pub, const char *name, const char *origin, int want)
{
	expect_len(note, strlen(note), pub, name, origin, want);
}

/* A note over an arbitrary text, signed by our EC key under ORIGIN. */
static char *
signed_text(const char *text)
{
	char *line = sig_line(ec_priv, ORIGIN, text), *note;

	note = cat(text, "\n", line, (const char *)NULL);
	free(line);
	return note;
}

START_TEST(test_origin_ok)
{
	char s[CHECKPOINT_ORIGIN_MAX + 2];

	ck_assert(checkpoint_origin_ok(ORIGIN));
	ck_assert(checkpoint_origin_ok("a"));
	ck_assert(checkpoint_origin_ok("!~"));
	ck_assert(!checkpoint_origin_ok(NULL));
	ck_assert(!checkpoint_origin_ok(""));
	ck_assert(!checkpoint_origin_ok("a b"));
	ck_assert(!checkpoint_origin_ok(" a"));
	ck_assert(!checkpoint_origin_ok("a+b"));
	ck_assert(!checkpoint_origin_ok("+"));
	ck_assert(!checkpoint_origin_ok("a\tb"));
	ck_assert(!checkpoint_origin_ok("a\nb"));
	ck_assert(!checkpoint_origin_ok("a\x7f"));
	ck_assert(!checkpoint_origin_ok("cl\xc3\xa9"));
	memset(s, 'a', CHECKPOINT_ORIGIN_MAX);
	s[CHECKPOINT_ORIGIN_MAX] = '\0';
	ck_assert(checkpoint_origin_ok(s));
	s[CHECKPOINT_ORIGIN_MAX] = 'a';
	s[CHECKPOINT_ORIGIN_MAX + 1] = '\0';
	ck_assert(!checkpoint_origin_ok(s));
}
END_TEST

START_TEST(test_body_format)
{
	uint8_t root[SHA256_LEN];
	char *b64 = NULL, *want, *body;

	fill_root(root, 7);
	ck_assert_int_eq(b64_encode(root, sizeof(root), &b64), 0);
	ck_assert_uint_eq(strlen(b64), 44);

	body = body_of(ORIGIN, 12345, root);
	want = cat(ORIGIN "\n12345\n", b64, "\n", (const char *)NULL);
	ck_assert_str_eq(body, want);
	free(body);
	free(want);

	body = body_of(ORIGIN, 0, root);
	want = cat(ORIGIN "\n0\n", b64, "\n", (const char *)NULL);
	ck_assert_str_eq(body, want);
	free(body);
	free(want);

	body = body_of(ORIGIN, UINT64_MAX, root);
	want = cat(ORIGIN "\n18446744073709551615\n", b64, "\n", (const char *)NULL);
	ck_assert_str_eq(body, want);
	free(body);
	free(want);
	free(b64);
}
END_TEST

START_TEST(test_body_refuses_bad_origin)
{
	static char untouched[] = "untouched";
	struct checkpoint cp;
	char *body = untouched;
	size_t len = 4242;

	memset(&cp, 0, sizeof(cp));
	ck_assert_int_eq(checkpoint_body(&cp, &body, &len), SG_ERR_INVALID_ARGUMENT);
	strcpy(cp.origin, "a b");
	ck_assert_int_eq(checkpoint_body(&cp, &body, &len), SG_ERR_INVALID_ARGUMENT);
	strcpy(cp.origin, "a+b");
	ck_assert_int_eq(checkpoint_body(&cp, &body, &len), SG_ERR_INVALID_ARGUMENT);
	/* No NUL inside the array. */
	memset(cp.origin, 'a', sizeof(cp.origin));
	ck_assert_int_eq(checkpoint_body(&cp, &body, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_str_eq(body, "untouched");
	ck_assert_uint_eq(len, 4242);
	ck_assert_int_eq(checkpoint_body(NULL, &body, &len), SG_ERR_INVALID_ARGUMENT);
	/* 255 bytes is fine. */
	cp.origin[CHECKPOINT_ORIGIN_MAX] = '\0';
	body = NULL;
	ck_assert_int_eq(checkpoint_body(&cp, &body, &len), 0);
	ck_assert_uint_eq(len, CHECKPOINT_ORIGIN_MAX + 1 + 2 + 44 + 1);
	free(body);
}
END_TEST

/* The key ID formula of checkpoint.h, computed independently. */
START_TEST(test_key_id)
{
	uint8_t id[CHECKPOINT_KEYID_LEN], id2[CHECKPOINT_KEYID_LEN], md[SHA256_LEN];
	unsigned char *der = NULL;
	int der_len = i2d_PUBKEY(ec_pub, &der);
	size_t n = strlen(ORIGIN);
	uint8_t *buf;

	ck_assert_int_gt(der_len, 0);
	buf = malloc(n + 2 + 20 + (size_t)der_len);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, ORIGIN, n);
	buf[n] = 0x0a;
	buf[n + 1] = 0xff;
	memcpy(buf + n + 2, "signet-checkpoint-v1", 20);
	memcpy(buf + n + 22, der, (size_t)der_len);
	crypto_sha256(buf, n + 22 + (size_t)der_len, md);

	ck_assert_int_eq(checkpoint_key_id(ec_pub, ORIGIN, id), 0);
	ck_assert(memcmp(id, md, CHECKPOINT_KEYID_LEN) == 0);
	/* Private and public halves agree. */
	ck_assert_int_eq(checkpoint_key_id(ec_priv, ORIGIN, id2), 0);
	ck_assert(memcmp(id, id2, CHECKPOINT_KEYID_LEN) == 0);
	/* Another name or another key gives another ID. */
	ck_assert_int_eq(checkpoint_key_id(ec_pub, ORIGIN "2", id2), 0);
	ck_assert(memcmp(id, id2, CHECKPOINT_KEYID_LEN) != 0);
	ck_assert_int_eq(checkpoint_key_id(other_pub, ORIGIN, id2), 0);
	ck_assert(memcmp(id, id2, CHECKPOINT_KEYID_LEN) != 0);
	/* Bad arguments. */
	memset(id2, 0x5c, sizeof(id2));
	ck_assert_int_eq(checkpoint_key_id(NULL, ORIGIN, id2), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(checkpoint_key_id(ec_pub, "a b", id2), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(checkpoint_key_id(ec_pub, "", id2), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(checkpoint_key_id(ec_pub, NULL, id2), SG_ERR_INVALID_ARGUMENT);
	ck_assert_uint_eq(id2[0], 0x5c);
	free(buf);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_assemble_format)
{
	static const uint8_t keyid[CHECKPOINT_KEYID_LEN] = { 1, 2, 3, 4 };
	static const uint8_t sig[] = { 0xaa, 0xbb };
	char *note = NULL;
	size_t len = 0;

	/* base64(01 02 03 04 aa bb) = "AQIDBKq7" */
	ck_assert_int_eq(
	    checkpoint_assemble("a\n1\nb\n", 6, "k", keyid, sig, sizeof(sig), &note, &len), 0);
	ck_assert_str_eq(note, "a\n1\nb\n\n" EM_DASH " k AQIDBKq7\n");
	ck_assert_uint_eq(len, strlen(note));
	free(note);
}
END_TEST

START_TEST(test_assemble_refuses)
{
	static const uint8_t keyid[CHECKPOINT_KEYID_LEN] = { 1, 2, 3, 4 };
	static char untouched[] = "untouched";
	uint8_t sig[CHECKPOINT_MAX + 1];
	char *note = untouched, *body;
	size_t len = 77, body_len, sig_len, b64_len;

	memset(sig, 0x11, sizeof(sig));
	ck_assert_int_eq(checkpoint_assemble("a\n1\nb", 5, "k", keyid, sig, 2, &note, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    checkpoint_assemble("", 0, "k", keyid, sig, 2, &note, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    checkpoint_assemble(NULL, 5, "k", keyid, sig, 2, &note, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(checkpoint_assemble("a\n", 2, "k k", keyid, sig, 2, &note, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(checkpoint_assemble("a\n", 2, "k+", keyid, sig, 2, &note, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    checkpoint_assemble("a\n", 2, "", keyid, sig, 2, &note, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    checkpoint_assemble("a\n", 2, "k", NULL, sig, 2, &note, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(checkpoint_assemble("a\n", 2, "k", keyid, NULL, 2, &note, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(checkpoint_assemble("a\n", 2, "k", keyid, sig, 0, &note, &len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    checkpoint_assemble("a\n", 2, "k", keyid, sig, sizeof(sig), &note, &len), SG_ERR_LIMIT);
	ck_assert_str_eq(note, "untouched");
	ck_assert_uint_eq(len, 77);

	/* Exactly CHECKPOINT_MAX bytes, then one more.  A signature of 3m - 4
	 * bytes encodes (with the key ID) to 4m characters; the body takes
	 * up the slack: body + "\n" + "— k " (6 bytes) + 4m + "\n". */
	sig_len = 3 * 2000 - CHECKPOINT_KEYID_LEN;
	b64_len = 4 * 2000;
	body_len = CHECKPOINT_MAX - 1 - 6 - b64_len - 1;
	body = malloc(body_len + 2);
	ck_assert_ptr_nonnull(body);
	memset(body, 'x', body_len + 1);
	body[body_len - 1] = '\n';
	note = NULL;
	ck_assert_int_eq(
	    checkpoint_assemble(body, body_len, "k", keyid, sig, sig_len, &note, &len), 0);
	ck_assert_uint_eq(len, CHECKPOINT_MAX);
	free(note);
	body[body_len - 1] = 'x';
	body[body_len] = '\n';
	note = untouched;
	ck_assert_int_eq(
	    checkpoint_assemble(body, body_len + 1, "k", keyid, sig, sig_len, &note, &len),
	    SG_ERR_LIMIT);
	ck_assert_str_eq(note, "untouched");
	free(body);
}
END_TEST

static void
assert_genuine(EVP_PKEY *priv, EVP_PKEY *pub)
{
	static const uint64_t sizes[] = { 0, 1, 7, 1000000, UINT64_MAX };
	uint8_t root[SHA256_LEN];
	struct checkpoint cp;
	char *note;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill_root(root, (uint8_t)(i + 1));
		note = genuine(priv, ORIGIN, sizes[i], root);
		memset(&cp, 0xa5, sizeof(cp));
		ck_assert_int_eq(checkpoint_open(note, strlen(note), pub, NULL, NULL, &cp), 0);
		ck_assert_str_eq(cp.origin, ORIGIN);
		ck_assert_uint_eq(cp.size, sizes[i]);
		ck_assert(memcmp(cp.root, root, SHA256_LEN) == 0);
		/* The same with the name and the origin spelled out. */
		memset(&cp, 0xa5, sizeof(cp));
		ck_assert_int_eq(checkpoint_open(note, strlen(note), pub, ORIGIN, ORIGIN, &cp), 0);
		ck_assert_uint_eq(cp.size, sizes[i]);
		/* The private key works as the verifier too. */
		expect(note, priv, NULL, ORIGIN, 0);
		/* And no other key. */
		expect(note, other_pub, NULL, NULL, SG_ERR_VERIFY);
		free(note);
	}
}

START_TEST(test_open_genuine_ec)
{
	assert_genuine(ec_priv, ec_pub);
}
END_TEST

START_TEST(test_open_genuine_ed25519)
{
	assert_genuine(ed_priv, ed_pub);
}
END_TEST

START_TEST(test_open_genuine_rsa)
{
	assert_genuine(rsa_priv, rsa_pub);
}
END_TEST

/* A key name other than the origin. */
START_TEST(test_open_key_name)
{
	uint8_t root[SHA256_LEN];
	char *body, *line, *note;

	fill_root(root, 3);
	body = body_of(ORIGIN, 5, root);
	line = sig_line(ec_priv, "signet-agent-1", body);
	note = cat(body, "\n", line, (const char *)NULL);
	expect(note, ec_pub, "signet-agent-1", NULL, 0);
	expect(note, ec_pub, "signet-agent-1", ORIGIN, 0);
	/* Without the name the origin is the key name: no line of it. */
	expect(note, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	expect(note, ec_pub, "signet-agent-2", NULL, SG_ERR_VERIFY);
	free(note);
	free(line);
	free(body);
}
END_TEST

/* Replaces the first occurrence of from in s by to (new string). */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *head, *out;

	ck_assert_ptr_nonnull(at);
	head = strndup(s, (size_t)(at - s));
	ck_assert_ptr_nonnull(head);
	out = cat(head, to, at + strlen(from), (const char *)NULL);
	free(head);
	return out;
}

START_TEST(test_open_refuses_changed_fields)
{
	uint8_t root[SHA256_LEN], root2[SHA256_LEN];
	char *note = NULL, *bad, *b64 = NULL, *b64_2 = NULL;

	fill_root(root, 9);
	fill_root(root2, 10);
	ck_assert_int_eq(b64_encode(root, SHA256_LEN, &b64), 0);
	ck_assert_int_eq(b64_encode(root2, SHA256_LEN, &b64_2), 0);
	note = genuine(ec_priv, ORIGIN, 4242, root);
	expect(note, ec_pub, NULL, ORIGIN, 0);

	bad = replace(note, "\n4242\n", "\n4243\n");
	expect(bad, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	free(bad);
	bad = replace(note, "\n4242\n", "\n424\n");
	expect(bad, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	free(bad);
	bad = replace(note, b64, b64_2);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	free(bad);
	/* Another origin: the signature line no longer names our key, or it
	 * does (name given) and the signature does not verify. */
	bad = replace(note, ORIGIN "\n", "log.example.org/signet\n");
	expect(bad, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	expect(bad, ec_pub, ORIGIN, NULL, SG_ERR_VERIFY);
	expect(bad, ec_pub, NULL, "log.example.org/signet", SG_ERR_VERIFY);
	free(bad);
	/* The wrong expected origin. */
	expect(note, ec_pub, NULL, "log.example.org/signet", SG_ERR_PARSE);
	expect(note, ec_pub, NULL, ORIGIN "x", SG_ERR_PARSE);
	expect(note, ec_pub, NULL, "log.example.com/signe", SG_ERR_PARSE);
	/* The wrong key. */
	expect(note, other_pub, NULL, ORIGIN, SG_ERR_VERIFY);
	expect(note, rsa_pub, NULL, ORIGIN, SG_ERR_VERIFY);
	free(note);
	free(b64);
	free(b64_2);
}
END_TEST

START_TEST(test_open_refuses_other_key_only)
{
	uint8_t root[SHA256_LEN];
	char *body, *l1, *l2, *note;

	fill_root(root, 11);
	body = body_of(ORIGIN, 8, root);
	/* Same name, other key (so another key ID); other name, our key. */
	l1 = sig_line(other_priv, ORIGIN, body);
	l2 = sig_line(ec_priv, "someone-else", body);
	note = cat(body, "\n", l1, l2, (const char *)NULL);
	expect(note, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	expect(note, other_pub, NULL, NULL, 0);
	expect(note, ec_pub, "someone-else", NULL, 0);
	free(note);
	free(l1);
	free(l2);
	free(body);
}
END_TEST

START_TEST(test_open_ignores_foreign_lines)
{
	static const uint8_t junk[] = { 9, 9, 9, 9, 1, 2, 3 };
	uint8_t root[SHA256_LEN], keyid[CHECKPOINT_KEYID_LEN], blob[40];
	char *body, *ours, *f1, *f2, *f3, *f4, *note;

	fill_root(root, 12);
	body = body_of(ORIGIN, 99, root);
	ours = sig_line(ec_priv, ORIGIN, body);
	f1 = sig_line(ed_priv, "witness.example/w1", body);
	/* Our name, another key ID, garbage: someone else's key named like us. */
	f2 = raw_line(ORIGIN, junk, sizeof(junk));
	/* Another name with our key ID and garbage. */
	ck_assert_int_eq(checkpoint_key_id(ec_pub, ORIGIN, keyid), 0);
	memset(blob, 0x33, sizeof(blob));
	memcpy(blob, keyid, sizeof(keyid));
	f3 = raw_line("other.example", blob, sizeof(blob));
	/* A valid UTF-8 name with non-ASCII letters; the shortest signature. */
	f4 = raw_line("cl\xc3\xa9", junk + 2, 5);
	note = cat(body, "\n", f1, f2, ours, f3, f4, (const char *)NULL);
	expect(note, ec_pub, NULL, ORIGIN, 0);
	free(note);
	note = cat(body, "\n", ours, f1, f2, f3, f4, (const char *)NULL);
	expect(note, ec_pub, NULL, ORIGIN, 0);
	free(note);
	note = cat(body, "\n", f4, f3, f2, f1, ours, (const char *)NULL);
	expect(note, ec_pub, NULL, ORIGIN, 0);
	free(note);
	/* Two good lines of ours are fine too. */
	note = cat(body, "\n", ours, f1, ours, (const char *)NULL);
	expect(note, ec_pub, NULL, ORIGIN, 0);
	free(note);
	/* Foreign lines alone do not make a note valid. */
	note = cat(body, "\n", f1, f2, f3, f4, (const char *)NULL);
	expect(note, ec_pub, NULL, ORIGIN, SG_ERR_VERIFY);
	free(note);
	free(body);
	free(ours);
	free(f1);
	free(f2);
	free(f3);
	free(f4);
}
END_TEST

/* A line with our name and key ID that does not verify spoils the note. */
START_TEST(test_open_refuses_bad_line_of_ours)
{
	uint8_t root[SHA256_LEN], keyid[CHECKPOINT_KEYID_LEN], *sig = NULL, *blob;
	char *body, *ours, *forged, *other_text, *note;
	size_t sig_len = 0;

	fill_root(root, 13);
	body = body_of(ORIGIN, 100, root);
	ours = sig_line(ec_priv, ORIGIN, body);
	/* Our key ID, a signature by another key. */
	ck_assert_int_eq(checkpoint_key_id(ec_pub, ORIGIN, keyid), 0);
	ck_assert_int_eq(
	    crypto_sign(other_priv, (const uint8_t *)body, strlen(body), &sig, &sig_len), 0);
	blob = malloc(CHECKPOINT_KEYID_LEN + sig_len);
	ck_assert_ptr_nonnull(blob);
	memcpy(blob, keyid, CHECKPOINT_KEYID_LEN);
	memcpy(blob + CHECKPOINT_KEYID_LEN, sig, sig_len);
	forged = raw_line(ORIGIN, blob, CHECKPOINT_KEYID_LEN + sig_len);
	note = cat(body, "\n", ours, forged, (const char *)NULL);
	expect(note, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	free(note);
	note = cat(body, "\n", forged, ours, (const char *)NULL);
	expect(note, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	free(note);
	/* Our key's genuine signature over another text. */
	other_text = body_of(ORIGIN, 101, root);
	free(forged);
	forged = sig_line(ec_priv, ORIGIN, other_text);
	note = cat(body, "\n", ours, forged, (const char *)NULL);
	expect(note, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	free(note);
	/* A one-byte signature. */
	free(forged);
	forged = raw_line(ORIGIN, blob, CHECKPOINT_KEYID_LEN + 1);
	note = cat(body, "\n", ours, forged, (const char *)NULL);
	expect(note, ec_pub, NULL, NULL, SG_ERR_VERIFY);
	free(note);
	free(forged);
	free(other_text);
	free(blob);
	free(sig);
	free(ours);
	free(body);
}
END_TEST

/* Every bit of our signature line's key ID and signature matters. */
START_TEST(test_open_signature_bit_flips)
{
	uint8_t root[SHA256_LEN], keyid[CHECKPOINT_KEYID_LEN], *sig = NULL, *blob;
	char *body, *line, *note;
	size_t sig_len = 0, i, n;
	int bit;

	fill_root(root, 14);
	body = body_of(ORIGIN, 77, root);
	ck_assert_int_eq(checkpoint_key_id(ec_priv, ORIGIN, keyid), 0);
	ck_assert_int_eq(
	    crypto_sign(ec_priv, (const uint8_t *)body, strlen(body), &sig, &sig_len), 0);
	n = CHECKPOINT_KEYID_LEN + sig_len;
	blob = malloc(n);
	ck_assert_ptr_nonnull(blob);
	memcpy(blob, keyid, CHECKPOINT_KEYID_LEN);
	memcpy(blob + CHECKPOINT_KEYID_LEN, sig, sig_len);
	for (i = 0; i < n; i++) {
		for (bit = 0; bit < 8; bit++) {
			blob[i] ^= (uint8_t)(1u << bit);
			line = raw_line(ORIGIN, blob, n);
			note = cat(body, "\n", line, (const char *)NULL);
			expect(note, ec_pub, NULL, NULL, SG_ERR_VERIFY);
			free(note);
			free(line);
			blob[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* Truncated signatures (down to one byte). */
	for (i = n - 1; i >= CHECKPOINT_KEYID_LEN + 1; i--) {
		line = raw_line(ORIGIN, blob, i);
		note = cat(body, "\n", line, (const char *)NULL);
		expect(note, ec_pub, NULL, NULL, SG_ERR_VERIFY);
		free(note);
		free(line);
	}
	/* Unchanged, it verifies. */
	line = raw_line(ORIGIN, blob, n);
	note = cat(body, "\n", line, (const char *)NULL);
	expect(note, ec_pub, NULL, NULL, 0);
	free(note);
	free(line);
	free(blob);
	free(sig);
	free(body);
}
END_TEST

/* Every byte of a genuine note, flipped, and every truncation: refused. */
START_TEST(test_open_note_mutations)
{
	uint8_t root[SHA256_LEN];
	struct checkpoint cp;
	char *note, *copy;
	size_t len, i;
	int r;

	fill_root(root, 15);
	note = genuine(ed_priv, ORIGIN, 31337, root);
	len = strlen(note);
	copy = malloc(len);
	ck_assert_ptr_nonnull(copy);
	for (i = 0; i < len; i++) {
		memcpy(copy, note, len);
		copy[i] ^= 0x01;
		r = checkpoint_open(copy, len, ed_pub, NULL, NULL, &cp);
		ck_assert_msg(
		    r == SG_ERR_PARSE || r == SG_ERR_VERIFY, "byte %zu flipped: %d", i, r);
	}
	for (i = 0; i < len; i++)
		expect_len(note, i, ed_pub, NULL, NULL, SG_ERR_PARSE);
	expect_len(note, len, ed_pub, NULL, NULL, 0);
	free(copy);
	free(note);
}
END_TEST

START_TEST(test_open_refuses_structure)
{
	uint8_t root[SHA256_LEN];
	char *note, *bad, *body, *line, *text;

	fill_root(root, 16);
	note = genuine(ec_priv, ORIGIN, 10, root);
	body = body_of(ORIGIN, 10, root);
	line = sig_line(ec_priv, ORIGIN, body);

	/* No blank line. */
	bad = cat(body, line, (const char *)NULL);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	/* Two blank lines. */
	bad = cat(body, "\n\n", line, (const char *)NULL);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	/* No signature line, or a blank line after it. */
	bad = cat(body, "\n", (const char *)NULL);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	bad = cat(note, "\n", (const char *)NULL);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	/* A blank line between signature lines: the split is at the last one,
	 * so the first signature line would be part of the text. */
	bad = cat(note, "\n", line, (const char *)NULL);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	/* Last line without its newline. */
	expect_len(note, strlen(note) - 1, ec_pub, NULL, NULL, SG_ERR_PARSE);
	/* CRLF. */
	bad = replace(note, "\n10\n", "\r\n10\n");
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	/* Empty input, and a lone newline. */
	expect_len("", 0, ec_pub, NULL, NULL, SG_ERR_PARSE);
	expect_len(NULL, 0, ec_pub, NULL, NULL, SG_ERR_PARSE);
	expect("\n", ec_pub, NULL, NULL, SG_ERR_PARSE);
	expect("\n\n", ec_pub, NULL, NULL, SG_ERR_PARSE);

	/* An extension line, correctly signed: still refused. */
	text = cat(body, "extension\n", (const char *)NULL);
	bad = signed_text(text);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	free(text);
	/* A missing root line, correctly signed. */
	text = cat(ORIGIN "\n10\n", (const char *)NULL);
	bad = signed_text(text);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	free(text);
	/* An empty line inside the text: the text would end there. */
	text = replace(body, "\n10\n", "\n\n10\n");
	bad = signed_text(text);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	free(text);
	free(line);
	free(body);
	free(note);
}
END_TEST

/* Texts that are signed correctly but are not checkpoints we accept. */
START_TEST(test_open_refuses_body_fields)
{
	static const char *const bad_sizes[] = {
		"012",
		"00",
		"+12",
		"-1",
		" 12",
		"12 ",
		"1e3",
		"0x10",
		"",
		"18446744073709551616",
		"99999999999999999999",
		"100000000000000000000",
		"184467440737095516150",
	};
	uint8_t root[SHA256_LEN + 1];
	char *b64 = NULL, *text, *note;
	size_t i;

	fill_root(root, 17);
	root[SHA256_LEN] = 0x99;
	ck_assert_int_eq(b64_encode(root, SHA256_LEN, &b64), 0);
	/* The edges that pass. */
	text = cat(ORIGIN "\n0\n", b64, "\n", (const char *)NULL);
	note = signed_text(text);
	expect(note, ec_pub, NULL, NULL, 0);
	free(note);
	free(text);
	text = cat(ORIGIN "\n18446744073709551615\n", b64, "\n", (const char *)NULL);
	note = signed_text(text);
	expect(note, ec_pub, NULL, NULL, 0);
	free(note);
	free(text);
	for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		text = cat(ORIGIN "\n", bad_sizes[i], "\n", b64, "\n", (const char *)NULL);
		note = signed_text(text);
		expect(note, ec_pub, NULL, NULL, SG_ERR_PARSE);
		free(note);
		free(text);
	}
	free(b64);
	/* Roots of 31 and 33 bytes, and no root. */
	for (i = 0; i < 3; i++) {
		size_t n = i == 0 ? 31 : i == 1 ? 33 : 0;
		ck_assert_int_eq(b64_encode(root, n, &b64), 0);
		text = cat(ORIGIN "\n5\n", b64, "\n", (const char *)NULL);
		note = signed_text(text);
		expect(note, ec_pub, NULL, NULL, SG_ERR_PARSE);
		free(note);
		free(text);
		free(b64);
	}
	/* A non-canonical root encoding (unused bits set), and base64url. */
	text = cat(
	    ORIGIN "\n5\n", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n", (const char *)NULL);
	note = signed_text(text);
	expect(note, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(note);
	free(text);
	text = cat(
	    ORIGIN "\n5\n", "_-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", (const char *)NULL);
	note = signed_text(text);
	expect(note, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(note);
	free(text);
}
END_TEST

static void
expect_origin(const char *origin, int want)
{
	uint8_t root[SHA256_LEN];
	char *b64 = NULL, *text, *line, *note;

	fill_root(root, 18);
	ck_assert_int_eq(b64_encode(root, SHA256_LEN, &b64), 0);
	text = cat(origin, "\n3\n", b64, "\n", (const char *)NULL);
	/* Signed under a valid key name so that only the origin is at fault. */
	line = sig_line(ec_priv, "k", text);
	note = cat(text, "\n", line, (const char *)NULL);
	expect(note, ec_pub, "k", NULL, want);
	free(note);
	free(line);
	free(text);
	free(b64);
}

START_TEST(test_open_origin_edges)
{
	char s[CHECKPOINT_ORIGIN_MAX + 2];

	memset(s, 'o', CHECKPOINT_ORIGIN_MAX);
	s[CHECKPOINT_ORIGIN_MAX] = '\0';
	expect_origin(s, 0);
	s[CHECKPOINT_ORIGIN_MAX] = 'o';
	s[CHECKPOINT_ORIGIN_MAX + 1] = '\0';
	expect_origin(s, SG_ERR_PARSE);
	expect_origin("", SG_ERR_PARSE);
	expect_origin("log example", SG_ERR_PARSE);
	expect_origin("log+example", SG_ERR_PARSE);
	expect_origin("cl\xc3\xa9", SG_ERR_PARSE);
	expect_origin("~!", 0);
}
END_TEST

/* Control characters and invalid UTF-8, each in a foreign signature line
 * next to our good one (so nothing else is wrong). */
START_TEST(test_open_refuses_bytes)
{
	static const struct {
		const char *name;
		size_t len;
	} names[] = {
		{ "a\tb", 3 },
		{ "a\x01", 2 },
		{ "a\x7f", 2 },
		{ "a\x1b[0m", 5 },
		{ "a\xc2\x85", 3 }, /* U+0085, a C1 control */
		{ "a\xc2\x9f", 3 }, /* U+009F */
		{ "a\xff", 2 },
		{ "a\xc0\xaf", 3 },
		{ "a\x80", 2 },
		{ "a\xed\xa0\x80", 4 },
		{ "a\xf4\x90\x80\x80", 5 },
		{ "a\xe2\x80", 3 },
		{ "a\0b", 3 },
		{ "a\r", 2 },
	};
	static const uint8_t junk[] = { 1, 2, 3, 4, 5, 6 };
	uint8_t root[SHA256_LEN];
	char *note, *bad, *tail;
	size_t i, len, n, tail_len;

	fill_root(root, 19);
	note = genuine(ec_priv, ORIGIN, 2, root);
	len = strlen(note);
	ck_assert_int_eq(b64_encode(junk, sizeof(junk), &tail), 0);
	tail_len = strlen(tail);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* note "— " name " " tail "\n" */
		n = len + 4 + names[i].len + 1 + tail_len + 1;
		bad = malloc(n);
		ck_assert_ptr_nonnull(bad);
		memcpy(bad, note, len);
		memcpy(bad + len, EM_DASH " ", 4);
		memcpy(bad + len + 4, names[i].name, names[i].len);
		bad[len + 4 + names[i].len] = ' ';
		memcpy(bad + len + 5 + names[i].len, tail, tail_len);
		bad[n - 1] = '\n';
		expect_len(bad, n, ec_pub, NULL, NULL, SG_ERR_PARSE);
		/* The same line with a clean name is ignored. */
		memset(bad + len + 4, 'z', names[i].len);
		expect_len(bad, n, ec_pub, NULL, NULL, 0);
		free(bad);
	}
	free(tail);
	/* A NUL and a DEL in the text itself. */
	bad = strdup(note);
	ck_assert_ptr_nonnull(bad);
	bad[3] = '\0';
	expect_len(bad, len, ec_pub, NULL, NULL, SG_ERR_PARSE);
	bad[3] = 0x7f;
	expect_len(bad, len, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	free(note);
}
END_TEST

START_TEST(test_open_refuses_bad_sig_lines)
{
	static const uint8_t four[] = { 1, 2, 3, 4 };
	static const char *const lines[] = {
		"- foreign AQIDBAU=\n", /* not an em dash */
		"-- foreign AQIDBAU=\n",
		EM_DASH "foreign AQIDBAU=\n",   /* no space after the dash */
		EM_DASH "  foreign AQIDBAU=\n", /* empty name */
		EM_DASH " foreign\n",           /* no signature */
		EM_DASH " foreign \n",          /* empty signature */
		EM_DASH " foreign  AQIDBAU=\n", /* two spaces */
		EM_DASH " foreign AQIDBAU= \n", /* trailing space */
		EM_DASH " foreign AQIDBAU=x\n", /* not base64 */
		EM_DASH " foreign AQIDBAU\n",   /* unpadded */
		EM_DASH " foreign AQIDBAV=\n",  /* non-canonical */
		EM_DASH " fo+reign AQIDBAU=\n", /* '+' in the name */
		EM_DASH " foreign AQID BAU=\n",
		"\xe2\x80\x93 foreign AQIDBAU=\n", /* en dash */
		" " EM_DASH " foreign AQIDBAU=\n",
	};
	uint8_t root[SHA256_LEN];
	char *note, *bad, *four_line;
	size_t i;

	fill_root(root, 20);
	note = genuine(ec_priv, ORIGIN, 2, root);
	/* Sanity: the well-formed version of the foreign line is ignored. */
	bad = cat(note, EM_DASH " foreign AQIDBAU=\n", (const char *)NULL);
	expect(bad, ec_pub, NULL, NULL, 0);
	free(bad);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		bad = cat(note, lines[i], (const char *)NULL);
		expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
		free(bad);
	}
	/* Four bytes: a key ID and no signature. */
	four_line = raw_line("foreign", four, sizeof(four));
	bad = cat(note, four_line, (const char *)NULL);
	expect(bad, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(bad);
	free(four_line);
	free(note);
}
END_TEST

START_TEST(test_open_sig_count_limit)
{
	static const uint8_t junk[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	uint8_t root[SHA256_LEN];
	char *note, *bad, *foreign, *body, *ours, *tmp;
	size_t i;

	fill_root(root, 21);
	note = genuine(ec_priv, ORIGIN, 6, root);
	foreign = raw_line("foreign", junk, sizeof(junk));
	/* Ours + 15 foreign = CHECKPOINT_SIGS_MAX. */
	bad = strdup(note);
	for (i = 1; i < CHECKPOINT_SIGS_MAX; i++) {
		tmp = cat(bad, foreign, (const char *)NULL);
		free(bad);
		bad = tmp;
	}
	expect(bad, ec_pub, NULL, NULL, 0);
	tmp = cat(bad, foreign, (const char *)NULL);
	expect(tmp, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(tmp);
	free(bad);
	/* Same with our line last. */
	body = body_of(ORIGIN, 6, root);
	ours = sig_line(ec_priv, ORIGIN, body);
	bad = cat(body, "\n", (const char *)NULL);
	for (i = 1; i < CHECKPOINT_SIGS_MAX; i++) {
		tmp = cat(bad, foreign, (const char *)NULL);
		free(bad);
		bad = tmp;
	}
	tmp = cat(bad, ours, (const char *)NULL);
	expect(tmp, ec_pub, NULL, NULL, 0);
	free(tmp);
	tmp = cat(bad, foreign, ours, (const char *)NULL);
	expect(tmp, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(tmp);
	free(bad);
	free(ours);
	free(body);
	free(foreign);
	free(note);
}
END_TEST

START_TEST(test_open_size_limit)
{
	uint8_t root[SHA256_LEN], *blob;
	char *note, *line, *big, *name;
	size_t len, rest, m, k;

	fill_root(root, 22);
	note = genuine(ec_priv, ORIGIN, 6, root);
	len = strlen(note);
	/* One foreign line "— " name " " b64 "\n" (6 + k + 4m bytes) brings
	 * the note to exactly CHECKPOINT_MAX. */
	rest = CHECKPOINT_MAX - len;
	m = (rest - 7) / 4;
	k = rest - 6 - 4 * m;
	ck_assert_uint_ge(k, 1);
	ck_assert_uint_le(k, 4);
	blob = calloc(3 * m, 1);
	name = calloc(k + 2, 1);
	ck_assert_ptr_nonnull(blob);
	ck_assert_ptr_nonnull(name);
	memset(name, 'n', k);
	line = raw_line(name, blob, 3 * m);
	big = cat(note, line, (const char *)NULL);
	ck_assert_uint_eq(strlen(big), CHECKPOINT_MAX);
	expect(big, ec_pub, NULL, NULL, 0);
	free(big);
	free(line);
	name[k] = 'n';
	line = raw_line(name, blob, 3 * m);
	big = cat(note, line, (const char *)NULL);
	ck_assert_uint_eq(strlen(big), CHECKPOINT_MAX + 1);
	expect(big, ec_pub, NULL, NULL, SG_ERR_PARSE);
	free(big);
	free(line);
	free(name);
	free(blob);
	free(note);
}
END_TEST

START_TEST(test_open_bad_arguments)
{
	uint8_t root[SHA256_LEN];
	struct checkpoint cp;
	char *note;

	fill_root(root, 23);
	note = genuine(ec_priv, ORIGIN, 1, root);
	expect(note, NULL, NULL, NULL, SG_ERR_INVALID_ARGUMENT);
	expect(note, ec_pub, "a b", NULL, SG_ERR_INVALID_ARGUMENT);
	expect(note, ec_pub, "", NULL, SG_ERR_INVALID_ARGUMENT);
	expect(note, ec_pub, NULL, "a+b", SG_ERR_INVALID_ARGUMENT);
	expect_len(NULL, 5, ec_pub, NULL, NULL, SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    checkpoint_open(note, strlen(note), ec_pub, NULL, NULL, NULL), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(checkpoint_open(note, strlen(note), ec_pub, NULL, NULL, &cp), 0);
	free(note);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("checkpoint");
	int status;

	ec_priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other_priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ed_priv = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	rsa_priv = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	if (ec_priv == NULL || other_priv == NULL || ed_priv == NULL || rsa_priv == NULL)
		return EXIT_FAILURE;
	ec_pub = public_only(ec_priv);
	other_pub = public_only(other_priv);
	ed_pub = public_only(ed_priv);
	rsa_pub = public_only(rsa_priv);
	if (ec_pub == NULL || other_pub == NULL || ed_pub == NULL || rsa_pub == NULL)
		return EXIT_FAILURE;

	test_add(s, "/checkpoint/origin-ok/edges", test_origin_ok, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/body/format", test_body_format, TEST_TIMEOUT_S);
	test_add(
	    s, "/checkpoint/body/refuses-bad-origin", test_body_refuses_bad_origin, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/key-id/formula", test_key_id, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/assemble/format", test_assemble_format, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/assemble/refuses", test_assemble_refuses, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/genuine-ec-p256", test_open_genuine_ec, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/genuine-ed25519", test_open_genuine_ed25519, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/genuine-rsa-3072", test_open_genuine_rsa, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/key-name-not-origin", test_open_key_name, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/refuses-changed-fields", test_open_refuses_changed_fields,
	    TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/refuses-other-key-only", test_open_refuses_other_key_only,
	    TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/ignores-foreign-lines", test_open_ignores_foreign_lines,
	    TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/refuses-bad-line-of-ours", test_open_refuses_bad_line_of_ours,
	    TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/signature-bit-flips", test_open_signature_bit_flips,
	    TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/note-mutations", test_open_note_mutations, TEST_TIMEOUT_S);
	test_add(
	    s, "/checkpoint/open/refuses-structure", test_open_refuses_structure, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/refuses-body-fields", test_open_refuses_body_fields,
	    TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/origin-edges", test_open_origin_edges, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/refuses-control-and-bad-utf8", test_open_refuses_bytes,
	    TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/refuses-bad-signature-lines", test_open_refuses_bad_sig_lines,
	    TEST_TIMEOUT_S);
	test_add(
	    s, "/checkpoint/open/signature-count-limit", test_open_sig_count_limit, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/size-limit", test_open_size_limit, TEST_TIMEOUT_S);
	test_add(s, "/checkpoint/open/bad-arguments", test_open_bad_arguments, TEST_TIMEOUT_S);

	status = test_run(s);
	EVP_PKEY_free(ec_priv);
	EVP_PKEY_free(ec_pub);
	EVP_PKEY_free(other_priv);
	EVP_PKEY_free(other_pub);
	EVP_PKEY_free(ed_priv);
	EVP_PKEY_free(ed_pub);
	EVP_PKEY_free(rsa_priv);
	EVP_PKEY_free(rsa_pub);
	return status;
}
