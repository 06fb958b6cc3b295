/*
 * audit.c — the Merkle tree audit log (see audit.h, common/auditlog.h).
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

#define TORN_SUFFIX     ".torn"
#define LOCK_SUFFIX     ".lock"
#define LOCK_HOLDER_MAX 200 /* bytes of the holder's line read back from the lock file */

struct audit {
	pthread_mutex_t lock;
	char *path;
	int fd;
	int lock_fd;                /* <path>.lock, locked while open */
	uint64_t seq;               /* last written */
	uint64_t bytes;             /* file size after it */
	struct merkle_tree tree;    /* of records 1..seq */
	uint64_t synced;            /* last known durable */
	int syncing;                /* an appender is in fdatasync */
	int sync_failed;            /* sticky: an fdatasync failed */
	pthread_cond_t synced_cond; /* `synced` or `syncing` changed */
	uint64_t cp_offset;         /* offset after the checkpoint's records */
};

/* State of one audit_open() scan. */
struct load {
	audit_replay_fn fn;
	void *arg;
	uint64_t cp_size; /* 0: no checkpoint */
	uint64_t cp_offset;
	uint64_t offset; /* of the next record */
};

/* Hands a record's event fields to the caller's replay function. */
static int
replay_record(void *arg, uint64_t seq, const char *line, size_t len, const uint8_t leaf[SHA256_LEN],
    const cJSON *rec)
{
	static const char *const stored[] = {
		"event",
		"id",
		"job_sha256",
		"key",
		"time",
		"submitter",
		"code",
		"expires",
		"entry",
	};
	struct load *ld = arg;
	const char *vals[nitems(stored)];
	struct audit_seen seen;
	size_t slen, i;

	(void)line;
	(void)leaf;
	ld->offset += len + 1;
	if (seq == ld->cp_size)
		ld->cp_offset = ld->offset;
	if (ld->fn == NULL)
		return 0;
	for (i = 0; i < nitems(stored); i++) {
		if (json_get_string(rec, stored[i], &vals[i], &slen) != 0)
			vals[i] = NULL;
	}
	if (vals[0] == NULL)
		return 0;
	memset(&seen, 0, sizeof(seen));
	seen.event = vals[0];
	seen.id = vals[1];
	seen.job_sha256 = vals[2];
	seen.key = vals[3];
	seen.submitter = vals[5];
	seen.code = vals[6];
	seen.entry = vals[8];
	if (vals[4] == NULL || sgtime_parse(vals[4], &seen.time) != 0)
		seen.time = 0;
	if (vals[7] == NULL || sgtime_parse(vals[7], &seen.expires) != 0)
		seen.expires = 0;
	ld->fn(ld->arg, &seen);
	return 0;
}

/* Moves a torn tail aside ("<path>.torn") and cuts it off the log. */
static int
cut_torn_tail(
    struct audit *a, const char *path, const struct auditlog_state *st, char *errbuf, size_t errlen)
{
	char torn[4096];
	uint8_t *buf = NULL;
	ssize_t n;
	int tfd = -1, r = SG_ERR_SYSTEM;

