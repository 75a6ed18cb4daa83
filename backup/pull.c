/*
 * pull.c: member discovery and the parallel pull of every member (pull.h).
 */
#include "backup/pull.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "snapshot/trailer.h"

int
pull_plan_discover(char *const *endpoints, size_t n_endpoints,
    const struct etcd_opts *o, struct pull_plan **out, struct lb_err *err)
{
	struct etcd_members *ms = NULL;
	struct etcd_client *c = NULL;
	struct etcd_status st;
	struct pull_plan *p = NULL;
	struct lb_err e, best;
	size_t i;
	int r = LB_E_USAGE, tls;

	*out = NULL;
	if (n_endpoints == 0)
		return lb_err_set(err, LB_E_USAGE, "no etcd endpoints given");
	/* The members are reached the way the configuration reaches the
	 * cluster: never over plain http when it says TLS. */
	if ((tls = etcd_endpoints_tls((const char *const *)endpoints, n_endpoints,
	    o != NULL && (o->cacert != NULL || o->cert != NULL || o->key != NULL),
	    err)) < 0)
		return tls;
	lb_err_clear(&best);
	for (i = 0; i < n_endpoints; i++) {
		lb_err_clear(&e);
		if ((r = etcd_open(endpoints[i], o, &c, &e)) == 0 &&
		    (r = etcd_member_list(c, &ms, &e)) == 0)
			break;
		lb_err_prefix(&e, "etcd %s: ", endpoints[i]);
		log_debug("member list: %s", e.msg);
		/* A down member may be followed by one that answers; what is
		 * reported if none does is the first error a person must act
		 * on (a wrong password, TLS), not a down member's refusal. */
		if (best.code == 0 || (best.code == LB_E_NET && e.code != LB_E_NET) ||
		    r == LB_E_CANCELED)
			best = e;
		etcd_close(c);
		c = NULL;
		if (r == LB_E_CANCELED)
			break;
	}
	if (ms == NULL) {
		*err = best;
		r = best.code != 0 ? best.code : LB_E_INTERNAL;
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->t = calloc(ms->n, sizeof(*p->t))) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	p->cluster_id = ms->cluster_id;
	if (etcd_status(c, &st, err) == 0)
		p->leader = st.leader;
	for (i = 0; i < ms->n; i++) {
		const struct etcd_member *m = &ms->v[i];
		struct pull_target *t = &p->t[p->n++];
		const char *url;

		t->id = m->id;
		etcd_id_str(m->id, t->id_hex);
		t->is_learner = m->is_learner;
		t->is_leader = m->id == p->leader;
		t->name = strdup(m->name[0] != '\0' ? m->name : t->id_hex);
		/* No URL that fits: this member fails with t->err, the others
		 * are still pulled. */
		url = etcd_member_url(m, tls, &t->err);
		t->endpoint = url != NULL ? strdup(url) : NULL;
		if (t->name == NULL || (url != NULL && t->endpoint == NULL)) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	pull_plan_free(p);
	etcd_members_free(ms);
	etcd_close(c);
	return r;
}

void
pull_plan_free(struct pull_plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->t[i].name);
		free(p->t[i].endpoint);
	}
	free(p->t);
	free(p);
}

struct run_ctx {
	struct pull_plan *plan;
	const struct etcd_opts *opts;
	const struct pull_hooks *hooks;
	pthread_mutex_t lock;
	size_t next;
	size_t ok;
};

