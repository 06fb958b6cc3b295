/*
 * queue.h — the Redis queue of docs/protocol.md §7, as seen by submitters and agents.
 *
 *   <prefix>jobs            stream, field "env" = job envelope (XADD)
 *   group "agents"          consumer group on <prefix>jobs, created at id 0
 *   <prefix>result:<id>     string with TTL: the result envelope
 *   <prefix>done:<id>       list with TTL: one element per result write
 *   <prefix>claim:<id>      string with TTL: the process signing job <id>
 *   <prefix>dead            stream of dead letters (fields entry, env, reason,
 *                           deliveries)
 *
 * Everything read from Redis is hostile: reply types and element counts are
 * checked before use.  A struct queue wraps one connection and is used by one
 * thread at a time.  Calls that lose the connection return
 * SG_ERR_QUEUE_UNAVAILABLE; queue_reconnect() then tries again (the agent
 * loops with backoff).
 */
#ifndef SG_QUEUE_H
#define SG_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define QUEUE_URL_MAX         1024
#define QUEUE_PREFIX_MAX      64
#define QUEUE_PASSWORD_MAX    512
#define QUEUE_ENTRY_ID_MAX    64 /* bytes of a stream entry id "ms-seq" */
#define QUEUE_READ_COUNT_MAX  256
#define QUEUE_CONSUMER_MAX    256 /* bytes of a consumer name: printable ASCII, no space */
#define QUEUE_DEFAULT_PREFIX  "signet:"
#define QUEUE_SENTINELS_MAX   8
#define QUEUE_MASTER_NAME_MAX 64
#define QUEUE_GROUP           "agents"
/* Bytes of one reply the queue buffers at most: a server announcing or
 * sending more is refused (SG_ERR_QUEUE_PROTOCOL) before more is read.  Far
 * above any valid reply (QUEUE_READ_COUNT_MAX entries of envelopes of at
 * most 64 KiB, results read up to QUEUE_RESULT_READ_MAX), far below what
 * would let a hostile server make us buffer gigabytes. */
#define QUEUE_REPLY_BYTES_MAX (64 * 1024 * 1024)

struct queue;
struct queue_entry;

/* A parsed queue URL: redis://[user:password@]host:port[/db], unix:///path,
 * or sentinel://[user:password@]host:port,host:port/mastername[/db]; with
 * TLS rediss://... and sentinel+tls://... (is_tls). */
struct queue_url {
	int is_unix;
	int is_tls;     /* rediss:// or sentinel+tls:// */
	char *host;     /* TCP host, or NULL */
	int port;       /* TCP port (default 6379) */
	char *path;     /* socket path for unix, or NULL */
	char *user;     /* NULL when absent */
	char *password; /* NULL when absent; wiped by queue_url_free */
	int db;         /* 0 when absent */
	/* sentinel://[user:password@]host:port[,host:port...]/master[/db]:
	 * the master is asked of the sentinels at every (re)connect. */
	int is_sentinel;
	char *master; /* master name, for sentinel URLs */
	size_t nsentinels;
	struct queue_url *sentinels[QUEUE_SENTINELS_MAX]; /* host and port of each */
};
/* Parses with a strict RFC 3986 parser.  SG_ERR_PARSE for anything else
 * (other schemes, query or fragment, db out of 0..15 ...).  Also
 * SG_ERR_PARSE: more than QUEUE_URL_MAX bytes, bytes outside printable
 * ASCII, port 0, a password over QUEUE_PASSWORD_MAX, a unix path that does
 * not fit sun_path.  An IPv6 host comes without brackets ("fe80::1%eth0").
 * An empty user or password counts as absent.  unix:// URLs carry no
 * credentials: the password comes from the password file. *ret is NULL on
 * error; SG_ERR_INVALID_ARGUMENT for NULL arguments. */
int queue_url_parse(const char *url, struct queue_url **ret) SG_MUST_CHECK;
void queue_url_free(struct queue_url *u);

/* TLS settings for a rediss:// or sentinel+tls:// URL (all optional). */
struct queue_tls_opts {
	const char *ca_file;     /* PEM CA certificates; NULL: the system's trust store */
	const char *cert_file;   /* PEM client certificate (chain), with key_file */
	const char *key_file;    /* PEM client key: a secret file (mode 0600) */
	const char *server_name; /* name the certificate must carry; NULL: the URL's host */
};

