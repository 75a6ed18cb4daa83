/*
 * cmd/complete.c: `lifeboat complete`, the words bash completion offers
 * (contrib/lifeboat.bash-completion calls it), from the command table
 * (cmd/words.c), the configuration (cluster names) and the catalog
 * (backup ids).  Hidden from the command list: it is for the completion
 * script and the manual's test, not for people.  It never fails loudly:
 * what it cannot read it leaves out, and it always exits 0 (2 on usage).
 *
 *   complete commands                 the commands
 *   complete subcommands CMD          catalog's, config's, restore's modes
 *   complete options CMD [SUB]        "--flag" or "--option=KIND" a line each,
 *                                     the global options included
 *   complete operand CMD [SUB]        what the operand is: backup, file or nothing
 *   complete clusters                 [cluster:NAME] of the configuration
 *   complete backups [--cluster C] [--catalog F]   backup ids, newest first
 *   complete table                    every row: CMD SUB|- OPTION...
 */
#include "cmd/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "config/config.h"

/* The global options main.c takes anywhere on the line. */
static const char *const global_opts[] = {
	"--config=file", "--log-level=level", "--quiet", "--help",
};

/* Backup ids offered at most: a catalog of years of hourly backups would
 * flood the terminal, and the newest are the ones people name. */
#define BACKUPS_MAX 200

static const struct cmd_words *
find_row(const char *cmd, const char *sub)
{
	const struct cmd_words *w;

	for (w = cmd_words; w->cmd != NULL; w++)
		if (strcmp(w->cmd, cmd) == 0 &&
		    (sub == NULL ? w->sub == NULL : w->sub != NULL && strcmp(w->sub, sub) == 0))
			return w;
	return NULL;
}

static void
print_words(const char *s)
{
	const char *p = s, *e;

	while (*p != '\0') {
		e = strchr(p, ' ');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p)
			printf("%.*s\n", (int)(e - p), p);
		p = *e == ' ' ? e + 1 : e;
	}
}

static int
print_backup(const struct cat_backup *b, void *arg)
{
	(void)arg;
	printf("%s\n", b->id);
	return 0;
}

/* The catalog the catalog commands would read: --catalog, else
 * $LIFEBOAT_CATALOG, else the configuration's, else the default. */
static void
complete_backups(const struct lb_globals *g, const char *cluster, const char *path)
{
	struct cat_filter f = { .status = -1, .newest_first = 1, .limit = BACKUPS_MAX };
	struct lb_err err = { 0 };
	struct cfg *cfg = NULL;
	struct cat *c = NULL;
	const char *env = getenv("LIFEBOAT_CATALOG");

	if (path == NULL && (env == NULL || *env == '\0') &&
	    cfg_load(g->config_path, &cfg, &err) == 0)
		path = cfg_get_str(cfg, NULL, CFG_CATALOG);
	f.cluster = cluster;
	if (cat_open(cat_default_path(path), CAT_OPEN_READONLY, &c, &err) == 0)
		(void)cat_backup_list(c, &f, 0, print_backup, NULL, &err);
	cat_close(c);
	cfg_free(cfg);
	printf("latest\n");
}

int
cmd_complete(const struct lb_globals *g, int argc, char **argv)
{
	const struct cmd_words *w;
	const char *what = argc > 1 ? argv[1] : "";
	const char *last = NULL;
	size_t i;

	if (strcmp(what, "commands") == 0 && argc == 2) {
		for (w = cmd_words; w->cmd != NULL; w++)
			if (last == NULL || strcmp(last, w->cmd) != 0)
				printf("%s\n", (last = w->cmd));
	} else if (strcmp(what, "subcommands") == 0 && argc == 3) {
		for (w = cmd_words; w->cmd != NULL; w++)
			if (w->sub != NULL && strcmp(w->cmd, argv[2]) == 0)
				printf("%s\n", w->sub);
	} else if ((strcmp(what, "options") == 0 || strcmp(what, "operand") == 0) &&
	    (argc == 3 || argc == 4)) {
		w = find_row(argv[2], argc == 4 ? argv[3] : NULL);
		if (strcmp(what, "options") == 0) {
			for (i = 0; i < sizeof(global_opts) / sizeof(global_opts[0]); i++)
				printf("%s\n", global_opts[i]);
			if (w != NULL)
				print_words(w->opts);
		} else if (w != NULL && w->operand != NULL)
			printf("%s\n", w->operand);
	} else if (strcmp(what, "clusters") == 0 && argc == 2) {
		struct lb_err err = { 0 };
		struct cfg *cfg = NULL;

		if (cfg_load(g->config_path, &cfg, &err) == 0)
			for (i = 0; i < cfg_cluster_count(cfg); i++)
				printf("%s\n", cfg_cluster_name(cfg, i));
		cfg_free(cfg);
	} else if (strcmp(what, "backups") == 0) {
		const char *cluster = NULL, *path = NULL;

		for (i = 2; i + 1 < (size_t)argc; i += 2) {
			if (strcmp(argv[i], "--cluster") == 0)
				cluster = argv[i + 1];
			else if (strcmp(argv[i], "--catalog") == 0)
				path = argv[i + 1];
		}
		complete_backups(g, cluster, path);
	} else if (strcmp(what, "table") == 0 && argc == 2) {
		for (w = cmd_words; w->cmd != NULL; w++)
			printf("%s %s %s\n", w->cmd, w->sub != NULL ? w->sub : "-", w->opts);
	} else {
		fprintf(stderr, "usage: lifeboat complete commands|subcommands CMD|"
		    "options CMD [SUB]|operand CMD [SUB]|clusters|backups [--cluster C] "
		    "[--catalog F]|table\n");
		return 2;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
