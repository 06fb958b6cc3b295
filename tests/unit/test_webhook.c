/*
 * test_webhook.c — webhook.c against a real HTTP server: the receiver in
 * tests/webhook_receiver.py (python3), started per test, which checks the
 * HMAC itself and records every request as <n>.json.  Unreachable targets
 * are a closed port; a target that never answers is a listening socket
 * that never accepts.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "sgtime.h"
#include "signet_version.h"
#include "testlib.h"
#include "util.h"
#include "webhook.h"

/* meson passes TEST_DATA_DIR (tests/data, absolute); the receiver sits next
 * to that folder. */
#define RECEIVER       TEST_DATA_DIR "/../webhook_receiver.py"
#define SECRET         "webhook-test-secret"
#define JOB_A          "0123456789abcdef0123456789abcdef"
#define JOB_B          "fedcba9876543210fedcba9876543210"
#define JOB_C          "00000000000000000000000000000001"
#define WAIT_MS        10000 /* longest wait for an asynchronous delivery */
#define TEST_TIMEOUT_S 60

/* main() makes base_dir and removes it at the end, so that what a failed
 * test leaves (Check ends it with _exit) goes too; each test gets tmpdir
 * inside it. */
static char *base_dir;
static char *tmpdir;
static char secret_path[PATH_MAX + 32], out_dir[PATH_MAX + 32];
static pid_t receiver_pid = -1;
static int receiver_port;

static void
stop_receiver(void)
{
	if (receiver_pid > 0) {
		kill(receiver_pid, SIGTERM);
		waitpid(receiver_pid, NULL, 0);
		receiver_pid = -1;
	}
}

/* After a test that passed.  After a failure, the receiver dies with the
 * test (PR_SET_PDEATHSIG) and main() removes the files. */
static void
teardown(void)
{
	stop_receiver();
	(void)tmpdir_free(tmpdir);
	tmpdir = NULL;
}

static void
setup(void)
{
	/* The receiver is on 127.0.0.1. */
	unset_proxies();
	tmpdir = tmpdir_new(base_dir, "test");
	ck_assert_ptr_nonnull(tmpdir);
	snprintf(secret_path, sizeof(secret_path), "%s/secret", tmpdir);
	snprintf(out_dir, sizeof(out_dir), "%s/out", tmpdir);
	ck_assert_int_eq(write_text(secret_path, SECRET "\n", 0600), 0);
	ck_assert_int_eq(mkdir(out_dir, 0700), 0);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Starts the receiver with up to two extra arguments; sets receiver_port. */
static void
start_receiver(const char *secret_file, const char *arg1, const char *arg2)
{
	char port_file[PATH_MAX], buf[32];
	int64_t until = sgtime_mono_ms() + WAIT_MS;
	uint64_t port;
	FILE *f;

	snprintf(port_file, sizeof(port_file), "%s/port", tmpdir);
	receiver_pid = fork();
	ck_assert_int_ne(receiver_pid, -1);
	if (receiver_pid == 0) {
		/* Dies with the test even when the test fails. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execlp("python3", "python3", RECEIVER, "--port-file", port_file, "--out", out_dir,
		    "--secret-file", secret_file, arg1, arg2, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		if ((f = fopen(port_file, "re")) != NULL) {
			char *nl;
			ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
			fclose(f);
			if ((nl = strchr(buf, '\n')) != NULL)
				*nl = '\0';
			ck_assert_int_eq(parse_u64(buf, 65535, &port), 0);
			receiver_port = (int)port;
			return;
		}
		ck_assert_msg(waitpid(receiver_pid, NULL, WNOHANG) == 0, "receiver exited");
		ck_assert_msg(sgtime_mono_ms() < until, "receiver did not start");
		sleep_ms(20);
	}
}

/* A bound TCP socket on 127.0.0.1; listening (never accepting) if listen_too. */
static int
local_socket(int listen_too, int *ret_port)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	if (listen_too)
		ck_assert_int_eq(listen(fd, 64), 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* A port on which nothing listens. */
static int
closed_port(void)
{
	int port, fd = local_socket(0, &port);

	close(fd);
	return port;
}

static void
url_for(char *buf, size_t len, int port, const char *path)
{
	snprintf(buf, len, "http://127.0.0.1:%d%s", port, path);
}

static struct webhooks *
start_ok(const struct webhook_target *t, size_t n, const struct webhook_opts *o)
{
	struct webhooks *w = NULL;
	char err[256];

	ck_assert_msg(webhooks_start(t, n, o, &w, err, sizeof(err)) == 0, "start: %s", err);
	ck_assert_ptr_nonnull(w);
	return w;
}

/* Waits until delivered + failures reach total; returns the elapsed ms. */
static int64_t
wait_settled(struct webhooks *w, uint64_t total)
{
	int64_t t0 = sgtime_mono_ms();

	while (webhooks_delivered(w) + webhooks_failures(w) < total) {
		ck_assert_msg(sgtime_mono_ms() - t0 < WAIT_MS, "deliveries did not settle");
		sleep_ms(10);
	}
	return sgtime_mono_ms() - t0;
}

static int
count_records(void)
{
	char path[PATH_MAX * 2];
	int n = 0;

	for (;;) {
		snprintf(path, sizeof(path), "%s/%d.json", out_dir, n + 1);
		if (access(path, F_OK) != 0)
			return n;
		n++;
	}
}

/* Record n (1-based) as parsed JSON; caller frees with cJSON_Delete. */
static cJSON *
record(int n)
{
	char path[PATH_MAX * 2], *text = NULL;
	size_t len = 0;
	cJSON *j;

	snprintf(path, sizeof(path), "%s/%d.json", out_dir, n);
	ck_assert_int_eq(read_file(path, 4 * 1024 * 1024, &text, &len), 0);
	j = cJSON_ParseWithLength(text, len);
	free(text);
	ck_assert_ptr_nonnull(j);
	return j;
}

static const char *
rec_str(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	ck_assert_msg(cJSON_IsString(v), "record member %s is not a string", name);
	return v->valuestring;
}

static int
rec_true(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	ck_assert(cJSON_IsBool(v));
	return cJSON_IsTrue(v);
}

static int
rec_int(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	ck_assert(cJSON_IsNumber(v));
	return v->valueint;
}

static void
sha256_hex(const void *buf, size_t len, char out[SHA256_HEX_LEN + 1])
{
	uint8_t md[SHA256_LEN];

	SHA256(buf, len, md);
	hex_encode(md, sizeof(md), out);
}

/* --- delivery --- */

START_TEST(deliver_signed_global)
{
	static const char body[] = "{\"v\":1,\"id\":\"" JOB_A "\",\"status\":\"signed\","
				   "\"note\":\"caf\xc3\xa9 \\\"q\\\"\\n\"}\n";
	char url[128], hex[SHA256_HEX_LEN + 1];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	cJSON *j;

	start_receiver(secret_path, NULL, NULL);
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, NULL);
	ck_assert_int_eq(webhooks_notify(w, "signed", "fw-key", JOB_A, body, strlen(body)), 1);
	wait_settled(w, 1);
	ck_assert_uint_eq(webhooks_delivered(w), 1);
	ck_assert_uint_eq(webhooks_failures(w), 0);
	webhooks_stop(w, 1);

	ck_assert_int_eq(count_records(), 1);
	j = record(1);
	ck_assert_str_eq(rec_str(j, "path"), "/hook");
	ck_assert_str_eq(rec_str(j, "event"), "signed");
	ck_assert_str_eq(rec_str(j, "delivery"), JOB_A);
	ck_assert_str_eq(rec_str(j, "content_type"), "application/json");
	ck_assert_str_eq(rec_str(j, "user_agent"), "signet-agent/" SIGNET_VERSION);
	ck_assert(rec_true(j, "signature_ok"));
	ck_assert_str_eq(rec_str(j, "body"), body);
	sha256_hex(body, strlen(body), hex);
	ck_assert_str_eq(rec_str(j, "body_sha256"), hex);
	cJSON_Delete(j);
}
END_TEST

/* The receiver's check can fail: a different secret is noticed. */
START_TEST(deliver_wrong_secret_noticed)
{
	char url[128], other[PATH_MAX];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	cJSON *j;

	snprintf(other, sizeof(other), "%s/other-secret", tmpdir);
	ck_assert_int_eq(write_text(other, SECRET "x\n", 0600), 0);
	start_receiver(other, NULL, NULL);
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, NULL);
	ck_assert_int_eq(webhooks_notify(w, "rejected", NULL, JOB_A, "{}", 2), 1);
	wait_settled(w, 1);
	webhooks_stop(w, 1);
	ck_assert_int_eq(count_records(), 1);
	j = record(1);
	ck_assert(!rec_true(j, "signature_ok"));
	ck_assert_str_eq(rec_str(j, "event"), "rejected");
	cJSON_Delete(j);
}
END_TEST

/* Exactly one trailing newline of the secret file is dropped, on both
 * sides: the key is SECRET "\n". */
START_TEST(deliver_secret_one_newline)
{
	char url[128], path[PATH_MAX];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	cJSON *j;

	snprintf(path, sizeof(path), "%s/two-newlines", tmpdir);
	ck_assert_int_eq(write_text(path, SECRET "\n\n", 0600), 0);
	start_receiver(path, NULL, NULL);
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = path;
	w = start_ok(&t, 1, NULL);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_A, "{}", 2), 1);
	t.secret_file = secret_path; /* SECRET alone: must not match */
	wait_settled(w, 1);
	webhooks_stop(w, 1);
	w = start_ok(&t, 1, NULL);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_B, "{}", 2), 1);
	wait_settled(w, 1);
	webhooks_stop(w, 1);
	ck_assert_int_eq(count_records(), 2);
	j = record(1);
	ck_assert_str_eq(rec_str(j, "delivery"), JOB_A);
	ck_assert(rec_true(j, "signature_ok"));
	cJSON_Delete(j);
	j = record(2);
	ck_assert_str_eq(rec_str(j, "delivery"), JOB_B);
	ck_assert(!rec_true(j, "signature_ok"));
	cJSON_Delete(j);
}
END_TEST

