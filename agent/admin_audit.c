/*
 * admin_audit.c — `signet-admin audit verify LOG [--checkpoint FILE]...
 * [--key PEM] [--origin NAME]`.
 *
 * Recomputes the log's Merkle tree record by record (common/auditlog.h:
 * each record's number and the tree head it names for the records before
 * it), verifies every checkpoint's signature with the attestation public
 * key, and checks that each checkpoint is the tree of the log's first
 * <size> records — which makes the checkpoints consistent with each other
 * and with the log.  Names the first record found missing, altered or out
 * of order, or the checkpoint interval a rewritten stretch lies in.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_audit.h"
#include "auditlog.h"
#include "checkpoint.h"
#include "crypto.h"
#include "util.h"

#define AUDIT_CHECKPOINTS_MAX 4096

struct cp_file {
	const char *path;
	struct checkpoint cp;
	uint8_t log_root[SHA256_LEN];
};

static int
cmp_size(const void *a, const void *b)
{
	const struct cp_file *x = a, *y = b;

	return x->cp.size < y->cp.size ? -1 : x->cp.size > y->cp.size;
}

static void
audit_usage(FILE *f)
{
	fprintf(f, "usage: signet-admin audit verify LOG [--checkpoint FILE]... [--key PEM] "
	    "[--origin NAME]\n");
}

static int
audit_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "checkpoint", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'k' },
		{ "origin", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	struct cp_file *cps = NULL;
	struct auditlog_state *st = NULL;
	uint64_t *sizes = NULL;
	uint8_t (*roots)[SHA256_LEN] = NULL, root[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	const char *log = NULL, *key = NULL, *origin = NULL;
	EVP_PKEY *pub = NULL;
	size_t ncps = 0, i, matched = 0;
	int ch, r, status = 1;

	if ((cps = calloc(AUDIT_CHECKPOINTS_MAX, sizeof(*cps))) == NULL ||
	    (st = malloc(sizeof(*st))) == NULL) {
		fprintf(stderr, "signet-admin: out of memory\n");
		goto out;
	}
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			if (ncps == AUDIT_CHECKPOINTS_MAX) {
				fprintf(stderr, "signet-admin: audit verify: at most %d checkpoints\n",
				    AUDIT_CHECKPOINTS_MAX);
				status = 2;
				goto out;
			}
			cps[ncps++].path = optarg;
			break;
		case 'k': key = optarg; break;
		case 'O': origin = optarg; break;
		default:
			audit_usage(stderr);
			status = 2;
			goto out;
		}
	}
	if (argc - optind != 1 || (ncps > 0 && key == NULL)) {
		audit_usage(stderr);
		if (ncps > 0 && key == NULL)
			fprintf(stderr, "signet-admin: audit verify: checkpoints need --key, the "
			    "agent's attestation public key (signet-admin key export)\n");
		status = 2;
		goto out;
	}
	log = argv[optind];
	if (key != NULL && crypto_load_pubkey(key, &pub) != 0) {
		fprintf(stderr, "signet-admin: audit verify: %s: not a readable public key\n", key);
		status = 2;
		goto out;
	}
	/* Every checkpoint must be genuine before it is compared with the log. */
	for (i = 0; i < ncps; i++) {
		char *buf = NULL;
		size_t len = 0;

		if ((r = read_file(cps[i].path, CHECKPOINT_MAX, &buf, &len)) != 0) {
			fprintf(stderr, "signet-admin: audit verify: checkpoint %s: %s\n", cps[i].path,
			    sg_strerror(r));
			status = 2;
			goto out;
		}
		r = checkpoint_open(buf, len, pub, NULL, origin, &cps[i].cp);
		free(buf);
		if (r != 0) {
			printf("checkpoint %s: %s\n", cps[i].path, r == SG_ERR_VERIFY ?
			    "FORGED: not signed by the attestation key" :
			    origin != NULL ? "not a checkpoint of this origin" : "not a valid checkpoint");
			goto out;
		}
		if (i > 0 && strcmp(cps[i].cp.origin, cps[0].cp.origin) != 0) {
			printf("checkpoint %s: origin %s differs from %s's (%s): another log\n",
			    cps[i].path, cps[i].cp.origin, cps[0].path, cps[0].cp.origin);
			goto out;
		}
	}
	qsort(cps, ncps, sizeof(*cps), cmp_size);
	for (i = 1; i < ncps; i++) {
		if (cps[i].cp.size == cps[i - 1].cp.size &&
		    memcmp(cps[i].cp.root, cps[i - 1].cp.root, SHA256_LEN) != 0) {
			printf("checkpoints %s and %s: two different trees of %llu records, both "
			    "signed: the log was forked\n", cps[i - 1].path, cps[i].path,
			    (unsigned long long)cps[i].cp.size);
			goto out;
		}
	}
	if ((sizes = calloc(ncps + 1, sizeof(*sizes))) == NULL ||
	    (roots = calloc(ncps + 1, sizeof(*roots))) == NULL) {
		fprintf(stderr, "signet-admin: out of memory\n");
		goto out;
	}
	for (i = 0; i < ncps; i++)
		sizes[i] = cps[i].cp.size;
	r = auditlog_scan_file(log, NULL, NULL, sizes, ncps, roots, st);
	if (r == SG_ERR_SYSTEM) {
		fprintf(stderr, "signet-admin: audit verify: %s: cannot read it\n", log);
		status = 2;
		goto out;
	}
	if (r != 0 && r != SG_ERR_VERIFY) {
		fprintf(stderr, "signet-admin: audit verify: %s: %s\n", log, sg_strerror(r));
		goto out;
	}
	if (r == SG_ERR_VERIFY) {
		printf("%s: %s (line %llu)\n", log, st->problem, (unsigned long long)st->bad_line);
		goto out;
	}
	if (st->torn_len > 0)
		printf("%s: warning: %llu bytes after record %llu are an unfinished append (not "
		    "records; the agent sets them aside at its next start)\n", log,
		    (unsigned long long)st->torn_len, (unsigned long long)st->records);
	/* Smallest first: the first mismatch bounds where the damage is. */
	for (i = 0; i < ncps; i++) {
		if (cps[i].cp.size > st->records) {
			printf("checkpoint %s: signs %llu records but the log has %llu: records "
			    "%llu to %llu are missing (the log was cut back)\n", cps[i].path,
			    (unsigned long long)cps[i].cp.size, (unsigned long long)st->records,
			    (unsigned long long)st->records + 1, (unsigned long long)cps[i].cp.size);
			goto out;
		}
		if (memcmp(roots[i], cps[i].cp.root, SHA256_LEN) != 0) {
			printf("checkpoint %s: the log's first %llu records do not match it: a record "
			    "from %llu to %llu was altered, removed or reordered (and the records after "
			    "it rewritten to hide it)\n", cps[i].path, (unsigned long long)cps[i].cp.size,
			    (unsigned long long)(i > 0 ? cps[i - 1].cp.size + 1 : 1),
			    (unsigned long long)cps[i].cp.size);
			goto out;
		}
		matched++;
	}
	merkle_root(&st->tree, root);
	hex_encode(root, SHA256_LEN, hex);
	printf("%s: %llu records, tree head %s", log, (unsigned long long)st->records, hex);
	if (matched > 0)
		printf("; %zu checkpoint%s of %s verified and consistent (the largest signs %llu "
		    "records)", matched, matched == 1 ? "" : "s", cps[0].cp.origin,
		    (unsigned long long)cps[ncps - 1].cp.size);
	printf("\n");
	if (matched > 0 && cps[ncps - 1].cp.size < st->records)
		printf("%s: records %llu to %llu are not covered by a checkpoint yet\n", log,
		    (unsigned long long)cps[ncps - 1].cp.size + 1, (unsigned long long)st->records);
	status = 0;
 out:
	EVP_PKEY_free(pub);
	free(sizes);
	free(roots);
	free(st);
	free(cps);
	return status;
}

int
admin_audit_command(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "verify") == 0)
		return audit_verify(argc, argv);
	audit_usage(stderr);
	return 2;
}
