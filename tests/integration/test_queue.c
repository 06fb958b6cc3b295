/*
 * test_queue.c — queue.h against a real redis-server, and against a fake
 * server that answers with hostile replies.
 *
 * Every test starts its own redis-server (REDIS_SERVER, default
 * /usr/bin/redis-server) on a unix socket in a fresh directory under one
 * base directory that main() creates.  Servers are stopped and their
 * directories removed by the test itself, by an atexit() handler in the
 * process that started them (Check's fork mode exits the test process on a
 * failed assertion), and finally by main(), which kills any server still
 * recorded under the base directory (a test that timed out was killed with
 * SIGKILL and cleaned nothing) and removes the whole tree.  A missing
 * redis-server is a failure, not a skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "queue.h"
#include "queue_internal.h"
#include "testlib.h"

int main(void);

extern char **environ;

#define REDIS_SERVER_DEFAULT "/usr/bin/redis-server"
#define SERVER_START_MS      10000 /* how long a server may take to answer PING */
#define SERVERS_MAX          4     /* per test */
#define TEST_TIMEOUT_S       60
#define PIDFILE              "spawned.pid"

static char base_dir[PATH_MAX]; /* set by main() before any test runs */

/* Three job ids (32 lowercase hex). */
#define JOB1 "00112233445566778899aabbccddeeff"
#define JOB2 "ffeeddccbbaa99887766554433221100"
#define JOB3 "0123456789abcdef0123456789abcdef"

struct server {
	pid_t pid;   /* 0 when not running */
	pid_t owner; /* the process that spawned it */
	int port;    /* TCP port, 0 for unix only */
	char dir[PATH_MAX];
	char sock[PATH_MAX];
	char url[PATH_MAX + 16];
	char pass[64]; /* requirepass, "" for none */
};

static struct server *servers[SERVERS_MAX];

/* --- time --- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* snprintf that fails the test instead of truncating. */
static void xsnprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	ck_assert_msg(n >= 0 && (size_t)n < size, "path too long");
}

/* --- redis-server --- */

static void
server_stop(struct server *s)
{
	if (s->pid > 0 && s->owner == getpid()) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	s->pid = 0;
}

static void
server_destroy(struct server *s)
{
	size_t i;

	if (s->owner != getpid())
		return;
	server_stop(s);
	(void)rm_tree(s->dir);
	s->dir[0] = '\0';
	for (i = 0; i < SERVERS_MAX; i++)
		if (servers[i] == s)
			servers[i] = NULL;
}

static void
servers_cleanup(void)
{
	size_t i;

	for (i = 0; i < SERVERS_MAX; i++)
		if (servers[i] != NULL && servers[i]->owner == getpid())
			server_destroy(servers[i]);
}

