/*
 * signet-agent — the daemon on the HSM host (docs/agent.md,
 * docs/architecture.md).
 *
 * Start-up: the configuration, then signet-signer (which reads the same
 * file and holds the HSM), then the drop to `user`, then everything that
 * touches hostile input.  One reader thread (this one) pulls entries from
 * the consumer group in batches and hands them to `sessions` ×
 * WORKERS_PER_SESSION worker threads through a bounded queue; each worker
 * owns its own Redis connection and signs through one of the signer's
 * channels.  Only outbound connections are made.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "checkpointer.h"
#include "cli.h"
#include "config.h"
#include "config_live.h"
#include "crypto.h"
#include "log.h"
#include "notify.h"
#include "pipeline.h"
#include "sgtime.h"

#define WORK_QUEUE_MAX 256
/* Workers spend most of a job waiting for a sync (the audit log's intent
 * and decision, the store's two) that they share with every worker waiting
 * at the same time: more of them, more jobs per sync.  8 per session: ECDSA
 * 600 -> 780 jobs/s against 4; 16 did no better on a CPU-bound host and
 * kept ~5 MiB more resident (docs/performance.md). */
#define WORKERS_PER_SESSION 8
#define READ_BLOCK_MS 1000
#define WEBHOOK_DRAIN_S 5    /* at shutdown, for deliveries still queued */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define ERRBUF_LEN 512
#define MMAP_THRESHOLD_BYTES (128 * 1024)
#define MALLOC_ARENAS 4
#define TRIM_INTERVAL_MS 10000 /* free pages inside malloc's heaps go back */
#define CERT_CHECK_INTERVAL_MS 3600000 /* how often the keys' certificates are looked at */

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;
static const char *reload_path;  /* the configuration file SIGHUP reloads */

/* An entry on its way to a worker. */
struct work_item {
	struct queue_entry e;
	int dead;       /* delivered too often: to the dead letters */
	size_t slot;    /* its place in the in-flight table */
};

#define INFLIGHT_MAX (WORK_QUEUE_MAX + HSM_SESSIONS_MAX * WORKERS_PER_SESSION)

struct work_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	struct work_item items[WORK_QUEUE_MAX];
	size_t head, count;
	int closed;
	/* Entries read and not yet finished (queued or with a worker): the
	 * reader keeps them from looking idle to other agents (queue_touch). */
	char inflight[INFLIGHT_MAX][QUEUE_ENTRY_ID_MAX + 1];
	unsigned char inflight_used[INFLIGHT_MAX];
};

struct worker {
	pthread_t thread;
	unsigned index;
	struct agent *ag;
	struct work_queue *wq;
	struct queue_opts qopts;
	char consumer[96];
};

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !stop_requested)
		;
}

/* Exponential backoff with jitter: the next delay after `prev` ms. */
static long
backoff_next(long prev)
{
	unsigned char rnd = 0;
	long next = prev <= 0 ? BACKOFF_MIN_MS : prev * 2;

	if (next > BACKOFF_MAX_MS)
		next = BACKOFF_MAX_MS;
	if (RAND_bytes(&rnd, 1) != 1)
		rnd = 128;
	return next / 2 + (next / 2) * rnd / 255;
}

static int
wq_pop(struct work_queue *wq, struct work_item *ret)
{
	pthread_mutex_lock(&wq->lock);
	while (wq->count == 0 && !wq->closed)
		pthread_cond_wait(&wq->not_empty, &wq->lock);
	if (wq->count == 0) {
		pthread_mutex_unlock(&wq->lock);
		return -1;
	}
	*ret = wq->items[wq->head];
	wq->head = (wq->head + 1) % WORK_QUEUE_MAX;
	wq->count--;
	pthread_cond_signal(&wq->not_full);
	pthread_mutex_unlock(&wq->lock);
	return 0;
}

