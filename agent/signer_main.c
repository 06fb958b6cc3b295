/*
 * signet-signer — the key holder (hsm/signer.h, docs/security.md).
 *
 *     signet-signer -c CONFIG
 *
 * signet-agent starts it before it reads anything hostile and before it
 * drops to its configured `user`, with the channels on fds 3...; it reads
 * the PKCS#11 module, token, PIN file, keys and journal from CONFIG, the
 * agent's own configuration file, itself.  Run as root, it refuses a
 * configuration file that is not root's or that others may write: that
 * file decides which module runs with the rights to read the PIN.  With
 * `pkcs11.user` it then becomes that user (before it loads the module or
 * reads the PIN), so that the module never runs as root.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "signer.h"
#include "signer_proto.h"

/*
 * Becomes `name` when run as root (groups, gid, uid; no way back; no new
 * privileges), else checks that it already is that user.  The parent-death
 * signal, which a change of credentials clears, is set again.
 */
static pid_t parent; /* the agent, as it was when we started */

static int
become(const char *name)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		log_error("pkcs11.user: no user %s", name);
		return -1;
	}
	if (geteuid() != 0) {
		if (pw->pw_uid == geteuid())
			return 0;
		log_error("pkcs11.user: switching to %s needs the signer to start as root", name);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0 || setuid(0) == 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0) {
		log_error("pkcs11.user: cannot become %s: %s", name, strerror(errno));
		return -1;
	}
	/* The agent may have gone while the credentials changed. */
	if (getppid() != parent) {
		log_error("the agent went away while the signer started");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	struct hsm_key_spec *specs = NULL;
	struct hsm_config hc;
	struct signer_opts o;
	struct stat st;
	char err[512] = "";
	size_t n = 0, attest = 0;
	int r;

	parent = getppid();
	log_init("signet-signer", LOG_LEVEL_INFO, LOG_FORMAT_PLAIN);
	signer_harden();
	if (argc != 3 || strcmp(argv[1], "-c") != 0 || argv[2][0] != '/') {
		log_error(
		    "usage: signet-signer -c /absolute/path/agent.json (signet-agent starts it)");
		return SP_EXIT_PROTOCOL;
	}
	if (geteuid() == 0) {
		if (stat(argv[2], &st) != 0) {
			log_error("%s: %s", argv[2], strerror(errno));
			return SP_EXIT_SYSTEM;
		}
		if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
			log_error(
			    "%s: run as root, the signer reads only a configuration that root owns "
			    "and only root may write (it names the module that reads the PIN)",
			    argv[2]);
			return SP_EXIT_SYSTEM;
		}
	}
	r = config_load_flags(argv[2], CONFIG_LOAD_NO_FILES, &cfg, err, sizeof(err));
	if (r != 0) {
		log_error("%s: %s", argv[2], err[0] ? err : sg_strerror(r));
		return SP_EXIT_SYSTEM;
	}
	if (cfg->pkcs11_in_process) {
		log_error("%s: pkcs11.isolation is \"none\": there is no signer to run", argv[2]);
		return SP_EXIT_SYSTEM;
	}
	if (cfg->pkcs11_user != NULL && become(cfg->pkcs11_user) != 0)
		return SP_EXIT_SYSTEM;
	if (config_hsm_keys(cfg, &specs, &n, &attest) != 0) {
		log_error("out of memory");
		return SP_EXIT_SYSTEM;
	}
	memset(&hc, 0, sizeof(hc));
	hc.module = cfg->pkcs11_module;
	hc.token = cfg->pkcs11_token;
	hc.pin_file = cfg->pkcs11_pin_file;
	hc.sessions = cfg->pkcs11_sessions;
	hc.keys = specs;
	hc.nkeys = n;
	o.hsm = &hc;
	o.attest_index = attest;
	o.journal = cfg->pkcs11_journal;
	signer_serve(&o);
}
