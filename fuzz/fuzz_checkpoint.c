/*
 * fuzz_checkpoint.c — checkpoint_open() and the checkpoint helpers on
 * hostile bytes.
 *
 * The verifying key is fixed: the public half of the test-only key
 * tests/data/crypto-ec-p256.key, so the seed corpus can hold notes that
 * really verify and the fuzzer reaches the signature path.  Invariants: a
 * note that opens has a valid origin, its text is exactly what
 * checkpoint_body() writes for the parsed fields, it opens again with its
 * origin as the expected origin and not under another key name; a note
 * assembled around the input with a made-up signature never opens.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEo6L56ma5v1kowDyUDbHX0Nh+Sa1W\n"
    "CXqt8CYRfVmLPi48MVeyJc1tXxg+WyFzNQtNHPEGQKopTgKKJZTrLmLE0Q==\n"
    "-----END PUBLIC KEY-----\n";

static EVP_PKEY *
fuzz_key(void)
{
	static EVP_PKEY *pub;
	BIO *bio;

	if (pub != NULL)
		return pub;
	if ((bio = BIO_new_mem_buf(fuzz_pub_pem, (int)sizeof(fuzz_pub_pem) - 1)) == NULL)
		abort();
	pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pub == NULL)
		abort();
	return pub;
}

/* What must hold for a note that opened as cp. */
static void
check_opened(const uint8_t *data, size_t size, EVP_PKEY *pub, const struct checkpoint *cp)
{
	struct checkpoint again;
	char *body = NULL;
	size_t body_len = 0;
	int r;

	if (!checkpoint_origin_ok(cp->origin))
		abort();
	if (checkpoint_body(cp, &body, &body_len) != 0)
		abort();
	/* The signed text is the canonical body, then the blank line. */
	if (body_len + 1 >= size || memcmp(data, body, body_len) != 0 || data[body_len] != '\n')
		abort();
	free(body);
	if (checkpoint_open((const char *)data, size, pub, NULL, cp->origin, &again) != 0 ||
	    memcmp(&again, cp, sizeof(again)) != 0)
		abort();
	r = checkpoint_open((const char *)data, size, pub, "fuzz.invalid/other", NULL, &again);
	if (r != SG_ERR_VERIFY)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fake_sig[] = { 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01 };
	uint8_t keyid[CHECKPOINT_KEYID_LEN];
	EVP_PKEY *pub = fuzz_key();
	struct checkpoint cp, sentinel;
	char *str = NULL, *note = NULL;
	size_t note_len = 0;
	int r;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	cp = sentinel;
	r = checkpoint_open((const char *)data, size, pub, NULL, NULL, &cp);
	if (r == 0)
		check_opened(data, size, pub, &cp);
	else if (memcmp(&cp, &sentinel, sizeof(cp)) != 0 ||
	    (r != SG_ERR_PARSE && r != SG_ERR_VERIFY && r != SG_ERR_ALLOC))
		abort();
	/* An explicit key name and expected origin take the other branches. */
	cp = sentinel;
	if (checkpoint_open((const char *)data, size, pub, "log.example.com/signet",
		"log.example.com/signet", &cp) != 0 &&
	    memcmp(&cp, &sentinel, sizeof(cp)) != 0)
		abort();

	/* The input as a C string: an origin, a key name. */
	if ((str = malloc(size + 1)) == NULL)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	if (checkpoint_origin_ok(str)) {
		if (strlen(str) > CHECKPOINT_ORIGIN_MAX || strchr(str, ' ') != NULL ||
		    strchr(str, '+') != NULL)
			abort();
		if (checkpoint_key_id(pub, str, keyid) != 0)
			abort();
	} else if (checkpoint_key_id(pub, str, keyid) != SG_ERR_INVALID_ARGUMENT) {
		abort();
	}

	/* The input as the text of a note with a made-up signature of our
	 * key: it must never open. */
	if (checkpoint_key_id(pub, "log.example.com/signet", keyid) != 0)
		abort();
	r = checkpoint_assemble(str, size, "log.example.com/signet", keyid, fake_sig,
	    sizeof(fake_sig), &note, &note_len);
	if (r == 0) {
		if (note_len > CHECKPOINT_MAX || memcmp(note, data, size) != 0)
			abort();
		if (checkpoint_open(note, note_len, pub, NULL, NULL, &cp) == 0)
			abort();
	} else if (r != SG_ERR_INVALID_ARGUMENT && r != SG_ERR_LIMIT && r != SG_ERR_ALLOC) {
		abort();
	}
	free(note);
	free(str);
	return 0;
}
