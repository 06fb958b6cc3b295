/*
 * json.c — strict JSON on top of cJSON.
 *
 * json_parse() works in two passes.  The first is our own RFC 8259
 * validator: an iterative scanner with an explicit stack of at most
 * JSON_DEPTH_MAX open containers, so hostile nesting can never exhaust the
 * C stack.  It checks the grammar, UTF-8 (Unicode table 3-7: no overlong
 * forms, no UTF-8-encoded surrogates, nothing above U+10FFFF), escapes
 * (\uXXXX surrogates must pair up), raw control characters in strings and
 * trailing data, and it records the facts that are valid JSON but that the
 * models refuse (escaped NUL or control characters).  Only bytes that pass
 * it reach cJSON, which builds the tree; a third step walks the tree to
 * report duplicate member names.
 */
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sgtime.h"
#include "util.h"

/* Longest decimal form of an int64_t plus sign and NUL. */
#define JSON_INT_TEXT_MAX 24

struct json_scan {
	const uint8_t *p;   /* next byte to read */
	const uint8_t *end; /* one past the last byte */
	unsigned flags;     /* JSON_F_* found so far */
};

static int
is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
skip_ws(struct json_scan *s)
{
	while (s->p < s->end && is_ws(*s->p))
		s->p++;
}

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of the well-formed UTF-8 sequence starting at p (at most `avail`
 * bytes readable), or 0 when it is not well formed.  Table 3-7 of the
 * Unicode standard, row by row.
 */
static size_t
utf8_seq_len(const uint8_t *p, size_t avail)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0; /* continuation byte, C0, C1 or F5..FF */
	if (avail < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return n;
}

int
json_check_utf8(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i = 0, n;

	if (p == NULL && len > 0)
		return SG_ERR_INVALID_ARGUMENT;
	while (i < len) {
		if ((n = utf8_seq_len(p + i, len - i)) == 0)
			return SG_ERR_PARSE;
		i += n;
	}
	return 0;
}

int
json_text_ok(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i;

	if (s == NULL || json_check_utf8(s, len) != 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		/* U+0080..U+009F are encoded as C2 80..C2 9F. */
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] <= 0x9f)
			return 0;
	}
	return 1;
}

