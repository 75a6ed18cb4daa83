/*
 * query.c: reading the catalog: backups by filter, by id, the latest one,
 * the dangling running ones, audit events, and the JSON shape the CLI and
 * other parts print them in.  Every read runs in one read transaction, so
 * a backup and its members come from the same snapshot of the file.
 */
#include "catalog/cat_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/buf.h"
#include "repo/manifest.h"

#define BACKUP_COLS "id, cluster, cluster_id, status, started_at, finished_at, " \
	"revision, db_size, stored_size, members_ok, members_total, verified_at, " \
	"verify_status, verify_detail, error, manifest_key, host, manifest"
/* Column 18, from schema 4: NULL before (a catalog opened read-only). */
#define BACKUP_COLS_LOCK ", locked_until"
#define BACKUP_COLS_NOLOCK ", NULL"

#define MEMBER_COLS "name, member_id, endpoint, learner, status, revision, " \
	"raft_index, raft_term, db_size, etcd_sha256, location, stored_size, sha256, error"

/* Internal callback: may take ownership of *b by copying it out and
 * zeroing it (cat_backup_get does). */
typedef int (*own_cb)(struct cat_backup *b, void *arg);

static void
member_clear(struct cat_member *m)
{
	free(m->name);
	free(m->member_id);
	free(m->endpoint);
	free(m->status);
	free(m->etcd_sha256);
	free(m->location);
	free(m->sha256);
	free(m->error);
}

static void
backup_clear(struct cat_backup *b)
{
	int i;

	free(b->id);
	free(b->cluster);
	free(b->cluster_id);
	free(b->verify_status);
	free(b->verify_detail);
	free(b->error);
	free(b->manifest_key);
	free(b->host);
	free(b->manifest);
	for (i = 0; i < b->n_members; i++)
		member_clear(&b->members[i]);
	free(b->members);
	memset(b, 0, sizeof(*b));
}

void
cat_backup_free(struct cat_backup *b)
{
	if (b == NULL)
		return;
	backup_clear(b);
	free(b);
}

static int
row_to_backup(sqlite3_stmt *st, unsigned with, struct cat_backup *b)
{
	int s;

	memset(b, 0, sizeof(*b));
	s = cat_status_parse((const char *)sqlite3_column_text(st, 3));
	b->status = s < 0 ? CAT_FAILED : (enum cat_status)s;
	b->started_at = cat_col_opt(st, 4);
	b->finished_at = cat_col_opt(st, 5);
	b->revision = cat_col_opt(st, 6);
	b->db_size = cat_col_opt(st, 7);
	b->stored_size = cat_col_opt(st, 8);
	b->members_ok = sqlite3_column_int(st, 9);
	b->members_total = sqlite3_column_int(st, 10);
	b->verified_at = cat_col_opt(st, 11);
	b->locked_until = cat_col_opt(st, 18);
	if (cat_col_str(st, 0, &b->id) < 0 || cat_col_str(st, 1, &b->cluster) < 0 ||
	    cat_col_str(st, 2, &b->cluster_id) < 0 || cat_col_str(st, 12, &b->verify_status) < 0 ||
	    cat_col_str(st, 13, &b->verify_detail) < 0 || cat_col_str(st, 14, &b->error) < 0 ||
	    cat_col_str(st, 15, &b->manifest_key) < 0 || cat_col_str(st, 16, &b->host) < 0)
		return -1;
	/* The manifest is read only when asked: SQLite then skips its
	 * overflow pages, which keeps long listings fast. */
	if ((with & CAT_WITH_MANIFEST) && cat_col_str(st, 17, &b->manifest) < 0)
		return -1;
	return 0;
}

/* Member rows are written from parsed manifests only (record.c), so at
 * most MANIFEST_MEMBERS_MAX a backup; MANIFEST_ADD_MAX, what a manifest
 * may hold when written, leaves room for catalogs older than that rule. */
