/*
 * envcheck.h — what the agent needs from its host, checked the way the
 * agent will use it: the store and the audit log's directory writable, the
 * PIN file readable, Redis reachable and willing, each by the user that
 * will need it.  `signet-agent --check` and the agent's start run these;
 * `signet-admin init` runs them as root on behalf of the service users.
 *
 * Every reason is one line naming the path or URL and the system's words,
 * with "(running as USER)" when the system said no for want of a
 * permission.  A URL is shown with any password elided.  Nothing here
 * prints; reasons go to the caller's buffer (ENVCHECK_WHY_MAX bytes is
 * enough for any of them).
 */
#ifndef SG_AGENT_ENVCHECK_H
#define SG_AGENT_ENVCHECK_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "err.h"

#define ENVCHECK_WHY_MAX 1024

/* The name of the process's effective user ("uid N" when it has none)
 * into buf; returns buf. */
const char *envcheck_whoami(char *buf, size_t len);

/* A check run by envcheck_as(): 0 when it holds, else -1 and a reason. */
typedef int (*envcheck_fn)(void *arg, char *why, size_t whylen);

/*
 * Runs fn as `user`: in this process when user is NULL or is the user this
 * process runs as; in a child that becomes user (its groups, gid and uid)
 * when this process runs as root; otherwise -1 with a reason saying so.
 * The child's reason comes back through a pipe.  Returns fn's result.
 * Call it before starting threads when it may fork.
 */
int envcheck_as(const char *user, envcheck_fn fn, void *arg, char *why, size_t whylen);

/* A directory in which this process can create and remove a file: it
 * exists, is a directory, and a temporary file ".signet-check.XXXXXX"
 * can be made and removed there.  `what` opens the reason ("store"). */
int envcheck_dir_writable(const char *what, const char *dir, char *why, size_t whylen);

/* An existing file this process can open for appending (the audit log). */
int envcheck_file_appendable(const char *what, const char *path, char *why, size_t whylen);

/*
 * A secret file as the signer reads it: this process can open it, it is a
 * regular file, owned by owner_uid or by root, with no permission for
 * group or others (0600 or 0400).
 */
int envcheck_secret_file(
    const char *what, const char *path, uid_t owner_uid, char *why, size_t whylen);

/* Redis as the agent uses it: connect, AUTH (the password file), PING,
 * and the consumer group exists or can be created. */
int envcheck_redis(const struct agent_config *cfg, char *why, size_t whylen);

/* The store's directory for a file:// store (a pointer into url), or
 * NULL for another kind of store. */
const char *envcheck_store_dir(const char *url);

#endif
