/*
 * admin_status.c — the operator's view of a running agent (docs/admin.md):
 *
 *   signet-admin status     -c CONFIG [--json]
 *   signet-admin job        -c CONFIG ID [--json] [--agent-key PEM]
 *   signet-admin signatures -c CONFIG [--key K] [--since T] [--json]
 *
 * Each reads the agent's configuration with the agent's own parser (without
 * the files it names, which are read here one by one so that one missing
 * certificate does not hide the rest), the queue through queue.h and the
 * audit log through common/auditlog.h, which checks every record's number
 * and chain while it reads.
 *
 * What Redis holds and what the log holds are both hostile for display:
 * the log is integrity-checked, not trusted, and a consumer name is what
 * any client with access to Redis chose.  Every such string is escaped
 * with log_escape() before it reaches the terminal; the JSON output lets
 * cJSON escape it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "admin_status.h"
#include "auditlog.h"
#include "config.h"
#include "crypto.h"
#include "envelope.h"
#include "job.h"
#include "json.h"
#include "log.h"
#include "queue.h"
#include "result.h"
#include "resultcheck.h"
#include "sgtime.h"
#include "util.h"

#define ST_EXIT_OK      0
#define ST_EXIT_FAILED  1
#define ST_EXIT_USAGE   2
#define ST_SHOWN_MAX    512    /* bytes of an untrusted string as printed, escaped */
#define ST_PENDING_MAX  4096   /* approval-pending jobs followed through the log */
#define ST_ENTRIES_MAX  64     /* stream entries of one job remembered from the log */
#define ST_SCAN_MAX     100000 /* stream entries `job` looks through for an id */
#define ST_TIMEOUT_MS   5000   /* connect and command timeout */
#define ST_DURATION_MAX 32     /* bytes of a duration as printed ("3d04h") */
#define ST_NUM_MAX      24     /* bytes of a --since number */

/* ---- small helpers ------------------------------------------------------ */

/* An untrusted string for the terminal. */
static const char *
shown(const char *s, size_t len, char buf[ST_SHOWN_MAX])
{
	return log_escape(s, len, buf, ST_SHOWN_MAX);
}

/* "42s", "3m07s", "2h05m", "3d04h". */
static const char *
duration(int64_t ms, char buf[ST_DURATION_MAX])
{
	int64_t s = ms / 1000;

	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, ST_DURATION_MAX, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(
		    buf, ST_DURATION_MAX, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, ST_DURATION_MAX, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(buf, ST_DURATION_MAX, "%lldd%02lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	return buf;
}

/* The wall clock in milliseconds, as Redis stamps stream entry ids. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return sgtime_now() * 1000;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The milliseconds part of a stream entry id ("<ms>-<seq>"), or -1. */
static int64_t
entry_ms(const char *id)
{
	char ms[QUEUE_ENTRY_ID_MAX + 1];
	size_t n = strcspn(id, "-");
	uint64_t v;

	if (n == 0 || n > QUEUE_ENTRY_ID_MAX)
		return -1;
	memcpy(ms, id, n);
	ms[n] = '\0';
	if (parse_u64(ms, (uint64_t)INT64_MAX, &v) != 0)
		return -1;
	return (int64_t)v;
}

/* A string member of a record, or NULL (absent or not a string). */
static const char *
rec_str(const cJSON *rec, const char *name, size_t *ret_len)
{
	const char *s;
	size_t len;

	if (json_get_string(rec, name, &s, &len) != 0)
		return NULL;
	if (ret_len != NULL)
		*ret_len = len;
	return s;
}

static int
str_is(const char *s, const char *want)
{
	return s != NULL && strcmp(s, want) == 0;
}

static int
is_decision(const char *ev)
{
	return str_is(ev, "signed") || str_is(ev, "rejected") || str_is(ev, "failed");
}

/* Adds name: s, or nothing when s is NULL. */
static int
add_opt(cJSON *o, const char *name, const char *s)
{
	return s == NULL ? 0 : json_add_string(o, name, s);
}

/* Prints a JSON tree on one line. */
static int
print_json(const cJSON *root)
{
	char *txt = NULL;
	size_t len = 0;

	if (json_print(root, &txt, &len) != 0)
		return SG_ERR_ALLOC;
	printf("%s\n", txt);
	free(txt);
	return 0;
}

/* ---- options, configuration and queue, for all three commands ------------ */

struct st_opts {
	const char *config;
	const char *key;       /* signatures --key */
	const char *since;     /* signatures --since */
	const char *agent_key; /* job --agent-key */
	int json;
};

enum { OPT_JSON = 256, OPT_KEY, OPT_SINCE, OPT_AGENT_KEY };

static void
st_usage(FILE *f)
{
	fprintf(f,
	    "usage: signet-admin status -c CONFIG [--json]\n"
	    "       signet-admin job -c CONFIG ID [--json] [--agent-key PEM]\n"
	    "       signet-admin signatures -c CONFIG [--key KEY] [--since TIME] [--json]\n");
}

/* Parses the options; *ret_operand gets the one operand when want_operand.
 * 0 or ST_EXIT_USAGE. */
static int
st_getopt(int argc, char **argv, unsigned allowed, int want_operand, struct st_opts *o,
    const char **ret_operand)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "agent-key", required_argument, NULL, OPT_AGENT_KEY },
		{ NULL, 0, NULL, 0 },
	};
	unsigned given = 0;
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_KEY:
			o->key = optarg;
			given |= 1u;
			break;
		case OPT_SINCE:
			o->since = optarg;
			given |= 2u;
			break;
		case OPT_AGENT_KEY:
			o->agent_key = optarg;
			given |= 4u;
			break;
		default:
			st_usage(stderr);
			return ST_EXIT_USAGE;
		}
	}
	if ((given & ~allowed) != 0) {
		fprintf(stderr, "signet-admin: %s: an option given does not apply\n", argv[0]);
		st_usage(stderr);
		return ST_EXIT_USAGE;
	}
	if (o->config == NULL) {
		fprintf(stderr, "signet-admin: %s needs -c CONFIG\n", argv[0]);
		return ST_EXIT_USAGE;
	}
	if (argc - optind != (want_operand ? 1 : 0)) {
		st_usage(stderr);
		return ST_EXIT_USAGE;
	}
	if (want_operand)
		*ret_operand = argv[optind];
	return 0;
}

static int
load_config(const char *path, struct agent_config **ret)
{
	char err[CONFIG_PROBLEM_MAX] = "";
	int r;

	r = config_load_flags(path, CONFIG_LOAD_NO_FILES, ret, err, sizeof(err));
	if (r != 0) {
		fprintf(stderr, "signet-admin: %s: %s\n", path, err[0] ? err : sg_strerror(r));
		return ST_EXIT_FAILED;
	}
	return 0;
}

/* The queue of cfg, or NULL with why filled (the URL without its
 * password, and the reason). */
