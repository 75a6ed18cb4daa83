/*
 * daemon.c: `lifeboat snapd` (daemon.h).  The main thread owns the
 * schedule: it waits for signals with sigtimedwait until the next slot,
 * starts one thread per run, and joins them.  Run threads share only
 * their cluster's counters, under d->mu, with the metrics thread.  Each
 * run holds a reference to the configuration it started with, so a reload
 * never frees a configuration a run is still reading.
 */
#include "snapd/daemon.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "ops/ops.h"
#include "common/cli.h"
#include "config/config.h"
#include "common/log.h"
#include "scheduler/cron.h"
#include "backup/backup.h"
#include "snapd/lock.h"
#include "snapd/metrics.h"
#include "snapd/notify.h"

enum { OUT_COMPLETE = 0, OUT_PARTIAL, OUT_FAILED, OUT_N };
static const char *const out_names[OUT_N] = { "complete", "partial", "failed" };

struct cfg_ref {
	struct cfg *cfg;
	int refs;                  /* d->mu */
};

/* One cluster.  Fields marked (main) are touched by the main thread only;
 * the rest under d->mu. */
struct cstate {
	char name[80];
	int present, enabled;
	struct sched *sched;       /* replaced on reload under d->mu */
	time_t next_due;           /* the next slot, daemon clock */
	time_t start_at;           /* next_due plus that slot's jitter */
	time_t health_base;        /* start, or last success */
	struct snapd_lock *lock;   /* NULL: lock-prefix unset; set by main */
	char lock_prefix[1024];    /* (main) the prefix of lock */
	char lock_want[1024];      /* (main) the configured one, "" when off */
	pthread_t thread;          /* (main) */
	int running, done;
	/* counters for /metrics */
	time_t last_success, last_attempt;
	int last_outcome;          /* -1 none yet */
	int last_divergent;
	double last_duration;
	uint64_t last_pulled, last_stored, pulled_total, stored_total;
	unsigned long long total[OUT_N], skip_overlap, skip_standby, divergent_total;
	/* verify-schedule: checked after each backup run (under d->mu) */
	struct sched *vsched;      /* NULL: not set */
	time_t verify_due;         /* daemon clock */
	unsigned long long verify_ok, verify_failed;
	long long future;          /* backups stamped ahead of the clock, -1 unknown */
};

struct daemon {
	pthread_mutex_t mu;
	const char *config_path;
	struct cfg_ref *cur;
	struct cstate **cs;
	size_t n_cs;
	pthread_t main_thread;
	volatile sig_atomic_t cancel;   /* cancel running backups */
	volatile sig_atomic_t stopping; /* start no new ones */
	double scale;              /* daemon clock rate (1 outside tests) */
	double anchor;
	time_t started;
	unsigned long long reloads_ok, reloads_refused;
	char owner[256];
	char tz[80];               /* (main) timezone of the current config */
};

static time_t draw_jitter(const struct cfg *c, const char *cluster);
static int apply_verify_schedule(struct daemon *d, struct cstate *cs,
    const struct cfg *c, time_t now, struct lb_err *err);

struct run_arg {
	struct daemon *d;
	struct cstate *cs;
	struct cfg_ref *ref;
	time_t slot;
};

/* --- the daemon's clock ------------------------------------------------- */

static double
real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
dnow_f(const struct daemon *d)
{
	return d->anchor + (real_now() - d->anchor) * d->scale;
}

static time_t
dnow(const struct daemon *d)
{
	return (time_t)floor(dnow_f(d));
}

static void
clock_setup(struct daemon *d)
{
	const char *v = getenv("LIFEBOAT_SNAPD_TIMESCALE");
	char *end;
	double now = real_now();

	d->scale = 1;
	d->anchor = floor(now / 3600) * 3600;
	if (v == NULL || *v == '\0')
		return;
	d->scale = strtod(v, &end);
	if (*end == '@')
		d->anchor = strtod(end + 1, NULL);
	if (d->scale < 1 || d->scale > 10000)
		d->scale = 1;
	log_warn("test clock: LIFEBOAT_SNAPD_TIMESCALE=%s, schedules run %.0fx fast", v,
	    d->scale);
}

/* --- configuration ------------------------------------------------------ */

static void
ref_put(struct daemon *d, struct cfg_ref *r)
{
	int last;

	if (r == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	last = --r->refs == 0;
	pthread_mutex_unlock(&d->mu);
	if (last) {
		cfg_free(r->cfg);
		free(r);
	}
}

/* Everything about schedules that the config's shape check leaves to
 * the scheduler: each one parses, the zone exists. */
static int
check_schedules(const struct cfg *c, struct lb_err *err)
{
	const char *tz = cfg_get_str(c, NULL, "timezone"), *v;
	struct sched *s;
	size_t i;
	int r;

	if (!sched_tz_valid(tz))
		return lb_err_set(err, LB_E_CONFIG, "timezone: %s is not in the tz database",
		    tz);
	for (i = 0; i < cfg_cluster_count(c); i++) {
		const char *name = cfg_cluster_name(c, i);
		static const char *const keys[] = { "schedule", "verify-schedule" };
		size_t k;

		for (k = 0; k < 2; k++) {
			if ((v = cfg_get_str(c, name, keys[k])) == NULL)
				continue;
			if ((r = sched_parse(v, &s, err)) < 0)
				return lb_err_prefix(err, "cluster %s: %s: ", name, keys[k]);
			sched_free(s);
		}
	}
	return 0;
}

static struct cstate *
find_cs(struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_cs; i++)
		if (strcmp(d->cs[i]->name, name) == 0)
			return d->cs[i];
	return NULL;
}

