/*
 * manifest_fuzz.c: arbitrary bytes as a manifest.json from a bucket.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "repo/manifest.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *m = NULL;
	struct lb_err err;
	char *json = NULL;

	if (manifest_parse((const char *)data, size, &m, &err) == 0) {
		manifest_best_member(m);
		if (manifest_to_json(m, &json, &err) == 0)
			free(json);
	}
	manifest_free(m);
	return 0;
}
