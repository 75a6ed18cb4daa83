/*
 * verify.c: `lifeboat catalog verify`: every member object of a backup
 * is read back from the repository and taken through the whole restore
 * path without touching the disk:
 *
 *   repo_get -> sha256 + count (stored bytes) -> age open -> zstd -d
 *     -> size bound (the manifest's db_size) -> bbolt scan (meta pages, revision) -> etcd trailer check -> discard
 *
 * then the digests and sizes are compared with the manifest, the result
 * is recorded (cat_set_verified) and audited.  pgBackRest's verify, taken
 * to the end of the chain.
 */
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "stream/age.h"
#include "snapshot/bbolt_scan.h"
#include "common/log.h"
#include "env/setup.h"
#include "stream/zstd_filter.h"

/* --- one member -------------------------------------------------------- */

struct vstats {
	uint64_t stored;   /* bytes read from the repository */
	uint64_t plain;    /* bytes of the snapshot (db + trailer) */
	int revision_checked;
	char revision_note[160];   /* why it was not, when it was not */
};

/* Pushes a new stage onto *chain, or fails leaving *chain as it was. */
static int
push(struct flt **chain, struct flt *stage, struct lb_err *err)
{
	if (stage == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	*chain = stage;
	return 0;
}

/* Reads key through sha256 only, to tell a damaged object from a wrong
 * identity after the full chain failed. */
static int
stored_digest(struct repo *repo, const char *key, char hex[65], struct lb_err *err)
{
	struct flt *sink = ops_discard_new(), *sha = NULL;
	uint8_t d[32];
	int r;

	if (sink == NULL || (sha = flt_sha256_new(sink)) == NULL) {
		flt_free(sink);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	if ((r = repo_get(repo, key, 0, 0, sha, err)) == 0 &&
	    (r = flt_finish(sha, err)) == 0) {
		flt_sha256_digest(sha, d);
		lb_hex(d, sizeof(d), hex);
	}
	flt_free(sha);
	return r;
}

static int
verify_member(struct repo *repo, const struct age_identity *id, const struct cat_member *m,
    struct vstats *vs, struct lb_err *err)
{
	struct flt *chain = NULL, *sha, *count, *trailer, *bolt, *pcount, *next = NULL;
	struct bbolt_scan sc;
	uint8_t d[32];
	char hex[65], hex2[65];
	int r;

	memset(vs, 0, sizeof(*vs));
	if (m->location == NULL || m->sha256 == NULL || m->etcd_sha256 == NULL)
		return lb_err_set(err, LB_E_CORRUPT, "no object recorded for this member");
	/* Built from the sink backwards; each stage owns the rest. */
	if ((r = push(&chain, ops_discard_new(), err)) < 0 ||
	    (r = push(&chain, pcount = flt_count_new(chain), err)) < 0 ||
	    (r = push(&chain, trailer = flt_etcd_trailer_new(chain), err)) < 0 ||
	    (r = push(&chain, bolt = flt_bbolt_scan_new(chain), err)) < 0)
		goto out;
	/* Stops a small object that expands past the manifest's size. */
	if (m->db_size >= 0 &&
	    (r = push(&chain, flt_snapshot_bound_new(chain, (uint64_t)m->db_size), err)) < 0)
		goto out;
	if ((r = flt_unzstd_new(chain, &next, err)) < 0)
		goto out;
	chain = next;
	if ((r = flt_age_dec_new(id, chain, &next, err)) < 0)
		goto out;
	chain = next;
	if ((r = push(&chain, count = flt_count_new(chain), err)) < 0 ||
	    (r = push(&chain, sha = flt_sha256_new(chain), err)) < 0)
		goto out;
	if ((r = repo_get(repo, m->location, 0, 0, chain, err)) < 0 ||
	    (r = flt_finish(chain, err)) < 0) {
		/* Say whether the stored bytes changed: that is what someone
		 * on call needs to know first. */
		struct lb_err e2 = { 0 };
		if (r != LB_E_NOTFOUND && r != LB_E_NET && r != LB_E_CANCELED &&
		    stored_digest(repo, m->location, hex, &e2) == 0 &&
		    strcasecmp(hex, m->sha256) != 0)
			r = lb_err_set(err, LB_E_CORRUPT, "stored sha256 mismatch: manifest has "
			    "%.16s..., object has %.16s... (the object was changed or damaged "
			    "in the repository)", m->sha256, hex);
		else if (r == LB_E_NOTFOUND)
			r = lb_err_set(err, LB_E_NOTFOUND, "object %s is missing from the "
			    "repository", m->location);
		goto out;
	}
	vs->stored = flt_count_bytes(count);
	vs->plain = flt_count_bytes(pcount);
	flt_sha256_digest(sha, d);
	lb_hex(d, sizeof(d), hex);
	if (strcasecmp(hex, m->sha256) != 0) {
		r = lb_err_set(err, LB_E_CORRUPT, "stored sha256 mismatch: manifest has "
		    "%.16s..., object has %.16s...", m->sha256, hex);
		goto out;
	}
	if (m->stored_size >= 0 && vs->stored != (uint64_t)m->stored_size) {
		r = lb_err_set(err, LB_E_CORRUPT, "stored size %llu, manifest has %lld",
		    (unsigned long long)vs->stored, (long long)m->stored_size);
		goto out;
	}
	flt_etcd_trailer_hash(trailer, d);
	lb_hex(d, sizeof(d), hex2);
	if (strcasecmp(hex2, m->etcd_sha256) != 0) {
		r = lb_err_set(err, LB_E_CORRUPT, "etcd sha256 %.16s... differs from the "
		    "manifest's %.16s...", hex2, m->etcd_sha256);
		goto out;
	}
	if (m->db_size >= 0 && flt_etcd_trailer_db_size(trailer) != (uint64_t)m->db_size) {
		r = lb_err_set(err, LB_E_CORRUPT, "database is %llu bytes, manifest has %lld",
		    (unsigned long long)flt_etcd_trailer_db_size(trailer),
		    (long long)m->db_size);
		goto out;
	}
	if ((r = flt_bbolt_scan_result(bolt, &sc, err)) < 0)
		goto out;
	if (!sc.is_bbolt) {
		r = lb_err_set(err, LB_E_CORRUPT, "bbolt: %s", sc.why);
		goto out;
	}
	if (sc.db_size != flt_etcd_trailer_db_size(trailer)) {
		r = lb_err_set(err, LB_E_CORRUPT, "bbolt: its meta page says %llu bytes, "
		    "the snapshot holds %llu", (unsigned long long)sc.db_size,
		    (unsigned long long)flt_etcd_trailer_db_size(trailer));
		goto out;
	}
	if (!sc.revision_known) {
		snprintf(vs->revision_note, sizeof(vs->revision_note), "%s", sc.why);
	} else if (m->revision >= 0 && sc.revision != (uint64_t)m->revision) {
		r = lb_err_set(err, LB_E_CORRUPT, "snapshot revision is %llu, the manifest "
		    "has %lld", (unsigned long long)sc.revision, (long long)m->revision);
		goto out;
	} else {
		vs->revision_checked = 1;
	}
out:
	flt_free(chain);
	return r;
}

/* --- one backup -------------------------------------------------------- */

int
ops_verify_backup(struct lb_env *e, const struct age_identity *id,
    const char *backup_id, ops_verify_cb cb, void *arg)
{
	struct lb_err err = { 0 }, merr = { 0 };
	struct cat_backup *b = NULL;
	struct ops_verify_result res;
	struct vstats vs;
	uint64_t stored = 0, plain = 0;
	char detail[LB_ERR_MSG_MAX + 64];
	int i, r, checked = 0, rev_checked = 0, verdict;

	if ((r = cat_backup_get(e->cat, backup_id, CAT_WITH_MEMBERS, &b, &err)) < 0) {
		log_error("verify %s: %s", backup_id, err.msg);
		return r;
	}
	for (i = 0; i < b->n_members; i++) {
		const struct cat_member *m = &b->members[i];

		if (strcmp(m->status, "ok") != 0)
			continue;   /* nothing was stored for it */
		lb_err_clear(&merr);
		if ((r = verify_member(e->repo, id, m, &vs, &merr)) < 0) {
			lb_err_set(&err, merr.code, "backup %s member %s (%s): %s", b->id,
			    m->name, m->location ? m->location : "-", merr.msg);
			break;
		}
		checked++;
		rev_checked += vs.revision_checked;
		if (!vs.revision_checked)
			log_warn("backup %s member %s: revision not checked: %s", b->id,
			    m->name, vs.revision_note);
		stored += vs.stored;
		plain += vs.plain;
	}
	if (r == 0 && checked == 0)
		r = lb_err_set(&err, LB_E_CORRUPT, "backup %s: no member object to verify "
		    "(status %s)", b->id, cat_status_name(b->status));
	/* Only a verdict on the stored bytes (missing, damaged, not what the
	 * manifest says) is recorded against the backup: a network or store
	 * fault, a full disk or the wrong identity given says nothing about
	 * them, and must not turn a good backup bad (retention protects the
	 * newest verified one). */
	verdict = r == 0 || r == LB_E_CORRUPT || r == LB_E_NOTFOUND;
	if (r == 0) {
		snprintf(detail, sizeof(detail), "%d member(s), %llu bytes stored, %llu bytes "
		    "of snapshot, revision checked on %d", checked,
		    (unsigned long long)stored, (unsigned long long)plain, rev_checked);
	} else {
		snprintf(detail, sizeof(detail), "%s", err.msg);
		log_error("verify %s: %s", verdict ? "failed" : "could not finish", err.msg);
	}
	res = (struct ops_verify_result){ b->id, b->cluster, r == 0, verdict, checked,
	    detail };
	if (cb != NULL)
		cb(&res, arg);
	if (verdict && cat_set_verified(e->cat, b->id, 0, r == 0, detail, &merr) < 0)
		log_error("verify %s: cannot record the result: %s", b->id, merr.msg);
	ops_audit(e->cat, CAT_ACT_VERIFY, b->cluster, b->id,
	    r == 0 ? "ok" : verdict ? "failed" : "error",
	    "{s:i, s:I, s:I, s:s?, s:b}", "members", checked, "stored_bytes",
	    (json_int_t)stored, "snapshot_bytes", (json_int_t)plain,
	    "error", r == 0 ? NULL : err.msg, "revision_checked", rev_checked == checked);
	cat_backup_free(b);
	return r;
}

/* The daemon's results go to the log only. */
static void
log_result(const struct ops_verify_result *res, void *arg)
{
	(void)arg;
	if (res->ok)
		log_info("cluster=%s backup=%s verify=ok %s", res->cluster, res->backup_id,
		    res->detail);
}

int
ops_verify_newest(struct lb_env *e, const char *cluster, struct lb_err *err)
{
	struct age_identity *id = NULL;
	struct cat_backup *b = NULL;
	int r;

	if ((r = setup_identity(e->cfg, NULL, &id, err)) < 0 ||
	    (r = cat_backup_latest(e->cat, cluster, CAT_COMPLETE, 0, &b, err)) < 0)
		goto out;
	if ((r = ops_verify_backup(e, id, b->id, log_result, NULL)) < 0)
		lb_err_set(err, r, "verification of backup %s failed (see the log)", b->id);
out:
	cat_backup_free(b);
	age_identity_free(id);
	return r;
}