/* Empty body, and a body of exactly WEBHOOK_BODY_MAX bytes; one more byte
 * is a counted failure. */
START_TEST(deliver_body_sizes)
{
	char url[128], hex[SHA256_HEX_LEN + 1];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	char *big = malloc(WEBHOOK_BODY_MAX + 1);
	cJSON *j;
	int i;

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', WEBHOOK_BODY_MAX + 1);
	start_receiver(secret_path, NULL, NULL);
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, NULL);
	ck_assert_int_eq(webhooks_notify(w, "failed", NULL, JOB_A, "", 0), 1);
	wait_settled(w, 1);
	ck_assert_int_eq(webhooks_notify(w, "failed", NULL, JOB_B, big, WEBHOOK_BODY_MAX + 1), 0);
	ck_assert_uint_eq(webhooks_failures(w), 1);
	ck_assert_int_eq(webhooks_notify(w, "failed", NULL, JOB_C, big, WEBHOOK_BODY_MAX), 1);
	wait_settled(w, 3);
	ck_assert_uint_eq(webhooks_delivered(w), 2);
	ck_assert_uint_eq(webhooks_failures(w), 1);
	webhooks_stop(w, 1);
	ck_assert_int_eq(count_records(), 2);
	for (i = 1; i <= 2; i++) {
		j = record(i);
		ck_assert(rec_true(j, "signature_ok"));
		if (strcmp(rec_str(j, "delivery"), JOB_A) == 0) {
			sha256_hex("", 0, hex);
		} else {
			ck_assert_str_eq(rec_str(j, "delivery"), JOB_C);
			sha256_hex(big, WEBHOOK_BODY_MAX, hex);
		}
		ck_assert_str_eq(rec_str(j, "body_sha256"), hex);
		cJSON_Delete(j);
	}
	free(big);
}
END_TEST

/* --- routing --- */

