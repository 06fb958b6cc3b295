/*
 * fuzz_queue_reply.c — the queue's reply parsers (queue/queue_reply.c) on
 * whatever replies hiredis's reader makes of arbitrary bytes, as a hostile
 * Redis server would send them: each reply as an XREADGROUP answer, each
 * element of an array as an XPENDING row, as an XPENDING summary, an XINFO
 * GROUPS answer and a one-entry XRANGE answer, error replies as errors.  The
 * bytes pass queue_resp_scan() first, with bounds, as the queue must pass
 * a server's bytes before hiredis allocates for them (an array count of
 * 2^31 makes hiredis 0.14 allocate 16 GB at once); the scan's own
 * invariants are checked too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "queue_internal.h"

#define FUZZ_REPLIES_MAX 16          /* replies taken from one input */
#define FUZZ_READ_COUNT  64          /* entries one XREADGROUP may return */
#define FUZZ_ELEMS_MAX   4096        /* array elements in one reply */
#define FUZZ_BULK_MAX    (64 * 1024) /* bytes of one bulk string */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The parsers behind queue_oldest(): whatever they accept is an entry id
 * whose milliseconds part parses. */
static void
one_oldest(const redisReply *rep)
{
	char id[QUEUE_ENTRY_ID_MAX + 1];
	uint64_t count = 0;
	int64_t ms;

	memset(id, 'x', sizeof(id));
	if (qreply_pending_summary(rep, &count, id) == 0 && id[0] != '\0') {
		if (!queue_is_entry_id(id, strlen(id)) || count == 0)
			abort();
		if (queue_entry_id_ms(id, strlen(id), &ms) == 0 && ms < 0)
			abort();
	}
	memset(id, 'x', sizeof(id));
	if (qreply_group_last_id(rep, "agents", id) == 0 && !queue_is_entry_id(id, strlen(id)))
		abort();
	memset(id, 'x', sizeof(id));
	if (qreply_first_id(rep, id) == 0 && id[0] != '\0' && !queue_is_entry_id(id, strlen(id)))
		abort();
}

static void
one(const redisReply *rep)
{
	static const char jobs[] = "signet:jobs";
	struct queue_entry *e = NULL;
	const char *id;
	uint64_t deliveries;
	size_t n = 0, i, len;

	if (qreply_read(rep, jobs, sizeof(jobs) - 1, FUZZ_READ_COUNT, &e, &n) == 0) {
		if (n > FUZZ_READ_COUNT || (n > 0) != (e != NULL))
			abort();
		for (i = 0; i < n; i++) {
			if (!queue_is_entry_id(e[i].id, strlen(e[i].id)))
				abort();
			if (e[i].env != NULL && strlen(e[i].env) > e[i].env_len)
				abort();
		}
		queue_entries_free(e, n);
	}
	if (rep->type == REDIS_REPLY_ARRAY) {
		for (i = 0; i < rep->elements; i++) {
			if (qreply_pending_row(rep->element[i], &id, &len, &deliveries) == 0 &&
			    !queue_is_entry_id(id, len))
				abort();
		}
	}
	one_oldest(rep);
	if (rep->type == REDIS_REPLY_ERROR)
		(void)qreply_error(rep);
	(void)qreply_is_status(rep, "OK");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *rd = redisReaderCreate();
	void *rep = NULL;
	int i;

	long n = queue_resp_scan(data, size, FUZZ_ELEMS_MAX, FUZZ_BULK_MAX);

	if (n < -1 || n > (long)size)
		abort();
	if (rd == NULL)
		return 0;
	/* Only what the scan bounded reaches hiredis. */
	if (n > 0 && redisReaderFeed(rd, (const char *)data, (size_t)n) == REDIS_OK) {
		for (i = 0; i < FUZZ_REPLIES_MAX; i++) {
			rep = NULL;
			if (redisReaderGetReply(rd, &rep) != REDIS_OK || rep == NULL)
				break;
			one(rep);
			freeReplyObject(rep);
		}
	}
	redisReaderFree(rd);
	return 0;
}
