/*
 * webhook.h — result webhooks and key-owner notification.
 *
 * Every published result is POSTed to the configured targets in the style
 * of GitHub and GitLab webhooks:
 *
 *     POST <url>
 *     Content-Type: application/json
 *     User-Agent: signet-agent/<version>
 *     X-Signet-Event: signed | rejected | failed
 *                     | approval.requested | approval.decided
 *     X-Signet-Delivery: <job id>
 *     X-Signet-Signature: sha256=<lowercase hex HMAC-SHA256(secret, body)>
 *
 *     <the result payload, byte for byte as attested>
 *
 * A target is global (key NULL: every result whose event it asks for) or a
 * key owner's (key set: every result naming that key).  A target may have
 * a name, through which webhooks_notify_named() reaches it (the approval
 * events go only that way).  Its format says what the body is: the
 * payload as given (WEBHOOK_FORMAT_JSON), or {"text": "<one message>"}
 * (WEBHOOK_FORMAT_SLACK: what Slack and Mattermost incoming webhooks
 * accept).  The signature is always over the bytes sent.  Delivery runs on
 * one background thread from a bounded queue, so it never delays signing:
 * webhooks_notify() copies the body and returns at once.  A 2xx answer is
 * success; network errors, 408, 429 and 5xx are retried with exponential
 * backoff (1 s, 2 s, 4 s, ... at most 60 s apart, with jitter) until the
 * delivery deadline; any other status is a permanent failure.  A failed
 * delivery (queue full, permanent error, deadline passed) is logged with
 * the URL, job id and reason, and counted.  TLS verification is always on.
 */
#ifndef SG_WEBHOOK_H
#define SG_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define WEBHOOK_EVENT_SIGNED             0x1u
#define WEBHOOK_EVENT_REJECTED           0x2u
#define WEBHOOK_EVENT_FAILED             0x4u
#define WEBHOOK_EVENT_APPROVAL_REQUESTED 0x8u
#define WEBHOOK_EVENT_APPROVAL_DECIDED   0x10u
/* The result events: what a target without an events mask gets. */
#define WEBHOOK_EVENT_APPROVALS          (WEBHOOK_EVENT_APPROVAL_REQUESTED | WEBHOOK_EVENT_APPROVAL_DECIDED)
#define WEBHOOK_EVENT_ALL                0x7u
/* Every bit a target's events mask may hold.  The approval bits select no
 * result; approval events reach a target only by name. */
#define WEBHOOK_EVENT_KNOWN              0x1fu

/* What a target's body is. */
enum webhook_format {
	WEBHOOK_FORMAT_JSON = 0, /* the payload, byte for byte */
	WEBHOOK_FORMAT_SLACK,    /* {"text": "<one message>"} */
};

#define WEBHOOK_URL_MAX            2048
#define WEBHOOK_BODY_MAX           (256 * 1024)
#define WEBHOOK_DEFAULT_QUEUE      1024 /* deliveries waiting */
#define WEBHOOK_DEFAULT_TIMEOUT_S  10   /* one request */
#define WEBHOOK_DEFAULT_DEADLINE_S 600  /* all attempts of one delivery */
#define WEBHOOK_TEXT_MAX           4000 /* bytes of a slack-format message */
#define WEBHOOK_NAME_MAX           64   /* bytes of a target's name */

struct webhook_target {
	const char *url;         /* http:// or https:// */
	const char *secret_file; /* HMAC secret, owner-only file (read_secret_file) */
	const char *ca_file;     /* HTTPS: CA bundle, or NULL for the system's */
	const char *key;         /* key owner's hook: only results naming this key */
	const char *name;        /* or NULL; 1..WEBHOOK_NAME_MAX of [A-Za-z0-9._-], unique */
	unsigned events;         /* WEBHOOK_EVENT_* mask; 0 means WEBHOOK_EVENT_ALL */
	int format;              /* enum webhook_format */
};

struct webhook_opts {
	size_t queue_max;   /* 0: WEBHOOK_DEFAULT_QUEUE */
	int64_t timeout_s;  /* 0: WEBHOOK_DEFAULT_TIMEOUT_S */
	int64_t deadline_s; /* 0: WEBHOOK_DEFAULT_DEADLINE_S */
	int64_t backoff_ms; /* first retry delay; 0: 1000 (tests make it short) */
};

struct webhooks;

/*
 * Reads every secret (refusing group- or world-readable files, empty ones),
 * checks every URL, starts the delivery thread.  n == 0 is allowed (notify
 * then does nothing).  The targets' strings are copied.  SG_ERR_CONFIG
 * (reason in errbuf: a bad URL, an unreadable CA file, an unknown event
 * bit or format, a bad or repeated name), SG_ERR_SECRET_FILE,
 * SG_ERR_ALLOC, SG_ERR_SYSTEM.  Call before other threads start (libcurl).
 */
int webhooks_start(const struct webhook_target *targets, size_t n, const struct webhook_opts *opts,
    struct webhooks **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/*
 * Queues one delivery to every target that wants this result: event is
 * "signed", "rejected" or "failed" (any other name is logged and ignored);
 * key is the key the result names (NULL when none); id the job id.  A
 * json-format target gets body; a slack-format target gets
 * {"text": "signet: job <id> <event> (key <key>)"}, where characters of id
 * and key other than [A-Za-z0-9._-] show as '?' (chat clients read markup
 * in the text) and key is cut to WEBHOOK_NAME_MAX bytes.  Never blocks on
 * the network.  Returns the number of deliveries queued (>= 0); a target
 * whose delivery does not fit in the queue, or a body over
 * WEBHOOK_BODY_MAX, counts as a failed delivery and is logged.
 * Thread-safe.
 */
int webhooks_notify(struct webhooks *w, const char *event, const char *key, const char *id,
    const char *body, size_t len);

/*
 * Queues one delivery to each target whose name is among the nnames
 * names, whatever its key, unless its events mask lists approval events
 * and not this one: event is any event named in the
 * X-Signet-Event list above (approval events are meant to come this way;
 * any other name is logged and ignored); id the job id.  A json-format
 * target gets body (len bytes); a slack-format target gets
 * {"text": text}, built with cJSON: text is escaped, a byte sequence that
 * is not UTF-8 becomes U+FFFD, and it is cut to at most WEBHOOK_TEXT_MAX
 * bytes on a character boundary.  text is sent otherwise as given, so the
 * caller escapes what it did not write itself (Slack and Mattermost read
 * <...> and markdown in it); NULL stands for "signet: job <id> <event>".
 * A name may repeat (one delivery still); names matching no target are
 * ignored.  names, body and text are borrowed for the call.  Returns as
 * webhooks_notify().  Thread-safe.
 */
int webhooks_notify_named(struct webhooks *w, const char *const *names, size_t nnames,
    const char *event, const char *id, const char *body, size_t len, const char *text);

/* Failed deliveries so far.  Thread-safe. */
uint64_t webhooks_failures(struct webhooks *w);

/* Successful deliveries so far.  Thread-safe. */
uint64_t webhooks_delivered(struct webhooks *w);

/*
 * Stops: deliveries still queued get up to drain_s seconds (one attempt
 * each, no new retries), then the thread ends; what is left counts as
 * failed.  Wipes the secrets.  NULL is a no-op.
 */
void webhooks_stop(struct webhooks *w, int64_t drain_s);

#endif
