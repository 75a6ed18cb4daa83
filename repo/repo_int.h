/*
 * repo_int.h: what the repository interface (repo.c) shares with its
 * drivers (repo_file.c, repo_s3.c) and nobody else uses.  repo.c checks
 * keys and dispatches; a driver does one store's part of each call of
 * repo.h with keys already checked.
 */
#ifndef LB_REPO_INT_H
#define LB_REPO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

#define REPO_KEY_MAX 1024
/* Temp files are NAME.lifeboat-XXXXXX; no key may look like one. */
#define REPO_TEMP_MARK ".lifeboat-"

struct s3;

/* One store's side of repo.h.  open gets the URL after its scheme and
 * fills url and its own fields; close frees its own fields (after a
 * failed open too); clock_offset may be NULL (no clock of its own). */
struct repo_driver {
	int (*open)(struct repo *r, const struct repo_opts *o, const char *rest,
	    struct lb_err *err);
	void (*close)(struct repo *r);
	int (*clock_offset)(struct repo *r, int64_t *offset);
	int (*put_new)(struct repo *r, const char *key, struct flt **sink,
	    struct lb_err *err);
	int (*get)(struct repo *r, const char *key, uint64_t offset,
	    uint64_t length, struct flt *dest, struct lb_err *err);
	int (*list)(struct repo *r, const char *prefix,
	    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
	    struct lb_err *err);
	int (*del)(struct repo *r, const char *key, struct lb_err *err);
	int (*stat)(struct repo *r, const char *key, uint64_t *size,
	    struct lb_err *err);
	int (*cleanup)(struct repo *r, const char *prefix, long max_age_s, int *n,
	    struct lb_err *err);
	/* Object Lock (repo.h); NULL: the store has none. */
	int (*lock_enabled)(struct repo *r, struct lb_err *err);
	int (*locked_until)(struct repo *r, const char *key, int64_t *until,
	    struct lb_err *err);
};

struct repo_lock_rule {
	char *prefix;
	int mode;
	int64_t period_s;
};

struct repo {
	const struct repo_driver *drv;
	char *url;      /* for messages */
	char *root;     /* file: absolute path without trailing '/' */
	char *prefix;   /* s3: "" or "dir/sub/" */
	struct s3 *s3;
	struct repo_lock_rule *locks;
	size_t n_locks;
};

extern const struct repo_driver repo_file_driver;
extern const struct repo_driver repo_s3_driver;

/* Checks the key rules of repo.h; prefix_ok allows "" and a trailing '/'
 * (list prefixes).  LB_E_USAGE for a bad key. */
int repo_key_check(const char *key, int prefix_ok, struct lb_err *err);

#endif
