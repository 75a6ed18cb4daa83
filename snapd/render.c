/*
 * render.c: the bodies of /metrics (Prometheus text) and /healthz from the
 * daemon's counters (state.h), and the view of them the status page
 * (status.h: / and /api/status) is built from; metrics.c serves them.
 */
#include "snapd/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fmt.h"
#include "snapd/status.h"

/* The largest page served: a few hundred bytes per cluster, so thousands
 * of clusters fit; a page past it is a bug, answered with an error. */
#define PAGE_MAX (16u << 20)

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

/* The capture's lag (d->mu held): what it last said, plus the time since
 * when it has said nothing for longer than its ticks explain (stuck on a
 * member that does not answer, waiting for a backup). */
static double
pitr_lag(const struct cstate *cs, double mono)
{
	double stale = mono - cs->pitr_stats_at;

	return cs->pitr_lag_s + (stale > 5 ? stale : 0);
}

#define FAMILY(b, name, type, help) \
	lb_buf_addf(b, "# HELP " name " " help "\n# TYPE " name " " type "\n")

static void
render_metrics(struct daemon *d, struct lb_buf *b)
{
	time_t now = snapd_dnow(d);
	double mono = lb_mono_now();
	size_t i;
	int o;

	FAMILY(b, "lifeboat_build_info", "gauge", "version of the running daemon");
	lb_buf_addf(b, "lifeboat_build_info{version=\"%s\"} 1\n", LB_VERSION);
	FAMILY(b, "lifeboat_process_start_time_seconds", "gauge", "start of the daemon");
	lb_buf_addf(b, "lifeboat_process_start_time_seconds %lld\n", (long long)d->started);
	FAMILY(b, "lifeboat_process_resident_memory_bytes", "gauge", "resident set size");
	lb_buf_addf(b, "lifeboat_process_resident_memory_bytes %lld\n", rss_bytes());
	FAMILY(b, "lifeboat_config_reloads_total", "counter", "SIGHUP reloads by result");
	lb_buf_addf(b, "lifeboat_config_reloads_total{result=\"ok\"} %llu\n"
	    "lifeboat_config_reloads_total{result=\"refused\"} %llu\n",
	    d->reloads_ok, d->reloads_refused);

#define EACH(stmt) for (i = 0; i < d->n_cs; i++) { \
	const struct cstate *cs = d->cs[i]; if (!cs->present) continue; stmt; }
	FAMILY(b, "lifeboat_backup_last_success_timestamp_seconds", "gauge",
	    "end of the last complete backup (0: none since start)");
	EACH(lb_buf_addf(b, "lifeboat_backup_last_success_timestamp_seconds{cluster=\"%s\"} %lld\n",
	    cs->name, (long long)cs->last_success));
	FAMILY(b, "lifeboat_backup_last_attempt_timestamp_seconds", "gauge",
	    "end of the last backup attempt");
	EACH(lb_buf_addf(b, "lifeboat_backup_last_attempt_timestamp_seconds{cluster=\"%s\"} %lld\n",
	    cs->name, (long long)cs->last_attempt));
	FAMILY(b, "lifeboat_backup_last_outcome", "gauge",
	    "1 for the outcome of the last attempt");
	EACH(for (o = 0; o < OUT_N; o++)
		lb_buf_addf(b, "lifeboat_backup_last_outcome{cluster=\"%s\",outcome=\"%s\"} %d\n",
		    cs->name, snapd_out_names[o], cs->last_outcome == o));
	FAMILY(b, "lifeboat_backup_last_duration_seconds", "gauge", "length of the last attempt");
	EACH(lb_buf_addf(b, "lifeboat_backup_last_duration_seconds{cluster=\"%s\"} %.3f\n",
	    cs->name, cs->last_duration));
	FAMILY(b, "lifeboat_backup_last_pulled_bytes", "gauge", "bytes pulled from etcd by the last attempt");
	EACH(lb_buf_addf(b, "lifeboat_backup_last_pulled_bytes{cluster=\"%s\"} %llu\n",
	    cs->name, (unsigned long long)cs->last_pulled));
	FAMILY(b, "lifeboat_backup_last_stored_bytes", "gauge", "bytes stored by the last attempt");
	EACH(lb_buf_addf(b, "lifeboat_backup_last_stored_bytes{cluster=\"%s\"} %llu\n",
	    cs->name, (unsigned long long)cs->last_stored));
	FAMILY(b, "lifeboat_backup_pulled_bytes_total", "counter", "bytes pulled from etcd");
	EACH(lb_buf_addf(b, "lifeboat_backup_pulled_bytes_total{cluster=\"%s\"} %llu\n",
	    cs->name, (unsigned long long)cs->pulled_total));
	FAMILY(b, "lifeboat_backup_stored_bytes_total", "counter", "bytes stored in the repository");
	EACH(lb_buf_addf(b, "lifeboat_backup_stored_bytes_total{cluster=\"%s\"} %llu\n",
	    cs->name, (unsigned long long)cs->stored_total));
	FAMILY(b, "lifeboat_backups_total", "counter", "backup attempts by outcome");
	EACH(for (o = 0; o < OUT_N; o++)
		lb_buf_addf(b, "lifeboat_backups_total{cluster=\"%s\",outcome=\"%s\"} %llu\n",
		    cs->name, snapd_out_names[o], cs->total[o]));
	FAMILY(b, "lifeboat_backup_runs_skipped_total", "counter",
	    "slots not run: overlap (previous run still going) or standby (another daemon holds the lock)");
	EACH(lb_buf_addf(b, "lifeboat_backup_runs_skipped_total{cluster=\"%s\",reason=\"overlap\"} %llu\n"
	    "lifeboat_backup_runs_skipped_total{cluster=\"%s\",reason=\"standby\"} %llu\n",
	    cs->name, cs->skip_overlap, cs->name, cs->skip_standby));
	FAMILY(b, "lifeboat_backup_member_divergence_total", "counter",
	    "backups whose members' HashKV disagreed");
	EACH(lb_buf_addf(b, "lifeboat_backup_member_divergence_total{cluster=\"%s\"} %llu\n",
	    cs->name, cs->divergent_total));
	FAMILY(b, "lifeboat_backup_member_divergence", "gauge",
	    "1 if the last backup found members diverging");
	EACH(lb_buf_addf(b, "lifeboat_backup_member_divergence{cluster=\"%s\"} %d\n",
	    cs->name, cs->last_divergent));
	FAMILY(b, "lifeboat_backup_running", "gauge", "1 while a backup runs");
	EACH(lb_buf_addf(b, "lifeboat_backup_running{cluster=\"%s\"} %d\n", cs->name,
	    cs->running && !cs->done));
	FAMILY(b, "lifeboat_backup_next_run_timestamp_seconds", "gauge",
	    "start of the next scheduled run (its slot plus jitter)");
	EACH(lb_buf_addf(b, "lifeboat_backup_next_run_timestamp_seconds{cluster=\"%s\"} %lld\n",
	    cs->name, cs->enabled ? (long long)cs->start_at : 0LL));
	FAMILY(b, "lifeboat_backup_overdue", "gauge",
	    "1 when two scheduled backups passed without a complete or partial one (/healthz fails)");
	EACH(lb_buf_addf(b, "lifeboat_backup_overdue{cluster=\"%s\"} %d\n", cs->name,
	    cs->enabled && now > overdue_at(d, cs)));
	FAMILY(b, "lifeboat_lock_held", "gauge",
	    "1 while this daemon holds the cluster's etcd lock (renewed between slots); -1 when the lock is off");
	EACH(lb_buf_addf(b, "lifeboat_lock_held{cluster=\"%s\"} %d\n", cs->name,
	    cs->lock == NULL || lock_is_off(cs->lock) ? -1 : lock_is_held(cs->lock)));
	FAMILY(b, "lifeboat_backups_future", "gauge",
	    "backups in the catalog stamped more than 5m after this host's clock: "
	    "never latest, not counted by retention (-1: unknown)");
	EACH(lb_buf_addf(b, "lifeboat_backups_future{cluster=\"%s\"} %lld\n", cs->name,
	    cs->future));
	FAMILY(b, "lifeboat_verify_total", "counter",
	    "scheduled verifications of the newest backup by result");
	EACH(lb_buf_addf(b, "lifeboat_verify_total{cluster=\"%s\",result=\"ok\"} %llu\n"
	    "lifeboat_verify_total{cluster=\"%s\",result=\"failed\"} %llu\n", cs->name,
	    cs->verify_ok, cs->name, cs->verify_failed));
	FAMILY(b, "lifeboat_drill_last_success_timestamp_seconds", "gauge",
	    "end of the last good restore drill (0: none since start)");
	EACH(lb_buf_addf(b, "lifeboat_drill_last_success_timestamp_seconds{cluster=\"%s\"} %lld\n",
	    cs->name, (long long)cs->drill_last_success));
	FAMILY(b, "lifeboat_drill_duration_seconds", "gauge",
	    "RTO of the last drill: from its start to etcd serving the backup, checked");
	EACH(lb_buf_addf(b, "lifeboat_drill_duration_seconds{cluster=\"%s\"} %.3f\n",
	    cs->name, cs->drill_last_rto));
	FAMILY(b, "lifeboat_drill_total", "counter", "scheduled restore drills by result");
	EACH(lb_buf_addf(b, "lifeboat_drill_total{cluster=\"%s\",result=\"ok\"} %llu\n"
	    "lifeboat_drill_total{cluster=\"%s\",result=\"failed\"} %llu\n", cs->name,
	    cs->drill_ok, cs->name, cs->drill_failed));
	FAMILY(b, "lifeboat_drill_running", "gauge", "1 while a restore drill runs");
	EACH(lb_buf_addf(b, "lifeboat_drill_running{cluster=\"%s\"} %d\n", cs->name,
	    cs->drilling && !cs->drill_done));
	FAMILY(b, "lifeboat_pitr_proof_last_result", "gauge",
	    "the last drill's A -> B replay proof: 1 ok, 0 failed (absent: none since start)");
	EACH(if (cs->pitr_proof_last != 0) lb_buf_addf(b,
	    "lifeboat_pitr_proof_last_result{cluster=\"%s\"} %d\n", cs->name,
	    cs->pitr_proof_last == 1));
	FAMILY(b, "lifeboat_pitr_proofs_total", "counter",
	    "A -> B replay proofs run by scheduled drills, by result");
	EACH(lb_buf_addf(b, "lifeboat_pitr_proofs_total{cluster=\"%s\",result=\"ok\"} %llu\n"
	    "lifeboat_pitr_proofs_total{cluster=\"%s\",result=\"failed\"} %llu\n", cs->name,
	    cs->pitr_proof_ok, cs->name, cs->pitr_proof_failed));
	/* Point-in-time recovery, for clusters with pitr = on; the lag only
	 * where this daemon captures (the lock holder). */
