/*
 * submit-job — hash an artifact, build and sign a job, push it to the
 * queue, wait for the agent's result, verify it and write the signature
 * (docs/submit-job.md).
 *
 * Order of work: everything that can be a usage or configuration error
 * (options, URL, FILE, keys, password file, output directory) is checked
 * before Redis is touched, so exit status 2 never leaves a job behind.
 * The identity key is freed (and so wiped) as soon as the job is signed.
 *
 * Redis is hostile (docs/protocol.md §1, docs/protocol.md §7): any value under our result key may be a
 * forgery.  A result counts only when its envelope is a result signed by
 * the pinned agent key, it names our job id and it carries the SHA-256 of
 * our exact job payload; anything else is ignored (with a few warnings)
 * and we go on waiting until the deadline.  An attested, bound rejection
 * with an envelope.* code is not an answer either: it says only that some
 * envelope carrying our payload failed docs/protocol.md §2, which anyone who can write
 * to Redis can cause (delete our entry, push our payload with a broken
 * signature); we say so once and wait for the answer to our own envelope
 * (docs/protocol.md §7).  A signature file is written only after we have verified it
 * ourselves against the artifact.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "b64.h"
#include "client.h"
#include "crypto.h"
#include "envelope.h"
#include "err.h"
#include "job.h"
#include "log.h"
#include "queue.h"
#include "result.h"
#include "sgtime.h"
#include "submitter.h"
#include "util.h"

#define PROG SJ_PROG

#define WAIT_DEFAULT_S     300
#define LIFETIME_DEFAULT_S 600
#define LIFETIME_MAX_S     604800 /* --lifetime upper bound: 7 days, for keys with approvals */
#define JOB_ID_BYTES       16     /* 128 random bits */
#define MAX_QUEUE_DEFAULT  10000  /* entries in the stream before submit-job refuses */
#define REPLICAS_MAX       16
#define REPLICAS_WAIT_MS   5000 /* how long WAIT waits for the replicas */
#define NAME_SHOWN_MAX     128  /* bytes of an approver or webhook name shown */
#define PROGRESS_MAX       8192 /* bytes of a "waiting for approvals" line */

struct options {
	struct client_opts c; /* the options signet-approve takes too */
	char *file;
	char *key;
	enum sg_format format;
	char *output;
	char *name;
	char *ci_token_file; /* --ci-token-file, or NULL */
	int replace_signature;
	int armor, text, clearsign; /* openpgp output forms */
	char *description;          /* authenticode's SpcSpOpusInfo, or NULL */
	char *url;
	char *result_out; /* --result-out: the verified result envelope, or NULL */
	int print_keyid;  /* --print-keyid: print the identity's keyid and exit */
	uint64_t lifetime_s;
	uint64_t max_queue; /* refuse when the stream is longer (0: no bound) */
	uint64_t replicas;  /* WAIT for this many replicas (0: do not wait) */
};

static void
usage(FILE *f)
{
	fputs("usage: " PROG " [options] FILE\n"
	      "\n"
	      "Hash FILE, build and sign a job, push it to the signet queue, wait for the\n"
	      "agent's result, verify it and write the signature.\n"
	      "\n"
	      "  -k, --key NAME              signing key name (required)\n"
	      "  -f, --format FORMAT         raw, cms (the default), authenticode (Windows PE\n"
	      "                              and UEFI images), kmod (Linux kernel modules) or\n"
	      "                              openpgp (a detached OpenPGP signature)\n"
	      "  -i, --identity PATH         submitter private key, PEM (env SIGNET_IDENTITY)\n"
	      "      --cert PATH             submitter certificate for that key, PEM, sent\n"
	      "                              with the signature (env SIGNET_CERT)\n"
	      "  -r, --redis URL             redis://[user:password@]host:port[/db] or\n"
	      "                              unix:///path (env SIGNET_REDIS)\n"
	      "  -a, --agent-pubkey PATH     agent attestation public key, PEM\n"
	      "                              (env SIGNET_AGENT_PUBKEY; not needed with -w 0)\n"
	      "  -o, --output PATH           signature file (default FILE.sig for raw and\n"
	      "                              openpgp, FILE.p7s for cms, FILE.asc with --armor\n"
	      "                              or --clearsign); for authenticode and kmod the\n"
	      "                              signed file (default: FILE itself, replaced)\n"
	      "      --armor                 openpgp: an ASCII-armored signature\n"
	      "      --text                  openpgp: a text signature (line endings as CR LF)\n"
	      "      --clearsign             openpgp: FILE cleartext-signed (APT's InRelease)\n"
	      "      --replace-signature     sign an image or module that is already signed,\n"
	      "                              replacing its signature\n"
	      "      --description TEXT      authenticode: the program description shown\n"
	      "                              by Windows (at most 256 bytes)\n"
	      "      --url URL               authenticode: its \"more information\" "
	      "URL\n" CLIENT_QUEUE_OPTIONS_USAGE
	      "  -w, --wait SECONDS          how long to wait for the result (default 300,\n"
	      "                              at most 86400); 0 submits, prints the job id, exits\n"
	      "      --name NAME             artifact name (default: FILE's base name)\n"
	      "      --ci-token-file PATH    the CI system's identity token (a JWT) to send as\n"
	      "                              the job's ci_token (env SIGNET_CI_TOKEN: the token)\n"
	      "      --lifetime SECONDS      the job expires this long after it is created\n"
	      "                              (default 600, 1..604800; the agent has its own\n"
	      "                              maximum, longer for keys that require approvals)\n"
	      "      --max-queue N           refuse (exit 4) when the queue already holds N\n"
	      "                              jobs (default 10000; 0: no bound; env "
	      "SIGNET_MAX_QUEUE)\n"
	      "      --replicas N            after pushing, WAIT until N Redis replicas hold the\n"
	      "                              job (5 s; else exit 4; env SIGNET_REPLICAS)\n"
	      "      --json                  print the verified result payload on stdout\n"
	      "      --result-out PATH       also write the verified result envelope (for\n"
	      "                              signet-verify and archives), whatever its status\n"
	      "      --print-keyid           print the identity's keyid (for the agent's\n"
	      "                              policy) and exit; no FILE\n"
	      "                              (with -w 0: {\"id\": \"...\"})\n",
	    f);
	fputs("  -h, --help                  this text\n"
	      "      --version               print the version\n"
	      "\n"
	      "Options override environment variables; an empty variable counts as unset.\n"
	      "The job's \"ci\" member comes from the CI system's environment: GitLab\n"
	      "(CI_PROJECT_PATH, CI_PIPELINE_ID, CI_JOB_ID, CI_COMMIT_SHA,\n"
	      "CI_COMMIT_REF_NAME, CI_JOB_URL), Jenkins (JOB_NAME, BUILD_NUMBER as pipeline,\n"
	      "STAGE_NAME as job, GIT_COMMIT, BRANCH_NAME or GIT_BRANCH, BUILD_URL), GitHub\n"
	      "Actions (GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_JOB, GITHUB_SHA, GITHUB_REF,\n"
	      "run URL), else \"local\". Values over 512 bytes or with control characters\n"
	      "are left out with a warning. These are what the submitter says; a key may\n"
	      "require a ci_token, the CI system's signed identity token (GitLab id_tokens,\n"
	      "GitHub Actions OIDC), which the agent verifies. The token is never printed.\n"
	      "\n"
	      "Exit status: 0 signed and verified; 1 rejected or failed by the agent\n"
	      "(an envelope.* rejection, which anyone who can write to Redis can cause, is\n"
	      "reported and waited past); 2 usage or configuration error; 3 timed out;\n"
	      "4 queue or other infrastructure error; 5 the agent's signature does not\n"
	      "match the artifact or certificate (nothing is written).  A job for a key that\n"
	      "requires approvals is pending until approvers answer (signet-approve): the\n"
	      "wait goes on, with a line on stderr whenever an approval comes in.\n",
	    f);
}

