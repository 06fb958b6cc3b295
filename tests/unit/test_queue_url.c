/*
 * test_queue_url.c — queue_url_parse(): the two schemes of SPEC §5, every
 * limit at its edge and one past it, and the ways curl's leniency could let
 * a wrong URL through.
 */
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "testlib.h"

int main(void);

#define TEST_TIMEOUT_S TEST_TIMEOUT_DEFAULT /* Check's */

/* A value that no parse leaves in *ret, to see that errors reset it. */
static struct queue_url sentinel;

static struct queue_url *
parse_ok(const char *url)
{
	struct queue_url *u = &sentinel;
	int r = queue_url_parse(url, &u);

	ck_assert_msg(r == 0, "%s: %d", url, r);
	ck_assert_ptr_nonnull(u);
	ck_assert_ptr_ne(u, &sentinel);
	return u;
}

static void
parse_fails(const char *url)
{
	struct queue_url *u = &sentinel;
	int r = queue_url_parse(url, &u);

	ck_assert_msg(r == SG_ERR_PARSE, "%s: %d", url, r);
	ck_assert_ptr_null(u);
}

/* A string of n copies of c (caller frees). */
static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static char *
concat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

START_TEST(redis_defaults)
{
	struct queue_url *u = parse_ok("redis://localhost");

	ck_assert_int_eq(u->is_unix, 0);
	ck_assert_str_eq(u->host, "localhost");
	ck_assert_int_eq(u->port, 6379);
	ck_assert_int_eq(u->db, 0);
	ck_assert_ptr_null(u->path);
	ck_assert_ptr_null(u->user);
	ck_assert_ptr_null(u->password);
	queue_url_free(u);
}
END_TEST

START_TEST(redis_full)
{
	struct queue_url *u = parse_ok("redis://alice:p%40ss%3Aw%2Fd@redis.example.org:6380/7");

	ck_assert_int_eq(u->is_unix, 0);
	ck_assert_str_eq(u->host, "redis.example.org");
	ck_assert_int_eq(u->port, 6380);
	ck_assert_int_eq(u->db, 7);
	ck_assert_str_eq(u->user, "alice");
	ck_assert_str_eq(u->password, "p@ss:w/d");
	ck_assert_ptr_null(u->path);
	queue_url_free(u);
}
END_TEST

START_TEST(redis_scheme_case)
{
	struct queue_url *u = parse_ok("REDIS://h:1");

	ck_assert_int_eq(u->is_unix, 0);
	ck_assert_int_eq(u->port, 1);
	queue_url_free(u);
}
END_TEST

START_TEST(redis_password_only)
{
	struct queue_url *u = parse_ok("redis://:secret@h");

	ck_assert_ptr_null(u->user);
	ck_assert_str_eq(u->password, "secret");
	queue_url_free(u);
}
END_TEST

START_TEST(redis_user_only)
{
	struct queue_url *u = parse_ok("redis://bob@h");

	ck_assert_str_eq(u->user, "bob");
	ck_assert_ptr_null(u->password);
	queue_url_free(u);
}
END_TEST

START_TEST(redis_empty_password_is_none)
{
	struct queue_url *u = parse_ok("redis://bob:@h");

	ck_assert_str_eq(u->user, "bob");
	ck_assert_ptr_null(u->password);
	queue_url_free(u);
}
END_TEST

START_TEST(redis_encoded_colon_in_user)
{
	struct queue_url *u = parse_ok("redis://us%3Aer:p%3Aw@h");

	ck_assert_str_eq(u->user, "us:er");
	ck_assert_str_eq(u->password, "p:w");
	queue_url_free(u);
	parse_fails("redis://a@b@h");
	parse_fails("redis://[::1");
	parse_fails("redis://[::1]x");
}
END_TEST

START_TEST(redis_plus_is_not_space)
{
	struct queue_url *u = parse_ok("redis://:a+b@h");

	ck_assert_str_eq(u->password, "a+b");
	queue_url_free(u);
}
END_TEST

