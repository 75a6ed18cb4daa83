/*
 * join.c: `restore join`, a new member added to a running (seeded)
 * cluster: as a learner, started, caught up, promoted; with --replace a
 * dead member of the same name removed first, only on proof that it is
 * dead (member_dead).  Unlike the other modes it restores no backup: the
 * member gets its data from the cluster over raft.
 */
#include "restore/restore.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "etcd/etcd_admin.h"

/* The proof --replace needs before a member is removed: none of its
 * client URLs can be reached (a network error: refused, unreachable,
 * timed out), and the seed's own leader is not it (a member that only
 * lost its client network still votes).  Anything else, an answer or an
 * answer refused (TLS, auth), is LB_E_BUSY: a member that may be running
 * is never removed. */
static int
member_dead(struct restore_run *c, const struct etcd_member *m, uint64_t leader,
    struct lb_err *err)
{
	char files[RESTORE_TLS_FILES][4096];
	struct etcd_opts eo;
	struct etcd_client *ec;
	struct etcd_status st;
	struct lb_err e;
	size_t i;
	int r;

	if (m->id == leader)
		return lb_err_set(err, LB_E_BUSY, "member %s leads the cluster: not "
		    "replacing a running member", m->name);
	if ((r = restore_check_opts(c, m->name, &eo, files, err)) < 0)
		return r;
	eo.connect_timeout_s = 3;
	eo.stall_timeout_s = 3;
	for (i = 0; i < m->n_client_urls; i++) {
		ec = NULL;
		lb_err_clear(&e);
		if (etcd_open(m->client_urls[i], &eo, &ec, &e) == 0)
			etcd_status(ec, &st, &e);
		etcd_close(ec);
		if (e.code == 0)
			return lb_err_set(err, LB_E_BUSY, "member %s answers at %s: not "
			    "replacing a running member (stop it first)", m->name,
			    m->client_urls[i]);
		if (e.code != LB_E_NET)
			return lb_err_set(err, LB_E_BUSY, "member %s at %s: %s: not replacing "
			    "a member that may be running (only one that cannot be reached "
			    "is taken for dead)", m->name, m->client_urls[i], e.msg);
	}
	return 0;
}

/* Promotes learner id on seed, retrying while etcd says it is not yet in
 * sync with the leader (it wants 90% of the leader's log), up to
 * deadline.  A member that is no learner (a server before 3.4 ignores
 * the learner flag of MemberAdd) is a voting member already. */
static int
promote(struct restore_run *c, struct etcd_client *seed, uint64_t id,
    double deadline, struct lb_err *err)
{
	struct restore_member *self = &c->all[0];
	useconds_t wait = 100000;
	int r;

	for (;;) {
		if ((r = restore_exited(self, err)) < 0)
			return r;
		if ((r = etcd_admin_member_promote(seed, id, err)) == 0) {
			log_info("promoted %s to a voting member", self->name);
			return 0;
		}
		if (strstr(err->msg, "in sync with leader") == NULL) {
			if (strstr(err->msg, "can only promote a learner member") == NULL)
				return lb_err_prefix(err, "member promote of %s: ", self->name);
			log_info("%s is a voting member already (the cluster took it as one)",
			    self->name);
			lb_err_clear(err);
			return 0;
		}
		if (lb_mono_now() >= deadline || lb_cancel)
			return lb_err_prefix(err, "member promote of %s: ", self->name);
		lb_err_clear(err);
		usleep(wait);
		wait = wait < 1600000 ? wait * 2 : wait;
	}
}

