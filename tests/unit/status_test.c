/*
 * status_test.c: the status page's model and renderings (snapd/status.h)
 * on a real catalog: outside text comes out escaped, the page carries no
 * script and no outside asset, the page is a function of the JSON that
 * /api/status serves, nothing of a credential reaches either, and an
 * unreadable catalog still gives a page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "harness.h"
#include "snapd/status.h"

static char tmpdir[256];
static char dbpath[512];

#define EVIL "<script>alert(\"x\")</script> & 'q'"
#define EVIL_ESC "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A complete manifest of cluster c1 whose member's endpoint carries
 * userinfo, as a careless configuration might. */
static char *
manifest(const char *id, int64_t started)
{
	char t1[32], t2[32], obj[256];
	json_t *root;
	char *s;

	cat_time_format(started, t1, sizeof(t1));
	cat_time_format(started + 9, t2, sizeof(t2));
	snprintf(obj, sizeof(obj), "c1/2026/11/21/%s/m1.db.zst.age", id);
	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, "
	    "s:I, s:{s:s, s:i, s:i}, s:[{s:s, s:s, s:s, s:b, s:b, s:s, s:n, s:s, s:I, s:I, "
	    "s:I, s:I, s:s, s:s, s:I, s:s, s:s, s:s}]}",
	    "format", "lifeboat-manifest/1", "backup_id", id, "cluster", "c1",
	    "cluster_id", "cdf818194e3a8c32", "status", "complete", "started_at", t1,
	    "finished_at", t2, "lifeboat_version", "0.1.0", "hostname", "h",
	    "leader", "m1", "etcd_version", "3.6.0", "revision", (json_int_t)4242,
	    "db_size", (json_int_t)1048576, "stored_size", (json_int_t)300000,
	    "compression", "algorithm", "zstd", "level", 3, "threads", 2,
	    "members", "name", "m1", "id", "8e9e05c52164694d",
	    "endpoint", "https://root:hunter2@127.0.0.1:2379", "learner", 0, "leader", 1,
	    "status", "ok", "error", "etcd_version", "3.6.0", "revision", (json_int_t)4242,
	    "raft_index", (json_int_t)100, "raft_term", (json_int_t)2,
	    "db_size", (json_int_t)1048576, "etcd_sha256", HEX64, "object", obj,
	    "stored_size", (json_int_t)300000, "stored_sha256", HEX64,
	    "started_at", t1, "finished_at", t2);
	s = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	return s;
}

/* c1: a complete backup an hour ago, then a failed one with EVIL as its
 * error and an audit event with EVIL in its details. */
static void
fill(void)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	int64_t now = (int64_t)time(NULL);
	char id[64], ts[32];
	time_t tt = (time_t)(now - 3600);
	struct tm tm;
	char *m;

	if (cat_open(dbpath, 0, &c, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	gmtime_r(&tt, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	snprintf(id, sizeof(id), "%s.000Z-aaaaaa", ts);
	m = manifest(id, now - 3600);
	if (m == NULL || cat_record_manifest(c, m, &err) < 0 ||
	    cat_backup_begin(c, "c1", "20991231T000000.000Z-bbbbbb", now - 60, NULL, &err) < 0 ||
	    cat_backup_finish(c, "20991231T000000.000Z-bbbbbb", CAT_FAILED, EVIL, NULL, &err) < 0 ||
	    cat_audit(c, CAT_ACT_BACKUP, "c1", NULL, "failed", "{\"error\":\"" "<script>x</script>"
	    "\"}", &err) < 0) {
		fprintf(stderr, "fill: %s\n", err.msg);
		exit(1);
	}
	free(m);
	cat_close(c);
}

static void
view(struct status_daemon *sd, struct status_cluster *cl, const char *catalog)
{
	memset(sd, 0, sizeof(*sd));
	memset(cl, 0, 2 * sizeof(*cl));
	snprintf(sd->owner, sizeof(sd->owner), "test pid 1");
	snprintf(sd->catalog, sizeof(sd->catalog), "%s", catalog);
	sd->now = sd->started = time(NULL);
	sd->scale = 1;
	snprintf(cl[0].name, sizeof(cl[0].name), "c1");
	cl[0].enabled = 1;
	cl[0].next_run = sd->now + 600;
	cl[0].overdue_at = sd->now + 1200;
	cl[0].lock = STATUS_LOCK_HELD;
	/* a name from outside too (config names are checked, but escape anyway) */
	snprintf(cl[1].name, sizeof(cl[1].name), "x\"><b>'");
	cl[1].enabled = 1;
	sd->cl = cl;
	sd->n = 2;
}

static void
test_outside_text_is_escaped(void)
{
	struct status_daemon sd;
	struct status_cluster cl[2];
	struct lb_err err = { 0 };
	json_t *doc = NULL;
	char *html = NULL, *js = NULL;
	const char *p;

	view(&sd, cl, dbpath);
	/* a standby names the holder, another appliance's words */
	cl[1].lock = STATUS_LOCK_STANDBY;
	snprintf(cl[1].holder, sizeof(cl[1].holder), "<i>h2</i> pid 7");
	CHECK_OK(status_build(&sd, &doc, &err), &err);
	CHECK_OK(status_render_html(doc, &html, &err), &err);
	CHECK_OK(status_render_json(doc, &js, &err), &err);
	/* the JSON carries the text as it is, the page only escaped */
	CHECK_CONTAINS(js, "<script>alert(\\\"x\\\")</script> & 'q'");
	CHECK_CONTAINS(js, "\"holder\":\"<i>h2</i> pid 7\"");
	CHECK_CONTAINS(html, "standby: held by &lt;i&gt;h2&lt;/i&gt; pid 7");
	CHECK_CONTAINS(html, "held: test pid 1");
	CHECK_CONTAINS(html, EVIL_ESC);
	for (p = html; (p = strchr(p, '<')) != NULL; p++)
		CHECK(strncasecmp(p, "<script", 7) != 0 && strncasecmp(p, "<b>", 3) != 0);
	CHECK_CONTAINS(html, "x&quot;&gt;&lt;b&gt;&#39;");
	CHECK_CONTAINS(html, "{&quot;error&quot;:&quot;&lt;script&gt;x&lt;/script&gt;&quot;}");
	/* the failed attempt makes the health degraded, in words and class */
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(
	    json_object_get(doc, "clusters"), 0), "health"), "state")), "degraded");
	CHECK_CONTAINS(html, "<span class=\"badge h-degraded\"><span aria-hidden=\"true\">"
	    "&#9650;</span> degraded</span>");
	json_decref(doc);
	free(html);
	free(js);
}

