/*
 * retention_test.c: the retention planner against hand-worked examples
 * in the style of restic's forget tests, and against an independent
 * oracle (group by calendar period with strftime, keep the newest of the
 * N newest groups) over a year of generated backups.
 */
#include "harness.h"
#include "scheduler/retention.h"

#include <time.h>

/* "2026-11-21T10:00:00Z" to Unix seconds (UTC). */
static int64_t
at(const char *s)
{
	struct tm tm = { 0 };

	if (strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		abort();
	return (int64_t)timegm(&tm);
}

static int
plan_str(const char *policy, struct ret_backup *b, size_t n, struct ret_decision *d)
{
	struct ret_policy p;
	struct lb_err err = { 0 };

	if (ret_policy_parse(policy, &p, &err) < 0) {
		printf("# policy %s: %s\n", policy, err.msg);
		return -1;
	}
	return ret_plan(b, n, &p, d, &err);
}

static void
policy_parsing(void)
{
	struct ret_policy p;
	struct lb_err err = { 0 };

	CHECK_OK(ret_policy_parse("keep-last=12,keep-hourly=24,keep-daily=14,keep-weekly=8",
	    &p, &err), &err);
	CHECK_INT(p.keep[RET_LAST], ==, 12);
	CHECK_INT(p.keep[RET_HOURLY], ==, 24);
	CHECK_INT(p.keep[RET_DAILY], ==, 14);
	CHECK_INT(p.keep[RET_WEEKLY], ==, 8);
	CHECK_INT(p.keep[RET_MONTHLY], ==, 0);
	CHECK_INT(p.keep_all, ==, 0);
	CHECK_OK(ret_policy_parse(" keep-yearly = 3 , keep-monthly=0", &p, &err), &err);
	CHECK_INT(p.keep[RET_YEARLY], ==, 3);
	CHECK_OK(ret_policy_parse(NULL, &p, &err), &err);
	CHECK_INT(p.keep_all, ==, 1);
	CHECK_OK(ret_policy_parse("  ", &p, &err), &err);
	CHECK_INT(p.keep_all, ==, 1);
	CHECK_INT(ret_policy_parse("keep-last=1,keep-last=2", &p, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "keep-last is given twice");
	CHECK_INT(ret_policy_parse("keep-minutely=5", &p, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "unknown rule 'keep-minutely'");
	CHECK_INT(ret_policy_parse("keep-last", &p, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "is not keep-PERIOD=N");
	CHECK_INT(ret_policy_parse("keep-daily=-1", &p, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "keep-daily: '-1' is not a count");
	CHECK_INT(ret_policy_parse("keep-daily=7x", &p, &err), ==, LB_E_CONFIG);
	CHECK_INT(ret_policy_parse("keep-daily=", &p, &err), ==, LB_E_CONFIG);
	CHECK_INT(ret_policy_parse("keep-daily=99999999", &p, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "more than");
	CHECK_INT(ret_policy_parse("keep-last=0,keep-daily=0", &p, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "every count is 0");
	CHECK_INT(ret_policy_parse("keep-last=1,", &p, &err), ==, LB_E_CONFIG);
	/* a count of 0 turns one rule off when another keeps something; the
	 * configuration accepts exactly this (it calls this parser) */
	CHECK_OK(ret_policy_parse("keep-last=3,\tkeep-daily=0", &p, &err), &err);
	CHECK_INT(p.keep[RET_LAST], ==, 3);
	CHECK_INT(p.keep[RET_DAILY], ==, 0);
}

static void
keep_last_counts_complete_only(void)
{
	struct ret_backup b[] = {
		{ "b1", at("2026-11-20T10:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b2", at("2026-11-20T11:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b3", at("2026-11-20T12:00:00Z"), RET_PARTIAL, 0, 0 },
		{ "b4", at("2026-11-20T13:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b5", at("2026-11-20T14:00:00Z"), RET_FAILED, 0, 0 },
		{ "b6", at("2026-11-20T15:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b7", at("2026-11-20T16:00:00Z"), RET_PARTIAL, 0, 0 },
		{ "b8", at("2026-11-20T17:00:00Z"), RET_RUNNING, 0, 0 },
	};
	struct ret_decision d[8];
	char why[256];

	CHECK_INT(plan_str("keep-last=2", b, 8, d), ==, 0);
	/* b6 and b4 are the two newest complete ones: the partial b3 and the
	 * failed b5 do not take a slot. */
	CHECK(!d[0].keep && d[0].why == RET_WHY_EXPIRED);
	CHECK(!d[1].keep && d[1].why == RET_WHY_EXPIRED);
	CHECK(!d[2].keep && d[2].why == RET_WHY_SUPERSEDED);
	CHECK(d[3].keep && d[3].why == RET_WHY_RULE(RET_LAST));
	CHECK(!d[4].keep && d[4].why == RET_WHY_SUPERSEDED);
	CHECK(d[5].keep && d[5].why == RET_WHY_RULE(RET_LAST));
	/* Newer than every complete one: kept, but not counted. */
	CHECK(d[6].keep && d[6].why == RET_WHY_NEWER_PARTIAL);
	CHECK(d[7].keep && d[7].why == RET_WHY_RUNNING);
	CHECK_STR(ret_why_string(d[2].why, why, sizeof(why)),
	    "incomplete, superseded by a newer complete backup");
	CHECK_STR(ret_why_string(d[3].why | RET_WHY_RULE(RET_DAILY) | RET_WHY_VERIFIED, why,
	    sizeof(why)), "keep-last, keep-daily, newest verified");
}

/* One backup taken with the clock a year ahead, then normal ones: it is
 * kept, and keep-last=2 still keeps the two newest real backups (before,
 * the future stamp took the first slot and a real backup was deleted). */
static void
future_backup_is_kept_and_not_counted(void)
{
	struct ret_backup b[] = {
		{ "b1", at("2026-11-20T10:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b2", at("2027-11-20T11:00:00Z"), RET_COMPLETE, 1, 1 },
		{ "b3", at("2026-11-20T12:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b4", at("2026-11-20T13:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b5", at("2026-11-20T14:00:00Z"), RET_PARTIAL, 0, 0 },
	};
	struct ret_decision d[5];
	char why[256];

	CHECK_INT(plan_str("keep-last=2", b, 5, d), ==, 0);
	CHECK(!d[0].keep && d[0].why == RET_WHY_EXPIRED);
	CHECK(d[1].keep && d[1].why == RET_WHY_FUTURE);
	CHECK(d[2].keep && d[2].why == RET_WHY_RULE(RET_LAST));
	CHECK(d[3].keep && d[3].why == RET_WHY_RULE(RET_LAST));
	/* newer than every real complete backup: the future one does not
	 * supersede it */
	CHECK(d[4].keep && d[4].why == RET_WHY_NEWER_PARTIAL);
	CHECK_STR(ret_why_string(d[1].why, why, sizeof(why)),
	    "stamped in the future (a clock ran ahead), not counted");
	/* kept even with no policy, under its own reason */
	CHECK_INT(plan_str(NULL, b, 5, d), ==, 0);
	CHECK(d[1].keep && d[1].why == RET_WHY_FUTURE);
}

static void
newest_verified_is_never_deleted(void)
{
	struct ret_backup b[] = {
		{ "b1", at("2026-11-18T10:00:00Z"), RET_COMPLETE, 1, 0 },
		{ "b2", at("2026-11-19T10:00:00Z"), RET_COMPLETE, 1, 0 },
		{ "b3", at("2026-11-20T10:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b4", at("2026-11-21T10:00:00Z"), RET_COMPLETE, 0, 0 },
	};
	struct ret_decision d[4];

	CHECK_INT(plan_str("keep-last=1", b, 4, d), ==, 0);
	CHECK(!d[0].keep);
	CHECK(d[1].keep && d[1].why == RET_WHY_VERIFIED);
	CHECK(!d[2].keep);
	CHECK(d[3].keep && d[3].why == RET_WHY_RULE(RET_LAST));
}

static void
no_policy_keeps_everything(void)
{
	struct ret_backup b[] = {
		{ "b1", at("2020-01-01T00:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b2", at("2021-01-01T00:00:00Z"), RET_FAILED, 0, 0 },
	};
	struct ret_decision d[2];

	CHECK_INT(plan_str(NULL, b, 2, d), ==, 0);
	CHECK(d[0].keep && d[0].why == RET_WHY_KEEP_ALL);
	CHECK(d[1].keep && d[1].why == RET_WHY_KEEP_ALL);
	CHECK_INT(plan_str("keep-last=1", b, 0, d), ==, 0);
}

static void
only_partial_backups_are_all_kept(void)
{
	struct ret_backup b[] = {
		{ "b1", at("2026-01-01T00:00:00Z"), RET_PARTIAL, 0, 0 },
		{ "b2", at("2026-01-02T00:00:00Z"), RET_PARTIAL, 0, 0 },
	};
	struct ret_decision d[2];

	CHECK_INT(plan_str("keep-last=1", b, 2, d), ==, 0);
	CHECK(d[0].keep && d[0].why == RET_WHY_NO_COMPLETE);
	CHECK(d[1].keep && d[1].why == RET_WHY_NO_COMPLETE);
}

/* restic's documentation example, in spirit: several backups a day;
 * keep-daily keeps the newest of each day, and a day without a backup
 * does not use a slot. */
static void
daily_newest_per_day_gaps_free(void)
{
	struct ret_backup b[] = {
		{ "a", at("2026-11-10T08:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "b", at("2026-11-10T20:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "c", at("2026-11-12T08:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "d", at("2026-11-12T23:59:59Z"), RET_COMPLETE, 0, 0 },
		{ "e", at("2026-11-13T00:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "f", at("2026-11-13T09:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "g", at("2026-11-09T09:00:00Z"), RET_COMPLETE, 0, 0 },
	};
	struct ret_decision d[7];

	CHECK_INT(plan_str("keep-daily=3", b, 7, d), ==, 0);
	CHECK(!d[0].keep);
	CHECK(d[1].keep && d[1].why == RET_WHY_RULE(RET_DAILY));   /* 11-10 */
	CHECK(!d[2].keep);
	CHECK(d[3].keep);                                          /* 11-12, UTC */
	CHECK(!d[4].keep);
	CHECK(d[5].keep);                                          /* 11-13 */
	CHECK(!d[6].keep);                                         /* 4th day */
	/* keep-last and keep-daily together: reasons add up. */
	CHECK_INT(plan_str("keep-last=2,keep-daily=3", b, 7, d), ==, 0);
	CHECK(d[4].keep && d[4].why == RET_WHY_RULE(RET_LAST));
	CHECK(d[5].why == (RET_WHY_RULE(RET_LAST) | RET_WHY_RULE(RET_DAILY)));
}

/* ISO weeks cross the new year: 2025-12-29 (a Monday) is in week 1 of
 * 2026, with 2026-01-02; 2025-12-28 (a Sunday) is week 52 of 2025. */
static void
weekly_iso_weeks_and_yearly(void)
{
	struct ret_backup b[] = {
		{ "sun", at("2025-12-28T12:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "mon", at("2025-12-29T12:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "fri", at("2026-01-02T12:00:00Z"), RET_COMPLETE, 0, 0 },
		{ "old", at("2024-06-01T12:00:00Z"), RET_COMPLETE, 0, 0 },
	};
	struct ret_decision d[4];

	CHECK_INT(plan_str("keep-weekly=2", b, 4, d), ==, 0);
	CHECK(d[0].keep && !d[1].keep && d[2].keep && !d[3].keep);
	CHECK_INT(plan_str("keep-yearly=5", b, 4, d), ==, 0);
	CHECK(!d[0].keep && d[1].keep && d[2].keep && d[3].keep);
	CHECK_INT(plan_str("keep-monthly=2", b, 4, d), ==, 0);
	CHECK(!d[0].keep && d[1].keep && d[2].keep && !d[3].keep);
}

/* Oracle: for one rule, the ids kept are, per calendar period named by
 * fmt, the newest backup, for the n newest periods. */
static void
oracle(const struct ret_backup *b, size_t nb, const char *fmt, int n, int *keep)
{
	char key[32], keys[4096][32];
	size_t best[4096], nk = 0, i, j;

	for (i = 0; i < nb; i++) {
		time_t t = (time_t)b[i].time;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(key, sizeof(key), fmt, &tm);
		for (j = 0; j < nk && strcmp(keys[j], key) != 0; j++)
			;
		if (j == nk) {
			strcpy(keys[nk], key);
			best[nk++] = i;
		} else if (b[i].time > b[best[j]].time) {
			best[j] = i;
		}
	}
	/* The n groups whose newest backup is newest. */
	for (int round = 0; round < n; round++) {
		size_t pick = nk;
		for (j = 0; j < nk; j++)
			if (best[j] != (size_t)-1 && !keep[best[j]] &&
			    (pick == nk || b[best[j]].time > b[best[pick]].time))
				pick = j;
		if (pick == nk)
			break;
		keep[best[pick]] = 1;
		best[pick] = (size_t)-1;
	}
}

static void
a_year_against_the_oracle(void)
{
	static struct ret_backup b[3000];
	static struct ret_decision d[3000];
	static int want[3000];
	static char ids[3000][16];
	static const char *fmts[RET_N_RULES] = { NULL, "%Y%m%d%H", "%Y%m%d", "%G%V",
		"%Y%m", "%Y" };
	const int counts[RET_N_RULES] = { 5, 30, 20, 10, 8, 3 };
	int64_t t = at("2025-03-01T00:00:00Z");
	unsigned seed = 7;
	size_t n = 0, i;
	int rule;

	/* Irregular spacing (1 to 10 hours) over about a year and a half,
	 * with reverse input order to prove order does not matter. */
	while (n < 3000) {
		seed = seed * 1103515245 + 12345;
		t += 3600 * (1 + (seed >> 16) % 10) + (seed >> 8) % 600;
		snprintf(ids[n], sizeof(ids[n]), "b%05zu", n);
		b[2999 - n] = (struct ret_backup){ ids[n], t, RET_COMPLETE, 0, 0 };
		n++;
	}
	for (rule = 0; rule < RET_N_RULES; rule++) {
		struct ret_policy p = { { 0 }, 0 };
		struct lb_err err = { 0 };

		p.keep[rule] = counts[rule];
		memset(want, 0, sizeof(want));
		if (rule == RET_LAST) {
			for (i = 0; i < (size_t)counts[rule]; i++)
				want[i] = 1;   /* b[0..] are the newest */
		} else {
			/* The oracle's groups need unique-newest order: reuse it
			 * on a copy where ties cannot happen (times are distinct). */
			oracle(b, n, fmts[rule], counts[rule], want);
		}
		CHECK_OK(ret_plan(b, n, &p, d, &err), &err);
		for (i = 0; i < n; i++)
			if (d[i].keep != want[i])
				TH_FAIL("%s=%d: %s keep %d, oracle %d", ret_rule_name((enum ret_rule)rule),
				    counts[rule], b[i].id, d[i].keep, want[i]);
	}
}

int
main(void)
{
	RUN(policy_parsing);
	RUN(keep_last_counts_complete_only);
	RUN(future_backup_is_kept_and_not_counted);
	RUN(newest_verified_is_never_deleted);
	RUN(no_policy_keeps_everything);
	RUN(only_partial_backups_are_all_kept);
	RUN(daily_newest_per_day_gaps_free);
	RUN(weekly_iso_weeks_and_yearly);
	RUN(a_year_against_the_oracle);
	return TH_DONE();
}
