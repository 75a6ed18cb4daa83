/*
 * config.h: the `lifeboat config` command.
 */
#ifndef LB_CMD_CONFIG_H
#define LB_CMD_CONFIG_H

#include "common/cli.h"

/* `lifeboat config check [--probe]|options|example`: check loads the
 * configuration (--config), reads every secret and certificate file it
 * names, prints the effective configuration with secrets masked, and
 * reports what would fail once running (verify-schedule without a
 * readable identity, a time zone not in the tz database); --probe also
 * reaches the repository and every etcd endpoint (probe.h).  Exit status
 * 0, 2 on a configuration error or problem, 1 when a probe failed. */
int cfg_cmd_config(const struct lb_globals *g, int argc, char **argv);

#endif