static void
test_no_script_no_outside_asset(void)
{
	struct status_daemon sd;
	struct status_cluster cl[2];
	struct lb_err err = { 0 };
	json_t *doc = NULL;
	char *html = NULL;

	view(&sd, cl, dbpath);
	CHECK_OK(status_build(&sd, &doc, &err), &err);
	CHECK_OK(status_render_html(doc, &html, &err), &err);
	CHECK(strcasestr(html, "<script") == NULL);
	CHECK(strstr(html, " src=") == NULL);
	CHECK(strstr(html, "href=\"http") == NULL && strstr(html, "href=\"//") == NULL);
	CHECK(strstr(html, "url(") == NULL && strstr(html, "@import") == NULL);
	CHECK_CONTAINS(html, "<meta http-equiv=\"refresh\" content=\"30\">");
	CHECK_CONTAINS(html, "<meta name=\"viewport\"");
	CHECK_CONTAINS(html, "<svg viewBox=");
	json_decref(doc);
	free(html);
}

/* The page is rendered from the document alone: from /api/status's text
 * parsed back, it is byte for byte the page the daemon serves. */
static void
test_page_is_rendered_from_the_json(void)
{
	struct status_daemon sd;
	struct status_cluster cl[2];
	struct lb_err err = { 0 };
	json_error_t jerr;
	json_t *doc = NULL, *back = NULL;
	char *html = NULL, *html2 = NULL, *js = NULL;

	view(&sd, cl, dbpath);
	CHECK_OK(status_build(&sd, &doc, &err), &err);
	CHECK_OK(status_render_json(doc, &js, &err), &err);
	CHECK((back = json_loads(js, 0, &jerr)) != NULL);
	CHECK_OK(status_render_html(doc, &html, &err), &err);
	CHECK_OK(status_render_html(back, &html2, &err), &err);
	CHECK_STR(html, html2);
	json_decref(doc);
	json_decref(back);
	free(html);
	free(html2);
	free(js);
}

static void
test_nothing_secret(void)
{
	struct status_daemon sd;
	struct status_cluster cl[2];
	struct lb_err err = { 0 };
	json_t *doc = NULL, *m;
	char *html = NULL, *js = NULL;

	view(&sd, cl, dbpath);
	CHECK_OK(status_build(&sd, &doc, &err), &err);
	CHECK_OK(status_render_html(doc, &html, &err), &err);
	CHECK_OK(status_render_json(doc, &js, &err), &err);
	m = json_array_get(json_object_get(json_array_get(json_object_get(doc, "clusters"), 0),
	    "members"), 0);
	CHECK_STR(json_string_value(json_object_get(m, "endpoint")), "https://127.0.0.1:2379");
	CHECK_INT(json_integer_value(json_object_get(m, "revision")), ==, 4242);
	CHECK(strstr(js, "hunter2") == NULL && strstr(html, "hunter2") == NULL);
	CHECK(strstr(js, "root:") == NULL && strstr(html, "root:") == NULL);
	json_decref(doc);
	free(html);
	free(js);
}

static void
test_unreadable_catalog_still_renders(void)
{
	struct status_daemon sd;
	struct status_cluster cl[2];
	struct lb_err err = { 0 };
	json_t *doc = NULL;
	char *html = NULL, missing[600];

	snprintf(missing, sizeof(missing), "%s/none/catalog.db", tmpdir);
	view(&sd, cl, missing);
	CHECK_OK(status_build(&sd, &doc, &err), &err);
	CHECK(json_is_string(json_object_get(json_object_get(doc, "daemon"), "catalog_error")));
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(
	    json_object_get(doc, "clusters"), 0), "health"), "state")), "unknown");
	CHECK_OK(status_render_html(doc, &html, &err), &err);
	CHECK_CONTAINS(html, "id=\"catalog-error\"");
	json_decref(doc);
	free(html);
}

