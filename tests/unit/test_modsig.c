/*
 * test_modsig.c — modsig.h: the kernel module signature trailer.  The
 * exact bytes modsig_append() writes, split and append as inverses, a
 * module signed by the kernel's scripts/sign-file (from fuzz/corpus/modsig),
 * and every way a trailer or the module before it can be wrong.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modsig.h"
#include "testlib.h"
#include "util.h"

int main(void);

#define TEST_TIMEOUT_S 60
#define CORPUS_DIR     TEST_DATA_DIR "/../../fuzz/corpus/modsig"
#define DATA_FILE_MAX  (64 * 1024)
#define SENTINEL_PTR   ((const uint8_t *)0x5a5a)
#define SENTINEL_OUT   ((uint8_t *)(uintptr_t)0x5a5a)
#define TRAILER        (MODSIG_INFO_LEN + MODSIG_MARKER_LEN)

/* A stand-in PKCS#7: one DER SEQUENCE, 13 bytes. */
static const uint8_t fake_p7[] = { 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x07, 0x02 };

/* len bytes that begin like an ELF file of that class (1: 32-bit, 2:
 * 64-bit), then a pattern.  The caller frees it. */
static uint8_t *
elf(int class, size_t len)
{
	uint8_t *b = malloc(len);

	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 11 + 5);
	if (len >= 7) {
		static const uint8_t magic[4] = { 0x7f, 'E', 'L', 'F' };

		memcpy(b, magic, sizeof(magic));
		b[4] = (uint8_t) class;
		b[5] = 1; /* little-endian */
		b[6] = 1; /* EV_CURRENT */
	}
	return b;
}

/* A DER SEQUENCE of exactly n bytes, a pattern inside: n is 2..129
 * (short form), 131..258 (0x81), 260..65539 (0x82) or 65541..2^24+4
 * (0x83); DER has no SEQUENCE of the lengths between.  The caller frees
 * it. */
static uint8_t *
der(size_t n)
{
	uint8_t *b = malloc(n);
	size_t k = n - 2 < 0x80 ? 0 : n - 3 < 0x100 ? 1 : n - 4 < 0x10000 ? 2 : 3;
	size_t body = n - 2 - k;

	ck_assert_ptr_nonnull(b);
	ck_assert(k == 0 || (body >= ((size_t)1 << (8 * (k - 1))) && body >= 0x80));
	memset(b, 0x42, n);
	b[0] = 0x30;
	b[1] = (uint8_t)(k == 0 ? body : 0x80 | k);
	for (size_t i = 0; i < k; i++)
		b[2 + i] = (uint8_t)(body >> (8 * (k - 1 - i)));
	return b;
}

/* modsig_split() must refuse with r, `want` in the reason, outputs
 * untouched. */
static void
refused(const uint8_t *b, size_t len, int r, const char *want)
{
	const uint8_t *sig = SENTINEL_PTR;
	size_t ulen = 77, slen = 78;
	int is_signed = 79;
	char why[MODSIG_WHY_MAX] = "";

	ck_assert_int_eq(modsig_split(b, len, &ulen, &is_signed, &sig, &slen, why, sizeof(why)), r);
	ck_assert_msg(strstr(why, want) != NULL, "why \"%s\" lacks \"%s\"", why, want);
	ck_assert_ptr_eq(sig, SENTINEL_PTR);
	ck_assert_uint_eq(ulen, 77);
	ck_assert_uint_eq(slen, 78);
	ck_assert_int_eq(is_signed, 79);
}

static void
split_ok(
    const uint8_t *b, size_t len, size_t *ulen, int *is_signed, const uint8_t **sig, size_t *slen)
{
	char why[MODSIG_WHY_MAX] = "";
	int r = modsig_split(b, len, ulen, is_signed, sig, slen, why, sizeof(why));

	ck_assert_msg(r == 0, "modsig_split: %d: %s", r, why);
}

static uint8_t *
corpus_file(const char *name, size_t *ret_len)
{
	char path[512];
	char *b = NULL;

	snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, name);
	ck_assert_msg(read_file(path, DATA_FILE_MAX, &b, ret_len) == 0, "%s", path);
	return (uint8_t *)b;
}

/* The module elf(2, 200) signed with fake_p7.  The caller frees it. */
static uint8_t *
signed_module(size_t *ret_len)
{
	uint8_t *m = elf(2, 200), *out = NULL;

	ck_assert_int_eq(modsig_append(m, 200, fake_p7, sizeof(fake_p7), &out, ret_len), 0);
	free(m);
	return out;
}

