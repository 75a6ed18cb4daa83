/*
 * journal.h (env): writing the audit trail's objects (repo/journal.h) to
 * an opened repository, signed with the signing key when there is one.
 */
#ifndef LB_ENV_JOURNAL_H
#define LB_ENV_JOURNAL_H

#include "common/err.h"
#include "env/env.h"
#include "repo/journal.h"
#include "repo/repo.h"
#include "sign/sign.h"

/* Writes ev as a new object, whose key goes to key (its signature first,
 * when signer is not NULL, namespace JOURNAL_SIG_NS); ev->os_user and
 * ev->host NULL are filled with this process's (cat_whoami).  The object
 * is new each time (a random suffix): nothing is ever rewritten, so
 * Object Lock can hold it. */
int journal_put(struct repo *repo, const struct sig_key *signer,
    const struct journal_event *ev, char key[JOURNAL_KEY_MAX], struct lb_err *err);

/* Records one audit event in e's repository (journal_put) and in e's
 * catalog, each when e has one, the catalog's row naming the object, so
 * that a rebuild reading the object back meets the row (cat_audit_add).  A
 * failure is logged: an audit that fails must never hide the outcome of
 * what it records.  Returns 0 when the catalog took the event (or e has
 * no catalog), -1 when it did not, for the callers whose next step must
 * wait until the event is on record (prune). */
int env_audit(const struct lb_env *e, const char *action, const char *cluster,
    const char *backup_id, const char *outcome, const char *details);

#endif
