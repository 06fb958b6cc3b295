/*
 * signet-verify — the consumer's check of a signed artifact: given the
 * artifact, its signature file, the result envelope that the agent stored
 * next to it (docs/protocol.md §9), trust anchors and the agent's attestation key, it
 * checks everything there is to check and says what fails.
 *
 * Checks, in the order of their exit status (docs: man signet-verify):
 *
 *   attestation (4)  the envelope is a result signed by the agent key; the
 *                    payload parses, its status is signed, its signature is
 *                    the signature file's bytes.  (The artifact's SHA-256
 *                    not being the attested one is reported as a signature
 *                    failure, exit 1.)
 *   signature (1)    the signature file verifies over the artifact with the
 *                    certificate the result names (verify.c).
 *   chain (3)        that certificate chains to the trust anchors, at the
 *                    time the agent signed.
 *   audit (5)        the result's audit record is the "signed" decision for
 *                    exactly this job and signature, and is in the agent's
 *                    Merkle tree (the inclusion proof).
 *   checkpoint (6)   with --checkpoint and --log: the signed checkpoint, and
 *                    the log, which must reproduce both the result's tree
 *                    and the checkpoint's.
 *
 * Every check runs (so that one run lists every problem) as long as there
 * is a result to check against: an envelope that does not verify is still
 * read for the other checks, whose outcome cannot change the exit status
 * then.  Each failing check prints one line on stderr.  Everything read is
 * hostile: the strings from the result are escaped before they are shown.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "auditlog.h"
#include "checkpoint.h"
#include "cli.h"
#include "crypto.h"
#include "envelope.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "merkle.h"
#include "result.h"
#include "sgtime.h"
#include "resultcheck.h"
#include "util.h"

#define PROG "signet-verify"

/* Exit statuses (man signet-verify). */
enum sv_exit {
	SV_EXIT_OK = 0,
	SV_EXIT_SIGNATURE = 1,   /* the signature does not cover the artifact */
	SV_EXIT_USAGE = 2,       /* usage error, unreadable file, bad PEM */
	SV_EXIT_CHAIN = 3,       /* the certificate does not chain to the anchors */
	SV_EXIT_ATTESTATION = 4, /* the result is not the agent's, or not for this */
	SV_EXIT_AUDIT = 5,       /* the audit record or its inclusion proof */
	SV_EXIT_CHECKPOINT = 6,  /* the checkpoint or the log */
};

#define ESCAPED_MAX (RESULT_MESSAGE_MAX * 4 + 8) /* log_escape output, \xNN per byte */
#define SHOWN_MAX   256                          /* bytes of a shown result string */

struct options {
	const char *artifact;
	char *signature; /* allocated when defaulted */
	const char *result;
	const char *agent_pubkey;
	const char *ca_file;
	const char *checkpoint;
	const char *log;
	const char *origin;
	int quiet;
};

/* What the checks work on, read before any of them runs. */
struct inputs {
	int artifact_fd;
	uint8_t digest[SHA256_LEN]; /* of the artifact */
	char digest_hex[SHA256_HEX_LEN + 1];
	uint8_t *sig; /* the signature file's bytes */
	size_t sig_len;
	int sig_too_large; /* larger than any signature */
	char sig_sha256_hex[SHA256_HEX_LEN + 1];
	char *envelope; /* the result envelope file */
	size_t envelope_len;
	int envelope_too_large;
	EVP_PKEY *agent;
	char agent_keyid[KEYID_LEN + 1];
	STACK_OF(X509) * anchors;
	char *checkpoint; /* the signed note, or NULL */
	size_t checkpoint_len;
	int checkpoint_too_large;
};

/* The first failing check decides the exit status. */
static int exit_status = SV_EXIT_OK;

