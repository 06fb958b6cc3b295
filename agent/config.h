/*
 * config.h — the agent's configuration (docs/configuration.md), loaded strictly: unknown
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
#include "hsm.h"
#include "envelope.h"
#include "err.h"
#include "job.h"
#include "jwt.h"
#include "openpgp.h"
#include "queue.h"

#define CONFIG_FILE_MAX          (1024 * 1024)
#define CONFIG_KEYS_MAX          256
#define CONFIG_SUBMITTERS_MAX    4096
#define CONFIG_NAME_MAX          64 /* bytes of key, submitter and agent names */
#define CONFIG_PATH_MAX          4096
#define CONFIG_CHAIN_MAX         8       /* certificates in a key's chain file */
#define CONFIG_CAS_MAX           16      /* entries of submitter_cas */
#define CONFIG_PATTERNS_MAX      64      /* entries of each pattern list */
#define CONFIG_PATTERN_MAX       512     /* bytes of one glob pattern */
#define CONFIG_REVOKED_MAX       4096    /* entries of revoked.keyids and of revoked.serials */
#define CONFIG_SERIAL_HEX_MAX    40      /* hex digits of a certificate serial (20 bytes) */
#define CONFIG_QUOTA_MAX         1000000 /* jobs per hour or per day */
#define CONFIG_PROBLEMS_MAX      100     /* problems reported by one load before giving up */
#define CONFIG_PROBLEM_MAX       512     /* bytes of one problem text */
#define CONFIG_WEBHOOKS_MAX      16      /* webhooks globally and per key */
#define CONFIG_CI_ISSUERS_MAX    16      /* entries of ci_issuers */
#define CONFIG_TS_TIMEOUT        10      /* seconds: timestamp.timeout's default */
#define CONFIG_TS_TIMEOUT_MAX    120     /* seconds: its largest value */
#define CONFIG_TS_ROOTS_MAX      16      /* certificates in a timestamp.roots file */
#define CONFIG_APPROVERS_MAX     16      /* approvals.approvers of one key */
#define CONFIG_APPROVAL_TIME_MIN 600     /* seconds a key with approvals leaves to approve */

/* Where a certificate-identified submitter's identity comes from. */
enum config_identity_source {
	CONFIG_IDENTITY_EMAIL = 0, /* first rfc822Name of subjectAltName */
	CONFIG_IDENTITY_URI,       /* first uniformResourceIdentifier of subjectAltName */
	CONFIG_IDENTITY_CN,        /* first commonName of the subject */
};

/* A CA that issues submitter certificates (docs/protocol.md §2 "cert"). */
struct agent_submitter_ca {
	char *name;
	char *bundle_path; /* PEM: the CA and any intermediates */
	char *crl_path;    /* PEM CRLs, or NULL */
	X509_STORE *store; /* bundle (+ CRLs), loaded once */
	ASN1_OBJECT *eku;  /* required extended key usage, NULL = any */
	enum config_identity_source identity;
};

/* A CI system that signs identity tokens (docs/protocol.md §3 ci_token, docs/policy.md
 * "CI identity tokens").  Its JWK Set is read from jwks_path when the
 * configuration is loaded (start-up, SIGHUP): no job ever fetches keys. */
struct agent_ci_issuer {
	char *name;
	char *issuer;   /* the exact "iss" of its tokens */
	char *audience; /* what their "aud" must hold */
	char *jwks_path;
	enum jwt_kind kind;
	struct jwks *keys;
};

/* A webhook (agent/webhook.h); events is a WEBHOOK_EVENT_* mask. */
struct agent_webhook {
	char *url;
	char *secret_file;
	char *ca_file;   /* or NULL */
	char *name;      /* or NULL; unique across all webhooks, top level and per key */
	unsigned events; /* 0: the result events */
	int format;      /* enum webhook_format */
};

