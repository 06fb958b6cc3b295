/*
 * test_idset.c — the set of job ids bound for good (agent/idset.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "idset.h"
#include "job.h"
#include "testlib.h"
#include "util.h"

#define SHA_A      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
/* Differs from SHA_A only after the 16 bytes that are kept: the same job. */
#define SHA_A_TAIL "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"

/* Made by main(); the tests' files are unlinked when made. */
static char *tmpdir;

static void
make_id(unsigned n, char out[JOB_ID_LEN + 1])
{
	snprintf(out, JOB_ID_LEN + 1, "%032x", n);
}

/* A job hash that differs for every n, in its first bytes. */
static void
make_sha(unsigned n, char out[SHA256_HEX_LEN + 1])
{
	snprintf(out, SHA256_HEX_LEN + 1, "%08x%056x", n, 0u);
}

static enum idset_bound
bind_n(struct idset *s, unsigned id, unsigned sha)
{
	char i[JOB_ID_LEN + 1], h[SHA256_HEX_LEN + 1];
	enum idset_bound b = IDSET_NEW;

	make_id(id, i);
	make_sha(sha, h);
	ck_assert_int_eq(idset_bind(s, i, h, "ci-fw", IDSET_INTENT, &b), 0);
	return b;
}

START_TEST(test_bind_first_stays)
{
	struct idset *s = NULL;
	enum idset_bound b = IDSET_NEW;
	char id[JOB_ID_LEN + 1];

	ck_assert_int_eq(idset_new(tmpdir, &s), 0);
	make_id(1, id);
	ck_assert_int_eq(idset_bind(s, id, SHA_A, "ci-fw", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_NEW);
	ck_assert_int_eq(idset_bind(s, id, SHA_A, "ci-fw", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_SAME);
	/* Another job under the id: refused, from anyone, and the first
	 * binding stays. */
	ck_assert_int_eq(idset_bind(s, id, SHA_B, "ci-fw", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_OTHER);
	ck_assert_int_eq(idset_bind(s, id, SHA_B, "someone-else", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_OTHER);
	ck_assert_int_eq(idset_bind(s, id, SHA_B, "ci-fw", IDSET_REJECTED, &b), 0);
	ck_assert_int_eq(b, IDSET_OTHER);
	ck_assert_int_eq(idset_bind(s, id, SHA_A, "ci-fw", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_SAME);
	/* 16 bytes of the job's hash are kept: 128 bits tell jobs apart. */
	ck_assert_int_eq(idset_bind(s, id, SHA_A_TAIL, "ci-fw", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_SAME);
	ck_assert_uint_eq(idset_count(s), 1);
	idset_free(s);
}
END_TEST

/* A rejection binds the id for its submitter only: another submitter
 * (one whose job the agent refuses, say) cannot spend ids it copied. */
START_TEST(test_rejection_binds_its_submitter)
{
	struct idset *s = NULL;
	enum idset_bound b = IDSET_NEW;
	char id[JOB_ID_LEN + 1];

	ck_assert_int_eq(idset_new(tmpdir, &s), 0);
	make_id(2, id);
	ck_assert_int_eq(idset_bind(s, id, SHA_A, "limited", IDSET_REJECTED, &b), 0);
	ck_assert_int_eq(b, IDSET_NEW);
	/* The same submitter again: its same job is, another is not. */
	ck_assert_int_eq(idset_bind(s, id, SHA_A, "limited", IDSET_REJECTED, &b), 0);
	ck_assert_int_eq(b, IDSET_SAME);
	ck_assert_int_eq(idset_bind(s, id, SHA_B, "limited", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_OTHER);
	ck_assert_int_eq(idset_bind(s, id, SHA_B, "limited", IDSET_REJECTED, &b), 0);
	ck_assert_int_eq(b, IDSET_OTHER);
	/* Another submitter's job is free to go, and its intent binds the id
	 * for everyone from then on. */
	ck_assert_int_eq(idset_bind(s, id, SHA_B, "ci-fw", IDSET_REJECTED, &b), 0);
	ck_assert_int_eq(b, IDSET_NEW);
	ck_assert_int_eq(idset_bind(s, id, SHA_B, "ci-fw", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_NEW);
	ck_assert_int_eq(idset_bind(s, id, SHA_A, "limited", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_OTHER);
	ck_assert_int_eq(idset_bind(s, id, SHA_B, "ci-fw", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_SAME);
	/* A rejected job signed later (its intent) keeps the id for it. */
	make_id(3, id);
	ck_assert_int_eq(idset_bind(s, id, SHA_A, "ci-fw", IDSET_REJECTED, &b), 0);
	ck_assert_int_eq(idset_bind(s, id, SHA_A, "ci-fw", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_SAME);
	ck_assert_int_eq(idset_bind(s, id, SHA_B, "other", IDSET_INTENT, &b), 0);
	ck_assert_int_eq(b, IDSET_OTHER);
	ck_assert_uint_eq(idset_count(s), 2);
	idset_free(s);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct idset *s = NULL;
	enum idset_bound b = IDSET_OTHER;
	const char *zero = "00000000000000000000000000000000";

	ck_assert_int_eq(idset_new(tmpdir, &s), 0);
	ck_assert_int_eq(
	    idset_bind(s, "0000000000000000000000000000000A", SHA_A, "x", IDSET_INTENT, &b),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    idset_bind(s, "00", SHA_A, "x", IDSET_INTENT, &b), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    idset_bind(s, "000000000000000000000000000000000", SHA_A, "x", IDSET_INTENT, &b),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(idset_bind(s, zero, "ab", "x", IDSET_INTENT, &b), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(idset_bind(s, zero, NULL, "x", IDSET_INTENT, &b), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    idset_bind(s, zero, SHA_A, NULL, IDSET_INTENT, &b), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    idset_bind(s, zero, SHA_A, "x", (enum idset_kind)7, &b), SG_ERR_INVALID_ARGUMENT);
	/* Outputs untouched on failure, nothing bound. */
	ck_assert_int_eq(b, IDSET_OTHER);
	ck_assert_uint_eq(idset_count(s), 0);
	idset_free(s);
	idset_free(NULL);
}
END_TEST

START_TEST(test_many_through_growth)
{
	struct idset *s = NULL;
	unsigned i;

	ck_assert_int_eq(idset_new(tmpdir, &s), 0);
	for (i = 0; i < 100000; i++)
		ck_assert_int_eq(bind_n(s, i, i), IDSET_NEW);
	ck_assert_uint_eq(idset_count(s), 100000);
	for (i = 0; i < 100000; i += 7) {
		ck_assert_int_eq(bind_n(s, i, i), IDSET_SAME);
		ck_assert_int_eq(bind_n(s, i, i + 1), IDSET_OTHER);
	}
	ck_assert_int_eq(bind_n(s, 100000, 0), IDSET_NEW);
	ck_assert_uint_eq(idset_count(s), 100001);
	idset_free(s);
}
END_TEST

/* The buckets live in a file, not in the agent's memory: 300 000 ids (a
 * 32 MiB file) leave the resident set within 1 MiB.  Prints the cost. */
START_TEST(test_memory_flat)
{
	struct idset *s = NULL;
	struct timespec t0, t1;
	long before, after;
	unsigned i;

	ck_assert_int_eq(idset_new(tmpdir, &s), 0);
	for (i = 0; i < 1000; i++)
		(void)bind_n(s, i, i);
	before = rss_kb();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 1000; i < 300000; i++)
		(void)bind_n(s, i, i);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	after = rss_kb();
	ck_assert_uint_eq(idset_count(s), 300000);
	ck_assert_int_gt(before, 0);
	fprintf(stderr,
	    "idset: 299000 binds in %.0f ms (%.2f us each, growth included); "
	    "RSS %ld -> %ld kB\n",
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
		299000.0,
	    before, after);
	if (RSS_MEANINGFUL)
		ck_assert_msg(after - before <= 1024, "RSS grew from %ld to %ld kB", before, after);
	idset_free(s);
}
END_TEST

/* No set without a directory to put its file in. */
START_TEST(test_no_dir)
{
	struct idset *s = NULL;

	ck_assert_int_eq(idset_new("/nonexistent/signet", &s), SG_ERR_SYSTEM);
	ck_assert_ptr_null(s);
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("idset");
	TCase *tc = test_case(su, "/idset", 60);
	int status;

	tcase_add_test(tc, test_bind_first_stays);
	tcase_add_test(tc, test_rejection_binds_its_submitter);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_many_through_growth);
	tcase_add_test(tc, test_memory_flat);
	tcase_add_test(tc, test_no_dir);
	if ((tmpdir = tmpdir_new(NULL, "test_idset")) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	status = test_run(su);
	(void)tmpdir_free(tmpdir);
	return status;
}
