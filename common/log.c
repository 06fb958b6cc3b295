/*
 * log.c — the one logger: stderr, plain text or JSON lines.
 *
 * Each line is built in a local buffer and written with write(2) while
 * holding a mutex, so lines from several threads never interleave.  The
 * message itself is treated as possibly tainted (a caller may have
 * forgotten log_escape), so control bytes are escaped in both formats and
 * a message can never start a forged line of its own.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "sgtime.h"
#include "util.h"

#define LOG_IDENT_MAX_BYTES 64
#define LOG_MSG_MAX_BYTES   2048
#define LOG_ELLIPSIS_LEN    3  /* "..." marks a cut */
#define LOG_EVENT_MAX_BYTES 64 /* an event name (ours, not input) */

/* The string members of struct log_fields, in the order JSON shows them. */
static const struct {
	const char *name;
	size_t off;
} log_str_fields[] = {
	{ "job", offsetof(struct log_fields, job) },
	{ "entry", offsetof(struct log_fields, entry) },
	{ "submitter", offsetof(struct log_fields, submitter) },
	{ "key", offsetof(struct log_fields, key) },
	{ "status", offsetof(struct log_fields, status) },
	{ "code", offsetof(struct log_fields, code) },
	{ "artifact", offsetof(struct log_fields, artifact) },
	{ "sha256", offsetof(struct log_fields, sha256) },
	{ "format", offsetof(struct log_fields, format) },
	{ "keyid", offsetof(struct log_fields, keyid) },
	{ "ci", offsetof(struct log_fields, ci) },
	{ "approver", offsetof(struct log_fields, approver) },
	{ "target", offsetof(struct log_fields, target) },
	{ "agent", offsetof(struct log_fields, agent) },
	{ "consumer", offsetof(struct log_fields, consumer) },
};

static const struct {
	const char *name;
	unsigned bit;
	size_t off;
} log_int_fields[] = {
	{ "duration_ms", LOG_HAS_DURATION_MS, offsetof(struct log_fields, duration_ms) },
	{ "approvals", LOG_HAS_APPROVALS, offsetof(struct log_fields, approvals) },
	{ "required", LOG_HAS_REQUIRED, offsetof(struct log_fields, required) },
	{ "workers", LOG_HAS_WORKERS, offsetof(struct log_fields, workers) },
	{ "attempts", LOG_HAS_ATTEMPTS, offsetof(struct log_fields, attempts) },
	{ "deliveries", LOG_HAS_DELIVERIES, offsetof(struct log_fields, deliveries) },
};

#define LOG_STR_FIELDS 15 /* nitems(log_str_fields), for the bound below */
#define LOG_INT_FIELDS 6
_Static_assert(nitems(log_str_fields) == LOG_STR_FIELDS, "LOG_STR_FIELDS");
_Static_assert(nitems(log_int_fields) == LOG_INT_FIELDS, "LOG_INT_FIELDS");
/* Worst case: every message and value byte escaped to 6 bytes, names,
 * quotes and numbers (at most 24 bytes each), and the fixed members. */
#define LOG_LINE_MAX_BYTES                                                                         \
	(6 *                                                                                       \
		(LOG_MSG_MAX_BYTES + LOG_EVENT_MAX_BYTES +                                         \
		    LOG_STR_FIELDS * (LOG_VALUE_MAX_BYTES + LOG_ELLIPSIS_LEN)) +                   \
	    (LOG_STR_FIELDS + LOG_INT_FIELDS) * 48 + 1024)

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_ident[LOG_IDENT_MAX_BYTES] = "signet";
static enum log_level log_level = LOG_LEVEL_INFO;
static enum log_format log_format = LOG_FORMAT_PLAIN;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *ident, enum log_level level, enum log_format format)
{
	pthread_mutex_lock(&log_lock);
	if (ident != NULL)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_level = level;
	log_format = format;
	pthread_mutex_unlock(&log_lock);
}

void
log_set_level(enum log_level level)
{
	pthread_mutex_lock(&log_lock);
	log_level = level;
	pthread_mutex_unlock(&log_lock);
}

/* A bounded line under construction; appends past the end are dropped. */
struct line {
	char buf[LOG_LINE_MAX_BYTES];
	size_t len;
};

static void
line_put(struct line *l, const char *s, size_t n)
{
	size_t room = sizeof(l->buf) - 1 - l->len; /* keep one byte for '\n' */

	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
line_puts(struct line *l, const char *s)
{
	line_put(l, s, strlen(s));
}

/*
 * Appends s escaped.  JSON: RFC 8259 escapes; bytes >= 0x80 become \u00XX
 * so that the line stays valid UTF-8 JSON whatever the bytes were (our own
 * messages are ASCII; untrusted text arrives through log_escape already).
 * Plain: control bytes become \xNN.
 */
static void
line_put_escaped_n(struct line *l, const char *s, size_t max, int json)
{
	const unsigned char *p;
	char esc[8];
	size_t i;

	for (p = (const unsigned char *)s, i = 0; i < max && *p != '\0'; p++, i++) {
		if (json && (*p == '"' || *p == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)*p;
			line_put(l, esc, 2);
		} else if (json && *p == '\n') {
			line_puts(l, "\\n");
		} else if (json && *p == '\t') {
			line_puts(l, "\\t");
		} else if (json && (*p < 0x20 || *p >= 0x7f)) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			line_puts(l, esc);
		} else if (!json && (*p < 0x20 || *p == 0x7f)) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			line_puts(l, esc);
		} else {
			line_put(l, (const char *)p, 1);
		}
	}
}

