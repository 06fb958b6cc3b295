/*
 * signet-admin — operator tasks on the HSM host (SPEC §9).  This version:
 *
 *   signet-admin policy check FILE
 *
 * loads FILE as the agent would (every referenced key, certificate, CA
 * bundle and CRL included, the HSM excepted) and lists every problem found
 * with its member path.  Exit status: 0 when there is none, 1 when there is
 * any, 2 for a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "signet_version.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signet-admin policy check FILE\n"
	    "\n"
	    "  policy check FILE   check an agent configuration and its policy; list\n"
	    "                      every problem with its member path (exit 1), or\n"
	    "                      print a summary (exit 0)\n"
	    "  -h, --help          this text\n"
	    "      --version       print the version\n");
}

struct report {
	const char *file;
	size_t n;
};

static void
print_problem(void *arg, const char *problem)
{
	struct report *rep = arg;

	fprintf(stderr, "%s: %s\n", rep->file, problem);
	rep->n++;
}

static int
policy_check(const char *file)
{
	struct agent_config *c = NULL;
	struct report rep = { file, 0 };
	size_t i, pinned = 0, limited = 0;
	int r;

	r = config_load_report(file, &c, print_problem, &rep);
	if (r != 0) {
		if (rep.n == 0)
			fprintf(stderr, "%s: %s\n", file, sg_strerror(r));
		fprintf(stderr, "signet-admin: %s: %zu problem%s\n", file, rep.n ? rep.n : 1,
		    rep.n == 1 ? "" : "s");
		return 1;
	}
	for (i = 0; i < c->nsubmitters; i++)
		pinned += c->submitters[i].pub != NULL;
	for (i = 0; i < c->nkeys; i++)
		limited += c->keys[i].quota_per_hour != 0 || c->keys[i].quota_per_day != 0;
	printf("%s: policy in order: %zu keys (%zu with a quota), %zu submitters (%zu by key, "
	    "%zu by identity), %zu submitter CAs, %zu revoked keyids, %zu revoked serials\n",
	    file, c->nkeys, limited, c->nsubmitters, pinned, c->nsubmitters - pinned, c->ncas,
	    c->nrevoked_keyids, c->nrevoked_serials);
	config_free(c);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("signet-admin %s\n", SIGNET_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind == 3 && strcmp(argv[optind], "policy") == 0 &&
	    strcmp(argv[optind + 1], "check") == 0)
		return policy_check(argv[optind + 2]);
	usage(stderr);
	return 2;
}
