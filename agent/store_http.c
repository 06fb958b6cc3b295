/*
 * store_http.c — the http:// and https:// backend of the artifact store
 * (docs/protocol.md §9): one HTTP PUT per object, which WebDAV servers, Artifactory,
 * Nexus raw repositories and S3-style stores accept.
 *
 * TLS peer and host verification are always on (a CA bundle may be named).
 * Redirects are not followed, so a store cannot bounce the bearer token to
 * another host.  Transient failures (no connection, timeouts, 408, 429 and
 * 5xx answers) are retried with exponential backoff until the operation's
 * deadline; other answers fail at once.
 *
 * A job's objects are PUT with "If-None-Match: *", so that a store that
 * honours it (S3, Apache's mod_dav; nginx's dav module does not on its
 * own, see scripts/nginx.sh) never replaces one: a 412 answer means the
 * object exists, and it is read back — our exact bytes count as written
 * (a redelivery, a rebuilt result), anything else fails the publication.
 * The objects go up one by one, the signature file before result.json, so
 * a conflict found at result.json leaves the new signature file beside the
 * earlier job's objects (nothing is replaced either way).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "sgtime.h"
#include "store.h"
#include "util.h"

#define HTTP_BACKOFF_MIN_MS 200
#define HTTP_BACKOFF_MAX_MS 5000
#define HTTP_URL_MAX        4096

struct http_store {
	char *base;        /* base URL without a trailing slash */
	char *auth_header; /* "Authorization: Bearer ..." or NULL; a secret */
	size_t auth_len;
	char *ca_file;
	int64_t timeout_ms;  /* one request */
	int64_t deadline_ms; /* all attempts of one operation */
};

struct upload {
	const uint8_t *buf;
	size_t len, off;
};

struct download {
	char *buf;
	size_t len;
	int too_large;
};

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nmemb, left = u->len - u->off;

	if (n > left)
		n = left;
	memcpy(dst, u->buf + u->off, n);
	u->off += n;
	return n;
}

static size_t
write_cb(char *src, size_t size, size_t nmemb, void *arg)
{
	struct download *d = arg;
	size_t n = size * nmemb;
	char *p;

	if (d == NULL)
		return n; /* discard the body of a PUT answer */
	if (n > STORE_OBJECT_MAX - d->len) {
		d->too_large = 1;
		return 0; /* makes curl fail the transfer */
	}
	if ((p = realloc(d->buf, d->len + n + 1)) == NULL)
		return 0;
	d->buf = p;
	memcpy(d->buf + d->len, src, n);
	d->len += n;
	d->buf[d->len] = '\0';
	return n;
}

