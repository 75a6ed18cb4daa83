/*
 * run.c: a restore of a cluster, a member or a seed (restore.h, "the
 * run"), and what a join shares with them (join.c): the order of the
 * steps, what is checked before anything changes, and the roll back when
 * a step fails after that.
 *
 * The order is the safety: every check that can fail without touching the
 * target (arguments, tool, etcd binary, ports, data dirs, the backup, the
 * identity, the whole object fetched and verified into a plaintext file)
 * runs first; only then are data dirs moved aside and restored.  From that
 * point a failure stops what was started, removes what restore created and
 * moves the old data dirs back.
 */
#include "restore/restore.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "env/setup.h"
#include "restore/replay.h"
#include "snapshot/livehash.h"

/* ---- configuration --------------------------------------------------------- */

static int
has_newline(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* The configuration file when there is one; with --repo, a configuration
 * made of the flags (and the file's s3 options and identity when it
 * exists), so the bucket and an identity file are enough.  *file is the
 * file itself (NULL without one): its cluster sections still give the
 * checks their etcd user. */
static int
load_cfg(const struct restore_opts *o, struct cfg **out, struct cfg **file_out,
    struct lb_err *err)
{
	struct cfg *file = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	int r;

	*out = *file_out = NULL;
	r = cfg_load(o->config_path, &file, err);
	if (r < 0 && !(r == LB_E_NOTFOUND && !o->config_explicit && o->repo != NULL))
		/* no configuration is a configuration error (exit 2) */
		return r == LB_E_NOTFOUND ? (err->code = LB_E_CONFIG) : r;
	if (o->repo == NULL) {
		*out = file;
		return 0;
	}
	lb_err_clear(err);
	if (has_newline(o->repo) || has_newline(o->s3_endpoint) ||
	    has_newline(o->s3_region)) {
		r = lb_err_set(err, LB_E_USAGE, "--repo and --s3-*: no line breaks");
		goto out;
	}
	if ((fp = open_memstream(&text, &len)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	fprintf(fp, "[global]\nrepo = %s\n", o->repo);
	{
		static const enum cfg_opt keep[] = { CFG_S3_ENDPOINT, CFG_S3_REGION,
		    CFG_S3_URI_STYLE, CFG_S3_CA_FILE, CFG_S3_ACCESS_KEY_ID,
		    CFG_S3_SECRET_ACCESS_KEY_FILE, CFG_IDENTITY_FILE, CFG_CATALOG,
		    CFG_TRUSTED_SIGNERS };
		size_t i;
		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			const char *v = NULL;
			if (keep[i] == CFG_S3_ENDPOINT && o->s3_endpoint != NULL)
				v = o->s3_endpoint;
			else if (keep[i] == CFG_S3_REGION && o->s3_region != NULL)
				v = o->s3_region;
			else if (file != NULL && cfg_is_set(file, NULL, keep[i]))
				v = cfg_get_str(file, NULL, keep[i]);
			if (v != NULL)
				fprintf(fp, "%s = %s\n", cfg_opt_name(keep[i]), v);
		}
	}
	if (fclose(fp) != 0) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if ((r = cfg_parse_string(text, "--repo", out, err)) == 0) {
		*file_out = file;
		file = NULL;
	}
out:
	free(text);
	cfg_free(file);
	return r;
}

const char *
restore_mode_name(enum restore_mode m)
{
	static const char *const n[] = { "cluster", "member", "seed", "join" };
	return n[m];
}

/* ---- the catalog's record ---------------------------------------------------- */

void
restore_audit(struct restore_run *c, const char *outcome, const struct lb_err *err)
{
	json_t *d;
	char *js;
	size_t i;

	if (c->o->mode == RESTORE_JOIN && c->n_all > 0) {
		restore_audit_join(c, outcome, err);
		return;
	}
	/* also without a catalog: a restore from the bucket alone records
	 * itself in the repository's audit trail */
	if (c->src == NULL)
		return;
	d = json_pack("{s:s,s:s,s:s,s:b,s:b}", "mode", restore_mode_name(c->o->mode),
	    "from", restore_source_origin(c->src), "signature",
	    restore_source_signature(c->src), "start", c->o->start,
	    "dry_run", c->o->dry_run);
	if (d == NULL)
		return;
	if (restore_source_head(c->src) != NULL)
		json_object_set_new(d, "head", json_string(restore_source_head(c->src)));
	if (c->got.member != NULL) {
		json_object_set_new(d, "member_object", json_string(c->got.member->name));
		json_object_set_new(d, "objects_failed", json_integer((json_int_t)c->got.failed));
	}
	json_t *ms = json_array();
	for (i = 0; i < c->n_local; i++)
		json_array_append_new(ms, json_string(c->all[c->local[i]].name));
	json_object_set_new(d, "members", ms);
	if (c->revision > 0) {
		json_object_set_new(d, "revision", json_integer(c->revision));
		json_object_set_new(d, "keys", json_integer(c->keys));
	}
	if (c->pitr.active) {
		const struct restore_pitr *p = &c->pitr;
		json_object_set_new(d, "to_revision", json_integer(p->target_rev));
		json_object_set_new(d, "base_revision", json_integer(p->base_rev));
		json_object_set_new(d, "replayed_revisions", json_integer((json_int_t)p->revisions));
		json_object_set_new(d, "segments", json_integer((json_int_t)p->segments));
	}
	if (err != NULL && err->code != 0)
		json_object_set_new(d, "error", json_string(err->msg));
	if ((js = json_dumps(d, JSON_COMPACT)) != NULL)
		restore_source_audit(c->src, outcome, js);
	free(js);
	json_decref(d);
}

/* ---- roll back --------------------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Stops what restore started, removes the data dirs it created, and moves
 * back what --force moved aside.  A data dir is removed only when created
 * is set, which happens only after restore_dir_prepare found it absent or
 * empty, or moved the old one aside: whatever is in it now, restore put
 * there.  A dir that was not empty without --force is refused before
 * anything changes, and is never touched (restore_test: data_dir_not_empty,
 * rolled_back_old_dir_back). */
void
restore_roll_back(struct restore_run *c)
{
	size_t i;
	int did = 0;

	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		did |= m->pid > 0 || m->moved_to[0] != '\0' ||
		    (m->created && access(m->data_dir, F_OK) == 0);
		restore_etcd_stop(m);
		if (m->created && nftw(m->data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 &&
		    errno != ENOENT)
			log_warn("roll back: cannot remove %s: %s", m->data_dir, strerror(errno));
		if (m->moved_to[0] != '\0') {
			if (rename(m->moved_to, m->data_dir) < 0)
				log_error("roll back: cannot move %s back to %s: %s", m->moved_to,
				    m->data_dir, strerror(errno));
			else
				log_warn("roll back: %s moved back to %s", m->moved_to, m->data_dir);
		}
	}
	if (did)
		log_warn("rolled back: the data dirs are as they were before the restore");
}

/* ---- checks before anything changes ------------------------------------------------- */

static int
readable(const char *path, const char *flag, struct lb_err *err)
{
	if (path != NULL && access(path, R_OK) != 0)
		return lb_err_sys(err, LB_E_CONFIG, errno, "%s %s", flag, path);
	return 0;
}

/* m's own TLS files ({name} replaced), each readable; a failure names the
 * member when the path was a template. */
static int
member_files(const struct restore_opts *o, const struct restore_member *m,
    struct lb_err *err)
{
	static const char *const flag[RESTORE_TLS_FILES] = { "--cert", "--key",
	    "--cacert", "--peer-cert", "--peer-key", "--peer-cacert" };
	const char *tmpl[RESTORE_TLS_FILES] = { o->eo.cert, o->eo.key, o->eo.cacert,
	    o->eo.peer_cert, o->eo.peer_key, o->eo.peer_cacert };
	struct restore_etcd_opts mo;
	char buf[RESTORE_TLS_FILES][4096];
	size_t i;
	int r;

	if ((r = restore_member_tls(&o->eo, m->name, &mo, buf, err)) < 0)
		return r;
	{
		const char *f[RESTORE_TLS_FILES] = { mo.cert, mo.key, mo.cacert,
		    mo.peer_cert, mo.peer_key, mo.peer_cacert };
		for (i = 0; i < RESTORE_TLS_FILES; i++)
			if ((r = readable(f[i], flag[i], err)) < 0)
				return f[i] != tmpl[i] ?
				    lb_err_prefix(err, "member %s: ", m->name) : r;
	}
	return 0;
}

static int
preflight(struct restore_run *c, struct lb_err *err)
{
	struct restore_opts *o = c->o;
	size_t i;
	int r;

	for (i = 0; i < c->n_local; i++)
		if ((r = member_files(o, &c->all[c->local[i]], err)) < 0)
			return r;
	if ((r = readable(o->client_cert, "--client-cert", err)) < 0 ||
	    (r = readable(o->client_key, "--client-key", err)) < 0)
		return r;
	if (o->mode != RESTORE_JOIN && (r = restore_tool_find(o->etcdutl, &c->tool, err)) < 0)
		return r;
	if (o->start || o->mode == RESTORE_JOIN) {
		const char *bin = o->eo.etcd_bin != NULL ? o->eo.etcd_bin : "etcd";
		char path[4200];
		/* the same search restore_etcd_start does, before anything
		 * is changed */
		if (restore_find_exe(bin, path, sizeof(path)) != 0)
			return lb_err_set(err, LB_E_NOTFOUND, "etcd binary %s not found "
			    "(hint: --etcd-bin PATH)", bin);
	}
	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		if (o->start || o->mode == RESTORE_JOIN) {
			if ((r = restore_port_check(m->peer_url, err)) < 0 ||
			    (r = restore_port_check(m->client_url, err)) < 0)
				return lb_err_prefix(err, "member %s: ", m->name);
		}
		/* only look: --force's move happens after the fetch */
		if ((r = restore_dir_is_empty(m->data_dir, err)) < 0)
			return r;
		if (r == 0 && !o->force)
			return lb_err_set(err, LB_E_EXISTS, "data dir %s is not empty (hint: "
			    "--force moves it aside to %s.lifeboat-<time>, nothing is "
			    "deleted)", m->data_dir, m->data_dir);
	}
	return 0;
}

/* ---- the restore --------------------------------------------------------------- */

/* The live-keys hash of the snapshot (snapshot/livehash.h), in a thread
 * beside etcd's restore tool. */
struct live_job {
	struct restore_run *c;
	pthread_t th;
	int started, r;
	double secs;
	struct lb_err err;
};

static void *
live_run(void *arg)
{
	struct live_job *j = arg;
	double t0 = lb_mono_now();

	j->r = livehash_file(j->c->snap, j->c->bump_n, &j->c->live, &j->err);
	j->secs = lb_mono_now() - t0;
	return NULL;
}

/* Waits for the job, if it was started: its error, or 0. */
static int
live_join(struct live_job *j, struct lb_err *err)
{
	if (!j->started)
		return 0;
	pthread_join(j->th, NULL);
	j->started = 0;
	if (j->r < 0) {
		*err = j->err;
		return j->r;
	}
	j->c->has_live = 1;
	log_info("hashed the snapshot's %llu live keys for the check after start "
	    "(%.2fs, beside the restore tool)", (unsigned long long)j->c->live.live_keys,
	    j->secs);
	return 0;
}

/* Everything from the fetch on, for cluster, member and seed. */
static int
run_restore(struct restore_run *c, struct lb_err *err)
{
	const struct manifest *mf = restore_source_manifest(c->src);
	struct restore_opts *o = c->o;
	char *ic = NULL, token[128], logp[4200], conf[4200], unit[4200], dirbuf[4200];
	char *parent;
	double t0;
	pid_t pids[RESTORE_MEMBERS_MAX];
	struct live_job live = { 0 };
	size_t i;
	int r;

	if ((ic = restore_initial_cluster(c->all, c->n_all)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	snprintf(token, sizeof(token), "%s", o->token != NULL ? o->token : mf->backup_id);
	o->eo.token = token;
	o->eo.state = "new";
	snprintf(dirbuf, sizeof(dirbuf), "%s", c->all[c->local[0]].data_dir);
	parent = dirname(dirbuf);
	snprintf(c->snap, sizeof(c->snap), "%s/.lifeboat-restore-%s.db", parent,
	    mf->backup_id);
	restore_manifest_version(mf, c->snap_version, sizeof(c->snap_version));
	c->snap_version_from = "the manifest";
	if (c->snap_version[0] != '\0' && (r = restore_versions_check(c, err)) < 0)
		goto out;
	restore_bump_choose(c, mf);
	if (o->dry_run) {
		c->hooks.plan(c->hooks.arg, c, ic, token);
		r = 0;
		goto out;
	}
	if (!c->tool.has_bump_revision)
		log_warn("%s cannot bump revisions on restore (etcd before 3.5.10): "
		    "revisions may go backwards for watchers; for Kubernetes, restart "
		    "every kube-apiserver, then the controllers and kubelets, so that "
		    "their watch caches and informers relist", c->tool.path);
	/* the directory of the data dirs (--base-dir): made if missing */
	if (mkdir(parent, 0700) < 0 && errno != EEXIST) {
		r = lb_err_sys(err, LB_E_IO, errno, "mkdir %s", parent);
		goto out;
	}
	log_info("fetching backup %s (%s) from the %s", mf->backup_id, mf->cluster,
	    restore_source_origin(c->src));
	if ((r = restore_fetch(c->src, o->member, c->snap, c->hooks.progress,
	    c->hooks.arg, &c->got, err)) < 0)
		goto out;
	if (c->got.failed > 0)
		log_warn("used member %s's object after %zu that failed verification",
		    c->got.member->name, c->got.failed);
	log_info("verified snapshot of member %s, revision %lld, %llu bytes (%.1fs)",
	    c->got.member->name, (long long)c->got.member->revision,
	    (unsigned long long)c->got.member->db_size, c->got.seconds);
	if ((r = restore_versions_from_file(c, err)) < 0)
		goto out;
	/* to a point: the replay runs in a scratch member beside the data
	 * dirs; the target is still untouched */
	if (c->pitr.active && (r = restore_pitr_replay(c, parent, err)) < 0)
		goto out;
	if (lb_cancel) {
		r = lb_err_set(err, LB_E_CANCELED, "interrupted before anything was changed");
		goto out;
	}
	/* from here the target changes */
	c->changed = 1;
	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		if ((r = restore_dir_prepare(m->data_dir, o->force, m->moved_to,
		    sizeof(m->moved_to), err)) < 0)
			goto out;
		m->created = 1;
	}
	t0 = lb_mono_now();
	log_info("restoring %zu data dir%s with %s", c->n_local, c->n_local == 1 ? "" : "s",
	    c->tool.path);
	/* after a bump the backup's HashKV is compacted away; what HashKV at
	 * the bumped revision must be comes from the snapshot's live keys,
	 * hashed while the tool restores (both only read the file) */
	live.c = c;
	if (o->start && c->bump_n > 0) {
		if (pthread_create(&live.th, NULL, live_run, &live) != 0) {
			r = lb_err_set(err, LB_E_NOMEM, "cannot start a thread");
			goto out;
		}
		live.started = 1;
	}
	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		/* a data dir that exists empty is taken by the tool only if absent */
		rmdir(m->data_dir);
		snprintf(logp, sizeof(logp), "%s.restore.log", m->data_dir);
		if ((r = restore_tool_spawn(&c->tool, c->snap, m, ic, token, c->bump_n, logp,
		    &pids[i], err)) < 0) {
			size_t j;
			for (j = 0; j < i; j++)
				waitpid(pids[j], NULL, 0);
			goto out;
		}
	}
	for (i = 0, r = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		struct lb_err e;
		char what[200];
		snprintf(logp, sizeof(logp), "%s.restore.log", m->data_dir);
		snprintf(what, sizeof(what), "snapshot restore of %s", m->name);
		if (restore_wait(pids[i], what, logp, &e) < 0 && r == 0) {
			*err = e;
			r = e.code;
		}
	}
	if (r == 0 && (r = live_join(&live, err)) == 0 && lb_cancel)
		r = lb_err_set(err, LB_E_CANCELED, "interrupted");
	if (r < 0)
		goto out;
	c->t_restore = lb_mono_now() - t0;
	t0 = lb_mono_now();
	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		if (m->client_url == NULL)
			continue;
		if ((r = restore_write_config(&o->eo, m, ic, conf, sizeof(conf), err)) < 0)
			goto out;
		if (o->unit_dir != NULL) {
			snprintf(unit, sizeof(unit), "%s/etcd-%s.service", o->unit_dir, m->name);
			if ((r = restore_write_unit(&o->eo, m->name, conf, unit, err)) < 0)
				goto out;
			log_info("wrote %s", unit);
		}
		if (o->start) {
			if ((r = restore_etcd_start(&o->eo, m, conf, err)) < 0)
				goto out;
			log_info("started etcd %s (pid %ld)", m->name, (long)m->pid);
		} else
			c->hooks.by_hand(c->hooks.arg, c, m, conf);
	}
	if (!o->start) {
		for (i = 0; i < c->n_local; i++)
			if (c->all[c->local[i]].client_url == NULL)
				c->hooks.by_hand(c->hooks.arg, c, &c->all[c->local[i]], NULL);
		r = 0;
		goto out;
	}
	if (o->mode == RESTORE_MEMBER) {
		struct etcd_status st[1];
		long full = o->timeout_s;
		/* etcd serves clients only once a quorum runs, and the other
		 * members may not be restored yet: a short wait, then checks
		 * only if the cluster came up (the last member started sees it) */
		o->timeout_s = full < 10 ? full : 10;
		r = restore_wait_healthy(c, c->local, 1, 1, st, err);
		o->timeout_s = full;
		if (r == LB_E_AUTH)
			goto out;
		if (r < 0) {
			struct restore_member *m = &c->all[c->local[0]];
			if ((r = restore_exited(m, err)) < 0)
				goto out;
			lb_err_clear(err);
			snprintf(c->note, sizeof(c->note), "no quorum yet: restore and start "
			    "the other members");
			log_info("etcd %s runs; the cluster answers once a quorum of members "
			    "runs (restore and start the others)", m->name);
			goto out;
		}
	}
	log_info("waiting for a leader and checking the data");
	r = restore_check_data(c, c->local, c->n_local, err);
	c->t_up = lb_mono_now() - t0;
out:
	if (live.started)          /* a failure before its join */
		pthread_join(live.th, NULL);
	if (c->snap[0] != '\0' && !o->dry_run)
		unlink(c->snap);
	free(ic);
	return r;
}

