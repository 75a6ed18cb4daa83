/*
 * replay.c: the replay of point-in-time recovery (replay.h): which
 * segments, how far they reach, a time turned into a revision, and the
 * replay itself into a scratch member.  The proof of a pair of backups
 * is prove.c's.
 */
#include "restore/replay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "catalog/catalog.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "etcd/etcd_admin.h"
#include "etcd/etcd_lock.h"
#include "etcd/etcd_watch.h"
#include "evlog/evlog.h"
#include "env/segment.h"
#include "evlog/segment.h"
#include "repo/repo.h"
#include "snapshot/trailer.h"
#include "stream/age.h"
#include "stream/flt.h"

#define SEGS_MAX (1u << 20)
#define MEMBER "replay"

/* ---- which segments ---------------------------------------------------------- */

void
replay_segments_free(struct replay_segments *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->v[i].object);
		free(s->v[i].stored_sha256);
	}
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static int
segs_add(struct replay_segments *s, const char *object, const char *sha,
    int64_t first, int64_t last, int64_t t1, int64_t t2, int64_t revisions)
{
	struct replay_segment *g;

	if (lb_vec_grow(&s->v, &s->cap, s->n, sizeof(*s->v), SEGS_MAX) < 0)
		return LB_E_NOMEM;
	g = &s->v[s->n];
	memset(g, 0, sizeof(*g));
	if ((g->object = strdup(object)) == NULL ||
	    (g->stored_sha256 = strdup(sha)) == NULL) {
		free(g->object);
		return LB_E_NOMEM;
	}
	g->first_rev = first;
	g->last_rev = last;
	g->first_time_ms = t1;
	g->last_time_ms = t2;
	g->revisions = revisions;
	s->n++;
	return 0;
}

struct from_cat_arg {
	struct replay_segments *s;
	int with_failed;
};

static int
from_cat(const struct cat_segment *g, void *arg)
{
	struct from_cat_arg *a = arg;

	if (g->object == NULL || g->stored_sha256 == NULL)
		return 0;
	/* a segment whose verification failed is not replayed: the run
	 * breaks there, as cat_pitr_windows says */
	if (!a->with_failed && g->verify_status != NULL &&
	    strcmp(g->verify_status, "failed") == 0)
		return 0;
	return segs_add(a->s, g->object, g->stored_sha256, g->first_rev, g->last_rev,
	    g->first_time_ms, g->last_time_ms, g->revisions);
}

int
replay_segments_catalog(struct cat *c, const char *cluster, int64_t from_rev,
    int64_t to_rev, int with_failed, struct replay_segments *out, struct lb_err *err)
{
	struct from_cat_arg a = { out, with_failed };
	int r;

	memset(out, 0, sizeof(*out));
	out->origin = "catalog";
	if ((r = cat_segments_range(c, cluster, from_rev, to_rev, from_cat, &a, err)) < 0) {
		if (r == LB_E_NOMEM)
			lb_err_set(err, r, "out of memory");
		replay_segments_free(out);
	}
	return r;
}

/* ---- from the bucket --------------------------------------------------------- */

struct keys {
	char **v;
	size_t n, cap;
};

static int
collect_json(void *arg, const char *key, uint64_t size)
{
	static const char suf[] = ".evlog.json";
	struct keys *k = arg;
	size_t kl = strlen(key);

	(void)size;
	if (kl <= sizeof(suf) - 1 || strcmp(key + kl - (sizeof(suf) - 1), suf) != 0)
		return 0;
	if (lb_vec_grow(&k->v, &k->cap, k->n, sizeof(*k->v), REPO_LIST_MAX) < 0 ||
	    (k->v[k->n] = strdup(key)) == NULL)
		return LB_E_NOMEM;
	k->n++;
	return 0;
}

