/*
 * test_store.c — the file store (agent/store_file.c): a job's objects are
 * never replaced, no path goes through a link, files follow the umask or
 * the configured mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "testlib.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"

/* The store's directory and its URL, made by main(). */
static char *base;
static char url[PATH_MAX + 16];

static struct store *
open_store(unsigned mode)
{
	struct store_opts o;
	struct store *s = NULL;
	char err[256] = "";

	memset(&o, 0, sizeof(o));
	o.url = url;
	o.file_mode = mode;
	ck_assert_msg(store_open(&o, &s, err, sizeof(err)) == 0, "store_open: %s", err);
	return s;
}

/* The contents of base/rel, or NULL when it cannot be read. */
static char *
slurp(const char *rel)
{
	char path[512], *buf = calloc(1, 4096);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	if ((f = fopen(path, "r")) == NULL) {
		free(buf);
		return NULL;
	}
	if (fread(buf, 1, 4095, f) == 0)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

static void
expect_file(const char *rel, const char *content)
{
	char *got = slurp(rel);

	ck_assert_msg(got != NULL, "%s missing", rel);
	ck_assert_str_eq(got, content);
	free(got);
}

static unsigned
mode_of(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	ck_assert_int_eq(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static int
exists(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	return lstat(path, &st) == 0;
}

static int
put_job(struct store *s, const char *key, const char *id, const char *signame, const char *sig,
    const char *result)
{
	struct store_object objs[2] = {
		{ signame, sig, strlen(sig) },
		{ "result.json", result, strlen(result) },
	};

	return store_put_job(s, key, id, objs, 2);
}

static void
run(const char *cmd)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "cd %s && %s", base, cmd);
	ck_assert_int_eq(system(buf), 0);
}

START_TEST(test_job_never_replaced)
{
	struct store *s;
	char *got = NULL;
	size_t len = 0;

	umask(022);
	s = open_store(0);
	ck_assert_int_eq(put_job(s, "release", ID1, "fw.bin.sig", "SIG-1", "RESULT-1"), 0);
	expect_file("release/" ID1 "/fw.bin.sig", "SIG-1");
	expect_file("release/" ID1 "/result.json", "RESULT-1");
	/* The same job again (a redelivery): its own bytes count as written. */
	ck_assert_int_eq(put_job(s, "release", ID1, "fw.bin.sig", "SIG-1", "RESULT-1"), 0);
	/* Another job under the id: refused, nothing replaced, nothing added. */
	ck_assert_int_eq(
	    put_job(s, "release", ID1, "other.bin.sig", "SIG-2", "RESULT-2"), SG_ERR_STORE_FAILED);
	ck_assert_int_eq(
	    put_job(s, "release", ID1, "fw.bin.sig", "SIG-2", "RESULT-1"), SG_ERR_STORE_FAILED);
	expect_file("release/" ID1 "/fw.bin.sig", "SIG-1");
	expect_file("release/" ID1 "/result.json", "RESULT-1");
	ck_assert(!exists("release/" ID1 "/other.bin.sig"));
	/* A result lost beside its signature file is written again. */
	run("rm release/" ID1 "/result.json");
	ck_assert_int_eq(store_get(s, "release", ID1, "result.json", &got, &len), SG_ERR_NOT_FOUND);
	ck_assert_int_eq(put_job(s, "release", ID1, "fw.bin.sig", "SIG-1", "RESULT-1b"), 0);
	expect_file("release/" ID1 "/result.json", "RESULT-1b");
	ck_assert_int_eq(store_get(s, "release", ID1, "result.json", &got, &len), 0);
	ck_assert_str_eq(got, "RESULT-1b");
	ck_assert_uint_eq(len, 9);
	free(got);
	/* No temp file or directory is left behind. */
	run("test -z \"$(ls -A release/.tmp)\" && test \"$(ls -A release/" ID1 " | wc -l)\" = 2");
	store_close(s);
}
END_TEST

/* A link planted at <base>/<key>, <base>/<key>/<id> or an object is
 * refused, and what it points to is left alone. */
START_TEST(test_links_refused)
{
	struct store *s;
	char *got = NULL;
	size_t len = 0;

	s = open_store(0);
	run("mkdir -p elsewhere/" ID2 " && ln -s elsewhere linked");
	ck_assert_int_eq(put_job(s, "linked", ID2, "a.sig", "S", "R"), SG_ERR_STORE_FAILED);
	ck_assert_int_eq(
	    store_get(s, "linked", ID2, "result.json", &got, &len), SG_ERR_STORE_FAILED);
	ck_assert(!exists("elsewhere/" ID2 "/a.sig"));
	ck_assert(!exists("elsewhere/" ID2 "/result.json"));

	run("mkdir -p release && ln -s ../elsewhere/" ID2 " release/" ID2);
	ck_assert_int_eq(put_job(s, "release", ID2, "a.sig", "S", "R"), SG_ERR_STORE_FAILED);
	ck_assert_int_eq(
	    store_get(s, "release", ID2, "result.json", &got, &len), SG_ERR_STORE_FAILED);
	ck_assert_int_eq(store_put(s, "release", ID2, "latest", "x", 1, NULL), SG_ERR_STORE_FAILED);
	ck_assert(!exists("elsewhere/" ID2 "/a.sig"));
	ck_assert(!exists("elsewhere/" ID2 "/latest"));

	/* A link as an object of an existing job directory. */
	run("mkdir -p release/" ID1 "x && echo secret > target && "
	    "ln -s ../../target release/" ID1 "x/result.json");
	ck_assert_int_eq(put_job(s, "release", ID1 "x", "a.sig", "S", "R"), SG_ERR_STORE_FAILED);
	ck_assert_int_eq(
	    store_get(s, "release", ID1 "x", "result.json", &got, &len), SG_ERR_STORE_FAILED);
	expect_file("target", "secret\n");
	ck_assert(!exists("release/" ID1 "x/a.sig"));
	store_close(s);
}
END_TEST

/* store_put replaces (a checkpoint's "latest"); a link in its place is
 * replaced, not written through. */
START_TEST(test_put_replaces)
{
	struct store *s;
	char *loc = NULL;

	s = open_store(0);
	ck_assert_int_eq(store_put(s, "audit", "checkpoints", "latest", "one", 3, &loc), 0);
	ck_assert_int_eq(strncmp(loc, url, strlen(url)), 0);
	ck_assert_str_eq(loc + strlen(url), "/audit/checkpoints/latest");
	free(loc);
	ck_assert_int_eq(store_put(s, "audit", "checkpoints", "latest", "two", 3, NULL), 0);
	expect_file("audit/checkpoints/latest", "two");
	run("echo keep > kept && ln -sf ../../kept audit/checkpoints/latest");
	ck_assert_int_eq(store_put(s, "audit", "checkpoints", "latest", "three", 5, NULL), 0);
	expect_file("audit/checkpoints/latest", "three");
	expect_file("kept", "keep\n");
	ck_assert_uint_eq(mode_of("audit/checkpoints/latest"), 0644);
	store_close(s);
}
END_TEST

/* A file:// store's syncs cover a file on its filesystem, not one
 * elsewhere (/proc is another filesystem) nor a missing one; and a job
 * published before is synced again when published again. */
START_TEST(test_syncs_path)
{
	struct store *s = open_store(0);
	struct store_object objs[1] = { { "a.sig", "sig", 3 } };
	char path[PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s/kept-log", base);
	run("echo x > kept-log");
	ck_assert_int_eq(store_syncs_path(s, path), 1);
	ck_assert_int_eq(store_syncs_path(s, base), 1);
	ck_assert_int_eq(store_syncs_path(s, "/proc/self/status"), 0);
	snprintf(path, sizeof(path), "%s/no-such-file", base);
	ck_assert_int_eq(store_syncs_path(s, path), 0);
	ck_assert_int_eq(store_syncs_path(s, NULL), 0);
	ck_assert_int_eq(store_put_job(s, "k", "0123456789abcdef0123456789abcdef", objs, 1), 0);
	ck_assert_int_eq(store_put_job(s, "k", "0123456789abcdef0123456789abcdef", objs, 1), 0);
	expect_file("k/0123456789abcdef0123456789abcdef/a.sig", "sig");
	store_close(s);
}
END_TEST

/* Without store_mode the umask decides; with it, the mode is exact. */
START_TEST(test_modes)
{
	struct store *s;

	umask(027);
	s = open_store(0);
	ck_assert_int_eq(put_job(s, "umask", ID1, "a.sig", "S", "R"), 0);
	ck_assert_uint_eq(mode_of("umask"), 0750);
	ck_assert_uint_eq(mode_of("umask/" ID1), 0750);
	ck_assert_uint_eq(mode_of("umask/" ID1 "/a.sig"), 0640);
	ck_assert_uint_eq(mode_of("umask/" ID1 "/result.json"), 0640);
	store_close(s);

	umask(0);
	s = open_store(0600);
	ck_assert_int_eq(put_job(s, "fixed", ID1, "a.sig", "S", "R"), 0);
	ck_assert_int_eq(store_put(s, "fixed", "checkpoints", "latest", "x", 1, NULL), 0);
	ck_assert_uint_eq(mode_of("fixed"), 0700);
	ck_assert_uint_eq(mode_of("fixed/" ID1), 0700);
	ck_assert_uint_eq(mode_of("fixed/" ID1 "/a.sig"), 0600);
	ck_assert_uint_eq(mode_of("fixed/checkpoints/latest"), 0600);
	store_close(s);
	umask(022);
}
END_TEST

START_TEST(test_mode_limits)
{
	struct store_opts o;
	struct store *s = NULL;
	char err[256] = "";

	ck_assert(store_mode_ok(0600));
	ck_assert(store_mode_ok(0640));
	ck_assert(store_mode_ok(0755));
	ck_assert(!store_mode_ok(0400));  /* the owner must write */
	ck_assert(!store_mode_ok(0660));  /* group write */
	ck_assert(!store_mode_ok(0646));  /* others write */
	ck_assert(!store_mode_ok(04644)); /* no set-id bits */
	ck_assert(!store_mode_ok(0));
	memset(&o, 0, sizeof(o));
	o.url = url;
	o.file_mode = 0666;
	ck_assert_int_eq(store_open(&o, &s, err, sizeof(err)), SG_ERR_CONFIG);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, "0666"));
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("store");
	TCase *tc = test_case(su, "/store/file", TEST_TIMEOUT_DEFAULT);
	int status;

	if ((base = tmpdir_new(NULL, "test_store")) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	snprintf(url, sizeof(url), "file://%s", base);
	tcase_add_test(tc, test_job_never_replaced);
	tcase_add_test(tc, test_links_refused);
	tcase_add_test(tc, test_put_replaces);
	tcase_add_test(tc, test_syncs_path);
	tcase_add_test(tc, test_modes);
	tcase_add_test(tc, test_mode_limits);
	status = test_run(su);
	if (tmpdir_free(base) != 0)
		fprintf(stderr, "cannot remove %s\n", url);
	return status;
}
