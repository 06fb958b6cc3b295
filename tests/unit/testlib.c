/*
 * testlib.c — see testlib.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

TCase *
test_case(Suite *s, const char *name, int timeout_s)
{
	TCase *tc = tcase_create(name);

	if (timeout_s != TEST_TIMEOUT_DEFAULT)
		tcase_set_timeout(tc, timeout_s);
	suite_add_tcase(s, tc);
	return tc;
}

TCase *
test_add(Suite *s, const char *name, const TTest *t, int timeout_s)
{
	TCase *tc = test_case(s, name, timeout_s);

	tcase_add_test(tc, t);
	return tc;
}

int
test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	/* No srunner_set_fork_status(): the default is CK_FORK, and leaving it
	 * alone keeps CK_FORK=no working for a debugger. */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

char *
tmpdir_new(const char *parent, const char *name)
{
	char *dir = NULL;

	if (parent == NULL) {
		parent = getenv("TMPDIR");
		if (parent == NULL || parent[0] != '/')
			parent = "/tmp";
	}
	if (asprintf(&dir, "%s/%s-XXXXXX", parent, name) < 0)
		return NULL;
	if (mkdtemp(dir) == NULL) {
		int saved = errno;

		free(dir);
		errno = saved;
		return NULL;
	}
	return dir;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	/* Something a test's child process removed meanwhile is gone all the
	 * same. */
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int
rm_tree(const char *path)
{
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int
tmpdir_free(char *dir)
{
	int r;

	if (dir == NULL)
		return 0;
	r = rm_tree(dir);
	free(dir);
	return r;
}

int
write_bytes(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd, ok, saved;

	/* 0600 until the content is in: never readable by others before the
	 * mode is set. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	ok = write(fd, buf, len) == (ssize_t)len && fchmod(fd, mode) == 0;
	saved = errno;
	ok = close(fd) == 0 && ok;
	if (!ok) {
		errno = saved;
		return -1;
	}
	return 0;
}

int
write_text(const char *path, const char *text, mode_t mode)
{
	return write_bytes(path, text, strlen(text), mode);
}

char *
test_tmpdir(void)
{
	char *dir = tmpdir_new(NULL, "sg-test");

	ck_assert_msg(dir != NULL, "cannot make a temporary directory: %s", strerror(errno));
	return dir;
}

void
test_tmpdir_free(char *dir)
{
	ck_assert_int_eq(tmpdir_free(dir), 0);
}

char *
test_write_file(const char *dir, const char *name, const void *buf, size_t len, mode_t mode)
{
	char *path = NULL;

	ck_assert_int_gt(asprintf(&path, "%s/%s", dir, name), 0);
	ck_assert_msg(
	    write_bytes(path, buf, len, mode) == 0, "cannot write %s: %s", path, strerror(errno));
	return path;
}

void
unset_proxies(void)
{
	static const char *const names[] = { "http_proxy", "HTTP_PROXY", "https_proxy",
		"HTTPS_PROXY", "all_proxy", "ALL_PROXY" };
	size_t i;

	for (i = 0; i < nitems(names); i++)
		unsetenv(names[i]);
}

long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}
