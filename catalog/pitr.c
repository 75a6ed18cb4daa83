/*
 * pitr.c: the catalog's record of the event log (catalog.h, "point-in-
 * time recovery"): segments, gaps, and the windows they make with the
 * complete backups.  SQL only; what a segment holds lives in
 * evlog/segment.h, how it is captured in backup/capture.c.
 */
#include "catalog/cat_impl.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define SEG_COLS "id, cluster, cluster_id, first_rev, last_rev, first_time_ms, " \
	"last_time_ms, revisions, events, object, stored_size, stored_sha256, " \
	"prev_sha256, signer, host, created_at, verified_at, verify_status, verify_detail"

static int
too_old(const struct cat *c, struct lb_err *err)
{
	return lb_err_set(err, LB_E_CONFIG, "catalog %s: schema version %d has no "
	    "event log (open it for writing to upgrade it)", c->path, c->version);
}

int
cat_segment_add(struct cat *c, const struct cat_segment *s, int *inserted,
    struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	char user[64], host[256];
	int r, rc;

	if (inserted != NULL)
		*inserted = 0;
	if (c->version < 6)
		return too_old(c, err);
	if (s->cluster == NULL || s->object == NULL || s->stored_sha256 == NULL ||
	    s->last_rev < s->first_rev || s->first_rev < 1)
		return lb_err_set(err, LB_E_INTERNAL, "segment record incomplete");
	cat_whoami(user, sizeof(user), host, sizeof(host));
	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, "INSERT INTO segments (cluster, cluster_id, first_rev, "
	    "last_rev, first_time_ms, last_time_ms, revisions, events, object, stored_size, "
	    "stored_sha256, prev_sha256, signer, host, created_at) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) ON CONFLICT (object) DO NOTHING",
	    &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, s->cluster);
	cat_bind_text(st, 2, s->cluster_id);
	sqlite3_bind_int64(st, 3, s->first_rev);
	sqlite3_bind_int64(st, 4, s->last_rev);
	sqlite3_bind_int64(st, 5, s->first_time_ms);
	sqlite3_bind_int64(st, 6, s->last_time_ms);
	sqlite3_bind_int64(st, 7, s->revisions);
	sqlite3_bind_int64(st, 8, s->events);
	cat_bind_text(st, 9, s->object);
	sqlite3_bind_int64(st, 10, s->stored_size);
	cat_bind_text(st, 11, s->stored_sha256);
	cat_bind_text(st, 12, s->prev_sha256);
	cat_bind_text(st, 13, s->signer);
	cat_bind_text(st, 14, s->host != NULL ? s->host : host);
	sqlite3_bind_int64(st, 15, s->created_at > 0 ? s->created_at : cat_now());
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		r = cat_sqlerr(c, rc, "record a segment", err);
		goto out;
	}
	if (inserted != NULL)
		*inserted = sqlite3_changes(c->db) > 0;
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

void
cat_segment_free(struct cat_segment *s)
{
	if (s == NULL)
		return;
	free(s->cluster);
	free(s->cluster_id);
	free(s->object);
	free(s->stored_sha256);
	free(s->prev_sha256);
	free(s->signer);
	free(s->host);
	free(s->verify_status);
	free(s->verify_detail);
	free(s);
}

/* The row st stands on, into a new struct cat_segment (NULL: no memory). */
static struct cat_segment *
row(sqlite3_stmt *st)
{
	struct cat_segment *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->id = sqlite3_column_int64(st, 0);
	s->first_rev = sqlite3_column_int64(st, 3);
	s->last_rev = sqlite3_column_int64(st, 4);
	s->first_time_ms = sqlite3_column_int64(st, 5);
	s->last_time_ms = sqlite3_column_int64(st, 6);
	s->revisions = sqlite3_column_int64(st, 7);
	s->events = sqlite3_column_int64(st, 8);
	s->stored_size = sqlite3_column_int64(st, 10);
	s->created_at = sqlite3_column_int64(st, 15);
	s->verified_at = cat_col_opt(st, 16);
	if (cat_col_str(st, 1, &s->cluster) < 0 || cat_col_str(st, 2, &s->cluster_id) < 0 ||
	    cat_col_str(st, 9, &s->object) < 0 || cat_col_str(st, 11, &s->stored_sha256) < 0 ||
	    cat_col_str(st, 12, &s->prev_sha256) < 0 || cat_col_str(st, 13, &s->signer) < 0 ||
	    cat_col_str(st, 14, &s->host) < 0 || cat_col_str(st, 17, &s->verify_status) < 0 ||
	    cat_col_str(st, 18, &s->verify_detail) < 0) {
		cat_segment_free(s);
		return NULL;
	}
	return s;
}

/* Runs sql (selecting SEG_COLS, ?1 cluster, ?2 and ?3 the bounds if it
 * has them: SQLite refuses a bind past its parameters, harmlessly) in a
 * read transaction of its own, or the caller's when one is open, and
 * calls cb per row; a non-zero cb return stops it and is returned. */
