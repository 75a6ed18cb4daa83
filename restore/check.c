/*
 * check.c: after start, the health of the restored members and the checks
 * of their data (restore.h): revision, key count and HashKV, compared
 * across members and with what the backup recorded.  Reads only.
 */
#include "restore/restore.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/clock.h"
#include "common/err.h"
#include "etcd/etcd_admin.h"

/* Did a member etcd restore started exit already?  Then its log says why. */
int
restore_exited(struct restore_member *m, struct lb_err *err)
{
	char log_path[4200];
	int st;

	if (m->pid <= 0 || waitpid(m->pid, &st, WNOHANG) != m->pid)
		return 0;
	m->pid = 0;
	snprintf(log_path, sizeof(log_path), "%s.log", m->data_dir);
	return lb_err_set(err, LB_E_REMOTE, "etcd %s exited %s %d right after start "
	    "(see %s)", m->name, WIFEXITED(st) ? "with status" : "on signal",
	    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), log_path);
}

int
restore_auth_error(const struct restore_run *c, struct lb_err *err)
{
	const char *who = c->o->mode == RESTORE_JOIN ? "the cluster of the seed" :
	    "the restored cluster";
	const char *user = c->etcd.user;
	struct lb_err e = *err;

	if (err->code != LB_E_AUTH)
		return err->code;
	if (user == NULL)
		return lb_err_set(err, LB_E_AUTH, "%s has auth enabled: the checks need "
		    "an etcd user with the root role (hint: --user and --password-file, "
		    "or user and password-file in the cluster's section of the "
		    "configuration%s): %s", who,
		    c->o->mode == RESTORE_JOIN ? " named by --cluster" : "", e.msg);
	return lb_err_set(err, LB_E_AUTH, "%s refused etcd user '%s': the checks "
	    "need its right password and the root role (hint: --password-file; "
	    "etcdctl user grant-role %s root): %s", who, user, user, e.msg);
}

int
restore_check_opts(const struct restore_run *c, const char *name, struct etcd_opts *eo,
    char files[RESTORE_TLS_FILES][4096], struct lb_err *err)
{
	struct restore_etcd_opts out;
	int r;

	*eo = c->etcd;
	if ((r = restore_member_tls(&c->check_tmpl, name, &out, files, err)) < 0)
		return r;
	eo->cacert = out.cacert;
	eo->cert = out.cert;
	eo->key = out.key;
	return 0;
}

/* Waits until every member in idx answers Status and all name the same
 * leader (want_leader), or, without want_leader, only answers. */
int
restore_wait_healthy(struct restore_run *c, const size_t *idx, size_t n,
    int want_leader, struct etcd_status *st, struct lb_err *err)
{
	double deadline = lb_mono_now() + (double)c->o->timeout_s;
	char files[RESTORE_TLS_FILES][4096];
	struct etcd_opts eo;
	struct etcd_client *ec = NULL;
	struct lb_err e;
	size_t i;
	int r;

	for (;;) {
		uint64_t leader = 0;
		int ok = 1;

		lb_err_clear(&e);
		for (i = 0; i < n && ok; i++) {
			struct restore_member *m = &c->all[idx[i]];
			if ((r = restore_exited(m, err)) < 0 ||
			    (r = restore_check_opts(c, m->name, &eo, files, err)) < 0)
				return r;
			/* Status answers at once on a member that has a
			 * quorum; one without (3.6 waits on raft) would hold a
			 * call for the whole stall timeout, past the deadline:
			 * ask again instead. */
			eo.stall_timeout_s = 2;
			ec = NULL;
			if (etcd_open(m->client_url, &eo, &ec, &e) < 0 ||
			    etcd_status(ec, &st[i], &e) < 0) {
				lb_err_prefix(&e, "etcd %s: ", m->name);
				ok = 0;
			} else if (want_leader && (st[i].leader == 0 ||
			    (leader != 0 && st[i].leader != leader))) {
				lb_err_set(&e, LB_E_NET, "etcd %s: no leader elected yet", m->name);
				ok = 0;
			} else
				leader = st[i].leader;
			etcd_close(ec);
		}
		if (ok)
			return 0;
		if (e.code == LB_E_AUTH) {
			*err = e;
			return restore_auth_error(c, err);
		}
		if (lb_cancel)
			return lb_err_set(err, LB_E_CANCELED, "interrupted while waiting for "
			    "etcd");
		if (lb_mono_now() > deadline) {
			*err = e;
			return lb_err_prefix(err, "not healthy after %ld s: ", c->o->timeout_s);
		}
		usleep(50000);
	}
}

