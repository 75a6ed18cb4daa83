/*
 * cmd.h: the commands main.c dispatches to.  Each is one file in cmd/:
 * its options, usage and the printing of results; the work is one
 * operation of a lower room.  Each returns a process exit status.
 */
#ifndef LB_CMD_H
#define LB_CMD_H

#include "common/cli.h"

/* `lifeboat backup`: back up the configured clusters (backup/backup.h). */
int backup_cmd(const struct lb_globals *g, int argc, char **argv);

/* `lifeboat pull`: a verified snapshot of every member into files (backup/pull.h). */
int pull_cmd(const struct lb_globals *g, int argc, char **argv);

/* `lifeboat restore`: rebuild a cluster or member from a backup (restore/restore.h). */
int restore_cmd(const struct lb_globals *g, int argc, char **argv);

/* `lifeboat snapd`: the snapshot daemon (snapd/daemon.h). */
int snapd_cmd(const struct lb_globals *g, int argc, char **argv);

#endif
