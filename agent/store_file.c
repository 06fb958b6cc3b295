/*
 * store_file.c — the file:// backend of the artifact store (docs/protocol.md §9).
 *
 * Every path is opened relative to a directory descriptor, from the base
 * directory's down, and never through a symbolic link: <key>, <key>/<id>
 * and the objects are opened with O_NOFOLLOW (directories also with
 * O_DIRECTORY), so a link planted anywhere under the base is refused, not
 * followed.  (The base itself is the configuration's and is opened as
 * given.)
 *
 * A job's objects (its signature file and result.json) are published
 * together, and never replace anything:
 *
 *   1. written, without fsync, into a new directory <key>/.tmp/<id>.<random>
 *      (".tmp" cannot be a job id: ids are 32 hex characters);
 *   2. made durable by one syncfs() of the store's filesystem, shared by
 *      every worker that wrote before it started (group commit);
 *   3. renamed to <key>/<id> with RENAME_NOREPLACE — readers see the whole
 *      job or nothing, and an existing <key>/<id> is never replaced;
 *   4. made durable again by a second shared syncfs().
 *
 * Two syncs per batch of jobs instead of five fsyncs per job.  syncfs()
 * writes out everything dirty on the filesystem, so keep the store on a
 * filesystem that busy writers do not share (docs/reliability.md).  A crash
 * between 1 and 4 leaves a directory under .tmp/ (removed the next time
 * the key is published to, once it is an hour old) and no <key>/<id>: the
 * job was not acknowledged, so it is delivered again and republished from
 * the audit log.
 *
 * When <key>/<id> exists already, it is the job's earlier publication (a
 * redelivery, or a result rebuilt after its result.json was lost): an
 * object that is there must hold exactly the bytes we would write (then
 * it counts as written), and only objects that are missing are added
 * (temp file, fsync, rename without replacing, fsync of the directory).
 * An object that is there with other bytes — another job's under the same
 * id — fails the whole publication, before anything is written.
 *
 * Objects written one by one (store_put: the audit log's pieces and
 * checkpoints, where "latest" is replaced on purpose) go through a temp
 * file and a rename that may replace.  Files are created with mode 0666
 * and directories 0777, less the process's umask, or with the configured
 * mode (store_opts.file_mode) exactly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "envcheck.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define TMP_DIR            ".tmp"
#define TMP_STALE_S        3600 /* a temp directory this old is a crash's leftover */
#define CLEANED_KEYS_MAX   256  /* keys whose .tmp/ was cleaned since start */
#define TMP_NAME_TRIES_MAX 8    /* random temp names tried before giving up */
#define TMP_SUFFIX_LEN     16   /* hex digits of a temp name's random part */

