/*
 * status.c: the catalog's reads for the daemon's status page
 * (snapd/status.h): each one bounded by a LIMIT and served by an index,
 * so a page costs the same with a year of backups as with a day.  It
 * owns no writes; the rows are the ones query.c reads for the CLI.
 */
#include "catalog/cat_impl.h"

#include <stdio.h>
#include <string.h>

int
cat_status_points(struct cat *c, const char *cluster, int64_t since, int64_t limit,
    cat_point_cb cb, void *arg, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	struct cat_point p;
	int r, rc;

	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	/* backups_cluster_started walked backwards from the newest: the
	 * LIMIT bounds the rows read, whatever the catalog holds */
	if ((r = cat_prepare(c, "SELECT started_at, finished_at, db_size, stored_size "
	    "FROM backups WHERE cluster = ?1 AND started_at >= ?2 "
	    "AND status IN ('complete', 'partial') "
	    "ORDER BY started_at DESC, id DESC LIMIT ?3", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, cluster);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		p.started_at = sqlite3_column_int64(st, 0);
		p.duration_s = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(st, 1) - p.started_at;
		p.db_size = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(st, 2);
		p.stored_size = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(st, 3);
		if ((r = cb(&p, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = cat_sqlerr(c, rc, "read backup sizes", err);
out:
	sqlite3_finalize(st);
	cat_tx_rollback(c);
	return r;
}

int
cat_status_counts(struct cat *c, const char *cluster, int64_t since, int64_t counts[4],
    struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc, s;

	memset(counts, 0, 4 * sizeof(counts[0]));
	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	/* one range of backups_cluster_status_started per status (a covering
	 * index): the window's entries are read, never the cluster's year */
	if ((r = cat_prepare(c, "SELECT COUNT(*) FROM backups "
	    "WHERE cluster = ?1 AND status = ?2 AND started_at >= ?3", &st, err)) < 0)
		goto out;
	for (s = CAT_RUNNING; s <= CAT_FAILED; s++) {
		sqlite3_reset(st);
		cat_bind_text(st, 1, cluster);
		cat_bind_text(st, 2, cat_status_name((enum cat_status)s));
		sqlite3_bind_int64(st, 3, since);
		if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
			r = cat_sqlerr(c, rc, "count backups", err);
			goto out;
		}
		counts[s] = sqlite3_column_int64(st, 0);
	}
out:
	sqlite3_finalize(st);
	cat_tx_rollback(c);
	return r;
}

int
cat_status_last_verify(struct cat *c, const char *cluster, int64_t since,
    struct cat_verify_info *out, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	const char *s;
	int r, rc;

	memset(out, 0, sizeof(*out));
	out->at = -1;
	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	/* There is no index on verified_at (the drills' schema 5 owns the
	 * next migration), so the newest verified backup is looked for among
	 * the backups started since `since`, on backups_cluster_started: a
	 * verify-schedule verifies the newest backup, so it is there. */
	if ((r = cat_prepare(c, "SELECT id, verified_at, verify_status, verify_detail "
	    "FROM backups WHERE cluster = ?1 AND started_at >= ?2 "
	    "AND verified_at IS NOT NULL ORDER BY verified_at DESC LIMIT 1", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, cluster);
	sqlite3_bind_int64(st, 2, since);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(out->backup_id, sizeof(out->backup_id), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		out->at = sqlite3_column_int64(st, 1);
		s = (const char *)sqlite3_column_text(st, 2);
		out->ok = s != NULL && strcmp(s, "ok") == 0;
		s = (const char *)sqlite3_column_text(st, 3);
		snprintf(out->detail, sizeof(out->detail), "%s", s != NULL ? s : "");
	} else if (rc == SQLITE_DONE) {
		r = lb_err_set(err, LB_E_NOTFOUND, "catalog: no verified backup of %s",
		    cluster);
	} else {
		r = cat_sqlerr(c, rc, "read verifications", err);
	}
out:
	sqlite3_finalize(st);
	cat_tx_rollback(c);
	return r;
}

int
cat_audit_newest(struct cat *c, int64_t limit, cat_audit_cb cb, void *arg,
    struct lb_err *err)
{
	/* the rowid read backwards: no more rows than asked for */
	return cat_audit_rows(c, "ORDER BY id DESC LIMIT ?1", limit > 0 ? limit : 1, 0,
	    cb, arg, err);
}
