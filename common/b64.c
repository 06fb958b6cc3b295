/*
 * b64.c — strict standard base64 (RFC 4648 §4) and base64url without
 * padding (§5).
 *
 * Strictness matters here: the decoder sees signatures and payloads from
 * Redis, and if two encodings of the same bytes were both accepted, two
 * parsers (ours and a verifier's) could disagree about what was signed.
 * So there is exactly one accepted encoding per byte string.
 */
#include "b64.h"

#include <stdlib.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
b64_encoded_size(size_t len)
{
	size_t groups = len / 3 + (len % 3 != 0);

	/* 0 tells the caller the size does not fit in size_t. */
	if (groups > (SIZE_MAX - 1) / 4)
		return 0;
	return groups * 4 + 1;
}

/* Encodes in[0..len) with alphabet, padded with '=' to whole quanta when
 * pad is set; NUL-terminated, into a new buffer.  0, SG_ERR_ALLOC,
 * SG_ERR_INVALID_ARGUMENT. */
static int
encode(const uint8_t *in, size_t len, const char *alphabet, int pad, char **ret)
{
	size_t size = b64_encoded_size(len), i, o = 0;
	uint32_t v;
	char *out;

	if (in == NULL && len > 0)
		return SG_ERR_INVALID_ARGUMENT;
	if (size == 0)
		return SG_ERR_ALLOC;
	if ((out = malloc(size)) == NULL)
		return SG_ERR_ALLOC;
	for (i = 0; len - i >= 3; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	*ret = out;
	return 0;
}

int
b64_encode(const uint8_t *in, size_t len, char **ret)
{
	return encode(in, len, b64_alphabet, 1, ret);
}

/* Value of a base64 character, or -1 for anything outside the alphabet
 * ('=' included: padding is handled by position, not by this table). */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes nchars characters of an alphabet (value() gives a character's
 * 6 bits, -1 outside it) into out, which has room for nchars / 4 * 3 + 2
 * bytes: whole quanta of 4 characters, then a partial one of 2 or 3 whose
 * unused low bits must be zero (1 is refused: it would carry 6 bits).
 * 0 with *ret_len, or SG_ERR_PARSE.  Padding is the caller's business.
 */
static int
decode_chars(const char *in, size_t nchars, int (*value)(char), uint8_t *out, size_t *ret_len)
{
	size_t i, o = 0, rem = nchars % 4;
	uint32_t v = 0;
	int d;

	if (rem == 1)
		return SG_ERR_PARSE;
	for (i = 0; i < nchars; i++) {
		if ((d = value(in[i])) < 0)
			return SG_ERR_PARSE;
		v = v << 6 | (uint32_t)d;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(v >> 16);
			out[o++] = (uint8_t)(v >> 8);
			out[o++] = (uint8_t)v;
			v = 0;
		}
	}
	if (rem == 2) {
		if ((v & 0x0f) != 0)
			return SG_ERR_PARSE;
		out[o++] = (uint8_t)(v >> 4);
	} else if (rem == 3) {
		if ((v & 0x03) != 0)
			return SG_ERR_PARSE;
		out[o++] = (uint8_t)(v >> 10);
		out[o++] = (uint8_t)(v >> 2);
	}
	*ret_len = o;
	return 0;
}

int
b64_decode(const char *in, size_t in_len, uint8_t **ret, size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	uint8_t *out = NULL;
	size_t pad = 0, o = 0;

	if ((in == NULL && in_len > 0) || in_len % 4 != 0) {
		r = SG_ERR_PARSE;
		goto out;
	}
	/* Padding may only be the last one or two characters; any '=' before
	 * them is outside the alphabet. */
	if (in_len > 0 && in[in_len - 1] == '=') {
		pad = 1;
		if (in[in_len - 2] == '=')
			pad = 2;
	}
	/* in_len / 4 * 3 bytes at most; +2 as decode_chars() asks, which also
	 * makes empty input allocate. */
	if ((out = malloc(in_len / 4 * 3 + 2)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((r = decode_chars(in, in_len - pad, b64_value, out, &o)) != 0)
		goto out;
	*ret = out;
	*ret_len = o;
	out = NULL;
	r = 0;
out:
	free(out);
	return r;
}

int
b64url_encode(const uint8_t *in, size_t len, char **ret)
{
	return encode(in, len, b64url_alphabet, 0, ret);
}

/* Value of a base64url character, or -1 for anything outside its alphabet. */
static int
b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
b64url_decode(const char *in, size_t in_len, uint8_t **ret, size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	uint8_t *out = NULL;
	size_t o = 0;

	if (in == NULL && in_len > 0) {
		r = SG_ERR_PARSE;
		goto out;
	}
	/* 3 bytes per 4 characters, 1 or 2 for a partial quantum of 2 or 3;
	 * +2 as decode_chars() asks, which also makes empty input allocate. */
	if ((out = malloc(in_len / 4 * 3 + 2)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((r = decode_chars(in, in_len, b64url_value, out, &o)) != 0)
		goto out;
	*ret = out;
	*ret_len = o;
	out = NULL;
	r = 0;
out:
	free(out);
	return r;
}
