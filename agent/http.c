/*
 * http.c — the libcurl options every transfer of the agent has (see
 * http.h).  Each is set explicitly, even where it is libcurl's default, so
 * that neither an earlier use of a reused handle nor a different libcurl
 * build can leave a protection off; each set is checked, so that a
 * protection libcurl refuses stops the transfer instead of going missing.
 */
#include "http.h"

CURLcode
http_easy_setup(CURL *c, const struct http_opts *o)
{
	CURLcode cc;

	/* A reused handle (the webhooks keep one, for keep-alive) must carry
	 * nothing of the previous transfer: its body, headers or method. */
	curl_easy_reset(c);
	if (o->errbuf != NULL)
		o->errbuf[0] = '\0';
	if ((cc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, o->errbuf)) != CURLE_OK)
		goto out;
	if ((cc = curl_easy_setopt(c, CURLOPT_URL, o->url)) != CURLE_OK)
		goto out;
	/* libcurl also speaks file://, ftp://, smtp://, gopher:// and more;
	 * a URL from the configuration means http or https and nothing else,
	 * so a wrong one cannot read a local file or talk another protocol. */
	if ((cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK)
		goto out;
	/* No redirects: the store's bearer token and the webhooks' signed
	 * results go to the configured host only, never to wherever a
	 * Location header points.  A 3xx answer is a failure to see. */
	if ((cc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L)) != CURLE_OK)
		goto out;
	/* A libcurl built without its threaded resolver bounds name lookups
	 * with SIGALRM and siglongjmp(), which is not safe in a process with
	 * threads; the agent's workers and the delivery thread all make
	 * transfers. */
	if ((cc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK)
		goto out;
	/* The server's certificate must chain to a trusted CA and name the
	 * host of the URL: what we send is a secret or a signed result. */
	if ((cc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L)) != CURLE_OK)
		goto out;
	/* A private CA for the store or a webhook receiver, when configured;
	 * else libcurl's bundle (the system's). */
	if (o->ca_file != NULL &&
	    (cc = curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file)) != CURLE_OK)
		goto out;
	/* A server that never answers, or answers a byte at a time, must not
	 * hold a signing worker or the delivery thread for ever: both the
	 * connection and the whole transfer are bounded. */
	if ((cc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->timeout_ms)) !=
		CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms)) != CURLE_OK)
		goto out;
	if ((cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, o->headers)) != CURLE_OK)
		goto out;
out:
	if (cc != CURLE_OK)
		curl_easy_reset(c);
	return cc;
}
