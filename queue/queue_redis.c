/*
 * queue_redis.c — the queue of docs/protocol.md §7 on one connection: the
 * commands.  The connection (connect, AUTH, Sentinel, ROLE, the pipelined
 * round trip) is queue_conn.c, its sockets and TLS queue_io.c; the parsers of the server's
 * replies, which do no I/O, are queue_reply.c (fuzzed by
 * fuzz/fuzz_queue_reply.c).  Their shared declarations: queue_internal.h.
 *
 * Keys (the prefix is 1..QUEUE_PREFIX_MAX printable ASCII bytes):
 *
 *   <prefix>jobs          stream; the one field "env" holds a job envelope
 *   <prefix>result:<id>   string with a TTL; <id> is JOB_ID_LEN lowercase hex
 *   <prefix>done:<id>     list with the same TTL; one "1" per result write
 *   <prefix>dead          stream of dead letters: entries the agent gave up
 *                         on (fields "entry", "env", "reason", "deliveries")
 *   <prefix>claim:<id>    string with a TTL: the agent signing job <id>
 *
 * The server is not trusted.  Every reply is checked for its type and its
 * element count before a field is read, and everything that does not have
 * the shape Redis itself produces is SG_ERR_QUEUE_PROTOCOL.  Errors map so
 * (queue_conn.c, queue_io.c):
 *
 *   no reply: I/O, EOF, timeout, TLS    SG_ERR_QUEUE_UNAVAILABLE (the
 *                                       connection is dead; queue_reconnect())
 *   no reply: malformed, over a bound   SG_ERR_QUEUE_PROTOCOL (also dead)
 *   -NOAUTH -WRONGPASS -NOPERM
 *   -ERR invalid password, any AUTH
 *   error                               SG_ERR_QUEUE_AUTH
 *   any other error reply, wrong shape  SG_ERR_QUEUE_PROTOCOL
 *
 * Commands are sent with argument vectors, so keys and values are binary
 * safe.  Pipelined commands always have all their replies read, even when
 * an early one is wrong, so the connection never falls out of step.
 *
 * Timeouts: every command runs under a socket timeout of timeout_ms.  The
 * blocking commands (XREADGROUP BLOCK, BLPOP) raise it to their own block
 * time plus timeout_ms for that one call, so that the server's answer to a
 * block that ran out is not mistaken for a dead connection.
 *
 * The password: taken at open from the password file (or the URL), kept in
 * the struct so that queue_reconnect() can authenticate again, and wiped in
 * queue_close().  The AUTH command is formatted into a buffer of our own,
 * written to the socket directly and wiped, rather than passing through
 * hiredis's output buffer, which is freed without wiping.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "job.h"
#include "log.h"
#include "queue.h"
#include "queue_internal.h"
#include "queue_io.h"
#include "util.h"

/* <prefix><mid><job id> into buf (QUEUE_KEY_MAX + 1 bytes). */
static size_t
key_make(const struct queue *q, const char *mid, const char *job_id, char *buf)
{
	size_t mlen = strlen(mid);

	memcpy(buf, q->prefix, q->prefix_len);
	memcpy(buf + q->prefix_len, mid, mlen);
	memcpy(buf + q->prefix_len + mlen, job_id, JOB_ID_LEN);
	buf[q->prefix_len + mlen + JOB_ID_LEN] = '\0';
	return q->prefix_len + mlen + JOB_ID_LEN;
}

int
queue_submit(struct queue *q, const char *env, size_t env_len)
{
	char id[QUEUE_ENTRY_ID_MAX + 1];

	return queue_submit_entry(q, env, env_len, id);
}

