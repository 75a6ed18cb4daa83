/*
 * settle.h: settling what dead backup runs left behind.  Internal to
 * backup/: backup_cluster calls it while holding the cluster's run lock,
 * which is what makes a running row the leftover of a dead process.
 */
#ifndef LB_BACKUP_SETTLE_H
#define LB_BACKUP_SETTLE_H

#include "env/env.h"

/* Replays the catalog spool of cluster, then settles each run of it the
 * catalog still lists as running (its manifest decides: recorded when
 * present, removed and marked failed when certainly absent, left alone
 * in doubt), then removes uploads and temp files older than a day under
 * the cluster's tree.  e->repo and e->cat may be NULL (what cannot be
 * reached is skipped).  Logs what it did; never fails the backup. */
void settle_interrupted(const struct lb_env *e, const char *cluster);

#endif