struct file_store {
	char *base;         /* absolute directory, no trailing slash */
	int base_fd;        /* every path is opened from here; syncfs() */
	unsigned file_mode; /* 0: 0666 less the umask; else exactly this */
	unsigned dir_mode;  /* 0: 0777 less the umask; else exactly this */
	pthread_mutex_t lock;
	pthread_cond_t synced;
	uint64_t wanted; /* sync tickets handed out */
	uint64_t done;   /* every ticket up to this one is durable */
	uint64_t failed; /* every ticket up to this one saw a failed sync */
	int running;     /* a syncfs() is under way */
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

/* "<prefix>.<16 random hex digits>" into buf. */
static int
tmp_name(const char *prefix, char *buf, size_t len)
{
	uint8_t rnd[TMP_SUFFIX_LEN / 2];
	char hex[TMP_SUFFIX_LEN + 1];
	int n;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	hex_encode(rnd, sizeof(rnd), hex);
	n = snprintf(buf, len, "%s.%s", prefix, hex);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Writes all of buf to fd. */
static int
write_all_fd(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes buf to a new file dir/name (created exclusively, never through a
 * link), in the store's file mode.  fsync when sync. */
static int
write_new(
    const struct file_store *fs, int dirfd, const char *name, const void *buf, size_t len, int sync)
{
	int fd, r = 0;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd == -1)
		return SG_ERR_STORE_FAILED;
	if ((fs->file_mode != 0 && fchmod(fd, (mode_t)fs->file_mode) != 0) ||
	    write_all_fd(fd, buf, len) != 0 || (sync && fsync(fd) != 0))
		r = SG_ERR_STORE_FAILED;
	if (close(fd) != 0)
		r = SG_ERR_STORE_FAILED;
	if (r != 0)
		(void)unlinkat(dirfd, name, 0);
	return r;
}

/*
 * Opens dir/name as a directory, never through a link; with create, makes
 * it first when it is missing (durable in dir, in the store's directory
 * mode).  The descriptor in *ret_fd.  A link or anything but a directory
 * is refused, and logged.
 */
static int
open_dir(const struct file_store *fs, int dirfd, const char *name, int create, int *ret_fd,
    const char *what)
{
	int fd, made = 0;

	for (;;) {
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1)
			break;
		if (errno == ENOENT && create && !made) {
			if (mkdirat(dirfd, name, 0777) == 0) {
				/* A crash must not lose it with what is renamed into it. */
				if (fsync(dirfd) != 0)
					return SG_ERR_STORE_FAILED;
				made = 1;
			} else if (errno != EEXIST) {
				return SG_ERR_STORE_FAILED;
			}
			continue;
		}
		if (errno == ENOENT)
			return SG_ERR_NOT_FOUND;
		if (errno == ELOOP || errno == ENOTDIR)
			log_warn("store: %s/%s is not a directory (a symbolic link?): refused",
			    fs->base, what);
		return SG_ERR_STORE_FAILED;
	}
	if (made && fs->dir_mode != 0 && fchmod(fd, (mode_t)fs->dir_mode) != 0) {
		close(fd);
		return SG_ERR_STORE_FAILED;
	}
	*ret_fd = fd;
	return 0;
}

/* The file dir/name (never through a link), read whole when it holds at
 * most max bytes: 0, SG_ERR_NOT_FOUND, SG_ERR_LIMIT, SG_ERR_STORE_FAILED. */
static int
read_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, r = SG_ERR_STORE_FAILED;

	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? SG_ERR_NOT_FOUND : SG_ERR_STORE_FAILED;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	r = SG_ERR_LIMIT;
	if (st.st_size < 0 || (uint64_t)st.st_size > max)
		goto out;
	r = SG_ERR_ALLOC;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	r = SG_ERR_STORE_FAILED;
	/* One byte more than fstat said: a file that grew is not read short. */
	while (got <= (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != (size_t)st.st_size)
		goto out;
	buf[got] = '\0';
	*ret = buf;
	*ret_len = got;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* Whether dir/name holds exactly buf: 1 yes, 0 it holds something else,
 * SG_ERR_NOT_FOUND, or another error. */
static int
holds(int dirfd, const char *name, const void *buf, size_t len)
{
	char *have = NULL;
	size_t have_len = 0;
	int r;

	r = read_at(dirfd, name, len, &have, &have_len);
	if (r == SG_ERR_LIMIT)
		return 0; /* larger than ours */
	if (r != 0)
		return r;
	r = have_len == len && memcmp(have, buf, len) == 0;
	free(have);
	return r;
}

/* Renames dir/from to dir2/to unless `to` exists (EEXIST then).  Where the
 * filesystem has no RENAME_NOREPLACE: a directory is renamed as such
 * (rename(2) never replaces one that holds anything), a file is linked
 * (link(2) never replaces) and its old name removed. */
static int
rename_noreplace(int dir, const char *from, int dir2, const char *to, int is_dir)
{
	if (renameat2(dir, from, dir2, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (is_dir)
		return renameat(dir, from, dir2, to);
	if (linkat(dir, from, dir2, to, 0) != 0)
		return -1;
	(void)unlinkat(dir, from, 0);
	return 0;
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

/* <key>/<id> opened as a directory (made when create). */
static int
open_job_dir(const struct file_store *fs, const char *key, const char *job_id, int create,
    int *ret_keyfd, int *ret_jobfd)
{
	char what[NAME_MAX * 2 + 2];
	int keyfd = -1, r;

	if ((r = open_dir(fs, fs->base_fd, key, create, &keyfd, key)) != 0)
		return r;
	snprintf(what, sizeof(what), "%s/%s", key, job_id);
	if ((r = open_dir(fs, keyfd, job_id, create, ret_jobfd, what)) != 0) {
		close(keyfd);
		return r;
	}
	if (ret_keyfd != NULL)
		*ret_keyfd = keyfd;
	else
		close(keyfd);
	return 0;
}

static int
file_put(struct store *s, const char *key, const char *job_id, const char *name, const void *buf,
    size_t len, char **ret_location)
{
	const struct file_store *fs = s->impl;
	char tmp[NAME_MAX + 1], *loc = NULL;
	int jobfd = -1, r = SG_ERR_STORE_FAILED, written = 0, tries;

	if (open_job_dir(fs, key, job_id, 1, NULL, &jobfd) != 0)
		goto out;
	/* A temp name that no object has: objects are at most NAME_MAX bytes,
	 * ".tmp-" and a random part make it another name. */
	for (tries = 0; tries < TMP_NAME_TRIES_MAX && !written; tries++) {
		if (tmp_name(".tmp-put", tmp, sizeof(tmp)) != 0)
			goto out;
		if ((r = write_new(fs, jobfd, tmp, buf, len, 1)) == 0)
			written = 1;
		else if (errno != EEXIST)
			goto out;
	}
	r = SG_ERR_STORE_FAILED;
	if (!written)
		goto out;
	/* Replaces an earlier object of that name (not what a link points to). */
	if (renameat(jobfd, tmp, jobfd, name) != 0) {
		(void)unlinkat(jobfd, tmp, 0);
		goto out;
	}
	if (fsync(jobfd) != 0)
		goto out;
	if (ret_location != NULL) {
		if (asprintf(&loc, "file://%s/%s/%s/%s", fs->base, key, job_id, name) == -1) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		*ret_location = loc;
	}
	r = 0;
out:
	if (r == SG_ERR_STORE_FAILED)
		log_debug("cannot write %s/%s/%s under the store", key, job_id, name);
	if (jobfd != -1)
		close(jobfd);
	return r;
}

static int
file_location(struct store *s, const char *key, const char *job_id, const char *name, char **ret)
{
	const struct file_store *fs = s->impl;

	if (asprintf(ret, "file://%s/%s/%s/%s", fs->base, key, job_id, name) == -1) {
		*ret = NULL;
		return SG_ERR_ALLOC;
	}
	return 0;
}

/*
 * The job's directory exists: every object in it must hold our bytes, and
 * the ones missing are added without replacing anything.  All are checked
 * before any is written.
 */
static int
complete_job(struct file_store *fs, int keyfd, const char *key, const char *job_id,
    const struct store_object *objs, size_t n)
{
	char what[NAME_MAX * 2 + 2], tmp[NAME_MAX + 1];
	int missing[STORE_JOB_OBJECTS_MAX];
	size_t i;
	int jobfd = -1, r, h, tries;

	snprintf(what, sizeof(what), "%s/%s", key, job_id);
	if (n > STORE_JOB_OBJECTS_MAX || open_dir(fs, keyfd, job_id, 0, &jobfd, what) != 0)
		return SG_ERR_STORE_FAILED;
	r = SG_ERR_STORE_FAILED;
	for (i = 0; i < n; i++) {
		h = holds(jobfd, objs[i].name, objs[i].buf, objs[i].len);
		if (h == 0) {
			log_warn("store: %s/%s/%s/%s holds other bytes (another job under this "
				 "id?): the job's objects are not replaced",
			    fs->base, key, job_id, objs[i].name);
			goto out;
		}
		if (h != 1 && h != SG_ERR_NOT_FOUND)
			goto out;
		missing[i] = h == SG_ERR_NOT_FOUND;
	}
	for (i = 0; i < n; i++) {
		if (!missing[i])
			continue;
		for (tries = 0; tries < TMP_NAME_TRIES_MAX; tries++) {
			if (tmp_name(".tmp-job", tmp, sizeof(tmp)) != 0)
				goto out;
			if (write_new(fs, jobfd, tmp, objs[i].buf, objs[i].len, 1) == 0)
				break;
			if (errno != EEXIST)
				goto out;
		}
		if (tries == TMP_NAME_TRIES_MAX)
			goto out;
		if (rename_noreplace(jobfd, tmp, jobfd, objs[i].name, 0) != 0) {
			(void)unlinkat(jobfd, tmp, 0);
			/* Written meanwhile (another worker or agent): ours or not. */
			if (errno != EEXIST ||
			    holds(jobfd, objs[i].name, objs[i].buf, objs[i].len) != 1)
				goto out;
		}
	}
	if (fsync(jobfd) != 0)
		goto out;
	r = 0;
out:
	close(jobfd);
	return r;
}

static int
file_put_job(
    struct store *s, const char *key, const char *job_id, const struct store_object *objs, size_t n)
{
	struct file_store *fs = s->impl;
	char tmp[NAME_MAX + 1], what[NAME_MAX * 2 + 2];
	struct stat st;
	size_t i;
	int keyfd = -1, tmpfd = -1, jobfd = -1, r = SG_ERR_STORE_FAILED, made = 0;

	if (open_dir(fs, fs->base_fd, key, 1, &keyfd, key) != 0)
		goto fail;
	if (fstatat(keyfd, job_id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Published before (a redelivery, a result rebuilt); a shared
		 * sync still follows, as on every path (file_syncs_path). */
		r = complete_job(fs, keyfd, key, job_id, objs, n);
		if (r == 0 && group_sync(fs) != 0)
			r = SG_ERR_STORE_FAILED;
		goto out;
	}
	if (errno != ENOENT)
		goto fail;
	snprintf(what, sizeof(what), "%s/%s", key, TMP_DIR);
	if (open_dir(fs, keyfd, TMP_DIR, 1, &tmpfd, what) != 0)
		goto fail;
	clean_tmp_once(fs, key, tmpfd);
	for (i = 0; i < TMP_NAME_TRIES_MAX && !made; i++) {
		if (tmp_name(job_id, tmp, sizeof(tmp)) != 0)
			goto fail;
		if (mkdirat(tmpfd, tmp, 0777) == 0)
			made = 1;
		else if (errno != EEXIST)
			goto fail;
	}
	if (!made)
		goto fail;
	if ((jobfd = openat(tmpfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    (fs->dir_mode != 0 && fchmod(jobfd, (mode_t)fs->dir_mode) != 0))
		goto fail_tmp;
	for (i = 0; i < n; i++)
		if (write_new(fs, jobfd, objs[i].name, objs[i].buf, objs[i].len, 0) != 0)
			goto fail_tmp;
	if (group_sync(fs) != 0)
		goto fail_tmp;
	if (rename_noreplace(tmpfd, tmp, keyfd, job_id, 1) != 0) {
		int e = errno;

		remove_tmp(tmpfd, tmp);
		made = 0;
		if (e != EEXIST && e != ENOTEMPTY)
			goto fail;
		/* Published meanwhile (another worker or agent). */
		r = complete_job(fs, keyfd, key, job_id, objs, n);
		goto out;
	}
	if (group_sync(fs) != 0)
		goto fail;
	r = 0;
	goto out;
fail_tmp:
	if (made)
		remove_tmp(tmpfd, tmp);
fail:
	log_debug("cannot publish %s/%s under the store", key, job_id);
	r = SG_ERR_STORE_FAILED;
out:
	if (jobfd != -1)
		close(jobfd);
	if (tmpfd != -1)
		close(tmpfd);
	if (keyfd != -1)
		close(keyfd);
	return r;
}

static int
file_get(struct store *s, const char *key, const char *job_id, const char *name, char **ret,
    size_t *ret_len)
{
	const struct file_store *fs = s->impl;
	int jobfd = -1, r;

	if ((r = open_job_dir(fs, key, job_id, 0, NULL, &jobfd)) != 0)
		return r == SG_ERR_NOT_FOUND ? r : SG_ERR_STORE_FAILED;
	r = read_at(jobfd, name, STORE_OBJECT_MAX, ret, ret_len);
	close(jobfd);
	if (r == SG_ERR_NOT_FOUND || r == SG_ERR_ALLOC)
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

/* Every file_put_job() that returns 0 has waited for a syncfs() of the base
 * directory's filesystem that started after it was called; that covers path
 * when path is on it (the same st_dev). */
static int
file_syncs_path(struct store *s, const char *path)
{
	const struct file_store *fs = s->impl;
	struct stat a, b;

	return fstat(fs->base_fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev;
}

static const struct store_backend file_backend = {
	.put = file_put,
	.get = file_get,
	.close = file_close,
	.put_job = file_put_job,
	.location = file_location,
	.syncs_path = file_syncs_path,
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
	if (opts->file_mode != 0 && !store_mode_ok(opts->file_mode)) {
		snprintf(errbuf, errlen,
		    "store: mode %04o: owner read and write, no write for "
		    "group or others",
		    opts->file_mode);
		return SG_ERR_CONFIG;
	}
	if ((fs = calloc(1, sizeof(*fs))) == NULL || (fs->base = strndup(path, n)) == NULL) {
		free(fs);
		return SG_ERR_ALLOC;
	}
	if ((fs->base_fd = open(fs->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(fs->base_fd, &st) == -1 || !S_ISDIR(st.st_mode)) {
		int e = errno;
		char who[256];
		if (e == ENOTDIR || fs->base_fd != -1)
			snprintf(errbuf, errlen, "store: %s is not a directory", fs->base);
		else
			snprintf(errbuf, errlen, "store: cannot open %s: %s%s%s%s", fs->base,
			    strerror(e), e == EACCES || e == EPERM ? " (running as " : "",
			    e == EACCES || e == EPERM ? envcheck_whoami(who, sizeof(who)) : "",
			    e == EACCES || e == EPERM ? ")" : "");
		if (fs->base_fd != -1)
			close(fs->base_fd);
		free(fs->base);
		free(fs);
		return SG_ERR_CONFIG;
	}
	if (opts->file_mode != 0) {
		/* Directories may be searched by whoever may read the files. */
		fs->file_mode = opts->file_mode;
		fs->dir_mode = opts->file_mode | ((opts->file_mode & 0444) >> 2);
	}
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->synced, NULL);
	s->backend = &file_backend;
	s->impl = fs;
	return 0;
}
