/*
 * evlogcap.c: a small capture for the replay tests, independent of the
 * daemon: a real etcd watch (etcd_watch) written into event-log segments
 * (evlog/segment.h) on a repository.  Not installed.
 *
 *   evlogcap capture ETCD_URL REPO_URL RECIPIENT CLUSTER START UNTIL SEGREVS [CATALOG]
 *       watches from START until revision UNTIL was delivered (UNTIL
 *       "@FILE": the revision written into FILE, read once a second; 120 s
 *       at most), a segment put every SEGREVS revisions and the last one
 *       at UNTIL, closed at the time of the put; a LEASE record (TTL from
 *       LeaseTimeToLive, 0 when gone) before the first revision that
 *       refers to each lease.  With CATALOG each segment is recorded
 *       there.  Prints "segment FIRST LAST OBJECT" per segment.
 *   evlogcap tamper REPO_URL IDENTITY_FILE RECIPIENT OBJECT KEY [CATALOG]
 *       rewrites segment OBJECT with the value of KEY's first PUT in it
 *       changed (one byte flipped; exit 1 when it has none), as a well-formed segment with the same revisions,
 *       times and name, encrypted again, its manifest (and catalog row)
 *       replaced: only a replay's comparison can tell.
 * Exits 1 with the error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "etcd/etcd.h"
#include "etcd/etcd_watch.h"
#include "evlog/segment.h"
#include "repo/repo.h"
#include "stream/age.h"

struct cap {
	struct repo *repo;
	struct cat *cat;
	struct etcd_client *side;
	struct age_recipient *rcpt;
	const char *cluster;
	uint64_t cluster_id;
	struct evl_segment *seg;
	uint8_t prev[32];
	int has_prev;
	int64_t until, segrevs, last;
	const char *until_file;
	int done;
	int64_t *leases;
	size_t n_leases;
	double deadline;
};

static int
record(struct cat *cat, const struct evl_meta *m, struct lb_err *err)
{
	struct cat_segment s = { 0 };
	char id[17];

	if (cat == NULL)
		return 0;
	etcd_id_str(m->cluster_id, id);
	s.cluster = m->cluster;
	s.cluster_id = id;
	s.first_rev = m->first_rev;
	s.last_rev = m->last_rev;
	s.first_time_ms = m->first_time_ms;
	s.last_time_ms = m->last_time_ms;
	s.revisions = (int64_t)m->revisions;
	s.events = (int64_t)m->events;
	s.object = m->object;
	s.stored_size = (int64_t)m->stored_size;
	s.stored_sha256 = m->stored_sha256;
	s.prev_sha256 = m->prev_sha256;
	s.signer = m->signer;
	return cat_segment_add(cat, &s, NULL, err);
}

static int
put(struct cap *c, struct lb_err *err)
{
	struct evl_meta *m = NULL;
	int r;

	if ((r = evl_segment_put(c->seg, c->repo, NULL, lb_wall_ms(), &m, err)) < 0)
		return r;
	if ((r = evl_segment_stored_sha256(c->seg, c->prev)) == 0)
		c->has_prev = 1;
	printf("segment %lld %lld %s\n", (long long)m->first_rev, (long long)m->last_rev,
	    m->object);
	fflush(stdout);
	r = record(c->cat, m, err);
	evl_meta_free(m);
	evl_segment_free(c->seg);
	c->seg = NULL;
	return r;
}

static int
on_rev(void *arg, int64_t rev, const struct etcd_kv_event *ev, size_t n,
    struct lb_err *err)
{
	struct cap *c = arg;
	size_t i, j;
	int r;

	if (c->done)
		return 0;
	if (c->seg == NULL) {
		struct evl_segment_opts o = { 0 };
		o.cluster = c->cluster;
		o.cluster_id = c->cluster_id;
		o.first_rev = rev;
		o.prev_sha256 = c->has_prev ? c->prev : NULL;
		o.rcpts = &c->rcpt;
		o.n_rcpts = 1;
		if ((r = evl_segment_open(&o, &c->seg, err)) < 0)
			return r;
	}
	for (i = 0; i < n; i++) {
		int64_t granted = 0, left = 0;
		struct lb_err e;
		if (ev[i].lease == 0)
			continue;
		for (j = 0; j < c->n_leases && c->leases[j] != ev[i].lease; j++)
			;
		if (j < c->n_leases)
			continue;
		if ((c->leases = realloc(c->leases, (c->n_leases + 1) * sizeof(*c->leases))) == NULL)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
		c->leases[c->n_leases++] = ev[i].lease;
		if (etcd_lease_ttl(c->side, ev[i].lease, &granted, &left, &e) < 0)
			granted = 0;
		if ((r = evl_segment_lease(c->seg, ev[i].lease, granted, err)) < 0)
			return r;
	}
	if ((r = evl_segment_revision(c->seg, rev, lb_wall_ms(), ev, n, err)) < 0)
		return r;
	c->last = rev;
	if (c->until > 0 && rev >= c->until) {
		c->done = 1;
		return put(c, err);
	}
	if ((int64_t)evl_segment_revisions(c->seg) >= c->segrevs)
		return put(c, err);
	return 0;
}

static int
on_tick(void *arg, struct lb_err *err)
{
	struct cap *c = arg;

	if (c->done)
		return 1;
	if (c->until_file != NULL && c->until <= 0) {
		FILE *fp = fopen(c->until_file, "r");
		long long v = 0;
		if (fp != NULL) {
			if (fscanf(fp, "%lld", &v) == 1)
				c->until = v;
			fclose(fp);
		}
	}
	if (c->until > 0 && c->last >= c->until) {
		c->done = 1;
		return c->seg != NULL && put(c, err) < 0 ? err->code : 1;
	}
	if (lb_mono_now() > c->deadline)
		return lb_err_set(err, LB_E_NET, "revision %lld not delivered in time",
		    (long long)c->until);
	return 0;
}

static int
capture(int argc, char **argv, struct lb_err *err)
{
	struct repo_opts ro = { 0 };
	struct etcd_opts eo = { 0 };
	struct etcd_watch_cb cb = { 0 };
	struct etcd_client *ec = NULL;
	struct cap c = { 0 };
	int64_t compact = 0;
	int r;

	if (argc < 9)
		return lb_err_set(err, LB_E_USAGE, "capture: too few arguments");
	ro.url = argv[3];
	c.cluster = argv[5];
	if (argv[7][0] == '@')
		c.until_file = argv[7] + 1;
	else
		c.until = atoll(argv[7]);
	c.segrevs = atoll(argv[8]);
	c.deadline = lb_mono_now() + 120;
	eo.connect_timeout_s = 5;
	if ((r = repo_open(&ro, &c.repo, err)) < 0 ||
	    (r = age_recipient_parse(argv[4], &c.rcpt, err)) < 0 ||
	    (argc > 9 && (r = cat_open(argv[9], 0, &c.cat, err)) < 0) ||
	    (r = etcd_open(argv[2], &eo, &ec, err)) < 0 ||
	    (r = etcd_open(argv[2], &eo, &c.side, err)) < 0)
		goto out;
	{
		struct etcd_status st;
		if ((r = etcd_status(c.side, &st, err)) < 0)
			goto out;
		c.cluster_id = st.cluster_id;
	}
	cb.on_revision = on_rev;
	cb.on_tick = on_tick;
	cb.arg = &c;
	r = etcd_watch(ec, atoll(argv[6]), &cb, &compact, err);
out:
	evl_segment_free(c.seg);
	etcd_close(ec);
	etcd_close(c.side);
	cat_close(c.cat);
	age_recipient_free(c.rcpt);
	repo_close(c.repo);
	free(c.leases);
	return r;
}

/* ---- tamper ---------------------------------------------------------------- */

