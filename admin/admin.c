/*
 * signet-admin — operator tasks on the HSM host (docs/submit-job.md; docs/admin.md).
 *
 *   signet-admin policy check FILE
 *   signet-admin key generate     HSM --label NAME --type ec-p256|rsa-3072 [--id HEX] [-o FILE]
 *   signet-admin key csr          HSM --key KEY --subject DN [-o FILE]
 *   signet-admin key import-chain HSM --key KEY --chain FILE [-o FILE] [--store-cert]
 *   signet-admin key export       HSM --key KEY [-o FILE]
 *   signet-admin key list         HSM
 *   signet-admin openpgp export   -c CONFIG KEY [-o FILE] [--binary]   (admin_openpgp.c)
 *   signet-admin audit verify     LOG ...                              (admin_audit.c)
 *   signet-admin status|job|signatures -c CONFIG ...                  (admin_status.c)
 *
 * HSM is either -c CONFIG (the agent's configuration: its pkcs11 section,
 * attestation_key and keys) or --module PATH --token LABEL --pin-file PATH
 * for the first provisioning, before a configuration exists.  KEY is a
 * PKCS#11 URI, the name of a key of the configuration, or a token label.
 *
 * The tool runs the PKCS#11 module in its own process (it is the operator's
 * tool; there is no signer process) through hsm/p11.h.  The PIN comes from
 * the owner-only PIN file only, never from argv or the environment, and is
 * wiped after C_Login (p11.c).  Every key it uses goes through the
 * agent's own checks first (p11_open(): sensitive, never extractable, may
 * sign, P-256 or RSA >= 2048, and a test signature that verifies), so a key
 * this tool exports or certifies is one the agent will accept.
 *
 * Only the members named above are read from the configuration, leniently
 * about the rest (`policy check` and `signet-agent --check` check the whole
 * file): the configuration names certificate files that do not exist before
 * `key import-chain` writes them, and config_load() would refuse it then.
 *
 * Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage
 * error.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "admin_audit.h"
#include "admin_init.h"
#include "admin_openpgp.h"
#include "admin_status.h"
#include "cli.h"
#include "config.h"
#include "crypto.h"
#include "hsm.h"
#include "json.h"
#include "p11.h"
#include "sgtime.h"
#include "util.h"

#define ADMIN_EXIT_OK        0
#define ADMIN_EXIT_FAILED    1
#define ADMIN_EXIT_USAGE     2
#define ADMIN_ERR_MAX        512  /* bytes of a reason from the HSM layer */
#define ADMIN_SUBJECT_MAX    1024 /* bytes of a --subject */
#define ADMIN_RDNS_MAX       16   /* attributes of a --subject */
#define ADMIN_ID_DEFAULT_LEN 8    /* bytes of a random CKA_ID */
#define ADMIN_NAME_SHOWN_MAX 512  /* bytes of a certificate subject as printed */
#define ADMIN_OUT_MODE       0644 /* public keys, CSRs, chains: public data */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signet-admin policy check FILE\n"
	    "       signet-admin key generate HSM --label NAME --type ec-p256|rsa-3072 [--id HEX] "
	    "[-o FILE]\n"
	    "       signet-admin key csr HSM --key KEY --subject /O=.../CN=... [-o FILE]\n"
	    "       signet-admin key import-chain HSM --key KEY --chain FILE [-o FILE] "
	    "[--store-cert]\n"
	    "       signet-admin key export HSM --key KEY [-o FILE]\n"
	    "       signet-admin key list HSM\n"
	    "       signet-admin init [-c CONFIG] [--softhsm] [--dry-run]\n"
	    "       signet-admin openpgp export -c CONFIG KEY [-o FILE] [--binary]\n"
	    "       signet-admin audit verify LOG [--checkpoint FILE]... [--key PEM] [--origin "
	    "NAME]\n"
	    "                                [--signer-journal FILE]\n"
	    "       signet-admin status -c CONFIG [--json]\n"
	    "       signet-admin job -c CONFIG ID [--json] [--agent-key PEM]\n"
	    "       signet-admin signatures -c CONFIG [--key KEY] [--since TIME] [--json]\n"
	    "\n"
	    "  policy check FILE   check an agent configuration and its policy; list\n"
	    "                      every problem with its member path (exit 1), or\n"
	    "                      print a summary (exit 0)\n"
	    "  key generate        generate a key pair inside the token: the private key\n"
	    "                      sensitive, never extractable, for signing only;\n"
	    "                      writes its public key (PEM) to FILE or stdout\n"
	    "  key csr             a PKCS#10 request for KEY, signed inside the token\n"
	    "                      (ecdsa-with-SHA256 or sha256WithRSAEncryption), PEM\n"
	    "  key import-chain    check a PEM chain (leaf first, each certificate then\n"
	    "                      its issuer; the leaf's public key must be KEY's) and\n"
	    "                      write it atomically to FILE (default: the certificates\n"
	    "                      file of KEY in the configuration); --store-cert also\n"
	    "                      stores the leaf in the token with KEY's label and id\n"
	    "  key export          KEY's public key, PEM (what submitters pin for the\n"
	    "                      attestation key)\n"
	    "  key list            every private key on the token with its flags, and the\n"
	    "                      certificate subject and expiry of the configuration's keys\n"
	    "  openpgp export      the OpenPGP certificate of KEY (a key of CONFIG whose\n"
	    "                      formats list openpgp): public key, user ID and a self-\n"
	    "                      signature made in the HSM at openpgp.created, recorded\n"
	    "                      in the audit log first (the agent must be stopped);\n"
	    "                      ASCII armor, or --binary (gpgv --keyring)\n"
	    "  init                prepare the host for the agent's users (store, audit\n"
	    "                      log and journal directories, PIN file, Redis; with\n"
	    "                      --softhsm a SoftHSM token of the signer's user)\n"
	    "  audit verify LOG    recompute the audit log's Merkle tree, check every\n"
	    "                      checkpoint's signature (--key: the attestation public\n"
	    "                      key) and that each matches the log; name the first\n"
	    "                      record missing, altered or out of order (exit 1)\n"
	    "  status              queue depth, pending entries, consumers, dead letters,\n"
	    "                      jobs waiting for approvals, last signature per key and\n"
	    "                      certificate expiry (exit 1: Redis unreachable, audit\n"
	    "                      log unreadable, or a certificate not valid now)\n"
	    "  job ID              everything known of one job: stream entry, result, done\n"
	    "                      list, claim and audit records (exit 1: nothing known)\n"
	    "  signatures          the audit log's signed records; --key KEY, --since TIME\n"
	    "                      (RFC 3339, or 30m, 24h, 7d back from now)\n"
	    "  --json              one JSON object instead of text (docs/admin.md)\n");
	fprintf(f,
	    "\n"
	    "HSM is one of:\n"
	    "  -c, --config FILE   the agent configuration (pkcs11 module, token, pin_file)\n"
	    "  --module PATH --token LABEL --pin-file PATH\n"
	    "                      the same, without a configuration (first provisioning)\n"
	    "The PIN is read from the PIN file only (owner-only permissions), never argv.\n"
	    "KEY is a PKCS#11 URI (pkcs11:object=...;id=%%01), the name of a key of the\n"
	    "configuration, or a token label.\n"
	    "  -o, --output FILE   where to write (atomically); default stdout\n"
	    "  -h, --help          this text\n"
	    "      --version       print the version\n"
	    "Exit status: 0 done, 1 refused or failed, 2 usage error.\n");
}

