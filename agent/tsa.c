/*
 * tsa.c — RFC 3161 time-stamping (see tsa.h).
 *
 * The exchange: a TimeStampReq (version 1, messageImprint SHA-256 of the
 * signature value, a random 64-bit nonce, certReq TRUE) goes out in one
 * HTTP POST through agent/http.h, like every transfer of the agent; the
 * TimeStampResp that comes back is hostile until every check of
 * tsa_reply_check() has passed.  The checks are made one by one, each with
 * its own reason (the reasons go into results and logs; OpenSSL's error
 * queue would not say which check failed), and then again by OpenSSL's
 * TS_RESP_verify_token(), which also checks the token's ESS
 * signing-certificate attribute against the signer.
 *
 * OpenSSL's decoder is lenient: it takes BER, a SEQUENCE where a SET
 * belongs, any version numbers, and it matches the signer's issuer name
 * without regard to case; its verifier ignores the signature algorithm
 * named in the SignerInfo.  None of that is covered by the TSA's
 * signature, and a stricter verifier of our signature file (Windows, a
 * Java stack) might refuse it.  So the reply must be DER (it re-encodes to
 * the same bytes) and those fields are checked here; the mutation test of
 * tests/unit/test_tsa.c flips every bit of a good reply to keep it so.
 * What is embedded in the signature file is our DER of the token, parsed
 * back again: the bytes that were verified, which are the TSA's.
 *
 * Attaching re-encodes the signature file with OpenSSL, which is safe only
 * because the file is DER to begin with (we made it); it is checked on the
 * bytes: the result must be the input with one attribute more among the
 * signer's unsigned attributes, everything else unchanged, so the signed
 * attributes and the signature cannot have moved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "http.h"
#include "log.h"
#include "sgtime.h"
#include "tsa.h"
#include "util.h"

#define TSA_NONCE_BITS              64
/* Bytes of a hostile string (status text, Content-Type, libcurl's reason)
 * quoted in a reason, before escaping. */
#define TSA_QUOTE_MAX               80
/* The Authenticode RFC 3161 countersignature; OpenSSL has no NID for it. */
#define TSA_OID_MS_COUNTERSIGNATURE "1.3.6.1.4.1.311.3.3.1"

static const char reply_type[] = "application/timestamp-reply";

/* The reply body as it arrives, bounded by TSA_REPLY_MAX. */
struct reply {
	uint8_t *buf;
	size_t len;
	int too_large, no_memory;
};

static size_t
reply_cb(char *src, size_t size, size_t nmemb, void *arg)
{
	struct reply *rp = arg;
	size_t n = size * nmemb;
	uint8_t *p;

	if (n == 0)
		return 0;
	if (n > TSA_REPLY_MAX - rp->len) {
		rp->too_large = 1;
		return 0; /* makes libcurl fail the transfer */
	}
	if ((p = realloc(rp->buf, rp->len + n)) == NULL) {
		rp->no_memory = 1;
		return 0;
	}
	rp->buf = p;
	memcpy(rp->buf + rp->len, src, n);
	rp->len += n;
	return n;
}

/* "10 s", or "1500 ms" when not whole seconds. */
static void
format_ms(int64_t ms, char *out, size_t outsz)
{
	if (ms % 1000 == 0)
		snprintf(out, outsz, "%lld s", (long long)(ms / 1000));
	else
		snprintf(out, outsz, "%lld ms", (long long)ms);
}

