/*
 * repo.c: the repository interface of repo.h: URL schemes, the key rules,
 * and dispatch to a driver (repo_int.h): file:// in repo_file.c, s3:// in
 * repo_s3.c.  What every driver shares lives here: keys are checked once
 * before any driver sees them, and whole-buffer reads and writes, prefix
 * deletion and the proof of absence are built on the driver's calls.
 */
#include "repo/repo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

/* ---------------------------------------------------------------- keys */

int
repo_key_check(const char *key, int prefix_ok, struct lb_err *err)
{
	size_t n = strlen(key), seg = 0, i;
	const char *s;

	if (n == 0 && prefix_ok)
		return 0;
	if (n == 0 || n > REPO_KEY_MAX || key[0] == '/' ||
	    (key[n - 1] == '/' && !prefix_ok))
		goto bad;
	for (i = 0; i <= n; i++) {
		if (i < n && (unsigned char)key[i] < 0x20)
			goto bad;
		if (i < n && key[i] == 0x7f)
			goto bad;
		if (i == n || key[i] == '/') {
			s = key + seg;
			if (i == seg && !(i == n && prefix_ok))
				goto bad;
			if ((i - seg == 1 && s[0] == '.') ||
			    (i - seg == 2 && s[0] == '.' && s[1] == '.'))
				goto bad;
			seg = i + 1;
		}
	}
	/* A name that looks like a temp file would be eaten by cleanup. */
	s = strrchr(key, '/');
	if (strstr(s != NULL ? s : key, REPO_TEMP_MARK) != NULL)
		goto bad;
	return 0;
bad:
	return lb_err_set(err, LB_E_USAGE, "invalid repository key \"%.200s\"", key);
}

