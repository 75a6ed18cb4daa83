/*
 * prune.c: `lifeboat catalog prune` (cmd/prune.c) and the daemon's prune
 * after each backup: each cluster's `retention` applied to its backups
 * (the plan is scheduler/retention.c's), per cluster, other clusters
 * untouched.  A backup goes manifest first (from then on it no
 * longer exists for restore or rebuild), then its objects, then an audit
 * event naming its place in the chain, then its catalog rows: an
 * interrupted prune never leaves a manifest pointing at deleted objects,
 * nor a backup gone from the catalog's chain that no event explains (a
 * prune killed before its rows go leaves them to the next prune, which
 * finds the objects gone and finishes).  One prune at a time: an flock on
 * "<catalog>.prune.lock", taken before the catalog is read, so a second
 * prune waits and then finds nothing left to delete twice.  In a
 * repository with S3 Object Lock (s3-object-lock), a backup still locked
 * is not touched: it is kept with one log line, the lock's end goes to
 * the catalog, and a prune after that end deletes it.
 *
 * Then the cluster's event log (evlog/segment.h): a segment is garbage
 * only when its last revision is at or below the revision of the oldest
 * complete backup still kept after this prune's deletions (kept by
 * retention, under a lock, or whose deletion failed): every replay
 * starts at a kept complete backup and needs only the revisions after
 * it, so no restore to a point, no A -> B proof needs such a segment.
 * Any doubt keeps every segment for a later run: no complete backup kept,
 * a kept complete backup whose revision the catalog does not know, the
 * catalog unreadable or taking no write (busy), an object still under S3 Object Lock (it
 * and every newer one are kept), a store's error.  A segment goes
 * manifest (.evlog.json) first (from then on restore, rebuild and the
 * capture no longer see it), then its signature, then its object, then
 * one audit event for the run of segments deleted (their revisions and
 * why), then their catalog rows, only once the event is on record.
 * Only segments the catalog knows are touched: another appliance's not
 * yet recorded (rebuild, capture) are left alone.  Gaps (pitr_gaps) stay:
 * a row per capture outage, a record of what was lost, no growth to bound.
 */
#include "ops/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/cancel.h"
#include "common/err.h"
#include "common/log.h"
#include "evlog/segment.h"
#include "repo/manifest.h"
#include "scheduler/retention.h"

#define PRUNE_LOCK_WAIT_S 120

struct pb {
	char *id;
	char *manifest_key;
	char **objects;
	size_t n_objects;
	int64_t started_at;
	int64_t revision;
	enum cat_status status;
	int verified;
	int64_t locked_until;
};

/* One cluster's backups in the catalog, a mirror of the repository: at
 * most one per manifest, so bounded as a listing is (REPO_LIST_MAX). */
struct pl {
	struct pb *v;
	size_t n, cap;
	int too_many;
};

static void
pl_free(struct pl *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].id);
		free(l->v[i].manifest_key);
		for (size_t j = 0; j < l->v[i].n_objects; j++)
			free(l->v[i].objects[j]);
		free(l->v[i].objects);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
collect(const struct cat_backup *b, void *arg)
{
	struct pl *l = arg;
	struct pb *p;
	int i;

	if (l->n >= REPO_LIST_MAX) {
		l->too_many = 1;
		return LB_E_NOMEM;
	}
	if (lb_vec_grow(&l->v, &l->cap, l->n, sizeof(*l->v), REPO_LIST_MAX) < 0)
		return LB_E_NOMEM;
	p = &l->v[l->n++];
	memset(p, 0, sizeof(*p));
	p->started_at = b->started_at;
	p->revision = b->revision;
	p->status = b->status;
	p->verified = b->verify_status != NULL && strcmp(b->verify_status, "ok") == 0;
	p->locked_until = b->locked_until;
	if ((p->id = strdup(b->id)) == NULL ||
	    (b->manifest_key != NULL && (p->manifest_key = strdup(b->manifest_key)) == NULL) ||
	    (p->objects = calloc((size_t)b->n_members + 1, sizeof(char *))) == NULL)
		return LB_E_NOMEM;
	for (i = 0; i < b->n_members; i++)
		if (b->members[i].location != NULL &&
		    (p->objects[p->n_objects++] = strdup(b->members[i].location)) == NULL)
			return LB_E_NOMEM;
	return 0;
}

