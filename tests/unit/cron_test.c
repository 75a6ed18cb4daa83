/*
 * cron_test.c: schedule parsing and next-run computation (scheduler/cron.h).
 * Times below were read off `TZ=... date -d @T` by hand; the wide
 * comparison with croniter lives in tests/tools/cron_oracle.py.
 */
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "scheduler/cron.h"

/* sched_next from `after`, or -1 on an error (the message in err). */
static time_t
next_of(const char *expr, const char *tz, time_t after, struct lb_err *err)
{
	struct sched *s = NULL;
	time_t t = -1;

	if (sched_parse(expr, &s, err) == 0 && sched_next(s, after, tz, &t, err) < 0)
		t = -1;
	sched_free(s);
	return t;
}

static time_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return timegm(&tm);
}

static void
test_parse_errors(void)
{
	static const struct { const char *expr, *msg; } bad[] = {
		{ "0 25 * * *", "0 25 * * *: hour: '25' is out of range 0..23" },
		{ "* * * *", "* * * *: has 4 fields, cron needs 5" },
		{ "* * * * * *", "more than 5 fields" },
		{ "*/0 * * * *", "minute: step '0' is not 1..59" },
		{ "5-1 * * * *", "minute: range '5-1' runs backwards" },
		{ "* * * foo *", "month: 'foo' is not a value, range or step" },
		{ "* * 0 * *", "day of month: '0' is out of range 1..31" },
		{ "* * * * 8", "day of week: '8' is out of range 0..6" },
		{ "1, * * * *", "minute: ends with a comma" },
		{ "@sometimes", "unknown shorthand" },
		{ "@every 0s", "more often than once a minute (the shortest interval is 1m)" },
		{ "@every 59s", "more often than once a minute" },
		/* never fire: refused when parsed, as config check and the daemon
		 * both parse with sched_parse */
		{ "0 0 31 2 *", "0 0 31 2 *: never fires" },
		{ "0 0 30 2 *", "never fires" },
		{ "0 0 31 4,6,9,11 *", "never fires" },
		{ "61 * * * *", "minute: '61' is out of range 0..59" },
		{ "@every 10x", "not a duration" },
		{ "@every 400d", "longer than 366 days" },
	};
	struct sched *s;
	struct lb_err err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = (struct sched *)1;
		CHECK_INT(sched_parse(bad[i].expr, &s, &err), ==, LB_E_CONFIG);
		CHECK(s == NULL);
		CHECK_CONTAINS(err.msg, bad[i].msg);
	}
}

static void
test_fields(void)
{
	struct lb_err err;
	time_t t0 = utc(2026, 1, 1, 0, 0);  /* a Thursday */

	CHECK_INT(next_of("*/15 * * * *", NULL, t0, &err), ==, utc(2026, 1, 1, 0, 15));
	CHECK_INT(next_of("*/15 * * * *", NULL, t0 - 1, &err), ==, t0);
	CHECK_INT(next_of("10/20 * * * *", NULL, t0, &err), ==, utc(2026, 1, 1, 0, 10));
	CHECK_INT(next_of("0 0 * feb MON", NULL, t0, &err), ==, utc(2026, 2, 2, 0, 0));
	CHECK_INT(next_of("0 0 * * 7", NULL, t0, &err), ==, utc(2026, 1, 4, 0, 0));
	CHECK_INT(next_of("0 0 * * 5-7", NULL, t0, &err), ==, utc(2026, 1, 2, 0, 0));
	CHECK_INT(next_of("30 4 1,15 * *", NULL, t0, &err), ==, utc(2026, 1, 1, 4, 30));
	CHECK_INT(next_of("30 4 1,15 * *", NULL, utc(2026, 1, 1, 4, 30), &err), ==,
	    utc(2026, 1, 15, 4, 30));
	CHECK_INT(next_of("@yearly", NULL, t0, &err), ==, utc(2027, 1, 1, 0, 0));
	CHECK_INT(next_of("@monthly", NULL, t0, &err), ==, utc(2026, 2, 1, 0, 0));
	CHECK_INT(next_of("@weekly", NULL, t0, &err), ==, utc(2026, 1, 4, 0, 0));
	CHECK_INT(next_of("@hourly", NULL, t0 + 1, &err), ==, utc(2026, 1, 1, 1, 0));
	CHECK_INT(next_of("0 0 29 2 *", NULL, t0, &err), ==, utc(2028, 2, 29, 0, 0));
	/* 2100 is not a leap year. */
	CHECK_INT(next_of("0 0 29 2 *", NULL, utc(2096, 3, 1, 0, 0), &err), ==,
	    utc(2104, 2, 29, 0, 0));
	/* a day that exists in one of the months is enough */
	CHECK_INT(next_of("0 0 31 2,3 *", NULL, t0, &err), ==, utc(2026, 3, 31, 0, 0));
	/* restricted both ways (Vixie's either rule): the weekday fires */
	CHECK_INT(next_of("0 0 31 2 mon", NULL, t0, &err), ==, utc(2026, 2, 2, 0, 0));
}

/* Vixie cron: both day fields restricted means either; a field starting
 * with '*' (even "*" "/2") makes both required. */
