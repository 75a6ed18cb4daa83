/*
 * drill.c: the daemon's restore drills (state.h).  Each cluster with a
 * drill-schedule gets a drill at its slots: one backup (drill-pick: the
 * newest complete one, or one at random) restored into a scratch etcd on
 * this machine, checked and timed, then wiped (restore/drill.h does it
 * and records it).  The main thread starts them from schedule() and
 * joins them from reap(), like backup runs; a drill runs in a thread of
 * its own, on the configuration it started with.
 *
 * Drills never meet the cluster's own backup (the two exclude each other,
 * the backup first), and an appliance runs one drill at a time: a drill
 * holds a scratch etcd, twice the database on disk, and a core, and a
 * backup that has to wait is worse than a drill that does.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "common/err.h"
#include "common/log.h"
#include "config/config.h"
#include "env/env.h"
#include "ops/ops.h"
#include "restore/drill.h"
#include "scheduler/cron.h"
#include "snapd/state.h"

/* How soon (daemon clock) a drill that found another one running on
 * this appliance is tried again. */
#define SNAPD_DRILL_RETRY_S 300

struct drill_arg {
	struct daemon *d;
	struct cstate *cs;
	struct cfg_ref *ref;
};

int
snapd_apply_drill_schedule(struct daemon *d, struct cstate *cs,
    const struct cfg *c, time_t now, struct lb_err *err)
{
	const char *expr = cfg_get_str(c, cs->name, CFG_DRILL_SCHEDULE);
	struct sched *s = NULL;
	int r;

	if (expr == NULL || strcmp(expr, "off") == 0 || !cfg_is_set(c, NULL, CFG_IDENTITY_FILE)) {
		sched_free(cs->dsched);
		cs->dsched = NULL;
		return 0;
	}
	if (cs->drill_base == 0)
		cs->drill_base = now;
	if (cs->dsched != NULL && strcmp(sched_text(cs->dsched), expr) == 0)
		return 0;
	if ((r = sched_parse(expr, &s, err)) < 0 ||
	    (r = sched_next(s, now, d->tz, &cs->drill_due, err)) < 0) {
		sched_free(s);
		return lb_err_prefix(err, "cluster %s: drill-schedule: ", cs->name);
	}
	sched_free(cs->dsched);
	cs->dsched = s;
	return 0;
}

/* Before drilling a cluster it does not back up (enabled = no: a second
 * appliance that holds the identity the backing-up one does not), the
 * daemon learns the bucket's newest backups: a catalog rebuild, which
 * adds what is new (signatures checked as configured) and drops nothing
 * without proof. */
static void
learn_from_bucket(const struct cfg *c, const char *cluster)
{
	struct ops_rebuild_result res;
	struct lb_env e;
	struct lb_err err;

	lb_err_clear(&err);
	memset(&res, 0, sizeof(res));
	if (env_open_cfg(c, ENV_REPO | ENV_CAT, &e, &err) < 0 ||
	    ops_rebuild(&e, OPS_REBUILD_THREADS, &res, &err) < 0)
		log_warn("cluster=%s drill: the catalog could not learn the bucket's "
		    "backups: %s", cluster, err.msg);
	else
		log_info("cluster=%s drill: catalog rebuilt from the bucket: %zu manifests, "
		    "%zu recorded", cluster, res.manifests, res.recorded);
	env_close(&e);
}

static void *
drill_main(void *arg)
{
	struct drill_arg *a = arg;
	struct daemon *d = a->d;
	struct cstate *cs = a->cs;
	const struct cfg *c = a->ref->cfg;
	struct drill_opts o = { .cfg = c, .cluster = cs->name, .cancel = &d->cancel };
	struct drill_report rep;
	struct lb_err err;
	int ok, enabled;

	memset(&rep, 0, sizeof(rep));
	lb_err_clear(&err);
	pthread_mutex_lock(&d->mu);
	enabled = cs->enabled;
	pthread_mutex_unlock(&d->mu);
	if (!enabled)
		learn_from_bucket(c, cs->name);
	o.backup = strcmp(cfg_get_str(c, cs->name, CFG_DRILL_PICK), "random") == 0 ?
	    "random" : "latest";
	log_info("cluster=%s drill starts (%s backup)", cs->name, o.backup);
	ok = drill_run(&o, &rep, &err) == 0;
	if (!ok && err.code == LB_E_BUSY) {
		/* a drill by hand holds drill-dir: not a failure; try again soon */
		log_warn("cluster=%s drill postponed: %s", cs->name, err.msg);
		pthread_mutex_lock(&d->mu);
		cs->drill_due = snapd_dnow(d) + SNAPD_DRILL_RETRY_S;
		cs->drill_done = 1;
		pthread_mutex_unlock(&d->mu);
		goto out;
	}
	if (ok)
		log_info("cluster=%s drill=ok backup=%s rto=%.2fs revision=%lld keys=%lld "
		    "objects=%lld etcd=%s pitr_proof=%s", cs->name, rep.backup_id, rep.rto_s,
		    (long long)rep.revision, (long long)rep.keys,
		    (long long)rep.objects_total, rep.etcd_version,
		    rep.proof != DRILL_PROOF_NONE ? drill_proof_name(rep.proof) : "-");
	else
		log_error("cluster=%s drill=failed backup=%s: %s", cs->name,
		    rep.backup_id != NULL ? rep.backup_id : "-", err.msg);
	if (!enabled)
		snapd_verify_if_due(d, cs, c);
	pthread_mutex_lock(&d->mu);
	if (ok) {
		cs->drill_ok++;
		cs->drill_last_success = cs->drill_base = snapd_dnow(d);
	} else {
		cs->drill_failed++;
	}
	if (rep.rto_s > 0)
		cs->drill_last_rto = rep.rto_s;
	if (rep.proof == DRILL_PROOF_OK) {
		cs->pitr_proof_last = 1;
		cs->pitr_proof_ok++;
	} else if (rep.proof == DRILL_PROOF_FAILED) {
		cs->pitr_proof_last = 2;
		cs->pitr_proof_failed++;
	}
	cs->drill_done = 1;
	pthread_mutex_unlock(&d->mu);
out:
	drill_report_free(&rep);
	snapd_ref_put(d, a->ref);
	pthread_kill(d->main_thread, SIGUSR1);  /* wake the main loop to join */
	free(a);
	return NULL;
}

