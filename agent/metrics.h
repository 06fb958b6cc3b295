/*
 * metrics.h — Prometheus text metrics for node_exporter's textfile
 * collector, written atomically to the configured file.
 *
 *   signet_jobs_total{status,code}           decisions, by docs/errors.md status and code
 *   signet_hsm_sign_seconds                  histogram of signature latency (HSM
 *                                            round trip through the signer)
 *   signet_queue_depth                       entries in the stream (XLEN)
 *   signet_webhook_failures_total            failed webhook deliveries
 *   signet_replay_ids                        job ids remembered for replays
 *   signet_audit_records_total               records in the audit log
 *   signet_up                                1 while the agent runs, 0 once it stopped
 *   signet_key_cert_not_after_seconds{key}   each key's leaf certificate's expiry
 *                                            (seconds since the epoch)
 * Thread-safe; no allocation after metrics_new().
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* One decision: status per sg_err_status(code), code per sg_err_code(). */
void metrics_job(struct metrics *m, int code);
void metrics_hsm_sign(struct metrics *m, int64_t micros);
void metrics_queue_depth(struct metrics *m, uint64_t depth);
/* Failed webhook deliveries so far (a running total). */
void metrics_webhook_failures(struct metrics *m, uint64_t total);

/* Writes the exposition to path atomically (mode 0644).  replay_ids and
 * audit_records are gauges the caller reads from their owners; cfg gives
 * the keys and their certificates' expiry; up is signet_up. */
struct agent_config;
int metrics_write(struct metrics *m, const char *path, size_t replay_ids, uint64_t audit_records,
    const struct agent_config *cfg, int up) SG_MUST_CHECK;

#endif
