/*
 * sjournal.c — sjournal.h: the signer's journal records.  The form is
 * fixed byte for byte, so a record is parsed by matching it against the
 * form rather than by a JSON parser: nothing in it can be ambiguous.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "sgtime.h"
#include "sjournal.h"

#define SCAN_BUF_BYTES 65536

static int
key_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '_' || c == '-';
}

int
sjournal_format(char *out, size_t *ret_len, uint64_t seq, int64_t time, const char *key,
    const uint8_t *job, const uint8_t digest[SHA256_LEN], const uint8_t prev[SHA256_LEN])
{
	char ts[SGTIME_LEN + 1], jobhex[2 * 16 + 3], dhex[2 * SHA256_LEN + 1],
	    phex[2 * SHA256_LEN + 1];
	size_t klen, i;
	int n;

	klen = strlen(key);
	if (klen == 0 || klen > SJOURNAL_KEY_MAX)
		return SG_ERR_LIMIT;
	for (i = 0; i < klen; i++)
		if (!key_char_ok(key[i]))
			return SG_ERR_INVALID_ARGUMENT;
	sgtime_format(time, ts);
	if (job != NULL) {
		jobhex[0] = '"';
		hex_encode(job, 16, jobhex + 1);
		jobhex[33] = '"';
		jobhex[34] = '\0';
	} else {
		memcpy(jobhex, "null", 5);
	}
	hex_encode(digest, SHA256_LEN, dhex);
	hex_encode(prev, SHA256_LEN, phex);
	n = snprintf(out, SJOURNAL_LINE_MAX,
	    "{\"seq\":%llu,\"time\":\"%s\",\"key\":\"%s\",\"job\":%s,\"digest\":\"%s\",\"prev\":\"%"
	    "s\"}\n",
	    (unsigned long long)seq, ts, key, jobhex, dhex, phex);
	if (n < 0 || (size_t)n >= SJOURNAL_LINE_MAX)
		return SG_ERR_LIMIT;
	*ret_len = (size_t)n;
	return 0;
}

/* Matches the literal lit at *p; advances. */
static int
lit(const char **p, const char *end, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
		return -1;
	*p += n;
	return 0;
}

/* n lowercase hex characters at *p into out (n / 2 bytes); advances. */
static int
hexfield(const char **p, const char *end, size_t n, uint8_t *out)
{
	size_t i;

	if ((size_t)(end - *p) < n)
		return -1;
	for (i = 0; i < n; i++)
		if (!(((*p)[i] >= '0' && (*p)[i] <= '9') || ((*p)[i] >= 'a' && (*p)[i] <= 'f')))
			return -1;
	if (hex_decode(*p, n, out, n / 2) != 0)
		return -1;
	*p += n;
	return 0;
}

