/*
 * spool.c: catalog records kept on disk until the catalog takes them
 * (spool.h).
 */
#include "catalog/spool.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "stream/flt.h"
#include "common/log.h"

#define SPOOL_MAX (2 * CAT_MANIFEST_MAX)  /* a manifest and a little more */

int
cat_spool_apply(struct cat *c, const struct cat_spool_rec *r, struct lb_err *err)
{
	struct cat_audit_event ev = { .at = r->audit_at, .action = "backup",
	    .cluster = r->cluster, .backup_id = r->backup_id, .details = r->details,
	    .ref = r->audit_ref };
	int rc, added;

	rc = cat_backup_begin(c, r->cluster, r->backup_id, r->started_at, r->host, err);
	if (rc < 0 && rc != LB_E_EXISTS)
		return rc;
	if (r->status == CAT_RUNNING)
		return 0;
	rc = cat_backup_finish(c, r->backup_id, r->status, r->error, r->manifest, err);
	if (rc < 0 && rc != LB_E_EXISTS)
		return rc;
	ev.outcome = cat_status_name(r->status);
	return cat_audit_add(c, &ev, &added, err);
}

static int
spool_dir(const char *catalog_path, char *buf, size_t len, struct lb_err *err)
{
	if ((size_t)snprintf(buf, len, "%s.pending", catalog_path) >= len)
		return lb_err_set(err, LB_E_CONFIG, "catalog path too long");
	return 0;
}

static int
spool_path(const char *catalog_path, const struct cat_spool_rec *r, char *buf,
    size_t len, struct lb_err *err)
{
	if ((size_t)snprintf(buf, len, "%s.pending/%s.%s.json", catalog_path, r->cluster,
	    r->backup_id) >= len)
		return lb_err_set(err, LB_E_CONFIG, "catalog path too long");
	return 0;
}

int
cat_spool_write(const char *catalog_path, const struct cat_spool_rec *r,
    struct lb_err *err)
{
	char dir[4096], path[4200];
	struct flt *f = NULL;
	json_t *o = NULL;
	char *text = NULL;
	int rc;

	if ((rc = spool_dir(catalog_path, dir, sizeof(dir), err)) < 0 ||
	    (rc = spool_path(catalog_path, r, path, sizeof(path), err)) < 0)
		return rc;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return lb_err_sys(err, LB_E_IO, errno, "catalog spool %s", dir);
	o = json_pack("{s:s,s:s,s:s*,s:I,s:s,s:s*,s:s*,s:s*,s:I,s:s*}", "cluster",
	    r->cluster, "backup_id", r->backup_id, "host", r->host, "started_at",
	    (json_int_t)r->started_at, "status", cat_status_name(r->status),
	    "error", r->error, "manifest", r->manifest, "details", r->details,
	    "audit_at", (json_int_t)r->audit_at, "audit_ref", r->audit_ref);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
		rc = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = flt_file_new(path, 0600, &f, err)) < 0 ||
	    (rc = flt_write(f, text, strlen(text), err)) < 0 ||
	    (rc = flt_finish(f, err)) < 0)
		lb_err_prefix(err, "catalog spool: ");
out:
	flt_free(f);
	free(text);
	json_decref(o);
	return rc;
}

void
cat_spool_remove(const char *catalog_path, const struct cat_spool_rec *r)
{
	char path[4200];
	struct lb_err err;

	if (spool_path(catalog_path, r, path, sizeof(path), &err) == 0 &&
	    unlink(path) < 0 && errno != ENOENT)
		log_warn("catalog spool: cannot remove %s: %s", path, strerror(errno));
}

int
cat_spool_has(const char *catalog_path, const char *cluster, const char *backup_id,
    struct lb_err *err)
{
	const struct cat_spool_rec r = { .cluster = cluster, .backup_id = backup_id };
	static const char *const suffix[] = { "", ".bad" };
	char path[4200], name[4210];
	struct stat st;
	size_t i;
	int rc;

	if ((rc = spool_path(catalog_path, &r, path, sizeof(path), err)) < 0)
		return rc;
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", path, suffix[i]);
		if (stat(name, &st) == 0)
			return 1;
		if (errno != ENOENT)
			return lb_err_sys(err, LB_E_IO, errno, "catalog spool %s", name);
	}
	return 0;
}

