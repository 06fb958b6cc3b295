/*
 * log.h — the one logger.  Commands call log_init(); library code logs at
 * debug level at most.  Lines go to stderr, as plain text or JSON lines.
 * Never log a PIN, a secret or a raw payload; cap and escape untrusted
 * strings with log_escape() first.
 */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
enum log_format { LOG_FORMAT_PLAIN = 0, LOG_FORMAT_JSON };

void log_init(const char *ident, enum log_level level, enum log_format format);
void log_set_level(enum log_level level);

/*
 * Writes one line to stderr if level is enabled (default: info, plain,
 * ident "signet").  Plain: "ident: level: func: message[: error text]"
 * (func omitted at info level).  JSON: {"time","level","ident","func",
 * "msg"[,"error"]}.  Messages are capped at 2 KiB; control bytes are
 * escaped.  Thread-safe; errno is preserved.
 */
void sg_log(enum log_level level, const char *func, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Copies untrusted s into out (outsz bytes, always NUL-terminated when
 * outsz > 0), reading at most len bytes of s and stopping early at a NUL
 * (so len may be a cap larger than a C string).  Quotes and backslashes
 * become \" and \\, control and non-ASCII bytes \xNN; an escape is never
 * split.  When the input does not fit, the output ends in "...".  NULL s
 * gives "(null)".  Returns out.
 */
char *log_escape(const char *s, size_t len, char *out, size_t outsz);

#define log_error(...)      sg_log(LOG_LEVEL_ERROR, __func__, 0, __VA_ARGS__)
#define log_warn(...)       sg_log(LOG_LEVEL_WARN, __func__, 0, __VA_ARGS__)
#define log_info(...)       sg_log(LOG_LEVEL_INFO, __func__, 0, __VA_ARGS__)
#define log_debug(...)      sg_log(LOG_LEVEL_DEBUG, __func__, 0, __VA_ARGS__)
/* The _r variants append ": <sg_strerror(r)>". */
#define log_error_r(r, ...) sg_log(LOG_LEVEL_ERROR, __func__, (r), __VA_ARGS__)
#define log_warn_r(r, ...)  sg_log(LOG_LEVEL_WARN, __func__, (r), __VA_ARGS__)
#define log_debug_r(r, ...) sg_log(LOG_LEVEL_DEBUG, __func__, (r), __VA_ARGS__)

#endif
