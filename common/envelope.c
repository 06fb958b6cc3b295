/*
 * envelope.c — DSSE envelopes (docs/protocol.md §2).
 *
 * The order of the checks in envelope_parse() is part of the contract:
 * the size before any parsing, then strict JSON, then the signature count
 * before any base64 is decoded, then the shape.  Everything that is wrong
 * apart from the size is SG_ERR_ENVELOPE_MALFORMED.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "b64.h"
#include "envelope.h"
#include "json.h"
#include "util.h"

#define PAE_PREFIX       "DSSEv1"
/* "DSSEv1" SP <len> SP <type> SP <len> SP <payload>: the parts other than
 * type and payload take at most 6 + 4 spaces + two decimal size_t (20
 * digits each). */
#define PAE_OVERHEAD_MAX (6 + 4 + 20 + 20)

static const char *const envelope_members[] = { "payloadType", "payload", "signatures" };
static const char *const sig_members[] = { "keyid", "sig", "cert" };

static void
sig_clear(struct dsse_sig *s)
{
	free(s->keyid);
	free(s->sig);
	free(s->cert);
	memset(s, 0, sizeof(*s));
}

void
envelope_free(struct dsse_envelope *env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; i < env->nsigs && i < ENVELOPE_SIGS_MAX; i++)
		sig_clear(&env->sigs[i]);
	free(env->payload_type);
	free(env->payload);
	free(env);
}

/* Decodes a base64 string member that must be present; empty allowed
 * only when allow_empty.  Every failure is malformed. */
static int
get_b64(const cJSON *obj, const char *name, int allow_empty, uint8_t **ret, size_t *ret_len)
{
	const char *s;
	size_t len, out_len = 0;
	uint8_t *out = NULL;
	int r;

	if ((r = json_get_string(obj, name, &s, &len)) != 0)
		return SG_ERR_ENVELOPE_MALFORMED;
	if (len == 0 && !allow_empty)
		return SG_ERR_ENVELOPE_MALFORMED;
	if ((r = b64_decode(s, len, &out, &out_len)) != 0)
		return r == SG_ERR_ALLOC ? r : SG_ERR_ENVELOPE_MALFORMED;
	*ret = out;
	*ret_len = out_len;
	return 0;
}

