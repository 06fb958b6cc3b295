/*
 * test_approval.c — the approval payload (common/approval.c): the valid
 * payload with and without its comment, every refusal of approval_parse()
 * as SG_ERR_PARSE with nothing handed out, the comment's limit at its edge
 * and one past it, and approval_serialize(): round trips, and refusing
 * (SG_ERR_INVALID_ARGUMENT) what the agent's parser would refuse.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */

#define ID      "0123456789abcdef0123456789abcdef"
#define SHA     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CREATED INT64_C(1795708805) /* 2026-11-26T16:00:05Z */

/* The valid payload without its comment, member by member. */
static const char *const members[][2] = {
	{ "v", "1" },
	{ "id", "\"" ID "\"" },
	{ "job_sha256", "\"" SHA "\"" },
	{ "decision", "\"approve\"" },
	{ "created", "\"2026-11-26T16:00:05Z\"" },
};

/*
 * The valid payload with member `name` given the raw JSON `value` instead
 * (removed when value is NULL, appended when name is not one of members[]).
 * Caller frees.
 */
static char *
mk(const char *name, const char *value)
{
	size_t cap = 1024 + (value ? strlen(value) : 0) + (name ? strlen(name) : 0), o = 0, i;
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

/* approval_parse() of exactly len bytes, from an allocation of that size
 * (so that ASan sees a read past the end). */
static int
parse_len(const char *s, size_t len, struct sg_approval **ret)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s, len);
	r = approval_parse(copy, len, ret);
	free(copy);
	return r;
}

static struct sg_approval *
parse_ok(const char *s)
{
	struct sg_approval *a = NULL;
	int r = parse_len(s, strlen(s), &a);

	ck_assert_msg(r == 0, "refused (%d): %s", r, s);
	ck_assert_ptr_nonnull(a);
	return a;
}

/* s (len bytes) is refused as SG_ERR_PARSE and *ret is cleared. */
static void
refused_len(const char *s, size_t len)
{
	struct sg_approval *a = (struct sg_approval *)(uintptr_t)1;
	int r = parse_len(s, len, &a);

	ck_assert_msg(r == SG_ERR_PARSE, "got %d for: %.*s", r, (int)len, s);
	ck_assert_ptr_null(a);
}

static void
refused(const char *s)
{
	refused_len(s, strlen(s));
}

/* The valid payload with one member changed is refused. */
static void
refused_with(const char *name, const char *value)
{
	char *s = mk(name, value);

	refused(s);
	free(s);
}

/* A JSON string holding the n bytes of c repeated (c is one character of
 * clen bytes; n a multiple of clen).  Caller frees. */