/* The media type application/timestamp-reply, any case, parameters allowed. */
static int
is_reply_type(const char *ct)
{
	size_t n = sizeof(reply_type) - 1;

	if (ct == NULL || strncasecmp(ct, reply_type, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* The DER TimeStampReq for imprint, with a fresh nonce. */
static int
make_query(const uint8_t imprint[SHA256_LEN], uint8_t **ret_der, size_t *ret_len)
{
	uint8_t hash[SHA256_LEN];
	TS_REQ *req = NULL;
	TS_MSG_IMPRINT *mi = NULL;
	X509_ALGOR *alg = NULL;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *nonce = NULL;
	uint8_t *der = NULL, *p;
	int n, r = SG_ERR_CRYPTO;

	if ((req = TS_REQ_new()) == NULL || (mi = TS_MSG_IMPRINT_new()) == NULL ||
	    (alg = X509_ALGOR_new()) == NULL || (bn = BN_new()) == NULL)
		goto out;
	X509_ALGOR_set_md(alg, EVP_sha256());
	memcpy(hash, imprint, SHA256_LEN); /* TS_MSG_IMPRINT_set_msg() wants it writable */
	if (!TS_REQ_set_version(req, 1) || !TS_MSG_IMPRINT_set_algo(mi, alg) ||
	    !TS_MSG_IMPRINT_set_msg(mi, hash, SHA256_LEN) || !TS_REQ_set_msg_imprint(req, mi))
		goto out;
	/* Up to 64 random bits, as `openssl ts -query` and RFC 3161 §2.4.1
	 * suggest: a reply to another request cannot pass for this one. */
	if (!BN_rand(bn, TSA_NONCE_BITS, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    (nonce = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || !TS_REQ_set_nonce(req, nonce) ||
	    !TS_REQ_set_cert_req(req, 1))
		goto out;
	if ((n = i2d_TS_REQ(req, NULL)) <= 0)
		goto out;
	if ((der = malloc((size_t)n)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	p = der;
	if (i2d_TS_REQ(req, &p) != n)
		goto out;
	*ret_der = der;
	*ret_len = (size_t)n;
	der = NULL;
	r = 0;
out:
	free(der);
	ASN1_INTEGER_free(nonce);
	BN_free(bn);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	return r;
}

/* POSTs the query; 0 with the body of a 200 application/timestamp-reply
 * answer in *rp, else SG_ERR_TIMESTAMP_FAILED with the reason in why. */
static int
post_query(CURL *c, const struct tsa_params *p, const uint8_t *query, size_t query_len,
    struct reply *rp, char *why, size_t whylen)
{
	static const char *const headers[] = {
		"Content-Type: application/timestamp-query",
		"Accept: application/timestamp-reply",
		"Expect:",
	};
	struct curl_slist *hdrs = NULL, *h;
	char errbuf[CURL_ERROR_SIZE], quoted[4 * TSA_QUOTE_MAX + 4], t[32];
	struct http_opts ho = {
		.url = p->url, .ca_file = p->ca_file, .timeout_ms = p->timeout_ms, .errbuf = errbuf
	};
	const char *ct = NULL;
	long code = 0;
	CURLcode cc;
	int r = SG_ERR_ALLOC;

	for (size_t i = 0; i < nitems(headers); i++) {
		if ((h = curl_slist_append(hdrs, headers[i])) == NULL) {
			errbuf_set(why, whylen, "out of memory");
			goto out;
		}
		hdrs = h;
	}
	r = SG_ERR_TIMESTAMP_FAILED;
	ho.headers = hdrs;
	if ((cc = http_easy_setup(c, &ho)) != CURLE_OK) {
		errbuf_set(why, whylen, "cannot set up the request to the TSA: %s",
		    curl_easy_strerror(cc));
		goto out;
	}
	if ((cc = curl_easy_setopt(c, CURLOPT_POST, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, query)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)query_len)) !=
		CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TSA_REPLY_MAX)) !=
		CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_cb)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, rp)) != CURLE_OK) {
		curl_easy_reset(c);
		errbuf_set(why, whylen, "cannot set up the request to the TSA: %s",
		    curl_easy_strerror(cc));
		goto out;
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rp->no_memory) {
		r = SG_ERR_ALLOC;
		errbuf_set(why, whylen, "out of memory");
		goto out;
	}
	if (rp->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		errbuf_set(why, whylen, "the TSA's reply is larger than %d bytes", TSA_REPLY_MAX);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		format_ms(p->timeout_ms, t, sizeof(t));
		errbuf_set(why, whylen, "the TSA did not answer within %s", t);
		goto out;
	}
	if (cc != CURLE_OK) {
		log_escape(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc), TSA_QUOTE_MAX,
		    quoted, sizeof(quoted));
		errbuf_set(why, whylen, "cannot reach the TSA: %s", quoted);
		goto out;
	}
	if (code != 200) {
		errbuf_set(why, whylen, "the TSA answered HTTP %ld", code);
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || !is_reply_type(ct)) {
		log_escape(ct != NULL ? ct : "none", TSA_QUOTE_MAX, quoted, sizeof(quoted));
		errbuf_set(why, whylen, "the TSA answered with Content-Type %s, not %s", quoted,
		    reply_type);
		goto out;
	}
	r = 0;
out:
	/* The handle must keep no pointer to the query, the reply or the
	 * headers freed here; its connections stay. */
	curl_easy_reset(c);
	curl_slist_free_all(hdrs);
	return r;
}

/* The names of PKIStatus values (RFC 3161 §2.4.2). */
static const char *
status_name(long s)
{
	static const char *const names[] = { "granted", "grantedWithMods", "rejection", "waiting",
		"revocationWarning", "revocationNotification" };

	return s >= 0 && (size_t)s < nitems(names) ? names[s] : "unknown";
}

/* PKIStatus granted or grantedWithMods; else the reason, with the TSA's
 * failInfo and first status string, in why. */
static int
check_status(TS_RESP *resp, char *why, size_t whylen)
{
	static const struct {
		int bit;
		const char *name;
	} fails[] = { { 0, "badAlg" }, { 2, "badRequest" }, { 5, "badDataFormat" },
		{ 14, "timeNotAvailable" }, { 15, "unacceptedPolicy" },
		{ 16, "unacceptedExtension" }, { 17, "addInfoNotAvailable" },
		{ 25, "systemFailure" } };
	TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
	const ASN1_BIT_STRING *fi;
	const STACK_OF(ASN1_UTF8STRING) * text;
	char quoted[4 * TSA_QUOTE_MAX + 4] = "", fail[32] = "";
	long s;

	s = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
	if (s == 0 || s == 1)
		return 0;
	fi = TS_STATUS_INFO_get0_failure_info(si);
	for (size_t i = 0; fi != NULL && i < nitems(fails); i++) {
		if (ASN1_BIT_STRING_get_bit(fi, fails[i].bit)) {
			snprintf(fail, sizeof(fail), ", %s", fails[i].name);
			break;
		}
	}
	text = TS_STATUS_INFO_get0_text(si);
	if (text != NULL && sk_ASN1_UTF8STRING_num(text) > 0) {
		const ASN1_UTF8STRING *u = sk_ASN1_UTF8STRING_value(text, 0);
		int n = ASN1_STRING_length(u);

		log_escape((const char *)ASN1_STRING_get0_data(u),
		    n > TSA_QUOTE_MAX ? TSA_QUOTE_MAX : (size_t)n, quoted, sizeof(quoted));
	}
	errbuf_set(why, whylen, "the TSA refused: %s (%ld%s)%s%s", status_name(s), s, fail,
	    quoted[0] != '\0' ? ": " : "", quoted);
	return SG_ERR_TIMESTAMP_FAILED;
}