START_TEST(redis_ipv6)
{
	struct queue_url *u = parse_ok("redis://[::1]:6390/2");

	ck_assert_str_eq(u->host, "::1");
	ck_assert_int_eq(u->port, 6390);
	ck_assert_int_eq(u->db, 2);
	queue_url_free(u);
}
END_TEST

START_TEST(redis_ipv6_zone)
{
	struct queue_url *u = parse_ok("redis://[fe80::1%25eth0]");

	ck_assert_str_eq(u->host, "fe80::1%eth0");
	ck_assert_int_eq(u->port, 6379);
	queue_url_free(u);
}
END_TEST

START_TEST(redis_port_edges)
{
	struct queue_url *u = parse_ok("redis://h:65535");

	ck_assert_int_eq(u->port, 65535);
	queue_url_free(u);
	u = parse_ok("redis://h:1");
	ck_assert_int_eq(u->port, 1);
	queue_url_free(u);
	/* An empty port is the default port (RFC 3986 §3.2.3). */
	u = parse_ok("redis://h:");
	ck_assert_int_eq(u->port, 6379);
	queue_url_free(u);
	parse_fails("redis://h:0");
	parse_fails("redis://h:65536");
	parse_fails("redis://h:-1");
	parse_fails("redis://h:+1");
	parse_fails("redis://h:1x");
	parse_fails("redis://h:99999999999999999999999");
	parse_fails("redis://h:1:2");
}
END_TEST

START_TEST(redis_db_edges)
{
	struct queue_url *u = parse_ok("redis://h/0");

	ck_assert_int_eq(u->db, 0);
	queue_url_free(u);
	u = parse_ok("redis://h/15");
	ck_assert_int_eq(u->db, 15);
	queue_url_free(u);
	u = parse_ok("redis://h/");
	ck_assert_int_eq(u->db, 0);
	queue_url_free(u);
	parse_fails("redis://h/16");
	parse_fails("redis://h/00");
	parse_fails("redis://h/01");
	parse_fails("redis://h/-1");
	parse_fails("redis://h/+1");
	parse_fails("redis://h/1/");
	parse_fails("redis://h//1");
	parse_fails("redis://h/a");
	parse_fails("redis://h/1a");
	parse_fails("redis://h/%31");
	parse_fails("redis://h/../1");
	parse_fails("redis://h/18446744073709551616");
}
END_TEST

START_TEST(redis_query_fragment_refused)
{
	parse_fails("redis://h?x=1");
	parse_fails("redis://h/0?");
	parse_fails("redis://h/0?db=1");
	parse_fails("redis://h#f");
	parse_fails("redis://h/0#");
	parse_fails("redis://:a#b@h");
}
END_TEST

START_TEST(redis_authority_required)
{
	parse_fails("redis://");
	parse_fails("redis:///3");
	parse_fails("redis:////h");
	parse_fails("redis:h");
	parse_fails("redis:/h");
	parse_fails("redis://:pw@");
	parse_fails("redis://u:pw@/0");
	parse_fails("redis://:6379");
}
END_TEST

START_TEST(redis_nul_in_credentials)
{
	parse_fails("redis://:a%00b@h");
	parse_fails("redis://a%00b:pw@h");
}
END_TEST

START_TEST(redis_password_limit)
{
	char *pw = repeat('p', QUEUE_PASSWORD_MAX);
	char *url = concat3("redis://:", pw, "@h");
	struct queue_url *u = parse_ok(url);

	ck_assert_uint_eq(strlen(u->password), QUEUE_PASSWORD_MAX);
	queue_url_free(u);
	free(url);
	free(pw);

	pw = repeat('p', QUEUE_PASSWORD_MAX + 1);
	url = concat3("redis://:", pw, "@h");
	parse_fails(url);
	free(url);
	free(pw);
}
END_TEST

