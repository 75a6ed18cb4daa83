/*
 * journal.h (env): writing the audit trail's objects (repo/journal.h) to
 * an opened repository, signed with the signing key when there is one.
 */
#ifndef LB_ENV_JOURNAL_H
#define LB_ENV_JOURNAL_H

#include "common/err.h"
#include "repo/journal.h"
#include "repo/repo.h"
#include "sign/sign.h"

/* Writes ev as a new object (its signature first, when signer is not
 * NULL, namespace JOURNAL_SIG_NS); ev->os_user and ev->host NULL are
 * filled with this process's.  The object is new each time (a random
 * suffix): nothing is ever rewritten, so Object Lock can hold it. */
int journal_put(struct repo *repo, const struct sig_key *signer,
    const struct journal_event *ev, struct lb_err *err);

#endif