struct queue_opts {
	const char *url;           /* required */
	const char *password_file; /* optional; overrides a password in the URL */
	const char *prefix;        /* NULL: QUEUE_DEFAULT_PREFIX */
	int timeout_ms;            /* connect and command timeout; 0: 5000; max 3600000 */
	/* NULL: defaults.  Any member set for a URL without TLS is SG_ERR_CONFIG. */
	const struct queue_tls_opts *tls;
};

/*
 * Connects (and AUTH/SELECT as the URL says), then PINGs, so that a server
 * wanting a password says so here.  SG_ERR_PARSE/SG_ERR_CONFIG for a bad
 * URL or prefix (1..QUEUE_PREFIX_MAX printable ASCII, no space),
 * SG_ERR_SECRET_FILE, SG_ERR_QUEUE_UNAVAILABLE, SG_ERR_QUEUE_AUTH (any
 * error reply to AUTH, NOAUTH to the PING), SG_ERR_QUEUE_PROTOCOL (not a
 * Redis).  SG_ERR_CONFIG also for: a missing/empty password file, a
 * password over QUEUE_PASSWORD_MAX, a user without a password.  The
 * options are copied; the password is kept (for queue_reconnect) until
 * queue_close, which wipes it.  Writes to a dead connection never raise
 * SIGPIPE.  With TLS, the server's certificate is verified (CA file or the
 * system's store, the host name or IP address); a failed handshake is
 * SG_ERR_QUEUE_UNAVAILABLE with the reason in why (SG_ERR_QUEUE_PROTOCOL
 * when the server does not speak TLS at all: it answers something else, or
 * nothing within the timeout), a bad CA, certificate or key file
 * SG_ERR_CONFIG.
 *
 * Every call below returns SG_ERR_INVALID_ARGUMENT for bad arguments
 * (NULL, a job id that is not JOB_ID_LEN lowercase hex ...),
 * SG_ERR_QUEUE_UNAVAILABLE once the connection is lost (sticky until
 * queue_reconnect), SG_ERR_QUEUE_AUTH for NOAUTH/WRONGPASS/NOPERM and
 * SG_ERR_QUEUE_PROTOCOL for any other error reply (a key of the wrong
 * type, say) or a reply of the wrong shape.
 */
int queue_open(const struct queue_opts *opts, struct queue **ret) SG_MUST_CHECK;
/*
 * queue_open(), and on failure a one-line reason for a person in why
 * (whylen bytes; "" when there is none): the system's words for a failed
 * connection ("Connection refused", "No such file or directory",
 * "Permission denied"), the server's for a refused AUTH ("AUTH refused:
 * WRONGPASS ..."), escaped and cut.  Never the password.
 */
#define QUEUE_REASON_MAX 256
int queue_open_reason(
    const struct queue_opts *opts, struct queue **ret, char *why, size_t whylen) SG_MUST_CHECK;
/* Drops the connection and connects again; same errors as queue_open. */
int queue_reconnect(struct queue *q) SG_MUST_CHECK;
void queue_close(struct queue *q);
/* Why the last connect of q failed (as queue_open_reason()), or "". */
const char *queue_conn_why(const struct queue *q);
/* The URL for messages: the password, if any, replaced by "***", bytes
 * outside printable ASCII by '?', cut to outlen - 1 bytes. */
void queue_url_display(const char *url, char *out, size_t outlen);

/* --- submitter --- */

/* XLEN <prefix>jobs: entries waiting or in work (backpressure). */
int queue_length(struct queue *q, uint64_t *ret) SG_MUST_CHECK;

/* WAIT <replicas> <timeout_ms>: how many replicas acknowledged the writes
 * of this connection so far (*ret_acked). */
int queue_wait_replicas(
    struct queue *q, int replicas, int timeout_ms, int *ret_acked) SG_MUST_CHECK;

/* XADD <prefix>jobs * env <envelope>. */
int queue_submit(struct queue *q, const char *env, size_t env_len) SG_MUST_CHECK;
/* BLPOP <prefix>done:<id> with a timeout (ms, rounded up to Redis's
 * resolution; must be > 0).  0 when woken, SG_ERR_TIMEOUT. */
