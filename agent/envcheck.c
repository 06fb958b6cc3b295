/*
 * envcheck.c — host checks run as the user that needs them (envcheck.h).
 *
 * Permissions are tried, not computed: a file is created, opened or
 * connected to as the user in question, so that everything the kernel
 * looks at (the modes of every directory on the way, groups, ACLs, a
 * read-only mount) is taken into account, as it will be when the agent
 * runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "envcheck.h"
#include "queue.h"

#define CHECK_TMP_NAME "/.signet-check.XXXXXX"

const char *
envcheck_whoami(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %lu", (unsigned long)geteuid());
	return buf;
}

/* " (running as USER)" for a refusal by permission, else "". */
static const char *
as_whom(int e, char *buf, size_t len)
{
	char who[256];

	if (e != EACCES && e != EPERM && e != EROFS)
		return "";
	snprintf(buf, len, " (running as %s)", envcheck_whoami(who, sizeof(who)));
	return buf;
}

int
envcheck_as(const char *user, envcheck_fn fn, void *arg, char *why, size_t whylen)
{
	struct passwd *pw;
	char buf[ENVCHECK_WHY_MAX];
	int fds[2], status = 0;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	why[0] = '\0';
	if (user == NULL)
		return fn(arg, why, whylen);
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(why, whylen, "no user %s", user);
		return -1;
	}
	if (pw->pw_uid == geteuid())
		return fn(arg, why, whylen);
	if (geteuid() != 0) {
		snprintf(why, whylen, "cannot check as %s without running as root", user);
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int r = -1;

		close(fds[0]);
		buf[0] = '\0';
		if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
		    setuid(pw->pw_uid) != 0)
			snprintf(buf, sizeof(buf), "cannot become %s: %s", user, strerror(errno));
		else
			r = fn(arg, buf, sizeof(buf));
		(void)!write(fds[1], buf, strnlen(buf, sizeof(buf) - 1));
		_exit(r == 0 ? 0 : 1);
	}
	close(fds[1]);
	while (got + 1 < sizeof(buf)) {
		n = read(fds[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	snprintf(why, whylen, "%s", buf);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int
envcheck_dir_writable(const char *what, const char *dir, char *why, size_t whylen)
{
	char path[4096], who[300];
	struct stat st;
	int fd, e;

	if (stat(dir, &st) != 0) {
		e = errno;
		snprintf(why, whylen, "%s: cannot open %s: %s%s", what, dir, strerror(e),
		    as_whom(e, who, sizeof(who)));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s: %s is not a directory", what, dir);
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s%s", dir, CHECK_TMP_NAME) >= sizeof(path)) {
		snprintf(why, whylen, "%s: %s: path too long", what, dir);
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1) {
		e = errno;
		snprintf(why, whylen, "%s: cannot create files in %s: %s%s", what, dir, strerror(e),
		    as_whom(e, who, sizeof(who)));
		return -1;
	}
	close(fd);
	if (unlink(path) != 0) {
		e = errno;
		snprintf(why, whylen, "%s: cannot remove files in %s: %s%s", what, dir, strerror(e),
		    as_whom(e, who, sizeof(who)));
		return -1;
	}
	return 0;
}

int
envcheck_file_appendable(const char *what, const char *path, char *why, size_t whylen)
{
	char who[300];
	int fd, e;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		e = errno;
		snprintf(why, whylen, "%s: cannot open %s for writing: %s%s", what, path,
		    strerror(e), as_whom(e, who, sizeof(who)));
		return -1;
	}
	close(fd);
	return 0;
}

int
envcheck_secret_file(const char *what, const char *path, uid_t owner_uid, char *why, size_t whylen)
{
	char who[300];
	struct stat st;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		e = errno;
		snprintf(why, whylen, "%s: cannot read %s: %s%s", what, path, strerror(e),
		    as_whom(e, who, sizeof(who)));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: %s is not a regular file", what, path);
		close(fd);
		return -1;
	}
	close(fd);
	if (st.st_uid != owner_uid && st.st_uid != 0) {
		struct passwd *pw = getpwuid(owner_uid);
		snprintf(why, whylen, "%s: %s belongs to uid %lu, not to %s or root", what, path,
		    (unsigned long)st.st_uid, pw != NULL ? pw->pw_name : "its reader");
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, whylen,
		    "%s: %s has mode %04o: group and others must have no access (chmod 0600)", what,
		    path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int
envcheck_redis(const struct agent_config *cfg, char *why, size_t whylen)
{
	struct queue_opts o;
	struct queue *q = NULL;
	char reason[QUEUE_REASON_MAX], shown[QUEUE_URL_MAX + 8], who[300];
	int r;

	config_queue_opts(cfg, &o);
	queue_url_display(cfg->redis, shown, sizeof(shown));
	if ((r = queue_open_reason(&o, &q, reason, sizeof(reason))) != 0) {
		int denied = strstr(reason, "Permission denied") != NULL;
		snprintf(why, whylen, "redis: cannot connect to %s: %s%s", shown,
		    reason[0] ? reason : sg_strerror(r),
		    denied ? as_whom(EACCES, who, sizeof(who)) : "");
		return -1;
	}
	r = queue_group_create(q);
	queue_close(q);
	if (r != 0) {
		snprintf(why, whylen,
		    "redis: %s: cannot create the consumer group %s on %sjobs: %s", shown,
		    QUEUE_GROUP, cfg->prefix != NULL ? cfg->prefix : QUEUE_DEFAULT_PREFIX,
		    sg_strerror(r));
		return -1;
	}
	return 0;
}

const char *
envcheck_store_dir(const char *url)
{
	return strncmp(url, "file://", 7) == 0 ? url + 7 : NULL;
}
