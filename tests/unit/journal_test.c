/*
 * journal_test.c: the audit trail's objects (repo/journal.h): keys, a
 * round trip, and the fields a parser must refuse.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "repo/journal.h"

static void
keys_and_round_trip(void)
{
	struct journal_event ev = { .at_ms = 1796082300123LL, .action = "restore",
	    .cluster = "prod", .backup_id = "20261130T234500.123Z-3f9a1c", .outcome = "ok",
	    .os_user = "root", .host = "h1", .details = "{\"mode\": \"cluster\", \"start\": true}" };
	struct journal_event back, none = { .at_ms = 1796082300000LL, .action = "rebuild",
	    .outcome = "ok" };
	struct journal_record *rec = NULL;
	struct lb_err err;
	char key[256], *json = NULL;

	CHECK_INT(journal_key(&ev, "a1b2c3", key, sizeof(key)), ==, 0);
	CHECK_STR(key, ".audit/prod/2026/11/30/20261130T234500.123Z-a1b2c3.json");
	CHECK_INT(journal_key(&none, "000000", key, sizeof(key)), ==, 0);
	CHECK_STR(key, ".audit/-/2026/11/30/20261130T234500.000Z-000000.json");
	CHECK_OK(journal_to_json(&ev, &json, &err), &err);
	CHECK(json[strlen(json) - 1] == '\n');
	CHECK_CONTAINS(json, "\"at\":\"2026-11-30T23:45:00.123Z\"");
	CHECK_OK(journal_parse(json, strlen(json), &rec, &back, &err), &err);
	CHECK_INT(back.at_ms, ==, ev.at_ms);
	CHECK_STR(back.action, "restore");
	CHECK_STR(back.cluster, "prod");
	CHECK_STR(back.backup_id, ev.backup_id);
	CHECK_STR(back.outcome, "ok");
	CHECK_STR(back.host, "h1");
	CHECK_STR(back.details, "{\"mode\":\"cluster\",\"start\":true}");
	journal_record_free(rec);
	free(json);
	CHECK_OK(journal_to_json(&none, &json, &err), &err);
	CHECK_OK(journal_parse(json, strlen(json), &rec, &back, &err), &err);
	CHECK(back.cluster == NULL && back.details == NULL && back.backup_id == NULL);
	journal_record_free(rec);
	free(json);
}

static void
refusals(void)
{
	static const char *const bad[][2] = {
		{ "{\"format\":\"lifeboat-audit/2\",\"at\":\"2026-11-30T23:45:00.123Z\",\"action\":\"x\",\"outcome\":\"ok\"}", "format" },
		{ "{\"format\":\"lifeboat-audit/1\",\"at\":\"2026-11-30T23:45:00Z\",\"action\":\"x\",\"outcome\":\"ok\"}", "at:" },
		{ "{\"format\":\"lifeboat-audit/1\",\"at\":\"2026-11-30T23:45:00.123Z\",\"outcome\":\"ok\"}", "action" },
		{ "{\"format\":\"lifeboat-audit/1\",\"at\":\"2026-11-30T23:45:00.123Z\",\"action\":\"x\",\"outcome\":\"\"}", "outcome" },
		{ "{\"format\":\"lifeboat-audit/1\",\"at\":\"2026-11-30T23:45:00.123Z\",\"action\":\"x\",\"outcome\":\"ok\",\"cluster\":\"../x\"}", "cluster" },
		{ "{\"format\":\"lifeboat-audit/1\",\"at\":\"2026-11-30T23:45:00.123Z\",\"action\":\"x\",\"outcome\":\"ok\",\"details\":[1]}", "details" },
		{ "[1]", "not a JSON object" },
	};
	struct journal_record *rec = NULL;
	struct journal_event ev;
	struct lb_err err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(journal_parse(bad[i][0], strlen(bad[i][0]), &rec, &ev, &err), ==,
		    LB_E_CORRUPT);
		CHECK(rec == NULL);
		CHECK_CONTAINS(err.msg, bad[i][1]);
	}
}

int
main(void)
{
	RUN(keys_and_round_trip);
	RUN(refusals);
	return TH_DONE();
}
