/*
 * retention.h: which backups of one cluster a retention policy keeps.
 *
 * A pure planner in the way of restic's `forget --keep-*`: given the
 * backups (id, start time, status, verified?) and a policy, it decides
 * keep or delete for each and says why.  It touches no repository or
 * catalog; `lifeboat catalog prune` carries the plan out.
 *
 * The rules, all counted over complete backups only, newest first:
 *   keep-last=N     the N newest complete backups;
 *   keep-hourly=N   the newest complete backup of each of the N newest
 *   keep-daily=N    hours (days, ISO weeks, months, years) that have one,
 *   keep-weekly=N   buckets being calendar periods in UTC; a period
 *   keep-monthly=N  without a backup does not use up a slot (restic's
 *   keep-yearly=N   behaviour);
 *   the newest complete backup that verified ok is always kept.
 * Partial and failed backups never fill a slot.  One newer than the
 * newest complete backup is kept (it may be the freshest data there is,
 * and prune must not race a backup that is finishing); an older one is
 * deleted, since a complete backup supersedes it.  With no complete
 * backup at all, nothing partial is deleted.  Running backups are kept.
 * A backup the caller marks future (stamped ahead of the clock: see
 * catalog.h, cat_is_future) is kept and fills no slot: counted, a stamp a
 * year ahead would take keep-last's first slot for a year and push a real
 * backup out; deleted, a backup would go on the word of a wrong clock.
 */
#ifndef LB_RETENTION_H
#define LB_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum ret_rule {
	RET_LAST = 0,
	RET_HOURLY,
	RET_DAILY,
	RET_WEEKLY,
	RET_MONTHLY,
	RET_YEARLY,
	RET_N_RULES
};

/* Counts per rule; all zero with keep_all set means "keep everything"
 * (no policy configured). */
struct ret_policy {
	int keep[RET_N_RULES];
	int keep_all;
};

#define RET_KEEP_MAX 1000000

enum ret_status { RET_COMPLETE = 0, RET_PARTIAL, RET_FAILED, RET_RUNNING };

/* One backup as the planner sees it; id is only for tie-breaks. */
struct ret_backup {
	const char *id;
	int64_t time;              /* start, Unix seconds (UTC) */
	enum ret_status status;
	int verified;              /* 1 if its last verification passed */
	int future;                /* 1 if stamped ahead of the clock */
};

/* Why a backup is kept (bits) or deleted (RET_WHY_DELETE_*). */
#define RET_WHY_RULE(rule)    (1u << (rule))   /* kept by keep-<rule> */
#define RET_WHY_VERIFIED      (1u << 8)        /* newest complete verified */
#define RET_WHY_KEEP_ALL      (1u << 9)        /* no policy */
#define RET_WHY_NEWER_PARTIAL (1u << 10)       /* partial/failed, newer than any complete */
#define RET_WHY_NO_COMPLETE   (1u << 11)       /* partial/failed, no complete one exists */
#define RET_WHY_RUNNING       (1u << 12)
#define RET_WHY_FUTURE        (1u << 13)       /* stamped in the future, not counted */
#define RET_WHY_EXPIRED       (1u << 16)       /* delete: complete, no rule keeps it */
#define RET_WHY_SUPERSEDED    (1u << 17)       /* delete: partial/failed, older than a complete */

struct ret_decision {
	int keep;
	unsigned why;
};

/* Parses "keep-last=N,keep-daily=N,..." (spaces allowed around ',' and
 * '='; each rule at most once; N 0..RET_KEEP_MAX).  NULL or "" gives the
 * keep-everything policy.  A policy whose counts are all zero is refused
 * (LB_E_CONFIG): it would keep nothing but the newest verified backup. */
int ret_policy_parse(const char *s, struct ret_policy *out, struct lb_err *err);

/* Decides for each of the n backups (any order); out[i] is for b[i].
 * LB_E_NOMEM is the only failure. */
int ret_plan(const struct ret_backup *b, size_t n, const struct ret_policy *p,
    struct ret_decision *out, struct lb_err *err);

/* "keep-last,keep-daily", "expired", ...: the reasons in why, for people;
 * returns buf. */
char *ret_why_string(unsigned why, char *buf, size_t len);

/* The rule's name ("keep-daily"). */
const char *ret_rule_name(enum ret_rule r);

#endif