#define PITR(stmt) EACH(if (cs->pitr_on) { stmt; })
	FAMILY(b, "lifeboat_pitr_capturing", "gauge",
	    "1 while this daemon captures the cluster's changes (it holds the lock)");
	PITR(lb_buf_addf(b, "lifeboat_pitr_capturing{cluster=\"%s\"} %d\n", cs->name,
	    cs->pitr_active));
	FAMILY(b, "lifeboat_pitr_lag_seconds", "gauge",
	    "how long the oldest change etcd has and the capture has not has been waiting; "
	    "grows while the capture is stuck");
	PITR(if (cs->pitr_active) lb_buf_addf(b,
	    "lifeboat_pitr_lag_seconds{cluster=\"%s\"} %.3f\n", cs->name, pitr_lag(cs, mono)));
	FAMILY(b, "lifeboat_pitr_lag_revisions", "gauge",
	    "the cluster's revision minus the last one captured (-1: unknown)");
	PITR(if (cs->pitr_active) lb_buf_addf(b,
	    "lifeboat_pitr_lag_revisions{cluster=\"%s\"} %lld\n", cs->name,
	    (long long)cs->pitr_lag_revs));
	FAMILY(b, "lifeboat_pitr_last_revision", "gauge",
	    "the newest revision captured (in a segment, open or stored; 0: none)");
	PITR(lb_buf_addf(b, "lifeboat_pitr_last_revision{cluster=\"%s\"} %lld\n", cs->name,
	    (long long)cs->pitr_last_rev));
	FAMILY(b, "lifeboat_pitr_segments_total", "counter",
	    "event-log segments stored (ok) or lost to a failed upload or catalog write (failed)");
	PITR(lb_buf_addf(b, "lifeboat_pitr_segments_total{cluster=\"%s\",result=\"ok\"} %llu\n"
	    "lifeboat_pitr_segments_total{cluster=\"%s\",result=\"failed\"} %llu\n",
	    cs->name, cs->pitr_seg_ok, cs->name, cs->pitr_seg_failed));
	FAMILY(b, "lifeboat_pitr_gaps_total", "counter",
	    "breaks in the capture's chain (etcd compacted what it needed): a full backup "
	    "starts a new chain");
	PITR(lb_buf_addf(b, "lifeboat_pitr_gaps_total{cluster=\"%s\"} %llu\n", cs->name,
	    cs->pitr_gaps));