/* Makes the cluster states follow c (new config): clusters that are new
 * get a state, removed ones stay (counters kept) but are not scheduled.
 * Called with d->mu held. */
static int
apply_config(struct daemon *d, const struct cfg *c, time_t now, struct lb_err *err)
{
	struct cstate *cs, **grown;
	size_t i;
	int r;

	for (i = 0; i < d->n_cs; i++) {
		d->cs[i]->present = 0;
		d->cs[i]->lock_want[0] = '\0';
	}
	if (strcmp(d->tz, cfg_get_str(c, NULL, "timezone")) != 0) {
		/* Another zone moves every cron slot. */
		snprintf(d->tz, sizeof(d->tz), "%s", cfg_get_str(c, NULL, "timezone"));
		for (i = 0; i < d->n_cs; i++) {
			sched_free(d->cs[i]->sched);
			d->cs[i]->sched = NULL;
			sched_free(d->cs[i]->vsched);
			d->cs[i]->vsched = NULL;
		}
	}
	for (i = 0; i < cfg_cluster_count(c); i++) {
		const char *name = cfg_cluster_name(c, i);
		const char *expr = cfg_get_str(c, name, "schedule");
		const char *prefix = cfg_get_str(c, name, "lock-prefix");
		struct sched *s = NULL;

		if (expr == NULL)
			expr = SCHED_DEFAULT;
		if ((cs = find_cs(d, name)) == NULL) {
			if ((grown = realloc(d->cs, (d->n_cs + 1) * sizeof(*grown))) == NULL ||
			    (cs = calloc(1, sizeof(*cs))) == NULL)
				return lb_err_set(err, LB_E_NOMEM, "out of memory");
			d->cs = grown;
			d->cs[d->n_cs++] = cs;
			snprintf(cs->name, sizeof(cs->name), "%s", name);
			cs->last_outcome = -1;
			cs->health_base = now;
		}
		cs->present = 1;
		cs->enabled = cfg_get_int(c, name, "enabled") != 0;
		if ((r = apply_verify_schedule(d, cs, c, now, err)) < 0)
			return r;
		if (cs->sched == NULL || strcmp(sched_text(cs->sched), expr) != 0) {
			if ((r = sched_parse(expr, &s, err)) < 0)
				return r;
			sched_free(cs->sched);
			cs->sched = s;
			if ((r = sched_next(cs->sched, now, d->tz, &cs->next_due, err)) < 0)
				return lb_err_prefix(err, "cluster %s: ", name);
			cs->start_at = cs->next_due + draw_jitter(c, name);
		}
		/* A disabled cluster holds no lock: a standby runs it. */
		snprintf(cs->lock_want, sizeof(cs->lock_want), "%s",
		    prefix != NULL && cs->enabled ? prefix : "");
	}
	return 0;
}

/* Makes each cluster's lock follow lock_want (apply_config): a cluster
 * removed or disabled by a reload releases its lock, else its renewing
 * thread would keep every standby out for ever; a new lock-prefix moves
 * it.  Only between runs, since a run uses its lock: the main thread
 * calls it at each turn of its loop, after joining runs (so also after a
 * reload), without d->mu (a release talks to etcd), and swaps cs->lock
 * under d->mu for /metrics.
 * A lock that cannot be made is logged; returns -1 if one could not. */
static int
sync_locks(struct daemon *d)
{
	struct snapd_lock *old, *nl;
	struct lb_err err;
	size_t i;
	int r = 0;

	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];

		if (cs->running || strcmp(cs->lock_prefix, cs->lock_want) == 0)
			continue;
		pthread_mutex_lock(&d->mu);
		old = cs->lock;
		cs->lock = NULL;
		pthread_mutex_unlock(&d->mu);
		if (old != NULL)
			lock_release(old, d->cur->cfg);
		lock_free(old);
		nl = NULL;
		if (cs->lock_want[0] != '\0' && lock_new(cs->name, cs->lock_want,
		    d->owner, &d->cancel, &nl, &err) < 0) {
			/* out of memory only (the configuration bounds the
			 * prefix): lock_prefix stays, so the next turn retries */
			log_error("cluster=%s lock: %s", cs->name, err.msg);
			r = -1;
		} else
			snprintf(cs->lock_prefix, sizeof(cs->lock_prefix), "%s", cs->lock_want);
		pthread_mutex_lock(&d->mu);
		cs->lock = nl;
		pthread_mutex_unlock(&d->mu);
	}
	return r;
}

static void
set_log_level(const struct cfg *c)
{
	int level = log_level_parse(cfg_get_str(c, NULL, "log-level"));

	if (level >= 0)
		log_setup((enum log_level)level, LOG_STYLE_KV);
}

