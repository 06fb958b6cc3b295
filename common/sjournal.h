/*
 * sjournal.h — the signer's journal (docs/security.md, "The signer's
 * journal").
 *
 * signet-signer appends one record for every signature it makes, before
 * the signature leaves its process.  A record is one line of JSON in
 * exactly this form (members in this order, no spaces):
 *
 *     {"seq":<n>,"time":"<RFC 3339>","key":"<key name>","job":"<32 hex>"|null,
 *      "digest":"<64 hex>","prev":"<64 hex>"}
 *
 * seq counts from 1; key is the configured key's name ("attestation_key"
 * for the attestation key); job is the job id the agent said the signature
 * was for (null for result attestations and checkpoints); digest is the
 * SHA-256 digest that was signed; prev is the SHA-256 of the previous
 * record's line without its newline (64 zeros for the first), so that a
 * removed, altered or reordered record breaks the chain.  The file is the
 * signer's, not the agent's: the agent has no right to write it when the
 * two run as different users, and `signet-admin audit verify
 * --signer-journal` checks that every job signature it lists is in the
 * agent's audit log.
 *
 * Parsers do no I/O except sjournal_scan(), which reads a file descriptor.
 */
#ifndef SG_SJOURNAL_H
#define SG_SJOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

#define SJOURNAL_LINE_MAX   512 /* bytes of one record, newline included */
#define SJOURNAL_KEY_MAX    128 /* bytes of a key name in a record */
#define SJOURNAL_ID_HEX_LEN 32  /* hex characters of a job id */
#define SJOURNAL_ATTEST_KEY "attestation_key"

struct sjournal_rec {
	uint64_t seq;
	int64_t time;
	char key[SJOURNAL_KEY_MAX + 1];
	int has_job;
	char job[SJOURNAL_ID_HEX_LEN + 1];
	uint8_t digest[SHA256_LEN];
	uint8_t prev[SHA256_LEN];
};

/*
 * Formats a record with its newline into out (SJOURNAL_LINE_MAX bytes);
 * job is 16 bytes or NULL.  *ret_len is set on success.  SG_ERR_LIMIT (key
 * name too long), SG_ERR_INVALID_ARGUMENT (key name with a character other
 * than [A-Za-z0-9._-]).
 */
int sjournal_format(char *out, size_t *ret_len, uint64_t seq, int64_t time, const char *key,
    const uint8_t *job, const uint8_t digest[SHA256_LEN],
    const uint8_t prev[SHA256_LEN]) SG_MUST_CHECK;

/* Parses one line (without its newline) in exactly the form above.
 * SG_ERR_PARSE; *ret is set only on success. */
int sjournal_parse(const char *line, size_t len, struct sjournal_rec *ret) SG_MUST_CHECK;

/* Called for each record in order; a non-zero return stops the scan. */
typedef int (*sjournal_fn)(void *arg, const struct sjournal_rec *rec);

/*
 * Reads every record from fd (from its current offset), checking the form,
 * that seq counts 1, 2, ... and that each prev is the hash of the line
 * before.  fn may be NULL.  On success *ret_count and ret_last (the hash
 * of the last line; zeros for an empty journal) are set.  A last line
 * without its newline (a write cut short) is a defect like any other.
 * SG_ERR_PARSE with "line N: what" in why, SG_ERR_SYSTEM, or fn's value.
 */
int sjournal_scan(int fd, sjournal_fn fn, void *arg, uint64_t *ret_count,
    uint8_t ret_last[SHA256_LEN], char *why, size_t whylen) SG_MUST_CHECK;

#endif