START_TEST(route_key_owner)
{
	char url_g[128], url_o[128];
	struct webhook_target t[2] = { { 0 }, { 0 } };
	struct webhooks *w;
	int i, n_global = 0, n_owner = 0;
	cJSON *j;

	start_receiver(secret_path, NULL, NULL);
	url_for(url_g, sizeof(url_g), receiver_port, "/global");
	url_for(url_o, sizeof(url_o), receiver_port, "/owner");
	t[0].url = url_g;
	t[0].secret_file = secret_path;
	t[1].url = url_o;
	t[1].secret_file = secret_path;
	t[1].key = "fw-key";
	w = start_ok(t, 2, NULL);
	ck_assert_int_eq(webhooks_notify(w, "signed", "other-key", JOB_A, "{}", 2), 1);
	ck_assert_int_eq(webhooks_notify(w, "rejected", "fw-key", JOB_B, "{}", 2), 2);
	ck_assert_int_eq(webhooks_notify(w, "failed", NULL, JOB_C, "{}", 2), 1);
	/* A prefix or a different case is another key. */
	ck_assert_int_eq(webhooks_notify(w, "signed", "fw-ke", JOB_C, "{}", 2), 1);
	ck_assert_int_eq(webhooks_notify(w, "signed", "FW-KEY", JOB_C, "{}", 2), 1);
	wait_settled(w, 6);
	ck_assert_uint_eq(webhooks_delivered(w), 6);
	webhooks_stop(w, 1);
	ck_assert_int_eq(count_records(), 6);
	for (i = 1; i <= 6; i++) {
		j = record(i);
		if (strcmp(rec_str(j, "path"), "/owner") == 0) {
			n_owner++;
			ck_assert_str_eq(rec_str(j, "delivery"), JOB_B);
			ck_assert_str_eq(rec_str(j, "event"), "rejected");
		} else {
			ck_assert_str_eq(rec_str(j, "path"), "/global");
			n_global++;
		}
		cJSON_Delete(j);
	}
	ck_assert_int_eq(n_owner, 1);
	ck_assert_int_eq(n_global, 5);
}
END_TEST

START_TEST(route_events_mask)
{
	char url[128];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	int i, seen_rejected = 0, seen_failed = 0;
	cJSON *j;

	start_receiver(secret_path, NULL, NULL);
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	t.events = WEBHOOK_EVENT_REJECTED | WEBHOOK_EVENT_FAILED;
	w = start_ok(&t, 1, NULL);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_A, "{}", 2), 0);
	ck_assert_int_eq(webhooks_notify(w, "rejected", NULL, JOB_B, "{}", 2), 1);
	ck_assert_int_eq(webhooks_notify(w, "failed", NULL, JOB_C, "{}", 2), 1);
	ck_assert_int_eq(webhooks_notify(w, "Signed", NULL, JOB_A, "{}", 2), 0);
	ck_assert_int_eq(webhooks_notify(w, "bogus", NULL, JOB_A, "{}", 2), 0);
	ck_assert_int_eq(webhooks_notify(w, NULL, NULL, JOB_A, "{}", 2), 0);
	wait_settled(w, 2);
	ck_assert_uint_eq(webhooks_delivered(w), 2);
	ck_assert_uint_eq(webhooks_failures(w), 0);
	webhooks_stop(w, 1);
	ck_assert_int_eq(count_records(), 2);
	for (i = 1; i <= 2; i++) {
		j = record(i);
		if (strcmp(rec_str(j, "event"), "rejected") == 0) {
			seen_rejected++;
			ck_assert_str_eq(rec_str(j, "delivery"), JOB_B);
		} else {
			ck_assert_str_eq(rec_str(j, "event"), "failed");
			ck_assert_str_eq(rec_str(j, "delivery"), JOB_C);
			seen_failed++;
		}
		cJSON_Delete(j);
	}
	ck_assert_int_eq(seen_rejected, 1);
	ck_assert_int_eq(seen_failed, 1);
}
END_TEST

/* A job id that cannot go into a header is a counted failure per target. */
START_TEST(route_bad_id)
{
	struct webhook_target t[2] = { { 0 }, { 0 } };
	struct webhooks *w;
	char id_max[129], id_long[130], url[128];

	memset(id_max, 'a', 128);
	id_max[128] = '\0';
	memset(id_long, 'a', 129);
	id_long[129] = '\0';
	url_for(url, sizeof(url), closed_port(), "/hook");
	t[0].url = url;
	t[0].secret_file = secret_path;
	t[1].url = url;
	t[1].secret_file = secret_path;
	t[1].key = "k";
	w = start_ok(t, 2, &(struct webhook_opts){ .queue_max = 100, .deadline_s = 60 });
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, "a\r\nX-Evil: 1", "{}", 2), 0);
	ck_assert_uint_eq(webhooks_failures(w), 1);
	ck_assert_int_eq(webhooks_notify(w, "signed", "k", NULL, "{}", 2), 0);
	ck_assert_uint_eq(webhooks_failures(w), 3);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, "", "{}", 2), 0);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, "a b", "{}", 2), 0);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, id_long, "{}", 2), 0);
	ck_assert_uint_eq(webhooks_failures(w), 6);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, id_max, "{}", 2), 1);
	ck_assert_uint_eq(webhooks_failures(w), 6);
	webhooks_stop(w, 0);
}
END_TEST

/* --- retries --- */

START_TEST(retry_until_success)
{
	char url[128];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	int i;
	cJSON *j;

	start_receiver(secret_path, "--fail-first", "2");
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, &(struct webhook_opts){ .backoff_ms = 50 });
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_A, "{\"x\":1}", 7), 1);
	wait_settled(w, 1);
	ck_assert_uint_eq(webhooks_delivered(w), 1);
	ck_assert_uint_eq(webhooks_failures(w), 0);
	webhooks_stop(w, 1);
	ck_assert_int_eq(count_records(), 3);
	for (i = 1; i <= 3; i++) {
		j = record(i);
		ck_assert_int_eq(rec_int(j, "status"), i < 3 ? 500 : 204);
		ck_assert_str_eq(rec_str(j, "delivery"), JOB_A);
		ck_assert(rec_true(j, "signature_ok"));
		cJSON_Delete(j);
	}
}
END_TEST

START_TEST(retry_not_on_404)
{
	char url[128];
	struct webhook_target t = { 0 };
	struct webhooks *w;

	start_receiver(secret_path, "--status", "404");
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, &(struct webhook_opts){ .backoff_ms = 20 });
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_A, "{}", 2), 1);
	wait_settled(w, 1);
	ck_assert_uint_eq(webhooks_failures(w), 1);
	/* A retry would come after 20 ms; give it ten times that. */
	sleep_ms(200);
	ck_assert_int_eq(count_records(), 1);
	ck_assert_uint_eq(webhooks_failures(w), 1);
	ck_assert_uint_eq(webhooks_delivered(w), 0);
	webhooks_stop(w, 1);
}
END_TEST

