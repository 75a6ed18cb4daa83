/*
 * repo_s3.c: the s3:// driver of the repository (repo_int.h), a thin
 * layer over the S3 client (s3.h): it adds the repository's prefix to
 * keys and takes it off listed ones, turns S3's 204 for a DELETE of an
 * absent key into LB_E_NOTFOUND, and aborts multipart uploads that
 * interrupted writes left behind.
 */
#include "repo/repo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "repo/s3.h"

/* The object key of a repository key: the prefix put in front (malloc'd). */
static int
full_key(const struct repo *r, const char *key, char **out, struct lb_err *err)
{
	size_t n = strlen(r->prefix) + strlen(key) + 1;

	if ((*out = malloc(n)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	snprintf(*out, n, "%s%s", r->prefix, key);
	return 0;
}

struct strip {
	size_t plen;
	int (*cb)(void *arg, const char *key, uint64_t size);
	void *arg;
};

static int
strip_cb(void *arg, const char *key, uint64_t size)
{
	struct strip *s = arg;

	if (strlen(key) < s->plen)
		return 0;
	return s->cb(s->arg, key + s->plen, size);
}

struct orphans {
	struct repo *r;
	time_t cutoff;
	int n;
	struct lb_err *err;
};

static int
orphan_cb(void *arg, const struct s3_xml_item *it)
{
	struct orphans *o = arg;
	int rc;

	if (it->initiated > o->cutoff)
		return 0;
	if ((rc = s3_abort_upload(o->r->s3, it->key, it->upload_id, o->err)) < 0) {
		/* Gone meanwhile (another cleanup, or it completed): fine.
		 * s3_abort_upload says so with LB_E_NOTFOUND (NoSuchUpload). */
		if (rc == LB_E_NOTFOUND)
			return 0;
		return rc;
	}
	log_info("aborted orphan multipart upload of %s", it->key);
	o->n++;
	return 0;
}

static int
rs3_open(struct repo *r, const struct repo_opts *o, const char *rest,
    struct lb_err *err)
{
	struct s3_opts so;
	char bucket[256], *p;
	const char *slash = strchr(rest, '/');
	size_t blen = slash ? (size_t)(slash - rest) : strlen(rest), n;
	int rc;

	if (blen == 0 || blen >= sizeof(bucket))
		return lb_err_set(err, LB_E_CONFIG,
		    "repository url s3://%.200s has no bucket", rest);
	memcpy(bucket, rest, blen);
	bucket[blen] = '\0';
	/* The prefix: trailing slashes dropped, one added back. */
	p = slash ? strdup(slash + 1) : strdup("");
	if (p == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		p[--n] = '\0';
	if (n > 0 && repo_key_check(p, 0, err) < 0) {
		free(p);
		return lb_err_set(err, LB_E_CONFIG,
		    "repository url s3://%.200s has an invalid prefix", rest);
	}
	if ((r->prefix = malloc(n + 2)) == NULL) {
		free(p);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	snprintf(r->prefix, n + 2, "%s%s", p, n > 0 ? "/" : "");
	free(p);
	if ((r->url = malloc(blen + n + 8)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	snprintf(r->url, blen + n + 8, "s3://%s%s%.*s", bucket, n ? "/" : "",
	    (int)n, r->prefix);
	memset(&so, 0, sizeof(so));
	so.endpoint = o->s3_endpoint;
	so.region = o->s3_region;
	so.host_style = o->s3_host_style;
	so.ca_file = o->s3_ca_file;
	so.bucket = bucket;
	so.access_key = o->s3_access_key;
	so.secret_key = o->s3_secret_key;
	so.session_token = o->s3_session_token;
	so.connect_timeout_s = o->connect_timeout_s;
	so.part_size = o->s3_part_size;
	so.stall_timeout_s = o->stall_timeout_s;
	if ((rc = s3_new(&so, &r->s3, err)) < 0)
		return rc;
	return s3_check_bucket(r->s3, err);
}

static void
rs3_close(struct repo *r)
{
	s3_free(r->s3);
	free(r->prefix);
}

static int
rs3_clock_offset(struct repo *r, int64_t *offset)
{
	return s3_clock_offset(r->s3, offset);
}

static int
rs3_put_new(struct repo *r, const char *key, struct flt **sink,
    struct lb_err *err)
{
	struct s3_lock lk = { NULL, 0 };
	char *full = NULL;
	int rc, mode;

	lk.until = (time_t)repo_lock_until_for(r, key, (int64_t)time(NULL), &mode);
	if (mode != REPO_LOCK_NONE)
		lk.mode = mode == REPO_LOCK_COMPLIANCE ? "COMPLIANCE" : "GOVERNANCE";
	if ((rc = full_key(r, key, &full, err)) == 0)
		rc = s3_upload_new(r->s3, full, 0, lk.mode != NULL ? &lk : NULL, sink,
		    err);
	free(full);
	return rc;
}

static int
rs3_get(struct repo *r, const char *key, uint64_t offset, uint64_t length,
    struct flt *dest, struct lb_err *err)
{
	char *full = NULL;
	int rc;

	if ((rc = full_key(r, key, &full, err)) == 0)
		rc = s3_get_object(r->s3, full, offset, length, dest, err);
	free(full);
	return rc;
}

static int
rs3_list(struct repo *r, const char *prefix,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
    struct lb_err *err)
{
	struct strip st;
	char *full = NULL;
	int rc;

	st.plen = strlen(r->prefix);
	st.cb = cb;
	st.arg = arg;
	if ((rc = full_key(r, prefix, &full, err)) == 0)
		rc = s3_list(r->s3, full, strip_cb, &st, err);
	free(full);
	return rc;
}

/* The versions of one key, collected before any is deleted. */
struct versions {
	const char *key;
	char **ids;
	size_t n;
};

static int
version_cb(void *arg, const struct s3_xml_item *it)
{
	struct versions *v = arg;
	char **ids;

	if (strcmp(it->key, v->key) != 0)   /* the prefix also lists "KEY.sig" */
		return 0;
	if (v->n >= REPO_LIST_MAX ||
	    (ids = realloc(v->ids, (v->n + 1) * sizeof(*ids))) == NULL)
		return LB_E_NOMEM;
	v->ids = ids;
	if ((ids[v->n] = strdup(it->version_id)) == NULL)
		return LB_E_NOMEM;
	v->n++;
	return 0;
}

/* In a bucket with Object Lock (versioned), a plain DELETE only adds a
 * delete marker and frees nothing: every version and delete marker of
 * the key goes by its VersionId.  A version still retained is refused;
 * the others are deleted all the same, and the first refusal is the
 * answer (LB_E_LOCKED), so a later prune finds only what was locked. */
static int
rs3_delete_versions(struct repo *r, const char *full, struct lb_err *err)
{
	struct versions v = { full, NULL, 0 };
	struct lb_err e2;
	size_t i;
	int rc, locked = 0;

	if ((rc = s3_list_versions(r->s3, full, version_cb, &v, err)) < 0) {
		if (err != NULL && err->code == 0)
			lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (v.n == 0) {
		rc = lb_err_set(err, LB_E_NOTFOUND, "s3 %s/%s: not found",
		    s3_bucket(r->s3), full);
		goto out;
	}
	for (i = 0; i < v.n; i++) {
		lb_err_clear(&e2);
		if ((rc = s3_delete_version(r->s3, full, v.ids[i], &e2)) == 0)
			continue;
		if (rc != LB_E_LOCKED) {
			if (err != NULL)
				*err = e2;
			goto out;
		}
		if (!locked && err != NULL)
			*err = e2;
		locked = 1;
	}
	rc = locked ? LB_E_LOCKED : 0;
out:
	for (i = 0; i < v.n; i++)
		free(v.ids[i]);
	free(v.ids);
	return rc;
}

static int
rs3_delete(struct repo *r, const char *key, struct lb_err *err)
{
	char *full = NULL;
	int rc;

	if (repo_has_locks(r)) {
		if ((rc = full_key(r, key, &full, err)) == 0)
			rc = rs3_delete_versions(r, full, err);
		free(full);
		return rc;
	}
	/* S3 says 204 for absent keys too; the contract wants NOTFOUND. */
	if ((rc = full_key(r, key, &full, err)) == 0 &&
	    (rc = s3_head_object(r->s3, full, NULL, err)) == 0)
		rc = s3_delete_object(r->s3, full, err);
	free(full);
	return rc;
}

static int
rs3_stat(struct repo *r, const char *key, uint64_t *size, struct lb_err *err)
{
	char *full = NULL;
	int rc;

	if ((rc = full_key(r, key, &full, err)) == 0)
		rc = s3_head_object(r->s3, full, size, err);
	free(full);
	return rc;
}

static int
rs3_cleanup(struct repo *r, const char *prefix, long max_age_s, int *n,
    struct lb_err *err)
{
	struct orphans o;
	char *full = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	o.r = r;
	/* 0 means every upload: a server's Initiated may run a second
	 * ahead of our clock (rounding), which must not spare one. */
	o.cutoff = max_age_s <= 0 ? (time_t)INT64_MAX : time(NULL) - max_age_s;
	o.err = err;
	if ((rc = full_key(r, prefix, &full, err)) == 0)
		rc = s3_list_uploads(r->s3, full, orphan_cb, &o, err);
	free(full);
	*n = o.n;
	return rc;
}

static int
rs3_lock_enabled(struct repo *r, struct lb_err *err)
{
	return s3_object_lock_enabled(r->s3, err);
}

static int
rs3_locked_until(struct repo *r, const char *key, int64_t *until,
    struct lb_err *err)
{
	char *full = NULL;
	time_t t = 0;
	int rc;

	if ((rc = full_key(r, key, &full, err)) == 0)
		rc = s3_retain_until(r->s3, full, NULL, &t, err);
	free(full);
	*until = (int64_t)t;
	return rc;
}

const struct repo_driver repo_s3_driver = {
	.open = rs3_open,
	.close = rs3_close,
	.clock_offset = rs3_clock_offset,
	.put_new = rs3_put_new,
	.get = rs3_get,
	.list = rs3_list,
	.del = rs3_delete,
	.stat = rs3_stat,
	.cleanup = rs3_cleanup,
	.lock_enabled = rs3_lock_enabled,
	.locked_until = rs3_locked_until,
};
