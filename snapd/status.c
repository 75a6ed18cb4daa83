/*
 * status.c: the status model of status.h: the daemon's view of its
 * clusters joined with the catalog, as one JSON document.  page.c renders
 * the page from this document; nothing here formats for people beyond
 * the health's reason.
 *
 * The catalog is read with its own read-only connection per build, never
 * the daemon's, and never under d->mu (the caller copied what it needed).
 * Every query is bounded (catalog.h, "the status page"), so a build costs
 * the same with a year of hourly backups as with a day.
 */
#include "snapd/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "common/fmt.h"

static json_t *
j_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* RFC 3339, or null for an absent time (-1 or 0). */
static json_t *
j_time(int64_t t)
{
	char buf[32];

	if (t <= 0)
		return json_null();
	return json_string(cat_time_format(t, buf, sizeof(buf)));
}

static json_t *
j_int(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

/* An endpoint without userinfo ("https://user:pw@h:2379" -> "https://h:2379"):
 * nothing of a credential reaches the page, whatever the config says. */
static json_t *
j_endpoint(const char *ep)
{
	const char *scheme, *at, *slash;
	char buf[1024];

	if (ep == NULL)
		return json_null();
	scheme = strstr(ep, "://");
	scheme = scheme != NULL ? scheme + 3 : ep;
	at = strchr(scheme, '@');
	slash = strchr(scheme, '/');
	if (at == NULL || (slash != NULL && slash < at))
		return json_string(ep);
	snprintf(buf, sizeof(buf), "%.*s%s", (int)(scheme - ep), ep, at + 1);
	return json_string(buf);
}

/* ---- catalog rows ---- */

static json_t *
backup_row(const struct cat_backup *b)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:o, s:o, s:o}",
	    "id", b->id, "cluster", b->cluster, "status", cat_status_name(b->status),
	    "started_at", j_time(b->started_at), "finished_at", j_time(b->finished_at),
	    "duration_seconds", b->finished_at > 0 ? json_integer(b->finished_at -
	    b->started_at) : json_null(),
	    "db_size_bytes", j_int(b->db_size), "stored_size_bytes", j_int(b->stored_size),
	    "members_ok", b->members_ok, "members_total", b->members_total,
	    "verify", j_str(b->verify_status), "error", j_str(b->error),
	    "host", j_str(b->host));
}

static int
add_backup(const struct cat_backup *b, void *arg)
{
	json_t *row = backup_row(b);

	if (row == NULL || json_array_append_new(arg, row) < 0)
		return LB_E_NOMEM;
	return 0;
}

static int
add_event(const struct cat_audit_event *e, void *arg)
{
	char details[512];
	json_t *row;

	/* details are lifeboat's own JSON: shown, but cut short for a page */
	snprintf(details, sizeof(details), "%s", e->details != NULL ? e->details : "");
	row = json_pack("{s:I, s:o, s:s, s:o, s:o, s:s, s:o, s:o, s:o}",
	    "id", (json_int_t)e->id, "at", j_time(e->at), "action", e->action,
	    "cluster", j_str(e->cluster), "backup_id", j_str(e->backup_id),
	    "outcome", e->outcome, "user", j_str(e->os_user), "host", j_str(e->host),
	    "details", e->details != NULL ? json_string(details) : json_null());
	if (row == NULL || json_array_append_new(arg, row) < 0)
		return LB_E_NOMEM;
	return 0;
}

struct newest {
	struct cat_backup *attempt;  /* newest not running */
	struct cat_backup *with_members;
	int seen;
};

static struct cat_backup *
backup_dup_summary(const struct cat_backup *b)
{
	struct cat_backup *o = calloc(1, sizeof(*o));
	int i;

	if (o == NULL)
		return NULL;
	*o = *b;
	o->id = b->id ? strdup(b->id) : NULL;
	o->cluster = b->cluster ? strdup(b->cluster) : NULL;
	o->cluster_id = NULL;
	o->verify_status = NULL;
	o->verify_detail = NULL;
	o->error = b->error ? strdup(b->error) : NULL;
	o->manifest_key = NULL;
	o->host = b->host ? strdup(b->host) : NULL;
	o->manifest = NULL;
	o->members = NULL;
	o->n_members = 0;
	if (b->n_members > 0 && (o->members = calloc((size_t)b->n_members,
	    sizeof(*o->members))) != NULL) {
		o->n_members = b->n_members;
		for (i = 0; i < b->n_members; i++) {
			const struct cat_member *m = &b->members[i];

			o->members[i].name = m->name ? strdup(m->name) : NULL;
			o->members[i].endpoint = m->endpoint ? strdup(m->endpoint) : NULL;
			o->members[i].status = m->status ? strdup(m->status) : NULL;
			o->members[i].error = m->error ? strdup(m->error) : NULL;
			o->members[i].revision = m->revision;
			o->members[i].db_size = m->db_size;
			o->members[i].learner = m->learner;
		}
	}
	return o;
}