/* 503 is retried until the deadline, then counted once. */
START_TEST(retry_503_until_deadline)
{
	char url[128];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	int64_t t0, elapsed;

	start_receiver(secret_path, "--status", "503");
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, &(struct webhook_opts){ .backoff_ms = 50, .deadline_s = 2 });
	t0 = sgtime_mono_ms();
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_A, "{}", 2), 1);
	wait_settled(w, 1);
	elapsed = sgtime_mono_ms() - t0;
	ck_assert_int_ge(elapsed, 2000);
	ck_assert_uint_eq(webhooks_failures(w), 1);
	ck_assert_uint_eq(webhooks_delivered(w), 0);
	webhooks_stop(w, 1);
	/* 0, ~50, ~150, ~350, ~750, ~1550 ms and at the deadline (jitter is
	 * +-25%); fewer on a slow machine, but more than one. */
	ck_assert_int_ge(count_records(), 2);
	ck_assert_int_le(count_records(), 8);
}
END_TEST

START_TEST(retry_unreachable_deadline)
{
	char url[128];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	int64_t t0;

	url_for(url, sizeof(url), closed_port(), "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, &(struct webhook_opts){ .backoff_ms = 50, .deadline_s = 1 });
	t0 = sgtime_mono_ms();
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_A, "{}", 2), 1);
	sleep_ms(500);
	ck_assert_uint_eq(webhooks_failures(w), 0);
	wait_settled(w, 1);
	ck_assert_int_ge(sgtime_mono_ms() - t0, 1000);
	ck_assert_uint_eq(webhooks_failures(w), 1);
	ck_assert_uint_eq(webhooks_delivered(w), 0);
	webhooks_stop(w, 1);
}
END_TEST

/* --- the queue --- */

START_TEST(queue_overflow_counted)
{
	char url[128];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	int port, fd = local_socket(1, &port), i, queued = 0;
	int64_t t0;

	url_for(url, sizeof(url), port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, &(struct webhook_opts){ .queue_max = 1, .timeout_s = 5 });
	for (i = 0; i < 5; i++)
		queued += webhooks_notify(w, "signed", NULL, JOB_A, "{}", 2);
	ck_assert_int_eq(queued, 1);
	ck_assert_uint_eq(webhooks_failures(w), 4);
	/* Still held (in flight against a server that never answers). */
	sleep_ms(100);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_B, "{}", 2), 0);
	ck_assert_uint_eq(webhooks_failures(w), 5);
	ck_assert_uint_eq(webhooks_delivered(w), 0);
	t0 = sgtime_mono_ms();
	webhooks_stop(w, 0);
	ck_assert_int_lt(sgtime_mono_ms() - t0, 1000);
	close(fd);
}
END_TEST

START_TEST(notify_never_blocks)
{
	char url[128];
	struct webhook_target t[2] = { { 0 }, { 0 } };
	struct webhooks *w;
	int port, fd = local_socket(1, &port), i, queued = 0;
	int64_t t0, elapsed;

	url_for(url, sizeof(url), port, "/hook");
	t[0].url = url;
	t[0].secret_file = secret_path;
	t[1].url = "http://192.0.2.1:9/unroutable"; /* TEST-NET-1 */
	t[1].secret_file = secret_path;
	w = start_ok(t, 2, &(struct webhook_opts){ .timeout_s = 10 });
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_A, "{}", 2), 2);
	sleep_ms(100); /* the thread is now stuck in a transfer */
	t0 = sgtime_mono_ms();
	for (i = 0; i < 100; i++)
		queued += webhooks_notify(w, "signed", NULL, JOB_B, "{\"pad\":\"........\"}", 19);
	elapsed = sgtime_mono_ms() - t0;
	ck_assert_int_lt(elapsed, 50);
	ck_assert_int_eq(queued, 200);
	ck_assert_uint_eq(webhooks_failures(w), 0);
	webhooks_stop(w, 0);
	close(fd);
}
END_TEST

/* --- stop --- */

START_TEST(stop_bounded_by_drain)
{
	char url[128];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	int port, fd = local_socket(1, &port);
	int64_t t0, elapsed;

	url_for(url, sizeof(url), port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, &(struct webhook_opts){ .timeout_s = 30 });
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_A, "{}", 2), 1);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_B, "{}", 2), 1);
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_C, "{}", 2), 1);
	sleep_ms(100);
	t0 = sgtime_mono_ms();
	webhooks_stop(w, 1);
	elapsed = sgtime_mono_ms() - t0;
	ck_assert_int_ge(elapsed, 900);
	ck_assert_int_lt(elapsed, 2000);
	close(fd);
}
END_TEST

/* Queued deliveries are made during the drain. */
START_TEST(stop_drains_queue)
{
	char url[128], id[33];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	int i;

	start_receiver(secret_path, NULL, NULL);
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, NULL);
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "%032d", i);
		ck_assert_int_eq(webhooks_notify(w, "signed", NULL, id, "{}", 2), 1);
	}
	webhooks_stop(w, 10);
	ck_assert_int_eq(count_records(), 5);
}
END_TEST

/* A delivery waiting for its retry gets one more attempt, at once. */
START_TEST(stop_one_attempt_no_backoff)
{
	char url[128];
	struct webhook_target t = { 0 };
	struct webhooks *w;
	int64_t t0;

	start_receiver(secret_path, "--status", "503");
	url_for(url, sizeof(url), receiver_port, "/hook");
	t.url = url;
	t.secret_file = secret_path;
	w = start_ok(&t, 1, &(struct webhook_opts){ .backoff_ms = 60000 });
	ck_assert_int_eq(webhooks_notify(w, "signed", NULL, JOB_A, "{}", 2), 1);
	t0 = sgtime_mono_ms();
	while (count_records() < 1) {
		ck_assert(sgtime_mono_ms() - t0 < WAIT_MS);
		sleep_ms(10);
	}
	sleep_ms(100);
	ck_assert_uint_eq(webhooks_failures(w), 0);
	t0 = sgtime_mono_ms();
	webhooks_stop(w, 10);
	ck_assert_int_lt(sgtime_mono_ms() - t0, 2000);
	ck_assert_int_eq(count_records(), 2);
}
END_TEST

/* --- configuration --- */

