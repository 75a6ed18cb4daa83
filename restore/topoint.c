/*
 * topoint.c: `restore --to-revision R` and `--to-time T` (restore.h, "to
 * a point"): the base backup and the segments chosen, the target the
 * event log must reach (refused, naming the last captured revision and
 * time, when it does not), and the replay (replay.h) whose snapshot then
 * takes the base's place in the normal restore path.  Every etcd
 * revision is one transaction, so a revision target never splits one.
 */
#include "restore/restore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "restore/replay.h"

static int
list_segments(struct restore_run *c, int64_t from, struct lb_err *err)
{
	const struct manifest *mf = restore_source_manifest(c->src);
	struct cat *cat = restore_source_catalog(c->src);
	struct replay_segments *s = c->pitr.segs;
	int r;

	if (s == NULL && (s = c->pitr.segs = calloc(1, sizeof(*s))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	replay_segments_free(s);
	if (cat != NULL && strcmp(restore_source_origin(c->src), "catalog") == 0)
		r = replay_segments_catalog(cat, mf->cluster, from, -1, 0, s, err);
	else
		r = replay_segments_repo(restore_source_env(c->src), mf->cluster, from, -1,
		    s, err);
	return r < 0 ? lb_err_prefix(err, "the event log: ") : 0;
}

/* Whether a segment holds revision rev (so its time is known). */
static int
holds(const struct replay_segments *s, int64_t rev)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].revisions > 0 && s->v[i].first_rev <= rev && rev <= s->v[i].last_rev)
			return 1;
	return 0;
}

int
restore_pitr_prepare(struct restore_run *c, struct restore_source_opts *so,
    struct restore_select *sel, struct lb_err *err)
{
	struct restore_pitr *p = &c->pitr;
	const struct manifest *mf = restore_source_manifest(c->src);
	char t1[40], t2[40];
	int64_t rt = -1;
	int r;

	p->target_time_ms = p->target_rev_time_ms = -1;
	/* a snapshot of an empty store says revision 0: etcd is at 1 then,
	 * and its first write is revision 2 */
	p->base_rev = mf->revision > 1 ? mf->revision : 1;
	if (c->o->to_time != NULL) {
		int64_t rev = 0;
		if ((r = replay_parse_time(c->o->to_time, &p->target_time_ms, err)) < 0)
			return lb_err_prefix(err, "--to-time: ");
		/* every segment, also before the backup: a backup taken just
		 * before T may hold revisions of after T */
		if ((r = list_segments(c, 1, err)) < 0 ||
		    (r = replay_resolve_time(restore_source_repo(c->src),
		    restore_source_identity(c->src), p->segs, 0, p->target_time_ms, &rev, &rt,
		    err)) < 0)
			return r;
		if (rev < p->base_rev && holds(p->segs, p->base_rev)) {
			if (rev <= 0)
				return lb_err_set(err, LB_E_NOTFOUND, "no captured revision of "
				    "cluster %s is at or before %s", mf->cluster,
				    replay_format_ms(p->target_time_ms, t1, sizeof(t1)));
			/* the backup holds writes of after T: an older one */
			log_info("backup %s (revision %lld) holds revisions after %s; the last "
			    "at or before it is %lld: taking an older backup", mf->backup_id,
			    (long long)p->base_rev, c->o->to_time, (long long)rev);
			restore_source_close(c->src);
			c->src = NULL;
			sel->at_set = 0;
			sel->max_rev = rev;
			if ((r = restore_source_open(so, sel, &c->src, err)) < 0)
				return r;
			mf = restore_source_manifest(c->src);
			p->base_rev = mf->revision > 1 ? mf->revision : 1;
		}
		p->target_rev = rev > p->base_rev ? rev : p->base_rev;
		p->target_rev_time_ms = rev > p->base_rev ? rt : -1;
	} else
		p->target_rev = c->o->to_revision;
	if ((r = list_segments(c, p->base_rev + 1, err)) < 0)
		return r;
	replay_coverage(p->segs, p->base_rev + 1, &p->covered_rev, &p->covered_time_ms);
	if (p->target_rev > p->covered_rev)
		return lb_err_set(err, LB_E_NOTFOUND, "revision %lld is beyond the event log "
		    "of cluster %s (from the %s): after backup %s (revision %lld) the last "
		    "captured revision is %lld, up to %s (hint: --to-revision %lld, or "
		    "wait for the capture)", (long long)p->target_rev, mf->cluster,
		    p->segs->origin, mf->backup_id, (long long)p->base_rev,
		    (long long)p->covered_rev, replay_format_ms(p->covered_time_ms, t1,
		    sizeof(t1)), (long long)p->covered_rev);
	if (p->target_time_ms >= 0 && p->target_time_ms > p->covered_time_ms)
		return lb_err_set(err, LB_E_NOTFOUND, "%s is beyond the event log of cluster "
		    "%s: after backup %s the capture knows the cluster up to %s (revision "
		    "%lld); what happened after that is not captured (hint: --to-time %s)",
		    replay_format_ms(p->target_time_ms, t1, sizeof(t1)), mf->cluster,
		    mf->backup_id, replay_format_ms(p->covered_time_ms, t2, sizeof(t2)),
		    (long long)p->covered_rev, t2);
	log_info("to revision %lld: backup %s at revision %lld, then %lld revision%s from "
	    "the event log (%s)", (long long)p->target_rev, mf->backup_id,
	    (long long)p->base_rev, (long long)(p->target_rev - p->base_rev),
	    p->target_rev - p->base_rev == 1 ? "" : "s", p->segs->origin);
	return 0;
}

