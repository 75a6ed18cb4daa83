/*
 * env.c: opening and closing an environment (env.h).
 */
#include "env/env.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "env/setup.h"

/* Opens what need asks for from e->cfg and e->catalog_path. */
static int
open_parts(unsigned need, struct lb_env *e, struct lb_err *err)
{
	struct lb_err e2;
	int r = 0;

	if ((need & ENV_REPO) && ((r = setup_trusted_signers(e->cfg, NULL, &e->trust, err)) < 0 ||
	    (r = setup_repo(e->cfg, &e->repo, err)) < 0))
		goto out;
	/* Only the audit trail's objects need it, and a verify or restore
	 * by someone who may not read it must still run: unsigned then. */
	if ((need & ENV_REPO) && setup_signing_key(e->cfg, &e->signer, &e2) < 0)
		log_warn("%s: the audit trail's objects go unsigned", e2.msg);
	if ((need & ENV_CAT) && (r = cat_open(e->catalog_path, 0, &e->cat, err)) < 0)
		goto out;
out:
	if (r < 0)
		env_close(e);
	return r;
}

int
env_open(const char *config_path, const char *catalog_flag, unsigned need,
    struct lb_env *e, struct lb_err *err)
{
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = cfg_load(config_path, &e->own_cfg, err)) < 0) {
		/* no configuration is a configuration error (exit 2) */
		if (r == LB_E_NOTFOUND)
			r = err->code = LB_E_CONFIG;
		return r;
	}
	e->cfg = e->own_cfg;
	/* As list/show/audit: the flag, then $LIFEBOAT_CATALOG; then the
	 * configuration, which those read-only commands do not load. */
	e->catalog_path = catalog_flag != NULL ? catalog_flag : getenv("LIFEBOAT_CATALOG");
	if (e->catalog_path == NULL || e->catalog_path[0] == '\0')
		e->catalog_path = cfg_get_str(e->cfg, NULL, CFG_CATALOG);
	return open_parts(need, e, err);
}

int
env_open_cfg(const struct cfg *c, unsigned need, struct lb_env *e,
    struct lb_err *err)
{
	memset(e, 0, sizeof(*e));
	e->cfg = c;
	e->catalog_path = cfg_get_str(c, NULL, CFG_CATALOG);
	return open_parts(need, e, err);
}

void
env_close(struct lb_env *e)
{
	cat_close(e->cat);
	repo_close(e->repo);
	sig_signers_free(e->trust);
	sig_key_free(e->signer);
	cfg_free(e->own_cfg);
	memset(e, 0, sizeof(*e));
}
