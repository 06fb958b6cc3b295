/*
 * queue_reply.c — the parsers of the Redis server's replies (queue_internal.h).
 *
 * The server is not trusted: every reply is checked for its type and its
 * element count before a field is read, and anything that does not have
 * the shape Redis itself produces is SG_ERR_QUEUE_PROTOCOL.  Nothing here
 * does I/O, so fuzz/fuzz_queue_reply.c drives these with replies that
 * hiredis's reader makes of arbitrary bytes.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "queue_internal.h"
#include "util.h"

int
qreply_has_prefix(const redisReply *rep, const char *p)
{
	size_t plen = strlen(p);

	return rep->str != NULL && rep->len >= plen && memcmp(rep->str, p, plen) == 0;
}

/* An error reply (-ERR ...) as our error code. */
int
qreply_error(const redisReply *rep)
{
	static const char *const auth_errors[] = {
		"NOAUTH",
		"WRONGPASS",
		"NOPERM",
		"ERR invalid password",
	};
	char esc[QUEUE_ERRSTR_LOG_MAX + 8];
	size_t i;

	log_debug("redis replied: %s",
	    log_escape(rep->str != NULL ? rep->str : "", rep->str != NULL ? rep->len : 0, esc,
		sizeof(esc)));
	for (i = 0; i < nitems(auth_errors); i++)
		if (qreply_has_prefix(rep, auth_errors[i]))
			return SG_ERR_QUEUE_AUTH;
	/* A master demoted by a failover, or one still loading: reconnect
	 * (through the sentinels, which name the new master). */
	if (qreply_has_prefix(rep, "READONLY") || qreply_has_prefix(rep, "LOADING") ||
	    qreply_has_prefix(rep, "MASTERDOWN"))
		return SG_ERR_QUEUE_UNAVAILABLE;
	return SG_ERR_QUEUE_PROTOCOL;
}

/* 0 if rep has the type; the error reply's code or SG_ERR_QUEUE_PROTOCOL. */
int
qreply_expect(const redisReply *rep, int type)
{
	if (rep->type == type)
		return 0;
	if (rep->type == REDIS_REPLY_ERROR)
		return qreply_error(rep);
	log_debug("redis reply of type %d where %d was expected", rep->type, type);
	return SG_ERR_QUEUE_PROTOCOL;
}

int
qreply_is_status(const redisReply *rep, const char *s)
{
	return rep->type == REDIS_REPLY_STATUS && rep->str != NULL && rep->len == strlen(s) &&
	    memcmp(rep->str, s, rep->len) == 0;
}

int
queue_is_token(const char *s, size_t max)
{
	size_t i, len = strnlen(s, max + 1);

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int
queue_is_job_id(const char *id)
{
	return id != NULL && strnlen(id, JOB_ID_LEN + 1) == JOB_ID_LEN &&
	    is_lower_hex(id, JOB_ID_LEN);
}

/* A stream entry id as Redis writes it: "<ms>-<seq>", both decimal. */
int
queue_is_entry_id(const char *s, size_t len)
{
	size_t i, dash = 0, ndash = 0;

	if (len < 3 || len > QUEUE_ENTRY_ID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '-') {
			dash = i;
			ndash++;
		} else if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return ndash == 1 && dash > 0 && dash < len - 1;
}

void
queue_entries_free(struct queue_entry *e, size_t n)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < n; i++)
		free(e[i].env);
	free(e);
}

/*
 * One entry: [id, [field, value, ...]].  The id comes from the server, not
 * from the writer (XADD refuses ids that are not "<ms>-<seq>"), so a bad id
 * or a bad entry shape means the server is not speaking the protocol we
 * know: the whole read fails with SG_ERR_QUEUE_PROTOCOL rather than skipping
 * the entry, which we could not acknowledge anyway.  The field list is the
 * writer's: anything but exactly one "env" with a string value is an entry
 * with env NULL, for the caller to account for and acknowledge.
 */
