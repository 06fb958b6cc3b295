/*
 * result.c — the result payload (docs/protocol.md §5).
 *
 * Results are written by the agent and read by submit-job, which must not
 * trust anything it did not check: result_parse() is as strict as
 * job_parse(), and every failure is SG_ERR_PARSE.  result_serialize()
 * checks its own output with result_parse(), so the agent can never publish
 * a result that submitters would refuse.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "approval.h"
#include "b64.h"
#include "json.h"
#include "result.h"
#include "sgtime.h"
#include "util.h"

/* Base64 characters of RESULT_SIGNATURE_MAX bytes: checked before decoding. */
#define RESULT_SIGNATURE_B64_MAX (((RESULT_SIGNATURE_MAX + 2) / 3) * 4)

static const char *const result_members[] = {
	"v",
	"id",
	"status",
	"error",
	"job_sha256",
	"submitter",
	"key",
	"format",
	"artifact",
	"signature",
	"certificates",
	"signed_at",
	"agent",
	"audit",
	"store",
	"timestamp",
	"ci",
	"note",
	"expires",
	"approvals",
	"entry",
};
static const char *const error_members[] = { "code", "message" };
static const char *const artifact_members[] = { "name", "sha256", "size" };
static const char *const audit_members[] = {
	"seq",
	"hash",
	"index",
	"tree_size",
	"root",
	"proof",
	"record",
	"checkpoints",
};
/* The inclusion proof: all of these or none. */
static const char *const proof_members[] = { "index", "tree_size", "root", "proof", "record" };
static const char *const store_members[] = { "signature", "result" };
static const char *const timestamp_members[] = { "time", "tsa" };
static const char *const pending_members[] = { "required", "received", "refused", "notified" };
static const char *const approval_members[] = { "approver", "keyid", "at", "comment" };
static const char *const refusal_members[] = { "keyid", "approver", "why", "at" };
/* The members that go with status "signed" only. */
static const char *const signed_members[] = {
	"signature",
	"certificates",
	"signed_at",
	"audit",
	"store",
	"timestamp",
};

void
result_free(struct sg_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->error_code);
	free(r->error_message);
	free(r->agent);
	free(r->submitter);
	free(r->key);
	free(r->format);
	free(r->artifact.name);
	free(r->signature.data);
	for (i = 0; i < r->ncerts && i < RESULT_CERTS_MAX; i++)
		free(r->certs[i].data);
	free(r->audit_record);
	free(r->audit_checkpoints);
	free(r->timestamp_tsa);
	free(r->store_signature);
	free(r->store_result);
	job_ci_clear(&r->ci);
	free(r->note);
	for (i = 0; i < r->napprovals && i < RESULT_APPROVALS_MAX; i++) {
		free(r->approvals[i].approver);
		free(r->approvals[i].comment);
	}
	for (i = 0; i < r->nrefused && i < RESULT_REFUSED_MAX; i++) {
		free(r->refused[i].approver);
		free(r->refused[i].why);
	}
	for (i = 0; i < r->nnotified && i < RESULT_NOTIFIED_MAX; i++)
		free(r->notified[i]);
	free(r->entry);
	free(r);
}

/* String member: min..max bytes of acceptable text, copied.  An absent
 * member leaves *ret alone and is SG_ERR_NOT_FOUND. */
static int
get_text(const cJSON *obj, const char *name, size_t min, size_t max, char **ret)
{
	const char *s;
	size_t len;
	int r;

	if ((r = json_get_string(obj, name, &s, &len)) != 0)
		return r == SG_ERR_NOT_FOUND ? r : SG_ERR_PARSE;
	if (len < min || len > max || !json_text_ok(s, len))
		return SG_ERR_PARSE;
	if ((*ret = strdup(s)) == NULL)
		return SG_ERR_ALLOC;
	return 0;
}

/* Base64 string member decoded to 1..max bytes. */
static int
get_blob(const cJSON *v, size_t max, struct sg_blob *ret)
{
	uint8_t *data = NULL;
	size_t len, data_len = 0;
	int r;

	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return SG_ERR_PARSE;
	len = strlen(v->valuestring);
	if (len == 0 || len > ((max + 2) / 3) * 4)
		return SG_ERR_PARSE;
	if ((r = b64_decode(v->valuestring, len, &data, &data_len)) != 0)
		return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
	if (data_len == 0 || data_len > max) {
		free(data);
		return SG_ERR_PARSE;
	}
	ret->data = data;
	ret->len = data_len;
	return 0;
}

