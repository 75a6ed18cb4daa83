/*
 * retention.c: the retention planner (retention.h).  Pure: no I/O, no
 * clock; times are the backups' own, bucketed in UTC.
 */
#include "scheduler/retention.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const rule_names[RET_N_RULES] = {
	"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly",
	"keep-yearly"
};

const char *
ret_rule_name(enum ret_rule r)
{
	return r < RET_N_RULES ? rule_names[r] : "?";
}

int
ret_policy_parse(const char *s, struct ret_policy *out, struct lb_err *err)
{
	const char *p = s, *end, *eq;
	unsigned seen = 0;
	size_t klen;
	int i, any = 0;

	memset(out, 0, sizeof(*out));
	if (s == NULL || strspn(s, " \t") == strlen(s)) {
		out->keep_all = 1;
		return 0;
	}
	for (;;) {
		char num[24], *nend;
		long long v;
		size_t nlen;

		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		while (*p == ' ' || *p == '\t')
			p++;
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL)
			return lb_err_set(err, LB_E_CONFIG, "retention: '%.*s' is not "
			    "keep-PERIOD=N", (int)(end - p), p);
		klen = (size_t)(eq - p);
		while (klen > 0 && (p[klen - 1] == ' ' || p[klen - 1] == '\t'))
			klen--;
		for (i = 0; i < RET_N_RULES; i++)
			if (strlen(rule_names[i]) == klen && strncmp(rule_names[i], p, klen) == 0)
				break;
		if (i == RET_N_RULES)
			return lb_err_set(err, LB_E_CONFIG, "retention: unknown rule '%.*s' "
			    "(keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly or "
			    "keep-yearly)", (int)klen, p);
		if (seen & (1u << i))
			return lb_err_set(err, LB_E_CONFIG, "retention: %s is given twice",
			    rule_names[i]);
		seen |= 1u << i;
		for (eq++; *eq == ' ' || *eq == '\t'; eq++)
			;
		nlen = (size_t)(end - eq);
		while (nlen > 0 && (eq[nlen - 1] == ' ' || eq[nlen - 1] == '\t'))
			nlen--;
		if (nlen == 0 || nlen >= sizeof(num) || strspn(eq, "0123456789") < nlen)
			return lb_err_set(err, LB_E_CONFIG, "retention: %s: '%.*s' is not a "
			    "count", rule_names[i], (int)nlen, eq);
		memcpy(num, eq, nlen);
		num[nlen] = '\0';
		v = strtoll(num, &nend, 10);
		if (v > RET_KEEP_MAX)
			return lb_err_set(err, LB_E_CONFIG, "retention: %s: %lld is more than "
			    "%d", rule_names[i], v, RET_KEEP_MAX);
		out->keep[i] = (int)v;
		any |= v > 0;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	if (!any)
		return lb_err_set(err, LB_E_CONFIG, "retention: every count is 0, which would "
		    "delete every backup but the newest verified one (leave retention unset "
		    "to keep everything)");
	return 0;
}

/* The calendar period of t for rule r, as one comparable number. */
static long long
bucket(enum ret_rule r, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char wk[16];

	if (gmtime_r(&tt, &tm) == NULL)
		return LLONG_MIN;
	switch (r) {
	case RET_HOURLY:
		return (((tm.tm_year + 1900LL) * 100 + tm.tm_mon) * 100 + tm.tm_mday) * 100 +
		    tm.tm_hour;
	case RET_DAILY:
		return ((tm.tm_year + 1900LL) * 100 + tm.tm_mon) * 100 + tm.tm_mday;
	case RET_WEEKLY:
		/* ISO 8601 week, as restic: the week-numbering year and week. */
		strftime(wk, sizeof(wk), "%G%V", &tm);
		return atoll(wk);
	case RET_MONTHLY:
		return (tm.tm_year + 1900LL) * 100 + tm.tm_mon;
	case RET_YEARLY:
		return tm.tm_year + 1900LL;
	default:
		return LLONG_MIN;
	}
}

/* Newest first; the id breaks ties so the plan does not depend on the
 * order of the input. */
