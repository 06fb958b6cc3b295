/*
 * softhsm.h — one SoftHSMv2 token in a temporary directory, for the unit
 * tests that sign with a real token (test_hsm, test_hsm_signer).
 *
 * main() calls softhsm_init() before test_run(): it makes the directory,
 * writes a softhsm2.conf whose token directory is inside it, points
 * SOFTHSM2_CONF at it (Check's test processes inherit the environment, so
 * each loads SoftHSM afresh with it), initializes a token with
 * softhsm2-util and writes the user PIN file.  Keys are then generated
 * with pkcs11-tool (softhsm_keygen()) or shaped with any other
 * pkcs11-tool command (softhsm_tool()).  softhsm_cleanup() removes it all;
 * call it on every exit of main().
 *
 * The PIN protects nothing here: it is passed to the tools on their
 * command line and never printed.  A missing tool is a failure (-1, with
 * the reason on stderr), never a skip.
 */
#ifndef SG_TEST_SOFTHSM_H
#define SG_TEST_SOFTHSM_H

#include <limits.h>
#include <sys/types.h>

#ifndef SOFTHSM_MODULE
#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

struct softhsm {
	char *dir;               /* the temporary directory; NULL until made */
	char conf[PATH_MAX];     /* dir/softhsm2.conf, SOFTHSM2_CONF */
	char pin_file[PATH_MAX]; /* dir/pin: the user PIN and "\n", 0600 */
	const char *label;       /* the token's label (borrowed) */
	const char *pin;         /* user and SO PIN (borrowed) */
};

/*
 * Sets up t: the directory (tmpdir_new(NULL, name)), softhsm2.conf and
 * SOFTHSM2_CONF, a token `label` whose user and SO PINs are both `pin`,
 * and t->pin_file.  label and pin are borrowed for t's lifetime.  0, or -1
 * with a message on stderr (call softhsm_cleanup() all the same).
 */
int softhsm_init(struct softhsm *t, const char *name, const char *label, const char *pin);

/* Writes the file dir/name holding pin and a newline, with exactly `mode`;
 * its path goes to ret_path (PATH_MAX bytes).  0, or -1 with a message. */
int softhsm_pin_file(const struct softhsm *t, const char *name, const char *pin, mode_t mode,
    char ret_path[PATH_MAX]);

/*
 * pkcs11-tool --module SOFTHSM_MODULE --login --pin PIN --token-label LABEL
 * followed by args (NULL-terminated, at most SOFTHSM_TOOL_ARGS_MAX), its
 * stdout discarded.  0 if it exits 0, -1 otherwise (with a message).
 */
#define SOFTHSM_TOOL_ARGS_MAX 16
int softhsm_tool(const struct softhsm *t, const char *const args[]);

/* A key pair (pkcs11-tool --keypairgen --key-type TYPE --id ID --label
 * LABEL --usage-sign, and --extractable if asked): "EC:prime256v1",
 * "rsa:3072", ...  0 or -1 as softhsm_tool(). */
int softhsm_keygen(
    const struct softhsm *t, const char *type, const char *id, const char *label, int extractable);

/* Removes the directory and everything in it; t can be set up again.
 * Never fails; a directory that is not yet made is a no-op. */
void softhsm_cleanup(struct softhsm *t);

#endif /* SG_TEST_SOFTHSM_H */
