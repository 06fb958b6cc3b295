/*
 * test_config.c — agent/config.c, the strict loader of the agent's
 * configuration (docs/configuration.md).
 *
 * - Refusals: every problem the loader can be made to report without an
 *   HSM, Redis or the network.  Each case starts from BASE, a complete
 *   configuration that loads, changes it (struct edit) and expects the
 *   exact list of problems config_load_report() hands over, and the first
 *   of them from config_load().
 * - The fuzz corpus: every file of fuzz/corpus/config with its expected
 *   outcome (corpus[] below; a file added to the corpus must be added
 *   there, and the test says so).
 * - The good paths: defaults, values at their limits, CONFIG_LOAD_NO_FILES,
 *   config_same_hsm(), config_hsm_keys(), config_cert_validity().
 *
 * test_policy.c checks what the policy members mean; this file checks the
 * loader.  main() writes the fixture files (certificates with fixed dates,
 * chains of 8 and 9, CRLs, JWK Sets, broken files) into one temporary
 * directory before Check forks.
 *
 * Texts use placeholders, filled in by expand(): "@D@" is that directory,
 * "@T@" is tests/data, "@F@" the configuration file being loaded, and
 * "@c*N@" the character c N times.  In JSON written here every ' stands
 * for " (so that the configurations stay readable in C strings).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "sgtime.h"
#include "testlib.h"
#include "util.h"
#include "webhook.h"

int main(void);

#define TEST_TIMEOUT_S 60
#define CORPUS_DIR     TEST_DATA_DIR "/../../fuzz/corpus/config"
#define FUZZ_FIXTURES  "/dev/shm/signet-fuzz" /* as the corpus names them (fuzz_config.c) */

/* `openssl pkey -pubin -in tests/data/crypto-ec-p256.pub -outform DER | sha256sum` */
#define KEYID_EC_P256 "sha256:753948b4c67ea2b9e37c0b7aa4e64112d557d169be8b084b2686790285e4f319"

/* The fixed validity of the certificates main() makes: from T0
 * (2026-01-01T00:00:00Z) for SHORT_DAYS or LONG_DAYS. */
#define T0         INT64_C(1767225600)
#define DAY        INT64_C(86400)
#define SHORT_DAYS 20
#define LONG_DAYS  365

/* The fixture directory (main()). */
static char *fix;

/* What a failed load must leave in *ret. */
static struct agent_config untouched;
#define UNTOUCHED (&untouched)

/* ---- texts ---- */

/*
 * t with its placeholders filled in (see the top of the file); with
 * quotes, every ' becomes ".  file: what @F@ stands for (NULL: none).
 * The caller frees the result.
 */
static char *
expand(const char *t, int quotes, const char *file)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	while (*t != '\0') {
		char *num_end;
		unsigned long n;

		if (strncmp(t, "@D@", 3) == 0) {
			fputs(fix, f);
			t += 3;
		} else if (strncmp(t, "@T@", 3) == 0) {
			fputs(TEST_DATA_DIR, f);
			t += 3;
		} else if (strncmp(t, "@F@", 3) == 0 && file != NULL) {
			fputs(file, f);
			t += 3;
		} else if (t[0] == '@' && t[1] != '\0' && t[2] == '*' &&
		    (n = strtoul(t + 3, &num_end, 10)) > 0 && *num_end == '@') {
			for (unsigned long i = 0; i < n; i++)
				fputc(t[1], f);
			t = num_end + 1;
		} else {
			fputc(quotes && *t == '\'' ? '"' : *t, f);
			t++;
		}
	}
	ck_assert_int_eq(fclose(f), 0);
	return out;
}

/* ---- configurations: BASE and edits of it ---- */

/*
 * A configuration that loads without a problem: one key, a pinned
 * submitter and an identity submitter, one submitter CA, one CI issuer.
 * Every refusal below is one edit (or a few) of it.
 */
#define BASE                                                                                       \
	"{'name':'hsm-1','redis':'unix:///run/redis.sock',"                                        \
	"'attestation_key':'pkcs11:object=attest','store':'file:///var/lib/signet/store',"         \
	"'audit_log':'/var/lib/signet/audit.log',"                                                 \
	"'pkcs11':{'module':'/usr/lib/softhsm/libsofthsm2.so','token':'signet',"                   \
	"'pin_file':'/etc/signet/pin'},"                                                           \
	"'submitter_cas':{'corp':{'bundle':'@T@/crypto-root.crt'}},"                               \
	"'ci_issuers':{'gitlab':{'issuer':'https://gitlab.example.com','audience':'signet',"       \
	"'jwks':'@T@/jwt-jwks.json','kind':'gitlab'}},"                                            \
	"'keys':{'release':{'key':'pkcs11:object=release','mechanism':'ecdsa-sha256',"             \
	"'certificates':'@T@/crypto-leaf.crt','formats':['raw','cms']}},"                          \
	"'submitters':{'ci':{'public_key':'@T@/crypto-ec-p256.pub','keys':['release']},"           \
	"'team':{'identity':'*@fw.example.com','keys':['release']}}}"

/* Another key, CA, issuer and hook, for edits that add one. */
#define KEY(uri)                                                                                   \
	"{'key':'" uri "','mechanism':'ecdsa-sha256',"                                             \
	"'certificates':'@T@/crypto-leaf.crt','formats':['raw']}"
#define CA "{'bundle':'@T@/crypto-root.crt'}"
#define GITHUB(issuer)                                                                             \
	"{'issuer':'" issuer "','audience':'signet',"                                              \
	"'jwks':'@T@/jwt-jwks.json','kind':'github'}"
#define HOOK "{'url':'https://hooks.example.com/signet','secret_file':'/etc/signet/hook.secret'}"
#define HOOK_NAMED(name)                                                                           \
	"{'url':'https://chat.example.com/hooks/1','secret_file':'/etc/signet/chat.secret',"       \
	"'name':'" name "'}"
#define KEYID_A                 "sha256:@a*64@"
/* A key's approvals: M of the approvers (a JSON array). */
#define APPROVALS(m, approvers) "{'required':" m ",'approvers':" approvers "}"
/* Three identities that submitters.team's pattern matches: 2 of them
 * remain to approve a job of team's. */
#define APPROVERS               "['a@fw.example.com','b@fw.example.com','c@fw.example.com']"
#define EDITS_MAX               8

/*
 * One change to a configuration: path names the member, its ancestors'
 * names before it with '/' between; json is its new value (quotes: '), or
 * NULL to remove it.  A path that ends in "[N]" sets the member to an
 * array of N copies of json, one that ends in "{N}" to an object of N
 * copies named m0, m1, ...
 */
struct edit {
	const char *path;
	const char *json;
};

/* The value e sets: json, or n > 0 copies of it in an array (in an object
 * with object). */
static cJSON *
edit_value(const struct edit *e, unsigned long n, int object)
{
	char *text = expand(e->json, 1, NULL);
	cJSON *v = cJSON_Parse(text), *many;

	ck_assert_msg(v != NULL, "edit %s: bad JSON %s", e->path, text);
	free(text);
	if (n == 0)
		return v;
	many = object ? cJSON_CreateObject() : cJSON_CreateArray();
	ck_assert_ptr_nonnull(many);
	for (unsigned long i = 0; i < n; i++) {
		cJSON *copy = cJSON_Duplicate(v, 1);
		char name[32];

		ck_assert_ptr_nonnull(copy);
		snprintf(name, sizeof(name), "m%lu", i);
		if (object)
			cJSON_AddItemToObject(many, name, copy);
		else
			cJSON_AddItemToArray(many, copy);
	}
	cJSON_Delete(v);
	return many;
}

/* Applies e to root.  A member to remove, or a parent, that is not there
 * fails the test: a mistyped path never tests nothing. */
static void
apply(cJSON *root, const struct edit *e)
{
	char *path = expand(e->path, 0, NULL), *seg = path, *slash, *count;
	size_t len = strlen(path);
	unsigned long n = 0;
	int object = 0;
	cJSON *obj = root;

	if (len > 0 && (path[len - 1] == ']' || path[len - 1] == '}') &&
	    (count = strrchr(path, path[len - 1] == ']' ? '[' : '{')) != NULL) {
		object = path[len - 1] == '}';
		n = strtoul(count + 1, NULL, 10);
		*count = '\0';
		ck_assert_msg(n > 0 && e->json != NULL, "edit %s: a count and a value", e->path);
	}
	while ((slash = strchr(seg, '/')) != NULL) {
		*slash = '\0';
		obj = cJSON_GetObjectItemCaseSensitive(obj, seg);
		ck_assert_msg(
		    obj != NULL && cJSON_IsObject(obj), "edit %s: no object %s", e->path, seg);
		seg = slash + 1;
	}
	if (e->json == NULL) {
		ck_assert_msg(cJSON_GetObjectItemCaseSensitive(obj, seg) != NULL,
		    "edit %s: nothing to remove", e->path);
		cJSON_DeleteItemFromObjectCaseSensitive(obj, seg);
	} else if (cJSON_GetObjectItemCaseSensitive(obj, seg) != NULL) {
		ck_assert(
		    cJSON_ReplaceItemInObjectCaseSensitive(obj, seg, edit_value(e, n, object)));
	} else {
		cJSON_AddItemToObject(obj, seg, edit_value(e, n, object));
	}
	free(path);
}

/* BASE with the edits, as JSON text: up to one with a NULL path (which
 * every array of edits but a full one of a table row must have). */
static char *
base_with(const struct edit *edits)
{
	char *base = expand(BASE, 1, NULL), *text;
	cJSON *root = cJSON_Parse(base);

	ck_assert_ptr_nonnull(root);
	for (size_t i = 0; edits != NULL && i < EDITS_MAX && edits[i].path != NULL; i++)
		apply(root, &edits[i]);
	text = cJSON_PrintUnformatted(root);
	ck_assert_ptr_nonnull(text);
	cJSON_Delete(root);
	free(base);
	return text;
}

/* A new file in the fixture directory holding text, padded with spaces to
 * pad_to bytes; the caller unlinks and frees the path. */
static char *
write_config(const char *text, size_t pad_to)
{
	static unsigned serial;
	char name[64], *path;
	size_t len = strlen(text);
	char *buf = malloc(len > pad_to ? len : pad_to);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, text, len);
	if (pad_to > len) {
		memset(buf + len, ' ', pad_to - len);
		len = pad_to;
	}
	snprintf(name, sizeof(name), "config-%ld-%u.json", (long)getpid(), serial++);
	path = test_write_file(fix, name, buf, len, 0600);
	free(buf);
	return path;
}

/* Every problem of one load, '\n' between them. */
struct problems {
	char *text;
	size_t len;
	size_t n;
};

static void
problems_init(struct problems *ps)
{
	ps->text = calloc(1, 1);
	ps->len = 0;
	ps->n = 0;
	ck_assert_ptr_nonnull(ps->text);
}

static void
collect(void *arg, const char *problem)
{
	struct problems *ps = arg;
	size_t l = strlen(problem);

	ps->text = realloc(ps->text, ps->len + l + 2);
	ck_assert_ptr_nonnull(ps->text);
	if (ps->n > 0)
		ps->text[ps->len++] = '\n';
	memcpy(ps->text + ps->len, problem, l + 1);
	ps->len += l;
	ps->n++;
}

/* Loads BASE with edits; it must load without a problem. */
static struct agent_config *
load_ok(const struct edit *edits)
{
	struct agent_config *c = NULL;
	struct problems ps;
	char *text = base_with(edits), *path = write_config(text, 0);
	int r;

	problems_init(&ps);
	r = config_load_report(path, &c, collect, &ps);
	ck_assert_msg(r == 0, "%s: %s (%s)", path, ps.text, sg_strerror(r));
	ck_assert_uint_eq(ps.n, 0);
	ck_assert_ptr_nonnull(c);
	unlink(path);
	free(path);
	free(text);
	free(ps.text);
	return c;
}

/* ---- refusals ---- */

/* One refusal: a configuration and everything the loader says of it. */
struct refusal {
	const char *name;             /* /config/refuse/<name> */
	struct edit edits[EDITS_MAX]; /* of BASE ... */
	const char *raw;              /* ... or, instead, the whole file */
	const char *file;             /* or load this path, writing nothing */
	size_t pad_to;                /* spaces added up to this many bytes */
	int rc;                       /* 0: SG_ERR_CONFIG */
	const char *problems;         /* all of them, in order, '\n' between */
};

