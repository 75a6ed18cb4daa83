/*
 * livehash.c: etcd's HashKV after a restore with a revision bump
 * (livehash.h), from the snapshot file.
 *
 * What etcd does (server/storage/mvcc in 3.5, 3.6 and 3.7):
 * etcdutl's modifyLatestRevision puts an empty value under revision key
 * (R+N, 0) in bucket "key", R being the highest revision there, and
 * schedules a compaction at R+N; the server finishes it at start.
 * HashKV at R+N hashes, with crc32c seeded with the bucket name "key",
 * key bytes then value bytes of the entries of bucket "key" in bucket
 * order that are in the index's keep set at R+N (kvHasher.WriteKeyValue,
 * keyIndex.keep): for every key whose last generation is not empty, its
 * latest revision.  A key whose latest entry is a tombstone has an empty
 * last generation and drops out.  The marker decodes as the key "" (the
 * empty mvccpb.KeyValue), so it is kept as that key's latest revision and
 * hashed last (17 key bytes, no value bytes); a marker an earlier bump
 * left in the snapshot is that same key's older revision and drops out.
 *
 * Two walks of the file: the first finds each key's latest revision,
 * the second hashes the entries that are one.  Memory: a hash table of
 * the distinct keys with a copy of their bytes, so proportional to the
 * keyspace's keys (not to its values or history).
 */
#include "snapshot/livehash.h"
#include "snapshot/bbolt.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/pb.h"

#include <stdlib.h>
#include <string.h>

#define REV_LEN    17u      /* main u64 BE, '_', sub u64 BE */
#define TOMB_LEN   18u      /* and 't' */

struct slot {
	uint64_t h;             /* 0: empty */
	size_t off;             /* the key's bytes in the arena */
	uint32_t len;
	int64_t main, sub;
	int tomb;
};

struct lh {
	const char *name;
	struct slot *t;
	size_t cap, used;       /* cap: a power of 2 */
	uint8_t *arena;
	size_t arena_len, arena_cap;
	int64_t max_main, max_sub;
	int pass;               /* 1: find latest revisions, 2: hash */
	uint32_t crc;           /* running (common/crc32c.h) */
	uint64_t live, entries;
};