static struct queue *
open_queue(const struct agent_config *cfg, char *why, size_t whylen)
{
	struct queue_opts qo;
	struct queue *q = NULL;
	char reason[QUEUE_REASON_MAX] = "", url[ST_SHOWN_MAX];
	int r;

	config_queue_opts(cfg, &qo);
	qo.timeout_ms = ST_TIMEOUT_MS;
	if ((r = queue_open_reason(&qo, &q, reason, sizeof(reason))) == 0)
		return q;
	queue_url_display(cfg->redis, url, sizeof(url));
	snprintf(
	    why, whylen, "Redis at %s: %s%s%s", url, sg_strerror(r), reason[0] ? ": " : "", reason);
	return NULL;
}

/* The prefix as the keys are named ("signet:"). */
static const char *
prefix_of(const struct agent_config *cfg)
{
	return cfg->prefix != NULL ? cfg->prefix : QUEUE_DEFAULT_PREFIX;
}

/* Reads the audit log at path through fn.  0; 1 when it does not exist yet
 * (*exists 0); or the problem in why and SG_ERR_VERIFY / another code. */
static int
scan_log(const char *path, auditlog_record_fn fn, void *arg, uint64_t *ret_records, int *ret_exists,
    char *why, size_t whylen)
{
	struct auditlog_state *st = NULL;
	int r;

	*ret_exists = 1;
	*ret_records = 0;
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		*ret_exists = 0;
		return 0;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return SG_ERR_ALLOC;
	}
	r = auditlog_scan_file(path, fn, arg, NULL, 0, NULL, st);
	*ret_records = st->records;
	if (r == SG_ERR_VERIFY)
		snprintf(why, whylen, "audit log %s: %s (line %llu); records after it not read",
		    path, st->problem, (unsigned long long)st->bad_line);
	else if (r == SG_ERR_SYSTEM)
		snprintf(why, whylen, "audit log %s: cannot read it: %s", path, strerror(errno));
	else if (r != 0)
		snprintf(why, whylen, "audit log %s: %s", path, sg_strerror(r));
	free(st);
	return r;
}

/* ---- status -------------------------------------------------------------- */

struct st_pending_job {
	char *id, *key, *submitter, *entry;
	int64_t time, expires;
};

struct st_last {
	char *time, *id, *submitter;
};

struct st_status {
	const struct agent_config *cfg;
	/* from the log */
	struct st_pending_job *pend;
	size_t npend;
	int pend_overflow;
	struct st_last *last; /* per configured key */
};

