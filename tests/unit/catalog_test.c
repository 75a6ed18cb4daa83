/*
 * catalog_test.c: the catalog against real SQLite files in a temporary
 * directory: migrations, refusals, manifests in and JSON out, status
 * transitions, audit immutability, two connections at once, corrupt
 * files, filters and time parsing.  Raw sqlite3 connections play the
 * other process (or the person with the sqlite3 shell).
 */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "catalog/spool.h"
#include "tests/harness.h"

static char tmpdir[256];
static int seq;

/* A fresh path in the temp dir for each test. */
static const char *
newpath(char *buf, size_t len)
{
	snprintf(buf, len, "%s/c%d/catalog.db", tmpdir, ++seq);
	return buf;
}

static const char *HEX64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* A manifest like backup writes: n members, the first nfail of them failed. */
static char *
manifest(const char *id, const char *cluster, int64_t started, const char *status,
    int n, int nfail)
{
	char t1[32], t2[32], name[16], obj[256];
	json_t *root, *members, *m;
	char *s;
	int i;

	cat_time_format(started, t1, sizeof(t1));
	cat_time_format(started + 9, t2, sizeof(t2));
	members = json_array();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "m%d", i + 1);
		snprintf(obj, sizeof(obj), "%s/2026/11/21/%s/%s.db.zst.age", cluster, id, name);
		if (i < nfail)
			m = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "name", name,
			    "id", "8e9e05c52164694d", "endpoint", "http://127.0.0.1:2379",
			    "learner", 0, "status", "failed", "error", "connection refused");
		else
			m = json_pack("{s:s, s:s, s:s, s:b, s:b, s:s, s:n, s:s, s:I, s:I, s:I, "
			    "s:I, s:s, s:s, s:I, s:s, s:s, s:s}",
			    "name", name, "id", "8e9e05c52164694d", "endpoint",
			    "http://127.0.0.1:2379", "learner", i == 2, "leader", i == 0,
			    "status", "ok", "error", "etcd_version", "3.4.23",
			    "revision", (json_int_t)12345, "raft_index", (json_int_t)100,
			    "raft_term", (json_int_t)2, "db_size", (json_int_t)1048576,
			    "etcd_sha256", HEX64, "object", obj,
			    "stored_size", (json_int_t)300000 + i, "stored_sha256", HEX64,
			    "started_at", t1, "finished_at", t2);
		json_array_append_new(members, m);
	}
	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, "
	    "s:I, s:{s:s, s:i, s:i}, s:o}",
	    "format", "lifeboat-manifest/1", "backup_id", id, "cluster", cluster,
	    "cluster_id", "cdf818194e3a8c32", "status", status, "started_at", t1,
	    "finished_at", t2, "lifeboat_version", "0.1.0", "hostname", "h",
	    "leader", "m1", "etcd_version", "3.4.23", "revision", (json_int_t)12345,
	    "db_size", (json_int_t)1048576, "stored_size", (json_int_t)300000 * n,
	    "compression", "algorithm", "zstd", "level", 3, "threads", 2,
	    "members", members);
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

static int64_t T0 = 1795304700;  /* 2026-11-21T23:45:00Z */

static int
count_cb(const struct cat_backup *b, void *arg)
{
	(void)b;
	(*(int *)arg)++;
	return 0;
}

static int
count_list(struct cat *c, const struct cat_filter *f)
{
	struct lb_err err = { 0 };
	int n = 0;

	if (cat_backup_list(c, f, 0, count_cb, &n, &err) < 0)
		return -1;
	return n;
}

/* One integer from a raw connection, as another program would see it. */
static int64_t
raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -999;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int
raw_exec(const char *path, const char *sql, char *msg, size_t len)
{
	sqlite3 *db = NULL;
	char *e = NULL;
	int rc;

	sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	rc = sqlite3_exec(db, sql, NULL, NULL, &e);
	if (msg != NULL)
		snprintf(msg, len, "%s", e ? e : "");
	sqlite3_free(e);
	sqlite3_close(db);
	return rc;
}

static void
test_migrations_from_empty(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct stat st;
	char p[512], dir[512];

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	CHECK_INT(cat_schema_version(c), ==, CAT_SCHEMA_VERSION);
	cat_close(c);
	c = NULL;
	CHECK_INT(stat(p, &st), ==, 0);
	CHECK_INT(st.st_mode & 0777, ==, 0600);
	snprintf(dir, sizeof(dir), "%s/c%d", tmpdir, seq);
	CHECK_INT(stat(dir, &st), ==, 0);
	CHECK_INT(st.st_mode & 0777, ==, 0700);
	CHECK_INT(raw_int(p, "PRAGMA user_version"), ==, CAT_SCHEMA_VERSION);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
	    "name IN ('clusters', 'backups', 'members', 'audit')"), ==, 4);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"), ==, 2);
	/* WAL is a property of the file: a fresh connection sees it. */
	CHECK_INT(raw_int(p, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), ==, 1);
	/* Opening again applies nothing and keeps the data. */
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	CHECK_OK(cat_audit(c, CAT_ACT_REBUILD, NULL, NULL, "ok", NULL, &err), &err);
	cat_close(c);
	CHECK_OK(cat_open(p, CAT_OPEN_READONLY, &c, &err), &err);
	cat_close(c);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM audit"), ==, 1);
}

static void
test_refuses_newer_schema(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	char p[512];
	int r;

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	cat_close(c);
	c = NULL;
	CHECK_INT(raw_exec(p, "PRAGMA user_version = 99", NULL, 0), ==, SQLITE_OK);
	r = cat_open(p, 0, &c, &err);
	CHECK_INT(r, ==, LB_E_CONFIG);
	CHECK(c == NULL);
	CHECK_CONTAINS(err.msg, "schema version 99 is newer");
	r = cat_open(p, CAT_OPEN_READONLY, &c, &err);
	CHECK_INT(r, ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "newer");
	/* The refusal left the file alone. */
	CHECK_INT(raw_int(p, "PRAGMA user_version"), ==, 99);
}

struct revs {
	int n;
	int64_t at[8], rev[8];
};

static int
rev_cb(int64_t at, int64_t revision, void *arg)
{
	struct revs *x = arg;

	if (x->n < 8) {
		x->at[x->n] = at;
		x->rev[x->n] = revision;
	}
	x->n++;
	return 0;
}

/* The daemon's samples between runs: one row per cluster, replaced,
 * listed with the runs' revisions in time order; a catalog of schema 1
 * (before the table) still reads, read-only, and is upgraded by a
 * writable open. */