	if (st->torn_len > AUDIT_LINE_MAX * 64ULL) {
		snprintf(errbuf, errlen,
		    "audit log %s: %llu bytes after record %llu are not "
		    "records; too many to be an interrupted append",
		    path, (unsigned long long)st->torn_len, (unsigned long long)st->records);
		return SG_ERR_CONFIG;
	}
	if ((buf = malloc(st->torn_len)) == NULL)
		return SG_ERR_ALLOC;
	n = pread(a->fd, buf, st->torn_len, (off_t)st->torn_offset);
	if (n != (ssize_t)st->torn_len)
		goto out;
	snprintf(torn, sizeof(torn), "%s%s", path, TORN_SUFFIX);
	tfd = open(torn, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (tfd == -1 || write(tfd, buf, st->torn_len) != (ssize_t)st->torn_len || fsync(tfd) == -1)
		goto out;
	if (ftruncate(a->fd, (off_t)st->torn_offset) == -1 || fdatasync(a->fd) == -1)
		goto out;
	log_warn("audit log %s: %llu bytes after record %llu were an append cut short by a "
		 "crash (never released); moved to %s",
	    path, (unsigned long long)st->torn_len, (unsigned long long)st->records, torn);
	r = 0;
out:
	if (r != 0)
		snprintf(errbuf, errlen, "audit log %s: cannot set aside its torn last record: %s",
		    path, strerror(errno));
	if (tfd != -1)
		close(tfd);
	free(buf);
	return r;
}

/* An open file description lock on all of fd, for writing, without waiting
 * (F_OFD_SETLK: held by this open file, not by the process, so that no
 * other open of the file in this process releases it).  0, or errno. */
static int
ofd_lock(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;
	return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

/* The holder's line from the lock file, printable ASCII only, into buf. */
static void
lock_holder(int fd, char *buf, size_t len)
{
	char raw[LOCK_HOLDER_MAX + 1];
	ssize_t n;
	size_t i, k = 0;

	n = pread(fd, raw, LOCK_HOLDER_MAX, 0);
	for (i = 0; n > 0 && i < (size_t)n && raw[i] != '\n' && k + 1 < len; i++)
		buf[k++] = raw[i] >= 0x20 && raw[i] < 0x7f ? raw[i] : '?';
	if (k == 0)
		snprintf(buf, len, "a process that has not written its pid yet");
	else
		buf[k] = '\0';
}

/*
 * Makes this process the log's only writer: a write lock on <path>.lock,
 * which then names us ("pid N NAME since TIME"), and one on the log itself
 * (the same log reached under another name).  Both are held until
 * audit_close() or the process ends; a second agent on the same log fails
 * here with SG_ERR_CONFIG, naming the holder.
 */
static int
take_lock(struct audit *a, const char *path, char *errbuf, size_t errlen)
{
	char lpath[4096], holder[LOCK_HOLDER_MAX + 1], line[LOCK_HOLDER_MAX + 1];
	char since[SGTIME_LEN + 1];
	int e, n;

	n = snprintf(lpath, sizeof(lpath), "%s%s", path, LOCK_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(lpath)) {
		snprintf(errbuf, errlen, "audit log %s: path too long", path);
		return SG_ERR_CONFIG;
	}
	a->lock_fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->lock_fd == -1) {
		snprintf(errbuf, errlen, "audit log lock %s: %s", lpath, strerror(errno));
		return SG_ERR_SYSTEM;
	}
	if ((e = ofd_lock(a->lock_fd)) != 0) {
		if (e != EAGAIN && e != EACCES) {
			snprintf(errbuf, errlen, "audit log lock %s: %s", lpath, strerror(e));
			return SG_ERR_SYSTEM;
		}
		lock_holder(a->lock_fd, holder, sizeof(holder));
		snprintf(errbuf, errlen,
		    "audit log %s is in use by another agent (%s, per %s): "
		    "two agents must never write one log; stop that one, or give this one its "
		    "own audit_log",
		    path, holder, lpath);
		return SG_ERR_CONFIG;
	}
	sgtime_format(sgtime_now(), since);
	n = snprintf(line, sizeof(line), "pid %ld %s since %s\n", (long)getpid(),
	    program_invocation_short_name, since);
	if (n < 0 || (size_t)n >= sizeof(line) || ftruncate(a->lock_fd, 0) != 0 ||
	    pwrite(a->lock_fd, line, (size_t)n, 0) != n) {
		snprintf(errbuf, errlen, "audit log lock %s: cannot write it", lpath);
		return SG_ERR_SYSTEM;
	}
	if ((e = ofd_lock(a->fd)) != 0) {
		snprintf(errbuf, errlen,
		    "audit log %s is locked by another process (%s), not "
		    "through %s: the same log under another name?",
		    path, strerror(e), lpath);
		return e == EAGAIN || e == EACCES ? SG_ERR_CONFIG : SG_ERR_SYSTEM;
	}
	return 0;
}

int
audit_open(const char *path, const struct checkpoint *cp, audit_replay_fn fn, void *arg,
    struct audit **ret, char *errbuf, size_t errlen)
{
	struct auditlog_state *st = NULL;
	struct audit *a;
	struct load ld;
	uint8_t cp_root[1][SHA256_LEN];
	uint64_t want = cp != NULL ? cp->size : 0;
	int r;

