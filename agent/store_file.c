/*
 * store.c — the file:// backend of the artifact store (SPEC §8).
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

struct store {
	char *base;      /* absolute directory, no trailing slash */
};

static int
is_component(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= NAME_MAX && strchr(s, '/') == NULL &&
	    strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int
store_open(const char *url, struct store **ret, char *errbuf, size_t errlen)
{
	static const char scheme[] = "file://";
	struct store *s = NULL;
	struct stat st;
	const char *path;
	size_t n;

	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
		snprintf(errbuf, errlen, "store: only file:///absolute/dir is supported");
		return SG_ERR_CONFIG;
	}
	path = url + sizeof(scheme) - 1;
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (path[0] != '/' || n >= PATH_MAX / 2 || strstr(path, "/../") != NULL ||
	    strchr(path, '?') != NULL || strchr(path, '#') != NULL || strchr(path, '%') != NULL) {
		snprintf(errbuf, errlen, "store: file URL needs a plain absolute path");
		return SG_ERR_CONFIG;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->base = strndup(path, n)) == NULL) {
		free(s);
		return SG_ERR_ALLOC;
	}
	if (stat(s->base, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(errbuf, errlen, "store: %s is not a directory", s->base);
		store_close(s);
		return SG_ERR_CONFIG;
	}
	*ret = s;
	return 0;
}

static int
mkdir_one(const char *path)
{
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
store_put(struct store *s, const char *key, const char *job_id, const char *name,
    const void *buf, size_t len, char **ret_location)
{
	char path[PATH_MAX], *loc = NULL;
	int n;

	if (!is_component(key) || !is_component(job_id) || !is_component(name))
		return SG_ERR_STORE_FAILED;
	n = snprintf(path, sizeof(path), "%s/%s", s->base, key);
	if (n < 0 || (size_t)n >= sizeof(path) || mkdir_one(path) == -1)
		goto fail;
	n = snprintf(path, sizeof(path), "%s/%s/%s", s->base, key, job_id);
	if (n < 0 || (size_t)n >= sizeof(path) || mkdir_one(path) == -1)
		goto fail;
	n = snprintf(path, sizeof(path), "%s/%s/%s/%s", s->base, key, job_id, name);
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

int
store_get(struct store *s, const char *key, const char *job_id, const char *name,
    char **ret, size_t *ret_len)
{
	char path[PATH_MAX];
	int n, r;

	if (!is_component(key) || !is_component(job_id) || !is_component(name))
		return SG_ERR_STORE_FAILED;
	n = snprintf(path, sizeof(path), "%s/%s/%s/%s", s->base, key, job_id, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return SG_ERR_STORE_FAILED;
	r = read_file(path, STORE_OBJECT_MAX, ret, ret_len);
	if (r == SG_ERR_NOT_FOUND)
		return r;
	return r == 0 ? 0 : SG_ERR_STORE_FAILED;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	free(s->base);
	free(s);
}
