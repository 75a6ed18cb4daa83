/*
 * env.h: the environment an operation works in: a configuration and what
 * is opened from it (the repository, the catalog).  The commands open one
 * per call; the daemon opens one from the configuration it is running.
 * Operations take it opened and never load the configuration themselves,
 * so an option means the same to every caller and is read once.
 */
#ifndef LB_ENV_H
#define LB_ENV_H

#include "catalog/catalog.h"
#include "config/config.h"
#include "common/err.h"
#include "repo/repo.h"
#include "sign/sign.h"

struct lb_env {
	const struct cfg *cfg;
	struct repo *repo;         /* with ENV_REPO */
	struct cat *cat;           /* with ENV_CAT */
	const char *catalog_path;
	struct cfg *own_cfg;       /* loaded by env_open; NULL: the caller's */
	struct sig_signers *trust; /* trusted-signers, with ENV_REPO; NULL: unset */
	struct sig_key *signer;    /* signing-key, with ENV_REPO, for the audit
	                            * trail's objects; NULL: unset or unreadable */
	int skip_signature;        /* --insecure-skip-signature (env/trust.h) */
};

/* What to open besides the configuration.  ENV_REPO also loads the
 * trusted signers (env/trust.h): what is read from a repository is
 * checked against them. */
#define ENV_REPO 0x1
#define ENV_CAT  0x2

/* Loads the configuration at config_path and opens what need asks for.
 * The catalog is catalog_flag when not NULL, else $LIFEBOAT_CATALOG when
 * set, else the configuration's `catalog`.  A missing configuration is a
 * configuration error (LB_E_CONFIG). */
int env_open(const char *config_path, const char *catalog_flag, unsigned need,
    struct lb_env *e, struct lb_err *err);

/* Opens what need asks for from c, a configuration the caller keeps
 * alive longer than e, and the catalog c names (no $LIFEBOAT_CATALOG):
 * what the daemon's backups, verifications and prunes use. */
int env_open_cfg(const struct cfg *c, unsigned need, struct lb_env *e,
    struct lb_err *err);

/* Closes what env_open or env_open_cfg opened; e is then empty. */
void env_close(struct lb_env *e);

#endif
