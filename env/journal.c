/*
 * journal.c (env): the audit trail's objects written (journal.h).
 */
#include "env/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/log.h"

int
journal_put(struct repo *repo, const struct sig_key *signer,
    const struct journal_event *in, char key[JOURNAL_KEY_MAX], struct lb_err *err)
{
	struct journal_event ev = *in;
	unsigned char rb[3];
	char rnd[7], skey[JOURNAL_KEY_MAX + 4], host[256], user[64], *json = NULL, *sig = NULL;
	int r;

	cat_whoami(user, sizeof(user), host, sizeof(host));
	if (ev.host == NULL)
		ev.host = host;
	if (ev.os_user == NULL)
		ev.os_user = user;
	if (RAND_bytes(rb, sizeof(rb)) != 1)
		return lb_err_set(err, LB_E_INTERNAL, "no random bytes for an audit event's key");
	snprintf(rnd, sizeof(rnd), "%02x%02x%02x", rb[0], rb[1], rb[2]);
	if ((r = journal_key(&ev, rnd, key, JOURNAL_KEY_MAX)) < 0)
		return lb_err_set(err, LB_E_INTERNAL, "audit event: no key for cluster %s",
		    ev.cluster != NULL ? ev.cluster : "-");
	if ((r = journal_to_json(&ev, &json, err)) < 0)
		goto out;
	if (signer != NULL) {
		snprintf(skey, sizeof(skey), "%s.sig", key);
		if ((r = sig_sign(signer, json, strlen(json), JOURNAL_SIG_NS, &sig, err)) < 0 ||
		    (r = repo_put_buf(repo, skey, sig, strlen(sig), err)) < 0)
			goto out;
	}
	r = repo_put_buf(repo, key, json, strlen(json), err);
out:
	if (r < 0)
		lb_err_prefix(err, "audit event to the repository: ");
	free(json);
	free(sig);
	return r;
}

int
env_audit(const struct lb_env *e, const char *action, const char *cluster,
    const char *backup_id, const char *outcome, const char *details)
{
	struct journal_event ev = { .at_ms = lb_wall_ms(), .action = action,
	    .cluster = cluster, .backup_id = backup_id, .outcome = outcome,
	    .details = details };
	struct cat_audit_event ce = { .at = ev.at_ms / 1000, .action = action,
	    .cluster = cluster, .backup_id = backup_id, .outcome = outcome,
	    .details = details };
	struct lb_err err;
	char key[JOURNAL_KEY_MAX];
	int added;

	/* the repository's copy first: the catalog's row names it */
	if (e->repo != NULL) {
		if (journal_put(e->repo, e->signer, &ev, key, &err) == 0)
			ce.ref = key;
		else
			log_warn("audit %s: %s", action, err.msg);
	}
	if (e->cat != NULL && cat_audit_add(e->cat, &ce, &added, &err) < 0) {
		log_warn("audit %s: %s", action, err.msg);
		return -1;
	}
	return 0;
}
