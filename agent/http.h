/*
 * http.h — the one way the agent sets up a libcurl transfer: the artifact
 * store's http backend (store_http.c) and the result webhooks (webhook.c)
 * both talk to servers named in the configuration, carry something worth
 * protecting (a bearer token, an HMAC-signed result) and run inside a
 * threaded daemon.  What they must have in common (http and https only, no
 * redirects, TLS verification, bounded time, no signals) is set here, once;
 * what differs (method, body, callbacks) each sets itself afterwards.
 */
#ifndef SG_HTTP_H
#define SG_HTTP_H

#include <stdint.h>

#include <curl/curl.h>

#include "err.h"

/* What differs between the agent's transfers in the options set here. */
struct http_opts {
	const char *url;            /* http:// or https://; libcurl copies it */
	const char *ca_file;        /* CA bundle, or NULL for libcurl's default;
	                               libcurl copies it */
	int64_t timeout_ms;         /* > 0: bounds the connection and, again,
	                               the whole transfer */
	struct curl_slist *headers; /* request headers, or NULL; borrowed until
	                               the transfer is over */
	char *errbuf;               /* CURL_ERROR_SIZE bytes for libcurl's
	                               reason, or NULL; emptied here, borrowed
	                               until the transfer is over */
};

/*
 * Resets c (curl_easy_reset(): every option back to its default, while
 * live connections and caches stay) and sets the options of http.c for o.
 * The caller then sets its own (method, body, callbacks) and performs.
 * CURLE_OK, or the code of the first option libcurl refused; c is then
 * reset again (it keeps no pointer into o) and must not be performed,
 * since the option missing may be a protection.
 */
CURLcode http_easy_setup(CURL *c, const struct http_opts *o) SG_MUST_CHECK;

#endif
