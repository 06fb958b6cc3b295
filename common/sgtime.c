/*
 * sgtime.c — the one timestamp form signet reads and writes.
 *
 * The calendar arithmetic is done here (Howard Hinnant's days_from_civil
 * and civil_from_days) rather than with timegm()/gmtime(): no dependency on
 * TZ, the locale or a libc extension, and the same answer everywhere.
 */
#include "sgtime.h"

#include <string.h>
#include <time.h>

#define SGTIME_YEAR_MIN 1970
#define SGTIME_YEAR_MAX 9999
/* 9999-12-31T23:59:59Z, the largest time sgtime_format can write. */
#define SGTIME_T_MAX    INT64_C(253402300799)

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (y >= 1). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400; /* y >= 0 here, so no negative rounding to handle */
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse, for days >= 0. */
static void
civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d)
{
	int64_t era, doe, yoe, y, doy, mp;

	z += 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*ret_d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*ret_m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*ret_y = y + (*ret_m <= 2);
}

/* n ASCII digits at s as a number, or -1 if any is not a digit. */
static int
digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
sgtime_parse(const char *s, int64_t *ret)
{
	int y, mo, d, h, mi, sec;

	/* strnlen never reads past the NUL of a shorter string. */
	if (s == NULL || strnlen(s, SGTIME_LEN + 1) != SGTIME_LEN)
		return SG_ERR_PARSE;
	/* Exactly "YYYY-MM-DDTHH:MM:SSZ": uppercase T and Z, no offset. */
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != 'Z')
		return SG_ERR_PARSE;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < SGTIME_YEAR_MIN || y > SGTIME_YEAR_MAX || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return SG_ERR_PARSE;
	*ret = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

/* Writes v as n zero-padded decimal digits. */
static void
put_digits(char *out, int64_t v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
sgtime_format(int64_t t, char out[SGTIME_LEN + 1])
{
	int64_t y, days, secs;
	int m, d;

	/* Out of range values are clamped: the output is always well formed. */
	if (t < 0)
		t = 0;
	if (t > SGTIME_T_MAX)
		t = SGTIME_T_MAX;
	days = t / 86400;
	secs = t % 86400;
	civil_from_days(days, &y, &m, &d);
	put_digits(out, y, 4);
	out[4] = '-';
	put_digits(out + 5, m, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = 'T';
	put_digits(out + 11, secs / 3600, 2);
	out[13] = ':';
	put_digits(out + 14, secs / 60 % 60, 2);
	out[16] = ':';
	put_digits(out + 17, secs % 60, 2);
	out[19] = 'Z';
	out[20] = '\0';
}

int64_t
sgtime_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec;
}

int64_t
sgtime_mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
