/*
 * openpgp.c — OpenPGP v4 document signatures, certificates, armor and the
 * cleartext signature framework, without the private key.
 *
 * An OpenPGP signature's digest covers the data and then fields of the
 * signature itself (RFC 4880 §5.2.4):
 *
 *     SHA-256( data || hashed portion || 0x04 0xFF || len32(hashed portion) )
 *
 * so whoever builds the signature needs the hash of the data left open.
 * SHA-256 processes 64-byte blocks; its state between blocks is eight
 * 32-bit words and a count.  The submitter sends the state after the
 * data's whole blocks and the rest (the tail), and the agent continues:
 * here, a small SHA-256 driver (struct sha256) keeps the words, the block
 * count and a partial block itself and asks OpenSSL only to compress
 * whole blocks (sha256_blocks(), the one use of the low-level API).  The
 * padding of the final block is written here; the tests compare the
 * result with EVP's SHA-256 at every length around the block boundaries.
 *
 * The same driver lets the submitter's hasher read the state after its
 * data's whole blocks, which EVP never shows, and copy it cheaply, which
 * the clearsign canonicalizer needs: it cannot know whether white space at
 * the end of a line is followed by more text until it sees the next byte,
 * so it hashes the white space and keeps a copy of the state from before
 * it, which it returns to when the line ends (memory stays constant
 * however long the run).
 *
 * Packets are built into bounded buffers (struct wbuf) and read back
 * through checked getters (struct rbuf); every size is bounded by a named
 * limit before any work.  Every signature is parsed back and verified
 * before it leaves (fail closed).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/sha.h>

#include "b64.h"
#include "json.h"
#include "openpgp.h"

_Static_assert(OPENPGP_TAIL_MAX < 64, "the tail is less than one block");
_Static_assert(OPENPGP_RSA_BITS_MAX / 8 <= PKCS7SIG_SIG_MAX, "an RSA signature fits the buffer");

/* Algorithm numbers (RFC 4880 §9). */
#define PK_RSA            1
#define PK_ECDSA          19
#define HASH_SHA256       8
/* Packet tags (§4.3). */
#define TAG_SIGNATURE     2
#define TAG_PUBKEY        6
#define TAG_UID           13
/* Signature subpacket types (§5.2.3.1; 33 from RFC 9580 §5.2.3.35). */
#define SUB_CREATED       2
#define SUB_ISSUER        16
#define SUB_PREF_HASH     21
#define SUB_KEY_FLAGS     27
#define SUB_FEATURES      30
#define SUB_ISSUER_FP     33
/* Their values in what we make. */
#define SIG_POSITIVE_CERT 0x13
#define KEY_FLAG_SIGN     0x02
#define FEATURE_MDC       0x01

#define BIT(t)     ((uint64_t)1 << (t))
/* The subpackets of a document signature and of our self-certification. */
#define DOC_HASHED (BIT(SUB_CREATED) | BIT(SUB_ISSUER_FP))
#define CERT_HASHED                                                                                \
	(BIT(SUB_CREATED) | BIT(SUB_KEY_FLAGS) | BIT(SUB_PREF_HASH) | BIT(SUB_FEATURES) |          \
	    BIT(SUB_ISSUER_FP))
#define ANY_UNHASHED BIT(SUB_ISSUER)

/* NIST P-256 (1.2.840.10045.3.1.7) as RFC 6637 §11 writes it in a key. */
static const uint8_t oid_p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
#define P256_BYTES 32

/* Bytes of the hashed portion we write: at most the certification's. */
#define HASHED_MAX 64
/* Bytes of a packet header: the tag and a 5-byte length at most. */
#define HEADER_MAX 6
/* Bytes of a certificate: three packets. */
#define CERT_MAX   (3 * HEADER_MAX + OPENPGP_KEY_BODY_MAX + OPENPGP_UID_MAX + OPENPGP_SIG_MAX)

/* The job's bounds on the number of blocks (common/job.c). */
#define BLOCKS_LIMIT (ARTIFACT_SIZE_LIMIT / 64)

/* ------------------------------------------------------------------ */
/* SHA-256 with an open state */

static const uint32_t sha256_iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f,
	0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

struct sha256 {
	uint32_t h[8];   /* the chaining state after `blocks` blocks */
	uint64_t blocks; /* whole 64-byte blocks compressed into h */
	uint8_t buf[64]; /* the bytes after them */
	size_t len;      /* bytes in buf, 0..63 */
};

/*
 * Advances the state h over nblocks whole 64-byte blocks at data, with
 * OpenSSL's SHA256_CTX: SHA256_Update() of whole blocks compresses them
 * straight into ctx.h, with OpenSSL's tuned code, and leaves nothing
 * buffered, so setting h before and reading it after is all it takes.
 * EVP, the API OpenSSL 3 wants, has no way to set or read the chaining
 * state, and that is exactly what this format needs, so the low-level API
 * is used here and only here: the deprecation warning is silenced with a
 * diagnostic pragma around this function's body rather than with
 * OPENSSL_SUPPRESS_DEPRECATED for the file, so that any other deprecated
 * call in this file still fails the build (-Werror).
 */
static void
sha256_blocks(uint32_t h[8], const uint8_t *data, size_t nblocks)
{
	SHA256_CTX ctx;
	size_t i;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	SHA256_Init(&ctx);
	for (i = 0; i < 8; i++)
		ctx.h[i] = h[i];
	SHA256_Update(&ctx, data, nblocks * 64);
	for (i = 0; i < 8; i++)
		h[i] = ctx.h[i];
#pragma GCC diagnostic pop
	OPENSSL_cleanse(&ctx, sizeof(ctx));
}

static void
sha256_init(struct sha256 *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->h, sha256_iv, sizeof(s->h));
}

/* The hash continued from a job's state; st is checked by the caller. */
static void
sha256_from_state(struct sha256 *s, const struct sg_openpgp *st)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->h, st->state, sizeof(s->h));
	s->blocks = st->blocks;
	memcpy(s->buf, st->tail, st->tail_len);
	s->len = st->tail_len;
}

static void
sha256_update(struct sha256 *s, const uint8_t *p, size_t n)
{
	size_t take, whole;

	if (n == 0)
		return;
	if (s->len > 0) {
		take = 64 - s->len < n ? 64 - s->len : n;
		memcpy(s->buf + s->len, p, take);
		s->len += take;
		p += take;
		n -= take;
		if (s->len < 64)
			return;
		sha256_blocks(s->h, s->buf, 1);
		s->blocks++;
		s->len = 0;
	}
	whole = n / 64;
	if (whole > 0) {
		sha256_blocks(s->h, p, whole);
		s->blocks += whole;
		p += whole * 64;
		n -= whole * 64;
	}
	memcpy(s->buf, p, n);
	s->len = n;
}

