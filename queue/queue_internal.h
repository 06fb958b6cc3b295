/*
 * queue_internal.h — internal to queue/: what queue_redis.c (the
 * commands), queue_conn.c (the connection) and queue_reply.c (the reply
 * parsers, no I/O) share.  Nothing outside queue/ includes it except the
 * reply fuzz target.
 */
#ifndef SG_QUEUE_INTERNAL_H
#define SG_QUEUE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <openssl/ssl.h>

#include "err.h"
#include "job.h"
#include "queue.h"

#define QUEUE_TIMEOUT_MS_DEFAULT 5000
#define QUEUE_TIMEOUT_MS_MAX     (3600 * 1000)                /* connect/command timeout */
#define QUEUE_TTL_S_MAX          ((int64_t)100 * 365 * 86400) /* a result's lifetime */
#define QUEUE_ERRSTR_LOG_MAX     120                          /* bytes of a server error we log */
#define QUEUE_ARGS_MAX           (8 + QUEUE_CLAIM_MAX)        /* arguments of one command */
/* Commands sent at once: MULTI, a PEXPIRE per claim of a batch, EXEC
 * (queue_refresh_claims) is the most. */
#define QUEUE_PIPELINE_MAX       (QUEUE_CLAIM_MAX + 3)
#define QUEUE_NUM_MAX            24 /* a decimal number as text */
/* Array elements in one reply, all levels together: far above what our
 * commands receive (an XREADGROUP of 2048 entries of 4 elements), far
 * below what would let a server make us allocate gigabytes. */
#define QUEUE_REPLY_ELEMS_MAX    (1 << 20)

#define KEY_JOBS       "jobs"
#define KEY_RESULT     "result:"
#define KEY_DONE       "done:"
#define KEY_DEAD       "dead"
#define KEY_CLAIM      "claim:"
#define QUEUE_HOST_MAX 255
/* The longest key: the prefix, "result:" and a job id. */
#define QUEUE_KEY_MAX  (QUEUE_PREFIX_MAX + sizeof(KEY_RESULT) - 1 + JOB_ID_LEN)

struct qio;

struct queue {
	struct queue_url *url; /* its password has moved to ->password */
	char *password;        /* NULL for none; wiped in queue_close() */
	size_t password_len;
	char prefix[QUEUE_PREFIX_MAX + 1];
	size_t prefix_len;
	char jobs_key[QUEUE_PREFIX_MAX + sizeof(KEY_JOBS)];
	size_t jobs_key_len;
	int timeout_ms;
	struct qio *io;             /* NULL after a failed (re)connect */
	SSL_CTX *tls;               /* for a TLS URL, else NULL */
	char *tls_name;             /* server_name option, or NULL */
	char why[QUEUE_REASON_MAX]; /* the last connect failure, for a person */
};

/* One command as an argument vector. */
struct queue_cmd {
	int argc;
	const char *argv[QUEUE_ARGS_MAX];
	size_t len[QUEUE_ARGS_MAX];
};

/* ---- queue_conn.c ---- */

/* Appends an argument; past QUEUE_ARGS_MAX the command is marked invalid
 * (argc -1) and is never sent. */
void qcmd_arg(struct queue_cmd *cmd, const char *s, size_t len);
void qcmd_str(struct queue_cmd *cmd, const char *s);
/* The error of a call that got no reply; the context is unusable after it. */
int qconn_error(const struct queue *q) SG_MUST_CHECK;
/* 0 while the context is usable, else SG_ERR_QUEUE_UNAVAILABLE. */
int qconn_ready(const struct queue *q) SG_MUST_CHECK;
/* Sends n (<= QUEUE_PIPELINE_MAX) commands at once and reads their n
 * replies into reps (all NULL on error; error replies are replies). */
int qconn_pipeline(
    struct queue *q, struct queue_cmd *cmds, size_t n, redisReply **reps) SG_MUST_CHECK;
int qconn_command(struct queue *q, struct queue_cmd *cmd, redisReply **ret) SG_MUST_CHECK;
int qconn_set_timeout(struct queue *q, int64_t ms) SG_MUST_CHECK;

/* ---- queue_reply.c: parsers, no I/O ---- */

void qreply_free_all(redisReply **reps, size_t n);
/* Whether a string reply starts with p. */
int qreply_has_prefix(const redisReply *rep, const char *p);
/* An error reply (-ERR ...) as our error code (SG_ERR_QUEUE_AUTH,
 * SG_ERR_QUEUE_UNAVAILABLE for a failover or a loading server,
 * SG_ERR_QUEUE_PROTOCOL otherwise). */
int qreply_error(const redisReply *rep); /* logs the server's words (escaped) */
/* 0 if rep has the type; the error reply's code or SG_ERR_QUEUE_PROTOCOL. */
int qreply_expect(const redisReply *rep, int type) SG_MUST_CHECK;
int qreply_is_status(const redisReply *rep, const char *s);
/* 1..max printable ASCII bytes, no space. */
int queue_is_token(const char *s, size_t max);
/* One stream entry [id, [field, value, ...]] into *e (see queue_reply.c). */
int qreply_entry(const redisReply *rep, struct queue_entry *e) SG_MUST_CHECK;
/* An XREADGROUP reply for the stream jobs_key: at most count entries, or
 * none (nil).  SG_ERR_QUEUE_PROTOCOL, SG_ERR_ALLOC, an error reply's code;
 * *ret and *ret_n are set only on success (caller frees with
 * queue_entries_free()). */
