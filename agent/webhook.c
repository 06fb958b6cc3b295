/*
 * webhook.c — result webhooks (see webhook.h).
 *
 * webhooks_notify() and webhooks_notify_named() run on the signing threads:
 * they pick the targets (by event and key, or by name), copy the body once
 * into a reference-counted payload per body format (the JSON payload as
 * given, and the {"text": ...} body of the slack-format targets, built only
 * when one is picked) and append one delivery per target to a bounded
 * FIFO.  They take the mutex only to append and never touch the network.
 *
 * One delivery thread owns a libcurl multi handle with a single easy handle
 * (so keep-alive connections are reused between deliveries).  It takes the
 * first delivery in queue order that is due, makes one attempt, and on a
 * transient failure puts the delivery back at the tail with the time of
 * its next attempt: a target that is down delays only its own deliveries,
 * never the others'.  Backoff sleeps are pthread_cond_timedwait() on
 * CLOCK_MONOTONIC and transfers run through curl_multi_poll(), which
 * webhooks_stop() interrupts with curl_multi_wakeup(), so stopping is
 * prompt whatever the thread is doing.
 *
 * queue_max bounds the deliveries held: those waiting (fresh or between
 * retries) plus the one in flight.  A delivery's deadline runs from the
 * notify; retries are spaced backoff_ms, 2*backoff_ms, ... (at most
 * WEBHOOK_BACKOFF_MAX_MS, each with +-25% jitter) and the last one is
 * made at the deadline itself, so a delivery fails for good no earlier
 * than its deadline.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http.h"
#include "json.h"
#include "log.h"
#include "sgtime.h"
#include "signet_version.h"
#include "util.h"
#include "webhook.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "unknown"
#endif

#define WEBHOOK_BACKOFF_DEFAULT_MS 1000
#define WEBHOOK_BACKOFF_MAX_MS     60000                /* retries are at most this far apart */
#define WEBHOOK_TIMEOUT_MAX_S      3600                 /* largest timeout_s accepted */
#define WEBHOOK_DEADLINE_MAX_S     (INT64_C(7) * 86400) /* largest deadline_s accepted */
#define WEBHOOK_DRAIN_MAX_S        86400                /* drain_s is clamped to this */
#define WEBHOOK_ID_MAX             128                  /* bytes of a job id in X-Signet-Delivery */
#define WEBHOOK_POLL_MS            1000                 /* longest wait inside one transfer step */
#define WEBHOOK_LOG_URL_MAX        512                  /* bytes of an escaped URL in a log line */
#define WEBHOOK_REASON_MAX         256                  /* bytes of a failure reason */
#define WEBHOOK_FORMATS            2                    /* values of enum webhook_format */
#define WEBHOOK_RESULT_TEXT_MAX    (64 + WEBHOOK_ID_MAX + WEBHOOK_NAME_MAX) /* bytes */

#define SIG_PREFIX "sha256="
#define SIG_LEN    (sizeof(SIG_PREFIX) - 1 + SHA256_HEX_LEN)

struct wh_target {
	char *url;
	char *ca_file;   /* NULL: the system's CA bundle */
	char *key;       /* NULL: every key */
	char *name;      /* NULL: reached by event and key only */
	unsigned events; /* WEBHOOK_EVENT_* mask, never 0 here */
	int format;      /* enum webhook_format: which payload it gets */
	char *secret;    /* HMAC key; wiped and freed by webhooks_stop */
	size_t secret_len;
};

/* One result, shared by its deliveries; freed with the last reference. */
struct wh_payload {
	atomic_uint refs;
	unsigned event; /* exactly one WEBHOOK_EVENT_* bit */
	char id[WEBHOOK_ID_MAX + 1];
	size_t len; /* bytes of body, without the NUL added after it */
	char body[];
};

struct wh_delivery {
	struct wh_delivery *next;
	struct wh_payload *p;
	size_t target;       /* index into webhooks.targets */
	int64_t deadline_ms; /* monotonic: no retry is scheduled after it */
	int64_t due_ms;      /* monotonic: the next attempt starts no earlier */
	unsigned attempts;   /* attempts made so far */
};

struct webhooks {
	struct wh_target *targets;
	size_t n;
	size_t queue_max;
	int64_t timeout_ms, deadline_ms, backoff_ms;

	pthread_mutex_t mu;
	pthread_cond_t cond; /* the queue changed or a stop was asked; CLOCK_MONOTONIC */
	/* Guarded by mu. */
	struct wh_delivery *head, *tail;
	size_t held; /* deliveries queued plus the one in flight */
	int stopping;
	int64_t drain_until_ms; /* monotonic; meaningful once stopping */
	uint64_t delivered, failures;

	/* Used by the delivery thread only (created and freed around it). */
	CURLM *multi;
	CURL *easy;
	uint64_t rng;

