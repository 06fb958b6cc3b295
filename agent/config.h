/*
 * config.h — the agent's configuration (SPEC §10), loaded strictly: unknown
 * members are errors, so a typo never silently weakens the policy.  Loading
 * also reads every referenced public key and certificate file, so that a
 * configuration that loads is complete; the secrets (PIN, Redis password)
 * are read only where they are used.
 */
#ifndef SG_AGENT_CONFIG_H
#define SG_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "envelope.h"
#include "err.h"
#include "job.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_KEYS_MAX 256
#define CONFIG_SUBMITTERS_MAX 4096
#define CONFIG_NAME_MAX 64          /* bytes of key, submitter and agent names */
#define CONFIG_PATH_MAX 4096
#define CONFIG_CHAIN_MAX 8          /* certificates in a key's chain file */

struct agent_key {
	char *name;                 /* [A-Za-z0-9._-], not starting with '.' */
	char *uri;                  /* PKCS#11 URI */
	enum sg_mech mech;
	char *certificates_path;
	unsigned formats;           /* bit (1 << enum sg_format) per allowed format */
	STACK_OF(X509) *chain;      /* leaf first */
	uint8_t **chain_der;        /* DER of each certificate, for results */
	size_t *chain_der_len;
	size_t nchain;
};

struct agent_submitter {
	char *name;
	char *public_key_path;
	EVP_PKEY *pub;
	char keyid[KEYID_LEN + 1];
	size_t *keys;               /* indices into config->keys */
	size_t nkeys;
};

struct agent_config {
	char *name;
	char *redis;
	char *redis_password_file;  /* NULL when absent */
	char *prefix;
	char *pkcs11_module;
	char *pkcs11_token;
	char *pkcs11_pin_file;
	unsigned pkcs11_sessions;
	char *attestation_key;      /* PKCS#11 URI */
	char *store;
	char *audit_log;
	int64_t max_job_lifetime;   /* seconds */
	int64_t result_ttl;         /* seconds */
	int64_t reclaim_after;      /* seconds */
	struct agent_key *keys;
	size_t nkeys;
	struct agent_submitter *submitters;
	size_t nsubmitters;
};

/*
 * Loads and checks the configuration file.  On failure returns SG_ERR_CONFIG
 * (or the I/O error) and writes "member.path: reason" to errbuf.
 */
int config_load(const char *path, struct agent_config **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;
void config_free(struct agent_config *c);

/* Lookups; NULL when absent. */
const struct agent_submitter *config_submitter_by_keyid(const struct agent_config *c, const char *keyid);
/* Index of the key named name (len bytes), or -1. */
long config_key_index(const struct agent_config *c, const char *name);
/* Whether submitter s may use key index k. */
int config_submitter_may_use(const struct agent_submitter *s, size_t k);

#endif
