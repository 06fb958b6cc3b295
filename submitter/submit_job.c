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
#define WAIT_MAX_S         86400 /* --wait upper bound */
#define LIFETIME_DEFAULT_S 600
#define LIFETIME_MAX_S     86400 /* --lifetime upper bound */
#define JOB_ID_BYTES       16    /* 128 random bits */
#define WAIT_SLICE_MS      2000  /* one BLPOP; below the queue's command timeout */
#define POLL_MS            1000  /* when BLPOP cannot be used */
#define WOKEN_PAUSE_MS     100   /* after a wake-up that brought nothing valid */
#define QUEUE_RETRIES_MAX  5     /* consecutive reconnects before giving up */
#define BACKOFF_FIRST_MS   250
#define BACKOFF_MAX_MS     4000
#define IGNORED_WARN_MAX   3     /* warnings about ignored results */
#define MAX_QUEUE_DEFAULT  10000 /* entries in the stream before submit-job refuses */
#define REPLICAS_MAX       16
#define REPLICAS_WAIT_MS   5000                         /* how long WAIT waits for the replicas */
#define ESCAPED_MAX        (RESULT_MESSAGE_MAX * 4 + 8) /* log_escape output, \xNN per byte */

struct options {
	char *file;
	char *key;
	enum sg_format format;
	const char *identity;
	const char *cert; /* submitter certificate (PEM) or NULL */
	const char *redis;
	const char *agent_pubkey;
	char *output;
	const char *prefix;
	const char *password_file;
	char *name;
	char *ci_token_file; /* --ci-token-file, or NULL */
	int replace_signature;
	int armor, text, clearsign; /* openpgp output forms */
	char *description;          /* authenticode's SpcSpOpusInfo, or NULL */
	char *url;
	uint64_t wait_s;
	uint64_t lifetime_s;
	uint64_t max_queue; /* refuse when the stream is longer (0: no bound) */
	uint64_t replicas;  /* WAIT for this many replicas (0: do not wait) */
	int json;
};

/* What the wait loop needs to recognize our result. */
struct waiter {
	struct queue *q;
	const char *job_id;
	char job_sha256_hex[SHA256_HEX_LEN + 1];
	EVP_PKEY *agent;
	char agent_keyid[KEYID_LEN + 1];
	unsigned nwarned;
	uint8_t last_ignored[SHA256_LEN]; /* hash of the last ignored envelope */
	int has_last_ignored;
	int unauthenticated;           /* an envelope.* rejection came (reported once) */
	char unauth_code[ESCAPED_MAX]; /* its code, escaped, for the final message */
};

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
usage(FILE *f)
{
	fputs(
	    "usage: " PROG " [options] FILE\n"
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
	    "      --url URL               authenticode: its \"more information\" URL\n"
	    "      --prefix PREFIX         Redis key prefix (default signet:, env SIGNET_PREFIX)\n"
	    "      --redis-password-file PATH\n"
	    "                              Redis password (env SIGNET_REDIS_PASSWORD_FILE)\n"
	    "  -w, --wait SECONDS          how long to wait for the result (default 300,\n"
	    "                              at most 86400); 0 submits, prints the job id, exits\n"
	    "      --name NAME             artifact name (default: FILE's base name)\n"
	    "      --ci-token-file PATH    the CI system's identity token (a JWT) to send as\n"
	    "                              the job's ci_token (env SIGNET_CI_TOKEN: the token)\n"
	    "      --lifetime SECONDS      the job expires this long after it is created\n"
	    "                              (default 600, 1..86400; the agent has its own maximum)\n"
	    "      --max-queue N           refuse (exit 4) when the queue already holds N\n"
	    "                              jobs (default 10000; 0: no bound; env "
	    "SIGNET_MAX_QUEUE)\n"
	    "      --replicas N            after pushing, WAIT until N Redis replicas hold the\n"
	    "                              job (5 s; else exit 4; env SIGNET_REPLICAS)\n"
	    "      --json                  print the verified result payload on stdout\n"
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
	      "match the artifact or certificate (nothing is written).\n",
	    f);
}

static const struct cli cli = { .prog = PROG, .usage = usage };

