/*
 * bbolt_build.h: builds bbolt pages byte by byte for the tests, in a
 * buffer and with a page size the caller gives.  It shares nothing with
 * snapshot/bbolt.c (nor common's sliced crc32c): written from bbolt's
 * on-disk layout alone, it is the tests' independent oracle, so a mistake
 * in the reader cannot hide behind the same mistake here.
 */
#ifndef LB_TESTS_BBOLT_BUILD_H
#define LB_TESTS_BBOLT_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Page flags (bbolt page.go). */
#define BB_BRANCH   0x01
#define BB_LEAF     0x02
#define BB_META     0x04
#define BB_FREELIST 0x10

static inline void
bb_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void
bb_put32(uint8_t *p, uint32_t v) { bb_put16(p, (uint16_t)v); bb_put16(p + 2, (uint16_t)(v >> 16)); }
static inline void
bb_put64(uint8_t *p, uint64_t v) { bb_put32(p, (uint32_t)v); bb_put32(p + 4, (uint32_t)(v >> 32)); }

/* Big-endian, as etcd's revision keys. */
static inline void
bb_put64be(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The 16-byte page header: id, flags, count, overflow. */
static inline void
bb_hdr(uint8_t *pg, uint64_t id, uint16_t flags, uint16_t count, uint32_t overflow)
{
	bb_put64(pg, id);
	bb_put16(pg + 8, flags);
	bb_put16(pg + 10, count);
	bb_put32(pg + 12, overflow);
}

/* The FNV-64a checksum of a meta page's first 56 bytes, stored after them. */
static inline void
bb_meta_sum(uint8_t *pg)
{
	uint8_t *m = pg + 16;
	uint64_t h = 0xcbf29ce484222325ull;
	int i;

	for (i = 0; i < 56; i++)
		h = (h ^ m[i]) * 0x100000001b3ull;
	bb_put64(m + 56, h);
}

/* Meta page id (0 or 1) of db: magic, version 2, page size ps, root
 * bucket page, freelist page (UINT64_MAX: none), high water mark, txid. */
static inline void
bb_meta(uint8_t *db, size_t ps, uint64_t id, uint64_t root, uint64_t freelist,
    uint64_t hwm, uint64_t txid)
{
	uint8_t *pg = db + id * ps, *m = pg + 16;

	bb_hdr(pg, id, BB_META, 0, 0);
	bb_put32(m, 0xED0CDAEDu);
	bb_put32(m + 4, 2);
	bb_put32(m + 8, (uint32_t)ps);
	bb_put32(m + 12, 0);
	bb_put64(m + 16, root);
	bb_put64(m + 24, 0);
	bb_put64(m + 32, freelist);
	bb_put64(m + 40, hwm);
	bb_put64(m + 48, txid);
	bb_meta_sum(pg);
}

/* A leaf or branch page being filled: the count is known first, the data
 * follows the element array. */
struct bb_page {
	uint8_t *pg;
	uint16_t i;
	uint32_t data;
};

static inline void
bb_page_begin(struct bb_page *b, uint8_t *pg, uint64_t id, uint16_t flags,
    uint16_t count, uint32_t overflow)
{
	bb_hdr(pg, id, flags, count, overflow);
	b->pg = pg;
	b->i = 0;
	b->data = 16 + 16u * count;
}

static inline void
bb_leaf_add(struct bb_page *b, uint32_t flags, const void *k, uint32_t klen,
    const void *v, uint32_t vlen)
{
	uint8_t *e = b->pg + 16 + 16u * b->i++;

	bb_put32(e, flags);
	bb_put32(e + 4, b->data - (uint32_t)(e - b->pg));
	bb_put32(e + 8, klen);
	bb_put32(e + 12, vlen);
	memcpy(b->pg + b->data, k, klen);
	if (vlen > 0 && v != NULL)
		memcpy(b->pg + b->data + klen, v, vlen);
	b->data += klen + vlen;
}

static inline void
bb_branch_add(struct bb_page *b, const void *k, uint32_t klen, uint64_t child)
{
	uint8_t *e = b->pg + 16 + 16u * b->i++;

	bb_put32(e, b->data - (uint32_t)(e - b->pg));
	bb_put32(e + 4, klen);
	bb_put64(e + 8, child);
	memcpy(b->pg + b->data, k, klen);
	b->data += klen;
}

/* An etcd revision key: 8-byte main, '_', 8-byte sub, then 't' for a
 * tombstone (whose key is 18 bytes; others use the first 17). */
static inline void
bb_revkey(uint8_t k[18], uint64_t main_rev, uint64_t sub, int tomb)
{
	bb_put64be(k, main_rev);
	k[8] = '_';
	bb_put64be(k + 9, sub);
	k[17] = tomb ? 't' : 0;
}

/* Bitwise CRC-32C (Castagnoli, reflected), independent of the sliced one
 * under test. */
static inline uint32_t
bb_crc32c(uint32_t crc, const void *buf, size_t n)
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

#endif
