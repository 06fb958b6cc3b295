/*
 * signer.c — signet-signer's service (signer.h): the process that holds
 * the HSM PIN and the PKCS#11 sessions, answering only the requests of
 * signer_proto.h, in the manner of OpenSSH's monitor.
 *
 * Its configuration (module, token, PIN file, keys and their mechanisms,
 * journal) comes from signer_main.c, which reads the agent's configuration
 * file itself; nothing that reaches it over a channel names a module, a
 * token, a file or a key URI.  It parses nothing but frames from its
 * channels (fds SP_CHANNEL_FD0...).  Before reading anything it makes
 * itself non-dumpable, disables core dumps, asks for SIGTERM when its
 * parent goes, points stdin/stdout at /dev/null and closes every other
 * fd; it checks that exactly `sessions` AF_UNIX SOCK_SEQPACKET channels are
 * there.  It opens no network connection; the PIN file is read by
 * p11_open() and the PIN is wiped right after C_Login.
 *
 * Requests are looked up in a fixed table {type, name, min/max payload
 * length, states, handler}; each handler re-validates its request (key
 * index configured, digest length matching the mechanism).  Anything that
 * does not fit — unknown type, bad length or frame, a request out of order
 * (SIGN before OPEN), a bad index — is logged in one line on stderr and the
 * process exits SP_EXIT_PROTOCOL at once, without answering.
 *
 * The journal: every signature is appended to the journal (sjournal.h)
 * with write(2) before the response that carries it is sent, so a
 * signature never leaves without its record; a thread makes the journal
 * durable (fdatasync) within JOURNAL_SYNC_MS, and so does the exit.
 *
 * Token loss: a SIGN that PKCS#11 answers with "device, token, session or
 * login gone" (or any signing failure: SoftHSM answers a token that was
 * away with handle errors) is answered with that error, and the next
 * request finalizes PKCS#11 and opens it again (new login, keys found
 * again, each key's public key must be the one seen at OPEN), at most
 * every REOPEN_BACKOFF_MS.  `p11` is swapped under `p11_lock` (held shared
 * by every request that uses it).
 *
 * Threads: until OPEN succeeds only the main thread runs and only channel 0
 * is read; OPEN then starts one thread per further channel.  Any thread
 * ends the whole process with _exit(): on end of file (the agent closed or
 * died: SP_EXIT_OK) or on a violation.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "crypto.h"
#include "hsm.h"
#include "log.h"
#include "p11.h"
#include "sgtime.h"
#include "signer.h"
#include "signer_proto.h"
#include "sjournal.h"
#include "util.h"

#define SIGNER_FD_SCAN_MAX 65536 /* fds closed one by one when close_range() is missing */
#define JOURNAL_SYNC_MS    200   /* longest a journal record stays unsynced */
#define REOPEN_BACKOFF_MS  250   /* shortest wait between two PKCS#11 re-opens */

enum signer_state {
	ST_NEW = 1,   /* waiting for OPEN */
	ST_READY = 4, /* p11_open() succeeded: PUBKEY, SIGN, PING */
};

static struct {
	enum signer_state state;
	const struct signer_opts *o;
	pthread_rwlock_t p11_lock; /* shared by users of p11, exclusive to swap it */
	struct p11 *p11;           /* NULL while the token is away */
	uint64_t gen;              /* counts re-opens (under p11_lock) */
	int64_t next_reopen_ms;    /* CLOCK_MONOTONIC; under p11_lock */
	EVP_PKEY **pub;            /* per key, from OPEN; never changes after */
	enum sg_mech *mech;
	/* The journal, under jlock. */
	pthread_mutex_t jlock;
	pthread_cond_t jcond;
	int jfd;
	uint64_t jseq;
	uint8_t jprev[SHA256_LEN];
	int jdirty;
} sg;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* One line, then out: a peer that breaks the protocol gets no answer. */
static void
violation(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("protocol violation: %s; exiting", msg);
	if (sg.jfd >= 0)
		(void)fdatasync(sg.jfd);
	_exit(SP_EXIT_PROTOCOL);
}

static void fail(const char *what) __attribute__((noreturn));

