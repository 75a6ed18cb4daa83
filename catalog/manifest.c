/*
 * manifest.c: reads a lifeboat-manifest/1 document (bytes from the
 * repository, so from outside: every field is checked for presence, type
 * and shape, and a failure names the field) and records it in the catalog
 * as one backup row and its member rows.
 */
#include "catalog/cat_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MF_FORMAT "lifeboat-manifest/1"
#define MF_STR_MAX 4096
#define MF_MEMBERS_MAX 64

struct mf_member {
	const char *name, *id, *endpoint, *status, *error;
	const char *etcd_sha256, *object, *sha256;
	int learner;
	int64_t revision, raft_index, raft_term, db_size, stored_size;
};

/* Strings point into root, which outlives the struct. */
struct mf {
	json_t *root;
	const char *backup_id, *cluster, *cluster_id, *hostname, *error;
	int status;
	int64_t started_at, finished_at, revision, db_size, stored_size;
	size_t n;
	struct mf_member m[MF_MEMBERS_MAX];
};

enum { OPT = 0, REQ = 1 };

/* where is "" or "members[2]." so messages name the field in full. */
static int
bad(struct lb_err *err, const char *where, const char *key, const char *what)
{
	return lb_err_set(err, LB_E_CORRUPT, "manifest: %s%s: %s", where, key, what);
}

static int
get_str(json_t *o, const char *where, const char *key, int req, const char **out,
    struct lb_err *err)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return req ? bad(err, where, key, "missing") : 0;
	if (!json_is_string(v))
		return bad(err, where, key, "expected a string");
	if (json_string_length(v) > MF_STR_MAX || strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, where, key, "string too long or with a NUL byte");
	*out = json_string_value(v);
	return 0;
}

/* Non-negative integers; absent ones are -1. */
static int
get_int(json_t *o, const char *where, const char *key, int req, int64_t *out,
    struct lb_err *err)
{
	json_t *v = json_object_get(o, key);

	*out = -1;
	if (v == NULL || json_is_null(v))
		return req ? bad(err, where, key, "missing") : 0;
	if (!json_is_integer(v))
		return bad(err, where, key, "expected an integer");
	if (json_integer_value(v) < 0)
		return bad(err, where, key, "expected a non-negative integer");
	*out = json_integer_value(v);
	return 0;
}

static int
get_time(json_t *o, const char *where, const char *key, int64_t *out, struct lb_err *err)
{
	const char *s;
	int r;

	if ((r = get_str(o, where, key, REQ, &s, err)) < 0)
		return r;
	if (cat_time_rfc3339(s, out) < 0)
		return bad(err, where, key, "expected an RFC 3339 time like 2026-11-21T23:45:00Z");
	return 0;
}

static int
is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static int
get_sha256(json_t *o, const char *where, const char *key, int req, const char **out,
    struct lb_err *err)
{
	int r;

	if ((r = get_str(o, where, key, req, out, err)) < 0)
		return r;
	if (*out != NULL && !is_hex(*out, 64, 64))
		return bad(err, where, key, "expected 64 hex digits");
	return 0;
}

static int
parse_member(json_t *o, size_t i, struct mf_member *m, struct lb_err *err)
{
	char where[32];
	json_t *v;
	int r, req;

	snprintf(where, sizeof(where), "members[%zu].", i);
	if (!json_is_object(o))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: members[%zu]: expected an object", i);
	if ((r = get_str(o, where, "name", REQ, &m->name, err)) < 0)
		return r;
	if (!cat_name_ok(m->name, 128))
		return bad(err, where, "name", "expected letters, digits, '.', '_' or '-'");
	if ((r = get_str(o, where, "id", REQ, &m->id, err)) < 0)
		return r;
	if (!is_hex(m->id, 1, 16))
		return bad(err, where, "id", "expected a member id in hex");
	if ((r = get_str(o, where, "endpoint", OPT, &m->endpoint, err)) < 0 ||
	    (r = get_str(o, where, "status", REQ, &m->status, err)) < 0 ||
	    (r = get_str(o, where, "error", OPT, &m->error, err)) < 0)
		return r;
	if (strcmp(m->status, "ok") != 0 && strcmp(m->status, "failed") != 0)
		return bad(err, where, "status", "expected \"ok\" or \"failed\"");
	v = json_object_get(o, "learner");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		return bad(err, where, "learner", "expected true or false");
	m->learner = v != NULL && json_is_true(v);
	/* A member that was taken has all of its facts; a failed one may
	 * have none, but what it has must still be well formed. */
	req = strcmp(m->status, "ok") == 0 ? REQ : OPT;
	if ((r = get_int(o, where, "revision", req, &m->revision, err)) < 0 ||
	    (r = get_int(o, where, "raft_index", OPT, &m->raft_index, err)) < 0 ||
	    (r = get_int(o, where, "raft_term", OPT, &m->raft_term, err)) < 0 ||
	    (r = get_int(o, where, "db_size", req, &m->db_size, err)) < 0 ||
	    (r = get_sha256(o, where, "etcd_sha256", req, &m->etcd_sha256, err)) < 0 ||
	    (r = get_str(o, where, "object", req, &m->object, err)) < 0 ||
	    (r = get_int(o, where, "stored_size", req, &m->stored_size, err)) < 0 ||
	    (r = get_sha256(o, where, "stored_sha256", req, &m->sha256, err)) < 0)
		return r;
	if (m->object != NULL && (m->object[0] == '\0' || m->object[0] == '/' ||
	    strstr(m->object, "..") != NULL))
		return bad(err, where, "object", "expected a relative object key without '..'");
	return 0;
}

