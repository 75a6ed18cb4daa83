/*
 * segment.h (env): an event-log segment's manifest (evlog/segment.h) read
 * from a repository, checked against the trusted signers, and recorded in
 * the catalog: what the capture does with the segments another appliance
 * stored (backup/capture.c) and what a rebuild does with every one
 * (ops/rebuild.c).
 */
#ifndef LB_ENV_SEGMENT_H
#define LB_ENV_SEGMENT_H

#include <stddef.h>

#include "catalog/catalog.h"
#include "common/err.h"
#include "env/env.h"
#include "env/trust.h"
#include "evlog/segment.h"
#include "repo/repo.h"

/* Reads the segment manifest at key from repo (e->repo when NULL),
 * checks its signature (key + ".sig", namespace EVL_SIG_NS) against e's
 * trusted signers (none configured: not checked; e->skip_signature: a
 * failure is logged as INSECURE and passed), parses it and checks that
 * key is its own.  *out is freed with evl_meta_free; *res (may be NULL)
 * says what the signature check found. */
int env_segment_read(const struct lb_env *e, struct repo *repo, const char *key,
    struct evl_meta **out, enum trust_result *res, struct lb_err *err);

/* Records m in e's catalog (cat_segment_add: a segment recorded already
 * is left as it is; *inserted, may be NULL, says which). */
int env_segment_add(const struct lb_env *e, const struct evl_meta *m, int *inserted,
    struct lb_err *err);

#endif
