/*
 * reload.c: the daemon's configuration (state.h): checked and applied at
 * start, and again on SIGHUP, when a new one that does not load or that
 * changes an option needing a restart is refused and the old one stays.
 * Each run holds a reference to the configuration it started with.
 */
#include "snapd/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "snapd/notify.h"

void
snapd_ref_put(struct daemon *d, struct cfg_ref *r)
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
int
snapd_check_schedules(const struct cfg *c, struct lb_err *err)
{
	const char *tz = cfg_get_str(c, NULL, CFG_TIMEZONE), *v;
	struct sched *s;
	size_t i;
	int r;

	if (!sched_tz_valid(tz))
		return lb_err_set(err, LB_E_CONFIG, "timezone: %s is not in the tz database",
		    tz);
	for (i = 0; i < cfg_cluster_count(c); i++) {
		const char *name = cfg_cluster_name(c, i);
		static const enum cfg_opt keys[] = { CFG_SCHEDULE, CFG_VERIFY_SCHEDULE,
		    CFG_DRILL_SCHEDULE };
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if ((v = cfg_get_str(c, name, keys[k])) == NULL || strcmp(v, "off") == 0)
				continue;
			if ((r = sched_parse(v, &s, err)) < 0)
				return lb_err_prefix(err, "cluster %s: %s: ", name,
				    cfg_opt_name(keys[k]));
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
int
snapd_apply_config(struct daemon *d, const struct cfg *c, time_t now,
    struct lb_err *err)
{
	struct cstate *cs;
	size_t i;
	int r;

	for (i = 0; i < d->n_cs; i++) {
		d->cs[i]->present = 0;
		d->cs[i]->lock_want[0] = '\0';
	}
	if (strcmp(d->tz, cfg_get_str(c, NULL, CFG_TIMEZONE)) != 0) {
		/* Another zone moves every cron slot. */
		snprintf(d->tz, sizeof(d->tz), "%s", cfg_get_str(c, NULL, CFG_TIMEZONE));
		for (i = 0; i < d->n_cs; i++) {
			sched_free(d->cs[i]->sched);
			d->cs[i]->sched = NULL;
			sched_free(d->cs[i]->vsched);
			d->cs[i]->vsched = NULL;
			sched_free(d->cs[i]->dsched);
			d->cs[i]->dsched = NULL;
		}
	}
	for (i = 0; i < cfg_cluster_count(c); i++) {
		const char *name = cfg_cluster_name(c, i);
		const char *expr = cfg_get_str(c, name, CFG_SCHEDULE);
		const char *prefix = cfg_get_str(c, name, CFG_LOCK_PREFIX);
		struct sched *s = NULL;

		if (expr == NULL)
			expr = SCHED_DEFAULT;
		if ((cs = find_cs(d, name)) == NULL) {
			if (d->n_cs >= SNAPD_CLUSTERS_MAX)
				return lb_err_set(err, LB_E_CONFIG, "cluster %s: more than %d "
				    "clusters seen since the daemon started (restart it)", name,
				    SNAPD_CLUSTERS_MAX);
			if (lb_vec_grow(&d->cs, &d->cap_cs, d->n_cs, sizeof(*d->cs),
			    SNAPD_CLUSTERS_MAX) < 0 || (cs = calloc(1, sizeof(*cs))) == NULL)
				return lb_err_set(err, LB_E_NOMEM, "out of memory");
			d->cs[d->n_cs++] = cs;
			snprintf(cs->name, sizeof(cs->name), "%s", name);
			cs->last_outcome = -1;
			cs->health_base = now;
		}
		cs->present = 1;
		cs->enabled = cfg_get_int(c, name, CFG_ENABLED) != 0;
		if ((r = snapd_apply_verify_schedule(d, cs, c, now, err)) < 0 ||
		    (r = snapd_apply_drill_schedule(d, cs, c, now, err)) < 0)
			return r;
		if (cs->sched == NULL || strcmp(sched_text(cs->sched), expr) != 0) {
			if ((r = sched_parse(expr, &s, err)) < 0)
				return r;
			sched_free(cs->sched);
			cs->sched = s;
			if ((r = sched_next(cs->sched, now, d->tz, &cs->next_due, err)) < 0)
				return lb_err_prefix(err, "cluster %s: ", name);
			cs->start_at = cs->next_due + snapd_draw_jitter(c, name);
		}
		/* A disabled cluster holds no lock: a standby runs it. */
		snprintf(cs->lock_want, sizeof(cs->lock_want), "%s",
		    prefix != NULL && cs->enabled ? prefix : "");
	}
	return 0;
}

/* lock_reopen_fn: a client to any member of cluster, from the daemon's
 * current configuration (a reference held meanwhile, as a run does). */
static int
reopen_lock(void *arg, const char *cluster, struct etcd_client **out, struct lb_err *err)
{
	struct daemon *d = arg;
	struct cfg_ref *ref;
	int r;

	pthread_mutex_lock(&d->mu);
	ref = d->cur;
	ref->refs++;
	pthread_mutex_unlock(&d->mu);
	r = cfg_has_cluster(ref->cfg, cluster) ?
	    lock_open_any(ref->cfg, cluster, &d->cancel, out, err) :
	    lb_err_set(err, LB_E_CONFIG, "cluster %s is no longer configured", cluster);
	snapd_ref_put(d, ref);
	return r;
}

/* Makes each cluster's lock follow lock_want (apply_config): a cluster
 * removed or disabled by a reload releases its lock, else its renewing
 * thread would keep every standby out for ever; a new lock-prefix moves
 * it.  Only between runs, since a run uses its lock: the main thread
 * calls it at each turn of its loop, after joining runs (so also after a
 * reload), without d->mu (a release talks to etcd), and swaps cs->lock
 * under d->mu for /metrics.
 * A lock that cannot be made is logged; returns -1 if one could not. */
int
snapd_sync_locks(struct daemon *d)
{
	struct snapd_lock *old, *nl;
	struct lb_err err;
	size_t i;
	int r = 0;

	for (i = 0; i < d->n_cs; i++) {
		struct cstate *cs = d->cs[i];

		/* a capture uses the lock as long as it runs (capture.c) */
		if (cs->running || cs->pitr_running ||
		    strcmp(cs->lock_prefix, cs->lock_want) == 0)
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
		} else {
			snprintf(cs->lock_prefix, sizeof(cs->lock_prefix), "%s", cs->lock_want);
			if (nl != NULL) {
				lock_note_revisions(nl, SNAPD_REV_NOTE_S / d->scale,
				    snapd_note_revision, d);
				lock_set_reopen(nl, reopen_lock, d);
			}
		}
		pthread_mutex_lock(&d->mu);
		cs->lock = nl;
		pthread_mutex_unlock(&d->mu);
	}
	return r;
}

void
snapd_set_log_level(const struct cfg *c)
{
	int level = log_level_parse(cfg_get_str(c, NULL, CFG_LOG_LEVEL));

	if (level >= 0)
		log_setup((enum log_level)level, LOG_STYLE_KV);
}

void
snapd_reload(struct daemon *d)
{
	struct cfg *c = NULL;
	struct cfg_ref *ref = NULL, *old;
	struct lb_err err;
	int r;

	notify_send("RELOADING=1");
	lb_err_clear(&err);
	if ((r = cfg_load(d->config_path, &c, &err)) < 0 ||
	    (r = cfg_reload_check(d->cur->cfg, c, &err)) < 0 ||
	    (r = snapd_check_schedules(c, &err)) < 0)
		goto refused;
	if ((ref = calloc(1, sizeof(*ref))) == NULL) {
		r = lb_err_set(&err, LB_E_NOMEM, "out of memory");
		goto refused;
	}
	ref->cfg = c;
	ref->refs = 1;
	c = NULL;
	pthread_mutex_lock(&d->mu);
	r = snapd_apply_config(d, ref->cfg, snapd_dnow(d), &err);
	old = d->cur;
	d->cur = ref;
	d->reloads_ok++;
	pthread_mutex_unlock(&d->mu);
	snapd_ref_put(d, old);
	snapd_set_log_level(ref->cfg);
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
