/*
 * store.c — picks the artifact store backend by URL scheme and checks the
 * names that become paths or URL segments.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int
store_component_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > NAME_MAX)
		return 0;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

int
store_mode_ok(unsigned mode)
{
	return (mode & ~0777u) == 0 && (mode & 0600u) == 0600u && (mode & 0022u) == 0;
}

int
store_open(const struct store_opts *opts, struct store **ret, char *errbuf, size_t errlen)
{
	struct store *s;
	int r;

	if (opts == NULL || opts->url == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SG_ERR_ALLOC;
	if (strncmp(opts->url, "file://", 7) == 0)
		r = store_file_open(opts, s, errbuf, errlen);
	else if (strncmp(opts->url, "http://", 7) == 0 || strncmp(opts->url, "https://", 8) == 0)
		r = store_http_open(opts, s, errbuf, errlen);
	else {
		snprintf(errbuf, errlen, "store: use file:///dir, http:// or https://");
		r = SG_ERR_CONFIG;
	}
	if (r != 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int
store_put(struct store *s, const char *key, const char *job_id, const char *name, const void *buf,
    size_t len, char **ret_location)
{
	if (!store_component_ok(key) || !store_component_ok(job_id) || !store_component_ok(name) ||
	    len > STORE_OBJECT_MAX)
		return SG_ERR_STORE_FAILED;
	return s->backend->put(s, key, job_id, name, buf, len, ret_location);
}

int
store_put_job(
    struct store *s, const char *key, const char *job_id, const struct store_object *objs, size_t n)
{
	size_t i, j;

	if (!store_component_ok(key) || !store_component_ok(job_id) || n == 0 ||
	    n > STORE_JOB_OBJECTS_MAX)
		return SG_ERR_STORE_FAILED;
	for (i = 0; i < n; i++) {
		if (!store_component_ok(objs[i].name) || objs[i].len > STORE_OBJECT_MAX)
			return SG_ERR_STORE_FAILED;
		for (j = 0; j < i; j++)
			if (strcmp(objs[i].name, objs[j].name) == 0)
				return SG_ERR_STORE_FAILED;
	}
	return s->backend->put_job(s, key, job_id, objs, n);
}

int
store_location(struct store *s, const char *key, const char *job_id, const char *name, char **ret)
{
	if (!store_component_ok(key) || !store_component_ok(job_id) || !store_component_ok(name))
		return SG_ERR_STORE_FAILED;
	return s->backend->location(s, key, job_id, name, ret);
}

int
store_syncs_path(struct store *s, const char *path)
{
	return s != NULL && path != NULL && s->backend->syncs_path != NULL &&
	    s->backend->syncs_path(s, path);
}

int
store_get(struct store *s, const char *key, const char *job_id, const char *name, char **ret,
    size_t *ret_len)
{
	if (!store_component_ok(key) || !store_component_ok(job_id) || !store_component_ok(name))
		return SG_ERR_STORE_FAILED;
	return s->backend->get(s, key, job_id, name, ret, ret_len);
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->backend != NULL)
		s->backend->close(s);
	free(s);
}
