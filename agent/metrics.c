/*
 * metrics.c — counters and a histogram, rendered in the Prometheus text
 * format (see metrics.h).  Codes are the fixed set of docs/errors.md, so the
 * label space is bounded: a table indexed by the error enum.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "util.h"

static const int64_t bucket_us[] = {
	500,
	1000,
	2500,
	5000,
	10000,
	25000,
	50000,
	100000,
	250000,
	500000,
	1000000,
	2500000,
};
#define NBUCKETS         nitems(bucket_us)
#define METRICS_TEXT_MAX (64 * 1024)

struct metrics {
	pthread_mutex_t lock;
	uint64_t jobs[SG_ERR_COUNT_I];   /* index 0: signed; i: code -i */
	uint64_t sign_buckets[NBUCKETS]; /* cumulative at render time */
	uint64_t sign_count;
	int64_t sign_sum_us;
	uint64_t queue_depth;
	uint64_t webhook_failures;
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m != NULL)
		pthread_mutex_init(&m->lock, NULL);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void
metrics_job(struct metrics *m, int code)
{
	size_t i = code < 0 && -code < (int)SG_ERR_COUNT_I ? (size_t)-code : 0;

	if (m == NULL)
		return;
	/* Codes outside docs/errors.md are reported as "internal". */
	if (code != 0 && (i == 0 || strcmp(sg_err_code(code), "internal") == 0))
		i = (size_t)-SG_ERR_INTERNAL;
	pthread_mutex_lock(&m->lock);
	m->jobs[i]++;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_hsm_sign(struct metrics *m, int64_t micros)
{
	size_t i;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < NBUCKETS; i++) {
		if (micros <= bucket_us[i]) {
			m->sign_buckets[i]++;
			break;
		}
	}
	m->sign_count++;
	m->sign_sum_us += micros;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_queue_depth(struct metrics *m, uint64_t depth)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->queue_depth = depth;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_webhook_failures(struct metrics *m, uint64_t total)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->webhook_failures = total;
	pthread_mutex_unlock(&m->lock);
}

int
metrics_write(struct metrics *m, const char *path, size_t replay_ids, uint64_t audit_records,
    const struct agent_config *cfg, int up)
{
	struct metrics copy;
	char *buf;
	size_t off = 0, i;
	uint64_t cum = 0;
	int r;

	if ((buf = malloc(METRICS_TEXT_MAX)) == NULL)
		return SG_ERR_ALLOC;
	pthread_mutex_lock(&m->lock);
	copy = *m;
	pthread_mutex_unlock(&m->lock);

#define OUT(...)                                                                                   \
	do {                                                                                       \
		int n_ = snprintf(buf + off, METRICS_TEXT_MAX - off, __VA_ARGS__);                 \
		if (n_ < 0 || (size_t)n_ >= METRICS_TEXT_MAX - off) {                              \
			r = SG_ERR_LIMIT;                                                          \
			goto out;                                                                  \
		}                                                                                  \
		off += (size_t)n_;                                                                 \
	} while (0)
	OUT("# HELP signet_up 1 while the agent runs, 0 once it stopped.\n# TYPE signet_up gauge\n"
	    "signet_up %d\n",
	    up ? 1 : 0);
	OUT("# HELP signet_jobs_total Job decisions by status and error code.\n"
	    "# TYPE signet_jobs_total counter\n");
	OUT("signet_jobs_total{status=\"signed\",code=\"\"} %llu\n",
	    (unsigned long long)copy.jobs[0]);
	for (i = 1; i < SG_ERR_COUNT_I; i++) {
		const char *code = sg_err_code(-(int)i);
		if (copy.jobs[i] == 0)
			continue;
		OUT("signet_jobs_total{status=\"%s\",code=\"%s\"} %llu\n",
		    sg_status_name(sg_err_status(-(int)i)), code, (unsigned long long)copy.jobs[i]);
	}
	OUT("# HELP signet_hsm_sign_seconds HSM signature latency through the signer.\n"
	    "# TYPE signet_hsm_sign_seconds histogram\n");
	for (i = 0; i < NBUCKETS; i++) {
		cum += copy.sign_buckets[i];
		OUT("signet_hsm_sign_seconds_bucket{le=\"%g\"} %llu\n", (double)bucket_us[i] / 1e6,
		    (unsigned long long)cum);
	}
	OUT("signet_hsm_sign_seconds_bucket{le=\"+Inf\"} %llu\n",
	    (unsigned long long)copy.sign_count);
	OUT("signet_hsm_sign_seconds_sum %.6f\n", (double)copy.sign_sum_us / 1e6);
	OUT("signet_hsm_sign_seconds_count %llu\n", (unsigned long long)copy.sign_count);
	OUT("# HELP signet_queue_depth Entries in the job stream.\n# TYPE signet_queue_depth "
	    "gauge\n"
	    "signet_queue_depth %llu\n",
	    (unsigned long long)copy.queue_depth);
	OUT("# HELP signet_webhook_failures_total Failed webhook deliveries.\n"
	    "# TYPE signet_webhook_failures_total counter\nsignet_webhook_failures_total %llu\n",
	    (unsigned long long)copy.webhook_failures);
	OUT("# HELP signet_replay_ids Job ids remembered against replays.\n"
	    "# TYPE signet_replay_ids gauge\nsignet_replay_ids %zu\n",
	    replay_ids);
	OUT("# HELP signet_audit_records_total Records in the audit log.\n"
	    "# TYPE signet_audit_records_total counter\nsignet_audit_records_total %llu\n",
	    (unsigned long long)audit_records);
	OUT("# HELP signet_key_cert_not_after_seconds When each key's certificate expires.\n"
	    "# TYPE signet_key_cert_not_after_seconds gauge\n");
	for (i = 0; cfg != NULL && i < cfg->nkeys; i++)
		OUT("signet_key_cert_not_after_seconds{key=\"%s\"} %lld\n", cfg->keys[i].name,
		    (long long)cfg->keys[i].leaf_not_after);
#undef OUT
	r = write_file_atomic(path, buf, off, 0644);
out:
	free(buf);
	return r;
}
