/*
 * test_tsa.c — RFC 3161 time-stamping (agent/tsa.h) against a real TSA:
 * tests/tsa_server.py, started here in one of its modes for each test
 * (/usr/bin/python3, which runs `openssl ts -reply`).  main() makes the
 * TSA's PKI once, in a temporary directory every test shares.
 *
 * The signature files are made as the agent makes them: a CMS by
 * format_sign() with a software key standing in for the HSM, and a PKCS#7
 * SignedData by PKCS7_sign() standing in for the Authenticode builder.
 * What is accepted is checked by `openssl ts -verify` as a consumer would.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509_vfy.h>

#include "crypto.h"
#include "format.h"
#include "hsm.h"
#include "sgtime.h"
#include "testlib.h"
#include "tsa.h"
#include "util.h"

#define PYTHON          "/usr/bin/python3"
#define TSA_SERVER      TEST_DATA_DIR "/../tsa_server.py"
#define TEST_TIMEOUT_S  60
#define SERVER_START_MS 15000 /* a first start makes keys */
#define TIMEOUT_MS      10000 /* the transfers' timeout, unless tested */
#define PORT_FILE_MAX   32
#define OUTPUT_MAX      4096 /* bytes of a command's output kept */
#define MS_COUNTERSIG   "1.3.6.1.4.1.311.3.3.1"
#define TSA_SUBJECT     "CN=signet test TSA,O=signet tests"

static const char content[] = "firmware image bytes\n";

/* The TSA's PKI (tsa_server.py --init), made by main(). */
static char *pki;

struct tsa_srv {
	pid_t pid;
	char *dir; /* the port file, and copies of the last query and reply */
	char url[64];
};

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* In the child, before it runs tsa_server.py: a test that fails (its
 * process ends) leaves no server behind. */