static int
parse_artifact(const cJSON *o, struct sg_artifact *a)
{
	int64_t size;
	int r;

	if (!cJSON_IsObject(o) ||
	    json_check_members(o, artifact_members, nitems(artifact_members), NULL) != 0)
		return SG_ERR_PARSE;
	if ((r = get_text(o, "name", 1, ARTIFACT_NAME_MAX, &a->name)) != 0)
		return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
	if (job_check_artifact_name(a->name, strlen(a->name)) != 0)
		return SG_ERR_PARSE;
	if (json_get_hex(o, "sha256", SHA256_HEX_LEN, a->sha256_hex) != 0 ||
	    hex_decode(a->sha256_hex, SHA256_HEX_LEN, a->sha256, SHA256_LEN) != 0)
		return SG_ERR_PARSE;
	if (json_get_int(o, "size", 0, (int64_t)ARTIFACT_SIZE_LIMIT - 1, &size) != 0)
		return SG_ERR_PARSE;
	a->size = (uint64_t)size;
	return 0;
}

static int
parse_error(const cJSON *o, struct sg_result *res)
{
	int r;

	if (!cJSON_IsObject(o) ||
	    json_check_members(o, error_members, nitems(error_members), NULL) != 0)
		return SG_ERR_PARSE;
	if ((r = get_text(o, "code", 1, RESULT_CODE_MAX, &res->error_code)) != 0 ||
	    (r = get_text(o, "message", 0, RESULT_MESSAGE_MAX, &res->error_message)) != 0)
		return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
	if ((res->error = sg_err_from_code(res->error_code)) == 0)
		res->error = SG_ERR_INTERNAL;
	return 0;
}

/* The optional members of audit: the inclusion proof and checkpoints. */
static int
parse_audit_proof(const cJSON *o, struct sg_result *res)
{
	const cJSON *arr, *c;
	char hex[SHA256_HEX_LEN + 1];
	int64_t index, size;
	size_t i, present = 0;
	int r;

	for (i = 0; i < nitems(proof_members); i++)
		present += json_get(o, proof_members[i]) != NULL;
	if (present != 0 && present != nitems(proof_members))
		return SG_ERR_PARSE;
	if (present != 0) {
		if (json_get_int(o, "index", 0, JSON_INT_MAX - 1, &index) != 0 ||
		    (uint64_t)index + 1 != res->audit_seq ||
		    json_get_int(o, "tree_size", 1, JSON_INT_MAX, &size) != 0 || size <= index ||
		    json_get_hex(o, "root", SHA256_HEX_LEN, hex) != 0 ||
		    hex_decode(hex, SHA256_HEX_LEN, res->audit_root, SHA256_LEN) != 0 ||
		    json_get_array(o, "proof", &arr) != 0 ||
		    cJSON_GetArraySize(arr) > MERKLE_PROOF_MAX)
			return SG_ERR_PARSE;
		cJSON_ArrayForEach(c, arr)
		{
			if (!cJSON_IsString(c) || res->audit_nproof >= MERKLE_PROOF_MAX ||
			    strlen(c->valuestring) != SHA256_HEX_LEN ||
			    !is_lower_hex(c->valuestring, SHA256_HEX_LEN) ||
			    hex_decode(c->valuestring, SHA256_HEX_LEN,
				res->audit_proof[res->audit_nproof], SHA256_LEN) != 0)
				return SG_ERR_PARSE;
			res->audit_nproof++;
		}
		if ((r = get_text(o, "record", 1, RESULT_AUDIT_RECORD_MAX, &res->audit_record)) !=
		    0)
			return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
		res->audit_record_len = strlen(res->audit_record);
		res->audit_tree_size = (uint64_t)size;
		res->audit_has_proof = 1;
	}
	r = get_text(o, "checkpoints", 1, RESULT_FIELD_MAX, &res->audit_checkpoints);
	if (r == SG_ERR_NOT_FOUND)
		r = 0;
	return r == SG_ERR_ALLOC || r == 0 ? r : SG_ERR_PARSE;
}