int
queue_wait_done(struct queue *q, const char *job_id, int timeout_ms)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	char key[QUEUE_KEY_MAX + 1], secs[QUEUE_NUM_MAX];
	size_t klen;
	int r = SG_ERR_INTERNAL;

	if (q == NULL || !queue_is_job_id(job_id) || timeout_ms <= 0) {
		/* BLPOP with 0 would wait for ever. */
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if ((r = qconn_ready(q)) < 0)
		goto out;
	klen = key_make(q, KEY_DONE, job_id, key);
	/* Redis 6+ takes decimal seconds with millisecond resolution. */
	snprintf(secs, sizeof(secs), "%d.%03d", timeout_ms / 1000, timeout_ms % 1000);
	qcmd_str(&cmd, "BLPOP");
	qcmd_arg(&cmd, key, klen);
	qcmd_str(&cmd, secs);

	if ((r = qconn_set_timeout(q, (int64_t)timeout_ms + q->timeout_ms)) < 0)
		goto out;
	r = qconn_command(q, &cmd, &rep);
	if (r == 0 || qconn_ready(q) == 0) {
		int r2 = qconn_set_timeout(q, q->timeout_ms);

		if (r == 0)
			r = r2;
	}
	if (r < 0)
		goto out;

	if (rep->type == REDIS_REPLY_NIL) {
		r = SG_ERR_TIMEOUT;
		goto out;
	}
	if ((r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		goto out;
	/* [key, element] */
	if (rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[0]->len != klen || memcmp(rep->element[0]->str, key, klen) != 0 ||
	    rep->element[1]->type != REDIS_REPLY_STRING) {
		r = SG_ERR_QUEUE_PROTOCOL;
		goto out;
	}
	r = 0;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

int
queue_get_result(struct queue *q, const char *job_id, char **ret, size_t *ret_len)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	char key[QUEUE_KEY_MAX + 1];
	char *buf = NULL;
	size_t klen;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || ret_len == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	*ret = NULL;
	*ret_len = 0;
	if (q == NULL || !queue_is_job_id(job_id)) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	klen = key_make(q, KEY_RESULT, job_id, key);
	/* GETRANGE, not GET: whoever can write to Redis could store a value of
	 * hundreds of MB there; one byte past the envelope limit is enough to
	 * know it is not ours. */
	qcmd_str(&cmd, "GETRANGE");
	qcmd_arg(&cmd, key, klen);
	qcmd_str(&cmd, "0");
	qcmd_str(&cmd, QUEUE_RESULT_READ_MAX_STR);
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		goto out;
	/* GETRANGE answers "" for a missing key (a result is never empty). */
	if (rep->type == REDIS_REPLY_NIL || (rep->type == REDIS_REPLY_STRING && rep->len == 0)) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = qreply_expect(rep, REDIS_REPLY_STRING)) < 0)
		goto out;
	if (rep->len > QUEUE_RESULT_READ_MAX) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	if ((buf = malloc(rep->len + 1)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (rep->len > 0)
		memcpy(buf, rep->str, rep->len);
	buf[rep->len] = '\0';
	*ret = buf;
	*ret_len = rep->len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

int
queue_group_create(struct queue *q)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	int r = SG_ERR_INTERNAL;

	if (q == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	qcmd_str(&cmd, "XGROUP");
	qcmd_str(&cmd, "CREATE");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, QUEUE_GROUP);
	qcmd_str(&cmd, "0");
	qcmd_str(&cmd, "MKSTREAM");
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		goto out;
	if (rep->type == REDIS_REPLY_ERROR && qreply_has_prefix(rep, "BUSYGROUP")) {
		r = 0;
		goto out;
	}
	if ((r = qreply_expect(rep, REDIS_REPLY_STATUS)) < 0)
		goto out;
	r = 0;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

int
queue_read(struct queue *q, const char *consumer, size_t count, int block_ms,
    struct queue_entry **ret, size_t *ret_n)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	char count_s[QUEUE_NUM_MAX], block_s[QUEUE_NUM_MAX];
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || ret_n == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	*ret = NULL;
	*ret_n = 0;
	/* block_ms 0 reads what is there without waiting (BLOCK 0 would wait
	 * for ever and is never sent). */
	if (q == NULL || consumer == NULL || !queue_is_token(consumer, QUEUE_CONSUMER_MAX) ||
	    count == 0 || block_ms < 0) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if ((r = qconn_ready(q)) < 0)
		goto out;
	if (count > QUEUE_READ_COUNT_MAX)
		count = QUEUE_READ_COUNT_MAX;
	snprintf(count_s, sizeof(count_s), "%zu", count);
	snprintf(block_s, sizeof(block_s), "%d", block_ms);
	qcmd_str(&cmd, "XREADGROUP");
	qcmd_str(&cmd, "GROUP");
	qcmd_str(&cmd, QUEUE_GROUP);
	qcmd_str(&cmd, consumer);
	qcmd_str(&cmd, "COUNT");
	qcmd_str(&cmd, count_s);
	if (block_ms > 0) {
		qcmd_str(&cmd, "BLOCK");
		qcmd_str(&cmd, block_s);
	}
	qcmd_str(&cmd, "STREAMS");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, ">");

	if (block_ms > 0 && (r = qconn_set_timeout(q, (int64_t)block_ms + q->timeout_ms)) < 0)
		goto out;
	r = qconn_command(q, &cmd, &rep);
	/* The group is gone (a Redis restarted without persistence, a promoted
	 * replica that never saw it): make it again at id 0, so that nothing
	 * in the stream is skipped, and read again. */
	if (r == 0 && rep->type == REDIS_REPLY_ERROR && qreply_has_prefix(rep, "NOGROUP")) {
		freeReplyObject(rep);
		rep = NULL;
		log_debug("consumer group missing: creating it again");
		if ((r = queue_group_create(q)) == 0)
			r = qconn_command(q, &cmd, &rep);
	}
	if (block_ms > 0 && (r == 0 || qconn_ready(q) == 0)) {
		int r2 = qconn_set_timeout(q, q->timeout_ms);

		if (r == 0)
			r = r2;
	}
	if (r < 0)
		goto out;
	r = qreply_read(rep, q->jobs_key, q->jobs_key_len, count, ret, ret_n);
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

int
queue_put_result(
    struct queue *q, const char *job_id, const char *env, size_t env_len, int64_t ttl_s, int nx)
{
	struct queue_cmd cmds[QUEUE_PIPELINE_MAX];
	redisReply *reps[QUEUE_PIPELINE_MAX] = { NULL };
	char rkey[QUEUE_KEY_MAX + 1], dkey[QUEUE_KEY_MAX + 1], ttl[QUEUE_NUM_MAX];
	size_t rlen, dlen;
	int r = SG_ERR_INTERNAL;

	if (q == NULL || !queue_is_job_id(job_id) || env == NULL || ttl_s <= 0 ||
	    ttl_s > QUEUE_TTL_S_MAX) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	memset(cmds, 0, sizeof(cmds));
	rlen = key_make(q, KEY_RESULT, job_id, rkey);
	dlen = key_make(q, KEY_DONE, job_id, dkey);
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_s);

	/* cmds[0] SET, cmds[1] LPUSH, cmds[2] EXPIRE. */
	qcmd_str(&cmds[0], "SET");
	qcmd_arg(&cmds[0], rkey, rlen);
	qcmd_arg(&cmds[0], env, env_len);
	qcmd_str(&cmds[0], "EX");
	qcmd_str(&cmds[0], ttl);
	if (nx)
		qcmd_str(&cmds[0], "NX");
	qcmd_str(&cmds[1], "LPUSH");
	qcmd_arg(&cmds[1], dkey, dlen);
	qcmd_str(&cmds[1], "1");
	qcmd_str(&cmds[2], "EXPIRE");
	qcmd_arg(&cmds[2], dkey, dlen);
	qcmd_str(&cmds[2], ttl);

	if (nx) {
		/* Whether to push depends on this reply: one round trip more. */
		if ((r = qconn_command(q, &cmds[0], &reps[0])) < 0)
			goto out;
		if (reps[0]->type == REDIS_REPLY_NIL) {
			r = SG_ERR_EXISTS;
			goto out;
		}
		if ((r = qreply_expect(reps[0], REDIS_REPLY_STATUS)) < 0)
			goto out;
		if (!qreply_is_status(reps[0], "OK")) {
			r = SG_ERR_QUEUE_PROTOCOL;
			goto out;
		}
		if ((r = qconn_pipeline(q, &cmds[1], 2, &reps[1])) < 0)
			goto out;
	} else {
		/* SET cannot meet a key of the wrong type: all three at once. */
		if ((r = qconn_pipeline(q, cmds, 3, reps)) < 0)
			goto out;
		if ((r = qreply_expect(reps[0], REDIS_REPLY_STATUS)) < 0)
			goto out;
		if (!qreply_is_status(reps[0], "OK")) {
			r = SG_ERR_QUEUE_PROTOCOL;
			goto out;
		}
	}
	if ((r = qreply_expect(reps[1], REDIS_REPLY_INTEGER)) < 0 ||
	    (r = qreply_expect(reps[2], REDIS_REPLY_INTEGER)) < 0)
		goto out;
	r = 0;
out:
	qreply_free_all(reps, QUEUE_PIPELINE_MAX);
	return r;
}

/* XACK and XDEL of entry id (idlen bytes, checked) into cmds[0..1]. */
static void
ack_cmds(struct queue *q, struct queue_cmd *cmds, const char *id, size_t idlen)
{
	qcmd_str(&cmds[0], "XACK");
	qcmd_arg(&cmds[0], q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmds[0], QUEUE_GROUP);
	qcmd_arg(&cmds[0], id, idlen);
	qcmd_str(&cmds[1], "XDEL");
	qcmd_arg(&cmds[1], q->jobs_key, q->jobs_key_len);
	qcmd_arg(&cmds[1], id, idlen);
}

int
queue_ack(struct queue *q, const char *entry_id)
{
	struct queue_cmd cmds[2];
	redisReply *reps[2] = { NULL };
	size_t idlen;
	int r = SG_ERR_INTERNAL;

	if (q == NULL || entry_id == NULL ||
	    !queue_is_entry_id(entry_id, (idlen = strnlen(entry_id, QUEUE_ENTRY_ID_MAX + 1)))) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	memset(cmds, 0, sizeof(cmds));
	ack_cmds(q, cmds, entry_id, idlen);
	if ((r = qconn_pipeline(q, cmds, nitems(cmds), reps)) < 0)
		goto out;
	if ((r = qreply_expect(reps[0], REDIS_REPLY_INTEGER)) < 0 ||
	    (r = qreply_expect(reps[1], REDIS_REPLY_INTEGER)) < 0)
		goto out;
	r = 0;
out:
	qreply_free_all(reps, nitems(reps));
	return r;
}

/*
 * queue_reclaim()'s way past an entry it cannot read: the entries of the
 * XPENDING reply pend, now claimed for consumer (the XCLAIM whose reply was
 * refused took them), are claimed again one at a time (min-idle 0: they are
 * ours).  One whose reply is refused again is moved to the dead letters by
 * its id alone (queue_dead_letter() without env); the others are returned
 * as queue_reclaim() returns them.  Each refusal costs a reconnect.
 */
static int
reclaim_each(struct queue *q, const char *consumer, const redisReply *pend,
    const uint64_t *deliveries, struct queue_entry **ret, size_t *ret_n)
{
	struct queue_entry *e = NULL;
	size_t i, n = 0, idlen;
	const char *id;
	int r;

	if ((r = queue_reconnect(q)) < 0)
		return r;
	if ((e = calloc(pend->elements ? pend->elements : 1, sizeof(*e))) == NULL)
		return SG_ERR_ALLOC;
	for (i = 0; i < pend->elements; i++) {
		struct queue_cmd cmd = { 0 };
		redisReply *got = NULL;
		uint64_t d;

		if ((r = qreply_pending_row(pend->element[i], &id, &idlen, &d)) < 0)
			goto out;
		qcmd_str(&cmd, "XCLAIM");
		qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
		qcmd_str(&cmd, QUEUE_GROUP);
		qcmd_str(&cmd, consumer);
		qcmd_str(&cmd, "0");
		qcmd_arg(&cmd, id, idlen);
		r = qconn_command(q, &cmd, &got);
		if (r == SG_ERR_QUEUE_PROTOCOL) {
			struct queue_entry bad;
			char why[QUEUE_ERRSTR_LOG_MAX + 8];
			const char *es = q->io != NULL ? qio_errstr(q->io) : "";

			(void)log_escape(es, strlen(es), why, sizeof(why));
			memset(&bad, 0, sizeof(bad));
			memcpy(bad.id, id, idlen);
			bad.id[idlen] = '\0';
			bad.deliveries = deliveries[i] + 1;
			log_warn("stream entry %s cannot be read (%s); moved to the dead letters",
			    bad.id, why[0] != '\0' ? why : "a refused reply");
			if ((r = queue_reconnect(q)) < 0 ||
			    (r = queue_dead_letter(q, &bad, "unreadable entry")) < 0)
				goto out;
			continue;
		}
		if (r == 0 && (r = qreply_expect(got, REDIS_REPLY_ARRAY)) == 0 &&
		    got->elements == 1 && got->element[0]->type != REDIS_REPLY_NIL) {
			if ((r = qreply_entry(got->element[0], &e[n])) == 0) {
				e[n].deliveries = deliveries[i] + 1;
				n++;
			}
		} else if (r == 0 && got->elements > 1) {
			r = SG_ERR_QUEUE_PROTOCOL;
		}
		if (got != NULL)
			freeReplyObject(got);
		if (r < 0)
			goto out;
	}
	*ret = e;
	*ret_n = n;
	e = NULL;
	r = 0;
out:
	if (e != NULL)
		queue_entries_free(e, n);
	return r;
}

int
queue_reclaim(struct queue *q, const char *consumer, int64_t min_idle_ms, size_t count,
    struct queue_entry **ret, size_t *ret_n)
{
	struct queue_cmd cmd = { 0 }, claim = { 0 };
	redisReply *pend = NULL, *got = NULL;
	struct queue_entry *e = NULL;
	char idle_s[QUEUE_NUM_MAX], count_s[QUEUE_NUM_MAX];
	uint64_t deliveries[QUEUE_CLAIM_MAX];
	const char *id;
	size_t i, j, n = 0, idlen;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || ret_n == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	*ret_n = 0;
	if (q == NULL || consumer == NULL || !queue_is_token(consumer, QUEUE_CONSUMER_MAX) ||
	    count == 0 || count > QUEUE_CLAIM_MAX || min_idle_ms < 0)
		return SG_ERR_INVALID_ARGUMENT;
	snprintf(idle_s, sizeof(idle_s), "%lld", (long long)min_idle_ms);
	snprintf(count_s, sizeof(count_s), "%zu", count);
	qcmd_str(&cmd, "XPENDING");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, QUEUE_GROUP);
	qcmd_str(&cmd, "IDLE");
	qcmd_str(&cmd, idle_s);
	qcmd_str(&cmd, "-");
	qcmd_str(&cmd, "+");
	qcmd_str(&cmd, count_s);
	if ((r = qconn_command(q, &cmd, &pend)) < 0)
		goto out;
	if ((r = qreply_expect(pend, REDIS_REPLY_ARRAY)) < 0)
		goto out;
	r = SG_ERR_QUEUE_PROTOCOL;
	if (pend->elements > count)
		goto out;
	if (pend->elements == 0) {
		r = 0;
		goto out;
	}
	qcmd_str(&claim, "XCLAIM");
	qcmd_arg(&claim, q->jobs_key, q->jobs_key_len);
	qcmd_str(&claim, QUEUE_GROUP);
	qcmd_str(&claim, consumer);
	qcmd_str(&claim, idle_s);
	for (i = 0; i < pend->elements; i++) {
		if ((r = qreply_pending_row(pend->element[i], &id, &idlen, &deliveries[i])) < 0)
			goto out;
		qcmd_arg(&claim, id, idlen);
	}
	if ((r = qconn_command(q, &claim, &got)) == SG_ERR_QUEUE_PROTOCOL) {
		/* A reply we refuse to read (one entry over the reply bound,
		 * say): one entry at a time, so that the one that cannot be
		 * read goes to the dead letters and the others are taken over
		 * (else it would block every takeover after it). */
		r = reclaim_each(q, consumer, pend, deliveries, ret, ret_n);
		goto out;
	}
	if (r < 0)
		goto out;
	if ((r = qreply_expect(got, REDIS_REPLY_ARRAY)) < 0)
		goto out;
	r = SG_ERR_QUEUE_PROTOCOL;
	if (got->elements > pend->elements)
		goto out;
	if ((e = calloc(got->elements ? got->elements : 1, sizeof(*e))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < got->elements; i++) {
		/* An entry deleted meanwhile may come back as nil. */
		if (got->element[i]->type == REDIS_REPLY_NIL)
			continue;
		if ((r = qreply_entry(got->element[i], &e[n])) < 0)
			goto out;
		n++; /* counted now so that a later failure frees it */
		/* Another agent may have claimed an entry between the two calls
		 * (XCLAIM then skips it): match delivery counts by id. */
		e[n - 1].deliveries = 0;
		for (j = 0; j < pend->elements; j++) {
			const redisReply *pid = pend->element[j]->element[0];
			if (pid->len == strlen(e[n - 1].id) &&
			    memcmp(pid->str, e[n - 1].id, pid->len) == 0)
				e[n - 1].deliveries = deliveries[j] + 1;
		}
		if (e[n - 1].deliveries == 0) {
			r = SG_ERR_QUEUE_PROTOCOL; /* an id we did not ask for */
			goto out;
		}
	}
	*ret = e;
	*ret_n = n;
	e = NULL;
	r = 0;
out:
	if (e != NULL)
		queue_entries_free(e, n);
	if (pend != NULL)
		freeReplyObject(pend);
	if (got != NULL)
		freeReplyObject(got);
	return r;
}

int
queue_touch(struct queue *q, const char *consumer, const char *const *ids, size_t n)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	size_t i, len;
	int r;

	if (q == NULL || consumer == NULL || !queue_is_token(consumer, QUEUE_CONSUMER_MAX) ||
	    n > QUEUE_CLAIM_MAX || (n > 0 && ids == NULL))
		return SG_ERR_INVALID_ARGUMENT;
	if (n == 0)
		return 0;
	qcmd_str(&cmd, "XCLAIM");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, QUEUE_GROUP);
	qcmd_str(&cmd, consumer);
	qcmd_str(&cmd, "0");
	for (i = 0; i < n; i++) {
		len = strnlen(ids[i], QUEUE_ENTRY_ID_MAX + 1);
		if (!queue_is_entry_id(ids[i], len))
			return SG_ERR_INVALID_ARGUMENT;
		qcmd_arg(&cmd, ids[i], len);
	}
	qcmd_str(&cmd, "JUSTID");
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		goto out;
	r = qreply_expect(rep, REDIS_REPLY_ARRAY);
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

