/*
 * queue_io.c — the byte transport under the queue (queue_io.h): sockets
 * and TLS of our own, hiredis as a RESP parser only.
 *
 * Every socket is non-blocking; each connect, handshake, write and read
 * waits in poll() until a deadline of the current timeout, so that a
 * server that stops answering (or a plain-text server on a TLS URL, which
 * never answers the ClientHello) costs one timeout and not a hang.  Writes
 * use MSG_NOSIGNAL (plain) or a socket BIO whose writes go through send()
 * with MSG_NOSIGNAL as well (TLS: see tls_bio), so a peer that went away
 * never raises SIGPIPE.
 *
 * Reading: bytes go into a hiredis redisReader, but a reply is taken out
 * of it only once queue_resp_scan() has seen all of it within the element
 * and nesting bounds (hiredis 0.14 allocates an array's element table as
 * soon as it reads the count), and no more than QUEUE_REPLY_BYTES_MAX
 * bytes of one reply are ever buffered: a bulk string announcing more, or
 * a reply still incomplete past that, fails the read at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "queue_internal.h"
#include "queue_io.h"
#include "util.h"

#define QIO_READ_CHUNK (64 * 1024)
#define QIO_ERR_MAX    200

struct qio {
	int fd;
	SSL *ssl;
	redisReader *rd;
	int64_t timeout_ms;
	int err; /* sticky: 0 or an SG_ERR_* code */
	char errstr[QIO_ERR_MAX];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct qio *io, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct qio *io, int err, const char *fmt, ...)
{
	va_list ap;

	if (io->err == 0) {
		io->err = err;
		va_start(ap, fmt);
		vsnprintf(io->errstr, sizeof(io->errstr), fmt, ap);
		va_end(ap);
	}
	return io->err;
}

/* OpenSSL's first queued reason, or what the caller says. */
static const char *
ssl_reason(char *buf, size_t len, const char *dflt)
{
	unsigned long e = ERR_get_error();

	if (e == 0) {
		snprintf(buf, len, "%s", dflt);
		return buf;
	}
	ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	/* "error:0A000086:SSL routines::certificate verify failed": keep the
	 * words after the last colon. */
	{
		const char *c = strrchr(buf, ':');

		if (c != NULL && c[1] != '\0')
			memmove(buf, c + 1, strlen(c + 1) + 1);
	}
	return buf;
}

/* Waits for events on the socket until the deadline: 0 when ready. */
static int
wait_fd(struct qio *io, short events, int64_t deadline)
{
	struct pollfd p;
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(ETIMEDOUT));
		p.fd = io->fd;
		p.events = events;
		p.revents = 0;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "poll: %s", strerror(errno));
		if (n > 0)
			return 0;
	}
}

/* ---- TLS ---- */

/* The socket BIO sends with MSG_NOSIGNAL: a write to a peer that closed
 * returns EPIPE instead of killing the process.  Made once (the agent's
 * threads connect at the same time). */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int
nosig_write(BIO *b, const char *buf, int len)
{
	ssize_t n;
	int fd = (int)BIO_get_fd(b, NULL);

	BIO_clear_retry_flags(b);
	n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static void
nosig_init(void)
{
	const BIO_METHOD *base = BIO_s_socket();
	BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "signet socket");

	if (m == NULL)
		return;
	if (BIO_meth_set_write(m, nosig_write) != 1 ||
	    BIO_meth_set_read(m, BIO_meth_get_read(base)) != 1 ||
	    BIO_meth_set_puts(m, BIO_meth_get_puts(base)) != 1 ||
	    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base)) != 1 ||
	    BIO_meth_set_create(m, BIO_meth_get_create(base)) != 1 ||
	    BIO_meth_set_destroy(m, BIO_meth_get_destroy(base)) != 1) {
		BIO_meth_free(m);
		return;
	}
	nosig_method = m;
}

static BIO *
nosig_bio(int fd)
{
	BIO *b;

	if (pthread_once(&nosig_once, nosig_init) != 0 || nosig_method == NULL)
		return NULL;
	if ((b = BIO_new(nosig_method)) == NULL)
		return NULL;
	BIO_set_fd(b, fd, BIO_NOCLOSE);
	return b;
}

static int
load_client_key(SSL_CTX *ctx, const char *path, char *why, size_t whylen)
{
	char *pem = NULL;
	size_t len = 0;
	BIO *b = NULL;
	EVP_PKEY *k = NULL;
	char ebuf[160];
	int r;

	if ((r = read_secret_file(path, &pem, &len)) != 0) {
		snprintf(why, whylen, "the TLS client key %s: %s", path,
		    r == SG_ERR_SECRET_FILE ? "readable by group or others (chmod 600)"
			: r == SG_ERR_SYSTEM || r == SG_ERR_NOT_FOUND ? strerror(errno)
								      : sg_strerror(r));
		return r == SG_ERR_ALLOC ? r : SG_ERR_CONFIG;
	}
	r = SG_ERR_CONFIG;
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL) {
		snprintf(why, whylen, "the TLS client key %s: %s", path,
		    ssl_reason(ebuf, sizeof(ebuf), "not a PEM private key"));
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, k) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(why, whylen, "the TLS client key %s: %s", path,
		    ssl_reason(ebuf, sizeof(ebuf), "does not match the certificate"));
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	BIO_free(b);
	freezero(pem, len + 1);
	return r;
}