int queue_wait_done(struct queue *q, const char *job_id, int timeout_ms) SG_MUST_CHECK;
/* The value of <prefix>result:<id>, read with GETRANGE so that at most
 * QUEUE_RESULT_READ_MAX + 1 bytes cross the wire whatever an attacker
 * stored there.  SG_ERR_NOT_FOUND when absent (or empty), SG_ERR_LIMIT when
 * longer than QUEUE_RESULT_READ_MAX.  The value is NUL-terminated; caller
 * frees.  *ret NULL and *ret_len 0 on error. */
#define QUEUE_RESULT_READ_MAX     (64 * 1024) /* = ENVELOPE_MAX_BYTES */
#define QUEUE_RESULT_READ_MAX_STR "65536"     /* last byte offset read */
int queue_get_result(
    struct queue *q, const char *job_id, char **ret, size_t *ret_len) SG_MUST_CHECK;

/*
 * XRANGE <prefix>jobs <start> + COUNT <count>: the entries from start on
 * ("-" for the first; "(<entry id>" for those after one), in stream order,
 * with env NULL for entries of the wrong shape.  count 1..
 * QUEUE_READ_COUNT_MAX.  Caller frees with queue_entries_free().  For
 * signet-approve's list and the agent's look-up of a pending job.
 */
int queue_range(struct queue *q, const char *start, size_t count, struct queue_entry **ret,
    size_t *ret_n) SG_MUST_CHECK;

/* --- submitter: what became of a submitted entry --- */

/* queue_submit() that also returns the entry id that XADD assigned. */
int queue_submit_entry(struct queue *q, const char *env, size_t env_len,
    char ret_id[QUEUE_ENTRY_ID_MAX + 1]) SG_MUST_CHECK;

/* Whether the group "agents" has delivered an entry to an agent. */
struct queue_entry_state {
	int group;     /* the group exists on <prefix>jobs */
	int delivered; /* its last-delivered-id is at or past the entry */
	int pending;   /* delivered and not acknowledged (in the group's PEL) */
	char consumer[QUEUE_CONSUMER_MAX + 1]; /* pending: the consumer holding it */
	uint64_t deliveries;                   /* pending: times delivered */
};
/*
 * XINFO GROUPS <prefix>jobs and XPENDING <prefix>jobs agents <id> <id> 1,
 * pipelined.  A missing group (or stream) is group 0, delivered 0; more
 * than QUEUE_GROUPS_MAX groups, or any shape Redis would not produce, is
 * SG_ERR_QUEUE_PROTOCOL; a refusal (ACL) SG_ERR_QUEUE_AUTH.
 */
#define QUEUE_GROUPS_MAX 1024
int queue_entry_state(
    struct queue *q, const char *entry_id, struct queue_entry_state *ret) SG_MUST_CHECK;
/* XDEL <prefix>jobs <id>: *ret_removed 1 when the entry was still there. */
int queue_entry_remove(struct queue *q, const char *entry_id, int *ret_removed) SG_MUST_CHECK;

/* --- agent --- */

/* The entry with this id (XRANGE id id), or SG_ERR_NOT_FOUND. */
int queue_get_entry(struct queue *q, const char *entry_id, struct queue_entry **ret) SG_MUST_CHECK;

/*
 * Replaces a result only if it is still the one read before: WATCH
 * <prefix>result:<id>, GET it and compare with expected (expected_len
 * bytes), then MULTI, SET ... EX ttl, LPUSH <prefix>done:<id> 1, EXPIRE,
 * EXEC.  0 when written; SG_ERR_EXISTS when the value was another (or
 * changed before EXEC): read it again and decide again.  A pending result
 * (docs/approvals.md) is updated this way, so that two agents counting two
 * approvals at once never lose one.
 */
int queue_replace_result(struct queue *q, const char *job_id, const char *env, size_t env_len,
    int64_t ttl_s, const char *expected, size_t expected_len) SG_MUST_CHECK;

/* XGROUP CREATE <prefix>jobs agents 0 MKSTREAM; an existing group is fine. */
int queue_group_create(struct queue *q) SG_MUST_CHECK;