struct tam {
	struct evl_segment_opts o;
	struct evl_segment *seg;
	int flipped;
	const char *key;
	int64_t last_time;
	struct age_recipient *rcpt;
};

static int
t_header(void *arg, const struct evl_header *h, struct lb_err *err)
{
	struct tam *t = arg;

	t->o.cluster = strdup(h->cluster);
	t->o.cluster_id = h->cluster_id;
	t->o.first_rev = h->first_rev;
	t->o.created_ms = h->created_ms;
	if (h->has_prev) {
		uint8_t *p = malloc(32);
		memcpy(p, h->prev_sha256, 32);
		t->o.prev_sha256 = p;
	}
	t->o.rcpts = &t->rcpt;
	t->o.n_rcpts = 1;
	return evl_segment_open(&t->o, &t->seg, err);
}

static int
t_rev(void *arg, int64_t rev, int64_t wall_ms, const struct etcd_kv_event *ev, size_t n,
    struct lb_err *err)
{
	struct tam *t = arg;
	struct etcd_kv_event *cp = malloc(n * sizeof(*cp));
	uint8_t *val = NULL;
	size_t i;
	int r;

	memcpy(cp, ev, n * sizeof(*cp));
	for (i = 0; i < n && !t->flipped; i++)
		if (cp[i].type == ETCD_EV_PUT && cp[i].value_len > 0 &&
		    cp[i].key_len == strlen(t->key) && memcmp(cp[i].key, t->key, cp[i].key_len) == 0) {
			val = malloc(cp[i].value_len);
			memcpy(val, cp[i].value, cp[i].value_len);
			val[0] ^= 0x01;
			cp[i].value = val;
			t->flipped = 1;
		}
	r = evl_segment_revision(t->seg, rev, wall_ms, cp, n, err);
	free(val);
	free(cp);
	return r;
}

