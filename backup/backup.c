/*
 * backup.c: one backup of one cluster (backup.h).  The settling of runs
 * that died is settle.c's.
 *
 * Order matters for what a crash leaves behind: member objects are
 * committed one by one (each atomic), the manifest is written only after
 * all of them, and the catalog row goes from running to its outcome only
 * after the manifest.  A run killed at any point leaves at most objects
 * without a manifest (never listed as restorable) and a running row, which
 * the next run of the same cluster settles against the repository.
 */
#include "backup/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backup/pull.h"
#include "backup/settle.h"
#include "catalog/catalog.h"
#include "catalog/spool.h"
#include "common/clock.h"
#include "common/fmt.h"
#include "common/log.h"
#include "env/env.h"
#include "env/journal.h"
#include "env/setup.h"
#include "env/trust.h"
#include "repo/head.h"
#include "repo/manifest.h"
#include "repo/repo.h"
#include "sign/sign.h"
#include "scheduler/cron.h"
#include "snapshot/bbolt_scan.h"
#include "snapshot/gate.h"
#include "stream/age.h"
#include "stream/zstd_filter.h"

/* env is an lb_env whose repository and catalog may be missing: a backup
 * records a failed run when the repository does not answer and spools its
 * record when the catalog cannot be opened, where env_open_cfg would fail
 * as a whole.  So env_open_cfg gives the configuration and the catalog's
 * path, and backup_env_open opens the two parts itself, each allowed to
 * fail. */
struct backup_env {
	struct lb_env env;         /* repo NULL when it did not answer (repo_err),
	                            * cat NULL when it cannot be opened */
	struct lb_err repo_err;
	struct setup_recipients rcpts;
	char (*fingerprints)[AGE_FINGERPRINT_LEN];
	char signer_fpr[SIG_FINGERPRINT_LEN];
	backup_progress_fn progress;
	void *progress_arg;
	const volatile sig_atomic_t *cancel;
	int level, threads;
};

/* What one member's chain reports while and after it runs. */
struct member_run {
	uint64_t pulled;           /* atomic: plaintext bytes into zstd */
	uint64_t stored;           /* atomic: bytes into the repository */
	uint64_t expected;         /* atomic: db size from Status, for ETA */
	int done;                  /* atomic */
	struct flt *sha;           /* sha256 of the stored bytes */
	struct flt *scan;          /* the snapshot's own revision */
	struct flt *zst;           /* the compressor, for the levels used */
	struct zstd_levels levels; /* read when the chain finished */
	int64_t revision;          /* -1 when the scan could not tell */
	char key[512];
	char stored_sha256[65];
	uint64_t stored_size;
};

struct run {
	struct backup_env *env;
	struct pull_plan *plan;
	struct member_run *m;
	char dir[256];
	char mkey[300];            /* its manifest's key */
	int stop_progress;         /* atomic */
};

/* A counting observer whose counter outlives the chain, for progress. */
struct flt_progress {
	struct flt base;
	uint64_t *counter;
};

static int
progress_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	__atomic_fetch_add(((struct flt_progress *)f)->counter, len, __ATOMIC_RELAXED);
	return flt_write(f->next, buf, len, err);
}

static void
progress_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops progress_ops = {
	"progress", progress_write, NULL, progress_free
};

static struct flt *
flt_progress_new(struct flt *next, uint64_t *counter)
{
	struct flt_progress *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->base.ops = &progress_ops;
	p->base.next = next;
	p->counter = counter;
	return &p->base;
}

/* progress -> bbolt scan -> gate -> zstd -> age -> sha256 -> progress
 * -> object, after pull's etcd trailer check.  There is no record yet, so
 * the gate (snapshot/gate.h) only refuses bytes that are not a bbolt
 * database: those must never become a member object. */
static int
make_chain(void *arg, size_t i, struct pull_target *t, struct flt_chain *c,
    struct lb_err *err)
{
	static const struct gate_want want = { -1, NULL, NULL, -1, -1, 1 };
	struct run *run = arg;
	struct member_run *m = &run->m[i];
	struct backup_env *e = run->env;
	struct gate_obs obs = { 0 };
	struct flt *f, *sha, *scan;
	char name[128];
	int r;

	m->sha = NULL;
	m->scan = NULL;
	m->zst = NULL;
	__atomic_store_n(&m->expected, (uint64_t)t->status.db_size, __ATOMIC_RELAXED);
	pull_safe_name(t->name, name, sizeof(name));
	snprintf(m->key, sizeof(m->key), "%s%s.db.zst.age", run->dir, name);
	if ((r = flt_chain_add(c, flt_progress_new(NULL, &m->pulled), NULL, err)) < 0 ||
	    (r = flt_chain_add(c, flt_bbolt_scan_new(NULL), &scan, err)) < 0)
		return r;
	obs.scan = scan;
	if ((r = gate_new(&want, &obs, GATE_WORDS_VERIFY, NULL, &f, err)) < 0 ||
	    (r = flt_chain_add(c, f, NULL, err)) < 0 ||
	    (r = flt_zstd_new(e->level, e->threads, NULL, &f, err)) < 0 ||
	    (r = flt_chain_add(c, f, &m->zst, err)) < 0 ||
	    (r = flt_age_enc_new(e->rcpts.v, e->rcpts.n, NULL, &f, err)) < 0 ||
	    (r = flt_chain_add(c, f, NULL, err)) < 0 ||
	    (r = flt_chain_add(c, flt_sha256_new(NULL), &sha, err)) < 0 ||
	    (r = flt_chain_add(c, flt_progress_new(NULL, &m->stored), NULL, err)) < 0 ||
	    (r = repo_put_new(e->env.repo, m->key, &f, err)) < 0 ||
	    (r = flt_chain_add(c, f, NULL, err)) < 0)
		return r;
	m->sha = sha;
	m->scan = scan;
	return 0;
}

