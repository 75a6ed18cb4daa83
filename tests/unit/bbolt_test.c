/*
 * bbolt_test.c: the bbolt reader on tiny databases built here page by page
 * (good ones, and each kind of damage: truncation, bad magic, bad
 * checksums, cycles, out-of-bounds pages, bad freelists), and on a real
 * etcd 3.4 snapshot whose numbers come from `etcdctl snapshot status`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "../harness.h"
#include "snapshot/bbolt.h"
#include "bbolt_build.h"

#define PS 512
#define NPAGES 6
#define NOFL UINT64_MAX

static uint8_t db[NPAGES * PS + 32];

static uint32_t want_hash;
static uint8_t meta_part[128];   /* what the "meta" bucket adds to the hash */
static size_t meta_part_len;

static void
meta_part_add(const void *p, size_t n)
{
	memcpy(meta_part + meta_part_len, p, n);
	meta_part_len += n;
}

/*
 * Pages: 0,1 meta; 2 freelist (lists page 5); 3 root leaf with bucket
 * "key" (page 4) and inline bucket "meta"; 4 leaf of four revisions, one a
 * tombstone; 5 free.  Revision 7, 6 keys.
 */
static size_t
build(int with_freelist)
{
	uint8_t inl[200], k[18], rev[17];
	uint8_t b4[16] = { 0 }, ci[8];
	struct bb_page l, il;
	uint64_t revs[4] = { 1, 2, 3, 7 };
	const char *vals[4] = { "one", "two", "three", "seven" };
	uint32_t h = 0;
	size_t inl_len;
	int i;

	memset(db, 0, sizeof(db));
	bb_meta(db, PS, 0, 3, with_freelist ? 2 : NOFL, NPAGES, 10);
	bb_meta(db, PS, 1, 3, with_freelist ? 2 : NOFL, NPAGES, 9);
	bb_hdr(db + 2 * PS, 2, BB_FREELIST, 1, 0);
	bb_put64(db + 2 * PS + 16, 5);

	bb_page_begin(&l, db + 4 * PS, 4, BB_LEAF, 4, 0);
	h = bb_crc32c(h, "key", 3);
	for (i = 0; i < 4; i++) {
		bb_revkey(k, revs[i], 0, i == 2);
		bb_leaf_add(&l, 0, k, i == 2 ? 18 : 17, vals[i], (uint32_t)strlen(vals[i]));
		h = bb_crc32c(h, k, i == 2 ? 18 : 17);
		h = bb_crc32c(h, vals[i], strlen(vals[i]));
	}

	/* The inline "meta" bucket: header (root 0) then a leaf page. */
	memset(inl, 0, sizeof(inl));
	bb_put64be(ci, 42);
	memset(rev, 0, sizeof(rev));
	bb_put64be(rev, 3);
	bb_page_begin(&il, inl + 16, 0, BB_LEAF, 2, 0);
	bb_leaf_add(&il, 0, "consistent_index", 16, ci, 8);
	bb_leaf_add(&il, 0, "finishedCompactRev", 18, rev, 17);
	inl_len = il.data + 16;
	meta_part_len = 0;
	meta_part_add("meta", 4);
	meta_part_add("consistent_index", 16);
	meta_part_add(ci, 8);
	meta_part_add("finishedCompactRev", 18);
	meta_part_add(rev, 17);
	h = bb_crc32c(h, meta_part, meta_part_len);

	bb_put64(b4, 4);
	bb_page_begin(&l, db + 3 * PS, 3, BB_LEAF, 2, 0);
	bb_leaf_add(&l, 1, "key", 3, b4, 16);
	bb_leaf_add(&l, 1, "meta", 4, inl, (uint32_t)inl_len);
	want_hash = h;
	return NPAGES * PS;
}

static int
inspect(size_t len, struct bbolt_info *info, struct lb_err *err)
{
	lb_err_clear(err);
	return bbolt_inspect_buf(db, len, "t.db", info, err);
}

static void
test_good_database(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(1);

	CHECK_OK(inspect(len, &info, &err), &err);
	CHECK_INT(info.revision, ==, 7);
	CHECK_INT(info.total_keys, ==, 6);
	CHECK_INT(info.hash, ==, want_hash);
	CHECK_INT(info.compact_revision, ==, 3);
	CHECK_INT(info.consistent_index, ==, 42);
	CHECK_INT(info.db_size, ==, NPAGES * PS);
	CHECK_INT(info.page_size, ==, PS);
	CHECK_INT(info.txid, ==, 10);
	CHECK_INT(info.trailer, ==, BBOLT_TRAILER_ABSENT);
	CHECK_STR(bbolt_trailer_name(info.trailer), "absent");
}