static int
take_newest(const struct cat_backup *b, void *arg)
{
	struct newest *nw = arg;

	nw->seen++;
	if (nw->attempt == NULL && b->status != CAT_RUNNING &&
	    (nw->attempt = backup_dup_summary(b)) == NULL)
		return LB_E_NOMEM;
	if (nw->with_members == NULL && b->n_members > 0 &&
	    (nw->with_members = backup_dup_summary(b)) == NULL)
		return LB_E_NOMEM;
	return nw->attempt != NULL && nw->with_members != NULL ? 1 : 0;
}

struct points {
	struct cat_point *p;
	size_t n;
};

static int
add_point(const struct cat_point *p, void *arg)
{
	struct points *pt = arg;

	pt->p[pt->n++] = *p;
	return pt->n < STATUS_CHART_POINTS ? 0 : 1;
}

/* The chart arrays of charts, oldest first as a chart's x axis runs (the
 * catalog hands them newest first). */
static int
chart_arrays(const struct points *pt, json_t *charts)
{
	json_t *at = json_array(), *db = json_array(), *stored = json_array(),
	    *dur = json_array();
	size_t i;
	int r = LB_E_NOMEM;

	if (at == NULL || db == NULL || stored == NULL || dur == NULL)
		goto out;
	for (i = pt->n; i-- > 0;)
		if (json_array_append_new(at, json_integer(pt->p[i].started_at)) < 0 ||
		    json_array_append_new(db, j_int(pt->p[i].db_size)) < 0 ||
		    json_array_append_new(stored, j_int(pt->p[i].stored_size)) < 0 ||
		    json_array_append_new(dur, j_int(pt->p[i].duration_s)) < 0)
			goto out;
	if (json_object_set(charts, "at", at) < 0 ||
	    json_object_set(charts, "db_size_bytes", db) < 0 ||
	    json_object_set(charts, "stored_size_bytes", stored) < 0 ||
	    json_object_set(charts, "duration_seconds", dur) < 0)
		goto out;
	r = 0;
out:
	json_decref(at);
	json_decref(db);
	json_decref(stored);
	json_decref(dur);
	return r;
}

struct drill_points {
	json_t *at, *rto;
};

static int
add_drill_point(const struct cat_drill *dr, void *arg)
{
	struct drill_points *dp = arg;

	if (dr->rto_ms < 0)
		return 0;          /* failed before etcd served: no RTO to draw */
	if (json_array_append_new(dp->at, json_integer(dr->started_at)) < 0 ||
	    json_array_append_new(dp->rto, json_real((double)dr->rto_ms / 1000.0)) < 0)
		return LB_E_NOMEM;
	return json_array_size(dp->at) < STATUS_CHART_POINTS ? 0 : 1;
}

/* Cluster cl's last_drill ({backup_id, at, result, rto_seconds, detail})
 * and the chart arrays drill_at / drill_rto_seconds (oldest first, the
 * drills started since `since` that got as far as an RTO), from the
 * catalog's drills table (restore/drill.h records them).  No catalog, or
 * one without drills: null and empty arrays ("no drill yet"). */
static int
status_drills(struct cat *c, const char *cluster, int64_t since, json_t *cl,
    json_t *charts)
{
	struct drill_points dp = { json_array(), json_array() };
	struct cat_drill *last = NULL;
	struct lb_err err;
	json_t *o = NULL;
	int r = LB_E_NOMEM;

	if (dp.at == NULL || dp.rto == NULL)
		goto out;
	if (c != NULL && cat_drill_last(c, cluster, NULL, &last, &err) == 0 &&
	    (o = json_pack("{s:s?, s:o, s:s?, s:o, s:s?}", "backup_id", last->backup_id,
	    "at", j_time(last->finished_at > 0 ? last->finished_at : last->started_at),
	    "result", last->result, "rto_seconds", last->rto_ms >= 0 ?
	    json_real((double)last->rto_ms / 1000.0) : json_null(),
	    "detail", last->error)) == NULL)
		goto out;
	/* a catalog that cannot say shows no drill rather than no page */
	if (c != NULL && cat_drill_list(c, cluster, since, add_drill_point, &dp, &err) < 0 &&
	    err.code == LB_E_NOMEM)
		goto out;
	if (json_object_set_new(cl, "last_drill", o != NULL ? o : json_null()) < 0 ||
	    json_object_set(charts, "drill_at", dp.at) < 0 ||
	    json_object_set(charts, "drill_rto_seconds", dp.rto) < 0) {
		o = NULL;
		goto out;
	}
	o = NULL;
	r = 0;
out:
	json_decref(o);
	json_decref(dp.at);
	json_decref(dp.rto);
	cat_drill_free(last);
	return r;
}