static int
chain_finished(void *arg, size_t i, struct pull_target *t, struct lb_err *err)
{
	struct member_run *m = &((struct run *)arg)->m[i];
	struct bbolt_scan sc;
	uint8_t d[32];
	int r;

	flt_sha256_digest(m->sha, d);
	lb_hex(d, 32, m->stored_sha256);
	flt_zstd_levels(m->zst, &m->levels);
	m->stored_size = __atomic_load_n(&m->stored, __ATOMIC_RELAXED);
	if ((r = flt_bbolt_scan_result(m->scan, &sc, err)) < 0)
		return r;
	/* The revision etcdctl snapshot status would print; the Status taken
	 * before the pull is a lower bound when the scan cannot tell. */
	m->revision = sc.revision_known ? (int64_t)sc.revision : -1;
	if (!sc.revision_known)
		log_warn("%s: snapshot revision unknown (%s); recording %lld from Status",
		    t->name, sc.why, (long long)t->status.revision);
	return 0;
}

static void
progress_line(const struct run *run, size_t i, double elapsed, char *out,
    size_t cap)
{
	const struct member_run *m = &run->m[i];
	uint64_t pulled = __atomic_load_n(&m->pulled, __ATOMIC_RELAXED);
	uint64_t stored = __atomic_load_n(&m->stored, __ATOMIC_RELAXED);
	uint64_t expected = __atomic_load_n(&m->expected, __ATOMIC_RELAXED);
	double rate = elapsed > 0 ? (double)pulled / elapsed : 0;
	char p[32], s[32], rt[32], eta[32] = "";

	lb_fmt_size(pulled, p, sizeof(p));
	lb_fmt_size(stored, s, sizeof(s));
	lb_fmt_size((uint64_t)rate, rt, sizeof(rt));
	if (__atomic_load_n(&m->done, __ATOMIC_RELAXED))
		snprintf(eta, sizeof(eta), "done");
	else if (expected > pulled && rate > 0)
		snprintf(eta, sizeof(eta), "ETA %.0fs", (double)(expected - pulled) / rate);
	snprintf(out, cap, "%-16s pulled %10s  stored %10s  %10s/s  %s",
	    run->plan->t[i].name, p, s, rt, eta);
}

/* Hands each member's progress line to the caller's progress function
 * every 250 ms, and once more at the end. */
static void *
progress_thread(void *arg)
{
	struct run *run = arg;
	const struct backup_env *e = run->env;
	const double start = lb_mono_now();
	const size_t n = run->plan->n;
	char (*text)[256];
	const char **lines;
	size_t i;

	text = calloc(n, sizeof(*text));
	lines = calloc(n, sizeof(*lines));
	if (text == NULL || lines == NULL)
		goto out;
	for (i = 0; i < n; i++)
		lines[i] = text[i];
	for (;;) {
		int stop = __atomic_load_n(&run->stop_progress, __ATOMIC_RELAXED);
		double now = lb_mono_now();

		for (i = 0; i < n; i++)
			progress_line(run, i, now - start, text[i], sizeof(text[i]));
		e->progress(e->progress_arg, lines, n, stop);
		if (stop)
			break;
		usleep(250 * 1000);
	}
out:
	free(lines);
	free(text);
	return NULL;
}

struct hashkv_job {
	const char *endpoint;
	const struct etcd_opts *opts;
	int64_t rev;                /* in: 0 = ask Status first; out: revision */
	uint32_t hash;
	int64_t compact;            /* the compaction the hash starts from */
	int rc;
	struct lb_err err;
};

static void *
hashkv_thread(void *arg)
{
	struct hashkv_job *j = arg;
	struct etcd_client *c = NULL;
	struct etcd_status st;

	if ((j->rc = etcd_open(j->endpoint, j->opts, &c, &j->err)) == 0) {
		if (j->rev == 0) {
			if ((j->rc = etcd_status(c, &st, &j->err)) == 0)
				j->rev = st.revision;
		} else {
			j->rc = etcd_hashkv(c, j->rev, &j->hash, &j->compact, NULL, &j->err);
		}
	}
	etcd_close(c);
	return NULL;
}

/* Runs one call per job on every member at once: HashKV walks a member's
 * whole key space, so members answer in parallel rather than in turn. */
