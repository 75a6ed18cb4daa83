/*
 * capture.c (snapd): the daemon's point-in-time recovery captures
 * (state.h): one thread per cluster with pitr = on, running
 * backup/capture.h's capture while this appliance holds the cluster's
 * lock.  The main thread starts and stops them (snapd_captures_sync, at
 * every turn of its loop) and joins them; a thread takes the lock itself
 * when nobody holds it, so a standby takes over when the holder dies,
 * and stops when the lock is lost, on reload (it starts again on the new
 * configuration) and at shutdown, closing and storing its open segment.
 *
 * A gap (etcd compacted what the chain needs) asks the scheduler for a
 * backup at once (pitr_backup_asap); the capture then waits for it and
 * starts a new chain from its revision.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/capture.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "config/config.h"
#include "env/env.h"
#include "ops/ops.h"
#include "snapd/lock.h"
#include "snapd/state.h"

/* Seconds between tries when no backup is there yet, after a failure
 * (doubling up to the second), and between asks for a backup while a gap
 * waits for one. */
#define CAPTURE_WAIT_S 2
#define CAPTURE_BACKOFF_MAX_S 60
#define CAPTURE_REASK_S 300

struct cap_arg {
	struct daemon *d;
	struct cstate *cs;
	struct cfg_ref *ref;
	unsigned long long ok0, failed0, gaps0;   /* totals before this run */
};

static void
nap(struct cstate *cs, double secs)
{
	double until = lb_mono_now() + secs;

	while (!cs->pitr_stop && lb_mono_now() < until)
		usleep(100 * 1000);
}

/* capture_opts.stats: the run's numbers into the cluster's (d->mu). */
static void
on_stats(void *arg, const struct capture_stats *s)
{
	struct cap_arg *a = arg;
	struct daemon *d = a->d;
	struct cstate *cs = a->cs;

	pthread_mutex_lock(&d->mu);
	cs->pitr_last_rev = s->last_rev;
	cs->pitr_lag_revs = s->lag_revisions;
	cs->pitr_lag_s = s->lag_seconds;
	cs->pitr_stats_at = lb_mono_now();
	cs->pitr_seg_ok = a->ok0 + s->segments_ok;
	cs->pitr_seg_failed = a->failed0 + s->segments_failed;
	cs->pitr_gaps = a->gaps0 + s->gaps;
	pthread_mutex_unlock(&d->mu);
}

static void
set_active(struct daemon *d, struct cstate *cs, int active)
{
	pthread_mutex_lock(&d->mu);
	if (active && !cs->pitr_active)
		cs->pitr_stats_at = lb_mono_now();
	cs->pitr_active = active;
	pthread_mutex_unlock(&d->mu);
}

/* 1 when this appliance may capture: it holds the lock (taking it when
 * free), or there is no lock (lock-prefix unset, or off for lack of write
 * access).  The lock is only replaced between captures (reload.c). */
static int
may_capture(struct daemon *d, struct cstate *cs, const struct cfg *c)
{
	struct lb_err err;
	int held = 0;

	if (cs->lock == NULL || lock_is_off(cs->lock) || lock_is_held(cs->lock))
		return 1;
	lb_err_clear(&err);
	if (lock_acquire(cs->lock, c, &held, &err) < 0) {
		log_debug("cluster=%s capture: lock: %s", cs->name, err.msg);
		return 0;
	}
	(void)d;
	return held;
}

