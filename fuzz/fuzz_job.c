/*
 * fuzz_job.c — job_parse() and job_peek_id() on hostile bytes.
 * Invariants: a job that parses serializes, and the serialization parses
 * back to an equal job; a job that parses has an id that job_peek_id()
 * finds; the time checks never fail on a parsed job's own times.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_same(const struct sg_job *a, const struct sg_job *b)
{
	if (a->v != b->v || strcmp(a->id, b->id) != 0 || a->created != b->created ||
	    a->expires != b->expires || !str_eq(a->key, b->key) || a->format != b->format ||
	    !str_eq(a->artifact.name, b->artifact.name) ||
	    memcmp(a->artifact.sha256, b->artifact.sha256, SHA256_LEN) != 0 ||
	    strcmp(a->artifact.sha256_hex, b->artifact.sha256_hex) != 0 ||
	    a->artifact.size != b->artifact.size || !str_eq(a->ci.system, b->ci.system) ||
	    !str_eq(a->ci.project, b->ci.project) || !str_eq(a->ci.pipeline, b->ci.pipeline) ||
	    !str_eq(a->ci.job, b->ci.job) || !str_eq(a->ci.commit, b->ci.commit) ||
	    !str_eq(a->ci.ref, b->ci.ref) || !str_eq(a->ci.url, b->ci.url) ||
	    !str_eq(a->ci_token, b->ci_token) || !str_eq(a->note, b->note))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_job *job = NULL, *back = NULL;
	char id[JOB_ID_LEN + 1];
	char *s = NULL;
	size_t len = 0;
	int r, rp;

	r = job_parse(data, size, &job);
	rp = job_peek_id(data, size, id);
	if (r != 0) {
		if (job != NULL)
			abort();
		/* Unparseable JSON never yields an id. */
		if (r == SG_ERR_PARSE && rp == 0)
			abort();
		goto out;
	}
	if (rp != 0 || strcmp(id, job->id) != 0)
		abort();
	if (job_check_time(job, job->created, job->expires - job->created) != 0)
		abort();
	if (job_serialize(job, &s, &len) != 0)
		abort();
	if (job_parse((const uint8_t *)s, len, &back) != 0)
		abort();
	check_same(job, back);
out:
	job_free(back);
	job_free(job);
	free(s);
	return 0;
}
