/*
 * checkpoint.c — C2SP tlog-checkpoint bodies in C2SP signed notes.
 *
 * A signed note is the note text, one blank line, and signature lines:
 *
 *     <text, every line ending in \n>\n
 *     — <key name> <base64(key ID || signature)>\n
 *     ...
 *
 * The text of a checkpoint is exactly three lines (origin, decimal tree
 * size, base64 root hash); we emit and accept no extension lines.  The
 * split is at the last "\n\n" of the note (the text cannot contain a blank
 * line anyway, since every line of it is checked).
 *
 * Parsing is all-or-nothing and in two passes: first the whole note is
 * checked for shape (size, UTF-8, control characters, body lines, every
 * signature line well formed, at most CHECKPOINT_SIGS_MAX of them), and only
 * then are the lines of our key verified.  So a malformed note is
 * SG_ERR_PARSE whatever the order of its lines, and no signature is checked
 * on a note we would refuse anyway.  Lines of other keys (another name, or
 * our name with another key ID, as during a key rotation) are ignored; a
 * line with our name and key ID that does not verify is a forgery attempt
 * and makes the whole note SG_ERR_VERIFY even when another line verifies.
 */
#include "checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "b64.h"
#include "crypto.h"
#include "json.h"

/* "— " : U+2014 EM DASH and a space, the start of every signature line. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN (sizeof(sig_prefix) - 1)

/* The "other types" signature type of C2SP signed-note: 0xff and a string
 * naming our scheme. */
static const char keyid_type[] = "\xff"
				 "signet-checkpoint-v1";

#define SIZE_DIGITS_MAX 20 /* decimal digits of 2^64 - 1 */
#define ROOT_B64_LEN    44 /* base64 of 32 bytes */
#define SIG_DECODED_MIN (CHECKPOINT_KEYID_LEN + 1)

int
checkpoint_origin_ok(const char *origin)
{
	size_t i, len;

	if (origin == NULL)
		return 0;
	len = strnlen(origin, CHECKPOINT_ORIGIN_MAX + 1);
	if (len == 0 || len > CHECKPOINT_ORIGIN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		/* Printable ASCII: '!' .. '~', so no space; and no '+'. */
		if (origin[i] < '!' || origin[i] > '~' || origin[i] == '+')
			return 0;
	}
	return 1;
}

/* checkpoint_origin_ok() on len bytes that need not be NUL-terminated. */
static int
name_ok(const char *s, size_t len)
{
	char tmp[CHECKPOINT_ORIGIN_MAX + 1];

	if (len == 0 || len > CHECKPOINT_ORIGIN_MAX || memchr(s, '\0', len) != NULL)
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return checkpoint_origin_ok(tmp);
}

