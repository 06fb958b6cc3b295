/*
 * policy.c — the per-key rules and the submitter certificate checks (see
 * policy.h and docs/policy.md).  No I/O: everything comes in as arguments.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "log.h"
#include "policy.h"

#define SHOW_MAX 72 /* bytes of a job or claim value quoted in a detail */

int
policy_glob(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	/* Greedy with one backtrack point: a later '*' supersedes an earlier
	 * one, so the work is bounded by len(p) * len(s). */
	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p != '\0' && (*p == '?' || *p == *s)) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static int
any_glob(char *const *patterns, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (policy_glob(patterns[i], s))
			return 1;
	return 0;
}

static int
in_list(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* An identity entry that applies to a certificate subject. */
static int
entry_matches(const struct agent_submitter *e, const struct policy_subject *s)
{
	return e->identity != NULL && (e->ca < 0 || e->ca == s->ca) &&
	    policy_glob(e->identity, s->name);
}

/* Whether the subject may use key k per its submitter entries and the key's
 * list; on a refusal *ret_listed says whether the submitter's entry lists
 * the key (then it is the key's own list that leaves the submitter out). */
static int
may_use_why(const struct agent_config *c, const struct policy_subject *s, size_t k, int *ret_listed)
{
	const struct agent_key *key = &c->keys[k];
	int listed = 0, named = key->nallowed_submitters == 0;
	size_t i;

	if (s->pinned != NULL) {
		listed = config_submitter_may_use(s->pinned, k);
		named = named ||
		    any_glob(key->allowed_submitters, key->nallowed_submitters, s->pinned->name);
	} else {
		named =
		    named || any_glob(key->allowed_submitters, key->nallowed_submitters, s->name);
		for (i = 0; i < c->nsubmitters; i++) {
			const struct agent_submitter *e = &c->submitters[i];
			if (!entry_matches(e, s))
				continue;
			listed = listed || config_submitter_may_use(e, k);
			named = named ||
			    any_glob(key->allowed_submitters, key->nallowed_submitters, e->name);
		}
	}
	*ret_listed = listed;
	return listed && named;
}

static int
may_use(const struct agent_config *c, const struct policy_subject *s, size_t k)
{
	int listed;

	return may_use_why(c, s, k, &listed);
}

/* The names of the formats in mask, "raw, cms", into out. */
static void
format_list(unsigned mask, char *out, size_t len)
{
	size_t off = 0;
	int f, n;

	out[0] = '\0';
	for (f = 0; f < 32 && off < len; f++) {
		if ((mask & (1u << f)) == 0 || sg_format_name((enum sg_format)f) == NULL)
			continue;
		n = snprintf(out + off, len - off, "%s%s", off > 0 ? ", " : "",
		    sg_format_name((enum sg_format)f));
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(out, len, "none");
}

/* The keys subject s may use, "a, b" (or "none"), into out. */
static void
usable_keys(const struct agent_config *c, const struct policy_subject *s, char *out, size_t len)
{
	size_t k, off = 0;
	int n;

	out[0] = '\0';
	for (k = 0; k < c->nkeys && off < len; k++) {
		if (c->keys[k].disabled || !may_use(c, s, k))
			continue;
		n = snprintf(out + off, len - off, "%s%s", off > 0 ? ", " : "", c->keys[k].name);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(out, len, "none");
}

/* A refusal with its detail (the value at fault and the rule or limit). */
static int __attribute__((format(printf, 3, 4)))
refuse(struct policy_ci *ci, int r, const char *fmt, ...)
{
	va_list ap;

	if (ci != NULL) {
		va_start(ap, fmt);
		vsnprintf(ci->why, sizeof(ci->why), fmt, ap);
		va_end(ap);
	}
	return r;
}

void
policy_ci_clear(struct policy_ci *ci)
{
	if (ci == NULL)
		return;
	jwt_claims_free(ci->verified);
	ci->verified = NULL;
	ci->why[0] = '\0';
}

/* A value for a detail: cut and escaped (log_escape()); "(none)" for NULL. */
static const char *
show(const char *s, char out[SHOW_MAX])
{
	return s == NULL ? "(none)" : log_escape(s, POLICY_WHY_MAX, out, SHOW_MAX);
}

static int
issuer_accepted(const struct agent_config *c, const struct agent_key *key, const char *name)
{
	size_t i;

	if (key->nci_token_issuers == 0)
		return 1;
	for (i = 0; i < key->nci_token_issuers; i++) {
		if (strcmp(c->ci_issuers[key->ci_token_issuers[i]].name, name) == 0)
			return 1;
	}
	return 0;
}

/*
 * The CI checks of policy_decide(): the token (verified here, once per job)
 * and then the project, ref and protection rules against its claims, or
 * against the self-asserted ci members of a job without a token.  On
 * return *ret_claims holds the verified claims whenever the token verified.
 */
static int
check_ci(const struct agent_config *c, const struct agent_key *key, const struct sg_job *job,
    int64_t now, struct jwt_claims **ret_claims, char *why, size_t whylen)
{
	struct jwt_claims *cl = NULL;
	struct jwt_error err;
	const char *project = job->ci.project, *ref = job->ci.ref, *src = "self-asserted";
	char v1[SHOW_MAX];
	int r;

	if (job->ci_token == NULL && key->ci_token_required) {
		snprintf(why, whylen, "key %s requires a ci_token; the job has none", key->name);
		return SG_ERR_POLICY_CI_TOKEN;
	}
	if (job->ci_token != NULL) {
		r = jwt_verify(job->ci_token, strlen(job->ci_token), c->jwt_issuers, c->nci_issuers,
		    now, &cl, &err);
		if (r == SG_ERR_POLICY_CI_TOKEN)
			snprintf(why, whylen, "ci_token: %s", err.why);
		if (r != 0)
			return r;
		*ret_claims = cl;
		if (!issuer_accepted(c, key, cl->issuer_name)) {
			snprintf(why, whylen,
			    "ci_token: issuer %s is not in keys.%s.ci_token_issuers",
			    cl->issuer_name, key->name);
			return SG_ERR_POLICY_CI_TOKEN;
		}
		project = cl->project;
		ref = cl->ref;
		src = "verified";
	}
	if (key->nci_projects > 0 && !any_glob(key->ci_projects, key->nci_projects, project)) {
		snprintf(why, whylen, "%s CI project \"%s\" is not in keys.%s.ci_projects", src,
		    show(project, v1), key->name);
		return SG_ERR_POLICY_CI_PROJECT;
	}
	if (key->nci_refs > 0 && !any_glob(key->ci_refs, key->nci_refs, ref)) {
		snprintf(why, whylen, "%s CI ref \"%s\" is not in keys.%s.ci_refs", src,
		    show(ref, v1), key->name);
		return SG_ERR_POLICY_CI_REF;
	}
	if (key->ci_protected_ref && (cl == NULL || !cl->ref_protected)) {
		snprintf(why, whylen,
		    "verified CI ref \"%s\" is not protected (keys.%s."
		    "ci_protected_ref)",
		    show(ref, v1), key->name);
		return SG_ERR_POLICY_CI_REF;
	}
	return 0;
}

int
policy_revoked(const struct agent_config *c, const char *keyid, const char *serial)
{
	return in_list(c->revoked_keyids, c->nrevoked_keyids, keyid) ||
	    (serial != NULL && in_list(c->revoked_serials, c->nrevoked_serials, serial));
}

int
policy_decide(const struct agent_config *c, const struct policy_subject *s,
    const struct sg_job *job, int64_t now, struct quota *q, long *ret_key_index,
    struct policy_ci *ci)
{
	const struct agent_key *key;
	struct jwt_claims *claims = NULL;
	char why[POLICY_WHY_MAX] = "", v1[SHOW_MAX], v2[SHOW_MAX], keys[POLICY_WHY_MAX / 2];
	uint32_t hour = 0, day = 0;
	long k;
	int r, listed = 0;

	*ret_key_index = -1;
	if (in_list(c->revoked_keyids, c->nrevoked_keyids, s->keyid))
		return refuse(ci, SG_ERR_POLICY_SUBMITTER_REVOKED,
		    "submitter %s: keyid %s is revoked", show(s->name, v1), show(s->keyid, v2));
	if (in_list(c->revoked_serials, c->nrevoked_serials, s->serial))
		return refuse(ci, SG_ERR_POLICY_SUBMITTER_REVOKED,
		    "submitter %s: certificate serial "
		    "%s is revoked",
		    show(s->name, v1), show(s->serial, v2));
	if ((k = config_key_index(c, job->key)) < 0) {
		usable_keys(c, s, keys, sizeof(keys));
		return refuse(ci, SG_ERR_POLICY_UNKNOWN_KEY,
		    "no key %s is configured; submitter %s "
		    "may use: %s",
		    show(job->key, v1), show(s->name, v2), keys);
	}
	*ret_key_index = k;
	key = &c->keys[k];
	if (key->disabled)
		return refuse(ci, SG_ERR_POLICY_KEY_NOT_ALLOWED, "key %s is disabled", key->name);
	if (!may_use_why(c, s, (size_t)k, &listed)) {
		usable_keys(c, s, keys, sizeof(keys));
		return refuse(ci, SG_ERR_POLICY_KEY_NOT_ALLOWED,
		    listed ? "submitter %s is not among key %s's submitters (it may use: %s)"
			   : "key %s is not among submitter %s's keys (it may use: %s)",
		    listed ? show(s->name, v1) : key->name, listed ? key->name : show(s->name, v1),
		    keys);
	}
	if ((key->formats & (1u << job->format)) == 0) {
		format_list(key->formats, keys, sizeof(keys));
		return refuse(ci, SG_ERR_POLICY_FORMAT_NOT_ALLOWED,
		    "format %s is not allowed for key "
		    "%s (allowed: %s)",
		    sg_format_name(job->format), key->name, keys);
	}
	if (key->max_job_lifetime > 0 && job->expires - job->created > key->max_job_lifetime)
		return refuse(ci, SG_ERR_JOB_LIFETIME_TOO_LONG,
		    "lifetime %lld s (created to expires) "
		    "is over key %s's max_job_lifetime of %lld s",
		    (long long)(job->expires - job->created), key->name,
		    (long long)key->max_job_lifetime);
	if (key->nartifact_names > 0 &&
	    !any_glob(key->artifact_names, key->nartifact_names, job->artifact.name))
		return refuse(ci, SG_ERR_POLICY_ARTIFACT_NAME,
		    "artifact name %s matches none of key "
		    "%s's artifact_names",
		    show(job->artifact.name, v1), key->name);
	r = check_ci(c, key, job, now, &claims, why, sizeof(why));
	if (ci != NULL) {
		/* Verified claims are worth recording whatever the decision. */
		ci->verified = claims;
		claims = NULL;
		snprintf(ci->why, sizeof(ci->why), "%s", why);
	}
	jwt_claims_free(claims);
	if (r != 0)
		return r;
	if ((key->quota_per_hour != 0 || key->quota_per_day != 0) && q != NULL) {
		quota_count(q, s->name, key->name, now, &hour, &day);
		if (key->quota_per_hour != 0 && hour >= key->quota_per_hour)
			return refuse(ci, SG_ERR_POLICY_QUOTA_EXCEEDED,
			    "submitter %s has used its quota "
			    "of %u signatures per hour with key %s",
			    show(s->name, v1), (unsigned)key->quota_per_hour, key->name);
		if (key->quota_per_day != 0 && day >= key->quota_per_day)
			return refuse(ci, SG_ERR_POLICY_QUOTA_EXCEEDED,
			    "submitter %s has used its quota "
			    "of %u signatures per day with key %s",
			    show(s->name, v1), (unsigned)key->quota_per_day, key->name);
	}
	return 0;
}

int
policy_cert_parse(const uint8_t *der, size_t len, X509 **ret)
{
	const unsigned char *p = der;
	X509 *x;

	if (der == NULL || len == 0 || len > POLICY_CERT_MAX_BYTES)
		return SG_ERR_POLICY_CERT_INVALID;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		X509_free(x);
		return crypto_err(SG_ERR_POLICY_CERT_INVALID);
	}
	*ret = x;
	return 0;
}

/* Copies an identity string if it is acceptable: no NUL or control bytes. */
static int
take_identity(const unsigned char *data, int len, char out[POLICY_IDENTITY_MAX + 1])
{
	int i;

	if (data == NULL || len <= 0 || len > POLICY_IDENTITY_MAX)
		return SG_ERR_POLICY_CERT_INVALID;
	for (i = 0; i < len; i++)
		if (data[i] < 0x20 || data[i] == 0x7f)
			return SG_ERR_POLICY_CERT_INVALID;
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	return 0;
}

static int
cert_identity(X509 *x, enum config_identity_source src, char out[POLICY_IDENTITY_MAX + 1])
{
	GENERAL_NAMES *gens = NULL;
	int i, r = SG_ERR_POLICY_CERT_INVALID;

	if (src == CONFIG_IDENTITY_CN) {
		X509_NAME *subj = X509_get_subject_name(x);
		int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
		unsigned char *utf8 = NULL;
		int n;
		if (idx < 0)
			return r;
		n = ASN1_STRING_to_UTF8(
		    &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)));
		if (n > 0)
			r = take_identity(utf8, n, out);
		OPENSSL_free(utf8);
		return r;
	}
	if ((gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL)) == NULL)
		return r;
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int want = src == CONFIG_IDENTITY_EMAIL ? GEN_EMAIL : GEN_URI;
		if (g->type != want)
			continue;
		r = take_identity(
		    ASN1_STRING_get0_data(g->d.ia5), ASN1_STRING_length(g->d.ia5), out);
		break; /* the first one only */
	}
	GENERAL_NAMES_free(gens);
	return r;
}

