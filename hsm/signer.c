/*
 * signer.c — signet-signer: the process that holds the HSM PIN and the
 * PKCS#11 sessions, started by the agent (hsm_client.c) and answering only
 * the requests of signer_proto.h, in the manner of OpenSSH's monitor.
 *
 * It takes no arguments and parses nothing but frames from its channels
 * (fds SP_CHANNEL_FD0...).  Before reading anything it makes itself
 * non-dumpable, disables core dumps, asks for SIGTERM when its parent
 * goes, points stdin/stdout at /dev/null and closes every other fd; after
 * INIT it checks that exactly `sessions` AF_UNIX SOCK_SEQPACKET channels
 * are there and closes anything above them.  It opens no network
 * connection; the PIN file is read by p11_open() and the PIN is wiped
 * right after C_Login.
 *
 * Requests are looked up in a fixed table {type, name, min/max payload
 * length, states, handler}; each handler re-validates its request (key
 * index configured, digest length matching the mechanism).  Anything that
 * does not fit — unknown type, bad length or frame, a request out of order
 * (INIT twice, SIGN before OPEN), a bad index — is logged in one line on
 * stderr and the process exits SP_EXIT_PROTOCOL at once, without answering.
 *
 * Threads: until OPEN succeeds only the main thread runs and only channel 0
 * is read, so `state` and the configuration need no lock; OPEN then starts
 * one thread per further channel (pthread_create orders those writes
 * before the threads' reads) and nothing changes them afterwards.  Each
 * thread serves one channel; p11_sign() takes one of the `sessions`
 * PKCS#11 sessions, so with one request per channel none ever waits.
 * Any thread ends the whole process with _exit(): on end of file (the
 * agent closed or died: SP_EXIT_OK) or on a violation.
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
#include <unistd.h>

#include <openssl/x509.h>

#include "hsm.h"
#include "log.h"
#include "p11.h"
#include "signer_proto.h"
#include "util.h"

#define SIGNER_FD_SCAN_MAX 65536 /* fds closed one by one when close_range() is missing */
#define SIGNER_KEYS_MAX    4096  /* keys one INIT may announce */

enum signer_state {
	ST_NEW = 1,    /* waiting for INIT */
	ST_CONFIG = 2, /* INIT seen: KEYs, then OPEN */
	ST_READY = 4,  /* p11_open() succeeded: PUBKEY, SIGN, PING */
};

static struct {
	enum signer_state state;
	unsigned sessions;
	char *module, *token, *pin_file;
	struct hsm_key_spec *keys; /* nkeys entries; name and uri are ours */
	size_t nkeys, keys_seen;
	struct p11 *p11;
} sg = { ST_NEW, 0, NULL, NULL, NULL, NULL, 0, 0, NULL };

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
	_exit(SP_EXIT_PROTOCOL);
}

static void fail(const char *what) __attribute__((noreturn));

