/*
 * approval.c — the approval payload (docs/approvals.md).
 *
 * Approvals arrive from Redis like jobs and are parsed as strictly: every
 * failure is SG_ERR_PARSE, and approval_serialize() checks its own output
 * with approval_parse().
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "approval.h"
#include "json.h"
#include "sgtime.h"
#include "util.h"

static const char *const approval_members[] = {
	"v",
	"id",
	"job_sha256",
	"decision",
	"created",
	"comment",
};

void
approval_free(struct sg_approval *a)
{
	if (a == NULL)
		return;
	free(a->comment);
	free(a);
}

const char *
approval_decision_name(enum sg_decision d)
{
	return d == SG_DECISION_DENY ? "deny" : "approve";
}

int
approval_parse(const uint8_t *buf, size_t len, struct sg_approval **ret)
{
	struct sg_approval *a = NULL;
	cJSON *root = NULL;
	const char *s;
	size_t slen;
	unsigned flags = 0;
	int64_t v;
	int r;

	if (ret == NULL || (buf == NULL && len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	if ((r = json_parse(buf, len, &root, &flags)) != 0) {
		if (r != SG_ERR_ALLOC)
			r = SG_ERR_PARSE;
		goto out;
	}
	r = SG_ERR_PARSE;
	if (!cJSON_IsObject(root) ||
	    (flags & (JSON_F_DUPLICATE | JSON_F_NUL_ESCAPE | JSON_F_CONTROL)) ||
	    json_check_members(root, approval_members, nitems(approval_members), NULL) != 0 ||
	    json_get_int(root, "v", 1, 1, &v) != 0)
		goto out;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (json_get_hex(root, "id", JOB_ID_LEN, a->id) != 0 ||
	    json_get_hex(root, "job_sha256", SHA256_HEX_LEN, a->job_sha256) != 0)
		goto out;
	if (json_get_string(root, "decision", &s, NULL) != 0)
		goto out;
	if (strcmp(s, "approve") == 0)
		a->decision = SG_DECISION_APPROVE;
	else if (strcmp(s, "deny") == 0)
		a->decision = SG_DECISION_DENY;
	else
		goto out;
	if (json_get_time(root, "created", &a->created) != 0)
		goto out;
	if (json_get(root, "comment") != NULL) {
		if (json_get_string(root, "comment", &s, &slen) != 0 || slen == 0 ||
		    slen > APPROVAL_COMMENT_MAX || !json_text_ok(s, slen))
			goto out;
		if ((a->comment = strdup(s)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
	}
	*ret = a;
	a = NULL;
	r = 0;
out:
	approval_free(a);
	cJSON_Delete(root);
	return r;
}

int
approval_serialize(const struct sg_approval *a, char **ret, size_t *ret_len)
{
	struct sg_approval *check = NULL;
	cJSON *root = NULL;
	char when[SGTIME_LEN + 1];
	char *out = NULL;
	size_t out_len = 0;
	int r;

	if (a == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	*ret_len = 0;
	if (a->created < 0 ||
	    (a->decision != SG_DECISION_APPROVE && a->decision != SG_DECISION_DENY) ||
	    strnlen(a->id, sizeof(a->id)) == sizeof(a->id) ||
	    strnlen(a->job_sha256, sizeof(a->job_sha256)) == sizeof(a->job_sha256))
		return SG_ERR_INVALID_ARGUMENT;
	sgtime_format(a->created, when);
	if ((root = cJSON_CreateObject()) == NULL)
		return SG_ERR_ALLOC;
	if ((r = json_add_int(root, "v", 1)) != 0 ||
	    (r = json_add_string(root, "id", a->id)) != 0 ||
	    (r = json_add_string(root, "job_sha256", a->job_sha256)) != 0 ||
	    (r = json_add_string(root, "decision", approval_decision_name(a->decision))) != 0 ||
	    (r = json_add_string(root, "created", when)) != 0 ||
	    (a->comment != NULL && (r = json_add_string(root, "comment", a->comment)) != 0))
		goto out;
	if ((r = json_print(root, &out, &out_len)) != 0)
		goto out;
	/* Fail closed: never sign what the agent would refuse. */
	if ((r = approval_parse((const uint8_t *)out, out_len, &check)) != 0) {
		r = r == SG_ERR_ALLOC ? r : SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	*ret = out;
	*ret_len = out_len;
	out = NULL;
	r = 0;
out:
	approval_free(check);
	free(out);
	cJSON_Delete(root);
	return r;
}
