/*
 * util.c — hex, checked integers, bounded file I/O and secret files.
 *
 * Every file here is opened O_CLOEXEC so that nothing leaks into a child
 * the agent may spawn, and reading is bounded before the bytes arrive.
 */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char hex_digits[] = "0123456789abcdef";

void
hex_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

int
looks_like_file_content(const char *s)
{
	return s != NULL &&
	    (strstr(s, "-----BEGIN") != NULL || strchr(s, '\n') != NULL ||
		strnlen(s, PATH_MAX) >= PATH_MAX);
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Value of a lowercase hex digit, or -1: what we write is lowercase, and
 * what we compare as text must be too. */
static int
hex_value(char c)
{
	return c >= 'A' && c <= 'F' ? -1 : hex_digit((unsigned char)c);
}

int
pct_decode(const char *s, size_t n, int (*raw_ok)(unsigned char c, void *arg), void *arg,
    uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t i = 0, o = 0;
	int hi, lo;
	uint8_t b;

	while (i < n) {
		if (s[i] == '%') {
			if (n - i < 3 || (hi = hex_digit((unsigned char)s[i + 1])) < 0 ||
			    (lo = hex_digit((unsigned char)s[i + 2])) < 0)
				return SG_ERR_PARSE;
			b = (uint8_t)(hi << 4 | lo);
			i += 3;
		} else if (raw_ok((unsigned char)s[i], arg)) {
			b = (uint8_t)s[i];
			i++;
		} else {
			return SG_ERR_PARSE;
		}
		if (o == cap)
			return SG_ERR_LIMIT;
		out[o++] = b;
	}
	*ret_len = o;
	return 0;
}

int
hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len)
{
	size_t i;
	int hi, lo;

	if (in == NULL || out_len > SIZE_MAX / 2 || in_len != 2 * out_len)
		return SG_ERR_PARSE;
	/* Validate everything before writing, so out is untouched on error.
	 * (Not is_lower_hex(): `in` need not be NUL-terminated here.) */
	for (i = 0; i < in_len; i++) {
		if (hex_value(in[i]) < 0)
			return SG_ERR_PARSE;
	}
	for (i = 0; i < out_len; i++) {
		hi = hex_value(in[2 * i]);
		lo = hex_value(in[2 * i + 1]);
		out[i] = (uint8_t)((hi << 4) | lo);
	}
	return 0;
}

int
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (hex_value(s[i]) < 0)
			return 0;
	}
	/* "Exactly n": a longer string is not n hex characters. */
	return s[n] == '\0';
}

int
parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	unsigned d;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return SG_ERR_PARSE;
	if (s[0] == '0' && s[1] != '\0')
		return SG_ERR_PARSE;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SG_ERR_PARSE;
		d = (unsigned)(s[i] - '0');
		/* v * 10 + d > max, written so that nothing can wrap. */
		if (v > max / 10 || d > max - v * 10)
			return SG_ERR_PARSE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