static void
test_trailer_ok_and_mismatch(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(0);

	SHA256(db, len, db + len);
	CHECK_OK(inspect(len + 32, &info, &err), &err);
	CHECK_INT(info.trailer, ==, BBOLT_TRAILER_OK);
	CHECK(memcmp(info.sha256, db + len, 32) == 0);
	CHECK_INT(info.revision, ==, 7);
	db[len + 5] ^= 1;
	CHECK_OK(inspect(len + 32, &info, &err), &err);
	CHECK_INT(info.trailer, ==, BBOLT_TRAILER_BAD);
	CHECK_STR(bbolt_trailer_name(info.trailer), "mismatch");
}

static void
test_every_truncation_is_refused(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(1), n;

	for (n = 0; n < len; n++) {
		int rc = inspect(n, &info, &err);

		if (rc != LB_E_CORRUPT)
			TH_FAIL("length %zu: rc %d (%s)", n, rc, err.msg);
		CHECK(strncmp(err.msg, "t.db: ", 6) == 0);
	}
	CHECK_INT(inspect(80, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "truncated");
	CHECK_INT(inspect(10, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "not a bbolt database");
}

static void
test_bad_magic(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(1);

	memcpy(db + 16, "root:x:0:0:root:/root:/bin/bash\n", 32);
	memset(db + PS, 'x', PS);
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_STR(err.msg, "t.db: not a bbolt database (bad magic at meta page 0)");
}

static void
test_bad_checksum_falls_back_then_fails(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(1);

	db[16 + 24] ^= 0x40;  /* meta 0's sequence: only the checksum notices */
	CHECK_OK(inspect(len, &info, &err), &err);
	CHECK_INT(info.txid, ==, 9);
	CHECK_INT(info.revision, ==, 7);
	db[PS + 16 + 24] ^= 0x40;
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_STR(err.msg, "t.db: damaged bbolt database: meta page 0: checksum "
	    "mismatch; meta page 1: checksum mismatch");
}

static void
test_higher_txid_wins(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(1);

	/* Meta 1 newer, with a root that does not exist: it must be used. */
	bb_meta(db, PS, 1, 9, 2, NPAGES, 11);
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 9 out of bounds");
}

static void
test_cycle_is_refused(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(1);

	/* Page 4 becomes a branch whose only child is page 4 itself. */
	memset(db + 4 * PS, 0, PS);
	bb_hdr(db + 4 * PS, 4, BB_BRANCH, 1, 0);
	bb_put32(db + 4 * PS + 16, 16);
	bb_put32(db + 4 * PS + 20, 1);
	bb_put64(db + 4 * PS + 24, 4);
	db[4 * PS + 32] = 'a';
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 4: multiple references");
	/* The same with the root bucket's tree pointing back at its root. */
	bb_put64(db + 4 * PS + 24, 3);
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 3: multiple references");
}

static void
test_freelist_checks(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(1);

	bb_put16(db + 2 * PS + 10, 0);   /* page 5 no longer listed */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 5: unreachable unfreed");
	build(1);
	bb_put64(db + 2 * PS + 16, 4);   /* a page in use listed as free */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 4: reachable freed");
	build(1);
	bb_put16(db + 2 * PS + 10, 2);
	bb_put64(db + 2 * PS + 24, 5);
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 5: already freed");
	build(1);
	bb_put16(db + 2 * PS + 10, 0xFFFF);  /* the real count in the first slot */
	bb_put64(db + 2 * PS + 16, 1000);
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "does not fit");
	/* Without a synced freelist (etcd's case) page 5 is simply unused. */
	build(0);
	CHECK_OK(inspect(len, &info, &err), &err);
}

static void
test_bad_elements(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(1);

	bb_put32(db + 4 * PS + 16 + 3 * 16 + 12, 100000);  /* vsize past the page */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "element out of its page");
	build(1);
	bb_put16(db + 4 * PS + 10, 40);                     /* count too large */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "do not fit");
	build(1);
	bb_put64(db + 3 * PS + 51, 77);                 /* "key" bucket root */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 77 out of bounds");
	build(1);
	bb_put64(db + 3 * PS + 51, 1);                  /* a meta page */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 1 out of bounds");
	build(1);
	bb_put32(db + 3 * PS + 16, 0);                      /* "key" not a bucket */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "top-level key 'key' is not a bucket");
	build(1);
	bb_put16(db + 4 * PS + 8, 0x10);                    /* wrong page type */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 4: invalid type 0x10");
	build(1);
	bb_put64(db + 4 * PS, 5);                           /* header of another page */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 4 has the header of page 5");
	build(1);
	bb_meta(db, PS, 0, 3, 2, 1000, 12);                 /* high water mark past EOF */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "truncated bbolt database: needs 512000 bytes");
}