/* Whether entry id is in flight already; lock held. */
static int
wq_inflight_has(const struct work_queue *wq, const char *id)
{
	size_t i;

	for (i = 0; i < INFLIGHT_MAX; i++) {
		if (wq->inflight_used[i] && strcmp(wq->inflight[i], id) == 0)
			return 1;
	}
	return 0;
}

/* Takes ownership of e's contents (or frees them when the entry is in
 * flight already, as a reclaimed entry of our own may be). */
static void
wq_push(struct work_queue *wq, struct queue_entry *e, int dead)
{
	struct work_item *it;
	size_t slot;

	pthread_mutex_lock(&wq->lock);
	if (wq_inflight_has(wq, e->id)) {
		pthread_mutex_unlock(&wq->lock);
		free(e->env);
		e->env = NULL;
		return;
	}
	while (wq->count == WORK_QUEUE_MAX)
		pthread_cond_wait(&wq->not_full, &wq->lock);
	/* At most WORK_QUEUE_MAX queued plus one per worker: a slot is free. */
	for (slot = 0; slot < INFLIGHT_MAX && wq->inflight_used[slot]; slot++)
		;
	if (slot < INFLIGHT_MAX) {
		wq->inflight_used[slot] = 1;
		memcpy(wq->inflight[slot], e->id, sizeof(wq->inflight[slot]));
	}
	it = &wq->items[(wq->head + wq->count) % WORK_QUEUE_MAX];
	it->e = *e;
	it->dead = dead;
	it->slot = slot;
	wq->count++;
	e->env = NULL;
	pthread_cond_signal(&wq->not_empty);
	pthread_mutex_unlock(&wq->lock);
}

static void
wq_done(struct work_queue *wq, size_t slot)
{
	pthread_mutex_lock(&wq->lock);
	if (slot < INFLIGHT_MAX)
		wq->inflight_used[slot] = 0;
	pthread_mutex_unlock(&wq->lock);
}

/* Copies the ids in flight into ids (INFLIGHT_MAX entries); returns how many. */
static size_t
wq_inflight(struct work_queue *wq, char ids[][QUEUE_ENTRY_ID_MAX + 1])
{
	size_t i, n = 0;

	pthread_mutex_lock(&wq->lock);
	for (i = 0; i < INFLIGHT_MAX; i++) {
		if (wq->inflight_used[i])
			memcpy(ids[n++], wq->inflight[i], QUEUE_ENTRY_ID_MAX + 1);
	}
	pthread_mutex_unlock(&wq->lock);
	return n;
}

static size_t
wq_free_slots(struct work_queue *wq)
{
	size_t n;

	pthread_mutex_lock(&wq->lock);
	n = WORK_QUEUE_MAX - wq->count;
	pthread_mutex_unlock(&wq->lock);
	return n;
}

