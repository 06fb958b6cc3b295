/*
 * client.h — what submit-job and signet-approve do alike (client.c): the
 * options and environment variables they share, loading the keys,
 * opening the queue, signing a payload as a DSSE envelope, pushing it,
 * and waiting for a result that the pinned agent key attests; and the
 * pure decision of approvals.c, whether the agent counted an approval.
 *
 * Internal to the client commands (and their unit tests).  Functions that
 * return an exit status have printed why already, as "<prog>: <text>" on
 * stderr, with the prog given to client_init().
 */
#ifndef SG_CLIENT_H
#define SG_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "approval.h"
#include "cli.h"
#include "envelope.h"
#include "err.h"
#include "log.h"
#include "queue.h"
#include "result.h"
#include "resultcheck.h"
#include "util.h"

/* Exit statuses shared by the client commands (docs/submit-job.md,
 * docs/signet-approve.md). */
enum client_exit {
	CLIENT_EXIT_OK = 0,       /* done, and verified */
	CLIENT_EXIT_REFUSED = 1,  /* the agent refused, or there is nothing to do */
	CLIENT_EXIT_USAGE = 2,    /* usage or configuration error */
	CLIENT_EXIT_TIMEOUT = 3,  /* no (deciding) answer before the deadline */
	CLIENT_EXIT_INFRA = 4,    /* queue unreachable, auth refused, other trouble */
	CLIENT_EXIT_MISMATCH = 5, /* a result that does not verify or does not match */
};

#define CLIENT_WAIT_MAX_S  86400                        /* --wait upper bound */
#define CLIENT_ESCAPED_MAX (RESULT_MESSAGE_MAX * 4 + 8) /* log_escape output, \xNN per byte */

/* Sets the name that starts every message (the command's). */
void client_init(const char *prog);
/* One line "<prog>: <text>" on stderr. */
void client_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The options that both commands take, with their environment variables.
 * Strings are borrowed from argv or the environment. */
struct client_opts {
	const char *identity;      /* -i, SIGNET_IDENTITY: private key, PEM */
	const char *cert;          /* --cert, SIGNET_CERT: its certificate, or NULL */
	const char *redis;         /* -r, SIGNET_REDIS */
	const char *agent_pubkey;  /* -a, SIGNET_AGENT_PUBKEY */
	const char *prefix;        /* --prefix, SIGNET_PREFIX */
	const char *password_file; /* --redis-password-file, SIGNET_REDIS_PASSWORD_FILE */
	struct queue_tls_opts tls; /* --redis-ca-file, --redis-cert, --redis-key,
	                              --redis-server-name (SIGNET_REDIS_CA_FILE ...) */
	uint64_t wait_s;           /* -w */
	int json;                  /* --json */
};

/* What client_options_finish() requires. */
#define CLIENT_NEED_IDENTITY      1u /* -i */
#define CLIENT_NEED_AGENT         2u /* -a */
#define CLIENT_NEED_AGENT_TO_WAIT 4u /* -a, unless --wait is 0 */

/* The options of struct client_opts, for getopt_long(): the commands put
 * CLIENT_OPTSTRING in their optstring, CLIENT_LONG_OPTIONS in their table
 * and number their own long options from CLIENT_OPT_NEXT on. */
enum {
	CLIENT_OPT_PREFIX = 256,
	CLIENT_OPT_PASSWORD_FILE,
	CLIENT_OPT_JSON,
	CLIENT_OPT_CERT,
	CLIENT_OPT_REDIS_CA,
	CLIENT_OPT_REDIS_CERT,
	CLIENT_OPT_REDIS_KEY,
	CLIENT_OPT_REDIS_NAME,
	CLIENT_OPT_NEXT,
};
#define CLIENT_OPTSTRING "i:r:a:w:h"
/* clang-format off */
#define CLIENT_LONG_OPTIONS \
	{ "identity", required_argument, NULL, 'i' }, \
	{ "cert", required_argument, NULL, CLIENT_OPT_CERT }, \
	{ "redis", required_argument, NULL, 'r' }, \
	{ "agent-pubkey", required_argument, NULL, 'a' }, \
	{ "prefix", required_argument, NULL, CLIENT_OPT_PREFIX }, \
	{ "redis-password-file", required_argument, NULL, CLIENT_OPT_PASSWORD_FILE }, \
	{ "redis-ca-file", required_argument, NULL, CLIENT_OPT_REDIS_CA }, \
	{ "redis-cert", required_argument, NULL, CLIENT_OPT_REDIS_CERT }, \
	{ "redis-key", required_argument, NULL, CLIENT_OPT_REDIS_KEY }, \
	{ "redis-server-name", required_argument, NULL, CLIENT_OPT_REDIS_NAME }, \
	{ "wait", required_argument, NULL, 'w' }, \
	{ "json", no_argument, NULL, CLIENT_OPT_JSON }, \
	{ "help", no_argument, NULL, CLI_OPT_HELP }, \
	{ "version", no_argument, NULL, CLI_OPT_VERSION }