/* Parses and checks json into mf; the caller json_decref's mf->root. */
static int
mf_parse(const char *json, struct mf *mf, struct lb_err *err)
{
	json_error_t jerr;
	const char *fmt, *status;
	json_t *members;
	size_t i, j, ok = 0;
	int r;

	memset(mf, 0, sizeof(*mf));
	if (json == NULL)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: empty");
	if (strlen(json) > CAT_MANIFEST_MAX)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: larger than %d bytes",
		    CAT_MANIFEST_MAX);
	if ((mf->root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: not JSON: %s (line %d)",
		    jerr.text, jerr.line);
	if (!json_is_object(mf->root))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: expected a JSON object");
	if ((r = get_str(mf->root, "", "format", REQ, &fmt, err)) < 0)
		return r;
	if (strcmp(fmt, MF_FORMAT) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: format: unsupported '%.64s' "
		    "(this lifeboat reads %s)", fmt, MF_FORMAT);
	if ((r = get_str(mf->root, "", "backup_id", REQ, &mf->backup_id, err)) < 0)
		return r;
	if (!cat_name_ok(mf->backup_id, CAT_ID_MAX))
		return bad(err, "", "backup_id", "expected letters, digits, '.', '_' or '-'");
	if ((r = get_str(mf->root, "", "cluster", REQ, &mf->cluster, err)) < 0)
		return r;
	if (!cat_name_ok(mf->cluster, 128))
		return bad(err, "", "cluster", "expected letters, digits, '.', '_' or '-'");
	/* cluster_id, endpoint and raft index/term are optional, as in the
	 * writer's contract (common/manifest.c); when present they are checked. */
	if ((r = get_str(mf->root, "", "cluster_id", OPT, &mf->cluster_id, err)) < 0)
		return r;
	if (mf->cluster_id != NULL && !is_hex(mf->cluster_id, 1, 16))
		return bad(err, "", "cluster_id", "expected a cluster id in hex");
	if ((r = get_str(mf->root, "", "status", REQ, &status, err)) < 0)
		return r;
	mf->status = cat_status_parse(status);
	if (mf->status < 0 || mf->status == CAT_RUNNING)
		return bad(err, "", "status", "expected \"complete\", \"partial\" or \"failed\"");
	if ((r = get_time(mf->root, "", "started_at", &mf->started_at, err)) < 0 ||
	    (r = get_time(mf->root, "", "finished_at", &mf->finished_at, err)) < 0 ||
	    (r = get_str(mf->root, "", "hostname", OPT, &mf->hostname, err)) < 0 ||
	    (r = get_str(mf->root, "", "error", OPT, &mf->error, err)) < 0)
		return r;
	{
		int req = mf->status == CAT_FAILED ? OPT : REQ;
		if ((r = get_int(mf->root, "", "revision", req, &mf->revision, err)) < 0 ||
		    (r = get_int(mf->root, "", "db_size", req, &mf->db_size, err)) < 0 ||
		    (r = get_int(mf->root, "", "stored_size", req, &mf->stored_size, err)) < 0)
			return r;
	}
	members = json_object_get(mf->root, "members");
	if (members == NULL)
		return bad(err, "", "members", "missing");
	if (!json_is_array(members))
		return bad(err, "", "members", "expected an array");
	if (json_array_size(members) > MF_MEMBERS_MAX)
		return bad(err, "", "members", "more members than lifeboat supports (64)");
	mf->n = json_array_size(members);
	for (i = 0; i < mf->n; i++) {
		if ((r = parse_member(json_array_get(members, i), i, &mf->m[i], err)) < 0)
			return r;
		for (j = 0; j < i; j++)
			if (strcmp(mf->m[j].name, mf->m[i].name) == 0)
				return lb_err_set(err, LB_E_CORRUPT, "manifest: members[%zu].name: "
				    "duplicate '%s'", i, mf->m[i].name);
		ok += strcmp(mf->m[i].status, "ok") == 0;
	}
	/* "complete" is a promise that every member can be restored from. */
	if (mf->status == CAT_COMPLETE && (mf->n == 0 || ok != mf->n))
		return bad(err, "", "status", "\"complete\" but not every member is ok");
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

	for (i = 0; i < mf->n && obj == NULL; i++)
		obj = mf->m[i].object;
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
	sqlite3_stmt *st = NULL;
	char *derived = NULL;
	size_t i;
	int r, ok = 0;

	if (key == NULL)
		key = derived = derive_key(mf);
	for (i = 0; i < mf->n; i++)
		ok += strcmp(mf->m[i].status, "ok") == 0;
	if ((r = cat_prepare(c, "INSERT INTO clusters (name, cluster_id) VALUES (?1, ?2) "
	    "ON CONFLICT (name) DO UPDATE SET cluster_id = excluded.cluster_id", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, mf->cluster);
	cat_bind_text(st, 2, mf->cluster_id);
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
	cat_bind_text(st, 1, mf->backup_id);
	cat_bind_text(st, 2, mf->cluster);
	cat_bind_text(st, 3, mf->cluster_id);
	cat_bind_text(st, 4, cat_status_name((enum cat_status)mf->status));
	sqlite3_bind_int64(st, 5, mf->started_at);
	sqlite3_bind_int64(st, 6, mf->finished_at);
	cat_bind_opt(st, 7, mf->revision);
	cat_bind_opt(st, 8, mf->db_size);
	cat_bind_opt(st, 9, mf->stored_size);
	sqlite3_bind_int(st, 10, ok);
	sqlite3_bind_int(st, 11, (int)mf->n);
	cat_bind_text(st, 12, mf->error);
	cat_bind_text(st, 13, key);
	cat_bind_text(st, 14, json);
	cat_bind_text(st, 15, mf->hostname);
	if ((r = step_done(c, st, err)) < 0)
		goto out;
	sqlite3_finalize(st);
	if ((r = cat_prepare(c, "DELETE FROM members WHERE backup_id = ?1", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, mf->backup_id);
	if ((r = step_done(c, st, err)) < 0)
		goto out;
	sqlite3_finalize(st);
	if ((r = cat_prepare(c, "INSERT INTO members (backup_id, name, member_id, endpoint, "
	    "learner, status, revision, raft_index, raft_term, db_size, etcd_sha256, "
	    "location, stored_size, sha256, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	    "?9, ?10, ?11, ?12, ?13, ?14, ?15)", &st, err)) < 0)
		goto out;
	for (i = 0; i < mf->n; i++) {
		const struct mf_member *m = &mf->m[i];

		sqlite3_reset(st);
		cat_bind_text(st, 1, mf->backup_id);
		cat_bind_text(st, 2, m->name);
		cat_bind_text(st, 3, m->id);
		cat_bind_text(st, 4, m->endpoint);
		sqlite3_bind_int(st, 5, m->learner);
		cat_bind_text(st, 6, m->status);
		cat_bind_opt(st, 7, m->revision);
		cat_bind_opt(st, 8, m->raft_index);
		cat_bind_opt(st, 9, m->raft_term);
		cat_bind_opt(st, 10, m->db_size);
		cat_bind_text(st, 11, m->etcd_sha256);
		cat_bind_text(st, 12, m->object);
		cat_bind_opt(st, 13, m->stored_size);
		cat_bind_text(st, 14, m->sha256);
		cat_bind_text(st, 15, m->error);
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
	struct mf *mf;
	int r;

	/* The member array makes mf a few kB: keep it off the stack. */
	if ((mf = calloc(1, sizeof(*mf))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if ((r = mf_parse(json, mf, err)) < 0)
		goto out;
	if (want_id != NULL && strcmp(want_id, mf->backup_id) != 0) {
		r = lb_err_set(err, LB_E_INTERNAL, "manifest: backup_id: '%s', expected '%s'",
		    mf->backup_id, want_id);
		goto out;
	}
	if (want_status >= 0 && want_status != mf->status) {
		r = lb_err_set(err, LB_E_INTERNAL, "manifest: status: '%s', expected '%s'",
		    cat_status_name((enum cat_status)mf->status),
		    cat_status_name((enum cat_status)want_status));
		goto out;
	}
	r = mf_store(c, mf, json, key, err);
out:
	json_decref(mf->root);
	free(mf);
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
