/*
 * segment.c (env): segment manifests into the catalog (segment.h).
 */
#include "env/segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "etcd/etcd.h"

int
env_segment_read(const struct lb_env *e, struct repo *repo, const char *key,
    struct evl_meta **out, enum trust_result *res, struct lb_err *err)
{
	char *sig = NULL, signer[SIG_FINGERPRINT_LEN], what[EVL_KEY_MAX + 32];
	uint8_t *buf = NULL;
	size_t len = 0, siglen = 0;
	int r;

	*out = NULL;
	if (res != NULL)
		*res = TRUST_UNCHECKED;
	if (repo == NULL)
		repo = e->repo;
	if ((r = repo_get_buf(repo, key, EVL_META_MAX, &buf, &len, err)) < 0)
		goto out;
	if (e->trust != NULL) {
		snprintf(what, sizeof(what), "segment manifest %s", key);
		if ((r = trust_fetch_sig(repo, key, &sig, &siglen, err)) < 0) {
			lb_err_prefix(err, "%s: cannot read its signature: ", what);
			goto out;
		}
		r = trust_check(e->trust, EVL_SIG_NS, what, (const char *)buf, len, sig, siglen,
		    signer, err);
		if (r < 0 && (!e->skip_signature || r == LB_E_NOMEM))
			goto out;
		if (r < 0) {
			log_warn("INSECURE: %s; going on because of --insecure-skip-signature",
			    err->msg);
			lb_err_clear(err);
		}
		if (res != NULL)
			*res = r == 0 ? TRUST_SIGNED : TRUST_SKIPPED;
	}
	if ((r = evl_meta_parse((const char *)buf, len, out, err)) < 0 ||
	    (r = evl_meta_check_key(*out, key, err)) < 0)
		goto out;
out:
	if (r < 0) {
		evl_meta_free(*out);
		*out = NULL;
	}
	free(buf);
	free(sig);
	return r;
}

int
env_segment_add(const struct lb_env *e, const struct evl_meta *m, int *inserted,
    struct lb_err *err)
{
	struct cat_segment s;
	char cid[17];

	memset(&s, 0, sizeof(s));
	etcd_id_str(m->cluster_id, cid);
	s.cluster = m->cluster;
	s.cluster_id = m->cluster_id != 0 ? cid : NULL;
	s.first_rev = m->first_rev;
	s.last_rev = m->last_rev;
	s.first_time_ms = m->first_time_ms;
	s.last_time_ms = m->last_time_ms;
	s.revisions = (int64_t)m->revisions;
	s.events = (int64_t)m->events;
	s.object = m->object;
	s.stored_size = (int64_t)m->stored_size;
	s.stored_sha256 = m->stored_sha256;
	s.prev_sha256 = m->prev_sha256;
	s.signer = m->signer;
	s.host = m->hostname;
	s.verified_at = -1;
	return cat_segment_add(e->cat, &s, inserted, err);
}
