/*
 * repo_file.c: the file:// driver of the repository (repo_int.h): objects
 * are files under a root directory.  Writes are atomic through
 * flt_file_new (temp file, fsync, rename, fsync of the directory),
 * listings walk the tree and sort it bytewise like S3's, deletes prune
 * the directories they empty, and cleanup removes temp files that
 * interrupted writes left.
 */
#include "repo/repo_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"

#define REPO_READ_CHUNK (256 * 1024)

static int
is_temp_name(const char *name)
{
	const char *m = strstr(name, REPO_TEMP_MARK);

	return m != NULL && strlen(m) == strlen(REPO_TEMP_MARK) + 6;
}

static int
file_path(const struct repo *r, const char *key, char *buf, size_t sz,
    struct lb_err *err)
{
	if ((size_t)snprintf(buf, sz, "%s/%s", r->root, key) >= sz)
		return lb_err_set(err, LB_E_USAGE, "path too long for key %.100s", key);
	return 0;
}

/* mkdir -p of the directories of path below (and including) the root. */
static int
mkdirs(const char *path, size_t from, struct lb_err *err)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf))
		return lb_err_set(err, LB_E_USAGE, "path too long: %.100s", path);
	memcpy(buf, path, n + 1);
	for (i = from; i <= n; i++) {
		if (i < n && buf[i] != '/')
			continue;
		if (i == 0)
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return lb_err_sys(err, LB_E_IO, errno, "mkdir %s", buf);
		if (i < n)
			buf[i] = '/';
	}
	return 0;
}

static int
file_put_new(struct repo *r, const char *key, struct flt **sink,
    struct lb_err *err)
{
	char path[PATH_MAX], *slash;
	int rc;

	if ((rc = file_path(r, key, path, sizeof(path), err)) < 0)
		return rc;
	slash = strrchr(path, '/');
	*slash = '\0';
	rc = mkdirs(path, strlen(r->root), err);
	*slash = '/';
	if (rc < 0)
		return rc;
	return flt_file_new(path, 0600, sink, err);
}

static int
file_get(struct repo *r, const char *key, uint64_t offset, uint64_t length,
    struct flt *dest, struct lb_err *err)
{
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	uint64_t left = length;
	struct stat st;
	ssize_t n;
	size_t want;
	int fd = -1, rc;

	if ((rc = file_path(r, key, path, sizeof(path), err)) < 0)
		return rc;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ?
		    lb_err_set(err, LB_E_NOTFOUND, "%s: not found", path) :
		    lb_err_sys(err, LB_E_IO, errno, "open %s", path);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = lb_err_set(err, LB_E_NOTFOUND, "%s: not a regular file", path);
		goto out;
	}
	if (offset > 0 && offset >= (uint64_t)st.st_size) {
		rc = lb_err_set(err, LB_E_USAGE,
		    "%s: offset %llu is beyond its %lld bytes", path,
		    (unsigned long long)offset, (long long)st.st_size);
		goto out;
	}
	if ((buf = malloc(REPO_READ_CHUNK)) == NULL) {
		rc = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		want = REPO_READ_CHUNK;
		if (length > 0 && left < want)
			want = (size_t)left;
		if (want == 0)
			break;
		n = pread(fd, buf, want, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = lb_err_sys(err, LB_E_IO, errno, "read %s", path);
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = flt_write(dest, buf, (size_t)n, err)) < 0)
			goto out;
		offset += (uint64_t)n;
		left -= length > 0 ? (uint64_t)n : 0;
	}
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

struct entry {
	char *key;
	uint64_t size;
	time_t mtime;
};

struct walk {
	struct entry *v;
	size_t n, cap;
	int temps;      /* collect temp files instead of objects */
};

static int
walk_add(const struct repo *r, struct walk *w, const char *key,
    const struct stat *st, struct lb_err *err)
{
	if (w->n >= REPO_LIST_MAX)
		return lb_err_set(err, LB_E_NOMEM, "%s: more than %u files to list",
		    r->root, REPO_LIST_MAX);
	if (lb_vec_grow(&w->v, &w->cap, w->n, sizeof(*w->v), REPO_LIST_MAX) < 0 ||
	    (w->v[w->n].key = strdup(key)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	w->v[w->n].size = (uint64_t)st->st_size;
	w->v[w->n].mtime = st->st_mtime;
	w->n++;
	return 0;
}

static void
walk_free(struct walk *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->v[i].key);
	free(w->v);
	memset(w, 0, sizeof(*w));
}

/* Collects regular files below root/rel ("" = root) into w. */
static int
walk_dir(const struct repo *r, const char *rel, struct walk *w, int depth,
    struct lb_err *err)
{
	char path[PATH_MAX], sub[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int rc = 0;

	if (depth > 64)
		return lb_err_set(err, LB_E_IO, "%s/%s: directories nested too deep",
		    r->root, rel);
	snprintf(path, sizeof(path), "%s%s%s", r->root, *rel ? "/" : "", rel);
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return lb_err_sys(err, LB_E_IO, errno, "open directory %s", path);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
		    de->d_name) >= sizeof(sub))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			rc = lb_err_sys(err, LB_E_IO, errno, "stat %s/%s", path,
			    de->d_name);
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			if ((rc = walk_dir(r, sub, w, depth + 1, err)) < 0)
				goto out;
		} else if (S_ISREG(st.st_mode) &&
		    is_temp_name(de->d_name) == w->temps) {
			if ((rc = walk_add(r, w, sub, &st, err)) < 0)
				goto out;
		}
	}
