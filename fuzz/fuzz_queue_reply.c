/*
 * fuzz_queue_reply.c — the queue's reply parsers (queue/queue_reply.c) on
 * whatever replies hiredis's reader makes of arbitrary bytes, as a hostile
 * Redis server would send them: each reply as an XREADGROUP answer, an
 * XINFO CONSUMERS answer, an XINFO GROUPS answer, an XPENDING summary, an
 * XPENDING <id> <id> 1 answer (queue_entry_state()) and a one-entry XRANGE
 * answer (queue_oldest()), each element of an array as an XPENDING row
 * (short and full), error replies as errors.  The
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
	int found = 0;

	memset(id, 'x', sizeof(id));
	if (qreply_pending_summary(rep, &count, id) == 0 && id[0] != '\0') {
		if (!queue_is_entry_id(id, strlen(id)) || count == 0)
			abort();
		if (queue_entry_id_ms(id, strlen(id), &ms) == 0 && ms < 0)
			abort();
	}
	memset(id, 'x', sizeof(id));
	if (qreply_group_last_id(rep, "agents", id, &found) == 0 && found &&
	    !queue_is_entry_id(id, strlen(id)))
		abort();
	memset(id, 'x', sizeof(id));
	if (qreply_first_id(rep, id) == 0 && id[0] != '\0' && !queue_is_entry_id(id, strlen(id)))
		abort();
}

/* queue_entry_state()'s parsers: what they fill is always well formed. */
static void
entry_state(const redisReply *rep)
{
	struct queue_entry_state st;
	char last[QUEUE_ENTRY_ID_MAX + 1];
	int found = 1;

	if (qreply_group_last_id(rep, QUEUE_GROUP, last, &found) == 0) {
		if (found &&
		    (!queue_is_entry_id(last, strlen(last)) ||
			queue_entry_id_cmp(last, strlen(last), last, strlen(last)) != 0))
			abort();
		if (!found && last[0] != '\0')
			abort();
	}
	memset(&st, 0x5a, sizeof(st));
	if (qreply_entry_pending(rep, "1-1", &st) == 0) {
		if (st.pending != (st.consumer[0] != '\0'))
			abort();
		if (st.pending && !queue_is_token(st.consumer, QUEUE_CONSUMER_MAX))
			abort();
		if (!st.pending && st.deliveries != 0)
			abort();
	}
}

static void
one(const redisReply *rep)
{
	static const char jobs[] = "signet:jobs";
	struct queue_entry *e = NULL;
	struct queue_consumer *cs = NULL;
	struct queue_pending p;
	const char *id;
	uint64_t deliveries, count = 0;
	size_t n = 0, i, len;
	int truncated = 0;

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
	if (qreply_consumers(rep, &cs, &n, &truncated) == 0) {
		if (n > QUEUE_CONSUMERS_MAX || (n > 0) != (cs != NULL) ||
		    truncated != (rep->elements > n))
			abort();
		for (i = 0; i < n; i++)
			if (cs[i].name_len == 0 || cs[i].name_len > QUEUE_CONSUMER_MAX ||
			    cs[i].name[cs[i].name_len] != '\0' || cs[i].idle_ms < 0 ||
			    (cs[i].is_truncated && cs[i].name_len != QUEUE_CONSUMER_MAX))
				abort();
		free(cs);
	}
	if (qreply_pending_summary(rep, &count, NULL) == 0 && count > (uint64_t)INT64_MAX)
		abort();
	if (rep->type == REDIS_REPLY_ARRAY) {
		for (i = 0; i < rep->elements; i++) {
			if (qreply_pending_row(rep->element[i], &id, &len, &deliveries) == 0 &&
			    !queue_is_entry_id(id, len))
				abort();
			if (qreply_pending_detail(rep->element[i], &p) == 0 &&
			    (!queue_is_entry_id(p.entry, strlen(p.entry)) || p.idle_ms < 0 ||
				!queue_is_token(p.consumer, QUEUE_CONSUMER_MAX)))
				abort();
		}
	}
	entry_state(rep);
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