int
queue_dead_letter(struct queue *q, const struct queue_entry *e, const char *reason)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	char key[QUEUE_PREFIX_MAX + sizeof(KEY_DEAD)], deliveries[QUEUE_NUM_MAX];
	size_t idlen;
	int r;

	if (q == NULL || e == NULL || reason == NULL ||
	    !queue_is_entry_id(e->id, (idlen = strnlen(e->id, QUEUE_ENTRY_ID_MAX + 1))))
		return SG_ERR_INVALID_ARGUMENT;
	snprintf(key, sizeof(key), "%s%s", q->prefix, KEY_DEAD);
	snprintf(deliveries, sizeof(deliveries), "%llu", (unsigned long long)e->deliveries);
	qcmd_str(&cmd, "XADD");
	qcmd_str(&cmd, key);
	qcmd_str(&cmd, "*");
	qcmd_str(&cmd, "entry");
	qcmd_arg(&cmd, e->id, idlen);
	qcmd_str(&cmd, "reason");
	qcmd_str(&cmd, reason);
	qcmd_str(&cmd, "deliveries");
	qcmd_str(&cmd, deliveries);
	if (e->env != NULL) {
		qcmd_str(&cmd, "env");
		qcmd_arg(&cmd, e->env, e->env_len);
	}
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		goto out;
	if ((r = qreply_expect(rep, REDIS_REPLY_STRING)) < 0)
		goto out;
	r = queue_ack(q, e->id);
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

