/*
 * queue_redis.c — the queue of SPEC §5 on one blocking hiredis connection.
 *
 * Keys (the prefix is 1..QUEUE_PREFIX_MAX printable ASCII bytes):
 *
 *   <prefix>jobs          stream; the one field "env" holds a job envelope
 *   <prefix>result:<id>   string with a TTL; <id> is JOB_ID_LEN lowercase hex
 *   <prefix>done:<id>     list with the same TTL; one "1" per result write
 *
 * The server is not trusted.  Every reply is checked for its type and its
 * element count before a field is read, and everything that does not have
 * the shape Redis itself produces is SG_ERR_QUEUE_PROTOCOL.  Hiredis errors
 * are translated here and nowhere else:
 *
 *   no reply, c->err I/O, EOF, timeout  SG_ERR_QUEUE_UNAVAILABLE (the context
 *                                       is dead; queue_reconnect() next)
 *   no reply, c->err protocol           SG_ERR_QUEUE_PROTOCOL (also dead)
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
#include "util.h"

#define QUEUE_TIMEOUT_MS_DEFAULT 5000
#define QUEUE_TIMEOUT_MS_MAX (3600 * 1000)         /* connect/command timeout */
#define QUEUE_TTL_S_MAX ((int64_t)100 * 365 * 86400) /* a result's lifetime */
#define QUEUE_ERRSTR_LOG_MAX 120                  /* bytes of a server error we log */
#define QUEUE_ARGS_MAX (8 + QUEUE_CLAIM_MAX)     /* arguments of one command */
#define QUEUE_PIPELINE_MAX 3                      /* commands sent at once */
#define QUEUE_NUM_MAX 24                          /* a decimal number as text */

#define KEY_JOBS "jobs"
#define KEY_RESULT "result:"
#define KEY_DONE "done:"
#define KEY_DEAD "dead"
#define KEY_CLAIM "claim:"
#define QUEUE_HOST_MAX 255
/* The longest key: the prefix, "result:" and a job id. */
#define QUEUE_KEY_MAX (QUEUE_PREFIX_MAX + sizeof(KEY_RESULT) - 1 + JOB_ID_LEN)

struct queue {
	struct queue_url *url; /* its password has moved to ->password */
	char *password;        /* NULL for none; wiped in queue_close() */
	size_t password_len;
	char prefix[QUEUE_PREFIX_MAX + 1];
	size_t prefix_len;
	char jobs_key[QUEUE_PREFIX_MAX + sizeof(KEY_JOBS)];
	size_t jobs_key_len;
	int timeout_ms;
	redisContext *c; /* NULL after a failed (re)connect */
};

/* One command as an argument vector. */
struct queue_cmd {
	int argc;
	const char *argv[QUEUE_ARGS_MAX];
	size_t len[QUEUE_ARGS_MAX];
};

static void
cmd_arg(struct queue_cmd *cmd, const char *s, size_t len)
{
	/* The callers pass a fixed number of arguments; should one ever pass
	 * too many, the command is marked invalid and is never sent. */
	if (cmd->argc < 0 || cmd->argc >= QUEUE_ARGS_MAX) {
		cmd->argc = -1;
		return;
	}
	cmd->argv[cmd->argc] = s;
	cmd->len[cmd->argc] = len;
	cmd->argc++;
}

static void
cmd_str(struct queue_cmd *cmd, const char *s)
{
	cmd_arg(cmd, s, strlen(s));
}

