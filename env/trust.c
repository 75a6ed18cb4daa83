/*
 * trust.c: the signature check of a manifest (trust.h).
 */
#include "env/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "repo/manifest.h"

int
trust_check(const struct sig_signers *trust, const char *ns, const char *what,
    const char *json, size_t len, const char *sig, size_t siglen,
    char signer[SIG_FINGERPRINT_LEN], struct lb_err *err)
{
	struct sig_key *key = NULL;
	int r;

	signer[0] = '\0';
	if (sig == NULL)
		return lb_err_set(err, LB_E_AUTH, "%s is not signed, and only what a key "
		    "of trusted-signers signed is trusted (anyone with write access to "
		    "the bucket may have planted it)", what);
	if ((r = sig_verify(json, len, sig, siglen, ns, &key, err)) < 0) {
		if (r == LB_E_CRYPTO)
			lb_err_prefix(err, "%s was altered after it was signed: ", what);
		else
			lb_err_prefix(err, "%s: its signature (.sig): ", what);
		return r;
	}
	sig_key_fingerprint(key, signer);
	if ((r = sig_signers_trusts(trust, key, NULL, ns, err)) < 0)
		lb_err_prefix(err, "%s is signed by a key that is not trusted: ", what);
	sig_key_free(key);
	if (r < 0)
		signer[0] = '\0';
	return r;
}

int
trust_fetch_sig(struct repo *repo, const char *key, char **sig, size_t *len,
    struct lb_err *err)
{
	char skey[1400];
	uint8_t *buf = NULL;
	int r;

	*sig = NULL;
	*len = 0;
	if ((size_t)snprintf(skey, sizeof(skey), "%s.sig", key) >= sizeof(skey))
		return lb_err_set(err, LB_E_INTERNAL, "key too long");
	/* one byte beyond the limit, to tell "too large" from "at the limit" */
	if ((r = repo_get_buf(repo, skey, TRUST_SIG_MAX + 1, &buf, len, err)) == LB_E_NOTFOUND) {
		lb_err_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	if (*len > TRUST_SIG_MAX) {
		free(buf);
		return lb_err_set(err, LB_E_CORRUPT, "%s: larger than %u bytes", skey,
		    TRUST_SIG_MAX);
	}
	*sig = (char *)buf;
	return 0;
}

int
env_trust_manifest_sig(const struct lb_env *e, const char *mkey, const char *json,
    size_t len, const char *sig, size_t siglen, enum trust_result *res, struct lb_err *err)
{
	char signer[SIG_FINGERPRINT_LEN], what[1400];
	int r;

	if (res != NULL)
		*res = TRUST_UNCHECKED;
	if (e->trust == NULL)
		return 0;
	snprintf(what, sizeof(what), "manifest %s", mkey);
	if ((r = trust_check(e->trust, MANIFEST_SIG_NS, what, json, len, sig, siglen, signer,
	    err)) == 0) {
		if (res != NULL)
			*res = TRUST_SIGNED;
		return 0;
	}
	if (!e->skip_signature || r == LB_E_NOMEM)
		return r;
	log_warn("INSECURE: %s; going on because of --insecure-skip-signature", err->msg);
	lb_err_clear(err);
	if (res != NULL)
		*res = TRUST_SKIPPED;
	return 0;
}

int
env_trust_manifest(struct lb_env *e, const char *mkey, const char *json, size_t len,
    enum trust_result *res, struct lb_err *err)
{
	char *sig = NULL;
	size_t siglen = 0;
	int r;

	if (res != NULL)
		*res = TRUST_UNCHECKED;
	if (e->trust == NULL)
		return 0;
	if ((r = trust_fetch_sig(e->repo, mkey, &sig, &siglen, err)) < 0)
		return lb_err_prefix(err, "manifest %s: cannot read its signature: ", mkey);
	r = env_trust_manifest_sig(e, mkey, json, len, sig, siglen, res, err);
	free(sig);
	return r;
}

const char *
trust_result_name(enum trust_result res)
{
	return res == TRUST_SIGNED ? "ok" : res == TRUST_SKIPPED ? "skipped" : "unchecked";
}

int
trust_head_read(struct repo *repo, const struct sig_signers *trust, const char *cluster,
    struct head *h, int *found, struct lb_err *err)
{
	char key[300], what[320], signer[SIG_FINGERPRINT_LEN], *sig = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, siglen = 0;
	int r;

	*found = 0;
	if (head_key(cluster, key, sizeof(key)) < 0)
		return lb_err_set(err, LB_E_INTERNAL, "cluster %s: no head key", cluster);
	snprintf(what, sizeof(what), "head %s", key);
	if ((r = repo_get_buf(repo, key, HEAD_MAX, &buf, &len, err)) < 0)
		return lb_err_prefix(err, "%s: ", what);
	*found = 1;
	if (trust != NULL && ((r = trust_fetch_sig(repo, key, &sig, &siglen, err)) < 0 ||
	    (r = trust_check(trust, HEAD_SIG_NS, what, (const char *)buf, len, sig, siglen,
	    signer, err)) < 0))
		goto out;
	if ((r = head_parse((const char *)buf, len, h, err)) < 0)
		lb_err_prefix(err, "%s: ", what);
	else if (strcmp(h->cluster, cluster) != 0)
		r = lb_err_set(err, LB_E_CORRUPT, "%s: the head of cluster %s", what, h->cluster);
out:
	free(buf);
	free(sig);
	return r;
}

const char *
trust_unset_warning(const struct lb_env *e)
{
	if (e->trust != NULL)
		return NULL;
	return "no trusted-signers configured: a backup anyone with write access to "
	    "the bucket planted would be taken as good (hint: signing-key on the "
	    "appliance, trusted-signers where backups are restored or verified)";
}