static void
reload(struct daemon *d)
{
	struct cfg *c = NULL;
	struct cfg_ref *ref = NULL, *old;
	struct lb_err err;
	int r;

	notify_send("RELOADING=1");
	lb_err_clear(&err);
	if ((r = cfg_load(d->config_path, &c, &err)) < 0 ||
	    (r = cfg_reload_check(d->cur->cfg, c, &err)) < 0 ||
	    (r = check_schedules(c, &err)) < 0)
		goto refused;
	if ((ref = calloc(1, sizeof(*ref))) == NULL) {
		r = lb_err_set(&err, LB_E_NOMEM, "out of memory");
		goto refused;
	}
	ref->cfg = c;
	ref->refs = 1;
	c = NULL;
	pthread_mutex_lock(&d->mu);
	r = apply_config(d, ref->cfg, dnow(d), &err);
	old = d->cur;
	d->cur = ref;
	d->reloads_ok++;
	pthread_mutex_unlock(&d->mu);
	ref_put(d, old);
	set_log_level(ref->cfg);
	if (r < 0)
		log_error("reload: %s", err.msg);
	log_info("reload: configuration %s loaded, %zu clusters", d->config_path,
	    cfg_cluster_count(ref->cfg));
	notify_send("READY=1\nSTATUS=running (configuration reloaded)");
	return;
refused:
	cfg_free(c);
	pthread_mutex_lock(&d->mu);
	d->reloads_refused++;
	pthread_mutex_unlock(&d->mu);
	log_error("reload refused, the running configuration stays: %s", err.msg);
	notify_send("READY=1\nSTATUS=running (reload refused)");
}

/* --- runs --------------------------------------------------------------- */

/* verify-schedule: the newest backup is verified at the first run of the
 * cluster after each of its slots, so a verification never races the
 * cluster's own backup and never runs while the cluster is down. */
static int
apply_verify_schedule(struct daemon *d, struct cstate *cs, const struct cfg *c,
    time_t now, struct lb_err *err)
{
	const char *expr = cfg_is_set(c, cs->name, "verify-schedule") ?
	    cfg_get_str(c, cs->name, "verify-schedule") : NULL;
	struct sched *s = NULL;
	int r;

	if (expr == NULL) {
		sched_free(cs->vsched);
		cs->vsched = NULL;
		return 0;
	}
	if (cs->vsched != NULL && strcmp(sched_text(cs->vsched), expr) == 0)
		return 0;
	if ((r = sched_parse(expr, &s, err)) < 0 ||
	    (r = sched_next(s, now, d->tz, &cs->verify_due, err)) < 0) {
		sched_free(s);
		return lb_err_prefix(err, "cluster %s: verify-schedule: ", cs->name);
	}
	sched_free(cs->vsched);
	cs->vsched = s;
	return 0;
}

/* The next verify slot after now (d->mu held; a day on when the
 * schedule cannot tell, which it could when it was parsed). */
static void
advance_verify(struct daemon *d, struct cstate *cs, time_t now)
{
	struct lb_err err;

	if (sched_next(cs->vsched, now, d->tz, &cs->verify_due, &err) < 0)
		cs->verify_due = now + 86400;
}

static void
verify_if_due(struct daemon *d, struct cstate *cs, const struct cfg *c)
{
	struct lb_env e;
	struct lb_err err;
	time_t now = dnow(d);
	int due, ok;

	pthread_mutex_lock(&d->mu);
	due = cs->vsched != NULL && now >= cs->verify_due;
	if (due)
		advance_verify(d, cs, now);
	pthread_mutex_unlock(&d->mu);
	if (!due)
		return;
	lb_err_clear(&err);
	/* On the configuration this run started with, never the file: an
	 * edit whose reload was refused must not take effect here.  A good
	 * result is logged by the verification itself, with its detail; a
	 * failure may come before it (no identity, no backup). */
	ok = env_open_cfg(c, ENV_REPO | ENV_CAT, &e, &err) == 0 &&
	    ops_verify_newest(&e, cs->name, &err) == 0;
	env_close(&e);
	if (!ok)
		log_error("cluster=%s verify=failed: %s", cs->name, err.msg);
	pthread_mutex_lock(&d->mu);
	if (ok)
		cs->verify_ok++;
	else
		cs->verify_failed++;
	pthread_mutex_unlock(&d->mu);
}

static int
count_one(const struct cat_backup *b, void *arg)
{
	(void)b;
	(*(long long *)arg)++;
	return 0;
}

/* The backups of cluster stamped more than CAT_FUTURE_SKEW_S after the
 * real clock (catalog times are real, whatever the test clock): latest,
 * --at and retention leave them aside, the gauge makes them seen, and
 * the audit log says so when there are more than `before` (once, not at
 * every run). */
static long long
count_future(const char *catalog, const char *cluster, long long before)
{
	struct cat_filter f = { .cluster = cluster, .status = -1 };
	struct cat *cat = NULL;
	struct lb_err err;
	long long n = 0;

	f.since = (int64_t)time(NULL) + CAT_FUTURE_SKEW_S + 1;
	if (cat_open(catalog, CAT_OPEN_READONLY, &cat, &err) < 0)
		return err.code == LB_E_NOTFOUND ? 0 : -1;
	if (cat_backup_list(cat, &f, 0, count_one, &n, &err) < 0)
		n = -1;
	cat_close(cat);
	if (n > 0 && before >= 0 && n > before) {
		log_warn("cluster=%s backups_future=%lld: stamped more than %ds after this "
		    "host's clock (a clock ran ahead?): never latest, not counted by "
		    "retention", cluster, n, CAT_FUTURE_SKEW_S);
		if (cat_open(catalog, 0, &cat, &err) == 0) {
			ops_audit(cat, CAT_ACT_BACKUP, cluster, NULL, "future-stamped",
			    "{s:i, s:i}", "backups", (int)n, "skew_s", CAT_FUTURE_SKEW_S);
			cat_close(cat);
		}
	}
	return n;
}

