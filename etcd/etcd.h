/*
 * etcd.h: a client for the few etcd v3 calls lifeboat needs.
 *
 * One struct etcd_client talks to one member (one endpoint), over one
 * HTTP/2 connection; callers that want every member open one client per
 * member.  Messages are encoded and decoded by hand from etcd's rpc.proto
 * (only the fields used here); unknown fields are skipped.
 */
#ifndef LB_ETCD_H
#define LB_ETCD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "stream/flt.h"

struct grpc_conn;

struct etcd_client;

struct etcd_opts {
	const char *cacert;
	const char *cert;
	const char *key;
	const char *user;          /* NULL: no auth */
	const char *password;      /* secret: never logged, never from argv */
	long connect_timeout_s;
	long stall_timeout_s;
	const volatile sig_atomic_t *cancel;
};

struct etcd_status {
	uint64_t cluster_id;
	uint64_t member_id;
	int64_t revision;          /* of the member's store, at the call */
	uint64_t raft_term;
	uint64_t raft_index;
	uint64_t raft_applied_index;
	uint64_t leader;
	int64_t db_size;
	int64_t db_size_in_use;
	int is_learner;
	char version[32];
};

/* A member list longer than these is refused as malformed: etcd
 * advises at most 7 members, and a member advertises one URL per address
 * it serves, so both are far beyond any real cluster. */
#define ETCD_MEMBERS_MAX 1024
#define ETCD_URLS_MAX 64

struct etcd_member {
	uint64_t id;
	char *name;                /* "" for a member that has not started */
	char **peer_urls;
	size_t n_peer_urls, cap_peer_urls;
	char **client_urls;
	size_t n_client_urls, cap_client_urls;
	int is_learner;
};

struct etcd_members {
	uint64_t cluster_id;
	uint64_t answered_by;      /* member id of the member that answered */
	size_t n, cap;
	struct etcd_member *v;
};

struct etcd_snapshot_info {
	uint64_t bytes;            /* blob bytes received (db + trailer) */
	char version[32];          /* server version if it says (3.5+) */
	int64_t header_revision;   /* revision in the response header, if any */
};

/* Whether the endpoints of one cluster speak TLS: 1 when they are all
 * https://, 0 when they are all plain (http:// or no scheme).  An http
 * endpoint beside an https one, or beside TLS files (tls_files: cacert,
 * cert or key given), is LB_E_CONFIG: the password, the token and the
 * snapshots would cross the network in clear where the configuration
 * asks for TLS. */
int etcd_endpoints_tls(const char *const *endpoints, size_t n, int tls_files,
    struct lb_err *err);

/* The client URL of member m that matches the configured endpoints'
 * transport (tls from etcd_endpoints_tls): with TLS its first https://
 * URL, never an http:// one; without, its first http:// URL, else its
 * first https:// one (no secret can leak over TLS).  NULL with err set
 * (LB_E_TLS, or LB_E_NOTFOUND for a member without client URLs) when it
 * has none that fits. */
const char *etcd_member_url(const struct etcd_member *m, int tls,
    struct lb_err *err);

/* Opens a client to endpoint and, when o->user is set, authenticates
 * (Auth.Authenticate) so later calls carry the token.  The client keeps
 * its own copies of what it needs from o (except o->cancel), so o need
 * not outlive this call. */
int etcd_open(const char *endpoint, const struct etcd_opts *o,
    struct etcd_client **out, struct lb_err *err);

void etcd_close(struct etcd_client *c);

const char *etcd_endpoint(const struct etcd_client *c);

/* Maintenance.Status of the member this client talks to. */
int etcd_status(struct etcd_client *c, struct etcd_status *st,
    struct lb_err *err);

/* Cluster.MemberList; *out is freed with etcd_members_free. */
int etcd_member_list(struct etcd_client *c, struct etcd_members **out,
    struct lb_err *err);
void etcd_members_free(struct etcd_members *m);

/* Maintenance.Snapshot: streams the member's snapshot (the bbolt database
 * followed by etcd's sha256 trailer) into dest with flt_write.  dest is
 * not finished here: the caller finishes it only if this returns 0, so a
 * stream cut short never commits a file. */
int etcd_snapshot(struct etcd_client *c, struct flt *dest,
    struct etcd_snapshot_info *info, struct lb_err *err);

/* Maintenance.HashKV at revision rev (0: the latest). */
int etcd_hashkv(struct etcd_client *c, int64_t rev, uint32_t *hash,
    int64_t *compact_rev, int64_t *header_rev, struct lb_err *err);

/* The gRPC connection under c, for modules that add calls of their own
 * (cluster administration, locks) without growing this file. */
struct grpc_conn *etcd_conn(struct etcd_client *c);

/* Decoders of response messages, exposed for the unit tests and the
 * fuzzer; -1 on a malformed message. */
int etcd_decode_status(const uint8_t *buf, size_t len, struct etcd_status *st);
int etcd_decode_members(const uint8_t *buf, size_t len,
    struct etcd_members **out);

/* Formats a member or cluster id the way etcdctl prints it (hex). */
void etcd_id_str(uint64_t id, char out[17]);

#endif
