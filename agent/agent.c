/*
 * agent.c — the agent assembled (agent.h).
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "agent.h"
#include "attempts.h"
#include "audit.h"
#include "checkpointer.h"
#include "config_live.h"
#include "envcheck.h"
#include "hsm.h"
#include "idset.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "quota.h"
#include "replay.h"
#include "claims.h"
#include "sgtime.h"
#include "store.h"
#include "util.h"
#include "pending.h"
#include "webhook.h"

#define ERRBUF_LEN      512
#define WEBHOOK_DRAIN_S 5 /* at shutdown, for deliveries still queued */

static int
check_keys(struct agent *ag, const struct agent_config *cfg)
{
	EVP_PKEY *pk = NULL;
	size_t i;
	int r, bad = 0;

	for (i = 0; i < cfg->nkeys; i++) {
		X509 *leaf = sk_X509_value(cfg->keys[i].chain, 0);
		if ((r = hsm_public_key(ag->hsm, i, &pk)) != 0)
			return r;
		if (EVP_PKEY_eq(pk, X509_get0_pubkey(leaf)) != 1) {
			log_error("keys.%s: the first certificate in %s is not for the HSM key %s",
			    cfg->keys[i].name, cfg->keys[i].certificates_path, cfg->keys[i].uri);
			bad = 1;
		}
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	if ((r = hsm_public_key(ag->hsm, ag->attest_index, &ag->attest_pub)) != 0 ||
	    (r = crypto_keyid(ag->attest_pub, ag->attest_keyid)) != 0)
		return r;
	return bad ? SG_ERR_CONFIG : 0;
}

static void
log_problem(void *arg, const char *problem)
{
	(void)arg;
	log_error("%s", problem);
}

static void
log_warning(void *arg, const char *warning)
{
	(void)arg;
	log_warn("%s", warning);
}

/*
 * The signer executable: as configured; else installed beside the agent
 * (<prefix>/sbin/../libexec) or in the build tree (beside it); else
 * where this build installs it.  It must be a regular executable file.
 */
static int
find_signer(const struct agent_config *cfg, char *buf, size_t len)
{
	static const char *const rel[] = { "../libexec/signet-signer", "signet-signer" };
	char exe[PATH_MAX], *slash;
	struct stat st;
	ssize_t n;
	size_t i;

	if (cfg->pkcs11_signer != NULL) {
		snprintf(buf, len, "%s", cfg->pkcs11_signer);
		return stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0 ? 0
											    : -1;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			for (i = 0; i < nitems(rel); i++) {
				if ((size_t)snprintf(buf, len, "%s/%s", exe, rel[i]) < len &&
				    stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
				    access(buf, X_OK) == 0)
					return 0;
			}
		}
	}
	snprintf(buf, len, "%s", SIGNET_SIGNER_PATH);
	return stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0 ? 0 : -1;
}

static int
open_hsm(struct agent *ag, const struct agent_config *cfg, const char *config_path)
{
	struct hsm_key_spec *specs = NULL;
	struct hsm_config hc;
	char errbuf[ERRBUF_LEN] = "", signer[PATH_MAX], config_abs[PATH_MAX];
	size_t n = 0;
	int r;

	if ((r = config_hsm_keys(cfg, &specs, &n, &ag->attest_index)) != 0)
		return r;
	memset(&hc, 0, sizeof(hc));
	hc.module = cfg->pkcs11_module;
	hc.token = cfg->pkcs11_token;
	hc.pin_file = cfg->pkcs11_pin_file;
	hc.sessions = cfg->pkcs11_sessions;
	hc.keys = specs;
	hc.nkeys = n;
	if (!cfg->pkcs11_in_process) {
		if (find_signer(cfg, signer, sizeof(signer)) != 0) {
			log_error(
			    "pkcs11.signer: signet-signer not found; name it in the configuration");
			free(specs);
			return SG_ERR_CONFIG;
		}
		/* The signer reads the same file, by a name that no later
		 * change of directory can redirect. */
		if (realpath(config_path, config_abs) == NULL) {
			log_error("%s: %s", config_path, strerror(errno));
			free(specs);
			return SG_ERR_CONFIG;
		}
		hc.signer = signer;
		hc.signer_config = config_abs;
	} else {
		log_warn("pkcs11.isolation is \"none\": the PIN and the HSM sessions are in this "
			 "process");
	}
	r = hsm_open(&hc, &ag->hsm, errbuf, sizeof(errbuf));
	free(specs);
	if (r != 0) {
		log_error("HSM: %s", errbuf[0] ? errbuf : sg_strerror(r));
		return r;
	}
	return check_keys(ag, cfg);
}

/* config_warnings() into the log. */
static void
log_config_warning(void *arg, const char *warning)
{
	log_warn("%s: %s", (const char *)arg, warning);
}

