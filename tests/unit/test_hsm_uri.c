/*
 * test_hsm_uri.c — the RFC 7512 subset of hsm_uri_parse(): the accepted
 * forms, percent-decoding, every rejection rule and both limits at their
 * edge and one past it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */

/* A sentinel that hsm_uri_parse() must leave in *ret on failure. */
static struct hsm_uri sentinel_uri;

static struct hsm_uri *
parse_ok(const char *s)
{
	struct hsm_uri *u = NULL;
	int r = hsm_uri_parse(s, &u);

	ck_assert_msg(r == 0, "refused \"%s\": %d", s, r);
	ck_assert_ptr_nonnull(u);
	return u;
}

static void
assert_refused(const char *s, int want)
{
	struct hsm_uri *u = &sentinel_uri;
	int r = hsm_uri_parse(s, &u);

	ck_assert_msg(r == want, "\"%s\": got %d, want %d", s, r, want);
	ck_assert_ptr_eq(u, &sentinel_uri);
}

START_TEST(test_object_only)
{
	struct hsm_uri *u = parse_ok("pkcs11:object=release-2026");

	ck_assert_str_eq(u->object, "release-2026");
	ck_assert_ptr_null(u->token);
	ck_assert_ptr_null(u->type);
	ck_assert_int_eq(u->has_id, 0);
	ck_assert_uint_eq(u->id_len, 0);
	hsm_uri_free(u);
}
END_TEST

START_TEST(test_id_percent)
{
	struct hsm_uri *u = parse_ok("pkcs11:id=%01%02");

	ck_assert_ptr_null(u->object);
	ck_assert_int_eq(u->has_id, 1);
	ck_assert_uint_eq(u->id_len, 2);
	ck_assert_uint_eq(u->id[0], 0x01);
	ck_assert_uint_eq(u->id[1], 0x02);
	hsm_uri_free(u);
}
END_TEST

START_TEST(test_id_literal_and_mixed_case_hex)
{
	struct hsm_uri *u = parse_ok("pkcs11:id=ab%aB%Cd%00");

	ck_assert_uint_eq(u->id_len, 5);
	ck_assert(memcmp(u->id, "ab\xab\xcd\x00", 5) == 0);
	hsm_uri_free(u);
}
END_TEST

START_TEST(test_all_attributes)
{
	struct hsm_uri *u =
	    parse_ok("pkcs11:token=signet;object=signet-attest;id=%7f;type=private");

	ck_assert_str_eq(u->token, "signet");
	ck_assert_str_eq(u->object, "signet-attest");
	ck_assert_str_eq(u->type, "private");
	ck_assert_int_eq(u->has_id, 1);
	ck_assert_uint_eq(u->id_len, 1);
	ck_assert_uint_eq(u->id[0], 0x7f);
	hsm_uri_free(u);
}
END_TEST

START_TEST(test_types)
{
	static const char *const types[] = { "private", "public", "cert" };
	char buf[64];
	size_t i;

	for (i = 0; i < nitems(types); i++) {
		struct hsm_uri *u;

		strcpy(buf, "pkcs11:type=");
		strcat(buf, types[i]);
		u = parse_ok(buf);
		ck_assert_str_eq(u->type, types[i]);
		hsm_uri_free(u);
	}
}
END_TEST

START_TEST(test_empty_path)
{
	struct hsm_uri *u = parse_ok("pkcs11:");

	ck_assert_ptr_null(u->object);
	ck_assert_ptr_null(u->token);
	ck_assert_ptr_null(u->type);
	ck_assert_int_eq(u->has_id, 0);
	hsm_uri_free(u);
}
END_TEST

START_TEST(test_scheme_case)
{
	struct hsm_uri *u = parse_ok("PKCS11:object=a");

	ck_assert_str_eq(u->object, "a");
	hsm_uri_free(u);
}
END_TEST

START_TEST(test_string_decoding)
{
	struct hsm_uri *u = parse_ok("pkcs11:object=my%20key%3b2;token=a%2Fb");

	ck_assert_str_eq(u->object, "my key;2");
	ck_assert_str_eq(u->token, "a/b");
	hsm_uri_free(u);
}
END_TEST

