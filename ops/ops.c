/*
 * ops.c: what the repository-facing catalog subcommands share: opening
 * the configuration, repository and catalog, audit events with JSON
 * details, a discarding sink.
 */
#include "ops/ops.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "env/setup.h"

/* Opens what need asks for from e->cfg and e->catalog_path. */
static int
open_env(unsigned need, struct ops_env *e, struct lb_err *err)
{
	int r = 0;

	if ((need & OPS_REPO) && (r = setup_repo(e->cfg, &e->repo, err)) < 0)
		goto out;
	if ((need & OPS_CAT) && (r = cat_open(e->catalog_path, 0, &e->cat, err)) < 0)
		goto out;
out:
	if (r < 0)
		ops_close(e);
	return r;
}

int
ops_open(const struct lb_globals *g, const char *catalog_flag, unsigned need,
    struct ops_env *e, struct lb_err *err)
{
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = cfg_load(g->config_path, &e->own_cfg, err)) < 0) {
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
		e->catalog_path = cfg_get_str(e->cfg, NULL, "catalog");
	return open_env(need, e, err);
}

int
ops_open_cfg(const struct cfg *c, unsigned need, struct ops_env *e,
    struct lb_err *err)
{
	memset(e, 0, sizeof(*e));
	e->cfg = c;
	e->catalog_path = cfg_get_str(c, NULL, "catalog");
	return open_env(need, e, err);
}

void
ops_close(struct ops_env *e)
{
	cat_close(e->cat);
	repo_close(e->repo);
	cfg_free(e->own_cfg);
	memset(e, 0, sizeof(*e));
}

void
ops_audit(struct cat *c, enum cat_action action, const char *cluster,
    const char *backup_id, const char *outcome, const char *fmt, ...)
{
	struct lb_err err = { 0 };
	json_error_t je;
	json_t *d;
	char *txt = NULL;
	va_list ap;

	va_start(ap, fmt);
	d = json_vpack_ex(&je, 0, fmt, ap);
	va_end(ap);
	if (d == NULL || (txt = json_dumps(d, JSON_COMPACT)) == NULL)
		log_warn("audit %s: cannot format details: %s", cat_action_name(action),
		    d == NULL ? je.text : "out of memory");
	else if (cat_audit(c, action, cluster, backup_id, outcome, txt, &err) < 0)
		log_warn("audit %s: %s", cat_action_name(action), err.msg);
	free(txt);
	json_decref(d);
}

static int
discard_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	(void)f;
	(void)buf;
	(void)len;
	(void)err;
	return 0;
}

static void
discard_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops discard_ops = { "discard", discard_write, NULL, discard_free };

struct flt *
ops_discard_new(void)
{
	struct flt *f = calloc(1, sizeof(*f));

	if (f != NULL)
		f->ops = &discard_ops;
	return f;
}

int
ops_fail(const struct lb_err *err)
{
	log_error("%s", err->msg);
	return lb_err_exit_status(err->code);
}
