/*
 * cattime.c: points in time for the catalog: RFC 3339 and dates in, RFC
 * 3339 UTC out, and "24h"/"7d"-style durations ago for --since/--until.
 */
#include "catalog/cat_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Reads exactly n digits at s into *v. */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* "YYYY-MM-DD" at s into tm; -1 if it is not a valid date. */
static int
parse_date(const char *s, struct tm *tm)
{
	int y, m, d;

	if (digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &m) < 0 ||
	    s[7] != '-' || digits(s + 8, 2, &d) < 0)
		return -1;
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = y - 1900;
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	return 0;
}

int
cat_time_rfc3339(const char *s, int64_t *out)
{
	struct tm tm;
	int hh, mm, ss, oh, om, off = 0;
	const char *p;

	if (strlen(s) < 20 || parse_date(s, &tm) < 0 || (s[10] != 'T' && s[10] != 't'))
		return -1;
	if (digits(s + 11, 2, &hh) < 0 || s[13] != ':' || digits(s + 14, 2, &mm) < 0 ||
	    s[16] != ':' || digits(s + 17, 2, &ss) < 0 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		/* Fractions are accepted and dropped: the catalog keeps seconds. */
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 &&
	    digits(p + 1, 2, &oh) == 0 && p[3] == ':' && digits(p + 4, 2, &om) == 0 &&
	    oh <= 23 && om <= 59) {
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
	} else {
		return -1;
	}
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}

int
cat_time_parse(const char *s, int64_t now, int64_t *out, struct lb_err *err)
{
	struct tm tm;
	int64_t n = 0, unit;
	const char *p;

	if (s == NULL || *s == '\0')
		return lb_err_set(err, LB_E_USAGE, "empty time");
	if (cat_time_rfc3339(s, out) == 0)
		return 0;
	if (strlen(s) == 10 && parse_date(s, &tm) == 0) {
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	for (p = s; isdigit((unsigned char)*p) && n <= 1000000000; p++)
		n = n * 10 + (*p - '0');
	if (p == s || p[0] == '\0' || p[1] != '\0' || n > 1000000000)
		goto bad;
	switch (*p) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: goto bad;
	}
	*out = now - n * unit;
	return 0;
bad:
	return lb_err_set(err, LB_E_USAGE, "bad time '%s' (expected RFC 3339 like "
	    "2026-11-21T10:00:00Z, a date like 2026-11-21, or an age like 24h or 7d)", s);
}

int
cat_backup_time_check(const char *backup_id, const char *started_at, struct lb_err *err)
{
	char iso[21];
	int64_t id_t, st;

	/* The id starts "YYYYMMDDTHHMMSS" (manifest_new_backup_id), read
	 * here as the RFC 3339 time it spells. */
	if (backup_id == NULL || strlen(backup_id) < 16 || backup_id[8] != 'T')
		return lb_err_set(err, LB_E_CORRUPT, "backup id '%.64s' does not start with "
		    "its time (YYYYMMDDTHHMMSS)", backup_id ? backup_id : "");
	snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", backup_id,
	    backup_id + 4, backup_id + 6, backup_id + 9, backup_id + 11, backup_id + 13);
	if (cat_time_rfc3339(iso, &id_t) < 0)
		return lb_err_set(err, LB_E_CORRUPT, "backup id '%.64s' does not start with "
		    "its time (YYYYMMDDTHHMMSS)", backup_id);
	if (started_at == NULL || cat_time_rfc3339(started_at, &st) < 0)
		return lb_err_set(err, LB_E_CORRUPT, "backup %s: started_at '%.40s' is not an "
		    "RFC 3339 time", backup_id, started_at ? started_at : "");
	/* The id is stamped right after started_at is read. */
	if (id_t < st - CAT_ID_SKEW_S || id_t > st + CAT_ID_SKEW_S)
		return lb_err_set(err, LB_E_CORRUPT, "backup %s: its id and started_at %s "
		    "disagree (more than %d s apart): an invalid manifest", backup_id,
		    started_at, CAT_ID_SKEW_S);
	return 0;
}

char *
cat_time_format(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

int64_t
cat_now(void)
{
	return (int64_t)time(NULL);
}

int
cat_is_future(int64_t started_at, int64_t now)
{
	return started_at > now && started_at - now > CAT_FUTURE_SKEW_S;
}
