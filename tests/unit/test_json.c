/*
 * test_json.c — the strict JSON layer: RFC 8259 grammar, UTF-8, escapes,
 * the JSON_F_* facts, nesting depth, and the typed getters.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S 30

/* Parses len bytes from an exact-size heap copy, so that the sanitizers
 * see any read past the end. */
static int
parse_len(const char *s, size_t len, cJSON **root, unsigned *flags)
{
	char *copy = malloc(len ? len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s, len);
	r = json_parse(copy, len, root, flags);
	free(copy);
	return r;
}

static int
parse_str(const char *s, cJSON **root, unsigned *flags)
{
	return parse_len(s, strlen(s), root, flags);
}

/* Expects acceptance and returns the flags. */
static unsigned
accept_flags(const char *s, size_t len)
{
	cJSON *root = NULL;
	unsigned flags = 0xdead;
	int r = parse_len(s, len, &root, &flags);

	ck_assert_msg(r == 0, "refused (%d): %.*s", r, (int)len, s);
	ck_assert_ptr_nonnull(root);
	cJSON_Delete(root);
	return flags;
}

static void
accept(const char *s)
{
	(void)accept_flags(s, strlen(s));
}

static void
refuse_len(const char *s, size_t len)
{
	cJSON *root = (cJSON *)(uintptr_t)1;
	unsigned flags = 0xdead;
	int r = parse_len(s, len, &root, &flags);

	ck_assert_msg(r == SG_ERR_PARSE, "not refused (%d): %.*s", r, (int)len, s);
	ck_assert_ptr_null(root);
	ck_assert_uint_eq(flags, 0);
}

static void
refuse(const char *s)
{
	refuse_len(s, strlen(s));
}

START_TEST(test_accepts_values)
{
	static const char *const ok[] = {
		"{}",
		"[]",
		" {} ",
		"\t\r\n[ ]\n",
		"0",
		"-0",
		"1",
		"-1",
		"12.5",
		"0.5e-10",
		"1E+2",
		"1e2",
		"-1.5E300",
		"true",
		"false",
		"null",
		"\"\"",
		"\"abc\"",
		"{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
		"[1,2,3]",
		"[[],[{}],{\"\":0}]",
		"\"\\\"\\\\\\/\"",
		"\"\x7f\"",
		"1e400",
		"[100000000000000000000000000000000000000000000000000000000000000000000]",
	};
	size_t i;

	for (i = 0; i < nitems(ok); i++)
		accept(ok[i]);
}
END_TEST

START_TEST(test_refuses_grammar)
{
	static const char *const bad[] = {
		"",
		" ",
		"{",
		"}",
		"[",
		"]",
		"[1,]",
		"[,1]",
		"{,}",
		"{\"a\":1,}",
		"{\"a\"1}",
		"{\"a\":}",
		"{a:1}",
		"{'a':1}",
		"{\"a\":1 \"b\":2}",
		"[1 2]",
		"[\"a\"\"b\"]",
		"[01]",
		"[00]",
		"[-01]",
		"[1.]",
		"[.5]",
		"[1.e5]",
		"[1e]",
		"[1e+]",
		"[+1]",
		"[-]",
		"[--1]",
		"[0x10]",
		"[tru]",
		"[True]",
		"[nul]",
		"[NaN]",
		"[Infinity]",
		"[-Infinity]",
		"'a'",
		"[1] x",
		"[1][2]",
		"{}{}",
		"\"abc",
		"\"\\x\"",
		"\"\\u12\"",
		"\"\\u12G4\"",
		"\"\\U0041\"",
		"\"\\",
		"/* c */{}",
		"{}//",
		"\xef\xbb\xbf{}",
		"[1,,2]",
		"{\"a\":1}}",
		"[1]]",
		"{\"a\"}",
		"{1:2}",
		"[true false]",
		"\"\\u\"",
		"nulll",
		"truefalse",
		"[1}",
		"{\"a\":1]",
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++)
		refuse(bad[i]);
}
END_TEST

START_TEST(test_refuses_trailing_nul)
{
	refuse_len("{}\0", 3);
	refuse_len("\0{}", 3);
	refuse_len("\"a\0b\"", 5);
}
END_TEST