	pthread_t thread;
	int has_thread, has_mu, has_cond, has_curl;
};

static const struct {
	const char *name;
	unsigned bit;
} event_names[] = {
	{ "signed", WEBHOOK_EVENT_SIGNED },
	{ "rejected", WEBHOOK_EVENT_REJECTED },
	{ "failed", WEBHOOK_EVENT_FAILED },
	{ "approval.requested", WEBHOOK_EVENT_APPROVAL_REQUESTED },
	{ "approval.decided", WEBHOOK_EVENT_APPROVAL_DECIDED },
};

static const char *
event_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < nitems(event_names); i++)
		if (event_names[i].bit == bit)
			return event_names[i].name;
	return "unknown";
}

static void
payload_unref(struct wh_payload *p)
{
	if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
		free(p);
}

static void
delivery_free(struct wh_delivery *d)
{
	if (d == NULL)
		return;
	payload_unref(d->p);
	free(d);
}

/* Logs one failed delivery; the caller has counted it.  Takes no lock. */
static void
log_failure(
    const struct webhooks *w, size_t target, const char *id, unsigned event, const char *reason)
{
	char url[WEBHOOK_LOG_URL_MAX], jid[2 * WEBHOOK_ID_MAX];
	struct log_fields f;

	log_escape(w->targets[target].url, WEBHOOK_URL_MAX, url, sizeof(url));
	log_escape(id, WEBHOOK_ID_MAX, jid, sizeof(jid));
	memset(&f, 0, sizeof(f));
	f.job = jid;
	f.target = w->targets[target].name != NULL ? w->targets[target].name : url;
	f.status = event_name(event);
	sg_log_event(LOG_LEVEL_WARN, "webhook", 0, "webhook.failed", &f,
	    "%s: delivery of the %s event of job %s failed: %s", url, event_name(event), jid,
	    reason);
}

static void
count_failure(struct webhooks *w, size_t target, const char *id, unsigned event, const char *reason)
{
	pthread_mutex_lock(&w->mu);
	w->failures++;
	pthread_mutex_unlock(&w->mu);
	log_failure(w, target, id, event, reason);
}

/* --- configuration --- */

static int
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '_' || c == '-';
}

/* A target's name: 1..WEBHOOK_NAME_MAX of [A-Za-z0-9._-], not starting
 * with '.' (the configuration's rule for names). */
static int
name_is_usable(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '.')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= WEBHOOK_NAME_MAX || !is_name_char(s[i]))
			return 0;
	return 1;
}

static int
check_url(size_t i, const char *url, char *errbuf, size_t errlen)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *user = NULL;
	size_t len, k;
	int r = SG_ERR_CONFIG;

	if (url == NULL) {
		errbuf_set(errbuf, errlen, "webhook %zu: no URL", i);
		goto out;
	}
	if ((len = strnlen(url, WEBHOOK_URL_MAX + 1)) > WEBHOOK_URL_MAX) {
		errbuf_set(
		    errbuf, errlen, "webhook %zu: URL longer than %d bytes", i, WEBHOOK_URL_MAX);
		goto out;
	}
	for (k = 0; k < len; k++) {
		unsigned char c = (unsigned char)url[k];
		if (c <= 0x20 || c >= 0x7f) {
			errbuf_set(errbuf, errlen,
			    "webhook %zu: URL holds spaces or control characters", i);
			goto out;
		}
	}
	if ((u = curl_url()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		errbuf_set(errbuf, errlen, "webhook %zu: not a URL", i);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		errbuf_set(errbuf, errlen, "webhook %zu: URL must be http:// or https://", i);
		goto out;
	}
	/* curl reads "http:///path" as host "path"; RFC 3986 sees no host. */
	k = strlen(scheme) + 3;
	if (len <= k || strncmp(url + k - 3, "://", 3) != 0 || url[k] == '/' ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
		errbuf_set(errbuf, errlen, "webhook %zu: URL names no host", i);
		goto out;
	}
	/* Failures are logged with their URL, so it must carry no password;
	 * the HMAC secret authenticates us instead. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER) {
		errbuf_set(errbuf, errlen, "webhook %zu: URL must not carry credentials", i);
		goto out;
	}
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return r;
}

static int
load_target(
    size_t i, const struct webhook_target *in, struct wh_target *t, char *errbuf, size_t errlen)
{
	FILE *f;
	int r;

	if ((r = check_url(i, in->url, errbuf, errlen)) != 0)
		return r;
	if ((in->events & ~WEBHOOK_EVENT_KNOWN) != 0) {
		errbuf_set(errbuf, errlen, "webhook %zu: unknown event bits 0x%x", i, in->events);
		return SG_ERR_CONFIG;
	}
	t->events = in->events == 0 ? WEBHOOK_EVENT_ALL : in->events;
	if (in->format != WEBHOOK_FORMAT_JSON && in->format != WEBHOOK_FORMAT_SLACK) {
		errbuf_set(errbuf, errlen, "webhook %zu: unknown format %d", i, in->format);
		return SG_ERR_CONFIG;
	}
	t->format = in->format;
	if (in->name != NULL && !name_is_usable(in->name)) {
		errbuf_set(errbuf, errlen,
		    "webhook %zu: a name is 1 to %d of [A-Za-z0-9._-], not starting with '.'", i,
		    WEBHOOK_NAME_MAX);
		return SG_ERR_CONFIG;
	}
	if (in->key != NULL && in->key[0] == '\0') {
		errbuf_set(errbuf, errlen, "webhook %zu: empty key name", i);
		return SG_ERR_CONFIG;
	}
	if (in->ca_file != NULL) {
		if ((f = fopen(in->ca_file, "re")) == NULL) {
			errbuf_set(errbuf, errlen, "webhook %zu: cannot read CA file %s: %s", i,
			    in->ca_file, strerror(errno));
			return SG_ERR_CONFIG;
		}
		fclose(f);
	}
	if ((t->url = strdup(in->url)) == NULL ||
	    (in->ca_file != NULL && (t->ca_file = strdup(in->ca_file)) == NULL) ||
	    (in->key != NULL && (t->key = strdup(in->key)) == NULL) ||
	    (in->name != NULL && (t->name = strdup(in->name)) == NULL))
		return SG_ERR_ALLOC;
	if (in->secret_file == NULL) {
		errbuf_set(errbuf, errlen, "webhook %zu: no secret file", i);
		return SG_ERR_CONFIG;
	}
	if ((r = read_secret_file(in->secret_file, &t->secret, &t->secret_len)) != 0) {
		errbuf_set(errbuf, errlen, "webhook %zu: secret file %s: %s", i, in->secret_file,
		    sg_strerror(r));
		/* The header promises these codes; the rest are configuration
		 * problems (missing, empty, too large, not a regular file). */
		return r == SG_ERR_SECRET_FILE || r == SG_ERR_ALLOC ? r : SG_ERR_CONFIG;
	}
	return 0;
}