/* The members that only a signed result carries. */
static int
parse_signed(const cJSON *root, struct sg_result *res)
{
	const cJSON *o, *c;
	const char *s;
	size_t len;
	int64_t seq;
	int r;

	if ((r = get_blob(json_get(root, "signature"), RESULT_SIGNATURE_MAX, &res->signature)) != 0)
		return r;
	if (json_get_array(root, "certificates", &o) != 0)
		return SG_ERR_PARSE;
	if (cJSON_GetArraySize(o) < 1 || cJSON_GetArraySize(o) > RESULT_CERTS_MAX)
		return SG_ERR_PARSE;
	cJSON_ArrayForEach(c, o)
	{
		if (res->ncerts >= RESULT_CERTS_MAX)
			return SG_ERR_PARSE;
		/* A certificate cannot be larger than the whole text. */
		if ((r = get_blob(c, SIZE_MAX / 2, &res->certs[res->ncerts])) != 0)
			return r;
		res->ncerts++;
	}
	if (json_get_string(root, "signed_at", &s, &len) != 0 || len != SGTIME_LEN ||
	    sgtime_parse(s, &res->signed_at) != 0)
		return SG_ERR_PARSE;

	if (json_get_object(root, "audit", &o) != 0 ||
	    json_check_members(o, audit_members, nitems(audit_members), NULL) != 0 ||
	    json_get_int(o, "seq", 0, JSON_INT_MAX - 1, &seq) != 0 ||
	    json_get_hex(o, "hash", SHA256_HEX_LEN, res->audit_hash) != 0)
		return SG_ERR_PARSE;
	res->audit_seq = (uint64_t)seq;
	if ((r = parse_audit_proof(o, res)) != 0)
		return r;

	if (json_get_object(root, "store", &o) != 0 ||
	    json_check_members(o, store_members, nitems(store_members), NULL) != 0)
		return SG_ERR_PARSE;
	if ((r = get_text(o, "signature", 1, RESULT_FIELD_MAX, &res->store_signature)) != 0 ||
	    (r = get_text(o, "result", 1, RESULT_FIELD_MAX, &res->store_result)) != 0)
		return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;

	if ((o = json_get(root, "timestamp")) == NULL)
		return 0;
	if (!cJSON_IsObject(o) ||
	    json_check_members(o, timestamp_members, nitems(timestamp_members), NULL) != 0 ||
	    json_get_string(o, "time", &s, &len) != 0 || len != SGTIME_LEN ||
	    sgtime_parse(s, &res->timestamp_time) != 0)
		return SG_ERR_PARSE;
	if ((r = get_text(o, "tsa", 1, RESULT_FIELD_MAX, &res->timestamp_tsa)) != 0)
		return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
	res->has_timestamp = 1;
	return 0;
}

/* Member "keyid": "sha256:" and 64 lowercase hex digits. */
static int
get_keyid(const cJSON *obj, char out[RESULT_KEYID_MAX + 1])
{
	const char *s;
	size_t len;

	if (json_get_string(obj, "keyid", &s, &len) != 0 || len != RESULT_KEYID_MAX ||
	    strncmp(s, "sha256:", 7) != 0 || !is_lower_hex(s + 7, len - 7))
		return SG_ERR_PARSE;
	memcpy(out, s, len + 1);
	return 0;
}

/* A stream entry id: "<ms>-<seq>", decimal, at most 64 bytes. */
static int
is_entry_id(const char *s)
{
	size_t i, dash = 0, len = strlen(s);

	if (len < 3 || len > 64)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '-') {
			if (dash != 0 || i == 0 || i + 1 == len)
				return 0;
			dash = i;
		} else if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
	}
	return dash != 0;
}

/* The list of counted approvals (an array of at most RESULT_APPROVALS_MAX). */
static int
parse_approval_list(const cJSON *arr, struct sg_result *res)
{
	const cJSON *c;
	struct sg_result_approval *a;
	int r;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > RESULT_APPROVALS_MAX)
		return SG_ERR_PARSE;
	cJSON_ArrayForEach(c, arr)
	{
		a = &res->approvals[res->napprovals++];
		if (!cJSON_IsObject(c) ||
		    json_check_members(c, approval_members, nitems(approval_members), NULL) != 0 ||
		    json_get_time(c, "at", &a->at) != 0)
			return SG_ERR_PARSE;
		if ((r = get_text(c, "approver", 1, RESULT_FIELD_MAX, &a->approver)) != 0)
			return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
		if (json_get(c, "keyid") != NULL && get_keyid(c, a->keyid) != 0)
			return SG_ERR_PARSE;
		if (json_get(c, "comment") != NULL &&
		    (r = get_text(c, "comment", 1, APPROVAL_COMMENT_MAX, &a->comment)) != 0)
			return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
	}
	return 0;
}

