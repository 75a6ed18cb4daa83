/*
 * bbolt_fuzz.c: libFuzzer harness for the bbolt reader.  Any bytes must
 * give 0 or LB_E_CORRUPT with a message, never a crash, a hang or a leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bbolt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bbolt_info info;
	struct lb_err err;
	int rc;

	lb_err_clear(&err);
	rc = bbolt_inspect_buf(data, size, "fuzz.db", &info, &err);
	if (rc != 0 && rc != LB_E_CORRUPT)
		abort();
	if (rc != 0 && (err.msg[0] == '\0' || strncmp(err.msg, "fuzz.db: ", 9) != 0))
		abort();
	if (rc == 0 && (info.page_size == 0 || info.db_size > size))
		abort();
	return 0;
}
