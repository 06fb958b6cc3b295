/*
 * test_queue_reply.c — the parsers of the replies that signet-admin status
 * and the agent's consumer clean-up read (queue/queue_reply.c): XINFO
 * CONSUMERS, the XPENDING summary and a full XPENDING row.  Replies are
 * made by hiredis's own reader from RESP text, as a server would send
 * them: Redis 6's and 7's shapes, every limit at its edge and one past
 * it, and shapes a hostile server could send instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "queue_internal.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */

/* A reply from RESP text of len bytes; the test fails if it is not one. */
static redisReply *
reply_n(const char *resp, size_t len)
{
	redisReader *rd = redisReaderCreate();
	void *rep = NULL;

	ck_assert_ptr_nonnull(rd);
	ck_assert_int_eq(redisReaderFeed(rd, resp, len), REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(rd, &rep), REDIS_OK);
	ck_assert_ptr_nonnull(rep);
	redisReaderFree(rd);
	return rep;
}

static redisReply *
reply(const char *resp)
{
	return reply_n(resp, strlen(resp));
}

/* A growing RESP text. */
struct text {
	char *p;
	size_t len, cap;
};

static void
put(struct text *t, const char *s, size_t n)
{
	if (t->cap - t->len < n + 1) {
		t->cap = (t->cap + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		ck_assert_ptr_nonnull(t->p);
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
put_str(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void
put_bulk(struct text *t, const char *s, size_t n)
{
	char head[32];

	snprintf(head, sizeof(head), "$%zu\r\n", n);
	put_str(t, head);
	put(t, s, n);
	put_str(t, "\r\n");
}

/* One Redis 7.0 consumer: name, pending, idle, inactive. */
static void
put_consumer(struct text *t, const char *name, size_t nlen, long long pending, long long idle)
{
	char num[64];

	put_str(t, "*8\r\n$4\r\nname\r\n");
	put_bulk(t, name, nlen);
	snprintf(
	    num, sizeof(num), "$7\r\npending\r\n:%lld\r\n$4\r\nidle\r\n:%lld\r\n", pending, idle);
	put_str(t, num);
	put_str(t, "$8\r\ninactive\r\n:-1\r\n");
}

/* What no call leaves in *ret, to see that a failure leaves it alone. */
static struct queue_consumer untouched_c;
#define untouched (&untouched_c)

/* qreply_consumers() must fail with want and leave its outputs alone. */
static void
consumers_fail(const char *resp, int want)
{
	redisReply *rep = reply(resp);
	struct queue_consumer *c = untouched;
	size_t n = 77;
	int trunc = 77;

	ck_assert_msg(qreply_consumers(rep, &c, &n, &trunc) == want, "%s", resp);
	ck_assert_ptr_eq(c, untouched);
	ck_assert_uint_eq(n, 77);
	ck_assert_int_eq(trunc, 77);
	freeReplyObject(rep);
}

START_TEST(consumers_redis7)
{
	struct text t = { NULL, 0, 0 };
	struct queue_consumer *c = NULL;
	redisReply *rep;
	size_t n = 0;
	int trunc = 1;

	put_str(&t, "*2\r\n");
	put_consumer(&t, "agent@host/12", 13, 3, 1500);
	put_consumer(&t, "agent@host/13", 13, 0, 0);
	rep = reply(t.p);
	ck_assert_int_eq(qreply_consumers(rep, &c, &n, &trunc), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(trunc, 0);
	ck_assert_str_eq(c[0].name, "agent@host/12");
	ck_assert_uint_eq(c[0].name_len, 13);
	ck_assert_int_eq(c[0].is_truncated, 0);
	ck_assert_uint_eq(c[0].pending, 3);
	ck_assert_int_eq(c[0].idle_ms, 1500);
	ck_assert_str_eq(c[1].name, "agent@host/13");
	ck_assert_uint_eq(c[1].pending, 0);
	free(c);
	freeReplyObject(rep);
	free(t.p);
}
END_TEST

START_TEST(consumers_redis6_and_order)
{
	/* Redis 6: name, pending, idle; the order of the fields is not relied on. */
	redisReply *rep = reply("*1\r\n*6\r\n$4\r\nidle\r\n:9\r\n$4\r\nname\r\n$1\r\na\r\n"
				"$7\r\npending\r\n:1\r\n");
	struct queue_consumer *c = NULL;
	size_t n = 0;
	int trunc = 1;

	ck_assert_int_eq(qreply_consumers(rep, &c, &n, &trunc), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(c[0].name, "a");
	ck_assert_uint_eq(c[0].pending, 1);
	ck_assert_int_eq(c[0].idle_ms, 9);
	free(c);
	freeReplyObject(rep);
}
END_TEST

START_TEST(consumers_none)
{
	redisReply *rep = reply("*0\r\n");
	struct queue_consumer *c = untouched;
	size_t n = 5;
	int trunc = 1;

	ck_assert_int_eq(qreply_consumers(rep, &c, &n, &trunc), 0);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(trunc, 0);
	freeReplyObject(rep);
}
END_TEST

START_TEST(consumers_no_group)
{
	consumers_fail(
	    "-NOGROUP No such key 'signet:jobs' or consumer group 'agents'\r\n", SG_ERR_NOT_FOUND);
	consumers_fail("-ERR no such key\r\n", SG_ERR_NOT_FOUND);
	consumers_fail("-ERR something else\r\n", SG_ERR_QUEUE_PROTOCOL);
	consumers_fail("-NOAUTH Authentication required.\r\n", SG_ERR_QUEUE_AUTH);
}
END_TEST

START_TEST(consumers_refused)
{
	static const char *const bad[] = {
		/* not an array, or elements that are not field lists */
		":1\r\n",
		"$1\r\na\r\n",
		"*1\r\n:1\r\n",
		"*1\r\n$-1\r\n",
		/* an odd field list */
		"*1\r\n*5\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n",
		/* a field missing */
		"*1\r\n*4\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n",
		"*1\r\n*4\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:0\r\n",
		/* a field twice */
		"*1\r\n*8\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:0\r\n"
		"$4\r\nname\r\n$1\r\nb\r\n",
		/* wrong types and values */
		"*1\r\n*6\r\n$4\r\nname\r\n:1\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:0\r\n",
		"*1\r\n*6\r\n$4\r\nname\r\n$0\r\n\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:0\r\n",
		"*1\r\n*6\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:-1\r\n$4\r\nidle\r\n:0\r\n",
		"*1\r\n*6\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n$1\r\n1\r\n$4\r\nidle\r\n:"
		"0\r\n",
		"*1\r\n*6\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:-5\r\n",
		"*1\r\n*6\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n$-1\r\n",
		/* a field name that is not a string; a nested value */
		"*1\r\n*8\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:0\r\n"
		":7\r\n:7\r\n",
		"*1\r\n*8\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:0\r\n"
		"$1\r\nx\r\n*0\r\n",
		/* one good consumer, then a bad one: the whole reply is refused */
		"*2\r\n*6\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:0\r\n"
		"*2\r\n$4\r\nname\r\n$1\r\nb\r\n",
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++)
		consumers_fail(bad[i], SG_ERR_QUEUE_PROTOCOL);
}
END_TEST

START_TEST(consumers_field_limit)
{
	struct text t = { NULL, 0, 0 };
	struct queue_consumer *c = NULL;
	redisReply *rep;
	size_t n = 0, i;
	int trunc = 0;
	char head[32];

	/* Exactly QUEUE_CONSUMER_FIELDS_MAX elements: the unknown fields are skipped. */
	snprintf(head, sizeof(head), "*1\r\n*%d\r\n", QUEUE_CONSUMER_FIELDS_MAX);
	put_str(&t, head);
	put_str(&t, "$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:0\r\n");
	for (i = 6; i < QUEUE_CONSUMER_FIELDS_MAX; i += 2)
		put_str(&t, "$5\r\nextra\r\n:1\r\n");
	rep = reply(t.p);
	ck_assert_int_eq(qreply_consumers(rep, &c, &n, &trunc), 0);
	ck_assert_uint_eq(n, 1);
	free(c);
	freeReplyObject(rep);
	/* Two more: refused. */
	t.len = 0;
	snprintf(head, sizeof(head), "*1\r\n*%d\r\n", QUEUE_CONSUMER_FIELDS_MAX + 2);
	put_str(&t, head);
	put_str(&t, "$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n$4\r\nidle\r\n:0\r\n");
	for (i = 6; i < QUEUE_CONSUMER_FIELDS_MAX + 2; i += 2)
		put_str(&t, "$5\r\nextra\r\n:1\r\n");
	consumers_fail(t.p, SG_ERR_QUEUE_PROTOCOL);
	free(t.p);
}
END_TEST

START_TEST(consumers_name_limit)
{
	struct text t = { NULL, 0, 0 };
	struct queue_consumer *c = NULL;
	redisReply *rep;
	char name[QUEUE_CONSUMER_MAX + 2];
	size_t n = 0;
	int trunc = 0;

	memset(name, 'n', sizeof(name));
	name[5] = '\0'; /* a NUL inside: kept, with the length */
	put_str(&t, "*2\r\n");
	put_consumer(&t, name, QUEUE_CONSUMER_MAX, 0, 0);
	put_consumer(&t, name, QUEUE_CONSUMER_MAX + 1, 0, 0);
	rep = reply_n(t.p, t.len);
	ck_assert_int_eq(qreply_consumers(rep, &c, &n, &trunc), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(c[0].name_len, QUEUE_CONSUMER_MAX);
	ck_assert_int_eq(c[0].is_truncated, 0);
	ck_assert_int_eq(memcmp(c[0].name, name, QUEUE_CONSUMER_MAX), 0);
	ck_assert_int_eq(c[0].name[QUEUE_CONSUMER_MAX], '\0');
	ck_assert_uint_eq(strlen(c[0].name), 5);
	ck_assert_uint_eq(c[1].name_len, QUEUE_CONSUMER_MAX);
	ck_assert_int_eq(c[1].is_truncated, 1);
	free(c);
	freeReplyObject(rep);
	free(t.p);
}
END_TEST

/* n consumers: kept up to QUEUE_CONSUMERS_MAX, the rest checked and counted. */
static void
consumers_count(size_t count, size_t want_n, int want_trunc)
{
	struct text t = { NULL, 0, 0 };
	struct queue_consumer *c = NULL;
	redisReply *rep;
	char head[32], name[32];
	size_t n = 0, i;
	int trunc = -1;

	snprintf(head, sizeof(head), "*%zu\r\n", count);
	put_str(&t, head);
	for (i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "c%zu", i);
		put_consumer(&t, name, strlen(name), i, 0);
	}
	rep = reply(t.p);
	ck_assert_int_eq(qreply_consumers(rep, &c, &n, &trunc), 0);
	ck_assert_uint_eq(n, want_n);
	ck_assert_int_eq(trunc, want_trunc);
	ck_assert_uint_eq(c[n - 1].pending, n - 1);
	free(c);
	freeReplyObject(rep);
	free(t.p);
}

START_TEST(consumers_count_limit)
{
	consumers_count(QUEUE_CONSUMERS_MAX, QUEUE_CONSUMERS_MAX, 0);
	consumers_count(QUEUE_CONSUMERS_MAX + 1, QUEUE_CONSUMERS_MAX, 1);
}
END_TEST

static void
summary_is(const char *resp, int want, uint64_t want_count)
{
	redisReply *rep = reply(resp);
	uint64_t count = 4242;

	ck_assert_msg(qreply_pending_summary(rep, &count, NULL) == want, "%s", resp);
	ck_assert_uint_eq(count, want == 0 ? want_count : 4242);
	freeReplyObject(rep);
}

START_TEST(pending_summary)
{
	summary_is(
	    "*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n5-1\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n2\r\n", 0, 2);
	summary_is("*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n", 0, 0);
	summary_is("-NOGROUP No such key 'signet:jobs' or consumer group 'agents'\r\n",
	    SG_ERR_NOT_FOUND, 0);
	/* refused */
	summary_is("*3\r\n:0\r\n$-1\r\n$-1\r\n", SG_ERR_QUEUE_PROTOCOL, 0);
	summary_is("*4\r\n:-1\r\n$-1\r\n$-1\r\n*-1\r\n", SG_ERR_QUEUE_PROTOCOL, 0);
	summary_is("*4\r\n$1\r\n2\r\n$3\r\n1-0\r\n$3\r\n5-1\r\n*0\r\n", SG_ERR_QUEUE_PROTOCOL, 0);
	summary_is("*4\r\n:0\r\n$3\r\n1-0\r\n$-1\r\n*-1\r\n", SG_ERR_QUEUE_PROTOCOL, 0);
	summary_is("*4\r\n:1\r\n$3\r\n1-x\r\n$3\r\n5-1\r\n*0\r\n", SG_ERR_QUEUE_PROTOCOL, 0);
	summary_is("*4\r\n:1\r\n$3\r\n1-0\r\n$-1\r\n*0\r\n", SG_ERR_QUEUE_PROTOCOL, 0);
	summary_is("*4\r\n:1\r\n$3\r\n1-0\r\n$3\r\n1-0\r\n$-1\r\n", SG_ERR_QUEUE_PROTOCOL, 0);
	summary_is(":3\r\n", SG_ERR_QUEUE_PROTOCOL, 0);
}
END_TEST

START_TEST(pending_detail)
{
	struct queue_pending p, before;
	struct text t = { NULL, 0, 0 };
	char name[QUEUE_CONSUMER_MAX + 10];
	redisReply *rep;

	rep = reply("*4\r\n$5\r\n17-42\r\n$7\r\na@h/1\x01z\r\n:1500\r\n:3\r\n");
	ck_assert_int_eq(qreply_pending_detail(rep, &p), 0);
	ck_assert_str_eq(p.entry, "17-42");
	ck_assert_str_eq(p.consumer, "a@h/1?z"); /* printable only */
	ck_assert_int_eq(p.idle_ms, 1500);
	ck_assert_uint_eq(p.deliveries, 3);
	freeReplyObject(rep);

	/* A consumer name over the limit is cut. */
	memset(name, 'c', sizeof(name));
	put_str(&t, "*4\r\n$3\r\n1-0\r\n");
	put_bulk(&t, name, sizeof(name));
	put_str(&t, ":0\r\n:1\r\n");
	rep = reply(t.p);
	ck_assert_int_eq(qreply_pending_detail(rep, &p), 0);
	ck_assert_uint_eq(strlen(p.consumer), QUEUE_CONSUMER_MAX);
	freeReplyObject(rep);
	free(t.p);

	{
		static const char *const bad[] = {
			"*4\r\n$3\r\n1-0\r\n$1\r\na\r\n:-1\r\n:1\r\n",
			"*4\r\n$3\r\n1-0\r\n$1\r\na\r\n$1\r\n5\r\n:1\r\n",
			"*4\r\n$3\r\n1-0\r\n$0\r\n\r\n:0\r\n:1\r\n",
			"*4\r\n$3\r\n1-0\r\n:1\r\n:0\r\n:1\r\n",
			"*4\r\n$3\r\n1+0\r\n$1\r\na\r\n:0\r\n:1\r\n",
			"*4\r\n$3\r\n1-0\r\n$1\r\na\r\n:0\r\n:-1\r\n",
			"*3\r\n$3\r\n1-0\r\n$1\r\na\r\n:0\r\n",
			"*5\r\n$3\r\n1-0\r\n$1\r\na\r\n:0\r\n:1\r\n:1\r\n",
		};
		size_t i;

		for (i = 0; i < nitems(bad); i++) {
			memset(&p, 0x5a, sizeof(p));
			before = p;
			rep = reply(bad[i]);
			ck_assert_msg(
			    qreply_pending_detail(rep, &p) == SG_ERR_QUEUE_PROTOCOL, "%s", bad[i]);
			ck_assert_int_eq(memcmp(&p, &before, sizeof(p)), 0);
			freeReplyObject(rep);
		}
	}
}
END_TEST

START_TEST(no_group_errors)
{
	redisReply *rep = reply("-NOGROUP x\r\n");

	ck_assert_int_eq(qreply_is_no_group(rep), 1);
	freeReplyObject(rep);
	rep = reply("+NOGROUP\r\n"); /* a status line is no error */
	ck_assert_int_eq(qreply_is_no_group(rep), 0);
	freeReplyObject(rep);
	rep = reply("-ERR no such key\r\n");
	ck_assert_int_eq(qreply_is_no_group(rep), 1);
	freeReplyObject(rep);
	rep = reply("-ERR wrong type\r\n");
	ck_assert_int_eq(qreply_is_no_group(rep), 0);
	freeReplyObject(rep);
}
END_TEST

static Suite *
queue_reply_suite(void)
{
	Suite *s = suite_create("queue_reply");

	test_add(s, "/queue_reply/consumers/redis7", consumers_redis7, TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/consumers/redis6-any-order", consumers_redis6_and_order,
	    TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/consumers/none", consumers_none, TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/consumers/no-group", consumers_no_group, TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/consumers/refused", consumers_refused, TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/consumers/field-limit", consumers_field_limit, TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/consumers/name-limit", consumers_name_limit, TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/consumers/count-limit", consumers_count_limit, TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/pending/summary", pending_summary, TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/pending/detail", pending_detail, TEST_TIMEOUT_S);
	test_add(s, "/queue_reply/no-group-errors", no_group_errors, TEST_TIMEOUT_S);
	return s;
}

int
main(void)
{
	return test_run(queue_reply_suite());
}