static void
test_day_or_rule(void)
{
	struct lb_err err;
	time_t t0 = utc(2026, 1, 1, 0, 0);  /* Thursday */

	/* 13th or a Friday: Friday the 2nd comes first. */
	CHECK_INT(next_of("0 0 13 * fri", NULL, t0, &err), ==, utc(2026, 1, 2, 0, 0));
	/* Odd days AND Friday: Jan 2 is even, Jan 9 is odd. */
	CHECK_INT(next_of("0 0 */2 * fri", NULL, t0, &err), ==, utc(2026, 1, 9, 0, 0));
	/* Full range written out is a restriction: 1st-31st OR Friday = daily. */
	CHECK_INT(next_of("0 0 1-31 * fri", NULL, t0, &err), ==, utc(2026, 1, 2, 0, 0));
	CHECK_INT(next_of("0 0 10 * 0-6", NULL, t0, &err), ==, utc(2026, 1, 2, 0, 0));
}

static void
test_every(void)
{
	struct lb_err err;
	struct sched *s = NULL;

	/* Aligned to the epoch, not to `after`. */
	CHECK_INT(next_of("@every 10m", NULL, 1000, &err), ==, 1200);
	CHECK_INT(next_of("@every 10m", NULL, 1200, &err), ==, 1800);
	CHECK_INT(next_of("@every 1h30m", "Europe/Berlin", 0, &err), ==, 5400);
	CHECK_INT(next_of("@every 1m", NULL, 101, &err), ==, 120);
	CHECK_OK(sched_parse("@every 10m", &s, &err), &err);
	CHECK_INT(sched_every(s), ==, 600);
	CHECK_STR(sched_text(s), "@every 10m");
	sched_free(s);
}

/* Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC), and
 * 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC). */
static void
test_dst(void)
{
	struct lb_err err;
	const char *tz = "Europe/Berlin";

	/* A daily job in the gap runs once, when the gap ends. */
	CHECK_INT(next_of("30 2 * * *", tz, utc(2026, 3, 28, 12, 0), &err), ==,
	    utc(2026, 3, 29, 1, 0));
	/* And the next day at 02:30 CEST again. */
	CHECK_INT(next_of("30 2 * * *", tz, utc(2026, 3, 29, 1, 0), &err), ==,
	    utc(2026, 3, 30, 0, 30));
	/* A repeated minute runs at its first occurrence only. */
	CHECK_INT(next_of("30 2 * * *", tz, utc(2026, 10, 24, 12, 0), &err), ==,
	    utc(2026, 10, 25, 0, 30));
	CHECK_INT(next_of("30 2 * * *", tz, utc(2026, 10, 25, 0, 30), &err), ==,
	    utc(2026, 10, 26, 1, 30));
	/* Hourly across the repeat: 02:00 CEST, then 03:00 CET (not 02:00 CET). */
	CHECK_INT(next_of("0 * * * *", tz, utc(2026, 10, 25, 0, 0), &err), ==,
	    utc(2026, 10, 25, 2, 0));
	/* New York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC). */
	CHECK_INT(next_of("15 2 * * *", "America/New_York", utc(2026, 3, 8, 0, 0), &err),
	    ==, utc(2026, 3, 8, 7, 0));
	CHECK_INT(next_of("0 0 * * *", "Asia/Kolkata", utc(2026, 1, 1, 0, 0), &err), ==,
	    utc(2026, 1, 1, 18, 30));
	CHECK_INT(next_of("0 0 * * *", "Nowhere/Atlantis", 0, &err), ==, -1);
	CHECK_INT(err.code, ==, LB_E_CONFIG);
	CHECK(!sched_tz_valid("../etc/passwd"));
	CHECK(sched_tz_valid("UTC"));
	CHECK(sched_tz_valid("Europe/Berlin"));
	/* TZ is left as it was. */
	CHECK_STR(getenv("TZ"), "UTC");
}

static void
test_overdue_and_jitter(void)
{
	struct sched *s = NULL;
	struct lb_err err;
	time_t at;

	CHECK_OK(sched_parse("@every 10m", &s, &err), &err);
	CHECK_OK(sched_overdue_at(s, 1000, NULL, &at, &err), &err);
	CHECK_INT(at, ==, 2200);
	sched_free(s);
	s = NULL;
	/* Weekdays at 02:00: a success on Friday is overdue only after
	 * Tuesday's run was due (Monday's missed, Tuesday's too). */
	CHECK_OK(sched_parse("0 2 * * mon-fri", &s, &err), &err);
	CHECK_OK(sched_overdue_at(s, utc(2026, 1, 2, 2, 5), NULL, &at, &err), &err);
	CHECK_INT(at, ==, utc(2026, 1, 6, 2, 0));
	sched_free(s);
	CHECK_INT(sched_jitter("prod", 60), ==, sched_jitter("prod", 60));
	CHECK_INT(sched_jitter("prod", 0), ==, 0);
	CHECK(sched_jitter("prod", 3600) >= 0 && sched_jitter("prod", 3600) < 3600);
	CHECK(sched_jitter("prod", 1000000) != sched_jitter("stage", 1000000));
}

int
main(void)
{
	sched_tz_prepare();
	RUN(test_parse_errors);
	RUN(test_fields);
	RUN(test_day_or_rule);
	RUN(test_every);
	RUN(test_dst);
	RUN(test_overdue_and_jitter);
	return TH_DONE();
}
