/*
 * state.h: the daemon's state, internal to snapd/: daemon.c runs it,
 * reload.c applies the configuration to it, clock.c tells its time,
 * render.c turns it into /metrics and /healthz.
 * Nothing outside snapd/ includes this; daemon.h is the module's face.
 */
#ifndef LB_SNAPD_STATE_H
#define LB_SNAPD_STATE_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "scheduler/cron.h"
#include "snapd/lock.h"

enum { OUT_COMPLETE = 0, OUT_PARTIAL, OUT_FAILED, OUT_N };
extern const char *const snapd_out_names[OUT_N];  /* "complete", ... */

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
	/* drill-schedule (drill.c), under d->mu */
	struct sched *dsched;      /* NULL: no drills (off, or no identity-file) */
	time_t drill_due;          /* daemon clock */
	int drilling, drill_done;  /* a drill thread runs / has ended */
	pthread_t drill_thread;    /* (main) */
	time_t drill_base;         /* daemon start, or the last good drill (daemon
	                            * clock): drill-max-age counts from it */
	time_t drill_last_success; /* daemon clock, 0: none since start */
	double drill_last_rto;     /* seconds, of the last drill that got that far */
	unsigned long long drill_ok, drill_failed;
	/* the drills' A -> B proofs (restore/drill.h): 0 none since start,
	 * 1 the last was ok, 2 it failed (/healthz says 503 until one is ok) */
	int pitr_proof_last;
	unsigned long long pitr_proof_ok, pitr_proof_failed;
	/* pitr capture (capture.c): the thread's fields (main) but for
	 * those marked (mu), which the thread and /metrics share */
	pthread_t pitr_thread;
	int pitr_running;          /* a capture thread exists */
	int pitr_done;             /* (mu) it has ended: join it */
	volatile sig_atomic_t pitr_stop;  /* tells the thread to stop */
	struct cfg_ref *pitr_ref;  /* the configuration it runs on */
	int pitr_on;               /* (mu) pitr = on in the current configuration */
	int pitr_active;           /* (mu) capturing: this appliance holds the lock */
	int pitr_backup_asap;      /* (mu) a gap asks for a backup now */
	int64_t pitr_last_rev;     /* (mu) newest revision captured, 0: none */
	int64_t pitr_lag_revs;     /* (mu) -1: unknown */
	double pitr_lag_s;         /* (mu) at pitr_stats_at */
	double pitr_stats_at;      /* (mu) lb_mono_now of the last report */
	unsigned long long pitr_seg_ok, pitr_seg_failed, pitr_gaps;   /* (mu) */
};

/* Cluster states kept, present or not: a cluster that leaves the
 * configuration keeps its state (and metrics) until the daemon restarts,
 * so reloads that keep renaming clusters must stop somewhere. */
#define SNAPD_CLUSTERS_MAX 4096

struct daemon {
	pthread_mutex_t mu;
	const char *config_path;
	struct cfg_ref *cur;
	struct cstate **cs;        /* every cluster seen since start */
	size_t n_cs, cap_cs;
	pthread_t main_thread;
	volatile sig_atomic_t cancel;   /* cancel running backups */
	volatile sig_atomic_t stopping; /* start no new ones */
	double scale;              /* daemon clock rate (1 outside tests) */
	double anchor;
	time_t started;
	unsigned long long reloads_ok, reloads_refused;
	char owner[256];
	char catalog[4096];        /* the catalog's path (not reloadable) */
	char tz[80];               /* (main) timezone of the current config */
	int drills_running;        /* at most one per appliance (drill.c) */
};

/* How often (daemon clock) the cluster's revision is sampled into the
 * catalog between backups, from the lock's renewals. */
#define SNAPD_REV_NOTE_S 60

/* lock_revision_fn for the daemon d (arg): records the sample. */
void snapd_note_revision(void *d, const char *cluster, int64_t revision, time_t at);

/* The wall clock, in seconds. */
double snapd_real_now(void);

