/*
 * repo.h: the repository, where backups are stored: one interface, two
 * drivers chosen by URL (file:///abs/path, s3://bucket/prefix).
 *
 * Keys are relative to the repository root or prefix, '/'-separated, with
 * no empty, "." or ".." segment, no leading or trailing '/', no control
 * characters, at most 1024 bytes.  Both drivers list keys in the same
 * (bytewise) order and report absent keys as LB_E_NOTFOUND.  Writes are
 * atomic: a reader sees the whole object or nothing.
 */
#ifndef LB_REPO_H
#define LB_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "stream/flt.h"

struct repo;

struct repo_opts {
	const char *url;              /* file:///path or s3://bucket/prefix */
	const char *s3_endpoint;      /* NULL: AWS for s3_region */
	const char *s3_region;        /* NULL: us-east-1 */
	int s3_host_style;            /* 1: bucket.endpoint, 0: endpoint/bucket */
	const char *s3_ca_file;       /* NULL: system CAs */
	/* NULL: from AWS_* env or ~/.aws/credentials [default] or
	 * $AWS_SHARED_CREDENTIALS_FILE */
	const char *s3_access_key;
	const char *s3_secret_key;
	const char *s3_session_token;
	long connect_timeout_s;       /* 0: 10 s */
	long stall_timeout_s;         /* 0: 60 s under 1 byte/s aborts */
	size_t s3_part_size;          /* 0: 5 MiB; memory is 3 or 4 parts */
};

/* Opens the repository at o->url.  file: creates the root (0700) if it
 * is missing.  s3: checks that the bucket exists and the credentials are
 * accepted, so a wrong secret or bucket fails here with a clear message. */
int repo_open(const struct repo_opts *o, struct repo **out, struct lb_err *err);

/* Closes and frees; NULL is fine. */
void repo_close(struct repo *r);

/* The URL for messages, never with credentials. */
const char *repo_url(const struct repo *r);

/* The repository's own clock minus this host's, in seconds, when it has
 * one (s3: the Date of the server's last answer; repo_open already asked
 * it something); LB_E_NOTFOUND for a file repository. */
int repo_clock_offset(struct repo *r, int64_t *offset);

/* A sink stage for the filter chain that writes object key.  finish
 * commits it (file: fsync, rename, fsync dir, mode 0600, parent dirs
 * created 0700; s3: one PUT if it fits in one part, else a multipart
 * upload completed).  flt_free without finish aborts: the temp file is
 * removed or the multipart upload aborted, and key is left as it was. */
int repo_put_new(struct repo *r, const char *key, struct flt **sink,
    struct lb_err *err);

/* Writes a whole small object (a manifest) atomically. */
int repo_put_buf(struct repo *r, const char *key, const void *buf, size_t len,
    struct lb_err *err);

/* Streams object key into dest with flt_write (does not finish dest):
 * bytes offset .. offset+length-1, length 0 = to the end. */
int repo_get(struct repo *r, const char *key, uint64_t offset, uint64_t length,
    struct flt *dest, struct lb_err *err);

/* Reads a whole object of at most max bytes into a malloc'd buffer. */
int repo_get_buf(struct repo *r, const char *key, size_t max, uint8_t **buf,
    size_t *len, struct lb_err *err);

/* The most keys one listing is collected into memory (the file driver's
 * walk, repo_delete_prefix, rebuild, and the catalog's mirror of them):
 * some 100 bytes each, so 2^24 keys are over 1.5 GiB, and a repository
 * of 100 clusters of 5 members keeping 1000 backups each has 0.7
 * million.  Past it a listing fails with a message, before memory does. */
#define REPO_LIST_MAX (1u << 24)

/* Calls cb for each object whose key starts with prefix ("" = all), in
 * bytewise key order; cb returning < 0 stops the walk with that code. */
int repo_list(struct repo *r, const char *prefix,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
    struct lb_err *err);

/* Deletes key; LB_E_NOTFOUND if absent.  file: empty parent directories
 * are removed up to the root.  s3 with lock rules: every version of key,
 * LB_E_LOCKED while one is retained (see Object Lock below). */
int repo_delete(struct repo *r, const char *key, struct lb_err *err);

/* Deletes every object under prefix (relative, ending in '/'): all keys
 * are listed first, then deleted, so no store sees deletes during its own
 * listing.  Absent objects are fine.  *n (may be NULL) counts deletions. */
int repo_delete_prefix(struct repo *r, const char *prefix, int *n,
    struct lb_err *err);

/* Size of key; LB_E_NOTFOUND if absent. */
int repo_stat(struct repo *r, const char *key, uint64_t *size,
    struct lb_err *err);

/* The one proof a deletion may rest on: 1 when the store says key is
 * absent (404, ENOENT), 0 when it is there, < 0 when it cannot tell (a
 * 5xx, a timeout: err says why), which a caller must treat as present. */
int repo_absent(struct repo *r, const char *key, struct lb_err *err);

/* Removes leftovers of interrupted writes under prefix (relative; NULL or
 * "" for the whole repository) older than max_age_s: file temp files
 * (*.lifeboat-XXXXXX) and S3 multipart uploads; 0 removes them all.  *n
 * is the number removed.
 * A store that cannot list uploads (s3rver: 501) fails with
 * LB_E_UNSUPPORTED. */
int repo_cleanup_orphans(struct repo *r, const char *prefix, long max_age_s,
    int *n, struct lb_err *err);

/*
 * S3 Object Lock.  Rules say which keys are written locked: a rule per
 * key prefix ("" covers every key no longer prefix covers), registered
 * once after repo_open (env/setup.c does it from s3-object-lock).  Every
 * write of a covered key carries the rule's mode and a retain-until of
 * now + period.  With rules, repo_delete deletes every version of the
 * key (the bucket is versioned: a plain DELETE would only hide it), and
 * a version still retained fails it with LB_E_LOCKED ("locked until
 * DATE"), never LB_E_AUTH.  The file driver has no locks: LB_E_UNSUPPORTED.
 */
enum repo_lock_mode { REPO_LOCK_NONE, REPO_LOCK_GOVERNANCE, REPO_LOCK_COMPLIANCE };

int repo_lock_rule_add(struct repo *r, const char *prefix, int mode,
    int64_t period_s, struct lb_err *err);

/* 1 when r has lock rules. */
int repo_has_locks(const struct repo *r);

/* The retain-until (Unix seconds) a write of key at now would get; 0 when
 * no rule covers it (*mode, may be NULL, is then REPO_LOCK_NONE). */
int64_t repo_lock_until_for(const struct repo *r, const char *key, int64_t now,
    int *mode);

/* With lock rules, checks that the bucket has Object Lock enabled:
 * LB_E_CONFIG "s3-object-lock is set but bucket B has no Object Lock
 * configuration (hint: ...)" when it has not (or the store does not
 * implement it); another code when the store cannot say (a 5xx, no
 * answer).  0 without rules. */
int repo_lock_check(struct repo *r, struct lb_err *err);

/* The retain-until of key's current version, 0 when it has none (or the
 * store has no locks); LB_E_NOTFOUND if absent. */
int repo_locked_until(struct repo *r, const char *key, int64_t *until,
    struct lb_err *err);

#endif
