/*
 * test_b64.c — strict base64: RFC 4648 vectors and every rejection rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */

/* RFC 4648 §10. */
static const struct {
	const char *plain;
	const char *enc;
} rfc_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

/* Decodes s (strlen) and expects SG_ERR_PARSE with the output untouched. */
static void
assert_refused(const char *s, size_t len)
{
	uint8_t *out = NULL;
	size_t out_len = 12345;

	ck_assert_msg(
	    b64_decode(s, len, &out, &out_len) == SG_ERR_PARSE, "accepted \"%.*s\"", (int)len, s);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(out_len, 12345);
}

START_TEST(test_encode_rfc)
{
	size_t i;
	char *enc;

	for (i = 0; i < nitems(rfc_vectors); i++) {
		enc = NULL;
		ck_assert_int_eq(b64_encode((const uint8_t *)rfc_vectors[i].plain,
				     strlen(rfc_vectors[i].plain), &enc),
		    0);
		ck_assert_str_eq(enc, rfc_vectors[i].enc);
		ck_assert_uint_eq(
		    b64_encoded_size(strlen(rfc_vectors[i].plain)), strlen(rfc_vectors[i].enc) + 1);
		free(enc);
	}
}
END_TEST

START_TEST(test_decode_rfc)
{
	size_t i, len;
	uint8_t *out;

	for (i = 0; i < nitems(rfc_vectors); i++) {
		out = NULL;
		len = 999;
		ck_assert_int_eq(
		    b64_decode(rfc_vectors[i].enc, strlen(rfc_vectors[i].enc), &out, &len), 0);
		ck_assert_ptr_nonnull(out);
		ck_assert_uint_eq(len, strlen(rfc_vectors[i].plain));
		ck_assert(memcmp(out, rfc_vectors[i].plain, len) == 0);
		free(out);
	}
}
END_TEST

START_TEST(test_decode_empty)
{
	uint8_t *out = NULL;
	size_t len = 7;

	ck_assert_int_eq(b64_decode("", 0, &out, &len), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, 0);
	free(out);
	/* NULL with length 0 is the empty string too. */
	out = NULL;
	ck_assert_int_eq(b64_decode(NULL, 0, &out, &len), 0);
	ck_assert_ptr_nonnull(out);
	free(out);
}
END_TEST

/* Every byte value in every position of the last quantum survives. */
START_TEST(test_round_trip_all_bytes)
{
	uint8_t in[256 + 2], *out;
	size_t i, n, len;
	char *enc;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (n = 0; n <= sizeof(in); n++) {
		enc = NULL;
		out = NULL;
		ck_assert_int_eq(b64_encode(in, n, &enc), 0);
		ck_assert_uint_eq(strlen(enc), b64_encoded_size(n) - 1);
		ck_assert_int_eq(b64_decode(enc, strlen(enc), &out, &len), 0);
		ck_assert_uint_eq(len, n);
		ck_assert(n == 0 || memcmp(in, out, n) == 0);
		free(enc);
		free(out);
	}
}
END_TEST

