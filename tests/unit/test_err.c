/*
 * test_err.c — the error table against SPEC §7.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "testlib.h"

int main(void);

/* SPEC §7, copied by hand so that a change to either side shows up here. */
static const char *const spec_rejected[] = {
	"envelope.malformed",
	"envelope.too_large",
	"envelope.bad_signature",
	"envelope.unknown_signer",
	"job.malformed",
	"job.unknown_field",
	"job.bad_version",
	"job.expired",
	"job.not_yet_valid",
	"job.lifetime_too_long",
	"job.replayed",
	"policy.unknown_key",
	"policy.key_not_allowed",
	"policy.format_not_allowed",
	"policy.artifact_name",
	"policy.ci_project",
	"policy.ci_ref",
	"policy.quota_exceeded",
	"policy.submitter_revoked",
	"policy.cert_invalid",
	"policy.ci_token",
	"key.cert_expired",
	"approval.denied",
	"approval.expired",
};
static const char *const spec_failed[] = {
	"hsm.unavailable",
	"hsm.sign_failed",
	"store.failed",
	"timestamp.failed",
	"internal",
};

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */
#define FIRST_ERR      (-1)
#define LAST_ERR       (-(int)SG_ERR_COUNT_I + 1)

START_TEST(test_ok)
{
	ck_assert_ptr_null(sg_err_code(SG_OK));
	ck_assert_str_eq(sg_strerror(SG_OK), "success");
	ck_assert_int_eq(sg_err_status(SG_OK), SG_STATUS_SIGNED);
}
END_TEST

START_TEST(test_values)
{
	ck_assert_int_eq(SG_OK, 0);
	ck_assert_int_eq(SG_ERR_INTERNAL, -1);
	ck_assert_int_eq(SG_ERR_TIMESTAMP_FAILED, LAST_ERR);
}
END_TEST

START_TEST(test_every_code_has_text)
{
	int r;

	for (r = FIRST_ERR; r >= LAST_ERR; r--) {
		ck_assert_ptr_nonnull(sg_err_code(r));
		ck_assert_ptr_nonnull(sg_strerror(r));
		ck_assert_int_gt((int)strlen(sg_strerror(r)), 0);
		ck_assert_str_ne(sg_strerror(r), "success");
		ck_assert(
		    sg_err_status(r) == SG_STATUS_REJECTED || sg_err_status(r) == SG_STATUS_FAILED);
	}
}
END_TEST

START_TEST(test_from_code_round_trip)
{
	int r;

	for (r = FIRST_ERR; r >= LAST_ERR; r--) {
		if (strcmp(sg_err_code(r), "internal") == 0)
			ck_assert_int_eq(sg_err_from_code(sg_err_code(r)), SG_ERR_INTERNAL);
		else
			ck_assert_int_eq(sg_err_from_code(sg_err_code(r)), r);
	}
}
END_TEST

START_TEST(test_spec_codes_unique)
{
	int r, s;

	for (r = FIRST_ERR; r >= LAST_ERR; r--) {
		if (strcmp(sg_err_code(r), "internal") == 0)
			continue;
		for (s = r - 1; s >= LAST_ERR; s--)
			ck_assert_str_ne(sg_err_code(r), sg_err_code(s));
	}
}
END_TEST

START_TEST(test_spec_rejected)
{
	size_t i;
	int r;

	for (i = 0; i < nitems(spec_rejected); i++) {
		r = sg_err_from_code(spec_rejected[i]);
		ck_assert_msg(r < 0, "%s missing", spec_rejected[i]);
		ck_assert_str_eq(sg_err_code(r), spec_rejected[i]);
		ck_assert_int_eq(sg_err_status(r), SG_STATUS_REJECTED);
	}
}
END_TEST

START_TEST(test_spec_failed)
{
	size_t i;
	int r;

	for (i = 0; i < nitems(spec_failed); i++) {
		r = sg_err_from_code(spec_failed[i]);
		ck_assert_msg(r < 0, "%s missing", spec_failed[i]);
		ck_assert_str_eq(sg_err_code(r), spec_failed[i]);
		ck_assert_int_eq(sg_err_status(r), SG_STATUS_FAILED);
	}
}
END_TEST

/* Every code is either in SPEC §7 or reports as "internal" (and failed). */
START_TEST(test_no_code_outside_spec)
{
	size_t i, total = 0;
	int r, found;

	for (r = FIRST_ERR; r >= LAST_ERR; r--) {
		found = 0;
		for (i = 0; i < nitems(spec_rejected); i++)
			found |= strcmp(sg_err_code(r), spec_rejected[i]) == 0;
		for (i = 0; i < nitems(spec_failed); i++)
			found |= strcmp(sg_err_code(r), spec_failed[i]) == 0;
		ck_assert_msg(found, "code %d: %s not in SPEC", r, sg_err_code(r));
		if (strcmp(sg_err_code(r), "internal") != 0)
			total++;
	}
	/* Every SPEC code but "internal" has exactly one enum value. */
	ck_assert_uint_eq(total, nitems(spec_rejected) + nitems(spec_failed) - 1);
}
END_TEST

START_TEST(test_unknown_values)
{
	static const int bad[] = { 1, 42, LAST_ERR - 1, -1000, -2147483647 - 1 };
	size_t i;

	for (i = 0; i < nitems(bad); i++) {
		ck_assert_str_eq(sg_err_code(bad[i]), "internal");
		ck_assert_str_eq(sg_strerror(bad[i]), sg_strerror(SG_ERR_INTERNAL));
		ck_assert_int_eq(sg_err_status(bad[i]), SG_STATUS_FAILED);
	}
}
END_TEST

START_TEST(test_from_code_unknown)
{
	ck_assert_int_eq(sg_err_from_code(NULL), 0);
	ck_assert_int_eq(sg_err_from_code(""), 0);
	ck_assert_int_eq(sg_err_from_code("job"), 0);
	ck_assert_int_eq(sg_err_from_code("job.expired "), 0);
	ck_assert_int_eq(sg_err_from_code("JOB.EXPIRED"), 0);
	ck_assert_int_eq(sg_err_from_code("job.expire"), 0);
}
END_TEST

START_TEST(test_status_names)
{
	ck_assert_str_eq(sg_status_name(SG_STATUS_SIGNED), "signed");
	ck_assert_str_eq(sg_status_name(SG_STATUS_REJECTED), "rejected");
	ck_assert_str_eq(sg_status_name(SG_STATUS_FAILED), "failed");
	ck_assert_str_eq(sg_status_name((enum sg_status)7), "failed");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("err");

	test_add(s, "/err/ok", test_ok, TEST_TIMEOUT_S);
	test_add(s, "/err/values", test_values, TEST_TIMEOUT_S);
	test_add(s, "/err/every-code-has-text", test_every_code_has_text, TEST_TIMEOUT_S);
	test_add(s, "/err/from-code/round-trip", test_from_code_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/err/spec/codes-unique", test_spec_codes_unique, TEST_TIMEOUT_S);
	test_add(s, "/err/spec/rejected", test_spec_rejected, TEST_TIMEOUT_S);
	test_add(s, "/err/spec/failed", test_spec_failed, TEST_TIMEOUT_S);
	test_add(s, "/err/spec/no-code-outside", test_no_code_outside_spec, TEST_TIMEOUT_S);
	test_add(s, "/err/unknown-values", test_unknown_values, TEST_TIMEOUT_S);
	test_add(s, "/err/from-code/unknown", test_from_code_unknown, TEST_TIMEOUT_S);
	test_add(s, "/err/status-names", test_status_names, TEST_TIMEOUT_S);

	return test_run(s);
}