static const struct cli cli = { .prog = PROG, .usage = usage };

enum {
	OPT_NAME = CLIENT_OPT_NEXT,
	OPT_LIFETIME,
	OPT_MAX_QUEUE,
	OPT_REPLICAS,
	OPT_CI_TOKEN_FILE,
	OPT_REPLACE_SIGNATURE,
	OPT_DESCRIPTION,
	OPT_URL,
	OPT_ARMOR,
	OPT_TEXT,
	OPT_CLEARSIGN,
	OPT_RESULT_OUT,
	OPT_PRINT_KEYID,
};

static const struct option long_options[] = {
	{ "key", required_argument, NULL, 'k' },
	{ "format", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "lifetime", required_argument, NULL, OPT_LIFETIME },
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "replicas", required_argument, NULL, OPT_REPLICAS },
	{ "ci-token-file", required_argument, NULL, OPT_CI_TOKEN_FILE },
	{ "replace-signature", no_argument, NULL, OPT_REPLACE_SIGNATURE },
	{ "description", required_argument, NULL, OPT_DESCRIPTION },
	{ "url", required_argument, NULL, OPT_URL },
	{ "armor", no_argument, NULL, OPT_ARMOR },
	{ "text", no_argument, NULL, OPT_TEXT },
	{ "clearsign", no_argument, NULL, OPT_CLEARSIGN },
	{ "result-out", required_argument, NULL, OPT_RESULT_OUT },
	{ "print-keyid", no_argument, NULL, OPT_PRINT_KEYID },
	CLIENT_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

/*
 * Fills *o from argv and the environment.  Returns -1 to go on, or the exit
 * status (0 after --help/--version, 2 after a usage error, reported).
 */