/* clang-format on */

/* Takes getopt_long()'s opt when it is one of those: 1 with the value
 * stored in *c (--wait's text in *ret_wait, for client_options_finish()),
 * else 0. */
int client_option(struct client_opts *c, int opt, const char *arg, const char **ret_wait);

/* What every client command does first: SIGPIPE ignored, OpenSSL without
 * its exit-time clean-up, client_init(prog), the logger (debug with
 * SIGNET_DEBUG set). */
void client_start(const char *prog);

/*
 * After getopt: the environment behind the options, --wait (wait, or
 * wait_default when NULL; 0..CLIENT_WAIT_MAX_S), what need asks for
 * (CLIENT_NEED_*), the queue URL and the prefix (QUEUE_DEFAULT_PREFIX when
 * unset).  An option or variable that
 * should name a key file but holds PEM text is refused without echoing
 * it.  -1 to go on, else CLIENT_EXIT_USAGE (reported).
 */
int client_options_finish(
    struct client_opts *c, const char *wait, uint64_t wait_default, unsigned need);

/* The queue URL parses and the password file can be read, before Redis
 * is touched.  CLIENT_EXIT_OK or CLIENT_EXIT_USAGE (reported). */
int client_check_queue_config(const struct client_opts *c);

/* The identity key (-i) and its keyid.  CLIENT_EXIT_OK with *ret (caller
 * frees with EVP_PKEY_free()) or CLIENT_EXIT_USAGE (reported). */
int client_load_identity(
    const struct client_opts *c, EVP_PKEY **ret, char ret_keyid[KEYID_LEN + 1]);
/* submit-job --print-keyid: the identity (option or SIGNET_IDENTITY,
 * never PEM text) and its keyid on stdout, for an operator to put in the
 * agent's policy.  CLIENT_EXIT_OK or CLIENT_EXIT_USAGE (reported). */
int client_print_keyid(struct client_opts *c);
/* The agent attestation key (-a) and its keyid; likewise. */
int client_load_agent(const struct client_opts *c, EVP_PKEY **ret, char ret_keyid[KEYID_LEN + 1]);

/*
 * Signs payload (payload_len bytes of type) with identity as a one-signature
 * DSSE envelope carrying identity's keyid, and the DER of the certificate
 * --cert when given (it must be for identity).  CLIENT_EXIT_OK with *ret
 * (caller frees), CLIENT_EXIT_USAGE (a bad certificate, or an envelope over
 * ENVELOPE_MAX_BYTES) or CLIENT_EXIT_INFRA, reported.
 */
int client_seal(const struct client_opts *c, EVP_PKEY *identity, const char *type,
    const char *payload, size_t payload_len, char **ret, size_t *ret_len);

/* Connects, retrying a queue that does not answer for a few seconds
 * (within --wait).  CLIENT_EXIT_OK with *ret (queue_close()), else
 * CLIENT_EXIT_USAGE or CLIENT_EXIT_INFRA, reported with the URL (password
 * elided) and the system's or server's reason. */
int client_queue_open(const struct client_opts *c, struct queue **ret);

/* XADD, reconnecting a few times on a lost connection.  0 or the queue
 * error (not reported). */
int client_submit(struct queue *q, const char *env, size_t env_len) SG_MUST_CHECK;
/* The same, with the stream entry id of the (last) XADD. */
int client_submit_entry(struct queue *q, const char *env, size_t env_len,
    char ret_id[QUEUE_ENTRY_ID_MAX + 1]) SG_MUST_CHECK;

/* Writes "<len bytes>\n" to stdout and flushes.  0 or SG_ERR_SYSTEM. */
int client_print_stdout(const void *buf, size_t len) SG_MUST_CHECK;

void client_sleep_ms(int64_t ms);

/*
 * Waiting for the agent's answer under <prefix>result:<id>.  A result
 * counts only when its envelope is a result attested by the pinned agent
 * key (verify_result_envelope()), it names job_id and, when job_sha256_hex
 * is not empty, that job payload hash; an attested envelope.* rejection,
 * which anyone who can write to Redis can cause, is reported once and
 * waited past.  Anything else is ignored with at most a few warnings.
 */