int
replay_parse_time(const char *s, int64_t *ms_out, struct lb_err *err)
{
	char buf[64];
	const char *dot;
	int64_t t, ms = 0;
	int i, r;

	if (s == NULL || strlen(s) >= sizeof(buf))
		return lb_err_set(err, LB_E_USAGE, "not a time: %.80s", s ? s : "(none)");
	if ((dot = strchr(s, '.')) == NULL || dot[1] < '0' || dot[1] > '9')
		snprintf(buf, sizeof(buf), "%s", s);
	else {
		for (i = 1; i <= 3 && dot[i] >= '0' && dot[i] <= '9'; i++)
			ms = ms * 10 + (dot[i] - '0');
		for (; i <= 3; i++)
			ms *= 10;
		while (*++dot >= '0' && *dot <= '9')
			;
		snprintf(buf, sizeof(buf), "%.*s%s", (int)(strchr(s, '.') - s), s, dot);
	}
	if ((r = cat_time_parse(buf, (int64_t)time(NULL), &t, err)) < 0)
		return r;
	*ms_out = t * 1000 + ms;
	return 0;
}

/* "2026-12-01T10:13:08.123Z" from Unix ms (out holds 32). */
char *
replay_format_ms(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0) {
		snprintf(out, cap, "unknown");
		return out;
	}
	gmtime_r(&t, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return out;
}

/* One *.evlog.json: read, its signature checked, parsed, at its own
 * key (env_segment_read), of this cluster; added when it holds a
 * revision wanted. */
static int
add_json(const struct lb_env *e, struct replay_segments *s, const char *cluster,
    const char *key, int64_t from_rev, int64_t to_rev, struct lb_err *err)
{
	struct evl_meta *m = NULL;
	int r;

	if ((r = env_segment_read(e, NULL, key, &m, NULL, err)) < 0)
		goto out;
	if (strcmp(m->cluster, cluster) != 0) {
		r = lb_err_set(err, LB_E_CORRUPT, "%s: a segment of cluster %s", key, m->cluster);
		goto out;
	}
	if (m->last_rev < from_rev || (to_rev >= 0 && m->first_rev > to_rev))
		goto out;
	if ((r = segs_add(s, m->object, m->stored_sha256, m->first_rev, m->last_rev,
	    m->first_time_ms, m->last_time_ms, (int64_t)m->revisions)) < 0)
		lb_err_set(err, r, "out of memory");
out:
	evl_meta_free(m);
	return r;
}

static int
cmp_seg(const void *a, const void *b)
{
	const struct replay_segment *x = a, *y = b;

	if (x->first_rev != y->first_rev)
		return x->first_rev < y->first_rev ? -1 : 1;
	if (x->last_rev != y->last_rev)
		return x->last_rev < y->last_rev ? -1 : 1;
	return strcmp(x->object, y->object);
}

int
replay_segments_repo(const struct lb_env *e, const char *cluster, int64_t from_rev,
    int64_t to_rev, struct replay_segments *out, struct lb_err *err)
{
	struct keys k = { 0 };
	char prefix[300];
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	out->origin = "repository";
	snprintf(prefix, sizeof(prefix), "%s/wal/", cluster);
	if ((r = repo_list(e->repo, prefix, collect_json, &k, err)) < 0) {
		if (r == LB_E_NOMEM)
			lb_err_set(err, r, "out of memory");
		goto out;
	}
	for (i = 0; i < k.n; i++) {
		struct lb_err e2;

		lb_err_clear(&e2);
		/* one bad manifest is a hole in the log, found as such by the
		 * coverage check, not a reason to read none */
		if ((r = add_json(e, out, cluster, k.v[i], from_rev, to_rev, &e2)) < 0) {
			if (r == LB_E_NOMEM || r == LB_E_AUTH || r == LB_E_TLS ||
			    r == LB_E_CANCELED) {
				*err = e2;
				goto out;
			}
			log_error("%s; left out of the event log", e2.msg);
		}
	}
	r = 0;
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_seg);
out:
	for (i = 0; i < k.n; i++)
		free(k.v[i]);
	free(k.v);
	if (r < 0)
		replay_segments_free(out);
	return r;
}

void
replay_coverage(const struct replay_segments *s, int64_t from_rev, int64_t *last_rev,
    int64_t *last_time_ms)
{
	int64_t last = from_rev - 1, t = -1;
	size_t i;

	/* by first_rev: a segment starting at or before the next revision
	 * extends the run (overlaps come from two captures) */
	for (i = 0; i < s->n; i++) {
		const struct replay_segment *g = &s->v[i];
		if (g->first_rev > last + 1)
			break;
		if (g->last_rev > last) {
			last = g->last_rev;
			t = g->last_time_ms;
		} else if (g->last_rev == last && g->last_time_ms > t)
			t = g->last_time_ms;
	}
	*last_rev = last;
	*last_time_ms = t;
}

