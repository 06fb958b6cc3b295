/*
 * admin_openpgp.c — `signet-admin openpgp export -c CONFIG KEY [-o FILE]
 * [--binary]` (docs/admin.md, "OpenPGP certificates").
 *
 * A key whose formats list openpgp signs documents as an OpenPGP v4 key
 * whose public key is the leaf certificate's and whose creation time and
 * user ID are configuration (keys.KEY.openpgp; docs/configuration.md).
 * Verifiers need that key as a certificate: the public-key packet, the
 * user ID and a positive certification of the two made by the key itself.
 * This command makes that self-signature inside the HSM, through the same
 * checks as the agent (p11_open(): sensitive, not extractable, the
 * configured mechanism, a test signature), and writes the certificate.
 *
 * The self-signature is the one signature a signing key makes outside a
 * job, so it is recorded in the agent's audit log as a "certification"
 * record (docs/audit.md) before the certificate is released: the order is
 * take the log (its lock; so the agent must be stopped), sign, verify
 * (openpgp_cert() does), append the record durably, then write.  A
 * failure before the record leaves nothing behind; a failure to write the
 * output after it leaves a record of a certificate nobody received, which
 * is harmless (the export can be run again).
 *
 * The certification's creation time is the key's OpenPGP creation time,
 * not the time of the export:
 *   - OpenPGP verifiers judge a document signature against the
 *     certificate as it stood at the signature's time (Sequoia's sqv does
 *     so strictly): a self-signature made at export time would not cover
 *     the document signatures made before it, from the key's creation on;
 *   - it is deterministic: RSA PKCS#1 v1.5 signatures are, so a second
 *     export of an RSA key gives the same bytes (ECDSA's random nonce
 *     makes each export differ in the signature alone);
 *   - gpg, gpgv and sqv accept a self-signature made at the second the
 *     key was created (RFC 4880 only asks that it is not earlier).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "admin_openpgp.h"
#include "audit.h"
#include "b64.h"
#include "cli.h"
#include "config.h"
#include "crypto.h"
#include "hsm.h"
#include "openpgp.h"
#include "p11.h"
#include "sgtime.h"
#include "util.h"

#define PGP_EXIT_OK       0
#define PGP_EXIT_FAILED   1
#define PGP_EXIT_USAGE    2
#define PGP_OUT_MODE      0644 /* a certificate is public */
#define PGP_ERR_MAX       512  /* bytes of a reason from the HSM or the audit log */
#define PGP_HOLDER_MAX    200  /* bytes of the lock file's holder line shown */
#define PGP_KEYS_SHOWN    16   /* key names listed when KEY is not one of them */
#define PGP_FORMATS_SHOWN 64   /* bytes of a key's format list as shown */

static void
openpgp_usage(FILE *f)
{
	fprintf(f,
	    "usage: signet-admin openpgp export -c CONFIG KEY [-o FILE] [--binary]\n"
	    "\n"
	    "  the OpenPGP certificate of KEY, a key of the configuration whose formats\n"
	    "  list openpgp: its public key (the leaf certificate's), its user ID and\n"
	    "  a self-signature made in the HSM at the key's openpgp.created time,\n"
	    "  recorded in the audit log (event \"certification\") before it is written.\n"
	    "  The agent must be stopped: it holds the audit log.\n"
	    "\n"
	    "  -c, --config FILE   the agent configuration\n"
	    "  -o, --output FILE   where to write (atomically, mode 0644); default stdout\n"
	    "      --binary        the binary transferable public key (gpgv --keyring);\n"
	    "                      default ASCII armor (PUBLIC KEY BLOCK)\n");
}

static const struct cli pgp_cli = {
	.prog = "signet-admin", .usage = openpgp_usage, .getopt_reports = 1
};

static int pgp_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "signet-admin: message" and returns PGP_EXIT_FAILED. */
static int
pgp_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(pgp_cli.prog, fmt, ap);
	va_end(ap);
	return PGP_EXIT_FAILED;
}

struct export_opts {
	const char *config;
	const char *key;
	const char *output; /* NULL: stdout */
	int binary;
};