static const struct refusal refusals[] = {
	/* The file and its JSON. */
	{ .name = "file-missing",
	    .file = "@D@/nonexistent.json",
	    .rc = SG_ERR_NOT_FOUND,
	    .problems = "cannot read @D@/nonexistent.json: not found" },
	{ .name = "file-directory",
	    .file = "@D@",
	    .rc = SG_ERR_SYSTEM,
	    .problems = "cannot read @D@: system call failed" },
	{ .name = "file-too-large",
	    .pad_to = CONFIG_FILE_MAX + 1,
	    .rc = SG_ERR_LIMIT,
	    .problems = "cannot read @F@: size limit exceeded" },
	{ .name = "json-empty",
	    .raw = "",
	    .problems = "not valid JSON (UTF-8, at most 16 levels)" },
	{ .name = "json-invalid",
	    .raw = "{'name':'hsm-1',}",
	    .problems = "not valid JSON (UTF-8, at most 16 levels)" },
	{ .name = "json-bad-utf8",
	    .raw = "{'name':'\xc3\x28'}",
	    .problems = "not valid JSON (UTF-8, at most 16 levels)" },
	{ .name = "json-17-levels",
	    .raw = "@[*17@@]*17@",
	    .problems = "not valid JSON (UTF-8, at most 16 levels)" },
	{ .name = "json-16-levels-not-object",
	    .raw = "@[*16@@]*16@",
	    .problems = "must be a JSON object" },
	{ .name = "json-duplicate-member",
	    .raw = "{'name':'a','name':'b'}",
	    .problems = "duplicate member or control character in a string" },
	{ .name = "json-escaped-control",
	    .raw = "{'name':'a\\u0001'}",
	    .problems = "duplicate member or control character in a string" },
	{ .name = "json-escaped-nul",
	    .raw = "{'name':'a\\u0000b'}",
	    .problems = "duplicate member or control character in a string" },
	{ .name = "json-number", .raw = "42", .problems = "must be a JSON object" },
	{ .name = "json-array", .raw = "[]", .problems = "must be a JSON object" },

	/* The top level. */
	{ .name = "unknown-member-first-only",
	    .edits = { { "result_tll", "1" }, { "formts", "1" } },
	    .problems = "result_tll: unknown member" },
	{ .name = "name-missing",
	    .edits = { { "name", NULL } },
	    .problems = "name: required member missing" },
	{ .name = "name-not-string",
	    .edits = { { "name", "1" } },
	    .problems = "name: must be a string" },
	{ .name = "name-empty",
	    .edits = { { "name", "''" } },
	    .problems = "name: empty or too long" },
	{ .name = "name-too-long",
	    .edits = { { "name", "'@h*65@'" } },
	    .problems = "name: use 1 to 64 of [A-Za-z0-9._-]" },
	{ .name = "name-leading-dot",
	    .edits = { { "name", "'.hsm'" } },
	    .problems = "name: use 1 to 64 of [A-Za-z0-9._-]" },
	/* The default audit_origin is made of the name. */
	{ .name = "name-with-space",
	    .edits = { { "name", "'hsm 1'" } },
	    .problems = "name: use 1 to 64 of [A-Za-z0-9._-]\n"
			"audit_origin: use 1 to 255 printable ASCII characters, no space or '+'" },
	{ .name = "redis-missing",
	    .edits = { { "redis", NULL } },
	    .problems = "redis: required member missing" },
	{ .name = "redis-password",
	    .edits = { { "redis", "'redis://signet:hunter2@10.0.0.1:6379/2'" } },
	    .problems = "redis: the URL holds a password; put the password in the file named by "
			"redis_password_file (the URL may keep a user name)" },
	{ .name = "redis-tls-plain-url",
	    .edits = { { "redis", "'redis://10.0.0.1:6379'" },
		{ "redis_tls", "{'ca_file':'/ca.pem'}" } },
	    .problems =
		"redis_tls: the redis URL must be rediss:// or sentinel+tls:// to use TLS" },
	{ .name = "redis-tls-cert-without-key",
	    .edits = { { "redis", "'rediss://h:6380'" },
		{ "redis_tls", "{'cert_file':'/c.pem'}" } },
	    .problems = "redis_tls: cert_file and key_file go together" },
	{ .name = "redis-tls-unknown-member",
	    .edits = { { "redis", "'rediss://h:6380'" }, { "redis_tls", "{'verify':false}" } },
	    .problems = "redis_tls.verify: unknown member" },
	{ .name = "redis-tls-relative",
	    .edits = { { "redis", "'rediss://h:6380'" }, { "redis_tls", "{'ca_file':'ca.pem'}" } },
	    .problems = "redis_tls.ca_file: must be an absolute path" },
	{ .name = "redis-tls-not-object",
	    .edits = { { "redis", "'rediss://h:6380'" }, { "redis_tls", "true" } },
	    .problems = "redis_tls: must be an object" },
	{ .name = "redis-password-file-relative",
	    .edits = { { "redis_password_file", "'redis.pass'" } },
	    .problems = "redis_password_file: must be an absolute path" },
	{ .name = "prefix-empty",
	    .edits = { { "prefix", "''" } },
	    .problems = "prefix: empty or too long" },
	{ .name = "prefix-too-long",
	    .edits = { { "prefix", "'@p*4097@'" } },
	    .problems = "prefix: empty or too long" },
	{ .name = "attestation-key-missing",
	    .edits = { { "attestation_key", NULL } },
	    .problems = "attestation_key: required member missing" },
	{ .name = "attestation-key-not-uri",
	    .edits = { { "attestation_key", "'object=attest'" } },
	    .problems = "attestation_key: must be a pkcs11: URI" },
	{ .name = "store-missing",
	    .edits = { { "store", NULL } },
	    .problems = "store: required member missing" },
	{ .name = "store-not-string",
	    .edits = { { "store", "['file:///s']" } },
	    .problems = "store: must be a string" },
	{ .name = "audit-log-missing",
	    .edits = { { "audit_log", NULL } },
	    .problems = "audit_log: required member missing" },
	{ .name = "audit-log-relative",
	    .edits = { { "audit_log", "'audit.log'" } },
	    .problems = "audit_log: must be an absolute path" },
	{ .name = "user-invalid",
	    .edits = { { "user", "'sig net'" },
		{ "pkcs11/journal", "'/var/lib/signet-signer/j'" } },
	    .problems = "user: a user name of 1 to 64 of [A-Za-z0-9._-]" },
	{ .name = "user-too-long",
	    .edits = { { "user", "'@u*65@'" }, { "pkcs11/journal", "'/var/lib/signet-signer/j'" } },
	    .problems = "user: a user name of 1 to 64 of [A-Za-z0-9._-]" },
	{ .name = "max-job-lifetime-zero",
	    .edits = { { "max_job_lifetime", "0" } },
	    .problems = "max_job_lifetime: must be an integer from 1 to 604800" },
	{ .name = "max-job-lifetime-over",
	    .edits = { { "max_job_lifetime", "604801" } },
	    .problems = "max_job_lifetime: must be an integer from 1 to 604800" },
	{ .name = "max-job-lifetime-fraction",
	    .edits = { { "max_job_lifetime", "1.5" } },
	    .problems = "max_job_lifetime: must be an integer from 1 to 604800" },
	{ .name = "max-job-lifetime-string",
	    .edits = { { "max_job_lifetime", "'900'" } },
	    .problems = "max_job_lifetime: must be an integer from 1 to 604800" },
	{ .name = "result-ttl-over",
	    .edits = { { "result_ttl", "31622401" } },
	    .problems = "result_ttl: must be an integer from 1 to 31622400" },
	{ .name = "reclaim-after-over",
	    .edits = { { "reclaim_after", "86401" } },
	    .problems = "reclaim_after: must be an integer from 1 to 86400" },
	{ .name = "store-timeout-over",
	    .edits = { { "store_timeout", "3601" } },
	    .problems = "store_timeout: must be an integer from 1 to 3600" },
	{ .name = "store-deadline-over",
	    .edits = { { "store_deadline", "86401" } },
	    .problems = "store_deadline: must be an integer from 1 to 86400" },
	{ .name = "max-deliveries-over",
	    .edits = { { "max_deliveries", "1001" } },
	    .problems = "max_deliveries: must be an integer from 1 to 1000" },
	{ .name = "metrics-interval-over",
	    .edits = { { "metrics_interval", "3601" } },
	    .problems = "metrics_interval: must be an integer from 1 to 3600" },
	{ .name = "checkpoint-interval-negative",
	    .edits = { { "checkpoint_interval", "-1" } },
	    .problems = "checkpoint_interval: must be an integer from 1 to 86400" },
	{ .name = "checkpoint-interval-over",
	    .edits = { { "checkpoint_interval", "86401" } },
	    .problems = "checkpoint_interval: must be an integer from 1 to 86400" },
	{ .name = "store-token-file-relative",
	    .edits = { { "store_token_file", "'token'" } },
	    .problems = "store_token_file: must be an absolute path" },
	{ .name = "store-ca-file-relative",
	    .edits = { { "store_ca_file", "'ca.pem'" } },
	    .problems = "store_ca_file: must be an absolute path" },
	{ .name = "metrics-file-relative",
	    .edits = { { "metrics_file", "'signet.prom'" } },
	    .problems = "metrics_file: must be an absolute path" },
	{ .name = "store-mode-group-writes",
	    .edits = { { "store_mode", "'0660'" } },
	    .problems = "store_mode: an octal mode as a string, such as \"0640\": the owner reads "
			"and writes, group and others do not write" },
	{ .name = "store-mode-number",
	    .edits = { { "store_mode", "640" } },
	    .problems = "store_mode: an octal mode as a string, such as \"0640\": the owner reads "
			"and writes, group and others do not write" },
	{ .name = "store-mode-not-file-store",
	    .edits = { { "store", "'https://artifacts.example.com/signet'" },
		{ "store_mode", "'0640'" } },
	    .problems = "store_mode: only for a file:// store" },
	{ .name = "audit-origin-space",
	    .edits = { { "audit_origin", "'example.com signet'" } },
	    .problems = "audit_origin: use 1 to 255 printable ASCII characters, no space or '+'" },
	{ .name = "audit-origin-plus",
	    .edits = { { "audit_origin", "'example.com+signet'" } },
	    .problems = "audit_origin: use 1 to 255 printable ASCII characters, no space or '+'" },
	{ .name = "audit-origin-too-long",
	    .edits = { { "audit_origin", "'@o*256@'" } },
	    .problems = "audit_origin: use 1 to 255 printable ASCII characters, no space or '+'" },

	/* Webhooks, global and per key. */
	{ .name = "webhooks-not-array",
	    .edits = { { "webhooks", HOOK } },
	    .problems = "webhooks: must be an array" },
	{ .name = "webhooks-too-many",
	    .edits = { { "webhooks[17]", HOOK } },
	    .problems = "webhooks: at most 16" },
	{ .name = "webhooks-entry-not-object",
	    .edits = { { "webhooks", "['https://h.example']" } },
	    .problems = "webhooks[0]: must be an object" },
	{ .name = "webhooks-unknown-member",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/s','retries':3}]" } },
	    .problems = "webhooks[0].retries: unknown member" },
	{ .name = "webhooks-url-missing",
	    .edits = { { "webhooks", "[{'secret_file':'/s'}]" } },
	    .problems = "webhooks[0].url: required member missing" },
	{ .name = "webhooks-url-scheme",
	    .edits = { { "webhooks", "[{'url':'ftp://h.example','secret_file':'/s'}]" } },
	    .problems = "webhooks[0].url: must be an http:// or https:// URL" },
	{ .name = "webhooks-secret-file-missing",
	    .edits = { { "webhooks", "[{'url':'https://h.example'}]" } },
	    .problems = "webhooks[0].secret_file: required member missing" },
	{ .name = "webhooks-secret-file-relative",
	    .edits = { { "webhooks", "[{'url':'https://h.example','secret_file':'s'}]" } },
	    .problems = "webhooks[0].secret_file: must be an absolute path" },
	{ .name = "webhooks-ca-file-relative",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/s','ca_file':'ca'}]" } },
	    .problems = "webhooks[0].ca_file: must be an absolute path" },
	{ .name = "webhooks-events-not-array",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/s','events':'signed'}]" } },
	    .problems = "webhooks[0].events: must be an array" },
	{ .name = "webhooks-events-unknown",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/"
		"s','events':['signed','sent']}]" } },
	    .problems = "webhooks[0].events: use \"signed\", \"rejected\", \"failed\", "
			"\"approval.requested\" "
			"and \"approval.decided\"" },
	{ .name = "webhooks-events-only-unknown",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/s','events':[1]}]" } },
	    .problems = "webhooks[0].events: use \"signed\", \"rejected\", \"failed\", "
			"\"approval.requested\" and \"approval.decided\"\n"
			"webhooks[0].events: name at least one event" },
	{ .name = "webhooks-events-case",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/"
		"s','events':['Approval.requested']}]" } },
	    .problems = "webhooks[0].events: use \"signed\", \"rejected\", \"failed\", "
			"\"approval.requested\" and \"approval.decided\"\n"
			"webhooks[0].events: name at least one event" },
	{ .name = "webhooks-events-empty",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/s','events':[]}]" } },
	    .problems = "webhooks[0].events: name at least one event" },
	{ .name = "webhooks-second-entry",
	    .edits = { { "webhooks",
		"[" HOOK ",{'url':'gopher://h.example','secret_file':'/s'}]" } },
	    .problems = "webhooks[1].url: must be an http:// or https:// URL" },
	{ .name = "webhooks-every-entry",
	    .edits = { { "webhooks", "[1,{'url':'https://h.example'},{'secret_file':'/s'}]" } },
	    .problems = "webhooks[0]: must be an object\n"
			"webhooks[1].secret_file: required member missing\n"
			"webhooks[2].url: required member missing" },
	{ .name = "webhooks-name-not-string",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/s','name':1}]" } },
	    .problems = "webhooks[0].name: must be a string" },
	{ .name = "webhooks-name-empty",
	    .edits = { { "webhooks", "[" HOOK_NAMED("") "]" } },
	    .problems = "webhooks[0].name: empty or too long" },
	{ .name = "webhooks-name-dot",
	    .edits = { { "webhooks", "[" HOOK_NAMED(".chat") "]" } },
	    .problems = "webhooks[0].name: use 1 to 64 of [A-Za-z0-9._-], not starting with '.'" },
	{ .name = "webhooks-name-space",
	    .edits = { { "webhooks", "[" HOOK_NAMED("chat room") "]" } },
	    .problems = "webhooks[0].name: use 1 to 64 of [A-Za-z0-9._-], not starting with '.'" },
	{ .name = "webhooks-name-too-long",
	    .edits = { { "webhooks", "[" HOOK_NAMED("@n*65@") "]" } },
	    .problems = "webhooks[0].name: use 1 to 64 of [A-Za-z0-9._-], not starting with '.'" },
	{ .name = "webhooks-format-unknown",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/s','format':'teams'}]" } },
	    .problems = "webhooks[0].format: \"json\" or \"slack\"" },
	{ .name = "webhooks-format-case",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/s','format':'Slack'}]" } },
	    .problems = "webhooks[0].format: \"json\" or \"slack\"" },
	{ .name = "webhooks-format-not-string",
	    .edits = { { "webhooks",
		"[{'url':'https://h.example','secret_file':'/s','format':true}]" } },
	    .problems = "webhooks[0].format: \"json\" or \"slack\"" },
	{ .name = "webhooks-name-repeated",
	    .edits = { { "webhooks",
		"[" HOOK_NAMED("chat") "," HOOK_NAMED("ops") "," HOOK_NAMED("chat") "]" } },
	    .problems = "webhooks[2].name: \"chat\" is already the name of webhooks[0]" },
	{ .name = "keys-webhooks-name-repeated-in-key",
	    .edits = { { "keys/release/webhooks",
		"[" HOOK_NAMED("own") "," HOOK_NAMED("own") "]" } },
	    .problems = "keys.release.webhooks[1].name: \"own\" is already the name of "
			"keys.release.webhooks[0]" },
	{ .name = "keys-webhooks-name-of-global",
	    .edits = { { "webhooks", "[" HOOK "," HOOK_NAMED("chat") "]" },
		{ "keys/release/webhooks", "[" HOOK_NAMED("chat") "]" } },
	    .problems = "keys.release.webhooks[0].name: \"chat\" is already the name of "
			"webhooks[1]" },
	{ .name = "keys-webhooks-name-of-other-key",
	    .edits = { { "keys/release/webhooks", "[" HOOK_NAMED("own") "]" },
		{ "keys/nightly", KEY("pkcs11:object=nightly") },
		{ "keys/nightly/webhooks", "[" HOOK "," HOOK_NAMED("own") "]" } },
	    .problems = "keys.nightly.webhooks[1].name: \"own\" is already the name of "
			"keys.release.webhooks[0]" },
	{ .name = "keys-webhooks-name-dot",
	    .edits = { { "keys/release/webhooks", "[" HOOK_NAMED(".own") "]" } },
	    .problems = "keys.release.webhooks[0].name: use 1 to 64 of [A-Za-z0-9._-], not "
			"starting with '.'" },
	{ .name = "keys-webhooks-format-unknown",
	    .edits = { { "keys/release/webhooks",
		"[{'url':'https://h.example','secret_file':'/s','format':'xml'}]" } },
	    .problems = "keys.release.webhooks[0].format: \"json\" or \"slack\"" },
	{ .name = "keys-webhooks-too-many",
	    .edits = { { "keys/release/webhooks[17]", HOOK } },
	    .problems = "keys.release.webhooks: at most 16" },
	{ .name = "keys-webhooks-url-scheme",
	    .edits = { { "keys/release/webhooks", "[{'url':'file:///x','secret_file':'/s'}]" } },
	    .problems = "keys.release.webhooks[0].url: must be an http:// or https:// URL" },

	/* pkcs11 */
	{ .name = "pkcs11-missing",
	    .edits = { { "pkcs11", NULL } },
	    .problems = "pkcs11: required object missing" },
	/* Not an object: the same message (json_get_object() fails before
	 * load_pkcs11() could say "must be an object"). */
	{ .name = "pkcs11-not-object",
	    .edits = { { "pkcs11", "'/usr/lib/softhsm/libsofthsm2.so'" } },
	    .problems = "pkcs11: required object missing" },
	{ .name = "pkcs11-unknown-member",
	    .edits = { { "pkcs11/slot", "0" } },
	    .problems = "pkcs11.slot: unknown member" },
	{ .name = "pkcs11-module-missing",
	    .edits = { { "pkcs11/module", NULL } },
	    .problems = "pkcs11.module: required member missing" },
	{ .name = "pkcs11-module-relative",
	    .edits = { { "pkcs11/module", "'libsofthsm2.so'" } },
	    .problems = "pkcs11.module: must be an absolute path" },
	{ .name = "pkcs11-token-missing",
	    .edits = { { "pkcs11/token", NULL } },
	    .problems = "pkcs11.token: required member missing" },
	{ .name = "pkcs11-token-not-string",
	    .edits = { { "pkcs11/token", "1" } },
	    .problems = "pkcs11.token: must be a string" },
	{ .name = "pkcs11-pin-file-missing",
	    .edits = { { "pkcs11/pin_file", NULL } },
	    .problems = "pkcs11.pin_file: required member missing" },
	{ .name = "pkcs11-pin-file-relative",
	    .edits = { { "pkcs11/pin_file", "'pin'" } },
	    .problems = "pkcs11.pin_file: must be an absolute path" },
	{ .name = "pkcs11-signer-relative",
	    .edits = { { "pkcs11/signer", "'signet-signer'" } },
	    .problems = "pkcs11.signer: must be an absolute path" },
	{ .name = "pkcs11-journal-relative",
	    .edits = { { "pkcs11/journal", "'journal'" } },
	    .problems = "pkcs11.journal: must be an absolute path" },
	{ .name = "pkcs11-user-invalid",
	    .edits = { { "pkcs11/user", "'signet signer'" } },
	    .problems = "pkcs11.user: a user name of 1 to 64 of [A-Za-z0-9._-]" },
	{ .name = "pkcs11-isolation-unknown",
	    .edits = { { "pkcs11/isolation", "'thread'" } },
	    .problems = "pkcs11.isolation: \"process\" or \"none\"" },
	{ .name = "pkcs11-isolation-not-string",
	    .edits = { { "pkcs11/isolation", "false" } },
	    .problems = "pkcs11.isolation: \"process\" or \"none\"" },
	{ .name = "pkcs11-sessions-zero",
	    .edits = { { "pkcs11/sessions", "0" } },
	    .problems = "pkcs11.sessions: must be an integer from 1 to 64" },
	{ .name = "pkcs11-sessions-over",
	    .edits = { { "pkcs11/sessions", "65" } },
	    .problems = "pkcs11.sessions: must be an integer from 1 to 64" },
	{ .name = "pkcs11-journal-required-with-user",
	    .edits = { { "user", "'signet'" } },
	    .problems = "pkcs11.journal: required with user (a file in a directory that signet "
			"cannot write)" },
	{ .name = "pkcs11-user-same-as-user",
	    .edits = { { "user", "'signet'" }, { "pkcs11/user", "'signet'" },
		{ "pkcs11/journal", "'/var/lib/signet-signer/j'" } },
	    .problems = "pkcs11.user: the signer's user must not be the agent's (signet): "
			"the agent "
			"could then read the PIN" },

	/* submitter_cas */
	{ .name = "submitter-cas-not-object",
	    .edits = { { "submitter_cas", "[" CA "]" } },
	    .problems = "submitter_cas: must be an object\n"
			"submitters.team.identity: no submitter_cas are configured" },
	{ .name = "submitter-cas-empty",
	    .edits = { { "submitter_cas", "{}" } },
	    .problems = "submitter_cas: 1 to 16 entries\n"
			"submitters.team.identity: no submitter_cas are configured" },
	{ .name = "submitter-cas-too-many",
	    .edits = { { "submitter_cas{17}", CA } },
	    .problems = "submitter_cas: 1 to 16 entries\n"
			"submitters.team.identity: no submitter_cas are configured" },
	{ .name = "submitter-cas-bad-name",
	    .edits = { { "submitter_cas/corp", NULL }, { "submitter_cas/c@rp", CA } },
	    .problems = "submitter_cas.c@rp: names use 1 to 64 of [A-Za-z0-9._-], not starting "
			"with '.'" },
	{ .name = "submitter-cas-entry-not-object",
	    .edits = { { "submitter_cas/corp", "'x'" } },
	    .problems = "submitter_cas.corp: must be an object" },
	{ .name = "submitter-cas-unknown-member",
	    .edits = { { "submitter_cas/corp/ocsp", "'x'" } },
	    .problems = "submitter_cas.corp.ocsp: unknown member" },
	{ .name = "submitter-cas-bundle-missing",
	    .edits = { { "submitter_cas/corp/bundle", NULL } },
	    .problems = "submitter_cas.corp.bundle: required member missing" },
	{ .name = "submitter-cas-bundle-relative",
	    .edits = { { "submitter_cas/corp/bundle", "'ca.pem'" } },
	    .problems = "submitter_cas.corp.bundle: must be an absolute path" },
	{ .name = "submitter-cas-bundle-unreadable",
	    .edits = { { "submitter_cas/corp/bundle", "'@D@/missing.pem'" } },
	    .problems = "submitter_cas.corp.bundle: cannot read @D@/missing.pem: not found" },
	{ .name = "submitter-cas-bundle-no-certificate",
	    .edits = { { "submitter_cas/corp/bundle", "'@D@/empty.pem'" } },
	    .problems = "submitter_cas.corp.bundle: cannot read @D@/empty.pem: unparseable input" },
	{ .name = "submitter-cas-eku-unknown",
	    .edits = { { "submitter_cas/corp/eku", "'weird'" } },
	    .problems = "submitter_cas.corp.eku: \"weird\" is not any, codeSigning, "
			"emailProtection, "
			"clientAuth, serverAuth or a dotted OID" },
	{ .name = "submitter-cas-eku-oid-empty-arc",
	    .edits = { { "submitter_cas/corp/eku", "'1.3.6.1.5.5.7.3..3'" } },
	    .problems = "submitter_cas.corp.eku: \"1.3.6.1.5.5.7.3..3\" is not any, codeSigning, "
			"emailProtection, clientAuth, serverAuth or a dotted OID" },
	{ .name = "submitter-cas-eku-oid-trailing-dot",
	    .edits = { { "submitter_cas/corp/eku", "'1.3.6.1.5.5.7.3.3.'" } },
	    .problems = "submitter_cas.corp.eku: \"1.3.6.1.5.5.7.3.3.\" is not any, codeSigning, "
			"emailProtection, clientAuth, serverAuth or a dotted OID" },
	{ .name = "submitter-cas-eku-oid-one-arc",
	    .edits = { { "submitter_cas/corp/eku", "'1'" } },
	    .problems = "submitter_cas.corp.eku: \"1\" is not any, codeSigning, emailProtection, "
			"clientAuth, serverAuth or a dotted OID" },
	{ .name = "submitter-cas-eku-long-shown-cut",
	    .edits = { { "submitter_cas/corp/eku", "'@e*100@'" } },
	    .problems = "submitter_cas.corp.eku: \"@e*64@\" is not any, codeSigning, "
			"emailProtection, clientAuth, serverAuth or a dotted OID" },
	{ .name = "submitter-cas-identity-unknown",
	    .edits = { { "submitter_cas/corp/identity", "'dns'" } },
	    .problems = "submitter_cas.corp.identity: must be email, uri or cn" },
	{ .name = "submitter-cas-crl-relative",
	    .edits = { { "submitter_cas/corp/crl", "'crl.pem'" } },
	    .problems = "submitter_cas.corp.crl: must be an absolute path" },
	{ .name = "submitter-cas-crl-unreadable",
	    .edits = { { "submitter_cas/corp/crl", "'@D@/missing.crl'" } },
	    .problems = "submitter_cas.corp.crl: cannot read @D@/missing.crl: not found" },
	{ .name = "submitter-cas-crl-none",
	    .edits = { { "submitter_cas/corp/crl", "'@T@/crypto-root.crt'" } },
	    .problems = "submitter_cas.corp.crl: @T@/crypto-root.crt holds no valid PEM CRL" },
	{ .name = "submitter-cas-crl-garbage",
	    .edits = { { "submitter_cas/corp/crl", "'@D@/garbage.crl'" } },
	    .problems = "submitter_cas.corp.crl: @D@/garbage.crl holds no valid PEM CRL" },

	/* revoked */
	{ .name = "revoked-not-object",
	    .edits = { { "revoked", "[]" } },
	    .problems = "revoked: must be an object" },
	{ .name = "revoked-unknown-member",
	    .edits = { { "revoked", "{'certs':[]}" } },
	    .problems = "revoked.certs: unknown member" },
	{ .name = "revoked-keyids-not-array",
	    .edits = { { "revoked", "{'keyids':'" KEYID_A "'}" } },
	    .problems = "revoked.keyids: must be an array of at most 4096 keyids" },
	{ .name = "revoked-keyids-too-many",
	    .edits = { { "revoked", "{}" }, { "revoked/keyids[4097]", "'" KEYID_A "'" } },
	    .problems = "revoked.keyids: must be an array of at most 4096 keyids" },
	{ .name = "revoked-keyids-bad",
	    .edits = { { "revoked", "{'keyids':['sha256:ab']}" } },
	    .problems = "revoked.keyids[0]: must be sha256: and 64 lowercase hex digits" },
	{ .name = "revoked-keyids-uppercase",
	    .edits = { { "revoked", "{'keyids':['" KEYID_A "','sha256:@A*64@']}" } },
	    .problems = "revoked.keyids[1]: must be sha256: and 64 lowercase hex digits" },
	{ .name = "revoked-keyids-other-prefix",
	    .edits = { { "revoked", "{'keyids':['sha512:@a*64@']}" } },
	    .problems = "revoked.keyids[0]: must be sha256: and 64 lowercase hex digits" },
	{ .name = "revoked-keyids-not-string",
	    .edits = { { "revoked", "{'keyids':[1]}" } },
	    .problems = "revoked.keyids[0]: must be sha256: and 64 lowercase hex digits" },
	{ .name = "revoked-serials-not-array",
	    .edits = { { "revoked", "{'serials':{}}" } },
	    .problems = "revoked.serials: must be an array of at most 4096 serials" },
	{ .name = "revoked-serials-too-many",
	    .edits = { { "revoked", "{}" }, { "revoked/serials[4097]", "'0a'" } },
	    .problems = "revoked.serials: must be an array of at most 4096 serials" },
	{ .name = "revoked-serials-bad",
	    .edits = { { "revoked", "{'serials':['0a','zz']}" } },
	    .problems = "revoked.serials[1]: must be 1 to 40 hex digits (colons allowed)" },
	{ .name = "revoked-serials-empty",
	    .edits = { { "revoked", "{'serials':['']}" } },
	    .problems = "revoked.serials[0]: must be 1 to 40 hex digits (colons allowed)" },
	{ .name = "revoked-serials-41-digits",
	    .edits = { { "revoked", "{'serials':['@1*41@']}" } },
	    .problems = "revoked.serials[0]: must be 1 to 40 hex digits (colons allowed)" },
	{ .name = "revoked-serials-not-string",
	    .edits = { { "revoked", "{'serials':[10]}" } },
	    .problems = "revoked.serials[0]: must be 1 to 40 hex digits (colons allowed)" },

	/* ci_issuers */
	{ .name = "ci-issuers-not-object",
	    .edits = { { "ci_issuers", "[]" } },
	    .problems = "ci_issuers: must be an object" },
	{ .name = "ci-issuers-empty",
	    .edits = { { "ci_issuers", "{}" } },
	    .problems = "ci_issuers: 1 to 16 entries" },
	{ .name = "ci-issuers-too-many",
	    .edits = { { "ci_issuers{17}", GITHUB("https://x") } },
	    .problems = "ci_issuers: 1 to 16 entries" },
	{ .name = "ci-issuers-bad-name",
	    .edits = { { "ci_issuers/git hub",
		GITHUB("https://token.actions.githubusercontent.com") } },
	    .problems = "ci_issuers.git hub: names use 1 to 64 of [A-Za-z0-9._-], not starting "
			"with '.'" },
	{ .name = "ci-issuers-entry-not-object",
	    .edits = { { "ci_issuers/gitlab", "true" } },
	    .problems = "ci_issuers.gitlab: must be an object" },
	{ .name = "ci-issuers-unknown-member",
	    .edits = { { "ci_issuers/gitlab/url", "'https://x'" } },
	    .problems = "ci_issuers.gitlab.url: unknown member" },
	{ .name = "ci-issuers-issuer-missing",
	    .edits = { { "ci_issuers/gitlab/issuer", NULL } },
	    .problems = "ci_issuers.gitlab.issuer: required member missing" },
	{ .name = "ci-issuers-audience-missing",
	    .edits = { { "ci_issuers/gitlab/audience", NULL } },
	    .problems = "ci_issuers.gitlab.audience: required member missing" },
	{ .name = "ci-issuers-jwks-missing",
	    .edits = { { "ci_issuers/gitlab/jwks", NULL } },
	    .problems = "ci_issuers.gitlab.jwks: required member missing" },
	{ .name = "ci-issuers-kind-missing",
	    .edits = { { "ci_issuers/gitlab/kind", NULL } },
	    .problems = "ci_issuers.gitlab.kind: required member missing" },
	{ .name = "ci-issuers-jwks-relative",
	    .edits = { { "ci_issuers/gitlab/jwks", "'jwks.json'" } },
	    .problems = "ci_issuers.gitlab.jwks: must be an absolute path" },
	{ .name = "ci-issuers-issuer-too-long",
	    .edits = { { "ci_issuers/gitlab/issuer", "'https://@x*505@'" } },
	    .problems = "ci_issuers.gitlab.issuer: 1 to 512 printable bytes" },
	{ .name = "ci-issuers-issuer-del",
	    .edits = { { "ci_issuers/gitlab/issuer", "'https://gitlab.example.com\x7f'" } },
	    .problems = "ci_issuers.gitlab.issuer: 1 to 512 printable bytes" },
	{ .name = "ci-issuers-audience-too-long",
	    .edits = { { "ci_issuers/gitlab/audience", "'@x*513@'" } },
	    .problems = "ci_issuers.gitlab.audience: 1 to 512 printable bytes" },
	{ .name = "ci-issuers-kind-unknown",
	    .edits = { { "ci_issuers/gitlab/kind", "'jenkins'" } },
	    .problems = "ci_issuers.gitlab.kind: must be gitlab or github" },
	{ .name = "ci-issuers-issuer-twice",
	    .edits = { { "ci_issuers/github", GITHUB("https://gitlab.example.com") } },
	    .problems = "ci_issuers.github.issuer: the same as ci_issuers.gitlab.issuer" },
	{ .name = "ci-issuers-jwks-unreadable",
	    .edits = { { "ci_issuers/gitlab/jwks", "'@D@/missing.jwks'" } },
	    .problems = "ci_issuers.gitlab.jwks: cannot read @D@/missing.jwks: not found" },
	{ .name = "ci-issuers-jwks-too-large",
	    .edits = { { "ci_issuers/gitlab/jwks", "'@D@/big.jwks'" } },
	    .problems = "ci_issuers.gitlab.jwks: cannot read @D@/big.jwks: size limit "
			"exceeded" },
	{ .name = "ci-issuers-jwks-not-json",
	    .edits = { { "ci_issuers/gitlab/jwks", "'@D@/bad.jwks'" } },
	    .problems = "ci_issuers.gitlab.jwks: @D@/bad.jwks: not JSON (UTF-8, at most 16 "
			"levels)" },
	{ .name = "ci-issuers-jwks-no-keys",
	    .edits = { { "ci_issuers/gitlab/jwks", "'@D@/nokeys.jwks'" } },
	    .problems = "ci_issuers.gitlab.jwks: @D@/nokeys.jwks: 0 keys; 1 to 32 "
			"allowed" },

	/* keys */
	{ .name = "keys-missing",
	    .edits = { { "keys", NULL } },
	    .problems = "keys: required object missing\n"
			"submitters.ci.keys[0]: not a configured key\n"
			"submitters.team.keys[0]: not a configured key" },
	{ .name = "keys-not-object",
	    .edits = { { "keys", "[" KEY("pkcs11:object=release") "]" } },
	    .problems = "keys: required object missing\n"
			"submitters.ci.keys[0]: not a configured key\n"
			"submitters.team.keys[0]: not a configured key" },
	{ .name = "keys-empty",
	    .edits = { { "keys", "{}" } },
	    .problems = "keys: 1 to 256 entries\n"
			"submitters.ci.keys[0]: not a configured key\n"
			"submitters.team.keys[0]: not a configured key" },
	{ .name = "keys-too-many",
	    .edits = { { "keys{257}", KEY("pkcs11:object=k") } },
	    .problems = "keys: 1 to 256 entries\n"
			"submitters.ci.keys[0]: not a configured key\n"
			"submitters.team.keys[0]: not a configured key" },
	{ .name = "keys-name-space",
	    .edits = { { "keys/rel ease", KEY("pkcs11:object=r") } },
	    .problems = "keys.rel ease: names use 1 to 64 of [A-Za-z0-9._-], not starting "
			"with '.'" },
	{ .name = "keys-name-leading-dot",
	    .edits = { { "keys/.release", KEY("pkcs11:object=r") } },
	    .problems = "keys..release: names use 1 to 64 of [A-Za-z0-9._-], not starting "
			"with '.'" },
	/* The name is shown cut to 64 bytes. */
	{ .name = "keys-name-too-long",
	    .edits = { { "keys/@k*65@", KEY("pkcs11:object=r") } },
	    .problems = "keys.@k*64@: names use 1 to 64 of [A-Za-z0-9._-], not starting "
			"with '.'" },
	{ .name = "keys-entry-not-object",
	    .edits = { { "keys/release", "'pkcs11:object=release'" } },
	    .problems = "keys.release: must be an object" },
	{ .name = "keys-unknown-member",
	    .edits = { { "keys/release/timestamps", "true" } },
	    .problems = "keys.release.timestamps: unknown member" },
	{ .name = "keys-formats-openpgp-no-identity",
	    .edits = { { "keys/release/formats", "['cms','openpgp']" } },
	    .problems = "keys.release.openpgp: required when formats lists openpgp (the "
			"key's OpenPGP creation time and user ID)" },
	{ .name = "keys-openpgp-without-format",
	    .edits = { { "keys/release/openpgp",
		"{'created':'2026-01-01T00:00:00Z','uid':'Release <r@example.com>'}" } },
	    .problems = "keys.release.openpgp: only for a key whose formats list openpgp" },
	{ .name = "keys-openpgp-bad-created",
	    .edits = { { "keys/release/formats", "['openpgp']" },
		{ "keys/release/openpgp", "{'created':'2026-01-01','uid':'R <r@example.com>'}" } },
	    .problems = "keys.release.openpgp.created: required, a time as "
			"YYYY-MM-DDTHH:MM:SSZ (the OpenPGP key's creation time; the "
			"fingerprint depends on it)" },
	{ .name = "keys-openpgp-uid-too-long",
	    .edits = { { "keys/release/formats", "['openpgp']" },
		{ "keys/release/openpgp", "{'created':'2026-01-01T00:00:00Z','uid':'@u*1025@'}" } },
	    .problems = "keys.release.openpgp.uid: 1 to 1024 bytes of UTF-8 text, such as "
			"\"Release Signing <release@example.com>\"" },
	{ .name = "keys-openpgp-unknown",
	    .edits = { { "keys/release/formats", "['openpgp']" },
		{ "keys/release/openpgp",
		    "{'created':'2026-01-01T00:00:00Z','uid':'R <r@example.com>','x':1}" } },
	    .problems = "keys.release.openpgp.x: unknown member" },
	{ .name = "keys-formats-openpgp-pss",
	    .edits = { { "keys/release/mechanism", "'rsa-pss-sha256'" },
		{ "keys/release/formats", "['openpgp']" },
		{ "keys/release/openpgp", "{'created':'2026-01-01T00:00:00Z','uid':'R'}" } },
	    .problems = "keys.release.formats[0]: openpgp needs an ecdsa-sha256 or "
			"rsa-pkcs1-sha256 key (OpenPGP has no RSA-PSS); this key is "
			"rsa-pss-sha256\n"
			"keys.release.openpgp: only for a key whose formats list openpgp" },
	{ .name = "keys-formats-kmod-with-openpgp",
	    .edits = { { "keys/release/formats", "['kmod','openpgp']" },
		{ "keys/release/openpgp", "{'created':'2026-01-01T00:00:00Z','uid':'R'}" } },
	    .problems = "keys.release.formats: raw and kmod sign whatever digest they are "
			"given, so a key that lists either cannot also list openpgp (a "
			"submitter could obtain an OpenPGP signature of any type over data of "
			"its choosing); use a key of its own" },
	{ .name = "keys-formats-authenticode-pss",
	    .edits = { { "keys/release/mechanism", "'rsa-pss-sha256'" },
		{ "keys/release/formats", "['cms','authenticode']" } },
	    .problems = "keys.release.formats[1]: authenticode needs an ecdsa-sha256 or "
			"rsa-pkcs1-sha256 key (Windows and UEFI firmware accept no "
			"RSA-PSS); this key is rsa-pss-sha256" },
	{ .name = "keys-formats-kmod-pss",
	    .edits = { { "keys/release/mechanism", "'rsa-pss-sha256'" },
		{ "keys/release/formats", "['kmod']" } },
	    .problems = "keys.release.formats[0]: kmod needs an ecdsa-sha256 or "
			"rsa-pkcs1-sha256 key (the kernel accepts no RSA-PSS); this key is "
			"rsa-pss-sha256" },
	{ .name = "keys-timestamp-not-object",
	    .edits = { { "keys/release/timestamp", "true" } },
	    .problems = "keys.release.timestamp: must be an object" },
	{ .name = "keys-timestamp-unknown",
	    .edits = { { "keys/release/timestamp",
		"{'url':'http://tsa.example/','roots':'@T@/crypto-root.crt','policy':'1.2'}" } },
	    .problems = "keys.release.timestamp.policy: unknown member" },
	{ .name = "keys-timestamp-url",
	    .edits = { { "keys/release/timestamp",
		"{'url':'ftp://tsa.example/','roots':'@T@/crypto-root.crt'}" } },
	    .problems = "keys.release.timestamp.url: must be an http:// or https:// URL" },
	{ .name = "keys-timestamp-url-missing",
	    .edits = { { "keys/release/timestamp", "{'roots':'@T@/crypto-root.crt'}" } },
	    .problems = "keys.release.timestamp.url: required member missing" },
	{ .name = "keys-timestamp-timeout",
	    .edits = { { "keys/release/timestamp",
		"{'url':'http://tsa.example/','roots':'@T@/crypto-root.crt','timeout':0}" } },
	    .problems = "keys.release.timestamp.timeout: must be an integer from 1 to 120 "
			"(seconds)" },
	{ .name = "keys-timestamp-roots-unreadable",
	    .edits = { { "keys/release/timestamp",
		"{'url':'http://tsa.example/','roots':'/nonexistent/tsa.pem'}" } },
	    .problems = "keys.release.timestamp.roots: cannot read /nonexistent/tsa.pem: "
			"not found" },
	{ .name = "keys-key-missing",
	    .edits = { { "keys/release/key", NULL } },
	    .problems = "keys.release.key: required member missing" },
	{ .name = "keys-key-not-uri",
	    .edits = { { "keys/release/key", "'object=release'" } },
	    .problems = "keys.release.key: must be a pkcs11: URI" },
	{ .name = "keys-mechanism-missing",
	    .edits = { { "keys/release/mechanism", NULL } },
	    .problems = "keys.release.mechanism: required member missing" },
	{ .name = "keys-mechanism-unknown",
	    .edits = { { "keys/release/mechanism", "'ecdsa-p384'" } },
	    .problems = "keys.release.mechanism: unknown mechanism \"ecdsa-p384\"" },
	{ .name = "keys-mechanism-long-shown-cut",
	    .edits = { { "keys/release/mechanism", "'@m*100@'" } },
	    .problems = "keys.release.mechanism: unknown mechanism \"@m*64@\"" },
	{ .name = "keys-formats-missing",
	    .edits = { { "keys/release/formats", NULL } },
	    .problems = "keys.release.formats: required array missing" },
	{ .name = "keys-formats-not-array",
	    .edits = { { "keys/release/formats", "'raw'" } },
	    .problems = "keys.release.formats: required array missing" },
	{ .name = "keys-formats-empty",
	    .edits = { { "keys/release/formats", "[]" } },
	    .problems = "keys.release.formats: must name at least one format" },
	{ .name = "keys-formats-not-string",
	    .edits = { { "keys/release/formats", "['raw',1]" } },
	    .problems = "keys.release.formats[1]: must be a string" },
	{ .name = "keys-formats-unknown",
	    .edits = { { "keys/release/formats", "['raw','pgp']" } },
	    .problems = "keys.release.formats[1]: unknown format \"pgp\"" },
	{ .name = "keys-submitters-not-array",
	    .edits = { { "keys/release/submitters", "'ci'" } },
	    .problems = "keys.release.submitters: must be an array of patterns" },
	{ .name = "keys-submitters-not-string",
	    .edits = { { "keys/release/submitters", "['ci',1]" } },
	    .problems = "keys.release.submitters[1]: must be a pattern of 1 to 512 "
			"printable bytes" },
	{ .name = "keys-artifact-names-empty",
	    .edits = { { "keys/release/artifact_names", "[]" } },
	    .problems = "keys.release.artifact_names: 1 to 64 patterns (leave the member "
			"out for no "
			"restriction)" },
	{ .name = "keys-artifact-names-pattern-empty",
	    .edits = { { "keys/release/artifact_names", "['']" } },
	    .problems = "keys.release.artifact_names[0]: must be a pattern of 1 to 512 "
			"printable bytes" },
	{ .name = "keys-ci-projects-too-many",
	    .edits = { { "keys/release/ci_projects[65]", "'group/firmware'" } },
	    .problems = "keys.release.ci_projects: 1 to 64 patterns (leave the member out "
			"for no "
			"restriction)" },
	{ .name = "keys-ci-refs-pattern-too-long",
	    .edits = { { "keys/release/ci_refs", "['refs/tags/*','@r*513@']" } },
	    .problems = "keys.release.ci_refs[1]: must be a pattern of 1 to 512 printable "
			"bytes" },
	{ .name = "keys-ci-refs-pattern-del",
	    .edits = { { "keys/release/ci_refs", "['refs/\x7f']" } },
	    .problems = "keys.release.ci_refs[0]: must be a pattern of 1 to 512 printable "
			"bytes" },
	{ .name = "keys-quota-not-object",
	    .edits = { { "keys/release/quota", "10" } },
	    .problems = "keys.release.quota: must be an object" },
	{ .name = "keys-quota-unknown-member",
	    .edits = { { "keys/release/quota", "{'per_week':1}" } },
	    .problems = "keys.release.quota.per_week: unknown member" },
	{ .name = "keys-quota-per-hour-zero",
	    .edits = { { "keys/release/quota", "{'per_hour':0}" } },
	    .problems = "keys.release.quota.per_hour: must be an integer from 1 to "
			"1000000" },
	{ .name = "keys-quota-per-day-over",
	    .edits = { { "keys/release/quota", "{'per_hour':1,'per_day':1000001}" } },
	    .problems = "keys.release.quota.per_day: must be an integer from 1 to "
			"1000000" },
	{ .name = "keys-quota-empty",
	    .edits = { { "keys/release/quota", "{}" } },
	    .problems = "keys.release.quota: name per_hour, per_day or both" },
	{ .name = "keys-max-job-lifetime-over",
	    .edits = { { "keys/release/max_job_lifetime", "604801" } },
	    .problems = "keys.release.max_job_lifetime: must be an integer from 1 to "
			"604800" },
	{ .name = "keys-max-job-lifetime-zero",
	    .edits = { { "keys/release/max_job_lifetime", "0" } },
	    .problems = "keys.release.max_job_lifetime: must be an integer from 1 to "
			"604800" },
	{ .name = "keys-disabled-not-bool",
	    .edits = { { "keys/release/disabled", "'yes'" } },
	    .problems = "keys.release.disabled: must be true or false" },
	{ .name = "keys-ci-token-unknown",
	    .edits = { { "keys/release/ci_token", "'yes'" } },
	    .problems = "keys.release.ci_token: \"required\" or \"optional\"" },
	{ .name = "keys-ci-token-not-string",
	    .edits = { { "keys/release/ci_token", "true" } },
	    .problems = "keys.release.ci_token: \"required\" or \"optional\"" },
	{ .name = "keys-ci-protected-ref-not-bool",
	    .edits = { { "keys/release/ci_token", "'required'" },
		{ "keys/release/ci_protected_ref", "1" } },
	    .problems = "keys.release.ci_protected_ref: must be true or false" },
	{ .name = "keys-ci-protected-ref-without-token",
	    .edits = { { "keys/release/ci_protected_ref", "true" } },
	    .problems = "keys.release.ci_protected_ref: needs \"ci_token\": \"required\" "
			"(only a "
			"verified token says whether a ref is protected)" },
	{ .name = "keys-ci-token-required-no-issuers",
	    .edits = { { "ci_issuers", NULL }, { "keys/release/ci_token", "'required'" } },
	    .problems = "keys.release.ci_token: \"required\", but no ci_issuers are "
			"configured" },
	{ .name = "keys-ci-token-issuers-empty",
	    .edits = { { "keys/release/ci_token_issuers", "[]" } },
	    .problems = "keys.release.ci_token_issuers: an array of 1 to 16 names of "
			"ci_issuers" },
	{ .name = "keys-ci-token-issuers-not-array",
	    .edits = { { "keys/release/ci_token_issuers", "'gitlab'" } },
	    .problems = "keys.release.ci_token_issuers: an array of 1 to 16 names of "
			"ci_issuers" },
	{ .name = "keys-ci-token-issuers-too-many",
	    .edits = { { "keys/release/ci_token_issuers[17]", "'gitlab'" } },
	    .problems = "keys.release.ci_token_issuers: an array of 1 to 16 names of "
			"ci_issuers" },
	{ .name = "keys-ci-token-issuers-unknown",
	    .edits = { { "keys/release/ci_token_issuers", "['gitlab','github']" } },
	    .problems = "keys.release.ci_token_issuers[1]: not a configured ci_issuer" },
	{ .name = "keys-ci-token-issuers-not-string",
	    .edits = { { "keys/release/ci_token_issuers", "[{'name':'gitlab'}]" } },
	    .problems = "keys.release.ci_token_issuers[0]: not a configured ci_issuer" },
	{ .name = "keys-ci-token-issuers-required-for-refs",
	    .edits = { { "ci_issuers/github", GITHUB("https://token.actions.githubusercontent.com") }, { "keys/release/ci_refs", "['refs/tags/v*']" } },
	    .problems = "keys.release.ci_token_issuers: required when several ci_issuers "
			"are "
			"configured (name those whose tokens count for this key)" },
	{ .name = "keys-ci-token-issuers-required-for-token",
	    .edits = { { "ci_issuers/github", GITHUB("https://token.actions.githubusercontent.com") }, { "keys/release/ci_token", "'required'" } },
	    .problems = "keys.release.ci_token_issuers: required when several ci_issuers are "
			"configured (name those whose tokens count for this key)" },
	{ .name = "keys-name-attestation-key",
	    .edits = { { "keys/attestation_key", KEY("pkcs11:object=attest") } },
	    .problems = "keys.attestation_key: the name is reserved (the signer's journal "
			"names the "
			"attestation key so)" },
	{ .name = "keys-name-audit",
	    .edits = { { "keys/audit", KEY("pkcs11:object=audit") } },
	    .problems = "keys.audit: the name is reserved (the store's audit/ folder holds "
			"the audit "
			"log)" },
	{ .name = "keys-certificates-missing",
	    .edits = { { "keys/release/certificates", NULL } },
	    .problems = "keys.release.certificates: required member missing" },
	{ .name = "keys-certificates-relative",
	    .edits = { { "keys/release/certificates", "'chain.pem'" } },
	    .problems = "keys.release.certificates: must be an absolute path" },
	{ .name = "keys-certificates-unreadable",
	    .edits = { { "keys/release/certificates", "'@D@/missing.pem'" } },
	    .problems = "keys.release.certificates: cannot read @D@/missing.pem: not found" },
	{ .name = "keys-certificates-directory",
	    .edits = { { "keys/release/certificates", "'@D@'" } },
	    .problems = "keys.release.certificates: cannot read @D@: system call failed" },
	/* A file without a certificate is refused by crypto_load_certs()
	 * already, so load_chain()'s "0 certificates" is never reached. */
	{ .name = "keys-certificates-none",
	    .edits = { { "keys/release/certificates", "'@D@/empty.pem'" } },
	    .problems = "keys.release.certificates: cannot read @D@/empty.pem: unparseable input" },
	{ .name = "keys-certificates-garbage",
	    .edits = { { "keys/release/certificates", "'@D@/garbage.pem'" } },
	    .problems = "keys.release.certificates: cannot read @D@/garbage.pem: "
			"unparseable input" },
	{ .name = "keys-certificates-nine",
	    .edits = { { "keys/release/certificates", "'@D@/nine.pem'" } },
	    .problems = "keys.release.certificates: 9 certificates (1 to 8 allowed)" },
	{ .name = "keys-certificates-bad-validity",
	    .edits = { { "keys/release/certificates", "'@D@/badtime.pem'" } },
	    .problems = "keys.release.certificates: the first certificate's validity "
			"cannot be read" },
	/* Problems of one key go on after the first. */
	{ .name = "keys-every-problem",
	    .edits = { { "keys/release",
		"{'key':'x','mechanism':'md5','formats':['pgp'],"
		"'quota':{},'disabled':0,'certificates':'c.pem'}" } },
	    .problems = "keys.release.key: must be a pkcs11: URI\n"
			"keys.release.mechanism: unknown mechanism \"md5\"\n"
			"keys.release.formats[0]: unknown format \"pgp\"\n"
			"keys.release.disabled: must be true or false\n"
			"keys.release.quota: name per_hour, per_day or both\n"
			"keys.release.certificates: must be an absolute path" },

	/* submitters */
	{ .name = "submitters-missing",
	    .edits = { { "submitters", NULL } },
	    .problems = "submitters: required object missing" },
	{ .name = "submitters-not-object",
	    .edits = { { "submitters", "[]" } },
	    .problems = "submitters: required object missing" },
	{ .name = "submitters-too-many",
	    .edits = { { "submitters{4097}", "{}" } },
	    .problems = "submitters: 0 to 4096 entries" },
	{ .name = "submitters-bad-name",
	    .edits = { { "submitters/c+i",
		"{'public_key':'@T@/crypto-rsa2048.pub','keys':['release']}" } },
	    .problems = "submitters.c+i: names use 1 to 64 of [A-Za-z0-9._-], not starting "
			"with '.'" },
	{ .name = "submitters-entry-not-object",
	    .edits = { { "submitters/ci", "['release']" } },
	    .problems = "submitters.ci: must be an object" },
	{ .name = "submitters-unknown-member",
	    .edits = { { "submitters/ci/role", "'admin'" } },
	    .problems = "submitters.ci.role: unknown member" },
	{ .name = "submitters-both",
	    .edits = { { "submitters/ci/identity", "'ci@example.com'" } },
	    .problems = "submitters.ci: give exactly one of public_key and identity" },
	{ .name = "submitters-neither",
	    .edits = { { "submitters/ci/public_key", NULL } },
	    .problems = "submitters.ci: give exactly one of public_key and identity" },
	{ .name = "submitters-public-key-not-string",
	    .edits = { { "submitters/ci/public_key", "1" } },
	    .problems = "submitters.ci.public_key: must be a string" },
	{ .name = "submitters-public-key-relative",
	    .edits = { { "submitters/ci/public_key", "'ci.pub'" } },
	    .problems = "submitters.ci.public_key: must be an absolute path" },
	{ .name = "submitters-ca-on-pinned",
	    .edits = { { "submitters/ci/ca", "'corp'" } },
	    .problems = "submitters.ci.ca: only for an identity entry" },
	{ .name = "submitters-public-key-unreadable",
	    .edits = { { "submitters/ci/public_key", "'@D@/missing.pub'" } },
	    .problems = "submitters.ci.public_key: cannot load @D@/missing.pub: not found" },
	{ .name = "submitters-public-key-garbage",
	    .edits = { { "submitters/ci/public_key", "'@D@/garbage.pub'" } },
	    .problems = "submitters.ci.public_key: cannot load @D@/garbage.pub: "
			"unparseable input" },
	{ .name = "submitters-public-key-rsa1024",
	    .edits = { { "submitters/ci/public_key", "'@T@/crypto-rsa1024.pub'" } },
	    .problems = "submitters.ci.public_key: cannot load @T@/crypto-rsa1024.pub: unsupported "
			"key type" },
	{ .name = "submitters-same-key",
	    .edits = { { "submitters/ci2",
		"{'public_key':'@T@/crypto-ec-p256.pub','keys':['release']}" } },
	    .problems = "submitters.ci2.public_key: same key as another submitter" },
	{ .name = "submitters-identity-too-long",
	    .edits = { { "submitters/team/identity", "'*@@i*511@'" } },
	    .problems = "submitters.team.identity: must be a pattern of 1 to 512 printable bytes" },
	{ .name = "submitters-identity-del",
	    .edits = { { "submitters/team/identity", "'*@fw.example.com\x7f'" } },
	    .problems = "submitters.team.identity: must be a pattern of 1 to 512 printable bytes" },
	{ .name = "submitters-identity-no-cas",
	    .edits = { { "submitter_cas", NULL } },
	    .problems = "submitters.team.identity: no submitter_cas are configured" },
	{ .name = "submitters-identity-ca-required",
	    .edits = { { "submitter_cas/partner", CA } },
	    .problems = "submitters.team.ca: required when several submitter_cas are configured: "
			"name the CA whose identities this entry accepts" },
	{ .name = "submitters-identity-ca-unknown",
	    .edits = { { "submitters/team/ca", "'partner'" } },
	    .problems = "submitters.team.ca: not a configured submitter CA" },
	{ .name = "submitters-keys-missing",
	    .edits = { { "submitters/ci/keys", NULL } },
	    .problems = "submitters.ci.keys: required array missing" },
	{ .name = "submitters-keys-not-array",
	    .edits = { { "submitters/ci/keys", "'release'" } },
	    .problems = "submitters.ci.keys: required array missing" },
	{ .name = "submitters-keys-too-many",
	    .edits = { { "submitters/ci/keys[257]", "'release'" } },
	    .problems = "submitters.ci.keys: too many entries" },
	{ .name = "submitters-keys-unknown",
	    .edits = { { "submitters/ci/keys", "['release','nope']" } },
	    .problems = "submitters.ci.keys[1]: not a configured key" },
	{ .name = "submitters-keys-not-string",
	    .edits = { { "submitters/team/keys", "[0]" } },
	    .problems = "submitters.team.keys[0]: not a configured key" },

	/* Approvals (docs/approvals.md): the member, then what check_approvals()
	 * finds against the submitters, the webhooks and the lifetimes.  APPROVERS
	 * are certificate identities that submitters.team's pattern knows. */
	{ .name = "approvals-not-object",
	    .edits = { { "keys/release/approvals", "[]" } },
	    .problems = "keys.release.approvals: must be an object" },
	{ .name = "approvals-unknown-member",
	    .edits = { { "keys/release/approvals", APPROVALS("2", APPROVERS) },
		{ "keys/release/approvals/quorum", "2" } },
	    .problems = "keys.release.approvals.quorum: unknown member" },
	{ .name = "approvals-required-zero",
	    .edits = { { "keys/release/approvals", APPROVALS("0", APPROVERS) } },
	    .problems = "keys.release.approvals.required: an integer from 1 to 16 (approvals a "
			"job needs)" },
	{ .name = "approvals-required-17",
	    .edits = { { "keys/release/approvals", APPROVALS("17", APPROVERS) } },
	    .problems = "keys.release.approvals.required: an integer from 1 to 16 (approvals a "
			"job needs)" },
	{ .name = "approvals-required-string",
	    .edits = { { "keys/release/approvals", APPROVALS("'2'", APPROVERS) } },
	    .problems = "keys.release.approvals.required: an integer from 1 to 16 (approvals a "
			"job needs)" },
	{ .name = "approvals-required-missing",
	    .edits = { { "keys/release/approvals", APPROVALS("2", APPROVERS) },
		{ "keys/release/approvals/required", NULL } },
	    .problems = "keys.release.approvals.required: an integer from 1 to 16 (approvals a "
			"job needs)" },
	{ .name = "approvals-approvers-missing",
	    .edits = { { "keys/release/approvals", APPROVALS("2", APPROVERS) },
		{ "keys/release/approvals/approvers", NULL } },
	    .problems = "keys.release.approvals.approvers: must be an array of names" },
	{ .name = "approvals-approvers-empty",
	    .edits = { { "keys/release/approvals", APPROVALS("1", "[]") } },
	    .problems = "keys.release.approvals.approvers: 1 to 16 names" },
	{ .name = "approvals-approvers-17",
	    .edits = { { "keys/release/approvals", APPROVALS("1", APPROVERS) },
		{ "keys/release/approvals/approvers[17]", "'a@fw.example.com'" } },
	    .problems = "keys.release.approvals.approvers: 1 to 16 names" },
	{ .name = "approvals-approvers-duplicate",
	    .edits = { { "keys/release/approvals",
		APPROVALS("1", "['a@fw.example.com','b@fw.example.com','a@fw.example.com']") } },
	    .problems = "keys.release.approvals.approvers[2]: \"a@fw.example.com\" is listed "
			"twice" },
	{ .name = "approvals-approvers-not-strings",
	    .edits = { { "keys/release/approvals",
		APPROVALS("1", "['a@fw.example.com',1,['b@fw.example.com']]") } },
	    .problems = "keys.release.approvals.approvers[1]: must be a name\n"
			"keys.release.approvals.approvers[2]: must be a name" },
	{ .name = "approvals-approvers-not-array",
	    .edits = { { "keys/release/approvals", APPROVALS("1", "'a@fw.example.com'") } },
	    .problems = "keys.release.approvals.approvers: must be an array of names" },
	{ .name = "approvals-notify-empty",
	    .edits = { { "keys/release/approvals", APPROVALS("2", APPROVERS) },
		{ "keys/release/approvals/notify", "[]" } },
	    .problems = "keys.release.approvals.notify: 1 to 16 names" },
	/* Approvers are named one by one, never by a pattern. */
	{ .name = "approvals-approver-pattern",
	    .edits = { { "keys/release/approvals",
		APPROVALS("1", "['a@fw.example.com','*@fw.example.com']") } },
	    .problems = "keys.release.approvals.approvers[1]: \"*@fw.example.com\" is a pattern; "
			"name each approver (a submitters entry or one certificate identity)" },
	/* A name that no submitters entry knows: neither a pinned entry's
	 * name nor one that team's pattern matches. */
	{ .name = "approvals-approver-unknown",
	    .edits = { { "keys/release/approvals",
		APPROVALS("1", "['a@fw.example.com','mallory','a@hw.example.com']") } },
	    .problems = "keys.release.approvals.approvers[1]: \"mallory\" is no identity the "
			"policy knows (a submitters entry, with \"keys\": [] for one who only "
			"approves)\n"
			"keys.release.approvals.approvers[2]: \"a@hw.example.com\" is no identity "
			"the policy knows (a submitters entry, with \"keys\": [] for one who only "
			"approves)" },
	{ .name = "approvals-notify-unknown",
	    .edits = { { "webhooks", "[" HOOK_NAMED("chat") "]" },
		{ "keys/release/approvals", APPROVALS("2", APPROVERS) },
		{ "keys/release/approvals/notify", "['chat','Chat']" } },
	    .problems = "keys.release.approvals.notify[1]: no webhook is named \"Chat\"" },
	{ .name = "approvals-more-than-approvers",
	    .edits = { { "keys/release/approvals",
		APPROVALS("3", "['a@fw.example.com','b@fw.example.com']") } },
	    .problems = "keys.release.approvals: 3 approvals required but only 2 approvers\n"
			"keys.release.approvals: jobs of submitter ci can never have 3 approvals: "
			"approvers besides the submitter: 2\n"
			"keys.release.approvals: jobs of submitter team can never have 3 "
			"approvals: approvers besides the submitter: 1" },
	/* Nobody approves their own job: team's pattern covers one of the
	 * two, so team's jobs could have one approval at most. */
	{ .name = "approvals-never-identity",
	    .edits = { { "keys/release/approvals",
		APPROVALS("2", "['a@fw.example.com','b@fw.example.com']") } },
	    .problems = "keys.release.approvals: jobs of submitter team can never have 2 "
			"approvals: approvers besides the submitter: 1" },
	/* A pinned submitter that is also an approver; ci only approves. */
	{ .name = "approvals-never-pinned",
	    .edits = { { "submitters/ci/keys", "[]" }, { "submitters/team/keys", "[]" },
		{ "submitters/ops", "{'public_key':'@T@/crypto-rsa2048.pub','keys':['release']}" },
		{ "keys/release/approvals", APPROVALS("2", "['ops','ci']") } },
	    .problems = "keys.release.approvals: jobs of submitter ops can never have 2 "
			"approvals: approvers besides the submitter: 1" },
	/* The default lifetime, 900 s, is shortened below 600 s. */
	{ .name = "approvals-no-time-global",
	    .edits = { { "max_job_lifetime", "599" },
		{ "keys/release/approvals", APPROVALS("2", APPROVERS) } },
	    .problems = "keys.release: a job may live 599 s, which leaves no time to approve it "
			"(at least 600 s; set the key's max_job_lifetime)" },
	{ .name = "approvals-no-time-key",
	    .edits = { { "keys/release/max_job_lifetime", "300" },
		{ "keys/release/approvals", APPROVALS("2", APPROVERS) } },
	    .problems = "keys.release: a job may live 300 s, which leaves no time to approve it "
			"(at least 600 s; set the key's max_job_lifetime)" },
	{ .name = "approvals-longer-than-result-ttl",
	    .edits = { { "result_ttl", "86400" }, { "keys/release/max_job_lifetime", "86401" },
		{ "keys/release/approvals", APPROVALS("2", APPROVERS) } },
	    .problems = "keys.release.max_job_lifetime: 86401 s is longer than result_ttl (86400 "
			"s): the pending result would vanish first" },
	{ .name = "approvals-global-longer-than-result-ttl",
	    .edits = { { "result_ttl", "700" },
		{ "keys/release/approvals", APPROVALS("2", APPROVERS) } },
	    .problems = "keys.release.max_job_lifetime: 900 s is longer than result_ttl (700 s): "
			"the pending result would vanish first" },
	{ .name = "approvals-lifetime-over-7-days",
	    .edits = { { "keys/release/max_job_lifetime", "604801" },
		{ "keys/release/approvals", APPROVALS("2", APPROVERS) } },
	    .problems = "keys.release.max_job_lifetime: must be an integer from 1 to 604800" },
};

