/*
 * manifest.c: records a lifeboat-manifest/1 document in the catalog as
 * one backup row and its member rows.  Parsing and validation are
 * repo/manifest.c's (the one manifest reader); the catalog adds only
 * what it needs on top: a size bound and times it can store as numbers.
 */
#include "catalog/cat_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/manifest.h"

/* A parsed manifest plus what the catalog derives from it. */
struct mf {
	struct manifest *m;
	int status;
	int64_t started_at, finished_at;
};

/* Absent facts of a failed member are stored as NULL, not 0. */
static int64_t
opt_u64(const struct manifest_member *mm, uint64_t v)
{
	return strcmp(mm->status, "ok") == 0 ? (int64_t)v : -1;
}

/* Parses and checks json into mf; the caller frees mf->m. */
static int
mf_parse(const char *json, struct mf *mf, struct lb_err *err)
{
	size_t len;
	int r;

	memset(mf, 0, sizeof(*mf));
	if (json == NULL || json[0] == '\0')
		return lb_err_set(err, LB_E_CORRUPT, "manifest: empty");
	if ((len = strlen(json)) > CAT_MANIFEST_MAX)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: larger than %d bytes",
		    CAT_MANIFEST_MAX);
	if ((r = manifest_parse(json, len, &mf->m, err)) < 0)
		return r;
	mf->status = cat_status_parse(mf->m->status);
	/* The catalog sorts and filters by time: it needs them as numbers. */
	if (cat_time_rfc3339(mf->m->started_at, &mf->started_at) < 0)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: started_at: expected an "
		    "RFC 3339 time like 2026-11-21T23:45:00Z");
	if (cat_time_rfc3339(mf->m->finished_at, &mf->finished_at) < 0)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: finished_at: expected an "
		    "RFC 3339 time like 2026-11-21T23:45:00Z");
	return 0;
}

static int
step_done(struct cat *c, sqlite3_stmt *st, struct lb_err *err)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE ? 0 : cat_sqlerr(c, rc, "record manifest", err);
}

/* Derives <prefix>/.../<backup-id>/manifest.json from a member's object. */
static char *
derive_key(const struct mf *mf)
{
	const char *obj = NULL, *slash;
	char *key;
	size_t i, n;

	for (i = 0; i < mf->m->n_members && obj == NULL; i++)
		obj = mf->m->members[i].object;
	if (obj == NULL || (slash = strrchr(obj, '/')) == NULL)
		return NULL;
	n = (size_t)(slash - obj) + 1;
	if ((key = malloc(n + sizeof("manifest.json"))) == NULL)
		return NULL;
	memcpy(key, obj, n);
	memcpy(key + n, "manifest.json", sizeof("manifest.json"));
	return key;
}

static int
mf_store(struct cat *c, const struct mf *mf, const char *json, const char *key,
    struct lb_err *err)
{
	const struct manifest *m = mf->m;
	sqlite3_stmt *st = NULL;
	char *derived = NULL;
	size_t i;
	int r, ok = 0;

