/*
 * repo.c: the repository interface of repo.h: URL parsing, key rules, and
 * its two drivers.  The file driver lives here whole (atomic writes through
 * flt_file_new, sorted recursive listing, empty-directory pruning); the S3
 * driver is a thin layer over s3.h that adds the repository prefix.
 */
#include "repo/repo.h"

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

#include "common/log.h"
#include "repo/s3.h"

#define REPO_KEY_MAX 1024
#define REPO_READ_CHUNK (256 * 1024)
#define TEMP_MARK ".lifeboat-"

enum repo_kind { REPO_FILE, REPO_S3 };

struct repo {
	enum repo_kind kind;
	char *url;      /* for messages */
	char *root;     /* file: absolute path without trailing '/' */
	char *prefix;   /* s3: "" or "dir/sub/" */
	struct s3 *s3;
};

/* ---------------------------------------------------------------- keys */

/* Checks the key rules of repo.h; prefix_ok allows "" and a trailing '/'
 * (list prefixes). */
static int
key_check(const char *key, int prefix_ok, struct lb_err *err)
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
	if (strstr(s != NULL ? s : key, TEMP_MARK) != NULL)
		goto bad;
	return 0;
bad:
	return lb_err_set(err, LB_E_USAGE, "invalid repository key \"%.200s\"", key);
}

static int
is_temp_name(const char *name)
{
	const char *m = strstr(name, TEMP_MARK);

	return m != NULL && strlen(m) == strlen(TEMP_MARK) + 6;
}

