/*
 * fuzz_job.c — job_parse() and job_peek_id() on hostile bytes.
 * Invariants: a job that parses serializes, and the serialization parses
 * back to an equal job (the format's member, "authenticode" or "openpgp",
 * included); a job that parses has an id that job_peek_id() finds, and
 * the format's member exactly when its format names one, within its
 * limits; the time checks never fail on a parsed job's own times.
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

static int
same_authenticode(const struct sg_authenticode *a, const struct sg_authenticode *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return memcmp(a->image_sha256, b->image_sha256, SHA256_LEN) == 0 &&
	    str_eq(a->description, b->description) && str_eq(a->url, b->url);
}

static int
same_openpgp(const struct sg_openpgp *a, const struct sg_openpgp *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->mode == b->mode && memcmp(a->state, b->state, sizeof(a->state)) == 0 &&
	    a->blocks == b->blocks && a->tail_len == b->tail_len &&
	    memcmp(a->tail, b->tail, a->tail_len) == 0;
}

/* Whether UTF-8 s has no character beyond U+FFFF (no 4-byte sequence). */
static int
in_bmp(const char *s)
{
	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xf8) == 0xf0)
			return 0;
	}
	return 1;
}

/* Whether s is printable ASCII without space. */
static int
url_chars(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	}
	return 1;
}

/* The format's member is there exactly with its format, within limits. */
static void
check_member(const struct sg_job *j)
{
	const struct sg_authenticode *a = j->authenticode;
	const struct sg_openpgp *p = j->openpgp;

	if ((a != NULL) != (j->format == SG_FORMAT_AUTHENTICODE) ||
	    (p != NULL) != (j->format == SG_FORMAT_OPENPGP))
		abort();
	if (a != NULL &&
	    ((a->description != NULL &&
		 (a->description[0] == '\0' ||
		     strlen(a->description) > AUTHENTICODE_DESCRIPTION_MAX)) ||
		(a->url != NULL && (a->url[0] == '\0' || strlen(a->url) > AUTHENTICODE_URL_MAX))))
		abort();
	if (a != NULL &&
	    ((a->description != NULL && !in_bmp(a->description)) ||
		(a->url != NULL && !url_chars(a->url))))
		abort();
	if (p != NULL &&
	    ((p->mode != SG_OPENPGP_BINARY && p->mode != SG_OPENPGP_TEXT) ||
		p->tail_len > OPENPGP_TAIL_MAX || p->blocks >= ARTIFACT_SIZE_LIMIT / 64))
		abort();
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
	    !str_eq(a->ci_token, b->ci_token) || !str_eq(a->note, b->note) ||
	    !same_authenticode(a->authenticode, b->authenticode) ||
	    !same_openpgp(a->openpgp, b->openpgp))
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
	check_member(job);
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