int
qio_tls_ctx(const struct queue_tls_opts *o, SSL_CTX **ret, char *why, size_t whylen)
{
	SSL_CTX *ctx = NULL;
	char ebuf[160];
	int r = SG_ERR_CONFIG;

	*ret = NULL;
	why[0] = '\0';
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_AUTO_RETRY);
	if (o != NULL && o->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
			snprintf(why, whylen, "the TLS CA file %s: %s", o->ca_file,
			    ssl_reason(ebuf, sizeof(ebuf), "no certificate in it"));
			goto out;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(why, whylen, "the system's trust store: %s",
		    ssl_reason(ebuf, sizeof(ebuf), "cannot be loaded"));
		goto out;
	}
	if (o != NULL && (o->cert_file != NULL) != (o->key_file != NULL)) {
		snprintf(why, whylen,
		    "a TLS client certificate needs its key, and a key its certificate");
		goto out;
	}
	if (o != NULL && o->cert_file != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
			snprintf(why, whylen, "the TLS client certificate %s: %s", o->cert_file,
			    ssl_reason(ebuf, sizeof(ebuf), "not a PEM certificate"));
			goto out;
		}
		if ((r = load_client_key(ctx, o->key_file, why, whylen)) != 0)
			goto out;
	}
	*ret = ctx;
	ctx = NULL;
	r = 0;
out:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return r;
}

/* Plain words for the alerts a person can act on, or NULL. */
static const char *
tls_alert_words(void)
{
	switch (ERR_GET_REASON(ERR_peek_error())) {
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
		return "the server refused the client certificate, or wants one "
		       "(tls-auth-clients)";
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_UNSUPPORTED_PROTOCOL:
		return "no common TLS version (TLS 1.2 or later is required)";
	default:
		return NULL;
	}
}

static int
tls_handshake(struct qio *io, SSL_CTX *ctx, const char *name, int64_t deadline)
{
	unsigned char ip[sizeof(struct in6_addr)];
	BIO *b;
	char ebuf[160];
	int n, e;
	long vr;

	if ((io->ssl = SSL_new(ctx)) == NULL || (b = nosig_bio(io->fd)) == NULL)
		return fail(io, SG_ERR_ALLOC, "out of memory");
	SSL_set_bio(io->ssl, b, b);
	if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(io->ssl), name) != 1)
			return fail(io, SG_ERR_ALLOC, "out of memory");
	} else {
		/* SSL_set_tlsext_host_name() takes a char * (a macro that casts
		 * away const): hand it a copy. */
		char sni[QUEUE_HOST_MAX + 1];

		if (snprintf(sni, sizeof(sni), "%s", name) >= (int)sizeof(sni))
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "host name too long");
		if (SSL_set1_host(io->ssl, name) != 1 ||
		    SSL_set_tlsext_host_name(io->ssl, sni) != 1)
			return fail(io, SG_ERR_ALLOC, "out of memory");
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((n = SSL_connect(io->ssl)) == 1)
			break;
		e = SSL_get_error(io->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(io, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) !=
			    0) {
				/* Say what we were waiting for: a plain-text
				 * server on a TLS URL never answers. */
				io->err = 0;
				return fail(io, SG_ERR_QUEUE_PROTOCOL,
				    "TLS handshake: no answer within the timeout (is it a TLS "
				    "port?)");
			}
			continue;
		}
		vr = SSL_get_verify_result(io->ssl);
		if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE,
			    "TLS: hostname mismatch: the certificate is not for %s", name);
		if (vr != X509_V_OK)
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE,
			    "TLS: certificate verify failed: %s",
			    X509_verify_cert_error_string(vr));
		if (e == SSL_ERROR_SYSCALL && errno != 0)
			return fail(
			    io, SG_ERR_QUEUE_UNAVAILABLE, "TLS handshake: %s", strerror(errno));
		if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE,
			    "TLS handshake: the server closed the connection");
		{
			int why = ERR_GET_REASON(ERR_peek_error());

			if (why == SSL_R_WRONG_VERSION_NUMBER ||
			    why == SSL_R_PACKET_LENGTH_TOO_LONG || why == SSL_R_HTTP_REQUEST) {
				ERR_clear_error();
				return fail(io, SG_ERR_QUEUE_PROTOCOL,
				    "TLS handshake: the server does not speak TLS (a plain-text "
				    "port?)");
			}
		}
		if (tls_alert_words() != NULL) {
			const char *w = tls_alert_words();

			ERR_clear_error();
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "TLS handshake: %s", w);
		}
		return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "TLS handshake: %s",
		    ssl_reason(ebuf, sizeof(ebuf), "failed"));
	}
	return 0;
}