/* Retention applies after each backup of a cluster that sets one. */
static void
prune_after_backup(const struct cfg *c, const char *cluster)
{
	struct lb_env e;
	struct lb_err err;

	if (!cfg_is_set(c, cluster, "retention"))
		return;
	lb_err_clear(&err);
	/* The run's configuration, as for verify_if_due. */
	if (env_open_cfg(c, ENV_REPO | ENV_CAT, &e, &err) < 0 ||
	    ops_prune_cluster(&e, cluster, &err) < 0)
		log_error("cluster=%s prune: %s", cluster, err.msg);
	env_close(&e);
}

static void *
run_main(void *arg)
{
	struct run_arg *a = arg;
	struct daemon *d = a->d;
	struct cstate *cs = a->cs;
	const struct cfg *c = a->ref->cfg;
	struct backup_env *env = NULL;
	struct backup_result res;
	struct lb_err err;
	long long future = -1;
	int held = 1, r, outcome;

	memset(&res, 0, sizeof(res));
	lb_err_clear(&err);
	if (cs->lock != NULL) {
		if (lock_acquire(cs->lock, c, &held, &err) < 0) {
			/* No member answers: the backup will say why it fails. */
			log_warn("cluster=%s lock: %s; running without it", cs->name, err.msg);
			held = 1;
		} else if (!held) {
			log_info("cluster=%s slot=%lld skipped: another lifeboat holds the lock",
			    cs->name, (long long)a->slot);
			pthread_mutex_lock(&d->mu);
			cs->skip_standby++;
			pthread_mutex_unlock(&d->mu);
			goto done;
		}
	}
	if (d->stopping) {
		log_info("cluster=%s slot=%lld not run: stopping", cs->name, (long long)a->slot);
		goto done;
	}
	log_info("cluster=%s slot=%lld run starts", cs->name, (long long)a->slot);
	if ((r = backup_env_open(c, PROGRESS_NONE, &d->cancel, &env, &res.err)) == 0) {
		r = backup_cluster(env, cs->name, &res);
		if (r == 0) {
			prune_after_backup(c, cs->name);
			verify_if_due(d, cs, c);
		}
	} else {
		res.outcome = BACKUP_FAILED;
	}
	backup_env_close(env);
	outcome = res.outcome == BACKUP_COMPLETE ? OUT_COMPLETE :
	    res.outcome == BACKUP_PARTIAL ? OUT_PARTIAL : OUT_FAILED;
	if (outcome == OUT_COMPLETE)
		log_info("cluster=%s slot=%lld backup=%s outcome=complete members=%zu/%zu "
		    "pulled=%llu stored=%llu seconds=%.2f%s", cs->name, (long long)a->slot,
		    res.backup_id, res.members_ok, res.members_total,
		    (unsigned long long)res.pulled, (unsigned long long)res.stored,
		    res.seconds, res.divergent ? " divergent=1" : "");
	else
		log_error("cluster=%s slot=%lld backup=%s outcome=%s members=%zu/%zu: %s",
		    cs->name, (long long)a->slot, res.backup_id, out_names[outcome],
		    res.members_ok, res.members_total, res.err.msg);
	/* after the outcome is logged: a catalog read does not delay it */
	pthread_mutex_lock(&d->mu);
	future = cs->future;
	pthread_mutex_unlock(&d->mu);
	future = count_future(cfg_get_str(c, NULL, "catalog"), cs->name, future);
	pthread_mutex_lock(&d->mu);
	cs->last_attempt = dnow(d);
	cs->last_outcome = outcome;
	cs->last_duration = res.seconds;
	cs->last_pulled = res.pulled;
	cs->last_stored = res.stored;
	cs->pulled_total += res.pulled;
	cs->stored_total += res.stored;
	cs->total[outcome]++;
	cs->last_divergent = res.divergent;
	if (future >= 0)
		cs->future = future;
	if (res.divergent)
		cs->divergent_total++;
	if (outcome == OUT_COMPLETE)
		cs->last_success = cs->last_attempt;
	/* A partial backup restores (from the members it has), so it keeps
	 * the cluster healthy; the partial outcome has its own metric. */
	if (outcome != OUT_FAILED)
		cs->health_base = cs->last_attempt;
	pthread_mutex_unlock(&d->mu);
done:
	pthread_mutex_lock(&d->mu);
	cs->done = 1;
	pthread_mutex_unlock(&d->mu);
	ref_put(d, a->ref);
	pthread_kill(d->main_thread, SIGUSR1);  /* wake the main loop to join */
	free(a);
	return NULL;
}

static int
start_run(struct daemon *d, struct cstate *cs, time_t slot)
{
	struct run_arg *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	a->d = d;
	a->cs = cs;
	a->slot = slot;
	pthread_mutex_lock(&d->mu);
	a->ref = d->cur;
	a->ref->refs++;
	cs->running = 1;
	cs->done = 0;
	pthread_mutex_unlock(&d->mu);
	if (pthread_create(&cs->thread, NULL, run_main, a) != 0) {
		log_error("cluster=%s cannot start a thread for the run", cs->name);
		pthread_mutex_lock(&d->mu);
		cs->running = 0;
		pthread_mutex_unlock(&d->mu);
		ref_put(d, a->ref);
		free(a);
		return -1;
	}
	return 0;
}