	if ((a = calloc(1, sizeof(*a))) == NULL || (st = malloc(sizeof(*st))) == NULL) {
		free(a);
		return SG_ERR_ALLOC;
	}
	a->lock_fd = -1;
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd == -1) {
		snprintf(errbuf, errlen, "audit log %s: %s", path, strerror(errno));
		r = SG_ERR_SYSTEM;
		goto fail;
	}
	/* Before the log is read: nobody else appends from here on. */
	if ((r = take_lock(a, path, errbuf, errlen)) != 0)
		goto fail;
	memset(&ld, 0, sizeof(ld));
	ld.fn = fn;
	ld.arg = arg;
	ld.cp_size = want;
	r = auditlog_scan(a->fd, replay_record, &ld, &want, 1, cp_root, st);
	if (r == SG_ERR_VERIFY) {
		snprintf(errbuf, errlen, "audit log %s: %s", path, st->problem);
		r = SG_ERR_CONFIG;
		goto fail;
	}
	if (r != 0) {
		snprintf(errbuf, errlen, "audit log %s: %s", path, sg_strerror(r));
		goto fail;
	}
	if (st->torn_len > 0 && (r = cut_torn_tail(a, path, st, errbuf, errlen)) != 0)
		goto fail;
	if (cp != NULL &&
	    (st->records < cp->size || CRYPTO_memcmp(cp_root[0], cp->root, SHA256_LEN) != 0)) {
		snprintf(errbuf, errlen,
		    "audit log %s does not match the checkpoint this agent "
		    "signed at %llu records (it has %llu): records were removed or altered",
		    path, (unsigned long long)cp->size, (unsigned long long)st->records);
		r = SG_ERR_CONFIG;
		goto fail;
	}
	if ((a->path = strdup(path)) == NULL) {
		r = SG_ERR_ALLOC;
		goto fail;
	}
	/* What an earlier run wrote may still be only in the page cache. */
	if (fdatasync(a->fd) == -1) {
		snprintf(errbuf, errlen, "audit log %s: fdatasync: %s", path, strerror(errno));
		r = SG_ERR_SYSTEM;
		goto fail;
	}
	a->seq = st->records;
	a->bytes = st->bytes;
	a->tree = st->tree;
	a->synced = a->seq;
	a->cp_offset = cp != NULL ? ld.cp_offset : 0;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->synced_cond, NULL);
	free(st);
	*ret = a;
	return 0;
fail:
	if (a->fd != -1)
		close(a->fd);
	if (a->lock_fd != -1)
		close(a->lock_fd);
	free(a->path);
	free(a);
	free(st);
	return r;
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
		if ((size_t)n > AUDIT_LINE_MAX + 1 || strstr(line, needle) == NULL)
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

