/*
 * catalog_bench.c: fills a catalog with many backups in one transaction
 * and times the queries the CLI and the daemon run most (list --cluster
 * --since, show latest), through the public catalog API.  Not a test: it
 * prints figures, asserts nothing about them.
 *
 *   catalog_bench DB [BACKUPS [CLUSTERS [MEMBERS]]]   (1000000 50 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "catalog/catalog.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int
die_sql(sqlite3 *db, const char *what)
{
	fprintf(stderr, "catalog_bench: %s: %s\n", what, sqlite3_errmsg(db));
	return 1;
}

/* Bulk rows go straight through SQLite (one transaction, prepared
 * statements); only the schema comes from cat_open. */
static int
fill(const char *path, long n, int clusters, int members, int64_t base, int64_t step)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *cs = NULL, *bs = NULL, *ms = NULL;
	char id[64], cl[32], mname[16], loc[256], mid[20];
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	long i;
	int k, rc = 1;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return die_sql(db, "open");
	sqlite3_exec(db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -200000", NULL, NULL, NULL);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO clusters (name, cluster_id) VALUES (?1, "
	    "'cdf818194e3a8c32')", -1, &cs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO backups (id, cluster, cluster_id, status, "
	    "started_at, finished_at, revision, db_size, stored_size, members_ok, members_total, "
	    "manifest_key, host) VALUES (?1, ?2, 'cdf818194e3a8c32', ?3, ?4, ?4 + 9, ?5, "
	    "104857600, 30000000, ?6, ?7, ?8, 'bench')", -1, &bs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO members (backup_id, name, member_id, endpoint, "
	    "learner, status, revision, raft_index, raft_term, db_size, etcd_sha256, location, "
	    "stored_size, sha256) VALUES (?1, ?2, ?3, 'https://10.0.0.1:2379', 0, 'ok', ?4, "
	    "?4, 7, 104857600, ?5, ?6, 10000000, ?5)", -1, &ms, NULL) != SQLITE_OK) {
		rc = die_sql(db, "prepare");
		goto out;
	}
	for (k = 0; k < clusters; k++) {
		snprintf(cl, sizeof(cl), "c%02d", k);
		sqlite3_reset(cs);
		sqlite3_bind_text(cs, 1, cl, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(cs) != SQLITE_DONE) {
			rc = die_sql(db, "insert cluster");
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		int64_t t = base + (i / clusters) * step + (i % clusters);
		time_t tt = (time_t)t;
		struct tm tm;
		char ts[32];
		long r = i / clusters;
		const char *status = r % 100 == 7 ? "failed" : r % 50 == 3 ? "partial" : "complete";

		gmtime_r(&tt, &tm);
		strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(cl, sizeof(cl), "c%02d", (int)(i % clusters));
		snprintf(id, sizeof(id), "%s-%06lx", ts, i & 0xffffff);
		snprintf(loc, sizeof(loc), "%s/%.4s/%.2s/%.2s/%s/manifest.json", cl, ts, ts + 4,
		    ts + 6, id);
		sqlite3_reset(bs);
		sqlite3_bind_text(bs, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(bs, 2, cl, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(bs, 3, status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(bs, 4, t);
		sqlite3_bind_int64(bs, 5, 1000 + i);
		sqlite3_bind_int(bs, 6, members - (status[0] == 'p'));
		sqlite3_bind_int(bs, 7, members);
		sqlite3_bind_text(bs, 8, loc, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(bs) != SQLITE_DONE) {
			rc = die_sql(db, "insert backup");
			goto out;
		}
		for (k = 0; k < members; k++) {
			snprintf(mname, sizeof(mname), "m%d", k + 1);
			snprintf(mid, sizeof(mid), "%016x", 0x8e9e05c5u + (unsigned)k);
			snprintf(loc, sizeof(loc), "%s/%.4s/%.2s/%.2s/%s/%s.db.zst.age", cl, ts,
			    ts + 4, ts + 6, id, mname);
			sqlite3_reset(ms);
			sqlite3_bind_text(ms, 1, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ms, 2, mname, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ms, 3, mid, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(ms, 4, 1000 + i);
			sqlite3_bind_text(ms, 5, hex, -1, SQLITE_STATIC);
			sqlite3_bind_text(ms, 6, loc, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(ms) != SQLITE_DONE) {
				rc = die_sql(db, "insert member");
				goto out;
			}
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = die_sql(db, "commit");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(cs);
	sqlite3_finalize(bs);
	sqlite3_finalize(ms);
	sqlite3_close(db);
	return rc;
}

static int
count_cb(const struct cat_backup *b, void *arg)
{
	(void)b;
	(*(long *)arg)++;
	return 0;
}

/* Runs a query 5 times after a warm-up; prints the cold, median and max. */
#define RUNS 5

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *what, double cold, double *t, long rows)
{
	qsort(t, RUNS, sizeof(*t), cmp_d);
	printf("%-52s rows %6ld  first %7.2f ms  median %7.2f ms  max %7.2f ms\n",
	    what, rows, cold, t[RUNS / 2], t[RUNS - 1]);
}

int
main(int argc, char **argv)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	struct cat_backup *b = NULL;
	long n = argc > 2 ? atol(argv[2]) : 1000000, rows = 0;
	int clusters = argc > 3 ? atoi(argv[3]) : 50, members = argc > 4 ? atoi(argv[4]) : 3;
	int64_t step = 900, now = (int64_t)time(NULL), base;
	double t0, cold, t[RUNS];
	int i, q;

	if (argc < 2 || n <= 0 || clusters <= 0 || members < 0) {
		fprintf(stderr, "usage: catalog_bench DB [BACKUPS [CLUSTERS [MEMBERS]]]\n");
		return 2;
	}
	/* One backup per cluster every 15 minutes, ending now. */
	base = now - (n / clusters) * step;
	if (access(argv[1], F_OK) != 0) {
		if (cat_open(argv[1], 0, &c, &err) < 0)
			goto fail;
		cat_close(c);
		c = NULL;
		t0 = now_ms();
		if (fill(argv[1], n, clusters, members, base, step) != 0)
			return 1;
		printf("filled %ld backups x %d members in %d clusters: %.1f s\n", n, members,
		    clusters, (now_ms() - t0) / 1000.0);
	} else {
		printf("reusing %s (delete it to refill)\n", argv[1]);
	}
	if (cat_open(argv[1], 0, &c, &err) < 0)
		goto fail;

	for (q = 0; q < 6; q++) {
		struct cat_filter f = { .status = -1 };
		const char *what = "";
		unsigned with = CAT_WITH_MEMBERS;

		switch (q) {
		case 0: what = "list --cluster c17 --since 24h (json: +members)";
			f.cluster = "c17"; f.since = now - 86400; break;
		case 1: what = "list --cluster c17 --since 7d (json: +members)";
			f.cluster = "c17"; f.since = now - 7 * 86400; break;
		case 2: what = "list --since 1h, all clusters (json: +members)";
			f.since = now - 3600; break;
		case 3: what = "list --cluster c17 --status failed --since 7d";
			f.cluster = "c17"; f.status = CAT_FAILED; f.since = now - 7 * 86400;
			with = 0; break;
		case 4: what = "show latest --cluster c17 (complete)"; break;
		case 5: what = "show latest (complete, any cluster)"; break;
		}
		for (i = -1; i < RUNS; i++) {
			rows = 0;
			t0 = now_ms();
			if (q < 4) {
				if (cat_backup_list(c, &f, with, count_cb, &rows, &err) < 0)
					goto fail;
			} else {
				if (cat_backup_latest(c, q == 4 ? "c17" : NULL, CAT_COMPLETE,
				    CAT_WITH_MEMBERS | CAT_WITH_MANIFEST, &b, &err) < 0)
					goto fail;
				rows = 1;
				cat_backup_free(b);
				b = NULL;
			}
			if (i < 0)
				cold = now_ms() - t0;
			else
				t[i] = now_ms() - t0;
		}
		report(what, cold, t, rows);
	}
	{
		/* The dangling-running scan every daemon start does. */
		for (i = -1; i < RUNS; i++) {
			rows = 0;
			t0 = now_ms();
			if (cat_backups_running(c, NULL, count_cb, &rows, &err) < 0)
				goto fail;
			if (i < 0)
				cold = now_ms() - t0;
			else
				t[i] = now_ms() - t0;
		}
		report("running backups (all clusters)", cold, t, rows);
	}
	cat_close(c);
	return 0;
fail:
	fprintf(stderr, "catalog_bench: %s\n", err.msg);
	cat_close(c);
	return 1;
}
