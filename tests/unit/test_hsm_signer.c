/*
 * test_hsm_signer.c — signet-signer and the agent's side of it, against a
 * real SoftHSMv2 token (softhsm.h, set up in main() as test_hsm.c does,
 * with fewer keys).
 *
 * - The protocol, against the binary directly: a well-formed session
 *   works; every violation (unknown type — the old INIT and KEY by which
 *   an agent could name a module, a PIN file or a key URI included —,
 *   oversized, truncated or short frame, requests out of order, bad key
 *   index, digest length other than the mechanism's, ...) makes the signer
 *   exit SP_EXIT_PROTOCOL with one line on stderr and no response at all.
 * - The signer reads its configuration (an agent configuration file
 *   written here) itself: the agent's key list must match it; a signing
 *   key that is the attestation key is refused.
 * - The journal: every signature is in it, under its job, chained.
 * - Restarts: SIGKILL mid-run (alone and under concurrent signing), a
 *   restart that fails and backs off, no zombies left.
 * - The PIN file is never read in this process with a signer: the binary
 *   is linked with -Wl,--wrap=read_secret_file, and the wrapper counts the
 *   calls made here (the in-process open makes one, so the counter is
 *   shown to work).
 * - Hygiene of the running signer: fds, core limit.
 * - A benchmark: 2000 ECDSA signatures with 2 sessions and 2 threads,
 *   in-process and through the signer; the rates go to stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "hsm.h"
#include "hsm_internal.h"
#include "signer_proto.h"
#include "sjournal.h"
#include "softhsm.h"
#include "testlib.h"
#include "util.h"

int main(void);
int __wrap_read_secret_file(const char *path, char **ret, size_t *ret_len);
int __real_read_secret_file(const char *path, char **ret, size_t *ret_len);

extern char **environ;

#ifndef SIGNER_PATH
#error "SIGNER_PATH: the signet-signer in the build tree (tests/unit/meson.build)"
#endif
#define TOKEN          "signet-test"
#define TEST_PIN       "1234"
#define TEST_TIMEOUT_S 120
#define RAW_TIMEOUT_S  20
#define BENCH_SIGNS    2000
#define BENCH_THREADS  2

static struct softhsm token; /* its pin_file: TEST_PIN */
static char wrong_pin_path[PATH_MAX];
static char journal_path[PATH_MAX];

/* ---- the wrapper: read_secret_file() calls made in this process ---- */

static int secret_reads;

int
__wrap_read_secret_file(const char *path, char **ret, size_t *ret_len)
{
	secret_reads++;
	return __real_read_secret_file(path, ret, ret_len);
}

/* ---- setup, in the parent ---- */

static int
setup(void)
{
	if (softhsm_init(&token, "signet-test-signer", TOKEN, TEST_PIN) != 0 ||
	    softhsm_pin_file(&token, "wrong-pin", "9999", 0600, wrong_pin_path) != 0)
		return -1;
	if (softhsm_keygen(&token, "EC:prime256v1", "01", "ec-key", 0) != 0 ||
	    softhsm_keygen(&token, "rsa:2048", "02", "rsa-key", 0) != 0 ||
	    softhsm_keygen(&token, "EC:prime256v1", "03", "att-key", 0) != 0)
		return -1;
	snprintf(journal_path, sizeof(journal_path), "%s/journal", token.dir);
	return 0;
}

/* ---- helpers ---- */

/* The agent's list for the configuration config_file() writes: its keys
 * in order, then the attestation key. */
static const struct hsm_key_spec keys[] = {
	{ "ec", "pkcs11:object=ec-key", SG_MECH_ECDSA_SHA256, 0 },
	{ "rsa", "pkcs11:object=rsa-key", SG_MECH_RSA_PSS_SHA256, 0 },
	{ "attestation_key", "pkcs11:object=att-key", SG_MECH_ECDSA_SHA256, 1 },
};
#define ATTEST_INDEX 2

/*
 * An agent configuration for the signer to read: `sessions` sessions, the
 * PIN from pin, the attestation key `attest` (a label).  Written once per
 * combination in token.dir; returns its path (static storage per call
 * site is not needed: each combination has its own file name).
 */
static const char *
config_file(unsigned sessions, const char *pin, const char *attest)
{
	static char paths[16][PATH_MAX];
	static unsigned used;
	char text[16384], path[PATH_MAX];
	unsigned i;

	snprintf(path, sizeof(path), "%s/agent-%u-%s-%s.json", token.dir, sessions,
	    strrchr(pin, '/') + 1, attest);
	for (i = 0; i < used; i++)
		if (strcmp(paths[i], path) == 0)
			return paths[i];
	ck_assert_uint_lt(used, 16);
	snprintf(text, sizeof(text),
	    "{\"name\": \"test\", \"redis\": \"unix:///nonexistent/redis.sock\",\n"
	    " \"pkcs11\": {\"module\": \"%s\", \"token\": \"%s\", \"pin_file\": \"%s\",\n"
	    "            \"sessions\": %u, \"journal\": \"%s\"},\n"
	    " \"attestation_key\": \"pkcs11:object=%s\",\n"
	    " \"store\": \"file://%s/store\", \"audit_log\": \"%s/audit.log\",\n"
	    " \"keys\": {\"ec\": {\"key\": \"pkcs11:object=ec-key\", \"mechanism\": "
	    "\"ecdsa-sha256\",\n"
	    "                   \"certificates\": \"/nonexistent/ec.pem\", \"formats\": "
	    "[\"raw\"]},\n"
	    "          \"rsa\": {\"key\": \"pkcs11:object=rsa-key\", \"mechanism\": "
	    "\"rsa-pss-sha256\",\n"
	    "                   \"certificates\": \"/nonexistent/rsa.pem\", \"formats\": "
	    "[\"raw\"]}},\n"
	    " \"submitters\": {\"ci\": {\"public_key\": \"/nonexistent/ci.pub\", \"keys\": "
	    "[\"ec\"]}}}\n",
	    SOFTHSM_MODULE, TOKEN, pin, sessions, journal_path, attest, token.dir, token.dir);
	ck_assert_int_eq(write_text(path, text, 0600), 0);
	snprintf(paths[used], PATH_MAX, "%s", path);
	return paths[used++];
}

