/*
 * hsm_uri.c — the subset of RFC 7512 PKCS#11 URIs that signet accepts.
 *
 * Grammar (RFC 7512 §2.3, path part only, ABNF of RFC 5234):
 *
 *   uri   = "pkcs11:" [ attr *( ";" attr ) ]
 *   attr  = name "=" 1*pchar
 *   name  = "object" / "id" / "token" / "type"
 *   pchar = ALPHA / DIGIT / "-" / "." / "_" / "~"          ; unreserved
 *         / ":" / "[" / "]" / "@" / "!" / "$" / "'" / "(" / ")"
 *         / "*" / "+" / "," / "=" / "&"                     ; path-res-avail
 *         / "%" HEXDIG HEXDIG                               ; pct-encoded
 *
 * Stricter than the RFC, on purpose: attribute names are lowercase only;
 * every value is non-empty; an attribute may appear once; any other path
 * attribute (slot-id, serial, vendor "x-" ones...), a query ("?...") or a
 * fragment is refused; object, token and type may not decode to a NUL byte;
 * type is one of "private", "public", "cert".  The scheme itself is matched
 * case-insensitively (RFC 3986 §3.1).  id= decodes to raw bytes (NUL
 * allowed), at most HSM_ID_MAX of them; the whole URI is at most HSM_URI_MAX
 * bytes.  Errors: SG_ERR_PARSE, SG_ERR_LIMIT, SG_ERR_ALLOC,
 * SG_ERR_INVALID_ARGUMENT.
 *
 * The parser does no I/O and allocates only the decoded strings.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hsm.h"
#include "util.h"

#define URI_SCHEME     "pkcs11:"
#define URI_SCHEME_LEN (sizeof(URI_SCHEME) - 1)

/* An unencoded byte allowed in a path attribute value (see the grammar). */
static int
is_pchar(unsigned char c, void *arg)
{
	(void)arg;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("-._~:[]@!$'()*+,=&", c) != NULL;
}

/* Decodes a text value into a new NUL-terminated string; a decoded NUL is
 * SG_ERR_PARSE. */
static int
decode_string(const char *s, size_t n, char **ret)
{
	int r = SG_ERR_INTERNAL;
	uint8_t *buf = NULL;
	size_t len = 0;

	/* Decoding never lengthens a value, so n + 1 bytes always suffice. */
	buf = malloc(n + 1);
	if (buf == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	r = pct_decode(s, n, is_pchar, NULL, buf, n, &len);
	if (r < 0)
		goto out;
	if (memchr(buf, '\0', len) != NULL) {
		r = SG_ERR_PARSE;
		goto out;
	}
	buf[len] = '\0';
	*ret = (char *)buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	return r;
}

static int
name_is(const char *name, size_t name_len, const char *want)
{
	return strlen(want) == name_len && memcmp(name, want, name_len) == 0;
}

/* One "name=value" path attribute of n bytes at s, into u. */
static int
parse_attr(const char *s, size_t n, struct hsm_uri *u)
{
	int r = SG_ERR_INTERNAL;
	const char *eq, *val;
	size_t name_len, val_len, id_len = 0;
	char **slot = NULL;
	char *str = NULL;

	eq = memchr(s, '=', n);
	if (eq == NULL) {
		r = SG_ERR_PARSE;
		goto out;
	}
	name_len = (size_t)(eq - s);
	val = eq + 1;
	val_len = n - name_len - 1;
	if (val_len == 0) {
		r = SG_ERR_PARSE;
		goto out;
	}

	if (name_is(s, name_len, "id")) {
		if (u->has_id) {
			r = SG_ERR_PARSE;
			goto out;
		}
		r = pct_decode(val, val_len, is_pchar, NULL, u->id, sizeof(u->id), &id_len);
		if (r < 0)
			goto out;
		u->id_len = id_len;
		u->has_id = 1;
		r = 0;
		goto out;
	}

	if (name_is(s, name_len, "object"))
		slot = &u->object;
	else if (name_is(s, name_len, "token"))
		slot = &u->token;
	else if (name_is(s, name_len, "type"))
		slot = &u->type;
	if (slot == NULL || *slot != NULL) {
		r = SG_ERR_PARSE; /* unknown or repeated attribute */
		goto out;
	}
	r = decode_string(val, val_len, &str);
	if (r < 0)
		goto out;
	if (slot == &u->type && strcmp(str, "private") != 0 && strcmp(str, "public") != 0 &&
	    strcmp(str, "cert") != 0) {
		r = SG_ERR_PARSE;
		goto out;
	}
	*slot = str;
	str = NULL;
	r = 0;
out:
	free(str);
	return r;
}

int
hsm_uri_parse(const char *uri, struct hsm_uri **ret)
{
	int r = SG_ERR_INTERNAL;
	struct hsm_uri *u = NULL;
	const char *p, *end;
	size_t len;

	if (uri == NULL || ret == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	len = strnlen(uri, HSM_URI_MAX + 1);
	if (len > HSM_URI_MAX) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	if (len < URI_SCHEME_LEN || strncasecmp(uri, URI_SCHEME, URI_SCHEME_LEN) != 0) {
		r = SG_ERR_PARSE;
		goto out;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	p = uri + URI_SCHEME_LEN;
	end = uri + len;
	/* An empty path is valid RFC 7512 (it matches everything); a trailing
	 * or doubled ';' is not: it leaves an attribute without '='. */
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *seg_end = semi != NULL ? semi : end;

		r = parse_attr(p, (size_t)(seg_end - p), u);
		if (r < 0)
			goto out;
		if (semi == NULL)
			break;
		p = semi + 1;
		if (p == end) {
			r = SG_ERR_PARSE;
			goto out;
		}
	}
	*ret = u;
	u = NULL;
	r = 0;
out:
	hsm_uri_free(u);
	return r;
}

void
hsm_uri_free(struct hsm_uri *u)
{
	if (u == NULL)
		return;
	free(u->object);
	free(u->token);
	free(u->type);
	free(u);
}
