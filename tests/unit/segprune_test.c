/*
 * segprune_test.c: the event log's retention in ops_prune (ops/prune.c)
 * on a file repository and a real catalog, no etcd: a segment wholly at
 * or below the oldest kept complete backup goes (its manifest, signature,
 * object and catalog row, audited); one a kept backup needs, one that
 * straddles it and one the catalog does not know stay; without the proof
 * (no complete backup, the catalog locked by another writer) nothing
 * goes, and a dry run deletes nothing.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "catalog/catalog.h"
#include "env/env.h"
#include "ops/ops.h"
#include "stream/age.h"

static char dir[] = "/tmp/segprune_test.XXXXXX";
static char cat_path[300];
static const char *HEX64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const int64_t T0 = 1795304700;  /* 2026-11-21T23:45:00Z */

static int raw_exec(const char *sql);

/* The keys of segment first..last of prod, without the suffixes. */
static void
seg_base(int64_t first, int64_t last, char *out, size_t len)
{
	snprintf(out, len, "prod/wal/2026/11/21/%020lld-%020lld", (long long)first,
	    (long long)last);
}

static void
put_file(const char *key)
{
	char path[600], cmd[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/repo/%s", dir, key);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	CHECK(system(cmd) == 0);
	CHECK((f = fopen(path, "w")) != NULL);
	if (f != NULL) {
		fputs("x", f);
		fclose(f);
	}
}

static int
present(const char *key, const char *suffix)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/repo/%s%s", dir, key, suffix);
	return stat(path, &st) == 0;
}

/* A segment's three objects in the repository and, when known, its row. */
static void
add_seg(struct cat *c, int64_t first, int64_t last, int known)
{
	struct lb_err err = { 0 };
	struct cat_segment sg = { 0 };
	char base[256], obj[300];

	seg_base(first, last, base, sizeof(base));
	snprintf(obj, sizeof(obj), "%s.evlog.zst.age", base);
	put_file(obj);
	snprintf(obj, sizeof(obj), "%s.evlog.json", base);
	put_file(obj);
	snprintf(obj, sizeof(obj), "%s.evlog.json.sig", base);
	put_file(obj);
	if (!known)
		return;
	snprintf(obj, sizeof(obj), "%s.evlog.zst.age", base);
	sg.cluster = "prod";
	sg.first_rev = first;
	sg.last_rev = last;
	sg.first_time_ms = (T0 + first) * 1000;
	sg.last_time_ms = (T0 + last) * 1000;
	sg.revisions = last - first + 1;
	sg.events = sg.revisions;
	sg.object = obj;
	sg.stored_size = 1;
	sg.stored_sha256 = (char *)HEX64;
	CHECK_OK(cat_segment_add(c, &sg, NULL, &err), &err);
}

/* Whether segment first..last is all there (1), all gone (0), or half (-1). */
static int
seg_state(int64_t first, int64_t last)
{
	char base[256];
	int n;

	seg_base(first, last, base, sizeof(base));
	n = present(base, ".evlog.zst.age") + present(base, ".evlog.json") +
	    present(base, ".evlog.json.sig");
	return n == 3 ? 1 : n == 0 ? 0 : -1;
}

