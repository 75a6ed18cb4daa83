/*
 * spool.h: catalog records that could not be written yet.
 *
 * A backup must not be lost from the catalog (its audit trail above all)
 * because the catalog was locked past the busy timeout by a long CLI
 * session, or could not be opened at all.  What a backup run would have
 * written is then kept as one small JSON file in "<catalog>.pending/",
 * named "<cluster>.<backup-id>.json" and written atomically, and the next
 * run of the same cluster (under that cluster's run lock, so never while
 * the run that wrote it is still going) replays it before anything else.
 *
 * A run that cannot even record its start spools a record with status
 * running first: should it die, the replay puts that running row into
 * the catalog and the usual settling of interrupted backups finishes it.
 * Replaying is idempotent: a row that already exists or has already
 * ended is fine, so a crash between catalog write and unlink is harmless.
 */
#ifndef LB_CATALOG_SPOOL_H
#define LB_CATALOG_SPOOL_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "common/err.h"

/* What one backup run records: its row, its manifest and its audit
 * event.  Strings may be NULL except cluster and backup_id. */
struct cat_spool_rec {
	const char *cluster;
	const char *backup_id;
	const char *host;
	int64_t started_at;
	enum cat_status status;   /* CAT_RUNNING: only the start */
	const char *error;        /* one-line reason, for the row */
	const char *manifest;     /* manifest JSON text */
	const char *details;      /* audit details, a JSON object */
	int64_t audit_at;         /* the audit event's time (0: when applied) */
	const char *audit_ref;    /* its copy in the repository's audit trail
	                           * (cat_audit_event.ref); NULL: none */
};

/* Writes r into c: the row (if missing), its end and manifest (unless
 * running, and unless it has already ended), then the audit event. */
int cat_spool_apply(struct cat *c, const struct cat_spool_rec *r, struct lb_err *err);

/* Keeps r in the spool next to the catalog at catalog_path, replacing an
 * earlier record of the same backup. */
int cat_spool_write(const char *catalog_path, const struct cat_spool_rec *r,
    struct lb_err *err);

/* Drops the spooled record of r's backup, if any. */
void cat_spool_remove(const char *catalog_path, const struct cat_spool_rec *r);

/* Whether a spooled record (kept, or set aside as unreadable) names
 * backup_id of cluster: 1 yes, 0 no, < 0 when the spool cannot be read
 * (which a caller deciding whether to delete must treat as yes). */
int cat_spool_has(const char *catalog_path, const char *cluster,
    const char *backup_id, struct lb_err *err);

/* Applies and removes every spooled record of cluster, oldest first; *n
 * counts those applied.  Stops at the first that cannot be written (the
 * catalog is still locked): it and the rest stay for the next time.  A
 * record that cannot be parsed, or whose manifest is not that of its own
 * backup and status (the catalog would refuse it for ever), is renamed to
 * "*.bad" and skipped. */
int cat_spool_replay(struct cat *c, const char *catalog_path, const char *cluster,
    int *n, struct lb_err *err);

#endif