int
repo_open(const struct repo_opts *o, struct repo **out, struct lb_err *err)
{
	struct repo *r;
	int rc;

	*out = NULL;
	if (o->url == NULL)
		return lb_err_set(err, LB_E_CONFIG, "no repository url");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (strncmp(o->url, "file://", 7) == 0) {
		r->drv = &repo_file_driver;
		rc = r->drv->open(r, o, o->url + 7, err);
	} else if (strncmp(o->url, "s3://", 5) == 0) {
		r->drv = &repo_s3_driver;
		rc = r->drv->open(r, o, o->url + 5, err);
	} else {
		rc = lb_err_set(err, LB_E_CONFIG,
		    "repository url must start with file:// or s3://");
	}
	if (rc < 0) {
		repo_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void
repo_close(struct repo *r)
{
	if (r == NULL)
		return;
	if (r->drv != NULL)
		r->drv->close(r);
	for (size_t i = 0; i < r->n_locks; i++)
		free(r->locks[i].prefix);
	free(r->locks);
	free(r->url);
	free(r);
}

const char *
repo_url(const struct repo *r)
{
	return r->url;
}

int
repo_clock_offset(struct repo *r, int64_t *offset)
{
	*offset = 0;
	return r->drv->clock_offset != NULL ? r->drv->clock_offset(r, offset) :
	    LB_E_NOTFOUND;
}

/* ---------------------------------------------------------------- dispatch */

int
repo_put_new(struct repo *r, const char *key, struct flt **sink,
    struct lb_err *err)
{
	int rc;

	*sink = NULL;
	if ((rc = repo_key_check(key, 0, err)) < 0)
		return rc;
	return r->drv->put_new(r, key, sink, err);
}

int
repo_put_buf(struct repo *r, const char *key, const void *buf, size_t len,
    struct lb_err *err)
{
	struct flt *sink = NULL;
	int rc;

	if ((rc = repo_put_new(r, key, &sink, err)) < 0)
		return rc;
	if ((rc = flt_write(sink, buf, len, err)) == 0)
		rc = flt_finish(sink, err);
	flt_free(sink);
	return rc;
}

int
repo_get(struct repo *r, const char *key, uint64_t offset, uint64_t length,
    struct flt *dest, struct lb_err *err)
{
	int rc;

	if ((rc = repo_key_check(key, 0, err)) < 0)
		return rc;
	return r->drv->get(r, key, offset, length, dest, err);
}

int
repo_get_buf(struct repo *r, const char *key, size_t max, uint8_t **buf,
    size_t *len, struct lb_err *err)
{
	struct flt *mem;
	const uint8_t *d;
	size_t n;
	int rc;

	*buf = NULL;
	*len = 0;
	if ((mem = flt_mem_new(max)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if ((rc = repo_get(r, key, 0, 0, mem, err)) < 0)
		goto out;
	d = flt_mem_data(mem, &n);
	/* One spare byte, so text callers may terminate it. */
	if ((*buf = malloc(n + 1)) == NULL) {
		rc = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (n > 0)
		memcpy(*buf, d, n);
	(*buf)[n] = '\0';
	*len = n;
out:
	flt_free(mem);
	return rc;
}

int
repo_list(struct repo *r, const char *prefix,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
    struct lb_err *err)
{
	int rc;

	if ((rc = repo_key_check(prefix, 1, err)) < 0)
		return rc;
	return r->drv->list(r, prefix, cb, arg, err);
}

int
repo_delete(struct repo *r, const char *key, struct lb_err *err)
{
	int rc;

	if ((rc = repo_key_check(key, 0, err)) < 0)
		return rc;
	return r->drv->del(r, key, err);
}

struct keylist {
	char **v;
	size_t n, cap;
	int too_many;
};

static int
collect_key(void *arg, const char *key, uint64_t size)
{
	struct keylist *l = arg;

	(void)size;
	if (l->n >= REPO_LIST_MAX) {
		l->too_many = 1;
		return LB_E_NOMEM;
	}
	if (lb_vec_grow(&l->v, &l->cap, l->n, sizeof(*l->v), REPO_LIST_MAX) < 0)
		return LB_E_NOMEM;
	if ((l->v[l->n] = strdup(key)) == NULL)
		return LB_E_NOMEM;
	l->n++;
	return 0;
}

int
repo_delete_prefix(struct repo *r, const char *prefix, int *n, struct lb_err *err)
{
	struct keylist l = { 0 };
	size_t i;
	int rc;

	if ((rc = repo_list(r, prefix, collect_key, &l, err)) < 0) {
		if (err != NULL && err->code == 0 && l.too_many)
			lb_err_set(err, LB_E_NOMEM, "%s: more than %u objects below "
			    "'%s' to delete", r->url, REPO_LIST_MAX, prefix);
		else if (err != NULL && err->code == 0)
			lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		if ((rc = repo_delete(r, l.v[i], err)) == LB_E_NOTFOUND) {
			lb_err_clear(err);
			rc = 0;
		} else if (rc < 0) {
			goto out;
		} else if (n != NULL) {
			(*n)++;
		}
	}
out:
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return rc;
}

int
repo_stat(struct repo *r, const char *key, uint64_t *size, struct lb_err *err)
{
	int rc;

	if ((rc = repo_key_check(key, 0, err)) < 0)
		return rc;
	return r->drv->stat(r, key, size, err);
}

int
repo_absent(struct repo *r, const char *key, struct lb_err *err)
{
	uint64_t size;
	int rc = repo_stat(r, key, &size, err);

	if (rc == LB_E_NOTFOUND) {
		lb_err_clear(err);
		return 1;
	}
	return rc;
}

int
repo_cleanup_orphans(struct repo *r, const char *prefix, long max_age_s, int *n,
    struct lb_err *err)
{
	int rc;

	*n = 0;
	if (prefix == NULL)
		prefix = "";
	if ((rc = repo_key_check(prefix, 1, err)) < 0)
		return rc;
	return r->drv->cleanup(r, prefix, max_age_s, n, err);
}

/* ---------------------------------------------------------------- locks */

int
repo_lock_rule_add(struct repo *r, const char *prefix, int mode,
    int64_t period_s, struct lb_err *err)
{
	struct repo_lock_rule *v;
	int rc;

	if (r->drv->lock_enabled == NULL)
		return lb_err_set(err, LB_E_UNSUPPORTED, "%s: object lock needs an "
		    "s3:// repository", r->url);
	/* REPO_LOCK_NONE: keys under prefix are not locked (a cluster with
	 * s3-object-lock = off under a global lock). */
	if (mode != REPO_LOCK_NONE && mode != REPO_LOCK_GOVERNANCE &&
	    mode != REPO_LOCK_COMPLIANCE)
		return lb_err_set(err, LB_E_INTERNAL, "bad lock mode %d", mode);
	if (mode != REPO_LOCK_NONE && period_s <= 0)
		return lb_err_set(err, LB_E_INTERNAL, "bad lock period");
	if ((rc = repo_key_check(prefix, 1, err)) < 0)
		return rc;
	if ((v = realloc(r->locks, (r->n_locks + 1) * sizeof(*v))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	r->locks = v;
	if ((v[r->n_locks].prefix = strdup(prefix)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	v[r->n_locks].mode = mode;
	v[r->n_locks].period_s = period_s;
	r->n_locks++;
	return 0;
}

int
repo_has_locks(const struct repo *r)
{
	for (size_t i = 0; i < r->n_locks; i++)
		if (r->locks[i].mode != REPO_LOCK_NONE)
			return 1;
	return 0;
}

int64_t
repo_lock_until_for(const struct repo *r, const char *key, int64_t now, int *mode)
{
	const struct repo_lock_rule *best = NULL;
	size_t i, n;

	/* The longest prefix wins: a cluster's own rule over the global. */
	for (i = 0; i < r->n_locks; i++) {
		n = strlen(r->locks[i].prefix);
		if (strncmp(key, r->locks[i].prefix, n) == 0 &&
		    (best == NULL || n > strlen(best->prefix)))
			best = &r->locks[i];
	}
	if (best == NULL || best->mode == REPO_LOCK_NONE) {
		if (mode != NULL)
			*mode = REPO_LOCK_NONE;
		return 0;
	}
	if (mode != NULL)
		*mode = best->mode;
	return now + best->period_s;
}

int
repo_lock_check(struct repo *r, struct lb_err *err)
{
	int rc;

	if (!repo_has_locks(r))
		return 0;
	/* A store that does not know Object Lock (501) cannot lock either:
	 * it might take the headers and keep nothing. */
	if ((rc = r->drv->lock_enabled(r, err)) < 0 && rc != LB_E_UNSUPPORTED)
		return lb_err_prefix(err, "cannot read the object lock configuration: ");
	lb_err_clear(err);
	if (rc <= 0)
		return lb_err_set(err, LB_E_CONFIG, "s3-object-lock is set but bucket "
		    "%s has no Object Lock configuration (hint: create the bucket with "
		    "object lock enabled, or set s3-object-lock = off)", r->url);
	return 0;
}

int
repo_locked_until(struct repo *r, const char *key, int64_t *until,
    struct lb_err *err)
{
	int rc;

	*until = 0;
	if ((rc = repo_key_check(key, 0, err)) < 0)
		return rc;
	if (r->drv->locked_until == NULL || !repo_has_locks(r))
		return r->drv->stat(r, key, NULL, err);
	return r->drv->locked_until(r, key, until, err);
}