static inline void
sha256_byte(struct sha256 *s, uint8_t c)
{
	s->buf[s->len++] = c;
	if (s->len == 64) {
		sha256_blocks(s->h, s->buf, 1);
		s->blocks++;
		s->len = 0;
	}
}

/* The digest of what s holds; s itself is left as it is.  Padding per
 * FIPS 180-4 §5.1.1: 0x80, zeros, the length in bits in 8 bytes. */
static void
sha256_final(const struct sha256 *s, uint8_t out[SHA256_LEN])
{
	uint8_t pad[128];
	uint64_t bits = (s->blocks * 64 + s->len) * 8;
	size_t n = s->len < 56 ? 64 : 128, i;
	uint32_t h[8];

	memset(pad, 0, sizeof(pad));
	memcpy(pad, s->buf, s->len);
	pad[s->len] = 0x80;
	for (i = 0; i < 8; i++)
		pad[n - 1 - i] = (uint8_t)(bits >> (8 * i));
	memcpy(h, s->h, sizeof(h));
	sha256_blocks(h, pad, n / 64);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

static int
state_ok(const struct sg_openpgp *st)
{
	return st != NULL && st->tail_len <= OPENPGP_TAIL_MAX && st->blocks < BLOCKS_LIMIT &&
	    (st->mode == SG_OPENPGP_BINARY || st->mode == SG_OPENPGP_TEXT);
}

int
openpgp_sha256_resume(
    const struct sg_openpgp *st, const uint8_t *more, size_t len, uint8_t ret[SHA256_LEN])
{
	struct sha256 s;

	if (!state_ok(st) || ret == NULL || (more == NULL && len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	sha256_from_state(&s, st);
	if (len > 0)
		sha256_update(&s, more, len);
	sha256_final(&s, ret);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The submitter's hasher */

struct openpgp_hasher {
	enum openpgp_canon canon;
	struct sha256 text;  /* the canonical data; for BINARY the file itself */
	struct sha256 file;  /* the file as given (TEXT, CLEARSIGN) */
	struct sha256 saved; /* CLEARSIGN: text before the current white-space run */
	uint64_t fed;        /* bytes of the file so far */
	int prev_cr;         /* TEXT, CLEARSIGN: the last byte fed was a CR */
	int eol_pending;     /* CLEARSIGN: a line break that is not hashed yet */
	int in_ws;           /* CLEARSIGN: saved is set (a white-space run is open) */
	int err;             /* sticky */
	int done;            /* final() has run */
};

struct openpgp_hasher *
openpgp_hasher_new(enum openpgp_canon canon)
{
	struct openpgp_hasher *h;

	if (canon != OPENPGP_CANON_BINARY && canon != OPENPGP_CANON_TEXT &&
	    canon != OPENPGP_CANON_CLEARSIGN)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->canon = canon;
	sha256_init(&h->text);
	sha256_init(&h->file);
	return h;
}

void
openpgp_hasher_free(struct openpgp_hasher *h)
{
	free(h);
}

/*
 * TEXT: LF becomes CR LF, CR LF stays.  A CR that is not followed by LF
 * is refused: gpg keeps such a CR in a line (and drops every CR before a
 * line's LF), Sequoia (sqv) takes it for a line ending, so no hash of
 * such a file satisfies both.
 */
static int
feed_text(struct openpgp_hasher *h, const uint8_t *p, size_t n)
{
	const uint8_t *nl, *cr;
	size_t run;

	while (n > 0) {
		if (h->prev_cr && p[0] != '\n')
			return SG_ERR_PARSE;
		nl = memchr(p, '\n', n);
		run = nl != NULL ? (size_t)(nl - p) : n;
		if (run > 0) {
			/* A CR may only be the last byte before LF (here or
			 * at the start of the next piece). */
			cr = memchr(p, '\r', run);
			if (cr != NULL && cr != p + run - 1)
				return SG_ERR_PARSE;
			sha256_update(&h->text, p, run);
			h->prev_cr = cr != NULL;
		}
		if (nl == NULL)
			return 0;
		if (!h->prev_cr)
			sha256_byte(&h->text, '\r');
		sha256_byte(&h->text, '\n');
		h->prev_cr = 0;
		p += run + 1;
		n -= run + 1;
	}
	return 0;
}

/*
 * CLEARSIGN, one byte at a time.  A line break is hashed (as CR LF) only
 * when something follows it, so the last one never is; white space at the
 * end of a line is hashed speculatively and undone when the line ends.
 * A CR must be followed by LF, as for TEXT.
 */
static int
feed_clearsign(struct openpgp_hasher *h, const uint8_t *p, size_t n)
{
	size_t i;
	uint8_t c;

	for (i = 0; i < n; i++) {
		c = p[i];
		if (h->prev_cr && c != '\n')
			return SG_ERR_PARSE;
		h->prev_cr = c == '\r';
		if (h->eol_pending) {
			sha256_byte(&h->text, '\r');
			sha256_byte(&h->text, '\n');
			h->eol_pending = 0;
		}
		if (c == '\n') {
			if (h->in_ws)
				h->text = h->saved;
			h->in_ws = 0;
			h->eol_pending = 1;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			if (!h->in_ws) {
				h->saved = h->text;
				h->in_ws = 1;
			}
		} else {
			h->in_ws = 0;
		}
		sha256_byte(&h->text, c);
	}
	return 0;
}

int
openpgp_hasher_update(struct openpgp_hasher *h, const void *data, size_t len)
{
	if (h == NULL || (data == NULL && len > 0) || h->done)
		return SG_ERR_INVALID_ARGUMENT;
	if (h->err != 0)
		return h->err;
	if (len >= ARTIFACT_SIZE_LIMIT - h->fed) {
		h->err = SG_ERR_LIMIT;
		return h->err;
	}
	h->fed += len;
	switch (h->canon) {
	case OPENPGP_CANON_BINARY:
		sha256_update(&h->text, data, len);
		break;
	case OPENPGP_CANON_TEXT:
		sha256_update(&h->file, data, len);
		h->err = feed_text(h, data, len);
		break;
	case OPENPGP_CANON_CLEARSIGN:
		sha256_update(&h->file, data, len);
		h->err = feed_clearsign(h, data, len);
		break;
	}
	/* Canonical text may be longer than the file (CR LF for LF). */
	if (h->err == 0 && h->text.blocks >= BLOCKS_LIMIT)
		h->err = SG_ERR_LIMIT;
	return h->err;
}

int
openpgp_hasher_final(
    struct openpgp_hasher *h, struct sg_openpgp *ret_state, uint8_t ret_sha256[SHA256_LEN])
{
	struct sha256 text;

	if (h == NULL || ret_state == NULL || ret_sha256 == NULL || h->done)
		return SG_ERR_INVALID_ARGUMENT;
	if (h->err == 0 && h->prev_cr)
		h->err = SG_ERR_PARSE; /* the file ends in a CR */
	if (h->err != 0)
		return h->err;
	h->done = 1;
	/* CLEARSIGN: the last line's trailing white space is not covered,
	 * nor its line break (never hashed). */
	text = h->canon == OPENPGP_CANON_CLEARSIGN && h->in_ws ? h->saved : h->text;
	memset(ret_state, 0, sizeof(*ret_state));
	ret_state->mode = h->canon == OPENPGP_CANON_BINARY ? SG_OPENPGP_BINARY : SG_OPENPGP_TEXT;
	memcpy(ret_state->state, text.h, sizeof(ret_state->state));
	ret_state->blocks = text.blocks;
	memcpy(ret_state->tail, text.buf, text.len);
	ret_state->tail_len = text.len;
	sha256_final(h->canon == OPENPGP_CANON_BINARY ? &h->text : &h->file, ret_sha256);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Bounded writing and reading */

struct wbuf {
	uint8_t *p;
	size_t cap, len;
	int overflow; /* sticky: something did not fit */
};

static void
w_bytes(struct wbuf *w, const void *d, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void
w_u8(struct wbuf *w, unsigned v)
{
	uint8_t b = (uint8_t)v;

	w_bytes(w, &b, 1);
}

static void
w_u16(struct wbuf *w, size_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	w_bytes(w, b, 2);
}

static void
w_u32(struct wbuf *w, uint64_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	w_bytes(w, b, 4);
}

static unsigned
bits_of_byte(uint8_t b)
{
	unsigned n = 0;

	while (b != 0) {
		n++;
		b >>= 1;
	}
	return n;
}

/* An MPI (RFC 4880 §3.2) of the big-endian number b[0..n), leading zero
 * bytes dropped.  The number must not be zero (checked by callers). */
static void
w_mpi(struct wbuf *w, const uint8_t *b, size_t n)
{
	while (n > 0 && b[0] == 0) {
		b++;
		n--;
	}
	if (n == 0 || n > 0xffff / 8) {
		w->overflow = 1;
		return;
	}
	w_u16(w, (n - 1) * 8 + bits_of_byte(b[0]));
	w_bytes(w, b, n);
}

/* A new-format packet header (RFC 4880 §4.2.2) for a body of n bytes. */
static void
w_header(struct wbuf *w, unsigned tag, size_t n)
{
	w_u8(w, 0xc0 | tag);
	if (n < 192) {
		w_u8(w, (unsigned)n);
	} else if (n < 8384) {
		w_u8(w, (unsigned)(((n - 192) >> 8) + 192));
		w_u8(w, (unsigned)((n - 192) & 0xff));
	} else {
		w_u8(w, 0xff);
		w_u32(w, n);
	}
}

struct rbuf {
	const uint8_t *p;
	size_t len;
};

static int
r_bytes(struct rbuf *r, size_t n, const uint8_t **ret)
{
	if (n > r->len)
		return -1;
	if (ret != NULL)
		*ret = r->p;
	r->p += n;
	r->len -= n;
	return 0;
}

static int
r_u8(struct rbuf *r, uint8_t *ret)
{
	const uint8_t *b;

	if (r_bytes(r, 1, &b) != 0)
		return -1;
	*ret = b[0];
	return 0;
}

static int
r_be(struct rbuf *r, size_t n, uint32_t *ret)
{
	const uint8_t *b;
	uint32_t v = 0;
	size_t i;

	if (r_bytes(r, n, &b) != 0)
		return -1;
	for (i = 0; i < n; i++)
		v = v << 8 | b[i];
	*ret = v;
	return 0;
}

/* An MPI, strictly: at least one bit, no leading zero bits, at most max
 * bytes.  *ret points at its bytes. */
static int
r_mpi(struct rbuf *r, size_t max, const uint8_t **ret, size_t *ret_len)
{
	uint32_t bits;
	size_t n;
	const uint8_t *b;

	if (r_be(r, 2, &bits) != 0 || bits == 0)
		return -1;
	n = (bits + 7) / 8;
	if (n > max || r_bytes(r, n, &b) != 0 || bits_of_byte(b[0]) != (bits - 1) % 8 + 1)
		return -1;
	*ret = b;
	*ret_len = n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Keys */

/* The mechanism that key pk fits: ECDSA for EC P-256, PKCS#1 for RSA of
 * 2048 to OPENPGP_RSA_BITS_MAX bits.  0 or SG_ERR_KEY_UNSUPPORTED. */
static int
key_mech(EVP_PKEY *pk, enum sg_mech *ret)
{
	if (pk == NULL || crypto_check_key_type(pk) != 0)
		return SG_ERR_KEY_UNSUPPORTED;
	if (EVP_PKEY_is_a(pk, "EC")) {
		*ret = SG_MECH_ECDSA_SHA256;
		return 0;
	}
	if (EVP_PKEY_is_a(pk, "RSA") && EVP_PKEY_get_bits(pk) <= OPENPGP_RSA_BITS_MAX) {
		*ret = SG_MECH_RSA_PKCS1_SHA256;
		return 0;
	}
	return SG_ERR_KEY_UNSUPPORTED;
}

static unsigned
pk_algo(enum sg_mech mech)
{
	return mech == SG_MECH_ECDSA_SHA256 ? PK_ECDSA : PK_RSA;
}

/* The big-endian bytes of bn (positive, at most max bytes) into out. */
static int
bn_bytes(const BIGNUM *bn, uint8_t *out, size_t max, size_t *ret_len)
{
	int n = BN_num_bytes(bn);

	if (n <= 0 || (size_t)n > max || BN_is_negative(bn))
		return -1;
	if (BN_bn2bin(bn, out) != n)
		return -1;
	*ret_len = (size_t)n;
	return 0;
}

static int
key_body(EVP_PKEY *pub, enum sg_mech mech, uint32_t created, struct wbuf *w)
{
	int r = SG_ERR_CRYPTO;
	BIGNUM *a = NULL, *b = NULL;
	uint8_t buf[OPENPGP_RSA_BITS_MAX / 8], point[1 + 2 * P256_BYTES];
	size_t n;

	w_u8(w, 4);
	w_u32(w, created);
	w_u8(w, pk_algo(mech));
	if (mech == SG_MECH_ECDSA_SHA256) {
		if (EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_EC_PUB_X, &a) != 1 ||
		    EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_EC_PUB_Y, &b) != 1)
			goto out;
		point[0] = 0x04; /* uncompressed: x || y, each 32 bytes */
		if (BN_bn2binpad(a, point + 1, P256_BYTES) != P256_BYTES ||
		    BN_bn2binpad(b, point + 1 + P256_BYTES, P256_BYTES) != P256_BYTES)
			goto out;
		w_u8(w, sizeof(oid_p256));
		w_bytes(w, oid_p256, sizeof(oid_p256));
		w_mpi(w, point, sizeof(point));
	} else {
		if (EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &a) != 1 ||
		    EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &b) != 1)
			goto out;
		if (bn_bytes(a, buf, sizeof(buf), &n) != 0)
			goto out;
		w_mpi(w, buf, n);
		if (bn_bytes(b, buf, sizeof(buf), &n) != 0)
			goto out;
		w_mpi(w, buf, n);
	}
	r = w->overflow ? SG_ERR_INTERNAL : 0;
out:
	BN_free(a);
	BN_free(b);
	return crypto_err(r);
}

int
openpgp_key_init(EVP_PKEY *pub, enum sg_mech mech, int64_t created, struct openpgp_key *ret)
{
	int r = SG_ERR_INTERNAL;
	struct openpgp_key k;
	struct wbuf w;
	enum sg_mech fits;
	uint8_t frame[3], md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_MD_CTX *ctx = NULL;

	if (ret != NULL)
		memset(ret, 0, sizeof(*ret));
	memset(&k, 0, sizeof(k));
	if (pub == NULL || ret == NULL || created < 0 || created > OPENPGP_TIME_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	if ((mech != SG_MECH_ECDSA_SHA256 && mech != SG_MECH_RSA_PKCS1_SHA256) ||
	    key_mech(pub, &fits) != 0 || fits != mech)
		return SG_ERR_KEY_UNSUPPORTED;
	k.mech = mech;
	k.created = (uint32_t)created;
	w = (struct wbuf){ .p = k.body, .cap = sizeof(k.body) };
	if ((r = key_body(pub, mech, k.created, &w)) != 0)
		goto out;
	k.body_len = w.len;
	/* The v4 fingerprint: SHA-1 of the key framed as an old-format
	 * public-key packet (RFC 4880 §12.2). */
	frame[0] = 0x99;
	frame[1] = (uint8_t)(k.body_len >> 8);
	frame[2] = (uint8_t)k.body_len;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (EVP_DigestInit_ex2(ctx, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, frame, sizeof(frame)) != 1 ||
	    EVP_DigestUpdate(ctx, k.body, k.body_len) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != OPENPGP_FPR_LEN) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	memcpy(k.fpr, md, OPENPGP_FPR_LEN);
	memcpy(k.keyid, md + OPENPGP_FPR_LEN - OPENPGP_KEYID_LEN, OPENPGP_KEYID_LEN);
	if (EVP_PKEY_up_ref(pub) != 1) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	k.pub = pub;
	*ret = k;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return crypto_err(r);
}

void
openpgp_key_cleanup(struct openpgp_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pub);
	memset(k, 0, sizeof(*k));
}

void
openpgp_fpr_hex(const uint8_t fpr[OPENPGP_FPR_LEN], char ret[OPENPGP_FPR_HEX_LEN + 1])
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < OPENPGP_FPR_LEN; i++) {
		ret[2 * i] = digits[fpr[i] >> 4];
		ret[2 * i + 1] = digits[fpr[i] & 0xf];
	}
	ret[OPENPGP_FPR_HEX_LEN] = 0;
}

/* ------------------------------------------------------------------ */
/* Signature packets */

/*
 * The hashed portion of our signatures (RFC 4880 §5.2.3): version,
 * type, algorithms, and the hashed subpacket area with its length.  A
 * certification (type 0x13) carries the key's preferences as well.
 */
static void
w_hashed(struct wbuf *w, const struct openpgp_key *k, unsigned type, uint32_t created)
{
	size_t at;

	w_u8(w, 4);
	w_u8(w, type);
	w_u8(w, pk_algo(k->mech));
	w_u8(w, HASH_SHA256);
	at = w->len;
	w_u16(w, 0); /* the area's length, set below */
	w_u8(w, 5);
	w_u8(w, SUB_CREATED);
	w_u32(w, created);
	if (type == SIG_POSITIVE_CERT) {
		w_u8(w, 2);
		w_u8(w, SUB_KEY_FLAGS);
		w_u8(w, KEY_FLAG_SIGN);
		w_u8(w, 2);
		w_u8(w, SUB_PREF_HASH);
		w_u8(w, HASH_SHA256);
		w_u8(w, 2);
		w_u8(w, SUB_FEATURES);
		w_u8(w, FEATURE_MDC);
	}
	w_u8(w, 2 + OPENPGP_FPR_LEN);
	w_u8(w, SUB_ISSUER_FP);
	w_u8(w, 4);
	w_bytes(w, k->fpr, OPENPGP_FPR_LEN);
	if (!w->overflow) {
		w->p[at] = (uint8_t)((w->len - at - 2) >> 8);
		w->p[at + 1] = (uint8_t)(w->len - at - 2);
	}
}

/* Finishes a signature digest: s holds what precedes the hashed portion. */
static void
sig_digest(struct sha256 *s, const uint8_t *hashed, size_t hashed_len, uint8_t out[SHA256_LEN])
{
	uint8_t trailer[6] = { 0x04, 0xff, (uint8_t)(hashed_len >> 24), (uint8_t)(hashed_len >> 16),
		(uint8_t)(hashed_len >> 8), (uint8_t)hashed_len };

	sha256_update(s, hashed, hashed_len);
	sha256_update(s, trailer, sizeof(trailer));
	sha256_final(s, out);
}

/*
 * Turns what the key holder returned into the signature's MPIs: RSA's
 * signature as one number, ECDSA's DER ECDSA-Sig-Value as r and s.
 * SG_ERR_HSM_SIGN_FAILED when it is not a signature of that shape.
 */
static int
w_sig_mpis(struct wbuf *w, const struct openpgp_key *k, const uint8_t *sig, size_t sig_len)
{
	int r = SG_ERR_HSM_SIGN_FAILED;
	ECDSA_SIG *es = NULL;
	const unsigned char *p = sig;
	const BIGNUM *er, *ess;
	uint8_t b[P256_BYTES];
	size_t n;

	if (k->mech == SG_MECH_RSA_PKCS1_SHA256) {
		if (sig_len != (size_t)EVP_PKEY_get_size(k->pub))
			goto out;
		for (n = 0; n < sig_len && sig[n] == 0; n++)
			;
		if (n == sig_len)
			goto out;
		w_mpi(w, sig, sig_len);
	} else {
		if (sig_len > PKCS7SIG_SIG_MAX ||
		    (es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len)) == NULL || p != sig + sig_len)
			goto out;
		ECDSA_SIG_get0(es, &er, &ess);
		if (BN_is_zero(er) || BN_is_zero(ess) || bn_bytes(er, b, sizeof(b), &n) != 0)
			goto out;
		w_mpi(w, b, n);
		if (bn_bytes(ess, b, sizeof(b), &n) != 0)
			goto out;
		w_mpi(w, b, n);
	}
	r = 0;
out:
	ECDSA_SIG_free(es);
	return crypto_err(r);
}

