/*
 * bundle.c: `lifeboat catalog export` and `import`: one backup as a
 * portable disaster-recovery bundle, a POSIX tar (pax restricted) written
 * and read with libarchive.  The bundle holds the manifest first, then its
 * signature (manifest.json.sig) when the backup has one, then the member
 * objects as stored (still encrypted), each under its repository key, so
 * a bundle can be unpacked by hand into a file:// repository too.  Where
 * the importing side has trusted signers, the bundle's manifest must be
 * signed by one of them (checked against the bundle's signature before
 * anything is written).  Objects stream between the repository and the
 * archive through the filter chain, never whole in memory; import checks each
 * object's sha256 against the manifest before the object is committed,
 * and writes the manifest last.  Import writes only keys it creates (a
 * backup id already in the repository is refused, or skipped when its
 * manifest is the bundle's), so its rollback deletes nothing else.
 */
#include "ops/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "common/fmt.h"
#include "common/log.h"
#include "env/trust.h"
#include "repo/manifest.h"

#define BUNDLE_BUF (256 * 1024)

/* --- a sink into the current archive entry ----------------------------- */

struct flt_ar {
	struct flt base;
	struct archive *a;
};

static int
ar_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct flt_ar *s = (struct flt_ar *)f;
	const char *p = buf;

	while (len > 0) {
		la_ssize_t n = archive_write_data(s->a, p, len);
		if (n <= 0)
			return lb_err_set(err, LB_E_IO, "bundle: %s",
			    archive_error_string(s->a) ? archive_error_string(s->a) : "write failed");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
ar_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops ar_ops = { "archive", ar_write, NULL, ar_free };

/* --- a stage that refuses to let the sink commit a wrong object -------- */

struct flt_expect {
	struct flt base;
	const struct flt *sha;     /* the sha256 stage before this one */
	char want[65];
	const char *what;
};

static int
expect_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	return flt_write(f->next, buf, len, err);
}

/* Runs after the sha256 stage finished and before the sink commits. */
static int
expect_finish(struct flt *f, struct lb_err *err)
{
	struct flt_expect *x = (struct flt_expect *)f;
	uint8_t d[32];
	char hex[65];

	flt_sha256_digest(x->sha, d);
	lb_hex(d, sizeof(d), hex);
	if (strcasecmp(hex, x->want) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "%s: sha256 %.16s... does not match the "
		    "manifest's %.16s...", x->what, hex, x->want);
	return 0;
}

static void
expect_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops expect_ops = { "expect-sha256", expect_write, expect_finish,
	expect_free };

/* Builds [count ->] sha256 -> expect -> sink, the count only when asked
 * for (its handle in *count).  Owns sink from the call on, even when it
 * fails. */
static int
checked_chain(struct flt *sink, const char *want, const char *what, struct flt **count,
    struct flt **out, struct lb_err *err)
{
	struct flt_chain *c = NULL;
	struct flt_expect *x;
	struct flt *sha;
	int r;

	*out = NULL;
	if ((r = flt_chain_new(&c, err)) < 0) {
		flt_free(sink);
		return r;
	}
	if ((count != NULL && (r = flt_chain_add(c, flt_count_new(NULL), count, err)) < 0) ||
	    (r = flt_chain_add(c, flt_sha256_new(NULL), &sha, err)) < 0)
		goto fail;
	if ((x = calloc(1, sizeof(*x))) != NULL) {
		x->base.ops = &expect_ops;
		x->sha = sha;
		snprintf(x->want, sizeof(x->want), "%s", want);
		x->what = what;
	}
	if ((r = flt_chain_add(c, x != NULL ? &x->base : NULL, NULL, err)) < 0)
		goto fail;
	r = flt_chain_add(c, sink, NULL, err);
	sink = NULL;
	if (r < 0)
		goto fail;
	return flt_chain_build(c, out, err);
fail:
	flt_free(sink);
	flt_chain_free(c);
	return r;
}

/* --- export ------------------------------------------------------------ */