static void
test_revision_samples(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct revs x = { 0 };
	int64_t now = (int64_t)time(NULL);
	char p[512];

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	CHECK_OK(cat_audit(c, CAT_ACT_BACKUP, "prod", "b1", "partial",
	    "{ \"revision_seen\": 500 }", &err), &err);
	CHECK_OK(cat_revision_note(c, "prod", now + 100, 700, &err), &err);
	CHECK_OK(cat_revision_note(c, "prod", now + 200, 900, &err), &err);
	CHECK_OK(cat_revision_note(c, "other", now + 300, 5, &err), &err);
	CHECK_OK(cat_revisions(c, "prod", rev_cb, &x, &err), &err);
	CHECK_INT(x.n, ==, 2);
	CHECK_INT(x.rev[0], ==, 500);
	CHECK_INT(x.at[1], ==, now + 200);
	CHECK_INT(x.rev[1], ==, 900);
	cat_close(c);
	c = NULL;
	CHECK_INT(raw_int(p, "SELECT count(*) FROM revision_seen"), ==, 2);

	/* back to schema 1, as an older lifeboat left it */
	CHECK_INT(raw_exec(p, "DROP TABLE segments; DROP TABLE pitr_gaps; "
	    "DROP TABLE drills; DROP TABLE revision_seen; "
	    "DROP INDEX audit_ref; "
	    "ALTER TABLE audit DROP COLUMN ref; ALTER TABLE backups DROP COLUMN "
	    "locked_until; PRAGMA user_version = 1", NULL, 0),
	    ==, SQLITE_OK);
	CHECK_OK(cat_open(p, CAT_OPEN_READONLY, &c, &err), &err);
	CHECK_INT(cat_schema_version(c), ==, 1);
	x.n = 0;
	CHECK_OK(cat_revisions(c, "prod", rev_cb, &x, &err), &err);
	CHECK_INT(x.n, ==, 1);
	CHECK_INT(x.rev[0], ==, 500);
	CHECK(cat_revision_note(c, "prod", now, 1, &err) < 0);
	cat_close(c);
	c = NULL;
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	CHECK_INT(cat_schema_version(c), ==, CAT_SCHEMA_VERSION);
	CHECK_OK(cat_revision_note(c, "prod", now + 400, 1000, &err), &err);
	cat_close(c);
	CHECK_INT(raw_int(p, "SELECT revision FROM revision_seen"), ==, 1000);
}

