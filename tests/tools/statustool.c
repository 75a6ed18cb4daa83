/*
 * statustool.c: the status page's model and renderer (snapd/status.h)
 * driven directly, without a daemon (tests and bench only; never
 * installed).
 *
 *   statustool DB fill NAMES|COUNT PER STEP_S   PER backups of each cluster,
 *                                               every STEP_S seconds up to now
 *   statustool DB html|json CLUSTER...          the page or the JSON on stdout
 *   statustool DB time RUNS CLUSTER...          median and max of RUNS renders
 *
 * fill writes through SQLite in one transaction (the schema from
 * cat_open): a year of hourly backups for ten clusters is 87,600 backups,
 * too many for one transaction each.  NAMES is a comma-separated list;
 * a COUNT names them c00, c01...  Every backup has 3 members and a
 * 'backup' audit event; every 24th is verified ok; every 100th failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "catalog/catalog.h"
#include "snapd/status.h"

static int
die_sql(sqlite3 *db, const char *what)
{
	fprintf(stderr, "statustool: %s: %s\n", what, sqlite3_errmsg(db));
	return 1;
}

static int
names(const char *spec, char out[][80], int max)
{
	char *end;
	long n = strtol(spec, &end, 10);
	const char *p = spec;
	int k = 0;

	if (*end == '\0' && n > 0) {
		for (k = 0; k < n && k < max; k++)
			snprintf(out[k], 80, "c%02d", k);
		return k;
	}
	while (*p != '\0' && k < max) {
		size_t len = strcspn(p, ",");

		snprintf(out[k++], 80, "%.*s", (int)len, p);
		p += len + (p[len] == ',');
	}
	return k;
}

static int
fill(const char *path, const char *spec, long per, long step)
{
	static char cl[64][80];
	sqlite3 *db = NULL;
	sqlite3_stmt *cs = NULL, *bs = NULL, *ms = NULL, *as = NULL;
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char id[64], loc[512], mname[16];
	int64_t now = (int64_t)time(NULL);
	int nc = names(spec, cl, 64), k, m, rc = 1;
	long i;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return die_sql(db, "open");
	sqlite3_exec(db, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO clusters (name, cluster_id) "
	    "VALUES (?1, 'cdf818194e3a8c32')", -1, &cs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO backups (id, cluster, cluster_id, status, "
	    "started_at, finished_at, revision, db_size, stored_size, members_ok, "
	    "members_total, verified_at, verify_status, error, manifest_key, host) VALUES "
	    "(?1, ?2, 'cdf818194e3a8c32', ?3, ?4, ?5, ?6, ?7, ?8, ?9, 3, ?10, ?11, ?12, ?13, "
	    "'fixture')", -1, &bs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO members (backup_id, name, member_id, endpoint, "
	    "learner, status, revision, raft_index, raft_term, db_size, etcd_sha256, location, "
	    "stored_size, sha256) VALUES (?1, ?2, '8e9e05c52164694d', ?3, 0, 'ok', ?4, ?4, 7, "
	    "?5, ?6, ?7, ?8, ?6)", -1, &ms, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO audit (at, action, cluster, backup_id, outcome, "
	    "os_user, host, details) VALUES (?1, 'backup', ?2, ?3, ?4, 'lifeboat', 'fixture', "
	    "'{\"members\":3}')", -1, &as, NULL) != SQLITE_OK) {
		rc = die_sql(db, "prepare");
		goto out;
	}
	for (k = 0; k < nc; k++) {
		sqlite3_reset(cs);
		sqlite3_bind_text(cs, 1, cl[k], -1, SQLITE_STATIC);
		if (sqlite3_step(cs) != SQLITE_DONE) {
			rc = die_sql(db, "insert cluster");
			goto out;
		}
		for (i = 0; i < per; i++) {
			int64_t t = now - (per - i) * step - 600 + k, db_size, stored;
			int64_t dur = 4 + (i * 7 + k) % 9;
			const char *st = i % 100 == 99 ? "failed" : "complete";
			time_t tt = (time_t)t;
			struct tm tm;
			char ts[32];

			gmtime_r(&tt, &tm);
			strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
			snprintf(id, sizeof(id), "%s.000Z-f%02x%03lx", ts, k, i & 0xfff);
			/* a database that grows, with a daily compaction dip */
			db_size = (64LL << 20) + i * 8192LL + (i % 24) * (1LL << 20) + k * (4LL << 20);
			stored = db_size / 3;
			snprintf(loc, sizeof(loc), "%s/%.4s/%.2s/%.2s/%s/manifest.json", cl[k], ts,
			    ts + 4, ts + 6, id);
			sqlite3_reset(bs);
			sqlite3_bind_text(bs, 1, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(bs, 2, cl[k], -1, SQLITE_STATIC);
			sqlite3_bind_text(bs, 3, st, -1, SQLITE_STATIC);
			sqlite3_bind_int64(bs, 4, t);
			sqlite3_bind_int64(bs, 5, t + dur);
			if (st[0] == 'f') {
				sqlite3_bind_null(bs, 6);
				sqlite3_bind_null(bs, 7);
				sqlite3_bind_null(bs, 8);
				sqlite3_bind_int(bs, 9, 0);
				sqlite3_bind_text(bs, 12, "etcd m1: connection refused", -1,
				    SQLITE_STATIC);
			} else {
				sqlite3_bind_int64(bs, 6, 1000 + i * 50);
				sqlite3_bind_int64(bs, 7, db_size);
				sqlite3_bind_int64(bs, 8, stored * 3);
				sqlite3_bind_int(bs, 9, 3);
				sqlite3_bind_null(bs, 12);
			}
			if (i % 24 == 23 && st[0] == 'c') {
				sqlite3_bind_int64(bs, 10, t + 120);
				sqlite3_bind_text(bs, 11, "ok", -1, SQLITE_STATIC);
			} else {
				sqlite3_bind_null(bs, 10);
				sqlite3_bind_null(bs, 11);
			}
			sqlite3_bind_text(bs, 13, loc, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(bs) != SQLITE_DONE) {
				rc = die_sql(db, "insert backup");
				goto out;
			}
			for (m = 0; st[0] == 'c' && m < 3; m++) {
				snprintf(mname, sizeof(mname), "m%d", m + 1);
				snprintf(loc, sizeof(loc), "%s/%.4s/%.2s/%.2s/%s/%s.db.zst.age", cl[k],
				    ts, ts + 4, ts + 6, id, mname);
				sqlite3_reset(ms);
				sqlite3_bind_text(ms, 1, id, -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(ms, 2, mname, -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(ms, 3, "https://10.0.0.1:2379", -1, SQLITE_STATIC);
				sqlite3_bind_int64(ms, 4, 1000 + i * 50);
				sqlite3_bind_int64(ms, 5, db_size);
				sqlite3_bind_text(ms, 6, hex, -1, SQLITE_STATIC);
				sqlite3_bind_text(ms, 7, loc, -1, SQLITE_TRANSIENT);
				sqlite3_bind_int64(ms, 8, stored);
				if (sqlite3_step(ms) != SQLITE_DONE) {
					rc = die_sql(db, "insert member");
					goto out;
				}
			}
			sqlite3_reset(as);
			sqlite3_bind_int64(as, 1, t + dur);
			sqlite3_bind_text(as, 2, cl[k], -1, SQLITE_STATIC);
			sqlite3_bind_text(as, 3, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(as, 4, st, -1, SQLITE_STATIC);
			if (sqlite3_step(as) != SQLITE_DONE) {
				rc = die_sql(db, "insert audit");
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
	sqlite3_finalize(as);
	sqlite3_close(db);
	return rc;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One render as the daemon does it: the model, then the page or JSON. */
static int
render(struct status_daemon *sd, int html, char **out, struct lb_err *err)
{
	json_t *doc = NULL;
	int r;

	if ((r = status_build(sd, &doc, err)) == 0)
		r = html ? status_render_html(doc, out, err) : status_render_json(doc, out, err);
	json_decref(doc);
	return r;
}

int
main(int argc, char **argv)
{
	struct status_daemon sd;
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	double t[3][1000];
	char *out = NULL;
	int i, k, runs, r = 0, first;

	if (argc < 4) {
		fprintf(stderr, "usage: statustool DB fill|html|json|time ...\n");
		return 2;
	}
	if (strcmp(argv[2], "fill") == 0) {
		if (argc != 6)
			return 2;
		/* the schema (and its migrations) from the catalog itself */
		if (cat_open(argv[1], 0, &c, &err) < 0) {
			fprintf(stderr, "statustool: %s\n", err.msg);
			return 1;
		}
		cat_close(c);
		return fill(argv[1], argv[3], atol(argv[4]), atol(argv[5]));
	}
	memset(&sd, 0, sizeof(sd));
	snprintf(sd.owner, sizeof(sd.owner), "statustool");
	snprintf(sd.catalog, sizeof(sd.catalog), "%s", argv[1]);
	sd.now = sd.started = time(NULL);
	sd.scale = 1;
	first = strcmp(argv[2], "time") == 0 ? 4 : 3;
	runs = first == 4 ? atoi(argv[3]) : 1;
	if (runs < 1 || runs > 1000 || (sd.cl = calloc((size_t)argc, sizeof(*sd.cl))) == NULL)
		return 2;
	for (i = first; i < argc; i++) {
		struct status_cluster *sc = &sd.cl[sd.n++];

		snprintf(sc->name, sizeof(sc->name), "%s", argv[i]);
		sc->enabled = 1;
		sc->next_run = sd.now + 1800;
		sc->overdue_at = sd.now + 3600;
		sc->lock = STATUS_LOCK_NONE;
	}
	if (first == 3) {
		if ((r = render(&sd, strcmp(argv[2], "html") == 0, &out, &err)) == 0)
			fputs(out, stdout);
		goto done;
	}
	/* the model alone, the page, the JSON: each RUNS times */
	for (k = 0; k < runs && r == 0; k++) {
		json_t *doc = NULL;
		double a = now_ms(), b2, c2;

		if ((r = status_build(&sd, &doc, &err)) < 0)
			break;
		b2 = now_ms();
		r = status_render_html(doc, &out, &err);
		c2 = now_ms();
		json_decref(doc);
		t[0][k] = b2 - a;
		t[1][k] = c2 - a;
		free(out);
		out = NULL;
		a = now_ms();
		if (r == 0 && (r = render(&sd, 0, &out, &err)) == 0)
			t[2][k] = now_ms() - a;
		free(out);
		out = NULL;
	}
	if (r == 0) {
		static const char *const what[] = { "model only", "page (/)", "json (/api/status)" };

		for (i = 0; i < 3; i++) {
			qsort(t[i], (size_t)runs, sizeof(double), cmp_d);
			printf("%-20s median %7.2f ms  min %7.2f ms  max %7.2f ms  (%d renders, %zu clusters)\n",
			    what[i], t[i][runs / 2], t[i][0], t[i][runs - 1], runs, sd.n);
		}
	}
done:
	free(out);
	free(sd.cl);
	if (r < 0) {
		fprintf(stderr, "statustool: %s\n", err.msg);
		return 1;
	}
	return 0;
}
