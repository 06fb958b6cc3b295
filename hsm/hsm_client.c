/*
 * hsm_client.c — the agent's side of signer_proto.h.
 *
 * Channels: one SOCK_SEQPACKET socketpair per HSM session, each served by
 * its own signer thread and PKCS#11 session, which answers its requests one
 * at a time and in order.  hsm_client_sign() sends its SIGN on the channel
 * with the fewest requests in flight (at most CHAN_DEPTH; it waits on
 * `cond` while every channel is that full) and takes a ticket; the
 * responses come back in ticket order, so the caller whose ticket is next
 * reads the next response itself, and the others wait on the channel's
 * `turn`.  The signer thread thus finds the next request waiting when it
 * has answered one, instead of sleeping until it is sent
 * (docs/performance.md).  A channel is freed when the last caller on it
 * and the pool have let it go (`refs`).
 *
 * Generations: every start of the signer gets a new generation number and
 * new channels.  A channel remembers its generation; one given back from
 * an older generation is closed, never pooled.  When a request fails in
 * transport (send error, end of file, reset, SO_RCVTIMEO) or the response
 * breaks the protocol, the channel is dead (the requests still on it fail)
 * and so is its generation (`up` = 0; the pool lets its channels go;
 * threads waiting for a channel wake up), and that caller returns
 * SG_ERR_HSM_UNAVAILABLE; the keeper starts the signer again.
 * Every start is done by the keeper thread (`restarting`; callers that need
 * a channel wait on `cond`): it kills (SIGKILL) and reaps the old signer,
 * starts a new one and runs the OPEN handshake; the new signer must report
 * the same keys, mechanisms and public keys as the first, or it is
 * refused.  When the restart fails, callers get SG_ERR_HSM_UNAVAILABLE at
 * once until `next_try`; each further failure doubles the wait, up to
 * RESTART_BACKOFF_MAX_MS.  A success resets it.  A lost token is not a
 * reason to restart: the signer opens PKCS#11 again by itself.
 *
 * After hsm_client_no_restart() (the agent dropped the rights the signer
 * needs: a signer started now could not read the PIN) a dead signer is
 * final: `lost` is set and every call fails with SG_ERR_HSM_UNAVAILABLE;
 * the agent sees hsm_client_lost() and exits, for the service manager to
 * start both again.
 *
 * Starting: posix_spawn (fork+exec in one; never fork alone in a threaded
 * process) of the configured absolute path, argv {"signet-signer", "-c",
 * the configuration file}, the
 * agent's environment (SOFTHSM2_CONF and the like), an empty signal mask,
 * default dispositions, its own process group (terminal signals are for
 * the agent), stdin/stdout on /dev/null, stderr shared, the child ends of
 * the socketpairs on fds 3.., every other fd closed.  The signer is reaped
 * here: at restart (after SIGKILL) and at close (after end of file, with
 * SIGKILL if it does not go within CLOSE_WAIT_MS).  Its pid is only
 * signalled while not yet reaped, so it cannot have been reused.
 *
 * Nothing but the configuration file's path goes to the signer, which
 * reads the module, token, PIN file and keys from it; this file has no
 * call that could read the PIN (tests/unit/test_hsm_signer.c checks that
 * with --wrap).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "hsm_client.h"
#include "log.h"
#include "signer_proto.h"
#include "util.h"

#define RESTART_BACKOFF_MIN_MS 250   /* wait after the first failed restart */
#define RESTART_BACKOFF_MAX_MS 30000 /* longest wait between restarts */
#define CLOSE_WAIT_MS          2000  /* how long a closing signer may take to exit */
#define CLOSE_POLL_MS          5
#define SIGNER_KEYS_MAX        4096 /* keys one signer may hold (signer.c agrees) */

extern char **environ;

#define CHAN_DEPTH 4 /* requests in flight on one channel at most */

struct chan {
	int fd;
	uint64_t gen;
	/* Under the client's lock: */
	unsigned refs;       /* the pool's, while in it, and each caller's */
	uint64_t sent;       /* requests sent on it (the last ticket) */
	uint64_t answered;   /* responses read */
	int dead;            /* broken: the requests still on it fail */
	pthread_cond_t turn; /* answered or dead changed */
};