/* A pending result's "approvals" object and "entry". */
static int
parse_pending(const cJSON *root, struct sg_result *res)
{
	const cJSON *o, *arr, *c;
	const char *s;
	size_t len;
	int64_t v;
	int r;

	if (json_get_object(root, "approvals", &o) != 0 ||
	    json_check_members(o, pending_members, nitems(pending_members), NULL) != 0 ||
	    json_get_int(o, "required", 1, RESULT_APPROVALS_MAX, &v) != 0 ||
	    json_get_array(o, "received", &arr) != 0)
		return SG_ERR_PARSE;
	res->approvals_required = (unsigned)v;
	if ((r = parse_approval_list(arr, res)) != 0)
		return r;
	if (json_get(o, "refused") != NULL) {
		if (json_get_array(o, "refused", &arr) != 0 ||
		    cJSON_GetArraySize(arr) > RESULT_REFUSED_MAX)
			return SG_ERR_PARSE;
		cJSON_ArrayForEach(c, arr)
		{
			struct sg_result_refusal *f = &res->refused[res->nrefused++];

			if (!cJSON_IsObject(c) ||
			    json_check_members(c, refusal_members, nitems(refusal_members), NULL) !=
				0 ||
			    json_get_time(c, "at", &f->at) != 0 ||
			    json_get_string(c, "keyid", &s, &len) != 0 || len != RESULT_KEYID_MAX ||
			    strncmp(s, "sha256:", 7) != 0 || !is_lower_hex(s + 7, len - 7))
				return SG_ERR_PARSE;
			memcpy(f->keyid, s, len + 1);
			if ((r = get_text(c, "approver", 1, RESULT_FIELD_MAX, &f->approver)) != 0 ||
			    (r = get_text(c, "why", 1, RESULT_MESSAGE_MAX, &f->why)) != 0)
				return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
		}
	}
	if (json_get(o, "notified") != NULL) {
		if (json_get_array(o, "notified", &arr) != 0 ||
		    cJSON_GetArraySize(arr) > RESULT_NOTIFIED_MAX)
			return SG_ERR_PARSE;
		cJSON_ArrayForEach(c, arr)
		{
			if (!cJSON_IsString(c) || c->valuestring == NULL)
				return SG_ERR_PARSE;
			len = strlen(c->valuestring);
			if (len == 0 || len > 64 || !json_text_ok(c->valuestring, len))
				return SG_ERR_PARSE;
			if ((res->notified[res->nnotified++] = strdup(c->valuestring)) == NULL)
				return SG_ERR_ALLOC;
		}
	}
	if ((r = get_text(root, "entry", 1, 64, &res->entry)) != 0)
		return r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
	if (!is_entry_id(res->entry))
		return SG_ERR_PARSE;
	res->has_approvals = 1;
	return 0;
}

/* Optional text member: absent is fine, anything wrong is SG_ERR_PARSE. */
static int
get_opt_text(const cJSON *obj, const char *name, size_t max, char **ret)
{
	int r = get_text(obj, name, 1, max, ret);

	if (r == SG_ERR_NOT_FOUND)
		return 0;
	return r == 0 || r == SG_ERR_ALLOC ? r : SG_ERR_PARSE;
}

