/*
 * merkle.h — RFC 6962 / RFC 9162 Merkle tree hashing for the audit log.
 *
 *   leaf hash  = SHA-256(0x00 || record bytes)
 *   node hash  = SHA-256(0x01 || left || right)
 *   empty tree = SHA-256("")
 *
 * A tree of n leaves is kept as its compact range (the "frontier"): the
 * roots of the perfect subtrees that make up [0, n), one per set bit of n,
 * at most MERKLE_MAX_HEIGHT of them.  That is all the writer needs to
 * append, to compute the root, and to produce the inclusion proof of the
 * leaf it just appended in the tree that ends with it — O(log n) memory
 * whatever the size of the log.
 */
#ifndef SG_MERKLE_H
#define SG_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

#define MERKLE_MAX_HEIGHT 64
#define MERKLE_PROOF_MAX  MERKLE_MAX_HEIGHT

struct merkle_tree {
	uint64_t size;                                /* leaves so far */
	uint8_t level[MERKLE_MAX_HEIGHT][SHA256_LEN]; /* level[h]: root of the
	                                                 perfect subtree of 2^h
	                                                 leaves, valid when bit h
	                                                 of size is set */
};

void merkle_leaf_hash(const void *record, size_t len, uint8_t ret[SHA256_LEN]);
void merkle_node_hash(
    const uint8_t left[SHA256_LEN], const uint8_t right[SHA256_LEN], uint8_t ret[SHA256_LEN]);

/* An empty tree. */
void merkle_init(struct merkle_tree *t);

/*
 * Appends a leaf hash.  When ret_proof is not NULL it receives the
 * inclusion proof of this leaf (index t->size before the call) in the tree
 * of size index + 1 — the audit path of RFC 9162 §2.1.3.1, nearest sibling
 * first — and *ret_nproof its length.  SG_ERR_LIMIT when the tree is full
 * (2^64 - 1 leaves); SG_ERR_CRYPTO when hashing fails (out of memory);
 * SG_ERR_INVALID_ARGUMENT for NULL t or leaf, or ret_proof without
 * ret_nproof.  On error the tree is unchanged.
 */
int merkle_append(struct merkle_tree *t, const uint8_t leaf[SHA256_LEN],
    uint8_t ret_proof[MERKLE_PROOF_MAX][SHA256_LEN], size_t *ret_nproof) SG_MUST_CHECK;

/* The root hash of the tree as it is (SHA-256("") when empty). */
void merkle_root(const struct merkle_tree *t, uint8_t ret[SHA256_LEN]);

/*
 * RFC 9162 §2.1.3.2: checks that leaf is at index in the tree of the given
 * size whose root is root, with the audit path proof[0..nproof).  0 or
 * SG_ERR_VERIFY (index >= size, a proof of the wrong length, a mismatch).
 */
int merkle_verify_inclusion(const uint8_t leaf[SHA256_LEN], uint64_t index, uint64_t size,
    const uint8_t (*proof)[SHA256_LEN], size_t nproof,
    const uint8_t root[SHA256_LEN]) SG_MUST_CHECK;

/*
 * RFC 9162 §2.1.4.2: checks that the tree (size2, root2) extends the tree
 * (size1, root1), with the consistency proof proof[0..nproof).  size1 == 0
 * is always consistent (with an empty proof); size1 == size2 needs an
 * empty proof and equal roots.  0 or SG_ERR_VERIFY.
 */
int merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[SHA256_LEN],
    const uint8_t root2[SHA256_LEN], const uint8_t (*proof)[SHA256_LEN],
    size_t nproof) SG_MUST_CHECK;

/*
 * Reference computations over all leaf hashes leaves[0..n) (for verifiers
 * that hold the whole log, and for the tests).  merkle_root_of: root of the
 * first n leaves.  merkle_inclusion_proof: audit path of leaf index in the
 * tree of the first size leaves.  merkle_consistency_proof: RFC 9162
 * §2.1.4.1 proof between sizes size1 <= size2 of these leaves.  Proof
 * functions return the length in *ret_nproof; SG_ERR_INVALID_ARGUMENT for
 * sizes out of range.
 */
void merkle_root_of(const uint8_t (*leaves)[SHA256_LEN], uint64_t n, uint8_t ret[SHA256_LEN]);
int merkle_inclusion_proof(const uint8_t (*leaves)[SHA256_LEN], uint64_t size, uint64_t index,
    uint8_t ret_proof[MERKLE_PROOF_MAX][SHA256_LEN], size_t *ret_nproof) SG_MUST_CHECK;
int merkle_consistency_proof(const uint8_t (*leaves)[SHA256_LEN], uint64_t size1, uint64_t size2,
    uint8_t ret_proof[MERKLE_PROOF_MAX][SHA256_LEN], size_t *ret_nproof) SG_MUST_CHECK;

#endif