/*
 * Whether another process holds the audit log (audit_open()'s lock on
 * "<log>.lock"), and who by the line it wrote there ("pid N NAME since
 * TIME"), printable ASCII only, into holder.  Only to refuse early with
 * the reason; audit_open() takes the lock itself and refuses too.
 */
static int
log_held(const char *log, char *holder, size_t len)
{
	char *lpath = NULL, raw[PGP_HOLDER_MAX + 1];
	struct flock fl;
	ssize_t n;
	size_t i, k = 0;
	int fd, held = 0;

	if (asprintf(&lpath, "%s.lock", log) == -1)
		return 0;
	fd = open(lpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(lpath);
	if (fd < 0)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
		held = 1;
		n = pread(fd, raw, PGP_HOLDER_MAX, 0);
		for (i = 0; n > 0 && i < (size_t)n && raw[i] != '\n' && k + 1 < len; i++)
			holder[k++] = raw[i] >= 0x20 && raw[i] < 0x7f ? raw[i] : '?';
		holder[k] = '\0';
	}
	close(fd);
	return held;
}

/* "pid N NAME since TIME" as "NAME (pid N, since TIME)"; anything else as
 * it is. */
static void
holder_text(const char *line, char *out, size_t len)
{
	char name[PGP_HOLDER_MAX + 1], since[PGP_HOLDER_MAX + 1];
	long pid;

	if (line[0] == '\0')
		snprintf(out, len, "a process that has not written its pid yet");
	else if (sscanf(line, "pid %ld %200s since %200s", &pid, name, since) == 3)
		snprintf(out, len, "%s (pid %ld, since %s)", name, pid, since);
	else
		snprintf(out, len, "%s", line);
}

/* Who can read the PIN file (pin) or write the audit log (!pin), as
 * advice. */
static void
rights_hint(const struct agent_config *c, int pin, char *out, size_t len)
{
	if (c->pkcs11_user != NULL && c->user != NULL && strcmp(c->pkcs11_user, c->user) != 0)
		snprintf(out, len,
		    "run it as root: the PIN file is the signer's (pkcs11.user %s) and the audit "
		    "log the agent's (user %s)",
		    c->pkcs11_user, c->user);
	else if (pin && c->pkcs11_user != NULL)
		snprintf(out, len, "run it as root or as the signer's user %s (pkcs11.user)",
		    c->pkcs11_user);
	else if (!pin && c->user != NULL)
		snprintf(out, len, "run it as root or as the agent's user %s (user)", c->user);
	else
		snprintf(out, len, "run it as root or as the user that owns it");
}

/*
 * What this user must be able to do: read the PIN file (the signer's when
 * the agent runs one as pkcs11.user) and write the audit log (the
 * agent's, as user).  Checked with access() only to say so clearly;
 * p11_open() and audit_open() decide.
 */
static int
check_rights(const struct agent_config *c, const char *name)
{
	char hint[256];
	char *dir = NULL;
	int e;

	if (access(c->pkcs11_pin_file, R_OK) != 0 && (e = errno) != ENOENT) {
		rights_hint(c, 1, hint, sizeof(hint));
		return pgp_fail("key %s: cannot read the PIN file %s (pkcs11.pin_file): %s; the "
				"certification is made in the HSM: %s",
		    name, c->pkcs11_pin_file, strerror(e), hint);
	}
	if (access(c->audit_log, F_OK) == 0) {
		e = access(c->audit_log, W_OK) == 0 ? 0 : errno;
	} else {
		if (path_dir(c->audit_log, &dir) != 0)
			return pgp_fail("out of memory");
		e = access(dir, W_OK) == 0 ? 0 : errno;
		free(dir);
	}
	if (e != 0) {
		rights_hint(c, 0, hint, sizeof(hint));
		return pgp_fail("key %s: cannot write the audit log %s (audit_log): %s; the "
				"certification is recorded there: %s",
		    name, c->audit_log, strerror(e), hint);
	}
	return 0;
}

