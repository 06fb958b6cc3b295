/*
 * pipeline.c — one stream entry from hostile bytes to a published result.
 *
 * The decision is made in decide(), which only reads the entry and the
 * configuration, and asks the HSM for nothing; only when it returns 0 does
 * sign_job() touch the HSM.  publish() then writes the audit record, signs
 * the result with the attestation key and hands it to Redis.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "approval.h"
#include "approvals.h"
#include "b64.h"
#include "claims.h"
#include "crypto.h"
#include "envelope.h"
#include "format.h"
#include "tsa.h"
#include "job.h"
#include "json.h"
#include "log.h"
#include "pending.h"
#include "pipeline.h"
#include "policy.h"
#include "result.h"
#include "resultcheck.h"
#include "sgtime.h"

#define LOG_FIELD_MAX   80
/* decide()'s answer for an approval entry (docs/approvals.md). */
#define DECIDE_APPROVAL 1
/* gate()'s answers besides 0 (sign now) and errors. */
#define GATE_PENDING    1 /* left pending: the entry stays unacknowledged */
#define GATE_DONE       2 /* decided before (or a second entry of it): acknowledge it */
#define CAS_TRIES       8 /* reads and compare-and-set writes of one pending result */
/* sign_job()'s answers besides 0 and errors: the job's claim in Redis is
 * another process's (docs/reliability.md). */
#define CLAIM_BUSY      3 /* a live process works on it: leave the entry to it */
#define CLAIM_DONE      4 /* another agent released its result: acknowledge */

/* An approver's denial, handed to the job it denies. */
struct deny {
	const char *approver;
	const char *keyid;
	const char *comment; /* or NULL */
};

/* Everything learned about one entry. */
struct outcome {
	int code;   /* 0: signed */
	int has_id; /* a result is owed (docs/errors.md) */
	char id[JOB_ID_LEN + 1];
	char job_sha256[SHA256_HEX_LEN + 1];
	int has_sub;                       /* once the envelope signature verified: */
	char sub[POLICY_IDENTITY_MAX + 1]; /* submitter name, or certificate identity */
	char keyid[KEYID_LEN + 1];         /* the signer's keyid */
	int quota_taken;                   /* counted against the quota at quota_time */
	int64_t quota_time;
	char quota_key[CONFIG_NAME_MAX + 1];
	struct sg_job *job;          /* once the job parsed */
	long key_index;              /* once the key is known */
	struct policy_ci ci;         /* the verified ci_token claims, and
	                                       the detail of a policy refusal */
	char detail[POLICY_WHY_MAX]; /* the detail of another refusal, with
	                                       the value at fault; else "" */
	uint8_t *sigfile;            /* the signature file, when signed */
	size_t sigfile_len;
	int has_ts;                /* it carries an RFC 3161 timestamp: */
	int64_t ts_time;           /* the token's time */
	char ts_tsa[TSA_NAME_MAX]; /* the TSA certificate's subject */
	char *store_sig;           /* locations in the store */
	char *store_result;
	char *republish; /* a stored result to publish again */
	size_t republish_len;
	char *payload; /* the result payload, once built */
	size_t payload_len;
	/* Approvals (docs/approvals.md). */
	struct dsse_envelope *approval_env; /* an approval entry's envelope */
	struct held held;                   /* the job's result in Redis, as read */
	int has_approvals;                  /* the key requires approvals: */
	struct sg_result_approval approvals[RESULT_APPROVALS_MAX]; /* those counted */
	size_t napprovals;
	int pending;         /* left waiting for approvals */
	int needs_approvals; /* the key asked for requires approvals (decide()) */
	int sub_pinned;      /* sub is a configured submitter's name */
	int64_t t0_us;       /* when the entry was taken up (mono_us()) */
	uint64_t deliveries; /* the entry's deliveries (> 1: taken over) */
	int claim_held;      /* this process holds the job's claim in Redis */
	int watching;        /* the worker's connection WATCHes the claim
	                        (claim_still_ours) until the release */
	uint64_t signer_seq; /* the signer's journal record of the signature */
	char claim_owner[QUEUE_CONSUMER_MAX + 1]; /* CLAIM_BUSY, CLAIM_DONE: whose */
};

static void
outcome_clear(struct outcome *o)
{
	job_free(o->job);
	policy_ci_clear(&o->ci);
	free(o->sigfile);
	free(o->store_sig);
	free(o->store_result);
	free(o->republish);
	free(o->payload);
	envelope_free(o->approval_env);
	held_clear(&o->held);
	for (size_t i = 0; i < o->napprovals; i++) {
		free(o->approvals[i].approver);
		free(o->approvals[i].comment);
	}
	memset(o, 0, sizeof(*o));
	o->key_index = -1;
}

/* Remembers the payload's hash and, if it has one, the id a result is owed to. */
static void
note_payload(struct outcome *o, const uint8_t *payload, size_t len)
{
	uint8_t h[SHA256_LEN];

	crypto_sha256(payload, len, h);
	hex_encode(h, SHA256_LEN, o->job_sha256);
	o->has_id = job_peek_id(payload, len, o->id) == 0;
}

/* Whether a decision record is about a job that was authenticated and
 * parsed (it names a submitter and a key) and rejected: such a job binds
 * its id for its submitter (see bind_id).  A job.replayed rejection is the
 * refusal of one that came second; it binds nothing. */
static int
rejected_after_parse(const char *event, const char *submitter, const char *key, const char *code)
{
	return strcmp(event, "rejected") == 0 && submitter != NULL && key != NULL &&
	    (code == NULL || strcmp(code, sg_err_code(SG_ERR_JOB_REPLAYED)) != 0);
}

/*
 * Binds the id to this job for good (idset.h): at the intent to sign it
 * (for everyone), and when it is rejected after it was authenticated and
 * parsed (for its submitter).  A later job under the id with another
 * payload is job.replayed, even once the replay table has forgotten the
 * first (it expired).  submitter NULL (records from before intents named
 * one) counts as the empty identity.
 */
static int
bind_id(struct agent *ag, const char *id, const char *job_sha256, const char *submitter,
    enum idset_kind kind, enum idset_bound *ret)
{
	enum idset_bound b = IDSET_NEW;
	int r;

	if (ag->ids == NULL) {
		*ret = IDSET_NEW;
		return 0;
	}
	if ((r = idset_bind(
		 ag->ids, id, job_sha256, submitter != NULL ? submitter : "", kind, &b)) != 0)
		return r;
	*ret = b;
	return 0;
}

/*
 * Rebuilds the replay table, the set of bound ids and the quotas from the
 * audit log.  Per job id the log holds: "intent" before the HSM is asked,
 * "signature" once it has signed (with the signature itself), then the
 * decision ("signed", "rejected", "failed").  An intent (or a "retry") with
 * no signature record after it means an earlier run stopped in between:
 * the HSM may have signed, but nothing was released, so the job is signed
 * again after a "retry" record (sign_job()) — unless the decision says the
 * HSM refused (hsm.* codes), which frees the id.  The replay table keeps ids until their jobs
 * expire; the bound ids are kept whatever their age.
 */
void
pipeline_audit_replay(void *arg, const struct audit_seen *rec)
{
	struct agent *ag = arg;
	const char *ev = rec->event;
	enum idset_bound bound;

	/* Entries taken up and not decided: an earlier run may have died of them. */
	if (rec->entry != NULL && ag->attempts != NULL) {
		if (strcmp(ev, "received") == 0)
			(void)attempts_begin(ag->attempts, rec->entry);
		else if (strcmp(ev, "signed") == 0 || strcmp(ev, "rejected") == 0 ||
		    strcmp(ev, "failed") == 0 || strcmp(ev, "published") == 0 ||
		    strcmp(ev, "pending") == 0 || strcmp(ev, "approval") == 0 ||
		    strcmp(ev, "withheld") == 0)
			attempts_end(ag->attempts, rec->entry);
	}
	if (rec->id == NULL || rec->job_sha256 == NULL)
		return;
	if ((strcmp(ev, "intent") == 0 || strcmp(ev, "retry") == 0 ||
		strcmp(ev, "signature") == 0 || strcmp(ev, "signed") == 0) &&
	    bind_id(ag, rec->id, rec->job_sha256, rec->submitter, IDSET_INTENT, &bound) != 0)
		log_warn("audit log: cannot bind job id %s to its job", rec->id);
	if (rejected_after_parse(ev, rec->submitter, rec->key, rec->code) &&
	    bind_id(ag, rec->id, rec->job_sha256, rec->submitter, IDSET_REJECTED, &bound) != 0)
		log_warn("audit log: cannot bind job id %s to its rejected job", rec->id);
	/* Quotas look back a day; the replay table only as far as jobs live. */
	if (strcmp(ev, "signed") == 0 && ag->quota != NULL && rec->submitter != NULL &&
	    rec->key != NULL && rec->time > sgtime_now() - QUOTA_DAY_S &&
	    quota_add(ag->quota, rec->submitter, rec->key, rec->time) != 0)
		log_warn("audit log: cannot count signed job %s against its quota", rec->id);
	if (rec->expires != 0 && rec->expires + JOB_CLOCK_SKEW_S < sgtime_now())
		return;
	/* A retry is an intent again: interrupted too until its signature. */
	if (strcmp(ev, "intent") == 0 || strcmp(ev, "retry") == 0) {
		if (rec->key == NULL ||
		    replay_mark_intent(
			ag->replay, rec->id, rec->job_sha256, rec->key, rec->expires) != 0)
			log_warn("audit log: cannot remember the intent to sign job %s", rec->id);
		return;
	}
	if (strcmp(ev, "failed") == 0) {
		if (rec->code != NULL && strncmp(rec->code, "hsm.", 4) == 0)
			replay_mark_free(ag->replay, rec->id, rec->job_sha256);
		return;
	}
	if (strcmp(ev, "signature") == 0 && rec->key != NULL) {
		if (replay_mark_signed(
			ag->replay, rec->id, rec->job_sha256, rec->key, rec->expires) != 0)
			log_warn("audit log: cannot remember signed job %s", rec->id);
		return;
	}
	if (strcmp(ev, "signed") != 0 || rec->key == NULL)
		return;
	/* Logs from before "signature" records existed have only this one. */
	if (replay_mark_signed(ag->replay, rec->id, rec->job_sha256, rec->key, rec->expires) != 0)
		log_warn("audit log: cannot remember signed job %s", rec->id);
}

/*
 * The signer of a certificate-carrying entry: the certificate's key must be
 * the keyid's (else the envelope is malformed), of a type signers may use,
 * and must verify the signature; the chain is checked at arrival here and
 * at the job's creation once the job is parsed.
 */
static int
cert_signer(const struct agent_config *cfg, const struct dsse_envelope *env, int64_t now,
    X509 **ret_cert, struct policy_cert_identity *ret_id)
{
	const struct dsse_sig *sig = &env->sigs[0];
	X509 *x = NULL;
	EVP_PKEY *pk;
	char keyid[KEYID_LEN + 1];
	int r;

	if ((r = policy_cert_parse(sig->cert, sig->cert_len, &x)) != 0)
		goto out;
	r = SG_ERR_POLICY_CERT_INVALID;
	if ((pk = X509_get0_pubkey(x)) == NULL || crypto_check_key_type(pk) != 0)
		goto out;
	if (crypto_keyid(pk, keyid) != 0)
		goto out;
	if (strcmp(keyid, sig->keyid) != 0) {
		r = SG_ERR_ENVELOPE_MALFORMED;
		goto out;
	}
	if (crypto_dsse_verify(pk, env->payload_type, env->payload, env->payload_len, sig->sig,
		sig->sig_len) != 0) {
		r = SG_ERR_ENVELOPE_BAD_SIGNATURE;
		goto out;
	}
	if ((r = policy_verify_cert(cfg, x, &now, 1, ret_id)) != 0)
		goto out;
	*ret_cert = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	return r;
}

/* Everything before the HSM: 0 when the job may be signed. */
/* The detail of a refusal by job_check_time(): the times, the skew seen
 * and the tolerance, or the lifetime and the maximum. */
