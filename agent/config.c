/*
 * config.c — strict loading of the agent configuration (SPEC §10).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "config.h"
#include "json.h"
#include "queue.h"
#include "util.h"

#define DEFAULT_MAX_JOB_LIFETIME 900
#define DEFAULT_RESULT_TTL 604800
#define DEFAULT_RECLAIM_AFTER 30
#define LIFETIME_LIMIT_S (7 * 86400)
#define TTL_LIMIT_S (366 * 86400)

struct cfg_ctx {
	char *errbuf;
	size_t errlen;
};

static int __attribute__((format(printf, 2, 3)))
cfg_error(struct cfg_ctx *x, const char *fmt, ...)
{
	va_list ap;

	if (x->errbuf != NULL && x->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(x->errbuf, x->errlen, fmt, ap);
		va_end(ap);
	}
	return SG_ERR_CONFIG;
}

static int
is_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > CONFIG_NAME_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A required or optional string member; copies it into *ret. */
static int
get_str(struct cfg_ctx *x, const cJSON *obj, const char *path, const char *name,
    int required, int is_path, char **ret)
{
	const char *s;
	size_t len;
	int r = json_get_string(obj, name, &s, &len);

	if (r == SG_ERR_NOT_FOUND) {
		if (required)
			return cfg_error(x, "%s%s: required member missing", path, name);
		return 0;
	}
	if (r != 0)
		return cfg_error(x, "%s%s: must be a string", path, name);
	if (len == 0 || len > CONFIG_PATH_MAX || strlen(s) != len)
		return cfg_error(x, "%s%s: empty or too long", path, name);
	if (is_path && s[0] != '/')
		return cfg_error(x, "%s%s: must be an absolute path", path, name);
	if ((*ret = xstrdup(s)) == NULL)
		return SG_ERR_ALLOC;
	return 0;
}

static int
get_seconds(struct cfg_ctx *x, const cJSON *obj, const char *name, int64_t max,
    int64_t dflt, int64_t *ret)
{
	int r = json_get_int(obj, name, 1, max, ret);

	if (r == SG_ERR_NOT_FOUND) {
		*ret = dflt;
		return 0;
	}
	if (r != 0)
		return cfg_error(x, "%s: must be an integer from 1 to %lld", name, (long long)max);
	return 0;
}

static int
load_chain(struct cfg_ctx *x, struct agent_key *k)
{
	int i, n, r;

	if ((r = crypto_load_certs(k->certificates_path, &k->chain)) != 0)
		return cfg_error(x, "keys.%s.certificates: cannot read %s: %s", k->name,
		    k->certificates_path, sg_strerror(r));
	n = sk_X509_num(k->chain);
	if (n < 1 || n > CONFIG_CHAIN_MAX)
		return cfg_error(x, "keys.%s.certificates: %d certificates (1 to %d allowed)",
		    k->name, n, CONFIG_CHAIN_MAX);
	if ((k->chain_der = calloc((size_t)n, sizeof(*k->chain_der))) == NULL ||
	    (k->chain_der_len = calloc((size_t)n, sizeof(*k->chain_der_len))) == NULL)
		return SG_ERR_ALLOC;
	k->nchain = (size_t)n;
	for (i = 0; i < n; i++) {
		int len = i2d_X509(sk_X509_value(k->chain, i), &k->chain_der[i]);
		if (len <= 0)
			return cfg_error(x, "keys.%s.certificates: certificate %d cannot be encoded",
			    k->name, i);
		k->chain_der_len[i] = (size_t)len;
	}
	return 0;
}

