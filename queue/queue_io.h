/*
 * queue_io.h — internal to queue/: the byte transport under the queue.  A
 * TCP or unix-socket connection, optionally TLS (OpenSSL), with every
 * connect, write and read bounded by a timeout (poll), and a reader that
 * hands hiredis's RESP parser only complete replies that
 * queue_resp_scan() has bounded.  Hiredis is used as a parser only: its
 * redisContext and its sockets are not.
 */
#ifndef SG_QUEUE_IO_H
#define SG_QUEUE_IO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "err.h"
#include "queue.h"

struct qio;

/*
 * The TLS client context for the options (NULL: the system's trust store,
 * no client certificate): TLS 1.2 at least, the peer verified.  The client
 * key file is read as a secret file (no group or other permission).  On
 * failure a reason naming the file in why.
 */
int qio_tls_ctx(
    const struct queue_tls_opts *o, SSL_CTX **ret, char *why, size_t whylen) SG_MUST_CHECK;

/*
 * Connects to host:port (TCP, TCP_NODELAY) or, with host NULL, to the unix
 * socket at path, within timeout_ms; with ctx, then runs a TLS handshake
 * that checks the certificate against name (a host name or an IP literal;
 * also sent as SNI when it is a name).  0, SG_ERR_QUEUE_UNAVAILABLE (with
 * the system's or TLS's reason in why: "Connection refused", "certificate
 * verify failed: certificate has expired", "hostname mismatch"),
 * SG_ERR_QUEUE_PROTOCOL for a server that does not speak TLS (it answers
 * something else, or nothing within the timeout), SG_ERR_ALLOC.
 */
int qio_connect(const char *host, int port, const char *path, SSL_CTX *ctx, const char *name,
    int timeout_ms, struct qio **ret, char *why, size_t whylen) SG_MUST_CHECK;
void qio_close(struct qio *io);

/* The timeout of each later write or read (ms, > 0). */
void qio_set_timeout(struct qio *io, int64_t ms);
/* 0 while usable; else the sticky error of the failed call
 * (SG_ERR_QUEUE_UNAVAILABLE, SG_ERR_QUEUE_PROTOCOL, SG_ERR_ALLOC). */
int qio_error(const struct qio *io);
/* The reason of that error, for the debug log and a person ("" if none). */
const char *qio_errstr(const struct qio *io);

/* Writes all len bytes (never raises SIGPIPE). */
int qio_write(struct qio *io, const void *buf, size_t len) SG_MUST_CHECK;

/*
 * Reads one reply (a redisReply, caller frees with freeReplyObject).  It is
 * parsed only once queue_resp_scan() has seen all of it within elems_max
 * array elements; and no more than QUEUE_REPLY_BYTES_MAX bytes of one
 * reply are ever buffered: a bulk string or a reply announcing more fails
 * at once (SG_ERR_QUEUE_PROTOCOL, the connection is then unusable).
 */
int qio_read_reply(struct qio *io, size_t elems_max, void **ret) SG_MUST_CHECK;

/*
 * The reply reader alone, without a socket, for the fuzz target: feeds len
 * bytes, then takes replies as qio_read_reply() would.  *ret NULL when
 * more bytes are needed.
 */
struct qio *qio_new_detached(void);
int qio_feed(
    struct qio *io, const void *buf, size_t len, size_t elems_max, void **ret) SG_MUST_CHECK;

#endif