static void
test_overflow_page(void)
{
	struct bbolt_info info;
	struct lb_err err;
	uint8_t k[18], big[700];
	struct bb_page l;
	uint32_t h;
	size_t len = build(0);

	/* Page 4 spans pages 4 and 5 and holds a 700-byte value. */
	memset(big, 'v', sizeof(big));
	memset(db + 4 * PS, 0, 2 * PS);
	bb_page_begin(&l, db + 4 * PS, 4, BB_LEAF, 1, 1);
	bb_revkey(k, 9, 0, 0);
	bb_leaf_add(&l, 0, k, 17, big, sizeof(big));
	CHECK_OK(inspect(len, &info, &err), &err);
	CHECK_INT(info.revision, ==, 9);
	CHECK_INT(info.total_keys, ==, 3);
	h = bb_crc32c(0, "key", 3);
	h = bb_crc32c(h, k, 17);
	h = bb_crc32c(h, big, sizeof(big));
	h = bb_crc32c(h, meta_part, meta_part_len);
	CHECK_INT(info.hash, ==, h);
	/* An overflow past the high water mark. */
	bb_put32(db + 4 * PS + 12, 2);
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "overflows past the high water mark");
}

static void
test_file_matches_buffer(void)
{
	char path[] = "/tmp/bbolt_test.XXXXXX";
	struct bbolt_info a, b;
	struct lb_err err;
	size_t len = build(1);
	FILE *fp;
	int fd;

	CHECK((fd = mkstemp(path)) >= 0);
	fp = fdopen(fd, "w");
	CHECK(fp != NULL);
	CHECK_INT(fwrite(db, 1, len, fp), ==, len);
	fclose(fp);
	lb_err_clear(&err);
	CHECK_OK(bbolt_inspect_file(path, &a, &err), &err);
	CHECK_OK(inspect(len, &b, &err), &err);
	unlink(path);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK_INT(bbolt_inspect_file(path, &a, &err), ==, LB_E_NOTFOUND);
	CHECK_INT(bbolt_inspect_file("/tmp", &a, &err), ==, LB_E_IO);
	CHECK_CONTAINS(err.msg, "not a regular file");
}

/* A snapshot of a real etcd 3.4.23 (put a 1, put b 2, put a 3, del b);
 * `etcdctl snapshot status -w json` printed
 * {"hash":2972017692,"revision":5,"totalKey":8,"totalSize":20480}. */
static void
test_real_etcd_snapshot(void)
{
	struct bbolt_info info;
	struct lb_err err;

	lb_err_clear(&err);
	CHECK_OK(bbolt_inspect_file("tests/fuzz/corpus/bbolt/etcd34-tiny.db", &info,
	    &err), &err);
	CHECK_INT(info.hash, ==, 2972017692u);
	CHECK_INT(info.revision, ==, 5);
	CHECK_INT(info.total_keys, ==, 8);
	CHECK_INT(info.db_size, ==, 20480);
	CHECK_INT(info.file_size, ==, 20512);
	CHECK_INT(info.trailer, ==, BBOLT_TRAILER_OK);
}

int
main(void)
{
	RUN(test_good_database);
	RUN(test_trailer_ok_and_mismatch);
	RUN(test_every_truncation_is_refused);
	RUN(test_bad_magic);
	RUN(test_bad_checksum_falls_back_then_fails);
	RUN(test_higher_txid_wins);
	RUN(test_cycle_is_refused);
	RUN(test_freelist_checks);
	RUN(test_bad_elements);
	RUN(test_overflow_page);
	RUN(test_file_matches_buffer);
	RUN(test_real_etcd_snapshot);
	return TH_DONE();
}
