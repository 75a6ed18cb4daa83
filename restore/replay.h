/*
 * replay.h: point-in-time recovery's replay (issue 15, "restore to a
 * point").  A base snapshot, restored the normal way, is started as a
 * scratch single-member etcd on loopback with nothing else writing to it
 * (fsync off where the version has it, no request-size or txn-ops limit
 * in the way); the event log's segments after its revision are read from
 * the repository (sha256 of the stored bytes, age, zstd, the record
 * format's checks) and every original revision is applied as one Txn,
 * the resulting revision checked equal to the original after each one.
 * Leases are re-created with their ids and kept alive for the whole
 * replay, so none expires and deletes keys mid-way.  At the target
 * revision the scratch member's snapshot is taken into a file, its
 * HashKV noted, and the member stopped.
 *
 * Since every etcd revision is exactly one transaction (a revision
 * record holds all its events), a revision target can never split a
 * transaction.
 *
 * Also here: which segments (from the catalog or from the bucket's
 * *.evlog.json alone), how far they reach without a gap, a time turned
 * into the last revision at or before it, and the A -> B proof.
 * Never prints; progress goes to the log.
 */
#ifndef LB_REPLAY_H
#define LB_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "etcd/etcd.h"
#include "restore/restore.h"

struct age_identity;
struct cat;
struct lb_env;
struct repo;

/* A lease an event refers to whose TTL no LEASE record gave (the capture
 * could not read it): re-created with this many seconds. */
#define REPLAY_UNKNOWN_TTL 3600
/* The scratch member's --max-request-bytes and --max-txn-ops: above any
 * revision a source etcd can have produced (a record holds at most
 * EVL_RECORD_MAX bytes). */
#define REPLAY_MAX_REQUEST_BYTES (80LL * 1024 * 1024)
#define REPLAY_MAX_TXN_OPS 1000000

/* One segment object, as the catalog or its JSON manifest names it. */
struct replay_segment {
	char *object;              /* key of the .evlog.zst.age object */
	char *stored_sha256;       /* hex, of the stored bytes */
	int64_t first_rev, last_rev;
	int64_t first_time_ms, last_time_ms;
	int64_t revisions;         /* 0: an empty segment (an idle cluster) */
};

struct replay_segments {
	struct replay_segment *v;  /* by first_rev, then last_rev */
	size_t n, cap;
	const char *origin;        /* "catalog" or "repository" (static) */
};

/* The segments of cluster holding a revision in [from_rev, to_rev]
 * (to_rev < 0: no bound), from the catalog.  A segment whose
 * verification failed (a failed proof marks every segment it read) is
 * left out unless with_failed: a restore does not use it, a proof that
 * may clear it reads it. */
int replay_segments_catalog(struct cat *c, const char *cluster, int64_t from_rev,
    int64_t to_rev, int with_failed, struct replay_segments *out, struct lb_err *err);

/* The same from the bucket alone: <cluster>/wal/ of e's repository
 * listed, each *.evlog.json read and checked (env_segment_read: its
 * signature against e's trusted signers, format, cluster, its key); one
 * that fails is left out, loudly, and is a hole in the log. */
int replay_segments_repo(const struct lb_env *e, const char *cluster, int64_t from_rev,
    int64_t to_rev, struct replay_segments *out, struct lb_err *err);

void replay_segments_free(struct replay_segments *s);

/* How far s reaches from from_rev without a gap: *last_rev the last
 * revision of the unbroken run starting at from_rev (from_rev - 1 when
 * no segment holds from_rev) and *last_time_ms the time up to which the
 * capture knew that nothing else happened (-1: none). */
void replay_coverage(const struct replay_segments *s, int64_t from_rev,
    int64_t *last_rev, int64_t *last_time_ms);

/* A time for --to-time: RFC 3339 with or without milliseconds
 * ("2026-12-01T10:13:08.123Z"), or what cat_time_parse takes (a date, a
 * duration ago); into Unix ms.  LB_E_USAGE when it is none. */
int replay_parse_time(const char *s, int64_t *ms, struct lb_err *err);

/* Unix ms as RFC 3339 UTC with milliseconds, "unknown" for < 0. */
char *replay_format_ms(int64_t ms, char *out, size_t cap);

