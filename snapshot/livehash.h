/*
 * livehash.h: the HashKV an etcd member reports after restoring a
 * snapshot with `etcdutl snapshot restore --bump-revision N
 * --mark-compacted`, computed offline from the snapshot file.
 *
 * After such a restore the backup's own HashKV cannot be asked for (the
 * revisions up to R+N are compacted), but HashKV at R+N is defined: it
 * covers the latest revision of every live key, key and value bytes, so
 * equal values prove the restored keys and values equal the backup's.
 */
#ifndef LB_LIVEHASH_H
#define LB_LIVEHASH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct livehash {
	uint32_t hash;         /* etcd's HashKV at revision bumped */
	int64_t revision;      /* R: the highest main revision in bucket "key" */
	int64_t bumped;        /* R + bump: the revision the hash is at */
	uint64_t live_keys;    /* live keys hashed (the bump's marker not counted) */
	uint64_t entries;      /* entries of bucket "key" read */
};

/* Computes *out for the snapshot at path restored with a revision bump
 * of bump (> 0).  Reads the file twice; memory grows with the number of
 * distinct keys (each key's bytes and its latest revision are kept).
 * Returns LB_E_IO if the file cannot be read, LB_E_CORRUPT naming the
 * file if it is damaged or an entry is not what etcd writes, LB_E_USAGE
 * for bump <= 0. */
int livehash_file(const char *path, int64_t bump, struct livehash *out,
    struct lb_err *err);

/* The same on the bytes of a snapshot in memory; name is for messages. */
int livehash_buf(const uint8_t *buf, size_t len, const char *name,
    int64_t bump, struct livehash *out, struct lb_err *err);

#endif