/*
 * The audit log's files that audit_open() may create ("<log>",
 * "<log>.lock", "<log>.torn"), and whether each existed before.  Run as
 * root for an agent that runs as `user`, the ones this command created
 * are given to that user afterwards, or the agent could not open them.
 */
struct log_files {
	char *path[3];
	int existed[3];
};

static int
log_files_init(struct log_files *lf, const char *log)
{
	static const char *const suffix[3] = { "", ".lock", ".torn" };
	size_t i;

	memset(lf, 0, sizeof(*lf));
	for (i = 0; i < nitems(suffix); i++) {
		if (asprintf(&lf->path[i], "%s%s", log, suffix[i]) == -1) {
			lf->path[i] = NULL;
			return SG_ERR_ALLOC;
		}
		lf->existed[i] = access(lf->path[i], F_OK) == 0;
	}
	return 0;
}

static void
log_files_give(const struct log_files *lf, const struct agent_config *c)
{
	struct passwd *pw;
	size_t i;

	if (geteuid() != 0 || c->user == NULL)
		return;
	if ((pw = getpwnam(c->user)) == NULL) {
		cli_msg(pgp_cli.prog,
		    "warning: no user %s (user): the audit log's new files stay "
		    "root's",
		    c->user);
		return;
	}
	for (i = 0; i < nitems(lf->path); i++) {
		if (lf->path[i] == NULL || lf->existed[i] || access(lf->path[i], F_OK) != 0)
			continue;
		if (lchown(lf->path[i], pw->pw_uid, pw->pw_gid) != 0)
			cli_msg(pgp_cli.prog, "warning: %s: cannot give it to %s: %s", lf->path[i],
			    c->user, strerror(errno));
	}
}

static void
log_files_free(struct log_files *lf)
{
	size_t i;

	for (i = 0; i < nitems(lf->path); i++)
		free(lf->path[i]);
}

/* openpgp_cert()'s signer: key 0 of the token, once. */
struct cert_signer {
	struct p11 *p11;
	unsigned calls;
};

static int
cert_sign(void *arg, const uint8_t digest[SHA256_LEN], uint8_t *sig, size_t *ret_sig_len)
{
	struct cert_signer *cs = arg;

	/* A certificate has one self-signature; a second request is a bug. */
	if (cs->calls++ > 0)
		return SG_ERR_INTERNAL;
	return p11_sign(cs->p11, 0, digest, SHA256_LEN, sig, ret_sig_len);
}

/*
 * The length of the packet at p[0..len) (header included), in the new
 * format that openpgp_cert() writes (RFC 4880 §4.2.2: one-, two- and
 * five-octet lengths).  SG_ERR_PARSE for anything else.
 */
static int
packet_len(const uint8_t *p, size_t len, size_t *ret)
{
	size_t hdr, body;

	if (len < 2 || (p[0] & 0xC0) != 0xC0)
		return SG_ERR_PARSE;
	if (p[1] < 192) {
		hdr = 2;
		body = p[1];
	} else if (p[1] < 224) {
		if (len < 3)
			return SG_ERR_PARSE;
		hdr = 3;
		body = ((size_t)(p[1] - 192) << 8) + p[2] + 192;
	} else if (p[1] == 255) {
		if (len < 6)
			return SG_ERR_PARSE;
		hdr = 6;
		body = (size_t)p[2] << 24 | (size_t)p[3] << 16 | (size_t)p[4] << 8 | p[5];
	} else {
		return SG_ERR_PARSE; /* partial lengths: never in a certificate */
	}
	if (body > len - hdr)
		return SG_ERR_PARSE;
	*ret = hdr + body;
	return 0;
}

/* Where the certification packet begins: after the public key and the
 * user ID. */
static int
cert_sig_offset(const uint8_t *cert, size_t len, size_t *ret)
{
	size_t off = 0, n = 0;
	int i, r;

	for (i = 0; i < 2; i++) {
		if ((r = packet_len(cert + off, len - off, &n)) != 0)
			return r;
		off += n;
	}
	if (off >= len)
		return SG_ERR_PARSE;
	*ret = off;
	return 0;
}

