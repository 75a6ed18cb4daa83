/*
 * source.c: which backup to restore, and its member object fetched into a
 * verified plaintext snapshot file (restore.h, "the source").  Reads the
 * catalog or the repository; writes only the snapshot file.
 */
#include "restore/restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include "catalog/catalog.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "env/env.h"
#include "env/journal.h"
#include "env/setup.h"
#include "env/trust.h"
#include "repo/head.h"
#include "repo/repo.h"
#include "snapshot/bbolt_scan.h"
#include "snapshot/gate.h"
#include "snapshot/trailer.h"
#include "stream/age.h"
#include "stream/flt.h"
#include "stream/zstd_filter.h"

/* env holds the configuration, the repository and the catalog, opened by
 * restore_source_open: the catalog only when its file exists, and one that
 * does not open leaves env.cat NULL (the repository is read instead), which
 * ENV_CAT would make a failure; so the catalog is opened here. */
struct restore_source {
	struct lb_env env;
	struct age_identity *id;
	struct manifest *mf;
	const char *origin;
	enum trust_result trust;   /* what the signature check found */
	const char *head;          /* what the head check found (check_head) */
};

/* ---- the head ------------------------------------------------------------ */

/* Compares the cluster's signed head (repo/head.h) with the backup chosen
 * from the bucket and the newest sequence the catalog has seen, and says
 * loudly what does not agree.  Never fails: an operator may have to
 * restore from what is left.  s->head gets one word for the audit. */
static void
check_head(struct restore_source *s, int latest)
{
	const struct manifest *mf = s->mf;
	char key[300], what[320], t[32];
	struct head h;
	struct lb_err e;
	int64_t seen = 0, now = (int64_t)time(NULL);
	int found;

	s->head = "missing";
	if (head_key(mf->cluster, key, sizeof(key)) < 0)
		return;
	snprintf(what, sizeof(what), "head %s", key);
	if (trust_head_read(s->env.repo, s->env.trust, mf->cluster, &h, &found, &e) < 0) {
		if (!found) {
			log_warn("%s: whether newer backups were deleted cannot be told (a "
			    "bucket from before signed heads, or a deleted head)", e.msg);
		} else {
			s->head = "untrusted";
			log_error("%s; not used", e.msg);
		}
		return;
	}
	s->head = "ok";
	if (s->env.cat != NULL && cat_sequence_max(s->env.cat, mf->cluster, &seen, &e) == 0 &&
	    h.sequence < seen) {
		s->head = "rollback";
		log_error("ROLLBACK: %s names backup %s at sequence %lld, but this "
		    "appliance's catalog has seen sequence %lld of cluster %s: the bucket "
		    "was rolled back, or newer backups and their head were replaced", what,
		    h.backup_id, (long long)h.sequence, (long long)seen, mf->cluster);
	}
	if (now > h.valid_until) {
		s->head = strcmp(s->head, "ok") == 0 ? "stale" : s->head;
		log_error("STALE HEAD: %s was valid until %s: newer backups may have been "
		    "deleted or withheld since (or the appliance stopped backing up %s)",
		    what, cat_time_format(h.valid_until, t, sizeof(t)), mf->cluster);
	}
	if (latest && mf->sequence > 0 && h.sequence > mf->sequence) {
		s->head = strcmp(s->head, "ok") == 0 ? "ahead" : s->head;
		log_error("MISSING BACKUPS: %s names backup %s (sequence %lld), newer than "
		    "%s (sequence %lld), the newest usable one found: the newer ones were "
		    "deleted or are not trusted", what, h.backup_id, (long long)h.sequence,
		    mf->backup_id, (long long)mf->sequence);
	}
}

/* ---- from the catalog -------------------------------------------------- */

static int
take_first(const struct cat_backup *b, void *arg)
{
	char **json = arg;

	if (b->manifest != NULL && (*json = strdup(b->manifest)) == NULL)
		return LB_E_NOMEM;
	return 1;
}

