/*
 * crc32c.h: CRC-32C (Castagnoli, reflected), what Go's hash/crc32 computes
 * with crc32.MakeTable(crc32.Castagnoli): the hash of etcd's snapshot
 * status and of its HashKV, which lifeboat reproduces from snapshot files
 * (snapshot/bbolt.c, snapshot/livehash.c).  Sliced by 8, tables built on
 * first use (thread-safe).
 */
#ifndef LB_CRC32C_H
#define LB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Start with crc = LB_CRC32C_INIT, feed bytes, finish with
 * lb_crc32c_final. */
#define LB_CRC32C_INIT 0xFFFFFFFFu

uint32_t lb_crc32c_update(uint32_t crc, const void *buf, size_t n);

static inline uint32_t
lb_crc32c_final(uint32_t crc)
{
	return crc ^ 0xFFFFFFFFu;
}

#endif
