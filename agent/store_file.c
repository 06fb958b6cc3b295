/*
 * store_file.c — the file:// backend of the artifact store (SPEC §8).
 *
 * A job's objects (its signature file and result.json) are published
 * together:
 *
 *   1. written, without fsync, into a new directory <key>/.tmp/<id>.XXXXXX
 *      (".tmp" cannot be a job id: ids are 32 hex characters);
 *   2. made durable by one syncfs() of the store's filesystem, shared by
 *      every worker that wrote before it started (group commit);
 *   3. renamed to <key>/<id> — readers see the whole job or nothing;
 *   4. made durable again by a second shared syncfs().
 *
 * Two syncs per batch of jobs instead of five fsyncs per job.  syncfs()
 * writes out everything dirty on the filesystem, so keep the store on a
 * filesystem that busy writers do not share (docs/operations.md).  A crash
 * between 1 and 4 leaves a directory under .tmp/ (removed the next time
 * the key is published to, once it is an hour old) and no <key>/<id>: the
 * job was not acknowledged, so it is delivered again and republished from
 * the audit log.  When <key>/<id> exists already (a result published
 * again), the objects are replaced one by one: temp file, fsync, rename,
 * fsync of the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "util.h"

#define TMP_DIR ".tmp"
#define TMP_STALE_S 3600      /* a temp directory this old is a crash's leftover */
#define CLEANED_KEYS_MAX 256  /* keys whose .tmp/ was cleaned since start */

struct file_store {
	char *base;      /* absolute directory, no trailing slash */
	int base_fd;     /* for syncfs() */
	pthread_mutex_t lock;
	pthread_cond_t synced;
	uint64_t wanted;   /* sync tickets handed out */
	uint64_t done;     /* every ticket up to this one is durable */
	uint64_t failed;   /* every ticket up to this one saw a failed sync */
	int running;       /* a syncfs() is under way */
	char *cleaned[CLEANED_KEYS_MAX];
	size_t ncleaned;
};

/*
 * Makes everything written before the call durable: takes a ticket, and
 * waits for a syncfs() that started after the ticket was taken — running
 * one itself when none is under way.  Concurrent callers share one sync.
 */
