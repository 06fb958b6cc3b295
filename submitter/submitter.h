/*
 * submitter.h — the pieces of submit-job that live in their own files.
 * Internal to the command: nothing outside submitter/ includes this.
 */
#ifndef SG_SUBMITTER_H
#define SG_SUBMITTER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli.h"
#include "client.h"
#include "envelope.h"
#include "err.h"
#include "job.h"
#include "openpgp.h"
#include "pe.h"
#include "result.h"
#include "resultcheck.h"
#include "util.h"

/* Exit statuses of docs/submit-job.md (those of every client command). */
enum sj_exit {
	SJ_EXIT_OK = CLIENT_EXIT_OK,             /* signed and verified (or submitted, -w 0) */
	SJ_EXIT_REFUSED = CLIENT_EXIT_REFUSED,   /* the agent answered rejected or failed */
	SJ_EXIT_USAGE = CLIENT_EXIT_USAGE,       /* usage or configuration error */
	SJ_EXIT_TIMEOUT = CLIENT_EXIT_TIMEOUT,   /* no verified result before the deadline */
	SJ_EXIT_INFRA = CLIENT_EXIT_INFRA,       /* queue unreachable, auth refused, other */
	SJ_EXIT_MISMATCH = CLIENT_EXIT_MISMATCH, /* attested, bound result, wrong signature */
};

#define SJ_PROG "submit-job"

/* One line "submit-job: <text>" on stderr. */
#define sj_msg(...) cli_msg(SJ_PROG, __VA_ARGS__)

/*
 * True if s (len bytes) may go into a job string member: valid UTF-8
 * (no overlong forms, surrogates or code points above U+10FFFF), no NUL,
 * no C0 or C1 control character and no DEL, and at most max bytes.
 */
int sj_string_ok(const char *s, size_t len, size_t max);

/* True for the formats whose output is the signed file itself. */
static inline int
sj_embeds(enum sg_format f)
{
	return f == SG_FORMAT_AUTHENTICODE || f == SG_FORMAT_KMOD;
}

/*
 * ci.c: fills *ret with the "ci" member of docs/protocol.md §3 from the environment of
 * the CI system that runs us (GitLab, Jenkins, GitHub Actions, else
 * "local").  A variable whose value is over CI_FIELD_MAX bytes, holds a
 * control character or is not UTF-8 is left out with a warning on stderr,
 * so the job always parses.  *ret is zeroed first; its strings are owned by
 * it; release with ci_clear().  0 or SG_ERR_ALLOC.
 */
int ci_from_env(struct sg_ci *ret) SG_MUST_CHECK;
void ci_clear(struct sg_ci *ci);

/*
 * embed.c: the formats whose output is the signed file itself
 * (authenticode, kmod; docs/formats.md).
 */
#define SJ_MODULE_MAX ((size_t)1 << 30) /* bytes of a kernel module */

struct embed {
	enum sg_format format;
	uint8_t *buf; /* FILE, whole */
	size_t len;
	unsigned mode;                   /* FILE's permission bits */
	struct pe_image pe;              /* authenticode */
	size_t unsigned_len;             /* kmod: the module without its signature */
	uint8_t digest[SHA256_LEN];      /* what the agent signs: the Authenticode
	                                    image digest, or the module's digest */
	uint8_t file_sha256[SHA256_LEN]; /* FILE as given */
	const uint8_t *artifact_sha256;  /* the job's artifact.sha256 (docs/protocol.md §4) */
	uint64_t artifact_size;
};

/* Reads and parses FILE for format; an image or module that is already
 * signed is refused unless replace.  Prints why not; an exit status. */
int embed_load(const char *path, enum sg_format format, int replace, struct embed *ret);

/* The signed file: the signature embedded (authenticode) or appended
 * (kmod), then parsed back and verified against leaf.  0 and *ret (caller
 * frees), or SG_ERR_VERIFY with *ret_why, or SG_ERR_ALLOC. */
int embed_finish(const struct embed *e, const uint8_t *sig, size_t sig_len, X509 *leaf,
    uint8_t **ret, size_t *ret_len, const char **ret_why) SG_MUST_CHECK;
void embed_clear(struct embed *e);

/*
 * pgp.c: the openpgp format (docs/formats.md).
 */
enum sj_pgp_out {
	SJ_PGP_BINARY = 0, /* FILE.sig: the signature packet */
	SJ_PGP_ARMOR,      /* FILE.asc: the packet, ASCII-armored */
	SJ_PGP_CLEARSIGN,  /* FILE.asc: FILE cleartext-signed */
};

/* FILE hashed once through canon: the job's "openpgp" member, FILE's own
 * SHA-256 and size.  Prints why not; an exit status. */
int sj_pgp_hash(const char *path, enum openpgp_canon canon, struct sg_openpgp *ret_state,
    uint8_t ret_sha256[SHA256_LEN], uint64_t *ret_size);

/* Verifies the agent's signature packet against leaf's public key, st, the
 * type of st's mode and the job's creation time, then makes the output
 * `out` (for SJ_PGP_CLEARSIGN from FILE read again, which must still have
 * file_sha256).  0 and *ret (caller frees), SG_ERR_VERIFY with *ret_why,
 * SG_ERR_ALLOC. */
int sj_pgp_finish(const char *path, enum sj_pgp_out out, const struct sg_openpgp *st,
    int64_t created, const uint8_t file_sha256[SHA256_LEN], const uint8_t *sig, size_t sig_len,
    X509 *leaf, uint8_t **ret, size_t *ret_len, const char **ret_why) SG_MUST_CHECK;

#endif