/* getopt_long() names a bad option itself; the usage follows. */
static const struct cli cli = { .prog = "signet-admin", .usage = usage, .getopt_reports = 1 };

struct report {
	const char *file;
	size_t n;
	int warning; /* what comes now are warnings, not problems */
};

static void
print_problem(void *arg, const char *problem)
{
	struct report *rep = arg;

	fprintf(stderr, "%s: %s%s\n", rep->file, rep->warning ? "warning: " : "", problem);
	if (!rep->warning)
		rep->n++;
}

/* print_problem() for one warning, whatever rep->warning says. */
static void
print_warning(void *arg, const char *warning)
{
	struct report *rep = arg;
	int was = rep->warning;

	rep->warning = 1;
	print_problem(arg, warning);
	rep->warning = was;
}

static int
policy_check(const char *file)
{
	struct agent_config *c = NULL;
	struct report rep = { file, 0, 0 };
	size_t i, pinned = 0, limited = 0;
	int r;

	r = config_load_report(file, &c, print_problem, &rep);
	if (r != 0) {
		if (rep.n == 0)
			fprintf(stderr, "%s: %s\n", file, sg_strerror(r));
		fprintf(stderr, "signet-admin: %s: %zu problem%s\n", file, rep.n ? rep.n : 1,
		    rep.n == 1 ? "" : "s");
		return 1;
	}
	if (config_cert_validity(c, sgtime_now(), print_problem, print_warning, &rep) > 0) {
		fprintf(stderr, "signet-admin: %s: %zu problem%s\n", file, rep.n,
		    rep.n == 1 ? "" : "s");
		config_free(c);
		return 1;
	}
	rep.warning = 1;
	(void)config_warnings(c, print_problem, &rep);
	for (i = 0; i < c->nsubmitters; i++)
		pinned += c->submitters[i].pub != NULL;
	for (i = 0; i < c->nkeys; i++)
		limited += c->keys[i].quota_per_hour != 0 || c->keys[i].quota_per_day != 0;
	printf("%s: policy in order: %zu keys (%zu with a quota), %zu submitters (%zu by key, "
	       "%zu by identity), %zu submitter CAs, %zu revoked keyids, %zu revoked serials, "
	       "%zu CI issuers\n",
	    file, c->nkeys, limited, c->nsubmitters, pinned, c->nsubmitters - pinned, c->ncas,
	    c->nrevoked_keyids, c->nrevoked_serials, c->nci_issuers);
	config_free(c);
	return 0;
}

/* ---- key commands ---- */

/* A key of the configuration, as far as this tool needs it (borrowed from
 * the JSON tree). */
struct admin_key {
	const char *name;
	const char *uri;
	const char *mechanism;    /* NULL when absent */
	const char *certificates; /* NULL when absent */
};

/* Where the HSM is, and the configuration's keys (all borrowed from root
 * or argv). */
struct admin_hsm {
	struct agent_config *cfg; /* the configuration, or NULL */
	const char *config;       /* its path, or NULL */
	const char *module;
	const char *token;
	const char *pin_file;
	const char *attestation_key; /* URI, or NULL */
	struct admin_key keys[CONFIG_KEYS_MAX];
	size_t nkeys;
};

struct admin_opts {
	const char *config, *module, *token, *pin_file;
	const char *label, *type, *id, *key, *subject, *chain, *output;
	int store_cert;
};

enum {
	OPT_MODULE = 256,
	OPT_TOKEN,
	OPT_PIN_FILE,
	OPT_LABEL,
	OPT_TYPE,
	OPT_ID,
	OPT_KEY,
	OPT_SUBJECT,
	OPT_CHAIN,
	OPT_STORE_CERT,
};

/* Bits of the options a verb takes. */
#define O_LABEL   0x01u
#define O_TYPE    0x02u
#define O_ID      0x04u
#define O_KEY     0x08u
#define O_SUBJECT 0x10u
#define O_CHAIN   0x20u
#define O_OUTPUT  0x40u
#define O_STORE   0x80u

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "signet-admin: message" and returns ADMIN_EXIT_FAILED. */
static int
fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(cli.prog, fmt, ap);
	va_end(ap);
	return ADMIN_EXIT_FAILED;
}

/*
 * Reads what the key commands need from the agent configuration, with the
 * agent's own parser (config.c): as strict as the agent, but without
 * reading the files it names (a key being provisioned has no certificate
 * file yet).
 */
static int
conf_read(struct admin_hsm *hsm, const char *path)
{
	char err[CONFIG_PROBLEM_MAX] = "";
	size_t i;
	int r;

	r = config_load_flags(path, CONFIG_LOAD_NO_FILES, &hsm->cfg, err, sizeof(err));
	if (r != 0) {
		fail("%s: %s", path, err[0] ? err : sg_strerror(r));
		return SG_ERR_CONFIG;
	}
	hsm->config = path;
	hsm->module = hsm->cfg->pkcs11_module;
	hsm->token = hsm->cfg->pkcs11_token;
	hsm->pin_file = hsm->cfg->pkcs11_pin_file;
	hsm->attestation_key = hsm->cfg->attestation_key;
	for (i = 0; i < hsm->cfg->nkeys && i < CONFIG_KEYS_MAX; i++) {
		hsm->keys[i].name = hsm->cfg->keys[i].name;
		hsm->keys[i].uri = hsm->cfg->keys[i].uri;
		hsm->keys[i].mechanism = sg_mech_name(hsm->cfg->keys[i].mech);
		hsm->keys[i].certificates = hsm->cfg->keys[i].certificates_path;
	}
	hsm->nkeys = i;
	return 0;
}