START_TEST(test_encode_null_input)
{
	char *enc = NULL;

	ck_assert_int_eq(b64_encode(NULL, 1, &enc), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(enc);
	/* A size that overflows is refused before anything is read. */
	ck_assert_int_eq(b64_encode((const uint8_t *)"", SIZE_MAX, &enc), SG_ERR_ALLOC);
	ck_assert_ptr_null(enc);
	ck_assert_int_eq(b64_encode(NULL, 0, &enc), 0);
	ck_assert_str_eq(enc, "");
	free(enc);
}
END_TEST

START_TEST(test_encoded_size_overflow)
{
	ck_assert_uint_eq(b64_encoded_size(0), 1);
	ck_assert_uint_eq(b64_encoded_size(1), 5);
	ck_assert_uint_eq(b64_encoded_size(3), 5);
	ck_assert_uint_eq(b64_encoded_size(4), 9);
	ck_assert_uint_eq(b64_encoded_size(SIZE_MAX), 0);
	/* The largest input whose size fits, and one byte more. */
	ck_assert_uint_eq(b64_encoded_size((SIZE_MAX - 1) / 4 * 3), (SIZE_MAX - 1) / 4 * 4 + 1);
	ck_assert_uint_eq(b64_encoded_size((SIZE_MAX - 1) / 4 * 3 + 1), 0);
}
END_TEST

START_TEST(test_refuses_bad_length)
{
	assert_refused("Z", 1);
	assert_refused("Zg", 2);
	assert_refused("Zg=", 3);
	assert_refused("Zm9vY", 5);
	assert_refused("Zm9vYmF", 7);
	assert_refused("Zm9vYmFy=", 9);
	assert_refused("=", 1);
}
END_TEST

START_TEST(test_refuses_url_safe)
{
	assert_refused("-_-_", 4);
	assert_refused("ab-c", 4);
	assert_refused("ab_c", 4);
}
END_TEST

START_TEST(test_refuses_whitespace)
{
	assert_refused("Zm9v\nYmFy", 9);
	assert_refused("Zm9vYmF\n", 8);
	assert_refused(" Zm9", 4);
	assert_refused("Zm9 ", 4);
	assert_refused("Zm\t9", 4);
	assert_refused("Zm9v\r\nYmFy", 10);
}
END_TEST

START_TEST(test_refuses_nul_inside)
{
	assert_refused("Zm\0v", 4);
	assert_refused("\0\0\0\0", 4);
	assert_refused("Zg=\0", 4);
	assert_refused("Zm9vYmFy\0\0\0\0", 12);
}
END_TEST

START_TEST(test_refuses_other_bytes)
{
	unsigned c;
	char q[4];

	for (c = 0; c < 256; c++) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/')
			continue;
		q[0] = 'A';
		q[1] = (char)c;
		q[2] = 'A';
		q[3] = 'A';
		assert_refused(q, 4);
	}
}
END_TEST

START_TEST(test_refuses_padding_inside)
{
	assert_refused("Zg==Zm8=", 8);
	assert_refused("Zm8=Zm9v", 8);
	assert_refused("Z=g=", 4);
	assert_refused("=Zg=", 4);
	assert_refused("Zm=v", 4);
	assert_refused("Zm9v=m9v", 8);
}
END_TEST

START_TEST(test_refuses_too_much_padding)
{
	assert_refused("Z===", 4);
	assert_refused("====", 4);
	assert_refused("Zm9vZ===", 8);
	assert_refused("Zm9v====", 8);
}
END_TEST

/* Non-zero unused bits: "Zh==" would also decode to "f" without the rule. */
START_TEST(test_refuses_non_canonical_last_quantum)
{
	static const char *const bad2[] = { "Zh==", "Zi==", "Zj==", "Zk==", "Zv==" };
	static const char *const bad1[] = { "Zm9=", "Zm+=", "Zm/=", "Zm-=" };
	size_t i;

	for (i = 0; i < nitems(bad2); i++)
		assert_refused(bad2[i], 4);
	for (i = 0; i < nitems(bad1); i++)
		assert_refused(bad1[i], 4);
	/* The canonical forms next to them are accepted. */
	{
		uint8_t *out = NULL;
		size_t len = 0;

		ck_assert_int_eq(b64_decode("Zg==", 4, &out, &len), 0);
		free(out);
		ck_assert_int_eq(b64_decode("Zm8=", 4, &out, &len), 0);
		free(out);
	}
}
END_TEST

/* Decoding reads exactly in_len bytes, no further. */
START_TEST(test_decode_exact_length)
{
	uint8_t *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(b64_decode("Zm9vYmFyXXXX", 8, &out, &len), 0);
	ck_assert_uint_eq(len, 6);
	ck_assert(memcmp(out, "foobar", 6) == 0);
	free(out);
}
END_TEST

/* --- base64url without padding (RFC 4648 §5, RFC 7515 §2) --- */

static void
assert_url_refused(const char *in, size_t len)
{
	uint8_t *out = (uint8_t *)(uintptr_t)1;
	size_t olen = 99;

	ck_assert_int_eq(b64url_decode(in, len, &out, &olen), SG_ERR_PARSE);
	ck_assert_ptr_eq(out, (uint8_t *)(uintptr_t)1);
	ck_assert_uint_eq(olen, 99);
}

