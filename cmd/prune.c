/*
 * prune.c: `lifeboat catalog prune [--dry-run] [--cluster C]`: options,
 * the plan as it is carried out, one line per backup, and the totals;
 * the prune itself is ops_prune (ops/ops.h).  Exits 1 if a backup or a
 * cluster could not be pruned.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>

#include "ops/ops.h"

static void
print_item(const struct ops_prune_item *it, int dry_run, void *arg)
{
	(void)arg;
	switch (it->what) {
	case OPS_PRUNE_POLICY:
		printf("cluster %s: %s%s\n", it->cluster, it->policy == NULL ?
		    "no retention set: keeping every backup" : "retention ",
		    it->policy == NULL ? "" : it->policy);
		break;
	case OPS_PRUNE_EMPTY:
		printf("cluster %s: no backups\n", it->cluster);
		break;
	case OPS_PRUNE_KEEP:
		printf("  keep    %-28s %s %-8s %s\n", it->backup_id, it->started,
		    cat_status_name(it->status), it->why);
		break;
	case OPS_PRUNE_DELETE:
		printf("  %s %-28s %s %-8s %s\n", dry_run ? "would delete" : "delete ",
		    it->backup_id, it->started, cat_status_name(it->status), it->why);
		break;
	case OPS_PRUNE_SEGMENTS:
		printf("  %s %d event-log segment(s), revisions %lld-%lld: %s\n",
		    dry_run ? "would delete" : "delete ", it->segments,
		    (long long)it->first_rev, (long long)it->last_rev, it->why);
		break;
	case OPS_PRUNE_SEGMENTS_KEPT:
		printf("  keep    every event-log segment: %s\n", it->why);
		break;
	}
}

int
cmd_catalog_prune(const struct lb_globals *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "catalog", required_argument, NULL, 'c' },
		{ "cluster", required_argument, NULL, 'C' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *use = "usage: lifeboat catalog prune [--dry-run] [--cluster C] "
	    "[--catalog PATH]\n"
	    "\n"
	    "Applies each cluster's retention: the backups it no longer keeps are\n"
	    "deleted from the repository and the catalog, each deletion audited;\n"
	    "never the newest verified complete backup, nor one under S3 Object\n"
	    "Lock.  Then the event-log segments no kept complete backup needs\n"
	    "(all at or below the oldest one's revision).  --dry-run: print what\n"
	    "would go, delete nothing.\n";
	struct lb_err err = { 0 };
	struct lb_env e = { 0 };
	struct ops_prune_opts o = { 0 };
	struct ops_prune_totals t = { 0 };
	const char *catalog = NULL;
	int ch, status = 2;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "hn", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': catalog = optarg; break;
		case 'C': o.cluster = optarg; break;
		case 'n': o.dry_run = 1; break;
		case 'h': fputs(use, stdout); return 0;
		default: fputs(use, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(use, stderr);
		return 2;
	}
	if (env_open(g->config_path, catalog, ENV_REPO | ENV_CAT, &e, &err) < 0 ||
	    ops_prune(&e, &o, print_item, NULL, &t, &err) < 0) {
		status = cmd_fail(&err);
		goto out;
	}
	printf("prune%s: %d kept, %d %s, %d failed; %d event-log segment(s) %s\n",
	    o.dry_run ? " (dry run)" : "", t.kept, t.deleted,
	    o.dry_run ? "would be deleted" : "deleted", t.failed, t.seg_deleted,
	    o.dry_run ? "would be deleted" : "deleted");
	status = t.bad_clusters + t.failed + t.seg_failed > 0 ? 1 : 0;
out:
	env_close(&e);
	return status;
}
