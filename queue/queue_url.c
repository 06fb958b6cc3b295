/*
 * queue_url.c — parsing of the queue URL of SPEC §5.
 *
 *   redis://[user[:password]@]host[:port][/db]    db: 0..15, port: 1..65535
 *   unix:///absolute/path/to/socket               no credentials, no host
 *
 * libcurl's URL API does the RFC 3986 work (authority, IPv6 literals,
 * percent-decoding).  Around it we are stricter than curl, because curl is
 * lenient with schemes it does not know: it accepts one to three slashes
 * after "scheme:" and then reads "unix:///tmp/x" as host "tmp", path "/x".
 * So the raw text is checked first:
 *
 *   - at most QUEUE_URL_MAX bytes, printable ASCII only (anything else must
 *     be percent-encoded), no '?' or '#' anywhere (a query or fragment is
 *     refused, and they cannot appear unencoded in userinfo either);
 *   - "redis://" followed by an authority (not a '/');
 *   - "unix:///" exactly: an empty authority and an absolute path.  The rest
 *     is handed to curl as a file:// URL, the one scheme curl parses with an
 *     empty authority, to get the same path decoding.
 *
 * A unix URL carries no credentials (curl cannot express userinfo with an
 * empty host); its password comes from the password file.
 *
 * The decoded password lives in curl's handle and in curl's copy before we
 * take our own.  We wipe curl's returned copy; the handle's internal copy is
 * freed by curl without wiping, which we cannot change.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "log.h"
#include "queue.h"
#include "util.h"

#define REDIS_PORT_DEFAULT 6379
#define REDIS_PORT_MAX 65535
#define REDIS_DB_MAX 15
/* sun_path holds the path and its NUL; hiredis would silently truncate a
 * longer path, so it is refused here. */
#define UNIX_PATH_MAX_BYTES (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

#define SCHEME_REDIS "redis://"
#define SCHEME_UNIX "unix:///"
#define SCHEME_SENTINEL "sentinel://"

/* The text to hand to curl: "file:///" + what follows "unix:///". */
#define FILE_SCHEME "file:///"

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

/*
 * Gets one part.  *ret is NULL when the part is absent (curl says absent_rc;
 * CURLUE_LAST for a part that is always there), a
 * malloc'd copy otherwise.  With wipe, curl's copy is wiped before it is
 * freed (the password).
 */