static void
fail(const char *what)
{
	log_error("%s: %s; exiting", what, strerror(errno));
	_exit(SP_EXIT_SYSTEM);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
respond(int fd, struct sp_wr *w)
{
	int r = sp_send(fd, w);

	explicit_bzero(w, sizeof(*w));
	if (r == SG_ERR_LIMIT) {
		log_error("response over %d bytes; exiting", SP_FRAME_MAX);
		_exit(SP_EXIT_SYSTEM);
	}
	if (r < 0)
		fail("sending a response");
}

/* ---- the journal ---- */

/* Reads the journal to its end (the chain must hold), then appends. */
static void
journal_open(const char *path)
{
	char why[256] = "";
	int r;

	sg.jfd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sg.jfd < 0) {
		log_error("journal %s: %s; exiting", path, strerror(errno));
		_exit(SP_EXIT_SYSTEM);
	}
	r = sjournal_scan(sg.jfd, NULL, NULL, &sg.jseq, sg.jprev, why, sizeof(why));
	if (r != 0) {
		log_error("journal %s: %s; it is not appended to (move it aside after an "
			  "investigation); exiting",
		    path, why[0] ? why : sg_strerror(r));
		_exit(SP_EXIT_SYSTEM);
	}
}

/* Appends the record of one signature.  0 or SG_ERR_SYSTEM/SG_ERR_LIMIT:
 * then the signature must not be released. */
