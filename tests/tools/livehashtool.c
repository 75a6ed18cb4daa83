/*
 * livehashtool.c: prints livehash_file's result (livehash.h) for the
 * integration tests.  Not installed.
 *
 *   livehashtool FILE BUMP   prints "HASH REVISION BUMPED LIVE ENTRIES SECONDS"
 *                            (HASH as %08x, the rest decimal)
 *
 * Exits 1 with the error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "snapshot/livehash.h"

int
main(int argc, char **argv)
{
	struct livehash lh;
	struct lb_err err;
	double t0;

	if (argc != 3) {
		fprintf(stderr, "usage: livehashtool FILE BUMP\n");
		return 2;
	}
	lb_err_clear(&err);
	t0 = lb_mono_now();
	if (livehash_file(argv[1], strtoll(argv[2], NULL, 10), &lh, &err) < 0) {
		fprintf(stderr, "livehashtool: %s\n", err.msg);
		return 1;
	}
	printf("%08x %lld %lld %llu %llu %.3f\n", lh.hash, (long long)lh.revision,
	    (long long)lh.bumped, (unsigned long long)lh.live_keys,
	    (unsigned long long)lh.entries, lb_mono_now() - t0);
	return 0;
}