START_TEST(url_length_limit)
{
	/* "redis://" + user + "@h" is exactly QUEUE_URL_MAX, then one more. */
	size_t fixed = strlen("redis://") + strlen("@h");
	char *user = repeat('u', QUEUE_URL_MAX - fixed);
	char *url = concat3("redis://", user, "@h");
	struct queue_url *u;

	ck_assert_uint_eq(strlen(url), QUEUE_URL_MAX);
	u = parse_ok(url);
	ck_assert_uint_eq(strlen(u->user), QUEUE_URL_MAX - fixed);
	queue_url_free(u);
	free(url);
	free(user);

	user = repeat('u', QUEUE_URL_MAX - fixed + 1);
	url = concat3("redis://", user, "@h");
	ck_assert_uint_eq(strlen(url), QUEUE_URL_MAX + 1);
	parse_fails(url);
	free(url);
	free(user);
}
END_TEST

START_TEST(other_schemes_refused)
{
	parse_fails("");
	parse_fails("localhost:6379");
	parse_fails("redis+tls://h");
	parse_fails("redisss://h");
	parse_fails("rediss:/h");
	parse_fails("sentinels://h:1/m");
	parse_fails("sentinel+ssl://h:1/m");
	parse_fails("http://h");
	parse_fails("file:///tmp/redis.sock");
	parse_fails("redis+unix:///tmp/redis.sock");
	parse_fails("unix:/tmp/redis.sock");
	parse_fails("unix://tmp/redis.sock");
	parse_fails(" redis://h");
}
END_TEST

START_TEST(bad_bytes_refused)
{
	parse_fails("redis://h /0");
	parse_fails("redis://h\t");
	parse_fails("redis://h\n");
	parse_fails("redis://h\x7f");
	parse_fails("redis://h\xc3\xa9");
	parse_fails("unix:///tmp/a b");
	parse_fails("redis://h\r\n/0");
}
END_TEST

START_TEST(unix_ok)
{
	struct queue_url *u = parse_ok("unix:///run/redis/redis.sock");

	ck_assert_int_eq(u->is_unix, 1);
	ck_assert_str_eq(u->path, "/run/redis/redis.sock");
	ck_assert_ptr_null(u->host);
	ck_assert_ptr_null(u->user);
	ck_assert_ptr_null(u->password);
	ck_assert_int_eq(u->db, 0);
	queue_url_free(u);
	u = parse_ok("UNIX:///s");
	ck_assert_str_eq(u->path, "/s");
	queue_url_free(u);
}
END_TEST

START_TEST(unix_percent_decoded)
{
	struct queue_url *u = parse_ok("unix:///tmp/a%20b/redis.sock");

	ck_assert_str_eq(u->path, "/tmp/a b/redis.sock");
	queue_url_free(u);
	parse_fails("unix:///tmp/a%00b");
}
END_TEST

START_TEST(unix_refusals)
{
	parse_fails("unix://");
	parse_fails("unix:///");
	parse_fails("unix:///tmp/");
	parse_fails("unix://host/tmp/redis.sock");
	parse_fails("unix://localhost/tmp/redis.sock");
	parse_fails("unix://:pw@/tmp/redis.sock");
	parse_fails("unix:///tmp/redis.sock?db=1");
	parse_fails("unix:///tmp/redis.sock?");
	parse_fails("unix:///tmp/redis.sock#x");
	parse_fails("unix:///tmp/redis.sock#");
}
END_TEST

START_TEST(unix_path_limit)
{
	/* sun_path is 108 bytes with its NUL: a path of 107 bytes fits. */
	char *name = repeat('s', 106);
	char *url = concat3("unix:///", name, "");
	struct queue_url *u = parse_ok(url);

	ck_assert_uint_eq(strlen(u->path), 107);
	queue_url_free(u);
	free(url);
	free(name);

	name = repeat('s', 107);
	url = concat3("unix:///", name, "");
	parse_fails(url);
	free(url);
	free(name);
}
END_TEST

