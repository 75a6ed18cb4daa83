/*
 * livehash_fuzz.c: libFuzzer harness for the live-keys hash (livehash.h)
 * over the bbolt reader's walk of bucket "key".  Any bytes must give 0 or
 * LB_E_CORRUPT with a message, never a crash, a hang or a leak.  Run it
 * on the bbolt corpus (tests/fuzz/corpus/bbolt).
 *
 * Most mutations would break a meta page's FNV checksum and stop there,
 * so every other input gets its meta checksums recomputed first: the
 * mutations then reach the page walk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/livehash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
fix_meta(uint8_t *buf, size_t size, size_t off)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t *m = buf + off + 16;
	int i;

	if (off > size || size - off < 16 + 64)
		return;
	for (i = 0; i < 56; i++)
		h = (h ^ m[i]) * 0x100000001b3ull;
	for (i = 0; i < 8; i++)
		m[56 + i] = (uint8_t)(h >> (8 * i));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct livehash lh;
	struct lb_err err;
	uint8_t *copy = NULL;
	const uint8_t *in = data;
	int rc;

	if (size >= 80 && (data[size - 1] & 1) && (copy = malloc(size)) != NULL) {
		memcpy(copy, data, size);
		fix_meta(copy, size, 0);
		fix_meta(copy, size, rd32(copy + 24));
		in = copy;
	}
	lb_err_clear(&err);
	rc = livehash_buf(in, size, "fuzz.db", 1000, &lh, &err);
	if (rc != 0 && rc != LB_E_CORRUPT)
		abort();
	if (rc != 0 && strncmp(err.msg, "fuzz.db: ", 9) != 0)
		abort();
	if (rc == 0 && (lh.bumped != lh.revision + 1000 || lh.live_keys > lh.entries))
		abort();
	free(copy);
	return 0;
}