static int
load_key(struct cfg_ctx *x, const cJSON *item, struct agent_key *k)
{
	static const char *const members[] = { "key", "mechanism", "certificates", "formats" };
	char path[CONFIG_NAME_MAX + 16], *mech = NULL;
	const char *unknown;
	const cJSON *formats, *f;
	int r;

	snprintf(path, sizeof(path), "keys.%s.", k->name);
	if (!cJSON_IsObject(item))
		return cfg_error(x, "keys.%s: must be an object", k->name);
	if (json_check_members(item, members, 4, &unknown) != 0)
		return cfg_error(x, "%s%s: unknown member", path, unknown);
	if ((r = get_str(x, item, path, "key", 1, 0, &k->uri)) != 0 ||
	    (r = get_str(x, item, path, "mechanism", 1, 0, &mech)) != 0 ||
	    (r = get_str(x, item, path, "certificates", 1, 1, &k->certificates_path)) != 0)
		goto out;
	if (strncmp(k->uri, "pkcs11:", 7) != 0) {
		r = cfg_error(x, "%skey: must be a pkcs11: URI", path);
		goto out;
	}
	if (sg_mech_parse(mech, &k->mech) != 0) {
		r = cfg_error(x, "%smechanism: unknown mechanism \"%s\"", path, mech);
		goto out;
	}
	if (json_get_array(item, "formats", &formats) != 0) {
		r = cfg_error(x, "%sformats: required array missing", path);
		goto out;
	}
	{
		int i = 0;
		cJSON_ArrayForEach(f, formats) {
			enum sg_format fmt;
			if (!cJSON_IsString(f) || sg_format_parse(f->valuestring, &fmt) != 0) {
				r = cfg_error(x, "%sformats[%d]: unknown format", path, i);
				goto out;
			}
			k->formats |= 1u << fmt;
			i++;
		}
		if (i == 0) {
			r = cfg_error(x, "%sformats: must name at least one format", path);
			goto out;
		}
	}
	r = load_chain(x, k);
 out:
	free(mech);
	return r;
}

static int
load_submitter(struct cfg_ctx *x, const struct agent_config *c, const cJSON *item,
    struct agent_submitter *s)
{
	static const char *const members[] = { "public_key", "keys" };
	char path[CONFIG_NAME_MAX + 16];
	const char *unknown;
	const cJSON *keys, *k;
	size_t n, i = 0;
	int r;

	snprintf(path, sizeof(path), "submitters.%s.", s->name);
	if (!cJSON_IsObject(item))
		return cfg_error(x, "submitters.%s: must be an object", s->name);
	if (json_check_members(item, members, 2, &unknown) != 0)
		return cfg_error(x, "%s%s: unknown member", path, unknown);
	if ((r = get_str(x, item, path, "public_key", 1, 1, &s->public_key_path)) != 0)
		return r;
	if ((r = crypto_load_pubkey(s->public_key_path, &s->pub)) != 0)
		return cfg_error(x, "%spublic_key: cannot load %s: %s", path, s->public_key_path,
		    sg_strerror(r));
	if ((r = crypto_keyid(s->pub, s->keyid)) != 0)
		return r;
	if (json_get_array(item, "keys", &keys) != 0)
		return cfg_error(x, "%skeys: required array missing", path);
	n = (size_t)cJSON_GetArraySize(keys);
	if (n > CONFIG_KEYS_MAX)
		return cfg_error(x, "%skeys: too many entries", path);
	if ((s->keys = calloc(n ? n : 1, sizeof(*s->keys))) == NULL)
		return SG_ERR_ALLOC;
	cJSON_ArrayForEach(k, keys) {
		long idx;
		if (!cJSON_IsString(k) || (idx = config_key_index(c, k->valuestring)) < 0)
			return cfg_error(x, "%skeys[%zu]: not a configured key", path, i);
		s->keys[s->nkeys++] = (size_t)idx;
		i++;
	}
	return 0;
}

static int
load_pkcs11(struct cfg_ctx *x, const cJSON *p, struct agent_config *c)
{
	static const char *const members[] = { "module", "token", "pin_file", "sessions" };
	const char *unknown;
	int64_t sessions;
	long ncpu;
	int r;

	if (!cJSON_IsObject(p))
		return cfg_error(x, "pkcs11: must be an object");
	if (json_check_members(p, members, 4, &unknown) != 0)
		return cfg_error(x, "pkcs11.%s: unknown member", unknown);
	if ((r = get_str(x, p, "pkcs11.", "module", 1, 1, &c->pkcs11_module)) != 0 ||
	    (r = get_str(x, p, "pkcs11.", "token", 1, 0, &c->pkcs11_token)) != 0 ||
	    (r = get_str(x, p, "pkcs11.", "pin_file", 1, 1, &c->pkcs11_pin_file)) != 0)
		return r;
	r = json_get_int(p, "sessions", 1, 64, &sessions);
	if (r == SG_ERR_NOT_FOUND) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		sessions = ncpu < 1 ? 1 : ncpu > 64 ? 64 : ncpu;
	} else if (r != 0) {
		return cfg_error(x, "pkcs11.sessions: must be an integer from 1 to 64");
	}
	c->pkcs11_sessions = (unsigned)sessions;
	return 0;
}

