/*
 * client.c — the parts of submit-job and signet-approve that are the same
 * (client.h): options, keys, the queue, envelopes, and the wait for an
 * attested result.
 *
 * Redis is hostile: any value under a result key may be a forgery.  A
 * result counts only when its envelope is a result signed by the pinned
 * agent key, it names our job id and (once we know it) the SHA-256 of the
 * job payload; anything else is ignored with a few warnings and the wait
 * goes on until the deadline.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "cli.h"
#include "client.h"
#include "crypto.h"
#include "sgtime.h"

#define WAIT_SLICE_MS           2000 /* one BLPOP; below the queue's command timeout */
#define POLL_MS                 1000 /* when BLPOP cannot be used */
#define WOKEN_PAUSE_MS          100  /* after a wake-up that brought nothing new */
#define QUEUE_RETRIES_MAX       5    /* consecutive reconnects before giving up */
#define BACKOFF_FIRST_MS        250
#define BACKOFF_MAX_MS          4000
#define IGNORED_WARN_MAX        3 /* warnings about ignored results */
/* The first connect: retried for at most this long (or --wait). */
#define CLIENT_CONNECT_RETRY_MS (BACKOFF_FIRST_MS * 31)

static const char *client_prog = "signet";

void
client_init(const char *prog)
{
	client_prog = prog;
}

void
client_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(client_prog, fmt, ap);
	va_end(ap);
}