/* Joins finished runs; returns how many are still running. */
static int
reap(struct daemon *d)
{
	size_t i;
	int running = 0, join;

	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];

		pthread_mutex_lock(&d->mu);
		join = cs->running && cs->done;
		pthread_mutex_unlock(&d->mu);
		if (join) {
			pthread_join(cs->thread, NULL);
			pthread_mutex_lock(&d->mu);
			cs->running = 0;
			pthread_mutex_unlock(&d->mu);
		}
		running += cs->running;
	}
	return running;
}

/* Seconds to wait after a slot: uniform in [0, jitter], so that many
 * daemons on one schedule do not all reach etcd and the store at once. */
static time_t
draw_jitter(const struct cfg *c, const char *cluster)
{
	long long j = cfg_get_int(c, cluster, "jitter");

	return j > 0 ? (time_t)arc4random_uniform((uint32_t)j + 1) : 0;
}

static void
advance(struct daemon *d, struct cstate *cs, time_t now)
{
	struct lb_err err;
	time_t next;

	if (sched_next(cs->sched, now, d->tz, &next, &err) < 0) {
		log_error("cluster=%s schedule: %s", cs->name, err.msg);
		next = now + 3600;
	}
	pthread_mutex_lock(&d->mu);
	cs->next_due = next;
	cs->start_at = next + draw_jitter(d->cur->cfg, cs->name);
	pthread_mutex_unlock(&d->mu);
}

/* Starts what is due, up to max-concurrent-clusters at once and the
 * longest waiting first; returns the daemon-clock time of the next slot
 * (clusters waiting for a free place are started when a run ends: the
 * join wakes the main loop). */
static time_t
schedule(struct daemon *d, int *running)
{
	time_t now = dnow(d), soonest = now + 3600;
	long max = (long)cfg_get_int(d->cur->cfg, NULL, "max-concurrent-clusters");
	struct cstate *best;
	size_t i;

#define SCHEDULED(cs) ((cs)->present && (cs)->enabled && (cs)->sched != NULL)
	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];

		if (SCHEDULED(cs) && cs->running && now >= cs->start_at) {
			log_warn("cluster=%s slot=%lld skipped: the previous run is still going",
			    cs->name, (long long)cs->next_due);
			pthread_mutex_lock(&d->mu);
			cs->skip_overlap++;
			pthread_mutex_unlock(&d->mu);
			advance(d, cs, now);
		}
	}
	while (*running < max) {
		best = NULL;
		for (i = 0; i < d->n_cs; i++) {
			struct cstate *cs = d->cs[i];

			if (SCHEDULED(cs) && !cs->running && now >= cs->start_at &&
			    (best == NULL || cs->start_at < best->start_at))
				best = cs;
		}
		if (best == NULL)
			break;
		if (start_run(d, best, best->next_due) == 0)
			(*running)++;
		advance(d, best, now);
	}
	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];

		if (SCHEDULED(cs) && cs->start_at > now && cs->start_at < soonest)
			soonest = cs->start_at;
	}
#undef SCHEDULED
	return soonest;
}

/* The wall clock moved by jump seconds (daemon clock) more than the
 * monotonic clock did: NTP stepping after a long outage, a VM resumed, an
 * operator's date -s.  Forwards, slots that went by run once each (the
 * same rule as catch-up, by the normal schedule); backwards, every slot
 * is computed again from now, else the next run would wait for the clock
 * to come back.  Health is measured from a base moved by the jump, so a
 * jump alone never makes /healthz fail or hides a real gap. */
static void
clock_jumped(struct daemon *d, double jump)
{
	time_t now = dnow(d);
	size_t i;

	log_warn("the wall clock jumped %s by %.0fs; schedules follow it",
	    jump > 0 ? "forwards" : "backwards", fabs(jump));
	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];

		pthread_mutex_lock(&d->mu);
		cs->health_base += (time_t)jump;
		if (jump < 0 && cs->vsched != NULL)
			advance_verify(d, cs, now);
		pthread_mutex_unlock(&d->mu);
		if (jump < 0 && cs->sched != NULL)
			advance(d, cs, now);
	}
}

/* Catch-up: a cluster whose last success in the catalog is older than
 * its previous slot (or that has none) runs once now. */
static void
catch_up(struct daemon *d)
{
	const char *path = cfg_get_str(d->cur->cfg, NULL, "catalog");
	struct cat *cat = NULL;
	struct lb_err err;
	time_t now = dnow(d), next;
	size_t i;

	if (cat_open(path, CAT_OPEN_READONLY, &cat, &err) < 0 && err.code != LB_E_NOTFOUND)
		log_warn("catch-up: catalog: %s", err.msg);
	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];
		struct cat_backup *b = NULL;
		int missed = 1;

		if (!cs->present || !cs->enabled)
			continue;
		/* Under the test clock catalog times are on another clock. */
		if (cat != NULL && d->scale == 1 &&
		    cat_backup_latest(cat, cs->name, CAT_COMPLETE, 0, &b, &err) == 0) {
			missed = sched_next(cs->sched, (time_t)b->started_at, d->tz, &next,
			    &err) < 0 || next <= now;
			if (!missed)
				cs->health_base = (time_t)b->started_at;
		}
		cat_backup_free(b);
		cs->future = count_future(path, cs->name, cs->future);
		if (missed) {
			log_info("cluster=%s catch-up: no backup since its last slot; one run now",
			    cs->name);
			cs->next_due = cs->start_at = now;
		}
	}
	cat_close(cat);
}

