/*
 * fuzz_openpgp.c — the OpenPGP signature packet parser and the text
 * canonicalizers (common/openpgp.h) on hostile bytes.
 *
 * Once, the fixture keys (tests/data/openpgp/{ec,rsa}.pub, named by
 * SIGNET_TEST_DATA) get their OpenPGP identities, and SEED_TEXT is hashed
 * in the three canonical forms.  Per input, the bytes are:
 *
 *   - checked as a document signature by each key over each state:
 *     0 or SG_ERR_VERIFY with a reason (SG_ERR_ALLOC aside), and an
 *     accepted packet names that key (openpgp_packet_issuer());
 *   - parsed for their issuer: a packet it refuses is refused by every
 *     check, and by openpgp_clearsign() too;
 *   - fed to the hasher in each form, whole and in two pieces split where
 *     the first byte says: the same outcome either way, and the file's
 *     SHA-256 is the plain SHA-256 of the bytes.
 *
 * The seed corpus (fuzz/corpus/openpgp) holds genuine signatures over
 * SEED_TEXT made with the fixture keys (written by tests/unit/
 * test_openpgp.c, /openpgp/fuzz-seeds), so the fuzzer starts past the
 * signature check, and malformed variants.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "openpgp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* As in tests/unit/test_openpgp.c. */
#define SEED_TEXT   "signet fuzz seed\n"
#define KEY_CREATED 1600000000
#define SIG_CREATED 1700000000

static struct openpgp_key keys[2];
static struct sg_openpgp states[3]; /* binary, text, clearsign */
static int ready;

static void
hash_seed(enum openpgp_canon canon, struct sg_openpgp *st)
{
	struct openpgp_hasher *h = openpgp_hasher_new(canon);
	uint8_t sha[SHA256_LEN];

	if (h == NULL || openpgp_hasher_update(h, SEED_TEXT, strlen(SEED_TEXT)) != 0 ||
	    openpgp_hasher_final(h, st, sha) != 0)
		abort();
	openpgp_hasher_free(h);
}

static void
setup(void)
{
	static const char *const names[] = { "ec", "rsa" };
	static const enum sg_mech mechs[] = { SG_MECH_ECDSA_SHA256, SG_MECH_RSA_PKCS1_SHA256 };
	char path[512];
	EVP_PKEY *pk = NULL;

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/openpgp/%s.pub", SIGNET_TEST_DATA, names[i]);
		if (crypto_load_pubkey(path, &pk) != 0 ||
		    openpgp_key_init(pk, mechs[i], KEY_CREATED, &keys[i]) != 0) {
			fprintf(stderr, "fuzz_openpgp: cannot load %s\n", path);
			abort();
		}
		EVP_PKEY_free(pk);
	}
	hash_seed(OPENPGP_CANON_BINARY, &states[0]);
	hash_seed(OPENPGP_CANON_TEXT, &states[1]);
	hash_seed(OPENPGP_CANON_CLEARSIGN, &states[2]);
	ready = 1;
}

/* The hasher's outcome for data in canon, fed in two pieces at split. */
static int
hash_split(enum openpgp_canon canon, const uint8_t *data, size_t size, size_t split,
    struct sg_openpgp *st, uint8_t sha[SHA256_LEN])
{
	struct openpgp_hasher *h = openpgp_hasher_new(canon);
	int r;

	if (h == NULL)
		abort();
	r = openpgp_hasher_update(h, data, split);
	if (r == 0)
		r = openpgp_hasher_update(h, data + split, size - split);
	if (r == 0)
		r = openpgp_hasher_final(h, st, sha);
	openpgp_hasher_free(h);
	return r;
}

static void
check_hasher(const uint8_t *data, size_t size)
{
	static const enum openpgp_canon canons[] = { OPENPGP_CANON_BINARY, OPENPGP_CANON_TEXT,
		OPENPGP_CANON_CLEARSIGN };
	struct sg_openpgp a, b;
	uint8_t sha_a[SHA256_LEN], sha_b[SHA256_LEN], plain[SHA256_LEN], resumed[SHA256_LEN];
	size_t split = size > 0 ? data[0] % (size + 1) : 0;
	int ra, rb;

	crypto_sha256(data, size, plain);
	for (size_t i = 0; i < 3; i++) {
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		ra = hash_split(canons[i], data, size, size, &a, sha_a);
		rb = hash_split(canons[i], data, size, split, &b, sha_b);
		/* Binary takes anything; text may refuse a CR without LF. */
		if (ra != rb ||
		    (ra != 0 && (ra != SG_ERR_PARSE || canons[i] == OPENPGP_CANON_BINARY)))
			abort();
		if (ra != 0)
			continue;
		if (memcmp(&a, &b, sizeof(a)) != 0 || memcmp(sha_a, plain, SHA256_LEN) != 0 ||
		    memcmp(sha_b, plain, SHA256_LEN) != 0 || a.tail_len > OPENPGP_TAIL_MAX)
			abort();
		if (canons[i] == OPENPGP_CANON_BINARY &&
		    (openpgp_sha256_resume(&a, NULL, 0, resumed) != 0 ||
			memcmp(resumed, plain, SHA256_LEN) != 0))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t fpr[OPENPGP_FPR_LEN];
	char why[OPENPGP_WHY_MAX], *doc = NULL;
	size_t doc_len = 0;
	int issuer, r, accepted = 0;

	if (!ready)
		setup();
	issuer = openpgp_packet_issuer(data, size, fpr);
	if (issuer != 0 && issuer != SG_ERR_PARSE)
		abort();
	for (size_t k = 0; k < 2; k++) {
		for (size_t s = 0; s < 3; s++) {
			int type = states[s].mode == SG_OPENPGP_TEXT ? OPENPGP_SIG_TEXT
								     : OPENPGP_SIG_BINARY;

			why[0] = 'x';
			r = openpgp_verify_document(data, size, keys[k].pub, &states[s], type,
			    SIG_CREATED, why, sizeof(why));
			if (r == 0) {
				if (why[0] != 0 || issuer != 0 ||
				    memcmp(fpr, keys[k].fpr, OPENPGP_FPR_LEN) != 0)
					abort();
				accepted++;
			} else if (r == SG_ERR_VERIFY) {
				if (why[0] == 0 || memchr(why, 0, sizeof(why)) == NULL)
					abort();
			} else if (r != SG_ERR_ALLOC) {
				abort();
			}
		}
	}
	/* One key and one canonical form at most: the binary and text states
	 * of SEED_TEXT differ (CR LF), the clearsign one too. */
	if (accepted > 1)
		abort();
	r = openpgp_clearsign(
	    (const uint8_t *)SEED_TEXT, strlen(SEED_TEXT), data, size, &doc, &doc_len);
	if (r == 0) {
		if (issuer != 0 || doc_len < 100 ||
		    strncmp(doc, "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n", 49) != 0 ||
		    strcmp(doc + doc_len - 28, "-----END PGP SIGNATURE-----\n") != 0)
			abort();
		free(doc);
	} else if (r != SG_ERR_INVALID_ARGUMENT && r != SG_ERR_ALLOC) {
		abort();
	}
	check_hasher(data, size);
	return 0;
}
