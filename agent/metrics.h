/*
 * metrics.h — Prometheus text metrics for node_exporter's textfile
 * collector, written atomically (a temporary file in the same directory,
 * then rename) to the configured file every metrics_interval seconds and
 * once more at the stop (docs/agent.md, "Metrics").
 *
 *   signet_up                                  1 while the agent runs, 0 once it
 *                                              stopped cleanly
 *   signet_jobs_total{status,code,key,submitter}
 *                                              decisions: status and code per
 *                                              docs/errors.md (code "" when signed);
 *                                              key and submitter are names of the
 *                                              configuration, "other" for a key it
 *                                              does not know and a submitter that
 *                                              is not a configured one, "unknown"
 *                                              when no submitter was identified
 *   signet_hsm_sign_seconds                    histogram of signature latency (HSM
 *                                              round trip through the signer)
 *   signet_queue_depth                         entries in the stream (XLEN)
 *   signet_queue_oldest_pending_seconds        age of the oldest entry delivered to
 *                                              an agent and not acknowledged (0: none)
 *   signet_queue_oldest_undelivered_seconds    age of the oldest entry no agent has
 *                                              taken yet (0: none)
 *   signet_approvals_pending                   jobs this agent keeps waiting for
 *                                              approvals
 *   signet_webhook_failures_total              failed webhook deliveries
 *   signet_replay_ids                          job ids remembered for replays
 *   signet_audit_records_total                 records in the audit log
 *   signet_audit_checkpoint_records            records the last signed checkpoint covers
 *   signet_audit_checkpoint_last_seconds       when the last checkpoint was signed and
 *                                              kept (seconds since the epoch; 0 before
 *                                              the first)
 *   signet_audit_checkpoint_interval_seconds   the configured checkpoint_interval
 *   signet_last_signature_seconds{key}         when each key last signed a job (absent
 *                                              for keys that have not signed since the
 *                                              start)
 *   signet_key_cert_not_after_seconds{key}     each key's leaf certificate's expiry
 *                                              (seconds since the epoch)
 *
 * Ages are whole seconds.  No label value is ever taken from a job as is:
 * key and submitter labels must be configuration names (1..CONFIG_NAME_MAX
 * bytes of [A-Za-z0-9._-]); anything else is counted as "other", and past
 * METRICS_JOB_SERIES_MAX distinct series, new ones are counted under
 * key="other",submitter="other".  Label values are escaped per the text
 * format all the same.  Thread-safe; no allocation after metrics_new()
 * except metrics_write()'s buffer.
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define METRICS_JOB_SERIES_MAX 2048 /* distinct {status,code,key,submitter} */
#define METRICS_KEYS_MAX       256  /* keys with a last signature time (= CONFIG_KEYS_MAX) */

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * One decision: status per sg_err_status(code), code per sg_err_code().
 * key: the configured key's name, or NULL when the job named none the
 * configuration knows.  submitter: a configured submitter's name, or
 * NULL; identified tells "other" (identified, but not a configured name,
 * e.g. a certificate identity) from "unknown".  A signed decision (code 0)
 * with a key also sets that key's last signature time to now.
 */
void metrics_job(
    struct metrics *m, int code, const char *key, const char *submitter, int identified);
void metrics_hsm_sign(struct metrics *m, int64_t micros);
void metrics_queue_depth(struct metrics *m, uint64_t depth);
/* Ages in seconds of the oldest pending and undelivered entries (0: none);
 * negative values (a clock behind Redis's) count as 0. */
void metrics_queue_age(struct metrics *m, int64_t pending_s, int64_t undelivered_s);
void metrics_approvals_pending(struct metrics *m, size_t n);
/* Failed webhook deliveries so far (a running total). */
void metrics_webhook_failures(struct metrics *m, uint64_t total);
/* A checkpoint covering `records` records was signed and kept at `when`
 * (seconds since the epoch). */
void metrics_checkpoint(struct metrics *m, uint64_t records, int64_t when);

/* Writes the exposition to path atomically (mode 0644).  replay_ids and
 * audit_records are gauges the caller reads from their owners; cfg gives
 * the keys and their certificates' expiry and the checkpoint interval; up
 * is signet_up.  SG_ERR_LIMIT when the text would exceed its cap, or
 * write_file_atomic()'s errors. */
struct agent_config;
int metrics_write(struct metrics *m, const char *path, size_t replay_ids, uint64_t audit_records,
    const struct agent_config *cfg, int up) SG_MUST_CHECK;

#endif