int
result_parse(const uint8_t *buf, size_t len, struct sg_result **ret)
{
	struct sg_result *res = NULL;
	cJSON *root = NULL;
	const cJSON *o;
	const char *s;
	unsigned flags = 0;
	size_t i;
	int64_t v;
	int is_signed;
	int r = SG_ERR_INTERNAL;

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
	    (flags & (JSON_F_DUPLICATE | JSON_F_NUL_ESCAPE | JSON_F_CONTROL)))
		goto out;
	if (json_check_members(root, result_members, nitems(result_members), NULL) != 0)
		goto out;
	if (json_get_int(root, "v", 1, 1, &v) != 0)
		goto out;
	if ((res = calloc(1, sizeof(*res))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (json_get_hex(root, "id", JOB_ID_LEN, res->id) != 0 ||
	    json_get_hex(root, "job_sha256", SHA256_HEX_LEN, res->job_sha256) != 0)
		goto out;
	if (json_get_string(root, "status", &s, NULL) != 0)
		goto out;
	if (strcmp(s, "signed") == 0)
		res->status = SG_STATUS_SIGNED;
	else if (strcmp(s, "rejected") == 0)
		res->status = SG_STATUS_REJECTED;
	else if (strcmp(s, "failed") == 0)
		res->status = SG_STATUS_FAILED;
	else if (strcmp(s, "pending") == 0)
		res->status = SG_STATUS_PENDING;
	else
		goto out;
	is_signed = res->status == SG_STATUS_SIGNED;

	if ((r = get_text(root, "agent", 1, RESULT_FIELD_MAX, &res->agent)) != 0) {
		if (r != SG_ERR_ALLOC)
			r = SG_ERR_PARSE;
		goto out;
	}
	if ((r = get_opt_text(root, "submitter", RESULT_FIELD_MAX, &res->submitter)) != 0 ||
	    (r = get_opt_text(root, "key", JOB_KEY_MAX, &res->key)) != 0 ||
	    (r = get_opt_text(root, "format", RESULT_CODE_MAX, &res->format)) != 0)
		goto out;
	r = SG_ERR_PARSE;
	if (res->format != NULL && sg_format_parse(res->format, NULL) != 0)
		goto out;
	if ((o = json_get(root, "artifact")) != NULL) {
		if ((r = parse_artifact(o, &res->artifact)) != 0)
			goto out;
		res->has_artifact = 1;
	}

	/* The job's own facts, whatever the status. */
	if ((r = job_ci_parse(root, &res->ci)) != 0 ||
	    (r = get_opt_text(root, "note", JOB_NOTE_MAX, &res->note)) != 0) {
		if (r != SG_ERR_ALLOC)
			r = SG_ERR_PARSE;
		goto out;
	}
	r = SG_ERR_PARSE;
	if (json_get(root, "expires") != NULL &&
	    (json_get_time(root, "expires", &res->expires) != 0 || res->expires == 0))
		goto out;
	if (res->status == SG_STATUS_PENDING) {
		/* What an approver must see, and the state of the approvals. */
		if (json_get(root, "error") != NULL || res->submitter == NULL || res->key == NULL ||
		    res->format == NULL || !res->has_artifact || res->expires == 0)
			goto out;
		for (i = 0; i < nitems(signed_members); i++) {
			if (json_get(root, signed_members[i]) != NULL)
				goto out;
		}
		if ((r = parse_pending(root, res)) != 0)
			goto out;
		*ret = res;
		res = NULL;
		r = 0;
		goto out;
	}
	if (json_get(root, "entry") != NULL)
		goto out;
	if ((o = json_get(root, "approvals")) != NULL) {
		if ((r = parse_approval_list(o, res)) != 0)
			goto out;
		res->has_approvals = 1;
	}
	r = SG_ERR_PARSE;
	if (is_signed) {
		/* The agent knew everything about a job that it signed. */
		if (json_get(root, "error") != NULL || res->submitter == NULL || res->key == NULL ||
		    res->format == NULL || !res->has_artifact)
			goto out;
		if ((r = parse_signed(root, res)) != 0)
			goto out;
	} else {
		for (i = 0; i < nitems(signed_members); i++) {
			if (json_get(root, signed_members[i]) != NULL)
				goto out;
		}
		if ((o = json_get(root, "error")) == NULL)
			goto out;
		if ((r = parse_error(o, res)) != 0)
			goto out;
	}
	*ret = res;
	res = NULL;
	r = 0;
out:
	result_free(res);
	cJSON_Delete(root);
	return r;
}

/*
 * Copies a human message into out (RESULT_MESSAGE_MAX + 1 bytes): at most
 * RESULT_MESSAGE_MAX bytes, never cutting a character, with control
 * characters and bytes that are not well-formed UTF-8 replaced by '?'.
 */
static void
sanitize_message(const char *msg, char *out)
{
	const uint8_t *p = (const uint8_t *)msg;
	size_t i = 0, o = 0, n, len = strlen(msg);

	while (i < len) {
		n = 1;
		while (n <= 4 && i + n <= len && json_check_utf8(p + i, n) != 0)
			n++;
		if (n > 4 || i + n > len || !json_text_ok(msg + i, n)) {
			/* Not the start of an acceptable character. */
			if (o + 1 > RESULT_MESSAGE_MAX)
				break;
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + n > RESULT_MESSAGE_MAX)
			break;
		memcpy(out + o, msg + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
}

static int
add_b64(cJSON *obj, const char *name, const struct sg_blob *b)
{
	char *s = NULL;
	int r;

	if (b->data == NULL || b->len == 0)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = b64_encode(b->data, b->len, &s)) != 0)
		return r;
	r = json_add_string(obj, name, s);
	free(s);
	return r;
}

static int
add_opt(cJSON *obj, const char *name, const char *s)
{
	return s == NULL ? 0 : json_add_string(obj, name, s);
}

/* audit's inclusion proof members, when r has them. */
static int
add_audit_proof(cJSON *o, const struct sg_result *r)
{
	char hex[SHA256_HEX_LEN + 1];
	cJSON *arr, *item;
	size_t i;
	int rv;

	if (!r->audit_has_proof)
		return 0;
	if (r->audit_seq == 0 || r->audit_tree_size < r->audit_seq ||
	    r->audit_tree_size >= (uint64_t)JSON_INT_MAX || r->audit_nproof > MERKLE_PROOF_MAX ||
	    r->audit_record == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	hex_encode(r->audit_root, SHA256_LEN, hex);
	if ((rv = json_add_int(o, "index", (int64_t)(r->audit_seq - 1))) != 0 ||
	    (rv = json_add_int(o, "tree_size", (int64_t)r->audit_tree_size)) != 0 ||
	    (rv = json_add_string(o, "root", hex)) != 0)
		return rv;
	if ((arr = cJSON_AddArrayToObject(o, "proof")) == NULL)
		return SG_ERR_ALLOC;
	for (i = 0; i < r->audit_nproof; i++) {
		hex_encode(r->audit_proof[i], SHA256_LEN, hex);
		if ((item = cJSON_CreateString(hex)) == NULL || !cJSON_AddItemToArray(arr, item)) {
			cJSON_Delete(item);
			return SG_ERR_ALLOC;
		}
	}
	return json_add_string(o, "record", r->audit_record);
}

static int
add_time(cJSON *obj, const char *name, int64_t t)
{
	char when[SGTIME_LEN + 1];

	if (t < 0)
		return SG_ERR_INVALID_ARGUMENT;
	sgtime_format(t, when);
	return json_add_string(obj, name, when);
}

/* Appends the counted approvals to array arr. */
static int
add_approval_list(cJSON *arr, const struct sg_result *r)
{
	cJSON *o;
	size_t i;
	int rv;

	if (r->napprovals > RESULT_APPROVALS_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	for (i = 0; i < r->napprovals; i++) {
		if ((o = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return SG_ERR_ALLOC;
		}
		if (r->approvals[i].approver == NULL)
			return SG_ERR_INVALID_ARGUMENT;
		if ((rv = json_add_string(o, "approver", r->approvals[i].approver)) != 0 ||
		    (r->approvals[i].keyid[0] != '\0' &&
			(rv = json_add_string(o, "keyid", r->approvals[i].keyid)) != 0) ||
		    (rv = add_time(o, "at", r->approvals[i].at)) != 0 ||
		    (rv = add_opt(o, "comment", r->approvals[i].comment)) != 0)
			return rv;
	}
	return 0;
}

/* The pending result's "approvals" object. */
static int
add_pending(cJSON *root, const struct sg_result *r)
{
	cJSON *o, *arr, *item;
	size_t i;
	int rv;

	if (r->nrefused > RESULT_REFUSED_MAX || r->nnotified > RESULT_NOTIFIED_MAX ||
	    r->entry == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((o = cJSON_AddObjectToObject(root, "approvals")) == NULL)
		return SG_ERR_ALLOC;
	if ((rv = json_add_int(o, "required", r->approvals_required)) != 0)
		return rv;
	if ((arr = cJSON_AddArrayToObject(o, "received")) == NULL)
		return SG_ERR_ALLOC;
	if ((rv = add_approval_list(arr, r)) != 0)
		return rv;
	if (r->nrefused > 0) {
		if ((arr = cJSON_AddArrayToObject(o, "refused")) == NULL)
			return SG_ERR_ALLOC;
		for (i = 0; i < r->nrefused; i++) {
			if ((item = cJSON_CreateObject()) == NULL ||
			    !cJSON_AddItemToArray(arr, item)) {
				cJSON_Delete(item);
				return SG_ERR_ALLOC;
			}
			if (r->refused[i].approver == NULL || r->refused[i].why == NULL)
				return SG_ERR_INVALID_ARGUMENT;
			if ((rv = json_add_string(item, "keyid", r->refused[i].keyid)) != 0 ||
			    (rv = json_add_string(item, "approver", r->refused[i].approver)) != 0 ||
			    (rv = json_add_string(item, "why", r->refused[i].why)) != 0 ||
			    (rv = add_time(item, "at", r->refused[i].at)) != 0)
				return rv;
		}
	}
	if (r->nnotified > 0) {
		if ((arr = cJSON_AddArrayToObject(o, "notified")) == NULL)
			return SG_ERR_ALLOC;
		for (i = 0; i < r->nnotified; i++) {
			if (r->notified[i] == NULL)
				return SG_ERR_INVALID_ARGUMENT;
			if ((item = cJSON_CreateString(r->notified[i])) == NULL ||
			    !cJSON_AddItemToArray(arr, item)) {
				cJSON_Delete(item);
				return SG_ERR_ALLOC;
			}
		}
	}
	return json_add_string(root, "entry", r->entry);
}

/* ci, note, expires and the approvals, where r has them. */
static int
add_job_facts(cJSON *root, const struct sg_result *r)
{
	cJSON *arr;
	int rv;

	if ((rv = job_ci_add(root, &r->ci)) != 0 || (rv = add_opt(root, "note", r->note)) != 0)
		return rv;
	if (r->expires != 0 && (rv = add_time(root, "expires", r->expires)) != 0)
		return rv;
	if (r->status == SG_STATUS_PENDING)
		return add_pending(root, r);
	if (!r->has_approvals)
		return 0;
	if ((arr = cJSON_AddArrayToObject(root, "approvals")) == NULL)
		return SG_ERR_ALLOC;
	return add_approval_list(arr, r);
}

int
result_serialize(const struct sg_result *r, char **ret, size_t *ret_len)
{
	cJSON *root = NULL, *o, *arr, *item;
	struct sg_result *check = NULL;
	char msg[RESULT_MESSAGE_MAX + 1];
	char hex[SHA256_HEX_LEN + 1];
	char when[SGTIME_LEN + 1];
	char *out = NULL, *b64 = NULL;
	const char *code = NULL;
	size_t i, out_len = 0;
	int is_signed, is_pending;
	int rv = SG_ERR_INTERNAL;

	if (ret == NULL || ret_len == NULL || r == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	*ret_len = 0;
	if (strnlen(r->id, sizeof(r->id)) == sizeof(r->id) ||
	    strnlen(r->job_sha256, sizeof(r->job_sha256)) == sizeof(r->job_sha256) ||
	    strnlen(r->audit_hash, sizeof(r->audit_hash)) == sizeof(r->audit_hash) ||
	    r->agent == NULL || r->ncerts > RESULT_CERTS_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	is_signed = r->status == SG_STATUS_SIGNED;
	is_pending = r->status == SG_STATUS_PENDING;
	if (!is_signed && !is_pending && (r->error == 0 || (code = sg_err_code(r->error)) == NULL))
		return SG_ERR_INVALID_ARGUMENT;

	if ((root = cJSON_CreateObject()) == NULL) {
		rv = SG_ERR_ALLOC;
		goto out;
	}
	if ((rv = json_add_int(root, "v", 1)) != 0 ||
	    (rv = json_add_string(root, "id", r->id)) != 0 ||
	    (rv = json_add_string(root, "status", sg_status_name(r->status))) != 0)
		goto out;
	if (!is_signed && !is_pending) {
		sanitize_message(
		    r->error_message != NULL ? r->error_message : sg_strerror(r->error), msg);
		if ((o = cJSON_AddObjectToObject(root, "error")) == NULL) {
			rv = SG_ERR_ALLOC;
			goto out;
		}
		if ((rv = json_add_string(o, "code", code)) != 0 ||
		    (rv = json_add_string(o, "message", msg)) != 0)
			goto out;
	}
	if ((rv = json_add_string(root, "job_sha256", r->job_sha256)) != 0 ||
	    (rv = add_opt(root, "submitter", r->submitter)) != 0 ||
	    (rv = add_opt(root, "key", r->key)) != 0 ||
	    (rv = add_opt(root, "format", r->format)) != 0)
		goto out;
	if (r->has_artifact) {
		if (r->artifact.name == NULL || r->artifact.size >= ARTIFACT_SIZE_LIMIT) {
			rv = SG_ERR_INVALID_ARGUMENT;
			goto out;
		}
		if ((o = cJSON_AddObjectToObject(root, "artifact")) == NULL) {
			rv = SG_ERR_ALLOC;
			goto out;
		}
		hex_encode(r->artifact.sha256, SHA256_LEN, hex);
		if ((rv = json_add_string(o, "name", r->artifact.name)) != 0 ||
		    (rv = json_add_string(o, "sha256", hex)) != 0 ||
		    (rv = json_add_int(o, "size", (int64_t)r->artifact.size)) != 0)
			goto out;
	}
	if (is_signed) {
		if ((rv = add_b64(root, "signature", &r->signature)) != 0)
			goto out;
		if ((arr = cJSON_AddArrayToObject(root, "certificates")) == NULL) {
			rv = SG_ERR_ALLOC;
			goto out;
		}
		for (i = 0; i < r->ncerts; i++) {
			if (r->certs[i].data == NULL || r->certs[i].len == 0) {
				rv = SG_ERR_INVALID_ARGUMENT;
				goto out;
			}
			if ((rv = b64_encode(r->certs[i].data, r->certs[i].len, &b64)) != 0)
				goto out;
			item = cJSON_CreateString(b64);
			free(b64);
			b64 = NULL;
			if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
				cJSON_Delete(item);
				rv = SG_ERR_ALLOC;
				goto out;
			}
		}
		if (r->signed_at < 0) {
			rv = SG_ERR_INVALID_ARGUMENT;
			goto out;
		}
		sgtime_format(r->signed_at, when);
		if ((rv = json_add_string(root, "signed_at", when)) != 0)
			goto out;
	}
	if ((rv = json_add_string(root, "agent", r->agent)) != 0)
		goto out;
	if (is_signed) {
		if (r->audit_seq >= (uint64_t)JSON_INT_MAX || r->store_signature == NULL ||
		    r->store_result == NULL) {
			rv = SG_ERR_INVALID_ARGUMENT;
			goto out;
		}
		if ((o = cJSON_AddObjectToObject(root, "audit")) == NULL) {
			rv = SG_ERR_ALLOC;
			goto out;
		}
		if ((rv = json_add_int(o, "seq", (int64_t)r->audit_seq)) != 0 ||
		    (rv = json_add_string(o, "hash", r->audit_hash)) != 0 ||
		    (rv = add_audit_proof(o, r)) != 0 ||
		    (rv = add_opt(o, "checkpoints", r->audit_checkpoints)) != 0)
			goto out;
		if ((o = cJSON_AddObjectToObject(root, "store")) == NULL) {
			rv = SG_ERR_ALLOC;
			goto out;
		}
		if ((rv = json_add_string(o, "signature", r->store_signature)) != 0 ||
		    (rv = json_add_string(o, "result", r->store_result)) != 0)
			goto out;
		if (r->has_timestamp) {
			if (r->timestamp_time < 0 || r->timestamp_tsa == NULL) {
				rv = SG_ERR_INVALID_ARGUMENT;
				goto out;
			}
			if ((o = cJSON_AddObjectToObject(root, "timestamp")) == NULL) {
				rv = SG_ERR_ALLOC;
				goto out;
			}
			sgtime_format(r->timestamp_time, when);
			if ((rv = json_add_string(o, "time", when)) != 0 ||
			    (rv = json_add_string(o, "tsa", r->timestamp_tsa)) != 0)
				goto out;
		}
	}
	if ((rv = add_job_facts(root, r)) != 0)
		goto out;
	if ((rv = json_print(root, &out, &out_len)) != 0)
		goto out;
	/* Fail closed: never publish what a submitter would refuse. */
	if ((rv = result_parse((const uint8_t *)out, out_len, &check)) != 0) {
		if (rv != SG_ERR_ALLOC)
			rv = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	*ret = out;
	out = NULL;
	*ret_len = out_len;
	rv = 0;
out:
	result_free(check);
	free(out);
	cJSON_Delete(root);
	return rv;
}
