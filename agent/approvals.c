/*
 * approvals.c — reading pending results and telling approvers
 * (approvals.h, docs/approvals.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "approvals.h"
#include "envelope.h"
#include "json.h"
#include "log.h"
#include "resultcheck.h"
#include "sgtime.h"
#include "util.h"
#include "webhook.h"

#define NOTIFY_TEXT_MAX 2048

void
held_clear(struct held *h)
{
	free(h->env);
	result_free(h->res);
	memset(h, 0, sizeof(*h));
}

int
held_read(struct agent *ag, struct queue *q, const char *id, struct held *h)
{
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	const char *why = NULL;
	int r;

	memset(h, 0, sizeof(*h));
	r = queue_get_result(q, id, &h->env, &h->env_len);
	if (r == SG_ERR_NOT_FOUND || r == SG_ERR_LIMIT)
		return 0; /* nothing, or nothing of ours */
	if (r != 0)
		return r;
	if (verify_result_envelope(ag->attest_pub, ag->attest_keyid, h->env, h->env_len, &h->res,
		&payload, &payload_len, &why) != 0) {
		log_debug("job %s: the result in the queue is not genuine (%s)", id,
		    why != NULL ? why : "?");
		h->res = NULL;
	} else if (strcmp(h->res->id, id) != 0) {
		result_free(h->res);
		h->res = NULL;
	}
	free(payload);
	return 0;
}

int
held_is_pending_for(const struct held *h, const char *job_sha256)
{
	return h->res != NULL && h->res->status == SG_STATUS_PENDING &&
	    strcmp(h->res->job_sha256, job_sha256) == 0;
}

size_t
approvals_counted(const struct agent_key *k, const struct sg_result *res)
{
	size_t i, n = 0;

	for (i = 0; i < res->napprovals; i++) {
		const char *a = res->approvals[i].approver;

		if (a != NULL && config_is_approver(k, a) &&
		    (res->submitter == NULL || strcmp(a, res->submitter) != 0))
			n++;
	}
	return n;
}

void
approvals_describe(const struct sg_result *res, size_t counted, char *buf, size_t len)
{
	size_t i, off;
	int w;

	w = snprintf(buf, len, "%zu of %u", counted, res->approvals_required);
	off = w > 0 ? (size_t)w : 0;
	for (i = 0; i < res->napprovals && off < len; i++) {
		w = snprintf(
		    buf + off, len - off, "%s%s", i == 0 ? " (" : ", ", res->approvals[i].approver);
		off += w > 0 ? (size_t)w : 0;
	}
	if (res->napprovals > 0 && off < len)
		snprintf(buf + off, len - off, ")");
}

/* Text from a job, made safe for a chat message: no control characters,
 * and none of the characters that chat systems turn into links or
 * mentions ('<', '>', '&'). */
static void
chat_safe(const char *s, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; s != NULL && s[i] != '\0' && o + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] =
		    c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&' ? '?' : (char)c;
	}
	out[o] = '\0';
}

void
approvals_notify(struct agent *ag, const struct agent_key *k, const char *event,
    const struct sg_result *res, const char *payload, size_t payload_len)
{
	char text[NOTIFY_TEXT_MAX], sub[128], art[256], proj[160], ref[160], url[512], note[300];
	char expires[SGTIME_LEN + 1], hex[SHA256_HEX_LEN + 1], cmd[128];
	cJSON *root = NULL;
	char *body = NULL;
	size_t body_len = 0;
	unsigned flags = 0;

	if (ag->webhooks == NULL || k->napproval_notify == 0)
		return;
	snprintf(cmd, sizeof(cmd), "signet-approve show %s && signet-approve approve %s", res->id,
	    res->id);
	/* The body: the result payload with the event and the command added. */
	if (json_parse(payload, payload_len, &root, &flags) != 0 || !cJSON_IsObject(root) ||
	    json_add_string(root, "event", event) != 0 ||
	    (res->status == SG_STATUS_PENDING && json_add_string(root, "command", cmd) != 0) ||
	    json_print(root, &body, &body_len) != 0) {
		struct log_fields f;

		memset(&f, 0, sizeof(f));
		f.job = res->id;
		f.key = k->name;
		f.submitter = res->submitter;
		f.status = event;
		log_event(LOG_LEVEL_WARN, "notification.failed", &f,
		    "job %s: cannot build the %s notification", res->id, event);
		goto out;
	}
	chat_safe(res->submitter, sub, sizeof(sub));
	chat_safe(res->artifact.name, art, sizeof(art));
	chat_safe(res->ci.project, proj, sizeof(proj));
	chat_safe(res->ci.ref, ref, sizeof(ref));
	chat_safe(res->ci.url, url, sizeof(url));
	chat_safe(res->note, note, sizeof(note));
	hex_encode(res->artifact.sha256, SHA256_LEN, hex);
	sgtime_format(res->expires, expires);
	if (res->status == SG_STATUS_PENDING)
		snprintf(text, sizeof(text),
		    "signet: %s asks to sign %s (sha256 %.16s...) with key %s; needs %u "
		    "approvals.\nCI: %s %s %s\nNote: %s\nExpires %s.\nTo judge it: %s",
		    sub, art, hex, k->name, res->approvals_required, proj[0] ? proj : "-",
		    ref[0] ? ref : "-", url[0] ? url : "-", note[0] ? note : "-", expires, cmd);
	else
		snprintf(text, sizeof(text), "signet: job %s (%s, key %s, from %s) is %s%s%s.",
		    res->id, art, k->name, sub, sg_status_name(res->status),
		    res->error != 0 ? ": " : "", res->error != 0 ? sg_err_code(res->error) : "");
	(void)webhooks_notify_named(ag->webhooks, (const char *const *)k->approval_notify,
	    k->napproval_notify, event, res->id, body, body_len, text);
out:
	free(body);
	cJSON_Delete(root);
}
