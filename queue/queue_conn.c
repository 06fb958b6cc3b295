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

#include <hiredis/hiredis.h>

#include "log.h"
#include "queue_internal.h"
#include "queue_io.h"
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

/* The error of a call that got no reply; the connection is unusable after it. */
int
qconn_error(const struct queue *q)
{
	char esc[QUEUE_ERRSTR_LOG_MAX + 8];
	const char *e;
	int r;

	if (q->io == NULL || (r = qio_error(q->io)) == 0)
		return SG_ERR_QUEUE_UNAVAILABLE;
	e = qio_errstr(q->io);
	log_debug("redis connection: %s", log_escape(e, strlen(e), esc, sizeof(esc)));
	return r;
}

int
qconn_ready(const struct queue *q)
{
	if (q->io == NULL || qio_error(q->io) != 0)
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
 * One reply, bounded (queue_io.c): parsed only once queue_resp_scan() has
 * seen all of it within QUEUE_REPLY_ELEMS_MAX array elements,
 * QUEUE_RESP_DEPTH_MAX levels and QUEUE_REPLY_BYTES_MAX bytes, because
 * hiredis 0.14 allocates an array's element table as soon as it reads the
 * count (a hostile server's "*2000000000" would be a 16 GB allocation).  A
 * reply over a bound leaves the connection unusable
 * (SG_ERR_QUEUE_PROTOCOL).
 */
static int
bounded_reply(struct queue *q, void **ret)
{
	*ret = NULL;
	if (qio_read_reply(q->io, QUEUE_REPLY_ELEMS_MAX, ret) != 0)
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
	char *one[QUEUE_PIPELINE_MAX] = { 0 };
	size_t lens[QUEUE_PIPELINE_MAX] = { 0 };
	char *buf = NULL;
	void *rep;
	size_t i, total = 0;
	int len, r = SG_ERR_INTERNAL;

	for (i = 0; i < n; i++)
		reps[i] = NULL;
	if (n == 0 || n > QUEUE_PIPELINE_MAX) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	if ((r = qconn_ready(q)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (cmds[i].argc <= 0) {
			r = SG_ERR_INTERNAL;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		len = redisFormatCommandArgv(&one[i], cmds[i].argc, cmds[i].argv, cmds[i].len);
		if (len < 0 || one[i] == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		lens[i] = (size_t)len;
		total += lens[i];
	}
	if (n == 1) {
		r = qio_write(q->io, one[0], lens[0]);
	} else {
		if ((buf = malloc(total)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		total = 0;
		for (i = 0; i < n; i++) {
			memcpy(buf + total, one[i], lens[i]);
			total += lens[i];
		}
		r = qio_write(q->io, buf, total);
	}
	if (r != 0) {
		r = qconn_error(q);
		goto out;
	}
	for (i = 0; i < n; i++) {
		rep = NULL;
		if ((r = bounded_reply(q, &rep)) != 0)
			goto out;
		reps[i] = rep;
	}
	r = 0;
out:
	for (i = 0; i < n && i < QUEUE_PIPELINE_MAX; i++)
		if (one[i] != NULL)
			redisFreeCommand(one[i]);
	free(buf);
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
	if (q->io == NULL)
		return SG_ERR_QUEUE_UNAVAILABLE;
	qio_set_timeout(q->io, ms);
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
	if (qio_write(q->io, buf, blen) != 0) {
		r = qconn_error(q);
		goto out;
	}
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

/* The name a TLS server's certificate must carry. */
static const char *
tls_name(const struct queue *q, const char *host)
{
	return q->tls_name != NULL ? q->tls_name : host;
}

/*
 * AUTH to a sentinel with the queue's password (docs/operations.md: the
 * sentinels and Redis share it): as the URL's user, then, if that is
 * refused, as the default user (a sentinel with requirepass only).  0 when
 * a server without a password says so too; the command buffers are wiped.
 */
static int
sentinel_auth(struct queue *q, struct qio *io)
{
	int tries = q->url->user != NULL ? 2 : 1, t;

	for (t = 0; t < tries; t++) {
		const char *argv[3];
		size_t argl[3];
		char *cmd = NULL;
		void *aux = NULL;
		redisReply *rep;
		int argc = 0, len, r;

		argv[argc] = "AUTH";
		argl[argc++] = 4;
		if (t == 0 && q->url->user != NULL) {
			argv[argc] = q->url->user;
			argl[argc++] = strlen(q->url->user);
		}
		argv[argc] = q->password;
		argl[argc++] = q->password_len;
		if ((len = redisFormatCommandArgv(&cmd, argc, argv, argl)) < 0 || cmd == NULL)
			return SG_ERR_ALLOC;
		r = qio_write(io, cmd, (size_t)len) == 0 && qio_read_reply(io, 16, &aux) == 0
		    ? 0
		    : SG_ERR_QUEUE_UNAVAILABLE;
		explicit_bzero(cmd, (size_t)len);
		redisFreeCommand(cmd);
		if (r < 0)
			return r;
		rep = aux;
		r = rep->type == REDIS_REPLY_ERROR &&
			(rep->str == NULL || strstr(rep->str, "without any password") == NULL)
		    ? SG_ERR_QUEUE_AUTH
		    : 0;
		freeReplyObject(rep);
		if (r == 0)
			return 0;
	}
	return SG_ERR_QUEUE_AUTH;
}

/*
 * Asks the sentinels, in order, for the address of the master.  Each answer
 * is checked (two strings, a host of sane length, a port in range).
 */
static int
sentinel_master(struct queue *q, char host[QUEUE_HOST_MAX + 1], int *ret_port)
{
	size_t i;
	int r = SG_ERR_QUEUE_UNAVAILABLE;

	for (i = 0; i < q->url->nsentinels; i++) {
		const struct queue_url *s = q->url->sentinels[i];
		const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", q->url->master };
		size_t argl[3] = { 8, 23, strlen(q->url->master) };
		struct qio *io = NULL;
		char why[QUEUE_REASON_MAX];
		char *cmd = NULL;
		void *aux = NULL;
		redisReply *rep = NULL;
		uint64_t port;
		int len;

		if (qio_connect(s->host, s->port, NULL, q->tls, tls_name(q, s->host), q->timeout_ms,
			&io, why, sizeof(why)) != 0) {
			log_debug("sentinel %s:%d unreachable: %s", s->host, s->port, why);
			goto next;
		}
		if (q->password != NULL && sentinel_auth(q, io) != 0) {
			log_debug("sentinel %s:%d refused AUTH", s->host, s->port);
			goto next;
		}
		if ((len = redisFormatCommandArgv(&cmd, 3, argv, argl)) < 0 || cmd == NULL ||
		    qio_write(io, cmd, (size_t)len) != 0 || qio_read_reply(io, 16, &aux) != 0) {
			log_debug("sentinel %s:%d: %s", s->host, s->port, qio_errstr(io));
			goto next;
		}
		rep = aux;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
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
		if (cmd != NULL)
			redisFreeCommand(cmd);
		qio_close(io);
		if (r == 0)
			return 0;
	}
	return r;
}

static int
queue_connect(struct queue *q)
{
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
		r = qio_connect(mhost, mport, NULL, q->tls, tls_name(q, mhost), q->timeout_ms,
		    &q->io, q->why, sizeof(q->why));
	} else if (q->url->is_unix)
		r = qio_connect(NULL, 0, q->url->path, q->tls, tls_name(q, "localhost"),
		    q->timeout_ms, &q->io, q->why, sizeof(q->why));
	else
		r = qio_connect(q->url->host, q->url->port, NULL, q->tls, tls_name(q, q->url->host),
		    q->timeout_ms, &q->io, q->why, sizeof(q->why));
	if (r != 0) {
		/* A server that does not speak TLS on a TLS URL is not the
		 * Redis we want (SG_ERR_QUEUE_PROTOCOL, not retried by the
		 * clients); everything else is unavailable. */
		if (r != SG_ERR_ALLOC && r != SG_ERR_QUEUE_PROTOCOL)
			r = SG_ERR_QUEUE_UNAVAILABLE;
		goto out;
	}
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
		else if (q->io != NULL && qio_error(q->io) != 0)
			set_why(q, "", qio_errstr(q->io), strlen(qio_errstr(q->io)));
		else
			set_why(q, "", sg_strerror(r), strlen(sg_strerror(r)));
	}
	if (rep != NULL)
		freeReplyObject(rep);
	if (r < 0 && q->io != NULL) {
		qio_close(q->io);
		q->io = NULL;
	}
	return r;
}

/* The TLS context of a rediss:// or sentinel+tls:// URL; TLS options for
 * any other URL are a mistake, never silently plain text. */
static int
tls_setup(struct queue *q, const struct queue_tls_opts *o)
{
	int r;

	if (!q->url->is_tls) {
		if (o != NULL &&
		    (o->ca_file != NULL || o->cert_file != NULL || o->key_file != NULL ||
			o->server_name != NULL)) {
			snprintf(q->why, sizeof(q->why),
			    "TLS options given for a URL without TLS (use rediss:// or "
			    "sentinel+tls://)");
			return SG_ERR_CONFIG;
		}
		return 0;
	}
	if (o != NULL && o->server_name != NULL) {
		if (!queue_is_token(o->server_name, QUEUE_HOST_MAX)) {
			snprintf(q->why, sizeof(q->why), "the TLS server name is not a host name");
			return SG_ERR_CONFIG;
		}
		if ((q->tls_name = strdup(o->server_name)) == NULL)
			return SG_ERR_ALLOC;
	}
	if ((r = qio_tls_ctx(o, &q->tls, q->why, sizeof(q->why))) < 0 && q->why[0] == '\0')
		set_why(q, "TLS: ", sg_strerror(r), strlen(sg_strerror(r)));
	return r;
}

void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	qio_close(q->io);
	SSL_CTX_free(q->tls);
	free(q->tls_name);
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

	if ((r = tls_setup(q, opts->tls)) < 0)
		goto out;
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
	qio_close(q->io);
	q->io = NULL;
	return queue_connect(q);
}
