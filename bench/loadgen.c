/*
 * loadgen.c — the load generator of the benchmark (bench/run.sh drives it).
 *
 * Pre-builds N signed jobs (DSSE envelopes, as submit-job makes them) from
 * K submitter PEM keys, XADDs them to <prefix>jobs (pipelined, or at a fixed
 * rate), and times every job from its push to the LPUSH of its done list
 * (seen through a Redis keyspace notification, so no polling skews the
 * clock).  Then every result is read back and checked as submit-job would:
 * attestation signature under the pinned agent key, result payload, id,
 * job_sha256, status, key and artifact, and the signature itself against
 * the leaf certificate.  Prints "name value" lines for run.sh.
 *
 *   loadgen -s SOCKET -a AGENT.pub -k KEYNAME -m MECH [-n N] [-r RATE]
 *           [-t TIMEOUT_S] [-P PREFIX] [-p NAME=PID]... SUBMITTER.key...
 *
 * -p NAME=PID: also report the CPU time (user + system, all threads) that
 * process PID spent per job from the first push to the last result, as
 * "cpu_per_job_ms NAME VALUE"; the load generator's own is "loadgen".
 *
 * RATE 0 (default): all jobs pipelined at once (maximum throughput).
 * Job ids are a random 64-bit run nonce followed by the job index in hex,
 * so a notification names its job without a lookup table.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "envelope.h"
#include "job.h"
#include "queue.h"
#include "result.h"
#include "sgtime.h"
#include "util.h"

#define LG_JOBS_MAX      2000000
#define LG_KEYS_MAX      64
#define LG_PIPELINE      256     /* XADDs in flight on the pushing connection */
#define LG_ARTIFACT_SIZE 1048576 /* claimed size of each artifact */
#define LG_LIFETIME_S    600
#define LG_PROCS_MAX     8

struct lg_job {
	char id[JOB_ID_LEN + 1];
	char *env;
	size_t env_len;
	char job_sha256[SHA256_HEX_LEN + 1];
	uint8_t digest[SHA256_LEN];
	int64_t t_push; /* ns, CLOCK_MONOTONIC; 0 = not pushed */
	int64_t t_done; /* ns; 0 = no result seen */
};

struct lg {
	const char *sock;
	const char *prefix;
	const char *key_name;
	enum sg_mech mech;
	double rate;
	int timeout_s;
	size_t n;
	struct lg_job *jobs;
	uint64_t nonce;
	char nonce_hex[17];
	/* shared between threads */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t ndone;
	int push_failed;
	int sub_ready;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s\n", what);
	exit(2);
}

/* Builds job i: payload, DSSE signature with the submitter key, envelope. */
static int
build_one(struct lg *g, size_t i, EVP_PKEY *key, const char *keyid)
{
	struct lg_job *j = &g->jobs[i];
	struct sg_job job;
	struct dsse_envelope *env = NULL;
	char name[64], *payload = NULL;
	size_t payload_len = 0, sig_len = 0;
	uint8_t *sig = NULL, h[SHA256_LEN];
	int r;

	memset(&job, 0, sizeof(job));
	snprintf(j->id, sizeof(j->id), "%s%016zx", g->nonce_hex, i);
	snprintf(name, sizeof(name), "bench-%zu.bin", i);
	if (RAND_bytes(j->digest, SHA256_LEN) != 1)
		return SG_ERR_CRYPTO;
	job.v = 1;
	memcpy(job.id, j->id, sizeof(job.id));
	job.created = sgtime_now();
	job.expires = job.created + LG_LIFETIME_S;
	job.key = (char *)(uintptr_t)g->key_name;
	job.format = SG_FORMAT_RAW;
	job.artifact.name = name;
	memcpy(job.artifact.sha256, j->digest, SHA256_LEN);
	job.artifact.size = LG_ARTIFACT_SIZE;
	if ((r = job_serialize(&job, &payload, &payload_len)) != 0)
		goto out;
	crypto_sha256(payload, payload_len, h);
	hex_encode(h, SHA256_LEN, j->job_sha256);
	if ((r = crypto_dsse_sign(key, PAYLOAD_TYPE_JOB, (const uint8_t *)payload, payload_len,
		 &sig, &sig_len)) != 0 ||
	    (r = envelope_new(PAYLOAD_TYPE_JOB, (const uint8_t *)payload, payload_len, &env)) !=
		0 ||
	    (r = envelope_add_sig(env, keyid, sig, sig_len, NULL, 0)) != 0 ||
	    (r = envelope_serialize(env, &j->env, &j->env_len)) != 0)
		goto out;
	r = 0;
out:
	envelope_free(env);
	free(sig);
	free(payload);
	return r;
}