/* The certificate's subject, RFC 2253, printable ASCII, cut to fit out. */
static void
subject_line(X509 *x, char out[TSA_NAME_MAX])
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n = 0;
	size_t len, i;

	out[0] = '\0';
	/* XN_FLAG_RFC2253 escapes control characters and non-ASCII bytes;
	 * whatever would still not be printable becomes '?' below. */
	if (b == NULL || X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) < 0 ||
	    (n = BIO_get_mem_data(b, &data)) <= 0) {
		snprintf(out, TSA_NAME_MAX, "(unprintable)");
		goto out;
	}
	len = (size_t)n;
	if (len > TSA_NAME_MAX - 1)
		len = TSA_NAME_MAX - 1;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)data[i];
		out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[len] = '\0';
	if ((size_t)n > TSA_NAME_MAX - 1)
		memcpy(out + TSA_NAME_MAX - 4, "...", 4);
out:
	BIO_free(b);
}

/* genTime as seconds since the epoch (fractions dropped). */
static int
gen_time(const TS_TST_INFO *tst, int64_t *ret)
{
	const ASN1_GENERALIZEDTIME *g = TS_TST_INFO_get_time(tst);
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (g == NULL || !ASN1_GENERALIZEDTIME_check(g) || !ASN1_TIME_to_tm(g, &tm))
		return SG_ERR_PARSE;
	if ((t = timegm(&tm)) == (time_t)-1)
		return SG_ERR_PARSE;
	*ret = (int64_t)t;
	return 0;
}

/* The certificate that signed the token chains to roots, through the
 * token's certificates, and may sign time stamps (RFC 3161 §2.3: the
 * timeStamping extended key usage, alone and critical). */
static int
check_chain(PKCS7 *token, X509 *signer, X509_STORE *roots, char *why, size_t whylen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int r = SG_ERR_ALLOC;

	if (ctx == NULL) {
		errbuf_set(why, whylen, "out of memory");
		goto out;
	}
	r = SG_ERR_TIMESTAMP_FAILED;
	if (!X509_STORE_CTX_init(ctx, roots, signer, token->d.sign->cert) ||
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_TIMESTAMP_SIGN)) {
		errbuf_set(why, whylen, "cannot check the TSA certificate");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		errbuf_set(why, whylen, "TSA certificate not trusted: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	r = 0;
out:
	X509_STORE_CTX_free(ctx);
	return r;
}

/* OpenSSL's own verification of the token for req: signature, version,
 * imprint, nonce, the signer's chain to roots and its ESS identifier. */
static int
verify_token(TS_REQ *req, PKCS7 *token, X509_STORE *roots, char *why, size_t whylen)
{
	TS_VERIFY_CTX *vc = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
	unsigned long e;
	int r = SG_ERR_TIMESTAMP_FAILED;

	if (vc == NULL) {
		errbuf_set(why, whylen, "out of memory");
		return SG_ERR_ALLOC;
	}
	TS_VERIFY_CTX_set_flags(
	    vc, TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE | TS_VFY_SIGNER);
	/* The context frees its store (OpenSSL 3.0): it gets a reference. */
	if (!X509_STORE_up_ref(roots)) {
		errbuf_set(why, whylen, "cannot check the TSA's token");
		goto out;
	}
	TS_VERIFY_CTX_set_store(vc, roots);
	if (TS_RESP_verify_token(vc, token) != 1) {
		e = ERR_peek_last_error();
		errbuf_set(why, whylen, "the TSA's token does not verify: %s",
		    e != 0 && ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e)
								 : "unknown reason");
		goto out;
	}
	r = 0;
out:
	TS_VERIFY_CTX_free(vc);
	return r;
}

/* Whether resp encodes to exactly der (len bytes). */
static int
is_der_of(TS_RESP *resp, const uint8_t *der, size_t len)
{
	unsigned char *again = NULL;
	int n = i2d_TS_RESP(resp, &again);
	int same = n > 0 && (size_t)n == len && memcmp(again, der, len) == 0;

	OPENSSL_free(again);
	return same;
}

/* An AlgorithmIdentifier of a digest: its parameters absent or NULL. */
static int
digest_params_ok(const X509_ALGOR *alg)
{
	int ptype = V_ASN1_UNDEF;

	X509_ALGOR_get0(NULL, &ptype, NULL, alg);
	return ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL;
}

/* The signer info's signature algorithm fits the signer's key and its
 * digest: the key's own algorithm (rsaEncryption, id-ecPublicKey, as
 * PKCS#7 writers often put), or a signature algorithm for that key type
 * whose digest, if it names one, is the signer info's. */
static int
sigalg_ok(const ASN1_OBJECT *sigalg, int md_nid, X509 *signer)
{
	EVP_PKEY *pk = X509_get0_pubkey(signer);
	int nid = OBJ_obj2nid(sigalg), key, dig = NID_undef, pkey = NID_undef;

	if (pk == NULL || nid == NID_undef)
		return 0;
	key = EVP_PKEY_get_base_id(pk);
	if (nid == key)
		return 1;
	if (!OBJ_find_sigid_algs(nid, &dig, &pkey))
		return 0;
	if (pkey == EVP_PKEY_RSA_PSS && key == EVP_PKEY_RSA)
		pkey = key;
	return pkey == key && (dig == NID_undef || dig == md_nid);
}

