/*
 * test_job.c — the job payload: a valid job, one test per rejection rule
 * with its exact code, the precedence between codes, every limit at its
 * edge, job_peek_id, the time checks and serialize/parse round trips.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "json.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */

#define ID      "0123456789abcdef0123456789abcdef"
#define SHA     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CREATED 1795708800 /* 2026-11-26T16:00:00Z */
#define ART     "{\"name\":\"fw.bin\",\"sha256\":\"" SHA "\",\"size\":1234}"
#define CI                                                                                         \
	"{\"system\":\"gitlab\",\"project\":\"grp/fw\",\"pipeline\":\"42\",\"job\":\"7\","         \
	"\"commit\":\"abc123\",\"ref\":\"main\",\"url\":\"https://ci.example/p/42\"}"

/* The valid job, member by member, in SPEC order. */
static const char *const members[][2] = {
	{ "v", "1" },
	{ "id", "\"" ID "\"" },
	{ "created", "\"2026-11-26T16:00:00Z\"" },
	{ "expires", "\"2026-11-26T16:15:00Z\"" },
	{ "key", "\"release\"" },
	{ "format", "\"cms\"" },
	{ "artifact", ART },
	{ "ci", CI },
	{ "note", "\"hello\"" },
};

/*
 * The valid job with member `name` given the raw JSON `value` instead
 * (removed when value is NULL, appended when name is not a member).
 * Caller frees.
 */
static char *
mk(const char *name, const char *value)
{
	size_t cap = 4096 + (value ? strlen(value) : 0) + (name ? strlen(name) : 0), o = 0, i;
	char *s = malloc(cap);
	int found = 0;

	ck_assert_ptr_nonnull(s);
	s[o++] = '{';
	for (i = 0; i < nitems(members); i++) {
		const char *v = members[i][1];
		if (name != NULL && strcmp(name, members[i][0]) == 0) {
			found = 1;
			if (value == NULL)
				continue;
			v = value;
		}
		o += (size_t)snprintf(
		    s + o, cap - o, "%s\"%s\":%s", o > 1 ? "," : "", members[i][0], v);
	}
	if (name != NULL && !found)
		o += (size_t)snprintf(s + o, cap - o, ",\"%s\":%s", name, value);
	snprintf(s + o, cap - o, "}");
	return s;
}

static int
parse_len(const char *s, size_t len, struct sg_job **job)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s, len);
	r = job_parse(copy, len, job);
	free(copy);
	return r;
}

static void
expect_str(const char *s, int code)
{
	struct sg_job *job = (struct sg_job *)(uintptr_t)1;
	int r = parse_len(s, strlen(s), &job);

	ck_assert_msg(r == code, "got %d (%s), want %d (%s): %s", r, sg_err_code(r), code,
	    sg_err_code(code), s);
	if (code != 0)
		ck_assert_ptr_null(job);
	job_free(code == 0 ? job : NULL);
}

/* The valid job with one member replaced must give `code`. */
static void
expect(const char *name, const char *value, int code)
{
	char *s = mk(name, value);

	expect_str(s, code);
	free(s);
}

static struct sg_job *
parse_ok(const char *s)
{
	struct sg_job *job = NULL;
	int r = parse_len(s, strlen(s), &job);

	ck_assert_msg(r == 0, "refused (%d): %s", r, s);
	ck_assert_ptr_nonnull(job);
	return job;
}