/* One command whose reply must be an integer in [min, max]. */
static int
command_int(struct queue *q, struct queue_cmd *cmd, long long min, long long max, long long *ret)
{
	redisReply *rep = NULL;
	int r;

	if ((r = qconn_command(q, cmd, &rep)) < 0)
		return r;
	if ((r = qreply_expect(rep, REDIS_REPLY_INTEGER)) == 0) {
		if (rep->integer < min || rep->integer > max)
			r = SG_ERR_QUEUE_PROTOCOL;
		else
			*ret = rep->integer;
	}
	freeReplyObject(rep);
	return r;
}

int
queue_length(struct queue *q, uint64_t *ret)
{
	struct queue_cmd cmd = { 0 };
	long long n = 0;
	int r;

	if (q == NULL || ret == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	qcmd_str(&cmd, "XLEN");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	if ((r = command_int(q, &cmd, 0, LLONG_MAX, &n)) == 0)
		*ret = (uint64_t)n;
	return r;
}

int
queue_wait_replicas(struct queue *q, int replicas, int timeout_ms, int *ret_acked)
{
	struct queue_cmd cmd = { 0 };
	char n_s[QUEUE_NUM_MAX], t_s[QUEUE_NUM_MAX];
	long long n = 0;
	int r;

	if (q == NULL || ret_acked == NULL || replicas < 1 || timeout_ms < 1)
		return SG_ERR_INVALID_ARGUMENT;
	snprintf(n_s, sizeof(n_s), "%d", replicas);
	snprintf(t_s, sizeof(t_s), "%d", timeout_ms);
	qcmd_str(&cmd, "WAIT");
	qcmd_str(&cmd, n_s);
	qcmd_str(&cmd, t_s);
	if ((r = qconn_set_timeout(q, (int64_t)timeout_ms + q->timeout_ms)) < 0)
		return r;
	r = command_int(q, &cmd, 0, 1000000, &n);
	if (qconn_ready(q) == 0 && qconn_set_timeout(q, q->timeout_ms) < 0 && r == 0)
		r = SG_ERR_QUEUE_UNAVAILABLE;
	if (r == 0)
		*ret_acked = (int)n;
	return r;
}

static int
reply_is(const redisReply *rep, const char *s)
{
	return rep->type == REDIS_REPLY_STRING && rep->len == strlen(s) &&
	    memcmp(rep->str, s, rep->len) == 0;
}

int
queue_claim_job(struct queue *q, const char *job_id, const char *owner, int64_t ttl_s,
    char *ret_owner, size_t owner_len)
{
	struct queue_cmd cmd;
	redisReply *rep = NULL;
	char key[QUEUE_KEY_MAX + 1], ttl[QUEUE_NUM_MAX];
	size_t klen;
	int r = SG_ERR_INTERNAL, tries;

	if (q == NULL || !queue_is_job_id(job_id) || owner == NULL ||
	    !queue_is_token(owner, QUEUE_CONSUMER_MAX) || ttl_s < 1 || ttl_s > QUEUE_TTL_S_MAX ||
	    ret_owner == NULL || owner_len == 0)
		return SG_ERR_INVALID_ARGUMENT;
	klen = key_make(q, KEY_CLAIM, job_id, key);
	snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_s);
	/* A claim that expires between the SET and the GET: once more. */
	for (tries = 0; tries < 2; tries++) {
		memset(&cmd, 0, sizeof(cmd));
		qcmd_str(&cmd, "SET");
		qcmd_arg(&cmd, key, klen);
		qcmd_str(&cmd, owner);
		qcmd_str(&cmd, "NX");
		qcmd_str(&cmd, "EX");
		qcmd_str(&cmd, ttl);
		if ((r = qconn_command(q, &cmd, &rep)) < 0)
			goto out;
		if (rep->type == REDIS_REPLY_STATUS && qreply_is_status(rep, "OK")) {
			r = 0;
			goto out;
		}
		if ((r = qreply_expect(rep, REDIS_REPLY_NIL)) < 0)
			goto out;
		freeReplyObject(rep);
		rep = NULL;
		memset(&cmd, 0, sizeof(cmd));
		qcmd_str(&cmd, "GET");
		qcmd_arg(&cmd, key, klen);
		if ((r = qconn_command(q, &cmd, &rep)) < 0)
			goto out;
		if (rep->type == REDIS_REPLY_NIL) {
			freeReplyObject(rep);
			rep = NULL;
			continue;
		}
		if ((r = qreply_expect(rep, REDIS_REPLY_STRING)) < 0)
			goto out;
		if (reply_is(rep, owner)) {
			/* Ours already (this process took it before): refresh it. */
			freeReplyObject(rep);
			rep = NULL;
			return queue_refresh_claim(q, job_id, owner, ttl_s);
		}
		/* Someone else's claim (or anything written there): report it, printable. */
		qreply_copy_printable(rep, ret_owner, owner_len);
		r = SG_ERR_EXISTS;
		goto out;
	}
	snprintf(ret_owner, owner_len, "?");
	r = SG_ERR_EXISTS;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

static void
unwatch(struct queue *q)
{
	struct queue_cmd un = { 0 };
	redisReply *rep = NULL;

	qcmd_str(&un, "UNWATCH");
	if (qconn_command(q, &un, &rep) == 0)
		freeReplyObject(rep);
}

int
queue_refresh_claims(struct queue *q, const char *owner, const char *const *job_ids, size_t n,
    int64_t ttl_s, int *ret_ours)
{
	struct queue_cmd cmds[QUEUE_PIPELINE_MAX];
	redisReply *reps[QUEUE_PIPELINE_MAX] = { NULL };
	char keys[QUEUE_CLAIM_MAX][QUEUE_KEY_MAX + 1], ms[QUEUE_NUM_MAX];
	size_t klen[QUEUE_CLAIM_MAX], i, m;
	int r = SG_ERR_INTERNAL, watching = 0, tries;

	if (q == NULL || owner == NULL || !queue_is_token(owner, QUEUE_CONSUMER_MAX) ||
	    n > QUEUE_CLAIM_MAX || (n > 0 && (job_ids == NULL || ret_ours == NULL)) || ttl_s < 1 ||
	    ttl_s > QUEUE_TTL_S_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	for (i = 0; i < n; i++) {
		if (!queue_is_job_id(job_ids[i]))
			return SG_ERR_INVALID_ARGUMENT;
		klen[i] = key_make(q, KEY_CLAIM, job_ids[i], keys[i]);
		ret_ours[i] = 0;
	}
	if (n == 0)
		return 0;
	snprintf(ms, sizeof(ms), "%lld", (long long)ttl_s * 1000);
	/* A claim that changes between the GET and the EXEC (another agent
	 * took one that expired) voids the EXEC: read them again. */
	for (tries = 0; tries < 3; tries++) {
		memset(cmds, 0, sizeof(cmds));
		qcmd_str(&cmds[0], "WATCH");
		qcmd_str(&cmds[1], "MGET");
		for (i = 0; i < n; i++) {
			qcmd_arg(&cmds[0], keys[i], klen[i]);
			qcmd_arg(&cmds[1], keys[i], klen[i]);
		}
		if ((r = qconn_pipeline(q, cmds, 2, reps)) < 0)
			goto out;
		watching = 1;
		if ((r = qreply_expect(reps[0], REDIS_REPLY_STATUS)) < 0 ||
		    (r = qreply_expect(reps[1], REDIS_REPLY_ARRAY)) < 0)
			goto out;
		if (reps[1]->elements != n) {
			r = SG_ERR_QUEUE_PROTOCOL;
			goto out;
		}
		memset(cmds, 0, sizeof(cmds));
		qcmd_str(&cmds[0], "MULTI");
		for (i = 0, m = 1; i < n; i++) {
			const redisReply *v = reps[1]->element[i];

			if (v->type != REDIS_REPLY_NIL && v->type != REDIS_REPLY_STRING) {
				r = SG_ERR_QUEUE_PROTOCOL;
				goto out;
			}
			ret_ours[i] = reply_is(v, owner);
			if (!ret_ours[i])
				continue;
			qcmd_str(&cmds[m], "PEXPIRE");
			qcmd_arg(&cmds[m], keys[i], klen[i]);
			qcmd_str(&cmds[m], ms);
			m++;
		}
		qreply_free_all(reps, 2);
		if (m == 1) {
			r = 0; /* none is ours any more */
			goto out;
		}
		qcmd_str(&cmds[m], "EXEC");
		if ((r = qconn_pipeline(q, cmds, m + 1, reps)) < 0)
			goto out;
		watching = 0;
		if ((r = qreply_expect(reps[0], REDIS_REPLY_STATUS)) < 0)
			goto out;
		for (i = 1; i < m; i++) {
			if (!qreply_is_status(reps[i], "QUEUED")) {
				r = reps[i]->type == REDIS_REPLY_ERROR ? qreply_error(reps[i])
								       : SG_ERR_QUEUE_PROTOCOL;
				goto out;
			}
		}
		if (reps[m]->type == REDIS_REPLY_NIL) {
			qreply_free_all(reps, m + 1);
			continue;
		}
		if ((r = qreply_expect(reps[m], REDIS_REPLY_ARRAY)) < 0)
			goto out;
		if (reps[m]->elements != m - 1) {
			r = SG_ERR_QUEUE_PROTOCOL;
			goto out;
		}
		r = 0;
		goto out;
	}
	r = SG_ERR_EXISTS;
out:
	if (watching && r != SG_ERR_QUEUE_UNAVAILABLE && r != SG_ERR_QUEUE_PROTOCOL)
		unwatch(q);
	qreply_free_all(reps, nitems(reps));
	return r;
}

int
queue_refresh_claim(struct queue *q, const char *job_id, const char *owner, int64_t ttl_s)
{
	int ours = 0, r;

	if ((r = queue_refresh_claims(q, owner, &job_id, 1, ttl_s, &ours)) != 0)
		return r;
	return ours ? 0 : SG_ERR_EXISTS;
}

/*
 * The transaction that writes a result (docs/protocol.md): cmds[0..3] get
 * MULTI, SET <result key> <env> EX ttl, LPUSH <done key> 1, EXPIRE <done
 * key> ttl; the caller adds what else goes in and EXEC.
 */
static void
result_tx(struct queue_cmd *cmds, const char *rkey, size_t rlen, const char *env, size_t env_len,
    const char *dkey, size_t dlen, const char *ttl)
{
	qcmd_str(&cmds[0], "MULTI");
	qcmd_str(&cmds[1], "SET");
	qcmd_arg(&cmds[1], rkey, rlen);
	qcmd_arg(&cmds[1], env, env_len);
	qcmd_str(&cmds[1], "EX");
	qcmd_str(&cmds[1], ttl);
	qcmd_str(&cmds[2], "LPUSH");
	qcmd_arg(&cmds[2], dkey, dlen);
	qcmd_str(&cmds[2], "1");
	qcmd_str(&cmds[3], "EXPIRE");
	qcmd_arg(&cmds[3], dkey, dlen);
	qcmd_str(&cmds[3], ttl);
}

/* The replies to the commands between MULTI (reps[0]) and EXEC (reps[n]):
 * each QUEUED, else the error it is. */
static int
all_queued(redisReply **reps, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (!qreply_is_status(reps[i], "QUEUED"))
			return reps[i]->type == REDIS_REPLY_ERROR ? qreply_error(reps[i])
								  : SG_ERR_QUEUE_PROTOCOL;
	return 0;
}

int
queue_watch_claim(
    struct queue *q, const char *job_id, const char *owner, char *ret_owner, size_t owner_len)
{
	struct queue_cmd cmds[2];
	redisReply *reps[2] = { NULL };
	char ckey[QUEUE_KEY_MAX + 1];
	size_t clen;
	int r;

	if (q == NULL || !queue_is_job_id(job_id) || owner == NULL ||
	    !queue_is_token(owner, QUEUE_CONSUMER_MAX) || ret_owner == NULL || owner_len == 0)
		return SG_ERR_INVALID_ARGUMENT;
	memset(cmds, 0, sizeof(cmds));
	clen = key_make(q, KEY_CLAIM, job_id, ckey);
	ret_owner[0] = '\0';
	qcmd_str(&cmds[0], "WATCH");
	qcmd_arg(&cmds[0], ckey, clen);
	qcmd_str(&cmds[1], "GET");
	qcmd_arg(&cmds[1], ckey, clen);
	if ((r = qconn_pipeline(q, cmds, 2, reps)) < 0)
		goto out;
	if ((r = qreply_expect(reps[0], REDIS_REPLY_STATUS)) < 0)
		goto unwatch;
	if (reps[1]->type == REDIS_REPLY_NIL) {
		snprintf(ret_owner, owner_len, "-");
		r = SG_ERR_NOT_FOUND; /* expired: another agent may take the job any moment */
		goto unwatch;
	}
	if ((r = qreply_expect(reps[1], REDIS_REPLY_STRING)) < 0)
		goto unwatch;
	if (!reply_is(reps[1], owner)) {
		qreply_copy_printable(reps[1], ret_owner, owner_len);
		r = SG_ERR_EXISTS;
		goto unwatch;
	}
	r = 0; /* still watched */
	goto out;
unwatch:
	if (r != SG_ERR_QUEUE_UNAVAILABLE && r != SG_ERR_QUEUE_PROTOCOL)
		unwatch(q);
out:
	qreply_free_all(reps, nitems(reps));
	return r;
}

void
queue_unwatch(struct queue *q)
{
	if (q != NULL && q->io != NULL)
		unwatch(q);
}

/* The arguments of a release (queue_release_result), and the entry id's
 * length in *ret_idlen (0 without one). */
static int
release_args_ok(const struct queue *q, const char *job_id, const char *entry_id, const char *env,
    int64_t ttl_s, const char *owner, int64_t done_ttl_s, const char *ret_owner, size_t owner_len,
    size_t *ret_idlen)
{
	*ret_idlen = entry_id != NULL ? strnlen(entry_id, QUEUE_ENTRY_ID_MAX + 1) : 0;
	return q != NULL && queue_is_job_id(job_id) && env != NULL && ttl_s > 0 &&
	    ttl_s <= QUEUE_TTL_S_MAX && owner != NULL &&
	    queue_is_token(owner, QUEUE_CONSUMER_MAX) && done_ttl_s >= 1 &&
	    done_ttl_s <= QUEUE_TTL_S_MAX && ret_owner != NULL && owner_len > 0 &&
	    (entry_id == NULL || queue_is_entry_id(entry_id, *ret_idlen));
}

int
queue_release_watched(struct queue *q, const char *job_id, const char *entry_id, const char *env,
    size_t env_len, int64_t ttl_s, const char *owner, int64_t done_ttl_s, char *ret_owner,
    size_t owner_len)
{
	struct queue_cmd cmds[8];
	redisReply *reps[8] = { NULL };
	char rkey[QUEUE_KEY_MAX + 1], dkey[QUEUE_KEY_MAX + 1], ckey[QUEUE_KEY_MAX + 1];
	char ttl[QUEUE_NUM_MAX], dttl[QUEUE_NUM_MAX], done[QUEUE_CONSUMER_MAX + 8];
	size_t rlen, dlen, clen, idlen, n;
	int r;

	if (!release_args_ok(
		q, job_id, entry_id, env, ttl_s, owner, done_ttl_s, ret_owner, owner_len, &idlen)) {
		queue_unwatch(q);
		return SG_ERR_INVALID_ARGUMENT;
	}
	memset(cmds, 0, sizeof(cmds));
	rlen = key_make(q, KEY_RESULT, job_id, rkey);
	dlen = key_make(q, KEY_DONE, job_id, dkey);
	clen = key_make(q, KEY_CLAIM, job_id, ckey);
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_s);
	snprintf(dttl, sizeof(dttl), "%" PRId64, done_ttl_s);
	snprintf(done, sizeof(done), "%s%s", QUEUE_CLAIM_DONE, owner);
	ret_owner[0] = '\0';

	result_tx(cmds, rkey, rlen, env, env_len, dkey, dlen, ttl);
	qcmd_str(&cmds[4], "SET");
	qcmd_arg(&cmds[4], ckey, clen);
	qcmd_str(&cmds[4], done);
	qcmd_str(&cmds[4], "EX");
	qcmd_str(&cmds[4], dttl);
	n = 5;
	if (entry_id != NULL) {
		/* The entry acknowledged in the same transaction: released
		 * and acknowledged together, or neither. */
		ack_cmds(q, &cmds[n], entry_id, idlen);
		n += 2;
	}
	qcmd_str(&cmds[n], "EXEC");
	/* EXEC (or an error reply to MULTI) ends the WATCH either way. */
	if ((r = qconn_pipeline(q, cmds, n + 1, reps)) < 0)
		goto out;
	if ((r = qreply_expect(reps[0], REDIS_REPLY_STATUS)) < 0)
		goto out;
	if ((r = all_queued(reps, n)) < 0)
		goto out;
	if (reps[n]->type == REDIS_REPLY_NIL) {
		snprintf(ret_owner, owner_len, "?");
		r = SG_ERR_EXISTS; /* the claim changed after the WATCH */
		goto out;
	}
	if ((r = qreply_expect(reps[n], REDIS_REPLY_ARRAY)) < 0)
		goto out;
	if (reps[n]->elements != n - 1 || !qreply_is_status(reps[n]->element[0], "OK")) {
		r = SG_ERR_QUEUE_PROTOCOL;
		goto out;
	}
	r = 0;
out:
	qreply_free_all(reps, nitems(reps));
	return r;
}

int
queue_release_result(struct queue *q, const char *job_id, const char *entry_id, const char *env,
    size_t env_len, int64_t ttl_s, const char *owner, int64_t done_ttl_s, char *ret_owner,
    size_t owner_len)
{
	size_t idlen;
	int r;

	/* Checked before the WATCH: nothing is sent for a bad call. */
	if (!release_args_ok(
		q, job_id, entry_id, env, ttl_s, owner, done_ttl_s, ret_owner, owner_len, &idlen))
		return SG_ERR_INVALID_ARGUMENT;
	r = queue_watch_claim(q, job_id, owner, ret_owner, owner_len);
	if (r == SG_ERR_NOT_FOUND)
		return SG_ERR_EXISTS; /* expired: "-" */
	if (r != 0)
		return r;
	return queue_release_watched(
	    q, job_id, entry_id, env, env_len, ttl_s, owner, done_ttl_s, ret_owner, owner_len);
}

int
queue_range(
    struct queue *q, const char *start, size_t count, struct queue_entry **ret, size_t *ret_n)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	char count_s[QUEUE_NUM_MAX];
	int r;

	if (ret == NULL || ret_n == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	*ret_n = 0;
	if (q == NULL || start == NULL || strlen(start) > QUEUE_ENTRY_ID_MAX + 1 || count == 0 ||
	    count > QUEUE_READ_COUNT_MAX ||
	    (strcmp(start, "-") != 0 &&
		!queue_is_entry_id(start + (start[0] == '('), strlen(start) - (start[0] == '('))))
		return SG_ERR_INVALID_ARGUMENT;
	snprintf(count_s, sizeof(count_s), "%zu", count);
	qcmd_str(&cmd, "XRANGE");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, start);
	qcmd_str(&cmd, "+");
	qcmd_str(&cmd, "COUNT");
	qcmd_str(&cmd, count_s);
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		goto out;
	r = qreply_range(rep, count, ret, ret_n);
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

int
queue_get_entry(struct queue *q, const char *entry_id, struct queue_entry **ret)
{
	struct queue_entry *e = NULL;
	size_t n = 0;
	int r;

	if (ret == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	if (entry_id == NULL || !queue_is_entry_id(entry_id, strlen(entry_id)))
		return SG_ERR_INVALID_ARGUMENT;
	if ((r = queue_range(q, entry_id, 1, &e, &n)) != 0)
		return r;
	if (n != 1 || strcmp(e[0].id, entry_id) != 0) {
		queue_entries_free(e, n);
		return SG_ERR_NOT_FOUND;
	}
	*ret = e;
	return 0;
}

int
queue_replace_result(struct queue *q, const char *job_id, const char *env, size_t env_len,
    int64_t ttl_s, const char *expected, size_t expected_len)
{
	struct queue_cmd cmds[6];
	redisReply *reps[6] = { NULL };
	redisReply *rep = NULL;
	char rkey[QUEUE_KEY_MAX + 1], dkey[QUEUE_KEY_MAX + 1], ttl[QUEUE_NUM_MAX];
	size_t rlen, dlen;
	int r, watching = 0;

	if (q == NULL || !queue_is_job_id(job_id) || env == NULL || expected == NULL ||
	    ttl_s <= 0 || ttl_s > QUEUE_TTL_S_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	memset(cmds, 0, sizeof(cmds));
	rlen = key_make(q, KEY_RESULT, job_id, rkey);
	dlen = key_make(q, KEY_DONE, job_id, dkey);
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_s);

	/* cmds[0] WATCH, cmds[1] GETRANGE: the value the caller decided on? */
	qcmd_str(&cmds[0], "WATCH");
	qcmd_arg(&cmds[0], rkey, rlen);
	qcmd_str(&cmds[1], "GETRANGE");
	qcmd_arg(&cmds[1], rkey, rlen);
	qcmd_str(&cmds[1], "0");
	qcmd_str(&cmds[1], QUEUE_RESULT_READ_MAX_STR);
	if ((r = qconn_pipeline(q, cmds, 2, reps)) < 0)
		goto out;
	watching = 1;
	if ((r = qreply_expect(reps[0], REDIS_REPLY_STATUS)) < 0 ||
	    (r = qreply_expect(reps[1], REDIS_REPLY_STRING)) < 0)
		goto out;
	if (reps[1]->len != expected_len || memcmp(reps[1]->str, expected, expected_len) != 0) {
		r = SG_ERR_EXISTS;
		goto out;
	}
	/* cmds[2..] MULTI, SET, LPUSH, EXPIRE; then EXEC. */
	memset(cmds, 0, sizeof(cmds));
	result_tx(cmds, rkey, rlen, env, env_len, dkey, dlen, ttl);
	qcmd_str(&cmds[4], "EXEC");
	qreply_free_all(reps, 2);
	memset(reps, 0, sizeof(reps));
	if ((r = qconn_pipeline(q, cmds, 5, reps)) < 0)
		goto out;
	watching = 0; /* EXEC ends the WATCH, whatever it answers */
	if ((r = qreply_expect(reps[0], REDIS_REPLY_STATUS)) < 0)
		goto out;
	if ((r = all_queued(reps, 4)) < 0)
		goto out;
	/* A nil EXEC: the value changed after the WATCH. */
	if (reps[4]->type == REDIS_REPLY_NIL) {
		r = SG_ERR_EXISTS;
		goto out;
	}
	if ((r = qreply_expect(reps[4], REDIS_REPLY_ARRAY)) < 0)
		goto out;
	if (reps[4]->elements != 3 || !qreply_is_status(reps[4]->element[0], "OK")) {
		r = SG_ERR_QUEUE_PROTOCOL;
		goto out;
	}
	r = 0;
out:
	if (watching && r != SG_ERR_QUEUE_UNAVAILABLE && r != SG_ERR_QUEUE_PROTOCOL) {
		struct queue_cmd un = { 0 };

		qcmd_str(&un, "UNWATCH");
		if (qconn_command(q, &un, &rep) == 0)
			freeReplyObject(rep);
	}
	qreply_free_all(reps, nitems(reps));
	return r;
}

/* --- operators (signet-admin) --- */

int
queue_consumers(struct queue *q, struct queue_consumer **ret, size_t *ret_n, int *ret_truncated)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	int r;

	if (ret == NULL || ret_n == NULL || ret_truncated == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	*ret_n = 0;
	*ret_truncated = 0;
	if (q == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	qcmd_str(&cmd, "XINFO");
	qcmd_str(&cmd, "CONSUMERS");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, QUEUE_GROUP);
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		return r;
	r = qreply_consumers(rep, ret, ret_n, ret_truncated);
	freeReplyObject(rep);
	return r;
}

int
queue_consumer_delete(struct queue *q, const char *consumer, uint64_t *ret_pending)
{
	struct queue_cmd cmd = { 0 };
	long long n = 0;
	int r;

	if (q == NULL || consumer == NULL || ret_pending == NULL ||
	    !queue_is_token(consumer, QUEUE_CONSUMER_MAX))
		return SG_ERR_INVALID_ARGUMENT;
	qcmd_str(&cmd, "XGROUP");
	qcmd_str(&cmd, "DELCONSUMER");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, QUEUE_GROUP);
	qcmd_str(&cmd, consumer);
	if ((r = command_int(q, &cmd, 0, LLONG_MAX, &n)) == 0)
		*ret_pending = (uint64_t)n;
	return r;
}

/* XPENDING <jobs> agents <start> <end> 1: at most one row. */
static int
pending_first(
    struct queue *q, const char *start, const char *end, struct queue_pending *ret, int *ret_found)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	int r;

	*ret_found = 0;
	qcmd_str(&cmd, "XPENDING");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, QUEUE_GROUP);
	qcmd_str(&cmd, start);
	qcmd_str(&cmd, end);
	qcmd_str(&cmd, "1");
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		return r;
	if (qreply_is_no_group(rep)) {
		r = 0;
		goto out;
	}
	if ((r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		goto out;
	r = SG_ERR_QUEUE_PROTOCOL;
	if (rep->elements > 1)
		goto out;
	if (rep->elements == 1) {
		if ((r = qreply_pending_detail(rep->element[0], ret)) < 0)
			goto out;
		*ret_found = 1;
	}
	r = 0;
out:
	freeReplyObject(rep);
	return r;
}

int
queue_pending_summary(
    struct queue *q, uint64_t *ret_count, struct queue_pending *ret_oldest, int *ret_has_oldest)
{
	struct queue_cmd cmd = { 0 };
	struct queue_pending p;
	redisReply *rep = NULL;
	uint64_t count = 0;
	int r, found = 0;

	if (q == NULL || ret_count == NULL || ret_oldest == NULL || ret_has_oldest == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	qcmd_str(&cmd, "XPENDING");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, QUEUE_GROUP);
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		return r;
	r = qreply_pending_summary(rep, &count, NULL);
	freeReplyObject(rep);
	if (r < 0)
		return r;
	memset(&p, 0, sizeof(p));
	if (count > 0 && (r = pending_first(q, "-", "+", &p, &found)) < 0)
		return r;
	*ret_count = count;
	*ret_has_oldest = found;
	if (found)
		*ret_oldest = p;
	return 0;
}

int
queue_pending_entry(struct queue *q, const char *entry_id, struct queue_pending *ret)
{
	struct queue_pending p;
	int r, found = 0;

	if (q == NULL || ret == NULL || entry_id == NULL ||
	    !queue_is_entry_id(entry_id, strnlen(entry_id, QUEUE_ENTRY_ID_MAX + 1)))
		return SG_ERR_INVALID_ARGUMENT;
	memset(&p, 0, sizeof(p));
	if ((r = pending_first(q, entry_id, entry_id, &p, &found)) < 0)
		return r;
	if (!found || strcmp(p.entry, entry_id) != 0)
		return SG_ERR_NOT_FOUND;
	*ret = p;
	return 0;
}

int
queue_dead_length(struct queue *q, uint64_t *ret)
{
	struct queue_cmd cmd = { 0 };
	char key[QUEUE_PREFIX_MAX + sizeof(KEY_DEAD)];
	long long n = 0;
	int r;

	if (q == NULL || ret == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	snprintf(key, sizeof(key), "%s%s", q->prefix, KEY_DEAD);
	qcmd_str(&cmd, "XLEN");
	qcmd_str(&cmd, key);
	if ((r = command_int(q, &cmd, 0, LLONG_MAX, &n)) == 0)
		*ret = (uint64_t)n;
	return r;
}

int
queue_done_length(struct queue *q, const char *job_id, uint64_t *ret)
{
	struct queue_cmd cmd = { 0 };
	char key[QUEUE_KEY_MAX + 1];
	long long n = 0;
	size_t klen;
	int r;

	if (q == NULL || ret == NULL || !queue_is_job_id(job_id))
		return SG_ERR_INVALID_ARGUMENT;
	klen = key_make(q, KEY_DONE, job_id, key);
	qcmd_str(&cmd, "LLEN");
	qcmd_arg(&cmd, key, klen);
	if ((r = command_int(q, &cmd, 0, LLONG_MAX, &n)) == 0)
		*ret = (uint64_t)n;
	return r;
}

int
queue_get_claim(struct queue *q, const char *job_id, char *ret_owner, size_t owner_len)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	char key[QUEUE_KEY_MAX + 1];
	size_t klen;
	int r;

	if (q == NULL || !queue_is_job_id(job_id) || ret_owner == NULL || owner_len == 0)
		return SG_ERR_INVALID_ARGUMENT;
	klen = key_make(q, KEY_CLAIM, job_id, key);
	qcmd_str(&cmd, "GET");
	qcmd_arg(&cmd, key, klen);
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		return r;
	if (rep->type == REDIS_REPLY_NIL) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = qreply_expect(rep, REDIS_REPLY_STRING)) < 0)
		goto out;
	qreply_copy_printable(rep, ret_owner, owner_len);
	r = 0;