out:
	closedir(d);
	return rc;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

static int
file_list(struct repo *r, const char *prefix,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
    struct lb_err *err)
{
	struct walk w = { 0 };
	char dir[REPO_KEY_MAX + 1];
	const char *slash = strrchr(prefix, '/');
	size_t i, plen = strlen(prefix);
	int rc;

	/* Walk only the deepest directory the prefix names. */
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - prefix) : 0, prefix);
	if ((rc = walk_dir(r, dir, &w, 0, err)) < 0)
		goto out;
	if (w.n > 0)   /* w.v is NULL for an empty directory */
		qsort(w.v, w.n, sizeof(*w.v), entry_cmp);
	for (i = 0; i < w.n; i++) {
		if (strncmp(w.v[i].key, prefix, plen) != 0)
			continue;
		if ((rc = cb(arg, w.v[i].key, w.v[i].size)) < 0)
			goto out;
	}
	rc = 0;
out:
	walk_free(&w);
	return rc;
}

static int
file_fsync_dir(const char *path)
{
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (fsync(fd) < 0)
		rc = -1;
	close(fd);
	return rc;
}

static int
file_delete(struct repo *r, const char *key, struct lb_err *err)
{
	char path[PATH_MAX], *slash;
	size_t rootlen = strlen(r->root);
	struct stat st;
	int rc;

	if ((rc = file_path(r, key, path, sizeof(path), err)) < 0)
		return rc;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return lb_err_set(err, LB_E_NOTFOUND, "%s: not found", path);
	if (unlink(path) < 0)
		return errno == ENOENT ?
		    lb_err_set(err, LB_E_NOTFOUND, "%s: not found", path) :
		    lb_err_sys(err, LB_E_IO, errno, "unlink %s", path);
	/* Prune now-empty directories up to (not including) the root. */
	*strrchr(path, '/') = '\0';
	while (strlen(path) > rootlen && rmdir(path) == 0 &&
	    (slash = strrchr(path, '/')) != NULL)
		*slash = '\0';
	if (file_fsync_dir(path) < 0)
		return lb_err_sys(err, LB_E_IO, errno, "fsync directory %s", path);
	return 0;
}

static int
file_stat(struct repo *r, const char *key, uint64_t *size, struct lb_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;

	if ((rc = file_path(r, key, path, sizeof(path), err)) < 0)
		return rc;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return lb_err_set(err, LB_E_NOTFOUND, "%s: not found", path);
		return lb_err_sys(err, LB_E_IO, errno, "stat %s", path);
	}
	if (!S_ISREG(st.st_mode))
		return lb_err_set(err, LB_E_NOTFOUND, "%s: not a regular file", path);
	if (size != NULL)
		*size = (uint64_t)st.st_size;
	return 0;
}

static int
file_cleanup(struct repo *r, const char *prefix, long max_age_s, int *n,
    struct lb_err *err)
{
	struct walk w = { .temps = 1 };
	char path[PATH_MAX], dir[REPO_KEY_MAX + 1];
	const char *slash = strrchr(prefix, '/');
	time_t now = time(NULL);
	size_t i, plen = strlen(prefix);
	int rc;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - prefix) : 0, prefix);
	if ((rc = walk_dir(r, dir, &w, 0, err)) < 0)
		goto out;
	for (i = 0; i < w.n; i++) {
		if ((max_age_s > 0 && now - w.v[i].mtime < max_age_s) ||
		    strncmp(w.v[i].key, prefix, plen) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", r->root, w.v[i].key);
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = lb_err_sys(err, LB_E_IO, errno, "unlink %s", path);
			goto out;
		}
		log_info("removed orphan temp file %s", path);
		(*n)++;
	}
out:
	walk_free(&w);
	return rc;
}

static int
file_open(struct repo *r, const struct repo_opts *o, const char *path,
    struct lb_err *err)
{
	size_t n = strlen(path);
	char buf[PATH_MAX + 16];
	int rc;

	(void)o;
	if (path[0] != '/' || n >= PATH_MAX - REPO_KEY_MAX - 32)
		return lb_err_set(err, LB_E_CONFIG,
		    "repository url file://%.200s: the path must be absolute and shorter",
		    path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	if ((r->root = strndup(path, n)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	snprintf(buf, sizeof(buf), "file://%s", r->root);
	if ((r->url = strdup(buf)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if ((rc = mkdirs(r->root, 1, err)) < 0)
		return lb_err_prefix(err, "repository %s: ", r->url);
	return 0;
}

static void
file_close(struct repo *r)
{
	free(r->root);
}

const struct repo_driver repo_file_driver = {
	.open = file_open,
	.close = file_close,
	.clock_offset = NULL,
	.put_new = file_put_new,
	.get = file_get,
	.list = file_list,
	.del = file_delete,
	.stat = file_stat,
	.cleanup = file_cleanup,
};