START_TEST(test_refuses_raw_control)
{
	char s[8];
	int c;

	for (c = 0; c < 0x20; c++) {
		snprintf(s, sizeof(s), "\"a%cb\"", c == 0 ? 'x' : c);
		if (c == 0)
			s[2] = '\0';
		refuse_len(s, 5);
	}
	/* DEL may appear raw in JSON; the models refuse it themselves. */
	ck_assert_uint_eq(accept_flags("\"a\x7f\"", 4), 0);
}
END_TEST

START_TEST(test_utf8_valid)
{
	static const char *const ok[] = {
		"\"\xc2\x80\"",         /* U+0080 */
		"\"\xdf\xbf\"",         /* U+07FF */
		"\"\xe0\xa0\x80\"",     /* U+0800 */
		"\"\xed\x9f\xbf\"",     /* U+D7FF */
		"\"\xee\x80\x80\"",     /* U+E000 */
		"\"\xef\xbf\xbf\"",     /* U+FFFF */
		"\"\xf0\x90\x80\x80\"", /* U+10000 */
		"\"\xf4\x8f\xbf\xbf\"", /* U+10FFFF */
		"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
	};
	size_t i;

	for (i = 0; i < nitems(ok); i++)
		ck_assert_uint_eq(accept_flags(ok[i], strlen(ok[i])), 0);
}
END_TEST

START_TEST(test_utf8_invalid)
{
	static const char *const bad[] = {
		"\"\xc0\x80\"",                 /* overlong NUL */
		"\"\xc1\xbf\"",                 /* overlong */
		"\"\xe0\x80\x80\"",             /* overlong */
		"\"\xe0\x9f\xbf\"",             /* overlong */
		"\"\xf0\x80\x80\x80\"",         /* overlong */
		"\"\xf0\x8f\xbf\xbf\"",         /* overlong */
		"\"\xed\xa0\x80\"",             /* U+D800 */
		"\"\xed\xbf\xbf\"",             /* U+DFFF */
		"\"\xed\xa0\xbd\xed\xb8\x80\"", /* CESU-8 pair */
		"\"\xf4\x90\x80\x80\"",         /* U+110000 */
		"\"\xf5\x80\x80\x80\"", "\"\xf8\x88\x80\x80\x80\"", "\"\xfe\"", "\"\xff\"",
		"\"\x80\"",                                         /* lone continuation */
		"\"\xbf\"", "\"\xc3\"",                             /* truncated */
		"\"\xe2\x82\"", "\"\xf0\x9f\x98\"", "\"\xc3\x28\"", /* bad continuation */
		"\"\xe2\x28\xa1\"", "\"\xf0\x9f\x28\x80\"",
		"\xc3\xa9",     /* non-ASCII outside a string */
		"{\"\xff\":1}", /* in a member name */
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++)
		refuse(bad[i]);
	/* A sequence cut by the end of the buffer. */
	refuse_len("\"\xe2\x82\xac\"", 3);
}
END_TEST

START_TEST(test_escapes_surrogates)
{
	cJSON *root = NULL;
	unsigned flags;

	ck_assert_int_eq(parse_str("\"\\ud83d\\ude00\"", &root, &flags), 0);
	ck_assert_str_eq(root->valuestring, "\xf0\x9f\x98\x80");
	cJSON_Delete(root);
	accept("\"\\uD83D\\uDE00\"");
	accept("\"\\udbff\\udfff\"");
	accept("\"\\ud7ff\\ue000\"");
	refuse("\"\\ud83d\""); /* lone high */
	refuse("\"\\ud83dx\"");
	refuse("\"\\ud83d\\u0041\""); /* high then not low */
	refuse("\"\\ud83d\\ud83d\""); /* high then high */
	refuse("\"\\ude00\"");        /* lone low */
	refuse("\"\\ude00\\ud83d\""); /* reversed */
	refuse("\"\\ud83d\\\"");
	refuse("\"\\ud83d\\u\"");
	refuse("\"\\ud83d\\ude0\"");
}
END_TEST