static redisContext *
lg_connect(const struct lg *g)
{
	redisContext *c = redisConnectUnix(g->sock);

	if (c == NULL || c->err) {
		fprintf(stderr, "loadgen: cannot connect to %s: %s\n", g->sock,
		    c ? c->errstr : "out of memory");
		exit(2);
	}
	return c;
}

/* Waits for LPUSH notifications on <prefix>done:<nonce><index>. */
static void *
collector(void *arg)
{
	struct lg *g = arg;
	redisContext *c = lg_connect(g);
	redisReply *rep;
	char want[QUEUE_PREFIX_MAX + 32];
	size_t wlen;

	snprintf(want, sizeof(want), "%sdone:%s", g->prefix, g->nonce_hex);
	wlen = strlen(want);
	rep = redisCommand(c, "CONFIG SET notify-keyspace-events El");
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		die("CONFIG SET notify-keyspace-events failed");
	freeReplyObject(rep);
	rep = redisCommand(c, "SUBSCRIBE __keyevent@0__:lpush");
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		die("SUBSCRIBE failed");
	freeReplyObject(rep);
	pthread_mutex_lock(&g->lock);
	g->sub_ready = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	for (;;) {
		void *vr = NULL;
		int64_t t;

		pthread_mutex_lock(&g->lock);
		if (g->ndone == g->n || g->push_failed) {
			pthread_mutex_unlock(&g->lock);
			break;
		}
		pthread_mutex_unlock(&g->lock);
		if (redisGetReply(c, &vr) != REDIS_OK)
			die("lost the notification connection");
		t = now_ns();
		rep = vr;
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
		    rep->element[2]->type == REDIS_REPLY_STRING &&
		    rep->element[2]->len == wlen + 16 &&
		    memcmp(rep->element[2]->str, want, wlen) == 0) {
			uint8_t ib[8];
			uint64_t idx = 0;
			size_t k;

			if (hex_decode(rep->element[2]->str + wlen, 16, ib, sizeof(ib)) == 0) {
				for (k = 0; k < nitems(ib); k++)
					idx = idx << 8 | ib[k];
				pthread_mutex_lock(&g->lock);
				if (idx < g->n && g->jobs[idx].t_done == 0) {
					g->jobs[idx].t_done = t;
					g->ndone++;
				}
				pthread_mutex_unlock(&g->lock);
			}
		}
		freeReplyObject(rep);
	}
	redisFree(c);
	return NULL;
}

static int
check_xadd_reply(redisReply *rep)
{
	int ok = rep != NULL && rep->type == REDIS_REPLY_STRING;

	if (rep != NULL)
		freeReplyObject(rep);
	return ok ? 0 : -1;
}

