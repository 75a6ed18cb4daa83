/*
 * cmd/backup.c: `lifeboat backup`: its options, usage and the printing of
 * results (text, or --json).  Each cluster's backup is backup_cluster's
 * (backup/backup.h).
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "backup/backup.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "common/fmt.h"
#include "common/log.h"
#include "config/config.h"

/* The members' progress: redrawn in place on a terminal, otherwise a log
 * line per member every 10 s of a run and at its end. */
struct progress {
	int tty;
	int running;               /* a run's lines are on screen / being logged */
	double last_log;
};

static void
show_progress(void *arg, const char *const *lines, size_t n, int final)
{
	struct progress *p = arg;
	double now = lb_mono_now();
	size_t i;

	if (!p->running) {
		p->running = 1;
		p->last_log = now;
	} else if (p->tty)
		fprintf(stderr, "\033[%zuA", n);
	if (p->tty) {
		for (i = 0; i < n; i++)
			fprintf(stderr, "\r%s\033[K\n", lines[i]);
	} else if (now - p->last_log >= 10 || final) {
		p->last_log = now;
		for (i = 0; i < n; i++)
			log_info("progress %s", lines[i]);
	}
	if (final)
		p->running = 0;
}

static void
backup_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: lifeboat backup [--cluster NAME] [--json] [--quiet]\n"
	    "\n"
	    "Backs up every configured cluster (or one): a snapshot of every member,\n"
	    "verified, compressed with zstd, encrypted with age, stored in the\n"
	    "repository with a manifest, and recorded in the catalog.\n"
	    "\n"
	    "  --cluster NAME   only this [cluster:NAME]\n"
	    "  --json           print the results as JSON\n"
	    "  --no-progress    no progress display\n"
	    "\n"
	    "Exit status: 0 complete, 3 partial (a member failed), 4 members'\n"
	    "data diverge (HashKV), 1 failed, 2 usage or configuration.\n");
}

static void
print_results(const struct backup_result *res, const char *const *names,
    size_t n, int json)
{
	static const char *const outcome[] = { "complete", "partial", "failed" };
	char db[32], pl[32], st[32];
	size_t i;

	if (json) {
		json_t *arr = json_array();
		for (i = 0; i < n; i++) {
			const struct backup_result *b = &res[i];
			json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:i,s:I,s:I,s:I,s:I,s:b,s:f}",
			    "cluster", names[i], "backup_id", b->backup_id, "status",
			    outcome[b->outcome], "members_ok", (int)b->members_ok,
			    "members_total", (int)b->members_total, "revision",
			    (json_int_t)b->revision, "db_size", (json_int_t)b->db_size,
			    "pulled", (json_int_t)b->pulled, "stored", (json_int_t)b->stored,
			    "divergent", b->divergent, "seconds", b->seconds);
			if (o != NULL && b->err.code != 0)
				json_object_set_new(o, "error", json_string(b->err.msg));
			json_array_append_new(arr, o);
		}
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(arr);
		return;
	}
	for (i = 0; i < n; i++) {
		const struct backup_result *b = &res[i];
		lb_fmt_size(b->db_size, db, sizeof(db));
		lb_fmt_size(b->pulled, pl, sizeof(pl));
		lb_fmt_size(b->stored, st, sizeof(st));
		/* db: one member's; pulled and stored: every member's, their ratio */
		if (b->outcome == BACKUP_FAILED)
			printf("%s: backup failed: %s\n", names[i], b->err.msg);
		else
			printf("%s: backup %s %s: %zu/%zu members, revision %lld, db %s, "
			    "snapshots %s stored as %s (ratio %.1f), %.1fs%s\n", names[i],
			    b->backup_id, outcome[b->outcome], b->members_ok, b->members_total,
			    (long long)b->revision, db, pl, st,
			    b->stored ? (double)b->pulled / (double)b->stored : 0.0,
			    b->seconds, b->divergent ? ", MEMBERS DIVERGE" : "");
	}
}

int
cmd_backup(const struct lb_globals *g, int argc, char **argv)
{
	enum { O_JSON = 256, O_NOPROG };
	static const struct option longopts[] = {
		{ "cluster", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, O_JSON },
		{ "no-progress", no_argument, NULL, O_NOPROG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct backup_result *res = NULL;
	struct backup_env *env = NULL;
	struct cfg *cfg = NULL;
	struct lb_err err;
	const char *only = NULL, **names = NULL;
	struct progress prog = { 0 };
	size_t i, n = 0;
	int opt, json = 0, noprog = 0, status = 2;

	lb_err_clear(&err);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': only = optarg; break;
		case O_JSON: json = 1; break;
		case O_NOPROG: noprog = 1; break;
		case 'h': backup_usage(stdout); return 0;
		default: backup_usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		backup_usage(stderr);
		return 2;
	}
	if (cfg_load(g->config_path, &cfg, &err) < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	if (only != NULL && !cfg_has_cluster(cfg, only)) {
		log_error("%s: no [cluster:%s] section", cfg_source(cfg), only);
		goto out;
	}
	if (cfg_cluster_count(cfg) == 0) {
		log_error("%s: no [cluster:NAME] section to back up", cfg_source(cfg));
		goto out;
	}
	prog.tty = isatty(STDERR_FILENO);
	lb_cancel_on_signals();
	status = 1;
	if (backup_env_open(cfg, g->quiet || noprog || json ? NULL : show_progress,
	    &prog, &lb_cancel, &env, &err) < 0) {
		log_error("%s", err.msg);
		status = lb_err_exit_status(err.code);
		goto out;
	}
	if ((res = calloc(cfg_cluster_count(cfg), sizeof(*res))) == NULL ||
	    (names = calloc(cfg_cluster_count(cfg), sizeof(*names))) == NULL)
		goto out;
	for (i = 0; i < cfg_cluster_count(cfg) && !lb_cancel; i++) {
		const char *name = cfg_cluster_name(cfg, i);
		if (only != NULL && strcmp(name, only) != 0)
			continue;
		names[n] = name;
		if (backup_cluster(env, name, &res[n]) < 0)
			log_error("cluster %s: %s", name, res[n].err.msg);
		n++;
	}
	fflush(stderr);
	print_results(res, names, n, json);
	status = backup_exit_status(res, n);
out:
	backup_env_close(env);
	free(res);
	free(names);
	cfg_free(cfg);
	return status;
}