/* A JSON string value of n copies of c. */
static char *
str_of(size_t n, char c)
{
	char *s = malloc(n + 3);

	ck_assert_ptr_nonnull(s);
	s[0] = '"';
	memset(s + 1, c, n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

START_TEST(test_valid)
{
	char *s = mk(NULL, NULL);
	struct sg_job *job = parse_ok(s);

	ck_assert_int_eq(job->v, 1);
	ck_assert_str_eq(job->id, ID);
	ck_assert_int_eq(job->created, CREATED);
	ck_assert_int_eq(job->expires, CREATED + 900);
	ck_assert_str_eq(job->key, "release");
	ck_assert_int_eq(job->format, SG_FORMAT_CMS);
	ck_assert_str_eq(job->artifact.name, "fw.bin");
	ck_assert_str_eq(job->artifact.sha256_hex, SHA);
	ck_assert_uint_eq(job->artifact.sha256[0], 0xe3);
	ck_assert_uint_eq(job->artifact.sha256[31], 0x55);
	ck_assert_uint_eq(job->artifact.size, 1234);
	ck_assert_str_eq(job->ci.system, "gitlab");
	ck_assert_str_eq(job->ci.project, "grp/fw");
	ck_assert_str_eq(job->ci.pipeline, "42");
	ck_assert_str_eq(job->ci.job, "7");
	ck_assert_str_eq(job->ci.commit, "abc123");
	ck_assert_str_eq(job->ci.ref, "main");
	ck_assert_str_eq(job->ci.url, "https://ci.example/p/42");
	ck_assert_str_eq(job->note, "hello");
	job_free(job);
	job_free(NULL);
	free(s);
}
END_TEST

START_TEST(test_valid_minimal)
{
	static const char min[] = "{\"v\":1,\"id\":\"" ID "\",\"created\":\"2026-11-26T16:00:00Z\","
				  "\"expires\":\"2026-11-26T16:00:01Z\",\"key\":\"k\",\"format\":"
				  "\"raw\",\"artifact\":" ART "}";
	struct sg_job *job = parse_ok(min);

	ck_assert_int_eq(job->format, SG_FORMAT_RAW);
	ck_assert_ptr_null(job->note);
	ck_assert_ptr_null(job->ci.system);
	ck_assert_ptr_null(job->ci.url);
	job_free(job);
	/* Member order and white space do not matter; empty ci is fine. */
	job = parse_ok(" { \"artifact\" : {\"size\":0,\"sha256\":\"" SHA "\",\"name\":\"a\"},"
		       "\"format\":\"raw\",\"key\":\"k\",\"expires\":\"2026-11-26T16:00:01Z\","
		       "\"created\":\"2026-11-26T16:00:00Z\",\"id\":\"" ID
		       "\",\"v\":1.0,\"ci\":{},\"note\":\"\"}\n");
	ck_assert_uint_eq(job->artifact.size, 0);
	ck_assert_str_eq(job->note, "");
	job_free(job);
}
END_TEST

START_TEST(test_unparseable)
{
	char *s, *deep;
	size_t i;

	expect_str("", SG_ERR_PARSE);
	expect_str("{", SG_ERR_PARSE);
	expect_str("{\"v\":1,}", SG_ERR_PARSE);
	s = mk(NULL, NULL);
	s[strlen(s) - 1] = ' '; /* drop the closing brace */
	expect_str(s, SG_ERR_PARSE);
	free(s);
	/* Invalid UTF-8, in a value and in a name. */
	expect("note", "\"caf\xc3\"", SG_ERR_PARSE);
	expect("note", "\"\xc0\xaf\"", SG_ERR_PARSE);
	expect("note", "\"\xed\xa0\x80\"", SG_ERR_PARSE);
	expect("note", "\"\\ud800\"", SG_ERR_PARSE);
	expect("n\xffte", "1", SG_ERR_PARSE);
	/* Raw control character. */
	expect("note", "\"a\tb\"", SG_ERR_PARSE);
	/* Trailing data. */
	s = mk(NULL, NULL);
	{
		size_t n = strlen(s);
		char *t = malloc(n + 3);
		ck_assert_ptr_nonnull(t);
		memcpy(t, s, n);
		memcpy(t + n, "{}", 3);
		expect_str(t, SG_ERR_PARSE);
		free(t);
	}
	free(s);

	/* Depth: the job is level 1, so 15 more arrays are 16 and parse (the
	 * member is unknown), 16 more are 17 and do not. */
	deep = malloc(64);
	ck_assert_ptr_nonnull(deep);
	for (i = 0; i < JSON_DEPTH_MAX - 1; i++)
		deep[i] = '[';
	for (i = 0; i < JSON_DEPTH_MAX - 1; i++)
		deep[JSON_DEPTH_MAX - 1 + i] = ']';
	deep[2 * (JSON_DEPTH_MAX - 1)] = '\0';
	expect("x", deep, SG_ERR_JOB_UNKNOWN_FIELD);
	expect("note", deep, SG_ERR_JOB_MALFORMED);
	for (i = 0; i < JSON_DEPTH_MAX; i++)
		deep[i] = '[';
	for (i = 0; i < JSON_DEPTH_MAX; i++)
		deep[JSON_DEPTH_MAX + i] = ']';
	deep[2 * JSON_DEPTH_MAX] = '\0';
	expect("x", deep, SG_ERR_PARSE);
	expect("note", deep, SG_ERR_PARSE);
	free(deep);
}
END_TEST

START_TEST(test_not_object)
{
	expect_str("[]", SG_ERR_JOB_MALFORMED);
	expect_str("\"" ID "\"", SG_ERR_JOB_MALFORMED);
	expect_str("1", SG_ERR_JOB_MALFORMED);
	expect_str("null", SG_ERR_JOB_MALFORMED);
	expect_str("{}", SG_ERR_JOB_MALFORMED);
}
END_TEST

START_TEST(test_duplicates_and_escapes)
{
	char *s = mk(NULL, NULL);
	char *t = malloc(strlen(s) + 64);

	ck_assert_ptr_nonnull(t);
	/* Duplicate id, with the same value even. */
	snprintf(t, strlen(s) + 64, "{\"id\":\"" ID "\",%s", s + 1);
	expect_str(t, SG_ERR_JOB_MALFORMED);
	/* Duplicates come before the version check. */
	snprintf(t, strlen(s) + 64, "{\"v\":2,%s", s + 1);
	expect_str(t, SG_ERR_JOB_MALFORMED);
	free(t);
	free(s);
	expect("artifact", "{\"name\":\"a\",\"name\":\"b\",\"sha256\":\"" SHA "\",\"size\":1}",
	    SG_ERR_JOB_MALFORMED);
	expect("ci", "{\"ref\":\"a\",\"ref\":\"a\"}", SG_ERR_JOB_MALFORMED);

	/* Escaped NUL and control characters, anywhere. */
	expect("note", "\"a\\u0000b\"", SG_ERR_JOB_MALFORMED);
	expect("key", "\"release\\u0000x\"", SG_ERR_JOB_MALFORMED);
	expect("note", "\"line\\nline\"", SG_ERR_JOB_MALFORMED);
	expect("note", "\"\\t\"", SG_ERR_JOB_MALFORMED);
	expect("note", "\"\\u001b[31m\"", SG_ERR_JOB_MALFORMED);
	expect("note", "\"\\u007f\"", SG_ERR_JOB_MALFORMED);
	expect("x\\u0000", "1", SG_ERR_JOB_MALFORMED);
	/* Raw DEL and C1 controls (raw or escaped) too. */
	expect("note", "\"a\x7f\"", SG_ERR_JOB_MALFORMED);
	expect("note", "\"\xc2\x9b\"", SG_ERR_JOB_MALFORMED);
	expect("note", "\"\\u0085\"", SG_ERR_JOB_MALFORMED);
	expect("note", "\"\\u00a0 ok\"", 0);
	expect("note", "\"\\/\\\\\\\"\"", 0);
}
END_TEST

START_TEST(test_version)
{
	expect("v", NULL, SG_ERR_JOB_MALFORMED);
	expect("v", "\"1\"", SG_ERR_JOB_MALFORMED);
	expect("v", "1.5", SG_ERR_JOB_MALFORMED);
	expect("v", "true", SG_ERR_JOB_MALFORMED);
	expect("v", "null", SG_ERR_JOB_MALFORMED);
	expect("v", "[1]", SG_ERR_JOB_MALFORMED);
	expect("v", "2", SG_ERR_JOB_BAD_VERSION);
	expect("v", "0", SG_ERR_JOB_BAD_VERSION);
	expect("v", "-1", SG_ERR_JOB_BAD_VERSION);
	expect("v", "1e300", SG_ERR_JOB_BAD_VERSION);
	expect("v", "1.0", 0);
	expect("v", "1e0", 0);
	/* The version comes before unknown members and other faults. */
	{
		char *s = mk("v", "2");
		char *t = malloc(strlen(s) + 16);
		ck_assert_ptr_nonnull(t);
		snprintf(t, strlen(s) + 16, "{\"zz\":1,%s", s + 1);
		expect_str(t, SG_ERR_JOB_BAD_VERSION);
		free(t);
		free(s);
	}
	expect_str("{\"v\":2}", SG_ERR_JOB_BAD_VERSION);
	expect_str("{\"v\":\"x\",\"zz\":1}", SG_ERR_JOB_MALFORMED);
}
END_TEST

START_TEST(test_unknown_members)
{
	expect("x", "1", SG_ERR_JOB_UNKNOWN_FIELD);
	expect("ID", "\"" ID "\"", SG_ERR_JOB_UNKNOWN_FIELD);
	expect("Note", "\"n\"", SG_ERR_JOB_UNKNOWN_FIELD);
	expect("artifact", "{\"name\":\"a\",\"sha256\":\"" SHA "\",\"size\":1,\"mode\":1}",
	    SG_ERR_JOB_UNKNOWN_FIELD);
	expect("artifact", "{\"Name\":\"a\",\"sha256\":\"" SHA "\",\"size\":1}",
	    SG_ERR_JOB_UNKNOWN_FIELD);
	expect("ci", "{\"system\":\"local\",\"branch\":\"x\"}", SG_ERR_JOB_UNKNOWN_FIELD);
	expect("CI_token", "\"a.b.c\"", SG_ERR_JOB_UNKNOWN_FIELD);
	expect("ci", "{\"system\":\"local\",\"token\":\"a.b.c\"}", SG_ERR_JOB_UNKNOWN_FIELD);
	/* Unknown members come before the other faults. */
	expect_str("{\"v\":1,\"extra\":1}", SG_ERR_JOB_UNKNOWN_FIELD);
	expect_str("{\"v\":1,\"artifact\":{\"x\":1}}", SG_ERR_JOB_UNKNOWN_FIELD);
	expect_str("{\"v\":1,\"ci\":{\"x\":1},\"id\":7}", SG_ERR_JOB_UNKNOWN_FIELD);
	/* Inside a non-object artifact there is nothing to be unknown. */
	expect("artifact", "[{\"x\":1}]", SG_ERR_JOB_MALFORMED);
}
END_TEST

START_TEST(test_required)
{
	static const char *const required[] = {
		"id",
		"created",
		"expires",
		"key",
		"format",
		"artifact",
	};
	size_t i;

	for (i = 0; i < nitems(required); i++)
		expect(required[i], NULL, SG_ERR_JOB_MALFORMED);
	expect("ci", NULL, 0);
	expect("note", NULL, 0);
	expect("artifact", "{\"sha256\":\"" SHA "\",\"size\":1}", SG_ERR_JOB_MALFORMED);
	expect("artifact", "{\"name\":\"a\",\"size\":1}", SG_ERR_JOB_MALFORMED);
	expect("artifact", "{\"name\":\"a\",\"sha256\":\"" SHA "\"}", SG_ERR_JOB_MALFORMED);
	expect("artifact", "{}", SG_ERR_JOB_MALFORMED);
}
END_TEST

START_TEST(test_types)
{
	static const struct {
		const char *name, *value;
	} v[] = {
		{ "id", "1" },
		{ "id", "null" },
		{ "created", "1795708800" },
		{ "expires", "null" },
		{ "key", "[\"release\"]" },
		{ "format", "0" },
		{ "artifact", "\"fw.bin\"" },
		{ "artifact", "null" },
		{ "ci", "\"gitlab\"" },
		{ "ci", "[]" },
		{ "ci", "null" },
		{ "note", "1" },
		{ "note", "null" },
		{ "note", "{}" },
		{ "ci", "{\"project\":1}" },
		{ "ci", "{\"url\":null}" },
		{ "ci", "{\"system\":[\"local\"]}" },
		{ "artifact", "{\"name\":1,\"sha256\":\"" SHA "\",\"size\":1}" },
		{ "artifact", "{\"name\":\"a\",\"sha256\":1,\"size\":1}" },
		{ "artifact", "{\"name\":\"a\",\"sha256\":\"" SHA "\",\"size\":\"1\"}" },
		{ "artifact", "{\"name\":\"a\",\"sha256\":\"" SHA "\",\"size\":true}" },
	};
	size_t i;

	for (i = 0; i < nitems(v); i++)
		expect(v[i].name, v[i].value, SG_ERR_JOB_MALFORMED);
}
END_TEST

START_TEST(test_id)
{
	expect("id", "\"" ID "0\"", SG_ERR_JOB_MALFORMED);
	expect("id", "\"0123456789abcdef0123456789abcde\"", SG_ERR_JOB_MALFORMED);
	expect("id", "\"0123456789ABCDEF0123456789abcdef\"", SG_ERR_JOB_MALFORMED);
	expect("id", "\"0123456789abcdef0123456789abcdeg\"", SG_ERR_JOB_MALFORMED);
	expect("id", "\"\"", SG_ERR_JOB_MALFORMED);
	expect("id", "\" 123456789abcdef0123456789abcdef\"", SG_ERR_JOB_MALFORMED);
	expect("id", "\"ffffffffffffffffffffffffffffffff\"", 0);
}
END_TEST

START_TEST(test_times)
{
	static const char *const bad[] = {
		"\"2026-11-26T16:00:00\"",
		"\"2026-11-26T16:00:00z\"",
		"\"2026-11-26 16:00:00Z\"",
		"\"2026-11-26T16:00:00+00:00\"",
		"\"2026-11-26T16:00:00.5Z\"",
		"\"2026-02-30T16:00:00Z\"",
		"\"2026-11-26T24:00:00Z\"",
		"\"2026-11-26T16:00:60Z\"",
		"\"\"",
		"\"1969-12-31T23:59:59Z\"",
		"\"2026-11-26T16:00:00ZZ\"",
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++) {
		expect("created", bad[i], SG_ERR_JOB_MALFORMED);
		expect("expires", bad[i], SG_ERR_JOB_MALFORMED);
	}
	/* expires must be after created. */
	expect("expires", "\"2026-11-26T16:00:00Z\"", SG_ERR_JOB_MALFORMED);
	expect("expires", "\"2026-11-26T15:59:59Z\"", SG_ERR_JOB_MALFORMED);
	expect("expires", "\"2026-11-26T16:00:01Z\"", 0);
}
END_TEST

START_TEST(test_key)
{
	char *s;

	expect("key", "\"\"", SG_ERR_JOB_MALFORMED);
	s = str_of(JOB_KEY_MAX, 'k');
	expect("key", s, 0);
	free(s);
	s = str_of(JOB_KEY_MAX + 1, 'k');
	expect("key", s, SG_ERR_JOB_MALFORMED);
	free(s);
	expect("key", "\"rel\x7f\"", SG_ERR_JOB_MALFORMED);
	expect("key", "\"rel\\u0001\"", SG_ERR_JOB_MALFORMED);
	expect("key", "\"rel\xc3\xa9\"", 0);
}
END_TEST

START_TEST(test_format)
{
	expect("format", "\"raw\"", 0);
	expect("format", "\"cms\"", 0);
	expect("format", "\"kmod\"", 0);
	expect("format", "\"pgp\"", SG_ERR_JOB_MALFORMED);
	expect("format", "\"RAW\"", SG_ERR_JOB_MALFORMED);
	expect("format", "\"raw \"", SG_ERR_JOB_MALFORMED);
	expect("format", "\"\"", SG_ERR_JOB_MALFORMED);
}
END_TEST

/* The valid job with "format": fmt and, unless name is NULL, the member
 * name with the raw JSON value appended. */
static void
expect_fmt(const char *fmt, const char *name, const char *value, int code)
{
	char *base = mk("format", fmt), *s;
	size_t len = strlen(base), cap = len + 64 + (value ? strlen(value) : 0);

	s = malloc(cap);
	ck_assert_ptr_nonnull(s);
	if (name == NULL)
		snprintf(s, cap, "%s", base);
	else
		snprintf(s, cap, "%.*s,\"%s\":%s}", (int)len - 1, base, name, value);
	expect_str(s, code);
	free(base);
	free(s);
}

#define AC(rest) "{\"image_sha256\":\"" SHA "\"" rest "}"
#define PG(mode, blocks, tail)                                                                     \
	"{\"mode\":" mode ",\"state\":\"" SHA "\",\"blocks\":" blocks ",\"tail\":" tail "}"

START_TEST(test_format_members)
{
	struct sg_job *job;
	char *s, *d;

	/* A format's member is there exactly when the format names it. */
	expect_fmt("\"authenticode\"", "authenticode", AC(""), 0);
	expect_fmt("\"kmod\"", NULL, NULL, 0);
	expect_fmt("\"openpgp\"", "openpgp", PG("\"binary\"", "0", "\"\""), 0);
	expect_fmt("\"authenticode\"", NULL, NULL, SG_ERR_JOB_MALFORMED);
	expect_fmt("\"openpgp\"", NULL, NULL, SG_ERR_JOB_MALFORMED);
	expect_fmt("\"cms\"", "authenticode", AC(""), SG_ERR_JOB_MALFORMED);
	expect_fmt(
	    "\"authenticode\"", "openpgp", PG("\"binary\"", "0", "\"\""), SG_ERR_JOB_MALFORMED);
	expect_fmt("\"kmod\"", "openpgp", PG("\"binary\"", "0", "\"\""), SG_ERR_JOB_MALFORMED);

	/* authenticode */
	expect_fmt("\"authenticode\"", "authenticode",
	    AC(",\"description\":\"Firmware \u00e9\",\"url\":\"https://example.com/fw\""), 0);
	expect_fmt("\"authenticode\"", "authenticode", AC(",\"x\":1"), SG_ERR_JOB_UNKNOWN_FIELD);
	expect_fmt("\"authenticode\"", "authenticode", "[]", SG_ERR_JOB_MALFORMED);
	expect_fmt("\"authenticode\"", "authenticode", "{}", SG_ERR_JOB_MALFORMED);
	expect_fmt(
	    "\"authenticode\"", "authenticode", "{\"image_sha256\":\"ab\"}", SG_ERR_JOB_MALFORMED);
	expect_fmt(
	    "\"authenticode\"", "authenticode", AC(",\"description\":\"\""), SG_ERR_JOB_MALFORMED);
	expect_fmt("\"authenticode\"", "authenticode", AC(",\"description\":\"a\\u0007\""),
	    SG_ERR_JOB_MALFORMED);
	/* Outside the BMP: no BMPString can hold it. */
	expect_fmt("\"authenticode\"", "authenticode", AC(",\"description\":\"\xf0\x9f\x98\x80\""),
	    SG_ERR_JOB_MALFORMED);
	expect_fmt("\"authenticode\"", "authenticode", AC(",\"url\":\"https://a b\""),
	    SG_ERR_JOB_MALFORMED);
	expect_fmt("\"authenticode\"", "authenticode", AC(",\"url\":\"https://\u00e9\""),
	    SG_ERR_JOB_MALFORMED);
	expect_fmt("\"authenticode\"", "authenticode", AC(",\"url\":7"), SG_ERR_JOB_MALFORMED);
	/* The limits at their edges. */
	d = str_of(AUTHENTICODE_DESCRIPTION_MAX, 'd');
	s = malloc(1024);
	ck_assert_ptr_nonnull(s);
	snprintf(s, 1024, AC(",\"description\":%s"), d);
	expect_fmt("\"authenticode\"", "authenticode", s, 0);
	free(d);
	d = str_of(AUTHENTICODE_DESCRIPTION_MAX + 1, 'd');
	snprintf(s, 1024, AC(",\"description\":%s"), d);
	expect_fmt("\"authenticode\"", "authenticode", s, SG_ERR_JOB_MALFORMED);
	free(d);
	d = str_of(AUTHENTICODE_URL_MAX, 'u');
	snprintf(s, 1024, AC(",\"url\":%s"), d);
	expect_fmt("\"authenticode\"", "authenticode", s, 0);
	free(d);
	d = str_of(AUTHENTICODE_URL_MAX + 1, 'u');
	snprintf(s, 1024, AC(",\"url\":%s"), d);
	expect_fmt("\"authenticode\"", "authenticode", s, SG_ERR_JOB_MALFORMED);
	free(d);
	free(s);

	/* openpgp */
	expect_fmt("\"openpgp\"", "openpgp", PG("\"text\"", "9007199254740991", "\"\""),
	    SG_ERR_JOB_MALFORMED);
	expect_fmt("\"openpgp\"", "openpgp", PG("\"text\"", "140737488355327", "\"AAEC\""), 0);
	expect_fmt("\"openpgp\"", "openpgp", PG("\"sig\"", "0", "\"\""), SG_ERR_JOB_MALFORMED);
	expect_fmt("\"openpgp\"", "openpgp", PG("\"binary\"", "-1", "\"\""), SG_ERR_JOB_MALFORMED);
	expect_fmt("\"openpgp\"", "openpgp", PG("\"binary\"", "1.5", "\"\""), SG_ERR_JOB_MALFORMED);
	expect_fmt("\"openpgp\"", "openpgp", PG("\"binary\"", "0", "\"AA\""), SG_ERR_JOB_MALFORMED);
	/* 63 bytes of tail are the most; 64 would be a whole block. */
	expect_fmt("\"openpgp\"", "openpgp",
	    PG("\"binary\"", "0",
		"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"AAAA\""),
	    0);
	expect_fmt("\"openpgp\"", "openpgp",
	    PG("\"binary\"", "0",
		"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"AAAAAA==\""),
	    SG_ERR_JOB_MALFORMED);
	expect_fmt("\"openpgp\"", "openpgp",
	    "{\"mode\":\"binary\",\"state\":\"" SHA "\",\"blocks\":0,\"tail\":\"\",\"type\":1}",
	    SG_ERR_JOB_UNKNOWN_FIELD);
	expect_fmt("\"openpgp\"", "openpgp",
	    "{\"mode\":\"binary\",\"state\":\"" SHA "\",\"blocks\":0}", SG_ERR_JOB_MALFORMED);

	/* What the parse keeps, and the round trip through job_serialize(). */
	s = mk("format", "\"openpgp\"");
	d = malloc(strlen(s) + 256);
	ck_assert_ptr_nonnull(d);
	sprintf(d, "%.*s,\"openpgp\":%s}", (int)strlen(s) - 1, s, PG("\"text\"", "3", "\"AAEC\""));
	job = parse_ok(d);
	ck_assert_int_eq(job->openpgp->mode, SG_OPENPGP_TEXT);
	ck_assert_uint_eq(job->openpgp->state[0], 0xe3b0c442);
	ck_assert_uint_eq(job->openpgp->state[7], 0x7852b855);
	ck_assert_uint_eq(job->openpgp->blocks, 3);
	ck_assert_uint_eq(job->openpgp->tail_len, 3);
	ck_assert_uint_eq(job->openpgp->tail[2], 2);
	{
		char *out = NULL;
		size_t out_len = 0;
		ck_assert_int_eq(job_serialize(job, &out, &out_len), 0);
		ck_assert_ptr_nonnull(strstr(out, PG("\"text\"", "3", "\"AAEC\"")));
		free(out);
	}
	job_free(job);
	free(d);
	free(s);

	s = mk("format", "\"authenticode\"");
	d = malloc(strlen(s) + 256);
	ck_assert_ptr_nonnull(d);
	sprintf(d, "%.*s,\"authenticode\":%s}", (int)strlen(s) - 1, s,
	    AC(",\"description\":\"FW\",\"url\":\"https://e.example/\""));
	job = parse_ok(d);
	ck_assert_uint_eq(job->authenticode->image_sha256[0], 0xe3);
	ck_assert_str_eq(job->authenticode->description, "FW");
	ck_assert_str_eq(job->authenticode->url, "https://e.example/");
	{
		char *out = NULL;
		size_t out_len = 0;
		ck_assert_int_eq(job_serialize(job, &out, &out_len), 0);
		ck_assert_ptr_nonnull(
		    strstr(out, AC(",\"description\":\"FW\",\"url\":\"https://e.example/\"")));
		free(out);
	}
	job_free(job);
	free(d);
	free(s);
}
END_TEST

static void
expect_name(const char *json_name, int code)
{
	char art[1024];

	snprintf(art, sizeof(art), "{\"name\":%s,\"sha256\":\"" SHA "\",\"size\":1}", json_name);
	expect("artifact", art, code);
}

START_TEST(test_artifact_name)
{
	char *s;

	s = str_of(ARTIFACT_NAME_MAX, 'n');
	expect_name(s, 0);
	free(s);
	s = str_of(ARTIFACT_NAME_MAX + 1, 'n');
	expect_name(s, SG_ERR_JOB_MALFORMED);
	free(s);
	expect_name("\"\"", SG_ERR_JOB_MALFORMED);
	expect_name("\"/\"", SG_ERR_JOB_MALFORMED);
	expect_name("\"a/b\"", SG_ERR_JOB_MALFORMED);
	expect_name("\"\\/etc\"", SG_ERR_JOB_MALFORMED);
	expect_name("\".\"", SG_ERR_JOB_MALFORMED);
	expect_name("\"..\"", SG_ERR_JOB_MALFORMED);
	expect_name("\"a\x7f\"", SG_ERR_JOB_MALFORMED);
	expect_name("\"a\\u0000\"", SG_ERR_JOB_MALFORMED);
	expect_name("\"a\\u001f\"", SG_ERR_JOB_MALFORMED);
	expect_name("\"...\"", 0);
	expect_name("\".hidden\"", 0);
	expect_name("\"a\\\\b\"", 0);
	expect_name("\"caf\xc3\xa9.bin\"", 0);
}
END_TEST

START_TEST(test_check_artifact_name)
{
	char name[ARTIFACT_NAME_MAX + 1];

	memset(name, 'a', sizeof(name));
	ck_assert_int_eq(job_check_artifact_name(name, ARTIFACT_NAME_MAX), 0);
	ck_assert_int_eq(
	    job_check_artifact_name(name, ARTIFACT_NAME_MAX + 1), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name("a", 1), 0);
	ck_assert_int_eq(job_check_artifact_name("", 0), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name(NULL, 1), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name("a\0b", 3), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name("a\nb", 3), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name("a\xffz", 3), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name("a\xc2\x9bz", 4), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name(".", 1), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name("..", 2), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name("..x", 2), SG_ERR_JOB_MALFORMED);
	ck_assert_int_eq(job_check_artifact_name("..x", 3), 0);
	ck_assert_int_eq(job_check_artifact_name("x/", 2), SG_ERR_JOB_MALFORMED);
}
END_TEST

START_TEST(test_artifact_sha_size)
{
	static const char *const bad_sha[] = {
		"\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"",
		"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\"",
		"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550\"",
		"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g\"",
		"\"\"",
	};
	static const struct {
		const char *size;
		int code;
	} sizes[] = {
		{ "0", 0 },
		{ "9007199254740991", 0 },
		{ "9007199254740992", SG_ERR_JOB_MALFORMED },
		{ "-1", SG_ERR_JOB_MALFORMED },
		{ "1.5", SG_ERR_JOB_MALFORMED },
		{ "1e300", SG_ERR_JOB_MALFORMED },
		{ "-0", 0 },
		{ "12.0", 0 },
	};
	char art[1024];
	size_t i;

	for (i = 0; i < nitems(bad_sha); i++) {
		snprintf(art, sizeof(art), "{\"name\":\"a\",\"sha256\":%s,\"size\":1}", bad_sha[i]);
		expect("artifact", art, SG_ERR_JOB_MALFORMED);
	}
	for (i = 0; i < nitems(sizes); i++) {
		snprintf(art, sizeof(art), "{\"name\":\"a\",\"sha256\":\"" SHA "\",\"size\":%s}",
		    sizes[i].size);
		expect("artifact", art, sizes[i].code);
	}
	{
		char *s = mk("artifact",
		    "{\"name\":\"a\",\"sha256\":\"" SHA "\",\"size\":9007199254740991}");
		struct sg_job *job = parse_ok(s);
		ck_assert_uint_eq(job->artifact.size, UINT64_C(9007199254740991));
		job_free(job);
		free(s);
	}
}
END_TEST

START_TEST(test_ci)
{
	static const char *const systems[] = { "gitlab", "jenkins", "github", "local" };
	static const char *const fields[] = {
		"system",
		"project",
		"pipeline",
		"job",
		"commit",
		"ref",
		"url",
	};
	char ci[2048], *s;
	size_t i;

	for (i = 0; i < nitems(systems); i++) {
		snprintf(ci, sizeof(ci), "{\"system\":\"%s\"}", systems[i]);
		expect("ci", ci, 0);
	}
	expect("ci", "{\"system\":\"travis\"}", SG_ERR_JOB_MALFORMED);
	expect("ci", "{\"system\":\"GitLab\"}", SG_ERR_JOB_MALFORMED);
	expect("ci", "{\"system\":\"\"}", SG_ERR_JOB_MALFORMED);
	expect("ci", "{\"project\":\"\"}", 0);
	expect("ci", "{\"ref\":\"refs/heads/\\u00e9\"}", 0);
	expect("ci", "{\"ref\":\"a\\u0085\"}", SG_ERR_JOB_MALFORMED);
	for (i = 1; i < nitems(fields); i++) {
		s = str_of(CI_FIELD_MAX, 'c');
		snprintf(ci, sizeof(ci), "{\"%s\":%s}", fields[i], s);
		expect("ci", ci, 0);
		free(s);
		s = str_of(CI_FIELD_MAX + 1, 'c');
		snprintf(ci, sizeof(ci), "{\"%s\":%s}", fields[i], s);
		expect("ci", ci, SG_ERR_JOB_MALFORMED);
		free(s);
	}
}
END_TEST

/* SPEC §3: an optional string of at most 8 KiB, and nothing else. */
START_TEST(test_ci_token)
{
	static const char *const bad[] = {
		"1",
		"null",
		"true",
		"[]",
		"[\"a.b.c\"]",
		"{}",
		"{\"token\":\"a.b.c\"}",
		"\"\"",
		"\"a.b\\u0001.c\"",
		"\"a.b.c\\n\"",
		"\"a.b\\u0000.c\"",
	};
	struct sg_job *job;
	char *s, *t;
	size_t i;

	/* A job that carries one is valid (it used to be job.unknown_field). */
	s = mk("ci_token", "\"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\"");
	job = parse_ok(s);
	ck_assert_str_eq(job->ci_token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln");
	job_free(job);
	free(s);
	/* Absent: NULL. */
	s = mk(NULL, NULL);
	job = parse_ok(s);
	ck_assert_ptr_null(job->ci_token);
	job_free(job);
	free(s);
	/* The limit at its edge and one past it; one byte is the least. */
	s = str_of(JOB_CI_TOKEN_MAX, 't');
	expect("ci_token", s, 0);
	free(s);
	s = str_of(JOB_CI_TOKEN_MAX + 1, 't');
	expect("ci_token", s, SG_ERR_JOB_MALFORMED);
	free(s);
	s = str_of(1, 't');
	expect("ci_token", s, 0);
	free(s);
	ck_assert_int_eq(JOB_CI_TOKEN_MAX, 8192);
	for (i = 0; i < nitems(bad); i++)
		expect("ci_token", bad[i], SG_ERR_JOB_MALFORMED);
	/* Twice is a duplicate member. */
	s = mk("ci_token", "\"a.b.c\"");
	t = malloc(strlen(s) + 32);
	ck_assert_ptr_nonnull(t);
	snprintf(t, strlen(s) + 32, "{\"ci_token\":\"a.b.c\",%s", s + 1);
	expect_str(t, SG_ERR_JOB_MALFORMED);
	free(t);
	free(s);
	/* The version still comes first: a v2 job with a bad token is v2. */
	s = mk("v", "2");
	t = malloc(strlen(s) + 32);
	ck_assert_ptr_nonnull(t);
	snprintf(t, strlen(s) + 32, "{\"ci_token\":7,%s", s + 1);
	expect_str(t, SG_ERR_JOB_BAD_VERSION);
	free(t);
	free(s);
}
END_TEST

START_TEST(test_note)
{
	char *s;

	s = str_of(JOB_NOTE_MAX, 'n');
	expect("note", s, 0);
	free(s);
	s = str_of(JOB_NOTE_MAX + 1, 'n');
	expect("note", s, SG_ERR_JOB_MALFORMED);
	free(s);
	/* Bytes, not characters: 128 two-byte characters fit, one more not. */
	s = malloc(2 * 129 + 3);
	ck_assert_ptr_nonnull(s);
	s[0] = '"';
	for (size_t i = 0; i < 128; i++)
		memcpy(s + 1 + 2 * i, "\xc3\xa9", 2);
	memcpy(s + 1 + 256, "\"", 2);
	expect("note", s, 0);
	memcpy(s + 1 + 256, "\xc3\xa9\"", 4);
	expect("note", s, SG_ERR_JOB_MALFORMED);
	free(s);
}
END_TEST

static int
peek(const char *s, char id[JOB_ID_LEN + 1])
{
	size_t len = strlen(s);
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s, len);
	r = job_peek_id(copy, len, id);
	free(copy);
	return r;
}

START_TEST(test_peek_id)
{
	char id[JOB_ID_LEN + 1];
	char *s;

	memset(id, 'x', sizeof(id));
	s = mk(NULL, NULL);
	ck_assert_int_eq(peek(s, id), 0);
	ck_assert_str_eq(id, ID);
	free(s);
	/* Whatever else is wrong. */
	ck_assert_int_eq(peek("{\"id\":\"" ID "\"}", id), 0);
	ck_assert_int_eq(peek("{\"v\":9,\"x\":[1],\"id\":\"" ID "\",\"y\":\"\\n\"}", id), 0);
	ck_assert_int_eq(peek("{\"id\":\"" ID "\",\"a\":1,\"a\":2}", id), 0);

	memset(id, 'x', sizeof(id));
	ck_assert_int_eq(peek("", id), SG_ERR_PARSE);
	ck_assert_int_eq(peek("[\"" ID "\"]", id), SG_ERR_PARSE);
	ck_assert_int_eq(peek("{}", id), SG_ERR_PARSE);
	ck_assert_int_eq(peek("{\"ID\":\"" ID "\"}", id), SG_ERR_PARSE);
	ck_assert_int_eq(peek("{\"id\":\"" ID "\",\"id\":\"" ID "\"}", id), SG_ERR_PARSE);
	ck_assert_int_eq(peek("{\"id\":\"0123456789ABCDEF0123456789abcdef\"}", id), SG_ERR_PARSE);
	ck_assert_int_eq(peek("{\"id\":\"" ID "0\"}", id), SG_ERR_PARSE);
	ck_assert_int_eq(peek("{\"id\":\"" ID "\\u0000x\"}", id), SG_ERR_PARSE);
	/* An escaped NUL in another member leaves the id readable. */
	ck_assert_int_eq(peek("{\"id\":\"" ID "\",\"note\":\"a\\u0000b\"}", id), 0);
	ck_assert_str_eq(id, ID);
	ck_assert_int_eq(peek("{\"id\":1}", id), SG_ERR_PARSE);
	ck_assert_int_eq(peek("{\"id\":\"" ID "\",\"n\":\"\xff\"}", id), SG_ERR_PARSE);
	ck_assert_int_eq(
	    peek("{\"id\":\"" ID "\",\"n\":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}", id), SG_ERR_PARSE);
	ck_assert_int_eq(peek("{\"id\":\"" ID "\",\"n\":[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]}", id), 0);
	ck_assert_int_eq(peek("{\"id\":\"" ID "\"} x", id), SG_ERR_PARSE);
	memset(id, 'x', sizeof(id));
	ck_assert_int_eq(peek("{\"id\":\"" ID "\"", id), SG_ERR_PARSE);
	ck_assert_int_eq(id[0], 'x');
}
END_TEST

START_TEST(test_check_time)
{
	char *s = mk(NULL, NULL);
	struct sg_job *job = parse_ok(s);
	const int64_t c = CREATED, life = 900;

	free(s);
	ck_assert_int_eq(job_check_time(job, c, life), 0);
	ck_assert_int_eq(job_check_time(job, c - JOB_CLOCK_SKEW_S, life), 0);
	ck_assert_int_eq(
	    job_check_time(job, c - JOB_CLOCK_SKEW_S - 1, life), SG_ERR_JOB_NOT_YET_VALID);
	ck_assert_int_eq(job_check_time(job, INT64_MIN, life), SG_ERR_JOB_NOT_YET_VALID);
	ck_assert_int_eq(job_check_time(job, c + 900, life), 0);
	ck_assert_int_eq(job_check_time(job, c + 901, life), SG_ERR_JOB_EXPIRED);
	ck_assert_int_eq(job_check_time(job, INT64_MAX, life), SG_ERR_JOB_EXPIRED);
	ck_assert_int_eq(job_check_time(job, c, 899), SG_ERR_JOB_LIFETIME_TOO_LONG);
	ck_assert_int_eq(job_check_time(job, c, 0), SG_ERR_JOB_LIFETIME_TOO_LONG);
	ck_assert_int_eq(job_check_time(job, c, -1), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(job_check_time(NULL, c, life), SG_ERR_INVALID_ARGUMENT);
	job_free(job);
}
END_TEST

START_TEST(test_formats)
{
	enum sg_format f = SG_FORMAT_CMS;

	ck_assert_str_eq(sg_format_name(SG_FORMAT_RAW), "raw");
	ck_assert_str_eq(sg_format_name(SG_FORMAT_CMS), "cms");
	ck_assert_str_eq(sg_format_name(SG_FORMAT_AUTHENTICODE), "authenticode");
	ck_assert_str_eq(sg_format_name(SG_FORMAT_KMOD), "kmod");
	ck_assert_str_eq(sg_format_name(SG_FORMAT_OPENPGP), "openpgp");
	ck_assert_ptr_null(sg_format_name((enum sg_format)5));
	ck_assert_ptr_null(sg_format_name((enum sg_format)7));
	ck_assert_int_eq(sg_format_parse("raw", &f), 0);
	ck_assert_int_eq(f, SG_FORMAT_RAW);
	ck_assert_int_eq(sg_format_parse("cms", &f), 0);
	ck_assert_int_eq(f, SG_FORMAT_CMS);
	ck_assert_int_eq(sg_format_parse("Cms", &f), SG_ERR_PARSE);
	ck_assert_int_eq(sg_format_parse("", &f), SG_ERR_PARSE);
	ck_assert_int_eq(sg_format_parse(NULL, &f), SG_ERR_PARSE);
	ck_assert_int_eq(f, SG_FORMAT_CMS);
}
END_TEST

static void
assert_job_eq(const struct sg_job *a, const struct sg_job *b)
{
	ck_assert_int_eq(a->v, b->v);
	ck_assert_str_eq(a->id, b->id);
	ck_assert_int_eq(a->created, b->created);
	ck_assert_int_eq(a->expires, b->expires);
	ck_assert_str_eq(a->key, b->key);
	ck_assert_int_eq(a->format, b->format);
	ck_assert_str_eq(a->artifact.name, b->artifact.name);
	ck_assert_mem_eq(a->artifact.sha256, b->artifact.sha256, SHA256_LEN);
	ck_assert_str_eq(a->artifact.sha256_hex, b->artifact.sha256_hex);
	ck_assert_uint_eq(a->artifact.size, b->artifact.size);
	ck_assert_pstr_eq(a->ci.system, b->ci.system);
	ck_assert_pstr_eq(a->ci.project, b->ci.project);
	ck_assert_pstr_eq(a->ci.pipeline, b->ci.pipeline);
	ck_assert_pstr_eq(a->ci.job, b->ci.job);
	ck_assert_pstr_eq(a->ci.commit, b->ci.commit);
	ck_assert_pstr_eq(a->ci.ref, b->ci.ref);
	ck_assert_pstr_eq(a->ci.url, b->ci.url);
	ck_assert_pstr_eq(a->ci_token, b->ci_token);
	ck_assert_pstr_eq(a->note, b->note);
}

START_TEST(test_serialize_round_trip)
{
	char *s = mk(NULL, NULL), *out = NULL;
	struct sg_job *job = parse_ok(s), *back = NULL;
	size_t len = 0;

	/* The valid job is compact and in SPEC order: byte for byte. */
	ck_assert_int_eq(job_serialize(job, &out, &len), 0);
	ck_assert_str_eq(out, s);
	ck_assert_uint_eq(len, strlen(s));
	ck_assert_int_eq(parse_len(out, len, &back), 0);
	assert_job_eq(job, back);
	job_free(back);
	free(out);

	/* Without optional members, with extreme values. */
	free(job->note);
	job->note = NULL;
	free(job->ci.system);
	job->ci.system = NULL;
	free(job->ci.url);
	job->ci.url = NULL;
	job->artifact.size = UINT64_C(9007199254740991);
	ck_assert_int_eq(job_serialize(job, &out, &len), 0);
	ck_assert_ptr_null(strstr(out, "note"));
	ck_assert_ptr_nonnull(strstr(out, "\"size\":9007199254740991}"));
	ck_assert_int_eq(parse_len(out, len, &back), 0);
	assert_job_eq(job, back);
	job_free(back);
	free(out);
	job_free(job);
	free(s);

	/* With a token at its largest: it goes between ci and note. */
	s = mk("ci_token", "\"x\"");
	job = parse_ok(s);
	free(job->ci_token);
	job->ci_token = malloc(JOB_CI_TOKEN_MAX + 1);
	ck_assert_ptr_nonnull(job->ci_token);
	memset(job->ci_token, 'T', JOB_CI_TOKEN_MAX);
	job->ci_token[JOB_CI_TOKEN_MAX] = '\0';
	ck_assert_int_eq(job_serialize(job, &out, &len), 0);
	ck_assert_ptr_nonnull(strstr(out, "},\"ci_token\":\"TTTT"));
	ck_assert_ptr_nonnull(strstr(out, "TTTT\",\"note\":\"hello\"}"));
	ck_assert_int_eq(parse_len(out, len, &back), 0);
	assert_job_eq(job, back);
	job_free(back);
	free(out);
	job_free(job);
	free(s);
}
END_TEST

START_TEST(test_serialize_refuses)
{
	char *s = mk(NULL, NULL), *out = (char *)1;
	struct sg_job *job = parse_ok(s);
	size_t len = 5;
	char *saved;
	char badkey[] = "bad\nkey", dotdot[] = "..";

	free(s);
	job->id[0] = 'G';
	ck_assert_int_eq(job_serialize(job, &out, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(out);
	job->id[0] = '0';
	job->format = (enum sg_format)9;
	ck_assert_int_eq(job_serialize(job, &out, &len), SG_ERR_INVALID_ARGUMENT);
	job->format = SG_FORMAT_RAW;
	job->expires = job->created;
	ck_assert_int_eq(job_serialize(job, &out, &len), SG_ERR_INVALID_ARGUMENT);
	job->expires = job->created + 1;
	job->artifact.size = UINT64_C(9007199254740992);
	ck_assert_int_eq(job_serialize(job, &out, &len), SG_ERR_INVALID_ARGUMENT);
	job->artifact.size = 1;
	saved = job->key;
	job->key = badkey;
	ck_assert_int_eq(job_serialize(job, &out, &len), SG_ERR_INVALID_ARGUMENT);
	job->key = saved;
	saved = job->artifact.name;
	job->artifact.name = dotdot;
	ck_assert_int_eq(job_serialize(job, &out, &len), SG_ERR_INVALID_ARGUMENT);
	job->artifact.name = saved;
	/* A token over the limit is never sent. */
	job->ci_token = malloc(JOB_CI_TOKEN_MAX + 2);
	ck_assert_ptr_nonnull(job->ci_token);
	memset(job->ci_token, 'T', JOB_CI_TOKEN_MAX + 1);
	job->ci_token[JOB_CI_TOKEN_MAX + 1] = '\0';
	ck_assert_int_eq(job_serialize(job, &out, &len), SG_ERR_INVALID_ARGUMENT);
	job->ci_token[JOB_CI_TOKEN_MAX] = '\0';
	ck_assert_int_eq(job_serialize(job, &out, &len), 0);
	free(out);
	free(job->ci_token);
	job->ci_token = NULL;
	ck_assert_int_eq(job_serialize(job, &out, &len), 0);
	free(out);
	job_free(job);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("job");

	test_add(s, "/job/parse/valid", test_valid, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/valid-minimal", test_valid_minimal, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/unparseable", test_unparseable, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/not-object", test_not_object, TEST_TIMEOUT_S);
	test_add(
	    s, "/job/parse/duplicates-and-escapes", test_duplicates_and_escapes, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/version", test_version, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/unknown-members", test_unknown_members, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/required", test_required, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/types", test_types, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/id", test_id, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/times", test_times, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/key", test_key, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/format", test_format, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/format-members", test_format_members, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/artifact-name", test_artifact_name, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/artifact-sha256-size", test_artifact_sha_size, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/ci", test_ci, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/ci-token", test_ci_token, TEST_TIMEOUT_S);
	test_add(s, "/job/parse/note", test_note, TEST_TIMEOUT_S);
	test_add(s, "/job/check-artifact-name", test_check_artifact_name, TEST_TIMEOUT_S);
	test_add(s, "/job/peek-id", test_peek_id, TEST_TIMEOUT_S);
	test_add(s, "/job/check-time", test_check_time, TEST_TIMEOUT_S);
	test_add(s, "/job/format-names", test_formats, TEST_TIMEOUT_S);
	test_add(s, "/job/serialize/round-trip", test_serialize_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/job/serialize/refuses-invalid", test_serialize_refuses, TEST_TIMEOUT_S);

	return test_run(s);
}