/* Pushes every job: pipelined (rate 0) or one every 1/rate seconds. */
static void *
pusher(void *arg)
{
	struct lg *g = arg;
	redisContext *c = lg_connect(g);
	char stream[QUEUE_PREFIX_MAX + 8];
	const char *argv[5];
	size_t argl[5], i, sent = 0, acked = 0;
	int64_t t0;

	snprintf(stream, sizeof(stream), "%sjobs", g->prefix);
	argv[0] = "XADD";
	argv[1] = stream;
	argv[2] = "*";
	argv[3] = "env";
	argl[0] = 4;
	argl[1] = strlen(stream);
	argl[2] = 1;
	argl[3] = 3;
	t0 = now_ns();
	for (i = 0; i < g->n; i++) {
		void *vr;

		if (g->rate > 0) {
			int64_t due = t0 + (int64_t)((double)i * 1e9 / g->rate);
			struct timespec ts = { (time_t)(due / 1000000000),
				(long)(due % 1000000000) };
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		}
		argv[4] = g->jobs[i].env;
		argl[4] = g->jobs[i].env_len;
		g->jobs[i].t_push = now_ns();
		if (redisAppendCommandArgv(c, nitems(argv), argv, argl) != REDIS_OK)
			goto fail;
		sent++;
		/* Keep at most LG_PIPELINE in flight (one at a time at a fixed rate). */
		while (sent - acked >= (g->rate > 0 ? 1 : LG_PIPELINE)) {
			if (redisGetReply(c, &vr) != REDIS_OK || check_xadd_reply(vr) != 0)
				goto fail;
			acked++;
		}
	}
	while (acked < sent) {
		void *vr;
		if (redisGetReply(c, &vr) != REDIS_OK || check_xadd_reply(vr) != 0)
			goto fail;
		acked++;
	}
	redisFree(c);
	return NULL;
fail:
	fprintf(stderr, "loadgen: XADD failed after %zu jobs\n", acked);
	pthread_mutex_lock(&g->lock);
	g->push_failed = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	redisFree(c);
	return NULL;
}

/* Checks the result of job j as submit-job does; 0 when signed and right. */
static int
verify_one(
    struct lg *g, struct queue *q, EVP_PKEY *agent, const char *agent_keyid, const struct lg_job *j)
{
	struct dsse_envelope *env = NULL;
	struct sg_result *res = NULL;
	X509 *leaf = NULL;
	const unsigned char *p;
	char *buf = NULL;
	size_t len = 0, i;
	int ok = 0, r = -1;

	if (queue_get_result(q, j->id, &buf, &len) != 0)
		goto out;
	if (envelope_parse(buf, len, &env) != 0 ||
	    strcmp(env->payload_type, PAYLOAD_TYPE_RESULT) != 0)
		goto out;
	for (i = 0; i < env->nsigs && !ok; i++)
		ok = strcmp(env->sigs[i].keyid, agent_keyid) == 0 &&
		    crypto_dsse_verify(agent, env->payload_type, env->payload, env->payload_len,
			env->sigs[i].sig, env->sigs[i].sig_len) == 0;
	if (!ok || result_parse(env->payload, env->payload_len, &res) != 0)
		goto out;
	if (strcmp(res->id, j->id) != 0 || strcmp(res->job_sha256, j->job_sha256) != 0 ||
	    res->status != SG_STATUS_SIGNED || res->key == NULL ||
	    strcmp(res->key, g->key_name) != 0 || !res->has_artifact ||
	    memcmp(res->artifact.sha256, j->digest, SHA256_LEN) != 0 || res->ncerts == 0)
		goto out;
	p = res->certs[0].data;
	if ((leaf = d2i_X509(NULL, &p, (long)res->certs[0].len)) == NULL)
		goto out;
	if (crypto_verify_digest(X509_get0_pubkey(leaf), g->mech, j->digest, res->signature.data,
		res->signature.len) != 0)
		goto out;
	r = 0;
out:
	X509_free(leaf);
	result_free(res);
	envelope_free(env);
	free(buf);
	return r;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n], in ms. */
static double
pct_ms(const int64_t *v, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1e6;
}