/* The configuration's formats of k, for a message. */
static void
format_list(const struct agent_key *k, char *out, size_t len)
{
	size_t n = 0;
	int f;

	out[0] = '\0';
	for (f = 0; f < SG_FORMAT_COUNT; f++) {
		if ((k->formats & (1u << f)) == 0)
			continue;
		n += (size_t)snprintf(
		    out + n, len - n, "%s%s", n ? ", " : "", sg_format_name((enum sg_format)f));
		if (n >= len)
			break;
	}
	if (out[0] == '\0')
		snprintf(out, len, "none");
}

/* The configuration's key named name, or NULL with the reason printed. */
static const struct agent_key *
find_key(const struct agent_config *c, const char *config, const char *name)
{
	const struct agent_key *k;
	char formats[PGP_FORMATS_SHOWN];
	long i = config_key_index(c, name);
	size_t j;

	if (i < 0) {
		fprintf(stderr, "%s: %s: no key \"%.*s\"; its keys:", pgp_cli.prog, config,
		    CONFIG_NAME_MAX, name);
		for (j = 0; j < c->nkeys && j < PGP_KEYS_SHOWN; j++)
			fprintf(stderr, " %s", c->keys[j].name);
		fprintf(stderr, "%s\n", c->nkeys > PGP_KEYS_SHOWN ? " ..." : "");
		return NULL;
	}
	k = &c->keys[i];
	if ((k->formats & (1u << SG_FORMAT_OPENPGP)) == 0) {
		format_list(k, formats, sizeof(formats));
		pgp_fail("key %s: its formats (%s) do not list openpgp, so it has no OpenPGP "
			 "identity to certify (keys.%s.formats needs \"openpgp\", and "
			 "keys.%s.openpgp its \"created\" and \"uid\")",
		    k->name, formats, k->name, k->name);
		return NULL;
	}
	if (!k->has_openpgp || k->pgp == NULL || k->pgp_uid == NULL) {
		pgp_fail("key %s: no OpenPGP identity: keys.%s.openpgp must give \"created\" and "
			 "\"uid\"",
		    k->name, k->name);
		return NULL;
	}
	if (k->mech != SG_MECH_ECDSA_SHA256 && k->mech != SG_MECH_RSA_PKCS1_SHA256) {
		pgp_fail("key %s: mechanism %s: OpenPGP takes ecdsa-sha256 or rsa-pkcs1-sha256",
		    k->name, sg_mech_name(k->mech));
		return NULL;
	}
	return k;
}

/*
 * Opens the key in the token through the agent's checks, with the
 * configured mechanism, and checks that it is the leaf certificate's key
 * (the OpenPGP key is built from the leaf).  0 or PGP_EXIT_FAILED.
 */
static int
open_signer(const struct agent_config *c, const struct agent_key *k, struct p11 **ret)
{
	struct hsm_key_spec spec = { k->name, k->uri, k->mech, 0 };
	struct hsm_config hc;
	struct p11 *p = NULL;
	EVP_PKEY *pub = NULL;
	char errbuf[PGP_ERR_MAX] = "";
	int r;

	memset(&hc, 0, sizeof(hc));
	hc.module = c->pkcs11_module;
	hc.token = c->pkcs11_token;
	hc.pin_file = c->pkcs11_pin_file;
	hc.sessions = 1;
	hc.keys = &spec;
	hc.nkeys = 1;
	r = p11_open(&hc, &p, errbuf, sizeof(errbuf));
	if (r != 0)
		return pgp_fail("key %s: token \"%s\": %s", k->name, c->pkcs11_token,
		    errbuf[0] != '\0' ? errbuf : sg_strerror(r));
	if (p11_public_key(p, 0, &pub) != 0) {
		p11_close(p);
		return pgp_fail("key %s: reading its public key from the token failed", k->name);
	}
	r = EVP_PKEY_eq(pub, k->pgp->pub) == 1 ? 0 : PGP_EXIT_FAILED;
	EVP_PKEY_free(pub);
	ERR_clear_error();
	if (r != 0) {
		p11_close(p);
		return pgp_fail("key %s: the token's key %s is not the key of the leaf certificate "
				"in %s: nothing signed",
		    k->name, k->uri, k->certificates_path);
	}
	*ret = p;
	return 0;
}