/* Keeps a copy of the one backup listed (ids and times only). */
static int
take_oldest(const struct cat_backup *b, void *arg)
{
	struct cat_backup **out = arg;

	if ((*out = calloc(1, sizeof(**out))) == NULL ||
	    ((*out)->id = strdup(b->id)) == NULL)
		return LB_E_NOMEM;
	(*out)->started_at = b->started_at;
	return 1;
}

/* The newest complete backup at or below a revision: listed newest
 * first, the first whose revision is low enough (revisions grow with
 * time, but a restored cluster may have gone back: the list is walked). */
struct by_rev {
	int64_t max;
	char *json;
	int64_t lowest;
};

static int
take_by_rev(const struct cat_backup *b, void *arg)
{
	struct by_rev *br = arg;

	if (b->revision > 0 && (br->lowest == 0 || b->revision < br->lowest))
		br->lowest = b->revision;
	if (b->revision < 0 || b->revision > br->max || b->manifest == NULL)
		return 0;
	if ((br->json = strdup(b->manifest)) == NULL)
		return LB_E_NOMEM;
	return 1;
}

static int
from_catalog(struct restore_source *s, const struct restore_select *sel,
    struct lb_err *err)
{
	struct cat_backup *b = NULL;
	struct cat_filter f = { 0 };
	char *json = NULL, key[1200];
	int r = 0;

	if (sel->backup_id != NULL && strcmp(sel->backup_id, "latest") != 0) {
		if ((r = cat_backup_get(s->env.cat, sel->backup_id, CAT_WITH_MANIFEST, &b,
		    err)) < 0) {
			if (r == LB_E_NOTFOUND)
				lb_err_set(err, r, "backup %s not found in the catalog "
				    "(hint: 'lifeboat catalog list', or --repo URL to read "
				    "the repository)", sel->backup_id);
			goto out;
		}
		if (sel->cluster != NULL && strcmp(b->cluster, sel->cluster) != 0) {
			r = lb_err_set(err, LB_E_NOTFOUND, "backup %s belongs to cluster "
			    "%s, not %s", sel->backup_id, b->cluster, sel->cluster);
			goto out;
		}
		if (b->manifest == NULL || (json = strdup(b->manifest)) == NULL) {
			r = lb_err_set(err, LB_E_NOTFOUND, "backup %s has no manifest "
			    "(status %s): nothing to restore", sel->backup_id,
			    cat_status_name(b->status));
			goto out;
		}
	} else if (sel->max_rev > 0) {
		struct by_rev br = { sel->max_rev, NULL, 0 };
		f.cluster = sel->cluster;
		f.status = CAT_COMPLETE;
		f.newest_first = 1;
		f.skip_future = 1;
		if ((r = cat_backup_list(s->env.cat, &f, CAT_WITH_MANIFEST, take_by_rev, &br,
		    err)) < 0)
			goto out;
		r = 0;
		if ((json = br.json) == NULL) {
			char low[64] = "";
			if (br.lowest > 0)
				snprintf(low, sizeof(low), "; the lowest is at revision %lld",
				    (long long)br.lowest);
			r = lb_err_set(err, LB_E_NOTFOUND, "no complete backup of cluster %s at "
			    "or below revision %lld in the catalog%s", sel->cluster,
			    (long long)sel->max_rev, low);
			goto out;
		}
	} else if (sel->at_set) {
		f.cluster = sel->cluster;
		f.status = CAT_COMPLETE;
		f.until = sel->at + 1;
		f.newest_first = 1;
		f.limit = 1;
		f.skip_future = 1;
		/* until <= 0 would mean "no bound": nothing is that old. */
		if (f.until > 0 && (r = cat_backup_list(s->env.cat, &f, CAT_WITH_MANIFEST,
		    take_first, &json, err)) < 0)
			goto out;
		r = 0;
		if (json == NULL) {
			char t[32], t2[32], old[200] = "";
			struct cat_filter f2 = { .cluster = sel->cluster, .status = CAT_COMPLETE,
			    .limit = 1 };
			struct lb_err e2;
			if (cat_backup_list(s->env.cat, &f2, 0, take_oldest, &b, &e2) >= 0 &&
			    b != NULL)
				snprintf(old, sizeof(old), "; the oldest is %s, taken at %s",
				    b->id, cat_time_format(b->started_at, t2, sizeof(t2)));
			r = lb_err_set(err, LB_E_NOTFOUND, "no complete backup of cluster "
			    "%s taken at or before %s in the catalog%s", sel->cluster,
			    cat_time_format(sel->at, t, sizeof(t)), old);
			goto out;
		}
	} else {
		if ((r = cat_backup_latest(s->env.cat, sel->cluster, CAT_COMPLETE,
		    CAT_WITH_MANIFEST, &b, err)) < 0) {
			if (r == LB_E_NOTFOUND)
				lb_err_set(err, r, "no complete backup of cluster %s in the "
				    "catalog", sel->cluster);
			goto out;
		}
		if (b->manifest == NULL || (json = strdup(b->manifest)) == NULL) {
			r = lb_err_set(err, LB_E_NOTFOUND, "backup %s has no manifest", b->id);
			goto out;
		}
	}
	if ((r = manifest_parse(json, strlen(json), &s->mf, err)) < 0)
		goto out;
	/* The catalog's copy is the bytes the backup (or a rebuild that
	 * checked them) recorded; its signature is in the bucket. */
	if ((r = manifest_key(s->mf->cluster, s->mf->backup_id, key, sizeof(key))) < 0 ||
	    (r = env_trust_manifest(&s->env, key, json, strlen(json), &s->trust, err)) < 0)
		lb_err_prefix(err, "refused: ");
out:
	free(json);
	cat_backup_free(b);
	return r;
}