struct agent_key {
	char *name; /* [A-Za-z0-9._-], not starting with '.' */
	char *uri;  /* PKCS#11 URI */
	enum sg_mech mech;
	char *certificates_path;
	int64_t leaf_not_before; /* the leaf certificate's validity (seconds */
	int64_t leaf_not_after;  /* since the epoch); 0 before it is loaded */
	unsigned formats;        /* bit (1 << enum sg_format) per allowed format */
	/* Policy (all optional; NULL/0 = no restriction).  Patterns are globs
	 * (policy.h): '*' any bytes ('/' included), '?' one byte. */
	char **allowed_submitters; /* submitter names or identities */
	size_t nallowed_submitters;
	char **artifact_names;
	size_t nartifact_names;
	char **ci_projects;
	size_t nci_projects;
	char **ci_refs;
	size_t nci_refs;
	/* CI identity tokens (docs/policy.md).  With ci_token_required, the
	 * CI rules above match only a verified token's claims, and a job
	 * without one is refused; without it they match a verified token's
	 * claims when the job has one, else the job's self-asserted "ci". */
	int ci_token_required;    /* "ci_token": "required" */
	int ci_protected_ref;     /* the verified ref must be protected */
	size_t *ci_token_issuers; /* indices into config->ci_issuers; none = any */
	size_t nci_token_issuers;
	int64_t max_job_lifetime; /* seconds, 0 = the global one */
	uint32_t quota_per_hour;  /* signed jobs per submitter identity, 0 = no limit */
	uint32_t quota_per_day;
	int disabled;
	struct agent_webhook *webhooks; /* the key owners' hooks: every result naming it */
	size_t nwebhooks;
	/* RFC 3161 time-stamping (docs/configuration.md "timestamp"): none
	 * when ts_url is NULL. */
	char *ts_url;         /* http:// or https:// */
	char *ts_roots_path;  /* PEM: the TSA roots */
	X509_STORE *ts_roots; /* loaded from it (NULL with CONFIG_LOAD_NO_FILES) */
	int64_t ts_timeout;   /* seconds */
	/* The key's OpenPGP identity (docs/configuration.md "openpgp"):
	 * required when formats lists openpgp, else absent. */
	int has_openpgp;
	int64_t pgp_created;     /* the OpenPGP key's creation time */
	char *pgp_uid;           /* its user ID */
	struct openpgp_key *pgp; /* built from the leaf's public key at load
	                            (NULL with CONFIG_LOAD_NO_FILES) */
	/* The two-person rule (docs/approvals.md): jobs wait for
	 * approvals_required approvals by approvers other than their
	 * submitter.  0: none. */
	unsigned approvals_required;
	char **approvers; /* identities: submitter names or certificate identities */
	size_t napprovers;
	char **approval_notify; /* webhook names told of pending jobs */
	size_t napproval_notify;
	STACK_OF(X509) * chain; /* leaf first */
	uint8_t **chain_der;    /* DER of each certificate, for results */
	size_t *chain_der_len;
	size_t nchain;
};

/* Exactly one of public_key_path (pinned key) and identity (certificate). */
struct agent_submitter {
	char *name;
	char *public_key_path;     /* NULL for an identity entry */
	EVP_PKEY *pub;             /* NULL for an identity entry */
	char keyid[KEYID_LEN + 1]; /* "" for an identity entry */
	char *identity;            /* glob over certificate identities, or NULL */
	long ca;                   /* index into submitter_cas, -1 = any */
	size_t *keys;              /* indices into config->keys */
	size_t nkeys;
};

struct agent_config {
	char *name;
	char *redis;
	char *redis_password_file; /* NULL when absent */
	/* "redis_tls": {"ca_file", "cert_file", "key_file", "server_name"},
	 * all optional, for a rediss:// or sentinel+tls:// URL; redis_tls
	 * points at these strings (all NULL when the member is absent). */
	char *redis_tls_ca_file;
	char *redis_tls_cert_file;
	char *redis_tls_key_file; /* a secret file: mode 0600 */
	char *redis_tls_server_name;
	struct queue_tls_opts redis_tls;
	char *prefix;
	char *pkcs11_module;
	char *pkcs11_token;
	char *pkcs11_pin_file;
	unsigned pkcs11_sessions;
	char *pkcs11_signer;   /* signet-signer path, or NULL: found (see main.c) */
	int pkcs11_in_process; /* pkcs11.isolation "none": no signer process */
	char *pkcs11_journal;  /* the signer's journal; default <audit_log>.signer */
	char *pkcs11_user;     /* the user signet-signer runs as when started as
	                               root, or NULL (it stays root) */
	char *user;            /* the user the agent runs as once the signer is
	                               started (started as root), or NULL */
	char *attestation_key; /* PKCS#11 URI */
	char *store;
	char *audit_log;
	int64_t max_job_lifetime;       /* seconds */
	int64_t result_ttl;             /* seconds */
	int64_t reclaim_after;          /* seconds */
	char *store_token_file;         /* HTTP store bearer token, or NULL */
	char *store_ca_file;            /* HTTPS store CA bundle, or NULL */
	int64_t store_timeout;          /* seconds per HTTP request */
	int64_t store_deadline;         /* seconds for all retries of one store write */
	unsigned store_mode;            /* file store: mode of its files, 0 = the umask's */
	int64_t max_deliveries;         /* deliveries of an entry before the dead letters */
	char *metrics_file;             /* Prometheus textfile, or NULL */
	int64_t metrics_interval;       /* seconds between writes of metrics_file */
	char *audit_origin;             /* checkpoint origin; default "signet/<name>" */
	int64_t checkpoint_interval;    /* seconds between signed checkpoints */
	struct agent_webhook *webhooks; /* global result webhooks */
	size_t nwebhooks;
	struct agent_key *keys;
	size_t nkeys;
	struct agent_submitter *submitters;
	size_t nsubmitters;
	struct agent_submitter_ca *cas;
	size_t ncas;
	char **revoked_keyids; /* "sha256:<hex>" */
	size_t nrevoked_keyids;
	char **revoked_serials; /* lowercase hex, no leading zeros */
	size_t nrevoked_serials;
	struct agent_ci_issuer *ci_issuers;
	size_t nci_issuers;
	struct jwt_issuer *jwt_issuers; /* the same, as jwt_verify() takes them */
};

