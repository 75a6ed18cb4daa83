/*
 * ops.h: the catalog subcommands that need more than the catalog (the
 * configuration, the repository, the identity): verify, rebuild, prune,
 * export and import.  catalog_cmd.c dispatches to them; this header is
 * internal to catalog/ (the public contract of the catalog is catalog.h).
 */
#ifndef LB_CAT_OPS_H
#define LB_CAT_OPS_H

#include "catalog/catalog.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "common/flt.h"
#include "common/repo.h"

/* `lifeboat catalog verify ID|latest|--all [--cluster C] [--identity F]`. */
int cat_cmd_verify(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog rebuild [--threads N]`. */
int cat_cmd_rebuild(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog prune [--dry-run] [--cluster C]`. */
int cat_cmd_prune(const struct lb_globals *g, int argc, char **argv);
/* Applies cluster's retention now, under the prune lock: what the daemon
 * runs after each backup. */
int cat_prune_cluster(const struct lb_globals *g, const char *cluster,
    struct lb_err *err);
/* Verifies the newest complete backup of cluster end to end, records and
 * audits the result: what the daemon runs on `verify-schedule`.  Needs the
 * config's identity-file. */
int cat_verify_newest(const struct lb_globals *g, const char *cluster,
    struct lb_err *err);
/* `lifeboat catalog export ID -o FILE.tar`. */
int cat_cmd_export(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog import FILE.tar`. */
int cat_cmd_import(const struct lb_globals *g, int argc, char **argv);

/* What an operation works on, opened from the configuration. */
struct ops_env {
	struct cfg *cfg;
	struct repo *repo;
	struct cat *cat;
	const char *catalog_path;
};

#define OPS_REPO 0x1
#define OPS_CAT  0x2

/* Loads g's configuration and opens what need asks for; the catalog is
 * catalog_flag when not NULL, else $LIFEBOAT_CATALOG when set, else the
 * config's `catalog`. */
int ops_open(const struct lb_globals *g, const char *catalog_flag, unsigned need,
    struct ops_env *e, struct lb_err *err);
void ops_close(struct ops_env *e);

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
