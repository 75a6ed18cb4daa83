/*
 * ops.h: the catalog subcommands that need more than the catalog (the
 * configuration, the repository, the identity): verify, rebuild, prune,
 * export and import.  cmd/catalog.c dispatches to them; this header is
 * internal to catalog/ (the public contract of the catalog is catalog.h).
 */
#ifndef LB_OPS_H
#define LB_OPS_H

#include "catalog/catalog.h"
#include "common/cli.h"
#include "config/config.h"
#include "common/err.h"
#include "env/env.h"
#include "stream/flt.h"
#include "repo/repo.h"

/* `lifeboat catalog verify ID|latest|--all [--cluster C] [--identity F]`. */
int cat_cmd_verify(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog rebuild [--threads N]`. */
int cat_cmd_rebuild(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog prune [--dry-run] [--cluster C]`. */
int cat_cmd_prune(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog export ID -o FILE.tar`. */
int cat_cmd_export(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog import FILE.tar`. */
int cat_cmd_import(const struct lb_globals *g, int argc, char **argv);

/* Applies cluster's retention now, under the prune lock, on e (repository
 * and catalog opened): what the daemon runs after each backup. */
int cat_prune_cluster(struct lb_env *e, const char *cluster, struct lb_err *err);
/* Verifies the newest complete backup of cluster end to end on e
 * (repository and catalog opened), records and audits the result: what
 * the daemon runs on `verify-schedule`.  Needs e's identity-file. */
int cat_verify_newest(struct lb_env *e, const char *cluster, struct lb_err *err);

/* Appends an audit event whose details are the JSON object made by
 * json_pack(fmt, ...); a failure to audit is logged, not returned, so it
 * never hides the outcome of the operation itself. */
void ops_audit(struct cat *c, enum cat_action action, const char *cluster,
    const char *backup_id, const char *outcome, const char *fmt, ...);

/* A sink that drops what it is given (verification reads to the end). */
struct flt *ops_discard_new(void);

/* Logs err and returns its exit status. */
int ops_fail(const struct lb_err *err);

#endif