struct hsm_client {
	/* The configuration, copied for restarts. */
	char *signer, *signer_config;
	unsigned sessions;
	struct hsm_key_spec *keys;
	size_t nkeys;
	/* From the first start; a restart must agree. */
	EVP_PKEY **pub;
	enum sg_mech *mech;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* a channel came back, `up` or `restarting` changed */
	int has_lock, has_cond;
	/* Under lock: */
	pid_t pid;      /* running signer, not yet reaped; 0 if none */
	uint64_t gen;   /* generation of the current channels */
	int up;         /* the current generation is usable */
	int restarting; /* a (re)start is asked for or running: wait for it */
	int no_restart; /* hsm_client_no_restart() was called */
	int lost;       /* the signer died after no_restart: final */
	int want_start; /* the keeper's order */
	int stop;       /* the keeper's order to end */
	int last_r;     /* result of the last (re)start, and its reason */
	char last_why[SP_REASON_MAX];
	pthread_cond_t keeper_cond; /* want_start or stop changed */
	pthread_t keeper;
	int has_keeper_cond, has_keeper;
	struct chan *chans[HSM_SESSIONS_MAX]; /* the current generation's */
	unsigned nchans;
	struct timespec next_try; /* no restart before this (CLOCK_MONOTONIC) */
	unsigned backoff_ms;
};

static void
now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void
ts_add_ms(struct timespec *ts, unsigned ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits for pid; SIGKILL first if kill_it, or after CLOSE_WAIT_MS. */
static void
reap(pid_t pid, int kill_it)
{
	int status = 0, waited = 0;
	pid_t w;
	struct timespec ts = { 0, CLOSE_POLL_MS * 1000000L };

	if (pid <= 0)
		return;
	if (kill_it)
		kill(pid, SIGKILL);
	for (;;) {
		w = waitpid(pid, &status, kill_it ? 0 : WNOHANG);
		if (w == pid || (w == -1 && errno != EINTR))
			break;
		if (w == 0) {
			if (waited >= CLOSE_WAIT_MS) {
				kill(pid, SIGKILL);
				kill_it = 1;
				continue;
			}
			nanosleep(&ts, NULL);
			waited += CLOSE_POLL_MS;
		}
	}
	if (w == pid)
		log_debug("signer %ld: %s %d", (long)pid,
		    WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status)         ? WEXITSTATUS(status)
			: WIFSIGNALED(status) ? WTERMSIG(status)
					      : -1);
}