/* ---- from the repository ------------------------------------------------- */

/* The manifests of a listing, bounded by REPO_LIST_MAX as every listing. */
struct keys {
	char **v;
	size_t n, cap;
	const char *want_id;       /* only manifests of this backup id */
};

static int
collect_manifest(void *arg, const char *key, uint64_t size)
{
	struct keys *k = arg;
	size_t kl = strlen(key), ml = strlen("/" MANIFEST_NAME);

	(void)size;
	if (kl <= ml || strcmp(key + kl - ml, "/" MANIFEST_NAME) != 0)
		return 0;
	if (k->want_id != NULL) {
		/* .../<backup-id>/manifest.json */
		size_t il = strlen(k->want_id);
		if (kl < ml + il + 1 || strncmp(key + kl - ml - il, k->want_id, il) != 0 ||
		    key[kl - ml - il - 1] != '/')
			return 0;
	}
	if (lb_vec_grow(&k->v, &k->cap, k->n, sizeof(*k->v), REPO_LIST_MAX) < 0 ||
	    (k->v[k->n] = strdup(key)) == NULL)
		return LB_E_NOMEM;
	k->n++;
	return 0;
}

/* A manifest from the bucket is believed only where it belongs: at its
 * own backup's key, with an id that agrees with its started_at (keys sort
 * by id, --at goes by started_at: a far-future key holding an old time
 * would otherwise win every --at). */
static int
valid_at_key(const struct manifest *m, const char *key, struct lb_err *err)
{
	int r;

	if ((r = manifest_check_key(m, key, err)) < 0)
		return r;
	return cat_backup_time_check(m->backup_id, m->started_at, err);
}

/* What the error naming the backup not found says of the manifests
 * skipped on the way: how many, and the last one's reason. */
static void
note_skipped(char *buf, size_t cap, int n, const char *key, const struct lb_err *why)
{
	snprintf(buf, cap, "; %d manifest%s skipped, the last %s: %.300s", n,
	    n == 1 ? "" : "s", key, why->msg);
}

/* Backup ids sort by time, and so do the keys of one cluster
 * (<cluster>/<YYYY>/<MM>/<DD>/<id>/), so the list read backwards is
 * newest first. */