static void
test_refuses_foreign_database(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	char p[512];

	newpath(p, sizeof(p));
	{
		char dir[512];
		snprintf(dir, sizeof(dir), "%s/c%d", tmpdir, seq);
		mkdir(dir, 0700);
	}
	{
		sqlite3 *db;
		CHECK_INT(sqlite3_open(p, &db), ==, SQLITE_OK);
		sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	CHECK_INT(cat_open(p, 0, &c, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "not a lifeboat catalog");
	CHECK_INT(raw_int(p, "SELECT count(*) FROM sqlite_schema"), ==, 1);
}

static void
test_readonly_missing_and_no_writes(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	char p[512];

	newpath(p, sizeof(p));
	CHECK_INT(cat_open(p, CAT_OPEN_READONLY, &c, &err), ==, LB_E_NOTFOUND);
	CHECK_CONTAINS(err.msg, "does not exist");
	CHECK_INT(access(p, F_OK), ==, -1);
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	cat_close(c);
	CHECK_OK(cat_open(p, CAT_OPEN_READONLY, &c, &err), &err);
	CHECK(cat_audit(c, CAT_ACT_BACKUP, "prod", NULL, "ok", NULL, &err) < 0);
	cat_close(c);
}

/* Collects the JSON of every listed backup into an array. */
static int
json_cb(const struct cat_backup *b, void *arg)
{
	json_array_append_new((json_t *)arg, cat_backup_to_json(b));
	return 0;
}

static void
test_manifest_round_trip(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct cat_backup *b = NULL;
	json_t *arr = NULL, *o, *m, *mf;
	char p[512], *doc = NULL;

	newpath(p, sizeof(p));
	doc = manifest("20261121T234500Z-3f9a1c", "prod", T0, "complete", 3, 0);
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	CHECK_OK(cat_record_manifest(c, doc, &err), &err);
	/* Recording it again (rebuild) replaces, never duplicates. */
	CHECK_OK(cat_record_manifest(c, doc, &err), &err);
	arr = json_array();
	CHECK_OK(cat_backup_list(c, NULL, CAT_WITH_MEMBERS, json_cb, arr, &err), &err);
	CHECK_INT(json_array_size(arr), ==, 1);
	o = json_array_get(arr, 0);
	CHECK_STR(json_string_value(json_object_get(o, "id")), "20261121T234500Z-3f9a1c");
	CHECK_STR(json_string_value(json_object_get(o, "cluster")), "prod");
	CHECK_STR(json_string_value(json_object_get(o, "cluster_id")), "cdf818194e3a8c32");
	CHECK_STR(json_string_value(json_object_get(o, "status")), "complete");
	CHECK_STR(json_string_value(json_object_get(o, "started_at")), "2026-11-21T23:45:00Z");
	CHECK_STR(json_string_value(json_object_get(o, "finished_at")), "2026-11-21T23:45:09Z");
	CHECK_INT(json_integer_value(json_object_get(o, "revision")), ==, 12345);
	CHECK_INT(json_integer_value(json_object_get(o, "db_size")), ==, 1048576);
	CHECK_INT(json_integer_value(json_object_get(o, "stored_size")), ==, 900000);
	CHECK_INT(json_integer_value(json_object_get(o, "members_ok")), ==, 3);
	CHECK(json_is_null(json_object_get(o, "verified_at")));
	CHECK_STR(json_string_value(json_object_get(o, "manifest_key")),
	    "prod/2026/11/21/20261121T234500Z-3f9a1c/manifest.json");
	CHECK(json_object_get(o, "manifest") == NULL);
	CHECK_INT(json_array_size(json_object_get(o, "members")), ==, 3);
	m = json_array_get(json_object_get(o, "members"), 2);
	CHECK_STR(json_string_value(json_object_get(m, "name")), "m3");
	CHECK_STR(json_string_value(json_object_get(m, "id")), "8e9e05c52164694d");
	CHECK_STR(json_string_value(json_object_get(m, "location")),
	    "prod/2026/11/21/20261121T234500Z-3f9a1c/m3.db.zst.age");
	CHECK_STR(json_string_value(json_object_get(m, "sha256")), HEX64);
	CHECK_INT(json_integer_value(json_object_get(m, "stored_size")), ==, 300002);
	CHECK(json_is_true(json_object_get(m, "learner")));
	CHECK_INT(json_integer_value(json_object_get(m, "raft_index")), ==, 100);

	/* show: the same backup with its manifest, as an object. */
	CHECK_OK(cat_backup_get(c, "20261121T234500Z-3f9a1c", CAT_WITH_MEMBERS |
	    CAT_WITH_MANIFEST, &b, &err), &err);
	CHECK_STR(b->manifest, doc);
	CHECK_STR(b->host, "h");
	json_decref(arr);
	arr = cat_backup_to_json(b);
	mf = json_object_get(arr, "manifest");
	CHECK(json_is_object(mf));
	CHECK_INT(json_integer_value(json_object_get(json_object_get(mf, "compression"),
	    "level")), ==, 3);
	cat_backup_free(b);
	b = NULL;
	CHECK_INT(cat_backup_get(c, "nope", 0, &b, &err) == LB_E_NOTFOUND, ==, 1);
	CHECK(b == NULL);
	CHECK_CONTAINS(err.msg, "no backup nope");
	json_decref(arr);
	arr = NULL;
	cat_close(c);
	free(doc);
}

/* Applies one change to a good manifest and expects a refusal naming
 * the field. */
struct mutation {
	const char *path;     /* "key" or "members/0/key" */
	json_t *(*value)(void);  /* NULL deletes the key */
	const char *expect;   /* substring of the message */
};

static json_t *v_int(void) { return json_integer(7); }
static json_t *v_str(void) { return json_string("12345"); }
static json_t *v_neg(void) { return json_integer(-1); }
static json_t *v_badhex(void) { return json_string("xyz"); }
static json_t *v_bogus(void) { return json_string("bogus"); }
static json_t *v_obj(void) { return json_object(); }
static json_t *v_real(void) { return json_real(1.5); }
static json_t *v_badid(void) { return json_string("../../etc"); }
static json_t *v_time(void) { return json_string("21/11/2026"); }
static json_t *v_m1(void) { return json_string("m1"); }
static json_t *v_failed(void) { return json_string("failed"); }
static json_t *v_abs(void) { return json_string("/etc/passwd"); }

static void
test_manifest_malformed(void)
{
	static const struct mutation muts[] = {
		{ "backup_id", NULL, "manifest: backup_id: missing" },
		{ "backup_id", v_badid, "manifest: backup_id: expected letters" },
		{ "cluster", v_int, "manifest: cluster: expected a string" },
		{ "cluster_id", v_badhex, "manifest: cluster_id: expected a cluster id" },
		{ "format", v_bogus, "manifest: format: unsupported 'bogus'" },
		{ "status", v_bogus, "manifest: status: expected" },
		{ "started_at", v_time, "manifest: started_at: expected an RFC 3339 time" },
		{ "revision", v_str, "manifest: revision: expected an integer" },
		{ "db_size", v_neg, "manifest: db_size: expected a non-negative integer" },
		{ "stored_size", v_real, "manifest: stored_size: expected an integer" },
		{ "members", v_obj, "manifest: members: expected an array" },
		{ "members", NULL, "manifest: members: missing" },
		{ "members/1/stored_sha256", v_badhex, "manifest: members[1].stored_sha256: expected 64 hex" },
		{ "members/0/object", NULL, "manifest: members[0].object: missing" },
		{ "members/0/object", v_abs, "manifest: members[0].object: expected a relative" },
		{ "members/2/raft_term", v_str, "manifest: members[2].raft_term: expected an integer" },
		{ "members/1/learner", v_str, "manifest: members[1].learner: expected true or false" },
		{ "members/1/name", v_m1, "manifest: members[1].name: duplicate 'm1'" },
		{ "members/1/status", v_failed, "manifest: status: \"complete\" but not every" },
	};
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	char p[512], *good = NULL, *bad = NULL;
	size_t i;
	int r;

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	good = manifest("b1", "prod", T0, "complete", 3, 0);
	for (i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
		json_t *root = json_loads(good, 0, NULL), *target = root;
		char key[64], *slash;
		const char *k = muts[i].path;

		if (strncmp(k, "members/", 8) == 0) {
			target = json_array_get(json_object_get(root, "members"),
			    (size_t)(k[8] - '0'));
			k += 10;
		}
		snprintf(key, sizeof(key), "%s", k);
		if ((slash = strchr(key, '/')) != NULL)
			*slash = '\0';
		if (muts[i].value == NULL)
			json_object_del(target, key);
		else
			json_object_set_new(target, key, muts[i].value());
		bad = json_dumps(root, 0);
		json_decref(root);
		lb_err_clear(&err);
		r = cat_record_manifest(c, bad, &err);
		free(bad);
		bad = NULL;
		if (r != LB_E_CORRUPT)
			TH_FAIL("mutation %s: returned %d (%s)", muts[i].path, r, err.msg);
		if (strstr(err.msg, muts[i].expect) == NULL)
			TH_FAIL("mutation %s: message '%s' lacks '%s'", muts[i].path, err.msg,
			    muts[i].expect);
	}
	/* Not JSON, not an object, truncated, empty. */
	CHECK_INT(cat_record_manifest(c, "{\"format\": ", &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "manifest: not valid JSON");
	CHECK_INT(cat_record_manifest(c, "[1, 2]", &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "not a JSON object");
	CHECK_INT(cat_record_manifest(c, "", &err), ==, LB_E_CORRUPT);
	CHECK_INT(cat_record_manifest(c, NULL, &err), ==, LB_E_CORRUPT);
	CHECK_INT(cat_record_manifest(c, "{\"format\":\"lifeboat-manifest/1\","
	    "\"format\":\"x\"}", &err), ==, LB_E_CORRUPT);
	/* Nothing half-recorded. */
	CHECK_INT(count_list(c, NULL), ==, 0);
	/* A failed member may lack its facts; a partial backup is fine. */
	free(good);
	good = manifest("b2", "prod", T0, "partial", 3, 1);
	CHECK_OK(cat_record_manifest(c, good, &err), &err);
	CHECK_INT(count_list(c, NULL), ==, 1);
	cat_close(c);
	free(good);
}

struct ids {
	char ids[16][64];
	int n;
};

static int
ids_cb(const struct cat_backup *b, void *arg)
{
	struct ids *x = arg;

	if (x->n < 16)
		snprintf(x->ids[x->n++], 64, "%s", b->id);
	return 0;
}

static void
test_status_transitions(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct cat_backup *b = NULL;
	struct ids x = { .n = 0 };
	char p[512], *doc = NULL;

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	CHECK_OK(cat_backup_begin(c, "prod", "b1", T0, NULL, &err), &err);
	CHECK_OK(cat_backup_begin(c, "prod", "b2", T0 + 60, "h2", &err), &err);
	CHECK_OK(cat_backup_begin(c, "dev", "b3", T0 + 120, "h3", &err), &err);
	CHECK_INT(cat_backup_begin(c, "prod", "b1", T0, NULL, &err), ==, LB_E_EXISTS);
	CHECK_INT(cat_backup_begin(c, "prod", "../x", T0, NULL, &err), <, 0);

	CHECK_OK(cat_backups_running(c, "prod", ids_cb, &x, &err), &err);
	CHECK_INT(x.n, ==, 2);
	CHECK_STR(x.ids[0], "b1");
	x.n = 0;
	CHECK_OK(cat_backups_running(c, NULL, ids_cb, &x, &err), &err);
	CHECK_INT(x.n, ==, 3);

	/* running -> failed without a manifest */
	CHECK_OK(cat_backup_finish(c, "b1", CAT_FAILED, "etcd unreachable", NULL, &err), &err);
	CHECK_OK(cat_backup_get(c, "b1", 0, &b, &err), &err);
	CHECK_INT(b->status, ==, CAT_FAILED);
	CHECK_STR(b->error, "etcd unreachable");
	CHECK(b->finished_at >= T0);
	cat_backup_free(b);
	b = NULL;
	CHECK_INT(cat_backup_finish(c, "b1", CAT_COMPLETE, NULL, NULL, &err), ==, LB_E_EXISTS);
	CHECK_CONTAINS(err.msg, "already failed");
	CHECK_INT(cat_backup_finish(c, "zz", CAT_COMPLETE, NULL, NULL, &err), ==, LB_E_NOTFOUND);
	CHECK(cat_backup_finish(c, "b2", CAT_RUNNING, NULL, NULL, &err) < 0);

	/* A manifest for another backup, or another status, is refused and
	 * leaves the row running. */
	doc = manifest("b3", "prod", T0 + 60, "complete", 3, 0);
	CHECK(cat_backup_finish(c, "b2", CAT_COMPLETE, NULL, doc, &err) < 0);
	CHECK_CONTAINS(err.msg, "backup_id");
	free(doc);
	doc = manifest("b2", "prod", T0 + 60, "complete", 3, 0);
	CHECK(cat_backup_finish(c, "b2", CAT_PARTIAL, NULL, doc, &err) < 0);
	CHECK_CONTAINS(err.msg, "status");
	CHECK_OK(cat_backup_get(c, "b2", 0, &b, &err), &err);
	CHECK_INT(b->status, ==, CAT_RUNNING);
	CHECK_STR(b->host, "h2");
	cat_backup_free(b);
	b = NULL;

	/* running -> complete with its manifest */
	CHECK_OK(cat_backup_finish(c, "b2", CAT_COMPLETE, NULL, doc, &err), &err);
	CHECK_OK(cat_backup_get(c, "b2", CAT_WITH_MEMBERS, &b, &err), &err);
	CHECK_INT(b->status, ==, CAT_COMPLETE);
	CHECK_INT(b->finished_at, ==, T0 + 69);
	CHECK_INT(b->n_members, ==, 3);
	CHECK_INT(b->members_ok, ==, 3);
	CHECK_STR(b->cluster_id, "cdf818194e3a8c32");
	cat_backup_free(b);
	b = NULL;
	x.n = 0;
	CHECK_OK(cat_backups_running(c, NULL, ids_cb, &x, &err), &err);
	CHECK_INT(x.n, ==, 1);
	CHECK_STR(x.ids[0], "b3");
	cat_close(c);
	free(doc);
}

static void
test_verify_and_delete(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct cat_backup *b = NULL;
	char p[512], *doc;

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	doc = manifest("b1", "prod", T0, "complete", 3, 0);
	CHECK_OK(cat_record_manifest(c, doc, &err), &err);
	CHECK_OK(cat_set_verified(c, "b1", T0 + 3600, 0, "m2: sha256 mismatch", &err), &err);
	CHECK_OK(cat_backup_get(c, "b1", 0, &b, &err), &err);
	CHECK_INT(b->verified_at, ==, T0 + 3600);
	CHECK_STR(b->verify_status, "failed");
	CHECK_STR(b->verify_detail, "m2: sha256 mismatch");
	cat_backup_free(b);
	b = NULL;
	/* A re-recorded manifest (rebuild) keeps what verification found. */
	CHECK_OK(cat_record_manifest(c, doc, &err), &err);
	CHECK_OK(cat_backup_get(c, "b1", 0, &b, &err), &err);
	CHECK_STR(b->verify_status, "failed");
	cat_backup_free(b);
	b = NULL;
	CHECK_INT(cat_set_verified(c, "nope", 0, 1, NULL, &err), ==, LB_E_NOTFOUND);
	CHECK_OK(cat_audit(c, CAT_ACT_PRUNE, "prod", "b1", "ok", "{\"reason\":\"keep 7\"}", &err), &err);
	CHECK_OK(cat_delete_backup(c, "b1", &err), &err);
	CHECK_INT(cat_backup_get(c, "b1", 0, &b, &err), ==, LB_E_NOTFOUND);
	CHECK_INT(cat_delete_backup(c, "b1", &err), ==, LB_E_NOTFOUND);
	cat_close(c);
	free(doc);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM members"), ==, 0);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM audit WHERE backup_id = 'b1'"), ==, 1);
}

static int
seg_cb(const struct cat_segment *sg, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%lld-%lld ", (long long)sg->first_rev,
	    (long long)sg->last_rev);
	return 0;
}

static int
win_cb(const struct cat_pitr_window *w, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%s:%lld-%lld/%lld ", w->backup_id,
	    (long long)w->from_rev, (long long)w->to_rev, (long long)w->segments);
	return 0;
}

