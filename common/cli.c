/*
 * cli.c — argument handling that the commands share (see cli.h).
 */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "signet_version.h"

void
cli_vmsg(const char *prog, const char *fmt, va_list ap)
{
	fputs(prog, stderr);
	fputs(": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_msg(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(prog, fmt, ap);
	va_end(ap);
}

int
cli_getopt_default(const struct cli *cli, int c, char *const argv[])
{
	switch (c) {
	case CLI_OPT_HELP:
		cli->usage(stdout);
		return 0;
	case CLI_OPT_VERSION:
		printf("%s %s\n", cli->prog, SIGNET_VERSION);
		return 0;
	}
	if (cli->getopt_reports)
		cli->usage(stderr);
	else if (c == ':')
		cli_msg(cli->prog, "option %s needs a value (see --help)", argv[optind - 1]);
	else
		cli_msg(cli->prog, "unknown option %s (see --help)", argv[optind - 1]);
	return CLI_EXIT_USAGE;
}

char *
cli_one_operand(const struct cli *cli, int argc, char *const argv[], const char *name)
{
	if (argc - optind == 1)
		return argv[optind];
	if (argc - optind < 1)
		cli_msg(cli->prog, "missing %s (see --help)", name);
	else
		cli_msg(cli->prog, "exactly one %s expected (see --help)", name);
	return NULL;
}

const char *
cli_opt_or_env(const char *opt, const char *var)
{
	const char *v;

	if (opt != NULL)
		return opt;
	v = getenv(var);
	return v != NULL && *v != '\0' ? v : NULL;
}