static void
close_fds(int *fds, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Starts the signer with n channels.  On success *ret_pid and fds[0..n-1]
 * (our ends, O_CLOEXEC) are set.  SG_ERR_HSM_UNAVAILABLE, SG_ERR_SYSTEM.
 */
static int
spawn_signer(const struct hsm_client *c, pid_t *ret_pid, int *fds, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	int child[HSM_SESSIONS_MAX], sv[2], fd;
	unsigned i, n = c->sessions;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int has_fa = 0, has_attr = 0, e;
	sigset_t none, all;
	char *argv[] = { (char *)(uintptr_t) "signet-signer", (char *)(uintptr_t) "-c",
		c->signer_config, NULL };
	struct timeval tv = { SP_RECV_TIMEOUT_S, 0 };
	pid_t pid = 0;

	for (i = 0; i < n; i++)
		fds[i] = child[i] = -1;
	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
			errbuf_set(errbuf, errlen, "socketpair: %s", strerror(errno));
			r = SG_ERR_SYSTEM;
			goto out;
		}
		fds[i] = sv[0];
		/* Above every fd the child's dup2() calls will write to, so
		 * that none of them overwrites a channel not yet moved. */
		fd = fcntl(sv[1], F_DUPFD_CLOEXEC, SP_CHANNEL_FD0 + HSM_SESSIONS_MAX);
		e = errno;
		close(sv[1]);
		if (fd < 0) {
			errbuf_set(errbuf, errlen, "fcntl(F_DUPFD_CLOEXEC): %s", strerror(e));
			r = SG_ERR_SYSTEM;
			goto out;
		}
		child[i] = fd;
		if (setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
			errbuf_set(errbuf, errlen, "setsockopt(SO_RCVTIMEO): %s", strerror(errno));
			r = SG_ERR_SYSTEM;
			goto out;
		}
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	has_fa = 1;
	if (posix_spawnattr_init(&attr) != 0) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	has_attr = 1;
	sigemptyset(&none);
	sigfillset(&all);
	e = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (e == 0)
		e = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	for (i = 0; i < n && e == 0; i++)
		e = posix_spawn_file_actions_adddup2(&fa, child[i], SP_CHANNEL_FD0 + (int)i);
	if (e == 0)
		e = posix_spawn_file_actions_addclosefrom_np(&fa, SP_CHANNEL_FD0 + (int)n);
	if (e == 0)
		e = posix_spawnattr_setflags(
		    &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	if (e == 0)
		e = posix_spawnattr_setsigmask(&attr, &none);
	if (e == 0)
		e = posix_spawnattr_setsigdefault(&attr, &all);
	if (e == 0)
		e = posix_spawnattr_setpgroup(&attr, 0);
	if (e != 0) {
		errbuf_set(errbuf, errlen, "preparing the signer's start: %s", strerror(e));
		r = SG_ERR_SYSTEM;
		goto out;
	}
	e = posix_spawn(&pid, c->signer, &fa, &attr, argv, environ);
	if (e != 0) {
		errbuf_set(
		    errbuf, errlen, "cannot start signer %.200s: %s", c->signer, strerror(e));
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	*ret_pid = pid;
	r = 0;
out:
	if (has_fa)
		posix_spawn_file_actions_destroy(&fa);
	if (has_attr)
		posix_spawnattr_destroy(&attr);
	close_fds(child, n);
	if (r < 0)
		close_fds(fds, n);
	return r;
}

/* The next response on fd.  0 with *ret_status and the payload (pointing
 * into buf), or SG_ERR_HSM_UNAVAILABLE when the channel is broken
 * (transport failure, timeout, or a response that breaks the protocol). */
static int
recv_response(int fd, uint8_t *buf, int *ret_status, struct sp_rd *ret_payload)
{
	size_t n = 0;
	int r;

	r = sp_recv(fd, buf, &n);
	if (r < 0) {
		log_debug_r(r, "signer channel");
		return SG_ERR_HSM_UNAVAILABLE;
	}
	if (sp_parse_response(buf, n, ret_status, ret_payload) != 0) {
		log_debug("signer: malformed response of %zu bytes", n);
		return SG_ERR_HSM_UNAVAILABLE;
	}
	return 0;
}

/* One request, one response on fd (the handshake, on a channel of its
 * own): as recv_response(). */
static int
roundtrip(int fd, struct sp_wr *w, uint8_t *buf, int *ret_status, struct sp_rd *ret_payload)
{
	if (sp_send(fd, w) != 0)
		return SG_ERR_HSM_UNAVAILABLE;
	return recv_response(fd, buf, ret_status, ret_payload);
}

/* Copies the signer's reason into errbuf, control bytes made '?'. */
static void
copy_reason(struct sp_rd *p, char *errbuf, size_t errlen)
{
	size_t len = p->len - p->off, i;
	const uint8_t *s = sp_get_bytes(p, len);

	if (errbuf == NULL || errlen == 0)
		return;
	if (len > errlen - 1)
		len = errlen - 1;
	for (i = 0; i < len; i++)
		errbuf[i] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
	errbuf[len] = '\0';
}

/*
 * The handshake on a fresh signer: OPEN (the signer opens PKCS#11 from its
 * own configuration and names its keys, which must be ours, in our order),
 * then PUBKEY for each key.  On the first start (c->pub[i] NULL) the keys
 * are stored; on a restart they must be the same.  0, the signer's open
 * error (with its reason), SG_ERR_HSM_UNAVAILABLE.
 */
static int
handshake(struct hsm_client *c, int fd, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL, status = 0;
	struct sp_wr *w = NULL;
	uint8_t *buf = NULL;
	struct sp_rd p;
	EVP_PKEY *pk = NULL;
	const uint8_t *der;
	const unsigned char *q;
	char *name = NULL;
	uint16_t der_len;
	uint32_t nkeys;
	uint8_t mech;
	size_t i;

	w = malloc(sizeof(*w));
	buf = malloc(SP_FRAME_MAX);
	if (w == NULL || buf == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	sp_wr_request(w, SP_MSG_OPEN);
	if (roundtrip(fd, w, buf, &status, &p) != 0)
		goto broken;
	if (status < 0) {
		copy_reason(&p, errbuf, errlen);
		r = status;
		goto out;
	}
	nkeys = sp_get_u32(&p);
	if (p.bad || nkeys != c->nkeys) {
		errbuf_set(errbuf, errlen,
		    "the signer's configuration has %u keys, the agent's %zu: "
		    "both must read the same file",
		    nkeys, c->nkeys);
		r = SG_ERR_CONFIG;
		goto out;
	}
	for (i = 0; i < c->nkeys; i++) {
		mech = sp_get_u8(&p);
		if (sp_get_str(&p, &name) != 0 || name == NULL)
			goto broken;
		if (strcmp(name, c->keys[i].name) != 0 ||
		    (!c->keys[i].mech_from_key && mech != (uint8_t)c->keys[i].mech)) {
			errbuf_set(errbuf, errlen,
			    "the signer's key %zu is %.100s (%s), the agent's "
			    "%.100s: both must read the same configuration",
			    i, name,
			    mech <= SG_MECH_RSA_PSS_SHA256 ? sg_mech_name((enum sg_mech)mech) : "?",
			    c->keys[i].name);
			r = SG_ERR_CONFIG;
			goto out;
		}
		free(name);
		name = NULL;
	}
	if (sp_rd_end(&p) != 0)
		goto broken;
	for (i = 0; i < c->nkeys; i++) {
		sp_wr_request(w, SP_MSG_PUBKEY);
		sp_put_u32(w, (uint32_t)i);
		if (roundtrip(fd, w, buf, &status, &p) != 0)
			goto broken;
		if (status < 0) {
			errbuf_set(
			    errbuf, errlen, "signer: public key %zu: %s", i, sg_strerror(status));
			r = SG_ERR_HSM_UNAVAILABLE;
			goto out;
		}
		mech = sp_get_u8(&p);
		der_len = sp_get_u16(&p);
		der = sp_get_bytes(&p, der_len);
		if (der == NULL || sp_rd_end(&p) != 0 || mech > SG_MECH_RSA_PSS_SHA256)
			goto broken;
		q = der;
		pk = d2i_PUBKEY(NULL, &q, der_len);
		ERR_clear_error();
		if (pk == NULL || q != der + der_len ||
		    !EVP_PKEY_is_a(pk, mech == SG_MECH_ECDSA_SHA256 ? "EC" : "RSA"))
			goto broken;
		if (c->pub[i] == NULL) {
			c->pub[i] = pk;
			c->mech[i] = (enum sg_mech)mech;
			pk = NULL;
		} else if (EVP_PKEY_eq(c->pub[i], pk) != 1 || c->mech[i] != (enum sg_mech)mech) {
			errbuf_set(
			    errbuf, errlen, "restarted signer reports another key %zu; refused", i);
			r = SG_ERR_HSM_UNAVAILABLE;
			goto out;
		}
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	r = 0;
	goto out;
broken:
	errbuf_set(
	    errbuf, errlen, "signer %.200s died or broke the protocol while starting", c->signer);
	r = SG_ERR_HSM_UNAVAILABLE;
out:
	free(name);
	EVP_PKEY_free(pk);
	free(w);
	free(buf);
	ERR_clear_error();
	return r;
}

/* Starts a signer and runs the handshake; on success *ret_pid and fds. */
static int
start(struct hsm_client *c, pid_t *ret_pid, int *fds, char *errbuf, size_t errlen)
{
	pid_t pid = 0;
	int r;

	r = spawn_signer(c, &pid, fds, errbuf, errlen);
	if (r < 0)
		return r;
	r = handshake(c, fds[0], errbuf, errlen);
	if (r < 0) {
		close_fds(fds, c->sessions);
		/* After an open failure it exits by itself; anything else is killed. */
		reap(pid, r == SG_ERR_HSM_UNAVAILABLE);
		return r;
	}
	*ret_pid = pid;
	return 0;
}

/* A channel for fd, with the pool's reference; NULL when out of memory. */
static struct chan *
chan_new(int fd)
{
	struct chan *ch = calloc(1, sizeof(*ch));

	if (ch == NULL)
		return NULL;
	if (pthread_cond_init(&ch->turn, NULL) != 0) {
		free(ch);
		return NULL;
	}
	ch->fd = fd;
	ch->refs = 1;
	return ch;
}

/* Lets one reference to ch go (lock held); the last closes and frees it. */
static void
chan_put(struct chan *ch)
{
	if (--ch->refs > 0)
		return;
	if (ch->fd >= 0)
		close(ch->fd);
	pthread_cond_destroy(&ch->turn);
	free(ch);
}

/* The pool lets every channel go (lock held). */
static void
drop_chans_locked(struct hsm_client *c)
{
	unsigned i;

	for (i = 0; i < c->nchans; i++)
		chan_put(c->chans[i]);
	c->nchans = 0;
}

/*
 * The keeper thread does every (re)start, for a reason of Linux's: the
 * signer's PR_SET_PDEATHSIG fires when the *thread* that started it ends,
 * so the starting thread must live as long as the handle.  It waits for
 * want_start, kills and reaps the old signer, starts a new one and
 * publishes the result (up, or the backoff), clearing `restarting`.
 */
static void *
keeper_main(void *arg)
{
	struct hsm_client *c = arg;
	struct chan *chans[HSM_SESSIONS_MAX];
	int fds[HSM_SESSIONS_MAX];
	char why[SP_REASON_MAX];
	pid_t old, pid;
	unsigned i;
	int r;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && !c->want_start)
			pthread_cond_wait(&c->keeper_cond, &c->lock);
		if (c->stop)
			break;
		c->want_start = 0;
		old = c->pid;
		c->pid = 0;
		pthread_mutex_unlock(&c->lock);
		reap(old, 1);
		why[0] = '\0';
		pid = 0;
		r = start(c, &pid, fds, why, sizeof(why));
		for (i = 0; r == 0 && i < c->sessions; i++) {
			if ((chans[i] = chan_new(fds[i])) == NULL) {
				while (i > 0) {
					chans[--i]->fd = -1; /* closed below, with the rest */
					chan_put(chans[i]);
				}
				close_fds(fds, c->sessions);
				reap(pid, 1);
				snprintf(why, sizeof(why), "out of memory for its channels");
				r = SG_ERR_ALLOC;
			}
		}
		pthread_mutex_lock(&c->lock);
		c->last_r = r;
		memcpy(c->last_why, why, sizeof(why));
		if (r < 0) {
			log_debug_r(r, "starting the signer: %s", why);
			now(&c->next_try);
			ts_add_ms(&c->next_try, c->backoff_ms);
			c->backoff_ms = c->backoff_ms >= RESTART_BACKOFF_MAX_MS / 2
			    ? RESTART_BACKOFF_MAX_MS
			    : c->backoff_ms * 2;
		} else {
			log_debug("signer started as pid %ld", (long)pid);
			c->pid = pid;
			c->gen++;
			for (i = 0; i < c->sessions; i++) {
				chans[i]->gen = c->gen;
				c->chans[i] = chans[i];
			}
			c->nchans = c->sessions;
			c->up = 1;
			c->backoff_ms = RESTART_BACKOFF_MIN_MS;
		}
		c->restarting = 0;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* With lock held: asks the keeper for a (re)start unless one is on. */
static void
ask_start_locked(struct hsm_client *c)
{
	if (c->restarting)
		return;
	c->restarting = 1;
	c->want_start = 1;
	pthread_cond_signal(&c->keeper_cond);
}

/* The pool's channel with the fewest requests in flight, if it has room
 * for one more (lock held); else NULL. */
static struct chan *
least_busy_locked(struct hsm_client *c)
{
	struct chan *best = NULL;
	unsigned i;

	for (i = 0; i < c->nchans; i++) {
		struct chan *ch = c->chans[i];

		if (ch->sent - ch->answered < CHAN_DEPTH &&
		    (best == NULL || ch->sent - ch->answered < best->sent - best->answered))
			best = ch;
	}
	return best;
}

/* ch is broken (lock held): the requests still on it fail, and its
 * generation is dead; the keeper starts the signer again, once. */
static void
broken_locked(struct hsm_client *c, struct chan *ch)
{
	ch->dead = 1;
	pthread_cond_broadcast(&ch->turn);
	if (c->up && ch->gen == c->gen) {
		c->up = 0;
		drop_chans_locked(c);
		now(&c->next_try);
		pthread_cond_broadcast(&c->cond);
		if (c->no_restart)
			c->lost = 1;
		else
			ask_start_locked(c);
	}
}

/*
 * Sends w on a channel of the pool, restarting the signer if it is down and
 * the backoff allows: 0 with a reference to the channel in *ret and the
 * request's ticket, or SG_ERR_HSM_UNAVAILABLE.  The send is made under the
 * lock, so that tickets follow the order of the requests on the channel.
 */
static int
send_request(struct hsm_client *c, struct sp_wr *w, struct chan **ret, uint64_t *ret_ticket)
{
	struct timespec t;
	struct chan *ch;
	int r = SG_ERR_HSM_UNAVAILABLE;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (c->up && (ch = least_busy_locked(c)) != NULL) {
			if (sp_send(ch->fd, w) != 0) {
				broken_locked(c, ch);
				break;
			}
			ch->refs++;
			*ret = ch;
			*ret_ticket = ++ch->sent;
			r = 0;
			break;
		}
		if (c->up || c->restarting) {
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		if (c->no_restart) {
			c->lost = 1;
			break;
		}
		now(&t);
		if (ts_before(&t, &c->next_try))
			break;
		/* Down, and the backoff has passed: restart, and wait for it. */
		ask_start_locked(c);
		while (c->restarting)
			pthread_cond_wait(&c->cond, &c->lock);
		if (!c->up)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/*
 * The response to request `ticket` on ch, once the earlier ones were read:
 * 0 with *ret_status and the payload (pointing into buf): the caller then
 * lets ch go with chan_done(); or SG_ERR_HSM_UNAVAILABLE when the channel
 * is (or turns out) broken: ch is let go here.
 */
static int
read_response(struct hsm_client *c, struct chan *ch, uint64_t ticket, uint8_t *buf, int *ret_status,
    struct sp_rd *ret_payload)
{
	int r;

	pthread_mutex_lock(&c->lock);
	while (!ch->dead && ch->answered + 1 != ticket)
		pthread_cond_wait(&ch->turn, &c->lock);
	if (ch->dead) {
		chan_put(ch);
		pthread_mutex_unlock(&c->lock);
		return SG_ERR_HSM_UNAVAILABLE;
	}
	pthread_mutex_unlock(&c->lock);
	r = recv_response(ch->fd, buf, ret_status, ret_payload);
	pthread_mutex_lock(&c->lock);
	if (r < 0) {
		broken_locked(c, ch);
		chan_put(ch);
	} else {
		ch->answered++;
		pthread_cond_broadcast(&ch->turn);
		pthread_cond_signal(&c->cond); /* room for one more request */
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* The caller is done with ch after read_response(); with bad, the response
 * broke the protocol and the channel is broken. */
static void
chan_done(struct hsm_client *c, struct chan *ch, int bad)
{
	pthread_mutex_lock(&c->lock);
	if (bad)
		broken_locked(c, ch);
	chan_put(ch);
	pthread_mutex_unlock(&c->lock);
}

int
hsm_client_sign(struct hsm_client *c, size_t key_index, const uint8_t *job, const uint8_t *digest,
    size_t digest_len, uint8_t *sig, size_t *ret_sig_len, uint64_t *ret_seq)
{
	int r = SG_ERR_INTERNAL, status = 0;
	struct sp_wr w;
	uint8_t buf[SP_FRAME_MAX];
	struct sp_rd p;
	struct chan *ch = NULL;
	uint64_t seq, ticket = 0;
	size_t len;

	/* Checked here first: the signer exits on a bad request. */
	if (c == NULL || digest == NULL || sig == NULL || ret_sig_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (key_index >= c->nkeys || digest_len != SHA256_LEN)
		return SG_ERR_INVALID_ARGUMENT;
	if (sp_build_sign(&w, (uint32_t)key_index, job, digest, (uint32_t)digest_len) != 0)
		return SG_ERR_INTERNAL;
	if ((r = send_request(c, &w, &ch, &ticket)) < 0)
		return r;
	if ((r = read_response(c, ch, ticket, buf, &status, &p)) < 0)
		return r;
	len = p.len;
	if (status == 0 ? len <= 8 || len - 8 > HSM_SIG_MAX : len != 0) {
		/* Out of step with the signer: the channel cannot be trusted
		 * with the next response either. */
		log_debug("signer: SIGN response with status %d and %zu bytes", status, len);
		chan_done(c, ch, 1);
		return SG_ERR_HSM_UNAVAILABLE;
	}
	/* A lost token is the signer's to recover (it opens PKCS#11 again on
	 * a later request): the channel stays good. */
	chan_done(c, ch, 0);
	if (status < 0)
		return status;
	seq = sp_get_u64(&p);
	len -= 8;
	memcpy(sig, sp_get_bytes(&p, len), len);
	explicit_bzero(buf, sizeof(buf));
	*ret_sig_len = len;
	if (ret_seq != NULL)
		*ret_seq = seq;
	return 0;
}

int
hsm_client_public_key(struct hsm_client *c, size_t key_index, EVP_PKEY **ret)
{
	if (c == NULL || ret == NULL || key_index >= c->nkeys)
		return SG_ERR_INVALID_ARGUMENT;
	if (EVP_PKEY_up_ref(c->pub[key_index]) != 1)
		return SG_ERR_ALLOC;
	*ret = c->pub[key_index];
	return 0;
}

void
hsm_client_no_restart(struct hsm_client *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->no_restart = 1;
	if (!c->up && !c->restarting)
		c->lost = 1;
	pthread_mutex_unlock(&c->lock);
}

int
hsm_client_lost(struct hsm_client *c)
{
	int lost;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	lost = c->lost;
	pthread_mutex_unlock(&c->lock);
	return lost;
}

pid_t
hsm_client_pid(struct hsm_client *c)
{
	pid_t pid;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	pid = c->pid;
	pthread_mutex_unlock(&c->lock);
	return pid;
}

/* A string for the signer: NULL stays NULL; too long is SG_ERR_CONFIG. */
static int
copy_str(const char *s, const char *what, char **ret, char *errbuf, size_t errlen)
{
	*ret = NULL;
	if (s == NULL)
		return 0;
	if (strlen(s) > HSM_SIGNER_STR_MAX) {
		errbuf_set(errbuf, errlen, "%s is over %d bytes, too long for the signer", what,
		    HSM_SIGNER_STR_MAX);
		return SG_ERR_CONFIG;
	}
	if ((*ret = strdup(s)) == NULL)
		return SG_ERR_ALLOC;
	return 0;
}

int
hsm_client_open(const struct hsm_config *cfg, struct hsm_client **ret, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	struct hsm_client *c = NULL;
	size_t k;

	/* What p11_open() would refuse before touching anything, with its
	 * words; the signer checks all of it again. */
	if (cfg == NULL || ret == NULL || cfg->signer == NULL || cfg->signer_config == NULL ||
	    (cfg->nkeys > 0 && cfg->keys == NULL)) {
		errbuf_set(errbuf, errlen, "incomplete HSM configuration");
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (cfg->signer[0] != '/') {
		errbuf_set(errbuf, errlen, "signer path %.200s is not absolute", cfg->signer);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (cfg->signer_config[0] != '/') {
		errbuf_set(errbuf, errlen, "configuration path %.200s is not absolute",
		    cfg->signer_config);
		r = SG_ERR_CONFIG;
		goto out;
	}
	/* posix_spawn() reports a failed exec only where it can use vfork
	 * semantics; ask first, for a clear reason everywhere. */
	if (access(cfg->signer, X_OK) != 0) {
		errbuf_set(
		    errbuf, errlen, "cannot start signer %.200s: %s", cfg->signer, strerror(errno));
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	if (cfg->sessions < 1 || cfg->sessions > HSM_SESSIONS_MAX) {
		errbuf_set(
		    errbuf, errlen, "sessions is %u, not 1 to %d", cfg->sessions, HSM_SESSIONS_MAX);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (cfg->nkeys > SIGNER_KEYS_MAX) {
		errbuf_set(errbuf, errlen, "%zu keys, more than the signer's %d", cfg->nkeys,
		    SIGNER_KEYS_MAX);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	c->sessions = cfg->sessions;
	c->backoff_ms = RESTART_BACKOFF_MIN_MS;
	if ((r = copy_str(cfg->signer, "signer path", &c->signer, errbuf, errlen)) < 0 ||
	    (r = copy_str(
		 cfg->signer_config, "configuration path", &c->signer_config, errbuf, errlen)) < 0)
		goto out;
	if (cfg->nkeys > 0) {
		c->keys = calloc(cfg->nkeys, sizeof(*c->keys));
		c->pub = calloc(cfg->nkeys, sizeof(*c->pub));
		c->mech = calloc(cfg->nkeys, sizeof(*c->mech));
		if (c->keys == NULL || c->pub == NULL || c->mech == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
	}
	c->nkeys = cfg->nkeys;
	for (k = 0; k < cfg->nkeys; k++) {
		char *name = NULL, *uri = NULL;

		r = copy_str(cfg->keys[k].name, "key name", &name, errbuf, errlen);
		if (r == 0 && name == NULL)
			r = SG_ERR_INVALID_ARGUMENT;
		if (r == 0)
			r = copy_str(cfg->keys[k].uri, "key URI", &uri, errbuf, errlen);
		c->keys[k] = cfg->keys[k];
		c->keys[k].name = name;
		c->keys[k].uri = uri;
		if (r < 0)
			goto out;
	}
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	c->has_lock = 1;
	if (pthread_cond_init(&c->cond, NULL) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	c->has_cond = 1;
	if (pthread_cond_init(&c->keeper_cond, NULL) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	c->has_keeper_cond = 1;
	if (pthread_create(&c->keeper, NULL, keeper_main, c) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	c->has_keeper = 1;

	pthread_mutex_lock(&c->lock);
	ask_start_locked(c);
	while (c->restarting)
		pthread_cond_wait(&c->cond, &c->lock);
	r = c->last_r;
	if (r < 0)
		errbuf_set(errbuf, errlen, "%s", c->last_why);
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		goto out;
	log_debug("signer %s: pid %ld, %u channels, %zu keys", c->signer, (long)c->pid, c->sessions,
	    c->nkeys);
	*ret = c;
	c = NULL;
	r = 0;
out:
	hsm_client_close(c);
	return r;
}

void
hsm_client_close(struct hsm_client *c)
{
	size_t k;

	if (c == NULL)
		return;
	if (c->has_keeper) {
		pthread_mutex_lock(&c->lock);
		c->stop = 1;
		pthread_cond_signal(&c->keeper_cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->keeper, NULL);
	}
	/* End of file on every channel: the signer exits by itself.  (No
	 * caller is left: every reference now is the pool's.) */
	if (c->has_lock) {
		pthread_mutex_lock(&c->lock);
		drop_chans_locked(c);
		pthread_mutex_unlock(&c->lock);
	}
	reap(c->pid, 0);
	for (k = 0; k < c->nkeys; k++) {
		if (c->keys != NULL) {
			free((char *)(uintptr_t)c->keys[k].name);
			free((char *)(uintptr_t)c->keys[k].uri);
		}
		if (c->pub != NULL)
			EVP_PKEY_free(c->pub[k]);
	}
	free(c->keys);
	free(c->pub);
	free(c->mech);
	free(c->signer);
	free(c->signer_config);
	if (c->has_cond)
		pthread_cond_destroy(&c->cond);
	if (c->has_keeper_cond)
		pthread_cond_destroy(&c->keeper_cond);
	if (c->has_lock)
		pthread_mutex_destroy(&c->lock);
	explicit_bzero(c, sizeof(*c));
	free(c);
}
