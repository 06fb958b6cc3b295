/*
 * tsa.h — RFC 3161 time-stamping of signature files (docs/protocol.md §4,
 * "Timestamps").
 *
 * A key may name a time-stamping authority.  After a signature file is
 * made, the agent takes the signer's signature value out of it
 * (tsa_sigval_cms(), tsa_sigval_pkcs7()), asks the TSA for a token over
 * SHA-256 of that value (tsa_timestamp(), which checks the answer fully
 * before it returns it), and adds the token to the signer as an unsigned
 * attribute (tsa_attach_cms(), tsa_attach_pkcs7()).  A TSA that does not
 * answer correctly in time is SG_ERR_TIMESTAMP_FAILED, with a reason.
 *
 * What comes from the TSA is hostile: the reply is bounded (TSA_REPLY_MAX),
 * must be exactly one TimeStampResp, and the reason strings and the TSA's
 * name handed back are printable ASCII.
 */
#ifndef SG_TSA_H
#define SG_TSA_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <openssl/x509.h>

#include "err.h"

/* The largest reply body accepted from a TSA, in bytes. */
#define TSA_REPLY_MAX        (64 * 1024)
/* The largest TimeStampReq tsa_reply_check() takes, in bytes (ours are
 * about 60). */
#define TSA_QUERY_MAX        1024
/* The largest signature file, in bytes, the helpers below take or make. */
#define TSA_SIGNED_MAX       (256 * 1024)
/* The largest signature value, in bytes, that may be time-stamped. */
#define TSA_SIGVAL_MAX       (16 * 1024)
/* How far, in seconds, a token's genTime may be from the local clock. */
#define TSA_CLOCK_SKEW_MAX_S 300
/* The size of tsa_token.tsa, its NUL included. */
#define TSA_NAME_MAX         256
/* A good size for the why buffer of tsa_timestamp(). */
#define TSA_WHY_MAX          256

struct tsa_params {
	const char *url;     /* http:// or https:// (agent/http.h) */
	X509_STORE *roots;   /* trust anchors of the TSA certificate; borrowed
	                         (tsa_load_roots()) */
	int64_t timeout_ms;  /* > 0: bounds the connection and the whole
	                         exchange */
	const char *ca_file; /* the CA bundle for an https:// TSA; NULL for
	                         libcurl's default */
};

struct tsa_token {
	uint8_t *der;           /* the TimeStampToken (a ContentInfo with
	                           SignedData), DER, as checked; malloc'd */
	size_t len;             /* bytes at der */
	int64_t time;           /* its genTime, seconds since the epoch
	                           (fractions dropped) */
	char tsa[TSA_NAME_MAX]; /* the subject of the certificate that signed
	                           it, RFC 2253, printable ASCII, cut short
	                           with "..." when longer */
};

/*
 * Asks the TSA at p->url for a token over SHA-256(sigval[0..sigval_len))
 * — with a random 64-bit nonce and certReq — in one HTTP POST
 * (application/timestamp-query) made with http_easy_setup() on c (which
 * is reset; NULL: a handle is made for the call and cleaned up).  The
 * caller has run curl_global_init().
 *
 * The answer is accepted only if all of these hold: HTTP 200 with
 * Content-Type application/timestamp-reply; a body of at most
 * TSA_REPLY_MAX bytes that is exactly one DER TimeStampResp; PKIStatus
 * granted or grantedWithMods, with a token; the token a SignedData of
 * version 3 with one SignerInfo of version 1 whose issuer and serial are
 * the signer certificate's (byte for byte), digest parameters absent or
 * NULL and a signature algorithm that fits the key; TSTInfo version 1;
 * the message imprint SHA-256 over exactly sigval; our nonce; a signature
 * that verifies, made by a certificate that the token carries, that
 * chains to p->roots and is fit for time-stamping (the timeStamping
 * extended key usage, alone and critical) and that the token's ESS
 * signing-certificate attribute names; a genTime within
 * TSA_CLOCK_SKEW_MAX_S of the local clock.
 *
 * Returns 0 and *ret (the caller frees it with tsa_token_clear()), or:
 * SG_ERR_TIMESTAMP_FAILED, with a one-line reason in why (printable ASCII,
 * at most whylen - 1 bytes; e.g. "the TSA answered HTTP 500", "nonce
 * mismatch", "TSA certificate not trusted: unable to get local issuer
 * certificate", "the TSA did not answer within 10 s");
 * SG_ERR_INVALID_ARGUMENT (a NULL argument, no roots, timeout_ms <= 0,
 * sigval_len 0 or above TSA_SIGVAL_MAX); SG_ERR_ALLOC.  *ret is untouched
 * on failure; why (may be NULL) is set on every failure.
 */