static int
cert_serial(X509 *x, char out[CONFIG_SERIAL_HEX_MAX + 1])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = NULL;
	int r = SG_ERR_POLICY_CERT_INVALID;

	if (bn == NULL || BN_is_negative(bn) || (hex = BN_bn2hex(bn)) == NULL)
		goto out;
	r = config_normalize_serial(hex, out) == 0 ? 0 : SG_ERR_POLICY_CERT_INVALID;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

static int
eku_ok(X509 *x, const ASN1_OBJECT *want)
{
	EXTENDED_KEY_USAGE *eku;
	int i, ok = 0;

	if (want == NULL)
		return 1;
	if ((eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL)) == NULL)
		return 0;
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0)
			ok = 1;
	EXTENDED_KEY_USAGE_free(eku);
	return ok;
}

/* Chain and validity of x under one CA at time t; with_crl adds the CRL. */
static int
chain_ok(const struct agent_submitter_ca *ca, X509 *x, int64_t t, int with_crl)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *vp;
	int r = SG_ERR_POLICY_CERT_INVALID;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, ca->store, x, NULL) != 1)
		goto out;
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(vp, (time_t)t);
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_X509_STRICT);
	if (!with_crl)
		X509_VERIFY_PARAM_clear_flags(vp, X509_V_FLAG_CRL_CHECK);
	if (X509_verify_cert(ctx) == 1)
		r = 0;
	else if (X509_STORE_CTX_get_error(ctx) == X509_V_ERR_CERT_REVOKED)
		r = SG_ERR_POLICY_SUBMITTER_REVOKED;
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int
policy_verify_cert(const struct agent_config *c, X509 *cert, const int64_t *times, size_t ntimes,
    struct policy_cert_identity *ret)
{
	struct policy_cert_identity id;
	size_t i, t;
	int r, worst = SG_ERR_POLICY_CERT_INVALID;

	if (ntimes == 0)
		return SG_ERR_POLICY_CERT_INVALID;
	/* Key usage: the extension must be there and allow digitalSignature. */
	if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0 ||
	    (X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE) == 0)
		return SG_ERR_POLICY_CERT_INVALID;
	if (cert_serial(cert, id.serial) != 0)
		return SG_ERR_POLICY_CERT_INVALID;
	for (i = 0; i < c->ncas; i++) {
		const struct agent_submitter_ca *ca = &c->cas[i];
		for (r = 0, t = 0; r == 0 && t < ntimes; t++)
			r = chain_ok(ca, cert, times[t], ca->crl_path != NULL && t == ntimes - 1);
		if (r == SG_ERR_POLICY_SUBMITTER_REVOKED)
			worst = r;
		if (r != 0 || !eku_ok(cert, ca->eku) ||
		    cert_identity(cert, ca->identity, id.identity) != 0)
			continue;
		id.ca = (long)i;
		*ret = id;
		return 0;
	}
	return worst;
}