/*
 * What OpenSSL's parser and verifier let pass although no signature
 * covers it, and that a stricter verifier of the signature file might
 * refuse: SignedData version 3 (RFC 5652 §5.1, the content is not
 * id-data), one SignerInfo of version 1 whose issuer is the signer
 * certificate's issuer byte for byte (OpenSSL compares names without
 * regard to case), digest parameters absent or NULL, and a signature
 * algorithm that fits the key.
 */
static int
check_token_form(PKCS7 *token, X509 *signer, char *why, size_t whylen)
{
	PKCS7_SIGNED *sd = token->d.sign;
	PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(sd->signer_info, 0);
	const unsigned char *a = NULL, *b = NULL;
	const ASN1_OBJECT *md = NULL, *sigalg = NULL;
	size_t alen = 0, blen = 0;
	const char *what = NULL;
	int i;

	if (ASN1_INTEGER_get(sd->version) != 3)
		what = "SignedData version";
	for (i = 0; what == NULL && i < sk_X509_ALGOR_num(sd->md_algs); i++) {
		if (!digest_params_ok(sk_X509_ALGOR_value(sd->md_algs, i)))
			what = "digest algorithm parameters";
	}
	if (what != NULL)
		goto out;
	if (si == NULL || ASN1_INTEGER_get(si->version) != 1) {
		what = "SignerInfo version";
		goto out;
	}
	if (!X509_NAME_get0_der(si->issuer_and_serial->issuer, &a, &alen) ||
	    !X509_NAME_get0_der(X509_get_issuer_name(signer), &b, &blen) || alen != blen ||
	    memcmp(a, b, alen) != 0 ||
	    ASN1_INTEGER_cmp(si->issuer_and_serial->serial, X509_get0_serialNumber(signer)) != 0) {
		what = "signer identifier";
		goto out;
	}
	X509_ALGOR_get0(&md, NULL, NULL, si->digest_alg);
	X509_ALGOR_get0(&sigalg, NULL, NULL, si->digest_enc_alg);
	if (!digest_params_ok(si->digest_alg))
		what = "digest algorithm parameters";
	else if (!sigalg_ok(sigalg, OBJ_obj2nid(md), signer))
		what = "signature algorithm";
out:
	if (what == NULL)
		return 0;
	errbuf_set(why, whylen, "the TSA's token is malformed: %s", what);
	return SG_ERR_TIMESTAMP_FAILED;
}

/* The TimeStampReq we sent: one DER TimeStampReq of version 1 with a
 * SHA-256 imprint and a nonce; the request and its imprint. */
static int
parse_query(const uint8_t *query, size_t query_len, TS_REQ **ret_req, uint8_t imprint[SHA256_LEN])
{
	const unsigned char *p = query;
	const ASN1_OBJECT *algo = NULL;
	const ASN1_OCTET_STRING *msg;
	TS_MSG_IMPRINT *mi;
	TS_REQ *req;

	if (query_len == 0 || query_len > TSA_QUERY_MAX ||
	    (req = d2i_TS_REQ(NULL, &p, (long)query_len)) == NULL)
		return SG_ERR_PARSE;
	mi = TS_REQ_get_msg_imprint(req);
	X509_ALGOR_get0(&algo, NULL, NULL, TS_MSG_IMPRINT_get_algo(mi));
	msg = TS_MSG_IMPRINT_get_msg(mi);
	if (p != query + query_len || TS_REQ_get_version(req) != 1 ||
	    OBJ_obj2nid(algo) != NID_sha256 || msg == NULL ||
	    ASN1_STRING_length(msg) != SHA256_LEN || TS_REQ_get_nonce(req) == NULL) {
		TS_REQ_free(req);
		return SG_ERR_PARSE;
	}
	memcpy(imprint, ASN1_STRING_get0_data(msg), SHA256_LEN);
	*ret_req = req;
	return 0;
}

