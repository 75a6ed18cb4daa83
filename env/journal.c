/*
 * journal.c (env): the audit trail's objects written (journal.h).
 */
#include "env/journal.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

int
journal_put(struct repo *repo, const struct sig_key *signer,
    const struct journal_event *in, struct lb_err *err)
{
	struct journal_event ev = *in;
	struct passwd *pw;
	unsigned char rb[3];
	char rnd[7], key[512], skey[520], host[256] = "", user[64], *json = NULL, *sig = NULL;
	int r;

	if (ev.host == NULL) {
		gethostname(host, sizeof(host) - 1);
		ev.host = host;
	}
	if (ev.os_user == NULL) {
		/* as the catalog's events: the name, else the uid */
		if ((pw = getpwuid(geteuid())) != NULL)
			snprintf(user, sizeof(user), "%s", pw->pw_name);
		else
			snprintf(user, sizeof(user), "uid %u", (unsigned)geteuid());
		ev.os_user = user;
	}
	if (RAND_bytes(rb, sizeof(rb)) != 1)
		return lb_err_set(err, LB_E_INTERNAL, "no random bytes for an audit event's key");
	snprintf(rnd, sizeof(rnd), "%02x%02x%02x", rb[0], rb[1], rb[2]);
	if ((r = journal_key(&ev, rnd, key, sizeof(key))) < 0)
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
