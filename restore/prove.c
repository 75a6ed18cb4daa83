/*
 * prove.c: the A -> B proof of point-in-time recovery (replay.h,
 * replay_prove).  For two consecutive complete backups A and B of a
 * cluster whose revisions the event log covers without a gap, A's
 * snapshot replayed to B's snapshot revision must hold exactly B's keys.
 *
 * What is compared, and why not only B's recorded HashKV: etcd's HashKV
 * at a revision covers every stored revision of every key since the last
 * compaction, so it depends on where the store was compacted.  The
 * scratch member keeps A's compaction; the source may have compacted
 * between A and B.  So the proof is the live keys and values
 * (snapshot/livehash.h, computed the same way on both files: each key's
 * latest revision, key and value bytes, create and mod revision,
 * version, lease) of the replayed snapshot against B's own snapshot,
 * fetched and verified; and where B recorded HashKV at its snapshot
 * revision and B's snapshot was compacted at the revision the scratch
 * member was, the scratch member's HashKV must equal B's record too.
 */
#include "restore/replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "common/buf.h"
#include "common/cancel.h"
#include "common/log.h"
#include "repo/repo.h"
#include "snapshot/bbolt.h"
#include "snapshot/livehash.h"

struct backups {
	char **id;
	int64_t *rev;
	size_t n, cap, cap2;
};

static int
take(const struct cat_backup *b, void *arg)
{
	struct backups *l = arg;

	if (lb_vec_grow(&l->id, &l->cap, l->n, sizeof(*l->id), REPO_LIST_MAX) < 0 ||
	    lb_vec_grow(&l->rev, &l->cap2, l->n, sizeof(*l->rev), REPO_LIST_MAX) < 0 ||
	    (l->id[l->n] = strdup(b->id)) == NULL)
		return LB_E_NOMEM;
	l->rev[l->n++] = b->revision;
	return 0;
}

static int
open_backup(const struct replay_proof_opts *o, const char *id,
    struct restore_source **out, struct lb_err *err)
{
	struct restore_source_opts so = { 0 };
	struct restore_select sel = { 0 };

	so.cfg = o->cfg;
	so.identity_path = o->identity_path;
	so.catalog_path = o->catalog_path;
	so.need_identity = 1;
	so.skip_signature = o->skip_signature;
	sel.cluster = o->cluster;
	sel.backup_id = id;
	return restore_source_open(&so, &sel, out, err);
}

/* Records the outcome: each segment read, and an audit event. */
static void
record(struct restore_source *b, const struct replay_segments *segs,
    const struct replay_proof *p)
{
	struct cat *cat = restore_source_catalog(b);
	struct lb_err e;
	json_t *d;
	char *js = NULL;
	size_t i;

	for (i = 0; cat != NULL && i < segs->n; i++) {
		const struct replay_segment *g = &segs->v[i];
		char detail[700];
		if (g->last_rev <= p->a_rev || g->first_rev > p->b_rev)
			continue;
		snprintf(detail, sizeof(detail), "replay %s -> %s: %s", p->a_id, p->b_id,
		    p->detail);
		if (cat_segment_verified(cat, g->object, p->ok, detail, &e) < 0)
			log_warn("segment %s: not recorded: %s", g->object, e.msg);
	}
	d = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:s}", "check", "replay", "from",
	    p->a_id, "to", p->b_id, "from_revision", (json_int_t)p->a_rev, "to_revision",
	    (json_int_t)p->b_rev, "revisions", (json_int_t)p->revisions, "hashkv_compared",
	    p->hashkv_compared, "detail", p->detail);
	if (d != NULL && (js = json_dumps(d, JSON_COMPACT)) != NULL)
		restore_source_audit_action(b, "pitr", p->ok ? "ok" : "failed", js);
	free(js);
	json_decref(d);
}

/* One pair: 0 when proved, LB_E_CORRUPT when the replay or the
 * comparison failed (p says why), another code when the proof could not
 * be run (a backup that does not fetch, no etcd). */