#undef PITR
#undef EACH
}

/* The status model's view of d (status.h), copied under d->mu so the
 * catalog is read without it. */
static int
status_copy(struct daemon *d, struct status_daemon *sd)
{
	size_t i;

	memset(sd, 0, sizeof(*sd));
	pthread_mutex_lock(&d->mu);
	sd->now = snapd_dnow(d);
	sd->started = d->started;
	sd->scale = d->scale;
	snprintf(sd->owner, sizeof(sd->owner), "%s", d->owner);
	snprintf(sd->catalog, sizeof(sd->catalog), "%s", d->catalog);
	if (d->n_cs > 0 && (sd->cl = calloc(d->n_cs, sizeof(*sd->cl))) == NULL) {
		pthread_mutex_unlock(&d->mu);
		return LB_E_NOMEM;
	}
	for (i = 0; i < d->n_cs; i++) {
		const struct cstate *cs = d->cs[i];
		struct status_cluster *sc = &sd->cl[sd->n];

		if (!cs->present)
			continue;
		snprintf(sc->name, sizeof(sc->name), "%s", cs->name);
		sc->enabled = cs->enabled;
		sc->running = cs->running && !cs->done;
		sc->next_run = cs->enabled ? cs->start_at : 0;
		sc->overdue_at = cs->enabled ? overdue_at(d, cs) : 0;
		sc->divergent = cs->last_divergent;
		sc->pitr_on = cs->pitr_on;
		sc->pitr_capturing = cs->pitr_active;
		sc->pitr_lag_s = cs->pitr_active ? pitr_lag(cs, lb_mono_now()) : 0;
		sc->pitr_lag_revs = cs->pitr_lag_revs;
		sc->pitr_last_rev = cs->pitr_last_rev;
		sc->pitr_gaps = cs->pitr_gaps;
		sc->pitr_proof_last = cs->pitr_proof_last;
		sc->lock = cs->lock == NULL ? STATUS_LOCK_NONE : lock_is_off(cs->lock) ?
		    STATUS_LOCK_OFF : lock_is_held(cs->lock) ? STATUS_LOCK_HELD :
		    STATUS_LOCK_STANDBY;
		if (sc->lock == STATUS_LOCK_STANDBY)
			lock_holder(cs->lock, sc->holder, sizeof(sc->holder));
		sd->n++;
	}
	pthread_mutex_unlock(&d->mu);
	return 0;
}

