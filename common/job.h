/*
 * job.h — the job payload (docs/protocol.md §3, application/vnd.signet.job+json v1).
 *
 *   {"v": 1, "id": "<32 lowercase hex>", "created": "<RFC 3339>",
 *    "expires": "<RFC 3339>", "key": "<name>",
 *    "format": "raw" | "cms" | "authenticode" | "kmod" | "openpgp",
 *    "artifact": {"name": "...", "sha256": "<64 hex>", "size": <n>},
 *    "ci": {"system": ..., "project": ..., "pipeline": ..., "job": ...,
 *           "commit": ..., "ref": ..., "url": ...},
 *    "ci_token": "<the CI system's signed identity token>",
 *    "note": "...",
 *    "authenticode": {"image_sha256": "<64 hex>", "description": "...", "url": "..."},
 *    "openpgp": {"mode": "binary" | "text", "state": "<64 hex>", "blocks": <n>,
 *                "tail": "<base64 of 0..63 bytes>"}}
 *
 * The format's member ("authenticode", "openpgp") is present exactly when
 * "format" names that format (docs/protocol.md §4).
 *
 * Parsing is purely syntactic (bytes in, struct out); the checks against
 * the clock and the policy belong to the agent.
 */
#ifndef SG_JOB_H
#define SG_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

#define JOB_ID_LEN          32   /* lowercase hex characters */
#define JOB_KEY_MAX         128  /* bytes of a signing key name */
#define ARTIFACT_NAME_MAX   200  /* bytes */
#define CI_FIELD_MAX        512  /* bytes of each ci member */
#define JOB_NOTE_MAX        256  /* bytes */
#define JOB_CI_TOKEN_MAX    8192 /* bytes of ci_token (docs/protocol.md §3: at most 8 KiB) */
#define ARTIFACT_SIZE_LIMIT ((uint64_t)1 << 53) /* sizes are below this */

#define AUTHENTICODE_DESCRIPTION_MAX 256 /* bytes of authenticode.description */
#define AUTHENTICODE_URL_MAX         512 /* bytes of authenticode.url */
#define OPENPGP_TAIL_MAX             63  /* bytes of openpgp.tail */

enum sg_format {
	SG_FORMAT_RAW = 0,
	SG_FORMAT_CMS = 1,
	SG_FORMAT_AUTHENTICODE = 2,
	SG_FORMAT_KMOD = 3,
	SG_FORMAT_OPENPGP = 4,
};
#define SG_FORMAT_COUNT 5

/* "raw", "cms", "authenticode", "kmod", "openpgp"; NULL for an unknown value. */
const char *sg_format_name(enum sg_format f);
/* 0 and *ret, or SG_ERR_PARSE for a name that is not a known format. */
int sg_format_parse(const char *name, enum sg_format *ret) SG_MUST_CHECK;

struct sg_artifact {
	char *name; /* 1..ARTIFACT_NAME_MAX bytes, checked */
	uint8_t sha256[SHA256_LEN];
	char sha256_hex[SHA256_HEX_LEN + 1];
	uint64_t size;
};

/* Every member optional (NULL when absent). */
struct sg_ci {
	char *system; /* "gitlab" | "jenkins" | "github" | "local" */
	char *project;
	char *pipeline;
	char *job;
	char *commit;
	char *ref;
	char *url;
};

/* The "authenticode" member: the Authenticode image digest that the
 * submitter computed, and the optional SpcSpOpusInfo texts.  description
 * is text whose characters all lie in Unicode's Basic Multilingual Plane
 * (it becomes a BMPString); url is printable ASCII without spaces (an
 * IA5String). */
struct sg_authenticode {
	uint8_t image_sha256[SHA256_LEN];
	char *description; /* NULL when absent; 1..AUTHENTICODE_DESCRIPTION_MAX bytes */
	char *url;         /* NULL when absent; 1..AUTHENTICODE_URL_MAX bytes */
};

enum sg_openpgp_mode { SG_OPENPGP_BINARY = 0, SG_OPENPGP_TEXT = 1 };

/* The "openpgp" member: the SHA-256 state after the data's whole 64-byte
 * blocks, and the bytes that follow them. */
struct sg_openpgp {
	enum sg_openpgp_mode mode;
	uint32_t state[8];
	uint64_t blocks; /* below 2^53 / 64 */
	uint8_t tail[OPENPGP_TAIL_MAX];
	size_t tail_len;
};

struct sg_job {
	int v; /* always 1 after a successful parse */
	char id[JOB_ID_LEN + 1];
	int64_t created; /* seconds since the epoch */
	int64_t expires;
	char *key;
	enum sg_format format;
	struct sg_artifact artifact;
	struct sg_ci ci;
	/* The CI system's identity token (a compact JWS), as sent: 1 to
	 * JOB_CI_TOKEN_MAX bytes, syntax unchecked here (common/jwt.h verifies
	 * it).  A bearer credential: never logged; job_free() wipes it.  NULL
	 * when absent. */
	char *ci_token;
	char *note; /* NULL when absent */
	/* The format's member: set exactly when format names it. */
	struct sg_authenticode *authenticode;
	struct sg_openpgp *openpgp;
};