int
tsa_reply_check(const uint8_t *query, size_t query_len, const uint8_t *reply, size_t reply_len,
    X509_STORE *roots, int64_t now, struct tsa_token *ret, char *why, size_t whylen)
{
	const unsigned char *p = reply;
	uint8_t imprint[SHA256_LEN];
	TS_REQ *req = NULL;
	TS_RESP *resp = NULL;
	PKCS7 *token = NULL;
	TS_TST_INFO *tst = NULL;
	STACK_OF(X509) *signers = NULL;
	const ASN1_INTEGER *nonce;
	TS_MSG_IMPRINT *mi;
	const ASN1_OBJECT *algo = NULL;
	const ASN1_OCTET_STRING *msg;
	const void *algo_params = NULL;
	uint8_t *der = NULL, *q;
	int n, e, algo_ptype = V_ASN1_UNDEF, r = SG_ERR_INVALID_ARGUMENT;
	int64_t gt = 0;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (query == NULL || reply == NULL || roots == NULL || ret == NULL) {
		errbuf_set(why, whylen, "invalid time-stamp check");
		goto out;
	}
	if ((r = parse_query(query, query_len, &req, imprint)) != 0) {
		errbuf_set(why, whylen, "not a time-stamp query of ours");
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	r = SG_ERR_TIMESTAMP_FAILED;
	/* Exactly one TimeStampResp and nothing after it.  OpenSSL's decoder
	 * also refuses a token with a status other than granted(WithMods),
	 * and granted without a token. */
	if (reply_len == 0 || reply_len > TSA_REPLY_MAX ||
	    (resp = d2i_TS_RESP(NULL, &p, (long)reply_len)) == NULL || p != reply + reply_len) {
		errbuf_set(why, whylen, "the TSA's reply is not a TimeStampResp");
		goto out;
	}
	/* And DER: OpenSSL's decoder also takes BER and some wrong tags (a
	 * SEQUENCE for a SET, a primitive encoding for a constructed one),
	 * which it would encode otherwise; a reply that does not come out
	 * again byte for byte is refused, so the token we keep is the TSA's. */
	if (!is_der_of(resp, reply, reply_len)) {
		errbuf_set(why, whylen, "the TSA's reply is not DER");
		goto out;
	}
	if (check_status(resp, why, whylen) != 0)
		goto out;
	/* From here on, our DER of the token, parsed again: what is checked
	 * is what goes into the signature file. */
	if (TS_RESP_get_token(resp) == NULL ||
	    (n = i2d_PKCS7(TS_RESP_get_token(resp), NULL)) <= 0 || n > TSA_REPLY_MAX) {
		errbuf_set(why, whylen, "the TSA's reply holds no usable token");
		goto out;
	}
	if ((der = malloc((size_t)n)) == NULL) {
		r = SG_ERR_ALLOC;
		errbuf_set(why, whylen, "out of memory");
		goto out;
	}
	q = der;
	p = der;
	if (i2d_PKCS7(TS_RESP_get_token(resp), &q) != n ||
	    (token = d2i_PKCS7(NULL, &p, n)) == NULL || p != der + n ||
	    (tst = PKCS7_to_TS_TST_INFO(token)) == NULL) {
		errbuf_set(why, whylen, "the TSA's token is not a signed TSTInfo");
		goto out;
	}
	if (TS_TST_INFO_get_version(tst) != 1) {
		errbuf_set(why, whylen, "the TSA's token has version %ld, not 1",
		    TS_TST_INFO_get_version(tst));
		goto out;
	}
	mi = TS_TST_INFO_get_msg_imprint(tst);
	X509_ALGOR_get0(&algo, &algo_ptype, &algo_params, TS_MSG_IMPRINT_get_algo(mi));
	msg = TS_MSG_IMPRINT_get_msg(mi);
	if (OBJ_obj2nid(algo) != NID_sha256 ||
	    (algo_ptype != V_ASN1_UNDEF && algo_ptype != V_ASN1_NULL) || msg == NULL ||
	    ASN1_STRING_length(msg) != SHA256_LEN ||
	    memcmp(ASN1_STRING_get0_data(msg), imprint, SHA256_LEN) != 0) {
		errbuf_set(why, whylen, "the TSA answered for another imprint");
		goto out;
	}
	if ((nonce = TS_TST_INFO_get_nonce(tst)) == NULL) {
		errbuf_set(why, whylen, "the TSA's token has no nonce");
		goto out;
	}
	if (ASN1_INTEGER_cmp(nonce, TS_REQ_get_nonce(req)) != 0) {
		errbuf_set(why, whylen, "nonce mismatch");
		goto out;
	}
	/* certReq was TRUE: the TSA's certificate must be in the token. */
	if (sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(token)) != 1 ||
	    (signers = PKCS7_get0_signers(token, NULL, 0)) == NULL || sk_X509_num(signers) != 1) {
		errbuf_set(why, whylen, "the TSA's token does not carry its certificate");
		goto out;
	}
	if (check_token_form(token, sk_X509_value(signers, 0), why, whylen) != 0)
		goto out;
	/* r stays SG_ERR_TIMESTAMP_FAILED until the very end: these two may
	 * also say SG_ERR_ALLOC. */
	if ((e = check_chain(token, sk_X509_value(signers, 0), roots, why, whylen)) != 0 ||
	    (e = verify_token(req, token, roots, why, whylen)) != 0) {
		r = e;
		goto out;
	}
	if (gen_time(tst, &gt) != 0) {
		errbuf_set(why, whylen, "the TSA's token has an unreadable genTime");
		goto out;
	}
	if (gt - now > TSA_CLOCK_SKEW_MAX_S || now - gt > TSA_CLOCK_SKEW_MAX_S) {
		errbuf_set(
		    why, whylen, "the TSA's time is %lld s away from ours", (long long)(gt - now));
		goto out;
	}
	ret->der = der;
	ret->len = (size_t)n;
	ret->time = gt;
	subject_line(sk_X509_value(signers, 0), ret->tsa);
	der = NULL;
	r = 0;
out:
	if (r != 0)
		log_debug("the TSA's reply is refused: %s", why != NULL ? why : "");
	free(der);
	TS_REQ_free(req);
	sk_X509_free(signers);
	TS_TST_INFO_free(tst);
	PKCS7_free(token);
	TS_RESP_free(resp);
	return crypto_err(r);
}

