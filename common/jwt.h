/*
 * jwt.h — CI identity tokens (docs/protocol.md §3 "ci_token"): JSON Web Tokens (RFC
 * 7519) in JWS compact serialization (RFC 7515) that a CI system's OpenID
 * Connect issuer signs for one CI job (GitLab CI "id_tokens", the GitHub
 * Actions OIDC token), verified against the issuer's public keys, a JWK Set
 * (RFC 7517) that the operator keeps in a file.
 *
 * Like every parser here this module does no I/O: a JWK Set's bytes in, a
 * key set out; a token's bytes, the configured issuers and the time in,
 * the verified claims out.  So it is unit-tested with issuers made in the
 * test and fuzzed without files or sockets.
 *
 * What a token must be, checked in this order (the first failure is
 * reported, with the jwt_fault below and a one-line message):
 *
 *   1. at most JWT_TOKEN_MAX_BYTES bytes                  JWT_FAULT_SIZE
 *   2. three parts "header.claims.signature" of strict base64url without
 *      padding (RFC 7515 §2: no '=', '+', '/', white space; canonical
 *      trailing bits), header and claims not empty        JWT_FAULT_FORM
 *   3. header and claims within JWT_HEADER_MAX_BYTES / JWT_CLAIMS_MAX_BYTES,
 *      signature within JWT_SIGNATURE_MAX_BYTES          JWT_FAULT_SIZE
 *   4. the header a JSON object (json_parse(): UTF-8, depth, no duplicate
 *      member, no escaped NUL) with a string "alg"        JWT_FAULT_HEADER
 *   5. "alg" RS256 or ES256 and nothing else ("none", HS256, PS256, ...
 *      refused)                                           JWT_FAULT_ALG
 *   6. no "crit" header member (no extension is understood) JWT_FAULT_CRIT
 *   7. "typ", when present, "JWT" (any case); "kid" a string of 1 to
 *      JWT_KID_MAX printable ASCII bytes                  JWT_FAULT_HEADER
 *   8. the claims a JSON object like the header           JWT_FAULT_CLAIMS
 *   9. "iss" a string equal to the issuer of exactly one configured issuer
 *      (the token's own, unverified, iss only selects whose keys to try)
 *                                                         JWT_FAULT_ISSUER
 *  10. "kid" names a key of that issuer's key set         JWT_FAULT_KID
 *  11. the key's type fits alg (RS256: RSA, ES256: EC P-256) JWT_FAULT_KEY_ALG
 *  12. the signature verifies over "header.claims" as sent (RS256:
 *      RSASSA-PKCS1-v1_5 with SHA-256, the signature as long as the
 *      modulus; ES256: ECDSA P-256 with SHA-256, the signature exactly 64
 *      bytes R || S, RFC 7518 §3.4)                       JWT_FAULT_SIGNATURE
 *  13. "aud" a string, or an array of 1 to JWT_AUD_MAX strings, that is or
 *      holds the issuer's audience                        JWT_FAULT_AUDIENCE
 *  14. "exp" present; "exp", "nbf", "iat" when present integers from 0 to
 *      2^53 - 1                                           JWT_FAULT_CLAIMS
 *  15. now < exp                                          JWT_FAULT_EXPIRED
 *  16. nbf and iat, when present, at most JWT_CLOCK_SKEW_S in the future
 *                                                         JWT_FAULT_NOT_YET_VALID
 *  17. the claims that policy reads (below) of the right type, at most
 *      JWT_CLAIM_MAX bytes, text without control characters JWT_FAULT_CLAIMS
 *
 * Other header members (x5t, jku, jwk, x5u ...) are ignored: keys come only
 * from the configured key sets, never from the token.  Other claims are
 * ignored too, whatever they hold.
 *
 * The claims that policy reads, by the issuer's kind:
 *
 *   jwt_claims   GitLab CI (id_tokens)          GitHub Actions
 *   project      project_path                   repository
 *   ref          ref_type "branch": refs/heads/<ref>,
 *                ref_type "tag": refs/tags/<ref>,
 *                any other ref_type: none       ref (it starts with refs/)
 *   ref_protected  ref_protected "true"         ref_protected "true" or true
 *                  (absent or "false": 0)       (absent or false: 0)
 *   pipeline     pipeline_id                    run_id
 *   environment  environment                    environment
 *   subject      sub                            sub
 *   jti          jti                            jti
 */
#ifndef SG_JWT_H
#define SG_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define JWT_TOKEN_MAX_BYTES     8192 /* a whole token (docs/protocol.md §3: ci_token <= 8 KiB) */
#define JWT_HEADER_MAX_BYTES    1024 /* the decoded JOSE header */
#define JWT_CLAIMS_MAX_BYTES    6144 /* the decoded claims set (3/4 of a token) */
#define JWT_SIGNATURE_MAX_BYTES 1024 /* the decoded signature (RSA of 8192 bits) */
#define JWT_KID_MAX             256  /* bytes of a key id */
#define JWT_CLAIM_MAX           512  /* bytes of each claim that policy reads */
#define JWT_AUD_MAX             16   /* entries of an "aud" array */
#define JWT_ISSUER_MAX          512  /* bytes of a configured issuer or audience */
#define JWT_CLOCK_SKEW_S        60   /* nbf and iat may be this far ahead */
#define JWT_WHY_MAX             256  /* bytes of a refusal's message, NUL included */

