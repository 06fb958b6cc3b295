/*
 * admin_init.c — `signet-admin init [-c CONFIG] [--softhsm] [--dry-run]`
 * (docs/admin.md, "Preparing the host").
 *
 * Prepares the host for the users the agent and its signer run as, from
 * the configuration (read as strictly as the agent reads it, without the
 * files it names, which may not exist yet):
 *
 *   - the file store's directory and the audit log's directory, made for
 *     `user` (0750), or checked: the agent's user can create files there;
 *   - the signer's journal directory, made for `pkcs11.user` (0700);
 *   - the PIN file: there, the reader's or root's, 0600 or 0400, and
 *     readable by the user that reads it (pkcs11.user);
 *   - Redis: the agent's user connects, authenticates and finds (or makes)
 *     the consumer group; a unix socket it may not use is named with its
 *     group, the one to add the user to;
 *   - with --softhsm: a token directory of the signer's user beside its
 *     journal, a softhsm2.conf naming it, an environment file with
 *     SOFTHSM2_CONF for the service, and the token itself, made as the
 *     signer's user with the PIN read from the PIN file (never argv: the
 *     tools that take a PIN on their command line would show it to every
 *     local user, so the token is made here through PKCS#11) and a random
 *     SO PIN kept in a file of the signer's.
 *
 * Every check is made as the user concerned (a child process that becomes
 * it, envcheck.h), so that the kernel's answer is the agent's.  Each line
 * of output is one thing: "created", "would create" (--dry-run), "ok" or
 * "todo".  Running it again changes nothing that is in order.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "admin_init.h"
#include "cli.h"
#include "config.h"
#include "envcheck.h"
#include "p11.h"
#include "queue.h"
#include "util.h"

#define INIT_DEFAULT_CONFIG "/etc/signet/agent.json"
#define INIT_NAME_MAX       64
#define INIT_SO_PIN_BYTES   16 /* random bytes of the SO PIN (hex in its file) */
#define INIT_CONF_MAX       4096
#define INIT_TOKEN_DIRS_MAX 4096 /* entries of the token directory looked at */

/* A user the host is prepared for; root when the configuration names none. */
struct init_user {
	const char *name; /* NULL: this process's user */
	char shown[INIT_NAME_MAX + 1];
	char group[INIT_NAME_MAX + 1];
	uid_t uid;
	gid_t gid;
};

struct init {
	const struct agent_config *cfg;
	const char *config_path;
	int dry_run;
	int todo; /* lines that leave something to the operator */
	struct init_user agent, signer;
};

static void
init_usage(FILE *f)
{
	fprintf(f, "usage: signet-admin init [-c CONFIG] [--softhsm] [--dry-run]\n");
}

static const struct cli init_cli = {
	.prog = "signet-admin init", .usage = init_usage, .getopt_reports = 1
};