/* Fills hsm from -c or from --module/--token/--pin-file.  0, or an exit
 * status. */
static int
hsm_settings(const struct admin_opts *o, struct admin_hsm *hsm)
{
	if (o->config != NULL) {
		if (o->module != NULL || o->token != NULL || o->pin_file != NULL) {
			fprintf(stderr,
			    "signet-admin: -c and --module/--token/--pin-file exclude each "
			    "other\n");
			return ADMIN_EXIT_USAGE;
		}
		return conf_read(hsm, o->config) < 0 ? ADMIN_EXIT_FAILED : 0;
	}
	if (o->module == NULL || o->token == NULL || o->pin_file == NULL) {
		fprintf(stderr,
		    "signet-admin: name the HSM: -c CONFIG, or --module, --token and --pin-file\n");
		return ADMIN_EXIT_USAGE;
	}
	hsm->module = o->module;
	hsm->token = o->token;
	hsm->pin_file = o->pin_file;
	return 0;
}

/* The hsm_config of hsm, with at most one key spec. */
static void
hsm_cfg(const struct admin_hsm *hsm, const struct hsm_key_spec *spec, struct hsm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->module = hsm->module;
	cfg->token = hsm->token;
	cfg->pin_file = hsm->pin_file;
	cfg->sessions = 1;
	cfg->keys = spec;
	cfg->nkeys = spec != NULL ? 1 : 0;
}

/* Appends s to the URI in out (cap bytes), percent-encoding every byte
 * outside RFC 3986's unreserved set. */
static int
uri_append(char *out, size_t cap, const uint8_t *s, size_t len)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t n = strlen(out), i;

	for (i = 0; i < len; i++) {
		uint8_t c = s[i];
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if (cap - n < (plain ? 2u : 4u))
			return SG_ERR_LIMIT;
		if (plain) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hexd[c >> 4];
			out[n++] = hexd[c & 0xf];
		}
	}
	out[n] = '\0';
	return 0;
}

/* The URI of a key named by the user: a URI, a configured key (also
 * *ret_key), or a token label.  out holds HSM_URI_MAX + 1 bytes. */
static int
key_uri(const struct admin_hsm *hsm, const char *key, char *out, const struct admin_key **ret_key)
{
	size_t i;

	*ret_key = NULL;
	if (strncmp(key, "pkcs11:", strlen("pkcs11:")) == 0) {
		if (strlen(key) > HSM_URI_MAX)
			return fail("--key: URI longer than %d bytes", HSM_URI_MAX);
		snprintf(out, HSM_URI_MAX + 1, "%s", key);
		for (i = 0; i < hsm->nkeys; i++)
			if (strcmp(hsm->keys[i].uri, key) == 0)
				*ret_key = &hsm->keys[i];
		return 0;
	}
	for (i = 0; i < hsm->nkeys; i++) {
		if (strcmp(hsm->keys[i].name, key) == 0) {
			if (strlen(hsm->keys[i].uri) > HSM_URI_MAX)
				return fail("key %s: URI longer than %d bytes", key, HSM_URI_MAX);
			snprintf(out, HSM_URI_MAX + 1, "%s", hsm->keys[i].uri);
			*ret_key = &hsm->keys[i];
			return 0;
		}
	}
	snprintf(out, HSM_URI_MAX + 1, "pkcs11:object=");
	if (key[0] == '\0' ||
	    uri_append(out, HSM_URI_MAX + 1, (const uint8_t *)key, strlen(key)) < 0)
		return fail("--key: not a usable label");
	return 0;
}

/*
 * Opens the HSM with the one key uri, through the agent's checks.  Its
 * mechanism follows its type (ECDSA for EC; RSA-PSS, or PKCS#1 v1.5 with
 * rsa_pkcs1, for RSA).  0 or ADMIN_EXIT_FAILED (reason printed).
 */
static int
open_key(const struct admin_hsm *hsm, const char *name, const char *uri, int rsa_pkcs1,
    struct p11_admin **ret, enum sg_mech *ret_mech)
{
	struct hsm_key_spec spec = { name, uri, SG_MECH_ECDSA_SHA256, 1 };
	struct hsm_config cfg;
	struct p11_admin *a = NULL;
	enum sg_mech mech = SG_MECH_ECDSA_SHA256;
	char errbuf[ADMIN_ERR_MAX];
	int r;

	hsm_cfg(hsm, &spec, &cfg);
	r = p11_admin_open(&cfg, &a, errbuf, sizeof(errbuf));
	if (r == 0)
		r = p11_mech(p11_admin_p11(a), 0, &mech);
	if (r == 0 && rsa_pkcs1 && mech == SG_MECH_RSA_PSS_SHA256) {
		/* RSA: open again with the mechanism asked for. */
		p11_admin_close(a);
		a = NULL;
		spec.mech = SG_MECH_RSA_PKCS1_SHA256;
		spec.mech_from_key = 0;
		r = p11_admin_open(&cfg, &a, errbuf, sizeof(errbuf));
		mech = SG_MECH_RSA_PKCS1_SHA256;
	}
	if (r < 0)
		return fail(
		    "token \"%s\": %s", hsm->token, errbuf[0] != '\0' ? errbuf : sg_strerror(r));
	*ret = a;
	*ret_mech = mech;
	return 0;
}

/* Writes len bytes to path atomically, or to stdout when path is NULL. */
static int
write_out(const char *path, const void *buf, size_t len)
{
	int r;

	if (path == NULL) {
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
			return fail("writing to stdout failed");
		return 0;
	}
	r = write_file_atomic(path, buf, len, ADMIN_OUT_MODE);
	if (r < 0)
		return fail("%s: %s", path, sg_strerror(r));
	return 0;
}

/* The bytes of a memory BIO, written out. */
static int
write_bio(const char *path, BIO *bio)
{
	char *p = NULL;
	long len = BIO_get_mem_data(bio, &p);

	if (len <= 0)
		return fail("encoding failed");
	return write_out(path, p, (size_t)len);
}

static int
write_pubkey(const char *path, EVP_PKEY *pub)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r;

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, pub) != 1)
		r = fail("encoding the public key failed");
	else
		r = write_bio(path, bio);
	BIO_free(bio);
	return r;
}

