/*
 * fuzz_auditlog.c — auditlog_scan() on a hostile log (an auditor reads logs
 * fetched from a store; the agent reads its own at start-up).
 *
 * Each input is a whole log, handed over in a memfd.  Invariants: the scan
 * returns 0 or SG_ERR_VERIFY (never a crash or another code); the records
 * it accepts, the torn tail and the bytes up to it account for the input
 * exactly; a record it accepts is seen by the callback in order; the root
 * asked for at every size it reached equals what a second scan gives.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "auditlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t next;
};

static int
on_record(void *arg, uint64_t seq, const char *line, size_t len, const uint8_t leaf[SHA256_LEN],
    const cJSON *rec)
{
	struct seen *s = arg;
	uint8_t want[SHA256_LEN];

	if (seq != s->next + 1 || memchr(line, '\n', len) != NULL || !cJSON_IsObject(rec))
		abort();
	merkle_leaf_hash(line, len, want);
	if (memcmp(want, leaf, SHA256_LEN) != 0)
		abort();
	s->next = seq;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auditlog_state st, st2;
	uint64_t sizes[3] = { 0, 1, 2 };
	uint8_t roots[3][SHA256_LEN], roots2[3][SHA256_LEN], end[SHA256_LEN];
	struct seen s = { 0 };
	int fd, r;

	if ((fd = memfd_create("auditlog", MFD_CLOEXEC)) == -1)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	r = auditlog_scan(fd, on_record, &s, sizes, nitems(sizes), roots, &st);
	if (r != 0 && r != SG_ERR_VERIFY)
		abort();
	if (s.next != st.records)
		abort();
	if (r == 0) {
		if (st.bytes + st.torn_len != size ||
		    (st.torn_len > 0 && st.torn_offset != st.bytes))
			abort();
		if (st.bad_seq != 0 || st.problem[0] != '\0')
			abort();
	} else if (st.problem[0] == '\0') {
		abort();
	}
	/* The same roots again, the last one from the tree itself. */
	if (auditlog_scan(fd, NULL, NULL, sizes, nitems(sizes), roots2, &st2) != r ||
	    st2.records != st.records)
		abort();
	for (size_t i = 0; i < nitems(sizes); i++)
		if (sizes[i] <= st.records && memcmp(roots[i], roots2[i], SHA256_LEN) != 0)
			abort();
	merkle_root(&st.tree, end);
	if (st.records <= 2 && memcmp(end, roots[st.records], SHA256_LEN) != 0)
		abort();
	close(fd);
	return 0;
}