/* The place of backup id in its cluster's chain, for its prune event,
 * so that a walk of the chain tells the gap it leaves from one nobody
 * explains (ops_chain_check): its manifest's sequence (0: none, or
 * format 1) and hash ("" without a manifest).  Read only for the
 * backups prune deletes, before their row goes. */
static void
chain_link(struct lb_env *e, const char *id, int64_t *seq, char sha[65])
{
	struct cat_backup *b = NULL;
	struct lb_err err;
	json_t *m;

	*seq = 0;
	sha[0] = '\0';
	if (cat_backup_get(e->cat, id, CAT_WITH_MANIFEST, &b, &err) == 0 && b->manifest != NULL) {
		m = json_loads(b->manifest, 0, NULL);
		*seq = json_integer_value(json_object_get(m, "sequence"));
		json_decref(m);
		manifest_sha256_hex(b->manifest, strlen(b->manifest), sha);
	}
	cat_backup_free(b);
}

static enum ret_status
ret_status_of(enum cat_status s)
{
	switch (s) {
	case CAT_COMPLETE: return RET_COMPLETE;
	case CAT_PARTIAL: return RET_PARTIAL;
	case CAT_FAILED: return RET_FAILED;
	default: return RET_RUNNING;
	}
}

/* Deletes key; absent is fine (a prune interrupted earlier). */
static int
del(struct repo *repo, const char *key, int *n, struct lb_err *err)
{
	int r = repo_delete(repo, key, err);

	if (r == LB_E_NOTFOUND) {
		lb_err_clear(err);
		return 0;
	}
	if (r == 0)
		(*n)++;
	return r;
}

/* In a repository with S3 Object Lock, until when the store still keeps
 * backup b: the catalog's record when it is still ahead, else the latest
 * retain-until of its manifest and member objects (HEAD each), recorded
 * in the catalog.  0: nothing locked any more (or absent). */
static int
lock_end(struct lb_env *e, const struct pb *b, int64_t now, int64_t *end,
    struct lb_err *err)
{
	int64_t u;
	size_t i;
	int r;

	*end = 0;
	if (b->locked_until > now) {
		*end = b->locked_until;
		return 0;
	}
	for (i = 0; i <= b->n_objects; i++) {
		const char *key = i == 0 ? b->manifest_key : b->objects[i - 1];

		if (key == NULL)
			continue;
		if ((r = repo_locked_until(e->repo, key, &u, err)) == LB_E_NOTFOUND) {
			lb_err_clear(err);
			continue;
		}
		if (r < 0)
			return lb_err_prefix(err, "kept: cannot tell whether it is locked: ");
		if (u > *end)
			*end = u;
	}
	if (*end <= now)
		*end = 0;
	if (*end != b->locked_until && e->cat != NULL &&
	    cat_set_locked_until(e->cat, b->id, *end, err) < 0) {
		log_warn("prune %s: %s", b->id, err->msg);
		lb_err_clear(err);
	}
	return 0;
}

/* Manifest, member objects, anything else left in the backup's own
 * directory (objects of a failed run); the catalog rows are the
 * caller's, once the deletion is audited.  What makes this
 * certain: retention dropped the backup (never the newest verified
 * complete one), and the directory is the backup's own (its id is unique).
 * A backup the catalog knows without a manifest (a failed run) goes only
 * if the store says its manifest is absent: a manifest there means the
 * catalog is behind the repository (its end still spooled, say), and
 * anything but a clean "not found" is doubt; both keep it. */