enum {
	OPT_PREFIX = 256,
	OPT_PASSWORD_FILE,
	OPT_NAME,
	OPT_JSON,
	OPT_LIFETIME,
	OPT_CERT,
	OPT_MAX_QUEUE,
	OPT_REPLICAS,
	OPT_CI_TOKEN_FILE,
	OPT_REPLACE_SIGNATURE,
	OPT_DESCRIPTION,
	OPT_URL,
	OPT_ARMOR,
	OPT_TEXT,
	OPT_CLEARSIGN,
};

static const struct option long_options[] = {
	{ "key", required_argument, NULL, 'k' },
	{ "format", required_argument, NULL, 'f' },
	{ "identity", required_argument, NULL, 'i' },
	{ "redis", required_argument, NULL, 'r' },
	{ "agent-pubkey", required_argument, NULL, 'a' },
	{ "output", required_argument, NULL, 'o' },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "redis-password-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "wait", required_argument, NULL, 'w' },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "lifetime", required_argument, NULL, OPT_LIFETIME },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "replicas", required_argument, NULL, OPT_REPLICAS },
	{ "ci-token-file", required_argument, NULL, OPT_CI_TOKEN_FILE },
	{ "replace-signature", no_argument, NULL, OPT_REPLACE_SIGNATURE },
	{ "description", required_argument, NULL, OPT_DESCRIPTION },
	{ "url", required_argument, NULL, OPT_URL },
	{ "armor", no_argument, NULL, OPT_ARMOR },
	{ "text", no_argument, NULL, OPT_TEXT },
	{ "clearsign", no_argument, NULL, OPT_CLEARSIGN },
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
	const char *format = NULL, *wait = NULL, *lifetime = NULL, *prefix = NULL;
	const char *max_queue = NULL, *replicas = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:f:i:r:a:o:w:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->key = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'i':
			o->identity = optarg;
			break;
		case 'r':
			o->redis = optarg;
			break;
		case 'a':
			o->agent_pubkey = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_PREFIX:
			prefix = optarg;
			break;
		case OPT_PASSWORD_FILE:
			o->password_file = optarg;
			break;
		case 'w':
			wait = optarg;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_CERT:
			o->cert = optarg;
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
		case OPT_CLEARSIGN:
			o->clearsign = 1;
			break;
		default:
			return cli_getopt_default(&cli, c, argv);
		}
	}
	if ((o->file = cli_one_operand(&cli, argc, argv, "FILE")) == NULL)
		return SJ_EXIT_USAGE;

	o->identity = cli_opt_or_env(o->identity, "SIGNET_IDENTITY");
	o->cert = cli_opt_or_env(o->cert, "SIGNET_CERT");
	o->redis = cli_opt_or_env(o->redis, "SIGNET_REDIS");
	o->agent_pubkey = cli_opt_or_env(o->agent_pubkey, "SIGNET_AGENT_PUBKEY");
	o->prefix = cli_opt_or_env(prefix, "SIGNET_PREFIX");
	o->password_file = cli_opt_or_env(o->password_file, "SIGNET_REDIS_PASSWORD_FILE");
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
		sj_msg("invalid --format: raw, cms, authenticode or kmod");
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
	o->wait_s = WAIT_DEFAULT_S;
	if (wait != NULL && parse_u64(wait, WAIT_MAX_S, &o->wait_s) != 0) {
		sj_msg("invalid --wait: seconds from 0 to %d", WAIT_MAX_S);
		return SJ_EXIT_USAGE;
	}
	o->lifetime_s = LIFETIME_DEFAULT_S;
	if (lifetime != NULL &&
	    (parse_u64(lifetime, LIFETIME_MAX_S, &o->lifetime_s) != 0 || o->lifetime_s < 1)) {
		sj_msg("invalid --lifetime: seconds from 1 to %d", LIFETIME_MAX_S);
		return SJ_EXIT_USAGE;
	}
	if (o->identity == NULL) {
		sj_msg("missing --identity (or SIGNET_IDENTITY)");
		return SJ_EXIT_USAGE;
	}
	/* Never echoed: it may be a private key pasted into a CI variable. */
	{
		static const struct {
			const char *opt, *env;
		} paths[] = {
			{ "--identity", "SIGNET_IDENTITY" },
			{ "--agent-pubkey", "SIGNET_AGENT_PUBKEY" },
			{ "--redis-password-file", "SIGNET_REDIS_PASSWORD_FILE" },
		};
		const char *v[] = { o->identity, o->agent_pubkey, o->password_file };
		size_t i;

		for (i = 0; i < nitems(v); i++) {
			if (looks_like_file_content(v[i])) {
				sj_msg(
				    "%s (or %s) expects a path to a key file, not the key itself; "
				    "in GitLab use a variable of type File",
				    paths[i].opt, paths[i].env);
				return SJ_EXIT_USAGE;
			}
		}
	}
	if (o->redis == NULL) {
		sj_msg("missing --redis (or SIGNET_REDIS)");
		return SJ_EXIT_USAGE;
	}
	if (o->agent_pubkey == NULL && o->wait_s > 0) {
		sj_msg("missing --agent-pubkey (or SIGNET_AGENT_PUBKEY)");
		return SJ_EXIT_USAGE;
	}
	if (o->prefix == NULL)
		o->prefix = QUEUE_DEFAULT_PREFIX;
	if (strlen(o->prefix) > QUEUE_PREFIX_MAX) {
		sj_msg("invalid --prefix: at most %d bytes", QUEUE_PREFIX_MAX);
		return SJ_EXIT_USAGE;
	}
	return -1;
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

