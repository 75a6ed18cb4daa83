/*
 * verify.c: `lifeboat catalog verify ID|latest|--all`: options, which
 * backups, and the result lines (or JSON objects); the verification
 * itself is ops_verify_backup (ops/ops.h); --all also walks each
 * cluster's chain of manifests (ops_chain_check).  Exits 0 if every backup
 * verified and every chain is whole, 1 if not.  Where trusted signers are configured a
 * backup's manifest must be signed by one of them; where none are, the
 * command warns once.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "env/setup.h"
#include "env/trust.h"
#include "ops/ops.h"
#include "restore/replay.h"

struct vprint {
	int json;
};

static void
print_result(const struct ops_verify_result *res, void *arg)
{
	const struct vprint *p = arg;
	json_t *o;
	char *txt;

	if (!p->json) {
		if (res->ok)
			printf("verified %s (%s): ok, %s\n", res->backup_id, res->cluster,
			    res->detail);
		else
			printf("verified %s (%s): %s\n", res->backup_id, res->cluster,
			    res->verdict ? "FAILED" :
			    "not checked (the backup keeps its earlier verdict)");
		return;
	}
	o = json_pack("{s:s, s:s, s:b, s:i, s:s}", "backup_id", res->backup_id,
	    "cluster", res->cluster, "ok", res->ok, "members", res->members, "detail",
	    res->detail);
	txt = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	if (txt != NULL)
		printf("%s\n", txt);
	free(txt);
	json_decref(o);
}

/* Collects ids first: verification writes to the catalog, which must not
 * happen inside the listing's read.  The catalog mirrors the repository,
 * so REPO_LIST_MAX bounds it too. */
struct idlist {
	char **v;
	size_t n, cap;
	char **clusters;           /* each cluster once, for the chain walk */
	size_t n_clusters, cap_clusters;
};

static int
collect(const struct cat_backup *b, void *arg)
{
	struct idlist *l = arg;
	size_t i;

	if (b->status != CAT_COMPLETE && b->status != CAT_PARTIAL)
		return 0;
	if (lb_vec_grow(&l->v, &l->cap, l->n, sizeof(*l->v), REPO_LIST_MAX) < 0 ||
	    (l->v[l->n] = strdup(b->id)) == NULL)
		return LB_E_NOMEM;
	l->n++;
	for (i = 0; i < l->n_clusters && strcmp(l->clusters[i], b->cluster) != 0; i++)
		;
	if (i == l->n_clusters && (lb_vec_grow(&l->clusters, &l->cap_clusters, l->n_clusters,
	    sizeof(*l->clusters), REPO_LIST_MAX) < 0 ||
	    (l->clusters[l->n_clusters++] = strdup(b->cluster)) == NULL))
		return LB_E_NOMEM;
	return 0;
}

/* A line of the chain walk: problems to stderr as errors, the summary
 * to stdout (not with --json, whose output is one object per backup). */
static void
print_chain(void *arg, const char *line, int bad)
{
	const struct vprint *p = arg;

	if (bad)
		log_error("chain: %s", line);
	else if (!p->json)
		printf("%s\n", line);
}

enum { O_CATALOG = 1000, O_CLUSTER, O_IDENTITY, O_ALL, O_JSON, O_SKIP_SIG, O_PITR };

#define VERIFY_USAGE "usage: lifeboat catalog verify ID|latest|--all [--cluster C] " \
	"[--identity FILE] [--catalog PATH] [--json] [--insecure-skip-signature]\n" \
	"    [--pitr]\n" \
	"\n" \
	"Reads every object of the backup back from the repository, checks its\n" \
	"sha256, decrypts it (--identity, default identity-file), decompresses it,\n" \
	"checks etcd's trailer and the bbolt revision; with trusted-signers, first\n" \
	"checks the manifest's signature.  The verdict is recorded and audited.\n" \
	"--all: every complete backup, and each cluster's chain of manifests.\n" \
	"--pitr: also the event log's proof: for each backup B verified whose\n" \
	"earlier complete backup A the log covers, A replayed to B's revision in a\n" \
	"scratch etcd must hold exactly B's keys (and give B's recorded HashKV);\n" \
	"recorded per segment and audited ('pitr'); slow: an etcd per pair.\n" \
	"Exit status: 0 all good, 1 a backup or a proof failed, 2 usage or\n" \
	"configuration.\n"