static int
parse_sig(const cJSON *o, struct dsse_sig *ret)
{
	struct dsse_sig s = { 0 };
	const char *keyid;
	size_t keyid_len;
	int r = SG_ERR_ENVELOPE_MALFORMED;

	if (!cJSON_IsObject(o))
		goto out;
	if (json_check_members(o, sig_members, nitems(sig_members), NULL) != 0)
		goto out;
	if (json_get_string(o, "keyid", &keyid, &keyid_len) != 0)
		goto out;
	if (keyid_len == 0 || keyid_len > ENVELOPE_KEYID_MAX)
		goto out;
	if ((r = get_b64(o, "sig", 0, &s.sig, &s.sig_len)) != 0)
		goto out;
	if (json_get(o, "cert") != NULL) {
		if ((r = get_b64(o, "cert", 0, &s.cert, &s.cert_len)) != 0)
			goto out;
	}
	if ((s.keyid = strdup(keyid)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	*ret = s;
	memset(&s, 0, sizeof(s));
	r = 0;
out:
	sig_clear(&s);
	return r;
}

/*
 * Size check, strict JSON and the signature count: the checks that come
 * before any base64 is decoded, shared with the salvage path.  On success
 * *ret_root is an object.
 */
static int
envelope_open(const void *buf, size_t len, cJSON **ret_root, unsigned *ret_flags)
{
	cJSON *root = NULL;
	const cJSON *c;
	unsigned flags = 0;
	int r = SG_ERR_INTERNAL;

	if (len > ENVELOPE_MAX_BYTES) {
		r = SG_ERR_ENVELOPE_TOO_LARGE;
		goto out;
	}
	if ((r = json_parse(buf, len, &root, &flags)) != 0) {
		if (r != SG_ERR_ALLOC)
			r = SG_ERR_ENVELOPE_MALFORMED;
		goto out;
	}
	r = SG_ERR_ENVELOPE_MALFORMED;
	if (!cJSON_IsObject(root))
		goto out;
	/* Every "signatures" member counts, should the name be duplicated. */
	for (c = root->child; c != NULL; c = c->next) {
		if (c->string != NULL && strcmp(c->string, "signatures") == 0 && cJSON_IsArray(c) &&
		    cJSON_GetArraySize(c) > ENVELOPE_SIGS_MAX)
			goto out;
	}
	*ret_root = root;
	root = NULL;
	*ret_flags = flags;
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

int
envelope_parse(const void *buf, size_t len, struct dsse_envelope **ret)
{
	struct dsse_envelope *env = NULL;
	cJSON *root = NULL;
	const cJSON *sigs, *c;
	const char *type;
	size_t type_len;
	unsigned flags = 0;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || (buf == NULL && len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;

	if ((r = envelope_open(buf, len, &root, &flags)) != 0)
		goto out;
	r = SG_ERR_ENVELOPE_MALFORMED;
	/* Duplicates are ambiguous; escaped NUL truncates strings in cJSON;
	 * no well-formed envelope holds a control character. */
	if (flags & (JSON_F_DUPLICATE | JSON_F_NUL_ESCAPE | JSON_F_CONTROL))
		goto out;
	if (json_check_members(root, envelope_members, nitems(envelope_members), NULL) != 0)
		goto out;
	if (json_get_string(root, "payloadType", &type, &type_len) != 0)
		goto out;
	if (type_len == 0 || type_len > ENVELOPE_TYPE_MAX)
		goto out;
	if (json_get_array(root, "signatures", &sigs) != 0)
		goto out;
	if (json_get(root, "payload") == NULL)
		goto out;

	if ((env = calloc(1, sizeof(*env))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((env->payload_type = strdup(type)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((r = get_b64(root, "payload", 1, &env->payload, &env->payload_len)) != 0)
		goto out;
	cJSON_ArrayForEach(c, sigs)
	{
		/* envelope_open() bounded the count. */
		if (env->nsigs >= ENVELOPE_SIGS_MAX) {
			r = SG_ERR_ENVELOPE_MALFORMED;
			goto out;
		}
		if ((r = parse_sig(c, &env->sigs[env->nsigs])) != 0)
			goto out;
		env->nsigs++;
	}
	*ret = env;
	env = NULL;
	r = 0;
out:
	envelope_free(env);
	cJSON_Delete(root);
	return r;
}

int
envelope_salvage_payload(const void *buf, size_t len, uint8_t **ret, size_t *ret_len)
{
	cJSON *root = NULL;
	const cJSON *c, *payload = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0;
	unsigned flags = 0;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || ret_len == NULL || (buf == NULL && len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	*ret_len = 0;

	if ((r = envelope_open(buf, len, &root, &flags)) != 0)
		goto out;
	r = SG_ERR_ENVELOPE_MALFORMED;
	/* An escaped NUL inside "payload" leaves a control character there
	 * (json_parse() keeps strings whole), which base64 refuses. */
	for (c = root->child; c != NULL; c = c->next) {
		if (c->string == NULL || strcmp(c->string, "payload") != 0)
			continue;
		if (payload != NULL)
			goto out; /* two payloads: ambiguous */
		payload = c;
	}
	if (payload == NULL || !cJSON_IsString(payload) || payload->valuestring == NULL)
		goto out;
	if ((r = b64_decode(payload->valuestring, strlen(payload->valuestring), &out, &out_len)) !=
	    0) {
		if (r != SG_ERR_ALLOC)
			r = SG_ERR_ENVELOPE_MALFORMED;
		goto out;
	}
	*ret = out;
	out = NULL;
	*ret_len = out_len;
	r = 0;
out:
	free(out);
	cJSON_Delete(root);
	return r;
}

int
dsse_pae(
    const char *type, const uint8_t *payload, size_t payload_len, uint8_t **ret, size_t *ret_len)
{
	char head[PAE_OVERHEAD_MAX + 1], mid[PAE_OVERHEAD_MAX + 1];
	uint8_t *out = NULL;
	size_t type_len, head_len, mid_len, total;
	int n;

	if (ret == NULL || ret_len == NULL || type == NULL || (payload == NULL && payload_len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	*ret_len = 0;

	type_len = strlen(type);
	/* head = "DSSEv1 <LEN(type)> ", mid = " <LEN(payload)> " */
	n = snprintf(head, sizeof(head), PAE_PREFIX " %zu ", type_len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return SG_ERR_INTERNAL;
	head_len = (size_t)n;
	n = snprintf(mid, sizeof(mid), " %zu ", payload_len);
	if (n < 0 || (size_t)n >= sizeof(mid))
		return SG_ERR_INTERNAL;
	mid_len = (size_t)n;
	/* head_len + mid_len <= PAE_OVERHEAD_MAX; the rest is checked by
	 * subtraction so that it cannot overflow. */
	if (type_len > SIZE_MAX - PAE_OVERHEAD_MAX ||
	    payload_len > SIZE_MAX - PAE_OVERHEAD_MAX - type_len)
		return SG_ERR_LIMIT;
	total = head_len + type_len + mid_len + payload_len;
	if ((out = malloc(total)) == NULL)
		return SG_ERR_ALLOC;
	memcpy(out, head, head_len);
	memcpy(out + head_len, type, type_len);
	memcpy(out + head_len + type_len, mid, mid_len);
	if (payload_len > 0)
		memcpy(out + head_len + type_len + mid_len, payload, payload_len);
	*ret = out;
	*ret_len = total;
	return 0;
}

static int
add_b64(cJSON *obj, const char *name, const uint8_t *data, size_t len)
{
	char *s = NULL;
	int r;

	if ((r = b64_encode(data, len, &s)) != 0)
		return r;
	r = json_add_string(obj, name, s);
	free(s);
	return r;
}

int
envelope_serialize(const struct dsse_envelope *env, char **ret, size_t *ret_len)
{
	cJSON *root = NULL, *arr, *o;
	char *out = NULL;
	size_t i, out_len = 0;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || ret_len == NULL || env == NULL || env->payload_type == NULL ||
	    (env->payload == NULL && env->payload_len > 0) || env->nsigs > ENVELOPE_SIGS_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	*ret_len = 0;

	if ((root = cJSON_CreateObject()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((r = json_add_string(root, "payloadType", env->payload_type)) != 0)
		goto out;
	if ((r = add_b64(root, "payload", env->payload, env->payload_len)) != 0)
		goto out;
	if ((arr = cJSON_AddArrayToObject(root, "signatures")) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < env->nsigs; i++) {
		const struct dsse_sig *s = &env->sigs[i];

		if (s->keyid == NULL || s->sig == NULL || s->sig_len == 0) {
			r = SG_ERR_INVALID_ARGUMENT;
			goto out;
		}
		if ((o = cJSON_CreateObject()) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		if (!cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			r = SG_ERR_ALLOC;
			goto out;
		}
		if ((r = json_add_string(o, "keyid", s->keyid)) != 0)
			goto out;
		if ((r = add_b64(o, "sig", s->sig, s->sig_len)) != 0)
			goto out;
		if (s->cert != NULL && s->cert_len > 0) {
			if ((r = add_b64(o, "cert", s->cert, s->cert_len)) != 0)
				goto out;
		}
	}
	if ((r = json_print(root, &out, &out_len)) != 0)
		goto out;
	*ret = out;
	*ret_len = out_len;
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

int
envelope_new(
    const char *type, const uint8_t *payload, size_t payload_len, struct dsse_envelope **ret)
{
	struct dsse_envelope *env = NULL;
	size_t type_len;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	if (type == NULL || (payload == NULL && payload_len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	type_len = strlen(type);
	if (type_len == 0 || type_len > ENVELOPE_TYPE_MAX)
		return SG_ERR_INVALID_ARGUMENT;

	if ((env = calloc(1, sizeof(*env))) == NULL || (env->payload_type = strdup(type)) == NULL ||
	    (env->payload = malloc(payload_len > 0 ? payload_len : 1)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (payload_len > 0)
		memcpy(env->payload, payload, payload_len);
	env->payload_len = payload_len;
	*ret = env;
	env = NULL;
	r = 0;
out:
	envelope_free(env);
	return r;
}

int
envelope_add_sig(struct dsse_envelope *env, const char *keyid, const uint8_t *sig, size_t sig_len,
    const uint8_t *cert, size_t cert_len)
{
	struct dsse_sig s = { 0 };
	size_t keyid_len;
	int r = SG_ERR_INTERNAL;

	if (env == NULL || keyid == NULL || sig == NULL || sig_len == 0 ||
	    (cert == NULL && cert_len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	keyid_len = strlen(keyid);
	if (keyid_len == 0 || keyid_len > ENVELOPE_KEYID_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	if (env->nsigs >= ENVELOPE_SIGS_MAX)
		return SG_ERR_LIMIT;

	if ((s.keyid = strdup(keyid)) == NULL || (s.sig = malloc(sig_len)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	memcpy(s.sig, sig, sig_len);
	s.sig_len = sig_len;
	if (cert != NULL && cert_len > 0) {
		if ((s.cert = malloc(cert_len)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		memcpy(s.cert, cert, cert_len);
		s.cert_len = cert_len;
	}
	env->sigs[env->nsigs++] = s;
	memset(&s, 0, sizeof(s));
	r = 0;
out:
	sig_clear(&s);
	return r;
}