/* Revision, key count and HashKV, on every member in idx.
 *
 * What the key count is compared with: the snapshot carries no count
 * of its own (etcdctl's totalKey counts every bbolt key, revisions and
 * tombstones included), so each member counts the keys live at one
 * revision R (a serializable count_only Range from its own store) and all
 * must agree; that they hold the backup's data is shown by HashKV, which
 * covers every key and value: all members' HashKV at R agree, and when
 * the manifest recorded a HashKV at a revision the snapshot contains and
 * revisions were not bumped, the restored members give that same hash.
 * After a bump that hash is compacted away; instead every member's HashKV
 * at the bumped revision equals the hash of the snapshot's live keys and
 * values computed before the restore (snapshot/livehash.h). */
/* One member's count and HashKV, run in its own thread: each member
 * hashes its whole store, so the members work at the same time. */
struct member_check {
	const struct restore_run *c;
	const struct restore_member *m;
	int64_t rev, rev2;          /* rev2: a second HashKV revision, or 0 */
	int64_t count;
	uint32_t hash, hash2;
	int r;
	struct lb_err err;
	pthread_t th;
};

static void *
member_check_run(void *arg)
{
	struct member_check *k = arg;
	char files[RESTORE_TLS_FILES][4096];
	struct etcd_client *ec = NULL;
	struct etcd_opts eo;
	int64_t hrev;

	lb_err_clear(&k->err);
	if ((k->r = restore_check_opts(k->c, k->m->name, &eo, files, &k->err)) < 0 ||
	    (k->r = etcd_open(k->m->client_url, &eo, &ec, &k->err)) < 0 ||
	    (k->r = etcd_admin_count(ec, k->rev, 1, &k->count, &hrev, &k->err)) < 0 ||
	    (k->r = etcd_hashkv(ec, k->rev, &k->hash, NULL, NULL, &k->err)) < 0 ||
	    (k->rev2 > 0 && (k->r = etcd_hashkv(ec, k->rev2, &k->hash2, NULL, NULL,
	    &k->err)) < 0))
		lb_err_prefix(&k->err, "etcd %s: ", k->m->name);
	etcd_close(ec);
	return NULL;
}