#define JWKS_MAX_BYTES       (64 * 1024) /* a JWK Set document */
#define JWKS_KEYS_MAX        32          /* keys in one JWK Set */
#define JWKS_RSA_BITS_MIN    2048
#define JWKS_RSA_BITS_MAX    8192
#define JWKS_RSA_E_MAX_BYTES 8 /* bytes of an RSA public exponent */

/* Whose claims a token carries (the mapping table above). */
enum jwt_kind { JWT_KIND_GITLAB = 0, JWT_KIND_GITHUB = 1 };

/* "gitlab" / "github"; NULL for a value outside the enum. */
const char *jwt_kind_name(enum jwt_kind k);
/* 0 and *ret, or SG_ERR_PARSE for another name. */
int jwt_kind_parse(const char *name, enum jwt_kind *ret) SG_MUST_CHECK;

/* A parsed JWK Set: each key's kid and its public key, ready to verify. */
struct jwks;

/*
 * Parses a JWK Set: a JSON object (json_parse(), no duplicate members)
 * whose "keys" is an array of 1 to JWKS_KEYS_MAX JWKs; other top-level
 * members are ignored.  Each JWK must have:
 *   "kid"  a string of 1 to JWT_KID_MAX printable ASCII bytes, unique in
 *          the set;
 *   "kty"  "RSA", with "n" and "e" (strict base64url; the modulus of
 *          JWKS_RSA_BITS_MIN to JWKS_RSA_BITS_MAX bits, the exponent odd,
 *          above 1 and at most JWKS_RSA_E_MAX_BYTES bytes), or "EC" with
 *          "crv" "P-256" and "x", "y" (32 bytes each, a point on the curve);
 *   "use"  when present, "sig";
 *   "alg"  when present, "RS256" (RSA) or "ES256" (EC).
 * A JWK with private members ("d", "p", "q", "dp", "dq", "qi", "oth", "k"),
 * of another kty or curve, or failing any rule refuses the whole set (the
 * operator is told at start-up, not by a job that fails later).  Other
 * members (x5c, x5t, key_ops ...) are ignored.
 * Returns 0 and *ret (caller frees with jwks_free()); SG_ERR_PARSE with
 * the first problem in errbuf ("keys[1] (kid \"k2\"): RSA modulus of 1024
 * bits; at least 2048"); SG_ERR_LIMIT for more than JWKS_MAX_BYTES;
 * SG_ERR_ALLOC.  *ret is set only on success.
 */
int jwks_parse(
    const void *buf, size_t len, struct jwks **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/* Keys in the set. */
size_t jwks_count(const struct jwks *k);

void jwks_free(struct jwks *k);

/* A configured issuer (borrowed strings and keys, for one call). */
struct jwt_issuer {
	const char *name;     /* the configuration's name for it, for messages */
	const char *issuer;   /* the exact "iss" its tokens carry */
	const char *audience; /* what "aud" must hold */
	enum jwt_kind kind;
	const struct jwks *keys;
};

/* Why a token was refused (the numbered checks above). */
enum jwt_fault {
	JWT_FAULT_NONE = 0,
	JWT_FAULT_SIZE,
	JWT_FAULT_FORM,
	JWT_FAULT_HEADER,
	JWT_FAULT_ALG,
	JWT_FAULT_CRIT,
	JWT_FAULT_CLAIMS,
	JWT_FAULT_ISSUER,
	JWT_FAULT_KID,
	JWT_FAULT_KEY_ALG,
	JWT_FAULT_SIGNATURE,
	JWT_FAULT_AUDIENCE,
	JWT_FAULT_EXPIRED,
	JWT_FAULT_NOT_YET_VALID,
};

/* A refusal: the fault and a message that names the value at fault, in
 * printable ASCII (token text in it is cut and escaped; never the token). */
struct jwt_error {
	enum jwt_fault fault;
	char why[JWT_WHY_MAX];
};

/* The verified claims that policy uses.  Strings are owned (NULL when the
 * token has no such claim); jwt_claims_free() releases them. */
struct jwt_claims {
	char *issuer_name; /* the configured issuer's name */
	char *issuer;      /* iss (equal to the configured issuer) */
	enum jwt_kind kind;
	char *subject;     /* sub */
	char *project;     /* see the table above */
	char *ref;         /* "refs/heads/..." or "refs/tags/..." (GitLab) */
	int ref_protected; /* 1 only when the token says so */
	char *pipeline;
	char *environment;
	char *jti;
	int64_t exp; /* seconds since the epoch */
};

/*
 * Verifies token (len bytes, no NUL needed) at time now against the n
 * configured issuers (whose issuer strings must be distinct).  Returns 0
 * and *ret (caller frees with jwt_claims_free()); SG_ERR_POLICY_CI_TOKEN
 * with *err filled when the token is refused; SG_ERR_ALLOC;
 * SG_ERR_INVALID_ARGUMENT for NULL arguments.  *ret is set only on
 * success, err only on a refusal.
 */
int jwt_verify(const char *token, size_t len, const struct jwt_issuer *issuers, size_t n,
    int64_t now, struct jwt_claims **ret, struct jwt_error *err) SG_MUST_CHECK;

void jwt_claims_free(struct jwt_claims *c);

/* A short name of a fault ("expired", "alg", ...), for logs and tests. */
const char *jwt_fault_name(enum jwt_fault f);

#endif