out:
	freeReplyObject(rep);
	return r;
}

/* ---- submitter: what became of a submitted entry ---- */

int
queue_submit_entry(
    struct queue *q, const char *env, size_t env_len, char ret_id[QUEUE_ENTRY_ID_MAX + 1])
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	int r = SG_ERR_INTERNAL;

	if (q == NULL || env == NULL || ret_id == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	ret_id[0] = '\0';
	qcmd_str(&cmd, "XADD");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmd, "*");
	qcmd_str(&cmd, "env");
	qcmd_arg(&cmd, env, env_len);
	if ((r = qconn_command(q, &cmd, &rep)) < 0 ||
	    (r = qreply_expect(rep, REDIS_REPLY_STRING)) < 0)
		goto out;
	if (!queue_is_entry_id(rep->str, rep->len)) {
		r = SG_ERR_QUEUE_PROTOCOL;
		goto out;
	}
	memcpy(ret_id, rep->str, rep->len);
	ret_id[rep->len] = '\0';
	r = 0;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

int
queue_entry_state(struct queue *q, const char *entry_id, struct queue_entry_state *ret)
{
	struct queue_cmd cmds[2];
	redisReply *reps[2] = { NULL };
	char last[QUEUE_ENTRY_ID_MAX + 1];
	size_t idlen;
	int r = SG_ERR_INTERNAL, found = 0;

	if (ret != NULL)
		memset(ret, 0, sizeof(*ret));
	if (q == NULL || ret == NULL || entry_id == NULL ||
	    !queue_is_entry_id(entry_id, (idlen = strnlen(entry_id, QUEUE_ENTRY_ID_MAX + 1))))
		return SG_ERR_INVALID_ARGUMENT;
	memset(cmds, 0, sizeof(cmds));
	qcmd_str(&cmds[0], "XINFO");
	qcmd_str(&cmds[0], "GROUPS");
	qcmd_arg(&cmds[0], q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmds[1], "XPENDING");
	qcmd_arg(&cmds[1], q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmds[1], QUEUE_GROUP);
	qcmd_arg(&cmds[1], entry_id, idlen);
	qcmd_arg(&cmds[1], entry_id, idlen);
	qcmd_str(&cmds[1], "1");
	if ((r = qconn_pipeline(q, cmds, nitems(cmds), reps)) < 0)
		goto out;
	if ((r = qreply_group_last_id(reps[0], QUEUE_GROUP, last, &found)) < 0)
		goto out;
	if (!found) {
		r = 0; /* no group: XPENDING's NOGROUP error says nothing more */
		goto out;
	}
	ret->group = 1;
	ret->delivered = queue_entry_id_cmp(last, strlen(last), entry_id, idlen) >= 0;
	if ((r = qreply_entry_pending(reps[1], entry_id, ret)) < 0)
		goto out;
	/* In the PEL means delivered, whatever last-delivered-id says. */
	if (ret->pending)
		ret->delivered = 1;
	r = 0;
out:
	if (r < 0) {
		memset(ret, 0, sizeof(*ret));
	}
	qreply_free_all(reps, nitems(reps));
	return r;
}