int
qreply_entry(const redisReply *rep, struct queue_entry *e)
{
	const redisReply *id, *fields;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
		return SG_ERR_QUEUE_PROTOCOL;
	id = rep->element[0];
	fields = rep->element[1];
	if (id->type != REDIS_REPLY_STRING || !queue_is_entry_id(id->str, id->len))
		return SG_ERR_QUEUE_PROTOCOL;
	memcpy(e->id, id->str, id->len);
	e->id[id->len] = '\0';
	e->env = NULL;
	e->env_len = 0;
	e->deliveries = 1;
	if (fields->type != REDIS_REPLY_ARRAY || fields->elements != 2 ||
	    fields->element[0]->type != REDIS_REPLY_STRING || fields->element[0]->len != 3 ||
	    memcmp(fields->element[0]->str, "env", 3) != 0 ||
	    fields->element[1]->type != REDIS_REPLY_STRING) {
		log_debug("stream entry %s without a lone \"env\" field", e->id);
		return 0;
	}
	if ((e->env = malloc(fields->element[1]->len + 1)) == NULL)
		return SG_ERR_ALLOC;
	if (fields->element[1]->len > 0)
		memcpy(e->env, fields->element[1]->str, fields->element[1]->len);
	e->env[fields->element[1]->len] = '\0';
	e->env_len = fields->element[1]->len;
	return 0;
}

/* [[stream name, [entry, ...]]], or nil when the block ran out. */
int
qreply_read(const redisReply *rep, const char *jobs_key, size_t jobs_key_len, size_t count,
    struct queue_entry **ret, size_t *ret_n)
{
	const redisReply *stream, *name, *list;
	struct queue_entry *e = NULL;
	size_t i, n = 0;
	int r = SG_ERR_INTERNAL;