static void
print_hex(FILE *f, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(f, "%02x", p[i]);
}

/* A certificate's notAfter as RFC 3339 UTC into out (SGTIME_LEN + 1). */
static int
cert_not_after(const X509 *x, char *out, int64_t *ret_t)
{
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		return SG_ERR_PARSE;
	t = timegm(&tm);
	if (t < 0)
		return SG_ERR_PARSE;
	sgtime_format((int64_t)t, out);
	if (ret_t != NULL)
		*ret_t = (int64_t)t;
	return 0;
}

static void
cert_subject(const X509 *x, char *out, size_t cap)
{
	if (X509_NAME_oneline(X509_get_subject_name(x), out, (int)cap) == NULL)
		snprintf(out, cap, "(unreadable)");
}

/* --- generate --- */

static int
cmd_generate(const struct admin_hsm *hsm, const struct admin_opts *o)
{
	int r = ADMIN_EXIT_FAILED, rr;
	enum p11_key_kind kind;
	uint8_t id[HSM_ID_MAX];
	size_t id_len = ADMIN_ID_DEFAULT_LEN;
	struct hsm_config cfg;
	struct p11_admin *a = NULL;
	EVP_PKEY *pub = NULL;
	enum sg_mech mech;
	char errbuf[ADMIN_ERR_MAX], uri[HSM_URI_MAX + 1];

	if (o->label == NULL || o->type == NULL) {
		fprintf(stderr, "signet-admin: key generate needs --label and --type\n");
		return ADMIN_EXIT_USAGE;
	}
	if (strcmp(o->type, "ec-p256") == 0) {
		kind = P11_KEY_EC_P256;
	} else if (strcmp(o->type, "rsa-3072") == 0) {
		kind = P11_KEY_RSA_3072;
	} else {
		fprintf(stderr, "signet-admin: --type is ec-p256 or rsa-3072\n");
		return ADMIN_EXIT_USAGE;
	}
	if (o->id != NULL) {
		id_len = strlen(o->id) / 2;
		if (strlen(o->id) % 2 != 0 || id_len == 0 || id_len > HSM_ID_MAX ||
		    hex_decode(o->id, strlen(o->id), id, id_len) < 0) {
			fprintf(stderr, "signet-admin: --id is 1 to %d bytes in hex\n", HSM_ID_MAX);
			return ADMIN_EXIT_USAGE;
		}
	} else if (RAND_bytes(id, (int)id_len) != 1) {
		return fail("no random bytes for the key id");
	}

	hsm_cfg(hsm, NULL, &cfg);
	rr = p11_admin_open(&cfg, &a, errbuf, sizeof(errbuf));
	if (rr < 0) {
		r = fail(
		    "token \"%s\": %s", hsm->token, errbuf[0] != '\0' ? errbuf : sg_strerror(rr));
		goto out;
	}
	rr = p11_admin_generate(a, kind, o->label, id, id_len, errbuf, sizeof(errbuf));
	if (rr < 0) {
		r = fail("token \"%s\": key \"%s\": %s", hsm->token, o->label,
		    errbuf[0] != '\0' ? errbuf : sg_strerror(rr));
		goto out;
	}
	p11_admin_close(a);
	a = NULL;

	/* Open it as the agent will, and take its public key from there. */
	snprintf(uri, sizeof(uri), "pkcs11:object=");
	if (uri_append(uri, sizeof(uri), (const uint8_t *)o->label, strlen(o->label)) < 0 ||
	    strlen(uri) + strlen(";id=") >= sizeof(uri)) {
		r = fail("URI too long");
		goto out;
	}
	strcat(uri, ";id=");
	/* Every id byte percent-encoded, as pkcs11-tool and p11-kit print them. */
	for (size_t i = 0; i < id_len; i++) {
		size_t n = strlen(uri);

		if (sizeof(uri) - n < 4) {
			r = fail("URI too long");
			goto out;
		}
		snprintf(uri + n, sizeof(uri) - n, "%%%02X", id[i]);
	}
	if (open_key(hsm, o->label, uri, 0, &a, &mech) != 0)
		goto out;
	if (p11_public_key(p11_admin_p11(a), 0, &pub) < 0) {
		r = fail("reading the public key failed");
		goto out;
	}
	if (write_pubkey(o->output, pub) != 0)
		goto out;
	fprintf(stderr, "signet-admin: token \"%s\": generated %s key pair %s\n", hsm->token,
	    o->type, uri);
	r = ADMIN_EXIT_OK;
out:
	EVP_PKEY_free(pub);
	p11_admin_close(a);
	return r;
}

/* --- export --- */

static int
cmd_export(const struct admin_hsm *hsm, const struct admin_opts *o)
{
	int r = ADMIN_EXIT_FAILED;
	const struct admin_key *ck = NULL;
	struct p11_admin *a = NULL;
	EVP_PKEY *pub = NULL;
	enum sg_mech mech;
	char uri[HSM_URI_MAX + 1];

	if (o->key == NULL) {
		fprintf(stderr, "signet-admin: key export needs --key\n");
		return ADMIN_EXIT_USAGE;
	}
	if (key_uri(hsm, o->key, uri, &ck) != 0 || open_key(hsm, o->key, uri, 0, &a, &mech) != 0)
		goto out;
	if (p11_public_key(p11_admin_p11(a), 0, &pub) < 0) {
		r = fail("reading the public key failed");
		goto out;
	}
	if (write_pubkey(o->output, pub) != 0)
		goto out;
	r = ADMIN_EXIT_OK;
out:
	EVP_PKEY_free(pub);
	p11_admin_close(a);
	return r;
}

/* --- csr --- */

/*
 * Parses "/type=value/type=value..." (the openssl -subj form) into a new
 * X509_NAME: '\' escapes the next character, '/' separates attributes,
 * the first unescaped '=' ends the type.  Types are OpenSSL's names (CN,
 * O, OU, C, L, ST, emailAddress, serialNumber, ...) or dotted OIDs known to
 * it; values are UTF-8 text.  Multi-valued RDNs ('+') are refused.
 */
