/*
 * test_sgtime.c — the one timestamp form: parse, format, round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgtime.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */
#define UNTOUCHED      INT64_C(-424242)

static void
assert_refused(const char *s)
{
	int64_t t = UNTOUCHED;

	ck_assert_msg(sgtime_parse(s, &t) == SG_ERR_PARSE, "accepted \"%s\"", s);
	ck_assert_int_eq(t, UNTOUCHED);
}

static int64_t
parse_ok(const char *s)
{
	int64_t t = UNTOUCHED;

	ck_assert_msg(sgtime_parse(s, &t) == 0, "refused \"%s\"", s);
	return t;
}

/* Values from `date -u -d ... +%s`. */
static const struct {
	const char *s;
	int64_t t;
} known[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "1970-01-01T00:00:01Z", 1 },
	{ "1970-01-02T00:00:00Z", 86400 },
	{ "2000-02-29T12:34:56Z", 951827696 },
	{ "2000-03-01T00:00:00Z", 951868800 },
	{ "2024-02-29T23:59:59Z", 1709251199 },
	{ "2026-11-26T16:00:00Z", 1795708800 },
	{ "2038-01-19T03:14:08Z", INT64_C(2147483648) },
	{ "2100-03-01T00:00:00Z", INT64_C(4107542400) },
	{ "9999-12-31T23:59:59Z", INT64_C(253402300799) },
};

START_TEST(test_known_values)
{
	size_t i;

	for (i = 0; i < nitems(known); i++)
		ck_assert_int_eq(parse_ok(known[i].s), known[i].t);
}
END_TEST

START_TEST(test_format_known_values)
{
	char out[SGTIME_LEN + 1];
	size_t i;

	for (i = 0; i < nitems(known); i++) {
		memset(out, 'x', sizeof(out));
		sgtime_format(known[i].t, out);
		ck_assert_str_eq(out, known[i].s);
	}
}
END_TEST