/* Connects until it works or a stop is requested. */
static struct queue *
connect_with_backoff(const struct queue_opts *opts, const char *who)
{
	struct queue *q = NULL;
	long delay = 0;
	int r, warned = 0;

	while (!stop_requested) {
		if ((r = queue_open(opts, &q)) == 0) {
			if (warned)
				log_info("%s: connected to the queue again", who);
			return q;
		}
		if (!warned || delay >= BACKOFF_MAX_MS / 2)
			log_warn_r(r, "%s: cannot reach the queue; retrying", who);
		warned = 1;
		delay = backoff_next(delay);
		sleep_ms(delay);
	}
	return NULL;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct queue *q = NULL;
	struct work_item it;
	long delay;
	int r;

	while (wq_pop(w->wq, &it) == 0) {
		int received = 0; /* one attempt per delivery, however many retries */

		delay = 0;
		for (;;) {
			if (q == NULL && (q = connect_with_backoff(&w->qopts, w->consumer)) == NULL)
				break; /* stopping: the entry stays pending for reclaim */
			if (it.dead)
				r = pipeline_dead_letter(w->ag, q, &it.e);
			else
				r = pipeline_process(w->ag, q, &it.e, &received);
			if (r == 0)
				break;
			if (r == SG_ERR_QUEUE_UNAVAILABLE || r == SG_ERR_QUEUE_PROTOCOL ||
			    r == SG_ERR_QUEUE_AUTH) {
				queue_close(q);
				q = NULL;
			} else {
				log_warn_r(r, "entry %s: will retry", it.e.id);
			}
			if (stop_requested)
				break;
			delay = backoff_next(delay);
			sleep_ms(delay);
		}
		wq_done(w->wq, it.slot);
		free(it.e.env);
	}
	queue_close(q);
	return NULL;
}

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
		return stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0 ? 0 : -1;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			for (i = 0; i < nitems(rel); i++) {
				if ((size_t)snprintf(buf, len, "%s/%s", exe, rel[i]) < len &&
				    stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
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
			log_error("pkcs11.signer: signet-signer not found; name it in the configuration");
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
		log_warn("pkcs11.isolation is \"none\": the PIN and the HSM sessions are in this process");
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
		          "alone (docs/security.md)", cfg->user, cfg->pkcs11_pin_file);
		r = SG_ERR_CONFIG;
	}
	if (!cfg->pkcs11_in_process && path_dir(cfg->pkcs11_journal, &dir) == 0 &&
	    access(dir, W_OK) == 0) {
		log_error("pkcs11.journal: %s can write %s, and so remove the signer's journal; "
		          "put it in a directory of the signer's", cfg->user, dir);
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
			log_warn("running as root without \"user\": the agent keeps root's rights beside "
			         "the signer (set \"user\", docs/security.md)");
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		log_error("user: no user %s%s%s", cfg->user, errno ? ": " : "", errno ? strerror(errno) : "");
		return SG_ERR_CONFIG;
	}
	if (pw->pw_uid == 0) {
		log_error("user: %s is root; name the unprivileged user the agent runs as", cfg->user);
		return SG_ERR_CONFIG;
	}
	if (uid != 0) {
		if (pw->pw_uid == uid)
			return 0;
		log_error("user: switching to %s needs signet-agent to be started as root (it runs as "
		          "uid %lu)", cfg->user, (unsigned long)uid);
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

/*
 * SIGHUP: loads the configuration again and, when it is valid and leaves
 * every member that the HSM, queue, store and audit log were opened with
 * as it was, makes its policy the one in force for the next jobs (jobs in
 * hand finish under the old one).  Otherwise the old policy stays, and
 * the log says why.
 */
static void
reload_policy(struct agent *ag)
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

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signet-agent -c CONFIG [--check] [--log-format plain|json] [-v]\n"
	    "\n"
	    "  -c, --config PATH     agent configuration (JSON, docs/configuration.md)\n"
	    "      --check           validate configuration, policy, HSM keys and\n"
	    "                        certificates, then exit (0 when all is well)\n"
	    "      --log-format FMT  plain (default) or json lines, on stderr\n"
	    "  -v, --verbose         debug logging\n"
	    "  -h, --help            this text\n"
	    "      --version         print the version\n"
	    "\n"
	    "SIGTERM finishes the jobs in hand and exits; SIGHUP reloads the policy.\n");
}

/* getopt_long() names a bad option itself; the usage follows. */
static const struct cli cli = { .prog = "signet-agent", .usage = usage, .getopt_reports = 1 };

static void
harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	/* No core dumps and no ptrace by our own uid: the process holds a PIN. */
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		log_warn("cannot mark the process non-dumpable");
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		log_warn("cannot disable core dumps");
}