static int
t_lease(void *arg, int64_t id, int64_t ttl, struct lb_err *err)
{
	return evl_segment_lease(((struct tam *)arg)->seg, id, ttl, err);
}

static int
t_footer(void *arg, const struct evl_footer *f, struct lb_err *err)
{
	(void)err;
	((struct tam *)arg)->last_time = f->last_time_ms;
	return 0;
}

static int
tamper(int argc, char **argv, struct lb_err *err)
{
	struct repo_opts ro = { 0 };
	struct repo *repo = NULL;
	struct age_identity *id = NULL;
	struct evl_parse_cb cb = { 0 };
	struct evl_meta *m = NULL;
	struct cat *cat = NULL;
	struct tam t = { 0 };
	int r;

	if (argc < 7)
		return lb_err_set(err, LB_E_USAGE, "tamper: too few arguments");
	ro.url = argv[2];
	t.key = argv[6];
	cb.on_header = t_header;
	cb.on_revision = t_rev;
	cb.on_lease = t_lease;
	cb.on_footer = t_footer;
	cb.arg = &t;
	if ((r = repo_open(&ro, &repo, err)) < 0 ||
	    (r = age_identity_load(argv[3], &id, err)) < 0 ||
	    (r = age_recipient_parse(argv[4], &t.rcpt, err)) < 0 ||
	    (r = evl_segment_read(repo, argv[5], id, NULL, &cb, NULL, err)) < 0)
		goto out;
	if (!t.flipped) {
		r = lb_err_set(err, LB_E_NOTFOUND, "no put of %s in %s", argv[6], argv[5]);
		goto out;
	}
	if ((r = evl_segment_put(t.seg, repo, NULL, t.last_time, &m, err)) < 0)
		goto out;
	if (strcmp(m->object, argv[5]) != 0) {
		r = lb_err_set(err, LB_E_INTERNAL, "rewritten as %s, not %s", m->object, argv[5]);
		goto out;
	}
	if (argc > 7) {
		if ((r = cat_open(argv[7], 0, &cat, err)) < 0 ||
		    (r = cat_segment_delete(cat, argv[5], err)) < 0 ||
		    (r = record(cat, m, err)) < 0)
			goto out;
	}
	printf("tampered %s\n", m->object);
out:
	free((char *)t.o.cluster);
	free((void *)t.o.prev_sha256);
	cat_close(cat);
	evl_meta_free(m);
	evl_segment_free(t.seg);
	age_recipient_free(t.rcpt);
	age_identity_free(id);
	repo_close(repo);
	return r;
}

int
main(int argc, char **argv)
{
	struct lb_err err;
	int r;

	lb_err_clear(&err);
	if (argc > 1 && strcmp(argv[1], "capture") == 0)
		r = capture(argc, argv, &err);
	else if (argc > 1 && strcmp(argv[1], "tamper") == 0)
		r = tamper(argc, argv, &err);
	else {
		fprintf(stderr, "usage: evlogcap capture|tamper ...\n");
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "evlogcap: %s\n", err.msg);
		return 1;
	}
	return 0;
}