static void
explain_time(struct outcome *o, int r, int64_t now, int64_t max_lifetime)
{
	char c[SGTIME_LEN + 1], x[SGTIME_LEN + 1], n[SGTIME_LEN + 1];

	sgtime_format(o->job->created, c);
	sgtime_format(o->job->expires, x);
	sgtime_format(now, n);
	if (r == SG_ERR_JOB_NOT_YET_VALID)
		snprintf(o->detail, sizeof(o->detail),
		    "created %s, %lld s ahead of the agent's clock "
		    "(%s); the tolerance is %d s",
		    c, (long long)(o->job->created - now), n, JOB_CLOCK_SKEW_S);
	else if (r == SG_ERR_JOB_EXPIRED)
		snprintf(
		    o->detail, sizeof(o->detail), "expired at %s; the agent's clock says %s", x, n);
	else if (r == SG_ERR_JOB_LIFETIME_TOO_LONG)
		snprintf(o->detail, sizeof(o->detail),
		    "lifetime %lld s (created %s, expires %s) is "
		    "over the maximum of %lld s (max_job_lifetime)",
		    (long long)(o->job->expires - o->job->created), c, x, (long long)max_lifetime);
}

static int
decide_with(struct agent *ag, const struct agent_config *cfg, const struct queue_entry *e,
    struct outcome *o)
{
	struct dsse_envelope *env = NULL;
	struct policy_subject subj;
	struct policy_cert_identity cid;
	const struct agent_key *key;
	const struct agent_submitter *sub = NULL;
	X509 *cert = NULL;
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	int64_t now = sgtime_now(), max_lifetime;
	long ki;
	int r;

	if (e->env == NULL)
		return SG_ERR_ENVELOPE_MALFORMED;
	if (e->env_len > ENVELOPE_MAX_BYTES)
		return SG_ERR_ENVELOPE_TOO_LARGE;
	if ((r = envelope_parse(e->env, e->env_len, &env)) != 0) {
		if (r == SG_ERR_ENVELOPE_MALFORMED &&
		    envelope_salvage_payload(e->env, e->env_len, &payload, &payload_len) == 0) {
			note_payload(o, payload, payload_len);
			free(payload);
		}
		return r;
	}
	note_payload(o, env->payload, env->payload_len);
	if (strcmp(env->payload_type, PAYLOAD_TYPE_APPROVAL) == 0) {
		/* An approver's decision: never answered with a result (its id
		 * is a job's), judged by process_approval(). */
		o->has_id = 0;
		if (env->nsigs != 1) {
			snprintf(o->detail, sizeof(o->detail),
			    "%zu signatures; an approval carries exactly one", env->nsigs);
			r = SG_ERR_ENVELOPE_MALFORMED;
			goto out;
		}
		o->approval_env = env;
		env = NULL;
		r = DECIDE_APPROVAL;
		goto out;
	}
	if (strcmp(env->payload_type, PAYLOAD_TYPE_JOB) != 0 || env->nsigs != 1) {
		char esc[96];

		if (env->nsigs != 1)
			snprintf(o->detail, sizeof(o->detail),
			    "%zu signatures; a job envelope carries "
			    "exactly one",
			    env->nsigs);
		else
			snprintf(o->detail, sizeof(o->detail), "payloadType %s, not %s",
			    log_escape(
				env->payload_type, strlen(env->payload_type), esc, sizeof(esc)),
			    PAYLOAD_TYPE_JOB);
		r = SG_ERR_ENVELOPE_MALFORMED;
		goto out;
	}
	memset(&subj, 0, sizeof(subj));
	if (env->sigs[0].cert != NULL) {
		/* A corporate identity: judged by its certificate alone. */
		if ((r = cert_signer(cfg, env, now, &cert, &cid)) != 0)
			goto out;
		snprintf(o->sub, sizeof(o->sub), "%s", cid.identity);
		subj.serial = cid.serial;
		subj.ca = cid.ca;
	} else {
		/* A pinned key, found by keyid alone (docs/protocol.md §2). */
		if ((sub = config_submitter_by_keyid(cfg, env->sigs[0].keyid)) == NULL) {
			snprintf(o->detail, sizeof(o->detail),
			    "no submitter has keyid %s (submit-job "
			    "--print-keyid prints an identity's keyid)",
			    env->sigs[0].keyid);
			r = SG_ERR_ENVELOPE_UNKNOWN_SIGNER;
			goto out;
		}
		if (crypto_dsse_verify(sub->pub, env->payload_type, env->payload, env->payload_len,
			env->sigs[0].sig, env->sigs[0].sig_len) != 0) {
			snprintf(o->detail, sizeof(o->detail),
			    "the signature does not verify with "
			    "submitter %s's key (keyid %s)",
			    sub->name, env->sigs[0].keyid);
			r = SG_ERR_ENVELOPE_BAD_SIGNATURE;
			goto out;
		}
		snprintf(o->sub, sizeof(o->sub), "%s", sub->name);
		o->sub_pinned = 1;
		subj.pinned = sub;
		subj.ca = -1;
	}
	snprintf(o->keyid, sizeof(o->keyid), "%s", env->sigs[0].keyid);
	o->has_sub = 1;
	subj.name = o->sub;
	subj.keyid = o->keyid;
	if ((r = job_parse(env->payload, env->payload_len, &o->job)) != 0) {
		if (r == SG_ERR_PARSE) {
			/* Not JSON at all: there is nowhere to put a result. */
			o->has_id = 0;
			r = SG_ERR_JOB_MALFORMED;
		}
		goto out;
	}
	/* A key with approvals may let its jobs live longer (docs/approvals.md). */
	max_lifetime = cfg->max_job_lifetime;
	if ((ki = config_key_index(cfg, o->job->key)) >= 0)
		max_lifetime = config_key_lifetime(cfg, &cfg->keys[ki]);
	if ((r = job_check_time(o->job, now, max_lifetime)) != 0) {
		explain_time(o, r, now, max_lifetime);
		goto out;
	}
	if (cert != NULL) {
		int64_t times[2] = { o->job->created, now };
		if ((r = policy_verify_cert(cfg, cert, times, nitems(times), &cid)) != 0)
			goto out;
	}
	/* The job's ci_token is verified here, once, against the issuers of
	 * this configuration; its claims stay in o->ci for the audit log. */
	r = policy_decide(cfg, &subj, o->job, now, ag->quota, &o->key_index, &o->ci);
	if (r != 0)
		goto out;
	key = &cfg->keys[o->key_index];
	o->needs_approvals = key->approvals_required > 0;
	/* Never a signature under a certificate that is not valid now. */
	if (now < key->leaf_not_before || now > key->leaf_not_after) {
		char nb[SGTIME_LEN + 1], na[SGTIME_LEN + 1], at[SGTIME_LEN + 1];

		sgtime_format(key->leaf_not_before, nb);
		sgtime_format(key->leaf_not_after, na);
		sgtime_format(now, at);
		snprintf(o->detail, sizeof(o->detail),
		    "key %s: its certificate is valid from %s to "
		    "%s, not at %s",
		    key->name, nb, na, at);
		r = SG_ERR_KEY_CERT_EXPIRED;
		goto out;
	}
	/* An OpenPGP signature cannot predate its key (docs/formats.md). */
	if (o->job->format == SG_FORMAT_OPENPGP && o->job->created < key->pgp_created) {
		char c[SGTIME_LEN + 1], k[SGTIME_LEN + 1];

		sgtime_format(o->job->created, c);
		sgtime_format(key->pgp_created, k);
		snprintf(o->detail, sizeof(o->detail),
		    "job created %s, before key %s's OpenPGP key (created %s)", c, key->name, k);
		r = SG_ERR_JOB_MALFORMED;
		goto out;
	}
	if (ag->quota != NULL) {
		if ((r = quota_take(ag->quota, o->sub, key->name, now, key->quota_per_hour,
			 key->quota_per_day)) != 0)
			goto out;
		o->quota_taken = 1;
		o->quota_time = now;
		snprintf(o->quota_key, sizeof(o->quota_key), "%s", key->name);
	}
	r = 0;
out:
	X509_free(cert);
	envelope_free(env);
	return r;
}

/* The policy in force for this one entry, held until the decision is made. */
static int
decide(struct agent *ag, const struct queue_entry *e, struct outcome *o)
{
	const struct agent_config *cfg;
	int r;

	if (ag->live == NULL)
		return decide_with(ag, ag->cfg, e, o);
	cfg = config_live_get(ag->live);
	r = decide_with(ag, cfg, e, o);
	config_live_put(ag->live, cfg);
	return r;
}

struct sign_arg {
	struct hsm *hsm;
	struct metrics *metrics;
	size_t index;
	uint8_t job[HSM_JOB_LEN]; /* the job's id, for the signer's journal */
	uint64_t seq;             /* the journal record of the last signature */
};

/*
 * hsm_sign with a few retries while the HSM fails: the signer is restarted
 * (PKCS#11 initialized again, login again) behind hsm_sign, so a lost
 * session or a token that comes back within about two seconds costs the
 * job nothing.  A token that stays away gives hsm.unavailable.
 */
