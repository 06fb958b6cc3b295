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
#include "envelope.h"
#include "err.h"
#include "job.h"
#include "result.h"
#include "resultcheck.h"
#include "util.h"

/* Exit statuses of docs/submit-job.md. */
enum sj_exit {
	SJ_EXIT_OK = 0,       /* signed and verified (or submitted, with -w 0) */
	SJ_EXIT_REFUSED = 1,  /* the agent answered rejected or failed */
	SJ_EXIT_USAGE = 2,    /* usage or configuration error */
	SJ_EXIT_TIMEOUT = 3,  /* no verified result before the deadline */
	SJ_EXIT_INFRA = 4,    /* queue unreachable, auth refused, other trouble */
	SJ_EXIT_MISMATCH = 5, /* attested, bound result whose signature is wrong */
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

#endif