static int
url_part(CURLU *h, CURLUPart part, CURLUcode absent_rc, unsigned flags, int wipe, char **ret)
{
	char *s = NULL, *copy = NULL;
	CURLUcode rc;
	int r = SG_ERR_INTERNAL;

	*ret = NULL;
	rc = curl_url_get(h, part, &s, flags);
	if (rc == absent_rc) {
		r = 0;
		goto out;
	}
	if (rc == CURLUE_OUT_OF_MEMORY) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (rc != CURLUE_OK || s == NULL) {
		log_debug("url part %d: %s", (int)part, curl_url_strerror(rc));
		r = SG_ERR_PARSE;
		goto out;
	}
	if ((copy = strdup(s)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	*ret = copy;
	copy = NULL;
	r = 0;
out:
	if (s != NULL && wipe)
		explicit_bzero(s, strlen(s));
	curl_free(s);
	return r;
}

/* A part that must be absent (query, fragment, options, port...). */
static int
url_part_absent(CURLU *h, CURLUPart part, CURLUcode absent_rc)
{
	char *s = NULL;
	int r;

	if ((r = url_part(h, part, absent_rc, 0, 0, &s)) < 0)
		return r;
	if (s != NULL) {
		free(s);
		return SG_ERR_PARSE;
	}
	return 0;
}

static int
url_parse_redis(CURLU *h, struct queue_url *u)
{
	char *port = NULL, *path = NULL, *zone = NULL, *host = NULL;
	uint64_t v;
	size_t hlen;
	int r = SG_ERR_INTERNAL;

	if ((r = url_part_absent(h, CURLUPART_QUERY, CURLUE_NO_QUERY)) < 0 ||
	    (r = url_part_absent(h, CURLUPART_FRAGMENT, CURLUE_NO_FRAGMENT)) < 0 ||
	    (r = url_part_absent(h, CURLUPART_OPTIONS, CURLUE_NO_OPTIONS)) < 0)
		goto out;

	if ((r = url_part(h, CURLUPART_HOST, CURLUE_NO_HOST, 0, 0, &host)) < 0)
		goto out;
	if (host == NULL || *host == '\0') {
		r = SG_ERR_PARSE;
		goto out;
	}
	/* An IPv6 literal comes back in brackets; getaddrinfo wants it bare,
	 * with its zone id (if any) after a '%'. */
	hlen = strlen(host);
	if (host[0] == '[') {
		size_t zlen = 0;

		if (hlen < 3 || host[hlen - 1] != ']') {
			r = SG_ERR_PARSE;
			goto out;
		}
		if ((r = url_part(h, CURLUPART_ZONEID, CURLUE_NO_ZONEID, 0, 0, &zone)) < 0)
			goto out;
		if (zone != NULL && (zlen = strlen(zone)) == 0) {
			r = SG_ERR_PARSE;
			goto out;
		}
		if ((u->host = malloc(hlen - 2 + (zone != NULL ? 1 + zlen : 0) + 1)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		memcpy(u->host, host + 1, hlen - 2);
		u->host[hlen - 2] = '\0';
		if (zone != NULL) {
			u->host[hlen - 2] = '%';
			memcpy(u->host + hlen - 1, zone, zlen + 1);
		}
	} else {
		u->host = host;
		host = NULL;
	}

	if ((r = url_part(h, CURLUPART_PORT, CURLUE_NO_PORT, 0, 0, &port)) < 0)
		goto out;
	u->port = REDIS_PORT_DEFAULT;
	if (port != NULL) {
		if (parse_u64(port, REDIS_PORT_MAX, &v) < 0 || v == 0) {
			r = SG_ERR_PARSE;
			goto out;
		}
		u->port = (int)v;
	}

	/* The path is "/" or "/<db>" (curl supplies the "/" when absent). */
	if ((r = url_part(h, CURLUPART_PATH, CURLUE_LAST, 0, 0, &path)) < 0)
		goto out;
	u->db = 0;
	if (path == NULL || path[0] != '/') {
		r = SG_ERR_PARSE;
		goto out;
	}
	if (path[1] != '\0') {
		if (parse_u64(path + 1, REDIS_DB_MAX, &v) < 0) {
			r = SG_ERR_PARSE;
			goto out;
		}
		u->db = (int)v;
	}

	if ((r = url_part(h, CURLUPART_USER, CURLUE_NO_USER, CURLU_URLDECODE, 0, &u->user)) < 0 ||
	    (r = url_part(h, CURLUPART_PASSWORD, CURLUE_NO_PASSWORD, CURLU_URLDECODE, 1, &u->password)) < 0)
		goto out;
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
	free(port);
	free(path);
	free(zone);
	free(host);
	return r;
}

static int
url_parse_unix(CURLU *h, struct queue_url *u)
{
	char *path = NULL;
	size_t len;
	int r = SG_ERR_INTERNAL;

	/* curl has already refused file:// URLs with a host (other than
	 * "localhost", which cannot occur: the authority we passed is empty). */
	if ((r = url_part_absent(h, CURLUPART_QUERY, CURLUE_NO_QUERY)) < 0 ||
	    (r = url_part_absent(h, CURLUPART_FRAGMENT, CURLUE_NO_FRAGMENT)) < 0 ||
	    (r = url_part_absent(h, CURLUPART_USER, CURLUE_NO_USER)) < 0 ||
	    (r = url_part_absent(h, CURLUPART_PASSWORD, CURLUE_NO_PASSWORD)) < 0 ||
	    (r = url_part_absent(h, CURLUPART_PORT, CURLUE_NO_PORT)) < 0)
		goto out;
	/* Decoding refuses "%00", so the path holds no NUL. */
	if ((r = url_part(h, CURLUPART_PATH, CURLUE_LAST, CURLU_URLDECODE, 0, &path)) < 0)
		goto out;
	if (path == NULL || path[0] != '/') {
		r = SG_ERR_PARSE;
		goto out;
	}
	len = strlen(path);
	/* A socket is not a directory: "/" and ".../" name none. */
	if (path[len - 1] == '/' || len > UNIX_PATH_MAX_BYTES) {
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
 * sentinel://[userinfo@]h1:p1,h2:p2/master[/db].  libcurl's URL API takes
 * one host per URL, so the host list is split here and each host:port is
 * parsed by curl as redis://host:port/; the userinfo and the db travel
 * through one more redis:// URL built from the first host, so that they are
 * decoded and checked the same way as in a plain redis:// URL.
 */
static int
url_parse_sentinel(const char *url, size_t len, struct queue_url **ret)
{
	const char *auth = url + strlen(SCHEME_SENTINEL), *hosts, *slash, *at, *p, *comma;
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
		if (hlen == 0 || u->nsentinels == QUEUE_SENTINELS_MAX || memchr(p, '@', hlen) != NULL)
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
	CURLU *h = NULL;
	char *file_url = NULL;
	const char *curl_input;
	unsigned flags;
	size_t len;
	CURLUcode rc;
	int is_unix;
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
	if (strncasecmp(url, SCHEME_REDIS, strlen(SCHEME_REDIS)) == 0) {
		if (url[strlen(SCHEME_REDIS)] == '/' || url[strlen(SCHEME_REDIS)] == '\0') {
			r = SG_ERR_PARSE;
			goto out;
		}
		is_unix = 0;
		curl_input = url;
		flags = CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS;
	} else if (strncasecmp(url, SCHEME_SENTINEL, strlen(SCHEME_SENTINEL)) == 0) {
		r = url_parse_sentinel(url, len, ret);
		goto out;
	} else if (strncasecmp(url, SCHEME_UNIX, strlen(SCHEME_UNIX)) == 0) {
		/* unix:///p → file:///p: same length, so it fits the same bound. */
		if ((file_url = strdup(url)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		memcpy(file_url, FILE_SCHEME, strlen(FILE_SCHEME));
		is_unix = 1;
		curl_input = file_url;
		flags = CURLU_PATH_AS_IS;
	} else {
		r = SG_ERR_PARSE;
		goto out;
	}

	if ((h = curl_url()) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	rc = curl_url_set(h, CURLUPART_URL, curl_input, flags);
	if (rc == CURLUE_OUT_OF_MEMORY) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (rc != CURLUE_OK) {
		log_debug("queue URL refused: %s", curl_url_strerror(rc));
		r = SG_ERR_PARSE;
		goto out;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if ((r = is_unix ? url_parse_unix(h, u) : url_parse_redis(h, u)) < 0)
		goto out;

	*ret = u;
	u = NULL;
	r = 0;
out:
	queue_url_free(u);
	curl_url_cleanup(h);
	free(file_url);
	return r;
}
