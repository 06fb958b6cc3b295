/*
 * test_util.c — util.h: hex, checked integer parsing, bounded file
 * reading, secret files, atomic writes and wiping.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"
#include "util.h"

int main(void);

#define TEST_TIMEOUT_S 60
#define SENTINEL       ((void *)0x5a5a)

/* Number of entries in dir, "." and ".." excluded. */
static int
count_entries(const char *dir)
{
	char *cmd = NULL;
	FILE *p;
	int n = -1;

	ck_assert_int_gt(asprintf(&cmd, "ls -A '%s' | wc -l", dir), 0);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	free(cmd);
	return n;
}

START_TEST(test_hex)
{
	static const uint8_t bytes[] = { 0x00, 0x01, 0xab, 0xff, 0x7f };
	uint8_t out[5], two[2] = { 9, 9 };
	char hex[11];

	hex_encode(bytes, sizeof(bytes), hex);
	ck_assert_str_eq(hex, "0001abff7f");
	ck_assert_int_eq(hex_decode(hex, 10, out, sizeof(out)), 0);
	ck_assert(memcmp(out, bytes, sizeof(out)) == 0);
	hex_encode(bytes, 0, hex);
	ck_assert_str_eq(hex, "");
	ck_assert_int_eq(hex_decode("ABCD", 4, two, 2), SG_ERR_PARSE);
	ck_assert_int_eq(hex_decode("abc", 3, two, 2), SG_ERR_PARSE);
	ck_assert_int_eq(hex_decode("abcdef", 6, two, 2), SG_ERR_PARSE);
	ck_assert_int_eq(hex_decode("ab g", 4, two, 2), SG_ERR_PARSE);
	ck_assert_int_eq(hex_decode("abc\0", 4, two, 2), SG_ERR_PARSE);
	ck_assert_int_eq(hex_decode("abcg", 4, two, 2), SG_ERR_PARSE);
	/* Untouched on error, even when the first byte was fine. */
	ck_assert_uint_eq(two[0], 9);
	ck_assert_uint_eq(two[1], 9);
	ck_assert(is_lower_hex("00ff", 4));
	ck_assert(!is_lower_hex("00fF", 4));
	ck_assert(!is_lower_hex("00ff0", 4));
	ck_assert(!is_lower_hex("00f", 4));
	ck_assert(!is_lower_hex(NULL, 0));
	ck_assert(is_lower_hex("", 0));
}
END_TEST

