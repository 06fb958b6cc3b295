/*
 * auditlog.h — reading and checking the audit log (docs/audit.md).
 *
 * The log is a file of records, one per line, each a JSON object written
 * by the agent.  Record n (from 1) is leaf n - 1 of an RFC 6962 Merkle tree
 * whose leaf hash is SHA-256(0x00 || the line without its newline).  Every
 * record starts with
 *
 *     {"seq":<n>,"time":"<RFC 3339>","prev":"<hex root of records 1..n-1>",
 *
 * so that each record commits to the whole log before it: a record that is
 * missing, altered or out of order is found at the first record after it
 * (and the last one by a signed checkpoint).  The members after these are
 * the event's (docs/audit.md lists them).
 *
 * The same checks run in the agent at start-up, in `signet-admin audit
 * verify` and in `signet-verify --log`.
 */
#ifndef SG_AUDITLOG_H
#define SG_AUDITLOG_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "merkle.h"
#include "util.h"

#define AUDITLOG_LINE_MAX    (64 * 1024) /* bytes of one record */
#define AUDITLOG_PROBLEM_MAX 256

/* What a scan found. */
struct auditlog_state {
	uint64_t records;        /* well-formed records read */
	uint64_t bytes;          /* offset just after the last of them */
	struct merkle_tree tree; /* the tree of those records */
	/* A defect stops the scan: */
	uint64_t bad_seq;                   /* 0, or the number of the record at fault */
	uint64_t bad_line;                  /* the line where it was found */
	char problem[AUDITLOG_PROBLEM_MAX]; /* one line saying what is wrong */
	/* Bytes after the last newline, or a line holding NUL bytes and
	 * nothing after it but more such lines: what an append cut short by a
	 * crash leaves.  Not a defect by itself; the scan stops before it.
	 * (torn_len == 0: none.)  A NUL line followed by a complete line
	 * without NUL is a defect: a record in the middle was altered. */
	uint64_t torn_offset;
	uint64_t torn_len;
};

/* Called for each well-formed record, in order; a non-zero return stops the
 * scan and is returned.  line is not NUL-terminated; leaf is its hash; rec
 * is the line as parsed (borrowed for the call). */
typedef int (*auditlog_record_fn)(void *arg, uint64_t seq, const char *line, size_t len,
    const uint8_t leaf[SHA256_LEN], const cJSON *rec);

/*
 * Reads the log from fd (from offset 0, with its own buffer; the fd's
 * offset is not used), checking every record: a JSON object of at most
 * AUDITLOG_LINE_MAX bytes, "seq" equal to its line number, "prev" equal to
 * the root of the records before it.  Before calling fn for record n, the
 * tree is that of records 1..n-1 when `want_roots` sizes are given:
 * ret_roots[i] receives the root of the first want_roots[i] records (for
 * sizes the log reaches).
 *
 * 0 when every complete line is a good record (st->torn_len tells whether
 * a torn tail follows); SG_ERR_VERIFY with bad_seq, bad_line and problem
 * set for a defect; SG_ERR_SYSTEM on a read error; fn's own error.
 */
int auditlog_scan(int fd, auditlog_record_fn fn, void *arg, const uint64_t *want_roots,
    size_t nwant, uint8_t (*ret_roots)[SHA256_LEN], struct auditlog_state *st) SG_MUST_CHECK;

/* auditlog_scan() of the file at path (opened read-only, O_NOFOLLOW). */
int auditlog_scan_file(const char *path, auditlog_record_fn fn, void *arg,
    const uint64_t *want_roots, size_t nwant, uint8_t (*ret_roots)[SHA256_LEN],
    struct auditlog_state *st) SG_MUST_CHECK;

#endif
