/*
 * audit.h — the agent's audit log, first version: one JSON line per job
 * decision, chained by hash and flushed to disk (fdatasync) before the
 * result is released.
 *
 * Each line is a JSON object R with a final member "hash":
 *     hash = hex(SHA-256(previous hash (32 raw bytes) || R without "hash"))
 * The first record's previous hash is 32 zero bytes.  Removing, editing or
 * reordering a line breaks the chain from that line on.  The writer is one
 * place (audit_append) so that a later version can become a Merkle tree log
 * without touching the pipeline.
 */
#ifndef SG_AUDIT_H
#define SG_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

#define AUDIT_LINE_MAX (64 * 1024)

struct audit;

/* One decision.  Every string is optional (NULL = left out); strings come
 * from verified or syntax-checked input and are JSON-escaped on output. */
struct audit_record {
	const char *event;            /* "signed", "rejected", "failed", "dropped" */
	const char *id;               /* job id (valid syntax) or NULL */
	const char *entry;            /* stream entry id */
	const char *submitter;
	const char *keyid;
	const char *key;
	const char *format;
	const char *artifact;
	const char *artifact_sha256;
	const char *job_sha256;
	const char *code;             /* SPEC §7 code when not signed */
	const char *signature_sha256; /* hex SHA-256 of the signature file */
	const char *expires;          /* the job's expiry (RFC 3339), once parsed */
	int defer_sync;               /* written but not waited for: the next
	                                 durable record makes it durable too */
	const char *signature;        /* "signed": the signature file in base64, so
	                                 that a result lost in a crash can be
	                                 rebuilt without a second HSM signature */
};

/* A record found when opening an existing log; a string member the record
 * lacks is NULL, time is 0 when it is absent or bad.  Borrowed for the
 * duration of the callback. */
struct audit_seen {
	const char *event;
	const char *id;
	const char *job_sha256;
	const char *key;
	const char *submitter;
	const char *code;
	int64_t time;
	int64_t expires;   /* the job's expiry; 0 when the record has none */
};
typedef void (*audit_replay_fn)(void *arg, const struct audit_seen *rec);

/*
 * Opens (creating with mode 0600) the log, verifies the whole hash chain and
 * restores the sequence number and last hash.  A last line cut short by a
 * crash (no final newline) is removed with a warning; any other defect is
 * SG_ERR_CONFIG with the line number in errbuf.  fn (optional) sees every
 * record, so the caller can rebuild its state.
 */
int audit_open(const char *path, audit_replay_fn fn, void *arg, struct audit **ret,
    char *errbuf, size_t errlen) SG_MUST_CHECK;

/* Appends one record and makes it durable.  Thread-safe.  *ret_seq and
 * ret_hash (optional) receive the record's sequence number (from 1) and
 * hash.  SG_ERR_SYSTEM on a write or sync failure. */
int audit_append(struct audit *a, const struct audit_record *rec, uint64_t *ret_seq,
    char ret_hash[SHA256_HEX_LEN + 1]) SG_MUST_CHECK;

/*
 * The last record with this event and job id, as its JSON line (without
 * the newline; caller frees).  Reads the log from disk: meant for the rare
 * path of rebuilding a lost result, not for every job.  SG_ERR_NOT_FOUND,
 * SG_ERR_SYSTEM.
 */
int audit_find(struct audit *a, const char *event, const char *id, char **ret_line,
    size_t *ret_len) SG_MUST_CHECK;

/* Records in the log (the last sequence number). */
uint64_t audit_count(struct audit *a);

void audit_close(struct audit *a);

#endif
