/*
 * livehash_test.c: the live-keys hash (snapshot/livehash.h) on a bbolt
 * database built here page by page (overwrites, a tombstone, a marker of
 * an earlier bump), on damaged entries, and on a real etcd 3.4 snapshot
 * whose value etcd 3.5 gave: restored with `etcdutl snapshot restore
 * --bump-revision 1000 --mark-compacted`, `etcdctl endpoint hashkv --rev
 * 1005` printed 4091983411.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "snapshot/livehash.h"
#include "bbolt_build.h"

#define PS 512
#define NPAGES 5
#define NOFL UINT64_MAX

static uint8_t db[NPAGES * PS];

struct ent {
	uint64_t main, sub;
	int tomb;
	const char *key;         /* NULL: an empty value (a bump's marker) */
	const char *val;
	int live;                /* in the expected hash */
};

/* An mvccpb.KeyValue: key (1), create_revision (2), mod_revision (3),
 * version (4), value (5).  Returns its length. */
static uint32_t
kv(uint8_t *out, const struct ent *e)
{
	uint32_t n = 0, kl, vl;

	if (e->key == NULL)
		return 0;
	kl = (uint32_t)strlen(e->key);
	out[n++] = 0x0a;
	out[n++] = (uint8_t)kl;
	memcpy(out + n, e->key, kl);
	n += kl;
	if (e->tomb)
		return n;
	out[n++] = 0x10; out[n++] = 1;
	out[n++] = 0x18; out[n++] = (uint8_t)e->main;
	out[n++] = 0x20; out[n++] = 1;
	vl = (uint32_t)strlen(e->val);
	out[n++] = 0x2a;
	out[n++] = (uint8_t)vl;
	memcpy(out + n, e->val, vl);
	return n + vl;
}

/* Pages 0,1 meta; 2 root leaf with bucket "key" (page 3); 3 its leaf.
 * Returns the hash expected with a bump of bump. */
static uint32_t
build(const struct ent *es, int n, uint64_t bump)
{
	uint8_t k[18], v[128], b3[16] = { 0 };
	struct bb_page l;
	uint64_t top = 0;
	uint32_t h, vl;
	int i;

	memset(db, 0, sizeof(db));
	bb_meta(db, PS, 0, 2, NOFL, NPAGES, 10);
	bb_meta(db, PS, 1, 2, NOFL, NPAGES, 9);
	bb_put64(b3, 3);
	bb_page_begin(&l, db + 2 * PS, 2, BB_LEAF, 1, 0);
	bb_leaf_add(&l, 1, "key", 3, b3, 16);
	h = bb_crc32c(0, "key", 3);
	bb_page_begin(&l, db + 3 * PS, 3, BB_LEAF, (uint16_t)n, 0);
	for (i = 0; i < n; i++) {
		bb_revkey(k, es[i].main, es[i].sub, es[i].tomb);
		vl = kv(v, &es[i]);
		bb_leaf_add(&l, 0, k, es[i].tomb ? 18 : 17, v, vl);
		if (es[i].live) {
			h = bb_crc32c(h, k, es[i].tomb ? 18 : 17);
			h = bb_crc32c(h, v, vl);
		}
		top = es[i].main;
	}
	bb_revkey(k, top + bump, 0, 0);
	return bb_crc32c(h, k, 17);
}

static int
run(uint64_t bump, struct livehash *lh, struct lb_err *err)
{
	lb_err_clear(err);
	return livehash_buf(db, sizeof(db), "t.db", (int64_t)bump, lh, err);
}

/* put a, put b, put a and c in one txn, del b, a marker of an earlier
 * bump, put d, del c: live are a@3.0 and d@6.0, then the new marker. */
static void
test_live_keys(void)
{
	const struct ent es[] = {
		{ 1, 0, 0, "a", "1", 0 },
		{ 2, 0, 0, "b", "2", 0 },
		{ 3, 0, 0, "a", "3", 1 },
		{ 3, 1, 0, "c", "c", 0 },
		{ 4, 0, 1, "b", NULL, 0 },
		{ 5, 0, 0, NULL, NULL, 0 },
		{ 6, 0, 0, "d", "6", 1 },
		{ 7, 0, 1, "c", NULL, 0 },
	};
	struct livehash lh;
	struct lb_err err;
	uint32_t want = build(es, 8, 1000);

	CHECK_OK(run(1000, &lh, &err), &err);
	CHECK_INT(lh.hash, ==, want);
	CHECK_INT(lh.revision, ==, 7);
	CHECK_INT(lh.bumped, ==, 1007);
	CHECK_INT(lh.live_keys, ==, 2);
	CHECK_INT(lh.entries, ==, 8);
	CHECK_OK(run(1, &lh, &err), &err);
	CHECK_INT(lh.hash, ==, build(es, 8, 1));
}

static void
test_empty_bucket(void)
{
	struct livehash lh;
	struct lb_err err;
	uint32_t want = build(NULL, 0, 5);

	CHECK_OK(run(5, &lh, &err), &err);
	CHECK_INT(lh.hash, ==, want);
	CHECK_INT(lh.bumped, ==, 5);
	CHECK_INT(lh.live_keys, ==, 0);
}

static void
test_damaged_entries(void)
{
	const struct ent es[] = { { 1, 0, 0, "a", "1", 1 }, { 2, 0, 0, "b", "2", 1 } };
	struct livehash lh;
	struct lb_err err;
	uint8_t *v;

	/* a value that is not protobuf: a length past its end */
	build(es, 2, 1);
	v = db + 3 * PS + 16 + 2 * 16 + 17;
	v[1] = 0x7f;
	CHECK_INT(run(1, &lh, &err), ==, LB_E_CORRUPT);
	CHECK_STR(err.msg, "t.db: damaged etcd database: a value in bucket 'key' "
	    "is not an mvccpb.KeyValue");
	/* a wire type protobuf does not have */
	build(es, 2, 1);
	v[0] = 0x0f;
	CHECK_INT(run(1, &lh, &err), ==, LB_E_CORRUPT);
	/* a revision key of the wrong length */
	build(es, 2, 1);
	bb_put32(db + 3 * PS + 16 + 8, 16);
	CHECK_INT(run(1, &lh, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "revision key of 16 bytes");
	/* no bump, a bump past int64 */
	build(es, 2, 1);
	CHECK_INT(run(0, &lh, &err), ==, LB_E_USAGE);
	CHECK_INT(run((uint64_t)INT64_MAX, &lh, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "cannot be bumped");
	/* the walk's own checks: a truncated file */
	lb_err_clear(&err);
	CHECK_INT(livehash_buf(db, 3 * PS, "t.db", 1, &lh, &err), ==, LB_E_CORRUPT);
}

static void
test_real_etcd_snapshot(void)
{
	struct livehash lh;
	struct lb_err err;

	lb_err_clear(&err);
	CHECK_OK(livehash_file("tests/fuzz/corpus/bbolt/etcd34-tiny.db", 1000, &lh,
	    &err), &err);
	CHECK_INT(lh.hash, ==, 4091983411u);
	CHECK_INT(lh.revision, ==, 5);
	CHECK_INT(lh.bumped, ==, 1005);
	CHECK_INT(lh.live_keys, ==, 1);
	lb_err_clear(&err);
	CHECK_INT(livehash_file("tests/fuzz/corpus/bbolt/no-such.db", 1, &lh, &err),
	    ==, LB_E_NOTFOUND);
}

int
main(void)
{
	RUN(test_live_keys);
	RUN(test_empty_bucket);
	RUN(test_damaged_entries);
	RUN(test_real_etcd_snapshot);
	return TH_DONE();
}