static int
parse_options(int argc, char **argv, struct options *o)
{
	const char *format = NULL, *wait = NULL, *lifetime = NULL;
	const char *max_queue = NULL, *replicas = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while (
	    (c = getopt_long(argc, argv, ":k:f:o:" CLIENT_OPTSTRING, long_options, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->key = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case OPT_LIFETIME:
			lifetime = optarg;
			break;
		case OPT_MAX_QUEUE:
			max_queue = optarg;
			break;
		case OPT_REPLICAS:
			replicas = optarg;
			break;
		case OPT_CI_TOKEN_FILE:
			o->ci_token_file = optarg;
			break;
		case OPT_REPLACE_SIGNATURE:
			o->replace_signature = 1;
			break;
		case OPT_DESCRIPTION:
			o->description = optarg;
			break;
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_ARMOR:
			o->armor = 1;
			break;
		case OPT_TEXT:
			o->text = 1;
			break;
		case OPT_RESULT_OUT:
			o->result_out = optarg;
			break;
		case OPT_PRINT_KEYID:
			o->print_keyid = 1;
			break;
		case OPT_CLEARSIGN:
			o->clearsign = 1;
			break;
		default:
			if (!client_option(&o->c, c, optarg, &wait))
				return cli_getopt_default(&cli, c, argv);
		}
	}
	/* --print-keyid needs only the identity (docs/submit-job.md). */
	if (o->print_keyid) {
		if (optind != argc) {
			sj_msg("--print-keyid takes no FILE");
			return SJ_EXIT_USAGE;
		}
		return client_print_keyid(&o->c);
	}
	if ((o->file = cli_one_operand(&cli, argc, argv, "FILE")) == NULL)
		return SJ_EXIT_USAGE;

	max_queue = cli_opt_or_env(max_queue, "SIGNET_MAX_QUEUE");
	replicas = cli_opt_or_env(replicas, "SIGNET_REPLICAS");
	o->max_queue = MAX_QUEUE_DEFAULT;
	if (max_queue != NULL && parse_u64(max_queue, UINT32_MAX, &o->max_queue) != 0) {
		sj_msg("invalid --max-queue: a number of entries (0 for no bound)");
		return SJ_EXIT_USAGE;
	}
	o->replicas = 0;
	if (replicas != NULL && parse_u64(replicas, REPLICAS_MAX, &o->replicas) != 0) {
		sj_msg("invalid --replicas: 0 to %d", REPLICAS_MAX);
		return SJ_EXIT_USAGE;
	}

	if (o->key == NULL) {
		sj_msg("missing --key");
		return SJ_EXIT_USAGE;
	}
	if (*o->key == '\0' || !sj_string_ok(o->key, strlen(o->key), JOB_KEY_MAX)) {
		sj_msg("invalid --key: 1 to %d bytes of UTF-8 without control characters",
		    JOB_KEY_MAX);
		return SJ_EXIT_USAGE;
	}
	o->format = SG_FORMAT_CMS;
	if (format != NULL && sg_format_parse(format, &o->format) != 0) {
		sj_msg("invalid --format: raw, cms, authenticode, kmod or openpgp");
		return SJ_EXIT_USAGE;
	}
	if ((o->armor || o->text || o->clearsign) && o->format != SG_FORMAT_OPENPGP) {
		sj_msg("--armor, --text and --clearsign go with --format openpgp only");
		return SJ_EXIT_USAGE;
	}
	if ((o->description != NULL || o->url != NULL) && o->format != SG_FORMAT_AUTHENTICODE) {
		sj_msg("--description and --url go with --format authenticode only");
		return SJ_EXIT_USAGE;
	}
	if (o->description != NULL &&
	    (*o->description == '\0' ||
		!sj_string_ok(
		    o->description, strlen(o->description), AUTHENTICODE_DESCRIPTION_MAX) ||
		job_check_authenticode_description(o->description, strlen(o->description)) != 0)) {
		sj_msg("invalid --description: 1 to %d bytes of UTF-8 text, no control characters, "
		       "no characters beyond U+FFFF",
		    AUTHENTICODE_DESCRIPTION_MAX);
		return SJ_EXIT_USAGE;
	}
	if (o->url != NULL && job_check_authenticode_url(o->url, strlen(o->url)) != 0) {
		sj_msg("invalid --url: 1 to %d printable ASCII characters without spaces",
		    AUTHENTICODE_URL_MAX);
		return SJ_EXIT_USAGE;
	}
	if (o->replace_signature && !sj_embeds(o->format)) {
		sj_msg("--replace-signature goes with --format authenticode or kmod only");
		return SJ_EXIT_USAGE;
	}
	o->lifetime_s = LIFETIME_DEFAULT_S;
	if (lifetime != NULL &&
	    (parse_u64(lifetime, LIFETIME_MAX_S, &o->lifetime_s) != 0 || o->lifetime_s < 1)) {
		sj_msg("invalid --lifetime: seconds from 1 to %d", LIFETIME_MAX_S);
		return SJ_EXIT_USAGE;
	}
	return client_options_finish(
	    &o->c, wait, WAIT_DEFAULT_S, CLIENT_NEED_IDENTITY | CLIENT_NEED_AGENT_TO_WAIT);
}

/* The artifact name: --name, else what follows the last '/' of FILE. */
static char *
artifact_name(const struct options *o)
{
	char *slash;

	if (o->name != NULL)
		return o->name;
	slash = strrchr(o->file, '/');
	return slash != NULL ? slash + 1 : o->file;
}

/* Checks that the output file's directory is writable.  0 or -1. */
static int
check_output_dir(const char *path)
{
	char *copy;
	int ok;

	if ((copy = xstrdup(path)) == NULL)
		return -1;
	ok = access(dirname(copy), W_OK | X_OK) == 0;
	free(copy);
	return ok ? 0 : -1;
}

/* Checks a signed result's claims against our job: SJ_EXIT_OK or
 * SJ_EXIT_MISMATCH with the reason in *ret_why. */
static int
check_signed_binding(const struct sg_result *res, const struct sg_job *job, const char **ret_why)
{
	const char *fmt = sg_format_name(job->format);

	if (res->key == NULL || strcmp(res->key, job->key) != 0) {
		*ret_why = "the result names another signing key";
		return SJ_EXIT_MISMATCH;
	}
	if (res->format == NULL || fmt == NULL || strcmp(res->format, fmt) != 0) {
		*ret_why = "the result names another format";
		return SJ_EXIT_MISMATCH;
	}
	if (!res->has_artifact || res->artifact.name == NULL ||
	    strcmp(res->artifact.name, job->artifact.name) != 0 ||
	    memcmp(res->artifact.sha256, job->artifact.sha256, SHA256_LEN) != 0 ||
	    strcmp(res->artifact.sha256_hex, job->artifact.sha256_hex) != 0 ||
	    res->artifact.size != job->artifact.size) {
		*ret_why = "the result names another artifact";
		return SJ_EXIT_MISMATCH;
	}
	return SJ_EXIT_OK;
}

/* A compact JWS: base64url parts separated by dots, nothing else (the
 * agent checks the rest; this only keeps other text out of the job). */
static int
ci_token_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > JOB_CI_TOKEN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/*
 * The CI identity token to send: the file named by --ci-token-file (one
 * trailing newline dropped), else SIGNET_CI_TOKEN, else none (*ret NULL).
 * It is a bearer credential: never printed, wiped when freed.  Caller frees
 * with freezero(*ret, strlen(*ret)).  Prints why on failure.
 */
static int
load_ci_token(const struct options *o, char **ret)
{
	const char *env = getenv("SIGNET_CI_TOKEN"), *what;
	char *buf = NULL;
	size_t len = 0;
	int r;

	*ret = NULL;
	if (o->ci_token_file != NULL) {
		what = "the --ci-token-file";
		if ((r = read_file(o->ci_token_file, JOB_CI_TOKEN_MAX + 2, &buf, &len)) != 0) {
			sj_msg("cannot read --ci-token-file %s: %s", o->ci_token_file,
			    r == SG_ERR_LIMIT ? "larger than a token may be" : sg_strerror(r));
			return r;
		}
		if (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
	} else if (env != NULL && *env != '\0') {
		what = "SIGNET_CI_TOKEN";
		len = strlen(env);
		if ((buf = xstrdup(env)) == NULL)
			return SG_ERR_ALLOC;
	} else {
		return 0;
	}
	if (strlen(buf) != len || !ci_token_ok(buf, len)) {
		sj_msg("%s does not hold a CI identity token (a JWT: base64url parts separated "
		       "by dots, 1 to %d bytes); not sent",
		    what, JOB_CI_TOKEN_MAX);
		freezero(buf, len + 1);
		return SG_ERR_CONFIG;
	}
	*ret = buf;
	return 0;
}

/* Builds, serializes and self-checks the job payload. */
static int
build_job(const struct options *o, char *name, const uint8_t digest[SHA256_LEN], uint64_t size,
    char *ci_token, struct sg_authenticode *authenticode, struct sg_openpgp *pgp,
    struct sg_job *job, char **ret_payload, size_t *ret_len)
{
	uint8_t rnd[JOB_ID_BYTES];
	int r = SG_ERR_INTERNAL;

	*ret_payload = NULL;
	*ret_len = 0;
	memset(job, 0, sizeof(*job));
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		r = crypto_err(SG_ERR_CRYPTO);
		goto out;
	}
	job->v = 1;
	hex_encode(rnd, sizeof(rnd), job->id);
	job->created = sgtime_now();
	job->expires = job->created + (int64_t)o->lifetime_s;
	job->key = o->key;
	job->format = o->format;
	/* Borrowed, like key: the job is never job_free()d, only its ci. */
	job->artifact.name = name;
	memcpy(job->artifact.sha256, digest, SHA256_LEN);
	hex_encode(digest, SHA256_LEN, job->artifact.sha256_hex);
	job->artifact.size = size;
	if ((r = ci_from_env(&job->ci)) != 0)
		goto out;
	job->ci_token = ci_token; /* borrowed too */
	if (o->format == SG_FORMAT_AUTHENTICODE)
		job->authenticode = authenticode; /* borrowed */
	if (o->format == SG_FORMAT_OPENPGP)
		job->openpgp = pgp; /* borrowed */
	/* job_serialize() checks its output with job_parse(), so we never
	 * send a job that the agent's parser would refuse. */
	if ((r = job_serialize(job, ret_payload, ret_len)) != 0)
		goto out;
	r = 0;
out:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return r;
}

/* What one run of submit-job holds, phase to phase. */
struct run {
	const struct options *o;
	char *name;                 /* the artifact name (borrowed from o or FILE) */
	char *output;               /* where the signature goes, or NULL (-w 0) */
	uint8_t digest[SHA256_LEN]; /* the artifact's SHA-256 */
	uint64_t size;
	struct embed embed; /* authenticode, kmod: FILE and what is signed */
	struct sg_authenticode authenticode;
	struct sg_openpgp pgp; /* openpgp: the job's member */
	EVP_PKEY *identity, *agent;
	char *ci_token;
	struct sg_job job;
	char *payload, *env; /* the job and its envelope */
	size_t payload_len, env_len;
	struct queue *q;
	char entry_id[QUEUE_ENTRY_ID_MAX + 1]; /* the XADD's stream entry id */
	struct waiter w;
	struct sg_result *res;
	uint8_t *res_payload;
	size_t res_payload_len;
	/* A key with approvals: the last pending result's progress. */
	int is_pending;
	size_t napproved;
	unsigned nrequired;
	int64_t expires;
	char progress[PROGRESS_MAX]; /* the line last printed */
};

/* Everything that can be checked before Redis is touched: the queue URL,
 * the password file, the artifact name, the output's directory.  0 or an
 * exit status. */
static int
check_setup(struct run *rn)
{
	const struct options *o = rn->o;
	int ex;

	if ((ex = client_check_queue_config(&o->c)) != SJ_EXIT_OK)
		return ex;
	rn->name = artifact_name(o);
	if (job_check_artifact_name(rn->name, strlen(rn->name)) != 0 ||
	    !sj_string_ok(rn->name, strlen(rn->name), ARTIFACT_NAME_MAX)) {
		sj_msg("invalid artifact name (1 to %d bytes of UTF-8, no '/', no control "
		       "characters, not . or ..); use --name",
		    ARTIFACT_NAME_MAX);
		return SJ_EXIT_USAGE;
	}
	if (o->c.wait_s == 0)
		return SJ_EXIT_OK;
	if (o->output != NULL)
		rn->output = xstrdup(o->output);
	else if (sj_embeds(o->format))
		rn->output = xstrdup(o->file); /* replaced, once verified */
	else if (o->format == SG_FORMAT_OPENPGP) {
		if (asprintf(&rn->output, "%s.%s", o->file,
			o->armor || o->clearsign ? "asc" : "sig") < 0)
			rn->output = NULL;
	} else if (asprintf(&rn->output, "%s.%s", o->file,
		       o->format == SG_FORMAT_RAW ? "sig" : "p7s") < 0)
		rn->output = NULL;
	if (rn->output == NULL) {
		sj_msg("out of memory");
		return SJ_EXIT_INFRA;
	}
	if (check_output_dir(rn->output) != 0) {
		sj_msg("cannot write %s: %s", rn->output, strerror(errno));
		return SJ_EXIT_USAGE;
	}
	return SJ_EXIT_OK;
}

/* The artifact's digest and size; the output must not be FILE itself,
 * except for the formats that sign FILE in place. */
static int
hash_artifact(struct run *rn)
{
	const struct options *o = rn->o;
	struct stat st, out_st;
	int fd, r, ex = SJ_EXIT_USAGE;

	if (o->format == SG_FORMAT_OPENPGP) {
		enum openpgp_canon canon = o->clearsign ? OPENPGP_CANON_CLEARSIGN
		    : o->text                           ? OPENPGP_CANON_TEXT
							: OPENPGP_CANON_BINARY;
		if ((ex = sj_pgp_hash(o->file, canon, &rn->pgp, rn->digest, &rn->size)) !=
		    SJ_EXIT_OK)
			return ex;
		if (rn->output != NULL && stat(o->file, &st) == 0 &&
		    stat(rn->output, &out_st) == 0 && out_st.st_dev == st.st_dev &&
		    out_st.st_ino == st.st_ino) {
			sj_msg("the output %s is FILE itself", rn->output);
			return SJ_EXIT_USAGE;
		}
		return SJ_EXIT_OK;
	}
	if (sj_embeds(o->format)) {
		if ((ex = embed_load(o->file, o->format, o->replace_signature, &rn->embed)) !=
		    SJ_EXIT_OK)
			return ex;
		memcpy(rn->digest, rn->embed.artifact_sha256, SHA256_LEN);
		rn->size = rn->embed.artifact_size;
		return SJ_EXIT_OK;
	}

	if ((fd = open(o->file, O_RDONLY | O_CLOEXEC)) == -1) {
		sj_msg("cannot open %s: %s", o->file, strerror(errno));
		return SJ_EXIT_USAGE;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		sj_msg("%s is not a regular file", o->file);
		goto out;
	}
	if ((r = crypto_sha256_fd(fd, rn->digest, &rn->size)) != 0) {
		sj_msg("cannot read %s: %s", o->file, sg_strerror(r));
		goto out;
	}
	if (rn->size >= ARTIFACT_SIZE_LIMIT) {
		sj_msg("%s is too large", o->file);
		goto out;
	}
	if (rn->output != NULL && stat(rn->output, &out_st) == 0 && out_st.st_dev == st.st_dev &&
	    out_st.st_ino == st.st_ino) {
		sj_msg("the output %s is FILE itself", rn->output);
		goto out;
	}
	ex = SJ_EXIT_OK;
out:
	close(fd);
	return ex;
}

/* The submitter's key, the agent's public key and the CI token. */
static int
load_keys(struct run *rn)
{
	const struct options *o = rn->o;
	char keyid[KEYID_LEN + 1];
	int r, ex;

	if ((ex = client_load_identity(&o->c, &rn->identity, keyid)) != SJ_EXIT_OK)
		return ex;
	if (o->c.agent_pubkey != NULL &&
	    (ex = client_load_agent(&o->c, &rn->agent, rn->w.agent_keyid)) != SJ_EXIT_OK)
		return ex;
	if ((r = load_ci_token(o, &rn->ci_token)) != 0)
		return r == SG_ERR_ALLOC ? SJ_EXIT_INFRA : SJ_EXIT_USAGE;
	return SJ_EXIT_OK;
}

/* The job and its envelope, signed with the identity (freed after). */
static int
seal_job(struct run *rn)
{
	const struct options *o = rn->o;
	int r, ex;

	memcpy(rn->authenticode.image_sha256, rn->embed.digest, SHA256_LEN);
	rn->authenticode.description = o->description;
	rn->authenticode.url = o->url;
	if ((r = build_job(o, rn->name, rn->digest, rn->size, rn->ci_token, &rn->authenticode,
		 &rn->pgp, &rn->job, &rn->payload, &rn->payload_len)) != 0) {
		sj_msg("cannot build the job: %s", sg_strerror(r));
		return r == SG_ERR_ALLOC || r == SG_ERR_CRYPTO ? SJ_EXIT_INFRA : SJ_EXIT_USAGE;
	}
	ex = client_seal(&o->c, rn->identity, PAYLOAD_TYPE_JOB, rn->payload, rn->payload_len,
	    &rn->env, &rn->env_len);
	EVP_PKEY_free(rn->identity);
	rn->identity = NULL;
	return ex;
}

/* The queue: connect, refuse when it is too long, push, wait for replicas. */
static int
push_job(struct run *rn)
{
	const struct options *o = rn->o;
	int r, ex;

	if ((ex = client_queue_open(&o->c, &rn->q)) != SJ_EXIT_OK)
		return ex;
	/* Backpressure: a stream this long means the agents are not keeping up
	 * (or are down); say so now rather than time out later. */
	if (o->max_queue > 0) {
		uint64_t depth = 0;
		if ((r = queue_length(rn->q, &depth)) != 0) {
			sj_msg("cannot read the queue length: %s", sg_strerror(r));
			return SJ_EXIT_INFRA;
		}
		if (depth >= o->max_queue) {
			sj_msg(
			    "the queue holds %llu jobs (--max-queue %llu): the signing agents are "
			    "not keeping up; not submitting",
			    (unsigned long long)depth, (unsigned long long)o->max_queue);
			return SJ_EXIT_INFRA;
		}
	}
	if ((r = client_submit_entry(rn->q, rn->env, rn->env_len, rn->entry_id)) != 0) {
		sj_msg("cannot submit job %s: %s", rn->job.id, sg_strerror(r));
		return SJ_EXIT_INFRA;
	}
	/* With replicas, the job must survive the master's loss before we wait. */
	if (o->replicas > 0) {
		int acked = 0;
		if ((r = queue_wait_replicas(rn->q, (int)o->replicas, REPLICAS_WAIT_MS, &acked)) !=
			0 ||
		    acked < (int)o->replicas) {
			if (r != 0)
				sj_msg("WAIT for replicas failed: %s", sg_strerror(r));
			else
				sj_msg("job %s reached %d of %llu replicas within %d ms",
				    rn->job.id, acked, (unsigned long long)o->replicas,
				    REPLICAS_WAIT_MS);
			return SJ_EXIT_INFRA;
		}
	}
	return SJ_EXIT_OK;
}

/* -w 0: the job id, and done. */
static int
print_id(struct run *rn)
{
	int r;

	if (rn->o->c.json)
		r = printf("{\"id\": \"%s\"}\n", rn->job.id) < 0 || fflush(stdout) != 0;
	else
		r = printf("%s\n", rn->job.id) < 0 || fflush(stdout) != 0;
	if (r != 0) {
		sj_msg("cannot write to stdout: %s", strerror(errno));
		return SJ_EXIT_INFRA;
	}
	return SJ_EXIT_OK;
}

/* Appends s to out (outsz bytes, NUL-terminated), with s escaped and cut
 * to NAME_SHOWN_MAX bytes. */
static void
append_escaped(char *out, size_t outsz, const char *s)
{
	char esc[NAME_SHOWN_MAX * 4 + 8];
	size_t used = strlen(out);

	log_escape(s, NAME_SHOWN_MAX, esc, sizeof(esc));
	if (used < outsz)
		snprintf(out + used, outsz - used, "%s", esc);
}

/*
 * The wait goes on through pending results (a key that requires approvals):
 * one line on stderr whenever the approvals received or the webhooks
 * notified change, "waiting for approvals: 1 of 2 (ci-ed); notified:
 * chat".  Any other verified result is the answer.
 */
static int
is_answer(struct waiter *w, const struct sg_result *res)
{
	struct run *rn = w->ctx;
	char line[PROGRESS_MAX];
	size_t i;

	if (res->status != SG_STATUS_PENDING)
		return 1;
	rn->is_pending = 1;
	rn->napproved = res->napprovals;
	rn->nrequired = res->approvals_required;
	rn->expires = res->expires;
	snprintf(line, sizeof(line), "waiting for approvals: %zu of %u", res->napprovals,
	    res->approvals_required);
	for (i = 0; i < res->napprovals && i < RESULT_APPROVALS_MAX; i++) {
		append_escaped(line, sizeof(line), i == 0 ? " (" : ", ");
		append_escaped(line, sizeof(line), res->approvals[i].approver);
		if (i + 1 == res->napprovals)
			append_escaped(line, sizeof(line), ")");
	}
	for (i = 0; i < res->nnotified && i < RESULT_NOTIFIED_MAX; i++) {
		append_escaped(line, sizeof(line), i == 0 ? "; notified: " : ", ");
		append_escaped(line, sizeof(line), res->notified[i]);
	}
	if (strcmp(line, rn->progress) != 0) {
		memcpy(rn->progress, line, sizeof(line));
		sj_msg("%s", line);
	}
	return 0;
}

/* Waits for an attested result bound to our job; a refusal ends here. */
/* --result-out: the verified result envelope, as the agent attested it
 * (for signet-verify and archives), whatever its status. */
static int
write_result_out(struct run *rn)
{
	int r;

	if (rn->o->result_out == NULL || rn->w.env == NULL)
		return SJ_EXIT_OK;
	if ((r = write_file_atomic(rn->o->result_out, rn->w.env, rn->w.env_len, 0644)) != 0) {
		sj_msg("cannot write %s: %s", rn->o->result_out, sg_strerror(r));
		return SJ_EXIT_INFRA;
	}
	return SJ_EXIT_OK;
}

/*
 * After a wait that ran out without an answer: what became of our entry.
 * Never delivered by the group "agents": withdraw it (XDEL), so that no
 * agent signs it after this pipeline gave up, then look again, since an
 * agent may have read it between the look and the XDEL.  Delivered: say
 * which consumer holds it.  When Redis refuses to tell or to delete (an
 * ACL), the entry stays queued, and an agent that takes it after the job's
 * expiry rejects it (job.expired).
 */
static void
report_unanswered(struct run *rn)
{
	const struct options *o = rn->o;
	struct queue_entry_state st;
	char expires[SGTIME_LEN + 1], consumer[QUEUE_CONSUMER_MAX * 4 + 8];
	unsigned long long waited = (unsigned long long)o->c.wait_s;
	int r, removed = 0;

	sgtime_format(rn->job.expires, expires);
	if ((r = queue_entry_state(rn->q, rn->entry_id, &st)) == 0 && !st.delivered) {
		if ((r = queue_entry_remove(rn->q, rn->entry_id, &removed)) == 0)
			r = queue_entry_state(rn->q, rn->entry_id, &st);
		if (r == 0 && !st.delivered) {
			sj_msg(
			    "timed out after %llu s: job %s was never taken by an agent (no agent "
			    "read stream entry %s of %sjobs); the entry %s removed, so it will "
			    "not be signed",
			    waited, rn->job.id, rn->entry_id, o->c.prefix,
			    removed ? "was" : "was already");
			return;
		}
		if (r == 0) {
			sj_msg("timed out after %llu s: job %s was taken by an agent just now "
			       "(stream entry %s) and may still be signed",
			    waited, rn->job.id, rn->entry_id);
			return;
		}
	}
	if (r == 0 && st.pending) {
		log_escape(st.consumer, strlen(st.consumer), consumer, sizeof(consumer));
		sj_msg("timed out after %llu s: job %s was taken by an agent (consumer %s, %llu "
		       "%s) but not answered; it may still be signed",
		    waited, rn->job.id, consumer, (unsigned long long)st.deliveries,
		    st.deliveries == 1 ? "delivery" : "deliveries");
		return;
	}
	if (r == 0) {
		sj_msg("timed out after %llu s: job %s was taken by an agent and acknowledged, "
		       "but not answered",
		    waited, rn->job.id);
		return;
	}
	sj_msg("timed out after %llu s waiting for the result of job %s; cannot tell whether "
	       "an agent took it (%s): its entry %s stays queued, and an agent that takes it "
	       "after %s rejects it as job.expired",
	    waited, rn->job.id,
	    r == SG_ERR_QUEUE_AUTH ? "Redis refuses XINFO or XDEL to this user" : sg_strerror(r),
	    rn->entry_id, expires);
}

static int
await_result(struct run *rn)
{
	const struct options *o = rn->o;
	char esc_code[CLIENT_ESCAPED_MAX], esc_msg[CLIENT_ESCAPED_MAX];
	uint8_t job_hash[SHA256_LEN];
	int64_t deadline_ms;
	int r;

	rn->w.q = rn->q;
	rn->w.job_id = rn->job.id;
	rn->w.agent = rn->agent;
	rn->w.is_answer = is_answer;
	rn->w.ctx = rn;
	crypto_sha256(rn->payload, rn->payload_len, job_hash);
	hex_encode(job_hash, SHA256_LEN, rn->w.job_sha256_hex);
	deadline_ms = sgtime_mono_ms() + (int64_t)o->c.wait_s * 1000;
	r = client_wait_result(
	    &rn->w, deadline_ms, &rn->res, &rn->res_payload, &rn->res_payload_len);
	if (r == SG_ERR_TIMEOUT && rn->is_pending) {
		char when[SGTIME_LEN + 1];

		sgtime_format(rn->expires, when);
		sj_msg("timed out after %llu s: job %s is still pending approvals (%zu of %u) and "
		       "stays so until it is decided or expires at %s",
		    (unsigned long long)o->c.wait_s, rn->job.id, rn->napproved, rn->nrequired,
		    when);
		return SJ_EXIT_TIMEOUT;
	}
	if (r == SG_ERR_TIMEOUT) {
		if (rn->w.unauthenticated)
			sj_msg(
			    "timed out after %llu s waiting for the result of job %s: only "
			    "unauthenticated answers came (%s); someone who can write to Redis may "
			    "have dropped or altered our job, or the agent does not know our key",
			    (unsigned long long)o->c.wait_s, rn->job.id, rn->w.unauth_code);
		else
			report_unanswered(rn);
		return SJ_EXIT_TIMEOUT;
	}
	if (r != 0) {
		sj_msg("lost the queue while waiting for job %s: %s", rn->job.id, sg_strerror(r));
		return SJ_EXIT_INFRA;
	}
	if (rn->res->status != SG_STATUS_SIGNED) {
		(void)write_result_out(rn);
		if (o->c.json && client_print_stdout(rn->res_payload, rn->res_payload_len) != 0)
			sj_msg("cannot write to stdout: %s", strerror(errno));
		log_escape(rn->res->error_code, RESULT_MESSAGE_MAX, esc_code, sizeof(esc_code));
		log_escape(rn->res->error_message, RESULT_MESSAGE_MAX, esc_msg, sizeof(esc_msg));
		sj_msg("%s %s: %s", sg_status_name(rn->res->status), esc_code, esc_msg);
		return SJ_EXIT_REFUSED;
	}
	return SJ_EXIT_OK;
}

/*
 * What goes to the output, from a signed result bound to our job, once its
 * signature is checked against what we hashed: the signature file (raw,
 * cms), the signed image or module (authenticode, kmod), the signature
 * packet in the form asked for (openpgp).  0 with *ret and *ret_mode, or
 * non-zero with *ret_why.
 */
static int
make_output(
    struct run *rn, uint8_t **ret, size_t *ret_len, unsigned *ret_mode, const char **ret_why)
{
	const struct options *o = rn->o;
	const struct sg_result *res = rn->res;
	X509 *leaf = NULL;
	enum sj_pgp_out form;
	int r = SG_ERR_VERIFY;

	*ret_mode = 0644;
	if (res->ncerts < 1 || (leaf = verify_der_cert(&res->certs[0])) == NULL) {
		*ret_why = "the result's first certificate is not one DER X.509 certificate";
		return SG_ERR_VERIFY;
	}
	if (o->format == SG_FORMAT_OPENPGP) {
		form = o->clearsign ? SJ_PGP_CLEARSIGN : o->armor ? SJ_PGP_ARMOR : SJ_PGP_BINARY;
		r = sj_pgp_finish(o->file, form, &rn->pgp, rn->job.created, rn->job.artifact.sha256,
		    res->signature.data, res->signature.len, leaf, ret, ret_len, ret_why);
	} else if (sj_embeds(o->format)) {
		/* The agent signed the image's or the module's digest. */
		if ((r = verify_result_signature(res, o->format, rn->embed.digest, ret_why)) == 0)
			r = embed_finish(&rn->embed, res->signature.data, res->signature.len, leaf,
			    ret, ret_len, ret_why);
		*ret_mode = rn->embed.mode;
	} else if ((r = verify_result_signature(
			res, o->format, rn->job.artifact.sha256, ret_why)) == 0) {
		if ((*ret = malloc(res->signature.len)) == NULL) {
			r = SG_ERR_ALLOC;
			*ret_why = "out of memory";
		} else {
			memcpy(*ret, res->signature.data, res->signature.len);
			*ret_len = res->signature.len;
		}
	}
	X509_free(leaf);
	return r;
}

/* A signed result: believe nothing not checked, then write the output. */
static int
accept_result(struct run *rn)
{
	const struct options *o = rn->o;
	const char *why = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0;
	unsigned mode = 0644;
	int r, ex;

	if (check_signed_binding(rn->res, &rn->job, &why) != SJ_EXIT_OK ||
	    make_output(rn, &out, &out_len, &mode, &why) != 0) {
		free(out);
		sj_msg("the agent's result for job %s does not match: %s; nothing written",
		    rn->job.id, why != NULL ? why : "internal error");
		/* docs/submit-job.md: the verified (attested, bound) payload is printed whatever
		 * its status; exit 5 tells the caller that its signature is unusable. */
		if (o->c.json && client_print_stdout(rn->res_payload, rn->res_payload_len) != 0)
			sj_msg("cannot write to stdout: %s", strerror(errno));
		return SJ_EXIT_MISMATCH;
	}
	r = write_file_atomic(rn->output, out, out_len, mode);
	free(out);
	if (r != 0) {
		sj_msg("cannot write %s: %s", rn->output, sg_strerror(r));
		return SJ_EXIT_INFRA;
	}
	if ((ex = write_result_out(rn)) != SJ_EXIT_OK)
		return ex;
	if (o->c.json) {
		if (client_print_stdout(rn->res_payload, rn->res_payload_len) != 0) {
			sj_msg("cannot write to stdout: %s", strerror(errno));
			return SJ_EXIT_INFRA;
		}
	} else {
		sj_msg("signed %s with key %s (job %s) -> %s", rn->name, o->key, rn->job.id,
		    rn->output);
	}
	return SJ_EXIT_OK;
}

static int
run(const struct options *o)
{
	struct run rn;
	int ex;

	memset(&rn, 0, sizeof(rn));
	rn.o = o;
	if ((ex = check_setup(&rn)) == SJ_EXIT_OK && (ex = hash_artifact(&rn)) == SJ_EXIT_OK &&
	    (ex = load_keys(&rn)) == SJ_EXIT_OK && (ex = seal_job(&rn)) == SJ_EXIT_OK &&
	    (ex = push_job(&rn)) == SJ_EXIT_OK) {
		if (o->c.wait_s == 0)
			ex = print_id(&rn);
		else if ((ex = await_result(&rn)) == SJ_EXIT_OK)
			ex = accept_result(&rn);
	}
	queue_close(rn.q);
	free(rn.w.env);
	result_free(rn.res);
	free(rn.res_payload);
	if (rn.env != NULL)
		freezero(rn.env, rn.env_len);
	/* The payload and envelope hold the token too (they went to Redis). */
	if (rn.payload != NULL)
		freezero(rn.payload, rn.payload_len);
	free(rn.output);
	if (rn.ci_token != NULL)
		freezero(rn.ci_token, strlen(rn.ci_token));
	ci_clear(&rn.job.ci);
	embed_clear(&rn.embed);
	EVP_PKEY_free(rn.identity);
	EVP_PKEY_free(rn.agent);
	return ex;
}

int
main(int argc, char **argv)
{
	struct options o;
	int ex;

	client_start(PROG);
	if ((ex = parse_options(argc, argv, &o)) >= 0)
		return ex;
	return run(&o);
}
