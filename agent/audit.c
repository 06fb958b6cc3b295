/*
 * audit.c — the hash-chained audit log (see audit.h for the format).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "crypto.h"
#include "job.h"
#include "json.h"
#include "log.h"
#include "sgtime.h"

#define AUDIT_FILE_MAX ((size_t)1 << 34) /* 16 GiB: read once at start-up */
#define HASH_SUFFIX_LEN (9 + SHA256_HEX_LEN + 2) /* ,"hash":"<hex>"} */

struct audit {
	pthread_mutex_t lock;
	char *path;
	int fd;
	uint64_t seq;                     /* last written */
	uint64_t synced;                  /* last known durable */
	int syncing;                      /* an appender is in fdatasync */
	int sync_failed;                  /* sticky: an fdatasync failed */
	pthread_cond_t synced_cond;       /* `synced` or `syncing` changed */
	uint8_t last_hash[SHA256_LEN];
};

static void
chain_hash(const uint8_t prev[SHA256_LEN], const char *body, size_t len, uint8_t out[SHA256_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, prev, SHA256_LEN) || !EVP_DigestUpdate(ctx, body, len) ||
	    !EVP_DigestFinal_ex(ctx, out, &n))
		memset(out, 0, SHA256_LEN); /* cannot happen short of OOM; never matches */
	EVP_MD_CTX_free(ctx);
}

/* Checks one line (without its newline) against the chain, advances it. */
static int
check_line(struct audit *a, const char *line, size_t len, audit_replay_fn fn, void *arg)
{
	static const char *const stored[] = {
		"event", "id", "job_sha256", "key", "time", "submitter", "code", "expires",
	};
	const char *vals[8] = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }, *hash;
	struct audit_seen seen;
	int64_t when = 0;
	uint8_t want[SHA256_LEN], got[SHA256_LEN];
	cJSON *root = NULL;
	unsigned flags = 0;
	size_t slen, i;
	int64_t seq;
	int r = SG_ERR_PARSE;

	if (len <= HASH_SUFFIX_LEN || memcmp(line + len - HASH_SUFFIX_LEN, ",\"hash\":\"", 9) != 0 ||
	    line[len - 1] != '}' || line[len - 2] != '"')
		goto out;
	if (json_parse(line, len, &root, &flags) != 0 || flags != 0)
		goto out;
	if (json_get_string(root, "hash", &hash, &slen) != 0 || slen != SHA256_HEX_LEN ||
	    hex_decode(hash, slen, want, sizeof(want)) != 0)
		goto out;
	if (json_get_int(root, "seq", 1, JSON_INT_MAX - 1, &seq) != 0 || (uint64_t)seq != a->seq + 1)
		goto out;
	/* The body is the object without its final member, closed again. */
	{
		size_t blen = len - HASH_SUFFIX_LEN;
		char *body = malloc(blen + 1);
		if (body == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		memcpy(body, line, blen);
		body[blen] = '}';
		chain_hash(a->last_hash, body, blen + 1, got);
		free(body);
	}
	if (CRYPTO_memcmp(got, want, SHA256_LEN) != 0)
		goto out;
	for (i = 0; i < 8; i++) {
		if (json_get_string(root, stored[i], &vals[i], &slen) != 0)
			vals[i] = NULL;
	}
	if (vals[4] == NULL || sgtime_parse(vals[4], &when) != 0)
		when = 0;
	if (fn != NULL && vals[0] != NULL) {
		seen.event = vals[0];
		seen.id = vals[1];
		seen.job_sha256 = vals[2];
		seen.key = vals[3];
		seen.submitter = vals[5];
		seen.code = vals[6];
		seen.time = when;
		if (vals[7] == NULL || sgtime_parse(vals[7], &seen.expires) != 0)
			seen.expires = 0;
		fn(arg, &seen);
	}
	memcpy(a->last_hash, got, SHA256_LEN);
	a->seq = (uint64_t)seq;
	r = 0;
 out:
	cJSON_Delete(root);
	return r;
}