/* Reads one spooled record; its strings point into *root. */
static int
spool_read(const char *path, json_t **root, struct cat_spool_rec *r, struct lb_err *err)
{
	json_error_t je;
	json_int_t started = 0, audit_at = 0;
	const char *status = NULL;
	int st;

	memset(r, 0, sizeof(*r));
	if ((*root = json_load_file(path, 0, &je)) == NULL)
		return lb_err_set(err, LB_E_CORRUPT, "%s: %s", path, je.text);
	/* audit_*: absent in records spooled before the audit trail */
	if (json_unpack_ex(*root, &je, 0, "{s:s,s:s,s?s,s:I,s:s,s?s,s?s,s?s,s?I,s?s}",
	    "cluster", &r->cluster, "backup_id", &r->backup_id, "host", &r->host,
	    "started_at", &started, "status", &status, "error", &r->error,
	    "manifest", &r->manifest, "details", &r->details, "audit_at", &audit_at,
	    "audit_ref", &r->audit_ref) < 0)
		return lb_err_set(err, LB_E_CORRUPT, "%s: %s", path, je.text);
	if ((st = cat_status_parse(status)) < 0)
		return lb_err_set(err, LB_E_CORRUPT, "%s: status: '%s' is not one", path,
		    status);
	r->status = (enum cat_status)st;
	r->started_at = started;
	r->audit_at = audit_at;
	/* What the catalog would refuse for ever must not hold up the records
	 * behind it: a manifest belongs to a finished run, and says so. */
	if (r->manifest != NULL) {
		json_t *m = json_loads(r->manifest, 0, NULL);
		const char *id = json_string_value(json_object_get(m, "backup_id"));
		const char *ms = json_string_value(json_object_get(m, "status"));
		int same = id != NULL && ms != NULL && strcmp(id, r->backup_id) == 0 &&
		    strcmp(ms, status) == 0;

		json_decref(m);
		if (!same)
			return lb_err_set(err, LB_E_CORRUPT, "%s: its manifest is not that of "
			    "backup %s with status %s", path, r->backup_id, status);
	}
	return 0;
}

/* A record that cannot be used is renamed, never deleted: a person may
 * still read it, and settling still sees its id (cat_spool_has). */
static void
set_aside(const char *path, const char *why)
{
	char bad[4410];

	snprintf(bad, sizeof(bad), "%s.bad", path);
	log_error("catalog spool: %s; set aside as %s", why, bad);
	if (rename(path, bad) < 0)
		log_error("catalog spool: rename %s: %s", path, strerror(errno));
}

int
cat_spool_replay(struct cat *c, const char *catalog_path, const char *cluster,
    int *n, struct lb_err *err)
{
	struct dirent **names = NULL;
	char dir[4096], path[4400], prefix[200];
	int count, i, rc = 0;

	*n = 0;
	if ((rc = spool_dir(catalog_path, dir, sizeof(dir), err)) < 0)
		return rc;
	if ((count = scandir(dir, &names, NULL, alphasort)) < 0) {
		if (errno == ENOENT)
			return 0;
		return lb_err_sys(err, LB_E_IO, errno, "catalog spool %s", dir);
	}
	snprintf(prefix, sizeof(prefix), "%s.", cluster);
	/* Backup ids sort by time, so names of one cluster do too. */
	for (i = 0; i < count && rc == 0; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		struct cat_spool_rec r;
		json_t *root = NULL;
		struct lb_err perr;

		if (strncmp(name, prefix, strlen(prefix)) != 0 || len < 5 ||
		    strcmp(name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		lb_err_clear(&perr);
		if (spool_read(path, &root, &r, &perr) < 0) {
			set_aside(path, perr.msg);
		} else if (strcmp(r.cluster, cluster) == 0) {   /* not cluster a.b's */
			if ((rc = cat_spool_apply(c, &r, err)) == 0) {
				/* Garbage only now: the catalog has committed all
				 * of it (apply is idempotent, so a crash before the
				 * unlink replays it harmlessly). */
				if (unlink(path) < 0 && errno != ENOENT)
					log_warn("catalog spool: cannot remove %s: %s", path,
					    strerror(errno));
				(*n)++;
			}
		}
		json_decref(root);
	}
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}
