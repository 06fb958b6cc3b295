/*
 * sgtime.h — RFC 3339 UTC timestamps with whole seconds and a 'Z', the only
 * form signet reads or writes ("2026-11-26T16:00:00Z").
 */
#ifndef SG_TIME_H
#define SG_TIME_H

#include <stdint.h>

#include "err.h"

#define SGTIME_LEN 20 /* without the NUL */

/* Parses exactly SGTIME_LEN characters of "YYYY-MM-DDTHH:MM:SSZ" (years
 * 1970..9999, real calendar dates, no leap second) into seconds since the
 * epoch.  0 or SG_ERR_PARSE; *ret untouched on error. */
int sgtime_parse(const char *s, int64_t *ret) SG_MUST_CHECK;

/* Formats t (>= 0) into out, SGTIME_LEN+1 bytes.  Values outside
 * 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z are clamped to that range. */
void sgtime_format(int64_t t, char out[SGTIME_LEN + 1]);

/* Current wall-clock time in seconds. */
int64_t sgtime_now(void);

/* Monotonic clock in milliseconds. */
int64_t sgtime_mono_ms(void);

#endif