/* Adds a segment first..last of prod with an object name of its own. */
static void
add_seg(struct cat *c, int64_t first, int64_t last, const char *tag, int want_inserted)
{
	struct lb_err err = { 0 };
	struct cat_segment sg = { 0 };
	char obj[128];
	int inserted = -1;

	snprintf(obj, sizeof(obj), "prod/wal/2026/11/21/%020lld-%020lld%s.evlog.zst.age",
	    (long long)first, (long long)last, tag);
	sg.cluster = "prod";
	sg.first_rev = first;
	sg.last_rev = last;
	sg.first_time_ms = (T0 + first) * 1000;
	sg.last_time_ms = (T0 + last) * 1000;
	sg.revisions = last - first + 1;
	sg.events = sg.revisions;
	sg.object = obj;
	sg.stored_size = 100;
	sg.stored_sha256 = (char *)HEX64;
	CHECK_OK(cat_segment_add(c, &sg, &inserted, &err), &err);
	CHECK_INT(inserted, ==, want_inserted);
}

/* Segments in, ranges and windows out: a window starts at the oldest
 * complete backup whose next revision an unbroken run of segments
 * holds, overlapping segments (a failover) join a run, a hole or a
 * segment that failed verification breaks it, and a gap is recorded
 * once and completed when the chain starts again. */