	if (rep->type == REDIS_REPLY_NIL) {
		r = 0;
		goto out;
	}
	if ((r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		goto out;
	r = SG_ERR_QUEUE_PROTOCOL;
	if (rep->elements != 1)
		goto out;
	stream = rep->element[0];
	if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2)
		goto out;
	name = stream->element[0];
	list = stream->element[1];
	if (name->type != REDIS_REPLY_STRING || name->len != jobs_key_len ||
	    memcmp(name->str, jobs_key, name->len) != 0)
		goto out;
	if (list->type != REDIS_REPLY_ARRAY || list->elements > count)
		goto out;
	n = list->elements;
	if (n == 0) {
		r = 0;
		goto out;
	}
	if ((e = calloc(n, sizeof(*e))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((r = qreply_entry(list->element[i], &e[i])) < 0)
			goto out;
	r = 0;
out:
	if (r < 0) {
		queue_entries_free(e, n);
		return r;
	}
	*ret = e;
	*ret_n = e != NULL ? n : 0;
	return 0;
}

/* XRANGE: [entry, ...], at most count of them. */
int
qreply_range(const redisReply *rep, size_t count, struct queue_entry **ret, size_t *ret_n)
{
	struct queue_entry *e = NULL;
	size_t i, n;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if ((r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		return r;
	if (rep->elements > count)
		return SG_ERR_QUEUE_PROTOCOL;
	if ((n = rep->elements) == 0)
		return 0;
	if ((e = calloc(n, sizeof(*e))) == NULL)
		return SG_ERR_ALLOC;
	for (i = 0; i < n; i++) {
		if ((r = qreply_entry(rep->element[i], &e[i])) < 0) {
			queue_entries_free(e, n);
			return r;
		}
	}
	*ret = e;
	*ret_n = n;
	return 0;
}

/* One XPENDING row: [id, consumer, idle ms, deliveries]. */
int
qreply_pending_row(
    const redisReply *row, const char **ret_id, size_t *ret_len, uint64_t *ret_deliveries)
{
	if (row->type != REDIS_REPLY_ARRAY || row->elements != 4 ||
	    row->element[0]->type != REDIS_REPLY_STRING ||
	    !queue_is_entry_id(row->element[0]->str, row->element[0]->len) ||
	    row->element[3]->type != REDIS_REPLY_INTEGER || row->element[3]->integer < 0)
		return SG_ERR_QUEUE_PROTOCOL;
	*ret_id = row->element[0]->str;
	*ret_len = row->element[0]->len;
	*ret_deliveries = (uint64_t)row->element[3]->integer;
	return 0;
}

/* ---- the fate of a submitted entry (queue_entry_state()) ---- */

/* Compares two decimal numbers of len bytes each, leading zeros aside. */
static int
decimal_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	while (alen > 1 && *a == '0') {
		a++;
		alen--;
	}
	while (blen > 1 && *b == '0') {
		b++;
		blen--;
	}
	if (alen != blen)
		return alen < blen ? -1 : 1;
	c = memcmp(a, b, alen);
	return c < 0 ? -1 : c > 0;
}

int
queue_entry_id_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *da = memchr(a, '-', alen), *db = memchr(b, '-', blen);
	int c;

	if (da == NULL || db == NULL)
		return da == db ? 0 : da == NULL ? -1 : 1;
	if ((c = decimal_cmp(a, (size_t)(da - a), b, (size_t)(db - b))) != 0)
		return c;
	return decimal_cmp(
	    da + 1, alen - (size_t)(da - a) - 1, db + 1, blen - (size_t)(db - b) - 1);
}

static int
is_string(const redisReply *r, const char *s)
{
	return r->type == REDIS_REPLY_STRING && r->str != NULL && r->len == strlen(s) &&
	    memcmp(r->str, s, r->len) == 0;
}

/* XINFO GROUPS: [[name, <name>, consumers, n, pending, n, last-delivered-id,
 * <id>, ...], ...]. */
int
qreply_group_last_id(
    const redisReply *rep, const char *group, char ret_id[QUEUE_ENTRY_ID_MAX + 1], int *ret_found)
{
	const redisReply *g, *k, *v, *name, *last;
	size_t i, j;
	int r;

	*ret_found = 0;
	ret_id[0] = '\0';
	/* XINFO on a stream that is not there (trimmed away, deleted). */
	if (rep->type == REDIS_REPLY_ERROR && qreply_has_prefix(rep, "ERR no such key"))
		return 0;
	if ((r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		return r;
	if (rep->elements > QUEUE_GROUPS_MAX)
		return SG_ERR_QUEUE_PROTOCOL;
	for (i = 0; i < rep->elements; i++) {
		g = rep->element[i];
		if (g->type != REDIS_REPLY_ARRAY || g->elements % 2 != 0 ||
		    g->elements > 2 * QUEUE_XINFO_FIELDS_MAX)
			return SG_ERR_QUEUE_PROTOCOL;
		name = last = NULL;
		for (j = 0; j < g->elements; j += 2) {
			k = g->element[j];
			v = g->element[j + 1];
			if (k->type != REDIS_REPLY_STRING && k->type != REDIS_REPLY_STATUS)
				return SG_ERR_QUEUE_PROTOCOL;
			if (is_string(k, "name") || qreply_is_status(k, "name")) {
				if (name != NULL || v->type != REDIS_REPLY_STRING)
					return SG_ERR_QUEUE_PROTOCOL;
				name = v;
			} else if (is_string(k, "last-delivered-id") ||
			    qreply_is_status(k, "last-delivered-id")) {
				if (last != NULL ||
				    (v->type != REDIS_REPLY_STRING &&
					v->type != REDIS_REPLY_STATUS) ||
				    !queue_is_entry_id(v->str, v->len))
					return SG_ERR_QUEUE_PROTOCOL;
				last = v;
			}
		}
		if (name == NULL || last == NULL)
			return SG_ERR_QUEUE_PROTOCOL;
		if (!is_string(name, group))
			continue;
		if (*ret_found)
			return SG_ERR_QUEUE_PROTOCOL; /* a group named twice */
		memcpy(ret_id, last->str, last->len);
		ret_id[last->len] = '\0';
		*ret_found = 1;
	}
	return 0;
}

/* XPENDING key group id id 1: [] or [[id, consumer, idle ms, deliveries]]. */
int
qreply_entry_pending(const redisReply *rep, const char *entry_id, struct queue_entry_state *st)
{
	const redisReply *row, *consumer;
	const char *id;
	size_t idlen;
	uint64_t deliveries;
	int r;

	st->pending = 0;
	st->consumer[0] = '\0';
	st->deliveries = 0;
	if ((r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		return r;
	if (rep->elements == 0)
		return 0;
	if (rep->elements != 1)
		return SG_ERR_QUEUE_PROTOCOL;
	row = rep->element[0];
	if ((r = qreply_pending_row(row, &id, &idlen, &deliveries)) < 0)
		return r;
	consumer = row->element[1];
	if (idlen != strlen(entry_id) || memcmp(id, entry_id, idlen) != 0 ||
	    consumer->type != REDIS_REPLY_STRING || consumer->len == 0 ||
	    consumer->len > QUEUE_CONSUMER_MAX ||
	    memchr(consumer->str, '\0', consumer->len) != NULL)
		return SG_ERR_QUEUE_PROTOCOL;
	memcpy(st->consumer, consumer->str, consumer->len);
	st->consumer[consumer->len] = '\0';
	if (!queue_is_token(st->consumer, QUEUE_CONSUMER_MAX)) {
		st->consumer[0] = '\0';
		return SG_ERR_QUEUE_PROTOCOL;
	}
	st->pending = 1;
	st->deliveries = deliveries;
	return 0;
}

/* The number after a type byte, up to CRLF at or before end.  0 with *ret
 * and *ret_next, or -1 (malformed or too long a line). */
static int
resp_number(const uint8_t *p, const uint8_t *end, long long *ret, const uint8_t **ret_next)
{
	long long v = 0;
	int neg = 0, digits = 0;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
		digits++;
	}
	if (digits == 0 || end - p < 2 || p[0] != '\r' || p[1] != '\n')
		return -1;
	*ret = neg ? -v : v;
	*ret_next = p + 2;
	return 0;
}

long
queue_resp_scan(const uint8_t *buf, size_t len, size_t elems_max, size_t bulk_max)
{
	/* An explicit stack of elements still owed per nesting level. */
	long long owed[QUEUE_RESP_DEPTH_MAX + 1];
	const uint8_t *p = buf, *end = buf + len, *nl;
	size_t depth = 0, total = 0;
	long long n;

	owed[0] = 1;
	for (;;) {
		while (depth > 0 && owed[depth] == 0)
			depth--;
		if (depth == 0 && owed[0] == 0)
			return (long)(p - buf);
		if (p >= end)
			return 0;
		owed[depth]--;
		switch (*p++) {
		case '+':
		case '-':
		case ':':
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				return (size_t)(end - p) > QUEUE_RESP_LINE_MAX ? -1 : 0;
			if (nl == p || nl[-1] != '\r' || (size_t)(nl - p) > QUEUE_RESP_LINE_MAX)
				return -1;
			p = nl + 1;
			break;
		case '$':
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				return (size_t)(end - p) > QUEUE_RESP_LINE_MAX ? -1 : 0;
			if (resp_number(p, nl + 1, &n, &p) != 0 || n < -1 ||
			    (n > 0 && (unsigned long long)n > bulk_max))
				return -1;
			if (n >= 0) {
				if ((size_t)(end - p) < (size_t)n + 2)
					return 0;
				if (p[n] != '\r' || p[n + 1] != '\n')
					return -1;
				p += n + 2;
			}
			break;
		case '*':
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				return (size_t)(end - p) > QUEUE_RESP_LINE_MAX ? -1 : 0;
			if (resp_number(p, nl + 1, &n, &p) != 0 || n < -1 ||
			    (n > 0 && (unsigned long long)n > elems_max))
				return -1;
			total += n > 0 ? (size_t)n : 0;
			if (total > elems_max)
				return -1;
			if (n > 0) {
				if (depth == QUEUE_RESP_DEPTH_MAX)
					return -1;
				owed[++depth] = n;
			}
			break;
		default:
			return -1;
		}
		if ((size_t)(p - buf) > LONG_MAX / 2)
			return -1;
	}
}

int
queue_entry_id_ms(const char *id, size_t len, int64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (!queue_is_entry_id(id, len))
		return SG_ERR_QUEUE_PROTOCOL;
	for (i = 0; id[i] != '-'; i++) {
		if (v > ((uint64_t)INT64_MAX - 9) / 10)
			return SG_ERR_QUEUE_PROTOCOL;
		v = v * 10 + (uint64_t)(id[i] - '0');
	}
	*ret = (int64_t)v;
	return 0;
}

/* A string reply that is an entry id, copied into out (QUEUE_ENTRY_ID_MAX + 1). */
static int
copy_entry_id(const redisReply *rep, char *out)
{
	if (rep->type != REDIS_REPLY_STRING || !queue_is_entry_id(rep->str, rep->len))
		return SG_ERR_QUEUE_PROTOCOL;
	memcpy(out, rep->str, rep->len);
	out[rep->len] = '\0';
	return 0;
}

/* Whether an error reply says the stream or the group does not exist:
 * "NOGROUP No such key ... or consumer group ..." (XPENDING, XINFO
 * CONSUMERS on a missing group) or "ERR no such key" (XINFO on a missing
 * stream). */
int
qreply_is_no_group(const redisReply *rep)
{
	return rep->type == REDIS_REPLY_ERROR &&
	    (qreply_has_prefix(rep, "NOGROUP") || qreply_has_prefix(rep, "ERR no such key"));
}

void
qreply_copy_printable(const redisReply *s, char *out, size_t cap)
{
	size_t i, n = s->len < cap - 1 ? s->len : cap - 1;

	for (i = 0; i < n; i++)
		out[i] = s->str[i] > 0x20 && s->str[i] < 0x7f ? s->str[i] : '?';
	out[n] = '\0';
}

/* One XPENDING row in full: [id, consumer, idle ms, deliveries]. */
int
qreply_pending_detail(const redisReply *row, struct queue_pending *ret)
{
	const char *id;
	size_t len;
	uint64_t deliveries;
	int r;

	if ((r = qreply_pending_row(row, &id, &len, &deliveries)) < 0)
		return r;
	if (row->element[1]->type != REDIS_REPLY_STRING || row->element[1]->len == 0 ||
	    row->element[2]->type != REDIS_REPLY_INTEGER || row->element[2]->integer < 0)
		return SG_ERR_QUEUE_PROTOCOL;
	memcpy(ret->entry, id, len);
	ret->entry[len] = '\0';
	qreply_copy_printable(row->element[1], ret->consumer, sizeof(ret->consumer));
	ret->idle_ms = row->element[2]->integer;
	ret->deliveries = deliveries;
	return 0;
}

/* One consumer: [field, value, ...], "name", "pending" and "idle" once each. */
static int
consumer_fields(const redisReply *c, struct queue_consumer *ret)
{
	const redisReply *f, *v;
	size_t i;
	unsigned seen = 0;

	if (c->type != REDIS_REPLY_ARRAY || c->elements % 2 != 0 ||
	    c->elements > QUEUE_CONSUMER_FIELDS_MAX)
		return SG_ERR_QUEUE_PROTOCOL;
	memset(ret, 0, sizeof(*ret));
	for (i = 0; i < c->elements; i += 2) {
		f = c->element[i];
		v = c->element[i + 1];
		if (f->type != REDIS_REPLY_STRING && f->type != REDIS_REPLY_STATUS)
			return SG_ERR_QUEUE_PROTOCOL;
		if (f->len == 4 && memcmp(f->str, "name", 4) == 0) {
			if ((seen & 1u) != 0 || v->type != REDIS_REPLY_STRING || v->len == 0)
				return SG_ERR_QUEUE_PROTOCOL;
			seen |= 1u;
			ret->is_truncated = v->len > QUEUE_CONSUMER_MAX;
			ret->name_len = ret->is_truncated ? QUEUE_CONSUMER_MAX : v->len;
			memcpy(ret->name, v->str, ret->name_len);
			ret->name[ret->name_len] = '\0';
		} else if (f->len == 7 && memcmp(f->str, "pending", 7) == 0) {
			if ((seen & 2u) != 0 || v->type != REDIS_REPLY_INTEGER || v->integer < 0)
				return SG_ERR_QUEUE_PROTOCOL;
			seen |= 2u;
			ret->pending = (uint64_t)v->integer;
		} else if (f->len == 4 && memcmp(f->str, "idle", 4) == 0) {
			if ((seen & 4u) != 0 || v->type != REDIS_REPLY_INTEGER || v->integer < 0)
				return SG_ERR_QUEUE_PROTOCOL;
			seen |= 4u;
			ret->idle_ms = v->integer;
		} else if (v->type == REDIS_REPLY_ARRAY) {
			return SG_ERR_QUEUE_PROTOCOL; /* fields of a consumer are flat */
		}
	}
	return seen == 7u ? 0 : SG_ERR_QUEUE_PROTOCOL;
}

int
qreply_consumers(
    const redisReply *rep, struct queue_consumer **ret, size_t *ret_n, int *ret_truncated)
{
	struct queue_consumer *c = NULL;
	size_t i, n;
	int r;

	if (qreply_is_no_group(rep))
		return SG_ERR_NOT_FOUND;
	if ((r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		return r;
	n = rep->elements < QUEUE_CONSUMERS_MAX ? rep->elements : QUEUE_CONSUMERS_MAX;
	if (n > 0 && (c = calloc(n, sizeof(*c))) == NULL)
		return SG_ERR_ALLOC;
	/* Every element is checked, also those not kept: a reply of the
	 * wrong shape is refused whole. */
	for (i = 0; i < rep->elements; i++) {
		struct queue_consumer scratch;

		if ((r = consumer_fields(rep->element[i], i < n ? &c[i] : &scratch)) < 0) {
			free(c);
			return r;
		}
	}
	*ret = c;
	*ret_n = n;
	*ret_truncated = rep->elements > n;
	return 0;
}

/* [count, first id, last id, [[consumer, count], ...]]; nil ids and list
 * when nothing is pending. */
int
qreply_pending_summary(const redisReply *rep, uint64_t *ret_count, char *ret_min_id)
{
	const redisReply *cnt, *first, *last, *per;
	int r;

	if (qreply_is_no_group(rep))
		return SG_ERR_NOT_FOUND;
	if ((r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		return r;
	if (rep->elements != 4)
		return SG_ERR_QUEUE_PROTOCOL;
	cnt = rep->element[0];
	first = rep->element[1];
	last = rep->element[2];
	per = rep->element[3];
	if (cnt->type != REDIS_REPLY_INTEGER || cnt->integer < 0)
		return SG_ERR_QUEUE_PROTOCOL;
	if (cnt->integer == 0) {
		if (first->type != REDIS_REPLY_NIL || last->type != REDIS_REPLY_NIL ||
		    (per->type != REDIS_REPLY_NIL &&
			!(per->type == REDIS_REPLY_ARRAY && per->elements == 0)))
			return SG_ERR_QUEUE_PROTOCOL;
	} else if (first->type != REDIS_REPLY_STRING ||
	    !queue_is_entry_id(first->str, first->len) || last->type != REDIS_REPLY_STRING ||
	    !queue_is_entry_id(last->str, last->len) || per->type != REDIS_REPLY_ARRAY) {
		return SG_ERR_QUEUE_PROTOCOL;
	}
	if (ret_min_id != NULL) {
		if (cnt->integer == 0)
			ret_min_id[0] = '\0';
		else if ((r = copy_entry_id(first, ret_min_id)) < 0)
			return r;
	}
	*ret_count = (uint64_t)cnt->integer;
	return 0;
}

/* XRANGE ... COUNT 1: [] or [[id, fields]]; the id only ("" for none). */
int
qreply_first_id(const redisReply *rep, char *ret_id)
{
	const redisReply *e;
	int r;

	if ((r = qreply_expect(rep, REDIS_REPLY_ARRAY)) < 0)
		return r;
	if (rep->elements > 1)
		return SG_ERR_QUEUE_PROTOCOL;
	if (rep->elements == 0) {
		ret_id[0] = '\0';
		return 0;
	}
	e = rep->element[0];
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
		return SG_ERR_QUEUE_PROTOCOL;
	return copy_entry_id(e->element[0], ret_id);
}