static int
delete_backup(struct lb_env *e, const char *cluster, const struct pb *b, int *n_del,
    struct lb_err *err)
{
	char dir[1200], key[1300];
	size_t i;
	int r = 0;

	*n_del = 0;
	if (manifest_backup_dir(cluster, b->id, dir, sizeof(dir)) < 0 ||
	    manifest_key(cluster, b->id, key, sizeof(key)) < 0)
		return lb_err_set(err, LB_E_INTERNAL, "backup id %s: no directory", b->id);
	if (b->manifest_key == NULL) {
		if ((r = repo_absent(e->repo, key, err)) == 0)
			return lb_err_set(err, LB_E_EXISTS, "kept: the repository has its "
			    "manifest %s although the catalog says %s ('lifeboat catalog "
			    "rebuild' records it)", key, cat_status_name(b->status));
		if (r < 0) {
			lb_err_prefix(err, "kept: cannot tell whether its manifest exists: ");
			return r;
		}
		r = 0;
	}
	if (b->manifest_key != NULL && (r = del(e->repo, b->manifest_key, n_del, err)) < 0)
		goto out;
	for (i = 0; i < b->n_objects; i++)
		if ((r = del(e->repo, b->objects[i], n_del, err)) < 0)
			goto out;
	r = repo_delete_prefix(e->repo, dir, n_del, err);
out:
	return r;
}

/* --- the event log ------------------------------------------------------ */

/* Segments one prune deletes at most; the rest go at the next one. */
#define SEG_PRUNE_MAX 65536

struct sg {
	char *object;
	int64_t first_rev, last_rev;
	int gone;
};

/* A cluster's segments wholly at or below upto, from the catalog. */
struct sl {
	struct sg *v;
	size_t n, cap;
	int64_t upto;
	int nomem;
};

static void
sl_free(struct sl *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].object);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
collect_seg(const struct cat_segment *s, void *arg)
{
	struct sl *l = arg;
	struct sg *g;

	if (s->last_rev > l->upto || s->object == NULL)
		return 0;
	if (l->n >= SEG_PRUNE_MAX)
		return 1;          /* enough for one run */
	if (lb_vec_grow(&l->v, &l->cap, l->n, sizeof(*l->v), SEG_PRUNE_MAX) < 0 ||
	    (l->v[l->n].object = strdup(s->object)) == NULL) {
		l->nomem = 1;
		return LB_E_NOMEM;
	}
	g = &l->v[l->n++];
	g->first_rev = s->first_rev;
	g->last_rev = s->last_rev;
	g->gone = 0;
	return 0;
}

/* The manifest and signature keys beside a segment object of cluster;
 * -1 for a key that is not one (the catalog holds what the capture
 * recorded, but a row that looks otherwise is doubt: kept). */
static int
seg_keys(const char *cluster, const char *object, char *meta, char *sig, size_t size)
{
	size_t n = strlen(object), cl = strlen(cluster), sl = strlen(EVL_OBJECT_SUFFIX);

	if (n <= sl || strcmp(object + n - sl, EVL_OBJECT_SUFFIX) != 0 ||
	    strncmp(object, cluster, cl) != 0 || strncmp(object + cl, "/wal/", 5) != 0 ||
	    snprintf(meta, size, "%.*s%s", (int)(n - sl), object, EVL_META_SUFFIX) >= (int)size ||
	    snprintf(sig, size, "%.*s%s", (int)(n - sl), object, EVL_SIG_SUFFIX) >= (int)size)
		return -1;
	return 0;
}

/* In a repository with S3 Object Lock, whether any of keys[0..2] is
 * still retained at now (*until: when the latest lock ends). */
static int
seg_locked(struct lb_env *e, char *const keys[3], int64_t now, int64_t *until,
    struct lb_err *err)
{
	int64_t u;
	int i, r;

