/*
 * etcd_lock.h: etcd leases and a lease-backed lock key, the calls the
 * daemon needs to elect one runner per cluster (snapd/lock.h).  Built on
 * etcd_conn() and grpc_unary; messages follow etcd's rpc.proto (Lease
 * and KV.Txn), only the fields used here.
 */
#ifndef LB_ETCD_LOCK_H
#define LB_ETCD_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "etcd/etcd.h"

/* Lease.LeaseGrant: a new lease of ttl seconds; *id and *granted (the TTL
 * the server chose, which may be longer than asked). */
int etcd_lease_grant(struct etcd_client *c, int64_t ttl, int64_t *id,
    int64_t *granted, struct lb_err *err);

/* Lease.LeaseRevoke: ends the lease and deletes the keys attached to it.
 * A lease that no longer exists is LB_E_NOTFOUND. */
int etcd_lease_revoke(struct etcd_client *c, int64_t id, struct lb_err *err);

/* Lease.LeaseKeepAlive with one request (the stream is closed after the
 * answer): renews the lease; *ttl is its new TTL, 0 (with LB_E_NOTFOUND)
 * when the lease has expired or was revoked.  *revision (NULL: not
 * wanted) is the answering member's store revision, from the response
 * header: the daemon's free sample of the cluster's revision between
 * backups. */
int etcd_lease_keepalive(struct etcd_client *c, int64_t id, int64_t *ttl,
    int64_t *revision, struct lb_err *err);

/* KV.Txn: if key does not exist (create revision 0), puts value with the
 * lease attached; *created says whether it did.  When it did not, the same
 * Txn reads the key, and holder (NULL: not wanted; cap bytes) gets its
 * value, the holder's owner string: at most cap - 1 bytes, printable
 * ASCII (others become '?'), "" when unknown or created.  A user without
 * write access to key gets LB_E_AUTH. */
int etcd_key_create(struct etcd_client *c, const char *key, const char *value,
    int64_t lease, int *created, char *holder, size_t cap, struct lb_err *err);

/* KV.Txn comparing the lease of key: *held is 1 when key exists and is
 * attached to lease. */
int etcd_key_has_lease(struct etcd_client *c, const char *key, int64_t lease,
    int *held, struct lb_err *err);

/* The value of the first key of the range answer in a TxnResponse
 * (responses -> response_range -> kvs -> value) into out (cap bytes), cut
 * and made printable as etcd_key_create's holder; "" when there is none.
 * -1 on a malformed message.  Exposed for the unit tests. */
int etcd_decode_txn_value(const uint8_t *buf, size_t len, char *out, size_t cap);

#endif