static const char *const lock_names[] = { "none", "off", "held", "standby" };

/* Health in words, from what the catalog and the daemon know. */
static void
health(const struct status_cluster *sc, time_t now, const struct newest *nw,
    const struct cat_backup *success, const struct cat_verify_info *v, int catalog_ok,
    const char **state, char *reason, size_t cap)
{
	const struct cat_backup *a = nw->attempt;
	char when[64];

	*state = "healthy";
	if (!catalog_ok) {
		*state = "unknown";
		snprintf(reason, cap, "the catalog cannot be read");
	} else if (!sc->enabled) {
		*state = "unknown";
		snprintf(reason, cap, "disabled in the configuration");
	} else if (sc->overdue_at > 0 && now > sc->overdue_at) {
		*state = "failing";
		lb_fmt_when(sc->overdue_at, now, when, sizeof(when));
		snprintf(reason, cap, "overdue: two scheduled backups passed without one "
		    "(since %s)%s%s", when, a != NULL && a->error != NULL ? "; last error: " : "",
		    a != NULL && a->error != NULL ? a->error : "");
	} else if (a == NULL) {
		*state = "unknown";
		snprintf(reason, cap, "no backup yet");
	} else if (a->status == CAT_FAILED) {
		*state = "degraded";
		snprintf(reason, cap, "the last backup failed: %s", a->error != NULL ?
		    a->error : "no reason recorded");
	} else if (a->status == CAT_PARTIAL) {
		*state = "degraded";
		snprintf(reason, cap, "the last backup is partial (%d of %d members)",
		    a->members_ok, a->members_total);
	} else if (v->at > 0 && !v->ok) {
		*state = "degraded";
		snprintf(reason, cap, "the last verification failed: %s", v->detail);
	} else if (sc->pitr_proof_last == 2) {
		*state = "degraded";
		snprintf(reason, cap, "the last drill's point-in-time proof failed");
	} else if (sc->divergent) {
		*state = "degraded";
		snprintf(reason, cap, "the last backup found members diverging (HashKV)");
	} else {
		snprintf(reason, cap, "the last backup is complete%s", success != NULL &&
		    v->at > 0 ? " and the last verification passed" : "");
	}
}

static int
take_window(const struct cat_pitr_window *w, void *arg)
{
	*(struct cat_pitr_window *)arg = *w;     /* oldest first: the last is newest */
	return 0;
}

/* Cluster sc's "pitr" (null when pitr is off): the daemon's capture
 * state, the newest segment's revision and time and the newest window
 * from the catalog (null when it has none or cannot say). */
static json_t *
status_pitr(const struct status_cluster *sc, struct cat *c)
{
	struct cat_pitr_window w;
	struct cat_segment *last = NULL;
	struct lb_err e;
	json_t *o, *win = json_null();
	int have_w = 0;

	if (!sc->pitr_on)
		return json_null();
	memset(&w, 0, sizeof(w));
	w.from_rev = -1;
	if (c != NULL && cat_pitr_windows(c, sc->name, take_window, &w, &e) == 0 &&
	    w.from_rev >= 0)
		have_w = 1;
	if (c != NULL && cat_segment_last(c, sc->name, &last, &e) < 0)
		last = NULL;
	if (have_w)
		win = json_pack("{s:s, s:I, s:I, s:o, s:o, s:I}", "backup_id", w.backup_id,
		    "from_revision", (json_int_t)w.from_rev, "to_revision",
		    (json_int_t)w.to_rev, "from", j_time(w.from_time), "to",
		    w.to_time_ms > 0 ? j_time(w.to_time_ms / 1000) : json_null(), "segments",
		    (json_int_t)w.segments);
	o = json_pack("{s:b, s:o, s:o, s:o, s:o, s:o, s:I, s:o}",
	    "capturing", sc->pitr_capturing,
	    "lag_seconds", sc->pitr_capturing ? json_real(sc->pitr_lag_s) : json_null(),
	    "lag_revisions", sc->pitr_capturing ? j_int(sc->pitr_lag_revs) : json_null(),
	    "last_revision", last != NULL && last->last_rev > sc->pitr_last_rev ?
	    j_int(last->last_rev) : j_int(sc->pitr_last_rev > 0 ? sc->pitr_last_rev : -1),
	    "last_stored_at", last != NULL && last->last_time_ms > 0 ?
	    j_time(last->last_time_ms / 1000) : json_null(),
	    "newest_window", win != NULL ? win : json_null(),
	    "gaps", (json_int_t)sc->pitr_gaps,
	    "last_proof", sc->pitr_proof_last == 1 ? json_string("ok") :
	    sc->pitr_proof_last == 2 ? json_string("failed") : json_null());
	cat_segment_free(last);
	return o;
}