/* One pair of the replay proof. */
static void
print_proof(void *arg, const struct replay_proof *pf)
{
	const struct vprint *p = arg;
	json_t *o;
	char *txt;

	if (!pf->ok)
		log_error("PITR PROOF FAILED: %s -> %s: %s", pf->a_id, pf->b_id, pf->detail);
	if (!p->json) {
		printf("replay %s -> %s (revisions %lld..%lld): %s, %s\n", pf->a_id, pf->b_id,
		    (long long)pf->a_rev, (long long)pf->b_rev, pf->ok ? "ok" : "FAILED",
		    pf->detail);
		return;
	}
	o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:b,s:b,s:s}", "check", "pitr", "from",
	    pf->a_id, "to", pf->b_id, "from_revision", (json_int_t)pf->a_rev,
	    "to_revision", (json_int_t)pf->b_rev, "ok", pf->ok, "hashkv_compared",
	    pf->hashkv_compared, "detail", pf->detail);
	txt = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	if (txt != NULL)
		printf("%s\n", txt);
	free(txt);
	json_decref(o);
}

/* The replay proof for cluster: of the pair ending at b_id, or of every
 * pair the event log covers (b_id NULL).  1 when one failed. */
static int
prove(const struct lb_globals *g, struct lb_env *e, const char *catalog,
    const char *identity, const char *cluster, const char *b_id, int skip_sig,
    struct vprint *p)
{
	struct replay_proof_opts o = { 0 };
	struct lb_err err;
	size_t pairs = 0;
	int r;

	(void)g;
	o.cfg = e->cfg;
	o.cluster = cluster;
	o.identity_path = identity;
	o.catalog_path = catalog;
	o.backup_b = b_id;
	/* as without b_id (and as drills do): a B the event log does not
	 * reach from its predecessor has no pair, which is not a failure */
	o.window_only = 1;
	o.skip_signature = skip_sig;
	lb_err_clear(&err);
	r = replay_prove(&o, print_proof, p, &pairs, &err);
	if (r == LB_E_NOTFOUND && b_id != NULL) {
		if (!p->json)
			printf("replay: nothing to prove for %s: %s\n", b_id, err.msg);
		return 0;
	}
	if (r < 0 && r != LB_E_CORRUPT) {
		log_error("pitr proof of cluster %s: %s", cluster, err.msg);
		return 1;
	}
	if (pairs == 0 && !p->json)
		printf("replay: no pair of backups of cluster %s inside one window of the "
		    "event log\n", cluster);
	return r < 0;
}

