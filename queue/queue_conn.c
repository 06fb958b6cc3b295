/*
 * queue_conn.c — the connection under the queue (queue_internal.h): open,
 * connect (directly or through Sentinel, checking the master's ROLE), AUTH,
 * reconnect, close, and the pipelined round trip that every command uses.
 * Hiredis's connection errors are translated here and nowhere else (the
 * table is in queue_redis.c's header comment).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "queue_internal.h"
#include "util.h"

void
qcmd_arg(struct queue_cmd *cmd, const char *s, size_t len)
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

void
qcmd_str(struct queue_cmd *cmd, const char *s)
{
	qcmd_arg(cmd, s, strlen(s));
}

static struct timeval
ms_to_tv(int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

/* Sets q->why from len bytes of s (escaped, cut), after the prefix. */
static void
set_why(struct queue *q, const char *prefix, const char *s, size_t len)
{
	char esc[QUEUE_ERRSTR_LOG_MAX + 8];

	snprintf(q->why, sizeof(q->why), "%s%s", prefix, log_escape(s, len, esc, sizeof(esc)));
}

const char *
queue_conn_why(const struct queue *q)
{
	return q != NULL ? q->why : "";
}

/* The error of a call that got no reply; the context is unusable after it. */
int
qconn_error(const struct queue *q)
{
	char esc[QUEUE_ERRSTR_LOG_MAX + 8];

	if (q->c == NULL || q->c->err == 0)
		return SG_ERR_QUEUE_UNAVAILABLE;
	log_debug("redis connection: %s",
	    log_escape(
		q->c->errstr, strnlen(q->c->errstr, sizeof(q->c->errstr)), esc, sizeof(esc)));
	switch (q->c->err) {
	case REDIS_ERR_OOM:
		return SG_ERR_ALLOC;
	case REDIS_ERR_PROTOCOL:
		return SG_ERR_QUEUE_PROTOCOL;
	default: /* REDIS_ERR_IO (timeouts included), REDIS_ERR_EOF, REDIS_ERR_OTHER */
		return SG_ERR_QUEUE_UNAVAILABLE;
	}
}

int
qconn_ready(const struct queue *q)
{
	if (q->c == NULL || q->c->err != 0)
		return SG_ERR_QUEUE_UNAVAILABLE;
	return 0;
}

void
qreply_free_all(redisReply **reps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (reps[i] != NULL)
			freeReplyObject(reps[i]);
		reps[i] = NULL;
	}
}

/*
 * redisGetReply() with a bound: a reply is handed to hiredis's parser only
 * once queue_resp_scan() has seen all of it within QUEUE_REPLY_ELEMS_MAX
 * array elements and QUEUE_RESP_DEPTH_MAX levels, because hiredis 0.14
 * allocates an array's element table as soon as it reads the count (a
 * hostile server's "*2000000000" would be a 16 GB allocation).  Bulk
 * strings are not bounded here: hiredis allocates those only as their
 * bytes arrive.  A reply over a bound drops the connection
 * (SG_ERR_QUEUE_PROTOCOL).  Scanning skips bulk payloads by their length,
 * so reading a large reply in pieces costs one pass over its headers per
 * piece.
 */
static int
bounded_reply(struct queue *q, void **ret)
{
	redisReader *rd;
	long n;
	int done = 0;

	*ret = NULL;
	do {
		if (redisBufferWrite(q->c, &done) != REDIS_OK)
			return qconn_error(q);
	} while (!done);
	for (;;) {
		rd = q->c->reader;
		n = queue_resp_scan((const uint8_t *)rd->buf + rd->pos, rd->len - rd->pos,
		    QUEUE_REPLY_ELEMS_MAX, SIZE_MAX);
		if (n < 0) {
			log_debug("redis reply over %d elements or %d levels, or malformed",
			    QUEUE_REPLY_ELEMS_MAX, QUEUE_RESP_DEPTH_MAX);
			redisFree(q->c);
			q->c = NULL;
			return SG_ERR_QUEUE_PROTOCOL;
		}
		if (n > 0)
			break;
		if (redisBufferRead(q->c) != REDIS_OK)
			return qconn_error(q);
	}
	if (redisGetReplyFromReader(q->c, ret) != REDIS_OK || *ret == NULL)
		return qconn_error(q);
	return 0;
}

/*
 * Sends n commands at once and reads their n replies into reps (all NULL
 * on error).  Error replies are replies: the caller looks at them.
 */