/* Reads the four hex digits after "\u"; -1 when they are not there. */
static long
scan_hex4(struct json_scan *s)
{
	long v = 0;
	int i, h;

	if (s->end - s->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((h = hex_digit(s->p[i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	s->p += 4;
	return v;
}

/* s->p is at the opening quote. */
static int
scan_string(struct json_scan *s)
{
	long cp, lo;
	size_t n;

	s->p++;
	for (;;) {
		if (s->p >= s->end)
			return SG_ERR_PARSE;
		uint8_t c = *s->p;
		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return SG_ERR_PARSE; /* raw control character */
		if (c != '\\') {
			if ((n = utf8_seq_len(s->p, (size_t)(s->end - s->p))) == 0)
				return SG_ERR_PARSE;
			s->p += n;
			continue;
		}
		s->p++;
		if (s->p >= s->end)
			return SG_ERR_PARSE;
		c = *s->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			break;
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			s->flags |= JSON_F_CONTROL;
			break;
		case 'u':
			if ((cp = scan_hex4(s)) < 0)
				return SG_ERR_PARSE;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return SG_ERR_PARSE; /* lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
					return SG_ERR_PARSE; /* lone high surrogate */
				s->p += 2;
				if ((lo = scan_hex4(s)) < 0)
					return SG_ERR_PARSE;
				if (lo < 0xdc00 || lo > 0xdfff)
					return SG_ERR_PARSE; /* mismatched pair */
				break;
			}
			if (cp == 0)
				s->flags |= JSON_F_NUL_ESCAPE;
			if (cp < 0x20 || cp == 0x7f)
				s->flags |= JSON_F_CONTROL;
			break;
		default:
			return SG_ERR_PARSE;
		}
	}
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
scan_number(struct json_scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end || !is_digit(*s->p))
		return SG_ERR_PARSE;
	if (*s->p == '0') {
		s->p++;
	} else {
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return SG_ERR_PARSE;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return SG_ERR_PARSE;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	return 0;
}

static int
scan_literal(struct json_scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return SG_ERR_PARSE;
	s->p += n;
	return 0;
}

/* Where the scanner is in the grammar. */
enum scan_state {
	SCAN_VALUE,  /* a value is expected */
	SCAN_MEMBER, /* a member name is expected (after '{' content or ',') */
	SCAN_AFTER,  /* a value has just ended */
};

/*
 * The validator.  The stack holds '{' or '[' for each open container; its
 * size bounds the nesting (a top-level container is level 1).
 */
static int
json_validate(const uint8_t *buf, size_t len, unsigned *ret_flags)
{
	struct json_scan s = { buf, buf + len, 0 };
	uint8_t stack[JSON_DEPTH_MAX];
	size_t depth = 0;
	enum scan_state state = SCAN_VALUE;
	int r;

	for (;;) {
		skip_ws(&s);
		if (state == SCAN_AFTER && depth == 0)
			break;
		if (s.p >= s.end)
			return SG_ERR_PARSE;
		uint8_t c = *s.p;

		if (state == SCAN_MEMBER) {
			if (c != '"')
				return SG_ERR_PARSE;
			if ((r = scan_string(&s)) != 0)
				return r;
			skip_ws(&s);
			if (s.p >= s.end || *s.p != ':')
				return SG_ERR_PARSE;
			s.p++;
			state = SCAN_VALUE;
			continue;
		}
		if (state == SCAN_AFTER) {
			uint8_t top = stack[depth - 1];
			if (c == ',') {
				s.p++;
				state = top == '{' ? SCAN_MEMBER : SCAN_VALUE;
			} else if ((top == '{' && c == '}') || (top == '[' && c == ']')) {
				s.p++;
				depth--;
			} else {
				return SG_ERR_PARSE;
			}
			continue;
		}
		/* SCAN_VALUE */
		switch (c) {
		case '{':
		case '[':
			if (depth >= JSON_DEPTH_MAX)
				return SG_ERR_PARSE;
			stack[depth++] = c;
			s.p++;
			skip_ws(&s);
			if (s.p < s.end && *s.p == (c == '{' ? '}' : ']')) {
				s.p++;
				depth--;
				state = SCAN_AFTER;
			} else {
				state = c == '{' ? SCAN_MEMBER : SCAN_VALUE;
			}
			continue;
		case '"':
			r = scan_string(&s);
			break;
		case 't':
			r = scan_literal(&s, "true");
			break;
		case 'f':
			r = scan_literal(&s, "false");
			break;
		case 'n':
			r = scan_literal(&s, "null");
			break;
		default:
			if (c != '-' && !is_digit(c))
				return SG_ERR_PARSE;
			r = scan_number(&s);
			break;
		}
		if (r != 0)
			return r;
		state = SCAN_AFTER;
	}
	if (s.p != s.end)
		return SG_ERR_PARSE; /* trailing data */
	*ret_flags = s.flags;
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	const char *const *x = a;
	const char *const *y = b;

	return strcmp(*x, *y);
}

/*
 * Sets *found when some object in the tree has a member name twice.  The
 * validator bounded the nesting, so the recursion is at most
 * JSON_DEPTH_MAX deep.  Sorting the names keeps this O(n log n).
 */
static int
find_duplicates(const cJSON *node, int *found)
{
	const cJSON *c;
	const char **names = NULL;
	size_t n = 0, i;
	int r = SG_ERR_INTERNAL;

	if (cJSON_IsObject(node)) {
		for (c = node->child; c != NULL; c = c->next)
			n++;
		if (n > 1) {
			if ((names = calloc(n, sizeof(*names))) == NULL) {
				r = SG_ERR_ALLOC;
				goto out;
			}
			i = 0;
			for (c = node->child; c != NULL; c = c->next) {
				if (c->string == NULL)
					goto out; /* cJSON always names members */
				names[i++] = c->string;
			}
			qsort(names, n, sizeof(*names), cmp_names);
			for (i = 1; i < n; i++) {
				if (strcmp(names[i - 1], names[i]) == 0)
					*found = 1;
			}
		}
	}
	if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
		for (c = node->child; c != NULL && !*found; c = c->next) {
			if ((r = find_duplicates(c, found)) != 0)
				goto out;
		}
	}
	r = 0;
out:
	free(names);
	return r;
}

int
json_parse(const void *buf, size_t len, cJSON **ret_root, unsigned *ret_flags)
{
	cJSON *root = NULL;
	const char *end = NULL;
	const uint8_t *b = buf;
	char *copy = NULL;
	unsigned flags = 0;
	size_t i;
	int dup = 0;
	int r = SG_ERR_INTERNAL;

	if (ret_root == NULL || ret_flags == NULL || (buf == NULL && len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	*ret_root = NULL;
	*ret_flags = 0;

	if ((r = json_validate(b, len, &flags)) != 0)
		goto out;
	/*
	 * The bytes are valid JSON, so cJSON can only fail here for lack of
	 * memory or for one of its own limits; either way the input is not
	 * one we can accept, so it is reported as unparseable.
	 */
	/*
	 * cJSON ends a string at an escaped NUL, so "<id>\u0000x" would read
	 * as "<id>".  Parse a copy in which every \u0000 escape is \u0001
	 * instead: the string keeps its full length and still holds a control
	 * character (which every model refuses), and JSON_F_NUL_ESCAPE still
	 * tells the caller.  Every backslash of valid JSON starts an escape.
	 */
	if (flags & JSON_F_NUL_ESCAPE) {
		if ((copy = malloc(len)) == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		memcpy(copy, buf, len);
		for (i = 0; i + 1 < len; i++) {
			if (copy[i] != '\\')
				continue;
			if (copy[i + 1] == 'u' && len - i >= 6 &&
			    memcmp(copy + i + 2, "0000", 4) == 0)
				copy[i + 5] = '1';
			i++; /* the escaped character */
		}
		buf = copy;
	}
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL || end == NULL || end < (const char *)buf ||
	    (size_t)(end - (const char *)buf) > len) {
		r = SG_ERR_PARSE;
		goto out;
	}
	for (i = (size_t)(end - (const char *)buf); i < len; i++) {
		if (!is_ws(((const unsigned char *)buf)[i])) {
			r = SG_ERR_PARSE;
			goto out;
		}
	}
	if ((r = find_duplicates(root, &dup)) != 0)
		goto out;
	if (dup)
		flags |= JSON_F_DUPLICATE;

	*ret_root = root;
	root = NULL;
	*ret_flags = flags;
	r = 0;
out:
	free(copy);
	cJSON_Delete(root);
	return r;
}

int
json_check_members(const cJSON *obj, const char *const *allowed, size_t n, const char **ret_unknown)
{
	const cJSON *c;
	size_t i;

	if (ret_unknown != NULL)
		*ret_unknown = NULL;
	if (!cJSON_IsObject(obj) || (allowed == NULL && n > 0))
		return SG_ERR_INVALID_ARGUMENT;
	for (c = obj->child; c != NULL; c = c->next) {
		for (i = 0; i < n; i++) {
			if (c->string != NULL && strcmp(c->string, allowed[i]) == 0)
				break;
		}
		if (i == n) {
			if (ret_unknown != NULL)
				*ret_unknown = c->string;
			return SG_ERR_NOT_FOUND;
		}
	}
	return 0;
}

const cJSON *
json_get(const cJSON *obj, const char *name)
{
	if (!cJSON_IsObject(obj) || name == NULL)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

int
json_get_string(const cJSON *obj, const char *name, const char **ret, size_t *ret_len)
{
	const cJSON *v;

	if ((v = json_get(obj, name)) == NULL)
		return SG_ERR_NOT_FOUND;
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return SG_ERR_PARSE;
	if (ret != NULL)
		*ret = v->valuestring;
	if (ret_len != NULL)
		*ret_len = strlen(v->valuestring);
	return 0;
}

int
json_get_int(const cJSON *obj, const char *name, int64_t min, int64_t max, int64_t *ret)
{
	const cJSON *v;
	double d;
	int64_t i;

	if ((v = json_get(obj, name)) == NULL)
		return SG_ERR_NOT_FOUND;
	if (!cJSON_IsNumber(v))
		return SG_ERR_PARSE;
	d = v->valuedouble;
	/* Below 2^53 in magnitude every integer is exact, so the conversion
	 * and the range check cannot be fooled by rounding. */
	if (!isfinite(d) || d != floor(d) || d >= (double)JSON_INT_MAX ||
	    d <= -(double)JSON_INT_MAX)
		return SG_ERR_PARSE;
	i = (int64_t)d;
	if (i < min || i > max)
		return SG_ERR_PARSE;
	if (ret != NULL)
		*ret = i;
	return 0;
}

int
json_get_bool(const cJSON *obj, const char *name, int *ret)
{
	const cJSON *v;

	if ((v = json_get(obj, name)) == NULL)
		return SG_ERR_NOT_FOUND;
	if (!cJSON_IsBool(v))
		return SG_ERR_PARSE;
	if (ret != NULL)
		*ret = cJSON_IsTrue(v) ? 1 : 0;
	return 0;
}

int
json_get_object(const cJSON *obj, const char *name, const cJSON **ret)
{
	const cJSON *v;

	if ((v = json_get(obj, name)) == NULL)
		return SG_ERR_NOT_FOUND;
	if (!cJSON_IsObject(v))
		return SG_ERR_PARSE;
	if (ret != NULL)
		*ret = v;
	return 0;
}

int
json_get_array(const cJSON *obj, const char *name, const cJSON **ret)
{
	const cJSON *v;

	if ((v = json_get(obj, name)) == NULL)
		return SG_ERR_NOT_FOUND;
	if (!cJSON_IsArray(v))
		return SG_ERR_PARSE;
	if (ret != NULL)
		*ret = v;
	return 0;
}

int
json_print(const cJSON *root, char **ret, size_t *ret_len)
{
	char *s;

	if (ret == NULL || root == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = NULL;
	if (ret_len != NULL)
		*ret_len = 0;
	if ((s = cJSON_PrintUnformatted(root)) == NULL)
		return SG_ERR_ALLOC;
	*ret = s;
	if (ret_len != NULL)
		*ret_len = strlen(s);
	return 0;
}

int
json_add_string(cJSON *obj, const char *name, const char *s)
{
	if (!cJSON_IsObject(obj) || name == NULL || s == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (cJSON_AddStringToObject(obj, name, s) == NULL)
		return SG_ERR_ALLOC;
	return 0;
}

int
json_add_int(cJSON *obj, const char *name, int64_t v)
{
	char text[JSON_INT_TEXT_MAX];
	int n;

	if (!cJSON_IsObject(obj) || name == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (v >= JSON_INT_MAX || v <= -JSON_INT_MAX)
		return SG_ERR_INVALID_ARGUMENT;
	/*
	 * cJSON 1.7.15 prints numbers with "%1.15g" and accepts the result
	 * when it is within a relative epsilon, so 9007199254740991 comes out
	 * as 9.00719925474099e+15.  Printing the decimal ourselves and adding
	 * it as a raw node keeps every integer exact.
	 */
	n = snprintf(text, sizeof(text), "%" PRId64, v);
	if (n < 0 || (size_t)n >= sizeof(text))
		return SG_ERR_INTERNAL;
	if (cJSON_AddRawToObject(obj, name, text) == NULL)
		return SG_ERR_ALLOC;
	return 0;
}

int
json_get_hex(const cJSON *obj, const char *name, size_t n, char *out)
{
	const char *s;
	size_t len;

	if (json_get_string(obj, name, &s, &len) != 0 || len != n || !is_lower_hex(s, n))
		return SG_ERR_PARSE;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int
json_get_time(const cJSON *obj, const char *name, int64_t *ret)
{
	const char *s;
	size_t len;

	if (json_get_string(obj, name, &s, &len) != 0 || len != SGTIME_LEN ||
	    sgtime_parse(s, ret) != 0)
		return SG_ERR_PARSE;
	return 0;
}