static int
user_resolve(const char *name, struct init_user *u)
{
	struct passwd *pw;
	struct group *gr;

	memset(u, 0, sizeof(*u));
	u->name = name;
	pw = name != NULL ? getpwnam(name) : getpwuid(geteuid());
	if (pw == NULL) {
		fprintf(stderr, "signet-admin init: no user %s\n", name != NULL ? name : "(self)");
		return -1;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	snprintf(u->shown, sizeof(u->shown), "%s", pw->pw_name);
	gr = getgrgid(u->gid);
	if (gr != NULL)
		snprintf(u->group, sizeof(u->group), "%s", gr->gr_name);
	else
		snprintf(u->group, sizeof(u->group), "%lu", (unsigned long)u->gid);
	return 0;
}

static void say_todo(struct init *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say_todo(struct init *in, const char *fmt, ...)
{
	va_list ap;

	in->todo++;
	fputs("todo ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* "user:group mode" of an existing path. */
static const char *
owner_mode(const struct stat *st, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);
	char u[32], g[32];

	snprintf(u, sizeof(u), "%lu", (unsigned long)st->st_uid);
	snprintf(g, sizeof(g), "%lu", (unsigned long)st->st_gid);
	snprintf(buf, len, "%s:%s %04o", pw != NULL ? pw->pw_name : u, gr != NULL ? gr->gr_name : g,
	    (unsigned)(st->st_mode & 07777));
	return buf;
}

/* Makes path (mode, owner u) exactly; "created ..." or "would create ...".
 * Missing parents are made root's, 0755. */
static int
make_dir(struct init *in, const char *path, const struct init_user *u, mode_t mode)
{
	char *parent = NULL;
	struct stat st;
	int r = -1;

	if (path_dir(path, &parent) != 0)
		return -1;
	if (strcmp(parent, path) != 0 && strcmp(parent, ".") != 0 && stat(parent, &st) != 0 &&
	    errno == ENOENT) {
		struct init_user root = { .uid = 0, .gid = 0 };
		snprintf(root.shown, sizeof(root.shown), "root");
		snprintf(root.group, sizeof(root.group), "root");
		if (make_dir(in, parent, &root, 0755) != 0)
			goto out;
	}
	if (in->dry_run) {
		printf("would create %s (%s:%s %04o)\n", path, u->shown, u->group, (unsigned)mode);
		in->todo++;
		r = 0;
		goto out;
	}
	if (mkdir(path, mode) != 0 || chown(path, u->uid, u->gid) != 0 || chmod(path, mode) != 0) {
		say_todo(in, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	printf("created %s (%s:%s %04o)\n", path, u->shown, u->group, (unsigned)mode);
	r = 0;
out:
	free(parent);
	return r;
}

struct dir_arg {
	const char *what, *dir;
};

static int
dir_writable(void *arg, char *why, size_t whylen)
{
	const struct dir_arg *a = arg;

	return envcheck_dir_writable(a->what, a->dir, why, whylen);
}

/* A directory u must be able to write: made when missing, else checked. */
static void
ensure_dir(
    struct init *in, const char *what, const char *dir, const struct init_user *u, mode_t mode)
{
	struct dir_arg a = { what, dir };
	char why[ENVCHECK_WHY_MAX], om[160];
	struct stat st;

	if (lstat(dir, &st) != 0 && errno == ENOENT) {
		(void)make_dir(in, dir, u, mode);
		return;
	}
	if (envcheck_as(u->name, dir_writable, &a, why, sizeof(why)) != 0) {
		say_todo(in, "%s; as root: chown %s:%s %s", why, u->shown, u->group, dir);
		return;
	}
	printf("ok %s: %s (%s) takes new files from %s\n", what, dir,
	    owner_mode(&st, om, sizeof(om)), u->shown);
}

struct pin_arg {
	const char *path;
	uid_t owner;
};

static int
pin_ok(void *arg, char *why, size_t whylen)
{
	const struct pin_arg *a = arg;

	return envcheck_secret_file("pkcs11.pin_file", a->path, a->owner, why, whylen);
}

static void
check_pin(struct init *in)
{
	const struct agent_config *cfg = in->cfg;
	struct pin_arg a = { cfg->pkcs11_pin_file, in->signer.uid };
	char why[ENVCHECK_WHY_MAX];
	struct stat st;

	if (stat(cfg->pkcs11_pin_file, &st) != 0 && errno == ENOENT) {
		say_todo(in,
		    "pkcs11.pin_file: %s does not exist; write the token's user PIN into it, "
		    "readable by %s alone: install -m 0600 -o %s -g %s /dev/null %s, then "
		    "write the PIN into it (docs/install.md)",
		    cfg->pkcs11_pin_file, in->signer.shown, in->signer.shown, in->signer.group,
		    cfg->pkcs11_pin_file);
		return;
	}
	if (envcheck_as(in->signer.name, pin_ok, &a, why, sizeof(why)) != 0) {
		say_todo(in, "%s", why);
		return;
	}
	printf("ok pkcs11.pin_file: %s is readable by %s alone\n", cfg->pkcs11_pin_file,
	    in->signer.shown);
}

static int
redis_ok(void *arg, char *why, size_t whylen)
{
	return envcheck_redis(arg, why, whylen);
}

static void
check_redis(struct init *in)
{
	const struct agent_config *cfg = in->cfg;
	char why[ENVCHECK_WHY_MAX], shown[QUEUE_URL_MAX + 8], om[160];
	struct queue_url *u = NULL;
	struct stat st;

	queue_url_display(cfg->redis, shown, sizeof(shown));
	if (envcheck_as(in->agent.name, redis_ok, (void *)(uintptr_t)cfg, why, sizeof(why)) == 0) {
		printf("ok redis: %s answers %s (PING, consumer group %s)\n", shown,
		    in->agent.shown, QUEUE_GROUP);
		return;
	}
	/* A unix socket the user may not use: which group would let it. */
	if (strstr(why, "Permission denied") != NULL && queue_url_parse(cfg->redis, &u) == 0 &&
	    u->is_unix && stat(u->path, &st) == 0) {
		struct group *gr = getgrgid(st.st_gid);
		char g[32];
		snprintf(g, sizeof(g), "%lu", (unsigned long)st.st_gid);
		say_todo(in,
		    "%s; the socket %s is %s: add %s to group %s (adduser %s %s), and make "
		    "sure the socket's mode lets the group in (unixsocketperm 770)",
		    why, u->path, owner_mode(&st, om, sizeof(om)), in->agent.shown,
		    gr != NULL ? gr->gr_name : g, in->agent.shown, gr != NULL ? gr->gr_name : g);
	} else {
		say_todo(in, "%s", why);
	}
	queue_url_free(u);
}

/* --- SoftHSM ------------------------------------------------------------- */

struct softhsm {
	const struct agent_config *cfg;
	char *tokendir, *conf, *envfile, *sopin;
	int dry_run;
};

/* Writes text to path (mode, owner u), without replacing anything. */
static int
write_new(
    struct init *in, const char *path, const char *text, const struct init_user *u, mode_t mode)
{
	size_t len = strlen(text);
	int fd;

	if (in->dry_run) {
		printf("would create %s (%s:%s %04o)\n", path, u->shown, u->group, (unsigned)mode);
		in->todo++;
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd == -1 || write(fd, text, len) != (ssize_t)len || fchown(fd, u->uid, u->gid) != 0 ||
	    fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		say_todo(in, "cannot write %s: %s", path, strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(path);
		}
		return -1;
	}
	close(fd);
	printf("created %s (%s:%s %04o)\n", path, u->shown, u->group, (unsigned)mode);
	return 0;
}

/* A small text file that must hold `line`: written when missing. */
static void
ensure_text(struct init *in, const char *what, const char *path, const char *text, const char *line,
    const struct init_user *u, mode_t mode)
{
	char *buf = NULL;
	size_t len = 0;
	int r = read_file(path, INIT_CONF_MAX, &buf, &len);

	if (r == SG_ERR_NOT_FOUND) {
		(void)write_new(in, path, text, u, mode);
		return;
	}
	if (r != 0)
		say_todo(in, "%s: cannot read %s: %s", what, path, sg_strerror(r));
	else if (strstr(buf, line) == NULL)
		say_todo(in, "%s: %s does not say \"%s\"; add that line", what, path, line);
	else
		printf("ok %s: %s says %s\n", what, path, line);
	free(buf);
}

/* Files in the token directory that are not the signer's (a token made as
 * root): the first one found into bad. */
static int
tokens_foreign(const char *dir, uid_t uid, char *bad, size_t len, int depth)
{
	struct dirent *de;
	struct stat st;
	char path[4096];
	DIR *d = opendir(dir);
	size_t n = 0;
	int found = 0;

	if (d == NULL)
		return 0;
	while (!found && n++ < INIT_TOKEN_DIRS_MAX && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
			sizeof(path) ||
		    lstat(path, &st) != 0)
			continue;
		if (st.st_uid != uid) {
			snprintf(bad, len, "%s", path);
			found = 1;
		} else if (S_ISDIR(st.st_mode) && depth > 0) {
			found = tokens_foreign(path, uid, bad, len, depth - 1);
		}
	}
	closedir(d);
	return found;
}

/* The slot holding the token labelled label (padded to 32), or -1. */
static int
find_token(CK_FUNCTION_LIST_PTR f, const char *label, int want_initialized, CK_SLOT_ID *ret)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, i;
	CK_TOKEN_INFO ti;
	char padded[32];
	size_t ll = strlen(label);

	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, ll < sizeof(padded) ? ll : sizeof(padded));
	if (f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return -1;
	for (i = 0; i < n && i < 64; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (want_initialized && (ti.flags & CKF_TOKEN_INITIALIZED) != 0 &&
		    memcmp(ti.label, padded, sizeof(padded)) == 0) {
			*ret = slots[i];
			return 0;
		}
		if (!want_initialized && (ti.flags & CKF_TOKEN_INITIALIZED) == 0) {
			*ret = slots[i];
			return 0;
		}
	}
	return -1;
}

/* A random SO PIN in a new file of this process's user (0600); one left
 * by an earlier run that stopped before the token was made is used again
 * (it must then be INIT_SO_PIN_BYTES * 2 hex digits, owner-only). */
static int
make_so_pin(const char *path, char *hex, char *why, size_t whylen)
{
	uint8_t rnd[INIT_SO_PIN_BYTES];
	char *old = NULL;
	size_t old_len = 0;
	int fd, r;

	if ((r = read_secret_file(path, &old, &old_len)) == 0) {
		r = old_len == INIT_SO_PIN_BYTES * 2 && is_lower_hex(old, old_len) ? 0 : -1;
		if (r == 0)
			memcpy(hex, old, old_len + 1);
		else
			snprintf(why, whylen, "SO PIN file %s: not what this command writes", path);
		freezero(old, old_len + 1);
		return r;
	}
	if (r != SG_ERR_NOT_FOUND) {
		snprintf(why, whylen, "SO PIN file %s: %s", path, sg_strerror(r));
		return -1;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(why, whylen, "getrandom: %s", strerror(errno));
		return -1;
	}
	hex_encode(rnd, sizeof(rnd), hex);
	explicit_bzero(rnd, sizeof(rnd));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1 || write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) ||
	    write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		snprintf(why, whylen, "SO PIN file %s: %s", path, strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(path);
		}
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * As the signer's user: the token labelled pkcs11.token in the SoftHSM of
 * sh->conf, made when there is none (C_InitToken with a new random SO
 * PIN, then C_InitPIN with the PIN file's PIN).  why says what was found
 * or done, or what failed.
 */
static int
softhsm_token(void *arg, char *why, size_t whylen)
{
	const struct softhsm *sh = arg;
	const struct agent_config *cfg = sh->cfg;
	CK_FUNCTION_LIST_PTR f = NULL;
	CK_C_GetFunctionList gfl;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_SLOT_ID slot = 0;
	CK_UTF8CHAR label[32];
	CK_RV rv = CKR_OK;
	char so[INIT_SO_PIN_BYTES * 2 + 1] = "", rvbuf[32], *pin = NULL;
	const char *step = "";
	size_t pin_len = 0, ll = strlen(cfg->pkcs11_token);
	void *dl, *sym;
	int r = -1, initialized = 0;

	if (setenv("SOFTHSM2_CONF", sh->conf, 1) != 0 ||
	    (dl = dlopen(cfg->pkcs11_module, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (sym = dlsym(dl, "C_GetFunctionList")) == NULL) {
		snprintf(why, whylen, "pkcs11.module: cannot load %s", cfg->pkcs11_module);
		return -1;
	}
	memcpy(&gfl, &sym, sizeof(gfl));
	if ((rv = gfl(&f)) != CKR_OK || f == NULL || (rv = f->C_Initialize(NULL)) != CKR_OK) {
		step = "C_Initialize";
		goto out;
	}
	initialized = 1;
	if (find_token(f, cfg->pkcs11_token, 1, &slot) == 0) {
		snprintf(
		    why, whylen, "ok SoftHSM token \"%s\" in %s", cfg->pkcs11_token, sh->tokendir);
		r = 0;
		goto out;
	}
	if (sh->dry_run) {
		snprintf(why, whylen, "would create the SoftHSM token \"%s\" in %s",
		    cfg->pkcs11_token, sh->tokendir);
		r = 0;
		goto out;
	}
	if ((r = read_secret_file(cfg->pkcs11_pin_file, &pin, &pin_len)) != 0) {
		snprintf(
		    why, whylen, "pkcs11.pin_file: %s: %s", cfg->pkcs11_pin_file, sg_strerror(r));
		r = -1;
		goto out;
	}
	r = -1;
	if (find_token(f, cfg->pkcs11_token, 0, &slot) != 0) {
		snprintf(why, whylen, "SoftHSM in %s has no free slot", sh->tokendir);
		goto out;
	}
	if (make_so_pin(sh->sopin, so, why, whylen) != 0)
		goto out;
	memset(label, ' ', sizeof(label));
	memcpy(label, cfg->pkcs11_token, ll < sizeof(label) ? ll : sizeof(label));
	if ((rv = f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so, strlen(so), label)) != CKR_OK) {
		step = "C_InitToken";
		goto out;
	}
	/* SoftHSM gives the new token a slot of its own: look again. */
	(void)f->C_Finalize(NULL);
	if ((rv = f->C_Initialize(NULL)) != CKR_OK) {
		initialized = 0;
		step = "C_Initialize";
		goto out;
	}
	if (find_token(f, cfg->pkcs11_token, 1, &slot) != 0) {
		snprintf(why, whylen, "the token \"%s\" is not there after C_InitToken",
		    cfg->pkcs11_token);
		goto out;
	}
	if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) !=
	    CKR_OK) {
		step = "C_OpenSession";
		goto out;
	}
	if ((rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so, strlen(so))) != CKR_OK) {
		step = "C_Login (SO)";
		goto out;
	}
	if ((rv = f->C_InitPIN(s, (CK_UTF8CHAR_PTR)pin, pin_len)) != CKR_OK) {
		step = "C_InitPIN";
		goto out;
	}
	(void)f->C_Logout(s);
	snprintf(why, whylen,
	    "created the SoftHSM token \"%s\" in %s (user PIN from %s, SO PIN in %s); make its "
	    "keys as this user: runuser -u %s -- env SOFTHSM2_CONF=%s signet-admin key generate "
	    "--module %s --token %s --pin-file %s --label NAME --type ec-p256",
	    cfg->pkcs11_token, sh->tokendir, cfg->pkcs11_pin_file, sh->sopin,
	    cfg->pkcs11_user != NULL ? cfg->pkcs11_user : "root", sh->conf, cfg->pkcs11_module,
	    cfg->pkcs11_token, cfg->pkcs11_pin_file);
	r = 0;
out:
	if (step[0] != '\0')
		snprintf(why, whylen, "SoftHSM token \"%s\": %s: %s", cfg->pkcs11_token, step,
		    hsm_rv_name(rv, rvbuf));
	if (s != CK_INVALID_HANDLE)
		(void)f->C_CloseSession(s);
	if (initialized)
		(void)f->C_Finalize(NULL);
	explicit_bzero(so, sizeof(so));
	if (pin != NULL)
		freezero(pin, pin_len + 1);
	return r;
}

static void
prepare_softhsm(struct init *in)
{
	const struct agent_config *cfg = in->cfg;
	struct softhsm sh = { .cfg = cfg, .dry_run = in->dry_run };
	struct init_user root;
	char *sdir = NULL, *cdir = NULL, *text = NULL, *line = NULL, why[ENVCHECK_WHY_MAX];
	char bad[4096];

	memset(&root, 0, sizeof(root));
	snprintf(root.shown, sizeof(root.shown), "root");
	snprintf(root.group, sizeof(root.group), "root");
	if (path_dir(cfg->pkcs11_journal != NULL ? cfg->pkcs11_journal : cfg->pkcs11_pin_file,
		&sdir) != 0 ||
	    path_dir(in->config_path, &cdir) != 0 ||
	    asprintf(&sh.tokendir, "%s/tokens", sdir) == -1 ||
	    asprintf(&sh.sopin, "%s/softhsm-so-pin", sdir) == -1 ||
	    asprintf(&sh.conf, "%s/softhsm2.conf", cdir) == -1 ||
	    asprintf(&sh.envfile, "%s/environment", cdir) == -1) {
		say_todo(in, "out of memory");
		goto out;
	}
	ensure_dir(in, "SoftHSM tokens", sh.tokendir, &in->signer, 0700);
	if (asprintf(&line, "directories.tokendir = %s", sh.tokendir) == -1 ||
	    asprintf(&text,
		"# SoftHSM for signet-signer (signet-admin init --softhsm): the tokens\n"
		"# belong to %s, which alone opens them.\n"
		"%s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
		in->signer.shown, line) == -1) {
		say_todo(in, "out of memory");
		goto out;
	}
	ensure_text(in, "SoftHSM configuration", sh.conf, text, line, &in->signer, 0644);
	free(line);
	free(text);
	line = text = NULL;
	if (asprintf(&line, "SOFTHSM2_CONF=%s", sh.conf) == -1 ||
	    asprintf(&text,
		"# The service's environment (EnvironmentFile= of signet-agent.service).\n%s\n",
		line) == -1) {
		say_todo(in, "out of memory");
		goto out;
	}
	ensure_text(in, "service environment", sh.envfile, text, line, &root, 0644);
	if (tokens_foreign(sh.tokendir, in->signer.uid, bad, sizeof(bad), 2)) {
		say_todo(in,
		    "SoftHSM tokens: %s is not %s's, who could not open it: chown -R %s: %s", bad,
		    in->signer.shown, in->signer.shown, sh.tokendir);
		goto out;
	}
	if (in->dry_run && (access(sh.tokendir, F_OK) != 0 || access(sh.conf, F_OK) != 0)) {
		printf("would create the SoftHSM token \"%s\" in %s as %s\n", cfg->pkcs11_token,
		    sh.tokendir, in->signer.shown);
		in->todo++;
		goto out;
	}
	if (envcheck_as(in->signer.name, softhsm_token, &sh, why, sizeof(why)) != 0) {
		say_todo(in, "%s", why);
		goto out;
	}
	if (strncmp(why, "would ", 6) == 0)
		in->todo++;
	printf("%s\n", why);
out:
	free(line);
	free(text);
	free(sdir);
	free(cdir);
	free(sh.tokendir);
	free(sh.sopin);
	free(sh.conf);
	free(sh.envfile);
}

int
admin_init_command(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "softhsm", no_argument, NULL, 'S' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_config *cfg = NULL;
	struct init in;
	char err[512] = "", *dir = NULL;
	const char *store_dir;
	int ch, softhsm = 0, r;

	memset(&in, 0, sizeof(in));
	in.config_path = INIT_DEFAULT_CONFIG;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			in.config_path = optarg;
			break;
		case 'S':
			softhsm = 1;
			break;
		case 'n':
			in.dry_run = 1;
			break;
		default:
			return cli_getopt_default(&init_cli, ch, argv);
		}
	}
	if (optind != argc) {
		init_usage(stderr);
		return 2;
	}
	if ((r = config_load_flags(in.config_path, CONFIG_LOAD_NO_FILES, &cfg, err, sizeof(err))) !=
	    0) {
		fprintf(stderr, "signet-admin init: %s: %s\n", in.config_path,
		    err[0] ? err : sg_strerror(r));
		return 2;
	}
	in.cfg = cfg;
	if (user_resolve(cfg->user, &in.agent) != 0 ||
	    user_resolve(cfg->pkcs11_in_process ? cfg->user : cfg->pkcs11_user, &in.signer) != 0) {
		config_free(cfg);
		return 1;
	}
	if (geteuid() != 0 && (cfg->user != NULL || cfg->pkcs11_user != NULL))
		say_todo(&in, "run as root: the checks are made as %s and %s", in.agent.shown,
		    in.signer.shown);
	if ((store_dir = envcheck_store_dir(cfg->store)) != NULL)
		ensure_dir(&in, "store", store_dir, &in.agent, 0750);
	else
		printf("ok store: %s is not a file store; nothing to prepare\n", cfg->store);
	if (path_dir(cfg->audit_log, &dir) == 0)
		ensure_dir(&in, "audit_log", dir, &in.agent, 0750);
	free(dir);
	dir = NULL;
	if (!cfg->pkcs11_in_process && cfg->pkcs11_journal != NULL &&
	    path_dir(cfg->pkcs11_journal, &dir) == 0)
		ensure_dir(&in, "pkcs11.journal", dir, &in.signer, 0700);
	free(dir);
	check_pin(&in);
	if (softhsm)
		prepare_softhsm(&in);
	check_redis(&in);
	config_free(cfg);
	return in.todo > 0 ? 1 : 0;
}