void
errbuf_set(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

void
freezero(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

char *
xstrdup(const char *s)
{
	if (s == NULL)
		return NULL;
	return strdup(s);
}

/*
 * Reads fd to EOF into a fresh NUL-terminated buffer of at most max bytes.
 * st_size is only a hint (the file may change while we read); when the
 * buffer fills up we grow it, never past max.  With `wipe`, every buffer
 * that is given up is wiped first, so a secret leaves no copy on the heap.
 */
static int
read_fd_bounded(int fd, size_t hint, size_t max, int wipe, char **ret, size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	char *buf = NULL, *nbuf;
	size_t cap, len = 0, ncap;
	ssize_t n;

	if (max > SIZE_MAX - 1)
		max = SIZE_MAX - 1;
	/* One byte more than the content, so that EOF is seen without growing
	 * and there is room for the NUL.  Invariant: cap <= max + 1. */
	cap = (hint < max ? hint : max) + 1;
	if ((buf = malloc(cap)) == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	for (;;) {
		if (len == cap) {
			ncap = cap <= (max + 1) / 2 ? 2 * cap : max + 1;
			if ((nbuf = malloc(ncap)) == NULL) {
				r = SG_ERR_ALLOC;
				goto out;
			}
			memcpy(nbuf, buf, len);
			if (wipe)
				explicit_bzero(buf, cap);
			free(buf);
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = SG_ERR_SYSTEM;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = SG_ERR_LIMIT;
			goto out;
		}
	}
	/* len < cap here: reads never fill past cap and a full buffer grows. */
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	if (wipe)
		freezero(buf, cap);
	else
		free(buf);
	return r;
}

/*
 * Opens a regular file for reading.  O_NONBLOCK keeps a FIFO planted at
 * the path from blocking us in open(); it does nothing for regular files.
 */
static int
open_regular(const char *path, int *ret_fd, struct stat *ret_st)
{
	int fd;

	if (path == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? SG_ERR_NOT_FOUND : SG_ERR_SYSTEM;
	if (fstat(fd, ret_st) != 0 || !S_ISREG(ret_st->st_mode)) {
		close(fd);
		return SG_ERR_SYSTEM;
	}
	*ret_fd = fd;
	return 0;
}

int
read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	int fd = -1;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;

	if ((r = open_regular(path, &fd, &st)) != 0)
		goto out;
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	if ((r = read_fd_bounded(fd, (size_t)st.st_size, max, 0, &buf, &len)) != 0)
		goto out;
	*ret = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

int
read_secret_file(const char *path, char **ret, size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	int fd = -1;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;

	if ((r = open_regular(path, &fd, &st)) != 0)
		goto out;
	/*
	 * Check the file we actually opened, not the path, so a swap between
	 * check and use cannot slip a readable file past us.  Any group or
	 * other bit is refused: a secret file has no business being shared.
	 */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		r = SG_ERR_SECRET_FILE;
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > SECRET_FILE_MAX) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	if ((r = read_fd_bounded(fd, (size_t)st.st_size, SECRET_FILE_MAX, 1, &buf, &len)) != 0)
		goto out;
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	/* A NUL inside would silently cut the secret short when used as a string. */
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		r = SG_ERR_CONFIG;
		goto out;
	}
	*ret = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	/* The allocation is at least len + 1 bytes; wipe all we may have read. */
	if (buf != NULL)
		freezero(buf, len + 1);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Writes all of buf, retrying short writes and EINTR. */
static int
write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return SG_ERR_SYSTEM;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
path_dir(const char *path, char **ret)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		*ret = strdup(".");
	else if (slash == path)
		*ret = strdup("/");
	else
		*ret = strndup(path, (size_t)(slash - path));
	return *ret == NULL ? SG_ERR_ALLOC : 0;
}

/* fsync of the directory holding path, so the rename itself is durable. */
static int
fsync_parent(const char *path)
{
	int r = SG_ERR_INTERNAL;
	char *dir = NULL;
	int fd = -1;

	if ((r = path_dir(path, &dir)) != 0)
		goto out;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	if (fsync(fd) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

int
write_file_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
	static const char suffix[] = ".tmp.XXXXXX";
	int r = SG_ERR_INTERNAL;
	char *tmp = NULL;
	size_t plen;
	int fd = -1, created = 0;

	if (path == NULL || (buf == NULL && len > 0))
		return SG_ERR_INVALID_ARGUMENT;
	plen = strlen(path);
	if (plen == 0 || path[plen - 1] == '/')
		return SG_ERR_INVALID_ARGUMENT;
	if ((tmp = malloc(plen + sizeof(suffix))) == NULL)
		return SG_ERR_ALLOC;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, suffix, sizeof(suffix));
	/* The temp file is created 0600 and exclusively (no symlink games). */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	created = 1;
	/* fchmod is not subject to the umask: the caller gets exactly mode. */
	if (fchmod(fd, (mode_t)(mode & 0777)) != 0 || write_all(fd, buf, len) != 0 ||
	    fsync(fd) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = SG_ERR_SYSTEM;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	/* The temp name is gone now; nothing left to unlink. */
	created = 0;
	if ((r = fsync_parent(path)) != 0)
		goto out;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	free(tmp);
	return r;
}

int
der_sequence_len(const uint8_t *p, size_t n, size_t *ret_len)
{
	size_t hdr, body = 0, i, k;

	if (n < 2 || p[0] != 0x30)
		return SG_ERR_PARSE;
	if (p[1] < 0x80) {
		hdr = 2;
		body = p[1];
	} else {
		k = p[1] & 0x7f;
		/* 0x80 is BER's indefinite length; more than 4 length bytes
		 * are refused (no caller handles 4 GiB). */
		if (k == 0 || k > 4 || n - 2 < k || p[2] == 0)
			return SG_ERR_PARSE;
		for (i = 0; i < k; i++)
			body = body << 8 | p[2 + i];
		if (body < 0x80)
			return SG_ERR_PARSE; /* the short form was due */
		hdr = 2 + k;
	}
	if (body > n - hdr)
		return SG_ERR_PARSE;
	*ret_len = hdr + body;
	return 0;
}
