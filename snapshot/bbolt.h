/*
 * bbolt.h: a read-only reader of bbolt (BoltDB) databases as etcd writes
 * them; the `lifeboat inspect` command (cmd/inspect.c) is built on it.
 *
 * It computes what `etcdctl snapshot status` prints (revision, total key
 * count, crc32c hash, total size) without etcd, checks etcd's sha256
 * trailer, and refuses a damaged file with a one-line reason instead of
 * crashing.  Pages are read on demand with pread (never the whole file),
 * so memory stays flat whatever the size of the database; every page id,
 * offset and length is checked against the file, each page is visited at
 * most once (a cycle or a shared page is reported as corruption) and the
 * tree depth and bucket nesting are bounded.  Not owned here: writing
 * bbolt, or restoring a snapshot (etcdutl does that).
 */
#ifndef LB_BBOLT_H
#define LB_BBOLT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* etcd's 32-byte sha256 trailer after the database. */
enum {
	BBOLT_TRAILER_ABSENT = 0,  /* size % 512 != 32: a raw member db copy */
	BBOLT_TRAILER_OK = 1,      /* present and equal to sha256(database) */
	BBOLT_TRAILER_BAD = 2      /* present and different: the file is damaged */
};

#define BBOLT_VERSION_LEN 16

/* What bbolt_inspect_* found.  A plain struct of results (no pointers),
 * filled only when the call returns 0. */
struct bbolt_info {
	uint64_t revision;          /* etcd: main revision of the last key of bucket "key" */
	uint64_t compact_revision;  /* etcd: meta/finishedCompactRev, 0 if none */
	uint64_t consistent_index;  /* etcd: meta/consistent_index, 0 if none */
	uint64_t total_keys;        /* etcd's totalKey: entries of every top-level bucket */
	uint64_t db_size;           /* etcd's totalSize: high water mark * page size */
	uint64_t file_size;         /* bytes of the file, trailer included */
	uint64_t txid;              /* bbolt transaction id of the meta page used */
	uint32_t page_size;
	uint32_t hash;              /* etcd's hash: crc32c of bucket names, keys, values */
	int trailer;                /* BBOLT_TRAILER_* */
	/* The version etcd wrote into the database, "" when absent or not a
	 * version: meta/storageVersion (3.6+, "3.6.0": the schema, which
	 * decides which etcd can run it) and cluster/clusterVersion (3.4+,
	 * the cluster's version when the snapshot was taken, the lowest
	 * member's during a rolling upgrade). */
	char storage_version[BBOLT_VERSION_LEN];
	char cluster_version[BBOLT_VERSION_LEN];
	uint8_t sha256[32];         /* sha256 of the database bytes (before any trailer) */
};

/* Reads the bbolt database in the file at path and fills *out.  Returns 0
 * when the database is readable, even if the trailer is BBOLT_TRAILER_BAD
 * (the caller decides; `lifeboat inspect` fails then).  Returns LB_E_IO if
 * the file cannot be read, LB_E_CORRUPT with a message naming the file and
 * the fault if it is not a bbolt database, is truncated or is damaged. */
int bbolt_inspect_file(const char *path, struct bbolt_info *out,
    struct lb_err *err);

/* The same on bytes in memory (the whole file, trailer included); name is
 * used in messages only.  For tests and the fuzzer. */
int bbolt_inspect_buf(const uint8_t *buf, size_t len, const char *name,
    struct bbolt_info *out, struct lb_err *err);

/* Called by bbolt_key_foreach_* for each entry of bucket "key": k is
 * the revision key, v the value (an mvccpb.KeyValue), both valid only
 * during the call.  A negative return (with err set) stops the walk. */
typedef int (*bbolt_key_fn)(void *arg, const uint8_t *k, uint32_t klen,
    const uint8_t *v, uint32_t vlen, struct lb_err *err);

/* Walks the database as bbolt_inspect_* does, with the same checks, and
 * hands every entry of bucket "key" to fn in bucket order (ascending
 * revision).  The sha256 and trailer are not checked (the caller
 * verified the file before), nor etcd's status hash computed.  Returns what bbolt_inspect_* returns, or
 * fn's negative return. */
int bbolt_key_foreach_file(const char *path, bbolt_key_fn fn, void *arg,
    struct lb_err *err);
int bbolt_key_foreach_buf(const uint8_t *buf, size_t len, const char *name,
    bbolt_key_fn fn, void *arg, struct lb_err *err);

/* Short name of a trailer state: "ok", "absent" or "mismatch". */
const char *bbolt_trailer_name(int trailer);

#endif
