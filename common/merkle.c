/*
 * merkle.c — RFC 6962 / RFC 9162 Merkle trees: the writer's compact range
 * and the verifier's algorithms.
 *
 * The tree of n leaves (RFC 6962 §2.1 MTH) splits at k, the largest power
 * of two below n: a perfect left subtree of k leaves and a right subtree of
 * the rest, recursively.  Unrolled, the tree of n leaves is the perfect
 * subtrees of 2^h leaves for each set bit h of n, largest (leftmost) first,
 * folded from the right:
 *
 *     MTH(n) = node(level[h1], node(level[h2], ... node(level[hk-1], level[hk])))
 *
 * with h1 > h2 > ... > hk the set bits of n.  That is the frontier, and it
 * gives everything the writer needs:
 *
 * - append: the new leaf merges with level[0], then level[1], ... for as
 *   long as the corresponding bits of n are set (a binary carry);
 * - root: fold the levels, lowest set bit first;
 * - the audit path of leaf n in the tree of n + 1 leaves: the siblings on
 *   the way from that last leaf to the root are exactly level[h] for the
 *   set bits h of n, nearest (lowest) first.
 *
 * The verifiers are the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 word
 * for word; the reference provers (§2.1.3.1 PATH, §2.1.4.1 SUBPROOF)
 * recompute subtree hashes from all leaves, O(n) per proof.
 */
#include "merkle.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "log.h"

#define LEAF_PREFIX 0x00
#define NODE_PREFIX 0x01

/*
 * SHA-256(prefix || a || b).  OpenSSL fails here only when out of memory;
 * ret is then all zeros (never stale bytes) and SG_ERR_CRYPTO is returned
 * for the callers that can report it.
 */
static int
hash_prefixed(
    uint8_t prefix, const void *a, size_t alen, const void *b, size_t blen, uint8_t ret[SHA256_LEN])
{
	EVP_MD_CTX *ctx = NULL;
	unsigned int mdlen = 0;
	int r = SG_ERR_CRYPTO;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestInit_ex(ctx, crypto_md_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &prefix, 1) != 1 ||
	    (alen > 0 && EVP_DigestUpdate(ctx, a, alen) != 1) ||
	    (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, ret, &mdlen) != 1 || mdlen != SHA256_LEN)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	if (r != 0) {
		memset(ret, 0, SHA256_LEN);
		log_debug("SHA-256 failed");
	}
	return r;
}

void
merkle_leaf_hash(const void *record, size_t len, uint8_t ret[SHA256_LEN])
{
	(void)hash_prefixed(LEAF_PREFIX, record, record != NULL ? len : 0, NULL, 0, ret);
}

void
merkle_node_hash(
    const uint8_t left[SHA256_LEN], const uint8_t right[SHA256_LEN], uint8_t ret[SHA256_LEN])
{
	(void)hash_prefixed(NODE_PREFIX, left, SHA256_LEN, right, SHA256_LEN, ret);
}