static int
hashkv_round(struct hashkv_job *jobs, size_t n, struct lb_err *err)
{
	pthread_t th[64];
	size_t i, started = 0;

	for (i = 0; i < n && i < 64; i++, started++)
		if (pthread_create(&th[i], NULL, hashkv_thread, &jobs[i]) != 0)
			break;
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < n; i++) {
		if (i >= started)
			return lb_err_set(err, LB_E_NOMEM, "cannot start a thread");
		if (jobs[i].rc < 0) {
			*err = jobs[i].err;
			return jobs[i].rc;
		}
	}
	return 0;
}

/* Rounds of HashKV at one revision while the members answer from
 * different compactions. */
#define HASHKV_TRIES 5

/* HashKV at one revision every member has, compared across members:
 * etcd has shipped data-inconsistency bugs, and a backup is where people
 * should learn of one.  A single member's HashKV is recorded too (restore
 * checks the restored data against it): in a one-member cluster nothing
 * can diverge, so it is consistent; one member answering of several is
 * not a comparison ("consistent": null).
 *
 * A hash covers the revisions from the member's compact revision on, and
 * members apply a compaction each at its own moment: answers from
 * different compactions differ with nothing wrong (the Kubernetes API
 * server compacts every 5 minutes; a round can straddle one).  As etcd's
 * own corruption check does, hashes are compared only between answers of
 * one compact revision: the round is asked again while they differ, and
 * if they never agree the check is left undone (an error, not a
 * divergence). */
static void
check_consistency(struct run *run, const struct etcd_opts *o,
    struct manifest *mf, struct backup_result *res)
{
	struct pull_plan *p = run->plan;
	struct hashkv_job jobs[64];
	size_t idx[64], i, n = 0, differ = 0;
	struct lb_err err;
	int64_t rev = 0, lo, hi;
	int tries, same = 0;

	for (i = 0; i < p->n && n < 64; i++) {
		if (p->t[i].rc != 0)
			continue;
		memset(&jobs[n], 0, sizeof(jobs[n]));
		jobs[n].endpoint = p->t[i].endpoint;
		jobs[n].opts = o;
		idx[n++] = i;
	}
	if (n == 0)
		return;
	for (tries = 1; tries <= HASHKV_TRIES && !same; tries++) {
		/* the revision anew each time: a compaction may pass the last */
		for (rev = 0, i = 0; i < n; i++)
			jobs[i].rev = 0;
		if (hashkv_round(jobs, n, &err) < 0)
			goto fail;
		for (i = 0; i < n; i++)
			if (rev == 0 || jobs[i].rev < rev)
				rev = jobs[i].rev;
		for (i = 0; i < n; i++)
			jobs[i].rev = rev;
		if (hashkv_round(jobs, n, &err) < 0)
			goto fail;
		for (lo = hi = jobs[0].compact, i = 1; i < n; i++) {
			lo = jobs[i].compact < lo ? jobs[i].compact : lo;
			hi = jobs[i].compact > hi ? jobs[i].compact : hi;
		}
		if (!(same = lo == hi))
			log_info("cluster %s: HashKV at revision %lld answered from compact "
			    "revisions %lld to %lld (a compaction under way)%s", mf->cluster,
			    (long long)rev, (long long)lo, (long long)hi,
			    tries < HASHKV_TRIES ? "; asking again" : "");
	}
	if (!same) {
		lb_err_set(&err, LB_E_REMOTE, "HashKV at revision %lld: the members answered "
		    "from different compactions %d times in a row", (long long)rev,
		    HASHKV_TRIES);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		struct manifest_member *mm = &mf->members[idx[i]];
		mm->has_hashkv = 1;
		mm->hashkv = jobs[i].hash;
		if (jobs[i].hash != jobs[0].hash)
			differ++;
	}
	mf->consistency_revision = rev;
	mf->consistent = n >= 2 || p->n == 1 ? differ == 0 : -1;
	if (differ > 0) {
		res->divergent = 1;
		log_error("cluster %s: members DIVERGE: HashKV at revision %lld differs "
		    "across members (see the manifest of backup %s); the cluster's data "
		    "is inconsistent", mf->cluster, (long long)rev, mf->backup_id);
	}
	return;
fail:
	lb_err_prefix(&err, "consistency check: ");
	log_warn("cluster %s: %s", mf->cluster, err.msg);
	mf->consistency_error = strdup(err.msg);
}