struct queue_entry {
	char id[QUEUE_ENTRY_ID_MAX + 1];
	char *env;           /* value of field "env", NULL when the entry has none */
	size_t env_len;      /* may exceed any limit: the caller checks */
	uint64_t deliveries; /* times delivered, this delivery included (1 for a
	                        first read; from XPENDING for a reclaimed entry) */
};

/*
 * XREADGROUP GROUP agents <consumer> COUNT <count> BLOCK <block_ms>
 * STREAMS <prefix>jobs >.  Returns 0 with *ret_n entries (0 on timeout).
 * Entries whose shape is wrong (no "env" field, odd field list, non-string
 * values) come back with env NULL so that the caller can account for them
 * and acknowledge them.  Caller frees with queue_entries_free().
 * count is clamped to QUEUE_READ_COUNT_MAX (0 is SG_ERR_INVALID_ARGUMENT);
 * block_ms 0 does not block (BLOCK 0, "for ever", is never sent).  The
 * consumer is 1..QUEUE_CONSUMER_MAX printable ASCII bytes, no space.  A
 * reply Redis would never produce (an entry id that is not "<ms>-<seq>" of
 * at most QUEUE_ENTRY_ID_MAX bytes, more entries than asked, another
 * stream) fails the whole read with SG_ERR_QUEUE_PROTOCOL.  *ret is NULL
 * when *ret_n is 0.
 */
int queue_read(struct queue *q, const char *consumer, size_t count, int block_ms,
    struct queue_entry **ret, size_t *ret_n) SG_MUST_CHECK;
void queue_entries_free(struct queue_entry *e, size_t n);

/*
 * Publishes a result: SET <prefix>result:<id> <env> EX ttl [NX], then, if
 * the SET took place, LPUSH <prefix>done:<id> 1 and EXPIRE it ttl.
 * Returns 0 when written, SG_ERR_EXISTS when nx and a result was there
 * (nothing is pushed then).  ttl_s is 1..100 years.
 */
int queue_put_result(struct queue *q, const char *job_id, const char *env, size_t env_len,
    int64_t ttl_s, int nx) SG_MUST_CHECK;

/*
 * Crash recovery: entries that have been pending (delivered, not
 * acknowledged) for at least min_idle_ms with any consumer — a dead agent's —
 * are claimed for `consumer` (XPENDING ... IDLE, then XCLAIM), at most
 * `count` (<= QUEUE_CLAIM_MAX) at a time, with their delivery counts.
 * Entries deleted from the stream meanwhile are left out (XCLAIM drops
 * them from the pending list).  When the XCLAIM's reply is refused (an
 * entry over the reply bound), the entries are claimed again one at a
 * time, after a reconnect, and one whose reply is refused again goes to
 * <prefix>dead by its id (queue_dead_letter(), reason "unreadable entry").
 * Caller frees with queue_entries_free().
 */
#define QUEUE_CLAIM_MAX 64
int queue_reclaim(struct queue *q, const char *consumer, int64_t min_idle_ms, size_t count,
    struct queue_entry **ret, size_t *ret_n) SG_MUST_CHECK;

/* Resets the idle time of entries that `consumer` is working on (XCLAIM
 * ... 0 <ids> JUSTID, which does not count as a delivery), so that no other
 * agent reclaims them meanwhile.  n <= QUEUE_CLAIM_MAX. */
int queue_touch(
    struct queue *q, const char *consumer, const char *const *ids, size_t n) SG_MUST_CHECK;

/* Moves an entry to the dead-letter stream: XADD <prefix>dead * entry <id>
 * reason <reason> deliveries <n> [env <env>], then XACK + XDEL. */
int queue_dead_letter(
    struct queue *q, const struct queue_entry *e, const char *reason) SG_MUST_CHECK;

/*
 * Cross-agent claims (docs/reliability.md).  <prefix>claim:<id> holds the
 * consumer identity of the process signing job <id> ("name@host/pid") with
 * a short TTL that the process refreshes while it works on the job; once
 * the signed result is released it holds QUEUE_CLAIM_DONE<owner> until the
 * job expires, so that no other agent signs the job again.
 *
 * queue_claim_job: SET <prefix>claim:<id> <owner> NX EX ttl_s.  0 when the
 * claim is ours (new, or ours already: then refreshed as below),
 * SG_ERR_EXISTS when another value is there (cut to owner_len - 1
 * printable bytes in ret_owner: another process's identity, or
 * QUEUE_CLAIM_DONE and the identity of the one that released the result).
 * owner: 1..QUEUE_CONSUMER_MAX printable bytes, no space.
 */
