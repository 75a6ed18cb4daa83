/*
 * daemon.c: the snapshot daemon (daemon.h).  The main thread owns the
 * schedule: it waits for signals with sigtimedwait until the next slot,
 * starts one thread per run, and joins them.  Run threads share only
 * their cluster's counters, under d->mu, with the metrics thread.  Each
 * run holds a reference to the configuration it started with, so a reload
 * never frees a configuration a run is still reading.
 */
#include "snapd/daemon.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "config/config.h"
#include "ops/ops.h"
#include "scheduler/cron.h"
#include "snapd/lock.h"
#include "snapd/metrics.h"
#include "snapd/notify.h"
#include "snapd/state.h"

const char *const snapd_out_names[OUT_N] = { "complete", "partial", "failed" };

struct run_arg {
	struct daemon *d;
	struct cstate *cs;
	struct cfg_ref *ref;
	time_t slot;
};

/* --- runs --------------------------------------------------------------- */

/* verify-schedule: the newest backup is verified at the first run of the
 * cluster after each of its slots, so a verification never races the
 * cluster's own backup and never runs while the cluster is down. */
int
snapd_apply_verify_schedule(struct daemon *d, struct cstate *cs,
    const struct cfg *c, time_t now, struct lb_err *err)
{
	const char *expr = cfg_is_set(c, cs->name, CFG_VERIFY_SCHEDULE) ?
	    cfg_get_str(c, cs->name, CFG_VERIFY_SCHEDULE) : NULL;
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

void
snapd_verify_if_due(struct daemon *d, struct cstate *cs, const struct cfg *c)
{
	struct lb_env e;
	struct lb_err err;
	time_t now = snapd_dnow(d);
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
			struct lb_env ce = { .cat = cat };   /* the catalog only */
			ops_audit(&ce, CAT_ACT_BACKUP, cluster, NULL, "future-stamped",
			    "{s:i, s:i}", "backups", (int)n, "skew_s", CAT_FUTURE_SKEW_S);
			cat_close(cat);
		}
	}
	return n;
}

void
snapd_note_revision(void *arg, const char *cluster, int64_t revision, time_t at)
{
	struct daemon *d = arg;
	struct cat *cat = NULL;
	struct lb_err err;

	/* Called from the lock's renewing thread: a catalog busy for long
	 * must not delay the next renewal past the lease's TTL, so wait one
	 * second at most and drop the sample (the next one comes soon). */
	lb_err_clear(&err);
	if (cat_open(d->catalog, 0, &cat, &err) == 0) {
		cat_set_busy_timeout(cat, 1000);
		if (cat_revision_note(cat, cluster, (int64_t)at, revision, &err) == 0)
			log_debug("cluster=%s revision=%lld seen", cluster, (long long)revision);
	}
	if (err.code != 0)
		log_warn("cluster=%s revision sample not recorded: %s", cluster, err.msg);
	cat_close(cat);
}