/* Each refusal: exactly its problems from config_load_report(), the first
 * from config_load(), the same error from both, *ret untouched. */
START_TEST(refuse)
{
	const struct refusal *row = &refusals[_i];
	struct agent_config *c = UNTOUCHED;
	struct problems ps;
	char err[CONFIG_PROBLEM_MAX], *text = NULL, *path, *want, *nl;
	int rc = row->rc != 0 ? row->rc : SG_ERR_CONFIG;

	if (row->file != NULL) {
		path = expand(row->file, 0, NULL);
	} else {
		text = row->raw != NULL ? expand(row->raw, 1, NULL) : base_with(row->edits);
		path = write_config(text, row->pad_to);
	}
	want = expand(row->problems, 0, path);
	problems_init(&ps);
	ck_assert_int_eq(config_load_report(path, &c, collect, &ps), rc);
	ck_assert_ptr_eq(c, UNTOUCHED);
	ck_assert_str_eq(ps.text, want);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), rc);
	ck_assert_ptr_eq(c, UNTOUCHED);
	if ((nl = strchr(want, '\n')) != NULL)
		*nl = '\0';
	ck_assert_str_eq(err, want);
	if (row->file == NULL)
		ck_assert_int_eq(unlink(path), 0);
	free(ps.text);
	free(want);
	free(path);
	free(text);
}
END_TEST

