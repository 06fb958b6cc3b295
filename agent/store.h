/*
 * store.h — the artifact store of SPEC §8:
 *
 *   <base>/<key>/<job id>/<artifact name>.sig   (raw)
 *   <base>/<key>/<job id>/<artifact name>.p7s   (cms)
 *   <base>/<key>/<job id>/result.json           (the result envelope)
 *
 * Backends are sibling files behind this header: store_file.c
 * (file:///absolute/dir; atomic writes: temp file, fsync, rename, fsync of
 * the directory).  Key names, job ids and artifact names are checked before
 * they reach a path (no '/', not "." or "..").
 */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stddef.h>

#include "err.h"

#define STORE_LOCATION_MAX 8192
#define STORE_OBJECT_MAX (1024 * 1024)

struct store;

/* Opens the backend named by url.  SG_ERR_CONFIG for an unsupported or
 * malformed URL or a base directory that does not exist. */
int store_open(const char *url, struct store **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/* Writes object `name` (e.g. "fw.bin.sig", "result.json") under key/id.
 * *ret_location (optional) receives the URL of what was written; caller
 * frees.  SG_ERR_STORE_FAILED on any failure. */
int store_put(struct store *s, const char *key, const char *job_id, const char *name,
    const void *buf, size_t len, char **ret_location) SG_MUST_CHECK;

/* Reads it back (at most STORE_OBJECT_MAX bytes).  SG_ERR_NOT_FOUND,
 * SG_ERR_STORE_FAILED.  Caller frees. */
int store_get(struct store *s, const char *key, const char *job_id, const char *name,
    char **ret, size_t *ret_len) SG_MUST_CHECK;

void store_close(struct store *s);

#endif