/* ---- the whole run ---------------------------------------------------------------- */

static const char *
keep_path(const char *path, char *buf, size_t cap)
{
	if (path == NULL)
		return NULL;
	snprintf(buf, cap, "%s", path);
	return buf;
}

/* The checks' TLS files: lifeboat's own certificate, else the members'
 * (--cert/--key, which must then allow client auth).  A {name} template
 * is made each member's by restore_check_opts; c->etcd has the first
 * member's, for calls to a seed whose name is not known. */
static int
check_tls(struct restore_run *c, struct lb_err *err)
{
	const struct restore_opts *o = c->o;
	struct restore_etcd_opts in = { 0 }, out;
	char buf[RESTORE_TLS_FILES][4096];
	int r;

	in.cacert = o->eo.cacert;
	in.cert = o->client_cert != NULL ? o->client_cert : o->eo.cert;
	in.key = o->client_key != NULL ? o->client_key : o->eo.key;
	c->check_tmpl = in;
	if ((r = restore_member_tls(&in, c->all[c->local[0]].name, &out, buf, err)) < 0)
		return r;
	c->etcd.cacert = keep_path(out.cacert, c->check_tls[0], sizeof(c->check_tls[0]));
	c->etcd.cert = keep_path(out.cert, c->check_tls[1], sizeof(c->check_tls[1]));
	c->etcd.key = keep_path(out.key, c->check_tls[2], sizeof(c->check_tls[2]));
	c->etcd.connect_timeout_s = 5;
	c->etcd.stall_timeout_s = 30;
	c->etcd.cancel = &lb_cancel;
	return 0;
}