static void
test_pitr_segments_and_windows(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct cat_segment *last = NULL;
	char p[512], out[512], *doc;

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	/* backups at revisions 100 (b1), 150 (b2), 400 (b3), 900 (b4) */
	doc = manifest("b1", "prod", T0, "complete", 1, 0);
	CHECK_OK(cat_record_manifest(c, doc, &err), &err);
	free(doc);
	doc = manifest("b2", "prod", T0 + 60, "complete", 1, 0);
	CHECK_OK(cat_record_manifest(c, doc, &err), &err);
	free(doc);
	doc = manifest("b3", "prod", T0 + 120, "complete", 1, 0);
	CHECK_OK(cat_record_manifest(c, doc, &err), &err);
	free(doc);
	doc = manifest("b4", "prod", T0 + 180, "partial", 2, 1);
	CHECK_OK(cat_record_manifest(c, doc, &err), &err);
	free(doc);
	CHECK_INT(raw_exec(p, "UPDATE backups SET revision = 100 WHERE id = 'b1';"
	    "UPDATE backups SET revision = 150 WHERE id = 'b2';"
	    "UPDATE backups SET revision = 400 WHERE id = 'b3';"
	    "UPDATE backups SET revision = 900 WHERE id = 'b4';", NULL, 0), ==, SQLITE_OK);
	out[0] = '\0';
	CHECK_OK(cat_pitr_windows(c, "prod", win_cb, out, &err), &err);
	CHECK_STR(out, "");
	CHECK_INT(cat_segment_last(c, "prod", &last, &err), ==, LB_E_NOTFOUND);

	add_seg(c, 101, 200, "", 1);
	add_seg(c, 101, 200, "", 0);          /* the same object: once */
	add_seg(c, 201, 300, "", 1);
	add_seg(c, 250, 320, "-b", 1);        /* a second capture overlapping */
	add_seg(c, 321, 350, "", 1);
	add_seg(c, 401, 500, "", 1);          /* after a hole: 351..400 */
	add_seg(c, 501, 600, "", 1);
	add_seg(c, 901, 950, "", 1);          /* b4 is partial: no window */
	out[0] = '\0';
	CHECK_OK(cat_segments_range(c, "prod", 300, 420, seg_cb, out, &err), &err);
	CHECK_STR(out, "201-300 250-320 321-350 401-500 ");
	out[0] = '\0';
	CHECK_OK(cat_segments_range(c, "prod", 590, -1, seg_cb, out, &err), &err);
	CHECK_STR(out, "501-600 901-950 ");
	out[0] = '\0';
	CHECK_OK(cat_pitr_windows(c, "prod", win_cb, out, &err), &err);
	CHECK_STR(out, "b1:100-350/4 b3:400-600/2 ");
	CHECK_OK(cat_segment_last(c, "prod", &last, &err), &err);
	CHECK_INT(last->last_rev, ==, 950);
	CHECK_INT(last->last_time_ms, ==, (T0 + 950) * 1000);
	cat_segment_free(last);

	/* A segment that failed verification breaks its run in two. */
	CHECK_OK(cat_segment_verified(c, "prod/wal/2026/11/21/00000000000000000321-"
	    "00000000000000000350.evlog.zst.age", 0, "crc mismatch", &err), &err);
	CHECK_OK(cat_segment_verified(c, "prod/wal/2026/11/21/00000000000000000201-"
	    "00000000000000000300.evlog.zst.age", 0, "crc mismatch", &err), &err);
	out[0] = '\0';
	CHECK_OK(cat_pitr_windows(c, "prod", win_cb, out, &err), &err);
	CHECK_STR(out, "b1:100-200/1 b3:400-600/2 ");

	CHECK_OK(cat_gap_add(c, "prod", 600, -1, "compacted", &err), &err);
	CHECK_OK(cat_gap_add(c, "prod", 600, -1, "compacted", &err), &err);
	CHECK_OK(cat_gap_add(c, "prod", 600, 901, "compacted", &err), &err);
	CHECK_OK(cat_audit(c, CAT_ACT_PITR, "prod", NULL, "gap", "{\"after\": 600}", &err), &err);
	CHECK_OK(cat_segment_delete(c, "prod/wal/2026/11/21/00000000000000000901-"
	    "00000000000000000950.evlog.zst.age", &err), &err);
	cat_close(c);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM pitr_gaps"), ==, 1);
	CHECK_INT(raw_int(p, "SELECT resume_rev FROM pitr_gaps"), ==, 901);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM segments"), ==, 6);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM audit WHERE action = 'pitr'"), ==, 1);
}

struct evs {
	int n;
	char action[8][16], user[64], details[256];
};

static int
audit_cb(const struct cat_audit_event *e, void *arg)
{
	struct evs *x = arg;

	if (x->n < 8)
		snprintf(x->action[x->n], 16, "%s", e->action);
	snprintf(x->user, sizeof(x->user), "%s", e->os_user ? e->os_user : "");
	snprintf(x->details, sizeof(x->details), "%s", e->details ? e->details : "");
	x->n++;
	return 0;
}

static void
test_audit_append_only(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct evs x = { .n = 0 };
	struct passwd *pw;
	char p[512], msg[256];

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	CHECK_OK(cat_audit(c, CAT_ACT_BACKUP, "prod", "b1", "ok", NULL, &err), &err);
	CHECK_OK(cat_audit(c, CAT_ACT_RESTORE, "prod", "b1", "failed",
	    "{ \"members\": 3, \"why\": \"m2 did not start\" }", &err), &err);
	CHECK(cat_audit(c, CAT_ACT_RESTORE, "prod", "b1", "ok", "[1]", &err) < 0);
	CHECK(cat_audit(c, CAT_ACT_RESTORE, "prod", "b1", "ok", "{bad", &err) < 0);
	CHECK(cat_audit(c, CAT_ACT_RESTORE, "prod", "b1", "", NULL, &err) < 0);
	CHECK_OK(cat_audit_list(c, 0, 0, audit_cb, &x, &err), &err);
	CHECK_INT(x.n, ==, 2);
	CHECK_STR(x.action[0], "backup");
	CHECK_STR(x.action[1], "restore");
	pw = getpwuid(geteuid());
	CHECK(pw != NULL);
	CHECK_STR(x.user, pw->pw_name);
	CHECK_STR(x.details, "{\"members\":3,\"why\":\"m2 did not start\"}");
	x.n = 0;
	CHECK_OK(cat_audit_list(c, (int64_t)time(NULL) + 3600, 0, audit_cb, &x, &err), &err);
	CHECK_INT(x.n, ==, 0);

	/* Even with the sqlite3 shell, rows cannot be changed or removed
	 * while the triggers stand. */
	CHECK_INT(raw_exec(p, "UPDATE audit SET outcome = 'ok'", msg, sizeof(msg)), !=, SQLITE_OK);
	CHECK_CONTAINS(msg, "append-only");
	CHECK_INT(raw_exec(p, "DELETE FROM audit WHERE id = 1", msg, sizeof(msg)), !=, SQLITE_OK);
	CHECK_CONTAINS(msg, "append-only");
	CHECK_INT(raw_int(p, "SELECT count(*) FROM audit WHERE outcome = 'failed'"), ==, 1);
	cat_close(c);
}

/* Events read back from the repository's audit trail: each object once,
 * with its own time, user and host; two equal events of one second with
 * different objects are two. */
static void
test_audit_add_ref(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct cat_audit_event ev = { .at = T0, .action = "verify", .cluster = "prod",
	    .backup_id = "b1", .outcome = "ok", .os_user = "alice", .host = "old-appliance",
	    .details = "{ \"members\": 3 }", .ref = ".audit/prod/a.json" };
	struct evs x = { .n = 0 };
	char p[512];
	int added = -1;

	CHECK_OK(cat_open(newpath(p, sizeof(p)), 0, &c, &err), &err);
	CHECK_OK(cat_audit_add(c, &ev, &added, &err), &err);
	CHECK_INT(added, ==, 1);
	CHECK_OK(cat_audit_add(c, &ev, &added, &err), &err);
	CHECK_INT(added, ==, 0);
	ev.ref = ".audit/prod/b.json";
	CHECK_OK(cat_audit_add(c, &ev, &added, &err), &err);
	CHECK_INT(added, ==, 1);
	ev.ref = NULL;                      /* no copy: never merged */
	CHECK_OK(cat_audit_add(c, &ev, &added, &err), &err);
	CHECK_OK(cat_audit_add(c, &ev, &added, &err), &err);
	CHECK_INT(added, ==, 1);
	ev.action = "dance";
	CHECK(cat_audit_add(c, &ev, &added, &err) < 0);
	CHECK_OK(cat_audit_list(c, T0, T0 + 1, audit_cb, &x, &err), &err);
	CHECK_INT(x.n, ==, 4);
	CHECK_STR(x.user, "alice");
	CHECK_STR(x.details, "{\"members\":3}");
	CHECK_INT(raw_int(p, "SELECT count(*) FROM audit WHERE host = 'old-appliance' AND "
	    "ref = '.audit/prod/a.json'"), ==, 1);
	CHECK_INT(cat_audit_has_ref(c, ".audit/prod/b.json", &err), ==, 1);
	CHECK_INT(cat_audit_has_ref(c, ".audit/prod/c.json", &err), ==, 0);
	cat_close(c);
}