/* "ci_verified": what a verified CI identity token said (docs/audit.md). */
static int
add_ci_verified(cJSON *o, const struct jwt_claims *cl)
{
	cJSON *v;

	if (cl == NULL)
		return 0;
	if ((v = cJSON_AddObjectToObject(o, "ci_verified")) == NULL)
		return SG_ERR_ALLOC;
	if (add_opt(v, "issuer", cl->issuer) != 0 ||
	    add_opt(v, "issuer_name", cl->issuer_name) != 0 ||
	    add_opt(v, "sub", cl->subject) != 0 || add_opt(v, "project", cl->project) != 0 ||
	    add_opt(v, "ref", cl->ref) != 0 ||
	    cJSON_AddBoolToObject(v, "ref_protected", cl->ref_protected) == NULL ||
	    add_opt(v, "pipeline", cl->pipeline) != 0 ||
	    add_opt(v, "environment", cl->environment) != 0 || add_opt(v, "jti", cl->jti) != 0)
		return SG_ERR_ALLOC;
	return 0;
}

/* Waits until record `mine` is durable (group commit; a->lock held). */
static int
wait_durable(struct audit *a, uint64_t mine)
{
	/*
	 * The record is durable once an fdatasync that started after it was
	 * written has returned.  One appender syncs (without the lock, so
	 * others keep appending), the others wait for it; records written
	 * meanwhile ride on the next sync.  A failed sync is sticky: after it
	 * nothing is known to be durable, so every append fails.
	 */
	while (a->synced < mine) {
		uint64_t target;
		int rc;

		if (a->sync_failed)
			return SG_ERR_SYSTEM;
		if (a->syncing) {
			pthread_cond_wait(&a->synced_cond, &a->lock);
			continue;
		}
		target = a->seq;
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
	return a->sync_failed ? SG_ERR_SYSTEM : 0;
}

int
audit_append(
    struct audit *a, const struct audit_record *rec, int want_record, struct audit_receipt *ret)
{
	char when[SGTIME_LEN + 1], prev_hex[SHA256_HEX_LEN + 1];
	uint8_t prev[SHA256_LEN], leaf[SHA256_LEN];
	struct merkle_tree next;
	char *line = NULL;
	cJSON *o = NULL;
	size_t len = 0;
	ssize_t w;
	int r = SG_ERR_ALLOC, locked = 0;

	if ((o = cJSON_CreateObject()) == NULL)
		goto out;
	sgtime_format(sgtime_now(), when);
	pthread_mutex_lock(&a->lock);
	locked = 1;
	r = SG_ERR_SYSTEM;
	if (a->sync_failed)
		goto out;
	merkle_root(&a->tree, prev);
	hex_encode(prev, SHA256_LEN, prev_hex);
	r = SG_ERR_ALLOC;
	if (json_add_int(o, "seq", (int64_t)(a->seq + 1)) != 0 ||
	    json_add_string(o, "time", when) != 0 || json_add_string(o, "prev", prev_hex) != 0 ||
	    add_opt(o, "event", rec->event) != 0 || add_opt(o, "id", rec->id) != 0 ||
	    add_opt(o, "entry", rec->entry) != 0 || add_opt(o, "submitter", rec->submitter) != 0 ||
	    add_opt(o, "keyid", rec->keyid) != 0 || add_opt(o, "key", rec->key) != 0 ||
	    add_opt(o, "format", rec->format) != 0 ||
	    add_opt(o, "fingerprint", rec->fingerprint) != 0 || add_opt(o, "uid", rec->uid) != 0 ||
	    add_opt(o, "certified", rec->certified) != 0 ||
	    add_opt(o, "certificate_sha256", rec->certificate_sha256) != 0 ||
	    add_opt(o, "artifact", rec->artifact) != 0 ||
	    add_opt(o, "sha256", rec->artifact_sha256) != 0 ||
	    add_opt(o, "job_sha256", rec->job_sha256) != 0 ||
	    add_opt(o, "envelope_sha256", rec->envelope_sha256) != 0 ||
	    add_opt(o, "code", rec->code) != 0 ||
	    add_opt(o, "signature_sha256", rec->signature_sha256) != 0 ||
	    add_opt(o, "location", rec->location) != 0 ||
	    add_opt(o, "expires", rec->expires) != 0 || add_ci_verified(o, rec->ci_verified) != 0 ||
	    add_opt(o, "signature", rec->signature) != 0 ||
	    add_opt(o, "timestamp", rec->timestamp) != 0 || add_opt(o, "tsa", rec->tsa) != 0 ||
	    (rec->signer_seq > 0 && json_add_int(o, "signer_seq", (int64_t)rec->signer_seq) != 0) ||
	    (rec->retry_of > 0 && json_add_int(o, "retry_of", (int64_t)rec->retry_of) != 0) ||
	    (rec->ci != NULL && job_ci_add(o, rec->ci) != 0) ||
	    add_opt(o, "decision", rec->decision) != 0 ||
	    add_opt(o, "approver", rec->approver) != 0 ||
	    add_opt(o, "comment", rec->comment) != 0 || add_opt(o, "ignored", rec->ignored) != 0 ||
	    (rec->approvals_required > 0 &&
		(json_add_int(o, "approvals_required", rec->approvals_required) != 0 ||
		    json_add_int(o, "approvals_received", rec->approvals_received) != 0)))
		goto out;
	if ((r = json_print(o, &line, &len)) != 0)
		goto out;
	r = SG_ERR_LIMIT;
	if (len < 2 || len > AUDIT_LINE_MAX)
		goto out;
	merkle_leaf_hash(line, len, leaf);
	next = a->tree;
	if (ret != NULL)
		r = merkle_append(&next, leaf, ret->proof, &ret->nproof);
	else
		r = merkle_append(&next, leaf, NULL, NULL);
	if (r != 0)
		goto out;
	/* One write of the line and its newline: a crash leaves at most a
	 * torn tail, which audit_open() sets aside. */
	line[len] = '\n';
	r = SG_ERR_SYSTEM;
	if ((w = write(a->fd, line, len + 1)) != (ssize_t)(len + 1)) {
		/* Never leave half a record: cut back what this write added. */
		if (w > 0 && ftruncate(a->fd, (off_t)a->bytes) == -1)
			log_debug("cannot cut back a short audit write");
		goto out;
	}
	line[len] = '\0';
	a->seq++;
	a->bytes += len + 1;
	a->tree = next;
	if (ret != NULL) {
		ret->seq = a->seq;
		memcpy(ret->leaf, leaf, SHA256_LEN);
		merkle_root(&a->tree, ret->root);
		ret->record = NULL;
		ret->record_len = 0;
	}
	if (!rec->defer_sync && (r = wait_durable(a, a->seq)) != 0)
		goto out;
	if (ret != NULL && want_record) {
		ret->record = line;
		ret->record_len = len;
		line = NULL;
	}
	r = 0;
out:
	if (locked)
		pthread_mutex_unlock(&a->lock);
	cJSON_free(line);
	cJSON_Delete(o);
	return r;
}

int
audit_head(struct audit *a, uint64_t *ret_size, uint8_t ret_root[SHA256_LEN], uint64_t *ret_offset)
{
	int r;

	pthread_mutex_lock(&a->lock);
	if ((r = wait_durable(a, a->seq)) == 0) {
		*ret_size = a->seq;
		merkle_root(&a->tree, ret_root);
		*ret_offset = a->bytes;
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

uint64_t
audit_checkpoint_offset(struct audit *a)
{
	return a->cp_offset;
}

const char *
audit_path(struct audit *a)
{
	return a->path;
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
	/* The lock file stays (with our pid in it): removing it would let a
	 * second agent lock a new file while a third still holds the old. */
	if (a->lock_fd != -1)
		close(a->lock_fd);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->synced_cond);
	free(a->path);
	free(a);
}

void
audit_made_durable(struct audit *a, uint64_t seq)
{
	pthread_mutex_lock(&a->lock);
	if (!a->sync_failed && seq > a->synced && seq <= a->seq) {
		a->synced = seq;
		pthread_cond_broadcast(&a->synced_cond);
	}
	pthread_mutex_unlock(&a->lock);
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