START_TEST(start_empty)
{
	struct webhooks *w = start_ok(NULL, 0, NULL);

	ck_assert_int_eq(webhooks_notify(w, "signed", "k", JOB_A, "{}", 2), 0);
	ck_assert_uint_eq(webhooks_delivered(w), 0);
	ck_assert_uint_eq(webhooks_failures(w), 0);
	webhooks_stop(w, 5);
	webhooks_stop(NULL, 5);
	ck_assert_int_eq(webhooks_notify(NULL, "signed", NULL, JOB_A, "{}", 2), 0);
	ck_assert_uint_eq(webhooks_failures(NULL), 0);
	ck_assert_uint_eq(webhooks_delivered(NULL), 0);
}
END_TEST

static void
expect_refused(const struct webhook_target *t, size_t n, const struct webhook_opts *o, int code)
{
	struct webhooks *sentinel = (struct webhooks *)&receiver_port, *w = sentinel;
	char err[256];

	err[0] = '\0';
	ck_assert_int_eq(webhooks_start(t, n, o, &w, err, sizeof(err)), code);
	ck_assert_ptr_eq(w, sentinel);
	ck_assert_msg(err[0] != '\0', "no reason given");
}

START_TEST(start_secret_file_modes)
{
	char path[PATH_MAX];
	struct webhook_target t = { .url = "http://127.0.0.1:1/hook" };
	struct webhooks *w;

	snprintf(path, sizeof(path), "%s/group-secret", tmpdir);
	ck_assert_int_eq(write_text(path, SECRET "\n", 0640), 0);
	t.secret_file = path;
	expect_refused(&t, 1, NULL, SG_ERR_SECRET_FILE);
	ck_assert_int_eq(chmod(path, 0604), 0);
	expect_refused(&t, 1, NULL, SG_ERR_SECRET_FILE);
	ck_assert_int_eq(chmod(path, 0400), 0);
	w = start_ok(&t, 1, NULL);
	webhooks_stop(w, 0);
	/* Empty (a lone newline), missing, none. */
	snprintf(path, sizeof(path), "%s/empty-secret", tmpdir);
	ck_assert_int_eq(write_text(path, "\n", 0600), 0);
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	snprintf(path, sizeof(path), "%s/no-such-secret", tmpdir);
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	t.secret_file = NULL;
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
}
END_TEST

START_TEST(start_bad_urls)
{
	static const char *bad[] = {
		"ftp://127.0.0.1/hook",
		"file:///etc/passwd",
		"gopher://h/",
		"http://",
		"https://",
		"http:///path",
		"127.0.0.1/hook",
		"/hook",
		"",
		"http://user:pw@127.0.0.1/hook",
		"http://user@127.0.0.1/hook",
		"http://127.0.0.1/a b",
		"http://127.0.0.1/a\nb",
		"http://127.0.0.1/\x7f",
	};
	struct webhook_target t = { .secret_file = secret_path };
	struct webhook_target two[2] = {
		{ .url = "http://127.0.0.1/ok", .secret_file = secret_path },
		{ .url = "ftp://127.0.0.1/no", .secret_file = secret_path },
	};
	char *longurl = malloc(WEBHOOK_URL_MAX + 2);
	struct webhooks *w;
	size_t i, pre;

	ck_assert_ptr_nonnull(longurl);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t.url = bad[i];
		expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	}
	t.url = NULL;
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	expect_refused(two, 2, NULL, SG_ERR_CONFIG);
	/* The length limit, at its edge and one past it. */
	snprintf(longurl, WEBHOOK_URL_MAX + 2, "%s", "http://127.0.0.1/");
	pre = strlen(longurl);
	memset(longurl + pre, 'a', WEBHOOK_URL_MAX - pre);
	longurl[WEBHOOK_URL_MAX] = '\0';
	t.url = longurl;
	w = start_ok(&t, 1, NULL);
	webhooks_stop(w, 0);
	longurl[WEBHOOK_URL_MAX] = 'a';
	longurl[WEBHOOK_URL_MAX + 1] = '\0';
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	/* Accepted forms. */
	t.url = "HTTPS://example.org:8443/hooks/signet?team=fw";
	w = start_ok(&t, 1, NULL);
	webhooks_stop(w, 0);
	free(longurl);
}
END_TEST

START_TEST(start_bad_options)
{
	char ca[PATH_MAX];
	struct webhook_target t = { .url = "https://127.0.0.1/hook", .secret_file = secret_path };
	struct webhooks *w;

	snprintf(ca, sizeof(ca), "%s/no-such-ca.pem", tmpdir);
	t.ca_file = ca;
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
	ck_assert_int_eq(write_text(ca, "not checked here\n", 0644), 0);
	w = start_ok(&t, 1, NULL);
	webhooks_stop(w, 0);
	t.ca_file = NULL;
	t.events = 0x20;
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	/* The approval bits are known (they select no result). */
	t.events = WEBHOOK_EVENT_APPROVAL_REQUESTED | WEBHOOK_EVENT_APPROVAL_DECIDED;
	w = start_ok(&t, 1, NULL);
	webhooks_stop(w, 0);
	t.events = WEBHOOK_EVENT_ALL;
	t.key = "";
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	t.key = NULL;
	t.format = WEBHOOK_FORMAT_SLACK + 1;
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	t.format = -1;
	expect_refused(&t, 1, NULL, SG_ERR_CONFIG);
	t.format = WEBHOOK_FORMAT_SLACK;
	w = start_ok(&t, 1, NULL);
	webhooks_stop(w, 0);
	t.format = WEBHOOK_FORMAT_JSON;
	expect_refused(&t, 1, &(struct webhook_opts){ .timeout_s = -1 }, SG_ERR_CONFIG);
	expect_refused(&t, 1, &(struct webhook_opts){ .deadline_s = -1 }, SG_ERR_CONFIG);
	expect_refused(&t, 1, &(struct webhook_opts){ .backoff_ms = -1 }, SG_ERR_CONFIG);
	expect_refused(&t, 1, &(struct webhook_opts){ .backoff_ms = 60001 }, SG_ERR_CONFIG);
	w = start_ok(&t, 1, &(struct webhook_opts){ .backoff_ms = 60000 });
	webhooks_stop(w, 0);
}
END_TEST