/* Writes "<len bytes>\n" to stdout and flushes.  0 or SG_ERR_SYSTEM. */
static int
print_stdout(const void *buf, size_t len)
{
	if ((len > 0 && fwrite(buf, 1, len, stdout) != len) || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		return SG_ERR_SYSTEM;
	return 0;
}

/* Warns about an ignored result, at most IGNORED_WARN_MAX times and once
 * per distinct envelope. */
static void
warn_ignored(struct waiter *w, const char *buf, size_t len, const char *why)
{
	uint8_t h[SHA256_LEN];

	crypto_sha256(buf, len, h);
	if (w->has_last_ignored && memcmp(h, w->last_ignored, sizeof(h)) == 0)
		return;
	memcpy(w->last_ignored, h, sizeof(h));
	w->has_last_ignored = 1;
	if (w->nwarned >= IGNORED_WARN_MAX)
		return;
	w->nwarned++;
	sj_msg("warning: ignoring a result under job %s: %s%s", w->job_id, why,
	    w->nwarned == IGNORED_WARN_MAX ? " (further ones not reported)" : "");
}

/*
 * Decides whether buf is the agent's answer to our job: an envelope of type
 * result, signed by the pinned agent key, whose payload parses
 * (verify_result_envelope()), names our id and carries the SHA-256 of our
 * job payload.  0 with the result and a copy of its payload, or an error
 * with *ret_why set.
 */
static int
check_result(const struct waiter *w, const char *buf, size_t len, struct sg_result **ret_res,
    uint8_t **ret_payload, size_t *ret_payload_len, const char **ret_why)
{
	struct sg_result *res = NULL;
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	int r;

	*ret_res = NULL;
	*ret_payload = NULL;
	*ret_payload_len = 0;
	if ((r = verify_result_envelope(
		 w->agent, w->agent_keyid, buf, len, &res, &payload, &payload_len, ret_why)) != 0)
		goto out;
	r = SG_ERR_VERIFY;
	if (strcmp(res->id, w->job_id) != 0) {
		*ret_why = "the result names another job";
		goto out;
	}
	if (strcmp(res->job_sha256, w->job_sha256_hex) != 0) {
		*ret_why = "the result answers another job payload with our id";
		goto out;
	}
	*ret_payload_len = payload_len;
	*ret_payload = payload;
	payload = NULL;
	*ret_res = res;
	res = NULL;
	r = 0;
out:
	free(payload);
	result_free(res);
	return r;
}

/*
 * Whether res is a rejection that someone without any key could have
 * caused: an envelope.* code (docs/protocol.md §7).  The agent publishes those for
 * whatever envelope carried our payload, our own or a copy with its
 * signature broken, so they do not answer our job.
 */
static int
is_unauthenticated(const struct sg_result *res)
{
	return res->status == SG_STATUS_REJECTED && res->error_code != NULL &&
	    strncmp(res->error_code, "envelope.", strlen("envelope.")) == 0;
}

/* Says once that an unauthenticated rejection came, and keeps its code. */
static void
note_unauthenticated(struct waiter *w, const struct sg_result *res)
{
	char msg[ESCAPED_MAX];

	if (w->unauthenticated)
		return;
	w->unauthenticated = 1;
	log_escape(res->error_code, RESULT_MESSAGE_MAX, w->unauth_code, sizeof(w->unauth_code));
	log_escape(res->error_message != NULL ? res->error_message : "", RESULT_MESSAGE_MAX, msg,
	    sizeof(msg));
	sj_msg("an unauthenticated rejection came for this id: %s: %s (anyone who can write "
	       "to Redis can cause one); waiting for the agent's answer to our own job",
	    w->unauth_code, msg);
}

/* GET and check.  0 with a verified result, SG_ERR_NOT_FOUND when there is
 * none (or only one to ignore), or a queue error. */
static int
fetch_result(struct waiter *w, struct sg_result **ret_res, uint8_t **ret_payload,
    size_t *ret_payload_len, int *ret_ignored)
{
	struct sg_result *res = NULL;
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	char *buf = NULL;
	size_t len = 0;
	const char *why = NULL;
	int r;

	*ret_ignored = 0;
	r = queue_get_result(w->q, w->job_id, &buf, &len);
	if (r == SG_ERR_LIMIT) {
		/* Larger than any envelope: not from the agent. */
		warn_ignored(w, "", 0, "larger than an envelope may be");
		*ret_ignored = 1;
		return SG_ERR_NOT_FOUND;
	}
	if (r != 0)
		return r;
	r = check_result(w, buf, len, &res, &payload, &payload_len, &why);
	if (r == SG_ERR_ALLOC)
		goto out;
	if (r != 0) {
		warn_ignored(w, buf, len, why);
		*ret_ignored = 1;
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if (is_unauthenticated(res)) {
		note_unauthenticated(w, res);
		*ret_ignored = 1;
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	*ret_res = res;
	res = NULL;
	*ret_payload = payload;
	payload = NULL;
	*ret_payload_len = payload_len;
	r = 0;
out:
	result_free(res);
	free(payload);
	free(buf);
	return r;
}

/*
 * Waits until deadline_ms (monotonic) for a verified result.  0 with the
 * result, SG_ERR_TIMEOUT, or the queue error that made us give up.
 */
static int
wait_result(struct waiter *w, int64_t deadline_ms, struct sg_result **ret_res,
    uint8_t **ret_payload, size_t *ret_payload_len)
{
	int64_t left, backoff = BACKOFF_FIRST_MS;
	int r, retries = 0, ignored = 0, warned_protocol = 0;

	for (;;) {
		r = fetch_result(w, ret_res, ret_payload, ret_payload_len, &ignored);
		if (r == 0)
			return 0;
		if (r == SG_ERR_NOT_FOUND) {
			left = deadline_ms - sgtime_mono_ms();
			if (left <= 0)
				return SG_ERR_TIMEOUT;
			r = queue_wait_done(
			    w->q, w->job_id, (int)(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS));
			if (r == 0 || r == SG_ERR_TIMEOUT) {
				retries = 0;
				backoff = BACKOFF_FIRST_MS;
				/* Someone keeps waking us with nothing valid to
				 * read: do not let that spin. */
				if (r == 0 && ignored)
					sleep_ms(WOKEN_PAUSE_MS);
				continue;
			}
		}
		left = deadline_ms - sgtime_mono_ms();
		if (r == SG_ERR_QUEUE_PROTOCOL) {
			/* A value of the wrong type under one of our keys
			 * (anyone can write to Redis): poll instead. */
			if (!warned_protocol)
				sj_msg(
				    "warning: unexpected reply from the queue for job %s; polling",
				    w->job_id);
			warned_protocol = 1;
			if (left <= 0)
				return SG_ERR_TIMEOUT;
			sleep_ms(left < POLL_MS ? left : POLL_MS);
			continue;
		}
		if (r != SG_ERR_QUEUE_UNAVAILABLE)
			return r;
		/* Lost the connection: reconnect with backoff. */
		for (;;) {
			if (retries >= QUEUE_RETRIES_MAX || left <= 0)
				return r;
			retries++;
			sleep_ms(left < backoff ? left : backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			r = queue_reconnect(w->q);
			if (r == 0)
				break;
			if (r != SG_ERR_QUEUE_UNAVAILABLE)
				return r;
			left = deadline_ms - sgtime_mono_ms();
		}
	}
}

/* Pushes the envelope, reconnecting a few times on a lost connection.
 * Pushing twice is harmless: the agent answers a replay of the identical
 * payload with the same result (docs/errors.md). */
static int
submit(struct queue *q, const char *env, size_t env_len)
{
	int64_t backoff = BACKOFF_FIRST_MS;
	int r, retries = 0;

	for (;;) {
		r = queue_submit(q, env, env_len);
		if (r != SG_ERR_QUEUE_UNAVAILABLE || retries >= QUEUE_RETRIES_MAX)
			return r;
		do {
			retries++;
			sleep_ms(backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			r = queue_reconnect(q);
		} while (r == SG_ERR_QUEUE_UNAVAILABLE && retries < QUEUE_RETRIES_MAX);
		if (r != 0)
			return r;
	}
}

/* Exit status for an error from queue_open() or queue_reconnect(). */
static int
queue_error_exit(int r)
{
	switch (r) {
	case SG_ERR_PARSE:
	case SG_ERR_CONFIG:
	case SG_ERR_SECRET_FILE:
	case SG_ERR_INVALID_ARGUMENT:
		return SJ_EXIT_USAGE;
	default:
		return SJ_EXIT_INFRA;
	}
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

/* The first certificate of the PEM file at path, as DER; it must be for the
 * identity key.  Prints why not. */
static int
load_cert_der(const char *path, EVP_PKEY *identity, uint8_t **ret, size_t *ret_len)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *der = NULL;
	int len, r;

	if ((r = crypto_load_certs(path, &certs)) != 0) {
		sj_msg("cannot load certificate %s: %s", path, sg_strerror(r));
		return r;
	}
	r = SG_ERR_CONFIG;
	if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, 0)), identity) != 1) {
		sj_msg("certificate %s is not for the identity key", path);
		goto out;
	}
	if ((len = i2d_X509(sk_X509_value(certs, 0), &der)) <= 0) {
		sj_msg("cannot encode certificate %s", path);
		goto out;
	}
	*ret = der;
	*ret_len = (size_t)len;
	r = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* Signs the payload and serializes the envelope. */
static int
make_envelope(EVP_PKEY *identity, const uint8_t *cert, size_t cert_len, const char *payload,
    size_t payload_len, char **ret_env, size_t *ret_env_len)
{
	struct dsse_envelope *env = NULL;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	char keyid[KEYID_LEN + 1];
	int r = SG_ERR_INTERNAL;

	*ret_env = NULL;
	*ret_env_len = 0;
	if ((r = crypto_keyid(identity, keyid)) != 0)
		goto out;
	if ((r = crypto_dsse_sign(identity, PAYLOAD_TYPE_JOB, (const uint8_t *)payload, payload_len,
		 &sig, &sig_len)) != 0)
		goto out;
	if ((r = envelope_new(PAYLOAD_TYPE_JOB, (const uint8_t *)payload, payload_len, &env)) != 0)
		goto out;
	if ((r = envelope_add_sig(env, keyid, sig, sig_len, cert, cert_len)) != 0)
		goto out;
	if ((r = envelope_serialize(env, ret_env, ret_env_len)) != 0)
		goto out;
	if (*ret_env_len > (size_t)ENVELOPE_MAX_BYTES) {
		free(*ret_env);
		*ret_env = NULL;
		*ret_env_len = 0;
		r = SG_ERR_ENVELOPE_TOO_LARGE;
		goto out;
	}
	r = 0;
out:
	free(sig);
	envelope_free(env);
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
	struct waiter w;
	struct sg_result *res;
	uint8_t *res_payload;
	size_t res_payload_len;
};

/* Everything that can be checked before Redis is touched: the queue URL,
 * the password file, the artifact name, the output's directory.  0 or an
 * exit status. */
static int
check_setup(struct run *rn)
{
	const struct options *o = rn->o;
	struct queue_url *url = NULL;
	char *pw = NULL;
	size_t pw_len = 0;
	int r;

	if (queue_url_parse(o->redis, &url) != 0) {
		sj_msg(
		    "invalid --redis URL: redis://[user:password@]host:port[/db] or unix:///path");
		return SJ_EXIT_USAGE;
	}
	queue_url_free(url);
	if (o->password_file != NULL) {
		if ((r = read_secret_file(o->password_file, &pw, &pw_len)) != 0) {
			sj_msg("cannot use Redis password file %s: %s", o->password_file,
			    sg_strerror(r));
			return SJ_EXIT_USAGE;
		}
		freezero(pw, pw_len + 1);
	}
	rn->name = artifact_name(o);
	if (job_check_artifact_name(rn->name, strlen(rn->name)) != 0 ||
	    !sj_string_ok(rn->name, strlen(rn->name), ARTIFACT_NAME_MAX)) {
		sj_msg("invalid artifact name (1 to %d bytes of UTF-8, no '/', no control "
		       "characters, not . or ..); use --name",
		    ARTIFACT_NAME_MAX);
		return SJ_EXIT_USAGE;
	}
	if (o->wait_s == 0)
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
	int r;

	if ((r = crypto_load_privkey(o->identity, &rn->identity)) != 0) {
		sj_msg("cannot load identity key %s: %s", o->identity, sg_strerror(r));
		return SJ_EXIT_USAGE;
	}
	if (o->agent_pubkey != NULL) {
		if ((r = crypto_load_pubkey(o->agent_pubkey, &rn->agent)) != 0) {
			sj_msg(
			    "cannot load agent public key %s: %s", o->agent_pubkey, sg_strerror(r));
			return SJ_EXIT_USAGE;
		}
		if ((r = crypto_keyid(rn->agent, rn->w.agent_keyid)) != 0) {
			sj_msg(
			    "cannot use agent public key %s: %s", o->agent_pubkey, sg_strerror(r));
			return SJ_EXIT_USAGE;
		}
	}
	if ((r = load_ci_token(o, &rn->ci_token)) != 0)
		return r == SG_ERR_ALLOC ? SJ_EXIT_INFRA : SJ_EXIT_USAGE;
	return SJ_EXIT_OK;
}

/* The job and its envelope, signed with the identity (freed after). */
static int
seal_job(struct run *rn)
{
	const struct options *o = rn->o;
	uint8_t *cert_der = NULL;
	size_t cert_len = 0;
	int r, ex = SJ_EXIT_USAGE;

	memcpy(rn->authenticode.image_sha256, rn->embed.digest, SHA256_LEN);
	rn->authenticode.description = o->description;
	rn->authenticode.url = o->url;
	if ((r = build_job(o, rn->name, rn->digest, rn->size, rn->ci_token, &rn->authenticode,
		 &rn->pgp, &rn->job, &rn->payload, &rn->payload_len)) != 0) {
		sj_msg("cannot build the job: %s", sg_strerror(r));
		return r == SG_ERR_ALLOC || r == SG_ERR_CRYPTO ? SJ_EXIT_INFRA : SJ_EXIT_USAGE;
	}
	if (o->cert != NULL && load_cert_der(o->cert, rn->identity, &cert_der, &cert_len) != 0)
		goto out;
	if ((r = make_envelope(rn->identity, cert_der, cert_len, rn->payload, rn->payload_len,
		 &rn->env, &rn->env_len)) != 0) {
		sj_msg("cannot sign the job with %s: %s", o->identity, sg_strerror(r));
		ex = r == SG_ERR_ENVELOPE_TOO_LARGE ? SJ_EXIT_USAGE : SJ_EXIT_INFRA;
		goto out;
	}
	ex = SJ_EXIT_OK;
out:
	OPENSSL_free(cert_der);
	EVP_PKEY_free(rn->identity);
	rn->identity = NULL;
	return ex;
}

/* The queue: connect, refuse when it is too long, push, wait for replicas. */
static int
push_job(struct run *rn)
{
	const struct options *o = rn->o;
	struct queue_opts qo;
	int r, ex;

	memset(&qo, 0, sizeof(qo));
	qo.url = o->redis;
	qo.password_file = o->password_file;
	qo.prefix = o->prefix;
	if ((r = queue_open(&qo, &rn->q)) != 0) {
		ex = queue_error_exit(r);
		if (ex == SJ_EXIT_USAGE)
			sj_msg("invalid queue configuration (--redis, --prefix, "
			       "--redis-password-file): %s",
			    sg_strerror(r));
		else
			sj_msg("cannot connect to the queue: %s", sg_strerror(r));
		return ex;
	}
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
	if ((r = submit(rn->q, rn->env, rn->env_len)) != 0) {
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

	if (rn->o->json)
		r = printf("{\"id\": \"%s\"}\n", rn->job.id) < 0 || fflush(stdout) != 0;
	else
		r = printf("%s\n", rn->job.id) < 0 || fflush(stdout) != 0;
	if (r != 0) {
		sj_msg("cannot write to stdout: %s", strerror(errno));
		return SJ_EXIT_INFRA;
	}
	return SJ_EXIT_OK;
}

/* Waits for an attested result bound to our job; a refusal ends here. */
static int
await_result(struct run *rn)
{
	const struct options *o = rn->o;
	char esc_code[ESCAPED_MAX], esc_msg[ESCAPED_MAX];
	uint8_t job_hash[SHA256_LEN];
	int64_t deadline_ms;
	int r;

	rn->w.q = rn->q;
	rn->w.job_id = rn->job.id;
	rn->w.agent = rn->agent;
	crypto_sha256(rn->payload, rn->payload_len, job_hash);
	hex_encode(job_hash, SHA256_LEN, rn->w.job_sha256_hex);
	deadline_ms = sgtime_mono_ms() + (int64_t)o->wait_s * 1000;
	r = wait_result(&rn->w, deadline_ms, &rn->res, &rn->res_payload, &rn->res_payload_len);
	if (r == SG_ERR_TIMEOUT) {
		if (rn->w.unauthenticated)
			sj_msg(
			    "timed out after %llu s waiting for the result of job %s: only "
			    "unauthenticated answers came (%s); someone who can write to Redis may "
			    "have dropped or altered our job, or the agent does not know our key",
			    (unsigned long long)o->wait_s, rn->job.id, rn->w.unauth_code);
		else
			sj_msg("timed out after %llu s waiting for the result of job %s",
			    (unsigned long long)o->wait_s, rn->job.id);
		return SJ_EXIT_TIMEOUT;
	}
	if (r != 0) {
		sj_msg("lost the queue while waiting for job %s: %s", rn->job.id, sg_strerror(r));
		return SJ_EXIT_INFRA;
	}
	if (rn->res->status != SG_STATUS_SIGNED) {
		if (o->json && print_stdout(rn->res_payload, rn->res_payload_len) != 0)
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
	int r;

	if (check_signed_binding(rn->res, &rn->job, &why) != SJ_EXIT_OK ||
	    make_output(rn, &out, &out_len, &mode, &why) != 0) {
		free(out);
		sj_msg("the agent's result for job %s does not match: %s; nothing written",
		    rn->job.id, why != NULL ? why : "internal error");
		/* docs/submit-job.md: the verified (attested, bound) payload is printed whatever
		 * its status; exit 5 tells the caller that its signature is unusable. */
		if (o->json && print_stdout(rn->res_payload, rn->res_payload_len) != 0)
			sj_msg("cannot write to stdout: %s", strerror(errno));
		return SJ_EXIT_MISMATCH;
	}
	r = write_file_atomic(rn->output, out, out_len, mode);
	free(out);
	if (r != 0) {
		sj_msg("cannot write %s: %s", rn->output, sg_strerror(r));
		return SJ_EXIT_INFRA;
	}
	if (o->json) {
		if (print_stdout(rn->res_payload, rn->res_payload_len) != 0) {
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
		if (o->wait_s == 0)
			ex = print_id(&rn);
		else if ((ex = await_result(&rn)) == SJ_EXIT_OK)
			ex = accept_result(&rn);
	}
	queue_close(rn.q);
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

	/* A closed stdout or Redis socket must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* A short-lived command: the kernel frees everything at exit, faster
	 * than OpenSSL's own clean-up (about 1 ms).  Secrets are wiped where
	 * they are used, not by that clean-up. */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	log_init(PROG, getenv("SIGNET_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
	    LOG_FORMAT_PLAIN);
	if ((ex = parse_options(argc, argv, &o)) >= 0)
		return ex;
	return run(&o);
}