static int
from_repo(struct restore_source *s, const struct restore_select *sel,
    struct lb_err *err)
{
	struct keys k = { 0 };
	char prefix[300] = "", oldest[200] = "", skipped[1600] = "";
	struct manifest *m = NULL;
	uint8_t *buf = NULL;
	size_t len, i;
	int r, n_skipped = 0, named = sel->backup_id != NULL && strcmp(sel->backup_id, "latest") != 0;

	if (sel->cluster != NULL)
		snprintf(prefix, sizeof(prefix), "%s/", sel->cluster);
	k.want_id = named ? sel->backup_id : NULL;
	if ((r = repo_list(s->env.repo, prefix, collect_manifest, &k, err)) < 0) {
		if (r == LB_E_NOMEM)
			lb_err_set(err, r, "out of memory");
		goto out;
	}
	for (i = k.n; i-- > 0;) {
		int64_t started = 0;
		struct lb_err e2;

		free(buf);
		buf = NULL;
		manifest_free(m);
		m = NULL;
		/* One bad manifest (too large, unreadable, malformed, or not what
		 * its key says) must not block a restore from the others. */
		lb_err_clear(&e2);
		if ((r = repo_get_buf(s->env.repo, k.v[i], MANIFEST_MAX, &buf, &len, &e2)) < 0 ||
		    (r = manifest_parse((const char *)buf, len, &m, &e2)) < 0 ||
		    (r = valid_at_key(m, k.v[i], &e2)) < 0) {
			/* The store refusing us refuses every manifest alike. */
			if (r == LB_E_NOMEM || r == LB_E_AUTH || r == LB_E_TLS ||
			    r == LB_E_CANCELED) {
				*err = e2;
				goto out;
			}
			log_warn("%s: %s; skipped", k.v[i], e2.msg);
			note_skipped(skipped, sizeof(skipped), ++n_skipped, k.v[i], &e2);
			continue;
		}
		/* Not signed by a trusted key: refused when asked for by id;
		 * else one more bad manifest, and "latest" is the newest
		 * trusted one, the skipped one said loudly. */
		if ((r = env_trust_manifest(&s->env, k.v[i], (const char *)buf, len, &s->trust,
		    &e2)) < 0) {
			if (r == LB_E_NOMEM || (named && strcmp(m->backup_id, sel->backup_id) == 0)) {
				*err = e2;
				lb_err_prefix(err, "refused: ");
				goto out;
			}
			log_error("%s: %s; skipped", k.v[i], e2.msg);
			note_skipped(skipped, sizeof(skipped), ++n_skipped, k.v[i], &e2);
			continue;
		}
		if (named) {
			if (strcmp(m->backup_id, sel->backup_id) == 0)
				break;
		} else if (strcmp(m->status, "complete") == 0) {
			int64_t now = (int64_t)time(NULL);
			int ok = cat_time_parse(m->started_at, now, &started, &e2) == 0;

			/* as cat_backup_latest: a stamp ahead of our clock is skipped */
			if (ok && cat_is_future(started, now)) {
				log_warn("%s: started_at %s is in the future (taken with a clock "
				    "that ran ahead?); skipped", k.v[i], m->started_at);
				continue;
			}
			if (sel->max_rev > 0) {
				if (m->revision <= sel->max_rev)
					break;
				snprintf(oldest, sizeof(oldest), "; the lowest is %s at revision "
				    "%lld", m->backup_id, (long long)m->revision);
				continue;
			}
			if (!sel->at_set || (ok && started <= sel->at))
				break;
			/* Newest first: the last one seen is the oldest. */
			snprintf(oldest, sizeof(oldest), "; the oldest is %s, taken at %s",
			    m->backup_id, m->started_at);
		}
	}
	if (i == (size_t)-1) {
		manifest_free(m);
		m = NULL;
	}
	if (m == NULL) {
		char t[32];
		/* A manifest skipped may be the one wanted: say why it was. */
		if (named)
			r = lb_err_set(err, LB_E_NOTFOUND, "backup %s not found in %s%s%s%s",
			    sel->backup_id, repo_url(s->env.repo), sel->cluster ? " under " : "",
			    sel->cluster ? prefix : "", skipped);
		else if (sel->max_rev > 0)
			r = lb_err_set(err, LB_E_NOTFOUND, "no complete backup of cluster %s "
			    "at or below revision %lld in %s%s%s", sel->cluster,
			    (long long)sel->max_rev, repo_url(s->env.repo), oldest, skipped);
		else if (sel->at_set)
			r = lb_err_set(err, LB_E_NOTFOUND, "no complete backup of cluster %s "
			    "taken at or before %s in %s%s%s", sel->cluster,
			    cat_time_format(sel->at, t, sizeof(t)), repo_url(s->env.repo), oldest,
			    skipped);
		else
			r = lb_err_set(err, LB_E_NOTFOUND, "no complete backup of cluster %s "
			    "in %s%s", sel->cluster, repo_url(s->env.repo), skipped);
		goto out;
	}
	if (sel->cluster != NULL && strcmp(m->cluster, sel->cluster) != 0) {
		r = lb_err_set(err, LB_E_NOTFOUND, "backup %s belongs to cluster %s, not %s",
		    m->backup_id, m->cluster, sel->cluster);
		goto out;
	}
	s->mf = m;
	m = NULL;
	r = 0;
out:
	manifest_free(m);
	free(buf);
	for (i = 0; i < k.n; i++)
		free(k.v[i]);
	free(k.v);
	return r;
}