/* Names: the configuration's rule, and one target per name. */
START_TEST(start_bad_names)
{
	char name_max[WEBHOOK_NAME_MAX + 2];
	struct webhook_target t[2] = {
		{ .url = "https://127.0.0.1/a", .secret_file = secret_path },
		{ .url = "https://127.0.0.1/b", .secret_file = secret_path },
	};
	struct webhooks *w;

	memset(name_max, 'n', WEBHOOK_NAME_MAX);
	name_max[WEBHOOK_NAME_MAX] = '\0';
	t[0].name = name_max;
	t[1].name = "A.b_c-9";
	w = start_ok(t, 2, NULL);
	webhooks_stop(w, 0);
	name_max[WEBHOOK_NAME_MAX] = 'n';
	name_max[WEBHOOK_NAME_MAX + 1] = '\0';
	expect_refused(t, 2, NULL, SG_ERR_CONFIG);
	t[0].name = "";
	expect_refused(t, 2, NULL, SG_ERR_CONFIG);
	t[0].name = ".chat";
	expect_refused(t, 2, NULL, SG_ERR_CONFIG);
	t[0].name = "chat room";
	expect_refused(t, 2, NULL, SG_ERR_CONFIG);
	t[0].name = "chat/1";
	expect_refused(t, 2, NULL, SG_ERR_CONFIG);
	t[0].name = "A.b_c-9";
	expect_refused(t, 2, NULL, SG_ERR_CONFIG);
	/* Names are case-sensitive. */
	t[0].name = "a.b_c-9";
	w = start_ok(t, 2, NULL);
	webhooks_stop(w, 0);
}
END_TEST

/* --- named deliveries and the slack format --- */

#define JOB_D "job-d"
#define JOB_E "job-e"
#define JOB_F "job-f"
#define JOB_G "job-g"

/* The record whose X-Signet-Delivery is id; exactly one must exist.
 * Caller frees with cJSON_Delete. */
static cJSON *
record_for(const char *id)
{
	cJSON *j, *found = NULL;
	int i, n = count_records();

	for (i = 1; i <= n; i++) {
		j = record(i);
		if (strcmp(rec_str(j, "delivery"), id) == 0) {
			ck_assert_msg(found == NULL, "two deliveries of %s", id);
			found = j;
		} else {
			cJSON_Delete(j);
		}
	}
	ck_assert_msg(found != NULL, "no delivery of %s", id);
	return found;
}

/* The text of a slack body: an object with exactly one member, "text", a
 * string.  Caller frees. */
static char *
slack_text_of(const cJSON *rec)
{
	const char *body = rec_str(rec, "body");
	const char *end = NULL;
	cJSON *j, *text;
	char *out;

	/* The length counts the NUL that require_null_terminated looks for. */
	j = cJSON_ParseWithLengthOpts(body, strlen(body) + 1, &end, 1);
	ck_assert_ptr_nonnull(j);
	ck_assert_ptr_eq(end, body + strlen(body));
	ck_assert(cJSON_IsObject(j));
	ck_assert_int_eq(cJSON_GetArraySize(j), 1);
	text = cJSON_GetObjectItemCaseSensitive(j, "text");
	ck_assert(cJSON_IsString(text));
	ck_assert_ptr_nonnull(out = strdup(text->valuestring));
	cJSON_Delete(j);
	return out;
}

/* Only the targets named get a named delivery, whatever their events or
 * key; a repeated name is one delivery, an unknown one none. */
START_TEST(named_only_named)
{
	static const char body[] = "{\"id\":\"" JOB_A "\",\"approvals\":2}";
	const char *names[] = { "chat", "owner", "chat", "nobody" };
	char url[4][128];
	struct webhook_target t[4] = { { 0 }, { 0 }, { 0 }, { 0 } };
	struct webhooks *w;
	int i, seen[4] = { 0 };
	cJSON *j;

	start_receiver(secret_path, NULL, NULL);
	for (i = 0; i < 4; i++) {
		char path[8];
		snprintf(path, sizeof(path), "/%d", i);
		url_for(url[i], sizeof(url[i]), receiver_port, path);
		t[i].url = url[i];
		t[i].secret_file = secret_path;
	}
	t[0].name = "chat";
	t[0].events = WEBHOOK_EVENT_APPROVAL_REQUESTED;
	t[1].name = "owner";
	t[1].key = "fw-key";
	t[1].events = WEBHOOK_EVENT_FAILED;
	/* t[2] has no name; t[3] a name nobody asks for. */
	t[3].name = "chat2";
	w = start_ok(t, 4, NULL);
	ck_assert_int_eq(webhooks_notify_named(w, names, 4, "approval.requested", JOB_A, body,
			     strlen(body), "approve?"),
	    2);
	ck_assert_int_eq(webhooks_notify_named(
			     w, names + 1, 1, "approval.decided", JOB_B, body, strlen(body), NULL),
	    1);
	/* No names, an unknown event, or no event: nothing. */
	ck_assert_int_eq(
	    webhooks_notify_named(w, names, 0, "approval.decided", JOB_C, body, strlen(body), "x"),
	    0);
	ck_assert_int_eq(
	    webhooks_notify_named(w, NULL, 0, "approval.decided", JOB_C, body, strlen(body), "x"),
	    0);
	ck_assert_int_eq(
	    webhooks_notify_named(w, names, 4, "approval", JOB_C, body, strlen(body), "x"), 0);
	ck_assert_int_eq(
	    webhooks_notify_named(w, names, 4, NULL, JOB_C, body, strlen(body), "x"), 0);
	/* The approval events never go the result way, even to a target whose
	 * mask names them. */
	ck_assert_int_eq(webhooks_notify(w, "approval.requested", NULL, JOB_C, body, 2), 0);
	wait_settled(w, 3);
	ck_assert_uint_eq(webhooks_delivered(w), 3);
	ck_assert_uint_eq(webhooks_failures(w), 0);
	webhooks_stop(w, 1);

	ck_assert_int_eq(count_records(), 3);
	for (i = 1; i <= 3; i++) {
		j = record(i);
		ck_assert(rec_true(j, "signature_ok"));
		ck_assert_str_eq(rec_str(j, "body"), body);
		if (strcmp(rec_str(j, "path"), "/0") == 0) {
			seen[0]++;
			ck_assert_str_eq(rec_str(j, "event"), "approval.requested");
			ck_assert_str_eq(rec_str(j, "delivery"), JOB_A);
		} else {
			ck_assert_str_eq(rec_str(j, "path"), "/1");
			seen[1]++;
			ck_assert_str_eq(rec_str(j, "delivery"), seen[1] == 1 ? JOB_A : JOB_B);
			ck_assert_str_eq(rec_str(j, "event"),
			    seen[1] == 1 ? "approval.requested" : "approval.decided");
		}
		cJSON_Delete(j);
	}
	ck_assert_int_eq(seen[0], 1);
	ck_assert_int_eq(seen[1], 2);
}
END_TEST

