/*
 * config.c — strict loading of the agent configuration (docs/configuration.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "checkpoint.h"
#include "config.h"
#include "store.h"
#include "json.h"
#include "policy.h"
#include "sgtime.h"
#include "queue.h"
#include "util.h"
#include "webhook.h"

#define DEFAULT_MAX_JOB_LIFETIME    900
#define DEFAULT_RESULT_TTL          604800
#define DEFAULT_RECLAIM_AFTER       30
#define DEFAULT_MAX_DELIVERIES      5
#define DEFAULT_METRICS_INTERVAL    15
#define DEFAULT_CHECKPOINT_INTERVAL 60
#define LIFETIME_LIMIT_S            (7 * 86400)
#define TTL_LIMIT_S                 (366 * 86400)

struct cfg_ctx {
	config_report_fn fn;
	void *arg;
	size_t nproblems;
	unsigned flags; /* CONFIG_LOAD_* */
};

/* Records one problem; returns SG_ERR_CONFIG so callers can `return cfg_error(...)`. */
static int __attribute__((format(printf, 2, 3))) cfg_error(struct cfg_ctx *x, const char *fmt, ...)
{
	char buf[CONFIG_PROBLEM_MAX];
	va_list ap;

	if (x->nproblems < CONFIG_PROBLEMS_MAX && x->fn != NULL) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		x->fn(x->arg, buf);
	} else if (x->nproblems == CONFIG_PROBLEMS_MAX && x->fn != NULL) {
		x->fn(x->arg, "too many problems; the rest are not listed");
	}
	x->nproblems++;
	return SG_ERR_CONFIG;
}

/* Keeps the first hard error: an allocation or I/O failure beats a problem. */
static int
worst(int have, int r)
{
	if (have != 0 && have != SG_ERR_CONFIG)
		return have;
	return r != 0 ? r : have;
}

static int
is_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > CONFIG_NAME_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A required or optional string member; copies it into *ret. */
static int
get_str(struct cfg_ctx *x, const cJSON *obj, const char *path, const char *name, int required,
    int is_path, char **ret)
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
get_seconds(
    struct cfg_ctx *x, const cJSON *obj, const char *name, int64_t max, int64_t dflt, int64_t *ret)
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

/* The redis URL: a password inline is refused (docs/configuration.md: secrets come from
 * files) and wiped, in our copy and in the parsed tree; a user name alone
 * is fine.  A URL that does not parse is left to queue_open() to report. */
static int
check_redis_url(struct cfg_ctx *x, cJSON *root, struct agent_config *c)
{
	struct queue_url *u = NULL;
	cJSON *item;
	int has_password;

	if (c->redis == NULL || queue_url_parse(c->redis, &u) != 0)
		return 0;
	has_password = u->password != NULL;
	queue_url_free(u);
	if (!has_password)
		return 0;
	explicit_bzero(c->redis, strlen(c->redis));
	free(c->redis);
	c->redis = NULL;
	if ((item = cJSON_GetObjectItemCaseSensitive(root, "redis")) != NULL &&
	    cJSON_IsString(item) && item->valuestring != NULL)
		explicit_bzero(item->valuestring, strlen(item->valuestring));
	return cfg_error(x,
	    "redis: the URL holds a password; put the password in the file "
	    "named by redis_password_file (the URL may keep a user name)");
}

/* "redis_tls": {"ca_file"?, "cert_file"?, "key_file"?, "server_name"?}: TLS
 * to Redis, for a rediss:// or sentinel+tls:// URL only; a client
 * certificate goes with its key.  The files are read by queue_open(). */
static int
load_redis_tls(struct cfg_ctx *x, const cJSON *root, struct agent_config *c)
{
	static const char *const members[] = { "ca_file", "cert_file", "key_file", "server_name" };
	const cJSON *t;
	const char *unknown;
	struct queue_url *u = NULL;
	int r, rr = 0, tls = 0;

	if (cJSON_GetObjectItemCaseSensitive(root, "redis_tls") == NULL)
		return 0;
	if (json_get_object(root, "redis_tls", &t) != 0)
		return cfg_error(x, "redis_tls: must be an object");
	if (json_check_members(t, members, nitems(members), &unknown) != 0)
		rr = worst(rr, cfg_error(x, "redis_tls.%s: unknown member", unknown));
	if ((r = get_str(x, t, "redis_tls.", "ca_file", 0, 1, &c->redis_tls_ca_file)) != 0)
		rr = worst(rr, r);
	if ((r = get_str(x, t, "redis_tls.", "cert_file", 0, 1, &c->redis_tls_cert_file)) != 0)
		rr = worst(rr, r);
	if ((r = get_str(x, t, "redis_tls.", "key_file", 0, 1, &c->redis_tls_key_file)) != 0)
		rr = worst(rr, r);
	if ((r = get_str(x, t, "redis_tls.", "server_name", 0, 0, &c->redis_tls_server_name)) != 0)
		rr = worst(rr, r);
	if (rr == SG_ERR_ALLOC)
		return rr;
	if ((c->redis_tls_cert_file != NULL) != (c->redis_tls_key_file != NULL))
		rr = worst(rr, cfg_error(x, "redis_tls: cert_file and key_file go together"));
	if (c->redis != NULL && queue_url_parse(c->redis, &u) == 0) {
		tls = u->is_tls;
		queue_url_free(u);
		if (!tls)
			rr = worst(rr,
			    cfg_error(x,
				"redis_tls: the redis URL must be rediss:// or "
				"sentinel+tls:// to use TLS"));
	}
	c->redis_tls.ca_file = c->redis_tls_ca_file;
	c->redis_tls.cert_file = c->redis_tls_cert_file;
	c->redis_tls.key_file = c->redis_tls_key_file;
	c->redis_tls.server_name = c->redis_tls_server_name;
	return rr;
}

/* "store_mode": "0640" — the file store's file mode, in octal. */
static int
get_store_mode(struct cfg_ctx *x, const cJSON *root, const struct agent_config *c, unsigned *ret)
{
	const char *s;
	size_t len, i;
	unsigned mode = 0;
	int r = json_get_string(root, "store_mode", &s, &len);

	if (r == SG_ERR_NOT_FOUND)
		return 0;
	if (r == 0 && (len == 3 || len == 4) && strlen(s) == len) {
		for (i = 0; i < len && s[i] >= '0' && s[i] <= '7'; i++)
			mode = mode * 8 + (unsigned)(s[i] - '0');
		if (i == len && store_mode_ok(mode)) {
			if (c->store != NULL && strncmp(c->store, "file://", 7) != 0)
				return cfg_error(x, "store_mode: only for a file:// store");
			*ret = mode;
			return 0;
		}
	}
	return cfg_error(x,
	    "store_mode: an octal mode as a string, such as \"0640\": the owner "
	    "reads and writes, group and others do not write");
}