static int
parse_subject(const char *s, X509_NAME **ret)
{
	int r = SG_ERR_INTERNAL;
	X509_NAME *name = NULL;
	char *buf = NULL, *type, *value, *w;
	const char *p;
	size_t len = strlen(s), nrdn = 0;
	int nid;

	if (len == 0 || len > ADMIN_SUBJECT_MAX || s[0] != '/' || json_check_utf8(s, len) < 0) {
		r = fail("--subject: 1 to %d bytes of UTF-8 in the form /O=.../CN=...",
		    ADMIN_SUBJECT_MAX);
		goto out;
	}
	name = X509_NAME_new();
	buf = malloc(len + 1);
	if (name == NULL || buf == NULL) {
		r = fail("out of memory");
		goto out;
	}
	p = s + 1;
	while (*p != '\0') {
		/* One attribute: unescape into buf, noting the first '='. */
		w = buf;
		type = buf;
		value = NULL;
		for (; *p != '\0' && *p != '/'; p++) {
			if (*p == '\\') {
				if (p[1] == '\0') {
					r = fail("--subject: ends in a lone backslash");
					goto out;
				}
				*w++ = *++p;
				continue;
			}
			if (*p == '+') {
				r = fail(
				    "--subject: multi-valued attributes ('+') are not supported; "
				    "escape a literal + as \\+");
				goto out;
			}
			if (*p == '=' && value == NULL) {
				*w++ = '\0';
				value = w;
				continue;
			}
			*w++ = *p;
		}
		*w = '\0';
		if (*p == '/')
			p++;
		if (value == NULL || type[0] == '\0' || value[0] == '\0') {
			r = fail("--subject: each attribute is type=value, both non-empty");
			goto out;
		}
		if (!json_text_ok(value, strlen(value))) {
			r = fail("--subject: attribute %s holds a control character", type);
			goto out;
		}
		if (++nrdn > ADMIN_RDNS_MAX) {
			r = fail("--subject: more than %d attributes", ADMIN_RDNS_MAX);
			goto out;
		}
		nid = OBJ_txt2nid(type);
		if (nid == NID_undef) {
			r = fail("--subject: unknown attribute type \"%.64s\"", type);
			goto out;
		}
		if (X509_NAME_add_entry_by_NID(
			name, nid, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, 0) != 1) {
			r = fail("--subject: OpenSSL refuses %s=%.200s (wrong length or characters "
				 "for its type)",
			    type, value);
			goto out;
		}
	}
	if (nrdn == 0) {
		r = fail("--subject: no attribute");
		goto out;
	}
	*ret = name;
	name = NULL;
	r = 0;
out:
	ERR_clear_error();
	free(buf);
	X509_NAME_free(name);
	return r;
}

/* Builds the request for pub, signs it with key 0 of p (mechanism mech)
 * and checks the signature.  0 or ADMIN_EXIT_FAILED. */
static int
make_csr(struct p11 *p, enum sg_mech mech, EVP_PKEY *pub, X509_NAME *subject, X509_REQ **ret)
{
	int r = ADMIN_EXIT_FAILED, rr, tbs_len;
	X509_REQ *req = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_BIT_STRING *bits = NULL;
	unsigned char *tbs = NULL;
	uint8_t digest[SHA256_LEN], sig[HSM_SIG_MAX];
	size_t sig_len = 0;
	int nid =
	    mech == SG_MECH_ECDSA_SHA256 ? NID_ecdsa_with_SHA256 : NID_sha256WithRSAEncryption;

	if (mech != SG_MECH_ECDSA_SHA256 && mech != SG_MECH_RSA_PKCS1_SHA256) {
		r = fail("internal error: mechanism %s for a CSR", sg_mech_name(mech));
		goto out;
	}
	req = X509_REQ_new();
	alg = X509_ALGOR_new();
	if (req == NULL || alg == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, subject) != 1 || X509_REQ_set_pubkey(req, pub) != 1 ||
	    /* RFC 5758: no parameters for ECDSA; RFC 4055: NULL for RSA. */
	    X509_ALGOR_set0(alg, OBJ_nid2obj(nid),
		nid == NID_ecdsa_with_SHA256 ? V_ASN1_UNDEF : V_ASN1_NULL, NULL) != 1 ||
	    X509_REQ_set1_signature_algo(req, alg) != 1) {
		r = fail("building the request failed");
		goto out;
	}
	/* The CertificationRequestInfo, signed inside the token. */
	tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
	if (tbs_len <= 0 || tbs == NULL) {
		r = fail("encoding the request failed");
		goto out;
	}
	crypto_sha256(tbs, (size_t)tbs_len, digest);
	rr = p11_sign(p, 0, digest, sizeof(digest), sig, &sig_len);
	if (rr < 0) {
		r = fail("the HSM did not sign the request: %s", sg_strerror(rr));
		goto out;
	}
	bits = ASN1_BIT_STRING_new();
	if (bits == NULL || ASN1_BIT_STRING_set(bits, sig, (int)sig_len) != 1) {
		r = fail("out of memory");
		goto out;
	}
	/* A signature is whole bytes: no unused bits. */
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(req, bits);
	bits = NULL;
	/* Fail closed: the request must verify with the key it carries. */
	if (X509_REQ_verify(req, pub) != 1) {
		r = fail("the signed request does not verify: not written");
		goto out;
	}
	*ret = req;
	req = NULL;
	r = 0;
out:
	ERR_clear_error();
	OPENSSL_free(tbs);
	ASN1_BIT_STRING_free(bits);
	X509_ALGOR_free(alg);
	X509_REQ_free(req);
	return r;
}

static int
cmd_csr(const struct admin_hsm *hsm, const struct admin_opts *o)
{
	int r = ADMIN_EXIT_FAILED;
	const struct admin_key *ck = NULL;
	struct p11_admin *a = NULL;
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = NULL;
	X509_REQ *req = NULL;
	BIO *bio = NULL;
	enum sg_mech mech;
	char uri[HSM_URI_MAX + 1];

	if (o->key == NULL || o->subject == NULL) {
		fprintf(stderr, "signet-admin: key csr needs --key and --subject\n");
		return ADMIN_EXIT_USAGE;
	}
	if (parse_subject(o->subject, &subject) != 0)
		goto out;
	if (key_uri(hsm, o->key, uri, &ck) != 0 || open_key(hsm, o->key, uri, 1, &a, &mech) != 0)
		goto out;
	if (p11_public_key(p11_admin_p11(a), 0, &pub) < 0) {
		r = fail("reading the public key failed");
		goto out;
	}
	if (make_csr(p11_admin_p11(a), mech, pub, subject, &req) != 0)
		goto out;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509_REQ(bio, req) != 1) {
		r = fail("encoding the request failed");
		goto out;
	}
	if (write_bio(o->output, bio) != 0)
		goto out;
	r = ADMIN_EXIT_OK;
