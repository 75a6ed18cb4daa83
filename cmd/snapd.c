/*
 * cmd/snapd.c: `lifeboat snapd`: its options and usage.  The daemon is
 * snapd_run's (snapd/daemon.h).
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>

#include "snapd/daemon.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: lifeboat [--config FILE] snapd\n"
	    "\n"
	    "Runs the snapshot daemon in the foreground: backs up every configured\n"
	    "cluster on its schedule, serves /metrics and /healthz on metrics-listen.\n"
	    "SIGHUP reloads the configuration; SIGTERM stops.\n");
}

int
cmd_snapd(const struct lb_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return snapd_run(g->config_path);
}