static int
query(struct cat *c, const char *sql, const char *cluster, int64_t a, int64_t b,
    cat_segment_cb cb, void *arg, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	struct cat_segment *s;
	int r, rc, own;

	if (c->version < 6)
		return 0;          /* read-only open of an older catalog: none */
	own = sqlite3_get_autocommit(c->db);
	if (own && (r = cat_tx_read(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, sql, &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, cluster);
	sqlite3_bind_int64(st, 2, a);
	sqlite3_bind_int64(st, 3, b);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((s = row(st)) == NULL) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		r = cb(s, arg);
		cat_segment_free(s);
		if (r != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = cat_sqlerr(c, rc, "read segments", err);
out:
	sqlite3_finalize(st);
	if (own)
		cat_tx_rollback(c);
	return r;
}

int
cat_segments_range(struct cat *c, const char *cluster, int64_t from_rev,
    int64_t to_rev, cat_segment_cb cb, void *arg, struct lb_err *err)
{
	int r;

	r = query(c, "SELECT " SEG_COLS " FROM segments WHERE cluster = ?1 AND "
	    "last_rev >= ?2 AND (?3 < 0 OR first_rev <= ?3) "
	    "ORDER BY first_rev, last_rev, id", cluster, from_rev, to_rev, cb, arg, err);
	return r < 0 ? r : 0;
}

static int
keep_one(const struct cat_segment *s, void *arg)
{
	struct cat_segment **out = arg, *k;

	/* s is freed by query: a copy with strings of its own */
	if ((k = *out = calloc(1, sizeof(**out))) == NULL)
		return LB_E_NOMEM;
	*k = *s;
#define DUP(f) ((k->f = s->f != NULL ? strdup(s->f) : NULL) != NULL || s->f == NULL)
	if (!DUP(cluster) | !DUP(cluster_id) | !DUP(object) | !DUP(stored_sha256) |
	    !DUP(prev_sha256) | !DUP(signer) | !DUP(host) | !DUP(verify_status) |
	    !DUP(verify_detail))
		return LB_E_NOMEM;
#undef DUP
	return 1;
}

int
cat_segment_last(struct cat *c, const char *cluster, struct cat_segment **out,
    struct lb_err *err)
{
	int r;

	*out = NULL;
	r = query(c, "SELECT " SEG_COLS " FROM segments WHERE cluster = ?1 "
	    "ORDER BY last_rev DESC, id DESC LIMIT 1", cluster, 0, 0, keep_one, out, err);
	if (r == LB_E_NOMEM) {
		cat_segment_free(*out);
		*out = NULL;
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	if (r < 0)
		return r;
	return *out == NULL ? LB_E_NOTFOUND : 0;
}

int
cat_segment_known(struct cat *c, const char *object, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if (c->version < 6)
		return 0;
	if ((r = cat_prepare(c, "SELECT 1 FROM segments WHERE object = ?1", &st, err)) < 0)
		return r;
	cat_bind_text(st, 1, object);
	rc = sqlite3_step(st);
	r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 :
	    cat_sqlerr(c, rc, "look a segment up", err);
	sqlite3_finalize(st);
	return r;
}

/* Runs one write statement with ?1 text, ?2 and ?3 text or NULL and ?4
 * a number, those it has (as query). */
static int
write_one(struct cat *c, const char *sql, const char *a, const char *b,
    const char *d, int64_t n, const char *what, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if (c->version < 6)
		return too_old(c, err);
	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, sql, &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, a);
	cat_bind_text(st, 2, b);
	cat_bind_text(st, 3, d);
	sqlite3_bind_int64(st, 4, n);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		r = cat_sqlerr(c, rc, what, err);
		goto out;
	}
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

int
cat_segment_verified(struct cat *c, const char *object, int ok, const char *detail,
    struct lb_err *err)
{
	return write_one(c, "UPDATE segments SET verified_at = ?4, verify_status = ?2, "
	    "verify_detail = ?3 WHERE object = ?1", object, ok ? "ok" : "failed", detail,
	    cat_now(), "record a segment's verification", err);
}

int
cat_segment_delete(struct cat *c, const char *object, struct lb_err *err)
{
	return write_one(c, "DELETE FROM segments WHERE object = ?1", object, NULL, NULL, 0, "forget a segment", err);
}

int
cat_gap_add(struct cat *c, const char *cluster, int64_t after_rev, int64_t resume_rev,
    const char *reason, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if (c->version < 6)
		return too_old(c, err);
	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	/* A capture that fails again at the same place says so once; a
	 * later call with the revision it resumed at completes the row. */
	if ((r = cat_prepare(c, "UPDATE pitr_gaps SET resume_rev = ?3 WHERE cluster = ?1 "
	    "AND after_rev = ?2 AND resume_rev IS NULL AND ?3 >= 0", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, cluster);
	sqlite3_bind_int64(st, 2, after_rev);
	sqlite3_bind_int64(st, 3, resume_rev);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		r = cat_sqlerr(c, rc, "record a gap", err);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((r = cat_prepare(c, "INSERT INTO pitr_gaps (cluster, after_rev, resume_rev, "
	    "reason, detected_at) SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 "
	    "FROM pitr_gaps WHERE cluster = ?1 AND after_rev = ?2)", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, cluster);
	sqlite3_bind_int64(st, 2, after_rev);
	cat_bind_opt(st, 3, resume_rev);
	cat_bind_text(st, 4, reason);
	sqlite3_bind_int64(st, 5, cat_now());
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		r = cat_sqlerr(c, rc, "record a gap", err);
		goto out;
	}
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

/* An unbroken run of segments: every revision from first to last is in
 * one of them. */
struct run {
	int64_t first, last, last_time_ms, segments;
};

struct runs {
	struct run *v;
	size_t n, cap;
};

static int
add_to_runs(const struct cat_segment *s, void *arg)
{
	struct runs *rs = arg;
	struct run *r = rs->n > 0 ? &rs->v[rs->n - 1] : NULL, *nv;

	/* Ordered by first_rev: a segment starting at or before the run's
	 * next revision extends it (overlaps come from a failover). */
	if (r != NULL && s->first_rev <= r->last + 1) {
		if (s->last_rev > r->last)
			r->last = s->last_rev;
		if (s->last_time_ms > r->last_time_ms)
			r->last_time_ms = s->last_time_ms;
		r->segments++;
		return 0;
	}
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;

		if ((nv = realloc(rs->v, cap * sizeof(*nv))) == NULL)
			return LB_E_NOMEM;
		rs->v = nv;
		rs->cap = cap;
	}
	rs->v[rs->n++] = (struct run){ s->first_rev, s->last_rev, s->last_time_ms, 1 };
	return 0;
}

int
cat_pitr_windows(struct cat *c, const char *cluster, cat_window_cb cb, void *arg,
    struct lb_err *err)
{
	struct runs rs = { 0 };
	struct cat_pitr_window w;
	sqlite3_stmt *st = NULL;
	size_t i;
	int r, rc;

	if (c->version < 6)
		return 0;
	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	/* A segment that failed its verification breaks the run it is in. */
	r = query(c, "SELECT " SEG_COLS " FROM segments WHERE cluster = ?1 "
	    "AND verify_status IS NOT 'failed' ORDER BY first_rev, last_rev, id",
	    cluster, 0, 0, add_to_runs, &rs, err);
	if (r == LB_E_NOMEM)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (r < 0)
		goto out;
	if ((r = cat_prepare(c, "SELECT id, revision, started_at FROM backups WHERE "
	    "cluster = ?1 AND status = 'complete' AND revision >= ?2 AND revision < ?3 "
	    "ORDER BY revision, started_at, id LIMIT 1", &st, err)) < 0)
		goto out;
	for (i = 0; i < rs.n; i++) {
		/* The oldest backup whose next revision the run holds. */
		sqlite3_reset(st);
		cat_bind_text(st, 1, cluster);
		sqlite3_bind_int64(st, 2, rs.v[i].first - 1);
		sqlite3_bind_int64(st, 3, rs.v[i].last);
		if ((rc = sqlite3_step(st)) == SQLITE_DONE)
			continue;
		if (rc != SQLITE_ROW) {
			r = cat_sqlerr(c, rc, "read backups", err);
			goto out;
		}
		memset(&w, 0, sizeof(w));
		snprintf(w.backup_id, sizeof(w.backup_id), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		w.from_rev = sqlite3_column_int64(st, 1);
		w.from_time = sqlite3_column_int64(st, 2);
		w.to_rev = rs.v[i].last;
		w.to_time_ms = rs.v[i].last_time_ms;
		w.segments = rs.v[i].segments;
		if ((r = cb(&w, arg)) != 0)
			goto out;
	}
out:
	sqlite3_finalize(st);
	cat_tx_rollback(c);
	free(rs.v);
	return r < 0 ? r : 0;
}

void *
cat_segment_to_json(const struct cat_segment *s)
{
	char t1[32], t2[32], t3[32], t4[32];

	return json_pack("{s:s?,s:s?,s:I,s:I,s:s,s:s,s:I,s:I,s:s?,s:I,s:s?,s:s?,s:s?,"
	    "s:s?,s:s,s:s?,s:s?,s:s?}",
	    "cluster", s->cluster, "cluster_id", s->cluster_id,
	    "first_revision", (json_int_t)s->first_rev, "last_revision", (json_int_t)s->last_rev,
	    "first_time", cat_time_format(s->first_time_ms / 1000, t1, sizeof(t1)),
	    "last_time", cat_time_format(s->last_time_ms / 1000, t2, sizeof(t2)),
	    "revisions", (json_int_t)s->revisions, "events", (json_int_t)s->events,
	    "object", s->object, "stored_size", (json_int_t)s->stored_size,
	    "stored_sha256", s->stored_sha256, "prev_sha256", s->prev_sha256,
	    "signer", s->signer, "host", s->host,
	    "created_at", cat_time_format(s->created_at, t3, sizeof(t3)),
	    "verified_at", s->verified_at >= 0 ?
		cat_time_format(s->verified_at, t4, sizeof(t4)) : NULL,
	    "verify_status", s->verify_status, "verify_detail", s->verify_detail);
}