/*
 * Signs digest through the callback and writes the whole signature
 * packet: header, hashed portion, unhashed area (the issuer key ID), the
 * digest's first two bytes, the MPIs.
 */
static int
w_signature(struct wbuf *out, const struct openpgp_key *k, const uint8_t *hashed, size_t hashed_len,
    const uint8_t digest[SHA256_LEN], pkcs7sig_sign_fn sign, void *arg)
{
	int r = SG_ERR_INTERNAL;
	uint8_t sig[PKCS7SIG_SIG_MAX], body[OPENPGP_SIG_MAX];
	size_t sig_len = 0;
	struct wbuf w = { .p = body, .cap = sizeof(body) };

	if ((r = sign(arg, digest, sig, &sig_len)) != 0)
		return r;
	if (sig_len == 0 || sig_len > sizeof(sig))
		return SG_ERR_HSM_SIGN_FAILED;
	w_bytes(&w, hashed, hashed_len);
	w_u16(&w, 2 + OPENPGP_KEYID_LEN);
	w_u8(&w, 1 + OPENPGP_KEYID_LEN);
	w_u8(&w, SUB_ISSUER);
	w_bytes(&w, k->keyid, OPENPGP_KEYID_LEN);
	w_bytes(&w, digest, 2);
	if ((r = w_sig_mpis(&w, k, sig, sig_len)) != 0)
		return r;
	if (w.overflow)
		return SG_ERR_INTERNAL;
	w_header(out, TAG_SIGNATURE, w.len);
	w_bytes(out, body, w.len);
	return out->overflow ? SG_ERR_INTERNAL : 0;
}

