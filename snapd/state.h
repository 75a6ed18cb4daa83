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

#endif