static int
add_header(struct archive *a, const char *path, uint64_t size, struct lb_err *err)
{
	struct archive_entry *en = archive_entry_new();
	int r = 0;

	if (en == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	archive_entry_set_pathname(en, path);
	archive_entry_set_size(en, (la_int64_t)size);
	archive_entry_set_filetype(en, AE_IFREG);
	archive_entry_set_perm(en, 0600);
	archive_entry_set_mtime(en, time(NULL), 0);
	if (archive_write_header(a, en) != ARCHIVE_OK)
		r = lb_err_set(err, LB_E_IO, "bundle: %s: %s", path, archive_error_string(a));
	archive_entry_free(en);
	return r;
}

static int
export_backup(struct lb_env *e, const char *id, const char *path, uint64_t *bytes,
    char **cluster, struct lb_err *err)
{
	struct cat_backup *b = NULL;
	struct manifest *m = NULL;
	struct archive *a = NULL;
	struct flt *chain = NULL;
	struct flt_ar *sink;
	uint8_t *mbuf = NULL;
	char *sig = NULL;
	size_t mlen, siglen = 0, i;
	char tmp[4096], skey[1400];
	int fd = -1, r;

	*bytes = 0;
	tmp[0] = '\0';
	if ((r = cat_backup_get(e->cat, id, 0, &b, err)) < 0)
		goto out;
	if ((*cluster = strdup(b->cluster)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (b->manifest_key == NULL) {
		r = lb_err_set(err, LB_E_NOTFOUND, "backup %s has no manifest (status %s): "
		    "nothing to export", id, cat_status_name(b->status));
		goto out;
	}
	/* The repository's manifest, not the catalog's copy: the bundle is
	 * what restore would see. */
	if ((r = repo_get_buf(e->repo, b->manifest_key, MANIFEST_MAX, &mbuf, &mlen, err)) < 0 ||
	    (r = manifest_parse((const char *)mbuf, mlen, &m, err)) < 0) {
		lb_err_prefix(err, "backup %s: %s: ", id, b->manifest_key);
		goto out;
	}
	/* Its signature travels with it, for the importing side to check. */
	if ((r = trust_fetch_sig(e->repo, b->manifest_key, &sig, &siglen, err)) < 0) {
		lb_err_prefix(err, "backup %s: %s: cannot read its signature: ", id,
		    b->manifest_key);
		goto out;
	}
	snprintf(skey, sizeof(skey), "%s.sig", b->manifest_key);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp)) {
		tmp[0] = '\0';
		r = lb_err_set(err, LB_E_USAGE, "output path too long");
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		r = lb_err_sys(err, LB_E_IO, errno, "cannot create %s", tmp);
		tmp[0] = '\0';
		goto out;
	}
	if ((a = archive_write_new()) == NULL ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		r = lb_err_set(err, LB_E_IO, "bundle: %s", a ? archive_error_string(a) : "no memory");
		goto out;
	}
	if ((r = add_header(a, b->manifest_key, mlen, err)) < 0)
		goto out;
	if (archive_write_data(a, mbuf, mlen) != (la_ssize_t)mlen) {
		r = lb_err_set(err, LB_E_IO, "bundle: %s", archive_error_string(a));
		goto out;
	}
	if (sig != NULL && ((r = add_header(a, skey, siglen, err)) < 0 ||
	    archive_write_data(a, sig, siglen) != (la_ssize_t)siglen)) {
		if (r == 0)
			r = lb_err_set(err, LB_E_IO, "bundle: %s", archive_error_string(a));
		goto out;
	}
	for (i = 0; i < m->n_members; i++) {
		const struct manifest_member *mm = &m->members[i];
		struct flt *cnt;
		char what[1200];

		if (strcmp(mm->status, "ok") != 0 || mm->object == NULL)
			continue;
		snprintf(what, sizeof(what), "member %s (%s)", mm->name, mm->object);
		if ((r = add_header(a, mm->object, mm->stored_size, err)) < 0)
			goto out;
		if ((sink = calloc(1, sizeof(*sink))) == NULL) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		sink->base.ops = &ar_ops;
		sink->a = a;
		/* A short object would leave libarchive to pad with zeros: the
		 * count must match before the entry is closed. */
		if ((r = checked_chain(&sink->base, mm->stored_sha256, what, &cnt, &chain,
		    err)) < 0)
			goto out;
		if ((r = repo_get(e->repo, mm->object, 0, 0, chain, err)) < 0 ||
		    (r = flt_finish(chain, err)) < 0) {
			lb_err_prefix(err, "backup %s %s: ", id, what);
			goto out;
		}
		if (flt_count_bytes(cnt) != mm->stored_size) {
			r = lb_err_set(err, LB_E_CORRUPT, "backup %s %s: %llu bytes, the manifest "
			    "says %llu", id, what, (unsigned long long)flt_count_bytes(cnt),
			    (unsigned long long)mm->stored_size);
			goto out;
		}
		*bytes += mm->stored_size;
		flt_free(chain);
		chain = NULL;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		r = lb_err_set(err, LB_E_IO, "bundle: %s", archive_error_string(a));
		goto out;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		r = lb_err_sys(err, LB_E_IO, errno, "cannot write %s", path);
		goto out;
	}
	tmp[0] = '\0';
out:
	flt_free(chain);
	if (a != NULL)
		archive_write_free(a);
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	free(mbuf);
	free(sig);
	manifest_free(m);
	cat_backup_free(b);
	return r;
}

int
ops_export(struct lb_env *e, const char *backup_id, const char *path, uint64_t *bytes,
    struct lb_err *err)
{
	char *cluster = NULL;
	int r;

	if ((r = export_backup(e, backup_id, path, bytes, &cluster, err)) < 0)
		ops_audit(e, CAT_ACT_EXPORT, cluster, backup_id, "failed",
		    "{s:s, s:s}", "file", path, "error", err->msg);
	else
		ops_audit(e, CAT_ACT_EXPORT, cluster, backup_id, "ok", "{s:s, s:I}",
		    "file", path, "bytes", (json_int_t)*bytes);
	free(cluster);
	return r;
}

/* --- import ------------------------------------------------------------ */

/* Entry names come from a file someone handed us. */
static int
safe_entry(const char *p)
{
	const char *s;

	if (p == NULL || p[0] == '\0' || p[0] == '/')
		return 0;
	for (s = p; (s = strstr(s, "..")) != NULL; s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return 0;
	return strstr(p, "//") == NULL && strchr(p, '\\') == NULL;
}

struct written {
	char **keys;
	size_t n;
};

/* Counts the keys under a backup's directory and notes its manifest. */
struct present {
	const char *mkey;
	size_t n;
	int manifest;
};

static int
present_cb(void *arg, const char *key, uint64_t size)
{
	struct present *p = arg;

	(void)size;
	p->n++;
	if (strcmp(key, p->mkey) == 0)
		p->manifest = 1;
	return 0;
}

/* Import writes only keys it creates, so it may delete them again: a
 * backup id with anything in the repository already is not ours.  A
 * manifest byte for byte the bundle's is the same backup (*same = 1,
 * nothing to write); anything else, or a listing that fails (no proof
 * of absence), refuses the import before a byte is written. */
static int
check_absent(struct repo *repo, const char *path, const struct manifest *m,
    const char *dir, const char *mkey, const char *mjson, size_t mlen, int *same,
    struct lb_err *err)
{
	struct present p = { mkey, 0, 0 };
	uint8_t *cur = NULL;
	size_t clen = 0;
	int r;

	*same = 0;
	if ((r = repo_list(repo, dir, present_cb, &p, err)) < 0)
		return lb_err_prefix(err, "bundle %s: cannot tell whether backup %s is "
		    "already in the repository: ", path, m->backup_id);
	if (p.n == 0)
		return 0;
	if (!p.manifest)
		return lb_err_set(err, LB_E_EXISTS, "bundle %s: the repository already holds "
		    "%zu object(s) of backup %s under %s but no manifest (a run that has not "
		    "been settled yet, or an earlier import that kept what it wrote): not "
		    "imported", path, p.n,
		    m->backup_id, dir);
	if ((r = repo_get_buf(repo, mkey, MANIFEST_MAX, &cur, &clen, err)) < 0)
		return lb_err_prefix(err, "bundle %s: backup %s is already in the "
		    "repository and its manifest cannot be read: ", path, m->backup_id);
	*same = clen == mlen && memcmp(cur, mjson, mlen) == 0;
	free(cur);
	if (!*same)
		return lb_err_set(err, LB_E_EXISTS, "bundle %s: backup %s is already in the "
		    "repository (%s) with a different manifest: not imported (import never "
		    "overwrites a backup)", path, m->backup_id, mkey);
	return 0;
}

/* Whether the bundle's backup may come in, decided once its manifest and
 * signature (NULL: the bundle has none) are read and before anything is
 * written: signed by a key of e's trusted signers (*sig_failed when not),
 * and not in the repository already (check_absent). */
static int
admit(struct lb_env *e, const char *path, const struct manifest *m, const char *dir,
    const char *mkey, const char *mjson, size_t mlen, const char *sig, size_t siglen,
    enum trust_result *trust, int *sig_failed, int *same, struct lb_err *err)
{
	int r;

	if ((r = env_trust_manifest_sig(e, mkey, mjson, mlen, sig, siglen, trust, err)) < 0) {
		*sig_failed = r != LB_E_NOMEM;
		return lb_err_prefix(err, "bundle %s: not imported: ", path);
	}
	return check_absent(e->repo, path, m, dir, mkey, mjson, mlen, same, err);
}

static int
import_bundle(struct lb_env *e, const char *path, char **id_out, char **cluster_out,
    uint64_t *bytes, int *skipped, enum trust_result *trust, int *sig_failed,
    struct lb_err *err)
{
	struct archive *a = NULL;
	struct archive_entry *en;
	struct manifest *m = NULL;
	struct written w = { 0 };
	struct flt *chain = NULL, *sink = NULL;
	char *mjson = NULL, *sig = NULL, dir[1200], mkey[1300], skey[1310], what[1200];
	unsigned char *seen = NULL;
	uint8_t *buf = NULL;
	size_t i, mlen = 0, siglen = 0;
	int r = 0, ar, done = 0, same = 0, mput = 0, admitted = 0;

	*bytes = 0;
	*skipped = 0;
	*trust = TRUST_UNCHECKED;
	*sig_failed = 0;
	if ((buf = malloc(BUNDLE_BUF)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if ((a = archive_read_new()) == NULL || archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_filename(a, path, BUNDLE_BUF) != ARCHIVE_OK) {
		r = lb_err_set(err, errno == ENOENT ? LB_E_NOTFOUND : LB_E_IO, "bundle %s: %s",
		    path, a ? archive_error_string(a) : "no memory");
		goto out;
	}
	while ((ar = archive_read_next_header(a, &en)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(en);
		la_int64_t size = archive_entry_size(en);

		if (archive_entry_filetype(en) == AE_IFDIR)
			continue;
		if (!safe_entry(name)) {
			r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: refusing entry '%.200s' "
			    "(absolute path or '..')", path, name ? name : "");
			goto out;
		}
		if (archive_entry_filetype(en) != AE_IFREG || size < 0) {
			r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: entry %s is not a regular "
			    "file", path, name);
			goto out;
		}
		if (m == NULL) {
			/* The manifest comes first: everything after is checked
			 * against it. */
			size_t n = strlen(name), k = strlen(MANIFEST_NAME);
			if (n < k || strcmp(name + n - k, MANIFEST_NAME) != 0 ||
			    (uint64_t)size > MANIFEST_MAX) {
				r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: first entry %s is not "
				    "a manifest", path, name);
				goto out;
			}
			mlen = (size_t)size;
			if ((mjson = malloc(mlen + 1)) == NULL) {
				r = lb_err_set(err, LB_E_NOMEM, "out of memory");
				goto out;
			}
			if (archive_read_data(a, mjson, mlen) != (la_ssize_t)mlen) {
				r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: %s: %s", path, name,
				    archive_error_string(a) ? archive_error_string(a) : "short");
				goto out;
			}
			mjson[mlen] = '\0';
			if ((r = manifest_parse(mjson, mlen, &m, err)) < 0) {
				lb_err_prefix(err, "bundle %s: ", path);
				goto out;
			}
			if ((r = manifest_check_key(m, name, err)) < 0) {
				lb_err_prefix(err, "bundle %s: %s: ", path, name);
				goto out;
			}
			/* fits: manifest_check_key has just built the same key */
			manifest_backup_dir(m->cluster, m->backup_id, dir, sizeof(dir));
			snprintf(mkey, sizeof(mkey), "%s", name);
			snprintf(skey, sizeof(skey), "%s.sig", name);
			/* the members' objects and the signature */
			if ((seen = calloc(m->n_members, 1)) == NULL ||
			    (w.keys = calloc(m->n_members + 1, sizeof(char *))) == NULL) {
				r = lb_err_set(err, LB_E_NOMEM, "out of memory");
				goto out;
			}
			continue;   /* its signature, if any, comes next */
		}
		if (!admitted) {
			if (strcmp(name, skey) == 0) {
				if ((uint64_t)size > TRUST_SIG_MAX) {
					r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: %s: larger than "
					    "%u bytes", path, name, TRUST_SIG_MAX);
					goto out;
				}
				siglen = (size_t)size;
				if ((sig = malloc(siglen + 1)) == NULL) {
					r = lb_err_set(err, LB_E_NOMEM, "out of memory");
					goto out;
				}
				if (archive_read_data(a, sig, siglen) != (la_ssize_t)siglen) {
					r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: %s: %s", path,
					    name, archive_error_string(a) ? archive_error_string(a) :
					    "short");
					goto out;
				}
				sig[siglen] = '\0';
			}
			if ((r = admit(e, path, m, dir, mkey, mjson, mlen, sig, siglen, trust,
			    sig_failed, &same, err)) < 0)
				goto out;
			admitted = 1;
			if (same)
				break;   /* the rest of the bundle is not needed */
			if (sig != NULL)
				continue;
		}
		for (i = 0; i < m->n_members; i++)
			if (m->members[i].object != NULL && strcmp(m->members[i].object, name) == 0 &&
			    strcmp(m->members[i].status, "ok") == 0)
				break;
		if (i == m->n_members || seen[i]) {
			r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: entry %s is %s", path, name,
			    i == m->n_members ? "not an object of the manifest" : "given twice");
			goto out;
		}
		seen[i] = 1;
		snprintf(what, sizeof(what), "member %s (%s)", m->members[i].name, name);
		if ((uint64_t)size != m->members[i].stored_size) {
			r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: %s is %lld bytes, the "
			    "manifest says %llu", path, what, (long long)size,
			    (unsigned long long)m->members[i].stored_size);
			goto out;
		}
		/* Checked again per key, right before writing it: only a key
		 * proven absent (not found, not merely unreadable) becomes ours. */
		if ((r = repo_absent(e->repo, name, err)) == 0) {
			r = lb_err_set(err, LB_E_EXISTS, "bundle %s: %s already exists in the "
			    "repository: not imported", path, name);
			goto out;
		}
		if (r < 0) {
			lb_err_prefix(err, "bundle %s: cannot tell whether %s exists: ", path,
			    name);
			goto out;
		}
		if ((r = repo_put_new(e->repo, name, &sink, err)) < 0)
			goto out;
		r = checked_chain(sink, m->members[i].stored_sha256, what, NULL, &chain, err);
		sink = NULL;
		if (r < 0)
			goto out;
		for (;;) {
			la_ssize_t n = archive_read_data(a, buf, BUNDLE_BUF);
			if (n < 0) {
				r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: %s: %s", path, what,
				    archive_error_string(a));
				goto out;
			}
			if (n == 0)
				break;
			if ((r = flt_write(chain, buf, (size_t)n, err)) < 0)
				goto out;
		}
		/* The expect stage fails before the sink commits a bad object. */
		if ((r = flt_finish(chain, err)) < 0) {
			lb_err_prefix(err, "bundle %s: ", path);
			goto out;
		}
		flt_free(chain);
		chain = NULL;
		w.keys[w.n++] = m->members[i].object;
		*bytes += (uint64_t)size;
	}
	/* A bundle with nothing after its manifest */
	if (!admitted && m != NULL && ar == ARCHIVE_EOF) {
		if ((r = admit(e, path, m, dir, mkey, mjson, mlen, NULL, 0, trust, sig_failed,
		    &same, err)) < 0)
			goto out;
		admitted = 1;
	}
	if (same) {
		/* The repository has this very backup: write nothing, and let
		 * the catalog know it (importing into a new catalog). */
		*skipped = 1;
		done = 1;
		if ((r = cat_record_manifest_key(e->cat, mjson, mkey, err)) < 0)
			goto out;
		if ((*id_out = strdup(m->backup_id)) == NULL ||
		    (*cluster_out = strdup(m->cluster)) == NULL)
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (ar != ARCHIVE_EOF) {
		r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: %s", path, archive_error_string(a));
		goto out;
	}
	if (m == NULL) {
		r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: empty (no manifest)", path);
		goto out;
	}
	for (i = 0; i < m->n_members; i++)
		if (strcmp(m->members[i].status, "ok") == 0 && !seen[i]) {
			r = lb_err_set(err, LB_E_CORRUPT, "bundle %s: member %s's object %s is "
			    "missing", path, m->members[i].name, m->members[i].object);
			goto out;
		}
	/* The signature, then the manifest last: until the manifest exists
	 * the backup does not, and once it does its signature is there. */
	if (sig != NULL) {
		if ((r = repo_absent(e->repo, skey, err)) == 0) {
			r = lb_err_set(err, LB_E_EXISTS, "bundle %s: %s already exists in the "
			    "repository: not imported", path, skey);
			goto out;
		}
		if (r < 0) {
			lb_err_prefix(err, "bundle %s: cannot tell whether %s exists: ", path,
			    skey);
			goto out;
		}
		w.keys[w.n++] = skey;
		if ((r = repo_put_buf(e->repo, skey, sig, siglen, err)) < 0)
			goto out;
	}
	mput = 1;
	if ((r = repo_put_buf(e->repo, mkey, mjson, mlen, err)) < 0)
		goto out;
	done = 1;
	if ((r = cat_record_manifest_key(e->cat, mjson, mkey, err)) < 0) {
		lb_err_prefix(err, "imported into the repository, but the catalog: ");
		goto out;
	}
	if ((*id_out = strdup(m->backup_id)) == NULL ||
	    (*cluster_out = strdup(m->cluster)) == NULL)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	flt_free(chain);
	flt_free(sink);
	/* Objects of a bundle that failed would be a backup without a
	 * manifest: remove them.  What makes each deletion certain: every key
	 * in w was absent (repo_absent) right before this import
	 * wrote it, in a backup directory that held nothing when the import
	 * began (check_absent), so this import created it; and no manifest
	 * names it: ours was never attempted, or a failed write of it is
	 * proven absent now.  A manifest whose write failed but that may have
	 * landed (a timeout) keeps every object: if it did land they are a
	 * backup ('catalog rebuild' lists it), and if not they stay, reported
	 * here, for a person to remove; nothing settles them by itself. */
	if (r < 0 && !done && w.n > 0) {
		struct lb_err e2 = { 0 };
		int gone = !mput || repo_absent(e->repo, mkey, &e2) == 1;

		for (i = 0; gone && i < w.n; i++) {
			lb_err_clear(&e2);
			if (repo_delete(e->repo, w.keys[i], &e2) < 0)
				log_warn("import: cannot remove %s: %s", w.keys[i], e2.msg);
		}
		if (!gone)
			log_warn("import: the manifest %s may have been written: keeping the "
			    "%zu object(s) this import wrote", mkey, w.n);
	}
	if (r < 0 && *id_out == NULL && m != NULL) {
		*id_out = strdup(m->backup_id);
		*cluster_out = strdup(m->cluster);
	}
	if (a != NULL)
		archive_read_free(a);
	free(w.keys);
	free(seen);
	free(mjson);
	free(sig);
	free(buf);
	manifest_free(m);
	return r;
}