static int
load_opts(const struct webhook_opts *o, struct webhooks *w, char *errbuf, size_t errlen)
{
	static const struct webhook_opts none;

	if (o == NULL)
		o = &none;
	if (o->timeout_s < 0 || o->timeout_s > WEBHOOK_TIMEOUT_MAX_S || o->deadline_s < 0 ||
	    o->deadline_s > WEBHOOK_DEADLINE_MAX_S || o->backoff_ms < 0 ||
	    o->backoff_ms > WEBHOOK_BACKOFF_MAX_MS) {
		errbuf_set(errbuf, errlen, "webhooks: timeout, deadline or backoff out of range");
		return SG_ERR_CONFIG;
	}
	w->queue_max = o->queue_max > 0 ? o->queue_max : WEBHOOK_DEFAULT_QUEUE;
	w->timeout_ms = 1000 * (o->timeout_s > 0 ? o->timeout_s : WEBHOOK_DEFAULT_TIMEOUT_S);
	w->deadline_ms = 1000 * (o->deadline_s > 0 ? o->deadline_s : WEBHOOK_DEFAULT_DEADLINE_S);
	w->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : WEBHOOK_BACKOFF_DEFAULT_MS;
	return 0;
}

static void
webhooks_free(struct webhooks *w)
{
	struct wh_delivery *d;
	size_t i;

	if (w == NULL)
		return;
	while ((d = w->head) != NULL) {
		w->head = d->next;
		delivery_free(d);
	}
	for (i = 0; i < w->n; i++) {
		struct wh_target *t = &w->targets[i];
		if (t->secret != NULL) {
			OPENSSL_cleanse(t->secret, t->secret_len + 1);
			free(t->secret);
		}
		free(t->url);
		free(t->ca_file);
		free(t->key);
		free(t->name);
	}
	free(w->targets);
	curl_easy_cleanup(w->easy);
	curl_multi_cleanup(w->multi);
	if (w->has_cond)
		pthread_cond_destroy(&w->cond);
	if (w->has_mu)
		pthread_mutex_destroy(&w->mu);
	if (w->has_curl)
		curl_global_cleanup();
	free(w);
}

/* --- the delivery thread --- */

/* xorshift64*: jitter only, no secrecy needed. */
static uint64_t
rng_next(struct webhooks *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 2685821657736338717ULL;
}

/* The nominal delay before retry number `attempts` (1: backoff_ms), then
 * +-25% jitter, never more than WEBHOOK_BACKOFF_MAX_MS. */