	if (key == NULL)
		key = derived = derive_key(mf);
	for (i = 0; i < m->n_members; i++)
		ok += strcmp(m->members[i].status, "ok") == 0;
	if ((r = cat_prepare(c, "INSERT INTO clusters (name, cluster_id) VALUES (?1, ?2) "
	    "ON CONFLICT (name) DO UPDATE SET cluster_id = excluded.cluster_id", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, m->cluster);
	cat_bind_text(st, 2, m->cluster_id);
	if ((r = step_done(c, st, err)) < 0)
		goto out;
	sqlite3_finalize(st);
	/* Upsert keeps what only the catalog knows (verification) when a
	 * manifest is recorded again, e.g. by rebuild. */
	if ((r = cat_prepare(c, "INSERT INTO backups (id, cluster, cluster_id, status, "
	    "started_at, finished_at, revision, db_size, stored_size, members_ok, "
	    "members_total, error, manifest_key, manifest, host) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) ON CONFLICT (id) DO UPDATE SET "
	    "cluster = excluded.cluster, cluster_id = excluded.cluster_id, "
	    "status = excluded.status, started_at = excluded.started_at, "
	    "finished_at = excluded.finished_at, revision = excluded.revision, "
	    "db_size = excluded.db_size, stored_size = excluded.stored_size, "
	    "members_ok = excluded.members_ok, members_total = excluded.members_total, "
	    "error = coalesce(excluded.error, error), manifest_key = excluded.manifest_key, "
	    "manifest = excluded.manifest, host = coalesce(excluded.host, host)",
	    &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, m->backup_id);
	cat_bind_text(st, 2, m->cluster);
	cat_bind_text(st, 3, m->cluster_id);
	cat_bind_text(st, 4, cat_status_name((enum cat_status)mf->status));
	sqlite3_bind_int64(st, 5, mf->started_at);
	sqlite3_bind_int64(st, 6, mf->finished_at);
	cat_bind_opt(st, 7, m->revision);
	cat_bind_opt(st, 8, (int64_t)m->db_size);
	cat_bind_opt(st, 9, (int64_t)m->stored_size);
	sqlite3_bind_int(st, 10, ok);
	sqlite3_bind_int(st, 11, (int)m->n_members);
	cat_bind_text(st, 12, NULL);
	cat_bind_text(st, 13, key);
	cat_bind_text(st, 14, json);
	cat_bind_text(st, 15, m->hostname);
	if ((r = step_done(c, st, err)) < 0)
		goto out;
	sqlite3_finalize(st);
	if ((r = cat_prepare(c, "DELETE FROM members WHERE backup_id = ?1", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, m->backup_id);
	if ((r = step_done(c, st, err)) < 0)
		goto out;
	sqlite3_finalize(st);
	if ((r = cat_prepare(c, "INSERT INTO members (backup_id, name, member_id, endpoint, "
	    "learner, status, revision, raft_index, raft_term, db_size, etcd_sha256, "
	    "location, stored_size, sha256, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	    "?9, ?10, ?11, ?12, ?13, ?14, ?15)", &st, err)) < 0)
		goto out;
	for (i = 0; i < m->n_members; i++) {
		const struct manifest_member *mm = &m->members[i];

		sqlite3_reset(st);
		cat_bind_text(st, 1, m->backup_id);
		cat_bind_text(st, 2, mm->name);
		cat_bind_text(st, 3, mm->id);
		cat_bind_text(st, 4, mm->endpoint);
		sqlite3_bind_int(st, 5, mm->learner);
		cat_bind_text(st, 6, mm->status);
		cat_bind_opt(st, 7, strcmp(mm->status, "ok") == 0 ? mm->revision : -1);
		/* Raft index and term are never 0 in a live cluster: 0 is unset. */
		cat_bind_opt(st, 8, mm->raft_index > 0 ? (int64_t)mm->raft_index : -1);
		cat_bind_opt(st, 9, mm->raft_term > 0 ? (int64_t)mm->raft_term : -1);
		cat_bind_opt(st, 10, opt_u64(mm, mm->db_size));
		cat_bind_text(st, 11, mm->etcd_sha256);
		cat_bind_text(st, 12, mm->object);
		cat_bind_opt(st, 13, opt_u64(mm, mm->stored_size));
		cat_bind_text(st, 14, mm->stored_sha256);
		cat_bind_text(st, 15, mm->error);
		if ((r = step_done(c, st, err)) < 0)
			goto out;
	}
out:
	sqlite3_finalize(st);
	free(derived);
	return r;
}

int
cat_manifest_record_tx(struct cat *c, const char *json, const char *key,
    const char *want_id, int want_status, struct lb_err *err)
{
	struct mf mf;
	int r;

	if ((r = mf_parse(json, &mf, err)) < 0)
		goto out;
	if (want_id != NULL && strcmp(want_id, mf.m->backup_id) != 0) {
		r = lb_err_set(err, LB_E_INTERNAL, "manifest: backup_id: '%s', expected '%s'",
		    mf.m->backup_id, want_id);
		goto out;
	}
	if (want_status >= 0 && want_status != mf.status) {
		r = lb_err_set(err, LB_E_INTERNAL, "manifest: status: '%s', expected '%s'",
		    cat_status_name((enum cat_status)mf.status),
		    cat_status_name((enum cat_status)want_status));
		goto out;
	}
	r = mf_store(c, &mf, json, key, err);
out:
	manifest_free(mf.m);
	return r;
}

int
cat_record_manifest_key(struct cat *c, const char *manifest_json,
    const char *manifest_key, struct lb_err *err)
{
	int r;

	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	if ((r = cat_manifest_record_tx(c, manifest_json, manifest_key, NULL, -1, err)) < 0) {
		cat_tx_rollback(c);
		return r;
	}
	return cat_tx_commit(c, err);
}

int
cat_record_manifest(struct cat *c, const char *manifest_json, struct lb_err *err)
{
	return cat_record_manifest_key(c, manifest_json, NULL, err);
}