/* ---- connect ---- */

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

/* Connects io->fd (non-blocking) to the address within the deadline. */
static int
connect_addr(struct qio *io, const struct sockaddr *sa, socklen_t salen, int64_t deadline)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (connect(io->fd, sa, salen) == 0)
		return 0;
	/* EAGAIN (a unix socket's full backlog) is a failure, not a connect
	 * in progress. */
	if (errno != EINPROGRESS)
		return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(errno));
	if (wait_fd(io, POLLOUT, deadline) != 0)
		return io->err;
	if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr != 0)
		return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(soerr));
	return 0;
}

static int
connect_unix(struct qio *io, const char *path, int64_t deadline)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(ENAMETOOLONG));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((io->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(errno));
	return connect_addr(io, (const struct sockaddr *)&sun, sizeof(sun), deadline);
}

static int
connect_tcp(struct qio *io, const char *host, int port, int64_t deadline)
{
	struct addrinfo hints, *res = NULL, *ai;
	char ports[16];
	int one = 1, rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ports, sizeof(ports), "%d", port);
	if ((rv = getaddrinfo(host, ports, &hints, &res)) != 0)
		return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s",
		    rv == EAI_SYSTEM ? strerror(errno) : gai_strerror(rv));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		io->err = 0;
		io->errstr[0] = '\0';
		if (io->fd >= 0)
			close(io->fd);
		io->fd = socket(
		    ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (io->fd < 0) {
			(void)fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(errno));
			continue;
		}
		if (connect_addr(io, ai->ai_addr, ai->ai_addrlen, deadline) == 0) {
			(void)setsockopt(io->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			break;
		}
	}
	freeaddrinfo(res);
	return io->err;
}

static struct qio *
qio_new(void)
{
	struct qio *io = calloc(1, sizeof(*io));

	if (io == NULL)
		return NULL;
	io->fd = -1;
	io->timeout_ms = 5000;
	if ((io->rd = redisReaderCreate()) == NULL) {
		free(io);
		return NULL;
	}
	return io;
}

int
qio_connect(const char *host, int port, const char *path, SSL_CTX *ctx, const char *name,
    int timeout_ms, struct qio **ret, char *why, size_t whylen)
{
	struct qio *io;
	int64_t deadline = now_ms() + timeout_ms;
	int r;

	*ret = NULL;
	if ((io = qio_new()) == NULL)
		return SG_ERR_ALLOC;
	io->timeout_ms = timeout_ms;
	if (host != NULL)
		r = connect_tcp(io, host, port, deadline);
	else if (path != NULL)
		r = connect_unix(io, path, deadline);
	else
		r = fail(io, SG_ERR_INVALID_ARGUMENT, "no host and no socket path");
	if (r == 0 && io->fd >= 0 && set_nonblock(io->fd) < 0)
		r = fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(errno));
	if (r == 0 && ctx != NULL)
		r = tls_handshake(io, ctx,
		    name != NULL       ? name
			: host != NULL ? host
				       : "",
		    deadline);
	if (r != 0) {
		snprintf(why, whylen, "%s", io->errstr);
		qio_close(io);
		return r;
	}
	*ret = io;
	return 0;
}

void
qio_close(struct qio *io)
{
	if (io == NULL)
		return;
	if (io->ssl != NULL) {
		/* No close_notify: the server learns of the close from the
		 * socket, and a dead peer must not cost a timeout here. */
		SSL_free(io->ssl);
	}
	if (io->fd >= 0)
		close(io->fd);
	if (io->rd != NULL)
		redisReaderFree(io->rd);
	free(io);
}

void
qio_set_timeout(struct qio *io, int64_t ms)
{
	io->timeout_ms = ms > 0 ? ms : 1;
}

int
qio_error(const struct qio *io)
{
	return io == NULL ? SG_ERR_QUEUE_UNAVAILABLE : io->err;
}

const char *
qio_errstr(const struct qio *io)
{
	return io == NULL ? "" : io->errstr;
}

/* ---- write and read ---- */