START_TEST(null_arguments)
{
	struct queue_url *u = &sentinel;

	ck_assert_int_eq(queue_url_parse(NULL, &u), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_null(u);
	ck_assert_int_eq(queue_url_parse("redis://h", NULL), SG_ERR_INVALID_ARGUMENT);
	queue_url_free(NULL);
}
END_TEST

START_TEST(sentinel_ok)
{
	struct queue_url *u = NULL;

	ck_assert_int_eq(
	    queue_url_parse("sentinel://10.0.0.1:26379,sentinel-b:26380/mymaster", &u), 0);
	ck_assert(u->is_sentinel);
	ck_assert_str_eq(u->master, "mymaster");
	ck_assert_uint_eq(u->nsentinels, 2);
	ck_assert_str_eq(u->sentinels[0]->host, "10.0.0.1");
	ck_assert_int_eq(u->sentinels[0]->port, 26379);
	ck_assert_str_eq(u->sentinels[1]->host, "sentinel-b");
	ck_assert_int_eq(u->sentinels[1]->port, 26380);
	ck_assert_ptr_null(u->password);
	ck_assert_int_eq(u->db, 0);
	queue_url_free(u);
	u = NULL;
	ck_assert_int_eq(queue_url_parse("sentinel://app:s%40cret@h1:1/m-1/3", &u), 0);
	ck_assert_str_eq(u->user, "app");
	ck_assert_str_eq(u->password, "s@cret");
	ck_assert_int_eq(u->db, 3);
	ck_assert_uint_eq(u->nsentinels, 1);
	ck_assert_int_eq(u->sentinels[0]->port, 1);
	queue_url_free(u);
}
END_TEST

START_TEST(sentinel_refusals)
{
	static const char *const bad[] = {
		"sentinel://", "sentinel://h:1",            /* no master */
		"sentinel://h:1/",                          /* empty master */
		"sentinel:///m",                            /* no host */
		"sentinel://h:1,/m",                        /* empty host */
		"sentinel://,h:1/m", "sentinel://h:0/m",    /* port 0 */
		"sentinel://h:1/m/16",                      /* db out of range */
		"sentinel://h:1/m/x", "sentinel://h:1/m a", /* space in the name */
		"sentinel://h:1/m?x=1",
		"sentinel://h:1,u:p@h2:2/m", /* credentials in a later host */
		"sentinel://1:1,2:2,3:3,4:4,5:5,6:6,7:7,8:8,9:9/m", /* more than 8 */
	};
	struct queue_url *u = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(queue_url_parse(bad[i], &u) == SG_ERR_PARSE, "accepted %s", bad[i]);
		ck_assert_ptr_null(u);
	}
	ck_assert_int_eq(queue_url_parse("sentinel://1:1,2:2,3:3,4:4,5:5,6:6,7:7,8:8/m", &u), 0);
	ck_assert_uint_eq(u->nsentinels, 8);
	queue_url_free(u);
}
END_TEST

START_TEST(tls_schemes)
{
	struct queue_url *u;

	u = parse_ok("rediss://signet-ci:pw@redis.example:6380/2");
	ck_assert(u->is_tls);
	ck_assert(!u->is_sentinel && !u->is_unix);
	ck_assert_str_eq(u->host, "redis.example");
	ck_assert_int_eq(u->port, 6380);
	ck_assert_str_eq(u->user, "signet-ci");
	ck_assert_str_eq(u->password, "pw");
	ck_assert_int_eq(u->db, 2);
	queue_url_free(u);
	u = parse_ok("REDISS://[::1]");
	ck_assert(u->is_tls);
	ck_assert_str_eq(u->host, "::1");
	ck_assert_int_eq(u->port, 6379);
	queue_url_free(u);
	u = parse_ok("redis://h");
	ck_assert(!u->is_tls);
	queue_url_free(u);
	u = parse_ok("sentinel+tls://a:pw@s1:26379,s2:26380/mymaster/1");
	ck_assert(u->is_tls && u->is_sentinel);
	ck_assert_uint_eq(u->nsentinels, 2);
	ck_assert_str_eq(u->sentinels[1]->host, "s2");
	ck_assert_str_eq(u->master, "mymaster");
	ck_assert_str_eq(u->password, "pw");
	ck_assert_int_eq(u->db, 1);
	queue_url_free(u);
	u = parse_ok("sentinel://s1:26379/m");
	ck_assert(!u->is_tls);
	queue_url_free(u);
	/* The same grammar as without TLS. */
	parse_fails("rediss://");
	parse_fails("rediss:///tmp/sock");
	parse_fails("rediss://h:0");
	parse_fails("rediss://h/16");
	parse_fails("rediss://h?ssl=1");
	parse_fails("sentinel+tls://h:1");
	parse_fails("sentinel+tls://h:1,/m");
}
END_TEST