static int
audit_load(struct audit *a, const char *path, audit_replay_fn fn, void *arg,
    char *errbuf, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, off = 0, lineno = 0;
	int r;

	if ((r = read_file(path, AUDIT_FILE_MAX, &buf, &len)) != 0) {
		snprintf(errbuf, errlen, "audit log %s: %s", path, sg_strerror(r));
		return r;
	}
	while (off < len) {
		char *nl = memchr(buf + off, '\n', len - off);
		lineno++;
		if (nl == NULL) {
			/* A torn final append: its result was never released. */
			log_warn("audit log %s: removing incomplete last line %zu", path, lineno);
			if (ftruncate(a->fd, (off_t)off) == -1 || fdatasync(a->fd) == -1) {
				snprintf(errbuf, errlen, "audit log %s: cannot truncate", path);
				r = SG_ERR_SYSTEM;
				goto out;
			}
			break;
		}
		if (check_line(a, buf + off, (size_t)(nl - (buf + off)), fn, arg) != 0) {
			snprintf(errbuf, errlen, "audit log %s: line %zu is altered, missing a "
			    "predecessor or out of order", path, lineno);
			r = SG_ERR_CONFIG;
			goto out;
		}
		off = (size_t)(nl - buf) + 1;
	}
	r = 0;
 out:
	free(buf);
	return r;
}

int
audit_open(const char *path, audit_replay_fn fn, void *arg, struct audit **ret,
    char *errbuf, size_t errlen)
{
	struct audit *a;
	int r;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return SG_ERR_ALLOC;
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd == -1) {
		snprintf(errbuf, errlen, "audit log %s: %s", path, strerror(errno));
		free(a);
		return SG_ERR_SYSTEM;
	}
	if ((r = audit_load(a, path, fn, arg, errbuf, errlen)) != 0) {
		close(a->fd);
		free(a);
		return r;
	}
	if ((a->path = strdup(path)) == NULL) {
		close(a->fd);
		free(a);
		return SG_ERR_ALLOC;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->synced_cond, NULL);
	/* What an earlier run wrote may still be only in the page cache. */
	if (fdatasync(a->fd) == -1) {
		snprintf(errbuf, errlen, "audit log %s: fdatasync: %s", path, strerror(errno));
		pthread_cond_destroy(&a->synced_cond);
		pthread_mutex_destroy(&a->lock);
		close(a->fd);
		free(a->path);
		free(a);
		return SG_ERR_SYSTEM;
	}
	a->synced = a->seq;
	*ret = a;
	return 0;
}

int
audit_find(struct audit *a, const char *event, const char *id, char **ret_line, size_t *ret_len)
{
	char needle[64 + JOB_ID_LEN], *line = NULL, *found = NULL;
	size_t cap = 0, found_len = 0;
	ssize_t n;
	FILE *f;
	int fd;

	/* The writer puts "event" and then "id" after "seq" and "time". */
	snprintf(needle, sizeof(needle), "\"event\":\"%s\",\"id\":\"%s\"", event, id);
	if ((fd = open(a->path, O_RDONLY | O_CLOEXEC)) == -1)
		return SG_ERR_SYSTEM;
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return SG_ERR_SYSTEM;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if ((size_t)n > AUDIT_LINE_MAX + HASH_SUFFIX_LEN + 1 || strstr(line, needle) == NULL)
			continue;
		free(found);
		found_len = line[n - 1] == '\n' ? (size_t)n - 1 : (size_t)n;
		if ((found = strndup(line, found_len)) == NULL)
			break;
	}
	free(line);
	fclose(f);
	if (found == NULL)
		return SG_ERR_NOT_FOUND;
	*ret_line = found;
	*ret_len = found_len;
	return 0;
}

static int
add_opt(cJSON *o, const char *name, const char *v)
{
	if (v == NULL)
		return 0;
	return json_add_string(o, name, v);
}