int
tsa_timestamp(CURL *c, const struct tsa_params *p, const uint8_t *sigval, size_t sigval_len,
    struct tsa_token *ret, char *why, size_t whylen)
{
	struct reply rp = { NULL, 0, 0, 0 };
	uint8_t imprint[SHA256_LEN], *query = NULL;
	size_t query_len = 0;
	CURL *own = NULL;
	int r = SG_ERR_INVALID_ARGUMENT;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (p == NULL || p->url == NULL || p->roots == NULL || p->timeout_ms <= 0 ||
	    sigval == NULL || sigval_len == 0 || sigval_len > TSA_SIGVAL_MAX || ret == NULL) {
		errbuf_set(why, whylen, "invalid time-stamping request");
		goto out;
	}
	if (c == NULL && (c = own = curl_easy_init()) == NULL) {
		r = SG_ERR_ALLOC;
		errbuf_set(why, whylen, "out of memory");
		goto out;
	}
	crypto_sha256(sigval, sigval_len, imprint);
	if ((r = make_query(imprint, &query, &query_len)) != 0) {
		errbuf_set(why, whylen, "cannot make the time-stamp query");
		goto out;
	}
	if ((r = post_query(c, p, query, query_len, &rp, why, whylen)) != 0)
		goto out;
	r = tsa_reply_check(
	    query, query_len, rp.buf, rp.len, p->roots, sgtime_now(), ret, why, whylen);
out:
	if (r != 0)
		log_debug("time-stamping at the TSA failed: %s", why != NULL ? why : "");
	free(rp.buf);
	free(query);
	curl_easy_cleanup(own);
	return crypto_err(r);
}

void
tsa_token_clear(struct tsa_token *t)
{
	if (t == NULL)
		return;
	free(t->der);
	memset(t, 0, sizeof(*t));
}

/*
 * The signature files: a CMS SignedData with one signer, or a PKCS#7 one.
 */

static int
cms_parse(const uint8_t *der, size_t len, CMS_ContentInfo **ret_cms, CMS_SignerInfo **ret_si)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) * sis;

	if (len > TSA_SIGNED_MAX)
		return SG_ERR_LIMIT;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL || p != der + len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    (sis = CMS_get0_SignerInfos(cms)) == NULL || sk_CMS_SignerInfo_num(sis) != 1) {
		CMS_ContentInfo_free(cms);
		return SG_ERR_PARSE;
	}
	*ret_cms = cms;
	*ret_si = sk_CMS_SignerInfo_value(sis, 0);
	return 0;
}

static int
pkcs7_parse(const uint8_t *der, size_t len, PKCS7 **ret_p7, PKCS7_SIGNER_INFO **ret_si)
{
	const unsigned char *p = der;
	STACK_OF(PKCS7_SIGNER_INFO) * sis;
	PKCS7 *p7 = NULL;

	if (len > TSA_SIGNED_MAX)
		return SG_ERR_LIMIT;
	if ((p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL || p != der + len ||
	    !PKCS7_type_is_signed(p7) || p7->d.sign == NULL ||
	    (sis = PKCS7_get_signer_info(p7)) == NULL || sk_PKCS7_SIGNER_INFO_num(sis) != 1) {
		PKCS7_free(p7);
		return SG_ERR_PARSE;
	}
	*ret_p7 = p7;
	*ret_si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
	return 0;
}

static int
copy_sigval(const ASN1_OCTET_STRING *s, uint8_t **ret, size_t *ret_len)
{
	int n = s != NULL ? ASN1_STRING_length(s) : 0;
	uint8_t *out;

	if (n <= 0)
		return SG_ERR_PARSE;
	if ((size_t)n > TSA_SIGVAL_MAX)
		return SG_ERR_LIMIT;
	if ((out = malloc((size_t)n)) == NULL)
		return SG_ERR_ALLOC;
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)n);
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

int
tsa_sigval_cms(const uint8_t *der, size_t len, uint8_t **ret, size_t *ret_len)
{
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	int r;

	if (der == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = cms_parse(der, len, &cms, &si)) != 0)
		return crypto_err(r);
	r = copy_sigval(CMS_SignerInfo_get0_signature(si), ret, ret_len);
	CMS_ContentInfo_free(cms);
	return crypto_err(r);
}

int
tsa_sigval_pkcs7(const uint8_t *der, size_t len, uint8_t **ret, size_t *ret_len)
{
	PKCS7 *p7 = NULL;
	PKCS7_SIGNER_INFO *si;
	int r;

	if (der == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = pkcs7_parse(der, len, &p7, &si)) != 0)
		return crypto_err(r);
	r = copy_sigval(si->enc_digest, ret, ret_len);
	PKCS7_free(p7);
	return crypto_err(r);
}