/* After CONFIG_PROBLEMS_MAX problems one line says that the rest are left
 * out, and nothing more comes. */
START_TEST(refuse_too_many_problems)
{
	/* CONFIG_PROBLEMS_MAX + 50 bad keyids. */
	static const struct edit edits[] = { { "revoked", "{}" },
		{ "revoked/keyids[150]", "'sha256:x'" }, { NULL, NULL } };
	struct agent_config *c = UNTOUCHED;
	struct problems ps;
	char *text = base_with(edits), *path = write_config(text, 0), *want = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&want, &len);

	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < CONFIG_PROBLEMS_MAX; i++)
		fprintf(f, "revoked.keyids[%d]: must be sha256: and 64 lowercase hex digits\n", i);
	fputs("too many problems; the rest are not listed", f);
	ck_assert_int_eq(fclose(f), 0);
	problems_init(&ps);
	ck_assert_int_eq(config_load_report(path, &c, collect, &ps), SG_ERR_CONFIG);
	ck_assert_ptr_eq(c, UNTOUCHED);
	ck_assert_uint_eq(ps.n, CONFIG_PROBLEMS_MAX + 1);
	ck_assert_str_eq(ps.text, want);
	unlink(path);
	free(ps.text);
	free(want);
	free(path);
	free(text);
}
END_TEST

