/*
 * main.c: parses the global options and dispatches to a subcommand.
 * Nothing else lives here: each subcommand is one function in cmd/
 * (cmd/cmd.h), which parses its options, calls one operation of a lower
 * room and prints what it returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "config/config.h"

static int cmd_version(const struct lb_globals *g, int argc, char **argv);
static int cmd_help(const struct lb_globals *g, int argc, char **argv);

/* The revision of the build, from the Makefile (git describe). */
#ifndef LB_GIT_REV
#define LB_GIT_REV "unknown"
#endif

/* A command without a summary is hidden from the list (complete: for the
 * completion script).  cmd/words.c lists the same commands with their
 * options; tests/integration/manual_test.sh keeps the two in step. */
static const struct {
	const char *name;
	lb_cmd_fn fn;
	const char *summary;
} commands[] = {
	{ "backup", cmd_backup, "back up the configured clusters" },
	{ "pull", cmd_pull, "pull a verified snapshot from every member" },
	{ "restore", cmd_restore, "rebuild an etcd cluster from a backup" },
	{ "drill", cmd_drill, "restore a backup into a scratch etcd, check it, time it" },
	{ "snapd", cmd_snapd, "run the snapshot daemon (schedules, metrics, health)" },
	{ "catalog", cmd_catalog, "list, show, verify and audit backups" },
	{ "keygen", cmd_keygen, "generate an age identity for encrypting backups" },
	{ "config", cmd_config, "check the configuration, list its options" },
	{ "inspect", cmd_inspect, "read an etcd snapshot file: revision, keys, hash, trailer" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "list the commands" },
	{ "complete", cmd_complete, NULL },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp,
	    "usage: lifeboat [--config FILE] [--log-level LEVEL] [--quiet] COMMAND [ARGS]\n"
	    "\n"
	    "etcd backup and disaster recovery.\n"
	    "\n"
	    "commands:\n");
	for (i = 0; i < N_COMMANDS; i++)
		if (commands[i].summary != NULL)
			fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(fp,
	    "\n"
	    "global options (before or after the command):\n"
	    "  --config FILE      configuration file (default $LIFEBOAT_CONFIG or %s)\n"
	    "  --log-level LEVEL  error, warn, info (default) or debug\n"
	    "  --quiet            no progress, only warnings and errors\n"
	    "\n"
	    "Run 'lifeboat COMMAND --help' for a command's options.\n",
	    LB_DEFAULT_CONFIG);
}

static int
cmd_version(const struct lb_globals *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	printf("lifeboat %s (git %s)\n%s\n", LB_VERSION, LB_GIT_REV, curl_version());
	return 0;
}

static int
cmd_help(const struct lb_globals *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

/* Takes the global options out of argv wherever they stand (up to a
 * "--"), so every subcommand sees only its own.  Returns -1 on a bad
 * global option. */
static int
strip_globals(int *argcp, char **argv, struct lb_globals *g, int *level)
{
	int i, j = 0, argc = *argcp, end = 0;
	const char *val;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t n;

		if (end || strcmp(a, "--") == 0) {
			end = 1;
			argv[j++] = argv[i];
			continue;
		}
		val = NULL;
		if (strncmp(a, "--config", 8) == 0 || strncmp(a, "--log-level", 11) == 0) {
			n = strncmp(a, "--config", 8) == 0 ? 8 : 11;
			if (a[n] == '=')
				val = a + n + 1;
			else if (a[n] != '\0') {
				argv[j++] = argv[i];
				continue;
			} else if (i + 1 < argc)
				val = argv[++i];
			else {
				fprintf(stderr, "lifeboat: %s needs a value\n", a);
				return -1;
			}
			if (n == 8) {
				g->config_path = val;
				g->config_explicit = 1;
			} else if ((*level = log_level_parse(val)) < 0) {
				fprintf(stderr, "lifeboat: unknown log level '%s' "
				    "(error, warn, info or debug)\n", val);
				return -1;
			}
		} else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
			g->quiet = 1;
		} else {
			argv[j++] = argv[i];
		}
	}
	argv[j] = NULL;
	*argcp = j;
	return 0;
}

int
main(int argc, char **argv)
{
	struct lb_globals g = { 0 };
	int level = LOG_INFO, status;
	const char *env;
	size_t i;

	g.config_path = LB_DEFAULT_CONFIG;
	if ((env = getenv("LIFEBOAT_CONFIG")) != NULL && *env != '\0') {
		g.config_path = env;
		g.config_explicit = 1;
	}
	argc--;
	argv++;
	if (strip_globals(&argc, argv, &g, &level) < 0)
		return 2;
	if (g.quiet && level > LOG_WARN)
		level = LOG_WARN;
	log_setup((enum log_level)level, LOG_STYLE_HUMAN);

	if (argc == 0 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
		usage(argc == 0 ? stderr : stdout);
		return argc == 0 ? 2 : 0;
	}
	if (strcmp(argv[0], "--version") == 0)
		return cmd_version(&g, argc, argv);
	for (i = 0; i < N_COMMANDS; i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == N_COMMANDS) {
		fprintf(stderr, "lifeboat: unknown command '%s' (see 'lifeboat help')\n",
		    argv[0]);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lifeboat: cannot initialise libcurl\n");
		return 1;
	}
	status = commands[i].fn(&g, argc, argv);
	curl_global_cleanup();
	return status;
}