void
client_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
client_print_stdout(const void *buf, size_t len)
{
	if ((len > 0 && fwrite(buf, 1, len, stdout) != len) || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		return SG_ERR_SYSTEM;
	return 0;
}

int
client_option(struct client_opts *c, int opt, const char *arg, const char **ret_wait)
{
	switch (opt) {
	case 'i':
		c->identity = arg;
		return 1;
	case CLIENT_OPT_CERT:
		c->cert = arg;
		return 1;
	case 'r':
		c->redis = arg;
		return 1;
	case 'a':
		c->agent_pubkey = arg;
		return 1;
	case CLIENT_OPT_PREFIX:
		c->prefix = arg;
		return 1;
	case CLIENT_OPT_PASSWORD_FILE:
		c->password_file = arg;
		return 1;
	case CLIENT_OPT_REDIS_CA:
		c->tls.ca_file = arg;
		return 1;
	case CLIENT_OPT_REDIS_CERT:
		c->tls.cert_file = arg;
		return 1;
	case CLIENT_OPT_REDIS_KEY:
		c->tls.key_file = arg;
		return 1;
	case CLIENT_OPT_REDIS_NAME:
		c->tls.server_name = arg;
		return 1;
	case 'w':
		*ret_wait = arg;
		return 1;
	case CLIENT_OPT_JSON:
		c->json = 1;
		return 1;
	}
	return 0;
}

void
client_start(const char *prog)
{
	/* A closed stdout or Redis socket must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* A short-lived command: the kernel frees everything at exit, faster
	 * than OpenSSL's own clean-up (about 1 ms).  Secrets are wiped where
	 * they are used, not by that clean-up. */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	client_init(prog);
	log_init(prog, getenv("SIGNET_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
	    LOG_FORMAT_PLAIN);
}

int
client_options_finish(struct client_opts *c, const char *wait, uint64_t wait_default, unsigned need)
{
	/* Never echoed: it may be a private key pasted into a CI variable. */
	static const struct {
		const char *opt, *env;
	} paths[] = {
		{ "--identity", "SIGNET_IDENTITY" },
		{ "--agent-pubkey", "SIGNET_AGENT_PUBKEY" },
		{ "--redis-password-file", "SIGNET_REDIS_PASSWORD_FILE" },
		{ "--cert", "SIGNET_CERT" },
		{ "--redis-ca-file", "SIGNET_REDIS_CA_FILE" },
		{ "--redis-cert", "SIGNET_REDIS_CERT" },
		{ "--redis-key", "SIGNET_REDIS_KEY" },
	};
	const char *v[nitems(paths)];
	size_t i;

	c->identity = cli_opt_or_env(c->identity, "SIGNET_IDENTITY");
	c->cert = cli_opt_or_env(c->cert, "SIGNET_CERT");
	c->redis = cli_opt_or_env(c->redis, "SIGNET_REDIS");
	c->agent_pubkey = cli_opt_or_env(c->agent_pubkey, "SIGNET_AGENT_PUBKEY");
	c->prefix = cli_opt_or_env(c->prefix, "SIGNET_PREFIX");
	c->password_file = cli_opt_or_env(c->password_file, "SIGNET_REDIS_PASSWORD_FILE");
	c->tls.ca_file = cli_opt_or_env(c->tls.ca_file, "SIGNET_REDIS_CA_FILE");
	c->tls.cert_file = cli_opt_or_env(c->tls.cert_file, "SIGNET_REDIS_CERT");
	c->tls.key_file = cli_opt_or_env(c->tls.key_file, "SIGNET_REDIS_KEY");
	c->tls.server_name = cli_opt_or_env(c->tls.server_name, "SIGNET_REDIS_SERVER_NAME");

	c->wait_s = wait_default;
	if (wait != NULL && parse_u64(wait, CLIENT_WAIT_MAX_S, &c->wait_s) != 0) {
		client_msg("invalid --wait: seconds from 0 to %d", CLIENT_WAIT_MAX_S);
		return CLIENT_EXIT_USAGE;
	}
	if ((need & CLIENT_NEED_IDENTITY) && c->identity == NULL) {
		client_msg("missing --identity (or SIGNET_IDENTITY)");
		return CLIENT_EXIT_USAGE;
	}
	v[0] = c->identity;
	v[1] = c->agent_pubkey;
	v[2] = c->password_file;
	v[3] = c->cert;
	v[4] = c->tls.ca_file;
	v[5] = c->tls.cert_file;
	v[6] = c->tls.key_file;
	for (i = 0; i < nitems(v); i++) {
		if (looks_like_file_content(v[i])) {
			client_msg("%s (or %s) expects a path to a key file, not the key itself; "
				   "in GitLab use a variable of type File",
			    paths[i].opt, paths[i].env);
			return CLIENT_EXIT_USAGE;
		}
	}
	if (c->redis == NULL) {
		client_msg("missing --redis (or SIGNET_REDIS)");
		return CLIENT_EXIT_USAGE;
	}
	if (((need & CLIENT_NEED_AGENT) || ((need & CLIENT_NEED_AGENT_TO_WAIT) && c->wait_s > 0)) &&
	    c->agent_pubkey == NULL) {
		client_msg("missing --agent-pubkey (or SIGNET_AGENT_PUBKEY)");
		return CLIENT_EXIT_USAGE;
	}
	if (c->prefix == NULL)
		c->prefix = QUEUE_DEFAULT_PREFIX;
	if (strlen(c->prefix) > QUEUE_PREFIX_MAX) {
		client_msg("invalid --prefix: at most %d bytes", QUEUE_PREFIX_MAX);
		return CLIENT_EXIT_USAGE;
	}
	return -1;
}

int
client_check_queue_config(const struct client_opts *c)
{
	struct queue_url *url = NULL;
	char *pw = NULL;
	size_t pw_len = 0;
	int r;

	if (queue_url_parse(c->redis, &url) != 0) {
		client_msg("invalid --redis URL: redis://[user:password@]host:port[/db], "
			   "rediss://... (TLS), unix:///path or sentinel://...");
		return CLIENT_EXIT_USAGE;
	}
	queue_url_free(url);
	if (c->password_file != NULL) {
		if ((r = read_secret_file(c->password_file, &pw, &pw_len)) != 0) {
			client_msg("cannot use Redis password file %s: %s", c->password_file,
			    sg_strerror(r));
			return CLIENT_EXIT_USAGE;
		}
		freezero(pw, pw_len + 1);
	}
	return CLIENT_EXIT_OK;
}

int
client_load_identity(const struct client_opts *c, EVP_PKEY **ret, char ret_keyid[KEYID_LEN + 1])
{
	EVP_PKEY *pk = NULL;
	int r;

	if ((r = crypto_load_privkey(c->identity, &pk)) != 0) {
		client_msg("cannot load identity key %s: %s", c->identity, sg_strerror(r));
		return CLIENT_EXIT_USAGE;
	}
	if ((r = crypto_keyid(pk, ret_keyid)) != 0) {
		client_msg("cannot use identity key %s: %s", c->identity, sg_strerror(r));
		EVP_PKEY_free(pk);
		return CLIENT_EXIT_USAGE;
	}
	*ret = pk;
	return CLIENT_EXIT_OK;
}

int
client_load_agent(const struct client_opts *c, EVP_PKEY **ret, char ret_keyid[KEYID_LEN + 1])
{
	EVP_PKEY *pk = NULL;
	int r;

	if ((r = crypto_load_pubkey(c->agent_pubkey, &pk)) != 0) {
		client_msg("cannot load agent public key %s: %s", c->agent_pubkey, sg_strerror(r));
		return CLIENT_EXIT_USAGE;
	}
	if ((r = crypto_keyid(pk, ret_keyid)) != 0) {
		client_msg("cannot use agent public key %s: %s", c->agent_pubkey, sg_strerror(r));
		EVP_PKEY_free(pk);
		return CLIENT_EXIT_USAGE;
	}
	*ret = pk;
	return CLIENT_EXIT_OK;
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
		client_msg("cannot load certificate %s: %s", path, sg_strerror(r));
		return r;
	}
	r = SG_ERR_CONFIG;
	if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, 0)), identity) != 1) {
		client_msg("certificate %s is not for the identity key", path);
		goto out;
	}
	if ((len = i2d_X509(sk_X509_value(certs, 0), &der)) <= 0) {
		client_msg("cannot encode certificate %s", path);
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
make_envelope(EVP_PKEY *identity, const char *type, const uint8_t *cert, size_t cert_len,
    const char *payload, size_t payload_len, char **ret_env, size_t *ret_env_len)
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
	if ((r = crypto_dsse_sign(
		 identity, type, (const uint8_t *)payload, payload_len, &sig, &sig_len)) != 0)
		goto out;
	if ((r = envelope_new(type, (const uint8_t *)payload, payload_len, &env)) != 0)
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

int
client_seal(const struct client_opts *c, EVP_PKEY *identity, const char *type, const char *payload,
    size_t payload_len, char **ret, size_t *ret_len)
{
	uint8_t *cert_der = NULL;
	size_t cert_len = 0;
	int r, ex = CLIENT_EXIT_USAGE;

	if (c->cert != NULL && load_cert_der(c->cert, identity, &cert_der, &cert_len) != 0)
		goto out;
	if ((r = make_envelope(
		 identity, type, cert_der, cert_len, payload, payload_len, ret, ret_len)) != 0) {
		client_msg("cannot sign with %s: %s", c->identity, sg_strerror(r));
		ex = r == SG_ERR_ENVELOPE_TOO_LARGE ? CLIENT_EXIT_USAGE : CLIENT_EXIT_INFRA;
		goto out;
	}
	ex = CLIENT_EXIT_OK;
out:
	OPENSSL_free(cert_der);
	return ex;
}

/* Exit status for an error from queue_open(). */
static int
queue_error_exit(int r)
{
	switch (r) {
	case SG_ERR_PARSE:
	case SG_ERR_CONFIG:
	case SG_ERR_SECRET_FILE:
	case SG_ERR_INVALID_ARGUMENT:
		return CLIENT_EXIT_USAGE;
	default:
		return CLIENT_EXIT_INFRA;
	}
}

/*
 * Connects, retrying a queue that does not answer (a Redis restarting, a
 * failover) QUEUE_RETRIES_MAX times with backoff (about 8 s in all, never
 * longer than --wait when that is set).  A refused password, a server that
 * is not Redis or a bad configuration is not retried.
 */
int
client_queue_open(const struct client_opts *c, struct queue **ret)
{
	struct queue_opts qo;
	char why[160], shown[QUEUE_URL_MAX + 8];
	int64_t backoff = BACKOFF_FIRST_MS, slept = 0, budget;
	int r, ex, attempts = 1;

	budget = c->wait_s > 0 && c->wait_s < CLIENT_CONNECT_RETRY_MS / 1000
	    ? (int64_t)c->wait_s * 1000
	    : CLIENT_CONNECT_RETRY_MS;
	memset(&qo, 0, sizeof(qo));
	qo.url = c->redis;
	qo.password_file = c->password_file;
	qo.prefix = c->prefix;
	qo.tls = &c->tls;
	for (;;) {
		if ((r = queue_open_reason(&qo, ret, why, sizeof(why))) == 0)
			return CLIENT_EXIT_OK;
		if (r != SG_ERR_QUEUE_UNAVAILABLE || attempts > QUEUE_RETRIES_MAX ||
		    slept + backoff > budget)
			break;
		client_sleep_ms(backoff);
		slept += backoff;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		attempts++;
	}
	ex = queue_error_exit(r);
	queue_url_display(c->redis, shown, sizeof(shown));
	if (ex == CLIENT_EXIT_USAGE)
		client_msg("invalid queue configuration (--redis, --prefix, "
			   "--redis-password-file, --redis-ca-file, --redis-cert, --redis-key): %s",
		    why[0] != '\0' ? why : sg_strerror(r));
	else if (attempts > 1)
		client_msg("cannot connect to the queue at %s: %s (%d attempts in %lld s)", shown,
		    why[0] != '\0' ? why : sg_strerror(r), attempts,
		    (long long)((slept + 999) / 1000));
	else
		client_msg("cannot connect to the queue at %s: %s", shown,
		    why[0] != '\0' ? why : sg_strerror(r));
	return ex;
}

/* Pushing twice is harmless: the agent answers a replay of the identical
 * payload with the same result, and counts an approver once. */
int
client_submit(struct queue *q, const char *env, size_t env_len)
{
	char id[QUEUE_ENTRY_ID_MAX + 1];

	return client_submit_entry(q, env, env_len, id);
}

int
client_submit_entry(
    struct queue *q, const char *env, size_t env_len, char ret_id[QUEUE_ENTRY_ID_MAX + 1])
{
	int64_t backoff = BACKOFF_FIRST_MS;
	int r, retries = 0;

	for (;;) {
		r = queue_submit_entry(q, env, env_len, ret_id);
		if (r != SG_ERR_QUEUE_UNAVAILABLE || retries >= QUEUE_RETRIES_MAX)
			return r;
		do {
			retries++;
			client_sleep_ms(backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			r = queue_reconnect(q);
		} while (r == SG_ERR_QUEUE_UNAVAILABLE && retries < QUEUE_RETRIES_MAX);
		if (r != 0)
			return r;
	}
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
	if (strcmp(why, RESULTCHECK_NOT_AGENT) == 0) {
		/* The most common cause: the wrong agent key pinned here. */
		struct dsse_envelope *env = NULL;
		char signer[KEYID_LEN + 1] = "?";

		if (envelope_parse(buf, len, &env) == 0 && env->nsigs > 0 &&
		    strlen(env->sigs[0].keyid) <= KEYID_LEN)
			snprintf(signer, sizeof(signer), "%s", env->sigs[0].keyid);
		envelope_free(env);
		client_msg(
		    "warning: ignoring a result under job %s: signed by keyid %s, not by the "
		    "agent key pinned here (keyid %s); if that is your agent, check "
		    "SIGNET_AGENT_PUBKEY (or -a)%s",
		    w->job_id, signer, w->agent_keyid,
		    w->nwarned == IGNORED_WARN_MAX ? " (further ones not reported)" : "");
		return;
	}
	client_msg("warning: ignoring a result under job %s: %s%s", w->job_id, why,
	    w->nwarned == IGNORED_WARN_MAX ? " (further ones not reported)" : "");
}

/*
 * Decides whether buf is the agent's answer for our job: an envelope of
 * type result, signed by the pinned agent key, whose payload parses
 * (verify_result_envelope()), names our id and, when we know it, carries
 * the SHA-256 of the job payload.  0 with the result and a copy of its
 * payload, or an error with *ret_why set.
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
	if (w->job_sha256_hex[0] != '\0' && strcmp(res->job_sha256, w->job_sha256_hex) != 0) {
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
 * caused: an envelope.* code (docs/errors.md).  The agent publishes those
 * for whatever envelope carried our payload, our own or a copy with its
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
	char msg[CLIENT_ESCAPED_MAX];

	if (w->unauthenticated)
		return;
	w->unauthenticated = 1;
	log_escape(res->error_code, RESULT_MESSAGE_MAX, w->unauth_code, sizeof(w->unauth_code));
	log_escape(res->error_message != NULL ? res->error_message : "", RESULT_MESSAGE_MAX, msg,
	    sizeof(msg));
	client_msg("an unauthenticated rejection came for this id: %s: %s (anyone who can write "
		   "to Redis can cause one); waiting for the agent's answer to our own job",
	    w->unauth_code, msg);
}

int
client_fetch_result(struct waiter *w, struct sg_result **ret_res, uint8_t **ret_payload,
    size_t *ret_payload_len, int *ret_ignored, const char **ret_why)
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
		why = "larger than an envelope may be";
		if (ret_why != NULL) {
			*ret_why = why;
			return SG_ERR_VERIFY;
		}
		warn_ignored(w, "", 0, why);
		*ret_ignored = 1;
		return SG_ERR_NOT_FOUND;
	}
	if (r != 0)
		return r;
	r = check_result(w, buf, len, &res, &payload, &payload_len, &why);
	if (r == SG_ERR_ALLOC)
		goto out;
	if (r != 0 && ret_why != NULL) {
		*ret_why = why;
		r = SG_ERR_VERIFY;
		goto out;
	}
	if (r != 0) {
		warn_ignored(w, buf, len, why);
		*ret_ignored = 1;
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if (ret_why == NULL && is_unauthenticated(res)) {
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
	free(w->env);
	w->env = buf;
	w->env_len = len;
	buf = NULL;
	r = 0;
out:
	result_free(res);
	free(payload);
	free(buf);
	return r;
}

int
client_wait_result(struct waiter *w, int64_t deadline_ms, struct sg_result **ret_res,
    uint8_t **ret_payload, size_t *ret_payload_len)
{
	struct sg_result *res = NULL;
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	int64_t left, backoff = BACKOFF_FIRST_MS;
	int r, retries = 0, ignored = 0, warned_protocol = 0;

	for (;;) {
		r = client_fetch_result(w, &res, &payload, &payload_len, &ignored, NULL);
		if (r == 0) {
			if (w->is_answer == NULL || w->is_answer(w, res)) {
				*ret_res = res;
				*ret_payload = payload;
				*ret_payload_len = payload_len;
				return 0;
			}
			/* Not the answer yet (a pending result): wait for the
			 * next write, as for no result at all. */
			result_free(res);
			free(payload);
			res = NULL;
			payload = NULL;
			ignored = 1;
			r = SG_ERR_NOT_FOUND;
		}
		if (r == SG_ERR_NOT_FOUND) {
			left = deadline_ms - sgtime_mono_ms();
			if (left <= 0)
				return SG_ERR_TIMEOUT;
			r = queue_wait_done(
			    w->q, w->job_id, (int)(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS));
			if (r == 0 || r == SG_ERR_TIMEOUT) {
				retries = 0;
				backoff = BACKOFF_FIRST_MS;
				/* Someone keeps waking us with nothing new to
				 * read: do not let that spin. */
				if (r == 0 && ignored)
					client_sleep_ms(WOKEN_PAUSE_MS);
				continue;
			}
		}
		left = deadline_ms - sgtime_mono_ms();
		if (r == SG_ERR_QUEUE_PROTOCOL) {
			/* A value of the wrong type under one of our keys
			 * (anyone can write to Redis): poll instead. */
			if (!warned_protocol)
				client_msg(
				    "warning: unexpected reply from the queue for job %s; polling",
				    w->job_id);
			warned_protocol = 1;
			if (left <= 0)
				return SG_ERR_TIMEOUT;
			client_sleep_ms(left < POLL_MS ? left : POLL_MS);
			continue;
		}
		if (r != SG_ERR_QUEUE_UNAVAILABLE)
			return r;
		/* Lost the connection: reconnect with backoff. */
		for (;;) {
			if (retries >= QUEUE_RETRIES_MAX || left <= 0)
				return r;
			retries++;
			client_sleep_ms(left < backoff ? left : backoff);
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

int
client_print_keyid(struct client_opts *c)
{
	char keyid[KEYID_LEN + 1];
	EVP_PKEY *k = NULL;
	int ex;

	c->identity = cli_opt_or_env(c->identity, "SIGNET_IDENTITY");
	if (c->identity == NULL) {
		client_msg("missing --identity (or SIGNET_IDENTITY)");
		return CLIENT_EXIT_USAGE;
	}
	if (looks_like_file_content(c->identity)) {
		client_msg("--identity (or SIGNET_IDENTITY) expects a path to a key file, not the "
			   "key itself; in GitLab use a variable of type File");
		return CLIENT_EXIT_USAGE;
	}
	if ((ex = client_load_identity(c, &k, keyid)) != CLIENT_EXIT_OK)
		return ex;
	EVP_PKEY_free(k);
	if (printf("%s\n", keyid) < 0 || fflush(stdout) != 0) {
		client_msg("cannot write to stdout");
		return CLIENT_EXIT_INFRA;
	}
	return CLIENT_EXIT_OK;
}
