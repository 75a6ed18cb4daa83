/*
 * drill.c: `lifeboat drill`: options, and the report printed for people
 * (or one JSON object); the drill itself is drill_run (restore/drill.h).
 * Exits 0 when the drill is ok, 1 when it failed (and was recorded), 2
 * for usage and configuration errors.  Ctrl-C stops the drill, which
 * still stops its etcd and wipes its directory.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cancel.h"
#include "common/log.h"
#include "config/config.h"
#include "restore/drill.h"

enum { O_CLUSTER = 1000, O_BACKUP, O_JSON, O_IDENTITY, O_CATALOG, O_SKIP_SIG };

#define DRILL_USAGE \
	"usage: lifeboat drill [--cluster C] [--backup ID|latest|random] [--json]\n" \
	"                      [--identity FILE] [--catalog PATH] [--insecure-skip-signature]\n" \
	"\n" \
	"Restores one backup (default: the newest complete one) into a scratch etcd\n" \
	"on loopback in drill-dir, starts it, checks revision, key count and HashKV\n" \
	"against the backup, counts the Kubernetes objects per resource, measures\n" \
	"the time to serving (RTO), then stops it and wipes the directory.  With an\n" \
	"event log (pitr), the backup before it replayed to its revision must hold\n" \
	"its keys too (the A -> B proof of catalog verify), or the drill fails.\n" \
	"The result goes to the catalog and the audit trail.  Exit 0: ok; 1: the\n" \
	"drill failed; 2: usage or configuration.\n"

static void
print_report(const struct drill_report *rep)
{
	size_t i;

	printf("drill of backup %s (%s): %s\n", rep->backup_id, rep->cluster,
	    strcmp(rep->result, "ok") == 0 ? "ok" : "FAILED");
	if (rep->error[0] != '\0')
		printf("  error:       %s\n", rep->error);
	if (rep->etcd_version[0] != '\0')
		printf("  etcd:        %s (snapshot of %s)\n", rep->etcd_version,
		    rep->snap_version[0] != '\0' ? rep->snap_version : "an unknown version");
	if (rep->rto_s > 0)
		printf("  rto:         %.2f s (fetch %.2f, restore %.2f, start %.2f, "
		    "checks %.2f)\n", rep->rto_s, rep->fetch_s, rep->restore_s, rep->start_s,
		    rep->check_s);
	if (rep->revision >= 0)
		printf("  revision:    %lld, %lld live keys, %llu bytes\n",
		    (long long)rep->revision, (long long)rep->keys,
		    (unsigned long long)rep->db_size);
	if (rep->hashkv_set)
		printf("  hashkv:      %08x (%s)\n", rep->hashkv, rep->hash_vs_backup == 1 ?
		    "equal to the backup's" : rep->note);
	if (rep->revision >= 0) {
		printf("  objects:     %lld under /registry/", (long long)rep->objects_total);
		printf("%s\n", rep->n_objects > 0 ? ":" : "");
		for (i = 0; i < rep->n_objects; i++)
			printf("    %-40s %lld\n", rep->objects[i].resource,
			    (long long)rep->objects[i].count);
	}
	if (rep->proof != DRILL_PROOF_NONE)
		printf("  pitr proof:  %s%s%s (%.2f s, not in the rto): %s\n",
		    rep->proof == DRILL_PROOF_FAILED ? "FAILED" : drill_proof_name(rep->proof),
		    rep->proof_from[0] != '\0' ? " from " : "", rep->proof_from, rep->proof_s,
		    rep->proof_detail);
}

int
cmd_drill(const struct lb_globals *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cluster", required_argument, NULL, O_CLUSTER },
		{ "backup", required_argument, NULL, O_BACKUP },
		{ "json", no_argument, NULL, O_JSON },
		{ "identity", required_argument, NULL, O_IDENTITY },
		{ "catalog", required_argument, NULL, O_CATALOG },
		{ "insecure-skip-signature", no_argument, NULL, O_SKIP_SIG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct drill_opts o = { 0 };
	struct drill_report rep = { 0 };
	struct lb_err err = { 0 };
	struct cfg *cfg = NULL;
	const char *env;
	int ch, json = 0, status = 2, r;
	char *txt;
	json_t *j;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case O_CLUSTER: o.cluster = optarg; break;
		case O_BACKUP: o.backup = optarg; break;
		case O_JSON: json = 1; break;
		case O_IDENTITY: o.identity_path = optarg; break;
		case O_CATALOG: o.catalog_path = optarg; break;
		case O_SKIP_SIG: o.skip_signature = 1; break;
		case 'h':
			fputs(DRILL_USAGE, stdout);
			return 0;
		default:
			fputs(DRILL_USAGE, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(DRILL_USAGE, stderr);
		return 2;
	}
	if (o.catalog_path == NULL && (env = getenv("LIFEBOAT_CATALOG")) != NULL &&
	    *env != '\0')
		o.catalog_path = env;
	if ((r = cfg_load(g->config_path, &cfg, &err)) < 0) {
		if (r == LB_E_NOTFOUND)
			err.code = LB_E_CONFIG;
		return cmd_fail(&err);
	}
	o.cfg = cfg;
	o.cancel = &lb_cancel;
	lb_cancel_on_signals();
	r = drill_run(&o, &rep, &err);
	if (!rep.recorded) {
		/* nothing was drilled: the question was wrong */
		status = cmd_fail(&err);
		if (status == 1 && (err.code == LB_E_USAGE || err.code == LB_E_CONFIG ||
		    err.code == LB_E_NOTFOUND))
			status = 2;
		goto out;
	}
	if (r < 0)
		log_error("drill of backup %s failed: %s", rep.backup_id, err.msg);
	if (json) {
		j = drill_report_json(&rep);
		txt = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		if (txt != NULL)
			printf("%s\n", txt);
		free(txt);
		json_decref(j);
	} else
		print_report(&rep);
	status = r < 0 ? 1 : 0;
out:
	drill_report_free(&rep);
	cfg_free(cfg);
	return status;
}