out:
	BIO_free(bio);
	X509_REQ_free(req);
	X509_NAME_free(subject);
	EVP_PKEY_free(pub);
	p11_admin_close(a);
	return r;
}

/* --- import-chain --- */

/*
 * Checks certs (leaf first) against the HSM key pub: the leaf carries pub;
 * each certificate is issued and signed by the next, which is a CA; a
 * last, self-issued certificate signs itself; none has expired; the leaf
 * may sign (keyUsage digitalSignature when the extension is present).
 * Prints the first problem.  0 or ADMIN_EXIT_FAILED.
 */
static int
check_chain(STACK_OF(X509) * certs, EVP_PKEY *pub, const char *what)
{
	int n = sk_X509_num(certs), i, rv;
	X509 *x, *issuer;
	char subj[ADMIN_NAME_SHOWN_MAX], isubj[ADMIN_NAME_SHOWN_MAX];
	time_t now = time(NULL);
	uint32_t exflags;

	if (n < 1 || n > CONFIG_CHAIN_MAX)
		return fail("%s: %d certificates, not 1 to %d", what, n, CONFIG_CHAIN_MAX);
	x = sk_X509_value(certs, 0);
	cert_subject(x, subj, sizeof(subj));
	if (X509_get0_pubkey(x) == NULL || EVP_PKEY_eq(X509_get0_pubkey(x), pub) != 1) {
		ERR_clear_error();
		return fail("%s: the first certificate (%s) is not for the HSM key: its public key "
			    "differs (the chain must start with the key's own certificate)",
		    what, subj);
	}
	exflags = X509_get_extension_flags(x);
	if ((exflags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE) == 0)
		return fail(
		    "%s: the leaf certificate (%s) does not allow digitalSignature", what, subj);
	if ((exflags & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(x) & XKU_CODE_SIGN) == 0)
		fprintf(stderr,
		    "signet-admin: warning: %s: the leaf certificate has no codeSigning "
		    "extended key usage\n",
		    what);
	for (i = 0; i < n; i++) {
		x = sk_X509_value(certs, i);
		cert_subject(x, subj, sizeof(subj));
		if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0)
			return fail("%s: certificate %d (%s) has expired", what, i + 1, subj);
		if (X509_cmp_time(X509_get0_notBefore(x), &now) >= 0)
			fprintf(stderr,
			    "signet-admin: warning: %s: certificate %d (%s) is not valid yet\n",
			    what, i + 1, subj);
		issuer = i + 1 < n ? sk_X509_value(certs, i + 1) : NULL;
		if (issuer == NULL) {
			/* The last one: a root signs itself; an intermediate is
			 * left to the verifier's trust store. */
			if (X509_check_issued(x, x) == X509_V_OK &&
			    (X509_get0_pubkey(x) == NULL ||
				X509_verify(x, X509_get0_pubkey(x)) != 1)) {
				ERR_clear_error();
				return fail(
				    "%s: certificate %d (%s) is self-issued but its signature does "
				    "not verify",
				    what, i + 1, subj);
			}
			break;
		}
		cert_subject(issuer, isubj, sizeof(isubj));
		rv = X509_check_issued(issuer, x);
		if (rv != X509_V_OK || X509_check_ca(issuer) == 0)
			return fail(
			    "%s: certificate %d (%s) is not the issuer of certificate %d (%s): %s; "
			    "the file must hold the leaf first, then each issuer in turn",
			    what, i + 2, isubj, i + 1, subj,
			    rv != X509_V_OK ? X509_verify_cert_error_string(rv) : "it is not a CA");
		if (X509_get0_pubkey(issuer) == NULL ||
		    X509_verify(x, X509_get0_pubkey(issuer)) != 1) {
			ERR_clear_error();
			return fail(
			    "%s: the signature of certificate %d (%s) does not verify with the key "
			    "of certificate %d (%s)",
			    what, i + 1, subj, i + 2, isubj);
		}
	}
	ERR_clear_error();
	return 0;
}

static int
cmd_import_chain(const struct admin_hsm *hsm, const struct admin_opts *o)
{
	int r = ADMIN_EXIT_FAILED, rr, i;
	const struct admin_key *ck = NULL;
	struct p11_admin *a = NULL;
	EVP_PKEY *pub = NULL;
	STACK_OF(X509) *certs = NULL;
	struct p11_key_info ki;
	BIO *bio = NULL;
	enum sg_mech mech;
	const char *dest;
	char uri[HSM_URI_MAX + 1], errbuf[ADMIN_ERR_MAX], subj[ADMIN_NAME_SHOWN_MAX];
	char not_after[SGTIME_LEN + 1];

	if (o->key == NULL || o->chain == NULL) {
		fprintf(stderr, "signet-admin: key import-chain needs --key and --chain\n");
		return ADMIN_EXIT_USAGE;
	}
	if (key_uri(hsm, o->key, uri, &ck) != 0)
		goto out;
	dest = o->output != NULL ? o->output : ck != NULL ? ck->certificates : NULL;
	if (dest == NULL) {
		fprintf(stderr,
		    "signet-admin: key import-chain needs -o (KEY is not a key of a "
		    "configuration with a certificates file)\n");
		r = ADMIN_EXIT_USAGE;
		goto out;
	}
	rr = crypto_load_certs(o->chain, &certs);
	if (rr < 0) {
		r = fail("%s: %s", o->chain,
		    rr == SG_ERR_PARSE ? "no PEM certificate, or a corrupt one" : sg_strerror(rr));
		goto out;
	}
	if (open_key(hsm, o->key, uri, 0, &a, &mech) != 0)
		goto out;
	if (p11_public_key(p11_admin_p11(a), 0, &pub) < 0) {
		r = fail("reading the public key failed");
		goto out;
	}
	if (check_chain(certs, pub, o->chain) != 0)
		goto out;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL) {
		r = fail("out of memory");
		goto out;
	}
	for (i = 0; i < sk_X509_num(certs); i++) {
		if (PEM_write_bio_X509(bio, sk_X509_value(certs, i)) != 1) {
			r = fail("encoding the chain failed");
			goto out;
		}
	}
	if (o->store_cert) {
		rr = p11_admin_find(a, uri, &ki, errbuf, sizeof(errbuf));
		if (rr == 0)
			rr = p11_admin_store_cert(
			    a, &ki, sk_X509_value(certs, 0), errbuf, sizeof(errbuf));
		if (rr < 0) {
			r = fail("storing the certificate in the token: %s",
			    errbuf[0] != '\0' ? errbuf : sg_strerror(rr));
			goto out;
		}
	}
	if (write_bio(dest, bio) != 0)
		goto out;
	cert_subject(sk_X509_value(certs, 0), subj, sizeof(subj));
	if (cert_not_after(sk_X509_value(certs, 0), not_after, NULL) < 0)
		snprintf(not_after, sizeof(not_after), "?");
	printf("%s: chain of %d certificate%s for key %s installed: %s, not after %s%s\n", dest,
	    sk_X509_num(certs), sk_X509_num(certs) == 1 ? "" : "s", o->key, subj, not_after,
	    o->store_cert ? " (leaf also stored in the token)" : "");
	r = ADMIN_EXIT_OK;