int
ops_import(struct lb_env *e, const char *path, struct ops_import_result *res,
    struct lb_err *err)
{
	char *id = NULL, *cluster = NULL;
	int r, sig_failed = 0;

	memset(res, 0, sizeof(*res));
	if ((r = import_bundle(e, path, &id, &cluster, &res->bytes, &res->skipped,
	    &res->trust, &sig_failed, err)) < 0) {
		ops_audit(e, CAT_ACT_IMPORT, cluster, id, "failed", "{s:s, s:s, s:s}",
		    "file", path, "error", err->msg, "signature",
		    sig_failed ? "failed" : trust_result_name(res->trust));
		goto out;
	}
	/* import_bundle took both from a manifest that parsed: they fit */
	snprintf(res->backup_id, sizeof(res->backup_id), "%s", id);
	snprintf(res->cluster, sizeof(res->cluster), "%s", cluster);
	if (res->skipped)
		ops_audit(e, CAT_ACT_IMPORT, cluster, id, "ok", "{s:s, s:b, s:s}", "file",
		    path, "already_present", 1, "signature", trust_result_name(res->trust));
	else
		ops_audit(e, CAT_ACT_IMPORT, cluster, id, "ok", "{s:s, s:I, s:s}", "file",
		    path, "bytes", (json_int_t)res->bytes, "signature",
		    trust_result_name(res->trust));
out:
	free(id);
	free(cluster);
	return r;
}