static void
fail(const char *what)
{
	log_error("%s: %s; exiting", what, strerror(errno));
	_exit(SP_EXIT_SYSTEM);
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

/* ---- handlers: each re-validates what the table could not ---- */

static void
h_init(int fd, struct sp_rd *p)
{
	uint32_t sessions = sp_get_u32(p), nkeys = sp_get_u32(p);
	unsigned i;
	int type = 0, domain = 0;
	socklen_t len;

	(void)fd;
	if (sp_get_str(p, &sg.module) != 0 || sp_get_str(p, &sg.token) != 0 ||
	    sp_get_str(p, &sg.pin_file) != 0 || sp_rd_end(p) != 0)
		violation("malformed INIT");
	if (sg.module == NULL || sg.token == NULL || sg.pin_file == NULL)
		violation("INIT without module, token or PIN file");
	if (sessions < 1 || sessions > HSM_SESSIONS_MAX || nkeys > SIGNER_KEYS_MAX)
		violation("INIT with %u sessions and %u keys", sessions, nkeys);
	for (i = 0; i < sessions; i++) {
		len = sizeof(type);
		if (getsockopt(SP_CHANNEL_FD0 + (int)i, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
		    type != SOCK_SEQPACKET)
			violation("INIT names %u sessions but channel %u is not a SOCK_SEQPACKET socket",
			    sessions, i);
		len = sizeof(domain);
		if (getsockopt(SP_CHANNEL_FD0 + (int)i, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
		    domain != AF_UNIX)
			violation("channel %u is not an AF_UNIX socket", i);
	}
	/* Everything above our channels goes (main() closed the rest). */
	for (i = SP_CHANNEL_FD0 + sessions; i < SP_CHANNEL_FD0 + HSM_SESSIONS_MAX; i++)
		close((int)i);
	if (nkeys > 0 && (sg.keys = calloc(nkeys, sizeof(*sg.keys))) == NULL)
		fail("allocating the key list");
	sg.sessions = sessions;
	sg.nkeys = nkeys;
	sg.state = ST_CONFIG;
}

static void
h_key(int fd, struct sp_rd *p)
{
	struct hsm_key_spec *ks;
	char *name = NULL, *uri = NULL;
	uint8_t mech = sp_get_u8(p), from_key = sp_get_u8(p);

	(void)fd;
	if (sg.keys_seen >= sg.nkeys)
		violation("KEY beyond the %zu keys INIT announced", sg.nkeys);
	if (sp_get_str(p, &name) != 0 || sp_get_str(p, &uri) != 0 || sp_rd_end(p) != 0 || from_key > 1)
		violation("malformed KEY %zu", sg.keys_seen);
	ks = &sg.keys[sg.keys_seen++];
	ks->name = name;
	ks->uri = uri;
	ks->mech = (enum sg_mech)mech;
	ks->mech_from_key = from_key;
}

static void *
serve_thread(void *arg);

static void
h_open(int fd, struct sp_rd *p)
{
	struct hsm_config cfg;
	struct sp_wr w;
	char reason[SP_REASON_MAX] = "";
	pthread_attr_t attr;
	pthread_t t;
	unsigned i;
	int r;

	(void)p;
	if (sg.keys_seen != sg.nkeys)
		violation("OPEN after %zu of %zu keys", sg.keys_seen, sg.nkeys);
	memset(&cfg, 0, sizeof(cfg));
	cfg.module = sg.module;
	cfg.token = sg.token;
	cfg.pin_file = sg.pin_file;
	cfg.sessions = sg.sessions;
	cfg.keys = sg.keys;
	cfg.nkeys = sg.nkeys;
	cfg.signer = NULL;
	r = p11_open(&cfg, &sg.p11, reason, sizeof(reason));
	if (r < 0) {
		sp_wr_response(&w, r);
		sp_put_bytes(&w, reason, strnlen(reason, sizeof(reason)));
		respond(fd, &w);
		_exit(SP_EXIT_OPEN_FAILED);
	}
	sg.state = ST_READY;
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0)
		fail("pthread attributes");
	for (i = 1; i < sg.sessions; i++) {
		if ((r = pthread_create(&t, &attr, serve_thread,
		         (void *)(intptr_t)(SP_CHANNEL_FD0 + (int)i))) != 0) {
			errno = r;
			fail("starting a channel thread");
		}
	}
	pthread_attr_destroy(&attr);
	sp_wr_response(&w, 0);
	respond(fd, &w);
}

static void
h_pubkey(int fd, struct sp_rd *p)
{
	uint32_t i = sp_get_u32(p);
	EVP_PKEY *pk = NULL;
	enum sg_mech mech = SG_MECH_ECDSA_SHA256;
	unsigned char *der = NULL;
	struct sp_wr w;
	int len = 0, r;

	if (sp_rd_end(p) != 0 || i >= p11_nkeys(sg.p11))
		violation("PUBKEY for key %u of %zu", i, p11_nkeys(sg.p11));
	r = p11_public_key(sg.p11, i, &pk);
	if (r == 0)
		r = p11_mech(sg.p11, i, &mech);
	if (r == 0) {
		len = i2d_PUBKEY(pk, &der);
		if (len <= 0 || len > UINT16_MAX)
			r = SG_ERR_CRYPTO;
	}
	if (r < 0) {
		sp_wr_response(&w, r);
	} else {
		sp_wr_response(&w, 0);
		sp_put_u8(&w, (uint8_t)mech);
		sp_put_u16(&w, (uint16_t)len);
		sp_put_bytes(&w, der, (size_t)len);
	}
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	respond(fd, &w);
}

static void
h_sign(int fd, struct sp_rd *p)
{
	uint32_t i = sp_get_u32(p), digest_len = sp_get_u32(p);
	const uint8_t *digest;
	enum sg_mech mech;
	uint8_t sig[HSM_SIG_MAX];
	size_t sig_len = 0;
	struct sp_wr w;
	int r;

	if (p->bad || i >= p11_nkeys(sg.p11) || p11_mech(sg.p11, i, &mech) != 0)
		violation("SIGN with key %u of %zu", i, p11_nkeys(sg.p11));
	/* Every mechanism of enum sg_mech signs a SHA-256 digest. */
	if (digest_len != SHA256_LEN)
		violation("SIGN with a %u-byte digest for %s (needs %d)", digest_len, sg_mech_name(mech),
		    SHA256_LEN);
	digest = sp_get_bytes(p, digest_len);
	if (digest == NULL || sp_rd_end(p) != 0)
		violation("SIGN whose digest is not its %u bytes", digest_len);
	r = p11_sign(sg.p11, i, digest, digest_len, sig, &sig_len);
	sp_wr_response(&w, r < 0 ? r : 0);
	if (r == 0)
		sp_put_bytes(&w, sig, sig_len);
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
	{ SP_MSG_INIT, "INIT", 4 + 4 + 3 * 2, 4 + 4 + 3 * (2 + HSM_SIGNER_STR_MAX), ST_NEW, h_init },
	{ SP_MSG_KEY, "KEY", 1 + 1 + 2 * 2, 1 + 1 + 2 * (2 + HSM_SIGNER_STR_MAX), ST_CONFIG, h_key },
	{ SP_MSG_OPEN, "OPEN", 0, 0, ST_CONFIG, h_open },
	{ SP_MSG_PUBKEY, "PUBKEY", 4, 4, ST_READY, h_pubkey },
	{ SP_MSG_SIGN, "SIGN", 4 + 4, 4 + 4 + SP_DIGEST_MAX, ST_READY, h_sign },
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
			_exit(SP_EXIT_OK);
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

/* No core, no ptrace by our uid, gone with the agent, no stray fds. */
static void
harden(void)
{
	struct rlimit rl = { 0, 0 };
	int fd, type = 0;
	socklen_t len = sizeof(type);
	long i;

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
	if (getsockopt(SP_CHANNEL_FD0, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET)
		violation("fd %d is not a SOCK_SEQPACKET channel (run by signet-agent only)", SP_CHANNEL_FD0);
}

int
main(int argc, char **argv)
{
	(void)argv;
	log_init("signet-signer", LOG_LEVEL_INFO, LOG_FORMAT_PLAIN);
	if (argc != 1) {
		log_error("takes no arguments; signet-agent starts it");
		return SP_EXIT_PROTOCOL;
	}
	harden();
	serve(SP_CHANNEL_FD0);
	return SP_EXIT_OK;
}
