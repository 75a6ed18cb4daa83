/*
 * cmd.h: the command entry points of cmd/, one function per command (or
 * `catalog` subcommand), each an lb_cmd_fn: options, usage, printing, and
 * one call into an operation.  main.c's command table and cmd/catalog.c's
 * subcommand table point at them.
 */
#ifndef LB_CMD_H
#define LB_CMD_H

#include "common/cli.h"
#include "common/err.h"

/* `lifeboat keygen -o FILE`: a new age identity file and its recipient. */
int cmd_keygen(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat inspect FILE [--json]`: what an etcd snapshot file holds. */
int cmd_inspect(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog SUBCOMMAND ...`: list, show, audit, and the table below. */
int cmd_catalog(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog verify ID|latest|--all [--cluster C] [--identity F]`. */
int cmd_catalog_verify(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog prune [--dry-run] [--cluster C]`. */
int cmd_catalog_prune(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog rebuild [--threads N]`. */
int cmd_catalog_rebuild(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog export ID -o FILE.tar`. */
int cmd_catalog_export(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog import FILE.tar`. */
int cmd_catalog_import(const struct lb_globals *g, int argc, char **argv);
/* Logs err and returns its exit status: how a command ends on a failure. */
int cmd_fail(const struct lb_err *err);

#endif
