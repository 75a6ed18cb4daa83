/*
 * livehash_fuzz.c: libFuzzer harness for the live-keys hash (livehash.h)
 * over the bbolt reader's walk of bucket "key".  Any bytes must give 0 or
 * LB_E_CORRUPT with a message, never a crash, a hang or a leak.  Run it
 * on the bbolt corpus (tests/fuzz/corpus/bbolt).
 *
 * Every other input gets its meta checksums recomputed first
 * (bbolt_fuzz.h), so that mutations reach the page walk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/livehash.h"

#include "bbolt_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct livehash lh;
	struct lb_err err;
	uint8_t *copy;
	const uint8_t *in = bbolt_fuzz_input(data, size, &copy);
	int rc;

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