struct waiter {
	struct queue *q;
	const char *job_id;
	char job_sha256_hex[SHA256_HEX_LEN + 1]; /* "" : any payload */
	EVP_PKEY *agent;
	char agent_keyid[KEYID_LEN + 1];
	/* Called with each verified result (including one unchanged since the
	 * last call): 1 when it ends the wait, 0 to wait for the next write.
	 * NULL: every verified result ends it. */
	int (*is_answer)(struct waiter *w, const struct sg_result *res);
	void *ctx; /* is_answer's */
	/* The envelope of the last result handed out (client_fetch_result,
	 * client_wait_result): owned here, free(w->env) when done. */
	char *env;
	size_t env_len;
	/* The waiter's own state. */
	unsigned nwarned;
	uint8_t last_ignored[SHA256_LEN]; /* hash of the last ignored envelope */
	int has_last_ignored;
	int unauthenticated;                  /* an envelope.* rejection came (reported once) */
	char unauth_code[CLIENT_ESCAPED_MAX]; /* its code, escaped, for the final message */
};

/*
 * One look: GET and check, without waiting.  0 with a verified result and
 * a copy of its payload (caller frees both), SG_ERR_NOT_FOUND when there is
 * none (or only one to ignore: *ret_ignored then), or a queue error.
 * With ret_why non-NULL, an ignored result is not warned about but its
 * reason is left there (static text) and SG_ERR_VERIFY returned.
 */
int client_fetch_result(struct waiter *w, struct sg_result **ret_res, uint8_t **ret_payload,
    size_t *ret_payload_len, int *ret_ignored, const char **ret_why) SG_MUST_CHECK;

/*
 * Waits until deadline_ms (monotonic) for a verified result that is_answer
 * accepts, woken by BLPOP on <prefix>done:<id> and re-reading at least
 * every two seconds (several waiters share that list).  0 with the result
 * and its payload (caller frees), SG_ERR_TIMEOUT, or the queue error that
 * made it give up after a few reconnects.
 */
int client_wait_result(struct waiter *w, int64_t deadline_ms, struct sg_result **ret_res,
    uint8_t **ret_payload, size_t *ret_payload_len) SG_MUST_CHECK;

/*
 * approvals.c: what the agent made of an approver's decision, from the
 * pending result read before the decision was pushed (before) and one
 * read after (now), both verified and bound to the job.  No I/O.
 */
enum approve_outcome {
	APPROVE_WAITING = 0, /* no sign of it yet */
	APPROVE_COUNTED,     /* counted: approve — keyid among the received (pending) or
	                        the approvals (signed); deny — rejected with
	                        approval.denied naming keyid */
	APPROVE_REFUSED,     /* a refused entry for keyid that before did not have */
	APPROVE_DECIDED,     /* decided (signed, rejected, failed) without it */
};

/*
 * The outcome for the decision d signed by keyid.  With APPROVE_REFUSED,
 * *ret_refused (when not NULL) is the index of the new entry in
 * now->refused.
 */
enum approve_outcome approve_outcome(const struct sg_result *before, const struct sg_result *now,
    const char *keyid, enum sg_decision d, size_t *ret_refused);

/* Whether res lists keyid among its received (or, signed, its counted)
 * approvals. */
int approve_has_keyid(const struct sg_result *res, const char *keyid);

/* Whether a rejection message "denied by <identity> (<keyid>)[: comment]"
 * names keyid as the denier. */
int approve_denied_by(const char *message, const char *keyid);

/* The usage lines of the queue options both commands take (client_opts). */
#define CLIENT_QUEUE_OPTIONS_USAGE                                                                 \
	"      --prefix PREFIX         Redis key prefix (default signet:, env SIGNET_PREFIX)\n"    \
	"      --redis-password-file PATH\n"                                                       \
	"                              Redis password (env SIGNET_REDIS_PASSWORD_FILE)\n"          \
	"      --redis-ca-file PATH    rediss://: CA certificates, PEM (default: the\n"            \
	"                              system's; env SIGNET_REDIS_CA_FILE)\n"                      \
	"      --redis-cert PATH, --redis-key PATH\n"                                              \
	"                              rediss://: client certificate and its key (mode\n"          \
	"                              0600) (env SIGNET_REDIS_CERT, SIGNET_REDIS_KEY)\n"          \
	"      --redis-server-name NAME\n"                                                         \
	"                              rediss://: the name the server's certificate must\n"        \
	"                              carry (default: the URL's host)\n"

#endif