/* The other process: holds the write lock for hold_ms, then commits. */
struct holder {
	const char *path;
	int hold_ms;
	int locked;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *
hold_lock(void *arg)
{
	struct holder *h = arg;
	sqlite3 *db = NULL;
	struct timespec ts = { h->hold_ms / 1000, (long)(h->hold_ms % 1000) * 1000000L };

	sqlite3_open_v2(h->path, &db, SQLITE_OPEN_READWRITE, NULL);
	sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO clusters (name) VALUES ('other')",
	    NULL, NULL, NULL);
	pthread_mutex_lock(&h->mu);
	h->locked = 1;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	nanosleep(&ts, NULL);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return NULL;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Starts a holder and waits until it has the lock. */
static void
start_holder(struct holder *h, pthread_t *t, const char *path, int ms)
{
	memset(h, 0, sizeof(*h));
	h->path = path;
	h->hold_ms = ms;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	pthread_create(t, NULL, hold_lock, h);
	pthread_mutex_lock(&h->mu);
	while (!h->locked)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

static void
test_two_connections(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct holder h;
	pthread_t t;
	char p[512];
	double t0, waited;
	int r;

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	/* Another writer holds the lock for 200 ms: we wait, then write. */
	start_holder(&h, &t, p, 200);
	t0 = now_ms();
	r = cat_audit(c, CAT_ACT_VERIFY, "prod", NULL, "ok", NULL, &err);
	waited = now_ms() - t0;
	pthread_join(t, NULL);
	CHECK_OK(r, &err);
	CHECK(waited >= 100.0);
	/* Readers are not blocked by a writer in WAL mode. */
	start_holder(&h, &t, p, 200);
	t0 = now_ms();
	r = count_list(c, NULL);
	waited = now_ms() - t0;
	pthread_join(t, NULL);
	CHECK_INT(r, ==, 0);
	CHECK(waited < 150.0);
	/* With a timeout shorter than the hold, the write gives up clearly. */
	cat_set_busy_timeout(c, 30);
	start_holder(&h, &t, p, 300);
	r = cat_audit(c, CAT_ACT_VERIFY, "prod", NULL, "ok", NULL, &err);
	pthread_join(t, NULL);
	CHECK_INT(r, ==, LB_E_BUSY);
	CHECK_CONTAINS(err.msg, "locked by another process");
	cat_close(c);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM audit"), ==, 1);
	/* and the other writer's work was kept, not lost to ours */
	CHECK_INT(raw_int(p, "SELECT count(*) FROM clusters WHERE name = 'other'"), ==, 1);
}

/* Connections that open, write and close, over and over, as the daemon's
 * runs, lock renewals and status page do, in two threads, while another
 * process (a sqlite3 shell, `lifeboat catalog prune`) opens and closes
 * the catalog too.  Opening must never close a descriptor of the file
 * (that drops every POSIX lock the process holds on it): the other
 * process would then take the connections' locks for free and remove
 * the WAL under them ("disk I/O error" on most writes, before the fix). */
struct churn {
	const char *path;
	volatile int stop;
	int writes, failures;
	char first[600];
	pthread_mutex_t mu;
};

static void *
churn_writer(void *arg)
{
	struct churn *ch = arg;
	struct lb_err err;
	struct cat *c;
	int r;

	while (!ch->stop) {
		c = NULL;
		lb_err_clear(&err);
		if ((r = cat_open(ch->path, 0, &c, &err)) == 0)
			r = cat_audit(c, CAT_ACT_VERIFY, "prod", NULL, "ok", NULL, &err);
		cat_close(c);
		pthread_mutex_lock(&ch->mu);
		ch->writes++;
		/* busy is the other process's fair share, not a lost lock */
		if (r < 0 && r != LB_E_BUSY && ch->failures++ == 0)
			snprintf(ch->first, sizeof(ch->first), "%s", err.msg);
		pthread_mutex_unlock(&ch->mu);
	}
	return NULL;
}

static void
test_writers_beside_another_process(void)
{
	struct churn ch = { 0 };
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	pthread_t t[2];
	char p[512];
	pid_t pid;
	int status;

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	cat_close(c);
	if ((pid = fork()) == 0) {
		double t0 = now_ms();

		while (now_ms() - t0 < 1500.0) {
			sqlite3 *db = NULL;

			sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL);
			sqlite3_exec(db, "SELECT count(*) FROM backups", NULL, NULL, NULL);
			sqlite3_close(db);
		}
		_exit(0);
	}
	ch.path = p;
	pthread_mutex_init(&ch.mu, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, churn_writer, &ch);
	waitpid(pid, &status, 0);
	ch.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	if (ch.failures > 0)
		fprintf(stderr, "# %d of %d writes failed, first: %s\n", ch.failures,
		    ch.writes, ch.first);
	CHECK_INT(ch.failures, ==, 0);
	CHECK(ch.writes > 10);
	pthread_mutex_destroy(&ch.mu);
}

static int
audit_count_cb(const struct cat_audit_event *e, void *arg)
{
	if (e->backup_id != NULL && (strcmp(e->backup_id, "s1") == 0 ||
	    strcmp(e->backup_id, "s2") == 0))
		(*(int *)arg)++;
	return 0;
}

/* The spool: what a locked catalog could not take is replayed later, for
 * one cluster only, once, and a locked catalog leaves it in place. */
static void
test_spool(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct cat_backup *b = NULL;
	struct holder h;
	pthread_t t;
	char p[512], path[600];
	char *mf = manifest("s1", "prod", T0, "complete", 2, 0);
	struct cat_spool_rec rec = { "prod", "s1", "host1", T0, CAT_RUNNING, NULL, NULL, NULL,
	    0, NULL };
	struct cat_spool_rec other = { "dev", "d1", NULL, T0, CAT_FAILED, "no etcd", NULL, NULL,
	    0, NULL };
	/* its file name starts with "prod." too */
	struct cat_spool_rec dotted = { "prod.eu", "e1", NULL, T0, CAT_FAILED, "x", NULL, NULL,
	    0, NULL };
	/* its audit event at the time of the run, not of the replay */
	struct cat_spool_rec late = { "prod", "s2", NULL, T0 + 60, CAT_FAILED, "boom", NULL,
	    "{\"error\":\"boom\"}", T0 + 61, NULL };
	char *mf3 = manifest("s3", "prod", T0 + 120, "complete", 1, 0);
	struct cat_spool_rec bad = { "prod", "s3", NULL, T0 + 120, CAT_FAILED, "x", NULL,
	    NULL, 0, NULL };
	struct cat_spool_rec after = { "prod", "s4", NULL, T0 + 180, CAT_FAILED, "y", NULL,
	    NULL, 0, NULL };
	FILE *fp;
	int n = -1, audits = 0;

	CHECK_OK(cat_open(newpath(p, sizeof(p)), 0, &c, &err), &err);
	/* A start spooled, then replaced by the end. */
	CHECK_OK(cat_spool_write(p, &rec, &err), &err);
	rec.status = CAT_COMPLETE;
	rec.manifest = mf;
	rec.details = "{\"members_ok\":2}";
	CHECK_OK(cat_spool_write(p, &rec, &err), &err);
	CHECK_OK(cat_spool_write(p, &other, &err), &err);
	CHECK_OK(cat_spool_write(p, &dotted, &err), &err);
	snprintf(path, sizeof(path), "%s.pending/prod.zzz.json", p);
	CHECK((fp = fopen(path, "w")) != NULL);
	fputs("{not json", fp);
	fclose(fp);

	CHECK_OK(cat_spool_replay(c, p, "prod", &n, &err), &err);
	CHECK_INT(n, ==, 1);
	CHECK_OK(cat_backup_get(c, "s1", CAT_WITH_MEMBERS, &b, &err), &err);
	CHECK_INT(b->status, ==, CAT_COMPLETE);
	CHECK_INT(b->n_members, ==, 2);
	cat_backup_free(b);
	CHECK_OK(cat_audit_list(c, 0, 0, audit_count_cb, &audits, &err), &err);
	CHECK_INT(audits, ==, 1);
	snprintf(path, sizeof(path), "%s.pending/prod.zzz.json.bad", p);
	CHECK(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "%s.pending/dev.d1.json", p);
	CHECK(access(path, F_OK) == 0);            /* another cluster's: untouched */
	snprintf(path, sizeof(path), "%s.pending/prod.eu.e1.json", p);
	CHECK(access(path, F_OK) == 0);
	CHECK_INT(cat_backup_get(c, "d1", 0, &b, &err), ==, LB_E_NOTFOUND);
	CHECK_OK(cat_spool_replay(c, p, "prod", &n, &err), &err);
	CHECK_INT(n, ==, 0);                        /* once only */

	/* Still locked: the record stays for the next time. */
	CHECK_OK(cat_spool_write(p, &late, &err), &err);
	cat_set_busy_timeout(c, 30);
	start_holder(&h, &t, p, 300);
	CHECK_INT(cat_spool_replay(c, p, "prod", &n, &err), ==, LB_E_BUSY);
	pthread_join(t, NULL);
	CHECK_INT(n, ==, 0);
	CHECK_OK(cat_spool_replay(c, p, "prod", &n, &err), &err);
	CHECK_INT(n, ==, 1);
	CHECK_OK(cat_backup_get(c, "s2", 0, &b, &err), &err);
	CHECK_INT(b->status, ==, CAT_FAILED);
	CHECK_STR(b->error, "boom");
	cat_backup_free(b);
	audits = 0;
	CHECK_OK(cat_audit_list(c, T0 + 61, T0 + 62, audit_count_cb, &audits, &err), &err);
	CHECK_INT(audits, ==, 1);

	/* A record the catalog refuses for ever (a complete manifest on a
	 * failed run) is set aside, still named for settling, and the one
	 * behind it is applied. */
	bad.manifest = mf3;
	CHECK_OK(cat_spool_write(p, &bad, &err), &err);
	CHECK_OK(cat_spool_write(p, &after, &err), &err);
	CHECK_INT(cat_spool_has(p, "prod", "s3", &err), ==, 1);
	CHECK_INT(cat_spool_has(p, "prod", "s9", &err), ==, 0);
	CHECK_OK(cat_spool_replay(c, p, "prod", &n, &err), &err);
	CHECK_INT(n, ==, 1);
	snprintf(path, sizeof(path), "%s.pending/prod.s3.json.bad", p);
	CHECK(access(path, F_OK) == 0);
	CHECK_INT(cat_spool_has(p, "prod", "s3", &err), ==, 1);
	CHECK_OK(cat_backup_get(c, "s4", 0, &b, &err), &err);
	CHECK_INT(b->status, ==, CAT_FAILED);
	cat_backup_free(b);
	cat_close(c);
	free(mf);
	free(mf3);
}

static void
test_corrupt_garbage(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	char p[512], dir[512];
	FILE *fp;
	int i;

	newpath(p, sizeof(p));
	snprintf(dir, sizeof(dir), "%s/c%d", tmpdir, seq);
	mkdir(dir, 0700);
	fp = fopen(p, "w");
	CHECK(fp != NULL);
	for (i = 0; i < 8192; i++)
		fputc((i * 7919) & 0xff, fp);
	fclose(fp);
	CHECK_INT(cat_open(p, 0, &c, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, p);
	CHECK_CONTAINS(err.msg, "lifeboat catalog rebuild");
	CHECK_INT(cat_open(p, CAT_OPEN_READONLY, &c, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "lifeboat catalog rebuild");
	CHECK(c == NULL);
}

static void
test_corrupt_truncated(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct stat st;
	char p[512], id[32], *doc;
	int i, r;

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "b%04d", i);
		doc = manifest(id, i % 2 ? "prod" : "dev", T0 + i * 60, "complete", 3, 0);
		r = cat_record_manifest(c, doc, &err);
		free(doc);
		CHECK_OK(r, &err);
	}
	cat_close(c);   /* the last close checkpoints the WAL into the file */
	c = NULL;
	CHECK_INT(stat(p, &st), ==, 0);
	CHECK(st.st_size > 100000);
	CHECK_INT(truncate(p, st.st_size / 2), ==, 0);
	/* Opening may already notice; reading everything must. */
	r = cat_open(p, CAT_OPEN_READONLY, &c, &err);
	if (r == 0) {
		struct cat_filter f = { .status = -1 };
		int n = 0;
		r = cat_backup_list(c, &f, CAT_WITH_MEMBERS | CAT_WITH_MANIFEST, count_cb, &n, &err);
		cat_close(c);
	}
	CHECK_INT(r, ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "lifeboat catalog rebuild");
}

static void
test_filters(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct cat_backup *b = NULL;
	struct cat_filter f;
	struct ids x = { .n = 0 };
	char p[512], id[32], *doc;
	int i, r;

	newpath(p, sizeof(p));
	CHECK_OK(cat_open(p, 0, &c, &err), &err);
	/* prod: p0..p5 hourly, p4 partial; dev: d0..d2 hourly, offset 30 min */
	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		doc = manifest(id, "prod", T0 + i * 3600, i == 4 ? "partial" : "complete", 3,
		    i == 4 ? 1 : 0);
		r = cat_record_manifest(c, doc, &err);
		free(doc);
		CHECK_OK(r, &err);
	}
	for (i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		doc = manifest(id, "dev", T0 + i * 3600 + 1800, "complete", 1, 0);
		r = cat_record_manifest(c, doc, &err);
		free(doc);
		CHECK_OK(r, &err);
	}
	CHECK_OK(cat_backup_begin(c, "prod", "p6", T0 + 6 * 3600, NULL, &err), &err);
	CHECK_INT(count_list(c, NULL), ==, 10);

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.cluster = "prod";
	CHECK_INT(count_list(c, &f), ==, 7);
	f.since = T0 + 2 * 3600;
	CHECK_INT(count_list(c, &f), ==, 5);    /* p2..p6 */
	f.until = T0 + 4 * 3600;
	CHECK_INT(count_list(c, &f), ==, 2);    /* p2, p3: until is exclusive */
	f.cluster = NULL;
	CHECK_INT(count_list(c, &f), ==, 3);    /* p2, d2 (+2h30), p3 */
	CHECK_OK(cat_backup_list(c, &f, 0, ids_cb, &x, &err), &err);
	CHECK_STR(x.ids[0], "p2");
	CHECK_STR(x.ids[1], "d2");
	CHECK_STR(x.ids[2], "p3");
	memset(&f, 0, sizeof(f));
	f.status = CAT_PARTIAL;
	CHECK_INT(count_list(c, &f), ==, 1);
	f.status = CAT_RUNNING;
	CHECK_INT(count_list(c, &f), ==, 1);
	f.status = -1;
	f.cluster = "nosuch";
	CHECK_INT(count_list(c, &f), ==, 0);
	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.newest_first = 1;
	f.limit = 2;
	x.n = 0;
	CHECK_OK(cat_backup_list(c, &f, 0, ids_cb, &x, &err), &err);
	CHECK_INT(x.n, ==, 2);
	CHECK_STR(x.ids[0], "p6");
	CHECK_STR(x.ids[1], "p5");