START_TEST(test_flags)
{
	static const struct {
		const char *s;
		unsigned flags;
	} v[] = {
		{ "\"\\u0000\"", JSON_F_NUL_ESCAPE | JSON_F_CONTROL },
		{ "{\"a\\u0000\":1}", JSON_F_NUL_ESCAPE | JSON_F_CONTROL },
		{ "\"\\u0001\"", JSON_F_CONTROL },
		{ "\"\\u001f\"", JSON_F_CONTROL },
		{ "\"\\u001F\"", JSON_F_CONTROL },
		{ "\"\\u007f\"", JSON_F_CONTROL },
		{ "\"\\n\"", JSON_F_CONTROL },
		{ "\"\\t\"", JSON_F_CONTROL },
		{ "\"\\r\"", JSON_F_CONTROL },
		{ "\"\\b\"", JSON_F_CONTROL },
		{ "\"\\f\"", JSON_F_CONTROL },
		{ "\"\\u0020\"", 0 },
		{ "\"\\u0080\"", 0 },
		{ "\"\\u007e\"", 0 },
		{ "\"\\/\\\\\\\"\"", 0 },
		{ "{\"a\":1,\"a\":2}", JSON_F_DUPLICATE },
		{ "{\"x\":{\"a\":1,\"a\":2}}", JSON_F_DUPLICATE },
		{ "[{\"a\":1,\"b\":2,\"a\":3}]", JSON_F_DUPLICATE },
		{ "{\"a\":1,\"\\u0061\":2}", JSON_F_DUPLICATE },
		{ "{\"a\":1,\"b\":{\"a\":2}}", 0 },
		{ "{\"a\":1,\"A\":2}", 0 },
		{ "[{\"a\":1},{\"a\":1}]", 0 },
		{ "{\"a\":\"\\u0000\",\"a\":1}",
		    JSON_F_NUL_ESCAPE | JSON_F_CONTROL | JSON_F_DUPLICATE },
	};
	size_t i;

	for (i = 0; i < nitems(v); i++) {
		unsigned f = accept_flags(v[i].s, strlen(v[i].s));
		ck_assert_msg(f == v[i].flags, "%s: flags %#x, want %#x", v[i].s, f, v[i].flags);
	}
}
END_TEST

/* An object with n members "k0".."k<n-1>", plus one more "k<dup>" when
 * dup >= 0. */
static char *
many_members(int n, int dup)
{
	size_t cap = (size_t)n * 16 + 64, o = 0;
	char *s = malloc(cap);
	int i;

	ck_assert_ptr_nonnull(s);
	s[o++] = '{';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s\"k%d\":%d", i ? "," : "", i, i);
	if (dup >= 0)
		o += (size_t)snprintf(s + o, cap - o, ",\"k%d\":0", dup);
	s[o++] = '}';
	s[o] = '\0';
	return s;
}

START_TEST(test_duplicates_many)
{
	char *s = many_members(5000, -1);

	ck_assert_uint_eq(accept_flags(s, strlen(s)), 0);
	free(s);
	s = many_members(5000, 1234);
	ck_assert_uint_eq(accept_flags(s, strlen(s)), JSON_F_DUPLICATE);
	free(s);
}
END_TEST

/* depth levels of open, then close. */
static char *
nested(size_t depth, char open, char close, const char *inner)
{
	size_t n = strlen(inner), i;
	char *s = malloc(2 * depth + n + 1);

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < depth; i++)
		s[i] = open;
	memcpy(s + depth, inner, n);
	for (i = 0; i < depth; i++)
		s[depth + n + i] = close;
	s[2 * depth + n] = '\0';
	return s;
}

START_TEST(test_depth_arrays)
{
	char *s;

	s = nested(JSON_DEPTH_MAX, '[', ']', "1");
	accept(s);
	free(s);
	s = nested(JSON_DEPTH_MAX, '[', ']', "");
	accept(s);
	free(s);
	s = nested(JSON_DEPTH_MAX + 1, '[', ']', "1");
	refuse(s);
	free(s);
	s = nested(JSON_DEPTH_MAX + 1, '[', ']', "");
	refuse(s);
	free(s);
}
END_TEST