START_TEST(test_unsigned)
{
	const uint8_t *sig = SENTINEL_PTR;
	size_t ulen = 0, slen = 9;
	int is_signed = 9;
	uint8_t *m;

	for (int class = 1; class <= 2; class ++) {
		m = elf(class, 64);
		split_ok(m, 64, &ulen, &is_signed, &sig, &slen);
		ck_assert_uint_eq(ulen, 64);
		ck_assert_int_eq(is_signed, 0);
		ck_assert_ptr_null(sig);
		ck_assert_uint_eq(slen, 0);
		free(m);
	}
	/* The shortest headers: 52 bytes for ELF32, 64 for ELF64. */
	m = elf(1, 52);
	split_ok(m, 52, &ulen, &is_signed, &sig, &slen);
	refused(m, 51, SG_ERR_PARSE, "not an ELF file (shorter than an ELF header)");
	free(m);
	m = elf(2, 64);
	refused(m, 63, SG_ERR_PARSE, "not an ELF file (shorter than an ELF64 header)");
	refused(m, 3, SG_ERR_PARSE, "not an ELF file (no \\x7fELF at offset 0)");
	refused(m, 0, SG_ERR_PARSE, "not an ELF file (no \\x7fELF at offset 0)");
	m[4] = 3;
	refused(m, 64, SG_ERR_PARSE, "not an ELF file (unknown class)");
	m[4] = 2;
	m[5] = 0;
	refused(m, 64, SG_ERR_PARSE, "not an ELF file (unknown byte order)");
	m[5] = 2;
	split_ok(m, 64, &ulen, &is_signed, &sig, &slen); /* big-endian */
	m[6] = 0;
	refused(m, 64, SG_ERR_PARSE, "not an ELF file (unknown version)");
	m[6] = 1;
	m[0] = 'M';
	m[1] = 'Z';
	refused(m, 64, SG_ERR_PARSE, "not an ELF file (no \\x7fELF at offset 0)");
	free(m);
}
END_TEST

/* What sign-file writes: module, signature, {0, 0, 2, 0, 0, 0, 0, 0,
 * sig_len big-endian}, marker. */
START_TEST(test_append_layout)
{
	static const uint8_t info[MODSIG_INFO_LEN] = { 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 13 };
	uint8_t *m = elf(2, 100), *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(modsig_append(m, 100, fake_p7, sizeof(fake_p7), &out, &len), 0);
	ck_assert_uint_eq(len, 100 + 13 + 12 + 28);
	ck_assert(memcmp(out, m, 100) == 0);
	ck_assert(memcmp(out + 100, fake_p7, 13) == 0);
	ck_assert(memcmp(out + 113, info, sizeof(info)) == 0);
	ck_assert(memcmp(out + 125, "~Module signature appended~\n", 28) == 0);
	free(out);
	free(m);
}
END_TEST

START_TEST(test_round_trip)
{
	static const size_t sizes[] = { 2, 13, 129, 131, 258, 260, 300, 65539, 65541, 70000 };
	const uint8_t *sig;
	size_t ulen, slen, len;
	int is_signed;
	uint8_t *m = elf(1, 500);

	for (size_t i = 0; i < nitems(sizes); i++) {
		uint8_t *p = der(sizes[i]), *out = NULL;

		ck_assert_int_eq(modsig_append(m, 500, p, sizes[i], &out, &len), 0);
		split_ok(out, len, &ulen, &is_signed, &sig, &slen);
		ck_assert_int_eq(is_signed, 1);
		ck_assert_uint_eq(ulen, 500);
		ck_assert_ptr_eq(sig, out + 500);
		ck_assert_uint_eq(slen, sizes[i]);
		ck_assert(memcmp(sig, p, slen) == 0);
		free(out);
		free(p);
	}
	free(m);
}
END_TEST

/* The module that the kernel's sign-file signed (sha256, a throwaway key):
 * split gives the unsigned module back, append of its signature gives the
 * signed module back byte for byte. */
START_TEST(test_sign_file)
{
	size_t len, ulen_file, ulen, slen, out_len;
	uint8_t *s = corpus_file("signfile-signed.ko", &len);
	uint8_t *u = corpus_file("unsigned.ko", &ulen_file), *out = NULL;
	const uint8_t *sig;
	int is_signed;

	split_ok(s, len, &ulen, &is_signed, &sig, &slen);
	ck_assert_int_eq(is_signed, 1);
	ck_assert_uint_eq(ulen, ulen_file);
	ck_assert(memcmp(s, u, ulen) == 0);
	ck_assert_uint_eq(slen, len - ulen - TRAILER);
	ck_assert_int_eq(modsig_append(u, ulen_file, sig, slen, &out, &out_len), 0);
	ck_assert_uint_eq(out_len, len);
	ck_assert(memcmp(out, s, len) == 0);
	free(out);
	free(u);
	free(s);
}
END_TEST

