/*
 * test_audit.c — agent/audit.c, the writer of the agent's Merkle tree
 * audit log (docs/audit.md); common/auditlog.c, its reader, has its own
 * tests and is used here to check what the writer wrote.
 *
 * - Appends: each record's seq and prev, the exact line, the receipt (its
 *   leaf, root and inclusion proof), audit_head(), and a file the scanner
 *   accepts whose tree head is audit_head()'s; records at the size limit.
 * - Durability: the binary is linked with -Wl,--wrap=fdatasync
 *   (tests/unit/meson.build), so the test counts the syncs (a deferred
 *   record costs none, the next durable one or audit_head() makes it
 *   durable) and makes them fail (a failed sync is sticky).
 * - Opening: a torn tail is moved to <log>.torn and cut off; a record
 *   altered, removed, reordered or repeated is refused, naming it; the
 *   offset of a checkpoint's records; the lock (<log>.lock and an open
 *   file description lock on the log) against a second writer in this
 *   process, in another one, and under another name.
 * - audit_find(); a short write is cut back.
 *
 * Each test works in a temporary directory of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "auditlog.h"
#include "job.h"
#include "json.h"
#include "merkle.h"
#include "sgtime.h"
#include "testlib.h"
#include "util.h"

int main(void);
int __wrap_fdatasync(int fd);
int __real_fdatasync(int fd);

#define TEST_TIMEOUT_S 60
#define ID_A           "0123456789abcdef0123456789abcdef"
#define ID_B           "fedcba9876543210fedcba9876543210"
/* The root of the empty tree: SHA-256(""). */
#define EMPTY_ROOT_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define LOG_FILE_MAX   (16 * 1024 * 1024)

/* ---- fdatasync(), as every caller in this binary sees it ---- */

static atomic_int syncs;      /* calls so far */
static atomic_int fail_syncs; /* nonzero: every call fails with EIO */

int
__wrap_fdatasync(int fd)
{
	atomic_fetch_add(&syncs, 1);
	if (atomic_load(&fail_syncs)) {
		errno = EIO;
		return -1;
	}
	return __real_fdatasync(fd);
}

/* ---- helpers ---- */

/* A test's directory and the log's path in it (<dir>/audit.log). */
struct place {
	char *dir;
	char *log;
};

static void
place_new(struct place *p)
{
	p->dir = test_tmpdir();
	ck_assert_int_gt(asprintf(&p->log, "%s/audit.log", p->dir), 0);
}

static void
place_free(struct place *p)
{
	free(p->log);
	test_tmpdir_free(p->dir);
}

/* path + suffix; the caller frees it. */
static char *
with_suffix(const char *path, const char *suffix)
{
	char *s = NULL;

	ck_assert_int_gt(asprintf(&s, "%s%s", path, suffix), 0);
	return s;
}

static struct audit *
open_ok(const char *path, const struct checkpoint *cp)
{
	struct audit *a = NULL;
	char err[1024] = "";
	int r = audit_open(path, cp, NULL, NULL, &a, err, sizeof(err));

	ck_assert_msg(r == 0, "audit_open: %s (%s)", err, sg_strerror(r));
	ck_assert_ptr_nonnull(a);
	return a;
}

/* A record of event for job id (either may be NULL). */
static struct audit_record
record(const char *event, const char *id, int defer_sync)
{
	struct audit_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.event = event;
	rec.id = id;
	rec.defer_sync = defer_sync;
	return rec;
}

static void
append_ok(struct audit *a, const char *event, const char *id, int defer_sync)
{
	struct audit_record rec = record(event, id, defer_sync);

	ck_assert_int_eq(audit_append(a, &rec, 0, NULL), 0);
}

