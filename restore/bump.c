/*
 * bump.c: how far a restore moves revisions on (etcdutl --bump-revision N
 * --mark-compacted, etcd 3.5.10+).
 *
 * Why: the lost cluster kept handing out revisions after the backup.
 * Kubernetes' API servers, controllers and kubelets watch from the last
 * revision they saw; after a plain restore those revisions are handed out
 * again for other writes, and a watcher resuming from one silently misses
 * events (kubernetes/kubernetes #107457, #131115).  A bump past every
 * revision the lost cluster may have reached, marked compacted, makes
 * such a watch fail with "compacted" instead, and informers relist.
 *
 * How far: from what lifeboat recorded, not a guess.  Every backup run,
 * failed and partial ones too, records the highest revision its members'
 * Status gave, and snapd samples it between runs from its lock's
 * renewals (catalog: cat_revisions).  The bump covers
 *   - the revisions known to have been handed out after the backup
 *     (highest recorded minus the backup's), plus
 *   - what the cluster can have handed out between the last record and
 *     now: the time since, at twice the highest rate ever measured
 *     between two records (bursts above what was seen), and at least
 *     RATE_FLOOR per second; with fewer than two records no rate is
 *     known, and etcd's recovery guide's own assumption (fewer than 1500
 *     writes per second) is used, plus
 *   - MARGIN revisions for the seconds the restore itself takes.
 * A bump larger than needed costs nothing (revisions are 64-bit); one
 * too small is the failure this exists to prevent, so every choice above
 * errs large.
 */
#include "restore/restore.h"

#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "common/log.h"

#define RATE_ETCD_DOC  1500.0       /* etcd's recovery guide */
#define RATE_FLOOR     10.0         /* node and leader leases alone renew several times a second */
#define MARGIN         10000
#define BUMP_MAX       1000000000000000LL  /* far below 2^63, whatever the inputs */

void
restore_bump_add(struct restore_bump *b, int64_t at, int64_t revision)
{
	if (b->points > 0 && at > b->last_at && revision > b->last_rev) {
		double rate = (double)(revision - b->last_rev) / (double)(at - b->last_at);
		if (rate > b->rate)
			b->rate = rate;
	}
	if (revision > b->high)
		b->high = revision;
	if (b->points == 0 || at >= b->last_at) {
		b->last_at = at;
		b->last_rev = revision;
	}
	b->points++;
}

int64_t
restore_bump_size(struct restore_bump *b, int64_t backup_rev, int64_t now)
{
	double rate, since, n;

	rate = b->rate > 0 ? 2.0 * b->rate : RATE_ETCD_DOC;
	if (rate < RATE_FLOOR)
		rate = RATE_FLOOR;
	since = b->points > 0 && now > b->last_at ? (double)(now - b->last_at) : 0;
	n = (double)(b->high > backup_rev ? b->high - backup_rev : 0) + rate * since +
	    (double)MARGIN;
	b->rate_used = rate;
	b->n = n > (double)BUMP_MAX ? BUMP_MAX : (int64_t)n;
	return b->n;
}

static int
bump_point(int64_t at, int64_t revision, void *arg)
{
	restore_bump_add(arg, at, revision);
	return 0;
}

void
restore_bump_choose(struct restore_run *c, const struct manifest *mf)
{
	struct cat *cat = restore_source_catalog(c->src);
	struct lb_err e;
	int64_t end = 0, now = (int64_t)time(NULL);

	c->bump_n = 0;
	if (!c->tool.has_bump_revision || c->o->bump == 0)
		return;
	if (c->o->bump > 0) {
		c->bump_n = c->o->bump;
		return;
	}
	memset(&c->bump, 0, sizeof(c->bump));
	if (cat != NULL && cat_revisions(cat, mf->cluster, bump_point, &c->bump, &e) < 0)
		log_warn("catalog: %s: sizing the revision bump from the backup alone", e.msg);
	if (mf->finished_at != NULL && cat_time_parse(mf->finished_at, now, &end, &e) == 0)
		restore_bump_add(&c->bump, end, mf->revision);
	/* to a point: the snapshot restored is at the target, and the event
	 * log knows the cluster up to its last captured revision and time,
	 * the newest record there is (also from the bucket alone) */
	if (c->pitr.active && c->pitr.covered_rev > 0 && c->pitr.covered_time_ms >= 0)
		restore_bump_add(&c->bump, c->pitr.covered_time_ms / 1000, c->pitr.covered_rev);
	c->bump_n = restore_bump_size(&c->bump, c->pitr.active ? c->pitr.target_rev :
	    mf->revision, now);
}
