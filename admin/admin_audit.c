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
 *
 * With --signer-journal FILE it also checks the signer's journal (its
 * chain, common/sjournal.h) and that the log accounts for every job
 * signature the journal lists: by the "signature" record that names its
 * journal record (signer_seq), or else, for an attempt that an agent's
 * crash interrupted between its "intent" (or "retry") and the signature
 * record, by that intent: such a signature was never released (results
 * leave only after the signature record), and is counted as an
 * interrupted attempt.  Logs from before signer_seq existed: a signature
 * record of the same job and key.  A signature the signer made for a job
 * the log has no intent for is named.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_audit.h"
#include "auditlog.h"
#include "checkpoint.h"
#include "crypto.h"
#include "json.h"
#include "sgtime.h"
#include "sjournal.h"
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
	fprintf(f,
	    "usage: signet-admin audit verify LOG [--checkpoint FILE]... [--key PEM] "
	    "[--origin NAME] [--signer-journal FILE]\n");
}

/* A sorted set of strings. */
struct strset {
	char **v;
	size_t n, cap;
};

static int strset_add(struct strset *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
strset_add(struct strset *s, const char *fmt, ...)
{
	va_list ap;
	char **nv;
	int r;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		if ((nv = realloc(s->v, cap * sizeof(*nv))) == NULL)
			return SG_ERR_ALLOC;
		s->v = nv;
		s->cap = cap;
	}
	va_start(ap, fmt);
	r = vasprintf(&s->v[s->n], fmt, ap);
	va_end(ap);
	if (r == -1)
		return SG_ERR_ALLOC;
	s->n++;
	return 0;
}