/* The whole file (NULL when it is not there); *ret_len its size. */
static char *
slurp(const char *path, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	int r = read_file(path, LOG_FILE_MAX, &buf, &len);

	if (r == SG_ERR_NOT_FOUND)
		return NULL;
	ck_assert_msg(r == 0, "%s: %s", path, sg_strerror(r));
	if (ret_len != NULL)
		*ret_len = len;
	return buf;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static void
append_bytes(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "ab");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Line n (from 1) of text, without its newline; the caller frees it. */
static char *
line_of(const char *text, int n)
{
	const char *s = text, *nl;

	for (int i = 1; i < n; i++) {
		ck_assert_ptr_nonnull(s = strchr(s, '\n'));
		s++;
	}
	nl = strchr(s, '\n');
	ck_assert_ptr_nonnull(nl);
	return strndup(s, (size_t)(nl - s));
}

static void
hex(const uint8_t b[SHA256_LEN], char out[SHA256_HEX_LEN + 1])
{
	hex_encode(b, SHA256_LEN, out);
}

/* The scanner's view of the file: it must accept it whole. */
static void
scan_ok(const char *path, struct auditlog_state *st)
{
	int r = auditlog_scan_file(path, NULL, NULL, NULL, 0, NULL, st);

	ck_assert_msg(r == 0, "auditlog_scan_file: %s (%s)", st->problem, sg_strerror(r));
	ck_assert_uint_eq(st->torn_len, 0);
}

/* ---- appends ---- */

START_TEST(test_open_new)
{
	struct place p;
	struct audit *a;
	uint8_t root[SHA256_LEN];
	uint64_t size = 99, offset = 99;
	char root_hex[SHA256_HEX_LEN + 1], *lock, *lock_text, want[64];
	struct stat st;

	place_new(&p);
	a = open_ok(p.log, NULL);
	ck_assert_uint_eq(audit_count(a), 0);
	ck_assert_str_eq(audit_path(a), p.log);
	ck_assert_uint_eq(audit_checkpoint_offset(a), 0);
	ck_assert_int_eq(audit_head(a, &size, root, &offset), 0);
	ck_assert_uint_eq(size, 0);
	ck_assert_uint_eq(offset, 0);
	hex(root, root_hex);
	ck_assert_str_eq(root_hex, EMPTY_ROOT_HEX);
	ck_assert_int_eq(stat(p.log, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 0);
	/* The lock file names the holder: "pid N NAME since TIME\n". */
	lock = with_suffix(p.log, ".lock");
	ck_assert_int_eq(stat(lock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	lock_text = slurp(lock, NULL);
	snprintf(want, sizeof(want), "pid %ld test_audit since ", (long)getpid());
	ck_assert_msg(strncmp(lock_text, want, strlen(want)) == 0, "%s", lock_text);
	ck_assert_uint_eq(strlen(lock_text), strlen(want) + SGTIME_LEN + 1);
	ck_assert_int_eq(lock_text[strlen(lock_text) - 1], '\n');
	audit_close(a);
	audit_close(NULL);
	free(lock_text);
	free(lock);
	place_free(&p);
}
END_TEST

/*
 * Records 1..5, some deferred: each receipt's seq, leaf, root and proof;
 * each line's seq and prev (the root before it), as written; audit_head()
 * and the scanner agree on the tree head.
 */
START_TEST(test_append_chain)
{
	static const int defer[] = { 0, 1, 1, 0, 1 };
	struct place p;
	struct audit *a;
	struct audit_receipt rc[5];
	struct auditlog_state st;
	uint8_t prev[SHA256_LEN], leaf[SHA256_LEN], head_root[SHA256_LEN], scan_root[SHA256_LEN];
	uint64_t size = 0, offset = 0;
	char prev_hex[SHA256_HEX_LEN + 1], want[256], *text;
	size_t text_len = 0, at = 0;

	place_new(&p);
	a = open_ok(p.log, NULL);
	for (size_t i = 0; i < nitems(rc); i++) {
		struct audit_record rec = record("received", ID_A, defer[i]);

		memset(&rc[i], 0xa5, sizeof(rc[i]));
		ck_assert_int_eq(audit_append(a, &rec, 1, &rc[i]), 0);
		ck_assert_uint_eq(rc[i].seq, i + 1);
		ck_assert_uint_eq(audit_count(a), i + 1);
		ck_assert_ptr_nonnull(rc[i].record);
		ck_assert_uint_eq(strlen(rc[i].record), rc[i].record_len);
		merkle_leaf_hash(rc[i].record, rc[i].record_len, leaf);
		ck_assert_mem_eq(rc[i].leaf, leaf, SHA256_LEN);
		ck_assert_int_eq(
		    merkle_verify_inclusion(rc[i].leaf, i, i + 1,
			(const uint8_t(*)[SHA256_LEN])rc[i].proof, rc[i].nproof, rc[i].root),
		    0);
		/* {"seq":N,"time":"<20>","prev":"<root before>","event":...,"id":...} */
		if (i == 0)
			strcpy(prev_hex, EMPTY_ROOT_HEX);
		else
			hex(rc[i - 1].root, prev_hex);
		snprintf(want, sizeof(want), "{\"seq\":%zu,\"time\":\"", i + 1);
		ck_assert_msg(strncmp(rc[i].record, want, strlen(want)) == 0, "%s", rc[i].record);
		snprintf(want, sizeof(want),
		    "\",\"prev\":\"%s\",\"event\":\"received\",\"id\":\"" ID_A "\"}", prev_hex);
		ck_assert_str_eq(
		    rc[i].record + strlen("{\"seq\":1,\"time\":\"") + SGTIME_LEN, want);
	}
	memcpy(prev, rc[4].root, SHA256_LEN);
	ck_assert_int_eq(audit_head(a, &size, head_root, &offset), 0);
	ck_assert_uint_eq(size, 5);
	ck_assert_mem_eq(head_root, prev, SHA256_LEN);
	ck_assert_int_eq(offset, file_size(p.log));
	/* The file holds exactly the records, one per line. */
	text = slurp(p.log, &text_len);
	for (size_t i = 0; i < nitems(rc); i++) {
		ck_assert_mem_eq(text + at, rc[i].record, rc[i].record_len);
		ck_assert_int_eq(text[at + rc[i].record_len], '\n');
		at += rc[i].record_len + 1;
	}
	ck_assert_uint_eq(at, text_len);
	scan_ok(p.log, &st);
	ck_assert_uint_eq(st.records, 5);
	ck_assert_uint_eq(st.bytes, offset);
	merkle_root(&st.tree, scan_root);
	ck_assert_mem_eq(scan_root, head_root, SHA256_LEN);
	for (size_t i = 0; i < nitems(rc); i++)
		free(rc[i].record);
	free(text);
	audit_close(a);
	place_free(&p);
}
END_TEST

/* Without want_record the receipt has no line; without a receipt the
 * append still counts. */
START_TEST(test_append_receipt_optional)
{
	struct place p;
	struct audit *a;
	struct audit_receipt rc;
	struct audit_record rec = record("received", ID_A, 0);

	place_new(&p);
	a = open_ok(p.log, NULL);
	memset(&rc, 0xa5, sizeof(rc));
	ck_assert_int_eq(audit_append(a, &rec, 0, &rc), 0);
	ck_assert_uint_eq(rc.seq, 1);
	ck_assert_ptr_null(rc.record);
	ck_assert_uint_eq(rc.record_len, 0);
	ck_assert_int_eq(audit_append(a, &rec, 1, NULL), 0);
	ck_assert_uint_eq(audit_count(a), 2);
	audit_close(a);
	place_free(&p);
}
END_TEST

/* Every member a record can have, in the writer's order and escaped. */
START_TEST(test_append_every_member)
{
	struct place p;
	struct audit *a;
	struct audit_receipt rc;
	struct jwt_claims cl;
	struct audit_record rec;
	char ci_issuer[] = "https://gitlab.example.com", ci_name[] = "gitlab",
	     sub[] = "project_path:g/p", project[] = "g/p", ref[] = "refs/tags/v1",
	     pipeline[] = "42", env[] = "prod", jti[] = "j-1";
	char *want = NULL, when[SGTIME_LEN + 1];
	int64_t before, after, t = 0;

	memset(&cl, 0, sizeof(cl));
	cl.issuer = ci_issuer;
	cl.issuer_name = ci_name;
	cl.subject = sub;
	cl.project = project;
	cl.ref = ref;
	cl.ref_protected = 1;
	cl.pipeline = pipeline;
	cl.environment = env;
	cl.jti = jti;
	memset(&rec, 0, sizeof(rec));
	rec.event = "signed";
	rec.id = ID_A;
	rec.entry = "1700000000000-0";
	rec.submitter = "ci";
	rec.keyid = "sha256:00";
	rec.key = "release";
	rec.format = "raw";
	rec.artifact = "fw \"v1\"\n\xc3\xbc.bin";
	rec.artifact_sha256 = "aa";
	rec.job_sha256 = "bb";
	rec.envelope_sha256 = "cc";
	rec.code = "none";
	rec.signature_sha256 = "dd";
	rec.location = "file:///s/x";
	rec.expires = "2026-01-01T00:00:00Z";
	rec.ci_verified = &cl;
	rec.signature = "c2ln";
	rec.signer_seq = 7;

	place_new(&p);
	a = open_ok(p.log, NULL);
	before = sgtime_now();
	ck_assert_int_eq(audit_append(a, &rec, 1, &rc), 0);
	after = sgtime_now();
	memcpy(when, rc.record + strlen("{\"seq\":1,\"time\":\""), SGTIME_LEN);
	when[SGTIME_LEN] = '\0';
	ck_assert_int_eq(sgtime_parse(when, &t), 0);
	ck_assert_int_ge(t, before);
	ck_assert_int_le(t, after);
	ck_assert_int_gt(
	    asprintf(&want,
		"{\"seq\":1,\"time\":\"%s\",\"prev\":\"" EMPTY_ROOT_HEX "\","
		"\"event\":\"signed\",\"id\":\"" ID_A "\",\"entry\":\"1700000000000-0\","
		"\"submitter\":\"ci\",\"keyid\":\"sha256:00\",\"key\":\"release\",\"format\":"
		"\"raw\","
		"\"artifact\":\"fw "
		"\\\"v1\\\"\\n\xc3\xbc.bin\",\"sha256\":\"aa\",\"job_sha256\":\"bb\","
		"\"envelope_sha256\":\"cc\",\"code\":\"none\",\"signature_sha256\":\"dd\","
		"\"location\":\"file:///s/x\",\"expires\":\"2026-01-01T00:00:00Z\","
		"\"ci_verified\":{\"issuer\":\"https://"
		"gitlab.example.com\",\"issuer_name\":\"gitlab\","
		"\"sub\":\"project_path:g/p\",\"project\":\"g/p\",\"ref\":\"refs/tags/v1\","
		"\"ref_protected\":true,\"pipeline\":\"42\",\"environment\":\"prod\",\"jti\":\"j-"
		"1\"},"
		"\"signature\":\"c2ln\",\"signer_seq\":7}",
		when),
	    0);
	ck_assert_str_eq(rc.record, want);
	free(want);
	free(rc.record);
	audit_close(a);
	place_free(&p);
}
END_TEST

/* A line of AUDIT_LINE_MAX bytes is a record, one more is SG_ERR_LIMIT
 * and changes nothing. */
START_TEST(test_append_line_limit)
{
	struct place p;
	struct audit *a;
	struct audit_receipt rc;
	struct audit_record rec = record("received", ID_A, 0);
	struct auditlog_state st;
	size_t overhead;
	off_t size;
	char *artifact = malloc(AUDIT_LINE_MAX + 2);

	ck_assert_ptr_nonnull(artifact);
	place_new(&p);
	a = open_ok(p.log, NULL);
	rec.artifact = "x";
	ck_assert_int_eq(audit_append(a, &rec, 1, &rc), 0);
	/* Records 1 to 9 differ only in the artifact's length. */
	overhead = rc.record_len - 1;
	free(rc.record);
	memset(artifact, 'x', AUDIT_LINE_MAX + 1);
	artifact[AUDIT_LINE_MAX - overhead] = '\0';
	rec.artifact = artifact;
	ck_assert_int_eq(audit_append(a, &rec, 1, &rc), 0);
	ck_assert_uint_eq(rc.record_len, AUDIT_LINE_MAX);
	free(rc.record);
	size = file_size(p.log);
	artifact[AUDIT_LINE_MAX - overhead] = 'x';
	artifact[AUDIT_LINE_MAX - overhead + 1] = '\0';
	ck_assert_int_eq(audit_append(a, &rec, 0, NULL), SG_ERR_LIMIT);
	ck_assert_uint_eq(audit_count(a), 2);
	ck_assert_int_eq(file_size(p.log), size);
	append_ok(a, "received", ID_B, 0);
	ck_assert_uint_eq(audit_count(a), 3);
	scan_ok(p.log, &st);
	ck_assert_uint_eq(st.records, 3);
	audit_close(a);
	free(artifact);
	place_free(&p);
}
END_TEST

/* Group commit as callers see it: a deferred record costs no sync; the
 * next durable append, or audit_head(), makes it durable with one. */
START_TEST(test_append_defer_sync)
{
	struct place p;
	struct audit *a;
	uint8_t root[SHA256_LEN];
	uint64_t size, offset;

	place_new(&p);
	a = open_ok(p.log, NULL);
	atomic_store(&syncs, 0);
	append_ok(a, "received", ID_A, 1);
	append_ok(a, "intent", ID_A, 1);
	ck_assert_int_eq(atomic_load(&syncs), 0);
	append_ok(a, "signed", ID_A, 0);
	ck_assert_int_eq(atomic_load(&syncs), 1);
	/* Everything is durable: nothing to do. */
	ck_assert_int_eq(audit_head(a, &size, root, &offset), 0);
	ck_assert_int_eq(atomic_load(&syncs), 1);
	append_ok(a, "published", ID_A, 1);
	ck_assert_int_eq(atomic_load(&syncs), 1);
	ck_assert_int_eq(audit_head(a, &size, root, &offset), 0);
	ck_assert_uint_eq(size, 4);
	ck_assert_int_eq(atomic_load(&syncs), 2);
	audit_close(a);
	ck_assert_int_eq(atomic_load(&syncs), 3);
	place_free(&p);
}
END_TEST

/* After a failed sync nothing is known to be durable: the append whose
 * sync failed, every later one and audit_head() fail, without trying to
 * sync again.  The record itself was written, as after a crash. */
START_TEST(test_sync_failure_sticky)
{
	struct place p;
	struct audit *a;
	struct auditlog_state st;
	struct audit_record rec = record("received", ID_B, 1);
	uint8_t root[SHA256_LEN];
	uint64_t size = 99, offset = 99;
	off_t bytes;
	int n;

	place_new(&p);
	a = open_ok(p.log, NULL);
	append_ok(a, "received", ID_A, 0);
	atomic_store(&fail_syncs, 1);
	rec.defer_sync = 0;
	ck_assert_int_eq(audit_append(a, &rec, 0, NULL), SG_ERR_SYSTEM);
	ck_assert_uint_eq(audit_count(a), 2);
	atomic_store(&fail_syncs, 0);
	n = atomic_load(&syncs);
	bytes = file_size(p.log);
	rec.defer_sync = 1;
	ck_assert_int_eq(audit_append(a, &rec, 0, NULL), SG_ERR_SYSTEM);
	rec.defer_sync = 0;
	ck_assert_int_eq(audit_append(a, &rec, 0, NULL), SG_ERR_SYSTEM);
	ck_assert_int_eq(audit_head(a, &size, root, &offset), SG_ERR_SYSTEM);
	ck_assert_uint_eq(size, 99);
	ck_assert_uint_eq(offset, 99);
	ck_assert_int_eq(atomic_load(&syncs), n);
	ck_assert_uint_eq(audit_count(a), 2);
	ck_assert_int_eq(file_size(p.log), bytes);
	audit_close(a);
	a = open_ok(p.log, NULL);
	ck_assert_uint_eq(audit_count(a), 2);
	audit_close(a);
	scan_ok(p.log, &st);
	ck_assert_uint_eq(st.records, 2);
	place_free(&p);
}
END_TEST

/* A log that cannot be made durable at open is not opened (and stays
 * unlocked). */
START_TEST(test_open_sync_failure)
{
	struct place p;
	struct audit *a = (struct audit *)&p;
	char err[1024] = "", *want = NULL;

	place_new(&p);
	atomic_store(&fail_syncs, 1);
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &a, err, sizeof(err)), SG_ERR_SYSTEM);
	ck_assert_ptr_eq(a, (struct audit *)&p);
	ck_assert_int_gt(asprintf(&want, "audit log %s: fdatasync: %s", p.log, strerror(EIO)), 0);
	ck_assert_str_eq(err, want);
	atomic_store(&fail_syncs, 0);
	a = open_ok(p.log, NULL);
	audit_close(a);
	free(want);
	place_free(&p);
}
END_TEST

/* A write cut short (here by RLIMIT_FSIZE) leaves no half record, and is
 * not sticky.  Nothing is asserted while the limit is low: Check writes
 * its own reports to a file too. */
START_TEST(test_append_short_write)
{
	struct place p;
	struct audit *a;
	struct auditlog_state st;
	struct audit_record rec = record("received", ID_B, 0);
	struct rlimit rl, low;
	struct stat st_short = { .st_size = -1 }, st_none = { .st_size = -1 };
	off_t size;
	int set_short, r_short, set_none, r_none, restored;

	place_new(&p);
	a = open_ok(p.log, NULL);
	append_ok(a, "received", ID_A, 0);
	size = file_size(p.log);
	ck_assert(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	low = rl;
	/* Room for 10 bytes of the record: a short write. */
	low.rlim_cur = (rlim_t)size + 10;
	set_short = setrlimit(RLIMIT_FSIZE, &low);
	r_short = audit_append(a, &rec, 0, NULL);
	(void)stat(p.log, &st_short);
	/* No room at all: the write fails. */
	low.rlim_cur = (rlim_t)size;
	set_none = setrlimit(RLIMIT_FSIZE, &low);
	r_none = audit_append(a, &rec, 0, NULL);
	(void)stat(p.log, &st_none);
	restored = setrlimit(RLIMIT_FSIZE, &rl);
	ck_assert_int_eq(restored, 0);
	ck_assert_int_eq(set_short, 0);
	ck_assert_int_eq(set_none, 0);
	ck_assert_int_eq(r_short, SG_ERR_SYSTEM);
	ck_assert_int_eq(st_short.st_size, size);
	ck_assert_int_eq(r_none, SG_ERR_SYSTEM);
	ck_assert_int_eq(st_none.st_size, size);
	ck_assert_uint_eq(audit_count(a), 1);
	append_ok(a, "received", ID_B, 0);
	ck_assert_uint_eq(audit_count(a), 2);
	audit_close(a);
	scan_ok(p.log, &st);
	ck_assert_uint_eq(st.records, 2);
	place_free(&p);
}
END_TEST

/* Appenders on several threads: every record once, in one tree. */
#define THREADS    4
#define PER_THREAD 25

struct appender {
	struct audit *a;
	uint64_t seqs[PER_THREAD];
	int bad_proofs;
};

static void *
append_many(void *arg)
{
	struct appender *ap = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		struct audit_record rec = record("received", ID_A, i % 3 == 0);
		struct audit_receipt rc;

		if (audit_append(ap->a, &rec, 0, &rc) != 0) {
			ap->seqs[i] = 0;
			continue;
		}
		ap->seqs[i] = rc.seq;
		if (merkle_verify_inclusion(rc.leaf, rc.seq - 1, rc.seq,
			(const uint8_t(*)[SHA256_LEN])rc.proof, rc.nproof, rc.root) != 0)
			ap->bad_proofs++;
	}
	return NULL;
}

START_TEST(test_append_threads)
{
	static struct appender aps[THREADS];
	pthread_t th[THREADS];
	struct place p;
	struct audit *a;
	struct auditlog_state st;
	uint8_t root[SHA256_LEN], scan_root[SHA256_LEN];
	uint64_t size, offset;
	char seen[THREADS * PER_THREAD + 1];

	place_new(&p);
	a = open_ok(p.log, NULL);
	atomic_store(&syncs, 0);
	for (int t = 0; t < THREADS; t++) {
		aps[t].a = a;
		ck_assert_int_eq(pthread_create(&th[t], NULL, append_many, &aps[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
	/* At most one sync per durable append. */
	ck_assert_int_le(atomic_load(&syncs), THREADS * PER_THREAD);
	memset(seen, 0, sizeof(seen));
	for (int t = 0; t < THREADS; t++) {
		ck_assert_int_eq(aps[t].bad_proofs, 0);
		for (int i = 0; i < PER_THREAD; i++) {
			uint64_t s = aps[t].seqs[i];

			ck_assert_msg(s >= 1 && s <= THREADS * PER_THREAD && !seen[s], "seq %llu",
			    (unsigned long long)s);
			seen[s] = 1;
		}
	}
	ck_assert_int_eq(audit_head(a, &size, root, &offset), 0);
	ck_assert_uint_eq(size, THREADS * PER_THREAD);
	scan_ok(p.log, &st);
	ck_assert_uint_eq(st.records, THREADS * PER_THREAD);
	merkle_root(&st.tree, scan_root);
	ck_assert_mem_eq(scan_root, root, SHA256_LEN);
	audit_close(a);
	place_free(&p);
}
END_TEST

/* ---- opening an existing log ---- */

struct seen_list {
	int n;
	char events[8][16];
	int64_t times[8];
	int64_t expires[8];
	char ids[8][JOB_ID_LEN + 1];
};

static void
collect_seen(void *arg, const struct audit_seen *s)
{
	struct seen_list *l = arg;

	ck_assert_int_lt(l->n, 8);
	snprintf(l->events[l->n], sizeof(l->events[l->n]), "%s", s->event);
	snprintf(l->ids[l->n], sizeof(l->ids[l->n]), "%s", s->id != NULL ? s->id : "-");
	l->times[l->n] = s->time;
	l->expires[l->n] = s->expires;
	l->n++;
}

/* Reopened, the log goes on where it stopped; the caller sees each
 * record. */
START_TEST(test_open_reopen_continues)
{
	struct place p;
	struct audit *a = NULL;
	struct audit_receipt rc;
	struct seen_list seen;
	struct audit_record rec;
	uint8_t root[SHA256_LEN];
	uint64_t size, offset;
	char err[1024] = "", root_hex[SHA256_HEX_LEN + 1], want[128];
	int64_t now = sgtime_now();

	place_new(&p);
	a = open_ok(p.log, NULL);
	rec = record("received", ID_A, 1);
	rec.expires = "2026-01-01T00:00:00Z";
	ck_assert_int_eq(audit_append(a, &rec, 0, NULL), 0);
	append_ok(a, "signed", ID_A, 0);
	append_ok(a, "started", NULL, 0);
	ck_assert_int_eq(audit_head(a, &size, root, &offset), 0);
	audit_close(a);

	memset(&seen, 0, sizeof(seen));
	a = NULL;
	ck_assert_int_eq(audit_open(p.log, NULL, collect_seen, &seen, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(audit_count(a), 3);
	ck_assert_int_eq(seen.n, 3);
	ck_assert_str_eq(seen.events[0], "received");
	ck_assert_str_eq(seen.events[1], "signed");
	ck_assert_str_eq(seen.events[2], "started");
	ck_assert_str_eq(seen.ids[0], ID_A);
	ck_assert_str_eq(seen.ids[2], "-");
	ck_assert_int_eq(seen.expires[0], INT64_C(1767225600));
	ck_assert_int_eq(seen.expires[1], 0);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(seen.times[i] >= now - 60 && seen.times[i] <= now + 60, "time %lld",
		    (long long)seen.times[i]);
	rec = record("published", ID_A, 0);
	ck_assert_int_eq(audit_append(a, &rec, 1, &rc), 0);
	ck_assert_uint_eq(rc.seq, 4);
	hex(root, root_hex);
	snprintf(want, sizeof(want), "\"prev\":\"%s\"", root_hex);
	ck_assert_ptr_nonnull(strstr(rc.record, want));
	free(rc.record);
	audit_close(a);
	place_free(&p);
}
END_TEST

/* An append cut short by a crash: moved to <log>.torn, cut off, and the
 * log goes on; a second one is added to the same file. */
START_TEST(test_open_torn_tail)
{
	static const char torn1[] = "{\"seq\":3,\"time\":\"2026";
	static const char torn2[] = "\0\0\0\0\0\0\0\0\n";
	struct place p;
	struct audit *a;
	struct auditlog_state st;
	off_t size;
	char *torn_path, *torn;
	size_t len = 0;

	place_new(&p);
	torn_path = with_suffix(p.log, ".torn");
	a = open_ok(p.log, NULL);
	append_ok(a, "received", ID_A, 0);
	append_ok(a, "signed", ID_A, 0);
	audit_close(a);
	size = file_size(p.log);
	append_bytes(p.log, torn1, sizeof(torn1) - 1);
	a = open_ok(p.log, NULL);
	ck_assert_uint_eq(audit_count(a), 2);
	ck_assert_int_eq(file_size(p.log), size);
	torn = slurp(torn_path, &len);
	ck_assert_uint_eq(len, sizeof(torn1) - 1);
	ck_assert_mem_eq(torn, torn1, len);
	free(torn);
	append_ok(a, "published", ID_A, 0);
	audit_close(a);
	scan_ok(p.log, &st);
	ck_assert_uint_eq(st.records, 3);

	/* A last line of NUL bytes (the size reached the disk, the data did
	 * not) is torn too. */
	size = file_size(p.log);
	append_bytes(p.log, torn2, sizeof(torn2) - 1);
	a = open_ok(p.log, NULL);
	ck_assert_uint_eq(audit_count(a), 3);
	ck_assert_int_eq(file_size(p.log), size);
	audit_close(a);
	torn = slurp(torn_path, &len);
	ck_assert_uint_eq(len, sizeof(torn1) - 1 + sizeof(torn2) - 1);
	ck_assert_mem_eq(torn, torn1, sizeof(torn1) - 1);
	ck_assert_mem_eq(torn + sizeof(torn1) - 1, torn2, sizeof(torn2) - 1);
	free(torn);
	free(torn_path);
	place_free(&p);
}
END_TEST

/* The torn tail is set aside before the log is cut: when the sync after
 * the cut fails, the open fails, and the bytes are in <log>.torn once. */
START_TEST(test_open_torn_tail_sync_failure)
{
	static const char torn1[] = "{\"seq\":2,";
	struct place p;
	struct audit *a;
	char err[1024] = "", *want = NULL, *torn_path, *torn;
	size_t len = 0;

	place_new(&p);
	torn_path = with_suffix(p.log, ".torn");
	a = open_ok(p.log, NULL);
	append_ok(a, "received", ID_A, 0);
	audit_close(a);
	append_bytes(p.log, torn1, sizeof(torn1) - 1);
	atomic_store(&fail_syncs, 1);
	a = NULL;
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &a, err, sizeof(err)), SG_ERR_SYSTEM);
	ck_assert_ptr_null(a);
	ck_assert_int_gt(asprintf(&want, "audit log %s: cannot set aside its torn last record: %s",
			     p.log, strerror(EIO)),
	    0);
	ck_assert_str_eq(err, want);
	free(want);
	atomic_store(&fail_syncs, 0);
	a = open_ok(p.log, NULL);
	ck_assert_uint_eq(audit_count(a), 1);
	audit_close(a);
	torn = slurp(torn_path, &len);
	ck_assert_uint_eq(len, sizeof(torn1) - 1);
	ck_assert_mem_eq(torn, torn1, len);
	free(torn);
	free(torn_path);
	place_free(&p);
}
END_TEST

/* More after the last record than 64 appends could leave is no torn tail:
 * refused, and nothing is cut. */
START_TEST(test_open_torn_tail_too_long)
{
	struct place p;
	struct audit *a;
	char err[1024] = "", *want = NULL, *junk, *torn_path;
	size_t junk_len = (size_t)AUDIT_LINE_MAX * 64 + 1;
	off_t size;

	place_new(&p);
	torn_path = with_suffix(p.log, ".torn");
	a = open_ok(p.log, NULL);
	append_ok(a, "received", ID_A, 0);
	audit_close(a);
	/* A line holding a NUL byte and all after it are a torn tail (a
	 * line without one this long would be a record too long).  The edge:
	 * AUDIT_LINE_MAX * 64 bytes are still set aside. */
	ck_assert_ptr_nonnull(junk = malloc(junk_len));
	memset(junk, 'x', junk_len);
	memcpy(junk, "\0\n", 2);
	append_bytes(p.log, junk, junk_len - 1);
	a = open_ok(p.log, NULL);
	ck_assert_uint_eq(audit_count(a), 1);
	audit_close(a);
	ck_assert_int_eq(file_size(torn_path), junk_len - 1);
	ck_assert_int_eq(unlink(torn_path), 0);
	append_bytes(p.log, junk, junk_len);
	size = file_size(p.log);
	a = NULL;
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &a, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_null(a);
	ck_assert_int_gt(asprintf(&want,
			     "audit log %s: %zu bytes after record 1 are not records; "
			     "too many to be an interrupted append",
			     p.log, junk_len),
	    0);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(file_size(p.log), size);
	ck_assert_int_eq(access(torn_path, F_OK), -1);
	free(want);
	free(junk);
	free(torn_path);
	place_free(&p);
}
END_TEST

/* The log and its lock file are never reached through a symbolic link. */
START_TEST(test_open_symlinks_refused)
{
	struct place p;
	struct audit *a = NULL;
	char err[1024] = "", *target, *lock, *want = NULL;

	place_new(&p);
	ck_assert_int_gt(asprintf(&target, "%s/elsewhere", p.dir), 0);
	lock = with_suffix(p.log, ".lock");
	ck_assert_int_eq(symlink(target, p.log), 0);
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &a, err, sizeof(err)), SG_ERR_SYSTEM);
	ck_assert_ptr_null(a);
	ck_assert_int_gt(asprintf(&want, "audit log %s: %s", p.log, strerror(ELOOP)), 0);
	ck_assert_str_eq(err, want);
	free(want);
	ck_assert_int_eq(access(target, F_OK), -1);
	ck_assert_int_eq(unlink(p.log), 0);
	ck_assert_int_eq(symlink(target, lock), 0);
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &a, err, sizeof(err)), SG_ERR_SYSTEM);
	ck_assert_ptr_null(a);
	ck_assert_int_gt(asprintf(&want, "audit log lock %s: %s", lock, strerror(ELOOP)), 0);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(access(target, F_OK), -1);
	free(want);
	free(lock);
	free(target);
	place_free(&p);
}
END_TEST

/* A path whose "<path>.lock" would not fit is refused. */
START_TEST(test_open_path_too_long)
{
	struct place p;
	struct audit *a = NULL;
	char path[4096], err[8192] = "", *want = NULL;
	size_t len;

	place_new(&p);
	/* Directories of 200 bytes' names, then a log name that brings the
	 * path to 4091 bytes: it can be opened, its lock file cannot. */
	len = (size_t)snprintf(path, sizeof(path), "%s", p.dir);
	while (len + 1 + 200 < 4091 - 20) {
		path[len++] = '/';
		memset(path + len, 'd', 200);
		len += 200;
		path[len] = '\0';
		ck_assert_int_eq(mkdir(path, 0700), 0);
	}
	path[len++] = '/';
	memset(path + len, 'l', 4091 - len);
	path[4091] = '\0';
	ck_assert_int_eq(audit_open(path, NULL, NULL, NULL, &a, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_null(a);
	ck_assert_int_gt(asprintf(&want, "audit log %s: path too long", path), 0);
	ck_assert_str_eq(err, want);
	free(want);
	place_free(&p);
}
END_TEST

/* A log of three records, changed; what audit_open() must say. */
static const struct {
	const char *name;
	const char *order; /* the lines of the new file: '1'..'3', 'x' for ID_A -> ID_B in
	                        line 2, 'p' for line 1 with another prev, 'j' for no JSON,
	                        'n' for line 2 with a NUL byte in its middle */
	const char *problem;
} changes[] = {
	{ "altered", "1x3",
	    "record 2 was altered, removed or reordered: record 3 records another "
	    "tree head for the records before it" },
	{ "removed", "13", "record 2 is missing or out of order (line 2 holds record 3)" },
	{ "first-removed", "23", "record 1 is missing or out of order (line 1 holds record 2)" },
	{ "reordered", "132", "record 2 is missing or out of order (line 2 holds record 3)" },
	{ "repeated", "1223", "record 2 is out of order (found at line 3) or repeated" },
	{ "first-prev", "p23",
	    "record 1 does not start the log (records before it were removed, "
	    "or it was altered)" },
	{ "not-json", "1j3", "line 2 is not a well-formed record (altered or corrupt)" },
	/* A NUL byte makes a line look torn, but only a last line can be. */
	{ "nul-middle", "1n3",
	    "record 2 holds a NUL byte, and complete records follow it: the log was altered, not "
	    "cut "
	    "short by a crash" },
};

START_TEST(test_open_refuses_change)
{
	struct place p;
	struct audit *a, *untouched = (struct audit *)&p;
	char err[1024] = "", *text, *want, *changed = NULL, *torn_path;
	size_t len = 0, changed_len = 0;
	FILE *f;

	place_new(&p);
	a = open_ok(p.log, NULL);
	append_ok(a, "received", ID_A, 0);
	append_ok(a, "signed", ID_A, 0);
	append_ok(a, "published", ID_A, 0);
	audit_close(a);
	text = slurp(p.log, &len);
	ck_assert_ptr_nonnull(f = open_memstream(&changed, &changed_len));
	for (const char *o = changes[_i].order; *o != '\0'; o++) {
		char *line = line_of(text,
			 *o >= '1' && *o <= '3' ? *o - '0'
			     : *o == 'p'        ? 1
						: 2),
		     *s;

		if (*o == 'x') {
			ck_assert_ptr_nonnull(s = strstr(line, ID_A));
			memcpy(s, ID_B, JOB_ID_LEN);
		} else if (*o == 'p') {
			ck_assert_ptr_nonnull(s = strstr(line, EMPTY_ROOT_HEX));
			s[0] = '0';
		} else if (*o == 'j') {
			line[0] = '[';
		} else if (*o == 'n') {
			size_t ll = strlen(line);

			line[ll / 2] = '\0';
			ck_assert_uint_eq(fwrite(line, 1, ll, f), ll);
			fputc('\n', f);
			free(line);
			continue;
		}
		fprintf(f, "%s\n", line);
		free(line);
	}
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(write_bytes(p.log, changed, changed_len, 0600), 0);
	want = NULL;
	ck_assert_int_gt(asprintf(&want, "audit log %s: %s", p.log, changes[_i].problem), 0);
	a = untouched;
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &a, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_eq(a, untouched);
	ck_assert_str_eq(err, want);
	/* Nothing was changed or set aside, and the lock was let go: the
	 * same answer again, not "in use". */
	free(text);
	text = slurp(p.log, &len);
	ck_assert_uint_eq(len, changed_len);
	ck_assert_mem_eq(text, changed, len);
	torn_path = with_suffix(p.log, ".torn");
	ck_assert_int_eq(access(torn_path, F_OK), -1);
	err[0] = '\0';
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &a, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_str_eq(err, want);
	free(torn_path);
	free(want);
	free(changed);
	free(text);
	place_free(&p);
}
END_TEST

/* With the checkpoint this agent signed: the offset after its records,
 * and a refusal when the log no longer holds them as they were. */
START_TEST(test_open_checkpoint)
{
	struct place p;
	struct audit *a, *untouched = (struct audit *)&p;
	struct audit_receipt rc[5];
	struct checkpoint cp;
	char err[1024] = "", *want = NULL, *text;
	size_t len = 0;
	uint64_t after3 = 0;

	place_new(&p);
	a = open_ok(p.log, NULL);
	for (int i = 0; i < 5; i++) {
		struct audit_record rec = record("received", i == 4 ? ID_B : ID_A, 0);

		ck_assert_int_eq(audit_append(a, &rec, 1, &rc[i]), 0);
		if (i < 3)
			after3 += rc[i].record_len + 1;
	}
	audit_close(a);
	memset(&cp, 0, sizeof(cp));
	strcpy(cp.origin, "signet/test");
	cp.size = 3;
	memcpy(cp.root, rc[2].root, SHA256_LEN);
	a = open_ok(p.log, &cp);
	ck_assert_uint_eq(audit_checkpoint_offset(a), after3);
	ck_assert_uint_eq(audit_count(a), 5);
	audit_close(a);
	cp.size = 5;
	memcpy(cp.root, rc[4].root, SHA256_LEN);
	a = open_ok(p.log, &cp);
	ck_assert_uint_eq(audit_checkpoint_offset(a), (uint64_t)file_size(p.log));
	audit_close(a);
	a = open_ok(p.log, NULL);
	ck_assert_uint_eq(audit_checkpoint_offset(a), 0);
	audit_close(a);

	/* More records than the log holds. */
	cp.size = 6;
	a = untouched;
	ck_assert_int_eq(audit_open(p.log, &cp, NULL, NULL, &a, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_eq(a, untouched);
	ck_assert_int_gt(asprintf(&want,
			     "audit log %s does not match the checkpoint this agent "
			     "signed at 6 records (it has 5): records were removed or altered",
			     p.log),
	    0);
	ck_assert_str_eq(err, want);
	free(want);
	/* Another root for the first three. */
	cp.size = 3;
	memcpy(cp.root, rc[1].root, SHA256_LEN);
	ck_assert_int_eq(audit_open(p.log, &cp, NULL, NULL, &a, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_int_gt(asprintf(&want,
			     "audit log %s does not match the checkpoint this agent "
			     "signed at 3 records (it has 5): records were removed or altered",
			     p.log),
	    0);
	ck_assert_str_eq(err, want);
	free(want);
	/* The last record altered: only the checkpoint can tell. */
	text = slurp(p.log, &len);
	memcpy(strstr(text + after3, ID_B), ID_A, JOB_ID_LEN);
	ck_assert_int_eq(write_bytes(p.log, text, len, 0600), 0);
	a = open_ok(p.log, NULL);
	audit_close(a);
	cp.size = 5;
	memcpy(cp.root, rc[4].root, SHA256_LEN);
	a = untouched;
	ck_assert_int_eq(audit_open(p.log, &cp, NULL, NULL, &a, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_eq(a, untouched);
	ck_assert_int_gt(asprintf(&want,
			     "audit log %s does not match the checkpoint this agent "
			     "signed at 5 records (it has 5): records were removed or altered",
			     p.log),
	    0);
	ck_assert_str_eq(err, want);
	free(want);
	for (int i = 0; i < 5; i++)
		free(rc[i].record);
	free(text);
	place_free(&p);
}
END_TEST

/* ---- the lock ---- */

/* What audit_open() says of a log another writer holds, per its lock
 * file's first line. */
static char *
in_use_message(const char *log)
{
	char *lock = with_suffix(log, ".lock"), *holder = slurp(lock, NULL), *msg = NULL;

	ck_assert_ptr_nonnull(holder);
	holder[strcspn(holder, "\n")] = '\0';
	ck_assert_int_gt(asprintf(&msg,
			     "audit log %s is in use by another agent (%s, per %s): two "
			     "agents must never write one log; stop that one, or give this one its "
			     "own audit_log",
			     log, holder, lock),
	    0);
	free(holder);
	free(lock);
	return msg;
}

/* An open file description lock: a second open in this process fails
 * too, and leaves the holder's lock file and its log alone. */
START_TEST(test_lock_same_process)
{
	struct place p;
	struct audit *a, *b = (struct audit *)&p;
	char err[1024] = "", *want, *lock, *before, *after;

	place_new(&p);
	lock = with_suffix(p.log, ".lock");
	a = open_ok(p.log, NULL);
	append_ok(a, "received", ID_A, 0);
	before = slurp(lock, NULL);
	want = in_use_message(p.log);
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &b, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_eq(b, (struct audit *)&p);
	ck_assert_str_eq(err, want);
	/* Still held: the failed open released nothing. */
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &b, err, sizeof(err)), SG_ERR_CONFIG);
	after = slurp(lock, NULL);
	ck_assert_str_eq(after, before);
	append_ok(a, "signed", ID_A, 0);
	ck_assert_uint_eq(audit_count(a), 2);
	audit_close(a);
	/* Released by audit_close(); the lock file stays. */
	b = open_ok(p.log, NULL);
	ck_assert_uint_eq(audit_count(b), 2);
	audit_close(b);
	ck_assert_int_eq(access(lock, F_OK), 0);
	free(before);
	free(after);
	free(want);
	free(lock);
	place_free(&p);
}
END_TEST

/* A holder that has not written its line yet, or wrote one with bytes
 * that are not printable: the message says so, or shows them as '?'. */
START_TEST(test_lock_holder_shown)
{
	static const struct {
		const char *content;
		const char *shown;
	} holders[] = {
		{ "", "a process that has not written its pid yet" },
		{ "pid 1 \x1b[31mred\x7f\nsecond line", "pid 1 ?[31mred?" },
	};
	struct place p;
	struct flock fl;
	char err[1024], *lock, *want = NULL;
	int fd;

	place_new(&p);
	lock = with_suffix(p.log, ".lock");
	for (size_t i = 0; i < nitems(holders); i++) {
		struct audit *a = NULL;

		ck_assert_int_eq(write_text(lock, holders[i].content, 0600), 0);
		ck_assert_int_ge(fd = open(lock, O_RDWR | O_CLOEXEC), 0);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
		ck_assert_int_eq(
		    audit_open(p.log, NULL, NULL, NULL, &a, err, sizeof(err)), SG_ERR_CONFIG);
		ck_assert_ptr_null(a);
		ck_assert_int_gt(asprintf(&want,
				     "audit log %s is in use by another agent (%s, per "
				     "%s): two agents must never write one log; stop that one, or "
				     "give this one its "
				     "own audit_log",
				     p.log, holders[i].shown, lock),
		    0);
		ck_assert_str_eq(err, want);
		free(want);
		ck_assert_int_eq(close(fd), 0);
	}
	free(lock);
	place_free(&p);
}
END_TEST

/* Another process holds the log: refused, naming it; free once it is
 * gone. */
START_TEST(test_lock_other_process)
{
	struct place p;
	struct audit *b = NULL;
	int ready[2], quit[2], status;
	char err[1024] = "", c, *want, prefix[64];
	pid_t pid;

	place_new(&p);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(quit), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct audit *a = NULL;
		char e[1024];

		close(ready[0]);
		close(quit[1]);
		if (audit_open(p.log, NULL, NULL, NULL, &a, e, sizeof(e)) != 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		/* Holds the log until the parent closes its end. */
		while (read(quit[0], &c, 1) > 0)
			;
		audit_close(a);
		_exit(0);
	}
	close(ready[1]);
	close(quit[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	want = in_use_message(p.log);
	snprintf(prefix, sizeof(prefix), "(pid %ld test_audit since ", (long)pid);
	ck_assert_msg(strstr(want, prefix) != NULL, "%s", want);
	ck_assert_int_eq(audit_open(p.log, NULL, NULL, NULL, &b, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_null(b);
	ck_assert_str_eq(err, want);
	close(quit[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	b = open_ok(p.log, NULL);
	audit_close(b);
	close(ready[0]);
	free(want);
	place_free(&p);
}
END_TEST

/* The same log under another name (a hard link) has another lock file;
 * the lock on the log itself still keeps a second writer out. */
START_TEST(test_lock_other_name)
{
	struct place p;
	struct audit *a, *b = NULL;
	char err[1024] = "", *other, *want = NULL;

	place_new(&p);
	ck_assert_int_gt(asprintf(&other, "%s/other.log", p.dir), 0);
	a = open_ok(p.log, NULL);
	ck_assert_int_eq(link(p.log, other), 0);
	ck_assert_int_eq(audit_open(other, NULL, NULL, NULL, &b, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_null(b);
	ck_assert_int_gt(asprintf(&want,
			     "audit log %s is locked by another process (%s), not "
			     "through %s.lock: the same log under another name?",
			     other, strerror(EAGAIN), other),
	    0);
	ck_assert_str_eq(err, want);
	audit_close(a);
	b = open_ok(other, NULL);
	audit_close(b);
	free(want);
	free(other);
	place_free(&p);
}
END_TEST

/* ---- audit_find() ---- */

START_TEST(test_find)
{
	struct place p;
	struct audit *a;
	struct audit_receipt rc;
	struct audit_record rec;
	char *line = (char *)&p;
	size_t len = 77;

	place_new(&p);
	a = open_ok(p.log, NULL);
	append_ok(a, "received", ID_A, 0);
	rec = record("signed", ID_A, 0);
	rec.signature = "Zmlyc3Q=";
	ck_assert_int_eq(audit_append(a, &rec, 0, NULL), 0);
	append_ok(a, "rejected", ID_B, 0);
	rec.signature = "c2Vjb25k";
	ck_assert_int_eq(audit_append(a, &rec, 1, &rc), 0);
	append_ok(a, "published", ID_A, 0);

	/* The last of them. */
	ck_assert_int_eq(audit_find(a, "signed", ID_A, &line, &len), 0);
	ck_assert_uint_eq(len, rc.record_len);
	ck_assert_str_eq(line, rc.record);
	free(line);
	ck_assert_int_eq(audit_find(a, "rejected", ID_B, &line, &len), 0);
	ck_assert_ptr_nonnull(strstr(line, "\"seq\":3,"));
	free(line);
	/* Neither another event, nor another job, nor a prefix of its id. */
	line = (char *)&p;
	len = 77;
	ck_assert_int_eq(audit_find(a, "signed", ID_B, &line, &len), SG_ERR_NOT_FOUND);
	ck_assert_int_eq(audit_find(a, "failed", ID_A, &line, &len), SG_ERR_NOT_FOUND);
	ck_assert_int_eq(audit_find(a, "signed", "0123456789abcdef0123456789abcde", &line, &len),
	    SG_ERR_NOT_FOUND);
	ck_assert_ptr_eq(line, (char *)&p);
	ck_assert_uint_eq(len, 77);
	free(rc.record);
	audit_close(a);
	place_free(&p);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("audit");
	char *names[nitems(changes)];
	size_t i;
	int status;

	test_add(s, "/audit/open/new-log", test_open_new, TEST_TIMEOUT_S);
	test_add(s, "/audit/append/seq-prev-receipts", test_append_chain, TEST_TIMEOUT_S);
	test_add(s, "/audit/append/receipt-optional", test_append_receipt_optional, TEST_TIMEOUT_S);
	test_add(s, "/audit/append/every-member", test_append_every_member, TEST_TIMEOUT_S);
	test_add(s, "/audit/append/line-limit", test_append_line_limit, TEST_TIMEOUT_S);
	test_add(s, "/audit/append/defer-sync", test_append_defer_sync, TEST_TIMEOUT_S);
	test_add(s, "/audit/append/sync-failure-sticky", test_sync_failure_sticky, TEST_TIMEOUT_S);
	test_add(s, "/audit/append/short-write-cut-back", test_append_short_write, TEST_TIMEOUT_S);
	test_add(s, "/audit/append/threads", test_append_threads, TEST_TIMEOUT_S);
	test_add(s, "/audit/open/reopen-continues", test_open_reopen_continues, TEST_TIMEOUT_S);
	test_add(s, "/audit/open/sync-failure", test_open_sync_failure, TEST_TIMEOUT_S);
	test_add(s, "/audit/open/torn-tail", test_open_torn_tail, TEST_TIMEOUT_S);
	test_add(s, "/audit/open/torn-tail-sync-failure", test_open_torn_tail_sync_failure,
	    TEST_TIMEOUT_S);
	test_add(s, "/audit/open/torn-tail-too-long", test_open_torn_tail_too_long, TEST_TIMEOUT_S);
	test_add(s, "/audit/open/symlinks-refused", test_open_symlinks_refused, TEST_TIMEOUT_S);
	test_add(s, "/audit/open/path-too-long", test_open_path_too_long, TEST_TIMEOUT_S);
	for (i = 0; i < nitems(changes); i++) {
		if (asprintf(&names[i], "/audit/open/refuses-%s", changes[i].name) < 0)
			return EXIT_FAILURE;
		tcase_add_loop_test(test_case(s, names[i], TEST_TIMEOUT_S),
		    test_open_refuses_change, (int)i, (int)i + 1);
	}
	test_add(s, "/audit/open/checkpoint", test_open_checkpoint, TEST_TIMEOUT_S);
	test_add(s, "/audit/lock/same-process", test_lock_same_process, TEST_TIMEOUT_S);
	test_add(s, "/audit/lock/holder-shown", test_lock_holder_shown, TEST_TIMEOUT_S);
	test_add(s, "/audit/lock/other-process", test_lock_other_process, TEST_TIMEOUT_S);
	test_add(s, "/audit/lock/same-log-other-name", test_lock_other_name, TEST_TIMEOUT_S);
	test_add(s, "/audit/find/last-of-event-and-id", test_find, TEST_TIMEOUT_S);
	status = test_run(s);
	for (i = 0; i < nitems(changes); i++)
		free(names[i]);
	return status;
}
