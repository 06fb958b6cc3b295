/*
 * rawsign.c — the raw signing rate of the HSM, for comparison with the
 * agent (bench/run.sh).  The PKCS#11 module is loaded in this process
 * (hsm.h in-process mode: hsm_open() with signer NULL), `sessions` threads
 * call hsm_sign() in a loop for SECONDS on one key, then on the next.
 * hsm_sign() adds only the session pool and, for ECDSA, the r||s to DER
 * conversion to C_SignInit + C_Sign.
 *
 *   rawsign MODULE TOKEN PIN_FILE SESSIONS SECONDS NAME:MECH:URI...
 *
 * MECH is a mechanism name (sg_mech_parse); empty, the mechanism follows
 * the key's type (as for the attestation key).  Prints
 * "raw_rate_NAME <signatures per second>" and "raw_cpu_us_NAME <CPU time
 * of this process per signature, microseconds>" per key: the second is
 * what one C_Sign costs, to compare with the signer's CPU per job.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "crypto.h"
#include "hsm.h"
#include "util.h"

#define RS_KEYS_MAX 8

struct rs_thread {
	pthread_t t;
	struct hsm *h;
	size_t key;
	double deadline;
	unsigned long count;
	int failed;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process (every thread), seconds. */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *
signer_loop(void *arg)
{
	struct rs_thread *t = arg;
	uint8_t digest[SHA256_LEN], sig[HSM_SIG_MAX];
	size_t len;

	memset(digest, 0x5a, sizeof(digest));
	while (now_s() < t->deadline) {
		digest[0]++;
		if (hsm_sign(t->h, t->key, digest, SHA256_LEN, sig, &len) != 0) {
			t->failed = 1;
			break;
		}
		t->count++;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct hsm_key_spec specs[RS_KEYS_MAX];
	struct hsm_config cfg;
	struct rs_thread th[HSM_SESSIONS_MAX];
	struct hsm *h = NULL;
	char errbuf[256], *arg[RS_KEYS_MAX];
	uint64_t sessions, seconds;
	size_t nkeys = 0, k, i;
	int r, status = 0;

	if (argc < 7 || argc - 6 > RS_KEYS_MAX ||
	    parse_u64(argv[4], HSM_SESSIONS_MAX, &sessions) != 0 || sessions == 0 ||
	    parse_u64(argv[5], 3600, &seconds) != 0 || seconds == 0) {
		fprintf(stderr,
		    "usage: rawsign MODULE TOKEN PIN_FILE SESSIONS SECONDS NAME:MECH:URI...\n");
		return 2;
	}
	memset(specs, 0, sizeof(specs));
	for (i = 6; i < (size_t)argc; i++, nkeys++) {
		char *c1, *c2;

		if ((arg[nkeys] = strdup(argv[i])) == NULL ||
		    (c1 = strchr(arg[nkeys], ':')) == NULL || (c2 = strchr(c1 + 1, ':')) == NULL) {
			fprintf(stderr, "rawsign: bad key argument %s\n", argv[i]);
			return 2;
		}
		*c1 = '\0';
		*c2 = '\0';
		specs[nkeys].name = arg[nkeys];
		specs[nkeys].uri = c2 + 1;
		if (c1[1] == '\0') {
			specs[nkeys].mech_from_key = 1;
		} else if (sg_mech_parse(c1 + 1, &specs[nkeys].mech) != 0) {
			fprintf(stderr, "rawsign: unknown mechanism %s\n", c1 + 1);
			return 2;
		}
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.module = argv[1];
	cfg.token = argv[2];
	cfg.pin_file = argv[3];
	cfg.sessions = (unsigned)sessions;
	cfg.keys = specs;
	cfg.nkeys = nkeys;
	cfg.signer = NULL;
	if ((r = hsm_open(&cfg, &h, errbuf, sizeof(errbuf))) != 0) {
		fprintf(stderr, "rawsign: hsm_open: %s\n", errbuf);
		return 1;
	}
	for (k = 0; k < nkeys; k++) {
		unsigned long total = 0;
		double t0 = now_s(), t1, c0 = cpu_s();

		for (i = 0; i < sessions; i++) {
			memset(&th[i], 0, sizeof(th[i]));
			th[i].h = h;
			th[i].key = k;
			th[i].deadline = t0 + (double)seconds;
			if (pthread_create(&th[i].t, NULL, signer_loop, &th[i]) != 0) {
				fprintf(stderr, "rawsign: pthread_create\n");
				return 1;
			}
		}
		for (i = 0; i < sessions; i++) {
			pthread_join(th[i].t, NULL);
			total += th[i].count;
			if (th[i].failed)
				status = 1;
		}
		t1 = now_s();
		printf("raw_rate_%s %.1f\n", specs[k].name, (double)total / (t1 - t0));
		if (total > 0)
			printf("raw_cpu_us_%s %.2f\n", specs[k].name,
			    (cpu_s() - c0) * 1e6 / (double)total);
		fflush(stdout);
	}
	hsm_close(h);
	for (k = 0; k < nkeys; k++)
		free(arg[k]);
	if (status)
		fprintf(stderr, "rawsign: a signature failed\n");
	return status;
}
