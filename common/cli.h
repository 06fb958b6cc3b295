/*
 * cli.h — what the commands (submit-job, signet-verify, signet-agent,
 * signet-admin) do alike with their arguments: one-line messages on
 * stderr, --help and --version, usage errors with exit status 2, a single
 * operand, and environment variables that stand in for options.  For the
 * commands only: library code neither prints nor exits.
 */
#ifndef SG_CLI_H
#define SG_CLI_H

#include <stdarg.h>
#include <stdio.h>

/* The exit status of a usage error, the same for every command. */
#define CLI_EXIT_USAGE 2

/* What getopt_long() returns for --help and --version.  --version has no
 * short form: 'V' stays out of every optstring. */
#define CLI_OPT_HELP    'h'
#define CLI_OPT_VERSION 'V'

/* A command, as these functions need it. */
struct cli {
	const char *prog;       /* the prefix of its messages; what --version
	                            prints before the version */
	void (*usage)(FILE *f); /* writes the --help text to f */
	int getopt_reports;     /* 1: opterr is left on, so getopt_long() has
	                            named a bad option already and the usage
	                            text follows on stderr; 0: opterr is 0 and
	                            the optstring begins with ':', and one line
	                            names the problem */
};

/* One line "<prog>: <text>" on stderr. */
void cli_msg(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_vmsg(const char *prog, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * The end of a command's getopt_long() switch: c is a value that none of
 * its own cases took.  CLI_OPT_HELP writes the usage text to stdout and
 * CLI_OPT_VERSION "<prog> <version>", and both return 0 (the command
 * exits with it).  Anything else is a usage error, reported as
 * cli->getopt_reports says ("option -x needs a value (see --help)" for
 * ':', "unknown option -x (see --help)" otherwise, with the option taken
 * from argv[optind - 1]); returns CLI_EXIT_USAGE.
 */
int cli_getopt_default(const struct cli *cli, int c, char *const argv[]);

/*
 * After the options: the one operand, argv[optind].  Otherwise "missing
 * NAME (see --help)" or "exactly one NAME expected (see --help)", with
 * name as NAME, and NULL: a usage error (CLI_EXIT_USAGE).
 */
char *cli_one_operand(const struct cli *cli, int argc, char *const argv[], const char *name);

/* opt when given, else the environment variable var when it is set and not
 * empty (an empty variable counts as unset), else NULL.  The result is
 * borrowed from argv or the environment. */
const char *cli_opt_or_env(const char *opt, const char *var);

#endif
