/*
 * cron.c: parsing of schedule expressions and next-run computation
 * (cron.h).  Matching works on "civil minutes" (wall-clock time counted
 * as if it were UTC, so calendar arithmetic needs no zone); only turning
 * a matching civil minute into an instant asks the tz database.
 */
#include "scheduler/cron.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_N };

struct sched {
	long every;                /* seconds; 0 for a cron schedule */
	uint64_t bits[F_N];        /* bit v set when value v matches */
	int dom_star, dow_star;    /* the field starts with '*' (Vixie's rule) */
	char text[SCHED_EXPR_MAX + 1];
};

static const struct {
	const char *name;
	int min, max;
	const char *const *names;  /* names[i] stands for min + i */
} fields[F_N] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day of month", 1, 31, NULL },
	{ "month", 1, 12, (const char *const[]){ "jan", "feb", "mar", "apr", "may",
	    "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL } },
	{ "day of week", 0, 7, (const char *const[]){ "sun", "mon", "tue", "wed",
	    "thu", "fri", "sat", NULL } },
};

static const struct {
	const char *name, *expr;
} shorthands[] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" }, { "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* Ten years of days: "0 0 29 2 *" skips 2100, so eight must fit. */
#define SEARCH_DAYS 3660
#define EVERY_MAX (366L * 86400)

static int64_t civil_next(const struct sched *s, int64_t c);

static int
parse_value(const char *p, size_t len, int f, int *out)
{
	char buf[16];
	size_t i;
	long v;
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (fields[f].names != NULL && isalpha((unsigned char)buf[0])) {
		for (i = 0; fields[f].names[i] != NULL; i++)
			if (strcasecmp(buf, fields[f].names[i]) == 0) {
				*out = fields[f].min + (int)i;
				return 0;
			}
		return -1;
	}
	if (!isdigit((unsigned char)buf[0]))
		return -1;
	v = strtol(buf, &end, 10);
	if (*end != '\0' || v > 1000)
		return -1;
	*out = (int)v;
	return 0;
}

/* One comma-separated item: "*", "N", "N-M", each with an optional "/S". */
static int
parse_item(const char *expr, const char *p, size_t len, int f, uint64_t *bits,
    struct lb_err *err)
{
	const struct { int min, max; } r = { fields[f].min, fields[f].max };
	const char *slash = memchr(p, '/', len), *dash;
	size_t body = slash != NULL ? (size_t)(slash - p) : len;
	int lo, hi, step = 1, v;

	if (body == 1 && p[0] == '*') {
		lo = r.min;
		hi = r.max;
	} else if ((dash = memchr(p, '-', body)) != NULL) {
		if (parse_value(p, (size_t)(dash - p), f, &lo) < 0 ||
		    parse_value(dash + 1, body - (size_t)(dash - p) - 1, f, &hi) < 0)
			goto bad;
	} else {
		if (parse_value(p, body, f, &lo) < 0)
			goto bad;
		hi = slash != NULL ? r.max : lo;
	}
	if (slash != NULL && (parse_value(slash + 1, len - body - 1, F_MIN, &step) < 0 ||
	    step < 1 || step > r.max))
		return lb_err_set(err, LB_E_CONFIG, "%s: %s: step '%.*s' is not 1..%d",
		    expr, fields[f].name, (int)(len - body - 1), slash + 1, r.max);
	if (lo < r.min || lo > r.max || hi < r.min || hi > r.max)
		return lb_err_set(err, LB_E_CONFIG, "%s: %s: '%.*s' is out of range %d..%d",
		    expr, fields[f].name, (int)len, p, r.min, f == F_DOW ? 6 : r.max);
	if (lo > hi)
		return lb_err_set(err, LB_E_CONFIG, "%s: %s: range '%.*s' runs backwards",
		    expr, fields[f].name, (int)len, p);
	for (v = lo; v <= hi; v += step)
		*bits |= 1ULL << (f == F_DOW && v == 7 ? 0 : v);
	return 0;
bad:
	return lb_err_set(err, LB_E_CONFIG, "%s: %s: '%.*s' is not a value, range or step",
	    expr, fields[f].name, (int)len, p);
}

static int
parse_cron(const char *expr, const char *text, struct sched *s, struct lb_err *err)
{
	const char *p = text, *start, *item;
	int f;

	for (f = 0; f < F_N; f++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return lb_err_set(err, LB_E_CONFIG, "%s: has %d fields, cron needs 5 "
			    "(minute hour day-of-month month day-of-week)", expr, f);
		start = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (f == F_DOM)
			s->dom_star = *start == '*';
		if (f == F_DOW)
			s->dow_star = *start == '*';
		for (item = start; item < p; ) {
			const char *comma = memchr(item, ',', (size_t)(p - item));
			const char *end = comma != NULL ? comma : p;
			int r = parse_item(expr, item, (size_t)(end - item), f, &s->bits[f], err);
			if (r < 0)
				return r;
			item = end + (comma != NULL);
			if (comma != NULL && item == p)
				return lb_err_set(err, LB_E_CONFIG, "%s: %s: ends with a comma",
				    expr, fields[f].name);
		}
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return lb_err_set(err, LB_E_CONFIG, "%s: more than 5 fields", expr);
	return 0;
}

/* "10m", "1h30m", "90s", "2d". */
static int
parse_every(const char *expr, const char *p, long *out, struct lb_err *err)
{
	long total = 0, v, mul;
	char *end;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		goto bad;
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			goto bad;
		v = strtol(p, &end, 10);
		if (v > EVERY_MAX)
			goto bad;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: goto bad;
		}
		total += v * mul;
		if (total > EVERY_MAX)
			return lb_err_set(err, LB_E_CONFIG, "%s: longer than 366 days", expr);
		p = end + 1;
	}
	if (total < SCHED_EVERY_MIN)
		return lb_err_set(err, LB_E_CONFIG, "%s: more often than once a minute "
		    "(the shortest interval is 1m)", expr);
	*out = total;
	return 0;
bad:
	return lb_err_set(err, LB_E_CONFIG, "%s: not a duration (like 90s, 10m, 1h30m, 1d)",
	    expr);
}