int tsa_timestamp(CURL *c, const struct tsa_params *p, const uint8_t *sigval, size_t sigval_len,
    struct tsa_token *ret, char *why, size_t whylen) SG_MUST_CHECK;

/*
 * The checks of tsa_timestamp() on a reply body, without I/O (for the
 * tests and a fuzzer): query is the DER TimeStampReq that was sent (one
 * that tsa_timestamp() makes: version 1, a SHA-256 imprint, a nonce),
 * reply the body that came back (HTTP status and Content-Type are the
 * caller's business), now the local time in seconds since the epoch.
 * Returns 0 and *ret (caller frees with tsa_token_clear()), or
 * SG_ERR_TIMESTAMP_FAILED with the reason in why, SG_ERR_INVALID_ARGUMENT
 * (NULL, or query is not such a request), SG_ERR_ALLOC.  *ret untouched
 * on failure.
 */
int tsa_reply_check(const uint8_t *query, size_t query_len, const uint8_t *reply, size_t reply_len,
    X509_STORE *roots, int64_t now, struct tsa_token *ret, char *why, size_t whylen) SG_MUST_CHECK;

/* Frees t's DER and clears t.  NULL is a no-op. */
void tsa_token_clear(struct tsa_token *t);

/*
 * The signature value of the one signer of a signature file: a detached
 * CMS SignedData (agent/format.c) for _cms, a PKCS#7 SignedData (the
 * Authenticode signature) for _pkcs7.  What tsa_timestamp() is given.
 * Returns 0 and a malloc'd copy in *ret / *ret_len (caller frees), or
 * SG_ERR_PARSE (not exactly one such DER structure, not one signer, no
 * signature), SG_ERR_LIMIT (more than TSA_SIGNED_MAX bytes in, or a
 * signature above TSA_SIGVAL_MAX), SG_ERR_INVALID_ARGUMENT (NULL),
 * SG_ERR_ALLOC.  Outputs untouched on failure.
 */
int tsa_sigval_cms(const uint8_t *der, size_t len, uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;
int tsa_sigval_pkcs7(const uint8_t *der, size_t len, uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

/*
 * Adds the token t as an unsigned attribute of the one signer of a
 * signature file and returns the new DER: for _cms, id-aa-timeStampToken
 * (1.2.840.113549.1.9.16.2.14, RFC 3161 appendix A); for _pkcs7, the
 * Authenticode RFC 3161 countersignature (1.3.6.1.4.1.311.3.3.1), what
 * `osslsigncode -ts` adds.  Nothing else changes, and that is checked on
 * the bytes: the result is the input with one attribute more among the
 * signer's unsigned attributes (a new [1] unsignedAttrs, or one more
 * member of the one there was), every other byte the same.
 * Returns 0 and a malloc'd buffer in *ret / *ret_len (caller frees), or
 * SG_ERR_PARSE (as for tsa_sigval_*(), or t->der is not one DER
 * SEQUENCE), SG_ERR_EXISTS (the signer already carries that attribute),
 * SG_ERR_LIMIT (input or output above TSA_SIGNED_MAX), SG_ERR_CRYPTO (the
 * result would differ from the input elsewhere), SG_ERR_INVALID_ARGUMENT
 * (NULL), SG_ERR_ALLOC.  Outputs untouched on failure.
 */
int tsa_attach_cms(const uint8_t *der, size_t len, const struct tsa_token *t, uint8_t **ret,
    size_t *ret_len) SG_MUST_CHECK;
int tsa_attach_pkcs7(const uint8_t *der, size_t len, const struct tsa_token *t, uint8_t **ret,
    size_t *ret_len) SG_MUST_CHECK;

/*
 * Loads the PEM certificates of path (at most CERT_FILE_MAX bytes, one at
 * least) into a new X509_STORE: the TSA roots of a key's "timestamp"
 * (docs/configuration.md).  They are trust anchors as they are: a chain
 * must end at one of them.  Returns 0 and *ret (caller frees with
 * X509_STORE_free()), or SG_ERR_NOT_FOUND, SG_ERR_PARSE, SG_ERR_LIMIT,
 * SG_ERR_SYSTEM, SG_ERR_INVALID_ARGUMENT (NULL), SG_ERR_ALLOC,
 * SG_ERR_CRYPTO.  *ret untouched on failure.
 */
int tsa_load_roots(const char *path, X509_STORE **ret) SG_MUST_CHECK;

#endif