/* --- /metrics and /healthz ---------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void __attribute__((format(printf, 2, 3)))
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap * 2 + (size_t)n + 64;
			char *p = realloc(b->p, cap);
			if (p == NULL) {
				b->oom = 1;
				return;
			}
			b->p = p;
			b->cap = cap;
		}
	}
}

static long long
rss_bytes(void)
{
	long long pages = 0, size;
	FILE *fp = fopen("/proc/self/statm", "r");

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%lld %lld", &size, &pages) != 2)
		pages = 0;
	fclose(fp);
	return pages * sysconf(_SC_PAGESIZE);
}

/* When cs is overdue (d->mu held). */
static time_t
overdue_at(const struct daemon *d, const struct cstate *cs)
{
	struct lb_err err;
	time_t at;

	if (cs->sched == NULL || sched_overdue_at(cs->sched, cs->health_base, d->tz,
	    &at, &err) < 0)
		return 0;
	return at;
}

#define FAMILY(b, name, type, help) \
	bprintf(b, "# HELP " name " " help "\n# TYPE " name " " type "\n")

static void
render_metrics(struct daemon *d, struct buf *b)
{
	time_t now = dnow(d);
	size_t i;
	int o;

	FAMILY(b, "lifeboat_build_info", "gauge", "version of the running daemon");
	bprintf(b, "lifeboat_build_info{version=\"%s\"} 1\n", LB_VERSION);
	FAMILY(b, "lifeboat_process_start_time_seconds", "gauge", "start of the daemon");
	bprintf(b, "lifeboat_process_start_time_seconds %lld\n", (long long)d->started);
	FAMILY(b, "lifeboat_process_resident_memory_bytes", "gauge", "resident set size");
	bprintf(b, "lifeboat_process_resident_memory_bytes %lld\n", rss_bytes());
	FAMILY(b, "lifeboat_config_reloads_total", "counter", "SIGHUP reloads by result");
	bprintf(b, "lifeboat_config_reloads_total{result=\"ok\"} %llu\n"
	    "lifeboat_config_reloads_total{result=\"refused\"} %llu\n",
	    d->reloads_ok, d->reloads_refused);

#define EACH(stmt) for (i = 0; i < d->n_cs; i++) { \
	const struct cstate *cs = d->cs[i]; if (!cs->present) continue; stmt; }
	FAMILY(b, "lifeboat_backup_last_success_timestamp_seconds", "gauge",
	    "end of the last complete backup (0: none since start)");
	EACH(bprintf(b, "lifeboat_backup_last_success_timestamp_seconds{cluster=\"%s\"} %lld\n",
	    cs->name, (long long)cs->last_success));
	FAMILY(b, "lifeboat_backup_last_attempt_timestamp_seconds", "gauge",
	    "end of the last backup attempt");
	EACH(bprintf(b, "lifeboat_backup_last_attempt_timestamp_seconds{cluster=\"%s\"} %lld\n",
	    cs->name, (long long)cs->last_attempt));
	FAMILY(b, "lifeboat_backup_last_outcome", "gauge",
	    "1 for the outcome of the last attempt");
	EACH(for (o = 0; o < OUT_N; o++)
		bprintf(b, "lifeboat_backup_last_outcome{cluster=\"%s\",outcome=\"%s\"} %d\n",
		    cs->name, out_names[o], cs->last_outcome == o));
	FAMILY(b, "lifeboat_backup_last_duration_seconds", "gauge", "length of the last attempt");
	EACH(bprintf(b, "lifeboat_backup_last_duration_seconds{cluster=\"%s\"} %.3f\n",
	    cs->name, cs->last_duration));
	FAMILY(b, "lifeboat_backup_last_pulled_bytes", "gauge", "bytes pulled from etcd by the last attempt");
	EACH(bprintf(b, "lifeboat_backup_last_pulled_bytes{cluster=\"%s\"} %llu\n",
	    cs->name, (unsigned long long)cs->last_pulled));
	FAMILY(b, "lifeboat_backup_last_stored_bytes", "gauge", "bytes stored by the last attempt");
	EACH(bprintf(b, "lifeboat_backup_last_stored_bytes{cluster=\"%s\"} %llu\n",
	    cs->name, (unsigned long long)cs->last_stored));
	FAMILY(b, "lifeboat_backup_pulled_bytes_total", "counter", "bytes pulled from etcd");
	EACH(bprintf(b, "lifeboat_backup_pulled_bytes_total{cluster=\"%s\"} %llu\n",
	    cs->name, (unsigned long long)cs->pulled_total));
	FAMILY(b, "lifeboat_backup_stored_bytes_total", "counter", "bytes stored in the repository");
	EACH(bprintf(b, "lifeboat_backup_stored_bytes_total{cluster=\"%s\"} %llu\n",
	    cs->name, (unsigned long long)cs->stored_total));
	FAMILY(b, "lifeboat_backups_total", "counter", "backup attempts by outcome");
	EACH(for (o = 0; o < OUT_N; o++)
		bprintf(b, "lifeboat_backups_total{cluster=\"%s\",outcome=\"%s\"} %llu\n",
		    cs->name, out_names[o], cs->total[o]));
	FAMILY(b, "lifeboat_backup_runs_skipped_total", "counter",
	    "slots not run: overlap (previous run still going) or standby (another daemon holds the lock)");
	EACH(bprintf(b, "lifeboat_backup_runs_skipped_total{cluster=\"%s\",reason=\"overlap\"} %llu\n"
	    "lifeboat_backup_runs_skipped_total{cluster=\"%s\",reason=\"standby\"} %llu\n",
	    cs->name, cs->skip_overlap, cs->name, cs->skip_standby));
	FAMILY(b, "lifeboat_backup_member_divergence_total", "counter",
	    "backups whose members' HashKV disagreed");
	EACH(bprintf(b, "lifeboat_backup_member_divergence_total{cluster=\"%s\"} %llu\n",
	    cs->name, cs->divergent_total));
	FAMILY(b, "lifeboat_backup_member_divergence", "gauge",
	    "1 if the last backup found members diverging");
	EACH(bprintf(b, "lifeboat_backup_member_divergence{cluster=\"%s\"} %d\n",
	    cs->name, cs->last_divergent));
	FAMILY(b, "lifeboat_backup_running", "gauge", "1 while a backup runs");
	EACH(bprintf(b, "lifeboat_backup_running{cluster=\"%s\"} %d\n", cs->name,
	    cs->running && !cs->done));
	FAMILY(b, "lifeboat_backup_next_run_timestamp_seconds", "gauge",
	    "start of the next scheduled run (its slot plus jitter)");
	EACH(bprintf(b, "lifeboat_backup_next_run_timestamp_seconds{cluster=\"%s\"} %lld\n",
	    cs->name, cs->enabled ? (long long)cs->start_at : 0LL));
	FAMILY(b, "lifeboat_backup_overdue", "gauge",
	    "1 when two scheduled backups passed without a complete or partial one (/healthz fails)");
	EACH(bprintf(b, "lifeboat_backup_overdue{cluster=\"%s\"} %d\n", cs->name,
	    cs->enabled && now > overdue_at(d, cs)));
	FAMILY(b, "lifeboat_lock_held", "gauge",
	    "1 while this daemon holds the cluster's etcd lock (renewed between slots); -1 when the lock is off");
	EACH(bprintf(b, "lifeboat_lock_held{cluster=\"%s\"} %d\n", cs->name,
	    cs->lock == NULL || lock_is_off(cs->lock) ? -1 : lock_is_held(cs->lock)));
	FAMILY(b, "lifeboat_backups_future", "gauge",
	    "backups in the catalog stamped more than 5m after this host's clock: "
	    "never latest, not counted by retention (-1: unknown)");
	EACH(bprintf(b, "lifeboat_backups_future{cluster=\"%s\"} %lld\n", cs->name,
	    cs->future));
	FAMILY(b, "lifeboat_verify_total", "counter",
	    "scheduled verifications of the newest backup by result");
	EACH(bprintf(b, "lifeboat_verify_total{cluster=\"%s\",result=\"ok\"} %llu\n"
	    "lifeboat_verify_total{cluster=\"%s\",result=\"failed\"} %llu\n", cs->name,
	    cs->verify_ok, cs->name, cs->verify_failed));
