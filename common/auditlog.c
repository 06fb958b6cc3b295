/*
 * auditlog.c — streaming check of an audit log (see auditlog.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditlog.h"
#include "json.h"

#define SCAN_BUF (1024 * 1024) /* > AUDITLOG_LINE_MAX + 1 */

static void defect(struct auditlog_state *st, uint64_t seq, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
defect(struct auditlog_state *st, uint64_t seq, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	st->bad_seq = seq;
	st->bad_line = line;
	va_start(ap, fmt);
	vsnprintf(st->problem, sizeof(st->problem), fmt, ap);
	va_end(ap);
}

/* The lines after a torn line, fed in pieces: whether a complete line
 * without a NUL byte has been seen (what no crash leaves). */
struct torn_scan {
	size_t len; /* bytes of the current line so far */
	int nul;    /* the current line holds a NUL */
};

static int
torn_scan(struct torn_scan *ts, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (ts->len > 0 && !ts->nul)
				return 1;
			ts->len = 0;
			ts->nul = 0;
		} else {
			ts->len++;
			ts->nul |= p[i] == '\0';
		}
	}
	return 0;
}

/* Fills the roots asked for at the current size. */
static void
take_roots(const struct auditlog_state *st, const uint8_t root[SHA256_LEN], const uint64_t *want,
    size_t nwant, uint8_t (*ret_roots)[SHA256_LEN])
{
	size_t i;

	for (i = 0; i < nwant; i++)
		if (want[i] == st->records)
			memcpy(ret_roots[i], root, SHA256_LEN);
}

/* Checks one complete line (no newline, no NUL) as record st->records + 1;
 * *ret_rec (caller deletes) is the parsed record when it is good. */
