/*
 * backup.h: one backup of one cluster, end to end.
 *
 * Every member is pulled through etcd's trailer check, zstd, age and a
 * sha256 of the stored bytes into its repository object; then HashKV is
 * compared across members, the manifest is written last, and the catalog
 * records the run (running before it starts, complete/partial/failed at
 * the end) with an audit event.  `lifeboat backup` and the daemon both
 * run backups through here.
 */
#ifndef LB_BACKUP_H
#define LB_BACKUP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "config/config.h"

enum backup_outcome { BACKUP_COMPLETE = 0, BACKUP_PARTIAL, BACKUP_FAILED };

/* How a run shows its progress, drawn by the caller (the library never
 * prints): called every 250 ms while the members are pulled, and once
 * more with final set, with one line per member ("m1  pulled 1.2 GiB
 * stored 310 MiB  95 MiB/s  ETA 12s"). */
typedef void (*backup_progress_fn)(void *arg, const char *const *lines,
    size_t n, int final);

struct backup_result {
	char backup_id[32];
	enum backup_outcome outcome;
	size_t members_ok;
	size_t members_total;
	int64_t revision;
	int64_t revision_seen;     /* highest revision a member's Status gave,
	                            * 0 if none answered: recorded for every
	                            * run, so a restore knows how far the
	                            * cluster got (restore's revision bump) */
	uint64_t db_size;          /* of the member with the highest revision */
	uint64_t pulled;           /* bytes pulled, all members */
	uint64_t stored;           /* bytes stored, all members */
	int divergent;             /* members' HashKV disagreed */
	double seconds;
	struct lb_err err;         /* why it failed, or the first member error */
};

/* What stays open between backups: the repository, the recipients and
 * the catalog.  The daemon keeps one for its life; the CLI one per run. */
struct backup_env;

/* progress may be NULL (no progress shown). */
int backup_env_open(const struct cfg *c, backup_progress_fn progress,
    void *progress_arg, const volatile sig_atomic_t *cancel,
    struct backup_env **out, struct lb_err *err);
void backup_env_close(struct backup_env *e);

/* Backs up cluster; res says how it went (always filled).  Returns 0 for
 * a complete or partial backup, negative when nothing was stored. */
int backup_cluster(struct backup_env *e, const char *cluster,
    struct backup_result *res);

/* Exit status for a set of results: 0 all complete and consistent,
 * 3 some partial, 4 members diverge, 1 a backup failed. */
int backup_exit_status(const struct backup_result *res, size_t n);

#endif