#undef EACH
}

static int
render(void *arg, const char *path, char **body, unsigned *status)
{
	struct daemon *d = arg;
	struct buf b = { NULL, 0, 0, 0 };
	time_t now;
	size_t i;
	int bad = 0;

	if (strcmp(path, "/metrics") != 0 && strcmp(path, "/healthz") != 0)
		return -1;
	if ((b.p = malloc(b.cap = 4096)) == NULL)
		return -1;
	b.p[0] = '\0';
	pthread_mutex_lock(&d->mu);
	now = dnow(d);
	if (strcmp(path, "/metrics") == 0) {
		render_metrics(d, &b);
		*status = 200;
	} else {
		for (i = 0; i < d->n_cs; i++) {
			const struct cstate *cs = d->cs[i];
			time_t at;

			if (!cs->present || !cs->enabled)
				continue;
			at = overdue_at(d, cs);
			if (now > at) {
				char since[64], due[64];

				/* health_base: the last complete or partial backup,
				 * or the daemon's start when there was none since */
				lb_fmt_when(cs->health_base, now, since, sizeof(since));
				lb_fmt_when(at, now, due, sizeof(due));
				bprintf(&b, "cluster %s: no backup since %s (overdue since "
				    "%s)\n", cs->name, since, due);
				bad++;
			}
		}
		*status = bad ? 503 : 200;
		if (!bad)
			bprintf(&b, "ok: %zu clusters backed up on schedule\n", d->n_cs);
	}
	pthread_mutex_unlock(&d->mu);
	if (b.oom) {
		free(b.p);
		return -1;
	}
	*body = b.p;
	return 0;
}

/* --- main loop ---------------------------------------------------------- */