static void
line_put_escaped(struct line *l, const char *s, int json)
{
	line_put_escaped_n(l, s, SIZE_MAX, json);
}

static void
line_put_json_member(struct line *l, const char *name, const char *value)
{
	line_puts(l, ",\"");
	line_puts(l, name);
	line_puts(l, "\":\"");
	line_put_escaped(l, value, 1);
	line_puts(l, "\"");
}

/* A value from input: at most max bytes of it, "..." when it was longer. */
static void
line_put_json_value(struct line *l, const char *name, const char *value, size_t max)
{
	line_puts(l, ",\"");
	line_puts(l, name);
	line_puts(l, "\":\"");
	line_put_escaped_n(l, value, max, 1);
	if (strnlen(value, max + 1) > max)
		line_puts(l, "...");
	line_puts(l, "\"");
}

static void
line_put_json_fields(struct line *l, const struct log_fields *f)
{
	char num[32];
	size_t i;

	for (i = 0; i < nitems(log_str_fields); i++) {
		const char *v;

		memcpy(&v, (const char *)f + log_str_fields[i].off, sizeof(v));
		if (v != NULL)
			line_put_json_value(l, log_str_fields[i].name, v, LOG_VALUE_MAX_BYTES);
	}
	for (i = 0; i < nitems(log_int_fields); i++) {
		int64_t v;

		if ((f->has & log_int_fields[i].bit) == 0)
			continue;
		memcpy(&v, (const char *)f + log_int_fields[i].off, sizeof(v));
		snprintf(num, sizeof(num), "%" PRId64, v);
		line_puts(l, ",\"");
		line_puts(l, log_int_fields[i].name);
		line_puts(l, "\":");
		line_puts(l, num);
	}
}

static void
write_line(const struct line *l)
{
	const char *p = l->buf;
	size_t left = l->len;
	ssize_t n;

	while (left > 0) {
		n = write(STDERR_FILENO, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere left to report it */
		p += n;
		left -= (size_t)n;
	}
}

static void vlog(enum log_level level, const char *func, int r, const char *event,
    const struct log_fields *f, const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

static void
vlog(enum log_level level, const char *func, int r, const char *event, const struct log_fields *f,
    const char *fmt, va_list ap)
{
	static struct line line; /* large; protected by log_lock */
	char msg[LOG_MSG_MAX_BYTES];
	char now[SGTIME_LEN + 1];
	const char *lname;
	int saved_errno = errno;
	int n;

	if ((unsigned)level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	lname = level_names[level];
	if (func == NULL)
		func = "?";

	pthread_mutex_lock(&log_lock);
	if (level > log_level)
		goto out;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unformattable message)");
	else if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);

	line.len = 0;
	if (log_format == LOG_FORMAT_JSON) {
		sgtime_format(sgtime_now(), now);
		line_puts(&line, "{\"time\":\"");
		line_puts(&line, now);
		line_puts(&line, "\"");
		line_put_json_member(&line, "level", lname);
		line_put_json_member(&line, "ident", log_ident);
		line_put_json_member(&line, "func", func);
		if (event != NULL)
			line_put_json_value(&line, "event", event, LOG_EVENT_MAX_BYTES);
		if (f != NULL)
			line_put_json_fields(&line, f);
		line_put_json_member(&line, "msg", msg);
		if (r != 0)
			line_put_json_member(&line, "error", sg_strerror(r));
		line_puts(&line, "}");
	} else {
		line_put_escaped(&line, log_ident, 0);
		line_puts(&line, ": ");
		line_puts(&line, lname);
		line_puts(&line, ": ");
		/* Info lines are for operators; the function name is noise there. */
		if (level != LOG_LEVEL_INFO) {
			line_put_escaped(&line, func, 0);
			line_puts(&line, ": ");
		}
		line_put_escaped(&line, msg, 0);
		if (r != 0) {
			line_puts(&line, ": ");
			line_puts(&line, sg_strerror(r));
		}
	}
	/* line_put always leaves one byte free for this. */
	line.buf[line.len++] = '\n';
	write_line(&line);
out:
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}

void
sg_log(enum log_level level, const char *func, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, func, r, NULL, NULL, fmt, ap);
	va_end(ap);
}

void
sg_log_event(enum log_level level, const char *func, int r, const char *event,
    const struct log_fields *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, func, r, event, f, fmt, ap);
	va_end(ap);
}

char *
log_escape(const char *s, size_t len, char *out, size_t outsz)
{
	char esc[5];
	size_t i, o = 0, need, limit, n;
	unsigned char c;

	if (out == NULL || outsz == 0)
		return out;
	if (s == NULL) {
		s = "(null)";
		len = 6;
	}
	/* Does the whole escaped input fit?  Else leave room for "...". */
	for (i = 0, need = 0; i < len && s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		need += (c == '"' || c == '\\') ? 2 : (c < 0x20 || c >= 0x7f) ? 4 : 1;
	}
	if (need <= outsz - 1)
		limit = outsz - 1;
	else
		limit = outsz - 1 >= LOG_ELLIPSIS_LEN ? outsz - 1 - LOG_ELLIPSIS_LEN : 0;
	for (i = 0; i < len && s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			n = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			n = (size_t)snprintf(esc, sizeof(esc), "%c", c);
		/* Never split an escape sequence. */
		if (n > limit - o)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	/* Mark the cut; fewer dots only when out is tiny. */
	for (i = 0; need > outsz - 1 && i < LOG_ELLIPSIS_LEN && o < outsz - 1; i++)
		out[o++] = '.';
	out[o] = '\0';
	return out;
}
