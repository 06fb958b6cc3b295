/*
 * fuzz_sjournal.c — the signer's journal (common/sjournal.h) on arbitrary
 * bytes: sjournal_scan() over the whole input as a file, and
 * sjournal_parse() on its first line; whatever parses must format back to
 * the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sjournal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
count(void *arg, const struct sjournal_rec *rec)
{
	(void)rec;
	(*(uint64_t *)arg)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sjournal_rec rec;
	char line[SJOURNAL_LINE_MAX], why[256];
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl != NULL ? (size_t)(nl - data) : size, out_len = 0;
	uint8_t last[SHA256_LEN];
	uint64_t n = 0, seen = 0;
	int fd, r;

	if (sjournal_parse((const char *)data, len, &rec) == 0) {
		if (sjournal_format(line, &out_len, rec.seq, rec.time, rec.key, NULL, rec.digest,
			rec.prev) != 0)
			abort();
		/* Without the job the line differs; with it, it must be equal. */
		if (!rec.has_job && (out_len != len + 1 || memcmp(line, data, len) != 0))
			abort();
	}
	fd = memfd_create("journal", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && lseek(fd, 0, SEEK_SET) == 0) {
		r = sjournal_scan(fd, count, &seen, &n, last, why, sizeof(why));
		if (r == 0 && n != seen)
			abort();
	}
	close(fd);
	return 0;
}
