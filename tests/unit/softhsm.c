/*
 * softhsm.c — see softhsm.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "softhsm.h"
#include "testlib.h"

extern char **environ;

/* Runs argv (searched in PATH) with stdout to /dev/null; 0 if it exits 0. */
static int
run(const char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = 0, r;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	/* posix_spawnp() takes char *const argv[]; it does not modify them. */
	r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)(uintptr_t)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		fprintf(stderr, "%s: cannot run %s: %s\n", program_invocation_short_name, argv[0],
		    strerror(r));
		return -1;
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s: %s %s failed (status %d)\n", program_invocation_short_name,
		    argv[0], argv[1], status);
		return -1;
	}
	return 0;
}

int
softhsm_init(struct softhsm *t, const char *name, const char *label, const char *pin)
{
	char path[PATH_MAX], conf[PATH_MAX * 2];
	const char *init[] = { "softhsm2-util", "--init-token", "--free", "--label", label,
		"--so-pin", pin, "--pin", pin, NULL };

	memset(t, 0, sizeof(*t));
	t->label = label;
	t->pin = pin;
	if ((t->dir = tmpdir_new(NULL, name)) == NULL) {
		fprintf(stderr, "%s: cannot make a temporary directory: %s\n",
		    program_invocation_short_name, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/tokens", t->dir);
	snprintf(t->conf, sizeof(t->conf), "%s/softhsm2.conf", t->dir);
	snprintf(conf, sizeof(conf),
	    "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", path);
	if (mkdir(path, 0700) != 0 || write_text(t->conf, conf, 0600) != 0 ||
	    setenv("SOFTHSM2_CONF", t->conf, 1) != 0) {
		fprintf(stderr, "%s: cannot write the SoftHSM configuration in %s: %s\n",
		    program_invocation_short_name, t->dir, strerror(errno));
		return -1;
	}
	if (softhsm_pin_file(t, "pin", pin, 0600, t->pin_file) != 0)
		return -1;
	return run(init);
}

int
softhsm_pin_file(const struct softhsm *t, const char *name, const char *pin, mode_t mode,
    char ret_path[PATH_MAX])
{
	char path[PATH_MAX], text[256];

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	snprintf(text, sizeof(text), "%s\n", pin);
	if (write_text(path, text, mode) != 0) {
		fprintf(stderr, "%s: cannot write %s: %s\n", program_invocation_short_name, path,
		    strerror(errno));
		return -1;
	}
	memcpy(ret_path, path, sizeof(path));
	return 0;
}

int
softhsm_tool(const struct softhsm *t, const char *const args[])
{
	const char *argv[8 + SOFTHSM_TOOL_ARGS_MAX + 1] = { "pkcs11-tool", "--module",
		SOFTHSM_MODULE, "--login", "--pin", t->pin, "--token-label", t->label };
	size_t n = 8, i;

	for (i = 0; args[i] != NULL; i++) {
		if (i == SOFTHSM_TOOL_ARGS_MAX) {
			fprintf(stderr, "%s: pkcs11-tool: more than %d arguments\n",
			    program_invocation_short_name, SOFTHSM_TOOL_ARGS_MAX);
			return -1;
		}
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return run(argv);
}

int
softhsm_keygen(
    const struct softhsm *t, const char *type, const char *id, const char *label, int extractable)
{
	const char *args[] = { "--keypairgen", "--key-type", type, "--id", id, "--label", label,
		"--usage-sign", extractable ? "--extractable" : NULL, NULL };

	return softhsm_tool(t, args);
}

void
softhsm_cleanup(struct softhsm *t)
{
	(void)tmpdir_free(t->dir);
	t->dir = NULL;
}
