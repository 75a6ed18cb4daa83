/*
 * setup.h: turns the parsed configuration into the objects the commands
 * work with: the repository, the age recipients or identity, and the
 * etcd connection options of a cluster.  Every command that touches a
 * repository or a cluster goes through here, so an option means the same
 * thing to backup, verify, prune, restore and the daemon.
 */
#ifndef LB_SETUP_H
#define LB_SETUP_H

#include <stddef.h>

#include "stream/age.h"
#include "config/config.h"
#include "common/err.h"
#include "etcd/etcd.h"
#include "repo/repo.h"
#include "sign/sign.h"

/* Opens the repository named by `repo` and the s3-* options.  Credentials
 * come from the config's files or the environment, and are wiped once the
 * repository holds its own copy. */
int setup_repo(const struct cfg *c, struct repo **out, struct lb_err *err);

/* The recipients backups are encrypted to: `recipients` plus the age1...
 * lines of `recipients-file`.  At least one is required. */
struct setup_recipients {
	struct age_recipient **v;
	size_t n, cap;
};
int setup_recipients(const struct cfg *c, struct setup_recipients *out,
    struct lb_err *err);
void setup_recipients_release(struct setup_recipients *r);

/* The identity of `identity-file`, or of path when not NULL (a command
 * line override).  Needed only to verify and restore. */
int setup_identity(const struct cfg *c, const char *path,
    struct age_identity **out, struct lb_err *err);

/* The key of `signing-key` that signs manifests; *out stays NULL when
 * the option is unset (backups are then unsigned).  A key that cannot be
 * used (missing, readable by others, not Ed25519) is LB_E_CONFIG. */
int setup_signing_key(const struct cfg *c, struct sig_key **out, struct lb_err *err);

/* The allowed signers of `trusted-signers`, or of path when not NULL;
 * *out stays NULL when neither is set (signatures are then not checked,
 * and backups can be planted: callers warn). */
int setup_trusted_signers(const struct cfg *c, const char *path,
    struct sig_signers **out, struct lb_err *err);

/* The etcd options of cluster: TLS files, user and password (from its
 * password-file or $LIFEBOAT_ETCD_PASSWORD_<NAME>), timeouts.  The
 * password is stored in *password for the caller to lb_secret_free. */
int setup_etcd_opts(const struct cfg *c, const char *cluster,
    struct etcd_opts *o, char **password, struct lb_err *err);

#endif