static int64_t
backoff_delay(struct webhooks *w, unsigned attempts)
{
	int64_t d = w->backoff_ms, j;
	unsigned k;

	for (k = 1; k < attempts && d < WEBHOOK_BACKOFF_MAX_MS; k++)
		d *= 2;
	if (d > WEBHOOK_BACKOFF_MAX_MS)
		d = WEBHOOK_BACKOFF_MAX_MS;
	j = d / 2 > 0 ? (int64_t)(rng_next(w) % (uint64_t)(d / 2 + 1)) : 0;
	d = d - d / 4 + j;
	return d > WEBHOOK_BACKOFF_MAX_MS ? WEBHOOK_BACKOFF_MAX_MS : d;
}

static size_t
discard_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

/*
 * How long the transfer may wait now: WEBHOOK_POLL_MS, or what is left of
 * the drain once stopping; <= 0 means abort.
 */
static int64_t
poll_budget(struct webhooks *w)
{
	int64_t budget = WEBHOOK_POLL_MS, left;

	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		left = w->drain_until_ms - sgtime_mono_ms();
		if (left < budget)
			budget = left;
	}
	pthread_mutex_unlock(&w->mu);
	return budget;
}

/* Runs the transfer set up on w->easy; returns its result. */
static CURLcode
perform(struct webhooks *w)
{
	CURLcode cc = CURLE_FAILED_INIT;
	CURLMsg *msg;
	int running = 1, left;
	int64_t budget;

	if (curl_multi_add_handle(w->multi, w->easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	for (;;) {
		if (curl_multi_perform(w->multi, &running) != CURLM_OK || running == 0)
			break;
		if ((budget = poll_budget(w)) <= 0) {
			cc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_poll(w->multi, NULL, 0, (int)budget, NULL) != CURLM_OK)
			break;
	}
	while ((msg = curl_multi_info_read(w->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == w->easy)
			cc = msg->data.result;
	curl_multi_remove_handle(w->multi, w->easy);
	return cc;
}

enum wh_outcome { WH_DELIVERED, WH_RETRY, WH_PERMANENT };

/* One POST of d.  Fills reason on failure. */
static enum wh_outcome
attempt(struct webhooks *w, const struct wh_delivery *d, char *reason, size_t reasonlen)
{
	const struct wh_target *t = &w->targets[d->target];
	const struct wh_payload *p = d->p;
	const char *body = p->body; /* curl's type checks reject a flexible array */
	struct curl_slist *hdrs = NULL, *h;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char sig[SIG_LEN + 1], line[64 + WEBHOOK_ID_MAX + SIG_LEN];
	char errbuf[CURL_ERROR_SIZE];
	struct http_opts ho;
	static const char user_agent[] = "User-Agent: signet-agent/" SIGNET_VERSION;
	const char *fixed[] = {
		"Content-Type: application/json", user_agent,
		"Expect:", /* no 100-continue round trip for larger bodies */
	};
	enum wh_outcome o = WH_RETRY;
	CURLcode cc;
	long code = 0;
	size_t i;

	if (HMAC(EVP_sha256(), t->secret, (int)t->secret_len, (const unsigned char *)p->body,
		p->len, mac, &mac_len) == NULL ||
	    mac_len != SHA256_LEN) {
		snprintf(reason, reasonlen, "HMAC failed");
		goto out;
	}
	memcpy(sig, SIG_PREFIX, sizeof(SIG_PREFIX) - 1);
	hex_encode(mac, SHA256_LEN, sig + sizeof(SIG_PREFIX) - 1);
	for (i = 0; i < nitems(fixed); i++) {
		if ((h = curl_slist_append(hdrs, fixed[i])) == NULL)
			goto nomem;
		hdrs = h;
	}
	snprintf(line, sizeof(line), "X-Signet-Event: %s", event_name(p->event));
	if ((h = curl_slist_append(hdrs, line)) == NULL)
		goto nomem;
	hdrs = h;
	snprintf(line, sizeof(line), "X-Signet-Delivery: %s", p->id);
	if ((h = curl_slist_append(hdrs, line)) == NULL)
		goto nomem;
	hdrs = h;
	snprintf(line, sizeof(line), "X-Signet-Signature: %s", sig);
	if ((h = curl_slist_append(hdrs, line)) == NULL)
		goto nomem;
	hdrs = h;

	ho = (struct http_opts){ .url = t->url,
		.ca_file = t->ca_file,
		.timeout_ms = w->timeout_ms,
		.headers = hdrs,
		.errbuf = errbuf };
	if ((cc = http_easy_setup(w->easy, &ho)) != CURLE_OK) {
		snprintf(
		    reason, reasonlen, "cannot set up the request: %s", curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_setopt(w->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, discard_cb);
	cc = perform(w);
	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
	/* The handle must not keep pointers into the payload or our stack. */
	curl_easy_reset(w->easy);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(reason, reasonlen, "no answer before the drain time ran out");
	} else if (cc != CURLE_OK) {
		snprintf(
		    reason, reasonlen, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
	} else if (code >= 200 && code < 300) {
		o = WH_DELIVERED;
	} else {
		snprintf(reason, reasonlen, "HTTP %ld", code);
		if (code != 408 && code != 429 && code < 500)
			o = WH_PERMANENT;
	}
	goto out;
nomem:
	snprintf(reason, reasonlen, "out of memory");
out:
	curl_slist_free_all(hdrs);
	return o;
}

static void
append_locked(struct webhooks *w, struct wh_delivery *d)
{
	d->next = NULL;
	if (w->tail != NULL)
		w->tail->next = d;
	else
		w->head = d;
	w->tail = d;
}

/*
 * Unlinks the first delivery that is due (any, once stopping); else
 * returns NULL and lowers *wake to the earliest due time.
 */
static struct wh_delivery *
take_due_locked(struct webhooks *w, int64_t now, int64_t *wake)
{
	struct wh_delivery *d, *prev = NULL;

	for (d = w->head; d != NULL; prev = d, d = d->next) {
		if (w->stopping || d->due_ms <= now)
			break;
		if (d->due_ms < *wake)
			*wake = d->due_ms;
	}
	if (d == NULL)
		return NULL;
	if (prev != NULL)
		prev->next = d->next;
	else
		w->head = d->next;
	if (w->tail == d)
		w->tail = prev;
	d->next = NULL;
	return d;
}

static void
wait_locked(struct webhooks *w, int64_t wake_ms)
{
	struct timespec ts;

	if (wake_ms == INT64_MAX) {
		pthread_cond_wait(&w->cond, &w->mu);
		return;
	}
	ts.tv_sec = (time_t)(wake_ms / 1000);
	ts.tv_nsec = (long)(wake_ms % 1000) * 1000000L;
	pthread_cond_timedwait(&w->cond, &w->mu, &ts);
}

/* Counts, logs and frees a delivery that failed for good. */
static void
fail_delivery(struct webhooks *w, struct wh_delivery *d, const char *reason)
{
	pthread_mutex_lock(&w->mu);
	w->failures++;
	w->held--;
	pthread_mutex_unlock(&w->mu);
	log_failure(w, d->target, d->p->id, d->p->event, reason);
	delivery_free(d);
}

/* After an attempt: count, or schedule the retry. */
static void
settle(struct webhooks *w, struct wh_delivery *d, enum wh_outcome o, const char *reason)
{
	char why[WEBHOOK_REASON_MAX + 64];
	int64_t now, due;

	if (o == WH_DELIVERED) {
		pthread_mutex_lock(&w->mu);
		w->delivered++;
		w->held--;
		pthread_mutex_unlock(&w->mu);
		log_debug("webhook: delivered job %s to target %zu after %u attempt(s)", d->p->id,
		    d->target, d->attempts);
		delivery_free(d);
		return;
	}
	if (o == WH_PERMANENT) {
		fail_delivery(w, d, reason);
		return;
	}
	pthread_mutex_lock(&w->mu);
	now = sgtime_mono_ms();
	if (!w->stopping && now < d->deadline_ms) {
		due = now + backoff_delay(w, d->attempts);
		d->due_ms = due < d->deadline_ms ? due : d->deadline_ms;
		append_locked(w, d);
		pthread_mutex_unlock(&w->mu);
		log_debug("webhook: job %s to target %zu: attempt %u: %s; retrying", d->p->id,
		    d->target, d->attempts, reason);
		return;
	}
	pthread_mutex_unlock(&w->mu);
	snprintf(why, sizeof(why), "%s after %u attempt(s): %s",
	    now >= d->deadline_ms ? "deadline passed" : "agent stopping", d->attempts, reason);
	fail_delivery(w, d, why);
}

static void *
delivery_thread(void *arg)
{
	struct webhooks *w = arg;
	struct wh_delivery *d, *left;
	char reason[WEBHOOK_REASON_MAX];
	enum wh_outcome o;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		int64_t now = sgtime_mono_ms(), wake = INT64_MAX;

		if (w->stopping && now >= w->drain_until_ms)
			break;
		if ((d = take_due_locked(w, now, &wake)) == NULL) {
			if (w->stopping)
				break; /* drained */
			wait_locked(w, wake);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		d->attempts++;
		reason[0] = '\0';
		o = attempt(w, d, reason, sizeof(reason));
		settle(w, d, o, reason);
		pthread_mutex_lock(&w->mu);
	}
	/* The drain time is over: what is left fails. */
	left = w->head;
	w->head = w->tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while ((d = left) != NULL) {
		left = d->next;
		snprintf(reason, sizeof(reason), "agent stopped after %u attempt(s)", d->attempts);
		fail_delivery(w, d, reason);
	}
	return NULL;
}

/* --- the API --- */

/* Everything a non-empty set of targets needs, up to the running thread. */
static int
start_targets(
    struct webhooks *w, const struct webhook_target *targets, size_t n, char *errbuf, size_t errlen)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	size_t i, k;
	int r, e;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		errbuf_set(errbuf, errlen, "webhooks: libcurl initialisation failed");
		return SG_ERR_SYSTEM;
	}
	w->has_curl = 1;
	if ((w->targets = calloc(n, sizeof(*w->targets))) == NULL)
		return SG_ERR_ALLOC;
	w->n = n;
	for (i = 0; i < n; i++)
		if ((r = load_target(i, &targets[i], &w->targets[i], errbuf, errlen)) != 0)
			return r;
	/* A name picks one target. */
	for (i = 0; i < n; i++) {
		for (k = 0; k < i && w->targets[i].name != NULL; k++) {
			if (w->targets[k].name != NULL &&
			    strcmp(w->targets[k].name, w->targets[i].name) == 0) {
				errbuf_set(errbuf, errlen,
				    "webhook %zu: the same name as webhook %zu", i, k);
				return SG_ERR_CONFIG;
			}
		}
	}
	if (pthread_condattr_init(&ca) != 0)
		return SG_ERR_SYSTEM;
	e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (e == 0)
		e = pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (e != 0)
		return SG_ERR_SYSTEM;
	w->has_cond = 1;
	if ((w->multi = curl_multi_init()) == NULL || (w->easy = curl_easy_init()) == NULL)
		return SG_ERR_ALLOC;
	if (getrandom(&w->rng, sizeof(w->rng), GRND_NONBLOCK) != (ssize_t)sizeof(w->rng))
		w->rng = (uint64_t)sgtime_mono_ms() ^ ((uint64_t)getpid() << 32);
	w->rng |= 1; /* xorshift must not start at 0 */
	/* The thread blocks every signal: the agent's handlers run elsewhere. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&w->thread, NULL, delivery_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		errbuf_set(
		    errbuf, errlen, "webhooks: cannot start the delivery thread: %s", strerror(e));
		return SG_ERR_SYSTEM;
	}
	w->has_thread = 1;
	return 0;
}

int
webhooks_start(const struct webhook_target *targets, size_t n, const struct webhook_opts *opts,
    struct webhooks **ret, char *errbuf, size_t errlen)
{
	struct webhooks *w = NULL;
	int r = SG_ERR_INTERNAL;

	errbuf_set(errbuf, errlen, "%s", "");
	if (ret == NULL || (n > 0 && targets == NULL))
		return SG_ERR_INVALID_ARGUMENT;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return SG_ERR_ALLOC;
	if ((r = load_opts(opts, w, errbuf, errlen)) != 0)
		goto out;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	w->has_mu = 1;
	/* n == 0: nothing to deliver, so no thread and no libcurl. */
	if (n > 0 && (r = start_targets(w, targets, n, errbuf, errlen)) != 0)
		goto out;
	*ret = w;
	w = NULL;
	r = 0;
out:
	webhooks_free(w);
	return r;
}

static int
wants(const struct wh_target *t, unsigned event, const char *key)
{
	if ((t->events & event) == 0)
		return 0;
	return t->key == NULL || (key != NULL && strcmp(t->key, key) == 0);
}

/* A job id goes into a header: 1..WEBHOOK_ID_MAX visible ASCII bytes. */
static int
id_is_usable(const char *id)
{
	size_t i;

	if (id == NULL || id[0] == '\0')
		return 0;
	for (i = 0; id[i] != '\0'; i++)
		if (i >= WEBHOOK_ID_MAX || (unsigned char)id[i] <= 0x20 ||
		    (unsigned char)id[i] >= 0x7f)
			return 0;
	return 1;
}

/* The bit of a known event name; 0 (logged) for any other. */
static unsigned
event_bit(const char *event)
{
	char esc[64];
	size_t i;

	for (i = 0; i < nitems(event_names); i++)
		if (strcmp(event, event_names[i].name) == 0)
			return event_names[i].bit;
	sg_log(LOG_LEVEL_WARN, "webhook", 0, "no such event \"%s\"",
	    log_escape(event, 32, esc, sizeof(esc)));
	return 0;
}

/* Which targets one notify reaches: by event and key, or by name. */
struct wh_pick {
	unsigned event;
	const char *key;          /* by event: the result's key, or NULL */
	int by_name;              /* webhooks_notify_named() */
	const char *const *names; /* by name: nnames names */
	size_t nnames;
};

static int
picks(const struct wh_target *t, const struct wh_pick *k)
{
	size_t i;

	if (!k->by_name)
		return wants(t, k->event, k->key);
	if (t->name == NULL)
		return 0;
	/* A named webhook whose events list approval events gets only those. */
	if ((t->events & WEBHOOK_EVENT_APPROVALS) != 0 && (t->events & k->event) == 0)
		return 0;
	for (i = 0; i < k->nnames; i++)
		if (k->names[i] != NULL && strcmp(k->names[i], t->name) == 0)
			return 1;
	return 0;
}

/* A payload holding len bytes of body, with one reference per delivery
 * plus the caller's; NULL when out of memory. */
static struct wh_payload *
payload_new(unsigned event, const char *id, const char *body, size_t len, size_t deliveries)
{
	struct wh_payload *p;

	if ((p = malloc(sizeof(*p) + len + 1)) == NULL)
		return NULL;
	atomic_init(&p->refs, (unsigned)deliveries + 1);
	p->event = event;
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->len = len;
	if (len > 0)
		memcpy(p->body, body, len);
	p->body[len] = '\0';
	return p;
}

/* The byte length of the UTF-8 character at s (n bytes before the NUL),
 * or 0 when s does not start with a well-formed one. */
static size_t
utf8_char_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t len;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		len = 2;
	else if ((c & 0xf0) == 0xe0)
		len = 3;
	else if ((c & 0xf8) == 0xf0)
		len = 4;
	else
		return 0;
	/* json_check_utf8() refuses overlong forms, surrogates and code
	 * points above U+10FFFF, and a continuation byte that is missing. */
	if (len > n || json_check_utf8(s, len) != 0)
		return 0;
	return len;
}

/*
 * The body of a slack-format target: {"text": text} with text made
 * well-formed UTF-8 (U+FFFD for each byte that starts no character) and
 * cut to at most WEBHOOK_TEXT_MAX bytes before a character that would not
 * fit.  NULL when out of memory; the caller frees with cJSON_free().
 */
static char *
slack_body(const char *text, size_t *ret_len)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	char buf[WEBHOOK_TEXT_MAX + 1], *out = NULL;
	const char *from;
	size_t n = strlen(text), i = 0, o = 0, clen, take;
	cJSON *obj = NULL;

	while (i < n) {
		if ((clen = utf8_char_len(text + i, n - i)) == 0) {
			from = replacement;
			take = sizeof(replacement) - 1;
			clen = 1;
		} else {
			from = text + i;
			take = clen;
		}
		if (take > WEBHOOK_TEXT_MAX - o)
			break;
		memcpy(buf + o, from, take);
		o += take;
		i += clen;
	}
	buf[o] = '\0';
	if ((obj = cJSON_CreateObject()) != NULL &&
	    cJSON_AddStringToObject(obj, "text", buf) != NULL)
		out = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (out != NULL)
		*ret_len = strlen(out);
	return out;
}

/* Copies at most max bytes of s (NULL: none) into out, each byte outside
 * [A-Za-z0-9._-] as '?': safe to show in a chat message. */
static void
copy_plain(char *out, size_t outlen, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i < max && i + 1 < outlen; i++)
		out[i] = is_name_char(s[i]) ? s[i] : '?';
	out[i] = '\0';
}

/* "signet: job <id> <event>", then " (key <key>)" when key is not NULL. */
static void
default_text(char *out, size_t outlen, const char *id, unsigned event, const char *key)
{
	char pid[WEBHOOK_ID_MAX + 1], pkey[WEBHOOK_NAME_MAX + 1];

	copy_plain(pid, sizeof(pid), id, WEBHOOK_ID_MAX);
	if (key == NULL) {
		snprintf(out, outlen, "signet: job %s %s", pid, event_name(event));
		return;
	}
	copy_plain(pkey, sizeof(pkey), key, WEBHOOK_NAME_MAX);
	snprintf(out, outlen, "signet: job %s %s (key %s)", pid, event_name(event), pkey);
}

/* Appends one delivery of p to target i; consumes one reference of p.
 * 1 when queued, 0 when counted as failed. */
static int
enqueue(struct webhooks *w, struct wh_payload *p, size_t i, int64_t now)
{
	struct wh_delivery *d;
	const char *why;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		count_failure(w, i, p->id, p->event, "out of memory");
		payload_unref(p);
		return 0;
	}
	d->p = p;
	d->target = i;
	d->deadline_ms = now + w->deadline_ms;
	d->due_ms = now;
	pthread_mutex_lock(&w->mu);
	if (w->stopping || w->held >= w->queue_max) {
		why = w->stopping ? "agent stopping" : "queue full";
		w->failures++;
		pthread_mutex_unlock(&w->mu);
		log_failure(w, i, p->id, p->event, why);
		free(d);
		payload_unref(p);
		return 0;
	}
	append_locked(w, d);
	w->held++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	return 1;
}

