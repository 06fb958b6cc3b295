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
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "sgtime.h"

#define LOG_IDENT_MAX_BYTES 64
#define LOG_MSG_MAX_BYTES   2048
#define LOG_ELLIPSIS_LEN    3 /* "..." marks a cut */
/* Worst case: every message byte escaped to 6 bytes, plus the rest. */
#define LOG_LINE_MAX_BYTES  (6 * LOG_MSG_MAX_BYTES + 1024)

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
line_put_escaped(struct line *l, const char *s, int json)
{
	const unsigned char *p;
	char esc[8];

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
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
line_put_json_member(struct line *l, const char *name, const char *value)
{
	line_puts(l, ",\"");
	line_puts(l, name);
	line_puts(l, "\":\"");
	line_put_escaped(l, value, 1);
	line_puts(l, "\"");
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

void
sg_log(enum log_level level, const char *func, int r, const char *fmt, ...)
{
	static struct line line; /* large; protected by log_lock */
	char msg[LOG_MSG_MAX_BYTES];
	char now[SGTIME_LEN + 1];
	const char *lname;
	int saved_errno = errno;
	va_list ap;
	int n;

	if ((unsigned)level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	lname = level_names[level];
	if (func == NULL)
		func = "?";

	pthread_mutex_lock(&log_lock);
	if (level > log_level)
		goto out;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
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
