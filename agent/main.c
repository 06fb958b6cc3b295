/*
 * signet-agent — the daemon on the HSM host (docs/agent.md,
 * docs/architecture.md).
 *
 * Options, signals and the reader loop.  Start-up (agent.c): the
 * configuration, then signet-signer (which reads the same file and holds
 * the HSM), then the drop to `user`, then everything that touches hostile
 * input.  One reader thread (this one) pulls entries from
 * the consumer group in batches and hands them to `sessions` ×
 * WORKERS_PER_SESSION worker threads through a bounded queue; each worker
 * owns its own Redis connection and signs through one of the signer's
 * channels.  Only outbound connections are made.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "config_live.h"
#include "envcheck.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pending.h"
#include "pipeline.h"
#include "replay.h"
#include "audit.h"
#include "claims.h"
#include "sgtime.h"
#include "workq.h"

#define READ_BLOCK_MS          1000
#define BACKOFF_MIN_MS         100
#define BACKOFF_MAX_MS         5000
#define ERRBUF_LEN             512
#define MMAP_THRESHOLD_BYTES   (128 * 1024)
#define MALLOC_ARENAS          4
#define TRIM_INTERVAL_MS       10000   /* free pages inside malloc's heaps go back */
#define CERT_CHECK_INTERVAL_MS 3600000 /* how often the keys' certificates are looked at */

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;
static const char *reload_path; /* the configuration file SIGHUP reloads */

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