/*
 * Strict parse of a job payload.
 *   SG_ERR_PARSE          not JSON per json_parse() (invalid UTF-8, nesting
 *                         deeper than JSON_DEPTH_MAX ...) — no result is owed
 *   SG_ERR_JOB_UNKNOWN_FIELD  a member not in docs/protocol.md §3 (top level,
 *                         artifact, ci, authenticode, openpgp)
 *   SG_ERR_JOB_BAD_VERSION    "v" an integer other than 1
 *   SG_ERR_JOB_MALFORMED      everything else: not an object, duplicates,
 *       missing required members, wrong types, escaped control characters
 *       or NUL in strings, bad id/sha256/time syntax, expires <= created,
 *       unknown format name, artifact name rules, sizes, ci.system value,
 *       over-long strings (ci_token: not a string, empty, or over
 *       JOB_CI_TOKEN_MAX bytes).
 * "Control characters" are C0, DEL and C1 (U+0080..U+009F), raw or
 * escaped; no job string may hold one.  When several things are wrong, the
 * precedence documented at the top of job.c decides the code.
 * Caller frees with job_free().
 */
int job_parse(const uint8_t *payload, size_t len, struct sg_job **ret) SG_MUST_CHECK;

/*
 * Finds the id that a result is owed to (docs/errors.md): the payload must pass
 * json_parse(), be an object, and hold exactly one member "id" whose value
 * is a string of JOB_ID_LEN lowercase hex characters.  Writes it to ret_id
 * (JOB_ID_LEN+1 bytes).  SG_ERR_PARSE otherwise, and also when the text
 * holds an escaped \u0000 anywhere (cJSON cuts strings there, so
 * "<id>\u0000x" would otherwise read as a valid id).
 */
int job_peek_id(const uint8_t *payload, size_t len, char ret_id[JOB_ID_LEN + 1]) SG_MUST_CHECK;

/* Serializes a job as compact JSON with members in the order of docs/protocol.md §3; absent
 * optional members are left out (and "ci" when all its members are).
 * "v" is always 1; artifact.sha256 is written from the digest bytes
 * (sha256_hex is not read).  The output is checked with job_parse():
 * SG_ERR_INVALID_ARGUMENT for a job that it would refuse.  Caller frees
 * *ret. */
int job_serialize(const struct sg_job *job, char **ret, size_t *ret_len) SG_MUST_CHECK;

/* Checks an artifact name per docs/protocol.md §3 (1..200 bytes, valid UTF-8, no '/',
 * no control characters or NUL, not "." or ".."); 0 or
 * SG_ERR_JOB_MALFORMED. */
int job_check_artifact_name(const char *name, size_t len) SG_MUST_CHECK;

/* The authenticode member's texts (docs/protocol.md §3): a description of
 * 1..AUTHENTICODE_DESCRIPTION_MAX bytes of text whose characters all lie
 * in Unicode's Basic Multilingual Plane (a BMPString holds it); a url of
 * 1..AUTHENTICODE_URL_MAX printable ASCII characters without space (an
 * IA5String).  0 or SG_ERR_JOB_MALFORMED. */
int job_check_authenticode_description(const char *s, size_t len) SG_MUST_CHECK;
int job_check_authenticode_url(const char *s, size_t len) SG_MUST_CHECK;

/* Time checks of docs/protocol.md §3 against `now`: SG_ERR_JOB_NOT_YET_VALID (created
 * more than JOB_CLOCK_SKEW_S in the future), SG_ERR_JOB_EXPIRED (expires
 * before now), SG_ERR_JOB_LIFETIME_TOO_LONG (expires - created >
 * max_lifetime). */
#define JOB_CLOCK_SKEW_S 60
int job_check_time(const struct sg_job *job, int64_t now, int64_t max_lifetime) SG_MUST_CHECK;

void job_free(struct sg_job *job);

/* The "ci" member, shared with results (common/result.h).  job_ci_parse()
 * reads member "ci" of object root into ci (absent: ci untouched, 0) with
 * the rules above: SG_ERR_JOB_MALFORMED, SG_ERR_JOB_UNKNOWN_FIELD (a member
 * that is not one of struct sg_ci's), SG_ERR_ALLOC; on error ci may
 * hold some members (job_ci_clear() them).  job_ci_add() adds it to root
 * unless every member is NULL.  job_ci_clear() frees the members. */
struct cJSON;
int job_ci_parse(const struct cJSON *root, struct sg_ci *ci) SG_MUST_CHECK;
int job_ci_add(struct cJSON *root, const struct sg_ci *ci) SG_MUST_CHECK;
void job_ci_clear(struct sg_ci *ci);

#endif