static uint64_t
key_hash(const uint8_t *k, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t i;

	for (i = 0; i < n; i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	return h | 1;           /* 0 marks an empty slot */
}

/* Field 1 (key, bytes) of the mvccpb.KeyValue in v; the whole message is
 * walked with common/pb.h's reader, so it must be well-formed protobuf.
 * The empty message gives "". */
static int
kv_key(const struct lh *s, const uint8_t *v, uint32_t n, const uint8_t **key,
    uint32_t *klen, struct lb_err *err)
{
	struct pb_reader rd;
	struct pb_field f;
	int r;

	*key = v;
	*klen = 0;
	pb_reader_init(&rd, v, n);
	while ((r = pb_next(&rd, &f)) > 0) {
		if (f.num == 1 && f.wire == PB_BYTES) {
			*key = f.data;
			*klen = (uint32_t)f.len;
		}
	}
	if (r == 0)
		return 0;
	return lb_err_set(err, LB_E_CORRUPT, "%s: damaged etcd database: a value "
	    "in bucket 'key' is not an mvccpb.KeyValue", s->name);
}

static struct slot *
find(struct lh *s, const uint8_t *k, uint32_t n, uint64_t h)
{
	size_t i = (size_t)h & (s->cap - 1);

	for (;; i = (i + 1) & (s->cap - 1)) {
		struct slot *e = &s->t[i];
		if (e->h == 0 || (e->h == h && e->len == n &&
		    memcmp(s->arena + e->off, k, n) == 0))
			return e;
	}
}

static int
grow(struct lh *s, struct lb_err *err)
{
	struct slot *old = s->t, *e;
	size_t i, n = s->cap, cap = n ? n * 2 : 1024;

	if ((s->t = calloc(cap, sizeof(*s->t))) == NULL) {
		s->t = old;
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	s->cap = cap;
	for (i = 0; i < n; i++) {
		if (old[i].h == 0)
			continue;
		for (e = &s->t[(size_t)old[i].h & (cap - 1)]; e->h != 0;
		    e = &s->t[(size_t)(e - s->t + 1) & (cap - 1)])
			;
		*e = old[i];
	}
	free(old);
	return 0;
}

/* Records that key k has revision (main, sub) (a tombstone if tomb),
 * keeping the highest. */
static int
note(struct lh *s, const uint8_t *k, uint32_t n, int64_t main, int64_t sub,
    int tomb, struct lb_err *err)
{
	uint64_t h = key_hash(k, n);
	struct slot *e;
	uint8_t *a;
	size_t cap;
	int r;

	if ((s->used + 1) * 4 > s->cap * 3 && (r = grow(s, err)) < 0)
		return r;
	e = find(s, k, n, h);
	if (e->h == 0) {
		if (n > s->arena_cap - s->arena_len) {
			cap = s->arena_cap ? s->arena_cap : 65536;
			while (n > cap - s->arena_len)
				cap *= 2;
			if ((a = realloc(s->arena, cap)) == NULL)
				return lb_err_set(err, LB_E_NOMEM, "out of memory");
			s->arena = a;
			s->arena_cap = cap;
		}
		if (n > 0)
			memcpy(s->arena + s->arena_len, k, n);
		e->h = h;
		e->off = s->arena_len;
		e->len = n;
		s->arena_len += n;
		s->used++;
	} else if (main < e->main || (main == e->main && sub < e->sub))
		return 0;
	e->main = main;
	e->sub = sub;
	e->tomb = tomb;
	return 0;
}

static int
entry(void *arg, const uint8_t *k, uint32_t klen, const uint8_t *v,
    uint32_t vlen, struct lb_err *err)
{
	struct lh *s = arg;
	const uint8_t *key;
	struct slot *e;
	uint32_t n;
	int64_t main, sub;
	int tomb, r;

	if (klen != REV_LEN && klen != TOMB_LEN)
		return lb_err_set(err, LB_E_CORRUPT, "%s: damaged etcd database: a "
		    "revision key of %u bytes in bucket 'key'", s->name, klen);
	main = (int64_t)be64(k);
	sub = (int64_t)be64(k + 9);
	tomb = klen == TOMB_LEN && k[REV_LEN] == 't';
	if ((r = kv_key(s, v, vlen, &key, &n, err)) < 0)
		return r;
	if (s->pass == 2) {
		e = find(s, key, n, key_hash(key, n));
		if (e->h != 0 && !e->tomb && e->main == main && e->sub == sub) {
			s->crc = lb_crc32c_update(s->crc, k, klen);
			s->crc = lb_crc32c_update(s->crc, v, vlen);
			s->live++;
		}
		return 0;
	}
	s->entries++;
	if (s->entries == 1 || main > s->max_main ||
	    (main == s->max_main && sub > s->max_sub)) {
		s->max_main = main;
		s->max_sub = sub;
	}
	return note(s, key, n, main, sub, tomb, err);
}

/* Between the walks: the bump's marker becomes key ""'s latest revision
 * (an older marker then drops out), and its revision key is made. */
static int
marker(struct lh *s, int64_t bump, uint8_t mk[REV_LEN], struct livehash *out,
    struct lb_err *err)
{
	uint64_t m;
	int i;

	if (s->max_main < 0 || bump > INT64_MAX - s->max_main)
		return lb_err_set(err, LB_E_CORRUPT, "%s: damaged etcd database: "
		    "revision %lld cannot be bumped by %lld", s->name,
		    (long long)s->max_main, (long long)bump);
	out->revision = s->max_main;
	out->bumped = s->max_main + bump;
	m = (uint64_t)out->bumped;
	for (i = 0; i < 8; i++) {
		mk[i] = (uint8_t)(m >> (56 - 8 * i));
		mk[9 + i] = 0;
	}
	mk[8] = '_';
	return note(s, (const uint8_t *)"", 0, out->bumped, 0, 0, err);
}

static int
run(const char *path, const uint8_t *buf, size_t len, const char *name,
    int64_t bump, struct livehash *out, struct lb_err *err)
{
	struct lh *s = NULL;
	uint8_t mk[REV_LEN];
	int r;

	memset(out, 0, sizeof(*out));
	if (bump <= 0)
		return lb_err_set(err, LB_E_USAGE, "live hash: the bump must be "
		    "positive, not %lld", (long long)bump);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	s->name = name;
	if ((r = grow(s, err)) < 0)
		goto out;
	for (s->pass = 1; s->pass <= 2; s->pass++) {
		if (s->pass == 2) {
			if ((r = marker(s, bump, mk, out, err)) < 0)
				goto out;
			s->crc = LB_CRC32C_INIT;
			s->crc = lb_crc32c_update(s->crc, "key", 3);
		}
		r = path != NULL ? bbolt_key_foreach_file(path, entry, s, err) :
		    bbolt_key_foreach_buf(buf, len, name, entry, s, err);
		if (r < 0)
			goto out;
	}
	s->crc = lb_crc32c_update(s->crc, mk, REV_LEN);
	out->hash = lb_crc32c_final(s->crc);
	out->live_keys = s->live;
	out->entries = s->entries;
out:
	if (s != NULL) {
		free(s->t);
		free(s->arena);
		free(s);
	}
	return r;
}

int
livehash_file(const char *path, int64_t bump, struct livehash *out,
    struct lb_err *err)
{
	return run(path, NULL, 0, path, bump, out, err);
}

int
livehash_buf(const uint8_t *buf, size_t len, const char *name, int64_t bump,
    struct livehash *out, struct lb_err *err)
{
	return run(NULL, buf, len, name, bump, out, err);
}
