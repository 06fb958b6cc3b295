/*
 * test_result.c — the result payload: serialize/parse round trips for
 * signed, rejected, failed and pending results, the presence rules of
 * SPEC §6 and of docs/approvals.md, the limits at their edges and the
 * message clean-up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "result.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */

#define ID     "0123456789abcdef0123456789abcdef"
#define SHA    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define JOBSHA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define AUDIT  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static uint8_t *
dup_bytes(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(d);
	memcpy(d, p, n);
	return d;
}

static char *
dup_str(const char *s)
{
	char *d = strdup(s);

	ck_assert_ptr_nonnull(d);
	return d;
}

/* Fills what every result has. */
static struct sg_result *
base(enum sg_status status)
{
	struct sg_result *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	memcpy(r->id, ID, sizeof(r->id));
	r->status = status;
	memcpy(r->job_sha256, JOBSHA, sizeof(r->job_sha256));
	r->agent = dup_str("hsm-1");
	return r;
}

static void
add_job_facts(struct sg_result *r)
{
	size_t i;

	r->submitter = dup_str("ci-firmware");
	r->key = dup_str("release");
	r->format = dup_str("cms");
	r->has_artifact = 1;
	r->artifact.name = dup_str("fw.bin");
	for (i = 0; i < SHA256_LEN; i++)
		r->artifact.sha256[i] = (uint8_t)(0xe0 + i);
	r->artifact.size = 1234;
}

static struct sg_result *
make_signed(void)
{
	struct sg_result *r = base(SG_STATUS_SIGNED);

	add_job_facts(r);
	r->signature.data = dup_bytes("\x30\x45\x02\x20sig", 7);
	r->signature.len = 7;
	r->certs[0].data = dup_bytes("\x30\x82leaf", 6);
	r->certs[0].len = 6;
	r->certs[1].data = dup_bytes("\x30\x82root!", 7);
	r->certs[1].len = 7;
	r->ncerts = 2;
	r->signed_at = 1795708805;
	r->audit_seq = 42;
	memcpy(r->audit_hash, AUDIT, sizeof(r->audit_hash));
	r->store_signature = dup_str("file:///store/release/" ID "/fw.bin.p7s");
	r->store_result = dup_str("file:///store/release/" ID "/result.json");
	return r;
}

static int
parse_len(const char *s, size_t len, struct sg_result **ret)
{
	uint8_t *copy = dup_bytes(s, len);
	int r = result_parse(copy, len, ret);

	free(copy);
	return r;
}