/* SHA-256 of the empty string: the root of the empty tree. */
static void
empty_root(uint8_t ret[SHA256_LEN])
{
	unsigned int mdlen = 0;

	if (EVP_Digest("", 0, ret, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != SHA256_LEN) {
		memset(ret, 0, SHA256_LEN);
		log_debug("SHA-256 failed");
	}
}

void
merkle_init(struct merkle_tree *t)
{
	memset(t, 0, sizeof(*t));
}

int
merkle_append(struct merkle_tree *t, const uint8_t leaf[SHA256_LEN],
    uint8_t ret_proof[MERKLE_PROOF_MAX][SHA256_LEN], size_t *ret_nproof)
{
	uint8_t cur[SHA256_LEN], next[SHA256_LEN];
	uint64_t n;
	size_t np = 0;
	unsigned h;

	if (t == NULL || leaf == NULL || (ret_proof != NULL && ret_nproof == NULL))
		return SG_ERR_INVALID_ARGUMENT;
	n = t->size;
	if (n == UINT64_MAX)
		return SG_ERR_LIMIT;
	/* The carry first, into cur only: the tree changes only once every
	 * hash has been computed.  n < 2^64 - 1, so the carry stops below
	 * bit 64: at the first clear bit of n. */
	memcpy(cur, leaf, SHA256_LEN);
	for (h = 0; (n >> h) & 1; h++) {
		if (hash_prefixed(NODE_PREFIX, t->level[h], SHA256_LEN, cur, SHA256_LEN, next) != 0)
			return SG_ERR_CRYPTO;
		memcpy(cur, next, SHA256_LEN);
	}
	if (ret_proof != NULL) {
		/* The audit path of leaf n in the tree of n + 1 leaves: the
		 * frontier of n, lowest level (nearest sibling) first.  At most
		 * 63 entries since n < 2^64 - 1. */
		for (unsigned i = 0; i < MERKLE_MAX_HEIGHT && np < MERKLE_PROOF_MAX; i++) {
			if ((n >> i) & 1)
				memcpy(ret_proof[np++], t->level[i], SHA256_LEN);
		}
		*ret_nproof = np;
	}
	memcpy(t->level[h], cur, SHA256_LEN);
	t->size = n + 1;
	return 0;
}

void
merkle_root(const struct merkle_tree *t, uint8_t ret[SHA256_LEN])
{
	uint8_t cur[SHA256_LEN], next[SHA256_LEN];
	int have = 0;
	unsigned h;

	if (t == NULL || t->size == 0) {
		empty_root(ret);
		return;
	}
	for (h = 0; h < MERKLE_MAX_HEIGHT; h++) {
		if (!((t->size >> h) & 1))
			continue;
		if (!have) {
			memcpy(cur, t->level[h], SHA256_LEN);
			have = 1;
		} else {
			merkle_node_hash(t->level[h], cur, next);
			memcpy(cur, next, SHA256_LEN);
		}
	}
	memcpy(ret, cur, SHA256_LEN);
}

/* Equal hashes.  Not secrets, but the constant-time compare costs nothing. */
static int
hash_eq(const uint8_t a[SHA256_LEN], const uint8_t b[SHA256_LEN])
{
	return CRYPTO_memcmp(a, b, SHA256_LEN) == 0;
}

int
merkle_verify_inclusion(const uint8_t leaf[SHA256_LEN], uint64_t index, uint64_t size,
    const uint8_t (*proof)[SHA256_LEN], size_t nproof, const uint8_t root[SHA256_LEN])
{
	uint8_t r[SHA256_LEN], next[SHA256_LEN];
	uint64_t fn, sn;
	size_t i;

	if (leaf == NULL || root == NULL || (proof == NULL && nproof > 0) ||
	    nproof > MERKLE_PROOF_MAX)
		return SG_ERR_VERIFY;
	/* 1. */
	if (index >= size)
		return SG_ERR_VERIFY;
	/* 2., 3. */
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, SHA256_LEN);
	/* 4. */
	for (i = 0; i < nproof; i++) {
		if (sn == 0)
			return SG_ERR_VERIFY;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], r, next);
			if (!(fn & 1)) {
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
			}
		} else {
			merkle_node_hash(r, proof[i], next);
		}
		memcpy(r, next, SHA256_LEN);
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	if (sn != 0 || !hash_eq(r, root))
		return SG_ERR_VERIFY;
	return 0;
}

int
merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[SHA256_LEN],
    const uint8_t root2[SHA256_LEN], const uint8_t (*proof)[SHA256_LEN], size_t nproof)
{
	uint8_t fr[SHA256_LEN], sr[SHA256_LEN], next[SHA256_LEN];
	const uint8_t *c;
	uint64_t fn, sn;
	size_t i, start;

	if (root1 == NULL || root2 == NULL || (proof == NULL && nproof > 0) ||
	    nproof > MERKLE_PROOF_MAX)
		return SG_ERR_VERIFY;
	if (size1 > size2)
		return SG_ERR_VERIFY;
	if (size1 == size2)
		return nproof == 0 && hash_eq(root1, root2) ? 0 : SG_ERR_VERIFY;
	if (size1 == 0)
		return nproof == 0 ? 0 : SG_ERR_VERIFY;
	/* 0 < size1 < size2 from here: RFC 9162 §2.1.4.2. */
	/* 1. */
	if (nproof == 0)
		return SG_ERR_VERIFY;
	/* 2.  Rather than prepend root1 to the path, start from it and take
	 * the whole path as the "subsequent values". */
	if ((size1 & (size1 - 1)) == 0) {
		c = root1;
		start = 0;
	} else {
		c = proof[0];
		start = 1;
	}
	/* 3. */
	fn = size1 - 1;
	sn = size2 - 1;
	/* 4. */
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	memcpy(fr, c, SHA256_LEN);
	memcpy(sr, c, SHA256_LEN);
	/* 6. */
	for (i = start; i < nproof; i++) {
		c = proof[i];
		if (sn == 0)
			return SG_ERR_VERIFY;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(c, fr, next);
			memcpy(fr, next, SHA256_LEN);
			merkle_node_hash(c, sr, next);
			memcpy(sr, next, SHA256_LEN);
			if (!(fn & 1)) {
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
			}
		} else {
			merkle_node_hash(sr, c, next);
			memcpy(sr, next, SHA256_LEN);
		}
		fn >>= 1;
		sn >>= 1;
	}
	/* 7. */
	if (sn != 0 || !hash_eq(fr, root1) || !hash_eq(sr, root2))
		return SG_ERR_VERIFY;
	return 0;
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* MTH(leaves[0..n)), n >= 1.  Recursion depth is at most 64. */
static void
mth(const uint8_t (*leaves)[SHA256_LEN], uint64_t n, uint8_t ret[SHA256_LEN])
{
	uint8_t left[SHA256_LEN], right[SHA256_LEN];
	uint64_t k;

	if (n == 1) {
		memcpy(ret, leaves[0], SHA256_LEN);
		return;
	}
	k = split_point(n);
	mth(leaves, k, left);
	mth(leaves + k, n - k, right);
	merkle_node_hash(left, right, ret);
}

