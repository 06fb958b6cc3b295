/*
 * metrics.c — counters, gauges and a histogram, rendered in the Prometheus
 * text format (see metrics.h).  Codes are the fixed set of docs/errors.md;
 * keys and submitters are names of the configuration, checked again here
 * for their alphabet and length; the decisions live in a fixed table of
 * METRICS_JOB_SERIES_MAX series with one overflow counter per code, so the
 * label space stays bounded whatever the jobs say.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "sgtime.h"
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
#define NBUCKETS              nitems(bucket_us)
/* Every series line is under 256 bytes (names are at most CONFIG_NAME_MAX
 * bytes, escaped at most twice as long). */
#define METRICS_TEXT_MAX      ((METRICS_JOB_SERIES_MAX + 2 * METRICS_KEYS_MAX + 256) * 512)
#define METRICS_LABEL_OTHER   "other"
#define METRICS_LABEL_UNKNOWN "unknown"

/* One {status,code,key,submitter} series of signet_jobs_total. */
struct job_series {
	size_t code_i; /* 0: signed; i: code -i */
	char key[CONFIG_NAME_MAX + 1];
	char sub[CONFIG_NAME_MAX + 1];
	uint64_t n;
};

struct key_time {
	char key[CONFIG_NAME_MAX + 1];
	int64_t when;
};

struct metrics {
	pthread_mutex_t lock;
	struct job_series series[METRICS_JOB_SERIES_MAX];
	size_t nseries;
	uint64_t overflow[SG_ERR_COUNT_I]; /* by code, once the table is full */
	struct key_time last_sig[METRICS_KEYS_MAX];
	size_t nlast_sig;
	uint64_t sign_buckets[NBUCKETS]; /* cumulative at render time */
	uint64_t sign_count;
	int64_t sign_sum_us;
	uint64_t queue_depth;
	int64_t oldest_pending_s;
	int64_t oldest_undelivered_s;
	size_t approvals_pending;
	uint64_t webhook_failures;
	uint64_t checkpoint_records;
	int64_t checkpoint_when; /* 0: none yet */
};