static void
die_with_parent(void)
{
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts tsa_server.py in mode and waits for its port.  opt: its --delay
 * in the mode slow, its --size in the modes huge*; NULL for the defaults. */
static void
srv_start(struct tsa_srv *sv, const char *mode, const char *opt)
{
	char pf[PATH_MAX], qf[PATH_MAX], rf[PATH_MAX], *buf = NULL;
	int64_t deadline = sgtime_mono_ms() + SERVER_START_MS;
	uint64_t port = 0;
	size_t len;
	int st;

	memset(sv, 0, sizeof(*sv));
	sv->dir = test_tmpdir();
	snprintf(pf, sizeof(pf), "%s/port", sv->dir);
	snprintf(qf, sizeof(qf), "%s/query.tsq", sv->dir);
	snprintf(rf, sizeof(rf), "%s/reply.tsr", sv->dir);
	sv->pid = fork();
	ck_assert_int_ge(sv->pid, 0);
	if (sv->pid == 0) {
		die_with_parent();
		execl(PYTHON, PYTHON, TSA_SERVER, "--dir", pki, "--port-file", pf, "--mode", mode,
		    strncmp(mode, "huge", 4) == 0 ? "--size" : "--delay", opt != NULL ? opt : "5",
		    "--query-out", qf, "--reply-out", rf, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		if (read_file(pf, PORT_FILE_MAX, &buf, &len) == 0) {
			if (len > 0 && buf[len - 1] == '\n')
				buf[len - 1] = '\0';
			ck_assert_int_eq(parse_u64(buf, 65535, &port), 0);
			free(buf);
			break;
		}
		ck_assert_msg(waitpid(sv->pid, &st, WNOHANG) == 0, "tsa_server.py exited");
		ck_assert_msg(sgtime_mono_ms() < deadline, "tsa_server.py did not start");
		sleep_ms(20);
	}
	snprintf(sv->url, sizeof(sv->url), "http://127.0.0.1:%d/", (int)port);
}

/* SIGTERM; the server must exit cleanly, even with a request in progress. */
static void
srv_stop(struct tsa_srv *sv)
{
	int st = 0;

	ck_assert_int_eq(kill(sv->pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(sv->pid, &st, 0), sv->pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tsa_server.py: status %d", st);
	test_tmpdir_free(sv->dir);
}

/* A file the server wrote (name in sv->dir) or of the PKI. */
static void
slurp(const char *dir, const char *name, uint8_t **ret, size_t *ret_len)
{
	char path[PATH_MAX], *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(read_file(path, TSA_SIGNED_MAX, &buf, ret_len), 0);
	*ret = (uint8_t *)buf;
}

static X509_STORE *
roots(const char *name)
{
	char path[PATH_MAX];
	X509_STORE *st = NULL;

	snprintf(path, sizeof(path), "%s/%s", pki, name);
	ck_assert_int_eq(tsa_load_roots(path, &st), 0);
	ck_assert_ptr_nonnull(st);
	return st;
}

/* Signs a digest the way hsm_sign() does for ECDSA: DER. */
static int
soft_sign(void *arg, const uint8_t digest[SHA256_LEN], uint8_t *sig, size_t *ret_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(arg, NULL);
	size_t len = HSM_SIG_MAX;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_sign(ctx, sig, &len, digest, SHA256_LEN), 1);
	EVP_PKEY_CTX_free(ctx);
	*ret_len = len;
	return 0;
}

static EVP_PKEY *
leaf_key(void)
{
	EVP_PKEY *pk = NULL;

	ck_assert_int_eq(crypto_load_privkey(TEST_DATA_DIR "/format/leaf-ec.key", &pk), 0);
	return pk;
}

static STACK_OF(X509) * leaf_chain(void)
{
	STACK_OF(X509) *chain = NULL;

	ck_assert_int_eq(crypto_load_certs(TEST_DATA_DIR "/format/chain-ec.pem", &chain), 0);
	return chain;
}

/* A CMS signature file of `content`, as the agent makes it. */
static void
make_cms(uint8_t **ret, size_t *ret_len)
{
	struct format_request req;
	uint8_t digest[SHA256_LEN];
	STACK_OF(X509) *chain = leaf_chain();
	EVP_PKEY *key = leaf_key();

	crypto_sha256(content, strlen(content), digest);
	memset(&req, 0, sizeof(req));
	req.format = SG_FORMAT_CMS;
	req.mech = SG_MECH_ECDSA_SHA256;
	req.digest = digest;
	req.chain = chain;
	req.signing_time = sgtime_now();
	req.sign = soft_sign;
	req.sign_arg = key;
	ck_assert_int_eq(format_sign(&req, ret, ret_len), 0);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
}

/* A PKCS#7 SignedData of `content` (content included) by the same key. */
static void
make_pkcs7(uint8_t **ret, size_t *ret_len)
{
	STACK_OF(X509) *chain = leaf_chain();
	EVP_PKEY *key = leaf_key();
	BIO *in = BIO_new_mem_buf(content, (int)strlen(content));
	PKCS7 *p7;
	unsigned char *der = NULL;
	int n;

	ck_assert_ptr_nonnull(in);
	p7 = PKCS7_sign(sk_X509_value(chain, 0), key, NULL, in, PKCS7_BINARY);
	ck_assert_ptr_nonnull(p7);
	n = i2d_PKCS7(p7, &der);
	ck_assert_int_gt(n, 0);
	*ret = malloc((size_t)n);
	ck_assert_ptr_nonnull(*ret);
	memcpy(*ret, der, (size_t)n);
	*ret_len = (size_t)n;
	OPENSSL_free(der);
	PKCS7_free(p7);
	BIO_free(in);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
}

static void
assert_printable(const char *s)
{
	for (; *s != '\0'; s++)
		ck_assert_msg(*s >= 0x20 && *s < 0x7f, "unprintable byte 0x%02x", *s & 0xff);
}

/* tsa_timestamp() at url with the roots in the PKI file roots_name. */
static int
stamp(CURL *c, const char *url, const char *roots_name, int64_t timeout_ms, const uint8_t *sigval,
    size_t sigval_len, struct tsa_token *tok, char why[TSA_WHY_MAX])
{
	X509_STORE *st = roots(roots_name);
	struct tsa_params p = { .url = url, .roots = st, .timeout_ms = timeout_ms };
	int r;

	r = tsa_timestamp(c, &p, sigval, sigval_len, tok, why, TSA_WHY_MAX);
	assert_printable(why);
	X509_STORE_free(st);
	return r;
}

/* `openssl ts -verify` of the token over sigval, with the TSA root. */
static void
openssl_ts_verify(const uint8_t *token, size_t token_len, const uint8_t *sigval, size_t sigval_len)
{
	char *dir = test_tmpdir(), *tf, *sf, cmd[4 * PATH_MAX], out[OUTPUT_MAX + 1];
	size_t n = 0, got;
	FILE *f;

	tf = test_write_file(dir, "token.der", token, token_len, 0600);
	sf = test_write_file(dir, "sigval.bin", sigval, sigval_len, 0600);
	snprintf(cmd, sizeof(cmd),
	    "openssl ts -verify -in '%s' -token_in -data '%s' -CAfile '%s/tsa-root.pem' 2>&1", tf,
	    sf, pki);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (n < OUTPUT_MAX && (got = fread(out + n, 1, OUTPUT_MAX - n, f)) > 0)
		n += got;
	out[n] = '\0';
	ck_assert_msg(pclose(f) == 0, "%s: %s", cmd, out);
	ck_assert_msg(strstr(out, "Verification: OK\n") != NULL, "%s: %s", cmd, out);
	free(tf);
	free(sf);
	test_tmpdir_free(dir);
}

/* The query the server got: version 1, SHA-256 over sigval, a nonce,
 * certReq. */
static void
check_query(const char *dir, const uint8_t *sigval, size_t sigval_len)
{
	uint8_t *der, want[SHA256_LEN];
	const unsigned char *p;
	const ASN1_OBJECT *algo = NULL;
	TS_MSG_IMPRINT *mi;
	ASN1_OCTET_STRING *msg;
	TS_REQ *req;
	size_t len;

	slurp(dir, "query.tsq", &der, &len);
	p = der;
	req = d2i_TS_REQ(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_eq(p, der + len);
	ck_assert_int_eq(TS_REQ_get_version(req), 1);
	ck_assert_int_eq(TS_REQ_get_cert_req(req), 1);
	ck_assert_ptr_nonnull(TS_REQ_get_nonce(req));
	ck_assert_ptr_null(TS_REQ_get_policy_id(req));
	mi = TS_REQ_get_msg_imprint(req);
	X509_ALGOR_get0(&algo, NULL, NULL, TS_MSG_IMPRINT_get_algo(mi));
	ck_assert_int_eq(OBJ_obj2nid(algo), NID_sha256);
	msg = TS_MSG_IMPRINT_get_msg(mi);
	crypto_sha256(sigval, sigval_len, want);
	ck_assert_int_eq(ASN1_STRING_length(msg), SHA256_LEN);
	ck_assert_mem_eq(ASN1_STRING_get0_data(msg), want, SHA256_LEN);
	TS_REQ_free(req);
	free(der);
}

/* The value of the one unsigned attribute oid of the signer: a SEQUENCE,
 * its DER. */
static void
attr_value(X509_ATTRIBUTE *a, const uint8_t **ret, size_t *ret_len)
{
	ASN1_TYPE *v;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(X509_ATTRIBUTE_count(a), 1);
	v = X509_ATTRIBUTE_get0_type(a, 0);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->type, V_ASN1_SEQUENCE);
	*ret = ASN1_STRING_get0_data(v->value.sequence);
	*ret_len = (size_t)ASN1_STRING_length(v->value.sequence);
}

/* The signature file still verifies (over `content`, to format/root.pem). */
static void
assert_cms_verifies(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	X509_STORE *st = X509_STORE_new();
	BIO *in = BIO_new_mem_buf(content, (int)strlen(content));

	ck_assert_ptr_nonnull(cms);
	ck_assert_int_eq(X509_STORE_load_file(st, TEST_DATA_DIR "/format/root.pem"), 1);
	X509_STORE_set_purpose(st, X509_PURPOSE_ANY);
	ck_assert_int_eq(CMS_verify(cms, NULL, st, in, NULL, CMS_BINARY), 1);
	BIO_free(in);
	X509_STORE_free(st);
	CMS_ContentInfo_free(cms);
}

static void
assert_pkcs7_verifies(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
	X509_STORE *st = X509_STORE_new();

	ck_assert_ptr_nonnull(p7);
	ck_assert_int_eq(X509_STORE_load_file(st, TEST_DATA_DIR "/format/root.pem"), 1);
	X509_STORE_set_purpose(st, X509_PURPOSE_ANY);
	ck_assert_int_eq(PKCS7_verify(p7, NULL, st, NULL, NULL, PKCS7_BINARY), 1);
	X509_STORE_free(st);
	PKCS7_free(p7);
}

/* A token from a good TSA, attached to a CMS: the query is what RFC 3161
 * wants, the token is what the TSA said, `openssl ts -verify` accepts it
 * both as returned and as taken out of the signature file, which still
 * verifies.  The handle is reused for a second token. */
START_TEST(test_good_cms)
{
	struct tsa_token tok, tok2;
	struct tsa_srv sv;
	char why[TSA_WHY_MAX];
	uint8_t *cms, *sigval, *out;
	const uint8_t *v;
	size_t cms_len, sigval_len, out_len, v_len;
	const unsigned char *p;
	CMS_ContentInfo *ci;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING *sig;
	CURL *c = curl_easy_init();
	int64_t now;

	ck_assert_ptr_nonnull(c);
	make_cms(&cms, &cms_len);
	ck_assert_int_eq(tsa_sigval_cms(cms, cms_len, &sigval, &sigval_len), 0);
	p = cms;
	ci = d2i_CMS_ContentInfo(NULL, &p, (long)cms_len);
	ck_assert_ptr_nonnull(ci);
	sig = CMS_SignerInfo_get0_signature(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(ci), 0));
	ck_assert_int_eq(ASN1_STRING_length(sig), (int)sigval_len);
	ck_assert_mem_eq(ASN1_STRING_get0_data(sig), sigval, sigval_len);
	CMS_ContentInfo_free(ci);

	srv_start(&sv, "good", NULL);
	ck_assert_int_eq(
	    stamp(c, sv.url, "tsa-root.pem", TIMEOUT_MS, sigval, sigval_len, &tok, why), 0);
	ck_assert_str_eq(why, "");
	check_query(sv.dir, sigval, sigval_len);
	ck_assert_int_eq(
	    stamp(c, sv.url, "tsa-root.pem", TIMEOUT_MS, sigval, sigval_len, &tok2, why), 0);
	srv_stop(&sv);
	now = sgtime_now();
	ck_assert_int_le(tok.time, now);
	ck_assert_int_gt(tok.time, now - 60);
	ck_assert_str_eq(tok.tsa, TSA_SUBJECT);
	ck_assert_ptr_nonnull(tok.der);
	ck_assert_int_gt(tok.len, 0);
	ck_assert(tok.len != tok2.len || memcmp(tok.der, tok2.der, tok.len) != 0);
	openssl_ts_verify(tok.der, tok.len, sigval, sigval_len);

	ck_assert_int_eq(tsa_attach_cms(cms, cms_len, &tok, &out, &out_len), 0);
	ck_assert_int_gt(out_len, cms_len + tok.len);
	p = out;
	ci = d2i_CMS_ContentInfo(NULL, &p, (long)out_len);
	ck_assert_ptr_nonnull(ci);
	ck_assert_ptr_eq(p, out + out_len);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(ci), 0);
	ck_assert_int_eq(CMS_unsigned_get_attr_count(si), 1);
	attr_value(CMS_unsigned_get_attr(
		       si, CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1)),
	    &v, &v_len);
	ck_assert_uint_eq(v_len, tok.len);
	ck_assert_mem_eq(v, tok.der, tok.len);
	openssl_ts_verify(v, v_len, sigval, sigval_len);
	CMS_ContentInfo_free(ci);
	assert_cms_verifies(out, out_len);

	tsa_token_clear(&tok);
	ck_assert_ptr_null(tok.der);
	ck_assert_uint_eq(tok.len, 0);
	tsa_token_clear(&tok2);
	tsa_token_clear(NULL);
	free(out);
	free(sigval);
	free(cms);
	curl_easy_cleanup(c);
}
END_TEST

