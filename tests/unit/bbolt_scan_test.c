/*
 * bbolt_scan_test.c: the streaming revision scan on crafted bbolt
 * databases, each fed in many split sizes (the result must not depend on
 * them): freed pages with higher revisions, inline and empty "key"
 * buckets, a root bucket split over a branch, leaves whose last key lies
 * in overflow pages past the window, a freed span whose overflow covers
 * live pages, damaged meta pages, truncation, garbage, and more freed
 * high-revision leaves than the scan keeps (unknown, not wrong).  Also
 * the real etcd 3.4 snapshot of the bbolt corpus.
 */
#include "harness.h"

#include "snapshot/bbolt.h"
#include "snapshot/bbolt_scan.h"
#include "stream/flt.h"

#include "bbolt_build.h"

static const size_t splits[] = { 1, 7, 512, 4093, 4096, 65537, 1 << 20 };
#define NSPLITS (sizeof(splits) / sizeof(splits[0]))

struct db {
	uint8_t *b;
	size_t ps, npages, len;
};

static void
db_init(struct db *d, size_t ps, size_t npages)
{
	d->ps = ps;
	d->npages = npages;
	d->len = ps * npages;
	d->b = calloc(1, d->len + 32);
}

static uint8_t *
pg(struct db *d, uint64_t id)
{
	return d->b + id * d->ps;
}

/* Both meta pages as Tx.WriteTo writes them (meta 1 has txid - 1), with
 * no freelist, as etcd 3.4. */
static void
metas(struct db *d, uint64_t root, uint64_t txid)
{
	bb_meta(d->b, d->ps, 0, root, UINT64_MAX, d->npages, txid);
	bb_meta(d->b, d->ps, 1, root, UINT64_MAX, d->npages, txid - 1);
}

/* An etcd revision key; its first 17 bytes, or all 18 for a tombstone. */
static void
revkey(uint8_t k[18], uint64_t main_rev)
{
	bb_revkey(k, main_rev, 0, 1);
}

/* A bucket value pointing at page root. */
static void
bucket_val(uint8_t v[16], uint64_t root)
{
	bb_put64(v, root);
	bb_put64(v + 8, 0);
}

/* A leaf of bucket "key" with revisions first..last (one key each). */
static void
key_leaf(struct db *d, uint64_t id, uint64_t first, uint64_t last)
{
	struct bb_page b;
	uint8_t k[18];
	uint64_t r;

	bb_page_begin(&b, pg(d, id), id, BB_LEAF, (uint16_t)(last - first + 1), 0);
	for (r = first; r <= last; r++) {
		revkey(k, r);
		bb_leaf_add(&b, 0, k, 17, "v", 1);
	}
}

/* The root bucket in one leaf: "key" -> key_root, "meta", and an auth
 * users bucket whose own leaf (page users) holds revision-shaped names. */
static void
root_leaf(struct db *d, uint64_t id, uint64_t key_root)
{
	struct bb_page b;
	uint8_t v[16];

	bb_page_begin(&b, pg(d, id), id, BB_LEAF, 2, 0);
	bucket_val(v, key_root);
	bb_leaf_add(&b, 1, "key", 3, v, 16);
	bucket_val(v, 0);
	/* An empty inline bucket: header then an empty leaf page. */
	{
		uint8_t iv[32] = { 0 };

		bb_hdr(iv + 16, 0, BB_LEAF, 0, 0);
		bb_leaf_add(&b, 1, "meta", 4, iv, 32);
	}
}

static int
scan(const uint8_t *buf, size_t len, size_t split, struct bbolt_scan *out)
{
	struct lb_err err;
	struct flt *sink, *f;
	size_t off, n;
	int rc = 0;

	lb_err_clear(&err);
	sink = flt_mem_new(len + 1);
	f = flt_bbolt_scan_new(sink);
	if (f == NULL)
		return -1;
	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < split ? len - off : split;
		rc = flt_write(f, buf + off, n, &err);
	}
	if (rc == 0)
		rc = flt_finish(f, &err);
	if (rc == 0) {
		size_t got;
		const uint8_t *d = flt_mem_data(sink, &got);

		/* An observer: the bytes reach the sink untouched. */
		if (got != len || (len > 0 && memcmp(d, buf, len) != 0))
			rc = -1;
	}
	if (rc == 0)
		rc = flt_bbolt_scan_result(f, out, &err);
	flt_free(f);
	return rc;
}