int
qconn_pipeline(struct queue *q, struct queue_cmd *cmds, size_t n, redisReply **reps)
{
	void *rep;
	size_t i;
	int r = SG_ERR_INTERNAL;

	for (i = 0; i < n; i++)
		reps[i] = NULL;
	if ((r = qconn_ready(q)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (cmds[i].argc <= 0) {
			r = SG_ERR_INTERNAL;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (redisAppendCommandArgv(q->c, cmds[i].argc, cmds[i].argv, cmds[i].len) !=
		    REDIS_OK) {
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
		if ((r = bounded_reply(q, &rep)) != 0)
			goto out;
		reps[i] = rep;
	}
	r = 0;
out:
	if (r < 0)
		qreply_free_all(reps, n);
	return r;
}

int
qconn_command(struct queue *q, struct queue_cmd *cmd, redisReply **ret)
{
	return qconn_pipeline(q, cmd, 1, ret);
}

int
qconn_set_timeout(struct queue *q, int64_t ms)
{
	if (redisSetTimeout(q->c, ms_to_tv(ms)) != REDIS_OK)
		return qconn_error(q);
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

	qcmd_str(&cmd, "AUTH");
	if (q->url->user != NULL)
		qcmd_str(&cmd, q->url->user);
	qcmd_arg(&cmd, q->password, q->password_len);
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
	if ((r = bounded_reply(q, &aux)) != 0)
		goto out;
	rep = aux;
	if (rep->type == REDIS_REPLY_ERROR) {
		/* Whatever the words (WRONGPASS, "AUTH called without any
		 * password configured" ...), the server refused us. */
		(void)qreply_error(rep);
		set_why(q, "AUTH refused: ", rep->str != NULL ? rep->str : "",
		    rep->str != NULL ? rep->len : 0);
		r = SG_ERR_QUEUE_AUTH;
		goto out;
	}
	if (!qreply_is_status(rep, "OK")) {
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
		    rep->element[1]->type != REDIS_REPLY_STRING || rep->element[0]->len == 0 ||
		    rep->element[0]->len > QUEUE_HOST_MAX ||
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

	q->why[0] = '\0';
	if (q->url->is_sentinel) {
		if ((r = sentinel_master(q, mhost, &mport)) < 0) {
			snprintf(q->why, sizeof(q->why), "no sentinel named a master %s",
			    q->url->master);
			goto out;
		}
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
		set_why(q, "", q->c->errstr, strnlen(q->c->errstr, sizeof(q->c->errstr)));
		r = qconn_error(q);
		if (r == SG_ERR_QUEUE_PROTOCOL)
			r = SG_ERR_QUEUE_UNAVAILABLE;
		goto out;
	}
	/* Connecting used the timeout; commands need it on the socket too. */
	if ((r = qconn_set_timeout(q, q->timeout_ms)) < 0)
		goto out;
	if (q->password != NULL && (r = queue_auth(q)) < 0)
		goto out;
	if (q->url->db != 0) {
		memset(&cmd, 0, sizeof(cmd));
		snprintf(db, sizeof(db), "%d", q->url->db);
		qcmd_str(&cmd, "SELECT");
		qcmd_str(&cmd, db);
		if ((r = qconn_command(q, &cmd, &rep)) < 0 ||
		    (r = qreply_expect(rep, REDIS_REPLY_STATUS)) < 0)
			goto out;
		freeReplyObject(rep);
		rep = NULL;
	}
	/* A server that wants a password we did not give says so here, at
	 * open time, rather than at the first real command. */
	memset(&cmd, 0, sizeof(cmd));
	qcmd_str(&cmd, "PING");
	if ((r = qconn_command(q, &cmd, &rep)) < 0)
		goto out;
	if ((r = qreply_expect(rep, REDIS_REPLY_STATUS)) < 0) {
		if (rep->type == REDIS_REPLY_ERROR)
			set_why(q, "PING: ", rep->str != NULL ? rep->str : "",
			    rep->str != NULL ? rep->len : 0);
		goto out;
	}
	if (!qreply_is_status(rep, "PONG")) {
		r = SG_ERR_QUEUE_PROTOCOL;
		goto out;
	}
	/* What the sentinels named may have just been demoted: write only to
	 * a server that says it is the master. */
	if (q->url->is_sentinel) {
		freeReplyObject(rep);
		rep = NULL;
		memset(&cmd, 0, sizeof(cmd));
		qcmd_str(&cmd, "ROLE");
		if ((r = qconn_command(q, &cmd, &rep)) < 0 ||
		    (r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
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
	if (r < 0 && q->why[0] == '\0') {
		if (rep != NULL && rep->type == REDIS_REPLY_ERROR && rep->str != NULL)
			set_why(q, "the server answered: ", rep->str, rep->len);
		else if (q->c != NULL && q->c->err != 0)
			set_why(q, "", q->c->errstr, strnlen(q->c->errstr, sizeof(q->c->errstr)));
		else
			set_why(q, "", sg_strerror(r), strlen(sg_strerror(r)));
	}
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
	return queue_open_reason(opts, ret, NULL, 0);
}

int
queue_open_reason(const struct queue_opts *opts, struct queue **ret, char *why, size_t whylen)
{
	struct queue *q = NULL;
	const char *prefix;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL || opts == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	*ret = NULL;
	/* opts was checked above (cppcheck's whole-program pass misses the
	 * goto): */
	/* cppcheck-suppress ctunullpointer */
	if (opts->url == NULL) {
		r = SG_ERR_CONFIG;
		goto out;
	}
	prefix = opts->prefix != NULL ? opts->prefix : QUEUE_DEFAULT_PREFIX;
	if (!queue_is_token(prefix, QUEUE_PREFIX_MAX)) {
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
			snprintf(q->why, sizeof(q->why), "the password file %s: %s",
			    opts->password_file,
			    r == SG_ERR_SYSTEM || r == SG_ERR_NOT_FOUND ? strerror(errno)
									: sg_strerror(r));
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
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", r < 0 && q != NULL ? q->why : "");
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