static void
pend_clear(struct st_pending_job *p)
{
	free(p->id);
	free(p->key);
	free(p->submitter);
	free(p->entry);
	memset(p, 0, sizeof(*p));
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static int
status_record(void *arg, uint64_t seq, const char *line, size_t len, const uint8_t leaf[SHA256_LEN],
    const cJSON *rec)
{
	struct st_status *st = arg;
	const char *ev = rec_str(rec, "event", NULL), *id = rec_str(rec, "id", NULL);
	const char *key, *tm;
	struct st_pending_job *p = NULL;
	size_t i;
	long k;

	(void)seq;
	(void)line;
	(void)len;
	(void)leaf;
	if (ev == NULL || id == NULL)
		return 0;
	for (i = 0; i < st->npend; i++)
		if (strcmp(st->pend[i].id, id) == 0)
			p = &st->pend[i];
	if (str_is(ev, "pending")) {
		if (p == NULL) {
			if (st->npend == ST_PENDING_MAX) {
				st->pend_overflow = 1;
				return 0;
			}
			p = &st->pend[st->npend++];
		} else {
			pend_clear(p);
		}
		p->id = strdup(id);
		p->key = dup_or_null(rec_str(rec, "key", NULL));
		p->submitter = dup_or_null(rec_str(rec, "submitter", NULL));
		p->entry = dup_or_null(rec_str(rec, "entry", NULL));
		if (p->id == NULL)
			return SG_ERR_ALLOC;
		if (json_get_time(rec, "expires", &p->expires) != 0)
			p->expires = 0;
		if (json_get_time(rec, "time", &p->time) != 0)
			p->time = 0;
		return 0;
	}
	if (!is_decision(ev))
		return 0;
	if (p != NULL) {
		/* Decided: no longer waiting.  The table stays dense. */
		pend_clear(p);
		*p = st->pend[--st->npend];
		memset(&st->pend[st->npend], 0, sizeof(*p));
	}
	if (!str_is(ev, "signed") || (key = rec_str(rec, "key", NULL)) == NULL ||
	    (tm = rec_str(rec, "time", NULL)) == NULL || (k = config_key_index(st->cfg, key)) < 0)
		return 0;
	free(st->last[k].time);
	free(st->last[k].id);
	free(st->last[k].submitter);
	st->last[k].time = strdup(tm);
	st->last[k].id = strdup(id);
	st->last[k].submitter = dup_or_null(rec_str(rec, "submitter", NULL));
	return st->last[k].time == NULL || st->last[k].id == NULL ? SG_ERR_ALLOC : 0;
}

/* What Redis said, or why it could not be asked. */
struct st_queue {
	int reachable;
	char error[ST_SHOWN_MAX * 2];
	int has_group;
	uint64_t depth, pending, dead;
	int has_oldest;
	struct queue_pending oldest;
	struct queue_consumer *consumers;
	size_t nconsumers;
	int consumers_truncated;
};

static void
read_queue(const struct agent_config *cfg, struct st_queue *sq)
{
	struct queue *q;
	int r;

	memset(sq, 0, sizeof(*sq));
	if ((q = open_queue(cfg, sq->error, sizeof(sq->error))) == NULL)
		return;
	sq->reachable = 1;
	sq->has_group = 1;
	if ((r = queue_length(q, &sq->depth)) != 0)
		goto fail;
	if ((r = queue_dead_length(q, &sq->dead)) != 0)
		goto fail;
	r = queue_pending_summary(q, &sq->pending, &sq->oldest, &sq->has_oldest);
	if (r == SG_ERR_NOT_FOUND) {
		sq->has_group = 0;
	} else if (r != 0) {
		goto fail;
	} else {
		r = queue_consumers(q, &sq->consumers, &sq->nconsumers, &sq->consumers_truncated);
		if (r == SG_ERR_NOT_FOUND)
			sq->has_group = 0;
		else if (r != 0)
			goto fail;
	}
	queue_close(q);
	return;
fail : {
	char url[ST_SHOWN_MAX];

	queue_url_display(cfg->redis, url, sizeof(url));
	snprintf(sq->error, sizeof(sq->error), "Redis at %s: %s", url, sg_strerror(r));
}
	sq->reachable = 0;
	queue_close(q);
}

/* One configured key's certificate, judged as the agent judges it
 * (pipeline.c: valid from notBefore to notAfter, both included). */
struct st_cert {
	const char *state; /* valid, expiring, expired, not_yet_valid, unreadable, none */
	char not_before[SGTIME_LEN + 1], not_after[SGTIME_LEN + 1];
	int64_t nb, na;
	const char *error;
};

static void
read_cert(const struct agent_key *k, int64_t now, struct st_cert *c)
{
	STACK_OF(X509) *certs = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	if (k->certificates_path == NULL) {
		c->state = "none";
		return;
	}
	if ((r = crypto_load_certs(k->certificates_path, &certs)) != 0) {
		c->state = "unreadable";
		c->error = sg_strerror(r);
		return;
	}
	if (sk_X509_num(certs) < 1 ||
	    crypto_cert_validity(sk_X509_value(certs, 0), &c->nb, &c->na) != 0) {
		c->state = "unreadable";
		c->error = "the first certificate's validity cannot be read";
	} else {
		sgtime_format(c->nb, c->not_before);
		sgtime_format(c->na, c->not_after);
		if (now < c->nb)
			c->state = "not_yet_valid";
		else if (now > c->na)
			c->state = "expired";
		else if (c->na - now < CONFIG_CERT_WARN_S)
			c->state = "expiring";
		else
			c->state = "valid";
	}
	sk_X509_pop_free(certs, X509_free);
}

static int
cert_is_bad(const struct st_cert *c)
{
	return str_is(c->state, "expired") || str_is(c->state, "not_yet_valid") ||
	    str_is(c->state, "unreadable");
}

/* Days from now to t, rounded towards zero. */
static long long
days_left(int64_t t, int64_t now)
{
	return (long long)((t - now) / 86400);
}

static int
status_json(const struct st_status *st, const struct st_queue *sq, const struct st_cert *certs,
    uint64_t records, int log_exists, const char *log_error, int64_t now)
{
	const struct agent_config *cfg = st->cfg;
	cJSON *root = cJSON_CreateObject(), *o, *a, *x;
	char url[ST_SHOWN_MAX], t[SGTIME_LEN + 1];
	size_t i;
	int r = SG_ERR_ALLOC;

	queue_url_display(cfg->redis, url, sizeof(url));
	sgtime_format(now, t);
	if (root == NULL || json_add_string(root, "agent", cfg->name) != 0 ||
	    json_add_string(root, "time", t) != 0 ||
	    (o = cJSON_AddObjectToObject(root, "redis")) == NULL ||
	    json_add_string(o, "url", url) != 0 ||
	    json_add_string(o, "prefix", prefix_of(cfg)) != 0 ||
	    cJSON_AddBoolToObject(o, "reachable", sq->reachable) == NULL ||
	    (!sq->reachable && json_add_string(o, "error", sq->error) != 0))
		goto out;
	if (!sq->reachable) {
		if (cJSON_AddNullToObject(root, "queue") == NULL)
			goto out;
	} else {
		if ((o = cJSON_AddObjectToObject(root, "queue")) == NULL ||
		    json_add_int(o, "depth", (int64_t)sq->depth) != 0 ||
		    json_add_int(o, "pending", (int64_t)sq->pending) != 0 ||
		    json_add_int(o, "dead_letters", (int64_t)sq->dead) != 0 ||
		    cJSON_AddBoolToObject(o, "group", sq->has_group) == NULL)
			goto out;
		if (!sq->has_oldest) {
			if (cJSON_AddNullToObject(o, "oldest_pending") == NULL)
				goto out;
		} else {
			int64_t ms = entry_ms(sq->oldest.entry);
			if ((x = cJSON_AddObjectToObject(o, "oldest_pending")) == NULL ||
			    json_add_string(x, "entry", sq->oldest.entry) != 0 ||
			    json_add_string(x, "consumer", sq->oldest.consumer) != 0 ||
			    json_add_int(x, "age_s",
				ms >= 0 && now_ms() > ms ? (now_ms() - ms) / 1000 : 0) != 0 ||
			    json_add_int(x, "idle_ms", sq->oldest.idle_ms) != 0 ||
			    json_add_int(x, "deliveries", (int64_t)sq->oldest.deliveries) != 0)
				goto out;
		}
		if ((a = cJSON_AddArrayToObject(o, "consumers")) == NULL ||
		    cJSON_AddBoolToObject(o, "consumers_truncated", sq->consumers_truncated) ==
			NULL)
			goto out;
		for (i = 0; i < sq->nconsumers; i++) {
			char esc[ST_SHOWN_MAX];
			const struct queue_consumer *c = &sq->consumers[i];

			/* The name as Redis has it when it is text; escaped
			 * when it holds a NUL, a control character or bytes
			 * that are not UTF-8 (the output stays valid JSON). */
			if ((x = cJSON_CreateObject()) == NULL) {
				goto out;
			}
			cJSON_AddItemToArray(a, x);
			if (json_add_string(x, "name",
				json_text_ok(c->name, c->name_len)
				    ? c->name
				    : shown(c->name, c->name_len, esc)) != 0 ||
			    json_add_int(x, "pending", (int64_t)c->pending) != 0 ||
			    json_add_int(x, "idle_ms", c->idle_ms) != 0)
				goto out;
		}
	}
	if ((o = cJSON_AddObjectToObject(root, "audit")) == NULL ||
	    json_add_string(o, "path", cfg->audit_log) != 0 ||
	    cJSON_AddBoolToObject(o, "exists", log_exists) == NULL ||
	    json_add_int(o, "records", (int64_t)records) != 0 ||
	    add_opt(o, "error", log_error) != 0 ||
	    cJSON_AddBoolToObject(o, "approvals_truncated", st->pend_overflow) == NULL)
		goto out;
	if ((a = cJSON_AddArrayToObject(root, "approvals_pending")) == NULL)
		goto out;
	for (i = 0; i < st->npend; i++) {
		const struct st_pending_job *p = &st->pend[i];

		if (p->expires != 0 && p->expires <= now)
			continue;
		if ((x = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(a, x);
		if (json_add_string(x, "id", p->id) != 0 || add_opt(x, "key", p->key) != 0 ||
		    add_opt(x, "submitter", p->submitter) != 0 ||
		    add_opt(x, "entry", p->entry) != 0)
			goto out;
		if (p->time != 0) {
			sgtime_format(p->time, t);
			if (json_add_string(x, "since", t) != 0)
				goto out;
		}
		if (p->expires != 0) {
			sgtime_format(p->expires, t);
			if (json_add_string(x, "expires", t) != 0)
				goto out;
		}
	}
	if ((a = cJSON_AddArrayToObject(root, "last_signatures")) == NULL)
		goto out;
	for (i = 0; i < cfg->nkeys; i++) {
		if ((x = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(a, x);
		if (json_add_string(x, "key", cfg->keys[i].name) != 0 ||
		    add_opt(x, "time", st->last[i].time) != 0 ||
		    add_opt(x, "id", st->last[i].id) != 0 ||
		    add_opt(x, "submitter", st->last[i].submitter) != 0)
			goto out;
	}
	if ((a = cJSON_AddArrayToObject(root, "certificates")) == NULL)
		goto out;
	for (i = 0; i < cfg->nkeys; i++) {
		const struct st_cert *c = &certs[i];

		if ((x = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(a, x);
		if (json_add_string(x, "key", cfg->keys[i].name) != 0 ||
		    add_opt(x, "file", cfg->keys[i].certificates_path) != 0 ||
		    json_add_string(x, "state", c->state) != 0 ||
		    add_opt(x, "error", c->error) != 0)
			goto out;
		if (c->not_after[0] != '\0' &&
		    (json_add_string(x, "not_before", c->not_before) != 0 ||
			json_add_string(x, "not_after", c->not_after) != 0 ||
			json_add_int(x, "days_left", days_left(c->na, now)) != 0))
			goto out;
	}
	r = print_json(root);
out:
	cJSON_Delete(root);
	return r;
}

static void
status_human(const struct st_status *st, const struct st_queue *sq, const struct st_cert *certs,
    uint64_t records, int log_exists, const char *log_error, int64_t now)
{
	const struct agent_config *cfg = st->cfg;
	char url[ST_SHOWN_MAX], esc[ST_SHOWN_MAX], esc2[ST_SHOWN_MAX], d1[ST_DURATION_MAX],
	    d2[ST_DURATION_MAX], t[SGTIME_LEN + 1];
	size_t i, w = 0, shown_pend = 0;

	queue_url_display(cfg->redis, url, sizeof(url));
	printf("agent %s, queue %s (prefix %s)\n", cfg->name, url, prefix_of(cfg));
	printf("\nqueue\n");
	if (!sq->reachable) {
		printf("  UNREACHABLE: %s\n", sq->error);
	} else {
		printf("  %-16s %llu (%sjobs)\n", "depth", (unsigned long long)sq->depth,
		    prefix_of(cfg));
		printf("  %-16s %llu (delivered, not acknowledged)\n", "pending",
		    (unsigned long long)sq->pending);
		if (sq->has_oldest) {
			int64_t ms = entry_ms(sq->oldest.entry);
			printf("  %-16s %s, queued %s ago, idle %s, %llu deliver%s, consumer %s\n",
			    "oldest pending", sq->oldest.entry,
			    duration(ms >= 0 ? now_ms() - ms : 0, d1),
			    duration(sq->oldest.idle_ms, d2),
			    (unsigned long long)sq->oldest.deliveries,
			    sq->oldest.deliveries == 1 ? "y" : "ies", sq->oldest.consumer);
		}
		printf("  %-16s %llu (%sdead)\n", "dead letters", (unsigned long long)sq->dead,
		    prefix_of(cfg));
		printf("\nconsumers of group %s\n", QUEUE_GROUP);
		if (!sq->has_group)
			printf("  none: the group does not exist yet (no agent has started)\n");
		else if (sq->nconsumers == 0)
			printf("  none\n");
		for (i = 0; i < sq->nconsumers; i++) {
			size_t l =
			    strlen(shown(sq->consumers[i].name, sq->consumers[i].name_len, esc));
			w = l > w ? l : w;
		}
		for (i = 0; i < sq->nconsumers; i++) {
			const struct queue_consumer *c = &sq->consumers[i];
			printf("  %-*s  pending %-6llu idle %s\n", (int)w,
			    shown(c->name, c->name_len, esc), (unsigned long long)c->pending,
			    duration(c->idle_ms, d1));
		}
		if (sq->consumers_truncated)
			printf("  (more than %d consumers; the rest not shown)\n",
			    QUEUE_CONSUMERS_MAX);
	}
	printf("\naudit log %s: ", cfg->audit_log);
	if (!log_exists)
		printf("does not exist yet\n");
	else
		printf("%llu records%s%s\n", (unsigned long long)records, log_error ? "; " : "",
		    log_error ? "READ STOPPED (see below)" : "");
	w = 0;
	for (i = 0; i < cfg->nkeys; i++)
		w = strlen(cfg->keys[i].name) > w ? strlen(cfg->keys[i].name) : w;
	printf("\njobs waiting for approvals\n");
	for (i = 0; i < st->npend; i++) {
		const struct st_pending_job *p = &st->pend[i];
		char esc3[ST_SHOWN_MAX];

		if (p->expires != 0 && p->expires <= now)
			continue;
		shown_pend++;
		sgtime_format(p->expires, t);
		printf("  %s  key %s  submitter %s  expires %s (in %s)\n",
		    shown(p->id, strlen(p->id), esc),
		    p->key ? shown(p->key, strlen(p->key), esc2) : "?",
		    p->submitter ? shown(p->submitter, strlen(p->submitter), esc3) : "?",
		    p->expires ? t : "?", duration((p->expires - now) * 1000, d1));
	}
	if (shown_pend == 0)
		printf("  none\n");
	if (st->pend_overflow)
		printf("  (more than %d; the rest not shown)\n", ST_PENDING_MAX);
	printf("\nlast signature per key\n");
	for (i = 0; i < cfg->nkeys; i++) {
		const struct st_last *l = &st->last[i];
		char esc3[ST_SHOWN_MAX];

		if (l->time == NULL) {
			printf("  %-*s  never\n", (int)w, cfg->keys[i].name);
			continue;
		}
		printf("  %-*s  %s  job %s  submitter %s\n", (int)w, cfg->keys[i].name,
		    shown(l->time, strlen(l->time), esc), shown(l->id, strlen(l->id), esc2),
		    l->submitter ? shown(l->submitter, strlen(l->submitter), esc3) : "?");
	}
	printf("\ncertificates\n");
	for (i = 0; i < cfg->nkeys; i++) {
		const struct st_cert *c = &certs[i];
		const char *name = cfg->keys[i].name;

		if (str_is(c->state, "none"))
			printf("  %-*s  none configured\n", (int)w, name);
		else if (str_is(c->state, "unreadable"))
			printf("  %-*s  UNREADABLE %s: %s\n", (int)w, name,
			    cfg->keys[i].certificates_path, c->error);
		else if (str_is(c->state, "expired"))
			printf("  %-*s  not after %s  EXPIRED %lld days ago\n", (int)w, name,
			    c->not_after, -days_left(c->na, now));
		else if (str_is(c->state, "not_yet_valid"))
			printf("  %-*s  not after %s  NOT YET VALID (from %s)\n", (int)w, name,
			    c->not_after, c->not_before);
		else
			printf("  %-*s  not after %s  %lld days left%s\n", (int)w, name,
			    c->not_after, days_left(c->na, now),
			    str_is(c->state, "expiring") ? " (expires soon)" : "");
	}
}

static int
cmd_status(int argc, char **argv)
{
	struct st_opts o;
	struct agent_config *cfg = NULL;
	struct st_status st;
	struct st_queue sq;
	struct st_cert *certs = NULL;
	char log_error[ST_SHOWN_MAX * 2] = "";
	uint64_t records = 0;
	int64_t now = sgtime_now();
	size_t i, nbad = 0;
	int ex, r, log_exists = 1;

	memset(&st, 0, sizeof(st));
	memset(&sq, 0, sizeof(sq));
	if ((ex = st_getopt(argc, argv, 0, 0, &o, NULL)) != 0)
		return ex;
	if ((ex = load_config(o.config, &cfg)) != 0)
		return ex;
	ex = ST_EXIT_FAILED;
	st.cfg = cfg;
	if ((st.pend = calloc(ST_PENDING_MAX, sizeof(*st.pend))) == NULL ||
	    (st.last = calloc(cfg->nkeys + 1, sizeof(*st.last))) == NULL ||
	    (certs = calloc(cfg->nkeys + 1, sizeof(*certs))) == NULL) {
		fprintf(stderr, "signet-admin: out of memory\n");
		goto out;
	}
	read_queue(cfg, &sq);
	r = scan_log(cfg->audit_log, status_record, &st, &records, &log_exists, log_error,
	    sizeof(log_error));
	if (r == SG_ERR_ALLOC) {
		fprintf(stderr, "signet-admin: out of memory\n");
		goto out;
	}
	for (i = 0; i < cfg->nkeys; i++) {
		read_cert(&cfg->keys[i], now, &certs[i]);
		nbad += cert_is_bad(&certs[i]);
	}
	if (o.json)
		r = status_json(
		    &st, &sq, certs, records, log_exists, log_error[0] ? log_error : NULL, now);
	else
		status_human(
		    &st, &sq, certs, records, log_exists, log_error[0] ? log_error : NULL, now);
	if (fflush(stdout) != 0 || (o.json && r != 0)) {
		fprintf(stderr, "signet-admin: cannot write the status\n");
		goto out;
	}
	ex = ST_EXIT_OK;
	if (!sq.reachable) {
		fprintf(stderr, "signet-admin: %s\n", sq.error);
		ex = ST_EXIT_FAILED;
	}
	if (log_error[0] != '\0') {
		fprintf(stderr, "signet-admin: %s\n", log_error);
		ex = ST_EXIT_FAILED;
	}
	for (i = 0; i < cfg->nkeys; i++) {
		if (!cert_is_bad(&certs[i]))
			continue;
		fprintf(stderr,
		    "signet-admin: key %s: its certificate is %s: its jobs are refused "
		    "(key.cert_expired)\n",
		    cfg->keys[i].name,
		    str_is(certs[i].state, "expired")             ? "expired"
			: str_is(certs[i].state, "not_yet_valid") ? "not valid yet"
								  : "unreadable");
		ex = ST_EXIT_FAILED;
	}
out:
	if (st.pend != NULL)
		for (i = 0; i < st.npend; i++)
			pend_clear(&st.pend[i]);
	free(st.pend);
	if (st.last != NULL) {
		for (i = 0; i < cfg->nkeys; i++) {
			free(st.last[i].time);
			free(st.last[i].id);
			free(st.last[i].submitter);
		}
	}
	free(st.last);
	free(certs);
	free(sq.consumers);
	config_free(cfg);
	return ex;
}

/* ---- job ------------------------------------------------------------------ */

struct st_job {
	const char *id;
	char *entries[ST_ENTRIES_MAX]; /* stream entries named by its records */
	size_t nentries;
	int collect; /* pass 1: collect entries; pass 2: show records */
	int json;
	cJSON *records; /* pass 2, --json */
	size_t nrecords;
};

static int
job_has_entry(const struct st_job *j, const char *entry)
{
	size_t i;

	for (i = 0; entry != NULL && i < j->nentries; i++)
		if (strcmp(j->entries[i], entry) == 0)
			return 1;
	return 0;
}

/* One record on one line: "  #seq time event member=value ...". */
static void
print_record(uint64_t seq, const cJSON *rec)
{
	const cJSON *m;
	char esc[ST_SHOWN_MAX], esc2[ST_SHOWN_MAX];
	const char *ev = rec_str(rec, "event", NULL), *tm = rec_str(rec, "time", NULL);

	printf("  #%llu %s %s", (unsigned long long)seq, tm ? shown(tm, strlen(tm), esc) : "?",
	    ev ? shown(ev, strlen(ev), esc2) : "?");
	for (m = rec->child; m != NULL; m = m->next) {
		const char *name = m->string != NULL ? m->string : "";

		if (str_is(name, "seq") || str_is(name, "time") || str_is(name, "prev") ||
		    str_is(name, "event"))
			continue;
		printf(" %s=", shown(name, strlen(name), esc));
		if (cJSON_IsString(m) && str_is(name, "signature")) {
			printf("<%zu bytes of base64>", strlen(m->valuestring));
		} else if (cJSON_IsString(m)) {
			printf("%s", shown(m->valuestring, strlen(m->valuestring), esc));
		} else {
			char *txt = cJSON_PrintUnformatted(m);
			printf("%s", txt != NULL ? shown(txt, strlen(txt), esc) : "?");
			free(txt);
		}
	}
	printf("\n");
}

static int
job_record(void *arg, uint64_t seq, const char *line, size_t len, const uint8_t leaf[SHA256_LEN],
    const cJSON *rec)
{
	struct st_job *j = arg;
	const char *id = rec_str(rec, "id", NULL), *ev = rec_str(rec, "event", NULL);
	const char *entry = rec_str(rec, "entry", NULL);
	cJSON *copy;

	(void)line;
	(void)len;
	(void)leaf;
	if (j->collect) {
		if (str_is(id, j->id) && entry != NULL && !job_has_entry(j, entry) &&
		    j->nentries < ST_ENTRIES_MAX && queue_is_entry_id(entry, strlen(entry)) &&
		    !str_is(ev, "approval")) {
			if ((j->entries[j->nentries] = strdup(entry)) == NULL)
				return SG_ERR_ALLOC;
			j->nentries++;
		}
		return 0;
	}
	/* The job's own records, and the "received" records of its entries
	 * (which come before the entry is parsed, so name no job id). */
	if (!str_is(id, j->id) &&
	    !(str_is(ev, "received") && id == NULL && job_has_entry(j, entry)))
		return 0;
	j->nrecords++;
	if (!j->json) {
		if (j->nrecords == 1)
			printf("\naudit records\n");
		print_record(seq, rec);
		return 0;
	}
	if ((copy = cJSON_Duplicate(rec, 1)) == NULL)
		return SG_ERR_ALLOC;
	cJSON_AddItemToArray(j->records, copy);
	return 0;
}

/* A stream entry of the job, as found. */
struct st_entry {
	char id[QUEUE_ENTRY_ID_MAX + 1];
	int in_stream;
	int is_pending;
	struct queue_pending p;
};

/* Looks through the stream (at most ST_SCAN_MAX entries) for entries whose
 * job payload names id.  Returns 0 or a queue error; *ret_more when the
 * scan stopped at its bound. */
static int
scan_stream(struct queue *q, const char *id, struct st_entry *out, size_t *nout, int *ret_more)
{
	struct queue_entry *e = NULL;
	char start[QUEUE_ENTRY_ID_MAX + 2] = "-", got[JOB_ID_LEN + 1];
	size_t n = 0, i, seen = 0;
	int r;

	*ret_more = 0;
	while (seen < ST_SCAN_MAX) {
		if ((r = queue_range(q, start, QUEUE_READ_COUNT_MAX, &e, &n)) != 0)
			return r;
		for (i = 0; i < n; i++) {
			struct dsse_envelope *env = NULL;

			if (e[i].env == NULL || envelope_parse(e[i].env, e[i].env_len, &env) != 0)
				continue;
			if (strcmp(env->payload_type, PAYLOAD_TYPE_JOB) == 0 &&
			    job_peek_id(env->payload, env->payload_len, got) == 0 &&
			    strcmp(got, id) == 0 && *nout < ST_ENTRIES_MAX) {
				memset(&out[*nout], 0, sizeof(out[*nout]));
				snprintf(out[*nout].id, sizeof(out[*nout].id), "%s", e[i].id);
				out[*nout].in_stream = 1;
				(*nout)++;
			}
			envelope_free(env);
		}
		seen += n;
		if (n > 0)
			snprintf(start, sizeof(start), "(%s", e[n - 1].id);
		queue_entries_free(e, n);
		e = NULL;
		if (n < QUEUE_READ_COUNT_MAX)
			return 0;
	}
	*ret_more = 1;
	return 0;
}

/* What the result key holds. */
struct st_result {
	int present;
	int parsed;
	const char *problem; /* why it could not be read or verified */
	int verified;        /* -1: not checked (no --agent-key) */
	struct sg_result *res;
};

static void
read_result(struct queue *q, const char *id, EVP_PKEY *agent, const char *agent_keyid,
    struct st_result *sr, int *ret_qerr)
{
	struct dsse_envelope *env = NULL;
	struct sg_result *vres = NULL;
	uint8_t *payload = NULL;
	size_t plen = 0, len = 0;
	char *buf = NULL;
	const char *why = NULL;
	int r;

	memset(sr, 0, sizeof(*sr));
	sr->verified = -1;
	r = queue_get_result(q, id, &buf, &len);
	if (r == SG_ERR_NOT_FOUND)
		return;
	sr->present = 1;
	if (r == SG_ERR_LIMIT) {
		sr->problem = "longer than any result (not read)";
		return;
	}
	if (r != 0) {
		*ret_qerr = r;
		sr->present = 0;
		return;
	}
	if (envelope_parse(buf, len, &env) != 0 ||
	    strcmp(env->payload_type, PAYLOAD_TYPE_RESULT) != 0) {
		sr->problem = "not a result envelope";
		goto out;
	}
	if (result_parse(env->payload, env->payload_len, &sr->res) != 0) {
		sr->problem = "its payload is not a valid result";
		goto out;
	}
	sr->parsed = 1;
	if (strcmp(sr->res->id, id) != 0) {
		sr->problem = "it names another job id";
		goto out;
	}
	if (agent != NULL) {
		r = verify_result_envelope(
		    agent, agent_keyid, buf, len, &vres, &payload, &plen, &why);
		sr->verified = r == 0;
		if (r != 0)
			sr->problem = why != NULL ? why : sg_strerror(r);
	}
out:
	result_free(vres);
	free(payload);
	envelope_free(env);
	free(buf);
}

static const char *
verified_text(const struct st_result *sr)
{
	return sr->verified < 0 ? "unverified (no --agent-key)"
	    : sr->verified      ? "verified: attested by the agent key"
				: "NOT VERIFIED";
}

static int
cmd_job(int argc, char **argv)
{
	struct st_opts o;
	struct agent_config *cfg = NULL;
	struct st_job j;
	struct st_entry *ents = NULL;
	struct st_result sr;
	struct queue *q = NULL;
	EVP_PKEY *agent = NULL;
	cJSON *root = NULL, *x, *a, *y;
	char qerr[ST_SHOWN_MAX * 2] = "", log_error[ST_SHOWN_MAX * 2] = "",
				 claim[QUEUE_CONSUMER_MAX + 1] = "";
	char agent_keyid[KEYID_LEN + 1] = "", d1[ST_DURATION_MAX], esc[ST_SHOWN_MAX];
	const char *id = NULL;
	uint64_t records = 0, done = 0;
	size_t nents = 0, i, k;
	int ex, r, log_exists = 1, more = 0, has_claim = 0, has_done = 0, known = 0, qr = 0;

	memset(&j, 0, sizeof(j));
	memset(&sr, 0, sizeof(sr));
	sr.verified = -1;
	if ((ex = st_getopt(argc, argv, 4u, 1, &o, &id)) != 0)
		return ex;
	if (!queue_is_job_id(id)) {
		fprintf(stderr,
		    "signet-admin: job: \"%s\" is not a job id (%d lowercase hex "
		    "digits)\n",
		    shown(id, strlen(id), esc), JOB_ID_LEN);
		return ST_EXIT_USAGE;
	}
	if (o.agent_key != NULL) {
		if (crypto_load_pubkey(o.agent_key, &agent) != 0 ||
		    crypto_keyid(agent, agent_keyid) != 0) {
			fprintf(stderr, "signet-admin: job: %s: not a readable public key\n",
			    o.agent_key);
			EVP_PKEY_free(agent);
			return ST_EXIT_USAGE;
		}
	}
	if ((ex = load_config(o.config, &cfg)) != 0) {
		EVP_PKEY_free(agent);
		return ex;
	}
	ex = ST_EXIT_FAILED;
	j.id = id;
	j.json = o.json;
	if ((ents = calloc(ST_ENTRIES_MAX, sizeof(*ents))) == NULL ||
	    (o.json &&
		((root = cJSON_CreateObject()) == NULL ||
		    (j.records = cJSON_CreateArray()) == NULL))) {
		fprintf(stderr, "signet-admin: out of memory\n");
		goto out;
	}
	/* Pass 1: the entries the log names for the job. */
	j.collect = 1;
	r = scan_log(
	    cfg->audit_log, job_record, &j, &records, &log_exists, log_error, sizeof(log_error));
	if (r == SG_ERR_ALLOC)
		goto oom;
	/* Redis: the stream, the result, the done list, the claim. */
	if ((q = open_queue(cfg, qerr, sizeof(qerr))) != NULL) {
		qr = scan_stream(q, id, ents, &nents, &more);
		/* Entries the log names that the scan did not reach. */
		for (i = 0; qr == 0 && i < j.nentries && nents < ST_ENTRIES_MAX; i++) {
			struct queue_entry *e = NULL;

			for (k = 0; k < nents; k++)
				if (strcmp(ents[k].id, j.entries[i]) == 0)
					break;
			if (k < nents)
				continue;
			snprintf(ents[nents].id, sizeof(ents[nents].id), "%s", j.entries[i]);
			qr = queue_get_entry(q, j.entries[i], &e);
			if (qr == SG_ERR_NOT_FOUND)
				qr = 0;
			else if (qr == 0)
				ents[nents].in_stream = 1;
			queue_entries_free(e, e != NULL ? 1 : 0);
			nents++;
		}
		for (i = 0; qr == 0 && i < nents; i++) {
			qr = queue_pending_entry(q, ents[i].id, &ents[i].p);
			ents[i].is_pending = qr == 0;
			if (qr == SG_ERR_NOT_FOUND)
				qr = 0;
		}
		if (qr == 0)
			read_result(q, id, agent, agent_keyid, &sr, &qr);
		if (qr == 0) {
			qr = queue_done_length(q, id, &done);
			has_done = qr == 0;
		}
		if (qr == 0) {
			qr = queue_get_claim(q, id, claim, sizeof(claim));
			has_claim = qr == 0;
			if (qr == SG_ERR_NOT_FOUND)
				qr = 0;
		}
		if (qr != 0) {
			char url[ST_SHOWN_MAX];

			queue_url_display(cfg->redis, url, sizeof(url));
			snprintf(qerr, sizeof(qerr), "Redis at %s: %s", url, sg_strerror(qr));
		}
	} else {
		/* Without Redis, the entries the log names are still worth showing. */
		for (i = 0; i < j.nentries; i++, nents++)
			snprintf(ents[nents].id, sizeof(ents[nents].id), "%s", j.entries[i]);
	}
	known = sr.present || (has_done && done > 0) || has_claim;
	for (i = 0; i < nents; i++)
		known |= ents[i].in_stream;

	/* Output: Redis first, then the log. */
	if (!o.json) {
		printf("job %s\n", id);
		printf("\nstream entries\n");
		if (qerr[0] != '\0')
			printf("  UNREACHABLE: %s\n", qerr);
		if (nents == 0)
			printf("  none found%s\n",
			    more ? " (stopped after the first 100000 entries)" : "");
		for (i = 0; i < nents; i++) {
			const struct st_entry *e = &ents[i];

			if (q == NULL)
				printf("  %s (named by the audit log)\n", e->id);
			else if (!e->in_stream)
				printf("  %s  no longer in the stream (acknowledged and deleted)\n",
				    e->id);
			else if (e->is_pending)
				printf("  %s  in the stream, delivered to %s, idle %s, %llu "
				       "deliver%s, not acknowledged\n",
				    e->id, e->p.consumer, duration(e->p.idle_ms, d1),
				    (unsigned long long)e->p.deliveries,
				    e->p.deliveries == 1 ? "y" : "ies");
			else
				printf(
				    "  %s  in the stream, not delivered to any agent yet\n", e->id);
		}
		if (q != NULL && qerr[0] == '\0') {
			printf("\nresult (%sresult:%s)\n", prefix_of(cfg), id);
			if (!sr.present) {
				printf("  none\n");
			} else if (!sr.parsed) {
				printf("  present but unreadable: %s\n", sr.problem);
			} else {
				char e1[ST_SHOWN_MAX], e2[ST_SHOWN_MAX], t[SGTIME_LEN + 1];

				printf("  status    %s\n", sg_status_name(sr.res->status));
				if (sr.res->error_code != NULL)
					printf("  code      %s\n",
					    shown(sr.res->error_code, strlen(sr.res->error_code),
						e1));
				if (sr.res->error_message != NULL)
					printf("  message   %s\n",
					    shown(sr.res->error_message,
						strlen(sr.res->error_message), e2));
				if (sr.res->key != NULL)
					printf("  key       %s\n",
					    shown(sr.res->key, strlen(sr.res->key), e1));
				if (sr.res->submitter != NULL)
					printf("  submitter %s\n",
					    shown(
						sr.res->submitter, strlen(sr.res->submitter), e2));
				if (sr.res->signed_at != 0) {
					sgtime_format(sr.res->signed_at, t);
					printf("  signed at %s\n", t);
				}
				if (sr.res->status == SG_STATUS_PENDING)
					printf("  approvals %zu of %u\n", sr.res->napprovals,
					    sr.res->approvals_required);
				printf("  %s%s%s\n", verified_text(&sr),
				    sr.verified == 0 ? ": " : "",
				    sr.verified == 0 && sr.problem ? sr.problem : "");
			}
			printf("\ndone list (%sdone:%s): %llu\n", prefix_of(cfg), id,
			    (unsigned long long)done);
			printf("claim (%sclaim:%s): %s\n", prefix_of(cfg), id,
			    has_claim ? claim : "none");
		}
		fflush(stdout);
	}
	/* Pass 2: the records. */
	j.collect = 0;
	if (log_error[0] == '\0') {
		r = scan_log(cfg->audit_log, job_record, &j, &records, &log_exists, log_error,
		    sizeof(log_error));
		if (r == SG_ERR_ALLOC)
			goto oom;
	}
	known |= j.nrecords > 0;
	if (!o.json) {
		if (j.nrecords == 0)
			printf(
			    "\naudit records\n  none%s\n", log_exists ? "" : " (no audit log yet)");
	} else {
		if (json_add_string(root, "id", id) != 0 ||
		    cJSON_AddBoolToObject(root, "known", known) == NULL ||
		    (x = cJSON_AddObjectToObject(root, "redis")) == NULL ||
		    cJSON_AddBoolToObject(x, "reachable", q != NULL && qerr[0] == '\0') == NULL ||
		    (qerr[0] != '\0' && json_add_string(x, "error", qerr) != 0) ||
		    (a = cJSON_AddArrayToObject(root, "entries")) == NULL)
			goto oom;
		for (i = 0; i < nents; i++) {
			if ((y = cJSON_CreateObject()) == NULL)
				goto oom;
			cJSON_AddItemToArray(a, y);
			if (json_add_string(y, "entry", ents[i].id) != 0 ||
			    (q != NULL &&
				(cJSON_AddBoolToObject(y, "in_stream", ents[i].in_stream) == NULL ||
				    cJSON_AddBoolToObject(y, "pending", ents[i].is_pending) ==
					NULL)))
				goto oom;
			if (ents[i].is_pending &&
			    (json_add_string(y, "consumer", ents[i].p.consumer) != 0 ||
				json_add_int(y, "idle_ms", ents[i].p.idle_ms) != 0 ||
				json_add_int(y, "deliveries", (int64_t)ents[i].p.deliveries) != 0))
				goto oom;
		}
		if (!sr.present) {
			if (cJSON_AddNullToObject(root, "result") == NULL)
				goto oom;
		} else {
			if ((x = cJSON_AddObjectToObject(root, "result")) == NULL ||
			    cJSON_AddBoolToObject(x, "parsed", sr.parsed) == NULL ||
			    (sr.verified >= 0 &&
				cJSON_AddBoolToObject(x, "verified", sr.verified) == NULL) ||
			    (sr.verified < 0 && cJSON_AddNullToObject(x, "verified") == NULL) ||
			    add_opt(x, "problem", sr.problem) != 0)
				goto oom;
			if (sr.parsed &&
			    (json_add_string(x, "status", sg_status_name(sr.res->status)) != 0 ||
				add_opt(x, "code", sr.res->error_code) != 0 ||
				add_opt(x, "message", sr.res->error_message) != 0 ||
				add_opt(x, "key", sr.res->key) != 0 ||
				add_opt(x, "submitter", sr.res->submitter) != 0))
				goto oom;
		}
		if (q != NULL && qerr[0] == '\0' &&
		    (json_add_int(root, "done", (int64_t)done) != 0 ||
			(has_claim ? json_add_string(root, "claim", claim)
				   : (cJSON_AddNullToObject(root, "claim") == NULL))))
			goto oom;
		cJSON_AddItemToObject(root, "audit", j.records);
		j.records = NULL;
		if (log_error[0] != '\0' && json_add_string(root, "audit_error", log_error) != 0)
			goto oom;
		if (print_json(root) != 0)
			goto oom;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "signet-admin: cannot write to stdout\n");
		goto out;
	}
	ex = known ? ST_EXIT_OK : ST_EXIT_FAILED;
	if (qerr[0] != '\0') {
		fprintf(stderr, "signet-admin: %s\n", qerr);
		ex = ST_EXIT_FAILED;
	}
	if (log_error[0] != '\0') {
		fprintf(stderr, "signet-admin: %s\n", log_error);
		ex = ST_EXIT_FAILED;
	}
	if (!known)
		fprintf(stderr, "signet-admin: job %s: nothing is known of it\n", id);
	goto out;
oom:
	fprintf(stderr, "signet-admin: out of memory\n");
	ex = ST_EXIT_FAILED;
out:
	for (i = 0; i < j.nentries; i++)
		free(j.entries[i]);
	cJSON_Delete(j.records);
	cJSON_Delete(root);
	result_free(sr.res);
	queue_close(q);
	free(ents);
	EVP_PKEY_free(agent);
	config_free(cfg);
	return ex;
}

/* ---- signatures ----------------------------------------------------------- */

/*
 * --since: an RFC 3339 time ("2026-12-01T00:00:00Z") or a span back from
 * now: a number and one of s, m, h, d, w ("24h", "7d").  0 or SG_ERR_PARSE.
 */
static int
parse_since(const char *s, int64_t now, int64_t *ret)
{
	static const struct {
		char unit;
		int64_t seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 } };
	char num[ST_NUM_MAX];
	size_t len = strlen(s), i;
	uint64_t n;

	if (len == SGTIME_LEN)
		return sgtime_parse(s, ret);
	if (len < 2 || len - 1 >= sizeof(num))
		return SG_ERR_PARSE;
	memcpy(num, s, len - 1);
	num[len - 1] = '\0';
	for (i = 0; i < nitems(units); i++) {
		if (s[len - 1] != units[i].unit)
			continue;
		if (parse_u64(num, (uint64_t)(now / units[i].seconds), &n) != 0)
			return SG_ERR_PARSE;
		*ret = now - (int64_t)n * units[i].seconds;
		return 0;
	}
	return SG_ERR_PARSE;
}

struct st_sigs {
	const char *key;
	int64_t since;
	int json;
	uint64_t n;
	int failed; /* a write or an allocation failed */
};

static int
sig_record(void *arg, uint64_t seq, const char *line, size_t len, const uint8_t leaf[SHA256_LEN],
    const cJSON *rec)
{
	struct st_sigs *s = arg;
	const char *ev = rec_str(rec, "event", NULL), *key = rec_str(rec, "key", NULL);
	const char *tm = rec_str(rec, "time", NULL), *id = rec_str(rec, "id", NULL);
	const char *sub = rec_str(rec, "submitter", NULL), *fmt = rec_str(rec, "format", NULL);
	const char *art = rec_str(rec, "artifact", NULL), *dig = rec_str(rec, "sha256", NULL);
	const char *pipeline = NULL;
	const cJSON *ci = NULL;
	int64_t t = 0;
	int asserted = 0;

	(void)line;
	(void)len;
	(void)leaf;
	if (!str_is(ev, "signed") || key == NULL || tm == NULL || sgtime_parse(tm, &t) != 0)
		return 0;
	if ((s->key != NULL && strcmp(key, s->key) != 0) || t < s->since)
		return 0;
	/* The pipeline a CI identity token verified, else the one the
	 * submitter asserted (said so). */
	if (json_get_object(rec, "ci_verified", &ci) == 0)
		pipeline = rec_str(ci, "pipeline", NULL);
	if (pipeline == NULL && json_get_object(rec, "ci", &ci) == 0 &&
	    (pipeline = rec_str(ci, "pipeline", NULL)) != NULL)
		asserted = 1;
	s->n++;
	if (s->json) {
		cJSON *o = cJSON_CreateObject();
		char *txt = NULL;

		if (o == NULL || json_add_int(o, "seq", (int64_t)seq) != 0 ||
		    json_add_string(o, "time", tm) != 0 || add_opt(o, "id", id) != 0 ||
		    json_add_string(o, "key", key) != 0 || add_opt(o, "submitter", sub) != 0 ||
		    add_opt(o, "format", fmt) != 0 || add_opt(o, "artifact", art) != 0 ||
		    add_opt(o, "sha256", dig) != 0 ||
		    add_opt(o, asserted ? "ci_pipeline_asserted" : "ci_pipeline", pipeline) != 0 ||
		    (txt = cJSON_PrintUnformatted(o)) == NULL) {
			cJSON_Delete(o);
			return SG_ERR_ALLOC;
		}
		printf("%s\n  %s", s->n == 1 ? "" : ",", txt);
		free(txt);
		cJSON_Delete(o);
	} else {
		char e[8][ST_SHOWN_MAX];

		printf(
		    "%s  job %s  key %s  submitter %s  format %s  sha256 %s%s%s%s  artifact %s\n",
		    shown(tm, strlen(tm), e[0]), id ? shown(id, strlen(id), e[1]) : "?",
		    shown(key, strlen(key), e[2]), sub ? shown(sub, strlen(sub), e[3]) : "?",
		    fmt ? shown(fmt, strlen(fmt), e[4]) : "?",
		    dig ? shown(dig, strlen(dig), e[5]) : "?", pipeline ? "  ci pipeline " : "",
		    pipeline ? shown(pipeline, strlen(pipeline), e[6]) : "",
		    pipeline == NULL ? ""
			: asserted   ? " (self-asserted)"
				     : " (verified)",
		    art ? shown(art, strlen(art), e[7]) : "?");
	}
	return 0;
}

static int
cmd_signatures(int argc, char **argv)
{
	struct st_opts o;
	struct agent_config *cfg = NULL;
	struct st_sigs s;
	char log_error[ST_SHOWN_MAX * 2] = "", esc[ST_SHOWN_MAX];
	uint64_t records = 0;
	int ex, r, log_exists = 1;

	memset(&s, 0, sizeof(s));
	if ((ex = st_getopt(argc, argv, 3u, 0, &o, NULL)) != 0)
		return ex;
	if (o.since != NULL && parse_since(o.since, sgtime_now(), &s.since) != 0) {
		fprintf(stderr,
		    "signet-admin: signatures: --since \"%s\": neither an RFC 3339 time "
		    "(2026-12-01T00:00:00Z) nor a span back from now (30m, 24h, 7d)\n",
		    shown(o.since, strlen(o.since), esc));
		return ST_EXIT_USAGE;
	}
	if ((ex = load_config(o.config, &cfg)) != 0)
		return ex;
	if (o.key != NULL && config_key_index(cfg, o.key) < 0)
		fprintf(stderr, "signet-admin: signatures: warning: %s is not a key of %s\n",
		    shown(o.key, strlen(o.key), esc), o.config);
	s.key = o.key;
	s.json = o.json;
	if (s.json)
		printf("{\"signatures\": [");
	r = scan_log(
	    cfg->audit_log, sig_record, &s, &records, &log_exists, log_error, sizeof(log_error));
	if (s.json)
		printf("%s], \"count\": %llu}\n", s.n > 0 ? "\n" : "", (unsigned long long)s.n);
	else if (s.n == 0)
		printf("no signatures%s\n", o.key != NULL || o.since != NULL ? " match" : "");
	ex = ST_EXIT_OK;
	if (fflush(stdout) != 0 || r == SG_ERR_ALLOC) {
		fprintf(stderr, "signet-admin: cannot write the list\n");
		ex = ST_EXIT_FAILED;
	}
	if (log_error[0] != '\0') {
		fprintf(stderr, "signet-admin: %s\n", log_error);
		ex = ST_EXIT_FAILED;
	}
	config_free(cfg);
	return ex;
}

int
admin_status_command(int argc, char **argv)
{
	if (strcmp(argv[0], "status") == 0)
		return cmd_status(argc, argv);
	if (strcmp(argv[0], "job") == 0)
		return cmd_job(argc, argv);
	if (strcmp(argv[0], "signatures") == 0)
		return cmd_signatures(argc, argv);
	st_usage(stderr);
	return ST_EXIT_USAGE;
}