static void
ts_rfc3339(const struct timespec *ts, char **out)
{
	char buf[32];
	struct tm tm;

	gmtime_r(&ts->tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	*out = strdup(buf);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* The cluster's head in the bucket, when it can be read and, where
 * trusted signers are set, a trusted key signed it: 1 with *h, else 0.
 * Another appliance backing up the same cluster (one at a time, under
 * the etcd lock) moves it on; this one's catalog does not see that. */
static int
read_head(struct backup_env *e, const char *cluster, struct head *h)
{
	struct lb_err e2;
	int found = 0;

	if (e->env.repo == NULL)
		return 0;
	if (trust_head_read(e->env.repo, e->env.trust, cluster, h, &found, &e2) == 0)
		return 1;
	if (found)
		log_warn("cluster=%s not used for the chain: %s", cluster, e2.msg);
	return 0;
}

/* Links mf after the end of its cluster's chain (manifest.h: sequence,
 * previous_manifest_sha256): the catalog's newest manifest, or the
 * bucket's head when it is further on; names the signer, and makes *json
 * and, with a signing key, *sig (SSHSIG, armored).  Neither known: the
 * chain starts at 1, said in the log. */
static int
chain_and_sign(struct backup_env *e, struct manifest *mf, const char *cluster,
    char **json, char **sig, struct lb_err *err)
{
	struct lb_err e2;
	struct head h;
	char *prev = NULL;
	int r;

	*json = *sig = NULL;
	lb_err_clear(&e2);
	if (e->env.cat != NULL &&
	    cat_manifest_last(e->env.cat, cluster, &prev, &e2) < 0 && e2.code != LB_E_NOTFOUND)
		log_warn("cluster=%s manifest chain: catalog: %s", cluster, e2.msg);
	if ((r = manifest_chain_after(mf, prev, &e2)) < 0)
		/* a catalog row that does not parse must not stop backups */
		log_warn("cluster=%s manifest chain: %s", cluster, e2.msg);
	free(prev);
	if (read_head(e, cluster, &h) && h.sequence >= mf->sequence) {
		log_info("cluster=%s manifest chain continues from the bucket's head: backup %s, "
		    "sequence %lld", cluster, h.backup_id, (long long)h.sequence);
		free(mf->previous_sha256);
		if ((mf->previous_sha256 = strdup(h.manifest_sha256)) == NULL)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
		mf->sequence = h.sequence + 1;
	} else if (e->env.cat == NULL && mf->sequence == 1) {
		log_warn("cluster=%s manifest chain unknown (no catalog, no head): starting at 1",
		    cluster);
	}
	if (e->env.signer != NULL && (mf->signer = strdup(e->signer_fpr)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if ((r = manifest_to_json(mf, json, err)) < 0)
		return r;
	if (e->env.signer != NULL &&
	    (r = sig_sign(e->env.signer, *json, strlen(*json), MANIFEST_SIG_NS, sig, err)) < 0)
		return lb_err_prefix(err, "signing the manifest: ");
	return 0;
}

/* How long a head stays valid: until the run after the run after the
 * one the schedule has next is overdue, about four intervals of an
 * @every schedule; an hour when the schedule cannot tell. */
static int64_t
head_valid_until(const struct cfg *c, const char *cluster, time_t now)
{
	const char *expr = cfg_get_str(c, cluster, CFG_SCHEDULE);
	const char *tz = cfg_get_str(c, NULL, CFG_TIMEZONE);
	struct sched *s = NULL;
	struct lb_err e;
	time_t a = 0, b = 0;

	if (sched_parse(expr != NULL ? expr : SCHED_DEFAULT, &s, &e) < 0 ||
	    sched_overdue_at(s, now, tz, &a, &e) < 0 || sched_overdue_at(s, a, tz, &b, &e) < 0)
		b = now + 3600;
	sched_free(s);
	return (int64_t)b;
}

/* Rewrites the cluster's head (repo/head.h) to the end of its chain,
 * json (this run's manifest, or the newest the catalog has after a
 * failed run), signed when there is a signing key: the signature first,
 * so a reader between the two sees a mismatch, never an unsigned head.
 * What replaces the old head: only a head as far on or further; one that
 * names a later sequence (another appliance's backup, which this
 * catalog does not have) is kept.  A head not written is logged: the
 * backup itself is good. */
static void
write_head(struct backup_env *e, const char *cluster, const char *json)
{
	struct manifest *mf = NULL;
	struct head h;
	struct lb_err err;
	char key[300], skey[310], *hj = NULL, *sig = NULL;
	int r;

	lb_err_clear(&err);
	memset(&h, 0, sizeof(h));
	if ((r = head_key(cluster, key, sizeof(key))) < 0 ||
	    (r = manifest_parse(json, strlen(json), &mf, &err)) < 0)
		goto out;
	if (read_head(e, cluster, &h) && h.sequence > mf->sequence) {
		log_warn("cluster=%s head kept: it names backup %s at sequence %lld, further "
		    "on than %s (%lld)", cluster, h.backup_id, (long long)h.sequence,
		    mf->backup_id, (long long)mf->sequence);
		goto out;
	}
	memset(&h, 0, sizeof(h));
	snprintf(h.cluster, sizeof(h.cluster), "%s", cluster);
	snprintf(h.backup_id, sizeof(h.backup_id), "%s", mf->backup_id);
	h.sequence = mf->sequence;
	manifest_sha256_hex(json, strlen(json), h.manifest_sha256);
	h.signed_at = (int64_t)time(NULL);
	h.valid_until = head_valid_until(e->env.cfg, cluster, (time_t)h.signed_at);
	if (e->env.signer != NULL)
		snprintf(h.signer, sizeof(h.signer), "%s", e->signer_fpr);
	if ((r = head_to_json(&h, &hj, &err)) < 0)
		goto out;
	if (e->env.signer != NULL) {
		snprintf(skey, sizeof(skey), "%s.sig", key);
		if ((r = sig_sign(e->env.signer, hj, strlen(hj), HEAD_SIG_NS, &sig, &err)) < 0 ||
		    (r = repo_put_buf(e->env.repo, skey, sig, strlen(sig), &err)) < 0)
			goto out;
	}
	r = repo_put_buf(e->env.repo, key, hj, strlen(hj), &err);
out:
	if (r < 0)
		log_warn("cluster=%s head not rewritten: %s", cluster, err.msg);
	manifest_free(mf);
	free(hj);
	free(sig);
}

/* Fills the manifest from the pull; NULL fields are out of memory, which
 * manifest_to_json then reports. */
static void
fill_manifest(struct run *run, struct manifest *mf, const char *cluster,
    const char *backup_id, const struct timespec *started)
{
	struct pull_plan *p = run->plan;
	char idbuf[17], host[256] = "";
	const struct manifest_member *best;
	uint64_t most_stored = 0;
	size_t i;

	mf->backup_id = strdup(backup_id);
	mf->cluster = strdup(cluster);
	etcd_id_str(p->cluster_id, idbuf);
	mf->cluster_id = strdup(idbuf);
	ts_rfc3339(started, &mf->started_at);
	gethostname(host, sizeof(host) - 1);
	mf->hostname = strdup(host);
	mf->compress_level = zstd_level_fixed(run->env->level);
	mf->compress_threads = run->env->threads;
	mf->compress_auto = run->env->level == ZSTD_LEVEL_AUTO;
	if ((mf->recipients = calloc(run->env->rcpts.n, sizeof(char *))) != NULL)
		for (i = 0; i < run->env->rcpts.n; i++)
			mf->recipients[mf->n_recipients++] = strdup(run->env->fingerprints[i]);
	for (i = 0; i < p->n; i++) {
		const struct pull_target *t = &p->t[i];
		struct manifest_member *mm = manifest_add_member(mf);
		char hex[65];

		if (mm == NULL)
			break;
		mm->name = strdup(t->name);
		mm->id = strdup(t->id_hex);
		mm->endpoint = dup_or_null(t->endpoint);
		mm->learner = t->is_learner;
		mm->leader = t->is_leader;
		ts_rfc3339(&t->started, &mm->started_at);
		ts_rfc3339(&t->finished, &mm->finished_at);
		if (t->is_leader)
			mf->leader = strdup(t->name);
		if (t->status.version[0] != '\0') {
			mm->etcd_version = strdup(t->status.version);
			if (mf->etcd_version == NULL)
				mf->etcd_version = strdup(t->status.version);
		}
		if (t->rc != 0) {
			mm->status = strdup("failed");
			mm->error = strdup(t->err.msg);
			continue;
		}
		mm->status = strdup("ok");
		mm->revision = run->m[i].revision >= 0 ? run->m[i].revision :
		    t->status.revision;
		mm->raft_index = t->status.raft_index;
		mm->raft_term = t->status.raft_term;
		mm->db_size = t->db_size;
		lb_hex(t->etcd_sha256, 32, hex);
		mm->etcd_sha256 = strdup(hex);
		mm->object = strdup(run->m[i].key);
		mm->stored_size = run->m[i].stored_size;
		mm->stored_sha256 = strdup(run->m[i].stored_sha256);
		mm->compress_level = run->m[i].levels.most;
		mm->compress_level_min = run->m[i].levels.min;
		mm->compress_level_max = run->m[i].levels.max;
		/* auto: the backup's level is that of its largest member */
		if (mf->compress_auto && mm->stored_size > most_stored) {
			most_stored = mm->stored_size;
			mf->compress_level = mm->compress_level;
		}
		mf->stored_size += mm->stored_size;
	}
	if ((best = manifest_best_member(mf)) != NULL) {
		mf->revision = best->revision;
		mf->db_size = best->db_size;
	}
}

/* A per-cluster lock file beside the catalog: one backup of a cluster at
 * a time on this machine, and a running row seen while holding it is the
 * leftover of a dead process. */
static int
lock_cluster(const struct cfg *c, const char *cluster, int *fd,
    struct lb_err *err)
{
	const char *catalog = cfg_get_str(c, NULL, CFG_CATALOG);
	char path[4096];

	snprintf(path, sizeof(path), "%s.%s.lock", catalog, cluster);
	if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return lb_err_sys(err, LB_E_IO, errno, "lock file %s", path);
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(*fd);
		*fd = -1;
		if (e == EWOULDBLOCK)
			/* callers name the cluster already */
			return lb_err_set(err, LB_E_BUSY, "another backup of this cluster "
			    "is running on this machine (lock %s held)", path);
		return lb_err_sys(err, LB_E_IO, e, "lock %s", path);
	}
	return 0;
}

/* The catalog's part of a run, written now or, when the catalog is locked
 * or unusable, spooled for the next run (catalog/spool.h). */
static void
catalog_write(struct backup_env *e, const struct cat_spool_rec *rec)
{
	const char *path = e->env.catalog_path;
	struct lb_err err;

	lb_err_clear(&err);
	if (e->env.cat != NULL && cat_spool_apply(e->env.cat, rec, &err) == 0) {
		/* An earlier record of this run (its spooled start) is
		 * superseded by what the catalog has just committed. */
		cat_spool_remove(path, rec);
		return;
	}
	if (cat_spool_write(path, rec, &err) == 0)
		log_warn("catalog: %s; backup %s kept in %s.pending for the next run",
		    e->env.cat != NULL ? err.msg : "not open", rec->backup_id, path);
	else
		log_error("catalog: %s (the backup is in the repository; "
		    "'lifeboat catalog rebuild' recovers it)", err.msg);
}

static void
catalog_record(struct backup_env *e, struct cat_spool_rec *rec,
    const struct backup_result *res, const char *manifest_json)
{
	static const enum cat_status st[] = { CAT_COMPLETE, CAT_PARTIAL, CAT_FAILED };
	struct journal_event ev = { .action = "backup", .cluster = rec->cluster,
	    .backup_id = rec->backup_id };
	struct lb_err err;
	json_t *d;
	char *details, key[JOURNAL_KEY_MAX];

	d = json_pack("{s:i,s:i,s:I,s:I,s:I,s:I,s:b,s:f}", "members_ok",
	    (int)res->members_ok, "members_total", (int)res->members_total,
	    "revision", (json_int_t)res->revision,
	    "revision_seen", (json_int_t)res->revision_seen,
	    "db_size", (json_int_t)res->db_size,
	    "stored_size", (json_int_t)res->stored, "divergent", res->divergent,
	    "seconds", res->seconds);
	if (d != NULL && res->err.code != 0)
		json_object_set_new(d, "error", json_string(res->err.msg));
	details = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
	rec->status = st[res->outcome];
	rec->error = res->outcome == BACKUP_COMPLETE && !res->divergent ? NULL : res->err.msg;
	rec->manifest = manifest_json;
	rec->details = details;
	/* The same event in the repository's audit trail (repo/journal.h),
	 * named by the catalog's row, at its time even from the spool. */
	ev.at_ms = lb_wall_ms();
	ev.outcome = cat_status_name(rec->status);
	ev.details = details;
	rec->audit_at = ev.at_ms / 1000;
	if (e->env.repo != NULL) {
		if (journal_put(e->env.repo, e->env.signer, &ev, key, &err) == 0)
			rec->audit_ref = key;
		else
			log_warn("audit backup: %s", err.msg);
	}
	catalog_write(e, rec);
	/* The lock just sent on the manifest (the last object written, so
	 * the latest): prune then skips this backup without asking the
	 * store.  Taken now, a moment after the PUT: never too early. */
	if (manifest_json != NULL && e->env.repo != NULL && e->env.cat != NULL &&
	    repo_has_locks(e->env.repo)) {
		char k[600];
		int64_t until;

		snprintf(k, sizeof(k), "%s/%s", rec->cluster, MANIFEST_NAME);
		until = repo_lock_until_for(e->env.repo, k, (int64_t)time(NULL), NULL);
		lb_err_clear(&err);
		if (until > 0 && cat_set_locked_until(e->env.cat, rec->backup_id, until,
		    &err) < 0)
			log_warn("catalog: %s", err.msg);
	}
	free(details);
	json_decref(d);
}

/* The outcome of a run whose manifest is in the repository. */
static void
set_finished(struct backup_result *res, size_t n_members)
{
	res->outcome = res->members_ok == n_members ? BACKUP_COMPLETE : BACKUP_PARTIAL;
	if (res->divergent && res->outcome == BACKUP_COMPLETE)
		lb_err_set(&res->err, LB_E_CORRUPT, "members diverge (HashKV)");
}

/* What a failed run stored is not a backup and goes, but only with proof
 * that no manifest names it: a manifest PUT that failed may have landed
 * all the same (its answer lost on the way back), so then the store is
 * asked.  A manifest that is there makes the run what it was about to be.
 * Returns 1 when the run is settled (nothing of it left, or it turned out
 * finished), 0 when in doubt: nothing is deleted, and the next run's
 * settling decides by the same rule. */
static int
discard_run(struct backup_env *e, const struct run *run, int manifest_sent,
    struct backup_result *res)
{
	struct lb_err err;
	int r;

	lb_err_clear(&err);
	if (manifest_sent) {
		if ((r = repo_absent(e->env.repo, run->mkey, &err)) == 0) {
			log_warn("backup %s: the manifest landed although its upload "
			    "reported an error (%s)", res->backup_id, res->err.msg);
			lb_err_clear(&res->err);
			set_finished(res, run->plan->n);
			return 1;
		}
		if (r < 0)
			return 0;
	}
	/* The manifest is certainly absent and this run is the only writer
	 * under its id: its directory is garbage. */
	if (repo_delete_prefix(e->env.repo, run->dir, NULL, &err) < 0) {
		log_warn("backup %s: cannot remove what it stored: %s", res->backup_id,
		    err.msg);
		return 0;
	}
	return 1;
}

int
backup_cluster(struct backup_env *e, const char *cluster, struct backup_result *res)
{
	struct etcd_opts o;
	struct pull_hooks hooks;
	struct manifest *mf = NULL;
	struct run run;
	struct timespec started, finished;
	pthread_t progress;
	char *password = NULL, *json = NULL, *sig = NULL, host[256] = "", skey[310];
	const char *const *eps = NULL;
	double t0 = lb_mono_now();
	size_t n_eps, i;
	struct cat_spool_rec rec;
	int r, lock_fd = -1, have_progress = 0, begun = 0, manifest_sent = 0;

	memset(res, 0, sizeof(*res));
	memset(&run, 0, sizeof(run));
	memset(&rec, 0, sizeof(rec));
	run.env = e;
	res->outcome = BACKUP_FAILED;
	clock_gettime(CLOCK_REALTIME, &started);
	manifest_new_backup_id(res->backup_id);
	if (manifest_backup_dir(cluster, res->backup_id, run.dir, sizeof(run.dir)) < 0 ||
	    manifest_key(cluster, res->backup_id, run.mkey, sizeof(run.mkey)) < 0) {
		r = lb_err_set(&res->err, LB_E_CONFIG, "cluster name too long");
		goto out;
	}
	if ((r = setup_etcd_opts(e->env.cfg, cluster, &o, &password, &res->err)) < 0)
		goto out;
	o.cancel = e->cancel;
	if ((r = lock_cluster(e->env.cfg, cluster, &lock_fd, &res->err)) < 0)
		goto out;
	settle_interrupted(&e->env, cluster);

	gethostname(host, sizeof(host) - 1);
	rec.cluster = cluster;
	rec.backup_id = res->backup_id;
	rec.host = host;
	rec.started_at = (int64_t)started.tv_sec;
	rec.status = CAT_RUNNING;
	catalog_write(e, &rec);
	begun = 1;
	if (e->env.repo == NULL) {
		res->err = e->repo_err;
		r = res->err.code;
		goto out;
	}
	n_eps = cfg_get_list(e->env.cfg, cluster, CFG_ENDPOINTS, &eps);
	if ((r = pull_plan_discover((char *const *)eps, n_eps, &o, &run.plan,
	    &res->err)) < 0)
		goto out;
	res->members_total = run.plan->n;
	if ((run.m = calloc(run.plan->n, sizeof(*run.m))) == NULL) {
		r = lb_err_set(&res->err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	log_info("backup %s of cluster %s: %zu members", res->backup_id, cluster,
	    run.plan->n);
	if (e->progress != NULL &&
	    pthread_create(&progress, NULL, progress_thread, &run) == 0)
		have_progress = 1;
	hooks.make_chain = make_chain;
	hooks.finished = chain_finished;
	hooks.arg = &run;
	res->members_ok = pull_run(run.plan, &o, (int)run.plan->n, &hooks);
	for (i = 0; i < run.plan->n; i++) {
		__atomic_store_n(&run.m[i].done, 1, __ATOMIC_RELAXED);
		res->pulled += run.m[i].pulled;
		res->stored += run.m[i].stored_size;
		if (run.plan->t[i].status.revision > res->revision_seen)
			res->revision_seen = run.plan->t[i].status.revision;
		if (run.plan->t[i].rc != 0) {
			log_error("%s", run.plan->t[i].err.msg);
			/* the error to act on (auth, TLS) before a down member's */
			if (res->err.code == 0 || (res->err.code == LB_E_NET &&
			    run.plan->t[i].err.code != LB_E_NET))
				res->err = run.plan->t[i].err;
		}
	}
	if (have_progress) {
		__atomic_store_n(&run.stop_progress, 1, __ATOMIC_RELAXED);
		pthread_join(progress, NULL);
		have_progress = 0;
	}
	if (res->members_ok == 0) {
		r = res->err.code != 0 ? res->err.code : LB_E_INTERNAL;
		goto out;
	}

	if ((mf = manifest_new()) == NULL) {
		r = lb_err_set(&res->err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	fill_manifest(&run, mf, cluster, res->backup_id, &started);
	check_consistency(&run, &o, mf, res);
	mf->status = strdup(res->members_ok == run.plan->n ? "complete" : "partial");
	clock_gettime(CLOCK_REALTIME, &finished);
	ts_rfc3339(&finished, &mf->finished_at);
	res->revision = mf->revision;
	res->db_size = mf->db_size;
	if ((r = chain_and_sign(e, mf, cluster, &json, &sig, &res->err)) < 0)
		goto out;
	/* The signature, then the manifest last: until the manifest exists
	 * the backup does not, and once it does its signature is there. */
	if (sig != NULL) {
		snprintf(skey, sizeof(skey), "%s.sig", run.mkey);
		if ((r = repo_put_buf(e->env.repo, skey, sig, strlen(sig), &res->err)) < 0) {
			lb_err_prefix(&res->err, "manifest signature: ");
			goto out;
		}
	}
	manifest_sent = 1;
	if ((r = repo_put_buf(e->env.repo, run.mkey, json, strlen(json), &res->err)) < 0) {
		lb_err_prefix(&res->err, "manifest: ");
		goto out;
	}
	set_finished(res, run.plan->n);
	r = 0;
out:
	if (have_progress) {
		__atomic_store_n(&run.stop_progress, 1, __ATOMIC_RELAXED);
		pthread_join(progress, NULL);
	}
	res->seconds = lb_mono_now() - t0;
	if (res->outcome == BACKUP_FAILED) {
		if (res->err.code == 0)
			lb_err_set(&res->err, r, "backup failed");
		if (run.plan != NULL && discard_run(e, &run, manifest_sent, res)) {
			if (res->outcome != BACKUP_FAILED)
				r = 0;
		} else if (run.plan != NULL) {
			log_error("backup %s: %s; what it stored is kept, and the next run of "
			    "cluster %s settles it", res->backup_id, res->err.msg, cluster);
			begun = 0;    /* the row stays running: settling decides */
		}

	}
	/* A failed run has no manifest in the repository, whatever it built. */
	if (begun)
		catalog_record(e, &rec, res, res->outcome == BACKUP_FAILED ? NULL : json);
	/* The head names this run's backup once it exists (also when only
	 * the manifest's answer was lost); a failed run renews it with what
	 * the chain has: the appliance is alive, nothing newer exists
	 * (repo/head.h). */
	if (e->env.repo != NULL && res->outcome != BACKUP_FAILED && json != NULL) {
		write_head(e, cluster, json);
	} else if (e->env.repo != NULL && e->env.cat != NULL) {
		char *last = NULL;
		struct lb_err e2;
		if (cat_manifest_last(e->env.cat, cluster, &last, &e2) == 0)
			write_head(e, cluster, last);
		free(last);
	}
	manifest_free(mf);
	free(json);
	free(sig);
	free(run.m);
	pull_plan_free(run.plan);
	lb_secret_free(password);
	if (lock_fd >= 0)
		close(lock_fd);
	return r;
}

int
backup_env_open(const struct cfg *c, backup_progress_fn progress,
    void *progress_arg, const volatile sig_atomic_t *cancel,
    struct backup_env **out, struct lb_err *err)
{
	struct backup_env *e;
	size_t i;
	int r;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if ((r = env_open_cfg(c, 0, &e->env, err)) < 0)
		goto out;
	e->progress = progress;
	e->progress_arg = progress_arg;
	e->cancel = cancel;
	e->level = (int)cfg_get_int(c, NULL, CFG_COMPRESS_LEVEL);
	e->threads = (int)cfg_get_int(c, NULL, CFG_COMPRESS_THREADS);
	if ((r = setup_recipients(c, &e->rcpts, err)) < 0 ||
	    (r = setup_signing_key(c, &e->env.signer, err)) < 0 ||
	    (r = setup_trusted_signers(c, NULL, &e->env.trust, err)) < 0)
		goto out;
	if (e->env.signer != NULL)
		sig_key_fingerprint(e->env.signer, e->signer_fpr);
	if ((e->fingerprints = calloc(e->rcpts.n, sizeof(*e->fingerprints))) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < e->rcpts.n; i++)
		age_recipient_fingerprint(e->rcpts.v[i], e->fingerprints[i]);
	/* A repository that does not answer fails each backup on its own,
	 * recorded as such; only a wrong configuration stops here. */
	if ((r = setup_repo(c, &e->env.repo, &e->repo_err)) < 0) {
		if (r == LB_E_CONFIG || r == LB_E_NOMEM) {
			*err = e->repo_err;
			goto out;
		}
		r = 0;
	} else if ((r = repo_lock_check(e->env.repo, err)) < 0) {
		/* s3-object-lock on a bucket that cannot lock: every object
		 * would be refused (or, on a lax store, stored unlocked). */
		if (r == LB_E_CONFIG)
			goto out;
		log_warn("%s", err->msg);
		lb_err_clear(err);
		r = 0;
	}
	if (cat_open(e->env.catalog_path, 0, &e->env.cat, err) < 0) {
		/* The repository is the truth; a broken catalog must not stop
		 * backups, and rebuild recovers what it missed. */
		log_error("catalog: %s; backing up without it", err->msg);
		lb_err_clear(err);
		e->env.cat = NULL;
	}
	*out = e;
	e = NULL;
out:
	backup_env_close(e);
	return r;
}

void
backup_env_close(struct backup_env *e)
{
	if (e == NULL)
		return;
	env_close(&e->env);
	setup_recipients_release(&e->rcpts);
	free(e->fingerprints);
	free(e);
}

int
backup_exit_status(const struct backup_result *res, size_t n)
{
	int status = 0;

	for (size_t i = 0; i < n; i++) {
		if (res[i].outcome == BACKUP_FAILED)
			return 1;
		if (res[i].divergent)
			status = 4;
		else if (res[i].outcome == BACKUP_PARTIAL && status == 0)
			status = 3;
	}
	return status;
}