/* Scans with every split; all results must be equal.  Returns the first. */
static int
scan_all(const uint8_t *buf, size_t len, struct bbolt_scan *out)
{
	struct bbolt_scan r;
	size_t i;

	for (i = 0; i < NSPLITS; i++) {
		if (scan(buf, len, splits[i], i == 0 ? out : &r) < 0)
			return -1;
		if (i > 0 && (r.is_bbolt != out->is_bbolt ||
		    r.revision_known != out->revision_known ||
		    r.revision != out->revision ||
		    r.revision_max_seen != out->revision_max_seen ||
		    r.txid != out->txid || r.page_size != out->page_size ||
		    strcmp(r.why, out->why) != 0)) {
			printf("# split %zu differs: rev %llu/%llu why '%s'/'%s'\n",
			    splits[i], (unsigned long long)r.revision,
			    (unsigned long long)out->revision, r.why, out->why);
			return -2;
		}
	}
	return 0;
}

/* root leaf 2 -> key branch 3 -> leaves 4 (1..20), 6 (21..40); freed
 * leaf 5 holds 41..99 (a page compaction or a later commit rewrote). */
static void
build_basic(struct db *d)
{
	struct bb_page b;
	uint8_t k[18];

	db_init(d, 4096, 8);
	metas(d, 2, 50);
	root_leaf(d, 2, 3);
	bb_page_begin(&b, pg(d, 3), 3, BB_BRANCH, 2, 0);
	revkey(k, 1);
	bb_branch_add(&b, k, 17, 4);
	revkey(k, 21);
	bb_branch_add(&b, k, 17, 6);
	key_leaf(d, 4, 1, 20);
	key_leaf(d, 5, 41, 99);
	key_leaf(d, 6, 21, 40);
	/* Page 7: the auth users bucket's leaf, names shaped like revisions. */
	bb_page_begin(&b, pg(d, 7), 7, BB_LEAF, 2, 0);
	bb_leaf_add(&b, 0, "abcdefgh_ijklmnop", 17, "u", 1);
	memcpy(k, "\0\0\x01\0\0\0\0\0_\0\0\0\x01\0\0\0\0", 17);
	bb_leaf_add(&b, 0, k, 17, "u", 1);
}

static void
test_freed_page_with_higher_revision_is_ignored(void)
{
	struct bbolt_scan r;
	struct db d;

	build_basic(&d);
	CHECK_INT(scan_all(d.b, d.len + 32, &r), ==, 0);
	CHECK(r.is_bbolt);
	CHECK(r.revision_known);
	CHECK_INT(r.revision, ==, 40);
	/* The naive maximum would have said 99. */
	CHECK_INT(r.revision_max_seen, ==, 99);
	CHECK_INT(r.txid, ==, 50);
	CHECK_INT(r.page_size, ==, 4096);
	CHECK_INT(r.db_size, ==, 8 * 4096);
	CHECK(r.trailer_room);
	free(d.b);
}

static void
test_matches_bbolt_inspect(void)
{
	struct bbolt_info info;
	struct bbolt_scan r;
	struct lb_err err;
	struct db d;

	build_basic(&d);
	lb_err_clear(&err);
	/* bbolt_inspect walks the tree with random access: the oracle. */
	CHECK_OK(bbolt_inspect_buf(d.b, d.len, "crafted", &info, &err), &err);
	CHECK_INT(scan_all(d.b, d.len, &r), ==, 0);
	CHECK_INT(r.revision, ==, info.revision);
	CHECK_INT(r.txid, ==, info.txid);
	CHECK(!r.trailer_room);
	free(d.b);
}