/* What a replay needs. */
struct replay_opts {
	struct repo *repo;
	const struct age_identity *id;
	const char *cluster;       /* the segments' header must name it */
	const char *cluster_id;    /* hex, or NULL: not checked */
	const char *base_snapshot; /* plaintext snapshot file of base_rev */
	int64_t base_rev;
	int64_t target_rev;        /* >= base_rev */
	const struct replay_segments *segs;
	const char *work_dir;      /* exists; the scratch member lives in it */
	const char *etcd_bin;      /* NULL: etcd on PATH */
	const struct restore_tool *tool;
	const struct etcd_opts *auth; /* user and password of the base's auth, or NULL */
	const char *out_snapshot;  /* the replayed snapshot (mode 0600); NULL: none */
	/* > 0: after the replay and the snapshot, the scratch member is
	 * compacted at this revision (the source's compaction) before its
	 * HashKV, so the hash compares with one the source recorded */
	int64_t compact_rev;
	const volatile sig_atomic_t *cancel;
};

struct replay_result {
	int64_t last_rev;          /* the last revision applied (target_rev on success) */
	int64_t last_time_ms;      /* its wall time, -1 when none was applied */
	uint64_t revisions, events;
	uint64_t leases_base;      /* leases of the base kept alive */
	uint64_t leases_created;   /* re-created with their ids */
	uint64_t leases_default_ttl; /* of those, with REPLAY_UNKNOWN_TTL */
	uint64_t overlap;          /* revisions read twice, found equal, applied once */
	size_t segments_read;
	int fsync_off;             /* 1: --unsafe-no-fsync was given */
	char etcd_version[32];
	uint32_t hashkv;           /* HashKV at last_rev on the scratch member */
	int64_t compact_rev;       /* its compaction revision at the HashKV */
	double seconds, apply_seconds;
};

/* Replays (see the banner).  Every check failure is loud and stops:
 * LB_E_CORRUPT naming the revision for a revision that comes out
 * different, a missing revision, overlapping segments that disagree, a
 * segment of another cluster or that fails its sha256 or format checks.
 * The scratch member is stopped and its data dir removed whatever
 * happens; out_snapshot exists only on success. */
int replay_run(const struct replay_opts *o, struct replay_result *res,
    struct lb_err *err);

/* The last revision with wall time <= t_ms among the segments, from
 * after_rev on: the segment holding t_ms is read.  *rev is after_rev when
 * none is, *rev_time_ms its time (-1: none read). */
int replay_resolve_time(struct repo *r, const struct age_identity *id,
    const struct replay_segments *s, int64_t after_rev, int64_t t_ms,
    int64_t *rev, int64_t *rev_time_ms, struct lb_err *err);

/* The proof for one pair of consecutive complete backups A and B of a
 * cluster (issue 15): B's snapshot fetched and verified, A's replayed up
 * to B's snapshot revision; then the replayed snapshot's live keys and
 * values (snapshot/livehash.h) must equal B's, and where B recorded
 * HashKV at its snapshot revision and the two stores were compacted at
 * the same revision, the scratch member's HashKV must equal it. */
struct replay_proof {
	char a_id[72], b_id[72];
	int64_t a_rev, b_rev;
	uint64_t revisions;
	size_t segments;
	int ok;
	int hashkv_compared;       /* 1: B's recorded HashKV was compared */
	int uncovered;             /* 1: the event log after A does not reach
	                            * B's revision (a gap: B starts a new
	                            * chain), so nothing was replayed */
	char detail[512];
	char **objects;            /* the segments read (for cat_segment_verified) */
	size_t n_objects;
};

struct replay_proof_opts {
	const struct cfg *cfg;
	const char *cluster;
	const char *identity_path; /* NULL: identity-file */
	const char *catalog_path;  /* NULL: catalog */
	const char *backup_b;      /* B's id; NULL: every pair the segments cover */
	/* With backup_b, whether the event log must cover B's pair: 0 (what
	 * `catalog verify B --pitr` asks) it must, a hole fails the proof;
	 * 1 (a drill, proving the window it touches) a pair the event log
	 * does not cover is not in B's window, as it is not without
	 * backup_b: B has nothing to prove (LB_E_NOTFOUND, err says why). */
	int window_only;
	const char *work_dir;      /* NULL: drill-dir */
	int skip_signature;
};

typedef void (*replay_proof_cb)(void *arg, const struct replay_proof *p);

/* Proves the pairs o asks for, calling cb for each; records each in the
 * catalog (cat_segment_verified for the segments read, an audit event
 * "pitr").  Returns 0 when every pair proved, LB_E_CORRUPT when one did
 * not; *pairs how many were tried.  With backup_b, LB_E_NOTFOUND when B
 * has no pair to prove (no earlier complete backup; with window_only,
 * none whose revisions the event log covers up to B's). */
int replay_prove(const struct replay_proof_opts *o, replay_proof_cb cb, void *arg,
    size_t *pairs, struct lb_err *err);

#endif