static struct hsm_config
config_with(unsigned sessions, const char *signer, const char *pin, const char *attest)
{
	struct hsm_config cfg = {
		.module = SOFTHSM_MODULE,
		.token = TOKEN,
		.pin_file = pin,
		.sessions = sessions,
		.keys = keys,
		.nkeys = nitems(keys),
		.signer = signer,
		.signer_config = signer != NULL ? config_file(sessions, pin, attest) : NULL,
	};
	return cfg;
}

static struct hsm_config
config(unsigned sessions, const char *signer)
{
	return config_with(sessions, signer, token.pin_file, "att-key");
}

static struct hsm *
open_ok(const struct hsm_config *cfg)
{
	struct hsm *h = NULL;
	char err[512] = "";
	int r = hsm_open(cfg, &h, err, sizeof(err));

	ck_assert_msg(r == 0, "hsm_open: %d: %s", r, err);
	ck_assert_ptr_nonnull(h);
	return h;
}

static int
verify(EVP_PKEY *pub, const uint8_t *digest, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	int ok;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	if (EVP_PKEY_is_a(pub, "RSA")) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32), 1);
	}
	ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, SHA256_LEN);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1;
}

/* hsm_sign() of a random digest; on success the signature must verify. */
static int
sign_checked(struct hsm *h, size_t k)
{
	uint8_t digest[SHA256_LEN], sig[HSM_SIG_MAX];
	size_t sig_len = 0;
	EVP_PKEY *pub = NULL;
	int r;

	ck_assert_int_eq(RAND_bytes(digest, sizeof(digest)), 1);
	r = hsm_sign(h, k, digest, sizeof(digest), sig, &sig_len);
	if (r == 0) {
		ck_assert_int_eq(hsm_public_key(h, k, &pub), 0);
		ck_assert_msg(verify(pub, digest, sig, sig_len), "signature does not verify");
		EVP_PKEY_free(pub);
	}
	return r;
}

/* A signer started by hand, with n channels; stderr goes to a file. */
struct raw {
	pid_t pid;
	int fd[HSM_SESSIONS_MAX];
	unsigned n;
	char errpath[PATH_MAX];
	int reaped, status;
};