/* The daemon's clock (daemon.h: LIFEBOAT_SNAPD_TIMESCALE), in seconds
 * and whole seconds. */
double snapd_dnow_f(const struct daemon *d);
time_t snapd_dnow(const struct daemon *d);

/* Sets d's clock rate and anchor from $LIFEBOAT_SNAPD_TIMESCALE. */
void snapd_clock_setup(struct daemon *d);

/* The metrics server's callback (metrics.h) for /metrics and /healthz;
 * arg is the daemon, read under d->mu. */
int snapd_render(void *arg, const char *path, char **body, unsigned *status);

/* The configuration (reload.c). */

/* Drops a run's or the daemon's reference to r; the last frees it. */
void snapd_ref_put(struct daemon *d, struct cfg_ref *r);

/* What the configuration's own check leaves to the scheduler: every
 * schedule parses, every zone exists. */
int snapd_check_schedules(const struct cfg *c, struct lb_err *err);

/* Makes the cluster states follow c (d->mu held): new clusters get a
 * state, removed ones keep theirs but are not scheduled. */
int snapd_apply_config(struct daemon *d, const struct cfg *c, time_t now,
    struct lb_err *err);

/* Makes each cluster's etcd lock follow the configured lock-prefix;
 * -1 when a lock could not be made (logged). */
int snapd_sync_locks(struct daemon *d);

/* The configuration's log-level, when it names one. */
void snapd_set_log_level(const struct cfg *c);

/* SIGHUP: loads d->config_path again and applies it, or refuses it and
 * keeps the running one. */
void snapd_reload(struct daemon *d);

/* From the runs (daemon.c), for snapd_apply_config. */

/* Seconds to wait after a slot, drawn in [0, jitter]. */
time_t snapd_draw_jitter(const struct cfg *c, const char *cluster);

/* Sets cs's verify-schedule from c (d->mu held). */
int snapd_apply_verify_schedule(struct daemon *d, struct cstate *cs,
    const struct cfg *c, time_t now, struct lb_err *err);

/* Verifies cluster cs's newest backup when its verify slot has come
 * (daemon.c): after each backup run, and after each drill of a cluster
 * this daemon does not back up. */
void snapd_verify_if_due(struct daemon *d, struct cstate *cs, const struct cfg *c);

/* Point-in-time recovery captures (capture.c). */

/* Starts, stops and joins the capture threads (main thread, each turn of
 * the loop): one per present, enabled cluster with pitr = on while the
 * daemon is not stopping; a capture that runs on an older configuration
 * is stopped and started again on the current one.  The thread takes the
 * cluster's lock (or waits for it) and captures only while holding it.
 * Returns how many capture threads still run. */
int snapd_captures_sync(struct daemon *d);

/* Drills (drill.c). */

/* Sets cs's drill-schedule from c (d->mu held): none when it is "off" or
 * no identity-file is configured (a drill needs the key, as verify does). */
int snapd_apply_drill_schedule(struct daemon *d, struct cstate *cs,
    const struct cfg *c, time_t now, struct lb_err *err);

/* Starts the drill that is due, if any may start now: at most one per
 * appliance, never beside a backup of the same cluster nor when that
 * cluster's backup is due (the backup goes first; a backup due while a
 * drill runs waits for it).  Returns the soonest drill slot after now,
 * or soonest when that is sooner. */
time_t snapd_drills_start(struct daemon *d, time_t now, time_t soonest);

/* Joins drills that ended; returns how many still run. */
int snapd_drills_reap(struct daemon *d);

/* What a killed drill left in drill-dir, removed at the daemon's start
 * (drill_sweep's proof: nobody holds the directory's lock). */
void snapd_drills_sweep(const struct cfg *c);

/* 1 when cs has drill-max-age and no good drill within it (d->mu held):
 * /healthz fails; why says since when (daemon clock). */
int snapd_drill_overdue(const struct daemon *d, const struct cstate *cs,
    const struct cfg *c, time_t now, time_t *since);

#endif