/* A slack-format target gets {"text": text}, escaped, its HMAC over those
 * bytes; a json-format target named alongside gets the body itself. */
START_TEST(slack_body_text)
{
	static const char body[] = "{\"id\":\"" JOB_A "\"}";
	static const char text[] = "Approve \"release\" of fw.bin?\n"
				   "\tkey: fw-key \\ caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x94\x8f "
				   "<https://x.example|link>\x01";
	const char *names[] = { "chat", "json" };
	char url[2][128], hex[SHA256_HEX_LEN + 1], *got;
	struct webhook_target t[2] = { { 0 }, { 0 } };
	struct webhooks *w;
	cJSON *j;

	start_receiver(secret_path, NULL, NULL);
	url_for(url[0], sizeof(url[0]), receiver_port, "/slack");
	url_for(url[1], sizeof(url[1]), receiver_port, "/json");
	t[0] = (struct webhook_target){ .url = url[0],
		.secret_file = secret_path,
		.name = "chat",
		.format = WEBHOOK_FORMAT_SLACK };
	t[1] = (struct webhook_target){ .url = url[1], .secret_file = secret_path, .name = "json" };
	w = start_ok(t, 2, NULL);
	ck_assert_int_eq(webhooks_notify_named(
			     w, names, 1, "approval.requested", JOB_A, body, strlen(body), text),
	    1);
	ck_assert_int_eq(
	    webhooks_notify_named(w, names, 2, "approval.decided", JOB_B, body, strlen(body), text),
	    2);
	/* Bytes that are not UTF-8 become U+FFFD, one per byte. */
	ck_assert_int_eq(webhooks_notify_named(w, names, 1, "approval.decided", JOB_C, body,
			     strlen(body), "a\xff\xc3(\xed\xa0\x80z"),
	    1);
	/* No text: a default one. */
	ck_assert_int_eq(
	    webhooks_notify_named(w, names, 1, "approval.decided", JOB_D, body, strlen(body), NULL),
	    1);
	wait_settled(w, 5);
	ck_assert_uint_eq(webhooks_delivered(w), 5);
	webhooks_stop(w, 1);
	ck_assert_int_eq(count_records(), 5);

	j = record(1);
	ck_assert_str_eq(rec_str(j, "path"), "/slack");
	ck_assert_str_eq(rec_str(j, "event"), "approval.requested");
	ck_assert_str_eq(rec_str(j, "delivery"), JOB_A);
	ck_assert_str_eq(rec_str(j, "content_type"), "application/json");
	/* The HMAC is over the slack body, which is not the payload. */
	ck_assert(rec_true(j, "signature_ok"));
	ck_assert_str_ne(rec_str(j, "body"), body);
	sha256_hex(rec_str(j, "body"), strlen(rec_str(j, "body")), hex);
	ck_assert_str_eq(rec_str(j, "body_sha256"), hex);
	got = slack_text_of(j);
	ck_assert_str_eq(got, text);
	free(got);
	cJSON_Delete(j);

	/* Both formats of one notify. */
	j = record(2);
	ck_assert_str_eq(rec_str(j, "path"), "/slack");
	ck_assert_str_eq(rec_str(j, "event"), "approval.decided");
	ck_assert(rec_true(j, "signature_ok"));
	got = slack_text_of(j);
	ck_assert_str_eq(got, text);
	free(got);
	cJSON_Delete(j);
	j = record(3);
	ck_assert_str_eq(rec_str(j, "path"), "/json");
	ck_assert_str_eq(rec_str(j, "delivery"), JOB_B);
	ck_assert_str_eq(rec_str(j, "event"), "approval.decided");
	ck_assert(rec_true(j, "signature_ok"));
	ck_assert_str_eq(rec_str(j, "body"), body);
	cJSON_Delete(j);

	j = record_for(JOB_C);
	got = slack_text_of(j);
	/* \xff, \xc3 (a lead byte without its continuation), then the three
	 * bytes of an encoded surrogate. */
	ck_assert_str_eq(got, "a\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
	free(got);
	cJSON_Delete(j);
	j = record_for(JOB_D);
	got = slack_text_of(j);
	ck_assert_str_eq(got, "signet: job " JOB_D " approval.decided");
	free(got);
	cJSON_Delete(j);
}
END_TEST

/* A long text is cut to at most WEBHOOK_TEXT_MAX bytes, never inside a
 * character. */
START_TEST(slack_text_cut)
{
	static const struct {
		const char *id;
		const char *head, *fill, *tail; /* fill: one character, repeated */
		size_t len, want;               /* bytes of the text, of what must arrive */
	} cases[] = {
		{ JOB_A, "", "x", "", 10000, WEBHOOK_TEXT_MAX },
		{ JOB_B, "a", "\xc3\xa9", "b", 10000, WEBHOOK_TEXT_MAX - 1 },
		{ JOB_C, "ab", "\xf0\x9f\x94\x8f", "cd", 10000, WEBHOOK_TEXT_MAX - 2 },
		{ JOB_D, "", "\xe2\x9c\x93", "x", 10000, WEBHOOK_TEXT_MAX - 1 },
		{ JOB_E, "", "x", "", WEBHOOK_TEXT_MAX, WEBHOOK_TEXT_MAX },
		{ JOB_F, "", "x", "", WEBHOOK_TEXT_MAX + 1, WEBHOOK_TEXT_MAX },
		{ JOB_G, "a", "\xc3\xa9", "", WEBHOOK_TEXT_MAX + 1, WEBHOOK_TEXT_MAX - 1 },
	};
	const char *names[] = { "chat" };
	char url[128], *text[nitems(cases)], *got;
	struct webhook_target t = { 0 };
	struct webhooks *w;
	size_t i, o, fl, tl;
	cJSON *j;

	start_receiver(secret_path, NULL, NULL);
	url_for(url, sizeof(url), receiver_port, "/slack");
	t.url = url;
	t.secret_file = secret_path;
	t.name = "chat";
	t.format = WEBHOOK_FORMAT_SLACK;
	w = start_ok(&t, 1, NULL);
	for (i = 0; i < nitems(cases); i++) {
		ck_assert_ptr_nonnull(text[i] = malloc(cases[i].len + 1));
		o = strlen(cases[i].head);
		memcpy(text[i], cases[i].head, o);
		fl = strlen(cases[i].fill);
		tl = strlen(cases[i].tail);
		for (; o + fl + tl <= cases[i].len; o += fl)
			memcpy(text[i] + o, cases[i].fill, fl);
		memcpy(text[i] + o, cases[i].tail, tl);
		o += tl;
		ck_assert_uint_eq(o, cases[i].len);
		text[i][o] = '\0';
		ck_assert_int_eq(webhooks_notify_named(w, names, 1, "approval.requested",
				     cases[i].id, "{}", 2, text[i]),
		    1);
	}
	wait_settled(w, nitems(cases));
	ck_assert_uint_eq(webhooks_delivered(w), nitems(cases));
	webhooks_stop(w, 1);
	for (i = 0; i < nitems(cases); i++) {
		j = record_for(cases[i].id);
		ck_assert(rec_true(j, "signature_ok"));
		got = slack_text_of(j);
		ck_assert_msg(strlen(got) == cases[i].want, "%s: %zu bytes arrived, want %zu",
		    cases[i].id, strlen(got), cases[i].want);
		ck_assert(strncmp(got, text[i], cases[i].want) == 0);
		ck_assert_int_eq(json_check_utf8(got, strlen(got)), 0);
		free(got);
		free(text[i]);
		cJSON_Delete(j);
	}
}
END_TEST

/* Results to a slack-format target: one line naming the job, the event and
 * the key, with anything but [A-Za-z0-9._-] of them shown as '?'. */
START_TEST(slack_result_text)
{
	static const char body[] = "{\"id\":\"" JOB_A "\",\"status\":\"signed\"}";
	char url[2][128], *got;
	struct webhook_target t[2] = { { 0 }, { 0 } };
	struct webhooks *w;
	cJSON *j;

	start_receiver(secret_path, NULL, NULL);
	url_for(url[0], sizeof(url[0]), receiver_port, "/slack");
	url_for(url[1], sizeof(url[1]), receiver_port, "/json");
	t[0] = (struct webhook_target){
		.url = url[0], .secret_file = secret_path, .format = WEBHOOK_FORMAT_SLACK
	};
	t[1] = (struct webhook_target){ .url = url[1], .secret_file = secret_path };
	w = start_ok(t, 2, NULL);
	ck_assert_int_eq(webhooks_notify(w, "signed", "fw-key", JOB_A, body, strlen(body)), 2);
	ck_assert_int_eq(webhooks_notify(w, "rejected", "<!channel> *x*", JOB_B, "{}", 2), 2);
	ck_assert_int_eq(webhooks_notify(w, "failed", NULL, "<job>&1", "{}", 2), 2);
	wait_settled(w, 6);
	ck_assert_uint_eq(webhooks_delivered(w), 6);
	webhooks_stop(w, 1);
	ck_assert_int_eq(count_records(), 6);

	j = record(1);
	ck_assert_str_eq(rec_str(j, "path"), "/slack");
	ck_assert_str_eq(rec_str(j, "event"), "signed");
	ck_assert(rec_true(j, "signature_ok"));
	got = slack_text_of(j);
	ck_assert_str_eq(got, "signet: job " JOB_A " signed (key fw-key)");
	free(got);
	cJSON_Delete(j);
	j = record(2);
	ck_assert_str_eq(rec_str(j, "path"), "/json");
	ck_assert_str_eq(rec_str(j, "body"), body);
	cJSON_Delete(j);
	j = record(3);
	got = slack_text_of(j);
	ck_assert_str_eq(got, "signet: job " JOB_B " rejected (key ??channel???x?)");
	free(got);
	cJSON_Delete(j);
	j = record(5);
	ck_assert_str_eq(rec_str(j, "event"), "failed");
	ck_assert_str_eq(rec_str(j, "delivery"), "<job>&1");
	got = slack_text_of(j);
	ck_assert_str_eq(got, "signet: job ?job??1 failed");
	free(got);
	cJSON_Delete(j);
}
END_TEST

int main(void);

int
main(void)
{
	Suite *s = suite_create("webhook");
	TCase *tc;
	int status;

	if ((base_dir = tmpdir_new(NULL, "sg-webhook")) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}

	tc = test_case(s, "/webhook/deliver", TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, deliver_signed_global);
	tcase_add_test(tc, deliver_wrong_secret_noticed);
	tcase_add_test(tc, deliver_secret_one_newline);
	tcase_add_test(tc, deliver_body_sizes);
	tc = test_case(s, "/webhook/route", TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, route_key_owner);
	tcase_add_test(tc, route_events_mask);
	tcase_add_test(tc, route_bad_id);
	tc = test_case(s, "/webhook/named", TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, named_only_named);
	tc = test_case(s, "/webhook/slack", TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, slack_body_text);
	tcase_add_test(tc, slack_text_cut);
	tcase_add_test(tc, slack_result_text);
	tc = test_case(s, "/webhook/retry", TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, retry_until_success);
	tcase_add_test(tc, retry_not_on_404);
	tcase_add_test(tc, retry_503_until_deadline);
	tcase_add_test(tc, retry_unreachable_deadline);
	tc = test_case(s, "/webhook/queue", TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, queue_overflow_counted);
	tcase_add_test(tc, notify_never_blocks);
	tc = test_case(s, "/webhook/stop", TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, stop_bounded_by_drain);
	tcase_add_test(tc, stop_drains_queue);
	tcase_add_test(tc, stop_one_attempt_no_backoff);
	tc = test_case(s, "/webhook/start", TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, start_empty);
	tcase_add_test(tc, start_secret_file_modes);
	tcase_add_test(tc, start_bad_urls);
	tcase_add_test(tc, start_bad_options);
	tcase_add_test(tc, start_bad_names);
	status = test_run(s);
	(void)tmpdir_free(base_dir);
	return status;
}