static int
load_chain(struct cfg_ctx *x, struct agent_key *k)
{
	int i, n, r;

	if (x->flags & CONFIG_LOAD_NO_FILES)
		return 0;
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
	if (crypto_cert_validity(
		sk_X509_value(k->chain, 0), &k->leaf_not_before, &k->leaf_not_after) != 0)
		return cfg_error(x,
		    "keys.%s.certificates: the first certificate's validity cannot "
		    "be read",
		    k->name);
	for (i = 0; i < n; i++) {
		int len = i2d_X509(sk_X509_value(k->chain, i), &k->chain_der[i]);
		if (len <= 0)
			return cfg_error(x,
			    "keys.%s.certificates: certificate %d cannot be encoded", k->name, i);
		k->chain_der_len[i] = (size_t)len;
	}
	return 0;
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* Whether s is acceptable as a glob pattern: printable, no NUL. */
static int
is_pattern(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > CONFIG_PATTERN_MAX || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* An optional non-empty array of glob patterns (member path prefix path). */
static int
get_patterns(struct cfg_ctx *x, const cJSON *obj, const char *path, const char *name, char ***ret,
    size_t *ret_n)
{
	const cJSON *arr, *it;
	char **v;
	size_t n, i = 0;
	int r = 0;

	if (cJSON_GetObjectItemCaseSensitive(obj, name) == NULL)
		return 0;
	if (json_get_array(obj, name, &arr) != 0)
		return cfg_error(x, "%s%s: must be an array of patterns", path, name);
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0 || n > CONFIG_PATTERNS_MAX)
		return cfg_error(x,
		    "%s%s: 1 to %d patterns (leave the member out for no restriction)", path, name,
		    CONFIG_PATTERNS_MAX);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return SG_ERR_ALLOC;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || !is_pattern(it->valuestring, strlen(it->valuestring))) {
			r = worst(r,
			    cfg_error(x, "%s%s[%zu]: must be a pattern of 1 to %d printable bytes",
				path, name, i, CONFIG_PATTERN_MAX));
		} else if ((v[i] = xstrdup(it->valuestring)) == NULL) {
			r = SG_ERR_ALLOC;
			break;
		}
		i++;
	}
	if (r != 0) {
		free_strv(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int
load_quota(struct cfg_ctx *x, const cJSON *item, const char *path, struct agent_key *k)
{
	static const char *const members[] = { "per_hour", "per_day" };
	const char *unknown;
	const cJSON *q;
	int64_t v;
	int r, rr = 0, any = 0;

	if (cJSON_GetObjectItemCaseSensitive(item, "quota") == NULL)
		return 0;
	if (json_get_object(item, "quota", &q) != 0)
		return cfg_error(x, "%squota: must be an object", path);
	if (json_check_members(q, members, nitems(members), &unknown) != 0)
		return cfg_error(x, "%squota.%s: unknown member", path, unknown);
	if ((r = json_get_int(q, "per_hour", 1, CONFIG_QUOTA_MAX, &v)) == 0) {
		k->quota_per_hour = (uint32_t)v;
		any = 1;
	} else if (r != SG_ERR_NOT_FOUND) {
		rr = cfg_error(
		    x, "%squota.per_hour: must be an integer from 1 to %d", path, CONFIG_QUOTA_MAX);
	}
	if ((r = json_get_int(q, "per_day", 1, CONFIG_QUOTA_MAX, &v)) == 0) {
		k->quota_per_day = (uint32_t)v;
		any = 1;
	} else if (r != SG_ERR_NOT_FOUND) {
		rr = cfg_error(
		    x, "%squota.per_day: must be an integer from 1 to %d", path, CONFIG_QUOTA_MAX);
	}
	if (rr == 0 && !any)
		rr = cfg_error(x, "%squota: name per_hour, per_day or both", path);
	return rr;
}

static void
free_webhooks(struct agent_webhook *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(w[i].url);
		free(w[i].secret_file);
		free(w[i].ca_file);
		free(w[i].name);
	}
	free(w);
}

/* A webhook's "format": "json" (the default) or "slack". */
static int
load_webhook_format(struct cfg_ctx *x, const cJSON *item, const char *ipath, int *ret)
{
	const char *s;
	size_t len;
	int r = json_get_string(item, "format", &s, &len);

	if (r == SG_ERR_NOT_FOUND) {
		*ret = WEBHOOK_FORMAT_JSON;
		return 0;
	}
	if (r == 0 && strlen(s) == len && strcmp(s, "json") == 0)
		*ret = WEBHOOK_FORMAT_JSON;
	else if (r == 0 && strlen(s) == len && strcmp(s, "slack") == 0)
		*ret = WEBHOOK_FORMAT_SLACK;
	else
		return cfg_error(x, "%sformat: \"json\" or \"slack\"", ipath);
	return 0;
}

/* "webhooks": [{"url", "secret_file", "ca_file"?, "name"?, "format"?, "events"?}, ...];
 * names are checked for uniqueness once every key is loaded
 * (check_webhook_names). */
static int
load_webhooks(struct cfg_ctx *x, const cJSON *obj, const char *path, struct agent_webhook **ret,
    size_t *ret_n)
{
	static const char *const members[] = { "url", "secret_file", "ca_file", "name", "format",
		"events" };
	static const struct {
		const char *name;
		unsigned bit;
	} events[] = {
		{ "signed", WEBHOOK_EVENT_SIGNED },
		{ "rejected", WEBHOOK_EVENT_REJECTED },
		{ "failed", WEBHOOK_EVENT_FAILED },
		{ "approval.requested", WEBHOOK_EVENT_APPROVAL_REQUESTED },
		{ "approval.decided", WEBHOOK_EVENT_APPROVAL_DECIDED },
	};
	char ipath[CONFIG_NAME_MAX + 48];
	const cJSON *arr, *item, *ev;
	const char *unknown;
	struct agent_webhook *w;
	size_t n = 0, i;
	int r, rr = 0;

	if (cJSON_GetObjectItemCaseSensitive(obj, "webhooks") == NULL)
		return 0;
	if (json_get_array(obj, "webhooks", &arr) != 0)
		return cfg_error(x, "%swebhooks: must be an array", path);
	if (cJSON_GetArraySize(arr) > CONFIG_WEBHOOKS_MAX)
		return cfg_error(x, "%swebhooks: at most %d", path, CONFIG_WEBHOOKS_MAX);
	if ((w = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*w))) == NULL)
		return SG_ERR_ALLOC;
	cJSON_ArrayForEach(item, arr)
	{
		snprintf(ipath, sizeof(ipath), "%swebhooks[%zu].", path, n);
		if (!cJSON_IsObject(item)) {
			rr = worst(rr, cfg_error(x, "%swebhooks[%zu]: must be an object", path, n));
			n++;
			continue;
		}
		if (json_check_members(item, members, nitems(members), &unknown) != 0)
			rr = worst(rr, cfg_error(x, "%s%s: unknown member", ipath, unknown));
		if ((r = get_str(x, item, ipath, "url", 1, 0, &w[n].url)) != 0)
			rr = worst(rr, r);
		else if (strncmp(w[n].url, "http://", 7) != 0 &&
		    strncmp(w[n].url, "https://", 8) != 0)
			rr = worst(
			    rr, cfg_error(x, "%surl: must be an http:// or https:// URL", ipath));
		if ((r = get_str(x, item, ipath, "secret_file", 1, 1, &w[n].secret_file)) != 0)
			rr = worst(rr, r);
		if ((r = get_str(x, item, ipath, "ca_file", 0, 1, &w[n].ca_file)) != 0)
			rr = worst(rr, r);
		if ((r = get_str(x, item, ipath, "name", 0, 0, &w[n].name)) != 0)
			rr = worst(rr, r);
		else if (w[n].name != NULL && !is_name(w[n].name))
			rr = worst(rr,
			    cfg_error(x,
				"%sname: use 1 to %d of [A-Za-z0-9._-], not starting with '.'",
				ipath, CONFIG_NAME_MAX));
		if ((r = load_webhook_format(x, item, ipath, &w[n].format)) != 0)
			rr = worst(rr, r);
		if (cJSON_GetObjectItemCaseSensitive(item, "events") != NULL) {
			if (json_get_array(item, "events", &ev) != 0) {
				rr = worst(rr, cfg_error(x, "%sevents: must be an array", ipath));
			} else {
				const cJSON *e;
				cJSON_ArrayForEach(e, ev)
				{
					for (i = 0; i < nitems(events); i++)
						if (cJSON_IsString(e) &&
						    strcmp(e->valuestring, events[i].name) == 0)
							break;
					if (i == nitems(events))
						rr = worst(rr,
						    cfg_error(x,
							"%sevents: use \"signed\", "
							"\"rejected\", \"failed\", "
							"\"approval.requested\" and "
							"\"approval.decided\"",
							ipath));
					else
						w[n].events |= events[i].bit;
				}
				if (w[n].events == 0)
					rr = worst(rr,
					    cfg_error(
						x, "%sevents: name at least one event", ipath));
			}
		}
		n++;
		if (rr == SG_ERR_ALLOC)
			break;
	}
	if (rr != 0) {
		free_webhooks(w, n);
		return rr;
	}
	*ret = w;
	*ret_n = n;
	return 0;
}

/* Webhook group g: the top level (0), else key g - 1's webhooks. */
static const struct agent_webhook *
webhook_group(const struct agent_config *c, size_t g, size_t *ret_n)
{
	if (g == 0) {
		*ret_n = c->nwebhooks;
		return c->webhooks;
	}
	*ret_n = c->keys[g - 1].nwebhooks;
	return c->keys[g - 1].webhooks;
}

/* The member path of webhook j of group g ("webhooks[1]", "keys.release.webhooks[0]"). */
static void
webhook_path(const struct agent_config *c, size_t g, size_t j, char *buf, size_t len)
{
	if (g == 0)
		snprintf(buf, len, "webhooks[%zu]", j);
	else
		snprintf(buf, len, "keys.%s.webhooks[%zu]", c->keys[g - 1].name, j);
}

/* Whether a webhook before webhook j of group g is named name; where, in
 * *ret_g and *ret_j. */
static int
webhook_name_before(const struct agent_config *c, size_t g, size_t j, const char *name,
    size_t *ret_g, size_t *ret_j)
{
	const struct agent_webhook *hooks;
	size_t g2, j2, n;

	for (g2 = 0; g2 <= g; g2++) {
		hooks = webhook_group(c, g2, &n);
		if (g2 == g)
			n = j;
		for (j2 = 0; j2 < n; j2++) {
			if (hooks[j2].name != NULL && strcmp(hooks[j2].name, name) == 0) {
				*ret_g = g2;
				*ret_j = j2;
				return 1;
			}
		}
	}
	return 0;
}

/* Webhook names are unique across the top level and every key (a key's
 * approvals name the webhooks to notify); a repeat names both places. */
static int
check_webhook_names(struct cfg_ctx *x, const struct agent_config *c)
{
	char here[CONFIG_NAME_MAX + 48], first[CONFIG_NAME_MAX + 48];
	const struct agent_webhook *hooks;
	size_t g, j, n, g1 = 0, j1 = 0;
	int rr = 0;

	for (g = 0; g <= c->nkeys; g++) {
		hooks = webhook_group(c, g, &n);
		for (j = 0; j < n; j++) {
			if (hooks[j].name == NULL ||
			    !webhook_name_before(c, g, j, hooks[j].name, &g1, &j1))
				continue;
			webhook_path(c, g, j, here, sizeof(here));
			webhook_path(c, g1, j1, first, sizeof(first));
			rr = cfg_error(x, "%s.name: \"%s\" is already the name of %s", here,
			    hooks[j].name, first);
		}
	}
	return rr;
}

/* 1 to max bytes of printable text (no control character, no NUL). */
static int
is_text(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	}
	return 1;
}

/* "ci_issuers": {"<name>": {"issuer", "audience", "jwks", "kind"}}.  The
 * JWK Set is read and parsed here, once per load, never per job. */
static int
load_ci_issuer(
    struct cfg_ctx *x, const struct agent_config *c, const cJSON *item, struct agent_ci_issuer *ci)
{
	static const char *const members[] = { "issuer", "audience", "jwks", "kind" };
	char path[CONFIG_NAME_MAX + 24], err[CONFIG_PROBLEM_MAX / 2], *kind = NULL, *buf = NULL;
	const char *unknown;
	size_t len = 0, i;
	int r, rr = 0;

	snprintf(path, sizeof(path), "ci_issuers.%s.", ci->name);
	if (!cJSON_IsObject(item))
		return cfg_error(x, "ci_issuers.%s: must be an object", ci->name);
	if (json_check_members(item, members, nitems(members), &unknown) != 0)
		rr = cfg_error(x, "%s%s: unknown member", path, unknown);
	if ((r = get_str(x, item, path, "issuer", 1, 0, &ci->issuer)) != 0 ||
	    (r = get_str(x, item, path, "audience", 1, 0, &ci->audience)) != 0 ||
	    (r = get_str(x, item, path, "jwks", 1, 1, &ci->jwks_path)) != 0 ||
	    (r = get_str(x, item, path, "kind", 1, 0, &kind)) != 0) {
		rr = worst(rr, r);
		goto out;
	}
	if (!is_text(ci->issuer, JWT_ISSUER_MAX))
		rr = cfg_error(x, "%sissuer: 1 to %d printable bytes", path, JWT_ISSUER_MAX);
	if (!is_text(ci->audience, JWT_ISSUER_MAX))
		rr = cfg_error(x, "%saudience: 1 to %d printable bytes", path, JWT_ISSUER_MAX);
	if (jwt_kind_parse(kind, &ci->kind) != 0)
		rr = cfg_error(x, "%skind: must be gitlab or github", path);
	/* A token's iss picks the issuer whose keys are tried: one per iss. */
	for (i = 0; &c->ci_issuers[i] != ci; i++) {
		if (c->ci_issuers[i].issuer != NULL &&
		    strcmp(c->ci_issuers[i].issuer, ci->issuer) == 0)
			rr = cfg_error(x, "%sissuer: the same as ci_issuers.%s.issuer", path,
			    c->ci_issuers[i].name);
	}
	if (x->flags & CONFIG_LOAD_NO_FILES)
		;
	else if ((r = read_file(ci->jwks_path, JWKS_MAX_BYTES, &buf, &len)) != 0)
		rr = worst(rr,
		    cfg_error(
			x, "%sjwks: cannot read %s: %s", path, ci->jwks_path, sg_strerror(r)));
	else if ((r = jwks_parse(buf, len, &ci->keys, err, sizeof(err))) != 0)
		rr = worst(rr,
		    r == SG_ERR_ALLOC ? r
				      : cfg_error(x, "%sjwks: %s: %s", path, ci->jwks_path, err));
out:
	free(buf);
	free(kind);
	return rr;
}