/* Added with the parser that replaced libcurl: what curl decided without a
 * test saying so, and where the new parser is deliberately stricter. */

START_TEST(pct_hex_either_case)
{
	struct queue_url *u = parse_ok("redis://%41%6a:%4A%6B%c3%A9@h");

	ck_assert_str_eq(u->user, "Aj");
	ck_assert_str_eq(u->password, "Jk\xc3\xa9");
	queue_url_free(u);
}
END_TEST

START_TEST(pct_bad_escapes_refused)
{
	parse_fails("redis://:a%zz@h");
	parse_fails("redis://:a%4@h");
	parse_fails("redis://:a%@h");
	parse_fails("redis://a%g1:pw@h");
	parse_fails("redis://:%%41@h");
	parse_fails("unix:///tmp/a%zz");
	parse_fails("unix:///tmp/a%2");
	parse_fails("unix:///tmp/a%");
}
END_TEST

START_TEST(pct_control_bytes_refused)
{
	struct queue_url *u;

	parse_fails("redis://:a%01b@h");
	parse_fails("redis://:a%1fb@h");
	parse_fails("redis://:a%1Fb@h");
	parse_fails("redis://:a%7fb@h");
	parse_fails("redis://a%0a:pw@h");
	parse_fails("unix:///tmp/a%0ab");
	parse_fails("unix:///tmp/a%7Fb");
	parse_fails("unix:///tmp/%00");
	/* The first and last printable bytes, and bytes above ASCII. */
	u = parse_ok("redis://:%20%7e%80%ff@h");
	ck_assert_str_eq(u->password, " ~\x80\xff");
	queue_url_free(u);
}
END_TEST

START_TEST(userinfo_rfc_chars)
{
	struct queue_url *u = parse_ok("redis://a-._~!$&'()*+,;=:b-._~!$&'()*+,;=:c@h");

	ck_assert_str_eq(u->user, "a-._~!$&'()*+,;=");
	ck_assert_str_eq(u->password, "b-._~!$&'()*+,;=:c");
	queue_url_free(u);
	/* Outside RFC 3986's userinfo these must be percent-encoded. */
	parse_fails("redis://:a^b@h");
	parse_fails("redis://:a|b@h");
	parse_fails("redis://:a\"b@h");
	parse_fails("redis://:a\\b@h");
	parse_fails("redis://:a{b@h");
	parse_fails("redis://:a<b@h");
	parse_fails("redis://:a`b@h");
	parse_fails("redis://[::1]@h");
	parse_fails("redis://:a]b@h");
}
END_TEST

START_TEST(empty_userinfo)
{
	struct queue_url *u = parse_ok("redis://@h");

	ck_assert_ptr_null(u->user);
	ck_assert_ptr_null(u->password);
	queue_url_free(u);
	u = parse_ok("redis://:@h");
	ck_assert_ptr_null(u->user);
	ck_assert_ptr_null(u->password);
	queue_url_free(u);
}
END_TEST