/*
 * The certificate, made through the token and recorded in the audit log
 * (already open in *a).  On success *ret_cert (binary, caller frees) and
 * the record's number.
 */
static int
certify(const struct agent_config *c, const struct agent_key *k, struct audit *a,
    uint8_t **ret_cert, size_t *ret_len, uint64_t *ret_seq)
{
	int r = PGP_EXIT_FAILED, rr;
	struct cert_signer cs = { NULL, 0 };
	struct audit_record rec;
	struct audit_receipt rcpt;
	uint8_t *cert = NULL, digest[SHA256_LEN];
	size_t len = 0, sig_at = 0;
	char fpr[OPENPGP_FPR_HEX_LEN + 1], certified[SGTIME_LEN + 1];
	char cert_hex[SHA256_HEX_LEN + 1], sig_hex[SHA256_HEX_LEN + 1];
	char *sig_b64 = NULL;

	if (open_signer(c, k, &cs.p11) != 0)
		goto out;
	rr = openpgp_cert(k->pgp, k->pgp_uid, k->pgp_created, cert_sign, &cs, &cert, &len);
	if (rr != 0) {
		r = pgp_fail("key %s: the certification failed: %s; nothing recorded or written",
		    k->name, sg_strerror(rr));
		goto out;
	}
	if (cert_sig_offset(cert, len, &sig_at) != 0) {
		r = pgp_fail(
		    "key %s: internal error: the certificate's packets do not parse", k->name);
		goto out;
	}
	if (b64_encode(cert + sig_at, len - sig_at, &sig_b64) != 0) {
		r = pgp_fail("out of memory");
		goto out;
	}
	openpgp_fpr_hex(k->pgp->fpr, fpr);
	sgtime_format(k->pgp_created, certified);
	crypto_sha256(cert, len, digest);
	hex_encode(digest, SHA256_LEN, cert_hex);
	crypto_sha256(cert + sig_at, len - sig_at, digest);
	hex_encode(digest, SHA256_LEN, sig_hex);

	memset(&rec, 0, sizeof(rec));
	rec.event = "certification";
	rec.key = k->name;
	rec.format = sg_format_name(SG_FORMAT_OPENPGP);
	rec.fingerprint = fpr;
	rec.uid = k->pgp_uid;
	rec.certified = certified;
	rec.certificate_sha256 = cert_hex;
	rec.signature_sha256 = sig_hex;
	rec.signature = sig_b64;
	memset(&rcpt, 0, sizeof(rcpt));
	rr = audit_append(a, &rec, 0, &rcpt);
	if (rr != 0) {
		r = pgp_fail("key %s: recording the certification in the audit log %s failed: %s; "
			     "the certificate is not written",
		    k->name, c->audit_log, sg_strerror(rr));
		goto out;
	}
	*ret_cert = cert;
	cert = NULL;
	*ret_len = len;
	*ret_seq = rcpt.seq;
	r = 0;
out:
	free(sig_b64);
	free(cert);
	p11_close(cs.p11);
	return r;
}

/* Writes len bytes to path atomically (mode 0644), or to stdout. */
static int
write_output(const char *path, const void *buf, size_t len)
{
	int r;

	if (path == NULL) {
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
			return SG_ERR_SYSTEM;
		return 0;
	}
	r = write_file_atomic(path, buf, len, PGP_OUT_MODE);
	return r;
}