	/* latest complete skips the running p6 and the partial p4 is older */
	CHECK_OK(cat_backup_latest(c, "prod", CAT_COMPLETE, 0, &b, &err), &err);
	CHECK_STR(b->id, "p5");
	cat_backup_free(b);
	CHECK_OK(cat_backup_latest(c, "dev", CAT_COMPLETE, 0, &b, &err), &err);
	CHECK_STR(b->id, "d2");
	cat_backup_free(b);
	CHECK_OK(cat_backup_latest(c, NULL, -1, 0, &b, &err), &err);
	CHECK_STR(b->id, "p6");
	cat_backup_free(b);
	b = NULL;
	CHECK_INT(cat_backup_latest(c, "dev", CAT_PARTIAL, 0, &b, &err), ==, LB_E_NOTFOUND);
	CHECK_CONTAINS(err.msg, "no partial backup of cluster dev");
	cat_close(c);
}

static void
test_time_parse(void)
{
	struct lb_err err = { 0 };
	int64_t t, now = T0;
	char buf[32];

	CHECK_OK(cat_time_parse("2026-11-21T23:45:00Z", now, &t, &err), &err);
	CHECK_INT(t, ==, T0);
	CHECK_OK(cat_time_parse("2026-11-22T01:45:00.123+02:00", now, &t, &err), &err);
	CHECK_INT(t, ==, T0);
	CHECK_OK(cat_time_parse("2026-11-21T18:45:00-05:00", now, &t, &err), &err);
	CHECK_INT(t, ==, T0);
	CHECK_OK(cat_time_parse("2026-11-21", now, &t, &err), &err);
	CHECK_INT(t, ==, T0 - (23 * 3600 + 45 * 60));
	CHECK_OK(cat_time_parse("24h", now, &t, &err), &err);
	CHECK_INT(t, ==, T0 - 86400);
	CHECK_OK(cat_time_parse("7d", now, &t, &err), &err);
	CHECK_INT(t, ==, T0 - 7 * 86400);
	CHECK_OK(cat_time_parse("90s", now, &t, &err), &err);
	CHECK_INT(t, ==, T0 - 90);
	CHECK_OK(cat_time_parse("2024-02-29", now, &t, &err), &err);
	CHECK_STR(cat_time_format(T0, buf, sizeof(buf)), "2026-11-21T23:45:00Z");
	static const char *const bad[] = { "", "yesterday", "24", "h", "7x", "2026-13-01",
	    "2026-02-30", "2025-02-29", "2026-11-21T25:00:00Z", "2026-11-21T10:00:00",
	    "2026-11-21 10:00:00Z", "-5d", "99999999999d", "2026-11-21T10:00:00+2:00" };
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cat_time_parse(bad[i], now, &t, &err) != LB_E_USAGE)
			TH_FAIL("'%s' was accepted", bad[i]);
	}
	CHECK_CONTAINS(err.msg, "bad time");
}

