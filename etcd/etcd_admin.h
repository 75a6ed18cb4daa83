/*
 * etcd_admin.h: cluster administration calls that restore needs and the
 * backup path does not: adding and removing members, and counting keys.
 * Built on the connection of an etcd_client (etcd_conn), so etcd/etcd.c
 * stays the small read-only client the daemon uses.
 */
#ifndef LB_ETCD_ADMIN_H
#define LB_ETCD_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "etcd/etcd.h"

/* Cluster.MemberAdd of a member with the given peer URLs (1..8), a
 * voting one or, with learner, a learner (etcd 3.4+): it receives the
 * log but does not vote until promoted, so a new member that is slow to
 * catch up never costs the cluster its quorum.  *id is the new member's
 * id.  The member does not run yet: the caller starts it with
 * initial-cluster-state=existing, or removes it again. */
int etcd_admin_member_add(struct etcd_client *c, const char *const *peer_urls,
    size_t n, int learner, uint64_t *id, struct lb_err *err);

/* Cluster.MemberPromote of learner id to a voting member.  etcd refuses
 * it ("can only promote a learner member which is in sync with leader")
 * until the learner has most of the leader's log: the caller retries. */
int etcd_admin_member_promote(struct etcd_client *c, uint64_t id,
    struct lb_err *err);

/* Cluster.MemberRemove of member id. */
int etcd_admin_member_remove(struct etcd_client *c, uint64_t id,
    struct lb_err *err);

/* KV.Range with count_only over the whole keyspace at revision rev (0:
 * the latest); serializable = 1 answers from this member's own store
 * without a round through the leader, which is what a per-member check
 * wants.  *count is the number of keys, *header_rev the revision the
 * member answered at. */
int etcd_admin_count(struct etcd_client *c, int64_t rev, int serializable,
    int64_t *count, int64_t *header_rev, struct lb_err *err);

/* KV.Compact at revision rev, physical (the answer comes once the old
 * revisions are gone from the store): for a scratch member whose HashKV
 * must be compared with one taken where the store was compacted at rev.
 * A rev at or below the member's compaction is LB_E_REMOTE. */
int etcd_admin_compact(struct etcd_client *c, int64_t rev, struct lb_err *err);

/* Called with each key of etcd_admin_keys (not NUL-terminated; valid
 * during the call); a non-zero return stops the walk and is returned. */
typedef int (*etcd_admin_key_fn)(void *arg, const uint8_t *key, size_t len);

/* Every key under prefix (keys only, serializable, sorted), in Ranges of
 * at most page keys (1..1000), all at one revision: rev when > 0, else
 * the one the first page answered at, so a write in between changes no
 * page.  Memory holds one page, never the keyspace.  *header_rev (may be
 * NULL) gets the revision walked. */
int etcd_admin_keys(struct etcd_client *c, const char *prefix, int64_t rev,
    size_t page, etcd_admin_key_fn cb, void *arg, int64_t *header_rev,
    struct lb_err *err);

/* Decoders, exposed for the unit test; -1 on a malformed message.
 * etcd_admin_decode_keys calls cb for each kvs[].key, and gives the
 * response's more flag, header revision and number of keys. */
int etcd_admin_decode_keys(const uint8_t *buf, size_t len, etcd_admin_key_fn cb,
    void *arg, int *more, int64_t *header_rev, size_t *n, int *cb_r);
int etcd_admin_decode_add(const uint8_t *buf, size_t len, uint64_t *id);
int etcd_admin_decode_range(const uint8_t *buf, size_t len, int64_t *count,
    int64_t *header_rev);

#endif