int
restore_source_open(const struct restore_source_opts *o,
    const struct restore_select *sel, struct restore_source **out,
    struct lb_err *err)
{
	struct restore_source *s;
	const char *catalog;
	int r;

	*out = NULL;
	if (sel->cluster == NULL && (sel->backup_id == NULL ||
	    strcmp(sel->backup_id, "latest") == 0))
		return lb_err_set(err, LB_E_USAGE, "--cluster is needed to pick the "
		    "latest backup or one by --at");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (o->need_identity && (r = setup_identity(o->cfg, o->identity_path, &s->id,
	    err)) < 0) {
		lb_err_prefix(err, "identity: ");
		goto out;
	}
	if ((r = env_open_cfg(o->cfg, ENV_REPO, &s->env, err)) < 0)
		goto out;
	s->env.skip_signature = o->skip_signature;
	if (trust_unset_warning(&s->env) != NULL)
		log_warn("%s", trust_unset_warning(&s->env));
	catalog = o->catalog_path != NULL ? o->catalog_path : s->env.catalog_path;
	/* The audit event needs a writable catalog, but only one that is
	 * already there: a restore never creates one. */
	if (catalog != NULL && access(catalog, F_OK) == 0) {
		struct lb_err e2;
		if (cat_open(catalog, 0, &s->env.cat, &e2) < 0) {
			log_warn("catalog %s: %s; reading the repository instead", catalog,
			    e2.msg);
			s->env.cat = NULL;
		}
	}
	if (s->env.cat != NULL && !o->repo_only) {
		s->origin = "catalog";
		r = from_catalog(s, sel, err);
	} else {
		s->origin = "repository";
		if ((r = from_repo(s, sel, err)) == 0)
			check_head(s, sel->backup_id == NULL || strcmp(sel->backup_id, "latest") == 0);
	}
	if (r < 0)
		goto out;
	*out = s;
	s = NULL;
out:
	restore_source_close(s);
	return r;
}

void
restore_source_close(struct restore_source *s)
{
	if (s == NULL)
		return;
	manifest_free(s->mf);
	env_close(&s->env);
	age_identity_free(s->id);
	free(s);
}

const struct manifest *
restore_source_manifest(const struct restore_source *s)
{
	return s->mf;
}

const char *
restore_source_origin(const struct restore_source *s)
{
	return s->origin;
}