out:
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(pub);
	p11_admin_close(a);
	return r;
}

/* --- list --- */

static const char *
key_type_name(const struct p11_key_info *k, char *buf, size_t cap)
{
	if (k->is_ec)
		return k->is_p256 ? "ec-p256" : "ec-other";
	if (k->is_rsa) {
		snprintf(buf, cap, "rsa-%d", k->bits);
		return buf;
	}
	snprintf(buf, cap, "type-0x%lx", k->key_type);
	return buf;
}

/* notBefore as RFC 3339 and seconds, as cert_not_after(). */
static int
cert_not_before(const X509 *x, char *out, int64_t *ret_t)
{
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) != 1)
		return SG_ERR_PARSE;
	t = timegm(&tm);
	if (t < 0)
		return SG_ERR_PARSE;
	sgtime_format((int64_t)t, out);
	*ret_t = (int64_t)t;
	return 0;
}

/*
 * The chain file of the configured key `name`, summarized on one line.
 * Returns 1 when its leaf is not valid now (expired or not yet valid; the
 * agent refuses the key's jobs with key.cert_expired), after a line that
 * names the key and the dates; 0 otherwise.
 */
static int
print_chain(const char *indent, const char *name, const char *path)
{
	STACK_OF(X509) *certs = NULL;
	char subj[ADMIN_NAME_SHOWN_MAX], not_after[SGTIME_LEN + 1], not_before[SGTIME_LEN + 1];
	char now_s[SGTIME_LEN + 1];
	int64_t t = 0, tb = 0, now = sgtime_now();
	int rr, invalid = 0, have_after, have_before;

	if (path == NULL) {
		printf("%scertificate: none configured\n", indent);
		return 0;
	}
	rr = crypto_load_certs(path, &certs);
	if (rr < 0) {
		printf("%scertificate: %s: %s\n", indent, path, sg_strerror(rr));
		return 0;
	}
	cert_subject(sk_X509_value(certs, 0), subj, sizeof(subj));
	have_after = cert_not_after(sk_X509_value(certs, 0), not_after, &t) == 0;
	have_before = cert_not_before(sk_X509_value(certs, 0), not_before, &tb) == 0;
	if (!have_after)
		snprintf(not_after, sizeof(not_after), "?");
	if (!have_before)
		snprintf(not_before, sizeof(not_before), "?");
	printf("%scertificate: subject=%s not_after=%s%s chain=%d file=%s\n", indent, subj,
	    not_after,
	    have_after && t < now         ? " (EXPIRED)"
		: have_before && tb > now ? " (NOT YET VALID)"
					  : "",
	    sk_X509_num(certs), path);
	if ((have_after && t < now) || (have_before && tb > now)) {
		sgtime_format(now, now_s);
		printf("%sERROR: key %s: its certificate is valid from %s to %s, not now (%s): "
		       "the agent refuses its jobs (key.cert_expired)\n",
		    indent, name, not_before, not_after, now_s);
		fprintf(stderr,
		    "signet-admin: key %s: its certificate (%s) is valid from %s to %s, not now "
		    "(%s)\n",
		    name, path, not_before, not_after, now_s);
		invalid = 1;
	}
	sk_X509_pop_free(certs, X509_free);
	return invalid;
}

static int
cmd_list(const struct admin_hsm *hsm, const struct admin_opts *o)
{
	int r = ADMIN_EXIT_FAILED, rr, truncated = 0;
	struct hsm_config cfg;
	struct p11_admin *a = NULL;
	struct p11_key_info *keys = NULL, found;
	unsigned long *handles = NULL; /* per configured key (+ attestation), or 0 */
	size_t n = 0, i, j, nconf = hsm->nkeys + (hsm->attestation_key != NULL);
	char errbuf[ADMIN_ERR_MAX], tbuf[32];
	int ninvalid = 0;

	(void)o;
	hsm_cfg(hsm, NULL, &cfg);
	rr = p11_admin_open(&cfg, &a, errbuf, sizeof(errbuf));
	if (rr < 0) {
		r = fail(
		    "token \"%s\": %s", hsm->token, errbuf[0] != '\0' ? errbuf : sg_strerror(rr));
		goto out;
	}
	rr = p11_admin_list(a, &keys, &n, &truncated, errbuf, sizeof(errbuf));
	if (rr < 0) {
		r = fail(
		    "token \"%s\": %s", hsm->token, errbuf[0] != '\0' ? errbuf : sg_strerror(rr));
		goto out;
	}
	handles = calloc(nconf + 1, sizeof(*handles));
	if (handles == NULL) {
		r = fail("out of memory");
		goto out;
	}
	for (j = 0; j < nconf; j++) {
		const char *uri = j < hsm->nkeys ? hsm->keys[j].uri : hsm->attestation_key;

		if (p11_admin_find(a, uri, &found, errbuf, sizeof(errbuf)) == 0)
			handles[j] = found.handle;
	}
	printf("token \"%s\": %zu private key%s%s\n", hsm->token, n, n == 1 ? "" : "s",
	    truncated ? " (more not shown)" : "");
	for (i = 0; i < n; i++) {
		const struct p11_key_info *k = &keys[i];

		printf("key label=%s id=", k->has_label ? k->label : "(none)");
		if (k->id_len > 0)
			print_hex(stdout, k->id, k->id_len);
		else
			printf("(none)");
		printf(
		    " type=%s sensitive=%s extractable=%s always_sensitive=%s never_extractable=%s "
		    "sign=%s\n",
		    key_type_name(k, tbuf, sizeof(tbuf)), k->is_sensitive ? "yes" : "no",
		    k->is_extractable ? "yes" : "no", k->is_always_sensitive ? "yes" : "no",
		    k->is_never_extractable ? "yes" : "no", k->can_sign ? "yes" : "no");
		if (!k->is_sensitive || k->is_extractable || !k->can_sign ||
		    k->is_always_authenticate)
			printf("    WARNING: the agent refuses this key (it must be sensitive, not "
			       "extractable, able to sign, without a login per signature)\n");
		for (j = 0; j < nconf; j++) {
			if (handles[j] != k->handle)
				continue;
			if (j < hsm->nkeys) {
				printf("    config key %s (%s)\n", hsm->keys[j].name,
				    hsm->keys[j].mechanism != NULL ? hsm->keys[j].mechanism
								   : "no mechanism");
				ninvalid += print_chain(
				    "      ", hsm->keys[j].name, hsm->keys[j].certificates);
			} else {
				printf("    config attestation_key\n");
			}
		}
	}
	for (j = 0; j < nconf; j++) {
		if (handles[j] != 0)
			continue;
		if (j < hsm->nkeys)
			printf("config key %s: no single private key on the token matches %s\n",
			    hsm->keys[j].name, hsm->keys[j].uri);
		else
			printf("config attestation_key: no single private key on the token matches "
			       "%s\n",
			    hsm->attestation_key);
	}
	/* A key the agent cannot sign with now is an error, as for --check. */
	r = ninvalid > 0 ? ADMIN_EXIT_FAILED : ADMIN_EXIT_OK;
out:
	free(handles);
	free(keys);
	p11_admin_close(a);
	return r;
}

