/*
 * cmd.h: the commands main.c dispatches to, and the `catalog` subcommands
 * cmd/catalog.c dispatches to.  Each is one file in cmd/: its options,
 * usage and the printing of results; the work is one operation of a
 * lower room.  Each is an lb_cmd_fn and returns a process exit status.
 */
#ifndef LB_CMD_H
#define LB_CMD_H

#include "common/err.h"

/* What every command receives from main.c, which strips the global
 * options (--config, --log-level, --quiet) from anywhere in argv, so
 * `lifeboat --config F backup` and `lifeboat backup --config F` mean the
 * same. */
struct lb_globals {
	const char *config_path;  /* --config, $LIFEBOAT_CONFIG or the default */
	int config_explicit;      /* 1 if given by flag or environment */
	int quiet;                /* --quiet: no progress, warnings only */
};

#define LB_DEFAULT_CONFIG "/etc/lifeboat/lifeboat.conf"

/* A command: argv[0] is its name; returns a process exit status. */
typedef int (*lb_cmd_fn)(const struct lb_globals *g, int argc, char **argv);

/* `lifeboat backup`: back up the configured clusters (backup/backup.h). */
int cmd_backup(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat pull`: a verified snapshot of every member into files (backup/pull.h). */
int cmd_pull(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat restore`: rebuild a cluster or member from a backup (restore/restore.h). */
int cmd_restore(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat drill`: restore a backup into a scratch etcd and check it (restore/drill.h). */
int cmd_drill(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat snapd`: the snapshot daemon (snapd/daemon.h). */
int cmd_snapd(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat catalog SUBCOMMAND ...`: list, show, audit, and the ones below. */
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
/* `lifeboat keygen -o FILE`: a new age identity file and its recipient. */
int cmd_keygen(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat config [check [--probe]|options|example|show]`. */
int cmd_config(const struct lb_globals *g, int argc, char **argv);
/* `lifeboat inspect FILE [--json]`: what an etcd snapshot file holds. */
int cmd_inspect(const struct lb_globals *g, int argc, char **argv);

/* `lifeboat complete WHAT ...`: words for bash completion (hidden). */
int cmd_complete(const struct lb_globals *g, int argc, char **argv);

/* One row of the command line's words (cmd/words.c): a command, or one of
 * its subcommands (sub: catalog's and config's subcommands, restore's
 * modes), its options ("--flag" or "--option=KIND", space-separated) and
 * what its operand is ("backup", "file", or NULL for none). */
struct cmd_words {
	const char *cmd;
	const char *sub;
	const char *opts;
	const char *operand;
};

/* Every command's and subcommand's row, ending with a row of NULLs. */
extern const struct cmd_words cmd_words[];

/* Logs err and returns its exit status: how a command ends on a failure. */
int cmd_fail(const struct lb_err *err);

#endif