/* Connects until it works or a stop is requested. */
static struct queue *
connect_with_backoff(const struct queue_opts *opts, const char *who)
{
	struct queue *q = NULL;
	char why[QUEUE_REASON_MAX], shown[QUEUE_URL_MAX + 8];
	long delay = 0;
	int r, warned = 0;

	while (!stop_requested) {
		if ((r = queue_open_reason(opts, &q, why, sizeof(why))) == 0) {
			if (warned)
				log_info("%s: connected to the queue again", who);
			return q;
		}
		if (!warned || delay >= BACKOFF_MAX_MS / 2) {
			queue_url_display(opts->url, shown, sizeof(shown));
			log_warn("%s: cannot connect to %s: %s; retrying", who, shown,
			    why[0] ? why : sg_strerror(r));
		}
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

	while (workq_pop(w->wq, &it) == 0) {
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
		workq_done(w->wq, it.slot);
		free(it.e.env);
	}
	queue_close(q);
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signet-agent -c CONFIG [--check] [--log-format plain|json] [-v]\n"
	    "\n"
	    "  -c, --config PATH     agent configuration (JSON, docs/configuration.md)\n"
	    "      --check           validate configuration, policy, HSM keys and\n"
	    "                        certificates, the PIN file, store, audit log\n"
	    "                        directory and Redis, then exit (0 when all is well)\n"
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

/* queue_touch() on every entry in flight, and on the entries of jobs
 * waiting for approvals kept here (pending.h), in batches; then the claims
 * of the jobs being signed are refreshed while they are still this
 * process's (queue_refresh_claims: one WATCH/MGET and one MULTI/EXEC per
 * batch). */
static int
touch_inflight(struct agent *ag, struct queue *q, const char *consumer, struct work_queue *wq)
{
	static char ids[INFLIGHT_MAX + PENDING_MAX][QUEUE_ENTRY_ID_MAX + 1]; /* the reader's only */
	static char jobs[CLAIMS_MAX][JOB_ID_LEN + 1];
	const char *ptrs[QUEUE_CLAIM_MAX];
	int ours[QUEUE_CLAIM_MAX];
	size_t n = workq_inflight(wq, ids), i, k, j;
	int r;

	n += pending_list(ag->pending, ids + n, NULL, PENDING_MAX);
	for (i = 0; i < n; i += k) {
		for (k = 0; k < QUEUE_CLAIM_MAX && i + k < n; k++)
			ptrs[k] = ids[i + k];
		if ((r = queue_touch(q, consumer, ptrs, k)) != 0)
			return r;
	}
	n = claims_list(ag->claims, jobs, CLAIMS_MAX);
	for (i = 0; i < n; i += k) {
		for (k = 0; k < QUEUE_CLAIM_MAX && i + k < n; k++)
			ptrs[k] = jobs[i + k];
		r = queue_refresh_claims(q, ag->consumer, ptrs, k, ag->cfg->reclaim_after, ours);
		if (r == SG_ERR_EXISTS)
			continue; /* claims changing all the time: the next touch */
		if (r != 0)
			return r;
		for (j = 0; j < k; j++)
			if (!ours[j])
				log_warn("job %s: its claim is no longer this process's (held "
					 "up past reclaim_after?); its signature will not be "
					 "released here",
				    ptrs[j]);
	}
	return 0;
}

/*
 * The jobs waiting for approvals kept here: one that expired is taken up
 * again (it is rejected with approval.expired); with check_gone, one whose
 * entry left the stream (decided by another agent, or on an approval
 * here) is forgotten.
 */
static int
sweep_pending(struct agent *ag, struct queue *q, struct work_queue *wq, int check_gone)
{
	static char ids[PENDING_MAX][QUEUE_ENTRY_ID_MAX + 1]; /* the reader's only */
	static int64_t expires[PENDING_MAX];
	struct queue_entry *e;
	size_t n = pending_list(ag->pending, ids, expires, PENDING_MAX), i;
	int64_t now = sgtime_now();
	int r;

	for (i = 0; i < n && workq_free_slots(wq) > 0; i++) {
		if (!check_gone && expires[i] >= now)
			continue;
		e = NULL;
		if ((r = queue_get_entry(q, ids[i], &e)) == SG_ERR_NOT_FOUND) {
			pending_remove(ag->pending, ids[i]);
			continue;
		}
		if (r != 0)
			return r;
		if (expires[i] < now) {
			pending_remove(ag->pending, ids[i]);
			log_info("entry %s: its job expired while waiting for approvals", ids[i]);
			workq_push(wq, e, 0);
		}
		queue_entries_free(e, 1);
	}
	return 0;
}

/*
 * Removes from the group the consumers that earlier runs of this agent left
 * behind: "<name>@<host>/<pid>" with another pid than ours, no pending
 * entry and idle for more than reclaim_after (docs/reliability.md).  A
 * consumer with pending entries is never removed: XGROUP DELCONSUMER would
 * drop them from the group's pending list and no agent could take them
 * over; the reclaim pass moves them to a live consumer first, and a later
 * pass removes the emptied consumer.  Errors are left to the next pass.
 */
static void
remove_dead_consumers(
    struct queue *q, const struct agent_config *cfg, const char *host, const char *self)
{
	struct queue_consumer *cs = NULL;
	char prefix[QUEUE_CONSUMER_MAX + 1];
	size_t n = 0, i, plen, j;
	uint64_t had;
	int r, truncated = 0;

	if (snprintf(prefix, sizeof(prefix), "%s@%s/", cfg->name, host) >= (int)sizeof(prefix))
		return;
	plen = strlen(prefix);
	if ((r = queue_consumers(q, &cs, &n, &truncated)) != 0) {
		if (r != SG_ERR_NOT_FOUND)
			log_debug_r(r, "listing the group's consumers");
		return;
	}
	for (i = 0; i < n; i++) {
		const struct queue_consumer *c = &cs[i];

		if (c->is_truncated || c->name_len != strlen(c->name) || c->name_len <= plen ||
		    memcmp(c->name, prefix, plen) != 0 || strcmp(c->name, self) == 0)
			continue;
		for (j = plen; j < c->name_len && c->name[j] >= '0' && c->name[j] <= '9'; j++)
			;
		if (j != c->name_len || c->pending != 0 || c->idle_ms <= cfg->reclaim_after * 1000)
			continue;
		if ((r = queue_consumer_delete(q, c->name, &had)) != 0) {
			log_debug_r(r, "removing consumer %s", c->name);
			break;
		}
		if (had != 0)
			log_warn("consumer %s: removed from the group with %llu pending entries it "
				 "received after it was listed without any",
			    c->name, (unsigned long long)had);
		else
			log_info("consumer %s: removed from the group (an earlier run of this "
				 "agent, idle for %llds, nothing pending)",
			    c->name, (long long)(c->idle_ms / 1000));
	}
	free(cs);
}

static int
run(struct agent *ag, const struct agent_config *cfg)
{
	struct work_queue *wq = NULL;
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
	int64_t touch_ms = cfg->reclaim_after * 1000 / 3,
		reclaim_ms = cfg->reclaim_after * 1000 / 2;
	int64_t watchdog_ms = notify_watchdog_ms(), next_touch = 0, next_reclaim = 0,
		next_watchdog = 0;
	int64_t next_metrics = 0, next_trim = 0, next_certcheck = 0, next_sweep = 0;
	/* Jobs waiting for approvals are looked at every second or so. */
	int64_t sweep_ms = reclaim_ms < 1000 ? reclaim_ms : 1000;
	/* Block no longer than the touch period, so touches are never late. */
	int block_ms =
	    touch_ms < READ_BLOCK_MS ? (touch_ms > 50 ? (int)touch_ms : 50) : READ_BLOCK_MS;
	long delay = 0;
	int r, lost = 0;
	struct log_fields lf;

	config_queue_opts(cfg, &qopts);
	if ((q = connect_with_backoff(&qopts, "reader")) == NULL)
		return 0;
	while ((r = queue_group_create(q)) != 0 && !stop_requested) {
		log_warn_r(r, "cannot create the consumer group; retrying");
		queue_close(q);
		sleep_ms(delay = backoff_next(delay));
		if ((q = connect_with_backoff(&qopts, "reader")) == NULL)
			return 0;
	}
	gethostname(host, sizeof(host) - 1);
	/* The value of this process's claims (docs/reliability.md): the
	 * consumer name below, before any worker may claim a job. */
	snprintf(ag->consumer, sizeof(ag->consumer), "%s@%s/%ld", cfg->name, host, (long)getpid());
	if ((wq = workq_new()) == NULL || (workers = calloc(nworkers, sizeof(*workers))) == NULL) {
		workq_free(wq);
		queue_close(q);
		return SG_ERR_ALLOC;
	}
	for (i = 0; i < nworkers; i++) {
		workers[i].index = (unsigned)i;
		workers[i].ag = ag;
		workers[i].wq = wq;
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
	memset(&lf, 0, sizeof(lf));
	lf.agent = cfg->name;
	lf.consumer = consumer;
	lf.has = LOG_HAS_WORKERS;
	lf.workers = (int64_t)nworkers;
	log_event(LOG_LEVEL_INFO, "start", &lf, "agent %s started: %zu workers, consumer %s",
	    cfg->name, nworkers, consumer);
	remove_dead_consumers(q, cfg, host, consumer);

	notify_send("READY=1");
	delay = 0;
	while (!stop_requested) {
		size_t room = workq_free_slots(wq);
		int64_t now = sgtime_mono_ms();

		if (reload_requested) {
			reload_requested = 0;
			agent_reload(ag, reload_path);
		}
		if (hsm_lost(ag->hsm)) {
			log_error(
			    "the signer exited and cannot be started again without the rights "
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
			agent_check_certs(ag);
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
			struct queue_oldest old;
			int64_t wall_ms = sgtime_now() * 1000;
			if (ag->webhooks != NULL)
				metrics_webhook_failures(
				    ag->metrics, webhooks_failures(ag->webhooks));
			if (queue_length(q, &depth) == 0)
				metrics_queue_depth(ag->metrics, depth);
			if (queue_oldest(q, &old) == 0)
				metrics_queue_age(ag->metrics,
				    old.pending_ms > 0 ? (wall_ms - old.pending_ms) / 1000 : 0,
				    old.undelivered_ms > 0 ? (wall_ms - old.undelivered_ms) / 1000
							   : 0);
			metrics_approvals_pending(ag->metrics, pending_count(ag->pending));
			if (metrics_write(ag->metrics, cfg->metrics_file, replay_count(ag->replay),
				audit_count(ag->audit), cfg, 1) != 0)
				log_warn("cannot write the metrics file %s", cfg->metrics_file);
			next_metrics = now + cfg->metrics_interval * 1000;
		}
		r = 0;
		/* Keep the entries in work from looking abandoned to other agents;
		 * look after the jobs waiting for approvals. */
		if (now >= next_touch) {
			r = touch_inflight(ag, q, consumer, wq);
			if (r == 0)
				r = sweep_pending(ag, q, wq, 1);
			next_touch = now + touch_ms;
			next_sweep = now + sweep_ms;
		} else if (now >= next_sweep) {
			r = sweep_pending(ag, q, wq, 0);
			next_sweep = now + sweep_ms;
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
				log_info(
				    "entry %s: taken over (%llu deliveries, %u attempts here)%s",
				    entries[i].id, (unsigned long long)entries[i].deliveries, tries,
				    dead ? ", to the dead letters" : "");
				workq_push(wq, &entries[i], dead);
			}
			queue_entries_free(entries, n);
			entries = NULL;
			room = workq_free_slots(wq);
			if (r == 0)
				remove_dead_consumers(q, cfg, host, consumer);
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
			workq_push(wq, &entries[i], 0);
		queue_entries_free(entries, n);
		entries = NULL;
	}
	notify_send("STOPPING=1");
	log_event(LOG_LEVEL_INFO, "stopping", &lf, "stopping: finishing the jobs in hand");
	workq_close(wq);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i].thread, NULL);
	free(workers);
	queue_close(q);
	workq_free(wq);
	return lost ? SG_ERR_HSM_UNAVAILABLE : 0;
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
	struct sigaction sa;
	const char *config_path = NULL;
	char errbuf[ERRBUF_LEN];
	enum log_format lf = LOG_FORMAT_PLAIN;
	enum log_level level = LOG_LEVEL_INFO;
	int ch, check_only = 0, r, status = 1, clean = 0;

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
	if ((status = agent_open(&ag, cfg, config_path, check_only)) != 0)
		goto out;
	if (check_only) {
		printf("signet-agent: %s: configuration, %zu keys, %zu submitters, the HSM, the "
		       "store, the audit log's directory and Redis are in order; "
		       "attestation keyid %s\n",
		    config_path, cfg->nkeys, cfg->nsubmitters, ag.attest_keyid);
		goto out;
	}
	reload_path = config_path;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	status = run(&ag, cfg) == 0 ? 0 : 1;
	clean = status == 0;
	log_event(LOG_LEVEL_INFO, "stop", NULL, "stopped");
out:
	agent_close(&ag, clean);
	config_free(cfg);
	return status;
}