/* A signature packet taken apart; pointers into the packet. */
struct sig {
	uint8_t type, pk_algo, hash_algo;
	const uint8_t *hashed; /* the hashed portion, version to the area's end */
	size_t hashed_len;
	uint64_t seen; /* BIT(type) of each subpacket met, either area */
	uint32_t created;
	uint8_t fpr[OPENPGP_FPR_LEN];
	uint8_t keyid[OPENPGP_KEYID_LEN];
	uint8_t key_flags, pref_hash, features;
	uint8_t prefix[2];
	const uint8_t *mpi[2];
	size_t mpi_len[2];
	size_t nmpi;
};

/* One packet's header: it must be a signature packet with a definite
 * length that is exactly the rest of the input. */
static int
parse_header(struct rbuf *r, const char **why)
{
	uint8_t h, o1, o2;
	uint32_t len = 0;

	*why = "not a signature packet";
	if (r_u8(r, &h) != 0 || !(h & 0x80))
		return -1;
	if (h & 0x40) { /* new format */
		if ((h & 0x3f) != TAG_SIGNATURE || r_u8(r, &o1) != 0)
			return -1;
		if (o1 < 192) {
			len = o1;
		} else if (o1 < 224) {
			if (r_u8(r, &o2) != 0)
				return -1;
			len = ((uint32_t)(o1 - 192) << 8) + o2 + 192;
		} else if (o1 == 255) {
			if (r_be(r, 4, &len) != 0)
				return -1;
		} else {
			*why = "partial body length in a signature packet";
			return -1;
		}
	} else { /* legacy format */
		if (((h >> 2) & 0x0f) != TAG_SIGNATURE)
			return -1;
		if ((h & 3) == 3) {
			*why = "indeterminate length in a signature packet";
			return -1;
		}
		if (r_be(r, (size_t)1 << (h & 3), &len) != 0)
			return -1;
	}
	if (len != r->len) {
		*why = "the packet length is not that of the input";
		return -1;
	}
	return 0;
}