/* <base>/<key>/<id>/<name>, each segment percent-encoded. */
static int
object_url(CURL *c, const struct http_store *hs, const char *key, const char *job_id,
    const char *name, char **ret)
{
	char *k = curl_easy_escape(c, key, 0), *i = curl_easy_escape(c, job_id, 0);
	char *n = curl_easy_escape(c, name, 0), *url = NULL;
	int r = SG_ERR_ALLOC;

	if (k != NULL && i != NULL && n != NULL &&
	    asprintf(&url, "%s/%s/%s/%s", hs->base, k, i, n) != -1) {
		*ret = url;
		r = 0;
	}
	curl_free(k);
	curl_free(i);
	curl_free(n);
	return r;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * One request, retried until the deadline.  up != NULL: PUT (with
 * "If-None-Match: *" when no_replace); else GET into down.  Returns 0,
 * SG_ERR_NOT_FOUND (GET 404), SG_ERR_EXISTS (412 to a no_replace PUT),
 * SG_ERR_STORE_FAILED.
 */
static int
http_request(const struct http_store *hs, const char *key, const char *job_id, const char *name,
    struct upload *up, int no_replace, struct download *down, char **ret_url)
{
	int64_t deadline = sgtime_mono_ms() + hs->deadline_ms;
	struct curl_slist *hdrs = NULL;
	CURL *c = NULL;
	char *url = NULL, errbuf[CURL_ERROR_SIZE];
	long delay = HTTP_BACKOFF_MIN_MS, code = 0;
	int r = SG_ERR_STORE_FAILED, attempt = 0;

	if ((c = curl_easy_init()) == NULL || object_url(c, hs, key, job_id, name, &url) != 0)
		goto out;
	if (hs->auth_header != NULL && (hdrs = curl_slist_append(hdrs, hs->auth_header)) == NULL)
		goto out;
	if ((hdrs = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto out;
	if (up != NULL &&
	    (hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream")) == NULL)
		goto out;
	if (up != NULL && no_replace &&
	    (hdrs = curl_slist_append(hdrs, "If-None-Match: *")) == NULL)
		goto out;
	for (;;) {
		struct http_opts ho = { .url = url,
			.ca_file = hs->ca_file,
			.timeout_ms = hs->timeout_ms,
			.headers = hdrs,
			.errbuf = errbuf };
		CURLcode cc;
		int transient;

		attempt++;
		if ((cc = http_easy_setup(c, &ho)) != CURLE_OK) {
			log_debug("store: %s/%s/%s: cannot set up the request: %s", key, job_id,
			    name, curl_easy_strerror(cc));
			break;
		}
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, down);
		if (up != NULL) {
			up->off = 0;
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
			curl_easy_setopt(c, CURLOPT_READDATA, up);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up->len);
		} else {
			free(down->buf);
			down->buf = NULL;
			down->len = 0;
		}
		cc = curl_easy_perform(c);
		code = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (cc == CURLE_OK && code >= 200 && code < 300) {
			r = 0;
			break;
		}
		if (cc == CURLE_OK && code == 404 && up == NULL) {
			r = SG_ERR_NOT_FOUND;
			break;
		}
		if (cc == CURLE_OK && code == 412 && up != NULL && no_replace) {
			r = SG_ERR_EXISTS;
			break;
		}
		if (down != NULL && down->too_large)
			break;
		transient = cc != CURLE_OK || code == 408 || code == 429 || code >= 500;
		log_debug("store: %s %s/%s/%s: attempt %d: %s (HTTP %ld)", up ? "PUT" : "GET", key,
		    job_id, name, attempt,
		    cc != CURLE_OK ? (errbuf[0] ? errbuf : curl_easy_strerror(cc)) : "answered",
		    code);
		if (!transient || sgtime_mono_ms() + delay >= deadline)
			break;
		sleep_ms(delay);
		delay = delay * 2 > HTTP_BACKOFF_MAX_MS ? HTTP_BACKOFF_MAX_MS : delay * 2;
	}
	if (r == 0 && ret_url != NULL) {
		*ret_url = url;
		url = NULL;
	}
out:
	if (r == SG_ERR_STORE_FAILED)
		log_debug("store: giving up on %s/%s/%s after %d attempts (HTTP %ld)", key, job_id,
		    name, attempt, code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(url);
	return r;
}

static int
http_put(struct store *s, const char *key, const char *job_id, const char *name, const void *buf,
    size_t len, char **ret_location)
{
	struct upload up = { buf, len, 0 };

	return http_request(s->impl, key, job_id, name, &up, 0, NULL, ret_location);
}

/* PUT without replacing (see the top of the file). */
static int
http_put_job(
    struct store *s, const char *key, const char *job_id, const struct store_object *objs, size_t n)
{
	const struct http_store *hs = s->impl;
	struct download down;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		struct upload up = { objs[i].buf, objs[i].len, 0 };

		r = http_request(hs, key, job_id, objs[i].name, &up, 1, NULL, NULL);
		if (r == 0)
			continue;
		if (r != SG_ERR_EXISTS)
			return SG_ERR_STORE_FAILED;
		memset(&down, 0, sizeof(down));
		r = http_request(hs, key, job_id, objs[i].name, NULL, 0, &down, NULL);
		if (r == 0 &&
		    (down.len != objs[i].len ||
			(down.len > 0 && memcmp(down.buf, objs[i].buf, down.len) != 0))) {
			log_warn("store: %s/%s/%s/%s holds other bytes (another job under this "
				 "id?): the job's objects are not replaced",
			    hs->base, key, job_id, objs[i].name);
			r = SG_ERR_STORE_FAILED;
		}
		free(down.buf);
		if (r != 0)
			return SG_ERR_STORE_FAILED;
	}
	return 0;
}

static int
http_location(struct store *s, const char *key, const char *job_id, const char *name, char **ret)
{
	CURL *c = curl_easy_init();
	int r;

	if (c == NULL)
		return SG_ERR_ALLOC;
	r = object_url(c, s->impl, key, job_id, name, ret);
	curl_easy_cleanup(c);
	return r;
}

static int
http_get(struct store *s, const char *key, const char *job_id, const char *name, char **ret,
    size_t *ret_len)
{
	struct download down = { NULL, 0, 0 };
	int r = http_request(s->impl, key, job_id, name, NULL, 0, &down, NULL);

	if (r != 0) {
		free(down.buf);
		return r;
	}
	if (down.buf == NULL && (down.buf = calloc(1, 1)) == NULL)
		return SG_ERR_ALLOC;
	*ret = down.buf;
	*ret_len = down.len;
	return 0;
}

static void
http_close(struct store *s)
{
	struct http_store *hs = s->impl;

	if (hs == NULL)
		return;
	free(hs->base);
	freezero(hs->auth_header, hs->auth_len);
	free(hs->ca_file);
	free(hs);
}

static const struct store_backend http_backend = {
	.put = http_put,
	.get = http_get,
	.close = http_close,
	.location = http_location,
	.put_job = http_put_job,
};

int
store_http_open(const struct store_opts *opts, struct store *s, char *errbuf, size_t errlen)
{
	static const char prefix[] = "Authorization: Bearer ";
	struct http_store *hs = NULL;
	CURLU *u = NULL;
	char *token = NULL, *query = NULL, *fragment = NULL, *user = NULL;
	size_t token_len = 0, n, i;
	int r = SG_ERR_CONFIG;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return SG_ERR_INTERNAL;
	n = strlen(opts->url);
	if (n > HTTP_URL_MAX) {
		snprintf(errbuf, errlen, "store: URL too long");
		goto out;
	}
	/* A base URL carries no credentials, query or fragment: tokens come
	 * from a file so that they never sit in a configuration or a log. */
	if ((u = curl_url()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, opts->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_NO_QUERY ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) != CURLUE_NO_FRAGMENT ||
	    curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER) {
		snprintf(errbuf, errlen,
		    "store: URL must be http(s)://host[:port]/path without "
		    "credentials, query or fragment");
		goto out;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)opts->url[i];
		if (c <= 0x20 || c >= 0x7f) {
			snprintf(errbuf, errlen, "store: URL holds spaces or control characters");
			goto out;
		}
	}
	if ((hs = calloc(1, sizeof(*hs))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	while (n > 0 && opts->url[n - 1] == '/')
		n--;
	if ((hs->base = strndup(opts->url, n)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	hs->timeout_ms = 1000 * (opts->timeout_s > 0 ? opts->timeout_s : STORE_DEFAULT_TIMEOUT_S);
	hs->deadline_ms =
	    1000 * (opts->deadline_s > 0 ? opts->deadline_s : STORE_DEFAULT_DEADLINE_S);
	if (opts->ca_file != NULL) {
		FILE *f = fopen(opts->ca_file, "re");
		if (f == NULL) {
			snprintf(errbuf, errlen, "store: cannot read CA file %s", opts->ca_file);
			goto out;
		}
		fclose(f);
		if ((hs->ca_file = strdup(opts->ca_file)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
	}
	if (opts->bearer_token_file != NULL) {
		if ((r = read_secret_file(opts->bearer_token_file, &token, &token_len)) != 0) {
			snprintf(errbuf, errlen, "store: bearer token file %s: %s",
			    opts->bearer_token_file, sg_strerror(r));
			goto out;
		}
		for (i = 0; i < token_len; i++) {
			unsigned char c = (unsigned char)token[i];
			if (c <= 0x20 || c >= 0x7f) {
				snprintf(errbuf, errlen,
				    "store: bearer token holds spaces or control "
				    "characters");
				r = SG_ERR_CONFIG;
				goto out;
			}
		}
		hs->auth_len = sizeof(prefix) + token_len;
		if ((hs->auth_header = malloc(hs->auth_len)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		memcpy(hs->auth_header, prefix, sizeof(prefix) - 1);
		memcpy(hs->auth_header + sizeof(prefix) - 1, token, token_len + 1);
	}
	s->backend = &http_backend;
	s->impl = hs;
	hs = NULL;
	r = 0;
out:
	if (token != NULL)
		freezero(token, token_len + 1);
	if (hs != NULL) {
		struct store tmp = { &http_backend, hs };
		http_close(&tmp);
	}
	curl_free(query);
	curl_free(fragment);
	curl_free(user);
	curl_url_cleanup(u);
	return r;
}