/* Retention applies after each backup of a cluster that sets one. */
static void
prune_after_backup(const struct cfg *c, const char *cluster)
{
	struct lb_env e;
	struct lb_err err;

	if (!cfg_is_set(c, cluster, CFG_RETENTION))
		return;
	lb_err_clear(&err);
	/* The run's configuration, as for snapd_verify_if_due. */
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
	if ((r = backup_env_open(c, NULL, NULL, &d->cancel, &env, &res.err)) == 0) {
		r = backup_cluster(env, cs->name, &res);
		if (r == 0) {
			prune_after_backup(c, cs->name);
			snapd_verify_if_due(d, cs, c);
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
		    cs->name, (long long)a->slot, res.backup_id, snapd_out_names[outcome],
		    res.members_ok, res.members_total, res.err.msg);
	/* after the outcome is logged: a catalog read does not delay it */
	pthread_mutex_lock(&d->mu);
	future = cs->future;
	pthread_mutex_unlock(&d->mu);
	future = count_future(cfg_get_str(c, NULL, CFG_CATALOG), cs->name, future);
	pthread_mutex_lock(&d->mu);
	cs->last_attempt = snapd_dnow(d);
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
	snapd_ref_put(d, a->ref);
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
	cs->pitr_backup_asap = 0;   /* this run is the backup a gap asked for */
	pthread_mutex_unlock(&d->mu);
	if (pthread_create(&cs->thread, NULL, run_main, a) != 0) {
		log_error("cluster=%s cannot start a thread for the run", cs->name);
		pthread_mutex_lock(&d->mu);
		cs->running = 0;
		pthread_mutex_unlock(&d->mu);
		snapd_ref_put(d, a->ref);
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
time_t
snapd_draw_jitter(const struct cfg *c, const char *cluster)
{
	long long j = cfg_get_int(c, cluster, CFG_JITTER);

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
	cs->start_at = next + snapd_draw_jitter(d->cur->cfg, cs->name);
	pthread_mutex_unlock(&d->mu);
}

/* Starts what is due, up to max-concurrent-clusters at once and the
 * longest waiting first; returns the daemon-clock time of the next slot
 * (clusters waiting for a free place are started when a run ends: the
 * join wakes the main loop). */
static time_t
schedule(struct daemon *d, int *running)
{
	time_t now = snapd_dnow(d), soonest = now + 3600;
	long max = (long)cfg_get_int(d->cur->cfg, NULL, CFG_MAX_CONCURRENT_CLUSTERS);
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
			int asap;

			/* a capture that lost its chain (capture.c) wants one now */
			pthread_mutex_lock(&d->mu);
			asap = cs->pitr_backup_asap;
			pthread_mutex_unlock(&d->mu);
			/* a drill of the cluster running: the backup waits for it */
			if (SCHEDULED(cs) && !cs->running && !cs->drilling &&
			    (now >= cs->start_at || asap) &&
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
	return snapd_drills_start(d, now, soonest);
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
	time_t now = snapd_dnow(d);
	struct lb_err err;
	size_t i;

	log_warn("the wall clock jumped %s by %.0fs; schedules follow it",
	    jump > 0 ? "forwards" : "backwards", fabs(jump));
	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];

		pthread_mutex_lock(&d->mu);
		cs->health_base += (time_t)jump;
		if (jump < 0 && cs->vsched != NULL)
			advance_verify(d, cs, now);
		if (jump < 0 && cs->dsched != NULL &&
		    sched_next(cs->dsched, now, d->tz, &cs->drill_due, &err) < 0)
			cs->drill_due = now + 86400;
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
	const char *path = cfg_get_str(d->cur->cfg, NULL, CFG_CATALOG);
	struct cat *cat = NULL;
	struct lb_err err;
	time_t now = snapd_dnow(d), next;
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
		sched_free(d->cs[i]->dsched);
		free(d->cs[i]);
	}
	free(d->cs);
	snapd_ref_put(d, d->cur);
	pthread_mutex_destroy(&d->mu);
}

int
snapd_run(const char *config_path)
{
	struct daemon d;
	struct metrics_server *ms = NULL;
	struct cfg *c = NULL;
	struct lb_err err;
	sigset_t set;
	const char *listen;
	char host[200] = "";
	unsigned long long wd_usec;
	double wd_next = 0, stop_deadline = 0, last_real, last_mono;
	int status = 0, stopping = 0, running = 0, drilling = 0, capturing = 0;

	memset(&d, 0, sizeof(d));
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
	d.config_path = config_path;
	snapd_clock_setup(&d);
	d.started = snapd_dnow(&d);
	gethostname(host, sizeof(host) - 1);
	snprintf(d.owner, sizeof(d.owner), "%s pid %ld", host, (long)getpid());
	lb_err_clear(&err);
	if (cfg_load(config_path, &c, &err) < 0 || snapd_check_schedules(c, &err) < 0) {
		log_error("%s", err.msg);
		cfg_free(c);
		pthread_mutex_destroy(&d.mu);
		return lb_err_exit_status(err.code) == 1 ? 2 : lb_err_exit_status(err.code);
	}
	snapd_set_log_level(c);
	if ((d.cur = calloc(1, sizeof(*d.cur))) == NULL) {
		cfg_free(c);
		pthread_mutex_destroy(&d.mu);
		return 1;
	}
	d.cur->cfg = c;
	d.cur->refs = 1;
	snprintf(d.catalog, sizeof(d.catalog), "%s", cfg_get_str(c, NULL, CFG_CATALOG));
	if (snapd_apply_config(&d, c, d.started, &err) < 0) {
		log_error("%s", err.msg);
		status = 2;
		goto out;
	}
	if (snapd_sync_locks(&d) < 0) {
		status = 2;
		goto out;
	}
	listen = cfg_get_str(c, NULL, CFG_METRICS_LISTEN);
	if (listen != NULL && strcmp(listen, "off") != 0) {
		if (metrics_start(listen, snapd_render, &d, &ms, &err) < 0) {
			log_error("%s", err.msg);
			status = 1;
			goto out;
		}
		log_info("status page on http://%s/ (JSON: /api/status), metrics and health "
		    "on /metrics and /healthz", listen);
	}
	snapd_drills_sweep(c);
	catch_up(&d);
	log_info("snapd started: %zu clusters, config %s, timezone %s", d.n_cs,
	    config_path, d.tz);
	notify_send("READY=1\nSTATUS=running");
	if ((wd_usec = notify_watchdog_usec()) > 0)
		log_info("systemd watchdog every %.1fs", wd_usec / 1e6);
	last_real = snapd_real_now();
	last_mono = lb_mono_now();

	for (;;) {
		struct timespec ts;
		siginfo_t si;
		double wait, now_r, now_m, drift;
		time_t next;
		int sig;

		running = reap(&d);
		drilling = snapd_drills_reap(&d);
		capturing = snapd_captures_sync(&d);
		snapd_sync_locks(&d);
		now_r = snapd_real_now();
		now_m = lb_mono_now();
		drift = (now_r - last_real) - (now_m - last_mono);
		if (fabs(drift) > SNAPD_CLOCK_JUMP_S)
			clock_jumped(&d, drift * d.scale);
		last_real = now_r;
		last_mono = now_m;
		if (stopping) {
			if (running == 0 && drilling == 0 && capturing == 0)
				break;
			if (!d.cancel && now_r >= stop_deadline) {
				log_warn("stop: cancelling %d running backups and %d drills after "
				    "%ds", running, drilling, SNAPD_GRACE_S);
				d.cancel = 1;
			}
			wait = 0.5;
		} else {
			next = schedule(&d, &running);
			wait = ((double)next - snapd_dnow_f(&d)) / d.scale;
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
			snapd_reload(&d);
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