const char *
restore_source_head(const struct restore_source *s)
{
	return s->head;
}

const char *
restore_source_signature(const struct restore_source *s)
{
	return trust_result_name(s->trust);
}

struct cat *
restore_source_catalog(struct restore_source *s)
{
	return s->env.cat;
}

const struct lb_env *
restore_source_env(const struct restore_source *s)
{
	return &s->env;
}

struct repo *
restore_source_repo(struct restore_source *s)
{
	return s->env.repo;
}

const struct age_identity *
restore_source_identity(const struct restore_source *s)
{
	return s->id;
}

void
restore_source_audit(struct restore_source *s, const char *outcome, const char *details)
{
	restore_source_audit_action(s, "restore", outcome, details);
}

void
restore_source_audit_action(struct restore_source *s, const char *action,
    const char *outcome, const char *details)
{
	env_audit(&s->env, action, s->mf->cluster, s->mf->backup_id, outcome, details);
}

static int
usable(const struct manifest_member *mm)
{
	return mm->status != NULL && strcmp(mm->status, "ok") == 0 &&
	    mm->object != NULL && mm->stored_sha256 != NULL;
}

int
restore_source_order(const struct restore_source *s, const char *prefer,
    size_t *idx, size_t cap, size_t *n, struct lb_err *err)
{
	const struct manifest *m = s->mf;
	size_t i, j, k = 0;

	*n = 0;
	if (prefer != NULL) {
		for (i = 0; i < m->n_members; i++)
			if (strcmp(m->members[i].name, prefer) == 0 && usable(&m->members[i]))
				break;
		if (i == m->n_members)
			return lb_err_set(err, LB_E_NOTFOUND, "backup %s has no good object "
			    "of member %s", m->backup_id, prefer);
		idx[k++] = i;
	}
	for (i = 0; i < m->n_members && k < cap; i++) {
		if (!usable(&m->members[i]) || (prefer != NULL &&
		    strcmp(m->members[i].name, prefer) == 0))
			continue;
		/* insertion by revision, highest first; stable for ties */
		for (j = k; j > (prefer != NULL ? 1u : 0u) &&
		    m->members[idx[j - 1]].revision < m->members[i].revision; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
		k++;
	}
	if (k == 0)
		return lb_err_set(err, LB_E_NOTFOUND, "backup %s has no member object "
		    "that was stored ok", m->backup_id);
	*n = k;
	return 0;
}

/* ---- fetching ------------------------------------------------------------ */

/* Reports progress on the stored bytes, at most a few times a second. */
struct meter {
	struct flt base;
	uint64_t done, total;
	double last;
	const char *name;
	restore_progress_fn fn;
	void *arg;
};

static int
meter_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct meter *m = (struct meter *)f;
	double t;

	m->done += len;
	if (m->fn != NULL && (t = lb_mono_now()) - m->last >= 0.25) {
		m->last = t;
		m->fn(m->arg, m->name, m->done, m->total, 0);
	}
	return flt_write(f->next, buf, len, err);
}

static void
meter_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops meter_ops = { "progress", meter_write, NULL, meter_free };

/* Builds source -> meter -> count -> sha256 -> age -> zstd -d -> bound
 * -> thread -> bbolt scan -> trailer -> gate -> file.  The gate is the
 * manifest's veto (snapshot/gate.h): when the chain finishes, every stage
 * before it has finished, so a mismatch fails there and the file is never
 * committed.  The thread boundary lets hashing and writing the plaintext
 * (3x the stored bytes) run beside receiving, decrypting and
 * decompressing: a third less wall time for a large snapshot. */
static int
build_chain(struct restore_source *s, const struct manifest_member *mm,
    const char *path, restore_progress_fn progress, void *arg,
    struct flt **head, struct lb_err *err)
{
	const struct gate_want want = {
		(int64_t)mm->stored_size, mm->stored_sha256, mm->etcd_sha256,
		(int64_t)mm->db_size, mm->revision, 0
	};
	struct gate_obs obs = { 0 };
	struct flt_chain *c = NULL;
	struct flt *t = NULL, *count, *sha, *trailer, *scan;
	struct meter *m;
	int r;

