/*
 * bytes.h: fixed-width integers read from byte buffers, for the parsers of
 * on-disk formats (bbolt's pages are little-endian, etcd's revision keys
 * big-endian).  No alignment is assumed.
 */
#ifndef LB_BYTES_H
#define LB_BYTES_H

#include <stdint.h>

static inline uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

#endif