/* ---- reading a segment --------------------------------------------------------- */

/* evl_segment_read with the stored sha256 the catalog or manifest
 * recorded: the stored bytes are checked before anything is decrypted,
 * and the whole segment is parsed (footer, counts, sha256) even when the
 * replay stops inside it.  Callbacks have run for what came before a
 * failure: a segment is good only when this returns 0. */
static int
read_segment(struct repo *rp, const struct age_identity *id,
    const struct replay_segment *g, const struct evl_parse_cb *cb, struct lb_err *err)
{
	struct evl_read_info info;
	int r;

	if ((r = evl_segment_read(rp, g->object, id, g->stored_sha256, cb, &info, err)) < 0)
		return r;
	/* the record it was chosen by must say what it holds */
	if (info.footer.first_rev != g->first_rev || info.footer.last_rev != g->last_rev)
		return lb_err_set(err, LB_E_CORRUPT, "segment %s holds revisions %lld..%lld, "
		    "its record says %lld..%lld", g->object, (long long)info.footer.first_rev,
		    (long long)info.footer.last_rev, (long long)g->first_rev,
		    (long long)g->last_rev);
	return 0;
}

/* ---- --to-time -------------------------------------------------------------------- */

struct find_time {
	int64_t t_ms, after, rev, rev_ms;
};

static int
ft_rev(void *arg, int64_t rev, int64_t wall_ms, const struct etcd_kv_event *ev,
    size_t n, struct lb_err *err)
{
	struct find_time *f = arg;

	(void)ev;
	(void)n;
	(void)err;
	if (rev > f->after && wall_ms <= f->t_ms && rev > f->rev) {
		f->rev = rev;
		f->rev_ms = wall_ms;
	}
	return 0;
}

int
replay_resolve_time(struct repo *rp, const struct age_identity *id,
    const struct replay_segments *s, int64_t after_rev, int64_t t_ms, int64_t *rev,
    int64_t *rev_time_ms, struct lb_err *err)
{
	struct find_time f = { t_ms, after_rev, after_rev, -1 };
	struct evl_parse_cb cb = { 0 };
	size_t i;
	int r;

	cb.on_revision = ft_rev;
	cb.arg = &f;
	/* the segments that may hold a later revision at or before t_ms than
	 * found so far: each starting at or before it, newest first (another
	 * capture's longer segment may still hold a later one) */
	for (i = s->n; i-- > 0;) {
		const struct replay_segment *g = &s->v[i];
		if (g->revisions == 0 || g->last_rev <= f.rev || g->first_time_ms > t_ms)
			continue;
		if ((r = read_segment(rp, id, g, &cb, err)) < 0)
			return r;
	}
	*rev = f.rev;
	*rev_time_ms = f.rev_ms;
	return 0;
}

/* ---- leases ----------------------------------------------------------------------- */

/* Every lease id seen: its TTL from a LEASE record (0: none yet) and
 * whether it exists in the scratch member.  Open addressing on the id. */
struct lease_ent {
	int64_t id, ttl;
	int exists;
};

struct lease_tab {
	struct lease_ent *v;
	size_t n, cap;             /* cap a power of two, kept below half full */
};