/* The Authenticode countersignature on a PKCS#7 SignedData. */
START_TEST(test_good_pkcs7)
{
	struct tsa_token tok;
	struct tsa_srv sv;
	char why[TSA_WHY_MAX];
	uint8_t *der, *sigval, *out, *again = (uint8_t *)1;
	const uint8_t *v;
	size_t der_len, sigval_len, out_len, again_len = 7, v_len;
	const unsigned char *p;
	PKCS7 *p7;
	PKCS7_SIGNER_INFO *si;
	ASN1_OBJECT *oid = OBJ_txt2obj(MS_COUNTERSIG, 1);

	ck_assert_ptr_nonnull(oid);
	make_pkcs7(&der, &der_len);
	ck_assert_int_eq(tsa_sigval_pkcs7(der, der_len, &sigval, &sigval_len), 0);
	srv_start(&sv, "good", NULL);
	ck_assert_int_eq(
	    stamp(NULL, sv.url, "tsa-root.pem", TIMEOUT_MS, sigval, sigval_len, &tok, why), 0);
	check_query(sv.dir, sigval, sigval_len);
	srv_stop(&sv);
	ck_assert_int_eq(tsa_attach_pkcs7(der, der_len, &tok, &out, &out_len), 0);

	p = out;
	p7 = d2i_PKCS7(NULL, &p, (long)out_len);
	ck_assert_ptr_nonnull(p7);
	ck_assert_ptr_eq(p, out + out_len);
	si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
	ck_assert_ptr_nonnull(si);
	ck_assert_ptr_nonnull(si->enc_digest);
	ck_assert_int_eq(ASN1_STRING_length(si->enc_digest), (int)sigval_len);
	ck_assert_mem_eq(ASN1_STRING_get0_data(si->enc_digest), sigval, sigval_len);
	ck_assert_int_eq(X509at_get_attr_count(si->unauth_attr), 1);
	attr_value(
	    X509at_get_attr(si->unauth_attr, X509at_get_attr_by_OBJ(si->unauth_attr, oid, -1)), &v,
	    &v_len);
	ck_assert_uint_eq(v_len, tok.len);
	ck_assert_mem_eq(v, tok.der, tok.len);
	openssl_ts_verify(v, v_len, sigval, sigval_len);
	PKCS7_free(p7);
	assert_pkcs7_verifies(out, out_len);

	/* Once only. */
	ck_assert_int_eq(tsa_attach_pkcs7(out, out_len, &tok, &again, &again_len), SG_ERR_EXISTS);
	ck_assert_ptr_eq(again, (uint8_t *)1);
	ck_assert_uint_eq(again_len, 7);

	tsa_token_clear(&tok);
	ASN1_OBJECT_free(oid);
	free(out);
	free(sigval);
	free(der);
}
END_TEST

