/*
 * job.c — the job payload (docs/protocol.md §3).
 *
 * job_parse() is the one place where the syntax of a job is checked.  When
 * several things are wrong at once the answer must not depend on member
 * order or on chance, so the checks run in a fixed precedence, first match
 * wins:
 *
 *   1. not RFC 8259 JSON per json_parse() (bad UTF-8, nesting deeper than
 *      JSON_DEPTH_MAX, trailing data ...)           SG_ERR_PARSE
 *   2. the top level is not an object                SG_ERR_JOB_MALFORMED
 *   3. duplicate member names, escaped NUL or
 *      control characters anywhere                   SG_ERR_JOB_MALFORMED
 *   4. "v" missing or not an integer                 SG_ERR_JOB_MALFORMED
 *      "v" an integer other than 1                   SG_ERR_JOB_BAD_VERSION
 *   5. an unknown member at the top level, or inside
 *      "artifact", "ci", "authenticode" or "openpgp"
 *      when those are objects                        SG_ERR_JOB_UNKNOWN_FIELD
 *   6. everything else (types, presence, syntax of
 *      each member, expires <= created ...)          SG_ERR_JOB_MALFORMED
 *
 * The version comes before unknown members because a later version may
 * well add members: its senders deserve "bad_version", not "unknown_field".
 *
 * "Control characters" in job strings are C0 (U+0000..U+001F), DEL
 * (U+007F) and C1 (U+0080..U+009F), raw or escaped: none of them has a
 * place in a key, a file name or CI metadata, and C1 codes such as U+009B
 * (CSI) can drive terminals that display them.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "b64.h"
#include "job.h"
#include "json.h"
#include "sgtime.h"
#include "util.h"

/* 9999-12-31T23:59:59Z, the last second sgtime can write. */
#define JOB_TIME_MAX INT64_C(253402300799)

static const char *const job_members[] = {
	"v",
	"id",
	"created",
	"expires",
	"key",
	"format",
	"artifact",
	"ci",
	"ci_token",
	"note",
	"authenticode",
	"openpgp",
};
static const char *const artifact_members[] = { "name", "sha256", "size" };
static const char *const ci_members[] = {
	"system",
	"project",
	"pipeline",
	"job",
	"commit",
	"ref",
	"url",
};
static const char *const authenticode_members[] = { "image_sha256", "description", "url" };
static const char *const openpgp_members[] = { "mode", "state", "blocks", "tail" };
static const char *const ci_systems[] = { "gitlab", "jenkins", "github", "local" };

/* Indexed by enum sg_format. */
static const char *const format_names[SG_FORMAT_COUNT] = {
	[SG_FORMAT_RAW] = "raw",
	[SG_FORMAT_CMS] = "cms",
	[SG_FORMAT_AUTHENTICODE] = "authenticode",
	[SG_FORMAT_KMOD] = "kmod",
	[SG_FORMAT_OPENPGP] = "openpgp",
};

const char *
sg_format_name(enum sg_format f)
{
	if ((unsigned)f >= SG_FORMAT_COUNT)
		return NULL;
	return format_names[f];
}

int
sg_format_parse(const char *name, enum sg_format *ret)
{
	size_t i;

	if (name == NULL)
		return SG_ERR_PARSE;
	for (i = 0; i < SG_FORMAT_COUNT; i++) {
		if (strcmp(name, format_names[i]) == 0) {
			if (ret != NULL)
				*ret = (enum sg_format)i;
			return 0;
		}
	}
	return SG_ERR_PARSE;
}

int
job_check_artifact_name(const char *name, size_t len)
{
	if (name == NULL || len == 0 || len > ARTIFACT_NAME_MAX)
		return SG_ERR_JOB_MALFORMED;
	if (!json_text_ok(name, len) || memchr(name, '/', len) != NULL)
		return SG_ERR_JOB_MALFORMED;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return SG_ERR_JOB_MALFORMED;
	return 0;
}

/*
 * Copies string member `name` of obj into *ret: min..max bytes, no control
 * characters.  An absent member leaves *ret NULL and is an error only when
 * required.  Every failure is SG_ERR_JOB_MALFORMED (or SG_ERR_ALLOC).
 */
