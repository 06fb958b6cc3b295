/*
 * hashrate.c — the speed of submit-job's hashing (crypto_sha256_fd, the
 * function submit-job streams its artifact through), in MB/s (10^6 bytes).
 *
 *   hashrate FILE [REPEAT]
 *
 * Prints "hash_mbps <best of REPEAT runs>" and the digest, to compare
 * with sha256sum on the same (cached) file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "util.h"

int
main(int argc, char **argv)
{
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	uint64_t size = 0, repeat = 1, i;
	double best = 0;

	if (argc < 2 || argc > 3 ||
	    (argc == 3 && (parse_u64(argv[2], 100, &repeat) != 0 || repeat == 0))) {
		fprintf(stderr, "usage: hashrate FILE [REPEAT]\n");
		return 2;
	}
	for (i = 0; i < repeat; i++) {
		struct timespec a, b;
		double s;
		int fd = open(argv[1], O_RDONLY | O_CLOEXEC);

		if (fd == -1) {
			perror(argv[1]);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (crypto_sha256_fd(fd, d, &size) != 0) {
			fprintf(stderr, "hashrate: cannot hash %s\n", argv[1]);
			close(fd);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		close(fd);
		s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		if (s > 0 && (double)size / s / 1e6 > best)
			best = (double)size / s / 1e6;
	}
	hex_encode(d, SHA256_LEN, hex);
	printf("hash_mbps %.1f\nhash_sha256 %s\n", best, hex);
	return 0;
}
