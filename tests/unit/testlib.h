/*
 * testlib.h — what every Check binary of the tests shares: building the
 * suite under path-like names, running it, temporary directories and
 * files.  Compiled into each test binary (tests/unit/meson.build).
 *
 * A test binary's main() builds its fixtures, adds its tests and ends with
 * `return test_run(s);`.  Check's fork mode stays on: each test runs in its
 * own child process, so what a test changes (the umask, the working
 * directory, static state) dies with it, and what main() made before
 * test_run() is inherited by every test.  CK_FORK=no still turns it off for
 * a debugger, as Check documents; tests that rely on the fork then fail.
 *
 * Two kinds of helpers: those for main() and fixtures return an error the
 * caller reports (-1 or NULL, errno set), those named test_* are for test
 * bodies and fail the running test instead (ck_assert).
 */
#ifndef SG_TESTLIB_H
#define SG_TESTLIB_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h" /* nitems() */

/* The timeout of a case that keeps Check's default (4 s, or
 * CK_DEFAULT_TIMEOUT from the environment). */
#define TEST_TIMEOUT_DEFAULT 0

/*
 * A new, empty test case called `name` (path-like: "/module/what/case"),
 * added to s, with a timeout of timeout_s seconds (TEST_TIMEOUT_DEFAULT:
 * Check's).  For a case that holds several tests or a fixture.  Borrowed:
 * the suite owns it.  Check aborts the program if it runs out of memory.
 */
TCase *test_case(Suite *s, const char *name, int timeout_s);

/* A case called `name` that holds the one test t (test_case() above);
 * returned so that a fixture can be added to it. */
TCase *test_add(Suite *s, const char *name, const TTest *t, int timeout_s);

/*
 * Runs every test of s (which it frees) in Check's fork mode and prints
 * Check's summary.  EXIT_SUCCESS if none failed, EXIT_FAILURE otherwise:
 * main() returns it.
 */
int test_run(Suite *s);

/*
 * A new directory parent/name-XXXXXX, mode 0700.  parent NULL: $TMPDIR if
 * it is an absolute path, else /tmp.  The caller removes it with
 * tmpdir_free().  NULL with errno set if it cannot be made.
 */
char *tmpdir_new(const char *parent, const char *name);

/*
 * Removes path and, if it is a directory, everything below it (links are
 * removed, never followed; what is already gone counts as removed).  0, or
 * -1 if something could not be removed.
 */
int rm_tree(const char *path);

/* rm_tree(dir), then frees dir.  NULL is a no-op.  0 or -1 as rm_tree();
 * dir is freed in any case. */
int tmpdir_free(char *dir);

/* Creates or truncates path and writes the len bytes of buf to it; the file
 * ends with exactly `mode` (the umask does not apply).  0, or -1 with errno
 * set. */
int write_bytes(const char *path, const void *buf, size_t len, mode_t mode);

/* write_bytes() of the NUL-terminated text, without its NUL. */
int write_text(const char *path, const char *text, mode_t mode);

/* In a test: tmpdir_new(NULL, "sg-test"), or the test fails. */
char *test_tmpdir(void);

/* In a test: tmpdir_free(dir), or the test fails. */
void test_tmpdir_free(char *dir);

/* In a test: write_bytes() of dir/name, or the test fails.  Returns the
 * path; the caller frees it. */
char *test_write_file(const char *dir, const char *name, const void *buf, size_t len, mode_t mode);

/* Unsets the proxy variables libcurl reads (http_proxy, https_proxy,
 * all_proxy, in both cases): the tests' servers are on 127.0.0.1, and a
 * proxy from the environment must not get in the way. */
void unset_proxies(void);

/* This process's resident set (VmRSS) in kB, or -1 if /proc does not say. */
long rss_kb(void);

/* Under AddressSanitizer the resident set holds its shadow memory and its
 * quarantine of freed blocks: it says nothing about our own memory there. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_MEANINGFUL 0
#endif
#endif
#ifndef RSS_MEANINGFUL
#define RSS_MEANINGFUL 1
#endif

#endif /* SG_TESTLIB_H */