static int
get_text(const cJSON *obj, const char *name, int required, size_t min, size_t max, char **ret)
{
	const char *s;
	size_t len;
	int r;

	if ((r = json_get_string(obj, name, &s, &len)) != 0) {
		if (r == SG_ERR_NOT_FOUND && !required)
			return 0;
		return SG_ERR_JOB_MALFORMED;
	}
	if (len < min || len > max || !json_text_ok(s, len))
		return SG_ERR_JOB_MALFORMED;
	if ((*ret = strdup(s)) == NULL)
		return SG_ERR_ALLOC;
	return 0;
}

static int
get_time(const cJSON *obj, const char *name, int64_t *ret)
{
	return json_get_time(obj, name, ret) == 0 ? 0 : SG_ERR_JOB_MALFORMED;
}

/* Steps 4 and 5 of the precedence. */
static int
check_version_and_members(const cJSON *root)
{
	const cJSON *v, *o;

	v = json_get(root, "v");
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble != floor(v->valuedouble))
		return SG_ERR_JOB_MALFORMED;
	if (v->valuedouble != 1.0)
		return SG_ERR_JOB_BAD_VERSION;

	if (json_check_members(root, job_members, nitems(job_members), NULL) != 0)
		return SG_ERR_JOB_UNKNOWN_FIELD;
	if ((o = json_get(root, "artifact")) != NULL && cJSON_IsObject(o) &&
	    json_check_members(o, artifact_members, nitems(artifact_members), NULL) != 0)
		return SG_ERR_JOB_UNKNOWN_FIELD;
	if ((o = json_get(root, "ci")) != NULL && cJSON_IsObject(o) &&
	    json_check_members(o, ci_members, nitems(ci_members), NULL) != 0)
		return SG_ERR_JOB_UNKNOWN_FIELD;
	if ((o = json_get(root, "authenticode")) != NULL && cJSON_IsObject(o) &&
	    json_check_members(o, authenticode_members, nitems(authenticode_members), NULL) != 0)
		return SG_ERR_JOB_UNKNOWN_FIELD;
	if ((o = json_get(root, "openpgp")) != NULL && cJSON_IsObject(o) &&
	    json_check_members(o, openpgp_members, nitems(openpgp_members), NULL) != 0)
		return SG_ERR_JOB_UNKNOWN_FIELD;
	return 0;
}

/* 64 lowercase hex characters into 32 bytes. */
static int
get_sha256_hex(const cJSON *obj, const char *name, uint8_t out[SHA256_LEN])
{
	const char *hex;
	size_t len;

	if (json_get_string(obj, name, &hex, &len) != 0 || len != SHA256_HEX_LEN ||
	    !is_lower_hex(hex, SHA256_HEX_LEN) || hex_decode(hex, len, out, SHA256_LEN) != 0)
		return SG_ERR_JOB_MALFORMED;
	return 0;
}

int
job_check_authenticode_description(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0 || len > AUTHENTICODE_DESCRIPTION_MAX || !json_text_ok(s, len))
		return SG_ERR_JOB_MALFORMED;
	/* Inside the Basic Multilingual Plane: no 4-byte UTF-8 sequences. */
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xf8) == 0xf0)
			return SG_ERR_JOB_MALFORMED;
	}
	return 0;
}

int
job_check_authenticode_url(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0 || len > AUTHENTICODE_URL_MAX)
		return SG_ERR_JOB_MALFORMED;
	/* Printable ASCII without space. */
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return SG_ERR_JOB_MALFORMED;
	}
	return 0;
}

static int
parse_authenticode(const cJSON *root, struct sg_job *job)
{
	struct sg_authenticode *a;
	const cJSON *o;
	int r;

	if (json_get_object(root, "authenticode", &o) != 0)
		return SG_ERR_JOB_MALFORMED;
	if ((a = job->authenticode = calloc(1, sizeof(*a))) == NULL)
		return SG_ERR_ALLOC;
	if ((r = get_sha256_hex(o, "image_sha256", a->image_sha256)) != 0 ||
	    (r = get_text(o, "description", 0, 1, AUTHENTICODE_DESCRIPTION_MAX, &a->description)) !=
		0 ||
	    (r = get_text(o, "url", 0, 1, AUTHENTICODE_URL_MAX, &a->url)) != 0)
		return r;
	if (a->description != NULL &&
	    job_check_authenticode_description(a->description, strlen(a->description)) != 0)
		return SG_ERR_JOB_MALFORMED;
	if (a->url != NULL && job_check_authenticode_url(a->url, strlen(a->url)) != 0)
		return SG_ERR_JOB_MALFORMED;
	return 0;
}