/* user + system CPU of process pid (all its threads), in ms; -1 if gone. */
static double
proc_cpu_ms(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "pid (comm) ", comm may hold anything: skip to the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -s SOCKET -a AGENT.pub -k KEYNAME -m MECH [-n N] [-r RATE]"
	    " [-t TIMEOUT_S] [-P PREFIX] [-p NAME=PID]... SUBMITTER.key...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct lg g;
	EVP_PKEY *keys[LG_KEYS_MAX], *agent = NULL;
	char keyids[LG_KEYS_MAX][KEYID_LEN + 1], agent_keyid[KEYID_LEN + 1];
	const char *agent_path = NULL;
	struct queue_opts qo;
	struct queue *q = NULL;
	pthread_t tp, tc;
	uint64_t u;
	uint8_t nb[8];
	size_t nkeys = 0, i, nlat = 0, nbad = 0;
	int64_t *lat, first = 0, last = 0, t_build, deadline;
	char url[QUEUE_URL_MAX + 1];
	const char *pname[LG_PROCS_MAX];
	long ppid[LG_PROCS_MAX];
	double pcpu[LG_PROCS_MAX], self_cpu;
	size_t nproc = 0;
	char *eq;
	int c;

	memset(&g, 0, sizeof(g));
	g.n = 1000;
	g.timeout_s = 600;
	g.prefix = QUEUE_DEFAULT_PREFIX;
	g.mech = SG_MECH_ECDSA_SHA256;
	while ((c = getopt(argc, argv, "s:a:k:m:n:r:t:P:p:")) != -1) {
		switch (c) {
		case 's':
			g.sock = optarg;
			break;
		case 'a':
			agent_path = optarg;
			break;
		case 'k':
			g.key_name = optarg;
			break;
		case 'm':
			if (sg_mech_parse(optarg, &g.mech) != 0)
				usage();
			break;
		case 'n':
			if (parse_u64(optarg, LG_JOBS_MAX, &u) != 0 || u == 0)
				usage();
			g.n = (size_t)u;
			break;
		case 'r':
			if (parse_u64(optarg, 1000000, &u) != 0)
				usage();
			g.rate = (double)u;
			break;
		case 't':
			if (parse_u64(optarg, 86400, &u) != 0 || u == 0)
				usage();
			g.timeout_s = (int)u;
			break;
		case 'P':
			g.prefix = optarg;
			break;
		case 'p':
			if (nproc == LG_PROCS_MAX || (eq = strchr(optarg, '=')) == NULL ||
			    parse_u64(eq + 1, 1u << 22, &u) != 0 || u == 0)
				usage();
			*eq = '\0';
			pname[nproc] = optarg;
			ppid[nproc++] = (long)u;
			break;
		default:
			usage();
		}
	}
	if (g.sock == NULL || agent_path == NULL || g.key_name == NULL || optind >= argc ||
	    strlen(g.prefix) > QUEUE_PREFIX_MAX)
		usage();
	for (; optind < argc; optind++) {
		if (nkeys == LG_KEYS_MAX)
			die("too many submitter keys");
		if (crypto_load_privkey(argv[optind], &keys[nkeys]) != 0 ||
		    crypto_keyid(keys[nkeys], keyids[nkeys]) != 0)
			die("cannot load a submitter key");
		nkeys++;
	}
	if (crypto_load_pubkey(agent_path, &agent) != 0 || crypto_keyid(agent, agent_keyid) != 0)
		die("cannot load the agent public key");
	if (RAND_bytes(nb, sizeof(nb)) != 1)
		die("RAND_bytes");
	hex_encode(nb, sizeof(nb), g.nonce_hex);
	if ((g.jobs = calloc(g.n, sizeof(*g.jobs))) == NULL ||
	    (lat = calloc(g.n, sizeof(*lat))) == NULL)
		die("out of memory");
	t_build = now_ns();
	for (i = 0; i < g.n; i++)
		if (build_one(&g, i, keys[i % nkeys], keyids[i % nkeys]) != 0)
			die("cannot build a job");
	printf("build_jobs_per_s %.0f\n", (double)g.n / ((double)(now_ns() - t_build) / 1e9));
	fflush(stdout);

	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cond, NULL);
	if (pthread_create(&tc, NULL, collector, &g) != 0)
		die("pthread_create");
	pthread_mutex_lock(&g.lock);
	while (!g.sub_ready)
		pthread_cond_wait(&g.cond, &g.lock);
	pthread_mutex_unlock(&g.lock);
	for (i = 0; i < nproc; i++)
		pcpu[i] = proc_cpu_ms(ppid[i]);
	self_cpu = self_cpu_ms();
	if (pthread_create(&tp, NULL, pusher, &g) != 0)
		die("pthread_create");
	pthread_join(tp, NULL);
	deadline = now_ns() + (int64_t)g.timeout_s * 1000000000;
	for (;;) {
		struct timespec ts = { 0, 50000000 };
		size_t d;
		int pf;

		pthread_mutex_lock(&g.lock);
		d = g.ndone;
		pf = g.push_failed;
		pthread_mutex_unlock(&g.lock);
		if (d == g.n || pf || now_ns() > deadline)
			break;
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&g.lock);
	if (g.ndone < g.n) {
		/* Wake the collector with a notification of our own. */
		redisContext *w = lg_connect(&g);
		redisReply *rep;

		g.push_failed = 1;
		pthread_mutex_unlock(&g.lock);
		rep = redisCommand(w, "LPUSH %swake 1", g.prefix);
		freeReplyObject(rep);
		rep = redisCommand(w, "DEL %swake", g.prefix);
		freeReplyObject(rep);
		redisFree(w);
	} else {
		pthread_mutex_unlock(&g.lock);
	}
	pthread_join(tc, NULL);
	/* CPU over the run: first push to last result (the collector has
	 * just seen it), before the results are read back and checked. */
	for (i = 0; i < nproc; i++) {
		double now_cpu = proc_cpu_ms(ppid[i]);

		pcpu[i] = pcpu[i] < 0 || now_cpu < 0 ? -1 : now_cpu - pcpu[i];
	}
	self_cpu = self_cpu_ms() - self_cpu;

	for (i = 0; i < g.n; i++) {
		const struct lg_job *j = &g.jobs[i];
		if (j->t_push == 0 || j->t_done == 0)
			continue;
		lat[nlat++] = j->t_done - j->t_push;
		if (first == 0 || j->t_push < first)
			first = j->t_push;
		if (j->t_done > last)
			last = j->t_done;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_i64);

	/* Every result, checked as submit-job checks it. */
	snprintf(url, sizeof(url), "unix://%s", g.sock);
	memset(&qo, 0, sizeof(qo));
	qo.url = url;
	qo.prefix = g.prefix;
	if (queue_open(&qo, &q) != 0)
		die("queue_open");
	for (i = 0; i < g.n; i++)
		if (g.jobs[i].t_done == 0 || verify_one(&g, q, agent, agent_keyid, &g.jobs[i]) != 0)
			nbad++;
	queue_close(q);

	printf("jobs %zu\nresults %zu\nverified %zu\nbad %zu\n", g.n, nlat, g.n - nbad, nbad);
	if (nlat > 0) {
		double secs = (double)(last - first) / 1e9;
		printf("seconds %.3f\nthroughput_jps %.1f\n", secs,
		    secs > 0 ? (double)nlat / secs : 0.0);
		printf("lat_p50_ms %.3f\nlat_p90_ms %.3f\nlat_p99_ms %.3f\nlat_max_ms %.3f\n",
		    pct_ms(lat, nlat, 50), pct_ms(lat, nlat, 90), pct_ms(lat, nlat, 99),
		    (double)lat[nlat - 1] / 1e6);
	}
	if (g.rate > 0)
		printf("offered_jps %.1f\n", g.rate);
	if (nlat > 0) {
		for (i = 0; i < nproc; i++)
			if (pcpu[i] >= 0)
				printf(
				    "cpu_per_job_ms %s %.3f\n", pname[i], pcpu[i] / (double)nlat);
		printf("cpu_per_job_ms loadgen %.3f\n", self_cpu / (double)nlat);
	}
	for (i = 0; i < g.n; i++)
		free(g.jobs[i].env);
	for (i = 0; i < nkeys; i++)
		EVP_PKEY_free(keys[i]);
	EVP_PKEY_free(agent);
	free(g.jobs);
	free(lat);
	return nbad == 0 ? 0 : 1;
}