static int
free_tcp_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static redisContext *
raw_connect_once(const struct server *s)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectUnixWithTimeout(s->sock, tv);

	if (c == NULL)
		return NULL;
	if (c->err != 0) {
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

/* (Re)starts s->pid in s->dir with the settings in s. */
static void
server_spawn(struct server *s)
{
	const char *bin =
	    getenv("REDIS_SERVER") != NULL ? getenv("REDIS_SERVER") : REDIS_SERVER_DEFAULT;
	char port[16], log[PATH_MAX + 16], pidfile[PATH_MAX + 16];
	const char *argv[24];
	posix_spawn_file_actions_t fa;
	int argc = 0, rc;
	int64_t deadline;
	FILE *f;

	ck_assert_msg(access(bin, X_OK) == 0, "%s is missing: install redis-server", bin);
	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	argv[argc++] = bin;
	argv[argc++] = "--port";
	argv[argc++] = port;
	if (s->port != 0) {
		argv[argc++] = "--bind";
		argv[argc++] = "127.0.0.1";
	}
	argv[argc++] = "--unixsocket";
	argv[argc++] = s->sock;
	argv[argc++] = "--unixsocketperm";
	argv[argc++] = "700";
	argv[argc++] = "--save";
	argv[argc++] = "";
	argv[argc++] = "--appendonly";
	argv[argc++] = "no";
	argv[argc++] = "--dir";
	argv[argc++] = s->dir;
	argv[argc++] = "--daemonize";
	argv[argc++] = "no";
	if (s->pass[0] != '\0') {
		argv[argc++] = "--requirepass";
		argv[argc++] = s->pass;
	}
	argv[argc] = NULL;

	ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
	ck_assert_int_eq(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
	ck_assert_int_eq(
	    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600), 0);
	ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
	rc = posix_spawn(&s->pid, bin, &fa, NULL, (char *const *)(uintptr_t)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_msg(rc == 0, "posix_spawn %s: %s", bin, strerror(rc));
	s->owner = getpid();

	/* Recorded for main()'s final sweep. */
	snprintf(pidfile, sizeof(pidfile), "%s/%s", s->dir, PIDFILE);
	f = fopen(pidfile, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%ld\n", (long)s->pid);
	fclose(f);

	/* Ready when it answers PING (NOAUTH counts as an answer). */
	deadline = now_ms() + SERVER_START_MS;
	for (;;) {
		redisContext *c = raw_connect_once(s);
		redisReply *rep = NULL;

		if (c != NULL) {
			rep = redisCommand(c, "PING");
			redisFree(c);
		}
		if (rep != NULL) {
			freeReplyObject(rep);
			break;
		}
		ck_assert_msg(
		    waitpid(s->pid, NULL, WNOHANG) == 0, "redis-server exited; see %s", log);
		ck_assert_msg(now_ms() < deadline, "redis-server did not answer; see %s", log);
		sleep_ms(10);
	}
}

/* Starts a server: pass NULL or a requirepass; tcp also listens on
 * 127.0.0.1 (the URL then uses TCP). */
static void
server_start(struct server *s, const char *pass, int tcp)
{
	char tmpl[PATH_MAX];
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < SERVERS_MAX && servers[i] != NULL; i++)
		;
	if (i == SERVERS_MAX) {
		ck_abort_msg("more than %d test servers", SERVERS_MAX);
		return;
	}
	xsnprintf(tmpl, sizeof(tmpl), "%s/srv.XXXXXX", base_dir);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(s->dir, sizeof(s->dir), "%s", tmpl);
	xsnprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
	ck_assert_uint_lt(strlen(s->sock), sizeof(((struct sockaddr_un *)0)->sun_path));
	if (pass != NULL)
		snprintf(s->pass, sizeof(s->pass), "%s", pass);
	s->port = tcp ? free_tcp_port() : 0;
	if (tcp)
		snprintf(s->url, sizeof(s->url), "redis://127.0.0.1:%d", s->port);
	else
		snprintf(s->url, sizeof(s->url), "unix://%s", s->sock);
	s->owner = getpid();
	servers[i] = s;
	server_spawn(s);
}

/* --- a direct connection, to look at what the queue did --- */

static redisContext *
raw_connect(const struct server *s)
{
	redisContext *c = raw_connect_once(s);
	redisReply *rep;

	ck_assert_ptr_nonnull(c);
	if (s->pass[0] != '\0') {
		rep = redisCommand(c, "AUTH %s", s->pass);
		ck_assert_ptr_nonnull(rep);
		ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
		freeReplyObject(rep);
	}
	return c;
}

static long long
raw_int(redisContext *c, const char *fmt, ...)
{
	redisReply *rep;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_ptr_nonnull(rep);
	ck_assert_msg(rep->type == REDIS_REPLY_INTEGER, "%s: reply type %d (%s)", fmt, rep->type,
	    rep->type == REDIS_REPLY_ERROR ? rep->str : "");
	v = rep->integer;
	freeReplyObject(rep);
	return v;
}

static void
raw_ok(redisContext *c, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_ptr_nonnull(rep);
	ck_assert_msg(rep->type != REDIS_REPLY_ERROR, "%s: %s", fmt, rep->str);
	freeReplyObject(rep);
}

static long long
raw_xpending(redisContext *c, const char *stream)
{
	redisReply *rep = redisCommand(c, "XPENDING %s %s", stream, QUEUE_GROUP);
	long long v;

	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_ge(rep->elements, 1);
	ck_assert_int_eq(rep->element[0]->type, REDIS_REPLY_INTEGER);
	v = rep->element[0]->integer;
	freeReplyObject(rep);
	return v;
}

/* --- queue helpers --- */

static struct queue *
open_ok(const char *url, const char *prefix, const char *password_file, int timeout_ms)
{
	struct queue_opts o = { url, password_file, prefix, timeout_ms, NULL };
	struct queue *q = NULL;
	int r = queue_open(&o, &q);

	ck_assert_msg(r == 0, "queue_open %s: %d", url, r);
	ck_assert_ptr_nonnull(q);
	return q;
}

static void
open_fails(const char *url, const char *prefix, const char *password_file, int expect)
{
	struct queue_opts o = { url, password_file, prefix, 2000, NULL };
	struct queue *q = (struct queue *)&o; /* anything but NULL */
	int r = queue_open(&o, &q);

	ck_assert_msg(
	    r == expect, "queue_open %s: %d, expected %d", url != NULL ? url : "(null)", r, expect);
	ck_assert_ptr_null(q);
}

static void
write_secret(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* --- tests against redis-server --- */

/* queue_resp_scan(): one reply bounded before any allocation. */
static long
scan(const char *s, size_t elems, size_t bulk)
{
	return queue_resp_scan((const uint8_t *)s, strlen(s), elems, bulk);
}

START_TEST(resp_scan_bounds)
{
	static const char entry[] = "*1\r\n*2\r\n$11\r\nsignet:jobs\r\n*1\r\n*2\r\n$3\r\n1-0\r\n"
				    "*2\r\n$3\r\nenv\r\n$2\r\n{}\r\n";
	char buf[sizeof(entry) + 8];

	ck_assert_int_eq(scan(entry, 64, 1024), (long)strlen(entry));
	/* Followed by more: only the first reply counts. */
	snprintf(buf, sizeof(buf), "%s+OK\r\n", entry);
	ck_assert_int_eq(scan(buf, 64, 1024), (long)strlen(entry));
	/* Each prefix is incomplete, never an error. */
	for (size_t i = 0; i < strlen(entry); i++) {
		ck_assert_int_eq(queue_resp_scan((const uint8_t *)entry, i, 64, 1024), 0);
	}
	/* Bounds, at the edge and one past. */
	ck_assert_int_eq(scan("$3\r\nabc\r\n", 0, 3), 9);
	ck_assert_int_eq(scan("$4\r\nabcd\r\n", 0, 3), -1);
	ck_assert_int_eq(scan("*2000000000\r\n", 4096, 1024), -1);
	ck_assert_int_eq(scan("*2\r\n:1\r\n:2\r\n", 2, 0), 12);
	ck_assert_int_eq(scan("*2\r\n*2\r\n:1\r\n:2\r\n:3\r\n", 3, 0), -1);
	ck_assert_int_eq(
	    scan("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", 64, 0), -1);
	ck_assert_int_eq(scan("*-1\r\n", 0, 0), 5);
	ck_assert_int_eq(scan("$-1\r\n", 0, 0), 5);
	/* No bound at all (SIZE_MAX) is no bound, not -1. */
	ck_assert_int_eq(scan("$3\r\nabc\r\n", SIZE_MAX, SIZE_MAX), 9);
	ck_assert_int_eq(scan("*1\r\n$3\r\nabc\r\n", SIZE_MAX, SIZE_MAX), 13);
	/* Malformed. */
	ck_assert_int_eq(scan("$3\r\nabcX\r\n", 0, 16), -1);
	ck_assert_int_eq(scan("?x\r\n", 0, 16), -1);
	ck_assert_int_eq(scan("*-2\r\n", 8, 16), -1);
	ck_assert_int_eq(scan(":\r\n", 8, 16), 3);
	ck_assert_int_eq(scan("$99999999999999999999999\r\n", 8, 16), -1);
}
END_TEST

START_TEST(round_trip)
{
	struct server s;
	struct queue *q;
	struct queue_entry *e = NULL;
	size_t n = 99;
	char *res = NULL;
	size_t res_len = 0;
	redisContext *c;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_submit(q, "envelope-1", 10), 0);
	ck_assert_int_eq(queue_read(q, "agent-1", 10, 1000, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(e[0].env);
	ck_assert_uint_eq(e[0].env_len, 10);
	ck_assert_mem_eq(e[0].env, "envelope-1", 10);
	ck_assert_int_eq(e[0].env[10], '\0');
	ck_assert_ptr_nonnull(strchr(e[0].id, '-'));

	c = raw_connect(&s);
	ck_assert_int_eq(raw_int(c, "XLEN signet:jobs"), 1);
	ck_assert_int_eq(raw_xpending(c, "signet:jobs"), 1);

	ck_assert_int_eq(queue_put_result(q, JOB1, "result-1", 8, 60, 0), 0);
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &res_len), 0);
	ck_assert_uint_eq(res_len, 8);
	ck_assert_str_eq(res, "result-1");
	free(res);

	ck_assert_int_eq(queue_ack(q, e[0].id), 0);
	ck_assert_int_eq(raw_int(c, "XLEN signet:jobs"), 0);
	ck_assert_int_eq(raw_xpending(c, "signet:jobs"), 0);
	/* Acknowledging again is harmless. */
	ck_assert_int_eq(queue_ack(q, e[0].id), 0);
	queue_entries_free(e, n);

	/* Nothing more to read: without blocking, at once. */
	e = (struct queue_entry *)&n;
	ck_assert_int_eq(queue_read(q, "agent-1", 10, 0, &e, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(e);

	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(group_create_idempotent)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	redisReply *rep;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	c = raw_connect(&s);
	rep = redisCommand(c, "XINFO GROUPS signet:jobs");
	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(rep->elements, 1);
	freeReplyObject(rep);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(jobs_before_group)
{
	struct server s;
	struct queue *q;
	struct queue_entry *e = NULL;
	size_t n = 0;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_submit(q, "a", 1), 0);
	ck_assert_int_eq(queue_submit(q, "b", 1), 0);
	ck_assert_int_eq(queue_submit(q, "c", 1), 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_read(q, "agent-1", 10, 100, &e, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(e[0].env, "a");
	ck_assert_str_eq(e[1].env, "b");
	ck_assert_str_eq(e[2].env, "c");
	queue_entries_free(e, n);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(read_without_group)
{
	struct server s;
	struct queue *q;
	struct queue_entry *e = (struct queue_entry *)&s;
	size_t n = 7;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_submit(q, "a", 1), 0);
	/* -NOGROUP: the group is made at id 0, so the entry pushed before it
	 * is still delivered. */
	ck_assert_int_eq(queue_read(q, "agent-1", 10, 100, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].env, "a");
	queue_entries_free(e, n);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(put_result_nx)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	char *res = NULL;
	size_t len = 0;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);

	/* NX on an absent result writes and pushes. */
	ck_assert_int_eq(queue_put_result(q, JOB2, "rejected-first", 14, 60, 1), 0);
	ck_assert_int_eq(raw_int(c, "LLEN signet:done:%s", JOB2), 1);

	ck_assert_int_eq(queue_put_result(q, JOB1, "signed", 6, 60, 0), 0);
	ck_assert_int_eq(raw_int(c, "LLEN signet:done:%s", JOB1), 1);
	ck_assert_int_eq(queue_put_result(q, JOB1, "rejected", 8, 60, 1), SG_ERR_EXISTS);
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), 0);
	ck_assert_str_eq(res, "signed");
	free(res);
	/* Nothing pushed for the write that did not happen. */
	ck_assert_int_eq(raw_int(c, "LLEN signet:done:%s", JOB1), 1);
	/* Without NX it replaces, and pushes again. */
	ck_assert_int_eq(queue_put_result(q, JOB1, "signed-again", 12, 60, 0), 0);
	ck_assert_int_eq(raw_int(c, "LLEN signet:done:%s", JOB1), 2);
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), 0);
	ck_assert_str_eq(res, "signed-again");
	free(res);

	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(put_result_ttl)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	long long ttl;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);
	ck_assert_int_eq(queue_put_result(q, JOB1, "x", 1, 600, 0), 0);
	ck_assert_int_eq(raw_int(c, "LLEN signet:done:%s", JOB1), 1);
	ttl = raw_int(c, "TTL signet:result:%s", JOB1);
	ck_assert_int_gt(ttl, 590);
	ck_assert_int_le(ttl, 600);
	ttl = raw_int(c, "TTL signet:done:%s", JOB1);
	ck_assert_int_gt(ttl, 590);
	ck_assert_int_le(ttl, 600);
	ck_assert_int_eq(queue_put_result(q, JOB2, "y", 1, 30, 1), 0);
	ttl = raw_int(c, "TTL signet:done:%s", JOB2);
	ck_assert_int_gt(ttl, 20);
	ck_assert_int_le(ttl, 30);
	ttl = raw_int(c, "TTL signet:result:%s", JOB2);
	ck_assert_int_gt(ttl, 20);
	ck_assert_int_le(ttl, 30);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(put_result_bad_args)
{
	struct server s;
	struct queue *q;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_put_result(q, "00112233445566778899AABBCCDDEEFF", "x", 1, 60, 0),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_put_result(q, "00112233445566778899aabbccddeef", "x", 1, 60, 0),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_put_result(q, JOB1 "0", "x", 1, 60, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_put_result(q, NULL, "x", 1, 60, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_put_result(q, JOB1, NULL, 0, 60, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_put_result(q, JOB1, "x", 1, 0, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_put_result(q, JOB1, "x", 1, -1, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_put_result(q, JOB1, "x", 1, INT64_MAX, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_wait_done(q, "nothex", 100), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_wait_done(q, JOB1, 0), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_wait_done(q, JOB1, -5), SG_ERR_INVALID_ARGUMENT);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(wait_done_timeout)
{
	struct server s;
	struct queue *q;
	int64_t t0, dt;

	server_start(&s, NULL, 0);
	/* The socket timeout (100 ms) is shorter than the wait. */
	q = open_ok(s.url, NULL, NULL, 100);
	t0 = now_ms();
	ck_assert_int_eq(queue_wait_done(q, JOB1, 400), SG_ERR_TIMEOUT);
	dt = now_ms() - t0;
	ck_assert_int_ge(dt, 390);
	ck_assert_int_lt(dt, 3000);
	/* The connection is still good afterwards. */
	ck_assert_int_eq(queue_submit(q, "x", 1), 0);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(wait_done_wakes)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	int64_t t0, dt;
	pid_t pid;
	int status;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct queue_opts o = { s.url, NULL, NULL, 0, NULL };
		struct queue *q2 = NULL;
		int r;

		queue_close(q); /* the parent's, inherited */
		sleep_ms(200);
		r = queue_open(&o, &q2);
		if (r == 0)
			r = queue_put_result(q2, JOB1, "done", 4, 60, 0);
		queue_close(q2);
		_exit(r == 0 ? 0 : 1);
	}
	t0 = now_ms();
	ck_assert_int_eq(queue_wait_done(q, JOB1, 10000), 0);
	dt = now_ms() - t0;
	ck_assert_int_lt(dt, 5000);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The push was consumed. */
	c = raw_connect(&s);
	ck_assert_int_eq(raw_int(c, "LLEN signet:done:%s", JOB1), 0);
	redisFree(c);
	/* Already pushed before waiting: returns at once. */
	ck_assert_int_eq(queue_put_result(q, JOB1, "done", 4, 60, 0), 0);
	t0 = now_ms();
	ck_assert_int_eq(queue_wait_done(q, JOB1, 10000), 0);
	ck_assert_int_lt(now_ms() - t0, 2000);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(get_result_not_found)
{
	struct server s;
	struct queue *q;
	char *res = (char *)&s;
	size_t len = 42;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), SG_ERR_NOT_FOUND);
	ck_assert_ptr_null(res);
	ck_assert_uint_eq(len, 0);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(get_result_size_cap)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	redisReply *rep;
	char *res = NULL, *big;
	size_t len = 0;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);
	big = malloc(QUEUE_RESULT_READ_MAX + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', QUEUE_RESULT_READ_MAX + 1);
	/* Exactly the limit is read whole. */
	rep = redisCommand(c, "SET signet:result:%s %b", JOB1, big, (size_t)QUEUE_RESULT_READ_MAX);
	ck_assert_ptr_nonnull(rep);
	freeReplyObject(rep);
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), 0);
	ck_assert_uint_eq(len, QUEUE_RESULT_READ_MAX);
	free(res);
	res = NULL;
	/* One byte more is refused without reading it all. */
	rep = redisCommand(
	    c, "SET signet:result:%s %b", JOB1, big, (size_t)QUEUE_RESULT_READ_MAX + 1);
	ck_assert_ptr_nonnull(rep);
	freeReplyObject(rep);
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), SG_ERR_LIMIT);
	ck_assert_ptr_null(res);
	free(big);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(reclaim_idle_entries)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	struct queue_entry *e = NULL;
	size_t n = 0;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_submit(q, "job-a", 5), 0);
	ck_assert_int_eq(queue_submit(q, "job-b", 5), 0);
	/* A consumer takes both and dies. */
	ck_assert_int_eq(queue_read(q, "dead-agent", 10, 100, &e, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(e[0].deliveries, 1);
	queue_entries_free(e, n);
	/* Not idle long enough yet: nothing to reclaim. */
	ck_assert_int_eq(queue_reclaim(q, "live-agent", 60000, 10, &e, &n), 0);
	ck_assert_uint_eq(n, 0);
	usleep(150 * 1000);
	ck_assert_int_eq(queue_reclaim(q, "live-agent", 100, 10, &e, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(e[0].env, "job-a");
	ck_assert_uint_eq(e[0].deliveries, 2);
	ck_assert_uint_eq(e[1].deliveries, 2);
	/* The pending list now names the live agent. */
	ck_assert_int_eq(raw_int(c, "XGROUP DELCONSUMER signet:jobs agents dead-agent"), 0);
	/* A touch keeps them from being reclaimed again. */
	usleep(150 * 1000);
	{
		const char *ids[2] = { e[0].id, e[1].id };
		ck_assert_int_eq(queue_touch(q, "live-agent", ids, 2), 0);
	}
	queue_entries_free(e, n);
	ck_assert_int_eq(queue_reclaim(q, "third-agent", 100, 10, &e, &n), 0);
	ck_assert_uint_eq(n, 0);
	/* An entry deleted while pending is not handed out. */
	usleep(150 * 1000);
	raw_ok(c, "XTRIM signet:jobs MAXLEN 1");
	ck_assert_int_eq(queue_reclaim(q, "third-agent", 100, 10, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].env, "job-b");
	ck_assert_uint_eq(e[0].deliveries, 3);
	queue_entries_free(e, n);
	ck_assert_int_eq(
	    queue_reclaim(q, "x", 0, QUEUE_CLAIM_MAX + 1, &e, &n), SG_ERR_INVALID_ARGUMENT);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(dead_letter_moves_entry)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	struct queue_entry *e = NULL;
	size_t n = 0;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_submit(q, "poison", 6), 0);
	ck_assert_int_eq(queue_read(q, "a", 10, 100, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	e[0].deliveries = 7;
	ck_assert_int_eq(queue_dead_letter(q, &e[0], "delivered 7 times"), 0);
	queue_entries_free(e, n);
	ck_assert_int_eq(raw_int(c, "XLEN signet:jobs"), 0);
	ck_assert_int_eq(raw_int(c, "XLEN signet:dead"), 1);
	{
		redisReply *rep = redisCommand(c, "XRANGE signet:dead - +");
		ck_assert_ptr_nonnull(rep);
		ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
		ck_assert_uint_eq(rep->elements, 1);
		redisReply *f = rep->element[0]->element[1];
		ck_assert_uint_eq(f->elements, 8);
		ck_assert_str_eq(f->element[2]->str, "reason");
		ck_assert_str_eq(f->element[3]->str, "delivered 7 times");
		ck_assert_str_eq(f->element[5]->str, "7");
		ck_assert_str_eq(f->element[7]->str, "poison");
		freeReplyObject(rep);
	}
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(read_recreates_lost_group)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	struct queue_entry *e = NULL;
	size_t n = 0;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);
	ck_assert_int_eq(queue_group_create(q), 0);
	/* Redis loses the stream and its group (a restart without persistence). */
	raw_ok(c, "DEL signet:jobs");
	ck_assert_int_eq(queue_submit(q, "after-loss", 10), 0);
	ck_assert_int_eq(queue_read(q, "a", 10, 100, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].env, "after-loss");
	queue_entries_free(e, n);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(claim_job_once)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	char owner[32];

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);
	ck_assert_int_eq(queue_claim_job(q, JOB1, "agent-a", 60, owner, sizeof(owner)), 0);
	/* The same owner again (the same process): still ours, refreshed. */
	ck_assert_int_eq(queue_claim_job(q, JOB1, "agent-a", 60, owner, sizeof(owner)), 0);
	/* Another agent: refused, told who holds it. */
	ck_assert_int_eq(
	    queue_claim_job(q, JOB1, "agent-b", 60, owner, sizeof(owner)), SG_ERR_EXISTS);
	ck_assert_str_eq(owner, "agent-a");
	ck_assert_int_gt(raw_int(c, "TTL signet:claim:%s", JOB1), 0);
	/* Whatever an attacker writes there reads back printable and refuses. */
	raw_ok(c, "SET signet:claim:%s %s", JOB2, "x\ty");
	ck_assert_int_eq(
	    queue_claim_job(q, JOB2, "agent-a", 60, owner, sizeof(owner)), SG_ERR_EXISTS);
	ck_assert_str_eq(owner, "x?y");
	ck_assert_int_eq(
	    queue_claim_job(q, JOB1, "agent a", 60, owner, sizeof(owner)), SG_ERR_INVALID_ARGUMENT);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

/* A claim's value as a string ("" when absent). */
static void
raw_get(redisContext *c, const char *key, char *out, size_t len)
{
	redisReply *rep = redisCommand(c, "GET %s", key);

	ck_assert_ptr_nonnull(rep);
	snprintf(out, len, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
	freeReplyObject(rep);
}

/* Claims are refreshed only while they are the owner's, and a signed
 * result is released only under its owner's claim, which then says so. */
START_TEST(claim_refresh_release)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	char owner[64], v[128], key1[96], key2[96];
	const char *ids[2] = { JOB1, JOB2 };
	struct queue_entry *e = NULL;
	size_t n = 0;
	int ours[2] = { -1, -1 };

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);
	snprintf(key1, sizeof(key1), "signet:claim:%s", JOB1);
	snprintf(key2, sizeof(key2), "signet:claim:%s", JOB2);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_submit(q, "envelope-1", 10), 0);
	ck_assert_int_eq(queue_submit(q, "envelope-2", 10), 0);
	ck_assert_int_eq(queue_read(q, "a@h/1", 10, 1000, &e, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(queue_claim_job(q, JOB1, "a@h/1", 5, owner, sizeof(owner)), 0);
	raw_ok(c, "SET %s %s EX 5", key2, "b@h/2");
	/* Refresh: ours gets the new TTL, the other's is left as it is. */
	ck_assert_int_eq(queue_refresh_claims(q, "a@h/1", ids, 2, 600, ours), 0);
	ck_assert_int_eq(ours[0], 1);
	ck_assert_int_eq(ours[1], 0);
	ck_assert_int_gt(raw_int(c, "TTL %s", key1), 500);
	ck_assert_int_le(raw_int(c, "TTL %s", key2), 5);
	ck_assert_int_eq(queue_refresh_claim(q, JOB2, "a@h/1", 600), SG_ERR_EXISTS);
	/* Release under another's claim: nothing written, nothing acknowledged. */
	ck_assert_int_eq(
	    queue_release_result(q, JOB2, e[1].id, "{}", 2, 60, "a@h/1", 900, owner, sizeof(owner)),
	    SG_ERR_EXISTS);
	ck_assert_str_eq(owner, "b@h/2");
	ck_assert_int_eq(raw_int(c, "EXISTS signet:result:%s signet:done:%s", JOB2, JOB2), 0);
	ck_assert_int_eq(raw_xpending(c, "signet:jobs"), 2);
	/* Release under our claim: result, done push, claim done:<owner>, and
	 * its entry acknowledged and deleted in the same transaction. */
	ck_assert_int_eq(queue_release_result(q, JOB1, e[0].id, "{\"x\":1}", 7, 60, "a@h/1", 900,
			     owner, sizeof(owner)),
	    0);
	ck_assert_int_eq(raw_xpending(c, "signet:jobs"), 1);
	ck_assert_int_eq(raw_int(c, "XLEN signet:jobs"), 1);
	/* The two halves: a WATCH kept from the check to the release. */
	raw_ok(c, "SET %s %s EX 60", key2, "a@h/1");
	ck_assert_int_eq(queue_watch_claim(q, JOB2, "a@h/1", owner, sizeof(owner)), 0);
	raw_ok(c, "PEXPIRE %s 60000", key2); /* a refresh by another connection */
	ck_assert_int_eq(queue_release_watched(
			     q, JOB2, e[1].id, "{}", 2, 60, "a@h/1", 900, owner, sizeof(owner)),
	    SG_ERR_EXISTS);
	ck_assert_str_eq(owner, "?");
	ck_assert_int_eq(raw_int(c, "EXISTS signet:result:%s", JOB2), 0);
	ck_assert_int_eq(raw_xpending(c, "signet:jobs"), 1);
	/* UNWATCH leaves nothing behind: a change after it aborts nothing. */
	ck_assert_int_eq(queue_watch_claim(q, JOB2, "a@h/1", owner, sizeof(owner)), 0);
	queue_unwatch(q);
	raw_ok(c, "PEXPIRE %s 60000", key2);
	ck_assert_int_eq(queue_release_watched(
			     q, JOB2, e[1].id, "{}", 2, 60, "a@h/1", 900, owner, sizeof(owner)),
	    0);
	ck_assert_int_eq(raw_xpending(c, "signet:jobs"), 0);
	raw_get(c, key2, v, sizeof(v));
	ck_assert_str_eq(v, "done:a@h/1");
	/* Another's claim, or none: no WATCH is left either. */
	ck_assert_int_eq(queue_watch_claim(q, JOB2, "b@h/2", owner, sizeof(owner)), SG_ERR_EXISTS);
	ck_assert_str_eq(owner, "done:a@h/1");
	ck_assert_int_eq(
	    queue_watch_claim(q, JOB3, "a@h/1", owner, sizeof(owner)), SG_ERR_NOT_FOUND);
	ck_assert_str_eq(owner, "-");
	raw_ok(c, "SET signet:claim:%s x", JOB3);
	ck_assert_int_eq(
	    queue_release_watched(q, JOB3, NULL, "{}", 2, 60, "a@h/1", 900, owner, sizeof(owner)),
	    0);
	raw_ok(c, "DEL signet:result:%s signet:done:%s signet:claim:%s", JOB3, JOB3, JOB3);
	raw_ok(c, "DEL signet:result:%s signet:done:%s", JOB2, JOB2);
	raw_ok(c, "SET %s %s EX 5", key2, "b@h/2");
	ck_assert_int_eq(
	    queue_release_result(q, JOB1, "1-x", "{}", 2, 60, "a@h/1", 900, owner, sizeof(owner)),
	    SG_ERR_INVALID_ARGUMENT);
	raw_get(c, key1, v, sizeof(v));
	ck_assert_str_eq(v, "done:a@h/1");
	ck_assert_int_gt(raw_int(c, "TTL %s", key1), 800);
	ck_assert_int_eq(raw_int(c, "LLEN signet:done:%s", JOB1), 1);
	/* Nobody claims it after that; the owner does not refresh it either. */
	ck_assert_int_eq(queue_claim_job(q, JOB1, "c@h/3", 5, owner, sizeof(owner)), SG_ERR_EXISTS);
	ck_assert_str_eq(owner, "done:a@h/1");
	ck_assert_int_eq(queue_refresh_claim(q, JOB1, "a@h/1", 5), SG_ERR_EXISTS);
	/* An expired claim: not released ("-"), then taken again. */
	raw_ok(c, "DEL %s", key2);
	ck_assert_int_eq(
	    queue_release_result(q, JOB2, NULL, "{}", 2, 60, "a@h/1", 900, owner, sizeof(owner)),
	    SG_ERR_EXISTS);
	ck_assert_str_eq(owner, "-");
	ck_assert_int_eq(raw_int(c, "EXISTS signet:result:%s", JOB2), 0);
	ck_assert_int_eq(queue_claim_job(q, JOB2, "a@h/1", 5, owner, sizeof(owner)), 0);
	/* Bad arguments. */
	ck_assert_int_eq(
	    queue_refresh_claims(q, "a h", ids, 2, 600, ours), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    queue_release_result(q, JOB1, NULL, "{}", 2, 60, "a@h/1", 0, owner, sizeof(owner)),
	    SG_ERR_INVALID_ARGUMENT);
	queue_entries_free(e, n);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(get_result_wrong_type)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	char *res = NULL;
	size_t len = 0;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);
	/* Anyone may write to Redis: a list where the result should be. */
	raw_ok(c, "LPUSH signet:result:%s x", JOB1);
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_ptr_null(res);
	raw_ok(c, "SET signet:done:%s x", JOB2);
	ck_assert_int_eq(queue_wait_done(q, JOB2, 100), SG_ERR_QUEUE_PROTOCOL);
	/* The connection stays in step after error replies. */
	ck_assert_int_eq(queue_get_result(q, JOB3, &res, &len), SG_ERR_NOT_FOUND);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(entry_shapes)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	struct queue_entry *e = NULL;
	size_t n = 0, i;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	c = raw_connect(&s);
	raw_ok(c, "XADD signet:jobs * other x");
	raw_ok(c, "XADD signet:jobs * env x extra y");
	raw_ok(c, "XADD signet:jobs * extra y env x");
	raw_ok(c, "XADD signet:jobs * ENV x");
	raw_ok(c, "XADD signet:jobs * env %b", "", (size_t)0);
	raw_ok(c, "XADD signet:jobs * env %b", "a\0b", (size_t)3);
	ck_assert_int_eq(queue_read(q, "agent-1", 100, 100, &e, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_ptr_null(e[0].env);
	ck_assert_ptr_null(e[1].env);
	ck_assert_ptr_null(e[2].env);
	ck_assert_ptr_null(e[3].env);
	ck_assert_ptr_nonnull(e[4].env);
	ck_assert_uint_eq(e[4].env_len, 0);
	ck_assert_uint_eq(e[5].env_len, 3);
	ck_assert_mem_eq(e[5].env, "a\0b", 3);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(queue_ack(q, e[i].id), 0);
	ck_assert_int_eq(raw_int(c, "XLEN signet:jobs"), 0);
	ck_assert_int_eq(raw_xpending(c, "signet:jobs"), 0);
	queue_entries_free(e, n);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(read_count_clamped)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	struct queue_entry *e = NULL;
	size_t n = 0, i;
	void *rep;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	c = raw_connect(&s);
	for (i = 0; i < QUEUE_READ_COUNT_MAX + 5; i++) {
		char v[32];

		snprintf(v, sizeof(v), "e%zu", i);
		ck_assert_int_eq(redisAppendCommand(c, "XADD signet:jobs * env %s", v), REDIS_OK);
	}
	for (i = 0; i < QUEUE_READ_COUNT_MAX + 5; i++) {
		ck_assert_int_eq(redisGetReply(c, &rep), REDIS_OK);
		freeReplyObject(rep);
	}
	ck_assert_int_eq(queue_read(q, "agent-1", 100000, 100, &e, &n), 0);
	ck_assert_uint_eq(n, QUEUE_READ_COUNT_MAX);
	queue_entries_free(e, n);
	ck_assert_int_eq(queue_read(q, "agent-1", QUEUE_READ_COUNT_MAX, 100, &e, &n), 0);
	ck_assert_uint_eq(n, 5);
	queue_entries_free(e, n);
	ck_assert_int_eq(queue_read(q, "agent-1", 0, 100, &e, &n), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_read(q, "agent-1", 1, -1, &e, &n), SG_ERR_INVALID_ARGUMENT);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(read_block_longer_than_socket_timeout)
{
	struct server s;
	struct queue *q;
	struct queue_entry *e = (struct queue_entry *)&s;
	size_t n = 5;
	int64_t t0, dt;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 100);
	ck_assert_int_eq(queue_group_create(q), 0);
	t0 = now_ms();
	ck_assert_int_eq(queue_read(q, "agent-1", 10, 400, &e, &n), 0);
	dt = now_ms() - t0;
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(e);
	ck_assert_int_ge(dt, 390);
	ck_assert_int_lt(dt, 3000);
	ck_assert_int_eq(queue_submit(q, "x", 1), 0);
	ck_assert_int_eq(queue_read(q, "agent-1", 10, 400, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	queue_entries_free(e, n);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(read_consumer_names)
{
	struct server s;
	struct queue *q;
	struct queue_entry *e = NULL;
	size_t n = 0;
	char name[QUEUE_CONSUMER_MAX + 2];

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	memset(name, 'c', sizeof(name));
	name[QUEUE_CONSUMER_MAX] = '\0';
	ck_assert_int_eq(queue_read(q, name, 1, 0, &e, &n), 0);
	name[QUEUE_CONSUMER_MAX] = 'c';
	name[QUEUE_CONSUMER_MAX + 1] = '\0';
	ck_assert_int_eq(queue_read(q, name, 1, 0, &e, &n), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_read(q, "", 1, 0, &e, &n), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_read(q, "a b", 1, 0, &e, &n), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_read(q, "a\nb", 1, 0, &e, &n), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_read(q, NULL, 1, 0, &e, &n), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_read(q, "agent@host/42", 1, 0, &e, &n), 0);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(ack_bad_ids)
{
	struct server s;
	struct queue *q;
	char id[QUEUE_ENTRY_ID_MAX + 2];

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_ack(q, "1-1"), 0);
	ck_assert_int_eq(queue_ack(q, "abc"), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_ack(q, "1-"), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_ack(q, "-1"), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_ack(q, "1-2-3"), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_ack(q, "12"), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_ack(q, ""), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(queue_ack(q, NULL), SG_ERR_INVALID_ARGUMENT);
	/* QUEUE_ENTRY_ID_MAX bytes is the edge (Redis itself refuses an id
	 * with parts that large, with an error reply). */
	memset(id, '1', sizeof(id));
	id[10] = '-';
	id[QUEUE_ENTRY_ID_MAX] = '\0';
	ck_assert_int_eq(queue_ack(q, id), SG_ERR_QUEUE_PROTOCOL);
	id[QUEUE_ENTRY_ID_MAX] = '1';
	id[QUEUE_ENTRY_ID_MAX + 1] = '\0';
	ck_assert_int_eq(queue_ack(q, id), SG_ERR_INVALID_ARGUMENT);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(prefix_custom)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	struct queue_entry *e = NULL;
	size_t n = 0;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, "t1:", NULL, 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_submit(q, "x", 1), 0);
	ck_assert_int_eq(queue_put_result(q, JOB1, "r", 1, 60, 0), 0);
	c = raw_connect(&s);
	ck_assert_int_eq(raw_int(c, "XLEN t1:jobs"), 1);
	ck_assert_int_eq(raw_int(c, "EXISTS t1:result:%s", JOB1), 1);
	ck_assert_int_eq(raw_int(c, "EXISTS t1:done:%s", JOB1), 1);
	ck_assert_int_eq(raw_int(c, "EXISTS signet:jobs"), 0);
	ck_assert_int_eq(raw_int(c, "EXISTS signet:result:%s", JOB1), 0);
	ck_assert_int_eq(raw_int(c, "DBSIZE"), 3);
	ck_assert_int_eq(queue_read(q, "a", 10, 0, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(queue_ack(q, e[0].id), 0);
	ck_assert_int_eq(raw_int(c, "XLEN t1:jobs"), 0);
	ck_assert_int_eq(raw_xpending(c, "t1:jobs"), 0);
	queue_entries_free(e, n);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(prefix_limits)
{
	struct server s;
	struct queue *q;
	char p[QUEUE_PREFIX_MAX + 2];
	redisContext *c;

	server_start(&s, NULL, 0);
	memset(p, 'p', sizeof(p));
	p[QUEUE_PREFIX_MAX] = '\0';
	q = open_ok(s.url, p, NULL, 0);
	ck_assert_int_eq(queue_submit(q, "x", 1), 0);
	queue_close(q);
	c = raw_connect(&s);
	ck_assert_int_eq(raw_int(c, "XLEN %sjobs", p), 1);
	redisFree(c);
	p[QUEUE_PREFIX_MAX] = 'p';
	p[QUEUE_PREFIX_MAX + 1] = '\0';
	open_fails(s.url, p, NULL, SG_ERR_CONFIG);
	open_fails(s.url, "", NULL, SG_ERR_CONFIG);
	open_fails(s.url, "a b:", NULL, SG_ERR_CONFIG);
	open_fails(s.url, "a\tb:", NULL, SG_ERR_CONFIG);
	open_fails(s.url, "\xc3\xa9:", NULL, SG_ERR_CONFIG);
	server_destroy(&s);
}
END_TEST

START_TEST(open_bad_config)
{
	struct queue *q = (struct queue *)&q;

	open_fails("http://localhost", NULL, NULL, SG_ERR_PARSE);
	open_fails("redis://localhost:0", NULL, NULL, SG_ERR_PARSE);
	open_fails(NULL, NULL, NULL, SG_ERR_CONFIG);
	/* A user needs a password (URL or file). */
	open_fails("redis://bob@127.0.0.1:1", NULL, NULL, SG_ERR_CONFIG);
	ck_assert_int_eq(queue_open(NULL, &q), SG_ERR_INVALID_ARGUMENT);
	queue_close(NULL);
	ck_assert_int_eq(queue_reconnect(NULL), SG_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(auth_url_password)
{
	struct server s;
	struct queue *q;
	char url[PATH_MAX + 64];
	redisContext *c;

	server_start(&s, "s3cr:t@x", 1);
	/* The password percent-encoded in the URL, over TCP. */
	snprintf(url, sizeof(url), "redis://:s3cr%%3At%%40x@127.0.0.1:%d", s.port);
	q = open_ok(url, NULL, NULL, 0);
	ck_assert_int_eq(queue_submit(q, "x", 1), 0);
	queue_close(q);
	/* With the user named (AUTH user password). */
	snprintf(url, sizeof(url), "redis://default:s3cr%%3At%%40x@127.0.0.1:%d", s.port);
	q = open_ok(url, NULL, NULL, 0);
	ck_assert_int_eq(queue_submit(q, "y", 1), 0);
	queue_close(q);
	c = raw_connect(&s);
	ck_assert_int_eq(raw_int(c, "XLEN signet:jobs"), 2);
	redisFree(c);
	/* A wrong one. */
	snprintf(url, sizeof(url), "redis://:s3cr%%3At@127.0.0.1:%d", s.port);
	open_fails(url, NULL, NULL, SG_ERR_QUEUE_AUTH);
	snprintf(url, sizeof(url), "redis://nobody:s3cr%%3At%%40x@127.0.0.1:%d", s.port);
	open_fails(url, NULL, NULL, SG_ERR_QUEUE_AUTH);
	/* None at all: PING at open time says NOAUTH. */
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s.port);
	open_fails(url, NULL, NULL, SG_ERR_QUEUE_AUTH);
	server_destroy(&s);
}
END_TEST

START_TEST(auth_password_file)
{
	struct server s;
	struct queue *q;
	char path[PATH_MAX + 16];

	server_start(&s, "file-secret", 0);
	snprintf(path, sizeof(path), "%s/pass", s.dir);
	write_secret(path, "file-secret\n", 0600);
	q = open_ok(s.url, NULL, path, 0);
	ck_assert_int_eq(queue_submit(q, "x", 1), 0);
	queue_close(q);
	/* Group- or world-readable: refused before connecting. */
	write_secret(path, "file-secret\n", 0640);
	open_fails(s.url, NULL, path, SG_ERR_SECRET_FILE);
	write_secret(path, "file-secret\n", 0604);
	open_fails(s.url, NULL, path, SG_ERR_SECRET_FILE);
	/* Wrong password. */
	write_secret(path, "not-the-secret\n", 0600);
	open_fails(s.url, NULL, path, SG_ERR_QUEUE_AUTH);
	/* Missing file, empty file. */
	snprintf(path, sizeof(path), "%s/absent", s.dir);
	open_fails(s.url, NULL, path, SG_ERR_CONFIG);
	snprintf(path, sizeof(path), "%s/empty", s.dir);
	write_secret(path, "", 0600);
	open_fails(s.url, NULL, path, SG_ERR_CONFIG);
	server_destroy(&s);
}
END_TEST

START_TEST(auth_file_overrides_url)
{
	struct server s;
	struct queue *q;
	char path[PATH_MAX + 16], url[PATH_MAX + 64];

	server_start(&s, "right", 1);
	snprintf(path, sizeof(path), "%s/pass", s.dir);
	write_secret(path, "right", 0600);
	snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", s.port);
	q = open_ok(url, NULL, path, 0);
	queue_close(q);
	/* And a password file of QUEUE_PASSWORD_MAX + 1 bytes is refused. */
	{
		char big[QUEUE_PASSWORD_MAX + 2];

		memset(big, 'x', sizeof(big));
		big[QUEUE_PASSWORD_MAX + 1] = '\0';
		write_secret(path, big, 0600);
		open_fails(url, NULL, path, SG_ERR_CONFIG);
	}
	server_destroy(&s);
}
END_TEST

START_TEST(auth_without_requirepass)
{
	struct server s;
	char path[PATH_MAX + 16];

	/* AUTH to a server that has no password is refused by the server:
	 * the configuration is wrong somewhere, so say so. */
	server_start(&s, NULL, 0);
	snprintf(path, sizeof(path), "%s/pass", s.dir);
	write_secret(path, "secret", 0600);
	open_fails(s.url, NULL, path, SG_ERR_QUEUE_AUTH);
	server_destroy(&s);
}
END_TEST

START_TEST(select_db)
{
	struct server s;
	struct queue *q;
	char url[PATH_MAX + 64];
	redisContext *c;

	server_start(&s, NULL, 1);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", s.port);
	q = open_ok(url, NULL, NULL, 0);
	ck_assert_int_eq(queue_submit(q, "x", 1), 0);
	/* Reconnecting selects the database again. */
	ck_assert_int_eq(queue_reconnect(q), 0);
	ck_assert_int_eq(queue_submit(q, "y", 1), 0);
	queue_close(q);
	c = raw_connect(&s);
	ck_assert_int_eq(raw_int(c, "EXISTS signet:jobs"), 0);
	raw_ok(c, "SELECT 3");
	ck_assert_int_eq(raw_int(c, "XLEN signet:jobs"), 2);
	redisFree(c);
	server_destroy(&s);
}
END_TEST

START_TEST(dead_socket)
{
	struct server s;
	struct queue *q;
	char url[PATH_MAX + 32];
	struct queue_entry *e = NULL;
	size_t n = 0;
	char *res = NULL;
	size_t len = 0;

	server_start(&s, NULL, 0);
	snprintf(url, sizeof(url), "unix://%s/nothing.sock", s.dir);
	open_fails(url, NULL, NULL, SG_ERR_QUEUE_UNAVAILABLE);
	/* Nobody listens on port 1. */
	open_fails("redis://127.0.0.1:1", NULL, NULL, SG_ERR_QUEUE_UNAVAILABLE);

	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	server_stop(&s);
	ck_assert_int_eq(queue_submit(q, "x", 1), SG_ERR_QUEUE_UNAVAILABLE);
	/* Sticky until reconnected. */
	ck_assert_int_eq(queue_read(q, "a", 1, 100, &e, &n), SG_ERR_QUEUE_UNAVAILABLE);
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), SG_ERR_QUEUE_UNAVAILABLE);
	ck_assert_int_eq(queue_wait_done(q, JOB1, 100), SG_ERR_QUEUE_UNAVAILABLE);
	ck_assert_int_eq(queue_put_result(q, JOB1, "r", 1, 60, 0), SG_ERR_QUEUE_UNAVAILABLE);
	ck_assert_int_eq(queue_ack(q, "1-1"), SG_ERR_QUEUE_UNAVAILABLE);
	ck_assert_int_eq(queue_group_create(q), SG_ERR_QUEUE_UNAVAILABLE);
	ck_assert_int_eq(queue_reconnect(q), SG_ERR_QUEUE_UNAVAILABLE);
	ck_assert_int_eq(queue_submit(q, "x", 1), SG_ERR_QUEUE_UNAVAILABLE);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(reconnect_after_restart)
{
	struct server s;
	struct queue *q;
	char path[PATH_MAX + 16];
	redisContext *c;

	server_start(&s, "pw", 0);
	snprintf(path, sizeof(path), "%s/pass", s.dir);
	write_secret(path, "pw", 0600);
	q = open_ok(s.url, NULL, path, 0);
	/* The password is kept for reconnecting, not read again. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(queue_submit(q, "before", 6), 0);
	server_stop(&s);
	server_spawn(&s);
	ck_assert_int_eq(queue_submit(q, "lost", 4), SG_ERR_QUEUE_UNAVAILABLE);
	ck_assert_int_eq(queue_reconnect(q), 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_submit(q, "after", 5), 0);
	c = raw_connect(&s);
	/* Nothing survived the restart (no persistence) but the new job. */
	ck_assert_int_eq(raw_int(c, "XLEN signet:jobs"), 1);
	redisFree(c);
	/* Reconnecting a healthy connection is fine too. */
	ck_assert_int_eq(queue_reconnect(q), 0);
	ck_assert_int_eq(queue_submit(q, "again", 5), 0);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

START_TEST(large_envelope)
{
	struct server s;
	struct queue *q;
	struct queue_entry *e = NULL;
	size_t n = 0, big = 1024 * 1024;
	char *env = malloc(big), *res = NULL;
	size_t len = 0;

	ck_assert_ptr_nonnull(env);
	memset(env, 'e', big);
	env[7] = '\0'; /* binary safe */
	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_submit(q, env, big), 0);
	ck_assert_int_eq(queue_read(q, "a", 1, 100, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(e[0].env_len, big);
	ck_assert_mem_eq(e[0].env, env, big);
	/* Results are binary safe up to the read cap (see get_result_size_cap). */
	ck_assert_int_eq(queue_put_result(q, JOB1, env, QUEUE_RESULT_READ_MAX, 60, 0), 0);
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), 0);
	ck_assert_uint_eq(len, QUEUE_RESULT_READ_MAX);
	ck_assert_mem_eq(res, env, QUEUE_RESULT_READ_MAX);
	free(res);
	queue_entries_free(e, n);
	free(env);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

/* --- a fake server with canned, hostile replies --- */

struct fake {
	pid_t pid;
	char dir[PATH_MAX];
	char url[PATH_MAX + 16];
};

static struct fake *fake_current;

static void
fake_cleanup(void)
{
	if (fake_current == NULL)
		return;
	if (fake_current->pid > 0) {
		kill(fake_current->pid, SIGKILL);
		waitpid(fake_current->pid, NULL, 0);
		fake_current->pid = 0;
	}
	(void)rm_tree(fake_current->dir);
	fake_current = NULL;
}

static int
fd_read_exact(int fd, char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads a line ending in \r\n (at most max bytes) and parses "<c><number>". */
static int
fd_read_header(int fd, char c, long *ret)
{
	char line[64];
	size_t i = 0;
	char *end;

	for (;;) {
		if (i + 1 >= sizeof(line) || fd_read_exact(fd, &line[i], 1) < 0)
			return -1;
		if (line[i] == '\n')
			break;
		i++;
	}
	line[i] = '\0';
	if (line[0] != c)
		return -1;
	*ret = strtol(line + 1, &end, 10);
	return 0;
}

/* Consumes one RESP command from the client. */
static int
fake_read_command(int fd)
{
	long argc, len, i;
	char buf[4096];

	if (fd_read_header(fd, '*', &argc) < 0)
		return -1;
	for (i = 0; i < argc; i++) {
		if (fd_read_header(fd, '$', &len) < 0 || len < 0)
			return -1;
		len += 2;
		while (len > 0) {
			long chunk = len < (long)sizeof(buf) ? len : (long)sizeof(buf);

			if (fd_read_exact(fd, buf, (size_t)chunk) < 0)
				return -1;
			len -= chunk;
		}
	}
	return 0;
}

/* Starts a server that answers the i-th command with replies[i] (raw
 * RESP); a NULL reply closes the connection instead.  The first command of
 * a queue_open() is PING, so replies[0] is normally "+PONG\r\n". */
static void
fake_start(struct fake *f, const char *const *replies, size_t n)
{
	struct sockaddr_un sa;
	char tmpl[PATH_MAX];
	int lfd;

	memset(f, 0, sizeof(*f));
	xsnprintf(tmpl, sizeof(tmpl), "%s/fake.XXXXXX", base_dir);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(f->dir, sizeof(f->dir), "%s", tmpl);
	fake_current = f;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	xsnprintf(sa.sun_path, sizeof(sa.sun_path), "%s/fake.sock", f->dir);
	snprintf(f->url, sizeof(f->url), "unix://%s", sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		size_t i;
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(TEST_TIMEOUT_S);
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			_exit(1);
		for (i = 0; i < n; i++) {
			if (fake_read_command(fd) < 0)
				_exit(0);
			if (replies[i] == NULL) {
				/* Hang up. */
				close(fd);
				_exit(0);
			}
			if (write(fd, replies[i], strlen(replies[i])) !=
			    (ssize_t)strlen(replies[i]))
				_exit(1);
		}
		/* Script done: read on, answer nothing (a silent server). */
		{
			char buf[4096];

			while (read(fd, buf, sizeof(buf)) > 0)
				;
		}
		_exit(0);
	}
	close(lfd);
}

static struct queue *
fake_open(struct fake *f, const char *const *replies, size_t n)
{
	fake_start(f, replies, n);
	return open_ok(f->url, NULL, NULL, 2000);
}

#define PONG       "+PONG\r\n"
/* One entry "1-1" with env "e" on stream signet:jobs. */
#define XREAD_HEAD "*1\r\n*2\r\n$11\r\nsignet:jobs\r\n"

static void
fake_read_expect(const char *reply, int expect)
{
	const char *replies[] = { PONG, reply };
	struct fake f;
	struct queue *q = fake_open(&f, replies, nitems(replies));
	struct queue_entry *e = (struct queue_entry *)&f;
	size_t n = 9;

	ck_assert_int_eq(queue_read(q, "a", 2, 0, &e, &n), expect);
	ck_assert_ptr_null(e);
	ck_assert_uint_eq(n, 0);
	queue_close(q);
	fake_cleanup();
}

START_TEST(hostile_read_ok)
{
	const char *replies[] = { PONG,
		XREAD_HEAD "*2\r\n"
			   "*2\r\n$3\r\n1-1\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n"
			   "*2\r\n$3\r\n2-0\r\n*2\r\n$3\r\nenv\r\n:5\r\n" };
	struct fake f;
	struct queue *q = fake_open(&f, replies, nitems(replies));
	struct queue_entry *e = NULL;
	size_t n = 0;

	/* The well-formed one parses; an integer value is env NULL. */
	ck_assert_int_eq(queue_read(q, "a", 2, 0, &e, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(e[0].id, "1-1");
	ck_assert_str_eq(e[0].env, "e");
	ck_assert_str_eq(e[1].id, "2-0");
	ck_assert_ptr_null(e[1].env);
	queue_entries_free(e, n);
	queue_close(q);
	fake_cleanup();
}
END_TEST

START_TEST(hostile_read_shapes)
{
	char longid[256];

	/* An error reply, a status, an integer instead of the array. */
	fake_read_expect("-ERR no\r\n", SG_ERR_QUEUE_PROTOCOL);
	fake_read_expect("+OK\r\n", SG_ERR_QUEUE_PROTOCOL);
	fake_read_expect(":1\r\n", SG_ERR_QUEUE_PROTOCOL);
	/* Two streams, an empty outer array. */
	fake_read_expect("*0\r\n", SG_ERR_QUEUE_PROTOCOL);
	fake_read_expect(
	    "*2\r\n*2\r\n$11\r\nsignet:jobs\r\n*0\r\n*2\r\n$11\r\nsignet:jobs\r\n*0\r\n",
	    SG_ERR_QUEUE_PROTOCOL);
	/* Another stream's name. */
	fake_read_expect("*1\r\n*2\r\n$11\r\nsignet:jobz\r\n*0\r\n", SG_ERR_QUEUE_PROTOCOL);
	fake_read_expect("*1\r\n*2\r\n:11\r\n*0\r\n", SG_ERR_QUEUE_PROTOCOL);
	/* Stream element of the wrong size. */
	fake_read_expect("*1\r\n*3\r\n$11\r\nsignet:jobs\r\n*0\r\n*0\r\n", SG_ERR_QUEUE_PROTOCOL);
	/* Entries not an array. */
	fake_read_expect(XREAD_HEAD "$1\r\nx\r\n", SG_ERR_QUEUE_PROTOCOL);
	/* More entries than COUNT (2). */
	fake_read_expect(XREAD_HEAD "*3\r\n"
				    "*2\r\n$3\r\n1-1\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n"
				    "*2\r\n$3\r\n1-2\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n"
				    "*2\r\n$3\r\n1-3\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n",
	    SG_ERR_QUEUE_PROTOCOL);
	/* An entry that is not [id, fields]. */
	fake_read_expect(XREAD_HEAD "*1\r\n$3\r\n1-1\r\n", SG_ERR_QUEUE_PROTOCOL);
	fake_read_expect(XREAD_HEAD "*1\r\n*1\r\n$3\r\n1-1\r\n", SG_ERR_QUEUE_PROTOCOL);
	fake_read_expect(XREAD_HEAD "*1\r\n*3\r\n$3\r\n1-1\r\n*0\r\n*0\r\n", SG_ERR_QUEUE_PROTOCOL);
	/* Ids that Redis would not produce. */
	fake_read_expect(
	    XREAD_HEAD "*1\r\n*2\r\n:1\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n", SG_ERR_QUEUE_PROTOCOL);
	fake_read_expect(XREAD_HEAD "*1\r\n*2\r\n$3\r\n1 1\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n",
	    SG_ERR_QUEUE_PROTOCOL);
	fake_read_expect(XREAD_HEAD "*1\r\n*2\r\n$4\r\n1-1\x01\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n",
	    SG_ERR_QUEUE_PROTOCOL);
	fake_read_expect(XREAD_HEAD "*1\r\n*2\r\n$0\r\n\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n",
	    SG_ERR_QUEUE_PROTOCOL);
	/* An id of QUEUE_ENTRY_ID_MAX + 1 bytes. */
	memset(longid, 0, sizeof(longid));
	snprintf(
	    longid, sizeof(longid), "%s*1\r\n*2\r\n$%d\r\n", XREAD_HEAD, QUEUE_ENTRY_ID_MAX + 1);
	memset(longid + strlen(longid), '1', QUEUE_ENTRY_ID_MAX + 1);
	longid[strlen(longid) - 2] = '-';
	strcat(longid, "\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n");
	fake_read_expect(longid, SG_ERR_QUEUE_PROTOCOL);
	/* Not RESP at all: the connection is gone afterwards. */
	fake_read_expect("HTTP/1.1 400 Bad Request\r\n\r\n", SG_ERR_QUEUE_PROTOCOL);
	/* The server hangs up. */
	fake_read_expect(NULL, SG_ERR_QUEUE_UNAVAILABLE);
}
END_TEST

START_TEST(hostile_read_id_edge)
{
	char reply[512];
	const char *replies[] = { PONG, reply };
	struct fake f;
	struct queue *q;
	struct queue_entry *e = NULL;
	size_t n = 0, len;

	/* An id of exactly QUEUE_ENTRY_ID_MAX bytes is taken. */
	snprintf(reply, sizeof(reply), "%s*1\r\n*2\r\n$%d\r\n", XREAD_HEAD, QUEUE_ENTRY_ID_MAX);
	len = strlen(reply);
	memset(reply + len, '7', QUEUE_ENTRY_ID_MAX);
	reply[len + 20] = '-';
	reply[len + QUEUE_ENTRY_ID_MAX] = '\0';
	strcat(reply, "\r\n*2\r\n$3\r\nenv\r\n$1\r\ne\r\n");
	q = fake_open(&f, replies, nitems(replies));
	ck_assert_int_eq(queue_read(q, "a", 2, 0, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(strlen(e[0].id), QUEUE_ENTRY_ID_MAX);
	queue_entries_free(e, n);
	queue_close(q);
	fake_cleanup();
}
END_TEST

START_TEST(hostile_read_nil_fields)
{
	const char *replies[] = { PONG,
		XREAD_HEAD "*2\r\n"
			   "*2\r\n$3\r\n1-1\r\n*-1\r\n"
			   "*2\r\n$3\r\n1-2\r\n*3\r\n$3\r\nenv\r\n$1\r\ne\r\n$1\r\nx\r\n" };
	struct fake f;
	struct queue *q = fake_open(&f, replies, nitems(replies));
	struct queue_entry *e = NULL;
	size_t n = 0;

	/* Deleted entry (nil fields) and an odd field list: env NULL. */
	ck_assert_int_eq(queue_read(q, "a", 2, 0, &e, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_null(e[0].env);
	ck_assert_ptr_null(e[1].env);
	ck_assert_str_eq(e[1].id, "1-2");
	queue_entries_free(e, n);
	queue_close(q);
	fake_cleanup();
}
END_TEST

START_TEST(hostile_other_replies)
{
	const char *replies[] = {
		PONG, ":7\r\n",                            /* GET: an integer */
		"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", /* BLPOP: 3 elements */
		"*2\r\n$5\r\nother\r\n$1\r\n1\r\n",        /* BLPOP: another key */
		"+OK\r\n",                                 /* XADD: status instead of id */
		"+QUEUED\r\n",                             /* SET NX: neither OK nor nil */
		"+OK\r\n", "$1\r\nx\r\n", ":1\r\n",        /* SET, LPUSH (bulk!), EXPIRE */
		":1\r\n", "+OK\r\n",                       /* XACK, XDEL status */
		"-NOAUTH Authentication required.\r\n",    /* XGROUP */
		"-WRONGTYPE x\r\n",                        /* XGROUP */
		"$-1\r\n",                                 /* GET: nil */
	};
	struct fake f;
	struct queue *q = fake_open(&f, replies, nitems(replies));
	char *res = (char *)&f;
	size_t len = 3;

	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_ptr_null(res);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(queue_wait_done(q, JOB1, 100), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_wait_done(q, JOB1, 100), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_submit(q, "x", 1), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_put_result(q, JOB1, "r", 1, 60, 1), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_put_result(q, JOB1, "r", 1, 60, 0), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_ack(q, "1-1"), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_group_create(q), SG_ERR_QUEUE_AUTH);
	ck_assert_int_eq(queue_group_create(q), SG_ERR_QUEUE_PROTOCOL);
	/* Still in step: the last reply answers the last command. */
	ck_assert_int_eq(queue_get_result(q, JOB1, &res, &len), SG_ERR_NOT_FOUND);
	queue_close(q);
	fake_cleanup();
}
END_TEST

/* queue_oldest() against a real server: nothing, then an undelivered entry,
 * then a delivered one and a newer undelivered one. */
START_TEST(oldest_ages)
{
	struct server s;
	struct queue *q;
	redisContext *c;
	struct queue_entry *e = NULL;
	struct queue_oldest o;
	size_t n = 0;

	server_start(&s, NULL, 0);
	q = open_ok(s.url, NULL, NULL, 0);
	c = raw_connect(&s);
	ck_assert_int_eq(queue_group_create(q), 0);
	ck_assert_int_eq(queue_oldest(q, &o), 0);
	ck_assert_uint_eq(o.pending, 0);
	ck_assert_int_eq(o.pending_ms, 0);
	ck_assert_int_eq(o.undelivered_ms, 0);
	raw_ok(c, "XADD signet:jobs 1000-0 env a");
	raw_ok(c, "XADD signet:jobs 2000-5 env b");
	ck_assert_int_eq(queue_oldest(q, &o), 0);
	ck_assert_uint_eq(o.pending, 0);
	ck_assert_int_eq(o.pending_ms, 0);
	ck_assert_int_eq(o.undelivered_ms, 1000);
	ck_assert_int_eq(queue_read(q, "agent", 1, 0, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	queue_entries_free(e, n);
	ck_assert_int_eq(queue_oldest(q, &o), 0);
	ck_assert_uint_eq(o.pending, 1);
	ck_assert_int_eq(o.pending_ms, 1000);
	ck_assert_int_eq(o.undelivered_ms, 2000);
	ck_assert_int_eq(queue_ack(q, "1000-0"), 0);
	ck_assert_int_eq(queue_oldest(q, &o), 0);
	ck_assert_uint_eq(o.pending, 0);
	ck_assert_int_eq(o.pending_ms, 0);
	ck_assert_int_eq(o.undelivered_ms, 2000);
	ck_assert_int_eq(queue_oldest(NULL, &o), SG_ERR_INVALID_ARGUMENT);
	redisFree(c);
	queue_close(q);
	server_destroy(&s);
}
END_TEST

/* The three replies behind queue_oldest() from a server that lies. */
START_TEST(hostile_oldest)
{
	static const char xinfo_ok[] =
	    "*1\r\n*4\r\n$4\r\nname\r\n$6\r\nagents\r\n$17\r\nlast-delivered-id\r\n"
	    "$3\r\n5-0\r\n";
	static const char pending_ok[] = "*4\r\n:1\r\n$3\r\n3-0\r\n$3\r\n3-0\r\n*0\r\n";
	const char *replies[] = {
		PONG,
		/* count 0 with an id */
		"*4\r\n:0\r\n$3\r\n1-0\r\n$-1\r\n$-1\r\n",
		xinfo_ok,
		/* not an entry id */
		"*4\r\n:1\r\n$3\r\nabc\r\n$3\r\n1-0\r\n*0\r\n",
		xinfo_ok,
		/* the group twice */
		pending_ok,
		"*2\r\n*4\r\n$4\r\nname\r\n$6\r\nagents\r\n$17\r\nlast-delivered-id\r\n"
		"$3\r\n5-0\r\n*4\r\n$4\r\nname\r\n$6\r\nagents\r\n$17\r\nlast-delivered-"
		"id\r\n$3\r\n6-0\r\n",
		/* no such group */
		pending_ok,
		"*0\r\n",
		/* two entries for COUNT 1 */
		pending_ok,
		xinfo_ok,
		"*2\r\n*2\r\n$3\r\n6-0\r\n*0\r\n*2\r\n$3\r\n7-0\r\n*0\r\n",
		/* a milliseconds part past INT64_MAX */
		"*4\r\n:1\r\n$22\r\n99999999999999999999-0\r\n$3\r\n1-0\r\n*0\r\n",
		xinfo_ok,
		/* all well */
		pending_ok,
		xinfo_ok,
		"*1\r\n*2\r\n$3\r\n6-0\r\n*0\r\n",
	};
	struct fake f;
	struct queue *q = fake_open(&f, replies, nitems(replies));
	struct queue_oldest o = { 7, 7, 7 };

	ck_assert_int_eq(queue_oldest(q, &o), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_oldest(q, &o), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_oldest(q, &o), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_oldest(q, &o), SG_ERR_NOT_FOUND);
	ck_assert_int_eq(queue_oldest(q, &o), SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_eq(queue_oldest(q, &o), SG_ERR_QUEUE_PROTOCOL);
	/* Nothing was set on failure. */
	ck_assert_uint_eq(o.pending, 7);
	ck_assert_int_eq(o.pending_ms, 7);
	ck_assert_int_eq(o.undelivered_ms, 7);
	ck_assert_int_eq(queue_oldest(q, &o), 0);
	ck_assert_uint_eq(o.pending, 1);
	ck_assert_int_eq(o.pending_ms, 3);
	ck_assert_int_eq(o.undelivered_ms, 6);
	queue_close(q);
	fake_cleanup();
}
END_TEST

START_TEST(hostile_open)
{
	struct fake f;
	struct queue *q = NULL;
	struct queue_opts o = { NULL, NULL, NULL, 2000, NULL };
	const char *not_pong[] = { "+OK\r\n" };
	const char *garbage[] = { "SSH-2.0-OpenSSH\r\n" };
	const char *noauth[] = { "-NOAUTH Authentication required.\r\n" };
	const char *hangup[] = { NULL };

	fake_start(&f, not_pong, 1);
	o.url = f.url;
	ck_assert_int_eq(queue_open(&o, &q), SG_ERR_QUEUE_PROTOCOL);
	fake_cleanup();
	fake_start(&f, garbage, 1);
	o.url = f.url;
	ck_assert_int_eq(queue_open(&o, &q), SG_ERR_QUEUE_PROTOCOL);
	fake_cleanup();
	fake_start(&f, noauth, 1);
	o.url = f.url;
	ck_assert_int_eq(queue_open(&o, &q), SG_ERR_QUEUE_AUTH);
	fake_cleanup();
	fake_start(&f, hangup, 1);
	o.url = f.url;
	ck_assert_int_eq(queue_open(&o, &q), SG_ERR_QUEUE_UNAVAILABLE);
	fake_cleanup();
	ck_assert_ptr_null(q);
}
END_TEST

START_TEST(hostile_silent_server)
{
	/* A server that accepts and never answers: the command timeout. */
	const char *replies[] = { PONG };
	struct fake f;
	struct queue *q;
	int64_t t0;

	fake_start(&f, replies, 1); /* answers PING, then reads and says nothing */
	q = open_ok(f.url, NULL, NULL, 300);
	t0 = now_ms();
	ck_assert_int_eq(queue_submit(q, "x", 1), SG_ERR_QUEUE_UNAVAILABLE);
	ck_assert_int_lt(now_ms() - t0, 3000);
	queue_close(q);
	fake_cleanup();
}
END_TEST

START_TEST(hostile_reply_byte_cap)
{
	/* A bulk string announcing more than QUEUE_REPLY_BYTES_MAX bytes is
	 * refused on its header, before any of it is buffered. */
	char head[256];
	const char *entry = XREAD_HEAD "*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$3\r\nenv\r\n";
	size_t per = 1024 * 1024, n = QUEUE_REPLY_BYTES_MAX / (1024 * 1024) + 4, i, off = 0;
	char *big;
	int64_t t0;

	xsnprintf(head, sizeof(head), "%s$%d\r\n", entry, QUEUE_REPLY_BYTES_MAX + 1);
	t0 = now_ms();
	fake_read_expect(head, SG_ERR_QUEUE_PROTOCOL);
	ck_assert_int_lt(now_ms() - t0, 1500);
	/* Entries of 1 MiB each, a valid XREADGROUP answer: 3 of them are
	 * read; QUEUE_REPLY_BYTES_MAX / 1 MiB + 4 of them are refused once
	 * the reply's bytes pass the cap. */
	big = malloc(64 + n * (per + 64));
	ck_assert_ptr_nonnull(big);
	for (int round = 0; round < 2; round++) {
		size_t count = round == 0 ? 3 : n;
		const char *replies[2];
		struct fake f;
		struct queue *q;
		struct queue_entry *e = NULL;
		size_t got = 0;

		off = (size_t)sprintf(big, "*1\r\n*2\r\n$11\r\nsignet:jobs\r\n*%zu\r\n", count);
		for (i = 0; i < count; i++) {
			off += (size_t)sprintf(big + off,
			    "*2\r\n$%d\r\n%zu-1\r\n*2\r\n$3\r\nenv\r\n$%zu\r\n",
			    snprintf(NULL, 0, "%zu-1", i + 1), i + 1, per);
			memset(big + off, 'e', per);
			off += per;
			memcpy(big + off, "\r\n", 2);
			off += 2;
		}
		big[off] = '\0';
		replies[0] = PONG;
		replies[1] = big;
		/* A long timeout: the cap, not the clock, must end the read
		 * (valgrind and sanitizers are slow). */
		fake_start(&f, replies, nitems(replies));
		q = open_ok(f.url, NULL, NULL, 120000);
		if (round == 0) {
			ck_assert_int_eq(queue_read(q, "a", QUEUE_READ_COUNT_MAX, 0, &e, &got), 0);
			ck_assert_uint_eq(got, 3);
			ck_assert_uint_eq(e[2].env_len, per);
			queue_entries_free(e, got);
		} else {
			ck_assert_int_eq(queue_read(q, "a", QUEUE_READ_COUNT_MAX, 0, &e, &got),
			    SG_ERR_QUEUE_PROTOCOL);
			ck_assert_uint_eq(got, 0);
		}
		queue_close(q);
		fake_cleanup();
	}
	free(big);
}
END_TEST

static void
test_setup(void)
{
	atexit(servers_cleanup);
	atexit(fake_cleanup);
}

static Suite *
queue_suite(void)
{
	Suite *s = suite_create("queue");

#define ADD(name, fn)                                                                              \
	tcase_add_checked_fixture(test_add(s, name, fn, TEST_TIMEOUT_S), test_setup, NULL)
	ADD("/queue/round-trip", round_trip);
	ADD("/queue/resp-scan/bounds", resp_scan_bounds);
	ADD("/queue/group/create-idempotent", group_create_idempotent);
	ADD("/queue/group/jobs-before-group", jobs_before_group);
	ADD("/queue/read/without-group", read_without_group);
	ADD("/queue/put-result/nx", put_result_nx);
	ADD("/queue/put-result/ttl", put_result_ttl);
	ADD("/queue/put-result/bad-args", put_result_bad_args);
	ADD("/queue/wait-done/timeout", wait_done_timeout);
	ADD("/queue/wait-done/wakes", wait_done_wakes);
	ADD("/queue/get-result/not-found", get_result_not_found);
	ADD("/queue/get-result/wrong-type", get_result_wrong_type);
	ADD("/queue/get-result/size-cap", get_result_size_cap);
	ADD("/queue/reclaim/idle-entries", reclaim_idle_entries);
	ADD("/queue/claim-job/once", claim_job_once);
	ADD("/queue/claim-job/refresh-release", claim_refresh_release);
	ADD("/queue/read/recreates-lost-group", read_recreates_lost_group);
	ADD("/queue/dead-letter/moves-entry", dead_letter_moves_entry);
	ADD("/queue/read/entry-shapes", entry_shapes);
	ADD("/queue/read/count-clamped", read_count_clamped);
	ADD("/queue/read/block-longer-than-socket-timeout", read_block_longer_than_socket_timeout);
	ADD("/queue/read/consumer-names", read_consumer_names);
	ADD("/queue/ack/bad-ids", ack_bad_ids);
	ADD("/queue/prefix/custom", prefix_custom);
	ADD("/queue/prefix/limits", prefix_limits);
	ADD("/queue/open/bad-config", open_bad_config);
	ADD("/queue/auth/url-password", auth_url_password);
	ADD("/queue/auth/password-file", auth_password_file);
	ADD("/queue/auth/file-overrides-url", auth_file_overrides_url);
	ADD("/queue/auth/without-requirepass", auth_without_requirepass);
	ADD("/queue/select-db", select_db);
	ADD("/queue/unavailable/dead-socket", dead_socket);
	ADD("/queue/reconnect/after-restart", reconnect_after_restart);
	ADD("/queue/large-envelope", large_envelope);
	ADD("/queue/hostile/read-ok", hostile_read_ok);
	ADD("/queue/hostile/read-shapes", hostile_read_shapes);
	ADD("/queue/hostile/read-id-edge", hostile_read_id_edge);
	ADD("/queue/hostile/read-nil-fields", hostile_read_nil_fields);
	ADD("/queue/hostile/other-replies", hostile_other_replies);
	ADD("/queue/hostile/open", hostile_open);
	ADD("/queue/oldest/ages", oldest_ages);
	ADD("/queue/hostile/oldest", hostile_oldest);
	ADD("/queue/hostile/silent-server", hostile_silent_server);
	ADD("/queue/hostile/reply-byte-cap", hostile_reply_byte_cap);
#undef ADD
	return s;
}

/* Kills every server recorded under base_dir (a test killed on timeout
 * left its server running) and removes the tree. */
static int
sweep_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *name = path + ftw->base;
	char cmdline[256] = "", proc[64];
	long pid;
	FILE *f;
	size_t n;

	(void)st;
	if (flag != FTW_F || strcmp(name, PIDFILE) != 0)
		return 0;
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
		fclose(f);
		return 0;
	}
	fclose(f);
	/* Only if that pid is still a redis-server. */
	snprintf(proc, sizeof(proc), "/proc/%ld/cmdline", pid);
	if ((f = fopen(proc, "r")) == NULL)
		return 0;
	n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
	fclose(f);
	cmdline[n] = '\0';
	if (strstr(cmdline, "redis-server") != NULL)
		kill((pid_t)pid, SIGKILL);
	return 0;
}

static void
sweep(void)
{
	if (base_dir[0] == '\0')
		return;
	(void)nftw(base_dir, sweep_entry, 16, FTW_PHYS);
	(void)rm_tree(base_dir);
	base_dir[0] = '\0';
}

static void
on_signal(int sig)
{
	sweep();
	signal(sig, SIG_DFL);
	raise(sig);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	int status;

	/* hiredis writes with write(2): a dead server must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(base_dir, sizeof(base_dir), "%s/signet-test-queue.XXXXXX", tmp);
	if (mkdtemp(base_dir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	status = test_run(queue_suite());
	sweep();
	return status;
}