int
audit_append(struct audit *a, const struct audit_record *rec, uint64_t *ret_seq,
    char ret_hash[SHA256_HEX_LEN + 1])
{
	char when[SGTIME_LEN + 1], hexhash[SHA256_HEX_LEN + 1];
	char *body = NULL, *line = NULL;
	uint8_t h[SHA256_LEN];
	cJSON *o = NULL;
	size_t blen = 0, llen;
	ssize_t w;
	int r = SG_ERR_ALLOC, locked = 0;

	if ((o = cJSON_CreateObject()) == NULL)
		goto out;
	sgtime_format(sgtime_now(), when);
	pthread_mutex_lock(&a->lock);
	locked = 1;
	if (json_add_int(o, "seq", (int64_t)(a->seq + 1)) != 0 ||
	    json_add_string(o, "time", when) != 0 ||
	    add_opt(o, "event", rec->event) != 0 || add_opt(o, "id", rec->id) != 0 ||
	    add_opt(o, "entry", rec->entry) != 0 || add_opt(o, "submitter", rec->submitter) != 0 ||
	    add_opt(o, "keyid", rec->keyid) != 0 || add_opt(o, "key", rec->key) != 0 ||
	    add_opt(o, "format", rec->format) != 0 || add_opt(o, "artifact", rec->artifact) != 0 ||
	    add_opt(o, "sha256", rec->artifact_sha256) != 0 ||
	    add_opt(o, "job_sha256", rec->job_sha256) != 0 || add_opt(o, "code", rec->code) != 0 ||
	    add_opt(o, "signature_sha256", rec->signature_sha256) != 0 ||
	    add_opt(o, "expires", rec->expires) != 0 ||
	    add_opt(o, "signature", rec->signature) != 0)
		goto out;
	if ((r = json_print(o, &body, &blen)) != 0)
		goto out;
	r = SG_ERR_LIMIT;
	if (blen < 2 || blen > AUDIT_LINE_MAX || body[blen - 1] != '}')
		goto out;
	chain_hash(a->last_hash, body, blen, h);
	hex_encode(h, SHA256_LEN, hexhash);
	llen = blen - 1 + HASH_SUFFIX_LEN + 1;
	r = SG_ERR_ALLOC;
	if ((line = malloc(llen + 1)) == NULL)
		goto out;
	snprintf(line, llen + 1, "%.*s,\"hash\":\"%s\"}\n", (int)(blen - 1), body, hexhash);
	r = SG_ERR_SYSTEM;
	if ((w = write(a->fd, line, llen)) != (ssize_t)llen) {
		/* Never leave half a record: cut back what this write added. */
		if (w > 0) {
			off_t end = lseek(a->fd, 0, SEEK_END);
			if (end >= w && ftruncate(a->fd, end - w) == -1)
				log_debug("cannot cut back a short audit write");
		}
		goto out;
	}
	a->seq++;
	memcpy(a->last_hash, h, SHA256_LEN);
	if (ret_seq != NULL)
		*ret_seq = a->seq;
	if (ret_hash != NULL)
		memcpy(ret_hash, hexhash, sizeof(hexhash));
	/*
	 * Group commit: the record is durable once an fdatasync that started
	 * after it was written has returned.  One appender syncs (without the
	 * lock, so others keep appending), the others wait for it; records
	 * written meanwhile ride on the next sync.  A failed sync is sticky:
	 * after it nothing is known to be durable, so every append fails.
	 */
	if (!rec->defer_sync) {
		uint64_t mine = a->seq;
		while (a->synced < mine) {
			if (a->sync_failed)
				goto out;
			if (a->syncing) {
				pthread_cond_wait(&a->synced_cond, &a->lock);
				continue;
			}
			uint64_t target = a->seq;
			int rc;
			a->syncing = 1;
			pthread_mutex_unlock(&a->lock);
			rc = fdatasync(a->fd);
			pthread_mutex_lock(&a->lock);
			a->syncing = 0;
			if (rc == -1)
				a->sync_failed = 1;
			else
				a->synced = target;
			pthread_cond_broadcast(&a->synced_cond);
		}
	}
	r = 0;
 out:
	if (locked)
		pthread_mutex_unlock(&a->lock);
	free(line);
	cJSON_free(body);
	cJSON_Delete(o);
	return r;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->fd != -1) {
		if (fdatasync(a->fd) == -1)
			log_debug("fdatasync of the audit log failed");
		close(a->fd);
	}
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->synced_cond);
	free(a->path);
	free(a);
}

uint64_t
audit_count(struct audit *a)
{
	uint64_t n;

	pthread_mutex_lock(&a->lock);
	n = a->seq;
	pthread_mutex_unlock(&a->lock);
	return n;
}