/* ---------------------------------------------------------------- file */

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
walk_add(struct walk *w, const char *key, const struct stat *st)
{
	struct entry *v;
	size_t cap;

	if (w->n == w->cap) {
		cap = w->cap ? w->cap * 2 : 256;
		if ((v = realloc(w->v, cap * sizeof(*v))) == NULL)
			return -1;
		w->v = v;
		w->cap = cap;
	}
	if ((w->v[w->n].key = strdup(key)) == NULL)
		return -1;
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
			if (walk_add(w, sub, &st) < 0) {
				rc = lb_err_set(err, LB_E_NOMEM, "out of memory");
				goto out;
			}
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

/* ---------------------------------------------------------------- s3 glue */

static int
s3_full_key(const struct repo *r, const char *key, char **out, struct lb_err *err)
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
orphan_cb(void *arg, const char *key, const char *upload_id, time_t initiated)
{
	struct orphans *o = arg;
	int rc;

	if (initiated > o->cutoff)
		return 0;
	if ((rc = s3_abort_upload(o->r->s3, key, upload_id, o->err)) < 0) {
		/* Gone meanwhile (another cleanup, or it completed): fine. */
		if (rc == LB_E_NOTFOUND || strstr(o->err->msg, "NoSuchUpload"))
			return 0;
		return rc;
	}
	log_info("aborted orphan multipart upload of %s", key);
	o->n++;
	return 0;
}

/* ---------------------------------------------------------------- open */

static int
open_file(struct repo *r, const char *path, struct lb_err *err)
{
	size_t n = strlen(path);
	char buf[PATH_MAX + 16];
	int rc;

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

static int
open_s3(struct repo *r, const struct repo_opts *o, const char *rest,
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
	if (n > 0 && key_check(p, 0, err) < 0) {
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
		r->kind = REPO_FILE;
		rc = open_file(r, o->url + 7, err);
	} else if (strncmp(o->url, "s3://", 5) == 0) {
		r->kind = REPO_S3;
		rc = open_s3(r, o, o->url + 5, err);
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
	s3_free(r->s3);
	free(r->url);
	free(r->root);
	free(r->prefix);
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
	return r->kind == REPO_S3 ? s3_clock_offset(r->s3, offset) : LB_E_NOTFOUND;
}

/* ---------------------------------------------------------------- dispatch */

int
repo_put_new(struct repo *r, const char *key, struct flt **sink,
    struct lb_err *err)
{
	char *full = NULL;
	int rc;

	*sink = NULL;
	if ((rc = key_check(key, 0, err)) < 0)
		return rc;
	if (r->kind == REPO_FILE)
		return file_put_new(r, key, sink, err);
	if ((rc = s3_full_key(r, key, &full, err)) == 0)
		rc = s3_upload_new(r->s3, full, 0, sink, err);
	free(full);
	return rc;
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
	char *full = NULL;
	int rc;

	if ((rc = key_check(key, 0, err)) < 0)
		return rc;
	if (r->kind == REPO_FILE)
		return file_get(r, key, offset, length, dest, err);
	if ((rc = s3_full_key(r, key, &full, err)) == 0)
		rc = s3_get_object(r->s3, full, offset, length, dest, err);
	free(full);
	return rc;
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
	struct strip st;
	char *full = NULL;
	int rc;

	if ((rc = key_check(prefix, 1, err)) < 0)
		return rc;
	if (r->kind == REPO_FILE)
		return file_list(r, prefix, cb, arg, err);
	st.plen = strlen(r->prefix);
	st.cb = cb;
	st.arg = arg;
	if ((rc = s3_full_key(r, prefix, &full, err)) == 0)
		rc = s3_list(r->s3, full, strip_cb, &st, err);
	free(full);
	return rc;
}

int
repo_delete(struct repo *r, const char *key, struct lb_err *err)
{
	char *full = NULL;
	int rc;

	if ((rc = key_check(key, 0, err)) < 0)
		return rc;
	if (r->kind == REPO_FILE)
		return file_delete(r, key, err);
	/* S3 says 204 for absent keys too; the contract wants NOTFOUND. */
	if ((rc = s3_full_key(r, key, &full, err)) == 0 &&
	    (rc = s3_head_object(r->s3, full, NULL, err)) == 0)
		rc = s3_delete_object(r->s3, full, err);
	free(full);
	return rc;
}

struct keylist {
	char **v;
	size_t n;
};

static int
collect_key(void *arg, const char *key, uint64_t size)
{
	struct keylist *l = arg;
	char **v;

	(void)size;
	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL)
		return LB_E_NOMEM;
	l->v = v;
	if ((v[l->n] = strdup(key)) == NULL)
		return LB_E_NOMEM;
	l->n++;
	return 0;
}

int
repo_delete_prefix(struct repo *r, const char *prefix, int *n, struct lb_err *err)
{
	struct keylist l = { NULL, 0 };
	size_t i;
	int rc;

	if ((rc = repo_list(r, prefix, collect_key, &l, err)) < 0) {
		if (err != NULL && err->code == 0)
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
	char *full = NULL;
	int rc;

	if ((rc = key_check(key, 0, err)) < 0)
		return rc;
	if (r->kind == REPO_FILE)
		return file_stat(r, key, size, err);
	if ((rc = s3_full_key(r, key, &full, err)) == 0)
		rc = s3_head_object(r->s3, full, size, err);
	free(full);
	return rc;
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
	struct orphans o;
	char *full = NULL;
	int rc;

	*n = 0;
	if (prefix == NULL)
		prefix = "";
	if ((rc = key_check(prefix, 1, err)) < 0)
		return rc;
	if (r->kind == REPO_FILE)
		return file_cleanup(r, prefix, max_age_s, n, err);
	memset(&o, 0, sizeof(o));
	o.r = r;
	/* 0 means every upload: a server's Initiated may run a second
	 * ahead of our clock (rounding), which must not spare one. */
	o.cutoff = max_age_s <= 0 ? (time_t)INT64_MAX : time(NULL) - max_age_s;
	o.err = err;
	if ((rc = s3_full_key(r, prefix, &full, err)) == 0)
		rc = s3_list_uploads(r->s3, full, orphan_cb, &o, err);
	free(full);
	*n = o.n;
	return rc;
}
