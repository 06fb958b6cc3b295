/*
 * fuzz_config.c — config_load() on a hostile configuration file.
 *
 * config_load() takes a path, so each input is written to a file under
 * /dev/shm (mode 0600) and loaded from there.  So that inputs can get past
 * the file references, the first call writes fixtures at fixed paths that
 * the seed corpus names:
 *     /dev/shm/signet-fuzz/sub.pub     an EC P-256 public key (PEM)
 *     /dev/shm/signet-fuzz/chain.pem   a self-signed certificate for it
 *     /dev/shm/signet-fuzz/jwks.json   a JWK Set holding that key (kid "k1")
 * Invariants: a failure leaves *ret NULL; a configuration that loads has
 * its lookups working on its own names and keyids, a parsed key set for
 * each CI issuer and only valid issuer indices in its keys; nothing leaks.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "b64.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXTURE_DIR "/dev/shm/signet-fuzz"

static char input_path[64];

static int
write_pem(const char *name, int (*fn)(BIO *, void *), void *obj)
{
	char tmp[128], path[128];
	BIO *b;
	int ok;

	snprintf(path, sizeof(path), FIXTURE_DIR "/%s", name);
	snprintf(tmp, sizeof(tmp), FIXTURE_DIR "/.%s.%ld", name, (long)getpid());
	if ((b = BIO_new_file(tmp, "w")) == NULL)
		return -1;
	ok = fn(b, obj);
	BIO_free(b);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
pem_pubkey(BIO *b, void *k)
{
	return PEM_write_bio_PUBKEY(b, k);
}

static int
pem_cert(BIO *b, void *x)
{
	return PEM_write_bio_X509(b, x);
}

/* jwks.json: the JWK Set of EC key k, under kid "k1". */
static int
write_jwks(EVP_PKEY *k)
{
	unsigned char pt[65];
	char *x = NULL, *y = NULL, tmp[128];
	size_t len = 0;
	FILE *f;
	int ok = -1;

	snprintf(tmp, sizeof(tmp), FIXTURE_DIR "/.jwks.json.%ld", (long)getpid());
	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len) !=
		1 ||
	    len != sizeof(pt) || b64url_encode(pt + 1, 32, &x) != 0 ||
	    b64url_encode(pt + 33, 32, &y) != 0 || (f = fopen(tmp, "w")) == NULL)
		goto out;
	fprintf(f,
	    "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k1\",\"crv\":\"P-256\",\"x\":\"%s\","
	    "\"y\":\"%s\"}]}\n",
	    x, y);
	if (fclose(f) == 0 && rename(tmp, FIXTURE_DIR "/jwks.json") == 0)
		ok = 0;
out:
	free(x);
	free(y);
	return ok;
}

/* The fixtures, once per process; an existing set is overwritten atomically. */
static void
make_fixtures(void)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	X509_NAME *n;

	if (mkdir(FIXTURE_DIR, 0700) != 0 && access(FIXTURE_DIR, W_OK) != 0)
		abort();
	if ((k = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL ||
	    !X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) == NULL ||
	    !X509_set_pubkey(x, k) || (n = X509_get_subject_name(x)) == NULL ||
	    !X509_NAME_add_entry_by_txt(
		n, "CN", MBSTRING_ASC, (const unsigned char *)"signet fuzz", -1, -1, 0) ||
	    !X509_set_issuer_name(x, n) || X509_sign(x, k, EVP_sha256()) <= 0 ||
	    write_pem("sub.pub", pem_pubkey, k) != 0 || write_pem("chain.pem", pem_cert, x) != 0 ||
	    write_jwks(k) != 0)
		abort();
	X509_free(x);
	EVP_PKEY_free(k);
	snprintf(input_path, sizeof(input_path), FIXTURE_DIR "/config-%ld.json", (long)getpid());
}

static void
check_loaded(const struct agent_config *c)
{
	size_t i;

	for (i = 0; i < c->nkeys; i++)
		if (config_key_index(c, c->keys[i].name) != (long)i || c->keys[i].nchain < 1)
			abort();
	for (i = 0; i < c->nsubmitters; i++) {
		const struct agent_submitter *s;
		size_t j;
		/* Identity entries (certificates) have no pinned key to look up. */
		if (c->submitters[i].pub == NULL)
			continue;
		if ((s = config_submitter_by_keyid(c, c->submitters[i].keyid)) == NULL)
			abort();
		for (j = 0; j < c->submitters[i].nkeys; j++)
			if (!config_submitter_may_use(&c->submitters[i], c->submitters[i].keys[j]))
				abort();
	}
	if (config_key_index(c, "") != -1 || config_submitter_by_keyid(c, "sha256:") != NULL)
		abort();
	for (i = 0; i < c->nci_issuers; i++)
		if (jwks_count(c->ci_issuers[i].keys) < 1 ||
		    c->jwt_issuers[i].keys != c->ci_issuers[i].keys)
			abort();
	for (i = 0; i < c->nkeys; i++) {
		size_t j;
		if (c->keys[i].ci_protected_ref && !c->keys[i].ci_token_required)
			abort();
		for (j = 0; j < c->keys[i].nci_token_issuers; j++)
			if (c->keys[i].ci_token_issuers[j] >= c->nci_issuers)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config *c = NULL;
	char err[512];
	int fd, r;

	err[0] = '\0';
	if (input_path[0] == '\0')
		make_fixtures();
	if (size > CONFIG_FILE_MAX + 1)
		return 0;
	if ((fd = open(input_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	r = config_load(input_path, &c, err, sizeof(err));
	if (r != 0) {
		if (c != NULL || memchr(err, '\0', sizeof(err)) == NULL)
			abort();
	} else {
		if (c == NULL)
			abort();
		check_loaded(c);
		config_free(c);
	}
	unlink(input_path);
	return 0;
}