static struct lease_ent *
lease_find(struct lease_tab *t, int64_t id, int add)
{
	size_t i, mask;

	if (t->cap == 0 || (add && 2 * (t->n + 1) > t->cap)) {
		struct lease_tab g = { 0 };
		if (!add && t->cap == 0)
			return NULL;
		g.cap = t->cap ? 2 * t->cap : 64;
		if ((g.v = calloc(g.cap, sizeof(*g.v))) == NULL)
			return NULL;
		for (i = 0; i < t->cap; i++)
			if (t->v[i].id != 0)
				*lease_find(&g, t->v[i].id, 1) = t->v[i];
		free(t->v);
		*t = g;
	}
	mask = t->cap - 1;
	for (i = ((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 7 & mask;; i = (i + 1) & mask) {
		if (t->v[i].id == id)
			return &t->v[i];
		if (t->v[i].id == 0) {
			if (!add)
				return NULL;
			t->v[i].id = id;
			t->n++;
			return &t->v[i];
		}
	}
}

/* The keeper: a thread with its own client renews every lease of the
 * scratch member a few times per TTL, so none expires mid-replay (an
 * expiry would delete keys in a revision of its own, and every revision
 * after it would come out one too high). */
struct kept {
	int64_t id, ttl;
	double due;
};

struct keeper {
	pthread_mutex_t mu;
	pthread_t th;
	int started, stop;
	struct etcd_client *ec;
	struct kept *v;
	size_t n, cap;
	int failed;
	struct lb_err err;
};

static double
period(int64_t ttl)
{
	double p = (double)ttl / 3.0;

	return p < 0.5 ? 0.5 : p > 20.0 ? 20.0 : p;
}

static int
keeper_add(struct keeper *k, int64_t id, int64_t ttl)
{
	int r = 0;

	pthread_mutex_lock(&k->mu);
	if (lb_vec_grow(&k->v, &k->cap, k->n, sizeof(*k->v), SIZE_MAX / sizeof(*k->v)) < 0)
		r = LB_E_NOMEM;
	else
		k->v[k->n++] = (struct kept){ id, ttl, lb_mono_now() + period(ttl) };
	pthread_mutex_unlock(&k->mu);
	return r;
}

static void *
keeper_run(void *arg)
{
	struct keeper *k = arg;
	struct lb_err e;
	int64_t ttl;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&k->mu);
		if (k->stop || k->failed) {
			pthread_mutex_unlock(&k->mu);
			return NULL;
		}
		for (i = 0; i < k->n; i++) {
			int64_t id;
			double now = lb_mono_now();
			if (k->v[i].due > now)
				continue;
			id = k->v[i].id;
			k->v[i].due = now + period(k->v[i].ttl);
			pthread_mutex_unlock(&k->mu);
			if (etcd_lease_keepalive(k->ec, id, &ttl, NULL, &e) < 0) {
				pthread_mutex_lock(&k->mu);
				k->failed = 1;
				k->err = e;
				lb_err_prefix(&k->err, "keeping lease %016llx alive: ",
				    (unsigned long long)id);
				pthread_mutex_unlock(&k->mu);
				return NULL;
			}
			pthread_mutex_lock(&k->mu);
		}
		pthread_mutex_unlock(&k->mu);
		usleep(100000);
	}
}

static int
keeper_failed(struct keeper *k, struct lb_err *err)
{
	int f;

	pthread_mutex_lock(&k->mu);
	if ((f = k->failed))
		*err = k->err;
	pthread_mutex_unlock(&k->mu);
	return f ? err->code : 0;
}

static void
keeper_stop(struct keeper *k)
{
	if (k->started) {
		pthread_mutex_lock(&k->mu);
		k->stop = 1;
		pthread_mutex_unlock(&k->mu);
		pthread_join(k->th, NULL);
		k->started = 0;
	}
	etcd_close(k->ec);
	k->ec = NULL;
	free(k->v);
	k->v = NULL;
	pthread_mutex_destroy(&k->mu);
}

/* ---- the replay ------------------------------------------------------------------- */

/* What overlapping segments are compared by: sha256 of every field of
 * every event of a revision, in order (wall times differ between two
 * captures and are left out), kept for the revisions a later segment may
 * repeat. */
#define HSZ 16

struct hashes {
	int64_t lo;                /* revision of v[0] */
	uint8_t (*v)[HSZ];
	size_t n, cap;
};

static void
rev_hash(const struct etcd_kv_event *ev, size_t n, uint8_t out[HSZ])
{
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	uint8_t d[32];
	unsigned dl = 0;
	size_t i;

	memset(out, 0, HSZ);
	if (x == NULL)
		return;
	EVP_DigestInit_ex(x, EVP_sha256(), NULL);
	for (i = 0; i < n; i++) {
		const struct etcd_kv_event *e = &ev[i];
		int64_t f[7] = { e->type, (int64_t)e->key_len, (int64_t)e->value_len,
		    e->create_revision, e->mod_revision, e->version, e->lease };
		EVP_DigestUpdate(x, f, sizeof(f));
		EVP_DigestUpdate(x, e->key, e->key_len);
		if (e->value_len > 0)
			EVP_DigestUpdate(x, e->value, e->value_len);
	}
	EVP_DigestFinal_ex(x, d, &dl);
	EVP_MD_CTX_free(x);
	memcpy(out, d, HSZ);
}