int
restore_pitr_replay(struct restore_run *c, const char *dir, struct lb_err *err)
{
	struct restore_pitr *p = &c->pitr;
	const struct manifest *mf = restore_source_manifest(c->src);
	struct replay_opts ro = { 0 };
	struct replay_result res;
	struct etcd_opts auth = { 0 };
	char work[4200], out[4200];
	int r;

	p->base_rev = c->got.member->revision > 1 ? c->got.member->revision : 1;
	if (p->target_rev <= p->base_rev && p->target_rev >= c->got.member->revision) {
		snprintf(p->note, sizeof(p->note), "the target is the backup's own revision: "
		    "nothing to replay");
		return 0;
	}
	if (p->target_rev < p->base_rev)
		return lb_err_set(err, LB_E_INTERNAL, "member object at revision %lld is past "
		    "the target %lld", (long long)p->base_rev, (long long)p->target_rev);
	if ((size_t)snprintf(work, sizeof(work), "%s/.lifeboat-replay-XXXXXX", dir) >=
	    sizeof(work))
		return lb_err_set(err, LB_E_USAGE, "%s: path too long", dir);
	if (mkdtemp(work) == NULL)
		return lb_err_sys(err, LB_E_IO, errno, "mkdtemp %s", work);
	if ((size_t)snprintf(out, sizeof(out), "%s/.lifeboat-restore-%s-r%lld.db", dir,
	    mf->backup_id, (long long)p->target_rev) >= sizeof(out) ||
	    strlen(out) >= sizeof(c->snap))
		return lb_err_set(err, LB_E_USAGE, "%s: path too long", dir);
	auth.user = c->etcd.user;
	auth.password = c->etcd.password;
	ro.repo = restore_source_repo(c->src);
	ro.id = restore_source_identity(c->src);
	ro.cluster = mf->cluster;
	ro.cluster_id = mf->cluster_id;
	ro.base_snapshot = c->snap;
	ro.base_rev = p->base_rev;
	ro.target_rev = p->target_rev;
	ro.segs = p->segs;
	ro.work_dir = work;
	ro.etcd_bin = c->o->eo.etcd_bin;
	ro.tool = &c->tool;
	ro.auth = auth.user != NULL ? &auth : NULL;
	ro.out_snapshot = out;
	ro.cancel = c->etcd.cancel;
	log_info("replaying revisions %lld..%lld into a scratch member", (long long)
	    (p->base_rev + 1), (long long)p->target_rev);
	r = replay_run(&ro, &res, err);
	if (restore_wipe(work) < 0)
		log_warn("cannot remove %s: %s", work, strerror(errno));
	p->revisions = res.revisions;
	p->events = res.events;
	p->leases_base = res.leases_base;
	p->leases_created = res.leases_created;
	p->leases_default_ttl = res.leases_default_ttl;
	p->overlap = res.overlap;
	p->segments = res.segments_read;
	p->fsync_off = res.fsync_off;
	p->seconds = res.seconds;
	if (r < 0)
		return lb_err_prefix(err, "replay: ");
	p->hashkv = res.hashkv;
	p->target_rev_time_ms = res.last_time_ms;
	p->replayed = 1;
	/* the replayed snapshot takes the base's place */
	unlink(c->snap);
	memcpy(c->snap, out, strlen(out) + 1);
	return 0;
}