/* pitr = on: the capture's state from the daemon, the newest stored
 * segment from the catalog, the drills' last proof (a failed one makes
 * the health degraded); pitr off: null and nothing on the page. */
static void
test_pitr(void)
{
	struct status_daemon sd;
	struct status_cluster cl[2];
	struct cat_segment g = { 0 };
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	json_t *doc = NULL, *p;
	char *html = NULL;
	int64_t now_ms = (int64_t)time(NULL) * 1000;

	CHECK_OK(cat_open(dbpath, 0, &c, &err), &err);
	g.cluster = "c1";
	g.cluster_id = "00000000000000c1";
	g.first_rev = 4243;
	g.last_rev = 4300;
	g.first_time_ms = now_ms - 30000;
	g.last_time_ms = now_ms - 2000;
	g.revisions = 58;
	g.events = 60;
	g.object = "lifeboat/c1/wal/x/00000000000000004243-00000000000000004300.evlog.zst.age";
	g.stored_size = 100;
	g.stored_sha256 = HEX64;
	g.host = "h1";
	g.created_at = time(NULL);
	g.verified_at = -1;
	CHECK_OK(cat_segment_add(c, &g, NULL, &err), &err);
	cat_close(c);

	view(&sd, cl, dbpath);
	cl[0].pitr_on = 1;
	cl[0].pitr_capturing = 1;
	cl[0].pitr_lag_s = 1.5;
	cl[0].pitr_lag_revs = 3;
	cl[0].pitr_last_rev = 4290;    /* behind what the catalog has stored */
	cl[0].pitr_gaps = 1;
	cl[0].pitr_proof_last = 2;
	CHECK_OK(status_build(&sd, &doc, &err), &err);
	CHECK_OK(status_render_html(doc, &html, &err), &err);
	p = json_object_get(json_array_get(json_object_get(doc, "clusters"), 0), "pitr");
	CHECK(json_is_object(p));
	CHECK(json_is_true(json_object_get(p, "capturing")));
	CHECK(json_real_value(json_object_get(p, "lag_seconds")) == 1.5);
	CHECK_INT(json_integer_value(json_object_get(p, "lag_revisions")), ==, 3);
	CHECK_INT(json_integer_value(json_object_get(p, "last_revision")), ==, 4300);
	CHECK(json_is_string(json_object_get(p, "last_stored_at")));
	CHECK_INT(json_integer_value(json_object_get(p, "gaps")), ==, 1);
	CHECK_STR(json_string_value(json_object_get(p, "last_proof")), "failed");
	CHECK(json_object_get(p, "newest_window") != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(
	    json_object_get(doc, "clusters"), 0), "health"), "state")), "degraded");
	CHECK(json_is_null(json_object_get(json_array_get(json_object_get(doc, "clusters"),
	    1), "pitr")));
	CHECK_CONTAINS(html, "PITR: capturing, lag 1.5 s / 3 revisions; last revision 4300");
	CHECK_CONTAINS(html, "1 gaps; last proof");
	json_decref(doc);
	free(html);
	html = NULL;
	doc = NULL;

	/* another appliance captures: no lag here */
	cl[0].pitr_capturing = 0;
	cl[0].pitr_proof_last = 1;
	CHECK_OK(status_build(&sd, &doc, &err), &err);
	CHECK_OK(status_render_html(doc, &html, &err), &err);
	p = json_object_get(json_array_get(json_object_get(doc, "clusters"), 0), "pitr");
	CHECK(json_is_null(json_object_get(p, "lag_seconds")));
	CHECK_STR(json_string_value(json_object_get(p, "last_proof")), "ok");
	CHECK_CONTAINS(html, "PITR: not capturing here; last revision 4300");
	json_decref(doc);
	free(html);
	html = NULL;
	doc = NULL;

	/* capturing, the cluster's revision not read yet: no revisions lag */
	cl[0].pitr_capturing = 1;
	cl[0].pitr_lag_revs = -1;
	CHECK_OK(status_build(&sd, &doc, &err), &err);
	CHECK_OK(status_render_html(doc, &html, &err), &err);
	p = json_object_get(json_array_get(json_object_get(doc, "clusters"), 0), "pitr");
	CHECK(json_is_null(json_object_get(p, "lag_revisions")));
	CHECK_CONTAINS(html, "PITR: capturing, lag 1.5 s; last revision 4300");
	CHECK(strstr(html, "-1 revisions") == NULL);
	json_decref(doc);
	free(html);
}

int
main(void)
{
	char cmd[600];
	int r;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lifeboat-status.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/catalog.db", tmpdir);
	fill();
	RUN(test_outside_text_is_escaped);
	RUN(test_no_script_no_outside_asset);
	RUN(test_page_is_rendered_from_the_json);
	RUN(test_nothing_secret);
	RUN(test_unreadable_catalog_still_renders);
	RUN(test_pitr);
	r = TH_DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		r = 1;
	return r;
}