struct rp {
	const struct replay_opts *o;
	struct replay_result *res;
	struct etcd_client *ec;
	struct keeper *keep;
	struct lease_tab leases;
	struct hashes h;
	const struct replay_segment *seg;   /* being read */
	int64_t applied;           /* the last revision in the scratch member */
	int64_t floor;             /* revisions below it need no hash kept */
	double t_apply;
};

static int
hashes_push(struct hashes *h, int64_t rev, const uint8_t v[HSZ], int64_t floor)
{
	size_t drop;

	if (h->n == 0)
		h->lo = rev;
	/* forget what no later segment can repeat */
	if (floor > h->lo) {
		drop = (size_t)(floor - h->lo) < h->n ? (size_t)(floor - h->lo) : h->n;
		memmove(h->v, h->v + drop, (h->n - drop) * HSZ);
		h->n -= drop;
		h->lo = h->n == 0 ? rev : h->lo + (int64_t)drop;
	}
	if (lb_vec_grow(&h->v, &h->cap, h->n, HSZ, SIZE_MAX / HSZ) < 0)
		return LB_E_NOMEM;
	memcpy(h->v[h->n++], v, HSZ);
	return 0;
}

static int
on_header(void *arg, const struct evl_header *hd, struct lb_err *err)
{
	struct rp *p = arg;
	char id[17];

	if (strcmp(hd->cluster, p->o->cluster) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "the segment is of cluster %s, not %s",
		    hd->cluster, p->o->cluster);
	etcd_id_str(hd->cluster_id, id);
	if (p->o->cluster_id != NULL && hd->cluster_id != 0 &&
	    strcasecmp(id, p->o->cluster_id) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "the segment is of etcd cluster id %s, "
		    "the backup's is %s", id, p->o->cluster_id);
	if (hd->first_rev != p->seg->first_rev)
		return lb_err_set(err, LB_E_CORRUPT, "its header starts at revision %lld, "
		    "its record says %lld", (long long)hd->first_rev,
		    (long long)p->seg->first_rev);
	return 0;
}