static json_t *
cluster_doc(const struct status_daemon *sd, const struct status_cluster *sc,
    struct cat *c, int64_t wall, struct lb_err *err)
{
	struct cat_filter f;
	struct newest nw = { 0 };
	struct cat_backup *success = NULL;
	struct cat_verify_info v;
	struct points pt = { 0 };
	struct lb_err e2;
	int64_t counts[4] = { 0 }, since = wall - STATUS_CHART_DAYS * 86400LL;
	json_t *cl = NULL, *members = NULL, *charts = NULL, *out = NULL;
	const char *state;
	char reason[1024];
	int i, catalog_ok = c != NULL;

	memset(&v, 0, sizeof(v));
	v.at = -1;
	if (c != NULL) {
		memset(&f, 0, sizeof(f));
		f.cluster = sc->name;
		f.status = -1;
		f.newest_first = 1;
		f.limit = 8;     /* a running row or two, then the last attempt */
		f.skip_future = 1;
		if (cat_backup_list(c, &f, CAT_WITH_MEMBERS, take_newest, &nw, &e2) < 0)
			catalog_ok = 0;
		if (catalog_ok && cat_backup_latest(c, sc->name, CAT_COMPLETE, 0, &success,
		    &e2) < 0 && e2.code != LB_E_NOTFOUND)
			catalog_ok = 0;
		if (catalog_ok && cat_status_counts(c, sc->name, since, counts, &e2) < 0)
			catalog_ok = 0;
		if (catalog_ok && cat_status_last_verify(c, sc->name, since, &v, &e2) < 0 &&
		    e2.code != LB_E_NOTFOUND)
			catalog_ok = 0;
	}
	health(sc, sd->now, &nw, success, &v, catalog_ok, &state, reason, sizeof(reason));

	if ((members = json_array()) == NULL)
		goto oom;
	for (i = 0; nw.with_members != NULL && i < nw.with_members->n_members; i++) {
		const struct cat_member *m = &nw.with_members->members[i];

		if (json_array_append_new(members, json_pack("{s:o, s:o, s:o, s:o, s:b, s:o}",
		    "name", j_str(m->name), "status", j_str(m->status),
		    "revision", j_int(m->revision), "db_size_bytes", j_int(m->db_size),
		    "learner", m->learner, "endpoint", j_endpoint(m->endpoint))) < 0)
			goto oom;
	}
	charts = json_pack("{s:o, s:o}", "since", j_time(since), "until", j_time(wall));
	if (charts == NULL || (pt.p = calloc(STATUS_CHART_POINTS, sizeof(*pt.p))) == NULL)
		goto oom;
	if (catalog_ok && cat_status_points(c, sc->name, since, STATUS_CHART_POINTS,
	    add_point, &pt, &e2) < 0 && e2.code == LB_E_NOMEM)
		goto oom;
	if (chart_arrays(&pt, charts) < 0)
		goto oom;