static char *
serialize_ok(const struct sg_result *r)
{
	char *s = NULL;
	size_t len = 0;

	ck_assert_int_eq(result_serialize(r, &s, &len), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(len, strlen(s));
	return s;
}

static struct sg_result *
parse_ok(const char *s)
{
	struct sg_result *r = NULL;
	int rv = parse_len(s, strlen(s), &r);

	ck_assert_msg(rv == 0, "refused (%d): %s", rv, s);
	ck_assert_ptr_nonnull(r);
	return r;
}

static void
expect_refused(const char *s)
{
	struct sg_result *r = (struct sg_result *)(uintptr_t)1;
	int rv = parse_len(s, strlen(s), &r);

	ck_assert_msg(rv == SG_ERR_PARSE, "got %d: %s", rv, s);
	ck_assert_ptr_null(r);
}

static void
assert_common_eq(const struct sg_result *a, const struct sg_result *b)
{
	ck_assert_str_eq(a->id, b->id);
	ck_assert_int_eq(a->status, b->status);
	ck_assert_str_eq(a->job_sha256, b->job_sha256);
	ck_assert_str_eq(a->agent, b->agent);
	ck_assert_pstr_eq(a->submitter, b->submitter);
	ck_assert_pstr_eq(a->key, b->key);
	ck_assert_pstr_eq(a->format, b->format);
	ck_assert_int_eq(a->has_artifact, b->has_artifact);
	if (a->has_artifact) {
		ck_assert_str_eq(a->artifact.name, b->artifact.name);
		ck_assert_mem_eq(a->artifact.sha256, b->artifact.sha256, SHA256_LEN);
		ck_assert_uint_eq(a->artifact.size, b->artifact.size);
	}
}

START_TEST(test_signed_round_trip)
{
	struct sg_result *r = make_signed(), *back;
	char *s = serialize_ok(r);
	size_t i;

	/* SPEC §6 member order, compact. */
	ck_assert_str_eq(s,
	    "{\"v\":1,\"id\":\"" ID "\",\"status\":\"signed\",\"job_sha256\":\"" JOBSHA
	    "\",\"submitter\":\"ci-firmware\",\"key\":\"release\",\"format\":\"cms\","
	    "\"artifact\":{\"name\":\"fw.bin\",\"sha256\":"
	    "\"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\",\"size\":1234},"
	    "\"signature\":\"MEUCIHNpZw==\",\"certificates\":[\"MIJsZWFm\",\"MIJyb290IQ==\"],"
	    "\"signed_at\":\"2026-11-26T16:00:05Z\",\"agent\":\"hsm-1\","
	    "\"audit\":{\"seq\":42,\"hash\":\"" AUDIT "\"},"
	    "\"store\":{\"signature\":\"file:///store/release/" ID "/fw.bin.p7s\","
	    "\"result\":\"file:///store/release/" ID "/result.json\"}}");
	back = parse_ok(s);
	assert_common_eq(r, back);
	ck_assert_int_eq(back->error, 0);
	ck_assert_ptr_null(back->error_code);
	ck_assert_ptr_null(back->error_message);
	ck_assert_uint_eq(back->signature.len, r->signature.len);
	ck_assert_mem_eq(back->signature.data, r->signature.data, r->signature.len);
	ck_assert_uint_eq(back->ncerts, 2);
	for (i = 0; i < 2; i++) {
		ck_assert_uint_eq(back->certs[i].len, r->certs[i].len);
		ck_assert_mem_eq(back->certs[i].data, r->certs[i].data, r->certs[i].len);
	}
	ck_assert_int_eq(back->signed_at, r->signed_at);
	ck_assert_uint_eq(back->audit_seq, 42);
	ck_assert_str_eq(back->audit_hash, AUDIT);
	ck_assert_str_eq(back->store_signature, r->store_signature);
	ck_assert_str_eq(back->store_result, r->store_result);
	ck_assert_str_eq(back->artifact.sha256_hex,
	    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
	result_free(back);
	free(s);
	result_free(r);
	result_free(NULL);
}
END_TEST

START_TEST(test_rejected_round_trip)
{
	struct sg_result *r = base(SG_STATUS_REJECTED), *back;
	char *s;

	r->error = SG_ERR_JOB_UNKNOWN_FIELD;
	r->error_message = dup_str("unknown member \"x\"");
	s = serialize_ok(r);
	ck_assert_str_eq(s,
	    "{\"v\":1,\"id\":\"" ID "\",\"status\":\"rejected\",\"error\":"
	    "{\"code\":\"job.unknown_field\",\"message\":\"unknown member \\\"x\\\"\"},"
	    "\"job_sha256\":\"" JOBSHA "\",\"agent\":\"hsm-1\"}");
	back = parse_ok(s);
	assert_common_eq(r, back);
	ck_assert_int_eq(back->error, SG_ERR_JOB_UNKNOWN_FIELD);
	ck_assert_str_eq(back->error_code, "job.unknown_field");
	ck_assert_str_eq(back->error_message, r->error_message);
	ck_assert_uint_eq(back->ncerts, 0);
	ck_assert_ptr_null(back->signature.data);
	result_free(back);
	free(s);

	/* The agent knew the job: its facts go along. */
	add_job_facts(r);
	r->error = SG_ERR_POLICY_FORMAT_NOT_ALLOWED;
	s = serialize_ok(r);
	back = parse_ok(s);
	assert_common_eq(r, back);
	ck_assert_int_eq(back->error, SG_ERR_POLICY_FORMAT_NOT_ALLOWED);
	result_free(back);
	free(s);
	result_free(r);
}
END_TEST

START_TEST(test_failed_round_trip)
{
	struct sg_result *r = base(SG_STATUS_FAILED), *back;
	char *s;

	r->error = SG_ERR_HSM_UNAVAILABLE;
	s = serialize_ok(r);
	back = parse_ok(s);
	assert_common_eq(r, back);
	ck_assert_int_eq(back->status, SG_STATUS_FAILED);
	ck_assert_int_eq(back->error, SG_ERR_HSM_UNAVAILABLE);
	ck_assert_str_eq(back->error_code, "hsm.unavailable");
	/* No message given: the code's text. */
	ck_assert_str_eq(back->error_message, sg_strerror(SG_ERR_HSM_UNAVAILABLE));
	result_free(back);
	free(s);

	/* A code outside SPEC §7 goes out as "internal". */
	r->error = SG_ERR_QUEUE_PROTOCOL;
	s = serialize_ok(r);
	back = parse_ok(s);
	ck_assert_int_eq(back->error, SG_ERR_INTERNAL);
	ck_assert_str_eq(back->error_code, "internal");
	result_free(back);
	free(s);
	result_free(r);
}
END_TEST

START_TEST(test_message_cleanup)
{
	struct sg_result *r = base(SG_STATUS_REJECTED), *back;
	char *s, *long_msg;
	size_t i;

	r->error = SG_ERR_JOB_MALFORMED;
	r->error_message = dup_str("bad\x1b[31m\nname\x7f \xff\xc3 \xc2\x9b caf\xc3\xa9");
	s = serialize_ok(r);
	back = parse_ok(s);
	ck_assert_str_eq(back->error_message, "bad?[31m?name? ?? ?? caf\xc3\xa9");
	result_free(back);
	free(s);

	/* 300 two-byte characters: cut to RESULT_MESSAGE_MAX bytes, whole. */
	long_msg = malloc(601);
	ck_assert_ptr_nonnull(long_msg);
	for (i = 0; i < 300; i++)
		memcpy(long_msg + 2 * i, "\xc3\xa9", 2);
	long_msg[600] = '\0';
	free(r->error_message);
	r->error_message = long_msg;
	s = serialize_ok(r);
	back = parse_ok(s);
	ck_assert_uint_eq(strlen(back->error_message), RESULT_MESSAGE_MAX);
	ck_assert_mem_eq(back->error_message, long_msg, RESULT_MESSAGE_MAX);
	result_free(back);
	free(s);

	/* An odd cut point: 'x' then the characters; 511 bytes fit whole. */
	long_msg = malloc(602);
	ck_assert_ptr_nonnull(long_msg);
	long_msg[0] = 'x';
	for (i = 0; i < 300; i++)
		memcpy(long_msg + 1 + 2 * i, "\xc3\xa9", 2);
	long_msg[601] = '\0';
	free(r->error_message);
	r->error_message = long_msg;
	s = serialize_ok(r);
	back = parse_ok(s);
	ck_assert_uint_eq(strlen(back->error_message), RESULT_MESSAGE_MAX - 1);
	result_free(back);
	free(s);
	result_free(r);
}
END_TEST

/*
 * Parses json with cJSON, deletes member `del` and/or adds member `add`
 * with raw JSON `raw` in the object named `in` (NULL: the top level), and
 * prints it again.  Caller frees.
 */
static char *
mutate(const char *json, const char *in, const char *del, const char *add, const char *raw)
{
	cJSON *root = cJSON_Parse(json), *obj;
	char *out;

	ck_assert_ptr_nonnull(root);
	obj = in == NULL ? root : cJSON_GetObjectItemCaseSensitive(root, in);
	ck_assert_ptr_nonnull(obj);
	if (del != NULL) {
		ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(obj, del));
		cJSON_DeleteItemFromObjectCaseSensitive(obj, del);
	}
	if (add != NULL)
		ck_assert_ptr_nonnull(cJSON_AddRawToObject(obj, add, raw));
	out = cJSON_PrintUnformatted(root);
	ck_assert_ptr_nonnull(out);
	cJSON_Delete(root);
	return out;
}

static void
expect_mutation_refused(
    const char *json, const char *in, const char *del, const char *add, const char *raw)
{
	char *s = mutate(json, in, del, add, raw);

	expect_refused(s);
	free(s);
}

static void
expect_mutation_ok(
    const char *json, const char *in, const char *del, const char *add, const char *raw)
{
	char *s = mutate(json, in, del, add, raw);

	result_free(parse_ok(s));
	free(s);
}

START_TEST(test_presence_signed)
{
	static const char *const required[] = {
		"v",
		"id",
		"status",
		"job_sha256",
		"agent",
		"submitter",
		"key",
		"format",
		"artifact",
		"signature",
		"certificates",
		"signed_at",
		"audit",
		"store",
	};
	struct sg_result *r = make_signed();
	char *s = serialize_ok(r);
	size_t i;

	result_free(r);
	for (i = 0; i < nitems(required); i++)
		expect_mutation_refused(s, NULL, required[i], NULL, NULL);
	expect_mutation_refused(
	    s, NULL, NULL, "error", "{\"code\":\"internal\",\"message\":\"x\"}");
	expect_mutation_refused(s, NULL, "audit", "audit", "{\"seq\":1}");
	expect_mutation_refused(s, NULL, "audit", "audit", "{\"hash\":\"" AUDIT "\"}");
	expect_mutation_refused(s, "store", "result", NULL, NULL);
	expect_mutation_refused(s, "store", "signature", NULL, NULL);
	expect_mutation_refused(s, "artifact", "size", NULL, NULL);
	free(s);
}
END_TEST

START_TEST(test_presence_not_signed)
{
	static const struct {
		const char *name, *raw;
	} signed_only[] = {
		{ "signature", "\"c2ln\"" },
		{ "certificates", "[\"MIJsZWFm\"]" },
		{ "signed_at", "\"2026-11-26T16:00:05Z\"" },
		{ "audit", "{\"seq\":1,\"hash\":\"" AUDIT "\"}" },
		{ "store", "{\"signature\":\"a\",\"result\":\"b\"}" },
		{ "timestamp", "{\"time\":\"2026-11-26T16:00:05Z\",\"tsa\":\"CN=tsa\"}" },
	};
	static const char *const required[] = { "v", "id", "status", "job_sha256", "agent",
		"error" };
	struct sg_result *r = base(SG_STATUS_FAILED);
	char *s;
	size_t i;

	r->error = SG_ERR_STORE_FAILED;
	s = serialize_ok(r);
	result_free(r);
	for (i = 0; i < nitems(signed_only); i++)
		expect_mutation_refused(s, NULL, NULL, signed_only[i].name, signed_only[i].raw);
	for (i = 0; i < nitems(required); i++)
		expect_mutation_refused(s, NULL, required[i], NULL, NULL);
	expect_mutation_refused(s, "error", "code", NULL, NULL);
	expect_mutation_refused(s, "error", "message", NULL, NULL);
	/* Optional facts. */
	expect_mutation_ok(s, NULL, NULL, "submitter", "\"ci\"");
	expect_mutation_ok(s, NULL, NULL, "key", "\"release\"");
	expect_mutation_ok(s, NULL, NULL, "format", "\"raw\"");
	expect_mutation_ok(
	    s, NULL, NULL, "artifact", "{\"name\":\"a\",\"sha256\":\"" SHA "\",\"size\":0}");
	expect_mutation_refused(s, NULL, NULL, "format", "\"pgp\"");
	expect_mutation_refused(s, NULL, NULL, "key", "\"\"");
	expect_mutation_refused(
	    s, NULL, NULL, "artifact", "{\"name\":\"a\",\"sha256\":\"" SHA "\"}");
	expect_mutation_refused(
	    s, NULL, NULL, "artifact", "{\"name\":\"..\",\"sha256\":\"" SHA "\",\"size\":0}");
	free(s);
}
END_TEST

/* The timestamp member of docs/protocol.md §4: signed results only,
 * both members, strict. */
START_TEST(test_timestamp)
{
	struct sg_result *r = make_signed(), *back;
	char *s;

	r->has_timestamp = 1;
	r->timestamp_time = 1795708806; /* 2026-11-26T16:00:06Z */
	r->timestamp_tsa = strdup("CN=signet test TSA,O=signet test");
	s = serialize_ok(r);
	ck_assert_ptr_nonnull(strstr(s,
	    ",\"timestamp\":{\"time\":\"2026-11-26T16:00:06Z\","
	    "\"tsa\":\"CN=signet test TSA,O=signet test\"}}"));
	back = parse_ok(s);
	ck_assert_int_eq(back->has_timestamp, 1);
	ck_assert_int_eq(back->timestamp_time, r->timestamp_time);
	ck_assert_str_eq(back->timestamp_tsa, r->timestamp_tsa);
	result_free(back);
	expect_mutation_refused(s, "timestamp", "tsa", NULL, NULL);
	expect_mutation_refused(s, "timestamp", "time", NULL, NULL);
	expect_mutation_refused(s, "timestamp", NULL, "x", "1");
	expect_mutation_refused(s, NULL, NULL, "timestamp", "\"2026-11-26T16:00:06Z\"");
	free(s);
	/* Without one, none is written or read. */
	r->has_timestamp = 0;
	s = serialize_ok(r);
	ck_assert_ptr_null(strstr(s, "timestamp"));
	back = parse_ok(s);
	ck_assert_int_eq(back->has_timestamp, 0);
	ck_assert_ptr_null(back->timestamp_tsa);
	result_free(back);
	free(s);
	result_free(r);
}
END_TEST

START_TEST(test_strictness)
{
	struct sg_result *r = make_signed(), *back;
	char *s = serialize_ok(r), *t;

	result_free(r);
	/* Unknown members at every level. */
	expect_mutation_refused(s, NULL, NULL, "x", "1");
	expect_mutation_refused(s, NULL, NULL, "Status", "\"signed\"");
	expect_mutation_refused(s, "artifact", NULL, "x", "1");
	expect_mutation_refused(s, "audit", NULL, "x", "1");
	expect_mutation_refused(s, "store", NULL, "x", "1");
	/* Duplicates. */
	expect_mutation_refused(s, NULL, NULL, "agent", "\"hsm-2\"");
	/* Values. */
	expect_mutation_refused(s, NULL, "v", "v", "2");
	expect_mutation_refused(s, NULL, "v", "v", "\"1\"");
	expect_mutation_refused(s, NULL, "status", "status", "\"ok\"");
	expect_mutation_refused(s, NULL, "status", "status", "\"Signed\"");
	expect_mutation_refused(s, NULL, "id", "id", "\"" ID "0\"");
	expect_mutation_refused(s, NULL, "id", "id", "\"0123456789ABCDEF0123456789abcdef\"");
	expect_mutation_refused(s, NULL, "job_sha256", "job_sha256", "\"" ID "\"");
	expect_mutation_refused(s, NULL, "agent", "agent", "\"\"");
	expect_mutation_refused(s, NULL, "agent", "agent", "\"a\\nb\"");
	expect_mutation_refused(s, NULL, "agent", "agent", "\"a\\u0000b\"");
	expect_mutation_refused(s, NULL, "signed_at", "signed_at", "\"2026-11-26T16:00:05\"");
	expect_mutation_refused(s, NULL, "signature", "signature", "\"\"");
	expect_mutation_refused(s, NULL, "signature", "signature", "\"c2l\"");
	expect_mutation_refused(s, NULL, "signature", "signature", "1");
	expect_mutation_refused(s, NULL, "certificates", "certificates", "[]");
	expect_mutation_refused(s, NULL, "certificates", "certificates", "[\"\"]");
	expect_mutation_refused(s, NULL, "certificates", "certificates", "[1]");
	expect_mutation_refused(s, NULL, "certificates", "certificates", "\"MIJsZWFm\"");
	expect_mutation_refused(s, "audit", "seq", "seq", "-1");
	expect_mutation_refused(s, "audit", "seq", "seq", "9007199254740992");
	expect_mutation_ok(s, "audit", "seq", "seq", "9007199254740991");
	expect_mutation_refused(s, "audit", "hash", "hash", "\"abc\"");
	expect_mutation_refused(s, "store", "result", "result", "\"\"");

	/* An error code from a later SPEC is kept, as internal. */
	t = mutate(s, NULL, "status", "status", "\"rejected\"");
	{
		char *u = mutate(
		    t, NULL, "signature", "error", "{\"code\":\"future.code\",\"message\":\"m\"}");
		char *v1 = mutate(u, NULL, "certificates", NULL, NULL);
		char *v2 = mutate(v1, NULL, "signed_at", NULL, NULL);
		char *v3 = mutate(v2, NULL, "audit", NULL, NULL);
		char *v4 = mutate(v3, NULL, "store", NULL, NULL);
		back = parse_ok(v4);
		ck_assert_int_eq(back->error, SG_ERR_INTERNAL);
		ck_assert_str_eq(back->error_code, "future.code");
		ck_assert_str_eq(back->error_message, "m");
		result_free(back);
		free(u);
		free(v1);
		free(v2);
		free(v3);
		free(v4);
	}
	free(t);
	free(s);
	expect_refused("");
	expect_refused("[]");
	expect_refused("{}");
}
END_TEST

/* A JSON string of n 'a's. */
static char *
str_of(size_t n)
{
	char *s = malloc(n + 3);

	ck_assert_ptr_nonnull(s);
	s[0] = '"';
	memset(s + 1, 'a', n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

/* A base64 string of n bytes (all 'A' == 0x00 groups). */
static char *
b64_of(size_t n)
{
	size_t enc = ((n + 2) / 3) * 4, i;
	char *s = malloc(enc + 3);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(n % 3, 0);
	s[0] = '"';
	for (i = 0; i < enc; i++)
		s[1 + i] = 'A';
	s[enc + 1] = '"';
	s[enc + 2] = '\0';
	return s;
}

START_TEST(test_limits)
{
	struct sg_result *r = make_signed();
	char *s = serialize_ok(r), *sig, *certs, *big;
	size_t i, o;

	result_free(r);
	/* RESULT_SIGNATURE_MAX is a multiple of 3. */
	sig = b64_of(RESULT_SIGNATURE_MAX);
	expect_mutation_ok(s, NULL, "signature", "signature", sig);
	free(sig);
	sig = b64_of(RESULT_SIGNATURE_MAX + 3);
	expect_mutation_refused(s, NULL, "signature", "signature", sig);
	free(sig);

	certs = malloc(16 * (RESULT_CERTS_MAX + 1) + 3);
	ck_assert_ptr_nonnull(certs);
	o = 0;
	certs[o++] = '[';
	for (i = 0; i < RESULT_CERTS_MAX; i++)
		o += (size_t)sprintf(certs + o, "%s\"MIJsZWFm\"", i ? "," : "");
	certs[o] = ']';
	certs[o + 1] = '\0';
	expect_mutation_ok(s, NULL, "certificates", "certificates", certs);
	sprintf(certs + o, ",\"MIJsZWFm\"]");
	expect_mutation_refused(s, NULL, "certificates", "certificates", certs);
	free(certs);

	big = str_of(RESULT_FIELD_MAX);
	expect_mutation_ok(s, NULL, "agent", "agent", big);
	expect_mutation_ok(s, "store", "result", "result", big);
	expect_mutation_ok(s, NULL, "submitter", "submitter", big);
	free(big);
	big = str_of(RESULT_FIELD_MAX + 1);
	expect_mutation_refused(s, NULL, "agent", "agent", big);
	expect_mutation_refused(s, "store", "result", "result", big);
	expect_mutation_refused(s, NULL, "submitter", "submitter", big);
	free(big);
	free(s);
}
END_TEST

START_TEST(test_serialize_refuses)
{
	struct sg_result *r = make_signed();
	char *s = (char *)1;
	size_t len = 3;
	char *saved;
	size_t n;

	/* Signed results need all their members. */
	saved = r->key;
	r->key = NULL;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(len, 0);
	r->key = saved;
	n = r->ncerts;
	r->ncerts = 0;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->ncerts = n;
	r->has_artifact = 0;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->has_artifact = 1;
	r->signature.len = 0;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->signature.len = 7;
	r->id[3] = 'X';
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->id[3] = '3';
	s = serialize_ok(r);
	free(s);
	result_free(r);

	/* Not signed without an error code. */
	r = base(SG_STATUS_REJECTED);
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->error = SG_ERR_JOB_EXPIRED;
	s = serialize_ok(r);
	free(s);
	free(r->agent);
	r->agent = NULL;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	result_free(r);
}
END_TEST

/* The inclusion proof members of audit (docs/audit.md). */
static struct sg_result *
make_signed_with_proof(size_t nproof)
{
	struct sg_result *r = make_signed();
	size_t i;

	r->audit_has_proof = 1;
	r->audit_tree_size = 42;
	memset(r->audit_root, 0xab, SHA256_LEN);
	for (i = 0; i < nproof; i++)
		memset(r->audit_proof[i], (int)(i + 1), SHA256_LEN);
	r->audit_nproof = nproof;
	r->audit_record =
	    dup_str("{\"seq\":42,\"event\":\"signed\",\"note\":\"caf\u00e9 \\\"q\\\"\"}");
	r->audit_record_len = strlen(r->audit_record);
	r->audit_checkpoints = dup_str("file:///store/audit/checkpoints/");
	return r;
}

START_TEST(test_audit_proof_round_trip)
{
	struct sg_result *r = make_signed_with_proof(6), *back;
	char *s = serialize_ok(r);

	back = parse_ok(s);
	ck_assert_int_eq(back->audit_has_proof, 1);
	ck_assert_uint_eq(back->audit_seq, 42);
	ck_assert_uint_eq(back->audit_tree_size, 42);
	ck_assert_mem_eq(back->audit_root, r->audit_root, SHA256_LEN);
	ck_assert_uint_eq(back->audit_nproof, 6);
	ck_assert_mem_eq(back->audit_proof[5], r->audit_proof[5], SHA256_LEN);
	ck_assert_str_eq(back->audit_record, r->audit_record);
	ck_assert_uint_eq(back->audit_record_len, r->audit_record_len);
	ck_assert_str_eq(back->audit_checkpoints, "file:///store/audit/checkpoints/");
	ck_assert_ptr_nonnull(strstr(s, "\"index\":41,\"tree_size\":42,"));
	result_free(back);
	free(s);
	result_free(r);

	/* Without the proof (older agents): still a valid signed result. */
	r = make_signed();
	s = serialize_ok(r);
	back = parse_ok(s);
	ck_assert_int_eq(back->audit_has_proof, 0);
	ck_assert_ptr_null(back->audit_record);
	result_free(back);
	free(s);
	result_free(r);
}
END_TEST

START_TEST(test_audit_proof_strict)
{
	static const char *const members[] = { "index", "tree_size", "root", "proof", "record" };
	struct sg_result *r = make_signed_with_proof(3);
	char *s = serialize_ok(r), *big;
	size_t i;

	/* All of them or none. */
	for (i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		expect_mutation_refused(s, "audit", members[i], NULL, NULL);
	expect_mutation_ok(s, "audit", "checkpoints", NULL, NULL);
	expect_mutation_refused(s, "audit", "index", "index", "40");         /* != seq - 1 */
	expect_mutation_refused(s, "audit", "tree_size", "tree_size", "41"); /* <= index */
	expect_mutation_ok(s, "audit", "tree_size", "tree_size", "43");
	expect_mutation_refused(s, "audit", "tree_size", "tree_size", "0");
	expect_mutation_refused(s, "audit", "root", "root", "\"AB\"");
	expect_mutation_refused(s, "audit", "proof", "proof", "[\"abc\"]");
	expect_mutation_refused(s, "audit", "proof", "proof", "[1]");
	expect_mutation_refused(s, "audit", "proof", "proof", "{}");
	expect_mutation_ok(s, "audit", "proof", "proof", "[]");
	expect_mutation_refused(s, "audit", "record", "record", "\"\"");
	expect_mutation_refused(s, "audit", "record", "record", "{}");
	expect_mutation_refused(s, "audit", "checkpoints", "checkpoints", "\"\"");
	expect_mutation_refused(s, "audit", NULL, "extra", "1");
	/* proof at MERKLE_PROOF_MAX and one past it. */
	big = malloc((MERKLE_PROOF_MAX + 1) * 67 + 3);
	ck_assert_ptr_nonnull(big);
	for (size_t n = MERKLE_PROOF_MAX; n <= MERKLE_PROOF_MAX + 1; n++) {
		size_t off = 0;
		big[off++] = '[';
		for (i = 0; i < n; i++) {
			off += (size_t)sprintf(big + off, "%s\"%064x\"", i ? "," : "", 0);
		}
		big[off++] = ']';
		big[off] = '\0';
		if (n == MERKLE_PROOF_MAX)
			expect_mutation_ok(s, "audit", "proof", "proof", big);
		else
			expect_mutation_refused(s, "audit", "proof", "proof", big);
	}
	free(big);
	free(s);
	result_free(r);
	/* A record over RESULT_AUDIT_RECORD_MAX is refused on both sides. */
	r = make_signed_with_proof(1);
	free(r->audit_record);
	r->audit_record = malloc(RESULT_AUDIT_RECORD_MAX + 2);
	ck_assert_ptr_nonnull(r->audit_record);
	memset(r->audit_record, 'x', RESULT_AUDIT_RECORD_MAX + 1);
	r->audit_record[RESULT_AUDIT_RECORD_MAX + 1] = '\0';
	ck_assert_int_eq(result_serialize(r, &s, &i), SG_ERR_INVALID_ARGUMENT);
	r->audit_record[RESULT_AUDIT_RECORD_MAX] = '\0';
	s = serialize_ok(r);
	result_free(parse_ok(s));
	free(s);
	result_free(r);
}
END_TEST

/* ---- approvals (docs/approvals.md) ---- */

#define KEYID_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEYID_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ENTRY   "1795708805000-0"
#define EXPIRES 1795709705 /* 2026-11-26T16:15:05Z */

static void
add_approval(
    struct sg_result *r, const char *approver, const char *keyid, int64_t at, const char *comment)
{
	struct sg_result_approval *a = &r->approvals[r->napprovals++];

	a->approver = dup_str(approver);
	if (keyid != NULL)
		strcpy(a->keyid, keyid);
	a->at = at;
	a->comment = comment != NULL ? dup_str(comment) : NULL;
}

/* A pending result that waits for 2 approvals and has none yet. */
static struct sg_result *
make_pending(void)
{
	struct sg_result *r = base(SG_STATUS_PENDING);

	add_job_facts(r);
	r->expires = EXPIRES;
	r->has_approvals = 1;
	r->approvals_required = 2;
	r->entry = dup_str(ENTRY);
	return r;
}

/* The job's facts that any result may carry. */
static void
add_ci_note(struct sg_result *r)
{
	r->ci.system = dup_str("gitlab");
	r->ci.project = dup_str("grp/fw");
	r->ci.pipeline = dup_str("42");
	r->ci.job = dup_str("7");
	r->ci.commit = dup_str("abc123");
	r->ci.ref = dup_str("main");
	r->ci.url = dup_str("https://ci.example/p/42");
	r->note = dup_str("release 1.2 \xe2\x9c\x93");
}

static void
assert_ci_note_eq(const struct sg_result *a, const struct sg_result *b)
{
	ck_assert_pstr_eq(a->ci.system, b->ci.system);
	ck_assert_pstr_eq(a->ci.project, b->ci.project);
	ck_assert_pstr_eq(a->ci.pipeline, b->ci.pipeline);
	ck_assert_pstr_eq(a->ci.job, b->ci.job);
	ck_assert_pstr_eq(a->ci.commit, b->ci.commit);
	ck_assert_pstr_eq(a->ci.ref, b->ci.ref);
	ck_assert_pstr_eq(a->ci.url, b->ci.url);
	ck_assert_pstr_eq(a->note, b->note);
	ck_assert_int_eq(a->expires, b->expires);
}

static void
assert_approvals_eq(const struct sg_result *a, const struct sg_result *b)
{
	size_t i;

	ck_assert_int_eq(a->has_approvals, b->has_approvals);
	ck_assert_uint_eq(a->napprovals, b->napprovals);
	for (i = 0; i < a->napprovals; i++) {
		ck_assert_str_eq(a->approvals[i].approver, b->approvals[i].approver);
		ck_assert_str_eq(a->approvals[i].keyid, b->approvals[i].keyid);
		ck_assert_int_eq(a->approvals[i].at, b->approvals[i].at);
		ck_assert_pstr_eq(a->approvals[i].comment, b->approvals[i].comment);
	}
}

START_TEST(test_pending_round_trip_empty)
{
	struct sg_result *r = make_pending(), *back;
	char *s = serialize_ok(r);

	ck_assert_str_eq(s,
	    "{\"v\":1,\"id\":\"" ID "\",\"status\":\"pending\",\"job_sha256\":\"" JOBSHA
	    "\",\"submitter\":\"ci-firmware\",\"key\":\"release\",\"format\":\"cms\","
	    "\"artifact\":{\"name\":\"fw.bin\",\"sha256\":"
	    "\"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\",\"size\":1234},"
	    "\"agent\":\"hsm-1\",\"expires\":\"2026-11-26T16:15:05Z\","
	    "\"approvals\":{\"required\":2,\"received\":[]},\"entry\":\"" ENTRY "\"}");
	back = parse_ok(s);
	assert_common_eq(r, back);
	ck_assert_int_eq(back->status, SG_STATUS_PENDING);
	ck_assert_int_eq(back->error, 0);
	ck_assert_ptr_null(back->error_code);
	ck_assert_int_eq(back->has_approvals, 1);
	ck_assert_uint_eq(back->approvals_required, 2);
	ck_assert_uint_eq(back->napprovals, 0);
	ck_assert_uint_eq(back->nrefused, 0);
	ck_assert_uint_eq(back->nnotified, 0);
	ck_assert_str_eq(back->entry, ENTRY);
	ck_assert_int_eq(back->expires, EXPIRES);
	ck_assert_ptr_null(back->note);
	ck_assert_ptr_null(back->ci.system);
	ck_assert_ptr_null(back->signature.data);
	ck_assert_uint_eq(back->ncerts, 0);
	result_free(back);
	free(s);
	result_free(r);
}
END_TEST

START_TEST(test_pending_round_trip_full)
{
	struct sg_result *r = make_pending(), *back;
	char *s;
	size_t i;

	add_ci_note(r);
	r->approvals_required = 3;
	add_approval(r, "alice", KEYID_A, 1795708900, "looks right \xc3\xa9");
	add_approval(r, "bob@fw.example.com", NULL, 1795708901, NULL);
	strcpy(r->refused[0].keyid, KEYID_B);
	r->refused[0].approver = dup_str("ci-firmware");
	r->refused[0].why = dup_str("the job's submitter");
	r->refused[0].at = 1795708950;
	strcpy(r->refused[1].keyid, KEYID_A);
	r->refused[1].approver = dup_str("mallory");
	r->refused[1].why = dup_str("not an approver of key release");
	r->refused[1].at = 1795708960;
	r->nrefused = 2;
	r->notified[0] = dup_str("chat");
	r->notified[1] = dup_str("owner");
	r->nnotified = 2;
	s = serialize_ok(r);
	/* An approval without keyid or comment has neither member. */
	ck_assert_ptr_nonnull(
	    strstr(s, "{\"approver\":\"bob@fw.example.com\",\"at\":\"2026-11-26T16:01:41Z\"}"));
	ck_assert_ptr_nonnull(strstr(s, "\"notified\":[\"chat\",\"owner\"]},\"entry\""));
	back = parse_ok(s);
	assert_common_eq(r, back);
	assert_ci_note_eq(r, back);
	assert_approvals_eq(r, back);
	ck_assert_str_eq(back->approvals[1].keyid, "");
	ck_assert_ptr_null(back->approvals[1].comment);
	ck_assert_uint_eq(back->approvals_required, 3);
	ck_assert_uint_eq(back->nrefused, 2);
	for (i = 0; i < 2; i++) {
		ck_assert_str_eq(back->refused[i].keyid, r->refused[i].keyid);
		ck_assert_str_eq(back->refused[i].approver, r->refused[i].approver);
		ck_assert_str_eq(back->refused[i].why, r->refused[i].why);
		ck_assert_int_eq(back->refused[i].at, r->refused[i].at);
	}
	ck_assert_uint_eq(back->nnotified, 2);
	ck_assert_str_eq(back->notified[0], "chat");
	ck_assert_str_eq(back->notified[1], "owner");
	ck_assert_str_eq(back->entry, ENTRY);
	result_free(back);
	free(s);
	result_free(r);
}
END_TEST

/* A JSON array of n copies of item. */
static char *
array_of(const char *item, size_t n)
{
	size_t cap = n * (strlen(item) + 1) + 3, o = 0, i;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	s[o++] = '[';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%s", i ? "," : "", item);
	snprintf(s + o, cap - o, "]");
	return s;
}

#define RECEIVED                                                                                   \
	"{\"approver\":\"alice\",\"keyid\":\"" KEYID_A "\",\"at\":\"2026-11-26T16:01:40Z\"}"
#define REFUSED                                                                                    \
	"{\"keyid\":\"" KEYID_B "\",\"approver\":\"ci\",\"why\":\"the job's submitter\","          \
	"\"at\":\"2026-11-26T16:01:40Z\"}"

START_TEST(test_pending_presence)
{
	static const char *const required[] = { "submitter", "key", "format", "artifact", "expires",
		"approvals", "entry", "agent", "job_sha256" };
	static const struct {
		const char *name, *raw;
	} signed_only[] = {
		{ "signature", "\"c2ln\"" },
		{ "certificates", "[\"MIJsZWFm\"]" },
		{ "signed_at", "\"2026-11-26T16:00:05Z\"" },
		{ "audit", "{\"seq\":1,\"hash\":\"" AUDIT "\"}" },
		{ "store", "{\"signature\":\"a\",\"result\":\"b\"}" },
		{ "timestamp", "{\"time\":\"2026-11-26T16:00:05Z\",\"tsa\":\"CN=tsa\"}" },
	};
	struct sg_result *r = make_pending();
	char *s = serialize_ok(r);
	size_t i;

	result_free(r);
	result_free(parse_ok(s));
	for (i = 0; i < nitems(required); i++)
		expect_mutation_refused(s, NULL, required[i], NULL, NULL);
	expect_mutation_refused(
	    s, NULL, NULL, "error", "{\"code\":\"internal\",\"message\":\"x\"}");
	for (i = 0; i < nitems(signed_only); i++)
		expect_mutation_refused(s, NULL, NULL, signed_only[i].name, signed_only[i].raw);
	expect_mutation_refused(s, "approvals", "required", NULL, NULL);
	expect_mutation_refused(s, "approvals", "received", NULL, NULL);
	/* The list form belongs to signed and rejected results. */
	expect_mutation_refused(s, NULL, "approvals", "approvals", "[" RECEIVED "]");
	expect_mutation_refused(s, NULL, "approvals", "approvals", "[]");
	expect_mutation_refused(s, "approvals", NULL, "x", "1");
	expect_mutation_refused(s, "approvals", NULL, "Required", "2");
	/* Optional: refused and notified. */
	expect_mutation_ok(s, "approvals", NULL, "refused", "[]");
	expect_mutation_ok(s, "approvals", NULL, "notified", "[]");
	expect_mutation_refused(s, "approvals", NULL, "refused", "{}");
	expect_mutation_refused(s, "approvals", NULL, "notified", "\"chat\"");
	free(s);
}
END_TEST

START_TEST(test_pending_values)
{
	struct sg_result *r = make_pending();
	char *s = serialize_ok(r), *big, *item;
	size_t i;

	result_free(r);
	/* required: 1..RESULT_APPROVALS_MAX. */
	expect_mutation_ok(s, "approvals", "required", "required", "1");
	expect_mutation_ok(s, "approvals", "required", "required", "16");
	expect_mutation_refused(s, "approvals", "required", "required", "0");
	expect_mutation_refused(s, "approvals", "required", "required", "17");
	expect_mutation_refused(s, "approvals", "required", "required", "-1");
	expect_mutation_refused(s, "approvals", "required", "required", "\"2\"");
	expect_mutation_refused(s, "approvals", "required", "required", "1.5");

	/* received: at most RESULT_APPROVALS_MAX, each well formed. */
	big = array_of(RECEIVED, RESULT_APPROVALS_MAX);
	expect_mutation_ok(s, "approvals", "received", "received", big);
	free(big);
	big = array_of(RECEIVED, RESULT_APPROVALS_MAX + 1);
	expect_mutation_refused(s, "approvals", "received", "received", big);
	free(big);
	expect_mutation_ok(s, "approvals", "received", "received",
	    "[{\"approver\":\"a\",\"at\":\"2026-11-26T16:01:40Z\",\"comment\":\"ok\"}]");
	expect_mutation_refused(s, "approvals", "received", "received", "{}");
	expect_mutation_refused(s, "approvals", "received", "received", "[\"alice\"]");
	expect_mutation_refused(s, "approvals", "received", "received",
	    "[{\"keyid\":\"" KEYID_A "\",\"at\":\"2026-11-26T16:01:40Z\"}]");
	expect_mutation_refused(
	    s, "approvals", "received", "received", "[{\"approver\":\"alice\"}]");
	expect_mutation_refused(s, "approvals", "received", "received",
	    "[{\"approver\":\"\",\"at\":\"2026-11-26T16:01:40Z\"}]");
	expect_mutation_refused(s, "approvals", "received", "received",
	    "[{\"approver\":\"a\",\"at\":\"2026-11-26T16:01:40+00:00\"}]");
	expect_mutation_refused(s, "approvals", "received", "received",
	    "[{\"approver\":\"a\",\"at\":\"2026-11-26T16:01:40Z\",\"keyid\":\"sha256:ab\"}]");
	expect_mutation_refused(s, "approvals", "received", "received",
	    "[{\"approver\":\"a\",\"at\":\"2026-11-26T16:01:40Z\",\"comment\":\"\"}]");
	expect_mutation_refused(s, "approvals", "received", "received",
	    "[{\"approver\":\"a\",\"at\":\"2026-11-26T16:01:40Z\",\"comment\":\"a\\nb\"}]");
	expect_mutation_refused(s, "approvals", "received", "received",
	    "[{\"approver\":\"a\",\"at\":\"2026-11-26T16:01:40Z\",\"x\":1}]");

	/* refused: at most RESULT_REFUSED_MAX, keyid "sha256:" and 64
	 * lowercase hex digits. */
	big = array_of(REFUSED, RESULT_REFUSED_MAX);
	expect_mutation_ok(s, "approvals", NULL, "refused", big);
	free(big);
	big = array_of(REFUSED, RESULT_REFUSED_MAX + 1);
	expect_mutation_refused(s, "approvals", NULL, "refused", big);
	free(big);
	{
		static const char *const bad_keyids[] = {
			"\"sha256:"
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"",
			"\"sha256:"
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"",
			"\"sha256:"
			"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\"",
			"\"sha512:"
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"",
			"\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
			"\"",
			"\"\"",
			"null",
		};
		char one[512];

		for (i = 0; i < nitems(bad_keyids); i++) {
			snprintf(one, sizeof(one),
			    "[{\"keyid\":%s,\"approver\":\"ci\",\"why\":\"w\","
			    "\"at\":\"2026-11-26T16:01:40Z\"}]",
			    bad_keyids[i]);
			expect_mutation_refused(s, "approvals", NULL, "refused", one);
		}
	}
	expect_mutation_refused(s, "approvals", NULL, "refused",
	    "[{\"approver\":\"ci\",\"why\":\"w\",\"at\":\"2026-11-26T16:01:40Z\"}]");
	expect_mutation_refused(s, "approvals", NULL, "refused",
	    "[{\"keyid\":\"" KEYID_B "\",\"approver\":\"ci\",\"at\":\"2026-11-26T16:01:40Z\"}]");
	expect_mutation_refused(s, "approvals", NULL, "refused",
	    "[{\"keyid\":\"" KEYID_B "\",\"approver\":\"ci\",\"why\":\"\","
	    "\"at\":\"2026-11-26T16:01:40Z\"}]");

	/* notified: at most RESULT_NOTIFIED_MAX names of 1..64 bytes. */
	big = array_of("\"chat\"", RESULT_NOTIFIED_MAX);
	expect_mutation_ok(s, "approvals", NULL, "notified", big);
	free(big);
	big = array_of("\"chat\"", RESULT_NOTIFIED_MAX + 1);
	expect_mutation_refused(s, "approvals", NULL, "notified", big);
	free(big);
	item = str_of(64);
	big = array_of(item, 1);
	expect_mutation_ok(s, "approvals", NULL, "notified", big);
	free(big);
	free(item);
	item = str_of(65);
	big = array_of(item, 1);
	expect_mutation_refused(s, "approvals", NULL, "notified", big);
	free(big);
	free(item);
	expect_mutation_refused(s, "approvals", NULL, "notified", "[\"\"]");
	expect_mutation_refused(s, "approvals", NULL, "notified", "[1]");
	expect_mutation_refused(s, "approvals", NULL, "notified", "[\"a\\u0007\"]");

	/* expires: an RFC 3339 time. */
	expect_mutation_refused(s, NULL, "expires", "expires", "1795709705");
	expect_mutation_refused(s, NULL, "expires", "expires", "\"2026-11-26T16:15:05.0Z\"");
	expect_mutation_refused(s, NULL, "expires", "expires", "\"1970-01-01T00:00:00Z\"");
	free(s);
}
END_TEST

/* "entry" is a stream entry id, "<digits>-<digits>", 3..64 bytes. */
START_TEST(test_pending_entry)
{
	static const char *const good[] = { "\"0-0\"", "\"1795708805000-12\"", "\"@1*62@\"" };
	static const char *const bad[] = {
		"\"\"",
		"\"12\"",
		"\"123\"",
		"\"1-\"",
		"\"-1\"",
		"\"-\"",
		"\"1-2-3\"",
		"\"1--2\"",
		"\"a-1\"",
		"\"1-a\"",
		"\"1 -2\"",
		"\"+1-2\"",
		"\"1-2 \"",
		"\"0x1-2\"",
		"\"1795708805000-0\\n\"",
		"1",
		"null",
		"[\"1-0\"]",
	};
	struct sg_result *r = make_pending();
	char *s = serialize_ok(r), entry[80];
	size_t i;

	result_free(r);
	for (i = 0; i < nitems(good); i++) {
		if (strcmp(good[i], "\"@1*62@\"") == 0) {
			/* 64 bytes: 31 digits, '-', 32 digits. */
			entry[0] = '"';
			memset(entry + 1, '1', 31);
			entry[32] = '-';
			memset(entry + 33, '2', 32);
			strcpy(entry + 65, "\"");
			expect_mutation_ok(s, NULL, "entry", "entry", entry);
			/* 65 bytes. */
			memset(entry + 33, '2', 33);
			strcpy(entry + 66, "\"");
			expect_mutation_refused(s, NULL, "entry", "entry", entry);
			continue;
		}
		expect_mutation_ok(s, NULL, "entry", "entry", good[i]);
	}
	for (i = 0; i < nitems(bad); i++)
		expect_mutation_refused(s, NULL, "entry", "entry", bad[i]);
	free(s);

	/* Never outside pending. */
	r = make_signed();
	s = serialize_ok(r);
	result_free(r);
	expect_mutation_refused(s, NULL, NULL, "entry", "\"" ENTRY "\"");
	free(s);
	r = base(SG_STATUS_REJECTED);
	r->error = SG_ERR_JOB_EXPIRED;
	s = serialize_ok(r);
	result_free(r);
	expect_mutation_refused(s, NULL, NULL, "entry", "\"" ENTRY "\"");
	free(s);
	r = base(SG_STATUS_FAILED);
	r->error = SG_ERR_HSM_UNAVAILABLE;
	s = serialize_ok(r);
	result_free(r);
	expect_mutation_refused(s, NULL, NULL, "entry", "\"" ENTRY "\"");
	free(s);
}
END_TEST

/* What result_parse() refuses of a pending result never leaves
 * result_serialize(). */
START_TEST(test_pending_serialize_refuses)
{
	struct sg_result *r = make_pending();
	char *s = (char *)1, *saved;
	size_t len = 3;

	saved = r->entry;
	r->entry = NULL;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(len, 0);
	r->entry = dup_str("1-2-3");
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	free(r->entry);
	r->entry = saved;
	r->approvals_required = 0;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->approvals_required = RESULT_APPROVALS_MAX + 1;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->approvals_required = 2;
	r->expires = 0;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->expires = EXPIRES;
	r->has_artifact = 0;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->has_artifact = 1;
	r->nrefused = RESULT_REFUSED_MAX + 1;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->nrefused = 0;
	r->nnotified = RESULT_NOTIFIED_MAX + 1;
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	r->nnotified = 0;
	add_approval(r, "alice", NULL, 1795708900, "a\x01");
	ck_assert_int_eq(result_serialize(r, &s, &len), SG_ERR_INVALID_ARGUMENT);
	free(r->approvals[0].comment);
	r->approvals[0].comment = NULL;
	s = serialize_ok(r);
	free(s);
	result_free(r);
}
END_TEST

/* Signed and rejected results list the approvals that were counted. */
START_TEST(test_approvals_list)
{
	struct sg_result *r = make_signed(), *back;
	char *s;

	r->has_approvals = 1;
	add_approval(r, "alice", KEYID_A, 1795708900, "ok");
	add_approval(r, "bob", KEYID_B, 1795708901, NULL);
	add_ci_note(r);
	r->expires = EXPIRES;
	s = serialize_ok(r);
	ck_assert_ptr_nonnull(strstr(s,
	    ",\"approvals\":[{\"approver\":\"alice\",\"keyid\":\"" KEYID_A
	    "\",\"at\":\"2026-11-26T16:01:40Z\",\"comment\":\"ok\"},"));
	back = parse_ok(s);
	assert_common_eq(r, back);
	assert_approvals_eq(r, back);
	assert_ci_note_eq(r, back);
	ck_assert_uint_eq(back->approvals_required, 0);
	ck_assert_ptr_null(back->entry);
	result_free(back);
	/* The pending form, an unknown member or too many are refused. */
	expect_mutation_refused(
	    s, NULL, "approvals", "approvals", "{\"required\":1,\"received\":[]}");
	expect_mutation_refused(s, NULL, "approvals", "approvals", "[{\"approver\":\"a\"}]");
	{
		char *big = array_of(RECEIVED, RESULT_APPROVALS_MAX + 1);

		expect_mutation_refused(s, NULL, "approvals", "approvals", big);
		free(big);
		big = array_of(RECEIVED, RESULT_APPROVALS_MAX);
		expect_mutation_ok(s, NULL, "approvals", "approvals", big);
		free(big);
	}
	free(s);

	/* A key with approvals and none counted: an empty list. */
	r->napprovals = 0;
	free(r->approvals[0].approver);
	free(r->approvals[0].comment);
	free(r->approvals[1].approver);
	memset(r->approvals, 0, sizeof(r->approvals));
	s = serialize_ok(r);
	ck_assert_ptr_nonnull(strstr(s, "\"approvals\":[]"));
	back = parse_ok(s);
	ck_assert_int_eq(back->has_approvals, 1);
	ck_assert_uint_eq(back->napprovals, 0);
	result_free(back);
	free(s);
	/* Without approvals, none is written or read. */
	r->has_approvals = 0;
	s = serialize_ok(r);
	ck_assert_ptr_null(strstr(s, "approvals"));
	back = parse_ok(s);
	ck_assert_int_eq(back->has_approvals, 0);
	result_free(back);
	free(s);
	result_free(r);

	/* Denied: a rejection that carries the approvals counted before. */
	r = base(SG_STATUS_REJECTED);
	add_job_facts(r);
	r->error = SG_ERR_INTERNAL;
	r->error_message = dup_str("denied by bob (" KEYID_B "): not this build");
	r->has_approvals = 1;
	add_approval(r, "alice", KEYID_A, 1795708900, NULL);
	s = serialize_ok(r);
	back = parse_ok(s);
	assert_common_eq(r, back);
	assert_approvals_eq(r, back);
	ck_assert_str_eq(back->error_message, r->error_message);
	result_free(back);
	free(s);
	result_free(r);
}
END_TEST

/* ci, note and expires go with any status. */
START_TEST(test_job_facts_any_status)
{
	static const enum sg_status statuses[] = { SG_STATUS_REJECTED, SG_STATUS_FAILED };
	struct sg_result *r, *back;
	char *s;
	size_t i;

	for (i = 0; i < nitems(statuses); i++) {
		r = base(statuses[i]);
		r->error = SG_ERR_JOB_EXPIRED;
		add_ci_note(r);
		r->expires = EXPIRES;
		s = serialize_ok(r);
		ck_assert_ptr_nonnull(strstr(s, "\"ci\":{\"system\":\"gitlab\""));
		ck_assert_ptr_nonnull(strstr(s, "\"expires\":\"2026-11-26T16:15:05Z\""));
		back = parse_ok(s);
		assert_common_eq(r, back);
		assert_ci_note_eq(r, back);
		ck_assert_int_eq(back->has_approvals, 0);
		result_free(back);
		/* Checked as in a job. */
		expect_mutation_refused(s, "ci", "system", "system", "\"travis\"");
		expect_mutation_refused(s, "ci", NULL, "x", "1");
		expect_mutation_refused(s, NULL, "note", "note", "\"\"");
		expect_mutation_refused(s, NULL, "note", "note", "\"a\\u0001\"");
		expect_mutation_refused(s, NULL, "ci", "ci", "\"gitlab\"");
		expect_mutation_ok(s, NULL, "ci", "ci", "{}");
		free(s);
		result_free(r);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("result");

	test_add(s, "/result/round-trip/signed", test_signed_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/result/round-trip/rejected", test_rejected_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/result/timestamp", test_timestamp, TEST_TIMEOUT_S);
	test_add(s, "/result/round-trip/failed", test_failed_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/result/serialize/message-cleanup", test_message_cleanup, TEST_TIMEOUT_S);
	test_add(s, "/result/parse/presence-signed", test_presence_signed, TEST_TIMEOUT_S);
	test_add(s, "/result/parse/presence-not-signed", test_presence_not_signed, TEST_TIMEOUT_S);
	test_add(s, "/result/parse/strict", test_strictness, TEST_TIMEOUT_S);
	test_add(s, "/result/parse/limits", test_limits, TEST_TIMEOUT_S);
	test_add(s, "/result/serialize/refuses-invalid", test_serialize_refuses, TEST_TIMEOUT_S);
	test_add(s, "/result/audit-proof/round-trip", test_audit_proof_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/result/audit-proof/strict", test_audit_proof_strict, TEST_TIMEOUT_S);
	test_add(
	    s, "/result/pending/round-trip-empty", test_pending_round_trip_empty, TEST_TIMEOUT_S);
	test_add(
	    s, "/result/pending/round-trip-full", test_pending_round_trip_full, TEST_TIMEOUT_S);
	test_add(s, "/result/pending/presence", test_pending_presence, TEST_TIMEOUT_S);
	test_add(s, "/result/pending/values", test_pending_values, TEST_TIMEOUT_S);
	test_add(s, "/result/pending/entry", test_pending_entry, TEST_TIMEOUT_S);
	test_add(
	    s, "/result/pending/serialize-refuses", test_pending_serialize_refuses, TEST_TIMEOUT_S);
	test_add(s, "/result/approvals/list", test_approvals_list, TEST_TIMEOUT_S);
	test_add(s, "/result/job-facts/any-status", test_job_facts_any_status, TEST_TIMEOUT_S);

	return test_run(s);
}
