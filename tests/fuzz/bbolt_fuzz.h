/*
 * bbolt_fuzz.h: the input fix-up the bbolt harnesses share.  Most
 * mutations would break a meta page's FNV checksum and stop there, so
 * every other input (last byte odd) gets both meta checksums recomputed
 * on a copy first: the mutations then reach the page walk.
 */
#ifndef LB_TESTS_BBOLT_FUZZ_H
#define LB_TESTS_BBOLT_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/bbolt_build.h"

static inline uint32_t
bbolt_fuzz_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Recomputes the checksum of the meta page at off, if it is all there. */
static inline void
bbolt_fuzz_fix_meta(uint8_t *buf, size_t size, size_t off)
{
	if (off > size || size - off < 16 + 64)
		return;
	bb_meta_sum(buf + off);
}

/* The bytes to parse: data itself, or a copy with meta 0 and meta 1 (at
 * meta 0's page size) fixed, which *copy then holds for the caller to
 * free. */
static inline const uint8_t *
bbolt_fuzz_input(const uint8_t *data, size_t size, uint8_t **copy)
{
	*copy = NULL;
	if (size < 80 || !(data[size - 1] & 1) || (*copy = malloc(size)) == NULL)
		return data;
	memcpy(*copy, data, size);
	bbolt_fuzz_fix_meta(*copy, size, 0);
	bbolt_fuzz_fix_meta(*copy, size, bbolt_fuzz_rd32(*copy + 24));
	return *copy;
}

#endif
