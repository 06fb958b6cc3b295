/*
 * test_envelope.c — DSSE envelopes: PAE vectors, strict parsing (every
 * malformed shape, the size and signature-count limits at their edges),
 * salvage of the payload, and serialize/parse round trips.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */

/* "hello world" and "c2ln" ("sig") in base64. */
#define HW_B64 "aGVsbG8gd29ybGQ="
#define KEYID  "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SIG1   "{\"keyid\":\"" KEYID "\",\"sig\":\"c2ln\"}"
#define VALID                                                                                      \
	"{\"payloadType\":\"" PAYLOAD_TYPE_JOB "\",\"payload\":\"" HW_B64                          \
	"\",\"signatures\":[" SIG1 "]}"

/* Parses from an exact-size heap copy so the sanitizers see overreads. */
static int
parse_len(const char *s, size_t len, struct dsse_envelope **env)
{
	char *copy = malloc(len ? len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s, len);
	r = envelope_parse(copy, len, env);
	free(copy);
	return r;
}

static void
expect_code(const char *s, int code)
{
	struct dsse_envelope *env = (struct dsse_envelope *)(uintptr_t)1;
	int r = parse_len(s, strlen(s), &env);

	ck_assert_msg(r == code, "got %d, want %d: %s", r, code, s);
	ck_assert_ptr_null(env);
}

static void
expect_malformed(const char *s)
{
	expect_code(s, SG_ERR_ENVELOPE_MALFORMED);
}

static struct dsse_envelope *
expect_ok(const char *s)
{
	struct dsse_envelope *env = NULL;
	int r = parse_len(s, strlen(s), &env);

	ck_assert_msg(r == 0, "refused (%d): %s", r, s);
	ck_assert_ptr_nonnull(env);
	return env;
}

/* An envelope with n copies of SIG1. */
static char *
with_sigs(size_t n)
{
	size_t cap = 256 + n * (sizeof(SIG1) + 1), o, i;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	o = (size_t)snprintf(
	    s, cap, "{\"payloadType\":\"t\",\"payload\":\"" HW_B64 "\",\"signatures\":[");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s" SIG1, i ? "," : "");
	snprintf(s + o, cap - o, "]}");
	return s;
}

START_TEST(test_pae_spec_example)
{
	uint8_t *pae = NULL;
	size_t len = 0;
	static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";

	ck_assert_int_eq(dsse_pae("http://example.com/HelloWorld", (const uint8_t *)"hello world",
			     11, &pae, &len),
	    0);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(pae, want, len);
	free(pae);
}
END_TEST