static void
test_inline_key_bucket(void)
{
	struct bbolt_scan r;
	struct db d;
	struct bb_page b, ib;
	uint8_t v[16 + 16 + 2 * 16 + 2 * 18], k[18];

	db_init(&d, 4096, 4);
	metas(&d, 2, 7);
	memset(v, 0, sizeof(v));
	bucket_val(v, 0);
	bb_page_begin(&ib, v + 16, 0, BB_LEAF, 2, 0);
	revkey(k, 5);
	bb_leaf_add(&ib, 0, k, 17, NULL, 0);
	revkey(k, 6);
	bb_leaf_add(&ib, 0, k, 18, NULL, 0);
	bb_page_begin(&b, pg(&d, 2), 2, BB_LEAF, 1, 0);
	bb_leaf_add(&b, 1, "key", 3, v, 16 + ib.data);
	/* A freed copy of the root leaf with a later "key" bucket. */
	key_leaf(&d, 3, 100, 101);
	CHECK_INT(scan_all(d.b, d.len, &r), ==, 0);
	CHECK(r.revision_known);
	CHECK_INT(r.revision, ==, 6);
	free(d.b);
}

static void
test_empty_key_bucket_is_revision_0(void)
{
	struct bbolt_scan r;
	struct db d;

	db_init(&d, 4096, 4);
	metas(&d, 2, 3);
	{
		struct bb_page b;
		uint8_t iv[32] = { 0 };

		bb_hdr(iv + 16, 0, BB_LEAF, 0, 0);
		bb_page_begin(&b, pg(&d, 2), 2, BB_LEAF, 1, 0);
		bb_leaf_add(&b, 1, "key", 3, iv, 32);
	}
	CHECK_INT(scan_all(d.b, d.len, &r), ==, 0);
	CHECK(r.revision_known);
	CHECK_INT(r.revision, ==, 0);
	free(d.b);
}

/* The root bucket split over a branch page: a search for "key" must take
 * the child whose first key is <= "key", not the last one. */
static void
test_root_bucket_branch(void)
{
	struct bbolt_scan r;
	struct db d;
	struct bb_page b;
	uint8_t v[16];

	db_init(&d, 4096, 8);
	metas(&d, 6, 9);
	bb_page_begin(&b, pg(&d, 6), 6, BB_BRANCH, 3, 0);
	bb_branch_add(&b, "alarm", 5, 2);
	bb_branch_add(&b, "auth", 4, 3);
	bb_branch_add(&b, "lease", 5, 4);
	bb_page_begin(&b, pg(&d, 2), 2, BB_LEAF, 1, 0);
	bucket_val(v, 7);
	bb_leaf_add(&b, 1, "alarm", 5, v, 16);
	bb_page_begin(&b, pg(&d, 3), 3, BB_LEAF, 2, 0);
	bucket_val(v, 7);
	bb_leaf_add(&b, 1, "auth", 4, v, 16);
	bucket_val(v, 5);
	bb_leaf_add(&b, 1, "key", 3, v, 16);
	bb_page_begin(&b, pg(&d, 4), 4, BB_LEAF, 1, 0);
	bucket_val(v, 7);
	bb_leaf_add(&b, 1, "lease", 5, v, 16);
	key_leaf(&d, 5, 1, 33);
	key_leaf(&d, 7, 50, 60);
	CHECK_INT(scan_all(d.b, d.len, &r), ==, 0);
	CHECK(r.revision_known);
	CHECK_INT(r.revision, ==, 33);
	free(d.b);
}

/* The last leaf of "key" has two values larger than the window, so its
 * last key comes about 200 KiB into the span, in an overflow page. */