START_TEST(test_every_pchar)
{
	struct hsm_uri *u = parse_ok("pkcs11:object=azAZ09-._~:[]@!$'()*+,=&");

	ck_assert_str_eq(u->object, "azAZ09-._~:[]@!$'()*+,=&");
	hsm_uri_free(u);
}
END_TEST

START_TEST(test_utf8_percent_encoded)
{
	struct hsm_uri *u = parse_ok("pkcs11:object=cl%C3%A9");

	ck_assert_str_eq(u->object, "cl\xc3\xa9");
	hsm_uri_free(u);
}
END_TEST

START_TEST(test_refuses_bad_scheme)
{
	assert_refused("", SG_ERR_PARSE);
	assert_refused("pkcs11", SG_ERR_PARSE);
	assert_refused("pkcs12:object=a", SG_ERR_PARSE);
	assert_refused("object=a", SG_ERR_PARSE);
	assert_refused(" pkcs11:object=a", SG_ERR_PARSE);
	assert_refused("pkcs11//object=a", SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_unknown_attribute)
{
	static const char *const bad[] = {
		"pkcs11:serial=1",
		"pkcs11:slot-id=1",
		"pkcs11:manufacturer=x",
		"pkcs11:model=x",
		"pkcs11:library-description=x",
		"pkcs11:x-vendor=1",
		"pkcs11:Object=a",
		"pkcs11:ID=%01",
		"pkcs11:object=a;pin-value=1234",
		"pkcs11:=a",
		"pkcs11:objec=a",
		"pkcs11:objectt=a",
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++)
		assert_refused(bad[i], SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_duplicate)
{
	assert_refused("pkcs11:object=a;object=a", SG_ERR_PARSE);
	assert_refused("pkcs11:object=a;object=b", SG_ERR_PARSE);
	assert_refused("pkcs11:id=%01;id=%01", SG_ERR_PARSE);
	assert_refused("pkcs11:token=t;object=a;token=t", SG_ERR_PARSE);
	assert_refused("pkcs11:type=private;type=private", SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_empty_value)
{
	assert_refused("pkcs11:object=", SG_ERR_PARSE);
	assert_refused("pkcs11:id=", SG_ERR_PARSE);
	assert_refused("pkcs11:token=;object=a", SG_ERR_PARSE);
	assert_refused("pkcs11:object=a;type=", SG_ERR_PARSE);
	assert_refused("pkcs11:object", SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_query_and_fragment)
{
	assert_refused("pkcs11:object=a?pin-value=1234", SG_ERR_PARSE);
	assert_refused("pkcs11:?module-path=/tmp/evil.so", SG_ERR_PARSE);
	assert_refused("pkcs11:object=a?", SG_ERR_PARSE);
	assert_refused("pkcs11:object=a#frag", SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_separators)
{
	assert_refused("pkcs11:object=a;", SG_ERR_PARSE);
	assert_refused("pkcs11:;object=a", SG_ERR_PARSE);
	assert_refused("pkcs11:object=a;;id=%01", SG_ERR_PARSE);
	assert_refused("pkcs11:;", SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_bad_percent)
{
	static const char *const bad[] = {
		"pkcs11:object=%",
		"pkcs11:object=a%4",
		"pkcs11:object=%G1",
		"pkcs11:object=%1g",
		"pkcs11:object=%%41",
		"pkcs11:id=%",
		"pkcs11:id=%0",
		"pkcs11:id=%zz",
		"pkcs11:object=%-1",
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++)
		assert_refused(bad[i], SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_raw_characters)
{
	static const char *const bad[] = {
		"pkcs11:object=my key",
		"pkcs11:object=a/b",
		"pkcs11:object=a\"b",
		"pkcs11:object=a\\b",
		"pkcs11:object=cl\xc3\xa9",
		"pkcs11:object=a\tb",
		"pkcs11:object=a\nb",
		"pkcs11:object=a<b",
		"pkcs11:object=a|b",
		"pkcs11:id=a b",
		"pkcs11:object=a\x7f",
		"pkcs11:object=a{}",
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++)
		assert_refused(bad[i], SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_nul_in_strings)
{
	assert_refused("pkcs11:object=a%00b", SG_ERR_PARSE);
	assert_refused("pkcs11:object=%00", SG_ERR_PARSE);
	assert_refused("pkcs11:token=t%00", SG_ERR_PARSE);
	assert_refused("pkcs11:type=private%00", SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_bad_type)
{
	assert_refused("pkcs11:type=secret-key", SG_ERR_PARSE);
	assert_refused("pkcs11:type=data", SG_ERR_PARSE);
	assert_refused("pkcs11:type=Private", SG_ERR_PARSE);
	assert_refused("pkcs11:type=privatex", SG_ERR_PARSE);
	assert_refused("pkcs11:type=priv", SG_ERR_PARSE);
}
END_TEST

START_TEST(test_refuses_null_arguments)
{
	struct hsm_uri *u = &sentinel_uri;

	ck_assert_int_eq(hsm_uri_parse(NULL, &u), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_eq(u, &sentinel_uri);
	ck_assert_int_eq(hsm_uri_parse("pkcs11:object=a", NULL), SG_ERR_INVALID_ARGUMENT);
}
END_TEST

/* "pkcs11:object=aaa...": a URI of exactly len bytes. */
static char *
long_uri(size_t len)
{
	const char *head = "pkcs11:object=";
	char *s = malloc(len + 1);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_gt(len, strlen(head));
	memset(s, 'a', len);
	memcpy(s, head, strlen(head));
	s[len] = '\0';
	return s;
}

START_TEST(test_uri_limit)
{
	char *s = long_uri(HSM_URI_MAX);
	struct hsm_uri *u = parse_ok(s);

	ck_assert_uint_eq(strlen(u->object), HSM_URI_MAX - strlen("pkcs11:object="));
	hsm_uri_free(u);
	free(s);

	s = long_uri(HSM_URI_MAX + 1);
	assert_refused(s, SG_ERR_LIMIT);
	free(s);
}
END_TEST

/* "pkcs11:id=" and n bytes, percent-encoded (pct) or literal 'z's. */
static char *
id_uri(size_t n, int pct)
{
	char *s = malloc(strlen("pkcs11:id=") + 3 * n + 1);
	char *p;
	size_t i;

	ck_assert_ptr_nonnull(s);
	strcpy(s, "pkcs11:id=");
	p = s + strlen(s);
	for (i = 0; i < n; i++) {
		if (pct) {
			memcpy(p, "%a5", 3);
			p += 3;
		} else {
			*p++ = 'z';
		}
	}
	*p = '\0';
	return s;
}

START_TEST(test_id_limit)
{
	int pct;

	for (pct = 0; pct <= 1; pct++) {
		char *s = id_uri(HSM_ID_MAX, pct);
		struct hsm_uri *u = parse_ok(s);
		size_t i;

		ck_assert_uint_eq(u->id_len, HSM_ID_MAX);
		for (i = 0; i < HSM_ID_MAX; i++)
			ck_assert_uint_eq(u->id[i], pct ? 0xa5 : 'z');
		hsm_uri_free(u);
		free(s);

		s = id_uri(HSM_ID_MAX + 1, pct);
		assert_refused(s, SG_ERR_LIMIT);
		free(s);
	}
}
END_TEST

START_TEST(test_free_null)
{
	hsm_uri_free(NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hsm_uri");

	test_add(s, "/hsm/uri/object-only", test_object_only, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/id-percent-encoded", test_id_percent, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/id-literal-and-hex-case", test_id_literal_and_mixed_case_hex,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/all-attributes", test_all_attributes, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/types", test_types, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/empty-path", test_empty_path, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/scheme-case", test_scheme_case, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/string-decoding", test_string_decoding, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/every-pchar", test_every_pchar, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/utf8-percent-encoded", test_utf8_percent_encoded, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/free-null", test_free_null, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-bad-scheme", test_refuses_bad_scheme, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-unknown-attribute", test_refuses_unknown_attribute,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-duplicate", test_refuses_duplicate, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-empty-value", test_refuses_empty_value, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-query-and-fragment", test_refuses_query_and_fragment,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-stray-separators", test_refuses_separators, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-bad-percent", test_refuses_bad_percent, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-raw-characters", test_refuses_raw_characters, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-nul-in-strings", test_refuses_nul_in_strings, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-bad-type", test_refuses_bad_type, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/rejects-null-arguments", test_refuses_null_arguments, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/limit/uri-length", test_uri_limit, TEST_TIMEOUT_S);
	test_add(s, "/hsm/uri/limit/id-length", test_id_limit, TEST_TIMEOUT_S);

	return test_run(s);
}
