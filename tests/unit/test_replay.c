/*
 * test_replay.c — the table of signed job ids (agent/replay.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "sgtime.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void
make_id(unsigned n, char out[JOB_ID_LEN + 1])
{
	snprintf(out, JOB_ID_LEN + 1, "%032x", n);
}

START_TEST(test_claim_sign_replay)
{
	struct replay *rp = NULL;
	enum replay_state st;
	char id[JOB_ID_LEN + 1], sha[SHA256_HEX_LEN + 1], key[JOB_KEY_MAX + 1];

	ck_assert_int_eq(replay_new(&rp), 0);
	make_id(1, id);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	ck_assert_int_eq(st, REPLAY_CLAIMED);
	replay_done(rp, id, 1, SHA_A, "release", sgtime_now() + 600);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	ck_assert_int_eq(st, REPLAY_SIGNED);
	ck_assert_str_eq(sha, SHA_A);
	ck_assert_str_eq(key, "release");
	/* Released without a signature: the id can be claimed again. */
	make_id(2, id);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	replay_done(rp, id, 0, NULL, NULL, 0);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	ck_assert_int_eq(st, REPLAY_CLAIMED);
	ck_assert_uint_eq(replay_count(rp), 2);
	/* Ids that are not 32 lowercase hex characters are refused. */
	ck_assert_int_eq(replay_claim(rp, "0000000000000000000000000000000A", &st, sha, key),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(replay_claim(rp, "00", &st, sha, key), SG_ERR_INVALID_ARGUMENT);
	replay_free(rp);
}
END_TEST

START_TEST(test_interrupted)
{
	struct replay *rp = NULL;
	enum replay_state st;
	char id[JOB_ID_LEN + 1], sha[SHA256_HEX_LEN + 1], key[JOB_KEY_MAX + 1];

	ck_assert_int_eq(replay_new(&rp), 0);
	make_id(7, id);
	ck_assert_int_eq(replay_mark_intent(rp, id, SHA_A, "release-rsa", sgtime_now() + 60), 0);
	/* Another job's outcome under the id does not end the intent. */
	replay_mark_free(rp, id, SHA_B);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	ck_assert_int_eq(st, REPLAY_INTERRUPTED);
	ck_assert_str_eq(key, "release-rsa");
	replay_mark_free(rp, id, SHA_A);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	ck_assert_int_eq(st, REPLAY_CLAIMED);
	replay_free(rp);
}
END_TEST

START_TEST(test_many_and_expiry)
{
	struct replay *rp = NULL;
	enum replay_state st;
	char id[JOB_ID_LEN + 1], sha[SHA256_HEX_LEN + 1], key[JOB_KEY_MAX + 1], name[16];
	int64_t now = sgtime_now();
	unsigned i;

	ck_assert_int_eq(replay_new(&rp), 0);
	/* 20000 ids over 300 key names: all remembered, each with its key. */
	for (i = 0; i < 20000; i++) {
		make_id(i, id);
		snprintf(name, sizeof(name), "k%u", i % 300);
		ck_assert_int_eq(replay_mark_signed(rp, id, SHA_A, name, now + 600), 0);
	}
	ck_assert_uint_eq(replay_count(rp), 20000);
	for (i = 0; i < 20000; i += 997) {
		make_id(i, id);
		snprintf(name, sizeof(name), "k%u", i % 300);
		ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
		ck_assert_int_eq(st, REPLAY_SIGNED);
		ck_assert_str_eq(key, name);
	}
	replay_free(rp);
	/* Expired jobs are forgotten when the table needs room. */
	ck_assert_int_eq(replay_new(&rp), 0);
	for (i = 0; i < 20000; i++) {
		make_id(i, id);
		ck_assert_int_eq(replay_mark_signed(rp, id, SHA_A, "release", now - 3600), 0);
	}
	ck_assert_uint_lt(replay_count(rp), 1024);
	replay_free(rp);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("/replay");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_claim_sign_replay);
	tcase_add_test(tc, test_interrupted);
	tcase_add_test(tc, test_many_and_expiry);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