int
queue_entry_remove(struct queue *q, const char *entry_id, int *ret_removed)
{
	struct queue_cmd cmd = { 0 };
	long long n = 0;
	size_t idlen;
	int r;

	if (ret_removed != NULL)
		*ret_removed = 0;
	if (q == NULL || ret_removed == NULL || entry_id == NULL ||
	    !queue_is_entry_id(entry_id, (idlen = strnlen(entry_id, QUEUE_ENTRY_ID_MAX + 1))))
		return SG_ERR_INVALID_ARGUMENT;
	qcmd_str(&cmd, "XDEL");
	qcmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	qcmd_arg(&cmd, entry_id, idlen);
	if ((r = command_int(q, &cmd, 0, 1, &n)) == 0)
		*ret_removed = (int)n;
	return r;
}

/* ---- metrics: how old the work in the stream is ---- */

int
queue_oldest(struct queue *q, struct queue_oldest *ret)
{
	struct queue_cmd cmds[2], range = { 0 };
	redisReply *reps[2] = { NULL }, *rep = NULL;
	char min_id[QUEUE_ENTRY_ID_MAX + 1], last_id[QUEUE_ENTRY_ID_MAX + 1];
	char start[QUEUE_ENTRY_ID_MAX + 2], next_id[QUEUE_ENTRY_ID_MAX + 1];
	struct queue_oldest o = { 0 };
	int r = SG_ERR_INTERNAL, found = 0;

	if (q == NULL || ret == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	memset(cmds, 0, sizeof(cmds));
	qcmd_str(&cmds[0], "XPENDING");
	qcmd_arg(&cmds[0], q->jobs_key, q->jobs_key_len);
	qcmd_str(&cmds[0], QUEUE_GROUP);
	qcmd_str(&cmds[1], "XINFO");
	qcmd_str(&cmds[1], "GROUPS");
	qcmd_arg(&cmds[1], q->jobs_key, q->jobs_key_len);
	if ((r = qconn_pipeline(q, cmds, nitems(cmds), reps)) < 0)
		goto out;
	/* SG_ERR_NOT_FOUND without the group (the agent makes it at start). */
	if ((r = qreply_pending_summary(reps[0], &o.pending, min_id)) < 0 ||
	    (r = qreply_group_last_id(reps[1], QUEUE_GROUP, last_id, &found)) < 0)
		goto out;
	if (!found) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if (min_id[0] != '\0' && (r = queue_entry_id_ms(min_id, strlen(min_id), &o.pending_ms)) < 0)
		goto out;
	/* Entries are delivered in id order: the first one after the group's
	 * last delivered id is the oldest that no agent has taken. */
	snprintf(start, sizeof(start), "(%s", last_id);
	qcmd_str(&range, "XRANGE");
	qcmd_arg(&range, q->jobs_key, q->jobs_key_len);
	qcmd_str(&range, start);
	qcmd_str(&range, "+");
	qcmd_str(&range, "COUNT");
	qcmd_str(&range, "1");
	if ((r = qconn_command(q, &range, &rep)) < 0 || (r = qreply_first_id(rep, next_id)) < 0)
		goto out;
	if (next_id[0] != '\0' &&
	    (r = queue_entry_id_ms(next_id, strlen(next_id), &o.undelivered_ms)) < 0)
		goto out;
	*ret = o;
	r = 0;
out:
	qreply_free_all(reps, nitems(reps));
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}
