/*
 * ops.c: what the repository-facing catalog subcommands share: opening
 * audit events with JSON details, the signature check of a manifest in
 * hand, a discarding sink.
 */
#include "ops/ops.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "env/journal.h"

int
ops_audit(struct lb_env *e, enum cat_action action, const char *cluster,
    const char *backup_id, const char *outcome, const char *fmt, ...)
{
	json_error_t je;
	json_t *d;
	char *txt = NULL;
	va_list ap;
	int r = -1;

	va_start(ap, fmt);
	d = json_vpack_ex(&je, 0, fmt, ap);
	va_end(ap);
	if (d == NULL || (txt = json_dumps(d, JSON_COMPACT)) == NULL)
		log_warn("audit %s: cannot format details: %s", cat_action_name(action),
		    d == NULL ? je.text : "out of memory");
	else
		r = env_audit(e, cat_action_name(action), cluster, backup_id, outcome, txt);
	free(txt);
	json_decref(d);
	return r;
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
