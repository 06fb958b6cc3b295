/*
 * test_attempts.c — the agent's own count of attempts per stream entry
 * (agent/attempts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempts.h"
#include "testlib.h"

static void
entry(unsigned long long ms, unsigned long long seq, char out[48])
{
	snprintf(out, 48, "%llu-%llu", ms, seq);
}

START_TEST(test_begin_get_end)
{
	struct attempts *a = attempts_new();

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(attempts_get(a, "1700000000000-0"), 0);
	ck_assert_uint_eq(attempts_begin(a, "1700000000000-0"), 1);
	ck_assert_uint_eq(attempts_begin(a, "1700000000000-0"), 2);
	ck_assert_uint_eq(attempts_begin(a, "1700000000000-1"), 1);
	ck_assert_uint_eq(attempts_get(a, "1700000000000-0"), 2);
	attempts_end(a, "1700000000000-0");
	ck_assert_uint_eq(attempts_get(a, "1700000000000-0"), 0);
	ck_assert_uint_eq(attempts_get(a, "1700000000000-1"), 1);
	attempts_end(a, "1700000000000-0"); /* not there: nothing */
	ck_assert_uint_eq(attempts_get(a, "1700000000000-1"), 1);
	attempts_free(a);
	attempts_free(NULL);
}
END_TEST

/* Only stream ids count: anything else is never remembered. */
START_TEST(test_not_entry_ids)
{
	static const char *const bad[] = {
		"",
		"-",
		"1-",
		"-1",
		"01-1",
		"1-01",
		"1-2-3",
		"a-1",
		"1 -1",
		"+1-1",
		"18446744073709551616-0",
		"1-18446744073709551616",
		"1111111111111111111111111111111111111111111111111111111111111111111111-1",
	};
	struct attempts *a = attempts_new();
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_uint_eq(attempts_begin(a, bad[i]), 0);
		ck_assert_uint_eq(attempts_get(a, bad[i]), 0);
		attempts_end(a, bad[i]);
	}
	ck_assert_uint_eq(attempts_begin(a, NULL), 0);
	ck_assert_uint_eq(attempts_begin(a, "18446744073709551615-18446744073709551615"), 1);
	ck_assert_uint_eq(attempts_begin(a, "0-0"), 1);
	attempts_free(a);
}
END_TEST

/* Past ATTEMPTS_ENTRIES_MAX, the entry begun longest ago is forgotten;
 * one begun again recently is kept. */
START_TEST(test_bounded)
{
	struct attempts *a = attempts_new();
	char id[48];
	unsigned i;

	for (i = 0; i < ATTEMPTS_ENTRIES_MAX; i++) {
		entry(1000, i, id);
		ck_assert_uint_eq(attempts_begin(a, id), 1);
	}
	entry(1000, 0, id);
	ck_assert_uint_eq(attempts_begin(a, id), 2); /* now the most recent */
	for (i = 0; i < 10; i++) {
		entry(2000, i, id);
		ck_assert_uint_eq(attempts_begin(a, id), 1);
	}
	entry(1000, 0, id);
	ck_assert_uint_eq(attempts_get(a, id), 2);
	for (i = 1; i <= 10; i++) {
		entry(1000, i, id);
		ck_assert_uint_eq(attempts_get(a, id), 0);
	}
	entry(1000, 11, id);
	ck_assert_uint_eq(attempts_get(a, id), 1);
	attempts_free(a);
}
END_TEST

/* Many begins and ends in a random order against a plain array: deletion
 * keeps every other entry reachable, ids aimed at one slot included. */
START_TEST(test_against_model)
{
	enum { N = ATTEMPTS_ENTRIES_MAX * 3 / 4 };
	static unsigned model[N];
	struct attempts *a = attempts_new();
	char id[48];
	unsigned i, k, step;

	srand(12345);
	memset(model, 0, sizeof(model));
	for (step = 0; step < 200000; step++) {
		k = (unsigned)rand() % N;
		/* Half the ids share their ms part, half their seq part. */
		if (k % 2)
			entry(7, k, id);
		else
			entry(k, 7, id);
		if (rand() % 3 == 0) {
			attempts_end(a, id);
			model[k] = 0;
		} else {
			ck_assert_uint_eq(attempts_begin(a, id), ++model[k]);
		}
		if (step % 997 == 0) {
			for (i = 0; i < N; i++) {
				if (i % 2)
					entry(7, i, id);
				else
					entry(i, 7, id);
				ck_assert_uint_eq(attempts_get(a, id), model[i]);
			}
		}
	}
	attempts_free(a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("attempts");
	TCase *tc = test_case(s, "/attempts", 60);

	tcase_add_test(tc, test_begin_get_end);
	tcase_add_test(tc, test_not_entry_ids);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_against_model);
	return test_run(s);
}