	*until = 0;
	for (i = 0; i < 3; i++) {
		if ((r = repo_locked_until(e->repo, keys[i], &u, err)) == LB_E_NOTFOUND) {
			lb_err_clear(err);
			continue;
		}
		if (r < 0)
			return lb_err_prefix(err, "cannot tell whether %s is locked: ", keys[i]);
		if (u > now && u > *until)
			*until = u;
	}
	return 0;
}

/* Says why cluster's segments all stay (cb, or the log for the daemon
 * when it is a failure), when the cluster has any. */
static void
seg_keep_all(struct lb_env *e, const char *cluster, const char *why, int failure,
    ops_prune_cb cb, void *arg, int dry_run)
{
	struct cat_segment *s = NULL;
	struct lb_err err = { 0 };

	if (!failure && cat_segment_last(e->cat, cluster, &s, &err) == LB_E_NOTFOUND)
		return;
	cat_segment_free(s);
	if (cb != NULL)
		cb(&(struct ops_prune_item){ .what = OPS_PRUNE_SEGMENTS_KEPT,
		    .cluster = cluster, .why = why }, dry_run, arg);
	else if (failure)
		log_warn("cluster=%s prune: event-log segments kept: %s", cluster, why);
}

/* Deletes cluster's segments wholly at or below upto, the revision of
 * base_id, the oldest complete backup this prune keeps: the rule and its
 * doubts are this file's comment; prune_cluster finds upto. */