START_TEST(test_pae_vectors)
{
	uint8_t *pae = NULL, payload[300];
	size_t len = 0, i;
	char want[512];
	int n;

	ck_assert_int_eq(dsse_pae("", NULL, 0, &pae, &len), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(pae, "DSSEv1 0  0 ", 12);
	free(pae);

	/* Binary payload with NUL bytes and a three-digit length. */
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	ck_assert_int_eq(dsse_pae(PAYLOAD_TYPE_JOB, payload, sizeof(payload), &pae, &len), 0);
	n = snprintf(
	    want, sizeof(want), "DSSEv1 %zu %s 300 ", strlen(PAYLOAD_TYPE_JOB), PAYLOAD_TYPE_JOB);
	ck_assert_uint_eq(len, (size_t)n + sizeof(payload));
	ck_assert_mem_eq(pae, want, (size_t)n);
	ck_assert_mem_eq(pae + n, payload, sizeof(payload));
	free(pae);
	ck_assert_str_eq(want, "DSSEv1 31 application/vnd.signet.job+json 300 ");

	pae = (uint8_t *)1;
	ck_assert_int_eq(dsse_pae(NULL, payload, 1, &pae, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(dsse_pae("t", NULL, 1, &pae, &len), SG_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_parse_valid)
{
	struct dsse_envelope *env = expect_ok(VALID);

	ck_assert_str_eq(env->payload_type, PAYLOAD_TYPE_JOB);
	ck_assert_uint_eq(env->payload_len, 11);
	ck_assert_mem_eq(env->payload, "hello world", 11);
	ck_assert_uint_eq(env->nsigs, 1);
	ck_assert_str_eq(env->sigs[0].keyid, KEYID);
	ck_assert_uint_eq(env->sigs[0].sig_len, 3);
	ck_assert_mem_eq(env->sigs[0].sig, "sig", 3);
	ck_assert_ptr_null(env->sigs[0].cert);
	envelope_free(env);

	env =
	    expect_ok(" {\"signatures\":[{\"sig\":\"AA==\",\"cert\":\"3q2+7w==\",\"keyid\":\"k\"}],"
		      "\"payload\":\"\",\"payloadType\":\"x\"}\n");
	ck_assert_uint_eq(env->payload_len, 0);
	ck_assert_ptr_nonnull(env->payload);
	ck_assert_uint_eq(env->sigs[0].cert_len, 4);
	ck_assert_mem_eq(env->sigs[0].cert, "\xde\xad\xbe\xef", 4);
	ck_assert_uint_eq(env->sigs[0].sig_len, 1);
	envelope_free(env);

	/* Zero signatures parse; the caller enforces "exactly one". */
	env = expect_ok("{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[]}");
	ck_assert_uint_eq(env->nsigs, 0);
	envelope_free(env);
	envelope_free(NULL);
}
END_TEST

START_TEST(test_sig_count)
{
	struct dsse_envelope *env;
	char *s;

	s = with_sigs(ENVELOPE_SIGS_MAX);
	env = expect_ok(s);
	ck_assert_uint_eq(env->nsigs, ENVELOPE_SIGS_MAX);
	envelope_free(env);
	free(s);

	s = with_sigs(ENVELOPE_SIGS_MAX + 1);
	expect_malformed(s);
	free(s);

	/* Nine junk entries and a bad payload: refused all the same. */
	expect_malformed(
	    "{\"payloadType\":\"t\",\"payload\":\"!\",\"signatures\":[1,2,3,4,5,6,7,8,9]}");
}
END_TEST

/* VALID padded with spaces to exactly len bytes. */
static char *
padded(size_t len)
{
	char *s = malloc(len + 1);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_ge(len, strlen(VALID));
	memset(s, ' ', len);
	memcpy(s, VALID, strlen(VALID));
	s[len] = '\0';
	return s;
}

START_TEST(test_size_limit)
{
	struct dsse_envelope *env;
	char *s;

	s = padded(ENVELOPE_MAX_BYTES);
	env = expect_ok(s);
	envelope_free(env);
	free(s);

	s = padded(ENVELOPE_MAX_BYTES + 1);
	expect_code(s, SG_ERR_ENVELOPE_TOO_LARGE);
	free(s);

	/* The size is checked before any parsing: garbage is too large too. */
	s = malloc(ENVELOPE_MAX_BYTES + 2);
	ck_assert_ptr_nonnull(s);
	memset(s, '[', ENVELOPE_MAX_BYTES + 1);
	s[ENVELOPE_MAX_BYTES + 1] = '\0';
	expect_code(s, SG_ERR_ENVELOPE_TOO_LARGE);
	free(s);
}
END_TEST

START_TEST(test_malformed_shapes)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"\"x\"",
		"null",
		"{}",
		VALID "x",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[]", /* truncated */
		/* missing members */
		"{\"payload\":\"\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"\"}",
		/* unknown, duplicate or miscased members */
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[],\"x\":1}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"payload\":\"\",\"signatures\":[]}",
		"{\"PayloadType\":\"t\",\"payload\":\"\",\"signatures\":[]}",
		"{\"payloadtype\":\"t\",\"payload\":\"\",\"signatures\":[]}",
		/* wrong types */
		"{\"payloadType\":1,\"payload\":\"\",\"signatures\":[]}",
		"{\"payloadType\":null,\"payload\":\"\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":[],\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":{}}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":\"\"}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[1]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[[]]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[null]}",
		/* payloadType content */
		"{\"payloadType\":\"\",\"payload\":\"\",\"signatures\":[]}",
		"{\"payloadType\":\"a\\u0000b\",\"payload\":\"\",\"signatures\":[]}",
		"{\"payloadType\":\"a\\nb\",\"payload\":\"\",\"signatures\":[]}",
		/* invalid base64 payload */
		"{\"payloadType\":\"t\",\"payload\":\"aGVsbG8\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"aGVs bG8=\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"aGVsbG8-\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"aG=sbG8=\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"aGVsbG9=\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"aGVsbG8=\\n\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"aGVs\\u0000bG8=\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"QUJD\\u0000\",\"signatures\":[]}",
		/* signature entries */
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"sig\":\"c2ln\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\",\"sig\":"
		"\"c2ln\",\"x\":1}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\",\"sig\":"
		"\"c2ln\",\"Cert\":\"AA==\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\",\"sig\":"
		"\"c2ln\",\"keyid\":\"k\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"\",\"sig\":"
		"\"c2ln\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":1,\"sig\":"
		"\"c2ln\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\\u0000x\","
		"\"sig\":\"c2ln\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\",\"sig\":"
		"\"\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\",\"sig\":"
		"\"c2l\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\",\"sig\":"
		"1}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\",\"sig\":"
		"\"c2ln\",\"cert\":\"\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\",\"sig\":"
		"\"c2ln\",\"cert\":\"A\"}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\",\"sig\":"
		"\"c2ln\",\"cert\":null}]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[" SIG1
		",{\"keyid\":\"k\"}]}",
		/* not strict JSON */
		"{\"payloadType\":\"\xff\",\"payload\":\"\",\"signatures\":[]}",
		"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[],}",
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++)
		expect_malformed(bad[i]);
}
END_TEST

START_TEST(test_string_limits)
{
	char type[ENVELOPE_TYPE_MAX + 2], keyid[ENVELOPE_KEYID_MAX + 2], s[1024];
	struct dsse_envelope *env;

	memset(type, 'a', sizeof(type) - 1);
	type[ENVELOPE_TYPE_MAX] = '\0';
	snprintf(s, sizeof(s), "{\"payloadType\":\"%s\",\"payload\":\"\",\"signatures\":[]}", type);
	env = expect_ok(s);
	ck_assert_uint_eq(strlen(env->payload_type), ENVELOPE_TYPE_MAX);
	envelope_free(env);
	type[ENVELOPE_TYPE_MAX] = 'a';
	type[ENVELOPE_TYPE_MAX + 1] = '\0';
	snprintf(s, sizeof(s), "{\"payloadType\":\"%s\",\"payload\":\"\",\"signatures\":[]}", type);
	expect_malformed(s);

	memset(keyid, 'k', sizeof(keyid) - 1);
	keyid[ENVELOPE_KEYID_MAX] = '\0';
	snprintf(s, sizeof(s),
	    "{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":"
	    "[{\"keyid\":\"%s\",\"sig\":\"c2ln\"}]}",
	    keyid);
	env = expect_ok(s);
	ck_assert_uint_eq(strlen(env->sigs[0].keyid), ENVELOPE_KEYID_MAX);
	envelope_free(env);
	keyid[ENVELOPE_KEYID_MAX] = 'k';
	keyid[ENVELOPE_KEYID_MAX + 1] = '\0';
	snprintf(s, sizeof(s),
	    "{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":"
	    "[{\"keyid\":\"%s\",\"sig\":\"c2ln\"}]}",
	    keyid);
	expect_malformed(s);
}
END_TEST

static int
salvage(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
	char *copy = malloc(len ? len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s, len);
	r = envelope_salvage_payload(copy, len, out, out_len);
	free(copy);
	return r;
}

static void
salvage_ok(const char *s)
{
	uint8_t *out = NULL;
	size_t out_len = 0;

	ck_assert_msg(salvage(s, strlen(s), &out, &out_len) == 0, "not salvaged: %s", s);
	ck_assert_uint_eq(out_len, 11);
	ck_assert_mem_eq(out, "hello world", 11);
	free(out);
}

static void
salvage_any_ok(const char *s)
{
	uint8_t *out = NULL;
	size_t out_len = 0;

	ck_assert_int_eq(salvage(s, strlen(s), &out, &out_len), 0);
	ck_assert_ptr_nonnull(out);
	free(out);
}

static void
salvage_refused(const char *s, int code)
{
	uint8_t *out = (uint8_t *)1;
	size_t out_len = 77, len = strlen(s);
	int r = salvage(s, len, &out, &out_len);

	ck_assert_msg(r == code, "got %d, want %d: %.*s", r, code, (int)len, s);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(out_len, 0);
}

START_TEST(test_salvage)
{
	char *s;

	salvage_ok(VALID);
	/* Malformed envelopes whose payload is still readable. */
	salvage_ok("{\"payload\":\"" HW_B64 "\"}");
	salvage_ok("{\"payload\":\"" HW_B64 "\",\"extra\":1,\"payloadType\":7}");
	salvage_ok("{\"payload\":\"" HW_B64 "\",\"signatures\":[]}");
	salvage_ok("{\"payload\":\"" HW_B64 "\",\"signatures\":[1,2]}");
	salvage_ok("{\"payload\":\"" HW_B64 "\",\"signatures\":\"not an array\"}");
	salvage_ok("{\"payload\":\"" HW_B64 "\",\"payloadType\":\"a\",\"payloadType\":\"b\"}");
	salvage_ok("{\"payload\":\"" HW_B64 "\",\"payloadType\":\"a\\nb\"}");
	salvage_ok("{\"payload\":\"" HW_B64 "\",\"signatures\":[{\"keyid\":\"\",\"sig\":\"!\"}]}");
	s = with_sigs(ENVELOPE_SIGS_MAX);
	salvage_any_ok(s);
	free(s);

	/* What no result is owed to. */
	s = with_sigs(ENVELOPE_SIGS_MAX + 1);
	salvage_refused(s, SG_ERR_ENVELOPE_MALFORMED);
	free(s);
	salvage_refused("{\"payload\":\"" HW_B64 "\",\"signatures\":[1,2],\"signatures\":"
			"[1,2,3,4,5,6,7,8,9]}",
	    SG_ERR_ENVELOPE_MALFORMED);
	s = padded(ENVELOPE_MAX_BYTES + 1);
	salvage_refused(s, SG_ERR_ENVELOPE_TOO_LARGE);
	free(s);
	s = padded(ENVELOPE_MAX_BYTES);
	salvage_any_ok(s);
	free(s);
	salvage_refused("", SG_ERR_ENVELOPE_MALFORMED);
	salvage_refused("{\"payload\":\"" HW_B64 "\"", SG_ERR_ENVELOPE_MALFORMED);
	salvage_refused("[\"" HW_B64 "\"]", SG_ERR_ENVELOPE_MALFORMED);
	salvage_refused("{}", SG_ERR_ENVELOPE_MALFORMED);
	salvage_refused("{\"Payload\":\"" HW_B64 "\"}", SG_ERR_ENVELOPE_MALFORMED);
	salvage_refused("{\"payload\":1}", SG_ERR_ENVELOPE_MALFORMED);
	salvage_refused("{\"payload\":\"aGVsbG8\"}", SG_ERR_ENVELOPE_MALFORMED);
	salvage_refused(
	    "{\"payload\":\"" HW_B64 "\",\"payload\":\"" HW_B64 "\"}", SG_ERR_ENVELOPE_MALFORMED);
	salvage_refused("{\"payload\":\"QUJD\\u0000x\"}", SG_ERR_ENVELOPE_MALFORMED);
	/* An escaped NUL elsewhere does not hide the payload (SPEC §7: the
	 * result is still owed). */
	salvage_ok("{\"payload\":\"" HW_B64 "\",\"x\":\"\\u0000\"}");
	salvage_refused("{\"payload\":\"\xff\"}", SG_ERR_ENVELOPE_MALFORMED);
}
END_TEST

static void
assert_env_eq(const struct dsse_envelope *a, const struct dsse_envelope *b)
{
	size_t i;

	ck_assert_str_eq(a->payload_type, b->payload_type);
	ck_assert_uint_eq(a->payload_len, b->payload_len);
	if (a->payload_len > 0)
		ck_assert_mem_eq(a->payload, b->payload, a->payload_len);
	ck_assert_uint_eq(a->nsigs, b->nsigs);
	for (i = 0; i < a->nsigs; i++) {
		ck_assert_str_eq(a->sigs[i].keyid, b->sigs[i].keyid);
		ck_assert_uint_eq(a->sigs[i].sig_len, b->sigs[i].sig_len);
		ck_assert_mem_eq(a->sigs[i].sig, b->sigs[i].sig, a->sigs[i].sig_len);
		ck_assert_uint_eq(a->sigs[i].cert_len, b->sigs[i].cert_len);
		if (a->sigs[i].cert_len > 0)
			ck_assert_mem_eq(a->sigs[i].cert, b->sigs[i].cert, a->sigs[i].cert_len);
		else
			ck_assert_ptr_null(b->sigs[i].cert);
	}
}

START_TEST(test_serialize_exact)
{
	struct dsse_envelope *env = NULL;
	char *s = NULL;
	size_t len = 0;

	ck_assert_int_eq(
	    envelope_new(PAYLOAD_TYPE_JOB, (const uint8_t *)"hello world", 11, &env), 0);
	ck_assert_int_eq(envelope_add_sig(env, KEYID, (const uint8_t *)"sig", 3, NULL, 0), 0);
	ck_assert_int_eq(envelope_serialize(env, &s, &len), 0);
	ck_assert_str_eq(s, VALID);
	ck_assert_uint_eq(len, strlen(VALID));
	free(s);
	ck_assert_int_eq(envelope_add_sig(env, "k2", (const uint8_t *)"\x01", 1,
			     (const uint8_t *)"\xde\xad\xbe\xef", 4),
	    0);
	ck_assert_int_eq(envelope_serialize(env, &s, &len), 0);
	ck_assert_str_eq(s,
	    "{\"payloadType\":\"" PAYLOAD_TYPE_JOB "\",\"payload\":\"" HW_B64
	    "\",\"signatures\":[" SIG1
	    ",{\"keyid\":\"k2\",\"sig\":\"AQ==\",\"cert\":\"3q2+7w==\"}]}");
	free(s);
	envelope_free(env);
}
END_TEST

START_TEST(test_round_trip)
{
	struct dsse_envelope *env = NULL, *back = NULL;
	uint8_t payload[1000], sig[72], cert[700];
	char *s = NULL;
	size_t len = 0, i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	memset(sig, 0x30, sizeof(sig));
	memset(cert, 0x82, sizeof(cert));
	ck_assert_int_eq(envelope_new(PAYLOAD_TYPE_RESULT, payload, sizeof(payload), &env), 0);
	for (i = 0; i < ENVELOPE_SIGS_MAX; i++) {
		ck_assert_int_eq(envelope_add_sig(env, KEYID, sig, sizeof(sig) - i,
				     i % 2 ? cert : NULL, i % 2 ? sizeof(cert) - i : 0),
		    0);
	}
	ck_assert_int_eq(envelope_add_sig(env, KEYID, sig, 1, NULL, 0), SG_ERR_LIMIT);
	ck_assert_uint_eq(env->nsigs, ENVELOPE_SIGS_MAX);
	ck_assert_int_eq(envelope_serialize(env, &s, &len), 0);
	ck_assert_int_eq(parse_len(s, len, &back), 0);
	assert_env_eq(env, back);
	envelope_free(back);
	free(s);
	envelope_free(env);

	/* Empty payload, no signatures. */
	ck_assert_int_eq(envelope_new("t", NULL, 0, &env), 0);
	ck_assert_int_eq(envelope_serialize(env, &s, &len), 0);
	ck_assert_str_eq(s, "{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[]}");
	ck_assert_int_eq(parse_len(s, len, &back), 0);
	assert_env_eq(env, back);
	envelope_free(back);
	free(s);
	envelope_free(env);
}
END_TEST

START_TEST(test_builder_arguments)
{
	struct dsse_envelope *env = (struct dsse_envelope *)(uintptr_t)1;
	char type[ENVELOPE_TYPE_MAX + 2], keyid[ENVELOPE_KEYID_MAX + 2];

	ck_assert_int_eq(envelope_new(NULL, NULL, 0, &env), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(env);
	ck_assert_int_eq(envelope_new("", NULL, 0, &env), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(envelope_new("t", NULL, 5, &env), SG_ERR_INVALID_ARGUMENT);
	memset(type, 't', sizeof(type));
	type[ENVELOPE_TYPE_MAX + 1] = '\0';
	ck_assert_int_eq(envelope_new(type, NULL, 0, &env), SG_ERR_INVALID_ARGUMENT);
	type[ENVELOPE_TYPE_MAX] = '\0';
	ck_assert_int_eq(envelope_new(type, NULL, 0, &env), 0);

	ck_assert_int_eq(
	    envelope_add_sig(env, NULL, (const uint8_t *)"s", 1, NULL, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    envelope_add_sig(env, "", (const uint8_t *)"s", 1, NULL, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    envelope_add_sig(env, "k", (const uint8_t *)"s", 0, NULL, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(envelope_add_sig(env, "k", NULL, 1, NULL, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    envelope_add_sig(env, "k", (const uint8_t *)"s", 1, NULL, 3), SG_ERR_INVALID_ARGUMENT);
	memset(keyid, 'k', sizeof(keyid));
	keyid[ENVELOPE_KEYID_MAX + 1] = '\0';
	ck_assert_int_eq(envelope_add_sig(env, keyid, (const uint8_t *)"s", 1, NULL, 0),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_uint_eq(env->nsigs, 0);
	keyid[ENVELOPE_KEYID_MAX] = '\0';
	ck_assert_int_eq(envelope_add_sig(env, keyid, (const uint8_t *)"s", 1, NULL, 0), 0);
	ck_assert_uint_eq(env->nsigs, 1);
	envelope_free(env);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("envelope");

	test_add(s, "/envelope/pae/dsse-spec-example", test_pae_spec_example, TEST_TIMEOUT_S);
	test_add(s, "/envelope/pae/length-prefix", test_pae_vectors, TEST_TIMEOUT_S);
	test_add(s, "/envelope/parse/valid", test_parse_valid, TEST_TIMEOUT_S);
	test_add(s, "/envelope/parse/signature-count", test_sig_count, TEST_TIMEOUT_S);
	test_add(s, "/envelope/parse/size-limit", test_size_limit, TEST_TIMEOUT_S);
	test_add(s, "/envelope/parse/malformed-shapes", test_malformed_shapes, TEST_TIMEOUT_S);
	test_add(s, "/envelope/parse/string-limits", test_string_limits, TEST_TIMEOUT_S);
	test_add(s, "/envelope/salvage", test_salvage, TEST_TIMEOUT_S);
	test_add(s, "/envelope/serialize/exact", test_serialize_exact, TEST_TIMEOUT_S);
	test_add(s, "/envelope/serialize/round-trip", test_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/envelope/builder/arguments", test_builder_arguments, TEST_TIMEOUT_S);

	return test_run(s);
}