int
sched_parse(const char *expr, struct sched **out, struct lb_err *err)
{
	struct sched *s = NULL;
	const char *text = expr;
	size_t i;
	int r;

	*out = NULL;
	if (strlen(expr) > SCHED_EXPR_MAX)
		return lb_err_set(err, LB_E_CONFIG, "schedule longer than %d characters",
		    SCHED_EXPR_MAX);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	snprintf(s->text, sizeof(s->text), "%s", expr);
	while (*text == ' ' || *text == '\t')
		text++;
	if (strncmp(text, "@every ", 7) == 0) {
		r = parse_every(expr, text + 7, &s->every, err);
		goto out;
	}
	if (text[0] == '@') {
		for (i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++)
			if (strcasecmp(text, shorthands[i].name) == 0)
				break;
		if (i == sizeof(shorthands) / sizeof(shorthands[0])) {
			r = lb_err_set(err, LB_E_CONFIG, "%s: unknown shorthand (@hourly, "
			    "@daily, @weekly, @monthly, @yearly or @every DURATION)", expr);
			goto out;
		}
		text = shorthands[i].expr;
	}
	r = parse_cron(expr, text, s, err);
	/* Whether a day-of-month exists in the months given does not depend
	 * on the year but for 29 February, which comes within eight years of
	 * any date: ten years from a fixed date find a match for every
	 * schedule that ever fires, the same answer on every host and day. */
	if (r == 0 && civil_next(s, 946684800 /* 2000-01-01 */) < 0)
		r = lb_err_set(err, LB_E_CONFIG, "%s: never fires (no month given has the "
		    "day of month given)", expr);
out:
	if (r == 0) {
		*out = s;
		s = NULL;
	}
	free(s);
	return r;
}

void
sched_free(struct sched *s)
{
	free(s);
}

const char *
sched_text(const struct sched *s)
{
	return s->text;
}

long
sched_every(const struct sched *s)
{
	return s->every;
}

/* --- calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms) -- */

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static int
has(const struct sched *s, int f, int v)
{
	return (s->bits[f] >> v) & 1;
}

/* The first matching civil minute at or after civil time c (seconds,
 * minute-aligned), or -1 when none comes within SEARCH_DAYS. */
static int64_t
civil_next(const struct sched *s, int64_t c)
{
	int64_t day = floor_div(c, 86400), y, end = day + SEARCH_DAYS;
	int sod = (int)(c - day * 86400), m, d, h, mi, wday, dom_ok, dow_ok;
	int sh = sod / 3600, sm = sod % 3600 / 60;

	for (; day < end; day++, sh = 0, sm = 0) {
		civil_from_days(day, &y, &m, &d);
		if (!has(s, F_MON, m)) {
			/* Skip to the first of the next month. */
			day = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - 1;
			continue;
		}
		wday = (int)(((day % 7) + 11) % 7);  /* 1970-01-01 was a Thursday */
		dom_ok = has(s, F_DOM, d);
		dow_ok = has(s, F_DOW, wday);
		if (s->dom_star || s->dow_star ? !(dom_ok && dow_ok) : !(dom_ok || dow_ok))
			continue;
		for (h = sh; h < 24; h++) {
			if (!has(s, F_HOUR, h))
				continue;
			for (mi = h == sh ? sm : 0; mi < 60; mi++)
				if (has(s, F_MIN, mi))
					return day * 86400 + h * 3600 + mi * 60;
		}
	}
	return -1;
}