static void
prune_segments(struct lb_env *e, const char *cluster, const char *base_id, int64_t upto,
    int dry_run, ops_prune_cb cb, void *arg, struct ops_prune_totals *t)
{
	struct lb_err err = { 0 };
	struct sl l = { .upto = upto };
	char why[300], meta[EVL_KEY_MAX + 32], sig[EVL_KEY_MAX + 32], until[32];
	char *keys[3] = { meta, sig, NULL };
	int64_t now = (int64_t)time(NULL), first = -1, last = -1, end;
	size_t i, n_gone = 0;
	int n_del = 0, r;

	snprintf(why, sizeof(why), "at or below revision %lld of %s, the oldest complete "
	    "backup kept", (long long)upto, base_id);
	if ((r = cat_segments_range(e->cat, cluster, 0, upto, collect_seg, &l, &err)) < 0 ||
	    l.nomem) {
		char msg[600];

		if (l.nomem && err.code == 0)
			lb_err_set(&err, LB_E_NOMEM, "out of memory");
		snprintf(msg, sizeof(msg), "cannot read them from the catalog: %s", err.msg);
		t->seg_failed++;
		seg_keep_all(e, cluster, msg, 1, cb, arg, dry_run);
		goto out;
	}
	/* A catalog that cannot take the rows' removal now (another writer
	 * holds it) is doubt: deleted objects whose rows stay are finished by
	 * a later prune, but nothing need go before it can be recorded. */
	if (!dry_run && l.n > 0 && cat_writable(e->cat, &err) < 0) {
		char msg[600];

		snprintf(msg, sizeof(msg), "the catalog takes no write now: %s", err.msg);
		t->seg_failed++;
		seg_keep_all(e, cluster, msg, 1, cb, arg, dry_run);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		struct sg *g = &l.v[i];

		if (seg_keys(cluster, g->object, meta, sig, sizeof(meta)) < 0) {
			log_warn("cluster=%s prune: segment %s kept: not a segment object "
			    "of this cluster", cluster, g->object);
			continue;
		}
		if (dry_run) {
			g->gone = 1;
			continue;
		}
		keys[2] = g->object;
		lb_err_clear(&err);
		/* Never ask a store to delete what it keeps (as for backups);
		 * segments are written in revision order, so the newer ones are
		 * locked at least as long: they stay with this one. */
		if (repo_has_locks(e->repo)) {
			if (seg_locked(e, keys, now, &end, &err) < 0) {
				t->seg_failed++;
				log_error("prune segment %s: kept: %s", g->object, err.msg);
				break;
			}
			if (end > 0) {
				log_info("cluster=%s prune: segment %s and newer ones kept: locked "
				    "until %s (s3-object-lock), pruned by a later run", cluster,
				    g->object, cat_time_format(end, until, sizeof(until)));
				break;
			}
		}
		/* Manifest first: without it the segment no longer exists for a
		 * restore, a rebuild or a capture, so a prune stopped halfway
		 * never leaves a manifest naming an object that is gone. */
		if ((r = del(e->repo, meta, &n_del, &err)) < 0 ||
		    (r = del(e->repo, sig, &n_del, &err)) < 0 ||
		    (r = del(e->repo, g->object, &n_del, &err)) < 0) {
			t->seg_failed++;
			log_error("prune segment %s: %s", g->object, err.msg);
			ops_audit(e, CAT_ACT_PRUNE, cluster, NULL, "failed",
			    "{s:s, s:s, s:I, s:I, s:s}", "segment", g->object, "reason", why,
			    "first_revision", (json_int_t)g->first_rev, "last_revision",
			    (json_int_t)g->last_rev, "error", err.msg);
			break;   /* the store is failing: the rest at a later run */
		}
		g->gone = 1;
	}
	for (i = 0; i < l.n; i++) {
		if (!l.v[i].gone)
			continue;
		n_gone++;
		if (first < 0 || l.v[i].first_rev < first)
			first = l.v[i].first_rev;
		if (l.v[i].last_rev > last)
			last = l.v[i].last_rev;
	}
	if (n_gone == 0)
		goto out;
	t->seg_deleted += (int)n_gone;
	if (cb != NULL)
		cb(&(struct ops_prune_item){ .what = OPS_PRUNE_SEGMENTS, .cluster = cluster,
		    .why = why, .first_rev = first, .last_rev = last, .segments = (int)n_gone },
		    dry_run, arg);
	else
		log_info("cluster=%s prune segments=%zu revisions=%lld-%lld reason=\"%s\"",
		    cluster, n_gone, (long long)first, (long long)last, why);
	if (dry_run)
		goto out;
	/* The rows go only once the event is on record; kept rows are
	 * finished by the next prune, which finds the objects gone. */
	if (ops_audit(e, CAT_ACT_PRUNE, cluster, NULL, "ok",
	    "{s:s, s:i, s:I, s:I, s:i, s:s, s:I}", "reason", why, "segments", (int)n_gone,
	    "first_revision", (json_int_t)first, "last_revision", (json_int_t)last,
	    "objects_deleted", n_del, "oldest_kept_backup", base_id,
	    "oldest_kept_revision", (json_int_t)upto) < 0) {
		log_warn("cluster=%s prune: segments %lld-%lld are deleted; their catalog "
		    "rows stay until a prune can audit the deletion", cluster,
		    (long long)first, (long long)last);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		lb_err_clear(&err);
		if (l.v[i].gone && (r = cat_segment_delete(e->cat, l.v[i].object, &err)) < 0) {
			log_warn("prune segment %s: its objects are deleted; its catalog row "
			    "stays for the next prune: %s", l.v[i].object, err.msg);
			break;
		}
	}
out:
	sl_free(&l);
}

/* Applies cluster's retention, telling cb each step of the plan; without
 * a cb (the daemon) what is deleted goes to the log instead. */