/* queue_touch() on every entry in flight, in batches. */
static int
touch_inflight(struct queue *q, const char *consumer, struct work_queue *wq)
{
	static char ids[INFLIGHT_MAX][QUEUE_ENTRY_ID_MAX + 1]; /* the reader's only */
	const char *ptrs[QUEUE_CLAIM_MAX];
	size_t n = wq_inflight(wq, ids), i, k;
	int r;

	for (i = 0; i < n; i += k) {
		for (k = 0; k < QUEUE_CLAIM_MAX && i + k < n; k++)
			ptrs[k] = ids[i + k];
		if ((r = queue_touch(q, consumer, ptrs, k)) != 0)
			return r;
	}
	return 0;
}

static int
run(struct agent *ag, const struct agent_config *cfg)
{
	struct work_queue wq;
	struct worker *workers = NULL;
	struct queue_opts qopts;
	struct queue *q = NULL;
	struct queue_entry *entries = NULL;
	char host[64] = "host";
	/* More workers than HSM sessions: while one waits for the disk (audit
	 * log, store) or Redis, another uses the session, and the audit log's
	 * and the store's group commits have several jobs to sync at once. */
	size_t n = 0, i, nworkers = cfg->pkcs11_sessions * WORKERS_PER_SESSION;
	/* Entries in work are refreshed three times per reclaim_after; pending
	 * ones are looked for twice per reclaim_after. */
	int64_t touch_ms = cfg->reclaim_after * 1000 / 3, reclaim_ms = cfg->reclaim_after * 1000 / 2;
	int64_t watchdog_ms = notify_watchdog_ms(), next_touch = 0, next_reclaim = 0, next_watchdog = 0;
	int64_t next_metrics = 0, next_trim = 0, next_certcheck = 0;
	/* Block no longer than the touch period, so touches are never late. */
	int block_ms = touch_ms < READ_BLOCK_MS ? (touch_ms > 50 ? (int)touch_ms : 50) : READ_BLOCK_MS;
	long delay = 0;
	int r, lost = 0;

	memset(&qopts, 0, sizeof(qopts));
	qopts.url = cfg->redis;
	qopts.password_file = cfg->redis_password_file;
	qopts.prefix = cfg->prefix;
	if ((q = connect_with_backoff(&qopts, "reader")) == NULL)
		return 0;
	while ((r = queue_group_create(q)) != 0 && !stop_requested) {
		log_warn_r(r, "cannot create the consumer group; retrying");
		queue_close(q);
		sleep_ms(delay = backoff_next(delay));
		if ((q = connect_with_backoff(&qopts, "reader")) == NULL)
			return 0;
	}
	memset(&wq, 0, sizeof(wq));
	pthread_mutex_init(&wq.lock, NULL);
	pthread_cond_init(&wq.not_empty, NULL);
	pthread_cond_init(&wq.not_full, NULL);
	gethostname(host, sizeof(host) - 1);
	if ((workers = calloc(nworkers, sizeof(*workers))) == NULL) {
		queue_close(q);
		return SG_ERR_ALLOC;
	}
	for (i = 0; i < nworkers; i++) {
		workers[i].index = (unsigned)i;
		workers[i].ag = ag;
		workers[i].wq = &wq;
		workers[i].qopts = qopts;
		snprintf(workers[i].consumer, sizeof(workers[i].consumer), "worker-%zu", i);
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			log_error("cannot start worker threads");
			stop_requested = 1;
			nworkers = i;
			break;
		}
	}
	/* One consumer name per agent process: name, host and pid. */
	char consumer[160];
	snprintf(consumer, sizeof(consumer), "%s@%s/%ld", cfg->name, host, (long)getpid());
	log_info("agent %s started: %zu workers, consumer %s", cfg->name, nworkers, consumer);

	notify_send("READY=1");
	delay = 0;
	while (!stop_requested) {
		size_t room = wq_free_slots(&wq);
		int64_t now = sgtime_mono_ms();

		if (reload_requested) {
			reload_requested = 0;
			reload_policy(ag);
		}
		if (hsm_lost(ag->hsm)) {
			log_error("the signer exited and cannot be started again without the rights "
			          "the agent gave up; stopping (the service manager starts both again)");
			lost = 1;
			break;
		}
		if (watchdog_ms > 0 && now >= next_watchdog) {
			notify_send("WATCHDOG=1");
			next_watchdog = now + watchdog_ms / 2;
		}
		if (q == NULL && (q = connect_with_backoff(&qopts, "reader")) == NULL)
			break;
		if (next_certcheck == 0) {
			next_certcheck = now + CERT_CHECK_INTERVAL_MS;
		} else if (now >= next_certcheck) {
			(void)config_cert_validity(cfg, sgtime_now(), log_problem, log_warning, NULL);
			next_certcheck = now + CERT_CHECK_INTERVAL_MS;
		}
		if (now >= next_trim) {
			/* Pages freed in the middle of malloc's heaps stay resident
			 * until trimmed: without this the RSS creeps up with the
			 * fragmentation of many workers' buffers. */
			(void)malloc_trim(0);
			next_trim = now + TRIM_INTERVAL_MS;
		}
		if (cfg->metrics_file != NULL && now >= next_metrics) {
			uint64_t depth;
			if (ag->webhooks != NULL)
				metrics_webhook_failures(ag->metrics, webhooks_failures(ag->webhooks));
			if (queue_length(q, &depth) == 0)
				metrics_queue_depth(ag->metrics, depth);
			if (metrics_write(ag->metrics, cfg->metrics_file, replay_count(ag->replay),
			        audit_count(ag->audit), cfg, 1) != 0)
				log_warn("cannot write the metrics file %s", cfg->metrics_file);
			next_metrics = now + cfg->metrics_interval * 1000;
		}
		r = 0;
		/* Keep the entries in work from looking abandoned to other agents. */
		if (now >= next_touch) {
			r = touch_inflight(q, consumer, &wq);
			next_touch = now + touch_ms;
		}
		/* Take over what dead consumers left pending for reclaim_after. */
		if (r == 0 && room > 0 && now >= next_reclaim) {
			r = queue_reclaim(q, consumer, cfg->reclaim_after * 1000,
			    room < QUEUE_CLAIM_MAX ? room : QUEUE_CLAIM_MAX, &entries, &n);
			next_reclaim = now + reclaim_ms;
			for (i = 0; r == 0 && i < n; i++) {
				/* Our own attempts decide, not Redis's delivery count,
				 * which anyone can raise (XCLAIM ... RETRYCOUNT). */
				unsigned tries = attempts_get(ag->attempts, entries[i].id);
				int dead = tries >= (uint64_t)cfg->max_deliveries;
				log_info("entry %s: taken over (%llu deliveries, %u attempts here)%s",
				    entries[i].id, (unsigned long long)entries[i].deliveries, tries,
				    dead ? ", to the dead letters" : "");
				wq_push(&wq, &entries[i], dead);
			}
			queue_entries_free(entries, n);
			entries = NULL;
			room = wq_free_slots(&wq);
		}
		if (r == 0 && room == 0) {
			sleep_ms(10);
			continue;
		}
		if (r == 0)
			r = queue_read(q, consumer, room < nworkers * 4 ? room : nworkers * 4,
			    block_ms, &entries, &n);
		if (r != 0) {
			log_warn_r(r, "reading the queue");
			queue_close(q);
			q = NULL;
			sleep_ms(delay = backoff_next(delay));
			continue;
		}
		delay = 0;
		for (i = 0; i < n; i++)
			wq_push(&wq, &entries[i], 0);
		queue_entries_free(entries, n);
		entries = NULL;
	}
	notify_send("STOPPING=1");
	log_info("stopping: finishing the jobs in hand");
	pthread_mutex_lock(&wq.lock);
	wq.closed = 1;
	pthread_cond_broadcast(&wq.not_empty);
	pthread_mutex_unlock(&wq.lock);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i].thread, NULL);
	free(workers);
	queue_close(q);
	pthread_mutex_destroy(&wq.lock);
	pthread_cond_destroy(&wq.not_empty);
	pthread_cond_destroy(&wq.not_full);
	return lost ? SG_ERR_HSM_UNAVAILABLE : 0;
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
	}
	for (i = 0; i < cfg->nkeys; i++) {
		for (j = 0; j < cfg->keys[i].nwebhooks; j++, n++) {
			t[n].url = cfg->keys[i].webhooks[j].url;
			t[n].secret_file = cfg->keys[i].webhooks[j].secret_file;
			t[n].ca_file = cfg->keys[i].webhooks[j].ca_file;
			t[n].events = cfg->keys[i].webhooks[j].events;
			t[n].key = cfg->keys[i].name;
		}
	}
	memset(&wo, 0, sizeof(wo));
	r = webhooks_start(t, n, &wo, &ag->webhooks, errbuf, errlen);
	free(t);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_config *cfg = NULL;
	struct agent ag;
	struct checkpoint last_cp;
	struct checkpointer *cpr = NULL;
	struct sigaction sa;
	char *checkpoints = NULL, *replay_dir = NULL;
	int have_cp = 0;
	const char *config_path = NULL;
	char errbuf[ERRBUF_LEN];
	enum log_format lf = LOG_FORMAT_PLAIN;
	enum log_level level = LOG_LEVEL_INFO;
	int ch, check_only = 0, r, status = 1;

	memset(&ag, 0, sizeof(ag));
	while ((ch = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check_only = 1;
			break;
		case 'L':
			if (strcmp(optarg, "json") == 0)
				lf = LOG_FORMAT_JSON;
			else if (strcmp(optarg, "plain") != 0) {
				cli_msg(cli.prog, "--log-format is plain or json");
				return CLI_EXIT_USAGE;
			}
			break;
		case 'v':
			level = LOG_LEVEL_DEBUG;
			break;
		default:
			return cli_getopt_default(&cli, ch, argv);
		}
	}
	if (config_path == NULL || optind != argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	log_init("signet-agent", level, lf);
	harden_process();
	/* Large blocks (the replay table, read buffers) straight from mmap, so
	 * that they go back to the system when freed: glibc would raise its
	 * threshold after the first 1 MiB buffer is freed and keep them in
	 * its arenas from then on. */
	if (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) != 1)
		log_debug("mallopt(M_MMAP_THRESHOLD) refused");
	/* Not one arena per worker thread: every arena keeps the high-water
	 * mark of what its threads once had allocated at the same time. */
	if (mallopt(M_ARENA_MAX, MALLOC_ARENAS) != 1)
		log_debug("mallopt(M_ARENA_MAX) refused");

	if ((r = config_load(config_path, &cfg, errbuf, sizeof(errbuf))) != 0) {
		log_error("%s: %s", config_path, errbuf[0] ? errbuf : sg_strerror(r));
		return 2;
	}
	(void)config_warnings(cfg, log_config_warning, (void *)(uintptr_t)config_path);
	ag.cfg = cfg;
	if ((r = open_hsm(&ag, cfg, config_path)) != 0) {
		status = 2;
		goto out;
	}
	if ((r = drop_privileges(&ag, cfg)) != 0) {
		status = 2;
		goto out;
	}
	if ((r = start_webhooks(&ag, cfg, errbuf, sizeof(errbuf))) != 0) {
		log_error("%s", r == SG_ERR_CONFIG ? errbuf : sg_strerror(r));
		status = 2;
		goto out;
	}
	if ((r = checkpointer_load_state(cfg->audit_log, ag.attest_pub, cfg->audit_origin,
	        &last_cp, errbuf, sizeof(errbuf))) == 0) {
		have_cp = 1;
	} else if (r != SG_ERR_NOT_FOUND) {
		log_error("%s", errbuf);
		status = 2;
		goto out;
	}
	if (config_cert_validity(cfg, sgtime_now(), log_problem, log_warning, NULL) > 0 &&
	    check_only) {
		log_error("--check: a key's certificate is not valid now (see above)");
		status = 2;
		goto out;
	}
	if (check_only) {
		printf("signet-agent: %s: configuration, %zu keys, %zu submitters and the HSM are in order; "
		    "attestation keyid %s\n", config_path, cfg->nkeys, cfg->nsubmitters, ag.attest_keyid);
		status = 0;
		goto out;
	}
	struct store_opts so = { .url = cfg->store, .bearer_token_file = cfg->store_token_file,
		.ca_file = cfg->store_ca_file, .timeout_s = cfg->store_timeout,
		.deadline_s = cfg->store_deadline, .file_mode = cfg->store_mode };
	if ((r = store_open(&so, &ag.store, errbuf, sizeof(errbuf))) != 0) {
		log_error("%s", errbuf);
		status = 2;
		goto out;
	}
	reload_path = config_path;
	if ((ag.quota = quota_new()) == NULL || config_live_new(cfg, &ag.live) != 0) {
		log_error("%s", sg_strerror(SG_ERR_ALLOC));
		status = 2;
		goto out;
	}
	if (cfg->metrics_file != NULL && (ag.metrics = metrics_new()) == NULL) {
		status = 1;
		goto out;
	}
	if ((r = path_dir(cfg->audit_log, &replay_dir)) != 0 ||
	    (r = replay_new(replay_dir, &ag.replay)) != 0 ||
	    (r = idset_new(replay_dir, &ag.ids)) != 0 ||
	    (ag.attempts = attempts_new()) == NULL) {
		r = r != 0 ? r : SG_ERR_ALLOC;
		log_error_r(r, "cannot make the replay table's files in %s",
		    replay_dir != NULL ? replay_dir : "the audit log's directory");
		status = 2;
		goto out;
	}
	if ((r = audit_open(cfg->audit_log, have_cp ? &last_cp : NULL, pipeline_audit_replay, &ag,
	        &ag.audit, errbuf, sizeof(errbuf))) != 0) {
		log_error("%s", r == SG_ERR_ALLOC ? sg_strerror(r) : errbuf);
		status = 2;
		goto out;
	}
	if (asprintf(&checkpoints, "%.*s/audit/checkpoints/", (int)store_base_len(cfg->store),
	        cfg->store) == -1) {
		checkpoints = NULL;
		status = 1;
		goto out;
	}
	ag.checkpoints = checkpoints;
	if ((r = checkpointer_start(&ag, have_cp ? &last_cp : NULL, &cpr)) != 0) {
		log_error_r(r, "cannot start the checkpoint thread");
		status = 1;
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	status = run(&ag, cfg) == 0 ? 0 : 1;
	checkpointer_stop(cpr);
	cpr = NULL;
	log_info("stopped");
 out:
	checkpointer_stop(cpr);
	webhooks_stop(ag.webhooks, WEBHOOK_DRAIN_S);
	if (ag.webhooks != NULL)
		metrics_webhook_failures(ag.metrics, webhooks_failures(ag.webhooks));
	if (ag.metrics != NULL && ag.audit != NULL && ag.replay != NULL &&
	    metrics_write(ag.metrics, cfg->metrics_file, replay_count(ag.replay),
	        audit_count(ag.audit), cfg, 0) != 0)
		log_warn("cannot write the metrics file %s", cfg->metrics_file);
	metrics_free(ag.metrics);
	audit_close(ag.audit);
	config_live_free(ag.live);
	quota_free(ag.quota);
	replay_free(ag.replay);
	idset_free(ag.ids);
	attempts_free(ag.attempts);
	store_close(ag.store);
	EVP_PKEY_free(ag.attest_pub);
	hsm_close(ag.hsm);
	config_free(cfg);
	free(checkpoints);
	free(replay_dir);
	return status;
}