int
cmd_catalog_verify(const struct lb_globals *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "catalog", required_argument, NULL, O_CATALOG },
		{ "cluster", required_argument, NULL, O_CLUSTER },
		{ "identity", required_argument, NULL, O_IDENTITY },
		{ "all", no_argument, NULL, O_ALL },
		{ "json", no_argument, NULL, O_JSON },
		{ "insecure-skip-signature", no_argument, NULL, O_SKIP_SIG },
		{ "pitr", no_argument, NULL, O_PITR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lb_err err = { 0 };
	struct lb_env e = { 0 };
	struct vprint p = { 0 };
	struct idlist l = { 0 };
	struct age_identity *id = NULL;
	struct cat_backup *b = NULL;
	const char *catalog = NULL, *cluster = NULL, *identity = NULL;
	const char *warn;
	int ch, all = 0, status = 2, n_failed = 0, skip_sig = 0, pitr = 0;
	size_t i;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case O_CATALOG: catalog = optarg; break;
		case O_CLUSTER: cluster = optarg; break;
		case O_IDENTITY: identity = optarg; break;
		case O_ALL: all = 1; break;
		case O_JSON: p.json = 1; break;
		case O_SKIP_SIG: skip_sig = 1; break;
		case O_PITR: pitr = 1; break;
		case 'h':
			fputs(VERIFY_USAGE, stdout);
			return 0;
		default: goto usage;
		}
	}
	if (all ? optind != argc : optind != argc - 1)
		goto usage;
	if (env_open(g->config_path, catalog, ENV_REPO | ENV_CAT, &e, &err) < 0 ||
	    setup_identity(e.cfg, identity, &id, &err) < 0) {
		status = cmd_fail(&err);
		goto out;
	}
	e.skip_signature = skip_sig;
	if ((warn = trust_unset_warning(&e)) != NULL)
		log_warn("%s", warn);
	if (all) {
		struct cat_filter f = { .cluster = cluster, .status = -1 };
		if (cat_backup_list(e.cat, &f, 0, collect, &l, &err) < 0) {
			if (err.code == 0)
				lb_err_set(&err, LB_E_NOMEM, "out of memory");
			status = cmd_fail(&err);
			goto out;
		}
		if (l.n == 0)
			printf("no backups to verify\n");
		for (i = 0; i < l.n; i++)
			if (ops_verify_backup(&e, id, l.v[i], print_result, &p) < 0)
				n_failed++;
		/* each cluster's chain: gaps prune did not leave, forks,
		 * broken links (ops/chain.c) fail the run like a bad backup */
		for (i = 0; i < l.n_clusters; i++) {
			struct ops_chain walk;
			if (ops_chain_check(&e, l.clusters[i], &walk, print_chain, &p, &err) < 0) {
				status = cmd_fail(&err);
				goto out;
			}
			n_failed += walk.unexplained > 0 || walk.forks > 0 || walk.broken > 0;
		}
		for (i = 0; pitr && i < l.n_clusters; i++)
			n_failed += prove(g, &e, catalog, identity, l.clusters[i], NULL, skip_sig, &p);
	} else if (strcmp(argv[optind], "latest") == 0) {
		if (cat_backup_latest(e.cat, cluster, CAT_COMPLETE, 0, &b, &err) < 0) {
			status = cmd_fail(&err);
			goto out;
		}
		if (ops_verify_backup(&e, id, b->id, print_result, &p) < 0)
			n_failed++;
		if (pitr)
			n_failed += prove(g, &e, catalog, identity, b->cluster, b->id, skip_sig, &p);
	} else {
		if (cluster != NULL && (cat_backup_get(e.cat, argv[optind], 0, &b, &err) < 0 ||
		    strcmp(b->cluster, cluster) != 0)) {
			if (err.code == 0)
				lb_err_set(&err, LB_E_NOTFOUND, "backup %s belongs to cluster %s, "
				    "not %s", b->id, b->cluster, cluster);
			status = cmd_fail(&err);
			goto out;
		}
		if (ops_verify_backup(&e, id, argv[optind], print_result, &p) < 0)
			n_failed++;
		if (pitr) {
			cat_backup_free(b);
			b = NULL;
			if (cat_backup_get(e.cat, argv[optind], 0, &b, &err) < 0) {
				status = cmd_fail(&err);
				goto out;
			}
			n_failed += prove(g, &e, catalog, identity, b->cluster, b->id, skip_sig, &p);
		}
	}
	status = n_failed == 0 ? 0 : 1;
	goto out;
usage:
	fputs(VERIFY_USAGE, stderr);
out:
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	for (i = 0; i < l.n_clusters; i++)
		free(l.clusters[i]);
	free(l.clusters);
	cat_backup_free(b);
	age_identity_free(id);
	env_close(&e);
	return status;
}
