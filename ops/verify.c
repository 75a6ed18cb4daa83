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
 *
 * Where trusted signers are configured, the manifest is checked first:
 * the bytes of manifest.json in the repository (the catalog's copy is
 * not proof: it came from wherever the catalog did) against its
 * signature, and then the catalog's copy against those bytes, since the
 * members are read as the catalog records them.
 */
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/fmt.h"
#include "common/log.h"
#include "env/setup.h"
#include "snapshot/bbolt_scan.h"
#include "snapshot/gate.h"
#include "snapshot/trailer.h"
#include "stream/age.h"
#include "stream/zstd_filter.h"

/* --- one member -------------------------------------------------------- */

struct vstats {
	uint64_t stored;   /* bytes read from the repository */
	uint64_t plain;    /* bytes of the snapshot (db + trailer) */
	int revision_checked;
	char revision_note[160];   /* why it was not, when it was not */
};

/* Reads key through sha256 only, to tell a damaged object from a wrong
 * identity after the full chain failed. */
static int
stored_digest(struct repo *repo, const char *key, char hex[65], struct lb_err *err)
{
	struct flt_chain *c = NULL;
	struct flt *chain = NULL, *sha;
	uint8_t d[32];
	int r;

	if ((r = flt_chain_new(&c, err)) < 0 ||
	    (r = flt_chain_add(c, flt_sha256_new(NULL), &sha, err)) < 0 ||
	    (r = flt_chain_add(c, ops_discard_new(), NULL, err)) < 0) {
		flt_chain_free(c);
		return r;
	}
	if ((r = flt_chain_build(c, &chain, err)) < 0)
		return r;
	if ((r = repo_get(repo, key, 0, 0, chain, err)) == 0 &&
	    (r = flt_finish(chain, err)) == 0) {
		flt_sha256_digest(sha, d);
		lb_hex(d, sizeof(d), hex);
	}
	flt_free(chain);
	return r;
}

static int
verify_member(struct repo *repo, const struct age_identity *id, const struct cat_member *m,
    struct vstats *vs, struct lb_err *err)
{
	const struct gate_want want = {
		m->stored_size, m->sha256, m->etcd_sha256, m->db_size, m->revision, 1
	};
	struct gate_obs obs = { 0 };
	struct gate_seen seen;
	struct flt_chain *c = NULL;
	struct flt *chain = NULL, *t, *sha, *count, *trailer, *bolt, *pcount;
	char hex[65];
	int r;