/* --- time zones --------------------------------------------------------- */

static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;

static int
is_utc(const char *tz)
{
	return tz == NULL || *tz == '\0' || strcmp(tz, "UTC") == 0 ||
	    strcmp(tz, "Etc/UTC") == 0;
}

int
sched_tz_valid(const char *tz)
{
	const char *dir = getenv("TZDIR");
	char path[4096];

	if (is_utc(tz))
		return 1;
	if (tz[0] == '/' || strstr(tz, "..") != NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir != NULL && *dir != '\0' ? dir :
	    "/usr/share/zoneinfo", tz);
	return access(path, R_OK) == 0;
}

void
sched_tz_prepare(void)
{
	pthread_mutex_lock(&tz_mu);
	if (getenv("TZ") == NULL) {
		setenv("TZ", "UTC", 1);
		tzset();
	}
	pthread_mutex_unlock(&tz_mu);
}

/* UTC offset in seconds at instant t; tz_mu held, TZ set. */
static long
off_at(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

/* The first instant whose wall-clock time is civil minute c, or, when c
 * falls in a gap, the instant the gap ends.  Assumes at most one offset
 * change within a day of c, which holds for every real zone. */
static int64_t
civil_to_instant(int64_t c)
{
	long offs[3] = { off_at(c - 86400), off_at(c), off_at(c + 86400) };
	long omin = offs[0], omax = offs[0];
	int64_t best = INT64_MAX, lo, hi, mid;
	int i;

	for (i = 0; i < 3; i++) {
		int64_t t = c - offs[i];
		if (off_at(t) == offs[i] && t < best)
			best = t;
		if (offs[i] < omin)
			omin = offs[i];
		if (offs[i] > omax)
			omax = offs[i];
	}
	if (best != INT64_MAX)
		return best;
	/* In a gap: wall time at lo is before c, at hi after it. */
	lo = c - omax;
	hi = c - omin;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (mid + off_at(mid) > c)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

static int
cron_next(const struct sched *s, time_t after, const char *tz, time_t *next,
    struct lb_err *err)
{
	int64_t c, m, t;
	char *old = NULL;
	int r = 0, guard;

	if (is_utc(tz)) {
		m = civil_next(s, floor_div((int64_t)after, 60) * 60 + 60);
		if (m < 0)
			return lb_err_set(err, LB_E_NOTFOUND, "%s never matches", s->text);
		*next = (time_t)m;
		return 0;
	}
	if (!sched_tz_valid(tz))
		return lb_err_set(err, LB_E_CONFIG, "time zone %s is not in the tz database", tz);
	pthread_mutex_lock(&tz_mu);
	if (getenv("TZ") != NULL && (old = strdup(getenv("TZ"))) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	setenv("TZ", tz, 1);
	tzset();
	/* Start three hours of wall time early: a minute that fires after a
	 * gap, or one whose first occurrence is still ahead, may lie behind
	 * the wall-clock time of `after`. */
	c = floor_div((int64_t)after + off_at(after), 60) * 60 - 3 * 3600;
	for (guard = 0; guard < 100000; guard++) {
		if ((m = civil_next(s, c)) < 0) {
			r = lb_err_set(err, LB_E_NOTFOUND, "%s never matches", s->text);
			goto out;
		}
		if ((t = civil_to_instant(m)) > (int64_t)after) {
			*next = (time_t)t;
			goto out;
		}
		c = m + 60;
	}
	r = lb_err_set(err, LB_E_INTERNAL, "%s: no next run found in %s", s->text, tz);
out:
	if (old != NULL)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	pthread_mutex_unlock(&tz_mu);
	free(old);
	return r;
}

int
sched_next(const struct sched *s, time_t after, const char *tz, time_t *next,
    struct lb_err *err)
{
	if (s->every > 0) {
		*next = (time_t)((floor_div((int64_t)after, s->every) + 1) * s->every);
		return 0;
	}
	return cron_next(s, after, tz, next, err);
}

int
sched_overdue_at(const struct sched *s, time_t last, const char *tz, time_t *at,
    struct lb_err *err)
{
	time_t n1;
	int r;

	if (s->every > 0) {
		*at = last + 2 * (time_t)s->every;
		return 0;
	}
	if ((r = sched_next(s, last, tz, &n1, err)) < 0)
		return r;
	return sched_next(s, n1, tz, at, err);
}

long
sched_jitter(const char *key, long max_s)
{
	uint64_t h = 1469598103934665603ULL;  /* FNV-1a */

	if (max_s <= 0)
		return 0;
	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return (long)(h % (uint64_t)max_s);
}