/*
 * With the rights of "user": what the boundary needs out of the agent's
 * reach is.  The PIN file must not be readable, nor the journal's
 * directory writable (the agent could remove the journal and so every
 * record of signatures it kept off the audit log).  SG_ERR_CONFIG.
 */
static int
check_out_of_reach(const struct agent_config *cfg)
{
	char *dir = NULL;
	int r = 0;

	if (!cfg->pkcs11_in_process && access(cfg->pkcs11_pin_file, R_OK) == 0) {
		log_error("pkcs11.pin_file: %s can read %s; it must be readable by the signer "
			  "alone (docs/security.md)",
		    cfg->user, cfg->pkcs11_pin_file);
		r = SG_ERR_CONFIG;
	}
	if (!cfg->pkcs11_in_process && path_dir(cfg->pkcs11_journal, &dir) == 0 &&
	    access(dir, W_OK) == 0) {
		log_error("pkcs11.journal: %s can write %s, and so remove the signer's journal; "
			  "put it in a directory of the signer's",
		    cfg->user, dir);
		r = SG_ERR_CONFIG;
	}
	free(dir);
	return r;
}

/*
 * Once the signer runs, the agent gives up the rights it was started with
 * (docs/security.md): started as root with "user", it becomes that user
 * (its groups, then gid, then uid; no way back, no new privileges), so
 * that the process that reads Redis can neither read the PIN nor load a
 * module nor trace the signer.  From then on a dead signer is not started
 * again (it could not read the PIN): the agent exits instead.
 */
static int
drop_privileges(struct agent *ag, const struct agent_config *cfg)
{
	struct passwd *pw;
	uid_t uid = geteuid();

	if (cfg->user == NULL) {
		if (uid == 0)
			log_warn("running as root without \"user\": the agent keeps root's rights "
				 "beside "
				 "the signer (set \"user\", docs/security.md)");
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		log_error("user: no user %s%s%s", cfg->user, errno ? ": " : "",
		    errno ? strerror(errno) : "");
		return SG_ERR_CONFIG;
	}
	if (pw->pw_uid == 0) {
		log_error(
		    "user: %s is root; name the unprivileged user the agent runs as", cfg->user);
		return SG_ERR_CONFIG;
	}
	if (uid != 0) {
		if (pw->pw_uid == uid)
			return 0;
		log_error(
		    "user: switching to %s needs signet-agent to be started as root (it runs as "
		    "uid %lu)",
		    cfg->user, (unsigned long)uid);
		return SG_ERR_CONFIG;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_error("user: cannot switch to %s: %s", cfg->user, strerror(errno));
		return SG_ERR_SYSTEM;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		log_error("user: still able to become root after switching to %s", cfg->user);
		return SG_ERR_SYSTEM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_DUMPABLE, 0) != 0) {
		log_error("user: prctl: %s", strerror(errno));
		return SG_ERR_SYSTEM;
	}
	hsm_no_restart(ag->hsm);
	log_info("running as %s (uid %lu); the signer keeps the HSM", cfg->user,
	    (unsigned long)pw->pw_uid);
	return check_out_of_reach(cfg);
}

void
agent_reload(struct agent *ag, const char *reload_path)
{
	struct agent_config *next = NULL;
	char errbuf[ERRBUF_LEN];
	int r;

	if ((r = config_load(reload_path, &next, errbuf, sizeof(errbuf))) != 0) {
		log_error("SIGHUP: %s: %s; the old policy stays in force", reload_path,
		    errbuf[0] ? errbuf : sg_strerror(r));
		return;
	}
	if (config_same_hsm(ag->cfg, next, errbuf, sizeof(errbuf)) != 0) {
		log_error("SIGHUP: %s: %s, which needs a restart; the old policy stays in force",
		    reload_path, errbuf);
		config_free(next);
		return;
	}
	(void)config_warnings(next, log_config_warning, (void *)(uintptr_t)reload_path);
	if ((r = config_live_swap(ag->live, next)) != 0) {
		log_error_r(r, "SIGHUP: the old policy stays in force");
		config_free(next);
		return;
	}
	log_info("SIGHUP: policy reloaded from %s: %zu keys, %zu submitters", reload_path,
	    next->nkeys, next->nsubmitters);
}

/* The store URL without trailing slashes (as the backends use it). */
static size_t
store_base_len(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return n;
}