/* The token is one DER ContentInfo holding a SignedData. */
static int
check_token_der(const struct tsa_token *t)
{
	const unsigned char *p;
	PKCS7 *p7;
	int ok;

	if (t == NULL || t->der == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (t->len == 0 || t->len > TSA_REPLY_MAX)
		return SG_ERR_PARSE;
	p = t->der;
	p7 = d2i_PKCS7(NULL, &p, (long)t->len);
	ok = p7 != NULL && p == t->der + t->len && PKCS7_type_is_signed(p7);
	PKCS7_free(p7);
	return ok ? 0 : SG_ERR_PARSE;
}

/* The attribute holds exactly one value: the token's bytes. */
static int
attr_holds_token(X509_ATTRIBUTE *a, const struct tsa_token *t)
{
	ASN1_TYPE *v;

	if (a == NULL || X509_ATTRIBUTE_count(a) != 1 ||
	    (v = X509_ATTRIBUTE_get0_type(a, 0)) == NULL || v->type != V_ASN1_SEQUENCE)
		return 0;
	return (size_t)ASN1_STRING_length(v->value.sequence) == t->len &&
	    memcmp(ASN1_STRING_get0_data(v->value.sequence), t->der, t->len) == 0;
}

/* i2d into a malloc'd buffer of at most TSA_SIGNED_MAX bytes. */
static int
encode_cms(CMS_ContentInfo *cms, uint8_t **ret, size_t *ret_len)
{
	int n = i2d_CMS_ContentInfo(cms, NULL);
	uint8_t *out, *q;

	if (n <= 0)
		return SG_ERR_CRYPTO;
	if ((size_t)n > TSA_SIGNED_MAX)
		return SG_ERR_LIMIT;
	if ((out = malloc((size_t)n)) == NULL)
		return SG_ERR_ALLOC;
	q = out;
	if (i2d_CMS_ContentInfo(cms, &q) != n) {
		free(out);
		return SG_ERR_CRYPTO;
	}
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

static int
encode_pkcs7(PKCS7 *p7, uint8_t **ret, size_t *ret_len)
{
	int n = i2d_PKCS7(p7, NULL);
	uint8_t *out, *q;

	if (n <= 0)
		return SG_ERR_CRYPTO;
	if ((size_t)n > TSA_SIGNED_MAX)
		return SG_ERR_LIMIT;
	if ((out = malloc((size_t)n)) == NULL)
		return SG_ERR_ALLOC;
	q = out;
	if (i2d_PKCS7(p7, &q) != n) {
		free(out);
		return SG_ERR_CRYPTO;
	}
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

/*
 * The check that attaching changed nothing else, on the DER itself: a
 * minimal reader of one-byte tags and definite lengths (what DER has, and
 * all that CMS and PKCS#7 signature files use).
 */
struct tlv {
	const uint8_t *start; /* the tag */
	size_t total;         /* header and content */
	uint8_t tag;
	const uint8_t *content;
	size_t content_len;
};

#define TLV_CHILDREN_MAX  16
#define TLV_DEPTH_MAX     8
/* ContentInfo, [0], SignedData, SET OF SignerInfo, SignerInfo: the same
 * in CMS and in PKCS#7. */
#define SIGNER_INFO_DEPTH 4

static int
tlv_read(const uint8_t *p, size_t len, struct tlv *t)
{
	size_t n, k, i, hdr = 2;

	if (len < 2 || (p[0] & 0x1f) == 0x1f)
		return -1;
	n = p[1];
	if (n & 0x80) {
		k = n & 0x7f;
		if (k == 0 || k > 3 || len - 2 < k)
			return -1;
		for (n = 0, i = 0; i < k; i++)
			n = (n << 8) | p[2 + i];
		hdr += k;
	}
	if (n > len - hdr)
		return -1;
	t->start = p;
	t->total = hdr + n;
	t->tag = p[0];
	t->content = p + hdr;
	t->content_len = n;
	return 0;
}

/* The children of a constructed TLV, at most max. */
static int
tlv_children(const struct tlv *t, struct tlv *kids, size_t max, size_t *ret_n)
{
	size_t off = 0, n = 0;

	if (!(t->tag & 0x20))
		return -1;
	while (off < t->content_len) {
		if (n == max || tlv_read(t->content + off, t->content_len - off, &kids[n]) != 0)
			return -1;
		off += kids[n].total;
		n++;
	}
	*ret_n = n;
	return 0;
}

static int
tlv_same(const struct tlv *a, const struct tlv *b)
{
	return a->total == b->total && memcmp(a->start, b->start, a->total) == 0;
}

/*
 * out is in with one TLV more (*ret_extra, inside a constructed TLV at
 * *ret_depth), all else the same bytes: down from the top, each level has
 * the same children but for its last one, until the level that has one
 * child more (anywhere: a SET OF is sorted).
 */
static int
tlv_one_more(
    const struct tlv *in, const struct tlv *out, int depth, int *ret_depth, struct tlv *ret_extra)
{
	struct tlv a[TLV_CHILDREN_MAX], b[TLV_CHILDREN_MAX + 1];
	size_t na, nb, i, k;

	if (depth > TLV_DEPTH_MAX || in->tag != out->tag ||
	    tlv_children(in, a, TLV_CHILDREN_MAX, &na) != 0 ||
	    tlv_children(out, b, TLV_CHILDREN_MAX + 1, &nb) != 0)
		return -1;
	if (nb == na + 1) {
		for (k = 0; k < na && tlv_same(&a[k], &b[k]); k++)
			;
		for (i = k; i < na; i++) {
			if (!tlv_same(&a[i], &b[i + 1]))
				return -1;
		}
		*ret_depth = depth;
		*ret_extra = b[k];
		return 0;
	}
	if (nb != na || na == 0)
		return -1;
	for (i = 0; i + 1 < na; i++) {
		if (!tlv_same(&a[i], &b[i]))
			return -1;
	}
	return tlv_one_more(&a[na - 1], &b[na - 1], depth + 1, ret_depth, ret_extra);
}

/*
 * out is in with the attribute oid = t added to the unsigned attributes of
 * its signer, and nothing else changed: either a new [1] unsignedAttrs
 * holding it alone at the end of the SignerInfo, or one attribute more in
 * the [1] there was.  0 or SG_ERR_CRYPTO (SG_ERR_ALLOC).
 */
static int
check_attached(const uint8_t *in, size_t in_len, const uint8_t *out, size_t out_len,
    const ASN1_OBJECT *oid, const struct tsa_token *t)
{
	struct tlv ti, to, extra, inner;
	X509_ATTRIBUTE *a = NULL;
	unsigned char *want = NULL;
	int n, depth = -1, r = SG_ERR_CRYPTO;

	if (tlv_read(in, in_len, &ti) != 0 || ti.total != in_len ||
	    tlv_read(out, out_len, &to) != 0 || to.total != out_len ||
	    tlv_one_more(&ti, &to, 0, &depth, &extra) != 0)
		goto out;
	if (depth == SIGNER_INFO_DEPTH) {
		if (extra.tag != 0xa1 || tlv_read(extra.content, extra.content_len, &inner) != 0 ||
		    inner.total != extra.content_len)
			goto out;
		extra = inner;
	} else if (depth != SIGNER_INFO_DEPTH + 1) {
		goto out;
	}
	if ((a = X509_ATTRIBUTE_create_by_OBJ(NULL, oid, V_ASN1_SEQUENCE, t->der, (int)t->len)) ==
		NULL ||
	    (n = i2d_X509_ATTRIBUTE(a, &want)) <= 0) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (extra.total == (size_t)n && memcmp(extra.start, want, extra.total) == 0)
		r = 0;
out:
	OPENSSL_free(want);
	X509_ATTRIBUTE_free(a);
	return r;
}

int
tsa_attach_cms(
    const uint8_t *der, size_t len, const struct tsa_token *t, uint8_t **ret, size_t *ret_len)
{
	const ASN1_OBJECT *oid = OBJ_nid2obj(NID_id_smime_aa_timeStampToken);
	CMS_ContentInfo *cms = NULL, *back = NULL;
	CMS_SignerInfo *si;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int r;

	if (der == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = check_token_der(t)) != 0)
		goto out;
	if ((r = cms_parse(der, len, &cms, &si)) != 0)
		goto out;
	if (CMS_unsigned_get_attr_by_OBJ(si, oid, -1) >= 0) {
		r = SG_ERR_EXISTS;
		goto out;
	}
	r = SG_ERR_CRYPTO;
	/* A V_ASN1_SEQUENCE value is given as its whole DER encoding. */
	if (!CMS_unsigned_add1_attr_by_OBJ(si, oid, V_ASN1_SEQUENCE, t->der, (int)t->len))
		goto out;
	if ((r = encode_cms(cms, &out, &out_len)) != 0)
		goto out;
	/* Fail closed: the result is the input plus the attribute, and reads
	 * back with the token in its place. */
	if ((r = check_attached(der, len, out, out_len, oid, t)) != 0 ||
	    (r = cms_parse(out, out_len, &back, &si)) != 0 ||
	    !attr_holds_token(
		CMS_unsigned_get_attr(si, CMS_unsigned_get_attr_by_OBJ(si, oid, -1)), t)) {
		log_debug("the time-stamped CMS is not the original plus the token");
		r = r == SG_ERR_ALLOC ? r : SG_ERR_CRYPTO;
		goto out;
	}
	*ret = out;
	*ret_len = out_len;
	out = NULL;
	r = 0;
out:
	free(out);
	CMS_ContentInfo_free(back);
	CMS_ContentInfo_free(cms);
	return crypto_err(r);
}

int
tsa_attach_pkcs7(
    const uint8_t *der, size_t len, const struct tsa_token *t, uint8_t **ret, size_t *ret_len)
{
	PKCS7 *p7 = NULL, *back = NULL;
	PKCS7_SIGNER_INFO *si;
	ASN1_OBJECT *oid = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int r;

	if (der == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = check_token_der(t)) != 0)
		goto out;
	if ((r = pkcs7_parse(der, len, &p7, &si)) != 0)
		goto out;
	/* No NID for it in OpenSSL; one of our own, not in the global table
	 * (OBJ_create() is not for a threaded daemon). */
	if ((oid = OBJ_txt2obj(TSA_OID_MS_COUNTERSIGNATURE, 1)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (X509at_get_attr_by_OBJ(si->unauth_attr, oid, -1) >= 0) {
		r = SG_ERR_EXISTS;
		goto out;
	}
	r = SG_ERR_CRYPTO;
	if (X509at_add1_attr_by_OBJ(&si->unauth_attr, oid, V_ASN1_SEQUENCE, t->der, (int)t->len) ==
	    NULL)
		goto out;
	if ((r = encode_pkcs7(p7, &out, &out_len)) != 0)
		goto out;
	if ((r = check_attached(der, len, out, out_len, oid, t)) != 0 ||
	    (r = pkcs7_parse(out, out_len, &back, &si)) != 0 ||
	    !attr_holds_token(
		X509at_get_attr(si->unauth_attr, X509at_get_attr_by_OBJ(si->unauth_attr, oid, -1)),
		t)) {
		log_debug("the time-stamped PKCS#7 is not the original plus the token");
		r = r == SG_ERR_ALLOC ? r : SG_ERR_CRYPTO;
		goto out;
	}
	*ret = out;
	*ret_len = out_len;
	out = NULL;
	r = 0;
out:
	free(out);
	ASN1_OBJECT_free(oid);
	PKCS7_free(back);
	PKCS7_free(p7);
	return crypto_err(r);
}

int
tsa_load_roots(const char *path, X509_STORE **ret)
{
	STACK_OF(X509) *certs = NULL;
	X509_STORE *store = NULL;
	int i, r = SG_ERR_INVALID_ARGUMENT;

	if (path == NULL || ret == NULL)
		goto out;
	if ((r = crypto_load_certs(path, &certs)) != 0)
		goto out;
	if ((store = X509_STORE_new()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	r = SG_ERR_CRYPTO;
	for (i = 0; i < sk_X509_num(certs); i++) {
		if (!X509_STORE_add_cert(store, sk_X509_value(certs, i)))
			goto out;
	}
	*ret = store;
	store = NULL;
	r = 0;
out:
	X509_STORE_free(store);
	sk_X509_pop_free(certs, X509_free);
	return crypto_err(r);
}