static void
test_backup_time_check(void)
{
	struct lb_err err = { 0 };

	CHECK_OK(cat_backup_time_check("20261121T234500.123Z-3f9a1c", "2026-11-21T23:45:00Z",
	    &err), &err);
	CHECK_OK(cat_backup_time_check("20261121T234500Z-3f9a1c", "2026-11-21T23:44:59Z",
	    &err), &err);
	CHECK_OK(cat_backup_time_check("20261121T234600Z-3f9a1c", "2026-11-21T23:45:00Z",
	    &err), &err);
	CHECK_INT(cat_backup_time_check("20991121T234500Z-3f9a1c", "2026-11-21T23:45:00Z",
	    &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "disagree");
	CHECK_INT(cat_backup_time_check("20261121T234601Z-3f9a1c", "2026-11-21T23:45:00Z",
	    &err), ==, LB_E_CORRUPT);
	CHECK_INT(cat_backup_time_check("recent-prod", "2026-11-21T23:45:00Z", &err), ==,
	    LB_E_CORRUPT);
	CHECK_INT(cat_backup_time_check("20261321T234500Z-3f9a1c", "2026-11-21T23:45:00Z",
	    &err), ==, LB_E_CORRUPT);
	CHECK_INT(cat_backup_time_check("20261121T234500Z-3f9a1c", "yesterday", &err), ==,
	    LB_E_CORRUPT);
}

int
main(void)
{
	char cmd[300];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lifeboat-cat.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_migrations_from_empty);
	RUN(test_refuses_newer_schema);
	RUN(test_refuses_foreign_database);
	RUN(test_revision_samples);
	RUN(test_readonly_missing_and_no_writes);
	RUN(test_manifest_round_trip);
	RUN(test_manifest_malformed);
	RUN(test_status_transitions);
	RUN(test_verify_and_delete);
	RUN(test_pitr_segments_and_windows);
	RUN(test_audit_append_only);
	RUN(test_audit_add_ref);
	RUN(test_writers_beside_another_process);
	RUN(test_two_connections);
	RUN(test_spool);
	RUN(test_corrupt_garbage);
	RUN(test_corrupt_truncated);
	RUN(test_filters);
	RUN(test_time_parse);
	RUN(test_backup_time_check);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return TH_DONE();
}
