/*
 * bbolt_fuzz.c: libFuzzer harness for the bbolt reader.  Any bytes must
 * give 0 or LB_E_CORRUPT with a message, never a crash, a hang or a leak.
 *
 * Every other input gets its meta checksums recomputed first
 * (bbolt_fuzz.h), so that mutations reach the page walk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/bbolt.h"

#include "bbolt_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bbolt_info info;
	struct lb_err err;
	uint8_t *copy;
	const uint8_t *in = bbolt_fuzz_input(data, size, &copy);
	int rc;

	lb_err_clear(&err);
	rc = bbolt_inspect_buf(in, size, "fuzz.db", &info, &err);
	if (rc != 0 && rc != LB_E_CORRUPT)
		abort();
	if (rc != 0 && strncmp(err.msg, "fuzz.db: ", 9) != 0)
		abort();
	if (rc == 0 && (info.page_size == 0 || info.db_size > size))
		abort();
	free(copy);
	return 0;
}
