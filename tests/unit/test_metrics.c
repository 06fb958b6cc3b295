/*
 * test_metrics.c — metrics.h: decisions labelled only with configuration
 * names, the bound on series, the gauges, and the text the file holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "testlib.h"
#include "util.h"

int main(void);

#define TEST_TIMEOUT_S 60

/* Writes m to a file in a fresh directory; returns its text. */
static char *
render(struct metrics *m, int up)
{
	char *dir = test_tmpdir(), *path = NULL, *buf = NULL;
	size_t len = 0;

	ck_assert_int_gt(asprintf(&path, "%s/signet.prom", dir), 0);
	ck_assert_int_eq(metrics_write(m, path, 3, 7, NULL, up), 0);
	ck_assert_int_eq(read_file(path, 4 << 20, &buf, &len), 0);
	free(path);
	test_tmpdir_free(dir);
	return buf;
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

START_TEST(test_metrics_labels)
{
	struct metrics *m = metrics_new();
	char *out;

	ck_assert_ptr_nonnull(m);
	metrics_job(m, 0, "release", "ci-fw", 1);
	metrics_job(m, 0, "release", "ci-fw", 1);
	metrics_job(m, SG_ERR_POLICY_UNKNOWN_KEY, NULL, "ci-fw", 1);
	/* Names that are not configuration names never become labels. */
	metrics_job(m, SG_ERR_POLICY_UNKNOWN_KEY, "rel\"} 1\nsignet_up 0", "x\\y", 1);
	metrics_job(m, SG_ERR_ENVELOPE_UNKNOWN_SIGNER, NULL, NULL, 0);
	metrics_job(m, SG_ERR_POLICY_UNKNOWN_KEY, "", "CN=someone,O=corp", 1);
	/* A code outside docs/errors.md counts as internal. */
	metrics_job(m, -100000, "release", "ci-fw", 1);
	out = render(m, 1);
	ck_assert(has_line(out, "signet_up 1"));
	ck_assert(has_line(out,
	    "signet_jobs_total{status=\"signed\",code=\"\",key=\"release\",submitter=\"ci-fw\"} "
	    "2"));
	ck_assert(has_line(out,
	    "signet_jobs_total{status=\"rejected\",code=\"policy.unknown_key\",key=\"other\","
	    "submitter=\"ci-fw\"} 1"));
	ck_assert(has_line(out,
	    "signet_jobs_total{status=\"rejected\",code=\"policy.unknown_key\",key=\"other\","
	    "submitter=\"other\"} 2"));
	ck_assert(has_line(out,
	    "signet_jobs_total{status=\"rejected\",code=\"envelope.unknown_signer\",key=\"other\","
	    "submitter=\"unknown\"} 1"));
	ck_assert(has_line(out,
	    "signet_jobs_total{status=\"failed\",code=\"internal\",key=\"release\","
	    "submitter=\"ci-fw\"} 1"));
	ck_assert_ptr_null(strstr(out, "rel\""));
	ck_assert_ptr_null(strstr(out, "x\\"));
	ck_assert_ptr_null(strstr(out, "CN="));
	ck_assert(!has_line(out, "signet_up 0"));
	/* Only the key that signed has a last signature time. */
	ck_assert_ptr_nonnull(strstr(out, "\nsignet_last_signature_seconds{key=\"release\"} "));
	ck_assert_ptr_null(strstr(out, "signet_last_signature_seconds{key=\"other\"}"));
	free(out);
	metrics_free(m);
}
END_TEST

START_TEST(test_metrics_series_bound)
{
	struct metrics *m = metrics_new();
	char key[32], *out;
	size_t i, n = 0;
	const char *p;

	ck_assert_ptr_nonnull(m);
	/* One past the table: the last ones count under other/other. */
	for (i = 0; i < METRICS_JOB_SERIES_MAX + 5; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		metrics_job(m, SG_ERR_JOB_EXPIRED, key, "ci", 1);
	}
	out = render(m, 0);
	for (p = out; (p = strstr(p, "\nsignet_jobs_total{")) != NULL; p++)
		n++;
	ck_assert_uint_eq(n, METRICS_JOB_SERIES_MAX + 1);
	ck_assert(has_line(out,
	    "signet_jobs_total{status=\"rejected\",code=\"job.expired\",key=\"other\","
	    "submitter=\"other\"} 5"));
	ck_assert(has_line(out, "signet_up 0"));
	free(out);
	metrics_free(m);
}
END_TEST

START_TEST(test_metrics_gauges)
{
	struct metrics *m = metrics_new();
	char *out;

	ck_assert_ptr_nonnull(m);
	out = render(m, 1);
	/* Before anything happened: zeros, no decision series. */
	ck_assert(has_line(out, "signet_queue_oldest_pending_seconds 0"));
	ck_assert(has_line(out, "signet_queue_oldest_undelivered_seconds 0"));
	ck_assert(has_line(out, "signet_approvals_pending 0"));
	ck_assert(has_line(out, "signet_audit_checkpoint_last_seconds 0"));
	ck_assert(has_line(out, "# TYPE signet_jobs_total counter"));
	ck_assert_ptr_null(strstr(out, "\nsignet_jobs_total{"));
	free(out);
	metrics_queue_age(m, 42, -5); /* a clock behind Redis's: 0 */
	metrics_approvals_pending(m, 3);
	metrics_checkpoint(m, 17, 1700000000);
	metrics_queue_depth(m, 9);
	out = render(m, 1);
	ck_assert(has_line(out, "signet_queue_oldest_pending_seconds 42"));
	ck_assert(has_line(out, "signet_queue_oldest_undelivered_seconds 0"));
	ck_assert(has_line(out, "signet_approvals_pending 3"));
	ck_assert(has_line(out, "signet_audit_checkpoint_records 17"));
	ck_assert(has_line(out, "signet_audit_checkpoint_last_seconds 1700000000"));
	ck_assert(has_line(out, "signet_queue_depth 9"));
	ck_assert(has_line(out, "signet_replay_ids 3"));
	ck_assert(has_line(out, "signet_audit_records_total 7"));
	free(out);
	metrics_free(m);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("metrics");

	test_add(s, "/metrics/labels", test_metrics_labels, TEST_TIMEOUT_S);
	test_add(s, "/metrics/series-bound", test_metrics_series_bound, TEST_TIMEOUT_S);
	test_add(s, "/metrics/gauges", test_metrics_gauges, TEST_TIMEOUT_S);
	return test_run(s);
}