static void
usage(FILE *f)
{
	fputs("usage: " PROG " [options] -r RESULT -a AGENTKEY -C CAFILE ARTIFACT\n"
	      "\n"
	      "Check a file signed by signet: the result envelope stored with it, the\n"
	      "signature, the certificate chain, the audit record and (optionally) a\n"
	      "signed checkpoint of the agent's audit log.\n"
	      "\n"
	      "  -s, --signature FILE     signature file (default ARTIFACT.p7s if it\n"
	      "                           exists, else ARTIFACT.sig)\n"
	      "  -r, --result FILE        the result envelope, result.json (required)\n"
	      "  -a, --agent-pubkey PEM   agent attestation public key (env\n"
	      "                           SIGNET_AGENT_PUBKEY; required)\n"
	      "  -C, --ca-file PEM        trust anchors for the signing certificate (required)\n"
	      "      --checkpoint FILE    a signed checkpoint of the agent's audit log\n"
	      "                           (needs --log)\n"
	      "      --log FILE           the audit log records (the agent's log, or the\n"
	      "                           published pieces concatenated in order)\n"
	      "      --origin NAME        the checkpoint origin to require (default: the\n"
	      "                           one in the checkpoint)\n"
	      "  -q, --quiet              no line on success\n"
	      "  -h, --help               this text\n"
	      "      --version            print the version\n"
	      "\n"
	      "Exit status: 0 everything verifies; 1 the signature does not cover the\n"
	      "artifact; 2 usage error or unreadable file; 3 the certificate does not\n"
	      "chain to the trust anchors; 4 the result is not attested by the agent key\n"
	      "or does not go with this signature; 5 the audit record or its inclusion\n"
	      "proof; 6 the checkpoint or the log.  With several failures, the status is\n"
	      "that of the first in this order: 4, 1, 3, 5, 6.\n",
	    f);
}

static const struct cli cli = { .prog = PROG, .usage = usage };

/* One line "signet-verify: <text>" on stderr. */
#define sv_msg(...) cli_msg(PROG, __VA_ARGS__)

/* A failed check: one line "signet-verify: <check>: <reason>"; the first
 * failure of the run sets the exit status. */
static void fail(int status, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
fail(int status, const char *check, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": %s: ", check);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (exit_status == SV_EXIT_OK)
		exit_status = status;
}

/* An untrusted string, escaped and capped, in buf. */
static const char *
shown(const char *s, char buf[ESCAPED_MAX])
{
	return log_escape(s, SHOWN_MAX, buf, ESCAPED_MAX);
}

enum {
	OPT_CHECKPOINT = 256,
	OPT_LOG,
	OPT_ORIGIN,
};