	cl = json_pack("{s:s, s:b, s:b, s:{s:s, s:s}, s:o, s:o, s:o, s:o}",
	    "name", sc->name, "enabled", sc->enabled, "running", sc->running,
	    "health", "state", state, "reason", reason,
	    "next_run", sc->enabled ? j_time(sc->next_run) : json_null(),
	    "members", members, "members_of", j_str(nw.with_members != NULL ?
	    nw.with_members->id : NULL), "charts", charts);
	members = charts = NULL;
	if (cl == NULL)
		goto oom;
	if (json_object_set_new(cl, "last_success", success == NULL ? json_null() :
	    json_pack("{s:s, s:o, s:o}", "backup_id", success->id,
	    "started_at", j_time(success->started_at),
	    "finished_at", j_time(success->finished_at))) < 0)
		goto oom;
	if (json_object_set_new(cl, "last_attempt", nw.attempt == NULL ? json_null() :
	    json_pack("{s:s, s:s, s:o, s:o, s:o}", "backup_id", nw.attempt->id,
	    "outcome", cat_status_name(nw.attempt->status),
	    "started_at", j_time(nw.attempt->started_at),
	    "finished_at", j_time(nw.attempt->finished_at),
	    "error", j_str(nw.attempt->error))) < 0)
		goto oom;
	if (json_object_set_new(cl, "last_verify", v.at <= 0 ? json_null() :
	    json_pack("{s:s, s:o, s:s, s:o}", "backup_id", v.backup_id, "at", j_time(v.at),
	    "result", v.ok ? "ok" : "failed", "detail", j_str(v.detail[0] ? v.detail : NULL)))
	    < 0)
		goto oom;
	if (json_object_set_new(cl, "lock", json_pack("{s:s, s:o, s:o}",
	    "state", lock_names[sc->lock],
	    "holder", sc->lock == STATUS_LOCK_HELD ? json_string(sd->owner) :
	    sc->lock == STATUS_LOCK_STANDBY ? j_str(sc->holder[0] ? sc->holder : NULL) :
	    json_null(),
	    "last_backup_host", j_str(nw.attempt != NULL ? nw.attempt->host : NULL))) < 0)
		goto oom;
	if (json_object_set_new(cl, "counts", json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}",
	    "since", j_time(since),
	    "complete", (json_int_t)counts[CAT_COMPLETE],
	    "partial", (json_int_t)counts[CAT_PARTIAL],
	    "failed", (json_int_t)counts[CAT_FAILED],
	    "running", (json_int_t)counts[CAT_RUNNING],
	    "total", (json_int_t)(counts[0] + counts[1] + counts[2] + counts[3]))) < 0)
		goto oom;
	if (status_drills(catalog_ok ? c : NULL, sc->name, since, cl,
	    json_object_get(cl, "charts")) < 0)
		goto oom;
	if (json_object_set_new(cl, "pitr", status_pitr(sc, catalog_ok ? c : NULL)) < 0)
		goto oom;
	out = cl;
	cl = NULL;
	goto out;
oom:
	lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	json_decref(cl);
	json_decref(members);
	json_decref(charts);
	cat_backup_free(nw.attempt);
	cat_backup_free(nw.with_members);
	cat_backup_free(success);
	free(pt.p);
	return out;
}

int
status_build(const struct status_daemon *sd, json_t **out, struct lb_err *err)
{
	struct cat *c = NULL;
	struct cat_filter f;
	struct lb_err cerr = { 0 };
	json_t *doc = NULL, *clusters, *backups, *audit, *cl;
	int64_t wall = (int64_t)time(NULL);
	size_t i;
	int r = 0;

	*out = NULL;
	if (cat_open(sd->catalog, CAT_OPEN_READONLY, &c, &cerr) < 0)
		c = NULL;
	clusters = json_array();
	backups = json_array();
	audit = json_array();
	doc = json_pack("{s:s, s:{s:s, s:s, s:o, s:o, s:o, s:f, s:o}, s:o, s:o, s:o}",
	    "format", STATUS_FORMAT,
	    "daemon", "version", LB_VERSION, "owner", sd->owner,
	    "started", j_time(sd->started), "now", j_time(sd->now), "wall_now", j_time(wall),
	    "clock_scale", sd->scale,
	    "catalog_error", c == NULL ? json_string(cerr.msg) : json_null(),
	    "clusters", clusters, "backups", backups, "audit", audit);
	if (doc == NULL)
		goto oom;
	for (i = 0; i < sd->n; i++) {
		if ((cl = cluster_doc(sd, &sd->cl[i], c, wall, err)) == NULL) {
			r = err->code;
			goto out;
		}
		if (json_array_append_new(clusters, cl) < 0)
			goto oom;
	}
	if (c != NULL) {
		memset(&f, 0, sizeof(f));
		f.status = -1;
		f.newest_first = 1;
		f.limit = STATUS_ROWS;
		if (cat_backup_list(c, &f, 0, add_backup, backups, &cerr) == LB_E_NOMEM ||
		    cat_audit_newest(c, STATUS_ROWS, add_event, audit, &cerr) == LB_E_NOMEM)
			goto oom;
	}
	*out = doc;
	doc = NULL;
	goto out;
oom:
	r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	json_decref(doc);
	cat_close(c);
	return r;
}

int
status_render_json(const json_t *doc, char **out, struct lb_err *err)
{
	if ((*out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	return 0;
}