/* A load without a callback still fails. */
START_TEST(refuse_without_callback)
{
	static const struct edit edits[] = { { "name", NULL }, { NULL, NULL } };
	struct agent_config *c = UNTOUCHED;
	char *text = base_with(edits), *path = write_config(text, 0);

	ck_assert_int_eq(config_load_report(path, &c, NULL, NULL), SG_ERR_CONFIG);
	ck_assert_ptr_eq(c, UNTOUCHED);
	ck_assert_int_eq(config_load(path, &c, NULL, 0), SG_ERR_CONFIG);
	ck_assert_ptr_eq(c, UNTOUCHED);
	unlink(path);
	free(path);
	free(text);
}
END_TEST

/* ---- the fuzz corpus ---- */

/*
 * Every file of fuzz/corpus/config and what loading it gives: NULL for a
 * configuration that loads, else its first problem.  The corpus names its
 * fixtures under /dev/shm/signet-fuzz (fuzz_config.c); here that prefix
 * is replaced by "@D@/fuzz", where main() puts the same kinds of files.
 */
static const struct {
	const char *file;
	const char *first_problem;
} corpus[] = {
	{ "bad-mechanism.json", "keys.release.mechanism: unknown mechanism \"md5\"" },
	{ "bad-utf8.json", "not valid JSON (UTF-8, at most 16 levels)" },
	{ "ci-issuers.json", NULL },
	{ "deep.json", "not valid JSON (UTF-8, at most 16 levels)" },
	{ "duplicate.json", "duplicate member or control character in a string" },
	{ "empty.json", "not valid JSON (UTF-8, at most 16 levels)" },
	{ "full.json", NULL },
	{ "huge-sessions.json", "pkcs11.sessions: must be an integer from 1 to 64" },
	{ "minimal.json", NULL },
	{ "negative-lifetime.json", "max_job_lifetime: must be an integer from 1 to 604800" },
	{ "not-object.json", "must be a JSON object" },
	{ "redis-password.json",
	    "redis: the URL holds a password; put the password in the file "
	    "named by redis_password_file (the URL may keep a user name)" },
	{ "relative-path.json", "keys.release.certificates: must be an absolute path" },
	{ "same-key-twice.json", "submitters.ci2.public_key: same key as another submitter" },
	{ "store-mode-cas.json",
	    "submitters.partners.ca: required when several submitter_cas "
	    "are configured: name the CA whose identities this entry accepts" },
	{ "unknown-format.json", "keys.release.formats[1]: unknown format \"pgp\"" },
	{ "unknown-key-ref.json", "submitters.ci.keys[0]: not a configured key" },
	{ "unknown-member.json", "keyz: unknown member" },
};

/* Replaces every FUZZ_FIXTURES in buf (len bytes) with the fixtures of
 * main(); the caller frees the result. */
static char *
corpus_text(const char *buf, size_t len, size_t *ret_len)
{
	char *out = NULL, *dir = NULL;
	size_t out_len = 0, i = 0, plen = strlen(FUZZ_FIXTURES);
	FILE *f = open_memstream(&out, &out_len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_gt(asprintf(&dir, "%s/fuzz", fix), 0);
	while (i < len) {
		if (len - i >= plen && memcmp(buf + i, FUZZ_FIXTURES, plen) == 0) {
			fputs(dir, f);
			i += plen;
		} else {
			fputc(buf[i++], f);
		}
	}
	ck_assert_int_eq(fclose(f), 0);
	free(dir);
	*ret_len = out_len;
	return out;
}

START_TEST(corpus_file)
{
	struct agent_config *c = UNTOUCHED;
	struct problems ps;
	char path[4096], name[64], *buf = NULL, *text, *cfg, *nl;
	size_t len = 0, text_len = 0;
	int r;

	snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, corpus[_i].file);
	r = read_file(path, CONFIG_FILE_MAX + 1, &buf, &len);
	ck_assert_msg(
	    r == 0, "%s: %s (a stale entry of corpus[] in test_config.c?)", path, sg_strerror(r));
	text = corpus_text(buf, len, &text_len);
	snprintf(name, sizeof(name), "corpus-%ld.json", (long)getpid());
	cfg = test_write_file(fix, name, text, text_len, 0600);
	problems_init(&ps);
	r = config_load_report(cfg, &c, collect, &ps);
	if (corpus[_i].first_problem == NULL) {
		ck_assert_msg(r == 0, "%s should load: %s", corpus[_i].file, ps.text);
		ck_assert_ptr_ne(c, UNTOUCHED);
		config_free(c);
	} else {
		ck_assert_msg(r == SG_ERR_CONFIG, "%s: %s", corpus[_i].file, sg_strerror(r));
		ck_assert_ptr_eq(c, UNTOUCHED);
		if ((nl = strchr(ps.text, '\n')) != NULL)
			*nl = '\0';
		ck_assert_str_eq(ps.text, corpus[_i].first_problem);
	}
	unlink(cfg);
	free(cfg);
	free(ps.text);
	free(text);
	free(buf);
}
END_TEST

/* Each file of the corpus is in corpus[]. */
START_TEST(corpus_all_listed)
{
	DIR *d = opendir(CORPUS_DIR);
	struct dirent *e;
	size_t i, files = 0;

	ck_assert_msg(d != NULL, "%s: %s", CORPUS_DIR, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		for (i = 0; i < nitems(corpus); i++)
			if (strcmp(corpus[i].file, e->d_name) == 0)
				break;
		ck_assert_msg(i < nitems(corpus),
		    "fuzz/corpus/config/%s is not in corpus[] of "
		    "tests/unit/test_config.c: add it with its expected outcome",
		    e->d_name);
		files++;
	}
	closedir(d);
	ck_assert_uint_eq(files, nitems(corpus));
}
END_TEST

/* ---- what a configuration that loads holds ---- */

/* The DER of the first certificate in a PEM file. */
static unsigned char *
cert_der(const char *path, int *ret_len)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *der = NULL;

	ck_assert_int_eq(crypto_load_certs(path, &certs), 0);
	*ret_len = i2d_X509(sk_X509_value(certs, 0), &der);
	ck_assert_int_gt(*ret_len, 0);
	sk_X509_pop_free(certs, X509_free);
	return der;
}

