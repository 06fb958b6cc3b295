/*
 * test_http.c — http_easy_setup() (agent/http.h), the libcurl options that
 * the artifact store and the webhooks share, each seen from the wire: a
 * server thread on 127.0.0.1 (plain HTTP, or TLS with a certificate made
 * here) counts and keeps the requests it gets; a listening socket that
 * never accepts stands for a server that never answers.
 */
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http.h"
#include "sgtime.h"
#include "testlib.h"
#include "util.h"

#define TEST_TIMEOUT_S 30
#define REQUEST_MAX    4096 /* bytes of a request head the server keeps */
#define SERVER_POLL_MS 50   /* how often the server looks at its stop flag */
#define TIMEOUT_MS     300  /* the transfers' timeout where it is tested */

static const char answer_ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

struct server {
	int fd, port;
	SSL_CTX *tls;       /* NULL: plain HTTP */
	const char *answer; /* what every request gets */
	atomic_int stop;
	pthread_t thread;
	/* Written by the thread; read after it is joined. */
	int requests;
	char first[REQUEST_MAX + 1];
};

/* A TCP socket listening on 127.0.0.1, any port; its port in *port. */
static int
listen_local(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Reads one request head; its length, or -1. */
static int
read_head(int fd, SSL *ssl, char *buf, size_t cap)
{
	size_t len = 0;
	int n;

	while (len < cap) {
		n = ssl != NULL ? SSL_read(ssl, buf + len, (int)(cap - len))
				: (int)read(fd, buf + len, cap - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	return (int)len;
}

static void *
serve(void *arg)
{
	struct server *sv = arg;
	struct pollfd pfd = { .fd = sv->fd, .events = POLLIN };
	struct timeval tv = { 2, 0 };
	char buf[REQUEST_MAX + 1];
	size_t n = strlen(sv->answer);
	int c, len;

	while (!atomic_load(&sv->stop)) {
		SSL *ssl = NULL;

		if (poll(&pfd, 1, SERVER_POLL_MS) <= 0)
			continue;
		if ((c = accept4(sv->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (sv->tls != NULL &&
		    ((ssl = SSL_new(sv->tls)) == NULL || SSL_set_fd(ssl, c) != 1 ||
			SSL_accept(ssl) != 1))
			goto next; /* the client refused the handshake */
		if ((len = read_head(c, ssl, buf, REQUEST_MAX)) < 0)
			goto next;
		if (sv->requests++ == 0)
			memcpy(sv->first, buf, (size_t)len + 1);
		if (ssl != NULL)
			(void)SSL_write(ssl, sv->answer, (int)n);
		else
			(void)!write(c, sv->answer, n);
next:
		if (ssl != NULL)
			SSL_shutdown(ssl);
		SSL_free(ssl);
		close(c);
	}
	return NULL;
}

static void
server_start(struct server *sv, SSL_CTX *tls, const char *answer)
{
	memset(sv, 0, sizeof(*sv));
	sv->fd = listen_local(&sv->port);
	sv->tls = tls;
	sv->answer = answer;
	atomic_init(&sv->stop, 0);
	ck_assert_int_eq(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

static void
server_stop(struct server *sv)
{
	atomic_store(&sv->stop, 1);
	pthread_join(sv->thread, NULL);
	close(sv->fd);
}

/* A fresh handle, with the environment's proxies out of the way. */
static CURL *
handle(void)
{
	CURL *c;

	unset_proxies();
	ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	return c;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* Sets c up for url (and the rest of o) and performs; the HTTP status in
 * *code. */
static CURLcode
fetch(CURL *c, struct http_opts *o, const char *url, long *code)
{
	CURLcode cc;

	o->url = url;
	ck_assert_int_eq(http_easy_setup(c, o), CURLE_OK);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	cc = curl_easy_perform(c);
	*code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	return cc;
}

/* Only http and https: other schemes fail before any connection. */
START_TEST(test_protocols)
{
	static const char *const urls[] = {
		"file:///dev/null",
		"ftp://127.0.0.1:1/x",
		"gopher://127.0.0.1:1/x",
		"dict://127.0.0.1:1/x",
		"smtp://127.0.0.1:1/",
	};
	char errbuf[CURL_ERROR_SIZE];
	struct http_opts o = { .timeout_ms = TIMEOUT_MS, .errbuf = errbuf };
	CURL *c = handle();
	size_t i;
	long code;

	for (i = 0; i < nitems(urls); i++) {
		ck_assert_int_eq(fetch(c, &o, urls[i], &code), CURLE_UNSUPPORTED_PROTOCOL);
		ck_assert_msg(errbuf[0] != '\0', "%s: no reason in errbuf", urls[i]);
	}
	curl_easy_cleanup(c);
}
END_TEST

/* A redirect is an answer, not followed, even on a handle that was set to
 * follow (and to POST) before: the reset comes first.  The headers given
 * are sent. */
START_TEST(test_no_redirect)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "X-Test: one");
	struct http_opts o = { .timeout_ms = 5000, .headers = hdrs };
	struct server sv;
	CURL *c = handle();
	char url[64];
	long code;

	server_start(&sv, NULL,
	    "HTTP/1.1 302 Found\r\nLocation: /next\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "left over");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/first", sv.port);
	ck_assert_int_eq(fetch(c, &o, url, &code), CURLE_OK);
	ck_assert_int_eq(code, 302);
	server_stop(&sv);
	ck_assert_int_eq(sv.requests, 1);
	ck_assert_msg(strncmp(sv.first, "GET /first HTTP/1.1\r\n", 21) == 0, "%s", sv.first);
	ck_assert_ptr_nonnull(strstr(sv.first, "\r\nX-Test: one\r\n"));
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
}
END_TEST

/* A server that takes the connection and never answers: the transfer ends
 * at timeout_ms. */
START_TEST(test_timeout)
{
	char errbuf[CURL_ERROR_SIZE], url[64];
	struct http_opts o = { .timeout_ms = TIMEOUT_MS, .errbuf = errbuf };
	CURL *c = handle();
	int port, fd = listen_local(&port);
	int64_t t0, took;
	long code;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	t0 = sgtime_mono_ms();
	ck_assert_int_eq(fetch(c, &o, url, &code), CURLE_OPERATION_TIMEDOUT);
	took = sgtime_mono_ms() - t0;
	ck_assert_int_ge(took, TIMEOUT_MS - 50);
	ck_assert_int_lt(took, 10 * TIMEOUT_MS);
	ck_assert_msg(errbuf[0] != '\0', "no reason in errbuf");
	curl_easy_cleanup(c);
	close(fd);
}
END_TEST

/* A self-signed certificate for subjectAltName san, its key, and the
 * certificate as a PEM file at path. */
static void
make_cert(const char *san, const char *path, X509 **ret_cert, EVP_PKEY **ret_key)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	FILE *f;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	name = X509_get_subject_name(x);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
			     (const unsigned char *)"signet http test", -1, -1, 0),
	    1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	ck_assert_int_eq(fclose(f), 0);
	*ret_cert = x;
	*ret_key = key;
}

/* One TLS request to a server with a self-signed certificate for san,
 * with that certificate as the CA file when trust_it (else libcurl's
 * default bundle); the result, and the requests the server got. */
static CURLcode
tls_fetch(const char *san, int trust_it, long *code, int *requests)
{
	char *dir = test_tmpdir(), pem[PATH_MAX], url[64];
	struct http_opts o = { .timeout_ms = 5000 };
	struct server sv;
	EVP_PKEY *key;
	SSL_CTX *tls;
	X509 *x;
	CURL *c = handle();
	CURLcode cc;

	snprintf(pem, sizeof(pem), "%s/cert.pem", dir);
	make_cert(san, pem, &x, &key);
	tls = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(tls);
	ck_assert_int_eq(SSL_CTX_use_certificate(tls, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(tls, key), 1);
	server_start(&sv, tls, answer_ok);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", sv.port);
	o.ca_file = trust_it ? pem : NULL;
	cc = fetch(c, &o, url, code);
	server_stop(&sv);
	*requests = sv.requests;
	curl_easy_cleanup(c);
	SSL_CTX_free(tls);
	X509_free(x);
	EVP_PKEY_free(key);
	(void)tmpdir_free(dir);
	return cc;
}

/* The server's certificate must chain to the CA file (or the default
 * bundle) and name the URL's host; nothing is sent otherwise. */
START_TEST(test_tls_verification)
{
	long code;
	int requests;

	ck_assert_int_eq(tls_fetch("IP:127.0.0.1", 1, &code, &requests), CURLE_OK);
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(requests, 1);
	/* Not a CA we trust. */
	ck_assert_int_eq(
	    tls_fetch("IP:127.0.0.1", 0, &code, &requests), CURLE_PEER_FAILED_VERIFICATION);
	ck_assert_int_eq(requests, 0);
	/* Trusted, but for another host. */
	ck_assert_int_eq(tls_fetch("DNS:elsewhere.invalid", 1, &code, &requests),
	    CURLE_PEER_FAILED_VERIFICATION);
	ck_assert_int_eq(requests, 0);
}
END_TEST

/* An option libcurl refuses (a URL longer than it takes) fails the setup,
 * and the handle keeps no pointer to the caller's error buffer. */
START_TEST(test_refused_option)
{
	static const size_t long_url = 9 * 1024 * 1024;
	char errbuf[CURL_ERROR_SIZE], *url = malloc(long_url + 1);
	struct http_opts o = { .timeout_ms = TIMEOUT_MS, .errbuf = errbuf };
	CURL *c = handle();

	ck_assert_ptr_nonnull(url);
	memcpy(url, "http://127.0.0.1/", 17);
	memset(url + 17, 'a', long_url - 17);
	url[long_url] = '\0';
	o.url = url;
	ck_assert_int_ne(http_easy_setup(c, &o), CURLE_OK);
	strcpy(errbuf, "untouched");
	ck_assert_int_ne(curl_easy_perform(c), CURLE_OK);
	ck_assert_str_eq(errbuf, "untouched");
	curl_easy_cleanup(c);
	free(url);
}
END_TEST

int main(void);

int
main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = test_case(s, "/http/setup", TEST_TIMEOUT_S);

	/* A client that drops the connection must not kill the server. */
	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_protocols);
	tcase_add_test(tc, test_no_redirect);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_tls_verification);
	tcase_add_test(tc, test_refused_option);
	return test_run(s);
}