	memset(vs, 0, sizeof(*vs));
	if (m->location == NULL || m->sha256 == NULL || m->etcd_sha256 == NULL)
		return lb_err_set(err, LB_E_CORRUPT, "no object recorded for this member");
	if ((r = flt_chain_new(&c, err)) < 0 ||
	    (r = flt_chain_add(c, flt_sha256_new(NULL), &sha, err)) < 0 ||
	    (r = flt_chain_add(c, flt_count_new(NULL), &count, err)) < 0 ||
	    (r = flt_age_dec_new(id, NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0 ||
	    (r = flt_unzstd_new(NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0)
		goto out;
	/* Stops a small object that expands past the manifest's size. */
	if (m->db_size >= 0 && (r = flt_chain_add(c,
	    flt_snapshot_bound_new(NULL, (uint64_t)m->db_size), NULL, err)) < 0)
		goto out;
	if ((r = flt_chain_add(c, flt_bbolt_scan_new(NULL), &bolt, err)) < 0 ||
	    (r = flt_chain_add(c, flt_etcd_trailer_new(NULL), &trailer, err)) < 0 ||
	    (r = flt_chain_add(c, flt_count_new(NULL), &pcount, err)) < 0 ||
	    (r = flt_chain_add(c, ops_discard_new(), NULL, err)) < 0)
		goto out;
	r = flt_chain_build(c, &chain, err);
	c = NULL;
	if (r < 0)
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
	obs.count = count;
	obs.sha256 = sha;
	obs.trailer = trailer;
	obs.scan = bolt;
	if ((r = gate_judge(&want, &obs, GATE_WORDS_VERIFY, &seen, err)) < 0)
		goto out;
	vs->revision_checked = seen.revision_checked;
	snprintf(vs->revision_note, sizeof(vs->revision_note), "%s", seen.revision_note);
out:
	flt_chain_free(c);
	flt_free(chain);
	return r;
}

/* --- the manifest's signature ------------------------------------------ */

/* Checks b's manifest as the repository holds it against e's trusted
 * signers (nothing when none are configured).  *verdict says whether a
 * failure is one on the stored backup (unsigned, altered, untrusted,
 * missing) rather than on reading it. */
static int
verify_signature(struct lb_env *e, const struct cat_backup *b, enum trust_result *res,
    int *verdict, struct lb_err *err)
{
	uint8_t *mbuf = NULL;
	char *sig = NULL;
	size_t mlen = 0, siglen = 0;
	int r;

	*res = TRUST_UNCHECKED;
	*verdict = 0;
	if (e->trust == NULL)
		return 0;
	*verdict = 1;
	if (b->manifest_key == NULL)
		return lb_err_set(err, LB_E_CORRUPT, "backup %s has no manifest whose "
		    "signature could be checked (status %s)", b->id, cat_status_name(b->status));
	if ((r = repo_get_buf(e->repo, b->manifest_key, MANIFEST_MAX, &mbuf, &mlen,
	    err)) < 0) {
		*verdict = r == LB_E_NOTFOUND;
		if (r == LB_E_NOTFOUND)
			r = lb_err_set(err, LB_E_NOTFOUND, "manifest %s is missing from the "
			    "repository", b->manifest_key);
		else
			lb_err_prefix(err, "manifest %s: ", b->manifest_key);
		goto out;
	}
	/* Absent is "unsigned", for trust_check to say; a read that failed
	 * says nothing about the backup, unless the signature is too large. */
	if ((r = trust_fetch_sig(e->repo, b->manifest_key, &sig, &siglen, err)) < 0) {
		*verdict = r == LB_E_CORRUPT;
		lb_err_prefix(err, "manifest %s: cannot read its signature: ", b->manifest_key);
		goto out;
	}
	if ((r = env_trust_manifest_sig(e, b->manifest_key, (const char *)mbuf, mlen, sig, siglen,
	    res, err)) < 0) {
		*verdict = r != LB_E_NOMEM;
		goto out;
	}
	if (*res == TRUST_SIGNED && b->manifest != NULL &&
	    (strlen(b->manifest) != mlen || memcmp(b->manifest, mbuf, mlen) != 0))
		r = lb_err_set(err, LB_E_CORRUPT, "the catalog's copy of the manifest of "
		    "backup %s is not the signed manifest %s in the repository (the catalog "
		    "was changed, or the manifest replaced and signed again): 'catalog "
		    "rebuild' records the repository's", b->id, b->manifest_key);
out:
	free(mbuf);
	free(sig);
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
	enum trust_result trust = TRUST_UNCHECKED;
	uint64_t stored = 0, plain = 0;
	char detail[LB_ERR_MSG_MAX + 64];
	int i, r, checked = 0, rev_checked = 0, verdict, sig_verdict = 0;

	if ((r = cat_backup_get(e->cat, backup_id, CAT_WITH_MEMBERS | CAT_WITH_MANIFEST,
	    &b, &err)) < 0) {
		log_error("verify %s: %s", backup_id, err.msg);
		return r;
	}
	/* A backup that is not ours is not read any further: its objects
	 * prove nothing about where they came from. */
	if ((r = verify_signature(e, b, &trust, &sig_verdict, &merr)) < 0) {
		lb_err_set(&err, merr.code, "backup %s: %s", b->id, merr.msg);
		i = b->n_members;
	} else {
		sig_verdict = 0;
		i = 0;
	}
	for (; i < b->n_members; i++) {
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
	verdict = r == 0 || r == LB_E_CORRUPT || r == LB_E_NOTFOUND || sig_verdict;
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
	ops_audit(e, CAT_ACT_VERIFY, b->cluster, b->id,
	    r == 0 ? "ok" : verdict ? "failed" : "error",
	    "{s:i, s:I, s:I, s:s?, s:b, s:s}", "members", checked, "stored_bytes",
	    (json_int_t)stored, "snapshot_bytes", (json_int_t)plain,
	    "error", r == 0 ? NULL : err.msg, "revision_checked", rev_checked == checked,
	    "signature", sig_verdict ? "failed" : trust_result_name(trust));
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
