/*
 * test_merkle.c — RFC 6962 / RFC 9162 Merkle trees: the Certificate
 * Transparency known answers, the frontier against the reference, and
 * every inclusion and consistency proof of small trees, genuine and
 * tampered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"
#include "testlib.h"
#include "util.h"

int main(void);

/* The exhaustive loops take a while under the sanitizers. */
#define TEST_TIMEOUT_S 120

/* Trees up to this many leaves get every proof checked. */
#define PROOF_SIZES_MAX      70
/* Trees up to this many leaves get every byte of every proof flipped;
 * above, one byte per proof entry (rotating). */
#define EVERY_BYTE_SIZES_MAX 16
#define FRONTIER_SIZES_MAX   300

/* The RFC 6962 test inputs used by Certificate Transparency. */
static const struct {
	const char *hex;
} ct_inputs[] = {
	{ "" },
	{ "00" },
	{ "10" },
	{ "2021" },
	{ "3031" },
	{ "40414243" },
	{ "5051525354555657" },
	{ "606162636465666768696a6b6c6d6e6f" },
};

/* MTH of the first n CT inputs, n = 1..8. */
static const char *const ct_roots[] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static const char empty_root_hex[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* Published CT inclusion proofs (leaf index, tree size, path). */
static const struct {
	uint64_t index, size;
	const char *path[3];
	size_t n;
} ct_inclusion[] = {
	{ 0, 8,
	    { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" },
	    3 },
	{ 5, 8,
	    { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" },
	    3 },
	{ 2, 3, { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" }, 1 },
	{ 0, 1, { NULL }, 0 },
};

/* Published CT consistency proofs (size1, size2, proof). */
static const struct {
	uint64_t size1, size2;
	const char *path[4];
	size_t n;
} ct_consistency[] = {
	{ 1, 8,
	    { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" },
	    3 },
	{ 6, 8,
	    { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" },
	    3 },
	{ 2, 5,
	    { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" },
	    2 },
	{ 3, 7,
	    { "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
		"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e" },
	    4 },
	{ 4, 8, { "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" }, 1 },
};

static void
unhex(const char *hex, uint8_t *out, size_t out_len)
{
	ck_assert_uint_eq(strlen(hex), 2 * out_len);
	ck_assert_int_eq(hex_decode(hex, strlen(hex), out, out_len), 0);
}

static void
ct_leaves(uint8_t leaves[8][SHA256_LEN])
{
	uint8_t in[16];
	size_t i, len;

	for (i = 0; i < nitems(ct_inputs); i++) {
		len = strlen(ct_inputs[i].hex) / 2;
		unhex(ct_inputs[i].hex, in, len);
		merkle_leaf_hash(in, len, leaves[i]);
	}
}

/* Distinct leaf hashes for the bigger trees. */
static uint8_t (*make_leaves(size_t n))[SHA256_LEN]
{
	uint8_t(*leaves)[SHA256_LEN] = calloc(n ? n : 1, SHA256_LEN);
	uint8_t rec[8];
	size_t i;

	ck_assert_ptr_nonnull(leaves);
	for (i = 0; i < n; i++) {
		for (size_t b = 0; b < sizeof(rec); b++)
			rec[b] = (uint8_t)(i >> (8 * b));
		merkle_leaf_hash(rec, sizeof(rec), leaves[i]);
	}
	return leaves;
}

static void
assert_hash_hex(const uint8_t h[SHA256_LEN], const char *hex)
{
	char got[SHA256_HEX_LEN + 1];

	hex_encode(h, SHA256_LEN, got);
	ck_assert_str_eq(got, hex);
}

START_TEST(test_empty_root)
{
	struct merkle_tree t;
	uint8_t root[SHA256_LEN];

	merkle_init(&t);
	ck_assert_uint_eq(t.size, 0);
	merkle_root(&t, root);
	assert_hash_hex(root, empty_root_hex);
	memset(root, 0xaa, sizeof(root));
	merkle_root_of(NULL, 0, root);
	assert_hash_hex(root, empty_root_hex);
}
END_TEST

START_TEST(test_leaf_and_node_hash)
{
	uint8_t leaves[8][SHA256_LEN], h[SHA256_LEN], h2[SHA256_LEN];
	uint8_t pair[2 * SHA256_LEN];

	ct_leaves(leaves);
	/* SHA-256(0x00) and SHA-256(0x00 0x00). */
	assert_hash_hex(leaves[0], ct_roots[0]);
	assert_hash_hex(
	    leaves[1], "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7");
	merkle_node_hash(leaves[0], leaves[1], h);
	assert_hash_hex(h, ct_roots[1]);
	/* Order matters. */
	merkle_node_hash(leaves[1], leaves[0], h2);
	ck_assert(memcmp(h, h2, SHA256_LEN) != 0);
	/* The prefix matters: a leaf is not a node of the same bytes. */
	memcpy(pair, leaves[0], SHA256_LEN);
	memcpy(pair + SHA256_LEN, leaves[1], SHA256_LEN);
	merkle_leaf_hash(pair, sizeof(pair), h2);
	ck_assert(memcmp(h, h2, SHA256_LEN) != 0);
	/* A NULL record with length 0 is the empty record. */
	merkle_leaf_hash(NULL, 0, h);
	assert_hash_hex(h, ct_roots[0]);
}
END_TEST

START_TEST(test_kat_roots)
{
	uint8_t leaves[8][SHA256_LEN], root[SHA256_LEN];
	struct merkle_tree t;
	size_t n, np = 99;

	ct_leaves(leaves);
	merkle_init(&t);
	for (n = 1; n <= 8; n++) {
		merkle_root_of((const uint8_t(*)[SHA256_LEN])leaves, n, root);
		assert_hash_hex(root, ct_roots[n - 1]);
		ck_assert_int_eq(merkle_append(&t, leaves[n - 1], NULL, &np), 0);
		ck_assert_uint_eq(np, 99); /* no proof asked for, none given */
		ck_assert_uint_eq(t.size, n);
		merkle_root(&t, root);
		assert_hash_hex(root, ct_roots[n - 1]);
	}
}
END_TEST

START_TEST(test_kat_inclusion)
{
	uint8_t leaves[8][SHA256_LEN], root[SHA256_LEN];
	uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN], want[MERKLE_PROOF_MAX][SHA256_LEN];
	size_t i, j, np;

	ct_leaves(leaves);
	for (i = 0; i < nitems(ct_inclusion); i++) {
		np = 999;
		ck_assert_int_eq(merkle_inclusion_proof((const uint8_t(*)[SHA256_LEN])leaves,
				     ct_inclusion[i].size, ct_inclusion[i].index, proof, &np),
		    0);
		ck_assert_uint_eq(np, ct_inclusion[i].n);
		for (j = 0; j < np; j++) {
			assert_hash_hex(proof[j], ct_inclusion[i].path[j]);
			unhex(ct_inclusion[i].path[j], want[j], SHA256_LEN);
		}
		unhex(ct_roots[ct_inclusion[i].size - 1], root, SHA256_LEN);
		ck_assert_int_eq(merkle_verify_inclusion(leaves[ct_inclusion[i].index],
				     ct_inclusion[i].index, ct_inclusion[i].size,
				     (const uint8_t(*)[SHA256_LEN])want, ct_inclusion[i].n, root),
		    0);
	}
}
END_TEST

START_TEST(test_kat_consistency)
{
	uint8_t leaves[8][SHA256_LEN], root1[SHA256_LEN], root2[SHA256_LEN];
	uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN], want[MERKLE_PROOF_MAX][SHA256_LEN];
	size_t i, j, np;

	ct_leaves(leaves);
	for (i = 0; i < nitems(ct_consistency); i++) {
		np = 999;
		ck_assert_int_eq(merkle_consistency_proof((const uint8_t(*)[SHA256_LEN])leaves,
				     ct_consistency[i].size1, ct_consistency[i].size2, proof, &np),
		    0);
		ck_assert_uint_eq(np, ct_consistency[i].n);
		for (j = 0; j < np; j++) {
			assert_hash_hex(proof[j], ct_consistency[i].path[j]);
			unhex(ct_consistency[i].path[j], want[j], SHA256_LEN);
		}
		unhex(ct_roots[ct_consistency[i].size1 - 1], root1, SHA256_LEN);
		unhex(ct_roots[ct_consistency[i].size2 - 1], root2, SHA256_LEN);
		ck_assert_int_eq(
		    merkle_verify_consistency(ct_consistency[i].size1, ct_consistency[i].size2,
			root1, root2, (const uint8_t(*)[SHA256_LEN])want, ct_consistency[i].n),
		    0);
		/* Swapped roots fail. */
		ck_assert_int_eq(
		    merkle_verify_consistency(ct_consistency[i].size1, ct_consistency[i].size2,
			root2, root1, (const uint8_t(*)[SHA256_LEN])want, ct_consistency[i].n),
		    SG_ERR_VERIFY);
	}
}
END_TEST

START_TEST(test_frontier_root_matches_reference)
{
	uint8_t(*leaves)[SHA256_LEN] = make_leaves(FRONTIER_SIZES_MAX);
	uint8_t a[SHA256_LEN], b[SHA256_LEN], prev[SHA256_LEN];
	struct merkle_tree t;
	size_t n;

	merkle_init(&t);
	for (n = 0; n <= FRONTIER_SIZES_MAX; n++) {
		ck_assert_uint_eq(t.size, n);
		merkle_root(&t, a);
		merkle_root_of((const uint8_t(*)[SHA256_LEN])leaves, n, b);
		ck_assert_msg(memcmp(a, b, SHA256_LEN) == 0, "root differs at size %zu", n);
		if (n > 0)
			ck_assert(memcmp(a, prev, SHA256_LEN) != 0);
		memcpy(prev, a, SHA256_LEN);
		if (n < FRONTIER_SIZES_MAX)
			ck_assert_int_eq(merkle_append(&t, leaves[n], NULL, NULL), 0);
	}
	free(leaves);
}
END_TEST

START_TEST(test_frontier_append_proof)
{
	uint8_t(*leaves)[SHA256_LEN] = make_leaves(FRONTIER_SIZES_MAX);
	uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN], ref[MERKLE_PROOF_MAX][SHA256_LEN];
	uint8_t root[SHA256_LEN];
	struct merkle_tree t;
	size_t i, np, nref;

	merkle_init(&t);
	for (i = 0; i < FRONTIER_SIZES_MAX; i++) {
		np = 999;
		ck_assert_int_eq(merkle_append(&t, leaves[i], proof, &np), 0);
		ck_assert_uint_eq(np, (size_t)__builtin_popcountll(i));
		merkle_root(&t, root);
		ck_assert_msg(merkle_verify_inclusion(leaves[i], i, i + 1,
				  (const uint8_t(*)[SHA256_LEN])proof, np, root) == 0,
		    "append proof of %zu does not verify", i);
		/* The same path as the reference prover's. */
		ck_assert_int_eq(merkle_inclusion_proof(
				     (const uint8_t(*)[SHA256_LEN])leaves, i + 1, i, ref, &nref),
		    0);
		ck_assert_uint_eq(nref, np);
		ck_assert(np == 0 || memcmp(ref, proof, np * SHA256_LEN) == 0);
		/* A flipped entry fails. */
		if (np > 0) {
			proof[i % np][i % SHA256_LEN] ^= 0x01;
			ck_assert_int_eq(merkle_verify_inclusion(leaves[i], i, i + 1,
					     (const uint8_t(*)[SHA256_LEN])proof, np, root),
			    SG_ERR_VERIFY);
		}
	}
	free(leaves);
}
END_TEST

/* Fills a frontier of the given size with arbitrary level hashes. */
static void
fake_tree(struct merkle_tree *t, uint64_t size)
{
	merkle_init(t);
	t->size = size;
	for (size_t h = 0; h < MERKLE_MAX_HEIGHT; h++)
		for (size_t b = 0; b < SHA256_LEN; b++)
			t->level[h][b] = (uint8_t)(h * 31 + b * 7 + 1);
}

/* 64-bit arithmetic: the append proof at huge sizes, up to the last leaf. */
START_TEST(test_frontier_huge_sizes)
{
	static const uint64_t sizes[] = {
		0xdeadbeefcafeULL,
		(uint64_t)1 << 63,
		((uint64_t)1 << 63) - 1,
		UINT64_MAX - 2,
		UINT64_MAX - 1,
	};
	uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN], root[SHA256_LEN], leaf[SHA256_LEN];
	struct merkle_tree t;
	size_t i, np;

	memset(leaf, 0x5a, sizeof(leaf));
	for (i = 0; i < nitems(sizes); i++) {
		fake_tree(&t, sizes[i]);
		np = 999;
		ck_assert_int_eq(merkle_append(&t, leaf, proof, &np), 0);
		ck_assert_uint_eq(np, (size_t)__builtin_popcountll(sizes[i]));
		ck_assert_uint_eq(t.size, sizes[i] + 1);
		merkle_root(&t, root);
		ck_assert_int_eq(merkle_verify_inclusion(leaf, sizes[i], sizes[i] + 1,
				     (const uint8_t(*)[SHA256_LEN])proof, np, root),
		    0);
		ck_assert_int_eq(merkle_verify_inclusion(leaf, sizes[i] - 1, sizes[i] + 1,
				     (const uint8_t(*)[SHA256_LEN])proof, np, root),
		    SG_ERR_VERIFY);
		ck_assert_int_eq(merkle_verify_inclusion(leaf, sizes[i] + 1, sizes[i] + 1,
				     (const uint8_t(*)[SHA256_LEN])proof, np, root),
		    SG_ERR_VERIFY);
	}
}
END_TEST

START_TEST(test_frontier_full)
{
	uint8_t proof[MERKLE_PROOF_MAX][SHA256_LEN], leaf[SHA256_LEN];
	struct merkle_tree t, copy;
	size_t np;

	memset(leaf, 0x11, sizeof(leaf));
	fake_tree(&t, UINT64_MAX - 1);
	ck_assert_int_eq(merkle_append(&t, leaf, proof, &np), 0);
	ck_assert_uint_eq(np, 63);
	ck_assert_uint_eq(t.size, UINT64_MAX);
	memcpy(&copy, &t, sizeof(t));
	np = 999;
	ck_assert_int_eq(merkle_append(&t, leaf, proof, &np), SG_ERR_LIMIT);
	ck_assert_uint_eq(np, 999);
	ck_assert(memcmp(&copy, &t, sizeof(t)) == 0);
	/* Bad arguments leave the tree alone too. */
	merkle_init(&t);
	ck_assert_int_eq(merkle_append(&t, NULL, NULL, NULL), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(merkle_append(&t, leaf, proof, NULL), SG_ERR_INVALID_ARGUMENT);
	ck_assert_uint_eq(t.size, 0);
	ck_assert_int_eq(merkle_append(NULL, leaf, NULL, NULL), SG_ERR_INVALID_ARGUMENT);
}
END_TEST

typedef const uint8_t (*cproof_t)[SHA256_LEN];

/* Every tampered variant of a genuine inclusion proof is refused. */
static void
assert_inclusion_tampering(const uint8_t (*leaves)[SHA256_LEN], uint64_t index, uint64_t size,
    uint8_t proof[MERKLE_PROOF_MAX + 1][SHA256_LEN], size_t np, const uint8_t root[SHA256_LEN])
{
	uint8_t bad[SHA256_LEN], root_other[SHA256_LEN];
	size_t i, b;

	/* Each entry, each byte (or one byte per entry on big trees). */
	for (i = 0; i < np; i++) {
		for (b = 0; b < SHA256_LEN; b++) {
			size_t pos =
			    size <= EVERY_BYTE_SIZES_MAX ? b : (i + index + size) % SHA256_LEN;
			proof[i][pos] ^= 0x80;
			ck_assert_msg(merkle_verify_inclusion(leaves[index], index, size,
					  (cproof_t)proof, np, root) == SG_ERR_VERIFY,
			    "flipped byte %zu of entry %zu accepted (%llu/%llu)", pos, i,
			    (unsigned long long)index, (unsigned long long)size);
			proof[i][pos] ^= 0x80;
			if (size > EVERY_BYTE_SIZES_MAX)
				break;
		}
	}
	/* Leaf and root. */
	memcpy(bad, leaves[index], SHA256_LEN);
	bad[(index + 3) % SHA256_LEN] ^= 0x01;
	ck_assert_int_eq(
	    merkle_verify_inclusion(bad, index, size, (cproof_t)proof, np, root), SG_ERR_VERIFY);
	memcpy(bad, root, SHA256_LEN);
	bad[(size + 5) % SHA256_LEN] ^= 0x01;
	ck_assert_int_eq(
	    merkle_verify_inclusion(leaves[index], index, size, (cproof_t)proof, np, bad),
	    SG_ERR_VERIFY);
	/* Lengths: one short (the last or the first entry dropped), one long. */
	if (np > 0) {
		ck_assert_int_eq(merkle_verify_inclusion(
				     leaves[index], index, size, (cproof_t)proof, np - 1, root),
		    SG_ERR_VERIFY);
		ck_assert_int_eq(merkle_verify_inclusion(
				     leaves[index], index, size, (cproof_t)proof + 1, np - 1, root),
		    SG_ERR_VERIFY);
	}
	memcpy(proof[np], root, SHA256_LEN);
	ck_assert_int_eq(
	    merkle_verify_inclusion(leaves[index], index, size, (cproof_t)proof, np + 1, root),
	    SG_ERR_VERIFY);
	memcpy(proof[np], leaves[index], SHA256_LEN);
	ck_assert_int_eq(
	    merkle_verify_inclusion(leaves[index], index, size, (cproof_t)proof, np + 1, root),
	    SG_ERR_VERIFY);
	/* One entry past the end, with a root built to match it: only the
	 * path-length bookkeeping (RFC 9162 §2.1.3.2 step 4a) stops this. */
	memset(proof[np], 0x42, SHA256_LEN);
	merkle_node_hash(proof[np], root, root_other);
	ck_assert_int_eq(merkle_verify_inclusion(
			     leaves[index], index, size, (cproof_t)proof, np + 1, root_other),
	    SG_ERR_VERIFY);
	/* The right hashes under a bigger claimed size: only step 5 (sn == 0)
	 * stops this. */
	ck_assert_int_eq(
	    merkle_verify_inclusion(leaves[index], index, 2 * size, (cproof_t)proof, np, root),
	    SG_ERR_VERIFY);
	/* Another index in the same tree, with that index's leaf or ours. */
	for (i = 0; i < size; i++) {
		if (i == index)
			continue;
		ck_assert_int_eq(
		    merkle_verify_inclusion(leaves[index], i, size, (cproof_t)proof, np, root),
		    SG_ERR_VERIFY);
		ck_assert_int_eq(
		    merkle_verify_inclusion(leaves[i], i, size, (cproof_t)proof, np, root),
		    SG_ERR_VERIFY);
	}
	/* Index out of range. */
	ck_assert_int_eq(
	    merkle_verify_inclusion(leaves[index], size, size, (cproof_t)proof, np, root),
	    SG_ERR_VERIFY);
	ck_assert_int_eq(
	    merkle_verify_inclusion(leaves[index], UINT64_MAX, size, (cproof_t)proof, np, root),
	    SG_ERR_VERIFY);
	/* A size off by one, with that tree's root. */
	if (size > 1 && index < size - 1) {
		merkle_root_of(leaves, size - 1, root_other);
		ck_assert_int_eq(merkle_verify_inclusion(leaves[index], index, size - 1,
				     (cproof_t)proof, np, root_other),
		    SG_ERR_VERIFY);
	}
	merkle_root_of(leaves, size + 1, root_other);
	ck_assert_int_eq(merkle_verify_inclusion(
			     leaves[index], index, size + 1, (cproof_t)proof, np, root_other),
	    SG_ERR_VERIFY);
}

START_TEST(test_inclusion_all)
{
	uint8_t(*leaves)[SHA256_LEN] = make_leaves(PROOF_SIZES_MAX + 1);
	uint8_t proof[MERKLE_PROOF_MAX + 1][SHA256_LEN], root[SHA256_LEN];
	uint64_t size, index;
	size_t np, count = 0;

	for (size = 1; size <= PROOF_SIZES_MAX; size++) {
		merkle_root_of((cproof_t)leaves, size, root);
		for (index = 0; index < size; index++) {
			np = 999;
			ck_assert_int_eq(
			    merkle_inclusion_proof((cproof_t)leaves, size, index, proof, &np), 0);
			ck_assert_uint_le(np, MERKLE_PROOF_MAX);
			ck_assert_msg(merkle_verify_inclusion(leaves[index], index, size,
					  (cproof_t)proof, np, root) == 0,
			    "inclusion %llu/%llu refused", (unsigned long long)index,
			    (unsigned long long)size);
			assert_inclusion_tampering((cproof_t)leaves, index, size, proof, np, root);
			count++;
		}
	}
	ck_assert_uint_eq(count, PROOF_SIZES_MAX * (PROOF_SIZES_MAX + 1) / 2);
	free(leaves);
}
END_TEST

START_TEST(test_inclusion_refuses_bad_arguments)
{
	uint8_t(*leaves)[SHA256_LEN] = make_leaves(8);
	uint8_t proof[MERKLE_PROOF_MAX + 1][SHA256_LEN], root[SHA256_LEN];
	size_t np = 999;

	memset(proof, 0x33, sizeof(proof));
	ck_assert_int_eq(
	    merkle_inclusion_proof((cproof_t)leaves, 8, 8, proof, &np), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    merkle_inclusion_proof((cproof_t)leaves, 0, 0, proof, &np), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(merkle_inclusion_proof((cproof_t)leaves, 8, UINT64_MAX, proof, &np),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(merkle_inclusion_proof(NULL, 8, 0, proof, &np), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    merkle_inclusion_proof((cproof_t)leaves, 8, 0, NULL, &np), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    merkle_inclusion_proof((cproof_t)leaves, 8, 0, proof, NULL), SG_ERR_INVALID_ARGUMENT);
	ck_assert_uint_eq(np, 999);
	ck_assert_uint_eq(proof[0][0], 0x33);

	/* The empty tree has no leaves. */
	merkle_root_of((cproof_t)leaves, 0, root);
	ck_assert_int_eq(
	    merkle_verify_inclusion(leaves[0], 0, 0, (cproof_t)proof, 0, root), SG_ERR_VERIFY);
	/* A one-leaf tree: the root is the leaf, the path is empty. */
	merkle_root_of((cproof_t)leaves, 1, root);
	ck_assert(memcmp(root, leaves[0], SHA256_LEN) == 0);
	ck_assert_int_eq(merkle_verify_inclusion(leaves[0], 0, 1, (cproof_t)proof, 0, root), 0);
	ck_assert_int_eq(
	    merkle_verify_inclusion(leaves[0], 0, 1, (cproof_t)proof, 1, root), SG_ERR_VERIFY);
	/* index == size: leaf 1 of a one-leaf tree would otherwise pass as
	 * the root with the empty path. */
	ck_assert_int_eq(merkle_verify_inclusion(leaves[0], 1, 1, NULL, 0, root), SG_ERR_VERIFY);
	/* Proof-length guard and NULLs. */
	ck_assert_int_eq(
	    merkle_verify_inclusion(leaves[0], 0, 1, (cproof_t)proof, MERKLE_PROOF_MAX + 1, root),
	    SG_ERR_VERIFY);
	ck_assert_int_eq(merkle_verify_inclusion(leaves[0], 0, 1, NULL, 1, root), SG_ERR_VERIFY);
	ck_assert_int_eq(merkle_verify_inclusion(leaves[0], 0, 1, NULL, 0, root), 0);
	ck_assert_int_eq(merkle_verify_inclusion(NULL, 0, 1, NULL, 0, root), SG_ERR_VERIFY);
	ck_assert_int_eq(merkle_verify_inclusion(leaves[0], 0, 1, NULL, 0, NULL), SG_ERR_VERIFY);
	free(leaves);
}
END_TEST

/* Every tampered variant of a genuine consistency proof is refused. */
static void
assert_consistency_tampering(const uint8_t (*leaves)[SHA256_LEN], uint64_t s1, uint64_t s2,
    uint8_t proof[MERKLE_PROOF_MAX + 2][SHA256_LEN], size_t np, const uint8_t root1[SHA256_LEN],
    const uint8_t root2[SHA256_LEN])
{
	uint8_t bad[SHA256_LEN], other[SHA256_LEN], pre[MERKLE_PROOF_MAX + 2][SHA256_LEN];
	size_t i, b;

	for (i = 0; i < np; i++) {
		for (b = 0; b < SHA256_LEN; b++) {
			size_t pos = s2 <= EVERY_BYTE_SIZES_MAX ? b : (i + s1 + s2) % SHA256_LEN;
			proof[i][pos] ^= 0x04;
			ck_assert_msg(merkle_verify_consistency(s1, s2, root1, root2,
					  (cproof_t)proof, np) == SG_ERR_VERIFY,
			    "flipped byte %zu of entry %zu accepted (%llu->%llu)", pos, i,
			    (unsigned long long)s1, (unsigned long long)s2);
			proof[i][pos] ^= 0x04;
			if (s2 > EVERY_BYTE_SIZES_MAX)
				break;
		}
	}
	/* Roots (the empty tree is a prefix of every tree: its roots are not
	 * looked at). */
	memcpy(bad, root1, SHA256_LEN);
	bad[(s1 + s2) % SHA256_LEN] ^= 0x40;
	ck_assert_int_eq(merkle_verify_consistency(s1, s2, bad, root2, (cproof_t)proof, np),
	    s1 == 0 && s2 > 0 ? 0 : SG_ERR_VERIFY);
	memcpy(bad, root2, SHA256_LEN);
	bad[(s1 * 3 + s2) % SHA256_LEN] ^= 0x40;
	ck_assert_int_eq(merkle_verify_consistency(s1, s2, root1, bad, (cproof_t)proof, np),
	    s1 == 0 && s2 > 0 ? 0 : SG_ERR_VERIFY);
	if (s1 > 0 && s1 < s2) {
		ck_assert_int_eq(
		    merkle_verify_consistency(s1, s2, root2, root1, (cproof_t)proof, np),
		    SG_ERR_VERIFY);
	}
	/* Lengths. */
	if (np > 0) {
		ck_assert_int_eq(
		    merkle_verify_consistency(s1, s2, root1, root2, (cproof_t)proof, np - 1),
		    SG_ERR_VERIFY);
		ck_assert_int_eq(
		    merkle_verify_consistency(s1, s2, root1, root2, (cproof_t)proof + 1, np - 1),
		    SG_ERR_VERIFY);
	}
	memcpy(proof[np], root2, SHA256_LEN);
	ck_assert_int_eq(merkle_verify_consistency(s1, s2, root1, root2, (cproof_t)proof, np + 1),
	    SG_ERR_VERIFY);
	memcpy(proof[np], leaves[0], SHA256_LEN);
	ck_assert_int_eq(merkle_verify_consistency(s1, s2, root1, root2, (cproof_t)proof, np + 1),
	    SG_ERR_VERIFY);
	if (s1 > 0 && s1 < s2) {
		/* One entry past the end with roots built to match it (only the
		 * path-length check of step 6a stops this), and the right hashes
		 * under a bigger claimed size2 (only the sn == 0 of step 7). */
		uint8_t r1x[SHA256_LEN], r2x[SHA256_LEN];

		memset(proof[np], 0x24, SHA256_LEN);
		merkle_node_hash(proof[np], root1, r1x);
		merkle_node_hash(proof[np], root2, r2x);
		ck_assert_int_eq(
		    merkle_verify_consistency(s1, s2, r1x, r2x, (cproof_t)proof, np + 1),
		    SG_ERR_VERIFY);
		ck_assert_int_eq(
		    merkle_verify_consistency(s1, 2 * s2, root1, root2, (cproof_t)proof, np),
		    SG_ERR_VERIFY);
	}
	/* root1 prepended explicitly (the verifier does that itself for a
	 * power-of-two size1; a prover must not). */
	memcpy(pre[0], root1, SHA256_LEN);
	memcpy(pre[1], proof, np * SHA256_LEN);
	ck_assert_int_eq(
	    merkle_verify_consistency(s1, s2, root1, root2, (cproof_t)pre, np + 1), SG_ERR_VERIFY);
	/* Sizes off by one, each with the root of that size. */
	if (s1 > 0) {
		merkle_root_of(leaves, s1 - 1, other);
		ck_assert_int_eq(
		    merkle_verify_consistency(s1 - 1, s2, other, root2, (cproof_t)proof, np),
		    s1 == 1 && np == 0 ? 0 : SG_ERR_VERIFY);
	}
	if (s1 < s2) {
		merkle_root_of(leaves, s1 + 1, other);
		ck_assert_int_eq(
		    merkle_verify_consistency(s1 + 1, s2, other, root2, (cproof_t)proof, np),
		    s1 + 1 == s2 && np == 0 ? 0 : SG_ERR_VERIFY);
		merkle_root_of(leaves, s2 - 1, other);
		ck_assert_int_eq(
		    merkle_verify_consistency(s1, s2 - 1, root1, other, (cproof_t)proof, np),
		    s1 == 0 || (s1 == s2 - 1 && np == 0) ? 0 : SG_ERR_VERIFY);
	}
	merkle_root_of(leaves, s2 + 1, other);
	ck_assert_int_eq(merkle_verify_consistency(s1, s2 + 1, root1, other, (cproof_t)proof, np),
	    s1 == 0 ? 0 : SG_ERR_VERIFY);
	/* Reversed sizes. */
	if (s1 < s2) {
		ck_assert_int_eq(
		    merkle_verify_consistency(s2, s1, root2, root1, (cproof_t)proof, np),
		    SG_ERR_VERIFY);
	}
}

START_TEST(test_consistency_all)
{
	uint8_t(*leaves)[SHA256_LEN] = make_leaves(PROOF_SIZES_MAX + 1);
	uint8_t proof[MERKLE_PROOF_MAX + 2][SHA256_LEN], root1[SHA256_LEN], root2[SHA256_LEN];
	uint64_t s1, s2;
	size_t np, count = 0;

	for (s2 = 0; s2 <= PROOF_SIZES_MAX; s2++) {
		merkle_root_of((cproof_t)leaves, s2, root2);
		for (s1 = 0; s1 <= s2; s1++) {
			merkle_root_of((cproof_t)leaves, s1, root1);
			np = 999;
			ck_assert_int_eq(
			    merkle_consistency_proof((cproof_t)leaves, s1, s2, proof, &np), 0);
			ck_assert_uint_le(np, MERKLE_PROOF_MAX);
			if (s1 == 0 || s1 == s2)
				ck_assert_uint_eq(np, 0);
			else
				ck_assert_uint_gt(np, 0);
			ck_assert_msg(merkle_verify_consistency(
					  s1, s2, root1, root2, (cproof_t)proof, np) == 0,
			    "consistency %llu->%llu refused", (unsigned long long)s1,
			    (unsigned long long)s2);
			assert_consistency_tampering(
			    (cproof_t)leaves, s1, s2, proof, np, root1, root2);
			count++;
		}
	}
	ck_assert_uint_eq(count, (PROOF_SIZES_MAX + 1) * (PROOF_SIZES_MAX + 2) / 2);
	free(leaves);
}
END_TEST

START_TEST(test_consistency_edges)
{
	uint8_t(*leaves)[SHA256_LEN] = make_leaves(8);
	uint8_t proof[MERKLE_PROOF_MAX + 1][SHA256_LEN], r0[SHA256_LEN], r5[SHA256_LEN];
	uint8_t r8[SHA256_LEN];
	size_t np = 999;

	merkle_root_of((cproof_t)leaves, 0, r0);
	merkle_root_of((cproof_t)leaves, 5, r5);
	merkle_root_of((cproof_t)leaves, 8, r8);
	memset(proof, 0x77, sizeof(proof));

	/* size1 > size2 is refused by the prover and the verifier. */
	ck_assert_int_eq(
	    merkle_consistency_proof((cproof_t)leaves, 6, 5, proof, &np), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(merkle_consistency_proof(NULL, 0, 5, proof, &np), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    merkle_consistency_proof((cproof_t)leaves, 1, 5, NULL, &np), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    merkle_consistency_proof((cproof_t)leaves, 1, 5, proof, NULL), SG_ERR_INVALID_ARGUMENT);
	ck_assert_uint_eq(np, 999);
	ck_assert_uint_eq(proof[0][0], 0x77);
	ck_assert_int_eq(
	    merkle_verify_consistency(8, 5, r8, r5, (cproof_t)proof, 0), SG_ERR_VERIFY);
	/* (3 -> 1) with the one-entry proof [x] and both roots x would pass
	 * the hash checks of RFC 9162 §2.1.4.2; size1 > size2 stops it. */
	memcpy(proof[0], r5, SHA256_LEN);
	ck_assert_int_eq(
	    merkle_verify_consistency(3, 1, r5, r5, (cproof_t)proof, 1), SG_ERR_VERIFY);
	memset(proof, 0x77, sizeof(proof));

	/* The empty tree: a proof of nothing, both ways. */
	ck_assert_int_eq(merkle_consistency_proof(NULL, 0, 0, proof, &np), 0);
	ck_assert_uint_eq(np, 0);
	ck_assert_int_eq(merkle_verify_consistency(0, 0, r0, r0, NULL, 0), 0);
	ck_assert_int_eq(merkle_verify_consistency(0, 0, r0, r5, NULL, 0), SG_ERR_VERIFY);
	/* size1 == 0 is consistent with anything, with an empty proof only. */
	ck_assert_int_eq(merkle_verify_consistency(0, 5, r0, r5, NULL, 0), 0);
	ck_assert_int_eq(
	    merkle_verify_consistency(0, 5, r0, r5, (cproof_t)proof, 1), SG_ERR_VERIFY);
	/* size1 == size2: an empty proof and equal roots. */
	ck_assert_int_eq(merkle_verify_consistency(5, 5, r5, r5, NULL, 0), 0);
	ck_assert_int_eq(merkle_verify_consistency(5, 5, r5, r8, NULL, 0), SG_ERR_VERIFY);
	memcpy(proof[0], r5, SHA256_LEN);
	ck_assert_int_eq(
	    merkle_verify_consistency(5, 5, r5, r5, (cproof_t)proof, 1), SG_ERR_VERIFY);
	/* 0 < size1 < size2 needs a proof. */
	ck_assert_int_eq(merkle_verify_consistency(5, 8, r5, r8, NULL, 0), SG_ERR_VERIFY);
	ck_assert_int_eq(merkle_verify_consistency(4, 8, r5, r8, NULL, 0), SG_ERR_VERIFY);
	/* Proof-length guard and NULLs. */
	ck_assert_int_eq(
	    merkle_verify_consistency(5, 8, r5, r8, (cproof_t)proof, MERKLE_PROOF_MAX + 1),
	    SG_ERR_VERIFY);
	ck_assert_int_eq(merkle_verify_consistency(5, 8, r5, r8, NULL, 2), SG_ERR_VERIFY);
	ck_assert_int_eq(merkle_verify_consistency(5, 5, NULL, r5, NULL, 0), SG_ERR_VERIFY);
	ck_assert_int_eq(merkle_verify_consistency(5, 5, r5, NULL, NULL, 0), SG_ERR_VERIFY);
	/* The largest sizes do not wrap. */
	ck_assert_int_eq(merkle_verify_consistency(UINT64_MAX, UINT64_MAX, r5, r5, NULL, 0), 0);
	ck_assert_int_eq(
	    merkle_verify_consistency(UINT64_MAX - 1, UINT64_MAX, r5, r8, (cproof_t)proof, 1),
	    SG_ERR_VERIFY);
	free(leaves);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("merkle");

	test_add(s, "/merkle/hash/empty-root", test_empty_root, TEST_TIMEOUT_S);
	test_add(s, "/merkle/hash/leaf-and-node", test_leaf_and_node_hash, TEST_TIMEOUT_S);
	test_add(s, "/merkle/kat/roots", test_kat_roots, TEST_TIMEOUT_S);
	test_add(s, "/merkle/kat/inclusion", test_kat_inclusion, TEST_TIMEOUT_S);
	test_add(s, "/merkle/kat/consistency", test_kat_consistency, TEST_TIMEOUT_S);
	test_add(s, "/merkle/frontier/root-matches-reference", test_frontier_root_matches_reference,
	    TEST_TIMEOUT_S);
	test_add(s, "/merkle/frontier/append-proof-verifies", test_frontier_append_proof,
	    TEST_TIMEOUT_S);
	test_add(s, "/merkle/frontier/huge-sizes", test_frontier_huge_sizes, TEST_TIMEOUT_S);
	test_add(s, "/merkle/frontier/full", test_frontier_full, TEST_TIMEOUT_S);
	test_add(s, "/merkle/inclusion/all-small-trees", test_inclusion_all, TEST_TIMEOUT_S);
	test_add(s, "/merkle/inclusion/bad-arguments", test_inclusion_refuses_bad_arguments,
	    TEST_TIMEOUT_S);
	test_add(s, "/merkle/consistency/all-small-trees", test_consistency_all, TEST_TIMEOUT_S);
	test_add(s, "/merkle/consistency/edges", test_consistency_edges, TEST_TIMEOUT_S);

	return test_run(s);
}
