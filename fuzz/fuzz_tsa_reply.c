/*
 * fuzz_tsa_reply.c — tsa_reply_check() (agent/tsa.h) on a hostile TSA
 * reply.
 *
 * Once, the fixtures of tests/data/tsa/ (named by SIGNET_TEST_DATA; gen.sh
 * there makes them) are loaded: the root of a throwaway TSA, the
 * TimeStampReq that the replies answer, and the time they were made at,
 * which is the "now" of every check.  The roots' verification time is
 * pinned to it too, so the fixture never expires and a run does not depend
 * on the day.  Per input, the bytes are the reply body.  Invariants:
 *   - the answer is 0, SG_ERR_TIMESTAMP_FAILED or SG_ERR_ALLOC (the query
 *     is a good one, so never SG_ERR_INVALID_ARGUMENT);
 *   - a refusal leaves the token untouched and gives a reason: one line of
 *     printable ASCII (it goes into results and logs), never empty;
 *   - an accepted reply gives a token that is one DER PKCS#7 SignedData,
 *     a genTime within TSA_CLOCK_SKEW_MAX_S of now, a TSA name of
 *     printable ASCII, and no reason; the same reply is refused one second
 *     beyond the allowed skew either way, and with a byte appended.
 * The seed corpus (fuzz/corpus/tsa_reply) holds genuine replies to the
 * fixture query, so the fuzzer starts past the signature check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pkcs7.h>
#include <openssl/x509_vfy.h>

#include "tsa.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes of the fixture file holding the time, a decimal number. */
#define NOW_FILE_MAX 32

static X509_STORE *roots;
static uint8_t *query;
static size_t query_len;
static int64_t now;

static void
setup(void)
{
	char *text = NULL, *q = NULL;
	size_t len = 0;
	uint64_t t = 0;

	if (tsa_load_roots(SIGNET_TEST_DATA "/tsa/root.pem", &roots) != 0 ||
	    read_file(SIGNET_TEST_DATA "/tsa/query.tsq", TSA_QUERY_MAX, &q, &query_len) != 0 ||
	    read_file(SIGNET_TEST_DATA "/tsa/now", NOW_FILE_MAX, &text, &len) != 0 || len < 2 ||
	    text[len - 1] != '\n') {
		fprintf(stderr, "fuzz_tsa_reply: cannot load tests/data/tsa/\n");
		abort();
	}
	text[len - 1] = '\0';
	if (parse_u64(text, INT64_MAX, &t) != 0)
		abort();
	now = (int64_t)t;
	/* Chains are checked at now, not at the time of the run. */
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(roots), (time_t)now);
	query = (uint8_t *)q;
	free(text);
}

/* Whether s, NUL-terminated within max bytes, is printable ASCII. */
static int
is_printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; i < max && s[i] != '\0'; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	}
	return i < max;
}

/* What tsa_reply_check() gives at time t, once the first check passed:
 * 0 or SG_ERR_TIMESTAMP_FAILED (anything else aborts). */
static int
check_at(const uint8_t *reply, size_t len, int64_t t)
{
	struct tsa_token tok;
	char why[TSA_WHY_MAX];
	int r;

	memset(&tok, 0, sizeof(tok));
	r = tsa_reply_check(query, query_len, reply, len, roots, t, &tok, why, sizeof(why));
	if (r != 0 && r != SG_ERR_TIMESTAMP_FAILED && r != SG_ERR_ALLOC)
		abort();
	tsa_token_clear(&tok);
	return r;
}

static void
check_token(const struct tsa_token *tok, const uint8_t *data, size_t size)
{
	const unsigned char *p = tok->der;
	uint8_t *longer;
	PKCS7 *p7;

	if (tok->der == NULL || tok->len == 0 || tok->len > TSA_REPLY_MAX ||
	    tok->time - now > TSA_CLOCK_SKEW_MAX_S || now - tok->time > TSA_CLOCK_SKEW_MAX_S ||
	    tok->tsa[0] == '\0' || !is_printable(tok->tsa, sizeof(tok->tsa)))
		abort();
	if ((p7 = d2i_PKCS7(NULL, &p, (long)tok->len)) == NULL || p != tok->der + tok->len ||
	    !PKCS7_type_is_signed(p7))
		abort();
	PKCS7_free(p7);
	if (check_at(data, size, tok->time + TSA_CLOCK_SKEW_MAX_S + 1) == 0 ||
	    check_at(data, size, tok->time - TSA_CLOCK_SKEW_MAX_S - 1) == 0)
		abort();
	if ((longer = malloc(size + 1)) == NULL)
		abort();
	memcpy(longer, data, size);
	longer[size] = 0;
	if (check_at(longer, size + 1, now) == 0)
		abort();
	free(longer);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t empty[1];
	struct tsa_token tok, untouched;
	char why[TSA_WHY_MAX];
	int r;

	if (roots == NULL)
		setup();
	if (data == NULL)
		data = empty; /* libFuzzer may pass NULL with size 0 */

	memset(&tok, 0xa5, sizeof(tok));
	untouched = tok;
	memset(why, 'x', sizeof(why));
	r = tsa_reply_check(query, query_len, data, size, roots, now, &tok, why, sizeof(why));
	if (r == 0) {
		if (why[0] != '\0')
			abort();
		check_token(&tok, data, size);
		tsa_token_clear(&tok);
		if (tok.der != NULL || tok.len != 0)
			abort();
	} else if (r == SG_ERR_TIMESTAMP_FAILED || r == SG_ERR_ALLOC) {
		if (memcmp(&tok, &untouched, sizeof(tok)) != 0 || why[0] == '\0' ||
		    !is_printable(why, sizeof(why)))
			abort();
	} else {
		abort();
	}
	return 0;
}