static void
test_last_key_in_overflow_pages(void)
{
	struct bbolt_info info;
	struct bbolt_scan r;
	struct lb_err err;
	struct db d;
	struct bb_page b;
	uint8_t *big, k[18];
	const uint32_t vlen = 100000;

	db_init(&d, 4096, 64);
	metas(&d, 2, 11);
	root_leaf(&d, 2, 3);
	big = malloc(vlen);
	memset(big, 0x5a, vlen);
	bb_page_begin(&b, pg(&d, 3), 3, BB_LEAF, 3, 49);
	revkey(k, 70);
	bb_leaf_add(&b, 0, k, 17, big, vlen);
	revkey(k, 71);
	bb_leaf_add(&b, 0, k, 17, big, vlen);
	revkey(k, 72);
	bb_leaf_add(&b, 0, k, 18, "x", 1);
	key_leaf(&d, 60, 900, 901);     /* freed, higher */
	lb_err_clear(&err);
	CHECK_OK(bbolt_inspect_buf(d.b, d.len, "crafted", &info, &err), &err);
	CHECK_INT(info.revision, ==, 72);
	CHECK_INT(scan_all(d.b, d.len, &r), ==, 0);
	CHECK(r.revision_known);
	CHECK_INT(r.revision, ==, 72);
	CHECK_INT(r.revision_max_seen, ==, 901);
	free(big);
	free(d.b);
}

/* A freed span (page 3, overflow 4) whose overflow pages were reused one
 * by one: the live last leaf 5 lies inside it and must still be read. */
static void
test_freed_span_covering_live_pages(void)
{
	struct bbolt_scan r;
	struct db d;
	struct bb_page b;
	uint8_t k[18];

	db_init(&d, 4096, 10);
	metas(&d, 2, 13);
	root_leaf(&d, 2, 8);
	bb_page_begin(&b, pg(&d, 3), 3, BB_LEAF, 1, 4);
	revkey(k, 500);
	bb_leaf_add(&b, 0, k, 17, "old", 3);
	key_leaf(&d, 5, 10, 19);
	key_leaf(&d, 6, 1, 9);
	bb_page_begin(&b, pg(&d, 8), 8, BB_BRANCH, 2, 0);
	revkey(k, 1);
	bb_branch_add(&b, k, 17, 6);
	revkey(k, 10);
	bb_branch_add(&b, k, 17, 5);
	CHECK_INT(scan_all(d.b, d.len, &r), ==, 0);
	CHECK(r.revision_known);
	CHECK_INT(r.revision, ==, 19);
	free(d.b);
}

static void
test_meta_pages(void)
{
	struct bbolt_scan r;
	struct db d;

	build_basic(&d);
	/* meta 0 damaged: meta 1 found by trying page sizes, as bbolt. */
	d.b[16 + 20] ^= 1;
	CHECK_INT(scan_all(d.b, d.len, &r), ==, 0);
	CHECK(r.is_bbolt);
	CHECK(r.revision_known);
	CHECK_INT(r.revision, ==, 40);
	CHECK_INT(r.txid, ==, 49);
	/* Both damaged: not bbolt. */
	pg(&d, 1)[16 + 20] ^= 1;
	CHECK_INT(scan_all(d.b, d.len, &r), ==, 0);
	CHECK(!r.is_bbolt);
	CHECK(!r.revision_known);
	CHECK_CONTAINS(r.why, "not a bbolt database");
	free(d.b);

	/* meta 1 with the higher txid wins (a raw db file). */
	build_basic(&d);
	bb_put64(pg(&d, 1) + 16 + 48, 60);
	bb_meta_sum(pg(&d, 1));
	CHECK_INT(scan_all(d.b, d.len, &r), ==, 0);
	CHECK_INT(r.txid, ==, 60);
	free(d.b);
}

