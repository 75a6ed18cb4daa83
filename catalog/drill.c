/*
 * drill.c: the catalog's record of restore drills (catalog.h, "restore
 * drills"), written by restore/drill.c and read by catalog list/show and
 * the status page.  SQL only; what a drill is lives in restore/drill.h.
 */
#include "catalog/cat_impl.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define DRILL_COLS "id, cluster, backup_id, started_at, finished_at, result, error, " \
	"rto_ms, fetch_ms, restore_ms, start_ms, check_ms, revision, keys, hashkv, " \
	"etcd_version, objects, os_user, host"

static int
too_old(const struct cat *c, struct lb_err *err)
{
	return lb_err_set(err, LB_E_CONFIG, "catalog %s: schema version %d has no "
	    "drills (open it for writing to upgrade it)", c->path, c->version);
}

int
cat_drill_add(struct cat *c, const struct cat_drill *d, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	char user[64], host[256];
	int r, rc;

	if (c->version < 5)
		return too_old(c, err);
	cat_whoami(user, sizeof(user), host, sizeof(host));
	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, "INSERT INTO drills (cluster, backup_id, started_at, "
	    "finished_at, result, error, rto_ms, fetch_ms, restore_ms, start_ms, check_ms, "
	    "revision, keys, hashkv, etcd_version, objects, os_user, host) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
	    &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, d->cluster);
	cat_bind_text(st, 2, d->backup_id);
	sqlite3_bind_int64(st, 3, d->started_at);
	sqlite3_bind_int64(st, 4, d->finished_at);
	cat_bind_text(st, 5, d->result);
	cat_bind_text(st, 6, d->error);
	cat_bind_opt(st, 7, d->rto_ms);
	cat_bind_opt(st, 8, d->fetch_ms);
	cat_bind_opt(st, 9, d->restore_ms);
	cat_bind_opt(st, 10, d->start_ms);
	cat_bind_opt(st, 11, d->check_ms);
	cat_bind_opt(st, 12, d->revision);
	cat_bind_opt(st, 13, d->keys);
	cat_bind_opt(st, 14, d->hashkv);
	cat_bind_text(st, 15, d->etcd_version);
	cat_bind_text(st, 16, d->objects);
	cat_bind_text(st, 17, user);
	cat_bind_text(st, 18, host);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		r = cat_sqlerr(c, rc, "record a drill", err);
		goto out;
	}
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

void
cat_drill_free(struct cat_drill *d)
{
	if (d == NULL)
		return;
	free(d->cluster);
	free(d->backup_id);
	free(d->result);
	free(d->error);
	free(d->etcd_version);
	free(d->objects);
	free(d->os_user);
	free(d->host);
	free(d);
}

/* The row st stands on, into a new struct cat_drill (NULL: no memory). */
static struct cat_drill *
row(sqlite3_stmt *st)
{
	struct cat_drill *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->id = sqlite3_column_int64(st, 0);
	d->started_at = sqlite3_column_int64(st, 3);
	d->finished_at = sqlite3_column_int64(st, 4);
	d->rto_ms = cat_col_opt(st, 7);
	d->fetch_ms = cat_col_opt(st, 8);
	d->restore_ms = cat_col_opt(st, 9);
	d->start_ms = cat_col_opt(st, 10);
	d->check_ms = cat_col_opt(st, 11);
	d->revision = cat_col_opt(st, 12);
	d->keys = cat_col_opt(st, 13);
	d->hashkv = cat_col_opt(st, 14);
	if (cat_col_str(st, 1, &d->cluster) < 0 || cat_col_str(st, 2, &d->backup_id) < 0 ||
	    cat_col_str(st, 5, &d->result) < 0 || cat_col_str(st, 6, &d->error) < 0 ||
	    cat_col_str(st, 15, &d->etcd_version) < 0 || cat_col_str(st, 16, &d->objects) < 0 ||
	    cat_col_str(st, 17, &d->os_user) < 0 || cat_col_str(st, 18, &d->host) < 0) {
		cat_drill_free(d);
		return NULL;
	}
	return d;
}

/* Runs the select of drills of cluster (NULL: any), of backup_id (NULL:
 * any), since (0: ever), newest first with limit 1 when last. */