/* --- the key verbs --- */

static const struct {
	const char *verb;
	unsigned allowed;
	int (*run)(const struct admin_hsm *hsm, const struct admin_opts *o);
} key_verbs[] = {
	{ "generate", O_LABEL | O_TYPE | O_ID | O_OUTPUT, cmd_generate },
	{ "csr", O_KEY | O_SUBJECT | O_OUTPUT, cmd_csr },
	{ "import-chain", O_KEY | O_CHAIN | O_OUTPUT | O_STORE, cmd_import_chain },
	{ "export", O_KEY | O_OUTPUT, cmd_export },
	{ "list", 0, cmd_list },
};

/* argv[0] is the verb. */
static int
key_command(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "module", required_argument, NULL, OPT_MODULE },
		{ "token", required_argument, NULL, OPT_TOKEN },
		{ "pin-file", required_argument, NULL, OPT_PIN_FILE },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "id", required_argument, NULL, OPT_ID },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "subject", required_argument, NULL, OPT_SUBJECT },
		{ "chain", required_argument, NULL, OPT_CHAIN },
		{ "output", required_argument, NULL, 'o' },
		{ "store-cert", no_argument, NULL, OPT_STORE_CERT },
		{ NULL, 0, NULL, 0 },
	};
	struct admin_opts o;
	struct admin_hsm *hsm = NULL;
	unsigned given = 0;
	size_t v;
	int ch, r;

	for (v = 0; v < nitems(key_verbs); v++)
		if (strcmp(argv[0], key_verbs[v].verb) == 0)
			break;
	if (v == nitems(key_verbs)) {
		usage(stderr);
		return ADMIN_EXIT_USAGE;
	}
	memset(&o, 0, sizeof(o));
	optind = 0; /* glibc: start afresh on the verb's arguments */
	while ((ch = getopt_long(argc, argv, "c:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.config = optarg;
			break;
		case OPT_MODULE:
			o.module = optarg;
			break;
		case OPT_TOKEN:
			o.token = optarg;
			break;
		case OPT_PIN_FILE:
			o.pin_file = optarg;
			break;
		case OPT_LABEL:
			o.label = optarg;
			given |= O_LABEL;
			break;
		case OPT_TYPE:
			o.type = optarg;
			given |= O_TYPE;
			break;
		case OPT_ID:
			o.id = optarg;
			given |= O_ID;
			break;
		case OPT_KEY:
			o.key = optarg;
			given |= O_KEY;
			break;
		case OPT_SUBJECT:
			o.subject = optarg;
			given |= O_SUBJECT;
			break;
		case OPT_CHAIN:
			o.chain = optarg;
			given |= O_CHAIN;
			break;
		case 'o':
			o.output = optarg;
			given |= O_OUTPUT;
			break;
		case OPT_STORE_CERT:
			o.store_cert = 1;
			given |= O_STORE;
			break;
		default:
			usage(stderr);
			return ADMIN_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "signet-admin: key %s: unexpected argument \"%.200s\"\n", argv[0],
		    argv[optind]);
		return ADMIN_EXIT_USAGE;
	}
	if ((given & ~key_verbs[v].allowed) != 0) {
		fprintf(stderr,
		    "signet-admin: key %s: an option given does not apply (see --help)\n", argv[0]);
		return ADMIN_EXIT_USAGE;
	}
	hsm = calloc(1, sizeof(*hsm));
	if (hsm == NULL)
		return fail("out of memory");
	r = hsm_settings(&o, hsm);
	if (r == 0)
		r = key_verbs[v].run(hsm, &o);
	config_free(hsm->cfg);
	free(hsm);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	/* Only --help and --version come before the command. */
	if ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1)
		return cli_getopt_default(&cli, ch, argv);
	if (argc - optind == 3 && strcmp(argv[optind], "policy") == 0 &&
	    strcmp(argv[optind + 1], "check") == 0)
		return policy_check(argv[optind + 2]);
	if (argc - optind >= 2 && strcmp(argv[optind], "key") == 0)
		return key_command(argc - optind - 1, argv + optind + 1);
	if (argc - optind >= 2 && strcmp(argv[optind], "openpgp") == 0)
		return admin_openpgp_command(argc - optind - 1, argv + optind + 1);
	if (argc - optind >= 1 && strcmp(argv[optind], "init") == 0)
		return admin_init_command(argc - optind, argv + optind);
	if (argc - optind >= 2 && strcmp(argv[optind], "audit") == 0)
		return admin_audit_command(argc - optind - 1, argv + optind + 1);
	if (argc - optind >= 1 &&
	    (strcmp(argv[optind], "status") == 0 || strcmp(argv[optind], "job") == 0 ||
		strcmp(argv[optind], "signatures") == 0))
		return admin_status_command(argc - optind, argv + optind);
	usage(stderr);
	return ADMIN_EXIT_USAGE;
}
