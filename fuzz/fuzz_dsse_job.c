/*
 * fuzz_dsse_job.c — the agent's parsing path on one hostile stream entry,
 * chained as agent/pipeline.c does it: size limit, envelope_parse(), on a
 * malformed envelope envelope_salvage_payload(), job_peek_id() on the
 * payload, job_parse() and job_check_time().  The envelope signature is not
 * checked (a fuzzer cannot forge one); everything after it is reached as if
 * it had verified.
 * Invariants: a job that parses has the id job_peek_id() found; a payload
 * that is not JSON yields no id; the time checks give only the time codes;
 * nothing leaks or reads out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "job.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-11-26T16:00:00Z, and the default maximum lifetime. */
#define FUZZ_NOW          1795708800
#define FUZZ_MAX_LIFETIME 900

static void
check_job(const uint8_t *payload, size_t len)
{
	struct sg_job *job = NULL;
	char id[JOB_ID_LEN + 1];
	int has_id, r;

	has_id = job_peek_id(payload, len, id) == 0;
	r = job_parse(payload, len, &job);
	if (r != 0) {
		if (job != NULL)
			abort();
		if (r == SG_ERR_PARSE && has_id)
			abort();
		return;
	}
	if (!has_id || strcmp(id, job->id) != 0 || job->v != 1 || job->expires <= job->created)
		abort();
	r = job_check_time(job, FUZZ_NOW, FUZZ_MAX_LIFETIME);
	if (r != 0 && r != SG_ERR_JOB_NOT_YET_VALID && r != SG_ERR_JOB_EXPIRED &&
	    r != SG_ERR_JOB_LIFETIME_TOO_LONG)
		abort();
	/* At its own creation time, with its own lifetime allowed, a job is valid. */
	if (job_check_time(job, job->created, job->expires - job->created) != 0)
		abort();
	job_free(job);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsse_envelope *env = NULL;
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	int r;

	if (size > ENVELOPE_MAX_BYTES)
		return 0;
	r = envelope_parse(data, size, &env);
	if (r != 0) {
		if (env != NULL)
			abort();
		if (r == SG_ERR_ENVELOPE_MALFORMED &&
		    envelope_salvage_payload(data, size, &payload, &payload_len) == 0) {
			char id[JOB_ID_LEN + 1];
			/* The id found must be well formed (it names Redis keys). */
			if (job_peek_id(payload, payload_len, id) == 0 &&
			    (strlen(id) != JOB_ID_LEN || !is_lower_hex(id, JOB_ID_LEN)))
				abort();
			free(payload);
		}
		return 0;
	}
	if (env->nsigs > ENVELOPE_SIGS_MAX || env->payload_type == NULL)
		abort();
	/* The agent reads the job only from a job envelope with one signature,
	 * but the parser must survive any payload: check them all. */
	check_job(env->payload, env->payload_len);
	envelope_free(env);
	return 0;
}