START_TEST(test_parse_u64)
{
	uint64_t v = 7;

	ck_assert_int_eq(parse_u64("0", 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_u64("10", 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(parse_u64("255", 255, &v), 0);
	ck_assert_uint_eq(v, 255);
	ck_assert_int_eq(parse_u64("0", 0, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	v = 7;
	ck_assert_int_eq(parse_u64("11", 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("18446744073709551616", UINT64_MAX, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("99999999999999999999", UINT64_MAX, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("", 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64(NULL, 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("01", 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("00", 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("-1", 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("+1", 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64(" 1", 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("1 ", 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("0x1", 10, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("1e3", 10000, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("1", 0, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("10", 9, &v), SG_ERR_PARSE);
	ck_assert_int_eq(parse_u64("256", 255, &v), SG_ERR_PARSE);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_read_file_limits)
{
	char *dir = test_tmpdir(), *path, *buf = SENTINEL;
	size_t len = 77;

	path = test_write_file(dir, "f", "0123456789", 10, 0644);
	ck_assert_int_eq(read_file(path, 10, &buf, &len), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(buf, "0123456789"); /* NUL-terminated */
	free(buf);
	buf = SENTINEL;
	len = 77;
	ck_assert_int_eq(read_file(path, 9, &buf, &len), SG_ERR_LIMIT);
	ck_assert_int_eq(read_file(path, 0, &buf, &len), SG_ERR_LIMIT);
	ck_assert_ptr_eq(buf, SENTINEL);
	ck_assert_uint_eq(len, 77);
	ck_assert_int_eq(read_file(path, SIZE_MAX, &buf, &len), 0);
	ck_assert_uint_eq(len, 10);
	free(buf);
	free(path);

	path = test_write_file(dir, "empty", "", 0, 0644);
	buf = SENTINEL;
	ck_assert_int_eq(read_file(path, 0, &buf, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(buf, "");
	free(buf);
	free(path);
	test_tmpdir_free(dir);
}
END_TEST

START_TEST(test_read_file_kinds)
{
	char *dir = test_tmpdir(), *fifo = NULL, *buf = SENTINEL, *link = NULL;
	size_t len = 77;

	ck_assert_int_eq(read_file("/nonexistent/signet", 100, &buf, &len), SG_ERR_NOT_FOUND);
	ck_assert_int_eq(read_file(dir, 100, &buf, &len), SG_ERR_SYSTEM);
	ck_assert_int_eq(read_file("/dev/null", 100, &buf, &len), SG_ERR_SYSTEM);
	/* A FIFO would block a naive open(); it must be refused at once. */
	ck_assert_int_gt(asprintf(&fifo, "%s/fifo", dir), 0);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(read_file(fifo, 100, &buf, &len), SG_ERR_SYSTEM);
	ck_assert_int_eq(read_file(NULL, 100, &buf, &len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_eq(buf, SENTINEL);
	ck_assert_uint_eq(len, 77);
	/* A symlink to a regular file is read (the target is what counts). */
	ck_assert_int_gt(asprintf(&link, "%s/link", dir), 0);
	ck_assert_int_eq(symlink(TEST_DATA_DIR "/crypto-msg.txt", link), 0);
	ck_assert_int_eq(read_file(link, 100, &buf, &len), 0);
	ck_assert_str_eq(buf, "signet test message\n");
	free(buf);
	free(link);
	free(fifo);
	test_tmpdir_free(dir);
}
END_TEST

/* The file descriptor is closed again. */
START_TEST(test_read_file_no_fd_leak)
{
	char *buf = NULL;
	size_t len = 0;
	int before, after;

	before = dup(0);
	close(before);
	ck_assert_int_eq(read_file(TEST_DATA_DIR "/crypto-msg.txt", 100, &buf, &len), 0);
	after = dup(0);
	close(after);
	ck_assert_int_eq(before, after);
	free(buf);
}
END_TEST

static void
assert_secret(const char *content, size_t clen, mode_t mode, int want_r, const char *want)
{
	char *dir = test_tmpdir(), *path = test_write_file(dir, "secret", content, clen, mode);
	char *s = SENTINEL;
	size_t len = 77;

	ck_assert_int_eq(read_secret_file(path, &s, &len), want_r);
	if (want_r == 0) {
		ck_assert_uint_eq(len, strlen(want));
		ck_assert(memcmp(s, want, len + 1) == 0);
		freezero(s, len + 1);
	} else {
		ck_assert_ptr_eq(s, SENTINEL);
		ck_assert_uint_eq(len, 77);
	}
	free(path);
	test_tmpdir_free(dir);
}

START_TEST(test_secret_modes)
{
	static const mode_t refused[] = { 0640, 0604, 0660, 0644, 0620, 0602, 0610, 0601, 0777 };
	size_t i;

	assert_secret("1234\n", 5, 0600, 0, "1234");
	assert_secret("1234\n", 5, 0400, 0, "1234");
	assert_secret("1234\n", 5, 0700, 0, "1234");
	for (i = 0; i < nitems(refused); i++)
		assert_secret("1234\n", 5, refused[i], SG_ERR_SECRET_FILE, NULL);
}
END_TEST

START_TEST(test_secret_content)
{
	assert_secret("1234", 4, 0600, 0, "1234");
	assert_secret("1234\n\n", 6, 0600, 0, "1234\n"); /* exactly one dropped */
	assert_secret("1234\r\n", 6, 0600, 0, "1234\r"); /* only "\n" */
	assert_secret(" 1234 \n", 7, 0600, 0, " 1234 "); /* no other trimming */
	assert_secret("", 0, 0600, SG_ERR_CONFIG, NULL);
	assert_secret("\n", 1, 0600, SG_ERR_CONFIG, NULL);
	assert_secret("12\0"
		      "34\n",
	    6, 0600, SG_ERR_CONFIG, NULL);
}
END_TEST

START_TEST(test_secret_limits)
{
	char *dir = test_tmpdir(), *path, *s = SENTINEL;
	char big[SECRET_FILE_MAX + 1];
	size_t len = 0;

	memset(big, 'p', sizeof(big));
	path = test_write_file(dir, "at-limit", big, SECRET_FILE_MAX, 0600);
	ck_assert_int_eq(read_secret_file(path, &s, &len), 0);
	ck_assert_uint_eq(len, SECRET_FILE_MAX);
	freezero(s, len + 1);
	free(path);
	path = test_write_file(dir, "over-limit", big, SECRET_FILE_MAX + 1, 0600);
	s = SENTINEL;
	ck_assert_int_eq(read_secret_file(path, &s, &len), SG_ERR_LIMIT);
	ck_assert_ptr_eq(s, SENTINEL);
	free(path);
	ck_assert_int_eq(read_secret_file("/nonexistent/pin", &s, &len), SG_ERR_NOT_FOUND);
	ck_assert_int_eq(read_secret_file(dir, &s, &len), SG_ERR_SYSTEM);
	ck_assert_ptr_eq(s, SENTINEL);
	test_tmpdir_free(dir);
}
END_TEST

START_TEST(test_write_file_atomic)
{
	char *dir = test_tmpdir(), *path = NULL, *buf = NULL;
	size_t len = 0;
	struct stat st;

	ck_assert_int_gt(asprintf(&path, "%s/out.sig", dir), 0);
	umask(077);
	ck_assert_int_eq(write_file_atomic(path, "first", 5, 0644), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644); /* umask does not apply */
	ck_assert_int_eq(read_file(path, 100, &buf, &len), 0);
	ck_assert_str_eq(buf, "first");
	free(buf);
	/* Replacing keeps no trace of the old content or of the temp file. */
	ck_assert_int_eq(write_file_atomic(path, "2nd", 3, 0600), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(read_file(path, 100, &buf, &len), 0);
	ck_assert_str_eq(buf, "2nd");
	free(buf);
	ck_assert_int_eq(write_file_atomic(path, NULL, 0, 0600), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(count_entries(dir), 1);
	/* Setuid and friends are dropped. */
	ck_assert_int_eq(write_file_atomic(path, "x", 1, 04755), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	free(path);
	test_tmpdir_free(dir);
}
END_TEST

START_TEST(test_write_file_atomic_failures)
{
	char *dir = test_tmpdir(), *sub = NULL, *relpath = NULL;

	/* Renaming over a directory fails: the temp file must be gone. */
	ck_assert_int_gt(asprintf(&sub, "%s/target", dir), 0);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(write_file_atomic(sub, "x", 1, 0600), SG_ERR_SYSTEM);
	ck_assert_int_eq(count_entries(dir), 1);
	ck_assert_int_eq(write_file_atomic("/nonexistent/dir/f", "x", 1, 0600), SG_ERR_SYSTEM);
	ck_assert_int_eq(write_file_atomic("", "x", 1, 0600), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(write_file_atomic(NULL, "x", 1, 0600), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(write_file_atomic("a/", "x", 1, 0600), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(write_file_atomic(sub, NULL, 1, 0600), SG_ERR_INVALID_ARGUMENT);
	/* A relative path in the current directory works (dir fsync of "."). */
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(asprintf(&relpath, "rel"), 3);
	ck_assert_int_eq(write_file_atomic(relpath, "y", 1, 0600), 0);
	ck_assert_int_eq(count_entries(dir), 2);
	free(relpath);
	free(sub);
	test_tmpdir_free(dir);
}
END_TEST

START_TEST(test_freezero_xstrdup)
{
	char *s;

	freezero(NULL, 10);
	ck_assert_ptr_null(xstrdup(NULL));
	s = xstrdup("pin");
	ck_assert_str_eq(s, "pin");
	freezero(s, 4);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("util");

	test_add(s, "/util/hex", test_hex, TEST_TIMEOUT_S);
	test_add(s, "/util/parse-u64", test_parse_u64, TEST_TIMEOUT_S);
	test_add(s, "/util/read-file/limits", test_read_file_limits, TEST_TIMEOUT_S);
	test_add(s, "/util/read-file/kinds", test_read_file_kinds, TEST_TIMEOUT_S);
	test_add(s, "/util/read-file/closes-fd", test_read_file_no_fd_leak, TEST_TIMEOUT_S);
	test_add(s, "/util/read-secret-file/modes", test_secret_modes, TEST_TIMEOUT_S);
	test_add(s, "/util/read-secret-file/content", test_secret_content, TEST_TIMEOUT_S);
	test_add(s, "/util/read-secret-file/limits", test_secret_limits, TEST_TIMEOUT_S);
	test_add(s, "/util/write-file-atomic/replace", test_write_file_atomic, TEST_TIMEOUT_S);
	test_add(
	    s, "/util/write-file-atomic/failures", test_write_file_atomic_failures, TEST_TIMEOUT_S);
	test_add(s, "/util/freezero-xstrdup", test_freezero_xstrdup, TEST_TIMEOUT_S);

	return test_run(s);
}