static char *
json_str_of(const char *c, size_t n)
{
	size_t clen = strlen(c), i;
	char *s = malloc(n + 3);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(n % clen, 0);
	s[0] = '"';
	for (i = 0; i < n; i += clen)
		memcpy(s + 1 + i, c, clen);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

/* ---- approval_parse(): what it accepts ---- */

START_TEST(test_parse_valid)
{
	struct sg_approval *a;
	char *s = mk(NULL, NULL);

	a = parse_ok(s);
	ck_assert_str_eq(a->id, ID);
	ck_assert_str_eq(a->job_sha256, SHA);
	ck_assert_int_eq(a->decision, SG_DECISION_APPROVE);
	ck_assert_int_eq(a->created, CREATED);
	ck_assert_ptr_null(a->comment);
	approval_free(a);
	free(s);

	s = mk("decision", "\"deny\"");
	a = parse_ok(s);
	ck_assert_int_eq(a->decision, SG_DECISION_DENY);
	approval_free(a);
	free(s);

	s = mk("comment", "\"checked the release notes\"");
	a = parse_ok(s);
	ck_assert_str_eq(a->comment, "checked the release notes");
	ck_assert_int_eq(a->decision, SG_DECISION_APPROVE);
	approval_free(a);
	free(s);

	/* Members in any order. */
	a = parse_ok("{\"comment\":\"x\",\"created\":\"2026-11-26T16:00:05Z\",\"decision\":"
		     "\"deny\",\"job_sha256\":\"" SHA "\",\"id\":\"" ID "\",\"v\":1}");
	ck_assert_str_eq(a->comment, "x");
	ck_assert_int_eq(a->decision, SG_DECISION_DENY);
	ck_assert_int_eq(a->created, CREATED);
	approval_free(a);
	approval_free(NULL);
}
END_TEST

/* APPROVAL_COMMENT_MAX bytes, counted in bytes, not characters. */
START_TEST(test_parse_comment_at_limit)
{
	struct sg_approval *a;
	char *c, *s;

	c = json_str_of("a", APPROVAL_COMMENT_MAX);
	s = mk("comment", c);
	a = parse_ok(s);
	ck_assert_uint_eq(strlen(a->comment), APPROVAL_COMMENT_MAX);
	approval_free(a);
	free(s);
	free(c);

	/* 128 two-byte characters: 256 bytes. */
	c = json_str_of("\xc3\xa9", APPROVAL_COMMENT_MAX);
	s = mk("comment", c);
	a = parse_ok(s);
	ck_assert_uint_eq(strlen(a->comment), APPROVAL_COMMENT_MAX);
	approval_free(a);
	free(s);
	free(c);

	/* One byte more, either way, is refused. */
	c = json_str_of("a", APPROVAL_COMMENT_MAX + 1);
	refused_with("comment", c);
	free(c);
	s = json_str_of("\xc3\xa9", APPROVAL_COMMENT_MAX);
	c = malloc(strlen(s) + 2);
	ck_assert_ptr_nonnull(c);
	snprintf(c, strlen(s) + 2, "\"x%s", s + 1); /* 257 bytes */
	refused_with("comment", c);
	free(c);
	free(s);
}
END_TEST

START_TEST(test_parse_comment_utf8)
{
	/* Two-, three- and four-byte characters, raw and escaped. */
	static const char *const raw =
	    "\"caf\xc3\xa9 \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x8f\"";
	static const char *const escaped = "\"caf\\u00e9 \\u2713 \\u65e5\\u672c \\ud83d\\udd0f\"";
	static const char *const want =
	    "caf\xc3\xa9 \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x8f";
	struct sg_approval *a;
	char *s;

	s = mk("comment", raw);
	a = parse_ok(s);
	ck_assert_str_eq(a->comment, want);
	approval_free(a);
	free(s);
	s = mk("comment", escaped);
	a = parse_ok(s);
	ck_assert_str_eq(a->comment, want);
	approval_free(a);
	free(s);
}
END_TEST

/* ---- approval_parse(): what it refuses ---- */

START_TEST(test_parse_members)
{
	size_t i;
	char *s;

	/* Unknown members, including a case variant of a known one. */
	refused_with("x", "1");
	refused_with("Comment", "\"x\"");
	refused_with("ID", "\"" ID "\"");
	refused_with("approver", "\"alice\"");
	/* Each required member missing. */
	for (i = 0; i < nitems(members); i++)
		refused_with(members[i][0], NULL);
	/* Duplicates, the same value or another. */
	refused_with("id", "\"" ID "\",\"id\":\"" ID "\"");
	refused_with("v", "1,\"v\":1");
	refused_with("decision", "\"approve\",\"decision\":\"deny\"");
	refused_with("comment", "\"a\",\"comment\":\"b\"");
	/* The valid payload still parses: the edits above are what failed. */
	s = mk(NULL, NULL);
	approval_free(parse_ok(s));
	free(s);
}
END_TEST

START_TEST(test_parse_version)
{
	refused_with("v", "2");
	refused_with("v", "0");
	refused_with("v", "-1");
	refused_with("v", "\"1\"");
	refused_with("v", "1.5");
	refused_with("v", "true");
	refused_with("v", "null");
	refused_with("v", "[1]");
}
END_TEST

START_TEST(test_parse_hex)
{
	/* id: JOB_ID_LEN lowercase hex digits. */
	refused_with("id", "\"0123456789abcdef0123456789abcde\"");   /* 31 */
	refused_with("id", "\"0123456789abcdef0123456789abcdef0\""); /* 33 */
	refused_with("id", "\"0123456789ABCDEF0123456789abcdef\"");
	refused_with("id", "\"0123456789abcdef0123456789abcdeF\"");
	refused_with("id", "\"0123456789abcdef0123456789abcdeg\"");
	refused_with("id", "\"\"");
	refused_with("id", "1");
	refused_with("id", "null");
	/* job_sha256: SHA256_HEX_LEN lowercase hex digits. */
	refused_with("job_sha256", "\"" ID "\"");
	refused_with("job_sha256", "\"" SHA "0\"");
	refused_with("job_sha256",
	    "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\""); /* 63 */
	refused_with(
	    "job_sha256", "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"");
	refused_with(
	    "job_sha256", "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85E\"");
	refused_with("job_sha256", "\"sha256:" SHA "\"");
	refused_with("job_sha256", "\"\"");
}
END_TEST

START_TEST(test_parse_decision)
{
	refused_with("decision", "\"Approve\"");
	refused_with("decision", "\"APPROVE\"");
	refused_with("decision", "\"approved\"");
	refused_with("decision", "\"approve \"");
	refused_with("decision", "\"reject\"");
	refused_with("decision", "\"denied\"");
	refused_with("decision", "\"\"");
	refused_with("decision", "true");
	refused_with("decision", "1");
	refused_with("decision", "[\"approve\"]");
}
END_TEST

START_TEST(test_parse_created)
{
	struct sg_approval *a;
	char *s;

	refused_with("created", "\"2026-11-26T16:00:05+00:00\"");
	refused_with("created", "\"2026-11-26T17:00:05+01:00\"");
	refused_with("created", "\"2026-11-26T16:00:05.5Z\"");
	refused_with("created", "\"2026-11-26T16:00:05.000Z\"");
	refused_with("created", "\"2026-11-26T16:00:05z\"");
	refused_with("created", "\"2026-11-26t16:00:05Z\"");
	refused_with("created", "\"2026-11-26 16:00:05Z\"");
	refused_with("created", "\"2026-11-26T16:00:05\"");
	refused_with("created", "\"2026-02-29T16:00:05Z\""); /* not a leap year */
	refused_with("created", "\"2026-11-26T16:00:60Z\"");
	refused_with("created", "\"\"");
	refused_with("created", "1795708805");
	refused_with("created", "null");
	refused_with("created", "{\"t\":\"2026-11-26T16:00:05Z\"}");
	/* The edges of what sgtime reads. */
	s = mk("created", "\"1970-01-01T00:00:00Z\"");
	a = parse_ok(s);
	ck_assert_int_eq(a->created, 0);
	approval_free(a);
	free(s);
	s = mk("created", "\"2028-02-29T00:00:00Z\"");
	a = parse_ok(s);
	ck_assert_int_eq(a->created, INT64_C(1835395200));
	approval_free(a);
	free(s);
	refused_with("created", "\"1969-12-31T23:59:59Z\"");
}
END_TEST

START_TEST(test_parse_comment_refused)
{
	/* Empty, not a string. */
	refused_with("comment", "\"\"");
	refused_with("comment", "null");
	refused_with("comment", "1");
	refused_with("comment", "[\"x\"]");
	refused_with("comment", "{\"text\":\"x\"}");
	/* Control characters: escaped C0, DEL and C1, and NUL. */
	refused_with("comment", "\"a\\u0001b\"");
	refused_with("comment", "\"line\\nbreak\"");
	refused_with("comment", "\"tab\\there\"");
	refused_with("comment", "\"esc\\u001b[31m\"");
	refused_with("comment", "\"del\\u007f\"");
	refused_with("comment", "\"c1\\u0085\"");
	refused_with("comment", "\"c1\\u009b\"");
	refused_with("comment", "\"nul\\u0000after\"");
	/* Raw: C0 (not JSON at all), DEL, C1. */
	refused_with("comment", "\"a\x01z\"");
	refused_with("comment", "\"a\nz\"");
	refused_with("comment", "\"a\x7fz\"");
	refused_with("comment", "\"a\xc2\x85z\"");
	/* Invalid UTF-8: a lone continuation byte, a truncated sequence, an
	 * overlong '/', a surrogate (raw and escaped, lone), past U+10FFFF,
	 * 0xff. */
	refused_with("comment", "\"a\x80z\"");
	refused_with("comment", "\"caf\xc3\"");
	refused_with("comment", "\"a\xc3(z\"");
	refused_with("comment", "\"a\xc0\xafz\"");
	refused_with("comment", "\"a\xed\xa0\x80z\"");
	refused_with("comment", "\"a\\ud800z\"");
	refused_with("comment", "\"a\\udc00z\"");
	refused_with("comment", "\"a\xf4\x90\x80\x80z\"");
	refused_with("comment", "\"a\xffz\"");
}
END_TEST

START_TEST(test_parse_shape)
{
	char *s = mk(NULL, NULL), *t;
	size_t len = strlen(s), i;

	/* Not an object. */
	refused("");
	refused(" ");
	refused("[]");
	refused("null");
	refused("1");
	refused("\"approve\"");
	refused("{}");
	t = malloc(len + 3);
	ck_assert_ptr_nonnull(t);
	snprintf(t, len + 3, "[%s]", s);
	refused(t);
	free(t);

	/* Trailing data: another value, garbage, a NUL inside len. */
	t = malloc(2 * len + 2);
	ck_assert_ptr_nonnull(t);
	snprintf(t, 2 * len + 2, "%s%s", s, s);
	refused(t);
	snprintf(t, 2 * len + 2, "%s x", s);
	refused(t);
	snprintf(t, 2 * len + 2, "%s}", s);
	refused(t);
	refused_len(s, len + 1); /* s's own NUL */
	free(t);

	/* Truncated at every byte. */
	for (i = 0; i < len; i++)
		refused_len(s, i);

	/* Nesting: an object or array where a string or number goes, and
	 * deeper than JSON_DEPTH_MAX in an extra member. */
	refused_with("id", "{\"id\":\"" ID "\"}");
	refused_with("v", "{\"v\":1}");
	refused_with("x", "[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]");
	free(s);
}
END_TEST

START_TEST(test_parse_arguments)
{
	struct sg_approval *a = (struct sg_approval *)(uintptr_t)1;
	char *s = mk(NULL, NULL);

	ck_assert_int_eq(
	    approval_parse((const uint8_t *)s, strlen(s), NULL), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(approval_parse(NULL, 5, &a), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(approval_parse(NULL, 0, &a), SG_ERR_PARSE);
	ck_assert_ptr_null(a);
	free(s);
}
END_TEST

/* ---- approval_serialize() ---- */

static void
fill(struct sg_approval *a, enum sg_decision d, char *comment)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->id, ID, sizeof(a->id));
	memcpy(a->job_sha256, SHA, sizeof(a->job_sha256));
	a->decision = d;
	a->created = CREATED;
	a->comment = comment;
}

static char *
serialize_ok(const struct sg_approval *a)
{
	char *s = NULL;
	size_t len = 0;

	ck_assert_int_eq(approval_serialize(a, &s, &len), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(len, strlen(s));
	return s;
}

/* approval_serialize(a) fails with SG_ERR_INVALID_ARGUMENT and hands out
 * nothing. */
static void
serialize_refused(const struct sg_approval *a)
{
	char *s = (char *)(uintptr_t)1;
	size_t len = 7;

	ck_assert_int_eq(approval_serialize(a, &s, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(len, 0);
}

static void
assert_same(const struct sg_approval *a, const struct sg_approval *b)
{
	ck_assert_str_eq(a->id, b->id);
	ck_assert_str_eq(a->job_sha256, b->job_sha256);
	ck_assert_int_eq(a->decision, b->decision);
	ck_assert_int_eq(a->created, b->created);
	ck_assert_pstr_eq(a->comment, b->comment);
}

START_TEST(test_serialize_round_trip)
{
	char comment[] = "caf\xc3\xa9 \"quoted\" \\ \xf0\x9f\x94\x8f";
	struct sg_approval a, *back;
	char *s;

	fill(&a, SG_DECISION_APPROVE, NULL);
	s = serialize_ok(&a);
	ck_assert_str_eq(s,
	    "{\"v\":1,\"id\":\"" ID "\",\"job_sha256\":\"" SHA "\",\"decision\":\"approve\","
	    "\"created\":\"2026-11-26T16:00:05Z\"}");
	back = parse_ok(s);
	assert_same(&a, back);
	approval_free(back);
	free(s);

	fill(&a, SG_DECISION_DENY, comment);
	s = serialize_ok(&a);
	ck_assert_ptr_nonnull(strstr(s, "\"decision\":\"deny\""));
	ck_assert_ptr_nonnull(strstr(s, ",\"comment\":\"caf"));
	back = parse_ok(s);
	assert_same(&a, back);
	approval_free(back);
	free(s);

	/* The epoch is a valid time. */
	fill(&a, SG_DECISION_APPROVE, NULL);
	a.created = 0;
	s = serialize_ok(&a);
	back = parse_ok(s);
	ck_assert_int_eq(back->created, 0);
	approval_free(back);
	free(s);

	ck_assert_str_eq(approval_decision_name(SG_DECISION_APPROVE), "approve");
	ck_assert_str_eq(approval_decision_name(SG_DECISION_DENY), "deny");
}
END_TEST

START_TEST(test_serialize_comment_limit)
{
	char comment[APPROVAL_COMMENT_MAX + 2];
	struct sg_approval a, *back;
	char *s;

	memset(comment, 'c', sizeof(comment) - 1);
	comment[APPROVAL_COMMENT_MAX] = '\0';
	fill(&a, SG_DECISION_APPROVE, comment);
	s = serialize_ok(&a);
	back = parse_ok(s);
	assert_same(&a, back);
	approval_free(back);
	free(s);
	comment[APPROVAL_COMMENT_MAX] = 'c';
	comment[APPROVAL_COMMENT_MAX + 1] = '\0';
	serialize_refused(&a);
}
END_TEST

/* What approval_parse() refuses never leaves approval_serialize(). */
START_TEST(test_serialize_refuses)
{
	char empty[] = "", ctl[] = "line\nbreak", esc[] = "a\x1b[31m", del[] = "a\x7f",
	     c1[] = "a\xc2\x85", bad_utf8[] = "caf\xc3", overlong[] = "a\xc0\xaf";
	char *const comments[] = { empty, ctl, esc, del, c1, bad_utf8, overlong };
	struct sg_approval a;
	size_t i;
	char *s;
	size_t len;

	for (i = 0; i < nitems(comments); i++) {
		fill(&a, SG_DECISION_APPROVE, comments[i]);
		serialize_refused(&a);
	}
	fill(&a, SG_DECISION_APPROVE, NULL);
	a.id[5] = 'A';
	serialize_refused(&a);
	fill(&a, SG_DECISION_APPROVE, NULL);
	a.id[JOB_ID_LEN - 1] = '\0';
	serialize_refused(&a);
	fill(&a, SG_DECISION_APPROVE, NULL);
	a.id[0] = 'g';
	serialize_refused(&a);
	fill(&a, SG_DECISION_APPROVE, NULL);
	a.job_sha256[10] = 'E';
	serialize_refused(&a);
	fill(&a, SG_DECISION_APPROVE, NULL);
	a.job_sha256[0] = '\0';
	serialize_refused(&a);
	fill(&a, SG_DECISION_APPROVE, NULL);
	a.created = -1;
	serialize_refused(&a);

	/* Arguments. */
	fill(&a, SG_DECISION_APPROVE, NULL);
	ck_assert_int_eq(approval_serialize(NULL, &s, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(approval_serialize(&a, NULL, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(approval_serialize(&a, &s, NULL), SG_ERR_INVALID_ARGUMENT);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("approval");

	test_add(s, "/approval/parse/valid", test_parse_valid, TEST_TIMEOUT_S);
	test_add(
	    s, "/approval/parse/comment-at-limit", test_parse_comment_at_limit, TEST_TIMEOUT_S);
	test_add(s, "/approval/parse/comment-utf8", test_parse_comment_utf8, TEST_TIMEOUT_S);
	test_add(s, "/approval/parse/members", test_parse_members, TEST_TIMEOUT_S);
	test_add(s, "/approval/parse/version", test_parse_version, TEST_TIMEOUT_S);
	test_add(s, "/approval/parse/hex", test_parse_hex, TEST_TIMEOUT_S);
	test_add(s, "/approval/parse/decision", test_parse_decision, TEST_TIMEOUT_S);
	test_add(s, "/approval/parse/created", test_parse_created, TEST_TIMEOUT_S);
	test_add(s, "/approval/parse/comment-refused", test_parse_comment_refused, TEST_TIMEOUT_S);
	test_add(s, "/approval/parse/shape", test_parse_shape, TEST_TIMEOUT_S);
	test_add(s, "/approval/parse/arguments", test_parse_arguments, TEST_TIMEOUT_S);
	test_add(s, "/approval/serialize/round-trip", test_serialize_round_trip, TEST_TIMEOUT_S);
	test_add(
	    s, "/approval/serialize/comment-limit", test_serialize_comment_limit, TEST_TIMEOUT_S);
	test_add(s, "/approval/serialize/refuses-invalid", test_serialize_refuses, TEST_TIMEOUT_S);

	return test_run(s);
}