static int
start_drill(struct daemon *d, struct cstate *cs)
{
	struct drill_arg *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	a->d = d;
	a->cs = cs;
	pthread_mutex_lock(&d->mu);
	a->ref = d->cur;
	a->ref->refs++;
	cs->drilling = 1;
	cs->drill_done = 0;
	d->drills_running++;
	pthread_mutex_unlock(&d->mu);
	if (pthread_create(&cs->drill_thread, NULL, drill_main, a) != 0) {
		log_error("cluster=%s cannot start a thread for the drill", cs->name);
		pthread_mutex_lock(&d->mu);
		cs->drilling = 0;
		d->drills_running--;
		pthread_mutex_unlock(&d->mu);
		snapd_ref_put(d, a->ref);
		free(a);
		return -1;
	}
	return 0;
}

time_t
snapd_drills_start(struct daemon *d, time_t now, time_t soonest)
{
	struct lb_err err;
	size_t i;

	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];
		int backup_due, start = 0;
		time_t next;

		pthread_mutex_lock(&d->mu);
		if (cs->present && cs->dsched != NULL && now < cs->drill_due) {
			if (cs->drill_due < soonest)
				soonest = cs->drill_due;
		} else if (cs->present && cs->dsched != NULL) {
			/* due: when something blocks it, tried again as that ends */
			backup_due = cs->enabled && cs->sched != NULL && now >= cs->start_at;
			start = !d->stopping && d->drills_running == 0 && !cs->drilling &&
			    !cs->running && !backup_due;
			/* the next slot before the thread starts: a drill that
			 * finds drill-dir busy moves it again (drill_main) */
			if (start && sched_next(cs->dsched, now, d->tz, &next, &err) == 0)
				cs->drill_due = next;
			else if (start)
				cs->drill_due = now + 86400;
		}
		pthread_mutex_unlock(&d->mu);
		if (start)
			start_drill(d, cs);
	}
	return soonest;
}

int
snapd_drills_reap(struct daemon *d)
{
	size_t i;
	int running = 0, join;

	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];

		pthread_mutex_lock(&d->mu);
		join = cs->drilling && cs->drill_done;
		pthread_mutex_unlock(&d->mu);
		if (join) {
			pthread_join(cs->drill_thread, NULL);
			pthread_mutex_lock(&d->mu);
			cs->drilling = 0;
			d->drills_running--;
			pthread_mutex_unlock(&d->mu);
		}
		running += cs->drilling;
	}
	return running;
}

void
snapd_drills_sweep(const struct cfg *c)
{
	struct lb_err err;
	int n;

	lb_err_clear(&err);
	if ((n = drill_sweep(cfg_get_str(c, NULL, CFG_DRILL_DIR), &err)) < 0)
		log_warn("drill sweep: %s", err.msg);
	else if (n > 0)
		log_info("drill sweep: removed %d director%s killed drills left", n,
		    n == 1 ? "y" : "ies");
}

int
snapd_drill_overdue(const struct daemon *d, const struct cstate *cs,
    const struct cfg *c, time_t now, time_t *since)
{
	long long max;

	(void)d;
	if (cs->dsched == NULL || !cfg_is_set(c, cs->name, CFG_DRILL_MAX_AGE))
		return 0;
	max = cfg_get_int(c, cs->name, CFG_DRILL_MAX_AGE);
	*since = cs->drill_base;
	return now > cs->drill_base + (time_t)max;
}