START_TEST(load_defaults)
{
	struct agent_config *c = load_ok(NULL);
	const struct agent_key *k;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char nb[SGTIME_LEN + 1], na[SGTIME_LEN + 1];
	unsigned char *der;
	int der_len;

	ck_assert_str_eq(c->name, "hsm-1");
	ck_assert_str_eq(c->redis, "unix:///run/redis.sock");
	ck_assert_ptr_null(c->redis_password_file);
	ck_assert_str_eq(c->prefix, "signet:");
	ck_assert_str_eq(c->pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
	ck_assert_str_eq(c->pkcs11_token, "signet");
	ck_assert_str_eq(c->pkcs11_pin_file, "/etc/signet/pin");
	/* One session per online processor, 1 to 64. */
	ck_assert_uint_eq(c->pkcs11_sessions, ncpu < 1 ? 1 : ncpu > 64 ? 64 : (unsigned)ncpu);
	ck_assert_ptr_null(c->pkcs11_signer);
	ck_assert_int_eq(c->pkcs11_in_process, 0);
	ck_assert_str_eq(c->pkcs11_journal, "/var/lib/signet/audit.log.signer");
	ck_assert_ptr_null(c->pkcs11_user);
	ck_assert_ptr_null(c->user);
	ck_assert_str_eq(c->attestation_key, "pkcs11:object=attest");
	ck_assert_str_eq(c->store, "file:///var/lib/signet/store");
	ck_assert_str_eq(c->audit_log, "/var/lib/signet/audit.log");
	ck_assert_int_eq(c->max_job_lifetime, 900);
	ck_assert_int_eq(c->result_ttl, 604800);
	ck_assert_int_eq(c->reclaim_after, 30);
	ck_assert_ptr_null(c->store_token_file);
	ck_assert_ptr_null(c->store_ca_file);
	ck_assert_int_eq(c->store_timeout, 10);
	ck_assert_int_eq(c->store_deadline, 60);
	ck_assert_uint_eq(c->store_mode, 0);
	ck_assert_int_eq(c->max_deliveries, 5);
	ck_assert_ptr_null(c->metrics_file);
	ck_assert_int_eq(c->metrics_interval, 15);
	ck_assert_str_eq(c->audit_origin, "signet/hsm-1");
	ck_assert_int_eq(c->checkpoint_interval, 60);
	ck_assert_uint_eq(c->nwebhooks, 0);
	ck_assert_uint_eq(c->nrevoked_keyids, 0);
	ck_assert_uint_eq(c->nrevoked_serials, 0);

	ck_assert_uint_eq(c->nkeys, 1);
	k = &c->keys[0];
	ck_assert_str_eq(k->name, "release");
	ck_assert_str_eq(k->uri, "pkcs11:object=release");
	ck_assert_int_eq(k->mech, SG_MECH_ECDSA_SHA256);
	ck_assert_str_eq(k->certificates_path, TEST_DATA_DIR "/crypto-leaf.crt");
	ck_assert_uint_eq(k->formats, (1u << SG_FORMAT_RAW) | (1u << SG_FORMAT_CMS));
	ck_assert_uint_eq(k->nallowed_submitters + k->nartifact_names + k->nci_projects +
		k->nci_refs + k->nci_token_issuers + k->nwebhooks,
	    0);
	ck_assert_int_eq(k->ci_token_required, 0);
	ck_assert_int_eq(k->ci_protected_ref, 0);
	ck_assert_int_eq(k->max_job_lifetime, 0);
	ck_assert_uint_eq(k->quota_per_hour, 0);
	ck_assert_uint_eq(k->quota_per_day, 0);
	ck_assert_int_eq(k->disabled, 0);
	/* The chain as the file holds it (`openssl x509 -dates` of the file). */
	ck_assert_uint_eq(k->nchain, 1);
	ck_assert_int_eq(sk_X509_num(k->chain), 1);
	der = cert_der(TEST_DATA_DIR "/crypto-leaf.crt", &der_len);
	ck_assert_uint_eq(k->chain_der_len[0], (size_t)der_len);
	ck_assert_mem_eq(k->chain_der[0], der, (size_t)der_len);
	OPENSSL_free(der);
	sgtime_format(k->leaf_not_before, nb);
	sgtime_format(k->leaf_not_after, na);
	ck_assert_str_eq(nb, "2026-11-27T00:49:36Z");
	ck_assert_str_eq(na, "2126-11-03T00:49:36Z");

	ck_assert_uint_eq(c->ncas, 1);
	ck_assert_str_eq(c->cas[0].name, "corp");
	ck_assert_ptr_null(c->cas[0].crl_path);
	ck_assert_ptr_nonnull(c->cas[0].store);
	ck_assert_int_eq(OBJ_obj2nid(c->cas[0].eku), NID_email_protect);
	ck_assert_int_eq(c->cas[0].identity, CONFIG_IDENTITY_EMAIL);

	ck_assert_uint_eq(c->nci_issuers, 1);
	ck_assert_int_eq(c->ci_issuers[0].kind, JWT_KIND_GITLAB);
	ck_assert_uint_eq(jwks_count(c->ci_issuers[0].keys), 2);

	ck_assert_uint_eq(c->nsubmitters, 2);
	ck_assert_str_eq(c->submitters[0].name, "ci");
	ck_assert_ptr_nonnull(c->submitters[0].pub);
	ck_assert_str_eq(c->submitters[0].keyid, KEYID_EC_P256);
	ck_assert_ptr_eq(config_submitter_by_keyid(c, KEYID_EC_P256), &c->submitters[0]);
	ck_assert_int_eq(c->submitters[0].ca, -1);
	ck_assert_uint_eq(c->submitters[0].nkeys, 1);
	ck_assert_uint_eq(c->submitters[0].keys[0], 0);
	ck_assert_str_eq(c->submitters[1].name, "team");
	ck_assert_ptr_null(c->submitters[1].pub);
	ck_assert_str_eq(c->submitters[1].keyid, "");
	ck_assert_str_eq(c->submitters[1].identity, "*@fw.example.com");
	ck_assert_int_eq(config_key_index(c, "release"), 0);
	ck_assert_int_eq(config_key_index(c, "nope"), -1);
	config_free(c);
}
END_TEST

/* Every limit at its edge loads, and the values are kept. */
START_TEST(load_limits_at_edge)
{
	static const struct edit edits[] = {
		{ "max_job_lifetime", "604800" },
		{ "result_ttl", "31622400" },
		{ "reclaim_after", "86400" },
		{ "store_timeout", "3600" },
		{ "store_deadline", "86400" },
		{ "max_deliveries", "1000" },
		{ NULL, NULL },
	};
	static const struct edit edits2[] = {
		{ "metrics_interval", "3600" },
		{ "checkpoint_interval", "86400" },
		{ "pkcs11/sessions", "64" },
		{ "audit_origin", "'@o*255@'" },
		{ "name", "'@n*64@'" },
		{ "prefix", "'@p*4096@'" },
		{ NULL, NULL },
	};
	static const struct edit edits3[] = {
		{ "webhooks[16]", HOOK },
		{ "keys/release/webhooks[16]", HOOK },
		{ "keys/release/certificates", "'@D@/eight.pem'" },
		{ "keys/release/artifact_names[64]", "'@a*512@'" },
		{ "keys/release/quota", "{'per_hour':1000000,'per_day':1000000}" },
		{ "keys/release/max_job_lifetime", "604800" },
		{ NULL, NULL },
	};
	static const struct edit edits4[] = {
		{ "revoked", "{}" },
		{ "revoked/keyids[4096]", "'" KEYID_A "'" },
		{ "revoked/serials[4096]", "'@f*40@'" },
		{ "submitters/ci/keys[256]", "'release'" },
		{ "submitter_cas{16}", CA },
		{ "submitters/team/ca", "'m15'" },
		{ "submitters/team/identity", "'@i*512@'" },
		{ NULL, NULL },
	};
	static const struct edit edits5[] = {
		{ "keys{256}", KEY("pkcs11:object=k") },
		{ "submitters{4096}", "{'identity':'*','keys':['m255']}" },
		{ NULL, NULL },
	};
	struct agent_config *c;

	c = load_ok(edits);
	ck_assert_int_eq(c->max_job_lifetime, 604800);
	ck_assert_int_eq(c->result_ttl, 31622400);
	ck_assert_int_eq(c->reclaim_after, 86400);
	ck_assert_int_eq(c->store_timeout, 3600);
	ck_assert_int_eq(c->store_deadline, 86400);
	ck_assert_int_eq(c->max_deliveries, 1000);
	config_free(c);
	c = load_ok(edits2);
	ck_assert_int_eq(c->metrics_interval, 3600);
	ck_assert_int_eq(c->checkpoint_interval, 86400);
	ck_assert_uint_eq(c->pkcs11_sessions, 64);
	ck_assert_uint_eq(strlen(c->audit_origin), 255);
	ck_assert_uint_eq(strlen(c->name), 64);
	ck_assert_uint_eq(strlen(c->prefix), 4096);
	config_free(c);
	c = load_ok(edits3);
	ck_assert_uint_eq(c->nwebhooks, 16);
	ck_assert_uint_eq(c->keys[0].nwebhooks, 16);
	ck_assert_uint_eq(c->keys[0].nchain, 8);
	ck_assert_uint_eq(c->keys[0].nartifact_names, 64);
	ck_assert_uint_eq(strlen(c->keys[0].artifact_names[63]), 512);
	ck_assert_uint_eq(c->keys[0].quota_per_hour, 1000000);
	ck_assert_uint_eq(c->keys[0].quota_per_day, 1000000);
	ck_assert_int_eq(c->keys[0].max_job_lifetime, 604800);
	config_free(c);
	c = load_ok(edits4);
	ck_assert_uint_eq(c->nrevoked_keyids, 4096);
	ck_assert_uint_eq(c->nrevoked_serials, 4096);
	ck_assert_uint_eq(strlen(c->revoked_serials[0]), 40);
	ck_assert_uint_eq(c->submitters[0].nkeys, 256);
	ck_assert_uint_eq(c->ncas, 16);
	ck_assert_int_eq(c->submitters[1].ca, 15);
	config_free(c);
	c = load_ok(edits5);
	ck_assert_uint_eq(c->nkeys, 256);
	ck_assert_uint_eq(c->nsubmitters, 4096);
	ck_assert_uint_eq(c->submitters[4095].keys[0], 255);
	config_free(c);
}
END_TEST

/* A file of exactly CONFIG_FILE_MAX bytes loads (one more: file-too-large). */
START_TEST(load_file_size_max)
{
	struct agent_config *c = NULL;
	struct problems ps;
	char *text = base_with(NULL), *path = write_config(text, CONFIG_FILE_MAX);

	problems_init(&ps);
	ck_assert_int_eq(config_load_report(path, &c, collect, &ps), 0);
	ck_assert_str_eq(ps.text, "");
	config_free(c);
	unlink(path);
	free(path);
	free(text);
	free(ps.text);
}
END_TEST

/* Every optional member given, with the values they can take. */
START_TEST(load_redis_tls)
{
	static const struct edit edits[] = {
		{ "redis", "'rediss://signet-agent@redis.example:6380'" },
		{ "redis_tls",
		    "{'ca_file':'/etc/signet/redis-ca.pem','cert_file':'/etc/signet/c.crt',"
		    "'key_file':'/etc/signet/c.key','server_name':'redis.internal'}" },
		{ NULL, NULL },
	};
	static const struct edit sentinel[] = {
		{ "redis", "'sentinel+tls://s1:26379,s2:26379/mymaster'" },
		{ "redis_tls", "{}" },
		{ NULL, NULL },
	};
	struct agent_config *c;

	c = load_ok(edits);
	ck_assert_str_eq(c->redis_tls.ca_file, "/etc/signet/redis-ca.pem");
	ck_assert_str_eq(c->redis_tls.cert_file, "/etc/signet/c.crt");
	ck_assert_str_eq(c->redis_tls.key_file, "/etc/signet/c.key");
	ck_assert_str_eq(c->redis_tls.server_name, "redis.internal");
	config_free(c);
	c = load_ok(sentinel);
	ck_assert_ptr_null(c->redis_tls.ca_file);
	ck_assert_ptr_null(c->redis_tls.key_file);
	config_free(c);
}
END_TEST

START_TEST(load_every_member)
{
	static const struct edit edits[] = {
		{ "redis", "'redis://signet@10.0.0.1:6379/2'" },
		{ "redis_password_file", "'/etc/signet/redis.pass'" },
		{ "prefix", "'fw:'" },
		{ "user", "'signet'" },
		{ "pkcs11",
		    "{'module':'/m.so','token':'t','pin_file':'/p','sessions':1,"
		    "'signer':'/usr/libexec/signet-signer','isolation':'process',"
		    "'journal':'/var/lib/signet-signer/journal','user':'signet-signer'}" },
		{ "store_token_file", "'/etc/signet/store.token'" },
		{ NULL, NULL },
	};
	static const struct edit edits2[] = {
		{ "store_ca_file", "'/etc/signet/ca.pem'" },
		{ "store_mode", "'0640'" },
		{ "metrics_file", "'/var/lib/prometheus/signet.prom'" },
		{ "audit_origin", "'example.com/signet/hsm-1'" },
		{ "webhooks",
		    "[{'url':'http://h.example/x','secret_file':'/s','ca_file':'/ca',"
		    "'events':['failed','signed']},"
		    "{'url':'https://chat.example/h','secret_file':'/c','name':'chat',"
		    "'format':'slack','events':['approval.decided','approval.requested']},"
		    "{'url':'https://h.example/j','secret_file':'/"
		    "j','name':'@n*64@','format':'json'}]" },
		{ "revoked", "{'keyids':['" KEYID_A "'],'serials':['00:0A:1b']}" },
		{ NULL, NULL },
	};
	static const struct edit edits3[] = {
		{ "keys/release",
		    "{'key':'pkcs11:object=release;id=%01','mechanism':'rsa-pss-sha256',"
		    "'certificates':'@T@/"
		    "crypto-chain.pem','formats':['cms'],'submitters':['ci','*@fw*'],"
		    "'artifact_names':['*.bin'],'ci_projects':['group/*'],'ci_refs':['refs/tags/"
		    "v*'],"
		    "'ci_token':'required','ci_protected_ref':true,'ci_token_issuers':['github'],"
		    "'max_job_lifetime':1,'quota':{'per_day':1},'disabled':true}" },
		{ "ci_issuers/github", GITHUB("https://token.actions.githubusercontent.com") },
		{ "submitter_cas/corp",
		    "{'bundle':'@T@/crypto-root.crt','crl':'@D@/ok.crl',"
		    "'eku':'1.3.6.1.5.5.7.3.3','identity':'uri'}" },
		/* A bundle may repeat a certificate. */
		{ "submitter_cas/partner",
		    "{'bundle':'@D@/nine.pem','eku':'any','identity':'cn'}" },
		{ "submitters/team/ca", "'partner'" },
		{ NULL, NULL },
	};
	struct agent_config *c;
	const struct agent_key *k;
	char *crl;

	c = load_ok(edits);
	ck_assert_str_eq(c->redis, "redis://signet@10.0.0.1:6379/2");
	ck_assert_str_eq(c->redis_password_file, "/etc/signet/redis.pass");
	ck_assert_str_eq(c->prefix, "fw:");
	ck_assert_str_eq(c->user, "signet");
	ck_assert_str_eq(c->pkcs11_module, "/m.so");
	ck_assert_uint_eq(c->pkcs11_sessions, 1);
	ck_assert_str_eq(c->pkcs11_signer, "/usr/libexec/signet-signer");
	ck_assert_int_eq(c->pkcs11_in_process, 0);
	ck_assert_str_eq(c->pkcs11_journal, "/var/lib/signet-signer/journal");
	ck_assert_str_eq(c->pkcs11_user, "signet-signer");
	ck_assert_str_eq(c->store_token_file, "/etc/signet/store.token");
	config_free(c);

	c = load_ok(edits2);
	ck_assert_str_eq(c->store_ca_file, "/etc/signet/ca.pem");
	ck_assert_uint_eq(c->store_mode, 0640);
	ck_assert_str_eq(c->metrics_file, "/var/lib/prometheus/signet.prom");
	ck_assert_str_eq(c->audit_origin, "example.com/signet/hsm-1");
	ck_assert_uint_eq(c->nwebhooks, 3);
	ck_assert_str_eq(c->webhooks[0].url, "http://h.example/x");
	ck_assert_str_eq(c->webhooks[0].secret_file, "/s");
	ck_assert_str_eq(c->webhooks[0].ca_file, "/ca");
	/* Bits in the order signed, rejected, failed (webhook.h). */
	ck_assert_uint_eq(c->webhooks[0].events, 1u | 4u);
	ck_assert_ptr_null(c->webhooks[0].name);
	ck_assert_int_eq(c->webhooks[0].format, WEBHOOK_FORMAT_JSON);
	ck_assert_str_eq(c->webhooks[1].name, "chat");
	ck_assert_int_eq(c->webhooks[1].format, WEBHOOK_FORMAT_SLACK);
	ck_assert_uint_eq(c->webhooks[1].events, 0x8u | 0x10u);
	ck_assert_uint_eq(strlen(c->webhooks[2].name), 64);
	ck_assert_int_eq(c->webhooks[2].format, WEBHOOK_FORMAT_JSON);
	ck_assert_uint_eq(c->webhooks[2].events, 0);
	ck_assert_uint_eq(c->nrevoked_keyids, 1);
	ck_assert_str_eq(c->revoked_serials[0], "a1b");
	config_free(c);

	c = load_ok(edits3);
	k = &c->keys[0];
	ck_assert_str_eq(k->uri, "pkcs11:object=release;id=%01");
	ck_assert_int_eq(k->mech, SG_MECH_RSA_PSS_SHA256);
	ck_assert_uint_eq(k->formats, 1u << SG_FORMAT_CMS);
	ck_assert_uint_eq(k->nchain, 2);
	ck_assert_uint_eq(k->nallowed_submitters, 2);
	ck_assert_str_eq(k->allowed_submitters[1], "*@fw*");
	ck_assert_str_eq(k->artifact_names[0], "*.bin");
	ck_assert_str_eq(k->ci_projects[0], "group/*");
	ck_assert_str_eq(k->ci_refs[0], "refs/tags/v*");
	ck_assert_int_eq(k->ci_token_required, 1);
	ck_assert_int_eq(k->ci_protected_ref, 1);
	ck_assert_uint_eq(k->nci_token_issuers, 1);
	ck_assert_uint_eq(k->ci_token_issuers[0], 1);
	ck_assert_int_eq(k->max_job_lifetime, 1);
	ck_assert_uint_eq(k->quota_per_hour, 0);
	ck_assert_uint_eq(k->quota_per_day, 1);
	ck_assert_int_eq(k->disabled, 1);
	crl = expand("@D@/ok.crl", 0, NULL);
	ck_assert_str_eq(c->cas[0].crl_path, crl);
	free(crl);
	ck_assert_int_eq(OBJ_obj2nid(c->cas[0].eku), NID_code_sign);
	ck_assert_int_eq(c->cas[0].identity, CONFIG_IDENTITY_URI);
	ck_assert_ptr_null(c->cas[1].eku);
	ck_assert_int_eq(c->cas[1].identity, CONFIG_IDENTITY_CN);
	ck_assert_int_eq(c->submitters[1].ca, 1);
	ck_assert_str_eq(c->ci_issuers[1].name, "github");
	ck_assert_int_eq(c->ci_issuers[1].kind, JWT_KIND_GITHUB);
	config_free(c);
}
END_TEST

/* config_webhook_by_name(): the top level first, then each key's; names
 * are case-sensitive. */
START_TEST(load_webhook_by_name)
{
	static const struct edit edits[] = {
		{ "webhooks", "[" HOOK "," HOOK_NAMED("chat") "]" },
		{ "keys/release/webhooks", "[" HOOK_NAMED("Chat") "," HOOK_NAMED("owner") "]" },
		{ "keys/nightly", KEY("pkcs11:object=nightly") },
		{ "keys/nightly/webhooks", "[" HOOK_NAMED("night") "]" },
		{ NULL, NULL },
	};
	struct agent_config *c;

	c = load_ok(edits);
	ck_assert_ptr_eq(config_webhook_by_name(c, "chat"), &c->webhooks[1]);
	ck_assert_ptr_eq(config_webhook_by_name(c, "Chat"), &c->keys[0].webhooks[0]);
	ck_assert_ptr_eq(config_webhook_by_name(c, "owner"), &c->keys[0].webhooks[1]);
	ck_assert_ptr_eq(config_webhook_by_name(c, "night"), &c->keys[1].webhooks[0]);
	ck_assert_ptr_null(config_webhook_by_name(c, "CHAT"));
	ck_assert_ptr_null(config_webhook_by_name(c, "cha"));
	ck_assert_ptr_null(config_webhook_by_name(c, ""));
	config_free(c);
	c = load_ok((const struct edit[]){ { NULL, NULL } });
	ck_assert_ptr_null(config_webhook_by_name(c, "chat"));
	config_free(c);
}
END_TEST

/* A key with approvals: what the loader keeps, and who approves.  alice
 * only approves (a pinned entry without keys); the identities are team's.
 * The key may live longer than the global max_job_lifetime; a key
 * without approvals only shortens it (config_key_lifetime()). */
START_TEST(load_approvals)
{
	static const struct edit edits[] = {
		{ "webhooks", "[" HOOK_NAMED("chat") "]" },
		{ "keys/release/webhooks", "[" HOOK_NAMED("owner") "]" },
		{ "submitters/alice", "{'public_key':'@T@/crypto-rsa2048.pub','keys':[]}" },
		{ "keys/release/approvals",
		    "{'required':2,'approvers':['alice','b@fw.example.com','c@fw.example.com'],"
		    "'notify':['owner','chat']}" },
		{ "keys/release/max_job_lifetime", "86400" },
		{ "keys/nightly", KEY("pkcs11:object=nightly") },
		{ "keys/nightly/max_job_lifetime", "86400" },
		{ NULL, NULL },
	};
	struct agent_config *c = load_ok(edits);
	const struct agent_key *k = &c->keys[0], *n = &c->keys[1];

	ck_assert_str_eq(k->name, "release");
	ck_assert_uint_eq(k->approvals_required, 2);
	ck_assert_uint_eq(k->napprovers, 3);
	ck_assert_str_eq(k->approvers[0], "alice");
	ck_assert_str_eq(k->approvers[1], "b@fw.example.com");
	ck_assert_str_eq(k->approvers[2], "c@fw.example.com");
	ck_assert_uint_eq(k->napproval_notify, 2);
	ck_assert_str_eq(k->approval_notify[0], "owner");
	ck_assert_str_eq(k->approval_notify[1], "chat");
	ck_assert_int_eq(config_is_approver(k, "alice"), 1);
	ck_assert_int_eq(config_is_approver(k, "c@fw.example.com"), 1);
	/* Listed names only, exactly: not whatever team's pattern matches. */
	ck_assert_int_eq(config_is_approver(k, "d@fw.example.com"), 0);
	ck_assert_int_eq(config_is_approver(k, "Alice"), 0);
	ck_assert_int_eq(config_is_approver(k, "alic"), 0);
	ck_assert_int_eq(config_is_approver(k, ""), 0);
	ck_assert_int_eq(config_is_approver(k, "ci"), 0);

	ck_assert_int_eq(c->max_job_lifetime, 900);
	ck_assert_int_eq(config_key_lifetime(c, k), 86400);
	ck_assert_str_eq(n->name, "nightly");
	ck_assert_uint_eq(n->approvals_required, 0);
	ck_assert_uint_eq(n->napprovers, 0);
	ck_assert_ptr_null(n->approvers);
	ck_assert_int_eq(config_is_approver(n, "alice"), 0);
	ck_assert_int_eq(config_key_lifetime(c, n), 900);
	config_free(c);
}
END_TEST

/* config_key_lifetime() on its own: the key's where it sets one (with
 * approvals), the shorter of the two otherwise, the global one when the
 * key sets none. */
START_TEST(key_lifetime)
{
	static const struct edit edits[] = {
		{ "keys/release/approvals", APPROVALS("2", APPROVERS) },
		{ NULL, NULL },
	};
	struct agent_config *c = load_ok(edits);
	struct agent_key *k = &c->keys[0];

	ck_assert_int_eq(c->max_job_lifetime, 900);
	ck_assert_uint_eq(k->approvals_required, 2);
	ck_assert_int_eq(k->max_job_lifetime, 0);
	ck_assert_int_eq(config_key_lifetime(c, k), 900);
	k->max_job_lifetime = 604800;
	ck_assert_int_eq(config_key_lifetime(c, k), 604800);
	k->max_job_lifetime = 600;
	ck_assert_int_eq(config_key_lifetime(c, k), 600);
	k->approvals_required = 0;
	ck_assert_int_eq(config_key_lifetime(c, k), 600);
	k->max_job_lifetime = 86400;
	ck_assert_int_eq(config_key_lifetime(c, k), 900);
	k->max_job_lifetime = 900;
	ck_assert_int_eq(config_key_lifetime(c, k), 900);
	k->max_job_lifetime = 0;
	ck_assert_int_eq(config_key_lifetime(c, k), 900);
	config_free(c);
}
END_TEST

/* The limits of check_approvals() at their edges: 600 s to approve,
 * a lifetime equal to result_ttl, 16 approvers and 16 required (for a
 * key that only approver-only entries and a submitter outside the list
 * use). */
START_TEST(load_approvals_at_edge)
{
	static const struct edit edits_time[] = {
		{ "max_job_lifetime", "600" },
		{ "keys/release/approvals", APPROVALS("2", APPROVERS) },
		{ NULL, NULL },
	};
	static const struct edit edits_ttl[] = {
		{ "result_ttl", "86400" },
		{ "keys/release/max_job_lifetime", "86400" },
		{ "keys/release/approvals", APPROVALS("2", APPROVERS) },
		{ NULL, NULL },
	};
	static const struct edit edits_week[] = {
		{ "keys/release/max_job_lifetime", "604800" },
		{ "keys/release/approvals", APPROVALS("1", "['ci']") },
		{ "submitters/ci/keys", "[]" },
		{ "submitters/team/keys", "[]" },
		{ "submitters/ops", "{'public_key':'@T@/crypto-rsa2048.pub','keys':['release']}" },
		{ NULL, NULL },
	};
	static const struct edit edits_16[] = {
		{ "keys/release/approvals",
		    APPROVALS("16",
			"['a@fw.example.com','b@fw.example.com','c@fw.example.com',"
			"'d@fw.example.com','e@fw.example.com','f@fw.example.com',"
			"'g@fw.example.com','h@fw.example.com','i@fw.example.com',"
			"'j@fw.example.com','k@fw.example.com','l@fw.example.com',"
			"'m@fw.example.com','n@fw.example.com','o@fw.example.com',"
			"'p@fw.example.com']") },
		{ "submitters/team/keys", "[]" },
		{ NULL, NULL },
	};
	struct agent_config *c;

	c = load_ok(edits_time);
	ck_assert_int_eq(config_key_lifetime(c, &c->keys[0]), 600);
	config_free(c);
	c = load_ok(edits_ttl);
	ck_assert_int_eq(config_key_lifetime(c, &c->keys[0]), 86400);
	ck_assert_int_eq(c->result_ttl, 86400);
	config_free(c);
	/* The default result_ttl is 7 days: a week-long key fits it. */
	c = load_ok(edits_week);
	ck_assert_int_eq(config_key_lifetime(c, &c->keys[0]), 604800);
	config_free(c);
	c = load_ok(edits_16);
	ck_assert_uint_eq(c->keys[0].approvals_required, 16);
	ck_assert_uint_eq(c->keys[0].napprovers, 16);
	ck_assert_str_eq(c->keys[0].approvers[15], "p@fw.example.com");
	ck_assert_uint_eq(c->keys[0].napproval_notify, 0);
	ck_assert_ptr_null(c->keys[0].approval_notify);
	config_free(c);
}
END_TEST

/* The formats of issue 14 and a key's TSA; the warnings on keys that sign
 * whatever digest they are given. */
START_TEST(load_formats_and_timestamp)
{
	static const struct edit edits[] = {
		{ "keys/release/formats", "['authenticode','cms']" },
		{ "keys/release/timestamp",
		    "{'url':'https://tsa.example/rfc3161','roots':'@T@/crypto-root.crt'}" },
		{ "keys/kmod",
		    "{'key':'pkcs11:object=kmod','mechanism':'rsa-pkcs1-sha256',"
		    "'certificates':'@T@/crypto-leaf.crt','formats':['kmod'],"
		    "'timestamp':{'url':'http://tsa/','roots':'@T@/crypto-root.crt',"
		    "'timeout':3}}" },
		{ NULL, NULL },
	};
	struct agent_config *c = load_ok(edits);
	struct problems w;
	const struct agent_key *k;
	size_t i;

	for (i = 0; i < c->nkeys; i++) {
		k = &c->keys[i];
		if (strcmp(k->name, "release") == 0) {
			ck_assert_uint_eq(
			    k->formats, (1u << SG_FORMAT_AUTHENTICODE) | (1u << SG_FORMAT_CMS));
			ck_assert_str_eq(k->ts_url, "https://tsa.example/rfc3161");
			ck_assert_int_eq(k->ts_timeout, CONFIG_TS_TIMEOUT);
			ck_assert_ptr_nonnull(k->ts_roots);
		} else {
			ck_assert_uint_eq(k->formats, 1u << SG_FORMAT_KMOD);
			ck_assert_int_eq(k->ts_timeout, 3);
		}
	}
	/* kmod alone warns only that its timestamp has nowhere to go. */
	problems_init(&w);
	ck_assert_uint_eq(config_warnings(c, collect, &w), 1);
	ck_assert_str_eq(w.text,
	    "keys.kmod.timestamp: only cms and authenticode signatures carry a timestamp; "
	    "this key's formats have neither");
	free(w.text);
	config_free(c);

	/* The base key lists raw with cms. */
	c = load_ok(NULL);
	problems_init(&w);
	ck_assert_uint_eq(config_warnings(c, collect, &w), 1);
	ck_assert_str_eq(w.text,
	    "keys.release.formats: raw signs whatever digest it is given, so a submitter "
	    "allowed it can obtain a signature that is valid in the key's other formats for "
	    "content of its choosing; give each use a key of its own");
	free(w.text);
	config_free(c);
}
END_TEST

/* pkcs11.journal is needed with user only when there is a signer. */
START_TEST(load_in_process_needs_no_journal)
{
	static const struct edit edits[] = {
		{ "user", "'signet'" },
		{ "pkcs11/isolation", "'none'" },
		{ NULL, NULL },
	};
	struct agent_config *c = load_ok(edits);

	ck_assert_int_eq(c->pkcs11_in_process, 1);
	ck_assert_str_eq(c->pkcs11_journal, "/var/lib/signet/audit.log.signer");
	config_free(c);
}
END_TEST

static void
never_called(void *arg, const char *problem)
{
	(void)arg;
	ck_abort_msg("unexpected report: %s", problem);
}

/* CONFIG_LOAD_NO_FILES: the same checks, no file read.  Every file named
 * is missing; the plain load reports each, the flag none. */
START_TEST(load_no_files)
{
	static const struct edit edits[] = {
		{ "keys/release/certificates", "'@D@/missing/chain.pem'" },
		{ "submitters/ci/public_key", "'@D@/missing/ci.pub'" },
		{ "submitter_cas/corp/bundle", "'@D@/missing/ca.pem'" },
		{ "submitter_cas/corp/crl", "'@D@/missing/ca.crl'" },
		{ "ci_issuers/gitlab/jwks", "'@D@/missing/jwks.json'" },
		{ NULL, NULL },
	};
	struct agent_config *c = NULL;
	struct problems ps;
	char *text = base_with(edits), *path = write_config(text, 0), *want;

	problems_init(&ps);
	ck_assert_int_eq(config_load_report(path, &c, collect, &ps), SG_ERR_CONFIG);
	want = expand("submitter_cas.corp.bundle: cannot read @D@/missing/ca.pem: not found\n"
		      "submitter_cas.corp.crl: cannot read @D@/missing/ca.crl: not found\n"
		      "ci_issuers.gitlab.jwks: cannot read @D@/missing/jwks.json: not found\n"
		      "keys.release.certificates: cannot read @D@/missing/chain.pem: not found\n"
		      "submitters.ci.public_key: cannot load @D@/missing/ci.pub: not found",
	    0, NULL);
	ck_assert_str_eq(ps.text, want);
	free(want);
	free(ps.text);

	problems_init(&ps);
	ck_assert_int_eq(config_load_flags_report(path, CONFIG_LOAD_NO_FILES, &c, collect, &ps), 0);
	ck_assert_uint_eq(ps.n, 0);
	ck_assert_ptr_null(c->keys[0].chain);
	ck_assert_uint_eq(c->keys[0].nchain, 0);
	ck_assert_int_eq(c->keys[0].leaf_not_after, 0);
	ck_assert_ptr_null(c->submitters[0].pub);
	ck_assert_str_eq(c->submitters[0].keyid, "");
	ck_assert_ptr_null(c->ci_issuers[0].keys);
	/* Without keys, no certificate to judge: no problem, no warning. */
	ck_assert_uint_eq(config_cert_validity(c, T0, never_called, never_called, NULL), 0);
	config_free(c);
	c = NULL;
	/* config_load_flags(): the same. */
	{
		char err[CONFIG_PROBLEM_MAX] = "untouched";

		ck_assert_int_eq(
		    config_load_flags(path, CONFIG_LOAD_NO_FILES, &c, err, sizeof(err)), 0);
		ck_assert_str_eq(err, "");
		config_free(c);
	}
	unlink(path);
	free(path);
	free(text);
	free(ps.text);
}
END_TEST

/* ---- config_same_hsm() ---- */

struct same_case {
	const char *name;         /* /config/same-hsm/<name> */
	struct edit a[EDITS_MAX]; /* of BASE, for the running configuration */
	struct edit b[EDITS_MAX]; /* of BASE, for the new one */
	const char *why;          /* NULL: b may replace a */
};

#define JOURNAL                                                                                    \
	{                                                                                          \
		"pkcs11/journal", "'/var/lib/signet-signer/j'"                                     \
	}

static const struct same_case same_cases[] = {
	{ "identical", { { NULL, NULL } }, { { NULL, NULL } }, NULL },
	{ "name", { { NULL, NULL } }, { { "name", "'hsm-2'" } }, "name differs" },
	{ "redis", { { NULL, NULL } }, { { "redis", "'unix:///run/other.sock'" } },
	    "redis differs" },
	{ "redis-password-file", { { NULL, NULL } }, { { "redis_password_file", "'/etc/p'" } },
	    "redis_password_file differs" },
	{ "prefix", { { NULL, NULL } }, { { "prefix", "'other:'" } }, "prefix differs" },
	{ "prefix-default-spelled-out", { { NULL, NULL } }, { { "prefix", "'signet:'" } }, NULL },
	{ "pkcs11-module", { { NULL, NULL } }, { { "pkcs11/module", "'/other.so'" } },
	    "pkcs11.module differs" },
	{ "pkcs11-token", { { NULL, NULL } }, { { "pkcs11/token", "'other'" } },
	    "pkcs11.token differs" },
	{ "pkcs11-pin-file", { { NULL, NULL } }, { { "pkcs11/pin_file", "'/etc/other-pin'" } },
	    "pkcs11.pin_file differs" },
	{ "attestation-key", { { NULL, NULL } }, { { "attestation_key", "'pkcs11:object=other'" } },
	    "attestation_key differs" },
	{ "store", { { NULL, NULL } }, { { "store", "'file:///srv/store'" } }, "store differs" },
	/* The journal's default follows the log; the log is named first. */
	{ "audit-log", { { NULL, NULL } }, { { "audit_log", "'/var/log/signet/audit.log'" } },
	    "audit_log differs" },
	{ "pkcs11-signer", { { NULL, NULL } },
	    { { "pkcs11/signer", "'/usr/libexec/signet-signer'" } }, "pkcs11.signer differs" },
	{ "pkcs11-journal", { { NULL, NULL } }, { JOURNAL }, "pkcs11.journal differs" },
	{ "pkcs11-user", { { NULL, NULL } }, { { "pkcs11/user", "'signet-signer'" } },
	    "pkcs11.user differs" },
	{ "user", { JOURNAL }, { JOURNAL, { "user", "'signet'" } }, "user differs" },
	{ "store-token-file", { { NULL, NULL } }, { { "store_token_file", "'/etc/t'" } },
	    "store_token_file differs" },
	{ "store-ca-file", { { NULL, NULL } }, { { "store_ca_file", "'/etc/ca.pem'" } },
	    "store_ca_file differs" },
	{ "store-timeout", { { NULL, NULL } }, { { "store_timeout", "11" } },
	    "store_timeout or store_deadline differs" },
	{ "store-deadline", { { NULL, NULL } }, { { "store_deadline", "61" } },
	    "store_timeout or store_deadline differs" },
	{ "store-mode", { { NULL, NULL } }, { { "store_mode", "'0600'" } }, "store_mode differs" },
	{ "pkcs11-isolation", { { NULL, NULL } }, { { "pkcs11/isolation", "'none'" } },
	    "pkcs11.isolation differs" },
	{ "pkcs11-sessions", { { "pkcs11/sessions", "2" } }, { { "pkcs11/sessions", "3" } },
	    "pkcs11.sessions differs" },
	{ "result-ttl", { { NULL, NULL } }, { { "result_ttl", "86400" } }, "result_ttl differs" },
	{ "reclaim-after", { { NULL, NULL } }, { { "reclaim_after", "31" } },
	    "reclaim_after differs" },
	{ "keys-added", { { NULL, NULL } }, { { "keys/nightly", KEY("pkcs11:object=nightly") } },
	    "keys (added or removed) differs" },
	{ "keys-removed", { { "keys/nightly", KEY("pkcs11:object=nightly") } }, { { NULL, NULL } },
	    "keys (added or removed) differs" },
	{ "keys-renamed", { { NULL, NULL } },
	    { { "keys/release", NULL }, { "keys/release2", KEY("pkcs11:object=release") },
		{ "submitters/ci/keys", "['release2']" },
		{ "submitters/team/keys", "['release2']" } },
	    "keys.release.name or order differs" },
	{ "keys-reordered", { { "keys/nightly", KEY("pkcs11:object=nightly") } },
	    { { "keys",
		"{'nightly':" KEY("pkcs11:object=nightly") ",'release':" KEY(
		    "pkcs11:object=release") "}" } },
	    "keys.release.name or order differs" },
	{ "keys-key", { { NULL, NULL } },
	    { { "keys/release/key", "'pkcs11:object=release-2027'" } },
	    "keys.release.key differs" },
	{ "keys-mechanism", { { NULL, NULL } },
	    { { "keys/release/mechanism", "'rsa-pss-sha256'" } },
	    "keys.release.mechanism differs" },
	{ "keys-certificates-path", { { NULL, NULL } },
	    { { "keys/release/certificates", "'@D@/leaf-copy.crt'" } },
	    "keys.release.certificates differs" },
	{ "keys-certificates-count", { { NULL, NULL } },
	    { { "keys/release/certificates", "'@T@/crypto-chain.pem'" } },
	    "keys.release.certificates differs" },
	/* The first difference in the order of the list is named. */
	{ "first-difference-named", { { NULL, NULL } },
	    { { "reclaim_after", "31" }, { "store", "'file:///srv'" }, { "redis", "'unix:///r'" } },
	    "redis differs" },
	/* What a reload may change. */
	{ "policy-and-restart-free-members", { { NULL, NULL } },
	    { { "max_job_lifetime", "60" }, { "keys/release/formats", "['raw']" },
		{ "keys/release/quota", "{'per_hour':5}" }, { "submitters/ci", NULL },
		{ "revoked", "{'serials':['01']}" }, { "checkpoint_interval", "5" } },
	    NULL },
	{ "restart-free-members", { { NULL, NULL } },
	    { { "webhooks", "[" HOOK "]" }, { "metrics_file", "'/m.prom'" },
		{ "metrics_interval", "1" }, { "max_deliveries", "1" },
		{ "audit_origin", "'example.com/x'" },
		{ "ci_issuers/github", GITHUB("https://token.actions.githubusercontent.com") } },
	    NULL },
};

START_TEST(same_hsm)
{
	const struct same_case *row = &same_cases[_i];
	struct agent_config *a = load_ok(row->a), *b = load_ok(row->b);
	char why[256] = "untouched";

	if (row->why == NULL) {
		ck_assert_int_eq(config_same_hsm(a, b, why, sizeof(why)), 0);
		ck_assert_str_eq(why, "untouched");
	} else {
		ck_assert_int_eq(config_same_hsm(a, b, why, sizeof(why)), SG_ERR_CONFIG);
		ck_assert_str_eq(why, row->why);
	}
	config_free(b);
	config_free(a);
}
END_TEST

/* The same path, another certificate in it (a renewed chain). */
START_TEST(same_hsm_certificate_content)
{
	static const struct edit edits[] = {
		{ "keys/release/certificates", "'@D@/renewed.crt'" },
		{ NULL, NULL },
	};
	char *old = NULL, *renewed = NULL, why[256] = "";
	size_t old_len = 0, renewed_len = 0;
	struct agent_config *a, *b;

	ck_assert_int_eq(
	    read_file(TEST_DATA_DIR "/crypto-leaf.crt", CERT_FILE_MAX, &old, &old_len), 0);
	ck_assert_int_eq(
	    read_file(TEST_DATA_DIR "/crypto-root.crt", CERT_FILE_MAX, &renewed, &renewed_len), 0);
	free(test_write_file(fix, "renewed.crt", old, old_len, 0644));
	a = load_ok(edits);
	free(test_write_file(fix, "renewed.crt", renewed, renewed_len, 0644));
	b = load_ok(edits);
	ck_assert_int_eq(config_same_hsm(a, b, why, sizeof(why)), SG_ERR_CONFIG);
	ck_assert_str_eq(why, "keys.release.certificates differs");
	config_free(b);
	config_free(a);
	free(old);
	free(renewed);
}
END_TEST

/* ---- config_hsm_keys() ---- */

START_TEST(hsm_keys_order)
{
	static const struct edit edits[] = {
		{ "keys/nightly",
		    "{'key':'pkcs11:object=nightly;id=%02','mechanism':'rsa-pss-sha256',"
		    "'certificates':'@T@/crypto-leaf.crt','formats':['raw']}" },
		{ "keys/legacy",
		    "{'key':'pkcs11:id=%03','mechanism':'rsa-pkcs1-sha256',"
		    "'certificates':'@T@/crypto-leaf.crt','formats':['raw']}" },
		{ NULL, NULL },
	};
	struct agent_config *c = load_ok(edits);
	struct hsm_key_spec *specs = NULL;
	size_t n = 0, attest = 99;

	ck_assert_int_eq(config_hsm_keys(c, &specs, &n, &attest), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(attest, 3);
	ck_assert_str_eq(specs[0].name, "release");
	ck_assert_str_eq(specs[0].uri, "pkcs11:object=release");
	ck_assert_int_eq(specs[0].mech, SG_MECH_ECDSA_SHA256);
	ck_assert_int_eq(specs[0].mech_from_key, 0);
	ck_assert_str_eq(specs[1].name, "nightly");
	ck_assert_str_eq(specs[1].uri, "pkcs11:object=nightly;id=%02");
	ck_assert_int_eq(specs[1].mech, SG_MECH_RSA_PSS_SHA256);
	ck_assert_int_eq(specs[1].mech_from_key, 0);
	ck_assert_str_eq(specs[2].name, "legacy");
	ck_assert_int_eq(specs[2].mech, SG_MECH_RSA_PKCS1_SHA256);
	ck_assert_str_eq(specs[3].name, "attestation_key");
	ck_assert_str_eq(specs[3].uri, "pkcs11:object=attest");
	ck_assert_int_eq(specs[3].mech_from_key, 1);
	/* Borrowed from the configuration. */
	ck_assert_ptr_eq(specs[0].uri, c->keys[0].uri);
	ck_assert_ptr_eq(specs[3].uri, c->attestation_key);
	free(specs);
	config_free(c);
}
END_TEST

/* ---- config_cert_validity() ---- */

struct reports {
	struct problems problems;
	struct problems warnings;
};

static void
report_problem(void *arg, const char *s)
{
	collect(&((struct reports *)arg)->problems, s);
}

static void
report_warning(void *arg, const char *s)
{
	collect(&((struct reports *)arg)->warnings, s);
}

/* config_cert_validity() at now, for a configuration with release's chain
 * in cert (a file of the fixtures); checks both lists. */
static void
check_validity(const char *cert, int64_t now, size_t want_bad, const char *want_problems,
    const char *want_warnings)
{
	struct edit edits[2] = { { "keys/release/certificates", NULL }, { NULL, NULL } };
	char *json = NULL, *wp = expand(want_problems, 0, NULL),
	     *ww = expand(want_warnings, 0, NULL);
	struct agent_config *c;
	struct reports rep;

	ck_assert_int_gt(asprintf(&json, "'@D@/%s'", cert), 0);
	edits[0].json = json;
	c = load_ok(edits);
	problems_init(&rep.problems);
	problems_init(&rep.warnings);
	ck_assert_uint_eq(
	    config_cert_validity(c, now, report_problem, report_warning, &rep), want_bad);
	ck_assert_str_eq(rep.problems.text, wp);
	ck_assert_str_eq(rep.warnings.text, ww);
	free(rep.problems.text);
	free(rep.warnings.text);
	config_free(c);
	free(json);
	free(wp);
	free(ww);
}

#define SHORT_EXPIRED                                                                              \
	"keys.release.certificates: the leaf in @D@/short.crt is valid from "                      \
	"2026-01-01T00:00:00Z to 2026-01-21T00:00:00Z, not now: the key's jobs are refused "       \
	"(key.cert_expired)"

START_TEST(cert_validity_expired)
{
	check_validity("short.crt", T0 + SHORT_DAYS * DAY + 1, 1, SHORT_EXPIRED, "");
	check_validity("short.crt", T0 + 400 * DAY, 1, SHORT_EXPIRED, "");
}
END_TEST

START_TEST(cert_validity_not_yet_valid)
{
	check_validity("short.crt", T0 - 1, 1, SHORT_EXPIRED, "");
}
END_TEST

/* Valid for less than CONFIG_CERT_WARN_S: a warning, in whole days left. */
START_TEST(cert_validity_expires_soon)
{
	check_validity("short.crt", T0, 0, "",
	    "keys.release.certificates: the leaf in "
	    "@D@/short.crt expires at 2026-01-21T00:00:00Z, in 20 days");
	check_validity("short.crt", T0 + 5 * DAY + 1, 0, "",
	    "keys.release.certificates: the leaf "
	    "in @D@/short.crt expires at 2026-01-21T00:00:00Z, in 14 days");
	/* Its last second is still valid. */
	check_validity("short.crt", T0 + SHORT_DAYS * DAY, 0, "",
	    "keys.release.certificates: the "
	    "leaf in @D@/short.crt expires at 2026-01-21T00:00:00Z, in 0 days");
}
END_TEST

START_TEST(cert_validity_warning_edge)
{
	int64_t not_after = T0 + LONG_DAYS * DAY;

	check_validity("long.crt", T0, 0, "", "");
	check_validity("long.crt", not_after - CONFIG_CERT_WARN_S, 0, "", "");
	check_validity("long.crt", not_after - CONFIG_CERT_WARN_S + 1, 0, "",
	    "keys.release."
	    "certificates: the leaf in @D@/long.crt expires at 2027-01-01T00:00:00Z, in 29 days");
}
END_TEST

/* Each key on its own; only the leaf (the first certificate) counts. */
START_TEST(cert_validity_several_keys)
{
	static const struct edit edits[] = {
		{ "keys/release/certificates", "'@D@/short-then-long.pem'" },
		{ "keys/nightly",
		    "{'key':'pkcs11:object=n','mechanism':'ecdsa-sha256',"
		    "'certificates':'@D@/long.crt','formats':['raw']}" },
		{ "keys/old",
		    "{'key':'pkcs11:object=o','mechanism':'ecdsa-sha256',"
		    "'certificates':'@D@/short.crt','formats':['raw']}" },
		{ NULL, NULL },
	};
	struct agent_config *c = load_ok(edits);
	struct reports rep;
	char *want = expand(
	    "keys.release.certificates: the leaf in @D@/short-then-long.pem is "
	    "valid from 2026-01-01T00:00:00Z to 2026-01-21T00:00:00Z, not now: the key's jobs are "
	    "refused (key.cert_expired)\nkeys.old.certificates: the leaf in @D@/short.crt is valid "
	    "from 2026-01-01T00:00:00Z to 2026-01-21T00:00:00Z, not now: the key's jobs are "
	    "refused "
	    "(key.cert_expired)",
	    0, NULL);

	problems_init(&rep.problems);
	problems_init(&rep.warnings);
	ck_assert_uint_eq(
	    config_cert_validity(c, T0 + 100 * DAY, report_problem, report_warning, &rep), 2);
	ck_assert_str_eq(rep.problems.text, want);
	ck_assert_str_eq(rep.warnings.text, "");
	free(rep.problems.text);
	free(rep.warnings.text);
	free(want);
	config_free(c);
}
END_TEST

/* ---- fixtures ---- */

static EVP_PKEY *fixture_key;

static X509 *
new_cert(int64_t not_before, int64_t not_after)
{
	X509 *x = X509_new();
	X509_NAME *n;

	if (x == NULL || !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 7) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) == NULL ||
	    !X509_set_pubkey(x, fixture_key) || (n = X509_get_subject_name(x)) == NULL ||
	    !X509_NAME_add_entry_by_txt(
		n, "CN", MBSTRING_ASC, (const unsigned char *)"signet-test-config", -1, -1, 0) ||
	    !X509_set_issuer_name(x, n) || X509_sign(x, fixture_key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Writes what fn puts into a memory BIO to fix/name. */
static int
write_pem(const char *name, int (*fn)(BIO *, const void *), const void *obj)
{
	char path[4096];
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ok;

	if (b == NULL)
		return -1;
	ok = fn(b, obj) && (len = BIO_get_mem_data(b, &data)) > 0 &&
	    snprintf(path, sizeof(path), "%s/%s", fix, name) < (int)sizeof(path) &&
	    write_bytes(path, data, (size_t)len, 0644) == 0;
	BIO_free(b);
	return ok ? 0 : -1;
}

static int
pem_cert(BIO *b, const void *x)
{
	return PEM_write_bio_X509(b, (X509 *)(uintptr_t)x);
}

/* Two certificates in one file: short.crt's, then long.crt's. */
static int
pem_short_then_long(BIO *b, const void *arg)
{
	X509 *const *xs = arg;

	return PEM_write_bio_X509(b, xs[0]) && PEM_write_bio_X509(b, xs[1]);
}

static int
pem_crl(BIO *b, const void *crl)
{
	return PEM_write_bio_X509_CRL(b, (X509_CRL *)(uintptr_t)crl);
}

/* A certificate whose notBefore is no time (month 13): it parses, but its
 * validity cannot be read. */
static int
write_badtime(void)
{
	X509 *x = new_cert(T0, T0 + DAY);
	int r = -1;

	if (x != NULL && ASN1_STRING_set(X509_getm_notBefore(x), "261301000000Z", 13) == 1 &&
	    X509_sign(x, fixture_key, EVP_sha256()) > 0)
		r = write_pem("badtime.pem", pem_cert, x);
	X509_free(x);
	return r;
}

static int
write_crl(X509 *issuer)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)T0),
		  *next = ASN1_TIME_set(NULL, (time_t)(T0 + 30 * DAY));
	int r = -1;

	if (crl != NULL && t != NULL && next != NULL && X509_CRL_set_version(crl, 1) &&
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) &&
	    X509_CRL_set1_lastUpdate(crl, t) && X509_CRL_set1_nextUpdate(crl, next) &&
	    X509_CRL_sign(crl, fixture_key, EVP_sha256()) > 0)
		r = write_pem("ok.crl", pem_crl, crl);
	ASN1_TIME_free(t);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return r;
}