static int
load_members(struct cat *c, sqlite3_stmt *st, struct cat_backup *b, struct lb_err *err)
{
	struct cat_member *m;
	size_t cap = 0;
	int rc;

	sqlite3_reset(st);
	b->members_loaded = 1;
	cat_bind_text(st, 1, b->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (b->n_members >= MANIFEST_ADD_MAX)
			return lb_err_set(err, LB_E_CORRUPT, "catalog: backup %s has more "
			    "than %d members", b->id, MANIFEST_ADD_MAX);
		if (lb_vec_grow(&b->members, &cap, (size_t)b->n_members,
		    sizeof(*b->members), MANIFEST_ADD_MAX) < 0)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
		m = &b->members[b->n_members++];
		memset(m, 0, sizeof(*m));
		m->learner = sqlite3_column_int(st, 3);
		m->revision = cat_col_opt(st, 5);
		m->raft_index = cat_col_opt(st, 6);
		m->raft_term = cat_col_opt(st, 7);
		m->db_size = cat_col_opt(st, 8);
		m->stored_size = cat_col_opt(st, 11);
		if (cat_col_str(st, 0, &m->name) < 0 || cat_col_str(st, 1, &m->member_id) < 0 ||
		    cat_col_str(st, 2, &m->endpoint) < 0 || cat_col_str(st, 4, &m->status) < 0 ||
		    cat_col_str(st, 9, &m->etcd_sha256) < 0 || cat_col_str(st, 10, &m->location) < 0 ||
		    cat_col_str(st, 12, &m->sha256) < 0 || cat_col_str(st, 13, &m->error) < 0)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	return rc == SQLITE_DONE ? 0 : cat_sqlerr(c, rc, "read members", err);
}

/* The one query behind list, get, latest and running.  id selects one
 * backup; otherwise f (may be NULL) filters. */
static int
query_backups(struct cat *c, const struct cat_filter *f, const char *id, unsigned with,
    own_cb cb, void *arg, struct lb_err *err)
{
	sqlite3_stmt *st = NULL, *mst = NULL;
	struct cat_backup b;
	char sql[768];
	size_t n;
	int r, rc;

	memset(&b, 0, sizeof(b));
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT " BACKUP_COLS "%s FROM backups WHERE 1",
	    c->version >= 4 ? BACKUP_COLS_LOCK : BACKUP_COLS_NOLOCK);
	if (id != NULL)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " AND id = :id");
	if (f != NULL && f->cluster != NULL)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " AND cluster = :cluster");
	if (f != NULL && f->status >= 0)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " AND status = :status");
	if (f != NULL && f->since > 0)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " AND started_at >= :since");
	if (f != NULL && f->until > 0)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " AND started_at < :until");
	if (f != NULL && f->skip_future)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " AND started_at <= :future");
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, f != NULL && f->newest_first ?
	    " ORDER BY started_at DESC, id DESC" : " ORDER BY started_at, id");
	if (f != NULL && f->limit > 0)
		snprintf(sql + n, sizeof(sql) - n, " LIMIT :limit");

	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, sql, &st, err)) < 0)
		goto out;
	if (id != NULL)
		cat_bind_text(st, sqlite3_bind_parameter_index(st, ":id"), id);
	if (f != NULL) {
		if (f->cluster != NULL)
			cat_bind_text(st, sqlite3_bind_parameter_index(st, ":cluster"), f->cluster);
		if (f->status >= 0)
			cat_bind_text(st, sqlite3_bind_parameter_index(st, ":status"),
			    cat_status_name((enum cat_status)f->status));
		if (f->since > 0)
			sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":since"), f->since);
		if (f->until > 0)
			sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":until"), f->until);
		if (f->limit > 0)
			sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"), f->limit);
		if (f->skip_future)
			sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":future"),
			    (int64_t)time(NULL) + CAT_FUTURE_SKEW_S);
	}
	if ((with & CAT_WITH_MEMBERS) && (r = cat_prepare(c, "SELECT " MEMBER_COLS
	    " FROM members WHERE backup_id = ?1 ORDER BY name", &mst, err)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row_to_backup(st, with, &b) < 0) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		if ((with & CAT_WITH_MEMBERS) && (r = load_members(c, mst, &b, err)) < 0)
			goto out;
		if ((r = cb(&b, arg)) != 0)
			goto out;
		backup_clear(&b);
	}
	if (rc != SQLITE_DONE)
		r = cat_sqlerr(c, rc, "read backups", err);