/* Starts the webhooks of the configuration: global ones, then each key's. */
static int
start_webhooks(struct agent *ag, const struct agent_config *cfg, char *errbuf, size_t errlen)
{
	struct webhook_target *t;
	struct webhook_opts wo;
	size_t n = cfg->nwebhooks, i, j;
	int r;

	for (i = 0; i < cfg->nkeys; i++)
		n += cfg->keys[i].nwebhooks;
	if (n == 0)
		return 0;
	if ((t = calloc(n, sizeof(*t))) == NULL)
		return SG_ERR_ALLOC;
	n = 0;
	for (i = 0; i < cfg->nwebhooks; i++, n++) {
		t[n].url = cfg->webhooks[i].url;
		t[n].secret_file = cfg->webhooks[i].secret_file;
		t[n].ca_file = cfg->webhooks[i].ca_file;
		t[n].events = cfg->webhooks[i].events;
		t[n].name = cfg->webhooks[i].name;
		t[n].format = cfg->webhooks[i].format;
	}
	for (i = 0; i < cfg->nkeys; i++) {
		for (j = 0; j < cfg->keys[i].nwebhooks; j++, n++) {
			t[n].url = cfg->keys[i].webhooks[j].url;
			t[n].secret_file = cfg->keys[i].webhooks[j].secret_file;
			t[n].ca_file = cfg->keys[i].webhooks[j].ca_file;
			t[n].events = cfg->keys[i].webhooks[j].events;
			t[n].name = cfg->keys[i].webhooks[j].name;
			t[n].format = cfg->keys[i].webhooks[j].format;
			t[n].key = cfg->keys[i].name;
		}
	}
	memset(&wo, 0, sizeof(wo));
	r = webhooks_start(t, n, &wo, &ag->webhooks, errbuf, errlen);
	free(t);
	return r;
}

static int
pin_readable(void *arg, char *why, size_t whylen)
{
	const struct agent_config *cfg = arg;

	return envcheck_secret_file(
	    "pkcs11.pin_file", cfg->pkcs11_pin_file, geteuid(), why, whylen);
}

/*
 * --check, before the signer starts: the PIN file as the user that will
 * read it (pkcs11.user when the check runs as root, else this process's
 * user), so that the reason is the system's and not a failed login.
 */
static int
check_pin_file(const struct agent_config *cfg)
{
	char why[ENVCHECK_WHY_MAX];
	const char *reader = NULL;

	if (!cfg->pkcs11_in_process && cfg->pkcs11_user != NULL && geteuid() == 0)
		reader = cfg->pkcs11_user;
	if (envcheck_as(reader, pin_readable, (void *)(uintptr_t)cfg, why, sizeof(why)) != 0) {
		log_error("%s", why);
		return -1;
	}
	return 0;
}

/*
 * With the rights the agent runs with from now on: the file store's
 * directory and the audit log's directory (and the log, when it exists)
 * writable; with_redis, Redis reachable, AUTH accepted and the consumer
 * group there or made.  Logs one line per failure; returns their number.
 */
static int
check_environment(const struct agent_config *cfg, int with_redis)
{
	char why[ENVCHECK_WHY_MAX], *dir = NULL;
	const char *store_dir = envcheck_store_dir(cfg->store);
	struct stat st;
	int bad = 0;

	if (store_dir != NULL && envcheck_dir_writable("store", store_dir, why, sizeof(why)) != 0) {
		log_error("%s", why);
		bad++;
	}
	if (path_dir(cfg->audit_log, &dir) != 0) {
		log_error("%s", sg_strerror(SG_ERR_ALLOC));
		return bad + 1;
	}
	if (envcheck_dir_writable("audit_log", dir, why, sizeof(why)) != 0) {
		log_error("%s", why);
		bad++;
	} else if (lstat(cfg->audit_log, &st) == 0 &&
	    envcheck_file_appendable("audit_log", cfg->audit_log, why, sizeof(why)) != 0) {
		log_error("%s", why);
		bad++;
	}
	free(dir);
	if (with_redis && envcheck_redis(cfg, why, sizeof(why)) != 0) {
		log_error("%s", why);
		bad++;
	}
	return bad;
}

void
agent_check_certs(const struct agent *ag)
{
	(void)config_cert_validity(ag->cfg, sgtime_now(), log_problem, log_warning, NULL);
}

int
agent_open(
    struct agent *ag, const struct agent_config *cfg, const char *config_path, int check_only)
{
	struct checkpoint last_cp;
	char errbuf[ERRBUF_LEN];
	int have_cp = 0, bad = 0, r;

