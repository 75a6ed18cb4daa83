/*
 * ops.h: operations on an opened repository and catalog (struct lb_env):
 * verify, prune, rebuild, export and import.  They take the environment
 * opened and plain options, and report through returned structs or a
 * per-item callback; they never print to stdout, parse options or exit
 * (progress and faults go to the log).  The commands around them, with
 * their options and output, are in cmd/; the daemon calls
 * ops_verify_newest and ops_prune_cluster.
 */
#ifndef LB_OPS_H
#define LB_OPS_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "config/config.h"
#include "common/err.h"
#include "env/env.h"
#include "env/trust.h"
#include "repo/manifest.h"
#include "repo/repo.h"
#include "stream/age.h"
#include "stream/flt.h"

/* --- verify -------------------------------------------------------------- */

/* The outcome of verifying one backup. */
struct ops_verify_result {
	const char *backup_id;
	const char *cluster;
	int ok;              /* every member object verified */
	int verdict;         /* ok, or a verdict on the stored bytes (recorded);
	                      * 0: could not finish, the backup keeps its own */
	int members;         /* member objects checked */
	const char *detail;  /* the summary when ok, else the error */
};

/* Called once per backup whose record could be read, before the result
 * is recorded in the catalog. */
typedef void (*ops_verify_cb)(const struct ops_verify_result *res, void *arg);

/* Reads every member object of backup_id from e's repository through the
 * whole restore path (stored sha256 and size, age open with id, zstd,
 * bbolt meta pages and revision, etcd trailer), compares with the
 * manifest, records the verdict (cat_set_verified) and audits it.  cb
 * (may be NULL) sees the result.  Returns 0 if the backup verified, a
 * negative LB_E_* otherwise (the fault is logged). */
int ops_verify_backup(struct lb_env *e, const struct age_identity *id,
    const char *backup_id, ops_verify_cb cb, void *arg);

/* Verifies the newest complete backup of cluster end to end on e
 * (repository and catalog opened), records and audits the result: what
 * the daemon runs on `verify-schedule`.  Needs e's identity-file. */
int ops_verify_newest(struct lb_env *e, const char *cluster, struct lb_err *err);

/* --- prune --------------------------------------------------------------- */

struct ops_prune_opts {
	const char *cluster;   /* NULL: every configured cluster */
	int dry_run;           /* plan only: nothing deleted, no lock, no audit */
};

enum ops_prune_what {
	OPS_PRUNE_POLICY,      /* a cluster's retention, before its plan */
	OPS_PRUNE_EMPTY,       /* the cluster has no backups */
	OPS_PRUNE_KEEP,        /* a backup retention keeps */
	OPS_PRUNE_DELETE,      /* a backup about to be deleted (or, dry run, would be) */
	OPS_PRUNE_SEGMENTS,    /* event-log segments about to be deleted (would be) */
	OPS_PRUNE_SEGMENTS_KEPT /* the segments' retention keeps them all: why */
};

/* One step of a prune's plan; the strings live for the call only. */
struct ops_prune_item {
	enum ops_prune_what what;
	const char *cluster;
	const char *policy;    /* POLICY: the retention, NULL when none is set */
	const char *backup_id; /* KEEP, DELETE */
	const char *started;   /* KEEP, DELETE: started_at, formatted */
	enum cat_status status;
	const char *why;       /* KEEP, DELETE, SEGMENTS*: retention's reason */
	int64_t first_rev, last_rev; /* SEGMENTS: the revisions the segments hold */
	int segments;          /* SEGMENTS: how many */
};

typedef void (*ops_prune_cb)(const struct ops_prune_item *it, int dry_run,
    void *arg);

struct ops_prune_totals {
	int kept, deleted, failed;   /* backups (deleted: would be, on a dry run) */
	int bad_clusters;            /* clusters whose prune failed (logged) */
	int seg_deleted, seg_failed; /* event-log segments (deleted: would be,
	                              * on a dry run; failed: a deletion, or
	                              * the segments' retention, that failed) */
};

/* Applies each cluster's retention (o->cluster's only when set) on e,
 * under the prune lock beside the catalog unless o->dry_run, and audits
 * the whole prune.  cb sees every step of the plan as it happens (NULL:
 * what is deleted goes to the log instead, as for the daemon).
 * Returns 0 once the clusters were gone through (t says how it went), a
 * negative LB_E_* when the prune could not start (an unknown cluster,
 * the lock). */
int ops_prune(struct lb_env *e, const struct ops_prune_opts *o, ops_prune_cb cb,
    void *arg, struct ops_prune_totals *t, struct lb_err *err);

/* Applies cluster's retention now, under the prune lock, on e (repository
 * and catalog opened): what the daemon runs after each backup.  What is
 * deleted goes to the log. */