int
restore_check_data(struct restore_run *c, const size_t *idx, size_t n, struct lb_err *err)
{
	const struct manifest *mf = restore_source_manifest(c->src);
	const struct manifest_member *mm = c->got.member;
	struct etcd_status st[RESTORE_MEMBERS_MAX];
	struct member_check k[RESTORE_MEMBERS_MAX];
	int64_t rev = 0, crev = 0;
	size_t i, started = 0;
	int r;

	if ((r = restore_wait_healthy(c, idx, n, 1, st, err)) < 0)
		return r;
	for (i = 0; i < n; i++)
		if (rev == 0 || st[i].revision < rev)
			rev = st[i].revision;
	if (rev < mm->revision)
		return lb_err_set(err, LB_E_CORRUPT, "restored revision %lld is below the "
		    "backup's %lld", (long long)rev, (long long)mm->revision);
	c->revision = rev;
	/* the backup's HashKV can be compared only at a revision the snapshot
	 * holds, and only if revisions were not bumped (mark-compacted) */
	if (c->bump_n == 0 && mm->has_hashkv &&
	    mf->consistency_revision > 0 && mf->consistency_revision <= mm->revision)
		crev = mf->consistency_revision;
	/* after a bump: every member's HashKV at the bumped revision (the
	 * current one unless something was written since) must be the hash
	 * of the snapshot's live keys */
	if (c->has_live && c->live.bumped > rev)
		return lb_err_set(err, LB_E_CORRUPT, "restored revision %lld is below "
		    "the bumped %lld", (long long)rev, (long long)c->live.bumped);
	memset(k, 0, sizeof(k));
	for (i = 0; i < n; i++) {
		k[i].c = c;
		k[i].m = &c->all[idx[i]];
		k[i].rev = rev;
		if (c->has_live)
			k[i].rev2 = c->live.bumped != rev ? c->live.bumped : 0;
		else
			k[i].rev2 = i == 0 && crev != rev ? crev : 0;
		if (pthread_create(&k[i].th, NULL, member_check_run, &k[i]) != 0) {
			r = lb_err_set(err, LB_E_NOMEM, "cannot start a thread");
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(k[i].th, NULL);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++)
		if (k[i].r < 0) {
			*err = k[i].err;
			return restore_auth_error(c, err);
		}
	c->keys = k[0].count;
	c->hash = k[0].hash;
	for (i = 1; i < n; i++)
		if (k[i].count != c->keys || k[i].hash != c->hash)
			return lb_err_set(err, LB_E_CORRUPT, "members disagree at revision "
			    "%lld: %s has %lld keys (HashKV %08x), %s has %lld (HashKV %08x)",
			    (long long)rev, k[0].m->name, (long long)c->keys, c->hash,
			    k[i].m->name, (long long)k[i].count, k[i].hash);
	c->hash_vs_backup = 0;
	if (c->has_live) {
		for (i = 0; i < n; i++) {
			uint32_t h = k[i].rev2 > 0 ? k[i].hash2 : k[i].hash;
			if (h != c->live.hash)
				return lb_err_set(err, LB_E_CORRUPT, "etcd %s: HashKV at "
				    "revision %lld is %08x, the backup's live keys hash to "
				    "%08x: the restored keys or values differ from the "
				    "backup", k[i].m->name, (long long)c->live.bumped, h,
				    c->live.hash);
		}
		c->hash_vs_backup = 2;
	} else if (crev > 0) {
		uint32_t h = crev == rev ? k[0].hash : k[0].hash2;
		if (h != mm->hashkv)
			return lb_err_set(err, LB_E_CORRUPT, "HashKV at revision %lld is %08x, "
			    "the backup recorded %08x: the restored data differ from the "
			    "backup", (long long)crev, h, mm->hashkv);
		c->hash_vs_backup = 1;
	} else if (!c->pitr.replayed)
		snprintf(c->note, sizeof(c->note), "the backup's HashKV (revision %lld) "
		    "cannot be compared: %s", (long long)mf->consistency_revision,
		    !mm->has_hashkv || mf->consistency_revision <= 0 ? "none recorded" :
		    mf->consistency_revision > mm->revision ? "taken after the snapshot" :
		    "revisions were bumped");
	/* to a point: the replayed revisions came out as the scratch member
	 * had them (its HashKV at the target, taken before its snapshot) */
	if (c->pitr.replayed && c->bump_n == 0) {
		if (rev != c->pitr.target_rev)
			snprintf(c->note, sizeof(c->note), "HashKV at the target revision %lld "
			    "not compared: the cluster is at %lld already",
			    (long long)c->pitr.target_rev, (long long)rev);
		else if (k[0].hash != c->pitr.hashkv)
			return lb_err_set(err, LB_E_CORRUPT, "HashKV at revision %lld is %08x, "
			    "the replay's scratch member had %08x: the restored data differ "
			    "from the replay", (long long)rev, k[0].hash, c->pitr.hashkv);
		else if (c->hash_vs_backup == 0)
			c->hash_vs_backup = 3;
	}
	return 0;
}