/* {"a":{"a":...{}...}} with depth objects. */
static char *
nested_objects(size_t depth)
{
	size_t i, o = 0;
	char *s = malloc(6 * depth + 3);

	ck_assert_ptr_nonnull(s);
	for (i = 0; i + 1 < depth; i++) {
		memcpy(s + o, "{\"a\":", 5);
		o += 5;
	}
	s[o++] = '{';
	for (i = 0; i < depth; i++)
		s[o++] = '}';
	s[o] = '\0';
	return s;
}

START_TEST(test_depth_objects)
{
	char *s;

	s = nested_objects(1);
	ck_assert_str_eq(s, "{}");
	free(s);
	s = nested_objects(JSON_DEPTH_MAX);
	accept(s);
	free(s);
	s = nested_objects(JSON_DEPTH_MAX + 1);
	refuse(s);
	free(s);
	/* Mixed: 15 arrays around one object holding an array is 17. */
	s = nested(JSON_DEPTH_MAX - 1, '[', ']', "{\"a\":[]}");
	refuse(s);
	free(s);
	s = nested(JSON_DEPTH_MAX - 1, '[', ']', "{\"a\":1}");
	accept(s);
	free(s);
}
END_TEST

START_TEST(test_depth_hostile)
{
	/* Far deeper than any stack would survive if we recursed. */
	char *s = nested(1000000, '[', ']', "");

	refuse(s);
	free(s);
	s = nested(1000000, '[', ']', "");
	s[1000000] = '\0'; /* unterminated */
	refuse(s);
	free(s);
}
END_TEST

