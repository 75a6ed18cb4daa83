/*
 * daemon.h: the snapshot daemon that `lifeboat snapd` runs.
 *
 * Runs in the foreground (systemd Type=notify, or any supervisor) and
 * logs key=value lines to stderr.  Every enabled [cluster:NAME] is backed
 * up on its `schedule` in `timezone` (scheduler/cron.h; default every 10
 * minutes); runs of one cluster never overlap (a slot that comes while
 * the previous run still goes is skipped and counted), and at most
 * `max-concurrent-clusters` clusters run at once.  At start, a cluster
 * whose last successful backup in the catalog is older than its previous
 * slot runs once at once (catch-up: one run, not one per missed slot).
 *
 * Several daemons may watch one cluster: an etcd lease-backed lock on
 * that cluster elects the one that runs (snapd/lock.h).
 *
 * Signals: SIGHUP reloads the configuration (a new one that does not
 * load, or changes an option that needs a restart, is refused with its
 * error and the old one keeps running); SIGTERM and SIGINT stop taking
 * new runs, give running ones SNAPD_GRACE_S seconds, then cancel them,
 * release the locks and exit 0.
 *
 * Schedules follow the wall clock: a jump forwards runs each cluster
 * whose slot went by once, a jump backwards computes every slot again.
 *
 * `metrics-listen` serves /metrics (Prometheus text), /healthz (503
 * when a cluster is overdue: see sched_overdue_at) and the status page,
 * / and /api/status (status.h).
 *
 * Testing aid (hidden, not for production): LIFEBOAT_SNAPD_TIMESCALE=K
 * or K@T0 runs the daemon's clock K times faster than real time from
 * Unix time T0 (default: the start of the current hour), so an @every 1m
 * schedule fires every 60/K real seconds.  Schedules, metrics timestamps
 * and health use this clock; the catalog keeps real times.  Two daemons
 * given the same K@T0 agree on slots.
 */
#ifndef LB_SNAPD_DAEMON_H
#define LB_SNAPD_DAEMON_H

/* Seconds running backups get to finish after SIGTERM before they are
 * cancelled. */
#define SNAPD_GRACE_S 30

/* A wall clock that moves this many seconds more or less than the
 * monotonic clock between two turns of the main loop has jumped (NTP
 * slews far slower); the schedules are then made to follow it. */
#define SNAPD_CLOCK_JUMP_S 30

/* Runs the daemon on the configuration at config_path until SIGTERM or
 * SIGINT, in the calling thread, which must be the process's only one
 * (it blocks the signals it waits for).  Returns the process exit status:
 * 0 after a clean stop, 2 for a configuration error at start, 1 when the
 * daemon cannot start (metrics port taken). */
int snapd_run(const char *config_path);

#endif