static struct timeval
ms_to_tv(int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

static int
is_printable_token(const char *s, size_t max)
{
	size_t i, len = strnlen(s, max + 1);

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
is_job_id(const char *id)
{
	return id != NULL && strnlen(id, JOB_ID_LEN + 1) == JOB_ID_LEN && is_lower_hex(id, JOB_ID_LEN);
}

/* A stream entry id as Redis writes it: "<ms>-<seq>", both decimal. */
static int
is_entry_id(const char *s, size_t len)
{
	size_t i, dash = 0, ndash = 0;

	if (len < 3 || len > QUEUE_ENTRY_ID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '-') {
			dash = i;
			ndash++;
		} else if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return ndash == 1 && dash > 0 && dash < len - 1;
}

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

/* The error of a call that got no reply; the context is unusable after it. */
static int
conn_error(const struct queue *q)
{
	char esc[QUEUE_ERRSTR_LOG_MAX + 8];

	if (q->c == NULL || q->c->err == 0)
		return SG_ERR_QUEUE_UNAVAILABLE;
	log_debug("redis connection: %s",
	    log_escape(q->c->errstr, strnlen(q->c->errstr, sizeof(q->c->errstr)), esc, sizeof(esc)));
	switch (q->c->err) {
	case REDIS_ERR_OOM:
		return SG_ERR_ALLOC;
	case REDIS_ERR_PROTOCOL:
		return SG_ERR_QUEUE_PROTOCOL;
	default: /* REDIS_ERR_IO (timeouts included), REDIS_ERR_EOF, REDIS_ERR_OTHER */
		return SG_ERR_QUEUE_UNAVAILABLE;
	}
}

static int
conn_ready(const struct queue *q)
{
	if (q->c == NULL || q->c->err != 0)
		return SG_ERR_QUEUE_UNAVAILABLE;
	return 0;
}

static int
has_prefix(const redisReply *rep, const char *p)
{
	size_t plen = strlen(p);

	return rep->str != NULL && rep->len >= plen && memcmp(rep->str, p, plen) == 0;
}

/* An error reply (-ERR ...) as our error code. */
static int
reply_error(const redisReply *rep)
{
	static const char *const auth_errors[] = {
		"NOAUTH", "WRONGPASS", "NOPERM", "ERR invalid password",
	};
	char esc[QUEUE_ERRSTR_LOG_MAX + 8];
	size_t i;

	log_debug("redis replied: %s", log_escape(rep->str != NULL ? rep->str : "", rep->str != NULL ? rep->len : 0,
	    esc, sizeof(esc)));
	for (i = 0; i < sizeof(auth_errors) / sizeof(auth_errors[0]); i++)
		if (has_prefix(rep, auth_errors[i]))
			return SG_ERR_QUEUE_AUTH;
	/* A master demoted by a failover, or one still loading: reconnect
	 * (through the sentinels, which name the new master). */
	if (has_prefix(rep, "READONLY") || has_prefix(rep, "LOADING") || has_prefix(rep, "MASTERDOWN"))
		return SG_ERR_QUEUE_UNAVAILABLE;
	return SG_ERR_QUEUE_PROTOCOL;
}

/* 0 if rep has the type; the error reply's code or SG_ERR_QUEUE_PROTOCOL. */
static int
reply_expect(const redisReply *rep, int type)
{
	if (rep->type == type)
		return 0;
	if (rep->type == REDIS_REPLY_ERROR)
		return reply_error(rep);
	log_debug("redis reply of type %d where %d was expected", rep->type, type);
	return SG_ERR_QUEUE_PROTOCOL;
}

static int
reply_is_status(const redisReply *rep, const char *s)
{
	return rep->type == REDIS_REPLY_STATUS && rep->str != NULL && rep->len == strlen(s) &&
	    memcmp(rep->str, s, rep->len) == 0;
}

static void
replies_free(redisReply **reps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (reps[i] != NULL)
			freeReplyObject(reps[i]);
		reps[i] = NULL;
	}
}

/*
 * Sends n commands at once and reads their n replies into reps (all NULL
 * on error).  Error replies are replies: the caller looks at them.
 */
static int
pipeline(struct queue *q, struct queue_cmd *cmds, size_t n, redisReply **reps)
{
	void *rep;
	size_t i;
	int r = SG_ERR_INTERNAL;

	for (i = 0; i < n; i++)
		reps[i] = NULL;
	if ((r = conn_ready(q)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (cmds[i].argc <= 0) {
			r = SG_ERR_INTERNAL;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (redisAppendCommandArgv(q->c, cmds[i].argc, cmds[i].argv, cmds[i].len) != REDIS_OK) {
			/* Only an allocation can fail here; the context is now in
			 * an unknown state, so drop it. */
			redisFree(q->c);
			q->c = NULL;
			r = SG_ERR_ALLOC;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		rep = NULL;
		if (redisGetReply(q->c, &rep) != REDIS_OK || rep == NULL) {
			r = conn_error(q);
			goto out;
		}
		reps[i] = rep;
	}
	r = 0;
out:
	if (r < 0)
		replies_free(reps, n);
	return r;
}

static int
command(struct queue *q, struct queue_cmd *cmd, redisReply **ret)
{
	return pipeline(q, cmd, 1, ret);
}

static int
set_timeout(struct queue *q, int64_t ms)
{
	if (redisSetTimeout(q->c, ms_to_tv(ms)) != REDIS_OK)
		return conn_error(q);
	return 0;
}

/* Writes all of buf to the connection's socket, without SIGPIPE. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_debug("redis: write: %s", strerror(errno));
			return SG_ERR_QUEUE_UNAVAILABLE;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
queue_auth(struct queue *q)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	void *aux = NULL;
	char *buf = NULL;
	size_t blen = 0;
	int len, r = SG_ERR_INTERNAL;

	cmd_str(&cmd, "AUTH");
	if (q->url->user != NULL)
		cmd_str(&cmd, q->url->user);
	cmd_arg(&cmd, q->password, q->password_len);
	if (cmd.argc <= 0) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	if ((len = redisFormatCommandArgv(&buf, cmd.argc, cmd.argv, cmd.len)) < 0 || buf == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	blen = (size_t)len;
	if ((r = write_all(q->c->fd, buf, blen)) < 0)
		goto out;
	/* The output buffer is empty: this only reads the reply. */
	if (redisGetReply(q->c, &aux) != REDIS_OK || aux == NULL) {
		r = conn_error(q);
		goto out;
	}
	rep = aux;
	if (rep->type == REDIS_REPLY_ERROR) {
		/* Whatever the words (WRONGPASS, "AUTH called without any
		 * password configured" ...), the server refused us. */
		(void)reply_error(rep);
		r = SG_ERR_QUEUE_AUTH;
		goto out;
	}
	if (!reply_is_status(rep, "OK")) {
		r = SG_ERR_QUEUE_PROTOCOL;
		goto out;
	}
	r = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf, blen);
		redisFreeCommand(buf);
	}
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

/*
 * Asks the sentinels, in order, for the address of the master.  Each answer
 * is checked (two strings, a host of sane length, a port in range).
 */
static int
sentinel_master(struct queue *q, char host[QUEUE_HOST_MAX + 1], int *ret_port)
{
	struct timeval tv = ms_to_tv(q->timeout_ms);
	size_t i;
	int r = SG_ERR_QUEUE_UNAVAILABLE;

	for (i = 0; i < q->url->nsentinels; i++) {
		const struct queue_url *s = q->url->sentinels[i];
		redisContext *c = redisConnectWithTimeout(s->host, s->port, tv);
		redisReply *rep = NULL;
		uint64_t port;

		if (c == NULL || c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
			log_debug("sentinel %s:%d unreachable", s->host, s->port);
			goto next;
		}
		rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", q->url->master);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_STRING ||
		    rep->element[0]->len == 0 || rep->element[0]->len > QUEUE_HOST_MAX ||
		    memchr(rep->element[0]->str, '\0', rep->element[0]->len) != NULL ||
		    parse_u64(rep->element[1]->str, 65535, &port) < 0 || port == 0) {
			log_debug("sentinel %s:%d does not know master %s", s->host, s->port,
			    q->url->master);
			goto next;
		}
		memcpy(host, rep->element[0]->str, rep->element[0]->len);
		host[rep->element[0]->len] = '\0';
		*ret_port = (int)port;
		r = 0;
	next:
		if (rep != NULL)
			freeReplyObject(rep);
		if (c != NULL)
			redisFree(c);
		if (r == 0)
			return 0;
	}
	return r;
}

static int
queue_connect(struct queue *q)
{
	struct timeval tv = ms_to_tv(q->timeout_ms);
	struct queue_cmd cmd;
	redisReply *rep = NULL;
	char db[QUEUE_NUM_MAX];
	int r = SG_ERR_INTERNAL;

	char mhost[QUEUE_HOST_MAX + 1];
	int mport = 0;

	if (q->url->is_sentinel) {
		if ((r = sentinel_master(q, mhost, &mport)) < 0)
			goto out;
		q->c = redisConnectWithTimeout(mhost, mport, tv);
	} else if (q->url->is_unix)
		q->c = redisConnectUnixWithTimeout(q->url->path, tv);
	else
		q->c = redisConnectWithTimeout(q->url->host, q->url->port, tv);
	if (q->c == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (q->c->err != 0) {
		r = conn_error(q);
		if (r == SG_ERR_QUEUE_PROTOCOL)
			r = SG_ERR_QUEUE_UNAVAILABLE;
		goto out;
	}
	/* Connecting used the timeout; commands need it on the socket too. */
	if ((r = set_timeout(q, q->timeout_ms)) < 0)
		goto out;
	if (q->password != NULL && (r = queue_auth(q)) < 0)
		goto out;
	if (q->url->db != 0) {
		memset(&cmd, 0, sizeof(cmd));
		snprintf(db, sizeof(db), "%d", q->url->db);
		cmd_str(&cmd, "SELECT");
		cmd_str(&cmd, db);
		if ((r = command(q, &cmd, &rep)) < 0 || (r = reply_expect(rep, REDIS_REPLY_STATUS)) < 0)
			goto out;
		freeReplyObject(rep);
		rep = NULL;
	}
	/* A server that wants a password we did not give says so here, at
	 * open time, rather than at the first real command. */
	memset(&cmd, 0, sizeof(cmd));
	cmd_str(&cmd, "PING");
	if ((r = command(q, &cmd, &rep)) < 0 || (r = reply_expect(rep, REDIS_REPLY_STATUS)) < 0)
		goto out;
	if (!reply_is_status(rep, "PONG")) {
		r = SG_ERR_QUEUE_PROTOCOL;
		goto out;
	}
	/* What the sentinels named may have just been demoted: write only to
	 * a server that says it is the master. */
	if (q->url->is_sentinel) {
		freeReplyObject(rep);
		rep = NULL;
		memset(&cmd, 0, sizeof(cmd));
		cmd_str(&cmd, "ROLE");
		if ((r = command(q, &cmd, &rep)) < 0 || (r = reply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
			goto out;
		if (rep->elements < 1 || rep->element[0]->type != REDIS_REPLY_STRING ||
		    strcmp(rep->element[0]->str, "master") != 0) {
			log_debug("sentinel named a server that is not a master");
			r = SG_ERR_QUEUE_UNAVAILABLE;
			goto out;
		}
	}
	r = 0;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	if (r < 0 && q->c != NULL) {
		redisFree(q->c);
		q->c = NULL;
	}
	return r;
}

void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	if (q->c != NULL)
		redisFree(q->c);
	freezero(q->password, q->password_len + 1);
	queue_url_free(q->url);
	free(q);
}

int
queue_open(const struct queue_opts *opts, struct queue **ret)
{
	struct queue *q = NULL;
	const char *prefix;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || opts == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	*ret = NULL;
	if (opts->url == NULL) {
		r = SG_ERR_CONFIG;
		goto out;
	}
	prefix = opts->prefix != NULL ? opts->prefix : QUEUE_DEFAULT_PREFIX;
	if (!is_printable_token(prefix, QUEUE_PREFIX_MAX)) {
		log_debug("invalid queue prefix");
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (opts->timeout_ms < 0 || opts->timeout_ms > QUEUE_TIMEOUT_MS_MAX) {
		r = SG_ERR_CONFIG;
		goto out;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	q->timeout_ms = opts->timeout_ms != 0 ? opts->timeout_ms : QUEUE_TIMEOUT_MS_DEFAULT;
	q->prefix_len = strlen(prefix);
	memcpy(q->prefix, prefix, q->prefix_len + 1);
	memcpy(q->jobs_key, prefix, q->prefix_len);
	memcpy(q->jobs_key + q->prefix_len, KEY_JOBS, sizeof(KEY_JOBS));
	q->jobs_key_len = q->prefix_len + sizeof(KEY_JOBS) - 1;

	if ((r = queue_url_parse(opts->url, &q->url)) < 0)
		goto out;

	if (opts->password_file != NULL) {
		r = read_secret_file(opts->password_file, &q->password, &q->password_len);
		if (r < 0) {
			log_debug_r(r, "redis password file");
			if (r != SG_ERR_SECRET_FILE && r != SG_ERR_ALLOC)
				r = SG_ERR_CONFIG;
			goto out;
		}
		if (q->password_len > QUEUE_PASSWORD_MAX) {
			log_debug("redis password longer than %d bytes", QUEUE_PASSWORD_MAX);
			r = SG_ERR_CONFIG;
			goto out;
		}
	} else if (q->url->password != NULL) {
		q->password = q->url->password;
		q->password_len = strlen(q->password);
		q->url->password = NULL;
	}
	/* The file wins over the URL; the URL's copy is not kept. */
	if (q->url->password != NULL) {
		freezero(q->url->password, strlen(q->url->password) + 1);
		q->url->password = NULL;
	}
	if (q->url->user != NULL && q->password == NULL) {
		log_debug("redis user without a password");
		r = SG_ERR_CONFIG;
		goto out;
	}

	if ((r = queue_connect(q)) < 0)
		goto out;
	*ret = q;
	q = NULL;
	r = 0;
out:
	queue_close(q);
	return r;
}

int
queue_reconnect(struct queue *q)
{
	if (q == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (q->c != NULL) {
		redisFree(q->c);
		q->c = NULL;
	}
	return queue_connect(q);
}

int
queue_submit(struct queue *q, const char *env, size_t env_len)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	int r = SG_ERR_INTERNAL;

	if (q == NULL || env == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	cmd_str(&cmd, "XADD");
	cmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	cmd_str(&cmd, "*");
	cmd_str(&cmd, "env");
	cmd_arg(&cmd, env, env_len);
	if ((r = command(q, &cmd, &rep)) < 0 || (r = reply_expect(rep, REDIS_REPLY_STRING)) < 0)
		goto out;
	r = 0;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

int
queue_wait_done(struct queue *q, const char *job_id, int timeout_ms)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	char key[QUEUE_KEY_MAX + 1], secs[QUEUE_NUM_MAX];
	size_t klen;
	int r = SG_ERR_INTERNAL;

	if (q == NULL || !is_job_id(job_id) || timeout_ms <= 0) {
		/* BLPOP with 0 would wait for ever. */
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if ((r = conn_ready(q)) < 0)
		goto out;
	klen = key_make(q, KEY_DONE, job_id, key);
	/* Redis 6+ takes decimal seconds with millisecond resolution. */
	snprintf(secs, sizeof(secs), "%d.%03d", timeout_ms / 1000, timeout_ms % 1000);
	cmd_str(&cmd, "BLPOP");
	cmd_arg(&cmd, key, klen);
	cmd_str(&cmd, secs);

	if ((r = set_timeout(q, (int64_t)timeout_ms + q->timeout_ms)) < 0)
		goto out;
	r = command(q, &cmd, &rep);
	if (r == 0 || conn_ready(q) == 0) {
		int r2 = set_timeout(q, q->timeout_ms);

		if (r == 0)
			r = r2;
	}
	if (r < 0)
		goto out;

	if (rep->type == REDIS_REPLY_NIL) {
		r = SG_ERR_TIMEOUT;
		goto out;
	}
	if ((r = reply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
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
	if (q == NULL || !is_job_id(job_id)) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	klen = key_make(q, KEY_RESULT, job_id, key);
	/* GETRANGE, not GET: whoever can write to Redis could store a value of
	 * hundreds of MB there; one byte past the envelope limit is enough to
	 * know it is not ours. */
	cmd_str(&cmd, "GETRANGE");
	cmd_arg(&cmd, key, klen);
	cmd_str(&cmd, "0");
	cmd_str(&cmd, QUEUE_RESULT_READ_MAX_STR);
	if ((r = command(q, &cmd, &rep)) < 0)
		goto out;
	/* GETRANGE answers "" for a missing key (a result is never empty). */
	if (rep->type == REDIS_REPLY_NIL ||
	    (rep->type == REDIS_REPLY_STRING && rep->len == 0)) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = reply_expect(rep, REDIS_REPLY_STRING)) < 0)
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
	cmd_str(&cmd, "XGROUP");
	cmd_str(&cmd, "CREATE");
	cmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	cmd_str(&cmd, QUEUE_GROUP);
	cmd_str(&cmd, "0");
	cmd_str(&cmd, "MKSTREAM");
	if ((r = command(q, &cmd, &rep)) < 0)
		goto out;
	if (rep->type == REDIS_REPLY_ERROR && has_prefix(rep, "BUSYGROUP")) {
		r = 0;
		goto out;
	}
	if ((r = reply_expect(rep, REDIS_REPLY_STATUS)) < 0)
		goto out;
	r = 0;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

void
queue_entries_free(struct queue_entry *e, size_t n)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < n; i++)
		free(e[i].env);
	free(e);
}

/*
 * One entry: [id, [field, value, ...]].  The id comes from the server, not
 * from the writer (XADD refuses ids that are not "<ms>-<seq>"), so a bad id
 * or a bad entry shape means the server is not speaking the protocol we
 * know: the whole read fails with SG_ERR_QUEUE_PROTOCOL rather than skipping
 * the entry, which we could not acknowledge anyway.  The field list is the
 * writer's: anything but exactly one "env" with a string value is an entry
 * with env NULL, for the caller to account for and acknowledge.
 */
static int
entry_parse(const redisReply *rep, struct queue_entry *e)
{
	const redisReply *id, *fields;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
		return SG_ERR_QUEUE_PROTOCOL;
	id = rep->element[0];
	fields = rep->element[1];
	if (id->type != REDIS_REPLY_STRING || !is_entry_id(id->str, id->len))
		return SG_ERR_QUEUE_PROTOCOL;
	memcpy(e->id, id->str, id->len);
	e->id[id->len] = '\0';
	e->env = NULL;
	e->env_len = 0;
	e->deliveries = 1;
	if (fields->type != REDIS_REPLY_ARRAY || fields->elements != 2 ||
	    fields->element[0]->type != REDIS_REPLY_STRING || fields->element[0]->len != 3 ||
	    memcmp(fields->element[0]->str, "env", 3) != 0 || fields->element[1]->type != REDIS_REPLY_STRING) {
		log_debug("stream entry %s without a lone \"env\" field", e->id);
		return 0;
	}
	if ((e->env = malloc(fields->element[1]->len + 1)) == NULL)
		return SG_ERR_ALLOC;
	if (fields->element[1]->len > 0)
		memcpy(e->env, fields->element[1]->str, fields->element[1]->len);
	e->env[fields->element[1]->len] = '\0';
	e->env_len = fields->element[1]->len;
	return 0;
}

/* [[stream name, [entry, ...]]], or nil when the block ran out. */
static int
read_parse(const struct queue *q, const redisReply *rep, size_t count, struct queue_entry **ret,
    size_t *ret_n)
{
	const redisReply *stream, *name, *list;
	struct queue_entry *e = NULL;
	size_t i, n = 0;
	int r = SG_ERR_INTERNAL;

	if (rep->type == REDIS_REPLY_NIL) {
		r = 0;
		goto out;
	}
	if ((r = reply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		goto out;
	r = SG_ERR_QUEUE_PROTOCOL;
	if (rep->elements != 1)
		goto out;
	stream = rep->element[0];
	if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2)
		goto out;
	name = stream->element[0];
	list = stream->element[1];
	if (name->type != REDIS_REPLY_STRING || name->len != q->jobs_key_len ||
	    memcmp(name->str, q->jobs_key, name->len) != 0)
		goto out;
	if (list->type != REDIS_REPLY_ARRAY || list->elements > count)
		goto out;
	n = list->elements;
	if (n == 0) {
		r = 0;
		goto out;
	}
	if ((e = calloc(n, sizeof(*e))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((r = entry_parse(list->element[i], &e[i])) < 0)
			goto out;
	r = 0;
out:
	if (r < 0) {
		queue_entries_free(e, n);
		return r;
	}
	*ret = e;
	*ret_n = e != NULL ? n : 0;
	return 0;
}

int
queue_read(struct queue *q, const char *consumer, size_t count, int block_ms, struct queue_entry **ret,
    size_t *ret_n)
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
	if (q == NULL || consumer == NULL || !is_printable_token(consumer, QUEUE_CONSUMER_MAX) ||
	    count == 0 || block_ms < 0) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if ((r = conn_ready(q)) < 0)
		goto out;
	if (count > QUEUE_READ_COUNT_MAX)
		count = QUEUE_READ_COUNT_MAX;
	snprintf(count_s, sizeof(count_s), "%zu", count);
	snprintf(block_s, sizeof(block_s), "%d", block_ms);
	cmd_str(&cmd, "XREADGROUP");
	cmd_str(&cmd, "GROUP");
	cmd_str(&cmd, QUEUE_GROUP);
	cmd_str(&cmd, consumer);
	cmd_str(&cmd, "COUNT");
	cmd_str(&cmd, count_s);
	if (block_ms > 0) {
		cmd_str(&cmd, "BLOCK");
		cmd_str(&cmd, block_s);
	}
	cmd_str(&cmd, "STREAMS");
	cmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	cmd_str(&cmd, ">");

	if (block_ms > 0 && (r = set_timeout(q, (int64_t)block_ms + q->timeout_ms)) < 0)
		goto out;
	r = command(q, &cmd, &rep);
	/* The group is gone (a Redis restarted without persistence, a promoted
	 * replica that never saw it): make it again at id 0, so that nothing
	 * in the stream is skipped, and read again. */
	if (r == 0 && rep->type == REDIS_REPLY_ERROR && has_prefix(rep, "NOGROUP")) {
		freeReplyObject(rep);
		rep = NULL;
		log_debug("consumer group missing: creating it again");
		if ((r = queue_group_create(q)) == 0)
			r = command(q, &cmd, &rep);
	}
	if (block_ms > 0 && (r == 0 || conn_ready(q) == 0)) {
		int r2 = set_timeout(q, q->timeout_ms);

		if (r == 0)
			r = r2;
	}
	if (r < 0)
		goto out;
	r = read_parse(q, rep, count, ret, ret_n);
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}

int
queue_put_result(struct queue *q, const char *job_id, const char *env, size_t env_len, int64_t ttl_s, int nx)
{
	struct queue_cmd cmds[QUEUE_PIPELINE_MAX];
	redisReply *reps[QUEUE_PIPELINE_MAX] = { NULL };
	char rkey[QUEUE_KEY_MAX + 1], dkey[QUEUE_KEY_MAX + 1], ttl[QUEUE_NUM_MAX];
	size_t rlen, dlen;
	int r = SG_ERR_INTERNAL;

	if (q == NULL || !is_job_id(job_id) || env == NULL || ttl_s <= 0 || ttl_s > QUEUE_TTL_S_MAX) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	memset(cmds, 0, sizeof(cmds));
	rlen = key_make(q, KEY_RESULT, job_id, rkey);
	dlen = key_make(q, KEY_DONE, job_id, dkey);
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_s);

	/* cmds[0] SET, cmds[1] LPUSH, cmds[2] EXPIRE. */
	cmd_str(&cmds[0], "SET");
	cmd_arg(&cmds[0], rkey, rlen);
	cmd_arg(&cmds[0], env, env_len);
	cmd_str(&cmds[0], "EX");
	cmd_str(&cmds[0], ttl);
	if (nx)
		cmd_str(&cmds[0], "NX");
	cmd_str(&cmds[1], "LPUSH");
	cmd_arg(&cmds[1], dkey, dlen);
	cmd_str(&cmds[1], "1");
	cmd_str(&cmds[2], "EXPIRE");
	cmd_arg(&cmds[2], dkey, dlen);
	cmd_str(&cmds[2], ttl);

	if (nx) {
		/* Whether to push depends on this reply: one round trip more. */
		if ((r = command(q, &cmds[0], &reps[0])) < 0)
			goto out;
		if (reps[0]->type == REDIS_REPLY_NIL) {
			r = SG_ERR_EXISTS;
			goto out;
		}
		if ((r = reply_expect(reps[0], REDIS_REPLY_STATUS)) < 0)
			goto out;
		if (!reply_is_status(reps[0], "OK")) {
			r = SG_ERR_QUEUE_PROTOCOL;
			goto out;
		}
		if ((r = pipeline(q, &cmds[1], 2, &reps[1])) < 0)
			goto out;
	} else {
		/* SET cannot meet a key of the wrong type: all three at once. */
		if ((r = pipeline(q, cmds, 3, reps)) < 0)
			goto out;
		if ((r = reply_expect(reps[0], REDIS_REPLY_STATUS)) < 0)
			goto out;
		if (!reply_is_status(reps[0], "OK")) {
			r = SG_ERR_QUEUE_PROTOCOL;
			goto out;
		}
	}
	if ((r = reply_expect(reps[1], REDIS_REPLY_INTEGER)) < 0 ||
	    (r = reply_expect(reps[2], REDIS_REPLY_INTEGER)) < 0)
		goto out;
	r = 0;
out:
	replies_free(reps, QUEUE_PIPELINE_MAX);
	return r;
}

int
queue_ack(struct queue *q, const char *entry_id)
{
	struct queue_cmd cmds[2];
	redisReply *reps[2] = { NULL };
	size_t idlen;
	int r = SG_ERR_INTERNAL;

	if (q == NULL || entry_id == NULL ||
	    !is_entry_id(entry_id, (idlen = strnlen(entry_id, QUEUE_ENTRY_ID_MAX + 1)))) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	memset(cmds, 0, sizeof(cmds));
	cmd_str(&cmds[0], "XACK");
	cmd_arg(&cmds[0], q->jobs_key, q->jobs_key_len);
	cmd_str(&cmds[0], QUEUE_GROUP);
	cmd_arg(&cmds[0], entry_id, idlen);
	cmd_str(&cmds[1], "XDEL");
	cmd_arg(&cmds[1], q->jobs_key, q->jobs_key_len);
	cmd_arg(&cmds[1], entry_id, idlen);
	if ((r = pipeline(q, cmds, 2, reps)) < 0)
		goto out;
	if ((r = reply_expect(reps[0], REDIS_REPLY_INTEGER)) < 0 ||
	    (r = reply_expect(reps[1], REDIS_REPLY_INTEGER)) < 0)
		goto out;
	r = 0;
out:
	replies_free(reps, 2);
	return r;
}

/* One XPENDING row: [id, consumer, idle ms, deliveries]. */
static int
pending_row(const redisReply *row, const char **ret_id, size_t *ret_len, uint64_t *ret_deliveries)
{
	if (row->type != REDIS_REPLY_ARRAY || row->elements != 4 ||
	    row->element[0]->type != REDIS_REPLY_STRING ||
	    !is_entry_id(row->element[0]->str, row->element[0]->len) ||
	    row->element[3]->type != REDIS_REPLY_INTEGER || row->element[3]->integer < 0)
		return SG_ERR_QUEUE_PROTOCOL;
	*ret_id = row->element[0]->str;
	*ret_len = row->element[0]->len;
	*ret_deliveries = (uint64_t)row->element[3]->integer;
	return 0;
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
	if (q == NULL || consumer == NULL || !is_printable_token(consumer, QUEUE_CONSUMER_MAX) ||
	    count == 0 || count > QUEUE_CLAIM_MAX || min_idle_ms < 0)
		return SG_ERR_INVALID_ARGUMENT;
	snprintf(idle_s, sizeof(idle_s), "%lld", (long long)min_idle_ms);
	snprintf(count_s, sizeof(count_s), "%zu", count);
	cmd_str(&cmd, "XPENDING");
	cmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	cmd_str(&cmd, QUEUE_GROUP);
	cmd_str(&cmd, "IDLE");
	cmd_str(&cmd, idle_s);
	cmd_str(&cmd, "-");
	cmd_str(&cmd, "+");
	cmd_str(&cmd, count_s);
	if ((r = command(q, &cmd, &pend)) < 0)
		goto out;
	if ((r = reply_expect(pend, REDIS_REPLY_ARRAY)) < 0)
		goto out;
	r = SG_ERR_QUEUE_PROTOCOL;
	if (pend->elements > count)
		goto out;
	if (pend->elements == 0) {
		r = 0;
		goto out;
	}
	cmd_str(&claim, "XCLAIM");
	cmd_arg(&claim, q->jobs_key, q->jobs_key_len);
	cmd_str(&claim, QUEUE_GROUP);
	cmd_str(&claim, consumer);
	cmd_str(&claim, idle_s);
	for (i = 0; i < pend->elements; i++) {
		if ((r = pending_row(pend->element[i], &id, &idlen, &deliveries[i])) < 0)
			goto out;
		cmd_arg(&claim, id, idlen);
	}
	if ((r = command(q, &claim, &got)) < 0)
		goto out;
	if ((r = reply_expect(got, REDIS_REPLY_ARRAY)) < 0)
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
		if ((r = entry_parse(got->element[i], &e[n])) < 0)
			goto out;
		n++; /* counted now so that a later failure frees it */
		/* Another agent may have claimed an entry between the two calls
		 * (XCLAIM then skips it): match delivery counts by id. */
		e[n - 1].deliveries = 0;
		for (j = 0; j < pend->elements; j++) {
			const redisReply *pid = pend->element[j]->element[0];
			if (pid->len == strlen(e[n - 1].id) && memcmp(pid->str, e[n - 1].id, pid->len) == 0)
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

	if (q == NULL || consumer == NULL || !is_printable_token(consumer, QUEUE_CONSUMER_MAX) ||
	    n > QUEUE_CLAIM_MAX || (n > 0 && ids == NULL))
		return SG_ERR_INVALID_ARGUMENT;
	if (n == 0)
		return 0;
	cmd_str(&cmd, "XCLAIM");
	cmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
	cmd_str(&cmd, QUEUE_GROUP);
	cmd_str(&cmd, consumer);
	cmd_str(&cmd, "0");
	for (i = 0; i < n; i++) {
		len = strnlen(ids[i], QUEUE_ENTRY_ID_MAX + 1);
		if (!is_entry_id(ids[i], len))
			return SG_ERR_INVALID_ARGUMENT;
		cmd_arg(&cmd, ids[i], len);
	}
	cmd_str(&cmd, "JUSTID");
	if ((r = command(q, &cmd, &rep)) < 0)
		goto out;
	r = reply_expect(rep, REDIS_REPLY_ARRAY);
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
	    !is_entry_id(e->id, (idlen = strnlen(e->id, QUEUE_ENTRY_ID_MAX + 1))))
		return SG_ERR_INVALID_ARGUMENT;
	snprintf(key, sizeof(key), "%s%s", q->prefix, KEY_DEAD);
	snprintf(deliveries, sizeof(deliveries), "%llu", (unsigned long long)e->deliveries);
	cmd_str(&cmd, "XADD");
	cmd_str(&cmd, key);
	cmd_str(&cmd, "*");
	cmd_str(&cmd, "entry");
	cmd_arg(&cmd, e->id, idlen);
	cmd_str(&cmd, "reason");
	cmd_str(&cmd, reason);
	cmd_str(&cmd, "deliveries");
	cmd_str(&cmd, deliveries);
	if (e->env != NULL) {
		cmd_str(&cmd, "env");
		cmd_arg(&cmd, e->env, e->env_len);
	}
	if ((r = command(q, &cmd, &rep)) < 0)
		goto out;
	if ((r = reply_expect(rep, REDIS_REPLY_STRING)) < 0)
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

	if ((r = command(q, cmd, &rep)) < 0)
		return r;
	if ((r = reply_expect(rep, REDIS_REPLY_INTEGER)) == 0) {
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
	cmd_str(&cmd, "XLEN");
	cmd_arg(&cmd, q->jobs_key, q->jobs_key_len);
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
	cmd_str(&cmd, "WAIT");
	cmd_str(&cmd, n_s);
	cmd_str(&cmd, t_s);
	if ((r = set_timeout(q, (int64_t)timeout_ms + q->timeout_ms)) < 0)
		return r;
	r = command_int(q, &cmd, 0, 1000000, &n);
	if (conn_ready(q) == 0 && set_timeout(q, q->timeout_ms) < 0 && r == 0)
		r = SG_ERR_QUEUE_UNAVAILABLE;
	if (r == 0)
		*ret_acked = (int)n;
	return r;
}

int
queue_claim_job(struct queue *q, const char *job_id, const char *owner, int64_t ttl_s,
    char *ret_owner, size_t owner_len)
{
	struct queue_cmd cmd = { 0 };
	redisReply *rep = NULL;
	char key[QUEUE_PREFIX_MAX + sizeof(KEY_CLAIM) + JOB_ID_LEN], ttl[QUEUE_NUM_MAX];
	size_t i, n;
	int r;

	if (q == NULL || !is_job_id(job_id) || owner == NULL ||
	    !is_printable_token(owner, QUEUE_CONSUMER_MAX) || ttl_s < 1 || ret_owner == NULL ||
	    owner_len == 0)
		return SG_ERR_INVALID_ARGUMENT;
	snprintf(key, sizeof(key), "%s%s%s", q->prefix, KEY_CLAIM, job_id);
	snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_s);
	cmd_str(&cmd, "SET");
	cmd_str(&cmd, key);
	cmd_str(&cmd, owner);
	cmd_str(&cmd, "NX");
	cmd_str(&cmd, "EX");
	cmd_str(&cmd, ttl);
	if ((r = command(q, &cmd, &rep)) < 0)
		goto out;
	if (rep->type == REDIS_REPLY_STATUS && reply_is_status(rep, "OK")) {
		r = 0;
		goto out;
	}
	if ((r = reply_expect(rep, REDIS_REPLY_NIL)) < 0)
		goto out;
	freeReplyObject(rep);
	rep = NULL;
	memset(&cmd, 0, sizeof(cmd));
	cmd_str(&cmd, "GET");
	cmd_str(&cmd, key);
	if ((r = command(q, &cmd, &rep)) < 0)
		goto out;
	if (rep->type == REDIS_REPLY_NIL) {
		r = SG_ERR_EXISTS; /* it just expired: treat as taken, the job is too old */
		snprintf(ret_owner, owner_len, "?");
		goto out;
	}
	if ((r = reply_expect(rep, REDIS_REPLY_STRING)) < 0)
		goto out;
	if (rep->len == strlen(owner) && memcmp(rep->str, owner, rep->len) == 0) {
		r = 0;
		goto out;
	}
	/* Someone else's claim (or anything written there): report it, printable. */
	n = rep->len < owner_len - 1 ? rep->len : owner_len - 1;
	for (i = 0; i < n; i++)
		ret_owner[i] = rep->str[i] > 0x20 && rep->str[i] < 0x7f ? rep->str[i] : '?';
	ret_owner[n] = '\0';
	r = SG_ERR_EXISTS;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return r;
}