START_TEST(test_length_bounded)
{
	cJSON *root = NULL;
	unsigned flags;

	/* Only len bytes count: what follows is not looked at. */
	ck_assert_int_eq(parse_len("[1]xyz", 3, &root, &flags), 0);
	cJSON_Delete(root);
	root = NULL;
	ck_assert_int_eq(parse_len("[123]", 3, &root, &flags), SG_ERR_PARSE);
	ck_assert_ptr_null(root);
	ck_assert_int_eq(parse_len("12", 1, &root, &flags), 0);
	ck_assert_int_eq((int)root->valuedouble, 1);
	cJSON_Delete(root);
	ck_assert_int_eq(json_parse(NULL, 0, &root, &flags), SG_ERR_PARSE);
	ck_assert_int_eq(json_parse(NULL, 1, &root, &flags), SG_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_check_members)
{
	static const char *const allowed[] = { "a", "b" };
	const char *unknown = (const char *)1;
	cJSON *root = NULL;
	unsigned flags;

	ck_assert_int_eq(parse_str("{\"a\":1,\"b\":2}", &root, &flags), 0);
	ck_assert_int_eq(json_check_members(root, allowed, 2, &unknown), 0);
	ck_assert_ptr_null(unknown);
	cJSON_Delete(root);

	ck_assert_int_eq(parse_str("{\"a\":1,\"B\":2,\"c\":3}", &root, &flags), 0);
	ck_assert_int_eq(json_check_members(root, allowed, 2, &unknown), SG_ERR_NOT_FOUND);
	ck_assert_str_eq(unknown, "B");
	ck_assert_int_eq(json_check_members(root, allowed, 0, &unknown), SG_ERR_NOT_FOUND);
	ck_assert_str_eq(unknown, "a");
	cJSON_Delete(root);

	ck_assert_int_eq(parse_str("{}", &root, &flags), 0);
	ck_assert_int_eq(json_check_members(root, allowed, 0, NULL), 0);
	cJSON_Delete(root);
	ck_assert_int_eq(parse_str("[]", &root, &flags), 0);
	ck_assert_int_eq(json_check_members(root, allowed, 2, NULL), SG_ERR_INVALID_ARGUMENT);
	cJSON_Delete(root);
}
END_TEST

START_TEST(test_getters)
{
	cJSON *root = NULL;
	unsigned flags;
	const char *s = (const char *)1;
	size_t len = 99;
	const cJSON *o = (const cJSON *)1;
	int b = 7;

	ck_assert_int_eq(parse_str("{\"Key\":\"v\",\"s\":\"caf\\u00e9\",\"n\":1,"
				   "\"t\":true,\"f\":false,\"o\":{},\"a\":[],\"z\":null}",
			     &root, &flags),
	    0);
	/* Case-sensitive lookup. */
	ck_assert_ptr_null(json_get(root, "key"));
	ck_assert_ptr_nonnull(json_get(root, "Key"));
	ck_assert_ptr_null(json_get(json_get(root, "a"), "x"));

	ck_assert_int_eq(json_get_string(root, "key", &s, &len), SG_ERR_NOT_FOUND);
	ck_assert_ptr_eq(s, (const char *)1);
	ck_assert_uint_eq(len, 99);
	ck_assert_int_eq(json_get_string(root, "n", &s, &len), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_string(root, "z", &s, &len), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_string(root, "s", &s, &len), 0);
	ck_assert_str_eq(s, "caf\xc3\xa9");
	ck_assert_uint_eq(len, 5);

	ck_assert_int_eq(json_get_bool(root, "t", &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(json_get_bool(root, "f", &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(json_get_bool(root, "n", &b), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_bool(root, "x", &b), SG_ERR_NOT_FOUND);

	ck_assert_int_eq(json_get_object(root, "a", &o), SG_ERR_PARSE);
	ck_assert_ptr_eq(o, (const cJSON *)1);
	ck_assert_int_eq(json_get_object(root, "o", &o), 0);
	ck_assert_ptr_eq(o, json_get(root, "o"));
	ck_assert_int_eq(json_get_array(root, "o", &o), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_array(root, "a", &o), 0);
	ck_assert_ptr_eq(o, json_get(root, "a"));
	ck_assert_int_eq(json_get_array(root, "x", &o), SG_ERR_NOT_FOUND);
	cJSON_Delete(root);
}
END_TEST

START_TEST(test_get_int)
{
	cJSON *root = NULL;
	unsigned flags;
	int64_t v = 42;

	ck_assert_int_eq(
	    parse_str("{\"one\":1,\"onef\":1.0,\"onee\":1e0,\"half\":1.5,"
		      "\"s\":\"1\",\"max\":9007199254740991,\"big\":9007199254740992,"
		      "\"min\":-9007199254740991,\"small\":-9007199254740992,\"huge\":1e400,"
		      "\"neg\":-5,\"mz\":-0}",
		&root, &flags),
	    0);
	ck_assert_int_eq(json_get_int(root, "one", 0, 10, &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(json_get_int(root, "onef", 0, 10, &v), 0);
	ck_assert_int_eq(json_get_int(root, "onee", 0, 10, &v), 0);
	ck_assert_int_eq(v, 1);
	v = 42;
	ck_assert_int_eq(json_get_int(root, "half", 0, 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_int(root, "s", 0, 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_int(root, "nope", 0, 10, &v), SG_ERR_NOT_FOUND);
	ck_assert_int_eq(json_get_int(root, "one", 2, 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_int(root, "one", -10, 0, &v), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_int(root, "one", 1, 1, &v), 0);
	ck_assert_int_eq(json_get_int(root, "max", INT64_MIN, INT64_MAX, &v), 0);
	ck_assert_int_eq(v, INT64_C(9007199254740991));
	ck_assert_int_eq(json_get_int(root, "big", INT64_MIN, INT64_MAX, &v), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_int(root, "min", INT64_MIN, INT64_MAX, &v), 0);
	ck_assert_int_eq(v, -INT64_C(9007199254740991));
	ck_assert_int_eq(json_get_int(root, "small", INT64_MIN, INT64_MAX, &v), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_int(root, "huge", INT64_MIN, INT64_MAX, &v), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_int(root, "neg", 0, 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(json_get_int(root, "neg", -5, 10, &v), 0);
	ck_assert_int_eq(v, -5);
	ck_assert_int_eq(json_get_int(root, "mz", 0, 0, &v), 0);
	ck_assert_int_eq(v, 0);
	cJSON_Delete(root);
}
END_TEST

START_TEST(test_print_and_add)
{
	cJSON *o = cJSON_CreateObject(), *back = NULL;
	char *s = NULL;
	size_t len = 0;
	unsigned flags;
	int64_t v;

	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_add_int(o, "max", INT64_C(9007199254740991)), 0);
	ck_assert_int_eq(json_add_int(o, "min", -INT64_C(9007199254740991)), 0);
	ck_assert_int_eq(json_add_int(o, "e15", INT64_C(1000000000000000)), 0);
	ck_assert_int_eq(
	    json_add_int(o, "big", INT64_C(9007199254740992)), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    json_add_int(o, "small", -INT64_C(9007199254740992)), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(json_add_string(o, "s", "a\"b\\c\n\x01\xc3\xa9"), 0);
	ck_assert_int_eq(json_add_string(o, "n", NULL), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(json_print(o, &s, &len), 0);
	ck_assert_str_eq(s,
	    "{\"max\":9007199254740991,\"min\":-9007199254740991,"
	    "\"e15\":1000000000000000,\"s\":\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"}");
	ck_assert_uint_eq(len, strlen(s));

	ck_assert_int_eq(json_parse(s, len, &back, &flags), 0);
	ck_assert_uint_eq(flags, JSON_F_CONTROL);
	ck_assert_int_eq(json_get_int(back, "max", INT64_MIN, INT64_MAX, &v), 0);
	ck_assert_int_eq(v, INT64_C(9007199254740991));
	ck_assert_int_eq(json_get_int(back, "e15", INT64_MIN, INT64_MAX, &v), 0);
	ck_assert_int_eq(v, INT64_C(1000000000000000));
	ck_assert_str_eq(json_get(back, "s")->valuestring, "a\"b\\c\n\x01\xc3\xa9");
	cJSON_Delete(back);
	free(s);
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_utf8_helpers)
{
	ck_assert_int_eq(json_check_utf8("", 0), 0);
	ck_assert_int_eq(json_check_utf8("abc\xc3\xa9", 5), 0);
	ck_assert_int_eq(json_check_utf8("a\0b", 3), 0);
	ck_assert_int_eq(json_check_utf8("\xc3", 1), SG_ERR_PARSE);
	ck_assert_int_eq(json_check_utf8("\xed\xa0\x80", 3), SG_ERR_PARSE);
	ck_assert_int_eq(json_check_utf8("\xf4\x90\x80\x80", 4), SG_ERR_PARSE);
	ck_assert_int_eq(json_check_utf8("\xe2\x82\xac", 2), SG_ERR_PARSE);

	ck_assert_int_eq(json_text_ok("", 0), 1);
	ck_assert_int_eq(json_text_ok("plain text \xc2\xa0 \xc3\xa9", 16), 1);
	ck_assert_int_eq(json_text_ok("a\0b", 3), 0);
	ck_assert_int_eq(json_text_ok("a\tb", 3), 0);
	ck_assert_int_eq(json_text_ok("a\x1f", 2), 0);
	ck_assert_int_eq(json_text_ok("a\x7f", 2), 0);
	ck_assert_int_eq(json_text_ok("a\xc2\x80", 3), 0);
	ck_assert_int_eq(json_text_ok("a\xc2\x9b", 3), 0);
	ck_assert_int_eq(json_text_ok("a\xc2\x9f", 3), 0);
	ck_assert_int_eq(json_text_ok("a\xff", 2), 0);
	ck_assert_int_eq(json_text_ok(NULL, 0), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("json");

	test_add(s, "/json/parse/accepts-values", test_accepts_values, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/rejects-grammar", test_refuses_grammar, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/rejects-nul-bytes", test_refuses_trailing_nul, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/rejects-raw-control", test_refuses_raw_control, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/utf8-valid", test_utf8_valid, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/utf8-invalid", test_utf8_invalid, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/surrogate-escapes", test_escapes_surrogates, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/flags", test_flags, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/duplicates-many", test_duplicates_many, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/depth-arrays", test_depth_arrays, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/depth-objects", test_depth_objects, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/depth-hostile", test_depth_hostile, TEST_TIMEOUT_S);
	test_add(s, "/json/parse/length-bounded", test_length_bounded, TEST_TIMEOUT_S);
	test_add(s, "/json/check-members", test_check_members, TEST_TIMEOUT_S);
	test_add(s, "/json/get/typed", test_getters, TEST_TIMEOUT_S);
	test_add(s, "/json/get/int", test_get_int, TEST_TIMEOUT_S);
	test_add(s, "/json/print/add-round-trip", test_print_and_add, TEST_TIMEOUT_S);
	test_add(s, "/json/utf8-helpers", test_utf8_helpers, TEST_TIMEOUT_S);

	return test_run(s);
}