int ops_prune_cluster(struct lb_env *e, const char *cluster, struct lb_err *err);

/* --- rebuild ------------------------------------------------------------- */

#define OPS_REBUILD_THREADS 4
#define OPS_REBUILD_THREADS_MAX 32

struct ops_rebuild_result {
	size_t manifests;     /* found in the repository */
	size_t recorded;
	size_t malformed;     /* not recorded (logged), untrusted ones too */
	size_t untrusted;     /* not recorded: unsigned, altered or signed by a key
	                       * trusted-signers does not list */
	size_t skipped_signature;  /* recorded though their check failed
	                            * (--insecure-skip-signature) */
	size_t missing;       /* recorded as failed: an object missing or of the wrong size */
	size_t dropped;       /* catalog rows whose manifest is proven gone */
	size_t kept;          /* rows not in the listing, whose manifest was not proven gone */
	size_t events;        /* audit events read back from the repository's trail */
	size_t events_known;  /* ... that the catalog had already */
	size_t events_refused;/* ... not taken: unreadable, malformed, not trusted */
	size_t segments;      /* event-log segment manifests (*.evlog.json) found */
	size_t segments_added;   /* ... recorded now */
	size_t segments_known;   /* ... recorded already: not read again */
	size_t segments_refused; /* ... not recorded: unreadable, malformed, not
	                          * trusted, object missing or of another size */
	double seconds;
};

/* Recreates e's catalog from the manifests in e's repository, with
 * threads (1 to OPS_REBUILD_THREADS_MAX) repository connections, and
 * audits it.  With e's trusted signers, only manifests one of them signed
 * are recorded (e->skip_signature: all, each failure logged).  Returns 0 when it ran to the end (*res says how it went; a
 * manifest or row with a problem is logged), a negative LB_E_* when it
 * stopped (listing, catalog, cancel). */
int ops_rebuild(struct lb_env *e, int threads, struct ops_rebuild_result *res,
    struct lb_err *err);

/* --- export and import --------------------------------------------------- */

/* Writes backup_id as a tar bundle at path (atomically: a temp file
 * renamed), with its manifest's signature when there is one, and audits
 * it.  *bytes gets the bytes of objects written. */
int ops_export(struct lb_env *e, const char *backup_id, const char *path,
    uint64_t *bytes, struct lb_err *err);

struct ops_import_result {
	char backup_id[MANIFEST_ID_MAX + 1];
	char cluster[MANIFEST_NAME_MAX + 1];
	uint64_t bytes;    /* bytes of objects written */
	int skipped;       /* the repository had this very backup: nothing written */
	enum trust_result trust;   /* what the signature check found */
};

/* Reads the bundle at path into e's repository and catalog, and audits
 * it.  Never overwrites: a backup already there with another manifest is
 * refused, with the same one skipped.  With e's trusted signers, a
 * manifest the bundle's signature does not show one of them signed is
 * refused before anything is written (e->skip_signature: logged and
 * passed). */
int ops_import(struct lb_env *e, const char *path, struct ops_import_result *res,
    struct lb_err *err);

/* --- shared by the operations -------------------------------------------- */

/* Appends an audit event whose details are the JSON object made by
 * json_pack(fmt, ...) to e's catalog and, as an object of the audit
 * trail (repo/journal.h), to e's repository, each when e has one; a
 * failure to audit is logged, so it never hides the outcome of the
 * operation itself.  Returns env_audit's answer: 0 when the catalog took
 * the event, -1 when it did not. */
int ops_audit(struct lb_env *e, enum cat_action action, const char *cluster,
    const char *backup_id, const char *outcome, const char *fmt, ...);

/* What a walk of a cluster's chain of manifests found (chain.c). */
struct ops_chain {
	size_t links;              /* format 2 manifests in the catalog */
	long long pruned;          /* sequences missing because prune deleted them */
	long long unexplained;     /* sequences missing that nobody explains */
	long long forks;           /* two manifests with one sequence */
	long long broken;          /* a manifest not naming its predecessor's hash */
};
typedef void (*ops_chain_cb)(void *arg, const char *line, int bad);

/* Walks cluster's manifests in the catalog by sequence and reports, one
 * line each through cb (bad = 1), the gaps prune does not explain (its
 * audit events record what it deleted), forks and broken links, then a
 * summary line (bad = 0).  Reads the catalog only. */
int ops_chain_check(struct lb_env *e, const char *cluster, struct ops_chain *out,
    ops_chain_cb cb, void *arg, struct lb_err *err);


/* A sink that drops what it is given (verification reads to the end). */
struct flt *ops_discard_new(void);

#endif