START_TEST(host_chars)
{
	struct queue_url *u = parse_ok("redis://Redis-1.Example_host~.org.:7");

	ck_assert_str_eq(u->host, "Redis-1.Example_host~.org.");
	ck_assert_int_eq(u->port, 7);
	queue_url_free(u);
	parse_fails("redis://%6Cocalhost");
	parse_fails("redis://a|b");
	parse_fails("redis://a!b");
	parse_fails("redis://a,b");
	parse_fails("redis://a;b");
	parse_fails("redis://a%2eb");
	parse_fails("redis://a]b");
	parse_fails("redis://a[b");
}
END_TEST

START_TEST(host_ipv4_numeric)
{
	static const struct {
		const char *url, *host;
	} cases[] = {
		{ "redis://127.0.0.1", "127.0.0.1" },
		{ "redis://127.1", "127.0.0.1" },
		{ "redis://0x7f.1", "127.0.0.1" },
		{ "redis://0X7F.0.0.1", "127.0.0.1" },
		{ "redis://2130706433", "127.0.0.1" },
		{ "redis://010.0.0.1", "8.0.0.1" },
		{ "redis://1", "0.0.0.1" },
		{ "redis://255.255.255.255", "255.255.255.255" },
		{ "redis://4294967295", "255.255.255.255" },
		{ "redis://1.16777215", "1.255.255.255" },
		/* Not numbers in that grammar: names, passed on as written. */
		{ "redis://4294967296", "4294967296" },
		{ "redis://1.2.3.256", "1.2.3.256" },
		{ "redis://1.2.3.4.5", "1.2.3.4.5" },
		{ "redis://1.2.3.4.", "1.2.3.4." },
		{ "redis://08", "08" },
		{ "redis://0x", "0x" },
		{ "redis://1.16777216", "1.16777216" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct queue_url *u = parse_ok(cases[i].url);

		ck_assert_msg(strcmp(u->host, cases[i].host) == 0, "%s: %s", cases[i].url, u->host);
		queue_url_free(u);
	}
}
END_TEST

START_TEST(ipv6_forms)
{
	struct queue_url *u = parse_ok("redis://u:p@[::1]:6380/1");

	ck_assert_str_eq(u->host, "::1");
	ck_assert_int_eq(u->port, 6380);
	ck_assert_int_eq(u->db, 1);
	ck_assert_str_eq(u->user, "u");
	queue_url_free(u);
	u = parse_ok("redis://[0:0:0:0:0:0:0:1]");
	ck_assert_str_eq(u->host, "::1");
	queue_url_free(u);
	/* Kept as written when inet_ntop's form is no shorter. */
	u = parse_ok("redis://[::FFFF:1.2.3.4]:");
	ck_assert_str_eq(u->host, "::FFFF:1.2.3.4");
	ck_assert_int_eq(u->port, 6379);
	queue_url_free(u);
	u = parse_ok("redis://[::]");
	ck_assert_str_eq(u->host, "::");
	queue_url_free(u);
	/* A zone id of 15 bytes (an interface name) and one more. */
	u = parse_ok("redis://[fe80::1%25eth0123456789ab]:1");
	ck_assert_str_eq(u->host, "fe80::1%eth0123456789ab");
	queue_url_free(u);
	parse_fails("redis://[fe80::1%25eth0123456789abc]");
	parse_fails("redis://[fe80::1%25]");
	parse_fails("redis://[fe80::1%eth0]");
	parse_fails("redis://[fe80::1%25%41]");
	parse_fails("redis://[fe80::1%25a:b]");
	parse_fails("redis://[]");
	parse_fails("redis://[1.2.3.4]");
	parse_fails("redis://[::1::2]");
	parse_fails("redis://[::g]");
	parse_fails("redis://[::1]]");
	parse_fails("redis://[[::1]]");
	parse_fails("redis://[::1]:0");
	parse_fails("redis://[::1]:x");
	parse_fails("redis://::1");
}
END_TEST

START_TEST(port_leading_zeros)
{
	struct queue_url *u = parse_ok("redis://h:06380");

	ck_assert_int_eq(u->port, 6380);
	queue_url_free(u);
	u = parse_ok("redis://h:0000000000000000000000000065535");
	ck_assert_int_eq(u->port, 65535);
	queue_url_free(u);
	parse_fails("redis://h:00");
	parse_fails("redis://h:000065536");
	parse_fails("redis://h: 1");
	parse_fails("redis://h:0x10");
}
END_TEST

START_TEST(path_edges)
{
	struct queue_url *u = parse_ok("redis://h:1/");

	ck_assert_int_eq(u->db, 0);
	ck_assert_int_eq(u->port, 1);
	queue_url_free(u);
	parse_fails("redis://h/ 1");
	parse_fails("redis://h/0x1");
	parse_fails("redis://h/1.0");
	parse_fails("redis://h/;1");
}
END_TEST

START_TEST(unix_path_forms)
{
	struct queue_url *u = parse_ok("unix:///tmp/a%2fb%2Fc");

	ck_assert_str_eq(u->path, "/tmp/a/b/c");
	queue_url_free(u);
	/* Kept as written: no dot-segment removal, no slash folding. */
	u = parse_ok("unix:///tmp/../x");
	ck_assert_str_eq(u->path, "/tmp/../x");
	queue_url_free(u);
	u = parse_ok("unix:////tmp/x");
	ck_assert_str_eq(u->path, "//tmp/x");
	queue_url_free(u);
	u = parse_ok("unix:///a:b/c@d/e!$&'()*+,;=-._~");
	ck_assert_str_eq(u->path, "/a:b/c@d/e!$&'()*+,;=-._~");
	queue_url_free(u);
	u = parse_ok("unix:///ab:/x");
	ck_assert_str_eq(u->path, "/ab:/x");
	queue_url_free(u);
	parse_fails("unix:///tmp/a%2F");
	parse_fails("unix:///%2F");
	parse_fails("unix:///tmp/[x]");
	parse_fails("unix:///tmp/a|b");
	parse_fails("unix:///tmp/a^b");
	parse_fails("unix:///tmp/a\\b");
	/* A first segment that reads as a DOS drive, refused as before. */
	parse_fails("unix:///c:/x");
	parse_fails("unix:///C:");
	parse_fails("UNIX://");
	parse_fails("unix:");
	parse_fails("unix:/");
}
END_TEST

START_TEST(unix_path_limit_encoded)
{
	/* The limit applies to the decoded path: 107 bytes written as 3 each. */
	char *name = malloc(106 * 3 + 1);
	char *url;
	struct queue_url *u;
	size_t i;

	ck_assert_ptr_nonnull(name);
	for (i = 0; i < 106; i++)
		memcpy(name + 3 * i, "%41", 4);
	url = concat3("unix:///", name, "");
	u = parse_ok(url);
	ck_assert_uint_eq(strlen(u->path), 107);
	queue_url_free(u);
	free(url);
	url = concat3("unix:///", name, "B");
	parse_fails(url);
	free(url);
	free(name);
}
END_TEST

START_TEST(password_limit_encoded)
{
	/* The limit is on the decoded password: QUEUE_PASSWORD_MAX - 1 plain
	 * bytes and one encoded byte fit, one more plain byte does not. */
	char *pw = repeat('p', QUEUE_PASSWORD_MAX - 1);
	char *url = concat3("redis://:", pw, "%41@h");
	struct queue_url *u = parse_ok(url);

	ck_assert_uint_eq(strlen(u->password), QUEUE_PASSWORD_MAX);
	ck_assert_int_eq(u->password[QUEUE_PASSWORD_MAX - 1], 'A');
	queue_url_free(u);
	free(url);
	free(pw);

	pw = repeat('p', QUEUE_PASSWORD_MAX);
	url = concat3("redis://:", pw, "%41@h");
	parse_fails(url);
	free(url);
	free(pw);
}
END_TEST

START_TEST(sentinel_forms)
{
	struct queue_url *u = parse_ok("SENTINEL://[::1]:26379,127.1:2/m_1.x/15");

	ck_assert_uint_eq(u->nsentinels, 2);
	ck_assert_str_eq(u->sentinels[0]->host, "::1");
	ck_assert_int_eq(u->sentinels[0]->port, 26379);
	ck_assert_str_eq(u->sentinels[1]->host, "127.0.0.1");
	ck_assert_int_eq(u->db, 15);
	ck_assert_str_eq(u->master, "m_1.x");
	ck_assert_ptr_null(u->host);
	queue_url_free(u);
	u = parse_ok("sentinel://:pw@h/m");
	ck_assert_ptr_null(u->user);
	ck_assert_str_eq(u->password, "pw");
	ck_assert_int_eq(u->sentinels[0]->port, 6379);
	queue_url_free(u);
	parse_fails("sentinel://:a%zz@h/m");
	parse_fails("sentinel://:a%00@h/m");
	parse_fails("sentinel://h%41/m");
	parse_fails("sentinel://h:65536/m");
	parse_fails("sentinel://h/m/01");
	parse_fails("sentinel://h/m/1/");
}
END_TEST

static Suite *
queue_url_suite(void)
{
	Suite *s = suite_create("queue_url");

	test_add(s, "/queue_url/redis/defaults", redis_defaults, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/full", redis_full, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/scheme-case-insensitive", redis_scheme_case, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/password-only", redis_password_only, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/user-only", redis_user_only, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/empty-password-is-none", redis_empty_password_is_none,
	    TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/encoded-colon-in-user", redis_encoded_colon_in_user,
	    TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/plus-is-not-space", redis_plus_is_not_space, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/ipv6", redis_ipv6, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/ipv6-zone", redis_ipv6_zone, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/port-edges", redis_port_edges, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/db-edges", redis_db_edges, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/query-fragment-refused", redis_query_fragment_refused,
	    TEST_TIMEOUT_S);
	test_add(
	    s, "/queue_url/redis/authority-required", redis_authority_required, TEST_TIMEOUT_S);
	test_add(
	    s, "/queue_url/redis/nul-in-credentials", redis_nul_in_credentials, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/password-limit", redis_password_limit, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/length-limit", url_length_limit, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/other-schemes-refused", other_schemes_refused, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/bad-bytes-refused", bad_bytes_refused, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/unix/ok", unix_ok, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/unix/percent-decoded", unix_percent_decoded, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/unix/refusals", unix_refusals, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/unix/path-limit", unix_path_limit, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/null-arguments", null_arguments, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/sentinel/ok", sentinel_ok, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/sentinel/refusals", sentinel_refusals, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/tls/schemes", tls_schemes, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/pct/hex-either-case", pct_hex_either_case, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/pct/bad-escapes-refused", pct_bad_escapes_refused, TEST_TIMEOUT_S);
	test_add(
	    s, "/queue_url/pct/control-bytes-refused", pct_control_bytes_refused, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/userinfo-rfc-chars", userinfo_rfc_chars, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/empty-userinfo", empty_userinfo, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/host-chars", host_chars, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/host-ipv4-numeric", host_ipv4_numeric, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/ipv6-forms", ipv6_forms, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/port-leading-zeros", port_leading_zeros, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/redis/path-edges", path_edges, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/unix/path-forms", unix_path_forms, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/unix/path-limit-encoded", unix_path_limit_encoded, TEST_TIMEOUT_S);
	test_add(
	    s, "/queue_url/redis/password-limit-encoded", password_limit_encoded, TEST_TIMEOUT_S);
	test_add(s, "/queue_url/sentinel/forms", sentinel_forms, TEST_TIMEOUT_S);
	return s;
}

int
main(void)
{
	return test_run(queue_url_suite());
}