/* A backup of prod at revision rev, recorded from a one-member manifest. */
static void
add_backup(struct cat *c, const char *id, int64_t started, const char *status,
    int64_t rev)
{
	struct lb_err err = { 0 };
	char t1[32], t2[32], obj[256], sql[200];
	json_t *m;
	char *doc;

	cat_time_format(started, t1, sizeof(t1));
	cat_time_format(started + 9, t2, sizeof(t2));
	snprintf(obj, sizeof(obj), "prod/2026/11/21/%s/m1.db.zst.age", id);
	m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, "
	    "s:I, s:{s:s, s:i, s:i}, s:[{s:s, s:s, s:s, s:b, s:b, s:s, s:n, s:s, s:I, "
	    "s:I, s:I, s:I, s:s, s:s, s:I, s:s, s:s, s:s}]}",
	    "format", "lifeboat-manifest/1", "backup_id", id, "cluster", "prod",
	    "cluster_id", "cdf818194e3a8c32", "status", status, "started_at", t1,
	    "finished_at", t2, "lifeboat_version", "0.1.0", "hostname", "h",
	    "leader", "m1", "etcd_version", "3.6.0", "revision", (json_int_t)rev,
	    "db_size", (json_int_t)4096, "stored_size", (json_int_t)100,
	    "compression", "algorithm", "zstd", "level", 3, "threads", 2,
	    "members", "name", "m1", "id", "8e9e05c52164694d", "endpoint",
	    "http://127.0.0.1:2379", "learner", 0, "leader", 1, "status", "ok", "error",
	    "etcd_version", "3.6.0", "revision", (json_int_t)rev, "raft_index",
	    (json_int_t)100, "raft_term", (json_int_t)2, "db_size", (json_int_t)4096,
	    "etcd_sha256", HEX64, "object", obj, "stored_size", (json_int_t)100,
	    "stored_sha256", HEX64, "started_at", t1, "finished_at", t2);
	CHECK(m != NULL);
	doc = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	CHECK_OK(cat_record_manifest(c, doc, &err), &err);
	free(doc);
	/* the manifest's revision, whatever the recorder takes it from */
	snprintf(sql, sizeof(sql), "UPDATE backups SET revision = %lld WHERE id = '%s'",
	    (long long)rev, id);
	CHECK_INT(raw_exec(sql), ==, SQLITE_OK);
}

