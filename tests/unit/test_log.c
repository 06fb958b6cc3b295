/*
 * test_log.c — log.h: escaping untrusted strings, the plain and JSON line
 * formats, levels, the cap on a line, and structured events.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "sgtime.h"
#include "testlib.h"
#include "util.h"

int main(void);

#define TEST_TIMEOUT_S 60

START_TEST(test_log_escape)
{
	char out[64];

	ck_assert_str_eq(log_escape("plain name.bin", 100, out, sizeof(out)), "plain name.bin");
	ck_assert_str_eq(log_escape("a\"b\\c", 5, out, sizeof(out)), "a\\\"b\\\\c");
	ck_assert_str_eq(log_escape("l1\nl2\t\x7f", 7, out, sizeof(out)), "l1\\x0al2\\x09\\x7f");
	ck_assert_str_eq(log_escape("\xc3\xa9", 2, out, sizeof(out)), "\\xc3\\xa9");
	/* len caps the input; a NUL ends it early. */
	ck_assert_str_eq(log_escape("abcdef", 3, out, sizeof(out)), "abc");
	ck_assert_str_eq(log_escape("ab\0cd", 5, out, sizeof(out)), "ab");
	ck_assert_str_eq(log_escape(NULL, 5, out, sizeof(out)), "(null)");
	ck_assert_str_eq(log_escape("", 0, out, sizeof(out)), "");
}
END_TEST

START_TEST(test_log_escape_truncation)
{
	char out[8];

	/* Fits exactly (7 chars + NUL): no ellipsis. */
	ck_assert_str_eq(log_escape("1234567", 7, out, 8), "1234567");
	/* One more: truncated with "...". */
	ck_assert_str_eq(log_escape("12345678", 8, out, 8), "1234...");
	/* An escape is never split: "\x0a" (4) does not fit after "12". */
	ck_assert_str_eq(log_escape("12\n45678", 8, out, 8), "12...");
	ck_assert_str_eq(log_escape("123\n", 4, out, 8), "123\\x0a");
	ck_assert_str_eq(log_escape("abc", 3, out, 1), "");
	ck_assert_str_eq(log_escape("abc", 3, out, 3), "..");
	ck_assert_str_eq(log_escape("abcd", 4, out, 4), "...");
	out[0] = 'z';
	ck_assert_ptr_eq(log_escape("abc", 3, out, 0), out);
	ck_assert_int_eq(out[0], 'z');
}
END_TEST

