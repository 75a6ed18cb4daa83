/*
 * gate.h: "this object matches its manifest record", one judgement for
 * backup (before the sink commits), verify and restore.
 *
 * The observers it reads are ordinary chain stages (flt.h, bbolt_scan.h):
 * a byte count and a sha256 of the stored bytes, etcd's trailer check and
 * a bbolt scan of the plaintext.  What the record says is a plain struct,
 * so a manifest member (repo/manifest.h) and a catalog row
 * (catalog/catalog.h) are both judged here without this room knowing
 * either.  Checks, in this order, each only when the record has the value
 * and the chain had the observer: stored size, stored sha256, etcd's
 * trailer hash, database size, bbolt meta page (a bbolt database whose
 * meta page agrees with the trailer on the size), revision.  Not owned
 * here: bounding the plaintext (flt_snapshot_bound_new), building chains.
 */
#ifndef LB_GATE_H
#define LB_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "stream/flt.h"

/* What the record says; absent numbers are -1, absent strings NULL. */
struct gate_want {
	int64_t stored_size;
	const char *stored_sha256;   /* hex */
	const char *etcd_sha256;     /* hex */
	int64_t db_size;
	int64_t revision;
	int bbolt;                   /* 1: plaintext that is not bbolt fails */
};

/* The observer stages of one chain (handles from flt_chain_add); NULL:
 * not in the chain, its checks are skipped. */
struct gate_obs {
	const struct flt *count;     /* flt_count_new: stored bytes */
	const struct flt *sha256;    /* flt_sha256_new: stored bytes */
	const struct flt *trailer;   /* flt_etcd_trailer_new */
	const struct flt *scan;      /* flt_bbolt_scan_new */
};

/* Whose words a mismatch is told in: restore and verify have always put
 * the first three differently, and scripts read them. */
enum gate_words {
	GATE_WORDS_VERIFY,
	GATE_WORDS_RESTORE
};

/* What the gate saw beyond pass or fail. */
struct gate_seen {
	int revision_checked;        /* 1: the scan knew the revision and it matched */
	char revision_note[160];     /* why it was not checked, when it was not */
};

/* Judges the finished chain's observers against w; fails with
 * LB_E_CORRUPT (the first mismatch) or what reading a result fails with.
 * seen may be NULL. */
int gate_judge(const struct gate_want *w, const struct gate_obs *o,
    enum gate_words words, struct gate_seen *seen, struct lb_err *err);

/* A veto stage judging w against o at its finish, so a mismatch stops
 * the chain before the stages after it (the sink) commit.  Put it after
 * every observer of o.  w is copied; the stages of o must be in the same
 * chain, before this one.  Ownership of next as for flt_zstd_new. */
int gate_new(const struct gate_want *w, const struct gate_obs *o,
    enum gate_words words, struct flt *next, struct flt **out,
    struct lb_err *err);

#endif
