/*
 * store.h — the artifact store of docs/protocol.md §9:
 *
 *   <base>/<key>/<job id>/<artifact name>.sig   (raw)
 *   <base>/<key>/<job id>/<artifact name>.p7s   (cms)
 *   <base>/<key>/<job id>/result.json           (the result envelope)
 *
 * Backends are sibling files behind this header, chosen by the URL scheme:
 *   store_file.c  file:///absolute/dir — a job's objects are written
 *                 together into a temporary directory, made durable with
 *                 one syncfs() shared by the workers publishing at the same
 *                 time, then renamed into place as <key>/<id>/ (never over
 *                 an existing one) and made durable again (readers never
 *                 see half a job); objects written one by one (the audit
 *                 log's pieces and checkpoints): temp file, fsync, rename,
 *                 fsync of the directory.  Every path is opened from the
 *                 base directory's descriptor without following links.
 *   store_http.c  http:// and https:// — HTTP PUT (WebDAV, Artifactory,
 *                 Nexus raw, S3-style), TLS verification always on, optional
 *                 bearer token from a file, retries with backoff; a job's
 *                 objects are PUT with "If-None-Match: *"
 * Key names, job ids and object names are checked before they reach a path
 * or URL (no '/', not "." or "..", no control characters; URL-encoded for
 * HTTP).  All functions may be called from several threads at once.
 *
 * A job's objects are never replaced (store_put_job): an object that is
 * there already counts as written when it holds exactly the bytes to be
 * written (a redelivered job publishing again what it published before,
 * or a result rebuilt beside its signature file), and fails the job's
 * publication (SG_ERR_STORE_FAILED, nothing replaced) when it holds other
 * bytes — another job's objects under the same id.
 */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STORE_LOCATION_MAX       8192
#define STORE_OBJECT_MAX         (1024 * 1024)
#define STORE_JOB_OBJECTS_MAX    8  /* objects of one job (store_put_job) */
#define STORE_DEFAULT_TIMEOUT_S  10 /* one HTTP request */
#define STORE_DEFAULT_DEADLINE_S 60 /* all retries of one operation */

struct store;

struct store_opts {
	const char *url;               /* file:///dir, http(s)://host[:port]/base */
	const char *bearer_token_file; /* HTTP: owner-only file, or NULL */
	const char *ca_file;           /* HTTPS: CA bundle, or NULL for the system's */
	int64_t timeout_s;             /* 0: STORE_DEFAULT_TIMEOUT_S */
	int64_t deadline_s;            /* 0: STORE_DEFAULT_DEADLINE_S */
	unsigned file_mode;            /* file store: 0 for 0666 less the umask, else
	                                  the mode of every file (store_mode_ok),
	                                  and of directories with x where r is */
};

/* Whether mode may be a store's file mode: permission bits only, the owner
 * may read and write, group and others may not write. */
int store_mode_ok(unsigned mode);

/* Opens the backend named by opts->url.  SG_ERR_CONFIG (reason in errbuf)
 * for an unsupported or malformed URL, a base directory that does not exist,
 * an unreadable CA file; SG_ERR_SECRET_FILE for a token file that others may
 * read.  Call before starting threads (it initializes libcurl). */
int store_open(
    const struct store_opts *opts, struct store **ret, char *errbuf, size_t errlen) SG_MUST_CHECK;

/* Writes object `name` (e.g. "latest") under key/id, replacing an earlier
 * object of that name, retrying transient failures until the deadline.
 * For the audit log's pieces and checkpoints; a job's objects go through
 * store_put_job.  *ret_location (optional) receives the URL of what was
 * written; caller frees.  SG_ERR_STORE_FAILED on any failure. */
int store_put(struct store *s, const char *key, const char *job_id, const char *name,
    const void *buf, size_t len, char **ret_location) SG_MUST_CHECK;

/* One object of a job, for store_put_job. */
struct store_object {
	const char *name;
	const void *buf;
	size_t len;
};

/* Writes all n (1..STORE_JOB_OBJECTS_MAX) objects of job key/id, durable
 * when it returns 0 (the file store publishes them together), never
 * replacing an object (see above).  SG_ERR_STORE_FAILED on any failure,
 * an object with other bytes there included. */
int store_put_job(struct store *s, const char *key, const char *job_id,
    const struct store_object *objs, size_t n) SG_MUST_CHECK;

/* The location (URL) store_put or store_put_job gives object `name` of
 * key/id, without writing anything.  Caller frees. */
int store_location(struct store *s, const char *key, const char *job_id, const char *name,
    char **ret) SG_MUST_CHECK;

/* Reads it back (at most STORE_OBJECT_MAX bytes).  SG_ERR_NOT_FOUND,
 * SG_ERR_STORE_FAILED.  Caller frees. */
int store_get(struct store *s, const char *key, const char *job_id, const char *name, char **ret,
    size_t *ret_len) SG_MUST_CHECK;

/* Whether a store_put_job() that returns 0 has also made durable what was
 * written to the file at path before it was called: a file:// store on the
 * same filesystem (its syncfs() writes out all of it).
 * The agent then lets the store's sync stand for the audit log's sync of
 * a signed job's decision record (docs/audit.md). */
int store_syncs_path(struct store *s, const char *path);

void store_close(struct store *s);

/* --- for the backends --- */

struct store_backend {
	int (*put)(struct store *s, const char *key, const char *job_id, const char *name,
	    const void *buf, size_t len, char **ret_location);
	int (*get)(struct store *s, const char *key, const char *job_id, const char *name,
	    char **ret, size_t *ret_len);
	void (*close)(struct store *s);
	/* writes the objects without replacing any (see store_put_job) */
	int (*put_job)(struct store *s, const char *key, const char *job_id,
	    const struct store_object *objs, size_t n);
	int (*location)(
	    struct store *s, const char *key, const char *job_id, const char *name, char **ret);
	/* optional: see store_syncs_path */
	int (*syncs_path)(struct store *s, const char *path);
};

struct store {
	const struct store_backend *backend;
	void *impl;
};

/* True when s is a safe single path component / URL segment. */
int store_component_ok(const char *s);

int store_file_open(
    const struct store_opts *opts, struct store *s, char *errbuf, size_t errlen) SG_MUST_CHECK;
int store_http_open(
    const struct store_opts *opts, struct store *s, char *errbuf, size_t errlen) SG_MUST_CHECK;

#endif