static void *
capture_main(void *arg)
{
	struct cap_arg *a = arg;
	struct daemon *d = a->d;
	struct cstate *cs = a->cs;
	const struct cfg *c = a->ref->cfg;
	struct capture_opts o = { .cluster = cs->name, .stop = &cs->pitr_stop,
	    .gap_after = -1, .stats = on_stats, .stats_arg = a };
	struct capture_result res;
	struct lb_env e;
	struct lb_err err;
	double backoff = CAPTURE_WAIT_S, asked_at = 0;
	int open = 0, r, standby_said = 0, learned = 0;

	memset(&e, 0, sizeof(e));
	log_info("cluster=%s capture thread starts", cs->name);
	while (!cs->pitr_stop) {
		if (!may_capture(d, cs, c)) {
			set_active(d, cs, 0);
			if (!standby_said)
				log_info("cluster=%s capture: another lifeboat holds the lock; "
				    "standing by", cs->name);
			standby_said = 1;
			learned = 0;
			nap(cs, LOCK_TTL_S / 3.0);
			continue;
		}
		standby_said = 0;
		set_active(d, cs, 1);
		lb_err_clear(&err);
		if (!open && (r = env_open_cfg(c, ENV_REPO | ENV_CAT, &e, &err)) < 0) {
			log_error("cluster=%s capture: %s", cs->name, err.msg);
			goto backoff;
		}
		open = 1;
		o.env = &e;
		/* Holding the lock now (at start, or taking it over): the
		 * backups and segments another appliance stored in the bucket
		 * are not in this catalog.  Without its backups the capture
		 * would ask for a backup of its own and start a new chain
		 * there, leaving the revisions between the other's last
		 * segment and that backup in no segment, and no gap recorded. */
		if (!learned) {
			struct ops_rebuild_result rb;

			memset(&rb, 0, sizeof(rb));
			if (ops_rebuild(&e, 1, &rb, &err) < 0) {
				log_error("cluster=%s capture: reading the bucket's manifests: %s",
				    cs->name, err.msg);
				goto backoff;
			}
			learned = 1;
			if (rb.recorded > 0 || rb.segments_added > 0)
				log_info("cluster=%s capture: %zu backups, %zu segments recorded "
				    "from the bucket", cs->name, rb.recorded, rb.segments_added);
			lb_err_clear(&err);
		}
		pthread_mutex_lock(&d->mu);
		a->ok0 = cs->pitr_seg_ok;
		a->failed0 = cs->pitr_seg_failed;
		a->gaps0 = cs->pitr_gaps;
		pthread_mutex_unlock(&d->mu);
		if ((r = capture_run(&o, &res, &err)) < 0) {
			log_error("cluster=%s capture: %s", cs->name, err.msg);
			env_close(&e);
			open = 0;
			goto backoff;
		}
		backoff = CAPTURE_WAIT_S;
		if (res.end == CAPTURE_GAP) {
			o.gap_after = res.gap_after;
			o.gap_reason = res.gap_reason;
			o.min_backup_rev = res.need_rev;
			asked_at = 0;
		}
		if (res.end == CAPTURE_NO_BACKUP) {
			int busy;

			/* no chain without a backup to start from: after a gap,
			 * or when pitr is turned on before the first backup, one
			 * is asked for now, and again while none comes (one may
			 * fail: etcd down).  Not while a run of the cluster is
			 * going (at start, the catch-up): that run is the backup,
			 * and asking would take a second one right after it. */
			pthread_mutex_lock(&d->mu);
			busy = cs->running;
			pthread_mutex_unlock(&d->mu);
			if (!busy && (asked_at == 0 ||
			    lb_mono_now() - asked_at >= CAPTURE_REASK_S / d->scale)) {
				log_info("cluster=%s capture: asking for a backup now (a chain "
				    "starts from it)", cs->name);
				pthread_mutex_lock(&d->mu);
				cs->pitr_backup_asap = 1;
				pthread_mutex_unlock(&d->mu);
				pthread_kill(d->main_thread, SIGUSR1);
				asked_at = lb_mono_now();
			}
			nap(cs, CAPTURE_WAIT_S);
			continue;
		}
		if (res.end == CAPTURE_STOPPED)
			break;
		if (res.end != CAPTURE_GAP)
			continue;
		/* gap: ask at once, at the top of the loop */
		pthread_mutex_lock(&d->mu);
		cs->pitr_backup_asap = 1;
		pthread_mutex_unlock(&d->mu);
		pthread_kill(d->main_thread, SIGUSR1);
		asked_at = lb_mono_now();
		continue;
backoff:
		nap(cs, backoff);
		backoff = backoff * 2 > CAPTURE_BACKOFF_MAX_S ? CAPTURE_BACKOFF_MAX_S : backoff * 2;
	}
	if (open)
		env_close(&e);
	set_active(d, cs, 0);
	log_info("cluster=%s capture thread stops", cs->name);
	pthread_mutex_lock(&d->mu);
	cs->pitr_done = 1;
	pthread_mutex_unlock(&d->mu);
	pthread_kill(d->main_thread, SIGUSR1);  /* wake the main loop to join */
	free(a);
	return NULL;
}

static int
start_capture(struct daemon *d, struct cstate *cs)
{
	struct cap_arg *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	a->d = d;
	a->cs = cs;
	pthread_mutex_lock(&d->mu);
	a->ref = d->cur;
	a->ref->refs++;
	cs->pitr_done = 0;
	pthread_mutex_unlock(&d->mu);
	cs->pitr_ref = a->ref;
	cs->pitr_stop = 0;
	cs->pitr_running = 1;
	if (pthread_create(&cs->pitr_thread, NULL, capture_main, a) != 0) {
		log_error("cluster=%s cannot start a thread for the capture", cs->name);
		cs->pitr_running = 0;
		cs->pitr_ref = NULL;
		snapd_ref_put(d, a->ref);
		free(a);
		return -1;
	}
	return 0;
}

int
snapd_captures_sync(struct daemon *d)
{
	const struct cfg *c = d->cur->cfg;
	size_t i;
	int running = 0, done, want, lost;

	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];

		pthread_mutex_lock(&d->mu);
		done = cs->pitr_running && cs->pitr_done;
		want = !d->stopping && cs->present && cs->enabled &&
		    cfg_get_int(c, cs->name, CFG_PITR) != 0;
		cs->pitr_on = cs->present && cs->enabled && cfg_get_int(c, cs->name, CFG_PITR) != 0;
		/* pitr turned off: no drill proves a window any more, so a
		 * failed proof would keep /healthz at 503 until a restart */
		if (!cs->pitr_on)
			cs->pitr_proof_last = 0;
		/* the renewals found the lock gone while capturing */
		lost = cs->pitr_active && cs->lock != NULL && !lock_is_off(cs->lock) &&
		    !lock_is_held(cs->lock);
		pthread_mutex_unlock(&d->mu);
		if (done) {
			pthread_join(cs->pitr_thread, NULL);
			cs->pitr_running = 0;
			snapd_ref_put(d, cs->pitr_ref);
			cs->pitr_ref = NULL;
		}
		if (cs->pitr_running && !cs->pitr_stop &&
		    (!want || cs->pitr_ref != d->cur || lost)) {
			if (lost)
				log_warn("cluster=%s capture: the lock is lost; stopping", cs->name);
			cs->pitr_stop = 1;
		}
		/* a lock that reload.c is to move (a new lock-prefix) moves
		 * first: it is only replaced while no capture uses it */
		if (!cs->pitr_running && want && strcmp(cs->lock_prefix, cs->lock_want) == 0)
			start_capture(d, cs);
		running += cs->pitr_running;
	}
	return running;
}
