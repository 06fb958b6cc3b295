/*
 * b64.h — standard base64 (RFC 4648 §4, with padding) and base64url
 * without padding (RFC 4648 §5, as JWS uses it, RFC 7515 §2), both strict.
 */
#ifndef SG_B64_H
#define SG_B64_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Encoded length including the NUL terminator; 0 if it overflows size_t. */
size_t b64_encoded_size(size_t len);

/* Encodes len bytes; *ret is NUL-terminated, caller frees.  SG_ERR_ALLOC
 * (also when the size overflows), SG_ERR_INVALID_ARGUMENT (NULL in, len > 0). */
int b64_encode(const uint8_t *in, size_t len, char **ret) SG_MUST_CHECK;

/*
 * Decodes exactly in_len characters of standard base64.  Refused with
 * SG_ERR_PARSE: characters outside the alphabet (URL-safe ones, white space,
 * NUL included), a length that is not a multiple of 4, padding anywhere but
 * at the end or more than two '=', and non-zero unused bits in the last
 * quantum (so every byte string has exactly one accepted encoding).  The
 * empty string decodes to zero bytes (*ret is then a valid 1-byte
 * allocation).  Caller frees *ret.
 */
int b64_decode(const char *in, size_t in_len, uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

/* Encodes len bytes as base64url without padding; *ret is NUL-terminated,
 * caller frees.  Same errors as b64_encode(). */
int b64url_encode(const uint8_t *in, size_t len, char **ret) SG_MUST_CHECK;

/*
 * Decodes exactly in_len characters of base64url without padding.
 * Refused with SG_ERR_PARSE: characters outside [A-Za-z0-9_-] ('=', '+',
 * '/', white space and NUL included), a length of 1 modulo 4 (no byte
 * string encodes so), and non-zero unused bits in the last quantum (one
 * accepted encoding per byte string).  The empty string decodes to zero
 * bytes (*ret is then a valid 1-byte allocation).  Caller frees *ret.
 */
int b64url_decode(const char *in, size_t in_len, uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

#endif