/* The CI identity token members of a key (docs/policy.md). */
static int
load_key_ci(struct cfg_ctx *x, const struct agent_config *c, const cJSON *item, const char *path,
    struct agent_key *k)
{
	const cJSON *arr, *it;
	const char *s;
	size_t n, i = 0, j;
	int r, rr = 0;

	if ((r = json_get_string(item, "ci_token", &s, NULL)) == 0 && strcmp(s, "required") == 0)
		k->ci_token_required = 1;
	else if (r != SG_ERR_NOT_FOUND && !(r == 0 && strcmp(s, "optional") == 0))
		rr = cfg_error(x, "%sci_token: \"required\" or \"optional\"", path);
	if ((r = json_get_bool(item, "ci_protected_ref", &k->ci_protected_ref)) != 0 &&
	    r != SG_ERR_NOT_FOUND)
		rr = cfg_error(x, "%sci_protected_ref: must be true or false", path);
	if (k->ci_protected_ref && !k->ci_token_required)
		rr = cfg_error(x,
		    "%sci_protected_ref: needs \"ci_token\": \"required\" (only a "
		    "verified token says whether a ref is protected)",
		    path);
	if (k->ci_token_required && c->nci_issuers == 0)
		rr = cfg_error(
		    x, "%sci_token: \"required\", but no ci_issuers are configured", path);
	if (cJSON_GetObjectItemCaseSensitive(item, "ci_token_issuers") != NULL) {
		if (json_get_array(item, "ci_token_issuers", &arr) != 0 ||
		    (n = (size_t)cJSON_GetArraySize(arr)) == 0 || n > CONFIG_CI_ISSUERS_MAX)
			return cfg_error(x,
			    "%sci_token_issuers: an array of 1 to %d names of ci_issuers", path,
			    CONFIG_CI_ISSUERS_MAX);
		if ((k->ci_token_issuers = calloc(n, sizeof(*k->ci_token_issuers))) == NULL)
			return SG_ERR_ALLOC;
		cJSON_ArrayForEach(it, arr)
		{
			for (j = 0; j < c->nci_issuers; j++) {
				if (cJSON_IsString(it) && c->ci_issuers[j].name != NULL &&
				    strcmp(c->ci_issuers[j].name, it->valuestring) == 0)
					break;
			}
			if (j == c->nci_issuers)
				rr = cfg_error(x,
				    "%sci_token_issuers[%zu]: not a configured ci_issuer", path, i);
			else
				k->ci_token_issuers[k->nci_token_issuers++] = j;
			i++;
		}
	}
	/* A project or ref name means something else to each CI system: with
	 * several issuers, a key that relies on them names the ones it trusts. */
	if (c->nci_issuers > 1 && k->ci_token_issuers == NULL &&
	    (k->ci_token_required || k->nci_projects > 0 || k->nci_refs > 0))
		rr = cfg_error(x,
		    "%sci_token_issuers: required when several ci_issuers are "
		    "configured (name those whose tokens count for this key)",
		    path);
	return rr;
}

#define FMT(f) (1u << (f))

/*
 * "formats" (docs/configuration.md, docs/formats.md).  Authenticode and
 * kmod take ECDSA or RSA PKCS#1 v1.5 only: neither Windows, UEFI firmware
 * nor the kernel accepts RSA-PSS there.  raw and kmod sign whatever digest
 * they are given, so they never share a key with openpgp, whose signatures
 * the agent must be the only one to shape (config_warnings() warns where
 * they share a key with the other formats).
 */
static int
load_formats(struct cfg_ctx *x, const cJSON *item, const char *path, struct agent_key *k)
{
	const cJSON *formats, *f;
	enum sg_format fmt;
	int i = 0, rr = 0;

	if (json_get_array(item, "formats", &formats) != 0)
		return cfg_error(x, "%sformats: required array missing", path);
	cJSON_ArrayForEach(f, formats)
	{
		if (!cJSON_IsString(f)) {
			rr = cfg_error(x, "%sformats[%d]: must be a string", path, i);
		} else if (sg_format_parse(f->valuestring, &fmt) != 0) {
			rr = cfg_error(
			    x, "%sformats[%d]: unknown format \"%.64s\"", path, i, f->valuestring);
		} else if ((fmt == SG_FORMAT_AUTHENTICODE || fmt == SG_FORMAT_KMOD ||
			       fmt == SG_FORMAT_OPENPGP) &&
		    k->mech == SG_MECH_RSA_PSS_SHA256) {
			rr = cfg_error(x,
			    "%sformats[%d]: %s needs an ecdsa-sha256 or rsa-pkcs1-sha256 key "
			    "(%s no RSA-PSS); this key is rsa-pss-sha256",
			    path, i, f->valuestring,
			    fmt == SG_FORMAT_KMOD          ? "the kernel accepts"
				: fmt == SG_FORMAT_OPENPGP ? "OpenPGP has"
							   : "Windows and UEFI firmware accept");
		} else {
			k->formats |= FMT(fmt);
		}
		i++;
	}
	if (i == 0)
		rr = cfg_error(x, "%sformats: must name at least one format", path);
	if ((k->formats & FMT(SG_FORMAT_OPENPGP)) &&
	    (k->formats & (FMT(SG_FORMAT_RAW) | FMT(SG_FORMAT_KMOD))))
		rr = cfg_error(x,
		    "%sformats: raw and kmod sign whatever digest they are given, so a key "
		    "that lists either cannot also list openpgp (a submitter could obtain an "
		    "OpenPGP signature of any type over data of its choosing); use a key of its "
		    "own",
		    path);
	return rr;
}

/*
 * "openpgp": {"created", "uid"} (docs/configuration.md): the key's OpenPGP
 * identity, required exactly when formats lists openpgp.  The creation
 * time is fixed here because the fingerprint depends on it.
 */
static int
load_openpgp(struct cfg_ctx *x, const cJSON *item, const char *path, struct agent_key *k)
{
	static const char *const members[] = { "created", "uid" };
	char tpath[CONFIG_NAME_MAX + 32];
	const cJSON *o;
	const char *unknown, *s;
	size_t len;
	int want = (k->formats & FMT(SG_FORMAT_OPENPGP)) != 0, r, rr = 0;

	o = json_get(item, "openpgp");
	if (o == NULL)
		return want ? cfg_error(x,
				  "%sopenpgp: required when formats lists openpgp (the "
				  "key's OpenPGP creation time and user ID)",
				  path)
			    : 0;
	if (!want)
		return cfg_error(x, "%sopenpgp: only for a key whose formats list openpgp", path);
	if (!cJSON_IsObject(o))
		return cfg_error(x, "%sopenpgp: must be an object", path);
	snprintf(tpath, sizeof(tpath), "%sopenpgp.", path);
	if (json_check_members(o, members, nitems(members), &unknown) != 0)
		rr = cfg_error(x, "%s%s: unknown member", tpath, unknown);
	if (json_get_string(o, "created", &s, &len) != 0 || len != SGTIME_LEN ||
	    sgtime_parse(s, &k->pgp_created) != 0 || k->pgp_created > OPENPGP_TIME_MAX)
		rr = cfg_error(x,
		    "%screated: required, a time as YYYY-MM-DDTHH:MM:SSZ (the OpenPGP key's "
		    "creation time; the fingerprint depends on it)",
		    tpath);
	if ((r = get_str(x, o, tpath, "uid", 1, 0, &k->pgp_uid)) != 0)
		rr = worst(rr, r);
	else if (!is_text(k->pgp_uid, OPENPGP_UID_MAX) ||
	    json_check_utf8(k->pgp_uid, strlen(k->pgp_uid)) != 0)
		rr = cfg_error(x,
		    "%suid: 1 to %d bytes of UTF-8 text, such as \"Release Signing "
		    "<release@example.com>\"",
		    tpath, OPENPGP_UID_MAX);
	if (rr == 0)
		k->has_openpgp = 1;
	return rr;
}

/* The OpenPGP key from the leaf's public key, once the chain is loaded. */
static int
load_openpgp_key(struct cfg_ctx *x, struct agent_key *k)
{
	int r;

	if (!k->has_openpgp || k->chain == NULL || (x->flags & CONFIG_LOAD_NO_FILES))
		return 0;
	if ((k->pgp = calloc(1, sizeof(*k->pgp))) == NULL)
		return SG_ERR_ALLOC;
	r = openpgp_key_init(
	    X509_get0_pubkey(sk_X509_value(k->chain, 0)), k->mech, k->pgp_created, k->pgp);
	if (r == SG_ERR_ALLOC)
		return r;
	if (r != 0)
		return cfg_error(x,
		    "keys.%s.openpgp: the leaf's public key cannot be an OpenPGP key with %s: %s",
		    k->name, sg_mech_name(k->mech), sg_strerror(r));
	return 0;
}

/* "timestamp": {"url", "roots", "timeout"} (docs/configuration.md). */
static int
load_timestamp(struct cfg_ctx *x, const cJSON *item, const char *path, struct agent_key *k)
{
	static const char *const members[] = { "url", "roots", "timeout" };
	STACK_OF(X509) *roots = NULL;
	char tpath[CONFIG_NAME_MAX + 32];
	const cJSON *ts;
	const char *unknown;
	int64_t v;
	int i, r, rr = 0;

	if ((ts = json_get(item, "timestamp")) == NULL)
		return 0;
	if (!cJSON_IsObject(ts))
		return cfg_error(x, "%stimestamp: must be an object", path);
	snprintf(tpath, sizeof(tpath), "%stimestamp.", path);
	if (json_check_members(ts, members, nitems(members), &unknown) != 0)
		rr = cfg_error(x, "%s%s: unknown member", tpath, unknown);
	if ((r = get_str(x, ts, tpath, "url", 1, 0, &k->ts_url)) != 0)
		rr = worst(rr, r);
	else if (strncmp(k->ts_url, "http://", 7) != 0 && strncmp(k->ts_url, "https://", 8) != 0)
		rr = cfg_error(x, "%stimestamp.url: must be an http:// or https:// URL", path);
	k->ts_timeout = CONFIG_TS_TIMEOUT;
	if ((r = json_get_int(ts, "timeout", 1, CONFIG_TS_TIMEOUT_MAX, &v)) == 0)
		k->ts_timeout = v;
	else if (r != SG_ERR_NOT_FOUND)
		rr = cfg_error(x, "%stimestamp.timeout: must be an integer from 1 to %d (seconds)",
		    path, CONFIG_TS_TIMEOUT_MAX);
	if ((r = get_str(x, ts, tpath, "roots", 1, 1, &k->ts_roots_path)) != 0)
		return worst(rr, r);
	if (x->flags & CONFIG_LOAD_NO_FILES)
		return rr;
	if ((r = crypto_load_certs(k->ts_roots_path, &roots)) != 0)
		return worst(rr,
		    cfg_error(x, "%stimestamp.roots: cannot read %s: %s", path, k->ts_roots_path,
			sg_strerror(r)));
	if (sk_X509_num(roots) < 1 || sk_X509_num(roots) > CONFIG_TS_ROOTS_MAX) {
		rr = cfg_error(x, "%stimestamp.roots: %d certificates in %s (1 to %d allowed)",
		    path, sk_X509_num(roots), k->ts_roots_path, CONFIG_TS_ROOTS_MAX);
		goto out;
	}
	if ((k->ts_roots = X509_STORE_new()) == NULL) {
		rr = SG_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < sk_X509_num(roots); i++) {
		if (!X509_STORE_add_cert(k->ts_roots, sk_X509_value(roots, i))) {
			rr = SG_ERR_ALLOC;
			goto out;
		}
	}
out:
	sk_X509_pop_free(roots, X509_free);
	return rr;
}

