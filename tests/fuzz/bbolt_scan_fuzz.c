/*
 * bbolt_scan_fuzz.c: libFuzzer harness for the streaming bbolt scan.  Any
 * bytes, split at any point, must pass through untouched and give the
 * same result as one write of all of them, never a crash, a hang or a
 * leak.  (No comparison with bbolt.h here: on a crafted tree whose branch
 * keys lie, a search and a full walk may rightly pick different leaves.)
 *
 * Every other input gets its meta checksums recomputed (bbolt_fuzz.h)
 * so mutations reach the pages; the last byte picks the split size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/bbolt_scan.h"
#include "stream/flt.h"

#include "bbolt_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
scan(const uint8_t *in, size_t size, size_t split, struct bbolt_scan *r)
{
	struct lb_err err;
	struct flt *sink, *f;
	const uint8_t *out;
	size_t off, n, got;

	lb_err_clear(&err);
	sink = flt_mem_new(size + 1);
	if ((f = flt_bbolt_scan_new(sink)) == NULL)
		abort();
	for (off = 0; off < size; off += n) {
		n = size - off < split ? size - off : split;
		if (flt_write(f, in + off, n, &err) != 0)
			abort();
	}
	if (flt_finish(f, &err) != 0 || flt_bbolt_scan_result(f, r, &err) != 0)
		abort();
	out = flt_mem_data(sink, &got);
	if (got != size || (size > 0 && memcmp(out, in, size) != 0))
		abort();
	flt_free(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bbolt_scan a, b;
	uint8_t *copy;
	const uint8_t *in = bbolt_fuzz_input(data, size, &copy);
	size_t split;

	split = size > 0 ? 1 + data[size - 1] % 64 : 1;
	if (size > 0 && (data[size - 1] & 0x80))
		split = 1 + (size_t)data[size - 1] * 13;
	scan(in, size, size > 0 ? size : 1, &a);
	scan(in, size, split, &b);
	if (a.is_bbolt != b.is_bbolt || a.revision_known != b.revision_known ||
	    a.revision != b.revision || a.revision_max_seen != b.revision_max_seen ||
	    a.txid != b.txid || a.page_size != b.page_size ||
	    strcmp(a.why, b.why) != 0)
		abort();
	if (a.revision_known && !a.is_bbolt)
		abort();
	free(copy);
	return 0;
}
