/*
 * manifest_fuzz.c: libFuzzer harness for the manifest reader.  Manifests
 * come from the repository (outside bytes): any input must give 0 or a
 * clean error, never a crash, a leak or a half-written catalog row.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"

static struct cat *cat;
static char dir[48];

/* Removes this run's catalog when libFuzzer exits. */
static void
cleanup(void)
{
	char path[96];

	cat_close(cat);
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/catalog.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/catalog.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_err err = { 0 };
	char path[96], *doc;

	if (cat == NULL) {
		snprintf(dir, sizeof(dir), "/tmp/lifeboat-fuzz-%d", (int)getpid());
		snprintf(path, sizeof(path), "%s/catalog.db", dir);
		if (cat_open(path, 0, &cat, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			abort();
		}
		atexit(cleanup);
	}
	if ((doc = malloc(size + 1)) == NULL)
		return 0;
	memcpy(doc, data, size);
	doc[size] = '\0';
	if (cat_record_manifest(cat, doc, &err) < 0 && err.msg[0] == '\0')
		abort();   /* every failure explains itself */
	free(doc);
	return 0;
}
