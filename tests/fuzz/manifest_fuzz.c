/*
 * manifest_fuzz.c: arbitrary bytes as a manifest.json from a bucket, as
 * the previous manifest of a chain, as a cluster's HEAD.json and as an
 * event of the audit trail.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repo/head.h"
#include "repo/journal.h"
#include "repo/manifest.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *m = NULL, *next = manifest_new();
	struct head h;
	struct journal_record *rec = NULL;
	struct journal_event ev;
	struct lb_err err;
	char *json = NULL, *text;

	if (manifest_parse((const char *)data, size, &m, &err) == 0) {
		manifest_best_member(m);
		if (manifest_to_json(m, &json, &err) == 0)
			free(json);
	}
	/* NUL-terminated, as the catalog hands the previous manifest over */
	if ((text = malloc(size + 1)) != NULL && next != NULL) {
		memcpy(text, data, size);
		text[size] = '\0';
		manifest_chain_after(next, text, &err);
	}
	free(text);
	if (head_parse((const char *)data, size, &h, &err) == 0 && head_to_json(&h, &json, &err) == 0)
		free(json);
	/* an event read back is serialised again when rebuilt into the trail */
	if (journal_parse((const char *)data, size, &rec, &ev, &err) == 0 &&
	    journal_to_json(&ev, &json, &err) == 0)
		free(json);
	journal_record_free(rec);
	manifest_free(next);
	manifest_free(m);
	return 0;
}
