/*
 * pgp.c — submit-job's side of the openpgp format (docs/formats.md):
 * FILE hashed once into the job's "openpgp" member (the SHA-256 state
 * after the canonical data's whole blocks, and the rest) and its own
 * SHA-256; the returned signature packet verified against the key before
 * it is written as a binary signature, an armored one, or a cleartext-
 * signed copy of FILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "openpgp.h"
#include "submitter.h"

#define READ_CHUNK (64 * 1024)

int
sj_pgp_hash(const char *path, enum openpgp_canon canon, struct sg_openpgp *ret_state,
    uint8_t ret_sha256[SHA256_LEN], uint64_t *ret_size)
{
	struct openpgp_hasher *h = NULL;
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t size = 0;
	ssize_t n;
	int fd, r, ex = SJ_EXIT_USAGE;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		sj_msg("cannot open %s: %s", path, strerror(errno));
		return SJ_EXIT_USAGE;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		sj_msg("%s is not a regular file", path);
		goto out;
	}
	if ((h = openpgp_hasher_new(canon)) == NULL || (buf = malloc(READ_CHUNK)) == NULL) {
		sj_msg("out of memory");
		ex = SJ_EXIT_INFRA;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, READ_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			sj_msg("cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		size += (uint64_t)n;
		if ((r = openpgp_hasher_update(h, buf, (size_t)n)) != 0)
			break;
	}
	if ((r = openpgp_hasher_final(h, ret_state, ret_sha256)) != 0) {
		if (r == SG_ERR_PARSE)
			sj_msg("%s holds a carriage return that does not end a line: text "
			       "signatures (--text, --clearsign) of it would not verify the same "
			       "everywhere; sign it as binary (without --text or --clearsign)",
			    path);
		else if (r == SG_ERR_LIMIT)
			sj_msg("%s is too large", path);
		else
			sj_msg("cannot hash %s: %s", path, sg_strerror(r));
		goto out;
	}
	*ret_size = size;
	ex = SJ_EXIT_OK;
out:
	openpgp_hasher_free(h);
	free(buf);
	close(fd);
	return ex;
}

/* FILE again, whole, for --clearsign: it must still be what was hashed. */
static int
read_again(const char *path, const uint8_t sha256[SHA256_LEN], uint8_t **ret, size_t *ret_len,
    const char **ret_why)
{
	uint8_t h[SHA256_LEN];
	char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = read_file(path, OPENPGP_CLEARSIGN_TEXT_MAX, &buf, &len)) != 0) {
		*ret_why = r == SG_ERR_LIMIT ? "FILE is too large for a cleartext copy"
					     : "FILE cannot be read again for the cleartext copy";
		return r == SG_ERR_ALLOC ? r : SG_ERR_VERIFY;
	}
	crypto_sha256(buf, len, h);
	if (memcmp(h, sha256, SHA256_LEN) != 0) {
		free(buf);
		*ret_why = "FILE changed since it was hashed; nothing written";
		return SG_ERR_VERIFY;
	}
	*ret = (uint8_t *)buf;
	*ret_len = len;
	return 0;
}

int
sj_pgp_finish(const char *path, enum sj_pgp_out out, const struct sg_openpgp *st, int64_t created,
    const uint8_t file_sha256[SHA256_LEN], const uint8_t *sig, size_t sig_len, X509 *leaf,
    uint8_t **ret, size_t *ret_len, const char **ret_why)
{
	static char why[OPENPGP_WHY_MAX];
	uint8_t *text = NULL;
	char *armored = NULL;
	size_t text_len = 0, n = 0;
	int type = st->mode == SG_OPENPGP_TEXT ? OPENPGP_SIG_TEXT : OPENPGP_SIG_BINARY;
	int r;

	*ret = NULL;
	*ret_len = 0;
	*ret_why = NULL;
	why[0] = '\0';
	/* The agent's packet, checked as gpgv would: our data, our type, our
	 * job's time, the key of the result's certificate. */
	r = openpgp_verify_document(
	    sig, sig_len, X509_get0_pubkey(leaf), st, type, created, why, sizeof(why));
	if (r != 0) {
		*ret_why = why[0] != '\0' ? why : "the signature packet does not verify";
		return r == SG_ERR_ALLOC ? r : SG_ERR_VERIFY;
	}
	switch (out) {
	case SJ_PGP_BINARY:
		if ((*ret = malloc(sig_len)) == NULL)
			return SG_ERR_ALLOC;
		memcpy(*ret, sig, sig_len);
		*ret_len = sig_len;
		return 0;
	case SJ_PGP_ARMOR:
		if ((r = openpgp_armor("SIGNATURE", sig, sig_len, &armored)) != 0)
			return r;
		*ret = (uint8_t *)armored;
		*ret_len = strlen(armored);
		return 0;
	case SJ_PGP_CLEARSIGN:
		if ((r = read_again(path, file_sha256, &text, &text_len, ret_why)) != 0)
			return r;
		r = openpgp_clearsign(text, text_len, sig, sig_len, &armored, &n);
		free(text);
		if (r != 0)
			return r;
		*ret = (uint8_t *)armored;
		*ret_len = n;
		return 0;
	}
	return SG_ERR_INVALID_ARGUMENT;
}