/*
 * Queues one delivery to each target that k picks: body (len bytes) to
 * the json-format ones, {"text": text} to the slack-format ones.  Returns
 * the number queued; the others are counted and logged.
 */
static int
queue_picked(struct webhooks *w, const struct wh_pick *k, const char *id, const char *body,
    size_t len, const char *text)
{
	struct wh_payload *p[WEBHOOK_FORMATS] = { NULL, NULL };
	const char *why[WEBHOOK_FORMATS] = { NULL, NULL };
	size_t want[WEBHOOK_FORMATS] = { 0, 0 }, i, slack_len = 0;
	char *slack = NULL;
	int64_t now;
	int f, queued = 0;

	for (i = 0; i < w->n; i++)
		if (picks(&w->targets[i], k))
			want[w->targets[i].format]++;
	if (want[WEBHOOK_FORMAT_JSON] + want[WEBHOOK_FORMAT_SLACK] == 0)
		return 0;
	if (!id_is_usable(id)) {
		why[WEBHOOK_FORMAT_JSON] = why[WEBHOOK_FORMAT_SLACK] =
		    "job id unusable in a header";
	} else {
		if (want[WEBHOOK_FORMAT_JSON] == 0)
			;
		else if (len > WEBHOOK_BODY_MAX)
			why[WEBHOOK_FORMAT_JSON] = "body larger than WEBHOOK_BODY_MAX";
		else if ((p[WEBHOOK_FORMAT_JSON] = payload_new(
			      k->event, id, body, len, want[WEBHOOK_FORMAT_JSON])) == NULL)
			why[WEBHOOK_FORMAT_JSON] = "out of memory";
		if (want[WEBHOOK_FORMAT_SLACK] > 0 &&
		    ((slack = slack_body(text, &slack_len)) == NULL ||
			(p[WEBHOOK_FORMAT_SLACK] = payload_new(
			     k->event, id, slack, slack_len, want[WEBHOOK_FORMAT_SLACK])) == NULL))
			why[WEBHOOK_FORMAT_SLACK] = "out of memory";
	}
	now = sgtime_mono_ms();
	for (i = 0; i < w->n; i++) {
		if (!picks(&w->targets[i], k))
			continue;
		f = w->targets[i].format;
		if (why[f] != NULL)
			count_failure(w, i, id, k->event, why[f]);
		else
			queued += enqueue(w, p[f], i, now);
	}
	payload_unref(p[WEBHOOK_FORMAT_JSON]);
	payload_unref(p[WEBHOOK_FORMAT_SLACK]);
	cJSON_free(slack);
	return queued;
}