	*head = NULL;
	if ((r = flt_chain_new(&c, err)) < 0)
		return r;
	if ((m = calloc(1, sizeof(*m))) != NULL) {
		m->base.ops = &meter_ops;
		m->total = mm->stored_size;
		m->name = mm->name;
		m->fn = progress;
		m->arg = arg;
	}
	if ((r = flt_chain_add(c, m != NULL ? &m->base : NULL, NULL, err)) < 0 ||
	    (r = flt_chain_add(c, flt_count_new(NULL), &count, err)) < 0 ||
	    (r = flt_chain_add(c, flt_sha256_new(NULL), &sha, err)) < 0 ||
	    (r = flt_age_dec_new(s->id, NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0 ||
	    (r = flt_unzstd_new(NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0 ||
	    (r = flt_chain_add(c, flt_snapshot_bound_new(NULL, mm->db_size), NULL, err)) < 0 ||
	    (r = flt_thread_new(NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0 ||
	    (r = flt_chain_add(c, flt_bbolt_scan_new(NULL), &scan, err)) < 0 ||
	    (r = flt_chain_add(c, flt_etcd_trailer_new(NULL), &trailer, err)) < 0)
		goto out;
	obs.count = count;
	obs.sha256 = sha;
	obs.trailer = trailer;
	obs.scan = scan;
	if ((r = gate_new(&want, &obs, GATE_WORDS_RESTORE, NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0 ||
	    (r = flt_file_new(path, 0600, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0)
		goto out;
	r = flt_chain_build(c, head, err);
	c = NULL;
out:
	flt_chain_free(c);
	return r;
}

int
restore_fetch(struct restore_source *s, const char *prefer, const char *path,
    restore_progress_fn progress, void *arg, struct restore_fetched *got,
    struct lb_err *err)
{
	size_t idx[256], n, i;
	struct flt *chain = NULL;
	struct lb_err e;
	double t0;
	int r, all_crypto = 1;

	memset(got, 0, sizeof(*got));
	if (s->id == NULL)
		return lb_err_set(err, LB_E_INTERNAL, "fetch without an identity");
	if ((r = restore_source_order(s, prefer, idx, 256, &n, err)) < 0)
		return r;
	for (i = 0; i < n; i++) {
		const struct manifest_member *mm = &s->mf->members[idx[i]];

		lb_err_clear(&e);
		t0 = lb_mono_now();
		if ((r = build_chain(s, mm, path, progress, arg, &chain, &e)) < 0) {
			*err = e;
			return r;
		}
		if ((r = repo_get(s->env.repo, mm->object, 0, 0, chain, &e)) == 0)
			r = flt_finish(chain, &e);
		flt_free(chain);
		chain = NULL;
		if (progress != NULL)
			progress(arg, mm->name, r == 0 ? mm->stored_size : 0, mm->stored_size, 1);
		if (r == 0) {
			got->member = mm;
			got->db_size = mm->db_size;
			got->seconds = lb_mono_now() - t0;
			return 0;
		}
		*err = e;
		lb_err_prefix(err, "member %s object %s: ", mm->name, mm->object);
		/* The local disk is not the object's fault: stop.  A key that
		 * opens nothing may be the wrong identity or a tampered stanza,
		 * so the other objects are tried before saying which. */
		if (r == LB_E_IO || r == LB_E_NOSPACE || r == LB_E_NOMEM)
			return r;
		if (r != LB_E_CRYPTO)
			all_crypto = 0;
		got->failed++;
		if (i + 1 < n)
			log_warn("%s; trying member %s", err->msg,
			    s->mf->members[idx[i + 1]].name);
	}
	if (all_crypto)
		return r;
	return lb_err_prefix(err, "no member object of backup %s passed verification; "
	    "last: ", s->mf->backup_id);
}
