/*
 * fuzz_approval.c — approval_parse() on hostile bytes (approvals arrive
 * from Redis like jobs).  Invariants: a refused input hands out nothing;
 * an approval that parses serializes, and the serialization parses back
 * to an equal approval; what parses keeps the payload's limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "json.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* What approval_parse() promises of what it accepts. */
static void
check_limits(const struct sg_approval *a)
{
	size_t len;

	if (strlen(a->id) != JOB_ID_LEN || !is_lower_hex(a->id, JOB_ID_LEN) ||
	    strlen(a->job_sha256) != SHA256_HEX_LEN ||
	    !is_lower_hex(a->job_sha256, SHA256_HEX_LEN) ||
	    (a->decision != SG_DECISION_APPROVE && a->decision != SG_DECISION_DENY) ||
	    a->created < 0)
		abort();
	if (a->comment != NULL) {
		len = strlen(a->comment);
		if (len == 0 || len > APPROVAL_COMMENT_MAX || !json_text_ok(a->comment, len))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_approval *a = NULL, *back = NULL;
	char *s = NULL;
	size_t len = 0;

	if (approval_parse(data, size, &a) != 0) {
		if (a != NULL)
			abort();
		goto out;
	}
	check_limits(a);
	if (approval_serialize(a, &s, &len) != 0 || s == NULL || len != strlen(s))
		abort();
	if (approval_parse((const uint8_t *)s, len, &back) != 0)
		abort();
	if (strcmp(a->id, back->id) != 0 || strcmp(a->job_sha256, back->job_sha256) != 0 ||
	    a->decision != back->decision || a->created != back->created ||
	    !str_eq(a->comment, back->comment))
		abort();
out:
	approval_free(back);
	approval_free(a);
	free(s);
	return 0;
}