	(void)config_warnings(cfg, log_config_warning, (void *)(uintptr_t)config_path);
	ag->cfg = cfg;
	/* --check goes on past a failure where it can, to name every one. */
	if (check_only && check_pin_file(cfg) != 0)
		bad = 1;
	else if (open_hsm(ag, cfg, config_path) != 0) {
		if (!check_only)
			return 2;
		bad = 1;
	}
	if (drop_privileges(ag, cfg) != 0)
		return 2;
	if (check_environment(cfg, check_only) > 0)
		bad = 1;
	if (bad && !check_only)
		return 2;
	if (bad) {
		(void)config_cert_validity(cfg, sgtime_now(), log_problem, log_warning, NULL);
		return 2;
	}
	if ((r = start_webhooks(ag, cfg, errbuf, sizeof(errbuf))) != 0) {
		log_error("%s", r == SG_ERR_CONFIG ? errbuf : sg_strerror(r));
		return 2;
	}
	if ((r = checkpointer_load_state(cfg->audit_log, ag->attest_pub, cfg->audit_origin,
		 &last_cp, errbuf, sizeof(errbuf))) == 0) {
		have_cp = 1;
	} else if (r != SG_ERR_NOT_FOUND) {
		log_error("%s", errbuf);
		return 2;
	}
	if (config_cert_validity(cfg, sgtime_now(), log_problem, log_warning, NULL) > 0 &&
	    check_only) {
		log_error("--check: a key's certificate is not valid now (see above)");
		return 2;
	}
	if (check_only)
		return 0;
	struct store_opts so = { .url = cfg->store,
		.bearer_token_file = cfg->store_token_file,
		.ca_file = cfg->store_ca_file,
		.timeout_s = cfg->store_timeout,
		.deadline_s = cfg->store_deadline,
		.file_mode = cfg->store_mode };
	if ((r = store_open(&so, &ag->store, errbuf, sizeof(errbuf))) != 0) {
		log_error("%s", errbuf);
		return 2;
	}
	if ((ag->quota = quota_new()) == NULL || config_live_new(cfg, &ag->live) != 0) {
		log_error("%s", sg_strerror(SG_ERR_ALLOC));
		return 2;
	}
	if (cfg->metrics_file != NULL && (ag->metrics = metrics_new()) == NULL)
		return 1;
	if ((r = path_dir(cfg->audit_log, &ag->state_dir)) != 0 ||
	    (r = replay_new(ag->state_dir, &ag->replay)) != 0 ||
	    (r = idset_new(ag->state_dir, &ag->ids)) != 0 ||
	    (ag->attempts = attempts_new()) == NULL || (ag->pending = pending_new()) == NULL ||
	    (ag->claims = claims_new()) == NULL) {
		r = r != 0 ? r : SG_ERR_ALLOC;
		log_error_r(r, "cannot make the replay table's files in %s",
		    ag->state_dir != NULL ? ag->state_dir : "the audit log's directory");
		return 2;
	}
	if ((r = audit_open(cfg->audit_log, have_cp ? &last_cp : NULL, pipeline_audit_replay, ag,
		 &ag->audit, errbuf, sizeof(errbuf))) != 0) {
		log_error("%s", r == SG_ERR_ALLOC ? sg_strerror(r) : errbuf);
		return 2;
	}
	ag->decision_rides_store = store_syncs_path(ag->store, cfg->audit_log);
	if (asprintf(&ag->checkpoints_buf, "%.*s/audit/checkpoints/",
		(int)store_base_len(cfg->store), cfg->store) == -1) {
		ag->checkpoints_buf = NULL;
		return 1;
	}
	ag->checkpoints = ag->checkpoints_buf;
	if ((r = checkpointer_start(ag, have_cp ? &last_cp : NULL, &ag->cpr)) != 0) {
		log_error_r(r, "cannot start the checkpoint thread");
		return 1;
	}
	return 0;
}

void
agent_close(struct agent *ag, int clean_stop)
{
	const struct agent_config *cfg = ag->cfg;

	checkpointer_stop(ag->cpr);
	ag->cpr = NULL;
	webhooks_stop(ag->webhooks, WEBHOOK_DRAIN_S);
	if (ag->webhooks != NULL)
		metrics_webhook_failures(ag->metrics, webhooks_failures(ag->webhooks));
	if (ag->metrics != NULL && ag->audit != NULL && ag->replay != NULL &&
	    metrics_write(ag->metrics, cfg->metrics_file, replay_count(ag->replay),
		audit_count(ag->audit), cfg, !clean_stop) != 0)
		log_warn("cannot write the metrics file %s", cfg->metrics_file);
	metrics_free(ag->metrics);
	audit_close(ag->audit);
	config_live_free(ag->live);
	quota_free(ag->quota);
	replay_free(ag->replay);
	idset_free(ag->ids);
	attempts_free(ag->attempts);
	claims_free(ag->claims);
	pending_free(ag->pending);
	store_close(ag->store);
	EVP_PKEY_free(ag->attest_pub);
	hsm_close(ag->hsm);
	free(ag->checkpoints_buf);
	free(ag->state_dir);
	memset(ag, 0, sizeof(*ag));
}
