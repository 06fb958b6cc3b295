/*
 * log.h — the one logger.  Commands call log_init(); library code logs at
 * debug level at most.  Lines go to stderr, as plain text or JSON lines.
 * Never log a PIN, a secret or a raw payload; cap and escape untrusted
 * strings with log_escape() first.
 */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stddef.h>
#include <stdint.h>

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
 * Structured events.  An event is one line, like sg_log()'s, that also
 * carries its facts as named values.  The plain format prints the message
 * alone, exactly as sg_log() would (operators and scripts read those
 * lines); the JSON format puts the event name and each fact present at the
 * top level of the object, before "msg" (the same message):
 *
 *   {"time":..,"level":..,"ident":..,"func":..,"event":"decision",
 *    "job":..,"entry":..,"submitter":..,"key":..,"status":..,"code":..,
 *    "duration_ms":12,"msg":"job ... signed"}
 *
 * Every member of struct log_fields is optional: a NULL string, or an
 * integer whose LOG_HAS_* bit is clear in `has`, is left out.  String
 * values may come straight from a job: the logger caps each one at
 * LOG_VALUE_MAX_BYTES bytes of input (marking a cut with "...") and
 * escapes it for JSON, so a value can neither break the line nor forge a
 * member.  Names are fixed here, never taken from input.
 */
#define LOG_VALUE_MAX_BYTES 256

enum log_has {
	LOG_HAS_DURATION_MS = 1 << 0,
	LOG_HAS_APPROVALS = 1 << 1,
	LOG_HAS_REQUIRED = 1 << 2,
	LOG_HAS_WORKERS = 1 << 3,
	LOG_HAS_ATTEMPTS = 1 << 4,
	LOG_HAS_DELIVERIES = 1 << 5,
};

struct log_fields {
	const char *job;       /* job id */
	const char *entry;     /* stream entry id */
	const char *submitter; /* submitter name or certificate identity */
	const char *key;       /* key name, as the job asked */
	const char *status;    /* signed, rejected, failed, pending */
	const char *code;      /* docs/errors.md code; "" when signed */
	const char *artifact;  /* artifact name */
	const char *sha256;    /* artifact digest, hex */
	const char *format;    /* signature format */
	const char *keyid;     /* a submitter's or approver's keyid */
	const char *ci;        /* "self-asserted" or "verified:<issuer>" */
	const char *approver;  /* an approver's name */
	const char *target;    /* a webhook target or store location */
	const char *agent;     /* agent name */
	const char *consumer;  /* queue consumer name */
	unsigned has;          /* LOG_HAS_* bits: which integers are present */
	int64_t duration_ms;   /* from taking the entry up to the decision */
	int64_t approvals;     /* approvals counted */
	int64_t required;      /* approvals required */
	int64_t workers;       /* worker threads */
	int64_t attempts;      /* attempts made */
	int64_t deliveries;    /* deliveries counted by Redis */
};

/* Like sg_log(), with event (a fixed name such as "decision") and the
 * facts in f (may be NULL) added to JSON lines. */
void sg_log_event(enum log_level level, const char *func, int r, const char *event,
    const struct log_fields *f, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

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
/* log_event(LOG_LEVEL_INFO, "decision", &fields, "job %s ...", ...). */
#define log_event(level, event, f, ...)                                                            \
	sg_log_event((level), __func__, 0, (event), (f), __VA_ARGS__)
#define log_event_r(level, r, event, f, ...)                                                       \
	sg_log_event((level), __func__, (r), (event), (f), __VA_ARGS__)

#endif
