/*
 * chain.c: the walk of a cluster's chain of manifests (ops.h,
 * ops_chain_check).  Each format 2 manifest carries its sequence and the
 * sha256 of the previous manifest (repo/manifest.h), so the catalog's
 * manifests, in sequence order, must count up by one and each must name
 * its predecessor's bytes.  A sequence missing is a gap; prune records
 * the sequence and manifest hash of what it deletes in its audit event,
 * which tells a gap it left from one nobody explains (a backup deleted
 * behind lifeboat's back, or one a rebuild refused).
 */
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "repo/manifest.h"

struct link {
	int64_t seq;
	char id[MANIFEST_ID_MAX + 1];
	char sha[65];
	char prev[65];             /* "" for none */
};

struct walk {
	const char *cluster;
	struct link *v;
	size_t n, cap;
	int64_t *pruned;           /* sequences prune deleted */
	size_t n_pruned, cap_pruned;
	char (*pruned_sha)[65];    /* their manifests' hashes, same order */
};

static int
collect_link(const struct cat_backup *b, void *arg)
{
	struct walk *w = arg;
	struct link *l;
	json_t *m;
	const char *prev;

	if (b->manifest == NULL)
		return 0;
	if (lb_vec_grow(&w->v, &w->cap, w->n, sizeof(*w->v), REPO_LIST_MAX) < 0)
		return LB_E_NOMEM;
	l = &w->v[w->n];
	memset(l, 0, sizeof(*l));
	m = json_loads(b->manifest, 0, NULL);
	l->seq = json_integer_value(json_object_get(m, "sequence"));
	prev = json_string_value(json_object_get(m, "previous_manifest_sha256"));
	snprintf(l->prev, sizeof(l->prev), "%s", prev != NULL ? prev : "");
	json_decref(m);
	if (l->seq <= 0)           /* format 1: before chains */
		return 0;
	snprintf(l->id, sizeof(l->id), "%s", b->id);
	manifest_sha256_hex(b->manifest, strlen(b->manifest), l->sha);
	w->n++;
	return 0;
}

static int
collect_pruned(const struct cat_audit_event *e, void *arg)
{
	struct walk *w = arg;
	json_t *d;
	int64_t seq;
	const char *sha;

	if (strcmp(e->action, "prune") != 0 || strcmp(e->outcome, "ok") != 0 ||
	    e->cluster == NULL || strcmp(e->cluster, w->cluster) != 0 || e->details == NULL)
		return 0;
	d = json_loads(e->details, 0, NULL);
	seq = json_integer_value(json_object_get(d, "sequence"));
	sha = json_string_value(json_object_get(d, "manifest_sha256"));
	if (seq > 0 && lb_vec_grow(&w->pruned, &w->cap_pruned, w->n_pruned,
	    sizeof(*w->pruned), REPO_LIST_MAX) == 0) {
		char (*ns)[65] = realloc(w->pruned_sha, w->cap_pruned * sizeof(*ns));
		if (ns != NULL) {
			w->pruned_sha = ns;
			snprintf(ns[w->n_pruned], 65, "%s", sha != NULL ? sha : "");
			w->pruned[w->n_pruned++] = seq;
		}
	}
	json_decref(d);
	return 0;
}

static int
link_cmp(const void *a, const void *b)
{
	const struct link *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The manifest hash prune recorded for seq, NULL if prune did not
 * delete it. */
static const char *
pruned(const struct walk *w, int64_t seq)
{
	for (size_t i = 0; i < w->n_pruned; i++)
		if (w->pruned[i] == seq)
			return w->pruned_sha[i];
	return NULL;
}

/* Reports the sequences from..to (inclusive) missing before `next`. */
static void
gap(struct walk *w, int64_t from, int64_t to, const struct link *next,
    struct ops_chain *out, ops_chain_cb cb, void *arg)
{
	char line[512];
	int64_t s, n_unexplained = 0, first = 0;

	for (s = from; s <= to; s++) {
		const char *sha = pruned(w, s);
		/* the one right before next must be the one next names */
		if (sha != NULL && (s != to || next == NULL || next->prev[0] == '\0' ||
		    sha[0] == '\0' || strcmp(sha, next->prev) == 0)) {
			out->pruned++;
			continue;
		}
		if (n_unexplained++ == 0)
			first = s;
	}
	if (n_unexplained == 0)
		return;
	out->unexplained += n_unexplained;
	snprintf(line, sizeof(line), "cluster %s: %lld backup%s missing from the chain "
	    "(sequence %lld%s%s%s) that prune did not delete: deleted outside lifeboat, "
	    "or refused as untrusted", w->cluster, (long long)n_unexplained,
	    n_unexplained == 1 ? "" : "s", (long long)first,
	    n_unexplained > 1 ? " and later" : "", next != NULL ? ", before " : "",
	    next != NULL ? next->id : "");
	cb(arg, line, 1);
}

int
ops_chain_check(struct lb_env *e, const char *cluster, struct ops_chain *out,
    ops_chain_cb cb, void *arg, struct lb_err *err)
{
	struct cat_filter f = { .cluster = cluster, .status = -1 };
	struct walk w = { .cluster = cluster };
	char line[512];
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = cat_backup_list(e->cat, &f, CAT_WITH_MANIFEST, collect_link, &w, err)) < 0 ||
	    (r = cat_audit_list(e->cat, 0, 0, collect_pruned, &w, err)) < 0) {
		if (r == LB_E_NOMEM && err->code == 0)
			lb_err_set(err, r, "out of memory");
		goto out;
	}
	if (w.n > 0)
		qsort(w.v, w.n, sizeof(w.v[0]), link_cmp);
	out->links = w.n;
	if (w.n > 0 && w.v[0].seq > 1)
		gap(&w, 1, w.v[0].seq - 1, &w.v[0], out, cb, arg);
	for (i = 1; i < w.n; i++) {
		const struct link *a = &w.v[i - 1], *b = &w.v[i];

		if (b->seq == a->seq) {
			out->forks++;
			snprintf(line, sizeof(line), "cluster %s: backups %s and %s both have "
			    "sequence %lld (two appliances writing one cluster without a shared "
			    "lock, or one planted)", cluster, a->id, b->id, (long long)b->seq);
			cb(arg, line, 1);
		} else if (b->seq > a->seq + 1) {
			gap(&w, a->seq + 1, b->seq - 1, b, out, cb, arg);
		} else if (strcmp(b->prev, a->sha) != 0) {
			out->broken++;
			snprintf(line, sizeof(line), "cluster %s: backup %s (sequence %lld) does "
			    "not name the manifest of %s before it: that manifest was replaced",
			    cluster, b->id, (long long)b->seq, a->id);
			cb(arg, line, 1);
		}
	}
	if (w.n > 0) {
		snprintf(line, sizeof(line), "cluster %s: chain of %zu backups, sequence %lld "
		    "to %lld; %lld gap%s left by prune, %lld unexplained", cluster, w.n,
		    (long long)w.v[0].seq, (long long)w.v[w.n - 1].seq,
		    (long long)out->pruned, out->pruned == 1 ? "" : "s",
		    (long long)out->unexplained);
		cb(arg, line, 0);
	}
out:
	free(w.v);
	free(w.pruned);
	free(w.pruned_sha);
	return r;
}