static int
openpgp_export(const struct export_opts *o)
{
	int r = PGP_EXIT_FAILED, rr;
	struct agent_config *c = NULL;
	const struct agent_key *k;
	struct audit *a = NULL;
	struct log_files lf;
	uint8_t *cert = NULL;
	size_t len = 0;
	uint64_t seq = 0;
	char *armored = NULL;
	char err[CONFIG_PROBLEM_MAX] = "", holder[PGP_HOLDER_MAX + 1] = "";
	char who[2 * PGP_HOLDER_MAX + 64], fpr[OPENPGP_FPR_HEX_LEN + 1];
	char certified[SGTIME_LEN + 1], errbuf[PGP_ERR_MAX] = "";

	memset(&lf, 0, sizeof(lf));
	/* With its files: the OpenPGP key is built from the leaf certificate. */
	rr = config_load_flags(o->config, 0, &c, err, sizeof(err));
	if (rr != 0) {
		r = pgp_fail("%s: %s", o->config, err[0] ? err : sg_strerror(rr));
		goto out;
	}
	if ((k = find_key(c, o->config, o->key)) == NULL)
		goto out;
	if (log_held(c->audit_log, holder, sizeof(holder))) {
		holder_text(holder, who, sizeof(who));
		r = pgp_fail("key %s: the audit log %s is held by %s: stop the agent while "
			     "exporting (the certification is recorded in that log, which has "
			     "one writer), then start it again",
		    k->name, c->audit_log, who);
		goto out;
	}
	if (check_rights(c, k->name) != 0)
		goto out;
	if (log_files_init(&lf, c->audit_log) != 0) {
		r = pgp_fail("out of memory");
		goto out;
	}
	/* The log first: no signature is made that could not be recorded. */
	rr = audit_open(c->audit_log, NULL, NULL, NULL, &a, errbuf, sizeof(errbuf));
	if (rr != 0) {
		r = pgp_fail("key %s: %s", k->name, errbuf[0] ? errbuf : sg_strerror(rr));
		goto out;
	}
	if (certify(c, k, a, &cert, &len, &seq) != 0)
		goto out;
	if (!o->binary && openpgp_armor("PUBLIC KEY BLOCK", cert, len, &armored) != 0) {
		r = pgp_fail("out of memory");
		goto out;
	}
	rr = armored != NULL ? write_output(o->output, armored, strlen(armored))
			     : write_output(o->output, cert, len);
	if (rr != 0) {
		r = pgp_fail("%s: %s (the certification is recorded in %s, record %llu; run the "
			     "export again)",
		    o->output != NULL ? o->output : "stdout",
		    rr == SG_ERR_SYSTEM ? strerror(errno) : sg_strerror(rr), c->audit_log,
		    (unsigned long long)seq);
		goto out;
	}
	openpgp_fpr_hex(k->pgp->fpr, fpr);
	sgtime_format(k->pgp_created, certified);
	cli_msg(pgp_cli.prog,
	    "key %s: OpenPGP key %s \"%s\", certified at %s; recorded in %s (record %llu)", k->name,
	    fpr, k->pgp_uid, certified, c->audit_log, (unsigned long long)seq);
	r = PGP_EXIT_OK;
out:
	if (a != NULL) {
		audit_close(a);
		log_files_give(&lf, c);
	}
	log_files_free(&lf);
	free(armored);
	free(cert);
	config_free(c);
	return r;
}

int
admin_openpgp_command(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "binary", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct export_opts o;
	int ch;

	if (argc < 1 || strcmp(argv[0], "export") != 0) {
		openpgp_usage(stderr);
		return PGP_EXIT_USAGE;
	}
	memset(&o, 0, sizeof(o));
	optind = 0; /* glibc: start afresh on the verb's arguments */
	while ((ch = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.config = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'b':
			o.binary = 1;
			break;
		default:
			return cli_getopt_default(&pgp_cli, ch, argv);
		}
	}
	if (o.config == NULL) {
		cli_msg(pgp_cli.prog, "openpgp export needs -c CONFIG (see --help)");
		return PGP_EXIT_USAGE;
	}
	if ((o.key = cli_one_operand(&pgp_cli, argc, argv, "KEY")) == NULL)
		return PGP_EXIT_USAGE;
	if (o.binary && o.output == NULL && isatty(STDOUT_FILENO)) {
		cli_msg(pgp_cli.prog,
		    "openpgp export --binary: not writing binary to a terminal; give -o FILE");
		return PGP_EXIT_USAGE;
	}
	return openpgp_export(&o);
}
