/*
 * timeit.c — runs a command N times, one after the other, and reports the
 * wall time of each run from posix_spawn to its exit (hyperfine is not
 * available).  Any run that exits non-zero fails the measurement.
 *
 *   timeit N COMMAND [ARG...]
 *
 * Prints "run_p50_ms", "run_p90_ms", "run_max_ms".
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include "util.h"

extern char **environ;

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	uint64_t n, i;
	double *t;

	if (argc < 3 || parse_u64(argv[1], 100000, &n) != 0 || n == 0) {
		fprintf(stderr, "usage: timeit N COMMAND [ARG...]\n");
		return 2;
	}
	if ((t = calloc(n, sizeof(*t))) == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		struct timespec a, b;
		pid_t pid;
		int st;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0) {
			perror(argv[2]);
			return 1;
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "timeit: run %llu of %s failed\n", (unsigned long long)i,
			    argv[2]);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		t[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	}
	qsort(t, n, sizeof(*t), cmp_d);
	printf("run_p50_ms %.3f\nrun_p90_ms %.3f\nrun_max_ms %.3f\n", t[(n - 1) / 2],
	    t[(size_t)((double)n * 0.9 + 0.999999) - 1], t[n - 1]);
	free(t);
	return 0;
}
