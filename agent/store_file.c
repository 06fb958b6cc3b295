/*
 * store_file.c — the file:// backend of the artifact store (SPEC §8).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "util.h"

struct file_store {
	char *base;      /* absolute directory, no trailing slash */
};

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

	if (fs != NULL)
		free(fs->base);
	free(fs);
}

static const struct store_backend file_backend = { file_put, file_get, file_close };

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
	if (stat(fs->base, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(errbuf, errlen, "store: %s is not a directory", fs->base);
		free(fs->base);
		free(fs);
		return SG_ERR_CONFIG;
	}
	s->backend = &file_backend;
	s->impl = fs;
	return 0;
}
