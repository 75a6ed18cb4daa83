/*
 * cli.h: what every subcommand receives from main.c.
 *
 * main.c strips the global options (--config, --log-level, --quiet) from
 * anywhere in argv, so `lifeboat --config F backup` and
 * `lifeboat backup --config F` mean the same.
 *
 * The helpers that used to live here have headers of their own; they are
 * included below until every file includes what it uses.
 */
#ifndef LB_CLI_H
#define LB_CLI_H

#include "common/cancel.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fmt.h"
#include "common/secret.h"

struct lb_globals {
	const char *config_path;  /* --config, $LIFEBOAT_CONFIG or the default */
	int config_explicit;      /* 1 if given by flag or environment */
	int quiet;                /* --quiet: no progress, warnings only */
};

#define LB_DEFAULT_CONFIG "/etc/lifeboat/lifeboat.conf"

/* A subcommand: argv[0] is its name; returns a process exit status. */
typedef int (*lb_cmd_fn)(const struct lb_globals *g, int argc, char **argv);

#endif
