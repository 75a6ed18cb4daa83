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

#define PS 512
#define NPAGES 6
#define NOFL UINT64_MAX

static uint8_t db[NPAGES * PS + 32];

static void
put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void
put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void
put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static void
put64be(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void
hdr(uint8_t *pg, uint64_t id, uint16_t flags, uint16_t count, uint32_t overflow)
{
	put64(pg, id);
	put16(pg + 8, flags);
	put16(pg + 10, count);
	put32(pg + 12, overflow);
}

static void
meta(int which, uint64_t root, uint64_t freelist, uint64_t hwm, uint64_t txid)
{
	uint8_t *m = db + which * PS + 16;
	uint64_t h = 0xcbf29ce484222325ull;
	int i;

	hdr(db + which * PS, (uint64_t)which, 0x04, 0, 0);
	put32(m, 0xED0CDAED);
	put32(m + 4, 2);
	put32(m + 8, PS);
	put32(m + 12, 0);
	put64(m + 16, root);
	put64(m + 24, 0);
	put64(m + 32, freelist);
	put64(m + 40, hwm);
	put64(m + 48, txid);
	for (i = 0; i < 56; i++)
		h = (h ^ m[i]) * 0x100000001b3ull;
	put64(m + 56, h);
}

/* A leaf page being filled: count is known first, data follows elements. */
struct leaf {
	uint8_t *pg;
	uint16_t i;
	size_t data;
};

static void
leaf_init(struct leaf *l, uint8_t *pg, uint64_t id, uint16_t count, uint32_t overflow)
{
	hdr(pg, id, 0x02, count, overflow);
	l->pg = pg;
	l->i = 0;
	l->data = 16 + (size_t)count * 16;
}

static void
leaf_add(struct leaf *l, uint32_t flags, const void *k, uint32_t klen,
    const void *v, uint32_t vlen)
{
	uint8_t *e = l->pg + 16 + l->i * 16;

	put32(e, flags);
	put32(e + 4, (uint32_t)(l->data - (16 + l->i * 16)));
	put32(e + 8, klen);
	put32(e + 12, vlen);
	memcpy(l->pg + l->data, k, klen);
	memcpy(l->pg + l->data + klen, v, vlen);
	l->data += klen + vlen;
	l->i++;
}

/* An etcd-style revision key: 8-byte main, '_', 8-byte sub. */
static void
revkey(uint8_t k[18], uint64_t main_rev, int tomb)
{
	put64be(k, main_rev);
	k[8] = '_';
	put64be(k + 9, 0);
	k[17] = tomb ? 't' : 0;
}

/* Bitwise CRC-32C, independent of the sliced one under test. */
static uint32_t
crc32c(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	int k;

	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

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
	struct leaf l, il;
	uint64_t revs[4] = { 1, 2, 3, 7 };
	const char *vals[4] = { "one", "two", "three", "seven" };
	uint32_t h = 0;
	size_t inl_len;
	int i;

	memset(db, 0, sizeof(db));
	meta(0, 3, with_freelist ? 2 : NOFL, NPAGES, 10);
	meta(1, 3, with_freelist ? 2 : NOFL, NPAGES, 9);
	hdr(db + 2 * PS, 2, 0x10, 1, 0);
	put64(db + 2 * PS + 16, 5);

	leaf_init(&l, db + 4 * PS, 4, 4, 0);
	h = crc32c(h, "key", 3);
	for (i = 0; i < 4; i++) {
		revkey(k, revs[i], i == 2);
		leaf_add(&l, 0, k, i == 2 ? 18 : 17, vals[i], (uint32_t)strlen(vals[i]));
		h = crc32c(h, k, i == 2 ? 18 : 17);
		h = crc32c(h, vals[i], strlen(vals[i]));
	}

	/* The inline "meta" bucket: header (root 0) then a leaf page. */
	memset(inl, 0, sizeof(inl));
	put64be(ci, 42);
	memset(rev, 0, sizeof(rev));
	put64be(rev, 3);
	leaf_init(&il, inl + 16, 0, 2, 0);
	leaf_add(&il, 0, "consistent_index", 16, ci, 8);
	leaf_add(&il, 0, "finishedCompactRev", 18, rev, 17);
	inl_len = il.data + 16;
	meta_part_len = 0;
	meta_part_add("meta", 4);
	meta_part_add("consistent_index", 16);
	meta_part_add(ci, 8);
	meta_part_add("finishedCompactRev", 18);
	meta_part_add(rev, 17);
	h = crc32c(h, meta_part, meta_part_len);

	put64(b4, 4);
	leaf_init(&l, db + 3 * PS, 3, 2, 0);
	leaf_add(&l, 1, "key", 3, b4, 16);
	leaf_add(&l, 1, "meta", 4, inl, (uint32_t)inl_len);
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
	meta(1, 9, 2, NPAGES, 11);
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
	hdr(db + 4 * PS, 4, 0x01, 1, 0);
	put32(db + 4 * PS + 16, 16);
	put32(db + 4 * PS + 20, 1);
	put64(db + 4 * PS + 24, 4);
	db[4 * PS + 32] = 'a';
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 4: multiple references");
	/* The same with the root bucket's tree pointing back at its root. */
	put64(db + 4 * PS + 24, 3);
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 3: multiple references");
}

static void
test_freelist_checks(void)
{
	struct bbolt_info info;
	struct lb_err err;
	size_t len = build(1);

	put16(db + 2 * PS + 10, 0);   /* page 5 no longer listed */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 5: unreachable unfreed");
	build(1);
	put64(db + 2 * PS + 16, 4);   /* a page in use listed as free */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 4: reachable freed");
	build(1);
	put16(db + 2 * PS + 10, 2);
	put64(db + 2 * PS + 24, 5);
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 5: already freed");
	build(1);
	put16(db + 2 * PS + 10, 0xFFFF);  /* the real count in the first slot */
	put64(db + 2 * PS + 16, 1000);
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

	put32(db + 4 * PS + 16 + 3 * 16 + 12, 100000);  /* vsize past the page */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "element out of its page");
	build(1);
	put16(db + 4 * PS + 10, 40);                     /* count too large */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "do not fit");
	build(1);
	put64(db + 3 * PS + 51, 77);                 /* "key" bucket root */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 77 out of bounds");
	build(1);
	put64(db + 3 * PS + 51, 1);                  /* a meta page */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 1 out of bounds");
	build(1);
	put32(db + 3 * PS + 16, 0);                      /* "key" not a bucket */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "top-level key 'key' is not a bucket");
	build(1);
	put16(db + 4 * PS + 8, 0x10);                    /* wrong page type */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 4: invalid type 0x10");
	build(1);
	put64(db + 4 * PS, 5);                           /* header of another page */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "page 4 has the header of page 5");
	build(1);
	meta(0, 3, 2, 1000, 12);                         /* high water mark past EOF */
	CHECK_INT(inspect(len, &info, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "truncated bbolt database: needs 512000 bytes");
}

static void
test_overflow_page(void)
{
	struct bbolt_info info;
	struct lb_err err;
	uint8_t k[18], big[700];
	struct leaf l;
	uint32_t h;
	size_t len = build(0);

	/* Page 4 spans pages 4 and 5 and holds a 700-byte value. */
	memset(big, 'v', sizeof(big));
	memset(db + 4 * PS, 0, 2 * PS);
	leaf_init(&l, db + 4 * PS, 4, 1, 1);
	revkey(k, 9, 0);
	leaf_add(&l, 0, k, 17, big, sizeof(big));
	CHECK_OK(inspect(len, &info, &err), &err);
	CHECK_INT(info.revision, ==, 9);
	CHECK_INT(info.total_keys, ==, 3);
	h = crc32c(0, "key", 3);
	h = crc32c(h, k, 17);
	h = crc32c(h, big, sizeof(big));
	h = crc32c(h, meta_part, meta_part_len);
	CHECK_INT(info.hash, ==, h);
	/* An overflow past the high water mark. */
	put32(db + 4 * PS + 12, 2);
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