static int
parse_openpgp(const cJSON *root, struct sg_job *job)
{
	struct sg_openpgp *p;
	const cJSON *o;
	const char *s;
	uint8_t state[SHA256_LEN], *tail = NULL;
	size_t len, tail_len = 0, i;
	int64_t blocks;

	if (json_get_object(root, "openpgp", &o) != 0)
		return SG_ERR_JOB_MALFORMED;
	if ((p = job->openpgp = calloc(1, sizeof(*p))) == NULL)
		return SG_ERR_ALLOC;
	if (json_get_string(o, "mode", &s, NULL) != 0)
		return SG_ERR_JOB_MALFORMED;
	if (strcmp(s, "binary") == 0)
		p->mode = SG_OPENPGP_BINARY;
	else if (strcmp(s, "text") == 0)
		p->mode = SG_OPENPGP_TEXT;
	else
		return SG_ERR_JOB_MALFORMED;
	if (get_sha256_hex(o, "state", state) != 0)
		return SG_ERR_JOB_MALFORMED;
	for (i = 0; i < 8; i++) {
		p->state[i] = (uint32_t)state[4 * i] << 24 | (uint32_t)state[4 * i + 1] << 16 |
		    (uint32_t)state[4 * i + 2] << 8 | state[4 * i + 3];
	}
	if (json_get_int(o, "blocks", 0, (int64_t)(ARTIFACT_SIZE_LIMIT / 64) - 1, &blocks) != 0)
		return SG_ERR_JOB_MALFORMED;
	p->blocks = (uint64_t)blocks;
	if (json_get_string(o, "tail", &s, &len) != 0 || len > 4 * ((OPENPGP_TAIL_MAX + 2) / 3) ||
	    b64_decode(s, len, &tail, &tail_len) != 0)
		return SG_ERR_JOB_MALFORMED;
	if (tail_len > OPENPGP_TAIL_MAX) {
		free(tail);
		return SG_ERR_JOB_MALFORMED;
	}
	if (tail_len > 0)
		memcpy(p->tail, tail, tail_len);
	p->tail_len = tail_len;
	free(tail);
	return 0;
}

static int
parse_artifact(const cJSON *root, struct sg_artifact *a)
{
	const cJSON *o;
	const char *hex;
	size_t len;
	int64_t size;
	int r;

	if (json_get_object(root, "artifact", &o) != 0)
		return SG_ERR_JOB_MALFORMED;
	if ((r = get_text(o, "name", 1, 1, ARTIFACT_NAME_MAX, &a->name)) != 0)
		return r;
	if (job_check_artifact_name(a->name, strlen(a->name)) != 0)
		return SG_ERR_JOB_MALFORMED;
	if (json_get_string(o, "sha256", &hex, &len) != 0 || len != SHA256_HEX_LEN ||
	    !is_lower_hex(hex, SHA256_HEX_LEN) || hex_decode(hex, len, a->sha256, SHA256_LEN) != 0)
		return SG_ERR_JOB_MALFORMED;
	memcpy(a->sha256_hex, hex, SHA256_HEX_LEN);
	a->sha256_hex[SHA256_HEX_LEN] = '\0';
	if (json_get_int(o, "size", 0, (int64_t)ARTIFACT_SIZE_LIMIT - 1, &size) != 0)
		return SG_ERR_JOB_MALFORMED;
	a->size = (uint64_t)size;
	return 0;
}

int
job_ci_parse(const struct cJSON *root, struct sg_ci *ci)
{
	const cJSON *o = json_get(root, "ci");
	size_t i;
	int r;

	if (o == NULL)
		return 0;
	if (!cJSON_IsObject(o))
		return SG_ERR_JOB_MALFORMED;
	/* job_parse() checked this already; results rely on it here. */
	if (json_check_members(o, ci_members, nitems(ci_members), NULL) != 0)
		return SG_ERR_JOB_UNKNOWN_FIELD;
	if ((r = get_text(o, "system", 0, 0, CI_FIELD_MAX, &ci->system)) != 0 ||
	    (r = get_text(o, "project", 0, 0, CI_FIELD_MAX, &ci->project)) != 0 ||
	    (r = get_text(o, "pipeline", 0, 0, CI_FIELD_MAX, &ci->pipeline)) != 0 ||
	    (r = get_text(o, "job", 0, 0, CI_FIELD_MAX, &ci->job)) != 0 ||
	    (r = get_text(o, "commit", 0, 0, CI_FIELD_MAX, &ci->commit)) != 0 ||
	    (r = get_text(o, "ref", 0, 0, CI_FIELD_MAX, &ci->ref)) != 0 ||
	    (r = get_text(o, "url", 0, 0, CI_FIELD_MAX, &ci->url)) != 0)
		return r;
	if (ci->system != NULL) {
		for (i = 0; i < nitems(ci_systems); i++) {
			if (strcmp(ci->system, ci_systems[i]) == 0)
				break;
		}
		if (i == nitems(ci_systems))
			return SG_ERR_JOB_MALFORMED;
	}
	return 0;
}