int qreply_read(const redisReply *rep, const char *jobs_key, size_t jobs_key_len, size_t count,
    struct queue_entry **ret, size_t *ret_n) SG_MUST_CHECK;
/* One XPENDING row: [id, consumer, idle ms, deliveries]. */
/* An XRANGE reply of at most count entries (queue_range()). */
int qreply_range(
    const redisReply *rep, size_t count, struct queue_entry **ret, size_t *ret_n) SG_MUST_CHECK;
int qreply_pending_row(const redisReply *row, const char **ret_id, size_t *ret_len,
    uint64_t *ret_deliveries) SG_MUST_CHECK;
/* The same row in full, into *ret (the consumer made printable). */
int qreply_pending_detail(const redisReply *row, struct queue_pending *ret) SG_MUST_CHECK;
/* An XINFO CONSUMERS reply: an array of at most QUEUE_CONSUMERS_MAX
 * consumers kept (*ret_truncated for more), each a list of field/value
 * pairs of which "name" (string), "pending" and "idle" (integers >= 0)
 * are required once each; other fields (Redis 7.2's "inactive") are
 * skipped.  SG_ERR_NOT_FOUND for the error Redis gives when the stream or
 * the group is missing; *ret (caller frees) and *ret_n set on success
 * only. */
#define QUEUE_CONSUMER_FIELDS_MAX 16 /* elements of one consumer's field list */
int qreply_consumers(const redisReply *rep, struct queue_consumer **ret, size_t *ret_n,
    int *ret_truncated) SG_MUST_CHECK;
/* An XPENDING summary reply [count, first id, last id, per consumer]: the
 * count, and (ret_min_id not NULL: QUEUE_ENTRY_ID_MAX + 1 bytes) the
 * smallest pending id, "" when none.  SG_ERR_NOT_FOUND as above.  Outputs
 * set only on success. */
int qreply_pending_summary(
    const redisReply *rep, uint64_t *ret_count, char *ret_min_id) SG_MUST_CHECK;
/* Copies a string reply into out (cap > 0 bytes, cut to cap - 1), bytes
 * outside printable ASCII or blanks as '?': names from Redis for messages. */
void qreply_copy_printable(const redisReply *s, char *out, size_t cap);
/* Whether an error reply says the stream or the group does not exist. */
int qreply_is_no_group(const redisReply *rep);

/* The fate of a submitted entry (queue_entry_state()).  Both ids must pass
 * queue_is_entry_id(); <0, 0, >0 as strcmp, comparing the numbers. */
int queue_entry_id_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* An XINFO GROUPS reply: at most QUEUE_GROUPS_MAX groups, each a flat list
 * of at most QUEUE_XINFO_FIELDS_MAX field/value pairs.  *ret_found 1 with
 * the group's last-delivered-id in ret_id when the group is there.  An
 * error reply "no such key" counts as no group. */
#define QUEUE_XINFO_FIELDS_MAX 32
int qreply_group_last_id(const redisReply *rep, const char *group,
    char ret_id[QUEUE_ENTRY_ID_MAX + 1], int *ret_found) SG_MUST_CHECK;
/* An XPENDING <key> <group> <id> <id> 1 reply: none or one row for
 * entry_id; fills pending, consumer and deliveries of *st. */
int qreply_entry_pending(
    const redisReply *rep, const char *entry_id, struct queue_entry_state *st) SG_MUST_CHECK;

/* The milliseconds part of an entry id "<ms>-<seq>" (SG_ERR_QUEUE_PROTOCOL
 * when it is not one, or the number exceeds INT64_MAX). */
int queue_entry_id_ms(const char *id, size_t len, int64_t *ret) SG_MUST_CHECK;
/* XRANGE ... COUNT 1: the id of its entry, or "" for none. */
int qreply_first_id(const redisReply *rep, char *ret_id) SG_MUST_CHECK;

/*
 * Bounds one RESP2 reply before anything allocates for it (hiredis 0.14's
 * reader allocates an array's element table as soon as it reads the
 * count, whatever the count).  Walks the reply at buf: at most elems_max
 * array elements in all, bulk strings of at most bulk_max bytes, nesting
 * at most QUEUE_RESP_DEPTH_MAX, simple lines of at most
 * QUEUE_RESP_LINE_MAX bytes.  The reply's length when it is complete and
 * within the bounds, 0 when more bytes are needed, -1 when it is malformed
 * or over a bound.
 */
#define QUEUE_RESP_DEPTH_MAX 8    /* nesting of arrays in one reply */
#define QUEUE_RESP_LINE_MAX  1024 /* bytes of a status, error or number line */
long queue_resp_scan(const uint8_t *buf, size_t len, size_t elems_max, size_t bulk_max);

#endif