int
sjournal_parse(const char *line, size_t len, struct sjournal_rec *ret)
{
	struct sjournal_rec rec;
	const char *p = line, *end = line + len, *q;
	char num[21], ts[SGTIME_LEN + 1];
	uint8_t job[16];
	size_t n;

	memset(&rec, 0, sizeof(rec));
	if (lit(&p, end, "{\"seq\":") != 0)
		return SG_ERR_PARSE;
	for (q = p; q < end && *q >= '0' && *q <= '9'; q++)
		;
	n = (size_t)(q - p);
	if (n == 0 || n > 20 || (n > 1 && *p == '0'))
		return SG_ERR_PARSE;
	memcpy(num, p, n);
	num[n] = '\0';
	if (parse_u64(num, UINT64_MAX, &rec.seq) != 0 || rec.seq == 0)
		return SG_ERR_PARSE;
	p = q;
	if (lit(&p, end, ",\"time\":\"") != 0 || (size_t)(end - p) < SGTIME_LEN)
		return SG_ERR_PARSE;
	memcpy(ts, p, SGTIME_LEN);
	ts[SGTIME_LEN] = '\0';
	if (sgtime_parse(ts, &rec.time) != 0)
		return SG_ERR_PARSE;
	p += SGTIME_LEN;
	if (lit(&p, end, "\",\"key\":\"") != 0)
		return SG_ERR_PARSE;
	for (q = p; q < end && key_char_ok(*q); q++)
		;
	n = (size_t)(q - p);
	if (n == 0 || n > SJOURNAL_KEY_MAX)
		return SG_ERR_PARSE;
	memcpy(rec.key, p, n);
	p = q;
	if (lit(&p, end, "\",\"job\":") != 0)
		return SG_ERR_PARSE;
	if (lit(&p, end, "null") == 0) {
		rec.has_job = 0;
	} else {
		if (lit(&p, end, "\"") != 0 || hexfield(&p, end, SJOURNAL_ID_HEX_LEN, job) != 0 ||
		    lit(&p, end, "\"") != 0)
			return SG_ERR_PARSE;
		rec.has_job = 1;
		hex_encode(job, sizeof(job), rec.job);
	}
	if (lit(&p, end, ",\"digest\":\"") != 0 ||
	    hexfield(&p, end, 2 * SHA256_LEN, rec.digest) != 0 ||
	    lit(&p, end, "\",\"prev\":\"") != 0 ||
	    hexfield(&p, end, 2 * SHA256_LEN, rec.prev) != 0 || lit(&p, end, "\"}") != 0 ||
	    p != end)
		return SG_ERR_PARSE;
	*ret = rec;
	return 0;
}

int
sjournal_scan(int fd, sjournal_fn fn, void *arg, uint64_t *ret_count, uint8_t ret_last[SHA256_LEN],
    char *why, size_t whylen)
{
	int r = SG_ERR_INTERNAL;
	char *buf = NULL;
	size_t have = 0, start, i;
	uint64_t count = 0;
	uint8_t last[SHA256_LEN];
	struct sjournal_rec rec;
	ssize_t n;

	memset(last, 0, sizeof(last));
	if ((buf = malloc(SCAN_BUF_BYTES)) == NULL)
		return SG_ERR_ALLOC;
	for (;;) {
		n = read(fd, buf + have, SCAN_BUF_BYTES - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errbuf_set(why, whylen, "read: %s", strerror(errno));
			r = SG_ERR_SYSTEM;
			goto out;
		}
		have += (size_t)n;
		start = 0;
		for (i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			if (sjournal_parse(buf + start, i - start, &rec) != 0) {
				errbuf_set(why, whylen, "line %llu: not a journal record",
				    (unsigned long long)count + 1);
				r = SG_ERR_PARSE;
				goto out;
			}
			if (rec.seq != count + 1) {
				errbuf_set(why, whylen, "line %llu: holds record %llu",
				    (unsigned long long)count + 1, (unsigned long long)rec.seq);
				r = SG_ERR_PARSE;
				goto out;
			}
			if (memcmp(rec.prev, last, SHA256_LEN) != 0) {
				errbuf_set(why, whylen,
				    "line %llu: does not chain to the line before (a record was "
				    "altered, "
				    "removed or reordered)",
				    (unsigned long long)count + 1);
				r = SG_ERR_PARSE;
				goto out;
			}
			crypto_sha256(buf + start, i - start, last);
			count++;
			if (fn != NULL && (r = fn(arg, &rec)) != 0)
				goto out;
			start = i + 1;
		}
		if (start > 0) {
			memmove(buf, buf + start, have - start);
			have -= start;
		} else if (have == SCAN_BUF_BYTES) {
			errbuf_set(why, whylen, "line %llu: longer than %d bytes",
			    (unsigned long long)count + 1, SJOURNAL_LINE_MAX);
			r = SG_ERR_PARSE;
			goto out;
		}
		if (n == 0)
			break;
	}
	if (have > 0) {
		errbuf_set(why, whylen, "line %llu: no newline at the end (a write cut short)",
		    (unsigned long long)count + 1);
		r = SG_ERR_PARSE;
		goto out;
	}
	*ret_count = count;
	memcpy(ret_last, last, SHA256_LEN);
	r = 0;
out:
	free(buf);
	return r;
}
