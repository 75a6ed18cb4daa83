/*
 * etcd_watch.h: a watch on the whole keyspace, delivered one revision
 * (one etcd transaction) at a time, and the calls that replay such
 * revisions into another etcd: one Txn per revision, leases re-created
 * with their ids.  The capture and the replay of point-in-time recovery
 * (issue 15) are built on these.  Messages follow etcd's rpc.proto and
 * mvccpb/kv.proto, only the fields used here; built on etcd_conn().
 */
#ifndef LB_ETCD_WATCH_H
#define LB_ETCD_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "etcd/etcd.h"

enum { ETCD_EV_PUT = 0, ETCD_EV_DELETE = 1 };   /* mvccpb.Event.EventType */

/* One event; the pointers point into the response and live only during
 * the callback that receives it. */
struct etcd_kv_event {
	int type;
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;       /* PUT only (DELETE: NULL, 0) */
	size_t value_len;
	/* a DELETE's mod_revision is the revision of the deletion, the rest 0 */
	int64_t create_revision, mod_revision, version, lease;
};

struct etcd_watch_cb {
	/* Every event of one revision, in etcd's order, after fragments are
	 * joined.  <0 aborts the watch with that code (err set). */
	int (*on_revision)(void *arg, int64_t rev, const struct etcd_kv_event *ev,
	    size_t n, struct lb_err *err);
	/* Every revision <= rev has been delivered: a progress notification,
	 * and the created response as start_rev - 1 (the created response's
	 * own header revision may be past revisions still to come when
	 * start_rev is in the past).  May be NULL. */
	int (*on_progress)(void *arg, int64_t rev, struct lb_err *err);
	/* About once a second whether or not anything arrives.  <0 aborts;
	 * 1 stops the watch (etcd_watch then returns 0).  May be NULL. */
	int (*on_tick)(void *arg, struct lb_err *err);
	void *arg;
	/* A fragment of revision rev arrived, kept bytes of it so far: the
	 * stream is alive though the revision is not complete yet (a large
	 * one takes many fragments).  May be NULL. */
	void (*on_fragment)(void *arg, int64_t rev, size_t kept);
};

/* The most bytes of one revision's events (a transaction of many values
 * near etcd's request limit, a range delete of many keys) plus the
 * fragment that carries them on: beyond it, LB_E_TOOBIG.  The same as an
 * event-log record's limit. */
#define ETCD_WATCH_JOIN_MAX (64u * 1024 * 1024)

/* Watches the whole keyspace ("\0".."\0") from start_rev (> 0) with
 * progress_notify and fragment set; blocks until a callback stops or
 * fails it, the cancel flag of the client's options is set
 * (LB_E_CANCELED), the connection fails (LB_E_NET...), or etcd cancels
 * the watch: for a start_rev below etcd's compaction LB_E_COMPACTED with
 * *compact_rev (NULL: not wanted) set to etcd's compact_revision, the
 * oldest revision it can still send; for any other cancel LB_E_REMOTE
 * with etcd's reason; one revision whose events pass
 * ETCD_WATCH_JOIN_MAX is LB_E_TOOBIG (every member would send the same).
 * Revisions arrive in increasing order, each at
 * most once; one that does not (an etcd bug) is LB_E_PROTO.  No stall
 * timeout: an idle cluster sends nothing but progress notifications, at
 * etcd's --experimental-watch-progress-notify-interval (10 min by
 * default); liveness is the caller's (on_tick).  One response message is
 * at most GRPC_MSG_MAX, which holds for any source member whose
 * --max-request-bytes is below 16 MiB (etcd fragments by that limit). */
int etcd_watch(struct etcd_client *c, int64_t start_rev,
    const struct etcd_watch_cb *cb, int64_t *compact_rev, struct lb_err *err);

/* The decoding half of etcd_watch, exposed for the unit tests and the
 * fuzzer: feed it WatchResponse messages one by one; it joins fragments
 * and calls cb as etcd_watch does.  Feed returns 0, a callback's code,
 * LB_E_PROTO for a malformed or out-of-order message, LB_E_COMPACTED
 * (etcd_watch_dec_compact_rev tells the revision) or LB_E_REMOTE for a
 * canceled watch. */
struct etcd_watch_dec;
int etcd_watch_dec_new(int64_t start_rev, const struct etcd_watch_cb *cb,
    struct etcd_watch_dec **out, struct lb_err *err);
int etcd_watch_dec_feed(struct etcd_watch_dec *d, const uint8_t *msg,
    size_t len, struct lb_err *err);
int64_t etcd_watch_dec_compact_rev(const struct etcd_watch_dec *d);
void etcd_watch_dec_free(struct etcd_watch_dec *d);

/* One KV.Txn without compares whose success ops are ev[0..n) in order
 * (PUT: Put key value lease; DELETE: DeleteRange key), so one revision
 * of the source becomes exactly one revision here; *rev is the header
 * revision of the response.  Requests of any size up to GRPC_REQ_MAX
 * (80 MiB) are built in memory; the member must accept them: its
 * --max-request-bytes (1.5 MiB by default) and --max-txn-ops (128 by
 * default) are the limits that matter. */
int etcd_txn_apply(struct etcd_client *c, const struct etcd_kv_event *ev,
    size_t n, int64_t *rev, struct lb_err *err);

/* The TxnRequest etcd_txn_apply sends, into *out (malloc'd, *len bytes).
 * Exposed for the unit tests. */
int etcd_txn_encode(const struct etcd_kv_event *ev, size_t n, uint8_t **out,
    size_t *len, struct lb_err *err);

/* Lease.LeaseGrant of lease id with ttl seconds; LB_E_EXISTS when a
 * lease with that id exists. */
int etcd_lease_grant_id(struct etcd_client *c, int64_t id, int64_t ttl,
    struct lb_err *err);

/* Lease.LeaseTimeToLive: the TTL the lease was granted and the seconds
 * it has left; LB_E_NOTFOUND when it has expired or never existed. */
int etcd_lease_ttl(struct etcd_client *c, int64_t id, int64_t *granted,
    int64_t *remaining, struct lb_err *err);

/* Lease.LeaseLeases: every lease id, in *ids (malloc'd; NULL when there
 * are none), *n of them. */
int etcd_lease_list(struct etcd_client *c, int64_t **ids, size_t *n,
    struct lb_err *err);

#endif
