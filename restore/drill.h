/*
 * drill.h: restore drills.  A drill restores one backup into a scratch
 * single-member etcd on this machine (loopback ports it picks, no TLS, no
 * revision bump, no unit), starts it, checks it as a restore does
 * (health, revision, key count, HashKV against the backup's record),
 * counts the Kubernetes objects per resource, measures the time it took,
 * then stops it and wipes its directory.  It proves that this backup
 * restores and serves, with this identity, on this machine, in this
 * time; not that the cluster it came from was healthy.
 *
 * Built from restore's layers (restore.h): the source and its fetch, the
 * restore tool, the config writer and start/stop, and check.c's checks;
 * there is no second restore here.  Never prints: `lifeboat drill`
 * (cmd/drill.c) and the daemon show the report.
 *
 * Scratch space: DRILL_DIR/drill-<pid>-<random>/ (0700), locked (flock on
 * its lock file) for the drill's whole life; the plaintext snapshot is
 * removed as soon as etcd's restore tool has consumed it, and the whole
 * directory at the end, whatever happened.  drill_sweep cleans what a
 * killed drill left.
 */
#ifndef LB_DRILL_H
#define LB_DRILL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "config/config.h"

/* Distinct resources counted by name; more are counted under "other". */
#define DRILL_RESOURCES_MAX 1024
/* Free space a drill needs besides twice the database. */
#define DRILL_DISK_MARGIN (64LL * 1024 * 1024)

struct drill_opts {
	const struct cfg *cfg;       /* repo, identity-file, catalog, drill-* */
	const char *cluster;         /* NULL: the only one configured, or the backup's */
	const char *backup;          /* an id, "latest" (NULL) or "random" */
	const char *identity_path;   /* NULL: identity-file */
	const char *catalog_path;    /* NULL: catalog */
	int skip_signature;          /* --insecure-skip-signature (env/trust.h) */
	volatile sig_atomic_t *cancel; /* set: stop, stop etcd, wipe (may be NULL) */
};

/* Kubernetes objects of one resource: "pods", "apiregistration.k8s.io/apiservices". */
struct drill_object_count {
	char *resource;
	int64_t count;
};

struct drill_report {
	char *cluster;               /* NULL until the backup is found */
	char *backup_id;
	const char *result;          /* "ok" or "failed" (static) */
	char error[512];             /* why it failed, "" when ok */
	int64_t started_at, finished_at;   /* Unix seconds */
	/* seconds: rto from the drill's start (fetch included) to "serving
	 * and checked"; the phases: fetch and verify, etcd's restore tool,
	 * etcd's start until it serves, the checks and the object count */
	double rto_s, fetch_s, restore_s, start_s, check_s;
	int64_t revision;            /* -1 until checked */
	int64_t keys;                /* live keys at revision, -1 until checked */
	uint32_t hashkv;
	int hashkv_set;              /* 1: hashkv was taken */
	int hash_vs_backup;          /* 1: HashKV equals the backup's record */
	char note[256];              /* why the backup's HashKV was not compared */
	char etcd_version[32];       /* of the etcd that served it */
	char snap_version[32];       /* of the snapshot, "" unknown */
	uint64_t db_size;            /* plaintext bytes restored */
	struct drill_object_count *objects; /* sorted by resource; "other" last */
	size_t n_objects;
	int other_slot;              /* 1: the last of objects is "other" */
	int64_t objects_total;       /* keys under /registry/ */
	int recorded;                /* 1: in the catalog and/or audit trail */
	/* The A -> B proof of point-in-time recovery (replay.h), run after an
	 * ok drill when the catalog holds event-log segments of the cluster
	 * reaching the drilled revision.
	 * proof: DRILL_PROOF_*; timed apart from the RTO (proof_s). */
	int proof;
	char proof_from[72];         /* A's id, "" when no pair was tried */
	int64_t proof_from_rev, proof_to_rev;
	int proof_hashkv_compared;
	double proof_s;
	char proof_detail[512];
};

enum {
	DRILL_PROOF_NONE = 0,        /* not run: the cluster has no event log */
	DRILL_PROOF_OK,              /* A replayed to B's revision holds B's keys */
	DRILL_PROOF_FAILED,          /* it did not, or could not be run: the drill failed */
	DRILL_PROOF_NO_PAIR          /* no earlier complete backup in B's window */
};

/* "ok", "failed", "no pair" or NULL (DRILL_PROOF_NONE). */
const char *drill_proof_name(int proof);

/* Runs one drill (see the banner).  Calls drill_sweep first.  Once the
 * backup is found, the outcome is recorded whatever it is: a row in the
 * catalog (cat_drill_add, when a catalog exists) and an audit event
 * "drill" (catalog and the repository's audit trail), and rep->recorded
 * is set; earlier failures (configuration, identity, no such backup) are
 * returned only, as is LB_E_BUSY when another drill holds drill-dir
 * (one at a time per appliance).  When the drill is ok and the catalog
 * has event-log segments of the cluster reaching its revision, the A -> B proof of B (the
 * drilled backup) is run too (rep->proof); a failed proof fails the
 * drill (LB_E_CORRUPT, logged as an error, audited "pitr" and "drill").  Returns 0 when the drill is ok, else
 * the error (also in rep->error).  rep is filled as far as the drill got;
 * free it with drill_report_free. */
int drill_run(const struct drill_opts *o, struct drill_report *rep,
    struct lb_err *err);

void drill_report_free(struct drill_report *rep);

/* Cleans what killed drills left in drill_dir: each entry named drill-*
 * directly in it, a directory whose lock nobody holds, is removed after
 * its etcd, if one still runs (its pid file, and /proc/PID/cmdline names
 * etcd and that directory), is stopped.  A directory whose lock is held
 * belongs to a running drill and is left alone.  An absent drill_dir is
 * fine.  Returns the number of directories removed, or an error. */
int drill_sweep(const char *drill_dir, struct lb_err *err);

/* Counts key (of len bytes) in rep->objects when it is under
 * /registry/: by the path segment after /registry/, or
 * <group>/<resource> when that segment holds a '.'.  Names that are not
 * [A-Za-z0-9._-] and resources past DRILL_RESOURCES_MAX count as
 * "other".  LB_E_NOMEM or 0. */
int drill_count_key(struct drill_report *rep, const uint8_t *key, size_t len);

/* The report as a JSON object (a json_t *, new reference; NULL when out
 * of memory), as `lifeboat drill --json` prints it; objects only for
 * the catalog's copy. */
void *drill_report_json(const struct drill_report *rep);

/* Whether /proc/PID/cmdline, read into buf (args separated by NUL, len
 * bytes), is an etcd whose arguments name a path under dir: what the
 * sweep needs before it signals a pid read from a file.  1 or 0. */
int drill_cmdline_is_etcd_in(const char *buf, size_t len, const char *dir);

#endif