int
webhooks_notify(struct webhooks *w, const char *event, const char *key, const char *id,
    const char *body, size_t len)
{
	struct wh_pick k = { 0 };
	char text[WEBHOOK_RESULT_TEXT_MAX];

	if (w == NULL || w->n == 0 || event == NULL || (body == NULL && len > 0))
		return 0;
	if ((k.event = event_bit(event)) == 0)
		return 0;
	if ((k.event & WEBHOOK_EVENT_ALL) == 0) {
		sg_log(LOG_LEVEL_WARN, "webhook", 0,
		    "%s is not a result event: it goes to named webhooks only", event);
		return 0;
	}
	k.key = key;
	default_text(text, sizeof(text), id, k.event, key);
	return queue_picked(w, &k, id, body, len, text);
}

int
webhooks_notify_named(struct webhooks *w, const char *const *names, size_t nnames,
    const char *event, const char *id, const char *body, size_t len, const char *text)
{
	struct wh_pick k = { 0 };
	char dflt[WEBHOOK_RESULT_TEXT_MAX];

	if (w == NULL || w->n == 0 || event == NULL || (names == NULL && nnames > 0) ||
	    (body == NULL && len > 0))
		return 0;
	if ((k.event = event_bit(event)) == 0)
		return 0;
	k.by_name = 1;
	k.names = names;
	k.nnames = nnames;
	if (text == NULL) {
		default_text(dflt, sizeof(dflt), id, k.event, NULL);
		text = dflt;
	}
	return queue_picked(w, &k, id, body, len, text);
}

uint64_t
webhooks_failures(struct webhooks *w)
{
	uint64_t v;

	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->mu);
	v = w->failures;
	pthread_mutex_unlock(&w->mu);
	return v;
}

uint64_t
webhooks_delivered(struct webhooks *w)
{
	uint64_t v;

	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->mu);
	v = w->delivered;
	pthread_mutex_unlock(&w->mu);
	return v;
}

void
webhooks_stop(struct webhooks *w, int64_t drain_s)
{
	if (w == NULL)
		return;
	if (drain_s < 0)
		drain_s = 0;
	if (drain_s > WEBHOOK_DRAIN_MAX_S)
		drain_s = WEBHOOK_DRAIN_MAX_S;
	if (w->has_thread) {
		pthread_mutex_lock(&w->mu);
		w->stopping = 1;
		w->drain_until_ms = sgtime_mono_ms() + 1000 * drain_s;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->mu);
		/* Interrupts a transfer waiting in curl_multi_poll(). */
		curl_multi_wakeup(w->multi);
		pthread_join(w->thread, NULL);
	}
	webhooks_free(w);
}