/* Each way a TSA can answer wrongly, and the reason given. */
static const struct {
	const char *mode, *opt;
	const char *why;
} bad[] = {
	{ "garbage", NULL, "the TSA's reply is not a TimeStampResp" },
	{ "trailing", NULL, "the TSA's reply is not a TimeStampResp" },
	/* TSA_REPLY_MAX, at the edge and one past it. */
	{ "huge", "65536", "the TSA's reply is not a TimeStampResp" },
	{ "huge", "65537", "the TSA's reply is larger than 65536 bytes" },
	{ "huge", "10000000", "the TSA's reply is larger than 65536 bytes" },
	/* Without a Content-Length, libcurl cannot know before the body. */
	{ "huge-unframed", "65536", "the TSA's reply is not a TimeStampResp" },
	{ "huge-unframed", "65537", "the TSA's reply is larger than 65536 bytes" },
	{ "wrong-type", NULL,
	    "the TSA answered with Content-Type text/plain, not application/timestamp-reply" },
	{ "wrong-imprint", NULL, "the TSA answered for another imprint" },
	{ "wrong-nonce", NULL, "nonce mismatch" },
	{ "untrusted", NULL,
	    "TSA certificate not trusted: unable to get local issuer certificate" },
	{ "error", NULL, "the TSA answered HTTP 500" },
	{ "rejection", NULL,
	    "the TSA refused: rejection (2, badAlg): signet test TSA: request rejected" },
};