int
restore_join(struct restore_run *c, struct lb_err *err)
{
	struct restore_opts *o = c->o;
	struct restore_member *self = &c->all[0];
	struct etcd_client *seed = NULL;
	struct etcd_members *ms = NULL;
	const struct etcd_member *old = NULL;
	struct etcd_status sst, st[1];
	const char *peers[1];
	char *ic = NULL, conf[4200], unit[4200];
	uint64_t id = 0;
	double deadline;
	size_t i, len;
	int r, added = 0;

	if ((r = etcd_open(o->seed, &c->etcd, &seed, err)) < 0 ||
	    (r = etcd_status(seed, &sst, err)) < 0 ||
	    (r = etcd_member_list(seed, &ms, err)) < 0) {
		if (r == LB_E_AUTH)
			restore_auth_error(c, err);
		else
			lb_err_prefix(err, "seed %s is not reachable: ", o->seed);
		goto out;
	}
	if (sst.leader == 0) {
		r = lb_err_set(err, LB_E_NET, "seed %s has no leader: not joining", o->seed);
		goto out;
	}
	/* a new member runs the cluster's data: the seed's minor is the rule */
	snprintf(c->snap_version, sizeof(c->snap_version), "%s", sst.version);
	c->snap_version_from = "the seed";
	if ((r = restore_versions_check(c, err)) < 0)
		goto out;
	for (i = 0; i < ms->n; i++) {
		if (ms->v[i].name[0] == '\0') {
			r = lb_err_set(err, LB_E_BUSY, "member %s (%s) is still joining: one "
			    "join at a time (retry when it runs)", ms->v[i].n_peer_urls ?
			    ms->v[i].peer_urls[0] : "?", "not started yet");
			goto out;
		}
		if (strcmp(ms->v[i].name, self->name) == 0) {
			if (!o->replace) {
				r = lb_err_set(err, LB_E_EXISTS, "the cluster has a member named "
				    "%s already (hint: --replace removes it first if it is "
				    "dead)", self->name);
				goto out;
			}
			old = &ms->v[i];
		}
	}
	len = strlen(self->name) + strlen(self->peer_url) + 2;
	for (i = 0; i < ms->n; i++)
		len += strlen(ms->v[i].name) + 2 +
		    (ms->v[i].n_peer_urls ? strlen(ms->v[i].peer_urls[0]) : 0);
	if ((ic = malloc(len)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	ic[0] = '\0';
	for (i = 0; i < ms->n; i++)    /* the member replaced is no longer one */
		if (ms->v[i].n_peer_urls > 0 && &ms->v[i] != old)
			sprintf(ic + strlen(ic), "%s=%s,", ms->v[i].name, ms->v[i].peer_urls[0]);
	sprintf(ic + strlen(ic), "%s=%s", self->name, self->peer_url);
	if (o->dry_run) {
		c->hooks.join_plan(c->hooks.arg, c, ms->n, sst.revision, ic);
		r = 0;
		goto out;
	}
	if (old != NULL && (r = member_dead(c, old, sst.leader, err)) < 0)
		goto out;
	c->changed = 1;
	if ((r = restore_dir_prepare(self->data_dir, o->force, self->moved_to,
	    sizeof(self->moved_to), err)) < 0)
		goto out;
	self->created = 1;
	if (old != NULL) {
		/* proven dead just now (member_dead): the cluster lost nothing
		 * that runs, and gets its voter count back by the join */
		if ((r = etcd_admin_member_remove(seed, old->id, err)) < 0) {
			lb_err_prefix(err, "member remove of %s on %s: ", old->name, o->seed);
			goto out;
		}
		log_warn("removed dead member %s (%016" PRIx64 ") from the cluster",
		    old->name, old->id);
	}
	peers[0] = self->peer_url;
	/* etcd's way to add a member: as a learner, which gets the log but
	 * has no vote, so the cluster keeps its quorum however long the new
	 * member takes to catch up; promoted once it has.  etcd refuses a
	 * new member until every member has been connected for a while (5 s
	 * in 3.4: "unhealthy cluster"), which is the case right after the
	 * previous join: wait for it, up to --timeout. */
	deadline = lb_mono_now() + (double)o->timeout_s;
	while ((r = etcd_admin_member_add(seed, peers, 1, 1, &id, err)) < 0 &&
	    strstr(err->msg, "unhealthy cluster") != NULL && lb_mono_now() < deadline) {
		log_info("the cluster is not ready for a new member yet; retrying");
		lb_err_clear(err);
		sleep(1);
	}
	if (r < 0) {
		lb_err_prefix(err, "member add on %s: ", o->seed);
		restore_auth_error(c, err);
		goto out;
	}
	added = 1;
	log_info("added member %s (%016" PRIx64 ") to the cluster of %s as a learner",
	    self->name, id, o->seed);
	o->eo.state = "existing";
	if ((r = restore_write_config(&o->eo, self, ic, conf, sizeof(conf), err)) < 0)
		goto out;
	if (o->unit_dir != NULL) {
		snprintf(unit, sizeof(unit), "%s/etcd-%s.service", o->unit_dir, self->name);
		if ((r = restore_write_unit(&o->eo, self->name, conf, unit, err)) < 0)
			goto out;
	}
	if ((r = restore_etcd_start(&o->eo, self, conf, err)) < 0)
		goto out;
	log_info("started etcd %s (pid %ld); waiting until it has caught up", self->name,
	    (long)self->pid);
	deadline = lb_mono_now() + (double)o->timeout_s;
	/* With etcd auth a learner takes no login (Authenticate goes through
	 * raft, which a learner does not serve: "rpc not supported for
	 * learner"), so its Status cannot be asked before it votes: promote
	 * first, which etcd refuses until the learner is in sync with the
	 * leader, then wait on the voting member. */
	if (c->etcd.user != NULL && (r = promote(c, seed, id, deadline, err)) < 0)
		goto out;
	for (;;) {
		if ((r = restore_wait_healthy(c, c->local, 1, 1, st, err)) < 0)
			goto out;
		if (st[0].raft_applied_index >= sst.raft_index && st[0].revision >= sst.revision)
			break;
		if (lb_mono_now() >= deadline) {
			r = lb_err_set(err, LB_E_NET, "member %s did not catch up with the "
			    "cluster in %ld s (applied index %" PRIu64 " of %" PRIu64 ")",
			    self->name, o->timeout_s, st[0].raft_applied_index, sst.raft_index);
			goto out;
		}
		usleep(200000);
	}
	if (c->etcd.user == NULL && (r = promote(c, seed, id, deadline, err)) < 0)
		goto out;
	c->revision = st[0].revision;
	r = 0;
out:
	if (r < 0 && added) {
		struct lb_err e;
		restore_etcd_stop(self);
		if (etcd_admin_member_remove(seed, id, &e) < 0)
			log_error("roll back: member remove of %s (%016" PRIx64 ") on %s: %s",
			    self->name, id, o->seed, e.msg);
		else
			log_warn("roll back: member %s removed from the cluster again",
			    self->name);
	}
	etcd_members_free(ms);
	etcd_close(seed);
	free(ic);
	return r;
}

/* ---- the catalog's record ---- */

/* A join restores no backup, so it has no source and no catalog from
 * it: its event goes to the catalog of this machine's configuration (or
 * --catalog), and only when that catalog already exists. */
void
restore_audit_join(struct restore_run *c, const char *outcome, const struct lb_err *err)
{
	const struct restore_member *self = &c->all[0];
	struct cfg *cfg = NULL;
	struct cat *cat = NULL;
	struct lb_err e;
	const char *path = c->o->catalog;
	char *js = NULL;
	json_t *d;

	if (path == NULL && cfg_load(c->o->config_path, &cfg, &e) == 0)
		path = cfg_get_str(cfg, NULL, CFG_CATALOG);
	if (path == NULL || access(path, F_OK) != 0 || cat_open(path, 0, &cat, &e) < 0)
		goto out;
	d = json_pack("{s:s,s:s,s:s,s:s,s:s*,s:b,s:s*}", "mode", "join", "seed",
	    c->o->seed, "name", self->name, "peer_url", self->peer_url, "client_url",
	    self->client_url, "start", c->o->start, "error",
	    err != NULL && err->code != 0 ? err->msg : NULL);
	if (d != NULL && (js = json_dumps(d, JSON_COMPACT)) != NULL &&
	    cat_audit(cat, CAT_ACT_RESTORE, c->o->cluster, NULL, outcome, js, &e) < 0)
		log_warn("catalog audit: %s", e.msg);
	free(js);
	json_decref(d);
out:
	cat_close(cat);
	cfg_free(cfg);
}