int
job_parse(const uint8_t *payload, size_t len, struct sg_job **ret)
{
	struct sg_job *job = NULL;
	cJSON *root = NULL;
	const char *s;
	size_t slen;
	unsigned flags = 0;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || (payload == NULL && len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;

	/* 1 */
	if ((r = json_parse(payload, len, &root, &flags)) != 0) {
		if (r != SG_ERR_ALLOC)
			r = SG_ERR_PARSE;
		goto out;
	}
	/* 2, 3 */
	r = SG_ERR_JOB_MALFORMED;
	if (!cJSON_IsObject(root))
		goto out;
	if (flags & (JSON_F_DUPLICATE | JSON_F_NUL_ESCAPE | JSON_F_CONTROL))
		goto out;
	/* 4, 5 */
	if ((r = check_version_and_members(root)) != 0)
		goto out;
	/* 6 */
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	job->v = 1;
	r = SG_ERR_JOB_MALFORMED;
	if (json_get_string(root, "id", &s, &slen) != 0 || slen != JOB_ID_LEN ||
	    !is_lower_hex(s, JOB_ID_LEN))
		goto out;
	memcpy(job->id, s, JOB_ID_LEN);
	job->id[JOB_ID_LEN] = '\0';
	if ((r = get_time(root, "created", &job->created)) != 0 ||
	    (r = get_time(root, "expires", &job->expires)) != 0)
		goto out;
	if (job->expires <= job->created) {
		r = SG_ERR_JOB_MALFORMED;
		goto out;
	}
	if ((r = get_text(root, "key", 1, 1, JOB_KEY_MAX, &job->key)) != 0)
		goto out;
	if (json_get_string(root, "format", &s, NULL) != 0 ||
	    sg_format_parse(s, &job->format) != 0) {
		r = SG_ERR_JOB_MALFORMED;
		goto out;
	}
	if ((r = parse_artifact(root, &job->artifact)) != 0)
		goto out;
	if ((r = job_ci_parse(root, &job->ci)) != 0)
		goto out;
	/* Only its size and text here: what it says is checked by whoever
	 * relies on it, against the issuer's keys (common/jwt.h). */
	if ((r = get_text(root, "ci_token", 0, 1, JOB_CI_TOKEN_MAX, &job->ci_token)) != 0)
		goto out;
	if ((r = get_text(root, "note", 0, 0, JOB_NOTE_MAX, &job->note)) != 0)
		goto out;
	/* The format's own member: there exactly when the format names it. */
	r = SG_ERR_JOB_MALFORMED;
	if ((json_get(root, "authenticode") != NULL) != (job->format == SG_FORMAT_AUTHENTICODE) ||
	    (json_get(root, "openpgp") != NULL) != (job->format == SG_FORMAT_OPENPGP))
		goto out;
	if (job->format == SG_FORMAT_AUTHENTICODE && (r = parse_authenticode(root, job)) != 0)
		goto out;
	if (job->format == SG_FORMAT_OPENPGP && (r = parse_openpgp(root, job)) != 0)
		goto out;

	*ret = job;
	job = NULL;
	r = 0;
out:
	job_free(job);
	cJSON_Delete(root);
	return r;
}

int
job_peek_id(const uint8_t *payload, size_t len, char ret_id[JOB_ID_LEN + 1])
{
	cJSON *root = NULL;
	const cJSON *c, *id = NULL;
	unsigned flags = 0;
	size_t n;
	int r = SG_ERR_INTERNAL;

	if (ret_id == NULL || (payload == NULL && len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = json_parse(payload, len, &root, &flags)) != 0) {
		if (r != SG_ERR_ALLOC)
			r = SG_ERR_PARSE;
		goto out;
	}
	r = SG_ERR_PARSE;
	/* json_parse() keeps strings whole across an escaped NUL (it becomes
	 * a control character), so "<32 hex>\u0000x" is not a valid id. */
	if (!cJSON_IsObject(root))
		goto out;
	for (c = root->child; c != NULL; c = c->next) {
		if (c->string == NULL || strcmp(c->string, "id") != 0)
			continue;
		if (id != NULL)
			goto out;
		id = c;
	}
	if (!cJSON_IsString(id) || id->valuestring == NULL)
		goto out;
	n = strlen(id->valuestring);
	if (n != JOB_ID_LEN || !is_lower_hex(id->valuestring, JOB_ID_LEN))
		goto out;
	memcpy(ret_id, id->valuestring, JOB_ID_LEN);
	ret_id[JOB_ID_LEN] = '\0';
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

static int
add_opt(cJSON *obj, const char *name, const char *s)
{
	return s == NULL ? 0 : json_add_string(obj, name, s);
}

static int
add_time(cJSON *obj, const char *name, int64_t t)
{
	char buf[SGTIME_LEN + 1];

	if (t < 0 || t > JOB_TIME_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	sgtime_format(t, buf);
	return json_add_string(obj, name, buf);
}

static int
add_authenticode(cJSON *root, const struct sg_authenticode *a)
{
	char hex[SHA256_HEX_LEN + 1];
	cJSON *o;
	int r;

	if ((o = cJSON_AddObjectToObject(root, "authenticode")) == NULL)
		return SG_ERR_ALLOC;
	hex_encode(a->image_sha256, SHA256_LEN, hex);
	if ((r = json_add_string(o, "image_sha256", hex)) != 0 ||
	    (r = add_opt(o, "description", a->description)) != 0 ||
	    (r = add_opt(o, "url", a->url)) != 0)
		return r;
	return 0;
}

static int
add_openpgp(cJSON *root, const struct sg_openpgp *p)
{
	char hex[SHA256_HEX_LEN + 1], *tail = NULL;
	uint8_t state[SHA256_LEN];
	cJSON *o;
	size_t i;
	int r;

	if (p->tail_len > OPENPGP_TAIL_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	if ((o = cJSON_AddObjectToObject(root, "openpgp")) == NULL)
		return SG_ERR_ALLOC;
	for (i = 0; i < 8; i++) {
		state[4 * i] = (uint8_t)(p->state[i] >> 24);
		state[4 * i + 1] = (uint8_t)(p->state[i] >> 16);
		state[4 * i + 2] = (uint8_t)(p->state[i] >> 8);
		state[4 * i + 3] = (uint8_t)p->state[i];
	}
	hex_encode(state, SHA256_LEN, hex);
	if ((r = b64_encode(p->tail, p->tail_len, &tail)) != 0)
		return r;
	if ((r = json_add_string(o, "mode", p->mode == SG_OPENPGP_TEXT ? "text" : "binary")) != 0 ||
	    (r = json_add_string(o, "state", hex)) != 0 ||
	    (r = json_add_int(o, "blocks", (int64_t)p->blocks)) != 0 ||
	    (r = json_add_string(o, "tail", tail)) != 0) {
		free(tail);
		return r;
	}
	free(tail);
	return 0;
}

int
job_ci_add(struct cJSON *root, const struct sg_ci *ci)
{
	cJSON *o;
	int r;

	if (ci->system == NULL && ci->project == NULL && ci->pipeline == NULL && ci->job == NULL &&
	    ci->commit == NULL && ci->ref == NULL && ci->url == NULL)
		return 0;
	if ((o = cJSON_AddObjectToObject(root, "ci")) == NULL)
		return SG_ERR_ALLOC;
	if ((r = add_opt(o, "system", ci->system)) != 0 ||
	    (r = add_opt(o, "project", ci->project)) != 0 ||
	    (r = add_opt(o, "pipeline", ci->pipeline)) != 0 ||
	    (r = add_opt(o, "job", ci->job)) != 0 || (r = add_opt(o, "commit", ci->commit)) != 0 ||
	    (r = add_opt(o, "ref", ci->ref)) != 0 || (r = add_opt(o, "url", ci->url)) != 0)
		return r;
	return 0;
}

void
job_ci_clear(struct sg_ci *ci)
{
	free(ci->system);
	free(ci->project);
	free(ci->pipeline);
	free(ci->job);
	free(ci->commit);
	free(ci->ref);
	free(ci->url);
	memset(ci, 0, sizeof(*ci));
}

int
job_serialize(const struct sg_job *job, char **ret, size_t *ret_len)
{
	cJSON *root = NULL, *o;
	struct sg_job *check = NULL;
	char hex[SHA256_HEX_LEN + 1];
	char *out = NULL;
	const char *fmt;
	size_t out_len = 0;
	const struct sg_ci *ci;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || ret_len == NULL || job == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	*ret_len = 0;
	ci = &job->ci;
	if (strnlen(job->id, sizeof(job->id)) != JOB_ID_LEN || job->key == NULL ||
	    job->artifact.name == NULL || (fmt = sg_format_name(job->format)) == NULL ||
	    job->artifact.size >= ARTIFACT_SIZE_LIMIT)
		return SG_ERR_INVALID_ARGUMENT;

	r = SG_ERR_ALLOC;
	if ((root = cJSON_CreateObject()) == NULL)
		goto out;
	if ((r = json_add_int(root, "v", 1)) != 0 ||
	    (r = json_add_string(root, "id", job->id)) != 0 ||
	    (r = add_time(root, "created", job->created)) != 0 ||
	    (r = add_time(root, "expires", job->expires)) != 0 ||
	    (r = json_add_string(root, "key", job->key)) != 0 ||
	    (r = json_add_string(root, "format", fmt)) != 0)
		goto out;
	if ((o = cJSON_AddObjectToObject(root, "artifact")) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	/* The digest bytes are what gets signed, so they are the source. */
	hex_encode(job->artifact.sha256, SHA256_LEN, hex);
	if ((r = json_add_string(o, "name", job->artifact.name)) != 0 ||
	    (r = json_add_string(o, "sha256", hex)) != 0 ||
	    (r = json_add_int(o, "size", (int64_t)job->artifact.size)) != 0)
		goto out;
	if ((r = job_ci_add(root, ci)) != 0)
		goto out;
	if ((r = add_opt(root, "ci_token", job->ci_token)) != 0 ||
	    (r = add_opt(root, "note", job->note)) != 0)
		goto out;
	if (job->authenticode != NULL && (r = add_authenticode(root, job->authenticode)) != 0)
		goto out;
	if (job->openpgp != NULL && (r = add_openpgp(root, job->openpgp)) != 0)
		goto out;
	if ((r = json_print(root, &out, &out_len)) != 0)
		goto out;
	/* Fail closed: never hand out a job that job_parse() would refuse. */
	if ((r = job_parse((const uint8_t *)out, out_len, &check)) != 0) {
		if (r != SG_ERR_ALLOC)
			r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	*ret = out;
	out = NULL;
	*ret_len = out_len;
	r = 0;
out:
	job_free(check);
	free(out);
	cJSON_Delete(root);
	return r;
}

int
job_check_time(const struct sg_job *job, int64_t now, int64_t max_lifetime)
{
	if (job == NULL || max_lifetime < 0)
		return SG_ERR_INVALID_ARGUMENT;
	/* Differences through uint64_t: exact whenever the left side is the
	 * larger, and free of signed overflow. */
	if (job->created > now && (uint64_t)job->created - (uint64_t)now > JOB_CLOCK_SKEW_S)
		return SG_ERR_JOB_NOT_YET_VALID;
	if (job->expires < now)
		return SG_ERR_JOB_EXPIRED;
	if (job->expires > job->created &&
	    (uint64_t)job->expires - (uint64_t)job->created > (uint64_t)max_lifetime)
		return SG_ERR_JOB_LIFETIME_TOO_LONG;
	return 0;
}

void
job_free(struct sg_job *job)
{
	if (job == NULL)
		return;
	free(job->key);
	free(job->artifact.name);
	job_ci_clear(&job->ci);
	if (job->ci_token != NULL)
		freezero(job->ci_token, strlen(job->ci_token));
	free(job->note);
	if (job->authenticode != NULL) {
		free(job->authenticode->description);
		free(job->authenticode->url);
		free(job->authenticode);
	}
	free(job->openpgp);
	free(job);
}