static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
hsm_sign_retry(struct hsm *h, struct metrics *m, size_t index, const uint8_t *job,
    const uint8_t *digest, uint8_t *sig, size_t *ret_len, uint64_t *ret_seq)
{
	static const long delays_ms[] = { 200, 600, 1200 };
	size_t i;
	int r;

	for (i = 0;; i++) {
		int64_t t0 = mono_us();
		r = hsm_sign_for(h, index, job, digest, SHA256_LEN, sig, ret_len, ret_seq);
		if (r == 0)
			metrics_hsm_sign(m, mono_us() - t0);
		if ((r != SG_ERR_HSM_UNAVAILABLE && r != SG_ERR_HSM_SIGN_FAILED) ||
		    i == nitems(delays_ms))
			return r;
		struct timespec ts = { 0, delays_ms[i] * 1000000L };
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
}

int
pipeline_attest_digest(
    struct agent *ag, const uint8_t digest[SHA256_LEN], uint8_t *sig, size_t *ret_len)
{
	return hsm_sign_retry(
	    ag->hsm, ag->metrics, ag->attest_index, NULL, digest, sig, ret_len, NULL);
}

static int
sign_digest_cb(void *arg, const uint8_t digest[SHA256_LEN], uint8_t *sig, size_t *ret_len)
{
	struct sign_arg *a = arg;

	return hsm_sign_retry(a->hsm, a->metrics, a->index, a->job, digest, sig, ret_len, &a->seq);
}

/* The signature file's name in the store (docs/protocol.md §8). */
static const char *
sig_file_name(const struct sg_job *job, char *buf, size_t len)
{
	static const char *const ext[SG_FORMAT_COUNT] = {
		[SG_FORMAT_RAW] = "sig",
		[SG_FORMAT_CMS] = "p7s",
		[SG_FORMAT_AUTHENTICODE] = "p7",
		[SG_FORMAT_KMOD] = "p7s",
		[SG_FORMAT_OPENPGP] = "pgp",
	};

	snprintf(buf, len, "%s.%s", job->artifact.name,
	    (unsigned)job->format < SG_FORMAT_COUNT ? ext[job->format] : "sig");
	return buf;
}

/* An audit record about this job (intent, signature) with what is known. */
static int
audit_job_event(struct agent *ag, const struct outcome *o, const char *event, const char *sigsha,
    const char *sig_b64, uint64_t signer_seq, uint64_t retry_of)
{
	struct audit_record rec;
	char expires[SGTIME_LEN + 1], ts_time[SGTIME_LEN + 1];

	memset(&rec, 0, sizeof(rec));
	rec.event = event;
	rec.id = o->id;
	rec.submitter = o->has_sub ? o->sub : NULL;
	rec.keyid = o->has_sub ? o->keyid : NULL;
	rec.job_sha256 = o->job_sha256;
	rec.key = o->job->key;
	rec.format = sg_format_name(o->job->format);
	rec.artifact = o->job->artifact.name;
	rec.artifact_sha256 = o->job->artifact.sha256_hex;
	rec.signature_sha256 = sigsha;
	rec.signature = sig_b64;
	rec.signer_seq = signer_seq;
	rec.retry_of = retry_of;
	rec.ci_verified = sig_b64 == NULL ? o->ci.verified : NULL;
	if (sig_b64 != NULL && o->has_ts) {
		sgtime_format(o->ts_time, ts_time);
		rec.timestamp = ts_time;
		rec.tsa = o->ts_tsa;
	}
	/* A signature withheld for want of its timestamp (sign_job()). */
	if (sig_b64 != NULL && o->code == SG_ERR_TIMESTAMP_FAILED)
		rec.code = sg_err_code(o->code);
	/* The signature record need not be durable on its own: nothing leaves
	 * the agent before the decision record, whose sync covers it, and an
	 * intent found without it after a crash is signed again after a
	 * "retry" record (nothing of it was released). */
	rec.defer_sync = sig_b64 != NULL;
	sgtime_format(o->job->expires, expires);
	rec.expires = expires;
	return audit_append(ag->audit, &rec, 0, NULL);
}

/* The signature of a job signed before whose result is lost (a crash
 * between the HSM and the store): read back from its "signature" record. */
static int
recover_signature(struct agent *ag, struct outcome *o)
{
	const char *b64, *ts;
	char *line = NULL;
	cJSON *root = NULL;
	unsigned flags = 0;
	size_t len = 0, blen;
	int r;

	if ((r = audit_find(ag->audit, "signature", o->id, &line, &len)) != 0)
		return r;
	r = SG_ERR_INTERNAL;
	if (json_parse(line, len, &root, &flags) != 0 || flags != 0 ||
	    json_get_string(root, "signature", &b64, &blen) != 0)
		goto out;
	/* Withheld: its timestamp could not be had, and never will be now. */
	if (json_get(root, "code") != NULL) {
		r = SG_ERR_TIMESTAMP_FAILED;
		snprintf(o->detail, sizeof(o->detail),
		    "job %s was signed before, but its signature was withheld for want of a "
		    "timestamp; submit the job anew",
		    o->id);
		goto out;
	}
	if (b64_decode(b64, blen, &o->sigfile, &o->sigfile_len) != 0)
		goto out;
	if (json_get_string(root, "timestamp", &ts, NULL) == 0) {
		if (sgtime_parse(ts, &o->ts_time) != 0 ||
		    json_get_string(root, "tsa", &ts, NULL) != 0)
			goto out;
		snprintf(o->ts_tsa, sizeof(o->ts_tsa), "%s", ts);
		o->has_ts = 1;
	}
	r = 0;
out:
	cJSON_Delete(root);
	free(line);
	return r;
}

/*
 * Whether this id may be signed for this job: the replay table first (ids
 * of jobs not yet expired), then, for an id it does not hold, the ids bound
 * for good.  *ret_state as replay_claim() sets it; on REPLAY_CLAIMED the
 * caller owns the claim and must end it with replay_done().
 * SG_ERR_JOB_REPLAYED (another job's id), SG_ERR_INTERNAL.
 */
static int
check_id(struct agent *ag, struct outcome *o, enum replay_state *ret_state, char *prev_sha,
    char *prev_key)
{
	enum idset_bound bound;
	int r;

	if ((r = replay_claim(ag->replay, o->id, ret_state, prev_sha, prev_key)) != 0)
		return r;
	if (*ret_state != REPLAY_CLAIMED)
		return strcmp(prev_sha, o->job_sha256) != 0 ? SG_ERR_JOB_REPLAYED : 0;
	/* Not in the replay table, which forgets expired jobs: the id may
	 * still have been bound to another job long ago. */
	if ((r = bind_id(ag, o->id, o->job_sha256, o->sub, IDSET_INTENT, &bound)) != 0) {
		replay_done(ag->replay, o->id, 0, NULL, NULL, 0);
		log_error_r(r, "job %s: cannot look its id up among the bound ids", o->id);
		return SG_ERR_INTERNAL;
	}
	if (bound == IDSET_OTHER) {
		replay_done(ag->replay, o->id, 0, NULL, NULL, 0);
		log_warn("job %s: the id belongs to another job decided before (signed, or "
			 "rejected from the same submitter); refused",
		    o->id);
		return SG_ERR_JOB_REPLAYED;
	}
	return 0;
}

/* The same job signed before: its first result is published again, never
 * a second signature; a result lost in a crash is rebuilt from the audit
 * log's signature record. */
static int
republish(struct agent *ag, struct outcome *o, const struct agent_key *key, const char *prev_key)
{
	char name[ARTIFACT_NAME_MAX + 8];
	int r;

	r = store_get(ag->store, prev_key, o->id, "result.json", &o->republish, &o->republish_len);
	if (r == 0)
		return 0;
	if (r != SG_ERR_NOT_FOUND)
		return SG_ERR_STORE_FAILED;
	/* A signature withheld here (another process released the job's
	 * result) is never released. */
	if (audit_find(ag->audit, "withheld", o->id, &o->republish, &o->republish_len) == 0) {
		free(o->republish);
		o->republish = NULL;
		o->republish_len = 0;
		snprintf(
		    o->claim_owner, sizeof(o->claim_owner), "%sanother agent", QUEUE_CLAIM_DONE);
		return CLAIM_DONE;
	}
	if ((r = recover_signature(ag, o)) != 0)
		return r == SG_ERR_TIMESTAMP_FAILED ? r : SG_ERR_STORE_FAILED;
	log_info("job %s: result lost after signing; rebuilt from the audit log", o->id);
	sig_file_name(o->job, name, sizeof(name));
	/* Written with the result (build_result): only its location now. */
	return store_location(ag->store, key->name, o->id, name, &o->store_sig);
}

/*
 * Other agents on the same queue have their own audit logs: the id is
 * claimed in Redis too (docs/reliability.md), with this process's identity
 * and a TTL of reclaim_after that the reader thread refreshes while the job
 * is in work (touch_inflight in main.c).  A claim nobody refreshes any more
 * (its process died) expires and can be taken; the release of a signed
 * result turns it into QUEUE_CLAIM_DONE<owner> until the job expires.  0
 * (the claim is ours), CLAIM_BUSY (another process's: o->claim_owner),
 * CLAIM_DONE (another process released a result), or the queue's error
 * (the caller retries the entry).
 */
static int
claim_in_queue(struct agent *ag, struct queue *q, struct outcome *o)
{
	size_t dl = strlen(QUEUE_CLAIM_DONE);
	int r;

	r = queue_claim_job(
	    q, o->id, ag->consumer, ag->cfg->reclaim_after, o->claim_owner, sizeof(o->claim_owner));
	if (r != SG_ERR_EXISTS)
		return r;
	if (strncmp(o->claim_owner, QUEUE_CLAIM_DONE, dl) == 0) {
		log_info("job %s: signed and released by %s; its result stands", o->id,
		    o->claim_owner + dl);
		return CLAIM_DONE;
	}
	log_info("job %s: claimed by %s, which works on it; left to it (a claim not refreshed "
		 "for reclaim_after, %llds, is taken over)",
	    o->id, o->claim_owner, (long long)ag->cfg->reclaim_after);
	return CLAIM_BUSY;
}

/* The "seq" of the last "intent" or "retry" record of job id: the attempt
 * a retry repeats.  0 when none is found. */
static uint64_t
last_attempt_seq(struct agent *ag, const char *id)
{
	static const char *const events[] = { "intent", "retry" };
	uint64_t best = 0;
	size_t i;

	for (i = 0; i < nitems(events); i++) {
		char *line = NULL;
		size_t len = 0;
		cJSON *root = NULL;
		unsigned flags = 0;
		int64_t seq = 0;

		if (audit_find(ag->audit, events[i], id, &line, &len) != 0)
			continue;
		if (json_parse(line, len, &root, &flags) == 0 &&
		    json_get_int(root, "seq", 1, INT64_MAX, &seq) == 0 && (uint64_t)seq > best)
			best = (uint64_t)seq;
		cJSON_Delete(root);
		free(line);
	}
	return best;
}

/*
 * A job taken over from another agent that died after it stored the signed
 * result but before it released it: that result (genuine, this job's,
 * signed) is published again, never a second signature.  0 with
 * o->republish set, SG_ERR_NOT_FOUND when the store has none.
 */
static int
stored_result(struct agent *ag, const struct agent_key *key, struct outcome *o)
{
	struct sg_result *res = NULL;
	uint8_t *payload = NULL;
	size_t payload_len = 0, len = 0;
	const char *why = NULL;
	char *env = NULL;
	int r;

	r = store_get(ag->store, key->name, o->id, "result.json", &env, &len);
	if (r == SG_ERR_NOT_FOUND)
		return r;
	if (r != 0)
		return SG_ERR_STORE_FAILED;
	if (verify_result_envelope(ag->attest_pub, ag->attest_keyid, env, len, &res, &payload,
		&payload_len, &why) != 0 ||
	    strcmp(res->id, o->id) != 0 || strcmp(res->job_sha256, o->job_sha256) != 0 ||
	    res->status != SG_STATUS_SIGNED) {
		log_warn("job %s: the store holds a result for it that is not this job's signed "
			 "result (%s); not used",
		    o->id, why != NULL ? why : "another job or status");
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	o->republish = env;
	o->republish_len = len;
	env = NULL;
	r = 0;
out:
	if (res != NULL)
		result_free(res);
	free(payload);
	free(env);
	return r;
}

#ifdef SIGNET_TEST_HOOKS
/* Test builds only (meson -Dtest_hooks=true): SIGNET_TEST_KILL_AFTER_SIGN=n
 * kills the agent after the HSM signed its n-th job, before the signature
 * is recorded; SIGNET_TEST_STOP_AFTER_SIGN=n stops it there (SIGSTOP) until
 * a SIGCONT (tests/faults/intent_kill.sh). */
static void
test_kill_after_sign(void)
{
	static atomic_uint signed_jobs;
	const char *kill = getenv("SIGNET_TEST_KILL_AFTER_SIGN");
	const char *stop = getenv("SIGNET_TEST_STOP_AFTER_SIGN");
	unsigned n = atomic_fetch_add(&signed_jobs, 1) + 1;

	if (kill != NULL && *kill != '\0' && strtoul(kill, NULL, 10) == n) {
		log_warn("test hook: killed after the HSM signed job %u", n);
		raise(SIGKILL);
	}
	if (stop != NULL && *stop != '\0' && strtoul(stop, NULL, 10) == n) {
		log_warn("test hook: stopped after the HSM signed job %u", n);
		raise(SIGSTOP);
	}
}
#endif

/*
 * The RFC 3161 timestamp of a key with a TSA (docs/formats.md): the token
 * over the signer's signature value, checked (agent/tsa.h), added to the
 * signature file as an unsigned attribute.  Formats without a place for
 * it (raw, kmod) go without.  0, or SG_ERR_TIMESTAMP_FAILED with the
 * reason in o->detail; o->sigfile is replaced only on success.
 */
static int
timestamp_sigfile(const struct agent_key *key, struct outcome *o)
{
	struct tsa_params p;
	struct tsa_token tok;
	char why[TSA_WHY_MAX] = "";
	uint8_t *sigval = NULL, *stamped = NULL;
	size_t sigval_len = 0, stamped_len = 0;
	int pkcs7 = o->job->format == SG_FORMAT_AUTHENTICODE, r;

	if (key->ts_url == NULL ||
	    (o->job->format != SG_FORMAT_CMS && o->job->format != SG_FORMAT_AUTHENTICODE))
		return 0;
	memset(&tok, 0, sizeof(tok));
	memset(&p, 0, sizeof(p));
	p.url = key->ts_url;
	p.roots = key->ts_roots;
	p.timeout_ms = key->ts_timeout * 1000;
	r = pkcs7 ? tsa_sigval_pkcs7(o->sigfile, o->sigfile_len, &sigval, &sigval_len)
		  : tsa_sigval_cms(o->sigfile, o->sigfile_len, &sigval, &sigval_len);
	if (r != 0) {
		snprintf(why, sizeof(why), "no signature value to time-stamp: %s", sg_strerror(r));
		goto out;
	}
	if ((r = tsa_timestamp(NULL, &p, sigval, sigval_len, &tok, why, sizeof(why))) != 0)
		goto out;
	r = pkcs7 ? tsa_attach_pkcs7(o->sigfile, o->sigfile_len, &tok, &stamped, &stamped_len)
		  : tsa_attach_cms(o->sigfile, o->sigfile_len, &tok, &stamped, &stamped_len);
	if (r != 0) {
		snprintf(why, sizeof(why), "the token cannot be added: %s", sg_strerror(r));
		goto out;
	}
	if (stamped_len > RESULT_SIGNATURE_MAX) {
		r = SG_ERR_LIMIT;
		snprintf(why, sizeof(why), "the signature with its token is %zu bytes (at most %d)",
		    stamped_len, RESULT_SIGNATURE_MAX);
		goto out;
	}
	free(o->sigfile);
	o->sigfile = stamped;
	o->sigfile_len = stamped_len;
	stamped = NULL;
	o->has_ts = 1;
	o->ts_time = tok.time;
	snprintf(o->ts_tsa, sizeof(o->ts_tsa), "%s", tok.tsa);
	r = 0;
out:
	if (r != 0) {
		snprintf(o->detail, sizeof(o->detail), "key %s: time-stamping authority %s: %s",
		    key->name, key->ts_url, why);
		log_warn("job %s: %s; the signature is withheld", o->id, o->detail);
		r = SG_ERR_TIMESTAMP_FAILED;
	}
	free(sigval);
	free(stamped);
	tsa_token_clear(&tok);
	return r;
}

/*
 * The signing half: at most one signature released per id, ever, and every
 * HSM signature accounted for in the audit log: an "intent" (or a "retry"
 * of an interrupted one) is durable before the HSM is asked, and its
 * "signature" record before anything is released.
 */
static int
sign_job(struct agent *ag, struct queue *q, struct outcome *o)
{
	const struct agent_key *key = &ag->cfg->keys[o->key_index];
	struct sign_arg sa = { ag->hsm, ag->metrics, (size_t)o->key_index, { 0 }, 0 };
	struct format_request req;
	char prev_sha[SHA256_HEX_LEN + 1], prev_key[JOB_KEY_MAX + 1], name[ARTIFACT_NAME_MAX + 8];
	char sigsha[SHA256_HEX_LEN + 1], *sig_b64 = NULL;
	uint8_t h[SHA256_LEN];
	enum replay_state state;
	uint64_t retry_of = 0;
	int r, ts_r, claimed = 0, retry = 0, asked = 0;

again:
	if ((r = check_id(ag, o, &state, prev_sha, prev_key)) != 0)
		goto out;
	switch (state) {
	case REPLAY_CLAIMED:
		claimed = 1;
		break;
	case REPLAY_SIGNED:
		r = republish(ag, o, key, prev_key);
		goto out;
	case REPLAY_INTERRUPTED:
	default:
		/* An earlier run stopped between its intent and the record of
		 * the HSM's answer: the HSM may have signed, but nothing of it
		 * was released (results leave only after the signature record
		 * is durable), so the job is signed again, after a "retry"
		 * record naming the interrupted attempt. */
		if ((r = replay_retry(ag->replay, o->id, o->job_sha256)) == SG_ERR_EXISTS)
			goto again; /* another worker took it meanwhile */
		if (r != 0)
			goto out;
		claimed = retry = 1;
		break;
	}
	if ((r = claim_in_queue(ag, q, o)) != 0)
		goto out;
	o->claim_held = 1;
	if (claims_add(ag->claims, o->id) != 0)
		log_warn("job %s: too many claims to refresh; its claim may expire", o->id);
	/* Taken over from an agent that died after storing its result. */
	if (!retry && o->deliveries > 1 && (r = stored_result(ag, key, o)) != SG_ERR_NOT_FOUND) {
		if (r == 0)
			log_info(
			    "job %s: taken over; the result stored before is published", o->id);
		goto out;
	}
	/* The intent is durable before the HSM is asked (see docs/reliability.md). */
	if (retry) {
		retry_of = last_attempt_seq(ag, o->id);
		log_warn("job %s: an earlier run was interrupted while signing it (record %llu); "
			 "signing it again",
		    o->id, (unsigned long long)retry_of);
		r = audit_job_event(ag, o, "retry", NULL, NULL, 0, retry_of);
	} else {
		r = audit_job_event(ag, o, "intent", NULL, NULL, 0, 0);
	}
	if (r != 0)
		goto out;
	asked = 1;
	if (hex_decode(o->id, 2 * HSM_JOB_LEN, sa.job, sizeof(sa.job)) != 0) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.format = o->job->format;
	req.mech = key->mech;
	req.digest = o->job->artifact.sha256;
	req.chain = key->chain;
	req.signing_time = sgtime_now();
	req.sign = sign_digest_cb;
	req.sign_arg = &sa;
	if (o->job->authenticode != NULL) {
		req.image_digest = o->job->authenticode->image_sha256;
		req.description = o->job->authenticode->description;
		req.url = o->job->authenticode->url;
	}
	req.pgp = key->pgp;
	req.openpgp = o->job->openpgp;
	req.pgp_created = o->job->created;
	if ((r = format_sign(&req, &o->sigfile, &o->sigfile_len)) != 0)
		goto out;
#ifdef SIGNET_TEST_HOOKS
	test_kill_after_sign();
#endif
	/* From here on the HSM has signed: the id is spent whatever happens. */
	replay_done(ag->replay, o->id, 1, o->job_sha256, key->name, o->job->expires);
	claimed = 0;
	/* No signature leaves without the timestamp its key asks for; one
	 * withheld is still recorded, for the signer's journal has it. */
	ts_r = timestamp_sigfile(key, o);
	if (ts_r != 0)
		o->code = SG_ERR_TIMESTAMP_FAILED;
	crypto_sha256(o->sigfile, o->sigfile_len, h);
	hex_encode(h, SHA256_LEN, sigsha);
	o->signer_seq = sa.seq;
	if ((r = b64_encode(o->sigfile, o->sigfile_len, &sig_b64)) != 0 ||
	    (r = audit_job_event(ag, o, "signature", sigsha, sig_b64, sa.seq, 0)) != 0) {
		log_error_r(r, "job %s: cannot record the signature; it is not released", o->id);
		r = SG_ERR_INTERNAL;
		goto out;
	}
	if (ts_r != 0) {
		o->code = 0;
		r = ts_r;
		goto out;
	}
	sig_file_name(o->job, name, sizeof(name));
	/* Written with the result (build_result): only its location now. */
	r = store_location(ag->store, key->name, o->id, name, &o->store_sig);
out:
	/* Not signed: the id is free again for this job (its next delivery);
	 * a retry that asked nothing of the HSM stays interrupted. */
	if (claimed && retry && !asked)
		replay_retry_end(ag->replay, o->id);
	else if (claimed)
		replay_done(ag->replay, o->id, 0, NULL, NULL, 0);
	free(sig_b64);
	return r;
}

/* Signs payload as a result envelope with the attestation key. */
static int
attest(struct agent *ag, const char *payload, size_t len, char **ret, size_t *ret_len)
{
	struct dsse_envelope *env = NULL;
	uint8_t *pae = NULL, dgst[SHA256_LEN], sig[HSM_SIG_MAX];
	size_t pae_len = 0, sig_len = 0;
	int r;

	if ((r = dsse_pae(PAYLOAD_TYPE_RESULT, (const uint8_t *)payload, len, &pae, &pae_len)) != 0)
		goto out;
	crypto_sha256(pae, pae_len, dgst);
	if ((r = hsm_sign_retry(
		 ag->hsm, ag->metrics, ag->attest_index, NULL, dgst, sig, &sig_len, NULL)) != 0)
		goto out;
	/* Fail closed: release no attestation that a submitter would refuse. */
	if (crypto_verify(ag->attest_pub, pae, pae_len, sig, sig_len) != 0) {
		r = SG_ERR_HSM_SIGN_FAILED;
		goto out;
	}
	if ((r = envelope_new(PAYLOAD_TYPE_RESULT, (const uint8_t *)payload, len, &env)) != 0 ||
	    (r = envelope_add_sig(env, ag->attest_keyid, sig, sig_len, NULL, 0)) != 0 ||
	    (r = envelope_serialize(env, ret, ret_len)) != 0)
		goto out;
	r = 0;
out:
	envelope_free(env);
	free(pae);
	return r;
}

/* The decision in the metrics, labelled only with names the configuration
 * knows (metrics.h): never a key or submitter name as the job wrote it. */
static void
count_decision(struct agent *ag, const struct outcome *o)
{
	const char *key = NULL;

	if (o->job != NULL && config_key_index(ag->cfg, o->job->key) >= 0)
		key = o->job->key;
	metrics_job(ag->metrics, o->code, key, o->sub_pinned ? o->sub : NULL, o->has_sub);
}

static void
log_decision(const struct outcome *o, const struct queue_entry *e)
{
	char name[LOG_FIELD_MAX + 8], keybuf[LOG_FIELD_MAX + 8], subbuf[LOG_FIELD_MAX + 8];
	char cibuf[CONFIG_NAME_MAX + 16];
	const char *code = o->code == 0 ? "-" : sg_err_code(o->code), *ci = "-";
	const char *detail = o->detail[0] != '\0' ? o->detail : o->ci.why;
	struct log_fields f;

	if (o->has_sub)
		log_escape(o->sub, strlen(o->sub), subbuf, sizeof(subbuf));

	if (o->job != NULL) {
		log_escape(
		    o->job->artifact.name, strlen(o->job->artifact.name), name, sizeof(name));
		log_escape(o->job->key, strlen(o->job->key), keybuf, sizeof(keybuf));
		/* Whose word the CI facts are: a verified token's, or the submitter's. */
		ci = "self-asserted";
		if (o->ci.verified != NULL) {
			snprintf(cibuf, sizeof(cibuf), "verified:%s", o->ci.verified->issuer_name);
			ci = cibuf;
		}
	}
	memset(&f, 0, sizeof(f));
	f.job = o->has_id || o->job ? o->id : NULL;
	f.entry = e->id;
	f.submitter = o->has_sub ? o->sub : NULL;
	f.keyid = o->has_sub ? o->keyid : NULL;
	f.status = sg_status_name(sg_err_status(o->code));
	f.code = o->code ? code : "";
	if (o->job != NULL) {
		f.key = o->job->key;
		f.artifact = o->job->artifact.name;
		f.sha256 = o->job->artifact.sha256_hex;
		f.format = sg_format_name(o->job->format);
		f.ci = ci;
	}
	f.has = LOG_HAS_DURATION_MS;
	f.duration_ms = (mono_us() - o->t0_us) / 1000;
	log_event(LOG_LEVEL_INFO, "decision", &f,
	    "job %s entry %s submitter %s key %s artifact %s sha256 %s ci %s: %s%s%s%s%s",
	    o->has_id || o->job ? o->id : "-", e->id, o->has_sub ? subbuf : "-",
	    o->job ? keybuf : "-", o->job ? name : "-", o->job ? o->job->artifact.sha256_hex : "-",
	    ci, sg_status_name(sg_err_status(o->code)), o->code ? " " : "", o->code ? code : "",
	    o->code && detail[0] ? ": " : "", o->code ? detail : "");
}

/* Audit record, result payload, attestation. */
static int
build_result(struct agent *ag, const struct queue_entry *e, struct outcome *o, char **ret_env,
    size_t *ret_env_len)
{
	const struct agent_key *key = o->key_index >= 0 ? &ag->cfg->keys[o->key_index] : NULL;
	struct audit_record rec;
	struct audit_receipt rc;
	struct sg_result res;
	char sigsha[SHA256_HEX_LEN + 1], expires[SGTIME_LEN + 1];
	char signame[ARTIFACT_NAME_MAX + 8];
	char *payload = NULL;
	size_t payload_len = 0, i;
	int r;

	memset(&rec, 0, sizeof(rec));
	memset(&res, 0, sizeof(res));
	memset(&rc, 0, sizeof(rc));
	rec.event = sg_status_name(sg_err_status(o->code));
	rec.id = o->has_id ? o->id : NULL;
	rec.entry = e->id;
	rec.submitter = o->has_sub ? o->sub : NULL;
	rec.keyid = o->has_sub ? o->keyid : NULL;
	rec.job_sha256 = o->job_sha256[0] ? o->job_sha256 : NULL;
	rec.code = sg_err_code(o->code);
	if (o->job != NULL) {
		rec.key = o->job->key;
		rec.ci = &o->job->ci;
		rec.format = sg_format_name(o->job->format);
		rec.artifact = o->job->artifact.name;
		rec.artifact_sha256 = o->job->artifact.sha256_hex;
		sgtime_format(o->job->expires, expires);
		rec.expires = expires;
	}
	if (o->sigfile != NULL) {
		uint8_t h[SHA256_LEN];
		crypto_sha256(o->sigfile, o->sigfile_len, h);
		hex_encode(h, SHA256_LEN, sigsha);
		rec.signature_sha256 = sigsha;
	}
	rec.ci_verified = o->ci.verified;
	/* A signed job's decision is durable before its result leaves: by the
	 * log's own sync, or by the store's when that covers the log (the
	 * store is written below, and every record up to this one is written
	 * before the store's sync starts). */
	rec.defer_sync = o->code == 0 && ag->decision_rides_store;
	if ((r = audit_append(ag->audit, &rec, o->code == 0, &rc)) != 0) {
		log_error_r(r, "cannot write the audit log; nothing is released");
		return r;
	}
	if (ag->attempts != NULL)
		attempts_end(ag->attempts, e->id); /* decided */
	res.audit_seq = rc.seq;
	hex_encode(rc.leaf, SHA256_LEN, res.audit_hash);
	if (o->code == 0) {
		res.audit_has_proof = 1;
		res.audit_tree_size = rc.seq;
		memcpy(res.audit_root, rc.root, SHA256_LEN);
		memcpy(res.audit_proof, rc.proof, sizeof(rc.proof));
		res.audit_nproof = rc.nproof;
		res.audit_record = rc.record;
		res.audit_record_len = rc.record_len;
		res.audit_checkpoints = (char *)(uintptr_t)ag->checkpoints;
	}
	r = 0;
	if (!o->has_id)
		goto out;

	memcpy(res.id, o->id, sizeof(res.id));
	res.status = sg_err_status(o->code);
	res.error = o->code;
	/* The detail names the value at fault (docs/errors.md) where policy gave one. */
	res.error_message = (char *)(uintptr_t)(o->code == 0 ? sg_strerror(o->code)
		: o->detail[0] != '\0'                       ? o->detail
		: o->ci.why[0] != '\0'                       ? o->ci.why
							     : sg_strerror(o->code));
	memcpy(res.job_sha256, o->job_sha256, sizeof(res.job_sha256));
	res.agent = ag->cfg->name;
	if (o->has_sub)
		res.submitter = o->sub;
	if (o->job != NULL) {
		res.key = o->job->key;
		res.format = (char *)(uintptr_t)sg_format_name(o->job->format);
		res.has_artifact = 1;
		res.artifact = o->job->artifact;
		res.ci = o->job->ci;
		res.note = o->job->note;
		res.expires = o->job->expires;
	}
	/* A key with approvals: who approved (docs/approvals.md). */
	if (o->has_approvals) {
		res.has_approvals = 1;
		memcpy(res.approvals, o->approvals, o->napprovals * sizeof(o->approvals[0]));
		res.napprovals = o->napprovals;
	}
	if (o->code == 0) {
		res.signature.data = o->sigfile;
		res.signature.len = o->sigfile_len;
		for (i = 0; i < key->nchain && i < RESULT_CERTS_MAX; i++) {
			res.certs[i].data = key->chain_der[i];
			res.certs[i].len = key->chain_der_len[i];
		}
		res.ncerts = i;
		res.signed_at = sgtime_now();
		res.store_signature = o->store_sig;
		if (asprintf(&o->store_result, "%.*s/result.json",
			(int)(strrchr(o->store_sig, '/') - o->store_sig), o->store_sig) == -1) {
			o->store_result = NULL;
			r = SG_ERR_ALLOC;
			goto out;
		}
		res.store_result = o->store_result;
		res.has_timestamp = o->has_ts;
		res.timestamp_time = o->ts_time;
		res.timestamp_tsa = o->ts_tsa;
	}
	if ((r = result_serialize(&res, &payload, &payload_len)) != 0)
		goto out;
	if ((r = attest(ag, payload, payload_len, ret_env, ret_env_len)) != 0) {
		log_error_r(r, "cannot sign the result of job %s", o->id);
		goto out;
	}
	if (o->code == 0) {
		/* The signature file and the result, published together; the
		 * result names where the signature file is. */
		struct store_object objs[2];

		sig_file_name(o->job, signame, sizeof(signame));
		objs[0] = (struct store_object){ signame, o->sigfile, o->sigfile_len };
		objs[1] = (struct store_object){ "result.json", *ret_env, *ret_env_len };
		if ((r = store_put_job(ag->store, key->name, o->id, objs, nitems(objs))) != 0) {
			free(*ret_env);
			*ret_env = NULL;
			goto out;
		}
		if (rec.defer_sync)
			audit_made_durable(ag->audit, rc.seq);
	}
	free(o->payload);
	o->payload = payload;
	o->payload_len = payload_len;
	payload = NULL;
	r = 0;
out:
	free(payload);
	free(rc.record);
	return r;
}

/* The "received" record: an entry taken from the stream, before any
 * parsing (it may be hostile; only its hash and id are written). */
static int
audit_received(struct agent *ag, const struct queue_entry *e)
{
	struct audit_record rec;
	char sha[SHA256_HEX_LEN + 1];
	uint8_t h[SHA256_LEN];

	memset(&rec, 0, sizeof(rec));
	rec.event = "received";
	rec.entry = e->id;
	if (e->env != NULL) {
		crypto_sha256(e->env, e->env_len, h);
		hex_encode(h, SHA256_LEN, sha);
		rec.envelope_sha256 = sha;
	}
	rec.defer_sync = 1; /* the decision's sync covers it */
	return audit_append(ag->audit, &rec, 0, NULL);
}

/* The key of this job in the policy in force, when it requires approvals;
 * cfg is held until put_cfg(). */
static const struct agent_key *
approval_key(struct agent *ag, const char *name, const struct agent_config **cfg)
{
	long k;

	*cfg = ag->live != NULL ? config_live_get(ag->live) : ag->cfg;
	if (name == NULL || (k = config_key_index(*cfg, name)) < 0 ||
	    (*cfg)->keys[k].approvals_required == 0)
		return NULL;
	return &(*cfg)->keys[k];
}

static void
put_cfg(struct agent *ag, const struct agent_config *cfg)
{
	if (ag->live != NULL)
		config_live_put(ag->live, cfg);
}

/* The "published" record, and the webhooks, once the result is out. */
static void
announce(struct agent *ag, const struct queue_entry *e, const struct outcome *o)
{
	const char *event = sg_status_name(sg_err_status(o->code));
	struct audit_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.event = "published";
	rec.id = o->id;
	rec.entry = e->id;
	rec.code = sg_err_code(o->code);
	rec.location = o->store_result;
	rec.defer_sync = 1; /* nothing waits on it; the next sync takes it */
	if (audit_append(ag->audit, &rec, 0, NULL) != 0)
		log_warn("job %s: cannot record its publication in the audit log", o->id);
	if (ag->attempts != NULL)
		attempts_end(ag->attempts, e->id);
	if (ag->webhooks != NULL && o->payload != NULL)
		(void)webhooks_notify(ag->webhooks, event, o->job != NULL ? o->job->key : NULL,
		    o->id, o->payload, o->payload_len);
	/* The approvers told of a pending job hear how it ended. */
	if (ag->webhooks != NULL && o->payload != NULL && o->job != NULL) {
		const struct agent_config *cfg;
		const struct agent_key *k = approval_key(ag, o->job->key, &cfg);
		struct sg_result *res = NULL;

		if (k != NULL &&
		    (o->has_approvals || o->code == SG_ERR_APPROVAL_DENIED ||
			o->code == SG_ERR_APPROVAL_EXPIRED) &&
		    result_parse((const uint8_t *)o->payload, o->payload_len, &res) == 0)
			approvals_notify(
			    ag, k, "approval.decided", res, o->payload, o->payload_len);
		result_free(res);
		put_cfg(ag, cfg);
	}
}

/* ---- Approvals (docs/approvals.md) ---- */

/* Copies the approvals of res that count under k into o (for the signed
 * result). */
static int
take_approvals(struct outcome *o, const struct agent_key *k, const struct sg_result *res)
{
	size_t i;

	for (i = 0; i < res->napprovals && o->napprovals < RESULT_APPROVALS_MAX; i++) {
		const struct sg_result_approval *a = &res->approvals[i];
		struct sg_result_approval *c = &o->approvals[o->napprovals];

		if (!config_is_approver(k, a->approver) ||
		    (res->submitter != NULL && strcmp(a->approver, res->submitter) == 0))
			continue;
		if ((c->approver = strdup(a->approver)) == NULL ||
		    (a->comment != NULL && (c->comment = strdup(a->comment)) == NULL)) {
			free(c->approver);
			c->approver = NULL;
			return SG_ERR_ALLOC;
		}
		memcpy(c->keyid, a->keyid, sizeof(c->keyid));
		c->at = a->at;
		o->napprovals++;
	}
	o->has_approvals = 1;
	return 0;
}

/*
 * The pending result of job o (docs/approvals.md): the job's facts, the
 * approvals in `prev` (a pending result read before, or NULL) with `add`
 * appended, the refusals of prev with `refuse` appended (the oldest
 * dropped past RESULT_REFUSED_MAX), the webhooks told, and the stream
 * entry.  Attested into *ret_env; its payload in *ret_payload.
 */
static int
build_pending(struct agent *ag, const struct agent_key *k, const struct outcome *o,
    const struct sg_result *prev, const struct sg_result_approval *add,
    const struct sg_result_refusal *refuse, const char *entry, char **ret_env, size_t *ret_env_len,
    char **ret_payload, size_t *ret_payload_len)
{
	struct sg_result res;
	size_t i, skip;
	int r;

	memset(&res, 0, sizeof(res));
	memcpy(res.id, o->id, sizeof(res.id));
	memcpy(res.job_sha256, o->job_sha256, sizeof(res.job_sha256));
	res.status = SG_STATUS_PENDING;
	res.agent = ag->cfg->name;
	res.submitter = (char *)(uintptr_t)o->sub;
	res.key = o->job->key;
	res.format = (char *)(uintptr_t)sg_format_name(o->job->format);
	res.has_artifact = 1;
	res.artifact = o->job->artifact;
	res.ci = o->job->ci;
	res.note = o->job->note;
	res.expires = o->job->expires;
	res.approvals_required = k->approvals_required;
	if (prev != NULL) {
		for (i = 0; i < prev->napprovals && res.napprovals < RESULT_APPROVALS_MAX; i++)
			res.approvals[res.napprovals++] = prev->approvals[i];
		skip = refuse != NULL && prev->nrefused == RESULT_REFUSED_MAX ? 1 : 0;
		for (i = skip; i < prev->nrefused; i++)
			res.refused[res.nrefused++] = prev->refused[i];
	}
	if (add != NULL) {
		if (res.napprovals == RESULT_APPROVALS_MAX)
			return SG_ERR_LIMIT;
		res.approvals[res.napprovals++] = *add;
	}
	if (refuse != NULL && res.nrefused < RESULT_REFUSED_MAX)
		res.refused[res.nrefused++] = *refuse;
	for (i = 0; i < k->napproval_notify && i < RESULT_NOTIFIED_MAX; i++)
		res.notified[res.nnotified++] = k->approval_notify[i];
	res.entry = (char *)(uintptr_t)entry;
	/* Owned by o, prev and k: nothing of res is freed here. */
	if ((r = result_serialize(&res, ret_payload, ret_payload_len)) != 0)
		return r;
	if ((r = attest(ag, *ret_payload, *ret_payload_len, ret_env, ret_env_len)) != 0) {
		free(*ret_payload);
		*ret_payload = NULL;
	}
	return r;
}

/* The "pending" record: the job waits for approvals (a decision that
 * sends nothing but the pending result). */
static int
audit_pending(struct agent *ag, const struct outcome *o, const struct queue_entry *e,
    const struct agent_key *k, size_t counted, int sync)
{
	struct audit_record rec;
	char expires[SGTIME_LEN + 1];

	memset(&rec, 0, sizeof(rec));
	rec.event = "pending";
	rec.id = o->id;
	rec.entry = e->id;
	rec.submitter = o->sub;
	rec.keyid = o->keyid;
	rec.job_sha256 = o->job_sha256;
	rec.key = o->job->key;
	rec.format = sg_format_name(o->job->format);
	rec.artifact = o->job->artifact.name;
	rec.artifact_sha256 = o->job->artifact.sha256_hex;
	rec.ci_verified = o->ci.verified;
	rec.ci = &o->job->ci;
	rec.approvals_required = (int)k->approvals_required;
	rec.approvals_received = (int)counted;
	sgtime_format(o->job->expires, expires);
	rec.expires = expires;
	rec.defer_sync = !sync;
	return audit_append(ag->audit, &rec, 0, NULL);
}

/*
 * A job of a key that requires approvals, once everything else allowed it:
 * 0 when its approvals are in (o->approvals lists them: sign it now),
 * GATE_PENDING when it waits (its pending result written or already
 * there; its entry stays unacknowledged and is kept alive here),
 * GATE_DONE when the queue already holds its decision or another entry
 * of it waits, SG_ERR_JOB_REPLAYED when another job holds the id, or the
 * queue's error.
 */
static int
gate(struct agent *ag, struct queue *q, const struct queue_entry *e, struct outcome *o,
    const struct agent_key *k)
{
	const struct sg_result *res;
	char *env = NULL, *payload = NULL, desc[256];
	size_t env_len = 0, payload_len = 0, counted = 0;
	int r, tries, fresh = 0;

	for (tries = 0; tries < CAS_TRIES; tries++) {
		held_clear(&o->held);
		if ((r = held_read(ag, q, o->id, &o->held)) != 0)
			return r;
		res = o->held.res;
		if (res != NULL && strcmp(res->job_sha256, o->job_sha256) != 0) {
			if (res->status == SG_STATUS_SIGNED || res->status == SG_STATUS_PENDING) {
				snprintf(o->detail, sizeof(o->detail),
				    "job id %s belongs to another job (%s in the queue)", o->id,
				    sg_status_name(res->status));
				return SG_ERR_JOB_REPLAYED;
			}
			res = NULL; /* a rejection of another envelope: it gives way */
		}
		if (res != NULL && res->status != SG_STATUS_PENDING) {
			log_info("job %s entry %s: decided before (%s); acknowledged", o->id, e->id,
			    sg_status_name(res->status));
			return GATE_DONE;
		}
		if (res != NULL) {
			struct queue_entry *other = NULL;

			counted = approvals_counted(k, res);
			if (strcmp(res->entry, e->id) != 0) {
				/* Another entry of the same job waits already. */
				r = queue_get_entry(q, res->entry, &other);
				queue_entries_free(other, other != NULL ? 1 : 0);
				if (r == 0) {
					log_info("job %s entry %s: the same job waits as entry %s; "
						 "acknowledged",
					    o->id, e->id, res->entry);
					return GATE_DONE;
				}
				if (r != SG_ERR_NOT_FOUND)
					return r;
				/* Its entry is gone: this one takes its place. */
			} else if (counted >= k->approvals_required) {
				return take_approvals(o, k, res);
			} else {
				approvals_describe(res, counted, desc, sizeof(desc));
				log_info("job %s entry %s: waiting for approvals: %s", o->id, e->id,
				    desc);
				break; /* nothing to write */
			}
		}
		fresh = res == NULL;
		if (fresh && tries == 0 && (r = audit_pending(ag, o, e, k, 0, 1)) != 0) {
			log_error_r(r, "cannot write the audit log; job %s left pending", o->id);
			return r;
		}
		free(env);
		free(payload);
		env = payload = NULL;
		if ((r = build_pending(ag, k, o, res, NULL, NULL, e->id, &env, &env_len, &payload,
			 &payload_len)) != 0) {
			log_error_r(r, "job %s: cannot build its pending result", o->id);
			goto out;
		}
		if (o->held.env == NULL)
			r = queue_put_result(q, o->id, env, env_len, ag->cfg->result_ttl, 1);
		else
			r = queue_replace_result(q, o->id, env, env_len, ag->cfg->result_ttl,
			    o->held.env, o->held.env_len);
		if (r == SG_ERR_EXISTS)
			continue; /* it changed meanwhile: read it again */
		if (r != 0)
			goto out;
		if (fresh) {
			struct sg_result *pr = NULL;
			struct log_fields f;

			memset(&f, 0, sizeof(f));
			f.job = o->id;
			f.entry = e->id;
			f.submitter = o->sub;
			f.key = k->name;
			f.artifact = o->job->artifact.name;
			f.sha256 = o->job->artifact.sha256_hex;
			f.format = sg_format_name(o->job->format);
			f.status = "pending";
			f.has = LOG_HAS_DURATION_MS | LOG_HAS_REQUIRED | LOG_HAS_APPROVALS;
			f.duration_ms = (mono_us() - o->t0_us) / 1000;
			f.required = k->approvals_required;
			f.approvals = 0;
			log_event(LOG_LEVEL_INFO, "pending", &f,
			    "job %s entry %s submitter %s key %s artifact %s: waiting for %u "
			    "approvals",
			    o->id, e->id, o->sub, k->name, o->job->artifact.name,
			    k->approvals_required);
			if (result_parse((const uint8_t *)payload, payload_len, &pr) == 0)
				approvals_notify(
				    ag, k, "approval.requested", pr, payload, payload_len);
			result_free(pr);
		}
		break;
	}
	if (tries == CAS_TRIES) {
		r = SG_ERR_QUEUE_PROTOCOL; /* the result keeps changing: try again later */
		goto out;
	}
	if (!fresh && (r = audit_pending(ag, o, e, k, counted, 0)) != 0)
		goto out;
	if (ag->attempts != NULL)
		attempts_end(ag->attempts, e->id);
	if (pending_add(ag->pending, e->id, o->job->expires) != 0)
		log_warn("job %s: too many pending jobs here; entry %s is left to reclaim", o->id,
		    e->id);
	o->pending = 1;
	r = GATE_PENDING;
out:
	free(env);
	free(payload);
	return r;
}

/* The "approval" record: one approver's decision, counted or not (why). */
static int
audit_approval(struct agent *ag, const struct queue_entry *e, const struct sg_approval *a,
    const char *keyid, const char *approver, const char *key, const char *ignored)
{
	struct audit_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.event = "approval";
	rec.entry = e->id;
	rec.keyid = keyid;
	rec.approver = approver;
	rec.ignored = ignored;
	if (a != NULL) {
		rec.id = a->id;
		rec.job_sha256 = a->job_sha256;
		rec.decision = approval_decision_name(a->decision);
		rec.comment = a->comment;
	}
	rec.key = key;
	rec.defer_sync = ignored != NULL;
	return audit_append(ag->audit, &rec, 0, NULL);
}

static int process_entry(struct agent *ag, struct queue *q, const struct queue_entry *e,
    int *received, const struct deny *deny);

/* Takes the job of a pending result up again now (its approvals are in, or
 * one denied it): read from the stream, decided as at first. */
static int
resume_job(struct agent *ag, struct queue *q, const char *entry, const struct deny *deny)
{
	struct queue_entry *je = NULL;
	int r, received = 0;

	if ((r = queue_get_entry(q, entry, &je)) == SG_ERR_NOT_FOUND) {
		log_warn("entry %s of a pending job is gone from the stream", entry);
		return 0;
	}
	if (r != 0)
		return r;
	r = process_entry(ag, q, je, &received, deny);
	queue_entries_free(je, 1);
	return r;
}

/* The facts of an approval entry's line (log_event "approval"). */
static void
approval_fields(struct log_fields *f, const struct queue_entry *e, const char *job, const char *who,
    const char *keyid, const char *key, const char *status)
{
	memset(f, 0, sizeof(*f));
	f->job = job;
	f->entry = e->id;
	f->approver = who != NULL && who[0] != '\0' ? who : NULL;
	f->keyid = keyid;
	f->key = key != NULL && key[0] != '\0' ? key : NULL;
	f->status = status;
}

/*
 * An approval entry: who signed it (a known identity, as for jobs), what it
 * says, and whether it counts (docs/approvals.md).  Counted approvals and
 * refusals by known identities are written into the job's pending result
 * (compare-and-set, so that concurrent approvals are never lost); with
 * enough approvals, or a denial, the job is decided at once.  The entry is
 * acknowledged at the end; never a result under its id.
 */
static int
process_approval(struct agent *ag, struct queue *q, const struct queue_entry *e, struct outcome *o)
{
	const struct dsse_envelope *env = o->approval_env;
	const struct dsse_sig *sig = &env->sigs[0];
	const struct agent_config *cfg;
	const struct agent_key *k = NULL;
	const struct agent_submitter *sub;
	struct policy_cert_identity cid;
	struct sg_approval *a = NULL;
	struct held h;
	X509 *cert = NULL;
	char who[POLICY_IDENTITY_MAX + 1] = "", why[POLICY_WHY_MAX] = "", desc[256];
	struct log_fields f;
	char *penv = NULL, *payload = NULL, keyname[JOB_KEY_MAX + 1] = "", resume[72] = "";
	size_t penv_len = 0, payload_len = 0, counted;
	int64_t now = sgtime_now();
	int r = 0, tries, refused = 0, deny = 0;

	memset(&h, 0, sizeof(h));
	cfg = ag->live != NULL ? config_live_get(ag->live) : ag->cfg;
	if (sig->cert != NULL) {
		if ((r = cert_signer(cfg, env, now, &cert, &cid)) != 0) {
			snprintf(why, sizeof(why), "signer certificate: %s", sg_strerror(r));
			goto ignore;
		}
		snprintf(who, sizeof(who), "%s", cid.identity);
		if (policy_revoked(cfg, sig->keyid, cid.serial)) {
			snprintf(why, sizeof(why), "approver %s is revoked", who);
			goto ignore;
		}
	} else {
		if ((sub = config_submitter_by_keyid(cfg, sig->keyid)) == NULL) {
			snprintf(why, sizeof(why), "no identity has keyid %s", sig->keyid);
			goto ignore;
		}
		if (crypto_dsse_verify(sub->pub, env->payload_type, env->payload, env->payload_len,
			sig->sig, sig->sig_len) != 0) {
			snprintf(why, sizeof(why), "the signature does not verify with %s's key",
			    sub->name);
			goto ignore;
		}
		snprintf(who, sizeof(who), "%s", sub->name);
		if (policy_revoked(cfg, sig->keyid, NULL)) {
			snprintf(why, sizeof(why), "approver %s is revoked", who);
			goto ignore;
		}
	}
	if ((r = approval_parse(env->payload, env->payload_len, &a)) != 0) {
		snprintf(why, sizeof(why), "not a valid approval (docs/approvals.md)");
		goto ignore;
	}
	if (a->created > now + APPROVAL_CLOCK_SKEW_S) {
		snprintf(why, sizeof(why), "created %lld s in the agent's future",
		    (long long)(a->created - now));
		goto ignore;
	}
	for (tries = 0; tries < CAS_TRIES; tries++) {
		const struct sg_result *res;
		struct sg_result_approval add;
		struct sg_result_refusal ref;

		held_clear(&h);
		if ((r = held_read(ag, q, a->id, &h)) != 0)
			goto out;
		if ((res = h.res) == NULL) {
			snprintf(why, sizeof(why), "no pending job %s", a->id);
			goto ignore;
		}
		if (res->status != SG_STATUS_PENDING) {
			snprintf(why, sizeof(why), "job %s is decided already (%s)", a->id,
			    sg_status_name(res->status));
			goto ignore;
		}
		if (strcmp(res->job_sha256, a->job_sha256) != 0) {
			snprintf(
			    why, sizeof(why), "it names another job_sha256 than job %s's", a->id);
			goto ignore;
		}
		snprintf(keyname, sizeof(keyname), "%s", res->key);
		snprintf(resume, sizeof(resume), "%s", res->entry);
		k = NULL;
		if (config_key_index(cfg, res->key) >= 0)
			k = &cfg->keys[config_key_index(cfg, res->key)];
		if (k == NULL || k->approvals_required == 0) {
			snprintf(why, sizeof(why), "key %s requires no approvals now", res->key);
			goto ignore; /* the job's next look decides it without */
		}
		counted = approvals_counted(k, res);
		refused = 1;
		if (res->submitter != NULL && strcmp(who, res->submitter) == 0)
			snprintf(why, sizeof(why), "%s submitted job %s and cannot approve it", who,
			    a->id);
		else if (!config_is_approver(k, who))
			snprintf(why, sizeof(why), "%s is not an approver of key %s", who, k->name);
		else
			refused = 0;
		if (!refused && a->decision == SG_DECISION_DENY) {
			deny = 1;
			break;
		}
		if (!refused) {
			size_t i;

			for (i = 0; i < res->napprovals; i++)
				if (strcmp(res->approvals[i].approver, who) == 0)
					break;
			if (i < res->napprovals) {
				snprintf(why, sizeof(why),
				    "%s's approval of job %s is counted already", who, a->id);
				if (audit_approval(ag, e, a, sig->keyid, who, keyname, why) != 0)
					log_warn("cannot record an approval in the audit log");
				approval_fields(&f, e, a->id, who, sig->keyid, keyname, "ignored");
				log_event(LOG_LEVEL_INFO, "approval", &f, "approval entry %s: %s",
				    e->id, why);
				if (counted >= k->approvals_required)
					goto resume; /* a crash may have come between */
				goto ack;
			}
		}
		if (tries == 0 && !refused &&
		    (r = audit_approval(ag, e, a, sig->keyid, who, keyname, NULL)) != 0) {
			log_error_r(
			    r, "cannot write the audit log; approval entry %s left pending", e->id);
			goto out;
		}
		memset(&add, 0, sizeof(add));
		memset(&ref, 0, sizeof(ref));
		if (refused) {
			snprintf(ref.keyid, sizeof(ref.keyid), "%s", sig->keyid);
			ref.approver = who;
			ref.why = why;
			ref.at = now;
		} else {
			add.approver = who;
			snprintf(add.keyid, sizeof(add.keyid), "%s", sig->keyid);
			add.at = now;
			add.comment = a->comment;
		}
		/* The job's facts come from the pending result itself. */
		{
			struct sg_job job;
			struct outcome po;

			memset(&job, 0, sizeof(job));
			memset(&po, 0, sizeof(po));
			job.key = res->key;
			job.format = SG_FORMAT_RAW;
			if (sg_format_parse(res->format, &job.format) != 0)
				job.format = SG_FORMAT_RAW;
			job.artifact = res->artifact;
			job.ci = res->ci;
			job.note = res->note;
			job.expires = res->expires;
			memcpy(po.id, res->id, sizeof(po.id));
			memcpy(po.job_sha256, res->job_sha256, sizeof(po.job_sha256));
			snprintf(po.sub, sizeof(po.sub), "%s", res->submitter);
			po.job = &job;
			free(penv);
			free(payload);
			penv = payload = NULL;
			r = build_pending(ag, k, &po, res, refused ? NULL : &add,
			    refused ? &ref : NULL, res->entry, &penv, &penv_len, &payload,
			    &payload_len);
		}
		if (r != 0)
			goto out;
		r = queue_replace_result(
		    q, a->id, penv, penv_len, ag->cfg->result_ttl, h.env, h.env_len);
		if (r == SG_ERR_EXISTS)
			continue;
		if (r != 0)
			goto out;
		if (refused) {
			approval_fields(&f, e, a->id, who, sig->keyid, keyname, "refused");
			log_event(LOG_LEVEL_INFO, "approval", &f,
			    "approval entry %s: not counted: %s", e->id, why);
			if (audit_approval(ag, e, a, sig->keyid, who, keyname, why) != 0)
				log_warn("cannot record an approval in the audit log");
			goto ack;
		}
		counted++;
		if (counted > k->approvals_required)
			counted = k->approvals_required;
		snprintf(desc, sizeof(desc), "%zu of %u", counted, k->approvals_required);
		approval_fields(&f, e, a->id, who, sig->keyid, keyname, "approved");
		f.has = LOG_HAS_APPROVALS | LOG_HAS_REQUIRED;
		f.approvals = (int64_t)counted;
		f.required = k->approvals_required;
		log_event(LOG_LEVEL_INFO, "approval", &f, "job %s: approved by %s (%s)", a->id, who,
		    desc);
		if (counted >= k->approvals_required)
			goto resume;
		goto ack;
	}
	if (tries == CAS_TRIES) {
		r = SG_ERR_QUEUE_PROTOCOL;
		goto out;
	}
	/* A denial: recorded, then the job is rejected at once. */
	if (deny) {
		struct deny d = { who, sig->keyid, a->comment };

		if ((r = audit_approval(ag, e, a, sig->keyid, who, keyname, NULL)) != 0) {
			log_error_r(
			    r, "cannot write the audit log; approval entry %s left pending", e->id);
			goto out;
		}
		approval_fields(&f, e, a->id, who, sig->keyid, keyname, "denied");
		log_event(LOG_LEVEL_INFO, "approval", &f, "job %s: denied by %s", a->id, who);
		put_cfg(ag, cfg);
		cfg = NULL;
		if ((r = resume_job(ag, q, resume, &d)) != 0)
			goto out;
		goto ack;
	}
resume:
	put_cfg(ag, cfg);
	cfg = NULL;
	if ((r = resume_job(ag, q, resume, NULL)) != 0)
		goto out;
	goto ack;
ignore:
	approval_fields(&f, e, a != NULL ? a->id : NULL, who, sig->keyid, keyname, "ignored");
	log_event(LOG_LEVEL_INFO, "approval", &f, "approval entry %s (keyid %s): no effect: %s",
	    e->id, sig->keyid, why);
	if ((r = audit_approval(ag, e, a, sig->keyid, who[0] ? who : NULL,
		 keyname[0] ? keyname : NULL, why)) != 0) {
		log_error_r(r, "cannot write the audit log; approval entry %s left pending", e->id);
		goto out;
	}
ack:
	if ((r = queue_ack(q, e->id)) == 0 && ag->attempts != NULL)
		attempts_end(ag->attempts, e->id);
out:
	if (cfg != NULL)
		put_cfg(ag, cfg);
	X509_free(cert);
	approval_free(a);
	held_clear(&h);
	free(penv);
	free(payload);
	return r;
}

/*
 * A rejection goes in with NX; a pending result of this very job gives way
 * to it (compare-and-set over the value read).  Anything else there stays.
 */
static int
put_rejection(struct agent *ag, struct queue *q, struct outcome *o, const char *env, size_t len)
{
	int r, tries;

	for (tries = 0; tries < CAS_TRIES; tries++) {
		r = queue_put_result(q, o->id, env, len, ag->cfg->result_ttl, 1);
		if (r != SG_ERR_EXISTS)
			return r;
		held_clear(&o->held);
		if ((r = held_read(ag, q, o->id, &o->held)) != 0)
			return r;
		if (o->held.env == NULL)
			continue; /* gone meanwhile */
		if (!held_is_pending_for(&o->held, o->job_sha256))
			return 0; /* a result was there first; a rejection never replaces it */
		r = queue_replace_result(
		    q, o->id, env, len, ag->cfg->result_ttl, o->held.env, o->held.env_len);
		if (r != SG_ERR_EXISTS)
			return r;
	}
	return SG_ERR_QUEUE_PROTOCOL;
}

/* A job of a key with approvals that expired while it waited: it is
 * approval.expired, not job.expired (the submitter asked in time). */
static int
expired_while_pending(struct agent *ag, struct queue *q, struct outcome *o)
{
	const struct agent_config *cfg;
	const struct agent_key *k = approval_key(ag, o->job->key, &cfg);
	char desc[256], x[SGTIME_LEN + 1];
	int r = 0;

	if (k == NULL)
		goto out;
	held_clear(&o->held);
	if ((r = held_read(ag, q, o->id, &o->held)) != 0 ||
	    !held_is_pending_for(&o->held, o->job_sha256))
		goto out;
	approvals_describe(o->held.res, approvals_counted(k, o->held.res), desc, sizeof(desc));
	sgtime_format(o->job->expires, x);
	snprintf(o->detail, sizeof(o->detail),
	    "job %s expired at %s while waiting for approvals: %s", o->id, x, desc);
	o->code = SG_ERR_APPROVAL_EXPIRED;
	if (take_approvals(o, k, o->held.res) != 0)
		o->napprovals = 0;
out:
	put_cfg(ag, cfg);
	return r;
}

/* How long a released job's claim stays: until the job expires, after
 * which it cannot be signed anyway. */
static int64_t
claim_done_ttl(const struct outcome *o)
{
	int64_t ttl = o->job->expires + JOB_CLOCK_SKEW_S - sgtime_now();

	return ttl > 0 ? ttl : 1;
}

/*
 * Whether the job's claim is still this process's: WATCH and GET it in one
 * round trip, and when it is, the connection keeps the WATCH for the
 * release's transaction (o->watching: release() or queue_unwatch() before
 * anything else is sent on q).  The reader thread refreshes the claims of
 * the jobs in work meanwhile; a refresh between the WATCH and the EXEC
 * makes the release look again (release()).  Taken again if it expired
 * (nobody holds it: no other process signed and released the job, for a
 * release leaves a done claim behind).  0, or SG_ERR_EXISTS with the
 * holder in o->claim_owner, or the queue's error.
 */
static int
claim_still_ours(struct agent *ag, struct queue *q, struct outcome *o)
{
	int r = queue_watch_claim(q, o->id, ag->consumer, o->claim_owner, sizeof(o->claim_owner));

	if (r == 0) {
		o->watching = 1;
		return 0;
	}
	if (r != SG_ERR_NOT_FOUND)
		return r;
	return queue_claim_job(
	    q, o->id, ag->consumer, ag->cfg->reclaim_after, o->claim_owner, sizeof(o->claim_owner));
}

/* Releases a signed result and acknowledges entry e in one transaction,
 * while the job's claim is this process's (see claim_still_ours());
 * SG_ERR_EXISTS with the holder in o->claim_owner: nothing released, the
 * entry left as it was. */
static int
release(struct agent *ag, struct queue *q, struct outcome *o, const struct queue_entry *e,
    const char *env, size_t len)
{
	int r, tries;

	for (tries = 0; tries < 3; tries++) {
		/* Under the claim check's WATCH, one round trip; else WATCH and
		 * GET first. */
		r = (o->watching ? queue_release_watched : queue_release_result)(q, o->id, e->id,
		    env, len, ag->cfg->result_ttl, ag->consumer, claim_done_ttl(o), o->claim_owner,
		    sizeof(o->claim_owner));
		o->watching = 0;
		if (r != SG_ERR_EXISTS)
			return r;
		/* Changed between the WATCH and the EXEC (the reader thread's
		 * refresh of the claim, say): looked at again. */
		if (strcmp(o->claim_owner, "?") == 0)
			continue;
		if (strcmp(o->claim_owner, "-") != 0)
			return r;
		/* Expired (Redis was out of reach for reclaim_after, say). */
		if ((r = claim_still_ours(ag, q, o)) != 0)
			return r;
	}
	return SG_ERR_EXISTS;
}

/*
 * A signature made here whose job's claim another process holds now (this
 * one stalled past reclaim_after and was taken over): it is not released.
 * The "withheld" record accounts for it (its signature record is there);
 * the entry is left to the claim's owner, unacknowledged.
 */
static int
withhold(struct agent *ag, const struct queue_entry *e, struct outcome *o, const char *why)
{
	struct audit_record rec;
	char sigsha[SHA256_HEX_LEN + 1], expires[SGTIME_LEN + 1];
	uint8_t h[SHA256_LEN];
	int r;

	log_warn("job %s entry %s: its claim was %s: the signature made here is withheld, the "
		 "job is left to the claim's owner",
	    o->id, e->id, why);
	memset(&rec, 0, sizeof(rec));
	rec.event = "withheld";
	rec.id = o->id;
	rec.entry = e->id;
	rec.submitter = o->has_sub ? o->sub : NULL;
	rec.keyid = o->has_sub ? o->keyid : NULL;
	rec.job_sha256 = o->job_sha256;
	rec.key = o->job->key;
	if (o->sigfile != NULL) {
		crypto_sha256(o->sigfile, o->sigfile_len, h);
		hex_encode(h, SHA256_LEN, sigsha);
		rec.signature_sha256 = sigsha;
	}
	rec.signer_seq = o->signer_seq;
	sgtime_format(o->job->expires, expires);
	rec.expires = expires;
	if ((r = audit_append(ag->audit, &rec, 0, NULL)) != 0) {
		log_error_r(r, "cannot write the audit log; entry %s left pending", e->id);
		return r;
	}
	if (o->quota_taken)
		quota_give_back(ag->quota, o->sub, o->quota_key, o->quota_time);
	o->quota_taken = 0;
	if (ag->attempts != NULL)
		attempts_end(ag->attempts, e->id);
	pending_remove(ag->pending, e->id);
	return 0;
}

static int
process_entry(struct agent *ag, struct queue *q, const struct queue_entry *e, int *received,
    const struct deny *deny)
{
	struct outcome o;
	char *env = NULL;
	size_t env_len = 0;
	int r, acked;

	memset(&o, 0, sizeof(o));
	o.key_index = -1;
	o.t0_us = mono_us();
	o.deliveries = e->deliveries;
	if (!*received) {
		if ((r = audit_received(ag, e)) != 0) {
			log_error_r(r, "cannot write the audit log; entry %s left pending", e->id);
			return r;
		}
		*received = 1;
		if (ag->attempts != NULL)
			(void)attempts_begin(ag->attempts, e->id);
	}
	o.code = decide(ag, e, &o);
	if (o.code == DECIDE_APPROVAL) {
		r = process_approval(ag, q, e, &o);
		goto out;
	}
	if (o.code == 0 && deny != NULL) {
		o.code = SG_ERR_APPROVAL_DENIED;
		snprintf(o.detail, sizeof(o.detail), "denied by %s (%s)%s%s", deny->approver,
		    deny->keyid, deny->comment != NULL ? ": " : "",
		    deny->comment != NULL ? deny->comment : "");
	} else if (o.code == 0 && o.needs_approvals) {
		/* Only these jobs look at the approvals (and their policy again). */
		const struct agent_config *cfg;
		const struct agent_key *k = approval_key(ag, o.job->key, &cfg);

		r = k != NULL ? gate(ag, q, e, &o, k) : 0;
		put_cfg(ag, cfg);
		if (r == GATE_DONE) {
			if (o.quota_taken)
				quota_give_back(ag->quota, o.sub, o.quota_key, o.quota_time);
			if ((r = queue_ack(q, e->id)) == 0 && ag->attempts != NULL)
				attempts_end(ag->attempts, e->id);
			goto out;
		}
		if (r == GATE_PENDING) {
			if (o.quota_taken)
				quota_give_back(ag->quota, o.sub, o.quota_key, o.quota_time);
			r = 0;
			goto out;
		}
		o.code = r;
	} else if (o.code == SG_ERR_JOB_EXPIRED && o.job != NULL) {
		if ((r = expired_while_pending(ag, q, &o)) != 0)
			o.code = r;
	}
	if (o.code == 0)
		o.code = sign_job(ag, q, &o);
	if (o.code == CLAIM_DONE) {
		char *held = NULL;
		size_t held_len = 0;

		if ((r = queue_get_result(q, o.id, &held, &held_len)) != SG_ERR_NOT_FOUND) {
			free(held);
			if (r != 0 && r != SG_ERR_LIMIT)
				goto out;    /* the queue's error: this entry again */
			o.code = CLAIM_BUSY; /* its result stands: acknowledged below */
		} else {
			o.code = SG_ERR_INTERNAL;
			snprintf(o.detail, sizeof(o.detail),
			    "job %s was signed by %s, whose result is no longer in the queue "
			    "(result_ttl); submit the job anew",
			    o.id, o.claim_owner + strlen(QUEUE_CLAIM_DONE));
		}
		if (o.code == CLAIM_BUSY) {
			if (o.quota_taken)
				quota_give_back(ag->quota, o.sub, o.quota_key, o.quota_time);
			if ((r = queue_ack(q, e->id)) == 0 && ag->attempts != NULL)
				attempts_end(ag->attempts, e->id);
			goto out;
		}
	} else if (o.code == CLAIM_BUSY) {
		/* Another live process works on the job: its entry is left
		 * unacknowledged for it (not counted as an attempt here). */
		if (o.quota_taken)
			quota_give_back(ag->quota, o.sub, o.quota_key, o.quota_time);
		if (ag->attempts != NULL)
			attempts_end(ag->attempts, e->id);
		r = 0;
		goto out;
	}
	/* A signature released only while the claim is still ours: a process
	 * stalled past reclaim_after may have been overtaken (docs/reliability.md). */
	if (o.code == 0 && o.claim_held && o.republish == NULL &&
	    (r = claim_still_ours(ag, q, &o)) != 0) {
		if (r == SG_ERR_EXISTS) {
			char why[QUEUE_CONSUMER_MAX + 64];

			snprintf(
			    why, sizeof(why), "taken by %s before the decision", o.claim_owner);
			r = withhold(ag, e, &o, why);
		}
		goto out;
	}
	if (o.code != 0 && o.job != NULL && o.has_sub &&
	    rejected_after_parse(
		sg_status_name(sg_err_status(o.code)), o.sub, o.job->key, sg_err_code(o.code))) {
		enum idset_bound bound;

		if (bind_id(ag, o.id, o.job_sha256, o.sub, IDSET_REJECTED, &bound) != 0)
			log_warn("job %s: cannot bind its id to the rejected job", o.id);
	}
	/* Quotas count only jobs signed now (not refused, failed or republished). */
	if (o.quota_taken && (o.code != 0 || o.republish != NULL))
		quota_give_back(ag->quota, o.sub, o.quota_key, o.quota_time);
	if (o.code == SG_ERR_QUEUE_UNAVAILABLE || o.code == SG_ERR_QUEUE_PROTOCOL ||
	    o.code == SG_ERR_QUEUE_AUTH) {
		r = o.code; /* nothing decided: reconnect and process the entry again */
		goto out;
	}
	if (o.republish != NULL) {
		/* A redelivery or replay of a job signed before: its first result. */
		log_info("job %s entry %s: signed before, result published again", o.id, e->id);
		if (o.claim_held) {
			r = release(ag, q, &o, e, o.republish, o.republish_len);
			if (r == SG_ERR_EXISTS) {
				log_warn("job %s: its claim is now %s's; the result is left to it",
				    o.id, o.claim_owner);
				if (ag->attempts != NULL)
					attempts_end(ag->attempts, e->id);
				r = 0;
				goto out;
			}
		} else if ((r = queue_put_result(q, o.id, o.republish, o.republish_len,
				ag->cfg->result_ttl, 0)) == 0) {
			r = queue_ack(q, e->id);
		}
		/* Its "published" record ends the attempt (no webhooks: no payload). */
		if (r == 0)
			announce(ag, e, &o);
		goto out;
	}
	if ((r = build_result(ag, e, &o, &env, &env_len)) != 0 && o.code == 0) {
		/* Signed, but the result could not be attested or stored. */
		o.code = r == SG_ERR_STORE_FAILED ? r : SG_ERR_INTERNAL;
		free(env);
		env = NULL;
		r = build_result(ag, e, &o, &env, &env_len);
	}
	log_decision(&o, e);
	if (r != 0)
		goto out; /* nothing attested: leave the entry pending */
	count_decision(ag, &o);
	acked = 0;
	/* The claim's WATCH serves the release only. */
	if (o.watching && !(o.has_id && o.code == 0 && o.claim_held)) {
		queue_unwatch(q);
		o.watching = 0;
	}
	if (o.has_id) {
		if (o.code == 0 && o.claim_held) {
			/* The result released and the entry acknowledged at once. */
			r = release(ag, q, &o, e, env, env_len);
			if (r == SG_ERR_EXISTS) {
				char why[QUEUE_CONSUMER_MAX + 64];

				snprintf(why, sizeof(why), "taken by %s before the release",
				    o.claim_owner);
				r = withhold(ag, e, &o, why);
				goto out;
			}
			acked = r == 0;
		} else if (o.code == 0) {
			r = queue_put_result(q, o.id, env, env_len, ag->cfg->result_ttl, 0);
		} else {
			r = put_rejection(ag, q, &o, env, env_len);
		}
		if (r != 0)
			goto out;
	}
	if ((acked || (r = queue_ack(q, e->id)) == 0) && o.has_id)
		announce(ag, e, &o);
	pending_remove(ag->pending, e->id);
out:
	if (o.watching)
		queue_unwatch(q);
	if (o.claim_held)
		claims_remove(ag->claims, o.id);
	free(env);
	outcome_clear(&o);
	return r;
}

int
pipeline_process(struct agent *ag, struct queue *q, const struct queue_entry *e, int *received)
{
	return process_entry(ag, q, e, received, NULL);
}

int
pipeline_dead_letter(struct agent *ag, struct queue *q, const struct queue_entry *e)
{
	struct dsse_envelope *parsed = NULL;
	struct outcome o;
	uint8_t *payload = NULL;
	size_t payload_len = 0, env_len = 0;
	char *env = NULL, reason[96];
	struct log_fields f;
	unsigned tries;
	int r;

	memset(&o, 0, sizeof(o));
	o.key_index = -1;
	o.code = SG_ERR_INTERNAL;
	o.t0_us = mono_us();
	tries = ag->attempts != NULL ? attempts_get(ag->attempts, e->id) : 0;
	/* Parse no more than it takes to find the id a result is owed to: this
	 * entry may be what stopped the agents that took it before. */
	if (e->env != NULL && e->env_len <= ENVELOPE_MAX_BYTES) {
		if (envelope_parse(e->env, e->env_len, &parsed) == 0) {
			note_payload(&o, parsed->payload, parsed->payload_len);
			envelope_free(parsed);
		} else if (envelope_salvage_payload(e->env, e->env_len, &payload, &payload_len) ==
		    0) {
			note_payload(&o, payload, payload_len);
			free(payload);
		}
	}
	memset(&f, 0, sizeof(f));
	f.job = o.has_id ? o.id : NULL;
	f.entry = e->id;
	f.status = "failed";
	f.code = sg_err_code(o.code);
	f.has = LOG_HAS_ATTEMPTS;
	f.attempts = tries;
	log_event(LOG_LEVEL_WARN, "dead_letter", &f,
	    "entry %s (job %s) taken up %u times here without a decision: moved to the "
	    "dead letters",
	    e->id, o.has_id ? o.id : "-", tries);
	if ((r = build_result(ag, e, &o, &env, &env_len)) != 0)
		goto out;
	if (o.has_id) {
		/* NX: if the job was signed after all, its result stays. */
		r = queue_put_result(q, o.id, env, env_len, ag->cfg->result_ttl, 1);
		if (r == SG_ERR_EXISTS)
			r = 0;
		if (r != 0)
			goto out;
	}
	count_decision(ag, &o);
	snprintf(reason, sizeof(reason), "taken up %u times by agent %.32s without a decision",
	    tries, ag->cfg->name);
	r = queue_dead_letter(q, e, reason);
out:
	free(env);
	outcome_clear(&o);
	return r;
}
