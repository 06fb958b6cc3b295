/*
 * checkpointer.c — signs and publishes the audit log's tree heads (see
 * checkpointer.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpointer.h"
#include "crypto.h"
#include "hsm.h"
#include "log.h"
#include "metrics.h"
#include "sgtime.h"

struct checkpointer {
	struct agent *ag;
	pthread_t thread;
	pthread_mutex_t lock; /* stop, and one run at a time */
	pthread_cond_t wake;
	int stop;
	uint64_t size;   /* the last published checkpoint */
	uint64_t offset; /* the log offset just after its records */
	char *state_path;
};

int
checkpointer_load_state(const char *audit_log, EVP_PKEY *pub, const char *origin,
    struct checkpoint *ret, char *errbuf, size_t errlen)
{
	char path[CONFIG_PATH_MAX + sizeof(CHECKPOINT_STATE_SUFFIX)], *buf = NULL;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "%s%s", audit_log, CHECKPOINT_STATE_SUFFIX);
	if ((r = read_file(path, CHECKPOINT_MAX, &buf, &len)) != 0) {
		if (r == SG_ERR_NOT_FOUND ||
		    (r == SG_ERR_SYSTEM && access(path, F_OK) == -1 && errno == ENOENT))
			return SG_ERR_NOT_FOUND;
		snprintf(errbuf, errlen, "%s: %s", path, sg_strerror(r));
		return SG_ERR_CONFIG;
	}
	r = checkpoint_open(buf, len, pub, origin, origin, ret);
	free(buf);
	if (r != 0) {
		snprintf(errbuf, errlen, "%s: not a checkpoint of %s signed by the attestation key",
		    path, origin);
		return SG_ERR_CONFIG;
	}
	return 0;
}

/* The signed note of the tree head (size, root). */
static int
sign_checkpoint(
    struct agent *ag, uint64_t size, const uint8_t root[SHA256_LEN], char **ret, size_t *ret_len)
{
	struct checkpoint cp;
	uint8_t dgst[SHA256_LEN], sig[HSM_SIG_MAX], keyid[CHECKPOINT_KEYID_LEN];
	size_t body_len = 0, sig_len = 0;
	char *body = NULL;
	int r;

	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", ag->cfg->audit_origin);
	cp.size = size;
	memcpy(cp.root, root, SHA256_LEN);
	if ((r = checkpoint_body(&cp, &body, &body_len)) != 0)
		goto out;
	crypto_sha256(body, body_len, dgst);
	if ((r = pipeline_attest_digest(ag, dgst, sig, &sig_len)) != 0)
		goto out;
	/* Fail closed: never publish a checkpoint that does not verify. */
	if (crypto_verify(ag->attest_pub, (const uint8_t *)body, body_len, sig, sig_len) != 0) {
		r = SG_ERR_HSM_SIGN_FAILED;
		goto out;
	}
	if ((r = checkpoint_key_id(ag->attest_pub, cp.origin, keyid)) != 0 ||
	    (r = checkpoint_assemble(
		 body, body_len, cp.origin, keyid, sig, sig_len, ret, ret_len)) != 0)
		goto out;
	r = 0;
out:
	free(body);
	return r;
}

/* Publishes the records from (c->size, c->offset) up to (size, offset) in
 * pieces of at most CHECKPOINT_PIECE_MAX bytes cut at record boundaries. */