static int
prove_pair(const struct replay_proof_opts *o, const char *dir, const char *a_id,
    const char *b_id, struct replay_proof *p, struct lb_err *err)
{
	struct restore_source *a = NULL, *b = NULL;
	struct replay_segments segs = { 0 };
	struct restore_fetched ga, gb;
	struct restore_tool tool;
	struct replay_opts ro = { 0 };
	struct replay_result res;
	struct livehash lr, lb;
	struct bbolt_info bi, ai;
	const struct manifest *mb;
	char work[4300], fa[4400], fb[4400], fr[4400];
	int64_t cov, cov_t;
	int r;

	memset(p, 0, sizeof(*p));
	snprintf(p->a_id, sizeof(p->a_id), "%s", a_id);
	snprintf(p->b_id, sizeof(p->b_id), "%s", b_id);
	snprintf(work, sizeof(work), "%s/.lifeboat-prove-XXXXXX", dir);
	if (mkdtemp(work) == NULL)
		return lb_err_sys(err, LB_E_IO, errno, "mkdtemp %s", work);
	snprintf(fa, sizeof(fa), "%s/a.db", work);
	snprintf(fb, sizeof(fb), "%s/b.db", work);
	snprintf(fr, sizeof(fr), "%s/replayed.db", work);
	if ((r = open_backup(o, a_id, &a, err)) < 0 || (r = open_backup(o, b_id, &b, err)) < 0 ||
	    (r = restore_tool_find(NULL, &tool, err)) < 0 ||
	    (r = restore_fetch(a, NULL, fa, NULL, NULL, &ga, err)) < 0 ||
	    (r = restore_fetch(b, NULL, fb, NULL, NULL, &gb, err)) < 0)
		goto out;
	mb = restore_source_manifest(b);
	/* an empty store's snapshot says 0; etcd is at revision 1 then */
	p->a_rev = ga.member->revision > 1 ? ga.member->revision : 1;
	p->b_rev = gb.member->revision;
	if (restore_source_catalog(b) != NULL)
		r = replay_segments_catalog(restore_source_catalog(b), o->cluster, p->a_rev + 1,
		    p->b_rev, 1, &segs, err);
	else
		r = replay_segments_repo(restore_source_env(b), o->cluster, p->a_rev + 1,
		    p->b_rev, &segs, err);
	if (r < 0)
		goto out;
	replay_coverage(&segs, p->a_rev + 1, &cov, &cov_t);
	if (cov < p->b_rev) {
		r = LB_E_NOTFOUND;
		p->uncovered = 1;
		snprintf(p->detail, sizeof(p->detail), "not proved: the event log after %s "
		    "(revision %lld) reaches only revision %lld, not %s's %lld", a_id,
		    (long long)p->a_rev, (long long)cov, b_id, (long long)p->b_rev);
		lb_err_set(err, r, "%s", p->detail);
		goto out;
	}
	ro.repo = restore_source_repo(b);
	ro.id = restore_source_identity(b);
	ro.cluster = o->cluster;
	ro.cluster_id = mb->cluster_id;
	ro.base_snapshot = fa;
	ro.base_rev = p->a_rev;
	ro.target_rev = p->b_rev;
	ro.segs = &segs;
	ro.work_dir = work;
	ro.tool = &tool;
	ro.out_snapshot = fr;
	ro.cancel = &lb_cancel;
	/* compacted where B's store was (when it was past A's), so that the
	 * scratch member's HashKV compares with B's record */
	if (bbolt_inspect_file(fb, &bi, err) < 0)
		goto out;
	if (bbolt_inspect_file(fa, &ai, err) < 0)
		goto out;
	if (bi.compact_revision > ai.compact_revision)
		ro.compact_rev = (int64_t)bi.compact_revision;
	unlink(fr);
	r = replay_run(&ro, &res, err);
	unlink(fa);
	p->revisions = res.revisions;
	p->segments = res.segments_read;
	if (r < 0) {
		/* a replay that fails its checks is the proof failing */
		snprintf(p->detail, sizeof(p->detail), "replay failed: %.480s", err->msg);
		if (r == LB_E_CORRUPT || r == LB_E_NOTFOUND || r == LB_E_CRYPTO)
			r = LB_E_CORRUPT;
		goto out;
	}
	if ((r = livehash_file(fr, 1, &lr, err)) < 0 || (r = livehash_file(fb, 1, &lb, err)) < 0)
		goto out;
	if (lr.hash != lb.hash || lr.revision != lb.revision || lr.live_keys != lb.live_keys) {
		r = lb_err_set(err, LB_E_CORRUPT, "%s replayed to revision %lld does not hold "
		    "the keys of %s: %llu live keys hashing to %08x (highest revision %lld), %s "
		    "has %llu hashing to %08x (highest revision %lld)", a_id,
		    (long long)p->b_rev, b_id, (unsigned long long)lr.live_keys, lr.hash,
		    (long long)lr.revision, b_id, (unsigned long long)lb.live_keys, lb.hash,
		    (long long)lb.revision);
		snprintf(p->detail, sizeof(p->detail), "%s", err->msg);
		goto out;
	}
	snprintf(p->detail, sizeof(p->detail), "%llu revisions from %zu segment%s: %llu "
	    "live keys equal to %s's (hash %08x)", (unsigned long long)res.revisions,
	    res.segments_read, res.segments_read == 1 ? "" : "s",
	    (unsigned long long)lb.live_keys, b_id, lb.hash);
	/* B's record, where it is at the same revision and compaction */
	if (gb.member->has_hashkv && mb->consistency_revision == p->b_rev &&
	    (bi.compact_revision == 0 ? res.compact_rev <= 0 :
	    (int64_t)bi.compact_revision == res.compact_rev)) {
		p->hashkv_compared = 1;
		if (res.hashkv != gb.member->hashkv) {
			r = lb_err_set(err, LB_E_CORRUPT, "HashKV at revision %lld after the "
			    "replay is %08x, %s recorded %08x", (long long)p->b_rev, res.hashkv,
			    b_id, gb.member->hashkv);
			snprintf(p->detail, sizeof(p->detail), "%s", err->msg);
			goto out;
		}
		snprintf(p->detail + strlen(p->detail), sizeof(p->detail) - strlen(p->detail),
		    "; HashKV %08x at %lld equals %s's record", res.hashkv, (long long)p->b_rev,
		    b_id);
	} else
		snprintf(p->detail + strlen(p->detail), sizeof(p->detail) - strlen(p->detail),
		    "; %s's recorded HashKV not compared (%s)", b_id, !gb.member->has_hashkv ?
		    "none recorded" : mb->consistency_revision != p->b_rev ?
		    "taken at another revision than its snapshot" :
		    "its store and the replay's were compacted at different revisions");
	lb_err_clear(err);
	p->ok = 1;
	r = 0;
out:
	if (p->detail[0] == '\0' && r < 0)
		snprintf(p->detail, sizeof(p->detail), "not proved: %.480s", err->msg);
	if (b != NULL && (p->ok || r == LB_E_CORRUPT))
		record(b, &segs, p);
	if (restore_wipe(work) < 0)
		log_warn("cannot remove %s: %s", work, strerror(errno));
	replay_segments_free(&segs);
	restore_source_close(a);
	restore_source_close(b);
	return r;
}