static int
query(struct cat *c, const char *cluster, const char *backup_id, int64_t since,
    int last, cat_drill_cb cb, void *arg, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	struct cat_drill *d;
	int r, rc, own;

	if (c->version < 5)
		return 0;          /* read-only open of an older catalog: none */
	/* inside a listing's read (catalog list asks per backup) the
	 * transaction is the caller's */
	own = sqlite3_get_autocommit(c->db);
	if (own && (r = cat_tx_read(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, last ?
	    "SELECT " DRILL_COLS " FROM drills WHERE (?1 IS NULL OR cluster = ?1) AND "
	    "(?2 IS NULL OR backup_id = ?2) AND started_at >= ?3 "
	    "ORDER BY started_at DESC, id DESC LIMIT 1" :
	    "SELECT " DRILL_COLS " FROM drills WHERE (?1 IS NULL OR cluster = ?1) AND "
	    "(?2 IS NULL OR backup_id = ?2) AND started_at >= ?3 "
	    "ORDER BY started_at, id", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, cluster);
	cat_bind_text(st, 2, backup_id);
	sqlite3_bind_int64(st, 3, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((d = row(st)) == NULL) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		r = cb(d, arg);
		cat_drill_free(d);
		if (r != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = cat_sqlerr(c, rc, "read drills", err);
out:
	sqlite3_finalize(st);
	if (own)
		cat_tx_rollback(c);
	return r;
}

static int
keep_one(const struct cat_drill *d, void *arg)
{
	struct cat_drill **out = arg, *k;

	/* d is freed by query: a copy with strings of its own */
	if ((k = *out = calloc(1, sizeof(**out))) == NULL)
		return LB_E_NOMEM;
	*k = *d;
	k->cluster = k->backup_id = k->result = k->error = NULL;
	k->etcd_version = k->objects = k->os_user = k->host = NULL;
#define DUP(f) ((k->f = d->f != NULL ? strdup(d->f) : NULL) != NULL || d->f == NULL)
	if (!DUP(cluster) || !DUP(backup_id) || !DUP(result) || !DUP(error) ||
	    !DUP(etcd_version) || !DUP(objects) || !DUP(os_user) || !DUP(host))
		return LB_E_NOMEM;
#undef DUP
	return 1;
}

int
cat_drill_last(struct cat *c, const char *cluster, const char *backup_id,
    struct cat_drill **out, struct lb_err *err)
{
	int r;

	*out = NULL;
	r = query(c, cluster, backup_id, 0, 1, keep_one, out, err);
	if (r == LB_E_NOMEM) {
		cat_drill_free(*out);
		*out = NULL;
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	if (r < 0)
		return r;
	return *out == NULL ? LB_E_NOTFOUND : 0;
}

int
cat_drill_list(struct cat *c, const char *cluster, int64_t since, cat_drill_cb cb,
    void *arg, struct lb_err *err)
{
	return query(c, cluster, NULL, since, 0, cb, arg, err);
}

static json_t *
opt_int(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static json_t *
opt_secs(int64_t ms)
{
	return ms < 0 ? json_null() : json_real((double)ms / 1000.0);
}

void *
cat_drill_to_json(const struct cat_drill *d)
{
	char t1[32], t2[32], hash[16];
	json_t *o, *objs = NULL;

	if (d->objects != NULL)
		objs = json_loads(d->objects, 0, NULL);
	snprintf(hash, sizeof(hash), "%08llx", (unsigned long long)d->hashkv);
	o = json_pack("{s:s?,s:s?,s:s,s:s,s:s?,s:s?,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
	    "s:s?,s:s?,s:o,s:s?,s:s?}",
	    "cluster", d->cluster, "backup_id", d->backup_id,
	    "started_at", cat_time_format(d->started_at, t1, sizeof(t1)),
	    "finished_at", cat_time_format(d->finished_at, t2, sizeof(t2)),
	    "result", d->result, "error", d->error,
	    "rto_seconds", opt_secs(d->rto_ms), "fetch_seconds", opt_secs(d->fetch_ms),
	    "restore_seconds", opt_secs(d->restore_ms), "start_seconds", opt_secs(d->start_ms),
	    "check_seconds", opt_secs(d->check_ms), "revision", opt_int(d->revision),
	    "keys", opt_int(d->keys), "id", json_integer((json_int_t)d->id),
	    "hashkv", d->hashkv >= 0 ? hash : NULL, "etcd_version", d->etcd_version,
	    "objects", objs != NULL ? objs : json_null(),
	    "os_user", d->os_user, "host", d->host);
	return o;
}