out:
	backup_clear(&b);
	sqlite3_finalize(st);
	sqlite3_finalize(mst);
	/* A read transaction has nothing to lose: end it either way. */
	cat_tx_rollback(c);
	return r;
}

struct pub_cb {
	cat_backup_cb cb;
	void *arg;
};

static int
call_pub(struct cat_backup *b, void *arg)
{
	const struct pub_cb *p = arg;

	return p->cb(b, p->arg);
}

int
cat_backup_list(struct cat *c, const struct cat_filter *f, unsigned with,
    cat_backup_cb cb, void *arg, struct lb_err *err)
{
	struct pub_cb p = { cb, arg };
	struct cat_filter any = { .status = -1 };

	return query_backups(c, f != NULL ? f : &any, NULL, with, call_pub, &p, err);
}

int
cat_backups_running(struct cat *c, const char *cluster, cat_backup_cb cb, void *arg,
    struct lb_err *err)
{
	struct pub_cb p = { cb, arg };
	struct cat_filter f = { .cluster = cluster, .status = CAT_RUNNING };

	return query_backups(c, &f, NULL, 0, call_pub, &p, err);
}

static int
take_one(struct cat_backup *b, void *arg)
{
	struct cat_backup **out = arg;

	if ((*out = malloc(sizeof(**out))) == NULL)
		return LB_E_NOMEM;
	**out = *b;
	memset(b, 0, sizeof(*b));
	return 1;
}

static int
get_impl(struct cat *c, const struct cat_filter *f, const char *id, unsigned with,
    struct cat_backup **out, struct lb_err *err)
{
	int r;

	*out = NULL;
	r = query_backups(c, f, id, with, take_one, out, err);
	if (r == LB_E_NOMEM)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (r < 0)
		return r;
	if (*out == NULL)
		return LB_E_NOTFOUND;
	return 0;
}

int
cat_backup_get(struct cat *c, const char *backup_id, unsigned with,
    struct cat_backup **out, struct lb_err *err)
{
	struct cat_filter any = { .status = -1 };
	int r = get_impl(c, &any, backup_id, with, out, err);

	if (r == LB_E_NOTFOUND)
		lb_err_set(err, r, "catalog: no backup %s", backup_id);
	return r;
}

int
cat_backup_latest(struct cat *c, const char *cluster, int status, unsigned with,
    struct cat_backup **out, struct lb_err *err)
{
	struct cat_filter f = { .cluster = cluster, .status = status, .newest_first = 1,
	    .limit = 1, .skip_future = 1 };
	int r = get_impl(c, &f, NULL, with, out, err);

	if (r == LB_E_NOTFOUND)
		lb_err_set(err, r, "catalog: no %s backup%s%s", status >= 0 ?
		    cat_status_name((enum cat_status)status) : "", cluster ? " of cluster " : "",
		    cluster ? cluster : "");
	return r;
}

/* The audit columns every audit read selects, in this order; ref came
 * with schema 3, so an older catalog opened read-only reads NULL. */
#define AUDIT_COLUMNS(c) ((c)->version >= 3 ? \
	"id, at, action, cluster, backup_id, outcome, os_user, host, details, ref" : \
	"id, at, action, cluster, backup_id, outcome, os_user, host, details, NULL")