static int
check_record(struct auditlog_state *st, const char *line, size_t len,
    const uint8_t prev_root[SHA256_LEN], cJSON **ret_rec)
{
	uint64_t n = st->records + 1;
	char hex[SHA256_HEX_LEN + 1];
	const char *s;
	size_t slen;
	cJSON *root = NULL;
	unsigned flags = 0;
	int64_t seq;
	int r = SG_ERR_VERIFY;

	if (len > AUDITLOG_LINE_MAX) {
		defect(st, n, n, "record %llu is longer than %d bytes", (unsigned long long)n,
		    AUDITLOG_LINE_MAX);
		goto out;
	}
	if (json_parse(line, len, &root, &flags) != 0 || flags != 0 || !cJSON_IsObject(root)) {
		defect(st, n, n, "line %llu is not a well-formed record (altered or corrupt)",
		    (unsigned long long)n);
		goto out;
	}
	if (json_get_int(root, "seq", 1, JSON_INT_MAX, &seq) != 0) {
		defect(st, n, n, "line %llu has no valid record number", (unsigned long long)n);
		goto out;
	}
	if ((uint64_t)seq != n) {
		if ((uint64_t)seq > n)
			defect(st, n, n,
			    "record %llu is missing or out of order (line %llu holds record %llu)",
			    (unsigned long long)n, (unsigned long long)n, (unsigned long long)seq);
		else
			defect(st, (uint64_t)seq, n,
			    "record %llu is out of order (found at line "
			    "%llu) or repeated",
			    (unsigned long long)seq, (unsigned long long)n);
		goto out;
	}
	if (json_get_string(root, "time", &s, &slen) != 0) {
		defect(st, n, n, "record %llu has no time", (unsigned long long)n);
		goto out;
	}
	hex_encode(prev_root, SHA256_LEN, hex);
	if (json_get_string(root, "prev", &s, &slen) != 0 || slen != SHA256_HEX_LEN) {
		defect(st, n, n, "record %llu has no valid tree head of the records before it",
		    (unsigned long long)n);
		goto out;
	}
	if (memcmp(s, hex, SHA256_HEX_LEN) != 0) {
		if (n == 1)
			defect(st, n, n,
			    "record 1 does not start the log (records before it were "
			    "removed, or it was altered)");
		else
			defect(st, n - 1, n,
			    "record %llu was altered, removed or reordered: record "
			    "%llu records another tree head for the records before it",
			    (unsigned long long)(n - 1), (unsigned long long)n);
		goto out;
	}
	*ret_rec = root;
	root = NULL;
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

int
auditlog_scan(int fd, auditlog_record_fn fn, void *arg, const uint64_t *want_roots, size_t nwant,
    uint8_t (*ret_roots)[SHA256_LEN], struct auditlog_state *st)
{
	uint8_t prev[SHA256_LEN], leaf[SHA256_LEN];
	cJSON *rec;
	char *buf;
	size_t start = 0, end = 0;
	uint64_t base = 0; /* file offset of buf[0] */
	int eof = 0, r;

	memset(st, 0, sizeof(*st));
	merkle_init(&st->tree);
	if ((buf = malloc(SCAN_BUF)) == NULL)
		return SG_ERR_ALLOC;
	for (;;) {
		char *nl = memchr(buf + start, '\n', end - start);
		size_t len;

		if (nl == NULL) {
			if (eof) {
				if (end > start) {
					st->torn_offset = base + start;
					st->torn_len = end - start;
				}
				break;
			}
			if (end - start > AUDITLOG_LINE_MAX) {
				merkle_root(&st->tree, prev);
				take_roots(st, prev, want_roots, nwant, ret_roots);
				defect(st, st->records + 1, st->records + 1,
				    "record %llu is longer "
				    "than %d bytes",
				    (unsigned long long)(st->records + 1), AUDITLOG_LINE_MAX);
				r = SG_ERR_VERIFY;
				goto out;
			}
			memmove(buf, buf + start, end - start);
			base += start;
			end -= start;
			start = 0;
			ssize_t n = pread(fd, buf + end, SCAN_BUF - end, (off_t)(base + end));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				r = SG_ERR_SYSTEM;
				goto out;
			}
			if (n == 0)
				eof = 1;
			end += (size_t)n;
			continue;
		}
		len = (size_t)(nl - (buf + start));
		if (memchr(buf + start, '\0', len) != NULL) {
			/* What a crash leaves when the size grew before the data
			 * reached the disk: the rest of the file is torn.  Such a
			 * tail holds nothing but more of the same (NUL bytes, a
			 * record cut short): a complete line without a NUL after
			 * it means that a record in the middle of the log was
			 * altered, which is a defect, not a crash. */
			struct torn_scan ts = { 0, 0 };
			size_t after = (size_t)(nl - buf) + 1;

			st->torn_offset = base + start;
			if (torn_scan(&ts, buf + after, end - after)) {
				merkle_root(&st->tree, prev);
				take_roots(st, prev, want_roots, nwant, ret_roots);
				defect(st, st->records + 1, st->records + 1,
				    "record %llu holds a NUL byte, and complete records follow it: "
				    "the "
				    "log was altered, not cut short by a crash",
				    (unsigned long long)(st->records + 1));
				r = SG_ERR_VERIFY;
				goto out;
			}
			for (;;) {
				ssize_t n = pread(fd, buf, SCAN_BUF, (off_t)(base + end));
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0) {
					r = SG_ERR_SYSTEM;
					goto out;
				}
				if (n == 0)
					break;
				end += (size_t)n;
				if (torn_scan(&ts, buf, (size_t)n)) {
					merkle_root(&st->tree, prev);
					take_roots(st, prev, want_roots, nwant, ret_roots);
					defect(st, st->records + 1, st->records + 1,
					    "record %llu holds a NUL byte, and complete records "
					    "follow it: "
					    "the log was altered, not cut short by a crash",
					    (unsigned long long)(st->records + 1));
					r = SG_ERR_VERIFY;
					goto out;
				}
			}
			st->torn_len = base + end - st->torn_offset;
			break;
		}
		merkle_root(&st->tree, prev);
		take_roots(st, prev, want_roots, nwant, ret_roots);
		if ((r = check_record(st, buf + start, len, prev, &rec)) != 0)
			goto out;
		merkle_leaf_hash(buf + start, len, leaf);
		if (fn != NULL)
			r = fn(arg, st->records + 1, buf + start, len, leaf, rec);
		cJSON_Delete(rec);
		if (r != 0)
			goto out;
		if ((r = merkle_append(&st->tree, leaf, NULL, NULL)) != 0)
			goto out;
		st->records++;
		start += len + 1;
		st->bytes = base + start;
	}
	merkle_root(&st->tree, prev);
	take_roots(st, prev, want_roots, nwant, ret_roots);
	r = 0;
out:
	free(buf);
	return r;
}

int
auditlog_scan_file(const char *path, auditlog_record_fn fn, void *arg, const uint64_t *want_roots,
    size_t nwant, uint8_t (*ret_roots)[SHA256_LEN], struct auditlog_state *st)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return SG_ERR_SYSTEM;
	r = auditlog_scan(fd, fn, arg, want_roots, nwant, ret_roots, st);
	close(fd);
	return r;
}