static void
free_daemon(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->n_cs; i++) {
		if (d->cs[i]->lock != NULL)
			lock_release(d->cs[i]->lock, d->cur->cfg);
		lock_free(d->cs[i]->lock);
		sched_free(d->cs[i]->sched);
		sched_free(d->cs[i]->vsched);
		free(d->cs[i]);
	}
	free(d->cs);
	ref_put(d, d->cur);
	pthread_mutex_destroy(&d->mu);
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: lifeboat [--config FILE] snapd\n"
	    "\n"
	    "Runs the snapshot daemon in the foreground: backs up every configured\n"
	    "cluster on its schedule, serves /metrics and /healthz on metrics-listen.\n"
	    "SIGHUP reloads the configuration; SIGTERM stops.\n");
}

int
snapd_cmd(const struct lb_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d;
	struct metrics_server *ms = NULL;
	struct cfg *c = NULL;
	struct lb_err err;
	sigset_t set;
	const char *listen;
	char host[200] = "";
	unsigned long long wd_usec;
	double wd_next = 0, stop_deadline = 0, last_real, last_mono;
	int ch, status = 0, stopping = 0, running = 0;

	memset(&d, 0, sizeof(d));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_setup(log_threshold, LOG_STYLE_KV);
	/* Before any thread: signals go to sigtimedwait in this thread only,
	 * and TZ exists before the scheduler switches it (cron.h). */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sched_tz_prepare();

	pthread_mutex_init(&d.mu, NULL);
	d.main_thread = pthread_self();
	d.config_path = g->config_path;
	clock_setup(&d);
	d.started = dnow(&d);
	gethostname(host, sizeof(host) - 1);
	snprintf(d.owner, sizeof(d.owner), "%s pid %ld", host, (long)getpid());
	lb_err_clear(&err);
	if (cfg_load(g->config_path, &c, &err) < 0 || check_schedules(c, &err) < 0) {
		log_error("%s", err.msg);
		cfg_free(c);
		pthread_mutex_destroy(&d.mu);
		return lb_err_exit_status(err.code) == 1 ? 2 : lb_err_exit_status(err.code);
	}
	set_log_level(c);
	if ((d.cur = calloc(1, sizeof(*d.cur))) == NULL) {
		cfg_free(c);
		pthread_mutex_destroy(&d.mu);
		return 1;
	}
	d.cur->cfg = c;
	d.cur->refs = 1;
	if (apply_config(&d, c, d.started, &err) < 0) {
		log_error("%s", err.msg);
		status = 2;
		goto out;
	}
	if (sync_locks(&d) < 0) {
		status = 2;
		goto out;
	}
	listen = cfg_get_str(c, NULL, "metrics-listen");
	if (listen != NULL && strcmp(listen, "off") != 0) {
		if (metrics_start(listen, render, &d, &ms, &err) < 0) {
			log_error("%s", err.msg);
			status = 1;
			goto out;
		}
		log_info("metrics and health on http://%s/metrics and /healthz", listen);
	}
	catch_up(&d);
	log_info("snapd started: %zu clusters, config %s, timezone %s", d.n_cs,
	    g->config_path, d.tz);
	notify_send("READY=1\nSTATUS=running");
	if ((wd_usec = notify_watchdog_usec()) > 0)
		log_info("systemd watchdog every %.1fs", wd_usec / 1e6);
	last_real = real_now();
	last_mono = lb_mono_now();

	for (;;) {
		struct timespec ts;
		siginfo_t si;
		double wait, now_r, now_m, drift;
		time_t next;
		int sig;

		running = reap(&d);
		sync_locks(&d);
		now_r = real_now();
		now_m = lb_mono_now();
		drift = (now_r - last_real) - (now_m - last_mono);
		if (fabs(drift) > SNAPD_CLOCK_JUMP_S)
			clock_jumped(&d, drift * d.scale);
		last_real = now_r;
		last_mono = now_m;
		if (stopping) {
			if (running == 0)
				break;
			if (!d.cancel && now_r >= stop_deadline) {
				log_warn("stop: cancelling %d running backups after %ds", running,
				    SNAPD_GRACE_S);
				d.cancel = 1;
			}
			wait = 0.5;
		} else {
			next = schedule(&d, &running);
			wait = ((double)next - dnow_f(&d)) / d.scale;
		}
		if (wd_usec > 0 && now_r >= wd_next) {
			notify_send("WATCHDOG=1");
			wd_next = now_r + wd_usec / 2e6;
		}
		if (wd_usec > 0 && wait > wd_usec / 2e6)
			wait = wd_usec / 2e6;
		if (wait > 1)
			wait = 1;
		if (wait < 0.001)
			wait = 0.001;
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGHUP && !stopping) {
			log_info("SIGHUP: reloading %s", d.config_path);
			reload(&d);
		} else if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping) {
				log_info("%s: stopping (%d running, %ds to finish)",
				    sig == SIGTERM ? "SIGTERM" : "SIGINT", running, SNAPD_GRACE_S);
				notify_send("STOPPING=1");
				stopping = 1;
				d.stopping = 1;
				stop_deadline = now_r + SNAPD_GRACE_S;
			} else if (!d.cancel) {
				log_warn("second stop signal: cancelling running backups now");
				d.cancel = 1;
			}
		}
	}
out:
	metrics_stop(ms);
	free_daemon(&d);
	if (stopping)
		log_info("snapd stopped");
	return status;
}