static void
pull_one(struct run_ctx *ctx, size_t i)
{
	struct pull_target *t = &ctx->plan->t[i];
	struct etcd_snapshot_info info;
	struct etcd_client *c = NULL;
	struct flt_chain *b = NULL;
	struct flt *head = NULL, *trailer;
	int r;

	clock_gettime(CLOCK_REALTIME, &t->started);
	if (t->endpoint == NULL) {
		/* discovery said why */
		r = t->err.code != 0 ? t->err.code : lb_err_set(&t->err, LB_E_NOTFOUND,
		    "member has no client URL");
		goto out;
	}
	lb_err_clear(&t->err);
	if ((r = etcd_open(t->endpoint, ctx->opts, &c, &t->err)) < 0 ||
	    (r = etcd_status(c, &t->status, &t->err)) < 0)
		goto out;
	if ((r = flt_chain_new(&b, &t->err)) < 0 ||
	    (r = flt_chain_add(b, flt_etcd_trailer_new(NULL), &trailer, &t->err)) < 0 ||
	    (r = ctx->hooks->make_chain(ctx->hooks->arg, i, t, b, &t->err)) < 0)
		goto out;
	r = flt_chain_build(b, &head, &t->err);
	b = NULL;
	if (r < 0)
		goto out;
	if ((r = etcd_snapshot(c, head, &info, &t->err)) < 0)
		goto out;
	t->bytes = info.bytes;
	if ((r = flt_finish(head, &t->err)) < 0)
		goto out;
	t->db_size = flt_etcd_trailer_db_size(trailer);
	flt_etcd_trailer_hash(trailer, t->etcd_sha256);
	if (ctx->hooks->finished != NULL &&
	    (r = ctx->hooks->finished(ctx->hooks->arg, i, t, &t->err)) < 0)
		goto out;
out:
	flt_chain_free(b);
	flt_free(head);
	etcd_close(c);
	clock_gettime(CLOCK_REALTIME, &t->finished);
	t->rc = r;
	if (r < 0 && t->endpoint != NULL)
		lb_err_prefix(&t->err, "etcd %s (%s): ", t->name, t->endpoint);
	else if (r < 0)
		lb_err_prefix(&t->err, "etcd %s: ", t->name);
}

static void *
pull_worker(void *arg)
{
	struct run_ctx *ctx = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&ctx->lock);
		i = ctx->next++;
		pthread_mutex_unlock(&ctx->lock);
		if (i >= ctx->plan->n)
			break;
		pull_one(ctx, i);
		if (ctx->plan->t[i].rc == 0) {
			pthread_mutex_lock(&ctx->lock);
			ctx->ok++;
			pthread_mutex_unlock(&ctx->lock);
		}
	}
	return NULL;
}

size_t
pull_run(struct pull_plan *p, const struct etcd_opts *o, int parallel,
    const struct pull_hooks *h)
{
	struct run_ctx ctx;
	pthread_t th[16];
	size_t i, n_threads;

	memset(&ctx, 0, sizeof(ctx));
	ctx.plan = p;
	ctx.opts = o;
	ctx.hooks = h;
	pthread_mutex_init(&ctx.lock, NULL);
	n_threads = parallel < 1 ? 1 : (size_t)parallel;
	if (n_threads > p->n)
		n_threads = p->n;
	if (n_threads > sizeof(th) / sizeof(th[0]))
		n_threads = sizeof(th) / sizeof(th[0]);
	/* One member at a time needs no thread of its own. */
	if (n_threads <= 1) {
		pull_worker(&ctx);
	} else {
		for (i = 0; i < n_threads; i++)
			if (pthread_create(&th[i], NULL, pull_worker, &ctx) != 0)
				break;
		n_threads = i;
		if (n_threads == 0)
			pull_worker(&ctx);
		for (i = 0; i < n_threads; i++)
			pthread_join(th[i], NULL);
	}
	pthread_mutex_destroy(&ctx.lock);
	return ctx.ok;
}

void
pull_safe_name(const char *name, char *out, size_t cap)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < cap; i++) {
		char ch = name[i];
		out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    (ch == '.' && i > 0) ? ch : '_';
	}
	out[i] = '\0';
}

/* A file per member in out_dir: what `lifeboat pull` stores. */
struct pull_files {
	const char *out_dir;
};

static int
pull_file_chain(void *arg, size_t i, struct pull_target *t, struct flt_chain *c,
    struct lb_err *err)
{
	const struct pull_files *pf = arg;
	char name[128], path[4096];
	struct flt *f;
	int r;

	(void)i;
	pull_safe_name(t->name, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s.db", pf->out_dir, name);
	if ((r = flt_file_new(path, 0600, &f, err)) < 0)
		return r;
	return flt_chain_add(c, f, NULL, err);
}

size_t
pull_to_files(struct pull_plan *p, const struct etcd_opts *o, int parallel,
    const char *out_dir)
{
	struct pull_files pf = { out_dir };
	struct pull_hooks hooks;

	hooks.make_chain = pull_file_chain;
	hooks.finished = NULL;
	hooks.arg = &pf;
	return pull_run(p, o, parallel, &hooks);
}