/* "/" and "/api/status": one document, two renderings. */
static int
render_status(struct daemon *d, const char *path, char **body, unsigned *status)
{
	struct status_daemon sd;
	struct lb_err err = { 0 };
	json_t *doc = NULL;
	int r;

	if ((r = status_copy(d, &sd)) < 0)
		goto out;
	if ((r = status_build(&sd, &doc, &err)) < 0)
		goto out;
	r = strcmp(path, "/") == 0 ? status_render_html(doc, body, &err) :
	    status_render_json(doc, body, &err);
	*status = 200;
out:
	json_decref(doc);
	free(sd.cl);
	return r < 0 ? -1 : 0;
}

int
snapd_render(void *arg, const char *path, char **body, unsigned *status)
{
	struct daemon *d = arg;
	struct lb_buf b;
	time_t now;
	size_t i;
	int bad = 0;

	if (strcmp(path, "/") == 0 || strcmp(path, "/api/status") == 0)
		return render_status(d, path, body, status);
	if (strcmp(path, "/metrics") != 0 && strcmp(path, "/healthz") != 0)
		return -1;
	lb_buf_init(&b, PAGE_MAX);
	pthread_mutex_lock(&d->mu);
	now = snapd_dnow(d);
	if (strcmp(path, "/metrics") == 0) {
		render_metrics(d, &b);
		*status = 200;
	} else {
		for (i = 0; i < d->n_cs; i++) {
			const struct cstate *cs = d->cs[i];
			time_t at;

			if (!cs->present)
				continue;
			if (snapd_drill_overdue(d, cs, d->cur->cfg, now, &at)) {
				char since[64];

				lb_fmt_when(at, now, since, sizeof(since));
				lb_buf_addf(&b, "cluster %s: no good restore drill since %s "
				    "(drill-max-age)\n", cs->name, since);
				bad++;
			}
			if (cs->pitr_proof_last == 2) {
				lb_buf_addf(&b, "cluster %s: the last drill's point-in-time "
				    "proof failed\n", cs->name);
				bad++;
			}
			if (!cs->enabled)
				continue;
			at = overdue_at(d, cs);
			if (now > at) {
				char since[64], due[64];

				/* health_base: the last complete or partial backup,
				 * or the daemon's start when there was none since */
				lb_fmt_when(cs->health_base, now, since, sizeof(since));
				lb_fmt_when(at, now, due, sizeof(due));
				lb_buf_addf(&b, "cluster %s: no backup since %s (overdue since "
				    "%s)\n", cs->name, since, due);
				bad++;
			}
		}
		*status = bad ? 503 : 200;
		if (!bad)
			lb_buf_addf(&b, "ok: %zu clusters backed up on schedule\n", d->n_cs);
	}
	pthread_mutex_unlock(&d->mu);
	if (b.err != 0) {
		lb_buf_free(&b);
		return -1;
	}
	*body = lb_buf_take(&b);
	return 0;
}