static int
on_lease(void *arg, int64_t id, int64_t ttl, struct lb_err *err)
{
	struct rp *p = arg;
	struct lease_ent *l;

	if (id == 0)
		return 0;
	if ((l = lease_find(&p->leases, id, 1)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (ttl > 0 && l->ttl == 0)
		l->ttl = ttl;
	return 0;
}

/* The leases the events of one revision refer to, created where missing. */
static int
ensure_leases(struct rp *p, const struct etcd_kv_event *ev, size_t n, struct lb_err *err)
{
	struct lease_ent *l;
	int64_t ttl;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (ev[i].type != ETCD_EV_PUT || ev[i].lease == 0)
			continue;
		if ((l = lease_find(&p->leases, ev[i].lease, 1)) == NULL)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
		if (l->exists)
			continue;
		ttl = l->ttl > 0 ? l->ttl : REPLAY_UNKNOWN_TTL;
		r = etcd_lease_grant_id(p->ec, l->id, ttl, err);
		if (r < 0 && r != LB_E_EXISTS)
			return lb_err_prefix(err, "re-creating lease %016llx (TTL %lld s): ",
			    (unsigned long long)l->id, (long long)ttl);
		if (r == 0) {
			p->res->leases_created++;
			if (l->ttl <= 0)
				p->res->leases_default_ttl++;
			if ((r = keeper_add(p->keep, l->id, ttl)) < 0)
				return lb_err_set(err, r, "out of memory");
		}
		l->exists = 1;
	}
	return 0;
}

static int
on_revision(void *arg, int64_t rev, int64_t wall_ms, const struct etcd_kv_event *ev,
    size_t n, struct lb_err *err)
{
	struct rp *p = arg;
	const struct replay_opts *o = p->o;
	uint8_t h[HSZ];
	int64_t got = 0;
	double t0;
	int r;

	if (rev <= o->base_rev || rev > o->target_rev)
		return 0;          /* in the base already, or past the target: read only */
	rev_hash(ev, n, h);
	if (rev <= p->applied) {
		/* a second capture's copy: must be the same transaction */
		if (rev < p->h.lo || rev >= p->h.lo + (int64_t)p->h.n)
			return lb_err_set(err, LB_E_INTERNAL, "revision %lld: its hash was "
			    "not kept", (long long)rev);
		if (memcmp(p->h.v[rev - p->h.lo], h, HSZ) != 0)
			return lb_err_set(err, LB_E_CORRUPT, "revision %lld differs from the "
			    "copy in an earlier segment: two captures recorded two "
			    "histories; replay stopped", (long long)rev);
		p->res->overlap++;
		return 0;
	}
	if (rev != p->applied + 1)
		return lb_err_set(err, LB_E_CORRUPT, "revision %lld is missing from the "
		    "event log (the next one read is %lld); replay stopped at %lld",
		    (long long)(p->applied + 1), (long long)rev, (long long)p->applied);
	if ((r = keeper_failed(p->keep, err)) < 0)
		return r;
	if (o->cancel != NULL && *o->cancel)
		return lb_err_set(err, LB_E_CANCELED, "replay interrupted at revision %lld",
		    (long long)p->applied);
	if ((r = ensure_leases(p, ev, n, err)) < 0)
		return r;
	t0 = lb_mono_now();
	if ((r = etcd_txn_apply(p->ec, ev, n, &got, err)) < 0)
		return lb_err_prefix(err, "applying revision %lld (%zu event%s): ",
		    (long long)rev, n, n == 1 ? "" : "s");
	p->t_apply += lb_mono_now() - t0;
	if (got != rev)
		return lb_err_set(err, LB_E_CORRUPT, "revision %lld of the source came out "
		    "as revision %lld in the scratch member: its state differs from the "
		    "source's; replay stopped", (long long)rev, (long long)got);
	if ((r = hashes_push(&p->h, rev, h, p->floor)) < 0)
		return lb_err_set(err, r, "out of memory");
	p->applied = rev;
	p->res->last_rev = rev;
	p->res->last_time_ms = wall_ms;
	p->res->revisions++;
	p->res->events += n;
	return 0;
}

/* ---- the scratch member -------------------------------------------------------- */

/* Waits until the member answers Status with a leader, up to 60 s. */
static int
wait_up(struct restore_member *m, const struct etcd_opts *eo,
    const volatile sig_atomic_t *cancel, struct lb_err *err)
{
	double deadline = lb_mono_now() + 60.0;
	struct etcd_status st;
	struct etcd_client *ec;
	struct lb_err e;
	int r;

	for (;;) {
		if ((r = restore_exited(m, err)) < 0)
			return r;
		ec = NULL;
		lb_err_clear(&e);
		if (etcd_open(m->client_url, eo, &ec, &e) == 0 &&
		    etcd_status(ec, &st, &e) == 0 && st.leader != 0) {
			etcd_close(ec);
			return 0;
		}
		etcd_close(ec);
		if (e.code == LB_E_AUTH) {
			*err = e;
			return lb_err_prefix(err, "the scratch member: ");
		}
		if ((cancel != NULL && *cancel) || lb_mono_now() > deadline) {
			*err = e;
			return lb_err_prefix(err, "the scratch member did not come up: ");
		}
		usleep(50000);
	}
}

/* The base's leases: kept alive from the start (after a restore etcd
 * gives each its full TTL again, and one expiring mid-replay would
 * delete its keys). */
static int
keep_base_leases(struct rp *p, struct lb_err *err)
{
	int64_t *ids = NULL, granted, left;
	struct lease_ent *l;
	size_t n = 0, i;
	int r;

	if ((r = etcd_lease_list(p->ec, &ids, &n, err)) < 0)
		return lb_err_prefix(err, "listing the base's leases: ");
	for (i = 0; i < n; i++) {
		if ((r = etcd_lease_ttl(p->ec, ids[i], &granted, &left, err)) < 0) {
			if (r == LB_E_NOTFOUND)
				continue;
			goto out;
		}
		if ((l = lease_find(&p->leases, ids[i], 1)) == NULL ||
		    keeper_add(p->keep, ids[i], granted > 0 ? granted : 1) < 0) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		l->exists = 1;
		if (l->ttl == 0)
			l->ttl = granted;
		p->res->leases_base++;
	}
	r = 0;
out:
	free(ids);
	return r;
}

static int
take_snapshot(struct etcd_client *ec, const char *path, struct lb_err *err)
{
	struct flt_chain *c = NULL;
	struct flt *head = NULL, *t;
	struct etcd_snapshot_info info;
	int r;

	if ((r = flt_chain_new(&c, err)) < 0)
		return r;
	if ((r = flt_chain_add(c, flt_etcd_trailer_new(NULL), NULL, err)) < 0 ||
	    (r = flt_file_new(path, 0600, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0)
		goto out;
	r = flt_chain_build(c, &head, err);
	c = NULL;
	if (r < 0)
		goto out;
	if ((r = etcd_snapshot(ec, head, &info, err)) == 0)
		r = flt_finish(head, err);
out:
	if (r < 0)
		lb_err_prefix(err, "snapshot of the scratch member: ");
	flt_free(head);
	flt_chain_free(c);
	return r;
}

int
replay_run(const struct replay_opts *o, struct replay_result *res, struct lb_err *err)
{
	struct restore_member m = { 0 };
	struct restore_etcd_opts eo = { 0 };
	struct keeper keep = { 0 };
	struct rp p = { 0 };
	struct evl_parse_cb cb = { 0 };
	struct etcd_opts co = { 0 };
	char data[4300], logp[4400], conf[4500], peer[64], client[64], ic[128];
	double t0 = lb_mono_now();
	int pp = 0, cp = 0, r, major = 0, minor = 0;
	size_t i;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->last_rev = o->base_rev;
	res->last_time_ms = -1;
	pthread_mutex_init(&keep.mu, NULL);
	if (o->target_rev < o->base_rev)
		return lb_err_set(err, LB_E_USAGE, "target revision %lld is below the base's "
		    "%lld", (long long)o->target_rev, (long long)o->base_rev);
	snprintf(data, sizeof(data), "%s/replay.etcd", o->work_dir);
	if ((r = restore_pick_ports(&pp, &cp, err)) < 0)
		goto out;
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", pp);
	snprintf(client, sizeof(client), "http://127.0.0.1:%d", cp);
	snprintf(ic, sizeof(ic), MEMBER "=%s", peer);
	m.name = MEMBER;
	m.peer_url = peer;
	m.client_url = client;
	m.data_dir = data;
	/* the base restored the normal way, into the work dir */
	snprintf(logp, sizeof(logp), "%s/replay.restore.log", o->work_dir);
	if ((r = restore_tool_spawn(o->tool, o->base_snapshot, &m, ic, "lifeboat-replay", 0,
	    logp, &pid, err)) < 0 ||
	    (r = restore_wait(pid, "snapshot restore of the replay's base", logp, err)) < 0)
		goto out;
	m.created = 1;
	if ((r = restore_etcd_version(o->etcd_bin != NULL ? o->etcd_bin : "etcd",
	    res->etcd_version, sizeof(res->etcd_version), err)) < 0)
		goto out;
	/* nothing else writes here, and the result is a snapshot taken at
	 * the end: fsync buys nothing (etcd 3.5+ has the flag) */
	restore_version_minor(res->etcd_version, &major, &minor);
	eo.etcd_bin = o->etcd_bin;
	eo.token = "lifeboat-replay";
	eo.state = "new";
	eo.unsafe_no_fsync = res->fsync_off = major > 3 || (major == 3 && minor >= 5);
	eo.max_request_bytes = REPLAY_MAX_REQUEST_BYTES;
	eo.max_txn_ops = REPLAY_MAX_TXN_OPS;
	eo.quota_backend_bytes = 8LL * 1024 * 1024 * 1024;
	if ((r = restore_write_config(&eo, &m, ic, conf, sizeof(conf), err)) < 0 ||
	    (r = restore_etcd_start(&eo, &m, conf, err)) < 0)
		goto out;
	log_info("replay: scratch etcd %s (pid %ld) on %s, base revision %lld, target %lld%s",
	    res->etcd_version, (long)m.pid, client, (long long)o->base_rev,
	    (long long)o->target_rev, res->fsync_off ? ", fsync off" : "");
	if (o->auth != NULL)
		co = *o->auth;
	co.connect_timeout_s = 5;
	co.stall_timeout_s = 60;
	co.cancel = o->cancel;
	if ((r = wait_up(&m, &co, o->cancel, err)) < 0 ||
	    (r = etcd_open(client, &co, &p.ec, err)) < 0 ||
	    (r = etcd_open(client, &co, &keep.ec, err)) < 0)
		goto out;
	p.o = o;
	p.res = res;
	p.keep = &keep;
	p.applied = o->base_rev;
	if ((r = keep_base_leases(&p, err)) < 0)
		goto out;
	if (pthread_create(&keep.th, NULL, keeper_run, &keep) != 0) {
		r = lb_err_set(err, LB_E_NOMEM, "cannot start a thread");
		goto out;
	}
	keep.started = 1;
	cb.on_header = on_header;
	cb.on_revision = on_revision;
	cb.on_lease = on_lease;
	cb.arg = &p;
	for (i = 0; i < o->segs->n && p.applied < o->target_rev; i++) {
		const struct replay_segment *g = &o->segs->v[i];
		if (g->last_rev <= o->base_rev)
			continue;
		if (g->first_rev > p.applied + 1) {
			r = lb_err_set(err, LB_E_CORRUPT, "revision %lld is missing from the "
			    "event log: the next segment, %s, starts at %lld",
			    (long long)(p.applied + 1), g->object, (long long)g->first_rev);
			goto out;
		}
		/* the next segments start at or after this one: hashes below
		 * its first revision are never asked for again */
		p.floor = g->first_rev;
		p.seg = g;
		if ((r = read_segment(o->repo, o->id, g, &cb, err)) < 0)
			goto out;
		res->segments_read++;
		log_info("replay: %s applied, at revision %lld", g->object,
		    (long long)p.applied);
	}
	/* later segments overlapping what was applied are compared too */
	for (; i < o->segs->n; i++) {
		const struct replay_segment *g = &o->segs->v[i];
		if (g->first_rev > o->target_rev || g->last_rev <= o->base_rev)
			continue;
		p.floor = g->first_rev;
		p.seg = g;
		if ((r = read_segment(o->repo, o->id, g, &cb, err)) < 0)
			goto out;
		res->segments_read++;
	}
	if (p.applied < o->target_rev) {
		r = lb_err_set(err, LB_E_NOTFOUND, "revision %lld is not in the event log: "
		    "the last captured revision after %lld is %lld", (long long)(p.applied + 1),
		    (long long)o->base_rev, (long long)p.applied);
		goto out;
	}
	if ((r = keeper_failed(&keep, err)) < 0)
		goto out;
	res->apply_seconds = p.t_apply;
	/* the snapshot first: a compaction for the hash must not reach it */
	if (o->out_snapshot != NULL && (r = take_snapshot(p.ec, o->out_snapshot, err)) < 0)
		goto out;
	if (o->compact_rev > 0 && (r = etcd_admin_compact(p.ec, o->compact_rev, err)) < 0) {
		lb_err_prefix(err, "compacting the scratch member at %lld: ",
		    (long long)o->compact_rev);
		goto out;
	}
	if ((r = etcd_hashkv(p.ec, o->target_rev, &res->hashkv, &res->compact_rev, NULL,
	    err)) < 0) {
		lb_err_prefix(err, "HashKV of the scratch member: ");
		goto out;
	}
	r = 0;
out:
	keeper_stop(&keep);
	etcd_close(p.ec);
	free(p.leases.v);
	free(p.h.v);
	restore_etcd_stop(&m);
	/* the scratch member's files hold the cluster's plaintext */
	if (restore_wipe(data) < 0)
		log_warn("replay: cannot remove %s: %s", data, strerror(errno));
	snprintf(logp, sizeof(logp), "%s.conf.yml", data);
	unlink(logp);
	snprintf(logp, sizeof(logp), "%s.pid", data);
	unlink(logp);
	if (r < 0 && o->out_snapshot != NULL)
		unlink(o->out_snapshot);
	res->seconds = lb_mono_now() - t0;
	if (r == 0)
		log_info("replay: %llu revisions, %llu events from %zu segments in %.2fs "
		    "(%.0f revisions/s applied); HashKV %08x at %lld",
		    (unsigned long long)res->revisions, (unsigned long long)res->events,
		    res->segments_read, res->seconds, res->apply_seconds > 0 ?
		    (double)res->revisions / res->apply_seconds : 0.0, res->hashkv,
		    (long long)o->target_rev);
	return r;
}