int
cat_audit_rows(struct cat *c, const char *rest, int64_t a, int64_t b,
    cat_audit_cb cb, void *arg, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	struct cat_audit_event e;
	char sql[512];
	int r, rc;

	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	snprintf(sql, sizeof(sql), "SELECT %s FROM audit %s", AUDIT_COLUMNS(c), rest);
	if ((r = cat_prepare(c, sql, &st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e.id = sqlite3_column_int64(st, 0);
		e.at = sqlite3_column_int64(st, 1);
		e.action = (const char *)sqlite3_column_text(st, 2);
		e.cluster = (const char *)sqlite3_column_text(st, 3);
		e.backup_id = (const char *)sqlite3_column_text(st, 4);
		e.outcome = (const char *)sqlite3_column_text(st, 5);
		e.os_user = (const char *)sqlite3_column_text(st, 6);
		e.host = (const char *)sqlite3_column_text(st, 7);
		e.details = (const char *)sqlite3_column_text(st, 8);
		e.ref = (const char *)sqlite3_column_text(st, 9);
		if ((r = cb(&e, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = cat_sqlerr(c, rc, "read audit events", err);
out:
	sqlite3_finalize(st);
	cat_tx_rollback(c);
	return r;
}

int
cat_audit_list(struct cat *c, int64_t since, int64_t until, cat_audit_cb cb, void *arg,
    struct lb_err *err)
{
	return cat_audit_rows(c, "WHERE at >= ?1 AND (?2 <= 0 OR at < ?2) ORDER BY id",
	    since, until, cb, arg, err);
}

int
cat_audit_has_ref(struct cat *c, const char *ref, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if (c->version < 3)
		return 0;
	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, "SELECT 1 FROM audit WHERE ref = ?1", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, ref);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = 1;
	else if (rc != SQLITE_DONE)
		r = cat_sqlerr(c, rc, "read audit events", err);
out:
	sqlite3_finalize(st);
	cat_tx_rollback(c);
	return r;
}

int
cat_manifest_last(struct cat *c, const char *cluster, char **json, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*json = NULL;
	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	/* the chain's end: the highest sequence (format 2), else, before
	 * any, the newest backup with a manifest */
	if ((r = cat_prepare(c, "SELECT manifest FROM backups WHERE cluster = ?1 AND "
	    "manifest IS NOT NULL ORDER BY json_extract(manifest, '$.sequence') DESC, "
	    "started_at DESC, id DESC LIMIT 1", &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((*json = strdup((const char *)sqlite3_column_text(st, 0))) == NULL)
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		r = lb_err_set(err, LB_E_NOTFOUND, "catalog: no manifest of cluster %s", cluster);
	} else {
		r = cat_sqlerr(c, rc, "read the last manifest", err);
	}
out:
	sqlite3_finalize(st);
	cat_tx_rollback(c);
	return r;
}

int
cat_sequence_max(struct cat *c, const char *cluster, int64_t *max, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*max = 0;
	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, "SELECT coalesce(max(json_extract(manifest, '$.sequence')), 0) "
	    "FROM backups WHERE cluster = ?1 AND manifest IS NOT NULL", &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*max = sqlite3_column_int64(st, 0);
	else
		r = cat_sqlerr(c, rc, "read the highest sequence", err);
out:
	sqlite3_finalize(st);
	cat_tx_rollback(c);
	return r;
}

#define REVISIONS_OF_RUNS \
	"SELECT at, json_extract(details, '$.revision_seen') AS rev FROM audit " \
	"WHERE action = 'backup' AND cluster = ?1 AND rev > 0 " \
	"UNION ALL SELECT coalesce(finished_at, started_at), revision FROM backups " \
	"WHERE cluster = ?1 AND revision > 0 "

int
cat_revisions(struct cat *c, const char *cluster, cat_revision_cb cb, void *arg,
    struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = cat_tx_read(c, err)) < 0)
		return r;
	/* every run's event (complete, partial and failed: revision_seen),
	 * the backups' own revisions (at their end) and, from schema 2 on,
	 * the daemon's sample between runs; time order */
	if ((r = cat_prepare(c, c->version >= 2 ?
	    REVISIONS_OF_RUNS "UNION ALL SELECT at, revision FROM revision_seen "
	    "WHERE cluster = ?1 ORDER BY 1, 2" : REVISIONS_OF_RUNS "ORDER BY 1, 2",
	    &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = cb(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), arg)) != 0)
			goto out;
	if (rc != SQLITE_DONE)
		r = cat_sqlerr(c, rc, "read revisions", err);
out:
	sqlite3_finalize(st);
	cat_tx_rollback(c);
	return r;
}

/* --- JSON ------------------------------------------------------------------ */

static json_t *
j_str(const char *s)
{
	json_t *v;
	char *copy, *p;

	if (s == NULL)
		return json_null();
	if ((v = json_string(s)) != NULL || (copy = strdup(s)) == NULL)
		return v;
	/* Not UTF-8 (a host name, a caller's error text): show it mangled
	 * rather than fail the whole document. */
	for (p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

static json_t *
j_int(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

static json_t *
j_time(int64_t t)
{
	char buf[32];

	return t >= 0 ? json_string(cat_time_format(t, buf, sizeof(buf))) : json_null();
}

int64_t
cat_backup_snapshots_size(const struct cat_backup *b)
{
	int64_t sum = 0;
	int i;

	/* the members that were stored: stored_size sums the same ones */
	for (i = 0; i < b->n_members; i++)
		if (b->members[i].db_size > 0 && b->members[i].stored_size > 0)
			sum += b->members[i].db_size;
	if (!b->members_loaded && b->db_size > 0 && b->members_ok > 0)
		sum = b->db_size * b->members_ok;
	return sum > 0 ? sum : -1;
}

static json_t *
member_json(const struct cat_member *m)
{
	return json_pack("{s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "name", j_str(m->name),
	    "id", j_str(m->member_id),
	    "endpoint", j_str(m->endpoint),
	    "learner", m->learner,
	    "status", j_str(m->status),
	    "revision", j_int(m->revision),
	    "raft_index", j_int(m->raft_index),
	    "raft_term", j_int(m->raft_term),
	    "db_size", j_int(m->db_size),
	    "etcd_sha256", j_str(m->etcd_sha256),
	    "location", j_str(m->location),
	    "stored_size", j_int(m->stored_size),
	    "sha256", j_str(m->sha256),
	    "error", j_str(m->error));
}

void *
cat_backup_to_json(const struct cat_backup *b)
{
	json_t *o, *arr, *mf;
	int64_t snaps;
	int i;

	o = json_pack("{s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:o, s:o, "
	    "s:o, s:o, s:o, s:o}",
	    "id", j_str(b->id),
	    "cluster", j_str(b->cluster),
	    "cluster_id", j_str(b->cluster_id),
	    "status", cat_status_name(b->status),
	    "started_at", j_time(b->started_at),
	    "finished_at", j_time(b->finished_at),
	    "revision", j_int(b->revision),
	    "db_size", j_int(b->db_size),
	    "stored_size", j_int(b->stored_size),
	    "members_ok", b->members_ok,
	    "members_total", b->members_total,
	    "verified_at", j_time(b->verified_at),
	    "verify_status", j_str(b->verify_status),
	    "verify_detail", j_str(b->verify_detail),
	    "error", j_str(b->error),
	    "manifest_key", j_str(b->manifest_key),
	    "host", j_str(b->host));
	if (o == NULL)
		return NULL;
	/* added beside db_size (one member's database) and stored_size (all
	 * objects): the plaintext behind stored_size, and their ratio */
	snaps = cat_backup_snapshots_size(b);
	if (json_object_set_new(o, "snapshots_size", j_int(snaps)) < 0 ||
	    json_object_set_new(o, "ratio", snaps > 0 && b->stored_size > 0 ?
	    json_real((double)snaps / (double)b->stored_size) : json_null()) < 0 ||
	    json_object_set_new(o, "locked_until", j_time(b->locked_until)) < 0 ||
	    json_object_set_new(o, "future",
	    json_boolean(cat_is_future(b->started_at, (int64_t)time(NULL)))) < 0)
		goto fail;
	if (b->members_loaded) {
		if ((arr = json_array()) == NULL || json_object_set_new(o, "members", arr) < 0)
			goto fail;
		for (i = 0; i < b->n_members; i++)
			if (json_array_append_new(arr, member_json(&b->members[i])) < 0)
				goto fail;
	}
	if (b->manifest != NULL) {
		/* Stored manifests were parsed on the way in; a text that no
		 * longer parses is shown as text rather than hidden. */
		mf = json_loads(b->manifest, 0, NULL);
		if (json_object_set_new(o, "manifest", mf != NULL ? mf : json_string(b->manifest)) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}
