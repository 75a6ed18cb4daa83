/*
 * head_test.c: the cluster's head (repo/head.h) and the manifest chain
 * (manifest_chain_after): a round trip, and every field's refusal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/head.h"
#include "repo/manifest.h"
#include "harness.h"

static void
head_round_trip(void)
{
	struct head h = { .sequence = 7, .signed_at = 1795304700, .valid_until = 1795306500 };
	struct head back;
	struct lb_err err;
	char *json = NULL, key[64];

	snprintf(h.cluster, sizeof(h.cluster), "prod");
	snprintf(h.backup_id, sizeof(h.backup_id), "20261121T234500.123Z-3f9a1c");
	memset(h.manifest_sha256, 'a', 64);
	snprintf(h.signer, sizeof(h.signer), "SHA256:abc");
	CHECK_OK(head_to_json(&h, &json, &err), &err);
	CHECK_CONTAINS(json, "\"format\": \"lifeboat-head/1\"");
	CHECK_CONTAINS(json, "\"valid_until\": \"2026-11-22T00:15:00Z\"");
	CHECK_OK(head_parse(json, strlen(json), &back, &err), &err);
	CHECK_STR(back.backup_id, h.backup_id);
	CHECK_INT(back.sequence, ==, 7);
	CHECK_INT(back.signed_at, ==, h.signed_at);
	CHECK_INT(back.valid_until, ==, h.valid_until);
	CHECK_STR(back.signer, "SHA256:abc");
	free(json);
	CHECK_INT(head_key("prod", key, sizeof(key)), ==, 0);
	CHECK_STR(key, "prod/HEAD.json");
	CHECK(head_key("../x", key, sizeof(key)) < 0);
}

static void
head_refusals(void)
{
	static const char *const base = "{\"format\": \"lifeboat-head/1\", \"cluster\": \"prod\", "
	    "\"backup_id\": \"b1\", \"sequence\": 3, \"manifest_sha256\": "
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", "
	    "\"signed_at\": \"2026-11-21T23:45:00Z\", \"valid_until\": \"2026-11-22T00:15:00Z\"}";
	const char *edits[][3] = {
		{ "lifeboat-head/1", "lifeboat-head/2", "format" },
		{ "\"prod\"", "\"pr/od\"", "cluster" },
		{ "\"b1\"", "\"../b1\"", "backup_id" },
		{ "\"sequence\": 3", "\"sequence\": -3", "sequence" },
		{ "\"sequence\": 3", "\"sequence\": \"3\"", "sequence" },
		{ "\"aaaaaaaa", "\"Aaaaaaaa", "manifest_sha256" },
		{ "2026-11-22T00:15:00Z", "2026-11-21T23:00:00Z", "in order" },
		{ "2026-11-21T23:45:00Z", "2026-11-21 23:45:00", "signed_at" },
	};
	struct head h;
	struct lb_err err;
	char buf[1024], *p;
	size_t i;

	CHECK_OK(head_parse(base, strlen(base), &h, &err), &err);
	CHECK_STR(h.signer, "");
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", base);
		p = strstr(buf, edits[i][0]);
		CHECK(p != NULL);
		memmove(p + strlen(edits[i][1]), p + strlen(edits[i][0]),
		    strlen(p + strlen(edits[i][0])) + 1);
		memcpy(p, edits[i][1], strlen(edits[i][1]));
		CHECK_INT(head_parse(buf, strlen(buf), &h, &err), ==, LB_E_CORRUPT);
		CHECK_CONTAINS(err.msg, edits[i][2]);
	}
	CHECK_INT(head_parse("[1]", 3, &h, &err), ==, LB_E_CORRUPT);
	CHECK_INT(head_parse("{", 1, &h, &err), ==, LB_E_CORRUPT);
}

/* A manifest linked after another: sequence one up, the previous one's
 * hash; the first of a chain is 1; another cluster's is refused. */
static void
chain(void)
{
	struct manifest *a = manifest_new(), *b = manifest_new();
	struct manifest_member *mm;
	struct lb_err err;
	char *ja = NULL, h[65];

	CHECK(a != NULL && b != NULL);
	a->backup_id = strdup("20261121T234500.123Z-3f9a1c");
	a->cluster = strdup("prod");
	a->status = strdup("complete");
	a->started_at = strdup("2026-11-21T23:45:00Z");
	a->finished_at = strdup("2026-11-21T23:45:01Z");
	mm = manifest_add_member(a);
	mm->name = strdup("m1");
	mm->id = strdup("1");
	mm->status = strdup("failed");
	CHECK_OK(manifest_chain_after(a, NULL, &err), &err);
	CHECK_INT(a->sequence, ==, 1);
	CHECK(a->previous_sha256 == NULL);
	free(a->status);           /* "partial": its one member failed */
	a->status = strdup("partial");
	CHECK_OK(manifest_to_json(a, &ja, &err), &err);
	b->cluster = strdup("prod");
	CHECK_OK(manifest_chain_after(b, ja, &err), &err);
	CHECK_INT(b->sequence, ==, 2);
	manifest_sha256_hex(ja, strlen(ja), h);
	CHECK_STR(b->previous_sha256, h);
	free(b->cluster);
	b->cluster = strdup("other");
	CHECK_INT(manifest_chain_after(b, ja, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "of cluster prod, not other");
	CHECK_INT(manifest_chain_after(b, "{", &err), ==, LB_E_CORRUPT);
	free(ja);
	manifest_free(a);
	manifest_free(b);
}

int
main(void)
{
	RUN(head_round_trip);
	RUN(head_refusals);
	RUN(chain);
	return TH_DONE();
}