/* The etcd user of the checks: --user, its password from --password-file
 * or $LIFEBOAT_ETCD_PASSWORD as `lifeboat pull` takes it; else the user
 * of cluster in the configuration file, as backup reaches it (also with
 * --repo, and for join with --cluster).  The password is kept in
 * c->password only, never in argv, a log, an error or a file. */
static int
check_auth(struct restore_run *c, const char *cluster, struct lb_err *err)
{
	const struct restore_opts *o = c->o;
	const struct cfg *file = c->file_cfg != NULL ? c->file_cfg : c->cfg;
	struct etcd_opts eo;
	int r;

	if (o->user == NULL && o->password_file != NULL)
		return lb_err_set(err, LB_E_USAGE, "--password-file needs --user");
	if (o->user != NULL) {
		if (o->password_file != NULL) {
			if ((r = lb_secret_read_file(o->password_file, &c->password, err)) < 0)
				return lb_err_prefix(err, "--password-file: ");
		} else if ((c->password = lb_secret_from_env("LIFEBOAT_ETCD_PASSWORD")) == NULL)
			return lb_err_set(err, LB_E_USAGE, "no password for etcd user '%s' "
			    "(hint: --password-file FILE or $LIFEBOAT_ETCD_PASSWORD)", o->user);
		c->etcd.user = o->user;
	} else if (file != NULL && cluster != NULL && cfg_has_cluster(file, cluster) &&
	    cfg_get_str(file, cluster, CFG_USER) != NULL) {
		if ((r = setup_etcd_opts(file, cluster, &eo, &c->password, err)) < 0)
			return r;
		c->etcd.user = eo.user;
		log_info("checks as etcd user '%s' of cluster %s in %s", eo.user, cluster,
		    cfg_source(file));
	} else if (file == NULL && cluster != NULL && o->mode == RESTORE_JOIN) {
		return lb_err_set(err, LB_E_CONFIG, "--cluster %s: no configuration file "
		    "to take its etcd user from (hint: --user)", cluster);
	} else if (file != NULL && cluster != NULL && o->mode == RESTORE_JOIN &&
	    !cfg_has_cluster(file, cluster)) {
		return lb_err_set(err, LB_E_CONFIG, "--cluster %s: no such cluster in %s",
		    cluster, cfg_source(file));
	}
	c->etcd.password = c->password;
	return 0;
}