/* A list of 1..max distinct strings of 1..CONFIG_NAME_MAX*4 printable bytes. */
static int
get_names(struct cfg_ctx *x, const cJSON *obj, const char *path, const char *name, size_t max,
    char ***ret, size_t *ret_n)
{
	const cJSON *arr, *it;
	char **v;
	size_t n, i = 0, j;
	int r = 0;

	if (json_get_array(obj, name, &arr) != 0)
		return cfg_error(x, "%s%s: must be an array of names", path, name);
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0 || n > max)
		return cfg_error(x, "%s%s: 1 to %zu names", path, name, max);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return SG_ERR_ALLOC;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || !is_text(it->valuestring, POLICY_IDENTITY_MAX)) {
			r = worst(r, cfg_error(x, "%s%s[%zu]: must be a name", path, name, i));
		} else if ((v[i] = xstrdup(it->valuestring)) == NULL) {
			r = SG_ERR_ALLOC;
			break;
		} else {
			for (j = 0; j < i; j++)
				if (v[j] != NULL && strcmp(v[j], v[i]) == 0)
					r = worst(r,
					    cfg_error(x, "%s%s[%zu]: \"%s\" is listed twice", path,
						name, i, v[i]));
		}
		i++;
	}
	if (r != 0) {
		free_strv(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* "approvals": {"required", "approvers", "notify"} (docs/approvals.md); the
 * names are checked against the submitters and webhooks in check_approvals(). */
static int
load_approvals(struct cfg_ctx *x, const cJSON *item, const char *path, struct agent_key *k)
{
	static const char *const members[] = { "required", "approvers", "notify" };
	char apath[CONFIG_NAME_MAX + 32];
	const cJSON *o;
	const char *unknown;
	int64_t v;
	int r, rr = 0;

	if ((o = json_get(item, "approvals")) == NULL)
		return 0;
	if (!cJSON_IsObject(o))
		return cfg_error(x, "%sapprovals: must be an object", path);
	snprintf(apath, sizeof(apath), "%sapprovals.", path);
	if (json_check_members(o, members, nitems(members), &unknown) != 0)
		rr = cfg_error(x, "%s%s: unknown member", apath, unknown);
	if (json_get_int(o, "required", 1, CONFIG_APPROVERS_MAX, &v) != 0)
		rr = cfg_error(x, "%srequired: an integer from 1 to %d (approvals a job needs)",
		    apath, CONFIG_APPROVERS_MAX);
	else
		k->approvals_required = (unsigned)v;
	if ((r = get_names(x, o, apath, "approvers", CONFIG_APPROVERS_MAX, &k->approvers,
		 &k->napprovers)) != 0)
		rr = worst(rr, r);
	if (json_get(o, "notify") != NULL &&
	    (r = get_names(x, o, apath, "notify", CONFIG_WEBHOOKS_MAX, &k->approval_notify,
		 &k->napproval_notify)) != 0)
		rr = worst(rr, r);
	if (rr != 0)
		k->approvals_required = 0;
	return rr;
}

int64_t
config_key_lifetime(const struct agent_config *c, const struct agent_key *k)
{
	if (k->max_job_lifetime == 0)
		return c->max_job_lifetime;
	if (k->approvals_required > 0)
		return k->max_job_lifetime;
	return k->max_job_lifetime < c->max_job_lifetime ? k->max_job_lifetime
							 : c->max_job_lifetime;
}

int
config_is_approver(const struct agent_key *k, const char *identity)
{
	size_t i;

	for (i = 0; i < k->napprovers; i++)
		if (strcmp(k->approvers[i], identity) == 0)
			return 1;
	return 0;
}

/* Whether submitter s could be the approver named a (the same identity). */
static int
submitter_is(const struct agent_submitter *s, const char *a)
{
	return s->identity != NULL ? policy_glob(s->identity, a) : strcmp(s->name, a) == 0;
}

/*
 * Approvals that can be met: every approver an identity the policy knows,
 * every webhook named, M no more than the approvers left to any submitter
 * of the key once that submitter is set aside (nobody approves their own
 * job), and a lifetime that leaves time to approve and fits result_ttl.
 */
static int
check_approvals(struct cfg_ctx *x, const struct agent_config *c)
{
	size_t i, j, a, excluded;
	int rr = 0;

	for (i = 0; i < c->nkeys; i++) {
		const struct agent_key *k = &c->keys[i];
		int64_t life = config_key_lifetime(c, k);

		if (k->approvals_required == 0)
			continue;
		for (a = 0; a < k->napprovers; a++) {
			if (strpbrk(k->approvers[a], "*?") != NULL) {
				rr = worst(rr,
				    cfg_error(x,
					"keys.%s.approvals.approvers[%zu]: \"%s\" is a pattern; "
					"name "
					"each approver (a submitters entry or one certificate "
					"identity)",
					k->name, a, k->approvers[a]));
				continue;
			}
			for (j = 0; j < c->nsubmitters; j++)
				if (submitter_is(&c->submitters[j], k->approvers[a]))
					break;
			if (j == c->nsubmitters)
				rr = worst(rr,
				    cfg_error(x,
					"keys.%s.approvals.approvers[%zu]: \"%s\" is no identity "
					"the policy knows (a submitters entry, with \"keys\": [] "
					"for "
					"one who only approves)",
					k->name, a, k->approvers[a]));
		}
		for (a = 0; a < k->napproval_notify; a++)
			if (config_webhook_by_name(c, k->approval_notify[a]) == NULL)
				rr = worst(rr,
				    cfg_error(x,
					"keys.%s.approvals.notify[%zu]: no webhook is named \"%s\"",
					k->name, a, k->approval_notify[a]));
		if (k->approvals_required > k->napprovers)
			rr = worst(rr,
			    cfg_error(x,
				"keys.%s.approvals: %u approvals required but only %zu approvers",
				k->name, k->approvals_required, k->napprovers));
		for (j = 0; j < c->nsubmitters; j++) {
			const struct agent_submitter *s = &c->submitters[j];
			int may = 0;
			size_t m;

			for (m = 0; m < s->nkeys; m++)
				may |= s->keys[m] == i;
			if (!may)
				continue;
			for (a = 0, excluded = 0; a < k->napprovers && excluded == 0; a++)
				excluded = submitter_is(s, k->approvers[a]);
			if (k->napprovers - excluded < k->approvals_required)
				rr = worst(rr,
				    cfg_error(x,
					"keys.%s.approvals: jobs of submitter %s can never have %u "
					"approvals: approvers besides the submitter: %zu",
					k->name, s->name, k->approvals_required,
					k->napprovers - excluded));
		}
		if (life < CONFIG_APPROVAL_TIME_MIN)
			rr = worst(rr,
			    cfg_error(x,
				"keys.%s: a job may live %lld s, which leaves no time to approve "
				"it "
				"(at least %d s; set the key's max_job_lifetime)",
				k->name, (long long)life, CONFIG_APPROVAL_TIME_MIN));
		if (life > c->result_ttl)
			rr = worst(rr,
			    cfg_error(x,
				"keys.%s.max_job_lifetime: %lld s is longer than result_ttl (%lld "
				"s): the pending result would vanish first",
				k->name, (long long)life, (long long)c->result_ttl));
	}
	return rr;
}

static int
load_key(struct cfg_ctx *x, const struct agent_config *c, const cJSON *item, struct agent_key *k)
{
	static const char *const members[] = {
		"key",
		"mechanism",
		"certificates",
		"formats",
		"submitters",
		"artifact_names",
		"ci_projects",
		"ci_refs",
		"max_job_lifetime",
		"quota",
		"disabled",
		"webhooks",
		"ci_token",
		"ci_protected_ref",
		"ci_token_issuers",
		"timestamp",
		"openpgp",
		"approvals",
	};
	char path[CONFIG_NAME_MAX + 16], *mech = NULL;
	const char *unknown;
	int64_t v;
	int r, rr = 0;

	snprintf(path, sizeof(path), "keys.%s.", k->name);
	if (!cJSON_IsObject(item))
		return cfg_error(x, "keys.%s: must be an object", k->name);
	if (json_check_members(item, members, nitems(members), &unknown) != 0)
		rr = cfg_error(x, "%s%s: unknown member", path, unknown);
	if ((r = get_str(x, item, path, "key", 1, 0, &k->uri)) != 0)
		rr = worst(rr, r);
	else if (strncmp(k->uri, "pkcs11:", 7) != 0)
		rr = cfg_error(x, "%skey: must be a pkcs11: URI", path);
	if ((r = get_str(x, item, path, "mechanism", 1, 0, &mech)) != 0)
		rr = worst(rr, r);
	else if (sg_mech_parse(mech, &k->mech) != 0)
		rr = cfg_error(x, "%smechanism: unknown mechanism \"%.64s\"", path, mech);
	if ((r = load_formats(x, item, path, k)) != 0)
		rr = worst(rr, r);
	if ((r = get_patterns(x, item, path, "submitters", &k->allowed_submitters,
		 &k->nallowed_submitters)) != 0)
		rr = worst(rr, r);
	if ((r = get_patterns(
		 x, item, path, "artifact_names", &k->artifact_names, &k->nartifact_names)) != 0)
		rr = worst(rr, r);
	if ((r = get_patterns(x, item, path, "ci_projects", &k->ci_projects, &k->nci_projects)) !=
	    0)
		rr = worst(rr, r);
	if ((r = get_patterns(x, item, path, "ci_refs", &k->ci_refs, &k->nci_refs)) != 0)
		rr = worst(rr, r);
	if ((r = load_key_ci(x, c, item, path, k)) != 0)
		rr = worst(rr, r);
	if ((r = json_get_int(item, "max_job_lifetime", 1, LIFETIME_LIMIT_S, &v)) == 0)
		k->max_job_lifetime = v;
	else if (r != SG_ERR_NOT_FOUND)
		rr = cfg_error(x, "%smax_job_lifetime: must be an integer from 1 to %lld", path,
		    (long long)LIFETIME_LIMIT_S);
	if ((r = json_get_bool(item, "disabled", &k->disabled)) != 0 && r != SG_ERR_NOT_FOUND)
		rr = cfg_error(x, "%sdisabled: must be true or false", path);
	if ((r = load_quota(x, item, path, k)) != 0)
		rr = worst(rr, r);
	if ((r = load_webhooks(x, item, path, &k->webhooks, &k->nwebhooks)) != 0)
		rr = worst(rr, r);
	if ((r = load_timestamp(x, item, path, k)) != 0)
		rr = worst(rr, r);
	if ((r = load_openpgp(x, item, path, k)) != 0)
		rr = worst(rr, r);
	if ((r = load_approvals(x, item, path, k)) != 0)
		rr = worst(rr, r);
	if (strcmp(k->name, "attestation_key") == 0)
		rr = worst(rr,
		    cfg_error(x,
			"keys.attestation_key: the name is reserved (the signer's "
			"journal names the attestation key so)"));
	if (strcmp(k->name, "audit") == 0)
		rr = worst(rr,
		    cfg_error(x,
			"keys.audit: the name is reserved (the store's audit/ "
			"folder holds the audit log)"));
	if (rr == SG_ERR_ALLOC)
		goto out;
	if ((r = get_str(x, item, path, "certificates", 1, 1, &k->certificates_path)) != 0)
		rr = worst(rr, r);
	else if ((r = load_chain(x, k)) != 0)
		rr = worst(rr, r);
	else if ((r = load_openpgp_key(x, k)) != 0)
		rr = worst(rr, r);
out:
	free(mech);
	return rr;
}

static int
load_submitter(
    struct cfg_ctx *x, const struct agent_config *c, const cJSON *item, struct agent_submitter *s)
{
	static const char *const members[] = { "public_key", "identity", "ca", "keys" };
	char path[CONFIG_NAME_MAX + 16], *ca = NULL;
	const char *unknown;
	const cJSON *keys, *k;
	size_t n, i = 0;
	int r, rr = 0;

	s->ca = -1;
	snprintf(path, sizeof(path), "submitters.%s.", s->name);
	if (!cJSON_IsObject(item))
		return cfg_error(x, "submitters.%s: must be an object", s->name);
	if (json_check_members(item, members, nitems(members), &unknown) != 0)
		rr = cfg_error(x, "%s%s: unknown member", path, unknown);
	if ((r = get_str(x, item, path, "public_key", 0, 1, &s->public_key_path)) != 0 ||
	    (r = get_str(x, item, path, "identity", 0, 0, &s->identity)) != 0 ||
	    (r = get_str(x, item, path, "ca", 0, 0, &ca)) != 0) {
		rr = worst(rr, r);
		goto keys;
	}
	if ((s->public_key_path == NULL) == (s->identity == NULL)) {
		rr = cfg_error(
		    x, "submitters.%s: give exactly one of public_key and identity", s->name);
	} else if (s->public_key_path != NULL) {
		if (ca != NULL)
			rr = cfg_error(x, "%sca: only for an identity entry", path);
		if (x->flags & CONFIG_LOAD_NO_FILES)
			;
		else if ((r = crypto_load_pubkey(s->public_key_path, &s->pub)) != 0)
			rr = worst(rr,
			    cfg_error(x, "%spublic_key: cannot load %s: %s", path,
				s->public_key_path, sg_strerror(r)));
		else if ((r = crypto_keyid(s->pub, s->keyid)) != 0)
			rr = worst(rr, r);
	} else {
		if (!is_pattern(s->identity, strlen(s->identity)))
			rr =
			    cfg_error(x, "%sidentity: must be a pattern of 1 to %d printable bytes",
				path, CONFIG_PATTERN_MAX);
		if (c->ncas == 0)
			rr = cfg_error(x, "%sidentity: no submitter_cas are configured", path);
		/* Without it, an identity from any configured CA would match. */
		if (ca == NULL && c->ncas > 1)
			rr = cfg_error(x,
			    "%sca: required when several submitter_cas are configured: "
			    "name the CA whose identities this entry accepts",
			    path);
		if (ca != NULL) {
			for (n = 0; n < c->ncas; n++)
				if (c->cas[n].name != NULL && strcmp(c->cas[n].name, ca) == 0)
					s->ca = (long)n;
			if (s->ca < 0)
				rr = cfg_error(x, "%sca: not a configured submitter CA", path);
		}
	}
keys:
	if (json_get_array(item, "keys", &keys) != 0) {
		rr = worst(rr, cfg_error(x, "%skeys: required array missing", path));
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(keys);
	if (n > CONFIG_KEYS_MAX) {
		rr = worst(rr, cfg_error(x, "%skeys: too many entries", path));
		goto out;
	}
	if ((s->keys = calloc(n ? n : 1, sizeof(*s->keys))) == NULL) {
		rr = SG_ERR_ALLOC;
		goto out;
	}
	cJSON_ArrayForEach(k, keys)
	{
		long idx;
		if (!cJSON_IsString(k) || (idx = config_key_index(c, k->valuestring)) < 0)
			rr = worst(rr, cfg_error(x, "%skeys[%zu]: not a configured key", path, i));
		else
			s->keys[s->nkeys++] = (size_t)idx;
		i++;
	}
out:
	free(ca);
	return rr;
}

/* Two or more arcs of digits with one '.' between them.  OBJ_txt2obj()
 * alone reads an empty arc as 0 ("1..3" is 1.0.3) and ignores a trailing
 * '.', so a mistyped OID would name another one. */
static int
is_dotted_oid(const char *s)
{
	size_t arcs = 0;

	for (;;) {
		size_t digits = strspn(s, "0123456789");

		if (digits == 0)
			return 0;
		arcs++;
		s += digits;
		if (*s == '\0')
			return arcs >= 2;
		if (*s++ != '.')
			return 0;
	}
}

static int
load_ca(struct cfg_ctx *x, const cJSON *item, struct agent_submitter_ca *ca)
{
	static const char *const members[] = { "bundle", "crl", "eku", "identity" };
	static const char *const ekus[] = {
		"codeSigning",
		"emailProtection",
		"clientAuth",
		"serverAuth",
	};
	STACK_OF(X509) *certs = NULL;
	char path[CONFIG_NAME_MAX + 24], *eku = NULL, *id = NULL;
	const char *unknown;
	size_t i;
	int r, rr = 0;

	snprintf(path, sizeof(path), "submitter_cas.%s.", ca->name);
	if (!cJSON_IsObject(item))
		return cfg_error(x, "submitter_cas.%s: must be an object", ca->name);
	if (json_check_members(item, members, nitems(members), &unknown) != 0)
		rr = cfg_error(x, "%s%s: unknown member", path, unknown);
	if ((r = get_str(x, item, path, "bundle", 1, 1, &ca->bundle_path)) != 0 ||
	    (r = get_str(x, item, path, "crl", 0, 1, &ca->crl_path)) != 0 ||
	    (r = get_str(x, item, path, "eku", 0, 0, &eku)) != 0 ||
	    (r = get_str(x, item, path, "identity", 0, 0, &id)) != 0) {
		rr = worst(rr, r);
		goto out;
	}
	if (eku == NULL || strcmp(eku, "any") != 0) {
		const char *name = eku != NULL ? eku : "emailProtection";
		int known = 0;
		for (i = 0; i < nitems(ekus); i++)
			known |= strcmp(name, ekus[i]) == 0;
		if (known)
			ca->eku = OBJ_txt2obj(name, 0);
		else if (is_dotted_oid(name))
			ca->eku = OBJ_txt2obj(name, 1);
		if (ca->eku == NULL)
			rr = cfg_error(x,
			    "%seku: \"%.64s\" is not any, codeSigning, emailProtection, "
			    "clientAuth, serverAuth or a dotted OID",
			    path, name);
	}
	if (id == NULL || strcmp(id, "email") == 0)
		ca->identity = CONFIG_IDENTITY_EMAIL;
	else if (strcmp(id, "uri") == 0)
		ca->identity = CONFIG_IDENTITY_URI;
	else if (strcmp(id, "cn") == 0)
		ca->identity = CONFIG_IDENTITY_CN;
	else
		rr = cfg_error(x, "%sidentity: must be email, uri or cn", path);
	if ((ca->store = X509_STORE_new()) == NULL) {
		rr = SG_ERR_ALLOC;
		goto out;
	}
	if (x->flags & CONFIG_LOAD_NO_FILES) {
		;
	} else if ((r = crypto_load_certs(ca->bundle_path, &certs)) != 0) {
		rr = worst(rr,
		    cfg_error(
			x, "%sbundle: cannot read %s: %s", path, ca->bundle_path, sg_strerror(r)));
	} else {
		for (i = 0; i < (size_t)sk_X509_num(certs); i++)
			if (X509_STORE_add_cert(ca->store, sk_X509_value(certs, (int)i)) != 1)
				rr = worst(rr,
				    cfg_error(
					x, "%sbundle: certificate %zu cannot be added", path, i));
	}
	if (ca->crl_path != NULL && !(x->flags & CONFIG_LOAD_NO_FILES)) {
		X509_LOOKUP *lu = X509_STORE_add_lookup(ca->store, X509_LOOKUP_file());
		char *buf = NULL;
		size_t len = 0;
		/* Bounded read first: the lookup itself reads the file without a limit. */
		if ((r = read_file(ca->crl_path, CERT_FILE_MAX, &buf, &len)) != 0)
			rr = worst(rr,
			    cfg_error(x, "%scrl: cannot read %s: %s", path, ca->crl_path,
				sg_strerror(r)));
		else if (lu == NULL || strstr(buf, "-----BEGIN X509 CRL-----") == NULL ||
		    X509_load_crl_file(lu, ca->crl_path, X509_FILETYPE_PEM) < 1)
			rr = worst(rr,
			    cfg_error(x, "%scrl: %s holds no valid PEM CRL", path, ca->crl_path));
		free(buf);
		X509_STORE_set_flags(ca->store, X509_V_FLAG_CRL_CHECK);
	}
	ERR_clear_error();
out:
	sk_X509_pop_free(certs, X509_free);
	free(eku);
	free(id);
	return rr;
}

/* revoked.keyids / revoked.serials */
static int
load_revoked(struct cfg_ctx *x, const cJSON *root, struct agent_config *c)
{
	static const char *const members[] = { "keyids", "serials" };
	const char *unknown;
	const cJSON *rv, *arr, *it;
	size_t n, i;
	int rr = 0;

	if (cJSON_GetObjectItemCaseSensitive(root, "revoked") == NULL)
		return 0;
	if (json_get_object(root, "revoked", &rv) != 0)
		return cfg_error(x, "revoked: must be an object");
	if (json_check_members(rv, members, nitems(members), &unknown) != 0)
		rr = cfg_error(x, "revoked.%s: unknown member", unknown);
	if (cJSON_GetObjectItemCaseSensitive(rv, "keyids") != NULL) {
		if (json_get_array(rv, "keyids", &arr) != 0 ||
		    (n = (size_t)cJSON_GetArraySize(arr)) > CONFIG_REVOKED_MAX) {
			rr = cfg_error(x, "revoked.keyids: must be an array of at most %d keyids",
			    CONFIG_REVOKED_MAX);
		} else if ((c->revoked_keyids = calloc(n ? n : 1, sizeof(char *))) == NULL) {
			return SG_ERR_ALLOC;
		} else {
			i = 0;
			cJSON_ArrayForEach(it, arr)
			{
				const char *s = cJSON_IsString(it) ? it->valuestring : "";
				if (strlen(s) != KEYID_LEN || strncmp(s, KEYID_PREFIX, 7) != 0 ||
				    !is_lower_hex(s + 7, KEYID_LEN - 7))
					rr = cfg_error(x,
					    "revoked.keyids[%zu]: must be sha256: and 64 "
					    "lowercase hex digits",
					    i);
				else if ((c->revoked_keyids[c->nrevoked_keyids++] = xstrdup(s)) ==
				    NULL)
					return SG_ERR_ALLOC;
				i++;
			}
		}
	}
	if (cJSON_GetObjectItemCaseSensitive(rv, "serials") != NULL) {
		if (json_get_array(rv, "serials", &arr) != 0 ||
		    (n = (size_t)cJSON_GetArraySize(arr)) > CONFIG_REVOKED_MAX) {
			rr = cfg_error(x, "revoked.serials: must be an array of at most %d serials",
			    CONFIG_REVOKED_MAX);
		} else if ((c->revoked_serials = calloc(n ? n : 1, sizeof(char *))) == NULL) {
			return SG_ERR_ALLOC;
		} else {
			i = 0;
			cJSON_ArrayForEach(it, arr)
			{
				char norm[CONFIG_SERIAL_HEX_MAX + 1];
				if (!cJSON_IsString(it) ||
				    config_normalize_serial(it->valuestring, norm) != 0)
					rr = cfg_error(x,
					    "revoked.serials[%zu]: must be 1 to %d hex digits "
					    "(colons allowed)",
					    i, CONFIG_SERIAL_HEX_MAX);
				else if ((c->revoked_serials[c->nrevoked_serials++] =
						 xstrdup(norm)) == NULL)
					return SG_ERR_ALLOC;
				i++;
			}
		}
	}
	return rr;
}

static int
load_pkcs11(struct cfg_ctx *x, const cJSON *p, struct agent_config *c)
{
	static const char *const members[] = {
		"module",
		"token",
		"pin_file",
		"sessions",
		"signer",
		"isolation",
		"journal",
		"user",
	};
	const char *unknown, *iso;
	size_t isolen;
	int64_t sessions;
	long ncpu;
	int r;

	if (!cJSON_IsObject(p))
		return cfg_error(x, "pkcs11: must be an object");
	if (json_check_members(p, members, nitems(members), &unknown) != 0)
		return cfg_error(x, "pkcs11.%s: unknown member", unknown);
	if ((r = get_str(x, p, "pkcs11.", "module", 1, 1, &c->pkcs11_module)) != 0 ||
	    (r = get_str(x, p, "pkcs11.", "token", 1, 0, &c->pkcs11_token)) != 0 ||
	    (r = get_str(x, p, "pkcs11.", "pin_file", 1, 1, &c->pkcs11_pin_file)) != 0 ||
	    (r = get_str(x, p, "pkcs11.", "signer", 0, 1, &c->pkcs11_signer)) != 0 ||
	    (r = get_str(x, p, "pkcs11.", "journal", 0, 1, &c->pkcs11_journal)) != 0 ||
	    (r = get_str(x, p, "pkcs11.", "user", 0, 0, &c->pkcs11_user)) != 0)
		return r;
	if (c->pkcs11_user != NULL && !is_name(c->pkcs11_user))
		return cfg_error(
		    x, "pkcs11.user: a user name of 1 to %d of [A-Za-z0-9._-]", CONFIG_NAME_MAX);
	/* "process" (the default): the PIN and the sessions live in
	 * signet-signer; "none": in the agent itself (for debugging only). */
	c->pkcs11_in_process = 0;
	r = json_get_string(p, "isolation", &iso, &isolen);
	if (r == 0 && strcmp(iso, "none") == 0)
		c->pkcs11_in_process = 1;
	else if (r != SG_ERR_NOT_FOUND && !(r == 0 && strcmp(iso, "process") == 0))
		return cfg_error(x, "pkcs11.isolation: \"process\" or \"none\"");
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

/* A named section ("keys", "submitters", "submitter_cas"): checks its names. */
static int
section_names(struct cfg_ctx *x, const cJSON *obj, const char *what, size_t min, size_t max,
    char ***ret_names, size_t *ret_n)
{
	const cJSON *item;
	char **names;
	size_t n = (size_t)cJSON_GetArraySize(obj), i = 0;
	int rr = 0;

	if (n < min || n > max)
		return cfg_error(x, "%s: %zu to %zu entries", what, min, max);
	if ((names = calloc(n ? n : 1, sizeof(*names))) == NULL)
		return SG_ERR_ALLOC;
	cJSON_ArrayForEach(item, obj)
	{
		if (!is_name(item->string))
			rr = cfg_error(x,
			    "%s.%.64s: names use 1 to %d of [A-Za-z0-9._-], not "
			    "starting with '.'",
			    what, item->string, CONFIG_NAME_MAX);
		if ((names[i++] = xstrdup(item->string)) == NULL) {
			free_strv(names, n);
			return SG_ERR_ALLOC;
		}
	}
	*ret_names = names;
	*ret_n = n;
	return rr;
}

static int
config_parse(struct cfg_ctx *x, const char *buf, size_t len, struct agent_config *c)
{
	static const char *const members[] = {
		"name",
		"redis",
		"redis_password_file",
		"redis_tls",
		"prefix",
		"pkcs11",
		"attestation_key",
		"store",
		"audit_log",
		"max_job_lifetime",
		"result_ttl",
		"reclaim_after",
		"keys",
		"submitters",
		"submitter_cas",
		"revoked",
		"store_token_file",
		"store_ca_file",
		"store_timeout",
		"store_deadline",
		"max_deliveries",
		"metrics_file",
		"metrics_interval",
		"audit_origin",
		"checkpoint_interval",
		"webhooks",
		"user",
		"ci_issuers",
		"store_mode",
	};
	cJSON *root = NULL;
	const cJSON *p, *keys, *subs, *cas, *cis, *item;
	const char *unknown;
	char **names = NULL;
	unsigned flags = 0;
	size_t i, n = 0;
	int r, rr = 0;

	if (json_parse(buf, len, &root, &flags) != 0) {
		rr = cfg_error(x, "not valid JSON (UTF-8, at most %d levels)", JSON_DEPTH_MAX);
		goto out;
	}
	if (flags != 0) {
		rr = cfg_error(x, "duplicate member or control character in a string");
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		rr = cfg_error(x, "must be a JSON object");
		goto out;
	}
	if (json_check_members(root, members, nitems(members), &unknown) != 0)
		rr = cfg_error(x, "%s: unknown member", unknown);
#define KEEP(call)                                                                                 \
	do {                                                                                       \
		if ((r = (call)) != 0) {                                                           \
			rr = worst(rr, r);                                                         \
			if (r == SG_ERR_ALLOC)                                                     \
				goto out;                                                          \
		}                                                                                  \
	} while (0)
	KEEP(get_str(x, root, "", "name", 1, 0, &c->name));
	KEEP(get_str(x, root, "", "redis", 1, 0, &c->redis));
	KEEP(check_redis_url(x, root, c));
	KEEP(get_str(x, root, "", "redis_password_file", 0, 1, &c->redis_password_file));
	KEEP(load_redis_tls(x, root, c));
	KEEP(get_str(x, root, "", "prefix", 0, 0, &c->prefix));
	KEEP(get_str(x, root, "", "attestation_key", 1, 0, &c->attestation_key));
	KEEP(get_str(x, root, "", "store", 1, 0, &c->store));
	KEEP(get_str(x, root, "", "audit_log", 1, 1, &c->audit_log));
	KEEP(get_str(x, root, "", "user", 0, 0, &c->user));
	if (c->user != NULL && !is_name(c->user))
		rr = worst(rr,
		    cfg_error(
			x, "user: a user name of 1 to %d of [A-Za-z0-9._-]", CONFIG_NAME_MAX));
	if (c->name != NULL && !is_name(c->name))
		rr =
		    worst(rr, cfg_error(x, "name: use 1 to %d of [A-Za-z0-9._-]", CONFIG_NAME_MAX));
	if (c->prefix == NULL && (c->prefix = xstrdup(QUEUE_DEFAULT_PREFIX)) == NULL) {
		rr = SG_ERR_ALLOC;
		goto out;
	}
	if (c->attestation_key != NULL && strncmp(c->attestation_key, "pkcs11:", 7) != 0)
		rr = worst(rr, cfg_error(x, "attestation_key: must be a pkcs11: URI"));
	KEEP(get_seconds(x, root, "max_job_lifetime", LIFETIME_LIMIT_S, DEFAULT_MAX_JOB_LIFETIME,
	    &c->max_job_lifetime));
	KEEP(get_seconds(x, root, "result_ttl", TTL_LIMIT_S, DEFAULT_RESULT_TTL, &c->result_ttl));
	KEEP(
	    get_seconds(x, root, "reclaim_after", 86400, DEFAULT_RECLAIM_AFTER, &c->reclaim_after));
	KEEP(get_str(x, root, "", "store_token_file", 0, 1, &c->store_token_file));
	KEEP(get_str(x, root, "", "store_ca_file", 0, 1, &c->store_ca_file));
	KEEP(get_seconds(
	    x, root, "store_timeout", 3600, STORE_DEFAULT_TIMEOUT_S, &c->store_timeout));
	KEEP(get_seconds(
	    x, root, "store_deadline", 86400, STORE_DEFAULT_DEADLINE_S, &c->store_deadline));
	KEEP(get_store_mode(x, root, c, &c->store_mode));
	KEEP(get_seconds(
	    x, root, "max_deliveries", 1000, DEFAULT_MAX_DELIVERIES, &c->max_deliveries));
	KEEP(get_str(x, root, "", "metrics_file", 0, 1, &c->metrics_file));
	KEEP(get_seconds(
	    x, root, "metrics_interval", 3600, DEFAULT_METRICS_INTERVAL, &c->metrics_interval));
	KEEP(get_seconds(x, root, "checkpoint_interval", 86400, DEFAULT_CHECKPOINT_INTERVAL,
	    &c->checkpoint_interval));
	KEEP(get_str(x, root, "", "audit_origin", 0, 0, &c->audit_origin));
	if (c->audit_origin == NULL && c->name != NULL &&
	    asprintf(&c->audit_origin, "signet/%s", c->name) == -1) {
		c->audit_origin = NULL;
		rr = SG_ERR_ALLOC;
		goto out;
	}
	if (c->audit_origin != NULL && !checkpoint_origin_ok(c->audit_origin))
		rr = worst(rr,
		    cfg_error(x,
			"audit_origin: use 1 to %d printable ASCII characters, "
			"no space or '+'",
			CHECKPOINT_ORIGIN_MAX));
	KEEP(load_webhooks(x, root, "", &c->webhooks, &c->nwebhooks));
	if (json_get_object(root, "pkcs11", &p) != 0)
		rr = worst(rr, cfg_error(x, "pkcs11: required object missing"));
	else
		KEEP(load_pkcs11(x, p, c));
	/* With a user to drop to, the journal must be named: its default
	 * beside the audit log is in a directory that user can write, where
	 * the agent could remove it (docs/security.md). */
	if (c->user != NULL && c->pkcs11_module != NULL && c->pkcs11_journal == NULL &&
	    !c->pkcs11_in_process)
		rr = worst(rr,
		    cfg_error(x,
			"pkcs11.journal: required with user (a file in a "
			"directory that %s cannot write)",
			c->user));
	if (c->user != NULL && c->pkcs11_user != NULL && strcmp(c->user, c->pkcs11_user) == 0)
		rr = worst(rr,
		    cfg_error(x,
			"pkcs11.user: the signer's user must not be the agent's "
			"(%s): the agent could then read the PIN",
			c->user));
	if (c->pkcs11_journal == NULL && c->audit_log != NULL &&
	    asprintf(&c->pkcs11_journal, "%s.signer", c->audit_log) == -1) {
		c->pkcs11_journal = NULL;
		rr = SG_ERR_ALLOC;
		goto out;
	}

	/* Submitter CAs first: identity entries name them. */
	if (cJSON_GetObjectItemCaseSensitive(root, "submitter_cas") != NULL) {
		if (json_get_object(root, "submitter_cas", &cas) != 0) {
			rr = worst(rr, cfg_error(x, "submitter_cas: must be an object"));
		} else {
			KEEP(section_names(x, cas, "submitter_cas", 1, CONFIG_CAS_MAX, &names, &n));
			if (names != NULL) {
				if ((c->cas = calloc(n ? n : 1, sizeof(*c->cas))) == NULL) {
					rr = SG_ERR_ALLOC;
					goto out;
				}
				c->ncas = n;
				i = 0;
				cJSON_ArrayForEach(item, cas)
				{
					c->cas[i].name = names[i];
					names[i] = NULL;
					KEEP(load_ca(x, item, &c->cas[i]));
					i++;
				}
				free_strv(names, n);
				names = NULL;
			}
		}
	}
	KEEP(load_revoked(x, root, c));

	/* CI issuers before the keys: keys name them. */
	if (cJSON_GetObjectItemCaseSensitive(root, "ci_issuers") != NULL) {
		if (json_get_object(root, "ci_issuers", &cis) != 0) {
			rr = worst(rr, cfg_error(x, "ci_issuers: must be an object"));
		} else {
			KEEP(section_names(
			    x, cis, "ci_issuers", 1, CONFIG_CI_ISSUERS_MAX, &names, &n));
			if (names != NULL) {
				if ((c->ci_issuers = calloc(n, sizeof(*c->ci_issuers))) == NULL ||
				    (c->jwt_issuers = calloc(n, sizeof(*c->jwt_issuers))) == NULL) {
					rr = SG_ERR_ALLOC;
					goto out;
				}
				c->nci_issuers = n;
				i = 0;
				cJSON_ArrayForEach(item, cis)
				{
					struct agent_ci_issuer *ci = &c->ci_issuers[i];
					ci->name = names[i];
					names[i] = NULL;
					KEEP(load_ci_issuer(x, c, item, ci));
					c->jwt_issuers[i] = (struct jwt_issuer){ ci->name,
						ci->issuer, ci->audience, ci->kind, ci->keys };
					i++;
				}
				free_strv(names, n);
				names = NULL;
			}
		}
	}

	if (json_get_object(root, "keys", &keys) != 0) {
		rr = worst(rr, cfg_error(x, "keys: required object missing"));
	} else {
		KEEP(section_names(x, keys, "keys", 1, CONFIG_KEYS_MAX, &names, &n));
		if (names != NULL) {
			if ((c->keys = calloc(n, sizeof(*c->keys))) == NULL) {
				rr = SG_ERR_ALLOC;
				goto out;
			}
			c->nkeys = n;
			i = 0;
			cJSON_ArrayForEach(item, keys)
			{
				c->keys[i].name = names[i];
				names[i] = NULL;
				KEEP(load_key(x, c, item, &c->keys[i]));
				i++;
			}
			free_strv(names, n);
			names = NULL;
		}
	}
	KEEP(check_webhook_names(x, c));

	if (json_get_object(root, "submitters", &subs) != 0) {
		rr = worst(rr, cfg_error(x, "submitters: required object missing"));
	} else {
		KEEP(section_names(x, subs, "submitters", 0, CONFIG_SUBMITTERS_MAX, &names, &n));
		if (names != NULL) {
			if ((c->submitters = calloc(n ? n : 1, sizeof(*c->submitters))) == NULL) {
				rr = SG_ERR_ALLOC;
				goto out;
			}
			c->nsubmitters = n;
			i = 0;
			cJSON_ArrayForEach(item, subs)
			{
				struct agent_submitter *s = &c->submitters[i];
				s->name = names[i];
				names[i] = NULL;
				KEEP(load_submitter(x, c, item, s));
				/* The agent finds a pinned submitter by keyid alone: keyids are unique. */
				if (s->pub != NULL && config_submitter_by_keyid(c, s->keyid) != s)
					rr = worst(rr,
					    cfg_error(x,
						"submitters.%s.public_key: same key as "
						"another submitter",
						s->name));
				i++;
			}
			free_strv(names, n);
			names = NULL;
		}
	}
	KEEP(check_approvals(x, c));
#undef KEEP
out:
	free_strv(names, n);
	cJSON_Delete(root);
	return rr;
}

struct errbuf {
	char *buf;
	size_t len;
};

/* config_load() keeps the first problem only. */
static void
first_problem(void *arg, const char *problem)
{
	struct errbuf *e = arg;

	if (e->buf != NULL && e->len > 0 && e->buf[0] == '\0')
		snprintf(e->buf, e->len, "%s", problem);
}

int
config_load_report(const char *path, struct agent_config **ret, config_report_fn fn, void *arg)
{
	return config_load_flags_report(path, 0, ret, fn, arg);
}

int
config_load_flags_report(
    const char *path, unsigned flags, struct agent_config **ret, config_report_fn fn, void *arg)
{
	struct cfg_ctx x = { fn, arg, 0, flags };
	struct agent_config *c = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r;

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
	/* It may hold a password that the redis URL must not (refused above). */
	freezero(buf, buf != NULL ? len + 1 : 0);
	return r;
}

int
config_load(const char *path, struct agent_config **ret, char *errbuf, size_t errlen)
{
	return config_load_flags(path, 0, ret, errbuf, errlen);
}

int
config_load_flags(
    const char *path, unsigned flags, struct agent_config **ret, char *errbuf, size_t errlen)
{
	struct errbuf e = { errbuf, errlen };

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	return config_load_flags_report(path, flags, ret, first_problem, &e);
}

int
config_hsm_keys(
    const struct agent_config *c, struct hsm_key_spec **ret, size_t *ret_n, size_t *ret_attest)
{
	struct hsm_key_spec *specs;
	size_t i;

	if ((specs = calloc(c->nkeys + 1, sizeof(*specs))) == NULL)
		return SG_ERR_ALLOC;
	for (i = 0; i < c->nkeys; i++) {
		specs[i].name = c->keys[i].name;
		specs[i].uri = c->keys[i].uri;
		specs[i].mech = c->keys[i].mech;
	}
	specs[i].name = "attestation_key";
	specs[i].uri = c->attestation_key;
	specs[i].mech_from_key = 1;
	*ret = specs;
	*ret_n = c->nkeys + 1;
	*ret_attest = c->nkeys;
	return 0;
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
		free(k->ts_url);
		free(k->ts_roots_path);
		free(k->pgp_uid);
		openpgp_key_cleanup(k->pgp);
		free(k->pgp);
		X509_STORE_free(k->ts_roots);
		free_webhooks(k->webhooks, k->nwebhooks);
		sk_X509_pop_free(k->chain, X509_free);
		for (j = 0; j < k->nchain; j++)
			OPENSSL_free(k->chain_der[j]);
		free(k->chain_der);
		free(k->chain_der_len);
		free_strv(k->allowed_submitters, k->nallowed_submitters);
		free_strv(k->artifact_names, k->nartifact_names);
		free_strv(k->ci_projects, k->nci_projects);
		free_strv(k->ci_refs, k->nci_refs);
		free_strv(k->approvers, k->napprovers);
		free_strv(k->approval_notify, k->napproval_notify);
		free(k->ci_token_issuers);
	}
	free(c->keys);
	for (i = 0; i < c->nci_issuers; i++) {
		free(c->ci_issuers[i].name);
		free(c->ci_issuers[i].issuer);
		free(c->ci_issuers[i].audience);
		free(c->ci_issuers[i].jwks_path);
		jwks_free(c->ci_issuers[i].keys);
	}
	free(c->ci_issuers);
	free(c->jwt_issuers);
	for (i = 0; i < c->ncas; i++) {
		free(c->cas[i].name);
		free(c->cas[i].bundle_path);
		free(c->cas[i].crl_path);
		X509_STORE_free(c->cas[i].store);
		ASN1_OBJECT_free(c->cas[i].eku);
	}
	free(c->cas);
	free_strv(c->revoked_keyids, c->nrevoked_keyids);
	free_strv(c->revoked_serials, c->nrevoked_serials);
	for (i = 0; i < c->nsubmitters; i++) {
		free(c->submitters[i].name);
		free(c->submitters[i].identity);
		free(c->submitters[i].public_key_path);
		EVP_PKEY_free(c->submitters[i].pub);
		free(c->submitters[i].keys);
	}
	free(c->submitters);
	free(c->name);
	free(c->redis);
	free(c->redis_password_file);
	free(c->redis_tls_ca_file);
	free(c->redis_tls_cert_file);
	free(c->redis_tls_key_file);
	free(c->redis_tls_server_name);
	free(c->prefix);
	free(c->pkcs11_module);
	free(c->pkcs11_token);
	free(c->pkcs11_pin_file);
	free(c->pkcs11_journal);
	free(c->pkcs11_user);
	free(c->user);
	free(c->attestation_key);
	free(c->store);
	free(c->audit_log);
	free(c->pkcs11_signer);
	free(c->store_token_file);
	free(c->metrics_file);
	free(c->store_ca_file);
	free(c->audit_origin);
	free_webhooks(c->webhooks, c->nwebhooks);
	free(c);
}

/* Whether a key's name or artifact_names say it signs RPM packages. */
static int
key_for_rpm(const struct agent_key *k)
{
	size_t i;

	if (strcasestr(k->name, "rpm") != NULL)
		return 1;
	for (i = 0; i < k->nartifact_names; i++) {
		if (strcasestr(k->artifact_names[i], ".rpm") != NULL)
			return 1;
	}
	return 0;
}

size_t
config_warnings(const struct agent_config *c, config_report_fn fn, void *arg)
{
	char buf[CONFIG_PROBLEM_MAX];
	size_t i, n = 0;

	for (i = 0; c != NULL && i < c->nkeys; i++) {
		const struct agent_key *k = &c->keys[i];
		unsigned any = FMT(SG_FORMAT_RAW) | FMT(SG_FORMAT_KMOD);
		/* With openpgp it is an error (load_formats()). */
		if ((k->formats & any) && (k->formats & (k->formats - 1)) &&
		    !(k->formats & FMT(SG_FORMAT_OPENPGP))) {
			snprintf(buf, sizeof(buf),
			    "keys.%s.formats: %s signs whatever digest it is given, so a submitter "
			    "allowed it can obtain a signature that is valid in the key's other "
			    "formats for content of its choosing; give each use a key of its own",
			    k->name,
			    (k->formats & any) == any               ? "raw (and kmod)"
				: (k->formats & FMT(SG_FORMAT_RAW)) ? "raw"
								    : "kmod");
			if (fn != NULL)
				fn(arg, buf);
			n++;
		}
		if ((k->formats & FMT(SG_FORMAT_OPENPGP)) && k->mech == SG_MECH_ECDSA_SHA256 &&
		    key_for_rpm(k)) {
			snprintf(buf, sizeof(buf),
			    "keys.%s: an ECDSA OpenPGP key, but its name or artifact_names speak "
			    "of "
			    "RPM packages: rpm 4.18 (Debian 12, RHEL 9) refuses ECDSA signatures, "
			    "so "
			    "RPM signing needs an rsa-pkcs1-sha256 key",
			    k->name);
			if (fn != NULL)
				fn(arg, buf);
			n++;
		}
		if (k->ts_url != NULL &&
		    !(k->formats & (FMT(SG_FORMAT_CMS) | FMT(SG_FORMAT_AUTHENTICODE)))) {
			snprintf(buf, sizeof(buf),
			    "keys.%s.timestamp: only cms and authenticode signatures carry a "
			    "timestamp; this key's formats have neither",
			    k->name);
			if (fn != NULL)
				fn(arg, buf);
			n++;
		}
		if ((k->nci_projects == 0 && k->nci_refs == 0) || k->ci_token_required)
			continue;
		snprintf(buf, sizeof(buf),
		    "keys.%s: ci_projects and ci_refs match the job's "
		    "self-asserted ci members (which any holder of an allowed submitter key can "
		    "write) unless the job carries a verified ci_token; \"ci_token\": \"required\" "
		    "makes them binding",
		    k->name);
		if (fn != NULL)
			fn(arg, buf);
		n++;
	}
	return n;
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

const struct agent_webhook *
config_webhook_by_name(const struct agent_config *c, const char *name)
{
	size_t i, j;

	for (i = 0; i < c->nwebhooks; i++)
		if (c->webhooks[i].name != NULL && strcmp(c->webhooks[i].name, name) == 0)
			return &c->webhooks[i];
	for (i = 0; i < c->nkeys; i++) {
		const struct agent_key *k = &c->keys[i];
		for (j = 0; j < k->nwebhooks; j++)
			if (k->webhooks[j].name != NULL && strcmp(k->webhooks[j].name, name) == 0)
				return &k->webhooks[j];
	}
	return NULL;
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

int
config_normalize_serial(const char *s, char ret[CONFIG_SERIAL_HEX_MAX + 1])
{
	char out[CONFIG_SERIAL_HEX_MAX + 1];
	size_t n = 0;
	int digits = 0;

	for (; *s != '\0'; s++) {
		char ch = *s;
		if (ch == ':')
			continue;
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return SG_ERR_PARSE;
		digits++;
		if (n == 0 && ch == '0')
			continue; /* leading zeros */
		if (n == CONFIG_SERIAL_HEX_MAX)
			return SG_ERR_PARSE;
		out[n++] = ch;
	}
	if (digits == 0 || digits > CONFIG_SERIAL_HEX_MAX + 2)
		return SG_ERR_PARSE;
	if (n == 0)
		out[n++] = '0';
	out[n] = '\0';
	memcpy(ret, out, n + 1);
	return 0;
}

static int
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

int
config_same_hsm(
    const struct agent_config *a, const struct agent_config *b, char *why, size_t whylen)
{
	const char *what = NULL;
	size_t i, j;

	/* Named by their member paths (docs/configuration.md), as below. */
#define DIFF(m, member)                                                                            \
	if (what == NULL && str_differs(a->m, b->m))                                               \
	what = member
	DIFF(name, "name");
	DIFF(redis, "redis");
	DIFF(redis_password_file, "redis_password_file");
	DIFF(redis_tls_ca_file, "redis_tls.ca_file");
	DIFF(redis_tls_cert_file, "redis_tls.cert_file");
	DIFF(redis_tls_key_file, "redis_tls.key_file");
	DIFF(redis_tls_server_name, "redis_tls.server_name");
	DIFF(prefix, "prefix");
	DIFF(pkcs11_module, "pkcs11.module");
	DIFF(pkcs11_token, "pkcs11.token");
	DIFF(pkcs11_pin_file, "pkcs11.pin_file");
	DIFF(attestation_key, "attestation_key");
	DIFF(store, "store");
	DIFF(audit_log, "audit_log");
	DIFF(pkcs11_signer, "pkcs11.signer");
	DIFF(pkcs11_journal, "pkcs11.journal");
	DIFF(pkcs11_user, "pkcs11.user");
	DIFF(user, "user");
	DIFF(store_token_file, "store_token_file");
	DIFF(store_ca_file, "store_ca_file");
#undef DIFF
	if (what == NULL &&
	    (a->store_timeout != b->store_timeout || a->store_deadline != b->store_deadline))
		what = "store_timeout or store_deadline";
	if (what == NULL && a->store_mode != b->store_mode)
		what = "store_mode";
	if (what == NULL && a->pkcs11_in_process != b->pkcs11_in_process)
		what = "pkcs11.isolation";
	if (what == NULL && a->pkcs11_sessions != b->pkcs11_sessions)
		what = "pkcs11.sessions";
	if (what == NULL && a->result_ttl != b->result_ttl)
		what = "result_ttl";
	if (what == NULL && a->reclaim_after != b->reclaim_after)
		what = "reclaim_after";
	if (what == NULL && a->nkeys != b->nkeys)
		what = "keys (added or removed)";
	if (what != NULL) {
		snprintf(why, whylen, "%s differs", what);
		return SG_ERR_CONFIG;
	}
	for (i = 0; i < a->nkeys; i++) {
		const struct agent_key *ka = &a->keys[i], *kb = &b->keys[i];
		if (strcmp(ka->name, kb->name) != 0)
			what = "name or order";
		else if (strcmp(ka->uri, kb->uri) != 0)
			what = "key";
		else if (ka->mech != kb->mech)
			what = "mechanism";
		else if (strcmp(ka->certificates_path, kb->certificates_path) != 0 ||
		    ka->nchain != kb->nchain)
			what = "certificates";
		else if (ka->has_openpgp != kb->has_openpgp || ka->pgp_created != kb->pgp_created)
			what = "openpgp.created";
		else if (str_differs(ka->ts_url, kb->ts_url) ||
		    str_differs(ka->ts_roots_path, kb->ts_roots_path) ||
		    ka->ts_timeout != kb->ts_timeout)
			what = "timestamp";
		for (j = 0; what == NULL && j < ka->nchain; j++)
			if (ka->chain_der_len[j] != kb->chain_der_len[j] ||
			    memcmp(ka->chain_der[j], kb->chain_der[j], ka->chain_der_len[j]) != 0)
				what = "certificates";
		if (what != NULL) {
			snprintf(why, whylen, "keys.%s.%s differs", ka->name, what);
			return SG_ERR_CONFIG;
		}
	}
	return 0;
}

size_t
config_cert_validity(const struct agent_config *c, int64_t now, config_report_fn problem,
    config_report_fn warning, void *arg)
{
	char nb[SGTIME_LEN + 1], na[SGTIME_LEN + 1], msg[CONFIG_PROBLEM_MAX];
	size_t i, bad = 0;

	for (i = 0; i < c->nkeys; i++) {
		const struct agent_key *k = &c->keys[i];

		if (k->chain == NULL)
			continue; /* loaded without its files */
		sgtime_format(k->leaf_not_before, nb);
		sgtime_format(k->leaf_not_after, na);
		if (now < k->leaf_not_before || now > k->leaf_not_after) {
			snprintf(msg, sizeof(msg),
			    "keys.%s.certificates: the leaf in %s is valid from %s "
			    "to %s, not now: the key's jobs are refused (key.cert_expired)",
			    k->name, k->certificates_path, nb, na);
			problem(arg, msg);
			bad++;
		} else if (k->leaf_not_after - now < CONFIG_CERT_WARN_S) {
			snprintf(msg, sizeof(msg),
			    "keys.%s.certificates: the leaf in %s expires at %s, "
			    "in %lld days",
			    k->name, k->certificates_path, na,
			    (long long)((k->leaf_not_after - now) / 86400));
			warning(arg, msg);
		}
	}
	return bad;
}

void
config_queue_opts(const struct agent_config *cfg, struct queue_opts *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->url = cfg->redis;
	ret->password_file = cfg->redis_password_file;
	ret->tls = &cfg->redis_tls;
	ret->prefix = cfg->prefix;
}
