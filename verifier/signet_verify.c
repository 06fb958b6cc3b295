/*
 * signet-verify — the consumer's check of a signed artifact: given the
 * artifact, its signature (a file of its own, or inside the artifact for
 * Authenticode images and kernel modules), the result envelope that the
 * agent stored next to it (docs/protocol.md §9), trust anchors and the
 * agent's attestation key, it checks everything there is to check and
 * says what fails.
 *
 * Checks, in the order of their exit status (docs: man signet-verify):
 *
 *   attestation (4)  the envelope is a result signed by the agent key; the
 *                    payload parses, its status is signed, its signature is
 *                    the signature we were given: the signature file's
 *                    bytes, or the PKCS#7 embedded in a signed image or
 *                    appended to a signed module.  (The artifact's SHA-256
 *                    not being the attested one is reported as a signature
 *                    failure, exit 1.)
 *   signature (1)    the signature verifies over the artifact with the
 *                    certificate the result names (resultcheck.c).
 *   chain (3)        that certificate chains to the trust anchors, at the
 *                    time the agent signed.
 *   audit (5)        the result's audit record is the "signed" decision for
 *                    exactly this job and signature, and is in the agent's
 *                    Merkle tree (the inclusion proof).
 *   checkpoint (6)   with --checkpoint and --log: the signed checkpoint, and
 *                    the log, which must reproduce both the result's tree
 *                    and the checkpoint's.
 *
 * How the artifact is read depends on the result's format, which is taken
 * from the result before it is known to be attested (an unattested result
 * fails with 4 whatever else happens):
 *
 *   raw, cms          the artifact as signed; the signature is a file.
 *   authenticode      without --signature, the artifact is the signed image
 *                     (what submit-job writes): parsed strictly, its one
 *                     WIN_CERTIFICATE's PKCS#7 is the signature, and what
 *                     it must cover is the image's Authenticode digest.
 *                     artifact.sha256 names the image as it was submitted,
 *                     before the signature went in, and cannot be checked
 *                     from the signed image; the image digest inside the
 *                     attested signature takes its place.  With
 *                     --signature (the store's .p7), the artifact is the
 *                     image as submitted, and artifact.sha256 is checked.
 *   kmod              without --signature, the artifact is the signed
 *                     module: the PKCS#7 of its trailer is the signature;
 *                     with --signature (the store's .p7s), the module with
 *                     or without a trailer.  Either way artifact.sha256 is
 *                     the SHA-256 of the module without any signature, and
 *                     is checked.
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
#include <limits.h>
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
#include "modsig.h"
#include "pe.h"
#include "result.h"
#include "resultcheck.h"
#include "sgtime.h"
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
#define WHY_MAX     256                          /* bytes of a parser's or verifier's reason */
#define PROBLEM_MAX (PATH_MAX + WHY_MAX + 256)   /* bytes of what is wrong with the artifact */

