/*
 * pathcost.c — what the fixed parts of a signed job cost the agent, each
 * alone, in CPU time (user + system, every thread) per job.
 *
 *   pathcost [-n JOBS] [-t THREADS] DIR
 *
 * In DIR (on the filesystem the agent's audit log and file store use):
 *   verify  the three ECDSA P-256 verifications of a job (the submitter's
 *           envelope, the self-checks of the signature and of the result's
 *           attestation), crypto_verify() over a 1 KiB message;
 *   audit   the five records of a signed job (received, intent, signature,
 *           decision, published; the intent and the decision durable), with
 *           THREADS appenders sharing its group commit as the workers do;
 *   store   store_put_job() of a job's two objects (a 72-byte signature,
 *           a 4.3 KiB result.json) into a file:// store, THREADS writers
 *           sharing its syncs.
 * Prints "pathcost_<part>_ms <CPU ms per job>" and "pathcost_sum_ms".
 * bench/run.sh puts them beside the agent's CPU per job of the same run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit.h"
#include "crypto.h"
#include "store.h"
#include "util.h"

#define THREADS_MAX 64
#define SIG_BYTES   72
#define RESULT_LEN  4300

struct part {
	const char *dir;
	unsigned long jobs; /* per thread */
	unsigned index;
	struct audit *audit;
	struct store *store;
	EVP_PKEY *key;
	const uint8_t *msg;
	const uint8_t *sig;
	size_t sig_len;
	int failed;
};

static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void *
verify_main(void *arg)
{
	struct part *p = arg;
	unsigned long i;

	for (i = 0; i < p->jobs * 3; i++)
		if (crypto_verify(p->key, p->msg, 1024, p->sig, p->sig_len) != 0)
			p->failed = 1;
	return NULL;
}

static void *
audit_main(void *arg)
{
	static const char *const events[] = { "received", "intent", "signature", "signed",
		"published" };
	static const int deferred[] = { 1, 0, 1, 0, 1 };
	struct part *p = arg;
	struct audit_record rec;
	char id[33], sha[65];
	unsigned long i;
	size_t k;

	memset(sha, 'a', 64);
	sha[64] = '\0';
	for (i = 0; i < p->jobs; i++) {
		snprintf(id, sizeof(id), "%08x%024lx", p->index, i);
		for (k = 0; k < nitems(events); k++) {
			memset(&rec, 0, sizeof(rec));
			rec.event = events[k];
			rec.id = id;
			rec.entry = "1764900000000-0";
			rec.submitter = "bench1";
			rec.keyid = sha;
			rec.key = "release";
			rec.format = "raw";
			rec.artifact = "bench.bin";
			rec.artifact_sha256 = sha;
			rec.job_sha256 = sha;
			rec.expires = "2026-12-05T04:00:00Z";
			rec.signature_sha256 = k >= 2 ? sha : NULL;
			rec.defer_sync = deferred[k];
			if (audit_append(p->audit, &rec, k == 3, NULL) != 0)
				p->failed = 1;
		}
	}
	return NULL;
}

static void *
store_main(void *arg)
{
	static uint8_t sig[SIG_BYTES], result[RESULT_LEN];
	struct part *p = arg;
	struct store_object objs[2] = { { "bench.bin.sig", sig, sizeof(sig) },
		{ "result.json", result, sizeof(result) } };
	char id[33];
	unsigned long i;

	for (i = 0; i < p->jobs; i++) {
		snprintf(id, sizeof(id), "%08x%024lx", p->index, i);
		if (store_put_job(p->store, "release", id, objs, nitems(objs)) != 0)
			p->failed = 1;
	}
	return NULL;
}

/* Runs fn on nthreads threads; the CPU ms per job, or -1. */
static double
run(void *(*fn)(void *), struct part *tmpl, unsigned nthreads, unsigned long jobs)
{
	pthread_t th[THREADS_MAX];
	struct part parts[THREADS_MAX];
	double t0 = cpu_ms();
	unsigned i;
	int failed = 0;

	for (i = 0; i < nthreads; i++) {
		parts[i] = *tmpl;
		parts[i].index = i;
		parts[i].jobs = jobs / nthreads;
		if (pthread_create(&th[i], NULL, fn, &parts[i]) != 0)
			return -1;
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		failed |= parts[i].failed;
	}
	return failed ? -1 : (cpu_ms() - t0) / (double)(jobs / nthreads * nthreads);
}

int
main(int argc, char **argv)
{
	struct store_opts so;
	struct part p;
	char path[4096], url[4200], err[512] = "";
	uint8_t msg[1024], *sig = NULL;
	unsigned long jobs = 2000;
	unsigned long long v;
	unsigned nthreads = 16;
	double verify, audit, store;
	int ch;

	while ((ch = getopt(argc, argv, "n:t:")) != -1) {
		switch (ch) {
		case 'n':
			jobs = strtoul(optarg, NULL, 10);
			break;
		case 't':
			v = strtoull(optarg, NULL, 10);
			nthreads = v >= 1 && v <= THREADS_MAX ? (unsigned)v : 0;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || jobs == 0 || nthreads == 0 || jobs < nthreads)
		goto usage;
	memset(&p, 0, sizeof(p));
	p.dir = argv[optind];

	memset(msg, 'j', sizeof(msg));
	if ((p.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    crypto_sign(p.key, msg, sizeof(msg), &sig, &p.sig_len) != 0) {
		fprintf(stderr, "pathcost: cannot make a test key\n");
		return 1;
	}
	p.msg = msg;
	p.sig = sig;

	snprintf(path, sizeof(path), "%s/pathcost-audit.log", p.dir);
	if (audit_open(path, NULL, NULL, NULL, &p.audit, err, sizeof(err)) != 0) {
		fprintf(stderr, "pathcost: %s: %s\n", path, err);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/pathcost-store", p.dir);
	snprintf(url, sizeof(url), "file://%s", path);
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		perror(path);
		return 1;
	}
	memset(&so, 0, sizeof(so));
	so.url = url;
	if (store_open(&so, &p.store, err, sizeof(err)) != 0) {
		fprintf(stderr, "pathcost: %s: %s\n", url, err);
		return 1;
	}
	verify = run(verify_main, &p, nthreads, jobs);
	audit = run(audit_main, &p, nthreads, jobs);
	store = run(store_main, &p, nthreads, jobs);
	audit_close(p.audit);
	store_close(p.store);
	EVP_PKEY_free(p.key);
	free(sig);
	if (verify < 0 || audit < 0 || store < 0) {
		fprintf(stderr, "pathcost: a part failed\n");
		return 1;
	}
	printf("pathcost_jobs %lu\npathcost_threads %u\n", jobs / nthreads * nthreads, nthreads);
	printf("pathcost_verify_ms %.3f\npathcost_audit_ms %.3f\npathcost_store_ms %.3f\n", verify,
	    audit, store);
	printf("pathcost_sum_ms %.3f\n", verify + audit + store);
	return 0;
usage:
	fprintf(stderr, "usage: pathcost [-n JOBS] [-t THREADS] DIR\n");
	return 2;
}