static int
newest_first(const void *a, const void *b, void *arg)
{
	const struct ret_backup *base = arg;
	const struct ret_backup *x = &base[*(const size_t *)a];
	const struct ret_backup *y = &base[*(const size_t *)b];
	int c;

	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	c = strcmp(x->id != NULL ? x->id : "", y->id != NULL ? y->id : "");
	return -c;
}

int
ret_plan(const struct ret_backup *b, size_t n, const struct ret_policy *p,
    struct ret_decision *out, struct lb_err *err)
{
	size_t *ord = NULL, i, k;
	long long last[RET_N_RULES];
	int left[RET_N_RULES], seen_complete = 0, seen_verified = 0, rule;

	memset(out, 0, n * sizeof(*out));
	if (n == 0)
		return 0;
	if ((ord = malloc(n * sizeof(*ord))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory planning retention");
	for (i = 0; i < n; i++)
		ord[i] = i;
	qsort_r(ord, n, sizeof(*ord), newest_first, (void *)b);
	for (rule = 0; rule < RET_N_RULES; rule++) {
		left[rule] = p->keep[rule];
		last[rule] = LLONG_MIN;
	}
	for (k = 0; k < n; k++) {
		const struct ret_backup *x = &b[ord[k]];
		struct ret_decision *d = &out[ord[k]];

		if (x->status == RET_RUNNING) {
			d->keep = 1;
			d->why = RET_WHY_RUNNING;
			continue;
		}
		if (x->future) {
			d->keep = 1;
			d->why = RET_WHY_FUTURE;
			continue;
		}
		if (p->keep_all) {
			d->keep = 1;
			d->why = RET_WHY_KEEP_ALL;
			continue;
		}
		if (x->status != RET_COMPLETE) {
			d->keep = !seen_complete;
			d->why = seen_complete ? RET_WHY_SUPERSEDED : RET_WHY_NEWER_PARTIAL;
			continue;
		}
		seen_complete = 1;
		if (x->verified && !seen_verified) {
			seen_verified = 1;
			d->why |= RET_WHY_VERIFIED;
		}
		if (left[RET_LAST] > 0) {
			left[RET_LAST]--;
			d->why |= RET_WHY_RULE(RET_LAST);
		}
		for (rule = RET_HOURLY; rule < RET_N_RULES; rule++) {
			long long bk = bucket((enum ret_rule)rule, x->time);

			/* Newest first, so the first backup of a new period is the
			 * newest one in it. */
			if (left[rule] > 0 && bk != last[rule]) {
				left[rule]--;
				last[rule] = bk;
				d->why |= RET_WHY_RULE(rule);
			}
		}
		d->keep = d->why != 0;
		if (!d->keep)
			d->why = RET_WHY_EXPIRED;
	}
	/* No complete backup at all: the partial ones are all there is. */
	if (!seen_complete)
		for (i = 0; i < n; i++)
			if (out[i].why == RET_WHY_NEWER_PARTIAL)
				out[i].why = RET_WHY_NO_COMPLETE;
	free(ord);
	return 0;
}

char *
ret_why_string(unsigned why, char *buf, size_t len)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ RET_WHY_RULE(RET_LAST), "keep-last" },
		{ RET_WHY_RULE(RET_HOURLY), "keep-hourly" },
		{ RET_WHY_RULE(RET_DAILY), "keep-daily" },
		{ RET_WHY_RULE(RET_WEEKLY), "keep-weekly" },
		{ RET_WHY_RULE(RET_MONTHLY), "keep-monthly" },
		{ RET_WHY_RULE(RET_YEARLY), "keep-yearly" },
		{ RET_WHY_VERIFIED, "newest verified" },
		{ RET_WHY_KEEP_ALL, "no retention policy" },
		{ RET_WHY_NEWER_PARTIAL, "incomplete, newer than every complete backup" },
		{ RET_WHY_NO_COMPLETE, "incomplete, but no complete backup exists" },
		{ RET_WHY_RUNNING, "running" },
		{ RET_WHY_FUTURE, "stamped in the future (a clock ran ahead), not counted" },
		{ RET_WHY_EXPIRED, "expired (no rule keeps it)" },
		{ RET_WHY_SUPERSEDED, "incomplete, superseded by a newer complete backup" },
	};
	size_t i, used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(why & names[i].bit))
			continue;
		int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i].name);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	return buf;
}