void
merkle_root_of(const uint8_t (*leaves)[SHA256_LEN], uint64_t n, uint8_t ret[SHA256_LEN])
{
	if (n == 0) {
		empty_root(ret);
		return;
	}
	/* A caller bug; all zeros never matches a real root. */
	if (leaves == NULL) {
		memset(ret, 0, SHA256_LEN);
		return;
	}
	mth(leaves, n, ret);
}

/* Appends MTH(leaves[0..n)) to proof; SG_ERR_LIMIT when it is full. */
static int
proof_push(const uint8_t (*leaves)[SHA256_LEN], uint64_t n,
    uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN], size_t *np)
{
	if (*np >= MERKLE_PROOF_MAX)
		return SG_ERR_LIMIT;
	mth(leaves, n, proof[*np]);
	(*np)++;
	return 0;
}

/* RFC 9162 §2.1.3.1 PATH(m, D[0..n)), appended to proof. */
static int
path(const uint8_t (*leaves)[SHA256_LEN], uint64_t m, uint64_t n,
    uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN], size_t *np)
{
	uint64_t k;
	int r;

	if (n <= 1)
		return 0;
	k = split_point(n);
	if (m < k) {
		if ((r = path(leaves, m, k, proof, np)) != 0)
			return r;
		return proof_push(leaves + k, n - k, proof, np);
	}
	if ((r = path(leaves + k, m - k, n - k, proof, np)) != 0)
		return r;
	return proof_push(leaves, k, proof, np);
}

int
merkle_inclusion_proof(const uint8_t (*leaves)[SHA256_LEN], uint64_t size, uint64_t index,
    uint8_t ret_proof[MERKLE_PROOF_MAX][SHA256_LEN], size_t *ret_nproof)
{
	uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN];
	size_t np = 0;
	int r;

	if (leaves == NULL || ret_proof == NULL || ret_nproof == NULL || index >= size)
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = path(leaves, index, size, proof, &np)) != 0)
		return r;
	memcpy(ret_proof, proof, np * SHA256_LEN);
	*ret_nproof = np;
	return 0;
}

/* RFC 9162 §2.1.4.1 SUBPROOF(m, D[0..n), b), appended to proof; m <= n. */
static int
subproof(const uint8_t (*leaves)[SHA256_LEN], uint64_t m, uint64_t n, int b,
    uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN], size_t *np)
{
	uint64_t k;
	int r;

	if (m == n)
		return b ? 0 : proof_push(leaves, n, proof, np);
	k = split_point(n);
	if (m <= k) {
		if ((r = subproof(leaves, m, k, b, proof, np)) != 0)
			return r;
		return proof_push(leaves + k, n - k, proof, np);
	}
	if ((r = subproof(leaves + k, m - k, n - k, 0, proof, np)) != 0)
		return r;
	return proof_push(leaves, k, proof, np);
}

int
merkle_consistency_proof(const uint8_t (*leaves)[SHA256_LEN], uint64_t size1, uint64_t size2,
    uint8_t ret_proof[MERKLE_PROOF_MAX][SHA256_LEN], size_t *ret_nproof)
{
	uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN];
	size_t np = 0;
	int r;

	if ((leaves == NULL && size2 > 0) || ret_proof == NULL || ret_nproof == NULL ||
	    size1 > size2)
		return SG_ERR_INVALID_ARGUMENT;
	/* PROOF is defined for 0 < m < n; the edges have the empty proof that
	 * merkle_verify_consistency() expects. */
	if (size1 > 0 && size1 < size2 && (r = subproof(leaves, size1, size2, 1, proof, &np)) != 0)
		return r;
	memcpy(ret_proof, proof, np * SHA256_LEN);
	*ret_nproof = np;
	return 0;
}
