/*
 * manifest_test.c: manifests written and read back field for field, and
 * every way a manifest from a bucket can be wrong.
 */
#include <unistd.h>

#include "harness.h"
#include "repo/manifest.h"

static struct manifest *
sample(void)
{
	struct manifest *m = manifest_new();
	struct manifest_member *a, *b;

	m->backup_id = strdup("20261121T234500Z-3f9a1c");
	m->cluster = strdup("prod");
	m->cluster_id = strdup("cdf818194e3a8c32");
	m->status = strdup("partial");
	m->started_at = strdup("2026-11-21T23:45:00Z");
	m->finished_at = strdup("2026-11-21T23:45:09Z");
	m->revision = 12345;
	m->db_size = 1 << 20;
	m->stored_size = 300000;
	m->compress_level = 3;
	m->compress_threads = 2;
	m->compress_auto = 1;
	m->recipients = calloc(1, sizeof(char *));
	m->recipients[0] = strdup("sha256:0123456789abcdef");
	m->n_recipients = 1;
	m->consistency_revision = 12340;
	m->consistent = 1;
	a = manifest_add_member(m);
	a->name = strdup("m1");
	a->id = strdup("8e9e05c52164694d");
	a->status = strdup("ok");
	a->leader = 1;
	a->revision = 12345;
	a->db_size = 1 << 20;
	a->raft_index = 100;
	a->etcd_sha256 = strdup("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	a->stored_sha256 = strdup("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	a->object = strdup("prod/2026/11/21/20261121T234500Z-3f9a1c/m1.db.zst.age");
	a->stored_size = 300000;
	a->has_hashkv = 1;
	a->hashkv = 4242;
	a->compress_level = 2;
	a->compress_level_min = 1;
	a->compress_level_max = 3;
	b = manifest_add_member(m);
	b->name = strdup("m2");
	b->id = strdup("7");
	b->status = strdup("failed");
	b->error = strdup("cannot connect");
	return m;
}

static void
round_trip(void)
{
	struct manifest *m = sample(), *p = NULL;
	struct lb_err err;
	char *json = NULL;

	CHECK_OK(manifest_to_json(m, &json, &err), &err);
	manifest_free(m);
	CHECK_OK(manifest_parse(json, strlen(json), &p, &err), &err);
	free(json);
	CHECK_STR(p->backup_id, "20261121T234500Z-3f9a1c");
	CHECK_STR(p->status, "partial");
	CHECK_INT(p->revision, ==, 12345);
	CHECK_INT(p->compress_level, ==, 3);
	CHECK_INT(p->compress_auto, ==, 1);
	CHECK_INT(p->members[0].compress_level, ==, 2);
	CHECK_INT(p->members[0].compress_level_min, ==, 1);
	CHECK_INT(p->members[0].compress_level_max, ==, 3);
	CHECK_INT(p->members[1].compress_level, ==, 0);
	CHECK_INT(p->n_recipients, ==, 1);
	CHECK_STR(p->recipients[0], "sha256:0123456789abcdef");
	CHECK_INT(p->consistency_revision, ==, 12340);
	CHECK_INT(p->n_members, ==, 2);
	CHECK_STR(p->members[0].object, "prod/2026/11/21/20261121T234500Z-3f9a1c/m1.db.zst.age");
	CHECK_INT(p->members[0].leader, ==, 1);
	CHECK_INT(p->members[0].stored_size, ==, 300000);
	CHECK_STR(p->members[1].error, "cannot connect");
	CHECK_INT(p->members[0].has_hashkv, ==, 1);
	CHECK_INT(p->members[0].hashkv, ==, 4242);
	CHECK_INT(p->members[1].has_hashkv, ==, 0);
	CHECK(manifest_best_member(p) == &p->members[0]);
	CHECK_INT(p->consistent, ==, 1);
	manifest_free(p);
}

/* "consistent" says true, false or, when nothing was compared (one
 * member answering of several, a failed check), null: never a false
 * that reads as divergence. */
static void
consistency_not_compared_is_null(void)
{
	struct manifest *m = sample(), *p = NULL;
	struct lb_err err;
	char *json = NULL;

	m->consistent = -1;
	CHECK_OK(manifest_to_json(m, &json, &err), &err);
	CHECK(strstr(json, "\"consistent\": null") != NULL);
	CHECK_OK(manifest_parse(json, strlen(json), &p, &err), &err);
	CHECK_INT(p->consistent, ==, -1);
	manifest_free(p);
	free(json);
	manifest_free(m);
	m = manifest_new();
	CHECK_INT(m->consistent, ==, -1);
	manifest_free(m);
}

/* Parses text and expects an LB_E_CORRUPT error containing want. */
static int
parse_fails(const char *text, const char *want, struct lb_err *err)
{
	struct manifest *m = NULL;
	int r = manifest_parse(text, strlen(text), &m, err);

	manifest_free(m);
	return r == LB_E_CORRUPT && strstr(err->msg, want) != NULL;
}

static void
rejects_bad_manifests(void)
{
	struct manifest *m = sample();
	struct lb_err err;
	char *json = NULL, *bad;
	const char *edits[][3] = {
		{ "\"stored_sha256\": \"bbbb", "\"stored_sha256\": \"zzzz", "members[0].stored_sha256: expected 64 hex" },
		{ "\"object\": \"prod/", "\"object\": \"../", "members[0].object: expected a relative object key" },
		{ "\"format\": \"lifeboat-manifest/2\"", "\"format\": \"lifeboat-manifest/9\"", "format: unsupported 'lifeboat-manifest/9'" },
		{ "\"sequence\": 0,", "\"sequence\": -1,", "sequence: expected a non-negative integer" },
		{ "\"previous_manifest_sha256\": null", "\"previous_manifest_sha256\": \"abc\"", "previous_manifest_sha256: expected 64 hex" },
		{ "\"signer\": null", "\"signer\": \"MD5:00\"", "signer: expected a key fingerprint" },
		{ "\"revision\": 12345,", "\"revision\": \"12345\",", "revision: expected an integer" },
		{ "\"revision\": 12345,", "\"revision\": -5,", "revision: expected a non-negative integer" },
		{ "\"status\": \"partial\"", "\"status\": \"running\"", "status: expected \"complete\" or \"partial\"" },
		{ "\"status\": \"partial\"", "\"status\": \"complete\"", "status: \"complete\" but not every member is ok" },
		{ "\"object\":", "\"objekt\":", "members[0].object: missing" },
		{ "\"backup_id\": \"2026", "\"backup_id\": \"../2026", "backup_id: expected letters, digits" },
		{ "\"cluster\": \"prod\"", "\"cluster\": \"pr/od\"", "cluster: expected letters, digits" },
		{ "\"cluster_id\": \"cdf8", "\"cluster_id\": \"xyz8", "cluster_id: expected a cluster id in hex" },
		{ "\"name\": \"m2\"", "\"name\": \"m1\"", "members[1].name: duplicate 'm1'" },
		{ "\"name\": \"m2\"", "\"name\": \"-m2\"", "members[1].name: expected letters" },
		{ "\"id\": \"7\"", "\"id\": \"g7\"", "members[1].id: expected a member id in hex" },
		{ "\"status\": \"failed\"", "\"status\": \"lost\"", "members[1].status: expected \"ok\" or \"failed\"" },
		{ "\"learner\": false", "\"learner\": 0", "learner: expected true or false" },
		{ "\"members\": [", "\"members\": {}, \"x\": [", "members: expected an array" },
	};

	CHECK_OK(manifest_to_json(m, &json, &err), &err);
	manifest_free(m);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(json, edits[i][0]);
		if (at == NULL) {
			free(json);
			TH_FAIL("sample lacks %s", edits[i][0]);
		}
		size_t pre = (size_t)(at - json), n = strlen(json);
		bad = malloc(n + 64);
		memcpy(bad, json, pre);
		strcpy(bad + pre, edits[i][1]);
		strcat(bad, at + strlen(edits[i][0]));
		int ok = parse_fails(bad, edits[i][2], &err);
		free(bad);
		if (!ok) {
			free(json);
			TH_FAIL("edit %zu: want '%s', got '%s'", i, edits[i][2], err.msg);
		}
	}
	free(json);
	CHECK(parse_fails("{\"format\": \"lifeboat-manifest/1\"", "not valid JSON", &err));
	CHECK(parse_fails("[]", "not a JSON object", &err));
	CHECK(parse_fails("{\"format\": \"lifeboat-manifest/1\", \"format\": \"x\"}",
	    "not valid JSON", &err));
}

static void
backup_ids_sort_by_time_and_map_to_dirs(void)
{
	char id[32], dir[128];

	char id2[32];

	manifest_new_backup_id(id);
	usleep(2000);
	manifest_new_backup_id(id2);
	CHECK_INT(strlen(id), ==, 27);
	CHECK(id[8] == 'T' && id[15] == '.' && id[19] == 'Z' && id[20] == '-');
	CHECK(strcmp(id, id2) < 0);
	CHECK_INT(manifest_backup_dir("prod", "20261121T234500Z-3f9a1c", dir, sizeof(dir)), ==, 0);
	CHECK_STR(dir, "prod/2026/11/21/20261121T234500Z-3f9a1c/");
}

int
main(void)
{
	RUN(round_trip);
	RUN(consistency_not_compared_is_null);
	RUN(rejects_bad_manifests);
	RUN(backup_ids_sort_by_time_and_map_to_dirs);
	return TH_DONE();
}