START_TEST(test_format_clamps)
{
	char out[SGTIME_LEN + 1];

	sgtime_format(-1, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
	sgtime_format(INT64_MIN, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
	sgtime_format(INT64_C(253402300800), out);
	ck_assert_str_eq(out, "9999-12-31T23:59:59Z");
	sgtime_format(INT64_MAX, out);
	ck_assert_str_eq(out, "9999-12-31T23:59:59Z");
}
END_TEST

/*
 * Every day from 1970 to 2400 (a whole 400-year cycle) round trips, and the
 * text agrees with libc's gmtime_r (an independent oracle; the test may use
 * it, the library does its own arithmetic).
 */
START_TEST(test_round_trip_days)
{
	char out[SGTIME_LEN + 1], want[SGTIME_LEN + 1];
	struct tm tm;
	time_t tt;
	int64_t t;

	for (t = 0; t < INT64_C(13569465600); t += 86400 + 3661) {
		sgtime_format(t, out);
		ck_assert_int_eq(parse_ok(out), t);
		tt = (time_t)t;
		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		ck_assert_uint_eq(
		    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm), SGTIME_LEN);
		ck_assert_str_eq(out, want);
	}
}
END_TEST

START_TEST(test_leap_years)
{
	ck_assert_int_eq(
	    parse_ok("2024-02-29T00:00:00Z") + 86400, parse_ok("2024-03-01T00:00:00Z"));
	ck_assert_int_eq(
	    parse_ok("2000-02-29T00:00:00Z") + 86400, parse_ok("2000-03-01T00:00:00Z"));
	assert_refused("2023-02-29T00:00:00Z");
	assert_refused("2100-02-29T00:00:00Z"); /* divisible by 100 */
	assert_refused("1900-02-29T00:00:00Z");
	assert_refused("2024-02-30T00:00:00Z");
	ck_assert_int_eq(
	    parse_ok("2023-02-28T00:00:00Z") + 86400, parse_ok("2023-03-01T00:00:00Z"));
}
END_TEST

START_TEST(test_month_lengths)
{
	static const char *const last_ok[] = {
		"2025-01-31T00:00:00Z",
		"2025-03-31T00:00:00Z",
		"2025-04-30T00:00:00Z",
		"2025-05-31T00:00:00Z",
		"2025-06-30T00:00:00Z",
		"2025-07-31T00:00:00Z",
		"2025-08-31T00:00:00Z",
		"2025-09-30T00:00:00Z",
		"2025-10-31T00:00:00Z",
		"2025-11-30T00:00:00Z",
		"2025-12-31T00:00:00Z",
	};
	static const char *const one_past[] = {
		"2025-01-32T00:00:00Z",
		"2025-03-32T00:00:00Z",
		"2025-04-31T00:00:00Z",
		"2025-05-32T00:00:00Z",
		"2025-06-31T00:00:00Z",
		"2025-07-32T00:00:00Z",
		"2025-08-32T00:00:00Z",
		"2025-09-31T00:00:00Z",
		"2025-10-32T00:00:00Z",
		"2025-11-31T00:00:00Z",
		"2025-12-32T00:00:00Z",
	};
	size_t i;

	for (i = 0; i < nitems(last_ok); i++) {
		parse_ok(last_ok[i]);
		assert_refused(one_past[i]);
	}
}
END_TEST

START_TEST(test_field_ranges)
{
	parse_ok("2025-06-15T23:59:59Z");
	assert_refused("2025-00-15T00:00:00Z");
	assert_refused("2025-13-15T00:00:00Z");
	assert_refused("2025-06-00T00:00:00Z");
	assert_refused("2025-06-15T24:00:00Z");
	assert_refused("2025-06-15T00:60:00Z");
	assert_refused("2025-06-15T00:00:60Z"); /* no leap second */
	assert_refused("2016-12-31T23:59:60Z");
	assert_refused("2025-06-15T00:00:99Z");
}
END_TEST

START_TEST(test_year_range)
{
	ck_assert_int_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_refused("1969-12-31T23:59:59Z");
	assert_refused("0000-01-01T00:00:00Z");
	parse_ok("9999-12-31T23:59:59Z");
}
END_TEST

START_TEST(test_refuses_other_forms)
{
	assert_refused("2026-11-26T16:00:00z");      /* lowercase z */
	assert_refused("2026-11-26t16:00:00Z");      /* lowercase t */
	assert_refused("2026-11-26 16:00:00Z");      /* space separator */
	assert_refused("2026-11-26T16:00:00+00:00"); /* offset */
	assert_refused("2026-11-26T16:00:00-01:00");
	assert_refused("2026-11-26T16:00:00.5Z"); /* fraction */
	assert_refused("2026-11-26T16:00:00.000Z");
	assert_refused("2026-11-26T16:00:00"); /* no zone */
	assert_refused("2026-11-26");
	assert_refused("2026/11/26T16:00:00Z");
	assert_refused("2026-11-26T16-00-00Z");
	assert_refused("+026-11-26T16:00:00Z");
	assert_refused("2026-+1-26T16:00:00Z");
	assert_refused("2026-11-2 T16:00:00Z");
	assert_refused("2026-1a-26T16:00:00Z");
	assert_refused("20261126T160000Z");
}
END_TEST

START_TEST(test_length_edges)
{
	assert_refused("");
	assert_refused("2026-11-26T16:00:00");   /* 19 */
	assert_refused("2026-11-26T16:00:00ZZ"); /* 21 */
	assert_refused("2026-11-26T16:00:00Z ");
	assert_refused(" 2026-11-26T16:00:00Z");
	assert_refused("2026-11-26T16:00:00Z\n");
	assert_refused(NULL);
	parse_ok("2026-11-26T16:00:00Z"); /* 20 */
}
END_TEST

START_TEST(test_now_and_mono)
{
	int64_t a, b, now;

	now = sgtime_now();
	/* After this test was written, before the format runs out. */
	ck_assert_int_gt(now, parse_ok("2025-01-01T00:00:00Z"));
	ck_assert_int_lt(now, parse_ok("9999-01-01T00:00:00Z"));
	a = sgtime_mono_ms();
	b = sgtime_mono_ms();
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sgtime");

	test_add(s, "/sgtime/parse/known-values", test_known_values, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/format/known-values", test_format_known_values, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/format/clamps", test_format_clamps, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/round-trip/days", test_round_trip_days, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/parse/leap-years", test_leap_years, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/parse/month-lengths", test_month_lengths, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/parse/field-ranges", test_field_ranges, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/parse/year-range", test_year_range, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/parse/rejects-other-forms", test_refuses_other_forms, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/parse/length-edges", test_length_edges, TEST_TIMEOUT_S);
	test_add(s, "/sgtime/now-and-mono", test_now_and_mono, TEST_TIMEOUT_S);

	return test_run(s);
}
