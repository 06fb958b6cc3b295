/*
 * approvals.c — what the agent made of an approver's decision (client.h),
 * judged from two verified results of the job: the pending one read before
 * the decision was pushed, and the latest.  No I/O, so the unit tests can
 * feed it any pair.
 *
 * The agent answers an approval only by rewriting the job's result:
 * counted, the approver's keyid joins the received list (and, once the job
 * is signed, its approvals); refused, a refused entry names the keyid and
 * why; a denial rejects the job with approval.denied and the message
 * "denied by <identity> (<keyid>)[: <comment>]".  A refused entry that was
 * there before our push is about an earlier decision, not this one.
 */
#include <string.h>

#include "client.h"

#define DENIED_PREFIX "denied by "

int
approve_has_keyid(const struct sg_result *res, const char *keyid)
{
	size_t i;

	if (!res->has_approvals)
		return 0;
	for (i = 0; i < res->napprovals && i < RESULT_APPROVALS_MAX; i++)
		if (strcmp(res->approvals[i].keyid, keyid) == 0)
			return 1;
	return 0;
}

/*
 * The identity comes from the agent's policy and the comment from an
 * approver: the keyid that counts is in the first " (sha256:" after the
 * prefix, which a comment (after the closing ")" and ": ") cannot move.
 */
int
approve_denied_by(const char *message, const char *keyid)
{
	const char *p, *end;
	size_t n = strlen(keyid);

	if (message == NULL || n == 0 ||
	    strncmp(message, DENIED_PREFIX, strlen(DENIED_PREFIX)) != 0)
		return 0;
	if ((p = strstr(message + strlen(DENIED_PREFIX), " (" KEYID_PREFIX)) == NULL)
		return 0;
	p += 2;
	if ((end = strchr(p, ')')) == NULL || (size_t)(end - p) != n || strncmp(p, keyid, n) != 0)
		return 0;
	return end[1] == '\0' || (end[1] == ':' && end[2] == ' ');
}

static int
same_refusal(const struct sg_result_refusal *a, const struct sg_result_refusal *b)
{
	return strcmp(a->keyid, b->keyid) == 0 && a->at == b->at &&
	    strcmp(a->why != NULL ? a->why : "", b->why != NULL ? b->why : "") == 0;
}

/* The index of a refused entry for keyid in now that before did not have,
 * or -1. */
static long
new_refusal(const struct sg_result *before, const struct sg_result *now, const char *keyid)
{
	size_t i, j;
	int seen;

	for (i = 0; i < now->nrefused && i < RESULT_REFUSED_MAX; i++) {
		if (strcmp(now->refused[i].keyid, keyid) != 0)
			continue;
		seen = 0;
		for (j = 0; before != NULL && j < before->nrefused && j < RESULT_REFUSED_MAX; j++)
			if (same_refusal(&now->refused[i], &before->refused[j]))
				seen = 1;
		if (!seen)
			return (long)i;
	}
	return -1;
}

enum approve_outcome
approve_outcome(const struct sg_result *before, const struct sg_result *now, const char *keyid,
    enum sg_decision d, size_t *ret_refused)
{
	long k;

	switch (now->status) {
	case SG_STATUS_PENDING:
		if (d == SG_DECISION_APPROVE && approve_has_keyid(now, keyid))
			return APPROVE_COUNTED;
		if ((k = new_refusal(before, now, keyid)) >= 0) {
			if (ret_refused != NULL)
				*ret_refused = (size_t)k;
			return APPROVE_REFUSED;
		}
		return APPROVE_WAITING;
	case SG_STATUS_SIGNED:
		return d == SG_DECISION_APPROVE && approve_has_keyid(now, keyid) ? APPROVE_COUNTED
										 : APPROVE_DECIDED;
	case SG_STATUS_REJECTED:
		if (d == SG_DECISION_DENY && now->error_code != NULL &&
		    strcmp(now->error_code, "approval.denied") == 0 &&
		    approve_denied_by(now->error_message, keyid))
			return APPROVE_COUNTED;
		return APPROVE_DECIDED;
	case SG_STATUS_FAILED:
		break;
	}
	return APPROVE_DECIDED;
}