/* A configuration name: 1..CONFIG_NAME_MAX bytes of [A-Za-z0-9._-]. */
static int
label_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strnlen(s, CONFIG_NAME_MAX + 1)) == 0 || n > CONFIG_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A label value escaped per the text format (\\, \" and \n) into out. */
static const char *
label_escape(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *s != '\0' && o + 3 < outsz; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

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
metrics_job(struct metrics *m, int code, const char *key, const char *submitter, int identified)
{
	size_t i = code < 0 && -code < (int)SG_ERR_COUNT_I ? (size_t)-code : 0, j;
	const char *k = label_ok(key) ? key : METRICS_LABEL_OTHER;
	const char *s = label_ok(submitter) ? submitter
	    : identified                    ? METRICS_LABEL_OTHER
					    : METRICS_LABEL_UNKNOWN;
	int64_t now = sgtime_now();

	if (m == NULL)
		return;
	/* Codes outside docs/errors.md are reported as "internal". */
	if (code != 0 && (i == 0 || strcmp(sg_err_code(code), "internal") == 0))
		i = (size_t)-SG_ERR_INTERNAL;
	pthread_mutex_lock(&m->lock);
	for (j = 0; j < m->nseries; j++) {
		if (m->series[j].code_i == i && strcmp(m->series[j].key, k) == 0 &&
		    strcmp(m->series[j].sub, s) == 0)
			break;
	}
	if (j == m->nseries && j < METRICS_JOB_SERIES_MAX) {
		m->series[j].code_i = i;
		snprintf(m->series[j].key, sizeof(m->series[j].key), "%s", k);
		snprintf(m->series[j].sub, sizeof(m->series[j].sub), "%s", s);
		m->series[j].n = 0;
		m->nseries++;
	}
	if (j < m->nseries)
		m->series[j].n++;
	else
		m->overflow[i]++;
	if (code == 0 && label_ok(key)) {
		for (j = 0; j < m->nlast_sig; j++)
			if (strcmp(m->last_sig[j].key, key) == 0)
				break;
		if (j == m->nlast_sig && j < METRICS_KEYS_MAX) {
			snprintf(m->last_sig[j].key, sizeof(m->last_sig[j].key), "%s", key);
			m->nlast_sig++;
		}
		if (j < m->nlast_sig)
			m->last_sig[j].when = now;
	}
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
metrics_queue_age(struct metrics *m, int64_t pending_s, int64_t undelivered_s)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->oldest_pending_s = pending_s > 0 ? pending_s : 0;
	m->oldest_undelivered_s = undelivered_s > 0 ? undelivered_s : 0;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_approvals_pending(struct metrics *m, size_t n)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->approvals_pending = n;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_checkpoint(struct metrics *m, uint64_t records, int64_t when)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->checkpoint_records = records;
	m->checkpoint_when = when;
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
	struct metrics *copy = NULL;
	char *buf, e1[2 * CONFIG_NAME_MAX + 1], e2[2 * CONFIG_NAME_MAX + 1];
	size_t off = 0, i;
	uint64_t cum = 0;
	int r;

	if ((buf = malloc(METRICS_TEXT_MAX)) == NULL || (copy = malloc(sizeof(*copy))) == NULL) {
		free(buf);
		return SG_ERR_ALLOC;
	}
	pthread_mutex_lock(&m->lock);
	memcpy(copy, m, sizeof(*copy)); /* its lock is never used */
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
	OUT("# HELP signet_jobs_total Job decisions by status, error code, key and submitter.\n"
	    "# TYPE signet_jobs_total counter\n");
	for (i = 0; i < copy->nseries; i++) {
		const struct job_series *js = &copy->series[i];
		int c = -(int)js->code_i;
		OUT("signet_jobs_total{status=\"%s\",code=\"%s\",key=\"%s\",submitter=\"%s\"} "
		    "%llu\n",
		    sg_status_name(sg_err_status(c)), c == 0 ? "" : sg_err_code(c),
		    label_escape(js->key, e1, sizeof(e1)), label_escape(js->sub, e2, sizeof(e2)),
		    (unsigned long long)js->n);
	}
	for (i = 0; i < SG_ERR_COUNT_I; i++) {
		int c = -(int)i;
		if (copy->overflow[i] == 0)
			continue;
		OUT("signet_jobs_total{status=\"%s\",code=\"%s\",key=\"other\",submitter="
		    "\"other\"} %llu\n",
		    sg_status_name(sg_err_status(c)), c == 0 ? "" : sg_err_code(c),
		    (unsigned long long)copy->overflow[i]);
	}
	OUT("# HELP signet_hsm_sign_seconds HSM signature latency through the signer.\n"
	    "# TYPE signet_hsm_sign_seconds histogram\n");
	for (i = 0; i < NBUCKETS; i++) {
		cum += copy->sign_buckets[i];
		OUT("signet_hsm_sign_seconds_bucket{le=\"%g\"} %llu\n", (double)bucket_us[i] / 1e6,
		    (unsigned long long)cum);
	}
	OUT("signet_hsm_sign_seconds_bucket{le=\"+Inf\"} %llu\n",
	    (unsigned long long)copy->sign_count);
	OUT("signet_hsm_sign_seconds_sum %.6f\n", (double)copy->sign_sum_us / 1e6);
	OUT("signet_hsm_sign_seconds_count %llu\n", (unsigned long long)copy->sign_count);
	OUT("# HELP signet_queue_depth Entries in the job stream.\n# TYPE signet_queue_depth "
	    "gauge\n"
	    "signet_queue_depth %llu\n",
	    (unsigned long long)copy->queue_depth);
	OUT("# HELP signet_queue_oldest_pending_seconds Age of the oldest entry delivered and not "
	    "acknowledged.\n# TYPE signet_queue_oldest_pending_seconds gauge\n"
	    "signet_queue_oldest_pending_seconds %lld\n",
	    (long long)copy->oldest_pending_s);
	OUT("# HELP signet_queue_oldest_undelivered_seconds Age of the oldest entry no agent has "
	    "taken.\n# TYPE signet_queue_oldest_undelivered_seconds gauge\n"
	    "signet_queue_oldest_undelivered_seconds %lld\n",
	    (long long)copy->oldest_undelivered_s);
	OUT("# HELP signet_approvals_pending Jobs this agent keeps waiting for approvals.\n"
	    "# TYPE signet_approvals_pending gauge\nsignet_approvals_pending %zu\n",
	    copy->approvals_pending);
	OUT("# HELP signet_webhook_failures_total Failed webhook deliveries.\n"
	    "# TYPE signet_webhook_failures_total counter\nsignet_webhook_failures_total %llu\n",
	    (unsigned long long)copy->webhook_failures);
	OUT("# HELP signet_replay_ids Job ids remembered against replays.\n"
	    "# TYPE signet_replay_ids gauge\nsignet_replay_ids %zu\n",
	    replay_ids);
	OUT("# HELP signet_audit_records_total Records in the audit log.\n"
	    "# TYPE signet_audit_records_total counter\nsignet_audit_records_total %llu\n",
	    (unsigned long long)audit_records);
	OUT("# HELP signet_audit_checkpoint_records Records the last signed checkpoint covers.\n"
	    "# TYPE signet_audit_checkpoint_records gauge\nsignet_audit_checkpoint_records %llu\n",
	    (unsigned long long)copy->checkpoint_records);
	OUT("# HELP signet_audit_checkpoint_last_seconds When the last audit checkpoint was signed "
	    "and kept (0: none yet).\n# TYPE signet_audit_checkpoint_last_seconds gauge\n"
	    "signet_audit_checkpoint_last_seconds %lld\n",
	    (long long)copy->checkpoint_when);
	if (cfg != NULL)
		OUT("# HELP signet_audit_checkpoint_interval_seconds Seconds between audit "
		    "checkpoints while the log grows.\n"
		    "# TYPE signet_audit_checkpoint_interval_seconds gauge\n"
		    "signet_audit_checkpoint_interval_seconds %lld\n",
		    (long long)cfg->checkpoint_interval);
	OUT("# HELP signet_last_signature_seconds When each key last signed a job.\n"
	    "# TYPE signet_last_signature_seconds gauge\n");
	for (i = 0; i < copy->nlast_sig; i++)
		OUT("signet_last_signature_seconds{key=\"%s\"} %lld\n",
		    label_escape(copy->last_sig[i].key, e1, sizeof(e1)),
		    (long long)copy->last_sig[i].when);
	OUT("# HELP signet_key_cert_not_after_seconds When each key's certificate expires.\n"
	    "# TYPE signet_key_cert_not_after_seconds gauge\n");
	for (i = 0; cfg != NULL && i < cfg->nkeys; i++)
		OUT("signet_key_cert_not_after_seconds{key=\"%s\"} %lld\n",
		    label_escape(cfg->keys[i].name, e1, sizeof(e1)),
		    (long long)cfg->keys[i].leaf_not_after);
#undef OUT
	r = write_file_atomic(path, buf, off, 0644);
out:
	free(copy);
	free(buf);
	return r;
}