static const struct option long_options[] = {
	{ "signature", required_argument, NULL, 's' },
	{ "result", required_argument, NULL, 'r' },
	{ "agent-pubkey", required_argument, NULL, 'a' },
	{ "ca-file", required_argument, NULL, 'C' },
	{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/*
 * Fills *o from argv and the environment.  Returns -1 to go on, or the exit
 * status (0 after --help/--version, 2 after a usage error, reported).
 */
static int
parse_options(int argc, char **argv, struct options *o)
{
	const char *sig = NULL;
	struct stat st;
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:r:a:C:qh", long_options, NULL)) != -1) {
		switch (c) {
		case 's':
			sig = optarg;
			break;
		case 'r':
			o->result = optarg;
			break;
		case 'a':
			o->agent_pubkey = optarg;
			break;
		case 'C':
			o->ca_file = optarg;
			break;
		case OPT_CHECKPOINT:
			o->checkpoint = optarg;
			break;
		case OPT_LOG:
			o->log = optarg;
			break;
		case OPT_ORIGIN:
			o->origin = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		default:
			return cli_getopt_default(&cli, c, argv);
		}
	}
	if ((o->artifact = cli_one_operand(&cli, argc, argv, "ARTIFACT")) == NULL)
		return SV_EXIT_USAGE;
	o->agent_pubkey = cli_opt_or_env(o->agent_pubkey, "SIGNET_AGENT_PUBKEY");
	if (o->result == NULL) {
		sv_msg("missing --result (the result envelope stored with the signature)");
		return SV_EXIT_USAGE;
	}
	if (o->agent_pubkey == NULL) {
		sv_msg("missing --agent-pubkey (or SIGNET_AGENT_PUBKEY)");
		return SV_EXIT_USAGE;
	}
	if (o->ca_file == NULL) {
		sv_msg("missing --ca-file (the trust anchors of the signing certificates)");
		return SV_EXIT_USAGE;
	}
	/* Never echoed (it may be a key pasted into a CI variable). */
	if (looks_like_file_content(o->agent_pubkey) || looks_like_file_content(o->ca_file)) {
		sv_msg("--agent-pubkey (or SIGNET_AGENT_PUBKEY) and --ca-file expect paths to "
		       "files, not their content; in GitLab use a variable of type File");
		return SV_EXIT_USAGE;
	}
	if (o->checkpoint != NULL && o->log == NULL) {
		sv_msg("--checkpoint needs --log (the audit log records)");
		return SV_EXIT_USAGE;
	}
	if (o->origin != NULL && o->checkpoint == NULL) {
		sv_msg("--origin needs --checkpoint");
		return SV_EXIT_USAGE;
	}
	if (o->origin != NULL && !checkpoint_origin_ok(o->origin)) {
		sv_msg("invalid --origin: 1 to %d bytes of printable ASCII without space or '+'",
		    CHECKPOINT_ORIGIN_MAX);
		return SV_EXIT_USAGE;
	}
	if (sig != NULL) {
		o->signature = xstrdup(sig);
	} else {
		if (asprintf(&o->signature, "%s.p7s", o->artifact) < 0)
			o->signature = NULL;
		else if (stat(o->signature, &st) != 0) {
			free(o->signature);
			if (asprintf(&o->signature, "%s.sig", o->artifact) < 0)
				o->signature = NULL;
		}
	}
	if (o->signature == NULL) {
		sv_msg("out of memory");
		return SV_EXIT_USAGE;
	}
	return -1;
}

/* "cannot read WHAT PATH: why" for a read_file() error. */
static void
read_error(const char *what, const char *path, int r)
{
	sv_msg("cannot read %s %s: %s", what, path,
	    r == SG_ERR_SYSTEM ? "not a readable regular file" : sg_strerror(r));
}

/*
 * Reads everything the checks need.  Files that cannot be read at all, and
 * keys or anchors that are not valid PEM, are usage errors (exit 2); a file
 * that is merely larger than what it claims to be is read as a failure of
 * its check.  0 or SV_EXIT_USAGE (reported).
 */
static int
read_inputs(const struct options *o, struct inputs *in)
{
	struct stat st;
	uint8_t h[SHA256_LEN];
	char *sig = NULL;
	int fd, r;

	in->artifact_fd = -1;
	if ((in->artifact_fd = open(o->artifact, O_RDONLY | O_CLOEXEC)) == -1) {
		sv_msg("cannot open %s: %s", o->artifact, strerror(errno));
		return SV_EXIT_USAGE;
	}
	if (fstat(in->artifact_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		sv_msg("%s is not a regular file", o->artifact);
		return SV_EXIT_USAGE;
	}
	if ((r = crypto_sha256_fd(in->artifact_fd, in->digest, NULL)) != 0) {
		sv_msg("cannot read %s: %s", o->artifact, sg_strerror(r));
		return SV_EXIT_USAGE;
	}
	hex_encode(in->digest, SHA256_LEN, in->digest_hex);

	r = read_file(o->signature, RESULT_SIGNATURE_MAX, &sig, &in->sig_len);
	if (r == SG_ERR_LIMIT) {
		in->sig_too_large = 1;
		in->sig_len = 0;
	} else if (r != 0) {
		read_error("signature file", o->signature, r);
		return SV_EXIT_USAGE;
	} else {
		in->sig = (uint8_t *)sig;
		crypto_sha256(in->sig, in->sig_len, h);
		hex_encode(h, SHA256_LEN, in->sig_sha256_hex);
	}

	r = read_file(o->result, ENVELOPE_MAX_BYTES, &in->envelope, &in->envelope_len);
	if (r == SG_ERR_LIMIT) {
		in->envelope_too_large = 1;
	} else if (r != 0) {
		read_error("result", o->result, r);
		return SV_EXIT_USAGE;
	}

	if ((r = crypto_load_pubkey(o->agent_pubkey, &in->agent)) != 0) {
		sv_msg("cannot load agent public key %s: %s", o->agent_pubkey, sg_strerror(r));
		return SV_EXIT_USAGE;
	}
	if ((r = crypto_keyid(in->agent, in->agent_keyid)) != 0) {
		sv_msg("cannot use agent public key %s: %s", o->agent_pubkey, sg_strerror(r));
		return SV_EXIT_USAGE;
	}
	if ((r = crypto_load_certs(o->ca_file, &in->anchors)) != 0) {
		sv_msg("cannot load trust anchors %s: %s", o->ca_file, sg_strerror(r));
		return SV_EXIT_USAGE;
	}

	if (o->checkpoint != NULL) {
		r = read_file(o->checkpoint, CHECKPOINT_MAX, &in->checkpoint, &in->checkpoint_len);
		if (r == SG_ERR_LIMIT) {
			in->checkpoint_too_large = 1;
		} else if (r != 0) {
			read_error("checkpoint", o->checkpoint, r);
			return SV_EXIT_USAGE;
		}
	}
	if (o->log != NULL) {
		/* auditlog_scan_file() opens it again; an unreadable log is a
		 * usage error, not a defect of the log. */
		if ((fd = open(o->log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
			sv_msg("cannot open log %s: %s", o->log, strerror(errno));
			return SV_EXIT_USAGE;
		}
		r = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
		close(fd);
		if (r) {
			sv_msg("log %s is not a regular file", o->log);
			return SV_EXIT_USAGE;
		}
	}
	return 0;
}

static void
inputs_clear(struct inputs *in)
{
	if (in->artifact_fd != -1)
		close(in->artifact_fd);
	free(in->sig);
	free(in->envelope);
	free(in->checkpoint);
	EVP_PKEY_free(in->agent);
	sk_X509_pop_free(in->anchors, X509_free);
}

/*
 * attestation: the envelope, its signature by the agent key, the payload.
 * Returns the parsed result whenever the payload parses (even when the
 * envelope is not attested: the other checks still run, and the exit
 * status is already 4), NULL when there is nothing to check against.
 */
static struct sg_result *
check_attestation(const struct inputs *in)
{
	struct dsse_envelope *env = NULL;
	struct sg_result *res = NULL;
	char e1[ESCAPED_MAX], e2[ESCAPED_MAX];
	int attested;

	if (in->envelope_too_large) {
		fail(SV_EXIT_ATTESTATION, "attestation",
		    "the result file is larger than an envelope may be (%d bytes)",
		    ENVELOPE_MAX_BYTES);
		goto out;
	}
	if (envelope_parse(in->envelope, in->envelope_len, &env) != 0) {
		fail(SV_EXIT_ATTESTATION, "attestation", "the result file is not a DSSE envelope");
		goto out;
	}
	if (strcmp(env->payload_type, PAYLOAD_TYPE_RESULT) != 0) {
		fail(SV_EXIT_ATTESTATION, "attestation", "the envelope holds a %s, not a result",
		    shown(env->payload_type, e1));
		goto out;
	}
	attested = verify_envelope_attested(env, in->agent, in->agent_keyid);
	if (!attested)
		fail(SV_EXIT_ATTESTATION, "attestation",
		    "the result is not signed by the agent key %s", in->agent_keyid);
	if (result_parse(env->payload, env->payload_len, &res) != 0) {
		/* Unattested garbage needs no second line. */
		if (attested)
			fail(SV_EXIT_ATTESTATION, "attestation",
			    "the attested payload is not a valid result");
		goto out;
	}
	if (res->status != SG_STATUS_SIGNED) {
		fail(SV_EXIT_ATTESTATION, "attestation", "the result is %s (%s: %s), not signed",
		    sg_status_name(res->status), shown(res->error_code, e1),
		    shown(res->error_message, e2));
		result_free(res);
		res = NULL;
		goto out;
	}
	if (in->sig_too_large)
		fail(SV_EXIT_ATTESTATION, "attestation",
		    "the signature file is larger than any signature (%d bytes)",
		    RESULT_SIGNATURE_MAX);
	else if (in->sig_len != res->signature.len ||
	    memcmp(in->sig, res->signature.data, in->sig_len) != 0)
		fail(SV_EXIT_ATTESTATION, "attestation",
		    "the signature file is not the signature the agent attested for job %s",
		    res->id);
out:
	envelope_free(env);
	return res;
}

/* signature: the artifact is the attested one and the signature file
 * covers it (verify.c), with the result's certificate. */
static void
check_signature(const struct options *o, const struct inputs *in, const struct sg_result *res)
{
	struct sg_result copy;
	enum sg_format format;
	const char *why = NULL;

	if (CRYPTO_memcmp(in->digest, res->artifact.sha256, SHA256_LEN) != 0) {
		fail(SV_EXIT_SIGNATURE, "signature",
		    "%s is not the signed artifact: its SHA-256 is %s, the result's %s",
		    o->artifact, in->digest_hex, res->artifact.sha256_hex);
		return;
	}
	if (in->sig_too_large) {
		fail(SV_EXIT_SIGNATURE, "signature", "the signature file is too large to check");
		return;
	}
	if (res->format == NULL || sg_format_parse(res->format, &format) != 0) {
		fail(SV_EXIT_SIGNATURE, "signature", "the result names no known format");
		return;
	}
	/* Check the file we were given, not the copy in the result (they are
	 * the same when the attestation check passed). */
	copy = *res;
	copy.signature.data = in->sig;
	copy.signature.len = in->sig_len;
	if (verify_result_signature(&copy, format, in->digest, &why) != 0)
		fail(SV_EXIT_SIGNATURE, "signature", "%s", why);
}

/* chain: certificates[0] up to a trust anchor, certificates[1..] as
 * untrusted intermediates, at the time the agent signed. */
static void
check_chain(const struct inputs *in, const struct sg_result *res)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	STACK_OF(X509) *untrusted = NULL;
	X509 *leaf = NULL, *x;
	char when[SGTIME_LEN + 1];
	size_t i;
	int err, depth;

	if (res->ncerts < 1 || (leaf = verify_der_cert(&res->certs[0])) == NULL) {
		fail(SV_EXIT_CHAIN, "chain",
		    "the result's first certificate is not one DER certificate");
		goto out;
	}
	if ((untrusted = sk_X509_new_null()) == NULL || (store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		goto oom;
	for (i = 1; i < res->ncerts; i++) {
		if ((x = verify_der_cert(&res->certs[i])) == NULL) {
			fail(SV_EXIT_CHAIN, "chain",
			    "the result's certificate %zu is not one DER certificate", i);
			goto out;
		}
		if (sk_X509_push(untrusted, x) <= 0) {
			X509_free(x);
			goto oom;
		}
	}
	for (i = 0; i < (size_t)sk_X509_num(in->anchors); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(in->anchors, (int)i)) != 1)
			goto oom;
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
		goto oom;
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, (time_t)res->signed_at);
	if (X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY) != 1)
		goto oom;
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		depth = X509_STORE_CTX_get_error_depth(ctx);
		sgtime_format(res->signed_at, when);
		fail(SV_EXIT_CHAIN, "chain",
		    "the signing certificate does not chain to the trust anchors at %s: %s "
		    "(at depth %d of the chain)",
		    when, X509_verify_cert_error_string(err), depth);
	}
	goto out;
oom:
	fail(SV_EXIT_CHAIN, "chain", "cannot check the chain: %s",
	    sg_strerror(crypto_err(SG_ERR_ALLOC)));
out:
	(void)crypto_err(0);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
}

/* The string member name of the record equals want; else *ret_why. */
static int
record_string_is(const cJSON *rec, const char *name, const char *want)
{
	const char *s;
	size_t len;

	if (want == NULL || json_get_string(rec, name, &s, &len) != 0)
		return 0;
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* The audit record: the "signed" decision for exactly this result and
 * signature file.  NULL, or what is wrong. */
static const char *
record_mismatch(const struct inputs *in, const struct sg_result *res)
{
	cJSON *rec = NULL;
	const char *why = NULL;
	unsigned flags = 0;
	int64_t seq;

	if (json_parse(res->audit_record, res->audit_record_len, &rec, &flags) != 0 ||
	    !cJSON_IsObject(rec)) {
		why = "the audit record is not a JSON object";
		goto out;
	}
	if ((flags & (JSON_F_NUL_ESCAPE | JSON_F_DUPLICATE)) != 0) {
		why = "the audit record has duplicate members or escaped NULs";
		goto out;
	}
	if (json_get_int(rec, "seq", 1, JSON_INT_MAX - 1, &seq) != 0 ||
	    (uint64_t)seq != res->audit_seq)
		why = "the audit record's seq is not the result's";
	else if (!record_string_is(rec, "event", "signed"))
		why = "the audit record is not a \"signed\" decision";
	else if (!record_string_is(rec, "id", res->id))
		why = "the audit record is for another job id";
	else if (!record_string_is(rec, "key", res->key))
		why = "the audit record names another signing key";
	else if (!record_string_is(rec, "sha256", res->artifact.sha256_hex))
		why = "the audit record names another artifact digest";
	else if (!record_string_is(rec, "job_sha256", res->job_sha256))
		why = "the audit record answers another job payload";
	else if (in->sig_too_large ||
	    !record_string_is(rec, "signature_sha256", in->sig_sha256_hex))
		why = "the audit record's signature_sha256 is not the signature file's SHA-256";
out:
	cJSON_Delete(rec);
	return why;
}

/*
 * audit: the record and its inclusion in the tree of audit.tree_size.
 * (An inclusion proof fixes the tree's shape only around the leaf: the
 * same proof may also pass for a slightly different tree_size.  That the
 * root is the root of exactly tree_size records is checked against the
 * log, with --log.)
 */
static void
check_audit(const struct inputs *in, const struct sg_result *res)
{
	uint8_t leaf[SHA256_LEN];
	char leaf_hex[SHA256_HEX_LEN + 1];
	const char *why;

	if (!res->audit_has_proof) {
		fail(SV_EXIT_AUDIT, "audit",
		    "the result carries no audit inclusion proof "
		    "(record %" PRIu64 ")",
		    res->audit_seq);
		return;
	}
	if ((why = record_mismatch(in, res)) != NULL) {
		fail(SV_EXIT_AUDIT, "audit", "%s", why);
		return;
	}
	merkle_leaf_hash(res->audit_record, res->audit_record_len, leaf);
	hex_encode(leaf, SHA256_LEN, leaf_hex);
	if (strcmp(leaf_hex, res->audit_hash) != 0) {
		fail(SV_EXIT_AUDIT, "audit",
		    "the audit record's leaf hash is %s, the result's hash %s", leaf_hex,
		    res->audit_hash);
		return;
	}
	if (res->audit_seq < 1 ||
	    merkle_verify_inclusion(leaf, res->audit_seq - 1, res->audit_tree_size,
		(const uint8_t(*)[SHA256_LEN])res->audit_proof, res->audit_nproof,
		res->audit_root) != 0)
		fail(SV_EXIT_AUDIT, "audit",
		    "the inclusion proof of record %" PRIu64 " in the tree of %" PRIu64
		    " records does not lead to its root",
		    res->audit_seq, res->audit_tree_size);
}

/*
 * checkpoint: the signed checkpoint (when given) must be the agent's and
 * cover the record; the log must be well formed and reproduce the
 * result's tree root and the checkpoint's.  Only the first problem is
 * reported.  *ret_has_cp = 1 and *ret_cp filled when all of that holds
 * for a checkpoint.
 */
static void
check_checkpoint(const struct options *o, const struct inputs *in, const struct sg_result *res,
    struct checkpoint *ret_cp, int *ret_has_cp)
{
	struct auditlog_state st;
	struct checkpoint cp;
	uint64_t want[2];
	uint8_t roots[2][SHA256_LEN];
	size_t nwant = 0, cp_at = 0, tree_at = 0;
	char esc[ESCAPED_MAX];
	int r;

	*ret_has_cp = 0;
	memset(&st, 0, sizeof(st));
	memset(&cp, 0, sizeof(cp));
	memset(roots, 0, sizeof(roots));
	if (o->checkpoint != NULL) {
		if (in->checkpoint_too_large) {
			fail(SV_EXIT_CHECKPOINT, "checkpoint",
			    "%s is larger than a checkpoint may be (%d bytes)", o->checkpoint,
			    CHECKPOINT_MAX);
			return;
		}
		r = checkpoint_open(
		    in->checkpoint, in->checkpoint_len, in->agent, NULL, o->origin, &cp);
		if (r == SG_ERR_VERIFY) {
			fail(SV_EXIT_CHECKPOINT, "checkpoint", "%s is not signed by the agent key",
			    o->checkpoint);
			return;
		}
		if (r != 0) {
			if (o->origin != NULL)
				fail(SV_EXIT_CHECKPOINT, "checkpoint",
				    "%s is not a valid checkpoint of origin %s", o->checkpoint,
				    o->origin);
			else
				fail(SV_EXIT_CHECKPOINT, "checkpoint",
				    "%s is not a valid signed checkpoint", o->checkpoint);
			return;
		}
		if (res->audit_seq > cp.size) {
			fail(SV_EXIT_CHECKPOINT, "checkpoint",
			    "the checkpoint (%" PRIu64 " records) predates audit record %" PRIu64
			    ": use a later one",
			    cp.size, res->audit_seq);
			return;
		}
		cp_at = nwant;
		want[nwant++] = cp.size;
	}
	if (res->audit_has_proof) {
		tree_at = nwant;
		want[nwant++] = res->audit_tree_size;
	}

	r = auditlog_scan_file(o->log, NULL, NULL, want, nwant, roots, &st);
	if (r == SG_ERR_VERIFY) {
		fail(SV_EXIT_CHECKPOINT, "checkpoint",
		    "the log %s is not well formed at record %" PRIu64 " (line %" PRIu64 "): %s",
		    o->log, st.bad_seq, st.bad_line,
		    log_escape(st.problem, sizeof(st.problem), esc, sizeof(esc)));
		return;
	}
	if (r != 0) {
		fail(SV_EXIT_CHECKPOINT, "checkpoint", "cannot read the log %s: %s", o->log,
		    sg_strerror(r));
		return;
	}
	if (res->audit_has_proof) {
		if (st.records < res->audit_tree_size) {
			fail(SV_EXIT_CHECKPOINT, "checkpoint",
			    "the log holds %" PRIu64 " records, the result's tree %" PRIu64,
			    st.records, res->audit_tree_size);
			return;
		}
		if (CRYPTO_memcmp(roots[tree_at], res->audit_root, SHA256_LEN) != 0) {
			fail(SV_EXIT_CHECKPOINT, "checkpoint",
			    "the log's root at %" PRIu64 " records is not the result's audit root",
			    res->audit_tree_size);
			return;
		}
	}
	if (o->checkpoint != NULL) {
		if (st.records < cp.size) {
			fail(SV_EXIT_CHECKPOINT, "checkpoint",
			    "the log holds %" PRIu64 " records, the checkpoint %" PRIu64,
			    st.records, cp.size);
			return;
		}
		if (CRYPTO_memcmp(roots[cp_at], cp.root, SHA256_LEN) != 0) {
			fail(SV_EXIT_CHECKPOINT, "checkpoint",
			    "the log's root at %" PRIu64 " records is not the checkpoint's root",
			    cp.size);
			return;
		}
		*ret_cp = cp;
		*ret_has_cp = 1;
	}
}

static int
run(const struct options *o)
{
	struct inputs in;
	struct sg_result *res = NULL;
	struct checkpoint cp;
	char when[SGTIME_LEN + 1], e1[ESCAPED_MAX], e2[ESCAPED_MAX];
	int has_cp = 0, ex;

	memset(&in, 0, sizeof(in));
	memset(&cp, 0, sizeof(cp));
	if ((ex = read_inputs(o, &in)) != 0)
		goto out;

	if ((res = check_attestation(&in)) != NULL) {
		check_signature(o, &in, res);
		check_chain(&in, res);
		check_audit(&in, res);
		if (o->log != NULL)
			check_checkpoint(o, &in, res, &cp, &has_cp);
	}
	ex = exit_status;
	if (ex == SV_EXIT_OK && res == NULL) /* cannot happen: no result is a failure */
		ex = SV_EXIT_ATTESTATION;
	if (ex == SV_EXIT_OK && !o->quiet) {
		sgtime_format(res->signed_at, when);
		printf(PROG ": %s: OK, signed by %s for %s at %s, audit record %" PRIu64
			    " of %" PRIu64,
		    o->artifact, shown(res->key, e1), shown(res->submitter, e2), when,
		    res->audit_seq, res->audit_tree_size);
		if (has_cp)
			printf(", in checkpoint %" PRIu64, cp.size);
		if (printf("\n") < 0 || fflush(stdout) != 0) {
			sv_msg("cannot write to stdout: %s", strerror(errno));
			ex = SV_EXIT_USAGE;
		}
	}
out:
	result_free(res);
	inputs_clear(&in);
	return ex;
}

int
main(int argc, char **argv)
{
	struct options o;
	int ex;

	/* A short-lived command: the kernel frees everything at exit, faster
	 * than OpenSSL's own clean-up. */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	log_init(PROG, getenv("SIGNET_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
	    LOG_FORMAT_PLAIN);
	if ((ex = parse_options(argc, argv, &o)) >= 0) {
		free(o.signature);
		return ex;
	}
	ex = run(&o);
	free(o.signature);
	return ex;
}
