/*
 * approval.h — the approval payload (docs/approvals.md,
 * application/vnd.signet.approval+json v1): an approver's decision on one
 * pending job, bound to the job's payload hash.
 *
 *   {"v": 1, "id": "<job id>", "job_sha256": "<hex>",
 *    "decision": "approve" | "deny", "created": "<RFC 3339>",
 *    "comment": "<optional, 1..256 bytes of text>"}
 */
#ifndef SG_APPROVAL_H
#define SG_APPROVAL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "job.h"

#define APPROVAL_COMMENT_MAX  256
/* An approval's "created" may lie this far in the agent's future. */
#define APPROVAL_CLOCK_SKEW_S JOB_CLOCK_SKEW_S

enum sg_decision { SG_DECISION_APPROVE = 0, SG_DECISION_DENY = 1 };

struct sg_approval {
	char id[JOB_ID_LEN + 1];
	char job_sha256[SHA256_HEX_LEN + 1];
	enum sg_decision decision;
	int64_t created;
	char *comment; /* NULL when absent */
};

/*
 * Strict parse, as strict as job_parse(): SG_ERR_PARSE for anything that is
 * not exactly the payload above (unknown or duplicate members, wrong types,
 * v other than 1, an id or job_sha256 that is not lowercase hex of the
 * right length, a time that is not RFC 3339 UTC with whole seconds, a
 * comment empty, longer than APPROVAL_COMMENT_MAX or holding control
 * characters, invalid UTF-8, deep nesting).  SG_ERR_ALLOC.  Caller frees
 * with approval_free().
 */
int approval_parse(const uint8_t *buf, size_t len, struct sg_approval **ret) SG_MUST_CHECK;

/* Serializes a (checked with approval_parse()); caller frees *ret. */
int approval_serialize(const struct sg_approval *a, char **ret, size_t *ret_len) SG_MUST_CHECK;

void approval_free(struct sg_approval *a);

/* "approve" or "deny". */
const char *approval_decision_name(enum sg_decision d);

#endif
