/*
 * queue_url.c — parsing of the queue URL of docs/protocol.md §7.
 *
 *   redis://[user[:password]@]host[:port][/db]    db: 0..15, port: 1..65535
 *   unix:///absolute/path/to/socket               no credentials, no host
 *   sentinel://[user[:password]@]host:port[,host:port...]/master[/db]
 *   rediss://...  sentinel+tls://...   the same with TLS (is_tls)
 *
 * A small, strict RFC 3986 parser for exactly this grammar, no more:
 *
 *   - at most QUEUE_URL_MAX bytes, printable ASCII only (anything else must
 *     be percent-encoded), no '?' or '#' anywhere: a query or fragment is
 *     refused, and they cannot appear unencoded in userinfo either;
 *   - the scheme is matched case-insensitively with its "//" (RFC 3986
 *     §3.1); "redis://" must be followed by an authority (not a '/'), and
 *     "unix:///" exactly: an empty authority and an absolute path;
 *   - authority = [userinfo "@"] host [":" port], split at the first '@'
 *     and at the first ':' of the userinfo (the password may hold more);
 *     userinfo and path characters are RFC 3986's (unreserved, sub-delims,
 *     ':' and, in the path, '@' and '/'), anything else must be
 *     percent-encoded; '+' is a plus, not a space;
 *   - percent-decoding takes exactly two hex digits of either case; a bad
 *     escape ("%zz", "%4") and a decoded control byte (0x00-0x1f, 0x7f) are
 *     refused, so no string we return holds a NUL before its end;
 *   - host = reg-name of unreserved characters only (a DNS name or a
 *     dotted-quad address; percent-encoded and sub-delim hosts name nothing
 *     getaddrinfo could resolve), or "[" IPv6 "]" checked with inet_pton,
 *     with an optional RFC 6874 zone "%25" + 1..15 unreserved characters.
 *     A numeric IPv4 host in the classic inet_aton grammar (one to four
 *     parts, each decimal, 0x-hex or 0-octal: "127.1", "0x7f.1", "1",
 *     "010.0.0.1") is returned as the dotted quad it means ("127.0.0.1",
 *     "0.0.0.1", "8.0.0.1"), so that getaddrinfo cannot read it otherwise;
 *     an IPv6 address in its shorter inet_ntop form when there is one;
 *   - port = decimal digits (leading zeros allowed, empty means 6379),
 *     1..65535; the path is empty, "/" or "/<db>" with db 0..15 written
 *     without sign or leading zero, and is not percent-decoded.
 *
 * The unix path is percent-decoded; it is kept as is otherwise (no
 * dot-segment removal).  "/", a path ending in '/' (a socket is not a
 * directory) and one that does not fit sun_path are refused, and so is a
 * first segment that reads as a DOS drive ("/c:/...": refused before this
 * parser existed, and still refused).  A unix URL carries no credentials;
 * its password comes from the password file.
 *
 * The decoded password is written straight into its own buffer, which is
 * wiped before it is freed on every path.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "queue.h"
#include "util.h"

#define REDIS_PORT_DEFAULT  6379
#define REDIS_PORT_MAX      65535
#define REDIS_DB_MAX        15
/* sun_path holds the path and its NUL; hiredis would silently truncate a
 * longer path, so it is refused here. */
#define UNIX_PATH_MAX_BYTES (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* An interface name (IFNAMSIZ - 1), as the zone id of an IPv6 literal. */
#define IPV6_ZONE_MAX_BYTES 15

#define SCHEME_REDIS        "redis://"
#define SCHEME_UNIX         "unix://"
#define SCHEME_SENTINEL     "sentinel://"
#define SCHEME_REDISS       "rediss://"
#define SCHEME_SENTINEL_TLS "sentinel+tls://"

/* Which raw characters a component may hold besides pct-encoded ones. */
enum url_component {
	URL_USERINFO, /* unreserved / sub-delims / ":" */
	URL_PATH,     /* unreserved / sub-delims / ":" / "@" / "/" */
};

void
queue_url_free(struct queue_url *u)
{
	if (u == NULL)
		return;
	free(u->host);
	free(u->path);
	free(u->user);
	if (u->password != NULL)
		freezero(u->password, strlen(u->password) + 1);
	free(u->master);
	for (size_t i = 0; i < u->nsentinels; i++)
		queue_url_free(u->sentinels[i]);
	free(u);
}

/* Every byte printable ASCII without space; no query or fragment marks. */
static int
url_chars_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#')
			return 0;
	}
	return 1;
}