static int
group_sync(struct file_store *fs)
{
	uint64_t mine, target;
	int rc, r = 0;

	pthread_mutex_lock(&fs->lock);
	mine = ++fs->wanted;
	while (fs->done < mine && fs->failed < mine) {
		if (fs->running) {
			pthread_cond_wait(&fs->synced, &fs->lock);
			continue;
		}
		fs->running = 1;
		target = fs->wanted;
		pthread_mutex_unlock(&fs->lock);
		rc = syncfs(fs->base_fd);
		pthread_mutex_lock(&fs->lock);
		fs->running = 0;
		if (rc == 0)
			fs->done = target;
		else
			fs->failed = target;
		pthread_cond_broadcast(&fs->synced);
	}
	if (fs->done < mine) {
		log_warn("store: cannot sync %s: %s", fs->base, strerror(errno));
		r = SG_ERR_STORE_FAILED;
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

/* Writes all of buf to a new file dir/name (no fsync: group_sync does). */
static int
write_new(int dirfd, const char *name, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;
	int fd, r = 0;

	if ((fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) == -1)
		return SG_ERR_STORE_FAILED;
	while (len > 0 && r == 0) {
		n = write(fd, p, len);
		if (n < 0 && errno != EINTR)
			r = SG_ERR_STORE_FAILED;
		else if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	if (close(fd) != 0)
		r = SG_ERR_STORE_FAILED;
	return r;
}

/* Removes dir/name and the files in it (a temp directory: no subdirectories). */
static void
remove_tmp(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *d;
	struct dirent *de;

	if (fd != -1) {
		if ((d = fdopendir(fd)) == NULL) {
			close(fd);
		} else {
			while ((de = readdir(d)) != NULL)
				if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
					(void)unlinkat(dirfd(d), de->d_name, 0);
			closedir(d);
		}
	}
	(void)unlinkat(parent, name, AT_REMOVEDIR);
}

/* The first time a key is published to since start: remove what a crash
 * left in its .tmp/ (entries over an hour old; a younger one may be
 * another agent's publication in progress). */
static void
clean_tmp_once(struct file_store *fs, const char *key, int tmpfd)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	size_t i;
	int fd, seen = 0;

	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < fs->ncleaned && !seen; i++)
		seen = strcmp(fs->cleaned[i], key) == 0;
	if (!seen && fs->ncleaned < CLEANED_KEYS_MAX &&
	    (fs->cleaned[fs->ncleaned] = strdup(key)) != NULL)
		fs->ncleaned++;
	pthread_mutex_unlock(&fs->lock);
	if (seen || (fd = dup(tmpfd)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISDIR(st.st_mode) || st.st_mtime + TMP_STALE_S > time(NULL))
			continue;
		log_info("store: removing %s/%s/%s/%s, left by an interrupted publication",
		    fs->base, key, TMP_DIR, de->d_name);
		remove_tmp(tmpfd, de->d_name);
	}
	closedir(d);
}

/* Makes the directory if it is not there; a new one is made durable in
 * its parent (fsync of the parent), or a crash could lose it with the
 * files renamed into it. */
static int
mkdir_one(const char *path)
{
	const char *slash;
	char parent[PATH_MAX];
	int fd, rc;

	if (mkdir(path, 0755) == -1)
		return errno == EEXIST ? 0 : -1;
	if ((slash = strrchr(path, '/')) == NULL || slash == path ||
	    (size_t)(slash - path) >= sizeof(parent))
		return -1;
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	if ((fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
file_put(struct store *s, const char *key, const char *job_id, const char *name,
    const void *buf, size_t len, char **ret_location)
{
	const struct file_store *fs = s->impl;
	char path[PATH_MAX], *loc = NULL;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", fs->base, key);
	if (n < 0 || (size_t)n >= sizeof(path) || mkdir_one(path) == -1)
		goto fail;
	n = snprintf(path, sizeof(path), "%s/%s/%s", fs->base, key, job_id);
	if (n < 0 || (size_t)n >= sizeof(path) || mkdir_one(path) == -1)
		goto fail;
	n = snprintf(path, sizeof(path), "%s/%s/%s/%s", fs->base, key, job_id, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		goto fail;
	if (write_file_atomic(path, buf, len, 0644) != 0)
		goto fail;
	if (ret_location != NULL) {
		if (asprintf(&loc, "file://%s", path) == -1)
			return SG_ERR_ALLOC;
		*ret_location = loc;
	}
	return 0;
 fail:
	log_debug("cannot write %s/%s/%s under the store", key, job_id, name);
	return SG_ERR_STORE_FAILED;
}

static int
file_location(struct store *s, const char *key, const char *job_id, const char *name,
    char **ret)
{
	const struct file_store *fs = s->impl;

	if (asprintf(ret, "file://%s/%s/%s/%s", fs->base, key, job_id, name) == -1) {
		*ret = NULL;
		return SG_ERR_ALLOC;
	}
	return 0;
}

static int
file_put_job(struct store *s, const char *key, const char *job_id,
    const struct store_object *objs, size_t n)
{
	struct file_store *fs = s->impl;
	char path[PATH_MAX], tmp[PATH_MAX], *leaf = NULL;
	struct stat st;
	size_t i;
	int tmpfd = -1, jobfd = -1, r = SG_ERR_STORE_FAILED, nn;

	nn = snprintf(path, sizeof(path), "%s/%s", fs->base, key);
	if (nn < 0 || (size_t)nn >= sizeof(path) || mkdir_one(path) == -1)
		goto fail;
	nn = snprintf(path, sizeof(path), "%s/%s/%s", fs->base, key, job_id);
	if (nn < 0 || (size_t)nn >= sizeof(path))
		goto fail;
	if (lstat(path, &st) == 0)
		goto one_by_one; /* published before: replace its objects */
	nn = snprintf(tmp, sizeof(tmp), "%s/%s/%s", fs->base, key, TMP_DIR);
	if (nn < 0 || (size_t)nn >= sizeof(tmp) || mkdir_one(tmp) == -1 ||
	    (tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto fail;
	clean_tmp_once(fs, key, tmpfd);
	nn = snprintf(tmp, sizeof(tmp), "%s/%s/%s/%s.XXXXXX", fs->base, key, TMP_DIR, job_id);
	if (nn < 0 || (size_t)nn >= sizeof(tmp) || mkdtemp(tmp) == NULL)
		goto fail;
	leaf = strrchr(tmp, '/') + 1;
	if ((jobfd = openat(tmpfd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fchmod(jobfd, 0755) != 0)
		goto fail_tmp;
	for (i = 0; i < n; i++)
		if (write_new(jobfd, objs[i].name, objs[i].buf, objs[i].len) != 0)
			goto fail_tmp;
	if (group_sync(fs) != 0)
		goto fail_tmp;
	if (rename(tmp, path) != 0) {
		int e = errno;

		remove_tmp(tmpfd, leaf);
		if (e == EEXIST || e == ENOTEMPTY)
			goto one_by_one; /* published meanwhile (another worker or agent) */
		goto fail;
	}
	if (group_sync(fs) != 0)
		goto fail;
	r = 0;
	goto out;
 one_by_one:
	for (i = 0; i < n; i++)
		if ((r = file_put(s, key, job_id, objs[i].name, objs[i].buf, objs[i].len,
		    NULL)) != 0)
			goto out;
	r = 0;
	goto out;
 fail_tmp:
	if (leaf != NULL)
		remove_tmp(tmpfd, leaf);
 fail:
	log_debug("cannot publish %s/%s under the store", key, job_id);
	r = SG_ERR_STORE_FAILED;
 out:
	if (jobfd != -1)
		close(jobfd);
	if (tmpfd != -1)
		close(tmpfd);
	return r;
}

static int
file_get(struct store *s, const char *key, const char *job_id, const char *name,
    char **ret, size_t *ret_len)
{
	const struct file_store *fs = s->impl;
	char path[PATH_MAX];
	int n, r;

	n = snprintf(path, sizeof(path), "%s/%s/%s/%s", fs->base, key, job_id, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return SG_ERR_STORE_FAILED;
	r = read_file(path, STORE_OBJECT_MAX, ret, ret_len);
	if (r == SG_ERR_NOT_FOUND)
		return r;
	return r == 0 ? 0 : SG_ERR_STORE_FAILED;
}

static void
file_close(struct store *s)
{
	struct file_store *fs = s->impl;

	if (fs != NULL) {
		free(fs->base);
		if (fs->base_fd != -1)
			close(fs->base_fd);
		for (size_t i = 0; i < fs->ncleaned; i++)
			free(fs->cleaned[i]);
		pthread_mutex_destroy(&fs->lock);
		pthread_cond_destroy(&fs->synced);
	}
	free(fs);
}

static const struct store_backend file_backend = {
	.put = file_put, .get = file_get, .close = file_close,
	.put_job = file_put_job, .location = file_location,
};

int
store_file_open(const struct store_opts *opts, struct store *s, char *errbuf, size_t errlen)
{
	const char *path = opts->url + strlen("file://");
	struct file_store *fs;
	struct stat st;
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (path[0] != '/' || n >= PATH_MAX / 2 || strstr(path, "/../") != NULL ||
	    strchr(path, '?') != NULL || strchr(path, '#') != NULL || strchr(path, '%') != NULL) {
		snprintf(errbuf, errlen, "store: file URL needs a plain absolute path");
		return SG_ERR_CONFIG;
	}
	if ((fs = calloc(1, sizeof(*fs))) == NULL || (fs->base = strndup(path, n)) == NULL) {
		free(fs);
		return SG_ERR_ALLOC;
	}
	if (stat(fs->base, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    (fs->base_fd = open(fs->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(errbuf, errlen, "store: %s is not a directory", fs->base);
		free(fs->base);
		free(fs);
		return SG_ERR_CONFIG;
	}
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->synced, NULL);
	s->backend = &file_backend;
	s->impl = fs;
	return 0;
}
