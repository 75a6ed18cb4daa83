/*
 * capture.h: the capture side of point-in-time recovery (issue 15): one
 * watch on a cluster's whole keyspace, from the newest complete backup's
 * revision + 1 (the revision its manifest took from the snapshot bytes),
 * turned into event-log segments (evlog/) stored beside the backups and
 * recorded in the catalog.
 *
 * One call of capture_run is one stretch of a chain: it finds where the
 * chain stands (the catalog's segments, after recording those another
 * appliance left in the bucket), watches from there, moving to another
 * member when one fails and keeping the open segment, and closes a
 * segment every pitr-segment-interval after its first revision or once
 * it holds pitr-segment-size bytes (an idle cluster writes nothing).
 * It returns when the caller's stop flag is set (the open segment is
 * closed and stored first), when it cannot go on without a newer backup
 * (none yet, or etcd no longer has the revision the chain needs: the gap
 * is recorded and audited), or on an error the caller retries later
 * (nothing is lost while etcd keeps the history: the next run starts at
 * the last stored revision + 1).
 *
 * The daemon (snapd/capture.c) runs it per cluster while it holds the
 * cluster's lock; the library never prints (log lines only).
 */
#ifndef LB_CAPTURE_H
#define LB_CAPTURE_H

#include <signal.h>
#include <stdint.h>

#include "common/err.h"
#include "env/env.h"

/* How often the cluster's head revision is read for the lag, seconds. */
#define CAPTURE_LAG_EVERY_S 3

/* What the capture tells its caller as it goes (for metrics).  Counters
 * are this call's, from 0. */
struct capture_stats {
	int64_t last_rev;          /* newest revision captured (open segment too), 0: none */
	int64_t stored_rev;        /* newest revision in a stored segment, 0: none */
	int64_t head_rev;          /* the cluster's revision at the last sample, 0: unknown */
	int64_t lag_revisions;     /* head_rev - last_rev when known, else -1 */
	double lag_seconds;        /* how long the oldest revision known to exist
	                            * and not captured has been known */
	unsigned long long segments_ok, segments_failed;
	unsigned long long gaps;
};

typedef void (*capture_stats_fn)(void *arg, const struct capture_stats *s);

struct capture_opts {
	struct lb_env *env;        /* cfg, repo, cat, signer, trust: opened */
	const char *cluster;
	/* Stop: the open segment is closed and stored, then 0 is returned.
	 * Also ends calls to etcd in progress. */
	const volatile sig_atomic_t *stop;
	/* Start only from a complete backup of at least this revision (after
	 * a gap: one taken since), 0: any. */
	int64_t min_backup_rev;
	/* A gap recorded earlier (its after_rev) that a new chain closes:
	 * its resume revision is recorded when the chain starts; -1: none. */
	int64_t gap_after;
	const char *gap_reason;    /* that gap's reason (capture_result's) */
	capture_stats_fn stats;    /* may be NULL; called from this thread */
	void *stats_arg;
};

enum capture_end {
	CAPTURE_STOPPED = 0,       /* the stop flag */
	CAPTURE_NO_BACKUP,         /* no complete backup (of min_backup_rev) yet */
	CAPTURE_GAP                /* etcd compacted what the chain needs, or a
	                            * revision is larger than a segment's record
	                            * holds: a backup must start a new one */
};

struct capture_result {
	enum capture_end end;
	int64_t gap_after;         /* CAPTURE_GAP: the last revision captured (or
	                            * the backup's); the gap starts after it */
	int64_t need_rev;          /* CAPTURE_GAP: the revision a new backup must
	                            * reach (etcd's compact revision - 1, or the
	                            * revision too large to capture) */
	const char *gap_reason;    /* CAPTURE_GAP: "compacted" or "too-large" */
};

/* Runs the capture of o->cluster as described above.  0 with *res when
 * it ended as planned; a negative LB_E_* with err when it failed (no
 * member of the cluster answers for long, the repository or the catalog
 * refuses a segment, no recipients).  pitr need not be on: the caller
 * decides. */
int capture_run(const struct capture_opts *o, struct capture_result *res,
    struct lb_err *err);

/* Records in e's catalog the segments of cluster whose manifests
 * (*.evlog.json) are in e's repository and end past the catalog's newest
 * segment (all of them when it has none): what another appliance stored
 * before this one took over.  With trusted signers, only manifests one
 * of them signed (namespace lifeboat-evlog); one that is refused is
 * logged and left out.  *added counts new rows.  Lists cluster's whole
 * wal/ prefix. */
int capture_learn_bucket(struct lb_env *e, const char *cluster, int *added,
    struct lb_err *err);

#endif
