/*
 * embed.c — the formats whose output is the signed file itself
 * (docs/formats.md): Authenticode (Windows PE and UEFI images) and kmod
 * (Linux kernel modules).
 *
 * submit-job reads FILE whole, parses it strictly (common/pe.h,
 * common/modsig.h), sends the digest that the agent signs, and once the
 * result is verified, builds the signed file in memory, parses it again
 * and checks the embedded signature as a consumer would before anything is
 * written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "modsig.h"
#include "pe.h"
#include "pkcs7sig.h"
#include "submitter.h"

#define WHY_MAX 256

/* Reads the regular file at path whole (at most max bytes, util.h's
 * read_file()) and its permission bits; prints why not. */
static int
read_whole(const char *path, size_t max, uint8_t **ret, size_t *ret_len, unsigned *ret_mode)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = read_file(path, max, &buf, &len)) != 0) {
		if (r == SG_ERR_LIMIT)
			sj_msg("%s: more than the %zu bytes that this format allows", path, max);
		else if (r == SG_ERR_ALLOC)
			sj_msg("out of memory");
		else
			sj_msg("cannot read %s: %s", path,
			    r == SG_ERR_SYSTEM ? "not a regular file, or unreadable"
					       : sg_strerror(r));
		return r == SG_ERR_ALLOC ? SJ_EXIT_INFRA : SJ_EXIT_USAGE;
	}
	if (stat(path, &st) != 0) {
		sj_msg("cannot stat %s: %s", path, strerror(errno));
		free(buf);
		return SJ_EXIT_USAGE;
	}
	*ret = (uint8_t *)buf;
	*ret_len = len;
	*ret_mode = (unsigned)st.st_mode & 07777;
	return SJ_EXIT_OK;
}

int
embed_load(const char *path, enum sg_format format, int replace, struct embed *ret)
{
	char why[WHY_MAX] = "";
	const uint8_t *sig = NULL;
	size_t sig_len = 0;
	int is_signed = 0, ex;

	memset(ret, 0, sizeof(*ret));
	ret->format = format;
	if ((ex = read_whole(path, format == SG_FORMAT_AUTHENTICODE ? PE_IMAGE_MAX : SJ_MODULE_MAX,
		 &ret->buf, &ret->len, &ret->mode)) != SJ_EXIT_OK)
		return ex;
	/* What the job names as the artifact: the file as given. */
	crypto_sha256(ret->buf, ret->len, ret->file_sha256);
	if (format == SG_FORMAT_AUTHENTICODE) {
		if (pe_parse(ret->buf, ret->len, &ret->pe, why, sizeof(why)) != 0) {
			sj_msg("%s is not a PE image that can be signed: %s", path, why);
			return SJ_EXIT_USAGE;
		}
		is_signed = ret->pe.is_signed;
		if (pe_authenticode_digest(ret->buf, &ret->pe, ret->digest) != 0) {
			sj_msg("cannot hash %s", path);
			return SJ_EXIT_INFRA;
		}
		ret->artifact_sha256 = ret->file_sha256;
		ret->artifact_size = ret->len;
	} else {
		if (modsig_split(ret->buf, ret->len, &ret->unsigned_len, &is_signed, &sig, &sig_len,
			why, sizeof(why)) != 0) {
			sj_msg("%s is not a kernel module that can be signed: %s", path, why);
			return SJ_EXIT_USAGE;
		}
		/* docs/protocol.md §4: the module's digest without any signature. */
		crypto_sha256(ret->buf, ret->unsigned_len, ret->digest);
		ret->artifact_sha256 = ret->digest;
		ret->artifact_size = ret->unsigned_len;
	}
	if (is_signed && !replace) {
		sj_msg("%s is already signed; --replace-signature signs it anew and drops the "
		       "signature it has",
		    path);
		return SJ_EXIT_USAGE;
	}
	return SJ_EXIT_OK;
}

int
embed_finish(const struct embed *e, const uint8_t *sig, size_t sig_len, X509 *leaf, uint8_t **ret,
    size_t *ret_len, const char **ret_why)
{
	static char why[WHY_MAX];
	struct pe_image pe;
	uint8_t *out = NULL, digest[SHA256_LEN];
	const uint8_t *got = NULL;
	size_t out_len = 0, got_len = 0, unsigned_len = 0;
	int is_signed = 0, r = SG_ERR_VERIFY;

	*ret = NULL;
	*ret_len = 0;
	why[0] = '\0';
	*ret_why = why;
	if (e->format == SG_FORMAT_AUTHENTICODE) {
		if ((r = pe_embed(e->buf, &e->pe, sig, sig_len, &out, &out_len)) != 0) {
			snprintf(
			    why, sizeof(why), "cannot embed the signature: %s", sg_strerror(r));
			goto out;
		}
		/* The signed image, read back as a verifier reads it. */
		r = SG_ERR_VERIFY;
		if (pe_parse(out, out_len, &pe, why, sizeof(why)) != 0 || !pe.is_signed ||
		    pe_signature(out, &pe, &got, &got_len) != 0) {
			if (why[0] == '\0')
				snprintf(why, sizeof(why), "the signed image carries no signature");
			goto out;
		}
		if (pe_authenticode_digest(out, &pe, digest) != 0 ||
		    memcmp(digest, e->digest, SHA256_LEN) != 0) {
			snprintf(why, sizeof(why),
			    "the signed image's digest differs from the one signed");
			goto out;
		}
		if (pkcs7sig_authenticode_verify(got, got_len, digest, leaf, why, sizeof(why)) != 0)
			goto out;
	} else {
		if ((r = modsig_append(e->buf, e->unsigned_len, sig, sig_len, &out, &out_len)) !=
		    0) {
			snprintf(
			    why, sizeof(why), "cannot append the signature: %s", sg_strerror(r));
			goto out;
		}
		r = SG_ERR_VERIFY;
		if (modsig_split(out, out_len, &unsigned_len, &is_signed, &got, &got_len, why,
			sizeof(why)) != 0 ||
		    !is_signed) {
			if (why[0] == '\0')
				snprintf(
				    why, sizeof(why), "the signed module carries no signature");
			goto out;
		}
		crypto_sha256(out, unsigned_len, digest);
		if (memcmp(digest, e->digest, SHA256_LEN) != 0) {
			snprintf(why, sizeof(why),
			    "the signed module's digest differs from the one signed");
			goto out;
		}
		if (pkcs7sig_kmod_verify(got, got_len, digest, leaf, why, sizeof(why)) != 0)
			goto out;
	}
	*ret = out;
	*ret_len = out_len;
	out = NULL;
	*ret_why = NULL;
	r = 0;
out:
	free(out);
	return r;
}

void
embed_clear(struct embed *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}