int
qio_write(struct qio *io, const void *buf, size_t len)
{
	const char *p = buf;
	int64_t deadline = now_ms() + io->timeout_ms;
	ssize_t n;
	char ebuf[160];
	int e;

	if (io->err != 0)
		return io->err;
	while (len > 0) {
		if (io->ssl != NULL) {
			size_t w = 0;

			ERR_clear_error();
			errno = 0;
			if (SSL_write_ex(io->ssl, p, len, &w) == 1) {
				p += w;
				len -= w;
				continue;
			}
			e = SSL_get_error(io->ssl, 0);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				if (wait_fd(io, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
					deadline) != 0)
					return io->err;
				continue;
			}
			if (e == SSL_ERROR_SYSCALL && errno != 0)
				return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(errno));
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "TLS write: %s",
			    ssl_reason(ebuf, sizeof(ebuf), "connection closed"));
		}
		n = send(io->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(io, POLLOUT, deadline) != 0)
				return io->err;
			continue;
		}
		return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(n < 0 ? errno : EPIPE));
	}
	return 0;
}

/* Reads at most len bytes into buf: > 0, or the error. */
static ssize_t
read_some(struct qio *io, char *buf, size_t len, int64_t deadline)
{
	ssize_t n;
	char ebuf[160];
	int e;

	for (;;) {
		if (io->ssl != NULL) {
			size_t got = 0;

			ERR_clear_error();
			errno = 0;
			if (SSL_read_ex(io->ssl, buf, len, &got) == 1)
				return (ssize_t)got;
			e = SSL_get_error(io->ssl, 0);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				if (wait_fd(io, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
					deadline) != 0)
					return io->err;
				continue;
			}
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
				return fail(
				    io, SG_ERR_QUEUE_UNAVAILABLE, "Server closed the connection");
			if (e == SSL_ERROR_SYSCALL)
				return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(errno));
			if (tls_alert_words() != NULL) {
				const char *w = tls_alert_words();

				ERR_clear_error();
				return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "TLS: %s", w);
			}
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "TLS read: %s",
			    ssl_reason(ebuf, sizeof(ebuf), "failed"));
		}
		n = recv(io->fd, buf, len, 0);
		if (n > 0)
			return n;
		if (n == 0)
			return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "Server closed the connection");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(io, POLLIN, deadline) != 0)
				return io->err;
			continue;
		}
		return fail(io, SG_ERR_QUEUE_UNAVAILABLE, "%s", strerror(errno));
	}
}

/* 1 with a reply in *ret, 0 when more bytes are needed, or the error. */
static int
take_reply(struct qio *io, size_t elems_max, void **ret)
{
	redisReader *rd = io->rd;
	size_t avail = rd->len - rd->pos;
	long n;

	*ret = NULL;
	n = queue_resp_scan(
	    (const uint8_t *)rd->buf + rd->pos, avail, elems_max, QUEUE_REPLY_BYTES_MAX);
	if (n < 0)
		return fail(io, SG_ERR_QUEUE_PROTOCOL,
		    "a reply over %zu elements, %d levels or %d bytes, or malformed", elems_max,
		    QUEUE_RESP_DEPTH_MAX, QUEUE_REPLY_BYTES_MAX);
	if (n == 0) {
		if (avail > QUEUE_REPLY_BYTES_MAX)
			return fail(io, SG_ERR_QUEUE_PROTOCOL, "a reply over %d bytes",
			    QUEUE_REPLY_BYTES_MAX);
		return 0;
	}
	if (redisReaderGetReply(rd, ret) != REDIS_OK || *ret == NULL) {
		*ret = NULL;
		if (rd->err == REDIS_ERR_OOM)
			return fail(io, SG_ERR_ALLOC, "out of memory");
		return fail(io, SG_ERR_QUEUE_PROTOCOL, "Protocol error");
	}
	return 1;
}

int
qio_read_reply(struct qio *io, size_t elems_max, void **ret)
{
	int64_t deadline = now_ms() + io->timeout_ms;
	char *buf = NULL;
	ssize_t n;
	int r;

	*ret = NULL;
	if (io->err != 0)
		return io->err;
	while ((r = take_reply(io, elems_max, ret)) == 0) {
		if (buf == NULL && (buf = malloc(QIO_READ_CHUNK)) == NULL)
			return fail(io, SG_ERR_ALLOC, "out of memory");
		if ((n = read_some(io, buf, QIO_READ_CHUNK, deadline)) < 0)
			break;
		if (redisReaderFeed(io->rd, buf, (size_t)n) != REDIS_OK) {
			(void)fail(io, SG_ERR_ALLOC, "out of memory");
			break;
		}
	}
	free(buf);
	return r == 1 ? 0 : io->err;
}

struct qio *
qio_new_detached(void)
{
	return qio_new();
}

int
qio_feed(struct qio *io, const void *buf, size_t len, size_t elems_max, void **ret)
{
	int r;

	*ret = NULL;
	if (io->err != 0)
		return io->err;
	if (len > 0 && redisReaderFeed(io->rd, buf, len) != REDIS_OK)
		return fail(io, SG_ERR_ALLOC, "out of memory");
	r = take_reply(io, elems_max, ret);
	return r < 0 ? r : 0;
}