int
replay_prove(const struct replay_proof_opts *o, replay_proof_cb cb, void *arg,
    size_t *pairs, struct lb_err *err)
{
	const char *catalog = o->catalog_path != NULL ? o->catalog_path :
	    cfg_get_str(o->cfg, NULL, CFG_CATALOG);
	const char *dir = o->work_dir != NULL ? o->work_dir :
	    cfg_get_str(o->cfg, NULL, CFG_DRILL_DIR);
	struct cat_filter f = { .cluster = o->cluster, .status = CAT_COMPLETE,
	    .skip_future = 1 };
	struct backups l = { 0 };
	struct replay_proof p;
	struct cat *c = NULL;
	struct lb_err hole = { 0 };
	size_t i;
	int r, failed = 0, outside = 0;

	*pairs = 0;
	if (catalog == NULL || dir == NULL)
		return lb_err_set(err, LB_E_CONFIG, "the proof needs a catalog and drill-dir");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return lb_err_sys(err, LB_E_IO, errno, "mkdir %s", dir);
	if ((r = cat_open(catalog, CAT_OPEN_READONLY, &c, err)) < 0)
		return r;
	r = cat_backup_list(c, &f, 0, take, &l, err);
	cat_close(c);
	if (r < 0) {
		if (r == LB_E_NOMEM)
			lb_err_set(err, r, "out of memory");
		goto out;
	}
	/* consecutive pairs by revision: the list is by started_at */
	for (i = 1; i < l.n; i++) {
		struct lb_err e;
		if (o->backup_b != NULL && strcmp(l.id[i], o->backup_b) != 0)
			continue;
		if (l.rev[i - 1] <= 0 || l.rev[i] <= l.rev[i - 1])
			continue;
		lb_err_clear(&e);
		r = prove_pair(o, dir, l.id[i - 1], l.id[i], &p, &e);
		if (r == LB_E_NOTFOUND && o->backup_b == NULL)
			continue;      /* not in a window: nothing to prove */
		if (r == LB_E_NOTFOUND && o->window_only && p.uncovered) {
			/* B starts a window (a gap before it): A is not in it */
			hole = e;
			outside = 1;
			continue;
		}
		(*pairs)++;
		if (cb != NULL)
			cb(arg, &p);
		if (r < 0) {
			failed++;
			*err = e;
			if (r != LB_E_CORRUPT)
				log_error("proof %s -> %s: %s", l.id[i - 1], l.id[i], e.msg);
		}
	}
	r = failed ? LB_E_CORRUPT : 0;
	if (o->backup_b != NULL && *pairs == 0 && outside)
		r = lb_err_set(err, LB_E_NOTFOUND, "backup %s has no earlier complete backup "
		    "of cluster %s in its window to prove it from (%.400s)", o->backup_b,
		    o->cluster, strncmp(hole.msg, "not proved: ", 12) == 0 ? hole.msg + 12 :
		    hole.msg);
	else if (o->backup_b != NULL && *pairs == 0)
		r = lb_err_set(err, LB_E_NOTFOUND, "backup %s has no earlier complete backup "
		    "of cluster %s to prove it from", o->backup_b, o->cluster);
out:
	for (i = 0; i < l.n; i++)
		free(l.id[i]);
	free(l.id);
	free(l.rev);
	return r;
}