START_TEST(test_refuse_trailer)
{
	static const char *const fields[] = { "algo", "hash", "id_type", "signer_len", "key_id_len",
		"pad[0]", "pad[1]", "pad[2]" };
	size_t len, info;
	uint8_t *s = signed_module(&len);
	char want[100];

	info = len - TRAILER;
	for (size_t i = 0; i < nitems(fields); i++) {
		uint8_t keep = s[info + i];

		s[info + i] = i == 2 ? 1 : 0xff;
		snprintf(want, sizeof(want), "struct module_signature: %s is %u, not %u", fields[i],
		    (unsigned)s[info + i], i == 2 ? 2u : 0u);
		refused(s, len, SG_ERR_PARSE, want);
		s[info + i] = keep;
	}
	s[info + 2] = 0;
	refused(s, len, SG_ERR_PARSE, "id_type is 0, not 2 (PKCS#7 signatures have id_type 2");
	s[info + 2] = 2;
	/* sig_len: 0, too large, every other value but the right one. */
	s[info + 11] = 0;
	refused(s, len, SG_ERR_PARSE, "struct module_signature: sig_len is 0");
	memset(s + info + 8, 0xff, 4);
	refused(s, len, SG_ERR_PARSE, "sig_len 4294967295 is more than the 213 bytes before it");
	s[info + 8] = s[info + 9] = s[info + 10] = 0;
	s[info + 11] = 214;
	refused(s, len, SG_ERR_PARSE, "sig_len 214 is more than the 213 bytes before it");
	for (unsigned v = 1; v <= 213; v++) {
		if (v == 13)
			continue;
		s[info + 11] = (uint8_t)v;
		refused(s, len, SG_ERR_PARSE, "");
	}
	s[info + 11] = 13;
	split_ok(s, len, &(size_t){ 0 }, &(int){ 0 }, &(const uint8_t *){ NULL }, &(size_t){ 0 });
	/* Every bit of struct module_signature matters. */
	for (size_t bit = 0; bit < 8 * MODSIG_INFO_LEN; bit++) {
		s[info + bit / 8] ^= (uint8_t)(1u << bit % 8);
		refused(s, len, SG_ERR_PARSE, "");
		s[info + bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	/* The signature is not one DER SEQUENCE of sig_len bytes. */
	s[200] = 0x31;
	refused(s, len, SG_ERR_PARSE, "the 13 bytes of signature are not one DER SEQUENCE");
	s[200] = 0x30;
	s[201] = 0x0a;
	refused(s, len, SG_ERR_PARSE, "not one DER SEQUENCE");
	s[201] = 0x80;
	refused(s, len, SG_ERR_PARSE, "not one DER SEQUENCE");
	free(s);
}
END_TEST

START_TEST(test_refuse_truncated)
{
	static const char marker[] = MODSIG_MARKER;
	const uint8_t *sig;
	size_t len, ulen, slen;
	int is_signed;
	uint8_t *s = signed_module(&len);
	uint8_t *t;

	/* The marker alone, or with less than the whole struct before it. */
	refused((const uint8_t *)marker, MODSIG_MARKER_LEN, SG_ERR_PARSE,
	    "truncated signature trailer");
	t = s + len - MODSIG_MARKER_LEN - 11;
	refused(t, MODSIG_MARKER_LEN + 11, SG_ERR_PARSE, "truncated signature trailer");
	t = s + len - TRAILER;
	refused(t, TRAILER, SG_ERR_PARSE, "sig_len 13 is more than the 0 bytes before it");
	/* Every prefix: refused, or (the marker cut) an unsigned module. */
	for (size_t n = 0; n < len; n++) {
		char why[MODSIG_WHY_MAX];
		int r = modsig_split(s, n, &ulen, &is_signed, &sig, &slen, why, sizeof(why));

		ck_assert(r == SG_ERR_PARSE || r == 0);
		if (r == 0) {
			ck_assert_int_eq(is_signed, 0);
			ck_assert_uint_eq(ulen, n);
		}
	}
	/* A signature with a module that is not ELF before it. */
	s[0] = 'M';
	refused(s, len, SG_ERR_PARSE,
	    "the module before the signature: not an ELF file (no \\x7fELF at offset 0)");
	/* The signature alone. */
	refused(s + 200, len - 200, SG_ERR_PARSE,
	    "the module before the signature: not an ELF file (no \\x7fELF at offset 0)");
	free(s);
}
END_TEST

START_TEST(test_refuse_signed_twice)
{
	size_t len, len2;
	uint8_t *s = signed_module(&len), *twice;

	twice = malloc(len + sizeof(fake_p7) + TRAILER);
	ck_assert_ptr_nonnull(twice);
	memcpy(twice, s, len);
	memcpy(twice + len, fake_p7, sizeof(fake_p7));
	memcpy(twice + len + sizeof(fake_p7), s + len - TRAILER, TRAILER);
	len2 = len + sizeof(fake_p7) + TRAILER;
	refused(twice, len2, SG_ERR_PARSE,
	    "the module is signed twice: the part before the signature ends with the marker too");
	free(twice);
	free(s);
}
END_TEST

START_TEST(test_refuse_arguments)
{
	static const uint8_t small[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	char why[MODSIG_WHY_MAX];
	size_t ulen, slen;
	int is_signed;
	const uint8_t *sig;

	refused(small, MODSIG_MODULE_MAX + 1, SG_ERR_LIMIT,
	    "the module is 2147483649 bytes, more than the 2147483648 bytes accepted");
	refused(small, SIZE_MAX, SG_ERR_LIMIT, "more than the");
	split_ok(small, sizeof(small), &ulen, &is_signed, &sig, &slen);
	ck_assert_int_eq(modsig_split(NULL, 0, &ulen, &is_signed, &sig, &slen, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    modsig_split(small, sizeof(small), NULL, &is_signed, &sig, &slen, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	/* why may be NULL. */
	ck_assert_int_eq(
	    modsig_split(small, 3, &ulen, &is_signed, &sig, &slen, NULL, 0), SG_ERR_PARSE);
}
END_TEST

START_TEST(test_append_refusals)
{
	static const uint8_t trailing[] = { 0x30, 0x00, 0x00 };
	static const uint8_t long_form_short[] = { 0x30, 0x81, 0x01, 0x00 };
	uint8_t *m = elf(2, 100), *s, *out = SENTINEL_OUT;
	size_t len, out_len = 77;

	ck_assert_int_eq(
	    modsig_append(m, 100, fake_p7, 0, &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    modsig_append(m, 100, fake_p7, 12, &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(modsig_append(m, 100, trailing, sizeof(trailing), &out, &out_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    modsig_append(m, 100, long_form_short, sizeof(long_form_short), &out, &out_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(modsig_append(m, 63, fake_p7, sizeof(fake_p7), &out, &out_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(modsig_append(NULL, 100, fake_p7, sizeof(fake_p7), &out, &out_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(modsig_append(m, 100, NULL, 13, &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	/* A signed module cannot be signed again. */
	s = signed_module(&len);
	ck_assert_int_eq(modsig_append(s, len, fake_p7, sizeof(fake_p7), &out, &out_len),
	    SG_ERR_INVALID_ARGUMENT);
	free(s);
	/* Sizes are checked before either buffer is read. */
	ck_assert_int_eq(
	    modsig_append(m, MODSIG_MODULE_MAX - TRAILER - 12, fake_p7, 13, &out, &out_len),
	    SG_ERR_LIMIT);
	ck_assert_int_eq(
	    modsig_append(m, 100, fake_p7, MODSIG_MODULE_MAX, &out, &out_len), SG_ERR_LIMIT);
	ck_assert_int_eq(modsig_append(m, SIZE_MAX, fake_p7, 13, &out, &out_len), SG_ERR_LIMIT);
	ck_assert_ptr_eq(out, SENTINEL_OUT);
	ck_assert_uint_eq(out_len, 77);
	free(m);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("modsig");

	test_add(s, "/modsig/split/unsigned", test_unsigned, TEST_TIMEOUT_S);
	test_add(s, "/modsig/append/layout", test_append_layout, TEST_TIMEOUT_S);
	test_add(s, "/modsig/round-trip", test_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/modsig/sign-file", test_sign_file, TEST_TIMEOUT_S);
	test_add(s, "/modsig/split/refuse-trailer", test_refuse_trailer, TEST_TIMEOUT_S);
	test_add(s, "/modsig/split/refuse-truncated", test_refuse_truncated, TEST_TIMEOUT_S);
	test_add(s, "/modsig/split/refuse-signed-twice", test_refuse_signed_twice, TEST_TIMEOUT_S);
	test_add(s, "/modsig/split/refuse-arguments", test_refuse_arguments, TEST_TIMEOUT_S);
	test_add(s, "/modsig/append/refusals", test_append_refusals, TEST_TIMEOUT_S);

	return test_run(s);
}