#define QUEUE_CLAIM_DONE "done:"
int queue_claim_job(struct queue *q, const char *job_id, const char *owner, int64_t ttl_s,
    char *ret_owner, size_t owner_len) SG_MUST_CHECK;

/*
 * Refreshes the claims of n (<= QUEUE_CLAIM_MAX) jobs that are still
 * owner's: WATCH and MGET them, then MULTI, PEXPIRE ttl_s of each one whose
 * value is owner, EXEC (two round trips; the EXEC is repeated when a claim
 * changed in between).  ret_ours[i] tells whether job_ids[i] is still
 * owner's.  A claim that is another's is left as it is.
 */
int queue_refresh_claims(struct queue *q, const char *owner, const char *const *job_ids, size_t n,
    int64_t ttl_s, int *ret_ours) SG_MUST_CHECK;
/* The same for one job: 0 when it is still owner's (refreshed),
 * SG_ERR_EXISTS when it is not. */
int queue_refresh_claim(
    struct queue *q, const char *job_id, const char *owner, int64_t ttl_s) SG_MUST_CHECK;

/*
 * Releases a signed result only while owner holds the job's claim: WATCH
 * <prefix>claim:<id>, GET it and compare with owner (one round trip), then
 * MULTI, SET <prefix>result:<id> <env> EX ttl_s, LPUSH <prefix>done:<id> 1,
 * EXPIRE it, SET the claim to QUEUE_CLAIM_DONE<owner> EX done_ttl_s, and
 * with entry_id (else NULL) XACK and XDEL of that stream entry, EXEC (the
 * second).  0 when released (and acknowledged); SG_ERR_EXISTS when the
 * claim is not owner's (expired: "-" in ret_owner; another value: that
 * value, printable) or changed before the EXEC ("?"): nothing is written
 * or acknowledged then.
 */
int queue_release_result(struct queue *q, const char *job_id, const char *entry_id, const char *env,
    size_t env_len, int64_t ttl_s, const char *owner, int64_t done_ttl_s, char *ret_owner,
    size_t owner_len) SG_MUST_CHECK;

/*
 * The two halves of queue_release_result(), for a caller that checks the
 * claim early and releases later on the same connection (one round trip
 * each): queue_watch_claim() WATCHes <prefix>claim:<id> and GETs it; 0
 * when it is owner's, and the connection keeps the WATCH until
 * queue_release_watched() (its MULTI ... EXEC; SG_ERR_EXISTS with "?" when
 * the claim changed meanwhile: nothing written) or queue_unwatch(), one of
 * which must come before any other command on q.  SG_ERR_NOT_FOUND ("-")
 * when there is no claim, SG_ERR_EXISTS with the holder when it is
 * another's: no WATCH is left then.
 */
int queue_watch_claim(struct queue *q, const char *job_id, const char *owner, char *ret_owner,
    size_t owner_len) SG_MUST_CHECK;
int queue_release_watched(struct queue *q, const char *job_id, const char *entry_id,
    const char *env, size_t env_len, int64_t ttl_s, const char *owner, int64_t done_ttl_s,
    char *ret_owner, size_t owner_len) SG_MUST_CHECK;
void queue_unwatch(struct queue *q);

/*
 * How old the work in the stream is, for the metrics (cheap: XPENDING's
 * summary and XINFO GROUPS pipelined, then XRANGE ... COUNT 1).  Times are
 * the milliseconds part of entry ids, which Redis sets from its clock when
 * the entry is added (XADD *); 0 when there is no such entry.
 * SG_ERR_NOT_FOUND when the group does not exist (yet).
 */
struct queue_oldest {
	uint64_t pending;       /* entries delivered and not acknowledged */
	int64_t pending_ms;     /* the oldest of those */
	int64_t undelivered_ms; /* the oldest entry not delivered to any agent yet */
};
int queue_oldest(struct queue *q, struct queue_oldest *ret) SG_MUST_CHECK;