static int
raw_exec(const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	if ((rc = sqlite3_open_v2(cat_path, &db, SQLITE_OPEN_READWRITE, NULL)) == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int64_t
raw_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -999;

	if (sqlite3_open_v2(cat_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int
prune(struct lb_env *e, int dry_run, struct ops_prune_totals *t)
{
	struct ops_prune_opts o = { .cluster = "prod", .dry_run = dry_run };
	struct lb_err err = { 0 };

	return ops_prune(e, &o, NULL, NULL, t, &err);
}

static void
segments_below_the_oldest_kept_backup(void)
{
	char conf[300], *idtext = NULL, *rcpt = NULL, locked[600];
	struct lb_env e = { 0 };
	struct lb_err err = { 0 };
	struct ops_prune_totals t;
	sqlite3 *other = NULL;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_OK(age_keygen(&idtext, &rcpt, &err), &err);
	snprintf(conf, sizeof(conf), "%s/lb.conf", dir);
	snprintf(cat_path, sizeof(cat_path), "%s/catalog.db", dir);
	CHECK((f = fopen(conf, "w")) != NULL);
	fprintf(f, "[global]\nrepo = file://%s/repo\nrecipients = %s\ncatalog = %s\n"
	    "[cluster:prod]\nendpoints = http://127.0.0.1:1\nretention = keep-last=2\n",
	    dir, rcpt, cat_path);
	fclose(f);
	snprintf(locked, sizeof(locked), "%s/repo", dir);
	mkdir(locked, 0700);
	CHECK_OK(env_open(conf, NULL, ENV_REPO | ENV_CAT, &e, &err), &err);

	add_seg(e.cat, 50, 99, 1);      /* below every backup */
	add_seg(e.cat, 101, 200, 1);
	add_seg(e.cat, 201, 300, 1);    /* ends at the oldest kept one's revision */
	add_seg(e.cat, 290, 310, 1);    /* a failover's, across it: needed */
	add_seg(e.cat, 301, 400, 1);
	add_seg(e.cat, 401, 600, 1);
	add_seg(e.cat, 1, 49, 0);       /* another appliance's, not recorded */

	/* No complete backup: nothing proves a segment unneeded. */
	add_backup(e.cat, "20261121T234500Z-aaaaa0", T0 - 600, "partial", 80);
	CHECK_OK(prune(&e, 0, &t), &err);
	CHECK_INT(t.seg_deleted, ==, 0);
	CHECK_INT(t.seg_failed, ==, 0);
	CHECK_INT(raw_int("SELECT count(*) FROM segments"), ==, 6);
	CHECK_INT(seg_state(50, 99), ==, 1);

	/* complete backups at 100, 300, 500; keep-last=2 drops the first */
	add_backup(e.cat, "20261121T234500Z-aaaaa1", T0, "complete", 100);
	add_backup(e.cat, "20261121T234600Z-aaaaa2", T0 + 60, "complete", 300);
	add_backup(e.cat, "20261121T234700Z-aaaaa3", T0 + 120, "complete", 500);

	/* The catalog locked by another writer: nothing goes. */
	CHECK(sqlite3_open(cat_path, &other) == SQLITE_OK);
	CHECK_INT(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), ==, SQLITE_OK);
	cat_set_busy_timeout(e.cat, 50);
	CHECK_OK(prune(&e, 0, &t), &err);
	CHECK_INT(t.seg_deleted, ==, 0);
	CHECK_INT(t.bad_clusters + t.seg_failed, >, 0);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	cat_set_busy_timeout(e.cat, 5000);
	CHECK_INT(raw_int("SELECT count(*) FROM segments"), ==, 6);
	CHECK_INT(seg_state(50, 99), ==, 1);

	/* A kept complete backup whose revision is unknown: doubt. */
	CHECK_INT(raw_exec("UPDATE backups SET revision = NULL "
	    "WHERE id = '20261121T234700Z-aaaaa3'"), ==, SQLITE_OK);
	CHECK_OK(prune(&e, 1, &t), &err);
	CHECK_INT(t.seg_deleted, ==, 0);
	CHECK_INT(raw_exec("UPDATE backups SET revision = 500 "
	    "WHERE id = '20261121T234700Z-aaaaa3'"), ==, SQLITE_OK);

	/* A dry run counts what would go and deletes nothing. */
	CHECK_OK(prune(&e, 1, &t), &err);
	CHECK_INT(t.deleted, ==, 2);    /* the partial one and the oldest complete */
	CHECK_INT(t.seg_deleted, ==, 3);
	CHECK_INT(raw_int("SELECT count(*) FROM segments"), ==, 6);
	CHECK_INT(seg_state(101, 200), ==, 1);

	CHECK_OK(prune(&e, 0, &t), &err);
	CHECK_INT(t.failed, ==, 0);
	CHECK_INT(t.seg_failed, ==, 0);
	CHECK_INT(t.seg_deleted, ==, 3);
	CHECK_INT(seg_state(50, 99), ==, 0);
	CHECK_INT(seg_state(101, 200), ==, 0);
	CHECK_INT(seg_state(201, 300), ==, 0);
	CHECK_INT(seg_state(290, 310), ==, 1);
	CHECK_INT(seg_state(301, 400), ==, 1);
	CHECK_INT(seg_state(401, 600), ==, 1);
	CHECK_INT(seg_state(1, 49), ==, 1);
	CHECK_INT(raw_int("SELECT count(*) FROM segments"), ==, 3);
	CHECK_INT(raw_int("SELECT min(first_rev) FROM segments"), ==, 290);
	CHECK_INT(raw_int("SELECT count(*) FROM audit WHERE action = 'prune' AND "
	    "outcome = 'ok' AND backup_id IS NULL AND "
	    "json_extract(details, '$.segments') = 3 AND "
	    "json_extract(details, '$.first_revision') = 50 AND "
	    "json_extract(details, '$.last_revision') = 300 AND "
	    "json_extract(details, '$.oldest_kept_revision') = 300"), ==, 1);

	/* Again: nothing left to prove garbage. */
	CHECK_OK(prune(&e, 0, &t), &err);
	CHECK_INT(t.seg_deleted, ==, 0);
	CHECK_INT(raw_int("SELECT count(*) FROM segments"), ==, 3);

	env_close(&e);
	free(idtext);
	free(rcpt);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
}

int
main(void)
{
	RUN(segments_below_the_oldest_kept_backup);
	return TH_DONE();
}