static int
config_parse(struct cfg_ctx *x, const char *buf, size_t len, struct agent_config *c)
{
	static const char *const members[] = {
		"name", "redis", "redis_password_file", "prefix", "pkcs11", "attestation_key",
		"store", "audit_log", "max_job_lifetime", "result_ttl", "reclaim_after",
		"keys", "submitters",
	};
	cJSON *root = NULL;
	const cJSON *p, *keys, *subs, *item;
	const char *unknown;
	unsigned flags = 0;
	size_t i;
	int r;

	if (json_parse(buf, len, &root, &flags) != 0) {
		r = cfg_error(x, "not valid JSON (UTF-8, at most %d levels)", JSON_DEPTH_MAX);
		goto out;
	}
	if (flags != 0) {
		r = cfg_error(x, "duplicate member or control character in a string");
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		r = cfg_error(x, "must be a JSON object");
		goto out;
	}
	if (json_check_members(root, members, sizeof(members) / sizeof(members[0]), &unknown) != 0) {
		r = cfg_error(x, "%s: unknown member", unknown);
		goto out;
	}
	if ((r = get_str(x, root, "", "name", 1, 0, &c->name)) != 0 ||
	    (r = get_str(x, root, "", "redis", 1, 0, &c->redis)) != 0 ||
	    (r = get_str(x, root, "", "redis_password_file", 0, 1, &c->redis_password_file)) != 0 ||
	    (r = get_str(x, root, "", "prefix", 0, 0, &c->prefix)) != 0 ||
	    (r = get_str(x, root, "", "attestation_key", 1, 0, &c->attestation_key)) != 0 ||
	    (r = get_str(x, root, "", "store", 1, 0, &c->store)) != 0 ||
	    (r = get_str(x, root, "", "audit_log", 1, 1, &c->audit_log)) != 0)
		goto out;
	if (!is_name(c->name)) {
		r = cfg_error(x, "name: use 1 to %d of [A-Za-z0-9._-]", CONFIG_NAME_MAX);
		goto out;
	}
	if (c->prefix == NULL && (c->prefix = xstrdup(QUEUE_DEFAULT_PREFIX)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (strncmp(c->attestation_key, "pkcs11:", 7) != 0) {
		r = cfg_error(x, "attestation_key: must be a pkcs11: URI");
		goto out;
	}
	if ((r = get_seconds(x, root, "max_job_lifetime", LIFETIME_LIMIT_S,
	        DEFAULT_MAX_JOB_LIFETIME, &c->max_job_lifetime)) != 0 ||
	    (r = get_seconds(x, root, "result_ttl", TTL_LIMIT_S, DEFAULT_RESULT_TTL,
	        &c->result_ttl)) != 0 ||
	    (r = get_seconds(x, root, "reclaim_after", 86400, DEFAULT_RECLAIM_AFTER,
	        &c->reclaim_after)) != 0)
		goto out;
	if (json_get_object(root, "pkcs11", &p) != 0) {
		r = cfg_error(x, "pkcs11: required object missing");
		goto out;
	}
	if ((r = load_pkcs11(x, p, c)) != 0)
		goto out;

	if (json_get_object(root, "keys", &keys) != 0) {
		r = cfg_error(x, "keys: required object missing");
		goto out;
	}
	c->nkeys = (size_t)cJSON_GetArraySize(keys);
	if (c->nkeys == 0 || c->nkeys > CONFIG_KEYS_MAX) {
		r = cfg_error(x, "keys: 1 to %d keys", CONFIG_KEYS_MAX);
		goto out;
	}
	if ((c->keys = calloc(c->nkeys, sizeof(*c->keys))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach(item, keys) {
		if (!is_name(item->string)) {
			r = cfg_error(x, "keys.%.64s: key names use 1 to %d of [A-Za-z0-9._-]",
			    item->string, CONFIG_NAME_MAX);
			goto out;
		}
		if ((c->keys[i].name = xstrdup(item->string)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		if ((r = load_key(x, item, &c->keys[i])) != 0)
			goto out;
		i++;
	}

	if (json_get_object(root, "submitters", &subs) != 0) {
		r = cfg_error(x, "submitters: required object missing");
		goto out;
	}
	c->nsubmitters = (size_t)cJSON_GetArraySize(subs);
	if (c->nsubmitters > CONFIG_SUBMITTERS_MAX) {
		r = cfg_error(x, "submitters: at most %d", CONFIG_SUBMITTERS_MAX);
		goto out;
	}
	if ((c->submitters = calloc(c->nsubmitters ? c->nsubmitters : 1,
	        sizeof(*c->submitters))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach(item, subs) {
		if (!is_name(item->string)) {
			r = cfg_error(x, "submitters.%.64s: names use 1 to %d of [A-Za-z0-9._-]",
			    item->string, CONFIG_NAME_MAX);
			goto out;
		}
		if ((c->submitters[i].name = xstrdup(item->string)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		if ((r = load_submitter(x, c, item, &c->submitters[i])) != 0)
			goto out;
		/* The agent finds a submitter by keyid alone: keyids must be unique. */
		if (i > 0 && config_submitter_by_keyid(c, c->submitters[i].keyid) != &c->submitters[i]) {
			r = cfg_error(x, "submitters.%s.public_key: same key as another submitter",
			    c->submitters[i].name);
			goto out;
		}
		i++;
	}
	r = 0;
 out:
	cJSON_Delete(root);
	return r;
}

int
config_load(const char *path, struct agent_config **ret, char *errbuf, size_t errlen)
{
	struct cfg_ctx x = { errbuf, errlen };
	struct agent_config *c = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if ((r = read_file(path, CONFIG_FILE_MAX, &buf, &len)) != 0) {
		cfg_error(&x, "cannot read %s: %s", path, sg_strerror(r));
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((r = config_parse(&x, buf, len, c)) != 0)
		goto out;
	*ret = c;
	c = NULL;
	r = 0;
 out:
	config_free(c);
	free(buf);
	return r;
}

void
config_free(struct agent_config *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->nkeys; i++) {
		struct agent_key *k = &c->keys[i];
		free(k->name);
		free(k->uri);
		free(k->certificates_path);
		sk_X509_pop_free(k->chain, X509_free);
		for (j = 0; j < k->nchain; j++)
			OPENSSL_free(k->chain_der[j]);
		free(k->chain_der);
		free(k->chain_der_len);
	}
	free(c->keys);
	for (i = 0; i < c->nsubmitters; i++) {
		free(c->submitters[i].name);
		free(c->submitters[i].public_key_path);
		EVP_PKEY_free(c->submitters[i].pub);
		free(c->submitters[i].keys);
	}
	free(c->submitters);
	free(c->name);
	free(c->redis);
	free(c->redis_password_file);
	free(c->prefix);
	free(c->pkcs11_module);
	free(c->pkcs11_token);
	free(c->pkcs11_pin_file);
	free(c->attestation_key);
	free(c->store);
	free(c->audit_log);
	free(c);
}

const struct agent_submitter *
config_submitter_by_keyid(const struct agent_config *c, const char *keyid)
{
	size_t i;

	for (i = 0; i < c->nsubmitters; i++) {
		if (c->submitters[i].pub != NULL && strcmp(c->submitters[i].keyid, keyid) == 0)
			return &c->submitters[i];
	}
	return NULL;
}

long
config_key_index(const struct agent_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nkeys; i++) {
		if (c->keys[i].name != NULL && strcmp(c->keys[i].name, name) == 0)
			return (long)i;
	}
	return -1;
}

int
config_submitter_may_use(const struct agent_submitter *s, size_t k)
{
	size_t i;

	for (i = 0; i < s->nkeys; i++) {
		if (s->keys[i] == k)
			return 1;
	}
	return 0;
}