static void
test_truncated_streams(void)
{
	struct bbolt_scan r;
	struct db d;
	size_t n;

	build_basic(&d);
	for (n = 0; n < d.len; n += (n < 200 ? 1 : 509)) {
		if (scan(d.b, n, 7, &r) < 0)
			TH_FAIL("scan of %zu bytes failed", n);
		if (r.revision_known)
			TH_FAIL("%zu bytes: revision known", n);
		if (n < 80 && r.is_bbolt)
			TH_FAIL("%zu bytes: is bbolt", n);
		if (n >= 8192 && !r.is_bbolt)
			TH_FAIL("%zu bytes: not bbolt", n);
	}
	CHECK_INT(scan(d.b, 8192 + 100, 4096, &r), ==, 0);
	CHECK_CONTAINS(r.why, "stream ended at byte 8292");
	free(d.b);
}

static void
test_garbage(void)
{
	struct bbolt_scan r;
	uint8_t buf[70000];
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7919 >> 3);
	CHECK_INT(scan_all(buf, sizeof(buf), &r), ==, 0);
	CHECK(!r.is_bbolt);
	CHECK(!r.revision_known);
	CHECK_INT(scan_all(buf, 0, &r), ==, 0);
	CHECK(!r.is_bbolt);
}

static void
test_result_before_finish(void)
{
	struct bbolt_scan r;
	struct lb_err err;
	struct flt *f = flt_bbolt_scan_new(flt_mem_new(16));

	lb_err_clear(&err);
	CHECK(f != NULL);
	CHECK_INT(flt_bbolt_scan_result(f, &r, &err), ==, LB_E_INTERNAL);
	flt_free(f);
}

/* More freed leaves with higher revisions than the scan keeps: it must
 * say unknown, not report one of them nor a wrong live value. */
static void
test_too_many_freed_leaves_is_unknown(void)
{
	struct bbolt_scan r;
	struct db d;
	uint64_t i;
	const uint64_t n = 17000;

	db_init(&d, 512, n + 4);
	metas(&d, 2, 5);
	root_leaf(&d, 2, 3);
	key_leaf(&d, 3, 1, 9);
	for (i = 4; i < n + 4; i++)
		key_leaf(&d, i, 1000 + i, 1000 + i);
	CHECK_INT(scan(d.b, d.len, 65536, &r), ==, 0);
	CHECK(r.is_bbolt);
	if (r.revision_known)
		TH_FAIL("revision %llu known", (unsigned long long)r.revision);
	CHECK_INT(r.revision, ==, 0);
	CHECK_CONTAINS(r.why, "freed leaves");
	/* With fewer of them the answer is exact. */
	d.npages = 1000;
	d.len = d.ps * d.npages;
	metas(&d, 2, 5);
	CHECK_INT(scan(d.b, d.len, 65536, &r), ==, 0);
	CHECK(r.revision_known);
	CHECK_INT(r.revision, ==, 9);
	free(d.b);
}

/* A snapshot of a real etcd 3.4.23 (see bbolt_test.c): revision 5. */
static void
test_real_etcd_snapshot(void)
{
	struct bbolt_scan r;
	uint8_t buf[32768];
	size_t n;
	FILE *fp = fopen("tests/fuzz/corpus/bbolt/etcd34-tiny.db", "rb");

	CHECK(fp != NULL);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	CHECK_INT(n, ==, 20512);
	CHECK_INT(scan_all(buf, n, &r), ==, 0);
	CHECK(r.revision_known);
	CHECK_INT(r.revision, ==, 5);
	CHECK_INT(r.txid, ==, 9);
	CHECK_INT(r.db_size, ==, 20480);
	CHECK(r.trailer_room);
}

int
main(void)
{
	RUN(test_freed_page_with_higher_revision_is_ignored);
	RUN(test_matches_bbolt_inspect);
	RUN(test_inline_key_bucket);
	RUN(test_empty_key_bucket_is_revision_0);
	RUN(test_root_bucket_branch);
	RUN(test_last_key_in_overflow_pages);
	RUN(test_freed_span_covering_live_pages);
	RUN(test_meta_pages);
	RUN(test_truncated_streams);
	RUN(test_garbage);
	RUN(test_result_before_finish);
	RUN(test_too_many_freed_leaves_is_unknown);
	RUN(test_real_etcd_snapshot);
	return TH_DONE();
}
