/*
 * settle.c: the settling of backup runs that died (settle.h): their
 * catalog rows, their objects, and uploads and temp files left behind.
 */
#include "backup/settle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/spool.h"
#include "common/log.h"
#include "env/journal.h"
#include "repo/manifest.h"
#include "repo/repo.h"

struct settle {
	char ids[16][64];
	char clusters[16][64];
	size_t n;
};

static int
collect_running(const struct cat_backup *b, void *arg)
{
	struct settle *s = arg;

	if (s->n < 16) {
		snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", b->id);
		snprintf(s->clusters[s->n], sizeof(s->clusters[0]), "%s", b->cluster);
		s->n++;
	}
	return 0;
}

/* A backup left running by a dead process.  Its manifest decides, and
 * only a certain answer acts:
 * - the manifest is there: the run finished; it is recorded as complete
 *   (if the catalog cannot take it now, a later run records it);
 * - the store says the manifest is absent (404, ENOENT) and no spooled
 *   record names the id: the run never finished, and nothing else writes
 *   under its id (ids are unique, and its run lock is ours now), so what
 *   lies in its directory is garbage and goes;
 * - anything else (a GET that fails or is too large, a spool that cannot
 *   be read, a catalog that cannot record): no proof either way, so
 *   nothing is deleted and the row stays running for a later run. */
static void
settle_one(const struct lb_env *e, const char *cluster, const char *id)
{
	const char *catalog = e->catalog_path;
	struct manifest *mf = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char dir[256], key[300], *json = NULL;
	struct lb_err err;
	int r, n = 0;

	lb_err_clear(&err);
	if (manifest_backup_dir(cluster, id, dir, sizeof(dir)) < 0 ||
	    manifest_key(cluster, id, key, sizeof(key)) < 0)
		return;
	if ((r = repo_get_buf(e->repo, key, MANIFEST_MAX, &buf, &len, &err)) == 0) {
		if ((r = manifest_parse((const char *)buf, len, &mf, &err)) < 0 ||
		    (json = strndup((const char *)buf, len)) == NULL ||
		    cat_record_manifest(e->cat, json, &err) < 0)
			log_warn("backup %s was interrupted after its manifest was written, "
			    "which cannot be recorded now (%s); kept for the next run", id,
			    json == NULL && r == 0 ? "out of memory" : err.msg);
		else {
			env_audit(e, "backup", cluster, id, mf->status,
			    "{\"reason\":\"interrupted after its manifest\"}");
			log_warn("backup %s was interrupted after its manifest was written; "
			    "recorded as %s", id, mf->status);
		}
		goto out;
	}
	if (r != LB_E_NOTFOUND) {
		log_warn("backup %s was interrupted; its manifest cannot be read (%s); "
		    "nothing removed, the next run settles it", id, err.msg);
		goto out;
	}
	if ((r = cat_spool_has(catalog, cluster, id, &err)) != 0) {
		log_warn("backup %s was interrupted; %s; nothing removed, the next run "
		    "settles it", id, r > 0 ? "its record waits in the catalog spool" :
		    err.msg);
		goto out;
	}
	if (repo_cleanup_orphans(e->repo, dir, 0, &n, &err) < 0 &&
	    err.code != LB_E_UNSUPPORTED)
		log_warn("cleanup of backup %s: %s", id, err.msg);
	if (repo_delete_prefix(e->repo, dir, NULL, &err) < 0) {
		log_warn("cleanup of backup %s: %s; the next run tries again", id, err.msg);
		goto out;
	}
	if (cat_backup_finish(e->cat, id, CAT_FAILED,
	    "interrupted: the process running it died", NULL, &err) < 0) {
		log_warn("catalog: %s", err.msg);
		goto out;
	}
	env_audit(e, "backup", cluster, id, "failed", "{\"reason\":\"interrupted\"}");
	log_warn("backup %s was interrupted; marked failed, its leftovers removed", id);
out:
	manifest_free(mf);
	free(json);
	free(buf);
}

void
settle_interrupted(const struct lb_env *e, const char *cluster)
{
	struct settle s;
	struct lb_err err;
	char tree[256];
	size_t i;
	int n = 0;

	/* Records the catalog could not take before, then rows of dead runs
	 * (a spooled start becomes such a row). */
	if (e->cat != NULL) {
		if (cat_spool_replay(e->cat, e->catalog_path, cluster,
		    &n, &err) < 0)
			log_warn("catalog: %s; spooled records wait for the next run", err.msg);
		else if (n > 0)
			log_info("catalog: %d spooled records of cluster %s recorded", n,
			    cluster);
	}
	if (e->repo == NULL)
		return;
	n = 0;
	s.n = 0;
	/* Collected first: settling writes to the catalog being read. */
	if (e->cat != NULL && cat_backups_running(e->cat, cluster, collect_running,
	    &s, &err) < 0)
		log_warn("catalog: %s", err.msg);
	for (i = 0; i < s.n; i++)
		settle_one(e, s.clusters[i], s.ids[i]);
	/* Multipart uploads and temp files of killed runs elsewhere in the
	 * cluster's tree.  They cannot hold a backup: objects commit
	 * atomically, so a temp file or an open upload is never what a
	 * manifest names.  The day is the proof that no writer is left (a
	 * write stalled for 60 s is aborted, and no run lasts a day), so
	 * another appliance's upload in progress is not cut short.  Some
	 * stores cannot list uploads (s3rver); that is no fault. */
	snprintf(tree, sizeof(tree), "%s/", cluster);
	if (repo_cleanup_orphans(e->repo, tree, 86400, &n, &err) < 0) {
		if (err.code == LB_E_UNSUPPORTED)
			log_debug("cleanup: %s", err.msg);
		else
			log_warn("cleanup: %s", err.msg);
	} else if (n > 0)
		log_info("removed %d leftover uploads or temp files", n);
}