static int
prune_cluster(struct lb_env *e, const char *cluster, int dry_run, ops_prune_cb cb,
    void *arg, struct ops_prune_totals *t)
{
	struct lb_err err = { 0 };
	struct cat_filter f = { .cluster = cluster, .status = -1, .newest_first = 1 };
	struct ret_policy pol;
	struct ret_backup *rb = NULL;
	struct ret_decision *d = NULL;
	struct pl l = { 0 };
	char *gone = NULL;
	const char *policy = cfg_is_set(e->cfg, cluster, CFG_RETENTION) ?
	    cfg_get_str(e->cfg, cluster, CFG_RETENTION) : NULL;
	char why[256], when[32];
	int64_t now = (int64_t)time(NULL), off, first_unlock = 0;
	size_t i, n_locked = 0;
	int r, quiet = cb == NULL;

	if ((r = ret_policy_parse(policy, &pol, &err)) < 0) {
		lb_err_prefix(&err, "cluster %s: ", cluster);
		goto out;
	}
	if (!quiet)
		cb(&(struct ops_prune_item){ .what = OPS_PRUNE_POLICY, .cluster = cluster,
		    .policy = pol.keep_all ? NULL : policy }, dry_run, arg);
	if ((r = cat_backup_list(e->cat, &f, CAT_WITH_MEMBERS, collect, &l, &err)) < 0) {
		if (err.code == 0 && l.too_many)
			lb_err_set(&err, LB_E_NOMEM, "cluster %s: more than %u backups in "
			    "the catalog", cluster, REPO_LIST_MAX);
		else if (err.code == 0)
			lb_err_set(&err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (l.n == 0) {
		if (!quiet)
			cb(&(struct ops_prune_item){ .what = OPS_PRUNE_EMPTY,
			    .cluster = cluster }, dry_run, arg);
		goto out;
	}
	if ((rb = calloc(l.n, sizeof(*rb))) == NULL || (d = calloc(l.n, sizeof(*d))) == NULL ||
	    (gone = calloc(l.n, 1)) == NULL) {
		r = lb_err_set(&err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	/* "Future" by the repository's clock when it has one: this host's
	 * may be the wrong one, and then its own backups are the future
	 * ones that must not push real backups out. */
	if (repo_clock_offset(e->repo, &off) == 0) {
		if (off < -CAT_FUTURE_SKEW_S || off > CAT_FUTURE_SKEW_S)
			log_warn("cluster %s: this host's clock is %llds %s the repository's "
			    "(its Date): retention goes by the repository's", cluster,
			    (long long)(off < 0 ? -off : off), off < 0 ? "ahead of" : "behind");
		now += off;
	}
	for (i = 0; i < l.n; i++)
		rb[i] = (struct ret_backup){ l.v[i].id, l.v[i].started_at,
		    ret_status_of(l.v[i].status), l.v[i].verified,
		    cat_is_future(l.v[i].started_at, now) };
	if ((r = ret_plan(rb, l.n, &pol, d, &err)) < 0)
		goto out;
	for (i = 0; i < l.n; i++) {
		const struct pb *b = &l.v[i];
		struct ops_prune_item it = { .cluster = cluster, .backup_id = b->id,
		    .started = when, .status = b->status, .why = why };
		char sha[65], until[32];
		int64_t seq, end;
		int n_del = 0;

		ret_why_string(d[i].why, why, sizeof(why));
		cat_time_format(b->started_at, when, sizeof(when));
		if (d[i].keep) {
			t->kept++;
			/* Each prune says so again: the stamp shadows nothing now,
			 * but someone should find out which clock was wrong. */
			if (d[i].why == RET_WHY_FUTURE && !dry_run)
				ops_audit(e, CAT_ACT_PRUNE, cluster, b->id, "kept-future",
				    "{s:s, s:s}", "reason", why, "started_at", when);
			if (d[i].why == RET_WHY_FUTURE && quiet)
				log_warn("cluster=%s backup=%s started_at=%s is in the future: kept, "
				    "not counted by retention", cluster, b->id, when);
			if (!quiet) {
				it.what = OPS_PRUNE_KEEP;
				cb(&it, dry_run, arg);
			}
			continue;
		}
		/* Never ask a store to delete what it still keeps: the lock
		 * would refuse it, and a prune half done leaves a backup
		 * without its manifest.  A later prune deletes it once the
		 * lock is over.  Not a failure: the lock does what it was
		 * asked to.  Audited when the lock is found, not at each of
		 * the daemon's prunes (hundreds, over a 30-day lock). */
		if (!dry_run && repo_has_locks(e->repo)) {
			lb_err_clear(&err);
			if (lock_end(e, b, now, &end, &err) < 0) {
				t->failed++;
				log_error("prune %s: %s", b->id, err.msg);
				ops_audit(e, CAT_ACT_PRUNE, cluster, b->id, "failed",
				    "{s:s, s:i, s:s}", "reason", why, "objects_deleted", 0,
				    "error", err.msg);
				continue;
			}
			if (end > 0) {
				t->kept++;
				n_locked++;
				if (first_unlock == 0 || end < first_unlock)
					first_unlock = end;
				snprintf(why, sizeof(why), "locked until %s (s3-object-lock): kept, "
				    "pruned by a later run", cat_time_format(end, until, sizeof(until)));
				if (!quiet) {
					it.what = OPS_PRUNE_KEEP;
					cb(&it, dry_run, arg);
				}
				if (b->locked_until <= now)
					ops_audit(e, CAT_ACT_PRUNE, cluster, b->id, "kept-locked",
					    "{s:s}", "reason", why);
				continue;
			}
		}
		if (quiet) {
			log_info("cluster=%s prune backup=%s status=%s reason=\"%s\"", cluster,
			    b->id, cat_status_name(b->status), why);
		} else {
			it.what = OPS_PRUNE_DELETE;
			cb(&it, dry_run, arg);
		}
		if (dry_run) {
			t->deleted++;
			gone[i] = 1;
			continue;
		}
		lb_err_clear(&err);
		chain_link(e, b->id, &seq, sha);
		if (delete_backup(e, cluster, b, &n_del, &err) < 0) {
			t->failed++;
			log_error("prune %s: %s", b->id, err.msg);
			ops_audit(e, CAT_ACT_PRUNE, cluster, b->id, "failed",
			    "{s:s, s:i, s:s}", "reason", why, "objects_deleted", n_del,
			    "error", err.msg);
			continue;
		}
		t->deleted++;
		gone[i] = 1;
		/* The rows go only once the event is on record: without it, the
		 * chain's walk (chain.c) would find this sequence missing and
		 * nobody to explain it.  Kept rows are finished by the next
		 * prune, which finds the objects gone. */
		if (ops_audit(e, CAT_ACT_PRUNE, cluster, b->id, "ok",
		    "{s:s, s:s, s:i, s:s?, s:I, s:s?}", "reason", why, "status",
		    cat_status_name(b->status), "objects_deleted", n_del, "retention", policy,
		    "sequence", (json_int_t)seq, "manifest_sha256", sha[0] != '\0' ? sha : NULL) < 0)
			log_warn("prune %s: its objects are deleted; its catalog rows stay until "
			    "a prune can audit the deletion", b->id);
		else if ((r = cat_delete_backup(e->cat, b->id, &err)) < 0 && r != LB_E_NOTFOUND)
			log_warn("prune %s: its objects are deleted; its catalog rows stay "
			    "for the next prune: %s", b->id, err.msg);
	}
	if (n_locked > 0) {
		cat_time_format(first_unlock, when, sizeof(when));
		log_info("cluster=%s prune: %zu backup(s) retention drops kept under "
		    "s3-object-lock, the first unlocked at %s", cluster, n_locked, when);
	}
	/* The event log: only below what every kept complete backup starts
	 * from (a backup whose deletion failed is still there: kept). */
	{
		const struct pb *base = NULL;
		const char *doubt = NULL;

		for (i = 0; i < l.n && doubt == NULL; i++) {
			if (gone[i] || l.v[i].status != CAT_COMPLETE)
				continue;
			if (l.v[i].revision < 0)
				doubt = "a complete backup kept has no revision in the catalog";
			else if (base == NULL || l.v[i].revision < base->revision)
				base = &l.v[i];
		}
		if (doubt == NULL && base == NULL)
			doubt = "no complete backup kept: nothing proves a segment unneeded";
		if (doubt != NULL)
			seg_keep_all(e, cluster, doubt, 0, cb, arg, dry_run);
		else
			prune_segments(e, cluster, base->id, base->revision, dry_run, cb, arg, t);
	}
	r = 0;
out:
	if (r < 0)
		log_error("prune: %s", err.msg);
	free(rb);
	free(d);
	free(gone);
	pl_free(&l);
	return r;
}

/* Waits up to PRUNE_LOCK_WAIT_S for the prune lock beside the catalog. */
static int
take_lock(const char *catalog, int *fd_out, struct lb_err *err)
{
	char path[4096];
	int fd, waited = 0;

	*fd_out = -1;
	if (snprintf(path, sizeof(path), "%s.prune.lock", catalog) >= (int)sizeof(path))
		return lb_err_set(err, LB_E_CONFIG, "catalog path too long");
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return lb_err_sys(err, LB_E_IO, errno, "prune lock %s", path);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK || lb_cancel || waited >= PRUNE_LOCK_WAIT_S * 10) {
			int en = errno;
			close(fd);
			return en == EWOULDBLOCK ?
			    lb_err_set(err, LB_E_BUSY, "another prune holds %s (waited %ds)",
			    path, PRUNE_LOCK_WAIT_S) :
			    lb_err_sys(err, LB_E_IO, en, "prune lock %s", path);
		}
		if (waited++ == 0)
			log_info("another prune is running; waiting for %s", path);
		usleep(100000);
	}
	*fd_out = fd;
	return 0;
}

int
ops_prune(struct lb_env *e, const struct ops_prune_opts *o, ops_prune_cb cb, void *arg,
    struct ops_prune_totals *t, struct lb_err *err)
{
	int lock = -1, r = 0;
	size_t i;

	memset(t, 0, sizeof(*t));
	if (o->cluster != NULL && !cfg_has_cluster(e->cfg, o->cluster)) {
		r = lb_err_set(err, LB_E_CONFIG, "prune: no [cluster:%s] in %s", o->cluster,
		    cfg_source(e->cfg));
		goto out;
	}
	if (!o->dry_run && (r = take_lock(e->catalog_path, &lock, err)) < 0)
		goto out;
	for (i = 0; i < cfg_cluster_count(e->cfg); i++) {
		const char *name = cfg_cluster_name(e->cfg, i);
		if (o->cluster != NULL && strcmp(o->cluster, name) != 0)
			continue;
		if (prune_cluster(e, name, o->dry_run, cb, arg, t) < 0)
			t->bad_clusters++;
	}
	if (!o->dry_run)
		ops_audit(e, CAT_ACT_PRUNE, o->cluster, NULL,
		    t->bad_clusters + t->failed + t->seg_failed ? "failed" : "ok",
		    "{s:i, s:i, s:i, s:i, s:i}", "kept", t->kept, "deleted", t->deleted,
		    "failed", t->failed, "segments_deleted", t->seg_deleted,
		    "segments_failed", t->seg_failed);
out:
	if (lock >= 0)
		close(lock);   /* releases the flock */
	return r;
}

int
ops_prune_cluster(struct lb_env *e, const char *cluster, struct lb_err *err)
{
	struct ops_prune_totals t = { 0 };
	int r, lock = -1;

	if ((r = take_lock(e->catalog_path, &lock, err)) < 0)
		goto out;
	if ((r = prune_cluster(e, cluster, 0, NULL, NULL, &t)) < 0 || t.failed > 0 ||
	    t.seg_failed > 0) {
		r = lb_err_set(err, LB_E_PARTIAL, "prune of cluster %s: %d backup(s), "
		    "%d event-log step(s) failed (see the log)", cluster, t.failed,
		    t.seg_failed);
		goto out;
	}
	if (t.deleted + t.seg_deleted > 0)
		log_info("cluster=%s pruned=%d kept=%d segments_pruned=%d", cluster,
		    t.deleted, t.kept, t.seg_deleted);
out:
	if (lock >= 0)
		close(lock);
	return r;
}