int
restore_execute(struct restore_run *c, struct lb_err *err)
{
	struct restore_opts *o = c->o;
	struct restore_source_opts so = { 0 };
	struct restore_select sel = { 0 };
	int r;

	if ((r = check_tls(c, err)) < 0 || (r = preflight(c, err)) < 0)
		return r;
	if (o->mode == RESTORE_JOIN) {
		/* a join restores no backup: the file only names the checks'
		 * user, with --cluster, and need not exist */
		if (o->cluster != NULL && cfg_load(o->config_path, &c->file_cfg, err) < 0 &&
		    (err->code != LB_E_NOTFOUND || o->config_explicit))
			return err->code == LB_E_NOTFOUND ? (err->code = LB_E_CONFIG) : err->code;
		lb_err_clear(err);
		return (r = check_auth(c, o->cluster, err)) < 0 ? r : restore_join(c, err);
	}
	if (o->at_s != NULL && o->backup != NULL)
		return lb_err_set(err, LB_E_USAGE, "--backup and --at exclude each other");
	c->pitr.active = o->to_revision > 0 || o->to_time != NULL;
	if (c->pitr.active && (o->backup != NULL || o->at_s != NULL ||
	    (o->to_revision > 0 && o->to_time != NULL)))
		return lb_err_set(err, LB_E_USAGE, "--to-revision and --to-time choose the "
		    "backup themselves: not with --backup, --at or each other");
	if (c->pitr.active && o->cluster == NULL)
		return lb_err_set(err, LB_E_USAGE, "--to-revision and --to-time need --cluster");
	sel.cluster = o->cluster;
	sel.backup_id = o->backup;
	if (o->at_s != NULL && (r = cat_time_parse(o->at_s, (int64_t)time(NULL), &sel.at,
	    err)) < 0) {
		lb_err_prefix(err, "--at: ");
		return r;
	}
	sel.at_set = o->at_s != NULL;
	if (o->to_revision > 0)
		sel.max_rev = o->to_revision;
	if (o->to_time != NULL) {
		/* first the newest backup started at or before the time; a
		 * backup that holds later revisions is replaced by an older
		 * one in restore_pitr_prepare */
		int64_t ms;
		if ((r = replay_parse_time(o->to_time, &ms, err)) < 0)
			return lb_err_prefix(err, "--to-time: ");
		sel.at = ms / 1000;
		sel.at_set = 1;
	}
	if ((r = load_cfg(o, &c->cfg, &c->file_cfg, err)) < 0)
		return r;
	so.cfg = c->cfg;
	so.identity_path = o->identity;
	so.catalog_path = o->catalog;
	so.repo_only = o->repo != NULL;
	so.need_identity = 1;
	so.skip_signature = o->skip_signature;
	if ((r = restore_source_open(&so, &sel, &c->src, err)) < 0 ||
	    (r = check_auth(c, restore_source_manifest(c->src)->cluster, err)) < 0)
		return r;
	if (c->pitr.active && (r = restore_pitr_prepare(c, &so, &sel, err)) < 0)
		return r;
	return run_restore(c, err);
}

void
restore_run_release(struct restore_run *c)
{
	restore_source_close(c->src);
	c->src = NULL;
	restore_members_free(c->all, c->n_all);
	c->all = NULL;
	c->n_all = c->n_local = 0;
	cfg_free(c->cfg);
	c->cfg = NULL;
	cfg_free(c->file_cfg);
	c->file_cfg = NULL;
	lb_secret_free(c->password);
	c->password = NULL;
	replay_segments_free(c->pitr.segs);
	free(c->pitr.segs);
	c->pitr.segs = NULL;
	c->etcd.user = c->etcd.password = NULL;
}