static int
journal_append(
    const char *key, const uint8_t *job, const uint8_t digest[SHA256_LEN], uint64_t *ret_seq)
{
	char line[SJOURNAL_LINE_MAX];
	size_t len = 0, off = 0;
	ssize_t n;
	int r;

	pthread_mutex_lock(&sg.jlock);
	r = sjournal_format(line, &len, sg.jseq + 1, sgtime_now(), key, job, digest, sg.jprev);
	while (r == 0 && off < len) {
		n = write(sg.jfd, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("journal: write: %s; no signature is released", strerror(errno));
			r = SG_ERR_SYSTEM;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0) {
		crypto_sha256(line, len - 1, sg.jprev);
		*ret_seq = ++sg.jseq;
		if (!sg.jdirty) {
			sg.jdirty = 1;
			pthread_cond_signal(&sg.jcond);
		}
	} else if (off > 0) {
		/* A part of a record is in the file: the chain is broken from
		 * here; no further signature may go out unrecorded. */
		log_error("journal: a record was cut short; exiting");
		_exit(SP_EXIT_SYSTEM);
	}
	pthread_mutex_unlock(&sg.jlock);
	return r;
}

static void *
journal_syncer(void *arg)
{
	struct timespec ts = { 0, JOURNAL_SYNC_MS * 1000000L };

	(void)arg;
	pthread_mutex_lock(&sg.jlock);
	for (;;) {
		while (!sg.jdirty)
			pthread_cond_wait(&sg.jcond, &sg.jlock);
		sg.jdirty = 0;
		pthread_mutex_unlock(&sg.jlock);
		if (fdatasync(sg.jfd) != 0)
			fail("journal: fdatasync");
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		ts.tv_sec = 0;
		ts.tv_nsec = JOURNAL_SYNC_MS * 1000000L;
		pthread_mutex_lock(&sg.jlock);
	}
	return NULL;
}

static void finish(void) __attribute__((noreturn));

/* End of file from the agent: everything recorded is made durable. */
static void
finish(void)
{
	if (sg.jfd >= 0 && fdatasync(sg.jfd) != 0)
		fail("journal: fdatasync");
	_exit(SP_EXIT_OK);
}

/* ---- PKCS#11 ---- */

/* Whether the keys of p are the ones seen at OPEN. */
static int
same_keys(struct p11 *p)
{
	const struct hsm_config *cfg = sg.o->hsm;
	EVP_PKEY *pk = NULL;
	enum sg_mech mech;
	size_t i;
	int same = 1;

	for (i = 0; i < cfg->nkeys && same; i++) {
		if (p11_public_key(p, i, &pk) != 0 || p11_mech(p, i, &mech) != 0)
			return 0;
		same = EVP_PKEY_eq(pk, sg.pub[i]) == 1 && mech == sg.mech[i];
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return same;
}

/*
 * Closes PKCS#11 and opens it again, unless another thread did since
 * generation `gen` was seen or the backoff has not passed.  The caller
 * holds no lock.
 */
static void
reopen(uint64_t gen)
{
	char why[SP_REASON_MAX] = "";
	struct p11 *p = NULL;
	int r;

	pthread_rwlock_wrlock(&sg.p11_lock);
	if (sg.gen != gen || mono_ms() < sg.next_reopen_ms) {
		pthread_rwlock_unlock(&sg.p11_lock);
		return;
	}
	p11_close(sg.p11);
	sg.p11 = NULL;
	sg.gen++;
	r = p11_open(sg.o->hsm, &p, why, sizeof(why));
	if (r == 0 && !same_keys(p)) {
		snprintf(why, sizeof(why), "the token's keys are not the ones it had");
		p11_close(p);
		p = NULL;
		r = SG_ERR_CONFIG;
	}
	if (r != 0) {
		log_error(
		    "PKCS#11 opened again: %s; trying again later", why[0] ? why : sg_strerror(r));
		sg.next_reopen_ms = mono_ms() + REOPEN_BACKOFF_MS;
	} else {
		log_info("PKCS#11 opened again after the token was lost");
		sg.p11 = p;
	}
	pthread_rwlock_unlock(&sg.p11_lock);
}

/* ---- handlers: each re-validates what the table could not ---- */

static void *serve_thread(void *arg);

/* The attestation key must be no other configured key: with `raw` on a
 * signing key that is also the attestation key, a submitter could have a
 * forged result signed. */
static int
attest_key_apart(char *why, size_t whylen)
{
	const struct hsm_config *cfg = sg.o->hsm;
	size_t a = sg.o->attest_index, i;

	if (a >= cfg->nkeys)
		return 0;
	for (i = 0; i < cfg->nkeys; i++) {
		if (i != a && EVP_PKEY_eq(sg.pub[i], sg.pub[a]) == 1) {
			errbuf_set(why, whylen,
			    "key %.100s is the attestation key (the same HSM key): a signing key "
			    "must "
			    "never be the attestation key",
			    cfg->keys[i].name);
			return SG_ERR_CONFIG;
		}
	}
	return 0;
}

static void
h_open(int fd, struct sp_rd *p)
{
	const struct hsm_config *cfg = sg.o->hsm;
	struct sp_wr w;
	char reason[SP_REASON_MAX] = "";
	pthread_attr_t attr;
	pthread_t t;
	unsigned i;
	size_t k;
	int r;

	(void)p;
	sg.pub = calloc(cfg->nkeys + 1, sizeof(*sg.pub));
	sg.mech = calloc(cfg->nkeys + 1, sizeof(*sg.mech));
	if (sg.pub == NULL || sg.mech == NULL)
		fail("allocating the key list");
	r = p11_open(cfg, &sg.p11, reason, sizeof(reason));
	for (k = 0; r == 0 && k < cfg->nkeys; k++) {
		r = p11_public_key(sg.p11, k, &sg.pub[k]);
		if (r == 0)
			r = p11_mech(sg.p11, k, &sg.mech[k]);
	}
	if (r == 0)
		r = attest_key_apart(reason, sizeof(reason));
	if (r < 0) {
		log_error("%s", reason[0] ? reason : sg_strerror(r));
		sp_wr_response(&w, r);
		sp_put_bytes(&w, reason, strnlen(reason, sizeof(reason)));
		respond(fd, &w);
		_exit(SP_EXIT_OPEN_FAILED);
	}
	sg.state = ST_READY;
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0)
		fail("pthread attributes");
	if ((r = pthread_create(&t, &attr, journal_syncer, NULL)) != 0) {
		errno = r;
		fail("starting the journal thread");
	}
	for (i = 1; i < cfg->sessions; i++) {
		if ((r = pthread_create(&t, &attr, serve_thread,
			 (void *)(intptr_t)(SP_CHANNEL_FD0 + (int)i))) != 0) {
			errno = r;
			fail("starting a channel thread");
		}
	}
	pthread_attr_destroy(&attr);
	sp_wr_response(&w, 0);
	sp_put_u32(&w, (uint32_t)cfg->nkeys);
	for (k = 0; k < cfg->nkeys; k++) {
		sp_put_u8(&w, (uint8_t)sg.mech[k]);
		sp_put_str(&w, cfg->keys[k].name);
	}
	respond(fd, &w);
}

static void
h_pubkey(int fd, struct sp_rd *p)
{
	uint32_t i = sp_get_u32(p);
	unsigned char *der = NULL;
	struct sp_wr w;
	int len;

	if (sp_rd_end(p) != 0 || i >= sg.o->hsm->nkeys)
		violation("PUBKEY for key %u of %zu", i, sg.o->hsm->nkeys);
	len = i2d_PUBKEY(sg.pub[i], &der);
	if (len <= 0 || len > UINT16_MAX) {
		sp_wr_response(&w, SG_ERR_CRYPTO);
	} else {
		sp_wr_response(&w, 0);
		sp_put_u8(&w, (uint8_t)sg.mech[i]);
		sp_put_u16(&w, (uint16_t)len);
		sp_put_bytes(&w, der, (size_t)len);
	}
	OPENSSL_free(der);
	respond(fd, &w);
}

static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static void
h_sign(int fd, struct sp_rd *p)
{
	const struct hsm_config *cfg = sg.o->hsm;
	uint32_t i = sp_get_u32(p), digest_len;
	const uint8_t *job = sp_get_bytes(p, SP_JOB_LEN), *digest;
	uint8_t sig[HSM_SIG_MAX];
	size_t sig_len = 0;
	uint64_t seq = 0, gen;
	struct sp_wr w;
	int r;

	digest_len = sp_get_u32(p);
	if (p->bad || i >= cfg->nkeys)
		violation("SIGN with key %u of %zu", i, cfg->nkeys);
	/* Every mechanism of enum sg_mech signs a SHA-256 digest. */
	if (digest_len != SHA256_LEN)
		violation("SIGN with a %u-byte digest for %s (needs %d)", digest_len,
		    sg_mech_name(sg.mech[i]), SHA256_LEN);
	digest = sp_get_bytes(p, digest_len);
	if (digest == NULL || sp_rd_end(p) != 0)
		violation("SIGN whose digest is not its %u bytes", digest_len);
	pthread_rwlock_rdlock(&sg.p11_lock);
	gen = sg.gen;
	r = sg.p11 != NULL ? p11_sign(sg.p11, i, digest, digest_len, sig, &sig_len)
			   : SG_ERR_HSM_UNAVAILABLE;
	pthread_rwlock_unlock(&sg.p11_lock);
	if (r == SG_ERR_HSM_UNAVAILABLE || r == SG_ERR_HSM_SIGN_FAILED)
		reopen(gen);
	if (r == 0)
		r = journal_append(
		    i == sg.o->attest_index ? SJOURNAL_ATTEST_KEY : cfg->keys[i].name,
		    all_zero(job, SP_JOB_LEN) ? NULL : job, digest, &seq);
	sp_wr_response(&w, r < 0 ? r : 0);
	if (r == 0) {
		sp_put_u64(&w, seq);
		sp_put_bytes(&w, sig, sig_len);
	}
	explicit_bzero(sig, sizeof(sig));
	respond(fd, &w);
}

static void
h_ping(int fd, struct sp_rd *p)
{
	struct sp_wr w;

	(void)p;
	sp_wr_response(&w, 0);
	respond(fd, &w);
}

/* The request table: the whole surface of the key holder. */
static const struct {
	uint8_t type;
	const char *name;
	size_t min, max; /* bytes of payload */
	unsigned states; /* enum signer_state bits in which it is accepted */
	void (*handler)(int fd, struct sp_rd *payload);
} requests[] = {
	{ SP_MSG_OPEN, "OPEN", 0, 0, ST_NEW, h_open },
	{ SP_MSG_PUBKEY, "PUBKEY", 4, 4, ST_READY, h_pubkey },
	{ SP_MSG_SIGN, "SIGN", 4 + SP_JOB_LEN + 4, 4 + SP_JOB_LEN + 4 + SP_DIGEST_MAX, ST_READY,
	    h_sign },
	{ SP_MSG_PING, "PING", 0, 0, ST_READY, h_ping },
};

static void
serve(int fd)
{
	uint8_t buf[SP_FRAME_MAX];
	struct sp_rd payload;
	size_t n = 0, i;
	uint8_t type = 0;
	int r;

	for (;;) {
		r = sp_recv(fd, buf, &n);
		if (r == SG_ERR_NOT_FOUND)
			finish();
		if (r == SG_ERR_LIMIT)
			violation("frame over %d bytes", SP_FRAME_MAX);
		if (r < 0)
			fail("reading a request");
		if (sp_parse_request(buf, n, &type, &payload) != 0)
			violation("malformed frame of %zu bytes", n);
		for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
			if (requests[i].type == type)
				break;
		if (i == sizeof(requests) / sizeof(requests[0]))
			violation("unknown request type %u", (unsigned)type);
		if ((requests[i].states & sg.state) == 0)
			violation("%s out of order", requests[i].name);
		if (payload.len < requests[i].min || payload.len > requests[i].max)
			violation("%s with %zu bytes of payload", requests[i].name, payload.len);
		requests[i].handler(fd, &payload);
	}
}

static void *
serve_thread(void *arg)
{
	serve((int)(intptr_t)arg);
	return NULL;
}

void
signer_harden(void)
{
	struct rlimit rl = { 0, 0 };
	int fd, type = 0;
	socklen_t len = sizeof(type);
	long i;

	sg.jfd = -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		fail("prctl(PR_SET_DUMPABLE)");
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		fail("setrlimit(RLIMIT_CORE)");
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0)
		fail("prctl(PR_SET_PDEATHSIG)");
	signal(SIGPIPE, SIG_IGN);
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		fail("/dev/null");
	if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
		fail("dup2");
	/* Lowest free fd: above the channels when 0-2 were open. */
	if (fd > STDERR_FILENO)
		close(fd);
	if (close_range(SP_CHANNEL_FD0 + HSM_SESSIONS_MAX, ~0U, 0) != 0) {
		for (i = SP_CHANNEL_FD0 + HSM_SESSIONS_MAX; i < SIGNER_FD_SCAN_MAX; i++)
			close((int)i);
	}
	if (getsockopt(SP_CHANNEL_FD0, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    type != SOCK_SEQPACKET)
		violation("fd %d is not a SOCK_SEQPACKET channel (run by signet-agent only)",
		    SP_CHANNEL_FD0);
}

void
signer_serve(const struct signer_opts *o)
{
	int type = 0, domain = 0;
	socklen_t len;
	unsigned i;

	sg.o = o;
	sg.state = ST_NEW;
	if (pthread_rwlock_init(&sg.p11_lock, NULL) != 0 ||
	    pthread_mutex_init(&sg.jlock, NULL) != 0 || pthread_cond_init(&sg.jcond, NULL) != 0)
		fail("locks");
	for (i = 0; i < o->hsm->sessions; i++) {
		len = sizeof(type);
		if (getsockopt(SP_CHANNEL_FD0 + (int)i, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
		    type != SOCK_SEQPACKET)
			violation("the configuration names %u sessions but channel %u is not a "
				  "SOCK_SEQPACKET socket",
			    o->hsm->sessions, i);
		len = sizeof(domain);
		if (getsockopt(SP_CHANNEL_FD0 + (int)i, SOL_SOCKET, SO_DOMAIN, &domain, &len) !=
			0 ||
		    domain != AF_UNIX)
			violation("channel %u is not an AF_UNIX socket", i);
	}
	/* Channels beyond the configured sessions go (signer_harden() closed
	 * everything above the highest possible channel; files that reading
	 * the configuration opened were closed again). */
	for (i = SP_CHANNEL_FD0 + o->hsm->sessions; i < SP_CHANNEL_FD0 + HSM_SESSIONS_MAX; i++) {
		len = sizeof(type);
		if (getsockopt((int)i, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
			close((int)i);
	}
	journal_open(o->journal);
	serve(SP_CHANNEL_FD0);
	finish();
}