/* The longest lifetime a job for key k may have: the key's own
 * max_job_lifetime where it sets one (a key with approvals may set one
 * longer than the global), else the global one. */
int64_t config_key_lifetime(const struct agent_config *c, const struct agent_key *k);

/* Whether identity is one of key k's approvers. */
int config_is_approver(const struct agent_key *k, const char *identity);

/* Receives each problem found while loading ("member.path: reason"). */
typedef void (*config_report_fn)(void *arg, const char *problem);

/* The queue options of cfg (URL, password file, TLS, prefix; timeout 0:
 * the queue's default).  They point into cfg, which must outlive them. */
void config_queue_opts(const struct agent_config *cfg, struct queue_opts *ret);

/*
 * Loads and checks the configuration file.  On failure returns SG_ERR_CONFIG
 * (or the I/O error) and writes "member.path: reason" to errbuf.
 */
int config_load(
    const char *path, struct agent_config **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/*
 * Each key's leaf certificate at time now: a problem for one that is not
 * valid then (the agent refuses that key's jobs with key.cert_expired), a
 * warning from CONFIG_CERT_WARN_S before it expires; each names the key,
 * the file and the dates.  Returns the number of problems.
 */
#define CONFIG_CERT_WARN_S (30 * 86400)
size_t config_cert_validity(const struct agent_config *c, int64_t now, config_report_fn problem,
    config_report_fn warning, void *arg);

/* config_load() with flags: CONFIG_LOAD_NO_FILES checks the file as strictly
 * but reads none of the files it names (certificates, public keys, CA
 * bundles, CRLs, JWK Sets): signet-signer needs none of them. */
#define CONFIG_LOAD_NO_FILES 1u
int config_load_flags(const char *path, unsigned flags, struct agent_config **ret, char *errbuf,
    size_t errlen) SG_MUST_CHECK;
int config_load_flags_report(const char *path, unsigned flags, struct agent_config **ret,
    config_report_fn fn, void *arg) SG_MUST_CHECK;

/*
 * The HSM's key list, in the order both the agent and signet-signer use:
 * the signing keys as configured, then the attestation key (named
 * "attestation_key", its mechanism taken from its type).  The names and
 * URIs are borrowed from c; the caller frees the array with free().
 * SG_ERR_ALLOC.
 */
int config_hsm_keys(const struct agent_config *c, struct hsm_key_spec **ret, size_t *ret_n,
    size_t *ret_attest) SG_MUST_CHECK;
/*
 * Like config_load(), but goes on after a problem where it can and hands
 * every problem (up to CONFIG_PROBLEMS_MAX) to fn.  SG_ERR_CONFIG when there
 * was any; an I/O or allocation error stops at once.
 */
int config_load_report(
    const char *path, struct agent_config **ret, config_report_fn fn, void *arg) SG_MUST_CHECK;
void config_free(struct agent_config *c);

/*
 * Hands fn each warning about a configuration that loaded: things that
 * are allowed but weaker than they may look ("keys.release: ci_projects
 * and ci_refs match the job's self-asserted ci members ...").  Returns the
 * number of warnings.
 */
size_t config_warnings(const struct agent_config *c, config_report_fn fn, void *arg);

/*
 * Whether b may replace a in a running agent (SIGHUP): every member that
 * the HSM, the queue, the store or the audit log were opened with is the
 * same (name, redis, redis_password_file, prefix, pkcs11, attestation_key,
 * store, audit_log, result_ttl, reclaim_after, and the keys' names, order,
 * URIs, mechanisms and certificates).  0 when it may, else SG_ERR_CONFIG
 * with the first difference's member path in why.
 */
int config_same_hsm(const struct agent_config *a, const struct agent_config *b, char *why,
    size_t whylen) SG_MUST_CHECK;

/* Lookups; NULL when absent. */
/* The pinned-key submitter with this keyid (identity entries have none). */
const struct agent_submitter *config_submitter_by_keyid(
    const struct agent_config *c, const char *keyid);
/* Index of the key named name (len bytes), or -1. */
long config_key_index(const struct agent_config *c, const char *name);
/* The webhook named name (case-sensitive), searching the top-level ones
 * first, then each key's; borrowed from c. */
const struct agent_webhook *config_webhook_by_name(const struct agent_config *c, const char *name);
/* Normalizes a certificate serial written in hex (colons allowed, any
 * case): lowercase, no colons, no leading zeros ("0" for zero).
 * SG_ERR_PARSE for anything else or more than CONFIG_SERIAL_HEX_MAX digits. */
int config_normalize_serial(const char *s, char ret[CONFIG_SERIAL_HEX_MAX + 1]) SG_MUST_CHECK;
/* Whether submitter s may use key index k. */
int config_submitter_may_use(const struct agent_submitter *s, size_t k);

#endif