static void
strset_free(struct strset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* What the log says about job signatures. */
struct sigset {
	struct strset seqs;     /* "id key signer_seq" of "signature" records */
	struct strset sigs;     /* "id key" of "signature" records */
	struct strset attempts; /* "id key" of "intent" and "retry" records */
};

static int
collect_signature(void *arg, uint64_t seq, const char *line, size_t len,
    const uint8_t leaf[SHA256_LEN], const cJSON *rec)
{
	struct sigset *s = arg;
	const char *ev, *id, *key;
	size_t evlen, idlen, keylen;
	int64_t sseq = 0;
	int r;

	(void)seq;
	(void)line;
	(void)len;
	(void)leaf;
	if (json_get_string(rec, "event", &ev, &evlen) != 0 ||
	    json_get_string(rec, "id", &id, &idlen) != 0 ||
	    json_get_string(rec, "key", &key, &keylen) != 0)
		return 0;
	if (strcmp(ev, "intent") == 0 || strcmp(ev, "retry") == 0)
		return strset_add(&s->attempts, "%s %s", id, key);
	if (strcmp(ev, "signature") != 0)
		return 0;
	if ((r = strset_add(&s->sigs, "%s %s", id, key)) != 0)
		return r;
	if (json_get_int(rec, "signer_seq", 1, INT64_MAX, &sseq) == 0)
		return strset_add(&s->seqs, "%s %s %lld", id, key, (long long)sseq);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
strset_has(const struct strset *s, const char *want)
{
	return s->n > 0 && bsearch(&want, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

struct journal_check {
	const struct sigset *sigs;
	uint64_t jobs, attest, other, interrupted;
	struct sjournal_rec missing;
	int has_missing;
};

static int
check_journal_record(void *arg, const struct sjournal_rec *rec)
{
	struct journal_check *c = arg;
	char want[SJOURNAL_ID_HEX_LEN + 1 + SJOURNAL_KEY_MAX + 1 + 24];

	if (strcmp(rec->key, SJOURNAL_ATTEST_KEY) == 0) {
		c->attest++;
		return 0;
	}
	if (!rec->has_job) {
		c->other++;
	} else {
		snprintf(want, sizeof(want), "%s %s %llu", rec->job, rec->key,
		    (unsigned long long)rec->seq);
		if (strset_has(&c->sigs->seqs, want)) {
			c->jobs++; /* its own signature record */
			return 0;
		}
		snprintf(want, sizeof(want), "%s %s", rec->job, rec->key);
		if (strset_has(&c->sigs->attempts, want)) {
			c->jobs++;
			c->interrupted++; /* an attempt with no signature record */
			return 0;
		}
		if (strset_has(&c->sigs->sigs, want)) {
			c->jobs++; /* a log from before intents and signer_seq */
			return 0;
		}
		c->missing = *rec;
		c->has_missing = 1;
		return 1;
	}
	/* A signing key used for no job: nothing in the log can account for it. */
	c->missing = *rec;
	c->has_missing = 1;
	return 1;
}

/* 0 when every job signature of the journal is in the log, 1 when one is
 * not or the journal is damaged, 2 when it cannot be read. */
static int
verify_journal(const char *log, const char *journal)
{
	struct sigset sigs;
	struct journal_check c;
	struct auditlog_state *st = NULL;
	uint8_t last[SHA256_LEN];
	char why[256] = "", when[SGTIME_LEN + 1];
	uint64_t count = 0;
	int fd = -1, r, status = 1;

	memset(&c, 0, sizeof(c));
	memset(&sigs, 0, sizeof(sigs));
	if ((st = malloc(sizeof(*st))) == NULL)
		goto out;
	r = auditlog_scan_file(log, collect_signature, &sigs, NULL, 0, NULL, st);
	if (r != 0)
		goto out;
	qsort(sigs.seqs.v, sigs.seqs.n, sizeof(*sigs.seqs.v), cmp_str);
	qsort(sigs.sigs.v, sigs.sigs.n, sizeof(*sigs.sigs.v), cmp_str);
	qsort(sigs.attempts.v, sigs.attempts.n, sizeof(*sigs.attempts.v), cmp_str);
	if ((fd = open(journal, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "signet-admin: audit verify: signer journal %s: cannot read it\n",
		    journal);
		status = 2;
		goto out;
	}
	c.sigs = &sigs;
	r = sjournal_scan(fd, check_journal_record, &c, &count, last, why, sizeof(why));
	if (r != 0 && !c.has_missing) {
		printf("signer journal %s: %s\n", journal, why[0] ? why : sg_strerror(r));
		goto out;
	}
	if (c.has_missing) {
		sgtime_format(c.missing.time, when);
		printf(
		    "signer journal %s: record %llu (key %s, job %s, %s) has no signature record "
		    "and no intent in the audit log: the signer made a signature that %s does not "
		    "account for\n",
		    journal, (unsigned long long)c.missing.seq, c.missing.key,
		    c.missing.has_job ? c.missing.job : "none", when, log);
		goto out;
	}
	printf("signer journal %s: %llu records: %llu job signatures, each in the audit log",
	    journal, (unsigned long long)count, (unsigned long long)c.jobs);
	if (c.interrupted > 0)
		printf(" (%llu of them interrupted attempts, never released: an intent or retry "
		       "without its signature record)",
		    (unsigned long long)c.interrupted);
	printf("; %llu attestations\n", (unsigned long long)c.attest);
	status = 0;
out:
	if (fd >= 0)
		close(fd);
	strset_free(&sigs.seqs);
	strset_free(&sigs.sigs);
	strset_free(&sigs.attempts);
	free(st);
	return status;
}

static int
audit_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "checkpoint", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'k' },
		{ "origin", required_argument, NULL, 'O' },
		{ "signer-journal", required_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	struct cp_file *cps = NULL;
	struct auditlog_state *st = NULL;
	uint64_t *sizes = NULL;
	uint8_t(*roots)[SHA256_LEN] = NULL, root[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	const char *log = NULL, *key = NULL, *origin = NULL, *journal = NULL;
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
				fprintf(stderr,
				    "signet-admin: audit verify: at most %d checkpoints\n",
				    AUDIT_CHECKPOINTS_MAX);
				status = 2;
				goto out;
			}
			cps[ncps++].path = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'O':
			origin = optarg;
			break;
		case 'J':
			journal = optarg;
			break;
		default:
			audit_usage(stderr);
			status = 2;
			goto out;
		}
	}
	if (argc - optind != 1 || (ncps > 0 && key == NULL)) {
		audit_usage(stderr);
		if (ncps > 0 && key == NULL)
			fprintf(stderr,
			    "signet-admin: audit verify: checkpoints need --key, the "
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
			fprintf(stderr, "signet-admin: audit verify: checkpoint %s: %s\n",
			    cps[i].path, sg_strerror(r));
			status = 2;
			goto out;
		}
		r = checkpoint_open(buf, len, pub, NULL, origin, &cps[i].cp);
		free(buf);
		if (r != 0) {
			printf("checkpoint %s: %s\n", cps[i].path,
			    r == SG_ERR_VERIFY   ? "FORGED: not signed by the attestation key"
				: origin != NULL ? "not a checkpoint of this origin"
						 : "not a valid checkpoint");
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
			       "signed: the log was forked\n",
			    cps[i - 1].path, cps[i].path, (unsigned long long)cps[i].cp.size);
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
		       "records; the agent sets them aside at its next start)\n",
		    log, (unsigned long long)st->torn_len, (unsigned long long)st->records);
	/* Smallest first: the first mismatch bounds where the damage is. */
	for (i = 0; i < ncps; i++) {
		if (cps[i].cp.size > st->records) {
			printf("checkpoint %s: signs %llu records but the log has %llu: records "
			       "%llu to %llu are missing (the log was cut back)\n",
			    cps[i].path, (unsigned long long)cps[i].cp.size,
			    (unsigned long long)st->records, (unsigned long long)st->records + 1,
			    (unsigned long long)cps[i].cp.size);
			goto out;
		}
		if (memcmp(roots[i], cps[i].cp.root, SHA256_LEN) != 0) {
			printf(
			    "checkpoint %s: the log's first %llu records do not match it: a record "
			    "from %llu to %llu was altered, removed or reordered (and the records "
			    "after "
			    "it rewritten to hide it)\n",
			    cps[i].path, (unsigned long long)cps[i].cp.size,
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
		       "records)",
		    matched, matched == 1 ? "" : "s", cps[0].cp.origin,
		    (unsigned long long)cps[ncps - 1].cp.size);
	printf("\n");
	if (matched > 0 && cps[ncps - 1].cp.size < st->records)
		printf("%s: records %llu to %llu are not covered by a checkpoint yet\n", log,
		    (unsigned long long)cps[ncps - 1].cp.size + 1, (unsigned long long)st->records);
	status = journal != NULL ? verify_journal(log, journal) : 0;
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