static void
raw_start_with(struct raw *rw, unsigned n, const char *cfgpath)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *)(uintptr_t) "signet-signer", (char *)(uintptr_t) "-c",
		(char *)(uintptr_t)cfgpath, NULL };
	struct timeval tv = { RAW_TIMEOUT_S, 0 };
	int sv[2], child[HSM_SESSIONS_MAX];
	unsigned i;

	memset(rw, 0, sizeof(*rw));
	rw->n = n;
	snprintf(rw->errpath, sizeof(rw->errpath), "%s/stderr-%ld", token.dir, (long)getpid());
	ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
		rw->fd[i] = sv[0];
		child[i] = fcntl(sv[1], F_DUPFD_CLOEXEC, 200);
		ck_assert_int_ge(child[i], 200);
		close(sv[1]);
		ck_assert_int_eq(
		    setsockopt(rw->fd[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
		ck_assert_int_eq(
		    posix_spawn_file_actions_adddup2(&fa, child[i], SP_CHANNEL_FD0 + (int)i), 0);
	}
	ck_assert_int_eq(posix_spawn_file_actions_addopen(
			     &fa, STDERR_FILENO, rw->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600),
	    0);
	ck_assert_int_eq(posix_spawn(&rw->pid, SIGNER_PATH, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < n; i++)
		close(child[i]);
}

/* A signer with n channels reading a configuration for n sessions. */
static void
raw_start(struct raw *rw, unsigned n)
{
	raw_start_with(rw, n, config_file(n, token.pin_file, "att-key"));
}

static void
raw_send(struct raw *rw, unsigned ch, const void *buf, size_t len)
{
	ck_assert_int_eq(send(rw->fd[ch], buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void
raw_send_wr(struct raw *rw, unsigned ch, struct sp_wr *w)
{
	ck_assert_int_eq(sp_wr_finish(w), 0);
	raw_send(rw, ch, w->buf, w->len);
}

/* One response; its status, payload length into *ret_len. */
static int
raw_response(struct raw *rw, unsigned ch, uint8_t *buf, struct sp_rd *ret_payload)
{
	size_t n = 0;
	int status = 1;

	ck_assert_int_eq(sp_recv(rw->fd[ch], buf, &n), 0);
	ck_assert_int_eq(sp_parse_response(buf, n, &status, ret_payload), 0);
	return status;
}

/* OPEN: must succeed and name our keys, in our order. */
static void
raw_handshake(struct raw *rw, unsigned sessions)
{
	struct sp_wr w;
	uint8_t buf[SP_FRAME_MAX];
	struct sp_rd p;
	char *name = NULL;
	size_t i;

	(void)sessions;
	sp_wr_request(&w, SP_MSG_OPEN);
	raw_send_wr(rw, 0, &w);
	ck_assert_int_eq(raw_response(rw, 0, buf, &p), 0);
	ck_assert_uint_eq(sp_get_u32(&p), nitems(keys));
	for (i = 0; i < nitems(keys); i++) {
		ck_assert_uint_eq(sp_get_u8(&p), keys[i].mech);
		ck_assert_int_eq(sp_get_str(&p, &name), 0);
		ck_assert_str_eq(name, keys[i].name);
		free(name);
	}
	ck_assert_int_eq(sp_rd_end(&p), 0);
}

static void
raw_wait(struct raw *rw)
{
	ck_assert_int_eq(waitpid(rw->pid, &rw->status, 0), rw->pid);
	rw->reaped = 1;
}

static void
raw_close(struct raw *rw)
{
	unsigned i;

	for (i = 0; i < rw->n; i++)
		close(rw->fd[i]);
	if (!rw->reaped)
		raw_wait(rw);
	unlink(rw->errpath);
}

/* Nothing more comes on channel ch (end of file, no response), the signer
 * exits SP_EXIT_PROTOCOL and says so in one line with needle. */
static void
raw_expect_violation(struct raw *rw, unsigned ch, const char *needle)
{
	uint8_t buf[SP_FRAME_MAX];
	size_t n = 0;
	char *log = NULL, *nl;
	size_t log_len = 0;

	ck_assert_int_eq(sp_recv(rw->fd[ch], buf, &n), SG_ERR_NOT_FOUND);
	raw_wait(rw);
	ck_assert_msg(WIFEXITED(rw->status) && WEXITSTATUS(rw->status) == SP_EXIT_PROTOCOL,
	    "signer status %d, want exit %d", rw->status, SP_EXIT_PROTOCOL);
	ck_assert_int_eq(read_file(rw->errpath, 65536, &log, &log_len), 0);
	ck_assert_msg(strstr(log, "protocol violation") != NULL, "stderr: %s", log);
	ck_assert_msg(strstr(log, needle) != NULL, "stderr \"%s\" lacks \"%s\"", log, needle);
	nl = strchr(log, '\n');
	ck_assert_msg(nl != NULL && nl[1] == '\0', "not one line: %s", log);
	ck_assert_msg(strstr(log, TEST_PIN) == NULL, "PIN in the log");
	free(log);
	raw_close(rw);
}

/* A violation sent as a frame on channel 0 of a signer in a given state:
 * 0 new, 2 after OPEN. */
static void
violation_case(int state, const void *frame, size_t len, const char *needle)
{
	struct raw rw;

	raw_start(&rw, 1);
	if (state == 2)
		raw_handshake(&rw, 1);
	raw_send(&rw, 0, frame, len);
	raw_expect_violation(&rw, 0, needle);
}

static void
sign_frame(struct sp_wr *w, uint32_t key, uint32_t digest_len, size_t actual_len)
{
	uint8_t digest[SP_DIGEST_MAX];

	memset(digest, 0x5a, sizeof(digest));
	sp_wr_request(w, SP_MSG_SIGN);
	sp_put_u32(w, key);
	sp_put_bytes(w, digest, SP_JOB_LEN);
	sp_put_u32(w, digest_len);
	sp_put_bytes(w, digest, actual_len);
	ck_assert_int_eq(sp_wr_finish(w), 0);
}

/* ---- the protocol ---- */

START_TEST(test_raw_session)
{
	struct raw rw;
	struct sp_wr w;
	uint8_t buf[SP_FRAME_MAX], digest[SHA256_LEN], sig[HSM_SIG_MAX];
	struct sp_rd p;
	EVP_PKEY *pub[nitems(keys)];
	const uint8_t *der;
	const unsigned char *q;
	size_t sig_len;
	unsigned i, ch;
	uint16_t der_len;
	uint64_t seq, last_seq = 0;

	raw_start(&rw, 2);
	raw_handshake(&rw, 2);
	for (i = 0; i < nitems(keys); i++) {
		sp_wr_request(&w, SP_MSG_PUBKEY);
		sp_put_u32(&w, i);
		raw_send_wr(&rw, 1, &w);
		ck_assert_int_eq(raw_response(&rw, 1, buf, &p), 0);
		ck_assert_uint_eq(
		    sp_get_u8(&p), i == 1 ? SG_MECH_RSA_PSS_SHA256 : SG_MECH_ECDSA_SHA256);
		der_len = sp_get_u16(&p);
		der = sp_get_bytes(&p, der_len);
		ck_assert_ptr_nonnull(der);
		ck_assert_int_eq(sp_rd_end(&p), 0);
		q = der;
		pub[i] = d2i_PUBKEY(NULL, &q, der_len);
		ck_assert_ptr_nonnull(pub[i]);
	}
	sp_wr_request(&w, SP_MSG_PING);
	raw_send_wr(&rw, 0, &w);
	ck_assert_int_eq(raw_response(&rw, 0, buf, &p), 0);
	ck_assert_uint_eq(p.len, 0);
	/* Every key on both channels; each signature has the next journal
	 * record's number. */
	for (ch = 0; ch < 2; ch++) {
		for (i = 0; i < nitems(keys); i++) {
			ck_assert_int_eq(RAND_bytes(digest, sizeof(digest)), 1);
			ck_assert_int_eq(sp_build_sign(&w, i, NULL, digest, SHA256_LEN), 0);
			raw_send(&rw, ch, w.buf, w.len);
			ck_assert_int_eq(raw_response(&rw, ch, buf, &p), 0);
			seq = sp_get_u64(&p);
			if (last_seq != 0)
				ck_assert_uint_eq(seq, last_seq + 1);
			last_seq = seq;
			sig_len = p.len - p.off;
			ck_assert_uint_gt(sig_len, 0);
			memcpy(sig, sp_get_bytes(&p, sig_len), sig_len);
			ck_assert(verify(pub[i], digest, sig, sig_len));
		}
	}
	for (i = 0; i < nitems(keys); i++)
		EVP_PKEY_free(pub[i]);
	raw_close(&rw);
	ck_assert(WIFEXITED(rw.status) && WEXITSTATUS(rw.status) == SP_EXIT_OK);
}
END_TEST

START_TEST(test_raw_open_failure)
{
	struct raw rw;
	struct sp_wr w;
	uint8_t buf[SP_FRAME_MAX];
	struct sp_rd p;

	raw_start_with(&rw, 1, config_file(1, wrong_pin_path, "att-key"));
	sp_wr_request(&w, SP_MSG_OPEN);
	raw_send_wr(&rw, 0, &w);
	ck_assert_int_eq(raw_response(&rw, 0, buf, &p), SG_ERR_HSM_UNAVAILABLE);
	ck_assert_uint_gt(p.len, 0);
	ck_assert(memmem(p.p, p.len, "CKR_PIN_INCORRECT", 17) != NULL);
	raw_wait(&rw);
	ck_assert(WIFEXITED(rw.status) && WEXITSTATUS(rw.status) == SP_EXIT_OPEN_FAILED);
	raw_close(&rw);
}
END_TEST

START_TEST(test_violation_unknown_type)
{
	static const uint8_t before[] = { 0, 0, 0, 1, 0x7f };
	static const uint8_t after[] = { 0, 0, 0, 1, 0 };

	violation_case(0, before, sizeof(before), "unknown request type 127");
	violation_case(2, after, sizeof(after), "unknown request type 0");
}
END_TEST

START_TEST(test_violation_oversized_frame)
{
	static uint8_t big[SP_FRAME_MAX + 1];
	uint32_t n = SP_FRAME_MAX + 1 - SP_LEN_LEN;

	big[0] = (uint8_t)(n >> 24);
	big[1] = (uint8_t)(n >> 16);
	big[2] = (uint8_t)(n >> 8);
	big[3] = (uint8_t)n;
	big[4] = SP_MSG_PING;
	violation_case(2, big, sizeof(big), "frame over 4096 bytes");
	/* At the cap exactly it is a frame, refused for its length as a PING. */
	n--;
	big[2] = (uint8_t)(n >> 8);
	big[3] = (uint8_t)n;
	violation_case(2, big, SP_FRAME_MAX, "PING with 4091 bytes of payload");
}
END_TEST

START_TEST(test_violation_truncated_frame)
{
	struct sp_wr w;
	uint8_t digest[SHA256_LEN] = { 1 };

	ck_assert_int_eq(sp_build_sign(&w, 0, NULL, digest, SHA256_LEN), 0);
	/* The prefix says 57 bytes follow; 20 do. */
	violation_case(2, w.buf, 24, "malformed frame of 24 bytes");
	/* Shorter than a header. */
	violation_case(2, w.buf, 3, "malformed frame of 3 bytes");
	violation_case(0, w.buf, 4, "malformed frame of 4 bytes");
	/* A prefix that claims less than the packet holds. */
	w.buf[3] = 0x10;
	violation_case(2, w.buf, w.len, "malformed frame");
}
END_TEST

START_TEST(test_violation_order)
{
	struct sp_wr w;
	uint8_t digest[SHA256_LEN] = { 1 };

	ck_assert_int_eq(sp_build_sign(&w, 0, NULL, digest, SHA256_LEN), 0);
	violation_case(0, w.buf, w.len, "SIGN out of order");
	sp_wr_request(&w, SP_MSG_PING);
	ck_assert_int_eq(sp_wr_finish(&w), 0);
	violation_case(0, w.buf, w.len, "PING out of order");
	sp_wr_request(&w, SP_MSG_OPEN);
	ck_assert_int_eq(sp_wr_finish(&w), 0);
	violation_case(2, w.buf, w.len, "OPEN out of order");
}
END_TEST

/*
 * What a compromised agent would send to make the signer load its module,
 * read another PIN file or open a key no configuration names: the INIT
 * and KEY requests of the protocol before the signer read its own
 * configuration.  They are unknown now, before and after OPEN.
 */
static void
old_init_frame(struct sp_wr *w, uint8_t type)
{
	sp_wr_request(w, SP_MSG_OPEN);
	w->buf[SP_LEN_LEN] = type;
	if (type == 1) {
		sp_put_u32(w, 1);
		sp_put_u32(w, 1);
		sp_put_str(w, "/tmp/evil-module.so");
		sp_put_str(w, TOKEN);
		sp_put_str(w, "/tmp/evil-pin");
	} else {
		sp_put_u8(w, SG_MECH_RSA_PKCS1_SHA256);
		sp_put_u8(w, 0);
		sp_put_str(w, "unconfigured");
		sp_put_str(w, "pkcs11:object=rsa-key");
	}
	ck_assert_int_eq(sp_wr_finish(w), 0);
}

START_TEST(test_violation_agent_names_module_or_key)
{
	struct sp_wr w;

	old_init_frame(&w, 1);
	violation_case(0, w.buf, w.len, "unknown request type 1");
	violation_case(2, w.buf, w.len, "unknown request type 1");
	old_init_frame(&w, 2);
	violation_case(0, w.buf, w.len, "unknown request type 2");
	violation_case(2, w.buf, w.len, "unknown request type 2");
}
END_TEST

START_TEST(test_violation_bad_key_index)
{
	struct sp_wr w;
	uint8_t digest[SHA256_LEN] = { 1 };

	ck_assert_int_eq(sp_build_sign(&w, nitems(keys), NULL, digest, SHA256_LEN), 0);
	violation_case(2, w.buf, w.len, "SIGN with key 3 of 3");
	ck_assert_int_eq(sp_build_sign(&w, UINT32_MAX, NULL, digest, SHA256_LEN), 0);
	violation_case(2, w.buf, w.len, "SIGN with key 4294967295 of 3");
	sp_wr_request(&w, SP_MSG_PUBKEY);
	sp_put_u32(&w, nitems(keys));
	ck_assert_int_eq(sp_wr_finish(&w), 0);
	violation_case(2, w.buf, w.len, "PUBKEY for key 3 of 3");
}
END_TEST

START_TEST(test_violation_digest_length)
{
	struct sp_wr w;

	sign_frame(&w, 0, SHA256_LEN - 1, SHA256_LEN - 1);
	violation_case(2, w.buf, w.len, "31-byte digest");
	sign_frame(&w, 0, SHA256_LEN + 1, SHA256_LEN + 1);
	violation_case(2, w.buf, w.len, "33-byte digest");
	sign_frame(&w, 1, SHA256_LEN + 1, SHA256_LEN + 1);
	violation_case(2, w.buf, w.len, "33-byte digest for rsa-pss-sha256");
	sign_frame(&w, 0, 0, 0);
	violation_case(2, w.buf, w.len, "0-byte digest");
	/* digest_len says 32, 31 or 33 bytes follow. */
	sign_frame(&w, 0, SHA256_LEN, SHA256_LEN - 1);
	violation_case(2, w.buf, w.len, "not its 32 bytes");
	sign_frame(&w, 0, SHA256_LEN, SHA256_LEN + 1);
	violation_case(2, w.buf, w.len, "not its 32 bytes");
	/* Over the table's cap for SIGN. */
	sign_frame(&w, 0, SP_DIGEST_MAX, SP_DIGEST_MAX);
	w.len++;
	w.buf[w.len - 1] = 0;
	ck_assert_int_eq(sp_wr_finish(&w), 0);
	violation_case(2, w.buf, w.len, "SIGN with 89 bytes of payload");
}
END_TEST

START_TEST(test_violation_fewer_channels)
{
	struct raw rw;

	/* The configuration names two sessions; one channel is given. */
	raw_start_with(&rw, 1, config_file(2, token.pin_file, "att-key"));
	raw_expect_violation(&rw, 0, "channel 1 is not a SOCK_SEQPACKET socket");
}
END_TEST

START_TEST(test_violation_on_second_channel)
{
	struct raw rw;
	struct sp_wr w;
	uint8_t buf[SP_FRAME_MAX];
	struct sp_rd p;

	raw_start(&rw, 2);
	raw_handshake(&rw, 2);
	sign_frame(&w, 0, SHA256_LEN + 1, SHA256_LEN + 1);
	raw_send(&rw, 1, w.buf, w.len);
	raw_expect_violation(&rw, 1, "33-byte digest");
	/* The whole signer went: channel 0 is dead too. */
	(void)buf;
	(void)p;
}
END_TEST

START_TEST(test_signer_needs_its_channel)
{
	const char *argv[] = { SIGNER_PATH, NULL };
	const char *argv2[] = { SIGNER_PATH, "-c", "relative.json", NULL };
	pid_t pid;
	int status = 0;

	/* Started by hand (fd 3 is no channel) or with arguments: exits. */
	ck_assert_int_eq(
	    posix_spawn(&pid, SIGNER_PATH, NULL, NULL, (char *const *)(uintptr_t)argv, environ), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == SP_EXIT_PROTOCOL);
	ck_assert_int_eq(
	    posix_spawn(&pid, SIGNER_PATH, NULL, NULL, (char *const *)(uintptr_t)argv2, environ),
	    0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == SP_EXIT_PROTOCOL);
}
END_TEST

/* ---- the PIN stays out of this process ---- */

START_TEST(test_pin_never_read_here)
{
	struct hsm_config cfg = config(2, NULL);
	struct hsm *h;
	pid_t pid;

	/* The counter works: the in-process open reads the PIN file once. */
	secret_reads = 0;
	h = open_ok(&cfg);
	ck_assert_int_eq(secret_reads, 1);
	hsm_close(h);

	secret_reads = 0;
	cfg = config(2, SIGNER_PATH);
	h = open_ok(&cfg);
	ck_assert_int_eq(sign_checked(h, 0), 0);
	pid = hsm_signer_pid(h);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	(void)sign_checked(h, 1);
	ck_assert_int_eq(sign_checked(h, 1), 0);
	ck_assert_int_ne(hsm_signer_pid(h), pid);
	hsm_close(h);
	ck_assert_int_eq(secret_reads, 0);
}
END_TEST

/* ---- the agent's side ---- */

START_TEST(test_open_signer_path)
{
	struct hsm_config cfg = config(2, "signet-signer");
	struct hsm *h = NULL;
	char err[512];

	ck_assert_int_eq(hsm_open(&cfg, &h, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "not absolute"));
	cfg.signer = "/nonexistent/signet-signer";
	ck_assert_int_eq(hsm_open(&cfg, &h, err, sizeof(err)), SG_ERR_HSM_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(err, "cannot start signer"));
	/* Something that is not a signer: it exits without answering. */
	cfg.signer = "/bin/true";
	ck_assert_int_eq(hsm_open(&cfg, &h, err, sizeof(err)), SG_ERR_HSM_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(err, "died or broke the protocol"));
	ck_assert_ptr_null(h);
	/* No child left behind. */
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}
END_TEST

START_TEST(test_open_key_list_mismatch)
{
	struct hsm_key_spec other[nitems(keys)];
	struct hsm_config cfg = config(1, SIGNER_PATH);
	struct hsm *h = NULL;
	char err[512];

	/* The agent's list must be the signer's, in the same order. */
	memcpy(other, keys, sizeof(other));
	other[0] = keys[1];
	other[1] = keys[0];
	cfg.keys = other;
	ck_assert_int_eq(hsm_open(&cfg, &h, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_msg(strstr(err, "the signer's key 0 is ec") != NULL, "%s", err);
	cfg.nkeys = 2;
	ck_assert_int_eq(hsm_open(&cfg, &h, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_msg(strstr(err, "has 3 keys, the agent's 2") != NULL, "%s", err);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
}
END_TEST

START_TEST(test_open_attestation_key_is_a_signing_key)
{
	struct hsm_config cfg = config_with(1, SIGNER_PATH, token.pin_file, "ec-key");
	struct hsm *h = NULL;
	char err[512];

	ck_assert_int_eq(hsm_open(&cfg, &h, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_msg(strstr(err, "key ec is the attestation key") != NULL, "%s", err);
	ck_assert_ptr_null(h);
}
END_TEST

/* The journal's records, collected by sjournal_scan(). */
struct seen {
	struct sjournal_rec rec[64];
	size_t n;
};

static int
collect(void *arg, const struct sjournal_rec *rec)
{
	struct seen *s = arg;

	if (s->n < nitems(s->rec))
		s->rec[s->n++] = *rec;
	return 0;
}

START_TEST(test_journal_records_every_signature)
{
	struct hsm_config cfg = config(2, SIGNER_PATH);
	struct hsm *h = open_ok(&cfg);
	static struct seen seen;
	uint8_t job[HSM_JOB_LEN], digest[SHA256_LEN], sig[HSM_SIG_MAX], last[SHA256_LEN];
	char job_hex[2 * HSM_JOB_LEN + 1], why[256] = "";
	size_t sig_len = 0;
	uint64_t seq = 0, seq2 = 0, count = 0;
	int fd;

	unlink(journal_path);
	hsm_close(h);
	h = open_ok(&cfg);
	ck_assert_int_eq(RAND_bytes(job, sizeof(job)), 1);
	ck_assert_int_eq(RAND_bytes(digest, sizeof(digest)), 1);
	hex_encode(job, sizeof(job), job_hex);
	ck_assert_int_eq(hsm_sign_for(h, 1, job, digest, SHA256_LEN, sig, &sig_len, &seq), 0);
	ck_assert_uint_eq(seq, 1);
	ck_assert_int_eq(
	    hsm_sign_for(h, ATTEST_INDEX, NULL, digest, SHA256_LEN, sig, &sig_len, &seq2), 0);
	ck_assert_uint_eq(seq2, 2);
	hsm_close(h);
	/* The signer made its records durable and exited; a new one goes on. */
	h = open_ok(&cfg);
	ck_assert_int_eq(hsm_sign_for(h, 0, job, digest, SHA256_LEN, sig, &sig_len, &seq), 0);
	ck_assert_uint_eq(seq, 3);
	hsm_close(h);
	fd = open(journal_path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(sjournal_scan(fd, collect, &seen, &count, last, why, sizeof(why)), 0);
	close(fd);
	ck_assert_uint_eq(count, 3);
	ck_assert_str_eq(seen.rec[0].key, "rsa");
	ck_assert(seen.rec[0].has_job);
	ck_assert_str_eq(seen.rec[0].job, job_hex);
	ck_assert(memcmp(seen.rec[0].digest, digest, SHA256_LEN) == 0);
	ck_assert_str_eq(seen.rec[1].key, "attestation_key");
	ck_assert(!seen.rec[1].has_job);
	ck_assert_str_eq(seen.rec[2].key, "ec");
}
END_TEST

START_TEST(test_journal_broken_chain_stops_the_signer)
{
	struct hsm_config cfg = config(1, SIGNER_PATH);
	struct hsm *h = open_ok(&cfg);
	char *text = NULL, *p;
	size_t len = 0;
	char err[512];

	ck_assert_int_eq(sign_checked(h, 0), 0);
	ck_assert_int_eq(sign_checked(h, 1), 0);
	hsm_close(h);
	/* One digit of the first record changed: the second no longer chains. */
	ck_assert_int_eq(read_file(journal_path, 1 << 20, &text, &len), 0);
	p = strstr(text, "\"digest\":\"");
	ck_assert_ptr_nonnull(p);
	p += 10;
	*p = *p == '0' ? '1' : '0';
	ck_assert_int_eq(write_text(journal_path, text, 0600), 0);
	free(text);
	h = NULL;
	ck_assert_int_eq(hsm_open(&cfg, &h, err, sizeof(err)), SG_ERR_HSM_UNAVAILABLE);
	ck_assert_ptr_null(h);
	unlink(journal_path);
}
END_TEST

START_TEST(test_no_restart_after_privileges_dropped)
{
	struct hsm_config cfg = config(2, SIGNER_PATH);
	struct hsm *h = open_ok(&cfg);
	pid_t pid = hsm_signer_pid(h);

	hsm_no_restart(h);
	ck_assert_int_eq(hsm_lost(h), 0);
	ck_assert_int_eq(sign_checked(h, 0), 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	usleep(50000);
	ck_assert_int_eq(sign_checked(h, 0), SG_ERR_HSM_UNAVAILABLE);
	ck_assert_int_eq(sign_checked(h, 1), SG_ERR_HSM_UNAVAILABLE);
	ck_assert_int_eq(hsm_lost(h), 1);
	hsm_close(h);
}
END_TEST

START_TEST(test_restart_after_sigkill)
{
	struct hsm_config cfg = config(2, SIGNER_PATH);
	struct hsm *h = open_ok(&cfg);
	pid_t pid, pid2;
	char proc[64];
	int r;

	ck_assert_int_eq(sign_checked(h, 0), 0);
	pid = hsm_signer_pid(h);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	usleep(50000);
	r = sign_checked(h, 0);
	ck_assert_msg(r == 0 || r == SG_ERR_HSM_UNAVAILABLE, "after SIGKILL: %d", r);
	ck_assert_int_eq(sign_checked(h, 0), 0);
	ck_assert_int_eq(sign_checked(h, 1), 0);
	pid2 = hsm_signer_pid(h);
	ck_assert_int_gt(pid2, 0);
	ck_assert_int_ne(pid2, pid);
	/* The old one was reaped: no zombie. */
	snprintf(proc, sizeof(proc), "/proc/%ld", (long)pid);
	ck_assert_int_ne(access(proc, F_OK), 0);
	/* Killed again, again. */
	ck_assert_int_eq(kill(pid2, SIGKILL), 0);
	usleep(50000);
	(void)sign_checked(h, 1);
	ck_assert_int_eq(sign_checked(h, 1), 0);
	hsm_close(h);
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
}
END_TEST

struct worker {
	struct hsm *h;
	atomic_int ok; /* read by the test while the worker runs */
	int unavailable, other;
	volatile int *stop;
};

/* The signatures n workers have made so far. */
static int
signed_so_far(struct worker *w, size_t n)
{
	int total = 0;
	size_t i;

	for (i = 0; i < n; i++)
		total += atomic_load_explicit(&w[i].ok, memory_order_relaxed);
	return total;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t digest[SHA256_LEN], sig[HSM_SIG_MAX];
	size_t sig_len;
	int r;

	while (!*w->stop) {
		if (RAND_bytes(digest, sizeof(digest)) != 1)
			break;
		r = hsm_sign(w->h, 0, digest, sizeof(digest), sig, &sig_len);
		if (r == 0)
			atomic_fetch_add_explicit(&w->ok, 1, memory_order_relaxed);
		else if (r == SG_ERR_HSM_UNAVAILABLE)
			w->unavailable++;
		else
			w->other++;
	}
	return NULL;
}

START_TEST(test_restart_under_load)
{
	struct hsm_config cfg = config(2, SIGNER_PATH);
	struct hsm *h = open_ok(&cfg);
	struct worker w[4];
	pthread_t t[4];
	volatile int stop = 0;
	int kills, signed_after_kill, signed_at_end;
	pid_t pid;
	size_t i;

	for (i = 0; i < nitems(w); i++) {
		w[i] = (struct worker){ h, 0, 0, 0, &stop };
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (kills = 0; kills < 3; kills++) {
		usleep(200000);
		pid = hsm_signer_pid(h);
		if (pid > 0)
			kill(pid, SIGKILL);
	}
	/* Half a second after the last kill, then 0.3 s more of signing. */
	usleep(500000);
	signed_after_kill = signed_so_far(w, nitems(w));
	usleep(300000);
	stop = 1;
	for (i = 0; i < nitems(w); i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (i = 0; i < nitems(w); i++)
		ck_assert_int_eq(w[i].other, 0);
	signed_at_end = signed_so_far(w, nitems(w));
	/* Signing went on after the last kill: the signer was started again. */
	ck_assert_msg(signed_at_end > signed_after_kill,
	    "no signature after the last kill: %d signatures 0.5 s after it, %d at the end",
	    signed_after_kill, signed_at_end);
	ck_assert_int_eq(sign_checked(h, 0), 0);
	hsm_close(h);
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
}
END_TEST

/* Checked signatures, until 200 are made or one fails. */
static void *
checker_main(void *arg)
{
	struct worker *w = arg;
	int i, r;

	for (i = 0; i < 200; i++) {
		if ((r = sign_checked(w->h, 0)) == 0)
			atomic_fetch_add_explicit(&w->ok, 1, memory_order_relaxed);
		else
			w->other++;
	}
	return NULL;
}

/* Eight threads on one channel: their requests are in flight together
 * (hsm_client.c), and each gets the response to its own request: every
 * signature verifies over the digest its thread asked for. */
START_TEST(test_requests_in_flight_on_one_channel)
{
	struct hsm_config cfg = config(1, SIGNER_PATH);
	struct hsm *h = open_ok(&cfg);
	struct worker w[8];
	pthread_t t[8];
	volatile int stop = 0;
	size_t i;

	for (i = 0; i < nitems(w); i++) {
		w[i] = (struct worker){ h, 0, 0, 0, &stop };
		ck_assert_int_eq(pthread_create(&t[i], NULL, checker_main, &w[i]), 0);
	}
	for (i = 0; i < nitems(w); i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (i = 0; i < nitems(w); i++) {
		ck_assert_int_eq(w[i].other, 0);
		ck_assert_int_eq(atomic_load(&w[i].ok), 200);
	}
	hsm_close(h);
}
END_TEST

START_TEST(test_restart_backoff)
{
	char pin[PATH_MAX];
	struct hsm_config cfg = config(1, SIGNER_PATH);
	struct hsm *h;
	struct timespec t0, t1;
	pid_t pid;
	int r, n;

	snprintf(pin, sizeof(pin), "%s/pin-%ld", token.dir, (long)getpid());
	ck_assert_int_eq(write_text(pin, TEST_PIN "\n", 0600), 0);
	cfg = config_with(1, SIGNER_PATH, pin, "att-key");
	h = open_ok(&cfg);
	pid = hsm_signer_pid(h);
	/* The restart will fail: wrong PIN from now on. */
	ck_assert_int_eq(write_text(pin, "9999\n", 0600), 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	usleep(50000);
	ck_assert_int_eq(sign_checked(h, 0), SG_ERR_HSM_UNAVAILABLE);
	/* This one waits for the restart in progress, which fails. */
	ck_assert_int_eq(sign_checked(h, 0), SG_ERR_HSM_UNAVAILABLE);
	ck_assert_int_eq(hsm_signer_pid(h), 0);
	/* Within the backoff: refused at once, no new start. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (n = 0; n < 20; n++)
		ck_assert_int_eq(sign_checked(h, 0), SG_ERR_HSM_UNAVAILABLE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 200);
	/* PIN fixed: after the backoff the next call restarts it. */
	ck_assert_int_eq(write_text(pin, TEST_PIN "\n", 0600), 0);
	usleep(1200000);
	r = sign_checked(h, 0);
	ck_assert_msg(r == 0, "after the backoff: %d", r);
	ck_assert_int_gt(hsm_signer_pid(h), 0);
	hsm_close(h);
	unlink(pin);
}
END_TEST

START_TEST(test_signer_hygiene)
{
	struct hsm_config cfg = config(3, SIGNER_PATH);
	struct hsm *h = open_ok(&cfg);
	char path[PATH_MAX], link[PATH_MAX], *limits = NULL, *line;
	size_t len = 0;
	struct dirent *de;
	DIR *d;
	ssize_t n;
	long fd;
	int sockets = 0;
	pid_t pid = hsm_signer_pid(h);

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = strtol(de->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%ld/fd/%s", (long)pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		ck_assert_int_gt(n, 0);
		link[n] = '\0';
		if (strncmp(link, "socket:", 7) == 0 && fd >= SP_CHANNEL_FD0) {
			ck_assert_msg(fd < SP_CHANNEL_FD0 + 3, "socket on fd %ld", fd);
			sockets++;
		}
		if (fd <= STDOUT_FILENO)
			ck_assert_str_eq(link, "/dev/null");
	}
	closedir(d);
	ck_assert_int_eq(sockets, 3);
	snprintf(path, sizeof(path), "/proc/%ld/limits", (long)pid);
	ck_assert_int_eq(read_file(path, 65536, &limits, &len), 0);
	line = strstr(limits, "Max core file size");
	ck_assert_ptr_nonnull(line);
	{
		char soft[32] = "", hard[32] = "";

		ck_assert_int_eq(
		    sscanf(line + strlen("Max core file size"), "%31s %31s", soft, hard), 2);
		ck_assert_str_eq(soft, "0");
		ck_assert_str_eq(hard, "0");
	}
	free(limits);
	hsm_close(h);
}
END_TEST

/* ---- the cost ---- */

struct bench {
	struct hsm *h;
	int n, failed;
};

static void *
bench_main(void *arg)
{
	struct bench *b = arg;
	uint8_t digest[SHA256_LEN], sig[HSM_SIG_MAX];
	size_t sig_len;
	int i;

	memset(digest, 0x11, sizeof(digest));
	for (i = 0; i < b->n; i++) {
		digest[0] = (uint8_t)i;
		if (hsm_sign(b->h, 0, digest, sizeof(digest), sig, &sig_len) != 0)
			b->failed++;
	}
	return NULL;
}

static double
bench_run(const char *signer)
{
	struct hsm_config cfg = config(BENCH_THREADS, signer);
	struct hsm *h = open_ok(&cfg);
	struct bench b[BENCH_THREADS];
	pthread_t t[BENCH_THREADS];
	struct timespec t0, t1;
	double secs;
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < BENCH_THREADS; i++) {
		b[i] = (struct bench){ h, BENCH_SIGNS / BENCH_THREADS, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, bench_main, &b[i]), 0);
	}
	for (i = 0; i < BENCH_THREADS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(b[i].failed, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	hsm_close(h);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return BENCH_SIGNS / secs;
}

START_TEST(test_bench)
{
	double in_process = bench_run(NULL), via_signer = bench_run(SIGNER_PATH);

	fprintf(stderr,
	    "bench: %d ECDSA P-256 signatures, %d sessions, %d threads: in-process %.0f/s, "
	    "through signet-signer %.0f/s (%.1f%%)\n",
	    BENCH_SIGNS, BENCH_THREADS, BENCH_THREADS, in_process, via_signer,
	    100.0 * via_signer / in_process);
	ck_assert(in_process > 0 && via_signer > 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hsm_signer");
	int status;

	if (setup() != 0) {
		fprintf(stderr,
		    "test_hsm_signer: cannot set up the SoftHSM token (softhsm2-util and "
		    "pkcs11-tool needed)\n");
		softhsm_cleanup(&token);
		return EXIT_FAILURE;
	}
	test_add(s, "/hsm_signer/protocol/session", test_raw_session, TEST_TIMEOUT_S);
	test_add(
	    s, "/hsm_signer/protocol/open-failure-reason", test_raw_open_failure, TEST_TIMEOUT_S);
	test_add(
	    s, "/hsm_signer/protocol/unknown-type", test_violation_unknown_type, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/protocol/oversized-frame", test_violation_oversized_frame,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/protocol/truncated-frame", test_violation_truncated_frame,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/protocol/out-of-order", test_violation_order, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/protocol/agent-names-module-or-key",
	    test_violation_agent_names_module_or_key, TEST_TIMEOUT_S);
	test_add(
	    s, "/hsm_signer/protocol/bad-key-index", test_violation_bad_key_index, TEST_TIMEOUT_S);
	test_add(
	    s, "/hsm_signer/protocol/digest-length", test_violation_digest_length, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/protocol/fewer-channels-than-sessions",
	    test_violation_fewer_channels, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/protocol/violation-on-second-channel",
	    test_violation_on_second_channel, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/protocol/needs-its-channel", test_signer_needs_its_channel,
	    TEST_TIMEOUT_S);
	test_add(
	    s, "/hsm_signer/pin/never-read-by-the-agent", test_pin_never_read_here, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/open/signer-path", test_open_signer_path, TEST_TIMEOUT_S);
	test_add(
	    s, "/hsm_signer/open/key-list-mismatch", test_open_key_list_mismatch, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/open/attestation-key-is-a-signing-key",
	    test_open_attestation_key_is_a_signing_key, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/journal/every-signature", test_journal_records_every_signature,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/journal/broken-chain", test_journal_broken_chain_stops_the_signer,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/restart/none-after-drop", test_no_restart_after_privileges_dropped,
	    TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/restart/sigkill", test_restart_after_sigkill, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/restart/under-load", test_restart_under_load, TEST_TIMEOUT_S);
	test_add(
	    s, "/hsm_signer/pipelined", test_requests_in_flight_on_one_channel, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/restart/backoff", test_restart_backoff, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/hygiene/fds-and-core", test_signer_hygiene, TEST_TIMEOUT_S);
	test_add(s, "/hsm_signer/bench/ecdsa-2000", test_bench, TEST_TIMEOUT_S);

	status = test_run(s);
	softhsm_cleanup(&token);
	return status;
}