/* dir/name holding n copies of the file at src. */
static int
write_copies(const char *dir, const char *name, const char *src, int n)
{
	char path[4096], *buf = NULL, *all;
	size_t len = 0;
	int r = -1;

	if (read_file(src, CERT_FILE_MAX, &buf, &len) != 0)
		return -1;
	if ((all = malloc(len * (size_t)n + 1)) != NULL) {
		for (int i = 0; i < n; i++)
			memcpy(all + len * (size_t)i, buf, len);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		r = write_bytes(path, all, len * (size_t)n, 0644);
		free(all);
	}
	free(buf);
	return r;
}

static int
write_fixture(const char *name, const char *text)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", fix, name);
	return write_bytes(path, text, strlen(text), 0644);
}

static int
make_fixtures(void)
{
	X509 *both[2] = { NULL, NULL }, *short_cert, *long_cert;
	char fuzz[4096], big_path[4096], *big = NULL;
	int r = -1;

	if ((fixture_key = EVP_EC_gen("P-256")) == NULL ||
	    (short_cert = both[0] = new_cert(T0, T0 + SHORT_DAYS * DAY)) == NULL ||
	    (long_cert = both[1] = new_cert(T0, T0 + LONG_DAYS * DAY)) == NULL)
		goto out;
	snprintf(fuzz, sizeof(fuzz), "%s/fuzz", fix);
	snprintf(big_path, sizeof(big_path), "%s/big.jwks", fix);
	/* One byte over JWKS_MAX_BYTES. */
	if ((big = malloc(JWKS_MAX_BYTES + 1)) == NULL)
		goto out;
	memset(big, ' ', JWKS_MAX_BYTES + 1);
	if (write_bytes(big_path, big, JWKS_MAX_BYTES + 1, 0644) != 0 ||
	    write_pem("short.crt", pem_cert, short_cert) != 0 ||
	    write_pem("long.crt", pem_cert, long_cert) != 0 ||
	    write_pem("short-then-long.pem", pem_short_then_long, both) != 0 ||
	    write_badtime() != 0 || write_crl(long_cert) != 0 ||
	    write_copies(fix, "eight.pem", TEST_DATA_DIR "/crypto-leaf.crt", 8) != 0 ||
	    write_copies(fix, "nine.pem", TEST_DATA_DIR "/crypto-leaf.crt", 9) != 0 ||
	    write_copies(fix, "leaf-copy.crt", TEST_DATA_DIR "/crypto-leaf.crt", 1) != 0 ||
	    write_fixture("empty.pem", "") != 0 ||
	    write_fixture("garbage.pem", "not a certificate\n") != 0 ||
	    write_fixture(
		"garbage.crl", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n") != 0 ||
	    write_fixture("garbage.pub",
		"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n") != 0 ||
	    write_fixture("bad.jwks", "{\"keys\":[") != 0 ||
	    write_fixture("nokeys.jwks", "{\"keys\":[]}") != 0)
		goto out;
	/* What the corpus names under /dev/shm/signet-fuzz (fuzz_config.c). */
	if (mkdir(fuzz, 0700) != 0 ||
	    write_copies(fuzz, "chain.pem", TEST_DATA_DIR "/crypto-leaf.crt", 1) != 0 ||
	    write_copies(fuzz, "sub.pub", TEST_DATA_DIR "/crypto-ec-p256.pub", 1) != 0 ||
	    write_copies(fuzz, "jwks.json", TEST_DATA_DIR "/jwt-jwks.json", 1) != 0)
		goto out;
	r = 0;
out:
	free(big);
	X509_free(both[0]);
	X509_free(both[1]);
	return r;
}

int
main(void)
{
	Suite *s = suite_create("config");
	char *names[nitems(refusals) + nitems(corpus) + nitems(same_cases)];
	size_t i, k = 0;
	TCase *tc;
	int status;

	if ((fix = tmpdir_new(NULL, "sg-test-config")) == NULL || make_fixtures() != 0) {
		fprintf(stderr, "test_config: cannot make the fixtures: %s\n", strerror(errno));
		tmpdir_free(fix);
		return EXIT_FAILURE;
	}
	/* One case per row, each under its own name. */
	for (i = 0; i < nitems(refusals); i++, k++) {
		if (asprintf(&names[k], "/config/refuse/%s", refusals[i].name) < 0)
			return EXIT_FAILURE;
		tc = test_case(s, names[k], TEST_TIMEOUT_S);
		tcase_add_loop_test(tc, refuse, (int)i, (int)i + 1);
	}
	test_add(s, "/config/refuse/too-many-problems", refuse_too_many_problems, TEST_TIMEOUT_S);
	test_add(s, "/config/refuse/without-callback", refuse_without_callback, TEST_TIMEOUT_S);
	for (i = 0; i < nitems(corpus); i++, k++) {
		if (asprintf(&names[k], "/config/corpus/%s", corpus[i].file) < 0)
			return EXIT_FAILURE;
		tc = test_case(s, names[k], TEST_TIMEOUT_S);
		tcase_add_loop_test(tc, corpus_file, (int)i, (int)i + 1);
	}
	test_add(s, "/config/corpus/every-file-listed", corpus_all_listed, TEST_TIMEOUT_S);
	test_add(s, "/config/load/defaults", load_defaults, TEST_TIMEOUT_S);
	test_add(s, "/config/load/limits-at-edge", load_limits_at_edge, TEST_TIMEOUT_S);
	test_add(s, "/config/load/file-size-max", load_file_size_max, TEST_TIMEOUT_S);
	test_add(s, "/config/load/every-member", load_every_member, TEST_TIMEOUT_S);
	test_add(s, "/config/load/redis-tls", load_redis_tls, TEST_TIMEOUT_S);
	test_add(s, "/config/load/webhook-by-name", load_webhook_by_name, TEST_TIMEOUT_S);
	test_add(s, "/config/load/approvals", load_approvals, TEST_TIMEOUT_S);
	test_add(s, "/config/load/approvals-at-edge", load_approvals_at_edge, TEST_TIMEOUT_S);
	test_add(s, "/config/key-lifetime", key_lifetime, TEST_TIMEOUT_S);
	test_add(
	    s, "/config/load/formats-and-timestamp", load_formats_and_timestamp, TEST_TIMEOUT_S);
	test_add(s, "/config/load/in-process-needs-no-journal", load_in_process_needs_no_journal,
	    TEST_TIMEOUT_S);
	test_add(s, "/config/load/no-files", load_no_files, TEST_TIMEOUT_S);
	for (i = 0; i < nitems(same_cases); i++, k++) {
		if (asprintf(&names[k], "/config/same-hsm/%s", same_cases[i].name) < 0)
			return EXIT_FAILURE;
		tc = test_case(s, names[k], TEST_TIMEOUT_S);
		tcase_add_loop_test(tc, same_hsm, (int)i, (int)i + 1);
	}
	test_add(s, "/config/same-hsm/keys-certificates-content", same_hsm_certificate_content,
	    TEST_TIMEOUT_S);
	test_add(s, "/config/hsm-keys/order", hsm_keys_order, TEST_TIMEOUT_S);
	test_add(s, "/config/cert-validity/expired", cert_validity_expired, TEST_TIMEOUT_S);
	test_add(
	    s, "/config/cert-validity/not-yet-valid", cert_validity_not_yet_valid, TEST_TIMEOUT_S);
	test_add(
	    s, "/config/cert-validity/expires-soon", cert_validity_expires_soon, TEST_TIMEOUT_S);
	test_add(
	    s, "/config/cert-validity/warning-edge", cert_validity_warning_edge, TEST_TIMEOUT_S);
	test_add(
	    s, "/config/cert-validity/several-keys", cert_validity_several_keys, TEST_TIMEOUT_S);

	status = test_run(s);
	for (i = 0; i < k; i++)
		free(names[i]);
	EVP_PKEY_free(fixture_key);
	if (tmpdir_free(fix) != 0)
		status = EXIT_FAILURE;
	return status;
}