START_TEST(test_bad_modes)
{
	struct tsa_token tok, before;
	struct tsa_srv sv;
	char why[TSA_WHY_MAX];
	uint8_t *cms, *sigval;
	size_t cms_len, sigval_len;

	make_cms(&cms, &cms_len);
	ck_assert_int_eq(tsa_sigval_cms(cms, cms_len, &sigval, &sigval_len), 0);
	memset(&tok, 0xa5, sizeof(tok));
	before = tok;
	srv_start(&sv, bad[_i].mode, bad[_i].opt);
	ck_assert_int_eq(
	    stamp(NULL, sv.url, "tsa-root.pem", TIMEOUT_MS, sigval, sigval_len, &tok, why),
	    SG_ERR_TIMESTAMP_FAILED);
	srv_stop(&sv);
	ck_assert_msg(strcmp(why, bad[_i].why) == 0, "%s: \"%s\"", bad[_i].mode, why);
	ck_assert_mem_eq(&tok, &before, sizeof(tok));
	free(sigval);
	free(cms);
}
END_TEST

/* A good TSA whose certificate chains to roots other than the configured. */
START_TEST(test_other_roots)
{
	static const uint8_t sigval[] = "signature value";
	struct tsa_token tok;
	struct tsa_srv sv;
	char why[TSA_WHY_MAX];

	srv_start(&sv, "good", NULL);
	ck_assert_int_eq(
	    stamp(NULL, sv.url, "other-root.pem", TIMEOUT_MS, sigval, sizeof(sigval), &tok, why),
	    SG_ERR_TIMESTAMP_FAILED);
	srv_stop(&sv);
	ck_assert_str_eq(
	    why, "TSA certificate not trusted: unable to get local issuer certificate");
}
END_TEST

/* Nothing listens: a failure, at once. */
START_TEST(test_down)
{
	static const uint8_t sigval[] = "signature value";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct tsa_token tok;
	char why[TSA_WHY_MAX], url[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int64_t t0, took;

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	close(fd); /* the port is now closed */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sa.sin_port));
	t0 = sgtime_mono_ms();
	ck_assert_int_eq(
	    stamp(NULL, url, "tsa-root.pem", TIMEOUT_MS, sigval, sizeof(sigval), &tok, why),
	    SG_ERR_TIMESTAMP_FAILED);
	took = sgtime_mono_ms() - t0;
	ck_assert_int_lt(took, 2000);
	ck_assert_msg(strncmp(why, "cannot reach the TSA: ", 22) == 0, "%s", why);
}
END_TEST

/* A TSA slower than the timeout: a failure when the timeout is up; and the
 * server still stops on SIGTERM with the request in its hands. */