struct options {
	const char *artifact;
	char *signature;     /* always allocated: as given, or the default */
	int signature_given; /* --signature was given */
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
	/* The result envelope file, and what it parses as before anything is
	 * verified (check_attestation() says whether to believe it): the
	 * format decides how the artifact and the signature are read. */
	char *envelope;
	size_t envelope_len;
	int envelope_too_large;
	struct dsse_envelope *env; /* NULL: not an envelope */
	struct sg_result *res;     /* NULL: the payload is not a result */
	int has_format;            /* res names a known format, in format */
	enum sg_format format;
	/* authenticode or kmod without --signature: the artifact is the signed
	 * file and the signature is the one inside it. */
	int embedded;
	/* The artifact.  has_sha256: sha256 is the digest that the result's
	 * artifact.sha256 names (the file's; for kmod, the module's without
	 * its signature), which cannot be computed from a signed image.
	 * covered: the digest the signature must cover (the file's SHA-256 for
	 * raw and cms, the image's Authenticode digest, the module's SHA-256
	 * without its signature).  problem: non-empty when the artifact cannot
	 * be checked at all (not a PE image or module, no signature in it);
	 * reported by the signature check. */
	uint8_t *file; /* the whole file, for authenticode and kmod */
	size_t file_len;
	int has_sha256;
	uint8_t sha256[SHA256_LEN];
	char sha256_hex[SHA256_HEX_LEN + 1];
	uint8_t covered[SHA256_LEN];
	char covered_hex[SHA256_HEX_LEN + 1];
	char problem[PROBLEM_MAX];
	/* The signature: the signature file's bytes, or a copy of the PKCS#7
	 * inside the artifact.  no_sig: the artifact holds none that can be
	 * taken out (problem says why). */
	uint8_t *sig;
	size_t sig_len;
	int sig_too_large; /* larger than any signature */
	int no_sig;
	char sig_sha256_hex[SHA256_HEX_LEN + 1];
	char *sig_name; /* "the signature file", "the signature embedded in X"... */
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
	      "signed checkpoint of the agent's audit log.  For authenticode and kmod\n"
	      "results, ARTIFACT is the signed image or module, which holds the signature.\n"
	      "\n"
	      "  -s, --signature FILE     signature file (default ARTIFACT.p7s if it\n"
	      "                           exists, else ARTIFACT.sig; for authenticode and\n"
	      "                           kmod, none: the signature inside ARTIFACT)\n"
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
	      "artifact (or ARTIFACT is not a signed image or module); 2 usage error or\n"
	      "unreadable file; 3 the certificate does not chain to the trust anchors;\n"
	      "4 the result is not attested by the agent key or does not go with this\n"
	      "signature; 5 the audit record or its inclusion proof; 6 the checkpoint or\n"
	      "the log.  With several failures, the status is that of the first in this\n"
	      "order: 4, 1, 3, 5, 6.\n",
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
		o->signature_given = 1;
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

/* What is wrong with the artifact (the first thing found), for the
 * signature check. */
static void set_problem(struct inputs *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
set_problem(struct inputs *in, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(in->problem, sizeof(in->problem), fmt, ap);
	va_end(ap);
}

/* The len bytes of the regular file fd, into a new buffer (caller frees).
 * 0, SG_ERR_ALLOC, or SG_ERR_SYSTEM with errno (EIO when it shrank). */
static int
read_fd_whole(int fd, size_t len, uint8_t **ret)
{
	uint8_t *buf;
	size_t off = 0;
	ssize_t n;

	*ret = NULL;
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		return SG_ERR_ALLOC;
	while (off < len) {
		n = read(fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			free(buf);
			return SG_ERR_SYSTEM;
		}
		off += (size_t)n;
	}
	*ret = buf;
	return 0;
}

/* The signature taken out of the artifact: copied, so that it is freed
 * like a signature file. */
static int
take_signature(struct inputs *in, const uint8_t *sig, size_t sig_len)
{
	if (sig_len > RESULT_SIGNATURE_MAX) {
		in->sig_too_large = 1;
		return 0;
	}
	if ((in->sig = malloc(sig_len > 0 ? sig_len : 1)) == NULL)
		return SG_ERR_ALLOC;
	memcpy(in->sig, sig, sig_len);
	in->sig_len = sig_len;
	return 0;
}

/*
 * The artifact of an authenticode or kmod result, read whole from the open
 * in->artifact_fd (st_size bytes): the digests, and when in->embedded the
 * signature inside it.  What makes the file unfit for the check (too
 * large, not a PE image or kernel module, no signature in it) goes to
 * in->problem and is reported by the signature check (exit 1).  0 or
 * SV_EXIT_USAGE (reported).
 */
static int
read_signed_file(const struct options *o, off_t st_size, struct inputs *in)
{
	char why[WHY_MAX];
	struct pe_image img;
	const uint8_t *sig = NULL;
	size_t max, sig_len = 0, unsigned_len = 0;
	int is_pe = in->format == SG_FORMAT_AUTHENTICODE, is_signed = 0, r;

	max = is_pe ? PE_IMAGE_MAX : MODSIG_MODULE_MAX;
	in->no_sig = in->embedded; /* until one is found */
	if (st_size < 0 || (uint64_t)st_size > max) {
		set_problem(in, "%s is larger than any %s signet signs (%zu bytes)", o->artifact,
		    is_pe ? "PE image" : "kernel module", max);
		return 0;
	}
	if ((r = read_fd_whole(in->artifact_fd, (size_t)st_size, &in->file)) != 0) {
		sv_msg("cannot read %s: %s", o->artifact,
		    r == SG_ERR_SYSTEM ? strerror(errno) : sg_strerror(r));
		return SV_EXIT_USAGE;
	}
	in->file_len = (size_t)st_size;

	if (is_pe) {
		if (pe_parse(in->file, in->file_len, &img, why, sizeof(why)) != 0) {
			set_problem(in,
			    "%s is not a PE image (the result is for an authenticode "
			    "signature): %s",
			    o->artifact, why);
			return 0;
		}
		if (pe_authenticode_digest(in->file, &img, in->covered) != 0) {
			sv_msg("cannot hash %s: %s", o->artifact,
			    sg_strerror(crypto_err(SG_ERR_CRYPTO)));
			return SV_EXIT_USAGE;
		}
		hex_encode(in->covered, SHA256_LEN, in->covered_hex);
		if (!in->embedded) {
			/* The image as submitted: what artifact.sha256 names. */
			crypto_sha256(in->file, in->file_len, in->sha256);
			hex_encode(in->sha256, SHA256_LEN, in->sha256_hex);
			in->has_sha256 = 1;
			return 0;
		}
		if (!img.is_signed) {
			set_problem(in,
			    "%s carries no Authenticode signature (an image as it was "
			    "submitted is checked with --signature and the store's .p7)",
			    o->artifact);
			return 0;
		}
		/* submit-job embeds one; anything after it would be data that
		 * no signature covers. */
		if (img.ncerts != 1) {
			set_problem(in,
			    "%s carries %u certificate table entries, not the one that "
			    "signet embeds",
			    o->artifact, img.ncerts);
			return 0;
		}
		if (pe_signature(in->file, &img, &sig, &sig_len) != 0) {
			set_problem(in,
			    "%s: its certificate table does not hold one DER SignedData",
			    o->artifact);
			return 0;
		}
	} else {
		if (modsig_split(in->file, in->file_len, &unsigned_len, &is_signed, &sig, &sig_len,
			why, sizeof(why)) != 0) {
			set_problem(in,
			    "%s is not a kernel module (the result is for a kmod "
			    "signature): %s",
			    o->artifact, why);
			return 0;
		}
		/* docs/protocol.md §4: artifact.sha256 is the module's without
		 * any signature, and that is what the signature covers. */
		crypto_sha256(in->file, unsigned_len, in->sha256);
		hex_encode(in->sha256, SHA256_LEN, in->sha256_hex);
		memcpy(in->covered, in->sha256, SHA256_LEN);
		memcpy(in->covered_hex, in->sha256_hex, sizeof(in->covered_hex));
		in->has_sha256 = 1;
		if (!in->embedded)
			return 0;
		if (!is_signed) {
			set_problem(in,
			    "%s carries no module signature (a module without one is "
			    "checked with --signature and the store's .p7s)",
			    o->artifact);
			return 0;
		}
	}
	if (take_signature(in, sig, sig_len) != 0) {
		sv_msg("out of memory");
		return SV_EXIT_USAGE;
	}
	in->no_sig = 0;
	return 0;
}

/* Parses the result envelope, unverified, for the format (see above). */
static void
peek_result(struct inputs *in)
{
	if (in->envelope_too_large || envelope_parse(in->envelope, in->envelope_len, &in->env) != 0)
		return;
	if (strcmp(in->env->payload_type, PAYLOAD_TYPE_RESULT) != 0 ||
	    result_parse(in->env->payload, in->env->payload_len, &in->res) != 0)
		return;
	if (in->res->format != NULL && sg_format_parse(in->res->format, &in->format) == 0)
		in->has_format = 1;
}

/*
 * Reads everything the checks need.  Files that cannot be read at all, and
 * keys or anchors that are not valid PEM, are usage errors (exit 2); a file
 * that is merely larger than what it claims to be, or that is not what the
 * result's format needs, is read as a failure of its check.  0 or
 * SV_EXIT_USAGE (reported).
 */
static int
read_inputs(const struct options *o, struct inputs *in)
{
	struct stat st;
	uint8_t h[SHA256_LEN];
	char *sig = NULL;
	int fd, r, whole;

	in->artifact_fd = -1;
	if ((in->artifact_fd = open(o->artifact, O_RDONLY | O_CLOEXEC)) == -1) {
		sv_msg("cannot open %s: %s", o->artifact, strerror(errno));
		return SV_EXIT_USAGE;
	}
	if (fstat(in->artifact_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		sv_msg("%s is not a regular file", o->artifact);
		return SV_EXIT_USAGE;
	}

	r = read_file(o->result, ENVELOPE_MAX_BYTES, &in->envelope, &in->envelope_len);
	if (r == SG_ERR_LIMIT) {
		in->envelope_too_large = 1;
	} else if (r != 0) {
		read_error("result", o->result, r);
		return SV_EXIT_USAGE;
	}
	peek_result(in);

	whole = in->has_format &&
	    (in->format == SG_FORMAT_AUTHENTICODE || in->format == SG_FORMAT_KMOD);
	in->embedded = whole && !o->signature_given;
	if (whole) {
		if ((r = read_signed_file(o, st.st_size, in)) != 0)
			return r;
	} else {
		if ((r = crypto_sha256_fd(in->artifact_fd, in->sha256, NULL)) != 0) {
			sv_msg("cannot read %s: %s", o->artifact, sg_strerror(r));
			return SV_EXIT_USAGE;
		}
		hex_encode(in->sha256, SHA256_LEN, in->sha256_hex);
		memcpy(in->covered, in->sha256, SHA256_LEN);
		memcpy(in->covered_hex, in->sha256_hex, sizeof(in->covered_hex));
		in->has_sha256 = 1;
	}

	if (in->embedded) {
		r = asprintf(&in->sig_name, "the signature %s %s",
		    in->format == SG_FORMAT_AUTHENTICODE ? "embedded in" : "appended to",
		    o->artifact);
		if (r < 0)
			in->sig_name = NULL;
	} else {
		in->sig_name = xstrdup("the signature file");
		r = read_file(o->signature, RESULT_SIGNATURE_MAX, &sig, &in->sig_len);
		if (r == SG_ERR_LIMIT) {
			in->sig_too_large = 1;
			in->sig_len = 0;
		} else if (r != 0 && !o->signature_given && in->has_format) {
			/* Say why a file was looked for: an image or module signed
			 * by signet comes with the result of another format. */
			sv_msg("cannot read signature file %s: %s; a %s signature is a file of its "
			       "own, give it with --signature (only authenticode and kmod results "
			       "are checked against the signed file alone)",
			    o->signature,
			    r == SG_ERR_SYSTEM ? "not a readable regular file" : sg_strerror(r),
			    sg_format_name(in->format));
			return SV_EXIT_USAGE;
		} else if (r != 0) {
			read_error("signature file", o->signature, r);
			return SV_EXIT_USAGE;
		} else {
			in->sig = (uint8_t *)sig;
		}
	}
	if (in->sig_name == NULL) {
		sv_msg("out of memory");
		return SV_EXIT_USAGE;
	}
	if (in->sig != NULL) {
		crypto_sha256(in->sig, in->sig_len, h);
		hex_encode(h, SHA256_LEN, in->sig_sha256_hex);
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
	free(in->file);
	free(in->sig);
	free(in->sig_name);
	free(in->envelope);
	result_free(in->res);
	envelope_free(in->env);
	free(in->checkpoint);
	EVP_PKEY_free(in->agent);
	sk_X509_pop_free(in->anchors, X509_free);
}

/*
 * attestation: the envelope, its signature by the agent key, the payload,
 * the signature we hold.  Returns the parsed result (in->res, borrowed)
 * whenever the payload parses as a signed result (even when the envelope
 * is not attested: the other checks still run, and the exit status is
 * already 4), NULL when there is nothing to check against.
 */
static const struct sg_result *
check_attestation(const struct inputs *in)
{
	const struct sg_result *res = in->res;
	char e1[ESCAPED_MAX], e2[ESCAPED_MAX];
	int attested;

	if (in->envelope_too_large) {
		fail(SV_EXIT_ATTESTATION, "attestation",
		    "the result file is larger than an envelope may be (%d bytes)",
		    ENVELOPE_MAX_BYTES);
		return NULL;
	}
	if (in->env == NULL) {
		fail(SV_EXIT_ATTESTATION, "attestation", "the result file is not a DSSE envelope");
		return NULL;
	}
	if (strcmp(in->env->payload_type, PAYLOAD_TYPE_RESULT) != 0) {
		fail(SV_EXIT_ATTESTATION, "attestation", "the envelope holds a %s, not a result",
		    shown(in->env->payload_type, e1));
		return NULL;
	}
	attested = verify_envelope_attested(in->env, in->agent, in->agent_keyid);
	if (!attested)
		fail(SV_EXIT_ATTESTATION, "attestation",
		    "the result is not signed by the agent key %s", in->agent_keyid);
	if (res == NULL) {
		/* Unattested garbage needs no second line. */
		if (attested)
			fail(SV_EXIT_ATTESTATION, "attestation",
			    "the attested payload is not a valid result");
		return NULL;
	}
	if (res->status == SG_STATUS_PENDING) {
		/* A job waiting for approvals: no signature yet (signet-approve). */
		fail(SV_EXIT_ATTESTATION, "attestation",
		    "the result is pending approvals (%zu of %u), not signed", res->napprovals,
		    res->approvals_required);
		return NULL;
	}
	if (res->status != SG_STATUS_SIGNED) {
		fail(SV_EXIT_ATTESTATION, "attestation", "the result is %s (%s: %s), not signed",
		    sg_status_name(res->status), shown(res->error_code, e1),
		    shown(res->error_message, e2));
		return NULL;
	}
	/* With no signature in the artifact there is nothing to compare: the
	 * signature check says why. */
	if (in->no_sig)
		return res;
	if (in->sig_too_large)
		fail(SV_EXIT_ATTESTATION, "attestation",
		    "%s is larger than any signature (%d bytes)", in->sig_name,
		    RESULT_SIGNATURE_MAX);
	else if (in->sig_len != res->signature.len ||
	    memcmp(in->sig, res->signature.data, in->sig_len) != 0)
		fail(SV_EXIT_ATTESTATION, "attestation",
		    "%s is not the signature the agent attested for job %s", in->sig_name, res->id);
	return res;
}

/* signature: the artifact is the attested one and the signature covers it
 * (resultcheck.c), with the result's certificate. */
static void
check_signature(const struct options *o, const struct inputs *in, const struct sg_result *res)
{
	struct sg_result copy;
	enum sg_format format;
	const char *why = NULL;

	if (in->problem[0] != '\0') {
		fail(SV_EXIT_SIGNATURE, "signature", "%s", in->problem);
		return;
	}
	if (res->format == NULL || sg_format_parse(res->format, &format) != 0) {
		fail(SV_EXIT_SIGNATURE, "signature", "the result names no known format");
		return;
	}
	if (format == SG_FORMAT_OPENPGP) {
		fail(SV_EXIT_SIGNATURE, "signature",
		    "an OpenPGP signature is checked with gpgv or sqv and the key's OpenPGP "
		    "certificate (docs/openpgp.md); signet-verify checks raw, cms, authenticode "
		    "and kmod");
		return;
	}
	/* (in->format is this result's format: both come from in->res.) */
	if (in->has_sha256 && CRYPTO_memcmp(in->sha256, res->artifact.sha256, SHA256_LEN) != 0) {
		if (format == SG_FORMAT_KMOD)
			fail(SV_EXIT_SIGNATURE, "signature",
			    "%s is not the signed module: without its signature its SHA-256 is "
			    "%s, the result's %s",
			    o->artifact, in->sha256_hex, res->artifact.sha256_hex);
		else if (format == SG_FORMAT_AUTHENTICODE)
			fail(SV_EXIT_SIGNATURE, "signature",
			    "%s is not the image that was submitted: its SHA-256 is %s, the "
			    "result's %s (a signed image is checked without --signature)",
			    o->artifact, in->sha256_hex, res->artifact.sha256_hex);
		else
			fail(SV_EXIT_SIGNATURE, "signature",
			    "%s is not the signed artifact: its SHA-256 is %s, the result's %s",
			    o->artifact, in->sha256_hex, res->artifact.sha256_hex);
		return;
	}
	if (in->sig_too_large) {
		fail(SV_EXIT_SIGNATURE, "signature", "%s is too large to check", in->sig_name);
		return;
	}
	/* Check the signature we were given, not the copy in the result (they
	 * are the same when the attestation check passed). */
	copy = *res;
	copy.signature.data = in->sig;
	copy.signature.len = in->sig_len;
	if (verify_result_signature(&copy, format, in->covered, &why) == 0)
		return;
	if (format == SG_FORMAT_AUTHENTICODE)
		fail(SV_EXIT_SIGNATURE, "signature",
		    "the Authenticode signature does not cover %s, whose image digest is %s: %s",
		    o->artifact, in->covered_hex, why);
	else if (format == SG_FORMAT_KMOD)
		fail(SV_EXIT_SIGNATURE, "signature",
		    "the module signature does not cover %s, whose SHA-256 without signature is "
		    "%s: %s",
		    o->artifact, in->covered_hex, why);
	else
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
 * signature.  NULL, or what is wrong. */
static const char *
record_mismatch(const struct inputs *in, const struct sg_result *res)
{
	cJSON *rec = NULL;
	const char *why = NULL;
	const char *sig_hex = in->sig_sha256_hex;
	char attested_hex[SHA256_HEX_LEN + 1];
	uint8_t h[SHA256_LEN];
	unsigned flags = 0;
	int64_t seq;

	/* No signature could be taken out of the artifact (the signature
	 * check says why): the record is held to the attested one. */
	if (in->no_sig) {
		crypto_sha256(res->signature.data, res->signature.len, h);
		hex_encode(h, SHA256_LEN, attested_hex);
		sig_hex = attested_hex;
	}

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
	else if (in->sig_too_large || !record_string_is(rec, "signature_sha256", sig_hex))
		why = in->embedded
		    ? "the audit record's signature_sha256 is not the SHA-256 of the "
		      "signature in the artifact"
		    : "the audit record's signature_sha256 is not the signature "
		      "file's SHA-256";
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

/*
 * What the success line adds for the formats whose signature is inside the
 * artifact, or whose digest is not the file's: what the signature covers,
 * and for a signed image that artifact.sha256 was not checked.
 */
static void
print_covered(const struct inputs *in)
{
	if (!in->has_format)
		return;
	switch (in->format) {
	case SG_FORMAT_AUTHENTICODE:
		if (in->embedded)
			printf("; the embedded Authenticode signature covers image digest %s (the "
			       "result's artifact.sha256 names the image before signing and is not "
			       "checked)",
			    in->covered_hex);
		else
			printf(
			    "; the Authenticode signature covers image digest %s", in->covered_hex);
		break;
	case SG_FORMAT_KMOD:
		if (in->embedded)
			printf("; the appended module signature covers the module without it, "
			       "SHA-256 %s as in artifact.sha256",
			    in->covered_hex);
		else
			printf("; the module signature covers the module without any signature, "
			       "SHA-256 %s as in artifact.sha256",
			    in->covered_hex);
		break;
	default:
		break;
	}
}

static int
run(const struct options *o)
{
	struct inputs in;
	const struct sg_result *res = NULL;
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
		print_covered(&in);
		if (printf("\n") < 0 || fflush(stdout) != 0) {
			sv_msg("cannot write to stdout: %s", strerror(errno));
			ex = SV_EXIT_USAGE;
		}
	}
out:
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