int
checkpoint_body(const struct checkpoint *cp, char **ret, size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	char *root = NULL, *body = NULL;
	size_t size, origin_len;
	int n;

	if (cp == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	/* The origin must be NUL-terminated inside its array. */
	origin_len = strnlen(cp->origin, sizeof(cp->origin));
	if (origin_len == sizeof(cp->origin) || !checkpoint_origin_ok(cp->origin)) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if ((r = b64_encode(cp->root, sizeof(cp->root), &root)) != 0)
		goto out;
	/* origin, size, root, three newlines, NUL. */
	size = origin_len + SIZE_DIGITS_MAX + strlen(root) + 3 + 1;
	if ((body = malloc(size)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	n = snprintf(body, size, "%s\n%llu\n%s\n", cp->origin, (unsigned long long)cp->size, root);
	if (n < 0 || (size_t)n >= size) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	*ret = body;
	*ret_len = (size_t)n;
	body = NULL;
	r = 0;
out:
	free(root);
	free(body);
	return r;
}

int
checkpoint_key_id(EVP_PKEY *pub, const char *name, uint8_t ret[CHECKPOINT_KEYID_LEN])
{
	int r = SG_ERR_INTERNAL;
	unsigned char *der = NULL;
	uint8_t md[SHA256_LEN];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	int der_len;

	if (pub == NULL || ret == NULL || !checkpoint_origin_ok(name))
		return SG_ERR_INVALID_ARGUMENT;
	if ((der_len = i2d_PUBKEY(pub, &der)) <= 0) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, name, strlen(name)) != 1 || EVP_DigestUpdate(ctx, "\n", 1) != 1 ||
	    EVP_DigestUpdate(ctx, keyid_type, sizeof(keyid_type) - 1) != 1 ||
	    EVP_DigestUpdate(ctx, der, (size_t)der_len) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != SHA256_LEN) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	memcpy(ret, md, CHECKPOINT_KEYID_LEN);
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return crypto_err(r);
}

int
checkpoint_assemble(const char *body, size_t body_len, const char *name,
    const uint8_t keyid[CHECKPOINT_KEYID_LEN], const uint8_t *sig, size_t sig_len, char **ret,
    size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	uint8_t *blob = NULL;
	char *b64 = NULL, *note = NULL;
	size_t name_len, b64_len, total, o = 0;

	if (body == NULL || body_len == 0 || body[body_len - 1] != '\n' ||
	    !checkpoint_origin_ok(name) || keyid == NULL || sig == NULL || sig_len == 0 ||
	    ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	/* Checked before any work so the additions below cannot wrap. */
	if (body_len > CHECKPOINT_MAX || sig_len > CHECKPOINT_MAX)
		return SG_ERR_LIMIT;
	name_len = strlen(name);
	if ((blob = malloc(CHECKPOINT_KEYID_LEN + sig_len)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	memcpy(blob, keyid, CHECKPOINT_KEYID_LEN);
	memcpy(blob + CHECKPOINT_KEYID_LEN, sig, sig_len);
	if ((r = b64_encode(blob, CHECKPOINT_KEYID_LEN + sig_len, &b64)) != 0)
		goto out;
	b64_len = strlen(b64);
	/* body "\n" "— " name " " b64 "\n" */
	total = body_len + 1 + SIG_PREFIX_LEN + name_len + 1 + b64_len + 1;
	if (total > CHECKPOINT_MAX) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	if ((note = malloc(total + 1)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	memcpy(note + o, body, body_len);
	o += body_len;
	note[o++] = '\n';
	memcpy(note + o, sig_prefix, SIG_PREFIX_LEN);
	o += SIG_PREFIX_LEN;
	memcpy(note + o, name, name_len);
	o += name_len;
	note[o++] = ' ';
	memcpy(note + o, b64, b64_len);
	o += b64_len;
	note[o++] = '\n';
	note[o] = '\0';
	*ret = note;
	*ret_len = o;
	note = NULL;
	r = 0;
out:
	free(blob);
	free(b64);
	free(note);
	return r;
}

/*
 * Every byte is valid UTF-8 and no control character but '\n': no C0
 * (NUL included), no DEL, no C1 (U+0080..U+009F, encoded C2 80..C2 9F).
 */
static int
text_ok(const char *buf, size_t len)
{
	const uint8_t *p = (const uint8_t *)buf;
	size_t i;

	if (json_check_utf8(buf, len) != 0)
		return 0;
	for (i = 0; i < len; i++) {
		if ((p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7f)
			return 0;
		/* Well-formed UTF-8, so a C2 lead byte has a continuation. */
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] <= 0x9f)
			return 0;
	}
	return 1;
}

/* Takes the next line of [*p, end): its start and length without the
 * '\n', and moves *p past the '\n'.  0 when there is no complete line. */
static int
next_line(const char **p, const char *end, const char **ret_line, size_t *ret_len)
{
	const char *nl;

	if (*p >= end || (nl = memchr(*p, '\n', (size_t)(end - *p))) == NULL)
		return 0;
	*ret_line = *p;
	*ret_len = (size_t)(nl - *p);
	*p = nl + 1;
	return 1;
}

/* The checkpoint text: exactly three lines, nothing after them. */
static int
parse_body(const char *body, size_t len, struct checkpoint *ret)
{
	const char *p = body, *end = body + len, *line;
	char digits[SIZE_DIGITS_MAX + 1];
	uint8_t *root = NULL;
	size_t line_len, root_len = 0;
	struct checkpoint cp;
	int r = SG_ERR_PARSE;

	memset(&cp, 0, sizeof(cp));
	/* Origin. */
	if (!next_line(&p, end, &line, &line_len) || !name_ok(line, line_len))
		goto out;
	memcpy(cp.origin, line, line_len);
	cp.origin[line_len] = '\0';
	/* Tree size: parse_u64 refuses signs, leading zeros and overflow. */
	if (!next_line(&p, end, &line, &line_len) || line_len == 0 || line_len > SIZE_DIGITS_MAX)
		goto out;
	memcpy(digits, line, line_len);
	digits[line_len] = '\0';
	if (parse_u64(digits, UINT64_MAX, &cp.size) != 0)
		goto out;
	/* Root hash: strict base64 of exactly 32 bytes. */
	if (!next_line(&p, end, &line, &line_len) || line_len != ROOT_B64_LEN)
		goto out;
	if (b64_decode(line, line_len, &root, &root_len) != 0 || root_len != SHA256_LEN)
		goto out;
	memcpy(cp.root, root, SHA256_LEN);
	/* No extension lines. */
	if (p != end)
		goto out;
	*ret = cp;
	r = 0;
out:
	free(root);
	return r;
}

/* One signature line, without its '\n'. */
struct sig_line {
	const char *name;
	size_t name_len;
	const char *b64;
	size_t b64_len;
};

/*
 * "— <name> <base64>": a non-empty name without '+' (spaces end it), and
 * strict base64 of at least key ID + 1 bytes.
 */
static int
parse_sig_line(const char *line, size_t len, struct sig_line *ret)
{
	const char *sp;
	uint8_t *dec = NULL;
	size_t dec_len = 0;
	int r = SG_ERR_PARSE;

	if (len < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
		goto out;
	line += SIG_PREFIX_LEN;
	len -= SIG_PREFIX_LEN;
	if ((sp = memchr(line, ' ', len)) == NULL || sp == line)
		goto out;
	ret->name = line;
	ret->name_len = (size_t)(sp - line);
	if (memchr(ret->name, '+', ret->name_len) != NULL)
		goto out;
	ret->b64 = sp + 1;
	ret->b64_len = len - ret->name_len - 1;
	/* b64_decode refuses a second space, an empty or a padded-wrong
	 * signature. */
	if (b64_decode(ret->b64, ret->b64_len, &dec, &dec_len) != 0 || dec_len < SIG_DECODED_MIN)
		goto out;
	r = 0;
out:
	free(dec);
	return r;
}

int
checkpoint_open(const char *buf, size_t len, EVP_PKEY *pub, const char *name, const char *origin,
    struct checkpoint *ret)
{
	int r = SG_ERR_INTERNAL;
	struct sig_line sigs[CHECKPOINT_SIGS_MAX];
	uint8_t keyid[CHECKPOINT_KEYID_LEN];
	uint8_t *dec = NULL;
	const char *p, *end, *sep = NULL, *line, *key_name;
	size_t body_len, line_len, nsigs = 0, dec_len = 0, key_name_len, i;
	struct checkpoint cp;
	int verified = 0;

	if (pub == NULL || ret == NULL || (buf == NULL && len > 0) ||
	    (name != NULL && !checkpoint_origin_ok(name)) ||
	    (origin != NULL && !checkpoint_origin_ok(origin)))
		return SG_ERR_INVALID_ARGUMENT;
	r = SG_ERR_PARSE;
	if (len == 0 || len > CHECKPOINT_MAX || !text_ok(buf, len) || buf[len - 1] != '\n')
		goto out;
	/* The last "\n\n" ends the text (its first '\n' belongs to the text). */
	for (p = buf + len - 1; p > buf; p--) {
		if (p[0] == '\n' && p[-1] == '\n') {
			sep = p - 1;
			break;
		}
	}
	if (sep == NULL)
		goto out;
	body_len = (size_t)(sep - buf) + 1;
	if ((r = parse_body(buf, body_len, &cp)) != 0)
		goto out;
	r = SG_ERR_PARSE;
	if (origin != NULL && strcmp(cp.origin, origin) != 0)
		goto out;
	/* Signature lines: at least one, at most CHECKPOINT_SIGS_MAX, all
	 * well formed.  The note ends in '\n', so every line is complete. */
	p = sep + 2;
	end = buf + len;
	if (p >= end)
		goto out;
	while (next_line(&p, end, &line, &line_len)) {
		if (nsigs == CHECKPOINT_SIGS_MAX)
			goto out;
		if (parse_sig_line(line, line_len, &sigs[nsigs]) != 0)
			goto out;
		nsigs++;
	}
	if (p != end)
		goto out;

	/* Shape is fine; now our key's lines. */
	key_name = name != NULL ? name : cp.origin;
	key_name_len = strlen(key_name);
	if ((r = checkpoint_key_id(pub, key_name, keyid)) != 0)
		goto out;
	for (i = 0; i < nsigs; i++) {
		if (sigs[i].name_len != key_name_len ||
		    memcmp(sigs[i].name, key_name, key_name_len) != 0)
			continue;
		free(dec);
		dec = NULL;
		if (b64_decode(sigs[i].b64, sigs[i].b64_len, &dec, &dec_len) != 0 ||
		    dec_len < SIG_DECODED_MIN) {
			r = SG_ERR_PARSE; /* parse_sig_line() accepted it: cannot happen */
			goto out;
		}
		if (memcmp(dec, keyid, CHECKPOINT_KEYID_LEN) != 0)
			continue;
		if ((r = crypto_verify(pub, (const uint8_t *)buf, body_len,
			 dec + CHECKPOINT_KEYID_LEN, dec_len - CHECKPOINT_KEYID_LEN)) != 0)
			goto out;
		verified = 1;
	}
	if (!verified) {
		r = SG_ERR_VERIFY;
		goto out;
	}
	*ret = cp;
	r = 0;
out:
	free(dec);
	return r;
}
