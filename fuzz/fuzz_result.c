/*
 * fuzz_result.c — result_parse() on hostile bytes.  Invariant: a result
 * that parses serializes, and the serialization parses back to an equal
 * result (error codes compare by value: a code from a later protocol version is kept
 * as text but goes out again as "internal"), the job's facts (ci, note,
 * expires) and the approvals of pending, signed and rejected results
 * included.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
blob_eq(const struct sg_blob *a, const struct sg_blob *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void
check_same_facts(const struct sg_result *a, const struct sg_result *b)
{
	if (!str_eq(a->ci.system, b->ci.system) || !str_eq(a->ci.project, b->ci.project) ||
	    !str_eq(a->ci.pipeline, b->ci.pipeline) || !str_eq(a->ci.job, b->ci.job) ||
	    !str_eq(a->ci.commit, b->ci.commit) || !str_eq(a->ci.ref, b->ci.ref) ||
	    !str_eq(a->ci.url, b->ci.url) || !str_eq(a->note, b->note) || a->expires != b->expires)
		abort();
}

/* The approvals, and what a pending result must carry. */
static void
check_same_approvals(const struct sg_result *a, const struct sg_result *b)
{
	size_t i;

	if (a->has_approvals != b->has_approvals ||
	    a->approvals_required != b->approvals_required || a->napprovals != b->napprovals ||
	    a->nrefused != b->nrefused || a->nnotified != b->nnotified ||
	    !str_eq(a->entry, b->entry) || a->napprovals > RESULT_APPROVALS_MAX ||
	    a->nrefused > RESULT_REFUSED_MAX || a->nnotified > RESULT_NOTIFIED_MAX)
		abort();
	if (a->status == SG_STATUS_PENDING &&
	    (!a->has_approvals || a->approvals_required < 1 ||
		a->approvals_required > RESULT_APPROVALS_MAX || a->entry == NULL ||
		a->expires == 0 || a->error != 0 || a->submitter == NULL || !a->has_artifact))
		abort();
	if (a->status != SG_STATUS_PENDING &&
	    (a->entry != NULL || a->approvals_required != 0 || a->nrefused != 0 ||
		a->nnotified != 0))
		abort();
	for (i = 0; i < a->napprovals; i++) {
		if (!str_eq(a->approvals[i].approver, b->approvals[i].approver) ||
		    strcmp(a->approvals[i].keyid, b->approvals[i].keyid) != 0 ||
		    a->approvals[i].at != b->approvals[i].at ||
		    !str_eq(a->approvals[i].comment, b->approvals[i].comment))
			abort();
	}
	for (i = 0; i < a->nrefused; i++) {
		if (strcmp(a->refused[i].keyid, b->refused[i].keyid) != 0 ||
		    !str_eq(a->refused[i].approver, b->refused[i].approver) ||
		    !str_eq(a->refused[i].why, b->refused[i].why) ||
		    a->refused[i].at != b->refused[i].at)
			abort();
	}
	for (i = 0; i < a->nnotified; i++) {
		if (!str_eq(a->notified[i], b->notified[i]))
			abort();
	}
}

static void
check_same(const struct sg_result *a, const struct sg_result *b)
{
	size_t i;

	if (strcmp(a->id, b->id) != 0 || a->status != b->status || a->error != b->error ||
	    !str_eq(a->error_message, b->error_message) ||
	    strcmp(a->job_sha256, b->job_sha256) != 0 || !str_eq(a->agent, b->agent) ||
	    !str_eq(a->submitter, b->submitter) || !str_eq(a->key, b->key) ||
	    !str_eq(a->format, b->format) || a->has_artifact != b->has_artifact ||
	    !blob_eq(&a->signature, &b->signature) || a->ncerts != b->ncerts ||
	    a->signed_at != b->signed_at || a->audit_seq != b->audit_seq ||
	    strcmp(a->audit_hash, b->audit_hash) != 0 ||
	    !str_eq(a->store_signature, b->store_signature) ||
	    !str_eq(a->store_result, b->store_result))
		abort();
	if (a->has_artifact &&
	    (!str_eq(a->artifact.name, b->artifact.name) || a->artifact.size != b->artifact.size ||
		memcmp(a->artifact.sha256, b->artifact.sha256, SHA256_LEN) != 0))
		abort();
	for (i = 0; i < a->ncerts; i++) {
		if (!blob_eq(&a->certs[i], &b->certs[i]))
			abort();
	}
	check_same_facts(a, b);
	check_same_approvals(a, b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_result *res = NULL, *back = NULL;
	char *s = NULL;
	size_t len = 0;

	if (result_parse(data, size, &res) != 0) {
		if (res != NULL)
			abort();
		goto out;
	}
	if (result_serialize(res, &s, &len) != 0)
		abort();
	if (result_parse((const uint8_t *)s, len, &back) != 0)
		abort();
	check_same(res, back);
out:
	result_free(back);
	result_free(res);
	free(s);
	return 0;
}
