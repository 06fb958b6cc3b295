/*
 * test_approvals.c — approve_outcome() and its helpers (submitter/approvals.c):
 * what the agent made of an approver's decision, from two results.
 */
#include <check.h>
#include <string.h>

#include "client.h"
#include "testlib.h"

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT

#define KEYID_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEYID_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char alice[] = "alice", bob[] = "bob", why1[] = "not an approver of key release",
	    why2[] = "the job's submitter", denied_code[] = "approval.denied",
	    expired_code[] = "approval.expired";

/* A pending result that requires two approvals, with none yet. */
static void
pending(struct sg_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = SG_STATUS_PENDING;
	r->has_approvals = 1;
	r->approvals_required = 2;
}

static void
add_approval(struct sg_result *r, char *approver, const char *keyid)
{
	struct sg_result_approval *a = &r->approvals[r->napprovals++];

	a->approver = approver;
	strcpy(a->keyid, keyid);
	a->at = 1000;
}

static void
add_refusal(struct sg_result *r, const char *keyid, char *why, int64_t at)
{
	struct sg_result_refusal *f = &r->refused[r->nrefused++];

	strcpy(f->keyid, keyid);
	f->approver = alice;
	f->why = why;
	f->at = at;
}

START_TEST(test_pending_unchanged_waits)
{
	struct sg_result before, now;

	pending(&before);
	pending(&now);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_APPROVE, NULL), APPROVE_WAITING);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_DENY, NULL), APPROVE_WAITING);
}
END_TEST

START_TEST(test_pending_counted)
{
	struct sg_result before, now;

	pending(&before);
	pending(&now);
	add_approval(&now, alice, KEYID_A);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_APPROVE, NULL), APPROVE_COUNTED);
	/* Someone else's approval is not ours. */
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_B, SG_DECISION_APPROVE, NULL), APPROVE_WAITING);
	/* A pending result never shows a counted denial. */
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_DENY, NULL), APPROVE_WAITING);
}
END_TEST

START_TEST(test_pending_new_refusal)
{
	struct sg_result before, now;
	size_t k = 99;

	pending(&before);
	pending(&now);
	add_refusal(&now, KEYID_B, why2, 5);
	add_refusal(&now, KEYID_A, why1, 7);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_APPROVE, &k), APPROVE_REFUSED);
	ck_assert_uint_eq(k, 1);
	k = 99;
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_DENY, &k), APPROVE_REFUSED);
	ck_assert_uint_eq(k, 1);
}
END_TEST

START_TEST(test_pending_old_refusal_ignored)
{
	struct sg_result before, now;
	size_t k = 99;

	pending(&before);
	add_refusal(&before, KEYID_A, why1, 7);
	pending(&now);
	add_refusal(&now, KEYID_A, why1, 7);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_APPROVE, &k), APPROVE_WAITING);
	ck_assert_uint_eq(k, 99); /* untouched */
	/* The same keyid refused again later: a new entry. */
	add_refusal(&now, KEYID_A, why1, 8);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_APPROVE, &k), APPROVE_REFUSED);
	ck_assert_uint_eq(k, 1);
	/* Without a result before, every entry for the keyid is new. */
	ck_assert_int_eq(
	    approve_outcome(NULL, &now, KEYID_A, SG_DECISION_APPROVE, &k), APPROVE_REFUSED);
	ck_assert_uint_eq(k, 0);
}
END_TEST

START_TEST(test_signed)
{
	struct sg_result before, now;

	pending(&before);
	memset(&now, 0, sizeof(now));
	now.status = SG_STATUS_SIGNED;
	now.has_approvals = 1;
	add_approval(&now, bob, KEYID_B);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_APPROVE, NULL), APPROVE_DECIDED);
	add_approval(&now, alice, KEYID_A);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_APPROVE, NULL), APPROVE_COUNTED);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_DENY, NULL), APPROVE_DECIDED);
}
END_TEST

START_TEST(test_rejected)
{
	struct sg_result before, now;
	char msg[] = "denied by alice (" KEYID_A "): not this build";

	pending(&before);
	memset(&now, 0, sizeof(now));
	now.status = SG_STATUS_REJECTED;
	now.error_code = denied_code;
	now.error_message = msg;
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_DENY, NULL), APPROVE_COUNTED);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_B, SG_DECISION_DENY, NULL), APPROVE_DECIDED);
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_APPROVE, NULL), APPROVE_DECIDED);
	now.error_code = expired_code;
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_DENY, NULL), APPROVE_DECIDED);
	now.status = SG_STATUS_FAILED;
	now.error_code = denied_code;
	ck_assert_int_eq(
	    approve_outcome(&before, &now, KEYID_A, SG_DECISION_DENY, NULL), APPROVE_DECIDED);
}
END_TEST

START_TEST(test_denied_by)
{
	ck_assert(approve_denied_by("denied by alice (" KEYID_A ")", KEYID_A));
	ck_assert(approve_denied_by("denied by alice (" KEYID_A "): ok", KEYID_A));
	ck_assert(approve_denied_by("denied by a (b) (" KEYID_A ")", KEYID_A));
	ck_assert(!approve_denied_by("denied by alice (" KEYID_A ")", KEYID_B));
	ck_assert(!approve_denied_by("denied by alice (" KEYID_A ")x", KEYID_A));
	ck_assert(!approve_denied_by("denied by alice (" KEYID_A "):x", KEYID_A));
	ck_assert(!approve_denied_by("denied by alice", KEYID_A));
	ck_assert(!approve_denied_by("refused by alice (" KEYID_A ")", KEYID_A));
	ck_assert(!approve_denied_by(NULL, KEYID_A));
	ck_assert(!approve_denied_by("denied by alice (" KEYID_A ")", ""));
	/* A comment cannot name another denier: the first keyid counts. */
	ck_assert(!approve_denied_by("denied by bob (" KEYID_B "): see (" KEYID_A ")", KEYID_A));
	ck_assert(approve_denied_by("denied by bob (" KEYID_B "): see (" KEYID_A ")", KEYID_B));
}
END_TEST

START_TEST(test_has_keyid)
{
	struct sg_result r;

	pending(&r);
	ck_assert(!approve_has_keyid(&r, KEYID_A));
	add_approval(&r, alice, KEYID_A);
	ck_assert(approve_has_keyid(&r, KEYID_A));
	ck_assert(!approve_has_keyid(&r, KEYID_B));
	ck_assert(!approve_has_keyid(&r, ""));
	r.has_approvals = 0;
	ck_assert(!approve_has_keyid(&r, KEYID_A));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("approvals");

	test_add(
	    s, "/approvals/pending/unchanged-waits", test_pending_unchanged_waits, TEST_TIMEOUT_S);
	test_add(s, "/approvals/pending/counted", test_pending_counted, TEST_TIMEOUT_S);
	test_add(s, "/approvals/pending/new-refusal", test_pending_new_refusal, TEST_TIMEOUT_S);
	test_add(s, "/approvals/pending/old-refusal-ignored", test_pending_old_refusal_ignored,
	    TEST_TIMEOUT_S);
	test_add(s, "/approvals/signed", test_signed, TEST_TIMEOUT_S);
	test_add(s, "/approvals/rejected", test_rejected, TEST_TIMEOUT_S);
	test_add(s, "/approvals/denied-by", test_denied_by, TEST_TIMEOUT_S);
	test_add(s, "/approvals/has-keyid", test_has_keyid, TEST_TIMEOUT_S);

	return test_run(s);
}