/* XACK <prefix>jobs agents <id> then XDEL <prefix>jobs <id> (pipelined).
 * Acknowledging an id that is not pending is fine. */
int queue_ack(struct queue *q, const char *entry_id) SG_MUST_CHECK;

/* --- operators: signet-admin status and job (docs/admin.md) --- */

/* JOB_ID_LEN lowercase hex characters (NUL-terminated). */
int queue_is_job_id(const char *id);
/* A stream entry id as Redis writes it: "<ms>-<seq>", both decimal, at
 * most QUEUE_ENTRY_ID_MAX bytes. */
int queue_is_entry_id(const char *s, size_t len);

#define QUEUE_CONSUMERS_MAX 1024 /* consumers of the group one listing returns */

/* One consumer of the group (XINFO CONSUMERS).  Its name is whatever a
 * client passed to XREADGROUP: hostile bytes, kept as they are (escape them
 * before printing), cut to QUEUE_CONSUMER_MAX bytes (is_truncated). */
struct queue_consumer {
	char name[QUEUE_CONSUMER_MAX + 1]; /* NUL-terminated; may hold other NULs */
	size_t name_len;
	int is_truncated; /* the name was longer than QUEUE_CONSUMER_MAX bytes */
	uint64_t pending; /* entries delivered to it and not acknowledged */
	int64_t idle_ms;  /* since it last read or claimed */
};

/* XINFO CONSUMERS <prefix>jobs agents: at most QUEUE_CONSUMERS_MAX of them
 * (*ret_truncated when Redis listed more).  SG_ERR_NOT_FOUND when the
 * stream or the group does not exist (no agent ever started).  Caller
 * frees *ret with free(); *ret is NULL when *ret_n is 0. */
int queue_consumers(
    struct queue *q, struct queue_consumer **ret, size_t *ret_n, int *ret_truncated) SG_MUST_CHECK;

/* XGROUP DELCONSUMER <prefix>jobs agents <consumer>: removes the consumer
 * and with it its pending entries, which no consumer can then be given
 * again: callers delete only consumers with none.  *ret_pending is what it
 * had (Redis's answer).  consumer is a token (1..QUEUE_CONSUMER_MAX
 * printable bytes, no space). */
int queue_consumer_delete(
    struct queue *q, const char *consumer, uint64_t *ret_pending) SG_MUST_CHECK;

/* A pending entry: delivered to consumer, not acknowledged. */
struct queue_pending {
	char entry[QUEUE_ENTRY_ID_MAX + 1];
	char consumer[QUEUE_CONSUMER_MAX + 1]; /* cut and printable: other bytes as '?' */
	int64_t idle_ms;                       /* since its last delivery */
	uint64_t deliveries;
};

/* XPENDING <prefix>jobs agents (summary), then the oldest pending entry
 * (XPENDING ... - + 1).  *ret_count entries are pending; *ret_oldest is
 * set when there is one (*ret_has_oldest).  SG_ERR_NOT_FOUND when the
 * stream or the group does not exist. */
int queue_pending_summary(struct queue *q, uint64_t *ret_count, struct queue_pending *ret_oldest,
    int *ret_has_oldest) SG_MUST_CHECK;

/* The pending state of one entry (XPENDING ... <id> <id> 1), or
 * SG_ERR_NOT_FOUND when it is not pending (acknowledged, never delivered,
 * or no group). */
int queue_pending_entry(
    struct queue *q, const char *entry_id, struct queue_pending *ret) SG_MUST_CHECK;

/* XLEN <prefix>dead: the dead letters. */
int queue_dead_length(struct queue *q, uint64_t *ret) SG_MUST_CHECK;

/* LLEN <prefix>done:<id>: result writes of the job still listed. */
int queue_done_length(struct queue *q, const char *job_id, uint64_t *ret) SG_MUST_CHECK;

/* GET <prefix>claim:<id>: the agent that claimed the job, cut to
 * owner_len - 1 bytes, bytes outside printable ASCII as '?'.
 * SG_ERR_NOT_FOUND when there is no claim. */
int queue_get_claim(
    struct queue *q, const char *job_id, char *ret_owner, size_t owner_len) SG_MUST_CHECK;

#endif
