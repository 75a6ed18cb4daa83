/*
 * capture.c: the capture of point-in-time recovery (capture.h).  One
 * thread: etcd_watch calls back here for every revision, progress
 * notification and tick; a second connection (another member when there
 * is one) answers the lease time-to-live and Status calls, so a slow
 * answer there never reorders the watch.  What a segment holds and how
 * it is stored is evlog/'s; where it stands in the chain is the
 * catalog's.
 *
 * Times: "known" is the last wall time at which the capture knew it had
 * every revision the cluster had (a revision received, or a Status or a
 * progress notification at or below the last revision captured); a
 * segment closes with it as its last time, so a segment never claims a
 * stretch of time it could not see (a member cut off from the others
 * keeps its watch open and sends nothing).
 */
#include "backup/capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/secret.h"
#include "env/journal.h"
#include "env/segment.h"
#include "env/setup.h"
#include "etcd/etcd.h"
#include "etcd/etcd_watch.h"
#include "evlog/evlog.h"
#include "evlog/segment.h"

/* A set of lease ids (with their TTL): open addressing, 0 is empty
 * (etcd never hands out lease 0). */
struct lset {
	int64_t *id, *ttl;
	size_t cap, n;
};

/* The cache of TTLs outlives segments; past this many ids it starts
 * over (a cluster that makes leases without end must not grow it). */
#define LSET_MAX (1u << 16)
#define LAG_SAMPLES 64
/* Tries of one segment's put before the capture gives up (and starts
 * again from the catalog: etcd still has the revisions). */
#define PUT_TRIES 3
/* A watch that delivers nothing this long while another member shows
 * newer revisions is on a member cut off from the others (no reset
 * comes, and the watch has no stall timeout): the capture moves on. */
#define STUCK_S 15

struct lag_sample {
	int64_t rev;
	double at;                 /* lb_mono_now */
};

struct cap {
	const struct capture_opts *o;
	struct lb_env *e;
	const char *cluster;
	struct setup_recipients rc;
	struct etcd_opts eo;
	char *password;
	const char *const *eps;
	size_t n_eps, ep;          /* the watch's member: eps[ep] */
	struct etcd_client *aux;   /* LeaseTimeToLive, Status */
	double aux_failed_at;      /* lb_mono_now of the last failed open, 0 none */
	uint64_t cluster_id;
	int level;
	int64_t interval_ms;
	size_t size;
	/* the chain */
	int64_t next;              /* the revision the watch must deliver next */
	uint8_t prev[32];
	int have_prev;
	struct evl_segment *seg;
	int64_t seg_first_ms;      /* wall time of its first revision */
	int64_t seg_first_rev;
	struct lset seg_leases, ttls;
	int64_t known_ms;
	/* lag */
	struct lag_sample lag[LAG_SAMPLES];
	size_t n_lag;
	double lag_at;             /* lb_mono_now of the last Status */
	double heard_at;           /* lb_mono_now of the last revision, progress
	                            * or fragment */
	struct capture_stats st;
	int fatal;                 /* an error that ends the run (a put) */
	struct lb_err fatal_err;
};

/* --- lease sets ---------------------------------------------------------- */

static int
lset_find(const struct lset *s, int64_t id, int64_t *ttl)
{
	size_t i;

	if (s->cap == 0)
		return 0;
	for (i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
	    s->id[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->id[i] == id) {
			if (ttl != NULL)
				*ttl = s->ttl[i];
			return 1;
		}
	return 0;
}

static void
lset_clear(struct lset *s)
{
	if (s->cap > 0) {
		memset(s->id, 0, s->cap * sizeof(*s->id));
		memset(s->ttl, 0, s->cap * sizeof(*s->ttl));
	}
	s->n = 0;
}

static void
lset_free(struct lset *s)
{
	free(s->id);
	free(s->ttl);
	memset(s, 0, sizeof(*s));
}

static int lset_add(struct lset *s, int64_t id, int64_t ttl);

static int
lset_grow(struct lset *s)
{
	struct lset n = { 0 };
	size_t i;

	n.cap = s->cap ? s->cap * 2 : 64;
	if ((n.id = calloc(n.cap, sizeof(*n.id))) == NULL ||
	    (n.ttl = calloc(n.cap, sizeof(*n.ttl))) == NULL) {
		lset_free(&n);
		return LB_E_NOMEM;
	}
	for (i = 0; i < s->cap; i++)
		if (s->id[i] != 0)
			lset_add(&n, s->id[i], s->ttl[i]);
	lset_free(s);
	*s = n;
	return 0;
}

static int
lset_add(struct lset *s, int64_t id, int64_t ttl)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap && lset_grow(s) < 0)
		return LB_E_NOMEM;
	for (i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
	    s->id[i] != 0 && s->id[i] != id; i = (i + 1) & (s->cap - 1))
		;
	if (s->id[i] == 0)
		s->n++;
	s->id[i] = id;
	s->ttl[i] = ttl;
	return 0;
}