START_TEST(test_url_rfc)
{
	static const struct {
		const char *plain, *enc;
	} v[] = {
		{ "", "" },
		{ "f", "Zg" },
		{ "fo", "Zm8" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg" },
		{ "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" },
		{ "\xfb\xff\xbf", "-_-_" },
		{ "\x3e\x3f", "Pj8" },
	};
	size_t i, len;
	uint8_t *out;
	char *enc;

	for (i = 0; i < nitems(v); i++) {
		ck_assert_int_eq(
		    b64url_encode((const uint8_t *)v[i].plain, strlen(v[i].plain), &enc), 0);
		ck_assert_str_eq(enc, v[i].enc);
		free(enc);
		out = NULL;
		ck_assert_int_eq(b64url_decode(v[i].enc, strlen(v[i].enc), &out, &len), 0);
		ck_assert_uint_eq(len, strlen(v[i].plain));
		ck_assert(memcmp(out, v[i].plain, len) == 0);
		free(out);
	}
}
END_TEST

START_TEST(test_url_round_trip)
{
	uint8_t in[300], *out;
	size_t n, len, i;
	char *enc;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (n = 0; n <= sizeof(in); n++) {
		ck_assert_int_eq(b64url_encode(in, n, &enc), 0);
		ck_assert_uint_eq(strlen(enc), n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0));
		ck_assert_ptr_null(strpbrk(enc, "=+/"));
		ck_assert_int_eq(b64url_decode(enc, strlen(enc), &out, &len), 0);
		ck_assert_uint_eq(len, n);
		ck_assert(n == 0 || memcmp(out, in, n) == 0);
		free(out);
		free(enc);
	}
}
END_TEST

START_TEST(test_url_refuses)
{
	unsigned c;
	char q[4];

	/* Padding, the standard alphabet's two characters, white space. */
	assert_url_refused("Zg==", 4);
	assert_url_refused("Zm8=", 4);
	assert_url_refused("Zg=", 3);
	assert_url_refused("ab+c", 4);
	assert_url_refused("ab/c", 4);
	assert_url_refused("Zm9v Zg", 7);
	assert_url_refused("Zm9v\n", 5);
	assert_url_refused("Zm\0v", 4);
	/* A length of 1 modulo 4. */
	assert_url_refused("Z", 1);
	assert_url_refused("Zm9vY", 5);
	/* Non-zero unused bits. */
	assert_url_refused("Zh", 2);
	assert_url_refused("Zm9", 3);
	/* Every byte outside the alphabet. */
	for (c = 0; c < 256; c++) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')
			continue;
		q[0] = 'A';
		q[1] = (char)c;
		q[2] = 'A';
		q[3] = 'A';
		assert_url_refused(q, 4);
	}
	ck_assert_int_eq(b64url_encode(NULL, 1, &(char *){ NULL }), SG_ERR_INVALID_ARGUMENT);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("b64");

	test_add(s, "/b64/encode/rfc4648", test_encode_rfc, TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/rfc4648", test_decode_rfc, TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/empty", test_decode_empty, TEST_TIMEOUT_S);
	test_add(s, "/b64/round-trip/all-lengths", test_round_trip_all_bytes, TEST_TIMEOUT_S);
	test_add(s, "/b64/encode/null-input", test_encode_null_input, TEST_TIMEOUT_S);
	test_add(s, "/b64/encoded-size/overflow", test_encoded_size_overflow, TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/rejects-bad-length", test_refuses_bad_length, TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/rejects-url-safe", test_refuses_url_safe, TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/rejects-whitespace", test_refuses_whitespace, TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/rejects-nul-inside", test_refuses_nul_inside, TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/rejects-other-bytes", test_refuses_other_bytes, TEST_TIMEOUT_S);
	test_add(
	    s, "/b64/decode/rejects-padding-inside", test_refuses_padding_inside, TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/rejects-too-much-padding", test_refuses_too_much_padding,
	    TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/rejects-non-canonical-last-quantum",
	    test_refuses_non_canonical_last_quantum, TEST_TIMEOUT_S);
	test_add(s, "/b64/decode/exact-length", test_decode_exact_length, TEST_TIMEOUT_S);
	test_add(s, "/b64url/rfc4648", test_url_rfc, TEST_TIMEOUT_S);
	test_add(s, "/b64url/round-trip/all-lengths", test_url_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/b64url/decode/refuses", test_url_refuses, TEST_TIMEOUT_S);

	return test_run(s);
}