/* Runs fn with stderr redirected to a file; returns what was written. */
static char *
capture_stderr(void (*fn)(void))
{
	char *dir = test_tmpdir(), *path = NULL, *buf = NULL;
	size_t len = 0;
	int fd, saved;

	ck_assert_int_gt(asprintf(&path, "%s/err", dir), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn();
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(fd);
	ck_assert_int_eq(read_file(path, 1 << 20, &buf, &len), 0);
	free(path);
	test_tmpdir_free(dir);
	return buf;
}

static void
log_plain(void)
{
	log_init("signet-test", LOG_LEVEL_INFO, LOG_FORMAT_PLAIN);
	log_error("bad %s", "thing");
	log_warn_r(SG_ERR_PARSE, "cannot read");
	log_info("started");
	log_debug("hidden at info");
	log_info("evil\nsignet-test: error: forged");
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("now shown");
}

START_TEST(test_log_plain)
{
	char *out = capture_stderr(log_plain);

	ck_assert_str_eq(out,
	    "signet-test: error: log_plain: bad thing\n"
	    "signet-test: warn: log_plain: cannot read: unparseable input\n"
	    "signet-test: info: started\n"
	    "signet-test: info: evil\\x0asignet-test: error: forged\n"
	    "signet-test: debug: log_plain: now shown\n");
	free(out);
}
END_TEST

static void
log_json(void)
{
	errno = EACCES;
	log_init("agent", LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
	log_error_r(SG_ERR_JOB_EXPIRED, "job %s: \"q\" \\ \x01 \xc3", "ab12");
	/* The logger leaves errno alone. */
	ck_assert_int_eq(errno, EACCES);
}

START_TEST(test_log_json)
{
	char *out = capture_stderr(log_json);
	const char *rest;

	/* {"time":"YYYY-MM-DDTHH:MM:SSZ", then fixed members. */
	ck_assert(strncmp(out, "{\"time\":\"", 9) == 0);
	ck_assert_uint_gt(strlen(out), 9 + SGTIME_LEN + 1);
	ck_assert_int_eq(out[9 + SGTIME_LEN - 1], 'Z');
	ck_assert_int_eq(out[9 + SGTIME_LEN], '"');
	rest = out + 9 + SGTIME_LEN + 1;
	ck_assert_str_eq(rest,
	    ",\"level\":\"error\",\"ident\":\"agent\",\"func\":\"log_json\","
	    "\"msg\":\"job ab12: \\\"q\\\" \\\\ \\u0001 \\u00c3\","
	    "\"error\":\"job expired\"}\n");
	free(out);
}
END_TEST

static void
log_long(void)
{
	char big[5000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_init("t", LOG_LEVEL_INFO, LOG_FORMAT_PLAIN);
	log_info("%s", big);
}

START_TEST(test_log_long_message)
{
	char *out = capture_stderr(log_long);
	size_t len = strlen(out);

	/* Capped, marked, still one line. */
	ck_assert_uint_lt(len, 4096);
	ck_assert(strcmp(out + len - 4, "...\n") == 0);
	ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
	free(out);
}
END_TEST

/* A job's hostile values: quotes, a forged member, control bytes, non-ASCII. */
#define EVIL_KEY "rel\",\"status\":\"signed\n\x01\xc3\xa9"

static void
log_events(void)
{
	char big[LOG_VALUE_MAX_BYTES + 100];
	struct log_fields f = {
		.job = "ab12",
		.entry = "1-0",
		.submitter = "ci",
		.key = EVIL_KEY,
		.status = "rejected",
		.code = "policy.unknown_key",
		.has = LOG_HAS_DURATION_MS | LOG_HAS_APPROVALS,
		.duration_ms = 42,
		.approvals = 0,
	};

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_event(LOG_LEVEL_INFO, "decision", &f, "job %s key %s: rejected", "ab12", "rel");
	f.key = big;
	f.has = 0;
	log_event(LOG_LEVEL_WARN, "decision", &f, "second");
	log_event(LOG_LEVEL_DEBUG, "decision", &f, "hidden at info");
	log_event(LOG_LEVEL_INFO, "stop", NULL, "stopped");
}

static void
log_events_plain(void)
{
	log_init("agent", LOG_LEVEL_INFO, LOG_FORMAT_PLAIN);
	log_events();
}

static void
log_events_json(void)
{
	log_init("agent", LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	log_events();
}

/* The plain format prints the message alone, as log_info() would. */
START_TEST(test_log_event_plain)
{
	char *out = capture_stderr(log_events_plain);

	ck_assert_str_eq(out,
	    "agent: info: job ab12 key rel: rejected\n"
	    "agent: warn: log_events: second\n"
	    "agent: info: stopped\n");
	free(out);
}
END_TEST

static const char *
member_str(const cJSON *o, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

	ck_assert_msg(cJSON_IsString(m), "member %s is not a string", name);
	return m->valuestring;
}

static cJSON *
parse_line(const char *start, const char **ret_next)
{
	const char *nl = strchr(start, '\n');
	const char *end = NULL;
	cJSON *o;

	ck_assert_ptr_nonnull(nl);
	o = cJSON_ParseWithLengthOpts(start, (size_t)(nl - start), &end, 0);
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_eq(end, nl);
	ck_assert(cJSON_IsObject(o));
	*ret_next = nl + 1;
	return o;
}

START_TEST(test_log_event_json)
{
	char *out = capture_stderr(log_events_json);
	const char *p = out;
	const cJSON *d;
	cJSON *o;
	size_t i;

	/* Each line is one JSON object, with the facts at the top level. */
	o = parse_line(p, &p);
	ck_assert_str_eq(member_str(o, "level"), "info");
	ck_assert_str_eq(member_str(o, "event"), "decision");
	ck_assert_str_eq(member_str(o, "job"), "ab12");
	ck_assert_str_eq(member_str(o, "entry"), "1-0");
	ck_assert_str_eq(member_str(o, "submitter"), "ci");
	ck_assert_str_eq(member_str(o, "status"), "rejected");
	ck_assert_str_eq(member_str(o, "code"), "policy.unknown_key");
	ck_assert_str_eq(member_str(o, "msg"), "job ab12 key rel: rejected");
	/* The hostile key is one string member: no forged status, no raw
	 * control byte; bytes above ASCII come back as U+00XX each. */
	ck_assert_str_eq(member_str(o, "key"), "rel\",\"status\":\"signed\n\x01\xc3\x83\xc2\xa9");
	ck_assert(strstr(out, "\"status\":\"signed") == NULL);
	d = cJSON_GetObjectItemCaseSensitive(o, "duration_ms");
	ck_assert(cJSON_IsNumber(d));
	ck_assert_int_eq((int)d->valuedouble, 42);
	d = cJSON_GetObjectItemCaseSensitive(o, "approvals");
	ck_assert(cJSON_IsNumber(d));
	ck_assert_int_eq((int)d->valuedouble, 0);
	/* Absent members are left out. */
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "artifact"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "required"));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "error"));
	cJSON_Delete(o);

	/* A long value is capped and marked. */
	o = parse_line(p, &p);
	ck_assert_str_eq(member_str(o, "level"), "warn");
	ck_assert_uint_eq(strlen(member_str(o, "key")), LOG_VALUE_MAX_BYTES + 3);
	for (i = 0; i < LOG_VALUE_MAX_BYTES; i++)
		ck_assert_int_eq(member_str(o, "key")[i], 'z');
	ck_assert_str_eq(member_str(o, "key") + LOG_VALUE_MAX_BYTES, "...");
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "duration_ms"));
	cJSON_Delete(o);

	/* No fields at all; the debug line was not written. */
	o = parse_line(p, &p);
	ck_assert_str_eq(member_str(o, "event"), "stop");
	ck_assert_str_eq(member_str(o, "msg"), "stopped");
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "job"));
	cJSON_Delete(o);
	ck_assert_str_eq(p, "");
	free(out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");

	test_add(s, "/log/escape", test_log_escape, TEST_TIMEOUT_S);
	test_add(s, "/log/escape/truncation", test_log_escape_truncation, TEST_TIMEOUT_S);
	test_add(s, "/log/plain", test_log_plain, TEST_TIMEOUT_S);
	test_add(s, "/log/json", test_log_json, TEST_TIMEOUT_S);
	test_add(s, "/log/long-message", test_log_long_message, TEST_TIMEOUT_S);
	test_add(s, "/log/event/plain", test_log_event_plain, TEST_TIMEOUT_S);
	test_add(s, "/log/event/json", test_log_event_json, TEST_TIMEOUT_S);

	return test_run(s);
}
