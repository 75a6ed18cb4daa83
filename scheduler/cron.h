/*
 * cron.h: schedule expressions and next-run computation.
 *
 * A schedule is either a standard 5-field cron expression
 *     minute hour day-of-month month day-of-week
 * (lists "1,5", ranges "1-5", steps "*" "/15", "1-30/2" and "5/10" (= 5-max/10),
 * names jan..dec and sun..sat in any case, 0 or 7 for Sunday, the
 * shorthands @hourly @daily @midnight @weekly @monthly @yearly @annually)
 * or an interval "@every 10m" (units s, m, h, d; sums such as 1h30m).
 *
 * Day rule (Vixie cron): when both day fields are restricted, a day
 * matches if EITHER matches; when either starts with '*', both must.
 *
 * Time zones.  A cron schedule matches local wall-clock minutes in the
 * zone given to sched_next (an IANA name read from the system's tz
 * database).  Around DST changes:
 *   - a wall-clock minute that does not exist (spring forward) fires once,
 *     at the instant the gap ends (02:30 in a 02:00->03:00 gap runs at
 *     03:00 local), as Vixie cron runs fixed-time jobs;
 *   - a wall-clock minute that happens twice (fall back) fires once, at
 *     its first occurrence, so a daily backup never runs twice.
 * Local time comes from localtime_r with TZ switched under a mutex (the C
 * library has no per-call zone): TZ is set back to its previous value
 * before the mutex is released.  Call sched_tz_prepare() once before
 * starting threads so later switches only replace an existing environment
 * entry (glibc then never moves the environment array another thread may
 * be reading).
 *
 * Intervals are aligned to the Unix epoch, not to the start of the
 * process, so every instance of the daemon agrees on the slots (the HA
 * lock relies on it) and intervals do not depend on the time zone.
 */
#ifndef LB_SCHED_CRON_H
#define LB_SCHED_CRON_H

#include <stdint.h>
#include <time.h>

#include "common/err.h"

struct sched;

/* Longest expression accepted. */
#define SCHED_EXPR_MAX 256

/* The shortest interval: a backup a minute, as often as cron can say.
 * "@every 30s" is refused rather than run every minute in silence. */
#define SCHED_EVERY_MIN 60

/* The schedule used when a cluster sets none. */
#define SCHED_DEFAULT "@every 10m"

/* Parses expr.  *out is a new schedule freed with sched_free; on failure
 * *out is NULL and err (LB_E_CONFIG) names the field and why:
 * "0 25 * * *: hour: 25 is out of range 0..23".  An interval under
 * SCHED_EVERY_MIN and a cron expression that never fires ("0 0 31 2 *")
 * are refused here, so whoever parses a schedule (config check, the
 * daemon) agrees on which ones are valid. */
int sched_parse(const char *expr, struct sched **out, struct lb_err *err);

/* Frees s; NULL is fine. */
void sched_free(struct sched *s);

/* The expression as given to sched_parse. */
const char *sched_text(const struct sched *s);

/* The interval of an @every schedule in seconds, 0 for a cron one. */
long sched_every(const struct sched *s);

/* The first run strictly after `after`, in *next.  tz is an IANA zone
 * name ("Europe/Berlin"); NULL or "" means UTC; intervals ignore it.
 * LB_E_CONFIG for an unknown zone, LB_E_NOTFOUND when the expression
 * never matches within 10 years (0 0 30 2 *). */
int sched_next(const struct sched *s, time_t after, const char *tz,
    time_t *next, struct lb_err *err);

/* When a cluster whose last success was at `last` is overdue: two
 * scheduled runs missed, i.e. last + 2 * interval for @every, and the run
 * after the run after `last` for cron (so a weekday-only schedule is not
 * overdue over a weekend).  Same errors as sched_next. */
int sched_overdue_at(const struct sched *s, time_t last, const char *tz,
    time_t *at, struct lb_err *err);

/* 1 if tz names a zone in the system's tz database (or is UTC). */
int sched_tz_valid(const char *tz);

/* Makes TZ present in the environment (set to its current value or to
 * UTC); call once while the process is still single-threaded. */
void sched_tz_prepare(void);

/* A delay in 0..max_s-1 seconds derived from key (a cluster name), the
 * same on every host, to spread clusters that share a schedule. */
long sched_jitter(const char *key, long max_s);

#endif