/* RFC 3986 §2.3, spelled out: isalnum() would follow the locale. */
static int
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 §2.2. */
static int
is_sub_delim(unsigned char c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

static int
raw_char_ok(enum url_component comp, unsigned char c)
{
	if (is_unreserved(c) || is_sub_delim(c) || c == ':')
		return 1;
	return comp == URL_PATH && (c == '@' || c == '/');
}

/* raw_char_ok() for pct_decode(): arg points to the component. */
static int
raw_ok(unsigned char c, void *arg)
{
	return raw_char_ok(*(const enum url_component *)arg, c);
}

/*
 * Percent-decodes s[0..len) into a new NUL-terminated string.  Raw
 * characters must be allowed in comp; "%" takes exactly two hex digits;
 * a decoded control byte (0x00-0x1f, 0x7f) is refused, NUL included.
 * SG_ERR_PARSE or SG_ERR_ALLOC.  The buffer is wiped before it is freed
 * on error, since it may hold a password.
 */
static int
url_decode(const char *s, size_t len, enum url_component comp, char **ret)
{
	char *out = NULL;
	size_t i, n = 0;
	int r = SG_ERR_INTERNAL;

	*ret = NULL;
	/* Decoding never lengthens; len <= QUEUE_URL_MAX, so len + 1 fits. */
	if ((out = malloc(len + 1)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((r = pct_decode(s, len, raw_ok, &comp, (uint8_t *)out, len, &n)) != 0) {
		r = SG_ERR_PARSE;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] == 0x7f) {
			r = SG_ERR_PARSE;
			goto out;
		}
	}
	out[n] = '\0';
	*ret = out;
	out = NULL;
	r = 0;
out:
	if (out != NULL)
		freezero(out, len + 1);
	return r;
}

/*
 * "[" IPv6address [ "%25" zone ] "]" without its brackets (s[0..len)), into
 * "addr" or "addr%zone" as getaddrinfo wants it.  The address is checked
 * with inet_pton and replaced by inet_ntop's form when that is shorter
 * ("0:0:0:0:0:0:0:1" becomes "::1").
 */
static int
url_host_ipv6(const char *s, size_t len, char **ret)
{
	char addr[INET6_ADDRSTRLEN], norm[INET6_ADDRSTRLEN];
	struct in6_addr bin;
	const char *pct, *zone = NULL;
	size_t alen = len, zlen = 0;
	char *host = NULL;
	int r = SG_ERR_PARSE;

	*ret = NULL;
	if ((pct = memchr(s, '%', len)) != NULL) {
		size_t i;

		alen = (size_t)(pct - s);
		zone = pct + 3;
		zlen = len - alen;
		if (zlen < 3 || memcmp(pct, "%25", 3) != 0)
			goto out;
		zlen -= 3;
		if (zlen == 0 || zlen > IPV6_ZONE_MAX_BYTES)
			goto out;
		for (i = 0; i < zlen; i++)
			if (!is_unreserved((unsigned char)zone[i]))
				goto out;
	}
	if (alen == 0 || alen >= sizeof(addr))
		goto out;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET6, addr, &bin) != 1)
		goto out;
	if (inet_ntop(AF_INET6, &bin, norm, sizeof(norm)) != NULL && strlen(norm) < alen) {
		alen = strlen(norm);
		memcpy(addr, norm, alen + 1);
	}
	if ((host = malloc(alen + (zone != NULL ? 1 + zlen : 0) + 1)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	memcpy(host, addr, alen);
	if (zone != NULL) {
		host[alen] = '%';
		memcpy(host + alen + 1, zone, zlen);
		host[alen + 1 + zlen] = '\0';
	} else {
		host[alen] = '\0';
	}
	*ret = host;
	r = 0;
out:
	return r;
}

/*
 * Reads s[0..len) as a numeric IPv4 address in the inet_aton grammar: one to
 * four parts separated by '.', each "0x" + hex, "0" + octal or decimal, the
 * last part filling the remaining bytes ("127.1" is 127.0.0.1).  Writes the
 * dotted quad to out and returns 1; 0 when s is not such a number (then it
 * is a name).
 */
static int
ipv4_numeric(const char *s, size_t len, char out[INET_ADDRSTRLEN])
{
	uint64_t parts[4] = { 0, 0, 0, 0 }, a;
	size_t n = 0, i = 0;

	for (;;) {
		uint64_t v = 0;
		int base = 10, d;

		if (i == len || s[i] < '0' || s[i] > '9')
			return 0;
		if (s[i] == '0' && len - i > 2 && (s[i + 1] == 'x' || s[i + 1] == 'X') &&
		    hex_digit((unsigned char)s[i + 2]) >= 0) {
			base = 16;
			i += 2;
		} else if (s[i] == '0') {
			base = 8;
		}
		for (; i < len && (d = hex_digit((unsigned char)s[i])) >= 0 && d < base; i++) {
			v = v * (uint64_t)base + (uint64_t)d;
			if (v > UINT32_MAX)
				return 0;
		}
		parts[n] = v;
		if (i == len)
			break;
		if (s[i] != '.' || n == 3)
			return 0;
		n++;
		i++;
	}
	/* The last part fills the bytes the others left. */
	for (i = 0; i < n; i++)
		if (parts[i] > 0xff)
			return 0;
	if (parts[n] > (UINT32_MAX >> (8 * n)))
		return 0;
	a = parts[n];
	for (i = 0; i < n; i++)
		a |= parts[i] << (8 * (3 - i));
	snprintf(out, INET_ADDRSTRLEN, "%u.%u.%u.%u", (unsigned)(a >> 24),
	    (unsigned)(a >> 16 & 0xff), (unsigned)(a >> 8 & 0xff), (unsigned)(a & 0xff));
	return 1;
}

/* A reg-name of unreserved characters (s[0..len)), or a numeric IPv4
 * address, returned as its dotted quad. */
static int
url_host_name(const char *s, size_t len, char **ret)
{
	char quad[INET_ADDRSTRLEN];
	char *host = NULL;
	size_t i;
	int r = SG_ERR_PARSE;

	*ret = NULL;
	if (len == 0)
		goto out;
	for (i = 0; i < len; i++)
		if (!is_unreserved((unsigned char)s[i]))
			goto out;
	if (ipv4_numeric(s, len, quad))
		host = strdup(quad);
	else
		host = strndup(s, len);
	if (host == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	*ret = host;
	r = 0;
out:
	return r;
}

/* port = *DIGIT (RFC 3986 §3.2.3); empty is the default port. */
static int
url_port(const char *s, size_t len, int *ret)
{
	uint32_t v = 0;
	size_t i;

	if (len == 0) {
		*ret = REDIS_PORT_DEFAULT;
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SG_ERR_PARSE;
		v = v * 10 + (uint32_t)(s[i] - '0');
		if (v > REDIS_PORT_MAX)
			return SG_ERR_PARSE;
	}
	if (v == 0)
		return SG_ERR_PARSE;
	*ret = (int)v;
	return 0;
}

/* s: what follows "redis://", already checked by url_chars_ok. */
static int
url_parse_redis(const char *s, struct queue_url *u)
{
	const char *end = s + strlen(s), *auth_end, *at, *hp, *colon, *port = NULL;
	size_t hlen;
	uint64_t v;
	int r = SG_ERR_INTERNAL;

	if ((auth_end = strchr(s, '/')) == NULL)
		auth_end = end;

	/* userinfo "@", split at its first ':'. */
	hp = s;
	if ((at = memchr(s, '@', (size_t)(auth_end - s))) != NULL) {
		hp = at + 1;
		if ((colon = memchr(s, ':', (size_t)(at - s))) == NULL)
			colon = at;
		if ((r = url_decode(s, (size_t)(colon - s), URL_USERINFO, &u->user)) < 0)
			goto out;
		if (colon != at &&
		    (r = url_decode(
			 colon + 1, (size_t)(at - colon - 1), URL_USERINFO, &u->password)) < 0)
			goto out;
	}

	/* host [":" port] */
	if (hp < auth_end && *hp == '[') {
		const char *close = memchr(hp, ']', (size_t)(auth_end - hp));

		if (close == NULL || (close + 1 != auth_end && close[1] != ':')) {
			r = SG_ERR_PARSE;
			goto out;
		}
		if ((r = url_host_ipv6(hp + 1, (size_t)(close - hp - 1), &u->host)) < 0)
			goto out;
		if (close + 1 != auth_end)
			port = close + 2;
	} else {
		if ((colon = memchr(hp, ':', (size_t)(auth_end - hp))) != NULL)
			port = colon + 1;
		hlen = (size_t)((colon != NULL ? colon : auth_end) - hp);
		if ((r = url_host_name(hp, hlen, &u->host)) < 0)
			goto out;
	}
	u->port = REDIS_PORT_DEFAULT;
	if (port != NULL && (r = url_port(port, (size_t)(auth_end - port), &u->port)) < 0)
		goto out;

	/* path = "" / "/" / "/" db */
	u->db = 0;
	if (auth_end != end && auth_end[1] != '\0') {
		if (parse_u64(auth_end + 1, REDIS_DB_MAX, &v) < 0) {
			r = SG_ERR_PARSE;
			goto out;
		}
		u->db = (int)v;
	}

	/* "redis://:pw@host" has an empty user: AUTH with the password alone.
	 * An empty password is no password. */
	if (u->user != NULL && *u->user == '\0') {
		free(u->user);
		u->user = NULL;
	}
	if (u->password != NULL && *u->password == '\0') {
		free(u->password);
		u->password = NULL;
	}
	if (u->password != NULL && strlen(u->password) > QUEUE_PASSWORD_MAX) {
		r = SG_ERR_PARSE;
		goto out;
	}
	r = 0;
out:
	return r;
}

/* A path segment that reads as a DOS drive: letter, ':' or '|', then '/'
 * or the end ("c:", "c:/x"). */
static int
is_drive_prefix(const char *s)
{
	return ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) &&
	    (s[1] == ':' || s[1] == '|') && (s[2] == '/' || s[2] == '\\' || s[2] == '\0');
}

/* s: what follows "unix://", already checked by url_chars_ok; starts with
 * '/' (an empty authority). */
static int
url_parse_unix(const char *s, struct queue_url *u)
{
	char *path = NULL;
	size_t len;
	int r = SG_ERR_INTERNAL;

	if (is_drive_prefix(s + 1)) {
		r = SG_ERR_PARSE;
		goto out;
	}
	/* Decoding refuses "%00", so the path holds no NUL. */
	if ((r = url_decode(s, strlen(s), URL_PATH, &path)) < 0)
		goto out;
	len = strlen(path);
	/* A socket is not a directory: "/" and ".../" name none. */
	if (len == 0 || path[0] != '/' || path[len - 1] == '/' || len > UNIX_PATH_MAX_BYTES) {
		r = SG_ERR_PARSE;
		goto out;
	}
	u->path = path;
	path = NULL;
	u->is_unix = 1;
	r = 0;
out:
	free(path);
	return r;
}

static int
is_master_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > QUEUE_MASTER_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * sentinel://[userinfo@]h1:p1,h2:p2/master[/db].  The host list is split
 * here and each host:port is parsed as redis://host:port/; the userinfo and
 * the db travel through one more redis:// URL built with host "localhost",
 * so that they are decoded and checked the same way as in a plain redis://
 * URL.
 */
static int
url_parse_sentinel(const char *url, size_t len, size_t scheme_len, struct queue_url **ret)
{
	const char *auth = url + scheme_len, *hosts, *slash, *at, *p, *comma;
	const char *master, *db = NULL;
	struct queue_url *u = NULL, *first = NULL;
	char *tmp = NULL;
	size_t mlen;
	int r = SG_ERR_PARSE;

	if ((slash = memchr(auth, '/', len - (size_t)(auth - url))) == NULL)
		goto out;
	at = memchr(auth, '@', (size_t)(slash - auth));
	/* Credentials come once, before the first host. */
	if (at != NULL && memchr(auth, ',', (size_t)(at - auth)) != NULL)
		goto out;
	hosts = at != NULL ? at + 1 : auth;
	master = slash + 1;
	mlen = len - (size_t)(master - url);
	if ((p = memchr(master, '/', mlen)) != NULL) {
		db = p + 1;
		mlen = (size_t)(p - master);
	}
	if (!is_master_name(master, mlen) || hosts == slash || slash[-1] == ',')
		goto out;
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	u->is_sentinel = 1;
	if ((u->master = strndup(master, mlen)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	for (p = hosts; p < slash; p = comma + 1) {
		size_t hlen;
		if ((comma = memchr(p, ',', (size_t)(slash - p))) == NULL)
			comma = slash;
		hlen = (size_t)(comma - p);
		if (hlen == 0 || u->nsentinels == QUEUE_SENTINELS_MAX ||
		    memchr(p, '@', hlen) != NULL)
			goto out;
		if (asprintf(&tmp, "redis://%.*s/", (int)hlen, p) == -1) {
			tmp = NULL;
			r = SG_ERR_ALLOC;
			goto out;
		}
		if ((r = queue_url_parse(tmp, &u->sentinels[u->nsentinels])) < 0)
			goto out;
		u->nsentinels++;
		free(tmp);
		tmp = NULL;
		r = SG_ERR_PARSE;
		if (comma == slash)
			break;
	}
	/* The master's credentials and db, checked like a redis:// URL's. */
	if (asprintf(&tmp, "redis://%.*s%s/%s", at != NULL ? (int)(at - auth) : 0, auth,
		at != NULL ? "@localhost" : "localhost", db != NULL ? db : "") == -1) {
		tmp = NULL;
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((r = queue_url_parse(tmp, &first)) < 0)
		goto out;
	u->user = first->user;
	u->password = first->password;
	u->db = first->db;
	first->user = first->password = NULL;
	*ret = u;
	u = NULL;
	r = 0;
out:
	if (tmp != NULL)
		freezero(tmp, strlen(tmp));
	queue_url_free(first);
	queue_url_free(u);
	return r;
}

int
queue_url_parse(const char *url, struct queue_url **ret)
{
	struct queue_url *u = NULL;
	size_t len;
	int r = SG_ERR_INTERNAL;

	if (ret == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	*ret = NULL;
	if (url == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	len = strnlen(url, QUEUE_URL_MAX + 1);
	if (len > QUEUE_URL_MAX || !url_chars_ok(url, len)) {
		r = SG_ERR_PARSE;
		goto out;
	}

	/* Scheme names are case-insensitive (RFC 3986 §3.1). */
	if (strncasecmp(url, SCHEME_SENTINEL, strlen(SCHEME_SENTINEL)) == 0) {
		r = url_parse_sentinel(url, len, strlen(SCHEME_SENTINEL), ret);
		goto out;
	}
	if (strncasecmp(url, SCHEME_SENTINEL_TLS, strlen(SCHEME_SENTINEL_TLS)) == 0) {
		if ((r = url_parse_sentinel(url, len, strlen(SCHEME_SENTINEL_TLS), ret)) == 0)
			(*ret)->is_tls = 1;
		goto out;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (strncasecmp(url, SCHEME_REDIS, strlen(SCHEME_REDIS)) == 0 ||
	    strncasecmp(url, SCHEME_REDISS, strlen(SCHEME_REDISS)) == 0) {
		int tls = strncasecmp(url, SCHEME_REDISS, strlen(SCHEME_REDISS)) == 0;
		const char *rest = url + (tls ? strlen(SCHEME_REDISS) : strlen(SCHEME_REDIS));

		u->is_tls = tls;

		/* An authority, not an empty one followed by a path. */
		if (*rest == '/' || *rest == '\0') {
			r = SG_ERR_PARSE;
			goto out;
		}
		if ((r = url_parse_redis(rest, u)) < 0)
			goto out;
	} else if (strncasecmp(url, SCHEME_UNIX, strlen(SCHEME_UNIX)) == 0 &&
	    url[strlen(SCHEME_UNIX)] == '/') {
		if ((r = url_parse_unix(url + strlen(SCHEME_UNIX), u)) < 0)
			goto out;
	} else {
		r = SG_ERR_PARSE;
		goto out;
	}

	*ret = u;
	u = NULL;
	r = 0;
out:
	if (r < 0 && r != SG_ERR_INVALID_ARGUMENT)
		log_debug("queue URL refused: %d", r);
	queue_url_free(u);
	return r;
}

/*
 * For messages: the URL with its password, if any, replaced by "***".  The
 * userinfo of each authority (redis://, and every host of a sentinel://
 * list shares one) ends at the last '@' before the path; the password is
 * what follows its first ':'.  Bytes outside printable ASCII become '?'.
 */
void
queue_url_display(const char *url, char *out, size_t outlen)
{
	const char *auth, *path, *at, *colon;
	size_t i, o = 0;

	if (out == NULL || outlen == 0)
		return;
	out[0] = '\0';
	if (url == NULL)
		return;
	auth = strstr(url, "://");
	auth = auth != NULL ? auth + 3 : url;
	path = auth + strcspn(auth, "/?#");
	at = NULL;
	for (const char *p = auth; p < path; p++)
		if (*p == '@')
			at = p;
	colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	for (i = 0; url[i] != '\0' && o + 1 < outlen; i++) {
		const char *p = url + i;

		if (colon != NULL && p == colon + 1) {
			const char *mask = "***";

			for (; *mask != '\0' && o + 1 < outlen; mask++)
				out[o++] = *mask;
			i = (size_t)(at - url) - 1; /* the loop goes on at '@' */
			continue;
		}
		out[o++] = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f ? *p : '?';
	}
	out[o] = '\0';
}