/* --- helpers ------------------------------------------------------------- */

static int
unhex(const char *s, uint8_t *out, size_t n)
{
	size_t i;
	unsigned v;

	if (s == NULL || strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static void
report(struct cap *x)
{
	if (x->o->stats != NULL)
		x->o->stats(x->o->stats_arg, &x->st);
}

/* Sleeps up to secs, in short steps, until the stop flag. */
static void
nap(const struct cap *x, double secs)
{
	double until = lb_mono_now() + secs;

	while (!*x->o->stop && lb_mono_now() < until)
		usleep(100 * 1000);
}

static void
audit_gap(struct cap *x, const struct capture_result *res)
{
	int compacted = strcmp(res->gap_reason, "compacted") == 0;
	char details[256];

	/* compacted: the oldest revision etcd still had; too-large: the
	 * revision that could not be captured */
	snprintf(details, sizeof(details), "{\"event\":\"gap\",\"after_revision\":%lld,"
	    "\"%s\":%lld,\"reason\":\"%s\"}", (long long)res->gap_after,
	    compacted ? "compact_revision" : "revision",
	    (long long)(compacted ? res->need_rev + 1 : res->need_rev), res->gap_reason);
	env_audit(x->e, cat_action_name(CAT_ACT_PITR), x->cluster, NULL, "gap", details);
}

/* The second connection, to another member than the watch's when there
 * is one; NULL when none answers (tried again a few seconds later). */
static struct etcd_client *
aux(struct cap *x)
{
	struct lb_err err;
	size_t k, i;

	if (x->aux != NULL)
		return x->aux;
	if (x->aux_failed_at > 0 && lb_mono_now() - x->aux_failed_at < CAPTURE_LAG_EVERY_S)
		return NULL;
	for (k = 1; k <= x->n_eps; k++) {
		i = (x->ep + k) % x->n_eps;
		if (etcd_open(x->eps[i], &x->eo, &x->aux, &err) == 0) {
			x->aux_failed_at = 0;
			return x->aux;
		}
	}
	log_debug("cluster=%s capture: no member answers for lease and status calls: %s",
	    x->cluster, err.msg);
	x->aux_failed_at = lb_mono_now();
	return NULL;
}

static void
aux_drop(struct cap *x)
{
	etcd_close(x->aux);
	x->aux = NULL;
}

/* The granted TTL of lease id: from the cache, else LeaseTimeToLive;
 * 0 when unknown (expired already, or no member answers). */
static int64_t
lease_ttl(struct cap *x, int64_t id)
{
	struct etcd_client *c;
	struct lb_err err;
	int64_t granted = 0, remaining = 0;
	int r;

	if (lset_find(&x->ttls, id, &granted))
		return granted;
	if ((c = aux(x)) == NULL)
		return 0;
	if ((r = etcd_lease_ttl(c, id, &granted, &remaining, &err)) < 0) {
		granted = 0;
		if (r != LB_E_NOTFOUND) {
			log_debug("cluster=%s capture: lease %llx time-to-live: %s", x->cluster,
			    (unsigned long long)id, err.msg);
			aux_drop(x);
			return 0;  /* not cached: asked again at its next use */
		}
	}
	if (x->ttls.n >= LSET_MAX)
		lset_clear(&x->ttls);
	lset_add(&x->ttls, id, granted);
	return granted;
}

/* Forgets lag samples the capture has reached; the lag in seconds is
 * the age of the oldest left. */
static void
lag_update(struct cap *x)
{
	size_t k = 0;

	while (k < x->n_lag && x->lag[k].rev <= x->st.last_rev)
		k++;
	if (k > 0) {
		memmove(x->lag, x->lag + k, (x->n_lag - k) * sizeof(x->lag[0]));
		x->n_lag -= k;
	}
	x->st.lag_seconds = x->n_lag > 0 ? lb_mono_now() - x->lag[0].at : 0;
	x->st.lag_revisions = x->st.head_rev > 0 ?
	    (x->st.head_rev > x->st.last_rev ? x->st.head_rev - x->st.last_rev : 0) : -1;
}

/* Reads the cluster's head revision (Status), every few seconds. */
static void
lag_sample(struct cap *x)
{
	struct etcd_status es;
	struct etcd_client *c;
	struct lb_err err;
	double now = lb_mono_now();

	if (now - x->lag_at < CAPTURE_LAG_EVERY_S)
		return;
	x->lag_at = now;
	if ((c = aux(x)) == NULL)
		return;
	if (etcd_status(c, &es, &err) < 0) {
		log_debug("cluster=%s capture: status: %s", x->cluster, err.msg);
		aux_drop(x);
		return;
	}
	if (es.revision > x->st.head_rev)
		x->st.head_rev = es.revision;
	if (es.revision <= x->st.last_rev || es.revision <= x->next - 1) {
		x->known_ms = lb_wall_ms();
	} else if (x->n_lag == 0 || x->lag[x->n_lag - 1].rev < es.revision) {
		if (x->n_lag == LAG_SAMPLES) {   /* keep the oldest: it makes the lag */
			memmove(x->lag + 1, x->lag + 2, (LAG_SAMPLES - 2) * sizeof(x->lag[0]));
			x->n_lag--;
		}
		x->lag[x->n_lag++] = (struct lag_sample){ es.revision, now };
	}
	lag_update(x);
}

/* --- segments ------------------------------------------------------------ */

static int
seg_open(struct cap *x, int64_t first_rev, int64_t now_ms, struct lb_err *err)
{
	struct evl_segment_opts so = {
		.cluster = x->cluster, .cluster_id = x->cluster_id,
		.first_rev = first_rev, .prev_sha256 = x->have_prev ? x->prev : NULL,
		.created_ms = now_ms, .rcpts = x->rc.v, .n_rcpts = x->rc.n,
		.level = x->level, .threads = 0, .size = x->size,
	};
	int r;

	if ((r = evl_segment_open(&so, &x->seg, err)) < 0)
		return lb_err_prefix(err, "cluster %s: segment at revision %lld: ", x->cluster,
		    (long long)first_rev);
	x->seg_first_ms = now_ms;
	x->seg_first_rev = first_rev;
	lset_clear(&x->seg_leases);
	return 0;
}

/* Two holders for a moment after a failover (the old one has not yet
 * seen its lease expire) may close the same range: the segment stored
 * first stands, recorded here too and taken as the previous one, so the
 * bucket never holds an object whose manifest another segment's
 * overwrote.  1 when that happened (ours is dropped). */
static int
seg_taken(struct cap *x)
{
	struct evl_keys k;
	struct evl_meta *m = NULL;
	struct lb_err e2;
	uint64_t size;
	int r = 0;

	lb_err_clear(&e2);
	if (evl_keys(x->cluster, x->seg_first_rev, evl_segment_next_rev(x->seg) - 1,
	    x->seg_first_ms, &k, &e2) < 0 || repo_stat(x->e->repo, k.meta, &size, &e2) < 0)
		return 0;
	if (env_segment_read(x->e, NULL, k.meta, &m, NULL, &e2) == 0 &&
	    env_segment_add(x->e, m, NULL, &e2) == 0 && unhex(m->stored_sha256, x->prev, 32) == 0) {
		x->have_prev = 1;
		log_warn("cluster=%s capture: %s was stored by another appliance (two lock "
		    "holders for a moment); it stands, this one's copy is dropped", x->cluster,
		    k.meta);
		r = 1;
	} else if (e2.code != 0) {
		log_warn("cluster=%s capture: %s is there already but cannot be used (%s); "
		    "storing this one over it", x->cluster, k.meta, e2.msg);
	}
	evl_meta_free(m);
	return r;
}

/* Closes the open segment with last time last_ms, stores it (a few
 * tries: the bytes are kept between them) and records it. */
static int
seg_put(struct cap *x, int64_t last_ms, struct lb_err *err)
{
	struct evl_meta *m = NULL;
	int r = 0, tries;

	if (x->seg == NULL)
		return 0;
	if (evl_segment_revisions(x->seg) == 0) {   /* opened on a revision too large */
		evl_segment_free(x->seg);
		x->seg = NULL;
		return 0;
	}
	if (seg_taken(x)) {
		x->st.stored_rev = evl_segment_next_rev(x->seg) - 1;
		goto out;
	}
	for (tries = 1; tries <= PUT_TRIES; tries++) {
		lb_err_clear(err);
		if ((r = evl_segment_put(x->seg, x->e->repo, x->e->signer, last_ms, &m, err)) == 0)
			break;
		log_warn("cluster=%s capture: storing the segment from revision %lld: %s%s",
		    x->cluster, (long long)x->seg_first_rev, err->msg,
		    tries < PUT_TRIES ? " (trying again)" : "");
		if (tries < PUT_TRIES)
			nap(x, 1);
	}
	if (r < 0) {
		x->st.segments_failed++;
		goto out;
	}
	if ((r = env_segment_add(x->e, m, NULL, err)) < 0) {
		x->st.segments_failed++;
		lb_err_prefix(err, "segment %s stored but not recorded: ", m->object);
		goto out;
	}
	if (evl_segment_stored_sha256(x->seg, x->prev) == 0)
		x->have_prev = 1;
	x->st.segments_ok++;
	x->st.stored_rev = m->last_rev;
	log_info("cluster=%s segment=%s revisions=%lld-%lld events=%llu stored=%llu",
	    x->cluster, m->object, (long long)m->first_rev, (long long)m->last_rev,
	    (unsigned long long)m->events, (unsigned long long)m->stored_size);
out:
	evl_meta_free(m);
	evl_segment_free(x->seg);
	x->seg = NULL;
	report(x);
	return r;
}

/* --- the watch's callbacks ------------------------------------------------ */

static int
on_revision(void *arg, int64_t rev, const struct etcd_kv_event *ev, size_t n,
    struct lb_err *err)
{
	struct cap *x = arg;
	int64_t now = lb_wall_ms();
	size_t i;
	int r;

	if (rev < x->next)            /* already captured (before a reconnect) */
		return 0;
	if (rev > x->next)
		return lb_err_set(err, LB_E_PROTO, "cluster %s: the watch delivered revision "
		    "%lld where %lld was due: revisions missing", x->cluster, (long long)rev,
		    (long long)x->next);
	if (x->seg == NULL && (r = seg_open(x, rev, now, err)) < 0)
		goto fatal;
	/* a lease record before the first revision that names it, so a
	 * replay from this segment on can make the lease first */
	for (i = 0; i < n; i++) {
		int64_t id = ev[i].lease;

		if (id == 0 || lset_find(&x->seg_leases, id, NULL))
			continue;
		if ((r = evl_segment_lease(x->seg, id, lease_ttl(x, id), err)) < 0 ||
		    (r = lset_add(&x->seg_leases, id, 0)) < 0)
			goto fatal;
	}
	/* too large for a record: not a failure of the capture but a gap
	 * (watch_loop), after which a backup starts a new chain */
	if ((r = evl_segment_revision(x->seg, rev, now, ev, n, err)) == LB_E_TOOBIG)
		return r;
	if (r < 0)
		goto fatal;
	x->next = rev + 1;
	x->st.last_rev = rev;
	x->known_ms = now;
	x->heard_at = lb_mono_now();
	lag_update(x);
	if (evl_segment_full(x->seg) && (r = seg_put(x, now, err)) < 0)
		goto fatal;
	return 0;
fatal:
	if (err->code == 0)
		lb_err_set(err, r, "cluster %s: capture failed", x->cluster);
	x->fatal = 1;
	x->fatal_err = *err;
	return r;
}

static int
on_progress(void *arg, int64_t rev, struct lb_err *err)
{
	struct cap *x = arg;

	(void)err;
	if (rev >= x->next - 1)
		x->known_ms = lb_wall_ms();
	x->heard_at = lb_mono_now();
	return 0;
}

/* A large revision arrives in many fragments: bytes flowing are not a
 * stuck watch (on_tick's test), though no revision completes for a while. */
static void
on_fragment(void *arg, int64_t rev, size_t kept)
{
	struct cap *x = arg;

	(void)rev;
	(void)kept;
	x->heard_at = lb_mono_now();
}

static int
on_tick(void *arg, struct lb_err *err)
{
	struct cap *x = arg;
	int64_t now = lb_wall_ms();
	int r;

	if (*x->o->stop)
		return 1;
	lag_sample(x);
	if (x->seg != NULL && now - x->seg_first_ms >= x->interval_ms &&
	    (r = seg_put(x, x->known_ms, err)) < 0) {
		x->fatal = 1;
		x->fatal_err = *err;
		return r;
	}
	lag_update(x);
	report(x);
	if (x->n_lag > 0 && lb_mono_now() - x->lag[0].at > STUCK_S &&
	    lb_mono_now() - x->heard_at > STUCK_S)
		return lb_err_set(err, LB_E_NET, "no revision for %ds while the cluster is at "
		    "%lld", STUCK_S, (long long)x->st.head_rev);
	return 0;
}

/* --- where the chain stands ----------------------------------------------- */

struct walk {
	int64_t next;
	char prev[65];
	int have_prev;
};

/* Segments by first_rev: each one that starts at or before the next
 * revision and reaches it extends the chain. */
static int
walk_cb(const struct cat_segment *s, void *arg)
{
	struct walk *w = arg;

	if (s->first_rev > w->next)
		return 1;
	if (s->last_rev + 1 < w->next || (w->have_prev && s->last_rev + 1 == w->next))
		return 0;
	if (s->stored_sha256 == NULL || strlen(s->stored_sha256) != 64)
		return 0;
	w->next = s->last_rev + 1;
	snprintf(w->prev, sizeof(w->prev), "%s", s->stored_sha256);
	w->have_prev = 1;
	return 0;
}

/* --- learning the bucket ------------------------------------------------- */

struct learn {
	struct lb_env *e;
	const char *cluster;
	int64_t after;             /* record manifests whose last_rev is past this */
	int added;
	size_t refused;
};

/* "<cluster>/wal/YYYY/MM/DD/<first>-<last>.evlog.json": last from the name,
 * so the manifests the catalog has are not even read. */
static int
name_last_rev(const char *key, int64_t *last)
{
	size_t n = strlen(key), m = strlen(EVL_META_SUFFIX);
	const char *p;
	long long v;

	if (n <= m + 21 || strcmp(key + n - m, EVL_META_SUFFIX) != 0)
		return -1;
	p = key + n - m - 20;
	if (p[-1] != '-' || sscanf(p, "%20lld", &v) != 1)
		return -1;
	*last = v;
	return 0;
}

static int
learn_cb(void *arg, const char *key, uint64_t size)
{
	struct learn *l = arg;
	struct evl_meta *m = NULL;
	struct lb_err err;
	int64_t last;
	int ins = 0;

	(void)size;
	if (name_last_rev(key, &last) < 0 || last <= l->after)
		return 0;
	lb_err_clear(&err);
	if (env_segment_read(l->e, NULL, key, &m, NULL, &err) < 0)
		goto refused;
	if (strcmp(m->cluster, l->cluster) != 0) {
		lb_err_set(&err, LB_E_CORRUPT, "it names cluster %s", m->cluster);
		goto refused;
	}
	if (m->revisions == 0)
		goto out;
	if (env_segment_add(l->e, m, &ins, &err) < 0)
		goto refused;
	l->added += ins;
	goto out;
refused:
	l->refused++;
	log_warn("cluster=%s capture: %s not recorded: %s", l->cluster, key, err.msg);
out:
	evl_meta_free(m);
	return 0;
}

int
capture_learn_bucket(struct lb_env *e, const char *cluster, int *added,
    struct lb_err *err)
{
	struct learn l = { .e = e, .cluster = cluster, .after = 0 };
	struct cat_segment *last = NULL;
	char prefix[EVL_KEY_MAX];
	int r;

	*added = 0;
	if ((r = cat_segment_last(e->cat, cluster, &last, err)) == 0)
		l.after = last->last_rev;
	else if (r != LB_E_NOTFOUND)
		return r;
	cat_segment_free(last);
	snprintf(prefix, sizeof(prefix), "%s/wal/", cluster);
	if ((r = repo_list(e->repo, prefix, learn_cb, &l, err)) < 0)
		return lb_err_prefix(err, "cluster %s: listing %s: ", cluster, prefix);
	*added = l.added;
	return 0;
}

/* --- the run ------------------------------------------------------------- */

/* 1 when a complete backup to start from is there (of min_backup_rev):
 * checked before the bucket is listed, which a wait for the first backup
 * would otherwise do every few seconds. */
static int
backup_ready(struct cap *x, struct lb_err *err)
{
	struct cat_backup *b = NULL;
	int r;

	r = cat_backup_latest(x->e->cat, x->cluster, CAT_COMPLETE, 0, &b, err);
	if (r == LB_E_NOTFOUND) {
		lb_err_clear(err);
		return 0;
	}
	if (r == 0)
		r = b->revision >= x->o->min_backup_rev;
	cat_backup_free(b);
	return r;
}

/* When no segment reaches backup b: the end of the newest segment's
 * chain into *w (w->have_prev), if the chain may go on from there.
 *
 * A backup taken after the last stored segment (by a holder that then
 * died with its open segment, or while the capture was down) covers its
 * own revision only, not the ones between that segment and it: a chain
 * started again from the backup would leave those in no segment, with
 * no gap recorded, though etcd may still have them.  So the chain goes
 * on after its last segment, when that segment is of the cluster b was
 * taken of (not of a cluster since restored under the same name) and
 * not of a chain a gap ended in this thread (o->min_backup_rev).  If etcd
 * compacted those revisions meanwhile, the watch says so and the gap is
 * recorded as any other. */
static int
chain_end(struct cap *x, const struct cat_backup *b, struct walk *w, struct lb_err *err)
{
	struct cat_segment *s = NULL;
	int r;

	if ((r = cat_segment_last(x->e->cat, x->cluster, &s, err)) == LB_E_NOTFOUND)
		return 0;
	if (r < 0)
		return r;
	if (s->last_rev < b->revision && s->last_rev >= x->o->min_backup_rev &&
	    s->cluster_id != NULL && b->cluster_id != NULL &&
	    strcasecmp(s->cluster_id, b->cluster_id) == 0 &&
	    s->stored_sha256 != NULL && strlen(s->stored_sha256) == 64) {
		w->next = s->last_rev + 1;
		snprintf(w->prev, sizeof(w->prev), "%s", s->stored_sha256);
		w->have_prev = 1;
	}
	cat_segment_free(s);
	return 0;
}

/* Where the chain goes on: past the newest segment whose chain reaches
 * the newest complete backup's revision, else past the newest segment
 * (chain_end), else right after that backup. */
static int
find_start(struct cap *x, struct capture_result *res, int *ready, struct lb_err *err)
{
	struct cat_backup *b = NULL;
	struct walk w = { 0 };
	int r, resumed = 0;

	*ready = 0;
	r = cat_backup_latest(x->e->cat, x->cluster, CAT_COMPLETE, 0, &b, err);
	if (r == LB_E_NOTFOUND || (r == 0 && b->revision < x->o->min_backup_rev)) {
		lb_err_clear(err);
		res->end = CAPTURE_NO_BACKUP;
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	if (b->cluster_id != NULL)
		x->cluster_id = strtoull(b->cluster_id, NULL, 16);
	/* An empty store's snapshot says revision 0 (no key has one); etcd's
	 * store starts at 1, which no event has: the first write is 2. */
	if (b->revision < 1)
		b->revision = 1;
	w.next = b->revision + 1;
	if ((r = cat_segments_range(x->e->cat, x->cluster, b->revision, -1, walk_cb, &w,
	    err)) < 0)
		goto out;
	x->next = w.next;
	x->have_prev = w.have_prev && unhex(w.prev, x->prev, 32) == 0;
	if (!x->have_prev) {
		w.have_prev = 0;
		if ((r = chain_end(x, b, &w, err)) < 0)
			goto out;
		if (w.have_prev && unhex(w.prev, x->prev, 32) == 0) {
			x->next = w.next;
			x->have_prev = resumed = 1;
		}
	}
	if (resumed) {
		log_info("cluster=%s capture: the chain goes on after its last segment, at "
		    "revision %lld (backup %s at %lld is newer: the revisions between are "
		    "in no segment yet)", x->cluster, (long long)x->next, b->id,
		    (long long)b->revision);
	} else if (!x->have_prev) {
		x->next = b->revision + 1;
		if (x->o->gap_after >= 0) {
			struct lb_err e2;

			if (cat_gap_add(x->e->cat, x->cluster, x->o->gap_after, x->next,
			    x->o->gap_reason != NULL ? x->o->gap_reason : "compacted", &e2) < 0)
				log_warn("cluster=%s capture: %s", x->cluster, e2.msg);
		}
		log_info("cluster=%s capture: a new chain from backup %s at revision %lld",
		    x->cluster, b->id, (long long)x->next);
	} else {
		log_info("cluster=%s capture: the chain goes on at revision %lld (backup %s "
		    "at %lld)", x->cluster, (long long)x->next, b->id, (long long)b->revision);
	}
	x->st.last_rev = x->st.stored_rev = x->next - 1;
	*ready = 1;
out:
	cat_backup_free(b);
	return r;
}

/* The watch, from member to member, until stop, a gap or a failure. */
static int
watch_loop(struct cap *x, struct capture_result *res, struct lb_err *err)
{
	const struct etcd_watch_cb cb = { on_revision, on_progress, on_tick, x, on_fragment };
	struct etcd_client *c = NULL;
	struct lb_err e2;
	int64_t compact = 0;
	size_t failed_round = 0;
	int r;

	while (!*x->o->stop) {
		lb_err_clear(&e2);
		x->heard_at = lb_mono_now();
		if ((r = etcd_open(x->eps[x->ep], &x->eo, &c, &e2)) == 0) {
			log_info("cluster=%s capture: watching %s from revision %lld", x->cluster,
			    x->eps[x->ep], (long long)x->next);
			r = etcd_watch(c, x->next, &cb, &compact, &e2);
			etcd_close(c);
			c = NULL;
		}
		if (x->fatal) {
			*err = x->fatal_err;
			return err->code < 0 ? err->code : LB_E_INTERNAL;
		}
		if (r == 0 || *x->o->stop)
			break;
		if (r == LB_E_COMPACTED) {
			res->end = CAPTURE_GAP;
			res->gap_after = x->next - 1;
			res->need_rev = compact > 0 ? compact - 1 : x->next;
			res->gap_reason = "compacted";
			log_error("cluster=%s capture: etcd compacted revision %lld away "
			    "(compact revision %lld): the chain breaks after %lld; a full "
			    "backup starts it again", x->cluster, (long long)x->next,
			    (long long)compact, (long long)res->gap_after);
			return 0;
		}
		if (r == LB_E_TOOBIG) {
			/* Every member would send the same revision: moving on
			 * would loop.  A backup holds it instead. */
			res->end = CAPTURE_GAP;
			res->gap_after = x->next - 1;
			res->need_rev = x->next;
			res->gap_reason = "too-large";
			log_error("cluster=%s capture: %s; the chain breaks after %lld; a full "
			    "backup starts it again", x->cluster, e2.msg,
			    (long long)res->gap_after);
			return 0;
		}
		/* The member failed (or spoke nonsense): the next one, from the
		 * next revision; the open segment stays open. */
		log_warn("cluster=%s capture: %s: %s; moving to another member at revision "
		    "%lld", x->cluster, x->eps[x->ep], e2.msg, (long long)x->next);
		aux_drop(x);
		x->ep = (x->ep + 1) % x->n_eps;
		if (++failed_round >= x->n_eps) {
			failed_round = 0;
			nap(x, 1);
		}
		/* the interval ends while no member answers: close on time */
		if (x->seg != NULL && lb_wall_ms() - x->seg_first_ms >= x->interval_ms &&
		    (r = seg_put(x, x->known_ms, err)) < 0)
			return r;
	}
	res->end = CAPTURE_STOPPED;
	return 0;
}

int
capture_run(const struct capture_opts *o, struct capture_result *res,
    struct lb_err *err)
{
	const struct cfg *c = o->env->cfg;
	struct cap x;
	int r, ready = 0, added = 0;

	memset(res, 0, sizeof(*res));
	memset(&x, 0, sizeof(x));
	x.o = o;
	x.e = o->env;
	x.cluster = o->cluster;
	x.known_ms = lb_wall_ms();
	x.interval_ms = (int64_t)cfg_get_int(c, o->cluster, CFG_PITR_SEGMENT_INTERVAL) * 1000;
	x.size = (size_t)cfg_get_int(c, o->cluster, CFG_PITR_SEGMENT_SIZE);
	x.level = (int)cfg_get_int(c, NULL, CFG_COMPRESS_LEVEL);
	x.n_eps = cfg_get_list(c, o->cluster, CFG_ENDPOINTS, &x.eps);
	if (x.n_eps == 0) {
		r = lb_err_set(err, LB_E_CONFIG, "cluster %s has no endpoints", o->cluster);
		goto out;
	}
	if ((r = setup_recipients(c, &x.rc, err)) < 0 ||
	    (r = setup_etcd_opts(c, o->cluster, &x.eo, &x.password, err)) < 0)
		goto out;
	x.eo.cancel = o->stop;
	if ((r = backup_ready(&x, err)) <= 0) {
		res->end = CAPTURE_NO_BACKUP;
		goto out;
	}
	/* What another appliance stored before this one took over comes
	 * first, so the chain goes on from its last segment. */
	if ((r = capture_learn_bucket(x.e, o->cluster, &added, err)) < 0)
		goto out;
	if (added > 0)
		log_info("cluster=%s capture: %d segments recorded from the bucket", o->cluster,
		    added);
	if ((r = find_start(&x, res, &ready, err)) < 0 || !ready)
		goto out;
	report(&x);
	r = watch_loop(&x, res, err);
	/* Stopped, a gap, or a failure: what the open segment holds is good
	 * and contiguous; it is stored (a failure keeps the first error). */
	if (x.seg != NULL) {
		struct lb_err e2;
		int r2;

		lb_err_clear(&e2);
		if ((r2 = seg_put(&x, x.known_ms, &e2)) < 0 && r == 0) {
			r = r2;
			*err = e2;
		}
	}
	if (r == 0 && res->end == CAPTURE_GAP) {
		struct lb_err e2;

		x.st.gaps++;
		if (cat_gap_add(x.e->cat, o->cluster, res->gap_after, -1, res->gap_reason,
		    &e2) < 0)
			log_error("cluster=%s capture: the gap after %lld is not recorded: %s",
			    o->cluster, (long long)res->gap_after, e2.msg);
		audit_gap(&x, res);
	}
	report(&x);
out:
	aux_drop(&x);
	evl_segment_free(x.seg);
	lset_free(&x.seg_leases);
	lset_free(&x.ttls);
	setup_recipients_release(&x.rc);
	lb_secret_free(x.password);
	return r;
}
