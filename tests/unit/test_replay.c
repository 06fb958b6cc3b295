/*
 * test_replay.c — the table of signed job ids (agent/replay.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay.h"
#include "sgtime.h"
#include "testlib.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Made by main(); the tests' files are unlinked when made. */
static char *tmpdir;

static void
make_id(unsigned n, char out[JOB_ID_LEN + 1])
{
	snprintf(out, JOB_ID_LEN + 1, "%032x", n);
}

/* Marks ids from..to-1 signed with key "release". */
static void
mark_signed_range(struct replay *rp, unsigned from, unsigned to, int64_t expires)
{
	char id[JOB_ID_LEN + 1];

	for (; from < to; from++) {
		make_id(from, id);
		ck_assert_int_eq(replay_mark_signed(rp, id, SHA_A, "release", expires), 0);
	}
}

/* Claims id n and checks the state it reports. */
static void
expect_claim(struct replay *rp, unsigned n, enum replay_state want)
{
	char id[JOB_ID_LEN + 1], sha[SHA256_HEX_LEN + 1], key[JOB_KEY_MAX + 1];
	enum replay_state st;

	make_id(n, id);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	ck_assert_int_eq(st, want);
}

START_TEST(test_claim_sign_replay)
{
	struct replay *rp = NULL;
	enum replay_state st;
	char id[JOB_ID_LEN + 1], sha[SHA256_HEX_LEN + 1], key[JOB_KEY_MAX + 1];

	ck_assert_int_eq(replay_new(tmpdir, &rp), 0);
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

	ck_assert_int_eq(replay_new(tmpdir, &rp), 0);
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

/* An interrupted intent taken over for a retry: the id is the caller's
 * (claims wait), a retry that asked nothing leaves it interrupted, one
 * that signed leaves it signed; only the same job may retry. */
START_TEST(test_retry)
{
	struct replay *rp = NULL;
	enum replay_state st;
	char id[JOB_ID_LEN + 1], sha[SHA256_HEX_LEN + 1], key[JOB_KEY_MAX + 1];
	int64_t exp = sgtime_now() + 60;

	ck_assert_int_eq(replay_new(tmpdir, &rp), 0);
	make_id(9, id);
	ck_assert_int_eq(replay_mark_intent(rp, id, SHA_A, "release", exp), 0);
	ck_assert_int_eq(replay_retry(rp, id, SHA_B), SG_ERR_EXISTS);
	ck_assert_int_eq(replay_retry(rp, id, SHA_A), 0);
	ck_assert_int_eq(replay_retry(rp, id, SHA_A), SG_ERR_EXISTS); /* taken */
	replay_retry_end(rp, id);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	ck_assert_int_eq(st, REPLAY_INTERRUPTED);
	ck_assert_str_eq(sha, SHA_A);
	ck_assert_int_eq(replay_retry(rp, id, SHA_A), 0);
	replay_done(rp, id, 1, SHA_A, "release", exp);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	ck_assert_int_eq(st, REPLAY_SIGNED);
	ck_assert_int_eq(replay_retry(rp, id, SHA_A), SG_ERR_EXISTS);
	ck_assert_int_eq(replay_retry(rp, "zz", SHA_A), SG_ERR_INVALID_ARGUMENT);
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

	ck_assert_int_eq(replay_new(tmpdir, &rp), 0);
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
	ck_assert_int_eq(replay_new(tmpdir, &rp), 0);
	for (i = 0; i < 20000; i++) {
		make_id(i, id);
		ck_assert_int_eq(replay_mark_signed(rp, id, SHA_A, "release", now - 3600), 0);
	}
	ck_assert_uint_lt(replay_count(rp), 1024);
	replay_free(rp);
}
END_TEST

/* Claims in progress, interrupted intents and released ids keep their
 * state through the rehashes that growth makes. */
START_TEST(test_states_survive_growth)
{
	struct replay *rp = NULL;
	enum replay_state st;
	char id[JOB_ID_LEN + 1], sha[SHA256_HEX_LEN + 1], key[JOB_KEY_MAX + 1];
	int64_t now = sgtime_now();

	ck_assert_int_eq(replay_new(tmpdir, &rp), 0);
	expect_claim(rp, 100001, REPLAY_CLAIMED); /* busy */
	make_id(100002, id);
	ck_assert_int_eq(replay_mark_intent(rp, id, SHA_B, "release", now + 600), 0);
	make_id(100003, id);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	replay_done(rp, id, 0, NULL, NULL, 0); /* released */
	mark_signed_range(rp, 0, 5000, now + 600);
	make_id(100001, id);
	replay_done(rp, id, 1, SHA_B, "release-rsa", now + 600);
	ck_assert_int_eq(replay_claim(rp, id, &st, sha, key), 0);
	ck_assert_int_eq(st, REPLAY_SIGNED);
	ck_assert_str_eq(sha, SHA_B);
	ck_assert_str_eq(key, "release-rsa");
	expect_claim(rp, 100002, REPLAY_INTERRUPTED);
	expect_claim(rp, 100003, REPLAY_CLAIMED);
	expect_claim(rp, 4999, REPLAY_SIGNED);
	replay_free(rp);
}
END_TEST

/* The slots live in a file, not in the agent's memory: 200 000 live ids
 * (a 512k-slot, 32 MiB table) leave the resident set within 2 MiB. */
START_TEST(test_memory_flat)
{
	struct replay *rp = NULL;
	int64_t now = sgtime_now();
	long before, after;

	ck_assert_int_eq(replay_new(tmpdir, &rp), 0);
	mark_signed_range(rp, 0, 1000, now + 600);
	before = rss_kb();
	mark_signed_range(rp, 1000, 200000, now + 600);
	after = rss_kb();
	ck_assert_uint_eq(replay_count(rp), 200000);
	ck_assert_int_gt(before, 0);
	if (RSS_MEANINGFUL)
		ck_assert_msg(after - before <= 2048, "RSS grew from %ld to %ld kB", before, after);
	replay_free(rp);
}
END_TEST

/* No table without a directory to put its file in. */
START_TEST(test_no_dir)
{
	struct replay *rp = NULL;

	ck_assert_int_eq(replay_new("/nonexistent/signet", &rp), SG_ERR_SYSTEM);
	ck_assert_ptr_null(rp);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = test_case(s, "/replay", 60);
	int status;

	tcase_add_test(tc, test_claim_sign_replay);
	tcase_add_test(tc, test_interrupted);
	tcase_add_test(tc, test_retry);
	tcase_add_test(tc, test_many_and_expiry);
	tcase_add_test(tc, test_states_survive_growth);
	tcase_add_test(tc, test_memory_flat);
	tcase_add_test(tc, test_no_dir);
	if ((tmpdir = tmpdir_new(NULL, "test_replay")) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	status = test_run(s);
	(void)tmpdir_free(tmpdir);
	return status;
}