/* The subpackets of one area.  allowed: BIT() of the types it may hold. */
static int
parse_subpackets(struct rbuf area, uint64_t allowed, struct sig *s, const char **why)
{
	uint8_t o1, o2, type;
	uint32_t len;
	const uint8_t *v;

	while (area.len > 0) {
		*why = "malformed subpacket";
		if (r_u8(&area, &o1) != 0)
			return -1;
		if (o1 < 192) {
			len = o1;
		} else if (o1 < 255) {
			if (r_u8(&area, &o2) != 0)
				return -1;
			len = ((uint32_t)(o1 - 192) << 8) + o2 + 192;
			if (len < 192)
				return -1;
		} else {
			if (r_be(&area, 4, &len) != 0 || len < 8384)
				return -1; /* a shorter form fits: not canonical */
		}
		if (len == 0 || r_u8(&area, &type) != 0 || r_bytes(&area, len - 1, &v) != 0)
			return -1;
		len--;
		/* We mark nothing critical, and a bit that may be flipped
		 * unnoticed in the unhashed area is a malleability. */
		if (type >= 64 || !(allowed & BIT(type))) {
			*why = "unexpected subpacket";
			return -1;
		}
		if (s->seen & BIT(type)) {
			*why = "repeated subpacket";
			return -1;
		}
		s->seen |= BIT(type);
		*why = "malformed subpacket";
		switch (type) {
		case SUB_CREATED:
			if (len != 4)
				return -1;
			s->created = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
			    (uint32_t)v[2] << 8 | v[3];
			break;
		case SUB_ISSUER:
			if (len != OPENPGP_KEYID_LEN)
				return -1;
			memcpy(s->keyid, v, OPENPGP_KEYID_LEN);
			break;
		case SUB_ISSUER_FP:
			if (len != 1 + OPENPGP_FPR_LEN || v[0] != 4)
				return -1;
			memcpy(s->fpr, v + 1, OPENPGP_FPR_LEN);
			break;
		case SUB_KEY_FLAGS:
			if (len != 1)
				return -1;
			s->key_flags = v[0];
			break;
		case SUB_PREF_HASH:
			if (len != 1)
				return -1;
			s->pref_hash = v[0];
			break;
		case SUB_FEATURES:
			if (len != 1)
				return -1;
			s->features = v[0];
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/*
 * Parses a signature packet that must be exactly pkt[0..len).  hashed:
 * BIT() of the subpackets the hashed area must hold, each exactly once;
 * the unhashed area may hold the issuer key ID.  Checks the encodings,
 * the version and that the issuer key ID agrees with the fingerprint;
 * what the values must be is the caller's.
 */
static int
parse_sig(const uint8_t *pkt, size_t len, uint64_t hashed, struct sig *s, const char **why)
{
	struct rbuf r = { pkt, len }, area;
	uint8_t version;
	uint32_t n;
	const uint8_t *p;
	size_t i, mpi_max;

	memset(s, 0, sizeof(*s));
	if (len > OPENPGP_SIG_MAX) {
		*why = "signature packet too long";
		return -1;
	}
	if (parse_header(&r, why) != 0)
		return -1;
	s->hashed = r.p;
	*why = "truncated signature packet";
	if (r_u8(&r, &version) != 0)
		return -1;
	if (version != 4) {
		*why = "signature version is not 4";
		return -1;
	}
	if (r_u8(&r, &s->type) != 0 || r_u8(&r, &s->pk_algo) != 0 || r_u8(&r, &s->hash_algo) != 0 ||
	    r_be(&r, 2, &n) != 0 || r_bytes(&r, n, &p) != 0)
		return -1;
	s->hashed_len = (size_t)(r.p - s->hashed);
	area = (struct rbuf){ p, n };
	if (parse_subpackets(area, hashed, s, why) != 0)
		return -1;
	if ((s->seen & hashed) != hashed) {
		*why = "a hashed subpacket is missing";
		return -1;
	}
	*why = "truncated signature packet";
	if (r_be(&r, 2, &n) != 0 || r_bytes(&r, n, &p) != 0)
		return -1;
	area = (struct rbuf){ p, n };
	if (parse_subpackets(area, ANY_UNHASHED, s, why) != 0)
		return -1;
	if ((s->seen & BIT(SUB_ISSUER)) &&
	    memcmp(s->keyid, s->fpr + OPENPGP_FPR_LEN - OPENPGP_KEYID_LEN, OPENPGP_KEYID_LEN) !=
		0) {
		*why = "issuer key ID does not match the issuer fingerprint";
		return -1;
	}
	*why = "truncated signature packet";
	if (r_bytes(&r, 2, &p) != 0)
		return -1;
	memcpy(s->prefix, p, 2);
	switch (s->pk_algo) {
	case PK_RSA:
		s->nmpi = 1;
		mpi_max = OPENPGP_RSA_BITS_MAX / 8;
		break;
	case PK_ECDSA:
		s->nmpi = 2;
		mpi_max = P256_BYTES;
		break;
	default:
		*why = "unknown public-key algorithm";
		return -1;
	}
	for (i = 0; i < s->nmpi; i++) {
		if (r_mpi(&r, mpi_max, &s->mpi[i], &s->mpi_len[i]) != 0) {
			*why = "malformed signature MPI";
			return -1;
		}
	}
	if (r.len != 0) {
		*why = "bytes after the signature MPIs";
		return -1;
	}
	return 0;
}

/*
 * The cryptographic half of a check: the digest from s (what precedes the
 * hashed portion) and the packet's hashed portion, its prefix, and the
 * MPIs against pub with mech.  0, SG_ERR_VERIFY with *why, SG_ERR_ALLOC.
 */
static int
check_sig(
    const struct sig *s, struct sha256 *prefix, EVP_PKEY *pub, enum sg_mech mech, const char **why)
{
	int r = SG_ERR_VERIFY;
	uint8_t digest[SHA256_LEN], buf[OPENPGP_RSA_BITS_MAX / 8];
	uint8_t *der = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	int size, der_len;

	sig_digest(prefix, s->hashed, s->hashed_len, digest);
	if (memcmp(digest, s->prefix, 2) != 0) {
		*why = "the digest does not begin with the packet's 16-bit prefix";
		goto out;
	}
	*why = "the signature does not verify with the key";
	if (mech == SG_MECH_RSA_PKCS1_SHA256) {
		size = EVP_PKEY_get_size(pub);
		if (size <= 0 || (size_t)size > sizeof(buf) || s->mpi_len[0] > (size_t)size)
			goto out;
		memset(buf, 0, (size_t)size);
		memcpy(buf + (size_t)size - s->mpi_len[0], s->mpi[0], s->mpi_len[0]);
		r = crypto_verify_digest(pub, mech, digest, buf, (size_t)size);
	} else {
		r = SG_ERR_ALLOC;
		if ((es = ECDSA_SIG_new()) == NULL ||
		    (br = BN_bin2bn(s->mpi[0], (int)s->mpi_len[0], NULL)) == NULL ||
		    (bs = BN_bin2bn(s->mpi[1], (int)s->mpi_len[1], NULL)) == NULL ||
		    ECDSA_SIG_set0(es, br, bs) != 1)
			goto out;
		br = bs = NULL; /* es owns them */
		if ((der_len = i2d_ECDSA_SIG(es, &der)) <= 0)
			goto out;
		r = crypto_verify_digest(pub, mech, digest, der, (size_t)der_len);
	}
out:
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(br);
	BN_free(bs);
	return crypto_err(r);
}

static void
set_why(char *why, size_t whylen, const char *reason)
{
	errbuf_set(why, whylen, "%s", reason);
}

static int
type_of_mode(enum sg_openpgp_mode m)
{
	return m == SG_OPENPGP_TEXT ? OPENPGP_SIG_TEXT : OPENPGP_SIG_BINARY;
}

int
openpgp_verify_document(const uint8_t *pkt, size_t len, EVP_PKEY *pub, const struct sg_openpgp *st,
    int want_type, int64_t want_created, char *why, size_t whylen)
{
	int r = SG_ERR_VERIFY;
	struct sig s;
	struct sha256 h;
	enum sg_mech mech;
	const char *reason = "";

	set_why(why, whylen, "");
	if (pkt == NULL || pub == NULL || !state_ok(st) || want_type != type_of_mode(st->mode))
		return SG_ERR_INVALID_ARGUMENT;
	if (parse_sig(pkt, len, DOC_HASHED, &s, &reason) != 0)
		goto out;
	if (s.type != want_type) {
		errbuf_set(why, whylen, "signature type 0x%02x, expected 0x%02x", s.type,
		    (unsigned)want_type);
		return SG_ERR_VERIFY;
	}
	if (s.hash_algo != HASH_SHA256) {
		errbuf_set(why, whylen, "hash algorithm %u is not SHA-256 (8)", s.hash_algo);
		return SG_ERR_VERIFY;
	}
	if (key_mech(pub, &mech) != 0 || s.pk_algo != pk_algo(mech)) {
		errbuf_set(why, whylen, "public-key algorithm %u does not fit the key", s.pk_algo);
		return SG_ERR_VERIFY;
	}
	if ((int64_t)s.created != want_created) {
		errbuf_set(why, whylen, "signature created at %lu, expected %lld",
		    (unsigned long)s.created, (long long)want_created);
		return SG_ERR_VERIFY;
	}
	sha256_from_state(&h, st);
	r = check_sig(&s, &h, pub, mech, &reason);
out:
	if (r == SG_ERR_VERIFY)
		set_why(why, whylen, reason);
	return r;
}

int
openpgp_packet_issuer(const uint8_t *pkt, size_t len, uint8_t ret_fpr[OPENPGP_FPR_LEN])
{
	struct sig s;
	const char *reason;

	if (pkt == NULL || ret_fpr == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (parse_sig(pkt, len, DOC_HASHED, &s, &reason) != 0)
		return SG_ERR_PARSE;
	memcpy(ret_fpr, s.fpr, OPENPGP_FPR_LEN);
	return 0;
}

/* Copies what w holds to a new allocation for the caller. */
static int
wbuf_release(const struct wbuf *w, uint8_t **ret, size_t *ret_len)
{
	uint8_t *p;

	if (w->overflow)
		return SG_ERR_INTERNAL;
	if ((p = malloc(w->len)) == NULL)
		return SG_ERR_ALLOC;
	memcpy(p, w->p, w->len);
	*ret = p;
	*ret_len = w->len;
	return 0;
}

int
openpgp_sign_document(const struct openpgp_key *k, const struct sg_openpgp *st, int64_t created,
    pkcs7sig_sign_fn sign, void *arg, uint8_t **ret, size_t *ret_len)
{
	int r = SG_ERR_INTERNAL, type;
	uint8_t hashed[HASHED_MAX], pkt[OPENPGP_SIG_MAX], digest[SHA256_LEN], fpr[OPENPGP_FPR_LEN];
	struct wbuf h = { .p = hashed, .cap = sizeof(hashed) };
	struct wbuf w = { .p = pkt, .cap = sizeof(pkt) };
	struct sha256 s;
	char why[OPENPGP_WHY_MAX];

	if (ret != NULL)
		*ret = NULL;
	if (ret_len != NULL)
		*ret_len = 0;
	if (k == NULL || k->pub == NULL || !state_ok(st) || sign == NULL || ret == NULL ||
	    ret_len == NULL || created < (int64_t)k->created || created > OPENPGP_TIME_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	type = type_of_mode(st->mode);
	w_hashed(&h, k, (unsigned)type, (uint32_t)created);
	if (h.overflow)
		return SG_ERR_INTERNAL;
	sha256_from_state(&s, st);
	sig_digest(&s, hashed, h.len, digest);
	if ((r = w_signature(&w, k, hashed, h.len, digest, sign, arg)) != 0)
		return r;
	/* Fail closed: what leaves must verify, and name k. */
	r = openpgp_verify_document(pkt, w.len, k->pub, st, type, created, why, sizeof(why));
	if (r == SG_ERR_VERIFY)
		return SG_ERR_HSM_SIGN_FAILED;
	if (r != 0)
		return r;
	if (openpgp_packet_issuer(pkt, w.len, fpr) != 0 ||
	    memcmp(fpr, k->fpr, OPENPGP_FPR_LEN) != 0)
		return SG_ERR_INTERNAL;
	return wbuf_release(&w, ret, ret_len);
}

/* The hash of a key and user ID as a certification covers them (RFC
 * 4880 §5.2.4): 0x99-framed key, 0xB4 and the ID's 4-byte length. */
static void
cert_prefix(struct sha256 *s, const struct openpgp_key *k, const char *uid, size_t uid_len)
{
	uint8_t b[5];

	sha256_init(s);
	b[0] = 0x99;
	b[1] = (uint8_t)(k->body_len >> 8);
	b[2] = (uint8_t)k->body_len;
	sha256_update(s, b, 3);
	sha256_update(s, k->body, k->body_len);
	b[0] = 0xb4;
	b[1] = (uint8_t)(uid_len >> 24);
	b[2] = (uint8_t)(uid_len >> 16);
	b[3] = (uint8_t)(uid_len >> 8);
	b[4] = (uint8_t)uid_len;
	sha256_update(s, b, 5);
	sha256_update(s, (const uint8_t *)uid, uid_len);
}

int
openpgp_cert(const struct openpgp_key *k, const char *uid, int64_t created, pkcs7sig_sign_fn sign,
    void *arg, uint8_t **ret, size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	uint8_t hashed[HASHED_MAX], digest[SHA256_LEN], *cert = NULL;
	struct wbuf h = { .p = hashed, .cap = sizeof(hashed) };
	struct wbuf w = { 0 };
	struct sha256 s;
	struct sig parsed;
	size_t uid_len, sig_at;
	const char *reason;

	if (ret != NULL)
		*ret = NULL;
	if (ret_len != NULL)
		*ret_len = 0;
	if (k == NULL || k->pub == NULL || uid == NULL || sign == NULL || ret == NULL ||
	    ret_len == NULL || created < (int64_t)k->created || created > OPENPGP_TIME_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	uid_len = strlen(uid);
	if (uid_len == 0 || uid_len > OPENPGP_UID_MAX || !json_text_ok(uid, uid_len))
		return SG_ERR_INVALID_ARGUMENT;
	if ((cert = malloc(CERT_MAX)) == NULL)
		return SG_ERR_ALLOC;
	w = (struct wbuf){ .p = cert, .cap = CERT_MAX };
	w_header(&w, TAG_PUBKEY, k->body_len);
	w_bytes(&w, k->body, k->body_len);
	w_header(&w, TAG_UID, uid_len);
	w_bytes(&w, uid, uid_len);
	w_hashed(&h, k, SIG_POSITIVE_CERT, (uint32_t)created);
	if (w.overflow || h.overflow)
		goto out;
	cert_prefix(&s, k, uid, uid_len);
	sig_digest(&s, hashed, h.len, digest);
	sig_at = w.len;
	if ((r = w_signature(&w, k, hashed, h.len, digest, sign, arg)) != 0)
		goto out;
	/* Fail closed: parse the certification back and verify it. */
	r = SG_ERR_HSM_SIGN_FAILED;
	if (parse_sig(cert + sig_at, w.len - sig_at, CERT_HASHED, &parsed, &reason) != 0 ||
	    parsed.type != SIG_POSITIVE_CERT || parsed.hash_algo != HASH_SHA256 ||
	    parsed.pk_algo != pk_algo(k->mech) || parsed.created != (uint32_t)created ||
	    parsed.key_flags != KEY_FLAG_SIGN || parsed.pref_hash != HASH_SHA256 ||
	    parsed.features != FEATURE_MDC || memcmp(parsed.fpr, k->fpr, OPENPGP_FPR_LEN) != 0)
		goto out;
	cert_prefix(&s, k, uid, uid_len);
	if ((r = check_sig(&parsed, &s, k->pub, k->mech, &reason)) != 0) {
		if (r == SG_ERR_VERIFY)
			r = SG_ERR_HSM_SIGN_FAILED;
		goto out;
	}
	r = wbuf_release(&w, ret, ret_len);
out:
	free(cert);
	return r;
}

/* ------------------------------------------------------------------ */
/* Armor and the cleartext signature framework */

#define ARMOR_LINE   64
#define CRC24_INIT   0xb704ceUL
#define CRC24_POLY   0x1864cfbUL
#define CLEAR_HEADER "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"

/* RFC 4880 §6.1. */
static uint32_t
crc24(const uint8_t *p, size_t n)
{
	unsigned long crc = CRC24_INIT;
	size_t i;
	int b;

	for (i = 0; i < n; i++) {
		crc ^= (unsigned long)p[i] << 16;
		for (b = 0; b < 8; b++) {
			crc <<= 1;
			if (crc & 0x1000000UL)
				crc ^= CRC24_POLY;
		}
	}
	return (uint32_t)(crc & 0xffffffUL);
}

int
openpgp_armor(const char *type, const uint8_t *in, size_t len, char **ret)
{
	int r = SG_ERR_INTERNAL;
	char *b64 = NULL, *crc_b64 = NULL, *out = NULL, *o;
	size_t b64_len, lines, size, i, n;
	uint32_t crc;
	uint8_t crc_bytes[3];

	if (ret != NULL)
		*ret = NULL;
	if (type == NULL || in == NULL || ret == NULL || len == 0 ||
	    (strcmp(type, "SIGNATURE") != 0 && strcmp(type, "PUBLIC KEY BLOCK") != 0))
		return SG_ERR_INVALID_ARGUMENT;
	if (len > OPENPGP_ARMOR_MAX)
		return SG_ERR_LIMIT;
	crc = crc24(in, len);
	crc_bytes[0] = (uint8_t)(crc >> 16);
	crc_bytes[1] = (uint8_t)(crc >> 8);
	crc_bytes[2] = (uint8_t)crc;
	if ((r = b64_encode(in, len, &b64)) != 0 ||
	    (r = b64_encode(crc_bytes, sizeof(crc_bytes), &crc_b64)) != 0)
		goto out;
	b64_len = strlen(b64);
	lines = (b64_len + ARMOR_LINE - 1) / ARMOR_LINE;
	/* "-----BEGIN PGP " type "-----\n\n", the lines, "=XXXX\n",
	 * "-----END PGP " type "-----\n", the NUL. */
	size = 15 + strlen(type) + 7 + b64_len + lines + 6 + 13 + strlen(type) + 6 + 1;
	r = SG_ERR_ALLOC;
	if ((out = malloc(size)) == NULL)
		goto out;
	o = out + snprintf(out, size, "-----BEGIN PGP %s-----\n\n", type);
	for (i = 0; i < b64_len; i += n) {
		n = b64_len - i < ARMOR_LINE ? b64_len - i : ARMOR_LINE;
		memcpy(o, b64 + i, n);
		o += n;
		*o++ = '\n';
	}
	snprintf(o, size - (size_t)(o - out), "=%s\n-----END PGP %s-----\n", crc_b64, type);
	*ret = out;
	out = NULL;
	r = 0;
out:
	free(b64);
	free(crc_b64);
	free(out);
	return r;
}

int
openpgp_clearsign(const uint8_t *text, size_t len, const uint8_t *sigpkt, size_t siglen, char **ret,
    size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	struct sig s;
	const char *reason;
	char *armor = NULL, *out = NULL, *o;
	size_t dashes = 0, i, armor_len, size;
	int add_nl;

	if (ret != NULL)
		*ret = NULL;
	if (ret_len != NULL)
		*ret_len = 0;
	if (text == NULL || sigpkt == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (parse_sig(sigpkt, siglen, DOC_HASHED, &s, &reason) != 0 || s.type != OPENPGP_SIG_TEXT ||
	    s.hash_algo != HASH_SHA256)
		return SG_ERR_INVALID_ARGUMENT;
	if (len > OPENPGP_CLEARSIGN_TEXT_MAX)
		return SG_ERR_LIMIT;
	for (i = 0; i < len; i++) {
		if (text[i] == '-' && (i == 0 || text[i - 1] == '\n'))
			dashes++;
	}
	add_nl = len == 0 || text[len - 1] != '\n';
	if ((r = openpgp_armor("SIGNATURE", sigpkt, siglen, &armor)) != 0)
		goto out;
	armor_len = strlen(armor);
	/* Bounded by OPENPGP_CLEARSIGN_TEXT_MAX: no overflow. */
	size = sizeof(CLEAR_HEADER) - 1 + len + 2 * dashes + (size_t)add_nl + armor_len;
	r = SG_ERR_ALLOC;
	if ((out = malloc(size + 1)) == NULL)
		goto out;
	o = out;
	memcpy(o, CLEAR_HEADER, sizeof(CLEAR_HEADER) - 1);
	o += sizeof(CLEAR_HEADER) - 1;
	for (i = 0; i < len; i++) {
		if (text[i] == '-' && (i == 0 || text[i - 1] == '\n')) {
			*o++ = '-';
			*o++ = ' ';
		}
		*o++ = (char)text[i];
	}
	if (add_nl)
		*o++ = '\n';
	memcpy(o, armor, armor_len);
	o += armor_len;
	*o = 0;
	*ret = out;
	*ret_len = size;
	out = NULL;
	r = 0;
out:
	free(armor);
	free(out);
	return r;
}