static int
publish_records(struct checkpointer *c, uint64_t size, uint64_t offset)
{
	uint64_t first = c->size, pos = c->offset;
	char name[64], *buf = NULL;
	int fd, r = SG_ERR_ALLOC;

	if ((buf = malloc(CHECKPOINT_PIECE_MAX)) == NULL)
		return SG_ERR_ALLOC;
	if ((fd = open(audit_path(c->ag->audit), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		free(buf);
		return SG_ERR_SYSTEM;
	}
	while (pos < offset) {
		size_t want = offset - pos < CHECKPOINT_PIECE_MAX ? (size_t)(offset - pos)
								  : CHECKPOINT_PIECE_MAX;
		ssize_t n = pread(fd, buf, want, (off_t)pos);
		size_t len, i;
		uint64_t records = 0;
		char *nl;

		r = SG_ERR_SYSTEM;
		if (n != (ssize_t)want)
			goto out;
		/* Cut after the last whole record (a record is < 1 MiB). */
		if ((nl = memrchr(buf, '\n', want)) == NULL)
			goto out;
		len = (size_t)(nl - buf) + 1;
		for (i = 0; i < len; i++)
			records += buf[i] == '\n';
		if (first + records > size)
			goto out;
		snprintf(name, sizeof(name), "%llu-%llu.jsonl", (unsigned long long)first,
		    (unsigned long long)(first + records));
		if ((r = store_put(c->ag->store, "audit", "records", name, buf, len, NULL)) != 0)
			goto out;
		first += records;
		pos += len;
	}
	r = first == size ? 0 : SG_ERR_INTERNAL;
out:
	close(fd);
	free(buf);
	return r;
}

int
checkpointer_run_once(struct checkpointer *c)
{
	uint8_t root[SHA256_LEN];
	uint64_t size = 0, offset = 0;
	char name[32], *note = NULL;
	size_t note_len = 0;
	int r;

	if ((r = audit_head(c->ag->audit, &size, root, &offset)) != 0) {
		log_error_r(r, "checkpoint: the audit log cannot be made durable");
		return r;
	}
	if (size == c->size)
		return 0;
	if ((r = sign_checkpoint(c->ag, size, root, &note, &note_len)) != 0) {
		log_warn_r(
		    r, "checkpoint at %llu records: cannot sign it", (unsigned long long)size);
		return r;
	}
	snprintf(name, sizeof(name), "%llu", (unsigned long long)size);
	if ((r = publish_records(c, size, offset)) != 0 ||
	    (r = store_put(c->ag->store, "audit", "checkpoints", name, note, note_len, NULL)) !=
		0 ||
	    (r = store_put(c->ag->store, "audit", "checkpoints", "latest", note, note_len, NULL)) !=
		0) {
		log_warn_r(r, "checkpoint at %llu records: cannot publish it; trying again later",
		    (unsigned long long)size);
		goto out;
	}
	if ((r = write_file_atomic(c->state_path, note, note_len, 0600)) != 0) {
		log_warn_r(r, "checkpoint at %llu records: cannot keep it in %s",
		    (unsigned long long)size, c->state_path);
		goto out;
	}
	log_info("checkpoint: %llu audit records signed and published", (unsigned long long)size);
	metrics_checkpoint(c->ag->metrics, size, sgtime_now());
	c->size = size;
	c->offset = offset;
	r = 0;
out:
	free(note);
	return r;
}

static void *
checkpointer_main(void *arg)
{
	struct checkpointer *c = arg;
	struct timespec ts;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += c->ag->cfg->checkpoint_interval;
		while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &ts) != ETIMEDOUT)
			;
		if (c->stop)
			break;
		if (checkpointer_run_once(c) != 0)
			log_debug("checkpoint: trying again in %lld s",
			    (long long)c->ag->cfg->checkpoint_interval);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int
checkpointer_start(struct agent *ag, const struct checkpoint *last, struct checkpointer **ret)
{
	struct checkpointer *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SG_ERR_ALLOC;
	c->ag = ag;
	if (last != NULL) {
		c->size = last->size;
		c->offset = audit_checkpoint_offset(ag->audit);
	}
	if (asprintf(&c->state_path, "%s%s", ag->cfg->audit_log, CHECKPOINT_STATE_SUFFIX) == -1) {
		free(c);
		return SG_ERR_ALLOC;
	}
	if (last != NULL) {
		struct stat st;

		/* The checkpoint was kept when its file was written. */
		if (stat(c->state_path, &st) == 0)
			metrics_checkpoint(ag->metrics, last->size, (int64_t)st.st_mtime);
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (pthread_create(&c->thread, NULL, checkpointer_main, c) != 0) {
		pthread_cond_destroy(&c->wake);
		pthread_mutex_destroy(&c->lock);
		free(c->state_path);
		free(c);
		return SG_ERR_SYSTEM;
	}
	*ret = c;
	return 0;
}

void
checkpointer_stop(struct checkpointer *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	/* The last tree head, so that the log's end is signed too. */
	if (checkpointer_run_once(c) != 0)
		log_warn(
		    "no checkpoint at shutdown: the records since the last one are not signed");
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->state_path);
	free(c);
}