START_TEST(test_slow)
{
	static const uint8_t sigval[] = "signature value";
	struct tsa_token tok;
	struct tsa_srv sv;
	char why[TSA_WHY_MAX];
	int64_t t0, took;

	srv_start(&sv, "slow", "5");
	t0 = sgtime_mono_ms();
	ck_assert_int_eq(
	    stamp(NULL, sv.url, "tsa-root.pem", 1000, sigval, sizeof(sigval), &tok, why),
	    SG_ERR_TIMESTAMP_FAILED);
	took = sgtime_mono_ms() - t0;
	srv_stop(&sv);
	ck_assert_str_eq(why, "the TSA did not answer within 1 s");
	ck_assert_int_ge(took, 950);
	ck_assert_int_lt(took, 3000);
}
END_TEST

/* The checks without I/O, on a good query and reply: the reply as it came
 * passes; any bit flipped, any truncation, a byte more, another time are
 * refused — except for the one flip that turns PKIStatus granted (0) into
 * grantedWithMods (1), which is as good. */
START_TEST(test_reply_mutations)
{
	static const uint8_t sigval[] = "signature value";
	struct tsa_token tok, chk;
	struct tsa_srv sv;
	char why[TSA_WHY_MAX];
	uint8_t *query, *reply, *longer;
	size_t query_len, reply_len, i, hdr;
	X509_STORE *st = roots("tsa-root.pem");
	int64_t now;
	int b, r;

	srv_start(&sv, "good", NULL);
	ck_assert_int_eq(
	    stamp(NULL, sv.url, "tsa-root.pem", TIMEOUT_MS, sigval, sizeof(sigval), &tok, why), 0);
	slurp(sv.dir, "query.tsq", &query, &query_len);
	slurp(sv.dir, "reply.tsr", &reply, &reply_len);
	srv_stop(&sv);
	now = sgtime_now();

	ck_assert_int_eq(
	    tsa_reply_check(query, query_len, reply, reply_len, st, now, &chk, why, sizeof(why)),
	    0);
	ck_assert_uint_eq(chk.len, tok.len);
	ck_assert_mem_eq(chk.der, tok.der, tok.len);
	ck_assert_int_eq(chk.time, tok.time);
	ck_assert_str_eq(chk.tsa, tok.tsa);
	tsa_token_clear(&chk);

	/* Where the PKIStatus value is: SEQUENCE { SEQUENCE { INTEGER 0 } ... */
	hdr = (reply[1] & 0x80) ? 2 + (size_t)(reply[1] & 0x7f) : 2;
	ck_assert_mem_eq(reply + hdr, "\x30\x03\x02\x01\x00", 5);
	for (i = 0; i < reply_len; i++) {
		for (b = 0; b < 8; b++) {
			reply[i] ^= (uint8_t)(1u << b);
			r = tsa_reply_check(
			    query, query_len, reply, reply_len, st, now, &chk, why, sizeof(why));
			reply[i] ^= (uint8_t)(1u << b);
			if (r == 0) {
				tsa_token_clear(&chk);
				ck_assert_msg(
				    i == hdr + 4 && b == 0, "bit %d of byte %zu accepted", b, i);
				continue;
			}
			ck_assert_msg(r == SG_ERR_TIMESTAMP_FAILED, "byte %zu bit %d: %d", i, b, r);
			assert_printable(why);
		}
	}
	for (i = 0; i < reply_len; i++)
		ck_assert_int_eq(
		    tsa_reply_check(query, query_len, reply, i, st, now, &chk, why, sizeof(why)),
		    SG_ERR_TIMESTAMP_FAILED);
	longer = malloc(reply_len + 1);
	ck_assert_ptr_nonnull(longer);
	memcpy(longer, reply, reply_len);
	longer[reply_len] = 0;
	ck_assert_int_eq(tsa_reply_check(query, query_len, longer, reply_len + 1, st, now, &chk,
			     why, sizeof(why)),
	    SG_ERR_TIMESTAMP_FAILED);
	ck_assert_str_eq(why, "the TSA's reply is not a TimeStampResp");

	/* The TSA's clock against ours. */
	ck_assert_int_eq(tsa_reply_check(query, query_len, reply, reply_len, st,
			     tok.time + TSA_CLOCK_SKEW_MAX_S, &chk, why, sizeof(why)),
	    0);
	tsa_token_clear(&chk);
	ck_assert_int_eq(tsa_reply_check(query, query_len, reply, reply_len, st,
			     tok.time + TSA_CLOCK_SKEW_MAX_S + 1, &chk, why, sizeof(why)),
	    SG_ERR_TIMESTAMP_FAILED);
	ck_assert_str_eq(why, "the TSA's time is -301 s away from ours");
	ck_assert_int_eq(tsa_reply_check(query, query_len, reply, reply_len, st, tok.time - 3600,
			     &chk, why, sizeof(why)),
	    SG_ERR_TIMESTAMP_FAILED);
	ck_assert_str_eq(why, "the TSA's time is 3600 s away from ours");

	/* Another query (another nonce): the reply is not for it. */
	query[query_len - 4] ^= 0x01;
	ck_assert_int_eq(
	    tsa_reply_check(query, query_len, reply, reply_len, st, now, &chk, why, sizeof(why)),
	    SG_ERR_TIMESTAMP_FAILED);
	ck_assert_str_eq(why, "nonce mismatch");
	/* Not a query at all. */
	ck_assert_int_eq(
	    tsa_reply_check(reply, reply_len, reply, reply_len, st, now, &chk, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);

	tsa_token_clear(&tok);
	X509_STORE_free(st);
	free(longer);
	free(query);
	free(reply);
}
END_TEST

START_TEST(test_invalid_arguments)
{
	static const uint8_t sigval[] = "signature value";
	uint8_t *big = calloc(1, TSA_SIGVAL_MAX + 1);
	X509_STORE *st = roots("tsa-root.pem");
	struct tsa_params p = { .url = "http://127.0.0.1:1/", .roots = st, .timeout_ms = 1000 };
	struct tsa_params q;
	struct tsa_token tok;
	char why[TSA_WHY_MAX];

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(tsa_timestamp(NULL, NULL, sigval, sizeof(sigval), &tok, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_str_eq(why, "invalid time-stamping request");
	ck_assert_int_eq(
	    tsa_timestamp(NULL, &p, NULL, 1, &tok, why, sizeof(why)), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    tsa_timestamp(NULL, &p, sigval, 0, &tok, why, sizeof(why)), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(tsa_timestamp(NULL, &p, big, TSA_SIGVAL_MAX + 1, &tok, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(tsa_timestamp(NULL, &p, sigval, sizeof(sigval), NULL, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	q = p;
	q.roots = NULL;
	ck_assert_int_eq(tsa_timestamp(NULL, &q, sigval, sizeof(sigval), &tok, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	q = p;
	q.timeout_ms = 0;
	ck_assert_int_eq(tsa_timestamp(NULL, &q, sigval, sizeof(sigval), &tok, why, sizeof(why)),
	    SG_ERR_INVALID_ARGUMENT);
	/* Only http and https (agent/http.h); why may be NULL. */
	q = p;
	q.url = "file:///etc/passwd";
	ck_assert_int_eq(tsa_timestamp(NULL, &q, sigval, sizeof(sigval), &tok, why, sizeof(why)),
	    SG_ERR_TIMESTAMP_FAILED);
	ck_assert_msg(strncmp(why, "cannot reach the TSA: ", 22) == 0, "%s", why);
	ck_assert_int_eq(tsa_timestamp(NULL, &q, sigval, sizeof(sigval), &tok, NULL, 0),
	    SG_ERR_TIMESTAMP_FAILED);
	X509_STORE_free(st);
	free(big);
}
END_TEST

/* Signature files that are not one: refused, outputs untouched. */
START_TEST(test_sigval_refused)
{
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	uint8_t *cms, *p7, *longer, *out = (uint8_t *)1;
	size_t cms_len, p7_len, i, out_len = 7;

	make_cms(&cms, &cms_len);
	make_pkcs7(&p7, &p7_len);
	ck_assert_int_eq(tsa_sigval_cms(junk, sizeof(junk), &out, &out_len), SG_ERR_PARSE);
	ck_assert_int_eq(tsa_sigval_pkcs7(junk, sizeof(junk), &out, &out_len), SG_ERR_PARSE);
	for (i = 0; i < cms_len; i += 7)
		ck_assert_int_eq(tsa_sigval_cms(cms, i, &out, &out_len), SG_ERR_PARSE);
	for (i = 0; i < p7_len; i += 7)
		ck_assert_int_eq(tsa_sigval_pkcs7(p7, i, &out, &out_len), SG_ERR_PARSE);
	longer = malloc(cms_len + 1);
	ck_assert_ptr_nonnull(longer);
	memcpy(longer, cms, cms_len);
	longer[cms_len] = 0;
	ck_assert_int_eq(tsa_sigval_cms(longer, cms_len + 1, &out, &out_len), SG_ERR_PARSE);
	ck_assert_int_eq(tsa_sigval_cms(cms, TSA_SIGNED_MAX + 1, &out, &out_len), SG_ERR_LIMIT);
	ck_assert_int_eq(tsa_sigval_cms(NULL, 1, &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(tsa_sigval_pkcs7(p7, p7_len, NULL, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_eq(out, (uint8_t *)1);
	ck_assert_uint_eq(out_len, 7);
	free(longer);
	free(p7);
	free(cms);
}
END_TEST

/* Attaching: a token that is not one, a file that is not one, twice. */
START_TEST(test_attach_refused)
{
	static uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	struct tsa_token bogus = { .der = junk, .len = sizeof(junk) };
	struct tsa_token tok;
	struct tsa_srv sv;
	char why[TSA_WHY_MAX];
	uint8_t *cms, *sigval, *once, *out = (uint8_t *)1;
	size_t cms_len, sigval_len, once_len, out_len = 7;

	make_cms(&cms, &cms_len);
	ck_assert_int_eq(tsa_sigval_cms(cms, cms_len, &sigval, &sigval_len), 0);
	srv_start(&sv, "good", NULL);
	ck_assert_int_eq(
	    stamp(NULL, sv.url, "tsa-root.pem", TIMEOUT_MS, sigval, sigval_len, &tok, why), 0);
	srv_stop(&sv);

	ck_assert_int_eq(tsa_attach_cms(cms, cms_len, &bogus, &out, &out_len), SG_ERR_PARSE);
	ck_assert_int_eq(tsa_attach_pkcs7(cms, cms_len, &bogus, &out, &out_len), SG_ERR_PARSE);
	ck_assert_int_eq(tsa_attach_cms(junk, sizeof(junk), &tok, &out, &out_len), SG_ERR_PARSE);
	ck_assert_int_eq(tsa_attach_cms(cms, cms_len - 1, &tok, &out, &out_len), SG_ERR_PARSE);
	ck_assert_int_eq(
	    tsa_attach_cms(cms, cms_len, NULL, &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    tsa_attach_cms(cms, cms_len, &tok, NULL, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(tsa_attach_cms(cms, cms_len, &tok, &once, &once_len), 0);
	ck_assert_int_eq(tsa_attach_cms(once, once_len, &tok, &out, &out_len), SG_ERR_EXISTS);
	ck_assert_ptr_eq(out, (uint8_t *)1);
	ck_assert_uint_eq(out_len, 7);
	tsa_token_clear(&tok);
	free(once);
	free(sigval);
	free(cms);
}
END_TEST

START_TEST(test_load_roots)
{
	char *dir = test_tmpdir(), *junk, path[PATH_MAX];
	X509_STORE *st = (X509_STORE *)1;

	junk = test_write_file(dir, "junk.pem", "not a certificate\n", 18, 0644);
	snprintf(path, sizeof(path), "%s/missing.pem", dir);
	ck_assert_int_eq(tsa_load_roots(path, &st), SG_ERR_NOT_FOUND);
	ck_assert_int_eq(tsa_load_roots(junk, &st), SG_ERR_PARSE);
	ck_assert_int_eq(tsa_load_roots(NULL, &st), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_eq(st, (X509_STORE *)1);
	X509_STORE_free(roots("tsa-root.pem"));
	free(junk);
	test_tmpdir_free(dir);
}
END_TEST

int main(void);

int
main(void)
{
	Suite *s = suite_create("tsa");
	TCase *tc;
	pid_t pid;
	int st = 0, r;

	/* A server that drops the connection must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	unset_proxies();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return EXIT_FAILURE;
	if ((pki = tmpdir_new(NULL, "sg-tsa-pki")) == NULL) {
		perror("tmpdir_new");
		return EXIT_FAILURE;
	}
	if ((pid = fork()) == 0) {
		die_with_parent();
		execl(PYTHON, PYTHON, TSA_SERVER, "--dir", pki, "--init", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s --init failed\n", TSA_SERVER);
		(void)tmpdir_free(pki);
		return EXIT_FAILURE;
	}

	test_add(s, "/tsa/good/cms", test_good_cms, TEST_TIMEOUT_S);
	test_add(s, "/tsa/good/pkcs7", test_good_pkcs7, TEST_TIMEOUT_S);
	tc = test_case(s, "/tsa/bad-tsa", TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_bad_modes, 0, (int)nitems(bad));
	tcase_add_test(tc, test_other_roots);
	tcase_add_test(tc, test_down);
	tcase_add_test(tc, test_slow);
	test_add(s, "/tsa/reply/mutations", test_reply_mutations, 3 * TEST_TIMEOUT_S);
	test_add(s, "/tsa/invalid-arguments", test_invalid_arguments, TEST_TIMEOUT_S);
	test_add(s, "/tsa/sigval/refused", test_sigval_refused, TEST_TIMEOUT_S);
	test_add(s, "/tsa/attach/refused", test_attach_refused, TEST_TIMEOUT_S);
	test_add(s, "/tsa/load-roots", test_load_roots, TEST_TIMEOUT_S);
	r = test_run(s);
	(void)tmpdir_free(pki);
	return r;
}
